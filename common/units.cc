#include "common/units.h"

#include <charconv>
#include <limits>

namespace ember {
namespace {

struct Unit {
  std::string_view name;
  int64_t factor;
};

Result<int64_t> ParseWithUnits(std::string_view text, const Unit* units, size_t n,
                               std::string_view what, std::string_view examples) {
  size_t digits = 0;
  while (digits < text.size() && text[digits] >= '0' && text[digits] <= '9') ++digits;
  if (digits == 0) {
    return Status::InvalidArgument("'" + std::string(text) + "' is not a " + std::string(what) +
                                   ": expected a whole number and a unit, e.g. " +
                                   std::string(examples));
  }
  int64_t number = 0;
  auto [ptr, ec] = std::from_chars(text.data(), text.data() + digits, number);
  if (ec != std::errc() || ptr != text.data() + digits) {
    return Status::InvalidArgument("'" + std::string(text) + "' is too large");
  }
  std::string_view unit = text.substr(digits);
  if (unit.empty()) {
    return Status::InvalidArgument("'" + std::string(text) + "' has no unit: write e.g. " +
                                   std::string(examples));
  }
  for (size_t i = 0; i < n; ++i) {
    if (units[i].name == unit) {
      if (number > std::numeric_limits<int64_t>::max() / units[i].factor) {
        return Status::InvalidArgument("'" + std::string(text) + "' is too large");
      }
      return number * units[i].factor;
    }
  }
  return Status::InvalidArgument("'" + std::string(text) + "' has an unknown unit '" +
                                 std::string(unit) + "': write e.g. " + std::string(examples));
}

constexpr Unit kDurationUnits[] = {
    {"ms", 1}, {"s", 1000}, {"m", 60'000}, {"h", 3'600'000}, {"d", 86'400'000}};
constexpr Unit kSizeUnits[] = {
    {"B", 1}, {"KiB", 1024}, {"MiB", 1024 * 1024}, {"GiB", 1024LL * 1024 * 1024}};

}  // namespace

Result<int64_t> ParseDurationMs(std::string_view text) {
  // A sum of parts, each a number and a unit: "90s", "1h30m", "2m10s".
  int64_t total = 0;
  size_t start = 0;
  do {
    size_t end = start;
    while (end < text.size() && text[end] >= '0' && text[end] <= '9') ++end;
    while (end < text.size() && !(text[end] >= '0' && text[end] <= '9')) ++end;
    const std::string_view part =
        start == 0 && end == text.size() ? text : text.substr(start, end - start);
    Result<int64_t> ms = ParseWithUnits(part, kDurationUnits, std::size(kDurationUnits), "duration",
                                        "500ms, 10s, 5m, 1h30m, 1d");
    if (!ms.ok()) {
      if (part.size() == text.size()) return ms.status();
      return Status::InvalidArgument("'" + std::string(text) + "': " + ms.status().message());
    }
    if (*ms > std::numeric_limits<int64_t>::max() - total) {
      return Status::InvalidArgument("'" + std::string(text) + "' is too large");
    }
    total += *ms;
    start = end;
  } while (start < text.size());
  return total;
}

Result<int64_t> ParseSizeBytes(std::string_view text) {
  return ParseWithUnits(text, kSizeUnits, std::size(kSizeUnits), "size", "512B, 64KiB, 8MiB");
}

std::string FormatDurationMs(int64_t ms) {
  for (auto it = std::rbegin(kDurationUnits); it != std::rend(kDurationUnits); ++it) {
    if (ms != 0 && ms % it->factor == 0) {
      return std::to_string(ms / it->factor) + std::string(it->name);
    }
  }
  return std::to_string(ms) + "ms";
}

}  // namespace ember
