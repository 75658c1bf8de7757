#include "engine/event_time.h"

#include <ctime>
#include <fstream>
#include <random>
#include <string>
#include <vector>

#include <catch2/catch.hpp>

using ember::engine::CivilToUnixMs;
using ember::engine::EventTimeParser;

namespace {

// The oracle: libc's timegm, independent of the code under test.
int64_t Utc(int y, int mo, int d, int h, int mi, int s, int ms = 0) {
  std::tm tm{};
  tm.tm_year = y - 1900;
  tm.tm_mon = mo - 1;
  tm.tm_mday = d;
  tm.tm_hour = h;
  tm.tm_min = mi;
  tm.tm_sec = s;
  return static_cast<int64_t>(timegm(&tm)) * 1000 + ms;
}

std::string FirstLine(const std::string& name) {
  std::ifstream in(std::string(EMBER_SOURCE_DIR) + "/tests/data/loghub/" + name);
  std::string line;
  std::getline(in, line);
  return line;
}

}  // namespace

TEST_CASE("CivilToUnixMs agrees with timegm across centuries and leap years",
          "[engine][event_time][unit]") {
  for (int y : {1970, 1999, 2000, 2004, 2016, 2024, 2038, 2100}) {
    for (int mo : {1, 2, 3, 12}) {
      for (int d : {1, 28, 29}) {
        if (mo == 2 && d == 29 && !((y % 4 == 0 && y % 100 != 0) || y % 400 == 0)) continue;
        CHECK(CivilToUnixMs(y, mo, d, 13, 5, 59, 7) == Utc(y, mo, d, 13, 5, 59, 7));
      }
    }
  }
}

TEST_CASE("EventTimeParser: reads the time stamps of real Loghub logs",
          "[engine][event_time][unit]") {
  struct Case {
    const char* file;
    int64_t expected;
  };
  const Case cases[] = {
      {"Apache_2k.log", Utc(2005, 12, 4, 4, 47, 44)},            // [Sun Dec 04 04:47:44 2005]
      {"BGL_2k.log", 1117838570000},                             // epoch field first
      {"HDFS_2k.log", Utc(2008, 11, 9, 20, 36, 15)},             // 081109 203615
      {"Hadoop_2k.log", Utc(2015, 10, 18, 18, 1, 47, 978)},      // 2015-10-18 18:01:47,978
      {"HealthApp_2k.log", Utc(2017, 12, 23, 22, 15, 29, 606)},  // 20171223-22:15:29:606
      {"Spark_2k.log", Utc(2017, 6, 9, 20, 10, 40)},             // 17/06/09 20:10:40
      {"Zookeeper_2k.log", Utc(2015, 7, 29, 17, 41, 44, 747)},   // 2015-07-29 17:41:44,747
      {"Windows_2k.log", Utc(2016, 9, 28, 4, 30, 30)},           // 2016-09-28 04:30:30,
      {"OpenStack_2k.log", Utc(2017, 5, 16, 0, 0, 0, 8)},        // after the file name
      {"Thunderbird_2k.log", 1131566461000},                     // epoch field first
      {"Linux_2k.log", Utc(2005, 6, 14, 15, 16, 1)},             // Jun 14 15:16:01, no year
      {"OpenSSH_2k.log", Utc(2005, 12, 10, 6, 55, 46)},          // Dec 10 06:55:46, no year
      {"Mac_2k.log", Utc(2005, 7, 1, 9, 0, 55)},                 // Jul  1 09:00:55, no year
      {"Android_2k.log", Utc(2005, 3, 17, 16, 13, 38, 811)},     // 03-17 16:13:38.811
      {"Proxifier_2k.log", Utc(2005, 10, 30, 16, 49, 6)},        // [10.30 16:49:06]
  };
  for (const auto& c : cases) {
    INFO(c.file);
    std::string line = FirstLine(c.file);
    REQUIRE_FALSE(line.empty());
    EventTimeParser parser(2005);
    auto t = parser.Parse(line);
    REQUIRE(t.has_value());
    CHECK(*t == c.expected);
  }
}

TEST_CASE("EventTimeParser: a yearless stamp rolls into the next year after December",
          "[engine][event_time][unit]") {
  EventTimeParser parser(2025);
  CHECK(*parser.Parse("Dec 31 23:59:59 host app: x") == Utc(2025, 12, 31, 23, 59, 59));
  CHECK(*parser.Parse("Jan  1 00:00:01 host app: y") == Utc(2026, 1, 1, 0, 0, 1));
  // A small step back in time (Linux_2k.log has some) does not change the year.
  CHECK(*parser.Parse("Jan  1 00:00:00 host app: z") == Utc(2026, 1, 1, 0, 0, 0));
}

