// Checkpoint benchmark: the cost of exactly-once state in LMDB, measured on the
// real CheckpointStore with durable commits (fsync), in a state directory on the disk under
// test. Prints a table (median of --runs, with min and max) and writes JSON.
//
//   ember-checkpoint-bench --dir /var/tmp/ember-bench --runs 5 --json bench/results/checkpoint.json
//
// 1. Commit time and bytes written vs changed keys (1k, 10k, 100k, 1M): each commit carries that
//    many new per-key partials (one new batch of distinct keys).
// 2. Recovery time of a state with 1M keys: Recover + Engine::Restore.
// 3. Pipeline throughput (RE2 match, windows, alerts) with a durable checkpoint every batch
//    vs none, 100k lines per batch over 10k keys.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <functional>
#include <random>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include "common/kv_store.h"
#include "engine/checkpoint_store.h"
#include "engine/engine.h"
#include "rules/rule_set.h"

namespace {

using namespace ember;
using Clock = std::chrono::steady_clock;

constexpr int64_t kT0 = 1'700'000'000'000;
// Where the lines come from, as long as real names are: every partial records its origin.
constexpr const char* kHost = "web-07.example.net";
constexpr const char* kFile = "/var/log/auth.log";

struct Stats {
  double median, min, max;
};

Stats Summarize(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return {v[v.size() / 2], v.front(), v.back()};
}

double Seconds(Clock::time_point since) {
  return std::chrono::duration<double>(Clock::now() - since).count();
}

// Bytes this process caused to be written to storage (/proc/self/io), 0 if unavailable.
uint64_t WriteBytes() {
  std::ifstream in("/proc/self/io");
  std::string key;
  uint64_t value = 0;
  while (in >> key >> value) {
    if (key == "write_bytes:") return value;
  }
  return 0;
}

// A /proc/self/status field in KiB ("VmRSS:", "VmHWM:"), 0 if unavailable.
double RssKib(const std::string& field) {
  std::ifstream in("/proc/self/status");
  std::string key;
  while (in >> key) {
    if (key == field) {
      double kib = 0;
      in >> kib;
      return kib;
    }
    in.ignore(1 << 10, '\n');
  }
  return 0;
}

std::shared_ptr<const rules::RuleSet> LoadRules(const std::string& dir) {
  std::filesystem::create_directories(dir);
  std::ofstream(dir + "/bench.yaml") << R"(rules:
  - name: per-user
    match: 'login failed user=(?P<user>\d+)'
    by: [user]
    window: 5m
    every: 1s
    when: count >= 1000000
  - name: errors
    match: '\bERROR\b'
    by: [host]
    window: 1m
    when: count >= 1000000000
)";
  rules::Diagnostics d;
  auto set = rules::RuleSet::Load(dir, rules::RuleSetOptions{}, &d);
  if (!set.ok()) {
    std::fprintf(stderr, "rules: %s\n", set.status().ToString().c_str());
    std::exit(1);
  }
  return *set;
}

std::unique_ptr<engine::CheckpointStore> OpenStore(const std::string& dir, bool sync) {
  engine::CheckpointStoreOptions o;
  o.dir = dir;
  o.sync = sync;
  auto store = engine::CheckpointStore::Open(o);
  if (!store.ok()) {
    std::fprintf(stderr, "%s\n", store.status().ToString().c_str());
    std::exit(1);
  }
  return std::move(*store);
}

std::string Line(int64_t user) { return "login failed user=" + std::to_string(user); }

void Check(const Status& s) {
  if (!s.ok()) {
    std::fprintf(stderr, "%s\n", s.ToString().c_str());
    std::exit(1);
  }
}

