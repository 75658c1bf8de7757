// `ember replay --journal` on real journal files written by systemd-journal-remote from the
// export format: the same alerts as a replay of the same lines in a text file, at the
// entries' realtime stamps, from each entry's host; entries without a MESSAGE and binary
// messages counted.
#include <ctime>
#include <set>
#include <sstream>
#include <string>
#include <tuple>
#include <vector>

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include "tests/support/journal_file.h"
#include "tests/support/process.h"
#include "tests/support/temp_dir.h"

using namespace ember::test;

namespace {

const char* kRule = R"(rules:
  - name: brute
    match: 'sshd\[\d+\]: Failed password for \S+ from (?P<ip>[\d.]+)'
    by: [ip]
    window: 10s
    every: 5s
    when: count >= 4
    message: '{{count}} failures from {{ip}}'
)";

// "2024-12-02T22:53:20.250000Z", formatted here rather than by ember.
std::string Stamp(int64_t us) {
  const std::time_t s = static_cast<std::time_t>(us / 1'000'000);
  std::tm tm{};
  gmtime_r(&s, &tm);
  char buf[64];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%S", &tm);
  char frac[16];
  std::snprintf(frac, sizeof frac, ".%06dZ", static_cast<int>(us % 1'000'000));
  return std::string(buf) + frac;
}

struct Entry {
  int64_t us;
  std::string host, identifier, unit, message;
  int pid;
  bool binary = false;  // MESSAGE in the export format's binary form, with a NUL in it
  bool no_message = false;
};

// One entry in journald's export format (systemd's JOURNAL_EXPORT_FORMATS).
std::string Export(const Entry& e, int seq) {
  std::string out = "__REALTIME_TIMESTAMP=" + std::to_string(e.us) + "\n" +
                    "__MONOTONIC_TIMESTAMP=" + std::to_string(1000 + seq) + "\n" +
                    "_BOOT_ID=0123456789abcdef0123456789abcdef\n" + "_HOSTNAME=" + e.host + "\n" +
                    "SYSLOG_IDENTIFIER=" + e.identifier + "\n" + "_SYSTEMD_UNIT=" + e.unit + "\n" +
                    "_PID=" + std::to_string(e.pid) + "\nPRIORITY=5\n";
  if (e.binary) {
    std::string data = e.message;
    out += "MESSAGE\n";
    for (int i = 0; i < 8; ++i) out += static_cast<char>((data.size() >> (8 * i)) & 0xff);
    out += data + "\n";
  } else if (!e.no_message) {
    out += "MESSAGE=" + e.message + "\n";
  }
  return out + "\n";
}

using Fired = std::set<std::tuple<std::string, int64_t, uint64_t, std::string>>;

Fired FiredOf(const std::string& jsonl, std::string* first_host = nullptr) {
  Fired out;
  std::istringstream in(jsonl);
  for (std::string line; std::getline(in, line);) {
    auto j = nlohmann::json::parse(line);
    if (j["state"] != "firing") continue;
    out.insert({j["key"]["ip"].get<std::string>(), j["window_end_ms"].get<int64_t>(),
                j["count"].get<uint64_t>(), j["message"].get<std::string>()});
    if (first_host && first_host->empty() && j["key"]["ip"] == "10.0.0.2") {
      *first_host = j["evidence"][0]["host"].get<std::string>();
    }
  }
  return out;
}

}  // namespace

