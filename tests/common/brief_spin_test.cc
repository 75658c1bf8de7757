#include "common/brief_spin.h"

#include <atomic>
#include <chrono>
#include <thread>

#include <catch2/catch.hpp>

using ember::SpinPolicy;
using ember::SpinUntil;
using namespace std::chrono_literals;

TEST_CASE("SpinUntil: answers at once when done, gives up after its budget", "[common][unit]") {
  int calls = 0;
  CHECK(SpinUntil(
      [&] {
        ++calls;
        return true;
      },
      1s));
  CHECK(calls == 1);

  calls = 0;
  CHECK_FALSE(SpinUntil(
      [&] {
        ++calls;
        return false;
      },
      0ns));
  CHECK(calls == 1);  // no budget: asked once, no polling

  const auto start = std::chrono::steady_clock::now();
  CHECK_FALSE(SpinUntil([] { return false; }, 2ms));
  CHECK(std::chrono::steady_clock::now() - start >= 2ms);
}

TEST_CASE("SpinUntil: sees what another thread sets while it polls", "[common][unit][threads]") {
  std::atomic<bool> set{false};
  std::thread setter([&] {
    std::this_thread::sleep_for(1ms);
    set.store(true, std::memory_order_release);
  });
  // A budget far beyond the setter's delay: the poll ends when the flag is seen.
  const bool seen = SpinUntil([&] { return set.load(std::memory_order_acquire); }, 60s);
  setter.join();
  CHECK(seen);
}

TEST_CASE("SpinPolicy: polls only while jobs come within the budget of each other",
          "[common][unit]") {
  SpinPolicy policy(100us);
  const SpinPolicy::Clock::time_point t0{};
  CHECK(policy.budget() == 0ns);  // no job yet
  policy.JobStarted(t0);
  CHECK(policy.budget() == 0ns);  // the first job follows no other
  policy.JobEnded(t0 + 1ms);
  policy.JobStarted(t0 + 1ms + 60us);
  CHECK(policy.budget() == 100us);  // 60 us after the last: streaming
  policy.JobEnded(t0 + 2ms);
  policy.JobStarted(t0 + 2ms + 100us);
  CHECK(policy.budget() == 100us);  // exactly the budget still counts
  policy.JobEnded(t0 + 3ms);
  policy.JobStarted(t0 + 3ms + 101us);
  CHECK(policy.budget() == 0ns);  // a longer gap: sleep at once next time
  policy.JobEnded(t0 + 4ms);
  policy.JobStarted(t0 + 4ms + 10us);
  CHECK(policy.budget() == 100us);  // streaming again

  SpinPolicy never(0us);
  never.JobEnded(t0);
  never.JobStarted(t0);
  CHECK(never.budget() == 0ns);
}
