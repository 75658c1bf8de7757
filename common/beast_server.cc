#include "common/beast_server.h"

#include <cerrno>
#include <deque>
#include <memory>
#include <optional>
#include <thread>

#include <boost/asio.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#if EMBER_HTTP_TLS
#include <openssl/ssl.h>

#include <boost/asio/ssl.hpp>
#include <boost/beast/ssl.hpp>
#endif

#include "common/http_auth.h"

namespace ember {
namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
#if EMBER_HTTP_TLS
namespace ssl = asio::ssl;
#endif
using asio::ip::tcp;
using boost::system::error_code;

namespace {

constexpr uint32_t kMaxHeadBytes = 16 << 10;
constexpr uint64_t kMaxBodyBytes = 16 << 10;
// Out of file descriptors: wait this long before accepting again instead of spinning.
constexpr auto kAcceptBackoff = std::chrono::milliseconds(100);
constexpr auto kTlsShutdownTimeout = std::chrono::seconds(1);

struct Counters {
  std::atomic<uint64_t> requests{0}, bad_requests{0}, unauthorized{0}, evicted{0}, tls_failures{0},
      timeouts{0}, web_reloads{0}, web_reload_failures{0};
  HttpServerStats Snapshot() const {
    return {requests.load(),    bad_requests.load(),       unauthorized.load(),
            evicted.load(),     tls_failures.load(),       timeouts.load(),
            web_reloads.load(), web_reload_failures.load()};
  }
};

// What every connection shares; lives as long as the server.
struct Shared {
  HttpServer::Handler handler;
  std::chrono::milliseconds request_timeout;
  Counters counters;
};

// One reading of the web configuration: how connections accepted while it is current
// authenticate their requests and speak TLS. A connection keeps the one it was accepted with.
struct Security {
  explicit Security(const WebConfig& web) : auth(web) {}
  HttpAuthenticator auth;
#if EMBER_HTTP_TLS
  std::unique_ptr<ssl::context> tls;  // null: plain HTTP
#endif
};

class ConnectionBase : public std::enable_shared_from_this<ConnectionBase> {
 public:
  virtual ~ConnectionBase() = default;
  virtual void Start() = 0;
  virtual void Close() = 0;  // on the server's thread; pending handlers then finish
  bool answered() const { return answered_; }

 protected:
  bool answered_ = false;  // at least one request answered: a client that speaks HTTP
};

http::response<http::string_body> MakeResponse(unsigned version, http::status status,
                                               std::string body) {
  http::response<http::string_body> res{status, version};
  res.set(http::field::content_type, "text/plain; charset=utf-8");
  res.body() = std::move(body);
  return res;
}

// One connection over a plain or TLS stream: requests are read and answered one after the
// other (keep-alive) until the client closes, an error, a timeout or eviction.
template <class Stream>
class Connection : public ConnectionBase {
 public:
  template <class... Args>
  Connection(Shared& shared, std::shared_ptr<Security> security, Args&&... args)
      : shared_(shared), security_(std::move(security)), stream_(std::forward<Args>(args)...) {}

  void Start() override {
#if EMBER_HTTP_TLS
    if constexpr (kTls) {
      Lowest().expires_after(shared_.request_timeout);
      stream_.async_handshake(ssl::stream_base::server, [self = Self()](const error_code& e) {
        if (e) {
          ++self->shared_.counters.tls_failures;
          return self->Close();
        }
        self->Read();
      });
      return;
    }
#endif
    Read();
  }

  void Close() override {
    closed_ = true;
    error_code ignored;
    Lowest().socket().shutdown(tcp::socket::shutdown_both, ignored);
    Lowest().close();
  }

 private:
  static constexpr bool kTls = !std::is_same_v<Stream, beast::tcp_stream>;

  beast::tcp_stream& Lowest() { return beast::get_lowest_layer(stream_); }
  std::shared_ptr<Connection> Self() {
    return std::static_pointer_cast<Connection>(shared_from_this());
  }

  void Read() {
    if (closed_) return;
    parser_.emplace();
    parser_->header_limit(kMaxHeadBytes);
    parser_->body_limit(kMaxBodyBytes);
    Lowest().expires_after(shared_.request_timeout);
    http::async_read(stream_, buffer_, *parser_,
                     [self = Self()](const error_code& e, size_t) { self->OnRequest(e); });
  }

