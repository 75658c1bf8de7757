#include "engine/engine.h"

#include <algorithm>
#include <cassert>
#include <optional>

#include "engine/event_time.h"
#include "engine/parallel_matcher.h"

namespace ember::engine {

// The windows of one key group, one per rule, and what a call left for the engine to merge.
// Owned by one task at a time.
struct Engine::Partition {
  std::vector<std::unique_ptr<RuleWindow>> windows;  // by rule index
  struct Routed {
    const InputLine* line;
    const RecordedMatch* match;
    int64_t batch;
    uint64_t count;             // matches alike (AlikeMatches) in a row, `match` the first
    const RecordedMatch* last;  // the last of them
  };
  // By range of lines routed at once (RouteLines), then by rule: the matches to apply, in
  // line order, range 0's before range 1's. A rule's window is applied apart from the
  // partition's other windows, so that hot rules spread over the threads. Most matches of a
  // rule come in runs of one key in one batch (a rule without `by` has one key): a run is one
  // entry, applied at once.
  std::vector<std::vector<std::vector<Routed>>> queues;
  // By rule: Evaluate's events, late ones and those of the closed batches.
  struct Events {
    std::vector<Alert> late, closed;
  };
  std::vector<Events> events;
  // By rule: whether the window was left Idle by its last evaluation and has been left out of
  // the advances since (its evaluated end lags: Wake catches it up before it takes a match).
  std::vector<uint8_t> parked;
  // By rule: ApplyRouted listed the window already (several ranges may have started it).
  std::vector<uint8_t> listed;
  CheckpointDelta delta;  // TakeDelta: this partition's records
};

namespace {

// How many routed entries ahead applying asks for an entry's line to be fetched.
constexpr size_t kPrefetchAhead = 4;

// How many lines ahead routing asks for a line and its matches to be fetched: a chunk's
// first lines were matched longest ago and are out of the core's cache when they are routed
// (the first half of a chunk routed a sixth slower than the second without it).
constexpr size_t kRoutePrefetchAhead = 32;

// Asks for line `ahead` of a call and its first matches to be fetched, if below `end`.
void PrefetchForRouting(std::span<const InputLine> lines, const ParallelMatcher& matcher,
                        size_t first, size_t ahead, size_t end) {
  if (ahead >= end) return;
  __builtin_prefetch(&lines[ahead]);
  __builtin_prefetch(matcher.MatchesOf(first + ahead).data());
}

LineOrigin OriginOf(const InputLine& line) {
  return LineOrigin{line.host, line.file, line.offset_start, line.offset_end, line.agent};
}

// An input line, read by the window only when it becomes a sample.
class InputMatchedLine final : public MatchedLine {
 public:
  explicit InputMatchedLine(const InputLine& line) : line_(line) {}
  std::string_view text() const override { return line_.text; }
  LineOrigin origin() const override { return OriginOf(line_); }

 private:
  const InputLine& line_;
};

// A rule's key as its alert event shows it (the key fields joined as rules::RuleMatch::key).
std::string KeyOf(const Alert& a) {
  std::string key;
  for (size_t i = 0; i < a.fields.size(); ++i) {
    if (i > 0) key += rules::kKeySeparator;
    key += a.fields[i].second;
  }
  return key;
}

// Sorts (*out)[from..] by window end, then key, keeping the order of equal ones: each key
// is built once, not at every comparison.
void MergeByEndAndKey(std::vector<Alert>* out, size_t from) {
  struct Entry {
    int64_t end;
    std::string key;
    size_t index;
  };
  std::vector<Entry> order;
  for (size_t i = from; i < out->size(); ++i) {
    order.push_back(Entry{(*out)[i].window_end_ms, KeyOf((*out)[i]), i});
  }
  std::stable_sort(order.begin(), order.end(), [](const Entry& a, const Entry& b) {
    return a.end != b.end ? a.end < b.end : a.key < b.key;
  });
  std::vector<Alert> sorted;
  sorted.reserve(order.size());
  for (const Entry& e : order) sorted.push_back(std::move((*out)[e.index]));
  std::move(sorted.begin(), sorted.end(), out->begin() + static_cast<std::ptrdiff_t>(from));
}

}  // namespace

// Applies each rule match of one line at once (Ingest: the rules run here, line by line).
class Engine::Collector final : public rules::MatchVisitor {
 public:
  Collector(Engine& engine, int64_t batch, const InputLine& line)
      : engine_(engine), batch_(batch), line_(line) {}
  void OnMatch(size_t rule_index, const rules::RuleMatch& match) override {
    int64_t batch = 0;
    if (!engine_.PlaceMatch(engine_.placer_, line_, batch_, rule_index, match, nullptr, &batch)) {
      return;
    }
    Partition& part = *engine_.parts_[engine_.Route(rule_index, match.key)];
    engine_.Wake(part, rule_index);
    part.windows[rule_index]->Add(batch, match, InputMatchedLine(line_));
  }

