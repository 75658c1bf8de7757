// Fork-join benchmark: what handing tasks to the engine's worker threads costs on this
// machine. ParallelMatcher::Run gets two (or more) tasks that each spin for a given time,
// calls a given gap apart, with workers that poll for a given time between calls or sleep
// at once; the table shows the median time of the whole call against one task's, and how
// often and how soon a worker took a task. It bounds how little work is worth spreading
// (the apply stage's per-chunk tasks, docs/benchmarks.md).
//
//   ember-fork-join-bench --task-us 100,200,500,1000 --spin-us 0,100 --gap-us 20,500
//   [--caller-sleeps]
#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <thread>
#include <vector>

#include <CLI/CLI.hpp>

#include "engine/parallel_matcher.h"

namespace {

using Clock = std::chrono::steady_clock;

double Micros(Clock::duration d) { return std::chrono::duration<double, std::micro>(d).count(); }

double Percentile(std::vector<double> v, double p) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  return v[static_cast<size_t>(p * static_cast<double>(v.size() - 1))];
}

// One row: `trials` calls of `tasks` tasks of `us` each, `gap_us` apart (the caller busy, or
// asleep when `caller_sleeps`).
void Row(ember::engine::ParallelMatcher& matcher, int spin_us, int gap_us, int us, size_t tasks,
         int trials, bool caller_sleeps) {
  std::vector<double> calls, worker_starts;
  for (int t = 0; t < trials; ++t) {
    // The caller's own work between two calls, or its sleep.
    if (caller_sleeps) {
      std::this_thread::sleep_for(std::chrono::microseconds(gap_us));
    } else {
      const auto gap_end = Clock::now() + std::chrono::microseconds(gap_us);
      while (Clock::now() < gap_end) {
      }
    }
    const auto start = Clock::now();
    const std::thread::id caller = std::this_thread::get_id();
    std::atomic<bool> taken{false};
    std::atomic<int64_t> first_start_ns{-1};
    matcher.Run(tasks, [&](size_t) {
      const auto begun = Clock::now();
      if (std::this_thread::get_id() != caller && !taken.exchange(true)) {
        first_start_ns =
            std::chrono::duration_cast<std::chrono::nanoseconds>(begun - start).count();
      }
      while (Clock::now() < begun + std::chrono::microseconds(us)) {
      }
    });
    calls.push_back(Micros(Clock::now() - start));
    if (first_start_ns >= 0) worker_starts.push_back(static_cast<double>(first_start_ns) / 1000);
  }
  const double serial = static_cast<double>(us) * static_cast<double>(tasks);
  const double p50 = Percentile(calls, 0.5);
  std::printf("| %7d | %6d | %7d | %9.0f | %11.0f | %11.0f | %6.2fx | %7zu/%-3d | %16.0f |\n",
              spin_us, gap_us, us, serial, p50, Percentile(calls, 0.9), serial / p50,
              worker_starts.size(), trials, Percentile(worker_starts, 0.5));
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app("What handing tasks to the worker threads costs");
  std::vector<int> task_us{100, 200, 500, 1000};
  size_t tasks = 2;
  int trials = 200;
  unsigned threads = 2;
  app.add_option("--task-us", task_us)->delimiter(',');
  app.add_option("--tasks", tasks);
  app.add_option("--trials", trials);
  std::vector<int> spin_us{0,
                           static_cast<int>(ember::engine::ParallelMatcher::kDefaultSpin.count())};
  std::vector<int> gap_us{20, 500};
  app.add_option("--threads", threads);
  app.add_option("--spin-us", spin_us, "How long idle workers poll before they sleep")
      ->delimiter(',');
  app.add_option("--gap-us", gap_us, "Time between two calls")->delimiter(',');
  bool caller_sleeps = false;
  app.add_flag("--caller-sleeps", caller_sleeps, "The caller sleeps between calls, not works");
  CLI11_PARSE(app, argc, argv);

  std::printf(
      "\nfork-join: %zu tasks on %u threads, %d trials each, the caller %s between calls\n\n",
      tasks, threads, trials, caller_sleeps ? "asleep" : "busy");
  std::printf(
      "| spin us | gap us | task us | serial us | call p50 us | call p90 us | speedup | worker "
      "took | its start p50 us |\n");
  std::printf(
      "|---------|--------|---------|-----------|-------------|-------------|---------|-------"
      "------|------------------|\n");
  for (int spin : spin_us) {
    ember::engine::ParallelMatcher matcher(threads, std::chrono::microseconds(spin));
    for (int gap : gap_us) {
      for (int us : task_us) {
        Row(matcher, spin, gap, us, tasks, trials, caller_sleeps);
      }
    }
  }
  return 0;
}
