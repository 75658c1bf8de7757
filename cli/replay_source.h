// ReplaySource: reads one log file from start to end as engine InputLines with event times
// parsed from the lines. Handles real files as they are: CRLF, a last line without '\n',
// lines without a time stamp (continuations: they take the previous line's time; lines before
// the first stamp take the first stamp), years missing from the stamps. Not thread-safe.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <string>
#include <string_view>

#include "common/status.h"
#include "common/time_zone.h"
#include "engine/engine.h"
#include "engine/event_time.h"

namespace ember::cli {

struct ReplaySourceOptions {
  std::string host;                // built-in host field; "" = this machine's name
  int year = 0;                    // for stamps without a year; 0 = the file's modification year
  const TimeZone* zone = nullptr;  // stamps without an offset are wall-clock times here; null: UTC
  size_t max_line_bytes = 64 * 1024;
  size_t read_bytes = 128 * 1024;  // at most this many bytes per read(2)
  // When set, only the lines up to the first time stamp are stamped here: the rest go out
  // with time ReplaySource::kStampPending, for the matcher's threads to read (DeferredStamps),
  // and this is called once before the first of them with where the stamps stand.
  std::function<void(engine::EventTimeParser::YearState, int64_t last_time_ms)> defer_stamps;
};

class ReplaySource {
 public:
  static constexpr int64_t kStampPending = INT64_MIN;  // the time of a line not stamped yet

  // Memory the file is read into, handed out by the caller, so that the lines given from it,
  // views into it, live as long as the caller keeps it. Called before each read: room for the
  // next bytes, at least one byte, right after `carry` (the start of a line whose end is not
  // read yet, at most max_line_bytes + 1 bytes, ending where the last read ended); when the
  // room is not right after `carry`, the caller copies `carry` in front of it.
  using ReadSpace = std::function<std::span<char>(std::string_view carry)>;

  // Errors: IOError naming the path.
  static Result<std::unique_ptr<ReplaySource>> Open(const std::string& path,
                                                    const ReplaySourceOptions& options);
  ~ReplaySource();

  // Calls on_line for every line, in file order. The line's views live during the call only,
  // except a text inside memory `space` handed out, which lives as long as the caller keeps
  // that memory (lines that are not: those held for a first stamp, cut at max_line_bytes, or
  // last without '\n'). Empty `space`: the source's own. Lines without a stamp here count in
  // untimed_lines(); deferred ones do not.
  Status ReadAll(const std::function<void(const engine::InputLine&)>& on_line,
                 const ReadSpace& space = {});

  uint64_t bytes_read() const { return bytes_read_; }
  uint64_t untimed_lines() const { return untimed_lines_; }

 private:
  ReplaySource(std::string path, int fd, ReplaySourceOptions options, int64_t mtime_ms);
  std::string path_;
  int fd_;
  ReplaySourceOptions options_;
  int64_t mtime_ms_;
  uint64_t bytes_read_ = 0;
  uint64_t untimed_lines_ = 0;
};

}  // namespace ember::cli
