// Event time with real daemons: outages of an agent or of the aggregator, and backfills by
// several agents, give the windows of the lines' own times. Lines carry ISO-8601 stamps of
// the moment they are written; the references are `ember replay` of the same files.
#include <signal.h>

#include <ctime>
#include <random>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include "common/system.h"
#include "common/time_zone.h"
#include "engine/alert.h"
#include "tests/support/cluster.h"

using namespace ember;
using namespace ember::test;
using namespace std::chrono_literals;

namespace {

// 5 fails from one IP within 4 s fire; `repeat` equal to the slide makes every window end at
// which the condition holds visible as an event (live and in replay alike).
const char* kBurstRule = R"(rules:
  - name: burst
    match: 'auth fail from (?P<ip>[\d.]+)'
    by: [ip]
    window: 4s
    every: 500ms
    repeat: 500ms
    when: count >= 5
    severity: critical
    message: '{{count}} fails from {{ip}}'
)";

std::string Fail(const std::string& ip, int64_t ms) {
  return engine::FormatIsoMs(ms) + " sshd[7]: auth fail from " + ip + "\n";
}

using Windows = std::set<std::pair<int64_t, std::string>>;  // (window end, ip) that fired

Windows Fired(const std::vector<nlohmann::json>& alerts, const std::string& ip = "") {
  Windows out;
  for (const auto& a : alerts) {
    if (a["state"] != "firing") continue;
    const std::string key = a["key"]["ip"];
    if (ip.empty() || key == ip) out.insert({a["window_end_ms"].get<int64_t>(), key});
  }
  return out;
}

Windows Replayed(const Cluster& c, const std::vector<std::string>& files) {
  std::vector<std::string> argv = {EMBER_CLI_BIN,      "replay",           "--rules",
                                   c.dir.Sub("rules"), "--batch-interval", "500ms"};
  argv.insert(argv.end(), files.begin(), files.end());
  ProcessResult r = RunCommand(argv);
  REQUIRE(r.exit_code == 0);
  std::vector<nlohmann::json> alerts;
  std::istringstream in(r.out);
  for (std::string line; std::getline(in, line);) alerts.push_back(nlohmann::json::parse(line));
  return Fired(alerts);
}

std::string Describe(const Windows& w) {
  std::string out;
  for (const auto& [end, ip] : w) out += engine::FormatIsoMs(end) + " " + ip + "\n";
  return out;
}

// Three historical files of failures from `ips` over [t0, t0 + span_ms), their times
// interleaved, each read from its beginning by its own agent (config agent<N>.yaml, names
// `name`-<N>, hosts `host`<N>).
struct Backfill {
  std::vector<std::string> files;
  int total = 0;
};
Backfill WriteBackfill(Cluster& c, std::mt19937& rng, const std::vector<std::string>& ips,
                       int64_t t0, int64_t span_ms, int64_t shift_ms, int64_t gap_ms,
                       int64_t gap_spread_ms, const std::string& name, const std::string& host,
                       const std::string& input_extra = "") {
  Backfill b;
  for (int a = 0; a < 3; ++a) {
    std::string text;
    int64_t t = t0 + a * shift_ms;  // the three files' times interleave
    while (t < t0 + span_ms) {
      t += gap_ms + static_cast<int64_t>(rng() % static_cast<uint64_t>(gap_spread_ms));
      text += Fail(ips[rng() % ips.size()], t);
      ++b.total;
    }
    const std::string n = std::to_string(a);
    b.files.push_back(c.dir.Write("hist/" + n + ".log", text));
    c.dir.Write("agent" + n + ".yaml",
                "name: " + name + "-" + n + "\nhost: " + host + n +
                    "\nhttp_listen: ''\nstate_dir: " + c.dir.Sub("agent-state-" + n) +
                    "\ninputs:\n  paths: [" + b.files.back() + "]\n  read_from: beginning\n" +
                    input_extra + "output:\n  endpoint: " + c.endpoint + "\n  ack_timeout: 2s\n");
  }
  return b;
}

// Agent `a` of a Backfill, its stderr numbered by `run`.
std::unique_ptr<Process> StartBackfillAgent(Cluster& c, int a, int run) {
  const std::string n = std::to_string(a);
  return std::make_unique<Process>(
      std::vector<std::string>{EMBER_AGENT_BIN, "-c", c.dir.Sub("agent" + n + ".yaml")},
      c.dir.Sub("agent" + n + ".out"), c.dir.Sub("agent" + n + "." + std::to_string(run) + ".err"));
}

}  // namespace

