#include "agent/offset_store.h"

#include <fcntl.h>
#include <unistd.h>

#include <string>
#include <utility>
#include <vector>

#include <catch2/catch.hpp>

#include "tests/support/temp_dir.h"

using namespace ember;
using namespace ember::agent;

TEST_CASE("OffsetStore: acknowledged offsets survive a reopen", "[agent][offsets][unit]") {
  test::TempDir dir;
  {
    auto store = OffsetStore::Open(dir.Sub("state"));
    REQUIRE(store.ok());
    StreamRecord r{42, "/var/log/app.log", 1, 2, 99, 10, 0};
    (*store)->Put(r);
    (*store)->Ack(42, 500);
    (*store)->Ack(42, 400);  // backwards: ignored
    (*store)->Ack(7, 100);   // unknown stream: ignored
    REQUIRE((*store)->Flush().ok());
  }
  auto store = OffsetStore::Open(dir.Sub("state"));
  REQUIRE(store.ok());
  REQUIRE((*store)->size() == 1);
  const StreamRecord* r = (*store)->FindByInode(1, 2);
  REQUIRE(r != nullptr);
  CHECK(r->stream_id == 42);
  CHECK(r->acked_offset == 500);
  CHECK(r->path == "/var/log/app.log");
  CHECK(r->fingerprint == 99);
}

TEST_CASE("OffsetStore: a new stream on a reused inode replaces the old record",
          "[agent][offsets][unit]") {
  test::TempDir dir;
  auto store = OffsetStore::Open(dir.path());
  REQUIRE(store.ok());
  (*store)->Put(StreamRecord{1, "/a", 5, 6, 0, 0, 100});
  (*store)->Put(StreamRecord{2, "/a", 5, 6, 0, 0, 0});
  CHECK((*store)->size() == 1);
  CHECK((*store)->Find(1) == nullptr);
  CHECK((*store)->FindByInode(5, 6)->stream_id == 2);
}

TEST_CASE("OffsetStore: an unreadable offsets file is refused and left untouched",
          "[agent][offsets][unit]") {
  test::TempDir dir;
  dir.Write("offsets.json", "{not json");
  auto store = OffsetStore::Open(dir.path());
  REQUIRE_FALSE(store.ok());
  CHECK(store.status().message().find("offsets.json") != std::string::npos);
  CHECK(test::ReadFile(dir.Sub("offsets.json")) == "{not json");
}

TEST_CASE("OffsetStore: a file of the wrong shape is refused naming the field, never a crash",
          "[agent][offsets][unit]") {
  test::TempDir dir;
  const std::string good_stream =
      R"({"id": 7, "path": "/var/log/a", "dev": 1, "ino": 2, "acked_offset": 10,
          "origin_offset": 0})";
  const std::vector<std::pair<std::string, std::string>> cases = {
      {R"({"version": "1", "streams": []})", "'version'"},
      {R"({"version": 1, "epoch": "x", "streams": []})", "'epoch'"},
      {R"({"version": 1, "streams": [42]})", "streams[0] is not an object"},
      {R"({"version": 1, "streams": [{"id": "7"}]})", "streams[0].id is \"7\""},
      {R"({"version": 1, "streams": [{"id": 7, "acked_offset": -1}]})", "streams[0].acked_offset"},
      {R"({"version": 1, "streams": [{"id": 7, "path": 3}]})", "streams[0].path"},
      {R"({"version": 1, "streams": [{"id": 0}]})", "streams[0].id is missing or 0"},
      {R"({"version": 1, "streams": [{"id": 7, "fingerprint_bytes": 1000000000000}]})",
       "streams[0].fingerprint_bytes 1000000000000 is more than the 1024 bytes"},
      {R"({"version": 1, "streams": [)" + good_stream +
           R"(, {"id": 8, "acked_offset": 5, "origin_offset": 9}]})",
       "streams[1].acked_offset 5 is before its origin_offset 9"},
  };
  for (const auto& [content, expected] : cases) {
    INFO(content);
    dir.Write("offsets.json", content);
    auto store = OffsetStore::Open(dir.path());
    REQUIRE_FALSE(store.ok());
    CHECK(store.status().code() == Status::Code::kCorruption);
    CHECK(store.status().message().find(dir.Sub("offsets.json")) != std::string::npos);
    CHECK(store.status().message().find(expected) != std::string::npos);
    CHECK(test::ReadFile(dir.Sub("offsets.json")) == content);  // left untouched
  }
  dir.Write("offsets.json", R"({"version": 1, "epoch": 5, "streams": [)" + good_stream + "]}");
  auto store = OffsetStore::Open(dir.path());
  REQUIRE(store.ok());
  REQUIRE((*store)->Find(7) != nullptr);
  CHECK((*store)->Find(7)->acked_offset == 10);
}

TEST_CASE("FingerprintFile: hashes at most the asked bytes", "[agent][offsets][unit]") {
  test::TempDir dir;
  int fd = ::open(dir.Write("f", "hello world").c_str(), O_RDONLY);
  uint64_t n = 0;
  uint64_t a = FingerprintFile(fd, 0, 5, &n);
  CHECK(n == 5);
  uint64_t b = FingerprintFile(fd, 0, 1024, &n);
  CHECK(n == 11);
  CHECK(a != b);
  ::close(fd);
  int fd2 = ::open(dir.Write("g", "hello there").c_str(), O_RDONLY);
  CHECK(FingerprintFile(fd2, 0, 5, &n) == a);
  ::close(fd2);
}

TEST_CASE("Fingerprints skip a configured header, so files sharing one are told apart",
          "[agent][offsets][unit]") {
  test::TempDir dir;
  const std::string header(1500, 'H');  // e.g. a CSV or a banner every file starts with
  int a = ::open(dir.Write("a.log", header + "first file\n").c_str(), O_RDONLY);
  int b = ::open(dir.Write("b.log", header + "second file\n").c_str(), O_RDONLY);
  StreamRecord plain, skipping;
  TakeFingerprint(a, 0, &plain);
  TakeFingerprint(a, header.size(), &skipping);
  CHECK(plain.fingerprint_bytes == kFingerprintBytes);
  CHECK(skipping.fingerprint_skip == header.size());
  CHECK(skipping.fingerprint_bytes == 11);  // what follows the header so far
  CHECK(MatchesFingerprint(a, plain));
  CHECK(MatchesFingerprint(a, skipping));
  CHECK(MatchesFingerprint(b, plain));           // the header alone cannot tell them apart
  CHECK_FALSE(MatchesFingerprint(b, skipping));  // past it, they differ
  ::close(a);
  ::close(b);
  // The skip is kept with the record.
  auto store = OffsetStore::Open(dir.Sub("state"));
  REQUIRE(store.ok());
  skipping.stream_id = 7;
  (*store)->Put(skipping);
  REQUIRE((*store)->Flush().ok());
  auto again = OffsetStore::Open(dir.Sub("state"));
  REQUIRE(again.ok());
  CHECK((*again)->Find(7)->fingerprint_skip == header.size());
}
