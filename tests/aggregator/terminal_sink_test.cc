#include "aggregator/sinks/terminal_sink.h"

#include <catch2/catch.hpp>

using namespace ember;

namespace {

// 7 failed logins from one address in the minute up to 2023-11-14T22:13:20Z.
engine::Alert SshAlert() {
  engine::Alert a;
  a.rule = "ssh-bruteforce";
  a.severity = rules::Severity::kCritical;
  a.fields = {{"ip", "203.0.113.9"}};
  a.count = 7;
  a.window_start_ms = 1700000000000 - 60000;
  a.window_end_ms = 1700000000000;
  a.message = "7 failed logins";
  return a;
}

}  // namespace

TEST_CASE(
    "TerminalSink: one aligned line per alert, colour only when asked, priorities under journald",
    "[aggregator][terminal][unit]") {
  engine::Alert a = SshAlert();
  using aggregator::TerminalStyle;
  std::string plain = aggregator::TerminalSink::Format(a, TerminalStyle::kPlain);
  CHECK(plain.rfind("2023-11-14T22:13:20Z  CRITICAL  FIRING    ssh-bruteforce", 0) == 0);
  CHECK(plain.find("ip=203.0.113.9") != std::string::npos);
  CHECK(plain.find("7/1m") != std::string::npos);
  CHECK(plain.find('\x1b') == std::string::npos);
  std::string colored = aggregator::TerminalSink::Format(a, TerminalStyle::kColor);
  CHECK(colored.find('\x1b') != std::string::npos);
  // Under journald the line starts with the severity's syslog priority (critical = 2).
  CHECK(aggregator::TerminalSink::Format(a, TerminalStyle::kJournal).rfind("<2>2023-11-14", 0) ==
        0);
  a.severity = rules::Severity::kWarning;
  CHECK(aggregator::TerminalSink::Format(a, TerminalStyle::kJournal).rfind("<4>", 0) == 0);
  a.state = engine::AlertState::kResolved;
  CHECK(aggregator::TerminalSink::Format(a, TerminalStyle::kPlain).find("RESOLVED") !=
        std::string::npos);
}

// Whole-line snapshots: columns of fixed width (time, severity 8, state 8, rule 20, key 24,
// count right-aligned in 9, message), two spaces apart; escapes only in the colour style.
TEST_CASE("TerminalSink: line snapshots with and without colour", "[aggregator][terminal][unit]") {
  engine::Alert a = SshAlert();
  using aggregator::TerminalStyle;
  const std::string pad_rule(6 + 2, ' '), pad_key(10 + 2 + 5, ' ');
  CHECK(aggregator::TerminalSink::Format(a, TerminalStyle::kPlain) ==
        "2023-11-14T22:13:20Z  CRITICAL  FIRING    ssh-bruteforce" + pad_rule + "ip=203.0.113.9" +
            pad_key + "7/1m  7 failed logins");
  CHECK(aggregator::TerminalSink::Format(a, TerminalStyle::kJournal) ==
        "<2>2023-11-14T22:13:20Z  CRITICAL  FIRING    ssh-bruteforce" + pad_rule +
            "ip=203.0.113.9" + pad_key + "7/1m  7 failed logins");
  CHECK(aggregator::TerminalSink::Format(a, TerminalStyle::kColor) ==
        "\x1b[2m2023-11-14T22:13:20Z\x1b[0m  \x1b[1;97;41mCRITICAL\x1b[0m  \x1b[1;31mFIRING  "
        "\x1b[0m  \x1b[1mssh-bruteforce      \x1b[0m  ip=203.0.113.9" +
            pad_key + "7/1m  7 failed logins");
  a.state = engine::AlertState::kResolved;
  a.severity = rules::Severity::kWarning;
  a.fields.clear();
  CHECK(aggregator::TerminalSink::Format(a, TerminalStyle::kPlain) ==
        "2023-11-14T22:13:20Z  WARNING   RESOLVED  ssh-bruteforce" + pad_rule + "-" +
            std::string(23 + 2 + 5, ' ') + "7/1m  7 failed logins");
}