TEST_CASE(
    "Event time: a trickle through an agent outage raises no false burst, and a burst "
    "written meanwhile fires for its own window",
    "[integration][time]") {
  struct Outage {
    int64_t ms;
    const char* max_source_delay;
    bool late;    // the burst's alert comes after its window's time
    bool freeze;  // SIGSTOP (a partition: no goodbye) instead of SIGTERM, and a second agent
                  // whose trickle keeps the clock moving
  };
  for (const Outage& outage : {Outage{9000, "3s", true, false}, Outage{3000, "8s", false, false},
                               Outage{9000, "3s", true, true}}) {
    INFO("outage " << outage.ms << " ms, max_source_delay " << outage.max_source_delay
                   << (outage.freeze ? ", SIGSTOP" : ", SIGTERM"));
    Cluster c(kBurstRule);
    c.dir.Append("aggregator.yaml",
                 std::string("max_source_delay: ") + outage.max_source_delay + "\n");
    c.StartAggregator();
    c.StartAgent();
    std::unique_ptr<Process> other;
    if (outage.freeze) {
      c.dir.Write("other/other.log", "");
      c.dir.Write("other.yaml",
                  "name: other\nhttp_listen: ''\nstate_dir: " + c.dir.Sub("other-state") +
                      "\ninputs:\n  paths: [" + c.dir.Sub("other/other.log") +
                      "]\noutput:\n  endpoint: " + c.endpoint + "\n");
      other = std::make_unique<Process>(
          std::vector<std::string>{EMBER_AGENT_BIN, "-c", c.dir.Sub("other.yaml")},
          c.dir.Sub("other.out"), c.dir.Sub("other.err"));
    }
    // One fail every 1.1 s from 10.0.0.1: never 5 in 4 s. The agent is stopped (SIGTERM) for
    // the outage after the 4th; while it is down, 6 fails from 10.0.0.2 in half a second.
    int64_t stopped_at = 0, burst_first = 0, burst_last = 0;
    bool restarted = false;
    for (int i = 0; i < 14 || !restarted; ++i) {
      c.dir.Append("logs/app.log", Fail("10.0.0.1", WallClockMs()));
      if (other) c.dir.Append("other/other.log", Fail("10.0.0.3", WallClockMs()));
      if (i == 4) {
        c.agent->Signal(outage.freeze ? SIGSTOP : SIGTERM);
        if (!outage.freeze) REQUIRE(c.agent->Wait(10s));
        stopped_at = WallClockMs();
      }
      if (stopped_at != 0 && burst_first == 0 && WallClockMs() - stopped_at >= outage.ms / 3) {
        for (int b = 0; b < 6; ++b) {
          const int64_t t = WallClockMs();
          if (b == 0) burst_first = t;
          burst_last = t;
          c.dir.Append("logs/app.log", Fail("10.0.0.2", t));
          std::this_thread::sleep_for(80ms);
        }
      }
      if (stopped_at != 0 && !restarted && WallClockMs() - stopped_at >= outage.ms) {
        if (outage.freeze) {
          c.agent->Signal(SIGCONT);
        } else {
          c.StartAgent();
        }
        restarted = true;
      }
      std::this_thread::sleep_for(1100ms);
    }
    REQUIRE(WaitUntil([&] { return !Fired(c.Alerts(), "10.0.0.2").empty(); }, 15s));
    std::this_thread::sleep_for(4500ms);  // every window of the trickle has been evaluated
    const std::vector<nlohmann::json> alerts = c.Alerts();
    INFO(ReadFile(c.dir.Sub("alerts.jsonl")));
    CHECK(Fired(alerts, "10.0.0.1").empty());
    CHECK(Fired(alerts, "10.0.0.3").empty());
    bool saw_burst = false;
    for (const auto& a : alerts) {
      if (a["state"] != "firing" || a["key"]["ip"] != "10.0.0.2") continue;
      // Windows of the burst's own time (each holding 5 or all 6 of its lines), not the
      // outage's end.
      CHECK(a["window_start_ms"].get<int64_t>() <= burst_last);
      CHECK(a["window_end_ms"].get<int64_t>() > burst_first);
      CHECK(a["window_end_ms"].get<int64_t>() <= burst_last + 4500);
      CHECK(a["count"] >= 5);
      CHECK(a["count"] <= 6);
      saw_burst = saw_burst || a["count"] == 6;
      CHECK(a.value("late", false) == outage.late);
    }
    CHECK(saw_burst);
    // The reference: replay of the same file fires the same windows.
    std::vector<std::string> files = {c.dir.Sub("logs/app.log")};
    if (other) files.push_back(c.dir.Sub("other/other.log"));
    CHECK(Describe(Fired(alerts)) == Describe(Replayed(c, files)));
    const auto metrics = Scrape(c.http_port);
    if (outage.late) {
      CHECK(Get(metrics, "ember_late_lines_total") > 0);
      CHECK(Get(metrics, "ember_late_alerts_total") > 0);
    } else {
      CHECK(Get(metrics, "ember_late_lines_total") == 0);
    }
    CHECK(Get(metrics, "ember_too_late_lines_total") == 0);
  }
}

