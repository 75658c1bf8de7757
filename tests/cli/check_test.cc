// `ember check` as operators run it: the real binary on real files.
#include <catch2/catch.hpp>

#include "tests/support/process.h"
#include "tests/support/temp_dir.h"

using namespace ember::test;

TEST_CASE("ember check: the shipped example rules pass", "[cli][check]") {
  auto r = RunCommand({EMBER_CLI_BIN, "check", std::string(EMBER_SOURCE_DIR) + "/rules/examples"});
  INFO(r.err);
  CHECK(r.exit_code == 0);
  CHECK(r.out.find("rule(s) OK") != std::string::npos);
}

TEST_CASE("ember check: a bad pattern is reported as file:line:col with RE2's message",
          "[cli][check]") {
  TempDir dir;
  std::string good =
      dir.Write("rules/good.yaml", "rules:\n  - name: ok\n    match: fine\n    window: 10s\n");
  std::string bad = dir.Write("rules/bad.yaml",
                              "rules:\n"
                              "  - name: broken\n"
                              "    match: 'Failed (password'\n"
                              "    window: 10s\n"
                              "  - name: also-broken\n"
                              "    match: ok\n"
                              "    window: 10s\n"
                              "    by: [nope]\n");
  auto r = RunCommand({EMBER_CLI_BIN, "check", dir.Sub("rules")});
  CHECK(r.exit_code == 1);
  CHECK(r.err.find(bad + ":3:12: error: invalid pattern: missing ): Failed (password") !=
        std::string::npos);
  CHECK(r.err.find(bad + ":8:9: error: 'nope' is neither a named capture") != std::string::npos);
  CHECK(r.err.find(good) == std::string::npos);
  CHECK(r.err.find("terminate") == std::string::npos);  // no uncaught exception
}

TEST_CASE("ember check: broken YAML and a missing path are clear errors, not crashes",
          "[cli][check]") {
  TempDir dir;
  std::string path = dir.Write("r.yaml", "rules:\n  - name: x\n   match: [\n");
  auto r = RunCommand({EMBER_CLI_BIN, "check", path});
  CHECK(r.exit_code == 1);
  CHECK(r.err.rfind(path + ":", 0) == 0);
  auto missing = RunCommand({EMBER_CLI_BIN, "check", dir.Sub("nowhere")});
  CHECK(missing.exit_code == 1);
  CHECK(missing.err.find("no such file or directory") != std::string::npos);
}
