#include "engine/engine.h"

#include <algorithm>
#include <random>
#include <set>
#include <string>
#include <tuple>
#include <vector>

#include <catch2/catch.hpp>

#include "engine/event_time.h"
#include "engine/parallel_matcher.h"
#include "tests/support/temp_dir.h"

using namespace ember;
using namespace ember::engine;

namespace {

std::shared_ptr<const rules::RuleSet> LoadRules(const test::TempDir& dir, const std::string& yaml,
                                                int64_t batch_ms = 1000) {
  rules::Diagnostics d;
  rules::RuleSetOptions o;
  o.batch_interval_ms = batch_ms;
  auto set = rules::RuleSet::Load(dir.Write("rules.yaml", yaml), o, &d);
  INFO((d.empty() ? "" : d[0]));
  REQUIRE(set.ok());
  return *set;
}

const char* kFailRule = R"(rules:
  - name: fails
    match: 'fail from (?P<ip>\S+)'
    by: [ip]
    window: 10s
    every: 5s
    when: count >= 3
    severity: error
    message: '{{count}} fails from {{ip}} in {{window}}'
)";

InputLine Line(std::string_view text, int64_t ms) { return InputLine{text, "h", "f", ms, ""}; }

// `alerts` are late firings of `key` (the rule's only field) with `count` matches, for the
// windows ending at `ends`, in that order.
void CheckLateFirings(const std::vector<Alert>& alerts, const std::string& key, uint64_t count,
                      const std::vector<int64_t>& ends) {
  REQUIRE(alerts.size() == ends.size());
  for (size_t i = 0; i < alerts.size(); ++i) {
    CHECK(alerts[i].late);
    CHECK(alerts[i].fields.at(0).second == key);
    CHECK(alerts[i].count == count);
    CHECK(alerts[i].window_end_ms == ends[i]);
  }
}

}  // namespace

TEST_CASE("Engine: a line stamped after a batch boundary goes to the next batch",
          "[engine][batching][unit]") {
  test::TempDir dir;
  Engine e(LoadRules(dir, kFailRule), EngineOptions{});
  // Three fails, the third exactly at 10.000 s: it belongs to batch 10, so the window ending
  // at 10 s holds two and the alert comes only with the window ending at 15 s.
  e.Ingest(Line("fail from 1.1.1.1", 8000));
  e.Ingest(Line("fail from 1.1.1.1", 9999));
  e.Ingest(Line("fail from 1.1.1.1", 10000));
  std::vector<Alert> alerts;
  e.AdvanceWatermark(10000, &alerts);
  CHECK(alerts.empty());
  e.AdvanceWatermark(14999, &alerts);
  CHECK(alerts.empty());  // batch 14 not closed yet
  e.AdvanceWatermark(15000, &alerts);
  REQUIRE(alerts.size() == 1);
  CHECK(alerts[0].rule == "fails");
  CHECK(alerts[0].count == 3);
  CHECK(alerts[0].window_start_ms == 5000);
  CHECK(alerts[0].window_end_ms == 15000);
  CHECK(alerts[0].fields == std::vector<std::pair<std::string, std::string>>{{"ip", "1.1.1.1"}});
  CHECK(alerts[0].message == "3 fails from 1.1.1.1 in 10s");
  CHECK(alerts[0].sample == "fail from 1.1.1.1");
  CHECK(alerts[0].severity == rules::Severity::kError);
}

TEST_CASE("Engine: late lines land in their own batch and fire late for their real windows",
          "[engine][batching][late][unit]") {
  test::TempDir dir;
  Engine e(LoadRules(dir, kFailRule), EngineOptions{});
  std::vector<Alert> alerts;
  e.Ingest(Line("fail from 9.9.9.9", 19000));  // the rule has evaluated windows up to 20 s
  e.AdvanceWatermark(20000, &alerts);
  REQUIRE(alerts.empty());
  for (int i = 0; i < 3; ++i) e.Ingest(Line("fail from 2.2.2.2", 3000 + i));  // batch 3
  CHECK(e.stats().late_lines == 3);
  e.AdvanceWatermark(25000, &alerts);
  // Batch 3 lies in the windows ending at 5 s ([-5 s, 5 s)) and 10 s ([0, 10 s)): both fire,
  // late, with their own bounds; no window of the present holds them.
  REQUIRE(alerts.size() == 2);
  for (size_t i = 0; i < 2; ++i) {
    CHECK(alerts[i].late);
    CHECK(alerts[i].state == AlertState::kFiring);
    CHECK(alerts[i].count == 3);
    CHECK(alerts[i].window_end_ms == 5000 * static_cast<int64_t>(i + 1));
    CHECK(alerts[i].window_start_ms == alerts[i].window_end_ms - 10000);
    CHECK(alerts[i].sample == "fail from 2.2.2.2");
  }
  CHECK(alerts[0].id != alerts[1].id);
  CHECK(e.stats().late_alerts == 2);
  alerts.clear();
  e.Finish(&alerts);
  CHECK(alerts.empty());  // a late firing is a point event: no resolve follows
}

