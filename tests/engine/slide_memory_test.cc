// SlideMemory: the pooled sizes, their reuse, the heap beyond them; and BatchSlots giving its
// blocks and buffers back to the window's memory when destroyed.
#include "engine/slide_memory.h"

#include <cstring>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include <catch2/catch.hpp>

#include "engine/batch_slots.h"

using namespace ember::engine;

TEST_CASE("SlideMemory: buffers come in pooled sizes and are reused once given back",
          "[engine][index][unit]") {
  SlideMemory memory;
  const std::vector<std::pair<size_t, size_t>> cases = {
      {1, 256},     {256, 256},   {257, 384},   {384, 384},   {385, 512},  {700, 768},
      {1000, 1024}, {1025, 1536}, {2000, 2048}, {3000, 3072}, {4096, 4096}};
  for (const auto& [asked, pooled] : cases) {
    size_t capacity = 0;
    char* p = memory.TakeBytes(asked, &capacity);
    CHECK(capacity == pooled);
    std::memset(p, 'x', capacity);  // ASan: all of it is ours
    memory.GiveBytes(p, capacity);
    size_t again = 0;
    CHECK(memory.TakeBytes(capacity, &again) == p);  // the same size class, the same buffer
    CHECK(again == pooled);
    memory.GiveBytes(p, again);
  }
  size_t capacity = 0;
  char* heap = memory.TakeBytes(4097, &capacity);
  CHECK(capacity == 4097);  // beyond the pools: exactly what was asked, from the heap
  std::memset(heap, 'y', capacity);
  memory.GiveBytes(heap, capacity);
}

TEST_CASE("BatchSlots: a destroyed batch's blocks and samples go back to the window's memory",
          "[engine][index][unit]") {
  SlideMemory memory;
  // The addresses of the slots in blocks (all but the first two, which lie in the batch) and
  // of the samples of a batch of 40 keys: three blocks, a sample buffer of a few KiB.
  auto fill = [&](BatchSlots& b) {
    std::set<const void*> at;
    for (uint32_t key = 0; key < 40; ++key) {
      Slot& s = b.Insert(key);
      s.count = key;
      b.SetSample(s, std::string(60, static_cast<char>('a' + key % 26)));
      if (key >= 2) at.insert(&s);
    }
    b.Seal();
    at.insert(b.Sample(*b.Find(0)).data());
    for (uint32_t key = 0; key < 40; ++key) {
      REQUIRE(b.Find(key)->count == key);
      REQUIRE(b.Sample(*b.Find(key)) == std::string(60, static_cast<char>('a' + key % 26)));
    }
    return at;
  };
  auto first = std::make_unique<BatchSlots>(&memory);
  const std::set<const void*> before = fill(*first);
  REQUIRE(before.size() == 39);
  first.reset();
  // A batch of the same shape made next takes the very blocks and buffer given back.
  BatchSlots second(&memory);
  CHECK(fill(second) == before);
}
