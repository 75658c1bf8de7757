// DeferredStamps: reads the time stamps of a file's lines on the matcher's threads (a
// LinePrep), then settles them on the caller's thread in file order, with exactly the times
// reading them one by one gives (ReplaySource's rules: a line without a stamp takes the time
// of the line before it; a stamp without a year takes the year the stamps before it imply).
// Each slice starts from what the chunk started with (the year state and the last time);
// Settle corrects the lines whose guess the lines before them contradict — after a new year,
// or at the start of a slice without a stamp — and has their rules' own stamps read again.
// Prepare may run on several threads at once (each on its own lines); the rest is not
// thread-safe.
#pragma once

#include <cstdint>
#include <limits>
#include <span>
#include <vector>

#include "common/time_zone.h"
#include "engine/engine.h"
#include "engine/event_time.h"
#include "engine/parallel_matcher.h"

namespace ember::engine {

// InputLine::time_ms of a line whose stamp is still to be read.
inline constexpr int64_t kStampPending = std::numeric_limits<int64_t>::min();

class DeferredStamps final : public LinePrep {
 public:
  // `zone` (null: UTC; must outlive this): where stamps without an offset are wall-clock times.
  explicit DeferredStamps(const TimeZone* zone) : zone_(zone) {}

  // Where the stream stands before its first pending line: its parser's year state and the
  // time of the line before. The next chunks with pending lines go on from there.
  void Reset(EventTimeParser::YearState year, int64_t last_time_ms);
  // Before the matcher starts on a chunk of `lines` lines.
  void Begin(size_t lines);
  // Reads the stamps of the pending lines among `lines` (which start at index `first`).
  void Prepare(size_t first, std::span<InputLine> lines) override;
  // After the matcher finished the chunk begun last: settles the pending lines' times in
  // order; a line whose time changes has its rules' own stamps read again by `matcher`.
  // Returns how many of them had no stamp.
  uint64_t Settle(std::span<InputLine> lines, ParallelMatcher& matcher);

 private:
  // What Prepare found in a line, besides its time (1-12: a stamp without a year, of that
  // month).
  static constexpr uint8_t kSettled = 0xFF;  // not pending: its time was known before
  static constexpr uint8_t kNoStamp = 0xFE;  // took the time of the line before
  static constexpr uint8_t kWithYear = 0;    // a stamp carrying its year

  const TimeZone* zone_;
  EventTimeParser::YearState year_;  // where the chunk begun last starts
  int64_t last_time_ms_ = 0;
  std::vector<uint8_t> found_;       // by line of the chunk
  std::vector<int32_t> year_guess_;  // by line: the year a stamp without one was read in
};

}  // namespace ember::engine
