#include "rules/rule_set.h"

#include <cctype>
#include <filesystem>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include <catch2/catch.hpp>
#include <re2/re2.h>

#include "common/hash.h"
#include "tests/support/loghub.h"
#include "tests/support/temp_dir.h"

using namespace ember;
using namespace ember::rules;

namespace {

class Recorder final : public MatchVisitor {
 public:
  void OnMatch(size_t rule, const RuleMatch& match) override {
    hits.emplace_back(rule, std::string(match.key));
  }
  std::vector<std::pair<size_t, std::string>> hits;
};

const char* kGoodRules = R"(rules:
  - name: ssh-bruteforce
    match: 'Failed password for (?:invalid user )?(?P<user>\S+) from (?P<ip>[\d.]+)'
    by: [ip]
    window: 60s
    every: 10s
    when: count >= 5
    severity: critical
    message: '{{count}} failed logins from {{ip}} in {{window}}'
  - name: errors
    match: 'ERROR'
    by: [host, file]
    window: 30s
    when: count > 2
)";

std::shared_ptr<const RuleSet> LoadGoodRules(const test::TempDir& dir) {
  Diagnostics d;
  auto set = RuleSet::Load(dir.Write("r.yaml", kGoodRules), RuleSetOptions{}, &d);
  REQUIRE(set.ok());
  return *set;
}

}  // namespace

TEST_CASE("RuleSet: loads a rules directory with every documented field",
          "[rules][rule_set][unit]") {
  test::TempDir dir;
  dir.Write("rules/a.yaml", kGoodRules);
  dir.Write("rules/ignored.txt", "not yaml at all: [");
  Diagnostics d;
  auto set = RuleSet::Load(dir.Sub("rules"), RuleSetOptions{}, &d);
  INFO(d.size());
  REQUIRE(set.ok());
  REQUIRE((*set)->rules().size() == 2);
  const Rule& r = (*set)->rules()[0];
  CHECK(r.name == "ssh-bruteforce");
  CHECK(r.window_ms == 60000);
  CHECK(r.every_ms == 10000);
  CHECK(r.when.ToString() == "count >= 5");
  CHECK(r.severity == Severity::kCritical);
  CHECK(r.source == dir.Sub("rules/a.yaml") + ":2:5");
  const Rule& e = (*set)->rules()[1];
  CHECK(e.every_ms == 1000);  // defaults to the batch interval
  CHECK(e.severity == Severity::kWarning);
  CHECK(e.when.Holds(3));
  CHECK_FALSE(e.when.Holds(2));
}

TEST_CASE("RuleSet: one pass reports every matching rule with its key fields",
          "[rules][rule_set][unit]") {
  test::TempDir dir;
  auto set = LoadGoodRules(dir);
  MatchScratch scratch;
  Recorder rec;
  set->Match("sshd[1]: ERROR Failed password for invalid user bob from 10.1.2.3 port 22",
             LineSource{"web1", "/var/log/auth.log", ""}, scratch, rec);
  REQUIRE(rec.hits.size() == 2);
  CHECK(rec.hits[0] == std::make_pair(size_t{0}, std::string("10.1.2.3")));
  CHECK(rec.hits[1] ==
        std::make_pair(size_t{1}, std::string("web1") + kKeySeparator + "/var/log/auth.log"));
  rec.hits.clear();
  set->Match("all quiet", LineSource{"web1", "f", ""}, scratch, rec);
  CHECK(rec.hits.empty());
  CHECK(SplitKey(std::string("a") + kKeySeparator + "b") == std::vector<std::string>{"a", "b"});
}

TEST_CASE("RuleSet: a key value holding the separator cannot forge another key",
          "[rules][rule_set][unit]") {
  test::TempDir dir;
  auto set = LoadGoodRules(dir);
  MatchScratch scratch;
  Recorder rec;
  const std::string host = std::string("h") + kKeySeparator + "x";
  set->Match("ERROR", LineSource{host, "f", ""}, scratch, rec);
  REQUIRE(rec.hits.size() == 1);
  CHECK(SplitKey(rec.hits[0].second) == std::vector<std::string>{"h?x", "f"});
}

