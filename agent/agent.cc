#include "agent/agent.h"

#include <malloc.h>
#include <unistd.h>

#include <chrono>
#include <csignal>
#include <future>
#include <thread>

#include <boost/asio/io_context.hpp>
#include <boost/asio/posix/stream_descriptor.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>
#include <spdlog/spdlog.h>

#include "agent/forwarder.h"
#include "agent/fs_watcher.h"
#include "agent/journal_input.h"
#include "agent/offset_store.h"
#include "agent/tail_set.h"
#include "common/clock.h"
#include "common/crash_point.h"
#include "common/file_util.h"
#include "common/http_server.h"
#include "common/local_zone.h"
#include "common/log_limiter.h"
#include "common/metrics.h"
#include "common/system.h"

namespace ember::agent {
namespace {

constexpr size_t kMaxQueuedFrames = 16;
// An unanswered HELLO is repeated after 1 s, then less and less often, up to every 30 s.
constexpr int64_t kFirstHelloRetryMs = 1000;
constexpr int64_t kMaxHelloRetryMs = 30'000;
constexpr int64_t kStatusIntervalMs = 2000;
// HELLOs unanswered this long are worth a warning.
constexpr int64_t kUnansweredWarnMs = 5000;
constexpr int64_t kQuietStatusIntervalMs = 30'000;
// The aggregator counts an agent as alive for 3 s after a heartbeat (WatermarkOptions).
constexpr int64_t kHeartbeatIntervalMs = 1000;

class AgentDaemon {
 public:
  // `config`, `clock` and `notifier` must outlive the daemon.
  AgentDaemon(const AgentConfig& config, const Clock& clock, std::unique_ptr<Forwarder> forwarder,
              std::unique_ptr<OffsetStore> store, SystemdNotifier& notifier)
      : config_(config),
        clock_(clock),
        notifier_(notifier),
        forwarder_(std::move(forwarder)),
        store_(std::move(store)),
        tails_(config.tail, Context(config), *store_),
        timer_(io_),
        signals_(io_, SIGINT, SIGTERM, SIGHUP) {}

  static FrameContext Context(const AgentConfig& config) {
    return FrameContext{config.name, config.host,
                        static_cast<size_t>(config.forward.max_frame_bytes)};
  }

  // The journal input, when configured: libsystemd is loaded now. Errors: the module or the
  // journal cannot be opened.
  Status OpenJournalInput() {
    if (!config_.journal.enabled) {
      ForgetOtherJournals(*store_, "");
      return Status::Ok();
    }
    Result<std::unique_ptr<journal::JournalSource>> source = OpenJournal(config_.journal);
    if (!source.ok()) return source.status();
    Result<std::unique_ptr<JournalInput>> input = JournalInput::Open(
        std::move(*source), config_.journal, config_.tail.read_from_beginning,
        static_cast<size_t>(config_.tail.max_line_bytes), Context(config_), *store_);
    if (!input.ok()) return input.status();
    journal_ = std::move(*input);
    return Status::Ok();
  }

  // Errors: the HTTP address cannot be bound.
  Status StartHttp() {
    if (config_.http_listen.empty()) return Status::Ok();
    const HttpServerOptions options = DaemonHttpOptions(
        "ember-agent", config_.http_listen, config_.web, config_.http_insecure, "http_insecure");
    auto http = HttpServer::Start(options, [this](const HttpRequest& r) -> HttpResponse {
      if (r.path == "/metrics") return ServeMetrics(r);
      if (r.path == "/-/healthy") return {200, "text/plain; charset=utf-8", "OK\n"};
      return {404, "text/plain; charset=utf-8", "not found: " + r.path + "\n"};
    });
    if (!http.ok()) return http.status().WithContext("http_listen (set it to \"\" to turn it off)");
    http_ = std::move(*http);
    spdlog::info("Serving /metrics on {}://{}/metrics.", config_.web.tls ? "https" : "http",
                 config_.http_listen);
    return Status::Ok();
  }