 private:
  Engine& engine_;
  int64_t batch_;
  const InputLine& line_;
};

Engine::Engine(std::shared_ptr<const rules::RuleSet> rules, const EngineOptions& options)
    : rules_(std::move(rules)),
      options_(options),
      lateness_batches_(
          (std::max<int64_t>(options.max_lateness_ms, 0) + options.batch_interval_ms - 1) /
          options.batch_interval_ms) {
  placer_.stats = &stats_;
  const uint32_t partitions = std::clamp<uint32_t>(options.partitions, 1, kMaxPartitions);
  for (const auto& rule : rules_->rules()) {
    seeds_.push_back(RuleSeed(rule.name));
    whole_rule_.push_back(RuleLivesWhole(rule, partitions));
  }
  for (uint32_t p = 0; p < partitions; ++p) {
    auto part = std::make_unique<Partition>();
    for (size_t r = 0; r < rules_->rules().size(); ++r) {
      const rules::Rule& rule = rules_->rules()[r];
      // A spread rule's partitions each hold their share of max_keys.
      const int64_t max_keys =
          whole_rule_[r] ? rule.max_keys : PartitionKeyCap(rule.max_keys, partitions);
      part->windows.push_back(std::make_unique<RuleWindow>(rule, options_.batch_interval_ms,
                                                           lateness_batches_, max_keys));
    }
    part->queues.resize(1);
    part->queues[0].resize(rules_->rules().size());
    part->events.resize(rules_->rules().size());
    part->parked.resize(rules_->rules().size(), 0);
    part->listed.resize(rules_->rules().size(), 0);
    parts_.push_back(std::move(part));
  }
}

uint32_t Engine::Route(size_t rule, std::string_view key) const {
  return RouteHash(rule, parts_.size() == 1 ? 0 : KeyHash(seeds_[rule], key));
}

uint32_t Engine::RouteHash(size_t rule, uint64_t key_hash) const {
  if (parts_.size() == 1) return 0;
  return PartitionOfHash(whole_rule_[rule] ? seeds_[rule] : key_hash,
                         static_cast<uint32_t>(parts_.size()));
}

void Engine::RunTasks(size_t n, const std::function<void(size_t)>& task) {
  if (runner_ == nullptr || n <= 1) {
    for (size_t i = 0; i < n; ++i) task(i);
    return;
  }
  runner_->Run(n, task);
}

void Engine::ForEachPartition(const std::function<void(Partition&)>& f) {
  RunTasks(parts_.size(), [&](size_t i) { f(*parts_[i]); });
}

void Engine::SetHistoryFloor(int64_t floor_ms, int64_t complete_ms) {
  history_floor_ms_ = floor_ms;
  auto batch_of = [&](int64_t ms) {
    return ms == INT64_MAX ? INT64_MAX : std::max<int64_t>(ms, 0) / options_.batch_interval_ms;
  };
  history_floor_batch_ = batch_of(floor_ms);
  const int64_t complete_batch = complete_ms == INT64_MIN ? -1 : batch_of(complete_ms);
  for (auto& part : parts_) {
    for (auto& w : part->windows) w->SetHistoryFloor(history_floor_batch_, complete_batch);
  }
}

bool Engine::TooLate(int64_t time_ms) const {
  const int64_t batch = std::max<int64_t>(time_ms, 0) / options_.batch_interval_ms;
  return has_closed_ && batch < OldestAdmitted();
}

bool Engine::Place(Placer& placer, int64_t time_ms, int64_t* batch) {
  if (time_ms < placer.placed_from_ms || time_ms >= placer.placed_until_ms) {
    const int64_t interval = options_.batch_interval_ms;
    placer.placed_batch = std::max<int64_t>(time_ms, 0) / interval;
    const int64_t from = placer.placed_batch * interval;
    placer.placed_from_ms = time_ms < 0 ? INT64_MIN : from;
    placer.placed_until_ms = from > INT64_MAX - interval ? INT64_MAX : from + interval;
  }
  *batch = placer.placed_batch;
  if (has_closed_ && *batch < closed_until_) {
    if (*batch < OldestAdmitted()) {
      ++placer.stats->too_late;
      if (placer.too_late != nullptr) placer.too_late->push_back(placer.line);
      return false;
    }
    ++placer.stats->late_lines;
  }
  placer.max_batch = std::max(placer.max_batch, *batch);
  return true;
}

bool Engine::Admit(Placer& placer, const InputLine& line, int64_t* batch) {
  ++placer.stats->lines;
  return Place(placer, line.time_ms, batch);
}

bool Engine::PlaceMatch(Placer& placer, const InputLine& line, int64_t line_batch, size_t rule,
                        const rules::RuleMatch& match, const RecordedMatch* recorded,
                        int64_t* batch) {
  *batch = line_batch;
  if (!match.time.empty()) {
    // The rule reads its own time stamp: the line may fall in another batch for this rule.
    std::optional<int64_t> t;
    if (recorded != nullptr && recorded->time_parsed) {
      if (recorded->time_ms != RecordedMatch::kUnreadTime) t = recorded->time_ms;
    } else {
      const rules::Rule& r = rules_->rules()[rule];
      t = ParseRuleTimestamp(match.time, r.time_format, r.time_zone.get(), line.time_ms);
    }
    if (!t) {
      ++placer.stats->unparsed_times;
    } else if (!Place(placer, *t, batch)) {
      return false;
    }
  }
  if (!match.total) ++placer.stats->matches;
  if (match.key_cut) ++placer.stats->keys_cut;
  return true;
}

void Engine::Ingest(const InputLine& line) {
  assert(placer_.touched.empty());
  int64_t batch = 0;
  if (!Admit(placer_, line, &batch)) return;
  const uint64_t before = stats_.matches;
  Collector collector(*this, batch, line);
  rules_->Match(line.text, rules::LineSource{line.host, line.file, line.tag, JournalOf(line)},
                scratch_, collector);
  if (stats_.matches != before) ++stats_.matched_lines;
}

void Engine::IngestMatched(const InputLine& line, std::span<const RecordedMatch> matches) {
  RouteLine(line, matches);
  ApplyRouted();
}

void Engine::RouteLine(const InputLine& line, std::span<const RecordedMatch> matches) {
  RouteInto(0, placer_, line, matches);
}

void Engine::RouteLines(std::span<const InputLine> lines, const ParallelMatcher& matcher,
                        size_t first, std::vector<size_t>* too_late) {
  // More ranges than free threads only cut more runs in two.
  constexpr size_t kMaxRanges = 8;
  const size_t ranges =
      runner_ == nullptr
          ? 1
          : std::clamp<size_t>(lines.size() / std::max<size_t>(options_.min_range_lines, 1), 1,
                               std::min<size_t>(runner_->width(), kMaxRanges));
  if (ranges == 1) {
    placer_.too_late = too_late;
    RouteRange(0, placer_, lines, matcher, first, 0, lines.size());
    placer_.too_late = nullptr;
    return;
  }
  ranges_.resize(std::max(ranges_.size(), ranges));
  for (auto& part : parts_) {
    if (part->queues.size() >= ranges) continue;
    part->queues.resize(ranges);
    for (auto& queues : part->queues) queues.resize(rules_->rules().size());
  }
  for (size_t r = 0; r < ranges; ++r) ranges_[r].StartRange(too_late != nullptr);
  RunTasks(ranges, [&](size_t r) {
    RouteRange(r, ranges_[r], lines, matcher, first, lines.size() * r / ranges,
               lines.size() * (r + 1) / ranges);
  });
  for (size_t r = 0; r < ranges; ++r) {
    MergeRange(ranges_[r]);
    if (too_late != nullptr) {
      too_late->insert(too_late->end(), ranges_[r].drops.begin(), ranges_[r].drops.end());
    }
  }
}

void Engine::RouteRange(size_t range, Placer& placer, std::span<const InputLine> lines,
                        const ParallelMatcher& matcher, size_t first, size_t begin, size_t end) {
  for (size_t i = begin; i < end; ++i) {
    placer.line = i;
    PrefetchForRouting(lines, matcher, first, i + kRoutePrefetchAhead, end);
    RouteInto(range, placer, lines[i], matcher.MatchesOf(first + i));
  }
}

void Engine::Placer::StartRange(bool list_drops) {
  stats = &counted;
  counted = EngineStats{};
  max_batch = -1;
  placed_from_ms = placed_until_ms = placed_batch = 0;
  drops.clear();
  too_late = list_drops ? &drops : nullptr;
  touched.clear();
}

void Engine::MergeRange(const Placer& placer) {
  const EngineStats& c = placer.counted;
  stats_.lines += c.lines;
  stats_.matches += c.matches;
  stats_.matched_lines += c.matched_lines;
  stats_.late_lines += c.late_lines;
  stats_.too_late += c.too_late;
  stats_.unparsed_times += c.unparsed_times;
  stats_.keys_cut += c.keys_cut;
  placer_.max_batch = std::max(placer_.max_batch, placer.max_batch);
  placer_.touched.insert(placer_.touched.end(), placer.touched.begin(), placer.touched.end());
}

void Engine::RouteInto(size_t range, Placer& placer, const InputLine& line,
                       std::span<const RecordedMatch> matches) {
  int64_t line_batch = 0;
  if (!Admit(placer, line, &line_batch)) return;
  const uint64_t before = placer.stats->matches;
  for (const RecordedMatch& m : matches) {
    int64_t batch = 0;
    if (!PlaceMatch(placer, line, line_batch, m.rule, m.match, &m, &batch)) continue;
    Partition& part = *parts_[RouteHash(m.rule, m.key_hash)];
    std::vector<Partition::Routed>& queue = part.queues[range][m.rule];
    // A run continues when the match the matcher found alike is the queue's last.
    if (!queue.empty() && queue.back().batch == batch &&
        ((m.run_distance != 0 && queue.back().last == &m - m.run_distance) ||
         AlikeMatches(queue.back().match->match, m.match))) {
      ++queue.back().count;
      queue.back().last = &m;
    } else {
      if (queue.empty()) placer.touched.emplace_back(&part, m.rule);
      queue.push_back(Partition::Routed{&line, &m, batch, 1, &m});
    }
  }
  if (placer.stats->matches != before) ++placer.stats->matched_lines;
}

void Engine::Wake(Partition& part, size_t rule) {
  if (!part.parked[rule]) return;
  part.parked[rule] = 0;
  RuleWindow& w = *part.windows[rule];
  w.CatchUp(Until(w));
  next_end_ = std::min(next_end_, w.next_end());
}

void Engine::ApplyRouted() {
  if (placer_.touched.empty()) return;
  auto apply = [](Partition& part, size_t rule) {
    RuleWindow& window = *part.windows[rule];
    for (auto& range : part.queues) {
      std::vector<Partition::Routed>& queue = range[rule];
      for (size_t i = 0; i < queue.size(); ++i) {
        // An entry's line is read when it becomes its key's sample in the batch: long after
        // it was matched, so fetched a few entries ahead.
        if (i + kPrefetchAhead < queue.size()) {
          __builtin_prefetch(queue[i + kPrefetchAhead].line->text.data());
        }
        const Partition::Routed& r = queue[i];
        window.Add(r.batch, r.match->match, InputMatchedLine(*r.line), r.count);
      }
      queue.clear();
    }
  };
  // The windows with matches to apply; few matches are not worth waking threads for.
  std::vector<std::pair<Partition*, size_t>>& due = due_;
  std::vector<size_t>& sizes = due_sizes_;
  due.clear();
  sizes.clear();
  size_t queued = 0;
  for (const auto& [part, rule] : placer_.touched) {
    if (part->listed[rule]) continue;
    part->listed[rule] = 1;
    size_t size = 0;
    for (const auto& range : part->queues) size += range[rule].size();
    Wake(*part, rule);
    due.emplace_back(part, rule);
    sizes.push_back(size);
    queued += size;
  }
  placer_.touched.clear();
  for (const auto& [part, rule] : due) part->listed[rule] = 0;
  const bool free = runner_ != nullptr && runner_->width() > 1;
  if (queued < (free ? options_.min_parallel_matches : options_.min_busy_parallel_matches)) {
    for (const auto& [part, rule] : due) apply(*part, rule);
    return;
  }
  // Biggest first: the threads take tasks in turn, so a hot window started last would leave
  // the others idle while it runs. The order of tasks changes no result.
  std::vector<size_t>& order = due_order_;
  order.resize(due.size());
  for (size_t i = 0; i < order.size(); ++i) order[i] = i;
  std::stable_sort(order.begin(), order.end(),
                   [&](size_t a, size_t b) { return sizes[a] > sizes[b]; });
  RunTasks(order.size(), [&](size_t i) { apply(*due[order[i]].first, due[order[i]].second); });
}

void Engine::AdvanceWatermark(int64_t watermark_ms, std::vector<Alert>* out) {
  assert(placer_.touched.empty());
  int64_t closed_until = closed_until_;
  bool close = false;
  if (watermark_ms >= 0) {
    closed_until = watermark_ms / options_.batch_interval_ms;
    close = !has_closed_ || closed_until > closed_until_;
  }
  Evaluate(close, closed_until, out);
}

void Engine::Finish(std::vector<Alert>* out) {
  SetHistoryFloor(history_floor_ms_, INT64_MAX);  // the end: every window is complete
  if (placer_.max_batch < 0) return Evaluate(false, closed_until_, out);
  int64_t horizon = 0;
  for (const auto& w : parts_[0]->windows) horizon = std::max(horizon, w->horizon_batches());
  // Past the end of the input nothing is silent: absence rules stop where the data does.
  absence_until_ = placer_.max_batch + 1;
  const int64_t closed_until = placer_.max_batch + 1 + horizon;
  Evaluate(!has_closed_ || closed_until > closed_until_, closed_until, out);
}

// Every partition evaluates again the windows late lines changed and (`close`) advances its
// windows to `closed_until`; their events are merged in one order that does not depend on
// how the partitions ran: the late events rule by rule, partition by partition; the events of
// the closed batches rule by rule, by window end and key (the order one partition raises them
// in).
void Engine::Evaluate(bool close, int64_t closed_until, std::vector<Alert>* out) {
  if (close) {
    if (has_closed_) stats_.batches_closed += static_cast<uint64_t>(closed_until - closed_until_);
    has_closed_ = true;
    closed_until_ = closed_until;
  }
  const size_t rules = rules_->rules().size();
  // Nothing is due before the earliest window end not evaluated, unless lines came late
  // since the windows were last looked at (Place counts every one) or wait on late lines.
  if (stats_.late_lines == late_lines_seen_ && !late_waiting_ &&
      (!close || closed_until_ < next_end_)) {
    return;
  }
  // The windows with something to do: most advances close no window end of most rules.
  // Each window apart (its partition's others are independent of it), so that the windows
  // of hot rules spread over the threads.
  std::vector<std::pair<Partition*, size_t>>& due = due_;
  due.clear();
  uint64_t work = 0;
  // The windows without work stand as they will after it; the others are added after.
  late_lines_seen_ = stats_.late_lines;
  late_waiting_ = false;
  next_end_ = INT64_MAX;
  for (const auto& part : parts_) {
    for (size_t r = 0; r < rules; ++r) {
      if (part->parked[r]) continue;  // nothing to evaluate, not even read
      const RuleWindow& w = *part->windows[r];
      if (!w.HasWork(close, Until(w))) {
        next_end_ = std::min(next_end_, w.next_end());
        continue;
      }
      due.emplace_back(part.get(), r);
      work += w.WorkOf(close, Until(w));
    }
  }
  // Each task leaves where its window stands after it, read below without going back to it.
  due_after_.resize(due.size());
  auto evaluate = [&](size_t task) {
    auto [part, r] = due[task];
    RuleWindow& w = *part->windows[r];
    Partition::Events& events = part->events[r];
    if (w.has_late() || w.late_waiting()) w.ReevaluateLate(&events.late);
    if (close) w.Advance(Until(w), &events.closed);
    due_after_[task] = {w.next_end(), w.late_waiting(), w.Idle()};
  };
  if (work < options_.min_parallel_evaluation) {
    for (size_t i = 0; i < due.size(); ++i) evaluate(i);
  } else {
    RunTasks(due.size(), evaluate);
  }
  for (size_t i = 0; i < due.size(); ++i) {
    const auto [next_end, late_waiting, idle] = due_after_[i];
    late_waiting_ = late_waiting_ || late_waiting;
    if (idle) {
      due[i].first->parked[due[i].second] = 1;
    } else {
      next_end_ = std::min(next_end_, next_end);
    }
  }
  if (due.empty()) return;

  const size_t late_start = out->size();
  for (size_t r = 0; r < rules; ++r) {
    for (auto& part : parts_) {
      for (Alert& a : part->events[r].late) out->push_back(std::move(a));
      part->events[r].late.clear();
    }
  }
  stats_.late_alerts += out->size() - late_start;
  stats_.alerts_firing += out->size() - late_start;

  const size_t before = out->size();
  for (size_t r = 0; r < rules; ++r) {
    const size_t rule_start = out->size();
    size_t sources = 0;
    for (auto& part : parts_) {
      std::vector<Alert>& closed = part->events[r].closed;
      if (closed.empty()) continue;
      ++sources;
      for (Alert& a : closed) out->push_back(std::move(a));
      closed.clear();
    }
    if (sources > 1) MergeByEndAndKey(out, rule_start);
  }
  if (!options_.emit_pending) {
    out->erase(std::remove_if(out->begin() + static_cast<std::ptrdiff_t>(before), out->end(),
                              [](const Alert& a) { return a.state == AlertState::kPending; }),
               out->end());
  }
  for (size_t i = before; i < out->size(); ++i) {
    if ((*out)[i].state == AlertState::kFiring && !(*out)[i].repeat) {
      ++stats_.alerts_firing;
    } else if ((*out)[i].state == AlertState::kResolved) {
      ++stats_.alerts_resolved;
    }
  }
}

CheckpointDelta Engine::TakeDelta() {
  assert(placer_.touched.empty());
  const int64_t closed_until = closed_until_;
  ForEachPartition([&](Partition& part) {
    CheckpointDelta& delta = part.delta;
    delta.partials.clear();
    delta.key_states.clear();
    for (auto& wp : part.windows) {
      RuleWindow& w = *wp;
      const std::string& rule = w.rule().name;
      RuleWindow::Dirty dirty = w.TakeDirty(closed_until);
      auto erase = [&](int64_t batch) {
        PartialRecord r;
        r.rule = rule;
        r.batch = batch;
        r.erased = true;
        delta.partials.push_back(std::move(r));
      };
      for (int64_t batch : dirty.dropped_batches) erase(batch);
      for (auto& [batch, whole, partials] : dirty.batches) {
        // Written whole: an erased record first, so that the store replaces what it held.
        if (whole) erase(batch);
        for (auto& [key, partial] : partials) {
          delta.partials.push_back(
              PartialRecord{rule, batch, std::move(key), false, std::move(partial)});
        }
      }
      for (auto& key : dirty.keys) {
        const KeyState* s = w.FindKeyState(key);
        delta.key_states.push_back(KeyStateRecord{rule, key, s == nullptr, s ? *s : KeyState{}});
      }
    }
  });
  CheckpointDelta delta;
  delta.closed_until = closed_until;
  size_t partials = 0, key_states = 0;
  for (const auto& part : parts_) {
    partials += part->delta.partials.size();
    key_states += part->delta.key_states.size();
  }
  delta.partials.reserve(partials);
  delta.key_states.reserve(key_states);
  for (uint32_t p = 0; p < parts_.size(); ++p) {
    CheckpointDelta& d = parts_[p]->delta;
    for (auto& r : d.partials) {
      r.partition = p;
      delta.partials.push_back(std::move(r));
    }
    for (auto& r : d.key_states) delta.key_states.push_back(std::move(r));
    d.partials.clear();
    d.key_states.clear();
  }
  return delta;
}

// Finds each record's rule once per run of one rule; each key goes to its partition.
class Engine::RestoreSink : public PartialSink {
 public:
  explicit RestoreSink(Engine* engine) : engine_(engine) {}
  void Reserve(std::string_view rule, int64_t batch, uint32_t partition, size_t n) override {
    const int index = Index(rule);
    if (index < 0 || partition >= engine_->parts_.size()) return;
    engine_->parts_[partition]->windows[static_cast<size_t>(index)]->ReserveForRestore(batch, n);
  }
  void Add(std::string_view rule, int64_t batch, std::string_view key,
           const Partial& partial) override {
    ++added_;
    const int index = Index(rule);
    if (index < 0) return;
    const auto r = static_cast<size_t>(index);
    engine_->parts_[engine_->Route(r, key)]->windows[r]->RestorePartial(batch, key, partial);
    engine_->placer_.max_batch = std::max(engine_->placer_.max_batch, batch);
  }
  size_t added() const { return added_; }

