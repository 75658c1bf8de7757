#include "common/http_server.h"

#include <cerrno>
#include <deque>
#include <memory>
#include <thread>

#include <boost/asio.hpp>

namespace ember {
namespace asio = boost::asio;
using asio::ip::tcp;

namespace {

constexpr size_t kMaxRequestBytes = 16 << 10;
constexpr auto kConnectionTimeout = std::chrono::seconds(5);
// Connections served at once; a new one beyond closes the oldest, so idle or slow clients
// cannot keep a scrape out.
constexpr size_t kMaxConnections = 64;
// Out of file descriptors: wait this long before accepting again instead of spinning.
constexpr auto kAcceptBackoff = std::chrono::milliseconds(100);

const char* Reason(int status) {
  switch (status) {
    case 200:
      return "OK";
    case 400:
      return "Bad Request";
    case 404:
      return "Not Found";
    case 405:
      return "Method Not Allowed";
    case 413:
      return "Request Header Fields Too Large";
    default:
      return "Error";
  }
}

std::string Serialize(const HttpResponse& r) {
  std::string out = "HTTP/1.1 " + std::to_string(r.status) + " " + Reason(r.status) + "\r\n";
  out += "Content-Type: " + r.content_type + "\r\n";
  out += "Content-Length: " + std::to_string(r.body.size()) + "\r\n";
  out += "Connection: close\r\n\r\n";
  out += r.body;
  return out;
}

// One connection: read the head, answer, close. Lives as long as its pending operations.
class Connection : public std::enable_shared_from_this<Connection> {
 public:
  Connection(tcp::socket socket, const HttpServer::Handler& handler)
      : socket_(std::move(socket)),
        timer_(socket_.get_executor()),
        buffer_(kMaxRequestBytes),
        handler_(handler) {}

  // Closes the connection now (evicted for a newer one); its handlers then finish.
  void Close() {
    boost::system::error_code ignored;
    socket_.close(ignored);
  }

  void Start() {
    auto self = shared_from_this();
    timer_.expires_after(kConnectionTimeout);
    timer_.async_wait([self](const boost::system::error_code& e) {
      if (!e) {
        boost::system::error_code ignored;
        self->socket_.close(ignored);
      }
    });
    asio::async_read_until(socket_, buffer_, "\r\n\r\n",
                           [self](const boost::system::error_code& e, size_t) { self->OnHead(e); });
  }

 private:
  void OnHead(const boost::system::error_code& e) {
    HttpResponse response;
    if (e == asio::error::not_found) {
      response = {413, "text/plain; charset=utf-8", "request head over 16 KiB\n"};
    } else if (e) {
      timer_.cancel();
      return;
    } else {
      std::istream in(&buffer_);
      std::string line;
      std::getline(in, line);
      if (!line.empty() && line.back() == '\r') line.pop_back();
      HttpRequest request;
      size_t sp1 = line.find(' ');
      size_t sp2 = sp1 == std::string::npos ? sp1 : line.find(' ', sp1 + 1);
      if (sp2 == std::string::npos) {
        response = {400, "text/plain; charset=utf-8", "malformed request line\n"};
      } else {
        request.method = line.substr(0, sp1);
        std::string target = line.substr(sp1 + 1, sp2 - sp1 - 1);
        size_t q = target.find('?');
        request.path = target.substr(0, q);
        if (q != std::string::npos) request.query = target.substr(q + 1);
        if (request.method != "GET" && request.method != "HEAD") {
          response = {405, "text/plain; charset=utf-8", "only GET is served\n"};
        } else {
          response = handler_(request);
          if (request.method == "HEAD") response.body.clear();
        }
      }
    }
    out_ = Serialize(response);
    auto self = shared_from_this();
    asio::async_write(socket_, asio::buffer(out_),
                      [self](const boost::system::error_code&, size_t) {
                        boost::system::error_code ignored;
                        self->socket_.shutdown(tcp::socket::shutdown_both, ignored);
                        self->socket_.close(ignored);
                        self->timer_.cancel();
                      });
  }

