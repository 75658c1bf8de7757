#include "common/http_server.h"

#include <spdlog/spdlog.h>

#include "common/beast_server.h"
#include "common/metrics.h"
#include "common/module_loader.h"

namespace ember {

Result<std::unique_ptr<HttpServer>> HttpServer::Start(const HttpServerOptions& given,
                                                      Handler handler) {
  HttpServerOptions options = given;
  if (!options.web.path.empty()) {
    auto watch = std::make_shared<WebConfigWatch>(options.web);
    options.web_changes = [watch, check = options.check_web] {
      std::optional<Result<WebConfig>> changed = watch->Changed(std::chrono::steady_clock::now());
      if (changed && changed->ok() && check) {
        if (Status s = check(**changed); !s.ok()) changed = Result<WebConfig>(s);
      }
      return changed;
    };
  }
  if (!options.web.tls) return StartBeastServer(options, std::move(handler));
  Result<ModuleHandle> module = LoadModule(ModulePath(options.component, "ember-https.so"));
  if (!module.ok()) return module.status().WithContext("TLS for '" + options.listen + "'");
  Result<void*> entry = module->Symbol("ember_https_start");
  if (!entry.ok()) return entry.status();
  using StartFn = HttpServer* (*)(const HttpServerOptions*, Handler*, Status*);
  Status error;
  HttpServer* server = reinterpret_cast<StartFn>(*entry)(&options, &handler, &error);
  if (server == nullptr) return error;
  return std::unique_ptr<HttpServer>(server);
}

HttpServerOptions DaemonHttpOptions(const std::string& component, const std::string& listen,
                                    const WebConfig& web, bool insecure,
                                    const std::string& insecure_key) {
  HttpServerOptions options;
  options.listen = listen;
  options.web = web;
  options.component = component;
  options.check_web = [listen, insecure, insecure_key](const WebConfig& changed) {
    return CheckHttpExposure(changed.path, listen, changed, insecure, insecure_key);
  };
  options.on_web_change = [path = web.path](const Status& s) {
    if (s.ok()) {
      spdlog::info("{}: read again after its files changed; new connections use it.", path);
    } else {
      spdlog::error("{} (the web configuration read before stays in use).", s.message());
    }
  };
  return options;
}

std::string HttpServerMetricsText(const HttpServerStats& stats) {
  MetricsText m;
  m.Counter("ember_http_requests_total", "HTTP requests answered by a page.",
            static_cast<double>(stats.requests));
  m.Counter("ember_http_bad_requests_total",
            "HTTP requests refused as malformed, too large or with another method than GET/HEAD.",
            static_cast<double>(stats.bad_requests));
  m.Counter("ember_http_unauthorized_total",
            "HTTP requests refused for missing or wrong credentials.",
            static_cast<double>(stats.unauthorized));
  m.Counter("ember_http_evicted_connections_total",
            "HTTP connections closed to admit a newer one (the connection limit).",
            static_cast<double>(stats.evicted));
  m.Counter("ember_http_tls_failures_total", "TLS handshakes that failed.",
            static_cast<double>(stats.tls_failures));
  m.Counter("ember_http_timeouts_total",
            "HTTP connections closed for a request that did not arrive in time.",
            static_cast<double>(stats.timeouts));
  m.Counter("ember_http_web_config_reloads_total",
            "Changed web configurations (certificates, users, tokens) taken into use.",
            static_cast<double>(stats.web_reloads));
  m.Counter("ember_http_web_config_reload_failures_total",
            "Changed web configurations refused; the one before stays in use.",
            static_cast<double>(stats.web_reload_failures));
  return m.text();
}

}  // namespace ember
