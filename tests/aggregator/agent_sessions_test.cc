#include "aggregator/agent_sessions.h"

#include <catch2/catch.hpp>

using namespace ember;
using namespace ember::aggregator;

namespace {
wire::Hello HelloFrom(const std::string& name, uint64_t epoch) {
  return wire::Hello{name, "host-" + name, "1.0", epoch, 1, {}, ""};
}
}  // namespace

TEST_CASE("AgentSessions: DATA needs a session, and HELLO opens one per connection",
          "[aggregator][unit]") {
  AgentSessions s;
  CHECK(s.Find("conn1", 0) == nullptr);
  auto opened = s.Hello("conn1", HelloFrom("web1", 7), "", 10);
  CHECK(opened.refusal.empty());
  CHECK(opened.agent == "web1");
  REQUIRE(s.Find("conn1", 20) != nullptr);
  CHECK(*s.Find("conn1", 20) == "web1");
  CHECK(s.Find("conn2", 20) == nullptr);
  CHECK(s.sessions() == 1);
  CHECK(s.agents().at("web1").host == "host-web1");
}

TEST_CASE("AgentSessions: with CURVE the key's name is the identity, not the claimed name",
          "[aggregator][unit]") {
  AgentSessions s;
  auto opened = s.Hello("conn1", HelloFrom("bastion-7", 7), "web1", 10);
  CHECK(opened.agent == "web1");
  CHECK(s.agents().count("bastion-7") == 0);
}

TEST_CASE("AgentSessions: empty names and names with NUL are refused", "[aggregator][unit]") {
  AgentSessions s;
  CHECK_FALSE(s.Hello("c", HelloFrom("", 1), "", 0).refusal.empty());
  CHECK_FALSE(s.Hello("c", HelloFrom(std::string("a\0b", 3), 1), "", 0).refusal.empty());
  CHECK(s.sessions() == 0);
}

TEST_CASE("AgentSessions: a new epoch is counted, and quiet sessions expire",
          "[aggregator][unit]") {
  AgentSessions s;
  s.Hello("c1", HelloFrom("web1", 7), "", 0);
  s.Hello("c2", HelloFrom("web1", 7), "", 0);
  CHECK(s.new_epochs() == 0);
  s.Hello("c3", HelloFrom("web1", 8), "", 0);
  CHECK(s.new_epochs() == 1);
  s.Find("c1", 500);  // activity keeps c1
  s.ExpireIdle(700, 600);
  CHECK(s.Find("c1", 700) != nullptr);
  CHECK(s.Find("c2", 700) == nullptr);
  CHECK(s.Find("c3", 700) == nullptr);
}

TEST_CASE("AgentSessions: accepted frames update the agent's counts and lag",
          "[aggregator][unit]") {
  AgentSessions s;
  s.Hello("c1", HelloFrom("web1", 7), "", 0);
  wire::DataFrame f;
  f.stream_id = 5;
  f.start_offset = 100;
  f.end_offset = 160;
  f.read_time_ms = 900;
  f.lines = {"a", "b"};
  s.NoteFrame("web1", f, 1000);
  const AgentStats& a = s.agents().at("web1");
  CHECK(a.frames == 1);
  CHECK(a.lines == 2);
  CHECK(a.bytes == 60);
  CHECK(a.lag_ms == 100);
  CHECK(a.streams == std::set<uint64_t>{5});
}

TEST_CASE("AgentSessions: at most max_agents identities, and agents not heard from expire",
          "[aggregator][unit]") {
  AgentSessions s(/*max_agents=*/3, /*agent_expiry_ms=*/1000);
  for (int i = 0; i < 3; ++i) {
    CHECK(s.Hello("c" + std::to_string(i), HelloFrom("a" + std::to_string(i), 1), "", 0)
              .refusal.empty());
  }
  // A fourth identity is refused; a known one may open more sessions.
  auto refused = s.Hello("c9", HelloFrom("a9", 1), "", 0);
  CHECK(refused.refusal.find("max_agents (3)") != std::string::npos);
  CHECK(s.refused_agents() == 1);
  CHECK(s.Hello("c10", HelloFrom("a0", 1), "", 0).refusal.empty());
  CHECK(s.agents().size() == 3);
  // Sessions of a1 and a2 go quiet and expire; so do those agents after agent_expiry; a0
  // keeps a live session and stays.
  s.Find("c0", 5000);
  s.ExpireIdle(5000, 600);
  CHECK(s.agents().size() == 1);
  CHECK(s.agents().count("a0") == 1);
  // There is room again.
  CHECK(s.Hello("c11", HelloFrom("a9", 1), "", 5000).refusal.empty());
}
