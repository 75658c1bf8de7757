// Agent: ember-agent's event loop. A Boost.Asio io_context thread rescans the globs, reads
// the files (TailSet) and hands frames to the Forwarder, pausing while the Forwarder's queue
// is full. Stops cleanly on SIGINT/SIGTERM, handing over what it read (bounded wait).
// Not thread-safe: Run() owns everything until it returns.
#pragma once

#include "agent/agent_config.h"
#include "common/status.h"
#include "common/systemd_notifier.h"

namespace ember::agent {

// Runs until SIGINT or SIGTERM, telling systemd through `notifier` when it is ready and
// stopping, and pinging its watchdog. Errors: the state or the forwarder cannot be set up.
Status RunAgent(const AgentConfig& config, SystemdNotifier& notifier);

}  // namespace ember::agent
