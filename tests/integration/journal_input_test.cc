// The agent's journal input against real journal files written during the test by
// systemd-journal-remote (from the export format), followed while they are appended to, shipped
// to a real aggregator: matches, rules keyed by unit, SIGKILL of either side with exact counts,
// a second journal file and a vacuumed cursor, binary messages and entries without a MESSAGE.
#include <chrono>
#include <csignal>
#include <filesystem>
#include <random>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <catch2/catch.hpp>

#include "tests/support/cluster.h"
#include "tests/support/journal_file.h"
#include "tests/support/process.h"

using namespace ember::test;
using namespace std::chrono_literals;

namespace {

// Counts "seq=<n> " per n (the oracle's rule) and per unit.
const std::string kRules = std::string(kSeqRule) + R"(  - name: per-unit
    match: 'seq=\d+ '
    by: [unit]
    window: 1h
    every: 500ms
    when: count >= 100000000
)";

int64_t NowUs() {
  return std::chrono::duration_cast<std::chrono::microseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// Entry `n` in the export format: units a, b, c in turn (c is not followed), priority
// info except every 10th at debug (filtered out), every 25th with a binary MESSAGE holding a
// NUL, every 40th without a MESSAGE.
std::string Export(int n, int64_t us) {
  const char unit = static_cast<char>('a' + n % 3);
  std::string out = "__REALTIME_TIMESTAMP=" + std::to_string(us) +
                    "\n__MONOTONIC_TIMESTAMP=" + std::to_string(1000 + n) +
                    "\n_BOOT_ID=0123456789abcdef0123456789abcdef\n" +
                    "_HOSTNAME=jhost\nSYSLOG_IDENTIFIER=app\n_SYSTEMD_UNIT=" + unit +
                    ".service\n_PID=" + std::to_string(100 + n % 7) +
                    "\nPRIORITY=" + (n % 10 == 9 ? "7" : "6") + "\n";
  const std::string message = "seq=" + std::to_string(n) + " from " + unit;
  if (n % 40 == 39) return out + "\n";
  if (n % 25 == 24) {
    const std::string data = message + std::string(1, '\0') + " tail";
    out += "MESSAGE\n";
    for (int i = 0; i < 8; ++i) out += static_cast<char>((data.size() >> (8 * i)) & 0xff);
    return out + data + "\n\n";
  }
  return out + "MESSAGE=" + message + "\n\n";
}

// Whether entry n reaches the aggregator: units a and b, not debug, with a MESSAGE.
bool Shipped(int n) { return n % 3 != 2 && n % 10 != 9 && n % 40 != 39; }

// Appends entries [from, to) to the journal file `file` (created if new), stamped now.
void AppendEntries(Cluster& c, const std::string& file, int from, int to) {
  std::string text;
  const int64_t us = NowUs();
  for (int n = from; n < to; ++n) text += Export(n, us + n);
  WriteJournalEntries(c.dir, file, text);
}

// The counts the aggregator must hold: per n for the shipped entries below `to`, and per unit.
void ExpectShipped(Cluster& c, int to) {
  int shipped = 0, a = 0, b = 0;
  for (int n = 0; n < to; ++n) {
    if (!Shipped(n)) continue;
    ++shipped;
    (n % 3 == 0 ? a : b) += 1;
  }
  WaitUntil([&] { return CommittedCountsByKey(c, "seq").size() >= static_cast<size_t>(shipped); },
            60s);
  std::this_thread::sleep_for(2500ms);  // longer than the agent's ack timeout: resends settle
  const auto seq = CommittedCountsByKey(c, "seq");
  int lost = 0, dup = 0, unexpected = 0;
  for (int n = 0; n < to; ++n) {
    auto it = seq.find(std::to_string(n));
    if (!Shipped(n)) {
      unexpected += it != seq.end();
    } else if (it == seq.end()) {
      ++lost;
    } else {
      dup += static_cast<int>(it->second) - 1;
    }
  }
  INFO("agent logs:\n" << c.AgentLogs() << "aggregator logs:\n" << c.AggregatorLogs());
  CHECK(lost == 0);
  CHECK(dup == 0);
  CHECK(unexpected == 0);
  CHECK(seq.size() == static_cast<size_t>(shipped));
  const auto per_unit = CommittedCountsByKey(c, "per-unit");
  CHECK(per_unit == std::map<std::string, uint64_t>{{"a.service", a}, {"b.service", b}});
}

}  // namespace

