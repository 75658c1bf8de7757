#include "cli/progress_bar.h"

#include <unistd.h>

#include <algorithm>
#include <string>

namespace ember::cli {

ProgressBar::ProgressBar(uint64_t total_bytes, std::FILE* out)
    : total_(total_bytes),
      out_(out),
      enabled_(total_bytes > 0 && ::isatty(::fileno(out)) != 0),
      started_(std::chrono::steady_clock::now()),
      last_draw_(started_ - kRedraw) {}  // the first update draws at once

void ProgressBar::Update(uint64_t done) {
  if (!enabled_) return;
  const auto now = std::chrono::steady_clock::now();
  if (now - last_draw_ < kRedraw) return;
  last_draw_ = now;
  const double secs = std::chrono::duration<double>(now - started_).count();
  const double fraction = std::min(1.0, static_cast<double>(done) / static_cast<double>(total_));
  const double rate = secs > 0 ? static_cast<double>(done) / secs : 0;  // bytes/s
  const double eta = rate > 0 ? static_cast<double>(total_ - std::min(done, total_)) / rate : 0;
  constexpr int kWidth = 30;
  const int filled = static_cast<int>(fraction * kWidth);
  std::string bar(static_cast<size_t>(filled), '=');
  if (filled < kWidth) bar += '>';
  bar.resize(kWidth, ' ');
  std::fprintf(out_, "\r[%s] %3.0f%%  %.1f MiB/s  ETA %.0fs ", bar.c_str(), 100 * fraction,
               rate / (1 << 20), eta);
  std::fflush(out_);
}

void ProgressBar::Finish() {
  if (!enabled_) return;
  std::fprintf(out_, "\r%*s\r", 70, "");
  std::fflush(out_);
}

}  // namespace ember::cli
