// Engine: the deterministic heart of ember. Lines with a time go in; micro-batches of
// batch_interval_ms are closed as the watermark passes their end; each rule's windows are
// updated incrementally and alert events come out. No sockets, no clock, no threads: the
// daemon, `ember replay` and the tests drive the same code and get the same alerts.
// Keyed state lives in partitions (engine/partitioning.h); a TaskRunner it is handed may
// apply them at once, with output byte-identical to applying them one after another.
// Not thread-safe: one owner (the pipeline thread) calls every method.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"
#include "engine/alert.h"
#include "engine/partitioning.h"
#include "engine/rule_window.h"
#include "engine/task_runner.h"
#include "rules/rule_set.h"

namespace ember::engine {

struct EngineOptions {
  int64_t batch_interval_ms = 1000;  // Δ: 100ms..10s
  // A line for a batch that already closed lands in its own batch while that batch closed
  // less than this long ago (its windows are evaluated again: late firings); older ones are
  // dropped and counted. Each rule keeps this much history beyond its window: memory grows
  // with it (docs/design.md, "Time").
  int64_t max_lateness_ms = 3600'000;
  // Whether pending alert events (a condition holding while `for` runs) are returned.
  bool emit_pending = false;
  // Key groups of the state (engine/partitioning.h): fixed for a state store's life.
  uint32_t partitions = kDefaultPartitions;
  // ApplyRouted with fewer entries queued (a run of alike matches is one) runs on the calling
  // thread alone (handing out tasks costs more than it saves): this many while the runner's
  // threads are free, `min_busy_parallel_matches` while they do other work (TaskRunner::width
  // 1: they take tasks only between pieces of theirs, and the caller waits for them).
  size_t min_parallel_matches = 256;
  size_t min_busy_parallel_matches = 4096;
  // RouteLines cuts its lines in ranges of at least this many, one per free thread of the
  // runner, routed at once.
  size_t min_range_lines = 2048;
  // Evaluate with less work due (RuleWindow::WorkOf, about window ends times keys) runs on
  // the calling thread alone, for the same reason.
  uint64_t min_parallel_evaluation = 4096;
};

// One line as the engine sees it. Views must live only for the Ingest call.
struct InputLine {
  std::string_view text;
  std::string_view host;
  std::string_view file;
  int64_t time_ms = 0;   // ingestion or event time, Unix ms; negative is treated as 0
  std::string_view tag;  // the agent input's tag, "" if none
  // Where the line came from in its file: the byte range of the frame (or line) holding it;
  // 0, 0 when unknown. Recorded with the first match of a key in a batch (provenance).
  uint64_t offset_start = 0;
  uint64_t offset_end = 0;
  // Who sent it: the agent's CURVE key name when agents are authenticated, else the name it
  // gave; "" when unknown (replay). Recorded with the provenance.
  std::string_view agent = {};
  // A journal entry's fields; null for lines of files. Not owned: it lives as long as the line.
  const rules::JournalFields* journal = nullptr;
};

// The line's journal fields, all empty for a line of a file.
inline const rules::JournalFields& JournalOf(const InputLine& line) {
  static constexpr rules::JournalFields kNone{};
  return line.journal != nullptr ? *line.journal : kNone;
}

struct EngineStats {
  uint64_t lines = 0;
  uint64_t matches = 0;        // (line, rule) pairs
  uint64_t matched_lines = 0;  // lines at least one rule's `match` matched (grep -c's count)
  uint64_t late_lines = 0;     // for a closed batch, added to it and re-evaluated
  uint64_t too_late = 0;       // for a batch closed longer than max_lateness ago: dropped
  uint64_t late_alerts = 0;    // firings raised by re-evaluating closed windows
  // Matches of rules with their own `timestamp` whose capture could not be read (they keep
  // the line's time).
  uint64_t unparsed_times = 0;
  // Matches whose key had a field longer than its share of rules::kMaxKeyBytes (cut).
  uint64_t keys_cut = 0;
  uint64_t batches_closed = 0;
  uint64_t alerts_firing = 0;
  uint64_t alerts_resolved = 0;
};

// Everything a checkpoint must write since the previous one.
struct PartialRecord {
  std::string rule;
  int64_t batch = 0;
  std::string key;
  // The whole (rule, batch) left every window, or (followed by records of the same batch) is
  // replaced by them; key and counts unused.
  bool erased = false;
  Partial partial;
  uint32_t partition = 0;  // the record's key group; an erased record erases only its own
};
struct KeyStateRecord {
  std::string rule;
  std::string key;
  bool erased = false;
  KeyState state;
};
struct CheckpointDelta {
  int64_t closed_until = 0;  // every batch below this index is closed
  std::vector<PartialRecord> partials;
  std::vector<KeyStateRecord> key_states;
};

// Receives stored partials one at a time (recovery, streamed: no copy of the whole state in
// between). They come grouped by rule and batch; a key may come more than once in a batch,
// the later replacing the earlier. The views and the partial are valid during the call only.
class PartialSink {
 public:
  virtual ~PartialSink() = default;
  // About `n` partials of (rule, batch) in `partition` follow: a hint for sizing.
  virtual void Reserve(std::string_view rule, int64_t batch, uint32_t partition, size_t n) = 0;
  virtual void Add(std::string_view rule, int64_t batch, std::string_view key,
                   const Partial& partial) = 0;
};

struct RecordedMatch;  // engine/parallel_matcher.h
class ParallelMatcher;

class Engine {
 public:
  // REQUIRES: rules validated against options.batch_interval_ms (RuleSet::Load does).
  Engine(std::shared_ptr<const rules::RuleSet> rules, const EngineOptions& options);
  ~Engine();

