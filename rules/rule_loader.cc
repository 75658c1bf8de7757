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
#include "rules/rule_kind.h"
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
  if (field == kFieldUnit) return -4;
  if (field == kFieldIdentifier) return -5;
  if (field == kFieldPriority) return -6;
  if (field == kFieldPid) return -7;
  return 0;
}

std::vector<std::string> FieldNames(const RE2& re) {
  std::vector<std::string> names;
  for (const auto& [name, index] : re.NamedCapturingGroups()) names.push_back(name);
  names.push_back(kFieldHost);
  names.push_back(kFieldFile);
  for (const char* builtin : {kFieldTag, kFieldUnit, kFieldIdentifier, kFieldPriority, kFieldPid}) {
    names.push_back(builtin);
  }
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
// Reads one rule, a section at a time; every problem becomes a located diagnostic and the
// rule is kept only when there were none. The order of the sections is the order of the
// diagnostics a user sees.
class RuleParser {
 public:
  RuleParser(const YAML::Node& node, const std::string& path, const RuleSetOptions& options,
             Rule* rule, Diagnostics* diagnostics)
      : path_(path),
        options_(options),
        rule_(*rule),
        diagnostics_(*diagnostics),
        map_(node, path) {}

  bool Parse() {
    const size_t errors_before = diagnostics_.size();
    if (Status s = map_.Check("a rule"); !s.ok()) {
      Report(s);
      return false;
    }
    ReadFields();
    CheckNameAndKey();
    CheckMaxKeys();
    ReadKind();
    ReadFlapDamping();
    ReadTimestamp();
    ReadLabels();
    CompilePatterns();
    ResolveCaptures();
    CompileUnless();
    CheckDurations();
    CheckKindFields();
    ParseConditions();
    ReadSeverityAndMessage();
    rule_.digest = Digest();
    return diagnostics_.size() == errors_before;
  }

 private:
  void Report(const Status& s) {
    if (!s.ok()) diagnostics_.push_back(s.message());
  }
  void ErrorAt(const std::string& key, const std::string& what) {
    diagnostics_.push_back(map_.Where(key) + ": error: " + what);
  }

  // Every key of the rule, read as its type (unknown keys are reported here).
  void ReadFields() {
    rule_.source = map_.Where();
    Report(map_.GetString("name", &rule_.name, true));
    Report(map_.GetString("match", &rule_.pattern, true));
    Report(map_.GetStringList("by", &rule_.by));
    Report(map_.GetString("kind", &kind_));
    Report(map_.GetDurationMs("window", &rule_.window_ms, true));
    rule_.every_ms = options_.batch_interval_ms;
    Report(map_.GetDurationMs("every", &rule_.every_ms));
    Report(map_.GetString("when", &when_));
    Report(map_.GetString("resolve_when", &resolve_when_));
    Report(map_.GetString("value", &rule_.value_field));
    Report(map_.GetString("distinct", &rule_.distinct_field));
    Report(map_.GetString("ratio_of", &rule_.ratio_of));
    Report(map_.GetInt("top", &rule_.top_k));
    Report(map_.GetInt("max_keys", &rule_.max_keys));
    Report(map_.GetDurationMs("for", &rule_.for_ms));
    Report(map_.GetDurationMs("keep_firing_for", &rule_.keep_firing_for_ms));
    Report(map_.GetDurationMs("repeat", &rule_.repeat_ms));
    Report(map_.GetDurationMs("forget_after", &rule_.forget_after_ms));
    timestamp_ = map_.Get("timestamp");
    flap_ = map_.Get("flap_damping");
    labels_ = map_.Get("labels");
    Report(map_.GetString("severity", &severity_));
    Report(map_.GetString("message", &message_));
    Report(map_.GetStringList("unless", &rule_.unless));
    if (map_.Has("unless")) rule_.unless_source = map_.Where("unless");
    Report(map_.GetStringList("hosts", &rule_.hosts));
    Report(map_.GetStringList("files", &rule_.files));
    Report(map_.GetStringList("tags", &rule_.tags));
    Report(map_.GetStringList("units", &rule_.units));
    Report(map_.GetStringList("identifiers", &rule_.identifiers));
    Report(map_.GetStringList("priorities", &rule_.priorities));
    Report(map_.GetStringList("pids", &rule_.pids));
    Report(map_.RejectUnknownKeys());
  }

  // The name and the key's fields name records in the checkpoint: bounded, printable.
  void CheckNameAndKey() {
    bool printable = true;
    for (char c : rule_.name) printable = printable && static_cast<unsigned char>(c) >= 0x20;
    if (rule_.name.size() > kMaxRuleNameBytes || !printable) {
      ErrorAt("name", "a rule's name must be at most " + std::to_string(kMaxRuleNameBytes) +
                          " bytes, without control characters");
    }
    if (rule_.by.size() > kMaxKeyFields) {
      ErrorAt("by", "'by' names at most " + std::to_string(kMaxKeyFields) + " fields, not " +
                        std::to_string(rule_.by.size()));
    }
  }

  void CheckMaxKeys() {
    if (rule_.max_keys < 1 || rule_.max_keys > 100'000'000) {
      ErrorAt("max_keys", "'max_keys' must be between 1 and 100000000");
    }
  }

  void ReadKind() {
    if (const RuleKindTraits* k = FindRuleKind(kind_)) {
      rule_.kind = k->kind;
    } else {
      ErrorAt("kind", "unknown kind '" + kind_ + "': use " + RuleKindNames());
    }
  }

  void ReadFlapDamping() {
    if (!flap_ || flap_.IsNull()) return;
    YamlMap flap_map(flap_, path_);
    if (Status s = flap_map.Check("flap_damping (starts, within)"); !s.ok()) {
      Report(s);
      return;
    }
    Report(flap_map.GetInt("starts", &rule_.flap_starts, true));
    Report(flap_map.GetDurationMs("within", &rule_.flap_within_ms, true));
    Report(flap_map.RejectUnknownKeys());
    if (rule_.flap_starts < 2) {
      ErrorAt("flap_damping", "'starts' must be 2 or more (episodes started within 'within')");
    }
  }

  void ReadTimestamp() {
    if (!timestamp_ || timestamp_.IsNull()) return;
    YamlMap ts(timestamp_, path_);
    if (Status s = ts.Check("timestamp (field, format, timezone)"); !s.ok()) {
      Report(s);
      return;
    }
    Report(ts.GetString("field", &rule_.time_field, true));
    Report(ts.GetString("format", &rule_.time_format));
    Report(ts.GetString("timezone", &zone_name_));
    Report(ts.RejectUnknownKeys());
    if (rule_.time_format == "syslog") rule_.time_format = "%b %e %H:%M:%S";
    if (rule_.time_format == "iso8601" || rule_.time_format == "epoch") {
      rule_.time_format = "auto";
    }
    if (rule_.time_format != "auto" && rule_.time_format.find('%') == std::string::npos) {
      diagnostics_.push_back(ts.Where("format") + ": error: format '" + rule_.time_format +
                             "' is neither auto, syslog, iso8601, epoch nor a strptime "
                             "pattern such as '%b %e %H:%M:%S'");
    }
    Result<TimeZone> zone = TimeZone::Parse(zone_name_);
    if (zone.ok()) {
      rule_.time_zone = std::make_shared<const TimeZone>(std::move(*zone));
    } else {
      diagnostics_.push_back(ts.Where("timezone") + ": error: " + zone.status().message());
    }
  }

  void ReadLabels() {
    if (!labels_ || labels_.IsNull()) return;
    if (!labels_.IsMap()) {
      ErrorAt("labels", "'labels' must be a mapping of names to strings");
      return;
    }
    for (const auto& kv : labels_) {
      const std::string name = kv.first.as<std::string>();
      const bool valid_name = !name.empty() && !std::isdigit(static_cast<unsigned char>(name[0])) &&
                              std::all_of(name.begin(), name.end(), [](char c) {
                                return std::isalnum(static_cast<unsigned char>(c)) || c == '_';
                              });
      if (!valid_name) {
        diagnostics_.push_back(YamlWhere(path_, kv.first) + ": error: label name '" + name +
                               "' must be letters, digits and '_' (not starting with a digit)");
      } else if (!kv.second.IsScalar()) {
        diagnostics_.push_back(YamlWhere(path_, kv.second) + ": error: label '" + name +
                               "' must be a string");
      } else {
        rule_.labels[name] = kv.second.Scalar();
      }
    }
  }

  // Each pattern compiled on its own, to report RE2's message at the pattern's location.
  void CompilePatterns() {
    std::string re_error;
    if (!rule_.pattern.empty()) {
      rule_.regex = CompilePattern(rule_.pattern, &re_error);
      if (!rule_.regex) ErrorAt("match", "invalid pattern: " + re_error);
    }
    if (!rule_.ratio_of.empty()) {
      rule_.ratio_regex = CompilePattern(rule_.ratio_of, &re_error);
      if (!rule_.ratio_regex) ErrorAt("ratio_of", "invalid pattern: " + re_error);
    }
  }

  void CompileUnless() {
    std::string re_error;
    for (const auto& pattern : rule_.unless) {
      if (auto re = CompilePattern(pattern, &re_error)) {
        rule_.unless_regex.push_back(re);
      } else {
        ErrorAt("unless", "invalid pattern '" + pattern + "': " + re_error);
      }
    }
  }

  // `by`, `value`, `distinct` and the time stamp field name captures of the pattern.
  void ResolveCaptures() {
    if (!rule_.regex) return;
    for (const auto& field : rule_.by) {
      const int group = FieldGroup(*rule_.regex, field);
      rule_.by_groups.push_back(group);
      if (group == 0) {
        std::string hint = ClosestWord(field, FieldNames(*rule_.regex));
        ErrorAt("by", "'" + field +
                          "' is neither a named capture of the pattern nor a "
                          "built-in field (host, file, tag)" +
                          (hint.empty() ? "" : "; did you mean '" + hint + "'?"));
      }
      if (rule_.ratio_regex) {
        const int ratio_group = FieldGroup(*rule_.ratio_regex, field);
        rule_.ratio_by_groups.push_back(ratio_group);
        if (ratio_group == 0) {
          ErrorAt("ratio_of", "the 'ratio_of' pattern has no capture named '" + field +
                                  "' (every 'by' field must come from both patterns)");
        }
      }
    }
    for (auto [key, field, group] :
         {std::tuple{"value", &rule_.value_field, &rule_.value_group},
          std::tuple{"distinct", &rule_.distinct_field, &rule_.distinct_group},
          std::tuple{"timestamp", &rule_.time_field, &rule_.time_group}}) {
      if (field->empty()) continue;
      const auto& groups = rule_.regex->NamedCapturingGroups();
      auto it = groups.find(*field);
      if (it == groups.end()) {
        std::string hint = ClosestWord(*field, FieldNames(*rule_.regex));
        ErrorAt(key, "'" + *field + "' is not a named capture of the pattern" +
                         (hint.empty() ? "" : "; did you mean '" + hint + "'?"));
      } else {
        *group = it->second;
      }
    }
  }

  // The slide is a multiple of the batch interval, the window and every lifecycle duration
  // multiples of the slide.
  void CheckDurations() {
    if (rule_.every_ms <= 0 || rule_.every_ms % options_.batch_interval_ms != 0) {
      ErrorAt("every", "'every' (" + FormatDurationMs(rule_.every_ms) +
                           ") must be a positive multiple of the batch interval (" +
                           FormatDurationMs(options_.batch_interval_ms) + ")");
      return;
    }
    if (rule_.window_ms <= 0 || rule_.window_ms % rule_.every_ms != 0) {
      ErrorAt("window", "'window' (" + FormatDurationMs(rule_.window_ms) +
                            ") must be a positive multiple of 'every' (" +
                            FormatDurationMs(rule_.every_ms) + ")");
      return;
    }
    durations_ok_ = true;
    for (auto [key, ms] :
         {std::pair{"for", rule_.for_ms}, std::pair{"keep_firing_for", rule_.keep_firing_for_ms},
          std::pair{"repeat", rule_.repeat_ms}, std::pair{"forget_after", rule_.forget_after_ms},
          std::pair{"flap_damping", rule_.flap_within_ms}}) {
      if (ms < 0 || ms % rule_.every_ms != 0) {
        ErrorAt(key, "'" + std::string(key == std::string("flap_damping") ? "within" : key) +
                         "' (" + FormatDurationMs(ms) + ") must be a multiple of 'every' (" +
                         FormatDurationMs(rule_.every_ms) +
                         "): rules are evaluated once per 'every'");
      }
    }
  }

  // The fields that apply only to some kinds (rule/rule_kind.h).
  void CheckKindFields() {
    const RuleKindTraits& traits = TraitsOf(rule_.kind);
    if (!traits.counts_window) {
      for (const char* key : {"when", "resolve_when", "value", "distinct", "ratio_of", "top"}) {
        if (map_.Has(key)) {
          ErrorAt(key, std::string("'") + key + "' does not apply to kind '" + kind_ +
                           "': it fires on " + traits.fires_on);
        }
      }
    }
    if (traits.needs_by && rule_.by.empty()) {
      ErrorAt("kind", std::string("a ") + traits.name +
                          " rule needs 'by': the fields whose new values it reports");
    }
    if (traits.remembers_keys) {
      if (rule_.forget_after_ms == 0) rule_.forget_after_ms = 7 * 24 * 3600 * 1000LL;
      if (durations_ok_ && rule_.forget_after_ms < rule_.window_ms) {
        ErrorAt("forget_after", "'forget_after' must be at least the window");
      }
    } else if (map_.Has("forget_after")) {
      ErrorAt("forget_after", "'forget_after' applies only to kinds absence and new_key");
    }
    if (rule_.kind == RuleKind::kTopK && rule_.top_k <= 0) {
      ErrorAt(map_.Has("top") ? "top" : "kind",
              "a top_k rule needs 'top': a positive number of keys");
    } else if (rule_.kind != RuleKind::kTopK && map_.Has("top") && traits.counts_window) {
      ErrorAt("top", "'top' applies only to kind top_k");
    }
  }

  // `when` and `resolve_when`, and the fields their aggregates need.
  void ParseConditions() {
    if (!TraitsOf(rule_.kind).counts_window) return;
    if (when_.empty()) when_ = "count >= 1";
    for (auto [key, text, cond] :
         {std::tuple{"when", &when_, &rule_.when},
          std::tuple{"resolve_when", &resolve_when_, &rule_.resolve_when}}) {
      if (text->empty()) continue;
      Result<Condition> parsed = ParseCondition(*text);
      if (!parsed.ok()) {
        ErrorAt(key, parsed.status().message());
        continue;
      }
      *cond = *parsed;
      for (const auto& c : cond->all) {
        const bool numeric = c.aggregate == Aggregate::kSum || c.aggregate == Aggregate::kMin ||
                             c.aggregate == Aggregate::kMax || c.aggregate == Aggregate::kAvg;
        if (numeric && rule_.value_field.empty()) {
          ErrorAt(key, std::string("'") + AggregateName(c.aggregate) +
                           "' needs 'value': the named capture holding the number");
        } else if (c.aggregate == Aggregate::kDistinct && rule_.distinct_field.empty()) {
          ErrorAt(key, "'distinct' needs 'distinct': the named capture whose values to count");
        } else if ((c.aggregate == Aggregate::kRatio || c.aggregate == Aggregate::kTotal) &&
                   rule_.ratio_of.empty()) {
          ErrorAt(key, std::string("'") + AggregateName(c.aggregate) +
                           "' needs 'ratio_of': the pattern of the lines to divide by");
        }
      }
    }
  }

  void ReadSeverityAndMessage() {
    Result<Severity> sev = ParseSeverity(severity_);
    if (sev.ok()) {
      rule_.severity = *sev;
    } else {
      ErrorAt("severity", sev.status().message());
    }
    if (message_.empty()) {
      message_ = TraitsOf(rule_.kind).message;
      message_.replace(message_.find("{rule}"), 6, rule_.name);
    }
    Result<MessageTemplate> tmpl = MessageTemplate::Parse(message_);
    if (!tmpl.ok()) {
      ErrorAt("message", tmpl.status().message());
      return;
    }
    rule_.message = *tmpl;
    for (const auto& field : rule_.message.Fields()) {
      bool in_by = std::find(rule_.by.begin(), rule_.by.end(), field) != rule_.by.end();
      if (!in_by && !kTemplateBuiltins.count(field) && !rule_.labels.count(field)) {
        ErrorAt("message", "template field '{{" + field +
                               "}}' is not a key field ('by'), a label, nor one of count, "
                               "window, window_start, window_end, rule, severity, rate, sum, "
                               "min, max, avg, distinct, ratio, total");
      }
    }
  }

  // The digest of what decides what counts and when a key fires: a rule whose digest did not
  // change keeps its stored state across restarts and reloads. Fields added to the language
  // later are part of it only when used, so rules written before they existed keep theirs.
  std::string Digest() const {
    std::string definition = rule_.pattern + '\0' + when_ + '\0' + std::to_string(rule_.window_ms) +
                             '\0' + std::to_string(rule_.every_ms) + '\0';
    for (const auto& f : rule_.by) definition += f + ',';
    for (const auto& [name, list] :
         {std::pair{"unless", &rule_.unless}, std::pair{"hosts", &rule_.hosts},
          std::pair{"files", &rule_.files}, std::pair{"tags", &rule_.tags},
          std::pair{"units", &rule_.units}, std::pair{"identifiers", &rule_.identifiers},
          std::pair{"priorities", &rule_.priorities}, std::pair{"pids", &rule_.pids}}) {
      if (list->empty()) continue;
      definition += std::string("\0") + name + ':';
      for (const auto& v : *list) definition += v + '\x1e';
    }
    for (const auto& [name, text] :
         {std::pair{"kind", rule_.kind == RuleKind::kThreshold ? std::string() : kind_},
          std::pair{"resolve_when", resolve_when_}, std::pair{"value", rule_.value_field},
          std::pair{"distinct", rule_.distinct_field}, std::pair{"ratio_of", rule_.ratio_of},
          std::pair{"top", rule_.top_k ? std::to_string(rule_.top_k) : ""},
          std::pair{"for", rule_.for_ms ? std::to_string(rule_.for_ms) : ""},
          std::pair{"keep",
                    rule_.keep_firing_for_ms ? std::to_string(rule_.keep_firing_for_ms) : ""},
          std::pair{"flap", rule_.flap_starts ? std::to_string(rule_.flap_starts) + "/" +
                                                    std::to_string(rule_.flap_within_ms)
                                              : ""},
          std::pair{"forget",
                    map_.Has("forget_after") ? std::to_string(rule_.forget_after_ms) : ""},
          std::pair{"time", rule_.time_field.empty()
                                ? ""
                                : rule_.time_field + "/" + rule_.time_format + "/" + zone_name_}}) {
      if (!text.empty()) definition += std::string("\0") + name + ':' + text;
    }
    return HashHex(Fnv1a64(definition));
  }

  const std::string& path_;
  const RuleSetOptions& options_;
  Rule& rule_;
  Diagnostics& diagnostics_;
  YamlMap map_;
  std::string kind_ = "threshold";
  std::string when_, resolve_when_, severity_ = "warning", message_;
  std::string zone_name_ = "UTC";
  YAML::Node timestamp_, flap_, labels_;
  bool durations_ok_ = false;
};

bool ParseRule(const YAML::Node& node, const std::string& path, const RuleSetOptions& options,
               Rule* rule, Diagnostics* diagnostics) {
  return RuleParser(node, path, options, rule, diagnostics).Parse();
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
  out.reserve(list.size());  // a Rule is large: moving hundreds of them as the vector grows
  for (const auto& node : list) {
    Rule rule;
    if (ParseRule(node, path, options, &rule, diagnostics)) out.push_back(std::move(rule));
  }
  return out;
}

}  // namespace ember::rules
