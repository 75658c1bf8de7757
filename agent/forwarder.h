// Forwarder: owns the agent's ZeroMQ DEALER socket to the aggregator and sends DATA frames
// without ever blocking the reading loop: frames ZeroMQ does not take yet stay queued here,
// and the reader pauses while the queue is full, so memory stays bounded when the
// aggregator is slow or away. Not thread-safe; owned by the agent's io_context thread.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "agent/agent_config.h"
#include "common/status.h"
#include "common/wire.h"

namespace ember::agent {

class Forwarder {
 public:
  // Creates the socket and starts connecting (ZeroMQ reconnects by itself). Errors:
  // InvalidArgument for an endpoint ZeroMQ rejects.
  static Result<std::unique_ptr<Forwarder>> Connect(const ForwarderOptions& options);
  ~Forwarder();

  // A frame from the aggregator, decoded.
  struct Control {
    wire::FrameType type;
    std::vector<wire::AckEntry> entries;  // ACK, NACK, CREDIT (one entry: 0, bytes)
    wire::Welcome welcome;                // WELCOME
    std::string reason;                   // REFUSED
  };

  // Takes the frames; ZeroMQ sends them from their own buffers (no copy) and frees them on its
  // I/O thread once sent.
  void Enqueue(std::vector<std::string>&& frames);
  // Drops the frames not yet handed to ZeroMQ and queues `frame` (a HELLO) to go first.
  void Restart(std::string frame);
  // Hands queued frames to ZeroMQ while it accepts them; appends the frames that arrived
  // to *control.
  void Pump(std::vector<Control>* control);
  // Frames waiting for ZeroMQ to accept them.
  size_t queued() const;
  uint64_t frames_sent() const { return frames_sent_; }
  // ZeroMQ's notification descriptor (ZMQ_FD): readable when the socket's events may have
  // changed (a frame arrived, room to send). Owned by the socket; poll it, never read it.
  int notify_fd() const;
  // Lets ZeroMQ try for up to `linger_ms` to deliver what it accepted when the socket closes.
  void SetLinger(int64_t linger_ms);

 private:
  struct Impl;
  explicit Forwarder(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
  uint64_t frames_sent_ = 0;
};

}  // namespace ember::agent