  // Matches one line against the rules and applies it (the line counts and moves the
  // batches whether or not it matches).
  void Ingest(const InputLine& line);
  // Ingest with the line's rule matches already found (by a ParallelMatcher): the same
  // effect as Ingest(line), without running the rules here.
  void IngestMatched(const InputLine& line, std::span<const RecordedMatch> matches);
  // The same in two steps, for many lines: RouteLine admits a line and queues its matches to
  // their partitions (call it in line order); ApplyRouted applies every queued match, the
  // partitions at once on the runner's threads. Lines and matches must stay alive and
  // unchanged until ApplyRouted returns; nothing else may be called in between.
  void RouteLine(const InputLine& line, std::span<const RecordedMatch> matches);
  // RouteLine for lines[i] with the matches matcher.MatchesOf(first + i), for every i, to the
  // same effect. With a runner whose threads are free, ranges of the lines are routed at once
  // (EngineOptions::min_range_lines). `too_late` (optional) gets the index i of the line of
  // each drop counted in stats().too_late, in order.
  void RouteLines(std::span<const InputLine> lines, const ParallelMatcher& matcher, size_t first,
                  std::vector<size_t>* too_late = nullptr);
  void ApplyRouted();
  // Where partitions run (null: one after the other, the default). Not owned; it must
  // outlive its use here.
  void SetRunner(TaskRunner* runner) { runner_ = runner; }
  // Evaluates again the closed windows that late lines fell in since the last call (their
  // firings come marked `late`), then closes every batch whose end is at or before
  // `watermark_ms` and appends the alert events of the windows that end there. A watermark
  // that goes backwards closes nothing.
  void AdvanceWatermark(int64_t watermark_ms, std::vector<Alert>* out);

  // Where the slowest stream still reading its backlog stands (Unix ms; INT64_MAX: none, the
  // default; below 0: keep everything). Lines down to `floor_ms` - max_lateness are admitted
  // (late) even when older than the watermark allows, and the batches their windows need are
  // kept until the floor moves on: a backfill of old files into a running aggregator counts
  // in its own windows. The daemon sets it from SourceWatermarks before lines and closes.
  // `complete_ms`: every stream has delivered its lines stamped before it (INT64_MAX: all,
  // the default). Late re-evaluation of a window ending after it waits until it is complete,
  // so a window a backfill fills is judged on all of its lines, as replay judges it.
  void SetHistoryFloor(int64_t floor_ms, int64_t complete_ms = INT64_MAX);
  int64_t history_floor_ms() const { return history_floor_ms_; }
  // Whether a line stamped `time_ms` would be dropped as too late now.
  bool TooLate(int64_t time_ms) const;

