// The checkpoint must let a restarted aggregator continue exactly where it stopped: state
// recovered from LMDB at any batch boundary, then fed the rest of the input, raises the same
// alerts as an engine that never stopped.
#include "engine/checkpoint_store.h"

#include <map>
#include <random>
#include <set>
#include <string>
#include <vector>

#include <catch2/catch.hpp>

#include "common/kv_store.h"
#include "engine/partitioning.h"
#include "engine/segment_codec.h"
#include "tests/support/temp_dir.h"

using namespace ember;
using namespace ember::engine;

namespace {

const char* kRules = R"(rules:
  - name: fails
    match: 'fail from (?P<ip>\S+)'
    by: [ip]
    window: 20s
    every: 5s
    when: count >= 4
  - name: errors
    match: 'ERROR'
    by: [host]
    window: 3s
    when: count >= 2
)";

// Every rule kind, aggregate and lifecycle setting: their state must survive recovery too.
const char* kLifecycleRules = R"(rules:
  - name: fails
    match: 'fail from (?P<ip>\S+)'
    by: [ip]
    window: 20s
    every: 5s
    when: count >= 4
    for: 10s
    keep_firing_for: 10s
    repeat: 15s
    flap_damping: {starts: 2, within: 2m}
  - name: ratio
    match: 'req (?P<v>\w+) 5\d\d'
    ratio_of: 'req (?P<v>\w+) \d\d\d'
    by: [v]
    window: 10s
    every: 2s
    when: ratio > 0.3 and total >= 3
    resolve_when: ratio < 0.1
  - name: numbers
    match: 'req (?P<v>\w+) \d+ ms=(?P<ms>\d+) user=(?P<u>\w+)'
    by: [v]
    value: ms
    distinct: u
    window: 6s
    every: 2s
    when: avg > 50 and max >= 90 and distinct >= 2
    message: '{{min}} {{max}} {{avg}} {{sum}} {{distinct}}'
  - name: absent
    kind: absence
    match: 'ERROR'
    by: [host]
    window: 4s
    forget_after: 20s
  - name: newkey
    kind: new_key
    match: 'user=(?P<u>\w+)'
    by: [u]
    window: 5s
    forget_after: 15s
  - name: top
    kind: top_k
    top: 2
    match: 'fail from (?P<ip>\S+)'
    by: [ip]
    window: 10s
    every: 5s
)";

std::shared_ptr<const rules::RuleSet> Load(const test::TempDir& dir, const std::string& yaml) {
  rules::Diagnostics d;
  auto set = rules::RuleSet::Load(dir.Write("rules.yaml", yaml), rules::RuleSetOptions{}, &d);
  REQUIRE(set.ok());
  return *set;
}

// Writes one raw record and the closed batch index into the stamped environment at `state`,
// bypassing CheckpointStore (as a corrupt disk or a hand edit would).
void WriteRawRecord(const std::string& state, const char* db, const std::string& key,
                    const std::string& value, const char* closed_until) {
  KvStoreOptions o;
  o.dir = state;
  o.databases = {"meta", "segments", "keystate", "offsets", "outbox", "history"};
  auto kv = KvStore::Open(o);
  REQUIRE(kv.ok());
  REQUIRE((*kv)
              ->Write([&](KvWriter& w) {
                Status s = w.Put("meta", "closed_until", closed_until);
                return s.ok() ? w.Put(db, key, value) : s;
              })
              .ok());
}

std::unique_ptr<CheckpointStore> OpenStore(const std::string& dir) {
  CheckpointStoreOptions o;
  o.dir = dir;
  o.sync = false;
  auto s = CheckpointStore::Open(o);
  INFO(s.status().ToString());
  REQUIRE(s.ok());
  return std::move(*s);
}

// A store at `dir` stamped for `rules` (1 s batches).
std::unique_ptr<CheckpointStore> StampedStore(const std::string& dir, const rules::RuleSet& rules) {
  auto store = OpenStore(dir);
  REQUIRE(store->Stamp(rules, 1000).ok());
  return store;
}

// Engine options of one partition: segments are per partition, so count them in one.
EngineOptions OnePartition() {
  EngineOptions options;
  options.partitions = 1;
  return options;
}

// Rules (kRules unless named), a store stamped for them, and an engine of one partition over
// them.
struct OnePartitionStore {
  explicit OnePartitionStore(const char* rules_yaml = kRules) : rules_yaml(rules_yaml) {}
  const char* rules_yaml;
  test::TempDir dir;
  std::shared_ptr<const rules::RuleSet> rules = Load(dir, rules_yaml);
  std::string state = dir.Sub("state");
  std::unique_ptr<CheckpointStore> store = StampedStore(state, *rules);
  Engine e{rules, OnePartition()};
};

// The stored segments whose key begins with `prefix` (the store at `state` must be closed).
std::vector<std::string> StoredSegments(const std::string& state, const std::string& prefix) {
  KvStoreOptions o;
  o.dir = state;
  o.databases = {"meta", "segments", "keystate", "offsets", "outbox", "history"};
  o.read_only = true;
  auto kv = KvStore::Open(o);
  REQUIRE(kv.ok());
  std::vector<std::string> out;
  REQUIRE((*kv)
              ->Scan("segments", prefix,
                     [&](std::string_view, std::string_view v) { out.emplace_back(v); })
              .ok());
  return out;
}

// The number of stored segments of a rule's batch (the store at `state` must be closed).
size_t SegmentsOf(const std::string& state, const std::string& rule, int64_t batch) {
  std::string prefix = rule + '\0';
  for (int i = 7; i >= 0; --i) prefix.push_back(static_cast<char>((batch >> (8 * i)) & 0xff));
  return StoredSegments(state, prefix).size();
}

