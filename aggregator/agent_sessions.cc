#include "aggregator/agent_sessions.h"

#include <spdlog/spdlog.h>

namespace ember::aggregator {

AgentSessions::Opened AgentSessions::Hello(const std::string& routing_id, const wire::Hello& hello,
                                           const std::string& identity, int64_t now_ms) {
  const std::string name = identity.empty() ? hello.agent : identity;
  if (name.empty() || name.find('\0') != std::string::npos) {
    return {"the agent name is empty or contains a NUL byte", ""};
  }
  if (agents_.count(name) == 0 && agents_.size() >= max_agents_) {
    ++refused_agents_;
    return {"this aggregator already knows max_agents (" + std::to_string(max_agents_) + ") agents",
            ""};
  }
  AgentStats& agent = agents_[name];
  if (agent.epoch != 0 && agent.epoch != hello.epoch) {
    ++new_epochs_;
    spdlog::warn(
        "Agent '{}' came back with a new epoch (its state directory was lost or replaced): "
        "its files are new streams, read again as its read_from says.",
        name);
  }
  if (agent.epoch != hello.epoch || agent.version != hello.software_version) {
    spdlog::info("Agent '{}' (host '{}', ember-agent {}) opened a session with {} streams.", name,
                 hello.host, hello.software_version, hello.streams.size());
  }
  agent.epoch = hello.epoch;
  agent.version = hello.software_version;
  agent.host = hello.host;
  agent.last_seen_ms = now_ms;
  sessions_[routing_id] = Session{name, now_ms};
  return {"", name};
}

const std::string* AgentSessions::Find(const std::string& routing_id, int64_t now_ms) {
  auto it = sessions_.find(routing_id);
  if (it == sessions_.end()) return nullptr;
  it->second.last_ms = now_ms;
  return &it->second.agent;
}

void AgentSessions::NoteFrame(const std::string& agent_name, const wire::DataFrame& f,
                              int64_t now_ms) {
  AgentStats& agent = agents_[agent_name];
  agent.last_seen_ms = now_ms;
  agent.lag_ms = now_ms - f.read_time_ms;
  ++agent.frames;
  agent.lines += f.lines.size();
  agent.bytes += f.end_offset - f.start_offset;
  agent.streams.insert(f.stream_id);
}

void AgentSessions::ExpireIdle(int64_t now_ms, int64_t idle_ms) {
  std::erase_if(sessions_, [&](const auto& s) { return now_ms - s.second.last_ms > idle_ms; });
  std::set<std::string_view> with_session;
  for (const auto& [routing_id, session] : sessions_) with_session.insert(session.agent);
  std::erase_if(agents_, [&](const auto& a) {
    return !with_session.count(a.first) && now_ms - a.second.last_seen_ms > agent_expiry_ms_;
  });
}

}  // namespace ember::aggregator
