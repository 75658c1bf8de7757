#include "aggregator/aggregator_config.h"

#include <catch2/catch.hpp>

#include "tests/support/temp_dir.h"

using namespace ember;

TEST_CASE("AggregatorConfig: the shipped aggregator.yaml loads with its defaults",
          "[aggregator][config][unit]") {
  auto c = aggregator::LoadAggregatorConfig(std::string(EMBER_SOURCE_DIR) +
                                            "/packaging/config/aggregator.yaml");
  INFO(c.status().ToString());
  REQUIRE(c.ok());
  CHECK(c->listen == "tcp://127.0.0.1:7450");
  CHECK(c->engine.batch_interval_ms == 1000);
  CHECK(c->allowed_lateness_ms == 100);
  CHECK(c->time == aggregator::TimeSource::kEvent);
  CHECK(c->max_source_delay_ms == 30'000);
  CHECK(c->backfill_hold_ms == 600'000);
  CHECK(c->engine.max_lateness_ms == 3600'000);
  CHECK(c->max_future_skew_ms == 60'000);
  CHECK(c->checkpoint_interval_ms == 1000);
  CHECK(c->threads == 0);  // one per CPU
  CHECK(c->engine.partitions == 16);
  CHECK(c->stream_expiry_ms == 24 * 3600'000);
}

TEST_CASE("AggregatorConfig: bad values are errors naming file:line:col",
          "[aggregator][config][unit]") {
  test::TempDir dir;
  struct Case {
    std::string yaml;
    std::string expected;
  };
  for (const auto& c : std::vector<Case>{
           {"batch_interval: 50ms\n", ":1:17: error: 'batch_interval' must be between"},
           {"late: current\n", "unknown key 'late'"},
           {"listen: tcp://127.0.0.1:1\nlisten: tcp://127.0.0.1:2\n",
            ":2:1: error: duplicate key 'listen' (first at line 1)"},
           {"max_lateness: 8d\n", ":1:15: error: 'max_lateness' must be between 0 and 7d"},
           {"max_source_delay: 0s\n", "'max_source_delay' must be between 1s and 1h"},
           {"backfill_hold: 2d\n", "'backfill_hold' must be between 0 and 24h"},
           {"max_future_skew: 2d\n", "'max_future_skew' must be between 0 and 24h"},
           {"stream_expiry: 500ms\n", ":1:16: error: 'stream_expiry' must be at least 1s"},
           {"max_agent_connections: -1\n",
            ":1:24: error: 'max_agent_connections' must be between 0"},
           {"time: wall\n", "use ingestion or event"},
           {"checkpoint_interval: 1500ms\n", "must be a multiple of 'batch_interval'"},
           {"listn: tcp://127.0.0.1:1\n", "unknown key 'listn' (did you mean 'listen'?)"},
           {"outputs:\n  terminal_color: pink\n", ":2:19: error: 'terminal_color'"},
           {"match_threads: -1\n", ":1:16: error: 'match_threads' must be between 0"},
           {"threads: 65\n", ":1:10: error: 'threads' must be between 0 (one per CPU) and 64"},
           {"threads: 2\nmatch_threads: 2\n", "'match_threads' is 'threads': set one of them"},
           {"partitions: 0\n", ":1:13: error: 'partitions' must be between 1 and 4096"},
           {"partitions: 4097\n", "'partitions' must be between 1 and 4096"},
           {"allowed_lateness: 1000d\n", "'allowed_lateness' must be between 0 and 1h"},
           {"listen: tcp://127.0.0.1:70000\n", "needs a port from 1 to 65535"},
           {"http_listen: 0.0.0.0:7451\n",
            ":1:14: error: 'http_listen' ('0.0.0.0:7451') accepts "
            "other hosts"},
           {"listen: tcp://127.0.0.1\n", "needs a port from 1 to 65535"},
           {"http_listen: 127.0.0.1:99999\n", "bad port '99999'"},
           {"outputs:\n  exec:\n    - command: ['']\n", "an exec output needs 'command'"},
           {"outputs:\n  exec:\n    - command: []\n", "an exec output needs 'command'"},
       }) {
    std::string path = dir.Write("aggregator.yaml", c.yaml);
    auto r = aggregator::LoadAggregatorConfig(path);
    INFO(c.yaml);
    REQUIRE_FALSE(r.ok());
    CHECK(r.status().message().find(c.expected) != std::string::npos);
  }
}

TEST_CASE("AggregatorConfig: listening beyond loopback needs CURVE or an explicit insecure",
          "[aggregator][config][security][unit]") {
  test::TempDir dir;
  auto refused = aggregator::LoadAggregatorConfig(dir.Write("a.yaml", "listen: tcp://*:7450\n"));
  REQUIRE_FALSE(refused.ok());
  CHECK(refused.status().message().find("CURVE is off") != std::string::npos);
  CHECK(aggregator::LoadAggregatorConfig(
            dir.Write("b.yaml", "listen: tcp://0.0.0.0:7450\nsecurity:\n  insecure: true\n"))
            .ok());
  // The HTTP port too: loopback (IPv4 or IPv6) by default, anything else only when insecure.
  CHECK(aggregator::LoadAggregatorConfig(dir.Write("h1.yaml", "http_listen: '[::1]:7451'\n")).ok());
  CHECK_FALSE(
      aggregator::LoadAggregatorConfig(dir.Write("h2.yaml", "http_listen: '[::]:7451'\n")).ok());
  CHECK(aggregator::LoadAggregatorConfig(
            dir.Write("h3.yaml", "http_listen: 0.0.0.0:7451\nsecurity:\n  insecure: true\n"))
            .ok());
  auto half =
      aggregator::LoadAggregatorConfig(dir.Write("c.yaml", "security:\n  curve_key_file: k.key\n"));
  REQUIRE_FALSE(half.ok());
  CHECK(half.status().message().find("needs 'authorized_keys_dir'") != std::string::npos);
  using aggregator::IsLoopbackEndpoint;
  CHECK(IsLoopbackEndpoint("tcp://127.0.0.1:7450"));
  CHECK(IsLoopbackEndpoint("tcp://127.1.2.3:1"));
  CHECK(IsLoopbackEndpoint("tcp://[::1]:7450"));
  CHECK(IsLoopbackEndpoint("tcp://localhost:7450"));
  CHECK(IsLoopbackEndpoint("ipc:///run/ember.sock"));
  CHECK_FALSE(IsLoopbackEndpoint("tcp://*:7450"));
  CHECK_FALSE(IsLoopbackEndpoint("tcp://0.0.0.0:7450"));
  CHECK_FALSE(IsLoopbackEndpoint("tcp://10.1.2.3:7450"));
  CHECK_FALSE(IsLoopbackEndpoint("tcp://eth0:7450"));
}

TEST_CASE("AggregatorConfig: relative paths are relative to the config file",
          "[aggregator][config][unit]") {
  test::TempDir dir;
  std::string path = dir.Write("etc/aggregator.yaml", "state_dir: state\nrules_dir: /abs\n");
  auto r = aggregator::LoadAggregatorConfig(path);
  REQUIRE(r.ok());
  CHECK(r->state_dir == dir.Sub("etc/state"));
  CHECK(r->rules_dir == "/abs");
}
