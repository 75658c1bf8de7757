// The CLI against live daemons: `ember status`, `ember alerts` and `ember-agent --status`.
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

TEST_CASE("Pipeline: ember status shows the agents and fails when the aggregator is gone",
          "[status][integration]") {
  Cluster c(kFailRule);
  c.StartAggregator();
  c.StartAgent();
  c.dir.Append("logs/app.log", "auth fail from 192.0.2.1\nhello\n");
  ProcessResult r;
  REQUIRE(WaitUntil(
      [&] {
        r = RunCommand({EMBER_CLI_BIN, "status", "--state-dir", c.dir.Sub("state")});
        // The agent is listed from its HELLO on; wait for its lines too.
        return r.out.find("test-agent") != std::string::npos &&
               r.out.find("lines             2 in") != std::string::npos;
      },
      20s));
  INFO(r.out << r.err);
  CHECK(r.exit_code == 0);
  CHECK(r.out.find("status            OK") != std::string::npos);
  CHECK(r.out.find("1 loaded") != std::string::npos);
  auto json = RunCommand({EMBER_CLI_BIN, "status", "--json", "--state-dir", c.dir.Sub("state")});
  auto j = nlohmann::json::parse(json.out);
  CHECK(j["healthy"] == true);
  REQUIRE(j["agents"].size() == 1);
  CHECK(j["agents"][0]["lines"] == 2);
  CHECK(j["agents"][0]["bytes_per_s"].get<double>() >= 0);
  CHECK(j["counters"]["matches"] == 1);
  CHECK(j["counters"]["checkpoints"].get<int>() > 0);
  CHECK(j["counters"]["checkpoint_failures"] == 0);
  CHECK(j["counters"]["alerts_undelivered"] == 0);
  CHECK(j["batches_behind"].get<int>() <= 2);
  CHECK(r.out.find("BYTES/S") != std::string::npos);
  CHECK(r.out.find("checkpoints       ") != std::string::npos);

  c.aggregator->Signal(SIGKILL);
  REQUIRE(c.aggregator->Wait(10s));
  // With batches of 500 ms, a checkpoint older than 5 s means the aggregator is gone.
  REQUIRE(WaitUntil(
      [&] {
        r = RunCommand({EMBER_CLI_BIN, "status", "--state-dir", c.dir.Sub("state")});
        return r.exit_code == 1;
      },
      15s));
  CHECK(r.out.find("STALE") != std::string::npos);
  CHECK(RunCommand({EMBER_CLI_BIN, "status", "--state-dir", c.dir.Sub("nowhere")}).exit_code == 2);
}

TEST_CASE("Pipeline: ember alerts lists, filters and follows the alert history",
          "[alerts][integration]") {
  Cluster c(kFailRule);
  c.StartAggregator();
  c.StartAgent();
  std::string lines;
  for (int i = 0; i < 6; ++i) lines += "auth fail from 198.51.100.1\n";
  c.dir.Append("logs/app.log", lines);
  REQUIRE(WaitUntil([&] { return HasFiring(c.Alerts(), "198.51.100.1"); }, 20s));
  const std::string state = c.dir.Sub("state");
  auto all = RunCommand({EMBER_CLI_BIN, "alerts", "--state-dir", state});
  CHECK(all.exit_code == 0);
  CHECK(all.out.find("FIRING    fails") != std::string::npos);
  CHECK(all.out.find("ip=198.51.100.1") != std::string::npos);
  auto json = RunCommand({EMBER_CLI_BIN, "alerts", "--json", "--state-dir", state});
  REQUIRE(json.exit_code == 0);
  auto first = nlohmann::json::parse(json.out.substr(0, json.out.find('\n')));
  CHECK(first == c.Alerts().at(0));  // the history holds exactly what the sinks got
  CHECK(RunCommand({EMBER_CLI_BIN, "alerts", "--rule", "other", "--state-dir", state}).out.empty());
  CHECK(RunCommand({EMBER_CLI_BIN, "alerts", "--severity", "critical", "--key", "ip=198.51.100.1",
                    "--state-dir", state})
            .out.find("198.51.100.1") != std::string::npos);
  CHECK(RunCommand({EMBER_CLI_BIN, "alerts", "--state", "resolved", "--state-dir", state})
            .out.empty());
  // One way to point every command at the aggregator: its configuration.
  const std::string config = c.dir.Sub("aggregator.yaml");
  CHECK(RunCommand({EMBER_CLI_BIN, "alerts", "-c", config}).out == all.out);
  CHECK(RunCommand({EMBER_CLI_BIN, "alerts", "show", first["id"].get<std::string>(), "-c", config})
            .out.find("ip=198.51.100.1") != std::string::npos);
  CHECK(RunCommand({EMBER_CLI_BIN, "status", "-c", config}).out.find("ember-aggregator  pid") !=
        std::string::npos);
  CHECK(RunCommand({EMBER_CLI_BIN, "top", "--once", "-c", config}).out.find("fails") !=
        std::string::npos);
  const ProcessResult broken = RunCommand({EMBER_CLI_BIN, "alerts", "-c", c.dir.Sub("none.yaml")});
  CHECK(broken.exit_code == 2);
  CHECK(broken.err.find("none.yaml") != std::string::npos);
  // One alert's provenance by its id.
  auto show = RunCommand(
      {EMBER_CLI_BIN, "alerts", "show", first["id"].get<std::string>(), "--state-dir", state});
  INFO(show.out << show.err);
  CHECK(show.exit_code == 0);
  CHECK(show.out.find("rule       fails") != std::string::npos);
  CHECK(show.out.find("key        ip=198.51.100.1 host=testhost") != std::string::npos);
  CHECK(show.out.find("count      6 in the window") != std::string::npos);
  CHECK(show.out.find("evidence   auth fail from 198.51.100.1") != std::string::npos);
  CHECK(show.out.find("from testhost:" + c.dir.Sub("logs/app.log") + ", bytes ") !=
        std::string::npos);
  CHECK(show.out.find("delivery   delivered to every output") != std::string::npos);
  CHECK(RunCommand({EMBER_CLI_BIN, "alerts", "show", "0000000000000000", "--state-dir", state})
            .exit_code == 1);

  Process follow({EMBER_CLI_BIN, "alerts", "-f", "--state-dir", state}, c.dir.Sub("follow.out"),
                 c.dir.Sub("follow.err"));
  std::string more;
  for (int i = 0; i < 6; ++i) more += "auth fail from 198.51.100.2\n";
  c.dir.Append("logs/app.log", more);
  CHECK(WaitUntil(
      [&] {
        return ReadFile(c.dir.Sub("follow.out")).find("ip=198.51.100.2") != std::string::npos;
      },
      20s));
  // The first alert is printed once, not again at every poll.
  const std::string out = ReadFile(c.dir.Sub("follow.out"));
  CHECK(out.find("ip=198.51.100.1") == out.rfind("ip=198.51.100.1"));
}

