// AgentSessions: who is on which connection. A HELLO opens a session for a ZeroMQ routing id
// under the agent's identity (its CURVE key's name when CURVE is on, else the name it says);
// DATA is taken only on a connection with a session. Per agent it keeps what monitoring shows
// (epoch, version, host, last seen, lag, counts). Sessions quiet for `session_idle_ms` expire:
// the connection must say HELLO again. Times are milliseconds since the Unix epoch, handed in.
// Not thread-safe; owned by the aggregator's pipeline thread.
#pragma once

#include <cstdint>
#include <map>
#include <set>
#include <string>

#include "common/wire.h"

namespace ember::aggregator {

struct AgentStats {
  int64_t last_seen_ms = 0;
  int64_t lag_ms = 0;  // receive time minus the agent's read time of the last frame
  uint64_t frames = 0, lines = 0, bytes = 0;
  std::set<uint64_t> streams;
  uint64_t epoch = 0;
  std::string version, host;
};

class AgentSessions {
 public:
  // At most `max_agents` identities are known at once; a HELLO from a new one beyond is
  // refused. Agents not heard from for `agent_expiry_ms` are forgotten (ExpireIdle).
  explicit AgentSessions(size_t max_agents = 10'000, int64_t agent_expiry_ms = INT64_MAX / 4)
      : max_agents_(max_agents), agent_expiry_ms_(agent_expiry_ms) {}

  struct Opened {
    std::string refusal;  // non-empty: no session; send REFUSED with this reason
    std::string agent;    // the identity the session acts under
  };
  // Opens (or reopens) the session of `routing_id`. `identity` is the authenticated key's
  // name ("" without CURVE): it overrides the name the HELLO claims.
  Opened Hello(const std::string& routing_id, const wire::Hello& hello, const std::string& identity,
               int64_t now_ms);
  // The agent identity of the connection's session, or null when it has none (it never said
  // HELLO to this process, or its session expired). Counts as activity.
  const std::string* Find(const std::string& routing_id, int64_t now_ms);
  // An accepted DATA frame of `agent`.
  void NoteFrame(const std::string& agent, const wire::DataFrame& frame, int64_t now_ms);
  // Forgets sessions quiet for longer than `idle_ms`, and agents (without a session) not
  // heard from for the agent expiry.
  void ExpireIdle(int64_t now_ms, int64_t idle_ms);

  const std::map<std::string, AgentStats>& agents() const { return agents_; }
  size_t sessions() const { return sessions_.size(); }
  uint64_t new_epochs() const { return new_epochs_; }
  uint64_t refused_agents() const { return refused_agents_; }

 private:
  struct Session {
    std::string agent;
    int64_t last_ms = 0;
  };
  std::map<std::string, Session> sessions_;   // by routing id
  std::map<std::string, AgentStats> agents_;  // by identity
  size_t max_agents_;
  int64_t agent_expiry_ms_;
  uint64_t new_epochs_ = 0;
  uint64_t refused_agents_ = 0;
};

}  // namespace ember::aggregator
