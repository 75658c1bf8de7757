#include "common/time_zone.h"

#include <algorithm>
#include <cstdio>
#include <fstream>
#include <iterator>

namespace ember {
namespace {

int64_t BigEndian(const std::string& data, size_t pos, size_t bytes) {
  uint64_t v = 0;
  for (size_t i = 0; i < bytes; ++i) v = (v << 8) | static_cast<uint8_t>(data[pos + i]);
  // Sign-extend 4-byte values.
  if (bytes == 4) return static_cast<int32_t>(static_cast<uint32_t>(v));
  return static_cast<int64_t>(v);
}

}  // namespace

Result<TimeZone> TimeZone::Parse(const std::string& text, const std::string& zoneinfo_dir) {
  TimeZone zone;
  zone.name_ = text;
  if (text == "UTC" || text == "Z" || text == "utc") return zone;
  if (!text.empty() && (text[0] == '+' || text[0] == '-')) {
    int hours = 0, minutes = 0, consumed = 0;
    char sign = 0;
    const bool ok =
        (std::sscanf(text.c_str(), "%c%2d:%2d%n", &sign, &hours, &minutes, &consumed) == 3 ||
         std::sscanf(text.c_str(), "%c%2d%2d%n", &sign, &hours, &minutes, &consumed) == 3) &&
        static_cast<size_t>(consumed) == text.size() && hours <= 14 && minutes < 60;
    if (!ok) {
      return Status::InvalidArgument("timezone '" + text +
                                     "' is not an offset such as +02:00 or -0530");
    }
    const int64_t ms = (hours * 60 + minutes) * 60'000LL;
    zone.initial_offset_ms_ = sign == '-' ? -ms : ms;
    return zone;
  }
  const bool plausible_name = !text.empty() && text.find("..") == std::string::npos &&
                              text[0] != '/' && std::all_of(text.begin(), text.end(), [](char c) {
                                return std::isalnum(static_cast<unsigned char>(c)) || c == '/' ||
                                       c == '_' || c == '-' || c == '+';
                              });
  const std::string path = zoneinfo_dir + "/" + text;
  std::ifstream in(path, std::ios::binary);
  if (!plausible_name || !in) {
    return Status::InvalidArgument("timezone '" + text +
                                   "' is not UTC, an offset such as +02:00, nor a zone in " +
                                   zoneinfo_dir + " (e.g. Europe/Paris; is tzdata installed?)");
  }
  const std::string data((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  auto bad = [&](const std::string& why) {
    return Status::InvalidArgument("timezone '" + text + "': " + path + " is not a TZif file (" +
                                   why + ")");
  };
  // RFC 8536: a 44-byte header, the version-1 data (32-bit times), and for version 2+ a
  // second header and the same data with 64-bit times, which we read.
  auto counts = [&](size_t at, int64_t c[6]) {
    if (data.size() < at + 44 || data.compare(at, 4, "TZif") != 0) return false;
    for (int i = 0; i < 6; ++i) c[i] = BigEndian(data, at + 20 + 4 * static_cast<size_t>(i), 4);
    return std::all_of(c, c + 6, [](int64_t v) { return v >= 0 && v < 100000; });
  };
  int64_t c[6];  // isutcnt, isstdcnt, leapcnt, timecnt, typecnt, charcnt
  if (!counts(0, c)) return bad("no header");
  size_t at = 0;
  size_t time_bytes = 4;
  if (data[4] >= '2') {
    at = 44 + static_cast<size_t>(c[3] * 5 + c[4] * 6 + c[5] + c[2] * 8 + c[1] + c[0]);
    if (!counts(at, c)) return bad("no second header");
    time_bytes = 8;
  }
  const size_t timecnt = static_cast<size_t>(c[3]), typecnt = static_cast<size_t>(c[4]);
  size_t pos = at + 44;
  if (typecnt == 0 || data.size() < pos + timecnt * (time_bytes + 1) + typecnt * 6) {
    return bad("truncated");
  }
  std::vector<int64_t> type_offsets;
  const size_t types_at = pos + timecnt * (time_bytes + 1);
  for (size_t i = 0; i < typecnt; ++i) {
    type_offsets.push_back(BigEndian(data, types_at + i * 6, 4) * 1000);
  }
  for (size_t i = 0; i < timecnt; ++i) {
    const size_t type = static_cast<uint8_t>(data[pos + timecnt * time_bytes + i]);
    if (type >= typecnt) return bad("bad type index");
    zone.transitions_ms_.push_back(BigEndian(data, pos + i * time_bytes, time_bytes) * 1000);
    zone.offsets_ms_.push_back(type_offsets[type]);
  }
  zone.initial_offset_ms_ = type_offsets[0];
  return zone;
}

int64_t TimeZone::OffsetAtUtc(int64_t utc_ms) const {
  auto it = std::upper_bound(transitions_ms_.begin(), transitions_ms_.end(), utc_ms);
  if (it == transitions_ms_.begin()) return initial_offset_ms_;
  return offsets_ms_[static_cast<size_t>(it - transitions_ms_.begin() - 1)];
}

int64_t TimeZone::LocalToUtc(int64_t local_ms) const {
  // Guess with the offset at the local time read as UTC, then correct once: right except in
  // the hour a DST change skips or repeats.
  const int64_t guess = local_ms - OffsetAtUtc(local_ms);
  return local_ms - OffsetAtUtc(guess);
}

}  // namespace ember
