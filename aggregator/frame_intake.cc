#include "aggregator/frame_intake.h"

#include <algorithm>
#include <set>

#include <spdlog/spdlog.h>

#include "common/system.h"

namespace ember::aggregator {
namespace {

// A warning through `log`: at most its rate, with a note of how many were held back.
template <typename... Args>
void WarnLimited(LogLimiter& log, int64_t now_ms, fmt::format_string<Args...> format,
                 Args&&... args) {
  uint64_t suppressed = 0;
  if (!log.Allow(now_ms, &suppressed)) return;
  spdlog::warn("{}{}", fmt::format(format, std::forward<Args>(args)...),
               LogLimiter::SuppressedNote(suppressed));
}

}  // namespace

// Builds the lines of one slice of the pass's frames, then reads their stamps: on the
// matcher's threads, each slice's lines by the thread that matches them.
void FrameIntake::Pass::Prepare(size_t first, std::span<engine::InputLine> slice) {
  const std::vector<size_t>& starts = frame_first_line;
  // The frame holding line `first` (frames without lines have starts[f] == starts[f + 1]).
  size_t f =
      static_cast<size_t>(std::upper_bound(starts.begin(), starts.end(), first) - starts.begin()) -
      1;
  for (size_t i = 0; i < slice.size(); ++i) {
    const size_t at = first + i;
    while (at >= starts[f + 1]) ++f;
    const PendingFrame& p = frames[f];
    const wire::DataFrame& frame = p.frame;
    const size_t k = at - starts[f];
    engine::InputLine& in = slice[i];
    in = engine::InputLine{frame.lines[k],   p.host.empty() ? frame.host : std::string_view(p.host),
                           frame.path,       frame.read_time_ms,
                           frame.tag,        frame.start_offset,
                           frame.end_offset, p.sender};
    if (!frame.fields.empty()) in.journal = &frame.fields[k];
    streams[at] = p.parser;
  }
  stamps.Prepare(first, slice);
}

FrameIntake::FrameIntake(const AggregatorConfig& config, Receiver& receiver)
    : config_(config),
      receiver_(receiver),
      matcher_(std::make_unique<engine::ParallelMatcher>(static_cast<unsigned>(config.threads))),
      sessions_(static_cast<size_t>(config.max_agents), config.agent_expiry_ms),
      marks_(static_cast<size_t>(config.max_streams_per_agent),
             static_cast<size_t>(config.max_streams)),
      watermarks_(WatermarkOptions{
          config.allowed_lateness_ms, config.max_source_delay_ms, config.max_future_skew_ms,
          /*liveness_ms=*/3000, config.backfill_hold_ms, static_cast<size_t>(config.max_streams)}) {
}

FrameIntake::~FrameIntake() {
  if (matching_) matcher_->Finish();  // its threads read the lines of in_flight_
}

// Decides whether a frame is accepted (and acknowledged later) at once, in arrival order;
// the lines of accepted DATA frames wait in pending_ to be matched together.
void FrameIntake::Handle(Receiver::Message& message, engine::Engine& engine, int64_t now_ms) {
  ++messages_;
  const std::string_view frame = message.frame->to_string_view();
  const std::string& routing_id = message.routing_id;
  std::optional<uint8_t> version = wire::PeekVersion(frame);
  if (version && *version != wire::kWireVersion) {
    ++counters_.bad_frames;
    ++counters_.refused;
    const std::string reason = "wire version " + std::to_string(*version) +
                               " is not spoken here: ember-aggregator " EMBER_VERSION
                               " speaks version " +
                               std::to_string(wire::kWireVersion);
    WarnLimited(refusal_log_, now_ms, "Refused a peer{}: {}.",
                message.identity.empty() ? "" : " ('" + message.identity + "')", reason);
    receiver_.Send(routing_id, wire::EncodeRefused(reason));
    return;
  }
  Result<wire::FrameType> type = wire::PeekType(frame);
  if (type.ok() && *type == wire::FrameType::kHello) {
    ApplyPending(engine, now_ms);  // a session (re)opens after what came before it
    return HandleHello(routing_id, frame, message.identity, now_ms);
  }
  if (type.ok() && *type == wire::FrameType::kHeartbeat) {
    return HandleHeartbeat(routing_id, frame, now_ms);
  }
  if (type.ok() && *type != wire::FrameType::kData) {
    type = Status::InvalidArgument("frame type " + std::to_string(static_cast<int>(*type)) +
                                   " is not one an agent sends");
  }
  Result<wire::DataFrame> data =
      type.ok() ? wire::DecodeData(frame) : Result<wire::DataFrame>(type.status());
  if (!data.ok()) return BadFrame("frame", frame.size(), data.status(), now_ms);
  const std::string* agent = SessionOf(routing_id, now_ms);
  if (agent == nullptr) return;
  const wire::DataFrame& f = *data;
  const FrameDecision decision =
      marks_.Offer(routing_id, *agent, f.stream_id, f.origin_offset, f.start_offset, f.end_offset);
  if (decision.verdict == FrameVerdict::kRefused) {
    ++counters_.streams_refused;
    WarnLimited(refusal_log_, now_ms,
                "Dropped a frame of a new stream of agent '{}': the agent has "
                "max_streams_per_agent ({}) streams, or all agents max_streams ({}).",
                *agent, config_.max_streams_per_agent, config_.max_streams);
    return;
  }
  marks_.Seen(*agent, f.stream_id, now_ms);
  if (decision.verdict == FrameVerdict::kDuplicate) {
    ++counters_.duplicate_frames;
    return;
  }
  if (decision.verdict == FrameVerdict::kResend) {
    ++counters_.resend_requests;
    receiver_.Send(routing_id,
                   wire::EncodeOffsets(wire::FrameType::kNack, {{f.stream_id, decision.offset}}));
    return;
  }
  std::string stream = StreamMarks::Key(*agent, f.stream_id);
  // The stream's parser reads stamps without an offset in its agent's zone.
  auto zone = agent_zones_.find(*agent);
  const TimeZone* agent_zone = zone == agent_zones_.end() ? nullptr : zone->second;
  engine::StampStream* parser = nullptr;
  if (config_.time == TimeSource::kEvent) {
    parser =
        &parsers_
             .try_emplace(
                 stream, engine::StampStream{engine::EventTimeParser(CurrentYearUtc(), agent_zone)})
             .first->second;
  }
  watermarks_.Delivered(stream, *agent, std::string(f.path));
  // With CURVE the host is bound to the key: a host the key may not speak for (its name, or
  // its .hosts file) is replaced by the key's name, so no agent can raise or silence another
  // host's alerts.
  std::string host;
  if (!message.identity.empty() && !receiver_.HostAllowed(message.identity, f.host)) {
    host = message.identity;
    ++counters_.hosts_rewritten;
    WarnLimited(refusal_log_, now_ms,
                "Agent '{}' sent lines as host '{}', which its key may not speak for: they count "
                "as host '{}' (list the host in {}/{}.hosts to allow it).",
                message.identity, f.host, host, config_.security.authorized_keys_dir,
                message.identity);
  }
  accepted_bytes_ += f.end_offset - f.start_offset;
  counters_.bytes_in += f.end_offset - f.start_offset;
  ++counters_.frames_in;
  sessions_.NoteFrame(*agent, f, now_ms);
  pending_lines_ += f.lines.size();
  std::string sender = message.identity.empty() ? *agent : message.identity;
  pending_.push_back(PendingFrame{std::move(message.frame), std::move(*data), parser,
                                  std::move(stream), std::move(host), std::move(sender)});
  if (pending_lines_ >= kMaxPendingLines) StartPending(engine, now_ms);
}

void FrameIntake::NoteZone(const std::string& agent, const std::string& name, int64_t now_ms) {
  const TimeZone* zone = nullptr;  // UTC
  if (!name.empty() && name != "UTC" && name != "Etc/UTC") {
    auto known = zones_.find(name);
    if (known == zones_.end()) {
      Result<TimeZone> parsed = TimeZone::Parse(name);
      if (parsed.ok()) {
        known = zones_.emplace(name, std::move(*parsed)).first;
      } else {
        WarnLimited(refusal_log_, now_ms,
                    "Agent '{}' says its time zone is '{}', which this host cannot read ({}): "
                    "its stamps without an offset are read as UTC.",
                    agent, name, parsed.status().message());
      }
    }
    if (known != zones_.end()) zone = &known->second;
  }
  auto current = agent_zones_.find(agent);
  if ((current == agent_zones_.end() ? nullptr : current->second) == zone) return;
  if (zone == nullptr) {
    agent_zones_.erase(current);
  } else {
    agent_zones_[agent] = zone;
  }
  // Its streams' parsers were made for the old zone. (Nothing is pending: a HELLO applies
  // what came before it first.)
  const std::string prefix = agent + '\0';
  std::erase_if(parsers_, [&](const auto& p) { return p.first.rfind(prefix, 0) == 0; });
}

void FrameIntake::ForgetExpiredZones() {
  std::erase_if(agent_zones_,
                [&](const auto& entry) { return sessions_.agents().count(entry.first) == 0; });
}

const std::string* FrameIntake::SessionOf(const std::string& routing_id, int64_t now_ms) {
  const std::string* agent = sessions_.Find(routing_id, now_ms);
  if (agent == nullptr) {
    // The connection never said HELLO to this process (it restarted) or went quiet: its
    // frames may be old; drop them and ask for a new session, whose WELCOME tells the agent
    // where to go on.
    ++counters_.frames_without_session;
    receiver_.Send(routing_id, wire::EncodeHelloRequired());
    return nullptr;
  }
  watermarks_.Heard(*agent, now_ms);
  return agent;
}

void FrameIntake::BadFrame(std::string_view what, size_t bytes, const Status& why, int64_t now_ms) {
  ++counters_.bad_frames;
  WarnLimited(bad_frame_log_, now_ms, "Dropped a bad {} ({} bytes): {}", what, bytes,
              why.message());
}

// Where each stream of the agent stands: read to its end (it follows the agent's clock) or
// with more to read (it holds the watermark at its newest stamp).
void FrameIntake::HandleHeartbeat(const std::string& routing_id, std::string_view frame,
                                  int64_t now_ms) {
  Result<wire::Heartbeat> beat = wire::DecodeHeartbeat(frame);
  if (!beat.ok()) return BadFrame("HEARTBEAT", frame.size(), beat.status(), now_ms);
  const std::string* agent = SessionOf(routing_id, now_ms);
  if (agent == nullptr) return;
  for (bool at_end : {true, false}) {
    for (const wire::AckEntry& e : at_end ? beat->at_end : beat->behind) {
      const std::optional<uint64_t> mark = marks_.Mark(*agent, e.stream_id);
      const std::string key = StreamMarks::Key(*agent, e.stream_id);
      // A stream with more to read and nothing delivered: it holds the watermark a while.
      if (!at_end) watermarks_.Announced(key, *agent, now_ms);
      watermarks_.Heartbeat(key, at_end, mark == e.offset, beat->agent_now_ms, now_ms);
    }
  }
}

// Applies the accepted frames' lines to the engine in arrival order. The lines are matched
// together on the matcher's threads (each thread screens its share of them at once) and
// their matches applied in line order: the same result as line by line.
void FrameIntake::ApplyPending(engine::Engine& engine, int64_t now_ms) {
  StartPending(engine, now_ms);  // applies what is in flight, starts what is pending
  FinishInFlight(engine, now_ms);
}

void FrameIntake::StartPending(engine::Engine& engine, int64_t now_ms) {
  Pass* matched = nullptr;
  if (matching_) {
    matcher_->Finish();
    matching_ = false;
    matched = in_flight_;
  }
  if (!pending_.empty()) {
    // The other pass was applied when this one started (or is still empty).
    Pass& next = in_flight_ == &passes_[0] ? passes_[1] : passes_[0];
    next.frames.swap(pending_);
    pending_.clear();
    pending_lines_ = 0;
    next.frame_first_line.clear();
    std::vector<const engine::StampStream*> streams;
    size_t lines = 0;
    for (const PendingFrame& p : next.frames) {
      next.frame_first_line.push_back(lines);
      lines += p.frame.lines.size();
      if (p.parser != nullptr) streams.push_back(p.parser);
    }
    next.frame_first_line.push_back(lines);
    // Sized only (grown, never shrunk): the matcher's threads build the lines and read their
    // stamps (Pass::Prepare), then match them; this thread joins them in the next call.
    if (next.lines.size() < lines) {
      next.lines.resize(lines);
      next.streams.resize(lines);
    }
    next.line_count = lines;
    next.stamps.Begin(std::span<engine::StampStream* const>(next.streams.data(), lines), streams);
    matcher_->Start(engine.rules(), std::span<engine::InputLine>(next.lines.data(), lines), &next);
    matching_ = true;
    in_flight_ = &next;
  }
  // Meanwhile, the pass matched before goes into the engine (its partitions applied by this
  // thread, and by the workers between their slices).
  if (matched != nullptr) ApplyMatched(*matched, engine, now_ms);
}

void FrameIntake::FinishInFlight(engine::Engine& engine, int64_t now_ms) {
  if (!matching_) return;
  matcher_->Finish();
  matching_ = false;
  ApplyMatched(*in_flight_, engine, now_ms);
}

void FrameIntake::ApplyMatched(Pass& pass, engine::Engine& engine, int64_t now_ms) {
  const std::span<engine::InputLine> lines(pass.lines.data(), pass.line_count);
  pass.stamps.Settle(lines, *matcher_);
  int64_t oldest = INT64_MAX;
  size_t line = 0;
  for (const PendingFrame& p : pass.frames) {
    int64_t newest = INT64_MIN;
    for (size_t i = 0; i < p.frame.lines.size(); ++i, ++line) {
      engine::InputLine& in = lines[line];
      const int64_t clamped = watermarks_.ClampFuture(in.time_ms, now_ms);
      if (clamped != in.time_ms) {
        in.time_ms = clamped;
        matcher_->RetimeMatches(line);
      }
      newest = std::max(newest, in.time_ms);
      oldest = std::min(oldest, in.time_ms);
    }
    if (newest != INT64_MIN) watermarks_.Stamped(p.stream, newest);
  }
  // Lines older than the watermark allows may belong to a stream reading its backlog: the
  // floor, with their stream's newest stamp in it, decides whether they still count.
  engine.SetHistoryFloor(watermarks_.floor(), watermarks_.complete());
  if (engine.TooLate(oldest)) {
    watermarks_.Watermark(now_ms);
    engine.SetHistoryFloor(watermarks_.floor(), watermarks_.complete());
  }
  // Each drop as too late is told to the stream of its frame.
  std::vector<size_t>& too_late = too_late_lines_;
  too_late.clear();
  engine.RouteLines(lines, *matcher_, 0, &too_late);
  auto drop = too_late.begin();
  line = 0;
  for (const PendingFrame& p : pass.frames) {
    line += p.frame.lines.size();
    uint64_t dropped = 0;
    for (; drop != too_late.end() && *drop < line; ++drop) ++dropped;
    if (dropped != 0) watermarks_.TooLate(p.stream, dropped);
  }
  engine.ApplyRouted();
  pass.frames.clear();
}

// Opens a session for a connection and answers with its credit and the committed marks of
// the streams it names, so it resumes exactly there.
void FrameIntake::HandleHello(const std::string& routing_id, std::string_view frame,
                              const std::string& identity, int64_t now_ms) {
  Result<wire::Hello> hello = wire::DecodeHello(frame);
  if (!hello.ok()) return BadFrame("HELLO", frame.size(), hello.status(), now_ms);
  AgentSessions::Opened opened = sessions_.Hello(routing_id, *hello, identity, now_ms);
  if (opened.refusal.empty()) NoteZone(opened.agent, hello->time_zone, now_ms);
  if (!opened.refusal.empty()) {
    ++counters_.refused;
    receiver_.Send(routing_id, wire::EncodeRefused(opened.refusal));
    return;
  }
  ExpireStreams(opened.agent, hello->streams, now_ms);
  // A stream whose mark moved since the last checkpoint has frames of a previous process of
  // this agent beyond its committed mark. Told only the committed mark, the agent would send
  // those lines again in frames cut elsewhere, and be asked to go on from inside one of them.
  const bool moved = std::any_of(hello->streams.begin(), hello->streams.end(), [&](auto& s) {
    return marks_.Uncommitted(opened.agent, s.stream_id);
  });
  if (moved) {
    waiting_welcomes_[routing_id] = {opened.agent, hello->hello_seq, hello->streams};
    return;
  }
  waiting_welcomes_.erase(routing_id);
  receiver_.Send(routing_id,
                 wire::EncodeWelcome(WelcomeFor(opened.agent, hello->hello_seq, hello->streams)));
}

wire::Welcome FrameIntake::WelcomeFor(const std::string& agent, uint64_t hello_seq,
                                      const std::vector<wire::AckEntry>& streams) const {
  wire::Welcome welcome{hello_seq, static_cast<uint64_t>(config_.agent_credit_bytes), {}};
  for (const auto& s : streams) {
    if (auto mark = marks_.CommittedMark(agent, s.stream_id)) {
      welcome.marks.push_back({s.stream_id, *mark});
    }
  }
  return welcome;
}

void FrameIntake::SendWaitingWelcomes() {
  for (const auto& [routing_id, w] : waiting_welcomes_) {
    receiver_.Send(routing_id, wire::EncodeWelcome(WelcomeFor(w.agent, w.hello_seq, w.streams)));
  }
  waiting_welcomes_.clear();
}

// Streams the agent no longer names and that sent nothing for stream_expiry are forgotten, so
// the marks of rotated files do not pile up to max_streams_per_agent.
void FrameIntake::ExpireStreams(const std::string& agent,
                                const std::vector<wire::AckEntry>& announced, int64_t now_ms) {
  std::set<uint64_t> named;
  for (const auto& s : announced) named.insert(s.stream_id);
  const std::vector<std::string> expired =
      marks_.ExpireUnannounced(agent, named, now_ms, config_.stream_expiry_ms);
  for (const std::string& key : expired) {
    watermarks_.Forget(key);
    parsers_.erase(key);
  }
  if (expired.empty()) return;
  counters_.streams_expired += expired.size();
  spdlog::info(
      "Forgot {} stream(s) of agent '{}': it no longer names them and they sent nothing "
      "for {} s.",
      expired.size(), agent, config_.stream_expiry_ms / 1000);
}

}  // namespace ember::aggregator
