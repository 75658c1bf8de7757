#include "engine/batch_map.h"

#include <cstdint>
#include <iterator>
#include <map>
#include <random>
#include <vector>

#include <catch2/catch.hpp>

using ember::NodePool;
using ember::engine::BatchMap;

namespace {

// A value that counts how many are alive, and knows the key it was made for.
struct Counted {
  static inline int alive = 0;
  Counted() { ++alive; }
  ~Counted() { --alive; }
  Counted(const Counted&) = delete;
  Counted& operator=(const Counted&) = delete;
  int64_t key = -1;
};

// `map` holds exactly `reference`'s keys in order, each with the value first made for it.
void CheckSame(const BatchMap<Counted>& map, const std::map<int64_t, const Counted*>& reference) {
  REQUIRE(map.size() == reference.size());
  REQUIRE(map.empty() == reference.empty());
  auto want = reference.begin();
  for (auto it = map.begin(); it != map.end(); ++it, ++want) {
    REQUIRE(want != reference.end());
    CHECK(it->first == want->first);
    CHECK(&it->second == want->second);  // values never move
    CHECK(it->second.key == want->first);
  }
  CHECK(want == reference.end());
}

}  // namespace

TEST_CASE("BatchMap: keys in order as a std::map keeps them, values that never move",
          "[engine][batch_map][property][unit]") {
  for (uint32_t seed = 1; seed <= 6; ++seed) {
    INFO("seed " << seed);
    std::mt19937_64 rng(seed);
    NodePool pool;
    {
      BatchMap<Counted> map(&pool);
      std::map<int64_t, const Counted*> reference;
      int64_t newest = 1000;
      for (int step = 0; step < 20000; ++step) {
        const unsigned op = rng() % 100;
        if (op < 55) {
          // Mostly in order, as a log's batches come.
          newest += static_cast<int64_t>(rng() % 3);
          Counted& v = map[newest];
          if (reference.count(newest) == 0) {
            v.key = newest;
            reference[newest] = &v;
          }
          CHECK(&v == reference[newest]);
        } else if (op < 75) {
          // A line whose time went back: anywhere in what is held, or before it.
          const int64_t from = reference.empty() ? newest : reference.begin()->first - 5;
          const int64_t key = from + static_cast<int64_t>(rng() % (newest - from + 1));
          Counted& v = map[key];
          if (reference.count(key) == 0) {
            v.key = key;
            reference[key] = &v;
          }
          CHECK(&v == reference[key]);
        } else if (op < 88) {
          if (!reference.empty()) {
            map.erase_first();
            reference.erase(reference.begin());
          }
        } else {
          const int64_t key = newest - static_cast<int64_t>(rng() % 200);
          auto found = map.find(key);
          auto want = reference.find(key);
          CHECK((found == map.end()) == (want == reference.end()));
          if (want != reference.end()) CHECK(&found->second == want->second);
          auto lower = map.lower_bound(key);
          auto want_lower = reference.lower_bound(key);
          CHECK((lower == map.end()) == (want_lower == reference.end()));
          if (want_lower != reference.end()) CHECK(lower->first == want_lower->first);
        }
        if (step % 997 == 0) CheckSame(map, reference);
      }
      CheckSame(map, reference);
      CHECK(Counted::alive == static_cast<int>(reference.size()));
      // Emptied from the front, as windows drop their batches.
      while (!reference.empty()) {
        CHECK(map.begin()->first == reference.begin()->first);
        map.erase_first();
        reference.erase(reference.begin());
      }
      CHECK(map.empty());
      CHECK(map.begin() == map.end());
      map[7].key = 7;
    }
    CHECK(Counted::alive == 0);  // the map destroyed what it held
  }
}

TEST_CASE("BatchMap: a log whose time runs backwards stays cheap and ordered",
          "[engine][batch_map][unit]") {
  // Every batch inserted before all others: each insert splits the first block in turn.
  NodePool pool;
  BatchMap<Counted> map(&pool);
  std::map<int64_t, const Counted*> reference;
  for (int64_t key = 100000; key > 0; --key) {
    Counted& v = map[key];
    v.key = key;
    reference[key] = &v;
  }
  CheckSame(map, reference);
  const BatchMap<Counted>& view = map;
  CHECK(view.find(5)->first == 5);
  CHECK(view.find(0) == view.end());
  CHECK(view.lower_bound(100001) == view.end());
  CHECK(view.lower_bound(-3)->first == 1);
}
