#include "common/time_zone.h"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <limits>

namespace ember {
namespace {

constexpr int64_t kDayMs = 86'400'000;

int64_t FloorDiv(int64_t a, int64_t b) {
  return a / b - ((a % b != 0 && (a < 0) != (b < 0)) ? 1 : 0);
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
    const int seconds = (hours * 60 + minutes) * 60;
    zone.zone_ = cctz::fixed_time_zone(cctz::seconds(sign == '-' ? -seconds : seconds));
    zone.NoteFixedOffset();
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
  char magic[4] = {};
  in.read(magic, sizeof magic);
  if (in.gcount() != 4 || std::string_view(magic, 4) != "TZif" ||
      !cctz::load_time_zone(path, &zone.zone_)) {
    return Status::InvalidArgument("timezone '" + text + "': " + path + " is not a TZif file");
  }
  zone.NoteFixedOffset();
  return zone;
}

void TimeZone::NoteFixedOffset() {
  const auto beginning = std::chrono::time_point<std::chrono::system_clock, cctz::seconds>(
      cctz::seconds(std::numeric_limits<int32_t>::min()));
  cctz::time_zone::civil_transition transition;
  if (zone_.next_transition(beginning, &transition)) {
    fixed_offset_ms_.reset();
  } else {
    fixed_offset_ms_ = static_cast<int64_t>(zone_.lookup(beginning).offset) * 1000;
  }
}

int64_t TimeZone::OffsetAtUtc(int64_t utc_ms) const {
  if (fixed_offset_ms_) return *fixed_offset_ms_;
  const auto tp = std::chrono::time_point<std::chrono::system_clock, cctz::seconds>(
      cctz::seconds(FloorDiv(utc_ms, 1000)));
  return static_cast<int64_t>(zone_.lookup(tp).offset) * 1000;
}

int64_t TimeZone::LocalToUtc(int64_t local_ms) const {
  if (fixed_offset_ms_) return local_ms - *fixed_offset_ms_;
  const int64_t days = FloorDiv(local_ms, kDayMs);
  const int64_t ms_of_day = local_ms - days * kDayMs;
  const cctz::civil_second local =
      cctz::civil_second(1970, 1, 1, 0, 0, 0) + days * 86'400 + ms_of_day / 1000;
  const cctz::time_zone::civil_lookup found = zone_.lookup(local);
  // pre: the offset before the change, for a skipped time and for the first of a repeated one.
  return static_cast<int64_t>(found.pre.time_since_epoch().count()) * 1000 + ms_of_day % 1000;
}

}  // namespace ember
