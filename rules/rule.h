// Rule: one compiled alert rule as loaded from a rules file. Immutable after loading; safe
// to share between threads. Rules hold no mutable state: per-key window state lives in the
// engine's WindowStore.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "rules/message_template.h"

namespace re2 {
class RE2;
}

namespace ember::rules {

enum class CompareOp { kGreaterEqual, kGreater, kEqual, kLess, kLessEqual, kNotEqual };

// `count <op> threshold`, e.g. "count >= 5". Only keys with at least one match in the window
// are evaluated, so `count < 3` means "one or two".
struct Condition {
  CompareOp op = CompareOp::kGreaterEqual;
  int64_t threshold = 1;
  bool Holds(uint64_t count) const;
  std::string ToString() const;
};

// Syslog severities, most severe last; the terminal and journald use them.
enum class Severity { kDebug, kInfo, kNotice, kWarning, kError, kCritical };
const char* SeverityName(Severity s);

// Built-in key fields every rule may group by.
inline constexpr const char* kFieldHost = "host";
inline constexpr const char* kFieldFile = "file";
inline constexpr const char* kFieldTag = "tag";

struct Rule {
  std::string name;
  std::string source;               // "file:line" where the rule is defined
  std::string pattern;              // RE2 syntax
  std::vector<std::string> unless;  // RE2 patterns: a line matching any of them is not counted
  std::string unless_source;        // "file:line:col" of `unless`
  // Scope: globs (fnmatch(3), `*` also crosses '/') the line's host, file and tag must match;
  // empty = any.
  std::vector<std::string> hosts, files, tags;
  std::vector<std::string> by;  // key fields: named captures or host/file, in key order
  int64_t window_ms = 0;        // window length, a multiple of every_ms
  int64_t every_ms = 0;         // slide, a multiple of the batch interval
  Condition when;
  Severity severity = Severity::kWarning;
  MessageTemplate message;
  std::string digest;  // 16 hex digits over the definition; changes when the rule does

  std::shared_ptr<const re2::RE2> regex;                      // compiled `pattern`
  std::vector<std::shared_ptr<const re2::RE2>> unless_regex;  // compiled `unless`
  // For each entry of `by`: the capture group index (1-based), or -1 for host, -2 for file,
  // -3 for tag.
  std::vector<int> by_groups;
};

}  // namespace ember::rules
