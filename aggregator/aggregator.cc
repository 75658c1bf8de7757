#include "aggregator/aggregator.h"

#include <signal.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <set>

#include <climits>
#include <spdlog/spdlog.h>
#include <zmq.hpp>

#include "aggregator/agent_sessions.h"
#include "aggregator/alert_dispatcher.h"
#include "aggregator/checkpointer.h"
#include "aggregator/frame_intake.h"
#include "aggregator/monitoring.h"
#include "aggregator/receiver.h"
#include "aggregator/rules_reloader.h"
#include "aggregator/sinks/alert_sink.h"
#include "aggregator/stream_marks.h"
#include "common/http_server.h"
#include "common/wire.h"
#include "engine/checkpoint_store.h"
#include "engine/engine.h"
#include "engine/event_time.h"
#include "engine/parallel_matcher.h"

namespace ember::aggregator {
namespace {

// A connection quiet for this long says HELLO again when it next sends.
constexpr int64_t kSessionIdleMs = 600'000;
// Messages taken per receive pass, so a flood cannot delay batch ticks.
constexpr int kMaxMessagesPerPass = 256;
// A burst has paused when no message came for this long (frames of a busy agent come every
// few milliseconds).
constexpr int64_t kBurstPauseMs = 20;
// After a failed commit (a full disk), early commits are tried at most this often.
constexpr int64_t kCommitRetryMs = 50;

double SecondsSince(std::chrono::steady_clock::time_point t) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t).count();
}

}  // namespace

struct Aggregator::Impl {
  Impl(const AggregatorConfig& config, const Clock& clock, SystemdNotifier& notifier, int signal_fd,
       std::unique_ptr<engine::CheckpointStore> store,
       std::vector<std::unique_ptr<AlertSink>> sinks)
      : config_(config),
        clock_(clock),
        notifier_(notifier),
        signal_fd_(signal_fd),
        store_(std::move(store)),
        dispatcher_(std::move(sinks)),
        checkpointer_(*store_, dispatcher_),
        monitoring_(config, clock.NowMs()),
        rules_watch_(config.rules_dir) {}

  Status Start(std::shared_ptr<const rules::RuleSet> rules) {
    auto receiver = Receiver::Listen(config_);
    if (!receiver.ok()) return receiver.status();
    receiver_ = std::move(*receiver);
    intake_ = std::make_unique<FrameIntake>(config_, *receiver_);
    if (Status s = InstallRules(std::move(rules)); !s.ok()) return s;
    if (!config_.http_listen.empty()) {
      const HttpServerOptions options =
          DaemonHttpOptions("ember-aggregator", config_.http_listen, config_.web,
                            config_.security.insecure, "security.insecure");
      auto http = HttpServer::Start(
          options, [this](const HttpRequest& r) { return monitoring_.Serve(r, clock_.NowMs()); });
      if (!http.ok()) {
        return http.status().WithContext("http_listen (set it to \"\" to turn it off)");
      }
      http_ = std::move(*http);
      spdlog::info("Serving /metrics on {}://{}/metrics.", config_.web.tls ? "https" : "http",
                   config_.http_listen);
    }
    monitoring_.Publish(View(), clock_.NowMs());
    std::set<std::string> firing;
    for (size_t i = 0; i < engine_->rules().rules().size(); ++i) {
      engine_->ForEachKeyState(i, [&](const std::string&, const engine::KeyState& state) {
        if (state.phase == engine::KeyPhase::kFiring) firing.insert(state.alert_id);
      });
    }
    dispatcher_.RestoreFiring(firing, *store_);
    dispatcher_.Deliver(*store_);  // alerts a crash left between commit and delivery
    next_batch_close_ms_ = NextBatchCloseAfter(clock_.NowMs());
    spdlog::info("ember-aggregator listening on '{}' with {} rules{}; state in '{}'.",
                 config_.listen, engine_->rules().rules().size(),
                 engine_->rules().screen_from_cache() ? " (their screen from the cache)" : "",
                 config_.state_dir);
    return Status::Ok();
  }

  // Ticks fall when a batch may close: its end plus the allowed lateness. (Ticking on batch
  // boundaries instead would hold every alert up to one more batch interval.)
  int64_t NextBatchCloseAfter(int64_t now) const {
    const int64_t batch = config_.engine.batch_interval_ms;
    const int64_t lateness = config_.allowed_lateness_ms;
    return ((now - lateness) / batch + 1) * batch + lateness;
  }

