#include "aggregator/sinks/terminal_sink.h"

#include <unistd.h>

#include <cstdlib>

#include <fmt/format.h>

#include "common/logging.h"
#include "common/terminal_text.h"
#include "common/units.h"

namespace ember::aggregator {
namespace {

const char* SeverityColor(rules::Severity s) {
  switch (s) {
    case rules::Severity::kCritical:
      return "\x1b[1;97;41m";  // bold white on red
    case rules::Severity::kError:
      return "\x1b[1;31m";
    case rules::Severity::kWarning:
      return "\x1b[1;33m";
    case rules::Severity::kNotice:
      return "\x1b[1;36m";
    default:
      return "\x1b[2m";
  }
}

std::string Upper(const char* s) {
  std::string out(s);
  for (auto& c : out) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return out;
}

}  // namespace

TerminalStyle ChooseStyle(const std::string& mode, std::FILE* out) {
  if (StreamIsJournal(::fileno(out))) return TerminalStyle::kJournal;
  if (mode == "always") return TerminalStyle::kColor;
  if (mode == "never") return TerminalStyle::kPlain;
  const char* no_color = std::getenv("NO_COLOR");
  const bool color = ::isatty(::fileno(out)) && (no_color == nullptr || no_color[0] == '\0');
  return color ? TerminalStyle::kColor : TerminalStyle::kPlain;
}

std::string TerminalSink::Format(const engine::Alert& a, TerminalStyle style) {
  std::string key;
  for (const auto& [name, value] : a.fields) {
    if (!key.empty()) key += ' ';
    key += name + "=" + value;
  }
  if (key.empty()) key = "-";
  // Keys and messages carry text from logs: escaped, they cannot drive the terminal.
  key = EscapeForTerminal(key);
  const std::string message = EscapeForTerminal(a.message);
  const std::string severity = Upper(rules::SeverityName(a.severity));
  const bool firing = a.state == engine::AlertState::kFiring;
  const std::string state = !firing ? "RESOLVED" : a.late ? "LATE" : "FIRING";
  const std::string count =
      fmt::format("{}/{}", a.count, FormatDurationMs(a.window_end_ms - a.window_start_ms));
  const std::string time = engine::FormatIsoMs(a.window_end_ms).substr(0, 19) + "Z";
  if (style != TerminalStyle::kColor) {
    static constexpr const char* kPriority[] = {"<7>", "<6>", "<5>", "<4>", "<3>", "<2>"};
    return fmt::format(
        "{}{}  {:<8}  {:<8}  {:<20}  {:<24}  {:>9}  {}",
        style == TerminalStyle::kJournal ? kPriority[static_cast<int>(a.severity)] : "", time,
        severity, state, a.rule, key, count, message);
  }
  return fmt::format(
      "\x1b[2m{}\x1b[0m  {}{:<8}\x1b[0m  {}{:<8}\x1b[0m  \x1b[1m{:<20}\x1b[0m  "
      "{:<24}  {:>9}  {}",
      time, SeverityColor(a.severity), severity, firing ? "\x1b[1;31m" : "\x1b[32m", state, a.rule,
      key, count, message);
}

std::string TerminalSink::Describe() const { return "terminal"; }

Status TerminalSink::Send(uint64_t /*seq*/, const engine::Alert& alert) {
  std::string line = Format(alert, style_);
  line += '\n';
  if (std::fwrite(line.data(), 1, line.size(), out_) != line.size()) {
    return Status::IOError("cannot write an alert to the terminal");
  }
  return Status::Ok();
}

Status TerminalSink::Flush() {
  std::fflush(out_);
  return Status::Ok();
}

}  // namespace ember::aggregator
