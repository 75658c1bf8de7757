// Time stamps with UTC offsets, in named zones across DST changes and leap days, read by the
// auto-detector and by rule formats, against instants formatted by cctz (the reference:
// formatting, independent of the parsing code under test) and cases computed by hand.
#include <cctz/civil_time.h>
#include <cctz/time_zone.h>

#include <chrono>
#include <random>
#include <string>

#include <catch2/catch.hpp>

#include "common/time_zone.h"
#include "engine/event_time.h"

using ember::TimeZone;
using ember::engine::CivilToUnixMs;
using ember::engine::EventTimeParser;
using ember::engine::ParseRuleTimestamp;

namespace {

using Ms = std::chrono::time_point<std::chrono::system_clock, std::chrono::milliseconds>;

std::string Format(const std::string& fmt, int64_t ms, const cctz::time_zone& zone) {
  return cctz::format(fmt, Ms(std::chrono::milliseconds(ms)), zone);
}

cctz::time_zone Load(const std::string& name) {
  cctz::time_zone z;
  REQUIRE(cctz::load_time_zone(name, &z));
  return z;
}

// Seeded instants: random ones from 1972 to 2099, plus the hours around each zone's DST
// changes and leap days.
std::vector<int64_t> Instants(const cctz::time_zone& zone) {
  std::mt19937_64 rng(2024);
  std::vector<int64_t> out;
  const int64_t from = CivilToUnixMs(1972, 1, 1, 0, 0, 0, 0);
  const int64_t to = CivilToUnixMs(2099, 12, 31, 0, 0, 0, 0);
  for (int i = 0; i < 400; ++i) out.push_back(from + static_cast<int64_t>(rng() % (to - from)));
  for (int year : {2000, 2024, 2041}) {
    const int64_t leap = CivilToUnixMs(year, 2, 29, 23, 59, 59, 999);
    for (int64_t d : {-3'600'000LL, 0LL, 1LL, 3'600'000LL}) out.push_back(leap + d);
  }
  auto tp = std::chrono::time_point_cast<cctz::seconds>(
      std::chrono::system_clock::from_time_t(CivilToUnixMs(2023, 1, 1, 0, 0, 0, 0) / 1000));
  cctz::time_zone::civil_transition tr;
  for (int i = 0; i < 8 && zone.next_transition(tp, &tr); ++i) {
    tp = zone.lookup(tr.to).trans;
    const int64_t at = tp.time_since_epoch().count() * 1000;
    for (int64_t d : {-5'400'000LL, -1000LL, 0LL, 1000LL, 1'800'000LL}) out.push_back(at + d);
  }
  return out;
}

}  // namespace

TEST_CASE("Time stamps: ISO-8601, RFC 3339, RFC 5424 and common-log stamps with offsets",
          "[engine][event_time][unit]") {
  for (const char* name : {"UTC", "Europe/Paris", "America/New_York", "Asia/Kolkata",
                           "America/St_Johns", "Australia/Lord_Howe", "Pacific/Chatham"}) {
    const cctz::time_zone zone = Load(name);
    for (int64_t ms : Instants(zone)) {
      INFO(name << " at " << ms << " ms");
      const int64_t secs = ms - ((ms % 1000) + 1000) % 1000;
      EventTimeParser parser(2000);
      // RFC 3339 with milliseconds and +hh:mm.
      std::string text = Format("%Y-%m-%dT%H:%M:%E3S%Ez level=info msg=x", ms, zone);
      CHECK(parser.Parse(text) == ms);
      // +hhmm after a space, as Python's %z and many JSON loggers write it.
      text = Format("%Y-%m-%d %H:%M:%S %z app: started", ms, zone);
      CHECK(parser.Parse(text) == secs);
      // RFC 5424 syslog, microseconds.
      text = "<165>1 " + Format("%Y-%m-%dT%H:%M:%E6S%Ez", ms, zone) + " host app 42 - - msg";
      CHECK(parser.Parse(text) == ms);
      // nginx / Apache common log format.
      text = "203.0.113.9 - - [" + Format("%d/%b/%Y:%H:%M:%S %z", ms, zone) + "] \"GET /\"";
      CHECK(parser.Parse(text) == secs);
      // A rule's own format with %z, %Ez and fractions as %f.
      CHECK(ParseRuleTimestamp(Format("%Y-%m-%d %H:%M:%E3S %z", ms, zone),
                               "%Y-%m-%d %H:%M:%S.%f %z", nullptr, ms) == ms);
      CHECK(ParseRuleTimestamp(Format("%Y-%m-%dT%H:%M:%S%Ez", ms, zone), "%Y-%m-%dT%H:%M:%S%Ez",
                               nullptr, ms) == secs);
    }
  }
}

