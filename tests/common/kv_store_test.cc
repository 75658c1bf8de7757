#include "common/kv_store.h"

#include <map>
#include <string>

#include <catch2/catch.hpp>

#include "tests/support/temp_dir.h"

using ember::KvStore;
using ember::KvStoreOptions;
using ember::KvWriter;
using ember::Status;

namespace {

std::unique_ptr<KvStore> OpenStore(const std::string& dir, int64_t map_bytes = 1 << 20) {
  KvStoreOptions o;
  o.dir = dir;
  o.databases = {"a", "b"};
  o.initial_map_bytes = map_bytes;
  o.sync = false;
  auto kv = KvStore::Open(o);
  REQUIRE(kv.ok());
  return std::move(*kv);
}

std::map<std::string, std::string> ScanAll(const KvStore& kv, const std::string& db,
                                           const std::string& prefix = "") {
  std::map<std::string, std::string> out;
  REQUIRE(
      kv.Scan(db, prefix, [&](std::string_view k, std::string_view v) { out.emplace(k, v); }).ok());
  return out;
}

}  // namespace

TEST_CASE("KvStore: a write is all or nothing", "[common][kv_store][unit]") {
  ember::test::TempDir dir;
  auto kv = OpenStore(dir.path());
  REQUIRE(kv->Write([](KvWriter& w) { return w.Put("a", "k1", "v1"); }).ok());
  Status failed = kv->Write([](KvWriter& w) {
    Status s = w.Put("a", "k2", "v2");
    if (!s.ok()) return s;
    return Status::IOError("simulated failure after a put");
  });
  CHECK_FALSE(failed.ok());
  CHECK(ScanAll(*kv, "a") == std::map<std::string, std::string>{{"k1", "v1"}});
}

TEST_CASE("KvStore: data survives reopening", "[common][kv_store][unit]") {
  ember::test::TempDir dir;
  {
    auto kv = OpenStore(dir.path());
    REQUIRE(kv->Write([](KvWriter& w) { return w.Put("b", "x", std::string("\0\1", 2)); }).ok());
  }
  auto kv = OpenStore(dir.path());
  auto v = kv->Get("b", "x");
  REQUIRE(v.ok());
  CHECK(*v == std::string("\0\1", 2));
  CHECK(kv->Get("b", "missing").status().code() == Status::Code::kNotFound);
}

TEST_CASE("KvStore: DeletePrefix removes exactly the keys with that prefix",
          "[common][kv_store][unit]") {
  ember::test::TempDir dir;
  auto kv = OpenStore(dir.path());
  REQUIRE(kv->Write([](KvWriter& w) {
              for (const char* k : {"r1\0a", "r1b", "r2", "r", "r1"}) {
                Status s = w.Put("a", k, "v");
                if (!s.ok()) return s;
              }
              return Status::Ok();
            }).ok());
  REQUIRE(kv->Write([](KvWriter& w) { return w.DeletePrefix("a", "r1"); }).ok());
  auto left = ScanAll(*kv, "a");
  CHECK(left.size() == 2);
  CHECK(left.count("r"));
  CHECK(left.count("r2"));
}

// Deleting a database's last remaining key leaves the cursor uninitialised, and LMDB answers
// EINVAL to MDB_GET_CURRENT: every checkpoint after a window emptied out failed with it.
TEST_CASE("KvStore: DeletePrefix of the last keys of a database succeeds",
          "[common][kv_store][unit]") {
  ember::test::TempDir dir;
  auto kv = OpenStore(dir.path());
  // The only key: deleting it leaves the database empty.
  REQUIRE(kv->Write([](KvWriter& w) { return w.Put("a", "k1", "v"); }).ok());
  REQUIRE(kv->Write([](KvWriter& w) { return w.DeletePrefix("a", "k"); }).ok());
  CHECK(ScanAll(*kv, "a").empty());
  for (const std::string prefix : {"z", "a"}) {  // last keys; then every key
    REQUIRE(kv->Write([](KvWriter& w) {
                for (const char* k : {"a1", "a2", "z1", "z2", "z3"}) {
                  Status s = w.Put("a", k, "v");
                  if (!s.ok()) return s;
                }
                return Status::Ok();
              }).ok());
    Status s = kv->Write([&](KvWriter& w) { return w.DeletePrefix("a", prefix); });
    INFO(s.message());
    REQUIRE(s.ok());
    auto left = ScanAll(*kv, "a");
    CHECK(left.count(prefix + "1") == 0);
    CHECK(left.size() == (prefix == "z" ? 2u : 3u));
  }
  // Ranges over many pages, at the end and in the middle, as a window's batches leave.
  REQUIRE(kv->Write([](KvWriter& w) {
              for (int i = 0; i < 3000; ++i) {
                char key[16];
                std::snprintf(key, sizeof key, "%c/%05d", "bmz"[i % 3], i);
                Status s = w.Put("a", key, std::string(40, 'v'));
                if (!s.ok()) return s;
              }
              return Status::Ok();
            }).ok());
  for (const std::string prefix : {"z/", "b/", "m/"}) {
    Status s = kv->Write([&](KvWriter& w) { return w.DeletePrefix("a", prefix); });
    INFO(prefix << ": " << s.message());
    REQUIRE(s.ok());
  }
  CHECK(ScanAll(*kv, "a").size() == 3);  // from the first part
  REQUIRE(kv->Write([](KvWriter& w) { return w.DeletePrefix("a", ""); }).ok());
  CHECK(ScanAll(*kv, "a").empty());
}

