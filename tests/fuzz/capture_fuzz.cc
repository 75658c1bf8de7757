// libFuzzer target for DirectCapture, the walk that stands in for RE2's capturing match: the
// first line of the input is a pattern, the rest a text. Whenever the walk takes the pattern,
// it must agree with RE2 at every start of the text's plain part (ASCII without '\n', which
// is all the walk is given): the same verdict, the same match and groups. Traps otherwise.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include <re2/re2.h>

#include "rules/direct_capture.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  const size_t newline = input.find('\n');
  if (newline == std::string_view::npos) return 0;
  const std::string pattern(input.substr(0, newline));
  std::string text;
  for (char c : input.substr(newline + 1)) {
    if (static_cast<unsigned char>(c) < 0x80 && c != '\n') text.push_back(c);
  }
  if (text.size() > 256) text.resize(256);
  RE2 re(pattern, RE2::Quiet);
  if (!re.ok()) return 0;
  const int groups = re.NumberOfCapturingGroups();
  auto direct = ember::rules::DirectCapture::Compile(pattern, groups);
  if (!direct) return 0;
  const int n = groups + 1;
  std::vector<re2::StringPiece> want(static_cast<size_t>(n)), got(static_cast<size_t>(n));
  for (size_t at = 0; at <= text.size(); ++at) {
    const bool a = re.Match(text, at, text.size(), RE2::ANCHOR_START, want.data(), n);
    size_t budget = SIZE_MAX;
    const bool b = direct->MatchAt(text, at, got.data(), n, &budget) ==
                   ember::rules::DirectCapture::Outcome::kMatch;
    if (a != b) __builtin_trap();
    for (int g = 0; a && g < n; ++g) {
      const auto& w = want[static_cast<size_t>(g)];
      const auto& h = got[static_cast<size_t>(g)];
      if (w.data() != h.data() || w.size() != h.size()) __builtin_trap();
    }
  }
  return 0;
}
