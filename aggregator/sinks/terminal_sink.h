// TerminalSink: one aligned line per alert event on a stdio stream, coloured by severity
// when asked to. Not thread-safe.
#pragma once

#include <cstdio>
#include <string>

#include "aggregator/sinks/alert_sink.h"

namespace ember::aggregator {

enum class TerminalStyle {
  kPlain,    // aligned columns
  kColor,    // aligned columns, severity and state in colour (a terminal)
  kJournal,  // aligned columns behind an sd-daemon(3) priority prefix, so that
             // `journalctl -p err` selects alerts by severity
};

class TerminalSink final : public AlertSink {
 public:
  // `out` is not owned and must outlive the sink.
  TerminalSink(std::FILE* out, TerminalStyle style) : out_(out), style_(style) {}
  std::string Describe() const override;
  Status Send(uint64_t seq, const engine::Alert& alert) override;
  Status Flush() override;

  // The line Send prints, without a trailing newline.
  static std::string Format(const engine::Alert& alert, TerminalStyle style);

 private:
  std::FILE* out_;
  TerminalStyle style_;
};

// The style for `out` under colour `mode` (auto, always, never): the journal when `out` is
// connected to it; colour when asked, or in auto mode on a terminal with NO_COLOR unset
// (https://no-color.org).
TerminalStyle ChooseStyle(const std::string& mode, std::FILE* out);

}  // namespace ember::aggregator
