// AlertLifecycle: the state machine of one key of one rule (the updateStateByKey of the
// design), pure and separate from the windows that feed it. At each window end it is told
// whether the rule's condition holds for the key (`fire`) and whether its resolve condition
// does (`resolve`), and answers with the event to announce, if any:
//   idle ──fire──► pending ──fire for `for`──► firing ──resolve for `keep_firing_for`──► idle
//   (idle ──fire──► firing at once when `for` is 0). While firing, `repeat` announces the
//   episode again every `repeat`. Flap damping: an episode that starts as the
//   `flap_starts`-th within `flap_within` is flapping, and resolves only after its resolve
//   condition held for max(keep_firing_for, flap_within). An absence key forgotten after
//   `forget_after` of silence resolves at once.
// Durations are in batches (window ends are batch indices). Thread-compatible; no I/O.
#pragma once

#include <cstdint>

#include "engine/key_state.h"

namespace ember::engine {

struct LifecycleSettings {
  int64_t for_batches = 0;
  int64_t keep_batches = 0;
  int64_t repeat_batches = 0;
  int64_t flap_starts = 0;  // 0: no flap damping
  int64_t flap_within_batches = 0;
};

enum class LifecycleEvent : uint8_t {
  kNone,
  kPending,   // the condition started holding; waiting for `for`
  kStarted,   // a new episode fires: the caller gives it an alert id (state.alert_id)
  kRepeated,  // a firing episode announced again (`repeat`)
  kResolved,  // the episode ended
};

// Moves `state` through the lifecycle at window end `end`. `forgotten`: the key's memory
// ran out while firing (an absence key silent past `forget_after`), which resolves it at once.
LifecycleEvent StepLifecycle(const LifecycleSettings& settings, KeyState& state, bool fire,
                             bool resolve, bool forgotten, int64_t end);

}  // namespace ember::engine
