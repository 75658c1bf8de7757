// RuleWindow: the sliding-window state of one rule, maintained incrementally in the manner
// of Spark's reduceByKeyAndWindow with an inverse function: at each window end the batches
// entering the window are added and the batches leaving it subtracted, keys whose count
// returns to zero are pruned. Per-key alert state (updateStateByKey) lives here too.
// Batch indices are time / batch interval; a window of W batches sliding by S ends at every
// multiple of S and covers batches [end - W, end): every window holds whole slides, so the
// partials are kept per slide, keyed by its first batch (one partial for a key's matches in
// the S batches of a slide; the sample remembers its own batch). Late lines (for windows already
// evaluated) wait apart until ReevaluateLate, which compares each window they fall in before and
// after them and raises a late firing where the condition newly holds; batches are kept for
// `lateness_batches` beyond the window for this, and from the history floor on (a stream
// still reading its backlog: SetHistoryFloor). Not thread-safe: owned by the Engine.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "common/node_pool.h"
#include "engine/alert.h"
#include "engine/alert_lifecycle.h"
#include "engine/batch_map.h"
#include "engine/batch_set.h"
#include "engine/batch_slots.h"
#include "engine/key_state.h"
#include "engine/key_table.h"
#include "engine/slide_memory.h"
#include "rules/rule.h"
#include "rules/rule_set.h"

namespace ember::engine {

// Where a line came from (views valid for the call that passes them).
struct LineOrigin {
  std::string_view host;
  std::string_view file;
  uint64_t offset_start = 0;  // byte range in the file holding the line; 0, 0 if unknown
  uint64_t offset_end = 0;
  std::string_view agent = {};  // who sent it (engine/interned.h: Origin); "" if unknown
};

// The line of a match, asked for only when it becomes its key's sample in its batch: most
// matches add to a key their batch has already seen, and never read their line.
class MatchedLine {
 public:
  virtual std::string_view text() const = 0;
  virtual LineOrigin origin() const = 0;

 protected:
  ~MatchedLine() = default;
};

// Matches of one key in one batch: the partial aggregates, and the first line as a sample
// with where it came from (host and file interned: see engine/interned.h). The value a
// checkpoint stores; RuleWindow keeps the same in a compact form (engine/batch_slots.h).
struct Partial {
  uint64_t count = 0;                // lines matching the rule's pattern
  uint32_t sample_batch = 0;         // the sample's batch, counted from the partial's
  uint64_t total = 0;                // lines matching its `ratio_of` pattern
  uint64_t numeric = 0;              // matching lines whose `value` capture is a number
  double sum = 0, min = 0, max = 0;  // of those numbers (min/max meaningful when numeric > 0)
  std::vector<uint64_t> distinct;    // sorted hashes of `distinct` values, at most kMaxDistinct
  std::string sample;
  const std::string* host = nullptr;  // null when unknown
  const std::string* file = nullptr;
  const std::string* agent = nullptr;  // the sender's identity (engine/interned.h: Origin)
  uint64_t offset_start = 0;
  uint64_t offset_end = 0;
};
// Distinct values kept per key and slide; beyond it `distinct` counts a lower bound.
inline constexpr size_t kMaxDistinct = 1024;

class RuleWindow {
 public:
  // REQUIRES: rule.window_ms and rule.every_ms are positive multiples of batch_interval_ms,
  // the window a multiple of the slide. `rule` must outlive this object.
  // `max_keys`: keys this window may hold (its partition's share of the rule's max_keys);
  // 0: the rule's own.
  RuleWindow(const rules::Rule& rule, int64_t batch_interval_ms, int64_t lateness_batches = 0,
             int64_t max_keys = 0);