TEST_CASE("RuleSet: a key field longer than its share is cut, keeping values apart",
          "[rules][rule_set][hostile][unit]") {
  // Short values are kept as they are.
  std::string key;
  CHECK_FALSE(AppendKeyField(key, "10.0.0.1", 128));
  CHECK(key == "10.0.0.1");
  // A long one: its first bytes, '~' and the hash of the whole value, within the limit.
  const std::string a = std::string(300, 'x') + "a", b = std::string(300, 'x') + "b";
  std::string ka, kb;
  CHECK(AppendKeyField(ka, a, 128));
  CHECK(AppendKeyField(kb, b, 128));
  CHECK(ka.size() == 128);
  CHECK(ka.substr(0, 111) == std::string(111, 'x'));
  CHECK(ka[111] == '~');
  CHECK(ka.substr(112) == HashHex(Fnv1a64(a)));
  CHECK(ka != kb);
  // Never inside a UTF-8 character: 'é' is two bytes, and the cut falls in the middle of one.
  std::string accents;
  for (int i = 0; i < 100; ++i) accents += "\xC3\xA9";
  std::string kc;
  CHECK(AppendKeyField(kc, "x" + accents, 65));
  const std::string kept = kc.substr(0, kc.find('~'));
  CHECK(kept.size() == 47);  // 'x' and 23 whole characters: the 48th byte would split one
  CHECK(kept == "x" + accents.substr(0, 46));
  // Through the matcher: every field gets its share of kMaxKeyBytes, and the match says so.
  test::TempDir dir;
  Diagnostics d;
  auto set = RuleSet::Load(dir.Write("r.yaml", R"(rules:
  - name: users
    match: 'user=(?P<user>\S+) ip=(?P<ip>\S+)'
    by: [user, ip]
    window: 10s
)"),
                           RuleSetOptions{}, &d);
  REQUIRE(set.ok());
  struct Keys final : MatchVisitor {
    void OnMatch(size_t, const RuleMatch& m) override {
      keys.emplace_back(m.key);
      cut.push_back(m.key_cut);
    }
    std::vector<std::string> keys;
    std::vector<bool> cut;
  } seen;
  MatchScratch scratch;
  (*set)->Match("user=" + std::string(5000, 'u') + " ip=10.0.0.1", LineSource{"h", "f", ""},
                scratch, seen);
  (*set)->Match("user=bob ip=10.0.0.2", LineSource{"h", "f", ""}, scratch, seen);
  REQUIRE(seen.keys.size() == 2);
  CHECK(seen.cut == std::vector<bool>{true, false});
  const std::vector<std::string> fields = SplitKey(seen.keys[0]);
  REQUIRE(fields.size() == 2);
  CHECK(fields[0].size() == kMaxKeyBytes / 2);
  CHECK(fields[1] == "10.0.0.1");
  CHECK(SplitKey(seen.keys[1]) == std::vector<std::string>{"bob", "10.0.0.2"});
}

