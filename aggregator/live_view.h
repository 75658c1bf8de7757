// The JSON that `ember top` shows, built by the pipeline thread from the engine's windows
// (only while someone is watching: the top keys cost a pass over each window). Format:
// {now_ms, batch_interval_ms, batch:{processing_ms, scheduling_delay_ms, pending_checkpoints},
//  totals:{lines, matches, lines_per_s, bytes_per_s}, rules:[{name, severity, matches,
//  rate_per_s, window_ms, window_keys, firing, top:[{key, count, history:[…]}]}],
//  firing:[{rule, key, alert_id, since_ms}], agents:[{name, host, lag_ms, last_seen_ms,
//  bytes_per_s, lines}]}. Keys are shown as "field=value,…".
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "aggregator/metrics_page.h"
#include "aggregator/source_watermarks.h"
#include "engine/engine.h"

namespace ember::aggregator {

struct LiveViewInput {
  const engine::Engine* engine = nullptr;
  int64_t now_ms = 0;
  std::vector<double> rule_rates;  // matches per second, by rule index
  double lines_per_s = 0, bytes_per_s = 0;
  std::vector<AggregatorVitals::Agent> agents;
  std::vector<double> agent_bytes_per_s;  // by index of `agents`
  double processing_ms = 0, scheduling_delay_ms = 0;
  size_t pending_checkpoints = 0;
  const SourceWatermarks* watermarks = nullptr;  // null: no event-time part
  size_t top_keys = 10;
  size_t history_slides = 20;  // each top key's matches in its rule's last slides
};

std::string BuildLiveViewJson(const LiveViewInput& in);

// "ip=10.0.0.1,user=root" for a rule's key ("" when the rule has no `by`).
std::string DescribeKey(const rules::Rule& rule, const std::string& key);

}  // namespace ember::aggregator