  // Adds one match of `key` to batch `batch` (>= 0). `line` and `origin` are kept as the
  // sample if first. A batch of a window already evaluated (late) is held apart until
  // ReevaluateLate. REQUIRES: batch within lateness_batches of the evaluated windows or of
  // the history floor.
  void Add(int64_t batch, std::string_view key, std::string_view line,
           const LineOrigin& origin = {});
  // The same for a match with its numbers (total, value, distinct: see rules::RuleMatch).
  void Add(int64_t batch, const rules::RuleMatch& match, std::string_view line,
           const LineOrigin& origin);
  // The same, reading the line only if it becomes the sample; `count` matches alike (the
  // same key, `total` and `distinct`, no `value`) at once, `line` the first one's.
  void Add(int64_t batch, const rules::RuleMatch& match, const MatchedLine& line,
           uint64_t count = 1);

  // Evaluates every window end not yet evaluated up to `closed_until` (every batch below it
  // is closed) and appends the alert events they raise (pending ones too: the Engine drops
  // them unless asked). Window ends whose window holds no match and no key state are
  // skipped without work.
  void Advance(int64_t closed_until, std::vector<Alert>* out);

  // Merges the late matches into their batches and, for each key they touched, evaluates
  // again every window already evaluated that they fall in: where the condition (threshold
  // rules) holds now and did not before, appends a FIRING event marked `late` for that
  // window (docs/time.md, "Late lines"): threshold rules where the condition holds, new-key
  // rules where a key first seen late is new, top-K rules where a key enters the top K.
  // The live lifecycle of the key is not changed (only `for` of threshold rules).
  void ReevaluateLate(std::vector<Alert>* out);
  bool has_late() const { return !late_.empty(); }
  // Whether windows late lines changed wait to be complete (ReevaluateLate may raise them).
  bool late_waiting() const { return !late_pending_keys_.empty(); }
  // Whether ReevaluateLate, or Advance(closed_until) when `close`, would do anything: late
  // lines, windows they changed waiting to be complete, or a window end not evaluated yet.
  bool HasWork(bool close, int64_t closed_until) const {
    return has_late() || late_waiting() || (close && next_end() <= closed_until);
  }
  // The batch the next window end not evaluated yet needs closed (INT64_MIN before the
  // first Advance).
  int64_t next_end() const { return started_ ? evaluated_end_ + slide_batches_ : INT64_MIN; }
  // A measure of that work, to tell whether it is worth other threads: the window ends due
  // times the keys in the window, plus the batches of late lines; a first Advance steps over
  // every batch held (replay's single one at the end: the whole log). Reads little else than
  // HasWork does.
  uint64_t WorkOf(bool close, int64_t closed_until) const {
    uint64_t ends = 0;
    if (close && !started_) {
      ends = partials_.size();
    } else if (close && next_end() <= closed_until) {
      ends = static_cast<uint64_t>((closed_until - next_end()) / slide_batches_) + 1;
    }
    return ends * (1 + window_keys_) + late_.size() + late_pending_keys_.size();
  }
  bool absence() const { return absence_; }
  // Whether the window has started and holds nothing: no stored slide, key state or late
  // line. Advance then only moves its evaluated end, which CatchUp does without the rest: the
  // Engine leaves such windows out of its advances and catches one up before adding to it.
  bool Idle() const {
    return started_ && partials_.empty() && states_.empty() && late_.empty() &&
           late_pending_keys_.empty();
  }
  // What Advance(closed_until) does to an Idle window. REQUIRES: Idle().
  void CatchUp(int64_t closed_until) {
    evaluated_end_ = std::max(evaluated_end_, FloorToSlide(closed_until));
  }
  // Batches from `batch` - lateness_batches on are kept even when they left every window:
  // lines of a stream that is still reading its backlog may still come for them. INT64_MAX:
  // no such stream.
  // `complete_batch`: windows ending at or before it hold every line they will get (each
  // stream has delivered past it); late re-evaluation of later ones waits until then.
  void SetHistoryFloor(int64_t batch, int64_t complete_batch = INT64_MAX) {
    history_floor_ = batch;
    complete_end_ = complete_batch;
  }

