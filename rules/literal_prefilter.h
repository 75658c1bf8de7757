// LiteralPrefilter: rules out, before any regex runs, the lines no rule can match, from the
// literal strings every match of a pattern must contain (RE2's FilteredRE2 "atoms"). Most log
// lines match no rule, so most lines then cost a lowercase copy and a few memmem calls
// instead of an RE2::Set pass. RE2 stays the meaning of every pattern: a line the prefilter
// lets through is matched by RE2 as before. Immutable after Build; thread-safe; MayMatch
// takes per-thread scratch.
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace re2 {
class FilteredRE2;
}

namespace ember::rules {

class LiteralPrefilter {
 public:
  // Scratch for MayMatch; one per thread.
  struct Scratch {
    std::string lowered;
    std::vector<int> atoms;
    std::vector<int> potentials;
  };

  // nullptr when prefiltering cannot help or cannot be exact: a pattern without a required
  // literal (every line would pass), a literal that is not ASCII (lowercasing the text
  // byte-wise would not match RE2's Unicode folding), or more than kMaxAtoms literals (one
  // memmem each would cost more than the RE2::Set pass it saves).
  static std::unique_ptr<LiteralPrefilter> Build(const std::vector<std::string>& patterns);
  ~LiteralPrefilter();

  // False only if no pattern can match `line` (lines with non-ASCII bytes are always let
  // through).
  bool MayMatch(std::string_view line, Scratch& scratch) const;

  const std::vector<std::string>& atoms() const { return atoms_; }

  // Whether every match of `pattern` must contain some literal of 3 or more characters (so
  // lines can be screened for it). False for patterns like `\d+ \w+` or an invalid one.
  static bool HasRequiredLiteral(const std::string& pattern);

  static constexpr size_t kMaxAtoms = 8;

 private:
  LiteralPrefilter();
  std::unique_ptr<re2::FilteredRE2> filter_;
  std::vector<std::string> atoms_;  // lowercase
};

}  // namespace ember::rules
