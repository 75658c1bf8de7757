// RawPeer: a test client speaking the wire protocol on a real ZeroMQ DEALER socket, as an
// agent (or an impostor) would. Receives time out after 10 s. Not thread-safe.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include <catch2/catch.hpp>
#include <zmq.hpp>

#include "common/system.h"
#include "common/wire.h"

namespace ember::test {

struct RawPeer {
  explicit RawPeer(const std::string& endpoint) {
    sock.set(zmq::sockopt::linger, 1000);
    sock.set(zmq::sockopt::rcvtimeo, 10000);
    sock.connect(endpoint);
  }
  void Send(std::string_view frame) { sock.send(zmq::buffer(frame), zmq::send_flags::none); }
  // The next frame from the aggregator ("" after 10 s of silence).
  std::string Receive() {
    zmq::message_t msg;
    if (!sock.recv(msg)) return "";
    return msg.to_string();
  }
  wire::Welcome Hello(const std::string& name, std::vector<wire::AckEntry> streams = {},
                      uint64_t epoch = 42) {
    Send(wire::EncodeHello({name, "probehost", "test", epoch, 1, std::move(streams), ""}));
    auto welcome = wire::DecodeWelcome(Receive());
    REQUIRE(welcome.ok());
    CHECK(welcome->hello_seq == 1);
    return *welcome;
  }
  zmq::context_t ctx{1};
  zmq::socket_t sock{ctx, zmq::socket_type::dealer};
};

// A DATA frame of agent "probe", stream `stream_id`, holding `lines` lines "auth fail from
// 203.0.113.99" (28 bytes each with the newline) from byte `start`, read at `read_time_ms`
// (now when 0; the lines have no stamp of their own, so this is their time).
inline std::string FailFrame(uint64_t stream_id, uint64_t start, int lines,
                             int64_t read_time_ms = 0) {
  if (read_time_ms == 0) read_time_ms = WallClockMs();
  wire::DataFrameBuilder b("probe", "probehost", "/probe.log", "", stream_id, start, read_time_ms);
  b.SetOriginOffset(0);
  for (int i = 0; i < lines; ++i) b.AddLine("auth fail from 203.0.113.99");
  return b.Finish(start + 28 * static_cast<uint64_t>(lines));
}

// A HEARTBEAT saying stream `stream_id` is read to its end at `offset` as of `agent_now_ms`
// (now when 0): the stream no longer holds the watermark back.
inline std::string AtEnd(uint64_t stream_id, uint64_t offset, int64_t agent_now_ms = 0) {
  wire::Heartbeat beat;
  beat.agent_now_ms = agent_now_ms == 0 ? WallClockMs() : agent_now_ms;
  beat.at_end.push_back({stream_id, offset});
  return wire::EncodeHeartbeat(beat);
}

}  // namespace ember::test
