// Late data, as a property: lines that arrive late (random delays, reorderings, streams that
// go silent and come back with their backlog) raise the same set of (window end, key) at which
// the rule's condition held as one engine fed the same lines in event-time order, and every
// event raised after its window's normal time is marked late.
#include <algorithm>
#include <random>
#include <set>
#include <string>
#include <vector>

#include <catch2/catch.hpp>

#include "engine/engine.h"
#include "tests/support/temp_dir.h"

using namespace ember;
using namespace ember::engine;

namespace {

struct Event {
  int64_t time_ms;     // event time
  int64_t arrival_ms;  // when the aggregator gets it
  std::string text;
};

std::shared_ptr<const rules::RuleSet> Rules(const test::TempDir& dir, const std::string& extra) {
  rules::Diagnostics d;
  rules::RuleSetOptions o;
  o.batch_interval_ms = 1000;
  auto set = rules::RuleSet::Load(dir.Write("rules.yaml", R"(rules:
  - name: burst
    match: 'fail (?P<user>\w+)'
    by: [user]
    window: 4s
    every: 2s
    repeat: 2s
)" + extra),
                                  o, &d);
  INFO((d.empty() ? "" : d[0]));
  REQUIRE(set.ok());
  return *set;
}

using Held = std::set<std::pair<int64_t, std::string>>;  // (window end, key)

void Collect(const std::vector<Alert>& alerts, Held* held) {
  for (const Alert& a : alerts) {
    if (a.state != AlertState::kFiring) continue;
    held->insert({a.window_end_ms, a.fields.empty() ? "" : a.fields[0].second});
  }
}

// Three streams with lines in event-time order each, delivered with a small random delay,
// except during random silences, after which a stream's backlog arrives at once.
std::vector<Event> Generate(std::mt19937& rng) {
  std::vector<Event> events;
  const char* users[] = {"ann", "bob", "cy"};
  for (int stream = 0; stream < 3; ++stream) {
    int64_t t = std::uniform_int_distribution<int64_t>(0, 2000)(rng);
    int64_t silent_until = 0;
    while (t < 90'000) {
      t += std::uniform_int_distribution<int64_t>(50, 900)(rng);
      if (t > silent_until && std::uniform_int_distribution<int>(0, 40)(rng) == 0) {
        silent_until = t + std::uniform_int_distribution<int64_t>(2000, 20'000)(rng);
      }
      const int64_t delay = std::uniform_int_distribution<int64_t>(0, 400)(rng);
      const int64_t arrival = t < silent_until ? silent_until + delay : t + delay;
      const char* user = users[std::uniform_int_distribution<int>(0, 2)(rng)];
      events.push_back({t, arrival, std::string("fail ") + user});
    }
  }
  return events;
}

Held Reference(std::shared_ptr<const rules::RuleSet> rules, std::vector<Event> events) {
  std::stable_sort(events.begin(), events.end(),
                   [](const Event& a, const Event& b) { return a.time_ms < b.time_ms; });
  Engine e(rules, EngineOptions{});
  std::vector<Alert> alerts;
  for (const Event& ev : events) {
    e.Ingest(InputLine{ev.text, "h", "f", ev.time_ms, ""});
    e.AdvanceWatermark(ev.time_ms, &alerts);
  }
  e.Finish(&alerts);
  CHECK(e.stats().late_lines == 0);
  Held held;
  Collect(alerts, &held);
  return held;
}

}  // namespace

TEST_CASE("Late data: delays, reorderings and silences raise the windows of in-order data",
          "[engine][late][property][unit]") {
  test::TempDir dir;
  for (const std::string& extra : {std::string("    when: count >= 3\n"),
                                   std::string("    when: count >= 2\n    for: 2s\n")}) {
    auto rules = Rules(dir, extra);
    for (uint32_t seed = 1; seed <= 60; ++seed) {
      std::mt19937 rng(seed);
      std::vector<Event> events = Generate(rng);
      const Held expected = Reference(rules, events);

      std::stable_sort(events.begin(), events.end(),
                       [](const Event& a, const Event& b) { return a.arrival_ms < b.arrival_ms; });
      Engine e(rules, EngineOptions{});
      std::vector<Alert> alerts, all;
      Held got;
      const int64_t lateness = std::uniform_int_distribution<int64_t>(0, 1500)(rng);
      int64_t closed_ms = 0;  // the watermark as of the last advance
      for (size_t i = 0; i < events.size(); ++i) {
        const Event& ev = events[i];
        e.Ingest(InputLine{ev.text, "h", "f", ev.time_ms, ""});
        // The watermark follows the arrivals (the clock), closing batches while some lines
        // are still on their way.
        if (std::uniform_int_distribution<int>(0, 3)(rng) == 0 || i + 1 == events.size()) {
          const int64_t watermark = std::max(closed_ms, ev.arrival_ms - lateness);
          e.AdvanceWatermark(watermark, &alerts);
          for (const Alert& a : alerts) {
            INFO("seed " << seed << ", window end " << a.window_end_ms);
            if (a.late) {
              CHECK(a.window_end_ms <= closed_ms);  // its window's time had passed
            } else {
              CHECK(a.window_end_ms <= watermark);  // raised on time
              CHECK(a.window_end_ms > closed_ms - 2000);
            }
          }
          closed_ms = watermark / 1000 * 1000;
          all.insert(all.end(), alerts.begin(), alerts.end());
          alerts.clear();
        }
      }
      e.Finish(&all);
      Collect(all, &got);
      INFO("seed " << seed << ": " << extra);
      CHECK(got == expected);
      CHECK(e.stats().too_late == 0);
      if (seed == 1) CHECK(e.stats().late_lines > 0);  // the generator does make late lines
    }
  }
}
