#include "common/http_server.h"

#include "common/beast_server.h"
#include "common/metrics.h"
#include "common/module_loader.h"

namespace ember {

Result<std::unique_ptr<HttpServer>> HttpServer::Start(const HttpServerOptions& options,
                                                      Handler handler) {
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
  return m.text();
}

}  // namespace ember
