// Cluster: a real ember-aggregator and ember-agent on a free 127.0.0.1 port, in a temporary
// directory with their configs, a rules file and logs/app.log; plus the helpers the delivery
// tests share (writing numbered events, waiting for exact checkpointed counts, reading the
// aggregator's LMDB as a separate reader would). The aggregator matches and applies its
// partitions on two threads whatever the machine's CPUs. Not thread-safe.
#pragma once

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <sstream>
#include <string>
#include <tuple>
#include <vector>

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include "common/kv_store.h"
#include "tests/support/process.h"
#include "tests/support/short_rule.h"
#include "tests/support/temp_dir.h"

namespace ember::test {

using namespace std::chrono_literals;

// The count of every partial an aggregator's LMDB at `state_dir` holds, keyed by
// (rule, batch, key), decoded here independently of CheckpointStore: the segments in order, a
// later one replacing a key's count.
std::map<std::tuple<std::string, uint64_t, std::string>, uint64_t> StoredPartialCounts(
    const std::string& state_dir);

struct Cluster {
  explicit Cluster(const std::string& rules)
      : port(FreeLoopbackPort()),
        http_port(FreeLoopbackPort()),
        agent_http_port(FreeLoopbackPort()) {
    endpoint = "tcp://127.0.0.1:" + std::to_string(port);
    dir.Write("rules/test.yaml", rules);
    dir.Write("aggregator.yaml",
              "listen: " + endpoint + "\nhttp_listen: 127.0.0.1:" + std::to_string(http_port) +
                  "\nstate_dir: " + dir.Sub("state") + "\nrules_dir: " + dir.Sub("rules") +
                  "\nbatch_interval: 500ms\nallowed_lateness: 200ms\n"
                  "sync: false\nthreads: 2\noutputs:\n  terminal_color: never\n  jsonl: " +
                  dir.Sub("alerts.jsonl") + "\n");
    dir.Write("agent.yaml", "name: test-agent\nhost: testhost\nhttp_listen: 127.0.0.1:" +
                                std::to_string(agent_http_port) +
                                "\nstate_dir: " + dir.Sub("agent-state") + "\ninputs:\n  paths: [" +
                                dir.Sub("logs/*.log") +
                                "]\n  poll_interval: 50ms\n  rescan_interval: 200ms\n"
                                "output:\n  endpoint: " +
                                endpoint + "\n  ack_timeout: 2s\n");
    dir.Write("logs/app.log", "");
  }
  // Each start logs to its own aggregator.<n>.err; returns that path.
  std::string StartAggregator(const std::vector<std::string>& env = {}) {
    const std::string err = dir.Sub("aggregator." + std::to_string(++starts) + ".err");
    aggregator = std::make_unique<Process>(
        std::vector<std::string>{EMBER_AGGREGATOR_BIN, "-c", dir.Sub("aggregator.yaml")},
        dir.Sub("aggregator.out"), err, env);
    // Bounded, and generous: a loaded machine (the suite runs tests side by side) can take
    // seconds to start a daemon.
    REQUIRE(WaitUntil([&] { return ReadFile(err).find("listening") != std::string::npos; }, 30s));
    return err;
  }
  // Adds `yaml` (indented lines) to the `inputs:` section of agent.yaml.
  void AddAgentInputs(const std::string& yaml) {
    std::string agent = ReadFile(dir.Sub("agent.yaml"));
    agent.replace(agent.find("inputs:\n") + 8, 0, yaml);
    dir.Write("agent.yaml", agent);
  }
  // Every start's log in order, each under a header naming it: for failure messages.
  std::string AggregatorLogs() const { return Logs("aggregator", starts); }
  std::string AgentLogs() const { return Logs("agent", agent_starts); }
  // Each start logs to its own agent.<n>.err.
  void StartAgent(const std::vector<std::string>& env = {}) {
    const std::string err = dir.Sub("agent." + std::to_string(++agent_starts) + ".err");
    agent = std::make_unique<Process>(
        std::vector<std::string>{EMBER_AGENT_BIN, "-c", dir.Sub("agent.yaml")},
        dir.Sub("agent.out"), err, env);
    REQUIRE(WaitUntil([&] { return ReadFile(err).find("Tailing") != std::string::npos; }, 30s));
  }
  std::vector<nlohmann::json> Alerts() const {
    std::vector<nlohmann::json> out;
    std::istringstream in(ReadFile(dir.Sub("alerts.jsonl")));
    std::string line;
    while (std::getline(in, line)) out.push_back(nlohmann::json::parse(line));
    return out;
  }
  // Sum of all partial counts the aggregator has checkpointed, read from its LMDB as a
  // separate reader process would.
  uint64_t CheckpointedMatches() const {
    uint64_t total = 0;
    for (const auto& [where, n] : StoredPartialCounts(dir.Sub("state"))) total += n;
    return total;
  }

