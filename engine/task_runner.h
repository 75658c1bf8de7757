// TaskRunner: what the engine is handed to run independent pieces of work (one per
// partition) at once. The engine knows nothing of threads: without a runner it runs the
// tasks one after the other, with the same result. Implementations decide where tasks run
// (engine/parallel_matcher.h runs them on its worker threads).
#pragma once

#include <cstddef>
#include <functional>

namespace ember::engine {

class TaskRunner {
 public:
  virtual ~TaskRunner() = default;
  // Calls task(i) once for every i in [0, n), in any order and possibly at once on several
  // threads, and returns when all have returned. Tasks must not share mutable state.
  virtual void Run(size_t n, const std::function<void(size_t)>& task) = 0;
  // How many tasks Run would run at once now: 1 while its threads are busy with other work
  // (the tasks would then run on the caller), so splitting work finer gains nothing.
  virtual size_t width() const = 0;
};

}  // namespace ember::engine
