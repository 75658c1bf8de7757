// Rule: one compiled alert rule as loaded from a rules file. Immutable after loading; safe
// to share between threads. Rules hold no mutable state: per-key window and alert state
// lives in the engine's RuleWindow.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "common/time_zone.h"
#include "rules/message_template.h"

namespace re2 {
class RE2;
}

namespace ember::rules {

enum class CompareOp { kGreaterEqual, kGreater, kEqual, kLess, kLessEqual, kNotEqual };

// What a condition compares. Every aggregate is over the key's matches in the window.
enum class Aggregate {
  kCount,     // matching lines
  kRate,      // count per second of window
  kSum,       // of the numeric capture `value`
  kMin,       //   "
  kMax,       //   "
  kAvg,       //   " (over the lines whose capture is a number)
  kDistinct,  // distinct values of the capture `distinct`
  kRatio,     // count / total, where total counts the lines matching `ratio_of`
  kTotal,     // lines matching `ratio_of`
};
const char* AggregateName(Aggregate a);

// One key's aggregates in one window.
struct WindowValues {
  uint64_t count = 0;
  uint64_t total = 0;
  uint64_t numeric = 0;  // lines whose `value` capture parsed as a number
  double sum = 0, min = 0, max = 0;
  uint64_t distinct = 0;
  double window_seconds = 1;
  double Get(Aggregate a) const;
};

struct Comparison {
  Aggregate aggregate = Aggregate::kCount;
  CompareOp op = CompareOp::kGreaterEqual;
  double threshold = 1;
  bool Holds(const WindowValues& v) const;
};

// Comparisons joined by `and`, e.g. "ratio > 0.05 and total >= 100". Empty: never holds.
struct Condition {
  std::vector<Comparison> all;
  bool Holds(const WindowValues& v) const;
  // Shorthand for a count-only condition (tests).
  bool Holds(uint64_t count) const;
  bool Uses(Aggregate a) const;
  std::string ToString() const;
};

// Syslog severities, most severe last; the terminal and journald use them.
enum class Severity { kDebug, kInfo, kNotice, kWarning, kError, kCritical };
const char* SeverityName(Severity s);

// What makes a key fire.
enum class RuleKind {
  kThreshold,  // `when` holds on the key's window (the default)
  kAbsence,    // a key seen before has had no match for a whole `window`
  kNewKey,     // a key not seen within `forget_after` matches (fires once per newcomer)
  kTopK,       // a key is among the `top` highest counts of the window (and `when` holds)
};
const char* RuleKindName(RuleKind k);

// Built-in key fields every rule may group by.
inline constexpr const char* kFieldHost = "host";
inline constexpr const char* kFieldFile = "file";
inline constexpr const char* kFieldTag = "tag";
// ... and those of journal entries ("" for lines of files).
inline constexpr const char* kFieldUnit = "unit";
inline constexpr const char* kFieldIdentifier = "identifier";
inline constexpr const char* kFieldPriority = "priority";
inline constexpr const char* kFieldPid = "pid";

struct Rule {
  std::string name;
  std::string source;               // "file:line" where the rule is defined
  std::string pattern;              // RE2 syntax
  std::vector<std::string> unless;  // RE2 patterns: a line matching any of them is not counted
  std::string unless_source;        // "file:line:col" of `unless`
  // Scope: globs (fnmatch(3), `*` also crosses '/') the line's host, file and tag must match;
  // empty = any.
  std::vector<std::string> hosts, files, tags;
  // The same for lines of journal entries: unit, identifier, priority ("0".."7") and pid.
  std::vector<std::string> units, identifiers, priorities, pids;
  std::vector<std::string> by;  // key fields: named captures or host/file, in key order
  int64_t window_ms = 0;        // window length, a multiple of every_ms
  int64_t every_ms = 0;         // slide, a multiple of the batch interval
  RuleKind kind = RuleKind::kThreshold;
  Condition when;
  // Firing keys resolve when this holds (hysteresis); when empty, when `when` stops holding.
  Condition resolve_when;
  std::string value_field;     // numeric capture for sum/min/max/avg; "" if none
  std::string distinct_field;  // capture counted by `distinct`; "" if none
  std::string ratio_of;        // denominator pattern for ratio/total; "" if none
  int64_t top_k = 0;           // kTopK: how many keys make the top
  // Keys this rule holds at most; a match of a new key beyond is not counted (refused_keys).
  int64_t max_keys = 1'000'000;
  // Lifecycle, all multiples of every_ms (0 = off).
  int64_t for_ms = 0;              // pending this long before firing
  int64_t keep_firing_for_ms = 0;  // still firing this long after the resolve condition holds
  int64_t repeat_ms = 0;           // a firing key is announced again this often
  int64_t flap_starts = 0;         // flap damping: this many episodes started ...
  int64_t flap_within_ms = 0;      // ... within this long hold resolution until quiet as long
  int64_t forget_after_ms = 0;     // kAbsence / kNewKey: a key unseen this long is forgotten
  Severity severity = Severity::kWarning;
  std::map<std::string, std::string> labels;  // copied onto every alert
  MessageTemplate message;
  std::string digest;  // 16 hex digits over the definition; changes when the rule does

  std::shared_ptr<const re2::RE2> regex;                      // compiled `pattern`
  std::shared_ptr<const re2::RE2> ratio_regex;                // compiled `ratio_of`, or null
  std::vector<std::shared_ptr<const re2::RE2>> unless_regex;  // compiled `unless`
  // For each entry of `by`: the capture group index (1-based), or -1 for host, -2 for file,
  // -3 for tag, -4 unit, -5 identifier, -6 priority, -7 pid. ratio_by_groups: the same for
  // `ratio_of`.
  std::vector<int> by_groups, ratio_by_groups;
  // Event time from the line itself (`timestamp`): the capture holding it, its format ("auto"
  // or a strptime(3) pattern) and the zone it is written in.
  std::string time_field;
  int time_group = 0;
  std::string time_format = "auto";
  std::shared_ptr<const TimeZone> time_zone;  // null: UTC
  int value_group = 0;                        // capture group of value_field, 0 if none
  int distinct_group = 0;                     // capture group of distinct_field, 0 if none

  // Whether evaluating this rule needs min/max/distinct, which are recomputed from the
  // window's batches (they have no inverse).
  bool NeedsRescan() const;
};

}  // namespace ember::rules
