#include "common/log_limiter.h"

#include <catch2/catch.hpp>

using ember::LogLimiter;

TEST_CASE("LogLimiter: a burst passes, the rest of the interval is counted", "[common][unit]") {
  LogLimiter limiter(1000, 3);
  uint64_t suppressed = 99;
  CHECK(limiter.Allow(0, &suppressed));
  CHECK(suppressed == 0);
  CHECK(limiter.Allow(10));
  CHECK(limiter.Allow(20));
  for (int i = 0; i < 100; ++i) CHECK_FALSE(limiter.Allow(30 + i));
  CHECK(limiter.total_suppressed() == 100);
  // The next interval: the first message reports what was held back.
  CHECK(limiter.Allow(1000, &suppressed));
  CHECK(suppressed == 100);
  CHECK(limiter.Allow(1001, &suppressed));
  CHECK(suppressed == 0);
  CHECK(LogLimiter::SuppressedNote(0).empty());
  CHECK(LogLimiter::SuppressedNote(7) == " (7 similar messages suppressed)");
}

TEST_CASE("LogLimiter: a flood of a million messages logs a bounded number", "[common][unit]") {
  LogLimiter limiter(10'000, 5);
  int logged = 0;
  // One million messages over 20 s of synthetic time.
  for (int i = 0; i < 1'000'000; ++i) logged += limiter.Allow(i / 50) ? 1 : 0;
  CHECK(logged == 10);  // 5 per 10 s interval
  CHECK(limiter.total_suppressed() == 1'000'000 - 10);
}

TEST_CASE("LogLimiter: a clock going backwards starts a new interval", "[common][unit]") {
  LogLimiter limiter(1000, 1);
  CHECK(limiter.Allow(5000));
  CHECK_FALSE(limiter.Allow(5001));
  CHECK(limiter.Allow(100));
}
