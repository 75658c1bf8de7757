#include "common/units.h"

#include <catch2/catch.hpp>

using ember::FormatDurationMs;
using ember::ParseDurationMs;
using ember::ParseSizeBytes;

TEST_CASE("Units: durations need a known unit and become milliseconds", "[common][units][unit]") {
  struct Case {
    const char* text;
    int64_t ms;
  };
  for (const Case& c :
       {Case{"500ms", 500}, Case{"1s", 1000}, Case{"60s", 60000}, Case{"5m", 300000},
        Case{"2h", 7200000}, Case{"1d", 86400000}, Case{"0s", 0}, Case{"1h30m", 5400000},
        Case{"2m10s", 130000}, Case{"1m500ms", 60500}}) {
    INFO(c.text);
    auto r = ParseDurationMs(c.text);
    REQUIRE(r.ok());
    CHECK(*r == c.ms);
  }
  for (const char* bad :
       {"", "10", "s", "10x", "-1s", "1.5s", "99999999999999999999s", "1h30", "1h 30m"}) {
    INFO(bad);
    auto r = ParseDurationMs(bad);
    REQUIRE_FALSE(r.ok());
    CHECK_FALSE(r.status().message().empty());
  }
  CHECK(ParseDurationMs("10").status().message().find("no unit") != std::string::npos);
}

TEST_CASE("Units: a duration formats back with its largest exact unit", "[common][units][unit]") {
  CHECK(FormatDurationMs(60000) == "1m");
  CHECK(FormatDurationMs(1500) == "1500ms");
  CHECK(FormatDurationMs(30000) == "30s");
  CHECK(FormatDurationMs(0) == "0ms");
  for (int64_t ms : {1, 999, 1000, 61000, 3600000, 90000}) {
    CHECK(*ParseDurationMs(FormatDurationMs(ms)) == ms);
  }
}

TEST_CASE("Units: sizes are binary multiples", "[common][units][unit]") {
  CHECK(*ParseSizeBytes("64KiB") == 65536);
  CHECK(*ParseSizeBytes("1MiB") == 1048576);
  CHECK(*ParseSizeBytes("512B") == 512);
  CHECK_FALSE(ParseSizeBytes("64KB").ok());
  CHECK_FALSE(ParseSizeBytes("64").ok());
}
