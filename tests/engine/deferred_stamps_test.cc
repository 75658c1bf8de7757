// Time stamps read on the matcher's threads, each slice guessing where the stream stands at
// its start, must settle to exactly the times of reading the lines one by one: checked
// against dates written here by hand where a slice's guess is wrong (a new year the slice
// cannot see, a slice starting without a stamp), and against a parser reading in order.
#include "engine/deferred_stamps.h"

#include <string>
#include <vector>

#include <catch2/catch.hpp>

#include "rules/rule_set.h"
#include "tests/support/temp_dir.h"

using namespace ember;
using namespace ember::engine;

namespace {

// Past EventTimeParser::kScanBytes, so the line's own stamp is not read from it.
const std::string kFrame = "    at com.example.Worker.run(Worker.java:42) in the request loop of";

std::shared_ptr<const rules::RuleSet> SeenRule(const test::TempDir& dir) {
  rules::Diagnostics d;
  auto set = rules::RuleSet::Load(dir.Write("rules.yaml", R"(rules:
  - name: seen
    match: 'seen at (?P<at>\w{3} [ \d]\d \d\d:\d\d:\d\d)'
    timestamp: {field: at, format: syslog}
    window: 10s
    when: count >= 1
)"),
                                  rules::RuleSetOptions{}, &d);
  INFO((d.empty() ? "" : d[0]));
  REQUIRE(set.ok());
  return *set;
}

// Matches `lines` with their stamps deferred to `streams`, and settles them; returns how
// many had no stamp.
uint64_t MatchAndSettle(ParallelMatcher& matcher, const rules::RuleSet& rules,
                        std::vector<InputLine>& lines, const std::vector<StampStream*>& streams,
                        DeferredStamps::Unstamped unstamped) {
  DeferredStamps stamps(unstamped);
  stamps.Begin(streams);
  matcher.Start(rules, lines, &stamps);
  matcher.Finish();
  return stamps.Settle(lines, matcher);
}

int64_t Utc(int year, int month, int day, int hour, int minute, int second) {
  return CivilToUnixMs(year, month, day, hour, minute, second, 0);
}

}  // namespace

TEST_CASE("DeferredStamps: slices that guess wrong settle to the times read in order",
          "[engine][event_time][threads][unit]") {
  test::TempDir dir;
  auto rules = SeenRule(dir);
  const unsigned threads = GENERATE(1u, 2u, 3u);
  ParallelMatcher matcher(threads);
  REQUIRE(ParallelMatcher::kSliceLines == 512);

  // The stream so far: its last stamp was Dec 31 2024 23:59:59 (without a year).
  const EventTimeParser::YearState before{2024, 12};
  const int64_t before_ms = Utc(2024, 12, 31, 23, 59, 59);
  // Slice 0 crosses into 2025 and reaches July; slice 1 starts with a line without a stamp
  // and goes on in August, which read after December alone would be August 2024.
  std::vector<std::string> text;
  text.push_back("Jan  1 00:00:01 web1 app: started");
  while (text.size() < 512) text.push_back("Jul 15 10:00:00 web1 app: working");
  text.push_back(kFrame + " seen at Jul 15 10:00:05");
  while (text.size() < 1024) text.push_back("Aug  1 12:00:00 web1 app: working");
  text.push_back("Aug  1 12:00:01 web1 app: done");

  StampStream stream{EventTimeParser(2024), before_ms};
  stream.parser.set_year_state(before);
  std::vector<InputLine> lines;
  for (const std::string& t : text) lines.push_back(InputLine{t, "h", "f", 0, ""});
  std::vector<StampStream*> streams(lines.size(), &stream);
  const auto previous = DeferredStamps::Unstamped::kPreviousLine;
  CHECK(MatchAndSettle(matcher, *rules, lines, streams, previous) == 1);

  CHECK(lines[0].time_ms == Utc(2025, 1, 1, 0, 0, 1));
  CHECK(lines[511].time_ms == Utc(2025, 7, 15, 10, 0, 0));
  CHECK(lines[512].time_ms == Utc(2025, 7, 15, 10, 0, 0));  // the line before's
  CHECK(lines[513].time_ms == Utc(2025, 8, 1, 12, 0, 0));
  CHECK(lines[1024].time_ms == Utc(2025, 8, 1, 12, 0, 1));
  // The rule's own stamp takes its year from the line's settled time, not the guess.
  REQUIRE(matcher.MatchesOf(512).size() == 1);
  CHECK(matcher.MatchesOf(512)[0].time_ms == Utc(2025, 7, 15, 10, 0, 5));

  // Every line as a parser reading them in order gives (the previous time where none).
  EventTimeParser in_order(2024);
  in_order.set_year_state(before);
  int64_t last = before_ms;
  for (size_t i = 0; i < text.size(); ++i) {
    last = in_order.Parse(text[i]).value_or(last);
    INFO("line " << i);
    REQUIRE(lines[i].time_ms == last);
  }

  // The next chunk goes on from where this one ended: December again is still 2025.
  std::vector<std::string> next_text = {kFrame + " seen at Aug  1 12:00:09",
                                        "Dec 24 18:00:00 web1 app: working"};
  std::vector<InputLine> next;
  for (const std::string& t : next_text) next.push_back(InputLine{t, "h", "f", 0, ""});
  streams.assign(next.size(), &stream);
  CHECK(MatchAndSettle(matcher, *rules, next, streams, previous) == 1);
  CHECK(next[0].time_ms == Utc(2025, 8, 1, 12, 0, 1));
  CHECK(matcher.MatchesOf(0)[0].time_ms == Utc(2025, 8, 1, 12, 0, 9));
  CHECK(next[1].time_ms == Utc(2025, 12, 24, 18, 0, 0));
}

