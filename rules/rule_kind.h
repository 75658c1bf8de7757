// What differs per rule kind, in one place: its name in rules files, whether it counts a
// window (conditions, aggregates, top), whether it remembers the keys it has seen
// (forget_after), whether it needs `by`, what it fires on and what its default message
// says. The loader checks fields and the engine evaluates windows from these.
#pragma once

#include <string>
#include <string_view>

#include "rules/rule.h"

namespace ember::rules {

struct RuleKindTraits {
  RuleKind kind;
  const char* name;      // as written in rules files (`kind:`)
  bool counts_window;    // `when`, `resolve_when`, aggregates and `top` apply
  bool remembers_keys;   // keys seen are remembered until `forget_after` (default 7 days)
  bool needs_by;         // a rule of this kind without `by` is an error
  const char* fires_on;  // for messages: "a key's silence for a window", …
  const char* message;   // the default message; "{rule}" stands for the rule's name
};

const RuleKindTraits& TraitsOf(RuleKind kind);
// The traits of the kind named `name`, or null.
const RuleKindTraits* FindRuleKind(std::string_view name);
// "threshold, absence, new_key or top_k"
std::string RuleKindNames();

}  // namespace ember::rules