TEST_CASE("RuleSet: every problem is reported as file:line:col: error", "[rules][rule_set][unit]") {
  struct Case {
    const char* what;
    std::string yaml;
    std::string expected;  // substring of the diagnostic
    std::string location;  // ":line:col:" of the diagnostic
  };
  const std::vector<Case> cases = {
      {"bad pattern", "rules:\n  - name: x\n    match: 'a(b'\n    window: 10s\n",
       "invalid pattern: missing ): a(b", ":3:12:"},
      {"duplicate key",
       "rules:\n  - name: x\n    match: a\n    window: 10s\n    when: count >= 2\n    window: 1m\n",
       "duplicate key 'window' (first at line 4)", ":6:5:"},
      {"unknown field", "rules:\n  - name: x\n    match: a\n    window: 10s\n    severty: info\n",
       "unknown key 'severty' (did you mean 'severity'?)", ":5:5:"},
      {"unknown by field",
       "rules:\n  - name: x\n    match: '(?P<ip>\\S+)'\n    by: [ipp]\n    window: 10s\n",
       "'ipp' is neither a named capture", ":4:9:"},
      {"window not multiple",
       "rules:\n  - name: x\n    match: a\n    window: 15s\n    every: 10s\n",
       "must be a positive multiple of 'every'", ":4:13:"},
      {"every not multiple of batch",
       "rules:\n  - name: x\n    match: a\n    window: 3s\n    every: 1500ms\n",
       "multiple of the batch interval", ":5:12:"},
      {"duration without unit", "rules:\n  - name: x\n    match: a\n    window: 10\n",
       "has no unit", ":4:13:"},
      {"bad template field",
       "rules:\n  - name: x\n    match: a\n    window: 10s\n    message: '{{user}} did it'\n",
       "template field '{{user}}'", ":5:14:"},
      {"bad condition", "rules:\n  - name: x\n    match: a\n    window: 10s\n    when: count ~ 3\n",
       "cannot read condition 'count ~ 3'", ":5:11:"},
      {"condition that never holds",
       "rules:\n  - name: x\n    match: a\n    window: 10s\n    when: count < 1\n",
       "'count < 1' can never hold", ":5:11:"},
      {"bad unless pattern",
       "rules:\n  - name: x\n    match: a\n    window: 10s\n    unless: ['ok', 'x(']\n",
       "invalid pattern 'x(': missing ): x(", ":5:13:"},
      {"missing match", "rules:\n  - name: x\n    window: 10s\n", "missing required key 'match'",
       ":2:5:"},
      {"bad yaml", "rules:\n  - name: [x\n", "error:", ":"},
      {"not a list", "rules: 5\n", "'rules' must be a list", ":1:8:"},
      {"bad severity", "rules:\n  - name: x\n    match: a\n    window: 10s\n    severity: loud\n",
       "unknown severity 'loud'", ":5:15:"},
      {"unknown aggregate",
       "rules:\n  - name: x\n    match: a\n    window: 10s\n    when: cout >= 3\n",
       "unknown aggregate 'cout': use count, rate, sum, min, max, avg, distinct, ratio or total; "
       "did you mean 'count'?",
       ":5:11:"},
      {"avg without value",
       "rules:\n  - name: x\n    match: 'took (?P<ms>\\d+)'\n    window: 10s\n    when: avg > 5\n",
       "'avg' needs 'value': the named capture holding the number", ":5:11:"},
      {"value not a capture",
       "rules:\n  - name: x\n    match: 'took (?P<ms>\\d+)'\n    window: 10s\n    value: mss\n",
       "'mss' is not a named capture of the pattern; did you mean 'ms'?", ":5:12:"},
      {"ratio without ratio_of",
       "rules:\n  - name: x\n    match: a\n    window: 10s\n    when: ratio > 0.1 and total >= 5\n",
       "'ratio' needs 'ratio_of'", ":5:11:"},
      {"ratio_of without the by capture",
       "rules:\n  - name: x\n    match: '(?P<vhost>\\S+) 500'\n    ratio_of: '\\S+ \\d+'\n"
       "    by: [vhost]\n    window: 10s\n    when: ratio > 0.1\n",
       "the 'ratio_of' pattern has no capture named 'vhost'", ":4:15:"},
      {"for not a multiple of every",
       "rules:\n  - name: x\n    match: a\n    window: 10s\n    every: 5s\n    for: 7s\n",
       "'for' (7s) must be a multiple of 'every' (5s)", ":6:10:"},
      {"unknown kind", "rules:\n  - name: x\n    match: a\n    window: 10s\n    kind: absent\n",
       "unknown kind 'absent': use threshold, absence, new_key or top_k", ":5:11:"},
      {"when on an absence rule",
       "rules:\n  - name: x\n    kind: absence\n    match: a\n    window: 10s\n"
       "    when: count > 3\n",
       "'when' does not apply to kind 'absence'", ":6:11:"},
      {"new_key without by",
       "rules:\n  - name: x\n    kind: new_key\n    match: a\n    window: 10s\n",
       "a new_key rule needs 'by'", ":3:11:"},
      {"top_k without top",
       "rules:\n  - name: x\n    kind: top_k\n    match: '(?P<k>\\w+)'\n    by: [k]\n"
       "    window: 10s\n",
       "a top_k rule needs 'top'", ":3:11:"},
      {"bad flap damping",
       "rules:\n  - name: x\n    match: a\n    window: 10s\n"
       "    flap_damping: {starts: 1, within: 1m}\n",
       "'starts' must be 2 or more", ":5:19:"},
      {"bad label name",
       "rules:\n  - name: x\n    match: a\n    window: 10s\n    labels: {9team: web}\n",
       "label name '9team' must be letters, digits and '_'", ":5:14:"},
      {"bad time zone",
       "rules:\n  - name: x\n    match: '(?P<ts>\\S+) a'\n    window: 10s\n"
       "    timestamp: {field: ts, timezone: Europe/Atlantis}\n",
       "timezone 'Europe/Atlantis' is not UTC, an offset such as +02:00, nor a zone in "
       "/usr/share/zoneinfo",
       ":5:38:"},
      {"time stamp field not a capture",
       "rules:\n  - name: x\n    match: '(?P<ts>\\S+) a'\n    window: 10s\n"
       "    timestamp: {field: time}\n",
       "'time' is not a named capture of the pattern", ":5:16:"},
      {"a name too long to name records",
       "rules:\n  - name: " + std::string(129, 'n') + "\n    match: a\n    window: 10s\n",
       "at most 128 bytes, without control characters", ":2:11:"},
      {"a name with a control character",
       "rules:\n  - name: \"a\\tb\"\n    match: a\n    window: 10s\n", "without control characters",
       ":2:11:"},
      {"too many key fields",
       "rules:\n  - name: x\n    match: a\n    window: 10s\n"
       "    by: [host, file, tag, host, file, tag, host, file, tag]\n",
       "'by' names at most 8 fields, not 9", ":5:9:"},
      {"template field from nowhere",
       "rules:\n  - name: x\n    match: a\n    window: 10s\n    message: '{{avg}} {{team}}'\n",
       "template field '{{team}}'", ":5:14:"},
  };
  for (const auto& c : cases) {
    SECTION(c.what) {
      test::TempDir dir;
      std::string path = dir.Write("r.yaml", c.yaml);
      Diagnostics d;
      auto set = RuleSet::Load(path, RuleSetOptions{}, &d);
      CHECK_FALSE(set.ok());
      REQUIRE_FALSE(d.empty());
      INFO(d[0]);
      CHECK(d[0].rfind(path + c.location, 0) == 0);
      CHECK(d[0].find(c.expected) != std::string::npos);
    }
  }
}

