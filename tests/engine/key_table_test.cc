// The compact window storage: OpenIndex (linear probing with backward-shift deletion, checked
// against std::set under colliding hashes that wrap around the table), KeyTable (reference
// counts, id reuse) and BatchSlots (stable slots, samples cut and kept through Seal).
#include "engine/key_table.h"

#include <map>
#include <random>
#include <set>
#include <string>

#include <catch2/catch.hpp>

#include "engine/batch_slots.h"
#include "engine/open_index.h"

using namespace ember::engine;

TEST_CASE("OpenIndex: inserts and erases under heavy collisions match a std::set",
          "[engine][index][unit]") {
  // Few distinct hashes, most near the top of the table: long runs that wrap around. With the
  // same top bits (the 4 kept in a slot beside the id) for every id, or with 16 different.
  const bool same_tags = GENERATE(true, false);
  INFO((same_tags ? "one tag for all" : "16 tags"));
  for (uint64_t buckets : {1u, 3u, 7u, 64u}) {
    OpenIndex index;
    std::set<uint32_t> model;
    auto hash_of = [&](uint32_t id) {
      const uint64_t low = ~uint64_t{0} - id % buckets;  // at the top of any table
      return same_tags ? low : (low >> 4) | (uint64_t{id % 16} << 60);
    };
    std::mt19937 rng(static_cast<uint32_t>(buckets));
    for (int step = 0; step < 20000; ++step) {
      const uint32_t id = rng() % 300;
      auto is = [&](uint32_t stored) { return stored == id; };
      const bool present = index.Find(hash_of(id), is) == id;
      REQUIRE(present == (model.count(id) == 1));
      if (!present && rng() % 3 != 0) {
        index.Insert(hash_of(id), id, hash_of);
        model.insert(id);
      } else if (present) {
        index.Erase(hash_of(id), is, hash_of);
        model.erase(id);
      }
      REQUIRE(index.size() == model.size());
    }
    for (uint32_t id = 0; id < 300; ++id) {
      const bool found =
          index.Find(hash_of(id), [&](uint32_t stored) { return stored == id; }) == id;
      CHECK(found == (model.count(id) == 1));
    }
  }
}

TEST_CASE("OpenIndex: the largest id is stored and found", "[engine][index][unit]") {
  OpenIndex index;
  auto hash_of = [](uint32_t id) { return MixId(id); };
  for (uint32_t id : {OpenIndex::kMaxId, 0u, OpenIndex::kMaxId - 1, 5u}) {
    index.Insert(hash_of(id), id, hash_of);
  }
  for (uint32_t id : {OpenIndex::kMaxId, 0u, OpenIndex::kMaxId - 1, 5u}) {
    CHECK(index.Find(hash_of(id), [&](uint32_t stored) { return stored == id; }) == id);
  }
  CHECK(index.Find(hash_of(7), [](uint32_t stored) { return stored == 7; }) == OpenIndex::kNone);
}

TEST_CASE("KeyTable: a key lives while referenced, and its id is then reused",
          "[engine][index][unit]") {
  KeyTable t(false);
  const uint32_t a = t.Acquire("10.0.0.1");
  const uint32_t b = t.Acquire(std::string(200, 'k'));  // a key too long for SSO
  CHECK(a != b);
  CHECK(t.Acquire("10.0.0.1") == a);  // a second reference
  CHECK(t.Find("10.0.0.1") == a);
  CHECK(t.key(b) == std::string(200, 'k'));
  CHECK(t.size() == 2);
  t.Release(a);
  CHECK(t.Find("10.0.0.1") == a);  // one reference left
  t.Release(a);
  CHECK(t.Find("10.0.0.1") == KeyTable::kNone);
  CHECK(t.size() == 1);
  const uint32_t c = t.Acquire("10.0.0.2");
  CHECK(c == a);  // the freed id
  CHECK(t.key(c) == "10.0.0.2");
  CHECK(t.Find(std::string(200, 'k')) == b);

  // Many keys in and out: every live key is found, every released one is gone.
  std::map<std::string, uint32_t> live;
  for (int i = 0; i < 5000; ++i) live["u" + std::to_string(i)] = t.Acquire("u" + std::to_string(i));
  for (int i = 0; i < 5000; i += 2) {
    t.Release(live["u" + std::to_string(i)]);
    live.erase("u" + std::to_string(i));
  }
  for (int i = 0; i < 5000; ++i) {
    const std::string k = "u" + std::to_string(i);
    auto it = live.find(k);
    CHECK(t.Find(k) == (it == live.end() ? KeyTable::kNone : it->second));
  }
  size_t visited = 0;
  t.ForEach([&](uint32_t id, std::string_view key, uint64_t) {
    ++visited;
    CHECK(t.Find(key) == id);
  });
  CHECK(visited == t.size());
}