TEST_CASE(
    "Event time: an aggregator killed with SIGKILL for 20 s while the agent writes on "
    "raises what ember replay raises",
    "[integration][time]") {
  Cluster c(kBurstRule);
  c.StartAggregator();
  c.StartAgent();
  std::mt19937 rng(20261202);
  const char* ips[] = {"10.1.0.1", "10.1.0.2", "10.1.0.3"};
  const int64_t start = WallClockMs();
  bool killed = false, restarted = false;
  int64_t killed_at = 0;
  while (WallClockMs() - start < 30'000) {
    // Bursts of 1 to 3 fails from one of three IPs every 100 ms or so, 30% of the time.
    if (rng() % 10 < 3) {
      std::string lines;
      const int n = 1 + static_cast<int>(rng() % 3);
      const std::string ip = ips[rng() % 3];
      for (int i = 0; i < n; ++i) lines += Fail(ip, WallClockMs());
      c.dir.Append("logs/app.log", lines);
    }
    if (!killed && WallClockMs() - start >= 4000) {
      c.aggregator->Signal(SIGKILL);
      REQUIRE(c.aggregator->Wait(10s));
      killed = true;
      killed_at = WallClockMs();
    }
    if (killed && !restarted && WallClockMs() - killed_at >= 20'000) {
      c.StartAggregator();
      restarted = true;
    }
    std::this_thread::sleep_for(100ms);
  }
  const Windows expected = Replayed(c, {c.dir.Sub("logs/app.log")});
  REQUIRE(expected.size() >= 3);
  // Every window of the data evaluated: the last line's windows end within 4.5 s of it.
  WaitUntil([&] { return Fired(c.Alerts()) == expected; }, 15s);
  CHECK(Describe(Fired(c.Alerts())) == Describe(expected));
}

TEST_CASE(
    "Event time: three agents backfilling interleaved historical files, with SIGKILLs, "
    "raise what ember replay raises",
    "[integration][time]") {
  Cluster c(kBurstRule);
  // The files are from an hour ago: within max_lateness, whatever order they arrive in.
  c.dir.Append("aggregator.yaml", "max_lateness: 3h\n");
  std::mt19937 rng(7);
  const int64_t t0 = WallClockMs() - 2 * 3600'000;
  const Backfill b =
      WriteBackfill(c, rng, {"10.2.0.1", "10.2.0.2", "10.2.0.3", "10.2.0.4"}, t0, 600'000, 137, 50,
                    1500, "backfill", "host", "  read_chunk_bytes: 4KiB\n");
  const std::vector<std::string>& files = b.files;
  const int total = b.total;
  c.StartAggregator();
  std::vector<std::unique_ptr<Process>> agents(3);
  int starts = 0;
  auto start_agent = [&](int a) { agents[a] = StartBackfillAgent(c, a, ++starts); };
  for (int a = 0; a < 3; ++a) start_agent(a);
  // SIGKILLs while they read: an agent, the aggregator, another agent.
  for (int round = 0; round < 3; ++round) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100 + rng() % 300));
    if (round == 1) {
      c.aggregator->Signal(SIGKILL);
      REQUIRE(c.aggregator->Wait(10s));
      std::this_thread::sleep_for(300ms);
      c.StartAggregator();
    } else {
      const int a = round == 0 ? 0 : 2;
      agents[a]->Signal(SIGKILL);
      REQUIRE(agents[a]->Wait(10s));
      std::this_thread::sleep_for(300ms);
      start_agent(a);
    }
  }
  REQUIRE(WaitUntil([&] { return c.CheckpointedMatches() >= static_cast<uint64_t>(total); }, 60s));
  const Windows expected = Replayed(c, files);
  REQUIRE(expected.size() >= 5);
  WaitUntil([&] { return Fired(c.Alerts()) == expected; }, 15s);
  CHECK(c.CheckpointedMatches() == static_cast<uint64_t>(total));
  CHECK(Describe(Fired(c.Alerts())) == Describe(expected));
}

