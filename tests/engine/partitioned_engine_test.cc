// Partitions and threads, as a property: random streams (late lines, rules reading their own
// time stamps, keyed and unkeyed rules of every kind) through engines that apply their
// partitions on 1, 2, 3 and 8 threads raise byte-identical alert events and leave the same
// checkpointed state, with crashes at random points (recovered from the store) and a rules
// reload on the way; and the same events as an engine of one partition.
#include <algorithm>
#include <map>
#include <random>
#include <set>
#include <string>
#include <vector>

#include <catch2/catch.hpp>

#include "engine/checkpoint_store.h"
#include "engine/engine.h"
#include "engine/parallel_matcher.h"
#include "tests/support/temp_dir.h"

using namespace ember;
using namespace ember::engine;

namespace {

// The rules both sets share: keyed and unkeyed, distinct with `for`, a rule reading its own
// time stamps, new-key and absence rules.
constexpr const char* kSharedRules = R"(rules:
  - name: burst
    match: 'fail (?P<user>\w+) from (?P<ip>\S+)'
    by: [ip]
    window: 4s
    every: 2s
    when: count >= 3
  - name: spread
    match: 'fail (?P<user>\w+) from (?P<ip>\S+)'
    by: [user]
    window: 6s
    every: 2s
    distinct: ip
    when: distinct >= 3
    for: 2s
  - name: slow
    match: 'took=(?P<ms>\d+) at=(?P<ts>\d+)'
    value: ms
    timestamp:
      field: ts
      format: epoch
    window: 4s
    when: sum >= 2000
  - name: newcomer
    kind: new_key
    match: 'login (?P<user>\w+)'
    by: [user]
    window: 6s
  - name: quiet
    kind: absence
    match: 'beat (?P<host>\w+)'
    by: [host]
    window: 8s
    every: 2s
)";

// Before the reload: `errors` with keep_firing_for, and a top-K rule.
const std::string kRulesA = std::string(kSharedRules) + R"(  - name: errors
    match: 'ERROR'
    window: 10s
    every: 2s
    when: count >= 6
    keep_firing_for: 4s
  - name: top
    kind: top_k
    top: 2
    match: 'fail (?P<user>\w+) from'
    by: [user]
    window: 6s
    every: 2s
    when: count >= 2
)";

// After it: `errors` changes (its state starts anew), `top` goes, `denied` comes.
const std::string kRulesB = std::string(kSharedRules) + R"(  - name: errors
    match: 'ERROR'
    window: 10s
    every: 2s
    when: count >= 4
  - name: denied
    match: 'denied (?P<path>\S+)'
    by: [path]
    window: 4s
    when: count >= 2
)";

std::shared_ptr<const rules::RuleSet> Load(const test::TempDir& dir, const char* name,
                                           const std::string& yaml) {
  rules::Diagnostics d;
  rules::RuleSetOptions o;
  o.batch_interval_ms = 1000;
  auto set = rules::RuleSet::Load(dir.Write(name, yaml), o, &d);
  INFO((d.empty() ? "" : d[0]));
  REQUIRE(set.ok());
  return *set;
}

struct Event {
  int64_t time_ms;
  int64_t arrival_ms;
  std::string text;
  std::string host;
};

