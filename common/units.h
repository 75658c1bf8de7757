// Parsing of durations and sizes as operators write them in YAML ("500ms", "60s", "5m",
// "64KiB"). Every value must carry its unit. Pure functions; thread-safe.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "common/status.h"

namespace ember {

// Parses "<integer><unit>" with unit ms, s, m, h or d into milliseconds. A missing or unknown
// unit, a negative or overflowing number is InvalidArgument naming the text.
Result<int64_t> ParseDurationMs(std::string_view text);

// Formats milliseconds the way ParseDurationMs reads them, choosing the largest exact unit:
// 60000 -> "1m", 1500 -> "1500ms".
std::string FormatDurationMs(int64_t ms);

// Parses "<integer><unit>" with unit B, KiB, MiB or GiB into bytes.
Result<int64_t> ParseSizeBytes(std::string_view text);

}  // namespace ember
