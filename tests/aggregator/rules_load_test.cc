#include <chrono>
#include <thread>

#include <catch2/catch.hpp>

#include "aggregator/rules_reloader.h"
#include "tests/support/temp_dir.h"

using namespace ember;
using namespace ember::aggregator;

namespace {

// Polls (bounded: 30 s) until the load is done.
std::optional<BackgroundRulesLoad::Loaded> Wait(BackgroundRulesLoad& load) {
  for (int i = 0; i < 3000; ++i) {
    if (auto done = load.TakeIfDone()) return done;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return std::nullopt;
}

}  // namespace

TEST_CASE("BackgroundRulesLoad: compiles on its own thread and hands the rules over once",
          "[aggregator][rules][threads][unit]") {
  test::TempDir dir;
  dir.Write("rules/a.yaml",
            "rules:\n  - name: a\n    match: 'fail (?P<ip>\\S+)'\n    by: [ip]\n    window: 1m\n");
  AggregatorConfig config;
  config.rules_dir = dir.Sub("rules");
  BackgroundRulesLoad load;
  CHECK_FALSE(load.TakeIfDone().has_value());  // nothing started
  load.Start(config);
  CHECK(load.running());
  auto first = Wait(load);
  REQUIRE(first.has_value());
  REQUIRE(first->ok());
  CHECK((**first)->rules().size() == 1);
  CHECK_FALSE(load.running());
  CHECK_FALSE(load.TakeIfDone().has_value());  // handed over once

  // A change while a load runs: that load's result is dropped and the directory read again,
  // so what is installed is the directory as it is now.
  load.Start(config);
  dir.Write("rules/b.yaml", "rules:\n  - name: b\n    match: 'oops'\n    window: 1m\n");
  load.Start(config);
  auto second = Wait(load);
  REQUIRE(second.has_value());
  REQUIRE(second->ok());
  CHECK((**second)->rules().size() == 2);

  // A broken file is an error value, not an exception across the thread.
  dir.Write("rules/c.yaml", "rules: [\n");
  load.Start(config);
  auto third = Wait(load);
  REQUIRE(third.has_value());
  CHECK_FALSE(third->ok());
}
