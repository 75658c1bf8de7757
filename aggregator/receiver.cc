#include "aggregator/receiver.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/resource.h>
#include <sys/socket.h>

#include <array>
#include <cstdlib>
#include <cstring>
#include <unordered_map>
#include <vector>

#include <spdlog/spdlog.h>
#include <zmq_addon.hpp>

#include "common/curve_keys.h"
#include "common/system.h"
#include "common/wire.h"

namespace ember::aggregator {

Receiver::Receiver(const AggregatorConfig& config)
    : config_(config), socket_(context_, zmq::socket_type::router) {}

Receiver::~Receiver() = default;

Result<std::unique_ptr<Receiver>> Receiver::Listen(const AggregatorConfig& config) {
  std::unique_ptr<Receiver> r(new Receiver(config));
  if (config.security.curve()) {
    if (Status s = r->EnableCurve(); !s.ok()) return s;
  }
  try {
    r->socket_.set(zmq::sockopt::maxmsgsize, static_cast<int64_t>(wire::kMaxFrameBytes));
    r->socket_.set(zmq::sockopt::linger, 0);
    r->socket_.set(zmq::sockopt::rcvhwm, 1000);
    // ZMTP heartbeats drop connections of agents that died without closing them.
    r->socket_.set(zmq::sockopt::heartbeat_ivl, 2000);
    r->socket_.set(zmq::sockopt::heartbeat_timeout, 6000);
    // A connection that does not finish its handshake soon (an agent does in milliseconds)
    // gives its descriptor back: idle connections cannot hold the process's descriptors long.
    r->socket_.set(zmq::sockopt::handshake_ivl, kHandshakeMs);
    const char* monitor_endpoint = "inproc://ember-receiver-monitor";
    if (zmq_socket_monitor(r->socket_.handle(), monitor_endpoint,
                           ZMQ_EVENT_ACCEPTED | ZMQ_EVENT_ACCEPT_FAILED | ZMQ_EVENT_DISCONNECTED |
                               ZMQ_EVENT_HANDSHAKE_FAILED_NO_DETAIL |
                               ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL |
                               ZMQ_EVENT_HANDSHAKE_FAILED_AUTH) != 0) {
      throw zmq::error_t();
    }
    r->monitor_ = std::make_unique<zmq::socket_t>(r->context_, zmq::socket_type::pair);
    r->monitor_->set(zmq::sockopt::linger, 0);
    r->monitor_->connect(monitor_endpoint);
    r->socket_.bind(config.listen);
    const std::string bound = r->socket_.get(zmq::sockopt::last_endpoint);
    if (size_t colon = bound.rfind(':'); colon != std::string::npos) {
      r->bound_port_ = std::atoi(bound.c_str() + colon + 1);
    }
  } catch (const zmq::error_t& e) {
    return Status::Unavailable("cannot listen on '" + config.listen + "': " + e.what());
  }
  rlimit limit{};
  const uint64_t descriptors =
      ::getrlimit(RLIMIT_NOFILE, &limit) == 0 && limit.rlim_cur != RLIM_INFINITY
          ? static_cast<uint64_t>(limit.rlim_cur)
          : UINT64_MAX;
  r->cap_ = ConnectionCap(ConnectionCap::Effective(config.max_agent_connections, descriptors));
  r->transport_.max_open = r->cap_.max_open();
  if (config.max_agent_connections > 0 &&
      r->cap_.max_open() < static_cast<size_t>(config.max_agent_connections)) {
    spdlog::warn(
        "max_agent_connections is {} but the descriptor limit ({}) allows {} agent "
        "connections: raise LimitNOFILE.",
        config.max_agent_connections, descriptors, r->cap_.max_open());
  }
  return r;
}

namespace {

// Whether `fd` is still a connection accepted on `port` (not the listener itself, not a
// descriptor closed and reused since the monitor reported it).
bool IsConnectionOnPort(int fd, int port) {
  sockaddr_storage local{};
  socklen_t len = sizeof local;
  if (::getsockname(fd, reinterpret_cast<sockaddr*>(&local), &len) != 0) return false;
  int local_port = -1;
  if (local.ss_family == AF_INET) {
    local_port = ntohs(reinterpret_cast<const sockaddr_in*>(&local)->sin_port);
  } else if (local.ss_family == AF_INET6) {
    local_port = ntohs(reinterpret_cast<const sockaddr_in6*>(&local)->sin6_port);
  }
  int listening = 1;
  socklen_t optlen = sizeof listening;
  return local_port == port &&
         ::getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &listening, &optlen) == 0 && listening == 0;
}

// "address:port" of the peer of `fd`, "" when it cannot be told.
std::string PeerAddress(int fd) {
  sockaddr_storage peer{};
  socklen_t len = sizeof peer;
  if (::getpeername(fd, reinterpret_cast<sockaddr*>(&peer), &len) != 0) return "";
  char text[INET6_ADDRSTRLEN] = {};
  if (peer.ss_family == AF_INET) {
    const auto* in = reinterpret_cast<const sockaddr_in*>(&peer);
    if (::inet_ntop(AF_INET, &in->sin_addr, text, sizeof text) == nullptr) return "";
    return std::string(text) + ":" + std::to_string(ntohs(in->sin_port));
  }
  if (peer.ss_family == AF_INET6) {
    const auto* in6 = reinterpret_cast<const sockaddr_in6*>(&peer);
    if (::inet_ntop(AF_INET6, &in6->sin6_addr, text, sizeof text) == nullptr) return "";
    return "[" + std::string(text) + "]:" + std::to_string(ntohs(in6->sin6_port));
  }
  return "";
}

}  // namespace

