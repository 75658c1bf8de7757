// HttpServer: a small HTTP/1.1 server for self-monitoring on loopback (/metrics, the JSON that
// `ember top` reads). One background thread runs Boost.Asio; each connection gets one GET
// answered and is closed. The handler runs on that thread: whatever it reads must be
// thread-safe (owners publish snapshots, see PublishedText). Requests larger than 16 KiB or
// slower than 5 s are answered with an error and closed. At most 64 connections are served at
// once (a new one closes the oldest), and when file descriptors run out accepting pauses for
// 100 ms instead of spinning.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "common/status.h"

namespace ember {

struct HttpRequest {
  std::string method;  // "GET"
  std::string path;    // "/metrics", without the query
  std::string query;   // after '?', "" if none
};

struct HttpResponse {
  int status = 200;
  std::string content_type = "text/plain; charset=utf-8";
  std::string body;
};

// "host:port", "[v6]:port"; port 0 picks a free one. Errors: malformed address.
struct HostPort {
  std::string host;
  uint16_t port = 0;
};
Result<HostPort> ParseHostPort(const std::string& text);
// Checks a ZeroMQ endpoint: "tcp://host:port" with a port of 1 to 65535, or "ipc://path".
// InvalidArgument naming the endpoint and the problem.
Status CheckZmqEndpoint(const std::string& endpoint);

class HttpServer {
 public:
  using Handler = std::function<HttpResponse(const HttpRequest&)>;

  // Binds `listen` ("127.0.0.1:7451") and starts serving. Errors name the address and cause.
  static Result<std::unique_ptr<HttpServer>> Start(const std::string& listen, Handler handler);
  ~HttpServer();  // stops the thread; open connections are dropped

  uint16_t port() const { return port_; }  // the bound port (useful with port 0)

 private:
  struct Impl;
  HttpServer() = default;
  std::unique_ptr<Impl> impl_;
  uint16_t port_ = 0;
};

}  // namespace ember
