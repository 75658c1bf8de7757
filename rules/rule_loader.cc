// ParseRulesFile: YAML rules file -> compiled Rules, with every problem located at
// file:line:col.
#include <algorithm>
#include <cctype>
#include <cstdio>
#include <map>
#include <set>
#include <tuple>

#include <re2/re2.h>

#include "common/hash.h"
#include "common/units.h"
#include "common/yaml_util.h"
#include "rules/rule_set.h"

namespace ember::rules {
namespace {

const std::set<std::string> kTemplateBuiltins = {
    "count", "window", "rule", "severity", "window_start", "window_end", "rate",
    "sum",   "min",    "max",  "avg",      "distinct",     "ratio",      "total"};

const std::map<std::string, Aggregate> kAggregates = {
    {"count", Aggregate::kCount},       {"rate", Aggregate::kRate},   {"sum", Aggregate::kSum},
    {"min", Aggregate::kMin},           {"max", Aggregate::kMax},     {"avg", Aggregate::kAvg},
    {"distinct", Aggregate::kDistinct}, {"ratio", Aggregate::kRatio}, {"total", Aggregate::kTotal}};

Result<Comparison> ParseComparison(const std::string& text) {
  // Grammar: AGGREGATE OP NUMBER, e.g. "count >= 5", "ratio > 0.05".
  char field[16] = {0}, op[4] = {0};
  double threshold = 0;
  int consumed = 0;
  if (std::sscanf(text.c_str(), " %15[a-z_] %3[<>=!] %lf %n", field, op, &threshold, &consumed) !=
          3 ||
      static_cast<size_t>(consumed) != text.size()) {
    return Status::InvalidArgument("cannot read condition '" + text +
                                   "': expected e.g. 'count >= 5' or 'ratio > 0.05 and total "
                                   ">= 100'");
  }
  Comparison c;
  auto agg = kAggregates.find(field);
  if (agg == kAggregates.end()) {
    std::vector<std::string> names;
    for (const auto& [name, a] : kAggregates) names.push_back(name);
    std::string hint = ClosestWord(field, names);
    return Status::InvalidArgument(
        "unknown aggregate '" + std::string(field) +
        "': use count, rate, sum, min, max, avg, distinct, ratio or total" +
        (hint.empty() ? "" : "; did you mean '" + hint + "'?"));
  }
  c.aggregate = agg->second;
  c.threshold = threshold;
  static const std::map<std::string, CompareOp> kOps = {
      {">=", CompareOp::kGreaterEqual}, {">", CompareOp::kGreater},
      {"==", CompareOp::kEqual},        {"<", CompareOp::kLess},
      {"<=", CompareOp::kLessEqual},    {"!=", CompareOp::kNotEqual}};
  auto o = kOps.find(op);
  if (o == kOps.end()) {
    return Status::InvalidArgument("operator '" + std::string(op) +
                                   "' is not supported: use >=, >, ==, <, <= or !=");
  }
  c.op = o->second;
  if (c.aggregate == Aggregate::kCount) {
    // Only keys with a match in the window are evaluated: a count condition no count of 1
    // or more can satisfy would never fire.
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
  }
  return c;
}

// Splits on the word "and".
Result<Condition> ParseCondition(const std::string& text) {
  Condition cond;
  size_t start = 0;
  while (true) {
    size_t sep = text.find(" and ", start);
    std::string term = text.substr(start, sep == std::string::npos ? sep : sep - start);
    while (!term.empty() && term.front() == ' ') term.erase(0, 1);
    while (!term.empty() && term.back() == ' ') term.pop_back();
    Result<Comparison> c = ParseComparison(term);
    if (!c.ok()) return c.status();
    cond.all.push_back(*c);
    if (sep == std::string::npos) break;
    start = sep + 5;
  }
  return cond;
}

// The capture group index of `field` in `re`, or host/file/tag as -1/-2/-3; 0 if neither.
int FieldGroup(const RE2& re, const std::string& field) {
  const auto& groups = re.NamedCapturingGroups();
  auto it = groups.find(field);
  if (it != groups.end()) return it->second;
  if (field == kFieldHost) return -1;
  if (field == kFieldFile) return -2;
  if (field == kFieldTag) return -3;
  return 0;
}

std::vector<std::string> FieldNames(const RE2& re) {
  std::vector<std::string> names;
  for (const auto& [name, index] : re.NamedCapturingGroups()) names.push_back(name);
  names.push_back(kFieldHost);
  names.push_back(kFieldFile);
  names.push_back(kFieldTag);
  return names;
}

std::shared_ptr<const RE2> CompilePattern(const std::string& pattern, std::string* error) {
  RE2::Options re_options;
  re_options.set_log_errors(false);
  auto re = std::make_shared<RE2>(pattern, re_options);
  if (!re->ok()) {
    *error = re->error();
    return nullptr;
  }
  return re;
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
  std::string kind = "threshold";
  report(map.GetString("kind", &kind));
  report(map.GetDurationMs("window", &rule->window_ms, true));
  rule->every_ms = options.batch_interval_ms;
  report(map.GetDurationMs("every", &rule->every_ms));
  std::string when, resolve_when, severity = "warning", message;
  report(map.GetString("when", &when));
  report(map.GetString("resolve_when", &resolve_when));
  report(map.GetString("value", &rule->value_field));
  report(map.GetString("distinct", &rule->distinct_field));
  report(map.GetString("ratio_of", &rule->ratio_of));
  report(map.GetInt("top", &rule->top_k));
  report(map.GetDurationMs("for", &rule->for_ms));
  report(map.GetDurationMs("keep_firing_for", &rule->keep_firing_for_ms));
  report(map.GetDurationMs("repeat", &rule->repeat_ms));
  report(map.GetDurationMs("forget_after", &rule->forget_after_ms));
  YAML::Node timestamp = map.Get("timestamp");
  YAML::Node flap = map.Get("flap_damping");
  YAML::Node labels = map.Get("labels");
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

  static const std::map<std::string, RuleKind> kKinds = {{"threshold", RuleKind::kThreshold},
                                                         {"absence", RuleKind::kAbsence},
                                                         {"new_key", RuleKind::kNewKey},
                                                         {"top_k", RuleKind::kTopK}};
  if (auto k = kKinds.find(kind); k != kKinds.end()) {
    rule->kind = k->second;
  } else {
    error_at("kind", "unknown kind '" + kind + "': use threshold, absence, new_key or top_k");
  }

  if (flap && !flap.IsNull()) {
    YamlMap flap_map(flap, path);
    if (Status s = flap_map.Check("flap_damping (starts, within)"); !s.ok()) {
      report(s);
    } else {
      report(flap_map.GetInt("starts", &rule->flap_starts, true));
      report(flap_map.GetDurationMs("within", &rule->flap_within_ms, true));
      report(flap_map.RejectUnknownKeys());
      if (rule->flap_starts < 2) {
        error_at("flap_damping", "'starts' must be 2 or more (episodes started within 'within')");
      }
    }
  }
  std::string zone_name = "UTC";
  if (timestamp && !timestamp.IsNull()) {
    YamlMap ts(timestamp, path);
    if (Status s = ts.Check("timestamp (field, format, timezone)"); !s.ok()) {
      report(s);
    } else {
      report(ts.GetString("field", &rule->time_field, true));
      report(ts.GetString("format", &rule->time_format));
      report(ts.GetString("timezone", &zone_name));
      report(ts.RejectUnknownKeys());
      if (rule->time_format == "syslog") rule->time_format = "%b %e %H:%M:%S";
      if (rule->time_format == "iso8601" || rule->time_format == "epoch")
        rule->time_format = "auto";
      if (rule->time_format != "auto" && rule->time_format.find('%') == std::string::npos) {
        diagnostics->push_back(ts.Where("format") + ": error: format '" + rule->time_format +
                               "' is neither auto, syslog, iso8601, epoch nor a strptime "
                               "pattern such as '%b %e %H:%M:%S'");
      }
      Result<TimeZone> zone = TimeZone::Parse(zone_name);
      if (zone.ok()) {
        rule->time_zone = std::make_shared<const TimeZone>(std::move(*zone));
      } else {
        diagnostics->push_back(ts.Where("timezone") + ": error: " + zone.status().message());
      }
    }
  }
  if (labels && !labels.IsNull()) {
    if (!labels.IsMap()) {
      error_at("labels", "'labels' must be a mapping of names to strings");
    } else {
      for (const auto& kv : labels) {
        const std::string name = kv.first.as<std::string>();
        const bool valid_name = !name.empty() &&
                                !std::isdigit(static_cast<unsigned char>(name[0])) &&
                                std::all_of(name.begin(), name.end(), [](char c) {
                                  return std::isalnum(static_cast<unsigned char>(c)) || c == '_';
                                });
        if (!valid_name) {
          diagnostics->push_back(YamlWhere(path, kv.first) + ": error: label name '" + name +
                                 "' must be letters, digits and '_' (not starting with a digit)");
        } else if (!kv.second.IsScalar()) {
          diagnostics->push_back(YamlWhere(path, kv.second) + ": error: label '" + name +
                                 "' must be a string");
        } else {
          rule->labels[name] = kv.second.Scalar();
        }
      }
    }
  }

  // Pattern: compile on its own to report RE2's message at the pattern's location.
  std::string re_error;
  if (!rule->pattern.empty()) {
    rule->regex = CompilePattern(rule->pattern, &re_error);
    if (!rule->regex) error_at("match", "invalid pattern: " + re_error);
  }
  if (!rule->ratio_of.empty()) {
    rule->ratio_regex = CompilePattern(rule->ratio_of, &re_error);
    if (!rule->ratio_regex) error_at("ratio_of", "invalid pattern: " + re_error);
  }
  if (rule->regex) {
    for (const auto& field : rule->by) {
      const int group = FieldGroup(*rule->regex, field);
      rule->by_groups.push_back(group);
      if (group == 0) {
        std::string hint = ClosestWord(field, FieldNames(*rule->regex));
        error_at("by", "'" + field +
                           "' is neither a named capture of the pattern nor a "
                           "built-in field (host, file, tag)" +
                           (hint.empty() ? "" : "; did you mean '" + hint + "'?"));
      }
      if (rule->ratio_regex) {
        const int ratio_group = FieldGroup(*rule->ratio_regex, field);
        rule->ratio_by_groups.push_back(ratio_group);
        if (ratio_group == 0) {
          error_at("ratio_of", "the 'ratio_of' pattern has no capture named '" + field +
                                   "' (every 'by' field must come from both patterns)");
        }
      }
    }
    for (auto [key, field, group] :
         {std::tuple{"value", &rule->value_field, &rule->value_group},
          std::tuple{"distinct", &rule->distinct_field, &rule->distinct_group},
          std::tuple{"timestamp", &rule->time_field, &rule->time_group}}) {
      if (field->empty()) continue;
      const auto& groups = rule->regex->NamedCapturingGroups();
      auto it = groups.find(*field);
      if (it == groups.end()) {
        std::string hint = ClosestWord(*field, FieldNames(*rule->regex));
        error_at(key, "'" + *field + "' is not a named capture of the pattern" +
                          (hint.empty() ? "" : "; did you mean '" + hint + "'?"));
      } else {
        *group = it->second;
      }
    }
  }

  for (const auto& pattern : rule->unless) {
    if (auto re = CompilePattern(pattern, &re_error)) {
      rule->unless_regex.push_back(re);
    } else {
      error_at("unless", "invalid pattern '" + pattern + "': " + re_error);
    }
  }

  bool durations_ok = false;
  if (rule->every_ms <= 0 || rule->every_ms % options.batch_interval_ms != 0) {
    error_at("every", "'every' (" + FormatDurationMs(rule->every_ms) +
                          ") must be a positive multiple of the batch interval (" +
                          FormatDurationMs(options.batch_interval_ms) + ")");
  } else if (rule->window_ms <= 0 || rule->window_ms % rule->every_ms != 0) {
    error_at("window", "'window' (" + FormatDurationMs(rule->window_ms) +
                           ") must be a positive multiple of 'every' (" +
                           FormatDurationMs(rule->every_ms) + ")");
  } else {
    durations_ok = true;
  }
  if (durations_ok) {
    for (auto [key, ms] :
         {std::pair{"for", rule->for_ms}, std::pair{"keep_firing_for", rule->keep_firing_for_ms},
          std::pair{"repeat", rule->repeat_ms}, std::pair{"forget_after", rule->forget_after_ms},
          std::pair{"flap_damping", rule->flap_within_ms}}) {
      if (ms < 0 || ms % rule->every_ms != 0) {
        error_at(key, "'" + std::string(key == std::string("flap_damping") ? "within" : key) +
                          "' (" + FormatDurationMs(ms) + ") must be a multiple of 'every' (" +
                          FormatDurationMs(rule->every_ms) +
                          "): rules are evaluated once per 'every'");
      }
    }
  }

  // Kind-specific fields.
  const bool counts_window = rule->kind == RuleKind::kThreshold || rule->kind == RuleKind::kTopK;
  if (!counts_window) {
    for (const char* key : {"when", "resolve_when", "value", "distinct", "ratio_of", "top"}) {
      if (map.Has(key)) {
        error_at(key, std::string("'") + key + "' does not apply to kind '" + kind +
                          "': it fires on " +
                          (rule->kind == RuleKind::kAbsence ? "a key's silence for a window"
                                                            : "a key's first appearance"));
      }
    }
    if (rule->kind == RuleKind::kNewKey && rule->by.empty()) {
      error_at("kind", "a new_key rule needs 'by': the fields whose new values it reports");
    }
    if (rule->forget_after_ms == 0) rule->forget_after_ms = 7 * 24 * 3600 * 1000LL;
    if (durations_ok && rule->forget_after_ms < rule->window_ms) {
      error_at("forget_after", "'forget_after' must be at least the window");
    }
  } else if (map.Has("forget_after")) {
    error_at("forget_after", "'forget_after' applies only to kinds absence and new_key");
  }
  if (rule->kind == RuleKind::kTopK && rule->top_k <= 0) {
    error_at(map.Has("top") ? "top" : "kind",
             "a top_k rule needs 'top': a positive number of keys");
  } else if (rule->kind != RuleKind::kTopK && map.Has("top") && counts_window) {
    error_at("top", "'top' applies only to kind top_k");
  }

  if (counts_window) {
    if (when.empty()) when = "count >= 1";
    for (auto [key, text, cond] :
         {std::tuple{"when", &when, &rule->when},
          std::tuple{"resolve_when", &resolve_when, &rule->resolve_when}}) {
      if (text->empty()) continue;
      Result<Condition> parsed = ParseCondition(*text);
      if (!parsed.ok()) {
        error_at(key, parsed.status().message());
        continue;
      }
      *cond = *parsed;
      for (const auto& c : cond->all) {
        const bool numeric = c.aggregate == Aggregate::kSum || c.aggregate == Aggregate::kMin ||
                             c.aggregate == Aggregate::kMax || c.aggregate == Aggregate::kAvg;
        if (numeric && rule->value_field.empty()) {
          error_at(key, std::string("'") + AggregateName(c.aggregate) +
                            "' needs 'value': the named capture holding the number");
        } else if (c.aggregate == Aggregate::kDistinct && rule->distinct_field.empty()) {
          error_at(key, "'distinct' needs 'distinct': the named capture whose values to count");
        } else if ((c.aggregate == Aggregate::kRatio || c.aggregate == Aggregate::kTotal) &&
                   rule->ratio_of.empty()) {
          error_at(key, std::string("'") + AggregateName(c.aggregate) +
                            "' needs 'ratio_of': the pattern of the lines to divide by");
        }
      }
    }
  }
  Result<Severity> sev = ParseSeverity(severity);
  if (sev.ok()) {
    rule->severity = *sev;
  } else {
    error_at("severity", sev.status().message());
  }
  if (message.empty()) {
    message = rule->kind == RuleKind::kAbsence ? "no match of " + rule->name + " for {{window}}"
              : rule->kind == RuleKind::kNewKey
                  ? "new key for " + rule->name
                  : "{{count}} matches of " + rule->name + " in {{window}}";
  }
  Result<MessageTemplate> tmpl = MessageTemplate::Parse(message);
  if (!tmpl.ok()) {
    error_at("message", tmpl.status().message());
  } else {
    rule->message = *tmpl;
    for (const auto& field : rule->message.Fields()) {
      bool in_by = std::find(rule->by.begin(), rule->by.end(), field) != rule->by.end();
      if (!in_by && !kTemplateBuiltins.count(field) && !rule->labels.count(field)) {
        error_at("message", "template field '{{" + field +
                                "}}' is not a key field ('by'), a label, nor one of count, "
                                "window, window_start, window_end, rule, severity, rate, sum, "
                                "min, max, avg, distinct, ratio, total");
      }
    }
  }
  std::string definition = rule->pattern + '\0' + when + '\0' + std::to_string(rule->window_ms) +
                           '\0' + std::to_string(rule->every_ms) + '\0';
  for (const auto& f : rule->by) definition += f + ',';
  // Later additions change what counts or when a key fires: part of the definition (digest)
  // only when used, so rules written before they existed keep their state.
  for (const auto& [name, list] :
       {std::pair{"unless", &rule->unless}, std::pair{"hosts", &rule->hosts},
        std::pair{"files", &rule->files}, std::pair{"tags", &rule->tags}}) {
    if (list->empty()) continue;
    definition += std::string("\0") + name + ':';
    for (const auto& v : *list) definition += v + '\x1e';
  }
  for (const auto& [name, text] :
       {std::pair{"kind", rule->kind == RuleKind::kThreshold ? std::string() : kind},
        std::pair{"resolve_when", resolve_when}, std::pair{"value", rule->value_field},
        std::pair{"distinct", rule->distinct_field}, std::pair{"ratio_of", rule->ratio_of},
        std::pair{"top", rule->top_k ? std::to_string(rule->top_k) : ""},
        std::pair{"for", rule->for_ms ? std::to_string(rule->for_ms) : ""},
        std::pair{"keep", rule->keep_firing_for_ms ? std::to_string(rule->keep_firing_for_ms) : ""},
        std::pair{"flap", rule->flap_starts ? std::to_string(rule->flap_starts) + "/" +
                                                  std::to_string(rule->flap_within_ms)
                                            : ""},
        std::pair{"forget", map.Has("forget_after") ? std::to_string(rule->forget_after_ms) : ""},
        std::pair{"time", rule->time_field.empty()
                              ? ""
                              : rule->time_field + "/" + rule->time_format + "/" + zone_name}}) {
    if (!text.empty()) definition += std::string("\0") + name + ':' + text;
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
