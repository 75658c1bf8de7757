// RuleSet: every rule from a rules directory, compiled, and matched against a line in one
// pass (an RE2::Set picks the rules whose pattern matches; only those run their own RE2 to
// extract key fields). Immutable after Load; safe to share between threads. Match() needs a
// per-thread MatchScratch.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "common/journal_fields.h"
#include "common/status.h"
#include "rules/rule.h"

namespace ember::rules {

struct RuleSetOptions {
  // Every rule's `every` must be a multiple of this, and its window a multiple of `every`.
  int64_t batch_interval_ms = 1000;
  // Where compiled Hyperscan screens are kept between runs (rules/screen_cache.h); "": none.
  std::string screen_cache_dir;
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
  bool key_cut = false;    // a field was longer than its share of kMaxKeyBytes: cut (KeyField)
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

// A key's fields share this many bytes (a `by` holds at most kMaxKeyFields): a key is kept in
// memory for as long as its window, and stored under its own name in the checkpoint, whose
// names LMDB caps at 511 bytes. A longer field value, which any line may carry, is cut to
// its share: its first bytes (whole UTF-8 characters), '~' and the 16 hex digits of the
// whole value's FNV-1a hash, so values that differ stay apart.
inline constexpr size_t kMaxKeyBytes = 256;
inline constexpr size_t kMaxKeyFields = 8;
// A rule's name prefixes its records in the checkpoint too.
inline constexpr size_t kMaxRuleNameBytes = 128;

// Appends `value` to `key` as one field within `limit` bytes (as above; kKeySeparator in it
// becomes '?'). Returns whether it was cut.
bool AppendKeyField(std::string& key, std::string_view value, size_t limit);

// Where a line comes from: the built-in key fields. Views live for the Match call only.
// The fields of a systemd journal entry a line came from ("" for lines of files).
using JournalFields = ember::JournalFields;

struct LineSource {
  std::string_view host;
  std::string_view file;
  std::string_view tag;  // the agent input's tag; "" when untagged
  JournalFields journal = {};
};

// One line of many to match at once, and where it comes from: lines of one source share it
// (kept by the caller for the call).
struct LineRef {
  std::string_view text;
  const LineSource* source;
};

// Receives the rules each of many lines matched: lines in order, each line's rules in rule
// order (a rule's `ratio_of` after every `match`). Views are valid only during OnMatch.
class LineMatchVisitor {
 public:
  virtual ~LineMatchVisitor() = default;
  virtual void OnMatch(size_t line, size_t rule_index, const RuleMatch& match) = 0;
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
  // How lines are screened before RE2 runs (tests compare them; the daemon uses kBest).
  enum class Screening {
    kBest,      // Hyperscan when built with it and it takes the patterns, else literals
    kLiterals,  // the rules' required literals only
    kNone,      // RE2::Set on every line
  };
  // Builds a set from rules already parsed (tests, `ember test`). REQUIRES: each rule's
  // regex is compiled and by_groups filled (as ParseRulesFile does).
  static Result<std::shared_ptr<const RuleSet>> FromRules(std::vector<Rule> rules,
                                                          Screening screening = Screening::kBest,
                                                          const std::string& screen_cache_dir = "");

  ~RuleSet();
  const std::vector<Rule>& rules() const { return rules_; }
  // Whether lines are screened before RE2 runs: by a Hyperscan pass over many lines
  // (screen_kind() "hyperscan"), or by the rules' required literals ("literals"); "none":
  // RE2::Set decides every line.
  bool prefiltered() const;
  std::string_view screen_kind() const;
  // Patterns (each `match` and `ratio_of`) in the set, and how many the Hyperscan screen
  // takes (the others run RE2 on every line); 0 without a screen.
  size_t pattern_count() const;
  size_t screened_patterns() const;
  // Of those, the patterns the screen decides alone (no key captures; Hyperscan runs them
  // exactly): RE2 confirms none of their matches on ASCII lines.
  size_t exact_patterns() const;
  // Whether the screen was loaded from the screen cache; what storing it there gave (Ok when
  // it was not tried), for the caller to report.
  bool screen_from_cache() const;
  Status screen_cache_status() const;
  // Index of the rule named `name`, or -1.
  int Find(std::string_view name) const;

  // Reports each rule `line` matches; `source` feeds the built-in key fields.
  void Match(std::string_view line, const LineSource& source, MatchScratch& scratch,
             MatchVisitor& visitor) const;
  // The same for many lines at once, with the same result as Match line by line: with a
  // Hyperscan screen, the lines are scanned together and only each line's candidate rules
  // run their RE2. `in_place`: the byte just past each line's text is readable (the lines are
  // views into a larger buffer); runs of lines laid out one after the other, each followed by
  // '\n', are then scanned where they lie instead of copied together first.
  void MatchLines(std::span<const LineRef> lines, MatchScratch& scratch, LineMatchVisitor& visitor,
                  bool in_place = false) const;

 private:
  struct Impl;
  RuleSet() = default;
  // The Set's verdict for one line (no screen, a non-ASCII line, or a failed scan).
  void MatchBySet(size_t index, const LineRef& line, MatchScratch::Impl& s,
                  LineMatchVisitor& visitor) const;
  // Reports set entry `entry` for the line if it matches there (`known`: RE2 said so already;
  // `plain`: the line is ASCII without '\n').
  void Report(size_t entry, bool known, bool plain, size_t index, const LineRef& line,
              MatchScratch::Impl& s, LineMatchVisitor& visitor) const;
  std::vector<Rule> rules_;
  std::unique_ptr<Impl> impl_;
};

// Parses and compiles the rules of one YAML file; problems go to *diagnostics.
std::vector<Rule> ParseRulesFile(const std::string& path, const RuleSetOptions& options,
                                 Diagnostics* diagnostics);

}  // namespace ember::rules
