#include "aggregator/sinks/terminal_sink.h"

#include <catch2/catch.hpp>

using namespace ember;

TEST_CASE(
    "TerminalSink: one aligned line per alert, colour only when asked, priorities under journald",
    "[aggregator][terminal]") {
  engine::Alert a;
  a.rule = "ssh-bruteforce";
  a.severity = rules::Severity::kCritical;
  a.fields = {{"ip", "203.0.113.9"}};
  a.count = 7;
  a.window_start_ms = 1700000000000 - 60000;
  a.window_end_ms = 1700000000000;
  a.message = "7 failed logins";
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