void Receiver::DrainTransportEvents(int64_t now_ms) {
  if (!monitor_) return;
  // Each event is two parts: 6 bytes (event: u16, value: u32, host order), then the endpoint.
  // The value of ACCEPTED and DISCONNECTED is the connection's descriptor.
  struct Event {
    uint16_t event;
    uint32_t value;
  };
  std::vector<Event> events;
  std::unordered_map<uint32_t, size_t> last_close;  // descriptor -> its last DISCONNECTED
  for (int i = 0; i < 10'000; ++i) {
    zmq::message_t head, endpoint;
    if (!monitor_->recv(head, zmq::recv_flags::dontwait)) break;
    if (head.more()) (void)monitor_->recv(endpoint, zmq::recv_flags::dontwait);
    if (head.size() < 6) continue;
    Event e{};
    std::memcpy(&e.event, head.data(), sizeof e.event);
    std::memcpy(&e.value, static_cast<const char*>(head.data()) + 2, sizeof e.value);
    if (e.event == ZMQ_EVENT_DISCONNECTED) last_close[e.value] = events.size();
    events.push_back(e);
  }
  uint64_t failed_now = 0, refused_now = 0;
  int last_errno = 0;
  for (size_t i = 0; i < events.size(); ++i) {
    const Event& e = events[i];
    switch (e.event) {
      case ZMQ_EVENT_ACCEPTED: {
        ++transport_.accepted;
        // Whether the descriptor is still this connection's: not if it closed already (it
        // may be another's now).
        auto closed = last_close.find(e.value);
        const bool still_open = closed == last_close.end() || closed->second < i;
        const int fd = static_cast<int>(e.value);
        if (!cap_.OnAccepted()) {
          peer_of_[e.value] = still_open ? PeerAddress(fd) : "";
          break;
        }
        // Beyond the cap: cut it. libzmq sees the end of the stream and closes it, reporting
        // DISCONNECTED.
        peer_of_.erase(e.value);
        if (still_open && IsConnectionOnPort(fd, bound_port_) && ::shutdown(fd, SHUT_RDWR) == 0) {
          ++transport_.refused;
          ++refused_now;
        }
        break;
      }
      case ZMQ_EVENT_ACCEPT_FAILED:
        ++transport_.accept_failures;
        ++failed_now;
        last_errno = static_cast<int>(e.value);
        break;
      case ZMQ_EVENT_DISCONNECTED: {
        ++transport_.disconnected;
        cap_.OnClosed();
        auto peer = peer_of_.find(e.value);
        if (peer == peer_of_.end()) break;  // one cut beyond the cap, logged as refused
        uint64_t suppressed = 0;
        if (close_log_.Allow(now_ms, &suppressed)) {
          spdlog::info(
              "Connection from {} on '{}' closed: the peer closed it or stopped answering "
              "heartbeats, or it sent a frame over {} MiB (ZeroMQ does not say which).{}",
              peer->second.empty() ? "a peer" : peer->second, config_.listen,
              wire::kMaxFrameBytes >> 20, LogLimiter::SuppressedNote(suppressed));
        }
        peer_of_.erase(peer);
        break;
      }
      default:
        ++transport_.handshake_failures;
        break;
    }
  }
  transport_.open = cap_.open();
  uint64_t suppressed = 0;
  if (refused_now > 0 && refuse_log_.Allow(now_ms, &suppressed)) {
    spdlog::warn(
        "Refused {} connections on '{}': {} open, at most {} (max_agent_connections, kept "
        "below the descriptor limit).{}",
        refused_now, config_.listen, cap_.open(), cap_.max_open(),
        LogLimiter::SuppressedNote(suppressed));
  }
  suppressed = 0;
  if (failed_now == 0 || !accept_log_.Allow(now_ms, &suppressed)) return;
  spdlog::warn(
      "Cannot accept connections on '{}': {} ({} failed). Connections that do not finish "
      "their handshake are closed after {} s; raise LimitNOFILE, or limit connections per "
      "address in the firewall.{}",
      config_.listen, std::strerror(last_errno), failed_now, kHandshakeMs / 1000,
      LogLimiter::SuppressedNote(suppressed));
}

