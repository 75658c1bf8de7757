#include "rules/pattern_syntax.h"

#include <cctype>
#include <filesystem>
#include <functional>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include <catch2/catch.hpp>
#include <re2/re2.h>

#include "tests/support/loghub.h"

using namespace ember::rules;

namespace {

// How RE2 reads `lines` with pattern p and with its rewrite q: the lines where exactly one of
// them matches, and the lines p matches.
struct Agreement {
  size_t differ = 0, matched = 0;
};
Agreement Compare(const std::string& p, const std::string& q,
                  const std::vector<std::string>& lines) {
  RE2 a(p), b(q);
  REQUIRE(a.ok());
  REQUIRE(b.ok());
  Agreement out;
  for (const auto& line : lines) {
    const bool ma = RE2::PartialMatch(line, a);
    out.matched += ma ? 1 : 0;
    if (ma != RE2::PartialMatch(line, b)) ++out.differ;
  }
  return out;
}

// Over `lines`: how many hold a match of pattern p (RE2's leftmost), and for how many of
// those matches `holds` is false.
struct MatchCheck {
  size_t matched = 0, wrong = 0;
};
MatchCheck CheckMatches(const std::string& p, const std::vector<std::string>& lines,
                        const std::function<bool(std::string_view)>& holds) {
  RE2 re(p);
  REQUIRE(re.ok());
  MatchCheck out;
  for (const auto& line : lines) {
    re2::StringPiece whole;
    if (!re.Match(line, 0, line.size(), RE2::UNANCHORED, &whole, 1)) continue;
    ++out.matched;
    if (!holds(std::string_view(whole.data(), whole.size()))) ++out.wrong;
  }
  return out;
}

}  // namespace

TEST_CASE("LiteralPrefix: the leading literal run, without what a quantifier may drop",
          "[rules][prefix][unit]") {
  CHECK(LiteralPrefix("Accepted publickey for (?P<user>[^ ]+) from") == "Accepted publickey for ");
  CHECK(LiteralPrefix("sshd\\[[0-9]+\\]: Failed") == "sshd[");
  CHECK(LiteralPrefix("\\[x\\]y z") == "[x]y z");
  CHECK(LiteralPrefix("ab+c") == "a");
  CHECK(LiteralPrefix("abc?") == "ab");
  CHECK(LiteralPrefix("abc*d") == "ab");
  CHECK(LiteralPrefix("ab{2}") == "a");
  CHECK(LiteralPrefix("a\\++") == "a");
  CHECK(LiteralPrefix("a(b|c)") == "a");
  CHECK(LiteralPrefix("a[|]b") == "a");
  CHECK(LiteralPrefix("a\\|b") == "a|b");
  CHECK(LiteralPrefix("status=404 x") == "status=404 x");
  // No prefix can be proven.
  CHECK(LiteralPrefix("a|b").empty());
  CHECK(LiteralPrefix("abc|abd").empty());
  CHECK(LiteralPrefix("a[|]|b").empty());
  CHECK(LiteralPrefix("(?i)abc").empty());
  CHECK(LiteralPrefix("^abc").empty());
  CHECK(LiteralPrefix("\\babc").empty());
  CHECK(LiteralPrefix("\\d+ms").empty());
  CHECK(LiteralPrefix(".abc").empty());
  CHECK(LiteralPrefix("a*bc").empty());
  CHECK(LiteralPrefix("\\Qa|b\\E").empty());
  CHECK(LiteralPrefix("caf\xC3\xA9").substr(0, 3) == "caf");
  CHECK(LiteralPrefix("caf\xC3\xA9").size() == 3);
}

TEST_CASE("LiteralPrefix: every RE2 match of a pattern starts with its prefix",
          "[rules][prefix][unit]") {
  const std::vector<std::string> patterns = {
      "Failed password for (?:invalid user )?(?P<user>\\S+) from (?P<ip>[\\d.]+)",
      "session opened for user (?P<u>\\w+)",
      "Connection closed by [\\d.]+",
      "from (?P<ip>\\d+\\.\\d+\\.\\d+\\.\\d+)",
      "combo kernel: *[A-Z]+",
      "user(name)?=",
      "authentication failure;",
      "INFO [a-z]+",
      "ab*",
  };
  const std::vector<std::string> lines = ember::test::LoghubLines();
  REQUIRE(lines.size() > 20000);
  for (const auto& p : patterns) {
    INFO(p);
    const std::string prefix = LiteralPrefix(p);
    const MatchCheck c = CheckMatches(
        p, lines, [&](std::string_view whole) { return whole.substr(0, prefix.size()) == prefix; });
    CHECK(c.wrong == 0);
    if (p != "ab*" && p != "user(name)?=") CHECK(c.matched > 0);
  }
}

