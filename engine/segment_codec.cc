#include "engine/segment_codec.h"

#include <algorithm>
#include <cstring>
#include <unordered_map>
#include <vector>

#include "common/byte_order.h"
#include "engine/interned.h"

namespace ember::engine {
namespace {

double DoubleFromBits(uint64_t bits) {
  double v;
  static_assert(sizeof bits == sizeof v);
  std::memcpy(&v, &bits, sizeof v);
  return v;
}
uint64_t BitsOfDouble(double v) {
  uint64_t bits;
  std::memcpy(&bits, &v, sizeof bits);
  return bits;
}

// ---- Segments ----
//
// "\0Sv4" <records: u32 LE> <origins: varint>, per origin <host: varint length + bytes>
// <file: likewise> <agent: likewise> (empty = unknown), then per record:
//   <key: varint length + bytes> <count: varint> <origin index: varint>
//   <offset_start: varint> <offset_end - offset_start: zigzag varint> <flags: u8>
//   [flags & 1: <total: varint> <numeric: varint> <sum> <min> <max: IEEE bits, u64 LE>
//               <distinct: varint count> <hashes: u64 LE each>]
//   [flags & 2: <the sample's batch after the record's: varint>]
//   <sample: varint length + bytes>
// "\0Sv3" segments, written before partials were kept per slide, are the same without the
// sample's batch (flag 2): every sample lay in the record's own batch.
constexpr std::string_view kSegmentV4("\0Sv4", 4);
constexpr std::string_view kSegmentV3("\0Sv3", 4);
constexpr uint8_t kHasAggregates = 1;
constexpr uint8_t kHasSampleBatch = 2;
constexpr size_t kMaxVarint = 10;

char* PutVarint(char* out, uint64_t v) {
  while (v >= 0x80) {
    *out++ = static_cast<char>((v & 0x7f) | 0x80);
    v >>= 7;
  }
  *out++ = static_cast<char>(v);
  return out;
}
char* PutBytes(char* out, std::string_view s) {
  out = PutVarint(out, s.size());
  if (!s.empty()) std::memcpy(out, s.data(), s.size());  // an empty view's data may be null
  return out + s.size();
}
char* PutU64(char* out, uint64_t v) {
  for (int i = 0; i < 8; ++i) *out++ = static_cast<char>((v >> (8 * i)) & 0xff);
  return out;
}
uint64_t ZigZag(int64_t v) {
  return (static_cast<uint64_t>(v) << 1) ^ static_cast<uint64_t>(v >> 63);
}
int64_t UnZigZag(uint64_t v) { return static_cast<int64_t>(v >> 1) ^ -static_cast<int64_t>(v & 1); }

// A bounds-checked reader: every Get fails (returns false) rather than read past the end.
class Reader {
 public:
  explicit Reader(std::string_view s) : s_(s) {}
  bool Varint(uint64_t* v) {
    uint64_t out = 0;
    for (size_t i = 0; i < kMaxVarint && i < s_.size(); ++i) {
      const auto byte = static_cast<uint8_t>(s_[i]);
      out |= static_cast<uint64_t>(byte & 0x7f) << (7 * i);
      if ((byte & 0x80) == 0) {
        s_.remove_prefix(i + 1);
        *v = out;
        return true;
      }
    }
    return false;
  }
  bool Bytes(std::string_view* v) {
    uint64_t n;
    if (!Varint(&n) || n > s_.size()) return false;
    *v = s_.substr(0, n);
    s_.remove_prefix(n);
    return true;
  }
  bool U64(uint64_t* v) {
    if (s_.size() < 8) return false;
    *v = GetU64Le(s_);
    s_.remove_prefix(8);
    return true;
  }
  bool U8(uint8_t* v) {
    if (s_.empty()) return false;
    *v = static_cast<uint8_t>(s_[0]);
    s_.remove_prefix(1);
    return true;
  }
  size_t left() const { return s_.size(); }