// Binds the ZAP handler first (without it libzmq would let any key in), then makes the socket
// a CURVE server.
Status Receiver::EnableCurve() {
  Result<CurveKeyPair> keys = ReadCurveKeyFile(config_.security.curve_key_file);
  if (!keys.ok()) return keys.status();
  auto authorized = ReadAuthorizedKeys(config_.security.authorized_keys_dir);
  if (!authorized.ok()) return authorized.status();
  auto hosts = ReadAuthorizedHosts(config_.security.authorized_keys_dir, *authorized);
  if (!hosts.ok()) return hosts.status();
  allowed_hosts_ = std::move(*hosts);
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

void Receiver::ReloadAuthorizedKeys() {
  if (!zap_) return;
  auto authorized = ReadAuthorizedKeys(config_.security.authorized_keys_dir);
  Result<std::map<std::string, std::set<std::string>>> hosts =
      authorized.ok() ? ReadAuthorizedHosts(config_.security.authorized_keys_dir, *authorized)
                      : Result<std::map<std::string, std::set<std::string>>>(authorized.status());
  if (!hosts.ok()) authorized = hosts.status();
  if (authorized.ok()) {
    zap_->SetAuthorized(*authorized);
    allowed_hosts_ = std::move(*hosts);
    spdlog::info("Reloaded {} authorized agent keys.", authorized->size());
  } else {
    spdlog::error("Kept the authorized keys in force: {}", authorized.status().message());
  }
}

bool Receiver::HostAllowed(const std::string& identity, std::string_view host) const {
  if (!zap_) return true;
  auto it = allowed_hosts_.find(identity);
  return it != allowed_hosts_.end() && it->second.count(std::string(host)) > 0;
}

bool Receiver::Next(Message* out) {
  out->frame.reset();
  zmq::message_t routing_id, frame, extra;
  try {
    if (!socket_.recv(routing_id, zmq::recv_flags::dontwait)) return false;
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
      ++malformed_;
      uint64_t suppressed = 0;
      if (malformed_log_.Allow(WallClockMs(), &suppressed)) {
        spdlog::warn("Dropped a message of {} parts (expected one frame).{}", parts,
                     LogLimiter::SuppressedNote(suppressed));
      }
      return true;  // taken, with no frame
    }
  } catch (const zmq::error_t& e) {
    spdlog::error("Receiving failed: {}", e.what());
    return false;
  }
  // With CURVE the agent's identity is the name of its authenticated key, never what the
  // payload claims.
  out->identity.clear();
  if (zap_) {
    try {
      out->identity = frame.gets("User-Id");
    } catch (const zmq::error_t&) {
    }
  }
  out->routing_id = routing_id.to_string();
  out->frame = std::make_unique<zmq::message_t>(std::move(frame));
  return true;
}

void Receiver::Send(const std::string& routing_id, const std::string& body) {
  try {
    std::array<zmq::const_buffer, 2> parts = {zmq::buffer(routing_id), zmq::buffer(body)};
    (void)zmq::send_multipart(socket_, parts, zmq::send_flags::dontwait);
  } catch (const zmq::error_t& e) {
    spdlog::debug("Could not answer an agent: {}", e.what());
  }
}

void Receiver::SetLinger(int ms) {
  try {
    socket_.set(zmq::sockopt::linger, ms);
  } catch (const zmq::error_t&) {
  }
}

}  // namespace ember::aggregator