TEST_CASE("Journal input: entries followed live ship exactly once through SIGKILLs, by unit",
          "[integration]") {
  Cluster c(kRules);
  const std::string dir = c.dir.Sub("journal");
  std::filesystem::create_directories(dir);
  const std::string file = dir + "/remote.journal";
  AppendEntries(c, file, 0, 200);
  c.StartAggregator();
  // An agent without the journal input does not load libsystemd.
  c.StartAgent();
  CHECK_FALSE(c.agent->Maps("libsystemd"));
  c.agent->Signal(SIGTERM);
  REQUIRE(c.agent->Wait(10s));
  c.AddAgentInputs("  journal:\n    directory: " + dir +
                   "\n    units: [a.service, b.service]\n    priority: ..info\n");
  c.StartAgent();
  CHECK(c.agent->Maps("libsystemd"));
  AppendEntries(c, file, 200, 400);
  std::this_thread::sleep_for(300ms);
  c.agent->Signal(SIGKILL);
  REQUIRE(c.agent->Wait(10s));
  AppendEntries(c, file, 400, 600);
  c.StartAgent();
  AppendEntries(c, file, 600, 800);
  c.aggregator->Signal(SIGKILL);
  REQUIRE(c.aggregator->Wait(10s));
  AppendEntries(c, file, 800, 1000);
  c.StartAggregator();
  ExpectShipped(c, 1000);
  // Entries without a MESSAGE and binary ones are counted, debug ones filtered.
  int without = 0, binary = 0;
  for (int n = 600; n < 1000; ++n) {  // read by this agent process (it resumed at 600 or before)
    if (n % 3 == 2) continue;
    if (n % 10 == 9) continue;
    without += n % 40 == 39;
    binary += n % 40 != 39 && n % 25 == 24;
  }
  const auto m = Scrape(c.agent_http_port);
  CHECK(Get(m, "ember_agent_journal_without_message_total") >= without);
  CHECK(Get(m, "ember_agent_journal_binary_messages_total") >= binary);
  CHECK(Get(m, "ember_agent_journal_filtered_total") > 0);
  CHECK(Get(m, "ember_agent_journal_gaps_total") == 0);
  // ember-agent --status shows the journal's stream beside the files (status.json is
  // rewritten every few seconds while something happens).
  std::string status;
  WaitUntil(
      [&] {
        status = RunCommand({EMBER_AGENT_BIN, "-c", c.dir.Sub("agent.yaml"), "--status"}).out;
        return status.find("following") != std::string::npos;
      },
      10s);
  INFO(status);
  CHECK(status.find("journal '" + dir + "': stream") != std::string::npos);
  CHECK(status.find("following") != std::string::npos);
  CHECK(status.find("without a MESSAGE") != std::string::npos);
}

TEST_CASE("Journal input: the fault oracle holds with SIGKILLs of either side at random points",
          "[integration]") {
  Cluster c(kRules);
  const std::string dir = c.dir.Sub("journal");
  std::filesystem::create_directories(dir);
  const std::string file = dir + "/remote.journal";
  c.AddAgentInputs("  journal:\n    directory: " + dir +
                   "\n    units: [a.service, b.service]\n    priority: ..info\n");
  c.StartAggregator();
  c.StartAgent();
  const unsigned seed = static_cast<unsigned>(EnvInt("EMBER_FAULT_SEED", 11));
  const int rounds = EnvInt("EMBER_JOURNAL_FAULT_ROUNDS", 6);
  INFO("seed " << seed);
  std::mt19937 rng(seed);
  int written = 0;
  for (int round = 0; round < rounds; ++round) {
    const int n = 50 + static_cast<int>(rng() % 150);
    AppendEntries(c, file, written, written + n);
    written += n;
    std::this_thread::sleep_for(std::chrono::milliseconds(rng() % 400));
    if (rng() % 2 == 0) {
      c.agent->Signal(SIGKILL);
      REQUIRE(c.agent->Wait(10s));
      c.StartAgent();
    } else {
      c.aggregator->Signal(SIGKILL);
      REQUIRE(c.aggregator->Wait(10s));
      c.StartAggregator();
    }
  }
  ExpectShipped(c, written);
}

