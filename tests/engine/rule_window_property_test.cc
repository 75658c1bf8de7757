// Property test: the incremental sliding window (add entering batches, subtract leaving ones,
// prune zero keys, skip empty stretches) must equal a brute-force recount of every window,
// and its alert events must be exactly the threshold crossings of those recounts.
#include <random>
#include <set>
#include <string>
#include <tuple>
#include <vector>

#include <catch2/catch.hpp>

#include "engine/rule_window.h"

using namespace ember;
using namespace ember::engine;

namespace {

rules::Rule MakeRule(int64_t window_batches, int64_t slide_batches, int64_t threshold,
                     int64_t batch_ms) {
  rules::Rule r;
  r.name = "prop";
  r.by = {"k"};
  r.window_ms = window_batches * batch_ms;
  r.every_ms = slide_batches * batch_ms;
  r.when.all = {rules::Comparison{rules::Aggregate::kCount, rules::CompareOp::kGreaterEqual,
                                  static_cast<double>(threshold)}};
  r.message = *rules::MessageTemplate::Parse("{{count}} for {{k}}");
  return r;
}

struct Event {
  int64_t batch;
  std::string key;
};

uint64_t BruteCount(const std::vector<Event>& events, const std::string& key, int64_t start,
                    int64_t end) {
  uint64_t n = 0;
  for (const auto& e : events) {
    if (e.key == key && e.batch >= start && e.batch < end) ++n;
  }
  return n;
}

// (window end batch, key, state, count)
using Transition = std::tuple<int64_t, std::string, AlertState, uint64_t>;

}  // namespace

TEST_CASE("RuleWindow: incremental windows equal a brute-force recount of every window",
          "[engine][window][property][unit]") {
  const int64_t batch_ms = 1000;
  const std::vector<std::string> keys = {"a", "b", "c", "d", "e"};
  for (uint32_t seed = 1; seed <= 100; ++seed) {
    std::mt19937 rng(seed);
    const int64_t slide = 1 + rng() % 4;
    const int64_t window = slide * (1 + rng() % 5);
    const int64_t threshold = 1 + rng() % 6;
    rules::Rule rule = MakeRule(window, slide, threshold, batch_ms);
    RuleWindow w(rule, batch_ms);

    std::vector<Event> events;
    int64_t closed = rng() % 50;  // the first batch need not be 0
    std::set<std::string> firing;
    // Every match lands at or after the initial `closed`, so windows ending there are empty.
    int64_t model_end = closed / slide * slide;

    for (int step = 0; step < 80; ++step) {
      const int n = rng() % 6;
      for (int i = 0; i < n; ++i) {
        int64_t batch = closed + static_cast<int64_t>(rng() % 3);  // only open batches
        std::string key = keys[rng() % keys.size()];
        w.Add(batch, key, "line " + std::to_string(events.size()));
        events.push_back({batch, key});
      }
      closed +=
          rng() % 10 == 0 ? static_cast<int64_t>(rng() % 40) : static_cast<int64_t>(rng() % 3);
      std::vector<Alert> alerts;
      w.Advance(closed, &alerts);

      // The model: every window end up to `closed`, every key, counted from scratch.
      std::vector<Transition> expected;
      for (int64_t end = model_end + slide; end <= closed; end += slide) {
        for (const auto& key : keys) {
          uint64_t count = BruteCount(events, key, end - window, end);
          bool holds = count >= static_cast<uint64_t>(threshold);
          if (holds && !firing.count(key)) {
            firing.insert(key);
            expected.emplace_back(end, key, AlertState::kFiring, count);
          } else if (!holds && firing.count(key)) {
            firing.erase(key);
            expected.emplace_back(end, key, AlertState::kResolved, count);
          }
        }
        model_end = end;
      }
      std::vector<Transition> got;
      for (const auto& a : alerts) {
        REQUIRE(a.fields.size() == 1);
        got.emplace_back(a.window_end_ms / batch_ms, a.fields[0].second, a.state, a.count);
        CHECK(a.window_end_ms - a.window_start_ms == window * batch_ms);
        CHECK(a.message == std::to_string(a.count) + " for " + a.fields[0].second);
      }
      INFO("seed " << seed << " step " << step << " window " << window << " slide " << slide
                   << " threshold " << threshold);
      REQUIRE(got == expected);

      const int64_t end = closed / slide * slide;
      for (const auto& key : keys) {
        INFO("key " << key << " end " << end);
        REQUIRE(w.WindowCount(key) == BruteCount(events, key, end - window, end));
      }
    }
    // Memory stays bounded: only batches still inside some future window are kept.
    CHECK(w.stored_batches() <= static_cast<size_t>(window + 3 + 40));
  }
}

