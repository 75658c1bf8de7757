// The aggregator's loop driven by a synthetic clock (tests/support/aggregator_loop.h).
#include "tests/support/aggregator_loop.h"

#include <catch2/catch.hpp>

#include "common/wire.h"
#include "tests/support/cluster.h"

using namespace ember;
using namespace ember::aggregator;
using namespace ember::test;

TEST_CASE("Aggregator loop: no ACK before the batch closes and its checkpoint commits",
          "[aggregator][integration]") {
  Loop loop;
  RawPeer peer(loop.endpoint);
  loop.Hello(peer);
  peer.Send(FailFrame(1, 0, 3, kStart));
  peer.Send(AtEnd(1, 3 * 28, kStart));
  loop.Steps();
  // The clock has not moved: the batch is open, nothing is committed or acknowledged.
  peer.sock.set(zmq::sockopt::rcvtimeo, 0);
  zmq::message_t msg;
  CHECK_FALSE(peer.sock.recv(msg));
  CHECK(ReadFile(loop.dir.Sub("alerts.jsonl")).empty());
  // Past the batch's end plus the allowed lateness: it closes, commits, alerts, acknowledges.
  loop.clock.Advance(500 + 200 + 1);
  wire::FrameType type = wire::FrameType::kData;
  auto ack = wire::DecodeOffsets(loop.ReceiveFrom(peer), &type);
  REQUIRE(ack.ok());
  CHECK(type == wire::FrameType::kAck);
  REQUIRE(ack->size() == 1);
  CHECK((*ack)[0].offset == 3 * 28);
  const std::string alerts = ReadFile(loop.dir.Sub("alerts.jsonl"));
  CHECK(alerts.find("\"state\":\"firing\"") != std::string::npos);
  CHECK(alerts.find("203.0.113.99") != std::string::npos);
}

TEST_CASE("Aggregator loop: a burst's tail is acknowledged when it pauses, a trickle at the tick",
          "[aggregator][integration]") {
  Loop loop;
  RawPeer peer(loop.endpoint);
  loop.Hello(peer);
  auto nothing_came = [&] {
    peer.sock.set(zmq::sockopt::rcvtimeo, 20);
    zmq::message_t msg;
    return !peer.sock.recv(msg);
  };
  // The first tick commits what came (every line stamped at the start: the watermark stays
  // behind, no batch closes after it); the next tick is 500 ms later.
  peer.Send(FailFrame(1, 0, 3, kStart));
  loop.Steps();
  loop.clock.Advance(500 + 200 + 1);
  wire::FrameType type = wire::FrameType::kData;
  auto first = wire::DecodeOffsets(loop.ReceiveFrom(peer), &type);
  REQUIRE(first.ok());
  REQUIRE(first->size() == 1);
  CHECK((*first)[0].offset == 3 * 28);
  // A trickle, then a pause of 100 ms: it waits for the tick.
  peer.Send(FailFrame(1, 3 * 28, 3, kStart));
  loop.Steps();
  loop.clock.Advance(100);
  loop.Steps();
  CHECK(nothing_came());
  // A burst of more than a sixteenth of the credit (1 MiB of 16): nothing while it may go on
  // (the clock has not moved), acknowledged once it paused, long before the tick.
  const int lines = 40'000;
  peer.Send(FailFrame(1, 6 * 28, lines, kStart));
  loop.Steps();
  CHECK(nothing_came());
  loop.clock.Advance(25);
  auto ack = wire::DecodeOffsets(loop.ReceiveFrom(peer), &type);
  REQUIRE(ack.ok());
  CHECK(type == wire::FrameType::kAck);
  REQUIRE(ack->size() == 1);
  CHECK((*ack)[0].offset == 28 * (6 + static_cast<uint64_t>(lines)));
}

TEST_CASE("Aggregator loop: go-back-N at the mark, duplicates acknowledged again",
          "[aggregator][integration]") {
  Loop loop;
  RawPeer peer(loop.endpoint);
  loop.Hello(peer);
  peer.Send(FailFrame(1, 0, 1, kStart));
  loop.Steps();
  // A gap: frames after 28 were lost; the aggregator asks for the stream from its mark.
  peer.Send(FailFrame(1, 56, 1, kStart));
  wire::FrameType type = wire::FrameType::kData;
  auto nack = wire::DecodeOffsets(loop.ReceiveFrom(peer), &type);
  REQUIRE(nack.ok());
  CHECK(type == wire::FrameType::kNack);
  CHECK((*nack)[0].offset == 28);
  // The first frame again (its ACK was lost): dropped, acknowledged at the mark.
  peer.Send(FailFrame(1, 0, 1, kStart));
  loop.Steps();
  loop.clock.Advance(701);
  auto ack = wire::DecodeOffsets(loop.ReceiveFrom(peer), &type);
  REQUIRE(ack.ok());
  CHECK(type == wire::FrameType::kAck);
  CHECK((*ack)[0].offset == 28);
}

TEST_CASE("Aggregator loop: a session quiet for 10 minutes must say HELLO again",
          "[aggregator][integration]") {
  Loop loop;
  RawPeer peer(loop.endpoint);
  loop.Hello(peer);
  peer.Send(FailFrame(1, 0, 1, kStart));
  loop.Steps();
  loop.clock.Advance(701);
  wire::FrameType type = wire::FrameType::kData;
  REQUIRE(wire::DecodeOffsets(loop.ReceiveFrom(peer), &type).ok());
  loop.clock.Advance(9 * 60'000);
  loop.Steps();
  peer.Send(FailFrame(1, 28, 1, kStart));  // still within its session
  loop.Steps();
  loop.clock.Advance(10 * 60'000 + 1000);
  loop.Steps();
  peer.Send(FailFrame(1, 56, 1, kStart));
  const std::string reply = loop.ReceiveFrom(peer);
  // The ACK of the frame at 28 may come first.
  std::string last = reply;
  for (int i = 0; i < 3 && wire::PeekType(last).ok() &&
                  *wire::PeekType(last) != wire::FrameType::kHelloRequired;
       ++i) {
    last = loop.ReceiveFrom(peer);
  }
  auto t = wire::PeekType(last);
  REQUIRE(t.ok());
  CHECK(*t == wire::FrameType::kHelloRequired);
  // The new session's WELCOME carries the committed mark.
  auto welcome = loop.Hello(peer, {{1, 0}});
  REQUIRE(welcome.marks.size() == 1);
  CHECK(welcome.marks[0].offset == 56);
}
