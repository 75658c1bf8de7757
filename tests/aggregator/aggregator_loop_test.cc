// The aggregator's loop driven by a synthetic clock: a real ROUTER socket on 127.0.0.1 and a
// raw DEALER peer, but no waiting for batches, checkpoints or session expiry.
#include <catch2/catch.hpp>

#include "aggregator/aggregator.h"
#include "common/wire.h"
#include "tests/support/cluster.h"
#include "tests/support/process.h"
#include "tests/support/raw_peer.h"
#include "tests/support/temp_dir.h"

using namespace ember;
using namespace ember::aggregator;
using namespace ember::test;

namespace {

// 2024-05-31T12:00:00Z, on a batch boundary.
constexpr int64_t kStart = 1'717'156'800'000;

struct Loop {
  Loop() : clock(kStart), notifier("", 0) {
    endpoint = "tcp://127.0.0.1:" + std::to_string(FreeLoopbackPort());
    dir.Write("rules/test.yaml", kShortRule);
    dir.Write("aggregator.yaml", "listen: " + endpoint + "\nhttp_listen: ''\nstate_dir: " +
                                     dir.Sub("state") + "\nrules_dir: " + dir.Sub("rules") +
                                     "\nbatch_interval: 500ms\nallowed_lateness: 200ms\n"
                                     "sync: false\nmatch_threads: 1\noutputs:\n"
                                     "  terminal: false\n  jsonl: " +
                                     dir.Sub("alerts.jsonl") + "\n");
    auto c = LoadAggregatorConfig(dir.Sub("aggregator.yaml"));
    REQUIRE(c.ok());
    config = *c;
    auto a = Aggregator::Start(config, clock, notifier);
    INFO((a.ok() ? "" : a.status().message()));
    REQUIRE(a.ok());
    aggregator = std::move(*a);
  }
  // Turns of the loop that do not wait, so what a peer sent is taken.
  void Steps(int n = 20) {
    for (int i = 0; i < n; ++i) aggregator->Step(5);
  }
  // A frame for the peer, letting the loop run until one arrives (bounded).
  std::string ReceiveFrom(RawPeer& peer) {
    peer.sock.set(zmq::sockopt::rcvtimeo, 20);
    for (int i = 0; i < 200; ++i) {
      aggregator->Step(5);
      zmq::message_t msg;
      if (peer.sock.recv(msg)) return msg.to_string();
    }
    return "";
  }
  wire::Welcome Hello(RawPeer& peer, std::vector<wire::AckEntry> streams = {}) {
    peer.Send(wire::EncodeHello({"probe", "probehost", "test", 42, 1, std::move(streams), ""}));
    auto w = wire::DecodeWelcome(ReceiveFrom(peer));
    REQUIRE(w.ok());
    return *w;
  }
  TempDir dir;
  ManualClock clock;
  SystemdNotifier notifier;
  std::string endpoint;
  AggregatorConfig config;
  std::unique_ptr<Aggregator> aggregator;
};

}  // namespace

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
