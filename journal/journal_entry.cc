#include "journal/journal_entry.h"

#include <cstdio>
#include <ctime>

namespace ember::journal {

Result<int> ParsePriority(std::string_view text) {
  std::string_view level = text;
  if (level.substr(0, 2) == "..") level.remove_prefix(2);
  static constexpr const char* kNames[] = {"emerg",   "alert",  "crit", "err",
                                           "warning", "notice", "info", "debug"};
  for (int i = 0; i < 8; ++i) {
    if (level == kNames[i] || (level.size() == 1 && level[0] == '0' + i)) return i;
  }
  return Status::InvalidArgument("'" + std::string(text) +
                                 "' is not a priority: 0-7 or emerg, alert, crit, err, warning, "
                                 "notice, info, debug (optionally after '..')");
}

std::string PriorityText(const JournalEntry& e) {
  return e.priority < 0 ? std::string() : std::to_string(e.priority);
}

std::string PidText(const JournalEntry& e) {
  return e.pid > 0 ? std::to_string(e.pid) : std::string();
}

std::string FormatJournalLine(const JournalEntry& e) {
  const std::time_t seconds = static_cast<std::time_t>(e.realtime_us / 1'000'000);
  std::tm tm{};
  gmtime_r(&seconds, &tm);
  char stamp[48];
  const size_t n = std::strftime(stamp, sizeof stamp, "%Y-%m-%dT%H:%M:%S", &tm);
  std::snprintf(stamp + n, sizeof stamp - n, ".%06dZ", static_cast<int>(e.realtime_us % 1'000'000));
  std::string line = stamp;
  line += ' ';
  line += e.hostname.empty() ? "-" : e.hostname;
  line += ' ';
  line += e.identifier.empty() ? "-" : e.identifier;
  if (e.pid > 0) line += "[" + std::to_string(e.pid) + "]";
  line += ": ";
  const size_t at = line.size();
  line += e.message;
  for (size_t i = at; i < line.size(); ++i) {
    if (line[i] == '\0' || line[i] == '\r' || line[i] == '\n') line[i] = ' ';
  }
  return line;
}

}  // namespace ember::journal
