#include "common/wire.h"

#include <random>

#include <catch2/catch.hpp>

using namespace ember::wire;

namespace {

std::string SampleFrame() {
  DataFrameBuilder b("agent-1", "web1", "/var/log/auth.log", "auth", 77, 1000, 1700000000123);
  b.SetOriginOffset(10);
  b.AddLine("first line");
  b.AddLine("");
  b.AddLine(std::string("bin\0ary\xff", 8));
  return b.Finish(1029);
}

}  // namespace

TEST_CASE("Wire: a DATA frame decodes to what was encoded", "[common][wire][unit]") {
  std::string frame = SampleFrame();
  auto f = DecodeData(frame);
  REQUIRE(f.ok());
  CHECK(f->agent == "agent-1");
  CHECK(f->host == "web1");
  CHECK(f->path == "/var/log/auth.log");
  CHECK(f->tag == "auth");
  CHECK(f->stream_id == 77);
  CHECK(f->origin_offset == 10);
  CHECK(f->start_offset == 1000);
  CHECK(f->end_offset == 1029);
  CHECK(f->read_time_ms == 1700000000123);
  REQUIRE(f->lines.size() == 3);
  CHECK(f->lines[0] == "first line");
  CHECK(f->lines[1].empty());
  CHECK(f->lines[2] == std::string_view("bin\0ary\xff", 8));
  CHECK(*PeekType(frame) == FrameType::kData);
}

TEST_CASE("Wire: journal entries travel with their fields, and a frame of unknown kind is refused",
          "[common][wire][unit]") {
  DataFrameBuilder b("agent-1", "web1", "journal", "", 5, 0, 1700000000123);
  b.AddLine("2024-05-31T12:00:00.000000Z web1 sshd[77]: hello", {"ssh.service", "sshd", "6", "77"});
  b.AddLine("2024-05-31T12:00:01.000000Z web1 kernel: oops", {"", "kernel", "3", ""});
  const std::string frame = b.Finish(200);
  auto f = DecodeData(frame);
  REQUIRE(f.ok());
  REQUIRE(f->lines.size() == 2);
  REQUIRE(f->fields.size() == 2);
  CHECK(f->lines[1] == "2024-05-31T12:00:01.000000Z web1 kernel: oops");
  CHECK(f->fields[0].unit == "ssh.service");
  CHECK(f->fields[0].identifier == "sshd");
  CHECK(f->fields[0].priority == "6");
  CHECK(f->fields[0].pid == "77");
  CHECK(f->fields[1].unit.empty());
  CHECK(f->fields[1].identifier == "kernel");
  CHECK(f->fields[1].pid.empty());
  for (size_t n = 0; n < frame.size(); ++n) {
    INFO("length " << n);
    CHECK_FALSE(DecodeData(std::string_view(frame).substr(0, n)).ok());
  }
  // Files' frames carry none.
  CHECK(DecodeData(SampleFrame())->fields.empty());
  // The kind byte sits before the line count: 2 is no kind this version knows.
  std::string unknown = SampleFrame();
  const size_t kind_at = unknown.size() - (4 + 10) - (4 + 0) - (4 + 8) - 4 - 1;
  REQUIRE(unknown[kind_at] == 0);
  unknown[kind_at] = 2;
  CHECK(DecodeData(unknown).status().message().find("line_fields 2") != std::string::npos);
}

TEST_CASE("Wire: every truncation of a DATA frame is rejected with a message",
          "[common][wire][unit]") {
  std::string frame = SampleFrame();
  for (size_t n = 0; n < frame.size(); ++n) {
    auto f = DecodeData(std::string_view(frame).substr(0, n));
    INFO("length " << n);
    REQUIRE_FALSE(f.ok());
    CHECK_FALSE(f.status().message().empty());
  }
}

TEST_CASE("Wire: trailing bytes, bad magic, unknown versions and types are refused",
          "[common][wire][unit]") {
  std::string frame = SampleFrame();
  CHECK_FALSE(DecodeData(frame + "x").ok());
  std::string bad_magic = frame;
  bad_magic[0] = 'X';
  CHECK(DecodeData(bad_magic).status().message().find("magic") != std::string::npos);
  std::string future = frame;
  future[1] = 9;
  auto f = DecodeData(future);
  REQUIRE_FALSE(f.ok());
  CHECK(f.status().message().find("unsupported wire version 9") != std::string::npos);
  std::string bad_type = frame;
  bad_type[2] = 42;
  CHECK_FALSE(DecodeData(bad_type).ok());
  CHECK_FALSE(DecodeData(EncodeOffsets(FrameType::kAck, {{1, 2}})).ok());  // not DATA
}

