// The one place that turns output options into sinks.
#include "aggregator/sinks/alert_sink.h"
#include "aggregator/sinks/alertmanager_sink.h"
#include "aggregator/sinks/exec_sink.h"
#include "aggregator/sinks/jsonl_sink.h"
#include "aggregator/sinks/terminal_sink.h"
#include "aggregator/sinks/webhook_sink.h"
#include "common/http_client.h"

namespace ember::aggregator {

Result<std::vector<std::unique_ptr<AlertSink>>> MakeSinks(const OutputOptions& options) {
  std::vector<std::unique_ptr<AlertSink>> sinks;
  if (options.terminal) {
    sinks.push_back(
        std::make_unique<TerminalSink>(stdout, ChooseStyle(options.terminal_color, stdout)));
  }
  if (!options.jsonl_path.empty()) {
    Result<std::unique_ptr<JsonlSink>> jsonl = JsonlSink::Open(options.jsonl_path);
    if (!jsonl.ok()) return jsonl.status();
    sinks.push_back(std::move(*jsonl));
  }
  if (Status s = LoadSinkLibraries(options); !s.ok()) return s;
  for (const auto& e : options.exec) sinks.push_back(std::make_unique<ExecSink>(e));
  for (const auto& w : options.webhooks) sinks.push_back(std::make_unique<WebhookSink>(w));
  for (const auto& a : options.alertmanagers) {
    sinks.push_back(std::make_unique<AlertmanagerSink>(a));
  }
  return sinks;
}

Status LoadSinkLibraries(const OutputOptions& options) {
  if (options.webhooks.empty() && options.alertmanagers.empty()) return Status::Ok();
  return LoadHttpClient().WithContext("webhook and Alertmanager outputs");
}

}  // namespace ember::aggregator
