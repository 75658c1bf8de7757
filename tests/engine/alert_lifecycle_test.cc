// The alert lifecycle alone: sequences of (fire, resolve) per window end and the events the
// documented semantics call for, written out by hand.
#include "engine/alert_lifecycle.h"

#include <string>
#include <vector>

#include <catch2/catch.hpp>

using namespace ember::engine;

namespace {

constexpr auto N = LifecycleEvent::kNone;
constexpr auto P = LifecycleEvent::kPending;
constexpr auto S = LifecycleEvent::kStarted;
constexpr auto R = LifecycleEvent::kRepeated;
constexpr auto X = LifecycleEvent::kResolved;

// Runs `fire` per window end 1, 2, …; resolve is !fire unless given.
std::vector<LifecycleEvent> Run(const LifecycleSettings& settings, const std::string& fire,
                                KeyState* state = nullptr) {
  KeyState local;
  local.phase = KeyPhase::kIdle;
  KeyState& s = state != nullptr ? *state : local;
  std::vector<LifecycleEvent> out;
  for (size_t i = 0; i < fire.size(); ++i) {
    const bool f = fire[i] == '1';
    out.push_back(StepLifecycle(settings, s, f, !f, false, static_cast<int64_t>(i + 1)));
  }
  return out;
}

}  // namespace

TEST_CASE("Lifecycle: without settings a key fires when the condition holds, resolves when not",
          "[engine][lifecycle][unit]") {
  CHECK(Run({}, "0110010") == std::vector{N, S, N, X, N, S, X});
}

TEST_CASE("Lifecycle: `for` keeps a key pending until the condition held that long",
          "[engine][lifecycle][unit]") {
  LifecycleSettings s;
  s.for_batches = 2;
  // Pending at 2, still at 3, fires at 4 (held since 2); a lapse while pending starts over.
  CHECK(Run(s, "0111101110") == std::vector{N, P, N, S, N, X, P, N, S, X});
  CHECK(Run(s, "0101") == std::vector{N, P, N, P});
}

TEST_CASE("Lifecycle: keep_firing_for holds a firing key through short lapses",
          "[engine][lifecycle][unit]") {
  LifecycleSettings s;
  s.keep_batches = 2;
  // Fires at 1; clear at 2, holds again at 3 (the clock restarts); clear 4, 5, 6: resolved at 6.
  CHECK(Run(s, "101000") == std::vector{S, N, N, N, N, X});
}

TEST_CASE("Lifecycle: repeat announces a firing episode again every period",
          "[engine][lifecycle][unit]") {
  LifecycleSettings s;
  s.repeat_batches = 2;
  KeyState state;
  state.phase = KeyPhase::kIdle;
  CHECK(Run(s, "111110", &state) == std::vector{S, N, R, N, R, X});
  CHECK(state.phase == KeyPhase::kIdle);
}

TEST_CASE("Lifecycle: a flapping episode resolves only after a whole damping period",
          "[engine][lifecycle][unit]") {
  LifecycleSettings s;
  s.flap_starts = 2;
  s.flap_within_batches = 10;
  KeyState state;
  state.phase = KeyPhase::kIdle;
  // First episode at 1, resolved at 2 (not flapping). Second starts at 3: the second within
  // 10, so flapping; it resolves only after 10 window ends of calm: clear from 4, resolved at
  // 14.
  const auto events = Run(s, "10100000000000", &state);
  CHECK(events == std::vector{S, X, S, N, N, N, N, N, N, N, N, N, N, X});
  CHECK_FALSE(state.flapping);
  // Starts older than the period are forgotten: an episode at 30 is not flapping.
  KeyState later = state;
  CHECK(StepLifecycle(s, later, true, false, false, 30) == S);
  CHECK_FALSE(later.flapping);
  CHECK(later.starts == std::vector<int64_t>{30});
}

TEST_CASE("Lifecycle: a forgotten firing key resolves at once, whatever keep_firing_for says",
          "[engine][lifecycle][unit]") {
  LifecycleSettings s;
  s.keep_batches = 100;
  KeyState state;
  state.phase = KeyPhase::kIdle;
  CHECK(StepLifecycle(s, state, true, false, false, 1) == S);
  CHECK(StepLifecycle(s, state, true, false, true, 2) == X);
  CHECK(state.phase == KeyPhase::kIdle);
}

TEST_CASE("Lifecycle: an episode keeps its start for the alert id", "[engine][lifecycle][unit]") {
  KeyState state;
  state.phase = KeyPhase::kIdle;
  CHECK(StepLifecycle({}, state, true, false, false, 7) == S);
  CHECK(state.first_end_batch == 7);
  CHECK(state.last_notified == 7);
  CHECK(StepLifecycle({}, state, true, false, false, 8) == N);
  CHECK(state.first_end_batch == 7);
}
