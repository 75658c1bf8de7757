#include "common/line_splitter.h"

#include <random>
#include <string>
#include <vector>

#include <catch2/catch.hpp>

using ember::LineSplitter;
using ember::SplitLine;

namespace {

struct Collected {
  std::vector<std::string> lines;
  std::vector<uint64_t> ends;
  std::vector<bool> truncated;
};

void Feed(LineSplitter& s, std::string_view data, Collected& c) {
  s.Feed(data, [&](const SplitLine& l) {
    c.lines.emplace_back(l.text);
    c.ends.push_back(l.end_offset);
    c.truncated.push_back(l.truncated);
  });
}

}  // namespace

TEST_CASE("LineSplitter: LF and CRLF lines come out without their line ending",
          "[common][line_splitter][unit]") {
  LineSplitter s(1024);
  Collected c;
  Feed(s, "a\r\nbb\ncc\r\r\n\n", c);
  REQUIRE(c.lines == std::vector<std::string>{"a", "bb", "cc\r", ""});
  CHECK(c.ends == std::vector<uint64_t>{3, 6, 11, 12});
  CHECK(s.committed_offset() == 12);
}

TEST_CASE("LineSplitter: a line split across reads is joined, never emitted in two",
          "[common][line_splitter][unit]") {
  const std::string text = "first line\r\nsecond line is longer\nthird\r\n";
  // Every way of cutting the input in two gives the same lines.
  for (size_t cut = 0; cut <= text.size(); ++cut) {
    LineSplitter s(1024);
    Collected c;
    Feed(s, std::string_view(text).substr(0, cut), c);
    Feed(s, std::string_view(text).substr(cut), c);
    INFO("cut at " << cut);
    REQUIRE(c.lines == std::vector<std::string>{"first line", "second line is longer", "third"});
    CHECK(c.ends.back() == text.size());
  }
}

TEST_CASE("LineSplitter: a last line without newline is held until Flush",
          "[common][line_splitter][unit]") {
  LineSplitter s(1024, 100);
  Collected c;
  Feed(s, "one\ntwo-without-newline\r", c);
  CHECK(c.lines == std::vector<std::string>{"one"});
  CHECK(s.pending_bytes() == 20);
  CHECK(s.committed_offset() == 104);
  bool flushed = s.Flush([&](const SplitLine& l) { c.lines.emplace_back(l.text); });
  CHECK(flushed);
  CHECK(c.lines == std::vector<std::string>{"one", "two-without-newline"});
  CHECK(s.committed_offset() == 124);
  CHECK_FALSE(s.Flush([&](const SplitLine&) { FAIL("nothing to flush"); }));
}

TEST_CASE("LineSplitter: an overlong line is truncated, flagged, and the next line is intact",
          "[common][line_splitter][unit]") {
  const std::string longline(100, 'x');
  for (size_t chunk : {1, 7, 64, 1000}) {
    LineSplitter s(16);
    Collected c;
    std::string input = "short\n" + longline + "\r\nnext\n";
    for (size_t i = 0; i < input.size(); i += chunk) {
      Feed(s, std::string_view(input).substr(i, chunk), c);
    }
    INFO("chunk " << chunk);
    REQUIRE(c.lines.size() == 3);
    CHECK(c.lines[0] == "short");
    CHECK(c.lines[1] == std::string(16, 'x'));
    CHECK(c.truncated[1]);
    CHECK(c.lines[2] == "next");
    CHECK_FALSE(c.truncated[2]);
    CHECK(s.truncated_lines() == 1);
    CHECK(c.ends[2] == input.size());
  }
}

TEST_CASE("LineSplitter: binary bytes and invalid UTF-8 pass through unchanged",
          "[common][line_splitter][unit]") {
  std::string bin;
  for (int i = 0; i < 256; ++i) {
    if (i != '\n') bin.push_back(static_cast<char>(i));
  }
  LineSplitter s(4096);
  Collected c;
  Feed(s, bin + "\n", c);
  REQUIRE(c.lines.size() == 1);
  CHECK(c.lines[0] == bin);
}

TEST_CASE("LineSplitter: random chunking always yields the same lines and offsets",
          "[common][line_splitter][unit]") {
  std::mt19937 rng(42);
  std::string input;
  std::vector<std::string> expected;
  for (int i = 0; i < 300; ++i) {
    std::string line(rng() % 40, static_cast<char>('a' + i % 26));
    expected.push_back(line);
    input += line + (rng() % 2 ? "\r\n" : "\n");
  }
  for (int round = 0; round < 50; ++round) {
    LineSplitter s(64);
    Collected c;
    size_t pos = 0;
    while (pos < input.size()) {
      size_t n = 1 + rng() % 97;
      Feed(s, std::string_view(input).substr(pos, n), c);
      pos += n;
    }
    REQUIRE(c.lines == expected);
    CHECK(s.committed_offset() == input.size());
  }
}
