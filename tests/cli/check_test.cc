// `ember check` as operators run it: the real binary on real files.
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>

#include <catch2/catch.hpp>

#include "tests/support/process.h"
#include "tests/support/temp_dir.h"

using namespace ember::test;

TEST_CASE("ember check: the shipped example rules pass", "[cli][check][integration]") {
  auto r = RunCommand({EMBER_CLI_BIN, "check", std::string(EMBER_SOURCE_DIR) + "/rules/examples"});
  INFO(r.err);
  CHECK(r.exit_code == 0);
  CHECK(r.out.find("rule(s) OK") != std::string::npos);
}

TEST_CASE("ember check: a bad pattern is reported as file:line:col with RE2's message",
          "[cli][check][integration]") {
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
          "[cli][check][integration]") {
  TempDir dir;
  std::string path = dir.Write("r.yaml", "rules:\n  - name: x\n   match: [\n");
  auto r = RunCommand({EMBER_CLI_BIN, "check", path});
  CHECK(r.exit_code == 1);
  CHECK(r.err.rfind(path + ":", 0) == 0);
  auto missing = RunCommand({EMBER_CLI_BIN, "check", dir.Sub("nowhere")});
  CHECK(missing.exit_code == 1);
  CHECK(missing.err.find("no such file or directory") != std::string::npos);
}

TEST_CASE("ember check: warns about expensive patterns and rules that can never fire",
          "[cli][check][integration]") {
  TempDir dir;
  std::string path = dir.Write("rules/w.yaml",
                               "rules:\n"
                               "  - name: digits\n"
                               "    match: '\\d+ \\w+'\n"
                               "    window: 10s\n"
                               "  - name: never\n"
                               "    match: 'ERROR'\n"
                               "    window: 10s\n"
                               "    unless: ['x*']\n"
                               "  - name: fine\n"
                               "    match: 'ERROR (?P<code>\\d+)'\n"
                               "    window: 10s\n"
                               "  - name: ratio\n"
                               "    match: 'status=5\\d\\d'\n"
                               "    ratio_of: 'status=\\d+'\n"
                               "    window: 10s\n"
                               "    when: ratio > 0.5\n"
                               "  - name: ratio-any\n"
                               "    match: 'status=5\\d\\d'\n"
                               "    ratio_of: '\\d+'\n"
                               "    window: 10s\n"
                               "    when: ratio > 0.5\n");
  auto r = RunCommand({EMBER_CLI_BIN, "check", dir.Sub("rules")});
  INFO(r.err);
  CHECK(r.exit_code == 0);  // warnings do not fail the check
  CHECK(r.err.find(path + ":2:5: warning: rule 'digits': pattern '\\d+ \\w+' has no fixed text") !=
        std::string::npos);
  CHECK(
      r.err.find(path + ":8:13: warning: rule 'never' can never fire: its 'unless' pattern 'x*'") !=
      std::string::npos);
  CHECK(r.err.find(path + ":17:5: warning: rule 'ratio-any': 'ratio_of' pattern '\\d+' has no "
                          "fixed text") != std::string::npos);
  CHECK(r.err.find("'fine'") == std::string::npos);
  CHECK(r.err.find("rule 'ratio'") == std::string::npos);
  CHECK(r.out.find("5 rule(s) OK, 3 warning(s)") != std::string::npos);
}

TEST_CASE(
    "ember check: a FIFO, /dev/zero or a huge file in the rules directory is refused "
    "at once",
    "[cli][check][integration]") {
  TempDir dir;
  dir.Write("rules/good.yaml", "rules:\n  - name: ok\n    match: fine\n    window: 10s\n");
  std::string expected;
  SECTION("a FIFO nobody writes to") {
    REQUIRE(::mkfifo(dir.Sub("rules/fifo.yaml").c_str(), 0600) == 0);
    expected = "fifo.yaml: error: not a regular file";
  }
  SECTION("a symlink to /dev/zero") {
    REQUIRE(::symlink("/dev/zero", dir.Sub("rules/zero.yaml").c_str()) == 0);
    expected = "zero.yaml: error: not a regular file";
  }
  SECTION("a file larger than 4 MiB") {
    dir.Write("rules/huge.yaml", "# " + std::string(5 << 20, 'x') + "\n");
    expected = "huge.yaml: error: 5242883 bytes, more than the 4194304";
  }
  const auto started = std::chrono::steady_clock::now();
  auto r = RunCommand({EMBER_CLI_BIN, "check", dir.Sub("rules")});
  INFO(r.err);
  CHECK(std::chrono::steady_clock::now() - started < std::chrono::seconds(10));
  CHECK(r.exit_code == 1);
  CHECK(r.err.find(expected) != std::string::npos);
}
