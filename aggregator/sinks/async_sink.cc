#include "aggregator/sinks/async_sink.h"

namespace ember::aggregator {

AsyncSink::~AsyncSink() { Stop(); }

void AsyncSink::StartWorker() {
  worker_ = std::thread([this] { Run(); });
}

void AsyncSink::Stop() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  if (worker_.joinable()) worker_.join();
}

Status AsyncSink::Send(uint64_t seq, const engine::Alert& alert) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (queue_.size() >= kMaxQueued) {
      return Status::Unavailable(Describe() + ": " + std::to_string(kMaxQueued) +
                                 " alert events queued; this one waits in the outbox");
    }
    queue_.emplace_back(seq, alert);
  }
  cv_.notify_one();
  return Status::Ok();
}

std::vector<uint64_t> AsyncSink::TakeFinished() {
  std::lock_guard<std::mutex> lock(mu_);
  return std::exchange(finished_, {});
}

uint64_t AsyncSink::failures() const {
  std::lock_guard<std::mutex> lock(mu_);
  return failures_;
}

bool AsyncSink::SleepUnlessStopping(int64_t ms) {
  std::unique_lock<std::mutex> lock(mu_);
  return !cv_.wait_for(lock, std::chrono::milliseconds(ms), [&] { return stopping_; });
}

bool AsyncSink::stopping() const {
  std::lock_guard<std::mutex> lock(mu_);
  return stopping_;
}

void AsyncSink::Run() {
  auto last_idle = std::chrono::steady_clock::now();
  for (;;) {
    if (std::chrono::steady_clock::now() - last_idle >= std::chrono::seconds(1)) {
      last_idle = std::chrono::steady_clock::now();
      Idle();
    }
    std::pair<uint64_t, engine::Alert> item;
    {
      std::unique_lock<std::mutex> lock(mu_);
      if (!cv_.wait_for(lock, std::chrono::seconds(1),
                        [&] { return stopping_ || !queue_.empty(); })) {
        continue;
      }
      if (stopping_) return;
      item = queue_.front();
    }
    const bool delivered = Deliver(item.second);
    std::lock_guard<std::mutex> lock(mu_);
    // Stopped in the middle of retrying: not finished; it stays in the outbox.
    if (!delivered && stopping_) return;
    queue_.pop_front();
    finished_.push_back(item.first);
    if (!delivered) ++failures_;
  }
}

}  // namespace ember::aggregator
