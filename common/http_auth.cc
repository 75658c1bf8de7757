#include "common/http_auth.h"

#include <crypt.h>
#include <sodium.h>

#include <algorithm>
#include <cctype>
#include <cstdint>
#include <cstdlib>

namespace ember {
namespace {

constexpr size_t kMaxVerified = 64;

bool EqualInConstantTime(std::string_view a, std::string_view b) {
  return a.size() == b.size() && sodium_memcmp(a.data(), b.data(), a.size()) == 0;
}

std::string Sha256(std::string_view data) {
  unsigned char digest[crypto_hash_sha256_BYTES];
  crypto_hash_sha256(digest, reinterpret_cast<const unsigned char*>(data.data()), data.size());
  return std::string(reinterpret_cast<const char*>(digest), sizeof digest);
}

// "Scheme rest" with the scheme compared case-insensitively; the rest without leading blanks.
bool StripScheme(std::string_view header, std::string_view scheme, std::string_view* rest) {
  if (header.size() <= scheme.size() || header[scheme.size()] != ' ') return false;
  for (size_t i = 0; i < scheme.size(); ++i) {
    if (std::tolower(static_cast<unsigned char>(header[i])) != scheme[i]) return false;
  }
  *rest = header.substr(scheme.size() + 1);
  while (!rest->empty() && rest->front() == ' ') rest->remove_prefix(1);
  return true;
}

}  // namespace

bool DecodeBase64(std::string_view in, std::string* out) {
  auto value = [](char c) -> int {
    if (c >= 'A' && c <= 'Z') return c - 'A';
    if (c >= 'a' && c <= 'z') return c - 'a' + 26;
    if (c >= '0' && c <= '9') return c - '0' + 52;
    if (c == '+') return 62;
    if (c == '/') return 63;
    return -1;
  };
  if (in.size() % 4 != 0) return false;
  out->clear();
  for (size_t i = 0; i < in.size(); i += 4) {
    const bool last = i + 4 == in.size();
    int v[4];
    int pad = 0;
    for (int k = 0; k < 4; ++k) {
      const char c = in[i + k];
      if (c == '=' && last && k >= 2) {
        ++pad;
        v[k] = 0;
        continue;
      }
      if (pad > 0) return false;  // data after padding
      v[k] = value(c);
      if (v[k] < 0) return false;
    }
    const uint32_t n = (v[0] << 18) | (v[1] << 12) | (v[2] << 6) | v[3];
    out->push_back(static_cast<char>(n >> 16));
    if (pad < 2) out->push_back(static_cast<char>((n >> 8) & 0xff));
    if (pad < 1) out->push_back(static_cast<char>(n & 0xff));
  }
  return true;
}

HttpAuthenticator::HttpAuthenticator(const WebConfig& config)
    : users_(config.basic_auth_users), token_(config.bearer_token) {
  if (sodium_init() < 0) std::abort();  // cannot happen once libsodium is loaded
}

bool HttpAuthenticator::Allows(std::string_view authorization) {
  if (!required()) return true;
  std::string_view rest;
  if (!token_.empty() && StripScheme(authorization, "bearer", &rest)) {
    return EqualInConstantTime(rest, token_);
  }
  if (!users_.empty() && StripScheme(authorization, "basic", &rest)) return AllowsBasic(rest);
  return false;
}

bool HttpAuthenticator::AllowsBasic(std::string_view encoded) {
  const std::string digest = Sha256(encoded);
  if (std::find(verified_.begin(), verified_.end(), digest) != verified_.end()) return true;
  std::string decoded;
  if (!DecodeBase64(encoded, &decoded)) return false;
  const size_t colon = decoded.find(':');
  if (colon == std::string::npos) return false;
  auto user = users_.find(decoded.substr(0, colon));
  if (user == users_.end()) return false;
  const std::string password = decoded.substr(colon + 1);
  crypt_data data{};
  const char* hashed = crypt_r(password.c_str(), user->second.c_str(), &data);
  if (hashed == nullptr || !EqualInConstantTime(hashed, user->second)) return false;
  verified_.push_back(digest);
  if (verified_.size() > kMaxVerified) verified_.pop_front();
  return true;
}

std::string HttpAuthenticator::Challenge() const {
  return users_.empty() ? "Bearer realm=\"ember\"" : "Basic realm=\"ember\", charset=\"UTF-8\"";
}

}  // namespace ember
