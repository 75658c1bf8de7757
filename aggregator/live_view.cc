#include "aggregator/live_view.h"

#include <nlohmann/json.hpp>

#include "aggregator/event_time_view.h"

namespace ember::aggregator {

std::string DescribeKey(const rules::Rule& rule, const std::string& key) {
  if (rule.by.empty()) return "";
  std::vector<std::string> values = rules::SplitKey(key);
  std::string out;
  for (size_t i = 0; i < rule.by.size() && i < values.size(); ++i) {
    if (i > 0) out += ',';
    out += rule.by[i] + "=" + values[i];
  }
  return out;
}

std::string BuildLiveViewJson(const LiveViewInput& in) {
  const engine::Engine& e = *in.engine;
  const int64_t batch_ms = e.batch_interval_ms();
  nlohmann::json rules = nlohmann::json::array();
  nlohmann::json firing = nlohmann::json::array();
  for (size_t i = 0; i < e.rules().rules().size(); ++i) {
    const rules::Rule& rule = e.rules().rules()[i];
    nlohmann::json top = nlohmann::json::array();
    for (const auto& [key, count] : e.TopKeys(i, in.top_keys)) {
      top.push_back(
          {{"key", DescribeKey(rule, key)},
           {"count", count},
           {"history", e.window(i, key).KeyHistory(key, e.closed_until() - 1, in.history_slides)}});
    }
    e.ForEachKeyState(i, [&](const std::string& key, const engine::KeyState& state) {
      if (state.phase != engine::KeyPhase::kFiring) return;
      firing.push_back({{"rule", rule.name},
                        {"severity", rules::SeverityName(rule.severity)},
                        {"key", DescribeKey(rule, key)},
                        {"count", e.window(i, key).WindowCount(key)},
                        {"alert_id", state.alert_id},
                        {"since_ms", state.first_end_batch * batch_ms}});
    });
    rules.push_back({{"name", rule.name},
                     {"severity", rules::SeverityName(rule.severity)},
                     {"matches", e.rule_matches(i)},
                     {"rate_per_s", i < in.rule_rates.size() ? in.rule_rates[i] : 0.0},
                     {"window_ms", rule.window_ms},
                     {"window_keys", e.rule_window_keys(i)},
                     {"firing", e.rule_firing(i)},
                     {"top", top}});
  }
  nlohmann::json agents = nlohmann::json::array();
  for (size_t i = 0; i < in.agents.size(); ++i) {
    const auto& a = in.agents[i];
    agents.push_back(
        {{"name", a.name},
         {"host", a.host},
         {"lag_ms", static_cast<int64_t>(a.lag_seconds * 1000)},
         {"last_seen_ms", a.last_seen_ms},
         {"lines", a.lines},
         {"bytes_per_s", i < in.agent_bytes_per_s.size() ? in.agent_bytes_per_s[i] : 0.0}});
  }
  nlohmann::json j = {{"now_ms", in.now_ms},
                      {"batch_interval_ms", batch_ms},
                      {"batch",
                       {{"processing_ms", in.processing_ms},
                        {"scheduling_delay_ms", in.scheduling_delay_ms},
                        {"pending_checkpoints", in.pending_checkpoints}}},
                      {"totals",
                       {{"lines", e.stats().lines},
                        {"matches", e.stats().matches},
                        {"lines_per_s", in.lines_per_s},
                        {"bytes_per_s", in.bytes_per_s}}},
                      {"rules", rules},
                      {"firing", firing},
                      {"agents", agents}};
  if (in.watermarks != nullptr)
    j["event_time"] = EventTimeJson(*in.watermarks, e.stats(), in.now_ms);
  return j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

}  // namespace ember::aggregator
