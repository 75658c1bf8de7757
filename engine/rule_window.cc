#include "engine/rule_window.h"

#include <algorithm>
#include <cassert>
#include <cstdio>
#include <iterator>

#include "common/hash.h"
#include "common/units.h"
#include "engine/alert_lifecycle.h"
#include "engine/interned.h"
#include "rules/rule_kind.h"

namespace ember::engine {
namespace {

// Hash of (rule, key, episode start), each piece followed by a 0xff separator.
std::string AlertId(const std::string& rule, const std::string& key, int64_t end_batch) {
  constexpr std::string_view kSep("\xff", 1);
  uint64_t h = kFnv1aOffset;
  for (std::string_view piece : {std::string_view(rule), std::string_view(key)}) {
    h = Fnv1a64(kSep, Fnv1a64(piece, h));
  }
  h = Fnv1a64(kSep, Fnv1a64(std::to_string(end_batch), h));
  return HashHex(h);
}

std::string FormatValue(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.6g", v);
  return buf;
}

}  // namespace

RuleWindow::RuleWindow(const rules::Rule& rule, int64_t batch_interval_ms, int64_t lateness_batches,
                       int64_t max_keys)
    : slide_batches_(rule.every_ms / batch_interval_ms),
      absence_(rule.kind == rules::RuleKind::kAbsence),
      rule_(rule),
      batch_ms_(batch_interval_ms),
      window_batches_(rule.window_ms / batch_interval_ms),
      for_batches_(rule.for_ms / batch_interval_ms),
      keep_batches_(rule.keep_firing_for_ms / batch_interval_ms),
      repeat_batches_(rule.repeat_ms / batch_interval_ms),
      flap_within_batches_(rule.flap_within_ms / batch_interval_ms),
      forget_batches_(rule.forget_after_ms / batch_interval_ms),
      lifecycle_{for_batches_, keep_batches_, repeat_batches_, rule.flap_starts,
                 flap_within_batches_},
      rescan_(rule.NeedsRescan()),
      lateness_batches_(std::max<int64_t>(lateness_batches, 0)),
      max_keys_(max_keys > 0 ? max_keys : rule.max_keys),
      keys_(rule.value_group > 0) {
  assert(window_batches_ > 0 && slide_batches_ > 0 && window_batches_ % slide_batches_ == 0);
}

void RuleWindow::Add(int64_t batch, std::string_view key, std::string_view line,
                     const LineOrigin& origin) {
  rules::RuleMatch m;
  m.key = key;
  Add(batch, m, line, origin);
}

namespace {

// A line and its origin at hand.
class GivenLine final : public MatchedLine {
 public:
  GivenLine(std::string_view text, const LineOrigin& origin) : text_(text), origin_(origin) {}
  std::string_view text() const override { return text_; }
  LineOrigin origin() const override { return origin_; }

