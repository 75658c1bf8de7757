#include "engine/parallel_matcher.h"

#include <algorithm>
#include <atomic>
#include <cassert>
#include <condition_variable>
#include <cstring>
#include <memory>
#include <mutex>
#include <thread>

#include "common/block_arena.h"
#include "common/brief_spin.h"
#include "engine/event_time.h"
#include "engine/partitioning.h"

namespace ember::engine {

namespace {
// Slice::last_of_rule of a rule without a match yet in the slice.
constexpr size_t kNoMatch = SIZE_MAX;
}  // namespace

// The lines one thread matches, and what it found. Keys are copied into `keys`; the other
// views point into the lines.
struct ParallelMatcher::Slice {
  std::vector<rules::LineRef> refs;  // the slice's lines as the rules take them
  // Where they come from: one entry per run of lines from the same place (reserved for the
  // slice's lines, so the refs' pointers stay put).
  std::vector<rules::LineSource> sources;
  std::vector<RecordedMatch> matches;
  std::vector<size_t> line_begin;    // index in matches of each line's first match, plus end
  std::vector<size_t> last_of_rule;  // by rule: the index of its last match, or kNoMatch
  // Copies of the keys (the rules reuse their key buffer), which never move, so a recorded
  // match points at its key at once.
  BlockArena keys{16 << 10};
};

namespace {

// Reads the rule's own time stamp of `r` (which has one), against its line's time.
void ReadRuleTime(const rules::RuleSet& rules, RecordedMatch& r, int64_t line_time_ms) {
  const rules::Rule& rule = rules.rules()[r.rule];
  r.time_ms = ParseRuleTimestamp(r.match.time, rule.time_format, rule.time_zone.get(), line_time_ms)
                  .value_or(RecordedMatch::kUnreadTime);
  r.time_parsed = true;
}

// Records the matches of a slice's lines, which arrive in line order, with their keys'
// partition hashes and their rules' own time stamps, all on the matcher's thread.
class Recorder final : public rules::LineMatchVisitor {
 public:
  // `lines`: the slice's; `seeds`: RuleSeed of each rule.
  // `last_of_rule`: the slice's, sized to the rules and empty (kNoMatch).
  Recorder(std::vector<RecordedMatch>& matches, std::vector<size_t>& line_begin,
           std::vector<size_t>& last_of_rule, BlockArena& keys, const rules::RuleSet& rules,
           std::span<const uint64_t> seeds, std::span<const InputLine> lines)
      : matches_(matches),
        line_begin_(line_begin),
        last_of_rule_(last_of_rule),
        keys_(keys),
        rules_(rules),
        seeds_(seeds),
        lines_(lines) {}
  void OnMatch(size_t line, size_t rule, const rules::RuleMatch& match) override {
    // Lines up to this one start here (the earlier ones had no more matches).
    while (line_begin_.size() <= line) line_begin_.push_back(matches_.size());
    const size_t index = matches_.size();
    // Every field given: default-constructed and then assigned, the match would first be
    // cleared by a `rep stos`.
    RecordedMatch& r = matches_.emplace_back(RecordedMatch{.match = match,
                                                           .key_hash = 0,
                                                           .time_ms = RecordedMatch::kUnreadTime,
                                                           .rule = static_cast<uint32_t>(rule),
                                                           .time_parsed = false,
                                                           .run_distance = 0});
    if (!match.key.empty()) {  // rules without `by` have none: nothing to copy
      char* key = keys_.Allocate(match.key.size());
      std::memcpy(key, match.key.data(), match.key.size());
      r.match.key = std::string_view(key, match.key.size());
    }
    r.key_hash = KeyHash(seeds_[rule], r.match.key);
    if (!r.match.time.empty()) ReadRuleTime(rules_, r, lines_[line].time_ms);
    // A rule's `ratio_of` match follows its `match` on the same line: only matches of
    // earlier lines continue a run.
    const size_t previous = last_of_rule_[rule];
    if (previous != kNoMatch && index - previous <= UINT16_MAX && previous < line_begin_[line] &&
        r.key_hash == matches_[previous].key_hash &&
        AlikeMatches(matches_[previous].match, r.match)) {
      r.run_distance = static_cast<uint16_t>(index - previous);
    }
    last_of_rule_[rule] = index;
  }
  // Closes the slice: every line has a start, and the end follows.
  void Finish(size_t lines) {
    while (line_begin_.size() <= lines) line_begin_.push_back(matches_.size());
  }

