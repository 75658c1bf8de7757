// The agent <-> aggregator frame codec. One ZeroMQ message is one frame.
//
// Layout, all integers little-endian. THIS FORMAT IS PERSISTED IN FLIGHT BETWEEN VERSIONS OF
// THE BINARIES: never change it without bumping kWireVersion.
//
//   u8 magic = 0xEB   u8 version = kWireVersion   u8 type (FrameType)
//   DATA (agent -> aggregator): a run of consecutive lines of one stream
//     str agent, str host, str path, str tag (str = u16 length + bytes; tag may be empty)
//     u64 stream_id                          (agent-chosen id of one file identity)
//     u64 origin_offset                      (where the stream began: 0, or the file's size
//                                             when first seen with read_from: end)
//     u64 start_offset, u64 end_offset       (byte range of the stream the lines cover)
//     i64 read_time_ms                       (agent's wall clock when it read them, Unix ms)
//     u8 line_fields                         (0: lines of a file; 1: journal entries, each
//                                             line followed by its fields)
//     u32 line_count, then per line: u32 length + bytes (without '\n' or trailing '\r'),
//       with line_fields 1 followed by str unit, str identifier, str priority ("0".."7" or
//       ""), str pid (decimal or "")
//   ACK (aggregator -> agent): offsets whose effects are durable
//     u32 count, then per stream: u64 stream_id + u64 offset
//   NACK (aggregator -> agent): "resend this stream from this offset" (go-back-N): sent for
//     a frame that does not start at the stream's high-water mark; same body as ACK
//   CREDIT (aggregator -> agent): the bytes the agent may have read and not yet had
//     acknowledged; same body as ACK with one entry (stream_id 0, offset = bytes)
//   HELLO (agent -> aggregator): opens a session on a connection; no DATA is accepted before
//     str agent, str host, str software_version, u64 epoch (random, kept in the agent's
//     state directory: a new one means the agent lost its state), u64 hello_seq,
//     u32 count, then per stream: u64 stream_id + u64 acknowledged offset,
//     str time_zone (the agent's local zone, e.g. "Europe/Berlin": stamps without an offset
//     in its files are wall-clock times there; "" = UTC)
//   WELCOME (aggregator -> agent): answers a HELLO
//     u64 hello_seq (echoed), u64 credit_bytes, u32 count, then per stream the aggregator
//     knows: u64 stream_id + u64 high-water mark
//   HEARTBEAT (agent -> aggregator): where the streams stand in time, at least every second
//     and after every turn that sent DATA: i64 agent_now_ms (the agent's wall clock), u32
//     count + (u64 stream_id, u64 offset) per stream read to its end at `offset` (everything
//     before it is in frames already sent), u32 count + the same per stream with more to read
//   HELLO_REQUIRED (aggregator -> agent): empty body; DATA came on a connection without a
//     session (the aggregator restarted): say HELLO again
//   REFUSED (either way): str reason. ITS LAYOUT IS FROZEN FOR EVERY VERSION (magic, any
//     version byte, type 0x7F, str reason), so a peer of another version can still read why
//     it was turned away.
//
// Decoding checks every length against the frame; nothing is read out of bounds. Pure
// functions and value types; thread-safe.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/journal_fields.h"
#include "common/status.h"