TEST_CASE("RuleSet: duplicate rule names across files are refused", "[rules][rule_set][unit]") {
  test::TempDir dir;
  dir.Write("d/a.yaml", "rules:\n  - name: x\n    match: a\n    window: 10s\n");
  dir.Write("d/b.yml", "rules:\n  - name: x\n    match: b\n    window: 10s\n");
  Diagnostics d;
  CHECK_FALSE(RuleSet::Load(dir.Sub("d"), RuleSetOptions{}, &d).ok());
  REQUIRE(d.size() == 1);
  CHECK(d[0].find("rule name 'x' is used twice") != std::string::npos);
}

TEST_CASE("RuleSet: a changed definition changes the digest, a reformatted one does not",
          "[rules][rule_set][unit]") {
  test::TempDir dir;
  Diagnostics d;
  auto a = RuleSet::Load(dir.Write("a.yaml", "rules:\n  - {name: x, match: a, window: 10s}\n"),
                         RuleSetOptions{}, &d);
  auto b =
      RuleSet::Load(dir.Write("b.yaml", "rules:\n  - name: x\n    match: a\n    window: 10s\n"),
                    RuleSetOptions{}, &d);
  auto c = RuleSet::Load(dir.Write("c.yaml", "rules:\n  - {name: x, match: a, window: 20s}\n"),
                         RuleSetOptions{}, &d);
  REQUIRE(a.ok());
  REQUIRE(b.ok());
  REQUIRE(c.ok());
  CHECK((*a)->rules()[0].digest == (*b)->rules()[0].digest);
  CHECK((*a)->rules()[0].digest != (*c)->rules()[0].digest);
}

namespace {

// Every line of the 16 Loghub samples, then variants of it: after a Kelvin sign (which folds
// to 'k'), after a Kelvin sign and "ernel: ", and with its case flipped.
std::vector<std::string> LoghubLinesAndVariants() {
  std::vector<std::string> lines;
  for (std::string line : test::LoghubLines()) {
    lines.push_back(line);
    lines.push_back("\xE2\x84\xAA" + line);
    lines.push_back(
        "\xE2\x84\xAA"
        "ernel: " +
        line);
    for (char& c : line)
      c = std::isupper(static_cast<unsigned char>(c)) ? std::tolower(c) : std::toupper(c);
    lines.push_back(line);
  }
  return lines;
}

}  // namespace

namespace {

// What RE2 alone says a line matches: every rule's `match`, then every `ratio_of`, each
// searched unanchored with its groups, the key joined from the `by` fields. Written apart
// from RuleSet (no set, no screen, no prefix anchoring) to be the oracle for its fast paths.
std::vector<std::pair<size_t, std::string>> Re2Alone(const std::vector<Rule>& rules,
                                                     std::string_view line,
                                                     const LineSource& source) {
  std::vector<std::pair<size_t, std::string>> out;
  for (bool ratio : {false, true}) {
    for (size_t r = 0; r < rules.size(); ++r) {
      const Rule& rule = rules[r];
      const re2::RE2* re = ratio ? rule.ratio_regex.get() : rule.regex.get();
      if (re == nullptr) continue;
      std::vector<re2::StringPiece> groups(static_cast<size_t>(re->NumberOfCapturingGroups()) + 1);
      if (!re->Match(re2::StringPiece(line.data(), line.size()), 0, line.size(), RE2::UNANCHORED,
                     groups.data(), static_cast<int>(groups.size()))) {
        continue;
      }
      bool excluded = false;
      for (const auto& u : rule.unless_regex) {
        excluded = excluded || RE2::PartialMatch(re2::StringPiece(line.data(), line.size()), *u);
      }
      if (excluded) continue;
      std::string key;
      const std::vector<int>& by = ratio ? rule.ratio_by_groups : rule.by_groups;
      for (size_t f = 0; f < by.size(); ++f) {
        if (f > 0) key.push_back(kKeySeparator);
        const int g = by[f];
        // Values as the line holds them, each within its share of the key (AppendKeyField,
        // tested on its own).
        AppendKeyField(key,
                       g == -1   ? source.host
                       : g == -2 ? source.file
                       : g == -3 ? source.tag
                                 : std::string_view(groups[static_cast<size_t>(g)].data(),
                                                    groups[static_cast<size_t>(g)].size()),
                       kMaxKeyBytes / by.size());
      }
      out.emplace_back(r, key);
    }
  }
  return out;
}

class LinesRecorder final : public LineMatchVisitor {
 public:
  explicit LinesRecorder(size_t lines) : hits(lines) {}
  void OnMatch(size_t line, size_t rule, const RuleMatch& match) override {
    if (line < last_line) out_of_order = true;
    last_line = line;
    hits[line].emplace_back(rule, std::string(match.key));
  }
  std::vector<std::vector<std::pair<size_t, std::string>>> hits;
  size_t last_line = 0;
  bool out_of_order = false;
};

// Lines that test the edges of screening: a prefix occurring before the real match, words
// at a line's very start and end, non-ASCII and binary bytes, an empty line, a long line.
std::vector<std::string> EdgeLines() {
  std::vector<std::string> lines = {
      "",
      "ERROR",
      "xERRORx",
      "ERROR at the start",
      "at the end ERROR",
      "connect from host from 10.0.0.1 port 22 ssh2",
      "Failed password for from from 1.2.3.4",
      "Failed password for invalid user bob from 192.168.0.1 port 22 ssh2",
      "Failed password for invalid user  from 1.1.1.1",
      "session opened for user root by (uid=0)",
      "\x01\x02\x7f binary ERROR \x03",
      "caf\xC3\xA9 ERROR \xC3\xA9"
      "chec",
      "\xE2\x84\xAA"
      "ernel: oops",
      "Nov 14 kernel: panic ssh2",
      "kernel:",
      "ERR\nOR",
      // Adjacent in the joined lines: a class holding '\n' would match across them.
      "Failed",
      "  password root x",
      "user",
      "x from",
      "Failed\x0bpassword\x0bx",  // a vertical tab: RE2's \s does not hold it, Hyperscan's does
      "port\x0b"
      "22 ",
      std::string(100000, 'a') + " ERROR " + std::string(1000, 'b') + " from 9.9.9.9",
  };
  return lines;
}

}  // namespace

