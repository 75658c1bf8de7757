#include "engine/interned.h"

#include <string>

#include <catch2/catch.hpp>

using namespace ember::engine;

TEST_CASE("Intern: names from peers are refused beyond the table's bound, and counted",
          "[engine][interned][hostile][unit]") {
  const std::string held = "host-held-before-the-bound";
  const std::string* before = InternName(held);
  REQUIRE(before != nullptr);
  const uint64_t refused = InternRefusals();
  // Room for two more 100-byte names.
  SetInternBoundsForTest(InternedBytes() + 250, 0);
  const std::string a(100, 'a'), b(100, 'b'), c(100, 'c');
  const std::string* pa = InternName(a);
  const std::string* pb = InternName(b);
  CHECK(pa != nullptr);
  CHECK(pb != nullptr);
  CHECK(InternName(c) == nullptr);  // new, and over the bound
  CHECK(InternRefusals() == refused + 1);
  // Names already held are still answered, with their one copy.
  CHECK(InternName(a) == pa);
  CHECK(InternName(held) == before);
  // The process's own names are not bounded.
  const std::string* own = Intern(c);
  REQUIRE(own != nullptr);
  CHECK(*own == c);
  CHECK(InternName(c) == own);  // now held
  // Origins: a new combination beyond the bound is unknown (null), an old one still answered.
  const Origin* known = InternOrigin(pa, nullptr, nullptr);
  REQUIRE(known != nullptr);
  SetInternBoundsForTest(0, 1);  // at most one origin: already more are held
  CHECK(InternOrigin(pa, pb, nullptr) == nullptr);
  CHECK(InternOrigin(pa, nullptr, nullptr) == known);
  CHECK(InternRefusals() == refused + 2);
  SetInternBoundsForTest(0, 0);
  CHECK(InternOrigin(pa, pb, nullptr) != nullptr);
}