TEST_CASE("EventTimeParser: lines without a time stamp give none", "[engine][event_time][unit]") {
  EventTimeParser parser(2025);
  CHECK_FALSE(parser.Parse("\tat org.apache.Foo.bar(Foo.java:42)").has_value());
  CHECK_FALSE(parser.Parse("").has_value());
  CHECK_FALSE(parser.Parse("block 12345 of 678 written").has_value());
  CHECK_FALSE(parser.Parse("Mayday 12 things").has_value());
  CHECK_FALSE(parser.Parse("2025-13-45 10:00:00 bad month").has_value());
}

TEST_CASE("EventTimeParser: stamps of one second read in a row equal each read alone",
          "[engine][event_time][unit]") {
  // A long-lived parser reads the date and clock of a second once; the fraction and offset
  // after it, and any other second, must read as a new parser reads them.
  const std::vector<std::string> seconds = {"2023-11-14T22:13:20", "2023-11-14 22:13:20",
                                            "2023-11-14T22:13:21", "2005-06-03-15.42.50",
                                            "2023-02-29T10:00:00", "2024-02-29T10:00:00"};
  const std::vector<std::string> rests = {"",       ".5",    ",978",  ".008Z", "Z",       "+02:00",
                                          " -0530", ".1234", "+14",   "x",     ".675872", "-",
                                          " INFO",  "Zulu",  ".25Z1", ".",     ".Z",      "Z+01"};
  EventTimeParser reused(2023);
  std::mt19937 rng(11);
  for (int i = 0; i < 2000; ++i) {
    const std::string line =
        seconds[rng() % seconds.size()] + rests[rng() % rests.size()] + " web1 api[4000]: INFO";
    bool offset_reused = false, offset_alone = false;
    INFO(line);
    CHECK(reused.ParseStamp(line, &offset_reused) ==
          EventTimeParser(2023).ParseStamp(line, &offset_alone));
    CHECK(offset_reused == offset_alone);
  }
}

TEST_CASE("EventTimeParser: syslog stamps read in a row equal each read alone in the same year",
          "[engine][event_time][unit]") {
  // A long-lived parser finishes a syslog stamp of the second it read last without reading
  // it again; each line must read as a new parser in the same year state reads it (the time,
  // the month it reports, the year state it leaves), across year ends and other formats.
  const std::vector<std::string> months = {"Nov", "Dec", "Jan", "Feb", "Jun", "Jul"};
  const std::vector<std::string> days = {" 1", "  1", " 9", " 15", " 31", "  30", " 29"};
  const std::vector<std::string> clocks = {"04:00:32", "23:59:59", "00:00:00", "24:00:00",
                                           "04:0:32"};
  const std::vector<std::string> rests = {" web1 sshd[1]: x",
                                          ".250 web1",
                                          ".5",
                                          " 2005 x",
                                          " 2005",
                                          " 20051",
                                          " 12 x",
                                          "",
                                          "1 x",
                                          ".x",
                                          ". 2005"};
  const std::vector<std::string> others = {"2023-11-14T22:13:20.008Z web1", "no stamp here",
                                           "Jun 14 15:16:01 combo", "03-17 16:13:38.811 x"};
  EventTimeParser reused(2023);
  std::mt19937 rng(17);
  std::string last;
  for (int i = 0; i < 20000; ++i) {
    // Runs of one second, as logs have them, broken by other stamps and new seconds.
    std::string line;
    const unsigned pick = rng() % 10;
    if (pick == 0) {
      line = others[rng() % others.size()];
    } else if (pick < 4 || last.empty()) {
      last = months[rng() % months.size()] + days[rng() % days.size()] + " " +
             clocks[rng() % clocks.size()];
      line = last + rests[rng() % rests.size()];
    } else {
      line = last + rests[rng() % rests.size()];
    }
    INFO(line);
    EventTimeParser alone(0);
    alone.set_year_state(reused.year_state());
    int month_reused = -1, month_alone = -1;
    CHECK(reused.Parse(line, &month_reused) == alone.Parse(line, &month_alone));
    CHECK(month_reused == month_alone);
    CHECK(reused.year_state() == alone.year_state());
  }
  CHECK(reused.year_state().year > 2023 + 100);  // the runs crossed many year ends
}