 private:
  std::vector<RecordedMatch>& matches_;
  std::vector<size_t>& line_begin_;
  std::vector<size_t>& last_of_rule_;
  BlockArena& keys_;
  const rules::RuleSet& rules_;
  std::span<const uint64_t> seeds_;
  std::span<const InputLine> lines_;
};

// Whether `line` names the very bytes `source` does (the same views, so the same text), its
// journal fields being those of `source_journal` (the same fields, not only equal ones).
bool SameSource(const rules::LineSource& source, const rules::JournalFields* source_journal,
                const InputLine& line) {
  auto same = [](std::string_view a, std::string_view b) {
    return a.data() == b.data() && a.size() == b.size();
  };
  return line.journal == source_journal && same(source.host, line.host) &&
         same(source.file, line.file) && same(source.tag, line.tag);
}

}  // namespace

// Worker threads 1..threads-1, woken for each call by a new generation number. Between two
// calls that come close together they poll for the next before they sleep (common/brief_spin.h),
// and so does the caller waiting for them.
struct ParallelMatcher::Pool {
  std::mutex mu;
  std::condition_variable wake;  // workers: a new generation, or stop
  std::condition_variable done;  // caller: every worker finished the generation
  // Written under `mu`, read without it by the threads polling.
  std::atomic<uint64_t> generation{0};
  std::atomic<unsigned> running{0};
  std::atomic<bool> stop{false};
  const std::function<void(unsigned)>* job = nullptr;  // the generation's work
  SpinPolicy::Clock::time_point posted;                // when the generation began
  std::vector<std::thread> threads;
  // Tasks Run hands out while a call is matching (null: none): the workers take them
  // between slices. Set and cleared under `mu`; read first without it, as a hint.
  std::atomic<SideTasks*> side{nullptr};
  std::condition_variable helpers_left;  // caller: the last helper left `side`
};

// The tasks of a Run during a call, taken by the caller and by workers between slices.
struct ParallelMatcher::SideTasks {
  const std::function<void(size_t)>* task;
  size_t n;
  std::atomic<size_t> next{0};
  unsigned helpers = 0;  // workers taking its tasks (guarded by Pool::mu)
};

ParallelMatcher::ParallelMatcher(unsigned threads, std::chrono::microseconds spin)
    : threads_(threads != 0 ? threads : std::max(1u, std::thread::hardware_concurrency())),
      spin_(threads_ > std::max(1u, std::thread::hardware_concurrency())
                ? std::chrono::microseconds::zero()
                : spin),
      caller_spin_(spin_),
      take_slices_([this](unsigned thread) { TakeSlices(thread); }),
      pool_(std::make_unique<Pool>()) {
  for (unsigned i = 0; i < threads_; ++i) {
    scratch_.push_back(std::make_unique<rules::MatchScratch>());
  }
  for (unsigned i = 1; i < threads_; ++i) {
    pool_->threads.emplace_back([this, i] { WorkerLoop(i); });
  }
}

void ParallelMatcher::WorkerLoop(unsigned thread) {
  Pool& pool = *pool_;
  SpinPolicy policy(spin_);
  uint64_t seen = 0;
  for (;;) {
    auto called = [&] {
      return pool.stop.load(std::memory_order_acquire) ||
             pool.generation.load(std::memory_order_acquire) != seen;
    };
    if (!SpinUntil(called, policy.budget())) {
      std::unique_lock<std::mutex> lock(pool.mu);
      pool.wake.wait(lock, called);
    }
    if (pool.stop.load(std::memory_order_acquire)) return;
    seen = pool.generation.load(std::memory_order_acquire);
    // From when the job was handed out, so that a slow wake-up does not count as a gap.
    policy.JobStarted(pool.posted);
    (*pool.job)(thread);
    policy.JobEnded(SpinPolicy::Clock::now());
    std::lock_guard<std::mutex> lock(pool.mu);
    if (pool.running.fetch_sub(1, std::memory_order_acq_rel) == 1) pool.done.notify_one();
  }
}

ParallelMatcher::~ParallelMatcher() {
  if (started_) Finish();
  {
    std::lock_guard<std::mutex> lock(pool_->mu);
    pool_->stop.store(true, std::memory_order_release);
  }
  pool_->wake.notify_all();
  for (auto& t : pool_->threads) t.join();
}

void ParallelMatcher::RunSlice(size_t index, unsigned thread) {
  Slice& s = *slices_[running_set_][index];
  s.matches.clear();
  s.line_begin.clear();
  s.keys.Clear();
  const size_t begin = std::min(lines_.size(), index * kSliceLines);
  const size_t end = std::min(lines_.size(), begin + kSliceLines);
  if (prep_ != nullptr) prep_->Prepare(begin, prep_lines_.subspan(begin, end - begin));
  s.refs.clear();
  s.sources.clear();
  s.sources.reserve(end - begin);
  const rules::JournalFields* source_journal = nullptr;  // the last source's line's
  for (size_t i = begin; i < end; ++i) {
    const InputLine& line = lines_[i];
    if (s.sources.empty() || !SameSource(s.sources.back(), source_journal, line)) {
      s.sources.push_back(rules::LineSource{line.host, line.file, line.tag, JournalOf(line)});
      source_journal = line.journal;
    }
    s.refs.push_back(rules::LineRef{line.text, &s.sources.back()});
  }
  s.last_of_rule.assign(rules_->rules().size(), kNoMatch);
  Recorder recorder(s.matches, s.line_begin, s.last_of_rule, s.keys, *rules_, seeds_,
                    lines_.subspan(begin, end - begin));
  rules_->MatchLines(s.refs, *scratch_[thread], recorder, in_place_);
  recorder.Finish(s.refs.size());
}

void ParallelMatcher::ReadRuleTimes(const rules::RuleSet& rules, Slice& s, size_t local,
                                    int64_t line_time_ms) {
  for (size_t m = s.line_begin[local]; m < s.line_begin[local + 1]; ++m) {
    if (!s.matches[m].match.time.empty()) ReadRuleTime(rules, s.matches[m], line_time_ms);
  }
}

void ParallelMatcher::RetimeMatches(size_t line) {
  ReadRuleTimes(*finished_rules_, *slices_[finished_set_][line / kSliceLines], line % kSliceLines,
                finished_lines_[line].time_ms);
}

void ParallelMatcher::TakeSlices(unsigned thread) {
  // The caller's tasks first: the caller waits for them, the slices wait for Finish.
  for (;;) {
    if (thread != 0) HelpWithSideTasks();
    const size_t i = next_slice_.fetch_add(1, std::memory_order_relaxed);
    if (i >= slice_count_) break;
    RunSlice(i, thread);
  }
  if (thread != 0) HelpWithSideTasks();
}

void ParallelMatcher::HelpWithSideTasks() {
  if (pool_->side.load(std::memory_order_relaxed) == nullptr) return;
  SideTasks* side = nullptr;
  {
    std::lock_guard<std::mutex> lock(pool_->mu);
    side = pool_->side.load(std::memory_order_relaxed);
    if (side == nullptr) return;
    ++side->helpers;
  }
  for (size_t i = side->next.fetch_add(1, std::memory_order_relaxed); i < side->n;
       i = side->next.fetch_add(1, std::memory_order_relaxed)) {
    (*side->task)(i);
  }
  std::lock_guard<std::mutex> lock(pool_->mu);
  if (--side->helpers == 0) pool_->helpers_left.notify_all();
}

void ParallelMatcher::Wake(const std::function<void(unsigned)>* job) {
  const auto now = SpinPolicy::Clock::now();
  caller_spin_.JobStarted(now);
  {
    std::lock_guard<std::mutex> lock(pool_->mu);
    pool_->job = job;
    pool_->posted = now;
    pool_->running.store(threads_ - 1, std::memory_order_relaxed);
    pool_->generation.fetch_add(1, std::memory_order_release);
  }
  pool_->wake.notify_all();
}

void ParallelMatcher::Join() {
  auto finished = [&] { return pool_->running.load(std::memory_order_acquire) == 0; };
  if (!SpinUntil(finished, caller_spin_.budget())) {
    std::unique_lock<std::mutex> lock(pool_->mu);
    pool_->done.wait(lock, finished);
  }
  pool_->job = nullptr;
  caller_spin_.JobEnded(SpinPolicy::Clock::now());
}

void ParallelMatcher::RunOnAll(const std::function<void(unsigned)>& job) {
  Wake(&job);
  job(0);
  Join();
}

void ParallelMatcher::Run(size_t n, const std::function<void(size_t)>& task) {
  if (threads_ == 1 || n < 2) {
    for (size_t i = 0; i < n; ++i) task(i);
    return;
  }
  if (started_) {
    // The workers are matching the call: they take tasks between slices, this thread takes
    // the rest, then waits for those they took.
    SideTasks side{&task, n};
    {
      std::lock_guard<std::mutex> lock(pool_->mu);
      pool_->side.store(&side, std::memory_order_relaxed);
    }
    for (size_t i = side.next.fetch_add(1, std::memory_order_relaxed); i < n;
         i = side.next.fetch_add(1, std::memory_order_relaxed)) {
      task(i);
    }
    std::unique_lock<std::mutex> lock(pool_->mu);
    pool_->side.store(nullptr, std::memory_order_relaxed);
    pool_->helpers_left.wait(lock, [&] { return side.helpers == 0; });
    return;
  }
  std::atomic<size_t> next{0};
  RunOnAll([&](unsigned) {
    for (size_t i = next.fetch_add(1, std::memory_order_relaxed); i < n;
         i = next.fetch_add(1, std::memory_order_relaxed)) {
      task(i);
    }
  });
}

void ParallelMatcher::Match(const rules::RuleSet& rules, std::span<const InputLine> lines) {
  Start(rules, lines);
  Finish();
}

void ParallelMatcher::Start(const rules::RuleSet& rules, std::span<const InputLine> lines) {
  StartWith(rules, lines, {}, nullptr, false);
}

void ParallelMatcher::Start(const rules::RuleSet& rules, std::span<InputLine> lines, LinePrep* prep,
                            bool in_place) {
  StartWith(rules, lines, lines, prep, in_place);
}

void ParallelMatcher::StartWith(const rules::RuleSet& rules, std::span<const InputLine> lines,
                                std::span<InputLine> prep_lines, LinePrep* prep, bool in_place) {
  assert(!started_);
  rules_ = &rules;
  lines_ = lines;
  prep_lines_ = prep_lines;
  prep_ = prep;
  in_place_ = in_place;
  seeds_.clear();
  for (const rules::Rule& rule : rules.rules()) seeds_.push_back(RuleSeed(rule.name));
  running_set_ = 1 - finished_set_;
  std::vector<std::unique_ptr<Slice>>& slices = slices_[running_set_];
  slice_count_ = (lines.size() + kSliceLines - 1) / kSliceLines;
  while (slices.size() < slice_count_) slices.push_back(std::make_unique<Slice>());
  next_slice_.store(0, std::memory_order_relaxed);
  started_ = true;
  // Few lines: the caller matches them alone, in Finish.
  if (threads_ > 1 && lines.size() >= kMinParallelLines) Wake(&take_slices_);
}

void ParallelMatcher::Finish() {
  assert(started_);
  TakeSlices(0);
  if (threads_ > 1 && lines_.size() >= kMinParallelLines) Join();
  started_ = false;
  finished_set_ = running_set_;
  finished_rules_ = rules_;
  finished_lines_ = lines_;
}

std::span<const RecordedMatch> ParallelMatcher::MatchesOf(size_t line) const {
  const Slice& s = *slices_[finished_set_][line / kSliceLines];
  const size_t local = line % kSliceLines;
  return std::span<const RecordedMatch>(s.matches).subspan(
      s.line_begin[local], s.line_begin[local + 1] - s.line_begin[local]);
}

}  // namespace ember::engine