namespace {

// The fields of the `ember-agent --status` row of `path`: FILE STREAM DEV:INODE ACKED SIZE
// LAG LINES CUT RESETS STATE...
std::vector<std::string> StatusRow(const std::string& out, const std::string& path) {
  std::istringstream in(out);
  for (std::string line; std::getline(in, line);) {
    if (line.rfind(path + " ", 0) != 0) continue;
    std::istringstream fields(line);
    std::vector<std::string> row;
    for (std::string f; fields >> f;) row.push_back(f);
    return row;
  }
  return {};
}

}  // namespace

TEST_CASE("Pipeline: ember-agent --status shows each file's offsets, lag, counters and skips",
          "[status][integration]") {
  Cluster c(kCountRule);
  c.AddAgentInputs("  max_line_bytes: 64B\n");
  REQUIRE(::mkfifo(c.dir.Sub("logs/pipe.log").c_str(), 0644) == 0);  // matches, cannot be tailed
  c.StartAggregator();
  c.StartAgent();
  // 16 bytes, then a line of 100 bytes cut at 64: 116 bytes, 3 lines, 1 cut.
  c.dir.Append("logs/app.log", "event 1\nevent 2\nevent 3 " + std::string(91, 'x') + "\n");
  REQUIRE(WaitUntil([&] { return c.CheckpointedMatches() == 3; }, 20s));
  ProcessResult r;
  std::vector<std::string> row;
  const bool counted = WaitUntil(
      [&] {
        r = RunCommand({EMBER_AGENT_BIN, "--status", "-c", c.dir.Sub("agent.yaml")});
        row = StatusRow(r.out, c.dir.Sub("logs/app.log"));
        return row.size() >= 10 && row[3] == "116" && row[6] == "3";  // acked, and counted
      },
      10s);
  INFO(r.out);
  REQUIRE(counted);
  CHECK(r.exit_code == 0);
  CHECK(row[4] == "116");  // size
  CHECK(row[5] == "0");    // lag
  CHECK(row[7] == "1");    // the line cut at max_line_bytes
  CHECK(row[8] == "0");    // no truncation of the file
  CHECK(row[9] == "tailing");
  CHECK(r.out.find("agent: running") != std::string::npos);
  CHECK(r.out.find("not tailed: " + c.dir.Sub("logs/pipe.log") + ": '" +
                   c.dir.Sub("logs/pipe.log") + "' is not a regular file") != std::string::npos);
  c.agent->Signal(SIGSTOP);  // the agent stops reading: a lag appears
  c.dir.Append("logs/app.log", "event 4\n");
  r = RunCommand({EMBER_AGENT_BIN, "--status", "-c", c.dir.Sub("agent.yaml")});
  row = StatusRow(r.out, c.dir.Sub("logs/app.log"));
  REQUIRE(row.size() >= 6);
  CHECK(row[3] == "116");
  CHECK(row[4] == "124");
  CHECK(row[5] == "8");
  c.agent->Signal(SIGCONT);
}
