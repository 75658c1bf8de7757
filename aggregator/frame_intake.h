// FrameIntake: what the aggregator does with each message an agent sends, in arrival order.
// Another wire version is answered REFUSED; a HELLO opens a session (AgentSessions) and is
// answered WELCOME with the credit and the committed marks of the streams it names (after
// the next checkpoint when one of them moved since the last: a restarted agent then resumes
// where its previous process's frames ended, not inside one of them); a DATA frame on a
// connection without a session is answered HELLO_REQUIRED; otherwise the delivery rule
// (StreamMarks) accepts it, drops it as a duplicate or answers a NACK. Accepted lines wait
// until ApplyPending (or StartPending, overlapped with receiving the next frames) matches
// them on the worker threads and applies them to the engine in line order. HEARTBEATs and
// the lines' stamps move the streams' positions in event time (SourceWatermarks), from which
// the watermark comes. Repeated warnings (bad frames, refusals) are rate-limited. Not
// thread-safe; owned by the aggregator's pipeline thread.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "aggregator/agent_sessions.h"
#include "aggregator/aggregator_config.h"
#include "aggregator/monitoring.h"
#include "aggregator/receiver.h"
#include "aggregator/source_watermarks.h"
#include "aggregator/stream_marks.h"
#include "common/log_limiter.h"
#include "common/time_zone.h"
#include "engine/deferred_stamps.h"
#include "engine/engine.h"
#include "engine/event_time.h"
#include "engine/parallel_matcher.h"

namespace ember::aggregator {

class FrameIntake {
 public:
  // `config` and `receiver` must outlive the intake.
  FrameIntake(const AggregatorConfig& config, Receiver& receiver);
  ~FrameIntake();

  // Decides one message at `now_ms`; replies go out through the receiver.
  void Handle(Receiver::Message& message, engine::Engine& engine, int64_t now_ms);
  // HELLOs answered only after a checkpoint: the caller commits one soon, then calls
  // SendWaitingWelcomes (after a failed commit too: the committed marks are then older).
  bool welcomes_waiting() const { return !waiting_welcomes_.empty(); }
  void SendWaitingWelcomes();
  // Matches the accepted lines not applied yet and applies them to `engine`, in order: after
  // it every accepted line is in the engine (call before the engine closes batches, is
  // checkpointed or replaced).
  void ApplyPending(engine::Engine& engine, int64_t now_ms);
  // The same, overlapped: starts matching the accepted lines on the worker threads, applies
  // the lines whose matching started before meanwhile, and returns, so this thread can
  // receive the next frames while the workers match. The lines in flight are applied at the
  // next call of either (with the same engine).
  void StartPending(engine::Engine& engine, int64_t now_ms);

  AgentSessions& sessions() { return sessions_; }
  const AgentSessions& sessions() const { return sessions_; }
  StreamMarks& marks() { return marks_; }
  SourceWatermarks& watermarks() { return watermarks_; }
  const SourceWatermarks& watermarks() const { return watermarks_; }
  const FrameCounters& counters() const { return counters_; }
  // Forgets the zones of agents the sessions' table no longer knows (call after ExpireIdle).
  void ForgetExpiredZones();
  // Bytes accepted since the last ResetAccepted (the early-commit trigger).
  uint64_t accepted_bytes() const { return accepted_bytes_; }
  void ResetAccepted() { accepted_bytes_ = 0; }
  // Messages handled so far (of any kind): whether anything arrived since a given moment.
  uint64_t messages() const { return messages_; }
  // The matcher's threads, which also apply the engine's partitions (Engine::SetRunner).
  engine::TaskRunner& runner() { return *matcher_; }

