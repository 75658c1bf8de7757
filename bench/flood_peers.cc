// ember-flood-peers: what a hostile or broken peer does to the aggregator's per-peer tables,
// for bench/flood_bench.py. `--hellos N`: N HELLOs with distinct agent names from one
// connection. `--streams N --agents M`: M agents, each opening N/M new streams with one tiny
// DATA frame each. Bounded: the frames asked for, then at most `--drain-seconds` reading
// replies. Prints one JSON object with what was sent and what came back.
#include <chrono>
#include <cstdio>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>
#include <zmq.hpp>

#include "common/wire.h"

namespace {

using Clock = std::chrono::steady_clock;
namespace wire = ember::wire;

struct Replies {
  uint64_t welcome = 0, refused = 0, ack = 0, nack = 0, other = 0;
};

void Count(const zmq::message_t& msg, Replies* r) {
  auto type = wire::PeekType(msg.to_string_view());
  if (!type.ok()) return ++r->other, void();
  switch (*type) {
    case wire::FrameType::kWelcome:
      ++r->welcome;
      break;
    case wire::FrameType::kRefused:
      ++r->refused;
      break;
    case wire::FrameType::kAck:
      ++r->ack;
      break;
    case wire::FrameType::kNack:
      ++r->nack;
      break;
    default:
      ++r->other;
  }
}

void Drain(zmq::socket_t& s, Replies* r, int timeout_ms) {
  s.set(zmq::sockopt::rcvtimeo, timeout_ms);
  zmq::message_t msg;
  while (s.recv(msg)) Count(msg, r);
}

wire::Hello HelloOf(const std::string& name) {
  return wire::Hello{name, name, "flood", std::hash<std::string>{}(name) | 1, 1, {}, ""};
}

}  // namespace

int main(int argc, char** argv) {
  std::string endpoint;
  uint64_t hellos = 0, streams = 0;
  int agents = 200;
  double drain_seconds = 5;
  CLI::App app{"Floods the aggregator's per-peer tables (bench/flood_bench.py)"};
  app.add_option("--endpoint", endpoint, "The aggregator, e.g. tcp://127.0.0.1:7450")->required();
  app.add_option("--hellos", hellos, "HELLOs with distinct names from one connection");
  app.add_option("--streams", streams, "New streams in all, one tiny frame each");
  app.add_option("--agents", agents, "Agents sharing --streams")->capture_default_str();
  app.add_option("--drain-seconds", drain_seconds, "Longest wait for replies")
      ->capture_default_str();
  CLI11_PARSE(app, argc, argv);
  zmq::context_t ctx(1);
  Replies replies;
  const auto started = Clock::now();
  uint64_t sent = 0;
  const int drain_ms = static_cast<int>(drain_seconds * 1000);
  if (hellos > 0) {
    zmq::socket_t s(ctx, zmq::socket_type::dealer);
    s.set(zmq::sockopt::sndhwm, 0);
    s.connect(endpoint);
    for (uint64_t i = 0; i < hellos; ++i) {
      s.send(zmq::buffer(wire::EncodeHello(HelloOf("flood-" + std::to_string(i)))));
      ++sent;
      if (i % 1000 == 999) Drain(s, &replies, 0);
    }
    Drain(s, &replies, drain_ms);
  }
  if (streams > 0) {
    std::vector<zmq::socket_t> sockets;
    for (int a = 0; a < agents; ++a) {
      sockets.emplace_back(ctx, zmq::socket_type::dealer);
      sockets.back().set(zmq::sockopt::sndhwm, 0);
      sockets.back().connect(endpoint);
      sockets.back().send(zmq::buffer(wire::EncodeHello(HelloOf("streams-" + std::to_string(a)))));
    }
    for (auto& s : sockets) {  // each agent's WELCOME (or refusal), 2 s at most
      s.set(zmq::sockopt::rcvtimeo, 2000);
      zmq::message_t msg;
      if (s.recv(msg)) Count(msg, &replies);
    }
    const uint64_t per_agent = streams / static_cast<uint64_t>(agents);
    for (int a = 0; a < agents; ++a) {
      const std::string name = "streams-" + std::to_string(a);
      for (uint64_t id = 1; id <= per_agent; ++id) {
        wire::DataFrameBuilder frame(name, name, "/var/log/rotated-" + std::to_string(id) + ".log",
                                     "", id, 0, 0);
        frame.AddLine("x");
        sockets[static_cast<size_t>(a)].send(zmq::buffer(frame.Finish(2)));
        ++sent;
        if (id % 1000 == 0) Drain(sockets[static_cast<size_t>(a)], &replies, 0);
      }
    }
    for (auto& s : sockets) Drain(s, &replies, drain_ms / agents + 1);
  }
  const double seconds = std::chrono::duration<double>(Clock::now() - started).count();
  nlohmann::json j = {{"frames_sent", sent},        {"welcome", replies.welcome},
                      {"refused", replies.refused}, {"ack", replies.ack},
                      {"nack", replies.nack},       {"seconds", seconds}};
  std::printf("%s\n", j.dump().c_str());
  return 0;
}