TEST_CASE("ember replay --journal: real journal files raise the alerts of the same lines",
          "[cli][journal][integration]") {
  TempDir dir;
  const std::string rules = dir.Write("rules/brute.yaml", kRule);
  const int64_t t0 = 1'733'180'000'000'000;  // 2024-12-02T22:53:20Z, in µs
  std::vector<Entry> entries;
  // Two hosts; a burst from 10.0.0.1 on web1, one from 10.0.0.2 on web2, a trickle from
  // 10.0.0.3 below the threshold, cron noise, an entry without MESSAGE, a binary message.
  for (int i = 0; i < 6; ++i) {
    entries.push_back({t0 + i * 700'000, "web1", "sshd", "ssh.service",
                       "Failed password for root from 10.0.0.1 port 22 ssh2", 100 + i});
  }
  for (int i = 0; i < 5; ++i) {
    entries.push_back({t0 + 30'000'000 + i * 900'000, "web2", "sshd", "ssh.service",
                       "Failed password for admin from 10.0.0.2 port 22 ssh2", 200});
  }
  for (int i = 0; i < 4; ++i) {
    entries.push_back({t0 + 60'000'000 + i * 6'000'000, "web1", "sshd", "ssh.service",
                       "Failed password for bob from 10.0.0.3 port 22 ssh2", 300});
  }
  entries.push_back({t0 + 70'000'000, "web1", "CRON", "cron.service", "(root) CMD (true)", 9});
  Entry none{t0 + 71'000'000, "web1", "kernel", "", "", 0};
  none.no_message = true;
  entries.push_back(none);
  Entry binary{t0 + 72'000'000, "web2", "app", "app.service", std::string("bin\0ary", 7), 5};
  binary.binary = true;
  entries.push_back(binary);

  std::string exported, text;
  for (size_t i = 0; i < entries.size(); ++i) {
    const Entry& e = entries[i];
    exported += Export(e, static_cast<int>(i));
    if (e.no_message) continue;
    std::string message = e.message;
    for (char& c : message) {
      if (c == '\0') c = ' ';
    }
    text += Stamp(e.us) + " " + e.host + " " + e.identifier + "[" + std::to_string(e.pid) +
            "]: " + message + "\n";
  }
  const std::string journal = dir.Sub("remote.journal");
  WriteJournalEntries(dir, journal, exported);

  ProcessResult from_journal = RunCommand({EMBER_CLI_BIN, "replay", "--rules", rules,
                                           "--batch-interval", "500ms", "--journal", journal});
  INFO(from_journal.err);
  REQUIRE(from_journal.exit_code == 0);
  CHECK(from_journal.err.find("read 18 journal entries: 1 without a MESSAGE (skipped), 1 with "
                              "bytes a line cannot hold") != std::string::npos);
  ProcessResult from_text = RunCommand({EMBER_CLI_BIN, "replay", "--rules", rules,
                                        "--batch-interval", "500ms", dir.Write("same.log", text)});
  REQUIRE(from_text.exit_code == 0);
  std::string host;
  const Fired journal_fired = FiredOf(from_journal.out, &host);
  const Fired text_fired = FiredOf(from_text.out);
  CHECK(journal_fired == text_fired);
  // Windows of 10 s every 5 s: 10.0.0.1 (6 in 3.5 s) and 10.0.0.2 (5 in 3.6 s) fire, 10.0.0.3
  // (one every 6 s) never does.
  std::set<std::string> ips;
  for (const auto& f : journal_fired) ips.insert(std::get<0>(f));
  CHECK(ips == std::set<std::string>{"10.0.0.1", "10.0.0.2"});
  for (const auto& f : journal_fired) {
    if (std::get<0>(f) == "10.0.0.1") CHECK(std::get<1>(f) == t0 / 1000 + 5000);
  }
  CHECK(host == "web2");  // each entry's own host
  // A directory of journal files reads the same.
  ProcessResult from_dir = RunCommand({EMBER_CLI_BIN, "replay", "--rules", rules,
                                       "--batch-interval", "500ms", "--journal", dir.path()});
  REQUIRE(from_dir.exit_code == 0);
  CHECK(FiredOf(from_dir.out) == journal_fired);
  // Filters: the web2 unit only, then notice (5) and worse only, then an unknown level.
  ProcessResult cron = RunCommand(
      {EMBER_CLI_BIN, "replay", "--rules", rules, "--journal", journal, "--unit", "cron.service"});
  REQUIRE(cron.exit_code == 0);
  CHECK(cron.err.find("read 1 journal entries") != std::string::npos);
  ProcessResult ssh_only = RunCommand({EMBER_CLI_BIN, "replay", "--rules", rules, "--journal",
                                       journal, "--identifier", "sshd", "--priority", "..notice"});
  REQUIRE(ssh_only.exit_code == 0);
  CHECK(ssh_only.err.find("read 15 journal entries") != std::string::npos);
  CHECK(FiredOf(ssh_only.out) == journal_fired);
  ProcessResult urgent = RunCommand(
      {EMBER_CLI_BIN, "replay", "--rules", rules, "--journal", journal, "--priority", "err"});
  REQUIRE(urgent.exit_code == 0);
  CHECK(urgent.err.find("read 0 journal entries") != std::string::npos);
  ProcessResult bad = RunCommand(
      {EMBER_CLI_BIN, "replay", "--rules", rules, "--journal", journal, "--priority", "loud"});
  CHECK(bad.exit_code == 2);
  CHECK(bad.err.find("'loud' is not a priority") != std::string::npos);
  // Rules keyed by and scoped to the entries' own fields.
  const std::string field_rules = dir.Write("field-rules/fields.yaml", R"(rules:
  - name: per-unit
    match: '.'
    by: [unit]
    identifiers: [CRON, app]
    window: 10s
    every: 5s
    when: count >= 1
  - name: per-process
    match: 'Failed password'
    by: [identifier, pid, priority]
    units: ['ssh.*']
    window: 10s
    every: 5s
    when: count >= 5
)");
  ProcessResult by_fields =
      RunCommand({EMBER_CLI_BIN, "replay", "--rules", field_rules, "--journal", journal});
  INFO(by_fields.err);
  REQUIRE(by_fields.exit_code == 0);
  std::set<std::string> keys;
  std::istringstream alerts(by_fields.out);
  for (std::string line; std::getline(alerts, line);) {
    auto j = nlohmann::json::parse(line);
    if (j["state"] == "firing") keys.insert(j["rule"].get<std::string>() + " " + j["key"].dump());
  }
  // Only pid 200 failed five times (the others once each or four times); the CRON and app
  // entries count per unit, sshd's are out of that rule's scope.
  CHECK(keys == std::set<std::string>{
                    R"(per-process {"identifier":"sshd","pid":"200","priority":"5"})",
                    R"(per-unit {"unit":"app.service"})", R"(per-unit {"unit":"cron.service"})"});
  // A path that is not there names itself.
  ProcessResult missing =
      RunCommand({EMBER_CLI_BIN, "replay", "--rules", rules, "--journal", dir.Sub("nope.journal")});
  CHECK(missing.exit_code == 1);
  CHECK(missing.err.find("nope.journal") != std::string::npos);
}