  void Run() {
    WaitForSignal();
    if (config_.tail.inotify) {
      Result<std::unique_ptr<FsWatcher>> watcher = FsWatcher::Create();
      if (watcher.ok()) {
        watcher_ = std::move(*watcher);
        watch_fd_.assign(::dup(watcher_->fd()));
        WaitForFsEvents();
      } else {
        spdlog::warn("{}; polling every {} ms instead.", watcher.status().message(),
                     config_.tail.poll_interval_ms);
      }
    }
    if (journal_) {
      journal_fd_.assign(::dup(journal_->change_fd()));
      WaitForJournal();
    }
    // ACKs and room to send wake the loop at once, through ZeroMQ's notification fd.
    zmq_fd_.assign(::dup(forwarder_->notify_fd()));
    WaitForZmq();
    Turn();
    notifier_.Ready("Tailing " + std::to_string(tails_.open_files()) + " files" +
                    (journal_ ? " and the journal" : ""));
    io_.run();
  }

 private:
  // SIGINT/SIGTERM stop; SIGHUP expands the globs again at once.
  void WaitForSignal() {
    signals_.async_wait([this](const boost::system::error_code& ec, int signo) {
      if (ec) return;
      if (signo == SIGHUP) {
        spdlog::info("SIGHUP: looking for new files now.");
        last_glob_expansion_ms_ = INT64_MIN / 2;
        WaitForSignal();
        return;
      }
      spdlog::info("Received signal {}; stopping.", signo);
      stopping_ = true;
      timer_.cancel();
    });
  }

  // inotify: a write wakes the loop at once; a new, moved or deleted file also makes it
  // expand the globs again.
  void WaitForFsEvents() {
    watch_fd_.async_wait(boost::asio::posix::stream_descriptor::wait_read,
                         [this](const boost::system::error_code& ec) {
                           if (ec || stopping_) return;
                           FsWatcher::Events events = watcher_->Drain();
                           if (events.names) last_glob_expansion_ms_ = INT64_MIN / 2;
                           if (events.names || events.data) files_changed_ = true;
                           if (events.names || events.data) timer_.cancel();
                           WaitForFsEvents();
                         });
  }

  // The journal changed: new entries (or files) to take in.
  void WaitForJournal() {
    journal_fd_.async_wait(boost::asio::posix::stream_descriptor::wait_read,
                           [this](const boost::system::error_code& ec) {
                             if (ec || stopping_) return;
                             journal_->OnChange();
                             timer_.cancel();
                             WaitForJournal();
                           });
  }

  // The inputs together: the files and the journal.
  uint64_t InFlightBytes() const {
    return tails_.InFlightBytes() + (journal_ ? journal_->InFlightBytes() : 0);
  }
  uint64_t UnackedBytes() const {
    return tails_.UnackedBytes() + (journal_ ? journal_->InFlightBytes() : 0);
  }
  bool AllAcked() const { return tails_.AllAcked() && (!journal_ || journal_->AllAcked()); }
  std::vector<wire::AckEntry> Streams() const {
    std::vector<wire::AckEntry> streams = tails_.Streams();
    if (journal_) streams.push_back(journal_->Stream());
    return streams;
  }
  void Positions(bool changed_only, std::vector<wire::AckEntry>* at_end,
                 std::vector<wire::AckEntry>* behind) {
    tails_.Positions(changed_only, at_end, behind);
    if (journal_) journal_->Positions(changed_only, at_end, behind);
  }
  // Reads the files and the journal within `room` frames and `credit` bytes in flight; which
  // goes first alternates, so a busy one cannot starve the other. Returns whether one may
  // have more.
  bool PollInputs(int64_t now, size_t room, std::vector<std::string>* frames, uint64_t credit,
                  bool may_send, bool check_files) {
    auto budget = [&]() -> size_t {
      const uint64_t in_flight = InFlightBytes();
      return may_send && credit > in_flight ? static_cast<size_t>(credit - in_flight) : 0;
    };
    auto room_left = [&] { return room > frames->size() ? room - frames->size() : 0; };
    bool more = false;
    auto poll_journal = [&] {
      if (journal_ && may_send) more |= journal_->Poll(now, room_left(), frames, budget());
    };
    journal_first_ = !journal_first_;
    if (journal_first_) poll_journal();
    more |= tails_.Poll(now, room_left(), frames, budget(), check_files);
    if (!journal_first_) poll_journal();
    return more;
  }

