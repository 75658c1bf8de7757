#include "rules/direct_capture.h"

#include <filesystem>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include <catch2/catch.hpp>
#include <re2/re2.h>

#include "rules/pattern_syntax.h"
#include "tests/support/loghub.h"

using namespace ember::rules;

namespace {

std::unique_ptr<DirectCapture> CompileLike(const std::string& pattern) {
  RE2 re(pattern, RE2::Quiet);
  REQUIRE(re.ok());
  return DirectCapture::Compile(pattern, re.NumberOfCapturingGroups());
}

// Whether the walk and RE2 agree on the anchored match at `at`: both fail, or both match with
// the same bounds for the match and every group (a group that took no part is null in both).
bool Agree(const RE2& re, const DirectCapture& direct, std::string_view text, size_t at,
           std::string* why) {
  const int n = re.NumberOfCapturingGroups() + 1;
  std::vector<re2::StringPiece> want(static_cast<size_t>(n)), got(static_cast<size_t>(n));
  const bool re_match = re.Match(re2::StringPiece(text.data(), text.size()), at, text.size(),
                                 RE2::ANCHOR_START, want.data(), n);
  size_t budget = SIZE_MAX;
  const bool walk_match =
      direct.MatchAt(text, at, got.data(), n, &budget) == DirectCapture::Outcome::kMatch;
  std::ostringstream out;
  out << "text '" << text << "' at " << at << ": ";
  if (re_match != walk_match) {
    out << "RE2 " << (re_match ? "matches" : "does not match") << ", the walk "
        << (walk_match ? "matches" : "does not");
    *why = out.str();
    return false;
  }
  for (int g = 0; re_match && g < n; ++g) {
    const auto& w = want[static_cast<size_t>(g)];
    const auto& h = got[static_cast<size_t>(g)];
    if (w.data() != h.data() || w.size() != h.size()) {
      out << "group " << g << ": RE2 '" << (w.data() ? std::string(w.data(), w.size()) : "null")
          << "', the walk '" << (h.data() ? std::string(h.data(), h.size()) : "null") << "'";
      *why = out.str();
      return false;
    }
  }
  return true;
}

// The Loghub lines the walk is given: ASCII without '\n'.
std::vector<std::string> PlainLoghubLines() {
  std::vector<std::string> lines;
  for (std::string& line : ember::test::LoghubLines()) {
    bool plain = true;
    for (char c : line) plain = plain && static_cast<unsigned char>(c) < 0x80 && c != '\n';
    if (plain) lines.push_back(std::move(line));
  }
  return lines;
}

// A random pattern over a small alphabet, in and around the walked subset.
class PatternMaker {
 public:
  explicit PatternMaker(uint32_t seed) : rng_(seed) {}
  std::string Make() {
    group_ = 0;
    return Sequence(0);
  }

 private:
  size_t Pick(size_t n) { return std::uniform_int_distribution<size_t>(0, n - 1)(rng_); }
  std::string Sequence(int depth) {
    std::string out;
    const size_t items = 1 + Pick(4);
    for (size_t i = 0; i < items; ++i) out += Item(depth);
    return out;
  }
  std::string Item(int depth) {
    static const char* const kAtoms[] = {"a",   "b",   " ",   "1", "[ab]",  "[^a ]", "[0-9]", "\\d",
                                         "\\w", "\\s", "\\S", ".", "[a-c]", "\\.",   "x"};
    static const char* const kQuantifiers[] = {"", "", "", "?", "*", "+", "{2}", "{1,2}", "{1,}"};
    if (depth < 2 && Pick(4) == 0) {
      std::string group = Pick(2) == 0   ? "("
                          : Pick(2) == 0 ? "(?:"
                                         : "(?P<g" + std::to_string(++group_) + ">";
      const size_t alternatives = 1 + Pick(3);
      for (size_t a = 0; a < alternatives; ++a) {
        if (a > 0) group += "|";
        group += Sequence(depth + 1);
      }
      group += ")";
      if (Pick(3) == 0) group += "?";
      return group;
    }
    return std::string(kAtoms[Pick(std::size(kAtoms))]) +
           kQuantifiers[Pick(std::size(kQuantifiers))];
  }
  std::mt19937 rng_;
  int group_ = 0;
};

}  // namespace

TEST_CASE("DirectCapture: patterns outside the walked subset are refused",
          "[rules][direct][unit]") {
  for (const char* p : {
           "Accepted publickey for (?P<user>[^ ]+) from (?P<ip>[0-9.]+)",
           "sshd\\[[0-9]+\\]: Failed password for (?:invalid user )?(?P<user>[^ ]+) from "
           "(?P<ip>[0-9.]+)",
           "upstream '(?P<svc>[a-z]+)' returned (?P<code>5[0-9][0-9])",
           "invalid user (?P<user>oracle|postgres|pi)",
           "from (?P<ip>\\d+\\.\\d+\\.\\d+\\.\\d+)",
           "took=(?P<ms>\\d{1,5})ms",
           "x(a|)y",
       }) {
    INFO(p);
    CHECK(CompileLike(p) != nullptr);
  }
  for (const char* p : {
           "(?i)error (\\w+)",  // flags
           "^start (\\w+)",     // anchors
           "end (\\w+)$",
           "a\\bword",            // word boundary
           "user=(\\w+)\\w",      // a run that would have to give back
           "x[a-z]+[a-z]",        //
           "x(?:ab)+",            // repeated group
           "x(a+?)",              // lazy
           "x\\x41",              // hex escape
           "x[[:alpha:]]",        // named class
           "caf\xC3\xA9 (\\w+)",  // not ASCII
           "x{,3}",               // RE2 reads it as literal text
           "took=(\\d{01,3})",    // ... and a count with a leading zero
           "x(a*)?a",             // ... also through a group's end
       }) {
    INFO(p);
    CHECK(CompileLike(p) == nullptr);
  }
  // Group counts must agree with RE2's.
  CHECK(DirectCapture::Compile("a(b)(c)", 1) == nullptr);
}

