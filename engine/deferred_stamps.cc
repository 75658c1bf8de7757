#include "engine/deferred_stamps.h"

namespace ember::engine {

void DeferredStamps::Reset(EventTimeParser::YearState year, int64_t last_time_ms) {
  year_ = year;
  last_time_ms_ = last_time_ms;
}

void DeferredStamps::Begin(size_t lines) {
  found_.resize(lines);
  year_guess_.resize(lines);
}

void DeferredStamps::Prepare(size_t first, std::span<InputLine> lines) {
  EventTimeParser parser(year_.year, zone_);
  parser.set_year_state(year_);
  int64_t last = last_time_ms_;  // a guess, unless this slice starts the chunk
  for (size_t i = 0; i < lines.size(); ++i) {
    InputLine& line = lines[i];
    if (line.time_ms != kStampPending) {
      found_[first + i] = kSettled;
      last = line.time_ms;
      continue;
    }
    int month = 0;
    if (std::optional<int64_t> t = parser.Parse(line.text, &month)) {
      line.time_ms = *t;
      found_[first + i] = static_cast<uint8_t>(month);
      year_guess_[first + i] = parser.year_state().year;
      last = *t;
    } else {
      line.time_ms = last;
      found_[first + i] = kNoStamp;
    }
  }
}

uint64_t DeferredStamps::Settle(std::span<InputLine> lines, ParallelMatcher& matcher) {
  EventTimeParser::YearState year = year_;
  int64_t last = last_time_ms_;
  uint64_t untimed = 0;
  bool pending = false;
  for (size_t i = 0; i < lines.size(); ++i) {
    InputLine& line = lines[i];
    const uint8_t found = found_[i];
    if (found == kSettled) {
      last = line.time_ms;
      continue;
    }
    pending = true;
    int64_t time = line.time_ms;
    if (found == kNoStamp) {
      ++untimed;
      time = last;
    } else if (found != kWithYear) {
      const EventTimeParser::YearState next = year.Step(found);
      if (next.year != year_guess_[i]) {  // read in the wrong year: read it again
        EventTimeParser parser(year.year, zone_);
        parser.set_year_state(year);
        time = parser.Parse(line.text).value_or(time);
      }
      year = next;
    }
    last = time;
    if (time != line.time_ms) {
      line.time_ms = time;
      matcher.RetimeMatches(i);
    }
  }
  if (pending) Reset(year, last);
  return untimed;
}

}  // namespace ember::engine
