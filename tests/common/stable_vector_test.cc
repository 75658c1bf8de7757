#include "common/stable_vector.h"

#include <string>
#include <vector>

#include <catch2/catch.hpp>

using ember::StableVector;

TEST_CASE("StableVector: elements keep their address as it grows, in order", "[common][unit]") {
  StableVector<std::string, 4> v;
  CHECK(v.empty());
  std::vector<const std::string*> at;
  for (int i = 0; i < 50; ++i) {
    std::string& s = v.emplace_back();
    CHECK(s.empty());  // value-initialized
    s = "element " + std::to_string(i);
    at.push_back(&s);
    for (int k = 0; k <= i; ++k) REQUIRE(&v[static_cast<size_t>(k)] == at[static_cast<size_t>(k)]);
  }
  CHECK(v.size() == 50);
  int n = 0;
  v.ForEach([&](std::string& s) { CHECK(s == "element " + std::to_string(n++)); });
  CHECK(n == 50);
}