 private:
  std::string_view text_;
  const LineOrigin& origin_;
};

}  // namespace

void RuleWindow::Add(int64_t batch, const rules::RuleMatch& match, std::string_view line,
                     const LineOrigin& origin) {
  Add(batch, match, GivenLine(line, origin));
}

void RuleWindow::Add(int64_t batch, const rules::RuleMatch& match, const MatchedLine& line,
                     uint64_t count) {
  assert(count >= 1 && (count == 1 || !match.has_value));
  // Stored per slide: every window holds whole slides.
  const int64_t slide = FloorToSlide(batch);
  const auto sample_batch = static_cast<uint32_t>(batch - slide);
  if (started_ && batch < evaluated_end_) {
    // Late: held apart so ReevaluateLate can compare its windows before and after it.
    assert(batch >= std::min(evaluated_end_ - window_batches_, history_floor_ - window_batches_) -
                        lateness_batches_);
    Partial& p = late_[slide][std::string(match.key)];
    if (match.total) {
      p.total += count;
      return;
    }
    if (p.count == 0) {
      const LineOrigin origin = line.origin();
      p.sample.assign(line.text().substr(0, kMaxSampleBytes));
      p.host = origin.host.empty() ? nullptr : InternName(origin.host);
      p.file = origin.file.empty() ? nullptr : InternName(origin.file);
      p.agent = origin.agent.empty() ? nullptr : InternName(origin.agent);
      p.offset_start = origin.offset_start;
      p.offset_end = origin.offset_end;
      p.sample_batch = sample_batch;
    }
    p.count += count;
    if (match.has_value) {
      p.min = p.numeric == 0 ? match.value : std::min(p.min, match.value);
      p.max = p.numeric == 0 ? match.value : std::max(p.max, match.value);
      p.sum += match.value;
      ++p.numeric;
    }
    if (rule_.distinct_group > 0 && p.distinct.size() < kMaxDistinct) {
      const uint64_t h = Fnv1a64(match.distinct);
      auto pos = std::lower_bound(p.distinct.begin(), p.distinct.end(), h);
      if (pos == p.distinct.end() || *pos != h) p.distinct.insert(pos, h);
    }
    return;
  }
  // Matches of a key often come in runs (a rule without `by` has one key): the slot of the
  // last match is tried first, without a lookup.
  Slot* slot = nullptr;
  BatchSlots* b = nullptr;
  if (slide == last_batch_ && last_slot_ != nullptr && last_key_ == match.key) {
    slot = last_slot_;
    b = last_slots_;
  } else {
    b = slide == last_batch_ && last_slots_ != nullptr ? last_slots_ : &partials_[slide];
    slot = SlotFor(*b, match.key, /*capped=*/true);
    if (slot == nullptr) {
      refused_keys_ += count;  // the rule holds max_keys keys: a new one is not counted
      return;
    }
    last_batch_ = slide;
    last_slots_ = b;
    last_slot_ = slot;
    last_key_ = keys_.key(slot->key);
  }
  Slot& p = *slot;
  if (!p.dirty) {
    p.dirty = true;
    dirty_batches_.Insert(slide);
  }
  if (match.total) {
    p.mutable_extras().total += count;
    return;
  }
  if (p.count == 0) {
    const LineOrigin origin = line.origin();
    b->SetSample(p, line.text());
    p.origin = InternOrigin(origin.host.empty() ? nullptr : InternName(origin.host),
                            origin.file.empty() ? nullptr : InternName(origin.file),
                            origin.agent.empty() ? nullptr : InternName(origin.agent));
    p.offset_start = origin.offset_start;
    p.offset_end = origin.offset_end;
    p.sample_batch = sample_batch;
  }
  p.count += count;
  matches_ += count;
  if (match.has_value) {
    SlotExtras& x = p.mutable_extras();
    x.min = x.numeric == 0 ? match.value : std::min(x.min, match.value);
    x.max = x.numeric == 0 ? match.value : std::max(x.max, match.value);
    x.sum += match.value;
    ++x.numeric;
  }
  if (rule_.distinct_group > 0) {
    SlotExtras& x = p.mutable_extras();
    if (x.distinct.size() < kMaxDistinct) {
      const uint64_t h = Fnv1a64(match.distinct);
      auto pos = std::lower_bound(x.distinct.begin(), x.distinct.end(), h);
      if (pos == x.distinct.end() || *pos != h) x.distinct.insert(pos, h);
    }
  }
}

Slot* RuleWindow::SlotFor(BatchSlots& batch, std::string_view key, bool capped) {
  uint32_t id = keys_.Find(key);  // no allocation for a key already stored
  if (id != KeyTable::kNone) {
    if (Slot* s = batch.Find(id)) return s;
    keys_.AddRef(id);
  } else {
    if (capped && keys_.size() >= static_cast<size_t>(max_keys_)) return nullptr;
    id = keys_.AcquireNew(key);
  }
  return &batch.Insert(id);
}

namespace {
WindowSum SumOf(const Slot& slot) {
  WindowSum d{slot.count, 0, 0, 0};
  if (slot.extras) {
    d.total = slot.extras->total;
    d.numeric = slot.extras->numeric;
    d.sum = slot.extras->sum;
  }
  return d;
}
}  // namespace

void RuleWindow::AddToWindow(const Slot& slot) {
  if (keys_.AddSum(slot.key, SumOf(slot))) ++window_keys_;
}

void RuleWindow::SubtractFromWindow(const Slot& slot) {
  if (keys_.SubtractSum(slot.key, SumOf(slot))) --window_keys_;
}

void RuleWindow::DropFirstBatch() {
  const auto first = partials_.begin();
  if (first->first == last_batch_) {
    last_slots_ = nullptr;
    last_slot_ = nullptr;
  }
  for (const Slot& slot : first->second.slots()) keys_.Release(slot.key);
  partials_.erase_first();
}

std::vector<std::pair<std::string, uint64_t>> RuleWindow::TopKeys(size_t n) const {
  using Entry = std::pair<std::string_view, uint64_t>;
  std::vector<Entry> entries;
  entries.reserve(window_keys_);
  keys_.ForEach([&](uint32_t, std::string_view key, uint64_t count) {
    if (count > 0) entries.emplace_back(key, count);
  });
  auto higher = [](const Entry& a, const Entry& b) {
    return a.second != b.second ? a.second > b.second : a.first < b.first;
  };
  n = std::min(n, entries.size());
  std::partial_sort(entries.begin(), entries.begin() + static_cast<std::ptrdiff_t>(n),
                    entries.end(), higher);
  std::vector<std::pair<std::string, uint64_t>> out;
  for (size_t i = 0; i < n; ++i) out.emplace_back(entries[i].first, entries[i].second);
  return out;
}

std::vector<uint64_t> RuleWindow::KeyHistory(const std::string& key, int64_t last_batch,
                                             size_t n) const {
  std::vector<uint64_t> out(n, 0);
  const uint32_t id = keys_.Find(key);
  if (id == KeyTable::kNone || last_batch < 0) return out;
  const int64_t last = FloorToSlide(last_batch);
  for (size_t i = 0; i < n; ++i) {
    auto slide = partials_.find(last - static_cast<int64_t>(n - 1 - i) * slide_batches_);
    if (slide == partials_.end()) continue;
    if (const Slot* s = slide->second.Find(id)) out[i] = s->count;
  }
  return out;
}

void RuleWindow::Advance(int64_t closed_until, std::vector<Alert>* out) {
  const int64_t last_end = FloorToSlide(closed_until);
  if (!started_) {
    started_ = true;
    if (partials_.empty()) {
      // Nothing yet: the windows start here, so a first match for a batch already closed is
      // late like any other (re-evaluated once complete, marked late), not a new start.
      evaluated_end_ = last_end;
      return;
    }
    // Matches may sit in open batches beyond closed_until: never start past last_end.
    evaluated_end_ = std::min(FloorToSlide(partials_.begin()->first), last_end);
  }
  while (evaluated_end_ + slide_batches_ <= closed_until) {
    if (window_keys_ == 0 && states_.empty()) {
      // Every stored batch below evaluated_end_ has left the window: jump to the end just
      // before the next batch that holds matches.
      auto next = partials_.lower_bound(evaluated_end_);
      int64_t target = next == partials_.end() ? last_end : FloorToSlide(next->first);
      target = std::min(target, last_end);
      if (target > evaluated_end_) {
        evaluated_end_ = target;
        DropBatchesBefore(evaluated_end_);
        continue;
      }
    }
    Step(evaluated_end_ + slide_batches_, out);
  }
}

rules::WindowValues RuleWindow::Values(const std::string& key) const {
  return ValuesOf(keys_.Find(key));
}

rules::WindowValues RuleWindow::ValuesOf(uint32_t id) const {
  rules::WindowValues v;
  v.window_seconds = static_cast<double>(rule_.window_ms) / 1000.0;
  if (id == KeyTable::kNone || keys_.sum(id).empty()) return v;
  const WindowSum w = keys_.sum(id);
  v.count = w.count;
  v.total = w.total;
  v.numeric = w.numeric;
  v.sum = w.sum;
  if (rescan_ && started_) {
    std::vector<uint64_t> distinct;
    bool first = true;
    for (auto it = partials_.lower_bound(evaluated_end_ - window_batches_);
         it != partials_.end() && it->first < evaluated_end_; ++it) {
      const Slot* p = it->second.Find(id);
      if (p == nullptr || !p->extras) continue;
      const SlotExtras& x = *p->extras;
      if (x.numeric > 0) {
        v.min = first ? x.min : std::min(v.min, x.min);
        v.max = first ? x.max : std::max(v.max, x.max);
        first = false;
      }
      distinct.insert(distinct.end(), x.distinct.begin(), x.distinct.end());
    }
    std::sort(distinct.begin(), distinct.end());
    v.distinct =
        static_cast<uint64_t>(std::unique(distinct.begin(), distinct.end()) - distinct.begin());
  }
  return v;
}

void RuleWindow::Step(int64_t end, std::vector<Alert>* out) {
  // Keys whose aggregates change at this end: views into keys_ (freed only at the end of this
  // step, when the batches leaving the window are dropped), states_ and top_keys, never copied.
  // Each with its KeyTable id (kNone for a key only in states_), so that evaluating it needs
  // no second lookup.
  std::vector<std::pair<std::string_view, uint32_t>>& touched = step_touched_;  // empty
  for (auto it = partials_.lower_bound(end - slide_batches_);
       it != partials_.end() && it->first < end; ++it) {
    it->second.Seal();  // closed: no more matches arrive for this batch
    for (const Slot& p : it->second.slots()) {
      AddToWindow(p);
      const std::string_view key = keys_.key(p.key);
      touched.emplace_back(key, p.key);
      if (p.count > 0 && rules::TraitsOf(rule_.kind).remembers_keys) {
        auto [s, inserted] = states_.try_emplace(std::string(key));
        if (inserted) {
          s->second.phase = KeyPhase::kIdle;
          s->second.first_seen = it->first;
        }
        s->second.last_seen = std::max(s->second.last_seen, LastBatchOf(it->first));
        dirty_keys_.insert(s->first);
      }
    }
  }
  const int64_t leave_end = end - window_batches_;
  for (auto it = partials_.lower_bound(leave_end - slide_batches_);
       it != partials_.end() && it->first < leave_end; ++it) {
    for (const Slot& p : it->second.slots()) {
      SubtractFromWindow(p);
      touched.emplace_back(keys_.key(p.key), p.key);
    }
  }
  evaluated_end_ = end;

  // Keys whose condition may change: those touched, and every key with state (time passes
  // for `for`, `keep_firing_for`, `repeat`, absence and top-K membership).
  for (const auto& [key, state] : states_) touched.emplace_back(key, KeyTable::kNone);
  std::vector<std::pair<std::string, uint64_t>> top_keys;
  std::set<std::string_view> top;
  if (rule_.kind == rules::RuleKind::kTopK) {
    top_keys = TopKeys(static_cast<size_t>(rule_.top_k));
    for (const auto& [key, count] : top_keys) {
      touched.emplace_back(key, KeyTable::kNone);
      top.insert(key);
    }
  }
  // In key order, each once (the order of the events is part of the output), keeping the
  // entry that carries an id (kNone sorts last).
  std::sort(touched.begin(), touched.end());
  touched.erase(std::unique(touched.begin(), touched.end(),
                            [](const auto& a, const auto& b) { return a.first == b.first; }),
                touched.end());

  for (const auto& [key_view, touched_id] : touched) {
    const std::string key(key_view);  // Evaluate may erase the state the view points into
    const rules::WindowValues v =
        ValuesOf(touched_id != KeyTable::kNone ? touched_id : keys_.Find(key));
    bool fire = false, resolve = false;
    switch (rule_.kind) {
      case rules::RuleKind::kThreshold:
      case rules::RuleKind::kTopK: {
        const bool in_top = rule_.kind == rules::RuleKind::kThreshold || top.count(key);
        fire = v.count > 0 && in_top && rule_.when.Holds(v);
        resolve = rule_.resolve_when.all.empty() ? !fire : !in_top || rule_.resolve_when.Holds(v);
        break;
      }
      case rules::RuleKind::kAbsence: {
        auto s = states_.find(key);
        // Silent for a whole window, and not because the key was only just learnt.
        fire = v.count == 0 && s != states_.end() && s->second.last_seen < end - window_batches_;
        resolve = !fire;
        break;
      }
      case rules::RuleKind::kNewKey: {
        auto s = states_.find(key);
        fire = s != states_.end() && s->second.first_seen >= end - window_batches_;
        resolve = !fire;
        break;
      }
    }
    Evaluate(key, fire, resolve, end, out);
  }

  DropBatchesBefore(end);
  // A step of many keys leaves a buffer as large: given back, so that a million-key window
  // does not keep one per partition between steps.
  if (touched.capacity() > kKeptStepKeys) {
    std::vector<std::pair<std::string_view, uint32_t>>().swap(step_touched_);
  } else {
    touched.clear();
  }
}

void RuleWindow::DropBatchesBefore(int64_t end) {
  // Batches that left the window, and the history kept for late lines, are no longer needed.
  // A late line at the floor changes the windows that end after it: those keep their batches.
  // A slide is kept while any of its batches is.
  const int64_t keep_from = FloorToSlide(
      std::min(end - window_batches_, history_floor_ - window_batches_) - lateness_batches_);
  while (!partials_.empty() && partials_.begin()->first < keep_from) {
    // A batch no delta wrote has nothing stored to erase (a backfill opens and drops most of
    // its batches between two checkpoints).
    if (partials_.begin()->second.deltas_written > 0) {
      dropped_batches_.push_back(partials_.begin()->first);
    }
    DropFirstBatch();
  }
}

bool RuleWindow::Forgettable(const KeyState& state, int64_t end) const {
  if (state.phase != KeyPhase::kIdle || !state.late_pending.empty()) return false;
  if (rules::TraitsOf(rule_.kind).remembers_keys) {
    return state.last_seen < end - forget_batches_;
  }
  return state.starts.empty();
}

void RuleWindow::Evaluate(const std::string& key, bool fire, bool resolve, int64_t end,
                          std::vector<Alert>* out) {
  auto it = states_.find(key);
  if (it == states_.end()) {
    if (!fire) return;
    it = states_.emplace(key, KeyState{}).first;
    it->second.phase = KeyPhase::kIdle;
  }
  KeyState& s = it->second;
  const KeyState before = s;
  const bool forgotten = s.phase == KeyPhase::kFiring && rule_.kind == rules::RuleKind::kAbsence &&
                         s.last_seen < end - forget_batches_;
  switch (StepLifecycle(lifecycle_, s, fire, resolve, forgotten, end)) {
    case LifecycleEvent::kNone:
      break;
    case LifecycleEvent::kPending:
      out->push_back(MakeAlert(AlertState::kPending, key, end, ""));
      break;
    case LifecycleEvent::kStarted:
      s.alert_id = AlertId(rule_.name, key, end);
      out->push_back(MakeAlert(AlertState::kFiring, key, end, s.alert_id));
      break;
    case LifecycleEvent::kRepeated: {
      Alert again = MakeAlert(AlertState::kFiring, key, end, s.alert_id);
      again.repeat = true;
      out->push_back(std::move(again));
      break;
    }
    case LifecycleEvent::kResolved:
      out->push_back(MakeAlert(AlertState::kResolved, key, end, s.alert_id));
      break;
  }
  if (Forgettable(s, end)) {
    states_.erase(it);
    dirty_keys_.insert(key);
  } else if (!(s == before)) {
    dirty_keys_.insert(key);
  }
}

std::vector<Evidence> RuleWindow::EvidenceFor(const std::string& key, int64_t end) const {
  std::vector<Evidence> out;
  const uint32_t id = keys_.Find(key);
  if (id == KeyTable::kNone) return out;
  for (auto it = partials_.lower_bound(end - window_batches_);
       it != partials_.end() && it->first < end && out.size() < kMaxEvidence; ++it) {
    const Slot* p = it->second.Find(id);
    if (p == nullptr || p->count == 0) continue;
    auto name = [&](const std::string* Origin::*field) {
      return p->origin && p->origin->*field ? *(p->origin->*field) : std::string();
    };
    out.push_back(Evidence{std::string(it->second.Sample(*p)), name(&Origin::host),
                           name(&Origin::file), p->offset_start, p->offset_end,
                           (it->first + p->sample_batch) * batch_ms_, name(&Origin::agent)});
  }
  return out;
}

Alert RuleWindow::MakeAlert(AlertState state, const std::string& key, int64_t end,
                            const std::string& id) const {
  return MakeAlert(state, key, end, id, Values(key));
}

Alert RuleWindow::MakeAlert(AlertState state, const std::string& key, int64_t end,
                            const std::string& id, const rules::WindowValues& v) const {
  Alert a;
  a.id = id;
  a.rule = rule_.name;
  a.rule_digest = rule_.digest;
  a.state = state;
  a.severity = rule_.severity;
  a.count = v.count;
  a.window_end_ms = end * batch_ms_;
  a.window_start_ms = (end - window_batches_) * batch_ms_;
  a.labels = rule_.labels;
  if (!rule_.by.empty()) {
    std::vector<std::string> values = rules::SplitKey(key);
    for (size_t i = 0; i < rule_.by.size() && i < values.size(); ++i) {
      a.fields.emplace_back(rule_.by[i], values[i]);
    }
  }
  if (state != AlertState::kResolved) {
    a.evidence = EvidenceFor(key, end);
    if (!a.evidence.empty()) a.sample = a.evidence[0].line;
  }
  a.message = rule_.message.Render([&](std::string_view field) -> std::string {
    if (field == "count") return std::to_string(v.count);
    if (field == "window") return FormatDurationMs(rule_.window_ms);
    if (field == "rule") return rule_.name;
    if (field == "severity") return rules::SeverityName(rule_.severity);
    if (field == "window_start") return FormatIsoMs(a.window_start_ms);
    if (field == "window_end") return FormatIsoMs(a.window_end_ms);
    static const std::pair<const char*, rules::Aggregate> kAggregates[] = {
        {"rate", rules::Aggregate::kRate},   {"sum", rules::Aggregate::kSum},
        {"min", rules::Aggregate::kMin},     {"max", rules::Aggregate::kMax},
        {"avg", rules::Aggregate::kAvg},     {"distinct", rules::Aggregate::kDistinct},
        {"ratio", rules::Aggregate::kRatio}, {"total", rules::Aggregate::kTotal}};
    for (const auto& [name, aggregate] : kAggregates) {
      if (field == name) return FormatValue(v.Get(aggregate));
    }
    for (const auto& [name, value] : a.fields) {
      if (name == field) return value;
    }
    if (auto l = rule_.labels.find(std::string(field)); l != rule_.labels.end()) return l->second;
    return "";
  });
  return a;
}

rules::WindowValues RuleWindow::ValuesAt(const std::string& key, int64_t end,
                                         bool with_late) const {
  rules::WindowValues v;
  v.window_seconds = static_cast<double>(rule_.window_ms) / 1000.0;
  std::vector<uint64_t> distinct;
  bool first = true;
  auto add = [&](uint64_t count, uint64_t total, uint64_t numeric, double sum, double min,
                 double max, const std::vector<uint64_t>& hashes) {
    v.count += count;
    v.total += total;
    v.numeric += numeric;
    v.sum += sum;
    if (numeric > 0) {
      v.min = first ? min : std::min(v.min, min);
      v.max = first ? max : std::max(v.max, max);
      first = false;
    }
    distinct.insert(distinct.end(), hashes.begin(), hashes.end());
  };
  static const std::vector<uint64_t> kNoHashes;
  const uint32_t id = keys_.Find(key);
  if (id != KeyTable::kNone) {
    for (auto it = partials_.lower_bound(end - window_batches_);
         it != partials_.end() && it->first < end; ++it) {
      const Slot* p = it->second.Find(id);
      if (p == nullptr) continue;
      if (p->extras) {
        const SlotExtras& x = *p->extras;
        add(p->count, x.total, x.numeric, x.sum, x.min, x.max, x.distinct);
      } else {
        add(p->count, 0, 0, 0, 0, 0, kNoHashes);
      }
    }
  }
  if (with_late) {
    for (auto it = late_.lower_bound(end - window_batches_); it != late_.end() && it->first < end;
         ++it) {
      auto k = it->second.find(key);
      if (k == it->second.end()) continue;
      const Partial& p = k->second;
      add(p.count, p.total, p.numeric, p.sum, p.min, p.max, p.distinct);
    }
  }
  std::sort(distinct.begin(), distinct.end());
  v.distinct =
      static_cast<uint64_t>(std::unique(distinct.begin(), distinct.end()) - distinct.begin());
  return v;
}

void RuleWindow::MergeIntoSlot(BatchSlots& slide, Slot& p, const Partial& from,
                               uint32_t sample_batch) {
  if (p.count == 0 && from.count > 0) {
    slide.SetSample(p, from.sample);
    p.origin = InternOrigin(from.host, from.file, from.agent);
    p.offset_start = from.offset_start;
    p.offset_end = from.offset_end;
    p.sample_batch = sample_batch;
  }
  p.count += from.count;
  if (from.total > 0 || from.numeric > 0 || !from.distinct.empty()) {
    SlotExtras& x = p.mutable_extras();
    x.total += from.total;
    if (from.numeric > 0) {
      x.min = x.numeric == 0 ? from.min : std::min(x.min, from.min);
      x.max = x.numeric == 0 ? from.max : std::max(x.max, from.max);
      x.numeric += from.numeric;
      x.sum += from.sum;
    }
    for (uint64_t h : from.distinct) {
      if (x.distinct.size() >= kMaxDistinct) break;
      auto pos = std::lower_bound(x.distinct.begin(), x.distinct.end(), h);
      if (pos == x.distinct.end() || *pos != h) x.distinct.insert(pos, h);
    }
  }
}

void RuleWindow::MergeLate(int64_t batch, const std::string& key, const Partial& late) {
  BatchSlots& b = partials_[batch];
  Slot* slot = SlotFor(b, key, /*capped=*/true);
  if (slot == nullptr) {
    refused_keys_ += late.count;
    return;
  }
  Slot& p = *slot;
  if (!p.dirty) {
    p.dirty = true;
    dirty_batches_.Insert(batch);
  }
  MergeIntoSlot(b, p, late, late.sample_batch);
  matches_ += late.count;
  // The window last evaluated holds this batch: its running sums take the late lines too,
  // so they leave it again exactly when the batch does.
  if (batch >= evaluated_end_ - window_batches_) {
    if (keys_.AddSum(p.key, WindowSum{late.count, late.total, late.numeric, late.sum})) {
      ++window_keys_;
    }
  }
  if (late.count > 0 && rules::TraitsOf(rule_.kind).remembers_keys) {
    auto [s, inserted] = states_.try_emplace(key);
    if (inserted) {
      s->second.phase = KeyPhase::kIdle;
      s->second.first_seen = batch;
    }
    s->second.first_seen = std::min(s->second.first_seen, batch);
    s->second.last_seen = std::max(s->second.last_seen, LastBatchOf(batch));
    dirty_keys_.insert(key);
  }
}

void RuleWindow::MergeAllLate() {
  for (const auto& [batch, keys] : late_) {
    for (const auto& [key, partial] : keys) MergeLate(batch, key, partial);
  }
  late_.clear();
}

void RuleWindow::RaiseLate(const std::string& key, int64_t end, int64_t* last_raised,
                           std::vector<Alert>* out) {
  if (repeat_batches_ > slide_batches_ && end - *last_raised < repeat_batches_) return;
  *last_raised = end;
  Alert a = MakeAlert(AlertState::kFiring, key, end, AlertId(rule_.name, key, end),
                      ValuesAt(key, end, false));
  a.late = true;
  out->push_back(std::move(a));
}

void RuleWindow::ReevaluateLateNewKeys(std::vector<Alert>* out) {
  // Where each key of the late lines was first seen before them (INT64_MAX: never).
  std::map<std::string, int64_t> first_before;
  for (const auto& [batch, keys] : late_) {
    for (const auto& [key, partial] : keys) {
      if (partial.count == 0) continue;
      auto s = states_.find(key);
      first_before.try_emplace(key, s == states_.end() ? INT64_MAX : s->second.first_seen);
    }
  }
  MergeAllLate();
  for (const auto& [key, before] : first_before) {
    auto s = states_.find(key);
    if (s == states_.end() || s->second.first_seen >= before) continue;
    const int64_t first = s->second.first_seen;
    int64_t last_raised = INT64_MIN / 2;
    const int64_t last = std::min(evaluated_end_, first + window_batches_);
    for (int64_t end = FloorToSlide(first) + slide_batches_; end <= last; end += slide_batches_) {
      const bool was_new = IsNewAt(before, end);
      if (end > complete_end_ && DeferLate(key, end, was_new)) continue;
      if (IsNewAt(first, end) && !was_new) RaiseLate(key, end, &last_raised, out);
    }
  }
  RaiseCompletedLate(out);
}

std::set<std::string> RuleWindow::TopKFiringAt(int64_t end) const {
  std::unordered_map<uint32_t, uint64_t> counts;
  for (auto it = partials_.lower_bound(end - window_batches_);
       it != partials_.end() && it->first < end; ++it) {
    for (const Slot& p : it->second.slots()) counts[p.key] += p.count;
  }
  using Entry = std::pair<std::string_view, uint64_t>;
  std::vector<Entry> entries;
  for (const auto& [id, count] : counts) {
    if (count > 0) entries.emplace_back(keys_.key(id), count);
  }
  auto higher = [](const Entry& a, const Entry& b) {
    return a.second != b.second ? a.second > b.second : a.first < b.first;
  };
  const size_t n = std::min(static_cast<size_t>(rule_.top_k), entries.size());
  std::partial_sort(entries.begin(), entries.begin() + static_cast<std::ptrdiff_t>(n),
                    entries.end(), higher);
  std::set<std::string> out;
  for (size_t i = 0; i < n; ++i) {
    std::string key(entries[i].first);
    if (ThresholdHolds(ValuesAt(key, end, false))) out.insert(std::move(key));
  }
  return out;
}

void RuleWindow::ReevaluateLateTopK(std::vector<Alert>* out) {
  // The ends whose windows the late lines change, and the ends `for` before them.
  std::set<int64_t> ends;
  const int64_t for_ends = (for_batches_ + slide_batches_ - 1) / slide_batches_;
  for (const auto& [batch, keys] : late_) {
    const int64_t last =
        std::min(evaluated_end_, LastBatchOf(batch) + window_batches_ + for_batches_);
    for (int64_t end = batch + slide_batches_; end <= last; end += slide_batches_) {
      ends.insert(end);
    }
  }
  if (ends.empty()) return MergeAllLate();
  // The keys of the late lines at each end they change: only they can enter a top K.
  std::map<int64_t, std::set<std::string>> late_keys;
  for (const auto& [batch, keys] : late_) {
    const int64_t last =
        std::min(evaluated_end_, LastBatchOf(batch) + window_batches_ + for_batches_);
    for (int64_t end = batch + slide_batches_; end <= last; end += slide_batches_) {
      for (const auto& [key, partial] : keys) {
        if (partial.count > 0) late_keys[end].insert(key);
      }
    }
  }
  std::map<int64_t, std::set<std::string>> before, after;
  const int64_t from = *ends.begin() - for_ends * slide_batches_;
  for (int64_t end = from; end <= *ends.rbegin(); end += slide_batches_) {
    before[end] = TopKFiringAt(end);
  }
  MergeAllLate();
  for (int64_t end = from; end <= *ends.rbegin(); end += slide_batches_) {
    after[end] = TopKFiringAt(end);
  }
  auto fires = [&](std::map<int64_t, std::set<std::string>>& at, const std::string& key,
                   int64_t end) {
    for (int64_t k = 0; k <= for_ends; ++k) {
      auto it = at.find(end - k * slide_batches_);
      if (it == at.end() || !it->second.count(key)) return false;
    }
    return true;
  };
  std::map<std::string, int64_t> last_raised;
  for (int64_t end : ends) {
    for (const std::string& key : late_keys[end]) {
      const bool fired_before = fires(before, key, end);
      if (end > complete_end_ && DeferLate(key, end, fired_before)) continue;
      if (fired_before || !fires(after, key, end)) continue;
      RaiseLate(key, end, &last_raised.try_emplace(key, INT64_MIN / 2).first->second, out);
    }
  }
  RaiseCompletedLate(out);
}

bool RuleWindow::DeferLate(const std::string& key, int64_t end, bool fired_before) {
  auto [it, inserted] = states_.try_emplace(key);
  KeyState& s = it->second;
  if (inserted) s.phase = KeyPhase::kIdle;
  // Kept sorted by end: a lookup here, and RaiseCompletedLate takes a prefix.
  auto at = std::lower_bound(s.late_pending.begin(), s.late_pending.end(), end,
                             [](const auto& p, int64_t e) { return p.first < e; });
  if (at != s.late_pending.end() && at->first == end) return true;  // the earliest verdict stands
  if (s.late_pending.size() >= kMaxLatePending) return false;
  s.late_pending.emplace(at, end, fired_before);
  late_pending_keys_.insert(key);
  dirty_keys_.insert(key);
  return true;
}

void RuleWindow::RaiseCompletedLate(std::vector<Alert>* out) {
  const int64_t for_ends = (for_batches_ + slide_batches_ - 1) / slide_batches_;
  std::map<int64_t, std::set<std::string>> top_at;  // top-K rules: the firing top K by end
  for (auto key_it = late_pending_keys_.begin(); key_it != late_pending_keys_.end();) {
    const std::string& key = *key_it;
    auto state = states_.find(key);
    if (state == states_.end()) {
      key_it = late_pending_keys_.erase(key_it);
      continue;
    }
    auto& pending = state->second.late_pending;
    int64_t last_raised = INT64_MIN / 2;
    size_t done = 0;
    for (; done < pending.size() && pending[done].first <= complete_end_; ++done) {
      const auto [end, fired_before] = pending[done];
      bool fires = true;
      if (rule_.kind == rules::RuleKind::kNewKey) {
        fires = IsNewAt(state->second.first_seen, end);
      } else {
        for (int64_t k = 0; k <= for_ends && fires; ++k) {
          const int64_t at = end - k * slide_batches_;
          if (rule_.kind == rules::RuleKind::kTopK) {
            auto [top, added] = top_at.try_emplace(at);
            if (added) top->second = TopKFiringAt(at);
            fires = top->second.count(key) > 0;
          } else {
            fires = ThresholdHolds(ValuesAt(key, at, false));
          }
        }
      }
      if (!fired_before && fires) RaiseLate(key, end, &last_raised, out);
    }
    if (done == 0) {
      ++key_it;
      continue;
    }
    pending.erase(pending.begin(), pending.begin() + static_cast<std::ptrdiff_t>(done));
    dirty_keys_.insert(key);
    key_it = pending.empty() ? late_pending_keys_.erase(key_it) : std::next(key_it);
  }
}

void RuleWindow::ReevaluateLate(std::vector<Alert>* out) {
  if (late_.empty()) {
    if (!late_pending_keys_.empty()) RaiseCompletedLate(out);
    return;
  }
  if (rule_.kind == rules::RuleKind::kNewKey) return ReevaluateLateNewKeys(out);
  if (rule_.kind == rules::RuleKind::kTopK) return ReevaluateLateTopK(out);
  // A key fires at window end X when its condition holds at X and at the ends `for` before
  // it; a late line in batch b changes the ends (b, b + window] and so the firings of the
  // ends (b, b + window + for]. Those already evaluated are compared before and after (b the
  // last batch of the late lines' slide: any of its batches may hold them).
  const bool threshold = rule_.kind == rules::RuleKind::kThreshold;
  const int64_t for_ends = (for_batches_ + slide_batches_ - 1) / slide_batches_;
  std::map<std::string, std::set<int64_t>> candidates;
  for (const auto& [batch, keys] : late_) {
    for (const auto& [key, partial] : keys) {
      if (!threshold || partial.count == 0) continue;
      const int64_t last =
          std::min(evaluated_end_, LastBatchOf(batch) + window_batches_ + for_batches_);
      for (int64_t end = batch + slide_batches_; end <= last; end += slide_batches_) {
        candidates[key].insert(end);
      }
    }
  }
  using Holds = std::map<std::pair<std::string, int64_t>, bool>;
  auto holds = [&](Holds& cache, const std::string& key, int64_t end) {
    auto [it, inserted] = cache.try_emplace({key, end}, false);
    if (inserted) it->second = ThresholdHolds(ValuesAt(key, end, false));
    return it->second;
  };
  auto fires = [&](Holds& cache, const std::string& key, int64_t end) {
    for (int64_t k = 0; k <= for_ends; ++k) {
      if (!holds(cache, key, end - k * slide_batches_)) return false;
    }
    return true;
  };
  Holds before_cache, after_cache;
  std::set<std::pair<std::string, int64_t>> fired_before;
  for (const auto& [key, ends] : candidates) {
    for (int64_t end : ends) {
      if (fires(before_cache, key, end)) fired_before.insert({key, end});
    }
  }
  MergeAllLate();
  for (const auto& [key, ends] : candidates) {
    // Where it fires now and did not before, the window fires late: once per window end
    // (with `repeat` longer than the slide, once per `repeat`).
    int64_t last_raised = INT64_MIN / 2;
    for (int64_t end : ends) {
      const bool before = fired_before.count({key, end}) > 0;
      // A window a stream still reading its backlog may add to waits until it is complete,
      // so it is judged on all its lines, as replay judges it.
      if (end > complete_end_ && DeferLate(key, end, before)) continue;
      if (before || !fires(after_cache, key, end)) continue;
      RaiseLate(key, end, &last_raised, out);
    }
    // The live lifecycle goes on from the last evaluated end: a key not firing whose
    // condition now holds there is pending since the first end of that run (up to `for`
    // back), so `for` counts the windows the late lines completed.
    if (for_ends == 0 || !holds(after_cache, key, evaluated_end_)) continue;
    auto state = states_.find(key);
    if (state != states_.end() && state->second.phase == KeyPhase::kFiring) continue;
    int64_t since = evaluated_end_;
    while (evaluated_end_ - since < for_ends * slide_batches_ &&
           holds(after_cache, key, since - slide_batches_)) {
      since -= slide_batches_;
    }
    if (state == states_.end()) {
      state = states_.emplace(key, KeyState{}).first;
      state->second.phase = KeyPhase::kIdle;  // a KeyState starts as firing
    }
    KeyState& s = state->second;
    if (s.phase == KeyPhase::kIdle || s.active_since > since) {
      s.phase = KeyPhase::kPending;
      s.active_since = since;
      dirty_keys_.insert(key);
    }
  }
  RaiseCompletedLate(out);
}

void RuleWindow::ReserveForRestore(int64_t batch, size_t n) {
  keys_.Reserve(n);
  if (batch == FloorToSlide(batch)) partials_[batch].Reserve(n);
}

void RuleWindow::RestorePartial(int64_t batch, std::string_view key, const Partial& partial) {
  if (batch != FloorToSlide(batch)) {
    restored_inside_slides_[batch][std::string(key)] = partial;
    return;
  }
  BatchSlots& b = partials_[batch];
  b.deltas_written = 2;  // how many segments hold it is not known: rewrite it when it closes
  // Stored state is restored whole, whatever max_keys says now.
  Slot& p = *SlotFor(b, key, /*capped=*/false);
  p.count = partial.count;
  b.SetSample(p, partial.sample);
  p.origin = InternOrigin(partial.host, partial.file, partial.agent);
  p.offset_start = partial.offset_start;
  p.offset_end = partial.offset_end;
  p.sample_batch = partial.sample_batch;
  p.extras.reset();
  if (partial.total > 0 || partial.numeric > 0 || !partial.distinct.empty()) {
    SlotExtras& x = p.mutable_extras();
    x.total = partial.total;
    x.numeric = partial.numeric;
    x.sum = partial.sum;
    x.min = partial.min;
    x.max = partial.max;
    x.distinct = partial.distinct;
  }
}

void RuleWindow::RestoreKeyState(const std::string& key, KeyState state) {
  if (!state.late_pending.empty()) late_pending_keys_.insert(key);
  states_[key] = std::move(state);
}

void RuleWindow::FinishRestore(int64_t closed_until) {
  // Partials stored per batch: each batch is merged into its slide (the slide's own first
  // batch, restored as it is, comes first: it holds the earliest sample).
  for (const auto& [batch, keys] : restored_inside_slides_) {
    const int64_t slide = FloorToSlide(batch);
    BatchSlots& b = partials_[slide];
    b.deltas_written = 2;
    for (const auto& [key, partial] : keys) {
      MergeIntoSlot(b, *SlotFor(b, key, /*capped=*/false), partial,
                    static_cast<uint32_t>(batch - slide) + partial.sample_batch);
    }
    merged_batches_.push_back(batch);
  }
  restored_inside_slides_.clear();
  // Slides closed before the restart stay as stored.
  compacted_until_ = FloorToSlide(closed_until);
  keys_.ClearSums();
  window_keys_ = 0;
  // Evaluated up to the checkpoint, with or without state: a first line for a batch closed
  // before it is late, as it would have been without the restart.
  started_ = true;
  evaluated_end_ = FloorToSlide(closed_until);
  // Partials below the window of the last evaluated end were dropped before the checkpoint;
  // any still stored there belong to no window and are ignored.
  for (auto it = partials_.lower_bound(evaluated_end_ - window_batches_);
       it != partials_.end() && it->first < evaluated_end_; ++it) {
    it->second.Seal();
    for (const Slot& p : it->second.slots()) AddToWindow(p);
  }
}

void RuleWindow::RewriteMergedBatches() {
  for (int64_t batch : merged_batches_) {
    dropped_batches_.push_back(batch);
    auto slide = partials_.find(FloorToSlide(batch));
    if (slide == partials_.end()) continue;
    for (Slot& slot : slide->second.slots()) slot.dirty = true;
    dirty_batches_.Insert(slide->first);
  }
  merged_batches_.clear();
}

RuleWindow::Dirty RuleWindow::TakeDirty(int64_t closed_until) {
  assert(late_.empty());  // merged by ReevaluateLate first
  Dirty d;
  // Slides that closed since the last call and were (or are now) written by two deltas or
  // more are written whole.
  std::set<int64_t> whole;
  const int64_t closed_slides = FloorToSlide(closed_until);
  for (auto it = partials_.lower_bound(compacted_until_);
       it != partials_.end() && it->first < closed_slides; ++it) {
    const uint32_t written =
        it->second.deltas_written + (dirty_batches_.Contains(it->first) ? 1 : 0);
    if (written >= 2) whole.insert(it->first);
  }
  compacted_until_ = std::max(compacted_until_, closed_slides);
  std::vector<int64_t> batches;
  const std::vector<int64_t> dirty = dirty_batches_.Take();
  std::set_union(dirty.begin(), dirty.end(), whole.begin(), whole.end(),
                 std::back_inserter(batches));
  for (int64_t batch : batches) {
    auto b = partials_.find(batch);
    if (b == partials_.end()) continue;
    DirtyBatch out;
    out.batch = batch;
    out.whole = whole.count(batch) > 0;
    // Copied from the slots at once, in key order.
    std::vector<std::pair<std::string_view, const Slot*>>& changed = dirty_slots_;
    changed.clear();
    for (Slot& slot : b->second.slots()) {
      if (!slot.dirty && !out.whole) continue;
      slot.dirty = false;
      changed.emplace_back(keys_.key(slot.key), &slot);
    }
    std::sort(changed.begin(), changed.end());
    out.partials.reserve(changed.size());
    for (const auto& [key, slot] : changed) {
      out.partials.emplace_back(std::string(key), PartialOf(b->second, *slot));
    }
    b->second.deltas_written = out.whole ? 1 : b->second.deltas_written + 1;
    d.batches.push_back(std::move(out));
  }
  std::sort(dropped_batches_.begin(), dropped_batches_.end());
  dropped_batches_.erase(std::unique(dropped_batches_.begin(), dropped_batches_.end()),
                         dropped_batches_.end());
  d.dropped_batches = std::move(dropped_batches_);
  d.keys.assign(dirty_keys_.begin(), dirty_keys_.end());
  dropped_batches_.clear();
  dirty_keys_.clear();
  return d;
}

Partial RuleWindow::PartialOf(const BatchSlots& batch, const Slot& s) {
  Partial p;
  p.count = s.count;
  p.sample_batch = s.sample_batch;
  if (s.extras) {
    p.total = s.extras->total;
    p.numeric = s.extras->numeric;
    p.sum = s.extras->sum;
    p.min = s.extras->min;
    p.max = s.extras->max;
    p.distinct = s.extras->distinct;
  }
  p.sample.assign(batch.Sample(s));
  if (s.origin) {
    p.host = s.origin->host;
    p.file = s.origin->file;
    p.agent = s.origin->agent;
  }
  p.offset_start = s.offset_start;
  p.offset_end = s.offset_end;
  return p;
}

const KeyState* RuleWindow::FindKeyState(const std::string& key) const {
  auto it = states_.find(key);
  return it == states_.end() ? nullptr : &it->second;
}

Alert RuleWindow::Describe(const std::string& key) const {
  const KeyState* s = FindKeyState(key);
  const bool firing = s != nullptr && s->phase == KeyPhase::kFiring;
  return MakeAlert(firing ? AlertState::kFiring : AlertState::kPending, key, evaluated_end_,
                   firing ? s->alert_id : "");
}

size_t RuleWindow::firing_count() const {
  size_t n = 0;
  for (const auto& [key, state] : states_) n += state.phase == KeyPhase::kFiring;
  return n;
}

uint64_t RuleWindow::WindowCount(const std::string& key) const {
  const uint32_t id = keys_.Find(key);
  return id == KeyTable::kNone ? 0 : keys_.sum(id).count;
}

}  // namespace ember::engine
