#include "agent/agent.h"

#include <chrono>
#include <csignal>

#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>
#include <spdlog/spdlog.h>

#include "agent/forwarder.h"
#include "agent/tail_set.h"
#include "common/system.h"

namespace ember::agent {
namespace {

constexpr size_t kMaxQueuedFrames = 64;

class Loop {
 public:
  Loop(const AgentConfig& config, std::unique_ptr<Forwarder> forwarder)
      : config_(config),
        forwarder_(std::move(forwarder)),
        tails_(config.tail, FrameContext{config.name, config.host,
                                         static_cast<size_t>(config.forward.max_frame_bytes)}),
        timer_(io_),
        signals_(io_, SIGINT, SIGTERM) {}

  void Run() {
    signals_.async_wait([this](const boost::system::error_code& ec, int signo) {
      if (ec) return;
      spdlog::info("Received signal {}; stopping.", signo);
      stopping_ = true;
      timer_.cancel();
    });
    Tick();
    io_.run();
  }

 private:
  void Tick() {
    if (stopping_) return Stop();
    const int64_t now = WallClockMs();
    if (now - last_rescan_ms_ >= config_.tail.rescan_interval_ms) {
      tails_.Rescan(now);
      last_rescan_ms_ = now;
    }
    bool more = false;
    if (forwarder_->queued() < kMaxQueuedFrames) {
      std::vector<std::string> frames;
      const size_t room = kMaxQueuedFrames - forwarder_->queued();
      tails_.Poll(now, room, &frames);
      more = frames.size() >= room;  // a file still has data: come back at once
      forwarder_->Enqueue(std::move(frames));
    }
    forwarder_->Pump();
    const auto wait = more ? std::chrono::milliseconds(0)
                      : forwarder_->queued() > 0
                          ? std::chrono::milliseconds(20)
                          : std::chrono::milliseconds(config_.tail.poll_interval_ms);
    timer_.expires_after(wait);
    timer_.async_wait([this](const boost::system::error_code&) { Tick(); });
  }

  void Stop() {
    // Hand over every line already read, so a stop loses nothing that was read.
    std::vector<std::string> frames;
    const int64_t now = WallClockMs();
    tails_.Poll(now, 4 * kMaxQueuedFrames, &frames);
    forwarder_->Enqueue(std::move(frames));
    size_t left = forwarder_->Drain(2000);
    TailCounters c = tails_.counters();
    spdlog::info("Stopped: {} lines ({} bytes) read, {} frames sent, {} frames not handed over.",
                 c.lines, c.bytes, forwarder_->frames_sent(), left);
    signals_.cancel();
  }

  const AgentConfig& config_;
  std::unique_ptr<Forwarder> forwarder_;
  TailSet tails_;
  boost::asio::io_context io_;
  boost::asio::steady_timer timer_;
  boost::asio::signal_set signals_;
  bool stopping_ = false;
  int64_t last_rescan_ms_ = INT64_MIN / 2;
};

}  // namespace

Status RunAgent(const AgentConfig& config) {
  Result<std::unique_ptr<Forwarder>> forwarder = Forwarder::Connect(config.forward);
  if (!forwarder.ok()) return forwarder.status();
  spdlog::info("ember-agent '{}' sending to '{}'.", config.name, config.forward.endpoint);
  Loop loop(config, std::move(*forwarder));
  loop.Run();
  return Status::Ok();
}

}  // namespace ember::agent
