// Rules reloads against a running aggregator: a change in the rules directory is picked up
// without SIGHUP; unchanged rules keep their counts, changed ones start over; a broken set is
// rejected whole, the old rules stay in force and `ember status` says so until it is fixed.
#include "tests/support/cluster.h"

namespace ember::test {
namespace {

uint64_t Sum(const std::map<std::string, uint64_t>& counts) {
  uint64_t n = 0;
  for (const auto& [key, count] : counts) n += count;
  return n;
}

void Events(Cluster& c, int from, int n) {
  std::string lines;
  for (int i = from; i < from + n; ++i) lines += "event " + std::to_string(i) + "\n";
  c.dir.Append("logs/app.log", lines);
}

}  // namespace

TEST_CASE(
    "Reload: rules directory changes apply without SIGHUP and unchanged rules keep their counts",
    "[integration]") {
  Cluster c(kCountRule);
  const std::string err = c.StartAggregator();
  c.StartAgent();
  Events(c, 0, 10);
  REQUIRE(WaitUntil([&] { return Sum(CommittedCountsByKey(c, "count-all")) == 10; }, 20s));

  // A new rule in a new file: loaded, and count-all keeps its 10.
  c.dir.Write("rules/extra.yaml",
              "rules:\n  - name: odd\n    match: 'event \\d*[13579]$'\n    window: 1h\n"
              "    every: 500ms\n    when: count >= 1000000\n");
  REQUIRE(WaitUntil([&] { return ReadFile(err).find("added: odd") != std::string::npos; }, 10s));
  CHECK(ReadFile(err).find("Loaded 2 rules: kept with their state: count-all; changed (state "
                           "reset): none; added: odd; removed: none.") != std::string::npos);
  Events(c, 10, 6);
  REQUIRE(WaitUntil([&] { return Sum(CommittedCountsByKey(c, "count-all")) == 16; }, 20s));
  CHECK(WaitUntil([&] { return Sum(CommittedCountsByKey(c, "odd")) == 3; }, 10s));

  // A broken file: the whole set is refused, the old rules stay, status is DEGRADED.
  const std::string broken =
      c.dir.Write("rules/broken.yaml", "rules:\n  - name: bad\n    match: 'a(b'\n    window: 1h\n");
  REQUIRE(WaitUntil(
      [&] { return ReadFile(err).find("Kept the rules in force") != std::string::npos; }, 10s));
  CHECK(ReadFile(err).find(broken + ":3:12: error: invalid pattern") != std::string::npos);
  ProcessResult status;
  REQUIRE(WaitUntil(
      [&] {
        status = RunCommand({EMBER_CLI_BIN, "status", "--state-dir", c.dir.Sub("state")});
        return status.exit_code == 1;
      },
      10s));
  CHECK(status.out.find("last reload FAILED") != std::string::npos);
  CHECK(status.out.find("DEGRADED") != std::string::npos);
  Events(c, 16, 4);  // still counted by the rules in force
  REQUIRE(WaitUntil([&] { return Sum(CommittedCountsByKey(c, "count-all")) == 20; }, 20s));

  // Fixed (the broken file removed): healthy again. Then a changed rule starts over.
  REQUIRE(std::remove(broken.c_str()) == 0);
  REQUIRE(WaitUntil(
      [&] {
        return RunCommand({EMBER_CLI_BIN, "status", "--state-dir", c.dir.Sub("state")}).exit_code ==
               0;
      },
      15s));
  std::string rules = ReadFile(c.dir.Sub("rules/test.yaml"));
  rules.replace(rules.find("window: 1h"), 10, "window: 2h");
  c.dir.Write("rules/test.yaml", rules);
  REQUIRE(WaitUntil(
      [&] { return ReadFile(err).find("changed (state reset): count-all") != std::string::npos; },
      10s));
  Events(c, 20, 2);
  REQUIRE(WaitUntil([&] { return Sum(CommittedCountsByKey(c, "count-all")) == 2; }, 20s));
  CHECK(Sum(CommittedCountsByKey(c, "odd")) == 3 + 2 + 1);  // odd kept its state: 17, 19, 21
}

}  // namespace ember::test
