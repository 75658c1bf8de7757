// BatchSet against std::set on the same inserts: the same batches, ascending, each once, and
// never more stored than twice the distinct batches plus the slack.
#include "engine/batch_set.h"

#include <random>
#include <set>
#include <vector>

#include <catch2/catch.hpp>

using ember::engine::BatchSet;

TEST_CASE("BatchSet holds each batch once, ascending, whatever the order", "[unit][engine]") {
  BatchSet set;
  for (int64_t b : {7, 7, 3, 9, 3, 3, 1, 9, 12}) set.Insert(b);
  CHECK(set.Contains(3));
  CHECK_FALSE(set.Contains(4));
  CHECK(set.Take() == std::vector<int64_t>{1, 3, 7, 9, 12});
  CHECK(set.empty());
  set.Insert(5);
  CHECK(set.Take() == std::vector<int64_t>{5});
}

TEST_CASE("BatchSet agrees with std::set and stays bounded on random inserts", "[unit][engine]") {
  std::mt19937_64 rng(42);
  for (int round = 0; round < 20; ++round) {
    BatchSet set;
    std::set<int64_t> expected;
    const int64_t spread = 1 + static_cast<int64_t>(rng() % 200);
    const int inserts = 1 + static_cast<int>(rng() % 5000);
    int64_t base = 0;
    for (int i = 0; i < inserts; ++i) {
      // Mostly ascending runs, now and then a step back (a late line, a rule's own stamp).
      base += static_cast<int64_t>(rng() % 3);
      const int64_t batch = rng() % 4 == 0 ? base - static_cast<int64_t>(rng() % spread) : base;
      set.Insert(batch);
      expected.insert(batch);
      REQUIRE(set.stored() <= 2 * expected.size() + 64);
      if (rng() % 500 == 0) {
        const int64_t probe = base - static_cast<int64_t>(rng() % spread);
        REQUIRE(set.Contains(probe) == (expected.count(probe) > 0));
      }
    }
    REQUIRE(set.Take() == std::vector<int64_t>(expected.begin(), expected.end()));
  }
}
