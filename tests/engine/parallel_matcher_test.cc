// Matching on worker threads and applying the recorded matches in line order must give
// exactly what matching line by line gives: the same alerts, in the same order, and the same
// counters — for every kind of rule the examples ship, over every real Loghub line.
#include "engine/parallel_matcher.h"

#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include <catch2/catch.hpp>

using namespace ember;
using namespace ember::engine;

TEST_CASE("ParallelMatcher: threads change nothing but the speed",
          "[engine][parallel][threads][unit]") {
  rules::Diagnostics d;
  auto rules = rules::RuleSet::Load(std::string(EMBER_SOURCE_DIR) + "/rules/examples",
                                    rules::RuleSetOptions{}, &d);
  REQUIRE(rules.ok());
  // Every Loghub line, 5 ms apart, from four hosts.
  std::vector<std::string> texts;
  for (const auto& entry :
       std::filesystem::directory_iterator(EMBER_SOURCE_DIR "/tests/data/loghub")) {
    if (entry.path().extension() != ".log") continue;
    std::ifstream in(entry.path());
    for (std::string line; std::getline(in, line);) texts.push_back(line);
  }
  REQUIRE(texts.size() > 30000);
  const std::vector<std::string> hosts = {"web1", "web2", "db1", "LabSZ"};
  std::vector<InputLine> lines;
  for (size_t i = 0; i < texts.size(); ++i) {
    lines.push_back(InputLine{texts[i], hosts[i % hosts.size()], "/var/log/x.log",
                              1'700'000'000'000 + static_cast<int64_t>(i) * 5, ""});
  }
  auto run = [&](unsigned threads) {
    EngineOptions options;
    options.emit_pending = true;
    Engine engine(*rules, options);
    std::vector<Alert> alerts;
    ParallelMatcher matcher(threads);
    // Calls large enough for the worker threads and small ones the caller matches alone, on
    // the same matcher (its threads persist between calls).
    const size_t chunks[] = {997, 101, 1500, ParallelMatcher::kMinParallelLines - 1,
                             ParallelMatcher::kMinParallelLines};
    size_t call = 0;
    for (size_t start = 0, chunk = 0; start < lines.size(); start += chunk) {
      chunk = chunks[call++ % std::size(chunks)];
      std::span<const InputLine> part(lines.data() + start, std::min(chunk, lines.size() - start));
      if (threads == 0) {
        for (const auto& line : part) {
          engine.Ingest(line);
          engine.AdvanceWatermark(line.time_ms - 2000, &alerts);
        }
        continue;
      }
      matcher.Match(engine.rules(), part);
      for (size_t i = 0; i < part.size(); ++i) {
        engine.IngestMatched(part[i], matcher.MatchesOf(i));
        engine.AdvanceWatermark(part[i].time_ms - 2000, &alerts);
      }
    }
    engine.Finish(&alerts);
    std::vector<std::string> out;
    for (const auto& a : alerts) out.push_back(AlertToJson(a));
    out.push_back("lines " + std::to_string(engine.stats().lines) + " matches " +
                  std::to_string(engine.stats().matches));
    return out;
  };
  const std::vector<std::string> reference = run(0);  // line by line, no matcher
  REQUIRE(reference.size() > 20);
  for (unsigned threads : {1u, 2u, 3u, 8u}) {
    INFO(threads << " threads");
    CHECK(run(threads) == reference);
  }
}
