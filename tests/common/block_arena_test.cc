#include "common/block_arena.h"

#include <cstring>
#include <random>
#include <string>
#include <vector>

#include <catch2/catch.hpp>

using ember::BlockArena;

TEST_CASE("BlockArena: what is written stays where it is until Clear", "[common][unit]") {
  BlockArena arena(64);
  std::mt19937 rng(3);
  std::vector<std::pair<char*, std::string>> written;
  size_t total = 0;
  for (int i = 0; i < 2000; ++i) {
    // Mostly small pieces, some larger than a block.
    const size_t n = rng() % 50 == 0 ? 64 + rng() % 500 : rng() % 40;
    std::string text(n, static_cast<char>('a' + i % 26));
    char* at = arena.Allocate(n);
    std::memcpy(at, text.data(), n);
    written.emplace_back(at, std::move(text));
    total += n;
  }
  CHECK(arena.allocated() == total);
  size_t intact = 0;
  for (const auto& [at, text] : written) intact += std::string(at, text.size()) == text;
  CHECK(intact == written.size());
}

TEST_CASE("BlockArena: Clear keeps blocks of the usual size for reuse, not larger ones",
          "[common][unit]") {
  BlockArena arena(64);
  char* first = arena.Allocate(10);
  char* big = arena.Allocate(1000);  // a block of its own
  CHECK(big != first + 10);
  arena.Clear();
  CHECK(arena.allocated() == 0);
  CHECK(arena.Allocate(10) == first);       // the first block again
  CHECK(arena.Allocate(60) != first + 10);  // does not fit behind it: another block
}
