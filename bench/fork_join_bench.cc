// Fork-join benchmark: what handing tasks to the engine's worker threads costs on this
// machine. ParallelMatcher::Run gets two (or more) tasks that each spin for a given time;
// the table shows the median time of the whole call against one task's, and how often and
// how soon a worker took a task. It bounds how little work is worth spreading (the apply
// stage's per-chunk tasks, docs/benchmarks.md).
//
//   ember-fork-join-bench --task-us 100,200,500,1000 --tasks 2 --trials 200
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
  app.add_option("--threads", threads);
  CLI11_PARSE(app, argc, argv);

  ember::engine::ParallelMatcher matcher(threads);
  std::printf("\nfork-join: %zu tasks on %u threads, %d trials each, 0.5 ms apart\n\n", tasks,
              threads, trials);
  std::printf(
      "| task us | serial us | call p50 us | call p90 us | speedup | worker took | its start p50 "
      "us |\n");
  std::printf(
      "|---------|-----------|-------------|-------------|---------|-------------|-----------------"
      "-|\n");
  for (int us : task_us) {
    std::vector<double> calls, worker_starts;
    for (int t = 0; t < trials; ++t) {
      std::this_thread::sleep_for(std::chrono::microseconds(500));  // let the workers sleep
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
    std::printf("| %7d | %9.0f | %11.0f | %11.0f | %6.2fx | %7zu/%-3d | %16.0f |\n", us, serial,
                p50, Percentile(calls, 0.9), serial / p50, worker_starts.size(), trials,
                Percentile(worker_starts, 0.5));
  }
  return 0;
}