TEST_CASE("RequiredLiteral: the longest top-level literal run, without what may be absent",
          "[rules][prefix][unit]") {
  bool caseless = true;
  CHECK(RequiredLiteral("sshd\\[[0-9]+\\]: Failed password for (?:invalid user )?(?P<u>[^ ]+) "
                        "from (?P<ip>[0-9.]+)",
                        &caseless) == "]: Failed password for ");
  CHECK_FALSE(caseless);
  CHECK(RequiredLiteral("upstream '(?P<svc>[a-z]+)' returned (?P<c>5[0-9][0-9])", &caseless) ==
        "' returned ");
  CHECK(RequiredLiteral("from 203\\.0\\.113\\.(?P<last>[0-9]+) ", &caseless) == "from 203.0.113.");
  CHECK(RequiredLiteral("pam_unix\\(sshd:auth\\): (?P<w>[a-z ]+);", &caseless) ==
        "pam_unix(sshd:auth): ");
  // A character a quantifier follows may be absent or repeated: the run ends before it.
  CHECK(RequiredLiteral("abcd?efg", &caseless) == "abc");
  CHECK(RequiredLiteral("abcde+fg", &caseless) == "abcd");
  CHECK(RequiredLiteral("abcde{2}fg", &caseless) == "abcd");
  CHECK(RequiredLiteral("ab\\bcdef", &caseless) == "cdef");
  CHECK(RequiredLiteral("\\d+ \\w+", &caseless) == " ");  // short: the screen keeps the pattern
  // Groups are not looked into (they may be optional or alternatives).
  CHECK(RequiredLiteral("x(abcdef)?y", &caseless) == "x");
  CHECK(RequiredLiteral("(?:abcdef|g)hi", &caseless) == "hi");
  // Flags: i anywhere makes the run one to find in any case.
  CHECK(RequiredLiteral("(?i)failed password", &caseless) == "failed password");
  CHECK(caseless);
  CHECK(RequiredLiteral("user (?i:x) from host", &caseless) == " from host");
  CHECK(caseless);
  CHECK(RequiredLiteral("(?s)ERR.OR", &caseless) == "ERR");
  CHECK_FALSE(caseless);
  // None can be proven.
  CHECK(RequiredLiteral("abc|abd", &caseless).empty());
  CHECK(RequiredLiteral("(abc)", &caseless).empty());
  CHECK(RequiredLiteral("\\Qabc\\E", &caseless).empty());
}

TEST_CASE("RequiredLiteral: every RE2 match of a pattern holds its literal",
          "[rules][prefix][unit]") {
  const std::vector<std::string> patterns = {
      "Failed password for (?:invalid user )?(?P<user>\\S+) from (?P<ip>[\\d.]+)",
      "session opened for user (?P<u>\\w+)",
      "Received disconnect from (?P<ip>[\\d.]+): 11: (?P<why>\\w+)",
      "pam_unix\\(sshd:auth\\): authentication failure; .*rhost=(?P<r>[\\d.]+)",
      "(?i)CONNECTION CLOSED by (?P<ip>[\\d.]+)",
      "invalid user (?P<user>admin|oracle|test)",
      "combo kernel: *[A-Z]+",
      "user(name)?=",
  };
  const std::vector<std::string> lines = ember::test::LoghubLines();
  REQUIRE(lines.size() > 20000);
  for (const auto& p : patterns) {
    INFO(p);
    bool caseless = false;
    std::string literal = RequiredLiteral(p, &caseless);
    CHECK(literal.size() >= 4);
    auto fold = [&](std::string_view text) {
      std::string out(text);
      if (caseless) {
        for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
      }
      return out;
    };
    literal = fold(literal);
    const MatchCheck c = CheckMatches(p, lines, [&](std::string_view whole) {
      return fold(whole).find(literal) != std::string::npos;
    });
    CHECK(c.wrong == 0);
    if (p != "user(name)?=") CHECK(c.matched > 0);
  }
}

