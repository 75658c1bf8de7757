// WebhookSink: POSTs each alert event (the JSON of AlertToJson) to an http:// URL. Connection
// errors, timeouts, 429 and 5xx are retried with exponential backoff (1 s doubling to 60 s)
// for up to retry_for; any other non-2xx status is logged with the reply and given up on.
#pragma once

#include <string>

#include "aggregator/sinks/async_sink.h"
#include "common/http_client.h"

namespace ember::aggregator {

// One POST with the retry policy above; shared by the webhook and Alertmanager outputs.
// Returns false when it gave up (logged) or the sink is stopping.
bool PostWithRetry(AsyncSink& sink, const std::string& url, const std::string& body,
                   const HttpHeaders& headers, const HttpClientOptions& client,
                   int64_t retry_for_ms, const std::string& what);

class WebhookSink final : public AsyncSink {
 public:
  explicit WebhookSink(const WebhookOutput& options);
  ~WebhookSink() override { Stop(); }
  std::string Describe() const override { return "webhook " + options_.url; }

 private:
  bool Deliver(const engine::Alert& alert) override;
  WebhookOutput options_;
};

}  // namespace ember::aggregator
