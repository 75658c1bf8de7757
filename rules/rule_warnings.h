// RuleWarnings: what `ember check` warns about in rules that load fine but will cost or
// disappoint: a pattern with no literal every match must contain (every line runs its full
// regex, and it defeats the literal prefilter for all rules), and a rule that can never
// fire (an `unless` pattern that matches every line, or the rule's own pattern). Each
// warning reads "file:line:col: warning: …". Pure.
#pragma once

#include <vector>

#include "rules/rule.h"
#include "rules/rule_set.h"

namespace ember::rules {

Diagnostics RuleWarnings(const std::vector<Rule>& rules);

}  // namespace ember::rules