  void WaitForZmq() {
    zmq_fd_.async_wait(boost::asio::posix::stream_descriptor::wait_read,
                       [this](const boost::system::error_code& ec) {
                         if (ec || stopping_) return;
                         zmq_woke_ = true;
                         timer_.cancel();
                       });
  }

  // One turn of the loop: expands the globs and checks the files when due, exchanges frames
  // with the aggregator, reads within the credit, and sets the timer for the next turn.
  void Turn() {
    if (stopping_) return Stop();
    const int64_t now = clock_.NowMs();
    notifier_.WatchdogIfDue(now);
    // With inotify, events drive the checks and polling is a slow safety net (every 10 s with
    // the defaults, globs and files together in one wake-up): quiet files cost almost no CPU.
    // Without it, files are polled every poll_interval.
    const int64_t rescan_every = config_.tail.rescan_interval_ms * (watcher_ ? 10 : 1);
    const int64_t check_every = watcher_
                                    ? std::max<int64_t>(1000, 40 * config_.tail.poll_interval_ms)
                                    : config_.tail.poll_interval_ms;
    if (now - last_glob_expansion_ms_ >= rescan_every) {
      // Files waiting for an fd are looked at again after a poll interval, not a rescan one.
      last_glob_expansion_ms_ =
          tails_.Rescan(now) ? now - rescan_every + config_.tail.poll_interval_ms : now;
      if (watcher_) watcher_->Watch(tails_.WatchDirs());
    }
    // New streams must be on disk before their first frame leaves: a crash in between would
    // otherwise send the same lines again under a new stream id.
    FlushStore();
    if (!welcomed_ && now - hello_sent_ms_ >= hello_retry_ms_) {
      SendHello(now);
      hello_retry_ms_ = std::min<int64_t>(hello_retry_ms_ * 2, kMaxHelloRetryMs);
    }
    if (!welcomed_) WarnIfUnanswered(now);
    bool more = false;
    // ACKs that arrived since the last tick free credit before it is computed.
    PumpAndDispatch(now);
    // Flow control: never more sent-but-unacknowledged bytes than the aggregator granted. A
    // line still being read (however long) holds no credit: it is not sent yet.
    const uint64_t unacked = InFlightBytes();
    const uint64_t budget = credit_bytes_ > unacked ? credit_bytes_ - unacked : 0;
    const bool can_send = welcomed_ && forwarder_->queued() < kMaxQueuedFrames && budget > 0;
    // Even when nothing may be read (no session, no credit, a full queue) the files are
    // checked for rotation, so a file rotated away meanwhile is held open by its inode and
    // read later, however many rotations happen before then.
    std::vector<std::string> frames;
    const size_t room = can_send ? kMaxQueuedFrames - forwarder_->queued() : 0;
    const bool check_files = files_changed_ || now - last_file_check_ms_ >= check_every;
    if (check_files) {
      files_changed_ = false;
      last_file_check_ms_ = now;
    }
    const bool unread = PollInputs(now, room, &frames, credit_bytes_, can_send, check_files);
    more = can_send && unread;  // a file still has data: come back at once
    FlushStore();
    // Where the streams stand in time: after the frames (the aggregator then knows at once a
    // file was read to its end), and every second while quiet.
    const bool sent_data = !frames.empty();
    if (welcomed_ && forwarder_->queued() < kMaxQueuedFrames &&
        (sent_data || now - last_heartbeat_ms_ >= kHeartbeatIntervalMs)) {
      wire::Heartbeat beat;
      beat.agent_now_ms = now;
      const bool full = now - last_heartbeat_ms_ >= kHeartbeatIntervalMs;
      Positions(/*changed_only=*/!full, &beat.at_end, &beat.behind);
      if (full) last_heartbeat_ms_ = now;
      if (full || !beat.at_end.empty() || !beat.behind.empty()) {
        frames.push_back(wire::EncodeHeartbeat(beat));
      }
    }
    forwarder_->Enqueue(std::move(frames));
    // ACKs read here free credit: with data left to read, come back at once rather than
    // after the 50 ms wait below (which capped shipping at a few credits a second).
    if (PumpAndDispatch(now) && unread) more = true;
    if (welcomed_) {
      tails_.CheckAckTimeouts(now, config_.forward.ack_timeout_ms);
      if (journal_) journal_->CheckAckTimeout(now, config_.forward.ack_timeout_ms);
    }
    // The status view is rewritten every 2 s while something happens, every 30 s when quiet.
    if (now - last_status_ms_ >= kStatusIntervalMs) {
      const TailCounters c = tails_.counters();
      const uint64_t journal_bytes = journal_ ? journal_->counters().bytes : 0;
      const uint64_t signature = c.bytes ^ journal_bytes ^ (c.rewinds << 20) ^
                                 (c.truncations << 40) ^ tails_.open_files() ^ (welcomed_ ? 1 : 0) ^
                                 unacked;
      if (signature != last_status_signature_ || now - last_status_ms_ >= kQuietStatusIntervalMs) {
        last_status_signature_ = signature;
        WriteStatus(now);
      }
    }
    // Come back at once while a file has data; soon while frames wait for ZeroMQ, a session
    // or acknowledgements (ACKs are read here); else at the next check.
    // (ZeroMQ's queue drains in well under a millisecond per frame on loopback: frames
    // waiting for it are retried after 1 ms, or they would cap shipping at 16 frames / 20 ms.)
    auto wait = more                       ? std::chrono::milliseconds(0)
                : forwarder_->queued() > 0 ? std::chrono::milliseconds(1)
                : !welcomed_ || UnackedBytes() > 0 || unread
                    ? std::chrono::milliseconds(50)
                    : std::chrono::milliseconds(std::min(check_every, rescan_every));
    if (notifier_.watchdog_interval_ms() > 0) {
      wait = std::min(wait, std::chrono::milliseconds(notifier_.watchdog_interval_ms()));
    }
    if (welcomed_) {
      const int64_t beat_due = last_heartbeat_ms_ + kHeartbeatIntervalMs - now;
      wait = std::min(wait, std::chrono::milliseconds(std::max<int64_t>(beat_due, 1)));
    }
    if (zmq_woke_) {
      // Re-armed only now that Pump drained the socket: ZMQ_FD signals edges, and stays
      // readable until the socket's events are read.
      zmq_woke_ = false;
      WaitForZmq();
    }
    timer_.expires_after(wait);
    timer_.async_wait([this](const boost::system::error_code&) { Turn(); });
  }

