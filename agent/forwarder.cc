#include "agent/forwarder.h"

#include <chrono>
#include <thread>

#include <spdlog/spdlog.h>
#include <zmq.hpp>

#include "common/wire.h"

namespace ember::agent {

struct Forwarder::Impl {
  zmq::context_t context{1};
  zmq::socket_t socket{context, zmq::socket_type::dealer};
  std::string endpoint;
};

Forwarder::Forwarder(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

Forwarder::~Forwarder() = default;

Result<std::unique_ptr<Forwarder>> Forwarder::Connect(const ForwarderOptions& options) {
  auto impl = std::make_unique<Impl>();
  impl->endpoint = options.endpoint;
  try {
    impl->socket.set(zmq::sockopt::sndhwm, options.sndhwm_frames);
    impl->socket.set(zmq::sockopt::linger, 0);
    impl->socket.set(zmq::sockopt::maxmsgsize, static_cast<int64_t>(wire::kMaxFrameBytes));
    impl->socket.set(zmq::sockopt::reconnect_ivl, 100);
    impl->socket.set(zmq::sockopt::reconnect_ivl_max, 5000);
    impl->socket.connect(options.endpoint);
  } catch (const zmq::error_t& e) {
    return Status::InvalidArgument("cannot connect to '" + options.endpoint + "': " + e.what());
  }
  return std::unique_ptr<Forwarder>(new Forwarder(std::move(impl)));
}

void Forwarder::Enqueue(std::vector<std::string>&& frames) {
  for (auto& f : frames) queue_.push_back(std::move(f));
  frames.clear();
}

void Forwarder::Pump() {
  try {
    while (!queue_.empty()) {
      zmq::message_t msg(queue_.front().data(), queue_.front().size());
      if (!impl_->socket.send(msg, zmq::send_flags::dontwait)) break;  // HWM: try later
      queue_.pop_front();
      ++frames_sent_;
    }
    zmq::message_t in;
    while (impl_->socket.recv(in, zmq::recv_flags::dontwait)) {
      // ACK frames: durable offsets. Persisting them is the delivery work of issue #4; for
      // now they are checked and logged.
      auto acks = wire::DecodeAck(in.to_string_view());
      if (!acks.ok()) {
        spdlog::warn("Ignored a bad frame from '{}': {}", impl_->endpoint, acks.status().message());
      }
    }
  } catch (const zmq::error_t& e) {
    spdlog::error("ZeroMQ error on '{}': {}", impl_->endpoint, e.what());
  }
}

size_t Forwarder::Drain(int64_t timeout_ms) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
  while (!queue_.empty() && std::chrono::steady_clock::now() < deadline) {
    Pump();
    if (!queue_.empty()) std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  // Give ZeroMQ's I/O thread the rest of the time to put accepted frames on the wire.
  const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
      deadline - std::chrono::steady_clock::now());
  impl_->socket.set(zmq::sockopt::linger, static_cast<int>(std::max<int64_t>(left.count(), 0)));
  return queue_.size();
}

}  // namespace ember::agent
