#include "common/curve_keys.h"

#include <sys/stat.h>

#include <catch2/catch.hpp>

#include "tests/support/temp_dir.h"

using namespace ember;

TEST_CASE("CurveKeys: keygen files read back, the secret file private", "[common][curve][unit]") {
  test::TempDir dir;
  auto keys = GenerateCurveKeyPair();
  REQUIRE(keys.ok());
  CHECK(IsZ85Key(keys->public_z85));
  CHECK(keys->public_z85 != keys->secret_z85);
  REQUIRE(WriteCurveKeyFiles(dir.Sub("agent"), *keys).ok());
  struct stat st;
  REQUIRE(::stat(dir.Sub("agent.key").c_str(), &st) == 0);
  CHECK((st.st_mode & 0777) == 0600);
  auto back = ReadCurveKeyFile(dir.Sub("agent.key"));
  REQUIRE(back.ok());
  CHECK(back->secret_z85 == keys->secret_z85);
  CHECK(back->public_z85 == keys->public_z85);
  CHECK(*ReadCurvePublicKey(dir.Sub("agent.pub")) == keys->public_z85);
  CHECK(*ReadCurvePublicKey(keys->public_z85) == keys->public_z85);
  // Never overwrites a key.
  CHECK_FALSE(WriteCurveKeyFiles(dir.Sub("agent"), *keys).ok());
}

TEST_CASE("CurveKeys: bad key files are errors naming the file and line", "[common][curve][unit]") {
  test::TempDir dir;
  auto a = GenerateCurveKeyPair();
  auto b = GenerateCurveKeyPair();
  std::string mixed =
      dir.Write("mixed.key", "public: " + b->public_z85 + "\nsecret: " + a->secret_z85 + "\n");
  auto r = ReadCurveKeyFile(mixed);
  REQUIRE_FALSE(r.ok());
  CHECK(r.status().message().find("does not belong") != std::string::npos);
  std::string junk = dir.Write("junk.key", "# comment\nsecret: not-a-key\n");
  r = ReadCurveKeyFile(junk);
  REQUIRE_FALSE(r.ok());
  CHECK(r.status().message().rfind(junk + ":2: error:", 0) == 0);
  std::string pub_only = dir.Write("only.key", a->public_z85 + "\n");
  CHECK_FALSE(ReadCurveKeyFile(pub_only).ok());
  CHECK_FALSE(ReadCurvePublicKey(dir.Sub("missing.pub")).ok());
}

TEST_CASE("CurveKeys: the authorized keys directory maps keys to agent names",
          "[common][curve][unit]") {
  test::TempDir dir;
  auto a = GenerateCurveKeyPair();
  auto b = GenerateCurveKeyPair();
  dir.Write("agents/web1.pub", a->public_z85 + "\n");
  dir.Write("agents/db1.pub", "# db\n" + b->public_z85 + "\n");
  dir.Write("agents/README", "ignored");
  auto keys = ReadAuthorizedKeys(dir.Sub("agents"));
  REQUIRE(keys.ok());
  CHECK(keys->size() == 2);
  CHECK(keys->at(a->public_z85) == "web1");
  CHECK(keys->at(b->public_z85) == "db1");
  // Each key speaks for its own name, and for the hosts of its .hosts file.
  dir.Write("agents/db1.hosts", "# the database pair\n db1-replica \t\r\n\ndb1-backup # old\n");
  auto hosts = ReadAuthorizedHosts(dir.Sub("agents"), *keys);
  REQUIRE(hosts.ok());
  CHECK(hosts->at("web1") == std::set<std::string>{"web1"});
  CHECK(hosts->at("db1") == std::set<std::string>{"db1", "db1-replica", "db1-backup"});
  // A .hosts file that is not a regular file is refused, naming it.
  REQUIRE(::mkfifo(dir.Sub("agents/web1.hosts").c_str(), 0600) == 0);
  auto fifo = ReadAuthorizedHosts(dir.Sub("agents"), *keys);
  REQUIRE_FALSE(fifo.ok());
  CHECK(fifo.status().message().find("web1.hosts") != std::string::npos);
  dir.Write("agents/bad.pub", "xyz\n");
  CHECK_FALSE(ReadAuthorizedKeys(dir.Sub("agents")).ok());
}

TEST_CASE("CurveKeys: a 40-character path that is also valid Z85 is read as a file",
          "[common][curve][unit]") {
  test::TempDir dir;
  auto k = GenerateCurveKeyPair();
  // Pad the directory so the file's full path is exactly 40 characters.
  std::string path = dir.path() + "/";
  while (path.size() + 4 < 40) path += "a";
  path += ".pub";
  REQUIRE(path.size() == 40);
  REQUIRE(IsZ85Key(path));
  dir.Write(path.substr(dir.path().size() + 1), k->public_z85 + "\n");
  CHECK(*ReadCurvePublicKey(path) == k->public_z85);
}