TEST_CASE("ember replay --journal: the shipped SSH rules fire on what journald records for sshd",
          "[cli][journal][integration]") {
  TempDir dir;
  // sshd's entries as journald stores them: the message without a syslog prefix, the
  // identifier and pid in their own fields; the packaged agent's filter (identifiers sshd,
  // sudo, su, kernel) lets them through.
  const int64_t t0 = 1'733'180'000'000'000;
  std::string exported;
  for (int i = 0; i < 6; ++i) {
    exported += Export({t0 + i * 1'000'000, "bastion", "sshd", "ssh.service",
                        "Failed password for invalid user admin from 198.51.100.7 port " +
                            std::to_string(40000 + i) + " ssh2",
                        4242},
                       i);
  }
  const std::string journal = dir.Sub("ssh.journal");
  WriteJournalEntries(dir, journal, exported);
  ProcessResult r = RunCommand({EMBER_CLI_BIN, "replay", "--rules",
                                std::string(EMBER_SOURCE_DIR) + "/rules/examples/ssh.yaml",
                                "--journal", journal, "--identifier", "sshd", "--identifier",
                                "sudo", "--identifier", "su", "--identifier", "kernel"});
  INFO(r.err);
  REQUIRE(r.exit_code == 0);
  bool fired = false;
  std::istringstream in(r.out);
  for (std::string line; std::getline(in, line);) {
    auto a = nlohmann::json::parse(line);
    if (a["rule"] == "ssh-bruteforce" && a["state"] == "firing" &&
        a["key"]["ip"] == "198.51.100.7") {
      fired = true;
    }
  }
  CHECK(fired);
}
