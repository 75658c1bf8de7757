// Fixed-width integers as bytes, for stored keys and values. Pure inline functions.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace ember {

// Appends the sizeof(T) bytes of `v`, least significant first.
template <class T>
void PutLe(std::string& out, T v) {
  for (size_t i = 0; i < sizeof(T); ++i) out.push_back(static_cast<char>((v >> (8 * i)) & 0xff));
}
// Reads what PutLe wrote. REQUIRES: s.size() >= sizeof(T).
template <class T>
T GetLe(std::string_view s) {
  T v = 0;
  for (size_t i = sizeof(T); i-- > 0;) v = static_cast<T>((v << 8) | static_cast<uint8_t>(s[i]));
  return v;
}
inline uint32_t GetU32Le(std::string_view s) { return GetLe<uint32_t>(s); }
inline uint64_t GetU64Le(std::string_view s) { return GetLe<uint64_t>(s); }

// Big-endian: keys that sort by number.
inline void PutU64BigEndian(std::string& out, uint64_t v) {
  for (int i = 7; i >= 0; --i) out.push_back(static_cast<char>((v >> (8 * i)) & 0xff));
}
// REQUIRES: s.size() >= 8.
inline uint64_t GetU64BigEndian(std::string_view s) {
  uint64_t v = 0;
  for (int i = 0; i < 8; ++i) v = (v << 8) | static_cast<uint8_t>(s[i]);
  return v;
}

}  // namespace ember
