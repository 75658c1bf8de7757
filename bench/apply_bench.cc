// Apply benchmark: the engine's stage after matching alone — routing each match to its
// partition, applying it to the windows, closing the batches — on 1, 2, ... threads, to
// measure how it scales with cores. The file is read into memory and stamped once; each
// chunk of lines is matched (not timed) and its matches applied (timed), then every batch is
// closed (Engine::Finish, timed). After one untimed round the thread counts take turns, run by
// run. Prints a table (median of --runs, min, max) and JSON.
//
//   ember-apply-bench --rules rules.yaml --runs 5 --threads 1,2 [--spin-us 0] FILE
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include "engine/engine.h"
#include "engine/event_time.h"
#include "engine/parallel_matcher.h"
#include "rules/rule_set.h"

namespace {

using namespace ember;
using Clock = std::chrono::steady_clock;

double Seconds(Clock::time_point since) {
  return std::chrono::duration<double>(Clock::now() - since).count();
}

struct Run {
  double apply_s = 0, route_s = 0, close_s = 0;
  uint64_t matches = 0, alerts = 0;
};

Run Once(const std::shared_ptr<const rules::RuleSet>& rules,
         const std::vector<engine::InputLine>& lines, unsigned threads, uint32_t partitions,
         size_t min_parallel, std::chrono::microseconds spin) {
  engine::EngineOptions options;
  options.partitions = partitions;
  options.min_parallel_matches = min_parallel;
  engine::Engine engine(rules, options);
  engine::ParallelMatcher matcher(threads, spin);
  if (threads > 1) engine.SetRunner(&matcher);
  constexpr size_t kChunk = 16384;  // as ember replay's
  Run r;
  for (size_t at = 0; at < lines.size(); at += kChunk) {
    const auto chunk = std::span(lines).subspan(at, std::min(kChunk, lines.size() - at));
    matcher.Match(*rules, chunk);
    const auto start = Clock::now();
    engine.RouteLines(chunk, matcher, 0);
    r.route_s += Seconds(start);
    engine.ApplyRouted();
    r.apply_s += Seconds(start);
  }
  std::vector<engine::Alert> alerts;
  const auto start = Clock::now();
  engine.Finish(&alerts);
  r.close_s = Seconds(start);
  r.matches = engine.stats().matches;
  r.alerts = alerts.size();
  return r;
}

// The seconds of each timed run of one thread count.
struct Times {
  std::vector<double> apply, route, close;
};

double Median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app("The engine's apply stage alone, on 1..N threads");
  std::string rules_path, file, json_path;
  int runs = 5;
  std::vector<unsigned> thread_counts{1, 2};
  uint32_t partitions = engine::kDefaultPartitions;
  size_t min_parallel = engine::EngineOptions{}.min_parallel_matches;
  int64_t spin_us = engine::ParallelMatcher::kDefaultSpin.count();
  app.add_option("--rules", rules_path)->required();
  app.add_option("--runs", runs)->check(CLI::PositiveNumber);
  app.add_option("--threads", thread_counts)->delimiter(',');
  app.add_option("--partitions", partitions);
  app.add_option("--min-parallel-matches", min_parallel);
  app.add_option("--spin-us", spin_us, "How long idle workers poll before they sleep");
  app.add_option("--json", json_path);
  app.add_option("file", file)->required();
  CLI11_PARSE(app, argc, argv);

  rules::RuleSetOptions ro;
  rules::Diagnostics diagnostics;
  auto rules = rules::RuleSet::Load(rules_path, ro, &diagnostics);
  if (!rules.ok()) {
    std::fprintf(stderr, "%s\n", rules.status().message().c_str());
    return 1;
  }
  std::ifstream in(file, std::ios::binary);
  const std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  std::vector<engine::InputLine> lines;
  engine::EventTimeParser parser(2023);
  int64_t last = 0;
  for (size_t start = 0; start < text.size();) {
    size_t end = text.find('\n', start);
    if (end == std::string::npos) end = text.size();
    const std::string_view line(text.data() + start, end - start);
    if (auto t = parser.Parse(line)) last = *t;
    lines.push_back(engine::InputLine{line, "bench", file, last, ""});
    start = end + 1;
  }

  nlohmann::json out = nlohmann::json::array();
  std::printf("\nember apply stage: %zu lines, %zu rules, %u partitions, median of %d runs\n\n",
              lines.size(), (*rules)->rules().size(), partitions, runs);
  std::printf(
      "| threads | apply s | min s | max s | of which routing s | close s | matches/s | vs 1 "
      "thread |\n");
  std::printf(
      "|---------|---------|-------|-------|--------------------|---------|-----------|---------"
      "----|\n");
  // One untimed round first, then the thread counts take turns round by round: each count
  // starts from memory the allocator has handed out before (a worker thread's first run
  // otherwise pays the page faults of a fresh malloc arena that the caller's runs do not),
  // and a noisy spell of the host falls on every count alike.
  std::vector<Times> times(thread_counts.size());
  uint64_t matches = 0, alerts = 0;
  for (int round = 0; round <= runs; ++round) {
    for (size_t c = 0; c < thread_counts.size(); ++c) {
      const Run r = Once(*rules, lines, thread_counts[c], partitions, min_parallel,
                         std::chrono::microseconds(spin_us));
      if (matches == 0) {
        matches = r.matches;
        alerts = r.alerts;
      } else if (r.matches != matches || r.alerts != alerts) {
        std::fprintf(
            stderr, "threads %u: %llu matches, %llu alerts, not %llu, %llu\n", thread_counts[c],
            static_cast<unsigned long long>(r.matches), static_cast<unsigned long long>(r.alerts),
            static_cast<unsigned long long>(matches), static_cast<unsigned long long>(alerts));
        return 1;
      }
      if (round == 0) continue;  // the warm-up
      times[c].apply.push_back(r.apply_s);
      times[c].route.push_back(r.route_s);
      times[c].close.push_back(r.close_s);
    }
  }
  double base = 0;
  for (size_t c = 0; c < thread_counts.size(); ++c) {
    Times& t = times[c];
    std::sort(t.apply.begin(), t.apply.end());  // for the min and the max too
    const double median = t.apply[t.apply.size() / 2], route = Median(t.route),
                 close = Median(t.close);
    if (base == 0) base = median;
    std::printf("| %7u | %7.3f | %5.3f | %5.3f | %18.3f | %7.3f | %9.0f | %10.2fx |\n",
                thread_counts[c], median, t.apply.front(), t.apply.back(), route, close,
                static_cast<double>(matches) / median, base / median);
    out.push_back({{"threads", thread_counts[c]},
                   {"apply_s", median},
                   {"min_s", t.apply.front()},
                   {"max_s", t.apply.back()},
                   {"route_s", route},
                   {"close_s", close},
                   {"matches", matches},
                   {"speedup", base / median}});
  }
  if (!json_path.empty()) std::ofstream(json_path) << out.dump(2) << "\n";
  return 0;
}
