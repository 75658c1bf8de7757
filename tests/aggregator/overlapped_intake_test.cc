// The aggregator's loop in this process with two threads: the lines of one pass over the
// socket are matched while the next frames arrive. Run under ThreadSanitizer in CI.
#include <catch2/catch.hpp>

#include "common/wire.h"
#include "tests/support/aggregator_loop.h"

using namespace ember;
using namespace ember::test;

TEST_CASE(
    "Aggregator loop: lines matched while the next frames arrive are all committed "
    "before their ACK",
    "[aggregator][threads][integration]") {
  Loop loop(/*threads=*/2);
  RawPeer peer(loop.endpoint);
  loop.Hello(peer, {{1, 0}});
  // 40 frames of 600 lines (more than one slice each, so the worker thread takes part),
  // sent a few at a time between turns of the loop: each turn applies the lines it started
  // matching the turn before.
  constexpr int kFrames = 40, kLines = 600;
  uint64_t offset = 0;
  for (int f = 0; f < kFrames; ++f) {
    peer.Send(FailFrame(1, offset, kLines, kStart));
    offset += 28u * kLines;
    if (f % 3 == 2) loop.aggregator->Step(0);
  }
  peer.Send(AtEnd(1, offset, kStart));
  // A frame past a gap is answered with a NACK at the stream's mark: once it comes, every
  // frame and the heartbeat before it on this connection were handled.
  peer.Send(FailFrame(1, offset + 28, 1, kStart));
  wire::FrameType type = wire::FrameType::kData;
  auto nack = wire::DecodeOffsets(loop.ReceiveFrom(peer), &type);
  REQUIRE(nack.ok());
  CHECK(type == wire::FrameType::kNack);
  REQUIRE(nack->size() == 1);
  CHECK((*nack)[0].offset == offset);
  // Past the batch's end plus the allowed lateness: it closes, commits and acknowledges
  // everything, every line counted.
  loop.clock.Advance(500 + 200 + 1);
  auto ack = wire::DecodeOffsets(loop.ReceiveFrom(peer), &type);
  REQUIRE(ack.ok());
  CHECK(type == wire::FrameType::kAck);
  REQUIRE(ack->size() == 1);
  CHECK((*ack)[0].offset == offset);
  const std::string alerts = ReadFile(loop.dir.Sub("alerts.jsonl"));
  CHECK(alerts.find(std::to_string(kFrames * kLines) + " fails from 203.0.113.99") !=
        std::string::npos);
}