TEST_CASE("BatchSlots: slots stay put while the batch grows, samples are cut and kept",
          "[engine][index][unit]") {
  SlideMemory memory;
  BatchSlots b(&memory);
  Slot& first = b.Insert(7);
  b.SetSample(first, "the first line");
  std::vector<Slot*> addresses;
  for (uint32_t key = 100; key < 20100; ++key) {
    Slot& s = b.Insert(key);
    b.SetSample(s, std::string(key % 50, 'x') + std::to_string(key));
    addresses.push_back(&s);
  }
  CHECK(b.Find(7) == &first);
  CHECK(b.Sample(first) == "the first line");
  CHECK(b.Find(8) == nullptr);
  for (uint32_t key = 100; key < 20100; ++key) {
    REQUIRE(b.Find(key) == addresses[key - 100]);
    CHECK(b.Sample(*b.Find(key)) == std::string(key % 50, 'x') + std::to_string(key));
  }
  Slot& long_line = b.Insert(9);
  b.SetSample(long_line, std::string(5000, 'y'));
  CHECK(b.Sample(long_line) == std::string(kMaxSampleBytes, 'y'));
  b.Seal();
  CHECK(b.Sample(first) == "the first line");
  CHECK(b.Sample(*b.Find(20099)) == std::string(20099 % 50, 'x') + "20099");
}

TEST_CASE("BatchSlots: small batches are found slot by slot, and then by index, alike",
          "[engine][index][unit]") {
  SlideMemory memory;
  BatchSlots b(&memory);
  std::vector<std::pair<uint32_t, Slot*>> stored;
  // Ids that share their low bits, so that the index probes past each other.
  for (uint32_t n = 0; n < 24; ++n) {
    const uint32_t key = n * 1024 + 3;
    Slot& s = b.Insert(key);
    s.count = n + 1;
    stored.emplace_back(key, &s);
    for (const auto& [k, slot] : stored) {
      REQUIRE(b.Find(k) == slot);
      CHECK(slot->key == k);
    }
    CHECK(b.Find(key + 1) == nullptr);
    CHECK(b.Find((n + 1) * 1024 + 3) == nullptr);
    CHECK(b.slots().size() == n + 1);
  }
  uint64_t counted = 0;
  for (const Slot& s : b.slots()) counted += s.count;
  CHECK(counted == 24 * 25 / 2);
}

TEST_CASE("BatchSlots: samples kept in place move to the heap whole", "[engine][index][unit]") {
  SlideMemory memory;
  BatchSlots b(&memory);
  std::vector<std::pair<Slot*, std::string>> kept;
  // Lines of 0 to 60 bytes: the first few fit in place, the rest move the buffer, and each
  // move must carry every sample before it.
  for (uint32_t key = 0; key < 40; ++key) {
    Slot& s = b.Insert(key);
    std::string line(key * 3 % 61, static_cast<char>('a' + key % 26));
    b.SetSample(s, line);
    kept.emplace_back(&s, line);
    for (const auto& [slot, text] : kept) REQUIRE(b.Sample(*slot) == text);
  }
  b.Seal();
  for (const auto& [slot, text] : kept) CHECK(b.Sample(*slot) == text);
}
