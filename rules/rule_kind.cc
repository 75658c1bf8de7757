#include "rules/rule_kind.h"

#include <array>

namespace ember::rules {
namespace {

constexpr std::array<RuleKindTraits, 4> kKinds = {{
    {RuleKind::kThreshold, "threshold", true, false, false, "its condition on the window",
     "{{count}} matches of {rule} in {{window}}"},
    {RuleKind::kAbsence, "absence", false, true, false, "a key's silence for a window",
     "no match of {rule} for {{window}}"},
    {RuleKind::kNewKey, "new_key", false, true, true, "a key's first appearance",
     "new key for {rule}"},
    {RuleKind::kTopK, "top_k", true, false, false, "a key among the top counts",
     "{{count}} matches of {rule} in {{window}}"},
}};

}  // namespace

const RuleKindTraits& TraitsOf(RuleKind kind) { return kKinds[static_cast<size_t>(kind)]; }

const RuleKindTraits* FindRuleKind(std::string_view name) {
  for (const auto& k : kKinds) {
    if (name == k.name) return &k;
  }
  return nullptr;
}

std::string RuleKindNames() {
  std::string out;
  for (size_t i = 0; i < kKinds.size(); ++i) {
    out += i == 0 ? "" : (i + 1 == kKinds.size() ? " or " : ", ");
    out += kKinds[i].name;
  }
  return out;
}

const char* RuleKindName(RuleKind k) { return TraitsOf(k).name; }

}  // namespace ember::rules