TEST_CASE("Time stamps: wall-clock times in a rule's named zone, across DST and year ends",
          "[engine][event_time][unit]") {
  for (const char* name : {"Europe/Paris", "America/New_York", "Australia/Lord_Howe"}) {
    const cctz::time_zone zone = Load(name);
    auto ember_zone = TimeZone::Parse(name);
    REQUIRE(ember_zone.ok());
    for (int64_t ms : Instants(zone)) {
      const int64_t secs = ms - ((ms % 1000) + 1000) % 1000;
      const auto local = zone.lookup(Ms(std::chrono::milliseconds(ms))).cs;
      // A wall-clock time that happens twice (the hour DST gives back) is read as its first.
      if (zone.lookup(local).kind == cctz::time_zone::civil_lookup::REPEATED) continue;
      INFO(name << " at " << ms << " ms: " << Format("%Y-%m-%d %H:%M:%S %z", ms, zone));
      CHECK(ParseRuleTimestamp(Format("%Y-%m-%d %H:%M:%E3S", ms, zone), "%Y-%m-%d %H:%M:%S.%f",
                               &*ember_zone, ms) == ms);
      // Without a year: the year of the reference time (or the one before, at New Year).
      CHECK(ParseRuleTimestamp(Format("%b %e %H:%M:%S", ms, zone), "%b %e %H:%M:%S", &*ember_zone,
                               ms + 3'600'000) == secs);
      CHECK(ParseRuleTimestamp(Format("%Y-%m-%d %H:%M:%S,%E3f", ms, zone), "auto", &*ember_zone,
                               ms) == ms);
    }
  }
}

TEST_CASE("Time stamps: offsets computed by hand", "[engine][event_time][unit]") {
  EventTimeParser p(2024);
  const int64_t noon_utc = CivilToUnixMs(2024, 5, 31, 12, 0, 0, 0);
  const int64_t hour = 3'600'000;
  CHECK(p.Parse("2024-05-31T12:00:00Z GET /") == noon_utc);
  CHECK(p.Parse("2024-05-31T12:00:00+02:00 GET /") == noon_utc - 2 * hour);
  CHECK(p.Parse("2024-05-31T12:00:00-05:00 GET /") == noon_utc + 5 * hour);
  CHECK(p.Parse("2024-05-31T12:00:00.250+0530 x") == noon_utc - 5 * hour - 30 * 60'000 + 250);
  CHECK(p.Parse("2024-05-31 12:00:00 -0700 x") == noon_utc + 7 * hour);
  CHECK(p.Parse("2024-05-31T12:00:00-03 x") == noon_utc + 3 * hour);
  // Not offsets: a number after a space, a word after Z, a line without a stamp.
  CHECK(p.Parse("2024-05-31 12:00:00 -1 retries") == noon_utc);
  CHECK(p.Parse("2024-05-31T12:00:00 Zebra") == noon_utc);
  CHECK(p.Parse("[31/May/2024:12:00:00 +0200] x") == noon_utc - 2 * hour);
  // %f fractions of any length, %Ez, and a comma before the fraction.
  CHECK(ParseRuleTimestamp("2024-05-31 12:00:00.123456 +02:00", "%Y-%m-%d %H:%M:%S.%f %Ez", nullptr,
                           noon_utc) == noon_utc - 2 * hour + 123);
  CHECK(ParseRuleTimestamp("2005-06-03-15.42.50.675872", "%Y-%m-%d-%H.%M.%S.%f", nullptr, 0) ==
        CivilToUnixMs(2005, 6, 3, 15, 42, 50, 675));
  CHECK(ParseRuleTimestamp("31.05.2024 12:00:00,5", "%d.%m.%Y %H:%M:%S,%f", nullptr, 0) ==
        noon_utc + 500);
  CHECK_FALSE(ParseRuleTimestamp("not a time", "%Y-%m-%d", nullptr, 0).has_value());
}
