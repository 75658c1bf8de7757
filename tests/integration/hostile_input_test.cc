// Hostile input against real daemons on 127.0.0.1: lines longer than the credit, and marks
// forged by an impostor who says HELLO under an agent's name. Nothing may stall a stream or
// silence it; counts stay exact.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include <catch2/catch.hpp>

#include "common/wire.h"
#include "tests/support/cluster.h"
#include "tests/support/http_probe.h"
#include "tests/support/process.h"
#include "tests/support/raw_peer.h"

using namespace ember;
using namespace ember::test;
using namespace std::chrono_literals;

namespace {

std::string Events(int from, int to) {
  std::string out;
  for (int i = from; i < to; ++i) out += "event " + std::to_string(i) + "\n";
  return out;
}

}  // namespace

TEST_CASE("Hostile: a line longer than the credit stalls no file of the agent",
          "[hostile][integration]") {
  Cluster c(kCountRule);
  size_t long_line = 0;
  SECTION("a 300 KiB line with a 256 KiB credit") {
    c.dir.Append("aggregator.yaml", "agent_credit: 256KiB\n");
    long_line = 300 * 1024;
  }
  SECTION("a 17 MiB line with the default 16 MiB credit") { long_line = 17u << 20; }
  c.dir.Write("logs/big.log", "");
  c.StartAggregator();
  c.StartAgent();
  c.dir.Append("logs/app.log", Events(0, 5));
  REQUIRE(WaitUntil([&] { return c.CheckpointedMatches() == 5; }, 20s));
  // The long line (no match in it), then matching lines in both files.
  c.dir.Append("logs/big.log", std::string(long_line, 'x') + "\n");
  std::this_thread::sleep_for(500ms);
  c.dir.Append("logs/app.log", Events(5, 25));
  c.dir.Append("logs/big.log", Events(100, 120));
  ExpectExactly(c, 45);
  const std::string agent_log = ReadFile(c.dir.Sub("agent.1.err"));
  CHECK(agent_log.find("was truncated and flagged") != std::string::npos);
}

