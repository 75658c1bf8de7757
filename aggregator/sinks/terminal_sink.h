// TerminalSink: one aligned line per alert event on a stdio stream, coloured by severity
// when asked to. Not thread-safe.
#pragma once

#include <cstdio>
#include <string>

#include "aggregator/sinks/alert_sink.h"

namespace ember::aggregator {

class TerminalSink final : public AlertSink {
 public:
  // `out` is not owned and must outlive the sink.
  TerminalSink(std::FILE* out, bool color) : out_(out), color_(color) {}
  Status Send(const engine::Alert& alert) override;
  Status Flush() override;

  // The line Send prints, without colour codes when `color` is false. No trailing newline.
  static std::string Format(const engine::Alert& alert, bool color);

 private:
  std::FILE* out_;
  bool color_;
};

// Whether colour should be used for `out` under `mode` (auto, always, never): auto means a
// terminal and NO_COLOR unset (https://no-color.org).
bool UseColor(const std::string& mode, std::FILE* out);

}  // namespace ember::aggregator
