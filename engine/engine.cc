#include "engine/engine.h"

#include <algorithm>
#include <optional>

#include "engine/event_time.h"
#include "engine/parallel_matcher.h"

namespace ember::engine {

// Routes each rule match of one line into that rule's window.
class Engine::Collector final : public rules::MatchVisitor {
 public:
  Collector(Engine& engine, int64_t batch, const InputLine& line)
      : engine_(engine), batch_(batch), line_(line) {}
  void OnMatch(size_t rule_index, const rules::RuleMatch& match) override {
    int64_t batch = batch_;
    if (!match.time.empty()) {
      // The rule reads its own time stamp: the line may fall in another batch for this rule.
      const rules::Rule& rule = engine_.windows_[rule_index]->rule();
      std::optional<int64_t> t =
          ParseRuleTimestamp(match.time, rule.time_format, rule.time_zone.get(), line_.time_ms);
      if (!t) {
        ++engine_.stats_.unparsed_times;
      } else {
        if (!engine_.Place(*t, &batch)) return;
      }
    }
    engine_.windows_[rule_index]->Add(
        batch, match, line_.text,
        LineOrigin{line_.host, line_.file, line_.offset_start, line_.offset_end, line_.agent});
    if (!match.total) ++engine_.stats_.matches;
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
  for (const auto& rule : rules_->rules()) {
    windows_.push_back(
        std::make_unique<RuleWindow>(rule, options_.batch_interval_ms, lateness_batches_));
  }
}

void Engine::SetHistoryFloor(int64_t floor_ms, int64_t complete_ms) {
  history_floor_ms_ = floor_ms;
  auto batch_of = [&](int64_t ms) {
    return ms == INT64_MAX ? INT64_MAX : std::max<int64_t>(ms, 0) / options_.batch_interval_ms;
  };
  history_floor_batch_ = batch_of(floor_ms);
  const int64_t complete_batch = complete_ms == INT64_MIN ? -1 : batch_of(complete_ms);
  for (auto& w : windows_) w->SetHistoryFloor(history_floor_batch_, complete_batch);
}

bool Engine::TooLate(int64_t time_ms) const {
  const int64_t batch = std::max<int64_t>(time_ms, 0) / options_.batch_interval_ms;
  return has_closed_ && batch < OldestAdmitted();
}

bool Engine::Place(int64_t time_ms, int64_t* batch) {
  *batch = std::max<int64_t>(time_ms, 0) / options_.batch_interval_ms;
  if (has_closed_ && *batch < closed_until_) {
    if (*batch < OldestAdmitted()) {
      ++stats_.too_late;
      return false;
    }
    ++stats_.late_lines;
  }
  max_batch_ = std::max(max_batch_, *batch);
  return true;
}

bool Engine::Admit(const InputLine& line, int64_t* batch) {
  ++stats_.lines;
  return Place(line.time_ms, batch);
}

void Engine::Ingest(const InputLine& line) {
  int64_t batch = 0;
  if (!Admit(line, &batch)) return;
  const uint64_t before = stats_.matches;
  Collector collector(*this, batch, line);
  rules_->Match(line.text, rules::LineSource{line.host, line.file, line.tag, line.journal},
                scratch_, collector);
  if (stats_.matches != before) ++stats_.matched_lines;
}

void Engine::IngestMatched(const InputLine& line, std::span<const RecordedMatch> matches) {
  int64_t batch = 0;
  if (!Admit(line, &batch)) return;
  const uint64_t before = stats_.matches;
  Collector collector(*this, batch, line);
  for (const RecordedMatch& m : matches) collector.OnMatch(m.rule, m.match);
  if (stats_.matches != before) ++stats_.matched_lines;
}

void Engine::AdvanceWatermark(int64_t watermark_ms, std::vector<Alert>* out) {
  ReevaluateLate(out);
  if (watermark_ms < 0) return;
  CloseUntil(watermark_ms / options_.batch_interval_ms, out);
}

void Engine::ReevaluateLate(std::vector<Alert>* out) {
  const size_t before = out->size();
  for (auto& w : windows_) w->ReevaluateLate(out);
  stats_.late_alerts += out->size() - before;
  stats_.alerts_firing += out->size() - before;
}

void Engine::Finish(std::vector<Alert>* out) {
  SetHistoryFloor(history_floor_ms_, INT64_MAX);  // the end: every window is complete
  ReevaluateLate(out);
  if (max_batch_ < 0) return;
  int64_t horizon = 0;
  for (const auto& w : windows_) horizon = std::max(horizon, w->horizon_batches());
  // Past the end of the input nothing is silent: absence rules stop where the data does.
  absence_until_ = max_batch_ + 1;
  CloseUntil(max_batch_ + 1 + horizon, out);
}

void Engine::CloseUntil(int64_t closed_until, std::vector<Alert>* out) {
  if (has_closed_ && closed_until <= closed_until_) return;
  if (has_closed_) stats_.batches_closed += static_cast<uint64_t>(closed_until - closed_until_);
  has_closed_ = true;
  closed_until_ = closed_until;
  const size_t before = out->size();
  for (auto& w : windows_) {
    const bool absence = w->rule().kind == rules::RuleKind::kAbsence;
    w->Advance(absence ? std::min(closed_until_, absence_until_) : closed_until_, out);
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
  CheckpointDelta delta;
  delta.closed_until = closed_until_;
  for (auto& w : windows_) {
    const std::string& rule = w->rule().name;
    RuleWindow::Dirty dirty = w->TakeDirty(closed_until_);
    auto erase = [&](int64_t batch) {
      PartialRecord r;
      r.rule = rule;
      r.batch = batch;
      r.erased = true;
      delta.partials.push_back(std::move(r));
    };
    for (int64_t batch : dirty.dropped_batches) erase(batch);
    for (auto& [batch, whole, keys] : dirty.batches) {
      // Written whole: an erased record first, so that the store replaces what it held.
      if (whole) erase(batch);
      for (auto& key : keys) {
        std::optional<Partial> p = w->FindPartial(batch, key);
        if (!p) continue;
        delta.partials.push_back(PartialRecord{rule, batch, std::move(key), false, std::move(*p)});
      }
    }
    for (auto& key : dirty.keys) {
      const KeyState* s = w->FindKeyState(key);
      KeyStateRecord r{rule, key, s == nullptr, s ? *s : KeyState{}};
      delta.key_states.push_back(std::move(r));
    }
  }
  return delta;
}

// Finds each record's window once per run of one rule.
class Engine::RestoreSink : public PartialSink {
 public:
  explicit RestoreSink(Engine* engine) : engine_(engine) {}
  void Reserve(std::string_view rule, int64_t batch, size_t n) override {
    if (RuleWindow* w = Window(rule)) w->ReserveForRestore(batch, n);
  }
  void Add(std::string_view rule, int64_t batch, std::string_view key,
           const Partial& partial) override {
    ++added_;
    RuleWindow* w = Window(rule);
    if (w == nullptr) return;
    w->RestorePartial(batch, key, partial);
    engine_->max_batch_ = std::max(engine_->max_batch_, batch);
  }
  size_t added() const { return added_; }

 private:
  RuleWindow* Window(std::string_view rule) {
    if (rule != rule_) {
      rule_.assign(rule);
      const int index = engine_->rules_->Find(rule_);
      window_ = index < 0 ? nullptr : engine_->windows_[static_cast<size_t>(index)].get();
    }
    return window_;
  }
  Engine* engine_;
  std::string rule_ = std::string(1, '\0');  // no rule's name
  RuleWindow* window_ = nullptr;
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
    windows_[static_cast<size_t>(index)]->RestoreKeyState(r.key, r.state);
  }
  has_closed_ = true;
  closed_until_ = closed_until;
  for (auto& w : windows_) w->FinishRestore(closed_until);
  TakeDelta();  // what was just loaded is already stored
}

void Engine::CarryCountersFrom(const Engine& previous) {
  stats_ = previous.stats_;
  for (size_t i = 0; i < rules_->rules().size(); ++i) {
    const rules::Rule& rule = rules_->rules()[i];
    const int before = previous.rules_->Find(rule.name);
    if (before < 0) continue;
    const RuleWindow& old = previous.window(static_cast<size_t>(before));
    if (old.rule().digest == rule.digest) windows_[i]->CarryCountsFrom(old);
  }
}

}  // namespace ember::engine