TEST_CASE("Engine: a late line completing a window already firing raises nothing new",
          "[engine][batching][late][unit]") {
  test::TempDir dir;
  Engine e(LoadRules(dir, kFailRule), EngineOptions{});
  std::vector<Alert> alerts;
  for (int i = 0; i < 3; ++i) e.Ingest(Line("fail from 4.4.4.4", 6000 + i));
  e.AdvanceWatermark(20000, &alerts);
  REQUIRE(alerts.size() == 2);  // fires at 10 s, resolves at 20 s
  alerts.clear();
  e.Ingest(Line("fail from 4.4.4.4", 7000));  // windows ending 10 s and 15 s held already
  e.AdvanceWatermark(20000, &alerts);
  CHECK(alerts.empty());
  CHECK(e.stats().late_lines == 1);
}

TEST_CASE("Engine: lines older than max_lateness are dropped and counted",
          "[engine][batching][late][unit]") {
  test::TempDir dir;
  EngineOptions o;
  o.max_lateness_ms = 5000;
  Engine e(LoadRules(dir, kFailRule), o);
  std::vector<Alert> alerts;
  e.AdvanceWatermark(20000, &alerts);
  for (int i = 0; i < 3; ++i) e.Ingest(Line("fail from 2.2.2.2", 3000));  // 17 s late
  e.Ingest(Line("fail from 2.2.2.2", 15000));                             // 5 s late: kept
  e.AdvanceWatermark(25000, &alerts);
  CHECK(e.stats().too_late == 3);
  CHECK(e.stats().late_lines == 1);
  CHECK(alerts.empty());
}

