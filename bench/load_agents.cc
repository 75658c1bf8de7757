// ember-load-agents: many agents in one process, for the aggregator load test.
// Each simulated agent is its own ZeroMQ DEALER connection speaking the real protocol: HELLO,
// then DATA frames of one stream at a steady rate within its credit, reading ACKs. Bounded:
// `--seconds` of traffic, then at most `--drain-seconds` waiting for the last ACKs. Prints
// one JSON object: what was sent, what was acknowledged, and how long the acknowledgements
// took to catch up.
#include <sys/resource.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <ctime>
#include <string>
#include <thread>
#include <vector>

#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>
#include <zmq.hpp>

#include "common/wire.h"

namespace {

using Clock = std::chrono::steady_clock;

struct Options {
  std::string endpoint;
  int agents = 500;
  int threads = 4;
  double seconds = 20;
  double drain_seconds = 15;
  int lines_per_second = 200;  // per agent
  int error_every = 100;       // one ERROR line in this many
  // 0: lines are stamped with the wall clock. Otherwise their stamps run from this many hours
  // ago to now over `seconds` (each agent a backlog catching up): an hour of event time, and
  // of the history max_lateness keeps, passes in a short run.
  double event_hours = 0;
};

// The wall clock when traffic starts, and how much faster event time runs (event_hours).
int64_t g_start_wall_ms = 0;
int64_t g_event_origin_ms = 0;  // the stamp at g_start_wall_ms
double g_warp = 0;

struct Agent {
  std::unique_ptr<zmq::socket_t> socket;
  std::string name;
  bool welcomed = false;
  uint64_t credit = 0;
  uint64_t sent_offset = 0;
  uint64_t acked_offset = 0;
  uint64_t lines_sent = 0;
  uint64_t nacks = 0;
};

struct Totals {
  uint64_t welcomed = 0, lines_sent = 0, bytes_sent = 0, bytes_acked = 0, nacks = 0,
           unacked_at_end = 0, agents_behind_at_end = 0;
  double drain_seconds = 0;
};

int64_t WallMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

void SendHello(Agent& a, uint64_t seq) {
  ember::wire::Hello hello;
  hello.agent = a.name;
  hello.host = a.name;
  hello.software_version = "load-agents";
  hello.epoch = std::hash<std::string>{}(a.name) | 1;
  hello.hello_seq = seq;
  hello.streams = {{1, a.acked_offset}};
  a.socket->send(zmq::buffer(ember::wire::EncodeHello(hello)), zmq::send_flags::dontwait);
}

void Receive(Agent& a) {
  zmq::message_t msg;
  while (a.socket->recv(msg, zmq::recv_flags::dontwait)) {
    const std::string_view frame = msg.to_string_view();
    auto type = ember::wire::PeekType(frame);
    if (!type.ok()) continue;
    if (*type == ember::wire::FrameType::kWelcome) {
      if (auto w = ember::wire::DecodeWelcome(frame); w.ok()) {
        a.welcomed = true;
        a.credit = w->credit_bytes;
        for (const auto& m : w->marks) {
          if (m.stream_id == 1) a.sent_offset = a.acked_offset = std::max(a.acked_offset, m.offset);
        }
      }
    } else if (*type == ember::wire::FrameType::kHelloRequired) {
      a.welcomed = false;
      SendHello(a, 2);
    } else {
      ember::wire::FrameType kind;
      auto entries = ember::wire::DecodeOffsets(frame, &kind);
      if (!entries.ok()) continue;
      for (const auto& e : *entries) {
        if (kind == ember::wire::FrameType::kAck && e.stream_id == 1) {
          a.acked_offset = std::max(a.acked_offset, e.offset);
        } else if (kind == ember::wire::FrameType::kCredit) {
          a.credit = e.offset;
        } else if (kind == ember::wire::FrameType::kNack && e.stream_id == 1) {
          ++a.nacks;
          a.sent_offset = e.offset;  // go back: resend from there
        }
      }
    }
  }
}

// Sends the lines `a` owes by now (as many as its credit allows) in one frame.
void SendDue(Agent& a, uint64_t lines_due, uint64_t* bytes_sent) {
  if (!a.welcomed || a.lines_sent >= lines_due) return;
  ember::wire::DataFrameBuilder frame(a.name, a.name, "/var/log/load.log", "", 1, a.sent_offset,
                                      WallMs());
  uint64_t end = a.sent_offset;
  // Stamped now (RFC 3339, UTC): the aggregator batches in event time, as with real agents.
  const int64_t wall_ms = WallMs();
  const int64_t now_ms =
      g_warp == 0
          ? wall_ms
          : g_event_origin_ms +
                static_cast<int64_t>(static_cast<double>(wall_ms - g_start_wall_ms) * g_warp);
  const std::time_t now_s = static_cast<std::time_t>(now_ms / 1000);
  std::tm tm{};
  gmtime_r(&now_s, &tm);
  char stamp[40];
  const size_t stamp_len = std::strftime(stamp, sizeof stamp, "%Y-%m-%dT%H:%M:%S", &tm);
  std::snprintf(stamp + stamp_len, sizeof stamp - stamp_len, ".%03dZ",
                static_cast<int>(now_ms % 1000));
  char line[200];
  while (a.lines_sent < lines_due && end - a.acked_offset < a.credit &&
         frame.size_bytes() < 60 * 1024) {
    const bool error = a.lines_sent % 100 == 99;
    const int n = std::snprintf(line, sizeof line,
                                "%s %s app[4242]: %s request %llu served in 12ms "
                                "path=/api/v1/items status=%d",
                                stamp, a.name.c_str(), error ? "ERROR" : "INFO",
                                static_cast<unsigned long long>(a.lines_sent), error ? 500 : 200);
    frame.AddLine(std::string_view(line, static_cast<size_t>(n)));
    end += static_cast<uint64_t>(n) + 1;
    ++a.lines_sent;
  }
  if (frame.line_count() == 0) return;
  const std::string bytes = frame.Finish(end);
  if (a.socket->send(zmq::buffer(bytes), zmq::send_flags::dontwait)) {
    *bytes_sent += end - a.sent_offset;
    a.sent_offset = end;
    // As a real agent does after a turn that sent data: the file is read to its end.
    ember::wire::Heartbeat beat;
    beat.agent_now_ms = wall_ms;
    // Read to its end, as a real agent says after a turn that sent data; with event_hours
    // a backlog: its position is its newest stamp, not the clock.
    (g_warp == 0 ? beat.at_end : beat.behind).push_back({1, end});
    const std::string heartbeat = ember::wire::EncodeHeartbeat(beat);
    (void)a.socket->send(zmq::buffer(heartbeat), zmq::send_flags::dontwait);
  }
}

Totals RunThread(zmq::context_t& ctx, const Options& o, int first, int count) {
  std::vector<Agent> agents(static_cast<size_t>(count));
  for (int i = 0; i < count; ++i) {
    Agent& a = agents[static_cast<size_t>(i)];
    char name[32];
    std::snprintf(name, sizeof name, "load-%04d", first + i);
    a.name = name;
    a.socket = std::make_unique<zmq::socket_t>(ctx, zmq::socket_type::dealer);
    a.socket->set(zmq::sockopt::linger, 0);
    a.socket->connect(o.endpoint);
    SendHello(a, 1);
  }
  Totals t;
  const auto start = Clock::now();
  const auto stop_sending = start + std::chrono::duration<double>(o.seconds);
  const auto give_up = stop_sending + std::chrono::duration<double>(o.drain_seconds);
  std::vector<zmq::pollitem_t> items;
  for (auto& a : agents) items.push_back({a.socket->handle(), 0, ZMQ_POLLIN, 0});
  while (true) {
    const auto now = Clock::now();
    zmq::poll(items.data(), items.size(), std::chrono::milliseconds(10));
    for (size_t i = 0; i < agents.size(); ++i) {
      if (items[i].revents & ZMQ_POLLIN) Receive(agents[i]);
    }
    if (now < stop_sending) {
      const double elapsed = std::chrono::duration<double>(now - start).count();
      const auto due = static_cast<uint64_t>(elapsed * o.lines_per_second);
      for (auto& a : agents) SendDue(a, due, &t.bytes_sent);
    } else {
      bool all_acked = std::all_of(agents.begin(), agents.end(),
                                   [](const Agent& a) { return a.acked_offset >= a.sent_offset; });
      if (all_acked || now >= give_up) {
        t.drain_seconds = std::chrono::duration<double>(now - stop_sending).count();
        break;
      }
    }
  }
  for (const auto& a : agents) {
    t.welcomed += a.welcomed;
    t.lines_sent += a.lines_sent;
    t.bytes_acked += a.acked_offset;
    t.nacks += a.nacks;
    t.unacked_at_end += a.sent_offset - std::min(a.sent_offset, a.acked_offset);
    t.agents_behind_at_end += a.acked_offset < a.sent_offset;
  }
  return t;
}

}  // namespace

