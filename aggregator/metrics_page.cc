#include "aggregator/metrics_page.h"

#include "engine/interned.h"

namespace ember::aggregator {

std::string RenderAggregatorMetrics(const AggregatorVitals& v) {
  MetricsText m;
  auto d = [](uint64_t n) { return static_cast<double>(n); };
  m.Gauge("ember_aggregator_start_time_seconds", "Unix time the aggregator started",
          static_cast<double>(v.started_ms) / 1000.0);
  m.Gauge("ember_batch_interval_seconds", "The micro-batch interval",
          static_cast<double>(v.batch_interval_ms) / 1000.0);
  m.Gauge("ember_rules_loaded", "Rules in force", d(v.rules));
  m.Counter("ember_rule_reload_failures_total", "Reloads rejected (the old rules stayed)",
            d(v.reload_failures));
  m.Gauge("ember_rule_reload_last_failed", "1 when the last reload was rejected",
          v.last_reload_failed ? 1 : 0);
  m.Counter("ember_lines_total", "Lines received from agents and accepted", d(v.engine.lines));
  m.Counter("ember_bytes_total", "Bytes of log received from agents and accepted", d(v.bytes_in));
  m.Counter("ember_frames_total", "DATA frames accepted", d(v.frames_in));
  m.Family("ember_rule_matches_total", "counter", "Lines matched, per rule (since load)");
  for (const auto& [rule, n] : v.matches_by_rule)
    m.Sample("ember_rule_matches_total", d(n), {{"rule", rule}});
  m.Family("ember_rule_refused_keys_total", "counter",
           "Matches of new keys not counted: the rule held max_keys keys");
  for (const auto& [rule, n] : v.refused_keys_by_rule)
    m.Sample("ember_rule_refused_keys_total", d(n), {{"rule", rule}});
  m.Family("ember_rule_window_keys", "gauge", "Keys in the rule's current window");
  for (const auto& [rule, n] : v.window_keys_by_rule)
    m.Sample("ember_rule_window_keys", d(n), {{"rule", rule}});
  m.Counter("ember_late_lines_total",
            "Lines for a closed batch, added to it and its windows evaluated again",
            d(v.engine.late_lines));
  m.Counter("ember_late_alerts_total", "Firings raised by evaluating closed windows again",
            d(v.engine.late_alerts));
  m.Counter("ember_too_late_lines_total",
            "Lines for a batch closed longer than max_lateness ago, dropped", d(v.engine.too_late));
  m.Counter("ember_future_stamps_total",
            "Lines stamped more than max_future_skew ahead of the clock, clamped",
            d(v.future_stamps));
  if (v.watermark_lag_seconds >= 0) {
    m.Gauge("ember_watermark_lag_seconds", "How far the watermark trails the clock",
            v.watermark_lag_seconds);
  }
  if (v.history_floor_lag_seconds >= 0) {
    m.Gauge("ember_history_floor_lag_seconds",
            "How far back the batches are kept for streams reading a backlog",
            v.history_floor_lag_seconds);
  }
  m.Counter("ember_zmq_connections_accepted_total", "Connections accepted on the agents' port",
            d(v.zmq_accepted));
  m.Counter("ember_zmq_accept_failures_total",
            "Connections the agents' port could not accept (descriptors out)",
            d(v.zmq_accept_failures));
  m.Counter("ember_zmq_disconnects_total",
            "Connections closed on the agents' port (by peers, timeouts, frames over 16 MiB)",
            d(v.zmq_disconnected));
  m.Counter("ember_zmq_handshake_failures_total",
            "Handshakes failed or timed out on the agents' port", d(v.zmq_handshake_failures));
  m.Counter("ember_zmq_connections_refused_total",
            "Connections cut as soon as accepted: beyond max_agent_connections", d(v.zmq_refused));
  m.Gauge("ember_zmq_connections_open", "Connections open on the agents' port", d(v.zmq_open));
  m.Gauge("ember_zmq_connections_max", "Connections the agents' port holds at once",
          d(v.zmq_max_open));
  m.Counter("ember_announced_streams_refused_total",
            "Streams named by heartbeats with nothing delivered, beyond max_streams: not held",
            d(v.refused_announcements));
  m.Family("ember_watermark_holder", "gauge",
           "The stream holding the watermark back (1), by agent and path");
  if (v.watermark_holder) {
    m.Sample("ember_watermark_holder", 1,
             {{"agent", v.watermark_holder->agent}, {"path", v.watermark_holder->path}});
  }
  m.Family("ember_stream_lag_seconds", "gauge",
           "Event-time lag behind the clock of the streams furthest behind (at most 20)");
  for (const auto& s : v.laggards) {
    m.Sample("ember_stream_lag_seconds", s.lag_seconds, {{"agent", s.agent}, {"path", s.path}});
  }
  m.Family("ember_stream_too_late_lines_total", "counter",
           "Lines dropped as too late, of the streams furthest behind");
  for (const auto& s : v.laggards) {
    m.Sample("ember_stream_too_late_lines_total", d(s.too_late),
             {{"agent", s.agent}, {"path", s.path}});
  }
  m.Counter("ember_rule_time_unparsed_total",
            "Matches whose rule `timestamp` capture could not be read (line time kept)",
            d(v.engine.unparsed_times));
  m.Counter("ember_rule_keys_cut_total",
            "Matches whose key had a field longer than its share of 256 bytes, cut with a hash",
            d(v.engine.keys_cut));
  m.Counter("ember_provenance_names_refused_total",
            "Host, file or agent names (or their combinations) not kept as a sample's origin: "
            "the table of names was full",
            d(engine::InternRefusals()));
  m.Counter("ember_host_rewrites_total",
            "CURVE: frames whose host the agent's key may not speak for, counted as the key's name",
            d(v.hosts_rewritten));
  m.Counter("ember_duplicate_frames_total", "Frames already counted (resends), dropped",
            d(v.duplicate_frames));
  m.Counter("ember_bad_frames_total", "Malformed or refused frames, dropped", d(v.bad_frames));
  m.Counter("ember_resend_requests_total", "NACKs sent: a stream asked for again from its mark",
            d(v.resend_requests));
  m.Counter("ember_refused_total",
            "Peers refused (wrong wire version, bad name, beyond max_agents)", d(v.refused));
  m.Counter("ember_frames_without_session_total", "DATA frames before a HELLO, dropped",
            d(v.frames_without_session));
  m.Counter("ember_streams_refused_total",
            "Frames of new streams dropped: beyond max_streams_per_agent or max_streams",
            d(v.streams_refused));
  m.Counter("ember_streams_expired_total",
            "Streams forgotten: their agent no longer names them and sent nothing for "
            "stream_expiry",
            d(v.streams_expired));
  m.Counter("ember_agent_new_epochs_total", "Agents that came back with new state",
            d(v.new_epochs));
  m.Counter("ember_batches_closed_total", "Micro-batches closed", d(v.engine.batches_closed));
  m.Gauge("ember_scheduling_delay_seconds",
          "How long after its end (plus allowed lateness) the last batch was closed",
          v.scheduling_delay_seconds);
  if (v.batch_processing != nullptr) {
    v.batch_processing->Write(m, "ember_batch_processing_seconds",
                              "Time to close a batch, checkpoint and deliver its alerts");
  }
  if (v.checkpoint_duration != nullptr) {
    v.checkpoint_duration->Write(m, "ember_checkpoint_duration_seconds",
                                 "Time to commit one checkpoint (LMDB, fsync included)");
  }
  m.Counter("ember_checkpoints_total", "Checkpoints committed", d(v.checkpoints));
  m.Counter("ember_checkpoint_failures_total", "Checkpoints that failed (disk full, ...)",
            d(v.checkpoint_failures));
  m.Family("ember_alerts_total", "counter", "Alert events raised");
  m.Sample("ember_alerts_total", d(v.engine.alerts_firing), {{"state", "firing"}});
  m.Sample("ember_alerts_total", d(v.engine.alerts_resolved), {{"state", "resolved"}});
  m.Counter("ember_alerts_delivered_total", "Alert events every output finished with",
            d(v.alerts_delivered));
  m.Gauge("ember_alerts_undelivered", "Alert events in the outbox still being delivered",
          d(v.alerts_undelivered));
  m.Family("ember_output_failures_total", "counter", "Alert events an output gave up on");
  for (const auto& [output, n] : v.output_failures) {
    m.Sample("ember_output_failures_total", d(n), {{"output", output}});
  }
  m.Gauge("ember_agents_connected", "Agent connections with a session", d(v.sessions));
  m.Family("ember_agent_lag_seconds", "gauge",
           "Receive time minus the agent's read time of its last frame");
  for (const auto& a : v.agents) {
    m.Sample("ember_agent_lag_seconds", a.lag_seconds, {{"agent", a.name}, {"host", a.host}});
  }
  m.Family("ember_agent_bytes_total", "counter", "Bytes accepted per agent");
  for (const auto& a : v.agents) {
    m.Sample("ember_agent_bytes_total", d(a.bytes), {{"agent", a.name}, {"host", a.host}});
  }
  m.Family("ember_agent_lines_total", "counter", "Lines accepted per agent");
  for (const auto& a : v.agents) {
    m.Sample("ember_agent_lines_total", d(a.lines), {{"agent", a.name}, {"host", a.host}});
  }
  m.Family("ember_agent_last_seen_seconds", "gauge", "Unix time of the agent's last frame");
  for (const auto& a : v.agents) {
    m.Sample("ember_agent_last_seen_seconds", static_cast<double>(a.last_seen_ms) / 1000.0,
             {{"agent", a.name}, {"host", a.host}});
  }
  return m.text();
}

}  // namespace ember::aggregator
