// Aggregator: ember-aggregator's loop. One thread owns the ZeroMQ ROUTER socket, the Engine,
// the CheckpointStore and the sinks; it waits in zmq::poll on the socket and a signalfd, feeds
// DATA frames to the engine, and at every batch boundary closes batches, commits one
// checkpoint and only then sends alerts to the sinks and ACKs to the agents.
// SIGINT/SIGTERM stop it after a last checkpoint; SIGHUP reloads the rules and reopens files.
#pragma once

#include "aggregator/aggregator_config.h"
#include "common/status.h"
#include "common/systemd_notifier.h"

namespace ember::aggregator {

// Runs until SIGINT or SIGTERM, telling systemd through `notifier` when it is ready,
// reloading and stopping, and pinging its watchdog. Errors: rules, state or socket cannot be
// set up (the message names the file or endpoint and the cause).
Status RunAggregator(const AggregatorConfig& config, SystemdNotifier& notifier);

}  // namespace ember::aggregator
