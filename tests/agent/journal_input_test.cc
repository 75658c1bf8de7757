// JournalInput driven directly over real journal files written by systemd-journal-remote:
// frames and their offsets, cursors saved with ACKs and resumed, resends, credit, and offsets
// from the aggregator validated (forged, misaligned, backwards, from an earlier process).
#include "agent/journal_input.h"

#include <filesystem>
#include <string>
#include <vector>

#include <catch2/catch.hpp>

#include "journal/journal_reader.h"
#include "tests/support/journal_file.h"
#include "tests/support/process.h"
#include "tests/support/temp_dir.h"

using namespace ember;
using namespace ember::agent;
using namespace ember::test;

namespace {

constexpr int64_t kT0 = 1'733'180'000'000'000;  // 2024-12-02T22:53:20Z, µs

// Entries [from, to) "message <n>" of unit u<n % 2>, host h, identifier app, pid 40 + n.
void Write(const TempDir& dir, int from, int to) {
  std::string text;
  for (int n = from; n < to; ++n) {
    text += "__REALTIME_TIMESTAMP=" + std::to_string(kT0 + n * 1'000'000) +
            "\n__MONOTONIC_TIMESTAMP=" + std::to_string(1000 + n) +
            "\n_BOOT_ID=0123456789abcdef0123456789abcdef\n_HOSTNAME=h\nSYSLOG_IDENTIFIER=app\n"
            "_SYSTEMD_UNIT=u" +
            std::to_string(n % 2) + ".service\nPRIORITY=" + std::to_string(n % 8) +
            "\n_PID=" + std::to_string(40 + n) + "\nMESSAGE=message " + std::to_string(n) + "\n\n";
  }
  std::filesystem::create_directories(dir.Sub("j"));
  WriteJournalEntries(dir, dir.Sub("j/a.journal"), text);
}

// The line an entry n becomes, written out here rather than by ember.
std::string Line(int n) {
  const int s = 20 + n;  // seconds after 22:53:00
  char stamp[64];
  std::snprintf(stamp, sizeof stamp, "2024-12-02T22:%02d:%02d.000000Z", 53 + s / 60, s % 60);
  return std::string(stamp) + " h app[" + std::to_string(40 + n) + "]: message " +
         std::to_string(n);
}

struct Fixture {
  TempDir dir;
  JournalOptions options;
  std::unique_ptr<OffsetStore> store = OffsetStore::Empty("");

  Fixture() { options.directory = dir.Sub("j"); }
  std::unique_ptr<JournalInput> Open(bool from_beginning = true) {
    auto source = journal::JournalReader::OpenDirectory(options.directory, options.filter);
    REQUIRE(source.ok());
    auto in = JournalInput::Open(std::move(*source), options, from_beginning, 1024,
                                 FrameContext{"agent-1", "fallback", 64 * 1024}, *store);
    REQUIRE(in.ok());
    return std::move(*in);
  }
};

struct Shipped {
  std::vector<std::string> lines;
  std::vector<std::string> units;
  uint64_t start = 0, end = 0;
};

Shipped Decode(const std::vector<std::string>& frames) {
  Shipped s;
  bool first = true;
  for (const auto& f : frames) {
    auto d = wire::DecodeData(f);
    REQUIRE(d.ok());
    REQUIRE(d->fields.size() == d->lines.size());
    CHECK(d->host == "h");
    CHECK(d->agent == "agent-1");
    if (first) s.start = d->start_offset;
    first = false;
    s.end = d->end_offset;
    for (size_t i = 0; i < d->lines.size(); ++i) {
      s.lines.emplace_back(d->lines[i]);
      s.units.emplace_back(d->fields[i].unit);
    }
  }
  return s;
}

uint64_t Bytes(int from, int to) {
  uint64_t n = 0;
  for (int i = from; i < to; ++i) n += Line(i).size() + 1;
  return n;
}

}  // namespace

TEST_CASE("JournalInput: entries become lines with their fields, at offsets of their bytes",
          "[integration]") {
  Fixture f;
  Write(f.dir, 0, 5);
  auto in = f.Open();
  std::vector<std::string> frames;
  CHECK_FALSE(in->Poll(0, 16, &frames));
  const Shipped s = Decode(frames);
  CHECK(s.lines == std::vector<std::string>{Line(0), Line(1), Line(2), Line(3), Line(4)});
  CHECK(s.units == std::vector<std::string>{"u0.service", "u1.service", "u0.service", "u1.service",
                                            "u0.service"});
  CHECK(s.start == 0);
  CHECK(s.end == Bytes(0, 5));
  auto d = wire::DecodeData(frames[0]);
  CHECK(d->fields[3].priority == "3");
  CHECK(d->fields[3].pid == "43");
  CHECK(d->fields[3].identifier == "app");
  std::vector<wire::AckEntry> at_end, behind;
  in->Positions(false, &at_end, &behind);
  REQUIRE(at_end.size() == 1);
  CHECK(at_end[0].offset == Bytes(0, 5));
  CHECK(in->InFlightBytes() == Bytes(0, 5));
}

