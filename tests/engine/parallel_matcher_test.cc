// Matching on worker threads and applying the recorded matches in line order must give
// exactly what matching line by line gives: the same alerts, in the same order, and the same
// counters — for every kind of rule the examples ship, over every real Loghub line.
#include "engine/parallel_matcher.h"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include <catch2/catch.hpp>

using namespace ember;
using namespace ember::engine;

namespace {

// Every Loghub line, 5 ms apart, from four hosts; the lines view `texts`.
struct LoghubInput {
  std::vector<std::string> texts;
  std::vector<InputLine> lines;
};

std::unique_ptr<LoghubInput> ReadLoghub() {
  auto input = std::make_unique<LoghubInput>();
  for (const auto& entry :
       std::filesystem::directory_iterator(EMBER_SOURCE_DIR "/tests/data/loghub")) {
    if (entry.path().extension() != ".log") continue;
    std::ifstream in(entry.path());
    for (std::string line; std::getline(in, line);) input->texts.push_back(line);
  }
  static constexpr std::string_view hosts[] = {"web1", "web2", "db1", "LabSZ"};
  for (size_t i = 0; i < input->texts.size(); ++i) {
    input->lines.push_back(InputLine{input->texts[i], hosts[i % std::size(hosts)], "/var/log/x.log",
                                     1'700'000'000'000 + static_cast<int64_t>(i) * 5, ""});
  }
  return input;
}

std::shared_ptr<const rules::RuleSet> ExampleRules() {
  rules::Diagnostics d;
  auto rules = rules::RuleSet::Load(std::string(EMBER_SOURCE_DIR) + "/rules/examples",
                                    rules::RuleSetOptions{}, &d);
  REQUIRE(rules.ok());
  return *rules;
}

// What a run gave: its alerts, then its line and match counters.
std::vector<std::string> Outcome(Engine& engine, std::vector<Alert>& alerts) {
  engine.Finish(&alerts);
  std::vector<std::string> out;
  for (const auto& a : alerts) out.push_back(AlertToJson(a));
  out.push_back("lines " + std::to_string(engine.stats().lines) + " matches " +
                std::to_string(engine.stats().matches));
  return out;
}

// The alerts (and counters) of ingesting `lines` one by one, no matcher.
std::vector<std::string> LineByLine(const std::shared_ptr<const rules::RuleSet>& rules,
                                    const std::vector<InputLine>& lines) {
  EngineOptions options;
  options.emit_pending = true;
  Engine engine(rules, options);
  std::vector<Alert> alerts;
  for (const auto& line : lines) {
    engine.Ingest(line);
    engine.AdvanceWatermark(line.time_ms - 2000, &alerts);
  }
  return Outcome(engine, alerts);
}

}  // namespace

TEST_CASE("ParallelMatcher: threads change nothing but the speed",
          "[engine][parallel][threads][unit]") {
  const std::shared_ptr<const rules::RuleSet> rules = ExampleRules();
  const std::unique_ptr<LoghubInput> input = ReadLoghub();
  const std::vector<InputLine>& lines = input->lines;
  REQUIRE(lines.size() > 30000);
  auto run = [&](unsigned threads, std::chrono::microseconds spin) {
    EngineOptions options;
    options.emit_pending = true;
    Engine engine(rules, options);
    std::vector<Alert> alerts;
    ParallelMatcher matcher(threads, spin);
    // Calls large enough for the worker threads and small ones the caller matches alone, on
    // the same matcher (its threads persist between calls).
    const size_t chunks[] = {997, 101, 1500, ParallelMatcher::kMinParallelLines - 1,
                             ParallelMatcher::kMinParallelLines};
    size_t call = 0;
    for (size_t start = 0, chunk = 0; start < lines.size(); start += chunk) {
      chunk = chunks[call++ % std::size(chunks)];
      std::span<const InputLine> part(lines.data() + start, std::min(chunk, lines.size() - start));
      matcher.Match(engine.rules(), part);
      for (size_t i = 0; i < part.size(); ++i) {
        engine.IngestMatched(part[i], matcher.MatchesOf(i));
        engine.AdvanceWatermark(part[i].time_ms - 2000, &alerts);
      }
    }
    return Outcome(engine, alerts);
  };
  const std::vector<std::string> reference = LineByLine(rules, lines);
  REQUIRE(reference.size() > 20);
  for (unsigned threads : {1u, 2u, 3u, 8u}) {
    INFO(threads << " threads");
    CHECK(run(threads, ParallelMatcher::kDefaultSpin) == reference);
  }
  // Workers that sleep at once between calls, and workers that poll for a second.
  CHECK(run(2, std::chrono::microseconds::zero()) == reference);
  CHECK(run(2, std::chrono::seconds(1)) == reference);
}

