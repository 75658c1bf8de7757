// SourceWatermarks: the aggregator's watermark, taken from the data. Each stream (an agent's
// file) has a position in event time: the newest time stamp it delivered while it has a
// backlog, or its agent's clock while its agent says it is read to its end (a quiet file
// follows the clock and holds nothing back). The watermark is the lowest position over the
// streams, minus allowed_lateness, never past the aggregator's clock, never going back:
//
//   agent a, app.log   (backlog)    ───────●        position: newest stamp delivered
//   agent b, auth.log  (at its end) ────────────●   position: b's clock now
//   agent c  (silent for 12 s)      ─────●          held for max_source_delay, then left out
//   watermark                       ─────●          = min(positions) - allowed_lateness
//
// A stream whose agent has not been heard from for max_source_delay is left out until it
// comes back (its lines are then late, and re-evaluated). A caught-up stream whose agent's
// clock runs behind holds the watermark back at most max_source_delay. Stamps more than
// max_future_skew ahead of the clock are clamped there (counted), so they cannot drag the
// watermark into the future.
//
// The history floor is the lowest position without the watermark's promises (not
// monotonic): a stream reading a backlog older than the watermark (an agent backfilling
// yesterday's files into a running aggregator, or back from a long outage) holds it at its
// newest stamp, so the engine admits its lines and keeps the batches their windows need
// (Engine::SetHistoryFloor). It holds the floor from where its backlog began (the lowest
// newest stamp of its frames: one stray old line is not a backlog), until backfill_hold
// after it caught up, so that an agent that connects later with files of the same hours
// still finds the batches of the first. A stream its agent's heartbeat says
// has more to read but that
// delivered nothing yet (a first-time agent's files waiting for credit) holds both the
// watermark and the floor where they are, for max_source_delay from its first mention at
// most (then it is left out until it delivers), so backfilling agents that connect a little
// apart count together.
// Pure: the time is passed in. Bounded by the stream marks' bounds (one entry per stream
// with a mark) plus max_announced streams named without data (more are ignored, counted).
// Not thread-safe; owned by the aggregator's pipeline thread.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "engine/checkpoint_store.h"

namespace ember::aggregator {

struct WatermarkOptions {
  int64_t allowed_lateness_ms = 100;
  int64_t max_source_delay_ms = 30'000;
  int64_t max_future_skew_ms = 60'000;
  // A caught-up stream follows its agent's clock for this long after its agent was last
  // heard from (the agent says so at least every second).
  int64_t liveness_ms = 3000;
  // A stream that caught up after a backlog holds the history floor at the backlog's start
  // this long (AggregatorConfig::backfill_hold_ms).
  int64_t backfill_hold_ms = 600'000;
  // Streams named by heartbeats as having more to read, with no data yet, held at once.
  size_t max_announced = 100'000;
};

class SourceWatermarks {
 public:
  explicit SourceWatermarks(const WatermarkOptions& options) : options_(options) {}

  // Recovery: the positions and the watermark of the last checkpoint, by StreamMarks::Key.
  // The streams count as last heard at `now_ms` (their agents have max_source_delay to
  // come back). Call before anything else.
  void Restore(const engine::SourcePositions& positions, int64_t now_ms);

  // A message from `agent` (with a session) at `now_ms`: it is alive. Bounded by the
  // sessions' table; call before Delivered.
  void Heard(const std::string& agent, int64_t now_ms);
  // Clamps a line's time stamp to now + max_future_skew (counting the clamped ones).
  int64_t ClampFuture(int64_t time_ms, int64_t now_ms);
  // A frame of a stream was accepted (its agent Heard first): it has a backlog until a
  // heartbeat says it caught up again. Then, once its lines' stamps are read, Stamped gives
  // the newest (clamped).
  void Delivered(const std::string& key, const std::string& agent, const std::string& path);
  void Stamped(const std::string& key, int64_t newest_ms);
  // A heartbeat: the stream is read to its end as of `agent_now_ms` (the agent's clock) and
  // `delivered_all` (every line up to the end was accepted here), or it has more to read.
  void Heartbeat(const std::string& key, bool at_end, bool delivered_all, int64_t agent_now_ms,
                 int64_t now_ms);
  // A heartbeat names a stream with more to read that has no entry (nothing delivered yet):
  // it holds the watermark and the floor for max_source_delay from now, or until its data.
  void Announced(const std::string& key, const std::string& agent, int64_t now_ms);
  // A stream its agent is done with (StreamMarks::ExpireUnannounced): no longer a position.
  void Forget(const std::string& key);
  // Lines of a stream dropped as older than max_lateness.
  void TooLate(const std::string& key, uint64_t lines);

