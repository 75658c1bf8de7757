// The aggregator's loop in this process, with two threads: the lines of one pass over the
// socket are matched while the next frames arrive. Run under ThreadSanitizer in CI.
#include <catch2/catch.hpp>

#include "aggregator/aggregator.h"
#include "common/clock.h"
#include "common/systemd_notifier.h"
#include "common/wire.h"
#include "tests/support/process.h"
#include "tests/support/raw_peer.h"
#include "tests/support/temp_dir.h"

using namespace ember;
using namespace ember::aggregator;
using namespace ember::test;

namespace {

constexpr int64_t kStart = 1'717'156'800'000;  // 2024-05-31T12:00:00Z, a batch boundary

}  // namespace

TEST_CASE(
    "Aggregator loop: lines matched while the next frames arrive are all committed "
    "before their ACK",
    "[aggregator][threads][integration]") {
  TempDir dir;
  ManualClock clock(kStart);
  SystemdNotifier notifier("", 0);
  const std::string endpoint = "tcp://127.0.0.1:" + std::to_string(FreeLoopbackPort());
  dir.Write("rules/test.yaml", R"(rules:
  - name: fails
    match: 'auth fail from (?P<ip>[\d.]+)'
    by: [ip]
    window: 2s
    every: 500ms
    when: count >= 3
    message: '{{count}} fails from {{ip}}'
)");
  dir.Write("aggregator.yaml", "listen: " + endpoint + "\nhttp_listen: ''\nstate_dir: " +
                                   dir.Sub("state") + "\nrules_dir: " + dir.Sub("rules") +
                                   "\nbatch_interval: 500ms\nallowed_lateness: 200ms\n"
                                   "sync: false\nthreads: 2\noutputs:\n"
                                   "  terminal: false\n  jsonl: " +
                                   dir.Sub("alerts.jsonl") + "\n");
  auto config = LoadAggregatorConfig(dir.Sub("aggregator.yaml"));
  REQUIRE(config.ok());
  auto started = Aggregator::Start(*config, clock, notifier);
  INFO((started.ok() ? "" : started.status().message()));
  REQUIRE(started.ok());
  std::unique_ptr<Aggregator> aggregator = std::move(*started);
  RawPeer peer(endpoint);
  peer.sock.set(zmq::sockopt::rcvtimeo, 20);
  auto receive = [&] {
    for (int i = 0; i < 500; ++i) {  // bounded: 500 turns of the loop
      aggregator->Step(5);
      zmq::message_t msg;
      if (peer.sock.recv(msg)) return msg.to_string();
    }
    return std::string();
  };
  peer.Send(wire::EncodeHello({"probe", "probehost", "test", 42, 1, {{1, 0}}, ""}));
  REQUIRE(wire::DecodeWelcome(receive()).ok());
  // 40 frames of 600 lines (more than one slice each, so the worker thread takes part),
  // sent a few at a time between turns of the loop: each turn applies the lines it started
  // matching the turn before.
  constexpr int kFrames = 40, kLines = 600;
  uint64_t offset = 0;
  for (int f = 0; f < kFrames; ++f) {
    peer.Send(FailFrame(1, offset, kLines, kStart));
    offset += 28u * kLines;
    if (f % 3 == 2) aggregator->Step(0);
  }
  peer.Send(AtEnd(1, offset, kStart));
  // A frame past a gap is answered with a NACK at the stream's mark: once it comes, every
  // frame and the heartbeat before it on this connection were handled.
  peer.Send(FailFrame(1, offset + 28, 1, kStart));
  wire::FrameType type = wire::FrameType::kData;
  auto nack = wire::DecodeOffsets(receive(), &type);
  REQUIRE(nack.ok());
  CHECK(type == wire::FrameType::kNack);
  REQUIRE(nack->size() == 1);
  CHECK((*nack)[0].offset == offset);
  // Past the batch's end plus the allowed lateness: it closes, commits and acknowledges
  // everything, every line counted.
  clock.Advance(500 + 200 + 1);
  auto ack = wire::DecodeOffsets(receive(), &type);
  REQUIRE(ack.ok());
  CHECK(type == wire::FrameType::kAck);
  REQUIRE(ack->size() == 1);
  CHECK((*ack)[0].offset == offset);
  const std::string alerts = ReadFile(dir.Sub("alerts.jsonl"));
  CHECK(alerts.find(std::to_string(kFrames * kLines) + " fails from 203.0.113.99") !=
        std::string::npos);
}
