// `ember replay` on a generated log whose expected alerts are computed here, independently of
// the engine: every sliding window is recounted from the list of events.
#include <cctz/time_zone.h>

#include <algorithm>
#include <chrono>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <map>
#include <random>
#include <set>
#include <sstream>
#include <tuple>

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include "engine/event_time.h"
#include "tests/support/process.h"
#include "tests/support/temp_dir.h"

using namespace ember::test;

namespace {

std::string Iso(int64_t ms) {
  std::time_t t = ms / 1000;
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[64];
  std::snprintf(buf, sizeof buf, "%04d-%02d-%02d %02d:%02d:%02d,%03d", tm.tm_year + 1900,
                tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
                static_cast<int>(ms % 1000));
  return buf;
}

const char* kRules = R"(rules:
  - name: fails
    match: 'auth fail from (?P<ip>[\d.]+)'
    by: [ip]
    window: 10s
    every: 5s
    when: count >= 3
    severity: warning
    message: '{{count}} fails from {{ip}}'
)";

}  // namespace

TEST_CASE("ember replay: alerts equal an independent recount of every window",
          "[cli][replay][integration]") {
  TempDir dir;
  dir.Write("rules.yaml", kRules);
  std::mt19937 rng(2024);
  const int64_t t0 = 1'600'000'000'000;  // 2020-09-13
  const std::vector<std::string> ips = {"10.0.0.1", "10.0.0.2", "10.0.0.3", "10.0.0.4"};
  std::vector<std::pair<int64_t, std::string>> events;  // (time, ip) of every counted match
  std::string log;
  int64_t t = t0;
  for (int i = 0; i < 1500; ++i) {
    t += rng() % 900;
    int64_t stamp = t;
    if (rng() % 25 == 0) stamp -= rng() % 2000;  // time steps back a little
    std::string eol = rng() % 2 ? "\r\n" : "\n";
    if (rng() % 4 == 0) {
      const std::string& ip = ips[rng() % ips.size()];
      log += Iso(stamp) + " sshd: auth fail from " + ip + eol;
      events.emplace_back(stamp, ip);
      if (rng() % 10 == 0) {
        // A continuation line without a time stamp: it takes the previous line's time.
        log += "    auth fail from " + ip + " (repeated)" + eol;
        events.emplace_back(stamp, ip);
      }
    } else {
      log += Iso(stamp) + " app: request ok" + eol;
    }
  }
  // The last line has no newline: replay must still count it.
  const int64_t last = t + 100;
  log += Iso(last) + " sshd: auth fail from 10.0.0.9";
  events.emplace_back(last, "10.0.0.9");
  dir.Write("app.log", log);
  const size_t total_lines = static_cast<size_t>(std::count(log.begin(), log.end(), '\n')) + 1;

  // The model: windows of 10 s ending at every multiple of 5 s; firing when count >= 3.
  std::set<std::tuple<std::string, int64_t, uint64_t>> expected;
  std::map<std::string, bool> firing;
  int64_t first_end = (t0 / 5000) * 5000;
  for (int64_t end = first_end; end <= last + 20000; end += 5000) {
    std::map<std::string, uint64_t> counts;
    for (const auto& [time, ip] : events) {
      if (time >= end - 10000 && time < end) ++counts[ip];
    }
    std::set<std::string> all_ips(ips.begin(), ips.end());
    all_ips.insert("10.0.0.9");
    for (const auto& ip : all_ips) {
      bool holds = counts[ip] >= 3;
      if (holds && !firing[ip]) expected.emplace(ip, end, counts[ip]);
      firing[ip] = holds;
    }
  }
  REQUIRE(expected.size() > 5);

  auto r = RunCommand({EMBER_CLI_BIN, "replay", "--rules", dir.Sub("rules.yaml"), "--host", "h1",
                       dir.Sub("app.log")});
  INFO(r.err);
  REQUIRE(r.exit_code == 0);
  std::set<std::tuple<std::string, int64_t, uint64_t>> got;
  std::istringstream lines(r.out);
  std::string line;
  while (std::getline(lines, line)) {
    auto j = nlohmann::json::parse(line);
    CHECK(j["rule"] == "fails");
    CHECK(j["state"] == "firing");
    CHECK(j["severity"] == "warning");
    CHECK(j["window_end_ms"].get<int64_t>() - j["window_start_ms"].get<int64_t>() == 10000);
    CHECK(j["message"] == std::to_string(j["count"].get<uint64_t>()) + " fails from " +
                              j["key"]["ip"].get<std::string>());
    CHECK(j["sample"].get<std::string>().find(
              "auth fail from " + j["key"]["ip"].get<std::string>()) != std::string::npos);
    got.emplace(j["key"]["ip"], j["window_end_ms"], j["count"]);
  }
  CHECK(got == expected);
  // Every line is counted, the last one without '\n' included.
  CHECK(r.err.find(": " + std::to_string(total_lines) + " lines,") != std::string::npos);
  CHECK(r.err.find("replayed 1 file(s)") != std::string::npos);
}

