#include "aggregator/sinks/alertmanager_sink.h"

#include <cctype>

#include <nlohmann/json.hpp>

#include "aggregator/sinks/webhook_sink.h"
#include "common/system.h"

namespace ember::aggregator {
namespace {

// Prometheus label names: [a-zA-Z_][a-zA-Z0-9_]*.
std::string LabelName(const std::string& field) {
  std::string out;
  for (char c : field) out += std::isalnum(static_cast<unsigned char>(c)) ? c : '_';
  if (out.empty() || std::isdigit(static_cast<unsigned char>(out[0]))) out.insert(0, "_");
  return out;
}

}  // namespace

AlertmanagerSink::AlertmanagerSink(const AlertmanagerOutput& options)
    : options_(options), endpoint_(options.url) {
  while (!endpoint_.empty() && endpoint_.back() == '/') endpoint_.pop_back();
  endpoint_ += "/api/v2/alerts";
  StartWorker();
}

std::string AlertmanagerSink::ToApiJson(const engine::Alert& a, int64_t starts_at_ms,
                                        int64_t now_ms, const AlertmanagerOutput& options) {
  nlohmann::json labels = nlohmann::json::object();
  for (const auto& [name, value] : options.labels) labels[name] = value;
  for (const auto& [name, value] : a.labels) labels[LabelName(name)] = value;  // the rule's
  for (const auto& [name, value] : a.fields) labels[LabelName(name)] = value;
  labels["alertname"] = a.rule;
  labels["severity"] = rules::SeverityName(a.severity);
  if (a.late) labels["late"] = "true";
  nlohmann::json annotations = {
      {"summary", a.message},
      {"ember_alert_id", a.id},
      {"ember_rule_digest", a.rule_digest},
      {"count", std::to_string(a.count)},
      {"window",
       engine::FormatIsoMs(a.window_start_ms) + "/" + engine::FormatIsoMs(a.window_end_ms)},
  };
  if (!a.sample.empty()) annotations["sample"] = a.sample;
  if (!a.evidence.empty()) {
    const engine::Evidence& e = a.evidence[0];
    annotations["source"] = e.host + ":" + e.file + " bytes " + std::to_string(e.offset_start) +
                            ".." + std::to_string(e.offset_end);
    if (!e.agent.empty()) annotations["source_agent"] = e.agent;
  }
  // A late firing is a point event (no resolve follows): it stays active for one resend
  // interval, long enough to be grouped and notified, then Alertmanager resolves it.
  const int64_t ends_at = a.state == engine::AlertState::kResolved
                              ? std::max(a.window_end_ms, starts_at_ms)
                          : a.late ? now_ms + options.resend_interval_ms
                                   : now_ms + 4 * options.resend_interval_ms;
  nlohmann::json j = {{"labels", labels},
                      {"annotations", annotations},
                      {"startsAt", engine::FormatIsoMs(starts_at_ms)},
                      {"endsAt", engine::FormatIsoMs(ends_at)}};
  return j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

bool AlertmanagerSink::Post(const std::string& array_json, const std::string& what) {
  return PostWithRetry(*this, endpoint_, array_json, {}, options_.client, options_.retry_for_ms,
                       what);
}

void AlertmanagerSink::RestoreFiring(const std::vector<engine::Alert>& firing) {
  std::lock_guard<std::mutex> lock(restored_mu_);
  restored_.insert(restored_.end(), firing.begin(), firing.end());
}

void AlertmanagerSink::TakeRestored() {
  std::vector<engine::Alert> restored;
  {
    std::lock_guard<std::mutex> lock(restored_mu_);
    restored.swap(restored_);
  }
  for (auto& a : restored) {
    const int64_t starts_at = a.window_end_ms;
    firing_.try_emplace(a.id, Firing{std::move(a), starts_at});
  }
  if (!restored.empty()) last_resend_ms_ = 0;  // announce them again now
}

bool AlertmanagerSink::Deliver(const engine::Alert& alert) {
  TakeRestored();
  const int64_t now = WallClockMs();
  int64_t starts_at = alert.window_end_ms;
  if (alert.state == engine::AlertState::kFiring) {
    if (!alert.late) firing_[alert.id] = Firing{alert, starts_at};
  } else {
    auto it = firing_.find(alert.id);
    // Unknown after a restart: the resolved window's start is the best estimate.
    starts_at = it != firing_.end() ? it->second.starts_at_ms : alert.window_start_ms;
    if (it != firing_.end()) firing_.erase(it);
  }
  return Post("[" + ToApiJson(alert, starts_at, now, options_) + "]",
              "alert " + alert.id + " (" + engine::AlertStateName(alert.state) + ")");
}

void AlertmanagerSink::Idle() {
  TakeRestored();
  const int64_t now = WallClockMs();
  if (firing_.empty() || now - last_resend_ms_ < options_.resend_interval_ms) return;
  last_resend_ms_ = now;
  std::string body = "[";
  for (const auto& [id, f] : firing_) {
    if (body.size() > 1) body += ',';
    body += ToApiJson(f.alert, f.starts_at_ms, now, options_);
  }
  body += "]";
  // A failed resend is not retried here: the next one comes within resend_interval, and
  // endsAt leaves room for three missed ones.
  auto reply = HttpFetch("POST", endpoint_, body, {}, options_.client);
  (void)reply;
}

}  // namespace ember::aggregator