TEST_CASE("RequiredLiteral: random patterns' matches all hold their literal",
          "[rules][prefix][unit]") {
  std::mt19937 rng(20261204);
  auto pick = [&](size_t n) { return std::uniform_int_distribution<size_t>(0, n - 1)(rng); };
  static const char* const kAtoms[] = {"a",   "b",   "A", " ", "1",   "\\.", "\\[", "[ab]",
                                       "\\d", "\\w", ".", "x", "\\b", "^",   "$"};
  static const char* const kQuantifiers[] = {"", "", "", "", "?", "*", "+", "{2}", "{1,2}"};
  std::function<std::string(int)> sequence = [&](int depth) {
    std::string out;
    for (size_t i = 0, n = 1 + pick(6); i < n; ++i) {
      if (depth < 2 && pick(5) == 0) {
        std::string group = pick(2) == 0 ? "(" : pick(2) == 0 ? "(?:" : "(?i:";
        for (size_t a = 0, alternatives = 1 + pick(3); a < alternatives; ++a) {
          group += (a > 0 ? "|" : "") + sequence(depth + 1);
        }
        out += group + ")" + kQuantifiers[pick(std::size(kQuantifiers))];
      } else {
        out += std::string(kAtoms[pick(std::size(kAtoms))]) +
               (pick(3) == 0 ? kQuantifiers[pick(std::size(kQuantifiers))] : "");
      }
    }
    return out;
  };
  const std::string alphabet = "abAB 1.[x";
  size_t with_literal = 0, matches = 0;
  for (int p = 0; p < 3000; ++p) {
    std::string pattern = sequence(0);
    if (pick(6) == 0) pattern = "(?i)" + pattern;
    if (pick(8) == 0) pattern += "|" + sequence(1);
    RE2 re("(" + pattern + ")", RE2::Quiet);
    if (!re.ok()) continue;
    bool caseless = false;
    std::string literal = RequiredLiteral(pattern, &caseless);
    if (literal.size() >= 2) ++with_literal;
    auto fold = [&](std::string text) {
      if (caseless) {
        for (char& c : text) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
      }
      return text;
    };
    literal = fold(literal);
    INFO("pattern " << pattern << " literal '" << literal << "'");
    for (int t = 0; t < 60; ++t) {
      std::string text;
      for (size_t i = 0, n = pick(16); i < n; ++i) text += alphabet[pick(alphabet.size())];
      re2::StringPiece whole;
      if (!RE2::PartialMatch(text, re, &whole)) continue;
      ++matches;
      INFO("text '" << text << "' match '" << whole.as_string() << "'");
      CHECK(fold(whole.as_string()).find(literal) != std::string::npos);
    }
  }
  // The generator must reach patterns with literals, and their matches.
  CHECK(with_literal > 300);
  CHECK(matches > 5000);
}

TEST_CASE("ScreenableSyntax: patterns Hyperscan would read unlike RE2 are not screened",
          "[rules][prefix][unit]") {
  CHECK(ScreenableSyntax("Failed password for (?P<u>\\S+)"));
  CHECK(ScreenableSyntax("(?i)error|\\bWARN\\b"));
  CHECK(ScreenableSyntax("a\\\\A"));  // an escaped backslash, then A
  CHECK_FALSE(ScreenableSyntax("\\Aabc"));
  CHECK_FALSE(ScreenableSyntax("abc\\z"));
  CHECK_FALSE(ScreenableSyntax("a\\Cb"));
  CHECK_FALSE(ScreenableSyntax("\\pL+"));
  CHECK_FALSE(ScreenableSyntax("(?U)a+"));
  CHECK_FALSE(ScreenableSyntax("(?iU:a+)"));
  CHECK_FALSE(ScreenableSyntax("caf\xC3\xA9"));
}

TEST_CASE("ScreenPattern: repetition at the end is cut to what a match needs at least",
          "[rules][prefix][unit]") {
  CHECK(ScreenPattern("from (?P<ip>[0-9.]+)") == "from (?P<ip>[0-9.])");
  CHECK(ScreenPattern("Accepted for (?P<u>[^ ]+) from (?P<ip>[0-9.]+)") ==
        "Accepted for (?P<u>[^ ]+) from (?P<ip>[0-9.])");
  CHECK(ScreenPattern("ERROR: .*") == "ERROR: ");
  CHECK(ScreenPattern("took=\\d{2,4}") == "took=\\d{2}");
  CHECK(ScreenPattern("id=\\d{3}") == "id=\\d{3}");
  CHECK(ScreenPattern("x(ab)+") == "x(ab)");
  CHECK(ScreenPattern("x(ab)*") == "x");
  CHECK(ScreenPattern("x(a|b+)") == "x(a|b)");
  CHECK(ScreenPattern("code=(?:5\\d\\d)?") == "code=");
  CHECK(ScreenPattern("fail\\b\\w*") == "fail\\b");
  CHECK(ScreenPattern("a+?") == "a");
  // Unchanged: an anchor or a literal at the end, an escaped quantifier, a branch that
  // would become empty, a lone repeated atom, quoting.
  CHECK(ScreenPattern("ssh2 [0-9]+$") == "ssh2 [0-9]+$");
  CHECK(ScreenPattern("a\\+") == "a\\+");
  CHECK(ScreenPattern("a\\\\+") == "a\\\\");
  CHECK(ScreenPattern("x(a|b*)") == "x(a|b*)");
  CHECK(ScreenPattern("x|b*") == "x|b*");
  CHECK(ScreenPattern("a*") == "a*");
  CHECK(ScreenPattern("a{,3}") == "a{,3}");
  CHECK(ScreenPattern("\\Qa+\\E") == "\\Qa+\\E");
  CHECK(ScreenPattern("[a+]") == "[a+]");
}