TEST_CASE("RuleSet: every way of screening finds exactly what RE2 alone finds",
          "[rules][rule_set][prefilter][unit]") {
  test::TempDir dir;
  std::vector<std::string> lines = LoghubLinesAndVariants();
  REQUIRE(lines.size() > 30000);
  for (const auto& e : EdgeLines()) lines.push_back(e);
  // (rules, whether Hyperscan should take every pattern when ember is built with it)
  const std::vector<std::pair<std::string, bool>> sets = {
      {kGoodRules, true},
      {R"(rules:
  - name: failures
    match: '(?i)error|fail(ed|ure)'
    by: [host]
    window: 1m
    when: count >= 3
  - name: sessions
    match: 'session opened for user (?P<u>\w+)'
    by: [u]
    window: 1m
    when: count >= 3
  - name: kernel
    match: '(?i)kernel'
    window: 1m
    when: count >= 3
  - name: closed
    match: 'Connection closed by [\d.]+'
    unless: ['port 2[0-9]']
    window: 1m
    when: count >= 3
  - name: from
    match: 'from (?P<ip>\d+\.\d+\.\d+\.\d+)'
    by: [ip, file]
    window: 1m
    when: count >= 3
  - name: ratio
    match: '(?P<h>[a-z]+) ERROR'
    ratio_of: '(?P<h>[a-z]+) '
    by: [h]
    window: 1m
    when: ratio > 0.5
)",
       true},
      // Anchors, boundaries, classes and dots; no required literal in some.
      {R"(rules:
  - name: dates
    match: '\d{4}-\d\d-\d\d'
    window: 1m
    when: count >= 3
  - name: words
    match: '\bERROR\b'
    window: 1m
    when: count >= 3
  - name: starts
    match: '^Nov \d+'
    window: 1m
    when: count >= 3
  - name: ends
    match: 'ssh2$'
    window: 1m
    when: count >= 3
  - name: spaces
    match: '\s+session\s+(?P<what>\S+)'
    by: [what]
    window: 1m
    when: count >= 3
  - name: dot
    match: 'k.rnel:'
    window: 1m
    when: count >= 3
  - name: posix
    match: '[[:digit:]]{2}:[[:digit:]]{2}:[[:digit:]]{2} (?P<w>[[:alpha:]]+)'
    by: [w]
    window: 1m
    when: count >= 3
)",
       true},
      // Without captures: decided by the screen alone, written without '\n' (all but the
      // last two, which it screens for RE2 to confirm).
      {R"(rules:
  - name: spaces
    match: 'Failed\s+password\s\S+'
    window: 1m
    when: count >= 3
  - name: nonword
    match: 'port\W\d+\D'
    window: 1m
    when: count >= 3
  - name: negated
    match: 'user [^ ]+ from'
    window: 1m
    when: count >= 3
  - name: dot
    match: 'k.rnel.*(panic|oops)'
    window: 1m
    when: count >= 3
  - name: anchors
    match: '^Nov\s+\d+ .*ssh2$'
    window: 1m
    when: count >= 3
  - name: words
    match: '(?i)\berror\b'
    window: 1m
    when: count >= 3
  - name: per-host
    match: 'session (opened|closed)'
    by: [host]
    window: 1m
    when: count >= 3
  - name: keyed
    match: 'from (?P<ip>[\d.]+)'
    by: [ip]
    window: 1m
    when: count >= 3
  - name: dotall
    match: '(?s)ERR.OR'
    window: 1m
    when: count >= 3
)",
       true},
      // Screened for their required literals (RE2 or the walk confirms): literals far
      // commoner than the matches, folded case, escaped punctuation, a literal in the middle.
      {R"(rules:
  - name: invalid
    match: 'invalid user (?P<user>admin|oracle|test)'
    by: [user]
    window: 1m
    when: count >= 3
  - name: folded
    match: '(?i)FAILED PASSWORD FOR (?P<user>\S+)'
    by: [user]
    window: 1m
    when: count >= 3
  - name: pam
    match: 'pam_unix\(sshd:auth\): (?P<what>[a-z ]+);'
    by: [what]
    window: 1m
    when: count >= 3
  - name: disconnect
    match: '(?P<ip>[\d.]+): 11: (?P<why>\w+) \[preauth\]'
    by: [ip]
    window: 1m
    when: count >= 3
  - name: unless
    match: 'Failed password for (?P<user>\w+)'
    unless: ['from 1[0-9]']
    by: [user]
    window: 1m
    when: count >= 3
)",
       true},
      // Patterns Hyperscan is not given: they run RE2 on every line beside the screen.
      {R"(rules:
  - name: text-start
    match: '\AJun'
    window: 1m
    when: count >= 3
  - name: ungreedy
    match: '(?U)user (?P<u>\w+)'
    by: [u]
    window: 1m
    when: count >= 3
  - name: unicode
    match: '(?i)\x{e9}chec|caf\x{e9}'
    window: 1m
    when: count >= 3
  - name: letters
    match: '\pL+ERROR'
    window: 1m
    when: count >= 3
  - name: plain
    match: 'ERROR'
    window: 1m
    when: count >= 3
)",
       false},
  };
  for (const auto& [yaml, all_screened] : sets) {
    INFO(yaml);
    Diagnostics d;
    const std::string file = dir.Write("set.yaml", yaml);
    std::vector<Rule> rules = ParseRulesFile(file, RuleSetOptions{}, &d);
    for (const auto& e : d) UNSCOPED_INFO(e);
    REQUIRE(d.empty());
    const LineSource source{"h", "f", "t"};
    std::vector<std::vector<std::pair<size_t, std::string>>> expected;
    size_t matched = 0;
    for (const auto& line : lines) {
      expected.push_back(Re2Alone(rules, line, source));
      matched += expected.back().size();
    }
    CHECK(matched > 100);
    // The best screening three times: compiled, compiled and stored in a screen cache, and
    // loaded from it.
    const std::string cache = dir.Sub("screens");
    const std::pair<RuleSet::Screening, std::string> ways[] = {{RuleSet::Screening::kBest, ""},
                                                               {RuleSet::Screening::kLiterals, ""},
                                                               {RuleSet::Screening::kNone, ""},
                                                               {RuleSet::Screening::kBest, cache},
                                                               {RuleSet::Screening::kBest, cache}};
    for (size_t way = 0; way < std::size(ways); ++way) {
      const auto& [screening, cache_dir] = ways[way];
      auto set = RuleSet::FromRules(rules, screening, cache_dir);
      REQUIRE(set.ok());
      const std::string kind((*set)->screen_kind());
      INFO("screening: " << kind << " cache: " << cache_dir);
      CHECK((*set)->screen_cache_status().ok());
#if defined(EMBER_HAVE_HYPERSCAN)
      CHECK((*set)->screen_from_cache() == (way == 4));
      if (screening == RuleSet::Screening::kBest) {
        CHECK(kind == "hyperscan");
        if (all_screened) CHECK((*set)->screened_patterns() == (*set)->pattern_count());
        if (yaml.find("name: dotall") != std::string::npos) CHECK((*set)->exact_patterns() == 7);
        // 'plain', and 'unicode' (written in ASCII: on ASCII lines it matches nothing either
        // way, and other lines go to RE2::Set).
        if (!all_screened) CHECK((*set)->screened_patterns() == 2);
      }
#endif
      if (screening == RuleSet::Screening::kNone) CHECK(kind == "none");
      MatchScratch scratch;
      // One line at a time.
      size_t differ = 0;
      for (size_t i = 0; i < lines.size(); ++i) {
        Recorder r;
        (*set)->Match(lines[i], source, scratch, r);
        if (r.hits != expected[i]) ++differ;
      }
      CHECK(differ == 0);
      // Many lines at once, in runs of varying length: as separate strings; packed as an
      // agent frame packs them (a 4-byte length before each line); and as a file is read,
      // scanned in place (each line followed by '\n', some by "\r\n", some lines elsewhere).
      enum class Layout { kSeparate, kFrame, kAsRead };
      for (Layout layout : {Layout::kSeparate, Layout::kFrame, Layout::kAsRead}) {
        INFO("layout: " << static_cast<int>(layout));
        size_t differ_many = 0;
        bool out_of_order = false;
        size_t step = 1;
        for (size_t first = 0; first < lines.size(); first += step, step = step * 3 % 2039 + 1) {
          const size_t last = std::min(lines.size(), first + step);
          std::string frame;
          std::vector<size_t> offsets;
          for (size_t i = first; i < last; ++i) {
            if (layout == Layout::kFrame) {
              const auto len = static_cast<uint32_t>(lines[i].size());
              frame.append(reinterpret_cast<const char*>(&len), 4);
            }
            offsets.push_back(frame.size());
            frame += lines[i];
            if (layout == Layout::kAsRead) frame += i % 7 == 3 ? "\r\n" : "\n";
          }
          std::vector<LineRef> refs;
          for (size_t i = first; i < last; ++i) {
            const bool elsewhere =
                layout == Layout::kSeparate || (layout == Layout::kAsRead && i % 11 == 5);
            refs.push_back(LineRef{
                elsewhere ? std::string_view(lines[i])
                          : std::string_view(frame).substr(offsets[i - first], lines[i].size()),
                &source});
          }
          LinesRecorder r(refs.size());
          (*set)->MatchLines(refs, scratch, r, /*in_place=*/layout == Layout::kAsRead);
          out_of_order = out_of_order || r.out_of_order;
          for (size_t i = first; i < last; ++i) {
            if (r.hits[i - first] != expected[i]) ++differ_many;
          }
        }
        CHECK(differ_many == 0);
        CHECK_FALSE(out_of_order);
      }
    }
#if !defined(EMBER_HAVE_HYPERSCAN)
    (void)all_screened;
#endif
  }
}

