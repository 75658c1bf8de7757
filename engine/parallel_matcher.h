// ParallelMatcher: runs the rules over many lines on worker threads and records every match
// (with the rule's own time stamp parsed there), so the Engine can apply them in line order
// (Engine::RouteLine) with exactly the result of matching line by line. Its threads also run
// the engine's partitions (a TaskRunner). One matcher per caller; Match and Run are not
// reentrant. The worker threads live as long as the matcher and sleep between calls (after
// polling briefly while calls come close together, kDefaultSpin); a call with few lines runs
// on the calling thread alone. The results of a call stay readable while
// the next one runs: the caller can apply one chunk while the workers match the next.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "common/brief_spin.h"
#include "engine/engine.h"
#include "engine/task_runner.h"
#include "rules/rule_set.h"

namespace ember::engine {

// One rule match of one line; views point into the line or the matcher's key storage and
// stay valid until the call after the next one starts.
struct RecordedMatch {
  rules::RuleMatch match;
  // KeyHash of the match's key (engine/partitioning.h), computed on the matcher's thread.
  uint64_t key_hash = 0;
  // The rule's own time stamp (match.time), read on the matcher's thread when
  // `time_parsed`: kUnreadTime when it could not be read.
  static constexpr int64_t kUnreadTime = INT64_MIN;
  int64_t time_ms = kUnreadTime;
  uint32_t rule = 0;
  bool time_parsed = false;
  // When not 0: the match this many places before in the same call is the previous match of
  // the same rule, on an earlier line, and AlikeMatches with this one (found on the
  // matcher's thread, so that routing continues a run without comparing keys).
  uint16_t run_distance = 0;
};
// Written for every match and read back to apply it: kept small (88 bytes).
static_assert(sizeof(RecordedMatch) <= 88);

// Whether matches `a` and `b` of one rule in one batch count in a window as one match counted
// twice does: the same key, `total` and `distinct`, and no value (whose sum would be lost).
inline bool AlikeMatches(const rules::RuleMatch& a, const rules::RuleMatch& b) {
  return !a.has_value && !b.has_value && a.total == b.total && a.key == b.key &&
         a.distinct == b.distinct;
}

// Work on the lines themselves before the rules see them (reading their time stamps, say),
// done on the matcher's threads: Prepare is called once for each slice of the lines, on any
// thread, several at once, with `first` the index of the slice's first line.
class LinePrep {
 public:
  virtual ~LinePrep() = default;
  virtual void Prepare(size_t first, std::span<InputLine> lines) = 0;
};

class ParallelMatcher final : public TaskRunner {
 public:
  // Between two calls less than this apart, the workers (and the caller waiting for them)
  // poll for the next call this long before they sleep (common/brief_spin.h).
  static constexpr std::chrono::microseconds kDefaultSpin{100};
  // `threads` 0: one per CPU. The calling thread is one of them. `spin` 0: never poll; more
  // threads than CPUs never poll either (a polling thread would hold a CPU another needs).
  explicit ParallelMatcher(unsigned threads = 0, std::chrono::microseconds spin = kDefaultSpin);
  ~ParallelMatcher();
  ParallelMatcher(const ParallelMatcher&) = delete;
  ParallelMatcher& operator=(const ParallelMatcher&) = delete;

  // Calls with fewer lines than this are matched on the calling thread only.
  static constexpr size_t kMinParallelLines = 512;
  // Lines are matched in slices of this many, which the threads take in turn.
  static constexpr size_t kSliceLines = 512;