  // End of a bounded input (replay, tests): closes every batch and evaluates windows until
  // every window holding a match has slid past, so firing keys resolve.
  void Finish(std::vector<Alert>* out);

  // Checkpoint support. TakeDelta returns what changed since the last call.
  // REQUIRES: AdvanceWatermark (or Finish) since the last Ingest: late lines are merged there.
  CheckpointDelta TakeDelta();
  // Recovery: give the stored partials to restore_sink() (CheckpointStore::Recover does),
  // then call FinishRestore once. Records of rules not in the current rule set are ignored.
  // REQUIRES: before any Ingest.
  PartialSink& restore_sink();
  void FinishRestore(int64_t closed_until, const std::vector<KeyStateRecord>& key_states);
  size_t restored_partials() const;  // given to restore_sink() so far

  bool has_closed() const { return has_closed_; }
  int64_t closed_until() const { return closed_until_; }  // batch index
  const EngineStats& stats() const { return stats_; }
  // A rules reload: carries the counters of `previous` over (monotonic for /metrics), and the
  // match and refused-key counts of each rule it had with the same name and digest.
  void CarryCountersFrom(const Engine& previous);
  const rules::RuleSet& rules() const { return *rules_; }
  int64_t batch_interval_ms() const { return options_.batch_interval_ms; }
  uint32_t partitions() const { return static_cast<uint32_t>(parts_.size()); }

  // One rule across its partitions (monitoring, the live view, `ember test`).
  uint64_t rule_matches(size_t rule) const;
  uint64_t rule_refused_keys(size_t rule) const;
  size_t rule_window_keys(size_t rule) const;
  size_t rule_firing(size_t rule) const;
  // The `n` keys with the highest counts in the last evaluated window, highest first (ties by
  // key), over every partition.
  std::vector<std::pair<std::string, uint64_t>> TopKeys(size_t rule, size_t n) const;
  // Calls f(key, state) for every key of the rule with alert state, partition by partition.
  void ForEachKeyState(size_t rule,
                       const std::function<void(const std::string&, const KeyState&)>& f) const;
  // The window holding `key` of a rule: its partition's.
  const RuleWindow& window(size_t rule, std::string_view key) const;