TEST_CASE("RuleSet: unless patterns and host/file/tag scopes decide what counts",
          "[rules][rule_set][unit]") {
  test::TempDir dir;
  Diagnostics d;
  auto set = RuleSet::Load(dir.Write("r.yaml", R"(rules:
  - name: fails
    match: 'auth fail from (?P<ip>[\d.]+)'
    by: [ip]
    window: 10s
    unless: ['from 10\.', 'user=monitor']
  - name: web-errors
    match: 'ERROR'
    window: 10s
    hosts: ['web*']
    files: ['/var/log/nginx/*']
  - name: tagged
    match: 'ERROR'
    window: 10s
    tags: [payments]
    when: count < 3
)"),
                           RuleSetOptions{}, &d);
  INFO((d.empty() ? "" : d[0]));
  REQUIRE(set.ok());
  MatchScratch scratch;
  auto rules_hit = [&](std::string_view line, LineSource source) {
    Recorder r;
    (*set)->Match(line, source, scratch, r);
    std::vector<size_t> out;
    for (const auto& [rule, key] : r.hits) out.push_back(rule);
    return out;
  };
  const LineSource web{"web1", "/var/log/nginx/error.log", ""};
  CHECK(rules_hit("auth fail from 203.0.113.9", web) == std::vector<size_t>{0});
  CHECK(rules_hit("auth fail from 10.1.2.3", web).empty());                  // unless
  CHECK(rules_hit("auth fail from 203.0.113.9 user=monitor", web).empty());  // unless
  CHECK(rules_hit("ERROR upstream", web) == std::vector<size_t>{1});
  CHECK(rules_hit("ERROR upstream", {"db1", "/var/log/nginx/error.log", ""}).empty());
  CHECK(rules_hit("ERROR upstream", {"web1", "/var/log/syslog", ""}).empty());
  CHECK(rules_hit("ERROR upstream", {"db1", "/x", "payments"}) == std::vector<size_t>{2});
  CHECK(rules_hit("ERROR upstream", {"web2", "/var/log/nginx/a/b.log", "payments"}) ==
        std::vector<size_t>{1, 2});  // fnmatch: `*` crosses '/'
  // `count < 3`: one or two matches in the window.
  const Rule& tagged = (*set)->rules()[2];
  CHECK(tagged.when.Holds(1));
  CHECK(tagged.when.Holds(2));
  CHECK_FALSE(tagged.when.Holds(3));
}