// Collects recovered partials, a later partial of a key in a batch replacing the earlier one
// (as the engine's restore sink does).
class CollectSink : public PartialSink {
 public:
  void Reserve(std::string_view, int64_t, uint32_t, size_t) override {}
  void Add(std::string_view rule, int64_t batch, std::string_view key,
           const Partial& partial) override {
    auto [it, added] = index_.emplace(
        std::string(rule) + '\0' + std::to_string(batch) + '\0' + std::string(key), records.size());
    if (!added) {
      records[it->second].partial = partial;
      return;
    }
    records.push_back(PartialRecord{std::string(rule), batch, std::string(key), false, partial});
  }
  std::vector<PartialRecord> records;

 private:
  std::map<std::string, size_t> index_;
};

struct Recovered {
  Snapshot snap;
  std::vector<PartialRecord> partials;
};

Recovered RecoverAll(CheckpointStore& store, const rules::RuleSet& rules) {
  CollectSink sink;
  auto snap = store.Recover(rules, 1000, sink);
  INFO(snap.status().ToString());
  REQUIRE(snap.ok());
  return {std::move(*snap), std::move(sink.records)};
}

// Recovers `engine` from `store` as the aggregator does (streamed into its windows).
Snapshot RecoverInto(CheckpointStore& store, const rules::RuleSet& rules, Engine& engine) {
  auto snap = store.Recover(rules, 1000, engine.restore_sink());
  INFO(snap.status().ToString());
  REQUIRE(snap.ok());
  engine.FinishRestore(snap->closed_until, snap->key_states);
  return *snap;
}

struct Input {
  std::string text;
  int64_t ms;
  std::string host = "h";
};

std::vector<Input> MakeInput(uint32_t seed) {
  std::mt19937 rng(seed);
  std::vector<Input> in;
  int64_t t = 1'700'000'000'000;
  for (int i = 0; i < 600; ++i) {
    // Quiet stretches now and then, so keys go silent, resolve and are forgotten.
    t += rng() % 25 == 0 ? 3000 + rng() % 9000 : rng() % 400;
    const std::string host = "h" + std::to_string(rng() % 3);
    switch (rng() % 4) {
      case 0:
        in.push_back({"ERROR boom", t, host});
        break;
      case 1:
        in.push_back({"fail from 10.0.0." + std::to_string(rng() % 5), t, host});
        break;
      default:
        in.push_back({"req v" + std::to_string(rng() % 3) + " " +
                          std::to_string(rng() % 3 == 0 ? 503 : 200) + " ms=" +
                          std::to_string(rng() % 120) + " user=u" + std::to_string(rng() % 6),
                      t, host});
    }
  }
  return in;
}

std::vector<std::string> Describe(const std::vector<Alert>& alerts) {
  std::vector<std::string> out;
  for (const auto& a : alerts) out.push_back(AlertToJson(a));
  return out;
}

}  // namespace

TEST_CASE("CheckpointStore: recovery at any batch boundary continues with identical alerts",
          "[engine][checkpoint][property][unit]") {
  test::TempDir dir;
  const bool lifecycle = GENERATE(false, true);
  INFO((lifecycle ? "every kind, aggregate and lifecycle setting" : "count thresholds"));
  auto rules = Load(dir, lifecycle ? kLifecycleRules : kRules);
  EngineOptions options;
  options.emit_pending = lifecycle;
  std::set<std::string> rules_alerting, states;
  for (uint32_t seed = 1; seed <= 8; ++seed) {
    const auto input = MakeInput(seed);
    // Reference: one engine, never stopped, ticking every second.
    std::vector<Alert> reference;
    {
      Engine e(rules, options);
      for (const auto& in : input) {
        e.AdvanceWatermark(in.ms - 1500, &reference);
        e.Ingest(InputLine{in.text, in.host, "f", in.ms, ""});
      }
      e.Finish(&reference);
    }
    // Crashing run: checkpoint after every watermark step; at a random point throw the engine
    // away (as SIGKILL would) and recover a new one from the store.
    std::mt19937 rng(seed * 7919);
    const size_t crash_at = 50 + rng() % 500;
    const std::string state = dir.Sub("state" + std::to_string(seed));
    std::vector<Alert> got;
    auto store = OpenStore(state);
    REQUIRE(store->Stamp(*rules, 1000).ok());
    auto engine = std::make_unique<Engine>(rules, options);
    for (size_t i = 0; i < input.size(); ++i) {
      // One crash, or (lifecycle) one every 61 lines, so some fall inside long episodes.
      if (i == crash_at || (lifecycle && i > 0 && i % 61 == crash_at % 61)) {
        engine.reset();
        store.reset();
        store = OpenStore(state);
        engine = std::make_unique<Engine>(rules, options);
        const Snapshot snap = RecoverInto(*store, *rules, *engine);
        REQUIRE_FALSE(snap.empty);
        CHECK(snap.reset_rules.empty());
      }
      engine->AdvanceWatermark(input[i].ms - 1500, &got);
      engine->Ingest(InputLine{input[i].text, input[i].host, "f", input[i].ms, ""});
      REQUIRE(store->Commit({engine->TakeDelta()}, {}, {}).ok());
    }
    engine->Finish(&got);
    INFO("seed " << seed << " crash at " << crash_at);
    CHECK(Describe(got) == Describe(reference));
    CHECK_FALSE(reference.empty());
    for (const auto& a : reference) {
      rules_alerting.insert(a.rule);
      states.insert(a.repeat ? "repeat" : AlertStateName(a.state));
    }
  }
  // The inputs must exercise what they claim to: every rule raised something, in every state.
  CHECK(rules_alerting.size() == rules->rules().size());
  if (lifecycle) {
    CHECK(states == std::set<std::string>{"firing", "pending", "repeat", "resolved"});
  }
}

