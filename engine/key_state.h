// KeyState: where one key of a rule stands in the alert lifecycle, as the windows and the
// checkpoint store keep it. Plain value.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace ember::engine {

// Where a key stands in the alert lifecycle (updateStateByKey).
enum class KeyPhase : uint8_t {
  kIdle,     // not alerting; remembered for absence / new-key / flap damping
  kPending,  // the condition holds, waiting for `for`
  kFiring,
};

// One key's alert state. Batch indices are window ends; -1 means "not set".
// Late windows a key may wait on at once (KeyState::late_pending); beyond, a late window is
// evaluated at once, complete or not.
inline constexpr size_t kMaxLatePending = 4096;

struct KeyState {
  KeyPhase phase = KeyPhase::kFiring;
  std::string alert_id;         // the current or last episode's id
  int64_t first_end_batch = 0;  // window end at which the episode started firing
  int64_t active_since = -1;    // window end at which the condition started holding (pending)
  int64_t clear_since = -1;     // window end at which a firing key's resolve condition held
  int64_t last_notified = -1;   // last firing announcement (repeat)
  int64_t first_seen = -1;      // absence / new key: first and last batch with a match
  int64_t last_seen = -1;
  std::vector<int64_t> starts;  // flap damping: window ends of recent episode starts
  bool flapping = false;        // this episode started as the flap_damping.starts-th in its period
  // Windows late lines changed that are not complete yet (a stream still reading its backlog
  // may bring more lines for them): their end, and whether the key fired there before the
  // late lines. Evaluated once complete (RuleWindow::ReevaluateLate).
  std::vector<std::pair<int64_t, bool>> late_pending;
  bool operator==(const KeyState&) const = default;
};

}  // namespace ember::engine
