#include "engine/alert.h"

#include <ctime>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

namespace ember::engine {

const char* AlertStateName(AlertState s) {
  return s == AlertState::kFiring ? "firing" : "resolved";
}

std::string FormatIsoMs(int64_t unix_ms) {
  std::time_t secs = static_cast<std::time_t>(unix_ms / 1000);
  std::tm tm{};
  gmtime_r(&secs, &tm);
  return fmt::format("{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:03}Z", tm.tm_year + 1900, tm.tm_mon + 1,
                     tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
                     static_cast<int>(unix_ms % 1000));
}

std::string AlertToJson(const Alert& a) {
  nlohmann::ordered_json fields = nlohmann::ordered_json::object();
  for (const auto& [name, value] : a.fields) fields[name] = value;
  nlohmann::ordered_json j = {
      {"id", a.id},
      {"rule", a.rule},
      {"rule_digest", a.rule_digest},
      {"state", AlertStateName(a.state)},
      {"severity", rules::SeverityName(a.severity)},
      {"key", fields},
      {"count", a.count},
      {"window_start", FormatIsoMs(a.window_start_ms)},
      {"window_end", FormatIsoMs(a.window_end_ms)},
      {"window_start_ms", a.window_start_ms},
      {"window_end_ms", a.window_end_ms},
      {"message", a.message},
      {"sample", a.sample},
  };
  // Log lines may hold invalid UTF-8: replace it rather than throw.
  return j.dump(-1, ' ', false, nlohmann::ordered_json::error_handler_t::replace);
}

}  // namespace ember::engine
