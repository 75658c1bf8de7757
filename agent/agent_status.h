// `ember-agent --status`: what the agent has acknowledged for each file, beside what is on
// disk now, read from its state directory without disturbing a running agent.
#pragma once

#include <cstdio>

#include "agent/agent_config.h"

namespace ember::agent {

// Prints one row per stream to `out`: path, stream id, device:inode, acknowledged offset,
// current size, lag in bytes and state (tailing, rotated, replaced, gone). Returns the exit
// status: 0, or 2 when the state cannot be read.
int PrintAgentStatus(const AgentConfig& config, std::FILE* out);

}  // namespace ember::agent
