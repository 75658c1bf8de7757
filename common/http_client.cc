#include "common/http_client.h"

#include <boost/asio.hpp>

namespace ember {
namespace asio = boost::asio;
using asio::ip::tcp;

namespace {

constexpr size_t kMaxReplyBytes = 64 << 20;

bool ParseHex(std::string_view s, size_t* out) {
  size_t v = 0;
  size_t i = 0;
  for (; i < s.size() && std::isxdigit(static_cast<unsigned char>(s[i])); ++i) {
    if (v > (kMaxReplyBytes >> 4)) return false;
    const char c = s[i];
    const size_t digit = c <= '9' ? static_cast<size_t>(c - '0')
                                  : static_cast<size_t>((c | 0x20) - 'a' + 10);  // a-f, A-F
    v = v * 16 + digit;
  }
  *out = v;
  return i > 0;
}

std::string Lower(std::string s) {
  for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

// Splits a complete reply (read to EOF) into status and body.
Result<HttpReply> ParseReply(const std::string& raw) {
  size_t head_end = raw.find("\r\n\r\n");
  if (raw.rfind("HTTP/1.", 0) != 0 || head_end == std::string::npos || raw.size() < 12) {
    return Status::Unavailable("malformed HTTP reply");
  }
  HttpReply reply;
  reply.status = std::atoi(raw.c_str() + 9);
  std::string head = Lower(raw.substr(0, head_end));
  std::string body = raw.substr(head_end + 4);
  if (head.find("\r\ntransfer-encoding: chunked") != std::string::npos) {
    size_t pos = 0;
    for (;;) {
      size_t eol = body.find("\r\n", pos);
      size_t size = 0;
      if (eol == std::string::npos ||
          !ParseHex(std::string_view(body).substr(pos, eol - pos), &size)) {
        return Status::Unavailable("malformed chunked HTTP reply");
      }
      if (size == 0) break;
      if (eol + 2 + size > body.size()) return Status::Unavailable("truncated HTTP reply");
      reply.body.append(body, eol + 2, size);
      pos = eol + 2 + size + 2;
    }
  } else {
    reply.body = std::move(body);
  }
  return reply;
}

}  // namespace

Result<HttpUrl> ParseHttpUrl(const std::string& url) {
  if (url.rfind("http://", 0) != 0) {
    return Status::InvalidArgument("'" + url + "' is not an http:// URL");
  }
  std::string rest = url.substr(7);
  HttpUrl out;
  size_t slash = rest.find('/');
  std::string authority = rest.substr(0, slash);
  if (slash != std::string::npos) out.target = rest.substr(slash);
  if (!authority.empty() && authority.front() == '[') {
    size_t close = authority.find(']');
    if (close == std::string::npos) return Status::InvalidArgument("'" + url + "': bad host");
    out.host = authority.substr(1, close - 1);
    if (close + 1 < authority.size() && authority[close + 1] == ':') {
      out.port = authority.substr(close + 2);
    }
  } else {
    size_t colon = authority.rfind(':');
    out.host = authority.substr(0, colon);
    if (colon != std::string::npos) out.port = authority.substr(colon + 1);
  }
  if (out.host.empty()) return Status::InvalidArgument("'" + url + "' has no host");
  if (out.port.empty() || out.port.size() > 5 ||
      out.port.find_first_not_of("0123456789") != std::string::npos) {
    return Status::InvalidArgument("'" + url + "': bad port '" + out.port + "'");
  }
  return out;
}

Result<HttpReply> HttpRequest(const std::string& method, const std::string& url,
                              const std::string& body, const HttpHeaders& headers,
                              int64_t timeout_ms) {
  Result<HttpUrl> u = ParseHttpUrl(url);
  if (!u.ok()) return u.status();
  std::string request = method + " " + u->target + " HTTP/1.1\r\nHost: " + u->host + ":" + u->port +
                        "\r\nUser-Agent: ember/" EMBER_VERSION "\r\nConnection: close\r\n";
  bool has_type = false;
  for (const auto& [name, value] : headers) {
    request += name + ": " + value + "\r\n";
    if (Lower(name) == "content-type") has_type = true;
  }
  if (!body.empty() || method == "POST" || method == "PUT") {
    if (!has_type) request += "Content-Type: application/json\r\n";
    request += "Content-Length: " + std::to_string(body.size()) + "\r\n";
  }
  request += "\r\n";
  request += body;

  asio::io_context io;
  tcp::resolver resolver(io);
  tcp::socket socket(io);
  std::string raw;
  std::array<char, 16384> buf;
  boost::system::error_code failure;
  bool done = false;
  std::function<void()> read_more = [&] {
    socket.async_read_some(asio::buffer(buf), [&](const boost::system::error_code& e, size_t n) {
      raw.append(buf.data(), n);
      if (e == asio::error::eof) {
        done = true;
      } else if (e) {
        failure = e;
      } else if (raw.size() > kMaxReplyBytes) {
        failure = asio::error::message_size;
      } else {
        read_more();
      }
    });
  };
  resolver.async_resolve(
      u->host, u->port,
      [&](const boost::system::error_code& e, tcp::resolver::results_type results) {
        if (e) {
          failure = e;
          return;
        }
        asio::async_connect(socket, results,
                            [&](const boost::system::error_code& ce, const tcp::endpoint&) {
                              if (ce) {
                                failure = ce;
                                return;
                              }
                              asio::async_write(socket, asio::buffer(request),
                                                [&](const boost::system::error_code& we, size_t) {
                                                  if (we) {
                                                    failure = we;
                                                    return;
                                                  }
                                                  read_more();
                                                });
                            });
      });
  io.run_for(std::chrono::milliseconds(timeout_ms));
  if (!done && !failure) {
    return Status::Unavailable(method + " " + url + ": no complete reply within " +
                               std::to_string(timeout_ms) + " ms");
  }
  if (failure) return Status::Unavailable(method + " " + url + ": " + failure.message());
  Result<HttpReply> reply = ParseReply(raw);
  if (!reply.ok()) return reply.status().WithContext(method + " " + url);
  return reply;
}

}  // namespace ember