  // The watermark at `now_ms` (monotonic; nullopt before any stream is known). Computes the
  // history floor in the same pass.
  std::optional<int64_t> Watermark(int64_t now_ms);
  // The history floor as of the last Watermark() call: the lowest position of the streams
  // not left out, minus allowed_lateness (INT64_MIN: a stream with no stamp yet holds
  // everything; INT64_MAX: no stream).
  int64_t floor() const { return floor_; }
  // As of the last Watermark() call: every stream not left out has delivered its lines
  // stamped before this (the lowest position, not monotonic; INT64_MIN: a stream with no
  // stamp yet; INT64_MAX: no stream). Late windows ending after it wait.
  int64_t complete() const { return complete_; }

  struct StreamView {
    std::string key, agent, path;
    int64_t position_ms = 0;
    bool caught_up = false;
    bool left_out = false;  // its agent silent past max_source_delay
    uint64_t too_late = 0;
  };
  // The stream holding the watermark back at the last Watermark() call, if any.
  std::optional<StreamView> holder() const;
  // The `n` streams furthest behind the clock, furthest first.
  std::vector<StreamView> Laggards(int64_t now_ms, size_t n) const;
  // What the next checkpoint writes: the watermark and the streams changed since the last
  // MarkCommitted().
  engine::SourcePositions Changed() const;
  void MarkCommitted() { changed_.clear(); }
  std::optional<int64_t> last_watermark() const { return watermark_; }
  uint64_t future_stamps() const { return future_stamps_; }
  uint64_t too_late_lines() const { return too_late_; }
  uint64_t refused_announcements() const { return refused_announcements_; }
  size_t streams() const { return streams_.size(); }

 private:
  struct Stream {
    std::string agent, path;
    int64_t newest_ms = INT64_MIN;  // newest stamp delivered
    bool caught_up = false;
    int64_t clock_offset_ms = 0;  // agent clock - aggregator clock at the last catch-up
    uint64_t too_late = 0;
    // The lowest newest stamp of the current backlog's frames (INT64_MAX: none), and when the
    // stream last caught up (aggregator clock): the backlog holds the floor until max_source_delay
    // after.
    int64_t backlog_oldest_ms = INT64_MAX;
    int64_t caught_up_at_ms = INT64_MIN;
    // Named by a heartbeat with nothing delivered: when (aggregator clock); INT64_MIN once
    // it delivered (or never announced).
    int64_t announced_ms = INT64_MIN;
  };
  // The stream's position at `now_ms`, or nullopt when it is left out.
  std::optional<int64_t> Position(const Stream& s, int64_t now_ms) const;
  // The same, with its agent last heard at `heard` (LastHeard).
  std::optional<int64_t> Position(const Stream& s, int64_t now_ms, int64_t heard) const;
  // Where the stream holds the floor, given its position (nullopt: left out).
  std::optional<int64_t> FloorOf(const Stream& s, std::optional<int64_t> position,
                                 int64_t now_ms) const;
  // Calls fn(key, stream, position) for every stream, in key order. Streams are ordered by
  // "<agent>\0…", so each agent's last-heard time is looked up once.
  template <class Fn>
  void ForEachPosition(int64_t now_ms, Fn&& fn) const {
    const std::string* agent = nullptr;
    int64_t heard = 0;
    for (const auto& [key, s] : streams_) {
      if (agent == nullptr || *agent != s.agent) {
        agent = &s.agent;
        heard = LastHeard(s.agent);
      }
      fn(key, s, Position(s, now_ms, heard));
    }
  }
  int64_t LastHeard(const std::string& agent) const;
  StreamView ViewOf(const std::string& key, const Stream& s, int64_t now_ms) const;

  WatermarkOptions options_;
  std::map<std::string, Stream> streams_;  // by StreamMarks::Key
  std::map<std::string, int64_t> heard_;   // agent -> last heard (aggregator clock)
  std::set<std::string> changed_;          // streams whose position or path changed
  std::optional<int64_t> watermark_;
  int64_t floor_ = INT64_MAX;
  int64_t complete_ = INT64_MAX;
  size_t announced_ = 0;  // streams with announced_ms set
  uint64_t refused_announcements_ = 0;
  std::optional<std::string> holder_;
  int64_t holder_at_ms_ = 0;
  uint64_t future_stamps_ = 0;
  uint64_t too_late_ = 0;
};

}  // namespace ember::aggregator