  // Says so (every minute at most) while HELLOs stay unanswered: an aggregator that is down,
  // unreachable, or has CURVE on and does not know this agent's key (it answers nothing).
  void WarnIfUnanswered(int64_t now) {
    if (unanswered_since_ms_ == INT64_MIN / 2) unanswered_since_ms_ = now;
    if (now - unanswered_since_ms_ < kUnansweredWarnMs || !unanswered_log_.Allow(now)) return;
    spdlog::warn(
        "No answer from '{}' for {} s: is ember-aggregator running and reachable? With CURVE "
        "on, it answers nothing to an agent without keys or with a key it does not know "
        "(output.curve_key_file, output.curve_server_key).",
        config_.forward.endpoint, (now - unanswered_since_ms_) / 1000);
  }

  // Opens a session (again): no DATA leaves until the aggregator's WELCOME says where each
  // stream stands. Frames queued for the previous session are dropped; the WELCOME rewinds
  // their streams.
  void SendHello(int64_t now) {
    wire::Hello hello{config_.name, config_.host, EMBER_VERSION, store_->epoch(),
                      ++hello_seq_, Streams(),    time_zone_};
    forwarder_->Restart(wire::EncodeHello(hello));
    hello_sent_ms_ = now;
  }

  // Reads what the aggregator sent and acts on it. Returns whether an ACK or a WELCOME moved
  // acknowledged offsets (freeing credit).
  bool PumpAndDispatch(int64_t now) {
    std::vector<Forwarder::Control> control;
    forwarder_->Pump(&control);
    bool acked = false;
    for (const auto& c : control) {
      switch (c.type) {
        case wire::FrameType::kAck:
          for (const auto& e : c.entries) {
            if (!journal_ || !journal_->OnAck(e.stream_id, e.offset, now)) {
              tails_.OnAck(e.stream_id, e.offset, now);
            }
          }
          acked = true;
          break;
        case wire::FrameType::kNack:
          for (const auto& e : c.entries) {
            if (!journal_ || !journal_->OnNack(e.stream_id, e.offset, now)) {
              tails_.OnNack(e.stream_id, e.offset, now);
            }
          }
          break;
        case wire::FrameType::kCredit:
          for (const auto& e : c.entries) SetCredit(e.offset);
          break;
        case wire::FrameType::kWelcome:
          if (c.welcome.hello_seq != hello_seq_) break;  // answers an older HELLO
          if (!welcomed_) {
            spdlog::info("Session open with '{}': it knows {} of our {} streams.",
                         config_.forward.endpoint, c.welcome.marks.size(), Streams().size());
          }
          welcomed_ = true;
          ever_welcomed_ = true;
          unanswered_since_ms_ = INT64_MIN / 2;
          hello_retry_ms_ = kFirstHelloRetryMs;
          SetCredit(c.welcome.credit_bytes);
          tails_.Resync(c.welcome.marks, now);
          if (journal_) journal_->Resync(c.welcome.marks, now);
          acked = true;
          break;
        case wire::FrameType::kHelloRequired:
          if (welcomed_) {
            spdlog::info("'{}' has no session for us (it restarted): saying HELLO again.",
                         config_.forward.endpoint);
            welcomed_ = false;
            SendHello(now);
          }
          break;
        case wire::FrameType::kRefused:
          if (refusal_log_.Allow(now)) {
            spdlog::error("'{}' refused this agent: {}. Retrying every {} s.",
                          config_.forward.endpoint, c.reason, kMaxHelloRetryMs / 1000);
          }
          welcomed_ = false;
          break;
        default:
          break;
      }
    }
    if (acked) CrashPoint("agent_after_ack_before_persist");
    if (!control.empty()) FlushStore();
    return acked;
  }

