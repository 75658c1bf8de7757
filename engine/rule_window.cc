#include "engine/rule_window.h"

#include <algorithm>
#include <cassert>
#include <cstdio>

#include "common/hash.h"
#include "common/units.h"
#include "engine/interned.h"
#include "rules/rule_set.h"

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

}  // namespace

RuleWindow::RuleWindow(const rules::Rule& rule, int64_t batch_interval_ms)
    : rule_(rule),
      batch_ms_(batch_interval_ms),
      window_batches_(rule.window_ms / batch_interval_ms),
      slide_batches_(rule.every_ms / batch_interval_ms) {
  assert(window_batches_ > 0 && slide_batches_ > 0 && window_batches_ % slide_batches_ == 0);
}

void RuleWindow::Add(int64_t batch, std::string_view key, std::string_view line,
                     const LineOrigin& origin) {
  assert(!started_ || batch >= evaluated_end_);  // the Engine redirects late lines
  auto& batch_map = partials_[batch];
  auto it = batch_map.find(key);  // no allocation for a key already in this batch
  if (it == batch_map.end()) {
    it = batch_map.emplace(std::string(key), Partial{}).first;
    Partial& p = it->second;
    p.sample.assign(line.substr(0, kMaxSampleBytes));
    if (!origin.host.empty()) p.host = Intern(origin.host);
    if (!origin.file.empty()) p.file = Intern(origin.file);
    p.offset_start = origin.offset_start;
    p.offset_end = origin.offset_end;
  }
  ++it->second.count;
  ++matches_;
  dirty_partials_[batch].insert(it->first);
}

std::vector<std::pair<std::string, uint64_t>> RuleWindow::TopKeys(size_t n) const {
  using Entry = const std::pair<const std::string, uint64_t>*;
  std::vector<Entry> entries;
  entries.reserve(window_.size());
  for (const auto& e : window_) entries.push_back(&e);
  auto higher = [](Entry a, Entry b) {
    return a->second != b->second ? a->second > b->second : a->first < b->first;
  };
  n = std::min(n, entries.size());
  std::partial_sort(entries.begin(), entries.begin() + static_cast<std::ptrdiff_t>(n),
                    entries.end(), higher);
  std::vector<std::pair<std::string, uint64_t>> out;
  for (size_t i = 0; i < n; ++i) out.emplace_back(entries[i]->first, entries[i]->second);
  return out;
}

std::vector<uint64_t> RuleWindow::KeyHistory(const std::string& key, int64_t end_batch,
                                             size_t n) const {
  std::vector<uint64_t> out(n, 0);
  for (size_t i = 0; i < n; ++i) {
    auto batch = partials_.find(end_batch - static_cast<int64_t>(n - i));
    if (batch == partials_.end()) continue;
    auto it = batch->second.find(key);
    if (it != batch->second.end()) out[i] = it->second.count;
  }
  return out;
}

void RuleWindow::Advance(int64_t closed_until, std::vector<Alert>* out) {
  const int64_t last_end = FloorToSlide(closed_until);
  if (!started_) {
    if (partials_.empty()) return;  // nothing to evaluate yet; start at the first match
    started_ = true;
    // Matches may sit in open batches beyond closed_until: never start past last_end.
    evaluated_end_ = std::min(FloorToSlide(partials_.begin()->first), last_end);
  }
  while (evaluated_end_ + slide_batches_ <= closed_until) {
    if (window_.empty() && firing_.empty()) {
      // Every stored batch below evaluated_end_ has left the window: jump to the end just
      // before the next batch that holds matches.
      auto next = partials_.lower_bound(evaluated_end_);
      int64_t target = next == partials_.end() ? last_end : FloorToSlide(next->first);
      target = std::min(target, last_end);
      if (target > evaluated_end_) {
        evaluated_end_ = target;
        continue;
      }
    }
    Step(evaluated_end_ + slide_batches_, out);
  }
}

void RuleWindow::Step(int64_t end, std::vector<Alert>* out) {
  // Keys whose count changes at this end; only their condition can change.
  std::set<std::string> touched;
  for (auto it = partials_.lower_bound(end - slide_batches_);
       it != partials_.end() && it->first < end; ++it) {
    for (const auto& [key, p] : it->second) {
      window_[key] += p.count;
      touched.insert(key);
    }
  }
  const int64_t leave_end = end - window_batches_;
  for (auto it = partials_.lower_bound(leave_end - slide_batches_);
       it != partials_.end() && it->first < leave_end; ++it) {
    for (const auto& [key, p] : it->second) {
      auto w = window_.find(key);
      assert(w != window_.end() && w->second >= p.count);
      w->second -= p.count;
      if (w->second == 0) window_.erase(w);
      touched.insert(key);
    }
  }
  evaluated_end_ = end;

  for (const auto& key : touched) {
    auto w = window_.find(key);
    const uint64_t count = w == window_.end() ? 0 : w->second;
    const bool holds = count > 0 && rule_.when.Holds(count);
    auto f = firing_.find(key);
    if (holds && f == firing_.end()) {
      KeyState state{AlertId(rule_.name, key, end), end};
      out->push_back(MakeAlert(AlertState::kFiring, key, count, end, state.alert_id));
      firing_.emplace(key, std::move(state));
      dirty_keys_.insert(key);
    } else if (!holds && f != firing_.end()) {
      out->push_back(MakeAlert(AlertState::kResolved, key, count, end, f->second.alert_id));
      firing_.erase(f);
      dirty_keys_.insert(key);
    }
  }

  // Batches that left the window are no longer needed by any future window.
  while (!partials_.empty() && partials_.begin()->first < leave_end) {
    dropped_batches_.insert(partials_.begin()->first);
    dirty_partials_.erase(partials_.begin()->first);
    partials_.erase(partials_.begin());
  }
}

