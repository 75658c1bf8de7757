#include "rules/literal_prefilter.h"

#include <algorithm>
#include <cstdint>
#include <cstring>

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

#include <re2/filtered_re2.h>
#include <re2/re2.h>

namespace ember::rules {

LiteralPrefilter::LiteralPrefilter() : filter_(std::make_unique<re2::FilteredRE2>(3)) {}
LiteralPrefilter::~LiteralPrefilter() = default;

std::unique_ptr<LiteralPrefilter> LiteralPrefilter::Build(
    const std::vector<std::string>& patterns) {
  if (patterns.empty()) return nullptr;
  std::unique_ptr<LiteralPrefilter> p(new LiteralPrefilter());
  RE2::Options options;
  options.set_log_errors(false);
  for (const auto& pattern : patterns) {
    int id = 0;
    if (p->filter_->Add(pattern, options, &id) != RE2::NoError) return nullptr;
  }
  p->filter_->Compile(&p->atoms_);
  if (p->atoms_.empty() || p->atoms_.size() > kMaxAtoms) return nullptr;
  for (const auto& atom : p->atoms_) {
    for (unsigned char c : atom) {
      if (c >= 0x80) return nullptr;
    }
  }
  // A pattern that passes with no literal found would make every line a candidate.
  std::vector<int> always;
  p->filter_->AllPotentials({}, &always);
  if (!always.empty()) return nullptr;
  return p;
}

bool LiteralPrefilter::HasRequiredLiteral(const std::string& pattern) {
  re2::FilteredRE2 filter(3);
  RE2::Options options;
  options.set_log_errors(false);
  int id = 0;
  if (filter.Add(pattern, options, &id) != RE2::NoError) return false;
  std::vector<std::string> atoms;
  filter.Compile(&atoms);
  std::vector<int> always;
  filter.AllPotentials({}, &always);
  return !atoms.empty() && always.empty();
}

namespace {

// ASCII lowercase of one byte; other bytes unchanged.
inline char FoldByte(char c) {
  return c >= 'A' && c <= 'Z' ? static_cast<char>(c + ('a' - 'A')) : c;
}

// Whether text[0, n) equals the (lowercase) `atom` when ASCII letters are folded.
inline bool EqualsFolded(const char* text, std::string_view atom) {
  for (size_t k = 0; k < atom.size(); ++k) {
    if (FoldByte(text[k]) != atom[k]) return false;
  }
  return true;
}

}  // namespace

namespace {

// Whether `text` holds a byte >= 0x80, or (kNewline) a '\n': one pass, 16 bytes at a time with
// SSE2. A '\n' byte is turned into a set high bit where it is found, so one test sees both.
template <bool kNewline>
bool HasByteBeyondAscii(std::string_view text) {
  size_t i = 0;
#if defined(__SSE2__)
  if (text.size() >= 16) {
    __m128i acc = _mm_setzero_si128();
    const __m128i newline = _mm_set1_epi8('\n');
    for (; i + 16 <= text.size(); i += 16) {
      const __m128i v = _mm_loadu_si128(reinterpret_cast<const __m128i*>(text.data() + i));
      acc = _mm_or_si128(acc, v);
      if constexpr (kNewline) acc = _mm_or_si128(acc, _mm_cmpeq_epi8(v, newline));
    }
    if (_mm_movemask_epi8(acc) != 0) return true;
  }
#endif
  constexpr uint64_t kOnes = 0x0101010101010101ULL, kHigh = 0x8080808080808080ULL;
  uint64_t any = 0;
  for (; i + 8 <= text.size(); i += 8) {
    uint64_t x;
    std::memcpy(&x, text.data() + i, 8);
    any |= x;
    if constexpr (kNewline) {
      const uint64_t y = x ^ (kOnes * '\n');  // a zero byte where x holds '\n'
      any |= (y - kOnes) & ~y & kHigh;
    }
  }
  for (; i < text.size(); ++i) {
    const auto c = static_cast<unsigned char>(text[i]);
    any |= c;
    if constexpr (kNewline) any |= c == '\n' ? 0x80 : 0;
  }
  return (any & kHigh) != 0;
}

}  // namespace

bool HasNonAscii(std::string_view text) { return HasByteBeyondAscii<false>(text); }

bool IsAsciiLines(std::string_view joined, size_t lines) {
  size_t i = 0, newlines = 0;
  unsigned high = 0;
#if defined(__SSE2__)
  __m128i acc = _mm_setzero_si128();
  const __m128i newline = _mm_set1_epi8('\n');
  while (i + 16 <= joined.size()) {
    // Per byte lane, minus the '\n' bytes seen (cmpeq gives -1), for up to 255 blocks; then
    // summed across the lanes.
    __m128i counts = _mm_setzero_si128();
    for (int k = 0; k < 255 && i + 16 <= joined.size(); ++k, i += 16) {
      const __m128i v = _mm_loadu_si128(reinterpret_cast<const __m128i*>(joined.data() + i));
      acc = _mm_or_si128(acc, v);
      counts = _mm_sub_epi8(counts, _mm_cmpeq_epi8(v, newline));
    }
    const __m128i sums = _mm_sad_epu8(counts, _mm_setzero_si128());
    newlines += static_cast<size_t>(_mm_cvtsi128_si32(sums)) +
                static_cast<size_t>(_mm_extract_epi16(sums, 4));
  }
  high = static_cast<unsigned>(_mm_movemask_epi8(acc));
#endif
  for (; i < joined.size(); ++i) {
    const auto c = static_cast<unsigned char>(joined[i]);
    high |= c & 0x80u;
    newlines += c == '\n' ? 1 : 0;
  }
  return high == 0 && newlines == lines;
}

bool HasNonAsciiOrNewline(std::string_view text) { return HasByteBeyondAscii<true>(text); }

namespace {

// The first place in text[0, size) where the lowercase `atom` occurs with ASCII letters
// folded, or null; no copy of the text is lowercased. With SSE2 (every x86-64 CPU) 16
// positions are tested at a time against the atom's first and last bytes, both sides with
// the 0x20 bit set (which lowercases letters, and lets a few other bytes through), and the
// few candidates are confirmed byte by byte (W. Muła's SIMD-friendly substring search).
const char* FindAtomFolded(const char* text, size_t size, std::string_view atom) {
  const size_t n = atom.size();
  if (n == 0 || size < n) return n == 0 ? text : nullptr;
  size_t i = 0;
#if defined(__SSE2__)
  if (n >= 2) {
    const __m128i bit = _mm_set1_epi8(0x20);
    const __m128i first = _mm_set1_epi8(static_cast<char>(atom[0] | 0x20));
    const __m128i last = _mm_set1_epi8(static_cast<char>(atom[n - 1] | 0x20));
    for (; i + n - 1 + 16 <= size; i += 16) {
      const __m128i a =
          _mm_or_si128(_mm_loadu_si128(reinterpret_cast<const __m128i*>(text + i)), bit);
      const __m128i b =
          _mm_or_si128(_mm_loadu_si128(reinterpret_cast<const __m128i*>(text + i + n - 1)), bit);
      auto mask = static_cast<unsigned>(
          _mm_movemask_epi8(_mm_and_si128(_mm_cmpeq_epi8(a, first), _mm_cmpeq_epi8(b, last))));
      while (mask != 0) {
        const unsigned at = static_cast<unsigned>(__builtin_ctz(mask));
        if (EqualsFolded(text + i + at, atom)) return text + i + at;
        mask &= mask - 1;
      }
    }
  }
#endif
  for (; i + n <= size; ++i) {
    if (FoldByte(text[i]) == atom[0] && EqualsFolded(text + i, atom)) return text + i;
  }
  return nullptr;
}

}  // namespace

bool LiteralPrefilter::ScreenLines(const std::vector<std::string_view>& lines,
                                   std::vector<uint8_t>* may_match) const {
  if (lines.empty()) return true;
  const char* begin = lines.front().data();
  const char* prev_end = begin;
  for (const auto& line : lines) {
    if (line.data() < prev_end) return false;  // not one buffer in order
    prev_end = line.data() + line.size();
  }
  const size_t size = static_cast<size_t>(prev_end - begin);
  may_match->assign(lines.size(), 0);
  // Non-ASCII lines go to RE2 whatever they hold (see MayMatch).
  for (size_t i = 0; i < lines.size(); ++i) {
    if (HasNonAscii(lines[i])) (*may_match)[i] = 1;
  }
  // The line holding buffer position `pos`: the last one starting at or before it.
  auto line_at = [&](const char* pos) {
    return static_cast<size_t>(
        std::upper_bound(lines.begin(), lines.end(), pos,
                         [](const char* p, std::string_view line) { return p < line.data(); }) -
        lines.begin() - 1);
  };
  // The atoms are searched in the buffer itself (an agent frame: lines with length prefixes
  // between them); a hit that is not wholly inside one line is skipped.
  for (const auto& atom : atoms_) {
    size_t from = 0;
    while (from < size) {
      const char* hit = FindAtomFolded(begin + from, size - from, atom);
      if (hit == nullptr) break;
      const size_t pos = static_cast<size_t>(hit - begin);
      const size_t i = line_at(hit);
      if (hit + atom.size() > lines[i].data() + lines[i].size()) {
        from = pos + 1;  // across a line's end: not a match
        continue;
      }
      (*may_match)[i] = 1;
      // The rest of this line is decided: go on after it.
      from = i + 1 < lines.size() ? static_cast<size_t>(lines[i + 1].data() - begin) : size;
    }
  }
  return true;
}

bool LiteralPrefilter::MayMatch(std::string_view line, Scratch& s) const {
  // Non-ASCII text may match a case-folded literal through Unicode folding (the Kelvin sign
  // folds to 'k', the long s to 's'), which byte-wise lowercasing cannot see: let RE2 decide.
  if (HasNonAscii(line)) return true;
  s.atoms.clear();
  for (size_t i = 0; i < atoms_.size(); ++i) {
    if (FindAtomFolded(line.data(), line.size(), atoms_[i]) != nullptr) {
      s.atoms.push_back(static_cast<int>(i));
    }
  }
  if (s.atoms.empty()) return false;
  filter_->AllPotentials(s.atoms, &s.potentials);
  return !s.potentials.empty();
}

}  // namespace ember::rules