  void OnRequest(const error_code& e) {
    if (closed_) return;
    if (e == beast::error::timeout) {
      ++shared_.counters.timeouts;
      return Close();
    }
    if (e == http::error::end_of_stream || e == http::error::partial_message ||
        e == asio::error::operation_aborted || e == asio::error::connection_reset ||
        e == asio::error::eof || IsTruncatedTls(e)) {
      return End();
    }
    if (e) {
      ++shared_.counters.bad_requests;
      if (e == http::error::header_limit) {
        return Send(MakeResponse(11, http::status::request_header_fields_too_large,
                                 "request head over 16 KiB\n"),
                    false);
      }
      if (e == http::error::body_limit) {
        return Send(MakeResponse(11, http::status::payload_too_large, "request body over 16 KiB\n"),
                    false);
      }
      return Send(
          MakeResponse(11, http::status::bad_request, "malformed request: " + e.message() + "\n"),
          false);
    }
    Answer(parser_->get());
  }

  void Answer(const http::request<http::string_body>& req) {
    const unsigned version = req.version();
    const bool keep_alive = req.keep_alive();
    if (req.method() != http::verb::get && req.method() != http::verb::head) {
      ++shared_.counters.bad_requests;
      auto res = MakeResponse(version, http::status::method_not_allowed, "only GET and HEAD\n");
      res.set(http::field::allow, "GET, HEAD");
      return Send(std::move(res), keep_alive);
    }
    const auto beast_target = req.target();
    const std::string_view target(beast_target.data(), beast_target.size());
    if (target.empty() || target.front() != '/') {
      ++shared_.counters.bad_requests;
      return Send(MakeResponse(version, http::status::bad_request, "target must be a path\n"),
                  false);
    }
    const auto authorization = req[http::field::authorization];
    if (!security_->auth.Allows(std::string_view(authorization.data(), authorization.size()))) {
      ++shared_.counters.unauthorized;
      auto res = MakeResponse(version, http::status::unauthorized, "unauthorized\n");
      res.set(http::field::www_authenticate, security_->auth.Challenge());
      return Send(std::move(res), keep_alive);
    }
    HttpRequest request;
    request.server = shared_.counters.Snapshot();
    request.method = req.method() == http::verb::head ? "HEAD" : "GET";
    const size_t q = target.find('?');
    request.path = std::string(target.substr(0, q));
    if (q != std::string_view::npos) request.query = std::string(target.substr(q + 1));
    HttpResponse answer = shared_.handler(request);
    ++shared_.counters.requests;
    answered_ = true;
    http::response<http::string_body> res{static_cast<http::status>(answer.status), version};
    res.set(http::field::content_type, answer.content_type);
    res.body() = std::move(answer.body);
    res.prepare_payload();  // Content-Length of the GET answer, also for HEAD
    if (req.method() == http::verb::head) res.body().clear();
    const bool head = req.method() == http::verb::head;
    Send(std::move(res), keep_alive, head);
  }

  // `head_only`: the answer to HEAD, its Content-Length that of the GET answer, no body.
  void Send(http::response<http::string_body> res, bool keep_alive, bool head_only = false) {
    if (!head_only) res.prepare_payload();
    res.keep_alive(keep_alive);
    auto message = std::make_shared<http::response<http::string_body>>(std::move(res));
    Lowest().expires_after(shared_.request_timeout);
    auto done = [self = Self(), message, keep_alive](const error_code& e, size_t) {
      if (e) return self->Close();
      if (keep_alive) return self->Read();
      self->End();
    };
    if (head_only) {
      auto serializer = std::make_shared<http::response_serializer<http::string_body>>(*message);
      http::async_write_header(stream_, *serializer,
                               [done, serializer](const error_code& e, size_t n) { done(e, n); });
    } else {
      http::async_write(stream_, *message, std::move(done));
    }
  }

  // Orderly end: a TLS close_notify (bounded in time), then the socket closes.
  void End() {
    if (closed_) return;
#if EMBER_HTTP_TLS
    if constexpr (kTls) {
      Lowest().expires_after(kTlsShutdownTimeout);
      stream_.async_shutdown([self = Self()](const error_code&) { self->Close(); });
      return;
    }
#endif
    Close();
  }

  static bool IsTruncatedTls(const error_code& e) {
#if EMBER_HTTP_TLS
    return e == ssl::error::stream_truncated;
#else
    (void)e;
    return false;
#endif
  }