 private:
  class Collector;
  class RestoreSink;
  struct Partition;
  // Where routing counts what it admits and drops. Each range RouteLines routes at once has
  // its own, on cache lines of its own (two ranges' counters on one line cost as much as the
  // routing), added to the engine's when the ranges are done.
  struct alignas(64) Placer {
    // Where lines, matches, late lines and drops are counted: the engine's stats_ (placer_),
    // or a range's `counted`.
    EngineStats* stats = nullptr;
    EngineStats counted;
    int64_t max_batch = -1;  // the newest batch a line was placed in
    // The batch Place found last and its time range [from, until): lines come in runs of
    // one second, so most find their batch without a division.
    int64_t placed_from_ms = 0, placed_until_ms = 0, placed_batch = 0;
    // RouteLines: the line being routed, and where its drops as too late are listed (a
    // range's: `drops`).
    size_t line = 0;
    std::vector<size_t>* too_late = nullptr;
    std::vector<size_t> drops;
    // The windows (partition, rule) whose queue of this range it started: ApplyRouted visits
    // these, not every window (placer_'s not empty: ApplyRouted is due).
    std::vector<std::pair<Partition*, uint32_t>> touched;
    // Makes a range's placer count afresh into `counted`, keeping its vectors' capacity.
    void StartRange(bool list_drops);
  };
  // Adds what a range's placer counted to the engine's figures.
  void MergeRange(const Placer& placer);
  // The partition of `key` of rule `rule`.
  uint32_t Route(size_t rule, std::string_view key) const;
  // The same for a key whose KeyHash the matcher computed.
  uint32_t RouteHash(size_t rule, uint64_t key_hash) const;
  // The batch one match counts in: the line's, or the rule's own stamp's (`rule_time`: already
  // parsed by the matcher, or null to parse it here); false (counted) if too late.
  bool PlaceMatch(Placer& placer, const InputLine& line, int64_t line_batch, size_t rule,
                  const rules::RuleMatch& match, const RecordedMatch* recorded, int64_t* batch);
  // The sum of `of` over the rule's window in every partition.
  uint64_t SumOverPartitions(size_t rule, uint64_t (*of)(const RuleWindow& window)) const;
  // Runs task(i) for every i in [0, n): on the runner when there is one and more than one
  // task, else one after the other here.
  void RunTasks(size_t n, const std::function<void(size_t)>& task);
  // RunTasks with one task per partition.
  void ForEachPartition(const std::function<void(Partition&)>& f);
  // Counts the line and finds its batch; false if it is dropped (too late).
  bool Admit(Placer& placer, const InputLine& line, int64_t* batch);
  // The batch of a time stamp; false (counted) if it closed longer than max_lateness ago.
  bool Place(Placer& placer, int64_t time_ms, int64_t* batch);
  // RouteLine into the queues of range `range`, counting with `placer`.
  void RouteInto(size_t range, Placer& placer, const InputLine& line,
                 std::span<const RecordedMatch> matches);
  // RouteInto for lines [begin, end) of `lines`, whose matches are the matcher's from `first`.
  void RouteRange(size_t range, Placer& placer, std::span<const InputLine> lines,
                  const ParallelMatcher& matcher, size_t first, size_t begin, size_t end);
  // The oldest batch a line may still land in (once a batch closed): max_lateness before the
  // watermark or the history floor, whichever is older.
  int64_t OldestAdmitted() const {
    return std::min(closed_until_, history_floor_batch_) - lateness_batches_;
  }
  // The batch `w` is closed up to: absence windows stop at the end of the input (Finish).
  int64_t Until(const RuleWindow& w) const {
    return w.absence() ? std::min(closed_until_, absence_until_) : closed_until_;
  }
  // Brings a window parked by Evaluate up to where the advances since would have left it,
  // before it takes a match. Touches that window only.
  void Wake(Partition& part, size_t rule);
  // Re-evaluates the windows late lines changed, then (`close`) closes every batch below
  // `closed_until`, appending the events of all partitions in one order.
  void Evaluate(bool close, int64_t closed_until, std::vector<Alert>* out);

  std::shared_ptr<const rules::RuleSet> rules_;
  EngineOptions options_;
  std::vector<std::unique_ptr<Partition>> parts_;
  std::vector<uint64_t> seeds_;      // by rule: RuleSeed
  std::vector<uint8_t> whole_rule_;  // by rule: the rule lives in one partition
  // ApplyRouted's and Evaluate's windows with work: (partition, rule index).
  std::vector<std::pair<Partition*, size_t>> due_;
  std::vector<size_t> due_sizes_, due_order_;  // ApplyRouted: by due window, its entries
  // Evaluate: by task, its window's next_end() and late_waiting() after it.
  struct After {
    int64_t next_end;
    bool late_waiting;
    bool idle;
  };
  std::vector<After> due_after_;
  // As the windows stood after the last Evaluate: the earliest window end not evaluated, the
  // late lines counted by then, whether any window waits on late lines.
  int64_t next_end_ = INT64_MIN;
  uint64_t late_lines_seen_ = UINT64_MAX;
  bool late_waiting_ = false;
  TaskRunner* runner_ = nullptr;
  rules::MatchScratch scratch_;
  bool has_closed_ = false;
  int64_t closed_until_ = 0;
  Placer placer_;               // Ingest's, RouteLine's and one range's
  std::vector<Placer> ranges_;  // RouteLines': by range
  int64_t lateness_batches_ = 0;
  int64_t history_floor_ms_ = INT64_MAX;
  int64_t history_floor_batch_ = INT64_MAX;
  int64_t absence_until_ = INT64_MAX;  // set by Finish
  EngineStats stats_;
  std::unique_ptr<RestoreSink> restore_sink_;
};

}  // namespace ember::engine
