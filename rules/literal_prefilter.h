// LiteralPrefilter: rules out, before any regex runs, the lines no rule can match, from the
// literal strings every match of a pattern must contain (RE2's FilteredRE2 "atoms"). Most log
// lines match no rule, so most lines then cost a lowercase copy and a few memmem calls
// instead of an RE2::Set pass. RE2 stays the meaning of every pattern: a line the prefilter
// lets through is matched by RE2 as before. Immutable after Build; thread-safe; MayMatch
// takes per-thread scratch.
#pragma once

#include <cstdint>
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
    std::vector<int> atoms;
    std::vector<int> potentials;
  };

  // nullptr when prefiltering cannot help or cannot be exact: a pattern without a required
  // literal (every line would pass), a literal that is not ASCII (lowercasing the text
  // byte-wise would not match RE2's Unicode folding), or more than kMaxAtoms literals (one
  // search each would cost more than the RE2::Set pass it saves).
  static std::unique_ptr<LiteralPrefilter> Build(const std::vector<std::string>& patterns);
  ~LiteralPrefilter();

  // False only if no pattern can match `line` (lines with non-ASCII bytes are always let
  // through).
  bool MayMatch(std::string_view line, Scratch& scratch) const;

  // The same screening for many lines at once: sets (*may_match)[i] to false for the lines
  // that contain no literal at all (and are pure ASCII), true for the others. Lines must be
  // views into one buffer in increasing order (an agent's frame): each literal is searched
  // once across the buffer (ASCII case folded on the fly, no copy), instead of once per
  // line. Returns false,
  // leaving *may_match alone, when the lines are not laid out so.
  bool ScreenLines(const std::vector<std::string_view>& lines,
                   std::vector<uint8_t>* may_match) const;

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

// Whether `text` holds a byte >= 0x80 (it is not pure ASCII); 16 bytes at a time with SSE2.
bool HasNonAscii(std::string_view text);
// The same, or a '\n' in it (a line the Hyperscan screen's joined lines would cut): one pass.
bool HasNonAsciiOrNewline(std::string_view text);
// Whether `joined` (lines each followed by '\n') is pure ASCII with exactly `lines` '\n' bytes:
// then no line in it is cut by a '\n' of its own or holds a byte beyond ASCII. One pass.
bool IsAsciiLines(std::string_view joined, size_t lines);

}  // namespace ember::rules
