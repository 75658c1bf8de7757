// HttpAuthenticator: decides whether a request's `Authorization` header proves one of the
// identities a WebConfig names (Basic with a crypt(3)-hashed password, or Bearer with the
// token). Verified Basic credentials are remembered (as SHA-256 digests, at most 64) so a
// scraper does not pay a bcrypt check per request. Used by one thread; not thread-safe.
#pragma once

#include <deque>
#include <map>
#include <string>
#include <string_view>

#include "common/web_config.h"

namespace ember {

class HttpAuthenticator {
 public:
  explicit HttpAuthenticator(const WebConfig& config);

  // Whether requests must carry credentials (users or a token are configured).
  bool required() const { return !users_.empty() || !token_.empty(); }

  // `authorization` is the header's value ("" when absent). True when no credentials are
  // required or these are right.
  bool Allows(std::string_view authorization);

  // The WWW-Authenticate value for a 401 answer.
  std::string Challenge() const;

 private:
  bool AllowsBasic(std::string_view encoded);

  std::map<std::string, std::string> users_;  // name -> crypt(3) hash
  std::string token_;
  std::deque<std::string> verified_;  // digests of accepted Basic credentials, newest last
};

// Standard base64 (RFC 4648, with padding) decoded; false for anything else.
bool DecodeBase64(std::string_view in, std::string* out);

}  // namespace ember