 private:
  int Index(std::string_view rule) {
    if (rule != rule_) {
      rule_.assign(rule);
      index_ = engine_->rules_->Find(rule_);
    }
    return index_;
  }
  Engine* engine_;
  std::string rule_ = std::string(1, '\0');  // no rule's name
  int index_ = -1;
  size_t added_ = 0;
};

Engine::~Engine() = default;

PartialSink& Engine::restore_sink() {
  if (!restore_sink_) restore_sink_ = std::make_unique<RestoreSink>(this);
  return *restore_sink_;
}

size_t Engine::restored_partials() const { return restore_sink_ ? restore_sink_->added() : 0; }

void Engine::FinishRestore(int64_t closed_until, const std::vector<KeyStateRecord>& key_states) {
  for (const auto& r : key_states) {
    int index = rules_->Find(r.rule);
    if (index < 0 || r.erased) continue;
    const auto rule = static_cast<size_t>(index);
    parts_[Route(rule, r.key)]->windows[rule]->RestoreKeyState(r.key, r.state);
  }
  has_closed_ = true;
  closed_until_ = closed_until;
  for (auto& part : parts_) {
    for (auto& w : part->windows) w->FinishRestore(closed_until);
  }
  TakeDelta();  // what was just loaded is already stored
  for (auto& part : parts_) {
    for (auto& w : part->windows) w->RewriteMergedBatches();
  }
}

void Engine::CarryCountersFrom(const Engine& previous) {
  stats_ = previous.stats_;
  if (previous.parts_.size() != parts_.size()) return;
  for (size_t i = 0; i < rules_->rules().size(); ++i) {
    const rules::Rule& rule = rules_->rules()[i];
    const int before = previous.rules_->Find(rule.name);
    if (before < 0) continue;
    for (size_t p = 0; p < parts_.size(); ++p) {
      const RuleWindow& old = *previous.parts_[p]->windows[static_cast<size_t>(before)];
      if (old.rule().digest == rule.digest) parts_[p]->windows[i]->CarryCountsFrom(old);
    }
  }
}

uint64_t Engine::SumOverPartitions(size_t rule, uint64_t (*of)(const RuleWindow& window)) const {
  uint64_t n = 0;
  for (const auto& part : parts_) n += of(*part->windows[rule]);
  return n;
}

uint64_t Engine::rule_matches(size_t rule) const {
  return SumOverPartitions(rule, [](const RuleWindow& w) { return w.matches(); });
}

uint64_t Engine::rule_refused_keys(size_t rule) const {
  return SumOverPartitions(rule, [](const RuleWindow& w) { return w.refused_keys(); });
}

size_t Engine::rule_window_keys(size_t rule) const {
  return SumOverPartitions(rule, [](const RuleWindow& w) -> uint64_t { return w.window_keys(); });
}

size_t Engine::rule_firing(size_t rule) const {
  return SumOverPartitions(rule, [](const RuleWindow& w) -> uint64_t { return w.firing_count(); });
}

std::vector<std::pair<std::string, uint64_t>> Engine::TopKeys(size_t rule, size_t n) const {
  std::vector<std::pair<std::string, uint64_t>> all;
  for (const auto& part : parts_) {
    for (auto& entry : part->windows[rule]->TopKeys(n)) all.push_back(std::move(entry));
  }
  auto higher = [](const auto& a, const auto& b) {
    return a.second != b.second ? a.second > b.second : a.first < b.first;
  };
  if (all.size() > n) {
    std::partial_sort(all.begin(), all.begin() + static_cast<std::ptrdiff_t>(n), all.end(), higher);
    all.resize(n);
  } else {
    std::sort(all.begin(), all.end(), higher);
  }
  return all;
}

void Engine::ForEachKeyState(
    size_t rule, const std::function<void(const std::string&, const KeyState&)>& f) const {
  for (const auto& part : parts_) {
    for (const auto& [key, state] : part->windows[rule]->states()) f(key, state);
  }
}

const RuleWindow& Engine::window(size_t rule, std::string_view key) const {
  return *parts_[Route(rule, key)]->windows[rule];
}

}  // namespace ember::engine
