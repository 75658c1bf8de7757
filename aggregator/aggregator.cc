#include "aggregator/aggregator.h"

#include <signal.h>
#include <sys/inotify.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstring>
#include <deque>
#include <map>
#include <set>

#include <nlohmann/json.hpp>
#include <spdlog/spdlog.h>
#include <zmq.hpp>
#include <zmq_addon.hpp>

#include "aggregator/alert_dispatcher.h"
#include "aggregator/live_view.h"
#include "aggregator/metrics_page.h"
#include "aggregator/sinks/alert_sink.h"
#include "aggregator/zap_handler.h"
#include "common/crash_point.h"
#include "common/curve_keys.h"
#include "common/http_server.h"
#include "common/metrics.h"
#include "common/system.h"
#include "common/systemd_notifier.h"
#include "common/wire.h"
#include "engine/checkpoint_store.h"
#include "engine/engine.h"
#include "engine/event_time.h"
#include "engine/parallel_matcher.h"
#include "rules/rule_warnings.h"

namespace ember::aggregator {
namespace {

Result<std::shared_ptr<const rules::RuleSet>> LoadRules(const AggregatorConfig& config) {
  rules::Diagnostics diagnostics;
  rules::RuleSetOptions options;
  options.batch_interval_ms = config.engine.batch_interval_ms;
  auto set = rules::RuleSet::Load(config.rules_dir, options, &diagnostics);
  for (const auto& d : diagnostics) spdlog::error("{}", d);
  if (set.ok()) {
    for (const auto& w : rules::RuleWarnings((*set)->rules())) spdlog::warn("{}", w);
  }
  return set;
}

class Server {
 public:
  Server(const AggregatorConfig& config, std::unique_ptr<engine::CheckpointStore> store,
         std::vector<std::unique_ptr<AlertSink>> sinks, int signal_fd, SystemdNotifier& notifier)
      : config_(config),
        store_(std::move(store)),
        dispatcher_(std::move(sinks)),
        signal_fd_(signal_fd),
        notifier_(notifier),
        socket_(context_, zmq::socket_type::router),
        matcher_(std::make_unique<engine::ParallelMatcher>(
            static_cast<unsigned>(config.match_threads))) {}

  ~Server() {
    if (rules_watch_fd_ >= 0) ::close(rules_watch_fd_);
  }

  Status Start(std::shared_ptr<const rules::RuleSet> rules) {
    Status s = InstallRules(std::move(rules));
    if (!s.ok()) return s;
    if (config_.security.curve()) {
      s = EnableCurve();
      if (!s.ok()) return s;
    }
    try {
      socket_.set(zmq::sockopt::maxmsgsize, static_cast<int64_t>(wire::kMaxFrameBytes));
      socket_.set(zmq::sockopt::linger, 0);
      socket_.set(zmq::sockopt::rcvhwm, 1000);
      // ZMTP heartbeats drop connections of agents that died without closing them.
      socket_.set(zmq::sockopt::heartbeat_ivl, 2000);
      socket_.set(zmq::sockopt::heartbeat_timeout, 6000);
      socket_.bind(config_.listen);
    } catch (const zmq::error_t& e) {
      return Status::Unavailable("cannot listen on '" + config_.listen + "': " + e.what());
    }
    WatchRulesDir();
    if (!config_.http_listen.empty()) {
      auto http = HttpServer::Start(config_.http_listen,
                                    [this](const HttpRequest& r) { return ServeHttp(r); });
      if (!http.ok()) {
        return http.status().WithContext("http_listen (set it to \"\" to turn it off)");
      }
      http_ = std::move(*http);
      spdlog::info("Serving /metrics on http://{}/metrics.", config_.http_listen);
    }
    PublishMetrics();
    std::set<std::string> firing;
    for (size_t i = 0; i < engine_->rules().rules().size(); ++i) {
      for (const auto& [key, state] : engine_->window(i).states()) {
        if (state.phase == engine::KeyPhase::kFiring) firing.insert(state.alert_id);
      }
    }
    dispatcher_.RestoreFiring(firing, *store_);
    dispatcher_.Deliver(*store_);  // alerts a crash left between commit and delivery
    spdlog::info("ember-aggregator listening on '{}' with {} rules; state in '{}'.", config_.listen,
                 engine_->rules().rules().size(), config_.state_dir);
    return Status::Ok();
  }

