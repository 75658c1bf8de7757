#include "aggregator/stream_marks.h"

#include <algorithm>
#include <charconv>

namespace ember::aggregator {

std::string StreamMarks::Key(const std::string& agent, uint64_t stream_id) {
  return agent + '\0' + std::to_string(stream_id);
}

void StreamMarks::Restore(std::map<std::string, uint64_t> committed) {
  streams_of_agent_.clear();
  for (const auto& [key, offset] : committed) ++streams_of_agent_[key.substr(0, key.find('\0'))];
  marks_ = committed;
  committed_ = std::move(committed);
  moved_.clear();
  acks_.clear();
}

FrameDecision StreamMarks::Offer(const std::string& routing_id, const std::string& agent,
                                 uint64_t stream_id, uint64_t origin, uint64_t start,
                                 uint64_t end) {
  const std::string key = Key(agent, stream_id);
  auto mark = marks_.find(key);
  if (mark == marks_.end()) {
    // A stream never seen must start at its origin: a later frame means the first ones were
    // lost (with a crashed aggregator, say).
    if (start != origin) return {FrameVerdict::kResend, origin};
    if (marks_.size() >= max_streams_) return {FrameVerdict::kRefused, 0};
    size_t& streams = streams_of_agent_[agent];
    if (streams >= max_streams_per_agent_) return {FrameVerdict::kRefused, 0};
    ++streams;
  } else if (start != mark->second) {
    // Below the mark: a resend of what was counted (an ACK did not reach the agent). Past or
    // straddling it: lines are missing or would count twice.
    if (end <= mark->second) {
      uint64_t& ack = acks_[routing_id][stream_id];
      ack = std::max(ack, mark->second);
      return {FrameVerdict::kDuplicate, mark->second};
    }
    return {FrameVerdict::kResend, mark->second};
  }
  marks_[key] = end;
  moved_[key] = end;
  forgotten_.erase(key);
  uint64_t& ack = acks_[routing_id][stream_id];
  ack = std::max(ack, end);
  return {FrameVerdict::kAccept, end};
}

std::optional<uint64_t> StreamMarks::Mark(const std::string& agent, uint64_t stream_id) const {
  auto it = marks_.find(Key(agent, stream_id));
  if (it == marks_.end()) return std::nullopt;
  return it->second;
}

std::optional<uint64_t> StreamMarks::CommittedMark(const std::string& agent,
                                                   uint64_t stream_id) const {
  auto it = committed_.find(Key(agent, stream_id));
  if (it == committed_.end()) return std::nullopt;
  return it->second;
}

std::map<std::string, std::vector<wire::AckEntry>> StreamMarks::Committed() {
  for (const auto& [key, offset] : moved_) committed_[key] = offset;
  moved_.clear();
  forgotten_.clear();
  std::map<std::string, std::vector<wire::AckEntry>> out;
  for (const auto& [routing_id, streams] : acks_) {
    auto& entries = out[routing_id];
    for (const auto& [stream_id, offset] : streams) entries.push_back({stream_id, offset});
  }
  acks_.clear();
  return out;
}

void StreamMarks::Seen(const std::string& agent, uint64_t stream_id, int64_t now_ms) {
  seen_[Key(agent, stream_id)] = now_ms;
}

std::vector<std::string> StreamMarks::ExpireUnannounced(const std::string& agent,
                                                        const std::set<uint64_t>& announced,
                                                        int64_t now_ms, int64_t idle_ms) {
  const std::string prefix = agent + '\0';
  std::vector<std::string> expired;
  for (auto it = marks_.lower_bound(prefix);
       it != marks_.end() && it->first.compare(0, prefix.size(), prefix) == 0;) {
    const std::string& key = it->first;
    uint64_t stream_id = 0;
    const char* digits = key.data() + prefix.size();
    const bool numeric =
        std::from_chars(digits, key.data() + key.size(), stream_id).ec == std::errc();
    auto seen = seen_.try_emplace(key, now_ms).first;
    if (!numeric || announced.count(stream_id) != 0 || now_ms - seen->second < idle_ms) {
      ++it;
      continue;
    }
    seen_.erase(seen);
    committed_.erase(key);
    moved_.erase(key);
    forgotten_.insert(key);
    expired.push_back(key);
    if (--streams_of_agent_[agent] == 0) streams_of_agent_.erase(agent);
    it = marks_.erase(it);
  }
  return expired;
}

}  // namespace ember::aggregator