std::vector<Evidence> RuleWindow::EvidenceFor(const std::string& key, int64_t end) const {
  std::vector<Evidence> out;
  for (auto it = partials_.lower_bound(end - window_batches_);
       it != partials_.end() && it->first < end && out.size() < kMaxEvidence; ++it) {
    auto p = it->second.find(key);
    if (p == it->second.end()) continue;
    const Partial& partial = p->second;
    out.push_back(Evidence{partial.sample, partial.host ? *partial.host : "",
                           partial.file ? *partial.file : "", partial.offset_start,
                           partial.offset_end, it->first * batch_ms_});
  }
  return out;
}

Alert RuleWindow::MakeAlert(AlertState state, const std::string& key, uint64_t count, int64_t end,
                            const std::string& id) const {
  Alert a;
  a.id = id;
  a.rule = rule_.name;
  a.rule_digest = rule_.digest;
  a.state = state;
  a.severity = rule_.severity;
  a.count = count;
  a.window_end_ms = end * batch_ms_;
  a.window_start_ms = (end - window_batches_) * batch_ms_;
  if (!rule_.by.empty()) {
    std::vector<std::string> values = rules::SplitKey(key);
    for (size_t i = 0; i < rule_.by.size() && i < values.size(); ++i) {
      a.fields.emplace_back(rule_.by[i], values[i]);
    }
  }
  if (state == AlertState::kFiring) {
    a.evidence = EvidenceFor(key, end);
    if (!a.evidence.empty()) a.sample = a.evidence[0].line;
  }
  a.message = rule_.message.Render([&](std::string_view field) -> std::string {
    if (field == "count") return std::to_string(count);
    if (field == "window") return FormatDurationMs(rule_.window_ms);
    if (field == "rule") return rule_.name;
    if (field == "severity") return rules::SeverityName(rule_.severity);
    if (field == "window_start") return FormatIsoMs(a.window_start_ms);
    if (field == "window_end") return FormatIsoMs(a.window_end_ms);
    for (const auto& [name, value] : a.fields) {
      if (name == field) return value;
    }
    return "";
  });
  return a;
}

void RuleWindow::RestorePartial(int64_t batch, const std::string& key, Partial partial) {
  partials_[batch][key] = std::move(partial);
}

void RuleWindow::RestoreKeyState(const std::string& key, KeyState state) {
  firing_[key] = std::move(state);
}

void RuleWindow::FinishRestore(int64_t closed_until) {
  window_.clear();
  if (partials_.empty() && firing_.empty()) return;
  started_ = true;
  evaluated_end_ = FloorToSlide(closed_until);
  // Partials below the window of the last evaluated end were dropped before the checkpoint;
  // any still stored there belong to no window and are ignored.
  for (auto it = partials_.lower_bound(evaluated_end_ - window_batches_);
       it != partials_.end() && it->first < evaluated_end_; ++it) {
    for (const auto& [key, p] : it->second) window_[key] += p.count;
  }
}

RuleWindow::Dirty RuleWindow::TakeDirty() {
  Dirty d;
  for (auto& [batch, keys] : dirty_partials_) {
    d.batches.emplace_back(batch, std::vector<std::string>(keys.begin(), keys.end()));
  }
  d.dropped_batches.assign(dropped_batches_.begin(), dropped_batches_.end());
  d.keys.assign(dirty_keys_.begin(), dirty_keys_.end());
  dirty_partials_.clear();
  dropped_batches_.clear();
  dirty_keys_.clear();
  return d;
}

const Partial* RuleWindow::FindPartial(int64_t batch, const std::string& key) const {
  auto b = partials_.find(batch);
  if (b == partials_.end()) return nullptr;
  auto p = b->second.find(key);
  return p == b->second.end() ? nullptr : &p->second;
}

const KeyState* RuleWindow::FindKeyState(const std::string& key) const {
  auto it = firing_.find(key);
  return it == firing_.end() ? nullptr : &it->second;
}

uint64_t RuleWindow::WindowCount(const std::string& key) const {
  auto it = window_.find(key);
  return it == window_.end() ? 0 : it->second;
}

}  // namespace ember::engine
