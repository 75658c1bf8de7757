#include "rules/literal_prefilter.h"

#include <cstdint>
#include <random>
#include <string>
#include <string_view>
#include <vector>

#include <catch2/catch.hpp>

using ember::rules::LiteralPrefilter;

// The folded search (16 positions at a time, letters lowered by setting the 0x20 bit) must
// agree with byte-wise ASCII lowercasing for every byte value at every position of a word: the
// prefilter may let a line through that RE2 then rejects, never the reverse.
TEST_CASE("LiteralPrefilter: case-insensitive screening agrees with byte-wise lowercasing",
          "[rules][prefilter][unit]") {
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

TEST_CASE(
    "LiteralPrefilter: a literal is found at every position, in any case, and only inside a line",
    "[rules][prefilter][unit]") {
  auto filter = LiteralPrefilter::Build({"(?i)error"});
  REQUIRE(filter != nullptr);
  LiteralPrefilter::Scratch scratch;
  for (size_t pos = 0; pos + 5 <= 100; ++pos) {
    std::string line(100, 'r');  // 'r' everywhere: every position is a partial candidate
    line.replace(pos, 5, pos % 2 ? "ErRoR" : "error");
    INFO(pos);
    CHECK(filter->MayMatch(line, scratch));
    line[pos + 2] = 'x';
    CHECK_FALSE(filter->MayMatch(line, scratch));
  }
  // A frame: [len]"... err" [len = 0x726f: bytes 'o' 'r' 0 0] then a long line. "error"
  // appears in the raw buffer across the first line's end, and must not count for either.
  const std::string first = "the first line ends with err";
  const std::string second(0x726f, 'z');
  std::string frame;
  auto append = [&](const std::string& line) {
    const uint32_t len = static_cast<uint32_t>(line.size());
    frame.append(reinterpret_cast<const char*>(&len), 4);
    frame += line;
  };
  append(first);
  append(second);
  append("and an ERROR in the third");
  REQUIRE(frame.find("error") != std::string::npos);  // the trap is there
  const std::vector<std::string_view> lines = {
      std::string_view(frame).substr(4, first.size()),
      std::string_view(frame).substr(8 + first.size(), second.size()),
      std::string_view(frame).substr(12 + first.size() + second.size())};
  std::vector<uint8_t> may;
  REQUIRE(filter->ScreenLines(lines, &may));
  CHECK(may == std::vector<uint8_t>{0, 0, 1});
}

// A line that is not pure ASCII goes to RE2 whatever it holds (RE2's Unicode case folding can
// match where byte-wise folding cannot): one high byte at any position of a line of any length
// (the 16- and 8-byte strides and the byte tail) must be seen, by MayMatch and ScreenLines.
TEST_CASE("LiteralPrefilter: a non-ASCII byte anywhere sends the line to RE2",
          "[rules][prefilter][unit]") {
  auto filter = LiteralPrefilter::Build({"ERROR"});
  REQUIRE(filter != nullptr);
  LiteralPrefilter::Scratch scratch;
  int checked = 0;
  for (size_t len = 1; len <= 40; ++len) {
    for (size_t pos = 0; pos < len; ++pos) {
      std::string line(len, 'x');
      line[pos] = '\xC3';
      const std::string frame = "ok ascii line|" + line + "|another ascii line";
      const std::vector<std::string_view> lines = {std::string_view(frame).substr(0, 13),
                                                   std::string_view(frame).substr(14, len),
                                                   std::string_view(frame).substr(15 + len)};
      std::vector<uint8_t> may;
      REQUIRE(filter->ScreenLines(lines, &may));
      CHECK(may == std::vector<uint8_t>{0, 1, 0});
      CHECK(filter->MayMatch(line, scratch));
      line[pos] = 'y';
      CHECK_FALSE(filter->MayMatch(line, scratch));
      ++checked;
    }
  }
  CHECK(checked == 820);
}

TEST_CASE("HasNonAscii, HasNonAsciiOrNewline: one byte anywhere, in every length",
          "[rules][prefilter][unit]") {
  // Lengths cover the 16-byte, 8-byte and byte-wise parts of the scan; each byte at each place.
  for (size_t length = 1; length <= 40; ++length) {
    const std::string plain(length, 'a');
    CHECK_FALSE(ember::rules::HasNonAscii(plain));
    CHECK_FALSE(ember::rules::HasNonAsciiOrNewline(plain));
    for (size_t at = 0; at < length; ++at) {
      INFO("length " << length << ", at " << at);
      std::string line = plain;
      line[at] = '\n';
      CHECK_FALSE(ember::rules::HasNonAscii(line));
      CHECK(ember::rules::HasNonAsciiOrNewline(line));
      line[at] = '\x0b';  // next to '\n', and not one
      CHECK_FALSE(ember::rules::HasNonAsciiOrNewline(line));
      line[at] = '\x8a';
      CHECK(ember::rules::HasNonAscii(line));
      CHECK(ember::rules::HasNonAsciiOrNewline(line));
    }
  }
}

TEST_CASE("IsAsciiLines: counts every '\\n' and sees any byte beyond ASCII, at any length",
          "[rules][prefilter][unit]") {
  std::mt19937 rng(7);
  // Up to 20,000 bytes: past the 255 blocks of 16 after which the lane counts are summed.
  for (int round = 0; round < 300; ++round) {
    std::string joined;
    size_t lines = 0;
    const size_t target = rng() % (round < 200 ? 200 : 20'000);
    while (joined.size() < target) {
      joined.append(rng() % 120, static_cast<char>('a' + rng() % 26));
      joined.push_back('\n');
      ++lines;
    }
    INFO("round " << round << ", " << joined.size() << " bytes, " << lines << " lines");
    CHECK(ember::rules::IsAsciiLines(joined, lines));
    if (joined.empty()) continue;
    CHECK_FALSE(ember::rules::IsAsciiLines(joined, lines + 1));
    const size_t at = rng() % joined.size();
    std::string changed = joined;
    changed[at] = '\xc3';
    CHECK_FALSE(ember::rules::IsAsciiLines(changed, lines - (joined[at] == '\n' ? 1 : 0)));
    if (joined[at] != '\n') {
      changed[at] = '\n';  // a line holding a '\n' of its own
      CHECK_FALSE(ember::rules::IsAsciiLines(changed, lines));
      CHECK(ember::rules::IsAsciiLines(changed, lines + 1));
    }
  }
}