TEST_CASE("DeferredStamps: streams mixed in a chunk each go on from their own lines",
          "[engine][event_time][threads][unit]") {
  test::TempDir dir;
  auto rules = SeenRule(dir);
  ParallelMatcher matcher(2);
  const std::string seen = kFrame + " seen at Mar  3 03:03:03";
  const int64_t arrival = Utc(2025, 6, 1, 0, 0, 0);
  // Stream a stood at December 2024, stream b at March 2025; a line without a stream keeps
  // its time; with kAsGiven a line without a stamp keeps the time it came with.
  StampStream a{EventTimeParser(2024), Utc(2024, 12, 31, 0, 0, 0)};
  a.parser.set_year_state({2024, 12});
  StampStream b{EventTimeParser(2025), Utc(2025, 3, 3, 3, 0, 0)};
  b.parser.set_year_state({2025, 3});
  std::vector<InputLine> lines = {
      InputLine{"Jan  2 00:00:00 a: new year", "h", "f", arrival, ""},
      InputLine{"Mar  4 00:00:00 b: next day", "h", "f", arrival, ""},
      InputLine{seen, "h", "f", arrival, ""},
      InputLine{"Feb  1 00:00:00 already read", "h", "f", Utc(2020, 1, 1, 0, 0, 0), ""},
      InputLine{seen, "h", "f", arrival, ""},
      InputLine{"Mar  4 00:00:00 a: spring", "h", "f", arrival, ""},
  };
  std::vector<StampStream*> streams = {&a, &b, &a, nullptr, &b, &a};
  SECTION("a line without a stamp takes the time of its stream's line before") {
    CHECK(MatchAndSettle(matcher, *rules, lines, streams,
                         DeferredStamps::Unstamped::kPreviousLine) == 2);
    CHECK(lines[0].time_ms == Utc(2025, 1, 2, 0, 0, 0));
    CHECK(lines[1].time_ms == Utc(2025, 3, 4, 0, 0, 0));
    CHECK(lines[2].time_ms == Utc(2025, 1, 2, 0, 0, 0));
    CHECK(lines[3].time_ms == Utc(2020, 1, 1, 0, 0, 0));
    CHECK(lines[4].time_ms == Utc(2025, 3, 4, 0, 0, 0));
    CHECK(lines[5].time_ms == Utc(2025, 3, 4, 0, 0, 0));
    CHECK(a.last_time_ms == Utc(2025, 3, 4, 0, 0, 0));
    CHECK(a.parser.year_state() == EventTimeParser::YearState{2025, 3});
    CHECK(b.parser.year_state() == EventTimeParser::YearState{2025, 3});
    // The rule's own stamp, without a year, takes the year of its line's time.
    CHECK(matcher.MatchesOf(2)[0].time_ms == Utc(2024, 3, 3, 3, 3, 3));
    CHECK(matcher.MatchesOf(4)[0].time_ms == Utc(2025, 3, 3, 3, 3, 3));
  }
  SECTION("a line without a stamp keeps the time it came with") {
    CHECK(MatchAndSettle(matcher, *rules, lines, streams, DeferredStamps::Unstamped::kAsGiven) ==
          2);
    CHECK(lines[2].time_ms == arrival);
    CHECK(lines[4].time_ms == arrival);
    CHECK(lines[5].time_ms == Utc(2025, 3, 4, 0, 0, 0));
  }
}

// The aggregator settles one chunk while the matcher's threads read the next: the next
// chunk's guesses start from its streams as they stood at Begin (copies: under
// ThreadSanitizer, reading the streams themselves would race with the settling), and settle
// to what reading in order gives.
TEST_CASE("DeferredStamps: a chunk is read from copies while the chunk before settles",
          "[engine][event_time][threads][unit]") {
  test::TempDir dir;
  auto rules = SeenRule(dir);
  ParallelMatcher matcher(2);
  const int64_t arrival = Utc(2026, 6, 1, 0, 0, 0);
  StampStream a{EventTimeParser(2024), Utc(2024, 12, 31, 0, 0, 0)};
  a.parser.set_year_state({2024, 12});
  const size_t n = 2 * ParallelMatcher::kMinParallelLines;  // on the worker threads
  std::vector<InputLine> first(n, InputLine{"Jan  2 00:00:00 a: new year", "h", "f", arrival, ""});
  std::vector<InputLine> second(n, InputLine{"Dec 31 23:59:59 a: year end", "h", "f", arrival, ""});
  const std::string unstamped = kFrame + " no stamp";
  second[0].text = unstamped;
  const std::vector<StampStream*> streams(n, &a);
  DeferredStamps first_stamps(DeferredStamps::Unstamped::kPreviousLine);
  DeferredStamps second_stamps(DeferredStamps::Unstamped::kPreviousLine);
  first_stamps.Begin(streams);
  matcher.Start(*rules, first, &first_stamps);
  matcher.Finish();
  second_stamps.Begin(streams);
  matcher.Start(*rules, second, &second_stamps);
  first_stamps.Settle(first, matcher);  // moves `a` into 2025 while `second` is read
  CHECK(a.parser.year_state() == EventTimeParser::YearState{2025, 1});
  matcher.Finish();
  second_stamps.Settle(second, matcher);
  // Guessed from December 2024: the line before was in 2024, and December is not a new year.
  CHECK(second[0].time_ms == Utc(2025, 1, 2, 0, 0, 0));
  CHECK(second[1].time_ms == Utc(2025, 12, 31, 23, 59, 59));
  CHECK(second[n - 1].time_ms == Utc(2025, 12, 31, 23, 59, 59));
  CHECK(a.last_time_ms == Utc(2025, 12, 31, 23, 59, 59));
}