// Calls that follow each other closely find the workers polling: every task of every call
// still runs exactly once, and the pool stops cleanly while its workers poll.
TEST_CASE("ParallelMatcher: tasks handed out back to back each run once",
          "[engine][parallel][threads][unit]") {
  for (auto spin : {std::chrono::microseconds::zero(), ParallelMatcher::kDefaultSpin,
                    std::chrono::microseconds(std::chrono::seconds(1))}) {
    INFO(spin.count() << " us of polling");
    ParallelMatcher matcher(2, spin);
    bool once = true;
    for (size_t call = 0; call < 2000; ++call) {
      std::vector<std::atomic<int>> ran(2 + call % 7);
      matcher.Run(ran.size(), [&](size_t i) { ran[i].fetch_add(1); });
      for (const auto& r : ran) once = once && r.load() == 1;
    }
    CHECK(once);
  }
}

TEST_CASE("ParallelMatcher: more threads than CPUs never poll", "[engine][parallel][unit]") {
  const unsigned cpus = std::max(1u, std::thread::hardware_concurrency());
  CHECK(ParallelMatcher(cpus + 1).spin() == std::chrono::microseconds::zero());
  CHECK(ParallelMatcher(cpus).spin() == ParallelMatcher::kDefaultSpin);
  CHECK(ParallelMatcher(cpus, std::chrono::microseconds::zero()).spin() ==
        std::chrono::microseconds::zero());
}

// A caller applies one call's matches while the workers match the next: the finished call's
// matches stay as they were, and each task of a Run meanwhile runs once (taken by the caller
// or by a worker between two slices).
TEST_CASE("ParallelMatcher: a call's matches stay readable while the next call runs",
          "[engine][parallel][threads][unit]") {
  const std::shared_ptr<const rules::RuleSet> rules = ExampleRules();
  const std::unique_ptr<LoghubInput> input = ReadLoghub();
  const std::vector<InputLine>& lines = input->lines;
  const std::vector<std::string> reference = LineByLine(rules, lines);
  REQUIRE(reference.size() > 20);
  for (unsigned threads : {1u, 2u, 3u}) {
    INFO(threads << " threads");
    EngineOptions options;
    options.emit_pending = true;
    Engine engine(rules, options);
    std::vector<Alert> alerts;
    ParallelMatcher matcher(threads);
    const size_t chunk = 1500;
    std::span<const InputLine> finished;
    bool tasks_once = true;
    for (size_t start = 0; start < lines.size() || !finished.empty(); start += chunk) {
      std::span<const InputLine> next;
      if (start < lines.size()) {
        next =
            std::span<const InputLine>(lines).subspan(start, std::min(chunk, lines.size() - start));
        matcher.Start(engine.rules(), next);
      }
      for (size_t i = 0; i < finished.size(); ++i) {
        engine.IngestMatched(finished[i], matcher.MatchesOf(i));
        engine.AdvanceWatermark(finished[i].time_ms - 2000, &alerts);
      }
      if (!next.empty()) {
        std::vector<std::atomic<int>> ran(64);
        matcher.Run(ran.size(), [&](size_t i) { ran[i].fetch_add(1); });
        for (const auto& r : ran) tasks_once = tasks_once && r.load() == 1;
        matcher.Finish();
      }
      finished = next;
    }
    CHECK(tasks_once);
    CHECK(Outcome(engine, alerts) == reference);
  }
}
