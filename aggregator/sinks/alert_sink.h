// AlertSink: where alert events go once their checkpoint is committed (terminal, JSON lines
// file, later exec / webhook / Alertmanager). Each sink is owned and called by the pipeline
// thread only; not thread-safe.
#pragma once

#include <memory>
#include <vector>

#include "aggregator/aggregator_config.h"
#include "common/status.h"
#include "engine/alert.h"

namespace ember::aggregator {

class AlertSink {
 public:
  virtual ~AlertSink() = default;
  // Delivers one alert event. Failures are reported, never thrown; the caller logs them.
  virtual Status Send(const engine::Alert& alert) = 0;
  // Pushes out anything buffered (called once per batch).
  virtual Status Flush() { return Status::Ok(); }
  // Reopens files (SIGHUP, after logrotate moved them).
  virtual Status Reopen() { return Status::Ok(); }
};

// Builds the sinks the configuration turns on. Errors: a sink cannot be opened.
Result<std::vector<std::unique_ptr<AlertSink>>> MakeSinks(const OutputOptions& options);

}  // namespace ember::aggregator