  // Restores one stored partial / key state (recovery). Call before the first Advance. A
  // partial of a batch inside a slide (a store written with a partial per batch) is merged
  // into its slide at FinishRestore.
  void RestorePartial(int64_t batch, std::string_view key, const Partial& partial);
  // Makes room for `n` partials of `batch` about to be restored (optional; saves regrowing).
  void ReserveForRestore(int64_t batch, size_t n);
  void RestoreKeyState(const std::string& key, KeyState state);
  // Rebuilds the window aggregate after the Restore* calls, as of `closed_until`.
  void FinishRestore(int64_t closed_until);
  // After FinishRestore and the delta that follows it: the next TakeDirty erases the stored
  // batches that were merged into their slides and writes those slides whole.
  void RewriteMergedBatches();

  // Checkpoint support: what changed since the last TakeDirty(). A batch below `closed_until`
  // (closed: no line will change it) that two or more deltas wrote is given whole, `whole` set,
  // once: what was stored of it is to be replaced, so the store keeps one segment per closed
  // batch instead of one per delta that changed it while it was open.
  struct DirtyBatch {
    int64_t batch = 0;
    bool whole = false;  // every key of the batch, replacing what was stored
    std::vector<std::pair<std::string, Partial>> partials;  // copies, by key
  };
  struct Dirty {
    std::vector<DirtyBatch> batches;  // by batch
    std::vector<int64_t> dropped_batches;
    std::vector<std::string> keys;  // key states changed (firing or erased)
  };
  Dirty TakeDirty(int64_t closed_until);
  const KeyState* FindKeyState(const std::string& key) const;

  // Count of `key` in the window that ended at the last evaluated end (0 if absent).
  uint64_t WindowCount(const std::string& key) const;
  // Every aggregate of `key` in the window that ended at the last evaluated end.
  rules::WindowValues Values(const std::string& key) const;
  size_t window_keys() const { return window_keys_; }
  // Matches added since this window was created (live view and /metrics).
  uint64_t matches() const { return matches_; }
  // Matches not counted because their key was new and the rule held max_keys keys.
  uint64_t refused_keys() const { return refused_keys_; }
  // Takes over the match and refused-key counts of an earlier instance of the same rule (a
  // rules reload), so the counters stay monotonic.
  void CarryCountsFrom(const RuleWindow& earlier) {
    matches_ += earlier.matches_;
    refused_keys_ += earlier.refused_keys_;
  }
  // The `n` keys with the highest counts in the last evaluated window, highest first (ties by
  // key). Costs one pass over the window's keys.
  std::vector<std::pair<std::string, uint64_t>> TopKeys(size_t n) const;
  // Matches of `key` in each of the `n` slides up to the one holding batch `last_batch`,
  // oldest first.
  std::vector<uint64_t> KeyHistory(const std::string& key, int64_t last_batch, size_t n) const;
  // Every key with alert state (any phase: check KeyState::phase for firing ones).
  const std::unordered_map<std::string, KeyState>& states() const { return states_; }
  size_t firing_count() const;
  // The alert a pending or firing key stands for, as of the last evaluated window end.
  Alert Describe(const std::string& key) const;
  size_t stored_batches() const { return partials_.size(); }
  int64_t window_batches() const { return window_batches_; }
  int64_t slide_batches() const { return slide_batches_; }
  // Window ends past the last match after which every key of this rule has resolved.
  int64_t horizon_batches() const {
    return window_batches_ + slide_batches_ + keep_batches_ + flap_within_batches_;
  }
  const rules::Rule& rule() const { return rule_; }

