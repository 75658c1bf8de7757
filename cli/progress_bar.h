// ProgressBar: a one-line progress display (bar, percent, rate, ETA) redrawn in place on a
// terminal from the first update on, then at most five times a second. Silent when the stream is
// not a tty, so logs and pipes stay clean. Not thread-safe.
#pragma once

#include <chrono>
#include <cstdint>
#include <cstdio>

namespace ember::cli {

class ProgressBar {
 public:
  // `total_bytes` of input; `out` is usually stderr.
  ProgressBar(uint64_t total_bytes, std::FILE* out);
  // Cheap when called often: after the first, redraws only every 200 ms.
  void Update(uint64_t done_bytes);
  // Erases the line.
  void Finish();
  bool enabled() const { return enabled_; }

 private:
  uint64_t total_;
  std::FILE* out_;
  bool enabled_;
  std::chrono::steady_clock::time_point started_;
  std::chrono::steady_clock::time_point last_draw_;
  static constexpr std::chrono::milliseconds kRedraw{200};
};

}  // namespace ember::cli
