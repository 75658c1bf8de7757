// DeferredStamps: reads the time stamps of lines on the matcher's threads (a LinePrep), then
// settles them on the caller's thread in line order, with exactly the times reading them one
// by one with each stream's parser gives. Lines of several streams may be mixed; each names
// its stream. Each slice starts from where every stream stood when the chunk began (its year
// state and last time); Settle corrects the lines whose guess the lines before them
// contradict — after a new year a slice cannot see, or at the start of a slice without a
// stamp — and has their rules' own stamps read again.
// Prepare may run on several threads at once (each on its own lines) and reads copies of the
// streams taken at Begin, so the caller may settle another chunk (of another DeferredStamps)
// meanwhile; the rest is not thread-safe.
#pragma once

#include <cstdint>
#include <limits>
#include <span>
#include <vector>

#include "engine/engine.h"
#include "engine/event_time.h"
#include "engine/parallel_matcher.h"

namespace ember::engine {

// Where one stream's stamps stand; owned by the caller, advanced by Settle.
struct StampStream {
  EventTimeParser parser;    // its year state is the stream's
  int64_t last_time_ms = 0;  // the time of its last line
};

class DeferredStamps final : public LinePrep {
 public:
  // The time of a line without a stamp: the time of the line before it in its stream, or the
  // time it came with (its arrival).
  enum class Unstamped { kPreviousLine, kAsGiven };
  explicit DeferredStamps(Unstamped unstamped) : unstamped_(unstamped) {}

  // Before the matcher starts on a chunk: the stream of each of its lines, null for a line
  // whose time is settled already (kept by the caller until Settle). Copies the streams.
  void Begin(std::span<StampStream* const> stream_of_line);
  // The same when the lines' streams are filled in by Prepare's caller, on the matcher's
  // threads (before Prepare reads them): `streams` are all the chunk's lines may name
  // (repeats and nulls allowed).
  void Begin(std::span<StampStream* const> stream_of_line,
             std::span<const StampStream* const> streams);
  // Reads the stamps of the lines among `lines` (which start at index `first`) that have a
  // stream.
  void Prepare(size_t first, std::span<InputLine> lines) override;
  // After the matcher finished the chunk begun last: settles the times in line order and
  // moves the streams on; a line whose time changes has its rules' own stamps read again by
  // `matcher`. Returns how many lines with a stream had no stamp.
  uint64_t Settle(std::span<InputLine> lines, ParallelMatcher& matcher);

 private:
  // What Prepare found in a line, besides its time (1-12: a stamp without a year, of that
  // month).
  static constexpr uint8_t kNoStamp = 0xFF;
  static constexpr uint8_t kWithYear = 0;  // a stamp carrying its year

  // The copy of `stream` taken at Begin.
  const StampStream& Copy(const StampStream* stream) const;

  const Unstamped unstamped_;
  std::span<StampStream* const> stream_of_line_;
  // Each stream of the chunk as it stood at Begin, by address.
  std::vector<std::pair<const StampStream*, StampStream>> at_begin_;
  std::vector<uint8_t> found_;       // by line of the chunk
  std::vector<int32_t> year_guess_;  // by line: the year a stamp without one was read in
};

}  // namespace ember::engine