  tcp::socket socket_;
  asio::steady_timer timer_;
  asio::streambuf buffer_;
  const HttpServer::Handler& handler_;
  std::string out_;
};

}  // namespace

Result<HostPort> ParseHostPort(const std::string& text) {
  size_t colon = text.rfind(':');
  if (colon == std::string::npos || colon == 0 || colon + 1 == text.size()) {
    return Status::InvalidArgument("'" + text + "' is not host:port (e.g. 127.0.0.1:7451)");
  }
  HostPort hp;
  hp.host = text.substr(0, colon);
  if (hp.host.front() == '[' && hp.host.back() == ']')
    hp.host = hp.host.substr(1, hp.host.size() - 2);
  const std::string port = text.substr(colon + 1);
  if (port.size() > 5 || port.find_first_not_of("0123456789") != std::string::npos ||
      std::stoul(port) > 65535) {
    return Status::InvalidArgument("'" + text + "': bad port '" + port + "'");
  }
  hp.port = static_cast<uint16_t>(std::stoul(port));
  return hp;
}

Status CheckZmqEndpoint(const std::string& endpoint) {
  if (endpoint.rfind("ipc://", 0) == 0 && endpoint.size() > 6) return Status::Ok();
  if (endpoint.rfind("tcp://", 0) != 0) {
    return Status::InvalidArgument("'" + endpoint + "' must start with tcp:// or ipc://");
  }
  const size_t colon = endpoint.rfind(':');
  const std::string port = colon == std::string::npos ? "" : endpoint.substr(colon + 1);
  if (colon <= 6 || port.empty() || port.size() > 5 ||
      port.find_first_not_of("0123456789") != std::string::npos || std::stoul(port) == 0 ||
      std::stoul(port) > 65535) {
    return Status::InvalidArgument("'" + endpoint + "' needs a port from 1 to 65535 (tcp://" +
                                   "host:port)");
  }
  return Status::Ok();
}

struct HttpServer::Impl {
  explicit Impl(Handler h) : handler(std::move(h)), acceptor(io), backoff(io) {}
  void Accept() {
    acceptor.async_accept([this](const boost::system::error_code& e, tcp::socket socket) {
      if (e == asio::error::operation_aborted) return;
      if (e == asio::error::no_descriptors || e.value() == ENFILE || e.value() == ENOBUFS ||
          e.value() == ENOMEM) {
        backoff.expires_after(kAcceptBackoff);
        backoff.async_wait([this](const boost::system::error_code& w) {
          if (!w) Accept();
        });
        return;
      }
      if (!e) Admit(std::move(socket));
      Accept();
    });
  }
  void Admit(tcp::socket socket) {
    std::erase_if(live, [](const std::weak_ptr<Connection>& c) { return c.expired(); });
    while (live.size() >= kMaxConnections) {
      if (auto oldest = live.front().lock()) oldest->Close();
      live.pop_front();
    }
    auto connection = std::make_shared<Connection>(std::move(socket), handler);
    live.push_back(connection);
    connection->Start();
  }
  Handler handler;
  asio::io_context io;
  tcp::acceptor acceptor;
  asio::steady_timer backoff;
  std::deque<std::weak_ptr<Connection>> live;  // oldest first
  std::thread thread;
};

Result<std::unique_ptr<HttpServer>> HttpServer::Start(const std::string& listen, Handler handler) {
  Result<HostPort> hp = ParseHostPort(listen);
  if (!hp.ok()) return hp.status();
  std::unique_ptr<HttpServer> server(new HttpServer());
  server->impl_ = std::make_unique<Impl>(std::move(handler));
  Impl& impl = *server->impl_;
  boost::system::error_code e;
  asio::ip::address address = asio::ip::make_address(hp->host, e);
  if (e) {
    return Status::InvalidArgument("'" + listen + "': '" + hp->host +
                                   "' is not an IP address (use 127.0.0.1 or ::1)");
  }
  tcp::endpoint endpoint(address, hp->port);
  impl.acceptor.open(endpoint.protocol(), e);
  if (!e) impl.acceptor.set_option(tcp::acceptor::reuse_address(true), e);
  if (!e) impl.acceptor.bind(endpoint, e);
  if (!e) impl.acceptor.listen(asio::socket_base::max_listen_connections, e);
  if (e) return Status::Unavailable("cannot serve HTTP on '" + listen + "': " + e.message());
  server->port_ = impl.acceptor.local_endpoint().port();
  impl.Accept();
  impl.thread = std::thread([&impl] { impl.io.run(); });
  return server;
}

HttpServer::~HttpServer() {
  if (!impl_) return;
  impl_->io.stop();
  if (impl_->thread.joinable()) impl_->thread.join();
}

}  // namespace ember