TEST_CASE("ember replay: copes with every real Loghub log as it is, on one thread or three",
          "[cli][replay][integration]") {
  size_t logs = 0, alerting = 0;
  for (const auto& entry :
       std::filesystem::directory_iterator(std::string(EMBER_SOURCE_DIR) + "/tests/data/loghub")) {
    if (entry.path().extension() != ".log") continue;
    ++logs;
    std::string alerts[2];
    for (int t = 0; t < 2; ++t) {
      const char* threads = t == 0 ? "1" : "3";
      INFO(entry.path().filename().string() << ", " << threads << " threads");
      auto r = RunCommand({EMBER_CLI_BIN, "replay", "--resolved", "--threads", threads, "--rules",
                           std::string(EMBER_SOURCE_DIR) + "/rules/examples", "--host", "h",
                           "--year", "2005", entry.path().string()});
      REQUIRE(r.exit_code == 0);
      // All 2,000 lines counted, including a last line without '\n'.
      CHECK(r.err.find(": 2000 lines,") != std::string::npos);
      alerts[t] = r.out;
    }
    INFO(entry.path().filename().string());
    CHECK(alerts[0] == alerts[1]);
    if (!alerts[0].empty()) ++alerting;
  }
  CHECK(logs == 16);
  CHECK(alerting >= 4);  // the example rules fire on sshd, kernel, BGL and Hadoop logs
}

TEST_CASE("ember replay: OpenSSH brute force raises the alerts grep can count",
          "[cli][replay][integration]") {
  // Cross-check with a peer tool: the address with the most failures in the whole file must
  // be among the ssh-bruteforce alerts.
  const std::string file = std::string(EMBER_SOURCE_DIR) + "/tests/data/loghub/OpenSSH_2k.log";
  auto grep =
      RunCommand({"/bin/sh", "-c",
                  "grep -oE 'Failed password for (invalid user )?[^ ]+ from [0-9.]+' '" + file +
                      "' | awk '{print $NF}' | sort | uniq -c | sort -rn | head -1"});
  REQUIRE(grep.exit_code == 0);
  std::istringstream top(grep.out);
  int count = 0;
  std::string ip;
  top >> count >> ip;
  REQUIRE(count >= 5);
  auto r = RunCommand({EMBER_CLI_BIN, "replay", "--rules",
                       std::string(EMBER_SOURCE_DIR) + "/rules/examples/ssh.yaml", "--year", "2005",
                       file});
  REQUIRE(r.exit_code == 0);
  CHECK(r.out.find("\"ip\":\"" + ip + "\"") != std::string::npos);
}

TEST_CASE("ember replay: a progress bar on a terminal, none in a pipe",
          "[cli][replay][integration]") {
  TempDir dir;
  const std::string log = dir.Sub("big.log");
  REQUIRE(RunCommand({EMBER_LOGGEN_BIN, "-o", log, "--bytes", "100MiB"}).exit_code == 0);
  const std::string rules = std::string(EMBER_SOURCE_DIR) + "/rules/examples";
  // `script` gives the command a pseudo-terminal, as an operator's shell would.
  auto tty = RunCommand(
      {"/usr/bin/script", "-qec",
       std::string(EMBER_CLI_BIN) + " replay --rules " + rules + " " + log + " > /dev/null",
       "/dev/null"});
  INFO(tty.out);
  CHECK(tty.exit_code == 0);
  CHECK(tty.out.find("MiB/s  ETA") != std::string::npos);
  CHECK(tty.out.find("%") != std::string::npos);
  auto pipe = RunCommand({EMBER_CLI_BIN, "replay", "--rules", rules, log});
  CHECK(pipe.exit_code == 0);
  CHECK(pipe.err.find("ETA") == std::string::npos);
}

