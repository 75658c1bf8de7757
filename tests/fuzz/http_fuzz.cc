// libFuzzer target for what the HTTP endpoints read from a client: a request through
// Boost.Beast's parser with the server's limits (16 KiB head and body), then its
// Authorization header through the authenticator (Basic and Bearer, base64). Any bytes must
// parse or be refused, never crash or read out of bounds.
#include <cstddef>
#include <cstdint>
#include <string>

#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

#include "common/http_auth.h"

namespace http = boost::beast::http;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static ember::HttpAuthenticator auth([] {
    ember::WebConfig web;
    // "scrape-secret", bcrypt cost 4 (made by Python's crypt module).
    web.basic_auth_users = {
        {"alice", "$2b$04$4rq79tCH9CaRXNqxqvUqUeP7T0BYJZaKdNK/UVVTRkm73jzDkqgp6"}};
    web.bearer_token = "0123456789abcdef0123";
    return web;
  }());
  http::request_parser<http::string_body> parser;
  parser.header_limit(16 << 10);
  parser.body_limit(16 << 10);
  boost::beast::error_code e;
  parser.put(boost::asio::buffer(data, size), e);
  if (!e || e == http::error::need_more) {
    const auto& req = parser.get();
    const auto header = req[http::field::authorization];
    (void)auth.Allows(std::string_view(header.data(), header.size()));
  }
  std::string decoded;
  (void)ember::DecodeBase64(std::string_view(reinterpret_cast<const char*>(data), size), &decoded);
  return 0;
}
