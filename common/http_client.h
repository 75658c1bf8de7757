// HttpFetch: one blocking HTTP/1.1 request over http:// or https://, through libcurl, for
// the webhook and Alertmanager outputs and `ember top`. TLS verifies the peer and its host name
// against the system's CA store, or `ca_file`; a client certificate and key give mTLS.
// Redirects are followed (up to 5; a POST stays a POST); proxies come from HTTPS_PROXY,
// HTTP_PROXY and NO_PROXY as curl reads them; a bearer token or a basic-auth password is read
// from a file at each request, so no secret sits in a configuration file. Only http and https,
// also across redirects. Thread-safe: every call has its own curl handle.
// Linked by the aggregator and the CLI only; libcurl is loaded at the first request (an
// Unavailable error names it when it is missing).
#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "common/status.h"

namespace ember {

struct HttpReply {
  int status = 0;
  std::string body;
};

using HttpHeaders = std::vector<std::pair<std::string, std::string>>;

struct HttpClientOptions {
  int64_t timeout_ms = 5000;      // the whole request, connect included
  std::string ca_file;            // PEM CAs to trust instead of the system's; "" = system store
  std::string cert_file;          // client certificate (PEM) for mTLS; "" = none
  std::string key_file;           // its private key (PEM)
  std::string bearer_token_file;  // "Authorization: Bearer <first line>"; "" = none
  std::string username;           // basic authentication with the password file's first line
  std::string password_file;
  int max_redirects = 5;
};

// Errors (Unavailable, naming the URL and curl's reason): cannot resolve or connect,
// TLS refused (an unknown CA, a wrong host name), timed out, too many redirects, a reply over
// 64 MiB; (InvalidArgument) a secret file that cannot be read. A reply with any status code
// is a success of this call.
Result<HttpReply> HttpFetch(const std::string& method, const std::string& url,
                            const std::string& body, const HttpHeaders& headers,
                            const HttpClientOptions& options);
// The same with default options and `timeout_ms`.
Result<HttpReply> HttpFetch(const std::string& method, const std::string& url,
                            const std::string& body, const HttpHeaders& headers,
                            int64_t timeout_ms);

// InvalidArgument unless `url` is http:// or https:// with a host.
Status CheckHttpUrl(const std::string& url);

// Loads libcurl now (HttpFetch does at its first request): a program that will make requests
// calls it at start, so a missing libcurl is a startup error, not a failed delivery later.
// Errors: Unavailable naming libcurl.so.4 and why. Thread-safe.
Status LoadHttpClient();

}  // namespace ember