  // The streams the aggregator has marks for, as "<agent identity>/<stream id>".
  std::vector<std::string> CheckpointedStreams() const {
    KvStoreOptions o;
    o.dir = dir.Sub("state");
    o.databases = {"meta", "segments", "keystate", "offsets"};
    o.read_only = true;
    std::vector<std::string> out;
    auto kv = KvStore::Open(o);
    if (!kv.ok()) return out;
    (void)(*kv)->Scan("offsets", "", [&](std::string_view k, std::string_view) {
      std::string key(k);
      std::replace(key.begin(), key.end(), '\0', '/');
      out.push_back(key);
    });
    return out;
  }

  std::string Logs(const std::string& daemon, int count) const {
    std::string out;
    for (int i = 1; i <= count; ++i) {
      const std::string name = daemon + "." + std::to_string(i) + ".err";
      out += "--- " + name + "\n" + ReadFile(dir.Sub(name));
    }
    return out;
  }

  TempDir dir;
  int starts = 0;
  int agent_starts = 0;
  int port;
  int http_port;        // the aggregator's /metrics
  int agent_http_port;  // the agent's /metrics
  std::string endpoint;
  std::unique_ptr<Process> aggregator;
  std::unique_ptr<Process> agent;
};

// Six "auth fail from <ip>" lines per host in 30 s raise a critical alert.
extern const char* kFailRule;
// Counts every "event <n>" line for an hour: nothing leaves the window during a test, so the
// checkpointed partial counts must equal the matching lines written, exactly.
extern const char* kCountRule;

bool HasFiring(const std::vector<nlohmann::json>& alerts, const std::string& ip);
// Appends `n` lines "event <i>" to logs/app.log in bursts, calling `midway` once at half.
void WriteEvents(Cluster& c, int n, const std::function<void()>& midway);
// Waits (bounded) for the checkpointed count to reach `n`, then checks it stays there.
void ExpectExactly(Cluster& c, uint64_t n);
// The checkpointed count per key (of one rule, or all), summed over batches.
std::map<std::string, uint64_t> CommittedCountsByKey(const Cluster& c,
                                                     const std::string& rule = "");
// Counts every "seq=<n>" line by its number for an hour (the oracle's rule).
extern const char* kSeqRule;

// The fault oracle over the sequence numbers 0..lines-1: written but never counted, counted
// more than once (the extra counts), and counted but never written.
struct SeqOracle {
  uint64_t lost = 0, dup_effect = 0, unexpected = 0;
};
SeqOracle CheckSeq(const Cluster& c, int lines, const std::string& rule = "seq");
// Waits (bounded) until every sequence number was counted and resends settled, then checks
// lost = dup_effect = unexpected = 0.
void ExpectSeqExactly(const Cluster& c, int lines);

// Scrapes a /metrics page with curl; every sample line by its series ("name{labels}").
std::map<std::string, double> Scrape(int port, std::string* raw = nullptr);
// The value of `series` in a scrape, -1 if absent.
double Get(const std::map<std::string, double>& m, const std::string& series);

// An integer from the environment, or `fallback`.
int EnvInt(const char* name, int fallback);

}  // namespace ember::test