namespace ember::wire {

inline constexpr uint8_t kMagic = 0xEB;
inline constexpr uint8_t kWireVersion = 4;
// Frames above this size are refused by the decoder and by ZMQ_MAXMSGSIZE.
inline constexpr size_t kMaxFrameBytes = 16 * 1024 * 1024;
// No stream offset may exceed this (2^60 bytes, an exbibyte): larger ones are refused, so
// byte counters summed over streams cannot wrap.
inline constexpr uint64_t kMaxStreamOffset = uint64_t{1} << 60;

enum class FrameType : uint8_t {
  kData = 1,
  kAck = 2,
  kNack = 3,
  kCredit = 4,
  kHello = 5,
  kWelcome = 6,
  kHelloRequired = 7,
  kHeartbeat = 8,
  kRefused = 0x7F,
};

// The fields of a journal entry that travel with its line. Views, like DataFrame's.
using LineFields = JournalFields;

// A decoded DATA frame. The views point into the buffer passed to Decode*; they live as long
// as that buffer.
struct DataFrame {
  std::string_view agent;
  std::string_view host;
  std::string_view path;
  std::string_view tag;
  uint64_t stream_id = 0;
  uint64_t origin_offset = 0;
  uint64_t start_offset = 0;
  uint64_t end_offset = 0;
  int64_t read_time_ms = 0;
  std::vector<std::string_view> lines;
  std::vector<LineFields> fields;  // one per line for journal entries; empty for files
};

struct AckEntry {
  uint64_t stream_id;
  uint64_t offset;
};

struct Hello {
  std::string agent;
  std::string host;
  std::string software_version;
  uint64_t epoch = 0;
  uint64_t hello_seq = 0;
  std::vector<AckEntry> streams;  // stream id, acknowledged offset
  std::string time_zone;          // the agent's local zone; "" = UTC
};

struct Welcome {
  uint64_t hello_seq = 0;
  uint64_t credit_bytes = 0;
  std::vector<AckEntry> marks;  // stream id, the aggregator's high-water mark
};

struct Heartbeat {
  int64_t agent_now_ms = 0;
  std::vector<AckEntry> at_end;  // stream id, offset read to
  std::vector<AckEntry> behind;  // stream id, offset sent to
};

// Builds one DATA frame incrementally, so the agent appends lines without copying them twice.
// Not thread-safe.
class DataFrameBuilder {
 public:
  // Starts a frame; strings longer than 65535 bytes are cut to that length. The origin offset
  // is start_offset until SetOriginOffset says otherwise. `reserve_bytes`: the frame's
  // expected size, allocated once (a frame that outgrows it reallocates).
  DataFrameBuilder(std::string_view agent, std::string_view host, std::string_view path,
                   std::string_view tag, uint64_t stream_id, uint64_t start_offset,
                   int64_t read_time_ms, size_t reserve_bytes = 64 * 1024);
  void SetOriginOffset(uint64_t origin_offset);
  // Lines of a file...
  void AddLine(std::string_view line);
  // ... or of journal entries, each with its fields: a frame holds one kind only (the first
  // line added decides).
  void AddLine(std::string_view line, const LineFields& fields);
  size_t line_count() const { return line_count_; }
  size_t size_bytes() const { return buf_.size(); }
  // Completes the frame with the stream offset just past its last line. Call once.
  std::string Finish(uint64_t end_offset);

 private:
  std::string buf_;
  size_t origin_offset_pos_ = 0;
  size_t end_offset_pos_ = 0;
  size_t count_pos_ = 0;
  size_t kind_pos_ = 0;
  uint32_t line_count_ = 0;
};

// Peeks at the type of a frame. InvalidArgument for a short frame, a wrong magic byte, an
// unknown version (the message names both versions) or an unknown type. REFUSED is
// recognised whatever its version byte.
Result<FrameType> PeekType(std::string_view frame);

// Decodes a DATA frame. InvalidArgument (with the field and byte position) for any
// truncation, overlong length, trailing bytes, end_offset < start_offset or
// start_offset < origin_offset.
Result<DataFrame> DecodeData(std::string_view frame);

// ACK, NACK and CREDIT frames: `type` must be kAck, kNack or kCredit.
std::string EncodeOffsets(FrameType type, const std::vector<AckEntry>& entries);
// Decodes an ACK, NACK or CREDIT frame; *type receives which.
Result<std::vector<AckEntry>> DecodeOffsets(std::string_view frame, FrameType* type);

std::string EncodeHello(const Hello& hello);
Result<Hello> DecodeHello(std::string_view frame);
std::string EncodeWelcome(const Welcome& welcome);
Result<Welcome> DecodeWelcome(std::string_view frame);
std::string EncodeHeartbeat(const Heartbeat& heartbeat);
// InvalidArgument for truncation, trailing bytes or an offset beyond kMaxStreamOffset.
Result<Heartbeat> DecodeHeartbeat(std::string_view frame);
std::string EncodeHelloRequired();
// REFUSED: the reason is cut to 65535 bytes.
std::string EncodeRefused(std::string_view reason);
Result<std::string> DecodeRefused(std::string_view frame);
// The version byte of a frame with the right magic, if it has one.
std::optional<uint8_t> PeekVersion(std::string_view frame);

}  // namespace ember::wire
