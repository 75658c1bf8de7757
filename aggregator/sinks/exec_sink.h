// ExecSink: runs a command per alert event, the alert as one JSON object on stdin and as
// EMBER_* environment variables (see docs in README). The command runs in its own process
// group and is killed (SIGKILL to the group) at the timeout; a non-zero exit, a timeout or a
// failure to start is logged with the first 4 KiB of its output and counted, never retried.
#pragma once

#include <string>
#include <vector>

#include "aggregator/sinks/async_sink.h"

namespace ember::aggregator {

class ExecSink final : public AsyncSink {
 public:
  explicit ExecSink(const ExecOutput& options);
  ~ExecSink() override { Stop(); }
  std::string Describe() const override;

  // The environment variables (NAME=value) an alert event is given.
  static std::vector<std::string> AlertEnvironment(const engine::Alert& alert);

 private:
  bool Deliver(const engine::Alert& alert) override;
  std::vector<std::string> argv_;
  int64_t timeout_ms_;
};

}  // namespace ember::aggregator
