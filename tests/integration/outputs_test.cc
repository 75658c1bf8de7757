// The aggregator's outputs and self-monitoring against real receivers: /metrics scraped with
// curl, exec running real shell commands, a webhook receiver that is down and then fails
// before it accepts, and a real Prometheus Alertmanager started on loopback.
#include <signal.h>

#include <cmath>
#include <fstream>
#include <map>
#include <regex>
#include <thread>

#include "common/system.h"
#include "tests/support/alertmanager.h"
#include "tests/support/cluster.h"

namespace ember::test {
namespace {

void WriteFails(Cluster& c, int n) {
  std::string lines;
  for (int i = 0; i < n; ++i) lines += "sshd: auth fail from 203.0.113.9\n";
  c.dir.Append("logs/app.log", lines);
}

bool HasState(const std::vector<nlohmann::json>& alerts, const std::string& state) {
  return std::any_of(alerts.begin(), alerts.end(),
                     [&](const nlohmann::json& a) { return a["state"] == state; });
}

// Counts every "auth fail" per IP for an hour: an alert that stays firing.
const char* kLongRule = R"(rules:
  - name: fails
    match: 'auth fail from (?P<ip>[\d.]+)'
    by: [ip]
    window: 1h
    every: 500ms
    when: count >= 3
    severity: critical
    message: '{{count}} fails from {{ip}}'
)";

std::vector<nlohmann::json> JsonLines(const std::string& path) {
  std::vector<nlohmann::json> out;
  std::istringstream in(ReadFile(path));
  std::string line;
  while (std::getline(in, line)) out.push_back(nlohmann::json::parse(line));
  return out;
}

}  // namespace