TEST_CASE("ember replay: a rule with its own time stamp is replayed in that time",
          "[cli][replay][integration]") {
  // The time sits past the first 64 bytes, where the line-level parser does not look: only
  // the rule's `timestamp` setting can place these lines (written in UTC-5).
  TempDir dir;
  const std::string pad(70, '.');
  std::string log;
  for (int s = 0; s < 3; ++s) {
    log += pad + " job=backup at=22/Nov/2026:05:00:0" + std::to_string(s) + " status=failed\n";
  }
  dir.Write("jobs.log", log);
  dir.Write("rules.yaml", R"(rules:
  - name: backup-failures
    match: 'job=(?P<job>\w+) at=(?P<ts>\S+) status=failed'
    by: [job]
    timestamp: {field: ts, format: '%d/%b/%Y:%H:%M:%S', timezone: '-05:00'}
    window: 10s
    when: count >= 3
)");
  auto r =
      RunCommand({EMBER_CLI_BIN, "replay", "--rules", dir.Sub("rules.yaml"), dir.Sub("jobs.log")});
  INFO(r.out << r.err);
  REQUIRE(r.exit_code == 0);
  auto alert = nlohmann::json::parse(r.out.substr(0, r.out.find('\n')));
  CHECK(alert.at("rule") == "backup-failures");
  CHECK(alert.at("state") == "firing");
  CHECK(alert.at("window_end") == "2026-11-22T10:00:03.000Z");
}

