// ConnectionCap: how many connections the agents' port may hold open at once, kept below the
// process's descriptor limit so that accepting never runs it out of descriptors (libzmq,
// out of them, retries accept(2) at once and the HTTP port, the store and the outputs get
// none). It counts the connections from the socket monitor's events and says which newly
// accepted ones are beyond the cap, to be cut. Pure bookkeeping; not thread-safe.
#pragma once

#include <cstddef>
#include <cstdint>

namespace ember::aggregator {

class ConnectionCap {
 public:
  // Descriptors left for everything but agent connections: the HTTP server's 64, its
  // listener, the store, the rules, the outputs, libzmq's own.
  static constexpr uint64_t kReservedDescriptors = 128;

  // `configured` 0: as many as the descriptor limit allows. Never more than the descriptor
  // limit `descriptor_limit` (RLIMIT_NOFILE's soft value) less the reserve, never below 1.
  static size_t Effective(int64_t configured, uint64_t descriptor_limit) {
    const uint64_t budget =
        descriptor_limit > kReservedDescriptors + 1 ? descriptor_limit - kReservedDescriptors : 1;
    if (configured <= 0) return static_cast<size_t>(budget);
    return static_cast<size_t>(
        configured < static_cast<int64_t>(budget) ? static_cast<uint64_t>(configured) : budget);
  }

  explicit ConnectionCap(size_t max_open) : max_open_(max_open) {}

  // A connection was accepted: true when it is beyond the cap and is to be cut (it still
  // counts as open until its close is reported).
  bool OnAccepted() {
    ++open_;
    return open_ > max_open_;
  }
  // A connection closed (whoever closed it).
  void OnClosed() {
    if (open_ > 0) --open_;
  }
  size_t open() const { return open_; }
  size_t max_open() const { return max_open_; }

 private:
  size_t max_open_;
  size_t open_ = 0;
};

}  // namespace ember::aggregator
