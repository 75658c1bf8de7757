#include "common/node_pool.h"

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <random>
#include <set>
#include <utility>
#include <vector>

#include <catch2/catch.hpp>

using ember::NodePool;

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

TEST_CASE("NodePool: nodes taken and given back at random stay within the most ever live",
          "[common][unit]") {
  NodePool pool;
  std::vector<std::pair<uint64_t*, uint64_t>> live;  // each node with the value written there
  std::mt19937 rng(11);
  size_t most = 0;
  for (uint64_t i = 0; i < 20000; ++i) {
    if (live.size() < 500 && (live.empty() || rng() % 3 != 0)) {
      auto* node = static_cast<uint64_t*>(pool.Take(sizeof(uint64_t[4]), alignof(uint64_t)));
      for (int k = 0; k < 4; ++k) node[k] = i;  // ASan: the whole node is ours
      live.emplace_back(node, i);
      most = std::max(most, live.size());
    } else {
      const size_t at = rng() % live.size();
      // Nothing else wrote into a live node (the free list lives only in given-back ones).
      REQUIRE(live[at].first[0] == live[at].second);
      REQUIRE(live[at].first[3] == live[at].second);
      pool.Give(live[at].first);
      live[at] = live.back();
      live.pop_back();
    }
  }
  CHECK(most == 500);
  // Given-back nodes are taken first, so no more than the most ever live were carved: 7
  // chunks (4 + 8 + ... + 256 = 508).
  CHECK(pool.chunks() == 7);
}

TEST_CASE("NodePool: chunks stop growing at the byte bound, and hold one node at least",
          "[common][unit]") {
  NodePool pool(4096);
  for (int i = 0; i < 100; ++i) std::memset(pool.Take(1000, 8), 1, 1000);
  // 4 nodes of 1,000 bytes, then the bound: 4 a chunk (4,000 bytes); 100 nodes in 25 chunks.
  CHECK(pool.chunks() == 25);
  NodePool big(4096);
  for (int i = 0; i < 3; ++i) std::memset(big.Take(10000, 8), 2, 10000);
  CHECK(big.chunks() == 3);  // nodes larger than the bound: one a chunk
}
