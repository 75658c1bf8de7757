// HttpServer: the HTTP/1.1 server of both daemons' self-monitoring endpoints (/metrics,
// health, the JSON that `ember top` reads), on Boost.Beast. One background thread runs
// Boost.Asio and calls the handler: whatever the handler reads must be thread-safe (owners
// publish snapshots, see PublishedText).
//
// Limits: request head and body 16 KiB each (431/413), a request must arrive within
// `request_timeout` of the previous answer (keep-alive) or of the connection, at most
// `max_connections` at once — a new connection beyond closes the oldest one that has not yet
// been answered (else the oldest), so idle, slow or flooding clients cannot keep a scraper
// out. Out of file descriptors, accepting pauses for 100 ms instead of spinning. Malformed
// requests get 400 and the connection is closed. With a WebConfig: TLS (and client
// certificates) and Basic or Bearer authentication on every path, 401 without. TLS is served
// by a module (ember-https.so, see module_loader.h) loaded only when TLS is configured, so a
// daemon without TLS does not load OpenSSL. When the web configuration's files change (a
// renewed certificate, a rotated token, other users), connections accepted from then on use
// it as read again, checked at most every `web_check_interval`; one that cannot be used (it
// does not load, fails `check_web`, or would turn TLS on or off) is refused and the server
// keeps the one it has.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "common/host_port.h"
#include "common/status.h"
#include "common/web_config.h"

namespace ember {

// Counters since start; read from any thread.
struct HttpServerStats {
  uint64_t requests = 0;             // answered by the handler
  uint64_t bad_requests = 0;         // malformed or over a limit: 400, 405, 413, 431
  uint64_t unauthorized = 0;         // 401
  uint64_t evicted = 0;              // connections closed to admit a newer one
  uint64_t tls_failures = 0;         // handshakes that failed (wrong CA, no client certificate…)
  uint64_t timeouts = 0;             // connections closed for a request that did not arrive in time
  uint64_t web_reloads = 0;          // changed web configurations taken into use
  uint64_t web_reload_failures = 0;  // changed web configurations refused
};

struct HttpRequest {
  std::string method;      // "GET" or "HEAD" (others are answered 405 without the handler)
  std::string path;        // "/metrics", without the query
  std::string query;       // after '?', "" if none
  HttpServerStats server;  // the server's counters as this request is served
};

struct HttpResponse {
  int status = 200;
  std::string content_type = "text/plain; charset=utf-8";
  std::string body;
};

struct HttpServerOptions {
  std::string listen;  // "127.0.0.1:7451", "[::1]:0" (port 0 picks a free one)
  WebConfig web;       // TLS and authentication; default: plain HTTP, no authentication
  size_t max_connections = 64;
  std::chrono::milliseconds request_timeout{10'000};
  // The package that installed this program ("ember-agent"): where its TLS module lives.
  std::string component = "ember-aggregator";
  // The daemon's own rules for a web configuration read again (CheckHttpExposure); null: any
  // that loads is used.
  std::function<Status(const WebConfig&)> check_web;
  // Told, on the server's thread, what became of a changed web configuration: Ok when the
  // connections accepted from now on use it, else why it was refused.
  std::function<void(const Status&)> on_web_change;
  std::chrono::milliseconds web_check_interval{1000};
  // Where the server learns of a changed web configuration: set by HttpServer::Start (a
  // WebConfigWatch of `web`, then `check_web`); nullopt while nothing changed.
  std::function<std::optional<Result<WebConfig>>()> web_changes;
};

// The options of a daemon's endpoints: `listen` served as `web` configures, for the package
// `component`. A changed web configuration must pass CheckHttpExposure again (`insecure` is
// the daemon's exemption, `insecure_key` its name in the daemon's config), and what becomes
// of it is logged: taken into use, or refused with its file, line and cause.
HttpServerOptions DaemonHttpOptions(const std::string& component, const std::string& listen,
                                    const WebConfig& web, bool insecure,
                                    const std::string& insecure_key);

// The server's counters as Prometheus metrics (ember_http_*), to append to a /metrics page.
std::string HttpServerMetricsText(const HttpServerStats& stats);

class HttpServer {
 public:
  using Handler = std::function<HttpResponse(const HttpRequest&)>;

  // Binds and starts serving. Errors name the address, the TLS module, or the certificate or
  // key file.
  static Result<std::unique_ptr<HttpServer>> Start(const HttpServerOptions& options,
                                                   Handler handler);
  static Result<std::unique_ptr<HttpServer>> Start(const std::string& listen, Handler handler) {
    HttpServerOptions options;
    options.listen = listen;
    return Start(options, std::move(handler));
  }
  virtual ~HttpServer() = default;  // stops the thread; open connections are dropped

  virtual uint16_t port() const = 0;  // the bound port (useful with port 0)
  virtual HttpServerStats stats() const = 0;
};

}  // namespace ember
