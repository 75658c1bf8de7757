// AsyncSink: the base of outputs that talk to the outside world (exec, webhook,
// Alertmanager) and must never hold up a batch. Send() only queues; one worker thread per
// sink delivers the events in order, retrying as the subclass decides, and reports each one
// finished (delivered or given up on) through TakeFinished(). The queue is bounded: when it is
// full Send() fails and the alert stays in the outbox for the next batch.
// Public methods are called by the pipeline thread; Deliver/Idle run on the worker thread.
#pragma once

#include <condition_variable>
#include <deque>
#include <mutex>
#include <thread>

#include "aggregator/sinks/alert_sink.h"

namespace ember::aggregator {

class AsyncSink : public AlertSink {
 public:
  ~AsyncSink() override;  // subclasses call Stop() in their destructors
  Status Send(uint64_t seq, const engine::Alert& alert) final;
  bool asynchronous() const final { return true; }
  std::vector<uint64_t> TakeFinished() final;
  uint64_t failures() const final;
  // Worker thread: sleeps up to `ms`; false when the sink is stopping (give up now, the event
  // stays in the outbox).
  bool SleepUnlessStopping(int64_t ms);
  bool stopping() const;

 protected:
  static constexpr size_t kMaxQueued = 10'000;

  // Starts the worker; call at the end of the subclass constructor.
  void StartWorker();
  // Stops the worker (an attempt under way finishes or times out first). Idempotent.
  void Stop();
  // Delivers one event, retrying as it sees fit (sleeping with SleepUnlessStopping).
  // Returns false when it gave up (it logs why).
  virtual bool Deliver(const engine::Alert& alert) = 0;
  // Called on the worker about once a second, between deliveries.
  virtual void Idle() {}

 private:
  void Run();

  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::pair<uint64_t, engine::Alert>> queue_;
  std::vector<uint64_t> finished_;
  uint64_t failures_ = 0;
  bool stopping_ = false;
  std::thread worker_;
};

}  // namespace ember::aggregator
