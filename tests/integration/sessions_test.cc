// Sessions and frames against a real aggregator: HELLO/WELCOME, refusals, other versions,
// malformed frames from a raw ZeroMQ peer, and the sd_notify protocol of both daemons.
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <functional>
#include <map>
#include <random>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>
#include <zmq.hpp>

#include "common/curve_keys.h"
#include "common/kv_store.h"
#include "common/system.h"
#include "common/wire.h"
#include "engine/alert.h"
#include "tests/support/cluster.h"
#include "tests/support/process.h"
#include "tests/support/raw_peer.h"
#include "tests/support/temp_dir.h"

using namespace ember;
using namespace ember::test;
using namespace std::chrono_literals;

TEST_CASE("Pipeline: malformed frames are dropped and counted, and the aggregator keeps serving",
          "[integration]") {
  Cluster c(kFailRule);
  const std::string err = c.StartAggregator();
  RawPeer peer(c.endpoint);
  // DATA before HELLO: dropped, and the peer is asked for a session.
  peer.Send(FailFrame(1, 0, 6));
  auto type = wire::PeekType(peer.Receive());
  REQUIRE(type.ok());
  CHECK(*type == wire::FrameType::kHelloRequired);
  wire::Welcome welcome = peer.Hello("probe", {{1, 0}});
  CHECK(welcome.credit_bytes == 16u << 20);
  CHECK(welcome.marks.empty());  // a stream it never saw
  // Frames of this build's version: type and body as written.
  auto frame = [](std::string type_and_body) {
    return std::string("\xeb") + static_cast<char>(wire::kWireVersion) + type_and_body;
  };
  std::vector<std::string> junk = {
      "", "x", std::string(100, '\xff'), frame("\x01\x05\x00ab"), frame("\x09"), frame("\x08\x01")};
  for (const auto& j : junk) peer.Send(j);
  peer.Send(FailFrame(1, 0, 6));
  peer.Send(AtEnd(1, 6 * 28));
  REQUIRE(WaitUntil([&] { return HasFiring(c.Alerts(), "203.0.113.99"); }, 20s));
  std::string log = ReadFile(err);
  CHECK(log.find("Dropped a bad frame") != std::string::npos);
  CHECK(log.find("unknown frame type 9") != std::string::npos);
  // An ACK for the good frame comes back once its checkpoint is durable.
  wire::FrameType ack_type = wire::FrameType::kData;
  auto acks = wire::DecodeOffsets(peer.Receive(), &ack_type);
  REQUIRE(acks.ok());
  CHECK(ack_type == wire::FrameType::kAck);
  REQUIRE(acks->size() == 1);
  CHECK((*acks)[0].offset == 6 * 28);
  // A new session (a reconnect) is told the committed mark of the stream it names.
  RawPeer again(c.endpoint);
  welcome = again.Hello("probe", {{1, 0}, {2, 0}});
  REQUIRE(welcome.marks.size() == 1);
  CHECK(welcome.marks[0].stream_id == 1);
  CHECK(welcome.marks[0].offset == 6 * 28);
  c.aggregator->Signal(SIGTERM);
  REQUIRE(c.aggregator->Wait(10s));
  CHECK(c.aggregator->exit_code() == 0);
  CHECK(ReadFile(err).find("6 bad frames") != std::string::npos);
}

TEST_CASE("Pipeline: a frame over 16 MiB closes its connection, logged with the peer's address",
          "[integration][hostile]") {
  Cluster c(kFailRule);
  const std::string err = c.StartAggregator();
  {
    RawPeer big(c.endpoint);
    big.Hello("probe", {{1, 0}});
    big.sock.set(zmq::sockopt::linger, 5000);
    big.Send(std::string((17u << 20), 'x'));
    REQUIRE(WaitUntil([&] { return ReadFile(err).find("frame over 16 MiB") != std::string::npos; },
                      20s));
  }
  const std::string log = ReadFile(err);
  const size_t line = log.find("frame over 16 MiB");
  const size_t start = log.rfind('\n', line) + 1;
  CHECK(log.substr(start, line - start).find("Connection from 127.0.0.1:") != std::string::npos);
  // The page is rendered once a batch.
  CHECK(
      WaitUntil([&] { return Get(Scrape(c.http_port), "ember_zmq_disconnects_total") >= 1; }, 10s));
  // The aggregator keeps serving: another peer's lines count and are acknowledged.
  RawPeer next(c.endpoint);
  next.Hello("probe", {{1, 0}});
  next.Send(FailFrame(1, 0, 6));
  next.Send(AtEnd(1, 6 * 28));
  wire::FrameType type = wire::FrameType::kData;
  auto ack = wire::DecodeOffsets(next.Receive(), &type);
  REQUIRE(ack.ok());
  CHECK(type == wire::FrameType::kAck);
  REQUIRE(WaitUntil([&] { return HasFiring(c.Alerts(), "203.0.113.99"); }, 20s));
}

