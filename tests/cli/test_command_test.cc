// `ember test` as operators run it: the real binary on real rule and test files.
#include <filesystem>
#include <sstream>
#include <string>

#include <catch2/catch.hpp>

#include "tests/support/process.h"
#include "tests/support/temp_dir.h"

using namespace ember::test;

namespace {

const char* kRule = R"(rules:
  - name: fails
    match: 'fail from (?P<ip>\S+)'
    by: [ip]
    window: 10s
    when: count >= 3
    for: 2s
    message: '{{count}} failures from {{ip}}'
)";

}  // namespace

TEST_CASE("ember test: every shipped example rules file has tests, and they pass",
          "[cli][ember_test][integration]") {
  const std::string examples = std::string(EMBER_SOURCE_DIR) + "/rules/examples";
  for (const auto& entry : std::filesystem::directory_iterator(examples)) {
    if (entry.path().extension() != ".yaml") continue;
    INFO(entry.path());
    CHECK(std::filesystem::exists(examples + "/tests/" + entry.path().stem().string() +
                                  ".test.yaml"));
  }
  auto r = RunCommand({EMBER_CLI_BIN, "test", examples + "/tests"});
  INFO(r.out << r.err);
  CHECK(r.exit_code == 0);
  CHECK(r.out.find(" passed, 0 failed\n") != std::string::npos);
  CHECK(r.out.find("FAIL") == std::string::npos);
}

TEST_CASE("ember test: a wrong expectation fails with a diff of expected and actual alerts",
          "[cli][ember_test][integration]") {
  TempDir dir;
  dir.Write("rules.yaml", kRule);
  const std::string test = dir.Write("fails.test.yaml", R"(rules: [rules.yaml]
tests:
  - name: three failures
    input:
      - lines:
          - {at: 0s, repeat: 3, line: 'fail from 10.0.0.1'}
    expect:
      - at: 1s
        events:
          - {rule: fails, state: pending, key: {ip: 10.0.0.1}}
      - at: 2s
        alerts:
          - {rule: fails, state: firing, key: {ip: 10.0.0.1}, count: 3}
      - at: 3s
        events:
          - {rule: fails, state: firing, key: {ip: 10.0.0.9}}
)");
  auto r = RunCommand({EMBER_CLI_BIN, "test", test});
  INFO(r.out << r.err);
  CHECK(r.exit_code == 1);
  // `for: 2s`: pending at 1 s, still pending at 2 s, firing at 3 s.
  CHECK(r.out == test + "\n" + "FAIL  three failures (" + test +
                     ":3:5)\n"
                     "  " +
                     test +
                     ":11:9: at 2s\n"
                     "  active alerts (- expected, + actual):\n"
                     "    - firing fails {ip=10.0.0.1} count=3\n"
                     "    + pending fails {ip=10.0.0.1} count=3 severity=warning "
                     "message=\"3 failures from 10.0.0.1\"\n"
                     "  " +
                     test +
                     ":14:9: at 3s\n"
                     "  events (- expected, + actual):\n"
                     "    - firing fails {ip=10.0.0.9}\n"
                     "    + firing fails {ip=10.0.0.1} count=3 severity=warning "
                     "message=\"3 failures from 10.0.0.1\"\n"
                     "0 passed, 1 failed\n");
}

TEST_CASE("ember test: a broken test file or rule is located, exit 2",
          "[cli][ember_test][integration]") {
  TempDir dir;
  dir.Write("rules.yaml", "rules:\n  - name: x\n    match: 'a('\n    window: 10s\n");
  const std::string test = dir.Write("bad.test.yaml", R"(rules: [rules.yaml]
tests:
  - name: t
    input:
      - lines:
          - {at: 1x, line: 'a'}
    expect:
      - at: 1s
        alerts:
          - {rule: x, state: burning}
)");
  auto r = RunCommand({EMBER_CLI_BIN, "test", test});
  INFO(r.out << r.err);
  CHECK(r.exit_code == 2);
  CHECK(r.err.find(test + ":6:18: error: 'at': '1x' has an unknown unit 'x'") != std::string::npos);
  CHECK(
      r.err.find(test + ":10:30: error: state 'burning' is not one of pending, firing, resolved") !=
      std::string::npos);
  CHECK(r.err.find(dir.Sub("rules.yaml") + ":3:12: error: invalid pattern: missing ): a(") !=
        std::string::npos);
  CHECK(r.out.find("1 test file(s) unusable") != std::string::npos);
}

TEST_CASE("ember test: a real log replayed line by line fires for the addresses grep counts",
          "[cli][ember_test][integration]") {
  // 2,000 real sshd lines 10 ms apart: the first 500 are in the 1-minute window at 5 s. The
  // addresses with 5 or more failures there, counted by grep, must be exactly the firing keys.
  const std::string log = std::string(EMBER_SOURCE_DIR) + "/tests/data/loghub/OpenSSH_2k.log";
  auto grep =
      RunCommand({"/bin/sh", "-c",
                  "head -n 500 '" + log +
                      "' | grep -oE 'sshd\\[[0-9]+\\]: Failed password for (invalid user )?[^ ]+ "
                      "from [0-9.]+' "
                      "| awk '{print $NF}' | sort | uniq -c | awk '$1 >= 5 {print $1, $2}'"});
  REQUIRE(grep.exit_code == 0);
  std::istringstream lines(grep.out);
  std::string expected;
  int n = 0;
  for (std::string count, ip; lines >> count >> ip; ++n) {
    expected += "          - {rule: ssh-bruteforce, key: {ip: " + ip + "}, count: " + count + "}\n";
  }
  REQUIRE(n >= 2);
  TempDir dir;
  const std::string test =
      dir.Write("loghub.test.yaml", "rules: [" + std::string(EMBER_SOURCE_DIR) +
                                        "/rules/examples/ssh.yaml]\n"
                                        "tests:\n"
                                        "  - name: loghub sshd\n"
                                        "    input:\n"
                                        "      - host: LabSZ\n"
                                        "        lines_from: " +
                                        log +
                                        "\n"
                                        "        every: 10ms\n"
                                        "    expect:\n"
                                        "      - at: 5s\n"
                                        "        rule: ssh-bruteforce\n"
                                        "        alerts:\n" +
                                        expected);
  auto r = RunCommand({EMBER_CLI_BIN, "test", test});
  INFO(r.out << r.err);
  CHECK(r.exit_code == 0);
  CHECK(r.out.find("1 passed, 0 failed") != std::string::npos);
}