TEST_CASE("JournalInput: an ACK saves its entry's cursor, and a restart resumes after it",
          "[integration]") {
  Fixture f;
  Write(f.dir, 0, 6);
  uint64_t stream = 0;
  {
    auto in = f.Open();
    stream = in->stream_id();
    std::vector<std::string> frames;
    in->Poll(0, 16, &frames, Bytes(0, 4));  // a frame ends after entry 3
    in->Poll(0, 16, &frames);
    CHECK(in->OnAck(stream, Bytes(0, 4), 1));
    CHECK(in->InFlightBytes() == Bytes(4, 6));
    CHECK_FALSE(in->OnAck(stream + 1, 1, 1));  // another stream's: not the journal's business
  }
  auto again = f.Open();
  CHECK(again->stream_id() == stream);
  std::vector<std::string> frames;
  again->Poll(0, 16, &frames);
  const Shipped s = Decode(frames);
  CHECK(s.lines == std::vector<std::string>{Line(4), Line(5)});
  CHECK(s.start == Bytes(0, 4));
}

TEST_CASE("JournalInput: a resend request reads the same entries again at the same offsets",
          "[integration]") {
  Fixture f;
  Write(f.dir, 0, 6);
  auto in = f.Open();
  std::vector<std::string> first, again;
  in->Poll(0, 16, &first, Bytes(0, 2));  // a frame ends after entry 1
  in->Poll(0, 16, &first);
  CHECK(in->OnNack(in->stream_id(), Bytes(0, 2), 100));
  in->Poll(100, 16, &again);
  const Shipped a = Decode(first), b = Decode(again);
  CHECK(b.start == Bytes(0, 2));
  CHECK(b.end == a.end);
  CHECK(b.lines == std::vector<std::string>(a.lines.begin() + 2, a.lines.end()));
  CHECK(in->counters().rewinds == 1);
  // New entries follow on.
  Write(f.dir, 6, 8);
  in->OnChange();
  std::vector<std::string> more;
  in->Poll(200, 16, &more);
  CHECK(Decode(more).lines == std::vector<std::string>{Line(6), Line(7)});
}

TEST_CASE("JournalInput: the credit holds back entries, but one always goes", "[integration]") {
  Fixture f;
  Write(f.dir, 0, 4);
  auto in = f.Open();
  std::vector<std::string> frames;
  CHECK(in->Poll(0, 16, &frames, /*max_bytes=*/5));  // less than one line
  CHECK(Decode(frames).lines == std::vector<std::string>{Line(0)});
  frames.clear();
  CHECK(in->Poll(0, 16, &frames, Bytes(1, 3)));
  CHECK(Decode(frames).lines == std::vector<std::string>{Line(1), Line(2)});
  frames.clear();
  CHECK_FALSE(in->Poll(0, 16, &frames));
  CHECK(Decode(frames).lines == std::vector<std::string>{Line(3)});
}

