#include "agent/forwarder.h"

#include <deque>

#include <spdlog/spdlog.h>
#include <zmq.hpp>

#include "common/curve_keys.h"
#include "common/wire.h"

namespace ember::agent {

struct Forwarder::Impl {
  zmq::context_t context{1};
  zmq::socket_t socket{context, zmq::socket_type::dealer};
  std::string endpoint;
  // Frames not yet accepted by ZeroMQ, each owning its bytes (see ZeroCopy).
  std::deque<zmq::message_t> queue;
};

namespace {

// A message that sends `frame`'s own bytes: ZeroMQ frees the string (on its I/O thread) when
// it is done with it, so a frame is never copied on its way to the socket.
zmq::message_t ZeroCopy(std::string&& frame) {
  auto* owned = new std::string(std::move(frame));
  return zmq::message_t(
      owned->data(), owned->size(),
      [](void*, void* hint) { delete static_cast<std::string*>(hint); }, owned);
}

Result<Forwarder::Control> Decode(std::string_view frame) {
  Result<wire::FrameType> type = wire::PeekType(frame);
  if (!type.ok()) return type.status();
  Forwarder::Control c{*type, {}, {}, {}};
  switch (*type) {
    case wire::FrameType::kAck:
    case wire::FrameType::kNack:
    case wire::FrameType::kCredit: {
      auto entries = wire::DecodeOffsets(frame, &c.type);
      if (!entries.ok()) return entries.status();
      c.entries = std::move(*entries);
      return c;
    }
    case wire::FrameType::kWelcome: {
      auto welcome = wire::DecodeWelcome(frame);
      if (!welcome.ok()) return welcome.status();
      c.welcome = std::move(*welcome);
      return c;
    }
    case wire::FrameType::kRefused: {
      auto reason = wire::DecodeRefused(frame);
      if (!reason.ok()) return reason.status();
      c.reason = std::move(*reason);
      return c;
    }
    case wire::FrameType::kHelloRequired:
      return c;
    default:
      return Status::InvalidArgument("frame type " + std::to_string(static_cast<int>(*type)) +
                                     " is not one an aggregator sends");
  }
}

}  // namespace

Forwarder::Forwarder(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

Forwarder::~Forwarder() = default;

Result<std::unique_ptr<Forwarder>> Forwarder::Connect(const ForwarderOptions& options) {
  auto impl = std::make_unique<Impl>();
  impl->endpoint = options.endpoint;
  if (!options.curve_key_file.empty()) {
    Result<CurveKeyPair> keys = ReadCurveKeyFile(options.curve_key_file);
    if (!keys.ok()) return keys.status();
    Result<std::string> server = ReadCurvePublicKey(options.curve_server_key);
    if (!server.ok()) return server.status();
    try {
      impl->socket.set(zmq::sockopt::curve_serverkey, *server);
      impl->socket.set(zmq::sockopt::curve_publickey, keys->public_z85);
      impl->socket.set(zmq::sockopt::curve_secretkey, keys->secret_z85);
    } catch (const zmq::error_t& e) {
      return Status::Unavailable(std::string("cannot enable CURVE: ") + e.what());
    }
  }
  try {
    impl->socket.set(zmq::sockopt::sndhwm, options.sndhwm_frames);
    impl->socket.set(zmq::sockopt::linger, 0);
    impl->socket.set(zmq::sockopt::maxmsgsize, static_cast<int64_t>(wire::kMaxFrameBytes));
    impl->socket.set(zmq::sockopt::reconnect_ivl, 100);
    impl->socket.set(zmq::sockopt::reconnect_ivl_max, 5000);
    // ZMTP heartbeats: a dead or unreachable aggregator is noticed within seconds and the
    // connection re-made, instead of waiting on TCP's timeouts.
    impl->socket.set(zmq::sockopt::heartbeat_ivl, 2000);
    impl->socket.set(zmq::sockopt::heartbeat_timeout, 6000);
    impl->socket.set(zmq::sockopt::heartbeat_ttl, 6000);
    impl->socket.connect(options.endpoint);
  } catch (const zmq::error_t& e) {
    return Status::InvalidArgument("cannot connect to '" + options.endpoint + "': " + e.what());
  }
  return std::unique_ptr<Forwarder>(new Forwarder(std::move(impl)));
}

void Forwarder::Enqueue(std::vector<std::string>&& frames) {
  for (auto& f : frames) impl_->queue.push_back(ZeroCopy(std::move(f)));
  frames.clear();
}

void Forwarder::Restart(std::string frame) {
  impl_->queue.clear();
  impl_->queue.push_back(ZeroCopy(std::move(frame)));
}

size_t Forwarder::queued() const { return impl_->queue.size(); }

void Forwarder::Pump(std::vector<Control>* control) {
  try {
    while (!impl_->queue.empty()) {
      // On EAGAIN (HWM) the message stays ours, unchanged: try later.
      if (!impl_->socket.send(impl_->queue.front(), zmq::send_flags::dontwait)) break;
      impl_->queue.pop_front();
      ++frames_sent_;
    }
    zmq::message_t in;
    while (impl_->socket.recv(in, zmq::recv_flags::dontwait)) {
      Result<Control> c = Decode(in.to_string_view());
      if (!c.ok()) {
        spdlog::warn("Ignored a bad frame from '{}': {}", impl_->endpoint, c.status().message());
        continue;
      }
      control->push_back(std::move(*c));
    }
  } catch (const zmq::error_t& e) {
    spdlog::error("ZeroMQ error on '{}': {}", impl_->endpoint, e.what());
  }
}

int Forwarder::notify_fd() const { return impl_->socket.get(zmq::sockopt::fd); }

void Forwarder::SetLinger(int64_t linger_ms) {
  impl_->socket.set(zmq::sockopt::linger, static_cast<int>(linger_ms));
}

}  // namespace ember::agent
