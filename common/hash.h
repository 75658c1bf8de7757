// FNV-1a (64-bit): the one small, stable hash ember persists (rule digests, alert ids, file
// fingerprints). Its values are stored on disk: never change the algorithm. Pure; thread-safe.
#pragma once

#include <cstdint>
#include <cstdio>
#include <string>
#include <string_view>

namespace ember {

inline constexpr uint64_t kFnv1aOffset = 1469598103934665603ULL;

// Continues the hash `h` over `data` (start with kFnv1aOffset).
inline uint64_t Fnv1a64(std::string_view data, uint64_t h = kFnv1aOffset) {
  for (unsigned char c : data) {
    h ^= c;
    h *= 1099511628211ULL;
  }
  return h;
}

// 16 lowercase hex digits.
inline std::string HashHex(uint64_t h) {
  char buf[17];
  std::snprintf(buf, sizeof buf, "%016llx", static_cast<unsigned long long>(h));
  return buf;
}

}  // namespace ember