// A file read in many pieces: lines cut by reads and chunks, CRLF, lines before the first
// stamp, overlong lines, a last line without '\n'. Every line counts as the splitter defines
// one (up to '\n', one '\r' off, cut at 64 KiB), once, with any number of threads.
TEST_CASE("ember replay: every line of a file read in pieces counts once, as a line is defined",
          "[cli][replay][integration]") {
  TempDir dir;
  std::mt19937 rng(7);
  std::string log;
  for (int i = 0; i < 5; ++i) log += "prelude ERROR " + std::to_string(i) + "\n";  // no stamp
  for (int i = 0; i < 60000; ++i) {
    std::string line = Iso(1'700'000'000'000 + int64_t{i} * 20);
    line += rng() % 4 == 0 ? " app: ERROR " + std::to_string(i) : " app: fine";
    line += std::string(rng() % 200, 'x');
    if (i == 20000) line += " " + std::string(200'000, 'y');  // cut, still a match
    if (i == 30000) line = Iso(1'700'000'600'000) + std::string(70'000, 'z') + " ERROR 1";
    if (i == 40000) line = "no stamp here, ERROR 40000";
    log += line + (i % 3 == 0 ? "\r\n" : "\n");
  }
  log += Iso(1'700'001'300'000) + " last ERROR 99 without a newline";
  const std::string file = dir.Write("pieces.log", log);
  const std::string rules = dir.Write("r.yaml", R"(rules:
  - name: errors
    match: 'ERROR \d+'
    window: 10s
    when: count >= 1000000
)");
  // The same lines, independently: split, strip, cut, search.
  uint64_t lines = 0, matching = 0;
  for (size_t at = 0; at < log.size();) {
    size_t nl = log.find('\n', at);
    if (nl == std::string::npos) nl = log.size();
    std::string line = log.substr(at, nl - at);
    if (!line.empty() && line.back() == '\r') line.pop_back();
    line = line.substr(0, 64 * 1024);
    ++lines;
    for (size_t e = line.find("ERROR "); e != std::string::npos; e = line.find("ERROR ", e + 1)) {
      if (e + 6 < line.size() && line[e + 6] >= '0' && line[e + 6] <= '9') {
        ++matching;
        break;
      }
    }
    at = nl + 1;
  }
  REQUIRE(matching > 10000);
  for (const char* threads : {"1", "3"}) {
    INFO(threads << " threads");
    auto r = RunCommand(
        {EMBER_CLI_BIN, "replay", "--threads", threads, "--rules", rules, "--host", "h", file});
    INFO(r.err);
    REQUIRE(r.exit_code == 0);
    CHECK(r.err.find(": " + std::to_string(lines) + " lines,") != std::string::npos);
    CHECK(r.err.find("; " + std::to_string(matching) + " matches in " + std::to_string(matching) +
                     " matching lines") != std::string::npos);
  }
}

TEST_CASE("ember replay: the same alerts with one matching thread or several",
          "[cli][replay][integration]") {
  const std::string rules = std::string(EMBER_SOURCE_DIR) + "/rules/examples";
  const std::string loghub = std::string(EMBER_SOURCE_DIR) + "/tests/data/loghub/";
  std::vector<std::string> args = {EMBER_CLI_BIN, "replay", "--resolved", "--rules", rules,
                                   "--host",      "h",      "--year",     "2005"};
  for (const char* name : {"OpenSSH_2k.log", "Linux_2k.log", "Apache_2k.log"}) {
    args.push_back(loghub + name);
  }
  auto with_threads = [&](const char* n) {
    auto a = args;
    a.insert(a.begin() + 2, {"--threads", n});
    return RunCommand(a);
  };
  auto one = with_threads("1");
  auto three = with_threads("3");
  REQUIRE(one.exit_code == 0);
  REQUIRE(three.exit_code == 0);
  CHECK(std::count(one.out.begin(), one.out.end(), '\n') > 10);
  CHECK(one.out == three.out);
}

// A real sshd log rewritten with ISO-8601 stamps in mixed UTC offsets (the same instants),
// against the same log stamped in UTC: the same alerts in the same windows.
TEST_CASE("ember replay: stamps in mixed UTC offsets land in the windows of their instants",
          "[cli][replay][integration]") {
  TempDir dir;
  std::ifstream in(std::string(EMBER_SOURCE_DIR) + "/tests/data/loghub/OpenSSH_2k.log");
  const char* kMonths = "JanFebMarAprMayJunJulAugSepOctNovDec";
  const int offsets_min[] = {120, -300, 0, 330, -210, 60};
  std::string mixed, utc;
  int n = 0;
  for (std::string line; std::getline(in, line);) {
    if (!line.empty() && line.back() == '\r') line.pop_back();
    // "Dec 10 06:55:46 LabSZ sshd[24200]: …": the stamp is 15 bytes, read as UTC in 2017.
    const int month = static_cast<int>(std::string(kMonths).find(line.substr(0, 3)) / 3) + 1;
    const int64_t instant = ember::engine::CivilToUnixMs(
        2017, month, std::stoi(line.substr(4, 2)), std::stoi(line.substr(7, 2)),
        std::stoi(line.substr(10, 2)), std::stoi(line.substr(13, 2)), 0);
    const std::string rest = line.substr(15);
    const int offset = offsets_min[n++ % 6];
    const auto tp = std::chrono::time_point<std::chrono::system_clock, std::chrono::seconds>(
        std::chrono::seconds(instant / 1000));
    mixed += cctz::format("%Y-%m-%dT%H:%M:%S%Ez", tp,
                          cctz::fixed_time_zone(cctz::seconds(offset * 60))) +
             rest + "\n";
    utc += cctz::format("%Y-%m-%dT%H:%M:%SZ", tp, cctz::utc_time_zone()) + rest + "\n";
  }
  REQUIRE(n == 2000);
  dir.Write("mixed.log", mixed);
  dir.Write("utc.log", utc);
  const std::string rules = std::string(EMBER_SOURCE_DIR) + "/rules/examples/ssh.yaml";
  auto windows = [&](const std::string& file) {
    auto r = RunCommand(
        {EMBER_CLI_BIN, "replay", "--resolved", "--rules", rules, "--host", "h", dir.Sub(file)});
    INFO(r.err);
    REQUIRE(r.exit_code == 0);
    std::vector<std::string> out;
    std::istringstream lines(r.out);
    for (std::string l; std::getline(lines, l);) {
      auto a = nlohmann::json::parse(l);
      out.push_back(a.at("rule").dump() + a.at("key").dump() + a.at("state").dump() +
                    a.at("window_start").dump() + a.at("window_end").dump() + a.at("count").dump());
    }
    return out;
  };
  const auto from_utc = windows("utc.log");
  CHECK(from_utc.size() > 20);
  CHECK(windows("mixed.log") == from_utc);
}