  Shared& shared_;
  std::shared_ptr<Security> security_;  // before stream_: its TLS context outlives the stream
  Stream stream_;
  beast::flat_buffer buffer_;
  std::optional<http::request_parser<http::string_body>> parser_;
  bool closed_ = false;
};

using PlainConnection = Connection<beast::tcp_stream>;
#if EMBER_HTTP_TLS
using TlsConnection = Connection<beast::ssl_stream<beast::tcp_stream>>;

Status LoadTlsContext(const WebTlsConfig& tls, ssl::context* ctx) {
  error_code e;
  ctx->set_options(ssl::context::default_workarounds | ssl::context::no_sslv2 |
                       ssl::context::no_sslv3 | ssl::context::no_tlsv1 | ssl::context::no_tlsv1_1 |
                       ssl::context::single_dh_use,
                   e);
  SSL_CTX_set_min_proto_version(ctx->native_handle(),
                                tls.tls13_only ? TLS1_3_VERSION : TLS1_2_VERSION);
  ctx->use_certificate_chain_file(tls.cert_file, e);
  if (e) return Status::InvalidArgument("cert_file '" + tls.cert_file + "': " + e.message());
  ctx->use_private_key_file(tls.key_file, ssl::context::pem, e);
  if (e) return Status::InvalidArgument("key_file '" + tls.key_file + "': " + e.message());
  if (SSL_CTX_check_private_key(ctx->native_handle()) != 1) {
    return Status::InvalidArgument("key_file '" + tls.key_file +
                                   "' does not belong to cert_file '" + tls.cert_file + "'");
  }
  if (!tls.client_ca_file.empty()) {
    ctx->load_verify_file(tls.client_ca_file, e);
    if (e) {
      return Status::InvalidArgument("client_ca_file '" + tls.client_ca_file + "': " + e.message());
    }
    // Tell clients which CA to pick their certificate for.
    SSL_CTX_set_client_CA_list(ctx->native_handle(),
                               SSL_load_client_CA_file(tls.client_ca_file.c_str()));
    ctx->set_verify_mode(tls.require_client_cert
                             ? ssl::verify_peer | ssl::verify_fail_if_no_peer_cert
                             : ssl::verify_peer,
                         e);
  }
  return Status::Ok();
}
#endif

// The Security of `web`. Errors name its file and the certificate or key file.
Result<std::shared_ptr<Security>> MakeSecurity(const WebConfig& web) {
  auto security = std::make_shared<Security>(web);
  if (web.tls) {
#if EMBER_HTTP_TLS
    security->tls = std::make_unique<ssl::context>(ssl::context::tls_server);
    if (Status s = LoadTlsContext(*web.tls, security->tls.get()); !s.ok()) {
      return Status::InvalidArgument(web.path + ": " + s.message());
    }
#else
    return Status::InvalidArgument(web.path + ": TLS is served by the TLS module, not this build");
#endif
  }
  return security;
}

}  // namespace

class BeastServer final : public HttpServer {
 public:
  BeastServer(const HttpServerOptions& options, Handler handler)
      : shared{std::move(handler), options.request_timeout, {}},
        max_connections(std::max<size_t>(1, options.max_connections)),
        web_changes(options.web_changes),
        on_web_change(options.on_web_change),
        web_check_interval(options.web_check_interval),
        acceptor(io),
        backoff(io) {}

  void Accept() {
    acceptor.async_accept([this](const error_code& e, tcp::socket socket) {
      if (e == asio::error::operation_aborted) return;
      if (e == asio::error::no_descriptors || e.value() == ENFILE || e.value() == ENOBUFS ||
          e.value() == ENOMEM) {
        backoff.expires_after(kAcceptBackoff);
        backoff.async_wait([this](const error_code& w) {
          if (!w) Accept();
        });
        return;
      }
      if (!e) Admit(std::move(socket));
      Accept();
    });
  }

  void Admit(tcp::socket socket) {
    std::erase_if(live, [](const std::weak_ptr<ConnectionBase>& c) { return c.expired(); });
    while (live.size() >= max_connections) Evict();
    RefreshSecurity();
    std::shared_ptr<ConnectionBase> connection;
#if EMBER_HTTP_TLS
    if (security->tls) {
      ssl::context& context = *security->tls;
      connection = std::make_shared<TlsConnection>(shared, security, std::move(socket), context);
    }
#endif
    if (!connection) {
      connection = std::make_shared<PlainConnection>(shared, security, std::move(socket));
    }
    live.push_back(connection);
    connection->Start();
  }

