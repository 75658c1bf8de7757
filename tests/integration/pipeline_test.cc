// The pipeline end to end over real processes: a real ember-aggregator and a real ember-agent on
// tcp://127.0.0.1, a real log file appended to by the test, alerts read from alerts.jsonl;
// tags, globs and inotify. Every wait is bounded; every process is stopped by the test (or
// SIGKILLed by the Process destructor when an assertion fails).
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <functional>
#include <map>
#include <random>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>
#include <zmq.hpp>

#include "common/curve_keys.h"
#include "common/kv_store.h"
#include "common/system.h"
#include "common/wire.h"
#include "engine/alert.h"
#include "tests/support/cluster.h"
#include "tests/support/process.h"
#include "tests/support/raw_peer.h"
#include "tests/support/temp_dir.h"

using namespace ember;
using namespace ember::test;
using namespace std::chrono_literals;

TEST_CASE("Pipeline: lines appended to a tailed file raise an alert at the aggregator",
          "[integration]") {
  Cluster c(kFailRule);
  c.StartAggregator();
  c.StartAgent();
  std::string lines;
  for (int i = 0; i < 7; ++i)
    lines += "sshd: auth fail from 192.0.2.7 port " + std::to_string(i) + "\r\n";
  c.dir.Append("logs/app.log", lines + "unrelated line\n");
  REQUIRE(WaitUntil([&] { return HasFiring(c.Alerts(), "192.0.2.7"); }, 20s));
  auto alerts = c.Alerts();
  const auto& a = alerts[0];
  CHECK(a["rule"] == "fails");
  CHECK(a["key"]["host"] == "testhost");
  CHECK(a["count"].get<int>() >= 6);
  CHECK(a["severity"] == "critical");
  CHECK(a["sample"] == "sshd: auth fail from 192.0.2.7 port 0");
  CHECK(a["message"].get<std::string>().find("fails from 192.0.2.7 on testhost") !=
        std::string::npos);
  // The terminal output has the same alert, one line, no colour codes (not a tty).
  std::string terminal = ReadFile(c.dir.Sub("aggregator.out"));
  CHECK(terminal.find("CRITICAL  FIRING    fails") != std::string::npos);
  CHECK(terminal.find('\x1b') == std::string::npos);

  c.agent->Signal(SIGTERM);
  c.aggregator->Signal(SIGTERM);
  REQUIRE(c.agent->Wait(10s));
  REQUIRE(c.aggregator->Wait(10s));
  CHECK(c.agent->exit_code() == 0);
  CHECK(c.aggregator->exit_code() == 0);
}

TEST_CASE("Pipeline: an aggregator killed with SIGKILL continues its windows after restart",
          "[integration]") {
  Cluster c(kFailRule);
  const std::string first = c.StartAggregator();
  c.StartAgent();
  std::string four;
  for (int i = 0; i < 4; ++i) four += "auth fail from 198.51.100.3\n";
  c.dir.Append("logs/app.log", four);
  // Wait until the four matches are in a committed checkpoint.
  REQUIRE(WaitUntil([&] { return c.CheckpointedMatches() == 4; }, 20s));
  c.aggregator->Signal(SIGKILL);
  REQUIRE(c.aggregator->Wait(10s));
  CHECK(c.aggregator->term_signal() == SIGKILL);
  CHECK(c.Alerts().empty());

  const std::string err = c.StartAggregator();
  CHECK(ReadFile(err).find("Recovered") != std::string::npos);
#if defined(EMBER_HAVE_HYPERSCAN)
  // The rules' screen was compiled at the first start and kept in the state directory; the
  // restart loads it (and the alert below is raised with it).
  CHECK(ReadFile(first).find("from the cache") == std::string::npos);
  CHECK(ReadFile(err).find("(their screen from the cache)") != std::string::npos);
#endif
  c.dir.Append("logs/app.log", "auth fail from 198.51.100.3\nauth fail from 198.51.100.3\n");
  // Only 2 matches since the restart: the alert needs the 4 recovered from the checkpoint.
  REQUIRE(WaitUntil([&] { return HasFiring(c.Alerts(), "198.51.100.3"); }, 20s));
  CHECK(c.Alerts()[0]["count"] == 6);
}

TEST_CASE("Pipeline: an input's tag and a ** glob reach the rules as the built-in field tag",
          "[tag][integration]") {
  Cluster c(R"(rules:
  - name: by-tag
    match: 'ERROR'
    by: [tag, file]
    window: 30s
    every: 500ms
    when: count >= 3
    message: '{{count}} errors in {{tag}}'
)");
  std::string agent = ReadFile(c.dir.Sub("agent.yaml"));
  const std::string plain = "[" + c.dir.Sub("logs/*.log") + "]";
  agent.replace(agent.find(plain), plain.size(),
                "[{path: '" + c.dir.Sub("logs/**/*.log") + "', tag: payments}]");
  c.dir.Write("agent.yaml", agent);
  c.dir.Write("logs/svc/deep/pay.log", "");
  c.StartAggregator();
  c.StartAgent();
  c.dir.Append("logs/svc/deep/pay.log", "ERROR a\nERROR b\nERROR c\n");
  REQUIRE(WaitUntil([&] { return !c.Alerts().empty(); }, 20s));
  auto a = c.Alerts()[0];
  CHECK(a["key"]["tag"] == "payments");
  CHECK(a["key"]["file"] == c.dir.Sub("logs/svc/deep/pay.log"));
  CHECK(a["message"] == "3 errors in payments");
}

TEST_CASE("Pipeline: inotify picks up new files and appends at once, polling is the fallback",
          "[inotify][integration]") {
  for (const bool inotify : {true, false}) {
    INFO("inotify " << inotify);
    Cluster c(kCountRule);
    std::string agent = ReadFile(c.dir.Sub("agent.yaml"));
    // With inotify, polls and rescans are 30 s apart, so only inotify can explain a quick
    // pick-up; without it, a 100 ms poll has to do the job.
    const std::string timing = "  poll_interval: 50ms\n  rescan_interval: 200ms\n";
    agent.replace(agent.find(timing), timing.size(),
                  inotify ? "  poll_interval: 30s\n  rescan_interval: 30s\n"
                          : "  inotify: false\n  poll_interval: 100ms\n  rescan_interval: 100ms\n");
    c.dir.Write("agent.yaml", agent);
    c.StartAggregator();
    c.StartAgent();
    std::this_thread::sleep_for(500ms);
    const auto start = std::chrono::steady_clock::now();
    c.dir.Write("logs/new.log", "event 1\nevent 2\n");  // a new file
    c.dir.Append("logs/app.log", "event 3\n");          // an append to a known one
    REQUIRE(WaitUntil([&] { return c.CheckpointedMatches() == 3; }, 10s));
    const auto took = std::chrono::steady_clock::now() - start;
    // Seen, batched (500 ms), closed (200 ms lateness) and checkpointed in well under 5 s.
    CHECK(took < 5s);
  }
}