TEST_CASE(
    "Journal input: rotated journal files are followed, and a vacuumed cursor resumes at the "
    "oldest entry left, counted and logged",
    "[integration]") {
  Cluster c(kRules);
  const std::string dir = c.dir.Sub("journal");
  std::filesystem::create_directories(dir);
  AppendEntries(c, dir + "/old.journal", 0, 100);
  c.AddAgentInputs("  journal:\n    directory: " + dir +
                   "\n    units: [a.service, b.service]\n    priority: ..info\n");
  c.StartAggregator();
  c.StartAgent();
  // Rotated as journald does: the file is renamed to an archive name and a new one takes its
  // place; then a second file appears beside them. Everything is followed, nothing twice.
  ExpectShipped(c, 100);
  std::filesystem::rename(dir + "/old.journal",
                          dir +
                              "/old@0123456789abcdef0123456789abcdef-0000000000000001-"
                              "0005f0f0f0f0f0f0.journal");
  AppendEntries(c, dir + "/old.journal", 100, 150);
  AppendEntries(c, dir + "/new.journal", 150, 200);
  ExpectShipped(c, 200);
  c.agent->Signal(SIGTERM);
  REQUIRE(c.agent->Wait(10s));
  // While the agent is stopped, everything is vacuumed and new entries are written: the
  // stored cursor's entry is gone.
  for (const auto& f : std::filesystem::directory_iterator(dir)) std::filesystem::remove(f);
  AppendEntries(c, dir + "/newer.journal", 200, 300);
  c.StartAgent();
  ExpectShipped(c, 300);
  const std::string log = ReadFile(c.dir.Sub("agent.2.err"));
  CHECK(log.find("the entry of the stored cursor is gone") != std::string::npos);
  WaitUntil([&] { return Get(Scrape(c.agent_http_port), "ember_agent_journal_gaps_total") == 1; },
            5s);
  CHECK(Get(Scrape(c.agent_http_port), "ember_agent_journal_gaps_total") == 1);
}

TEST_CASE(
    "Journal input: alerts follow the entries' realtime stamps, as ember replay --journal "
    "raises them",
    "[integration]") {
  Cluster c(R"(rules:
  - name: burst
    match: 'auth fail from (?P<ip>[\d.]+)'
    by: [unit]
    window: 4s
    every: 500ms
    repeat: 500ms
    when: count >= 5
    message: '{{count}} fails in {{unit}}'
)");
  const std::string dir = c.dir.Sub("journal");
  std::filesystem::create_directories(dir);
  // Two minutes of failures from the past, in bursts and lulls, in two units.
  std::mt19937 rng(7);
  std::string text;
  const int64_t t0 = NowUs() - 150'000'000;
  int64_t t = t0;
  for (int n = 0; t < t0 + 120'000'000; ++n) {
    t += (n / 20 % 2 == 0 ? 300'000 : 1'500'000) + static_cast<int64_t>(rng() % 200'000);
    const std::string unit = rng() % 2 == 0 ? "ssh.service" : "vpn.service";
    text += "__REALTIME_TIMESTAMP=" + std::to_string(t) +
            "\n__MONOTONIC_TIMESTAMP=" + std::to_string(1000 + n) +
            "\n_BOOT_ID=0123456789abcdef0123456789abcdef\n" +
            "_HOSTNAME=jhost\nSYSLOG_IDENTIFIER=sshd\n_SYSTEMD_UNIT=" + unit +
            "\nPRIORITY=5\n_PID=77\nMESSAGE=auth fail from 10.0.0." + std::to_string(rng() % 4) +
            "\n\n";
  }
  WriteJournalEntries(c.dir, dir + "/remote.journal", text);
  c.AddAgentInputs("  journal:\n    directory: " + dir + "\n");
  c.StartAggregator();
  c.StartAgent();
  ProcessResult r = RunCommand({EMBER_CLI_BIN, "replay", "--rules", c.dir.Sub("rules"),
                                "--batch-interval", "500ms", "--journal", dir});
  REQUIRE(r.exit_code == 0);
  std::set<std::pair<int64_t, std::string>> replayed;
  std::istringstream in(r.out);
  for (std::string line; std::getline(in, line);) {
    auto a = nlohmann::json::parse(line);
    if (a["state"] == "firing")
      replayed.insert({a["window_end_ms"].get<int64_t>(), a["key"]["unit"].get<std::string>()});
  }
  REQUIRE(replayed.size() > 4);
  // Every window fired lies in the two minutes of the entries, not at the time they shipped.
  for (const auto& [end, unit] : replayed) {
    CHECK(end > t0 / 1000);
    CHECK(end <= t / 1000 + 4500);
  }
  std::set<std::pair<int64_t, std::string>> live;
  WaitUntil(
      [&] {
        live.clear();
        for (const auto& a : c.Alerts()) {
          if (a["state"] == "firing")
            live.insert({a["window_end_ms"].get<int64_t>(), a["key"]["unit"].get<std::string>()});
        }
        return live == replayed;
      },
      30s);
  CHECK(live == replayed);
}
