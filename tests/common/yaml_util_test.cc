#include "common/yaml_util.h"

#include <catch2/catch.hpp>

#include "tests/support/temp_dir.h"

using namespace ember;

TEST_CASE("YamlMap: errors name file, line and column", "[common][yaml][unit]") {
  test::TempDir dir;
  std::string path = dir.Write("c.yaml", "a: 1\nwindow: ten\nlist: [x, y]\n");
  auto doc = LoadYamlFile(path);
  REQUIRE(doc.ok());
  YamlMap m(*doc, path);
  int64_t ms = 0;
  Status s = m.GetDurationMs("window", &ms);
  REQUIRE_FALSE(s.ok());
  CHECK(s.message().rfind(path + ":2:9: error: 'window'", 0) == 0);
  std::vector<std::string> list;
  REQUIRE(m.GetStringList("list", &list).ok());
  CHECK(list == std::vector<std::string>{"x", "y"});
}

TEST_CASE("YamlMap: an unknown key is rejected with a did-you-mean hint", "[common][yaml][unit]") {
  test::TempDir dir;
  std::string path = dir.Write("c.yaml", "name: x\nwindwo: 5s\n");
  YamlMap m(*LoadYamlFile(path), path);
  std::string name;
  int64_t window = 0;
  REQUIRE(m.GetString("name", &name).ok());
  REQUIRE(m.GetDurationMs("window", &window).ok());
  Status s = m.RejectUnknownKeys();
  REQUIRE_FALSE(s.ok());
  CHECK(s.message() == path + ":2:1: error: unknown key 'windwo' (did you mean 'window'?)");
}

TEST_CASE("LoadYamlFile: malformed YAML and missing files are errors with a location",
          "[common][yaml][unit]") {
  test::TempDir dir;
  std::string path = dir.Write("bad.yaml", "rules:\n  - name: [unclosed\n");
  auto doc = LoadYamlFile(path);
  REQUIRE_FALSE(doc.ok());
  CHECK(doc.status().message().rfind(path + ":", 0) == 0);
  CHECK(doc.status().message().find("error:") != std::string::npos);
  CHECK_FALSE(LoadYamlFile(dir.Sub("missing.yaml")).ok());
}

TEST_CASE("LoadYamlFile: a duplicate key is refused at the second one, at any depth",
          "[common][yaml][unit]") {
  test::TempDir dir;
  auto top = LoadYamlFile(dir.Write("a.yaml", "listen: a\nstate_dir: b\nlisten: c\n"));
  REQUIRE_FALSE(top.ok());
  CHECK(top.status().message().find(
            "a.yaml:3:1: error: duplicate key 'listen' (first at line 1)") != std::string::npos);
  auto rule = LoadYamlFile(dir.Write(
      "rules.yaml", "rules:\n  - name: x\n    window: 1m\n    match: y\n    window: 5m\n"));
  REQUIRE_FALSE(rule.ok());
  CHECK(rule.status().message().find("rules.yaml:5:5: error: duplicate key 'window'") !=
        std::string::npos);
  // The same key in two mappings is not a duplicate.
  CHECK(LoadYamlFile(dir.Write("ok.yaml", "a: {k: 1}\nb: {k: 2}\n")).ok());
}

TEST_CASE("YamlMap: absent keys read as undefined and leave the mapping as it was",
          "[common][yaml][unit]") {
  test::TempDir dir;
  const std::string path = dir.Write("c.yaml", "top:\n  name: x\n  empty: ~\n");
  auto doc = LoadYamlFile(path);
  REQUIRE(doc.ok());
  YamlMap m((*doc)["top"], path);
  CHECK(m.Has("name"));
  CHECK(m.Has("empty"));  // present with a null value
  CHECK_FALSE(m.Has("missing"));
  CHECK(m.Get("name").Scalar() == "x");
  CHECK(m.Get("empty").IsNull());
  CHECK(static_cast<bool>(m.Get("empty")));
  for (int i = 0; i < 3; ++i) {
    const YAML::Node absent = m.Get("missing" + std::to_string(i));
    CHECK_FALSE(absent);  // undefined, as yaml-cpp's own lookup of an absent key
    CHECK_FALSE(absent.IsScalar());
    CHECK_FALSE(absent.IsSequence());
  }
  CHECK((*doc)["top"].size() == 2);  // no key was added by looking for it
  std::string value = "kept";
  REQUIRE(m.GetString("missing", &value).ok());
  CHECK(value == "kept");
  CHECK(m.GetString("missing", &value, /*required=*/true).message() ==
        path + ":2:3: error: missing required key 'missing'");
  CHECK(m.Where("name") == path + ":2:9");
  CHECK(m.Where("missing") == path + ":2:3");  // the mapping's place
}
