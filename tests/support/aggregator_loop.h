// Loop: the aggregator's loop in this process, driven by a synthetic clock: a real ROUTER
// socket on 127.0.0.1 for a raw DEALER peer (RawPeer), but no waiting for batches,
// checkpoints or session expiry. Rule: kShortRule; batches of 500 ms, 200 ms of lateness.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include <catch2/catch.hpp>

#include "aggregator/aggregator.h"
#include "common/clock.h"
#include "common/systemd_notifier.h"
#include "common/wire.h"
#include "tests/support/process.h"
#include "tests/support/raw_peer.h"
#include "tests/support/short_rule.h"
#include "tests/support/temp_dir.h"

namespace ember::test {

// 2024-05-31T12:00:00Z, on a batch boundary.
inline constexpr int64_t kStart = 1'717'156'800'000;

struct Loop {
  // `threads`: the aggregator's matching and applying threads (1: all on the loop's).
  explicit Loop(int threads = 1) : clock(kStart), notifier("", 0) {
    endpoint = "tcp://127.0.0.1:" + std::to_string(FreeLoopbackPort());
    dir.Write("rules/test.yaml", kShortRule);
    dir.Write("aggregator.yaml", "listen: " + endpoint + "\nhttp_listen: ''\nstate_dir: " +
                                     dir.Sub("state") + "\nrules_dir: " + dir.Sub("rules") +
                                     "\nbatch_interval: 500ms\nallowed_lateness: 200ms\n"
                                     "sync: false\nthreads: " +
                                     std::to_string(threads) +
                                     "\noutputs:\n"
                                     "  terminal: false\n  jsonl: " +
                                     dir.Sub("alerts.jsonl") + "\n");
    auto c = aggregator::LoadAggregatorConfig(dir.Sub("aggregator.yaml"));
    REQUIRE(c.ok());
    config = *c;
    auto a = aggregator::Aggregator::Start(config, clock, notifier);
    INFO((a.ok() ? "" : a.status().message()));
    REQUIRE(a.ok());
    aggregator = std::move(*a);
  }
  // Turns of the loop that do not wait, so what a peer sent is taken.
  void Steps(int n = 20) {
    for (int i = 0; i < n; ++i) aggregator->Step(5);
  }
  // A frame for the peer, letting the loop run until one arrives (bounded: 500 turns, ample
  // for a build under a sanitizer).
  std::string ReceiveFrom(RawPeer& peer) {
    peer.sock.set(zmq::sockopt::rcvtimeo, 20);
    for (int i = 0; i < 500; ++i) {
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
  aggregator::AggregatorConfig config;
  std::unique_ptr<aggregator::Aggregator> aggregator;
};

}  // namespace ember::test
