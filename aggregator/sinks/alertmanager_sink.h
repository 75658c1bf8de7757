// AlertmanagerSink: speaks Prometheus Alertmanager's v2 API (POST /api/v2/alerts). An alert's
// identity there is its label set: alertname (the rule), severity, the key fields and the
// configured labels. Firing events are sent with endsAt four resend intervals ahead and sent
// again every resend_interval while they fire, as Prometheus does, so Alertmanager keeps them
// active; resolved events carry endsAt = the resolving window's end. Retries as the webhook.
#pragma once

#include <map>
#include <mutex>
#include <string>
#include <vector>

#include "aggregator/sinks/async_sink.h"

namespace ember::aggregator {

class AlertmanagerSink final : public AsyncSink {
 public:
  explicit AlertmanagerSink(const AlertmanagerOutput& options);
  ~AlertmanagerSink() override { Stop(); }
  std::string Describe() const override { return "alertmanager " + options_.url; }
  void RestoreFiring(const std::vector<engine::Alert>& firing) override;

  // The v2 API object for one alert event, sent at `now_ms`.
  static std::string ToApiJson(const engine::Alert& alert, int64_t starts_at_ms, int64_t now_ms,
                               const AlertmanagerOutput& options);

 private:
  bool Deliver(const engine::Alert& alert) override;
  void Idle() override;  // re-sends the firing alerts every resend_interval
  bool Post(const std::string& array_json, const std::string& what);

  AlertmanagerOutput options_;
  std::string endpoint_;
  // Worker thread only: firing episodes by alert id, with the time each started.
  struct Firing {
    engine::Alert alert;
    int64_t starts_at_ms;
  };
  std::map<std::string, Firing> firing_;
  std::mutex restored_mu_;
  std::vector<engine::Alert> restored_;  // handed over by the pipeline thread at startup
  void TakeRestored();
  int64_t last_resend_ms_ = 0;
};

}  // namespace ember::aggregator