TEST_CASE("ScreenPattern: a line holds a match of the cut pattern exactly when of the pattern",
          "[rules][prefix][unit]") {
  const std::vector<std::string> patterns = {
      "from (?P<ip>[\\d.]+)",    "session opened for user (?P<u>\\w+)", "kernel: .*",
      "port \\d{2,5}",           "(?:error|fail(?:ed|ure)?)\\s*",       "uid=[0-9]*",
      "[A-Z][a-z]+(?: [a-z]+)*",
  };
  const std::vector<std::string> lines = ember::test::LoghubLines();
  for (const auto& p : patterns) {
    const std::string cut = ScreenPattern(p);
    INFO(p << " -> " << cut);
    CHECK(cut != p);
    const Agreement agreement = Compare(p, cut, lines);
    CHECK(agreement.differ == 0);
    CHECK(agreement.matched > 0);
  }
}

TEST_CASE("LineBoundPattern: what could match a newline is written out without it",
          "[rules][prefix][unit]") {
  CHECK(LineBoundPattern("\\bERROR\\b") == "\\bERROR\\b");
  CHECK(LineBoundPattern("a\\sb") == "a[\\t\\f\\r ]b");
  CHECK(LineBoundPattern("a\\Sb") == "a[^\\t\\n\\f\\r ]b");
  CHECK(LineBoundPattern("\\W\\D\\d\\w") == "[^0-9A-Za-z_\\n][^0-9\\n]\\d\\w");
  CHECK(LineBoundPattern("user [^ ]+ from") == "user [^ \\n]+ from");
  CHECK(LineBoundPattern("[^]x]") == "[^]x\\n]");
  CHECK(LineBoundPattern("(?i)k.rnel: (?P<what>[[:alpha:]]+)$") ==
        "(?i)k.rnel: (?P<what>[[:alpha:]]+)$");
  CHECK(LineBoundPattern("(?i:error|fail(?:ed)?)") == "(?i:error|fail(?:ed)?)");
  // Not sure, or not the same in both: no exact form.
  CHECK(LineBoundPattern("(?s)a.b").empty());
  CHECK(LineBoundPattern("(?m)^a").empty());
  CHECK(LineBoundPattern("a\\vb").empty());
  CHECK(LineBoundPattern("a\\nb").empty());
  CHECK(LineBoundPattern("a\\x0ab").empty());
  CHECK(LineBoundPattern("[\\s]").empty());
  CHECK(LineBoundPattern("[[:space:]]").empty());
  CHECK(LineBoundPattern("[[:^alpha:]]").empty());
  CHECK(LineBoundPattern("a\tb").empty());
  CHECK(LineBoundPattern("\\Aabc").empty());
  CHECK(LineBoundPattern("caf\xC3\xA9").empty());
}

TEST_CASE(
    "LineBoundPattern: a line holds a match of the written-out pattern exactly when of "
    "the pattern",
    "[rules][prefix][unit]") {
  const std::vector<std::string> patterns = {
      "Failed\\s+password\\s\\S+",
      "port\\W\\d+\\D",
      "user [^ ]+ from",
      "[^a-z]{3}\\s[^0-9]",
      "\\S+@\\S+",
      "(?i)session\\s(opened|closed)",
      "[^\\]]+\\]:\\s",
      "\\D\\D\\W\\s*\\S{2,}",
  };
  std::vector<std::string> lines = ember::test::LoghubLines();
  for (const char* extra : {"Failed\x0bpassword\x0bx",
                            "port\x0b"
                            "22 ",
                            "a\x0b\x0c"
                            "b",
                            ""}) {
    lines.push_back(extra);
  }
  for (const auto& p : patterns) {
    const std::string bound = LineBoundPattern(p);
    INFO(p << " -> " << bound);
    REQUIRE_FALSE(bound.empty());
    const Agreement agreement = Compare(p, bound, lines);
    CHECK(agreement.differ == 0);
    CHECK(agreement.matched > 0);
  }
}