  void Run() {
    const int64_t batch = config_.engine.batch_interval_ms;
    // Ticks fall when a batch may close: its end plus the allowed lateness. (Ticking on batch
    // boundaries instead would hold every alert up to one more batch interval.)
    const int64_t lateness = config_.allowed_lateness_ms;
    auto next_tick_after = [&](int64_t now) {
      return ((now - lateness) / batch + 1) * batch + lateness;
    };
    int64_t next_tick = next_tick_after(WallClockMs());
    notifier_.Ready("Listening on " + config_.listen + " with " +
                    std::to_string(engine_->rules().rules().size()) + " rules");
    while (!stopping_) {
      notifier_.WatchdogIfDue(WallClockMs());
      int64_t wait = std::max<int64_t>(0, next_tick - WallClockMs());
      if (notifier_.watchdog_interval_ms() > 0) {
        wait = std::min(wait, notifier_.watchdog_interval_ms());
      }
      if (rules_changed_ms_ > 0)
        wait = std::min(wait, std::max<int64_t>(0, rules_changed_ms_ + 500 - WallClockMs()));
      zmq::pollitem_t items[] = {{socket_.handle(), 0, ZMQ_POLLIN, 0},
                                 {nullptr, signal_fd_, ZMQ_POLLIN, 0},
                                 {nullptr, rules_watch_fd_, ZMQ_POLLIN, 0}};
      try {
        zmq::poll(items, rules_watch_fd_ >= 0 ? 3 : 2, std::chrono::milliseconds(wait));
      } catch (const zmq::error_t& e) {
        if (e.num() != EINTR) spdlog::error("Polling failed: {}", e.what());
      }
      if (items[1].revents & ZMQ_POLLIN) HandleSignal();
      if (rules_watch_fd_ >= 0 && (items[2].revents & ZMQ_POLLIN)) {
        char events[4096];
        while (::read(rules_watch_fd_, events, sizeof events) > 0) {
        }
        // Editors write in several steps: reload once the directory has been quiet 500 ms.
        rules_changed_ms_ = WallClockMs();
      }
      if (rules_changed_ms_ > 0 && WallClockMs() - rules_changed_ms_ >= 500) {
        rules_changed_ms_ = 0;
        spdlog::info("The rules directory '{}' changed.", config_.rules_dir);
        Reload();
      }
      if (items[0].revents & ZMQ_POLLIN) ReceiveFrames();
      // Agents may not read more than their credit ahead of ACKs, and ACKs follow commits:
      // under a heavy stream, commit (and acknowledge) early rather than once a batch, so
      // throughput is not capped at credit / batch_interval.
      // (After a failed commit — a full disk — at most every 50 ms, not in a loop.)
      if (accepted_bytes_ >= static_cast<uint64_t>(config_.agent_credit_bytes) / 4 &&
          (checkpoint_failures_ == failures_at_last_commit_ ||
           WallClockMs() - last_early_commit_ms_ >= 50)) {
        failures_at_last_commit_ = checkpoint_failures_;
        last_early_commit_ms_ = WallClockMs();
        Tick(/*force=*/true);
      }
      if (WallClockMs() >= next_tick) {
        auto started = std::chrono::steady_clock::now();
        Tick();
        batch_processing_.Observe(SecondsSince(started));
        last_processing_ms_ = SecondsSince(started) * 1000;
        PublishMetrics();
        next_tick = next_tick_after(WallClockMs());
      }
    }
    notifier_.Stopping();
    // Take what already arrived, checkpoint it, and give the ACKs a moment to leave, so a
    // stop followed by a start neither loses nor repeats anything (and agents stop waiting).
    ReceiveFrames();
    Tick(/*force=*/true);
    http_.reset();
    try {
      socket_.set(zmq::sockopt::linger, 1000);
    } catch (const zmq::error_t&) {
    }
    const engine::EngineStats& st = engine_->stats();
    spdlog::info(
        "Stopped after a last checkpoint: {} lines, {} matches, {} alerts firing, {} "
        "resolved, {} late, {} bad frames, {} duplicate frames dropped, {} resends requested.",
        st.lines, st.matches, st.alerts_firing, st.alerts_resolved, st.late_lines, bad_frames_,
        duplicate_frames_, resend_requests_);
  }

 private:
  // Binds the ZAP handler first (without it libzmq would let any key in), then makes the
  // socket a CURVE server.
  Status EnableCurve() {
    Result<CurveKeyPair> keys = ReadCurveKeyFile(config_.security.curve_key_file);
    if (!keys.ok()) return keys.status();
    auto authorized = ReadAuthorizedKeys(config_.security.authorized_keys_dir);
    if (!authorized.ok()) return authorized.status();
    auto zap = ZapHandler::Start(context_, *authorized);
    if (!zap.ok()) return zap.status();
    zap_ = std::move(*zap);
    try {
      socket_.set(zmq::sockopt::zap_domain, "ember");
      socket_.set(zmq::sockopt::curve_server, true);
      socket_.set(zmq::sockopt::curve_secretkey, keys->secret_z85);
    } catch (const zmq::error_t& e) {
      return Status::Unavailable(std::string("cannot enable CURVE: ") + e.what());
    }
    spdlog::info("CURVE on: {} authorized agent keys in '{}'.", authorized->size(),
                 config_.security.authorized_keys_dir);
    return Status::Ok();
  }

  // inotify on the rules directory (or the single rules file's directory): a change reloads
  // the rules as SIGHUP does. Without inotify, SIGHUP still works (logged).
  void WatchRulesDir() {
    rules_watch_fd_ = ::inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
    if (rules_watch_fd_ < 0) {
      spdlog::warn("Cannot watch '{}' for changes (reload with SIGHUP): {}", config_.rules_dir,
                   std::strerror(errno));
      return;
    }
    struct stat st;
    std::string dir = config_.rules_dir;
    if (::stat(dir.c_str(), &st) == 0 && !S_ISDIR(st.st_mode)) {
      dir = dir.substr(0, dir.rfind('/') == std::string::npos ? 0 : dir.rfind('/'));
      if (dir.empty()) dir = ".";
    }
    if (::inotify_add_watch(rules_watch_fd_, dir.c_str(),
                            IN_CLOSE_WRITE | IN_MOVED_TO | IN_MOVED_FROM | IN_DELETE | IN_CREATE) <
        0) {
      spdlog::warn("Cannot watch '{}' for changes (reload with SIGHUP): {}", dir,
                   std::strerror(errno));
      ::close(rules_watch_fd_);
      rules_watch_fd_ = -1;
    }
  }