TEST_CASE("RuleSet: adding unless or a scope changes the digest and rules without them keep theirs",
          "[rules][rule_set][unit]") {
  test::TempDir dir;
  auto digest = [&](const std::string& extra) {
    Diagnostics d;
    auto set = RuleSet::Load(
        dir.Write("r.yaml", "rules:\n  - name: x\n    match: a\n    window: 10s\n" + extra),
        RuleSetOptions{}, &d);
    REQUIRE(set.ok());
    return (*set)->rules()[0].digest;
  };
  const std::string plain = digest("");
  CHECK(digest("    unless: b\n") != plain);
  CHECK(digest("    hosts: [web*]\n") != plain);
  CHECK(digest("    tags: [web*]\n") != digest("    hosts: [web*]\n"));
  CHECK(digest("    severity: info\n") == plain);  // presentation only
}

TEST_CASE("RuleSet: a match carries its number, its distinct value and whether it is a total",
          "[rules][rule_set][unit]") {
  test::TempDir dir;
  Diagnostics d;
  auto set = RuleSet::Load(dir.Write("r.yaml", R"(rules:
  - name: web
    match: '^(?P<vhost>\S+) (?P<status>5\d\d) (?P<ms>\S+) (?P<user>\S+)$'
    ratio_of: '^(?P<vhost>\S+) \d\d\d '
    by: [vhost]
    value: ms
    distinct: user
    window: 10s
    when: ratio > 0.5 and avg >= 10 and distinct >= 2
    labels: {team: web}
)"),
                           RuleSetOptions{}, &d);
  INFO((d.empty() ? "" : d[0]));
  REQUIRE(set.ok());
  const Rule& rule = (*set)->rules()[0];
  CHECK(rule.when.ToString() == "ratio > 0.5 and avg >= 10 and distinct >= 2");
  CHECK(rule.labels == std::map<std::string, std::string>{{"team", "web"}});
  struct Seen {
    std::string key;
    bool total, has_value;
    double value;
    std::string distinct;
  };
  class Collect final : public MatchVisitor {
   public:
    void OnMatch(size_t, const RuleMatch& m) override {
      seen.push_back({std::string(m.key), m.total, m.has_value, m.value, std::string(m.distinct)});
    }
    std::vector<Seen> seen;
  } rec;
  MatchScratch scratch;
  (*set)->Match("a.example 503 12.5 bob", LineSource{"h", "f", ""}, scratch, rec);
  (*set)->Match("a.example 200 3 bob", LineSource{"h", "f", ""}, scratch, rec);
  (*set)->Match("b.example 500 n/a eve", LineSource{"h", "f", ""}, scratch, rec);
  REQUIRE(rec.seen.size() == 5);
  // The 503: a match (with its number and user) and a total.
  CHECK(rec.seen[0].key == "a.example");
  CHECK_FALSE(rec.seen[0].total);
  CHECK(rec.seen[0].has_value);
  CHECK(rec.seen[0].value == 12.5);
  CHECK(rec.seen[0].distinct == "bob");
  CHECK(rec.seen[1].total);
  CHECK(rec.seen[1].key == "a.example");
  // The 200 only counts towards the total.
  CHECK(rec.seen[2].total);
  // "n/a" is not a number: the line counts, without a value.
  CHECK(rec.seen[3].key == "b.example");
  CHECK_FALSE(rec.seen[3].has_value);
  CHECK(rec.seen[4].total);

  // Conditions on numbers hold only where there are numbers.
  WindowValues v;
  v.count = 2;
  v.total = 3;
  CHECK_FALSE(rule.when.Holds(v));  // no number: avg undefined
  v.numeric = 2;
  v.sum = 30;
  v.distinct = 2;
  CHECK(rule.when.Holds(v));  // ratio 0.67, avg 15, 2 users
  v.total = 4;
  CHECK_FALSE(rule.when.Holds(v));  // ratio 0.5 is not > 0.5
}