 private:
  void ExpireStreams(const std::string& agent, const std::vector<wire::AckEntry>& announced,
                     int64_t now_ms);
  void HandleHello(const std::string& routing_id, std::string_view frame,
                   const std::string& identity, int64_t now_ms);
  void HandleHeartbeat(const std::string& routing_id, std::string_view frame, int64_t now_ms);
  // The WELCOME of `agent`'s HELLO `hello_seq` naming `streams`: credit and committed marks.
  wire::Welcome WelcomeFor(const std::string& agent, uint64_t hello_seq,
                           const std::vector<wire::AckEntry>& streams) const;
  // Records `agent`'s local zone, for its stamps without an offset (UTC when unknown, logged).
  void NoteZone(const std::string& agent, const std::string& name, int64_t now_ms);
  // The agent of the connection's session (now heard from), or null after answering
  // HELLO_REQUIRED when it has none.
  const std::string* SessionOf(const std::string& routing_id, int64_t now_ms);
  // Waits for the lines in flight to be matched and applies them (nothing when none are).
  void FinishInFlight(engine::Engine& engine, int64_t now_ms);
  struct Pass;
  // Applies the matched lines of `pass` to `engine`, in order, and empties it.
  void ApplyMatched(Pass& pass, engine::Engine& engine, int64_t now_ms);
  // Counts and logs (rate-limited) a frame that could not be decoded.
  void BadFrame(std::string_view what, size_t bytes, const Status& why, int64_t now_ms);

  // Lines accepted before the matcher's threads start on them: few enough that they match
  // one pass while this thread receives and decodes the next (with eight times as many, one
  // pass held all the lines between two early commits, and the workers idled while frames
  // arrived), enough to amortise waking them (16 slices).
  static constexpr size_t kMaxPendingLines = 8 * 1024;
  const AggregatorConfig& config_;
  Receiver& receiver_;
  std::unique_ptr<engine::ParallelMatcher> matcher_;
  AgentSessions sessions_;
  StreamMarks marks_;
  SourceWatermarks watermarks_;
  std::map<std::string, engine::StampStream> parsers_;  // by StreamMarks::Key
  // Agents' local zones, named in their HELLOs: the zones by name (only ones the zone
  // database has, so bounded by it), and each agent's (bounded by the sessions' table).
  std::map<std::string, TimeZone> zones_;
  std::map<std::string, const TimeZone*> agent_zones_;
  // Accepted DATA frames whose lines are not applied yet; each owns its message, which the
  // decoded views point into.
  struct PendingFrame {
    std::unique_ptr<zmq::message_t> message;
    wire::DataFrame frame;
    engine::StampStream* parser;  // the stream's, with event time; else null
    std::string stream;           // StreamMarks::Key
    std::string host;             // with CURVE, when the frame's host is not allowed
    std::string sender;           // its CURVE key's name, else the agent's name (evidence)
  };
  std::vector<PendingFrame> pending_;
  // The frames of one pass over the socket, from the start of their matching until they are
  // applied: their lines (the first line_count, sized only), the stream whose stamp each
  // line waits for (or null), the index of each frame's first line (then the total), and
  // their stamps. There are two: one is matched while the one before is applied. As a
  // LinePrep, it builds the lines of each slice on the matcher's threads, then reads their
  // stamps.
  struct Pass final : engine::LinePrep {
    void Prepare(size_t first, std::span<engine::InputLine> lines) override;
    std::vector<PendingFrame> frames;
    std::vector<engine::InputLine> lines;
    std::vector<engine::StampStream*> streams;
    std::vector<size_t> frame_first_line;
    size_t line_count = 0;
    // Stamps are read on the matcher's threads; a line without one keeps its arrival time.
    engine::DeferredStamps stamps{engine::DeferredStamps::Unstamped::kAsGiven};
  };
  Pass passes_[2];
  Pass* in_flight_ = &passes_[0];  // the pass being matched, when matching_
  bool matching_ = false;
  std::vector<size_t> too_late_lines_;  // ApplyMatched: the lines routing dropped as too late
  // HELLOs waiting for the next checkpoint, by routing id: one per connection (the latest),
  // all answered at the next commit, which the first one waiting brings on at once.
  struct WaitingWelcome {
    std::string agent;
    uint64_t hello_seq = 0;
    std::vector<wire::AckEntry> streams;
  };
  std::map<std::string, WaitingWelcome> waiting_welcomes_;
  size_t pending_lines_ = 0;
  FrameCounters counters_;
  uint64_t accepted_bytes_ = 0;
  uint64_t messages_ = 0;
  LogLimiter bad_frame_log_;
  LogLimiter refusal_log_;
};

}  // namespace ember::aggregator
