#include "aggregator/sinks/webhook_sink.h"

#include <chrono>

#include <spdlog/spdlog.h>

namespace ember::aggregator {
namespace {

int64_t SteadyMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

}  // namespace

bool PostWithRetry(AsyncSink& sink, const std::string& url, const std::string& body,
                   const HttpHeaders& headers, const HttpClientOptions& client,
                   int64_t retry_for_ms, const std::string& what) {
  const int64_t give_up_at = SteadyMs() + retry_for_ms;
  int64_t backoff_ms = 1000;
  for (int attempt = 1;; ++attempt) {
    Result<HttpReply> reply = HttpFetch("POST", url, body, headers, client);
    std::string problem;
    if (!reply.ok()) {
      problem = reply.status().message();
    } else if (reply->status >= 200 && reply->status < 300) {
      if (attempt > 1)
        spdlog::info("{}: {} delivered on attempt {}.", sink.Describe(), what, attempt);
      return true;
    } else {
      problem = "HTTP " + std::to_string(reply->status) + ": " + reply->body.substr(0, 512);
      while (!problem.empty() && (problem.back() == '\n' || problem.back() == '\r'))
        problem.pop_back();
      if (reply->status != 429 && reply->status < 500) {
        spdlog::error("{}: {} rejected, not retried: {}", sink.Describe(), what, problem);
        return false;
      }
    }
    if (SteadyMs() + backoff_ms > give_up_at) {
      spdlog::error("{}: {} given up after {} attempts: {}", sink.Describe(), what, attempt,
                    problem);
      return false;
    }
    // Logged once per event, then quietly retried.
    if (attempt == 1) {
      spdlog::warn("{}: {} failed ({}); retrying with backoff.", sink.Describe(), what, problem);
    }
    if (!sink.SleepUnlessStopping(backoff_ms)) return false;
    backoff_ms = std::min<int64_t>(backoff_ms * 2, 60'000);
  }
}

WebhookSink::WebhookSink(const WebhookOutput& options) : options_(options) { StartWorker(); }

bool WebhookSink::Deliver(const engine::Alert& alert) {
  return PostWithRetry(*this, options_.url, engine::AlertToJson(alert), options_.headers,
                       options_.client, options_.retry_for_ms,
                       "alert " + alert.id + " (" + engine::AlertStateName(alert.state) + ")");
}

}  // namespace ember::aggregator