TEST_CASE("RuleWindow: a firing alert carries the first matching line of its window",
          "[engine][window][unit]") {
  rules::Rule rule = MakeRule(3, 1, 2, 1000);
  RuleWindow w(rule, 1000);
  w.Add(10, "k1", "first");
  w.Add(11, "k1", "second");
  std::vector<Alert> alerts;
  w.Advance(12, &alerts);
  REQUIRE(alerts.size() == 1);
  CHECK(alerts[0].state == AlertState::kFiring);
  CHECK(alerts[0].sample == "first");
  CHECK(alerts[0].count == 2);
  CHECK(alerts[0].window_start_ms == 9000);
  CHECK(alerts[0].window_end_ms == 12000);
  const std::string id = alerts[0].id;
  alerts.clear();
  w.Advance(15, &alerts);  // both matches leave the window
  REQUIRE(alerts.size() == 1);
  CHECK(alerts[0].state == AlertState::kResolved);
  CHECK(alerts[0].id == id);  // the same episode
  CHECK(w.window_keys() == 0);
  CHECK(w.stored_batches() == 0);
}

TEST_CASE("RuleWindow: the work an advance has weighs the ends due, the keys, the slides held",
          "[engine][window][unit]") {
  const rules::Rule rule = MakeRule(/*window_batches=*/6, /*slide_batches=*/2, 3, 1000);
  RuleWindow w(rule, 1000);
  CHECK_FALSE(w.HasWork(false, 100));
  CHECK(w.HasWork(true, 100));  // never advanced: its first Advance starts it
  for (int64_t batch = 0; batch < 50; ++batch) w.Add(batch, "k" + std::to_string(batch % 3), "x");
  // A first Advance steps over every slide held (50 batches, 2 a slide): the whole log, for
  // replay's.
  CHECK(w.stored_batches() == 25);
  CHECK(w.WorkOf(true, 100) >= 25);
  std::vector<Alert> out;
  w.Advance(20, &out);
  CHECK(w.next_end() == 22);
  CHECK_FALSE(w.HasWork(true, 21));
  CHECK(w.WorkOf(true, 21) == 0);
  // Three keys in the window, ends 22 and 24 due.
  CHECK(w.WorkOf(true, 24) == 2 * (1 + 3));
  CHECK(w.HasWork(true, 22));
}

TEST_CASE("RuleWindow: a long sample is cut to a bounded size", "[engine][window][unit]") {
  rules::Rule rule = MakeRule(1, 1, 1, 1000);
  RuleWindow w(rule, 1000);
  w.Add(0, "k", std::string(100000, 'x'));
  std::vector<Alert> alerts;
  w.Advance(1, &alerts);
  REQUIRE(alerts.size() == 1);
  CHECK(alerts[0].sample.size() == kMaxSampleBytes);
}

// A window holds whole slides: the matches of a key in one slide's batches are one stored
// partial, whose sample still names the batch it came in.
TEST_CASE("RuleWindow: a slide's batches are one partial that keeps its sample's batch",
          "[engine][window][unit]") {
  const rules::Rule rule = MakeRule(/*window_batches=*/6, /*slide_batches=*/3, 3, 1000);
  RuleWindow w(rule, 1000, /*lateness_batches=*/3);
  w.Add(4, "k", "k in batch 4");  // slide 3
  w.Add(5, "k", "k in batch 5");
  w.Add(3, "j", "j in batch 3");
  w.Add(7, "k", "k in batch 7");  // slide 6
  CHECK(w.stored_batches() == 2);
  std::vector<Alert> out;
  w.Advance(9, &out);  // ends 3, 6 and 9; the window ending at 9 holds k three times
  REQUIRE(out.size() == 1);
  CHECK(out[0].count == 3);
  CHECK(out[0].window_end_ms == 9000);
  REQUIRE(out[0].evidence.size() == 2);  // one per slide
  CHECK(out[0].evidence[0].line == "k in batch 4");
  CHECK(out[0].evidence[0].batch_start_ms == 4000);
  CHECK(out[0].evidence[1].line == "k in batch 7");
  CHECK(out[0].evidence[1].batch_start_ms == 7000);
  // The key's matches slide by slide, up to the one holding batch 8: slides 0, 3 and 6.
  CHECK(w.KeyHistory("k", 8, 3) == std::vector<uint64_t>{0, 2, 1});
  // A late match inside an evaluated slide joins its slide, and keeps its batch too.
  w.Add(2, "j", "j in batch 2");
  w.ReevaluateLate(&out);
  CHECK(w.stored_batches() == 3);
  CHECK(w.KeyHistory("j", 8, 3) == std::vector<uint64_t>{1, 1, 0});
}
