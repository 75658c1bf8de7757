// Receiver: the aggregator's ROUTER socket. Binds the data endpoint, turns on CURVE with its
// ZAP handler when configured, receives one-frame messages without blocking (a malformed
// multi-part message is drained part by part and counted, never buffered), tells the
// authenticated key's name of each frame, and sends replies without blocking.
// Not thread-safe; owned by the aggregator's pipeline thread (the ZAP handler runs its own).
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <string_view>
#include <unordered_map>

#include <zmq.hpp>

#include "aggregator/aggregator_config.h"
#include "aggregator/connection_cap.h"
#include "aggregator/zap_handler.h"
#include "common/log_limiter.h"
#include "common/status.h"

namespace ember::aggregator {

class Receiver {
 public:
  // Errors: Unavailable when the endpoint cannot be bound; key files that cannot be read.
  static Result<std::unique_ptr<Receiver>> Listen(const AggregatorConfig& config);
  ~Receiver();

  struct Message {
    std::string routing_id;
    std::unique_ptr<zmq::message_t> frame;  // owns the bytes decoded views point into
    std::string identity;                   // the CURVE key's name, "" without CURVE
  };
  // Takes the next message: false when none is waiting. A malformed one (not one frame) is
  // taken, counted and logged, and leaves out->frame null.
  bool Next(Message* out);
  void Send(const std::string& routing_id, const std::string& body);

  // For zmq::poll.
  void* handle() { return socket_.handle(); }
  bool curve() const { return zap_ != nullptr; }
  // With CURVE: whether the agent authenticated as `identity` may speak for `host` (its key's
  // name, or a line of its `.hosts` file). Always true without CURVE.
  bool HostAllowed(const std::string& identity, std::string_view host) const;
  // Reads the authorized keys again (SIGHUP); keeps those in force when they cannot be read.
  void ReloadAuthorizedKeys();
  // Lets queued replies leave for up to `ms` when the socket closes.
  void SetLinger(int ms);
  uint64_t malformed_messages() const { return malformed_; }

  // What libzmq says of the connections under the listening socket (a socket monitor).
  // libzmq cannot be told to stop accepting; when descriptors run out it tries again at once.
  // So connections beyond max_agent_connections (kept below the descriptor limit) are cut as
  // soon as the monitor reports them accepted, connections that never finish their
  // handshake are closed after kHandshakeMs, and a peer that sends a frame over 16 MiB is
  // disconnected.
  struct TransportCounters {
    uint64_t accepted = 0;
    uint64_t accept_failures = 0;     // accept(2) failed: EMFILE, ENFILE (descriptors out)
    uint64_t disconnected = 0;        // closed: by the peer, a timeout, a frame over 16 MiB
    uint64_t handshake_failures = 0;  // ZMTP or CURVE handshake failed or timed out
    uint64_t refused = 0;             // cut when accepted: beyond the connection cap
    uint64_t open = 0;                // connections open now
    uint64_t max_open = 0;            // the cap
  };
  // Reads what the monitor reported since the last call (bounded per call), cuts connections
  // beyond the cap, and logs failures to accept, refusals and the closing of connections it
  // let in (with the peer's address; libzmq does not say why a connection closed), all
  // rate-limited. Call from the
  // loop that owns the receiver, when monitor_handle() is readable and at least once a batch.
  void DrainTransportEvents(int64_t now_ms);
  // For zmq::poll: the socket monitor's events.
  void* monitor_handle() { return monitor_->handle(); }
  const TransportCounters& transport() const { return transport_; }
  static constexpr int kHandshakeMs = 5000;

 private:
  explicit Receiver(const AggregatorConfig& config);
  Status EnableCurve();

  const AggregatorConfig& config_;
  zmq::context_t context_{1};
  std::unique_ptr<ZapHandler> zap_;  // before socket_: destroyed after it, before context_
  std::map<std::string, std::set<std::string>> allowed_hosts_;  // by key name
  zmq::socket_t socket_;
  uint64_t malformed_ = 0;
  LogLimiter malformed_log_;
  std::unique_ptr<zmq::socket_t> monitor_;  // PAIR receiving the socket monitor's events
  TransportCounters transport_;
  LogLimiter accept_log_;
  LogLimiter refuse_log_;
  LogLimiter close_log_;
  // The peer ("address:port", "" when it could not be told) of each connection let in, by
  // descriptor: at most one entry per descriptor the process may open.
  std::unordered_map<uint32_t, std::string> peer_of_;
  ConnectionCap cap_{1};
  int bound_port_ = -1;  // the agents' port, to tell an accepted connection's descriptor
};

}  // namespace ember::aggregator