  // Matches every line against `rules`; afterwards MatchesOf(i) lists line i's matches in
  // the order RuleSet::Match reports them. `lines` must outlive the use of the results.
  void Match(const rules::RuleSet& rules, std::span<const InputLine> lines);
  // The same in two steps: Start hands the lines to the worker threads and returns at once,
  // so the caller can prepare the next lines meanwhile; Finish has the caller take the
  // slices left and waits for the workers. `rules` and `lines` must not change in between;
  // between them, only MatchesOf, RetimeMatches and Run may be called (the first two about
  // the call finished before; Run's tasks are then taken by the calling thread, and by the
  // workers between two slices of the call).
  void Start(const rules::RuleSet& rules, std::span<const InputLine> lines);
  // The same, with `prep` run over each slice of the lines before it is matched. `in_place`:
  // the byte just past each line's text is readable (RuleSet::MatchLines).
  void Start(const rules::RuleSet& rules, std::span<InputLine> lines, LinePrep* prep,
             bool in_place = false);
  void Finish();
  // Line `line`'s matches in the call finished last (the span stays valid until the call
  // after the next one starts).
  std::span<const RecordedMatch> MatchesOf(size_t line) const;
  // Line `line` of the call finished last changed its time (a LinePrep guessed it): reads the
  // time stamps of the rules with their own again, against the new time.
  void RetimeMatches(size_t line);
  unsigned threads() const { return threads_; }
  // How long the threads poll between calls that come close together.
  std::chrono::microseconds spin() const { return spin_; }

  // TaskRunner: the tasks are taken in turn by the calling thread and the workers.
  void Run(size_t n, const std::function<void(size_t)>& task) override;
  // 1 between Start and Finish: the workers are matching.
  size_t width() const override { return started_ ? 1 : threads_; }

 private:
  struct Slice;
  struct Pool;
  struct SideTasks;
  // Matches slice `index` with thread `thread`'s scratch.
  void RunSlice(size_t index, unsigned thread);
  void StartWith(const rules::RuleSet& rules, std::span<const InputLine> lines,
                 std::span<InputLine> prep_lines, LinePrep* prep, bool in_place);
  // Reads the time stamps of `rules`' rules with their own in line `local` of `s`.
  static void ReadRuleTimes(const rules::RuleSet& rules, Slice& s, size_t local,
                            int64_t line_time_ms);
  // Takes slices until none is left (thread `thread`); a worker takes the tasks of a Run
  // running meanwhile first.
  void TakeSlices(unsigned thread);
  // A worker takes the tasks left of the Run running during the call, if any.
  void HelpWithSideTasks();
  // Worker `thread`'s life: waits for a call's job, runs it, until the matcher stops.
  void WorkerLoop(unsigned thread);
  // Wakes the workers to run job(i) on thread i (i >= 1).
  void Wake(const std::function<void(unsigned)>* job);
  // Waits until every worker finished the job Wake gave.
  void Join();
  // Runs job(i) on thread i for every thread (0: the caller) and waits for all.
  void RunOnAll(const std::function<void(unsigned)>& job);
  unsigned threads_;
  std::chrono::microseconds spin_;
  SpinPolicy caller_spin_;  // whether Join polls before it sleeps
  std::vector<std::unique_ptr<rules::MatchScratch>> scratch_;  // by thread
  // Two sets of slices, grown, never shrunk: a call fills one while the other holds the
  // results of the call before.
  std::vector<std::unique_ptr<Slice>> slices_[2];
  int running_set_ = 0;     // the set of the current (or last started) call
  int finished_set_ = 1;    // the set of the call finished last
  size_t slice_count_ = 0;  // slices of the current call
  std::atomic<size_t> next_slice_{0};
  std::function<void(unsigned)> take_slices_;  // the job Start gives the workers
  bool started_ = false;
  // The call being served (read by the workers while it runs).
  const rules::RuleSet* rules_ = nullptr;
  std::vector<uint64_t> seeds_;  // RuleSeed of each of its rules
  std::span<const InputLine> lines_;
  std::span<InputLine> prep_lines_;  // the same lines, when `prep_` changes them
  LinePrep* prep_ = nullptr;
  bool in_place_ = false;
  // The call finished last, whose results MatchesOf and RetimeMatches read.
  const rules::RuleSet* finished_rules_ = nullptr;
  std::span<const InputLine> finished_lines_;
  std::unique_ptr<Pool> pool_;  // last: its threads stop before the rest is destroyed
};

}  // namespace ember::engine
