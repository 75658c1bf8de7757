// AlertSink: where alert events go once their checkpoint is committed (terminal, JSON lines
// file, later exec / webhook / Alertmanager). Each sink is owned and called by the pipeline
// thread only; not thread-safe.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "aggregator/aggregator_config.h"
#include "common/status.h"
#include "engine/alert.h"

namespace ember::aggregator {

class AlertSink {
 public:
  virtual ~AlertSink() = default;
  // What the sink is, for log lines ("webhook http://…").
  virtual std::string Describe() const = 0;
  // Synchronous sinks deliver alert event `seq` here; asynchronous ones queue it and report
  // it later through TakeFinished. An error means neither: the caller offers it again next
  // batch. Never throws.
  virtual Status Send(uint64_t seq, const engine::Alert& alert) = 0;
  // Pushes out anything buffered (called once per batch).
  virtual Status Flush() { return Status::Ok(); }
  // Reopens files (SIGHUP, after logrotate moved them).
  virtual Status Reopen() { return Status::Ok(); }
  virtual bool asynchronous() const { return false; }
  // Asynchronous sinks: the events finished since the last call — delivered, or given up on
  // after their retries (which the sink logs and counts).
  virtual std::vector<uint64_t> TakeFinished() { return {}; }
  // Events given up on since start (asynchronous sinks).
  virtual uint64_t failures() const { return 0; }
  // At startup: the alerts firing as of the recovered checkpoint (their last firing event),
  // for outputs that keep re-announcing what fires (Alertmanager).
  virtual void RestoreFiring(const std::vector<engine::Alert>& /*firing*/) {}
};

// Builds the sinks the configuration turns on. Errors: a sink cannot be opened, or
// LoadSinkLibraries's.
Result<std::vector<std::unique_ptr<AlertSink>>> MakeSinks(const OutputOptions& options);
// Loads the libraries the configured sinks load on demand (libcurl for webhooks and
// Alertmanager), so that one missing fails the start or `--check`, not a delivery later.
Status LoadSinkLibraries(const OutputOptions& options);

}  // namespace ember::aggregator
