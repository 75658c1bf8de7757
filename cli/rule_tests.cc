#include "cli/rule_tests.h"

#include <algorithm>
#include <fstream>
#include <map>
#include <set>
#include <sstream>
#include <vector>

#include "common/units.h"
#include "common/yaml_util.h"
#include "engine/engine.h"
#include "rules/rule_set.h"

namespace ember::cli {
namespace {

struct TestLine {
  int64_t at_ms = 0;
  std::string text, host, file, tag;
};

// An expected alert; unset optional fields are not compared.
struct ExpectedAlert {
  std::string rule;
  std::string state = "firing";
  std::map<std::string, std::string> key;
  bool has_count = false;
  uint64_t count = 0;
  std::string message, severity;
  bool has_message = false, has_severity = false, has_labels = false, has_repeat = false;
  bool repeat = false;
  std::map<std::string, std::string> labels;
};

struct Expectation {
  std::string where;
  int64_t at_ms = 0;
  std::string rule;  // "" = every rule
  bool has_alerts = false, has_events = false;
  std::vector<ExpectedAlert> alerts, events;
};

struct TestCase {
  std::string name, where;
  std::vector<TestLine> lines;
  std::vector<Expectation> expect;
};

struct TestFile {
  std::vector<std::string> rule_files;
  int64_t batch_ms = 1000;
  std::vector<TestCase> tests;
};

using Errors = std::vector<std::string>;

void Report(Errors* errors, const Status& s) {
  if (!s.ok()) errors->push_back(s.message());
}

std::map<std::string, std::string> ReadStringMap(const YAML::Node& node, const std::string& path,
                                                 const std::string& what, Errors* errors) {
  std::map<std::string, std::string> out;
  if (!node || node.IsNull()) return out;
  if (!node.IsMap()) {
    errors->push_back(YamlWhere(path, node) + ": error: '" + what + "' must be a mapping");
    return out;
  }
  for (const auto& kv : node) {
    if (!kv.second.IsScalar()) {
      errors->push_back(YamlWhere(path, kv.second) + ": error: '" + what +
                        "' values must be strings");
      continue;
    }
    out[kv.first.as<std::string>()] = kv.second.Scalar();
  }
  return out;
}

ExpectedAlert ReadAlert(const YAML::Node& node, const std::string& path, Errors* errors) {
  ExpectedAlert a;
  YamlMap m(node, path);
  if (Status s = m.Check("an alert (rule, state, key, count, message, severity, labels, repeat)");
      !s.ok()) {
    Report(errors, s);
    return a;
  }
  Report(errors, m.GetString("rule", &a.rule, true));
  Report(errors, m.GetString("state", &a.state));
  if (a.state != "firing" && a.state != "pending" && a.state != "resolved") {
    errors->push_back(m.Where("state") + ": error: state '" + a.state +
                      "' is not one of pending, firing, resolved");
  }
  a.key = ReadStringMap(m.Get("key"), path, "key", errors);
  int64_t count = 0;
  a.has_count = m.Has("count");
  Report(errors, m.GetInt("count", &count));
  a.count = static_cast<uint64_t>(std::max<int64_t>(count, 0));
  a.has_message = m.Has("message");
  Report(errors, m.GetString("message", &a.message));
  a.has_severity = m.Has("severity");
  Report(errors, m.GetString("severity", &a.severity));
  a.has_labels = m.Has("labels");
  a.labels = ReadStringMap(m.Get("labels"), path, "labels", errors);
  a.has_repeat = m.Has("repeat");
  Report(errors, m.GetBool("repeat", &a.repeat));
  Report(errors, m.RejectUnknownKeys());
  return a;
}

std::vector<ExpectedAlert> ReadAlertList(const YAML::Node& node, const std::string& path,
                                         const std::string& what, Errors* errors) {
  std::vector<ExpectedAlert> out;
  if (!node || node.IsNull()) return out;
  if (!node.IsSequence()) {
    errors->push_back(YamlWhere(path, node) + ": error: '" + what + "' must be a list");
    return out;
  }
  for (const auto& n : node) out.push_back(ReadAlert(n, path, errors));
  return out;
}

void ReadInput(const YAML::Node& node, const std::string& path, TestCase* test, Errors* errors) {
  if (!node.IsSequence()) {
    errors->push_back(YamlWhere(path, node) + ": error: 'input' must be a list of sources");
    return;
  }
  for (const auto& source_node : node) {
    YamlMap source(source_node, path);
    if (Status s = source.Check("an input source (host, file, tag, lines, lines_from)"); !s.ok()) {
      Report(errors, s);
      continue;
    }
    TestLine base;
    base.host = "localhost";
    base.file = "test.log";
    Report(errors, source.GetString("host", &base.host));
    Report(errors, source.GetString("file", &base.file));
    Report(errors, source.GetString("tag", &base.tag));
    std::string lines_from;
    int64_t from_at = 0, from_every = 0;
    Report(errors, source.GetString("lines_from", &lines_from));
    Report(errors, source.GetDurationMs("at", &from_at));
    Report(errors, source.GetDurationMs("every", &from_every));
    YAML::Node lines = source.Get("lines");
    Report(errors, source.RejectUnknownKeys());
    if (!lines_from.empty()) {
      // Every line of a file, the first at `at`, then one per `every`.
      std::ifstream in(ResolvePath(path, lines_from), std::ios::binary);
      if (!in) {
        errors->push_back(source.Where("lines_from") + ": error: cannot read '" + lines_from + "'");
      }
      int64_t t = from_at;
      for (std::string text; std::getline(in, text); t += from_every) {
        if (!text.empty() && text.back() == '\r') text.pop_back();
        TestLine l = base;
        l.at_ms = t;
        l.text = text;
        test->lines.push_back(std::move(l));
      }
    }
    if (!lines || lines.IsNull()) continue;
    if (!lines.IsSequence()) {
      errors->push_back(YamlWhere(path, lines) + ": error: 'lines' must be a list");
      continue;
    }
    for (const auto& line_node : lines) {
      YamlMap line(line_node, path);
      if (Status s = line.Check("a line (at, line, repeat, every)"); !s.ok()) {
        Report(errors, s);
        continue;
      }
      TestLine l = base;
      int64_t repeat = 1, every = 0;
      Report(errors, line.GetDurationMs("at", &l.at_ms, true));
      Report(errors, line.GetString("line", &l.text, true));
      Report(errors, line.GetInt("repeat", &repeat));
      Report(errors, line.GetDurationMs("every", &every));
      Report(errors, line.RejectUnknownKeys());
      if (repeat < 1 || repeat > 1000000) {
        errors->push_back(line.Where("repeat") + ": error: 'repeat' must be 1 to 1000000");
        continue;
      }
      for (int64_t i = 0; i < repeat; ++i) {
        TestLine copy = l;
        copy.at_ms = l.at_ms + i * every;
        test->lines.push_back(std::move(copy));
      }
    }
  }
}

TestFile ReadTestFile(const std::string& path, Errors* errors) {
  TestFile file;
  Result<YAML::Node> doc = LoadYamlFile(path);
  if (!doc.ok()) {
    errors->push_back(doc.status().message());
    return file;
  }
  YamlMap top(*doc, path);
  if (Status s = top.Check("a test file (rules, batch_interval, tests)"); !s.ok()) {
    Report(errors, s);
    return file;
  }
  std::vector<std::string> rules;
  Report(errors, top.GetStringList("rules", &rules));
  if (!top.Has("rules")) errors->push_back(top.Where() + ": error: missing key 'rules'");
  for (const auto& r : rules) file.rule_files.push_back(ResolvePath(path, r));
  Report(errors, top.GetDurationMs("batch_interval", &file.batch_ms));
  YAML::Node tests = top.Get("tests");
  Report(errors, top.RejectUnknownKeys());
  if (!tests || !tests.IsSequence()) {
    errors->push_back(top.Where() + ": error: 'tests' must be a list of tests");
    return file;
  }
  for (const auto& test_node : tests) {
    YamlMap t(test_node, path);
    if (Status s = t.Check("a test (name, input, expect)"); !s.ok()) {
      Report(errors, s);
      continue;
    }
    TestCase test;
    test.where = t.Where();
    Report(errors, t.GetString("name", &test.name, true));
    YAML::Node input = t.Get("input");
    YAML::Node expect = t.Get("expect");
    Report(errors, t.RejectUnknownKeys());
    if (input) ReadInput(input, path, &test, errors);
    if (!expect || !expect.IsSequence()) {
      errors->push_back(test.where + ": error: 'expect' must be a list of {at, alerts, events}");
      continue;
    }
    for (const auto& e_node : expect) {
      YamlMap e(e_node, path);
      if (Status s = e.Check("an expectation (at, rule, alerts, events)"); !s.ok()) {
        Report(errors, s);
        continue;
      }
      Expectation x;
      x.where = e.Where();
      Report(errors, e.GetDurationMs("at", &x.at_ms, true));
      Report(errors, e.GetString("rule", &x.rule));
      x.has_alerts = e.Has("alerts");
      x.has_events = e.Has("events");
      x.alerts = ReadAlertList(e.Get("alerts"), path, "alerts", errors);
      x.events = ReadAlertList(e.Get("events"), path, "events", errors);
      Report(errors, e.RejectUnknownKeys());
      if (!x.has_alerts && !x.has_events) {
        errors->push_back(x.where + ": error: an expectation needs 'alerts' or 'events'");
      }
      if (!test.expect.empty() && x.at_ms < test.expect.back().at_ms) {
        errors->push_back(x.where + ": error: expectations must be in time order");
      }
      test.expect.push_back(std::move(x));
    }
    file.tests.push_back(std::move(test));
  }
  return file;
}

std::string Describe(const std::string& rule, const std::string& state,
                     const std::map<std::string, std::string>& key) {
  std::string out = state + " " + rule + " {";
  bool first = true;
  for (const auto& [k, v] : key) {
    out += (first ? "" : ", ") + k + "=" + v;
    first = false;
  }
  return out + "}";
}

std::map<std::string, std::string> KeyOf(const engine::Alert& a) {
  return {a.fields.begin(), a.fields.end()};
}

std::string DescribeActual(const engine::Alert& a) {
  std::string out = Describe(a.rule, engine::AlertStateName(a.state), KeyOf(a)) +
                    " count=" + std::to_string(a.count) +
                    " severity=" + rules::SeverityName(a.severity) + " message=\"" + a.message +
                    "\"";
  for (const auto& [k, v] : a.labels) out += " " + k + "=" + v;
  if (a.repeat) out += " repeat";
  return out;
}

std::string DescribeExpected(const ExpectedAlert& e) {
  std::string out = Describe(e.rule, e.state, e.key);
  if (e.has_count) out += " count=" + std::to_string(e.count);
  if (e.has_severity) out += " severity=" + e.severity;
  if (e.has_message) out += " message=\"" + e.message + "\"";
  for (const auto& [k, v] : e.labels) out += " " + k + "=" + v;
  if (e.has_repeat && e.repeat) out += " repeat";
  return out;
}

bool Matches(const ExpectedAlert& e, const engine::Alert& a) {
  return e.rule == a.rule && e.state == engine::AlertStateName(a.state) && e.key == KeyOf(a) &&
         (!e.has_count || e.count == a.count) && (!e.has_message || e.message == a.message) &&
         (!e.has_severity || e.severity == rules::SeverityName(a.severity)) &&
         (!e.has_labels || e.labels == a.labels) && (!e.has_repeat || e.repeat == a.repeat);
}

// Pairs expected with actual alerts (order-insensitive for `alerts`, in order for `events`)
// and returns a diff, or "" when they agree.
std::string Diff(const std::vector<ExpectedAlert>& expected,
                 const std::vector<engine::Alert>& actual, bool ordered) {
  std::vector<bool> used(actual.size(), false);
  std::vector<int> pair(expected.size(), -1);
  bool same = expected.size() == actual.size();
  for (size_t i = 0; i < expected.size(); ++i) {
    for (size_t j = ordered ? i : 0; j < actual.size(); ++j) {
      if (!used[j] && Matches(expected[i], actual[j])) {
        used[j] = true;
        pair[i] = static_cast<int>(j);
        break;
      }
      if (ordered) break;
    }
    if (pair[i] < 0) same = false;
  }
  if (same) return "";
  std::string out;
  for (size_t i = 0; i < expected.size(); ++i) {
    out += (pair[i] >= 0 ? "      " : "    - ") + DescribeExpected(expected[i]) + "\n";
  }
  for (size_t j = 0; j < actual.size(); ++j) {
    if (!used[j]) out += "    + " + DescribeActual(actual[j]) + "\n";
  }
  return out;
}

// Runs one test; returns the failures' text ("" when it passes).
std::string RunOne(const TestCase& test, const std::shared_ptr<const rules::RuleSet>& rules,
                   int64_t batch_ms) {
  engine::EngineOptions options;
  options.batch_interval_ms = batch_ms;
  options.emit_pending = true;
  engine::Engine engine(rules, options);
  std::vector<TestLine> lines = test.lines;
  std::stable_sort(lines.begin(), lines.end(),
                   [](const TestLine& a, const TestLine& b) { return a.at_ms < b.at_ms; });
  size_t next = 0;
  std::vector<engine::Alert> events;
  std::string failures;
  for (const auto& x : test.expect) {
    // Lines at or after `at` belong to batches still open at the evaluation time.
    for (; next < lines.size() && lines[next].at_ms < x.at_ms; ++next) {
      const TestLine& l = lines[next];
      engine::InputLine in;
      in.text = l.text;
      in.host = l.host;
      in.file = l.file;
      in.tag = l.tag;
      in.time_ms = l.at_ms;
      engine.Ingest(in);
    }
    events.clear();
    engine.AdvanceWatermark(x.at_ms, &events);
    auto wanted = [&](const std::string& rule) { return x.rule.empty() || x.rule == rule; };
    std::string diff;
    if (x.has_events) {
      std::vector<engine::Alert> actual;
      for (const auto& a : events) {
        if (wanted(a.rule)) actual.push_back(a);
      }
      std::string d = Diff(x.events, actual, /*ordered=*/true);
      if (!d.empty()) diff += "  events (- expected, + actual):\n" + d;
    }
    if (x.has_alerts) {
      std::vector<engine::Alert> actual;
      for (size_t i = 0; i < rules->rules().size(); ++i) {
        if (!wanted(rules->rules()[i].name)) continue;
        std::vector<std::string> keys;
        engine.ForEachKeyState(i, [&](const std::string& key, const engine::KeyState& state) {
          if (state.phase != engine::KeyPhase::kIdle) keys.push_back(key);
        });
        std::sort(keys.begin(), keys.end());
        for (const auto& key : keys) actual.push_back(engine.window(i, key).Describe(key));
      }
      std::string d = Diff(x.alerts, actual, /*ordered=*/false);
      if (!d.empty()) diff += "  active alerts (- expected, + actual):\n" + d;
    }
    if (!diff.empty()) {
      failures += "  " + x.where + ": at " + FormatDurationMs(x.at_ms) + "\n" + diff;
    }
  }
  return failures;
}

}  // namespace

Result<RuleTestReport> RunRuleTests(const std::string& path) {
  Errors errors;
  TestFile file = ReadTestFile(path, &errors);
  rules::RuleSetOptions rule_options;
  rule_options.batch_interval_ms = file.batch_ms;
  std::vector<rules::Rule> all;
  std::set<std::string> names;
  for (const auto& rule_file : file.rule_files) {
    for (auto& rule : rules::ParseRulesFile(rule_file, rule_options, &errors)) {
      if (!names.insert(rule.name).second) {
        errors.push_back(rule.source + ": error: rule name '" + rule.name + "' is used twice");
        continue;
      }
      all.push_back(std::move(rule));
    }
  }
  std::string message;
  for (const auto& e : errors) message += (message.empty() ? "" : "\n") + e;
  if (!errors.empty()) return Status::InvalidArgument(message);
  auto rules = rules::RuleSet::FromRules(std::move(all));
  if (!rules.ok()) return rules.status();

  RuleTestReport report;
  for (const auto& test : file.tests) {
    const std::string failures = RunOne(test, *rules, file.batch_ms);
    if (failures.empty()) {
      ++report.passed;
      report.text += "ok    " + test.name + "\n";
    } else {
      ++report.failed;
      report.text += "FAIL  " + test.name + " (" + test.where + ")\n" + failures;
    }
  }
  return report;
}

}  // namespace ember::cli
