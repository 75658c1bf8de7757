// Monitoring: what the aggregator shows about itself. The pipeline thread publishes a snapshot
// once per batch (the /metrics page, and the live view of `ember top` while someone watched it
// in the last 10 s) and builds the status record `ember status` reads from each checkpoint;
// the HTTP thread serves the published snapshots (Serve is the only thread-safe method).
#pragma once

#include <atomic>
#include <cstdint>
#include <deque>
#include <map>
#include <string>
#include <vector>

#include "aggregator/agent_sessions.h"
#include "aggregator/aggregator_config.h"
#include "aggregator/alert_dispatcher.h"
#include "aggregator/checkpointer.h"
#include "aggregator/receiver.h"
#include "aggregator/source_watermarks.h"
#include "common/http_server.h"
#include "common/log_limiter.h"
#include "common/metrics.h"
#include "engine/engine.h"

namespace ember::aggregator {

// Counters of the receiving side, kept by the loop.
struct FrameCounters {
  uint64_t bytes_in = 0, frames_in = 0;
  uint64_t bad_frames = 0, duplicate_frames = 0, resend_requests = 0, refused = 0;
  uint64_t frames_without_session = 0;
  uint64_t streams_refused = 0;  // frames of new streams beyond max_streams_per_agent
  uint64_t streams_expired = 0;  // streams forgotten: no longer named by their agent, idle
  uint64_t hosts_rewritten = 0;  // CURVE: frames whose host the key may not speak for
};

// What the snapshot is made of; every pointer is valid for the call.
struct PipelineView {
  const engine::Engine* engine = nullptr;
  const AgentSessions* sessions = nullptr;
  const AlertDispatcher* dispatcher = nullptr;
  const Checkpointer* checkpointer = nullptr;
  const FrameCounters* counters = nullptr;
  const SourceWatermarks* watermarks = nullptr;
  uint64_t reload_failures = 0;
  std::string last_reload_error;
  int64_t scheduling_delay_ms = 0;  // of the last closed batch
  double last_processing_ms = 0;    // of the last batch tick
  const Histogram* batch_processing = nullptr;
  const Receiver::TransportCounters* transport = nullptr;
};

class Monitoring {
 public:
  Monitoring(const AggregatorConfig& config, int64_t started_ms)
      : config_(config), started_ms_(started_ms) {}

  // Pipeline thread: renders /metrics (and the live view while watched) at `now_ms`.
  void Publish(const PipelineView& view, int64_t now_ms);
  // Pipeline thread: the record `ember status` shows.
  std::string StatusJson(const PipelineView& view, int64_t now_ms) const;
  // HTTP thread: serves the last published snapshots. `now_ms` notes that the live view is
  // wanted.
  HttpResponse Serve(const HttpRequest& request, int64_t now_ms);

 private:
  struct RateSample {
    int64_t ms;
    uint64_t lines, bytes;
    std::vector<uint64_t> rule_matches, agent_bytes;
  };
  const AggregatorConfig& config_;
  int64_t started_ms_;
  std::deque<RateSample> rate_samples_;
  std::map<std::string, uint64_t> refused_keys_reported_;  // by rule, as last logged
  LogLimiter refused_keys_log_{60'000, 5};
  PublishedText metrics_text_;
  PublishedText live_view_;
  std::atomic<int64_t> live_view_wanted_ms_{INT64_MIN / 2};
};

}  // namespace ember::aggregator
