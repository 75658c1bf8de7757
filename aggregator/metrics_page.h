// The aggregator's /metrics page: a snapshot of its vital numbers, filled by the pipeline
// thread once per batch, rendered as Prometheus text. Plain values; not thread-safe.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "common/metrics.h"
#include "engine/engine.h"

namespace ember::aggregator {

struct AggregatorVitals {
  int64_t started_ms = 0;
  size_t rules = 0;
  uint64_t reload_failures = 0;
  bool last_reload_failed = false;
  engine::EngineStats engine;
  std::vector<std::pair<std::string, uint64_t>> matches_by_rule;
  std::vector<std::pair<std::string, size_t>> window_keys_by_rule;
  std::vector<std::pair<std::string, uint64_t>> refused_keys_by_rule;
  uint64_t bytes_in = 0, frames_in = 0, bad_frames = 0, duplicate_frames = 0, resend_requests = 0,
           refused = 0, frames_without_session = 0, new_epochs = 0, streams_refused = 0,
           streams_expired = 0, hosts_rewritten = 0;
  uint64_t checkpoints = 0, checkpoint_failures = 0;
  uint64_t alerts_delivered = 0;
  size_t alerts_undelivered = 0;
  std::vector<std::pair<std::string, uint64_t>> output_failures;  // by output
  size_t sessions = 0;
  struct Agent {
    std::string name, host;
    double lag_seconds = 0;
    int64_t last_seen_ms = 0;
    uint64_t bytes = 0, lines = 0;
  };
  std::vector<Agent> agents;
  double scheduling_delay_seconds = 0;  // of the last closed batch
  // Event time: the watermark's lag behind the clock (-1: no watermark yet), the stream
  // holding it back, and the streams furthest behind (bounded).
  double watermark_lag_seconds = -1;
  struct Stream {
    std::string agent, path;
    double lag_seconds = 0;
    uint64_t too_late = 0;
  };
  std::vector<Stream> laggards;
  std::optional<Stream> watermark_holder;
  uint64_t future_stamps = 0;
  // How far the history floor (SourceWatermarks::floor) trails the clock; negative: no floor.
  double history_floor_lag_seconds = -1;
  uint64_t refused_announcements = 0;  // streams named without data beyond the bound
  // The ZeroMQ listener's connections (Receiver::TransportCounters).
  uint64_t zmq_accepted = 0, zmq_accept_failures = 0, zmq_disconnected = 0,
           zmq_handshake_failures = 0, zmq_refused = 0, zmq_open = 0, zmq_max_open = 0;
  int64_t batch_interval_ms = 0;
  const Histogram* batch_processing = nullptr;  // seconds
  const Histogram* checkpoint_duration = nullptr;
};

std::string RenderAggregatorMetrics(const AggregatorVitals& v);

}  // namespace ember::aggregator