// Four hosts writing in event-time order, delivered with small random delays and now and
// then after a silence (their backlog arrives late at once).
std::vector<Event> Generate(std::mt19937& rng) {
  std::vector<Event> events;
  auto pick = [&](int n) { return std::uniform_int_distribution<int>(0, n - 1)(rng); };
  const char* users[] = {"ann", "bob", "cy", "dee", "eve", "fay", "gus", "hal"};
  for (int host = 0; host < 4; ++host) {
    const std::string name = "h" + std::to_string(host);
    int64_t t = std::uniform_int_distribution<int64_t>(0, 2000)(rng);
    int64_t silent_until = 0;
    const int64_t stop = std::uniform_int_distribution<int64_t>(40'000, 70'000)(rng);
    while (t < stop) {
      t += std::uniform_int_distribution<int64_t>(5, 120)(rng);
      if (t > silent_until && pick(60) == 0) {
        silent_until = t + std::uniform_int_distribution<int64_t>(2000, 12'000)(rng);
      }
      const int64_t delay = std::uniform_int_distribution<int64_t>(0, 500)(rng);
      const int64_t arrival = t < silent_until ? silent_until + delay : t + delay;
      std::string text;
      switch (pick(7)) {
        case 0:
        case 1:
          text = std::string("fail ") + users[pick(8)] + " from 10.0." + std::to_string(pick(3)) +
                 "." + std::to_string(pick(20));
          break;
        case 2:
          text = "ERROR disk " + std::to_string(pick(1000));
          break;
        case 3:  // its own stamp, up to 3 s off the line's
          text = "took=" + std::to_string(100 + pick(900)) +
                 " at=" + std::to_string((t - pick(3000)) / 1000 + 1'700'000'000);
          break;
        case 4:
          text = std::string("login ") + users[pick(8)] + std::to_string(pick(40));
          break;
        case 5:
          text = "beat " + name;
          break;
        default:
          text = "denied /p" + std::to_string(pick(6));
          break;
      }
      // Own stamps are epoch seconds: put the lines there too.
      events.push_back({t + 1'700'000'000'000, arrival + 1'700'000'000'000, text, name});
    }
  }
  std::stable_sort(events.begin(), events.end(),
                   [](const Event& a, const Event& b) { return a.arrival_ms < b.arrival_ms; });
  return events;
}

// What a run may do besides taking lines: after which chunk it crashes (losing what it
// applied since its last checkpoint, which is taken again), and where it reloads the rules.
struct Schedule {
  std::vector<size_t> chunk_ends;  // line index at which each chunk ends
  std::set<size_t> crash_after;    // chunk indices
  size_t reload_at = SIZE_MAX;     // chunk index
};

Schedule MakeSchedule(std::mt19937& rng, size_t lines, bool faults) {
  Schedule s;
  size_t at = 0;
  while (at < lines) {
    at = std::min(lines, at + std::uniform_int_distribution<size_t>(1, 600)(rng));
    s.chunk_ends.push_back(at);
  }
  if (faults) {
    for (size_t c = 0; c < s.chunk_ends.size(); ++c) {
      if (std::uniform_int_distribution<int>(0, 3)(rng) == 0) s.crash_after.insert(c);
    }
    s.reload_at = std::uniform_int_distribution<size_t>(0, s.chunk_ends.size() - 1)(rng);
  }
  return s;
}

// Every stored partial and alert state, decoded, in one text.
class StateText : public PartialSink {
 public:
  void Reserve(std::string_view, int64_t, uint32_t, size_t) override {}
  void Add(std::string_view rule, int64_t batch, std::string_view key, const Partial& p) override {
    std::string& v =
        partials_[std::string(rule) + "/" + std::to_string(batch) + "/" + std::string(key)];
    v = std::to_string(p.count) + " " + std::to_string(p.total) + " " + std::to_string(p.numeric) +
        " " + std::to_string(p.sum) + " " + std::to_string(p.distinct.size()) + " " + p.sample +
        " " + (p.host ? *p.host : "");
  }
  std::string Text(const Snapshot& snap) const {
    std::string out = "closed " + std::to_string(snap.closed_until) + "\n";
    for (const auto& [k, v] : partials_) out += k + " = " + v + "\n";
    std::vector<std::string> states;
    for (const auto& r : snap.key_states) {
      states.push_back(r.rule + "/" + r.key + " " +
                       std::to_string(static_cast<int>(r.state.phase)) + " " + r.state.alert_id +
                       " " + std::to_string(r.state.first_seen) + " " +
                       std::to_string(r.state.last_seen));
    }
    std::sort(states.begin(), states.end());
    for (const auto& s : states) out += s + "\n";
    return out;
  }

 private:
  std::map<std::string, std::string> partials_;
};

struct Outcome {
  std::string alerts;  // committed events, one JSON line each, in order
  std::string state;   // the store at the end, decoded
  uint64_t late_lines = 0;
};

Outcome Run(const test::TempDir& dir, const std::string& state_name, unsigned threads,
            uint32_t partitions, const std::vector<Event>& events, const Schedule& schedule) {
  auto rules_a = Load(dir, "a.yaml", kRulesA);
  auto rules_b = Load(dir, "b.yaml", kRulesB);
  const std::string state = dir.Sub(state_name);
  CheckpointStoreOptions so;
  so.dir = state;
  so.sync = false;
  so.partitions = partitions;
  auto opened = CheckpointStore::Open(so);
  REQUIRE(opened.ok());
  std::unique_ptr<CheckpointStore> store = std::move(*opened);
  ParallelMatcher matcher(threads);
  EngineOptions options;
  options.max_lateness_ms = 8000;
  options.partitions = partitions;
  options.min_parallel_matches = 0;  // every call on the threads, however little its work
  options.min_busy_parallel_matches = 0;
  options.min_parallel_evaluation = 0;
  options.min_range_lines = 1;  // routed in ranges at once, one per thread
  std::shared_ptr<const rules::RuleSet> rules = rules_a;

  // An engine as the aggregator starts one: the stored state recovered, the store stamped.
  auto start = [&](const Engine* previous) {
    auto e = std::make_unique<Engine>(rules, options);
    if (threads > 1) e->SetRunner(&matcher);
    auto snap = store->Recover(*rules, 1000, e->restore_sink());
    REQUIRE(snap.ok());
    if (!snap->empty) e->FinishRestore(snap->closed_until, snap->key_states);
    REQUIRE(store->Stamp(*rules, 1000).ok());
    if (previous != nullptr) e->CarryCountersFrom(*previous);
    return e;
  };
  std::unique_ptr<Engine> engine = start(nullptr);

  Outcome out;
  std::vector<InputLine> lines;
  std::vector<Alert> alerts;
  int64_t newest = INT64_MIN;
  size_t begin = 0;
  std::set<size_t> crashed;
  for (size_t c = 0; c < schedule.chunk_ends.size();) {
    const size_t end = schedule.chunk_ends[c];
    lines.clear();
    for (size_t i = begin; i < end; ++i) {
      lines.push_back(
          InputLine{events[i].text, events[i].host, "/var/log/app.log", events[i].time_ms, ""});
      newest = std::max(newest, events[i].arrival_ms);
    }
    matcher.Match(engine->rules(), lines);
    engine->RouteLines(lines, matcher, 0);
    engine->ApplyRouted();
    alerts.clear();
    engine->AdvanceWatermark(newest - 1500, &alerts);
    if (schedule.crash_after.count(c) && !crashed.count(c)) {
      // Killed before its checkpoint: what it applied is lost and comes again.
      crashed.insert(c);
      engine = start(nullptr);
      continue;
    }
    REQUIRE(store->Commit({engine->TakeDelta()}, {}, alerts).ok());
    for (const Alert& a : alerts) out.alerts += AlertToJson(a) + "\n";
    if (c == schedule.reload_at) {
      rules = rules_b;
      engine = start(engine.get());
    }
    begin = end;
    ++c;
  }
  alerts.clear();
  engine->Finish(&alerts);
  REQUIRE(store->Commit({engine->TakeDelta()}, {}, alerts).ok());
  for (const Alert& a : alerts) out.alerts += AlertToJson(a) + "\n";
  out.late_lines = engine->stats().late_lines;
  engine.reset();

  StateText text;
  auto snap = store->Recover(*rules, 1000, text);
  REQUIRE(snap.ok());
  out.state = text.Text(*snap);
  return out;
}

std::multiset<std::string> Lines(const std::string& text) {
  std::multiset<std::string> out;
  size_t at = 0;
  while (at < text.size()) {
    const size_t nl = text.find('\n', at);
    out.insert(text.substr(at, nl - at));
    at = nl + 1;
  }
  return out;
}

}  // namespace

TEST_CASE("Partitions: 1, 2, 3 and 8 threads raise the same events and keep the same state",
          "[engine][partitions][threads][property][unit]") {
  test::TempDir dir;
  for (uint32_t seed = 1; seed <= 6; ++seed) {
    std::mt19937 rng(seed);
    const std::vector<Event> events = Generate(rng);
    const bool faults = seed % 2 == 0;
    const Schedule schedule = MakeSchedule(rng, events.size(), faults);
    INFO("seed " << seed << ", " << events.size() << " lines, " << schedule.chunk_ends.size()
                 << " chunks, " << schedule.crash_after.size() << " crashes, reload at "
                 << schedule.reload_at);
    const Outcome one = Run(dir, "s" + std::to_string(seed) + "-t1", 1, 16, events, schedule);
    if (!faults) CHECK(one.late_lines > 0);  // the generator does make late lines
    CHECK(Lines(one.alerts).size() > 20);
    if (!schedule.crash_after.empty()) {
      // A crash loses nothing and counts nothing twice: the same as a run without one.
      Schedule calm = schedule;
      calm.crash_after.clear();
      const Outcome steady = Run(dir, "s" + std::to_string(seed) + "-calm", 1, 16, events, calm);
      CHECK(steady.alerts == one.alerts);
      CHECK(steady.state == one.state);
    }
    for (unsigned threads : {2u, 3u, 8u}) {
      INFO(threads << " threads");
      const Outcome many = Run(dir, "s" + std::to_string(seed) + "-t" + std::to_string(threads),
                               threads, 16, events, schedule);
      CHECK(many.alerts == one.alerts);
      CHECK(many.state == one.state);
    }
    // One partition holds every key of a rule together: the same events (late ones may come
    // in another order across keys), and the same state.
    const Outcome whole = Run(dir, "s" + std::to_string(seed) + "-p1", 2, 1, events, schedule);
    CHECK(Lines(whole.alerts) == Lines(one.alerts));
    CHECK(whole.state == one.state);
  }
}

TEST_CASE("Partitions: a store made with another partition count is refused with the remedy",
          "[engine][partitions][checkpoint][unit]") {
  test::TempDir dir;
  auto rules = Load(dir, "a.yaml", kRulesA);
  const std::string state = dir.Sub("state");
  {
    CheckpointStoreOptions so;
    so.dir = state;
    so.sync = false;
    so.partitions = 16;
    auto store = CheckpointStore::Open(so);
    REQUIRE(store.ok());
    REQUIRE((*store)->Stamp(*rules, 1000).ok());
  }
  CheckpointStoreOptions so;
  so.dir = state;
  so.partitions = 32;
  auto refused = CheckpointStore::Open(so);
  REQUIRE_FALSE(refused.ok());
  CHECK(refused.status().message() ==
        "the state in '" + state +
            "' is kept in 16 partitions, the configuration says 32: set partitions: 16 (the "
            "count is fixed when the state is created), or start with --reset-state to move "
            "this state aside and begin anew");
  so.partitions = 16;
  CHECK(CheckpointStore::Open(so).ok());
  so.partitions = 0;  // a reader takes the store's
  auto reader = CheckpointStore::Open(so);
  REQUIRE(reader.ok());
  CHECK((*reader)->stored_partitions() == 16);
}
