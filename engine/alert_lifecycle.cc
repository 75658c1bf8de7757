#include "engine/alert_lifecycle.h"

#include <algorithm>

namespace ember::engine {
namespace {

LifecycleEvent Start(const LifecycleSettings& settings, KeyState& s, int64_t end) {
  s.phase = KeyPhase::kFiring;
  s.first_end_batch = end;
  s.clear_since = -1;
  s.last_notified = end;
  if (settings.flap_starts > 0) s.starts.push_back(end);
  s.flapping =
      settings.flap_starts > 0 && static_cast<int64_t>(s.starts.size()) >= settings.flap_starts;
  return LifecycleEvent::kStarted;
}

}  // namespace

LifecycleEvent StepLifecycle(const LifecycleSettings& settings, KeyState& s, bool fire,
                             bool resolve, bool forgotten, int64_t end) {
  // Flap damping remembers only the episode starts within its period.
  while (!s.starts.empty() && s.starts.front() <= end - settings.flap_within_batches) {
    s.starts.erase(s.starts.begin());
  }
  switch (s.phase) {
    case KeyPhase::kIdle:
      if (!fire) return LifecycleEvent::kNone;
      if (settings.for_batches == 0) return Start(settings, s, end);
      s.phase = KeyPhase::kPending;
      s.active_since = end;
      return LifecycleEvent::kPending;
    case KeyPhase::kPending:
      if (!fire) {
        s.phase = KeyPhase::kIdle;
        s.active_since = -1;
        return LifecycleEvent::kNone;
      }
      if (end - s.active_since >= settings.for_batches) return Start(settings, s, end);
      return LifecycleEvent::kNone;
    case KeyPhase::kFiring: {
      if (!resolve && !forgotten) {
        s.clear_since = -1;
        if (settings.repeat_batches > 0 && end - s.last_notified >= settings.repeat_batches) {
          s.last_notified = end;
          return LifecycleEvent::kRepeated;
        }
        return LifecycleEvent::kNone;
      }
      if (s.clear_since < 0) s.clear_since = end;
      // A flapping episode resolves only after its resolve condition held a whole period.
      const int64_t hold = s.flapping
                               ? std::max(settings.keep_batches, settings.flap_within_batches)
                               : settings.keep_batches;
      if (!forgotten && end - s.clear_since < hold) return LifecycleEvent::kNone;
      s.phase = KeyPhase::kIdle;
      s.clear_since = -1;
      s.active_since = -1;
      s.flapping = false;
      return LifecycleEvent::kResolved;
    }
  }
  return LifecycleEvent::kNone;
}

}  // namespace ember::engine