  void Step(int64_t max_wait_ms) {
    const int64_t now = clock_.NowMs();
    notifier_.WatchdogIfDue(now);
    int64_t wait = std::clamp<int64_t>(next_batch_close_ms_ - now, 0, max_wait_ms);
    if (notifier_.watchdog_interval_ms() > 0) {
      wait = std::min(wait, notifier_.watchdog_interval_ms());
    }
    wait = std::min(wait, rules_watch_.WaitMs(now));
    if (rules_load_.running()) wait = std::min<int64_t>(wait, 20);  // to install it soon
    if (BurstTailWaiting()) {
      // Up at the pause; past it, the commit failed (a full disk): up at the next attempt.
      int64_t wake = last_message_ms_ + kBurstPauseMs;
      if (wake <= now) wake = last_early_commit_ms_ + kCommitRetryMs;
      wait = std::clamp<int64_t>(wake - now, 0, wait);
    }
    zmq::pollitem_t items[] = {{receiver_->handle(), 0, ZMQ_POLLIN, 0},
                               {nullptr, signal_fd_, ZMQ_POLLIN, 0},
                               {nullptr, rules_watch_.fd(), ZMQ_POLLIN, 0},
                               {receiver_->monitor_handle(), 0, ZMQ_POLLIN, 0}};
    try {
      zmq::poll(items, 4, std::chrono::milliseconds(wait));
    } catch (const zmq::error_t& e) {
      if (e.num() != EINTR) spdlog::error("Polling failed: {}", e.what());
    }
    if (items[1].revents & ZMQ_POLLIN) HandleSignals();
    if (items[2].revents & ZMQ_POLLIN) rules_watch_.OnReadable(clock_.NowMs());
    if (rules_watch_.Due(clock_.NowMs())) {
      spdlog::info("The rules directory '{}' changed.", config_.rules_dir);
      Reload();
    }
    if (auto loaded = rules_load_.TakeIfDone()) FinishReload(std::move(*loaded));
    if (items[0].revents & ZMQ_POLLIN) ReceiveFrames();
    if (intake_->messages() != messages_at_last_look_) {
      messages_at_last_look_ = intake_->messages();
      last_message_ms_ = clock_.NowMs();
    }
    receiver_->DrainTransportEvents(clock_.NowMs());
    // Agents may not read more than their credit ahead of ACKs, and ACKs follow commits:
    // under a heavy stream, commit (and acknowledge) early rather than once a batch, so
    // throughput is not capped at credit / batch_interval. A HELLO whose streams' marks moved
    // since the last checkpoint waits for one, too.
    // The tail of a burst (a sixteenth of the credit or more since the last commit, then a
    // pause) is committed at the pause rather than at the next tick: its agent holds those
    // bytes until the ACK, and a backfill's last ACK would wait up to a checkpoint interval.
    // A trickle waits for the tick.
    // (After a failed commit — a full disk — at most every kCommitRetryMs, not in a loop.)
    const bool burst_paused =
        BurstTailWaiting() && clock_.NowMs() - last_message_ms_ >= kBurstPauseMs;
    if ((intake_->accepted_bytes() >= static_cast<uint64_t>(config_.agent_credit_bytes) / 4 ||
         burst_paused || intake_->welcomes_waiting()) &&
        (checkpointer_.failures() == failures_at_last_commit_ ||
         clock_.NowMs() - last_early_commit_ms_ >= kCommitRetryMs)) {
      failures_at_last_commit_ = checkpointer_.failures();
      last_early_commit_ms_ = clock_.NowMs();
      CloseBatchesAndCheckpoint(/*force=*/true);
    }
    if (clock_.NowMs() >= next_batch_close_ms_ || WatermarkPassedABatch()) {
      auto started = std::chrono::steady_clock::now();
      CloseBatchesAndCheckpoint();
      batch_processing_.Observe(SecondsSince(started));
      last_processing_ms_ = SecondsSince(started) * 1000;
      monitoring_.Publish(View(), clock_.NowMs());
      next_batch_close_ms_ = NextBatchCloseAfter(clock_.NowMs());
    }
  }

  // Whether a burst's tail is accepted and not committed: see Step.
  bool BurstTailWaiting() const {
    return intake_->accepted_bytes() >= static_cast<uint64_t>(config_.agent_credit_bytes) / 16;
  }