TEST_CASE("JournalInput: offsets no frame sent ends at are refused and the stream goes on anew",
          "[integration]") {
  Fixture f;
  Write(f.dir, 0, 4);
  auto in = f.Open();
  const uint64_t stream = in->stream_id();
  std::vector<std::string> frames;
  in->Poll(0, 16, &frames, Bytes(0, 1));  // a frame of entry 0
  in->Poll(0, 16, &frames);
  CHECK(in->OnAck(stream, Bytes(0, 1), 1));
  SECTION("beyond anything sent (forged)") { in->OnAck(stream, 1'000'000'000, 2); }
  SECTION("inside an entry") { in->OnAck(stream, Bytes(0, 2) - 3, 2); }
  SECTION("a resend request inside an entry") { in->OnNack(stream, Bytes(0, 2) + 1, 2); }
  CHECK(in->counters().refused_offsets == 1);
  CHECK(in->counters().restreams == 1);
  CHECK(in->stream_id() != stream);
  // The new stream starts at the acknowledged entry: nothing is lost or silenced.
  frames.clear();
  in->Poll(3, 16, &frames);
  const Shipped s = Decode(frames);
  CHECK(s.start == Bytes(0, 1));
  CHECK(s.lines == std::vector<std::string>{Line(1), Line(2), Line(3)});
  // An ACK going backwards is refused and changes nothing.
  CHECK(in->OnAck(in->stream_id(), 0, 4));
  CHECK(in->counters().refused_offsets == 2);
  CHECK(in->InFlightBytes() == Bytes(1, 4));
}

TEST_CASE("JournalInput: an ACK or resend request at an entry's end inside a frame goes on there",
          "[integration]") {
  // A restarted agent sends again what its previous process sent, cut into other frames; the
  // aggregator holds the old frames and answers at their ends.
  Fixture f;
  Write(f.dir, 0, 8);
  auto in = f.Open();
  const uint64_t stream = in->stream_id();
  std::vector<std::string> frames;
  in->Poll(0, 16, &frames, Bytes(0, 6));
  REQUIRE(Decode(frames).end == Bytes(0, 6));
  int from = 0;
  SECTION("an ACK") {
    from = 2;
    CHECK(in->OnAck(stream, Bytes(0, 2), 1));
    CHECK(f.store->FindJournal(f.options.directory)->acked_offset == Bytes(0, 2));
  }
  SECTION("a resend request") {
    from = 3;
    CHECK(in->OnNack(stream, Bytes(0, 3), 1));
  }
  CHECK(in->counters().refused_offsets == 0);
  CHECK(in->stream_id() == stream);
  frames.clear();
  in->Poll(2, 16, &frames);
  const Shipped s = Decode(frames);
  CHECK(s.start == Bytes(0, from));
  std::vector<std::string> expected;
  for (int n = from; n < 8; ++n) expected.push_back(Line(n));
  CHECK(s.lines == expected);
}

TEST_CASE("JournalInput: an ACK at an entry's end past what was sent is refused", "[integration]") {
  // The entry is there to read, but no frame that reached the aggregator can end there.
  Fixture f;
  Write(f.dir, 0, 6);
  auto in = f.Open();
  const uint64_t stream = in->stream_id();
  std::vector<std::string> frames;
  in->Poll(0, 16, &frames, Bytes(0, 3));
  REQUIRE(Decode(frames).end == Bytes(0, 3));
  in->OnAck(stream, Bytes(0, 5), 1);
  CHECK(in->counters().refused_offsets == 1);
  CHECK(in->stream_id() != stream);
  frames.clear();
  in->Poll(2, 16, &frames);
  CHECK(Decode(frames).lines.size() == 6);
}

TEST_CASE("JournalInput: a mark an earlier process earned is taken only at an entry's end",
          "[integration]") {
  Fixture f;
  Write(f.dir, 0, 5);
  uint64_t stream = 0;
  {
    auto in = f.Open();
    stream = in->stream_id();
    std::vector<std::string> frames;
    in->Poll(0, 16, &frames);  // sent, never acknowledged here (the process dies)
  }
  SECTION("at the end of entry 2: resumes after it") {
    auto in = f.Open();
    in->Resync({{stream, Bytes(0, 3)}}, 0);
    CHECK(in->stream_id() == stream);
    std::vector<std::string> frames;
    in->Poll(0, 16, &frames);
    CHECK(Decode(frames).lines == std::vector<std::string>{Line(3), Line(4)});
    CHECK(f.store->FindJournal(f.options.directory)->acked_offset == Bytes(0, 3));
  }
  SECTION("inside an entry or past the journal: refused, everything sent again") {
    const uint64_t mark = GENERATE(Bytes(0, 3) - 1, Bytes(0, 5) + 10);
    auto in = f.Open();
    in->Resync({{stream, mark}}, 0);
    CHECK(in->stream_id() != stream);
    CHECK(in->counters().refused_offsets == 1);
    std::vector<std::string> frames;
    in->Poll(0, 16, &frames);
    CHECK(Decode(frames).lines.size() == 5);
  }
}

TEST_CASE("JournalInput: a stored cursor the journal does not take stops the start",
          "[integration]") {
  Fixture f;
  Write(f.dir, 0, 3);
  agent::StreamRecord r;
  r.stream_id = 7;
  r.path = r.journal = f.options.directory;
  r.cursor = "not a cursor";
  r.acked_offset = r.origin_offset = 100;
  f.store->Put(r);
  auto source = journal::JournalReader::OpenDirectory(f.options.directory, f.options.filter);
  REQUIRE(source.ok());
  auto in = JournalInput::Open(std::move(*source), f.options, true, 1024,
                               FrameContext{"agent-1", "fallback", 64 * 1024}, *f.store);
  REQUIRE_FALSE(in.ok());
  // Reading it all again would count it twice: the operator is told which file and what to do.
  CHECK(in.status().message().find("offsets.json") != std::string::npos);
  CHECK(in.status().message().find("move the file away") != std::string::npos);
}

TEST_CASE("JournalInput: the record of a journal no longer configured is forgotten",
          "[integration]") {
  Fixture f;
  Write(f.dir, 0, 2);
  agent::StreamRecord file;  // a file's record stays
  file.stream_id = 5;
  file.path = "/var/log/x.log";
  f.store->Put(file);
  agent::StreamRecord old;
  old.stream_id = 6;
  old.path = old.journal = "/elsewhere";
  f.store->Put(old);
  auto in = f.Open();
  CHECK(f.store->Find(5) != nullptr);
  CHECK(f.store->Find(6) == nullptr);
  CHECK(f.store->FindJournal(f.options.directory) != nullptr);
  ForgetOtherJournals(*f.store, "");
  CHECK(f.store->FindJournal(f.options.directory) == nullptr);
  CHECK(f.store->Find(5) != nullptr);
}