TEST_CASE("Wire: a line count larger than the frame can hold is refused before allocating",
          "[common][wire][unit]") {
  DataFrameBuilder b("a", "h", "p", "", 1, 0, 0);
  std::string frame = b.Finish(0);
  // Patch line_count (the last 4 bytes) to 0xffffffff.
  for (int i = 1; i <= 4; ++i) frame[frame.size() - i] = '\xff';
  auto f = DecodeData(frame);
  REQUIRE_FALSE(f.ok());
  CHECK(f.status().message().find("line_count") != std::string::npos);
}

TEST_CASE("Wire: end offset before start offset, or start before origin, is refused",
          "[common][wire][unit]") {
  DataFrameBuilder b("a", "h", "p", "", 1, 500, 0);
  CHECK_FALSE(DecodeData(b.Finish(400)).ok());
  DataFrameBuilder c("a", "h", "p", "", 1, 500, 0);
  c.SetOriginOffset(600);
  CHECK_FALSE(DecodeData(c.Finish(700)).ok());
}

TEST_CASE("Wire: an absurd byte range is refused: past any file, or shorter than its lines",
          "[common][wire][unit]") {
  DataFrameBuilder far("a", "h", "p", "", 1, 0, 0);
  far.AddLine("x");
  auto refused = DecodeData(far.Finish(kMaxStreamOffset + 1));
  REQUIRE_FALSE(refused.ok());
  CHECK(refused.status().message().find("beyond any file") != std::string::npos);
  DataFrameBuilder edge("a", "h", "p", "", 1, 0, 0);
  edge.AddLine("x");
  CHECK(DecodeData(edge.Finish(kMaxStreamOffset)).ok());
  // 10 bytes of text claimed to come from 5 bytes of file.
  DataFrameBuilder short_range("a", "h", "p", "", 1, 100, 0);
  short_range.AddLine("0123456789");
  auto too_short = DecodeData(short_range.Finish(105));
  REQUIRE_FALSE(too_short.ok());
  CHECK(too_short.status().message().find("shorter than the 10 bytes") != std::string::npos);
  // A truncated long line: a short text from a long range is honest.
  DataFrameBuilder cut("a", "h", "p", "", 1, 100, 0);
  cut.AddLine("0123456789");
  CHECK(DecodeData(cut.Finish(100 + 17 * 1024 * 1024)).ok());
}

TEST_CASE("Wire: random garbage never decodes out of bounds", "[common][wire][unit]") {
  std::mt19937 rng(7);
  std::string valid = SampleFrame();
  for (int i = 0; i < 20000; ++i) {
    std::string junk;
    if (i % 2 == 0) {
      junk = valid;  // mutate a valid frame
      for (int k = 0; k < 1 + static_cast<int>(rng() % 4); ++k) {
        junk[rng() % junk.size()] = static_cast<char>(rng());
      }
    } else {
      junk.resize(rng() % 80);
      for (auto& c : junk) c = static_cast<char>(rng());
      if (junk.size() > 2 && rng() % 2) {
        junk[0] = static_cast<char>(kMagic);
        junk[1] = static_cast<char>(kWireVersion);
        junk[2] = 1;
      }
    }
    auto f = DecodeData(junk);  // must not crash; under ASan, must not read out of bounds
    if (f.ok()) {
      size_t total = 0;
      for (auto l : f->lines) total += l.size();
      CHECK(total <= junk.size());
    }
  }
}

TEST_CASE("Wire: ACK and NACK frames round-trip and reject truncation", "[common][wire][unit]") {
  std::vector<AckEntry> acks = {{1, 100}, {0xffffffffffffffffULL, 0}};
  FrameType type = FrameType::kData;
  REQUIRE(DecodeOffsets(EncodeOffsets(FrameType::kNack, acks), &type).ok());
  CHECK(type == FrameType::kNack);
  std::string frame = EncodeOffsets(FrameType::kAck, acks);
  auto back = DecodeOffsets(frame, &type);
  REQUIRE(back.ok());
  CHECK(type == FrameType::kAck);
  REQUIRE(back->size() == 2);
  CHECK((*back)[0].stream_id == 1);
  CHECK((*back)[0].offset == 100);
  CHECK((*back)[1].stream_id == 0xffffffffffffffffULL);
  CHECK_FALSE(DecodeOffsets(frame.substr(0, frame.size() - 1), &type).ok());
  CHECK_FALSE(DecodeOffsets(frame + "x", &type).ok());
  DataFrameBuilder b("a", "h", "p", "", 1, 0, 0);
  CHECK_FALSE(DecodeOffsets(b.Finish(0), &type).ok());  // DATA is not an ACK
}

