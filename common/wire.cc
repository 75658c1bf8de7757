#include "common/wire.h"

#include <cstring>

namespace ember::wire {
namespace {

template <typename T>
void PutInt(std::string& buf, T v) {
  for (size_t i = 0; i < sizeof(T); ++i) {
    buf.push_back(static_cast<char>((static_cast<uint64_t>(v) >> (8 * i)) & 0xff));
  }
}

template <typename T>
void PatchInt(std::string& buf, size_t pos, T v) {
  for (size_t i = 0; i < sizeof(T); ++i) {
    buf[pos + i] = static_cast<char>((static_cast<uint64_t>(v) >> (8 * i)) & 0xff);
  }
}

void PutStr16(std::string& buf, std::string_view s) {
  if (s.size() > 0xffff) s = s.substr(0, 0xffff);
  PutInt<uint16_t>(buf, static_cast<uint16_t>(s.size()));
  buf.append(s);
}

void PutHeader(std::string& buf, FrameType type) {
  buf.push_back(static_cast<char>(kMagic));
  buf.push_back(static_cast<char>(kWireVersion));
  buf.push_back(static_cast<char>(type));
}

// Bounds-checked reader over a frame. Every getter fails rather than read past the end.
class Reader {
 public:
  explicit Reader(std::string_view data) : data_(data) {}

  template <typename T>
  bool Int(T* out) {
    if (data_.size() - pos_ < sizeof(T)) return false;
    uint64_t v = 0;
    for (size_t i = 0; i < sizeof(T); ++i) {
      v |= static_cast<uint64_t>(static_cast<uint8_t>(data_[pos_ + i])) << (8 * i);
    }
    pos_ += sizeof(T);
    *out = static_cast<T>(v);
    return true;
  }
  bool Bytes(size_t n, std::string_view* out) {
    if (data_.size() - pos_ < n) return false;
    *out = data_.substr(pos_, n);
    pos_ += n;
    return true;
  }
  bool Str16(std::string_view* out) {
    uint16_t n = 0;
    return Int(&n) && Bytes(n, out);
  }
  size_t pos() const { return pos_; }
  size_t remaining() const { return data_.size() - pos_; }