TEST_CASE("RuleSet: a long line of failing starts costs linear work, with RE2's key",
          "[rules][rule_set][hostile][unit]") {
  // The prefix 'k' occurs two million times before the one match: trying each place anchored
  // would read the run after it each time (about 2e12 characters, hours); the tries are
  // bounded and RE2's linear search takes the rest. On an ASCII line (walked) and on one with
  // a byte beyond ASCII (RE2 anchored), with every way of screening.
  test::TempDir dir;
  Diagnostics d;
  std::vector<Rule> rules = ParseRulesFile(dir.Write("r.yaml", R"(rules:
  - name: kv
    match: 'k(?P<v>[a-z]+)='
    by: [v]
    window: 1m
    when: count >= 1
)"),
                                           RuleSetOptions{}, &d);
  REQUIRE(d.empty());
  const std::string run(2'000'000, 'k');
  const std::vector<std::string> lines = {run + "! kab=", run + "! kab= \xC3\xA9",
                                          run + "! no match here"};
  const LineSource source{"h", "f", "t"};
  for (auto screening :
       {RuleSet::Screening::kBest, RuleSet::Screening::kLiterals, RuleSet::Screening::kNone}) {
    auto set = RuleSet::FromRules(rules, screening, "");
    REQUIRE(set.ok());
    MatchScratch scratch;
    for (size_t i = 0; i < lines.size(); ++i) {
      INFO("screening " << (*set)->screen_kind() << ", line " << i);
      Recorder r;
      (*set)->Match(lines[i], source, scratch, r);
      CHECK(r.hits == Re2Alone(rules, lines[i], source));
      if (i < 2) {
        REQUIRE(r.hits.size() == 1);
        CHECK(r.hits[0].second == "ab");
      }
    }
  }
}