TEST_CASE("Pipeline: a flood of bad frames writes a bounded number of log lines",
          "[integration][hostile]") {
  Cluster c(kFailRule);
  const std::string err = c.StartAggregator();
  RawPeer flood(c.endpoint);
  flood.Hello("probe", {{1, 0}});
  constexpr int kFrames = 100'000;  // bounded: sent as fast as the socket takes them
  for (int i = 0; i < kFrames; ++i) flood.Send("\xff bad");
  std::map<std::string, double> metrics;
  REQUIRE(WaitUntil(
      [&] {
        metrics = Scrape(c.http_port);
        return Get(metrics, "ember_bad_frames_total") >= kFrames;
      },
      30s));
  const std::string log = ReadFile(err);
  size_t warnings = 0;
  for (size_t at = 0; (at = log.find("Dropped a bad frame", at)) != std::string::npos; ++at) {
    ++warnings;
  }
  CHECK(warnings >= 1);
  CHECK(warnings <= 20);  // a few per 10 s, not one per frame
  CHECK(log.size() < 64 * 1024);
  // The peer is still served.
  flood.Send(FailFrame(1, 0, 6));
  flood.Send(AtEnd(1, 6 * 28));
  REQUIRE(WaitUntil([&] { return HasFiring(c.Alerts(), "203.0.113.99"); }, 20s));
}

TEST_CASE("Pipeline: a restarted agent is welcomed where its previous process's frames ended",
          "[delivery][integration]") {
  // The previous process's frame is accepted but not yet in a checkpoint when the new one
  // says HELLO: its WELCOME waits for the checkpoint and carries the frame's end, so the new
  // process neither sends those lines again nor cuts a frame across that end.
  Cluster c(kFailRule);
  c.StartAggregator();
  RawPeer previous(c.endpoint);
  previous.Hello("probe", {{1, 0}});
  previous.Send(FailFrame(1, 0, 6));
  std::this_thread::sleep_for(50ms);  // handled, and most likely not committed yet
  RawPeer next(c.endpoint);
  wire::Welcome welcome = next.Hello("probe", {{1, 0}});
  REQUIRE(welcome.marks.size() == 1);
  CHECK(welcome.marks[0].stream_id == 1);
  CHECK(welcome.marks[0].offset == 6 * 28);
  next.Send(FailFrame(1, 6 * 28, 2));
  wire::FrameType type = wire::FrameType::kData;
  auto ack = wire::DecodeOffsets(next.Receive(), &type);
  REQUIRE(ack.ok());
  CHECK(type == wire::FrameType::kAck);
  REQUIRE(ack->size() == 1);
  CHECK((*ack)[0].offset == 8 * 28);
}

TEST_CASE("Pipeline: an agent says HELLO first, and reports a refusal or another version",
          "[delivery][integration]") {
  Cluster c(kCountRule);
  // A stand-in aggregator: a ROUTER socket on the agent's endpoint.
  zmq::context_t ctx(1);
  zmq::socket_t router(ctx, zmq::socket_type::router);
  router.set(zmq::sockopt::linger, 0);
  router.set(zmq::sockopt::rcvtimeo, 10000);
  router.bind(c.endpoint);
  c.dir.Append("logs/app.log", "event 1\n");
  c.StartAgent();
  auto receive = [&](std::string* routing_id) {
    zmq::message_t id, body;
    REQUIRE(router.recv(id));
    REQUIRE(router.recv(body));
    *routing_id = id.to_string();
    return body.to_string();
  };
  std::string routing_id;
  auto hello = wire::DecodeHello(receive(&routing_id));
  REQUIRE(hello.ok());  // the first frame is a HELLO, not DATA
  CHECK(hello->agent == "test-agent");
  CHECK(hello->host == "testhost");
  CHECK(hello->epoch != 0);
  REQUIRE(hello->streams.size() == 1);
  auto reply = [&](const std::string& frame) {
    router.send(zmq::buffer(routing_id), zmq::send_flags::sndmore);
    router.send(zmq::buffer(frame), zmq::send_flags::none);
  };
  // A WELCOME of another wire version is ignored, with the versions named.
  std::string welcome = wire::EncodeWelcome({hello->hello_seq, 1 << 20, {}});
  welcome[1] = 9;
  reply(welcome);
  // A refusal is logged with its reason; the agent keeps asking (the aggregator may be
  // upgraded), and sends no DATA meanwhile.
  std::string refused = wire::EncodeRefused("wire version 2 is not spoken here");
  refused[1] = 9;
  reply(refused);
  const std::string log = c.dir.Sub("agent.1.err");
  REQUIRE(WaitUntil(
      [&] { return ReadFile(log).find("refused this agent: wire version 2") != std::string::npos; },
      10s));
  CHECK(ReadFile(log).find("unsupported wire version 9") != std::string::npos);
  auto again = wire::DecodeHello(receive(&routing_id));
  REQUIRE(again.ok());
  CHECK(again->hello_seq > hello->hello_seq);
  CHECK(again->epoch == hello->epoch);  // the same agent, the same state
}