 private:
  void Step(int64_t end, std::vector<Alert>* out);
  // Values() of the key with KeyTable id `id` (kNone: a key with no stored matches).
  rules::WindowValues ValuesOf(uint32_t id) const;
  // Moves `key` through the lifecycle (engine/alert_lifecycle.h) at window end `end` given
  // whether its firing and resolve conditions hold, and announces what it says.
  void Evaluate(const std::string& key, bool fire, bool resolve, int64_t end,
                std::vector<Alert>* out);
  // Whether an idle key's state can be dropped at `end` (nothing left to remember).
  bool Forgettable(const KeyState& state, int64_t end) const;
  Alert MakeAlert(AlertState state, const std::string& key, int64_t end,
                  const std::string& id) const;
  Alert MakeAlert(AlertState state, const std::string& key, int64_t end, const std::string& id,
                  const rules::WindowValues& v) const;
  // The aggregates of `key` over the window ending at `end`, from the stored batches (and
  // the late matches not merged yet, with `with_late`).
  rules::WindowValues ValuesAt(const std::string& key, int64_t end, bool with_late) const;
  // Whether a threshold rule's condition holds for these values.
  bool ThresholdHolds(const rules::WindowValues& v) const {
    return v.count > 0 && rule_.when.Holds(v);
  }
  void MergeLate(int64_t batch, const std::string& key, const Partial& late);
  // Merges every late match into its batch.
  void MergeAllLate();
  // Notes that `key`'s window ending at `end` changed with late lines but is not complete;
  // false when the key waits on kMaxLatePending windows already (evaluate it now).
  bool DeferLate(const std::string& key, int64_t end, bool fired_before);
  // Evaluates the deferred windows that are complete now, raising late firings.
  void RaiseCompletedLate(std::vector<Alert>* out);
  // New-key rules: a key first seen at batch `first` is new at the window ending at `end`.
  bool IsNewAt(int64_t first, int64_t end) const {
    return first < end && first >= end - window_batches_;
  }
  // ReevaluateLate for new-key rules: a key first seen late is new in the windows after its
  // first batch (up to one window on) that did not hold it as new.
  void ReevaluateLateNewKeys(std::vector<Alert>* out);
  // ReevaluateLate for top-K rules: the keys the late lines lift into a window's top K.
  void ReevaluateLateTopK(std::vector<Alert>* out);
  // The keys in the top K of the window ending at `end` whose condition holds there.
  std::set<std::string> TopKFiringAt(int64_t end) const;
  // Appends a late FIRING event of `key` for the window ending at `end`, unless `repeat`
  // (longer than the slide) says one was raised too recently (`last_raised`, updated).
  void RaiseLate(const std::string& key, int64_t end, int64_t* last_raised,
                 std::vector<Alert>* out);
  // The first matches of `key` in the window ending at `end`: one per slide, up to kMaxEvidence.
  std::vector<Evidence> EvidenceFor(const std::string& key, int64_t end) const;
  // The first batch of the slide holding `batch` (below 0 too: rounded down).
  int64_t FloorToSlide(int64_t batch) const {
    const int64_t q = batch / slide_batches_;
    return (batch % slide_batches_ < 0 ? q - 1 : q) * slide_batches_;
  }
  // The last batch of the slide holding `batch`: where a stored slide's lines may lie up to.
  int64_t LastBatchOf(int64_t batch) const { return FloorToSlide(batch) + slide_batches_ - 1; }
  // Merges `from` (the partial of a batch `sample_batch` batches into the slot's slide) into
  // the slot's aggregates, its sample if the slot had none.
  void MergeIntoSlot(BatchSlots& slide, Slot& slot, const Partial& from, uint32_t sample_batch);
  // Adds / subtracts one batch's slot to / from its key's window sums.
  void AddToWindow(const Slot& slot);
  void SubtractFromWindow(const Slot& slot);
  // The slot of `key` in `batch`, created (with a key reference) if absent; null when the key
  // is new, `capped`, and the rule already holds max_keys keys.
  Slot* SlotFor(BatchSlots& batch, std::string_view key, bool capped);
  // A copy of what `slot` of `batch` holds, as a checkpoint stores it.
  static Partial PartialOf(const BatchSlots& batch, const Slot& slot);
  // Drops the batches no window ending at or after `end` needs (nor late lines may reach).
  void DropBatchesBefore(int64_t end);
  // Drops the first stored batch and its key references.
  void DropFirstBatch();

