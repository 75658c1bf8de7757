// DirectCapture: a pattern's anchored match and groups found by one walk over the text, for
// patterns simple enough that the walk gives exactly what RE2 gives (leftmost-first, greedy).
// RE2 spends about 150–200 ns on a capturing match of a short line whatever its engine; this
// walk takes a few nanoseconds per byte, which matters when most lines are a rule's match.
//
// The subset: ASCII literals and escaped punctuation; classes of ASCII members, ranges and
// \d \w \s (and their negations, and `.`); these with ?, *, +, {n}, {n,}, {n,m}; groups
// (capturing, named or not) holding alternatives, optional with a trailing `?`. A repeated
// class must be followed by something that cannot start with a character it takes (or by the
// pattern's end), so its run never has to give characters back: the only choices walked
// again are the alternatives and the optional groups, at most kMaxPaths combinations. Anything
// else (flags, anchors, \b, lazy or nested repetition, non-ASCII) is refused: RE2 runs it.
// Immutable after Compile and thread-safe.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include <re2/stringpiece.h>

namespace ember::rules {

class DirectCapture {
 public:
  static constexpr size_t kMaxPaths = 256;

  // Null when the pattern is outside the subset, or its capturing groups are not `groups`
  // (RE2's count for it).
  static std::unique_ptr<DirectCapture> Compile(std::string_view pattern, int groups);

  // What RE2's Match(text, at, text.size(), ANCHOR_START, out, n) gives, for `text` of ASCII
  // bytes without '\n' (the caller checks): whether a match starts at `at`, and then out[0]
  // the match and out[g] group g (empty with a null data pointer when it took no part).
  // `budget`: the characters the walk may still examine, shared by the calls for one line and
  // spent by this one; kGaveUp (outputs unset) when it ran out first. A walk costs about the
  // characters it passes, times the alternatives it retries; the caller bounds the line's
  // total and asks RE2, whose search is linear, when the walk gave up.
  enum class Outcome { kNoMatch, kMatch, kGaveUp };
  Outcome MatchAt(std::string_view text, size_t at, re2::StringPiece* out, int n,
                  size_t* budget) const;

  struct Node;
  using Sequence = std::vector<Node>;

 private:
  DirectCapture() = default;
  Sequence root_;
  int groups_ = 0;
};

// One item of a pattern: a literal run, a character set repeated [min, max] times, or a
// group of alternatives (capture >= 1: its group number; 0: not capturing).
struct DirectCapture::Node {
  enum class Kind { kLiteral, kSet, kGroup } kind = Kind::kLiteral;
  std::string literal;
  std::array<uint64_t, 2> set{};  // ASCII bytes taken
  std::array<bool, 256> takes{};  // the same by byte, for the walk (false beyond ASCII)
  size_t min = 1, max = 1;
  int capture = 0;
  bool optional = false;
  std::vector<Sequence> alternatives;
};

}  // namespace ember::rules