TEST_CASE("Metrics: /metrics of the aggregator and the agent count exactly what was shipped",
          "[integration]") {
  Cluster c(kShortRule);
  c.StartAggregator();
  // Without webhook or Alertmanager outputs the aggregator never maps libcurl.
  CHECK_FALSE(c.aggregator->Maps("libcurl"));
  c.StartAgent();
  WriteFails(c, 5);
  std::string other;
  for (int i = 0; i < 20; ++i) other += "GET /index.html 200\n";
  other += std::string(100'000, 'x') + "\n";  // over max_line_bytes (64 KiB): cut, counted
  c.dir.Append("logs/app.log", other);
  const double lines = 26;
  std::map<std::string, double> agg, agent;
  std::string raw;
  REQUIRE(WaitUntil(
      [&] {
        agg = Scrape(c.http_port, &raw);
        return Get(agg, "ember_lines_total") == lines &&
               Get(agg, "ember_alerts_total{state=\"firing\"}") == 1;
      },
      20s));
  CHECK(Get(agg, "ember_rule_matches_total{rule=\"fails\"}") == 5);
  CHECK(Get(agg, "ember_agents_connected") == 1);
  CHECK(Get(agg, "ember_rules_loaded") == 1);
  CHECK(Get(agg, "ember_agent_lines_total{agent=\"test-agent\",host=\"testhost\"}") == lines);
  CHECK(Get(agg, "ember_agent_lag_seconds{agent=\"test-agent\",host=\"testhost\"}") >= 0);
  CHECK(Get(agg, "ember_bytes_total") > 100'000);  // the cut line's skipped bytes count too
  CHECK(Get(agg, "ember_duplicate_frames_total") == 0);
  CHECK(Get(agg, "ember_late_lines_total") == 0);
  // Histograms: cumulative buckets, +Inf equal to the count.
  for (const std::string h :
       {"ember_batch_processing_seconds", "ember_checkpoint_duration_seconds"}) {
    const double count = Get(agg, h + "_count");
    CHECK(count > 0);
    CHECK(Get(agg, h + "_bucket{le=\"+Inf\"}") == count);
    CHECK(Get(agg, h + "_bucket{le=\"0.001\"}") <= Get(agg, h + "_bucket{le=\"0.01\"}"));
  }
  // Every line is valid text exposition: comments, or `name{labels} value`.
  const std::regex sample(
      R"(^[a-zA-Z_:][a-zA-Z0-9_:]*(\{([a-zA-Z_][a-zA-Z0-9_]*="([^"\\]|\\.)*",?)*\})? [-+0-9.eInfa]+$)");
  std::istringstream in(raw);
  std::string line;
  int samples = 0;
  while (std::getline(in, line)) {
    if (line.rfind("# HELP ", 0) == 0 || line.rfind("# TYPE ", 0) == 0) continue;
    INFO(line);
    CHECK(std::regex_match(line, sample));
    ++samples;
  }
  CHECK(samples > 40);
  // Values are exact: the start time (Unix seconds with milliseconds, 13 digits) is not cut
  // to 9 significant digits.
  const std::regex start_time(
      R"((^|\n)ember_aggregator_start_time_seconds (\d{10}(\.\d{1,3})?)\n)");
  std::smatch m;
  REQUIRE(std::regex_search(raw, m, start_time));
  CHECK(std::abs(std::stod(m[2].str()) - static_cast<double>(WallClockMs()) / 1000.0) < 120);
  // Prometheus's own linter accepts the page.
  auto promtool = [&](const std::string& page, const std::string& name) {
    const std::string path = c.dir.Write(name, page);
    ProcessResult lint = RunCommand({"sh", "-c", "promtool check metrics < " + path});
    INFO(lint.out << lint.err);
    CHECK(lint.exit_code == 0);
  };
  promtool(raw, "aggregator.metrics");

  REQUIRE(WaitUntil(
      [&] {
        agent = Scrape(c.agent_http_port);
        return Get(agent, "ember_agent_lines_total") == lines &&
               Get(agent, "ember_agent_unacked_bytes") == 0;
      },
      10s));
  CHECK(Get(agent, "ember_agent_truncated_lines_total") == 1);
  CHECK(Get(agent, "ember_agent_session_up") == 1);
  CHECK(Get(agent, "ember_agent_files_tailed") == 1);
  CHECK(Get(agent, "ember_agent_file_truncations_total") == 0);
  std::string agent_raw;
  Scrape(c.agent_http_port, &agent_raw);
  promtool(agent_raw, "agent.metrics");

  // Anything else is a clean 404; a POST is refused.
  ProcessResult r = RunCommand({"curl", "-s", "-o", "/dev/null", "-w", "%{http_code}",
                                "http://127.0.0.1:" + std::to_string(c.http_port) + "/nope"});
  CHECK(r.out == "404");
  r = RunCommand({"curl", "-s", "-o", "/dev/null", "-w", "%{http_code}", "-d", "x",
                  "http://127.0.0.1:" + std::to_string(c.http_port) + "/metrics"});
  CHECK(r.out == "405");
  // Health endpoints, as Prometheus has them.
  for (const auto& [port, path] :
       {std::pair{c.http_port, "/-/healthy"}, std::pair{c.http_port, "/-/ready"},
        std::pair{c.agent_http_port, "/-/healthy"}}) {
    r = RunCommand({"curl", "-s", "-o", "/dev/null", "-w", "%{http_code}",
                    "http://127.0.0.1:" + std::to_string(port) + path});
    INFO(path);
    CHECK(r.out == "200");
  }
  r = RunCommand(
      {"curl", "-sS", "-i", "http://127.0.0.1:" + std::to_string(c.http_port) + "/metrics"});
  CHECK(r.out.find("Content-Type: text/plain; version=0.0.4") != std::string::npos);
}

TEST_CASE("Metrics: a taken http_listen port is a clear startup error", "[integration]") {
  Cluster c(kShortRule);
  c.StartAggregator();
  Cluster d(kShortRule);
  std::string config = ReadFile(d.dir.Sub("aggregator.yaml"));
  config.replace(config.find("http_listen: 127.0.0.1:") + 23, std::to_string(d.http_port).size(),
                 std::to_string(c.http_port));
  d.dir.Write("aggregator.yaml", config);
  ProcessResult r = RunCommand({EMBER_AGGREGATOR_BIN, "-c", d.dir.Sub("aggregator.yaml")}, 10s);
  CHECK(r.exit_code != 0);
  CHECK(r.err.find("http_listen") != std::string::npos);
  CHECK(r.err.find("127.0.0.1:" + std::to_string(c.http_port)) != std::string::npos);
  CHECK(r.err.find("in use") != std::string::npos);
}

TEST_CASE("Outputs: alerts.jsonl moved away by logrotate is reopened on SIGHUP and nothing is lost",
          "[integration]") {
  Cluster c(kShortRule);
  c.StartAggregator();
  c.StartAgent();
  WriteFails(c, 5);
  REQUIRE(WaitUntil([&] { return HasState(c.Alerts(), "resolved"); }, 20s));
  // logrotate: rename, then SIGHUP (postrotate); the old file keeps what it had.
  REQUIRE(std::rename(c.dir.Sub("alerts.jsonl").c_str(), c.dir.Sub("alerts.jsonl.1").c_str()) == 0);
  c.aggregator->Signal(SIGHUP);
  REQUIRE(WaitUntil([&] { return std::ifstream(c.dir.Sub("alerts.jsonl")).good(); }, 10s));
  c.dir.Append("logs/app.log",
               "sshd: auth fail from 198.51.100.1\nsshd: auth fail from 198.51.100.1\n"
               "sshd: auth fail from 198.51.100.1\n");
  REQUIRE(WaitUntil([&] { return HasState(c.Alerts(), "firing"); }, 20s));
  const std::vector<nlohmann::json> rotated = JsonLines(c.dir.Sub("alerts.jsonl.1"));
  const std::vector<nlohmann::json> current = c.Alerts();
  REQUIRE(rotated.size() == 2);
  CHECK(rotated[0]["key"]["ip"] == "203.0.113.9");
  REQUIRE(current.size() == 1);
  CHECK(current[0]["key"]["ip"] == "198.51.100.1");
}

TEST_CASE("Provenance: an alert names the host, file and bytes of its first matches",
          "[integration]") {
  Cluster c(kShortRule);
  c.StartAggregator();
  c.StartAgent();
  std::string noise;
  for (int i = 0; i < 200; ++i) noise += "GET /index.html 200 " + std::to_string(i) + "\n";
  c.dir.Append("logs/app.log", noise);
  REQUIRE(WaitUntil(
      [&] {
        return RunCommand({EMBER_CLI_BIN, "status", "--json", "--state-dir", c.dir.Sub("state")})
                   .out.find("\"lines\":200") != std::string::npos;
      },
      15s));
  WriteFails(c, 4);
  REQUIRE(WaitUntil([&] { return HasState(c.Alerts(), "firing"); }, 20s));
  const nlohmann::json a = c.Alerts()[0];
  INFO(a.dump());
  REQUIRE(a.contains("evidence"));
  REQUIRE(!a["evidence"].empty());
  const std::string file = ReadFile(c.dir.Sub("logs/app.log"));
  for (const auto& e : a["evidence"]) {
    CHECK(e["host"] == "testhost");
    CHECK(e["file"] == c.dir.Sub("logs/app.log"));
    CHECK(e["line"] == "sshd: auth fail from 203.0.113.9");
    const uint64_t start = e["offset_start"], end = e["offset_end"];
    // The bytes named hold the line, and lie after the 200 lines of noise.
    REQUIRE(end <= file.size());
    CHECK(start >= noise.size());
    CHECK(file.substr(start, end - start).find(e["line"].get<std::string>()) != std::string::npos);
  }
  ProcessResult show = RunCommand({EMBER_CLI_BIN, "alerts", "show", a["id"].get<std::string>(),
                                   "--state-dir", c.dir.Sub("state")});
  CHECK(show.exit_code == 0);
  CHECK(show.out.find("from testhost:" + c.dir.Sub("logs/app.log") + ", bytes " +
                      std::to_string(a["evidence"][0]["offset_start"].get<uint64_t>())) !=
        std::string::npos);
}

TEST_CASE("Outputs: exec gets each alert event as JSON on stdin and EMBER_ variables",
          "[integration]") {
  Cluster c(kShortRule);
  const std::string out = c.dir.Sub("exec");
  c.dir.Write("exec/.keep", "");
  c.dir.Append("aggregator.yaml",
               "  exec:\n"
               "    - command: 'cat > " +
                   out + "/$EMBER_ALERT_ID.$EMBER_STATE.json; env > " + out +
                   "/$EMBER_ALERT_ID.$EMBER_STATE.env'\n"
                   "    - command: 'echo boom >&2; exit 3'\n"
                   "    - command: ['/bin/sleep', '30']\n"
                   "      timeout: 500ms\n");
  const std::string err = c.StartAggregator();
  c.StartAgent();
  WriteFails(c, 5);
  REQUIRE(WaitUntil([&] { return HasState(c.Alerts(), "resolved"); }, 20s));
  const std::vector<nlohmann::json> alerts = c.Alerts();
  REQUIRE(alerts.size() == 2);
  for (const auto& a : alerts) {
    const std::string base =
        out + "/" + a["id"].get<std::string>() + "." + a["state"].get<std::string>();
    REQUIRE(WaitUntil(
        [&] { return ReadFile(base + ".env").find("EMBER_RULE=") != std::string::npos; }, 10s));
    CHECK(nlohmann::json::parse(ReadFile(base + ".json")) == a);
    const std::string env = ReadFile(base + ".env");
    CHECK(env.find("EMBER_STATE=" + a["state"].get<std::string>() + "\n") != std::string::npos);
    CHECK(env.find("EMBER_ALERT_ID=" + a["id"].get<std::string>() + "\n") != std::string::npos);
    CHECK(env.find("EMBER_RULE=fails\n") != std::string::npos);
    CHECK(env.find("EMBER_SEVERITY=critical\n") != std::string::npos);
    CHECK(env.find("EMBER_FIELD_IP=203.0.113.9\n") != std::string::npos);
    CHECK(env.find("EMBER_KEY=ip=203.0.113.9\n") != std::string::npos);
    if (a["state"] == "firing") {
      CHECK(env.find("EMBER_SOURCE_FILE=" + c.dir.Sub("logs/app.log") + "\n") != std::string::npos);
    }
  }
  // The failing and the hanging command are logged with their cause, once per event.
  REQUIRE(WaitUntil(
      [&] { return ReadFile(err).find("killed after the 500 ms timeout") != std::string::npos; },
      10s));
  const std::string log = ReadFile(err);
  CHECK(log.find("exec 'echo boom >&2; exit 3': alert ") != std::string::npos);
  CHECK(log.find("exit status 3. Output: boom") != std::string::npos);
  // Every event finished with every output (given up on, for two of them): the outbox empties.
  std::map<std::string, double> m;
  REQUIRE(WaitUntil(
      [&] {
        m = Scrape(c.http_port);
        return Get(m, "ember_alerts_undelivered") == 0 &&
               Get(m, "ember_alerts_delivered_total") == 2;
      },
      10s));
  CHECK(Get(m, "ember_output_failures_total{output=\"exec 'echo boom >&2; exit 3'\"}") == 2);
  CHECK(Get(m, "ember_output_failures_total{output=\"exec '/bin/sleep'\"}") == 2);
}

TEST_CASE("Outputs: a webhook that is down then failing is retried until it takes the alert",
          "[integration]") {
  Cluster c(kShortRule);
  const int port = FreeLoopbackPort();
  c.dir.Append("aggregator.yaml",
               "  webhook:\n    - url: http://127.0.0.1:" + std::to_string(port) +
                   "/hook\n      timeout: 1s\n      headers: {X-Token: s3cret}\n");
  const std::string err = c.StartAggregator();
  // Loaded at start because a webhook is configured (an aggregator without one never maps it).
  CHECK(c.aggregator->Maps("libcurl"));
  c.StartAgent();
  WriteFails(c, 5);
  // Firing while nobody listens: connection refused, retried with backoff.
  REQUIRE(WaitUntil([&] { return HasState(c.Alerts(), "firing"); }, 20s));
  REQUIRE(WaitUntil(
      [&] { return ReadFile(err).find("retrying with backoff") != std::string::npos; }, 10s));
  const std::string log = c.dir.Sub("hook.jsonl");
  Process receiver({"python3", EMBER_SOURCE_DIR "/tests/support/http_receiver.py", "--port",
                    std::to_string(port), "--log", log, "--fail-first", "2", "--max-seconds", "90"},
                   c.dir.Sub("receiver.out"), c.dir.Sub("receiver.err"));
  auto accepted = [&](const std::string& state) {
    for (const auto& r : JsonLines(log)) {
      if (r["status"] == 200 &&
          nlohmann::json::parse(r["body"].get<std::string>())["state"] == state)
        return true;
    }
    return false;
  };
  REQUIRE(WaitUntil([&] { return accepted("firing") && accepted("resolved"); }, 60s));
  const std::vector<nlohmann::json> alerts = c.Alerts();
  REQUIRE(alerts.size() == 2);
  std::vector<nlohmann::json> bodies;
  int refused = 0;
  for (const auto& r : JsonLines(log)) {
    CHECK(r["path"] == "/hook");
    CHECK(r["headers"]["X-Token"] == "s3cret");
    CHECK(r["headers"]["Content-Type"] == "application/json");
    if (r["status"] == 200) {
      bodies.push_back(nlohmann::json::parse(r["body"].get<std::string>()));
    } else {
      ++refused;
    }
  }
  CHECK(refused == 2);
  // Each event arrived once, in order, exactly as the jsonl output has it.
  CHECK(bodies == alerts);
  CHECK(ReadFile(err).find("delivered on attempt") != std::string::npos);
}

TEST_CASE("Outputs: a real Alertmanager gets the firing alert and then its resolution",
          "[integration]") {
  Cluster c(kShortRule);
  Alertmanager am(c.dir);
  const std::string& am_url = am.url;
  c.dir.Append("aggregator.yaml", "  alertmanager:\n    - url: " + am_url +
                                      "\n      resend_interval: 1s\n      labels: {team: ops}\n");
  c.StartAggregator();
  c.StartAgent();
  WriteFails(c, 5);
  auto active = [&] { return am.Active(); };
  std::vector<nlohmann::json> seen;
  REQUIRE(WaitUntil([&] { return !(seen = active()).empty(); }, 20s));
  REQUIRE(seen.size() == 1);
  const nlohmann::json& a = seen[0];
  CHECK(a["labels"]["alertname"] == "fails");
  CHECK(a["labels"]["ip"] == "203.0.113.9");
  CHECK(a["labels"]["severity"] == "critical");
  CHECK(a["labels"]["team"] == "ops");
  CHECK(a["status"]["state"] == "active");
  CHECK(a["annotations"]["summary"].get<std::string>().find("fails from 203.0.113.9") !=
        std::string::npos);
  const std::vector<nlohmann::json> ours = c.Alerts();
  REQUIRE(!ours.empty());
  CHECK(a["annotations"]["ember_alert_id"] == ours[0]["id"]);
  CHECK(a["annotations"]["source"].get<std::string>().rfind("testhost:" + c.dir.Sub("logs/app.log"),
                                                            0) == 0);
  CHECK(a["startsAt"].get<std::string>().substr(0, 19) ==
        ours[0]["window_end"].get<std::string>().substr(0, 19));
  // The resolution reaches Alertmanager: the alert leaves its active list.
  REQUIRE(WaitUntil([&] { return HasState(c.Alerts(), "resolved"); }, 20s));
  CHECK(WaitUntil([&] { return active().empty(); }, 20s));
}

// Alertmanager forgets an alert that is not re-sent before its endsAt: a restarted
// aggregator must go on announcing what was firing when it stopped.
TEST_CASE("Outputs: Alertmanager keeps an alert active across an aggregator restart",
          "[integration]") {
  Cluster c(kLongRule);
  Alertmanager am(c.dir);
  const std::string& am_url = am.url;
  c.dir.Append("aggregator.yaml",
               "  alertmanager:\n    - url: " + am_url + "\n      resend_interval: 1s\n");
  c.StartAggregator();
  c.StartAgent();
  WriteFails(c, 3);
  auto active = [&] { return am.Active().size(); };
  REQUIRE(WaitUntil([&] { return active() == 1; }, 30s));
  c.aggregator->Signal(SIGTERM);
  REQUIRE(c.aggregator->Wait(10s));
  c.StartAggregator();
  // endsAt was 4 resend intervals (4 s) ahead: without re-announcing, it would be gone by now.
  std::this_thread::sleep_for(8s);
  CHECK(active() == 1);
  INFO(ReadFile(c.dir.Sub("aggregator.1.err")) + ReadFile(c.dir.Sub("aggregator.2.err")));
  CHECK(c.Alerts().size() == 1);  // and it did not fire a second time
}

}  // namespace ember::test