 private:
  std::string_view s_;
};

bool DecodeSegmentBody(std::string_view segment, bool with_sample_batch,
                       const std::function<void(std::string_view, Partial&&)>& fn) {
  if (segment.size() < 8) return false;
  uint32_t n = GetU32Le(segment.substr(4));
  Reader in(segment.substr(8));
  uint64_t origin_count;
  if (!in.Varint(&origin_count) || origin_count > in.left() / 3) return false;
  std::vector<Origin> origins(origin_count);
  for (Origin& o : origins) {
    std::string_view host, file, agent;
    if (!in.Bytes(&host) || !in.Bytes(&file) || !in.Bytes(&agent)) return false;
    if (!host.empty()) o.host = InternName(host);
    if (!file.empty()) o.file = InternName(file);
    if (!agent.empty()) o.agent = InternName(agent);
  }
  for (; n > 0; --n) {
    std::string_view key, sample;
    uint64_t origin, span;
    uint8_t flags;
    Partial p;
    if (!in.Bytes(&key) || !in.Varint(&p.count) || !in.Varint(&origin) ||
        origin >= origins.size() || !in.Varint(&p.offset_start) || !in.Varint(&span) ||
        !in.U8(&flags)) {
      return false;
    }
    p.host = origins[origin].host;
    p.file = origins[origin].file;
    p.agent = origins[origin].agent;
    p.offset_end = p.offset_start + static_cast<uint64_t>(UnZigZag(span));
    if ((flags & kHasAggregates) != 0) {
      uint64_t sum, min, max, distinct;
      if (!in.Varint(&p.total) || !in.Varint(&p.numeric) || !in.U64(&sum) || !in.U64(&min) ||
          !in.U64(&max) || !in.Varint(&distinct) || distinct > kMaxDistinct ||
          distinct * 8 > in.left()) {
        return false;
      }
      p.sum = DoubleFromBits(sum);
      p.min = DoubleFromBits(min);
      p.max = DoubleFromBits(max);
      p.distinct.resize(distinct);
      for (uint64_t& h : p.distinct) in.U64(&h);
    }
    if ((flags & kHasSampleBatch) != 0) {
      uint64_t sample_batch;
      if (!with_sample_batch || !in.Varint(&sample_batch) || sample_batch > UINT32_MAX) {
        return false;
      }
      p.sample_batch = static_cast<uint32_t>(sample_batch);
    }
    if (!in.Bytes(&sample)) return false;
    p.sample.assign(sample);
    fn(key, std::move(p));
  }
  return true;
}

struct OriginHash {
  size_t operator()(const Origin& o) const {
    return (std::hash<const void*>()(o.host) * 31 + std::hash<const void*>()(o.file)) * 31 +
           std::hash<const void*>()(o.agent);
  }
};

}  // namespace

void EncodeSegment(std::span<const PartialRecord> records, std::string* out) {
  // The origins first (most segments have one: consecutive records usually share it).
  // A few origins are searched one by one; past kIndexedOrigins, through an index (a segment
  // of one or two keys, the most common, allocates none).
  constexpr size_t kIndexedOrigins = 8;
  std::vector<Origin> origins;
  std::unordered_map<Origin, uint32_t, OriginHash> origin_index;
  std::vector<uint32_t> record_origin(records.size());
  size_t bound = kSegmentV4.size() + 4 + kMaxVarint;
  auto index_of = [&](const Origin& origin) {
    if (origins.size() <= kIndexedOrigins) {
      const auto it = std::find(origins.begin(), origins.end(), origin);
      if (it != origins.end()) return static_cast<uint32_t>(it - origins.begin());
    } else if (auto it = origin_index.find(origin); it != origin_index.end()) {
      return it->second;
    }
    const auto added = static_cast<uint32_t>(origins.size());
    origins.push_back(origin);
    if (origins.size() == kIndexedOrigins + 1) {
      for (uint32_t o = 0; o < origins.size(); ++o) origin_index.emplace(origins[o], o);
    } else if (origins.size() > kIndexedOrigins + 1) {
      origin_index.emplace(origin, added);
    }
    bound += 3 * kMaxVarint + (origin.host ? origin.host->size() : 0) +
             (origin.file ? origin.file->size() : 0) + (origin.agent ? origin.agent->size() : 0);
    return added;
  };
  for (size_t i = 0; i < records.size(); ++i) {
    const Partial& p = records[i].partial;
    const Origin origin{p.host, p.file, p.agent};
    if (i > 0 && origins[record_origin[i - 1]] == origin) {
      record_origin[i] = record_origin[i - 1];
    } else {
      record_origin[i] = index_of(origin);
    }
    bound += 8 * kMaxVarint + 1 + records[i].key.size() + p.sample.size() +
             (kMaxVarint + 8) * (3 + p.distinct.size());
  }
  out->resize(bound);
  char* const begin = out->data();
  char* at = begin;
  std::memcpy(at, kSegmentV4.data(), kSegmentV4.size());
  at += kSegmentV4.size();
  const auto n = static_cast<uint32_t>(records.size());
  for (int b = 0; b < 4; ++b) *at++ = static_cast<char>((n >> (8 * b)) & 0xff);
  at = PutVarint(at, origins.size());
  auto name = [](const std::string* s) { return s ? std::string_view(*s) : std::string_view(); };
  for (const Origin& o : origins) {
    at = PutBytes(at, name(o.host));
    at = PutBytes(at, name(o.file));
    at = PutBytes(at, name(o.agent));
  }
  for (size_t i = 0; i < records.size(); ++i) {
    const Partial& p = records[i].partial;
    at = PutBytes(at, records[i].key);
    at = PutVarint(at, p.count);
    at = PutVarint(at, record_origin[i]);
    at = PutVarint(at, p.offset_start);
    at = PutVarint(at, ZigZag(static_cast<int64_t>(p.offset_end - p.offset_start)));
    const bool aggregates = p.total > 0 || p.numeric > 0 || !p.distinct.empty();
    *at++ = static_cast<char>((aggregates ? kHasAggregates : 0) |
                              (p.sample_batch > 0 ? kHasSampleBatch : 0));
    if (aggregates) {
      at = PutVarint(at, p.total);
      at = PutVarint(at, p.numeric);
      for (double d : {p.sum, p.min, p.max}) at = PutU64(at, BitsOfDouble(d));
      at = PutVarint(at, p.distinct.size());
      for (uint64_t h : p.distinct) at = PutU64(at, h);
    }
    if (p.sample_batch > 0) at = PutVarint(at, p.sample_batch);
    at = PutBytes(at, p.sample);
  }
  out->resize(static_cast<size_t>(at - begin));
}

uint32_t SegmentRecordCount(std::string_view segment) {
  const std::string_view marker = segment.substr(0, kSegmentV4.size());
  if ((marker != kSegmentV4 && marker != kSegmentV3) || segment.size() < 8) return 0;
  return GetU32Le(segment.substr(4));
}

bool DecodeSegment(std::string_view segment,
                   const std::function<void(std::string_view, Partial&&)>& fn) {
  const std::string_view marker = segment.substr(0, kSegmentV4.size());
  if (marker == kSegmentV4) return DecodeSegmentBody(segment, true, fn);
  if (marker == kSegmentV3) return DecodeSegmentBody(segment, false, fn);
  return false;
}

}  // namespace ember::engine
