#include "common/system.h"

#include <malloc.h>
#include <unistd.h>

#include <chrono>
#include <ctime>

namespace ember {

int64_t WallClockMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

std::string LocalHostName() {
  char buf[256] = {0};
  if (::gethostname(buf, sizeof buf - 1) != 0 || buf[0] == '\0') return "localhost";
  return buf;
}

int CurrentYearUtc() {
  std::time_t now = std::time(nullptr);
  std::tm tm{};
  gmtime_r(&now, &tm);
  return tm.tm_year + 1900;
}

void KeepFreedMemory(size_t mmap_threshold_bytes, size_t keep_free_bytes) {
  // Setting either turns off glibc's own adjustment of both.
  ::mallopt(M_MMAP_THRESHOLD, static_cast<int>(mmap_threshold_bytes));
  ::mallopt(M_TRIM_THRESHOLD, static_cast<int>(keep_free_bytes));
}

}  // namespace ember