  // <state_dir>/status.json, for `ember-agent --status`: per-file counters and state. Not
  // fsynced: it is a view, rewritten every few seconds.
  void WriteStatus(int64_t now) {
    last_status_ms_ = now;
    // Building the view allocates per file; give the memory back to the system afterwards.
    struct Trim {
      ~Trim() { ::malloc_trim(0); }
    } trim;
    const std::string json = "{\"pid\": " + std::to_string(::getpid()) +
                             ", \"written_ms\": " + std::to_string(now) +
                             ", \"session\": " + (welcomed_ ? "true" : "false") +
                             ", \"credit_bytes\": " + std::to_string(credit_bytes_) +
                             ", \"tails\": " + tails_.StatusJson() +
                             (journal_ ? ", \"journal\": " + journal_->StatusJson() : "") + "}\n";
    if (Status s = ReplaceFile(config_.state_dir, "status.json", json, /*durable=*/false);
        !s.ok() && !status_error_logged_) {
      spdlog::warn("{} (logged once)", s.message());
      status_error_logged_ = true;
    }
  }

  // HTTP thread: has the loop render the page (it owns the tails) and waits for it. Nothing
  // is rendered unless scraped, so 2,000 quiet files cost no CPU between scrapes.
  HttpResponse ServeMetrics(const HttpRequest& r) {
    auto page = std::make_shared<std::promise<std::string>>();
    std::future<std::string> rendered = page->get_future();
    boost::asio::post(io_, [this, page] { page->set_value(RenderMetrics()); });
    try {
      if (rendered.wait_for(std::chrono::seconds(2)) == std::future_status::ready) {
        return {200, "text/plain; version=0.0.4; charset=utf-8",
                rendered.get() + HttpServerMetricsText(r.server)};
      }
    } catch (const std::future_error&) {  // the loop ended without running it (stopping)
    }
    return {503, "text/plain; charset=utf-8", "ember-agent is busy or stopping\n"};
  }

