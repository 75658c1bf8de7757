#include "aggregator/alert_dispatcher.h"

#include <spdlog/spdlog.h>

#include "common/crash_point.h"

namespace ember::aggregator {

void AlertDispatcher::Deliver(engine::CheckpointStore& store) {
  for (size_t i = 0; i < sinks_.size(); ++i) {
    if (!sinks_[i]->asynchronous()) continue;
    for (uint64_t seq : sinks_[i]->TakeFinished()) {
      auto it = deliveries_.find(seq);
      if (it != deliveries_.end()) it->second[i] = Progress::kDone;
    }
  }
  if (!outbox_loaded_) {
    Result<std::vector<std::pair<uint64_t, engine::Alert>>> outbox = store.Outbox();
    if (!outbox.ok()) {
      spdlog::error("Cannot read the alert outbox: {}", outbox.status().message());
      return;
    }
    for (auto& [seq, alert] : *outbox) outbox_.emplace(seq, std::move(alert));
    outbox_loaded_ = true;
  }
  if (outbox_.empty()) return;
  std::vector<std::pair<uint64_t, size_t>> sent_now;  // to synchronous sinks, before Flush
  for (const auto& [seq, alert] : outbox_) {
    auto& progress = deliveries_.try_emplace(seq, sinks_.size(), Progress::kToSend).first->second;
    for (size_t i = 0; i < sinks_.size(); ++i) {
      if (progress[i] != Progress::kToSend) continue;
      if (Status e = sinks_[i]->Send(seq, alert); !e.ok()) {
        spdlog::error("{}", e.message());
        continue;
      }
      if (sinks_[i]->asynchronous()) {
        progress[i] = Progress::kQueued;
      } else {
        progress[i] = Progress::kDone;
        sent_now.emplace_back(seq, i);
      }
    }
  }
  for (size_t i = 0; i < sinks_.size(); ++i) {
    if (sinks_[i]->asynchronous()) continue;
    if (Status e = sinks_[i]->Flush(); !e.ok()) {
      spdlog::error("{}", e.message());
      for (const auto& [seq, sink] : sent_now) {
        if (sink == i) deliveries_[seq][i] = Progress::kToSend;  // not known to be out
      }
    }
  }
  CrashPoint("after_send_before_mark");
  std::vector<uint64_t> done;
  for (const auto& [seq, progress] : deliveries_) {
    if (std::all_of(progress.begin(), progress.end(),
                    [](Progress p) { return p == Progress::kDone; })) {
      done.push_back(seq);
    }
  }
  for (uint64_t seq : done) {
    deliveries_.erase(seq);
    outbox_.erase(seq);
    unmarked_.push_back(seq);
  }
  delivered_ += done.size();
}

void AlertDispatcher::Committed(uint64_t first_seq, std::vector<engine::Alert>&& alerts) {
  if (!outbox_loaded_) return;  // the first Deliver reads them with the rest of the outbox
  uint64_t seq = first_seq;
  for (engine::Alert& alert : alerts) outbox_.emplace(seq++, std::move(alert));
}

Status AlertDispatcher::MarkDelivered(engine::CheckpointStore& store) {
  if (unmarked_.empty()) return Status::Ok();
  Status s = store.MarkDelivered(unmarked_);
  if (s.ok()) unmarked_.clear();
  return s;
}

void AlertDispatcher::RestoreFiring(const std::set<std::string>& firing_ids,
                                    engine::CheckpointStore& store) {
  if (firing_ids.empty()) return;
  Result<std::vector<engine::Alert>> history = store.History(SIZE_MAX);
  if (!history.ok()) {
    spdlog::error("Cannot read the alert history: {}", history.status().message());
    return;
  }
  std::map<std::string, engine::Alert> latest;
  for (const auto& a : *history) {
    if (a.state == engine::AlertState::kFiring && firing_ids.count(a.id)) latest[a.id] = a;
  }
  std::vector<engine::Alert> firing;
  for (auto& [id, a] : latest) firing.push_back(std::move(a));
  for (auto& sink : sinks_) sink->RestoreFiring(firing);
}

void AlertDispatcher::Reopen() {
  for (auto& sink : sinks_) {
    if (Status s = sink->Reopen(); !s.ok()) spdlog::error("{}", s.message());
  }
}

}  // namespace ember::aggregator
