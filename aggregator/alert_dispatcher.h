// AlertDispatcher: hands the committed alert events in the checkpoint store's outbox to every
// sink, and lists an event as delivered once every sink has finished with it; the next
// checkpoint moves the listed events to the history in its own transaction (no commit of
// their own). A synchronous sink that fails is offered the event again next batch; an
// asynchronous one reports when it is done. Events still in the outbox at a crash are offered
// again at the next start, with the same id and content. The outbox is read from the store
// once, at the first Deliver, then kept here as commits add to it. Owned and called by the
// pipeline thread only.
#pragma once

#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "aggregator/sinks/alert_sink.h"
#include "engine/checkpoint_store.h"

namespace ember::aggregator {

class AlertDispatcher {
 public:
  explicit AlertDispatcher(std::vector<std::unique_ptr<AlertSink>> sinks)
      : sinks_(std::move(sinks)) {}

  // Offers outbox events to the sinks that still need them; lists finished ones as delivered.
  void Deliver(engine::CheckpointStore& store);
  // The alerts a commit just wrote to the outbox, numbered from first_seq on.
  void Committed(uint64_t first_seq, std::vector<engine::Alert>&& alerts);
  // Events delivered and not yet moved to the history (the next commit moves them, then
  // Marked()).
  const std::vector<uint64_t>& unmarked() const { return unmarked_; }
  void Marked() { unmarked_.clear(); }
  // Moves them now, in a transaction of their own (at a stop: no commit follows).
  Status MarkDelivered(engine::CheckpointStore& store);
  void Reopen();  // SIGHUP
  // Startup: tells the sinks which alerts fire (by id, looked up in the store's history).
  void RestoreFiring(const std::set<std::string>& firing_ids, engine::CheckpointStore& store);

  uint64_t delivered() const { return delivered_; }
  size_t in_flight() const { return deliveries_.size(); }
  const std::vector<std::unique_ptr<AlertSink>>& sinks() const { return sinks_; }

 private:
  enum class Progress : uint8_t { kToSend, kQueued, kDone };
  std::vector<std::unique_ptr<AlertSink>> sinks_;
  std::map<uint64_t, std::vector<Progress>> deliveries_;  // outbox seq -> per sink
  std::map<uint64_t, engine::Alert> outbox_;              // the store's, by seq, once loaded
  bool outbox_loaded_ = false;
  std::vector<uint64_t> unmarked_;
  uint64_t delivered_ = 0;
};

}  // namespace ember::aggregator
