#include <catch2/catch.hpp>

#include "aggregator/sinks/terminal_sink.h"

using namespace ember;

TEST_CASE("TerminalSink: one aligned plain line per alert, colour only when asked",
          "[aggregator][terminal]") {
  engine::Alert a;
  a.rule = "ssh-bruteforce";
  a.severity = rules::Severity::kCritical;
  a.fields = {{"ip", "203.0.113.9"}};
  a.count = 7;
  a.window_start_ms = 1700000000000 - 60000;
  a.window_end_ms = 1700000000000;
  a.message = "7 failed logins";
  std::string plain = aggregator::TerminalSink::Format(a, false);
  CHECK(plain.rfind("2023-11-14T22:13:20Z  CRITICAL  FIRING    ssh-bruteforce", 0) == 0);
  CHECK(plain.find("ip=203.0.113.9") != std::string::npos);
  CHECK(plain.find("7/1m") != std::string::npos);
  CHECK(plain.find('\x1b') == std::string::npos);
  std::string colored = aggregator::TerminalSink::Format(a, true);
  CHECK(colored.find('\x1b') != std::string::npos);
  a.state = engine::AlertState::kResolved;
  CHECK(aggregator::TerminalSink::Format(a, false).find("RESOLVED") != std::string::npos);
}