TEST_CASE("DirectCapture: random patterns walk to RE2's match and groups at every start",
          "[rules][direct][unit]") {
  PatternMaker maker(20261203);
  std::mt19937 rng(7);
  const std::string alphabet = "ab 1.x2";
  size_t walked = 0, matched = 0, compared = 0;
  for (int p = 0; p < 4000; ++p) {
    const std::string pattern = maker.Make();
    RE2 re(pattern, RE2::Quiet);
    if (!re.ok()) continue;
    auto direct = DirectCapture::Compile(pattern, re.NumberOfCapturingGroups());
    if (!direct) continue;
    ++walked;
    INFO("pattern " << pattern);
    for (int t = 0; t < 40; ++t) {
      std::string text;
      const size_t length = std::uniform_int_distribution<size_t>(0, 12)(rng);
      for (size_t i = 0; i < length; ++i) {
        text += alphabet[std::uniform_int_distribution<size_t>(0, alphabet.size() - 1)(rng)];
      }
      for (size_t at = 0; at <= text.size(); ++at) {
        std::string why;
        ++compared;
        if (!Agree(re, *direct, text, at, &why)) FAIL(why);
        re2::StringPiece whole;
        size_t budget = SIZE_MAX;
        if (direct->MatchAt(text, at, &whole, 1, &budget) == DirectCapture::Outcome::kMatch &&
            !whole.empty()) {
          ++matched;
        }
      }
    }
  }
  // The generator must reach the subset, and the walks must find non-empty matches.
  CHECK(walked > 1000);
  CHECK(matched > compared / 20);
}

TEST_CASE("DirectCapture: log patterns agree with RE2 on every Loghub line",
          "[rules][direct][unit]") {
  const std::vector<std::string> lines = PlainLoghubLines();
  REQUIRE(lines.size() > 20000);
  const std::vector<std::string> patterns = {
      "Failed password for (?:invalid user )?(?P<user>[^ ]+) from (?P<ip>[0-9.]+)",
      "session opened for user (?P<u>\\w+)",
      "Connection closed by (?P<ip>[\\d.]+)",
      "rhost=(?P<host>\\S*)",
      "user (?P<user>root|guest|test) ?",
      "Receiving block (?P<block>blk_-?\\d+) src: /(?P<src>[\\d.]+):(?P<port>\\d+)",
      "PacketResponder (?P<n>\\d+) for block (?P<blk>blk_-?\\d+)",
      "instance: (?P<id>[0-9a-f-]{36})\\]? ?(?P<rest>.*)",
      " (?P<level>INFO|WARN|ERROR|FATAL) (?P<cls>[\\w.$]+)",
      "size (?P<size>\\d+)(?: bytes)?",
      "uid=(?P<uid>\\d+) euid=(?P<euid>\\d+)",
  };
  size_t walked = 0;
  for (const auto& p : patterns) {
    INFO(p);
    RE2 re(p);
    REQUIRE(re.ok());
    auto direct = DirectCapture::Compile(p, re.NumberOfCapturingGroups());
    if (!direct) continue;
    ++walked;
    const std::string prefix = LiteralPrefix(p);
    size_t matches = 0;
    for (const auto& line : lines) {
      // Every start where production walks (the prefix's places), and a few others.
      for (size_t at = prefix.empty() ? 0 : line.find(prefix); at != std::string::npos;
           at = prefix.empty() ? std::string::npos : line.find(prefix, at + 1)) {
        std::string why;
        if (!Agree(re, *direct, line, at, &why)) FAIL(why);
        size_t budget = SIZE_MAX;
        matches += direct->MatchAt(line, at, nullptr, 0, &budget) == DirectCapture::Outcome::kMatch;
      }
      for (size_t at : {size_t{0}, line.size() / 3, line.size() / 2, line.size()}) {
        std::string why;
        if (!Agree(re, *direct, line, at, &why)) FAIL(why);
      }
    }
    CHECK(matches > 0);
  }
  CHECK(walked >= 8);
}

TEST_CASE("DirectCapture: a walk gives up when the characters it may examine run out",
          "[rules][direct][unit]") {
  auto direct = CompileLike("k(?P<v>[a-z]+)=");
  REQUIRE(direct != nullptr);
  const std::string text = "k" + std::string(1000, 'a') + "=";
  re2::StringPiece groups[2];
  size_t budget = 500;  // the run alone is 1,000 characters
  CHECK(direct->MatchAt(text, 0, groups, 2, &budget) == DirectCapture::Outcome::kGaveUp);
  budget = 1100;
  CHECK(direct->MatchAt(text, 0, groups, 2, &budget) == DirectCapture::Outcome::kMatch);
  CHECK(groups[1].size() == 1000);
  CHECK(budget < 100);  // spent what it read
  // A budget shared by tries: the second try has only what the first left.
  budget = 1100;
  CHECK(direct->MatchAt(text, 1, groups, 2, &budget) == DirectCapture::Outcome::kNoMatch);
  CHECK(direct->MatchAt(text, 0, groups, 2, &budget) == DirectCapture::Outcome::kMatch);
  CHECK(direct->MatchAt(text, 0, groups, 2, &budget) == DirectCapture::Outcome::kGaveUp);
}
