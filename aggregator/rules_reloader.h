// Rules loading for the aggregator: LoadRules reads and compiles the rules directory (logging
// each diagnostic and warning); RulesWatch notices edits to it (inotify) and says when to
// reload: once the directory has been quiet for 500 ms, since editors write in several steps;
// CompareRules tells what a reload keeps, changes, adds and removes (a rule whose digest is
// unchanged keeps its window state). Times are milliseconds, handed in.
// Not thread-safe; owned by the aggregator's pipeline thread.
#pragma once

#include <cstdint>
#include <future>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "aggregator/aggregator_config.h"
#include "common/status.h"
#include "rules/rule_set.h"

namespace ember::aggregator {

Result<std::shared_ptr<const rules::RuleSet>> LoadRules(const AggregatorConfig& config);

// LoadRules on a thread of its own, so the pipeline keeps closing batches, checkpointing and
// acknowledging while a large rule set compiles (10,000 rules can take seconds). A Start while
// a load runs makes that load's result be dropped and the directory read again.
// Not thread-safe: the pipeline thread calls every method (the load itself runs elsewhere).
class BackgroundRulesLoad {
 public:
  using Loaded = Result<std::shared_ptr<const rules::RuleSet>>;
  ~BackgroundRulesLoad();  // waits for a load still running
  void Start(const AggregatorConfig& config);
  // The finished load, once; nullopt while it runs or when none was started.
  std::optional<Loaded> TakeIfDone();
  bool running() const { return future_.valid(); }

 private:
  std::future<Loaded> future_;
  bool again_ = false;
  AggregatorConfig config_;
};

struct RuleChanges {
  std::vector<std::string> kept, changed, added, removed;
  // "kept with their state: a, b; changed (state reset): none; added: c; removed: none"
  std::string Describe() const;
};
RuleChanges CompareRules(const rules::RuleSet& before, const rules::RuleSet& after);

class RulesWatch {
 public:
  static constexpr int64_t kQuietMs = 500;
  // Watches `rules_dir` (or a single rules file's directory). Without inotify, logs that
  // SIGHUP still reloads, and fd() is -1.
  explicit RulesWatch(const std::string& rules_dir);
  ~RulesWatch();
  RulesWatch(const RulesWatch&) = delete;
  RulesWatch& operator=(const RulesWatch&) = delete;

  int fd() const { return fd_; }
  // fd() is readable: drains its events and notes a change at `now_ms`.
  void OnReadable(int64_t now_ms);
  // Notes a change at `now_ms` (what OnReadable does after draining).
  void NoteChange(int64_t now_ms) { changed_ms_ = now_ms; }
  // True once when the directory changed and has been quiet for kQuietMs since.
  bool Due(int64_t now_ms);
  // How long the loop may sleep before Due() can become true (INT64_MAX: no change pending).
  int64_t WaitMs(int64_t now_ms) const;

 private:
  int fd_ = -1;
  int64_t changed_ms_ = 0;  // last change seen, not yet reloaded (0: none)
};

}  // namespace ember::aggregator