  // Whether the data's watermark moved past the end of the oldest open batch (looked at
  // every 20 ms at most, and only when frames or heartbeats arrived since: with nothing new,
  // the watermark moves only with the clock, and the batch tick covers that): a batch closes
  // as soon as every stream is past it, not only at the clock's ticks. The look costs one
  // pass over the streams, so idle streams cost nothing while nothing arrives.
  bool WatermarkPassedABatch() {
    const int64_t now = clock_.NowMs();
    if (now - last_watermark_check_ms_ < 20) return false;
    if (intake_->messages() == messages_at_watermark_check_) return false;
    messages_at_watermark_check_ = intake_->messages();
    last_watermark_check_ms_ = now;
    std::optional<int64_t> watermark = intake_->watermarks().Watermark(now);
    return watermark && *watermark / config_.engine.batch_interval_ms > engine_->closed_until();
  }

  void Stop() {
    notifier_.Stopping();
    // Take what already arrived, checkpoint it, and give the ACKs a moment to leave, so a
    // stop followed by a start neither loses nor repeats anything (and agents stop waiting).
    ReceiveFrames();
    CloseBatchesAndCheckpoint(/*force=*/true);
    // No commit follows to move what the sinks took to the history: moved now, so that a
    // start does not deliver it again.
    if (Status s = dispatcher_.MarkDelivered(*store_); !s.ok()) {
      spdlog::error("Cannot mark alerts delivered: {}", s.message());
    }
    http_.reset();
    receiver_->SetLinger(1000);
    const engine::EngineStats& st = engine_->stats();
    spdlog::info(
        "Stopped after a last checkpoint: {} lines, {} matches, {} alerts firing, {} "
        "resolved, {} late, {} bad frames, {} duplicate frames dropped, {} resends requested.",
        st.lines, st.matches, st.alerts_firing, st.alerts_resolved, st.late_lines,
        intake_->counters().bad_frames + receiver_->malformed_messages(),
        intake_->counters().duplicate_frames, intake_->counters().resend_requests);
  }

  Status InstallRules(std::shared_ptr<const rules::RuleSet> rules) {
    auto engine = std::make_unique<engine::Engine>(rules, config_.engine);
    engine->SetRunner(&intake_->runner());
    Result<engine::Snapshot> snap =
        store_->Recover(*rules, config_.engine.batch_interval_ms, engine->restore_sink());
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
    if (!marks_restored_) {
      intake_->marks().Restore(snap->offsets);
      intake_->watermarks().Restore(snap->sources, clock_.NowMs());
      marks_restored_ = true;
    }
    if (Status s = store_->Stamp(*rules, config_.engine.batch_interval_ms); !s.ok()) return s;
    engine_ = std::move(engine);
    return Status::Ok();
  }

  void HandleSignals() {
    signalfd_siginfo info;
    while (::read(signal_fd_, &info, sizeof info) == sizeof info) {
      if (info.ssi_signo == SIGHUP) {
        spdlog::info("SIGHUP: reloading rules from '{}' and reopening outputs.", config_.rules_dir);
        Reload();
      } else {
        spdlog::info("Received signal {}; stopping.", info.ssi_signo);
        stopping_ = true;
      }
    }
  }

  // Reopens the outputs, reads the keys again and starts compiling the rules directory on its
  // own thread; FinishReload installs the rules once compiled, between two passes of the loop.
  void Reload() {
    notifier_.Reloading();
    dispatcher_.Reopen();
    receiver_->ReloadAuthorizedKeys();
    rules_load_.Start(config_);
  }

  void FinishReload(Result<std::shared_ptr<const rules::RuleSet>> rules) {
    InstallReloaded(std::move(rules));
    notifier_.Ready("Listening on " + config_.listen + " with " +
                    std::to_string(engine_->rules().rules().size()) + " rules");
  }

  void InstallReloaded(Result<std::shared_ptr<const rules::RuleSet>> rules) {
    if (!rules.ok()) {
      spdlog::error("Kept the rules in force: {}.", rules.status().message());
      last_reload_error_ = rules.status().message();
      ++reload_failures_;
      return;
    }
    last_reload_error_.clear();
    CloseBatchesAndCheckpoint(
        /*force=*/true);  // commit the current state; the new engine starts from it
    if (checkpointer_.pending_deltas() > 0) {
      spdlog::error("Kept the rules in force: the current state could not be checkpointed.");
      return;
    }
    const RuleChanges changes = CompareRules(engine_->rules(), **rules);
    auto previous = std::move(engine_);
    if (Status s = InstallRules(*rules); !s.ok()) {
      spdlog::error("Kept the rules in force: {}", s.message());
      engine_ = std::move(previous);
      return;
    }
    engine_->CarryCountersFrom(*previous);
    spdlog::info("Loaded {} rules: {}.", engine_->rules().rules().size(), changes.Describe());
  }

