// AlertDispatcher: hands the committed alert events in the checkpoint store's outbox to every
// sink and marks an event delivered once every sink has finished with it. A synchronous sink
// that fails is offered the event again next batch; an asynchronous one reports when it is
// done. Events still in the outbox at a crash or stop are offered again at the next start,
// with the same id and content. Owned and called by the pipeline thread only.
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

  // Offers outbox events to the sinks that still need them; marks finished ones delivered.
  void Deliver(engine::CheckpointStore& store);
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
  uint64_t delivered_ = 0;
};

}  // namespace ember::aggregator
