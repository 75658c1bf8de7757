// LogLimiter: keeps a repeated warning from flooding the log. At most `burst` messages pass
// per `interval_ms`; the rest are counted, and the next message that passes reports how many
// were suppressed. Pure: the caller hands it the time. Not thread-safe; one per warning site.
#pragma once

#include <cstdint>
#include <string>

namespace ember {

class LogLimiter {
 public:
  explicit LogLimiter(int64_t interval_ms = 10'000, uint32_t burst = 5)
      : interval_ms_(interval_ms), burst_(burst) {}

  // Whether a message at `now_ms` may be logged. When it may, *suppressed (if given) is set to
  // the number of messages refused since the last one that passed, and that count restarts.
  bool Allow(int64_t now_ms, uint64_t* suppressed = nullptr) {
    if (now_ms - window_start_ms_ >= interval_ms_ || now_ms < window_start_ms_) {
      window_start_ms_ = now_ms;
      passed_ = 0;
    }
    if (passed_ >= burst_) {
      ++suppressed_;
      ++total_suppressed_;
      return false;
    }
    ++passed_;
    if (suppressed != nullptr) *suppressed = suppressed_;
    suppressed_ = 0;
    return true;
  }

  // " (N similar messages suppressed)" when some were, else "": for the end of a log line.
  static std::string SuppressedNote(uint64_t suppressed) {
    if (suppressed == 0) return "";
    return " (" + std::to_string(suppressed) + " similar messages suppressed)";
  }

  uint64_t total_suppressed() const { return total_suppressed_; }

 private:
  int64_t interval_ms_;
  uint32_t burst_;
  int64_t window_start_ms_ = INT64_MIN / 2;
  uint32_t passed_ = 0;
  uint64_t suppressed_ = 0;
  uint64_t total_suppressed_ = 0;
};

}  // namespace ember