TEST_CASE("Engine: a history floor admits a backlog older than max_lateness into its windows",
          "[engine][batching][late][unit]") {
  test::TempDir dir;
  EngineOptions o;
  o.max_lateness_ms = 5000;
  Engine e(LoadRules(dir, kFailRule), o);
  std::vector<Alert> alerts;
  e.Ingest(Line("fail from 9.9.9.9", 3'600'000));  // a live stream an hour on
  e.AdvanceWatermark(3'600'000, &alerts);
  REQUIRE(alerts.empty());
  // A stream backfilling from 100 s: it holds the floor at its newest stamp.
  e.SetHistoryFloor(103'000);
  for (int t : {100'000, 101'000, 103'000}) e.Ingest(Line("fail from 2.2.2.2", t));
  CHECK(e.stats().too_late == 0);
  CHECK(e.stats().late_lines == 3);
  e.AdvanceWatermark(3'600'000, &alerts);
  // The windows ending at 105 s and 110 s hold the three: late firings with their real bounds.
  CheckLateFirings(alerts, "2.2.2.2", 3, {105'000, 110'000});
  // Without a floor the same lines are too late.
  Engine plain(LoadRules(dir, kFailRule), o);
  plain.Ingest(Line("fail from 9.9.9.9", 3'600'000));
  plain.AdvanceWatermark(3'600'000, &alerts);
  for (int t : {100'000, 101'000, 103'000}) plain.Ingest(Line("fail from 2.2.2.2", t));
  CHECK(plain.stats().too_late == 3);
}

TEST_CASE("Engine: batches under the floor stay for other backfilling streams, then go",
          "[engine][batching][late][unit]") {
  test::TempDir dir;
  EngineOptions o;
  o.max_lateness_ms = 5000;
  auto rules = LoadRules(dir, kFailRule);
  // Two streams backfill the same minute; the second's line completes the first's window.
  auto run = [&](bool floor_held_between) {
    Engine e(rules, o);
    std::vector<Alert> alerts;
    e.Ingest(Line("fail from 9.9.9.9", 3'600'000));
    e.AdvanceWatermark(3'600'000, &alerts);
    e.SetHistoryFloor(100'000);
    e.Ingest(Line("fail from 3.3.3.3", 100'000));
    e.Ingest(Line("fail from 3.3.3.3", 101'000));
    e.AdvanceWatermark(3'600'000, &alerts);
    REQUIRE(alerts.empty());
    if (!floor_held_between) {
      e.SetHistoryFloor(INT64_MAX);  // every stream caught up: the history goes
      e.Ingest(Line("fail from 9.9.9.9", 3'700'000));
      e.AdvanceWatermark(3'700'000, &alerts);
      e.SetHistoryFloor(102'000);  // a later backfill
    }
    e.Ingest(Line("fail from 3.3.3.3", 102'000));
    e.AdvanceWatermark(floor_held_between ? 3'600'000 : 3'700'000, &alerts);
    return std::make_pair(alerts, e.stats().too_late);
  };
  auto [held, held_too_late] = run(true);
  REQUIRE(held.size() == 2);
  CHECK(held[0].late);
  CHECK(held[0].count == 3);
  CHECK(held_too_late == 0);
  // Once the floor moved on, the earlier backfill's batches are gone: the later line counts
  // alone (admitted, as its own floor holds it, but no window reaches three).
  auto [released, released_too_late] = run(false);
  CHECK(released.empty());
  CHECK(released_too_late == 0);
}

TEST_CASE("Engine: a key first seen late is new in its own past windows, marked late",
          "[engine][batching][late][unit]") {
  test::TempDir dir;
  Engine e(LoadRules(dir, R"(rules:
  - name: newuser
    kind: new_key
    match: 'login user=(?P<u>\w+)'
    by: [u]
    window: 10s
    every: 5s
)"),
           EngineOptions{});
  std::vector<Alert> alerts;
  e.Ingest(Line("login user=carol", 40'000));
  e.AdvanceWatermark(60'000, &alerts);
  auto ends = [&](const std::string& user, bool late) {
    std::vector<int64_t> out;
    for (const Alert& a : alerts) {
      if (a.state == AlertState::kFiring && a.late == late && a.fields.at(0).second == user) {
        out.push_back(a.window_end_ms);
      }
    }
    return out;
  };
  CHECK(ends("carol", false) == std::vector<int64_t>{45'000});  // firing until 55 s
  alerts.clear();
  // bob, never seen, at 20 s; carol earlier than she was first seen, at 32 s.
  e.Ingest(Line("login user=bob", 20'000));
  e.Ingest(Line("login user=carol", 32'000));
  e.AdvanceWatermark(60'000, &alerts);
  CHECK(ends("bob", true) == std::vector<int64_t>{25'000, 30'000});
  CHECK(ends("carol", true) == std::vector<int64_t>{35'000, 40'000});
  CHECK(alerts.size() == 4);
}

TEST_CASE("Engine: late lines that lift a key into the top K fire late for those windows",
          "[engine][batching][late][unit]") {
  test::TempDir dir;
  Engine e(LoadRules(dir, R"(rules:
  - name: top
    kind: top_k
    top: 1
    match: 'fail from (?P<ip>\S+)'
    by: [ip]
    window: 10s
    every: 5s
)"),
           EngineOptions{});
  std::vector<Alert> alerts;
  for (int t : {10'000, 11'000, 12'000}) e.Ingest(Line("fail from 1.1.1.1", t));
  e.AdvanceWatermark(60'000, &alerts);
  std::vector<std::pair<int64_t, std::string>> live;
  for (const Alert& a : alerts) {
    if (a.state == AlertState::kFiring) live.push_back({a.window_end_ms, a.fields.at(0).second});
  }
  CHECK(live == std::vector<std::pair<int64_t, std::string>>{{15'000, "1.1.1.1"}});
  alerts.clear();
  // Five late fails of another address in the same seconds: it is the top one at 15 s and
  // 20 s; the first address leaves the top (a firing is not taken back).
  for (int i = 0; i < 5; ++i) e.Ingest(Line("fail from 2.2.2.2", 11'000 + i * 100));
  e.AdvanceWatermark(60'000, &alerts);
  CheckLateFirings(alerts, "2.2.2.2", 5, {15'000, 20'000});
}

TEST_CASE("Engine: a late window a backfill still fills is judged once it is complete",
          "[engine][batching][late][unit]") {
  test::TempDir dir;
  auto rules = LoadRules(dir, R"(rules:
  - name: slow
    match: 'took=(?P<ms>\d+)'
    value: ms
    window: 10s
    every: 5s
    when: avg > 50
)");
  // A backfill whose first line alone would fire (avg 90) but whose window, once complete,
  // does not (avg 50): replay never fires it.
  auto run = [&](bool with_completeness) {
    Engine e(rules, EngineOptions{});
    std::vector<Alert> alerts;
    e.Ingest(Line("took=1", 3'600'000));
    e.AdvanceWatermark(3'600'000, &alerts);
    alerts.clear();
    e.SetHistoryFloor(100'000, with_completeness ? 100'000 : INT64_MAX);
    e.Ingest(Line("took=90", 100'000));
    e.AdvanceWatermark(3'600'000, &alerts);
    const size_t early = alerts.size();
    e.SetHistoryFloor(100'000, with_completeness ? 102'000 : INT64_MAX);
    e.Ingest(Line("took=10", 102'000));
    e.AdvanceWatermark(3'600'000, &alerts);
    e.SetHistoryFloor(INT64_MAX, INT64_MAX);  // the backfill caught up
    e.AdvanceWatermark(3'600'000, &alerts);
    return std::make_pair(early, alerts);
  };
  auto [early, judged] = run(true);
  CHECK(early == 0);
  CHECK(judged.empty());
  // Judged line by line, the first line's windows fire on part of their lines.
  auto [eager_early, eager] = run(false);
  CHECK(eager_early == 2);
  CHECK(eager.size() == 2);
  // A window the backfill completes above the threshold fires, late, when complete.
  Engine e(rules, EngineOptions{});
  std::vector<Alert> alerts;
  e.Ingest(Line("took=1", 3'600'000));
  e.AdvanceWatermark(3'600'000, &alerts);
  alerts.clear();
  e.SetHistoryFloor(200'000, 200'000);
  e.Ingest(Line("took=80", 200'000));
  e.Ingest(Line("took=70", 201'000));
  e.AdvanceWatermark(3'600'000, &alerts);
  CHECK(alerts.empty());  // windows ending at 205 s and 210 s wait
  e.SetHistoryFloor(200'000, 206'000);
  e.AdvanceWatermark(3'600'000, &alerts);
  REQUIRE(alerts.size() == 1);  // 205 s is complete now
  CHECK(alerts[0].late);
  CHECK(alerts[0].window_end_ms == 205'000);
  e.SetHistoryFloor(INT64_MAX, INT64_MAX);
  e.AdvanceWatermark(3'600'000, &alerts);
  REQUIRE(alerts.size() == 2);
  CHECK(alerts[1].window_end_ms == 210'000);
}

TEST_CASE("Engine: new-key and top-K windows a backfill fills are judged once complete",
          "[engine][batching][late][unit]") {
  test::TempDir dir;
  auto rules = LoadRules(dir, R"(rules:
  - name: top
    kind: top_k
    top: 1
    match: 'fail from (?P<ip>\S+)'
    by: [ip]
    window: 10s
    every: 5s
  - name: newuser
    kind: new_key
    match: 'login user=(?P<u>\w+)'
    by: [u]
    window: 10s
    every: 5s
)");
  Engine e(rules, EngineOptions{});
  std::vector<Alert> alerts;
  e.Ingest(Line("fail from 9.9.9.9", 3'600'000));
  e.Ingest(Line("login user=alice", 3'590'000));
  e.AdvanceWatermark(3'600'000, &alerts);
  alerts.clear();
  // The backfill's first lines would make 2.2.2.2 the top one and bob new at 105 s; the rest
  // of the same seconds make 3.3.3.3 the top one and show bob was already there at 95 s.
  e.SetHistoryFloor(95'000, 99'000);
  e.Ingest(Line("login user=bob", 101'000));
  for (int i = 0; i < 2; ++i) e.Ingest(Line("fail from 2.2.2.2", 101'000 + i));
  e.AdvanceWatermark(3'600'000, &alerts);
  CHECK(alerts.empty());  // incomplete: waiting
  e.SetHistoryFloor(95'000, 99'000);
  for (int i = 0; i < 3; ++i) e.Ingest(Line("fail from 3.3.3.3", 102'000 + i));
  e.Ingest(Line("login user=bob", 95'000));
  e.AdvanceWatermark(3'600'000, &alerts);
  CHECK(alerts.empty());
  e.SetHistoryFloor(INT64_MAX, INT64_MAX);  // caught up
  e.AdvanceWatermark(3'600'000, &alerts);
  std::set<std::string> fired;
  for (const Alert& a : alerts) {
    CHECK(a.late);
    fired.insert(a.rule + " " + a.fields.at(0).second + " " + std::to_string(a.window_end_ms));
  }
  // Top one at 105 s and 110 s: 3.3.3.3 (3 fails) over 2.2.2.2 (2). bob is new at the two
  // windows holding 95 s (100 s, 105 s), not at 110 s.
  CHECK(fired == std::set<std::string>{"top 3.3.3.3 105000", "top 3.3.3.3 110000",
                                       "newuser bob 100000", "newuser bob 105000"});
}

TEST_CASE("Engine: a rule's first match for a closed batch is late like any other",
          "[engine][batching][late][unit]") {
  test::TempDir dir;
  Engine e(LoadRules(dir, kFailRule), EngineOptions{});
  std::vector<Alert> alerts;
  e.AdvanceWatermark(3'600'000, &alerts);  // batches close while the rule has no match
  e.SetHistoryFloor(100'000, 100'000);     // a backfill, not complete yet
  for (int t : {100'000, 101'000, 102'000}) e.Ingest(Line("fail from 5.5.5.5", t));
  e.AdvanceWatermark(3'601'000, &alerts);
  CHECK(alerts.empty());  // waiting for the backfill, not evaluated as if on time
  CHECK(e.stats().late_lines == 3);
  e.SetHistoryFloor(INT64_MAX, INT64_MAX);
  e.AdvanceWatermark(3'602'000, &alerts);
  CheckLateFirings(alerts, "5.5.5.5", 3, {105'000, 110'000});
}

TEST_CASE("Engine: Finish closes every batch and resolves every firing key",
          "[engine][batching][unit]") {
  test::TempDir dir;
  Engine e(LoadRules(dir, kFailRule), EngineOptions{});
  for (int i = 0; i < 4; ++i) e.Ingest(Line("fail from 3.3.3.3", 100000 + i));
  std::vector<Alert> alerts;
  e.Finish(&alerts);
  REQUIRE(alerts.size() == 2);
  CHECK(alerts[0].state == AlertState::kFiring);
  CHECK(alerts[1].state == AlertState::kResolved);
  CHECK(alerts[0].id == alerts[1].id);
}

TEST_CASE("Engine: the same input gives the same alerts whatever the watermark steps",
          "[engine][batching][unit]") {
  test::TempDir dir;
  auto rules = LoadRules(dir, kFailRule);
  std::vector<std::string> lines;
  for (int i = 0; i < 200; ++i) lines.push_back("fail from 10.0.0." + std::to_string(i % 7));
  auto run = [&](int64_t step_ms) {
    Engine e(rules, EngineOptions{});
    std::vector<Alert> alerts;
    for (int i = 0; i < 200; ++i) {
      int64_t t = 1000 + i * 337;
      e.Ingest(Line(lines[i], t));
      if (i % 10 == 9) e.AdvanceWatermark(t - t % step_ms, &alerts);
    }
    e.Finish(&alerts);
    std::vector<std::string> ids;
    for (const auto& a : alerts) ids.push_back(a.id + AlertStateName(a.state));
    return ids;
  };
  const auto reference = run(1000);
  CHECK_FALSE(reference.empty());
  CHECK(run(5000) == reference);
  CHECK(run(100000000) == reference);
}

TEST_CASE("Engine: rules of different slides close each window end once, in small steps",
          "[engine][batching][unit]") {
  test::TempDir dir;
  auto rules = LoadRules(dir, R"(rules:
  - name: quick
    match: 'fail from (?P<ip>\S+)'
    by: [ip]
    window: 2s
    every: 1s
    when: count >= 2
  - name: slow
    match: 'fail'
    window: 40s
    every: 20s
    when: count >= 30
)");
  // One line a second, at 0.5 s, 1.5 s, ... 59.5 s; the watermark follows every line, so
  // most advances close no end of `slow`. Each event must come with the advance that closes
  // its window's end.
  auto run = [&](bool every_line) {
    Engine e(rules, EngineOptions{});
    std::vector<Alert> alerts;
    for (int64_t s = 0; s < 60; ++s) {
      e.Ingest(Line("fail from 1.1.1.1", s * 1000 + 500));
      if (!every_line) continue;
      const size_t before = alerts.size();
      e.AdvanceWatermark(s * 1000, &alerts);
      for (size_t i = before; i < alerts.size(); ++i) CHECK(alerts[i].window_end_ms == s * 1000);
    }
    e.Finish(&alerts);
    return alerts;
  };
  const std::vector<Alert> stepped = run(true);
  std::vector<std::tuple<std::string, AlertState, int64_t, uint64_t>> slow;
  for (const Alert& a : stepped) {
    if (a.rule == "slow") slow.emplace_back(a.rule, a.state, a.window_end_ms, a.count);
  }
  // [0, 40 s) holds 40 lines, [20 s, 60 s) 40 (still firing), [40 s, 80 s) 20.
  CHECK(slow == decltype(slow){{"slow", AlertState::kFiring, 40'000, 40},
                               {"slow", AlertState::kResolved, 80'000, 20}});
  REQUIRE(stepped.size() == 4);
  CHECK(stepped[0].rule == "quick");
  CHECK(stepped[0].window_end_ms == 2'000);
  CHECK(stepped[0].count == 2);
  // Closed at once, the same events (in rule order rather than in time).
  auto events = [](const std::vector<Alert>& alerts) {
    std::set<std::pair<std::string, AlertState>> set;
    for (const Alert& a : alerts) set.emplace(a.id, a.state);
    return set;
  };
  CHECK(events(run(false)) == events(stepped));
}

TEST_CASE("Engine: a rule with its own time stamp batches lines by it, in its time zone",
          "[engine][event_time][unit]") {
  test::TempDir dir;
  auto rules = LoadRules(dir, R"(rules:
  - name: stamped
    match: '^(?P<ts>\w{3} [ \d]\d \d\d:\d\d:\d\d) \S+ app: fail'
    timestamp: {field: ts, format: syslog, timezone: '+02:00'}
    window: 10s
    when: count >= 2
  - name: arrival
    match: 'fail'
    window: 10s
    when: count >= 2
)");
  Engine e(rules, EngineOptions{});
  // Both lines arrive at 2026-11-22 12:00:00 UTC; they were written at 13:58:00 and 13:58:03
  // in UTC+2, i.e. 11:58:00 and 11:58:03 UTC — two minutes earlier.
  const int64_t arrival = CivilToUnixMs(2026, 11, 22, 12, 0, 0, 0);
  const int64_t written = CivilToUnixMs(2026, 11, 22, 11, 58, 0, 0);
  e.Ingest(InputLine{"Nov 22 13:58:00 web1 app: fail", "h", "f", arrival, ""});
  e.Ingest(InputLine{"Nov 22 13:58:03 web1 app: fail", "h", "f", arrival, ""});
  e.Ingest(InputLine{"garbage stamp: fail", "h", "f", arrival, ""});  // only `arrival` matches
  std::vector<Alert> alerts;
  e.AdvanceWatermark(arrival + 1000, &alerts);
  // "stamped" fired when its window held both (11:58:04) and resolved when they had left it
  // (11:58:11), both long before the arrival; "arrival" fired at 12:00:01 with all three.
  REQUIRE(alerts.size() == 3);
  CHECK(alerts[0].rule == "stamped");
  CHECK(alerts[0].state == AlertState::kFiring);
  CHECK(alerts[0].window_end_ms == written + 4000);
  CHECK(alerts[0].count == 2);
  CHECK(alerts[1].rule == "stamped");
  CHECK(alerts[1].state == AlertState::kResolved);
  CHECK(alerts[1].window_end_ms == written + 11000);
  CHECK(alerts[2].rule == "arrival");
  CHECK(alerts[2].window_end_ms == arrival + 1000);
  CHECK(alerts[2].count == 3);
  CHECK(e.stats().unparsed_times == 0);
}

TEST_CASE("Engine: rule stamps read on the matcher's threads count as those read in place",
          "[engine][event_time][threads][unit]") {
  test::TempDir dir;
  auto rules = LoadRules(dir, R"(rules:
  - name: stamped
    match: '^(?P<ts>\w{3} [ \d]\d \d\d:\d\d:\d\d) \S+ app: fail'
    timestamp: {field: ts, format: syslog}
    window: 10s
    when: count >= 2
)");
  const int64_t arrival = CivilToUnixMs(2026, 11, 22, 12, 0, 0, 0);
  // Two readable stamps two minutes before the arrival, and one the rule cannot read (no such
  // month), which counts at the line's own time.
  const std::vector<InputLine> lines = {
      InputLine{"Nov 22 11:58:00 web1 app: fail", "h", "f", arrival, ""},
      InputLine{"Nov 22 11:58:03 web1 app: fail", "h", "f", arrival, ""},
      InputLine{"Foo 22 11:58:04 web1 app: fail", "h", "f", arrival, ""},
      InputLine{"Foo 22 11:58:05 web1 app: fail", "h", "f", arrival + 10, ""},
  };
  auto outcome = [&](Engine& e) {
    std::vector<Alert> alerts;
    e.AdvanceWatermark(arrival + 1000, &alerts);
    std::vector<std::string> out;
    for (const auto& a : alerts) out.push_back(AlertToJson(a));
    out.push_back("unparsed " + std::to_string(e.stats().unparsed_times) + " matches " +
                  std::to_string(e.stats().matches));
    return out;
  };
  Engine in_place(rules, EngineOptions{});
  for (const auto& line : lines) in_place.Ingest(line);
  const std::vector<std::string> reference = outcome(in_place);
  // The firing at 11:58 and its end, the firing at the arrival, the counters.
  REQUIRE(reference.size() == 4);
  CHECK(reference.back() == "unparsed 2 matches 4");
  for (unsigned threads : {1u, 2u}) {
    Engine matched(rules, EngineOptions{});
    ParallelMatcher matcher(threads);
    matcher.Match(matched.rules(), lines);
    for (size_t i = 0; i < lines.size(); ++i) matched.IngestMatched(lines[i], matcher.MatchesOf(i));
    CHECK(outcome(matched) == reference);
  }
}

TEST_CASE("Engine: runs of alike matches applied at once count as matches applied one by one",
          "[engine][partitions][threads][unit]") {
  // Routed matches of one key in one batch are applied as one entry with a count. Sums,
  // extremes, distinct values and ratio totals must come out as applying every match alone
  // (Ingest does), on time and late.
  test::TempDir dir;
  auto rules = LoadRules(dir, R"(rules:
  - name: keyless
    match: 'req \w+ 5\d\d'
    window: 4s
    every: 2s
    when: count >= 5
    message: '{{count}}'
  - name: ratio
    match: 'req (?P<v>\w+) 5\d\d'
    ratio_of: 'req (?P<v>\w+) \d\d\d'
    by: [v]
    window: 4s
    every: 2s
    when: ratio > 0.3 and total >= 3
    message: '{{count}} {{total}} {{ratio}}'
  - name: numbers
    match: 'req (?P<v>\w+) \d+ ms=(?P<ms>\d+) user=(?P<u>\w+)'
    by: [v]
    value: ms
    distinct: u
    window: 4s
    every: 2s
    when: sum > 100
    message: '{{min}} {{max}} {{avg}} {{sum}} {{distinct}}'
  - name: users
    match: 'user=(?P<u>\w+)'
    distinct: u
    window: 4s
    every: 2s
    when: distinct >= 5
    message: '{{count}} {{distinct}}'
)");
  std::mt19937 rng(5);
  const char* verbs[] = {"get", "put"};
  const char* users[] = {"ann", "bob", "cy", "dee", "eve"};
  std::vector<std::string> texts;
  std::vector<int64_t> times;
  for (int i = 0; i < 3000; ++i) {
    // Runs of one second, a few lines of it late (up to 3 s back).
    const int64_t t = 1'000'000 + i * 7 - (rng() % 40 == 0 ? 3000 : 0);
    texts.push_back("req " + std::string(verbs[rng() % 2]) + " " +
                    std::to_string(rng() % 3 == 0 ? 500 + rng() % 3 : 200) +
                    " ms=" + std::to_string(rng() % 120) + " user=" + users[rng() % 5]);
    times.push_back(t);
  }
  auto run = [&](bool matched) {
    Engine e(rules, EngineOptions{});
    ParallelMatcher matcher(2);
    std::vector<Alert> alerts;
    std::vector<InputLine> lines;
    for (size_t i = 0; i < texts.size(); ++i) {
      lines.push_back(InputLine{texts[i], "h", "f", times[i], ""});
    }
    // Chunks of 300 lines, the watermark 1 s behind the last line after each.
    for (size_t start = 0; start < lines.size(); start += 300) {
      std::span<const InputLine> part(lines.data() + start,
                                      std::min<size_t>(300, lines.size() - start));
      if (matched) {
        matcher.Match(e.rules(), part);
        for (size_t i = 0; i < part.size(); ++i) e.RouteLine(part[i], matcher.MatchesOf(i));
        e.ApplyRouted();
      } else {
        for (const InputLine& line : part) e.Ingest(line);
      }
      e.AdvanceWatermark(part.back().time_ms - 1000, &alerts);
    }
    e.Finish(&alerts);
    std::vector<std::string> out;
    for (const auto& a : alerts) out.push_back(AlertToJson(a));
    out.push_back("matches " + std::to_string(e.stats().matches) + " late " +
                  std::to_string(e.stats().late_lines));
    return out;
  };
  const std::vector<std::string> one_by_one = run(false);
  for (const char* rule : {"keyless", "ratio", "numbers", "users"}) {
    INFO(rule);
    CHECK(std::count_if(one_by_one.begin(), one_by_one.end(), [&](const std::string& a) {
            return a.find(std::string("\"rule\":\"") + rule + "\"") != std::string::npos;
          }) >= 2);
  }
  CHECK(one_by_one.back().find(" late 0") == std::string::npos);
  CHECK(run(true) == one_by_one);
}

// Three lines of one user in a batch fire (the routing tests below).
constexpr const char* kUsersRule = R"(rules:
  - name: users
    match: 'user=(?P<u>\w+)'
    by: [u]
    window: 2s
    every: 1s
    when: count >= 3
)";

TEST_CASE("Engine: lines routed in ranges at once drop and count as routed one by one",
          "[engine][partitions][threads][unit]") {
  test::TempDir dir;
  auto rules = LoadRules(dir, kUsersRule);
  EngineOptions options;
  options.max_lateness_ms = 0;
  options.min_range_lines = 1;
  // After the first chunk every batch before 11 s is closed: lines stamped 1 s are dropped.
  std::vector<InputLine> first = {InputLine{"user=a", "h", "f", 10'000, ""}};
  std::vector<std::string> texts;
  std::vector<InputLine> second;
  std::vector<size_t> expected_drops;
  for (size_t i = 0; i < 40; ++i) texts.push_back("user=" + std::string(1, 'a' + i % 4));
  for (size_t i = 0; i < 40; ++i) {
    const bool late = i % 5 == 2;
    if (late) expected_drops.push_back(i);
    second.push_back(InputLine{texts[i], "h", "f", late ? 1'000 : 12'000 + int64_t(i) * 20, ""});
  }
  auto run = [&](bool ranges, std::vector<size_t>* drops) {
    Engine e(rules, options);
    ParallelMatcher matcher(3);
    if (ranges) e.SetRunner(&matcher);
    std::vector<Alert> alerts;
    for (const std::vector<InputLine>* part : {&first, &second}) {
      matcher.Match(e.rules(), *part);
      if (ranges) {
        e.RouteLines(*part, matcher, 0, part == &second ? drops : nullptr);
      } else {
        for (size_t i = 0; i < part->size(); ++i) e.RouteLine((*part)[i], matcher.MatchesOf(i));
      }
      e.ApplyRouted();
      e.AdvanceWatermark(11'000, &alerts);
    }
    e.Finish(&alerts);
    std::vector<std::string> out;
    for (const auto& a : alerts) out.push_back(AlertToJson(a));
    const EngineStats& st = e.stats();
    out.push_back("lines " + std::to_string(st.lines) + " matches " + std::to_string(st.matches) +
                  " matched " + std::to_string(st.matched_lines) + " too late " +
                  std::to_string(st.too_late));
    return out;
  };
  const std::vector<std::string> one_by_one = run(false, nullptr);
  CHECK(one_by_one.back() == "lines 41 matches 33 matched 33 too late 8");
  CHECK(one_by_one.size() > 4);  // a, b, c and d each fire
  std::vector<size_t> drops;
  CHECK(run(true, &drops) == one_by_one);
  CHECK(drops == expected_drops);
}

TEST_CASE("Engine: a run the matcher marked continues only where its previous match went",
          "[engine][partitions][threads][unit]") {
  // The matcher marks a match alike the previous match of its rule on an earlier line; the
  // engine then adds it to its queue's last entry only if that match went there. Here the
  // previous match of key "a" is on a line dropped as too late, and the queue's last entry
  // (one partition) is key "b"'s of the same batch: "a" must not count as "b".
  test::TempDir dir;
  auto rules = LoadRules(dir, kUsersRule);
  EngineOptions options;
  options.partitions = 1;
  options.max_lateness_ms = 0;
  auto run = [&](bool matched) {
    Engine e(rules, options);
    ParallelMatcher matcher(1);
    std::vector<Alert> alerts;
    const std::vector<InputLine> first = {InputLine{"user=a", "h", "f", 10'000, ""}};
    const std::vector<InputLine> second = {
        InputLine{"user=a", "h", "f", 12'000, ""}, InputLine{"user=b", "h", "f", 12'000, ""},
        InputLine{"user=a", "h", "f", 1'000, ""},  // too late: dropped
        InputLine{"user=a", "h", "f", 12'000, ""}, InputLine{"user=a", "h", "f", 12'000, ""}};
    for (const auto* part : {&first, &second}) {
      if (matched) {
        matcher.Match(e.rules(), *part);
        for (size_t i = 0; i < part->size(); ++i) e.RouteLine((*part)[i], matcher.MatchesOf(i));
        e.ApplyRouted();
      } else {
        for (const InputLine& line : *part) e.Ingest(line);
      }
      e.AdvanceWatermark(11'000, &alerts);
    }
    if (matched) {
      // The matcher marked the runs: the last two "a" lines continue the one before each.
      CHECK(matcher.MatchesOf(3)[0].run_distance == 1);
      CHECK(matcher.MatchesOf(4)[0].run_distance == 1);
      CHECK(matcher.MatchesOf(1)[0].run_distance == 0);  // "b" after "a"
    }
    CHECK(e.stats().too_late == 1);
    e.Finish(&alerts);
    std::vector<std::string> out;
    for (const auto& a : alerts) {
      if (a.state == AlertState::kFiring) out.push_back(AlertToJson(a));
    }
    return out;
  };
  const std::vector<std::string> one_by_one = run(false);
  // "a" three times in batch 12 fires, "b" once does not.
  REQUIRE(one_by_one.size() == 1);
  CHECK(one_by_one[0].find("\"key\":{\"u\":\"a\"},\"count\":3") != std::string::npos);
  CHECK(run(true) == one_by_one);
}

TEST_CASE("Engine: rule time stamps without a year take the arrival's, or the year before",
          "[engine][event_time][unit]") {
  const int64_t new_year = CivilToUnixMs(2027, 1, 1, 0, 0, 30, 0);
  CHECK(ParseRuleTimestamp("Dec 31 23:59:50", "%b %e %H:%M:%S", nullptr, new_year) ==
        CivilToUnixMs(2026, 12, 31, 23, 59, 50, 0));
  CHECK(ParseRuleTimestamp("Jan  1 00:00:10", "%b %e %H:%M:%S", nullptr, new_year) ==
        CivilToUnixMs(2027, 1, 1, 0, 0, 10, 0));
  const TimeZone new_york = *TimeZone::Parse("-05:00");
  CHECK(ParseRuleTimestamp("2026-11-22T10:00:00.250", "auto", &new_york, new_year) ==
        CivilToUnixMs(2026, 11, 22, 15, 0, 0, 250));
  CHECK(ParseRuleTimestamp("22/Nov/2026:10:00:00.5", "%d/%b/%Y:%H:%M:%S", nullptr, new_year) ==
        CivilToUnixMs(2026, 11, 22, 10, 0, 0, 500));
  CHECK(ParseRuleTimestamp("1700000000", "auto", nullptr, new_year) == int64_t{1700000000000});
  CHECK_FALSE(ParseRuleTimestamp("not a time", "%b %e %H:%M:%S", nullptr, new_year).has_value());
  CHECK_FALSE(ParseRuleTimestamp("nope", "auto", nullptr, new_year).has_value());
}

TEST_CASE("Engine: a rules reload carries the counters over, and kept rules' match counts",
          "[engine][unit]") {
  test::TempDir dir;
  auto before = LoadRules(dir, R"(rules:
  - name: fails
    match: 'fail from (?P<ip>\S+)'
    by: [ip]
    window: 10s
  - name: errors
    match: 'ERROR'
    window: 10s
)");
  Engine old(before, EngineOptions{});
  for (int i = 0; i < 5; ++i) old.Ingest(Line("fail from 10.0.0.1", 1000));
  old.Ingest(Line("ERROR x", 1000));
  old.Ingest(Line("nothing", 1000));
  REQUIRE(old.stats().lines == 7);
  // `errors` changes (its window), `fails` stays, `new` is added.
  auto after = LoadRules(dir, R"(rules:
  - name: fails
    match: 'fail from (?P<ip>\S+)'
    by: [ip]
    window: 10s
  - name: errors
    match: 'ERROR'
    window: 20s
  - name: new
    match: 'x'
    window: 10s
)");
  Engine reloaded(after, EngineOptions{});
  reloaded.CarryCountersFrom(old);
  CHECK(reloaded.stats().lines == 7);
  CHECK(reloaded.stats().matches == old.stats().matches);
  CHECK(reloaded.rule_matches(0) == 5);  // kept
  CHECK(reloaded.rule_matches(1) == 0);  // changed: a new rule as far as counts go
  CHECK(reloaded.rule_matches(2) == 0);
}

TEST_CASE(
    "Engine: a rule holds at most max_keys keys, and matches of new keys beyond are counted "
    "as refused",
    "[engine][unit]") {
  test::TempDir dir;
  auto rules = LoadRules(dir, R"(rules:
  - name: fails
    match: 'fail from (?P<ip>\S+)'
    by: [ip]
    window: 10s
    when: count >= 2
    max_keys: 3
)");
  Engine e(rules, EngineOptions{});
  for (int round = 0; round < 2; ++round) {
    for (int ip = 0; ip < 5; ++ip) e.Ingest(Line("fail from 10.0.0." + std::to_string(ip), 1000));
  }
  std::vector<Alert> alerts;
  e.AdvanceWatermark(20'000, &alerts);
  // The first three keys are counted (and fire); the matches of the other two are refused.
  CHECK(e.rule_refused_keys(0) == 4);
  CHECK(e.rule_matches(0) == 6);
  std::vector<std::string> fired;
  for (const auto& a : alerts) {
    if (a.state == AlertState::kFiring) fired.push_back(a.fields.at(0).second);
  }
  CHECK(fired == std::vector<std::string>{"10.0.0.0", "10.0.0.1", "10.0.0.2"});
}
