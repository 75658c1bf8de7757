#include "common/node_pool.h"

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <map>
#include <random>
#include <set>
#include <string>

#include <catch2/catch.hpp>

using ember::NodePool;
using ember::PoolAllocator;

TEST_CASE("NodePool: nodes are distinct, aligned, and reused once given back", "[common][unit]") {
  NodePool pool;
  struct alignas(32) Node {
    char bytes[40];
  };
  std::set<void*> live;
  for (int i = 0; i < 1000; ++i) {
    void* p = pool.Take(sizeof(Node), alignof(Node));
    REQUIRE(reinterpret_cast<uintptr_t>(p) % alignof(Node) == 0);
    REQUIRE(live.insert(p).second);
    std::memset(p, i & 0xff, sizeof(Node));  // ASan: the whole node is ours
  }
  // Chunks of 4, 8, ... up to 256 nodes: 1000 nodes in 4+8+16+32+64+128+256+256+256.
  CHECK(pool.chunks() == 9);
  void* given = *live.begin();
  pool.Give(given);
  CHECK(pool.Take(sizeof(Node), alignof(Node)) == given);
  CHECK(pool.chunks() == 9);
}

TEST_CASE("NodePool: a map on it holds what a map on the heap holds", "[common][unit]") {
  NodePool pool;
  using PoolMap = std::map<int64_t, std::string, std::less<int64_t>,
                           PoolAllocator<std::pair<const int64_t, std::string>>>;
  PoolMap pooled{PoolMap::allocator_type(&pool)};
  std::map<int64_t, std::string> reference;
  std::mt19937 rng(11);
  for (int i = 0; i < 20000; ++i) {
    const int64_t key = static_cast<int64_t>(rng() % 500);
    switch (rng() % 3) {
      case 0:
      case 1: {
        const std::string value(rng() % 40, static_cast<char>('a' + key % 26));
        pooled[key] = value;
        reference[key] = value;
        break;
      }
      default:
        pooled.erase(pooled.begin(), pooled.lower_bound(key % 50));
        reference.erase(reference.begin(), reference.lower_bound(key % 50));
        pooled.erase(key);
        reference.erase(key);
    }
    REQUIRE(pooled.size() == reference.size());
  }
  CHECK(std::equal(pooled.begin(), pooled.end(), reference.begin(), reference.end()));
  // At most 500 keys live at once and given-back nodes are taken first, so no more than 500
  // nodes were carved: 7 chunks (4 + 8 + ... + 256 = 508).
  CHECK(pool.chunks() <= 7);
}
