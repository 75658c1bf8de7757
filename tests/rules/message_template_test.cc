#include "rules/message_template.h"

#include <catch2/catch.hpp>

using ember::rules::MessageTemplate;

TEST_CASE("MessageTemplate: fields are replaced, literal text kept", "[rules][template][unit]") {
  auto t = MessageTemplate::Parse("{{count}} failed logins from {{ ip }} in {{window}}!");
  REQUIRE(t.ok());
  CHECK(t->Fields() == std::vector<std::string>{"count", "ip", "window"});
  std::string out = t->Render([](std::string_view f) -> std::string {
    if (f == "count") return "7";
    if (f == "ip") return "10.0.0.1";
    return "1m";
  });
  CHECK(out == "7 failed logins from 10.0.0.1 in 1m!");
}

TEST_CASE("MessageTemplate: unclosed and empty fields are errors with a column",
          "[rules][template][unit]") {
  auto a = MessageTemplate::Parse("abc {{count");
  REQUIRE_FALSE(a.ok());
  CHECK(a.status().message().find("column 5") != std::string::npos);
  CHECK_FALSE(MessageTemplate::Parse("x {{ }} y").ok());
  CHECK(MessageTemplate::Parse("no fields at all").ok());
}