int main(int argc, char** argv) {
  Options o;
  CLI::App app{"Many protocol-speaking agents in one process (aggregator load test)"};
  app.add_option("--endpoint", o.endpoint, "The aggregator, e.g. tcp://127.0.0.1:7450")->required();
  app.add_option("--agents", o.agents, "Connections")->capture_default_str();
  app.add_option("--threads", o.threads, "Threads sharing them")->capture_default_str();
  app.add_option("--seconds", o.seconds, "Seconds of traffic")->capture_default_str();
  app.add_option("--drain-seconds", o.drain_seconds, "Longest wait for the last ACKs")
      ->capture_default_str();
  app.add_option("--lines-per-second", o.lines_per_second, "Per agent")->capture_default_str();
  app.add_option("--event-hours", o.event_hours,
                 "Stamps run from this many hours ago to now over the run (0: the clock)")
      ->capture_default_str();
  CLI11_PARSE(app, argc, argv);
  // Each connection holds a few descriptors.
  rlimit limit;
  if (::getrlimit(RLIMIT_NOFILE, &limit) == 0) {
    limit.rlim_cur = limit.rlim_max;
    ::setrlimit(RLIMIT_NOFILE, &limit);
  }
  g_start_wall_ms = WallMs();
  if (o.event_hours > 0 && o.seconds > 0) {
    g_warp = o.event_hours * 3600.0 / o.seconds;
    g_event_origin_ms = g_start_wall_ms - static_cast<int64_t>(o.event_hours * 3600'000.0);
  }
  zmq::context_t ctx(2);
  ctx.set(zmq::ctxopt::max_sockets, o.agents + 64);
  std::vector<Totals> totals(static_cast<size_t>(o.threads));
  std::vector<std::thread> threads;
  const int per = (o.agents + o.threads - 1) / o.threads;
  for (int t = 0; t < o.threads; ++t) {
    const int first = t * per, count = std::max(0, std::min(per, o.agents - first));
    threads.emplace_back(
        [&, t, first, count] { totals[static_cast<size_t>(t)] = RunThread(ctx, o, first, count); });
  }
  for (auto& t : threads) t.join();
  Totals all;
  for (const auto& t : totals) {
    all.welcomed += t.welcomed;
    all.lines_sent += t.lines_sent;
    all.bytes_sent += t.bytes_sent;
    all.bytes_acked += t.bytes_acked;
    all.nacks += t.nacks;
    all.unacked_at_end += t.unacked_at_end;
    all.agents_behind_at_end += t.agents_behind_at_end;
    all.drain_seconds = std::max(all.drain_seconds, t.drain_seconds);
  }
  nlohmann::json j = {{"agents", o.agents},
                      {"welcomed", all.welcomed},
                      {"seconds", o.seconds},
                      {"offered_lines_per_second", o.agents * o.lines_per_second},
                      {"lines_sent", all.lines_sent},
                      {"bytes_sent", all.bytes_sent},
                      {"bytes_acked", all.bytes_acked},
                      {"nacks", all.nacks},
                      {"unacked_bytes_at_end", all.unacked_at_end},
                      {"agents_behind_at_end", all.agents_behind_at_end},
                      {"drain_seconds", all.drain_seconds}};
  std::printf("%s\n", j.dump().c_str());
  return all.agents_behind_at_end == 0 && all.welcomed == static_cast<uint64_t>(o.agents) ? 0 : 1;
}
