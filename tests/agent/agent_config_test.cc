#include "agent/agent_config.h"

#include <catch2/catch.hpp>

#include "tests/support/temp_dir.h"

using namespace ember;

TEST_CASE("AgentConfig: the shipped agent.yaml loads", "[agent][config][unit]") {
  auto c = agent::LoadAgentConfig(std::string(EMBER_SOURCE_DIR) + "/packaging/config/agent.yaml");
  INFO(c.status().ToString());
  REQUIRE(c.ok());
  CHECK(c->forward.endpoint == "tcp://127.0.0.1:7450");
  CHECK_FALSE(c->tail.read_from_beginning);
  CHECK(c->tail.max_line_bytes == 64 * 1024);
  CHECK(c->tail.paths.size() == 1);
  // The journal, for what the shipped rules read.
  CHECK(c->journal.enabled);
  CHECK(c->journal.directory.empty());
  CHECK(c->journal.filter.identifiers == std::vector<std::string>{"sshd", "sudo", "su", "kernel"});
  CHECK(c->journal.filter.max_priority == 7);
}

TEST_CASE("AgentConfig: the journal input, alone or beside files, and its errors",
          "[agent][config][unit]") {
  test::TempDir dir;
  auto c = agent::LoadAgentConfig(
      dir.Write("agent.yaml",
                "inputs:\n  journal:\n    directory: j\n    units: [ssh.service]\n    priority: "
                "..warning\n    tag: jr\n"));
  INFO(c.status().ToString());
  REQUIRE(c.ok());
  CHECK(c->tail.paths.empty());
  CHECK(c->journal.enabled);
  CHECK(c->journal.directory == dir.Sub("j"));  // relative to the file
  CHECK(c->journal.filter.units == std::vector<std::string>{"ssh.service"});
  CHECK(c->journal.filter.max_priority == 4);
  CHECK(c->journal.tag == "jr");
  auto system = agent::LoadAgentConfig(dir.Write("s.yaml", "inputs:\n  journal: {}\n"));
  REQUIRE(system.ok());
  CHECK(system->journal.directory.empty());
  auto none = agent::LoadAgentConfig(dir.Write("n.yaml", "inputs:\n  read_from: end\n"));
  REQUIRE_FALSE(none.ok());
  CHECK(none.status().message().find("'journal'") != std::string::npos);
  auto level =
      agent::LoadAgentConfig(dir.Write("p.yaml", "inputs:\n  journal:\n    priority: loud\n"));
  REQUIRE_FALSE(level.ok());
  CHECK(level.status().message().find("p.yaml:3:15: error: 'loud' is not a priority") !=
        std::string::npos);
  auto shape = agent::LoadAgentConfig(dir.Write("m.yaml", "inputs:\n  journal: yes\n"));
  REQUIRE_FALSE(shape.ok());
  CHECK(shape.status().message().find("m.yaml:2") != std::string::npos);
  auto unknown =
      agent::LoadAgentConfig(dir.Write("u.yaml", "inputs:\n  journal:\n    unit: [ssh.service]\n"));
  REQUIRE_FALSE(unknown.ok());
  CHECK(unknown.status().message().find("did you mean 'units'") != std::string::npos);
}

TEST_CASE("AgentConfig: paths take plain globs or {path, tag}", "[agent][config][unit]") {
  test::TempDir dir;
  auto c = agent::LoadAgentConfig(dir.Write(
      "agent.yaml",
      "inputs:\n  paths:\n    - /var/log/syslog\n    - {path: /srv/**/*.log, tag: app}\n"));
  INFO(c.status().ToString());
  REQUIRE(c.ok());
  REQUIRE(c->tail.paths.size() == 2);
  CHECK(c->tail.paths[0].glob == "/var/log/syslog");
  CHECK(c->tail.paths[0].tag.empty());
  CHECK(c->tail.paths[1].glob == "/srv/**/*.log");
  CHECK(c->tail.paths[1].tag == "app");
  auto bad = agent::LoadAgentConfig(
      dir.Write("bad.yaml", "inputs:\n  paths:\n    - {path: /x, tags: y}\n"));
  REQUIRE_FALSE(bad.ok());
  CHECK(bad.status().message().find("unknown key 'tags' (did you mean 'tag'?)") !=
        std::string::npos);
}

TEST_CASE("AgentConfig: errors name the file, the line and the cause", "[agent][config][unit]") {
  test::TempDir dir;
  struct Case {
    std::string yaml;
    std::string expected;
  };
  for (const auto& c : std::vector<Case>{
           {"inputs:\n  paths: [/x]\n  read_from: middle\n", ":3:14: error: 'read_from'"},
           {"inputs:\n  paths: [/x]\n  poll_interval: 5\n", ":3:18: error: 'poll_interval'"},
           {"inputs:\n  pathz: [/x]\n", "unknown key 'pathz' (did you mean 'paths'?)"},
           {"output: {endpoint: x}\n", "missing required key 'inputs'"},
           {"inputs:\n  paths: [/x]\noutput:\n  endpoint: http://x\n", "must start with tcp://"},
           {"inputs: [1, 2\n", "error:"},
           {"inputs:\n  paths: [/x]\n  read_chunk_bytes: 0B\n", "'read_chunk_bytes' must be"},
           {"inputs:\n  paths: [/x]\noutput:\n  endpoint: tcp://10.0.0.1:65536\n",
            "needs a port from 1 to 65535"},
           {"http_listen: 127.0.0.1:70000\ninputs:\n  paths: [/x]\n", "bad port '70000'"},
       }) {
    std::string path = dir.Write("agent.yaml", c.yaml);
    auto r = agent::LoadAgentConfig(path);
    INFO(c.yaml);
    REQUIRE_FALSE(r.ok());
    CHECK(r.status().message().find(c.expected) != std::string::npos);
    CHECK(r.status().message().rfind(path, 0) == 0);
  }
}