  // Whether the server speaks TLS: fixed at start (only the TLS module can, and it is loaded
  // for a configuration with TLS).
  bool ServesTls() const {
#if EMBER_HTTP_TLS
    return security->tls != nullptr;
#else
    return false;
#endif
  }

  // The Security of a changed web configuration, or why it cannot be used.
  Result<std::shared_ptr<Security>> Made(const Result<WebConfig>& changed) const {
    if (!changed.ok()) return changed.status();
    const bool tls_on = ServesTls();
    if (changed->tls.has_value() != tls_on) {
      return Status::InvalidArgument(changed->path + ": turning TLS " + (tls_on ? "off" : "on") +
                                     " takes a restart");
    }
    return MakeSecurity(*changed);
  }

  // Takes a changed web configuration into use, at most every web_check_interval.
  void RefreshSecurity() {
    if (!web_changes) return;
    const auto now = std::chrono::steady_clock::now();
    if (now < next_web_check) return;
    next_web_check = now + web_check_interval;
    std::optional<Result<WebConfig>> changed = web_changes();
    if (!changed) return;
    Result<std::shared_ptr<Security>> made = Made(*changed);
    if (!made.ok()) {
      ++shared.counters.web_reload_failures;
      if (on_web_change) on_web_change(made.status());
      return;
    }
    security = std::move(*made);
    ++shared.counters.web_reloads;
    if (on_web_change) on_web_change(Status::Ok());
  }

  // Closes the oldest connection that has not been answered yet, else the oldest.
  void Evict() {
    auto victim = std::find_if(live.begin(), live.end(), [](const auto& c) {
      auto locked = c.lock();
      return locked && !locked->answered();
    });
    if (victim == live.end()) victim = live.begin();
    if (auto locked = victim->lock()) locked->Close();
    live.erase(victim);
    ++shared.counters.evicted;
  }

  Shared shared;
  size_t max_connections;
  std::shared_ptr<Security> security;  // what connections accepted now use
  std::function<std::optional<Result<WebConfig>>()> web_changes;
  std::function<void(const Status&)> on_web_change;
  std::chrono::milliseconds web_check_interval;
  std::chrono::steady_clock::time_point next_web_check = std::chrono::steady_clock::now();
  asio::io_context io;
  tcp::acceptor acceptor;
  asio::steady_timer backoff;
  std::deque<std::weak_ptr<ConnectionBase>> live;  // oldest first
  std::thread thread;

  ~BeastServer() override {
    io.stop();
    if (thread.joinable()) thread.join();
  }
  uint16_t port() const override { return bound_port; }
  HttpServerStats stats() const override { return shared.counters.Snapshot(); }
  uint16_t bound_port = 0;
};

Result<std::unique_ptr<HttpServer>> StartBeastServer(const HttpServerOptions& options,
                                                     HttpServer::Handler handler) {
  Result<HostPort> hp = ParseHostPort(options.listen);
  if (!hp.ok()) return hp.status();
  auto server = std::make_unique<BeastServer>(options, std::move(handler));
  BeastServer& impl = *server;
  Result<std::shared_ptr<Security>> security = MakeSecurity(options.web);
  if (!security.ok()) return security.status();
  impl.security = std::move(*security);
  // The first check is a web_check_interval after start: the files were just read.
  impl.next_web_check = std::chrono::steady_clock::now() + options.web_check_interval;
  error_code e;
  asio::ip::address address = asio::ip::make_address(hp->host, e);
  if (e) {
    return Status::InvalidArgument("'" + options.listen + "': '" + hp->host +
                                   "' is not an IP address (use 127.0.0.1 or ::1)");
  }
  tcp::endpoint endpoint(address, hp->port);
  impl.acceptor.open(endpoint.protocol(), e);
  if (!e) impl.acceptor.set_option(tcp::acceptor::reuse_address(true), e);
  if (!e) impl.acceptor.bind(endpoint, e);
  if (!e) impl.acceptor.listen(asio::socket_base::max_listen_connections, e);
  if (e) {
    return Status::Unavailable("cannot serve HTTP on '" + options.listen + "': " + e.message());
  }
  impl.bound_port = impl.acceptor.local_endpoint().port();
  impl.Accept();
  impl.thread = std::thread([&impl] { impl.io.run(); });
  return std::unique_ptr<HttpServer>(std::move(server));
}

}  // namespace ember