  Status InstallRules(std::shared_ptr<const rules::RuleSet> rules) {
    auto engine = std::make_unique<engine::Engine>(rules, config_.engine);
    Result<engine::Snapshot> snap =
        store_->Recover(*rules, config_.engine.batch_interval_ms, &engine->restore_sink());
    if (!snap.ok()) return snap.status().WithContext("state directory '" + config_.state_dir + "'");
    for (const auto& name : snap->reset_rules) {
      spdlog::warn(
          "Rule '{}' changed or was removed since the last checkpoint; its window "
          "state starts empty.",
          name);
    }
    if (!snap->empty) {
      engine->FinishRestore(snap->closed_until, snap->key_states);
      spdlog::info("Recovered {} partial counts and {} firing keys up to batch {}.",
                   engine->restored_partials(), snap->key_states.size(), snap->closed_until);
    }
    if (offsets_.empty()) offsets_ = committed_offsets_ = snap->offsets;
    Status s = store_->Stamp(*rules, config_.engine.batch_interval_ms);
    if (!s.ok()) return s;
    engine_ = std::move(engine);
    return Status::Ok();
  }

  void HandleSignal() {
    signalfd_siginfo info;
    while (::read(signal_fd_, &info, sizeof info) == sizeof info) {
      if (info.ssi_signo == SIGHUP) {
        Reload();
      } else {
        spdlog::info("Received signal {}; stopping.", info.ssi_signo);
        stopping_ = true;
      }
    }
  }

  void Reload() {
    notifier_.Reloading();
    ReloadNow();
    notifier_.Ready("Listening on " + config_.listen + " with " +
                    std::to_string(engine_->rules().rules().size()) + " rules");
  }

  void ReloadNow() {
    spdlog::info("SIGHUP: reloading rules from '{}' and reopening outputs.", config_.rules_dir);
    dispatcher_.Reopen();
    if (zap_) {
      auto authorized = ReadAuthorizedKeys(config_.security.authorized_keys_dir);
      if (authorized.ok()) {
        zap_->SetAuthorized(*authorized);
        spdlog::info("Reloaded {} authorized agent keys.", authorized->size());
      } else {
        spdlog::error("Kept the authorized keys in force: {}", authorized.status().message());
      }
    }
    Result<std::shared_ptr<const rules::RuleSet>> rules = LoadRules(config_);
    if (!rules.ok()) {
      spdlog::error("Kept the rules in force: {}.", rules.status().message());
      last_reload_error_ = rules.status().message();
      ++reload_failures_;
      return;
    }
    last_reload_error_.clear();
    Tick(/*force=*/true);  // commit the current state; the new engine starts from it
    if (!uncommitted_.empty()) {
      spdlog::error("Kept the rules in force: the current state could not be checkpointed.");
      return;
    }
    // What the reload does to each rule: unchanged rules keep their state (same digest).
    std::map<std::string, std::string> before;
    for (const auto& r : engine_->rules().rules()) before[r.name] = r.digest;
    std::vector<std::string> kept, changed, added;
    for (const auto& r : (*rules)->rules()) {
      auto it = before.find(r.name);
      if (it == before.end()) {
        added.push_back(r.name);
      } else {
        (it->second == r.digest ? kept : changed).push_back(r.name);
        before.erase(it);
      }
    }
    auto previous = std::move(engine_);
    Status s = InstallRules(*rules);
    if (!s.ok()) {
      spdlog::error("Kept the rules in force: {}", s.message());
      engine_ = std::move(previous);
      return;
    }
    std::vector<std::string> removed;
    for (const auto& [name, digest] : before) removed.push_back(name);
    auto names = [](const std::vector<std::string>& v) {
      std::string out;
      for (const auto& n : v) out += (out.empty() ? "" : ", ") + n;
      return v.empty() ? std::string("none") : out;
    };
    spdlog::info(
        "Loaded {} rules: kept with their state: {}; changed (state reset): {}; added: {}; "
        "removed: {}.",
        engine_->rules().rules().size(), names(kept), names(changed), names(added), names(removed));
  }

  void ReceiveFrames() {
    ReceiveFrameBatch();
    ProcessPending();  // nothing accepted stays unapplied past this call
  }

