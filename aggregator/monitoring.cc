#include "aggregator/monitoring.h"

#include <unistd.h>

#include <algorithm>
#include <functional>

#include <nlohmann/json.hpp>
#include <spdlog/spdlog.h>

#include "aggregator/event_time_view.h"
#include "aggregator/live_view.h"
#include "aggregator/metrics_page.h"

namespace ember::aggregator {
namespace {
// Agents listed in the status record (the most recently heard from).
constexpr size_t kStatusAgents = 1000;
}  // namespace

void Monitoring::Publish(const PipelineView& view, int64_t now_ms) {
  const engine::Engine& engine = *view.engine;
  AggregatorVitals v;
  v.started_ms = started_ms_;
  v.batch_interval_ms = config_.engine.batch_interval_ms;
  v.rules = engine.rules().rules().size();
  v.reload_failures = view.reload_failures;
  v.last_reload_failed = !view.last_reload_error.empty();
  v.engine = engine.stats();
  std::vector<uint64_t> rule_matches;
  for (size_t i = 0; i < v.rules; ++i) {
    const rules::Rule& rule = engine.rules().rules()[i];
    const uint64_t matches = engine.rule_matches(i), refused = engine.rule_refused_keys(i);
    v.matches_by_rule.emplace_back(rule.name, matches);
    v.window_keys_by_rule.emplace_back(rule.name, engine.rule_window_keys(i));
    v.refused_keys_by_rule.emplace_back(rule.name, refused);
    uint64_t& reported = refused_keys_reported_[rule.name];
    if (refused > reported && refused_keys_log_.Allow(now_ms)) {
      spdlog::warn(
          "Rule '{}' holds its max_keys ({}) keys: {} matches of new keys were not counted "
          "(ember_rule_refused_keys_total; raise max_keys, or key by fewer fields).",
          rule.name, rule.max_keys, refused - reported);
      reported = refused;
    }
    rule_matches.push_back(matches);
  }
  const FrameCounters& c = *view.counters;
  v.bytes_in = c.bytes_in;
  v.frames_in = c.frames_in;
  v.bad_frames = c.bad_frames;
  v.duplicate_frames = c.duplicate_frames;
  v.resend_requests = c.resend_requests;
  v.refused = c.refused;
  v.frames_without_session = c.frames_without_session;
  v.streams_refused = c.streams_refused;
  v.streams_expired = c.streams_expired;
  v.hosts_rewritten = c.hosts_rewritten;
  v.new_epochs = view.sessions->new_epochs();
  v.checkpoints = view.checkpointer->checkpoints();
  v.checkpoint_failures = view.checkpointer->failures();
  v.alerts_delivered = view.dispatcher->delivered();
  v.alerts_undelivered = view.dispatcher->in_flight();
  for (const auto& sink : view.dispatcher->sinks()) {
    if (sink->asynchronous()) v.output_failures.emplace_back(sink->Describe(), sink->failures());
  }
  v.sessions = view.sessions->sessions();
  std::vector<uint64_t> agent_bytes;
  for (const auto& [name, a] : view.sessions->agents()) {
    v.agents.push_back(
        {name, a.host, static_cast<double>(a.lag_ms) / 1000.0, a.last_seen_ms, a.bytes, a.lines});
    agent_bytes.push_back(a.bytes);
  }
  v.scheduling_delay_seconds = static_cast<double>(view.scheduling_delay_ms) / 1000.0;
  const SourceWatermarks& marks = *view.watermarks;
  if (auto w = marks.last_watermark()) {
    v.watermark_lag_seconds = static_cast<double>(now_ms - *w) / 1000.0;
  }
  auto stream = [&](const SourceWatermarks::StreamView& s) {
    const double lag =
        s.position_ms == INT64_MIN ? -1.0 : static_cast<double>(now_ms - s.position_ms) / 1000.0;
    return AggregatorVitals::Stream{s.agent, s.path, lag, s.too_late};
  };
  if (auto h = marks.holder()) v.watermark_holder = stream(*h);
  for (const auto& s : marks.Laggards(now_ms, 20)) v.laggards.push_back(stream(s));
  v.future_stamps = marks.future_stamps();
  v.refused_announcements = marks.refused_announcements();
  if (view.transport != nullptr) {
    v.zmq_accepted = view.transport->accepted;
    v.zmq_accept_failures = view.transport->accept_failures;
    v.zmq_disconnected = view.transport->disconnected;
    v.zmq_handshake_failures = view.transport->handshake_failures;
    v.zmq_refused = view.transport->refused;
    v.zmq_open = view.transport->open;
    v.zmq_max_open = view.transport->max_open;
  }
  if (marks.floor() != INT64_MAX && marks.floor() != INT64_MIN) {
    v.history_floor_lag_seconds =
        std::max(0.0, static_cast<double>(now_ms - marks.floor()) / 1000.0);
  }
  v.batch_processing = view.batch_processing;
  v.checkpoint_duration = &view.checkpointer->duration();
  metrics_text_.Set(RenderAggregatorMetrics(v));

  // Rates over the last 5 s or so, from samples taken at each publish.
  rate_samples_.push_back({now_ms, engine.stats().lines, c.bytes_in, rule_matches, agent_bytes});
  while (rate_samples_.size() > 2 && now_ms - rate_samples_[1].ms >= 5000) {
    rate_samples_.pop_front();
  }
  if (now_ms - live_view_wanted_ms_.load() > 10'000) return;
  const RateSample& old = rate_samples_.front();
  const double dt = std::max<double>(0.001, static_cast<double>(now_ms - old.ms) / 1000.0);
  auto rate = [&](uint64_t now_value, uint64_t old_value) {
    return now_value >= old_value ? static_cast<double>(now_value - old_value) / dt : 0.0;
  };
  LiveViewInput in;
  in.engine = &engine;
  in.now_ms = now_ms;
  for (size_t i = 0; i < rule_matches.size(); ++i) {
    // Rules reloaded within the span: their counters restarted.
    in.rule_rates.push_back(i < old.rule_matches.size() ? rate(rule_matches[i], old.rule_matches[i])
                                                        : 0.0);
  }
  in.lines_per_s = rate(engine.stats().lines, old.lines);
  in.bytes_per_s = rate(c.bytes_in, old.bytes);
  in.agents = v.agents;
  for (size_t i = 0; i < agent_bytes.size(); ++i) {
    in.agent_bytes_per_s.push_back(
        i < old.agent_bytes.size() ? rate(agent_bytes[i], old.agent_bytes[i]) : 0.0);
  }
  in.processing_ms = view.last_processing_ms;
  in.scheduling_delay_ms = static_cast<double>(view.scheduling_delay_ms);
  in.pending_checkpoints = view.checkpointer->pending_deltas();
  in.watermarks = view.watermarks;
  live_view_.Set(BuildLiveViewJson(in));
}

std::string Monitoring::StatusJson(const PipelineView& view, int64_t now_ms) const {
  const engine::Engine& engine = *view.engine;
  const engine::EngineStats& st = engine.stats();
  nlohmann::json agents = nlohmann::json::array();
  // Bytes per second over the last few seconds, from the rate samples of /metrics.
  const RateSample* old = rate_samples_.empty() ? nullptr : &rate_samples_.front();
  const double span_s = old == nullptr ? 0 : static_cast<double>(now_ms - old->ms) / 1000.0;
  // At most kStatusAgents agents, the most recently heard from: the record is written with
  // every checkpoint, whose cost must not grow with the number of agents.
  const auto& all = view.sessions->agents();
  int64_t cutoff = INT64_MIN;
  if (all.size() > kStatusAgents) {
    std::vector<int64_t> seen;
    seen.reserve(all.size());
    for (const auto& [name, a] : all) seen.push_back(a.last_seen_ms);
    std::nth_element(seen.begin(), seen.begin() + kStatusAgents - 1, seen.end(), std::greater<>());
    cutoff = seen[kStatusAgents - 1];
  }
  size_t index = 0;
  for (const auto& [name, a] : all) {
    if (a.last_seen_ms < cutoff || agents.size() >= kStatusAgents) {
      ++index;
      continue;
    }
    double bytes_per_s = 0;
    if (old != nullptr && span_s > 0.5 && index < old->agent_bytes.size() &&
        a.bytes >= old->agent_bytes[index]) {
      bytes_per_s = static_cast<double>(a.bytes - old->agent_bytes[index]) / span_s;
    }
    ++index;
    agents.push_back({{"name", name},
                      {"bytes_per_s", bytes_per_s},
                      {"last_seen_ms", a.last_seen_ms},
                      {"lag_ms", a.lag_ms},
                      {"frames", a.frames},
                      {"lines", a.lines},
                      {"bytes", a.bytes},
                      {"streams", a.streams.size()},
                      {"host", a.host},
                      {"version", a.version}});
  }
  const FrameCounters& c = *view.counters;
  // Batches the watermark could have closed and has not (ingestion time).
  const int64_t behind = config_.time == TimeSource::kIngestion
                             ? std::max<int64_t>(0, (now_ms - config_.allowed_lateness_ms) /
                                                            config_.engine.batch_interval_ms -
                                                        engine.closed_until())
                             : 0;
  nlohmann::json j = {{"pid", static_cast<int64_t>(::getpid())},
                      {"started_ms", started_ms_},
                      {"checkpoint_ms", now_ms},
                      {"listen", config_.listen},
                      {"batch_interval_ms", config_.engine.batch_interval_ms},
                      {"rules", engine.rules().rules().size()},
                      {"reload_error", view.last_reload_error},
                      {"http_listen", config_.http_listen},
                      {"batches_behind", behind},
                      {"event_time", EventTimeJson(*view.watermarks, st, now_ms)},
                      {"sessions", view.sessions->sessions()},
                      {"agents_total", all.size()},
                      {"counters",
                       {{"lines", st.lines},
                        {"matches", st.matches},
                        {"late_lines", st.late_lines},
                        {"too_late", st.too_late},
                        {"bad_frames", c.bad_frames},
                        {"duplicate_frames", c.duplicate_frames},
                        {"resend_requests", c.resend_requests},
                        {"refused", c.refused},
                        {"streams_refused", c.streams_refused},
                        {"streams_expired", c.streams_expired},
                        {"hosts_rewritten", c.hosts_rewritten},
                        {"frames_without_session", c.frames_without_session},
                        {"new_epochs", view.sessions->new_epochs()},
                        // With the one writing this.
                        {"checkpoints", view.checkpointer->checkpoints() + 1},
                        {"checkpoint_failures", view.checkpointer->failures()},
                        {"alerts_undelivered", view.dispatcher->in_flight()},
                        {"alerts_firing", st.alerts_firing},
                        {"alerts_resolved", st.alerts_resolved}}},
                      {"agents", agents}};
  return j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

HttpResponse Monitoring::Serve(const HttpRequest& r, int64_t now_ms) {
  if (r.path == "/metrics") {
    return {200, "text/plain; version=0.0.4; charset=utf-8",
            *metrics_text_.Get() + HttpServerMetricsText(r.server)};
  }
  if (r.path == "/api/v1/top") {
    // Built by the pipeline thread while someone asked within the last 10 s.
    live_view_wanted_ms_.store(now_ms);
    auto view = live_view_.Get();
    if (view->empty()) return {503, "application/json", "{\"error\":\"warming up\"}"};
    return {200, "application/json", *view};
  }
  // Health endpoints as Prometheus has them: the process answers; it has rules and has
  // published its first batch.
  if (r.path == "/-/healthy") return {200, "text/plain; charset=utf-8", "OK\n"};
  if (r.path == "/-/ready") {
    if (metrics_text_.Get()->empty()) return {503, "text/plain; charset=utf-8", "starting\n"};
    return {200, "text/plain; charset=utf-8", "ready\n"};
  }
  if (r.path == "/") {
    return {200, "text/plain; charset=utf-8",
            "ember-aggregator " EMBER_VERSION
            "\n/metrics      Prometheus metrics\n"
            "/api/v1/top  what `ember top` shows (JSON)\n"
            "/-/healthy   200 while the process serves\n"
            "/-/ready     200 once it has published its first batch\n"};
  }
  return {404, "text/plain; charset=utf-8", "not found: " + r.path + "\n"};
}

}  // namespace ember::aggregator