  // The daemon's thread: the /metrics page.
  std::string RenderMetrics() {
    MetricsText m;
    tails_.WriteMetrics(m);
    if (journal_) journal_->WriteMetrics(m);
    m.Gauge("ember_agent_session_up", "1 while the aggregator has welcomed this agent",
            welcomed_ ? 1 : 0);
    m.Gauge("ember_agent_credit_bytes", "Bytes the aggregator lets this agent have in flight",
            static_cast<double>(credit_bytes_));
    m.Counter("ember_agent_frames_sent_total", "Frames handed to ZeroMQ",
              static_cast<double>(forwarder_->frames_sent()));
    m.Gauge("ember_agent_queued_frames", "Frames waiting for ZeroMQ",
            static_cast<double>(forwarder_->queued()));
    return m.text();
  }

  void SetCredit(uint64_t bytes) {
    if (bytes == credit_bytes_) return;
    spdlog::info("The aggregator grants {} bytes in flight.", bytes);
    credit_bytes_ = bytes;
  }

  void FlushStore() {
    if (!store_->dirty()) return;
    if (Status s = store_->Flush(); !s.ok()) {
      spdlog::error("Cannot save acknowledged offsets: {}", s.message());
    }
    // Serialising thousands of records allocates; return it, and the read buffer, to the
    // system while idle.
    if (tails_.UnackedBytes() == 0) {
      tails_.ReleaseReadBuffer();
      ::malloc_trim(0);
    }
  }

