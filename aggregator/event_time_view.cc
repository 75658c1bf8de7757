#include "aggregator/event_time_view.h"

#include <cstdio>

namespace ember::aggregator {
namespace {

nlohmann::json StreamJson(const SourceWatermarks::StreamView& s, int64_t now_ms) {
  return {{"agent", s.agent},
          {"path", s.path},
          {"lag_ms", s.position_ms == INT64_MIN ? -1 : now_ms - s.position_ms},
          {"caught_up", s.caught_up},
          {"left_out", s.left_out},
          {"too_late", s.too_late}};
}

}  // namespace

nlohmann::json EventTimeJson(const SourceWatermarks& watermarks, const engine::EngineStats& stats,
                             int64_t now_ms) {
  nlohmann::json j;
  std::optional<int64_t> w = watermarks.last_watermark();
  j["watermark_ms"] = w ? nlohmann::json(*w) : nlohmann::json();
  j["lag_ms"] = w ? nlohmann::json(now_ms - *w) : nlohmann::json();
  auto holder = watermarks.holder();
  j["holder"] = holder ? StreamJson(*holder, now_ms) : nlohmann::json();
  nlohmann::json streams = nlohmann::json::array();
  for (const auto& s : watermarks.Laggards(now_ms, kShownLaggards)) {
    streams.push_back(StreamJson(s, now_ms));
  }
  j["streams"] = streams;
  j["late_lines"] = stats.late_lines;
  j["late_alerts"] = stats.late_alerts;
  j["too_late"] = stats.too_late;
  j["future_stamps"] = watermarks.future_stamps();
  return j;
}

std::string DescribeEventTime(const nlohmann::json& t) {
  char buf[512];
  std::string out;
  if (!t.is_object()) return "no event-time data";
  if (t.value("lag_ms", nlohmann::json()).is_number()) {
    std::snprintf(buf, sizeof buf, "watermark %.1f s behind the clock",
                  static_cast<double>(t["lag_ms"].get<int64_t>()) / 1000.0);
    out = buf;
    const nlohmann::json& h = t.value("holder", nlohmann::json());
    if (h.is_object()) {
      out += ", held by " + h.value("agent", std::string("?")) + " " +
             h.value("path", std::string("?"));
    }
  } else {
    out = "no watermark yet (no stream has delivered)";
  }
  std::snprintf(buf, sizeof buf,
                "; %llu late lines re-evaluated (%llu late alerts), %llu too late, %llu future "
                "stamps",
                static_cast<unsigned long long>(t.value("late_lines", uint64_t{0})),
                static_cast<unsigned long long>(t.value("late_alerts", uint64_t{0})),
                static_cast<unsigned long long>(t.value("too_late", uint64_t{0})),
                static_cast<unsigned long long>(t.value("future_stamps", uint64_t{0})));
  return out + buf;
}

}  // namespace ember::aggregator