  void ReceiveFrameBatch() {
    // A bounded number per call, so a flood cannot delay batch ticks; and back to the loop
    // once a quarter of the credit was accepted, so it is committed and acknowledged while the
    // agents read on (draining all of it first would make them wait in lockstep).
    for (int i = 0; i < 256; ++i) {
      zmq::message_t routing_id, frame, extra;
      try {
        if (!socket_.recv(routing_id, zmq::recv_flags::dontwait)) return;
        // One frame per message: the parts of a malformed message are drained one at a time,
        // so a message of a million tiny parts costs no memory.
        size_t parts = 0;
        if (routing_id.more()) {
          (void)socket_.recv(frame);
          ++parts;
          for (bool more = frame.more(); more; more = extra.more()) {
            (void)socket_.recv(extra);
            ++parts;
          }
        }
        if (parts != 1) {
          ++bad_frames_;
          spdlog::warn("Dropped a message of {} parts (expected one frame).", parts);
          continue;
        }
      } catch (const zmq::error_t& e) {
        spdlog::error("Receiving failed: {}", e.what());
        return;
      }
      // With CURVE the agent's identity is the name of its authenticated key, never what the
      // payload claims.
      std::string identity;
      if (zap_) {
        try {
          identity = frame.gets("User-Id");
        } catch (const zmq::error_t&) {
        }
      }
      HandleFrame(routing_id.to_string(), std::make_unique<zmq::message_t>(std::move(frame)),
                  identity);
    }
  }

  // Decides whether a frame is accepted (and acknowledged later) at once, in arrival order;
  // the lines of accepted DATA frames wait in pending_ to be matched together.
  void HandleFrame(const std::string& routing_id, std::unique_ptr<zmq::message_t> message,
                   const std::string& identity) {
    const std::string_view frame = message->to_string_view();
    std::optional<uint8_t> version = wire::PeekVersion(frame);
    if (version && *version != wire::kWireVersion) {
      ++bad_frames_;
      ++refused_;
      const std::string reason = "wire version " + std::to_string(*version) +
                                 " is not spoken here: ember-aggregator " EMBER_VERSION
                                 " speaks version " +
                                 std::to_string(wire::kWireVersion);
      spdlog::warn("Refused a peer{}: {}.", identity.empty() ? "" : " ('" + identity + "')",
                   reason);
      Send(routing_id, wire::EncodeRefused(reason));
      return;
    }
    Result<wire::FrameType> type = wire::PeekType(frame);
    if (type.ok() && *type == wire::FrameType::kHello) {
      ProcessPending();  // a session (re)opens after what came before it
      return HandleHello(routing_id, frame, identity);
    }
    if (type.ok() && *type != wire::FrameType::kData) {
      type = Status::InvalidArgument("frame type " + std::to_string(static_cast<int>(*type)) +
                                     " is not one an agent sends");
    }
    Result<wire::DataFrame> data =
        type.ok() ? wire::DecodeData(frame) : Result<wire::DataFrame>(type.status());
    if (!data.ok()) {
      ++bad_frames_;
      spdlog::warn("Dropped a bad frame ({} bytes): {}", frame.size(), data.status().message());
      return;
    }
    auto session = sessions_.find(routing_id);
    if (session == sessions_.end()) {
      // The connection never said HELLO to this process (it restarted): its frames may be
      // old; drop them and ask for a new session, whose WELCOME tells the agent where to go on.
      ++frames_without_session_;
      Send(routing_id, wire::EncodeHelloRequired());
      return;
    }
    session->second.last_ms = WallClockMs();
    const wire::DataFrame& f = *data;
    const std::string& agent_name = session->second.agent;
    // Streams are the agent's (its key's name, or the name it said HELLO with) file
    // identities (its random stream id).
    std::string stream = agent_name + '\0' + std::to_string(f.stream_id);
    auto mark = offsets_.find(stream);
    // A stream never seen must start at its origin: a later frame means the first ones were
    // lost (with a crashed aggregator, say), so ask for the stream from its origin.
    if (mark == offsets_.end() && f.start_offset != f.origin_offset) {
      ++resend_requests_;
      SendOffsets(routing_id, wire::FrameType::kNack, {{f.stream_id, f.origin_offset}});
      return;
    }
    // Accept a frame only where the stream's high-water mark stands: below it the frame is a
    // resend of what was already counted; past it, or straddling it, lines are missing or
    // would count twice, so ask for the stream again from the mark (go-back-N).
    if (mark != offsets_.end() && f.start_offset != mark->second) {
      if (f.end_offset <= mark->second) {
        ++duplicate_frames_;
        // Acknowledge again: the agent resent because an ACK did not reach it.
        uint64_t& ack = acks_[routing_id][f.stream_id];
        ack = std::max(ack, mark->second);
      } else {
        ++resend_requests_;
        SendOffsets(routing_id, wire::FrameType::kNack, {{f.stream_id, mark->second}});
      }
      return;
    }
    engine::EventTimeParser* parser = nullptr;
    if (config_.time == TimeSource::kEvent) {
      auto it = parsers_.try_emplace(stream, CurrentYearUtc()).first;
      parser = &it->second;
    }
    offsets_[stream] = f.end_offset;
    acks_[routing_id][f.stream_id] = f.end_offset;
    accepted_bytes_ += f.end_offset - f.start_offset;
    AgentStats& agent = agents_[agent_name];
    agent.last_seen_ms = WallClockMs();
    agent.lag_ms = agent.last_seen_ms - f.read_time_ms;
    ++agent.frames;
    agent.lines += f.lines.size();
    agent.bytes += f.end_offset - f.start_offset;
    agent.streams.insert(f.stream_id);
    bytes_in_ += f.end_offset - f.start_offset;
    ++frames_in_;
    pending_lines_ += f.lines.size();
    pending_.push_back(PendingFrame{std::move(message), std::move(*data), parser});
    if (pending_lines_ >= kMaxPendingLines) ProcessPending();
  }