TEST_CASE("KvStore: a full map grows instead of failing", "[common][kv_store][unit]") {
  ember::test::TempDir dir;
  auto kv = OpenStore(dir.path(), 64 * 1024);  // far too small for what follows
  const std::string value(4000, 'v');
  for (int t = 0; t < 10; ++t) {
    Status s = kv->Write([&](KvWriter& w) {
      for (int i = 0; i < 100; ++i) {
        Status e = w.Put("a", std::to_string(t) + "/" + std::to_string(i), value);
        if (!e.ok()) return e;
      }
      return Status::Ok();
    });
    REQUIRE(s.ok());
  }
  CHECK(ScanAll(*kv, "a").size() == 1000);
  CHECK(kv->map_bytes() > 64 * 1024);
}

TEST_CASE("KvStore: an unknown database name is an error, not a crash",
          "[common][kv_store][unit]") {
  ember::test::TempDir dir;
  auto kv = OpenStore(dir.path());
  CHECK_FALSE(kv->Write([](KvWriter& w) { return w.Put("nope", "k", "v"); }).ok());
  CHECK_FALSE(kv->Get("nope", "k").ok());
}

// A newer reader (the `ember` CLI) on an environment an older aggregator wrote: a database the
// writer never created reads as empty instead of failing the open.
TEST_CASE("KvStore: read-only, a database the writer never created reads as empty",
          "[common][kv_store][unit]") {
  ember::test::TempDir dir;
  {
    auto kv = OpenStore(dir.path());
    REQUIRE(kv->Write([](KvWriter& w) { return w.Put("a", "k", "v"); }).ok());
  }
  KvStoreOptions o;
  o.dir = dir.path();
  o.databases = {"a", "b", "newer"};
  o.read_only = true;
  auto kv = KvStore::Open(o);
  REQUIRE(kv.ok());
  CHECK(ScanAll(**kv, "a") == std::map<std::string, std::string>{{"k", "v"}});
  CHECK(ScanAll(**kv, "newer").empty());
  CHECK((*kv)->Get("newer", "k").status().code() == Status::Code::kNotFound);
  auto n = (*kv)->Count("newer");
  REQUIRE(n.ok());
  CHECK(*n == 0);
  CHECK(*(*kv)->Count("a") == 1);
  // A writer creates it.
  o.read_only = false;
  CHECK(KvStore::Open(o).ok());
}

TEST_CASE("KvStore: an empty, cut or foreign data.mdb is refused with the remedy, not mapped",
          "[common][kv_store][unit]") {
  ember::test::TempDir dir;
  const std::string state = dir.Sub("state");
  {
    auto kv = OpenStore(state);
    // Enough data for several pages, so that half the file cuts real pages away.
    REQUIRE(kv->Write([](KvWriter& w) {
                for (int i = 0; i < 2000; ++i) {
                  Status s = w.Put("a", "key" + std::to_string(i), std::string(100, 'v'));
                  if (!s.ok()) return s;
                }
                return Status::Ok();
              }).ok());
  }
  const std::string file = state + "/data.mdb";
  const std::string whole = ember::test::ReadFile(file);
  REQUIRE(whole.size() > 16 * 4096);
  std::string expected;
  SECTION("cut in half") {
    dir.Write("state/data.mdb", whole.substr(0, whole.size() / 2));
    expected = "is cut short";
  }
  SECTION("cut to nothing") {
    dir.Write("state/data.mdb", "");
    expected = "is empty";
  }
  SECTION("not LMDB") {
    dir.Write("state/data.mdb", std::string(3 * 4096, 'x'));
    expected = "is not an LMDB file";
  }
  for (bool read_only : {false, true}) {
    KvStoreOptions o;
    o.dir = state;
    o.databases = {"a", "b"};
    o.read_only = read_only;
    auto kv = KvStore::Open(o);
    REQUIRE_FALSE(kv.ok());
    CHECK(kv.status().code() == Status::Code::kCorruption);
    CHECK(kv.status().message().find(file) != std::string::npos);
    CHECK(kv.status().message().find(expected) != std::string::npos);
    CHECK(kv.status().message().find("--reset-state") != std::string::npos);
  }
}
