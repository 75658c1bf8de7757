#include "engine/deferred_stamps.h"

#include <algorithm>
#include <cstdlib>
#include <functional>
#include <utility>

namespace ember::engine {

void DeferredStamps::Begin(std::span<StampStream* const> stream_of_line) {
  Begin(stream_of_line, stream_of_line);
}

void DeferredStamps::Begin(std::span<StampStream* const> stream_of_line,
                           std::span<const StampStream* const> streams) {
  stream_of_line_ = stream_of_line;
  found_.resize(stream_of_line_.size());
  year_guess_.resize(stream_of_line_.size());
  // Each stream once (`streams` may repeat them), then its copy.
  std::vector<const StampStream*> distinct;
  for (const StampStream* stream : streams) {
    if (stream != nullptr && (distinct.empty() || distinct.back() != stream)) {
      distinct.push_back(stream);
    }
  }
  std::sort(distinct.begin(), distinct.end(), std::less<>());
  distinct.erase(std::unique(distinct.begin(), distinct.end()), distinct.end());
  at_begin_.clear();
  for (const StampStream* stream : distinct) at_begin_.emplace_back(stream, *stream);
}

const StampStream& DeferredStamps::Copy(const StampStream* stream) const {
  auto it = std::lower_bound(
      at_begin_.begin(), at_begin_.end(), stream,
      [](const auto& entry, const StampStream* s) { return std::less<>()(entry.first, s); });
  // A stream not named at Begin would be read while its owner settles it: a broken contract.
  if (it == at_begin_.end() || it->first != stream) std::abort();
  return it->second;
}

void DeferredStamps::Prepare(size_t first, std::span<InputLine> lines) {
  // This slice's copies of its streams, as they stood when the chunk began.
  std::vector<std::pair<const StampStream*, StampStream>> local;
  StampStream* current = nullptr;
  const StampStream* current_of = nullptr;
  for (size_t i = 0; i < lines.size(); ++i) {
    const StampStream* stream = stream_of_line_[first + i];
    if (stream == nullptr) continue;
    if (stream != current_of) {
      auto it = std::find_if(local.begin(), local.end(),
                             [&](const auto& entry) { return entry.first == stream; });
      if (it == local.end()) it = local.insert(local.end(), {stream, Copy(stream)});
      current = &it->second;
      current_of = stream;
    }
    InputLine& line = lines[i];
    int month = 0;
    if (const int64_t t = current->parser.ParseMs(line.text, &month);
        t != EventTimeParser::kNoTime) {
      line.time_ms = t;
      found_[first + i] = static_cast<uint8_t>(month);
      year_guess_[first + i] = current->parser.year_state().year;
    } else {
      if (unstamped_ == Unstamped::kPreviousLine) line.time_ms = current->last_time_ms;
      found_[first + i] = kNoStamp;
    }
    current->last_time_ms = line.time_ms;
  }
}

uint64_t DeferredStamps::Settle(std::span<InputLine> lines, ParallelMatcher& matcher) {
  uint64_t unstamped = 0;
  for (size_t i = 0; i < lines.size(); ++i) {
    StampStream* stream = stream_of_line_[i];
    if (stream == nullptr) continue;
    InputLine& line = lines[i];
    const uint8_t found = found_[i];
    int64_t time = line.time_ms;
    if (found == kNoStamp) {
      ++unstamped;
      if (unstamped_ == Unstamped::kPreviousLine) time = stream->last_time_ms;
    } else if (found == kWithYear) {
      // Read right whatever came before.
    } else {
      const EventTimeParser::YearState next = stream->parser.year_state().Step(found);
      if (next.year != year_guess_[i]) {
        time = stream->parser.Parse(line.text).value_or(time);  // read in the wrong year
      }
      stream->parser.set_year_state(next);  // where reading it (again or not) leaves it
    }
    stream->last_time_ms = time;
    if (time != line.time_ms) {
      line.time_ms = time;
      matcher.RetimeMatches(i);
    }
  }
  return unstamped;
}

}  // namespace ember::engine
