// The event-time part of what the aggregator shows (`ember status`, `ember top`): the
// watermark's lag behind the clock, the stream holding it back, the streams furthest behind,
// and the counts of late, too-late and future-stamped lines. Pure; thread-compatible.
#pragma once

#include <cstdint>

#include <nlohmann/json.hpp>

#include "aggregator/source_watermarks.h"
#include "engine/engine.h"

namespace ember::aggregator {

// Streams listed, furthest behind first.
inline constexpr size_t kShownLaggards = 10;

nlohmann::json EventTimeJson(const SourceWatermarks& watermarks, const engine::EngineStats& stats,
                             int64_t now_ms);

// One line for a terminal: "watermark 0.4 s behind, held by web-1 /var/log/app.log; 3 late
// lines (1 late alert), 0 too late, 0 future stamps".
std::string DescribeEventTime(const nlohmann::json& time);

}  // namespace ember::aggregator
