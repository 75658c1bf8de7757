#include "rules/literal_prefilter.h"

#include <algorithm>
#include <cstdint>
#include <cstring>

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

// Lowercases ASCII letters of `in` into `out` (same length), eight bytes at a time (SWAR: for
// each byte, 'A' <= b <= 'Z' is computed in its high bit without carries between bytes), and
// returns the OR of all bytes (>= 0x80 when the text is not pure ASCII).
unsigned char LowerAscii(std::string_view in, char* out) {
  constexpr uint64_t kHigh = 0x8080808080808080ULL;
  constexpr uint64_t kLow7 = 0x7F7F7F7F7F7F7F7FULL;
  uint64_t any = 0;
  size_t i = 0;
  for (; i + 8 <= in.size(); i += 8) {
    uint64_t x;
    std::memcpy(&x, in.data() + i, 8);
    any |= x;
    const uint64_t low = x & kLow7;
    const uint64_t ge_a = low + 0x3F3F3F3F3F3F3F3FULL;  // high bit set when byte >= 'A'
    const uint64_t gt_z = low + 0x2525252525252525ULL;  // high bit set when byte > 'Z'
    const uint64_t upper = ge_a & ~gt_z & ~x & kHigh;   // ASCII and in 'A'..'Z'
    x |= upper >> 2;                                    // 0x80 >> 2 = 0x20: to lowercase
    std::memcpy(out + i, &x, 8);
  }
  unsigned char high = 0;
  for (uint64_t rest = any; rest != 0; rest >>= 8) high |= static_cast<unsigned char>(rest);
  for (; i < in.size(); ++i) {
    const auto c = static_cast<unsigned char>(in[i]);
    high |= c;
    out[i] = static_cast<char>(c >= 'A' && c <= 'Z' ? c + ('a' - 'A') : c);
  }
  return high;
}

}  // namespace

bool LiteralPrefilter::ScreenLines(const std::vector<std::string_view>& lines, Scratch& s,
                                   std::vector<uint8_t>* may_match) const {
  if (lines.empty()) return true;
  const char* begin = lines.front().data();
  const char* prev_end = begin;
  for (const auto& line : lines) {
    if (line.data() < prev_end) return false;  // not one buffer in order
    prev_end = line.data() + line.size();
  }
  const size_t region = static_cast<size_t>(prev_end - begin);
  // Bytes between lines (an agent frame's length prefixes) become NUL, which no literal
  // holds, so no literal is found across a line boundary.
  s.lowered.assign(region, '\0');
  may_match->assign(lines.size(), 0);
  std::vector<size_t>& starts = s.line_starts;
  starts.clear();
  for (size_t i = 0; i < lines.size(); ++i) {
    const size_t offset = static_cast<size_t>(lines[i].data() - begin);
    starts.push_back(offset);
    // Non-ASCII lines go to RE2 whatever they hold (see MayMatch).
    if (LowerAscii(lines[i], s.lowered.data() + offset) >= 0x80) (*may_match)[i] = 1;
  }
  // glibc's memmem (two-way, with a fast skip loop over long texts); string_view::find
  // would memcmp at every occurrence of the literal's first letter.
  const char* text = s.lowered.data();
  const size_t size = s.lowered.size();
  for (const auto& atom : atoms_) {
    size_t from = 0;
    while (from < size) {
      const void* hit = ::memmem(text + from, size - from, atom.data(), atom.size());
      if (hit == nullptr) break;
      const size_t pos = static_cast<size_t>(static_cast<const char*>(hit) - text);
      const size_t i = static_cast<size_t>(std::upper_bound(starts.begin(), starts.end(), pos) -
                                           starts.begin()) -
                       1;
      (*may_match)[i] = 1;
      // The rest of this line is decided: go on after it.
      from = i + 1 < starts.size() ? starts[i + 1] : size;
    }
  }
  return true;
}

bool LiteralPrefilter::MayMatch(std::string_view line, Scratch& s) const {
  s.lowered.resize(line.size());
  const unsigned char high = LowerAscii(line, s.lowered.data());
  // Non-ASCII text may match a case-folded literal through Unicode folding (the Kelvin sign
  // folds to 'k', the long s to 's'), which byte-wise lowercasing cannot see: let RE2 decide.
  if (high >= 0x80) return true;
  s.atoms.clear();
  for (size_t i = 0; i < atoms_.size(); ++i) {
    if (::memmem(s.lowered.data(), s.lowered.size(), atoms_[i].data(), atoms_[i].size()) !=
        nullptr) {
      s.atoms.push_back(static_cast<int>(i));
    }
  }
  if (s.atoms.empty()) return false;
  filter_->AllPotentials(s.atoms, &s.potentials);
  return !s.potentials.empty();
}

}  // namespace ember::rules
