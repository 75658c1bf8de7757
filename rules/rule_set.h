// RuleSet: every rule from a rules directory, compiled, and matched against a line in one
// pass (an RE2::Set picks the rules whose pattern matches; only those run their own RE2 to
// extract key fields). Immutable after Load; safe to share between threads. Match() needs a
// per-thread MatchScratch.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"
#include "rules/rule.h"

namespace ember::rules {

struct RuleSetOptions {
  // Every rule's `every` must be a multiple of this, and its window a multiple of `every`.
  int64_t batch_interval_ms = 1000;
};

// One problem found while loading, already formatted "file:line:col: error: message".
using Diagnostics = std::vector<std::string>;

// Reusable buffers for Match(); one per thread. Opaque so RE2 stays out of this header.
class MatchScratch {
 public:
  MatchScratch();
  ~MatchScratch();
  struct Impl;
  Impl& impl() { return *impl_; }

 private:
  std::unique_ptr<Impl> impl_;
};

// One rule's match of one line. Views are valid only during OnMatch.
struct RuleMatch {
  std::string_view key;    // the rule's key fields joined by kKeySeparator
  bool total = false;      // the line matched the rule's `ratio_of` pattern, not `match`
  bool has_value = false;  // the `value` capture parsed as a number
  double value = 0;
  std::string_view distinct;  // the `distinct` capture ("" if none)
  std::string_view time;      // the `timestamp` capture ("" if the rule has none)
};

// Receives the rules a line matched, in rule order (a rule's `ratio_of` after every `match`).
class MatchVisitor {
 public:
  virtual ~MatchVisitor() = default;
  virtual void OnMatch(size_t rule_index, const RuleMatch& match) = 0;
};

// Separates field values inside a key string. A unit separator cannot appear in a sane log
// field; one that does is replaced by '?' so keys always split back correctly.
inline constexpr char kKeySeparator = '\x1f';

// Where a line comes from: the built-in key fields. Views live for the Match call only.
struct LineSource {
  std::string_view host;
  std::string_view file;
  std::string_view tag;  // the agent input's tag; "" when untagged
};

// Splits a key string back into its field values.
std::vector<std::string> SplitKey(std::string_view key);

class RuleSet {
 public:
  // Loads every *.yaml / *.yml file directly in `path` (sorted by name), or the single file
  // `path`. Every problem is appended to *diagnostics; the result fails if there was any.
  static Result<std::shared_ptr<const RuleSet>> Load(const std::string& path,
                                                     const RuleSetOptions& options,
                                                     Diagnostics* diagnostics);
  // Builds a set from rules already parsed (tests, `ember test`). REQUIRES: each rule's
  // regex is compiled and by_groups filled (as ParseRulesFile does). `prefilter: false`
  // sends every line to the RE2::Set (tests compare the two).
  static Result<std::shared_ptr<const RuleSet>> FromRules(std::vector<Rule> rules,
                                                          bool prefilter = true);

  ~RuleSet();
  const std::vector<Rule>& rules() const { return rules_; }
  // Whether lines are screened by the rules' required literals before RE2 runs.
  bool prefiltered() const;
  // Index of the rule named `name`, or -1.
  int Find(std::string_view name) const;

  // Screens many lines at once (views into one buffer, in order, as in an agent's frame):
  // (*may_match)[i] false means no rule can match line i, so Match need not see it. All
  // true when the rules have no prefilter or the lines are not laid out in one buffer.
  void Screen(const std::vector<std::string_view>& lines, std::vector<uint8_t>* may_match) const;

  // Reports each rule `line` matches; `source` feeds the built-in key fields.
  void Match(std::string_view line, const LineSource& source, MatchScratch& scratch,
             MatchVisitor& visitor) const;

 private:
  struct Impl;
  RuleSet() = default;
  std::vector<Rule> rules_;
  std::unique_ptr<Impl> impl_;
};

// Parses and compiles the rules of one YAML file; problems go to *diagnostics.
std::vector<Rule> ParseRulesFile(const std::string& path, const RuleSetOptions& options,
                                 Diagnostics* diagnostics);

}  // namespace ember::rules
