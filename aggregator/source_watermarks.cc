#include "aggregator/source_watermarks.h"

#include <algorithm>

namespace ember::aggregator {

void SourceWatermarks::Restore(const engine::SourcePositions& positions, int64_t now_ms) {
  for (const auto& [key, p] : positions.streams) {
    Stream& s = streams_[key];
    s.agent = p.agent;
    s.path = p.path;
    s.newest_ms = p.position_ms;
    heard_[p.agent] = now_ms;
  }
  if (positions.watermark_ms != INT64_MIN) watermark_ = positions.watermark_ms;
}

void SourceWatermarks::Heard(const std::string& agent, int64_t now_ms) {
  auto [it, inserted] = heard_.try_emplace(agent, now_ms);
  if (!inserted) it->second = std::max(it->second, now_ms);
}

int64_t SourceWatermarks::ClampFuture(int64_t time_ms, int64_t now_ms) {
  const int64_t limit = now_ms + options_.max_future_skew_ms;
  if (time_ms <= limit) return time_ms;
  ++future_stamps_;
  return limit;
}

void SourceWatermarks::Delivered(const std::string& key, const std::string& agent,
                                 const std::string& path) {
  Stream& s = streams_[key];
  if (s.announced_ms != INT64_MIN) {
    s.announced_ms = INT64_MIN;
    --announced_;
  }
  if (s.agent.empty() || s.path != path) changed_.insert(key);
  if (s.agent.empty()) s.agent = agent;
  if (s.path != path) s.path = path;
  // A new backlog, unless the last one still holds the floor.
  if (s.caught_up && LastHeard(agent) - s.caught_up_at_ms > options_.backfill_hold_ms) {
    s.backlog_oldest_ms = INT64_MAX;
  }
  s.caught_up = false;
}

void SourceWatermarks::Stamped(const std::string& key, int64_t newest_ms) {
  auto it = streams_.find(key);
  if (it == streams_.end()) return;
  Stream& s = it->second;
  s.backlog_oldest_ms = std::min(s.backlog_oldest_ms, newest_ms);
  if (newest_ms <= s.newest_ms) return;
  s.newest_ms = newest_ms;
  changed_.insert(key);
}

void SourceWatermarks::Heartbeat(const std::string& key, bool at_end, bool delivered_all,
                                 int64_t agent_now_ms, int64_t now_ms) {
  auto it = streams_.find(key);
  if (it == streams_.end()) return;
  Stream& s = it->second;
  const bool was_caught_up = s.caught_up;
  s.caught_up = at_end && delivered_all;
  if (s.caught_up) s.clock_offset_ms = agent_now_ms - now_ms;
  if (s.caught_up && !was_caught_up) s.caught_up_at_ms = now_ms;
}

void SourceWatermarks::Announced(const std::string& key, const std::string& agent, int64_t now_ms) {
  if (streams_.count(key)) return;
  if (announced_ >= options_.max_announced) {
    ++refused_announcements_;
    return;
  }
  Stream& s = streams_[key];
  s.agent = agent;
  s.announced_ms = now_ms;
  ++announced_;
}

void SourceWatermarks::Forget(const std::string& key) {
  auto it = streams_.find(key);
  if (it != streams_.end() && it->second.announced_ms != INT64_MIN) --announced_;
  streams_.erase(key);
  changed_.erase(key);
  if (holder_ == key) holder_.reset();
}

void SourceWatermarks::TooLate(const std::string& key, uint64_t lines) {
  too_late_ += lines;
  if (auto it = streams_.find(key); it != streams_.end()) it->second.too_late += lines;
}

int64_t SourceWatermarks::LastHeard(const std::string& agent) const {
  auto it = heard_.find(agent);
  return it == heard_.end() ? INT64_MIN / 2 : it->second;
}

std::optional<int64_t> SourceWatermarks::Position(const Stream& s, int64_t now_ms) const {
  return Position(s, now_ms, LastHeard(s.agent));
}

std::optional<int64_t> SourceWatermarks::Position(const Stream& s, int64_t now_ms,
                                                  int64_t heard) const {
  if (now_ms - heard > options_.max_source_delay_ms) return std::nullopt;
  if (s.announced_ms != INT64_MIN && now_ms - s.announced_ms > options_.max_source_delay_ms) {
    return std::nullopt;  // named, never delivered: it had its time
  }
  if (!s.caught_up) return s.newest_ms;
  // Read to its end: the stream is as far as its agent's clock (extrapolated while the agent
  // is alive), but a clock running behind holds nothing back longer than max_source_delay.
  const int64_t clock = std::min(now_ms, heard + options_.liveness_ms) + s.clock_offset_ms;
  return std::max(clock, now_ms - options_.max_source_delay_ms);
}

std::optional<int64_t> SourceWatermarks::Watermark(int64_t now_ms) {
  floor_ = INT64_MAX;
  complete_ = INT64_MAX;
  if (streams_.empty()) return watermark_;
  int64_t lowest = now_ms;  // every stream left out: time goes on with the clock
  int64_t floor = now_ms;
  holder_.reset();
  ForEachPosition(now_ms, [&](const std::string& key, const Stream& s, std::optional<int64_t> p) {
    if (p && *p < lowest) {
      lowest = *p;
      holder_ = key;
    }
    if (std::optional<int64_t> f = FloorOf(s, p, now_ms)) floor = std::min(floor, *f);
  });
  holder_at_ms_ = now_ms;
  // A stream with a backlog and no stamp yet holds everything.
  floor_ = floor == INT64_MIN ? INT64_MIN : floor - options_.allowed_lateness_ms;
  complete_ =
      lowest == INT64_MIN ? INT64_MIN : std::min(lowest, now_ms) - options_.allowed_lateness_ms;
  if (lowest == INT64_MIN) return watermark_;
  const int64_t candidate = std::min(lowest, now_ms) - options_.allowed_lateness_ms;
  if (!watermark_ || candidate > *watermark_) watermark_ = candidate;
  return watermark_;
}

std::optional<int64_t> SourceWatermarks::FloorOf(const Stream& s, std::optional<int64_t> position,
                                                 int64_t now_ms) const {
  if (!position) return std::nullopt;
  const bool holding = !s.caught_up || now_ms - s.caught_up_at_ms <= options_.backfill_hold_ms;
  return holding ? std::min(*position, s.backlog_oldest_ms) : *position;
}

SourceWatermarks::StreamView SourceWatermarks::ViewOf(const std::string& key, const Stream& s,
                                                      int64_t now_ms) const {
  StreamView v;
  v.key = key;
  v.agent = s.agent;
  v.path = s.path.empty() && s.announced_ms != INT64_MIN ? "(nothing delivered yet)" : s.path;
  std::optional<int64_t> p = Position(s, now_ms);
  v.left_out = !p;
  v.position_ms = p ? *p : s.newest_ms;
  v.caught_up = s.caught_up;
  v.too_late = s.too_late;
  return v;
}

std::optional<SourceWatermarks::StreamView> SourceWatermarks::holder() const {
  if (!holder_) return std::nullopt;
  auto it = streams_.find(*holder_);
  if (it == streams_.end()) return std::nullopt;
  return ViewOf(it->first, it->second, holder_at_ms_);
}

std::vector<SourceWatermarks::StreamView> SourceWatermarks::Laggards(int64_t now_ms,
                                                                     size_t n) const {
  // Positions first (no copies), the views of the `n` furthest behind only: this runs once
  // a batch over every stream.
  struct Entry {
    int64_t position_ms;
    const std::string* key;
    const Stream* stream;
  };
  std::vector<Entry> all;
  all.reserve(streams_.size());
  ForEachPosition(now_ms, [&](const std::string& key, const Stream& s, std::optional<int64_t> p) {
    all.push_back({p ? *p : s.newest_ms, &key, &s});
  });
  n = std::min(n, all.size());
  std::partial_sort(all.begin(), all.begin() + static_cast<std::ptrdiff_t>(n), all.end(),
                    [](const Entry& a, const Entry& b) {
                      return a.position_ms != b.position_ms ? a.position_ms < b.position_ms
                                                            : *a.key < *b.key;
                    });
  std::vector<StreamView> out;
  out.reserve(n);
  for (size_t i = 0; i < n; ++i) out.push_back(ViewOf(*all[i].key, *all[i].stream, now_ms));
  return out;
}

engine::SourcePositions SourceWatermarks::Changed() const {
  engine::SourcePositions out;
  out.watermark_ms = watermark_.value_or(INT64_MIN);
  for (const std::string& key : changed_) {
    auto it = streams_.find(key);
    if (it == streams_.end()) continue;
    const Stream& s = it->second;
    out.streams[key] = engine::StreamPosition{s.newest_ms, s.agent, s.path};
  }
  return out;
}

}  // namespace ember::aggregator