TEST_CASE(
    "Pipeline: a wrong-version HELLO and a message of a million parts are refused, "
    "and other agents do not notice",
    "[delivery][integration]") {
  Cluster c(kCountRule);
  const std::string err = c.StartAggregator();
  c.StartAgent();
  bool attacked = false;
  WriteEvents(c, 2000, [&] {
    // A peer from the future: its HELLO is refused with a reason it can read.
    RawPeer future(c.endpoint);
    std::string hello = wire::EncodeHello({"future", "h", "9.0", 1, 1, {}, ""});
    hello[1] = 99;
    future.Send(hello);
    Result<std::string> reason = wire::DecodeRefused(future.Receive());
    REQUIRE(reason.ok());
    CHECK(reason->find("wire version 99") != std::string::npos);
    CHECK(reason->find("speaks version " + std::to_string(wire::kWireVersion)) !=
          std::string::npos);
    // A million one-byte parts in one message: drained part by part and dropped.
    RawPeer flood(c.endpoint);
    for (int i = 0; i < 999'999; ++i)
      flood.sock.send(zmq::buffer("x", 1), zmq::send_flags::sndmore);
    flood.sock.send(zmq::buffer("x", 1), zmq::send_flags::none);
    REQUIRE(
        WaitUntil([&] { return ReadFile(err).find("1000000 parts") != std::string::npos; }, 20s));
    attacked = true;
  });
  CHECK(attacked);
  ExpectExactly(c, 2000);
  CHECK(ReadFile(err).find("Refused a peer: wire version 99") != std::string::npos);
}

namespace {

// A NOTIFY_SOCKET as systemd provides it: a datagram socket the test reads.
class NotifySocket {
 public:
  explicit NotifySocket(const std::string& path) : path_(path) {
    fd_ = ::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    std::snprintf(addr.sun_path, sizeof addr.sun_path, "%s", path.c_str());
    REQUIRE(::bind(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0);
    timeval tv{0, 100000};
    ::setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  }
  ~NotifySocket() { ::close(fd_); }
  // Waits (bounded) for a datagram containing `what`; earlier ones are kept in seen().
  bool WaitFor(const std::string& what, std::chrono::milliseconds timeout) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    while (std::chrono::steady_clock::now() < deadline) {
      char buf[4096];
      ssize_t n = ::recv(fd_, buf, sizeof buf, 0);
      if (n <= 0) continue;
      seen_.emplace_back(buf, static_cast<size_t>(n));
      if (seen_.back().find(what) != std::string::npos) return true;
    }
    return false;
  }
  std::string env() const { return "NOTIFY_SOCKET=" + path_; }

 private:
  std::string path_;
  int fd_ = -1;
  std::vector<std::string> seen_;
};

}  // namespace

TEST_CASE("Pipeline: the daemons speak sd_notify: READY, WATCHDOG, RELOADING and STOPPING",
          "[systemd][integration]") {
  Cluster c(kFailRule);
  NotifySocket aggregator_socket(c.dir.Sub("notify-aggregator"));
  NotifySocket agent_socket(c.dir.Sub("notify-agent"));
  c.StartAggregator({aggregator_socket.env(), "WATCHDOG_USEC=400000"});
  CHECK(aggregator_socket.WaitFor("READY=1", 10s));
  CHECK(aggregator_socket.WaitFor("WATCHDOG=1", 5s));
  c.aggregator->Signal(SIGHUP);
  CHECK(aggregator_socket.WaitFor("RELOADING=1", 5s));
  CHECK(aggregator_socket.WaitFor("READY=1", 5s));
  c.StartAgent({agent_socket.env(), "WATCHDOG_USEC=400000"});
  CHECK(agent_socket.WaitFor("READY=1", 10s));
  CHECK(agent_socket.WaitFor("WATCHDOG=1", 5s));
  c.agent->Signal(SIGTERM);
  CHECK(agent_socket.WaitFor("STOPPING=1", 5s));
  c.aggregator->Signal(SIGTERM);
  CHECK(aggregator_socket.WaitFor("STOPPING=1", 5s));
  REQUIRE(c.agent->Wait(10s));
  REQUIRE(c.aggregator->Wait(10s));
  CHECK(c.agent->exit_code() == 0);
  CHECK(c.aggregator->exit_code() == 0);
}
