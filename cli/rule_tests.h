// Rule unit tests (`ember test`): a YAML file gives input lines at synthetic times and the
// alerts expected at evaluation times; the real Engine runs them, so a rule behaves under
// `ember test` exactly as in the aggregator. Pure: no clock, no network; reads only the
// test file and the rules files it names.
#pragma once

#include <string>

#include "common/status.h"

namespace ember::cli {

struct RuleTestReport {
  int passed = 0;
  int failed = 0;
  std::string text;  // one line per test; a diff of expected and actual alerts per failure
};

// Runs every test in the file at `path`. A malformed test file or rules with errors fail
// with every problem as "file:line:col: error: …" in the message.
Result<RuleTestReport> RunRuleTests(const std::string& path);

}  // namespace ember::cli