TEST_CASE("CheckpointStore: a changed rule starts empty while unchanged rules keep state",
          "[engine][checkpoint][unit]") {
  test::TempDir dir;
  auto rules = Load(dir, kRules);
  const std::string state = dir.Sub("state");
  {
    auto store = OpenStore(state);
    REQUIRE(store->Stamp(*rules, 1000).ok());
    Engine e(rules, EngineOptions{});
    e.Ingest(InputLine{"fail from 1.2.3.4", "h", "/var/log/f", 5000, "", 1000, 2048});
    e.Ingest(InputLine{"ERROR x", "h", "f", 5000, ""});
    REQUIRE(store->Commit({e.TakeDelta()}, {{std::string("agent\0path", 10), 42}}, {}).ok());
  }
  std::string changed = kRules;
  changed.replace(changed.find("window: 3s"), 10, "window: 6s");
  auto rules2 = Load(dir, changed);
  auto store = OpenStore(state);
  const Recovered r = RecoverAll(*store, *rules2);
  CHECK(r.snap.reset_rules == std::vector<std::string>{"errors"});
  REQUIRE(r.partials.size() == 1);
  CHECK(r.partials[0].rule == "fails");
  CHECK(r.partials[0].partial.count == 1);
  CHECK(r.partials[0].partial.sample == "fail from 1.2.3.4");
  // Where the sample came from survives too.
  REQUIRE(r.partials[0].partial.host != nullptr);
  CHECK(*r.partials[0].partial.host == "h");
  REQUIRE(r.partials[0].partial.file != nullptr);
  CHECK(*r.partials[0].partial.file == "/var/log/f");
  CHECK(r.partials[0].partial.offset_start == 1000);
  CHECK(r.partials[0].partial.offset_end == 2048);
  CHECK(r.snap.offsets.at(std::string("agent\0path", 10)) == 42);
}

// A segment stores its origin once and a count-only partial without the aggregates block;
// samples that begin like a format marker, and partials with aggregates, read back exactly.
TEST_CASE("CheckpointStore: partials are stored compactly and read back exactly",
          "[engine][checkpoint][unit]") {
  test::TempDir dir;
  auto rules = Load(dir, kRules);
  const std::string state = dir.Sub("state");
  std::vector<Partial> partials(4);
  partials[0].count = 3;
  partials[0].sample = "fail from 1.2.3.4";
  partials[1].count = 1;
  partials[1].sample = std::string("\0Pv3", 4) + std::string(60, 'x');  // binary input
  partials[2].count = 2;
  partials[2].sample = std::string("\0Pv4", 4) + "y";
  partials[3].count = 5;
  partials[3].total = 9;
  partials[3].numeric = 2;
  partials[3].sum = 1.5;
  partials[3].min = -1;
  partials[3].max = 2.5;
  partials[3].distinct = {7, 11};
  partials[3].sample = "with aggregates";
  for (Partial& p : partials) {
    p.host = Intern("web1");
    p.file = Intern("/var/log/auth.log");
    p.offset_start = 100;
    p.offset_end = 200;
  }
  {
    auto store = OpenStore(state);
    REQUIRE(store->Stamp(*rules, 1000).ok());
    CheckpointDelta delta;
    for (size_t i = 0; i < partials.size(); ++i) {
      delta.partials.push_back(
          PartialRecord{"fails", 5, "10.0.0." + std::to_string(i), false, partials[i]});
    }
    REQUIRE(store->Commit({delta}, {}, {}).ok());
  }
  {  // One segment holding the four, their shared origin stored once.
    const std::vector<std::string> segments = StoredSegments(state, "");
    REQUIRE(segments.size() == 1);
    auto occurrences = [&](std::string_view what) {
      size_t n = 0;
      for (size_t at = segments[0].find(what); at != std::string::npos;
           at = segments[0].find(what, at + 1)) {
        ++n;
      }
      return n;
    };
    CHECK(occurrences("/var/log/auth.log") == 1);
    CHECK(occurrences("web1") == 1);
    size_t samples = 0;
    for (const Partial& p : partials) samples += p.sample.size() + 8;  // + key
    // The aggregates of partials[3]: 24 bytes of sum/min/max and 16 of hashes.
    CHECK(segments[0].size() <= 8 + 1 + 2 + 4 + 17 + samples + 4 * 10 + 40 + 10);
  }
  auto store = OpenStore(state);
  const Recovered r = RecoverAll(*store, *rules);
  REQUIRE(r.partials.size() == partials.size());
  for (size_t i = 0; i < partials.size(); ++i) {
    INFO("partial " << i);
    const Partial& got = r.partials[i].partial;
    CHECK(r.partials[i].key == "10.0.0." + std::to_string(i));
    CHECK(got.count == partials[i].count);
    CHECK(got.sample == partials[i].sample);
    CHECK(got.total == partials[i].total);
    CHECK(got.numeric == partials[i].numeric);
    CHECK(got.sum == partials[i].sum);
    CHECK(got.min == partials[i].min);
    CHECK(got.max == partials[i].max);
    CHECK(got.distinct == partials[i].distinct);
    CHECK(got.host == partials[i].host);
    CHECK(got.file == partials[i].file);
    CHECK(got.offset_end == 200);
  }
}

