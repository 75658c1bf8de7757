#include "aggregator/checkpointer.h"

#include <chrono>

#include <spdlog/spdlog.h>

#include "common/crash_point.h"

namespace ember::aggregator {

void Checkpointer::AddAlerts(std::vector<engine::Alert>&& alerts) {
  for (auto& a : alerts) pending_alerts_.push_back(std::move(a));
}

Status Checkpointer::Commit(engine::Engine& engine, StreamMarks& marks,
                            SourceWatermarks& watermarks, const std::string& status_json,
                            const SendAck& send_ack) {
  uncommitted_.push_back(engine.TakeDelta());
  const auto started = std::chrono::steady_clock::now();
  const bool raised_alerts = !pending_alerts_.empty();
  const bool has_frames = marks.acks_owed();
  if (has_frames) CrashPoint("before_commit");
  engine::SourcePositions positions = watermarks.Changed();
  positions.forgotten = marks.forgotten();
  const uint64_t first_seq = store_.next_alert_seq();
  Status s = store_.Commit(uncommitted_, marks.moved(), pending_alerts_, status_json,
                           has_frames ? "after_commit_before_sync" : nullptr, &positions,
                           dispatcher_.unmarked());
  duration_.Observe(
      std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count());
  if (!s.ok()) {
    ++failures_;
    spdlog::error("Checkpoint failed ({} batches pending): {}", uncommitted_.size(), s.message());
    return s;
  }
  auto acks = marks.Committed();
  watermarks.MarkCommitted();
  ++checkpoints_;
  uncommitted_.clear();
  dispatcher_.Marked();
  dispatcher_.Committed(first_seq, std::move(pending_alerts_));
  pending_alerts_.clear();  // moved from: empty, and usable again
  if (has_frames) CrashPoint("after_commit_before_ack");
  // The checkpoint holds everything accepted so far: acknowledge it first, so that the agents
  // send on while the alerts (durable in the outbox) go out.
  for (const auto& [routing_id, entries] : acks) send_ack(routing_id, entries);
  if (raised_alerts) CrashPoint("after_commit_before_send");
  dispatcher_.Deliver(store_);
  return Status::Ok();
}

}  // namespace ember::aggregator
