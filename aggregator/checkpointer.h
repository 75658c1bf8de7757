// Checkpointer: the checkpoint-and-deliver step. Takes the engine's changes since the last
// checkpoint, the stream marks that moved, the streams' positions in event time and the alert
// events raised, writes them in one durable LMDB transaction, and only then delivers the
// alerts and returns the ACKs owed.
// A failed commit (a full disk) keeps everything for the next attempt: nothing is
// acknowledged or announced before it is durable. Crash points (tests) sit between each step.
// Not thread-safe; owned by the aggregator's pipeline thread.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "aggregator/alert_dispatcher.h"
#include "aggregator/source_watermarks.h"
#include "aggregator/stream_marks.h"
#include "common/metrics.h"
#include "common/status.h"
#include "engine/checkpoint_store.h"
#include "engine/engine.h"

namespace ember::aggregator {

class Checkpointer {
 public:
  // `store` and `dispatcher` must outlive the checkpointer.
  Checkpointer(engine::CheckpointStore& store, AlertDispatcher& dispatcher)
      : store_(store), dispatcher_(dispatcher) {}

  // Alert events raised by the engine, to be committed with the next checkpoint.
  void AddAlerts(std::vector<engine::Alert>&& alerts);

  // Commits; on success calls send_ack(routing_id, entries) for every connection owed an ACK,
  // then delivers the outbox. `status_json` is what `ember status` reads.
  using SendAck = std::function<void(const std::string&, const std::vector<wire::AckEntry>&)>;
  Status Commit(engine::Engine& engine, StreamMarks& marks, SourceWatermarks& watermarks,
                const std::string& status_json, const SendAck& send_ack);

  size_t pending_deltas() const { return uncommitted_.size(); }
  uint64_t checkpoints() const { return checkpoints_; }
  uint64_t failures() const { return failures_; }
  const Histogram& duration() const { return duration_; }

 private:
  engine::CheckpointStore& store_;
  AlertDispatcher& dispatcher_;
  std::vector<engine::CheckpointDelta> uncommitted_;
  std::vector<engine::Alert> pending_alerts_;
  uint64_t checkpoints_ = 0;
  uint64_t failures_ = 0;
  Histogram duration_{DurationBucketsSeconds()};
};

}  // namespace ember::aggregator
