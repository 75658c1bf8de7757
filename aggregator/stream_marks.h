// StreamMarks: the delivery rule of DATA frames and the ACK bookkeeping. Each stream (an
// agent identity and its random stream id) has a high-water mark: the offset up to which its
// lines were accepted. A frame is accepted only where the mark stands (or, for a stream never
// seen, at its origin); a frame wholly below the mark is a resend of what was counted and is
// acknowledged again; anything else is answered with a NACK from the mark (go-back-N).
// Accepted marks become committed with the checkpoint that holds them; only then are the ACKs
// owed sent, and only committed marks are told to agents in WELCOME.
// Pure: no I/O, no clock. Not thread-safe; owned by the aggregator's pipeline thread.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "common/wire.h"

namespace ember::aggregator {

enum class FrameVerdict {
  kAccept,     // apply its lines; `offset` is the new mark (the frame's end)
  kDuplicate,  // drop it; `offset` (the mark) is acknowledged again with the next commit
  kResend,     // drop it; send a NACK asking for the stream from `offset`
  kRefused,    // drop it: a new stream beyond max_streams_per_agent or max_streams
};

struct FrameDecision {
  FrameVerdict verdict;
  uint64_t offset;
  bool operator==(const FrameDecision&) const = default;
};

class StreamMarks {
 public:
  // Each agent has at most `max_streams_per_agent` streams with a mark, all agents together
  // at most `max_streams`.
  explicit StreamMarks(size_t max_streams_per_agent = 10'000, size_t max_streams = 100'000)
      : max_streams_per_agent_(max_streams_per_agent), max_streams_(max_streams) {}

  // The key of a stream in the checkpoint: "<agent>\0<stream id in decimal>".
  static std::string Key(const std::string& agent, uint64_t stream_id);

  // The committed marks of a recovered checkpoint. Call before the first Offer.
  void Restore(std::map<std::string, uint64_t> committed);

  // Decides a DATA frame [start, end) of `agent`'s stream `stream_id`, which began at
  // `origin`, received on connection `routing_id`. Accepting moves the mark and owes that
  // connection an ACK of `end`; a duplicate owes it an ACK of the mark.
  // REQUIRES: origin <= start <= end (the wire decoder refuses anything else).
  FrameDecision Offer(const std::string& routing_id, const std::string& agent, uint64_t stream_id,
                      uint64_t origin, uint64_t start, uint64_t end);

  // The accepted mark of a stream (where its next frame must start), if it has one.
  std::optional<uint64_t> Mark(const std::string& agent, uint64_t stream_id) const;
  // The committed mark of a stream (for WELCOME), if it has one.
  std::optional<uint64_t> CommittedMark(const std::string& agent, uint64_t stream_id) const;
  // Whether the stream's mark moved since the last commit (it is ahead of CommittedMark).
  bool Uncommitted(const std::string& agent, uint64_t stream_id) const {
    return moved_.count(Key(agent, stream_id)) != 0;
  }
  // Marks moved since the last commit, by Key(): what the next checkpoint writes.
  const std::map<std::string, uint64_t>& moved() const { return moved_; }
  // ACKs owed, by routing id (frames accepted or resent since the last commit).
  bool acks_owed() const { return !acks_.empty(); }

  // The checkpoint holding moved() is durable: those marks become committed. Returns the ACKs
  // to send, by routing id (each stream once, at the highest offset owed).
  std::map<std::string, std::vector<wire::AckEntry>> Committed();

  size_t streams() const { return marks_.size(); }

  // Expiry of streams an agent is done with (a rotated file read to its end and deleted): a
  // frame of the stream was accepted or acknowledged again at `now_ms`.
  void Seen(const std::string& agent, uint64_t stream_id, int64_t now_ms);
  // After a HELLO of `agent` naming `announced`: its streams not named and not Seen for
  // `idle_ms` are forgotten (a stream not seen since this process started counts as seen at
  // the first call). Their marks go; the next checkpoint deletes them (forgotten()). Returns
  // their keys. A stream forgotten wrongly costs no loss: the agent's next frame is answered
  // from the stream's origin, and lines older than max_lateness are dropped as too late.
  std::vector<std::string> ExpireUnannounced(const std::string& agent,
                                             const std::set<uint64_t>& announced, int64_t now_ms,
                                             int64_t idle_ms);
  // Streams forgotten since the last commit, by Key().
  const std::set<std::string>& forgotten() const { return forgotten_; }

 private:
  size_t max_streams_per_agent_;
  size_t max_streams_;
  std::map<std::string, size_t> streams_of_agent_;
  std::map<std::string, uint64_t> marks_;                     // accepted, by Key()
  std::map<std::string, uint64_t> committed_;                 // as of the last checkpoint
  std::map<std::string, uint64_t> moved_;                     // accepted since the last checkpoint
  std::map<std::string, std::map<uint64_t, uint64_t>> acks_;  // routing id -> stream -> offset
  std::map<std::string, int64_t> seen_;                       // by Key(): last frame accepted
  std::set<std::string> forgotten_;                           // expired since the last commit
};

}  // namespace ember::aggregator
