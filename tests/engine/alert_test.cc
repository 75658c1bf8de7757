#include "engine/alert.h"

#include <catch2/catch.hpp>

using namespace ember;
using namespace ember::engine;

TEST_CASE("Alert: JSON round-trips exactly, key fields in the rule's order",
          "[engine][alert][unit]") {
  Alert a;
  a.id = "abc";
  a.rule = "error-burst";
  a.rule_digest = "d1";
  a.state = AlertState::kResolved;
  a.severity = rules::Severity::kError;
  a.fields = {{"host", "web1"}, {"file", "/var/log/app.log"}};  // not alphabetical
  a.count = 41;
  a.window_start_ms = 1700000000000;
  a.window_end_ms = 1700000030000;
  a.message = "41 ERROR lines";
  a.sample = "bad \xff utf-8 is replaced";
  auto back = AlertFromJson(AlertToJson(a));
  REQUIRE(back.ok());
  CHECK(back->fields == a.fields);
  CHECK(back->state == AlertState::kResolved);
  CHECK(back->severity == rules::Severity::kError);
  CHECK(back->count == 41);
  CHECK(back->window_end_ms == 1700000030000);
  CHECK(AlertToJson(*back) == AlertToJson(a));
  CHECK_FALSE(AlertFromJson("{\"id\": 1}").ok());
  CHECK_FALSE(AlertFromJson("not json").ok());
}