  void Stop() {
    notifier_.Stopping();
    // Hand over what was read and wait (bounded) for its acknowledgement, so a stop followed
    // by a start neither loses nor repeats a line.
    const auto deadline = std::chrono::steady_clock::now() +
                          std::chrono::milliseconds(config_.forward.stop_timeout_ms);
    std::vector<std::string> frames;
    if (welcomed_) {
      PollInputs(clock_.NowMs(), 4 * kMaxQueuedFrames, &frames, credit_bytes_, true, true);
    }
    FlushStore();
    if (welcomed_) {
      // Going away: no file is "read to its end" from now on, so the aggregator holds the
      // watermark at the streams' last stamps (for max_source_delay at most) instead of
      // presuming them quiet: lines written while this agent is stopped are not late.
      wire::Heartbeat goodbye;
      goodbye.agent_now_ms = clock_.NowMs();
      std::vector<wire::AckEntry> at_end;
      Positions(/*changed_only=*/false, &at_end, &goodbye.behind);
      goodbye.behind.insert(goodbye.behind.end(), at_end.begin(), at_end.end());
      frames.push_back(wire::EncodeHeartbeat(goodbye));
    }
    forwarder_->Enqueue(std::move(frames));
    while (std::chrono::steady_clock::now() < deadline &&
           (forwarder_->queued() > 0 || !AllAcked())) {
      PumpAndDispatch(clock_.NowMs());
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    FlushStore();
    WriteStatus(clock_.NowMs());
    forwarder_->SetLinger(0);
    TailCounters c = tails_.counters();
    if (journal_) {  // the journal's lines and bytes count with the files'
      c.lines += journal_->counters().lines;
      c.bytes += journal_->counters().bytes;
    }
    spdlog::info("Stopped: {} lines ({} bytes) read, {} frames sent, {}.", c.lines, c.bytes,
                 forwarder_->frames_sent(),
                 !ever_welcomed_ ? "never welcomed by the aggregator: nothing was acknowledged "
                                   "(what was read is read again at the next start)"
                 : AllAcked()    ? "all acknowledged"
                                 : "some not acknowledged yet (they are sent again at the "
                                   "next start)");
    signals_.cancel();
    if (watcher_) watch_fd_.cancel();
    if (journal_) journal_fd_.cancel();
    zmq_fd_.cancel();
  }

  const AgentConfig& config_;
  const Clock& clock_;
  SystemdNotifier& notifier_;
  std::unique_ptr<Forwarder> forwarder_;
  std::unique_ptr<OffsetStore> store_;
  TailSet tails_;
  std::unique_ptr<JournalInput> journal_;
  bool journal_first_ = false;
  boost::asio::io_context io_;
  boost::asio::steady_timer timer_;
  boost::asio::signal_set signals_;
  std::unique_ptr<FsWatcher> watcher_;
  boost::asio::posix::stream_descriptor watch_fd_{io_};
  boost::asio::posix::stream_descriptor zmq_fd_{io_};
  boost::asio::posix::stream_descriptor journal_fd_{io_};
  bool zmq_woke_ = false;
  bool stopping_ = false;
  int64_t last_glob_expansion_ms_ = INT64_MIN / 2;
  // The aggregator's WELCOME grants the real credit.
  uint64_t credit_bytes_ = 1 << 20;
  // The session: DATA flows only after the WELCOME that answers the latest HELLO.
  bool welcomed_ = false;
  uint64_t hello_seq_ = 0;
  // Stamps without an offset in this host's files are wall-clock times of its zone: the
  // aggregator reads them in it.
  const std::string time_zone_ = LocalZoneName();
  int64_t last_heartbeat_ms_ = INT64_MIN / 2;
  int64_t hello_sent_ms_ = INT64_MIN / 2;
  int64_t hello_retry_ms_ = kFirstHelloRetryMs;
  bool ever_welcomed_ = false;
  int64_t unanswered_since_ms_ = INT64_MIN / 2;
  LogLimiter unanswered_log_{60'000, 1};
  LogLimiter refusal_log_{60'000, 1};
  int64_t last_status_ms_ = INT64_MIN / 2;
  uint64_t last_status_signature_ = 0;
  int64_t last_file_check_ms_ = INT64_MIN / 2;
  bool files_changed_ = true;  // an inotify event since the last check
  bool status_error_logged_ = false;
  std::unique_ptr<HttpServer> http_;  // last: stopped before what it reads
};

}  // namespace

Status RunAgent(const AgentConfig& config, SystemdNotifier& notifier) {
  Result<std::unique_ptr<OffsetStore>> store = OffsetStore::Open(config.state_dir);
  if (!store.ok()) return store.status();
  Result<std::unique_ptr<Forwarder>> forwarder = Forwarder::Connect(config.forward);
  if (!forwarder.ok()) return forwarder.status();
  spdlog::info("ember-agent '{}' sending to '{}'.", config.name, config.forward.endpoint);
  static const SystemClock clock;
  AgentDaemon daemon(config, clock, std::move(*forwarder), std::move(*store), notifier);
  if (Status s = daemon.OpenJournalInput(); !s.ok()) return s;
  if (Status s = daemon.StartHttp(); !s.ok()) return s;
  daemon.Run();
  return Status::Ok();
}

}  // namespace ember::agent
