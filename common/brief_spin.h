// Brief spinning before a thread sleeps: a worker pool's threads poll for the next job for a
// bounded time, but only while jobs arrive close together, so that handing a job of a few
// hundred microseconds to a thread does not cost a wake-up of a sleeping CPU (tens of
// microseconds on a virtual machine, and the woken thread often lands on the waker's CPU).
// An idle pool never spins: a thread whose last job came after a longer gap sleeps at once.
// Header-only; every function is thread-safe for its own arguments.
#pragma once

#include <chrono>
#include <cstdint>
#include <thread>

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#endif

namespace ember {

// One spin iteration's hint to the CPU (the sibling hyper-thread gets the core).
inline void CpuRelax() {
#if defined(__x86_64__) || defined(__i386__)
  _mm_pause();
#elif defined(__aarch64__)
  asm volatile("yield");
#endif
}

// Polls `done()` until it returns true or `budget` has passed; returns its last answer.
// Past the first few microseconds each round also yields the CPU, so a runnable thread of
// another process on the same CPU is not kept waiting by the spin.
template <typename Done>
bool SpinUntil(Done&& done, std::chrono::nanoseconds budget) {
  using Clock = std::chrono::steady_clock;
  if (done()) return true;
  if (budget <= std::chrono::nanoseconds::zero()) return false;
  constexpr auto kPauseOnly = std::chrono::microseconds(20);
  const auto start = Clock::now();
  for (;;) {
    for (int i = 0; i < 64; ++i) {
      CpuRelax();
      if (done()) return true;
    }
    const auto spent = Clock::now() - start;
    if (spent >= budget) return done();
    if (spent >= kPauseOnly) std::this_thread::yield();
  }
}

// Decides for one waiting thread whether to spin before it sleeps: yes when the gap between
// its last two jobs (end of one to start of the next) was at most the budget. Not shared.
class SpinPolicy {
 public:
  using Clock = std::chrono::steady_clock;
  explicit SpinPolicy(std::chrono::nanoseconds budget) : budget_(budget) {}
  // How long to spin now, between two jobs: 0 while jobs come far apart.
  std::chrono::nanoseconds budget() const {
    return streaming_ ? budget_ : std::chrono::nanoseconds::zero();
  }
  // Call when a job starts and when it ends.
  void JobStarted(Clock::time_point now) { streaming_ = ended_ && now - last_end_ <= budget_; }
  void JobEnded(Clock::time_point now) {
    last_end_ = now;
    ended_ = true;
  }

 private:
  std::chrono::nanoseconds budget_;
  Clock::time_point last_end_{};
  bool ended_ = false;
  bool streaming_ = false;
};

}  // namespace ember
