#include "rules/rule_warnings.h"

#include <re2/re2.h>

#include "rules/literal_prefilter.h"

namespace ember::rules {

Diagnostics RuleWarnings(const std::vector<Rule>& rules) {
  Diagnostics out;
  for (const auto& rule : rules) {
    if (!LiteralPrefilter::HasRequiredLiteral(rule.pattern)) {
      out.push_back(rule.source + ": warning: rule '" + rule.name + "': pattern '" + rule.pattern +
                    "' has no fixed text of 3+ characters that every match contains, so every "
                    "line runs it in full and no line can be screened out early (expensive); "
                    "anchor it on a word that always appears");
    }
    if (!rule.ratio_of.empty() && !LiteralPrefilter::HasRequiredLiteral(rule.ratio_of)) {
      out.push_back(rule.source + ": warning: rule '" + rule.name + "': 'ratio_of' pattern '" +
                    rule.ratio_of +
                    "' has no fixed text of 3+ characters that every match contains, so no line "
                    "can be screened out early (expensive)");
    }
    for (size_t i = 0; i < rule.unless_regex.size(); ++i) {
      const std::string& u = rule.unless[i];
      // Matching the empty string means matching (somewhere in) every line.
      if (u == rule.pattern || RE2::PartialMatch("", *rule.unless_regex[i])) {
        out.push_back((rule.unless_source.empty() ? rule.source : rule.unless_source) +
                      ": warning: rule '" + rule.name + "' can never fire: its 'unless' pattern '" +
                      u + "' matches every line its 'match' does");
      }
    }
  }
  return out;
}

}  // namespace ember::rules