TEST_CASE("Wire: HELLO and WELCOME round-trip and reject every truncation",
          "[common][wire][unit]") {
  Hello hello{"web1", "host-a",           "0.1.0",        0x1234567890abcdefULL,
              7,      {{5, 100}, {6, 0}}, "Europe/Berlin"};
  std::string frame = EncodeHello(hello);
  CHECK(*PeekType(frame) == FrameType::kHello);
  auto back = DecodeHello(frame);
  REQUIRE(back.ok());
  CHECK(back->agent == "web1");
  CHECK(back->host == "host-a");
  CHECK(back->software_version == "0.1.0");
  CHECK(back->epoch == 0x1234567890abcdefULL);
  CHECK(back->hello_seq == 7);
  CHECK(back->time_zone == "Europe/Berlin");
  REQUIRE(back->streams.size() == 2);
  CHECK(back->streams[0].stream_id == 5);
  CHECK(back->streams[0].offset == 100);
  for (size_t n = 0; n < frame.size(); ++n) CHECK_FALSE(DecodeHello(frame.substr(0, n)).ok());
  CHECK_FALSE(DecodeHello(frame + "x").ok());

  Welcome welcome{7, 1 << 20, {{5, 4096}}};
  frame = EncodeWelcome(welcome);
  auto w = DecodeWelcome(frame);
  REQUIRE(w.ok());
  CHECK(w->hello_seq == 7);
  CHECK(w->credit_bytes == 1 << 20);
  REQUIRE(w->marks.size() == 1);
  CHECK(w->marks[0].offset == 4096);
  for (size_t n = 0; n < frame.size(); ++n) CHECK_FALSE(DecodeWelcome(frame.substr(0, n)).ok());
  CHECK_FALSE(DecodeHello(frame).ok());  // a WELCOME is not a HELLO
  FrameType type;
  CHECK_FALSE(DecodeOffsets(frame, &type).ok());
  CHECK(*PeekType(EncodeHelloRequired()) == FrameType::kHelloRequired);
}

TEST_CASE("Wire: a REFUSED frame is readable whatever version sent it but other frames are not",
          "[common][wire][unit]") {
  std::string refused = EncodeRefused("wire version 9 is not spoken here");
  for (uint8_t version : {uint8_t{1}, kWireVersion, uint8_t{200}}) {
    refused[1] = static_cast<char>(version);
    auto reason = DecodeRefused(refused);
    REQUIRE(reason.ok());
    CHECK(*reason == "wire version 9 is not spoken here");
    CHECK(*PeekVersion(refused) == version);
  }
  std::string hello = EncodeHello({"a", "h", "v", 1, 1, {}, ""});
  hello[1] = static_cast<char>(kWireVersion + 1);
  auto decoded = DecodeHello(hello);
  REQUIRE_FALSE(decoded.ok());
  CHECK(decoded.status().message().find("unsupported wire version " +
                                        std::to_string(kWireVersion + 1)) != std::string::npos);
  CHECK_FALSE(PeekVersion("x").has_value());
  CHECK_FALSE(DecodeRefused(EncodeRefused("why") + "x").ok());
}

TEST_CASE("Wire: a HEARTBEAT decodes to what was encoded, truncations and bad offsets fail",
          "[common][wire][unit]") {
  Heartbeat beat;
  beat.agent_now_ms = -5;  // a clock before 1970 is the aggregator's to judge, not the codec's
  beat.at_end = {{1, 100}, {2, 0}};
  beat.behind = {{3, 7}};
  const std::string frame = EncodeHeartbeat(beat);
  REQUIRE(PeekType(frame).ok());
  CHECK(*PeekType(frame) == FrameType::kHeartbeat);
  auto d = DecodeHeartbeat(frame);
  REQUIRE(d.ok());
  CHECK(d->agent_now_ms == -5);
  REQUIRE(d->at_end.size() == 2);
  CHECK(d->at_end[0].stream_id == 1);
  CHECK(d->at_end[0].offset == 100);
  CHECK(d->at_end[1].stream_id == 2);
  REQUIRE(d->behind.size() == 1);
  CHECK(d->behind[0].offset == 7);
  for (size_t cut = 0; cut < frame.size(); ++cut) {
    INFO(cut);
    CHECK_FALSE(DecodeHeartbeat(frame.substr(0, cut)).ok());
  }
  CHECK_FALSE(DecodeHeartbeat(frame + "x").ok());
  beat.behind[0].offset = kMaxStreamOffset + 1;
  CHECK_FALSE(DecodeHeartbeat(EncodeHeartbeat(beat)).ok());
}