  void ReceiveFrames() {
    // A bounded number per pass, so a flood cannot delay batch ticks.
    Receiver::Message message;
    for (int i = 0; i < kMaxMessagesPerPass && receiver_->Next(&message); ++i) {
      if (message.frame) intake_->Handle(message, *engine_, clock_.NowMs());
    }
    // Matching them overlaps receiving the next ones; CloseBatchesAndCheckpoint applies
    // whatever is still in flight first.
    intake_->StartPending(*engine_, clock_.NowMs());
  }

  // Closes the batches the watermark passed and, every checkpoint_interval (and always when
  // `force`), commits a checkpoint, delivers its alerts and sends the ACKs.
  void CloseBatchesAndCheckpoint(bool force = false) {
    std::vector<engine::Alert> alerts;
    const int64_t now = clock_.NowMs();
    intake_->ApplyPending(*engine_, now);  // nothing accepted stays out of the checkpoint
    const int64_t closed_before = engine_->closed_until();
    const std::optional<int64_t> watermark = intake_->watermarks().Watermark(now);
    engine_->SetHistoryFloor(intake_->watermarks().floor(), intake_->watermarks().complete());
    engine_->AdvanceWatermark(watermark.value_or(-1), &alerts);
    if (engine_->closed_until() != closed_before) {
      // How long after its end the last batch was closed (Spark's scheduling delay, plus
      // what the streams held it back).
      scheduling_delay_ms_ = now - engine_->closed_until() * config_.engine.batch_interval_ms;
    }
    checkpointer_.AddAlerts(std::move(alerts));
    intake_->sessions().ExpireIdle(now, kSessionIdleMs);
    intake_->ForgetExpiredZones();
    // Every checkpoint_interval of batches closed (an early commit in between must not hold
    // a closed batch's alerts back to the next interval), and every checkpoint_interval of
    // time while no batch closes (ACKs keep flowing behind a held watermark).
    const int64_t batches_per_checkpoint =
        config_.checkpoint_interval_ms / config_.engine.batch_interval_ms;
    if (!force && engine_->closed_until() - committed_closed_until_ < batches_per_checkpoint &&
        now - last_checkpoint_ms_ < config_.checkpoint_interval_ms) {
      return;
    }
    last_checkpoint_ms_ = now / config_.engine.batch_interval_ms * config_.engine.batch_interval_ms;
    committed_closed_until_ = engine_->closed_until();
    const std::string status = monitoring_.StatusJson(View(), now);
    Status s = checkpointer_.Commit(
        *engine_, intake_->marks(), intake_->watermarks(), status,
        [this](const std::string& routing_id, const std::vector<wire::AckEntry>& entries) {
          receiver_->Send(routing_id, wire::EncodeOffsets(wire::FrameType::kAck, entries));
        });
    if (s.ok()) intake_->ResetAccepted();
    intake_->SendWaitingWelcomes();
  }

  PipelineView View() {
    PipelineView v;
    v.engine = engine_.get();
    v.sessions = &intake_->sessions();
    v.dispatcher = &dispatcher_;
    v.checkpointer = &checkpointer_;
    view_counters_ = intake_->counters();
    view_counters_.bad_frames += receiver_ ? receiver_->malformed_messages() : 0;
    v.counters = &view_counters_;
    v.watermarks = &intake_->watermarks();
    v.reload_failures = reload_failures_;
    v.last_reload_error = last_reload_error_;
    v.scheduling_delay_ms = scheduling_delay_ms_;
    v.last_processing_ms = last_processing_ms_;
    v.batch_processing = &batch_processing_;
    if (receiver_) v.transport = &receiver_->transport();
    return v;
  }

