// ParseRulesFile: YAML rules file -> compiled Rules, with every problem located at
// file:line:col.
#include <algorithm>
#include <cstdio>
#include <map>
#include <set>

#include <re2/re2.h>

#include "common/hash.h"
#include "common/units.h"
#include "common/yaml_util.h"
#include "rules/rule_set.h"

namespace ember::rules {
namespace {

const std::set<std::string> kTemplateBuiltins = {"count",    "window",       "rule",
                                                 "severity", "window_start", "window_end"};

Result<Condition> ParseCondition(const std::string& text) {
  // Grammar: "count" OP INTEGER, with OP one of >=, >, ==.
  char field[16] = {0}, op[4] = {0};
  long long threshold = 0;
  int consumed = 0;
  if (std::sscanf(text.c_str(), " %15[a-z_] %3[<>=!] %lld %n", field, op, &threshold, &consumed) !=
          3 ||
      static_cast<size_t>(consumed) != text.size()) {
    return Status::InvalidArgument("cannot read condition '" + text +
                                   "': expected e.g. 'count >= 5'");
  }
  if (std::string(field) != "count") {
    return Status::InvalidArgument("unknown aggregate '" + std::string(field) +
                                   "' in condition: only 'count' is supported so far");
  }
  Condition c;
  c.threshold = threshold;
  std::string o = op;
  if (o == ">=") {
    c.op = CompareOp::kGreaterEqual;
  } else if (o == ">") {
    c.op = CompareOp::kGreater;
  } else if (o == "==") {
    c.op = CompareOp::kEqual;
  } else if (o == "<") {
    c.op = CompareOp::kLess;
  } else if (o == "<=") {
    c.op = CompareOp::kLessEqual;
  } else if (o == "!=") {
    c.op = CompareOp::kNotEqual;
  } else {
    return Status::InvalidArgument("operator '" + o +
                                   "' is not supported: use >=, >, ==, <, <= or !=");
  }
  // Only keys with a match in the window are evaluated: a condition no count of 1 or more
  // can satisfy would never fire.
  const bool can_hold = c.op == CompareOp::kGreaterEqual || c.op == CompareOp::kGreater ||
                                c.op == CompareOp::kNotEqual
                            ? true
                        : c.op == CompareOp::kEqual ? c.threshold >= 1
                        : c.op == CompareOp::kLess  ? c.threshold > 1
                                                    : c.threshold >= 1;
  if (!can_hold || c.threshold < 0) {
    return Status::InvalidArgument(
        "'" + text +
        "' can never hold: a window with no match has no key to alert on (a "
        "silent key needs an absence rule)");
  }
  return c;
}

Result<Severity> ParseSeverity(const std::string& text) {
  static const std::map<std::string, Severity> kByName = {
      {"debug", Severity::kDebug},   {"info", Severity::kInfo},
      {"notice", Severity::kNotice}, {"warning", Severity::kWarning},
      {"error", Severity::kError},   {"critical", Severity::kCritical}};
  auto it = kByName.find(text);
  if (it != kByName.end()) return it->second;
  return Status::InvalidArgument("unknown severity '" + text +
                                 "': use debug, info, notice, warning, error or critical");
}

// Parses one rule mapping. Returns false (with diagnostics) if it is unusable.
bool ParseRule(const YAML::Node& node, const std::string& path, const RuleSetOptions& options,
               Rule* rule, Diagnostics* diagnostics) {
  const size_t errors_before = diagnostics->size();
  auto report = [&](const Status& s) {
    if (!s.ok()) diagnostics->push_back(s.message());
  };
  YamlMap map(node, path);
  if (Status s = map.Check("a rule"); !s.ok()) {
    report(s);
    return false;
  }
  rule->source = map.Where();
  report(map.GetString("name", &rule->name, true));
  report(map.GetString("match", &rule->pattern, true));
  report(map.GetStringList("by", &rule->by));
  report(map.GetDurationMs("window", &rule->window_ms, true));
  rule->every_ms = options.batch_interval_ms;
  report(map.GetDurationMs("every", &rule->every_ms));
  std::string when = "count >= 1", severity = "warning", message;
  report(map.GetString("when", &when));
  report(map.GetString("severity", &severity));
  report(map.GetString("message", &message));
  report(map.GetStringList("unless", &rule->unless));
  if (map.Has("unless")) rule->unless_source = map.Where("unless");
  report(map.GetStringList("hosts", &rule->hosts));
  report(map.GetStringList("files", &rule->files));
  report(map.GetStringList("tags", &rule->tags));
  report(map.RejectUnknownKeys());

  auto error_at = [&](const std::string& key, const std::string& what) {
    diagnostics->push_back(map.Where(key) + ": error: " + what);
  };

  // Pattern: compile on its own to report RE2's message at the pattern's location.
  if (!rule->pattern.empty()) {
    RE2::Options re_options;
    re_options.set_log_errors(false);
    auto re = std::make_shared<RE2>(rule->pattern, re_options);
    if (!re->ok()) {
      error_at("match", "invalid pattern: " + re->error());
    } else {
      rule->regex = re;
      const auto& groups = re->NamedCapturingGroups();
      std::vector<std::string> names;
      for (const auto& [name, index] : groups) names.push_back(name);
      names.push_back(kFieldHost);
      names.push_back(kFieldFile);
      names.push_back(kFieldTag);
      for (const auto& field : rule->by) {
        auto it = groups.find(field);
        if (it != groups.end()) {
          rule->by_groups.push_back(it->second);
        } else if (field == kFieldHost) {
          rule->by_groups.push_back(-1);
        } else if (field == kFieldFile) {
          rule->by_groups.push_back(-2);
        } else if (field == kFieldTag) {
          rule->by_groups.push_back(-3);
        } else {
          std::string hint = ClosestWord(field, names);
          error_at("by", "'" + field +
                             "' is neither a named capture of the pattern nor a "
                             "built-in field (host, file, tag)" +
                             (hint.empty() ? "" : "; did you mean '" + hint + "'?"));
        }
      }
    }
  }

  for (const auto& pattern : rule->unless) {
    RE2::Options re_options;
    re_options.set_log_errors(false);
    auto re = std::make_shared<RE2>(pattern, re_options);
    if (!re->ok()) {
      error_at("unless", "invalid pattern '" + pattern + "': " + re->error());
    } else {
      rule->unless_regex.push_back(re);
    }
  }

  if (rule->every_ms <= 0 || rule->every_ms % options.batch_interval_ms != 0) {
    error_at("every", "'every' (" + FormatDurationMs(rule->every_ms) +
                          ") must be a positive multiple of the batch interval (" +
                          FormatDurationMs(options.batch_interval_ms) + ")");
  } else if (rule->window_ms <= 0 || rule->window_ms % rule->every_ms != 0) {
    error_at("window", "'window' (" + FormatDurationMs(rule->window_ms) +
                           ") must be a positive multiple of 'every' (" +
                           FormatDurationMs(rule->every_ms) + ")");
  }

  Result<Condition> cond = ParseCondition(when);
  if (cond.ok()) {
    rule->when = *cond;
  } else {
    error_at("when", cond.status().message());
  }
  Result<Severity> sev = ParseSeverity(severity);
  if (sev.ok()) {
    rule->severity = *sev;
  } else {
    error_at("severity", sev.status().message());
  }
  if (message.empty()) message = "{{count}} matches of " + rule->name + " in {{window}}";
  Result<MessageTemplate> tmpl = MessageTemplate::Parse(message);
  if (!tmpl.ok()) {
    error_at("message", tmpl.status().message());
  } else {
    rule->message = *tmpl;
    for (const auto& field : rule->message.Fields()) {
      bool in_by = std::find(rule->by.begin(), rule->by.end(), field) != rule->by.end();
      if (!in_by && !kTemplateBuiltins.count(field)) {
        error_at("message", "template field '{{" + field +
                                "}}' is not a key field ('by') nor one of count, window, "
                                "window_start, window_end, rule, severity");
      }
    }
  }
  std::string definition = rule->pattern + '\0' + when + '\0' + std::to_string(rule->window_ms) +
                           '\0' + std::to_string(rule->every_ms) + '\0';
  for (const auto& f : rule->by) definition += f + ',';
  // Unless and scopes change what counts: part of the definition (digest) only when used,
  // so rules written before they existed keep their state.
  for (const auto& [name, list] :
       {std::pair{"unless", &rule->unless}, std::pair{"hosts", &rule->hosts},
        std::pair{"files", &rule->files}, std::pair{"tags", &rule->tags}}) {
    if (list->empty()) continue;
    definition += std::string("\0") + name + ':';
    for (const auto& v : *list) definition += v + '\x1e';
  }
  rule->digest = HashHex(Fnv1a64(definition));
  return diagnostics->size() == errors_before;
}

}  // namespace

std::vector<Rule> ParseRulesFile(const std::string& path, const RuleSetOptions& options,
                                 Diagnostics* diagnostics) {
  std::vector<Rule> out;
  Result<YAML::Node> doc = LoadYamlFile(path);
  if (!doc.ok()) {
    diagnostics->push_back(doc.status().message());
    return out;
  }
  if (doc->IsNull()) return out;  // an empty file holds no rules
  YamlMap top(*doc, path);
  if (Status s = top.Check("a rules file"); !s.ok()) {
    diagnostics->push_back(s.message());
    return out;
  }
  YAML::Node list = top.Get("rules");
  if (Status s = top.RejectUnknownKeys(); !s.ok()) diagnostics->push_back(s.message());
  if (!list) {
    diagnostics->push_back(top.Where() + ": error: missing top-level key 'rules'");
    return out;
  }
  if (!list.IsSequence()) {
    diagnostics->push_back(YamlWhere(path, list) + ": error: 'rules' must be a list");
    return out;
  }
  for (const auto& node : list) {
    Rule rule;
    if (ParseRule(node, path, options, &rule, diagnostics)) out.push_back(std::move(rule));
  }
  return out;
}

}  // namespace ember::rules
