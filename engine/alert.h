// Alert: one alert event (a key starts firing or resolves) as the engine raises it and every
// output prints it. A value type; safe to copy between threads.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "common/status.h"
#include "rules/rule.h"

namespace ember::engine {

// Pending: the condition holds but `for` has not passed (only `ember test` and replay with
// pending events asked for see these; outputs get firing and resolved).
enum class AlertState { kFiring, kResolved, kPending };
const char* AlertStateName(AlertState s);

// One of the first matches behind an alert: the line, where it came from, and its batch.
struct Evidence {
  std::string line;  // bounded by kMaxSampleBytes
  std::string host;
  std::string file;
  uint64_t offset_start = 0;  // byte range in `file` holding the line (an agent's frame)
  uint64_t offset_end = 0;
  int64_t batch_start_ms = 0;
  // The agent that sent it: its CURVE key's name when agents are authenticated (so a host
  // name it claimed is never the only name on record), else the name it gave; "" if unknown.
  std::string agent;
  bool operator==(const Evidence&) const = default;
};
inline constexpr size_t kMaxEvidence = 3;

struct Alert {
  // Stable for the whole episode (rule, key, first firing window end): a re-delivery or the
  // resolve event of the same episode carries the same id.
  std::string id;
  std::string rule;
  std::string rule_digest;
  AlertState state = AlertState::kFiring;
  rules::Severity severity = rules::Severity::kWarning;
  std::vector<std::pair<std::string, std::string>> fields;  // key fields, in `by` order
  uint64_t count = 0;                                       // matches in the window
  int64_t window_start_ms = 0;                              // window covers [start, end)
  int64_t window_end_ms = 0;
  std::string message;  // rendered template
  std::string sample;   // first matching line in the window (bounded)
  // Firing events: the first match of each of the window's first slides (up to kMaxEvidence).
  std::vector<Evidence> evidence;
  std::map<std::string, std::string> labels;  // the rule's labels
  bool repeat = false;  // a firing episode announced again (the rule's `repeat`)
  // Raised after its window's time, by lines that came late: a point event for that window
  // (no resolve follows).
  bool late = false;
};

// One JSON object on one line, fields named as in Alert (times as ISO-8601 UTC and Unix ms).
std::string AlertToJson(const Alert& alert);
// Reads back what AlertToJson wrote. InvalidArgument for anything else.
Result<Alert> AlertFromJson(std::string_view json);

// "2026-11-22T18:38:53.000Z"
std::string FormatIsoMs(int64_t unix_ms);

}  // namespace ember::engine