  const AggregatorConfig& config_;
  const Clock& clock_;
  SystemdNotifier& notifier_;
  int signal_fd_;
  std::unique_ptr<engine::CheckpointStore> store_;
  AlertDispatcher dispatcher_;
  Checkpointer checkpointer_;
  Monitoring monitoring_;
  RulesWatch rules_watch_;
  BackgroundRulesLoad rules_load_;
  std::unique_ptr<Receiver> receiver_;
  std::unique_ptr<engine::Engine> engine_;
  std::unique_ptr<FrameIntake> intake_;
  bool marks_restored_ = false;
  FrameCounters view_counters_;  // the intake's, with the receiver's, as monitoring shows them
  bool stopping_ = false;
  int64_t next_batch_close_ms_ = 0;
  int64_t last_early_commit_ms_ = 0;
  // When the last message arrived (a burst pauses after it), and the count then.
  int64_t last_message_ms_ = 0;
  uint64_t messages_at_last_look_ = 0;
  int64_t last_watermark_check_ms_ = 0;
  uint64_t messages_at_watermark_check_ = 0;
  uint64_t failures_at_last_commit_ = 0;  // checkpoint failures before the last early commit
  int64_t last_checkpoint_ms_ = 0;
  int64_t committed_closed_until_ = 0;  // the engine's closed_until at the last checkpoint
  std::string last_reload_error_;
  uint64_t reload_failures_ = 0;
  int64_t scheduling_delay_ms_ = 0;
  double last_processing_ms_ = 0;
  Histogram batch_processing_{DurationBucketsSeconds()};
  std::unique_ptr<HttpServer> http_;  // last: stopped before what its handler reads
};

Aggregator::Aggregator(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Aggregator::~Aggregator() = default;

Result<std::unique_ptr<Aggregator>> Aggregator::Start(const AggregatorConfig& config,
                                                      const Clock& clock, SystemdNotifier& notifier,
                                                      int signal_fd) {
  Result<std::shared_ptr<const rules::RuleSet>> rules = LoadRules(config);
  if (!rules.ok()) return rules.status();
  engine::CheckpointStoreOptions store_options;
  store_options.dir = config.state_dir;
  store_options.sync = config.sync;
  store_options.partitions = config.engine.partitions;
  auto store = engine::CheckpointStore::Open(store_options);
  if (!store.ok()) {
    return store.status().WithContext("state directory '" + config.state_dir + "'");
  }
  auto sinks = MakeSinks(config.outputs);
  if (!sinks.ok()) return sinks.status();
  auto impl = std::make_unique<Impl>(config, clock, notifier, signal_fd, std::move(*store),
                                     std::move(*sinks));
  if (Status s = impl->Start(std::move(*rules)); !s.ok()) return s;
  return std::unique_ptr<Aggregator>(new Aggregator(std::move(impl)));
}

void Aggregator::Step(int64_t max_wait_ms) { impl_->Step(max_wait_ms); }

void Aggregator::Run() {
  impl_->notifier_.Ready("Listening on " + impl_->config_.listen + " with " +
                         std::to_string(impl_->engine_->rules().rules().size()) + " rules");
  while (!impl_->stopping_) impl_->Step(INT64_MAX / 4);
  Stop();
}

void Aggregator::Stop() { impl_->Stop(); }

bool Aggregator::stopping() const { return impl_->stopping_; }

Status RunAggregator(const AggregatorConfig& config, SystemdNotifier& notifier) {
  // Signals arrive through a signalfd that zmq::poll watches with the socket. Blocked before
  // any thread starts (outputs, HTTP, ZeroMQ's I/O), so none of them can take one and die.
  sigset_t mask;
  sigemptyset(&mask);
  sigaddset(&mask, SIGINT);
  sigaddset(&mask, SIGTERM);
  sigaddset(&mask, SIGHUP);
  pthread_sigmask(SIG_BLOCK, &mask, nullptr);
  // A write past RLIMIT_FSIZE must fail with EFBIG (and be retried like a full disk), not
  // kill the process.
  ::signal(SIGXFSZ, SIG_IGN);
  // A command run by an exec output may close its stdin early: a write error, not death.
  ::signal(SIGPIPE, SIG_IGN);
  int signal_fd = ::signalfd(-1, &mask, SFD_NONBLOCK | SFD_CLOEXEC);
  if (signal_fd < 0) return Status::IOError("cannot create a signalfd");
  static const SystemClock clock;
  auto aggregator = Aggregator::Start(config, clock, notifier, signal_fd);
  if (aggregator.ok()) (*aggregator)->Run();
  ::close(signal_fd);
  return aggregator.ok() ? Status::Ok() : aggregator.status();
}

}  // namespace ember::aggregator
