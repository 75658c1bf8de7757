#include "engine/alert.h"

#include <ctime>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

namespace ember::engine {

const char* AlertStateName(AlertState s) {
  return s == AlertState::kFiring ? "firing" : s == AlertState::kResolved ? "resolved" : "pending";
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
  if (!a.labels.empty()) j["labels"] = a.labels;
  if (a.repeat) j["repeat"] = true;
  if (a.late) j["late"] = true;
  if (!a.evidence.empty()) {
    nlohmann::ordered_json evidence = nlohmann::ordered_json::array();
    for (const auto& e : a.evidence) {
      nlohmann::ordered_json item = {{"line", e.line},
                                     {"host", e.host},
                                     {"file", e.file},
                                     {"offset_start", e.offset_start},
                                     {"offset_end", e.offset_end},
                                     {"batch_start", FormatIsoMs(e.batch_start_ms)},
                                     {"batch_start_ms", e.batch_start_ms}};
      if (!e.agent.empty()) item["agent"] = e.agent;
      evidence.push_back(std::move(item));
    }
    j["evidence"] = evidence;
  }
  // Log lines may hold invalid UTF-8: replace it rather than throw.
  return j.dump(-1, ' ', false, nlohmann::ordered_json::error_handler_t::replace);
}

Result<Alert> AlertFromJson(std::string_view json) {
  nlohmann::ordered_json j =
      nlohmann::ordered_json::parse(json, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded() || !j.is_object()) return Status::InvalidArgument("not an alert object");
  try {
    Alert a;
    a.id = j.at("id").get<std::string>();
    a.rule = j.at("rule").get<std::string>();
    a.rule_digest = j.at("rule_digest").get<std::string>();
    const std::string state = j.at("state").get<std::string>();
    a.state = state == "firing"    ? AlertState::kFiring
              : state == "pending" ? AlertState::kPending
                                   : AlertState::kResolved;
    const std::string severity = j.at("severity").get<std::string>();
    for (int s = 0; s <= static_cast<int>(rules::Severity::kCritical); ++s) {
      if (severity == rules::SeverityName(static_cast<rules::Severity>(s))) {
        a.severity = static_cast<rules::Severity>(s);
      }
    }
    for (const auto& [name, value] : j.at("key").items()) {
      a.fields.emplace_back(name, value.get<std::string>());
    }
    a.count = j.at("count").get<uint64_t>();
    a.window_start_ms = j.at("window_start_ms").get<int64_t>();
    a.window_end_ms = j.at("window_end_ms").get<int64_t>();
    a.message = j.at("message").get<std::string>();
    a.sample = j.at("sample").get<std::string>();
    if (j.contains("labels")) {
      for (const auto& [name, value] : j.at("labels").items()) {
        a.labels[name] = value.get<std::string>();
      }
    }
    a.repeat = j.value("repeat", false);
    a.late = j.value("late", false);
    if (j.contains("evidence")) {
      for (const auto& e : j.at("evidence")) {
        a.evidence.push_back(
            Evidence{e.at("line").get<std::string>(), e.at("host").get<std::string>(),
                     e.at("file").get<std::string>(), e.at("offset_start").get<uint64_t>(),
                     e.at("offset_end").get<uint64_t>(), e.at("batch_start_ms").get<int64_t>(),
                     e.value("agent", std::string())});
      }
    }
    return a;
  } catch (const nlohmann::json::exception& e) {
    return Status::InvalidArgument(std::string("not an alert object: ") + e.what());
  }
}

}  // namespace ember::engine
