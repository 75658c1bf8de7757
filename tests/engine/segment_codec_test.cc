// Segments are persisted: the bytes written must be the documented layout (built here by hand,
// not by the encoder), every older version must still read, and no damaged segment may make
// the reader go past its end.
#include "engine/segment_codec.h"

#include <random>
#include <string>
#include <vector>

#include <catch2/catch.hpp>

#include "engine/interned.h"

using namespace ember::engine;

namespace {

// The documented layout, written independently of segment_codec.cc.
std::string Varint(uint64_t v) {
  std::string out;
  do {
    uint8_t byte = v & 0x7f;
    v >>= 7;
    if (v != 0) byte |= 0x80;
    out.push_back(static_cast<char>(byte));
  } while (v != 0);
  return out;
}
std::string Bytes(std::string_view s) { return Varint(s.size()) + std::string(s); }
std::string Le(uint64_t v, int bytes) {
  std::string out;
  for (int i = 0; i < bytes; ++i) out.push_back(static_cast<char>((v >> (8 * i)) & 0xff));
  return out;
}

PartialRecord Record(std::string key, uint64_t count, std::string sample) {
  PartialRecord r;
  r.rule = "rule";
  r.batch = 7;
  r.key = std::move(key);
  r.partial.count = count;
  r.partial.sample = std::move(sample);
  return r;
}

std::vector<std::pair<std::string, Partial>> DecodeAll(std::string_view segment, bool* ok) {
  std::vector<std::pair<std::string, Partial>> out;
  *ok = DecodeSegment(segment, [&](std::string_view key, Partial&& p) {
    out.emplace_back(std::string(key), std::move(p));
  });
  return out;
}

void CheckSame(const Partial& got, const Partial& want) {
  CHECK(got.count == want.count);
  CHECK(got.total == want.total);
  CHECK(got.numeric == want.numeric);
  CHECK(got.sum == want.sum);
  CHECK(got.min == want.min);
  CHECK(got.max == want.max);
  CHECK(got.distinct == want.distinct);
  CHECK(got.sample == want.sample);
  CHECK(got.host == want.host);
  CHECK(got.file == want.file);
  CHECK(got.agent == want.agent);
  CHECK(got.offset_start == want.offset_start);
  CHECK(got.offset_end == want.offset_end);
  CHECK(got.sample_batch == want.sample_batch);
}

// Partials of every shape: no origin, two origins, aggregates, marker-like and binary samples,
// counts and offsets at the ends of their ranges, an end offset below the start.
std::vector<PartialRecord> VariedRecords() {
  std::vector<PartialRecord> r;
  r.push_back(Record("10.0.0.1", 3, "fail from 10.0.0.1"));
  r.push_back(Record("", 1, ""));
  r.push_back(Record("k", UINT64_MAX, std::string("\0Sv2\0Pv3\0Pv4", 12)));
  r.push_back(Record(std::string(300, 'x'), 2, std::string(70'000, '\xff')));
  r[0].partial.host = Intern("web1");
  r[0].partial.file = Intern("/var/log/auth.log");
  r[0].partial.offset_start = 100;
  r[0].partial.offset_end = 180;
  r[2].partial.host = Intern("db2");
  r[2].partial.agent = Intern("db2-key");
  r[2].partial.offset_start = UINT64_MAX - 5;
  r[2].partial.offset_end = UINT64_MAX;
  r[2].partial.sample_batch = UINT32_MAX;
  r[3].partial = r[0].partial;
  r[3].partial.count = 2;
  r[3].partial.sample = std::string(70'000, '\xff');
  r[3].partial.offset_end = 50;  // below the start: stored as a signed difference
  PartialRecord agg = Record("agg", 5, "with aggregates");
  agg.partial.total = 9;
  agg.partial.numeric = 2;
  agg.partial.sum = 1.5;
  agg.partial.min = -1;
  agg.partial.max = 2.5e300;
  agg.partial.distinct = {7, 11, UINT64_MAX};
  agg.partial.sample_batch = 9;
  r.push_back(agg);
  return r;
}

// Encodes `records` as one segment and checks that it reads back record for record.
std::string EncodeAndReadBack(const std::vector<PartialRecord>& records) {
  std::string segment;
  EncodeSegment(records, &segment);
  bool ok = false;
  const auto got = DecodeAll(segment, &ok);
  CHECK(ok);
  REQUIRE(got.size() == records.size());
  CHECK(SegmentRecordCount(segment) == records.size());
  for (size_t i = 0; i < records.size(); ++i) {
    INFO("record " << i);
    CHECK(got[i].first == records[i].key);
    CheckSame(got[i].second, records[i].partial);
  }
  return segment;
}

}  // namespace

TEST_CASE("Segment: the encoder writes the documented version-4 bytes", "[engine][segment][unit]") {
  std::vector<PartialRecord> records{Record("10.0.0.1", 3, "fail"), Record("10.0.0.2", 300, "x")};
  records[0].partial.host = Intern("web1");
  records[0].partial.file = Intern("/var/log/auth.log");
  records[0].partial.agent = Intern("web1-key");
  records[0].partial.offset_start = 1000;
  records[0].partial.offset_end = 1040;
  records[1].partial.total = 4;
  records[1].partial.sum = 2.0;
  records[1].partial.distinct = {5};
  records[1].partial.sample_batch = 130;  // its sample lay 130 batches into the slide
  std::string expected = std::string("\0Sv4", 4) + Le(2, 4) + Varint(2);
  expected += Bytes("web1") + Bytes("/var/log/auth.log") + Bytes("web1-key") + Bytes("") +
              Bytes("") + Bytes("");
  expected += Bytes("10.0.0.1") + Varint(3) + Varint(0) + Varint(1000) + Varint(80) +
              std::string(1, '\0') + Bytes("fail");
  expected += Bytes("10.0.0.2") + Varint(300) + Varint(1) + Varint(0) + Varint(0) +
              std::string(1, '\3') + Varint(4) + Varint(0) + Le(0x4000000000000000, 8) + Le(0, 8) +
              Le(0, 8) + Varint(1) + Le(5, 8) + Varint(130) + Bytes("x");
  std::string got = "left over from the last commit";
  EncodeSegment(records, &got);
  CHECK(got == expected);
  CHECK(SegmentRecordCount(got) == 2);
}

// Stores written with a partial per batch hold version-3 segments: the same records without
// the sample's batch, read as lying in the record's own batch.
TEST_CASE("Segment: version-3 segments read back, without a sample's batch",
          "[engine][segment][unit]") {
  std::string v3 =
      std::string("\0Sv3", 4) + Le(2, 4) + Varint(1) + Bytes("web1") + Bytes("f") + Bytes("");
  v3 += Bytes("10.0.0.1") + Varint(3) + Varint(0) + Varint(10) + Varint(80) + std::string(1, '\0') +
        Bytes("fail");
  v3 += Bytes("10.0.0.2") + Varint(7) + Varint(0) + Varint(0) + Varint(0) + std::string(1, '\1') +
        Varint(4) + Varint(0) + Le(0, 8) + Le(0, 8) + Le(0, 8) + Varint(0) + Bytes("x");
  CHECK(SegmentRecordCount(v3) == 2);
  bool ok = false;
  const auto got = DecodeAll(v3, &ok);
  CHECK(ok);
  REQUIRE(got.size() == 2);
  CHECK(got[0].first == "10.0.0.1");
  CHECK(got[0].second.count == 3);
  CHECK(got[0].second.offset_end == 50);
  CHECK(*got[0].second.host == "web1");
  CHECK(got[1].second.total == 4);
  CHECK(got[1].second.sample == "x");
  CHECK(got[0].second.sample_batch == 0);
  CHECK(got[1].second.sample_batch == 0);
  // Version 3 had no sample's batch: a record that says it has one is malformed there.
  std::string flagged = v3;
  flagged[flagged.find("fail") - 2] = '\2';
  DecodeAll(flagged, &ok);
  CHECK_FALSE(ok);
}

TEST_CASE("Segment: every shape of partial reads back exactly", "[engine][segment][unit]") {
  EncodeAndReadBack(VariedRecords());
}

TEST_CASE("Segment: a shared origin is stored once", "[engine][segment][unit]") {
  std::vector<PartialRecord> records;
  for (int i = 0; i < 1000; ++i) {
    records.push_back(Record(std::to_string(i), 1, "login failed user=" + std::to_string(i)));
    records.back().partial.host = Intern("web-07.example.net");
    records.back().partial.file = Intern(i % 2 ? "/var/log/auth.log" : "/var/log/secure");
  }
  std::string segment;
  EncodeSegment(records, &segment);
  size_t hosts = 0;
  for (size_t at = segment.find("web-07"); at != std::string::npos;
       at = segment.find("web-07", at + 1)) {
    ++hosts;
  }
  CHECK(hosts == 2);  // two origins: (web-07, auth.log) and (web-07, secure)
  // Per record: its key and sample with their lengths, count, origin, two offsets, flags.
  size_t payload = 0;
  for (const auto& r : records) payload += r.key.size() + r.partial.sample.size() + 7;
  CHECK(segment.size() <= payload + 100);
}

TEST_CASE("Segment: many origins in any order are each stored once and read back",
          "[engine][segment][unit]") {
  // Few origins are looked up one by one, more through an index: both ways, and the change
  // from one to the other, must give every record its own origin.
  for (const int origins : {1, 3, 8, 9, 10, 40}) {
    INFO(origins << " origins");
    std::mt19937 rng(static_cast<uint32_t>(origins));
    std::vector<PartialRecord> records;
    for (int i = 0; i < 400; ++i) {
      const int o = static_cast<int>(rng() % static_cast<uint32_t>(origins));
      records.push_back(Record(std::to_string(i), 1, "line " + std::to_string(i)));
      records.back().partial.host = Intern("many-origins-host-" + std::to_string(o) + "!");
      records.back().partial.file = Intern("/var/log/app-" + std::to_string(o % 3) + ".log");
    }
    const std::string segment = EncodeAndReadBack(records);
    for (int o = 0; o < origins; ++o) {
      const std::string host = "many-origins-host-" + std::to_string(o) + "!";
      const size_t first = segment.find(host);
      CHECK(first != std::string::npos);
      CHECK(segment.find(host, first + 1) == std::string::npos);
    }
  }
}

TEST_CASE("Segment: bytes without the segment marker are refused", "[engine][segment][unit]") {
  // What an older layout wrote (a record count first, then length-prefixed records).
  const std::string old = Le(1, 4) + Le(3, 4) + "key" + Le(8, 4) + Le(1, 8);
  bool ok = true;
  CHECK(DecodeAll(old, &ok).empty());
  CHECK_FALSE(ok);
  CHECK(SegmentRecordCount(old) == 0);
}

TEST_CASE("Segment: a damaged segment is refused without reading past its end",
          "[engine][segment][unit]") {
  std::string segment;
  EncodeSegment(VariedRecords(), &segment);
  bool ok = false;
  const auto whole = DecodeAll(segment, &ok);
  REQUIRE(ok);
  // Every cut (in its own allocation, so that ASan sees a read past it) fails, and what it
  // gave before failing is a prefix of the whole.
  for (size_t cut = 0; cut < segment.size(); cut += (cut < 400 ? 1 : 997)) {
    INFO("cut at " << cut);
    const std::string part = segment.substr(0, cut);
    const auto got = DecodeAll(part, &ok);
    CHECK_FALSE(ok);
    REQUIRE(got.size() <= whole.size());
    for (size_t i = 0; i < got.size(); ++i) CHECK(got[i].first == whole[i].first);
  }
  // Random bytes, with and without the marker: never a crash, never past the end.
  std::mt19937_64 random(7);
  for (int i = 0; i < 2000; ++i) {
    std::string garbage(random() % 200, '\0');
    for (char& c : garbage) c = static_cast<char>(random());
    if (i % 2 == 0) garbage = std::string("\0Sv3", 4) + garbage;
    (void)DecodeAll(garbage, &ok);
    (void)SegmentRecordCount(garbage);
  }
}