  // What the engine reads of every window at every advance (HasWork, next_end, WorkOf),
  // first and together: thousands of windows are looked at where a few have work.
  bool started_ = false;
  int64_t evaluated_end_ = 0;                // meaningful once started_
  std::set<std::string> late_pending_keys_;  // keys whose KeyState has late_pending
  // Late matches not merged yet: by slide, then key.
  std::map<int64_t, std::map<std::string, Partial>> late_;
  size_t window_keys_ = 0;  // keys with non-empty window sums
  const int64_t slide_batches_;
  const bool absence_;  // an absence rule: evaluated up to the end of the input only

  const rules::Rule& rule_;
  const int64_t batch_ms_;
  const int64_t window_batches_;
  // Lifecycle durations of the rule, in batches.
  const int64_t for_batches_, keep_batches_, repeat_batches_, flap_within_batches_, forget_batches_;
  const LifecycleSettings lifecycle_;
  const bool rescan_;                  // min/max/distinct are needed: recomputed from the partials
  const int64_t lateness_batches_;     // batches kept beyond the window for late lines
  const int64_t max_keys_;             // keys this window may hold
  int64_t history_floor_ = INT64_MAX;  // SetHistoryFloor
  int64_t complete_end_ = INT64_MAX;   // SetHistoryFloor

  KeyTable keys_;  // every key stored in a batch, with window sums
  // The stored batches, by batch, in nodes from one pool: a batch made and dropped costs no
  // malloc and free, and batches made one after the other lie together.
  NodePool batch_nodes_;      // before partials_: outlives it
  SlideMemory slide_memory_;  // the batches' slot blocks and samples; outlives partials_
  BatchMap<BatchSlots, SlideMemory*> partials_{&batch_nodes_, &slide_memory_};  // by batch
  std::unordered_map<std::string, KeyState> states_;
  uint64_t matches_ = 0;
  uint64_t refused_keys_ = 0;

  // Batches holding a partial with `dirty` set (and maybe batches dropped since: TakeDirty
  // skips those): a flag in the partial costs nothing where a set of key copies cost about
  // 80 bytes per key.
  BatchSet dirty_batches_;
  // The slot the last on-time match went to, and its batch (null: none; reset when the batch
  // is dropped).
  int64_t last_batch_ = INT64_MIN;
  BatchSlots* last_slots_ = nullptr;
  Slot* last_slot_ = nullptr;
  // last_slot_'s key (its view held in the KeyTable while the batch holds the key): compared
  // without reading the table's entry, and a key of another size without reading any bytes.
  std::string_view last_key_;
  // Batches a checkpoint delta wrote, dropped since the last TakeDirty, in the order dropped
  // (mostly ascending; a batch made again by a late line and dropped again may appear twice):
  // appended per drop, sorted once per checkpoint. Without checkpoints (replay) it stays empty.
  std::vector<int64_t> dropped_batches_;
  int64_t compacted_until_ = 0;  // closed batches below this were considered for `whole`
  std::set<std::string> dirty_keys_;
  // Step's keys to evaluate: kept between steps so that a step allocates nothing for them
  // (up to kKeptStepKeys of them; a larger buffer is freed after its step).
  static constexpr size_t kKeptStepKeys = 1024;
  std::vector<std::pair<std::string_view, uint32_t>> step_touched_;
  // TakeDirty's changed slots of one batch, kept between batches.
  std::vector<std::pair<std::string_view, const Slot*>> dirty_slots_;
  // RestorePartial's partials of batches inside a slide, by batch then key (a later segment's
  // replaces an earlier one's), merged into their slides by FinishRestore; then the batches
  // merged, for RewriteMergedBatches.
  std::map<int64_t, std::map<std::string, Partial>> restored_inside_slides_;
  std::vector<int64_t> merged_batches_;
};

}  // namespace ember::engine
