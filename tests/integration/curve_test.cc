// CURVE against real daemons: keys made with `ember keygen`, an authorized agent gets through,
// an unknown key and a plaintext agent get nothing.
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

namespace {

// Makes key pairs with `ember keygen` (aggregator, web1, intruder), authorizes web1 only and
// turns CURVE on in the aggregator's config.
void EnableCurve(Cluster& c) {
  std::filesystem::create_directories(c.dir.Sub("keys/agents.d"));
  for (const char* name : {"aggregator", "web1", "intruder"}) {
    auto r = RunCommand({EMBER_CLI_BIN, "keygen", c.dir.Sub(std::string("keys/") + name)});
    REQUIRE(r.exit_code == 0);
  }
  std::filesystem::copy_file(c.dir.Sub("keys/web1.pub"), c.dir.Sub("keys/agents.d/web1.pub"));
  c.dir.Append("aggregator.yaml",
               "security:\n  curve_key_file: " + c.dir.Sub("keys/aggregator.key") +
                   "\n  authorized_keys_dir: " + c.dir.Sub("keys/agents.d") + "\n");
}

void UseAgentKey(Cluster& c, const std::string& name) {
  std::string agent = ReadFile(c.dir.Sub("agent.yaml"));
  agent += "  curve_key_file: " + c.dir.Sub("keys/" + name + ".key") +
           "\n  curve_server_key: " + c.dir.Sub("keys/aggregator.pub") + "\n";
  c.dir.Write("agent.yaml", agent);
}

}  // namespace

TEST_CASE("Pipeline: with CURVE an authorized agent gets through and others get nothing",
          "[security][integration]") {
  SECTION("authorized key") {
    Cluster c(kFailRule);
    EnableCurve(c);
    UseAgentKey(c, "web1");
    const std::string err = c.StartAggregator();
    CHECK(ReadFile(err).find("CURVE on: 1 authorized agent keys") != std::string::npos);
    c.StartAgent();
    std::string lines;
    for (int i = 0; i < 6; ++i) lines += "auth fail from 192.0.2.200\n";
    c.dir.Append("logs/app.log", lines);
    REQUIRE(WaitUntil([&] { return HasFiring(c.Alerts(), "192.0.2.200"); }, 20s));
    // The agent says its host is "testhost", which key web1 may not speak for: its lines count
    // as host web1, and the aggregator says so.
    CHECK(c.Alerts().at(0)["key"]["host"] == "web1");
    CHECK(ReadFile(err).find("which its key may not speak for") != std::string::npos);
    // The agent calls itself "test-agent" in its frames, but its marks are kept under the
    // name of the key it authenticated with: a payload cannot move another agent's marks.
    REQUIRE(WaitUntil([&] { return !c.CheckpointedStreams().empty(); }, 10s));
    for (const auto& stream : c.CheckpointedStreams()) {
      CHECK(stream.rfind("web1/", 0) == 0);
    }
  }
  SECTION("a key allowed to speak for a host in its .hosts file") {
    Cluster c(kFailRule);
    EnableCurve(c);
    c.dir.Write("keys/agents.d/web1.hosts", "# hosts web1's key may speak for\ntesthost\n");
    UseAgentKey(c, "web1");
    const std::string err = c.StartAggregator();
    c.StartAgent();
    std::string lines;
    for (int i = 0; i < 6; ++i) lines += "auth fail from 192.0.2.202\n";
    c.dir.Append("logs/app.log", lines);
    REQUIRE(WaitUntil([&] { return HasFiring(c.Alerts(), "192.0.2.202"); }, 20s));
    CHECK(c.Alerts().at(0)["key"]["host"] == "testhost");
    CHECK(ReadFile(err).find("may not speak for") == std::string::npos);
    // The evidence names the key that sent the lines beside the host it may speak for.
    const nlohmann::json evidence = c.Alerts().at(0)["evidence"].at(0);
    CHECK(evidence["host"] == "testhost");
    CHECK(evidence["agent"] == "web1");
    const std::string show = RunCommand({EMBER_CLI_BIN, "alerts", "show", c.Alerts().at(0)["id"],
                                         "--state-dir", c.dir.Sub("state")})
                                 .out;
    CHECK(show.find("sent by agent web1") != std::string::npos);
  }
  SECTION("unknown key, and no key at all") {
    for (const bool plaintext : {false, true}) {
      Cluster c(kFailRule);
      EnableCurve(c);
      if (!plaintext) UseAgentKey(c, "intruder");
      const std::string err = c.StartAggregator();
      c.StartAgent();
      std::string lines;
      for (int i = 0; i < 6; ++i) lines += "auth fail from 192.0.2.201\n";
      c.dir.Append("logs/app.log", lines);
      if (!plaintext) {
        REQUIRE(WaitUntil(
            [&] { return ReadFile(err).find("Refused an agent") != std::string::npos; }, 20s));
        auto intruder = ReadCurvePublicKey(c.dir.Sub("keys/intruder.pub"));
        REQUIRE(intruder.ok());
        CHECK(ReadFile(err).find(*intruder) != std::string::npos);
      } else {
        // The plaintext agent gets no answer at all, and says so.
        REQUIRE(WaitUntil(
            [&] {
              return ReadFile(c.dir.Sub("agent.1.err")).find("No answer from") != std::string::npos;
            },
            20s));
        CHECK(ReadFile(c.dir.Sub("agent.1.err")).find("With CURVE on") != std::string::npos);
        c.agent->Signal(SIGTERM);
        REQUIRE(c.agent->Wait(10s));
        CHECK(ReadFile(c.dir.Sub("agent.1.err")).find("never welcomed") != std::string::npos);
      }
      CHECK(c.Alerts().empty());
      CHECK(c.CheckpointedMatches() == 0);
    }
  }
  SECTION("a CURVE server that cannot have its ZAP handler does not start") {
    // Without the handler libzmq would let any key in: no configuration gets there.
    Cluster c(kFailRule);
    EnableCurve(c);
    const std::string config = ReadFile(c.dir.Sub("aggregator.yaml"));
    std::filesystem::remove_all(c.dir.Sub("keys/agents.d"));
    auto r = RunCommand({EMBER_AGGREGATOR_BIN, "-c", c.dir.Sub("aggregator.yaml")});
    CHECK(r.exit_code != 0);
    CHECK(r.err.find("cannot read authorized keys directory") != std::string::npos);
    std::string no_dir = config.substr(0, config.find("  authorized_keys_dir"));
    c.dir.Write("aggregator.yaml", no_dir);
    r = RunCommand({EMBER_AGGREGATOR_BIN, "-c", c.dir.Sub("aggregator.yaml")});
    CHECK(r.exit_code != 0);
    CHECK(r.err.find("'curve_key_file' needs 'authorized_keys_dir'") != std::string::npos);
  }
}