TEST_CASE(
    "Event time: agents started apart backfill yesterday into a running aggregator as "
    "ember replay counts it",
    "[integration][time]") {
  Cluster c(kBurstRule);  // default max_lateness (1h): yesterday is far older
  std::mt19937 rng(11);
  const std::vector<std::string> ips = {"10.3.0.1", "10.3.0.2", "10.3.0.3"};
  const int64_t t0 = WallClockMs() - 26 * 3600'000;
  const Backfill b = WriteBackfill(c, rng, ips, t0, 900'000, 211, 100, 2000, "yesterday", "old");
  const std::vector<std::string>& files = b.files;
  const int total = b.total;
  // A running aggregator whose watermark follows a live agent's clock; silent agents are left
  // out after 2 s, but a finished backfill keeps its batches for backfill_hold (10 min).
  c.dir.Append("aggregator.yaml", "max_source_delay: 2s\n");
  c.StartAggregator();
  c.StartAgent();
  c.dir.Append("logs/app.log", Fail("10.3.9.9", WallClockMs()));
  REQUIRE(WaitUntil([&] { return c.CheckpointedMatches() >= 1; }, 20s));
  std::vector<std::unique_ptr<Process>> agents(3);
  auto start_agent = [&](int a, int run) { agents[a] = StartBackfillAgent(c, a, run); };
  // One after the other, 4 s apart, longer than max_source_delay (each has read its whole
  // file before the next starts); the first is SIGKILLed and started again meanwhile.
  start_agent(0, 1);
  std::this_thread::sleep_for(150ms);
  agents[0]->Signal(SIGKILL);
  REQUIRE(agents[0]->Wait(10s));
  start_agent(0, 2);
  std::this_thread::sleep_for(4s);
  start_agent(1, 1);
  std::this_thread::sleep_for(4s);
  start_agent(2, 1);
  REQUIRE(
      WaitUntil([&] { return c.CheckpointedMatches() >= static_cast<uint64_t>(total) + 1; }, 60s));
  // Caught up moments ago: the backfill's batches stay for backfill_hold (10 min), for any
  // agent that still brings lines of those hours.
  CHECK(WaitUntil(
      [&] { return Get(Scrape(c.http_port), "ember_history_floor_lag_seconds") > 20 * 3600; }, 5s));
  const Windows expected = Replayed(c, files);
  REQUIRE(expected.size() >= 5);
  auto backfilled = [&] {
    Windows w;
    for (const std::string& ip : ips) {
      for (const auto& f : Fired(c.Alerts(), ip)) w.insert(f);
    }
    return w;
  };
  WaitUntil([&] { return backfilled() == expected; }, 15s);
  CHECK(Describe(backfilled()) == Describe(expected));
  CHECK(c.CheckpointedMatches() == static_cast<uint64_t>(total) + 1);
  for (const auto& a : c.Alerts()) {
    if (a["key"]["ip"] != "10.3.9.9") CHECK(a["late"] == true);
  }
  const auto metrics = Scrape(c.http_port);
  CHECK(Get(metrics, "ember_too_late_lines_total") == 0);
  CHECK(Get(metrics, "ember_late_lines_total") >= total);
}

TEST_CASE(
    "Event time: stamps without an offset are read in the agent's zone, as replay reads "
    "them with --time-zone",
    "[integration][time]") {
  Cluster c(kBurstRule);
  c.StartAggregator();
  c.StartAgent({"TZ=Europe/Berlin"});
  auto berlin = TimeZone::Parse("Europe/Berlin");
  REQUIRE(berlin.ok());
  // Classic syslog stamps (no year, no offset) in Berlin's wall-clock time, one or two hours
  // ahead of UTC: read as UTC they would lie in the future.
  auto syslog_stamp = [&](int64_t utc_ms) {
    const std::time_t local =
        static_cast<std::time_t>((utc_ms + berlin->OffsetAtUtc(utc_ms)) / 1000);
    std::tm tm{};
    gmtime_r(&local, &tm);
    char buf[32];
    std::strftime(buf, sizeof buf, "%b %e %H:%M:%S", &tm);
    return std::string(buf);
  };
  const int64_t written = WallClockMs();
  std::string lines;
  for (int i = 0; i < 5; ++i)
    lines += syslog_stamp(written) + " web sshd[7]: auth fail from 10.9.0.1\n";
  c.dir.Append("logs/app.log", lines);
  REQUIRE(WaitUntil([&] { return !Fired(c.Alerts(), "10.9.0.1").empty(); }, 20s));
  const nlohmann::json a = c.Alerts().at(0);
  INFO(a.dump());
  CHECK(a["window_end_ms"].get<int64_t>() > written - 1000);
  CHECK(a["window_end_ms"].get<int64_t>() <= written + 5000);
  CHECK(Get(Scrape(c.http_port), "ember_future_stamps_total") == 0);
  // replay reads them the same way when told the zone.
  ProcessResult r =
      RunCommand({EMBER_CLI_BIN, "replay", "--rules", c.dir.Sub("rules"), "--batch-interval",
                  "500ms", "--time-zone", "Europe/Berlin", c.dir.Sub("logs/app.log")});
  REQUIRE(r.exit_code == 0);
  CHECK(r.out.find("\"window_end_ms\":" + std::to_string(a["window_end_ms"].get<int64_t>())) !=
        std::string::npos);
}