// A slide (the rule's 5 s: batches 5 to 9) changed by several commits while it was open is
// written whole once it closes, after an erase of what was stored: the store keeps one segment
// of it instead of one per commit, and recovers the same partials. A slide one commit wrote is
// not written again.
TEST_CASE("CheckpointStore: a closed slide is stored as one segment",
          "[engine][checkpoint][unit]") {
  OnePartitionStore f;
  std::vector<Alert> alerts;
  std::map<std::string, uint64_t> expected;  // key -> count in the slide of batch 5
  for (int commit = 0; commit < 3; ++commit) {
    for (int k = 0; k < 4; ++k) {
      const std::string ip = "10.0.0." + std::to_string(k + commit);
      f.e.Ingest(InputLine{"fail from " + ip, "h", "f", 5000 + commit * 1500, ""});
      ++expected[ip];
    }
    REQUIRE(f.store->Commit({f.e.TakeDelta()}, {}, {}).ok());
  }
  f.store.reset();
  CHECK(SegmentsOf(f.state, "fails", 5) == 3);
  f.store = OpenStore(f.state);

  f.e.Ingest(InputLine{"fail from 10.0.0.1", "h", "f", 10100, ""});  // slide 10, open
  f.e.AdvanceWatermark(10000, &alerts);                              // slide 5 closes
  const CheckpointDelta closing = f.e.TakeDelta();
  std::vector<std::string> batch5;
  bool erased_first = false;
  for (const auto& r : closing.partials) {
    if (r.rule != "fails" || r.batch != 5) continue;
    if (r.erased) {
      erased_first = batch5.empty();
      continue;
    }
    batch5.push_back(r.key);
  }
  CHECK(erased_first);
  CHECK(batch5.size() == expected.size());  // every key of the batch, not only changed ones
  REQUIRE(f.store->Commit({closing}, {}, {}).ok());
  f.store.reset();
  CHECK(SegmentsOf(f.state, "fails", 5) == 1);
  CHECK(SegmentsOf(f.state, "fails", 10) == 1);
  f.store = OpenStore(f.state);

  f.e.AdvanceWatermark(15000, &alerts);  // slide 10 closes: one delta wrote it, kept as is
  const CheckpointDelta second = f.e.TakeDelta();
  for (const auto& r : second.partials) CHECK_FALSE((r.batch == 10 && r.erased));
  REQUIRE(f.store->Commit({second}, {}, {}).ok());

  const Recovered recovered = RecoverAll(*f.store, *f.rules);
  std::map<std::string, uint64_t> got;
  for (const auto& r : recovered.partials) {
    if (r.rule == "fails" && r.batch == 5) CHECK(got.emplace(r.key, r.partial.count).second);
  }
  CHECK(got == expected);
  f.store.reset();
  CHECK(SegmentsOf(f.state, "fails", 10) == 1);
}

// A batch is erased from the store when it leaves the windows only if a checkpoint wrote it:
// a backfill opens and drops most of its batches between two checkpoints, and erasing each
// of those would cost the commit a search of the store per batch.
TEST_CASE("CheckpointStore: only batches a checkpoint wrote are erased when dropped",
          "[engine][checkpoint][unit]") {
  OnePartitionStore f;
  std::vector<Alert> alerts;
  f.e.Ingest(InputLine{"fail from 10.0.0.1", "h", "f", 5000, ""});  // batch 5
  REQUIRE(f.store->Commit({f.e.TakeDelta()}, {}, {}).ok());
  for (int64_t batch = 100; batch < 110; ++batch) {  // never written: dropped before a commit
    f.e.Ingest(InputLine{"fail from 10.0.0.2", "h", "f", batch * 1000, ""});
  }
  f.e.AdvanceWatermark(10'000'000, &alerts);
  const CheckpointDelta delta = f.e.TakeDelta();
  std::vector<int64_t> erased;
  for (const auto& r : delta.partials) {
    CHECK(r.erased);  // nothing is left open to write
    if (r.erased && r.rule == "fails") erased.push_back(r.batch);
  }
  CHECK(erased == std::vector<int64_t>{5});
  REQUIRE(f.store->Commit({delta}, {}, {}).ok());
  f.store.reset();
  CHECK(SegmentsOf(f.state, "fails", 5) == 0);
}

// A batch changed by several commits: each commit writes one segment for it, and recovery
// keeps each key's latest partial once.
TEST_CASE("CheckpointStore: later segments of a batch replace a key's partial",
          "[engine][checkpoint][unit]") {
  test::TempDir dir;
  auto rules = Load(dir, kRules);
  const std::string state = dir.Sub("state");
  auto record = [](const std::string& key, uint64_t count, int64_t batch) {
    Partial p;
    p.count = count;
    p.sample = "fail from " + key + " #" + std::to_string(count);
    return PartialRecord{"fails", batch, key, false, p};
  };
  {
    auto store = OpenStore(state);
    REQUIRE(store->Stamp(*rules, 1000).ok());
    CheckpointDelta first, second, third;
    first.partials = {record("10.0.0.1", 1, 5), record("10.0.0.2", 4, 5), record("10.0.0.9", 2, 4)};
    second.partials = {record("10.0.0.1", 3, 5), record("10.0.0.3", 1, 5)};
    REQUIRE(store->Commit({first}, {}, {}).ok());
    REQUIRE(store->Commit({second}, {}, {}).ok());
    // Reopened: segment numbers continue, so a later commit still wins.
    store = OpenStore(state);
    third.partials = {record("10.0.0.1", 7, 5)};
    REQUIRE(store->Commit({third}, {}, {}).ok());
  }
  auto store = OpenStore(state);
  const Recovered recovered = RecoverAll(*store, *rules);
  std::map<std::pair<int64_t, std::string>, std::pair<uint64_t, std::string>> got;
  for (const auto& r : recovered.partials) {
    CHECK(got.emplace(std::pair(r.batch, r.key), std::pair(r.partial.count, r.partial.sample))
              .second);  // each key of a batch once
  }
  CHECK(got == std::map<std::pair<int64_t, std::string>, std::pair<uint64_t, std::string>>{
                   {{4, "10.0.0.9"}, {2, "fail from 10.0.0.9 #2"}},
                   {{5, "10.0.0.1"}, {7, "fail from 10.0.0.1 #7"}},
                   {{5, "10.0.0.2"}, {4, "fail from 10.0.0.2 #4"}},
                   {{5, "10.0.0.3"}, {1, "fail from 10.0.0.3 #1"}}});
  // Dropping batch 5 removes all its segments.
  {
    CheckpointDelta drop;
    PartialRecord erased;
    erased.rule = "fails";
    erased.batch = 5;
    erased.erased = true;
    drop.partials = {erased};
    REQUIRE(store->Commit({drop}, {}, {}).ok());
  }
  const Recovered after = RecoverAll(*store, *rules);
  REQUIRE(after.partials.size() == 1);
  CHECK(after.partials[0].key == "10.0.0.9");
}

