// HttpPost / HttpGet: one blocking HTTP/1.1 request to an http:// URL (no TLS), with a total
// timeout. For the webhook and Alertmanager outputs and `ember top`. Thread-safe: every call
// uses its own I/O context. Chunked and Content-Length bodies are both read.
#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "common/status.h"

namespace ember {

struct HttpUrl {
  std::string host;
  std::string port = "80";
  std::string target = "/";  // path and query
};
// Errors: not http://, no host, bad port.
Result<HttpUrl> ParseHttpUrl(const std::string& url);

struct HttpReply {
  int status = 0;
  std::string body;
};

using HttpHeaders = std::vector<std::pair<std::string, std::string>>;

// Errors (Unavailable): cannot resolve or connect, timed out, connection closed early, a
// malformed reply. A reply with any status code is a success of this call.
Result<HttpReply> HttpRequest(const std::string& method, const std::string& url,
                              const std::string& body, const HttpHeaders& headers,
                              int64_t timeout_ms);

}  // namespace ember