  // Applies the accepted frames' lines to the engine in arrival order. The lines are matched
  // together on the matcher's threads (each thread screens its share of them at once) and
  // their matches applied in line order: the same result as line by line.
  void ProcessPending() {
    if (pending_.empty()) return;
    batch_lines_.clear();
    for (const PendingFrame& p : pending_) {
      const wire::DataFrame& f = p.frame;
      for (size_t i = 0; i < f.lines.size(); ++i) {
        engine::InputLine in{f.lines[i], f.host,         f.path,      f.read_time_ms,
                             f.tag,      f.start_offset, f.end_offset};
        if (p.parser != nullptr) {
          if (auto t = p.parser->Parse(in.text)) in.time_ms = *t;
        }
        batch_lines_.push_back(in);
      }
    }
    matcher_->Match(engine_->rules(), batch_lines_);
    for (size_t i = 0; i < batch_lines_.size(); ++i) {
      engine_->IngestMatched(batch_lines_[i], matcher_->MatchesOf(i));
    }
    pending_.clear();
    pending_lines_ = 0;
  }

  // Opens a session for a connection: records who the agent is and answers with its credit
  // and the high-water marks of the streams it names, so it resumes exactly there.
  void HandleHello(const std::string& routing_id, std::string_view frame,
                   const std::string& identity) {
    Result<wire::Hello> hello = wire::DecodeHello(frame);
    if (!hello.ok()) {
      ++bad_frames_;
      spdlog::warn("Dropped a bad HELLO ({} bytes): {}", frame.size(), hello.status().message());
      return;
    }
    const std::string name = identity.empty() ? hello->agent : identity;
    if (name.empty() || name.find('\0') != std::string::npos) {
      ++refused_;
      Send(routing_id, wire::EncodeRefused("the agent name is empty or contains a NUL byte"));
      return;
    }
    AgentStats& agent = agents_[name];
    if (agent.epoch != 0 && agent.epoch != hello->epoch) {
      ++new_epochs_;
      spdlog::warn(
          "Agent '{}' came back with a new epoch (its state directory was lost or replaced): "
          "its files are new streams, read again as its read_from says.",
          name);
    }
    if (agent.epoch != hello->epoch || agent.version != hello->software_version) {
      spdlog::info("Agent '{}' (host '{}', ember-agent {}) opened a session with {} streams.", name,
                   hello->host, hello->software_version, hello->streams.size());
    }
    agent.epoch = hello->epoch;
    agent.version = hello->software_version;
    agent.host = hello->host;
    agent.last_seen_ms = WallClockMs();
    sessions_[routing_id] = Session{name, WallClockMs()};
    wire::Welcome welcome{hello->hello_seq, static_cast<uint64_t>(config_.agent_credit_bytes), {}};
    // Committed marks only: the agent takes them as acknowledgements.
    for (const auto& s : hello->streams) {
      auto mark = committed_offsets_.find(name + '\0' + std::to_string(s.stream_id));
      if (mark != committed_offsets_.end()) welcome.marks.push_back({s.stream_id, mark->second});
    }
    Send(routing_id, wire::EncodeWelcome(welcome));
  }

  // What `ember status` shows, written with every checkpoint.
  std::string StatusJson() const {
    const engine::EngineStats& st = engine_->stats();
    nlohmann::json agents = nlohmann::json::array();
    // Bytes per second over the last few seconds, from the rate samples of /metrics.
    const RateSample* old = rate_samples_.empty() ? nullptr : &rate_samples_.front();
    const double span_s =
        old == nullptr ? 0 : static_cast<double>(WallClockMs() - old->ms) / 1000.0;
    size_t index = 0;
    for (const auto& [name, a] : agents_) {
      double bytes_per_s = 0;
      if (old != nullptr && span_s > 0.5 && index < old->agent_bytes.size() &&
          a.bytes >= old->agent_bytes[index]) {
        bytes_per_s = static_cast<double>(a.bytes - old->agent_bytes[index]) / span_s;
      }
      ++index;
      agents.push_back({{"name", name},
                        {"bytes_per_s", bytes_per_s},
                        {"last_seen_ms", a.last_seen_ms},
                        {"lag_ms", a.lag_ms},
                        {"frames", a.frames},
                        {"lines", a.lines},
                        {"bytes", a.bytes},
                        {"streams", a.streams.size()},
                        {"host", a.host},
                        {"version", a.version}});
    }
    nlohmann::json j = {{"pid", static_cast<int64_t>(::getpid())},
                        {"started_ms", started_ms_},
                        {"checkpoint_ms", WallClockMs()},
                        {"listen", config_.listen},
                        {"batch_interval_ms", config_.engine.batch_interval_ms},
                        {"rules", engine_->rules().rules().size()},
                        {"reload_error", last_reload_error_},
                        {"http_listen", config_.http_listen},
                        // Batches the watermark could have closed and has not (ingestion time).
                        {"batches_behind",
                         config_.time == TimeSource::kIngestion
                             ? std::max<int64_t>(0, (WallClockMs() - config_.allowed_lateness_ms) /
                                                            config_.engine.batch_interval_ms -
                                                        engine_->closed_until())
                             : 0},
                        {"sessions", sessions_.size()},
                        {"counters",
                         {{"lines", st.lines},
                          {"matches", st.matches},
                          {"late_lines", st.late_lines},
                          {"dropped_late", st.dropped_late},
                          {"bad_frames", bad_frames_},
                          {"duplicate_frames", duplicate_frames_},
                          {"resend_requests", resend_requests_},
                          {"refused", refused_},
                          {"frames_without_session", frames_without_session_},
                          {"new_epochs", new_epochs_},
                          {"checkpoints", checkpoints_ + 1},  // with the one writing this
                          {"checkpoint_failures", checkpoint_failures_},
                          {"alerts_undelivered", dispatcher_.in_flight()},
                          {"alerts_firing", st.alerts_firing},
                          {"alerts_resolved", st.alerts_resolved}}},
                        {"agents", agents}};
    return j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  }