// A store of schema 1 (written before the first release) is refused with what to do, and
// corrupt records are errors naming what is wrong, never skipped.
TEST_CASE("CheckpointStore: a store of another schema is refused with the remedy",
          "[engine][checkpoint][unit]") {
  test::TempDir dir;
  const std::string state = dir.Sub("state");
  {
    KvStoreOptions o;
    o.dir = state;
    o.databases = {"meta", "segments", "keystate", "offsets", "outbox", "history"};
    auto kv = KvStore::Open(o);
    REQUIRE(kv.ok());
    REQUIRE((*kv)
                ->Write([](KvWriter& w) {
                  Status s = w.Put("meta", "app", "ember-aggregator");
                  return s.ok() ? w.Put("meta", "schema", "1") : s;
                })
                .ok());
  }
  CheckpointStoreOptions o;
  o.dir = state;
  auto store = CheckpointStore::Open(o);
  REQUIRE_FALSE(store.ok());
  CHECK(store.status().code() == Status::Code::kCorruption);
  CHECK(store.status().message().find("checkpoint schema '1' is not schema 5") !=
        std::string::npos);
  CHECK(store.status().message().find("Move the state directory aside") != std::string::npos);
}

TEST_CASE("CheckpointStore: a corrupt segment, alert state or mark is an error, not a reset",
          "[engine][checkpoint][unit]") {
  test::TempDir dir;
  auto rules = Load(dir, kRules);
  const std::string state = dir.Sub("state");
  {
    auto store = StampedStore(state, *rules);
    Engine e(rules, OnePartition());
    e.Ingest(InputLine{"fail from 1.2.3.4", "h", "f", 5000, ""});
    REQUIRE(store
                ->Commit({e.TakeDelta()},
                         {{std::string("a\0"
                                       "1",
                                       3),
                           10}},
                         {})
                .ok());
  }
  std::string segment_key = std::string("fails") + '\0';
  for (int i = 7; i >= 0; --i)
    segment_key.push_back(static_cast<char>((uint64_t{5} >> (8 * i)) & 0xff));
  segment_key.append(2, '\0');  // partition 0
  for (int i = 7; i >= 0; --i)
    segment_key.push_back(static_cast<char>((uint64_t{1} >> (8 * i)) & 0xff));
  const std::string good = StoredSegments(state, segment_key).at(0);
  std::string message;
  SECTION("a segment cut short") {
    WriteRawRecord(state, "segments", segment_key, good.substr(0, good.size() - 3), "4");
    message = "rule 'fails', batch 5";
  }
  SECTION("a segment of an unknown format") {
    WriteRawRecord(state, "segments", segment_key, "\x01\0\0\0garbage", "4");
    message = "is truncated or malformed";
  }
  SECTION("an alert state of the wrong size") {
    WriteRawRecord(state, "keystate",
                   std::string("fails\0"
                               "1.2.3.4",
                               13),
                   "junk", "4");
    message = "the alert state of rule 'fails'";
  }
  SECTION("a mark that is not a number") {
    WriteRawRecord(state, "offsets",
                   std::string("a\0"
                               "1",
                               3),
                   "ten", "4");
    message = "not a number: 'ten'";
  }
  auto store = OpenStore(state);
  CollectSink sink;
  auto snap = store->Recover(*rules, 1000, sink);
  REQUIRE_FALSE(snap.ok());
  CHECK(snap.status().code() == Status::Code::kCorruption);
  INFO(snap.status().message());
  CHECK(snap.status().message().find(message) != std::string::npos);
}

TEST_CASE("CheckpointStore: a foreign or newer environment is refused, not overwritten",
          "[engine][checkpoint][unit]") {
  test::TempDir dir;
  const std::string state = dir.Sub("state");
  {
    KvStoreOptions o;
    o.dir = state;
    o.databases = {"meta", "segments", "keystate", "offsets"};
    o.sync = false;
    auto kv = KvStore::Open(o);
    REQUIRE(kv.ok());
    REQUIRE((*kv)
                ->Write([](KvWriter& w) {
                  Status s = w.Put("meta", "app", "ember-aggregator");
                  if (s.ok()) s = w.Put("meta", "schema", "99");
                  return s;
                })
                .ok());
  }
  CheckpointStoreOptions o;
  o.dir = state;
  auto s = CheckpointStore::Open(o);
  REQUIRE_FALSE(s.ok());
  CHECK(s.status().code() == Status::Code::kCorruption);
  CHECK(s.status().message().find("schema '99'") != std::string::npos);

  // A file that is not an LMDB environment at all.
  const std::string junk = dir.Sub("junk");
  dir.Write("junk/data.mdb", std::string(8192, 'j'));
  o.dir = junk;
  auto j = CheckpointStore::Open(o);
  REQUIRE_FALSE(j.ok());
  CHECK(test::ReadFile(junk + "/data.mdb") == std::string(8192, 'j'));
}

TEST_CASE(
    "CheckpointStore: alerts wait in the outbox until marked delivered, then move to "
    "the history",
    "[engine][checkpoint][outbox][unit]") {
  test::TempDir dir;
  auto rules = Load(dir, kRules);
  const std::string state = dir.Sub("state");
  Alert a;
  a.id = "00ff";
  a.rule = "fails";
  a.rule_digest = "d";
  a.severity = rules::Severity::kError;
  a.fields = {{"ip", "10.0.0.1"}};
  a.count = 4;
  a.window_start_ms = 1000;
  a.window_end_ms = 21000;
  a.message = "four";
  a.sample = "fail from 10.0.0.1";
  Alert b = a;
  b.state = AlertState::kResolved;
  {
    auto store = OpenStore(state);
    Engine e(rules, EngineOptions{});
    REQUIRE(store->Commit({e.TakeDelta()}, {}, {a, b}).ok());
  }
  auto store = OpenStore(state);  // as after a crash between commit and delivery
  auto outbox = store->Outbox();
  REQUIRE(outbox.ok());
  REQUIRE(outbox->size() == 2);
  CHECK(AlertToJson((*outbox)[0].second) == AlertToJson(a));  // the same content, id included
  CHECK(AlertToJson((*outbox)[1].second) == AlertToJson(b));
  REQUIRE(store->MarkDelivered({(*outbox)[0].first}).ok());
  CHECK(store->Outbox()->size() == 1);
  auto history = store->History(10);
  REQUIRE(history.ok());
  REQUIRE(history->size() == 1);
  CHECK(history->at(0).id == "00ff");
  // Sequence numbers keep growing across reopenings.
  Engine e(rules, EngineOptions{});
  REQUIRE(store->Commit({e.TakeDelta()}, {}, {a}).ok());
  auto again = store->Outbox();
  REQUIRE(again->size() == 2);
  CHECK(again->at(1).first > again->at(0).first);
}