TEST_CASE("Hostile: a DATA frame forged far ahead of a stream does not silence it",
          "[hostile][integration]") {
  Cluster c(kCountRule);
  c.StartAggregator();
  c.StartAgent();
  c.dir.Append("logs/app.log", Events(0, 10));
  ExpectExactly(c, 10);
  const auto streams = c.CheckpointedStreams();
  REQUIRE(streams.size() == 1);
  const uint64_t stream = std::stoull(streams[0].substr(streams[0].find('/') + 1));
  // A local user says HELLO under the agent's name (no CURVE on loopback), learns the
  // stream's mark from the WELCOME and sends one frame ending 10^9 bytes ahead.
  RawPeer impostor(c.endpoint);
  wire::Welcome welcome = impostor.Hello("test-agent", {{stream, 0}});
  REQUIRE(welcome.marks.size() == 1);
  wire::DataFrameBuilder forged("test-agent", "testhost", c.dir.Sub("logs/app.log"), "", stream,
                                welcome.marks[0].offset, 1);
  forged.SetOriginOffset(0);
  forged.AddLine("forged");
  impostor.Send(forged.Finish(1'000'000'000));
  wire::FrameType type = wire::FrameType::kData;
  auto ack = wire::DecodeOffsets(impostor.Receive(), &type);  // committed
  REQUIRE(ack.ok());
  REQUIRE(type == wire::FrameType::kAck);
  // The file keeps shipping: the agent refuses the impossible mark and goes on as a new
  // stream from what it knows was acknowledged. Nothing is lost or counted twice.
  c.dir.Append("logs/app.log", Events(10, 30));
  ExpectExactly(c, 30);
  const std::string agent_log = ReadFile(c.dir.Sub("agent.1.err"));
  INFO(agent_log);
  CHECK(agent_log.find("beyond byte") != std::string::npos);
  CHECK(agent_log.find("continues as new stream") != std::string::npos);
}

TEST_CASE(
    "Hostile: a cut or emptied store stops the aggregator with the remedy, and "
    "--reset-state moves it aside",
    "[integration][hostile]") {
  Cluster c(kCountRule);
  c.StartAggregator();
  c.StartAgent();
  c.dir.Append("logs/app.log", Events(0, 5));
  ExpectExactly(c, 5);
  c.agent->Signal(SIGTERM);
  c.aggregator->Signal(SIGTERM);
  REQUIRE(c.agent->Wait(10s));
  REQUIRE(c.aggregator->Wait(10s));
  const std::string data = c.dir.Sub("state/data.mdb");
  const std::string whole = ReadFile(data);
  SECTION("cut in half") { c.dir.Write("state/data.mdb", whole.substr(0, whole.size() / 2)); }
  SECTION("cut to nothing") { c.dir.Write("state/data.mdb", ""); }
  auto refused = RunCommand({EMBER_AGGREGATOR_BIN, "-c", c.dir.Sub("aggregator.yaml")});
  INFO(refused.err);
  CHECK(refused.exit_code == 1);
  CHECK(refused.err.find(data) != std::string::npos);
  CHECK(refused.err.find("--reset-state") != std::string::npos);
  // `ember status` reading the same store says so too, and does not crash.
  auto status = RunCommand({EMBER_CLI_BIN, "status", "--state-dir", c.dir.Sub("state")});
  CHECK(status.exit_code != 0);
  CHECK(status.exit_code < 128);
  // The operator's remedy: the old state is kept aside and the aggregator starts empty; it
  // knows no stream, so the agent sends each again from its origin (all 10 lines).
  auto reset = [&] {
    std::vector<std::string> env;
    c.aggregator = std::make_unique<Process>(
        std::vector<std::string>{EMBER_AGGREGATOR_BIN, "-c", c.dir.Sub("aggregator.yaml"),
                                 "--reset-state"},
        c.dir.Sub("aggregator.out"), c.dir.Sub("aggregator.reset.err"), env);
    return WaitUntil(
        [&] {
          return ReadFile(c.dir.Sub("aggregator.reset.err")).find("listening") != std::string::npos;
        },
        10s);
  };
  REQUIRE(reset());
  const std::string log = ReadFile(c.dir.Sub("aggregator.reset.err"));
  CHECK(log.find("moved the state directory") != std::string::npos);
  bool moved_aside = false;
  for (const auto& e : std::filesystem::directory_iterator(c.dir.path())) {
    moved_aside |= e.path().filename().string().rfind("state.broken-", 0) == 0;
  }
  CHECK(moved_aside);
  c.StartAgent();
  c.dir.Append("logs/app.log", Events(5, 10));
  ExpectExactly(c, 10);
}

TEST_CASE("Hostile: a FIFO dropped into the live rules directory does not freeze the pipeline",
          "[integration][hostile]") {
  Cluster c(kCountRule);
  const std::string err = c.StartAggregator();
  c.StartAgent();
  c.dir.Append("logs/app.log", Events(0, 5));
  ExpectExactly(c, 5);
  // The directory watch reloads the rules; the FIFO is refused at once, the rules in force
  // are kept, and lines keep being counted and acknowledged.
  REQUIRE(::mkfifo(c.dir.Sub("rules/evil.yaml").c_str(), 0600) == 0);
  REQUIRE(WaitUntil(
      [&] { return ReadFile(err).find("Kept the rules in force") != std::string::npos; }, 10s));
  CHECK(ReadFile(err).find("evil.yaml: error: not a regular file") != std::string::npos);
  c.dir.Append("logs/app.log", Events(5, 25));
  ExpectExactly(c, 25);
}

TEST_CASE(
    "Hostile: a 10,000-rule set dropped into the live rules directory compiles while "
    "lines are counted and acknowledged",
    "[integration][hostile]") {
  Cluster c(kCountRule);
  const std::string err = c.StartAggregator();
  c.StartAgent();
  c.dir.Append("logs/app.log", Events(0, 5));
  ExpectExactly(c, 5);
  // Rules without a literal for the prefilter: compiling them takes tens of seconds on a
  // loaded 2-core machine. The rules in force keep counting meanwhile.
  std::string many = "rules:\n";
  for (int i = 0; i < 10'000; ++i) {
    many += "  - name: r" + std::to_string(i) + "\n    match: '(?P<k>\\w+) \\d{" +
            std::to_string(i % 50 + 1) + "," + std::to_string(i % 50 + 3) + "} [a-f]{" +
            std::to_string(i % 7 + 2) +
            "}\\s+\\w'\n    by: [k]\n    window: 1m\n"
            "    when: count >= 1000000\n";
  }
  c.dir.Write("rules/many.yaml", many);
  REQUIRE(WaitUntil([&] { return ReadFile(err).find("The rules directory") != std::string::npos; },
                    10s));
  const auto changed = std::chrono::steady_clock::now();
  c.dir.Append("logs/app.log", Events(5, 25));
  ExpectExactly(c, 25);
  const bool compiled = ReadFile(err).find("Loaded 10001 rules") != std::string::npos;
  INFO("the new rules were "
       << (compiled ? "" : "not yet ") << "installed after "
       << std::chrono::duration<double>(std::chrono::steady_clock::now() - changed).count()
       << " s");
  CHECK(ReadFile(err).find("Kept the rules in force") == std::string::npos);
}

TEST_CASE("Hostile: a flood of HELLOs with new names is bounded by max_agents, and agents go on",
          "[integration][hostile]") {
  Cluster c(kCountRule);
  c.dir.Append("aggregator.yaml", "max_agents: 20\n");
  c.StartAggregator();
  c.StartAgent();
  c.dir.Append("logs/app.log", Events(0, 5));
  ExpectExactly(c, 5);
  // 500 HELLOs with distinct names from one connection (bounded: 500 frames, then it stops).
  RawPeer flood(c.endpoint);
  flood.sock.set(zmq::sockopt::rcvtimeo, 100);
  int refused = 0, welcomed = 0;
  for (int i = 0; i < 500; ++i) {
    flood.Send(wire::EncodeHello({"flood-" + std::to_string(i), "h", "test", 1, 1, {}, ""}));
  }
  for (int i = 0; i < 500; ++i) {
    const std::string reply = flood.Receive();
    if (reply.empty()) break;
    auto type = wire::PeekType(reply);
    if (type.ok() && *type == wire::FrameType::kRefused) ++refused;
    if (type.ok() && *type == wire::FrameType::kWelcome) ++welcomed;
  }
  // The table holds 20 identities, the real agent among them.
  CHECK(welcomed == 19);
  CHECK(refused == 481);
  // The real agent keeps shipping, and the aggregator says what it refused.
  c.dir.Append("logs/app.log", Events(5, 15));
  ExpectExactly(c, 15);
  auto metrics =
      RunCommand({"curl", "-sf", "http://127.0.0.1:" + std::to_string(c.http_port) + "/metrics"});
  REQUIRE(metrics.exit_code == 0);
  CHECK(metrics.out.find("ember_refused_total 481") != std::string::npos);
}

// Both daemons' HTTP ports under a slow-client flood (hundreds of connections that send half a
// request and wait) and malformed requests: scrapes are still answered within a second, bad
// requests get 400, and lines keep flowing.
TEST_CASE("Hostile: a slow-client flood on both HTTP ports keeps scrapes and lines going",
          "[integration][hostile]") {
  Cluster c(kCountRule);
  c.StartAggregator();
  c.StartAgent();
  c.dir.Append("logs/app.log", Events(0, 5));
  ExpectExactly(c, 5);
  for (int port : {c.http_port, c.agent_http_port}) {
    INFO("port " << port);
    std::vector<int> slow;  // bounded: 300 per port
    for (int i = 0; i < 300; ++i) {
      const int fd = Connect(static_cast<uint16_t>(port));
      REQUIRE(fd >= 0);
      SendAll(fd, "GET /metrics HTTP/1.1\r\nHost: ");
      slow.push_back(fd);
    }
    const auto started = std::chrono::steady_clock::now();
    const auto scrape = Scrape(port);
    CHECK(std::chrono::steady_clock::now() - started < 1s);
    CHECK(Get(scrape, "ember_http_evicted_connections_total") >= 300 - 64);
    const int bad = Connect(static_cast<uint16_t>(port));
    REQUIRE(bad >= 0);
    SendAll(bad, "GET /metrics HTTP/1.1\nHost: x\n\n");
    CHECK(ReadAnswer(bad).rfind("HTTP/1.1 400 Bad Request\r\n", 0) == 0);
    ::close(bad);
    for (int fd : slow) ::close(fd);
    CHECK(Get(Scrape(port), "ember_http_bad_requests_total") == 1);
  }
  c.dir.Append("logs/app.log", Events(5, 10));
  ExpectExactly(c, 10);
}

// 400 idle TCP connections to the agents' port of an aggregator whose descriptor limit is
// lowered to 160: those beyond the cap are cut as soon as accepted (counted, logged at a
// limited rate), so the connected agent keeps shipping, scrapes are answered while the idle
// connections are still open on this side, and a new agent gets in once they close.
TEST_CASE("Hostile: idle connections to the agents' port are cut beyond the cap, scrapes go on",
          "[integration][hostile]") {
  Cluster c(kCountRule);
  const std::string err = c.dir.Sub("aggregator.1.err");
  // 160 descriptors: 32 agent connections at most (128 are kept for everything else).
  c.aggregator = std::make_unique<Process>(
      std::vector<std::string>{"prlimit", "--nofile=160", EMBER_AGGREGATOR_BIN, "-c",
                               c.dir.Sub("aggregator.yaml")},
      c.dir.Sub("aggregator.out"), err);
  REQUIRE(WaitUntil([&] { return ReadFile(err).find("listening") != std::string::npos; }, 10s));
  c.StartAgent();
  c.dir.Append("logs/app.log", Events(0, 5));
  ExpectExactly(c, 5);
  const uint16_t port =
      static_cast<uint16_t>(std::stoi(c.endpoint.substr(c.endpoint.rfind(':') + 1)));
  std::vector<int> idle;  // bounded: 400, non-blocking connects that send nothing
  for (int i = 0; i < 400; ++i) {
    const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
    REQUIRE(fd >= 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(port);
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    (void)::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr);
    idle.push_back(fd);
  }
  REQUIRE(WaitUntil([&] { return ReadFile(err).find("Refused") != std::string::npos; }, 10s));
  // Every idle connection is still open on this side; the agent's connection still carries
  // its lines and ACKs.
  c.dir.Append("logs/app.log", Events(5, 10));
  ExpectExactly(c, 10);
  const auto scrape_ok = [&] {
    const int fd = Connect(static_cast<uint16_t>(c.http_port));
    if (fd < 0) return false;
    ::close(fd);
    return true;
  };
  REQUIRE(WaitUntil(scrape_ok, 20s));
  // The page is rendered once a batch. Connections beyond the listen backlog come in as the
  // kernel retries their SYNs (1 s, 3 s, 7 s…): wait for well over the cap cut.
  std::map<std::string, double> metrics;
  CHECK(WaitUntil(
      [&] {
        metrics = Scrape(c.http_port);
        return Get(metrics, "ember_zmq_connections_refused_total") >= 50;
      },
      30s));
  INFO("refused " << Get(metrics, "ember_zmq_connections_refused_total") << ", failed accepts "
                  << Get(metrics, "ember_zmq_accept_failures_total"));
  CHECK(Get(metrics, "ember_zmq_connections_max") == 32);
  CHECK(Get(metrics, "ember_zmq_connections_open") <= 33);  // one may be on its way out
  // Warnings are rate-limited: a handful, not one per connection.
  size_t warnings = 0;
  for (size_t at = 0; (at = ReadFile(err).find("Refused", at)) != std::string::npos; ++at) {
    ++warnings;
  }
  CHECK(warnings <= 10);
  for (int fd : idle) ::close(fd);
  // A new agent gets in.
  c.dir.Append("logs/app.log", Events(10, 15));
  c.agent->Signal(SIGKILL);
  REQUIRE(c.agent->Wait(10s));
  c.StartAgent();
  ExpectExactly(c, 15);
}
