// Time zones from the system's tz database (Debian's tzdata), against offsets known from
// the zones' published rules.
#include "common/time_zone.h"

#include <catch2/catch.hpp>

#include "engine/event_time.h"

using ember::TimeZone;
using ember::engine::CivilToUnixMs;

TEST_CASE("TimeZone: a named zone follows its daylight saving changes",
          "[common][time_zone][unit]") {
  auto paris = TimeZone::Parse("Europe/Paris");
  INFO(paris.status().ToString());
  REQUIRE(paris.ok());
  const int64_t hour = 3'600'000;
  // Winter UTC+1, summer UTC+2; in 2026 summer time runs from 29 March 01:00 UTC to
  // 25 October 01:00 UTC.
  CHECK(paris->OffsetAtUtc(CivilToUnixMs(2026, 1, 15, 12, 0, 0, 0)) == 1 * hour);
  CHECK(paris->OffsetAtUtc(CivilToUnixMs(2026, 7, 1, 12, 0, 0, 0)) == 2 * hour);
  CHECK(paris->OffsetAtUtc(CivilToUnixMs(2026, 3, 29, 0, 59, 59, 0)) == 1 * hour);
  CHECK(paris->OffsetAtUtc(CivilToUnixMs(2026, 3, 29, 1, 0, 0, 0)) == 2 * hour);
  CHECK(paris->LocalToUtc(CivilToUnixMs(2026, 7, 1, 12, 0, 0, 0)) ==
        CivilToUnixMs(2026, 7, 1, 10, 0, 0, 0));
  CHECK(paris->LocalToUtc(CivilToUnixMs(2026, 1, 15, 12, 0, 0, 0)) ==
        CivilToUnixMs(2026, 1, 15, 11, 0, 0, 0));

  auto new_york = TimeZone::Parse("America/New_York");
  REQUIRE(new_york.ok());
  CHECK(new_york->LocalToUtc(CivilToUnixMs(2026, 11, 22, 10, 0, 0, 0)) ==
        CivilToUnixMs(2026, 11, 22, 15, 0, 0, 0));
  CHECK(new_york->LocalToUtc(CivilToUnixMs(2026, 6, 1, 10, 0, 0, 0)) ==
        CivilToUnixMs(2026, 6, 1, 14, 0, 0, 0));
}

TEST_CASE("TimeZone: a named zone keeps its rules past 2037", "[common][time_zone][unit]") {
  // Debian's TZif files list transitions up to 2037; later ones follow the rule in the file's
  // POSIX footer (for Paris: summer time from the last Sunday of March to the last of October).
  auto paris = TimeZone::Parse("Europe/Paris");
  REQUIRE(paris.ok());
  const int64_t hour = 3'600'000;
  CHECK(paris->OffsetAtUtc(CivilToUnixMs(2040, 7, 1, 12, 0, 0, 0)) == 2 * hour);
  CHECK(paris->OffsetAtUtc(CivilToUnixMs(2040, 12, 1, 12, 0, 0, 0)) == 1 * hour);
  // 2045: summer time from 26 March 01:00 UTC.
  CHECK(paris->OffsetAtUtc(CivilToUnixMs(2045, 3, 26, 0, 59, 59, 0)) == 1 * hour);
  CHECK(paris->OffsetAtUtc(CivilToUnixMs(2045, 3, 26, 1, 0, 0, 0)) == 2 * hour);
  CHECK(paris->LocalToUtc(CivilToUnixMs(2050, 8, 1, 12, 0, 0, 250)) ==
        CivilToUnixMs(2050, 8, 1, 10, 0, 0, 250));
}

TEST_CASE("TimeZone: zones of the database without changes keep their one offset",
          "[common][time_zone][unit]") {
  const int64_t hour = 3'600'000;
  // Etc/GMT-3 is three hours east of UTC (POSIX signs), Etc/UTC none, at any time.
  for (const auto& [name, offset] :
       {std::pair{"Etc/UTC", int64_t{0}}, {"Etc/GMT-3", 3 * hour}, {"Etc/GMT+10", -10 * hour}}) {
    INFO(name);
    auto zone = TimeZone::Parse(name);
    REQUIRE(zone.ok());
    for (int64_t t : {CivilToUnixMs(1950, 6, 1, 0, 0, 0, 0), CivilToUnixMs(2026, 3, 29, 1, 0, 0, 0),
                      CivilToUnixMs(2026, 10, 25, 0, 30, 0, 125)}) {
      CHECK(zone->OffsetAtUtc(t) == offset);
      CHECK(zone->LocalToUtc(t) == t - offset);
    }
  }
}

TEST_CASE("TimeZone: fixed offsets, UTC, and what is refused", "[common][time_zone][unit]") {
  CHECK(TimeZone::Parse("UTC")->OffsetAtUtc(0) == 0);
  CHECK(TimeZone::Parse("+05:30")->OffsetAtUtc(0) == 19'800'000);
  CHECK(TimeZone::Parse("-0800")->LocalToUtc(0) == 28'800'000);
  for (const char* bad : {"Mars/Olympus", "+25:00", "../../etc/passwd", "", "+1"}) {
    INFO(bad);
    auto z = TimeZone::Parse(bad);
    REQUIRE_FALSE(z.ok());
    CHECK(z.status().message().find(std::string("timezone '") + bad + "'") == 0);
  }
  // A file that is not TZif is named as such.
  auto z = TimeZone::Parse("hosts", "/etc");
  REQUIRE_FALSE(z.ok());
  CHECK(z.status().message().find("/etc/hosts is not a TZif file") != std::string::npos);
}
