#include "rules/literal_prefilter.h"

#include <string>

#include <catch2/catch.hpp>

using ember::rules::LiteralPrefilter;

// The eight-bytes-at-a-time lowercasing must agree with byte-wise ASCII lowercasing for every
// byte value at every position of a word: the prefilter may let a line through that RE2 then
// rejects, never the reverse.
TEST_CASE("LiteralPrefilter: case-insensitive screening agrees with byte-wise lowercasing",
          "[rules][prefilter]") {
  auto filter = LiteralPrefilter::Build({"(?i)error"});
  REQUIRE(filter != nullptr);
  LiteralPrefilter::Scratch scratch;
  const std::string base = "at 12:00 the ErRoR was seen by xx";  // 33 bytes: words and a tail
  const size_t word = base.find("ErRoR");
  int checked = 0;
  for (size_t pos = word; pos < word + 5; ++pos) {
    for (int b = 0; b < 256; ++b) {
      std::string line = base;
      line[pos] = static_cast<char>(b);
      std::string lowered = line;
      bool high = false;
      for (char& c : lowered) {
        const auto u = static_cast<unsigned char>(c);
        high |= u >= 0x80;
        if (u >= 'A' && u <= 'Z') c = static_cast<char>(u + 32);
      }
      const bool expected = high || lowered.find("error") != std::string::npos;
      INFO("byte " << b << " at " << pos);
      CHECK(filter->MayMatch(line, scratch) == expected);
      ++checked;
    }
  }
  CHECK(checked == 5 * 256);
  // Lengths around the 8-byte steps, the word at the very end.
  for (size_t pad = 0; pad < 20; ++pad) {
    CHECK(filter->MayMatch(std::string(pad, 'z') + "ERROR", scratch));
    CHECK_FALSE(filter->MayMatch(std::string(pad, 'z') + "ERRO", scratch));
  }
}