TEST_CASE("CheckpointStore: a commit moves the alerts delivered since the last to the history",
          "[engine][checkpoint][outbox][unit]") {
  test::TempDir dir;
  auto rules = Load(dir, kRules);
  auto store = OpenStore(dir.Sub("state"));
  Engine e(rules, EngineOptions{});
  std::vector<Alert> alerts(3);
  for (size_t i = 0; i < alerts.size(); ++i) {
    alerts[i].id = "a" + std::to_string(i);
    alerts[i].rule = "fails";
  }
  const uint64_t first = store->next_alert_seq();
  REQUIRE(store->Commit({e.TakeDelta()}, {}, alerts).ok());
  CHECK(store->next_alert_seq() == first + 3);
  // Every alert raised is listed, delivered or not, in the order raised.
  auto ids = [&] {
    std::vector<std::string> out;
    auto raised = store->Raised(10);
    REQUIRE(raised.ok());
    for (const Alert& a : *raised) out.push_back(a.id);
    return out;
  };
  CHECK(ids() == std::vector<std::string>{"a0", "a1", "a2"});
  // The second was delivered first (an asynchronous sink): the next commit moves it, with
  // its own alert, in one transaction; an unknown number moves nothing.
  Alert d;
  d.id = "a3";
  d.rule = "fails";
  REQUIRE(store->Commit({e.TakeDelta()}, {}, {d}, "", nullptr, nullptr, {first + 1, 999}).ok());
  auto outbox = store->Outbox();
  REQUIRE(outbox.ok());
  std::vector<uint64_t> waiting;
  for (const auto& [seq, a] : *outbox) waiting.push_back(seq);
  CHECK(waiting == std::vector<uint64_t>{first, first + 2, first + 3});
  auto history = store->History(10);
  REQUIRE(history.ok());
  REQUIRE(history->size() == 1);
  CHECK(history->at(0).id == "a1");
  CHECK(ids() == std::vector<std::string>{"a0", "a1", "a2", "a3"});
  // The last ones only.
  auto last = store->Raised(2);
  REQUIRE(last.ok());
  REQUIRE(last->size() == 2);
  CHECK(last->at(0).id == "a2");
  CHECK(last->at(1).id == "a3");
}

TEST_CASE("CheckpointStore: a state of 1M keys is recovered whole", "[engine][checkpoint][slow]") {
  test::TempDir dir;
  auto rules = Load(dir, R"(rules:
  - name: per-user
    match: 'login user=(?P<user>\d+)'
    by: [user]
    window: 1h
    every: 1s
    when: count >= 3
)");
  constexpr int kKeys = 1'000'000;
  const int64_t t0 = 1'700'000'000'000;
  auto line = [](int user) { return "login user=" + std::to_string(user); };
  // Every key once in one batch, then every 1000th key again in the next: 1M partials.
  Engine original(rules, EngineOptions{});
  std::vector<Alert> alerts;
  for (int u = 0; u < kKeys; ++u) original.Ingest(InputLine{line(u), "h", "f", t0, ""});
  for (int u = 0; u < kKeys; u += 1000)
    original.Ingest(InputLine{line(u), "h", "f", t0 + 1000, ""});
  original.AdvanceWatermark(t0 + 2000, &alerts);
  CHECK(alerts.empty());
  {
    auto store = OpenStore(dir.Sub("state"));
    REQUIRE(store->Stamp(*rules, 1000).ok());
    REQUIRE(store->Commit({original.TakeDelta()}, {}, {}).ok());
  }
  auto store = OpenStore(dir.Sub("state"));
  Engine recovered(rules, EngineOptions{});
  RecoverInto(*store, *rules, recovered);
  CHECK(recovered.restored_partials() == kKeys + kKeys / 1000);
  // One more line for every 500th key: only the keys seen twice before (every 1000th) reach
  // 3, in both engines alike — the recovered state holds every key's count.
  std::vector<Alert> a, b;
  for (Engine* e : {&original, &recovered}) {
    for (int u = 0; u < kKeys; u += 500) e->Ingest(InputLine{line(u), "h", "f", t0 + 2500, ""});
    e->AdvanceWatermark(t0 + 4000, e == &original ? &a : &b);
  }
  CHECK(a.size() == kKeys / 1000);
  CHECK(Describe(a) == Describe(b));
}

