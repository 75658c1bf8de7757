// Aggregator: ember-aggregator's loop. It only wires the units: the Receiver (socket, CURVE),
// AgentSessions (HELLO/WELCOME), StreamMarks (which frames are accepted, what is owed an
// ACK), the Engine (matching on worker threads, batches, windows), the Checkpointer (one
// durable commit, then alerts and ACKs), RulesWatch (reload on edits), and Monitoring
// (/metrics, live view, status). One thread runs it; time comes from the Clock it is handed,
// so a test can drive batches, checkpoints and session expiry with a synthetic clock.
// SIGINT/SIGTERM stop it after a last checkpoint; SIGHUP reloads the rules and reopens files.
#pragma once

#include <memory>

#include "aggregator/aggregator_config.h"
#include "common/clock.h"
#include "common/status.h"
#include "common/systemd_notifier.h"

namespace ember::aggregator {

class Aggregator {
 public:
  // Loads the rules, opens the state directory, recovers, binds the data and HTTP endpoints
  // and delivers alerts a crash left undelivered. `signal_fd` (a signalfd, or -1) is polled
  // with the socket. `config`, `clock` and `notifier` must outlive the aggregator.
  // Errors: rules, state or sockets cannot be set up (the message names the file or endpoint
  // and the cause).
  static Result<std::unique_ptr<Aggregator>> Start(const AggregatorConfig& config,
                                                   const Clock& clock, SystemdNotifier& notifier,
                                                   int signal_fd = -1);
  ~Aggregator();

  // One turn of the loop: waits up to `max_wait_ms` (less when a batch, a reload or the
  // watchdog is due) for frames, signals or rule edits; handles them; closes the batches the
  // watermark passed and checkpoints when due.
  void Step(int64_t max_wait_ms);
  // Steps until a signal asks it to stop, then Stop()s.
  void Run();
  // Takes what already arrived, checkpoints it and lets the ACKs leave.
  void Stop();
  bool stopping() const;

 private:
  struct Impl;
  explicit Aggregator(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

// Runs until SIGINT or SIGTERM with the system clock, telling systemd through `notifier` when
// it is ready, reloading and stopping, and pinging its watchdog.
Status RunAggregator(const AggregatorConfig& config, SystemdNotifier& notifier);

}  // namespace ember::aggregator