  void SendOffsets(const std::string& routing_id, wire::FrameType type,
                   const std::vector<wire::AckEntry>& entries) {
    Send(routing_id, wire::EncodeOffsets(type, entries));
  }

  void Send(const std::string& routing_id, const std::string& body) {
    try {
      std::array<zmq::const_buffer, 2> parts = {zmq::buffer(routing_id), zmq::buffer(body)};
      (void)zmq::send_multipart(socket_, parts, zmq::send_flags::dontwait);
    } catch (const zmq::error_t& e) {
      spdlog::debug("Could not answer an agent: {}", e.what());
    }
  }

  // Closes the batches the watermark passed and, every checkpoint_interval (and always when
  // `force`), commits a checkpoint, delivers its alerts and sends the ACKs.
  void Tick(bool force = false) {
    std::vector<engine::Alert> alerts;
    const int64_t now = WallClockMs();
    const int64_t closed_before = engine_->closed_until();
    engine_->AdvanceWatermark(now - config_.allowed_lateness_ms, &alerts);
    if (engine_->closed_until() != closed_before) {
      // Spark's scheduling delay: how long after it could close (its end plus the allowed
      // lateness) the last batch was closed.
      scheduling_delay_ms_ = now - config_.allowed_lateness_ms -
                             engine_->closed_until() * config_.engine.batch_interval_ms;
    }
    for (auto& a : alerts) pending_alerts_.push_back(std::move(a));
    // A connection quiet for 10 minutes says HELLO again when it next sends.
    std::erase_if(sessions_, [&](const auto& s) { return now - s.second.last_ms > 600'000; });
    if (!force && now - last_checkpoint_ms_ < config_.checkpoint_interval_ms) return;
    last_checkpoint_ms_ = now / config_.engine.batch_interval_ms * config_.engine.batch_interval_ms;
    uncommitted_.push_back(engine_->TakeDelta());
    auto started = std::chrono::steady_clock::now();
    const bool raised_alerts = !pending_alerts_.empty();
    const bool has_frames = !acks_.empty();
    if (has_frames) CrashPoint("before_commit");
    // Only the marks that moved since the last checkpoint are written.
    std::map<std::string, uint64_t> moved;
    for (const auto& [stream, offset] : offsets_) {
      auto it = committed_offsets_.find(stream);
      if (it == committed_offsets_.end() || it->second != offset) moved.emplace(stream, offset);
    }
    Status s = store_->Commit(uncommitted_, moved, pending_alerts_, StatusJson(),
                              has_frames ? "after_commit_before_sync" : nullptr);
    checkpoint_duration_.Observe(SecondsSince(started));
    if (!s.ok()) {
      ++checkpoint_failures_;
      // Nothing is acknowledged or announced until it is durable; retried every batch.
      spdlog::error("Checkpoint failed ({} batches pending): {}", uncommitted_.size(), s.message());
      return;
    }
    if (raised_alerts) CrashPoint("after_commit_before_send");
    // The committed marks are the previous ones plus what this checkpoint wrote.
    for (const auto& [stream, offset] : moved) committed_offsets_[stream] = offset;
    accepted_bytes_ = 0;
    ++checkpoints_;
    uncommitted_.clear();
    pending_alerts_.clear();
    auto took = std::chrono::steady_clock::now() - started;
    spdlog::debug("Checkpoint committed in {} us.",
                  std::chrono::duration_cast<std::chrono::microseconds>(took).count());
    if (has_frames) CrashPoint("after_commit_before_ack");
    dispatcher_.Deliver(*store_);
    // The checkpoint holds everything accepted so far: acknowledge it.
    for (const auto& [routing_id, streams] : acks_) {
      std::vector<wire::AckEntry> entries;
      for (const auto& [stream_id, offset] : streams) entries.push_back({stream_id, offset});
      SendOffsets(routing_id, wire::FrameType::kAck, entries);
    }
    acks_.clear();
  }

  static double SecondsSince(std::chrono::steady_clock::time_point t) {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - t).count();
  }

  // The HTTP thread's side: serves the last published snapshots.
  HttpResponse ServeHttp(const HttpRequest& r) {
    if (r.path == "/metrics") {
      return {200, "text/plain; version=0.0.4; charset=utf-8", *metrics_text_.Get()};
    }
    if (r.path == "/api/v1/top") {
      // Built by the pipeline thread while someone asked within the last 10 s.
      live_view_wanted_ms_.store(WallClockMs());
      auto view = live_view_.Get();
      if (view->empty()) return {503, "application/json", "{\"error\":\"warming up\"}"};
      return {200, "application/json", *view};
    }
    if (r.path == "/") {
      return {200, "text/plain; charset=utf-8",
              "ember-aggregator " EMBER_VERSION
              "\n/metrics      Prometheus metrics\n"
              "/api/v1/top  what `ember top` shows (JSON)\n"};
    }
    return {404, "text/plain; charset=utf-8", "not found: " + r.path + "\n"};
  }

  // Pipeline thread: renders /metrics (and the live view while watched) once per batch.
  void PublishMetrics() {
    const int64_t now = WallClockMs();
    AggregatorVitals v;
    v.started_ms = started_ms_;
    v.batch_interval_ms = config_.engine.batch_interval_ms;
    v.rules = engine_->rules().rules().size();
    v.reload_failures = reload_failures_;
    v.last_reload_failed = !last_reload_error_.empty();
    v.engine = engine_->stats();
    std::vector<uint64_t> rule_matches;
    for (size_t i = 0; i < v.rules; ++i) {
      const engine::RuleWindow& w = engine_->window(i);
      v.matches_by_rule.emplace_back(w.rule().name, w.matches());
      v.window_keys_by_rule.emplace_back(w.rule().name, w.window_keys());
      rule_matches.push_back(w.matches());
    }
    v.bytes_in = bytes_in_;
    v.frames_in = frames_in_;
    v.bad_frames = bad_frames_;
    v.duplicate_frames = duplicate_frames_;
    v.resend_requests = resend_requests_;
    v.refused = refused_;
    v.frames_without_session = frames_without_session_;
    v.new_epochs = new_epochs_;
    v.checkpoints = checkpoints_;
    v.checkpoint_failures = checkpoint_failures_;
    v.alerts_delivered = dispatcher_.delivered();
    v.alerts_undelivered = dispatcher_.in_flight();
    for (const auto& sink : dispatcher_.sinks()) {
      if (sink->asynchronous()) v.output_failures.emplace_back(sink->Describe(), sink->failures());
    }
    v.sessions = sessions_.size();
    std::vector<uint64_t> agent_bytes;
    for (const auto& [name, a] : agents_) {
      v.agents.push_back(
          {name, a.host, static_cast<double>(a.lag_ms) / 1000.0, a.last_seen_ms, a.bytes, a.lines});
      agent_bytes.push_back(a.bytes);
    }
    v.scheduling_delay_seconds = static_cast<double>(scheduling_delay_ms_) / 1000.0;
    v.batch_processing = &batch_processing_;
    v.checkpoint_duration = &checkpoint_duration_;
    metrics_text_.Set(RenderAggregatorMetrics(v));

    // Rates over the last 5 s or so, from samples taken at each publish.
    rate_samples_.push_back({now, engine_->stats().lines, bytes_in_, rule_matches, agent_bytes});
    while (rate_samples_.size() > 2 && now - rate_samples_[1].ms >= 5000) rate_samples_.pop_front();
    if (http_ == nullptr || now - live_view_wanted_ms_.load() > 10'000) return;
    const RateSample& old = rate_samples_.front();
    const double dt = std::max<double>(0.001, static_cast<double>(now - old.ms) / 1000.0);
    auto rate = [&](uint64_t now_value, uint64_t old_value) {
      return now_value >= old_value ? static_cast<double>(now_value - old_value) / dt : 0.0;
    };
    LiveViewInput in;
    in.engine = engine_.get();
    in.now_ms = now;
    for (size_t i = 0; i < rule_matches.size(); ++i) {
      // Rules reloaded within the span: their counters restarted.
      in.rule_rates.push_back(
          i < old.rule_matches.size() ? rate(rule_matches[i], old.rule_matches[i]) : 0.0);
    }
    in.lines_per_s = rate(engine_->stats().lines, old.lines);
    in.bytes_per_s = rate(bytes_in_, old.bytes);
    in.agents = v.agents;
    for (size_t i = 0; i < agent_bytes.size(); ++i) {
      in.agent_bytes_per_s.push_back(
          i < old.agent_bytes.size() ? rate(agent_bytes[i], old.agent_bytes[i]) : 0.0);
    }
    in.processing_ms = last_processing_ms_;
    in.scheduling_delay_ms = static_cast<double>(scheduling_delay_ms_);
    in.pending_checkpoints = uncommitted_.size();
    live_view_.Set(BuildLiveViewJson(in));
  }

  const AggregatorConfig& config_;
  std::unique_ptr<engine::CheckpointStore> store_;
  AlertDispatcher dispatcher_;
  int signal_fd_;
  int rules_watch_fd_ = -1;
  int64_t rules_changed_ms_ = 0;  // last change seen in the rules directory, not yet reloaded
  SystemdNotifier& notifier_;
  zmq::context_t context_{1};
  std::unique_ptr<ZapHandler> zap_;  // before socket_: destroyed after it, before context_
  zmq::socket_t socket_;
  std::unique_ptr<engine::Engine> engine_;
  std::map<std::string, uint64_t> offsets_;            // stream -> offset consumed
  std::map<std::string, uint64_t> committed_offsets_;  // ... as of the last checkpoint
  std::map<std::string, engine::EventTimeParser> parsers_;
  // routing id -> stream id -> offset accepted since the last checkpoint
  std::map<std::string, std::map<uint64_t, uint64_t>> acks_;
  std::vector<engine::CheckpointDelta> uncommitted_;
  std::vector<engine::Alert> pending_alerts_;
  // Accepted DATA frames whose lines are not applied yet (ProcessPending); each owns its
  // message, which the decoded views point into.
  struct PendingFrame {
    std::unique_ptr<zmq::message_t> message;
    wire::DataFrame frame;
    engine::EventTimeParser* parser;  // the stream's, with event time; else null
  };
  static constexpr size_t kMaxPendingLines = 64 * 1024;
  std::vector<PendingFrame> pending_;
  size_t pending_lines_ = 0;
  std::unique_ptr<engine::ParallelMatcher> matcher_;
  std::vector<engine::InputLine> batch_lines_;  // ProcessPending's scratch
  bool stopping_ = false;
  uint64_t bad_frames_ = 0;
  uint64_t duplicate_frames_ = 0;
  uint64_t resend_requests_ = 0;
  struct AgentStats {
    int64_t last_seen_ms = 0;
    int64_t lag_ms = 0;  // receive time minus the agent's read time of the last frame
    uint64_t frames = 0, lines = 0, bytes = 0;
    std::set<uint64_t> streams;
    uint64_t epoch = 0;
    std::string version, host;
  };
  std::map<std::string, AgentStats> agents_;  // by identity
  struct Session {
    std::string agent;  // its key's name with CURVE, else the name it said HELLO with
    int64_t last_ms = 0;
  };
  std::map<std::string, Session> sessions_;  // by routing id
  uint64_t refused_ = 0;
  uint64_t frames_without_session_ = 0;
  uint64_t new_epochs_ = 0;
  uint64_t accepted_bytes_ = 0;  // accepted since the last commit
  int64_t last_early_commit_ms_ = 0;
  uint64_t failures_at_last_commit_ = 0;  // checkpoint_failures_ before the last early commit
  int64_t started_ms_ = WallClockMs();
  int64_t last_checkpoint_ms_ = 0;
  std::string last_reload_error_;
  // Self-monitoring.
  uint64_t reload_failures_ = 0;
  uint64_t bytes_in_ = 0, frames_in_ = 0;
  uint64_t checkpoints_ = 0, checkpoint_failures_ = 0;
  int64_t scheduling_delay_ms_ = 0;
  double last_processing_ms_ = 0;
  Histogram batch_processing_{DurationBucketsSeconds()};
  Histogram checkpoint_duration_{DurationBucketsSeconds()};
  struct RateSample {
    int64_t ms;
    uint64_t lines, bytes;
    std::vector<uint64_t> rule_matches, agent_bytes;
  };
  std::deque<RateSample> rate_samples_;
  PublishedText metrics_text_;
  PublishedText live_view_;
  std::atomic<int64_t> live_view_wanted_ms_{0};
  std::unique_ptr<HttpServer> http_;  // last: stopped before what its handler reads
};

}  // namespace

Status RunAggregator(const AggregatorConfig& config, SystemdNotifier& notifier) {
  // Signals arrive through a signalfd that zmq::poll watches with the socket. Blocked before
  // any thread starts (outputs, HTTP, ZeroMQ's I/O), so none of them can take one and die.
  sigset_t mask;
  sigemptyset(&mask);
  sigaddset(&mask, SIGINT);
  sigaddset(&mask, SIGTERM);
  sigaddset(&mask, SIGHUP);
  pthread_sigmask(SIG_BLOCK, &mask, nullptr);
  Result<std::shared_ptr<const rules::RuleSet>> rules = LoadRules(config);
  if (!rules.ok()) return rules.status();
  engine::CheckpointStoreOptions store_options;
  store_options.dir = config.state_dir;
  store_options.sync = config.sync;
  auto store = engine::CheckpointStore::Open(store_options);
  if (!store.ok()) {
    return store.status().WithContext("state directory '" + config.state_dir + "'");
  }
  auto sinks = MakeSinks(config.outputs);
  if (!sinks.ok()) return sinks.status();

  // A write past RLIMIT_FSIZE must fail with EFBIG (and be retried like a full disk), not
  // kill the process.
  ::signal(SIGXFSZ, SIG_IGN);
  // A command run by an exec output may close its stdin early: a write error, not death.
  ::signal(SIGPIPE, SIG_IGN);

  int signal_fd = ::signalfd(-1, &mask, SFD_NONBLOCK | SFD_CLOEXEC);
  if (signal_fd < 0) return Status::IOError("cannot create a signalfd");

  Server server(config, std::move(*store), std::move(*sinks), signal_fd, notifier);
  Status s = server.Start(std::move(*rules));
  if (s.ok()) server.Run();
  ::close(signal_fd);
  return s;
}

}  // namespace ember::aggregator