// One recovery of `state` into the engine, as the aggregator recovers, printed as
// "<ms> <ms of FinishRestore> <partials> <peak RSS KiB>".
int RecoverChild(const std::string& state, const std::string& rules_dir) {
  auto rules = LoadRules(rules_dir);
  auto start = Clock::now();
  auto store = OpenStore(state, /*sync=*/false);
  engine::Engine engine(rules, engine::EngineOptions{});
  auto snap = store->Recover(*rules, 1000, engine.restore_sink());
  if (!snap.ok()) Check(snap.status());
  const Clock::time_point finish_start = Clock::now();
  engine.FinishRestore(snap->closed_until, snap->key_states);
  const size_t partials = engine.restored_partials();
  const double ms = Seconds(start) * 1e3, finish = Seconds(finish_start) * 1e3;
  std::printf("%.3f %.3f %zu %.0f\n", ms, finish, partials, RssKib("VmHWM:"));
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"ember checkpoint benchmark"};
  std::string dir = "/var/tmp/ember-checkpoint-bench";
  std::string json_path;
  int runs = 5;
  app.add_option("--dir", dir, "scratch directory on the disk under test (emptied)");
  app.add_option("--runs", runs, "runs per figure (median reported)");
  app.add_option("--json", json_path, "also write the results here");
  std::string only;
  app.add_option("--only", only, "run one part: commit, tail, baseline, recovery or throughput");
  std::string recover_state;  // child mode: one recovery of this state in a fresh process
  app.add_option("--recover-child", recover_state, "(internal) recover this state and report");
  CLI11_PARSE(app, argc, argv);
  if (!recover_state.empty()) return RecoverChild(recover_state, dir + "/rules");
  const auto part = [&](const char* name) { return only.empty() || only == name; };
  std::filesystem::remove_all(dir);
  auto rules = LoadRules(dir + "/rules");
  nlohmann::json out;
  out["runs"] = runs;

  std::printf("%-50s %12s %12s %12s\n", "checkpoint (durable, fsync)", "median", "min", "max");
  double commit_10k_ms = 0;  // for the ratio to the baseline
  // 1. Commit time and bytes vs changed keys.
  for (int64_t keys : {1'000, 10'000, 100'000, 1'000'000}) {
    if (!part("commit")) break;
    const std::string state = dir + "/commit-" + std::to_string(keys);
    auto store = OpenStore(state, /*sync=*/true);
    Check(store->Stamp(*rules, 1000));
    engine::Engine engine(rules, engine::EngineOptions{});
    std::vector<double> ms, mib;
    std::vector<engine::Alert> alerts;
    for (int r = 0; r < runs; ++r) {
      // A new batch in which `keys` distinct users appear: that many changed partials.
      for (int64_t u = 0; u < keys; ++u) {
        engine.Ingest(engine::InputLine{Line(u), kHost, kFile, kT0 + r * 1000, ""});
      }
      engine.AdvanceWatermark(kT0 + (r + 1) * 1000, &alerts);
      std::vector<engine::CheckpointDelta> delta{engine.TakeDelta()};
      const uint64_t written = WriteBytes();
      auto start = Clock::now();
      Check(store->Commit(delta, {{std::string("agent\0001", 7), 42}}, {}));
      ms.push_back(Seconds(start) * 1e3);
      mib.push_back(static_cast<double>(WriteBytes() - written) / (1 << 20));
    }
    Stats t = Summarize(ms), b = Summarize(mib);
    if (keys == 10'000) commit_10k_ms = t.median;
    char label[64];
    std::snprintf(label, sizeof label, "commit, %lld changed keys (ms)", (long long)keys);
    std::printf("%-50s %12.2f %12.2f %12.2f\n", label, t.median, t.min, t.max);
    std::snprintf(label, sizeof label, "commit, %lld changed keys (MiB written)", (long long)keys);
    std::printf("%-50s %12.2f %12.2f %12.2f\n", label, b.median, b.min, b.max);
    out["commit"].push_back(
        {{"changed_keys", keys},
         {"ms", {{"median", t.median}, {"min", t.min}, {"max", t.max}}},
         {"mib_written", {{"median", b.median}, {"min", b.min}, {"max", b.max}}}});
  }

  // 1b. The tail: 200 consecutive commits of 10k changed keys (the same 10k users active in
  // every 1 s batch of a 5-minute window), p50 / p99 / max of their commit times; each a median
  // over --runs such sequences (with min and max), in a new state each.
  // The same without fsync tells what the commit costs in CPU (encoding, the B-tree) and what
  // the disk adds.
  for (bool sync : {true, false}) {
    if (!part("tail")) break;
    constexpr int kCommits = 200;
    std::vector<double> p50s, p99s, maxes;
    for (int run = 0; run < runs; ++run) {
      const std::string state =
          dir + (sync ? "/commit-tail-" : "/commit-tail-nosync-") + std::to_string(run);
      auto store = OpenStore(state, sync);
      Check(store->Stamp(*rules, 1000));
      engine::Engine engine(rules, engine::EngineOptions{});
      std::vector<double> ms;
      std::vector<engine::Alert> alerts;
      for (int r = 0; r < kCommits; ++r) {
        for (int64_t u = 0; u < 10'000; ++u) {
          engine.Ingest(engine::InputLine{Line(u), kHost, kFile, kT0 + r * 1000, ""});
        }
        engine.AdvanceWatermark(kT0 + (r + 1) * 1000, &alerts);
        std::vector<engine::CheckpointDelta> delta{engine.TakeDelta()};
        auto start = Clock::now();
        Check(store->Commit(delta, {{std::string("agent\0001", 7), 42}}, {}));
        ms.push_back(Seconds(start) * 1e3);
      }
      std::sort(ms.begin(), ms.end());
      p50s.push_back(ms[ms.size() / 2]);
      p99s.push_back(ms[ms.size() * 99 / 100]);
      maxes.push_back(ms.back());
      store.reset();
      std::filesystem::remove_all(state);
    }
    const char* what = sync ? "commit" : "commit without fsync";
    nlohmann::json& j = out[sync ? "commit_tail_10k" : "commit_tail_10k_nosync"];
    j["commits"] = kCommits;
    for (auto [name, values] : {std::pair<const char*, std::vector<double>*>{"p50", &p50s},
                                {"p99", &p99s},
                                {"max", &maxes}}) {
      const Stats t = Summarize(*values);
      char label[64];
      std::snprintf(label, sizeof label, "%s, 10000 keys x 200: %s (ms)", what, name);
      std::printf("%-50s %12.2f %12.2f %12.2f\n", label, t.median, t.min, t.max);
      j[std::string(name) + "_ms"] = {{"median", t.median}, {"min", t.min}, {"max", t.max}};
    }
  }

  // 1c. Baselines on the same disk, in the same run: LMDB alone, through the same KvStore.
  // An empty durable commit (one small put: the fsync floor), and the layout a checkpoint
  // would have with one record per key: 10k random keys with values of a partial's size in
  // one durable transaction, into a table that holds the 10k keys of each earlier commit.
  if (part("baseline")) {
    std::vector<double> floor_ms, per_key_ms;
    KvStoreOptions o;
    o.dir = dir + "/baseline";
    o.databases = {"t"};
    auto kv = KvStore::Open(o);
    if (!kv.ok()) Check(kv.status());
    std::mt19937_64 random(1);
    const std::string value(35, 'v');
    for (int r = 0; r < runs; ++r) {
      auto start = Clock::now();
      Check((*kv)->Write([&](KvWriter& w) { return w.Put("t", "watermark", std::to_string(r)); }));
      floor_ms.push_back(Seconds(start) * 1e3);
      start = Clock::now();
      Check((*kv)->Write([&](KvWriter& w) -> Status {
        for (int i = 0; i < 10'000; ++i) {
          const std::string key = "per-user" + std::string(1, '\0') + std::to_string(random());
          if (Status s = w.Put("t", key, value); !s.ok()) return s;
        }
        return Status::Ok();
      }));
      per_key_ms.push_back(Seconds(start) * 1e3);
    }
    const Stats f = Summarize(floor_ms), k = Summarize(per_key_ms);
    std::printf("%-50s %12.2f %12.2f %12.2f\n", "LMDB alone: empty durable commit (ms)", f.median,
                f.min, f.max);
    std::printf("%-50s %12.2f %12.2f %12.2f\n", "LMDB alone: 10k random puts, one commit (ms)",
                k.median, k.min, k.max);
    if (commit_10k_ms > 0) {
      std::printf("%-50s %11.1fx\n", "  ember's 10k-key commit is faster by",
                  k.median / commit_10k_ms);
    }
    out["baseline"] = {
        {"empty_commit_ms", {{"median", f.median}, {"min", f.min}, {"max", f.max}}},
        {"random_puts_10k_ms", {{"median", k.median}, {"min", k.min}, {"max", k.max}}}};
  }

  // 2. Recovery of 1M keys (the state left by the 1M commits above holds runs x 1M partials:
  // build a dedicated one with exactly 1M).
  if (part("recovery")) {
    const std::string state = dir + "/recover-1m";
    {
      auto store = OpenStore(state, /*sync=*/false);
      Check(store->Stamp(*rules, 1000));
      engine::Engine engine(rules, engine::EngineOptions{});
      for (int64_t u = 0; u < 1'000'000; ++u) {
        engine.Ingest(engine::InputLine{Line(u), kHost, kFile, kT0, ""});
      }
      std::vector<engine::Alert> alerts;
      engine.AdvanceWatermark(kT0 + 1000, &alerts);
      Check(store->Commit({engine.TakeDelta()}, {}, {}));
    }
    // Each in a new process of this program, so that its peak RSS is that of recovering alone.
    {
      std::vector<double> secs, finish_ms, peak_mib;
      size_t partials = 0;
      for (int r = 0; r < runs; ++r) {
        const std::string command =
            std::string(argv[0]) + " --dir " + dir + " --recover-child " + state;
        FILE* child = ::popen(command.c_str(), "r");
        double ms = 0, finish = 0, hwm_kib = 0;
        if (child == nullptr ||
            std::fscanf(child, "%lf %lf %zu %lf", &ms, &finish, &partials, &hwm_kib) != 4 ||
            ::pclose(child) != 0) {
          std::fprintf(stderr, "recovery child failed: %s\n", command.c_str());
          return 1;
        }
        secs.push_back(ms);
        finish_ms.push_back(finish);
        peak_mib.push_back(hwm_kib / 1024);
      }
      const Stats t = Summarize(secs), f = Summarize(finish_ms), m = Summarize(peak_mib);
      std::printf("%-50s %12.1f %12.1f %12.1f\n", "recovery of 1M keys (ms)", t.median, t.min,
                  t.max);
      std::printf("%-50s %12.1f %12.1f %12.1f\n", "  of which the windows' sums (ms)", f.median,
                  f.min, f.max);
      std::printf("%-50s %12.1f %12.1f %12.1f\n", "  peak RSS of the process (MiB)", m.median,
                  m.min, m.max);
      out["recovery_1m_keys_ms"] = {
          {"median", t.median},
          {"min", t.min},
          {"max", t.max},
          {"partials", partials},
          {"peak_rss_mib", {{"median", m.median}, {"min", m.min}, {"max", m.max}}}};
    }
  }

  // 3. Throughput with a durable checkpoint every batch vs none.
  if (part("throughput")) {
    constexpr int kBatches = 20;
    constexpr int kLinesPerBatch = 100'000;
    std::vector<std::string> lines;
    lines.reserve(kLinesPerBatch);
    for (int i = 0; i < kLinesPerBatch; ++i) {
      lines.push_back(i % 100 == 0 ? "2024-01-01 ERROR disk full on /var"
                                   : Line((i * 7919) % 10'000) + " from 10.0.0.1 port 22");
    }
    std::vector<double> with, without, commit_ms, commit_share;
    for (int r = 0; r < runs; ++r) {
      for (bool checkpoint : {false, true}) {
        const std::string state = dir + "/throughput-" + std::to_string(r);
        std::filesystem::remove_all(state);
        auto store = OpenStore(state, /*sync=*/true);
        Check(store->Stamp(*rules, 1000));
        engine::Engine engine(rules, engine::EngineOptions{});
        std::vector<engine::Alert> alerts;
        auto start = Clock::now();
        double committing = 0;  // seconds in Commit
        for (int b = 0; b < kBatches; ++b) {
          for (const auto& l : lines) {
            engine.Ingest(engine::InputLine{l, kHost, kFile, kT0 + b * 1000, ""});
          }
          engine.AdvanceWatermark(kT0 + (b + 1) * 1000, &alerts);
          engine::CheckpointDelta delta = engine.TakeDelta();
          if (checkpoint) {
            auto commit_start = Clock::now();
            Check(store->Commit({std::move(delta)}, {}, alerts));
            committing += Seconds(commit_start);
          }
          alerts.clear();
        }
        const double seconds = Seconds(start);
        (checkpoint ? with : without).push_back(kBatches * kLinesPerBatch / seconds / 1e6);
        if (checkpoint) {
          commit_ms.push_back(committing * 1e3 / kBatches);
          commit_share.push_back(100.0 * committing / seconds);
        }
      }
    }
    Stats w = Summarize(with), n = Summarize(without);
    std::printf("%-50s %12.3f %12.3f %12.3f\n", "pipeline, no checkpoint (M lines/s)", n.median,
                n.min, n.max);
    std::printf("%-50s %12.3f %12.3f %12.3f\n", "pipeline, checkpoint every batch (M lines/s)",
                w.median, w.min, w.max);
    const double cost = 100.0 * (1.0 - w.median / n.median);
    std::printf("%-50s %12.1f\n", "checkpoint cost (% of throughput)", cost);
    // The same cost measured inside each checkpointing run, not across runs: less exposed to
    // a neighbour slowing one run down.
    const Stats c = Summarize(commit_ms), share = Summarize(commit_share);
    std::printf("%-50s %12.2f %12.2f %12.2f\n", "  commit time per batch (ms)", c.median, c.min,
                c.max);
    std::printf("%-50s %12.1f %12.1f %12.1f\n", "  share of the run spent committing (%)",
                share.median, share.min, share.max);
    out["throughput"] = {
        {"lines_per_batch", kLinesPerBatch},
        {"keys", 10'000},
        {"no_checkpoint_mlines_s", {{"median", n.median}, {"min", n.min}, {"max", n.max}}},
        {"checkpoint_mlines_s", {{"median", w.median}, {"min", w.min}, {"max", w.max}}},
        {"cost_percent", cost},
        {"commit_ms_per_batch", {{"median", c.median}, {"min", c.min}, {"max", c.max}}},
        {"commit_share_percent",
         {{"median", share.median}, {"min", share.min}, {"max", share.max}}}};
  }
  std::filesystem::remove_all(dir);
  if (!json_path.empty()) std::ofstream(json_path) << out.dump(2) << "\n";
  return 0;
}