TEST_CASE("CheckpointStore: late windows waiting to be complete survive a crash",
          "[engine][checkpoint][late][unit]") {
  test::TempDir dir;
  auto rules = Load(dir, R"(rules:
  - name: fails
    match: 'fail from (?P<ip>\S+)'
    by: [ip]
    window: 10s
    every: 5s
    when: count >= 3
)");
  // A backfill of three fails at 100-102 s into an engine that is an hour on; the windows
  // they fill wait until the backfill passed them (complete at 120 s).
  auto run = [&](bool crash) {
    const std::string state = dir.Sub(crash ? "crash" : "calm");
    auto store = OpenStore(state);
    REQUIRE(store->Stamp(*rules, 1000).ok());
    auto engine = std::make_unique<Engine>(rules, EngineOptions{});
    std::vector<Alert> got;
    engine->Ingest(InputLine{"fail from 9.9.9.9", "h", "f", 3'600'000, ""});
    engine->AdvanceWatermark(3'600'000, &got);
    engine->SetHistoryFloor(100'000, 100'000);
    for (int t : {100'000, 101'000, 102'000}) {
      engine->Ingest(InputLine{"fail from 2.2.2.2", "h", "f", t, ""});
    }
    engine->AdvanceWatermark(3'600'000, &got);
    REQUIRE(store->Commit({engine->TakeDelta()}, {}, {}).ok());
    CHECK(got.empty());  // waiting
    if (crash) {
      engine.reset();
      store.reset();
      store = OpenStore(state);
      engine = std::make_unique<Engine>(rules, EngineOptions{});
      RecoverInto(*store, *rules, *engine);
    }
    engine->SetHistoryFloor(120'000, 120'000);
    engine->AdvanceWatermark(3'600'000, &got);
    return Describe(got);
  };
  const auto calm = run(false);
  REQUIRE(calm.size() == 2);  // windows ending 105 s and 110 s
  CHECK(calm[0].find("2.2.2.2") != std::string::npos);
  CHECK(run(true) == calm);
}

// A store written before partitions (schema 3: one segment per batch and commit) is read,
// and rewritten on the first recovery as one segment per batch, partition and commit, in the
// partitions its keys belong to; a later segment still replaces an earlier one's key.
TEST_CASE("CheckpointStore: a store from before partitions is split into them on recovery",
          "[engine][partitions][checkpoint][unit]") {
  test::TempDir dir;
  auto rules = Load(dir, kRules);
  const std::string state = dir.Sub("state");
  auto be = [](uint64_t v) {
    std::string out;
    for (int i = 7; i >= 0; --i) out.push_back(static_cast<char>((v >> (8 * i)) & 0xff));
    return out;
  };
  auto records = [](int from, int to, uint64_t count) {
    std::vector<PartialRecord> out;
    for (int k = from; k < to; ++k) {
      PartialRecord r{"fails", 5, "10.0.0." + std::to_string(k), false, {}};
      r.partial.count = count;
      r.partial.sample = "fail from " + r.key;
      out.push_back(std::move(r));
    }
    return out;
  };
  {
    KvStoreOptions o;
    o.dir = state;
    o.databases = {"meta", "segments", "keystate", "offsets", "outbox", "history", "progress"};
    auto kv = KvStore::Open(o);
    REQUIRE(kv.ok());
    std::string first, second;
    EncodeSegment(records(0, 30, 1), &first);
    EncodeSegment(records(20, 50, 2), &second);  // a later commit: keys 20..29 again
    REQUIRE((*kv)
                ->Write([&](KvWriter& w) {
                  const std::string batch = std::string("fails") + '\0' + be(5);
                  Status s = w.Put("meta", "app", "ember-aggregator");
                  if (s.ok()) s = w.Put("meta", "schema", "3");
                  if (s.ok()) s = w.Put("meta", "batch_interval_ms", "1000");
                  if (s.ok()) s = w.Put("meta", "closed_until", "4");
                  if (s.ok()) s = w.Put("meta", "next_segment", "3");
                  if (s.ok()) s = w.Put("meta", "digest/fails", rules->rules()[0].digest);
                  if (s.ok()) s = w.Put("segments", batch + be(1), first);
                  if (s.ok()) s = w.Put("segments", batch + be(2), second);
                  return s;
                })
                .ok());
  }
  CheckpointStoreOptions o;
  o.dir = state;
  o.sync = false;
  o.partitions = 16;
  {
    auto store = CheckpointStore::Open(o);
    INFO(store.status().ToString());
    REQUIRE(store.ok());
    CollectSink sink;
    auto snap = (*store)->Recover(*rules, 1000, sink);
    REQUIRE(snap.ok());
    CHECK(snap->closed_until == 4);
    std::map<std::string, uint64_t> counts;
    for (const auto& r : sink.records) counts[r.key] = r.partial.count;
    REQUIRE(counts.size() == 50);
    CHECK(counts["10.0.0.0"] == 1);
    CHECK(counts["10.0.0.25"] == 2);  // the later segment's
    CHECK(counts["10.0.0.49"] == 2);
  }
  // Rewritten: schema 5, the partition count recorded, each segment in its keys' partition.
  KvStoreOptions ro;
  ro.dir = state;
  ro.databases = {"meta", "segments", "keystate", "offsets", "outbox", "history", "progress"};
  ro.read_only = true;
  {
    auto kv = KvStore::Open(ro);
    REQUIRE(kv.ok());
    CHECK(*(*kv)->Get("meta", "schema") == "5");
    CHECK(*(*kv)->Get("meta", "partitions") == "16");
    size_t segments = 0, keys = 0;
    const uint64_t seed = RuleSeed("fails");
    REQUIRE((*kv)
                ->Scan("segments", "",
                       [&](std::string_view k, std::string_view v) {
                         ++segments;
                         REQUIRE(k.size() == 6 + 8 + 2 + 8);
                         const uint32_t partition =
                             static_cast<uint8_t>(k[14]) * 256u + static_cast<uint8_t>(k[15]);
                         CHECK(DecodeSegment(v, [&](std::string_view key, Partial&&) {
                           ++keys;
                           CHECK(PartitionOf(seed, key, false, 16) == partition);
                         }));
                       })
                .ok());
    CHECK(segments > 2);  // 50 keys over 16 partitions, from two commits
    CHECK(keys == 60);
  }
  // And read again as schema 5, the same partials.
  auto again = CheckpointStore::Open(o);
  REQUIRE(again.ok());
  CollectSink sink;
  REQUIRE((*again)->Recover(*rules, 1000, sink).ok());
  std::map<std::string, uint64_t> counts;
  for (const auto& r : sink.records) counts[r.key] = r.partial.count;
  CHECK(counts.size() == 50);
  CHECK(counts["10.0.0.25"] == 2);
}

// A store of schema 4 holds a partial per batch (version-3 segments), batches inside a slide of
// their rule: recovery merges each into its slide (the sample keeps its own batch) and stamps
// the store schema 5, and the next checkpoint erases the batches and writes the slide, so a
// second recovery counts them once.
TEST_CASE("CheckpointStore: partials stored per batch are merged into slides, once",
          "[engine][checkpoint][unit]") {
  OnePartitionStore f;  // "fails": 5 s slides, fires at 4 matches in 20 s
  f.store.reset();
  auto key_of = [](int64_t batch, uint64_t segment) {
    std::string k = std::string("fails") + '\0';
    for (int i = 7; i >= 0; --i) k.push_back(static_cast<char>((batch >> (8 * i)) & 0xff));
    k += std::string(2, '\0');  // partition 0
    for (int i = 7; i >= 0; --i) k.push_back(static_cast<char>((segment >> (8 * i)) & 0xff));
    return k;
  };
  auto v3_segment = [](std::vector<std::pair<std::string, uint64_t>> counts) {
    std::vector<PartialRecord> records;
    for (const auto& [ip, count] : counts) {
      PartialRecord r{"fails", 0, ip, false, {}};
      r.partial.count = count;
      r.partial.sample = "fail from " + ip;
      records.push_back(std::move(r));
    }
    std::string segment;
    EncodeSegment(records, &segment);  // no sample's batch: the version-3 layout
    segment[3] = '3';
    return segment;
  };
  {
    KvStoreOptions o;
    o.dir = f.state;
    o.databases = {"meta", "segments", "keystate", "offsets", "outbox", "history", "progress"};
    auto kv = KvStore::Open(o);
    REQUIRE(kv.ok());
    REQUIRE((*kv)
                ->Write([&](KvWriter& w) {
                  Status s = w.Put("meta", "closed_until", "8");
                  if (s.ok()) s = w.Put("meta", "schema", "4");
                  if (s.ok()) s = w.Put("meta", "next_segment", "5");
                  // Batch 5: A once, B twice; batch 6 in two commits (A 1, then 3: the later
                  // replaces it); batch 7: C five times.
                  if (s.ok()) s = w.Put("segments", key_of(5, 1), v3_segment({{"A", 1}, {"B", 2}}));
                  if (s.ok()) s = w.Put("segments", key_of(6, 2), v3_segment({{"A", 1}}));
                  if (s.ok()) s = w.Put("segments", key_of(6, 3), v3_segment({{"A", 3}}));
                  if (s.ok()) s = w.Put("segments", key_of(7, 4), v3_segment({{"C", 5}}));
                  return s;
                })
                .ok());
  }
  // The alerts of the slide once it closes, and the counts in the window then.
  auto close = [&](Engine& e) {
    std::vector<Alert> alerts;
    e.AdvanceWatermark(10'000, &alerts);
    std::map<std::string, uint64_t> counts;
    for (const char* k : {"A", "B", "C"}) counts[k] = e.window(0, k).WindowCount(k);
    return std::make_pair(Describe(alerts), counts);
  };
  f.store = OpenStore(f.state);
  RecoverInto(*f.store, *f.rules, f.e);
  const CheckpointDelta rewrite = f.e.TakeDelta();
  std::set<int64_t> erased;
  for (const auto& r : rewrite.partials) {
    if (r.erased) erased.insert(r.batch);
  }
  CHECK(erased == std::set<int64_t>{6, 7});
  REQUIRE(f.store->Commit({rewrite}, {}, {}).ok());
  const auto first = close(f.e);
  CHECK(first.second == std::map<std::string, uint64_t>{{"A", 4}, {"B", 2}, {"C", 5}});
  REQUIRE(first.first.size() == 2);  // A and C fire
  // C's only sample lay in batch 7: its evidence says so, not the slide's start.
  CHECK(first.first[1].find("\"batch_start_ms\":7000") != std::string::npos);
  CHECK(first.first[0].find("\"batch_start_ms\":5000") != std::string::npos);
  f.store.reset();
  CHECK(SegmentsOf(f.state, "fails", 6) == 0);
  CHECK(SegmentsOf(f.state, "fails", 7) == 0);
  {
    // Stamped schema 5 at recovery: a build that reads only batches refuses the slides.
    KvStoreOptions o;
    o.dir = f.state;
    o.databases = {"meta", "segments", "keystate", "offsets", "outbox", "history", "progress"};
    o.read_only = true;
    auto kv = KvStore::Open(o);
    REQUIRE(kv.ok());
    CHECK(*(*kv)->Get("meta", "schema") == "5");
  }

  // Recovered again: the same counts and alerts, nothing counted twice.
  f.store = OpenStore(f.state);
  Engine again{f.rules, OnePartition()};
  RecoverInto(*f.store, *f.rules, again);
  CHECK(close(again) == first);
}

// A key is stored under its own name (state of a lifecycle rule), and LMDB refuses names over
// 511 bytes: an uncut long key from a log line would fail every checkpoint from then on.
TEST_CASE("CheckpointStore: a key from a very long field is checkpointed and recovered",
          "[engine][checkpoint][hostile][unit]") {
  OnePartitionStore f(kLifecycleRules);
  const std::string ip(2000, '7');
  std::vector<Alert> raised;
  for (int64_t ms = 1000; ms <= 30'000; ms += 1000) {
    std::vector<Alert> alerts;
    f.e.Ingest(InputLine{"fail from " + ip, "h", "f", ms, ""});
    f.e.AdvanceWatermark(ms - 500, &alerts);
    REQUIRE(f.store->Commit({f.e.TakeDelta()}, {}, alerts).ok());
    raised.insert(raised.end(), alerts.begin(), alerts.end());
  }
  CHECK(f.e.stats().keys_cut == 60);  // "fails" and "top" each, 30 lines
  std::string fired;
  for (const auto& a : raised) {
    if (a.rule == "fails" && a.state == AlertState::kFiring && !a.fields.empty()) {
      fired = a.fields[0].second;
    }
  }
  REQUIRE_FALSE(fired.empty());
  CHECK(fired.size() == rules::kMaxKeyBytes);
  CHECK(fired.find('~') != std::string::npos);
  // Recovered into a new engine, which goes on checkpointing.
  f.store.reset();
  f.store = OpenStore(f.state);
  Engine recovered(f.rules, OnePartition());
  REQUIRE_FALSE(RecoverInto(*f.store, *f.rules, recovered).empty);
  std::vector<Alert> after;
  recovered.Ingest(InputLine{"fail from " + ip, "h", "f", 31'000, ""});
  recovered.AdvanceWatermark(30'500, &after);
  CHECK(f.store->Commit({recovered.TakeDelta()}, {}, after).ok());
}
