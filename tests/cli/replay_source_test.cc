#include "cli/replay_source.h"

#include <cstdint>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include <catch2/catch.hpp>

#include "common/line_splitter.h"
#include "tests/support/temp_dir.h"

namespace ember::cli {
namespace {

// Hands out memory as a caller keeping every line would: rooms of random sizes, sometimes in
// the same block after the carry, sometimes in a new block with the carry copied in front.
// Nothing handed out is reused, so a view into it stays readable to the end of the test.
class KeepingSpace {
 public:
  explicit KeepingSpace(uint32_t seed) : rng_(seed) {}
  std::span<char> Room(std::string_view carry) {
    const size_t want = std::uniform_int_distribution<size_t>(1, 300)(rng_);
    const char* end = carry.data() + carry.size();
    const bool ours = !blocks_.empty() && carry.data() != nullptr &&
                      Contains(blocks_.back(), end) && end != blocks_.back().first;
    if (ours && rng_() % 4 != 0 && Free(end) >= 1) {
      return std::span<char>(const_cast<char*>(end), std::min(want, Free(end)));
    }
    const size_t size = carry.size() + want;
    blocks_.emplace_back(new char[size], size);
    char* at = blocks_.back().first;
    std::copy(carry.begin(), carry.end(), at);
    return std::span<char>(at + carry.size(), want);
  }
  // Whether `text` and the byte after it lie in memory handed out.
  bool Holds(std::string_view text) const {
    for (const auto& [bytes, size] : blocks_) {
      if (text.data() >= bytes && text.data() + text.size() < bytes + size) return true;
    }
    return false;
  }
  ~KeepingSpace() {
    for (auto& b : blocks_) delete[] b.first;
  }

 private:
  static bool Contains(const std::pair<char*, size_t>& b, const char* p) {
    return p >= b.first && p <= b.first + b.second;
  }
  size_t Free(const char* end) const {
    return static_cast<size_t>(blocks_.back().first + blocks_.back().second - end);
  }
  std::mt19937 rng_;
  std::vector<std::pair<char*, size_t>> blocks_;
};

// A log of lines of random length, the first one and most others stamped (some far past
// `max_line_bytes`), with CRLF and stray '\r' in places, with or without a final newline.
std::string RandomLog(std::mt19937& rng, size_t max_line_bytes) {
  std::string out;
  const size_t lines = std::uniform_int_distribution<size_t>(0, 120)(rng);
  for (size_t i = 0; i < lines; ++i) {
    if (i == 0 || rng() % 3 != 0) out += "2023-11-14T22:13:" + std::to_string(10 + i % 50) + "Z ";
    size_t length = std::uniform_int_distribution<size_t>(0, 60)(rng);
    if (rng() % 15 == 0) length = std::uniform_int_distribution<size_t>(1, 3 * max_line_bytes)(rng);
    for (size_t c = 0; c < length; ++c) {
      out += rng() % 40 == 0 ? '\r' : static_cast<char>('a' + rng() % 26);
    }
    out += rng() % 5 == 0 ? "\r\n" : "\n";
  }
  if (!out.empty() && rng() % 3 == 0) out.pop_back();  // no final newline (or a lone '\r')
  return out;
}

TEST_CASE("ReplaySource: lines read into the caller's memory are the splitter's lines, in place",
          "[cli][replay][unit]") {
  test::TempDir dir;
  std::mt19937 rng(20261204);
  size_t whole_in_place = 0;
  for (size_t max_line_bytes : {24, 200}) {
    for (size_t read_bytes : {1, 3, 64, 4096}) {
      for (int round = 0; round < 25; ++round) {
        const std::string log = RandomLog(rng, max_line_bytes);
        INFO("max_line_bytes " << max_line_bytes << " read_bytes " << read_bytes << " round "
                               << round << " log " << log);
        // The one definition of a line: the splitter given the whole file at once.
        std::vector<SplitLine> expected;
        std::vector<std::string> expected_text;
        LineSplitter splitter(max_line_bytes);
        auto keep = [&](const SplitLine& l) {
          expected.push_back(l);
          expected_text.emplace_back(l.text);
        };
        splitter.Feed(log, keep);
        splitter.Flush(keep);

        const std::string path = dir.Write("log", log);
        ReplaySourceOptions options;
        options.host = "h";
        options.year = 2023;
        options.max_line_bytes = max_line_bytes;
        options.read_bytes = read_bytes;
        auto source = ReplaySource::Open(path, options);
        REQUIRE(source.ok());
        KeepingSpace space(static_cast<uint32_t>(rng()));
        std::vector<std::string> got;
        std::vector<std::string_view> views;  // the lines given in the space, else empty
        REQUIRE((*source)
                    ->ReadAll(
                        [&](const engine::InputLine& line) {
                          got.emplace_back(line.text);
                          views.push_back(space.Holds(line.text) ? line.text : std::string_view());
                        },
                        [&](std::string_view carry) { return space.Room(carry); })
                    .ok());
        CHECK((*source)->bytes_read() == log.size());
        REQUIRE(got == expected_text);
        // The source's own memory gives the same lines.
        auto again = ReplaySource::Open(path, options);
        REQUIRE(again.ok());
        std::vector<std::string> own;
        REQUIRE((*again)
                    ->ReadAll([&](const engine::InputLine& line) { own.emplace_back(line.text); })
                    .ok());
        CHECK(own == expected_text);
        for (size_t i = 0; i < got.size(); ++i) {
          INFO("line " << i);
          // Every whole line (not cut, ended by '\n') comes as a view into the space, still
          // holding its text after the read, followed by its line ending.
          const bool whole = !expected[i].truncated && (i + 1 < got.size() || log.back() == '\n');
          if (whole) CHECK(views[i].data() != nullptr);
          if (views[i].data() == nullptr) continue;
          CHECK(views[i] == got[i]);
          if (!whole) continue;  // cut in place: its next byte is the line's own
          ++whole_in_place;
          const char after = views[i].data()[views[i].size()];
          CHECK((after == '\n' || after == '\r'));
        }
      }
    }
  }
  CHECK(whole_in_place > 3000);
}

}  // namespace
}  // namespace ember::cli