 private:
  std::string_view data_;
  size_t pos_ = 0;
};

Status Truncated(const char* field, const Reader& r) {
  return Status::InvalidArgument(std::string("truncated frame: field '") + field +
                                 "' runs past the end at byte " + std::to_string(r.pos()));
}

Status CheckHeader(std::string_view frame, FrameType expected) {
  Result<FrameType> type = PeekType(frame);
  if (!type.ok()) return type.status();
  if (*type != expected) {
    return Status::InvalidArgument("frame type " + std::to_string(static_cast<int>(*type)) +
                                   " where " + std::to_string(static_cast<int>(expected)) +
                                   " was expected");
  }
  return Status::Ok();
}

// u32 count, then per entry u64 stream_id + u64 offset.
void PutEntries(std::string& buf, const std::vector<AckEntry>& entries) {
  PutInt<uint32_t>(buf, static_cast<uint32_t>(entries.size()));
  for (const auto& e : entries) {
    PutInt<uint64_t>(buf, e.stream_id);
    PutInt<uint64_t>(buf, e.offset);
  }
}

Status ReadEntries(Reader& r, std::vector<AckEntry>* out) {
  uint32_t count = 0;
  if (!r.Int(&count)) return Truncated("count", r);
  if (count > r.remaining() / 16) {
    return Status::InvalidArgument("entry count " + std::to_string(count) + " cannot fit in " +
                                   std::to_string(r.remaining()) + " bytes");
  }
  out->resize(count);
  for (auto& e : *out) {
    if (!r.Int(&e.stream_id) || !r.Int(&e.offset)) return Truncated("entry", r);
  }
  return Status::Ok();
}

}  // namespace

DataFrameBuilder::DataFrameBuilder(std::string_view agent, std::string_view host,
                                   std::string_view path, std::string_view tag, uint64_t stream_id,
                                   uint64_t start_offset, int64_t read_time_ms,
                                   size_t reserve_bytes) {
  buf_.reserve(reserve_bytes);
  PutHeader(buf_, FrameType::kData);
  PutStr16(buf_, agent);
  PutStr16(buf_, host);
  PutStr16(buf_, path);
  PutStr16(buf_, tag);
  PutInt<uint64_t>(buf_, stream_id);
  origin_offset_pos_ = buf_.size();
  PutInt<uint64_t>(buf_, start_offset);
  PutInt<uint64_t>(buf_, start_offset);
  end_offset_pos_ = buf_.size();
  PutInt<uint64_t>(buf_, 0);
  PutInt<int64_t>(buf_, read_time_ms);
  kind_pos_ = buf_.size();
  buf_.push_back(0);
  count_pos_ = buf_.size();
  PutInt<uint32_t>(buf_, 0);
}

void DataFrameBuilder::SetOriginOffset(uint64_t origin_offset) {
  PatchInt<uint64_t>(buf_, origin_offset_pos_, origin_offset);
}

void DataFrameBuilder::AddLine(std::string_view line) {
  const auto n = static_cast<uint32_t>(line.size());
  const char length[4] = {static_cast<char>(n & 0xff), static_cast<char>((n >> 8) & 0xff),
                          static_cast<char>((n >> 16) & 0xff), static_cast<char>(n >> 24)};
  buf_.append(length, sizeof length);
  buf_.append(line);
  ++line_count_;
}

void DataFrameBuilder::AddLine(std::string_view line, const LineFields& fields) {
  if (line_count_ == 0) buf_[kind_pos_] = 1;
  AddLine(line);
  for (std::string_view s : {fields.unit, fields.identifier, fields.priority, fields.pid}) {
    PutStr16(buf_, s);
  }
}

std::string DataFrameBuilder::Finish(uint64_t end_offset) {
  PatchInt<uint64_t>(buf_, end_offset_pos_, end_offset);
  PatchInt<uint32_t>(buf_, count_pos_, line_count_);
  // Frames wait in queues: do not let a small one keep its 64 KiB reservation.
  if (buf_.capacity() > 2 * buf_.size()) buf_.shrink_to_fit();
  return std::move(buf_);
}

std::optional<uint8_t> PeekVersion(std::string_view frame) {
  if (frame.size() < 3 || static_cast<uint8_t>(frame[0]) != kMagic) return std::nullopt;
  return static_cast<uint8_t>(frame[1]);
}

Result<FrameType> PeekType(std::string_view frame) {
  if (frame.size() < 3) {
    return Status::InvalidArgument("frame of " + std::to_string(frame.size()) +
                                   " bytes is shorter than the 3-byte header");
  }
  if (static_cast<uint8_t>(frame[0]) != kMagic) {
    return Status::InvalidArgument("not an ember frame (bad magic byte)");
  }
  if (static_cast<uint8_t>(frame[2]) == static_cast<uint8_t>(FrameType::kRefused)) {
    return FrameType::kRefused;  // readable whatever the version
  }
  uint8_t version = static_cast<uint8_t>(frame[1]);
  if (version != kWireVersion) {
    return Status::InvalidArgument("unsupported wire version " + std::to_string(version) +
                                   " (this build speaks version " + std::to_string(kWireVersion) +
                                   ")");
  }
  uint8_t type = static_cast<uint8_t>(frame[2]);
  if (type < static_cast<uint8_t>(FrameType::kData) ||
      type > static_cast<uint8_t>(FrameType::kHeartbeat)) {
    return Status::InvalidArgument("unknown frame type " + std::to_string(type));
  }
  return static_cast<FrameType>(type);
}

Result<DataFrame> DecodeData(std::string_view frame) {
  if (frame.size() > kMaxFrameBytes) {
    return Status::InvalidArgument("frame of " + std::to_string(frame.size()) +
                                   " bytes exceeds the limit of " + std::to_string(kMaxFrameBytes));
  }
  Status s = CheckHeader(frame, FrameType::kData);
  if (!s.ok()) return s;
  Reader r(frame.substr(3));
  DataFrame f;
  if (!r.Str16(&f.agent)) return Truncated("agent", r);
  if (!r.Str16(&f.host)) return Truncated("host", r);
  if (!r.Str16(&f.path)) return Truncated("path", r);
  if (!r.Str16(&f.tag)) return Truncated("tag", r);
  if (!r.Int(&f.stream_id)) return Truncated("stream_id", r);
  if (!r.Int(&f.origin_offset)) return Truncated("origin_offset", r);
  if (!r.Int(&f.start_offset)) return Truncated("start_offset", r);
  if (!r.Int(&f.end_offset)) return Truncated("end_offset", r);
  if (!r.Int(&f.read_time_ms)) return Truncated("read_time_ms", r);
  uint8_t line_fields = 0;
  if (!r.Int(&line_fields)) return Truncated("line_fields", r);
  if (line_fields > 1) {
    return Status::InvalidArgument("line_fields " + std::to_string(line_fields) +
                                   " is neither 0 (file lines) nor 1 (journal entries)");
  }
  uint32_t count = 0;
  if (!r.Int(&count)) return Truncated("line_count", r);
  if (f.end_offset < f.start_offset) {
    return Status::InvalidArgument("end_offset " + std::to_string(f.end_offset) +
                                   " is before start_offset " + std::to_string(f.start_offset));
  }
  if (f.start_offset < f.origin_offset) {
    return Status::InvalidArgument("start_offset " + std::to_string(f.start_offset) +
                                   " is before origin_offset " + std::to_string(f.origin_offset));
  }
  // Each line needs at least its 4-byte length: a larger count cannot be honest.
  if (count > r.remaining() / 4) {
    return Status::InvalidArgument("line_count " + std::to_string(count) +
                                   " cannot fit in the remaining " + std::to_string(r.remaining()) +
                                   " bytes");
  }
  if (f.end_offset > kMaxStreamOffset) {
    return Status::InvalidArgument("end_offset " + std::to_string(f.end_offset) +
                                   " is beyond any file (limit " +
                                   std::to_string(kMaxStreamOffset) + ")");
  }
  f.lines.reserve(count);
  if (line_fields == 1) f.fields.reserve(count);
  uint64_t text_bytes = 0;
  for (uint32_t i = 0; i < count; ++i) {
    uint32_t len = 0;
    std::string_view line;
    if (!r.Int(&len) || !r.Bytes(len, &line)) return Truncated("line", r);
    f.lines.push_back(line);
    if (line_fields == 1) {
      LineFields lf;
      if (!r.Str16(&lf.unit) || !r.Str16(&lf.identifier) || !r.Str16(&lf.priority) ||
          !r.Str16(&lf.pid)) {
        return Truncated("line fields", r);
      }
      f.fields.push_back(lf);
    }
    text_bytes += len;
  }
  if (r.remaining() != 0) {
    return Status::InvalidArgument(std::to_string(r.remaining()) +
                                   " trailing bytes after the last line");
  }
  // A line's text is taken from its bytes in the file: a range shorter than the text cannot
  // be honest.
  if (f.end_offset - f.start_offset < text_bytes) {
    return Status::InvalidArgument("byte range " + std::to_string(f.start_offset) + ".." +
                                   std::to_string(f.end_offset) + " is shorter than the " +
                                   std::to_string(text_bytes) + " bytes of its lines");
  }
  return f;
}

std::string EncodeOffsets(FrameType type, const std::vector<AckEntry>& entries) {
  std::string buf;
  PutHeader(buf, type);
  PutEntries(buf, entries);
  return buf;
}

Result<std::vector<AckEntry>> DecodeOffsets(std::string_view frame, FrameType* type) {
  Result<FrameType> t = PeekType(frame);
  if (!t.ok()) return t.status();
  if (*t != FrameType::kAck && *t != FrameType::kNack && *t != FrameType::kCredit) {
    return Status::InvalidArgument("expected an ACK, NACK or CREDIT frame");
  }
  *type = *t;
  Reader r(frame.substr(3));
  std::vector<AckEntry> out;
  Status s = ReadEntries(r, &out);
  if (!s.ok()) return s;
  if (r.remaining() != 0) return Status::InvalidArgument("trailing bytes after the acks");
  return out;
}

std::string EncodeHello(const Hello& hello) {
  std::string buf;
  PutHeader(buf, FrameType::kHello);
  PutStr16(buf, hello.agent);
  PutStr16(buf, hello.host);
  PutStr16(buf, hello.software_version);
  PutInt<uint64_t>(buf, hello.epoch);
  PutInt<uint64_t>(buf, hello.hello_seq);
  PutEntries(buf, hello.streams);
  PutStr16(buf, hello.time_zone);
  return buf;
}

Result<Hello> DecodeHello(std::string_view frame) {
  Status s = CheckHeader(frame, FrameType::kHello);
  if (!s.ok()) return s;
  Reader r(frame.substr(3));
  Hello h;
  std::string_view agent, host, version;
  if (!r.Str16(&agent)) return Truncated("agent", r);
  if (!r.Str16(&host)) return Truncated("host", r);
  if (!r.Str16(&version)) return Truncated("software_version", r);
  if (!r.Int(&h.epoch)) return Truncated("epoch", r);
  if (!r.Int(&h.hello_seq)) return Truncated("hello_seq", r);
  s = ReadEntries(r, &h.streams);
  if (!s.ok()) return s;
  std::string_view zone;
  if (!r.Str16(&zone)) return Truncated("time_zone", r);
  if (r.remaining() != 0) return Status::InvalidArgument("trailing bytes after the time zone");
  h.time_zone = zone;
  h.agent = agent;
  h.host = host;
  h.software_version = version;
  return h;
}

std::string EncodeWelcome(const Welcome& welcome) {
  std::string buf;
  PutHeader(buf, FrameType::kWelcome);
  PutInt<uint64_t>(buf, welcome.hello_seq);
  PutInt<uint64_t>(buf, welcome.credit_bytes);
  PutEntries(buf, welcome.marks);
  return buf;
}

Result<Welcome> DecodeWelcome(std::string_view frame) {
  Status s = CheckHeader(frame, FrameType::kWelcome);
  if (!s.ok()) return s;
  Reader r(frame.substr(3));
  Welcome w;
  if (!r.Int(&w.hello_seq)) return Truncated("hello_seq", r);
  if (!r.Int(&w.credit_bytes)) return Truncated("credit_bytes", r);
  s = ReadEntries(r, &w.marks);
  if (!s.ok()) return s;
  if (r.remaining() != 0) return Status::InvalidArgument("trailing bytes after the marks");
  return w;
}

std::string EncodeHeartbeat(const Heartbeat& heartbeat) {
  std::string buf;
  PutHeader(buf, FrameType::kHeartbeat);
  PutInt<int64_t>(buf, heartbeat.agent_now_ms);
  PutEntries(buf, heartbeat.at_end);
  PutEntries(buf, heartbeat.behind);
  return buf;
}

Result<Heartbeat> DecodeHeartbeat(std::string_view frame) {
  Status s = CheckHeader(frame, FrameType::kHeartbeat);
  if (!s.ok()) return s;
  Reader r(frame.substr(3));
  Heartbeat h;
  if (!r.Int(&h.agent_now_ms)) return Truncated("agent_now_ms", r);
  if (s = ReadEntries(r, &h.at_end); !s.ok()) return s;
  if (s = ReadEntries(r, &h.behind); !s.ok()) return s;
  if (r.remaining() != 0) return Status::InvalidArgument("trailing bytes after the streams");
  for (const auto* list : {&h.at_end, &h.behind}) {
    for (const AckEntry& e : *list) {
      if (e.offset > kMaxStreamOffset) {
        return Status::InvalidArgument("offset " + std::to_string(e.offset) +
                                       " of a stream exceeds 2^60");
      }
    }
  }
  return h;
}

std::string EncodeHelloRequired() {
  std::string buf;
  PutHeader(buf, FrameType::kHelloRequired);
  return buf;
}

std::string EncodeRefused(std::string_view reason) {
  std::string buf;
  PutHeader(buf, FrameType::kRefused);
  PutStr16(buf, reason);
  return buf;
}

Result<std::string> DecodeRefused(std::string_view frame) {
  Status s = CheckHeader(frame, FrameType::kRefused);
  if (!s.ok()) return s;
  Reader r(frame.substr(3));
  std::string_view reason;
  if (!r.Str16(&reason)) return Truncated("reason", r);
  if (r.remaining() != 0) return Status::InvalidArgument("trailing bytes after the reason");
  return std::string(reason);
}

}  // namespace ember::wire
