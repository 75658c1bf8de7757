// ParallelMatcher: runs the rules over many lines on worker threads and records every match
// (with the rule's own time stamp parsed there), so the Engine can apply them in line order
// (Engine::RouteLine) with exactly the result of matching line by line. Its threads also run
// the engine's partitions (a TaskRunner). One matcher per caller; Match and Run are not
// reentrant. The worker threads live as long as the matcher and sleep between calls; a call
// with few lines runs on the calling thread alone.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "engine/engine.h"
#include "engine/task_runner.h"
#include "rules/rule_set.h"

namespace ember::engine {

// One rule match of one line; views point into the line or the matcher's key storage and
// stay valid until the next Match call.
struct RecordedMatch {
  size_t rule = 0;
  rules::RuleMatch match;
  // The rule's own time stamp (match.time), read on the matcher's thread when
  // `time_parsed`: nullopt when it could not be read.
  bool time_parsed = false;
  std::optional<int64_t> time_ms;
};

class ParallelMatcher final : public TaskRunner {
 public:
  // `threads` 0: one per CPU. The calling thread is one of them.
  explicit ParallelMatcher(unsigned threads = 0);
  ~ParallelMatcher();
  ParallelMatcher(const ParallelMatcher&) = delete;
  ParallelMatcher& operator=(const ParallelMatcher&) = delete;

  // Calls with fewer lines than this are matched on the calling thread only.
  static constexpr size_t kMinParallelLines = 512;

  // Matches every line against `rules`; afterwards MatchesOf(i) lists line i's matches in
  // the order RuleSet::Match reports them. `lines` must outlive the use of the results.
  void Match(const rules::RuleSet& rules, std::span<const InputLine> lines);
  std::span<const RecordedMatch> MatchesOf(size_t line) const;
  unsigned threads() const { return threads_; }

  // TaskRunner: the tasks are taken in turn by the calling thread and the workers.
  void Run(size_t n, const std::function<void(size_t)>& task) override;

 private:
  struct Slice;
  struct Pool;
  void RunSlice(unsigned index);
  // Runs job(i) on thread i for every thread (0: the caller) and waits for all.
  void RunOnAll(const std::function<void(unsigned)>& job);
  unsigned threads_;
  std::vector<std::unique_ptr<Slice>> slices_;
  size_t lines_per_slice_ = 0;
  // The call being served (read by the workers while it runs).
  const rules::RuleSet* rules_ = nullptr;
  std::span<const InputLine> lines_;
  std::unique_ptr<Pool> pool_;  // last: its threads stop before the rest is destroyed
};

}  // namespace ember::engine
