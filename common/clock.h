// Clock: where a daemon's loop reads the time, in milliseconds since the Unix epoch. The real
// one reads the wall clock; ManualClock moves only when told, so a test can drive batches,
// timeouts and expiry without waiting. NowMs() is thread-safe in both.
#pragma once

#include <atomic>
#include <cstdint>

#include "common/system.h"

namespace ember {

class Clock {
 public:
  virtual ~Clock() = default;
  virtual int64_t NowMs() const = 0;
};

class SystemClock final : public Clock {
 public:
  int64_t NowMs() const override { return WallClockMs(); }
};

class ManualClock final : public Clock {
 public:
  explicit ManualClock(int64_t now_ms) : now_ms_(now_ms) {}
  int64_t NowMs() const override { return now_ms_.load(); }
  void Set(int64_t now_ms) { now_ms_.store(now_ms); }
  void Advance(int64_t ms) { now_ms_.fetch_add(ms); }

 private:
  std::atomic<int64_t> now_ms_;
};

}  // namespace ember
