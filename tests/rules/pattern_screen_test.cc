// How the Hyperscan screen takes each pattern: exactly, by its required literal (a superset of
// its lines, for the caller to confirm), or in prefilter mode; and that a screen loaded from
// the cache takes them the same way.
#include "rules/pattern_screen.h"

#include <string>
#include <vector>

#include <catch2/catch.hpp>

#include "rules/screen_cache.h"
#include "tests/support/temp_dir.h"

using namespace ember;
using namespace ember::rules;

#if defined(EMBER_HAVE_HYPERSCAN)

namespace {

// Which patterns the screen reports for each of `lines` (joined by '\n', as MatchLines does).
std::vector<std::vector<size_t>> Candidates(const PatternScreen& screen,
                                            const std::vector<std::string>& lines) {
  std::string text;
  std::vector<uint32_t> starts;
  for (const auto& line : lines) {
    starts.push_back(static_cast<uint32_t>(text.size()));
    text += line + '\n';
  }
  starts.push_back(static_cast<uint32_t>(text.size()));
  const size_t words = (screen.pattern_count() + 63) / 64;
  std::vector<uint64_t> bits(lines.size() * words, 0);
  PatternScreen::Scratch scratch;
  REQUIRE(screen.Scan(text, starts, words, bits.data(), scratch));
  std::vector<std::vector<size_t>> out(lines.size());
  for (size_t l = 0; l < lines.size(); ++l) {
    for (size_t p = 0; p < screen.pattern_count(); ++p) {
      if (bits[l * words + p / 64] >> (p % 64) & 1) out[l].push_back(p);
    }
  }
  return out;
}

}  // namespace

TEST_CASE("PatternScreen: patterns to confirm are screened by a literal long enough for it",
          "[rules][screen][unit]") {
  const std::vector<std::string> patterns = {
      "Accepted publickey for (?P<u>[^ ]+) from",  // 0: a long literal
      "rhost=(?P<r>\\S+)",                         // 1: 6 characters, cheap to confirm
      "rhost=(?P<r>\\S+)x",                        // 2: 6 characters, RE2 confirms
      "(?i)FAILED PASSWORD for (?P<u>\\S+)",       // 3: long, to be found in any case
      "abc(?P<x>d)+",                              // 4: 3 characters: too short
      "took=[0-9]+ms",                             // 5: decided exactly
  };
  const std::vector<bool> want_exact = {false, false, false, false, false, true};
  const std::vector<bool> cheap_confirm = {true, true, false, false, true, false};
  test::TempDir dir;
  const ScreenCache cache(dir.Sub("screens"));
  for (int load = 0; load < 2; ++load) {
    INFO("from the cache: " << load);
    auto screen = PatternScreen::Build(patterns, want_exact, cheap_confirm, &cache);
    REQUIRE(screen != nullptr);
    CHECK(screen->from_cache() == (load == 1));
    CHECK(screen->screened_count() == patterns.size());
    CHECK(screen->by_literal(0));
    CHECK(screen->by_literal(1));
    CHECK_FALSE(screen->by_literal(2));
    CHECK(screen->by_literal(3));
    CHECK_FALSE(screen->by_literal(4));
    CHECK_FALSE(screen->by_literal(5));
    CHECK(screen->exact(5));
    CHECK(screen->exact_count() == 1);
    // A literal's lines are a superset of the pattern's; the regex modes report fewer.
    const auto found = Candidates(*screen, {"Accepted publickey for root",  // 0 (no " from")
                                            "rhost= ",                      // 1, not 2
                                            "x rhost=abx y",                // 1 and 2
                                            "failed password FOR bob",      // 3
                                            "abc took=12ms",                // 5, not 4
                                            "abcd took=ms"});               // 4, not 5
    CHECK(found[0] == std::vector<size_t>{0});
    CHECK(found[1] == std::vector<size_t>{1});
    CHECK(found[2] == std::vector<size_t>{1, 2});
    CHECK(found[3] == std::vector<size_t>{3});
    CHECK(found[4] == std::vector<size_t>{5});
    CHECK(found[5] == std::vector<size_t>{4});
  }
  // Whether confirming is cheap is part of the cache's key: the other choice compiles anew.
  auto other = PatternScreen::Build(patterns, want_exact, {}, &cache);
  REQUIRE(other != nullptr);
  CHECK_FALSE(other->from_cache());
  CHECK_FALSE(other->by_literal(1));
  CHECK(other->by_literal(0));
}

#endif
