// FileTailer: reads one open file (one stream) from an offset and packs its complete lines
// into wire DATA frames. The file stays open, so a renamed or deleted file is read to its end.
// It tracks what the aggregator acknowledged: on a NACK or when acknowledgements stop coming
// it goes back and reads again from there (go-back-N), and it resumes at the acknowledged
// offset after a restart. Not thread-safe; owned by the TailSet.
#pragma once

#include <sys/types.h>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "agent/agent_config.h"
#include "agent/offset_store.h"
#include "common/line_splitter.h"
#include "common/status.h"

namespace ember::agent {

struct FileIdentity {
  dev_t dev = 0;
  ino_t ino = 0;
  bool operator==(const FileIdentity&) const = default;
};

// A NACK for the offset a stream just went back to, arriving this soon after, echoes frames
// that were already on their way; it is not a new loss (files and the journal alike).
inline constexpr int64_t kNackEchoMs = 2000;

// Who the frames come from (copied into every frame) and how large they may be.
struct FrameContext {
  std::string agent;
  std::string host;
  size_t max_frame_bytes = 1024 * 1024;
};

struct TailCounters {
  uint64_t lines = 0;
  uint64_t bytes = 0;
  uint64_t truncated_lines = 0;
  uint64_t truncations = 0;  // files found shorter than the offset read (copytruncate)
  uint64_t rewinds = 0;      // go-back-N: NACKs honoured and acknowledgement timeouts
  // ACK, NACK or WELCOME offsets refused: beyond what this agent sent, or going backwards.
  uint64_t refused_offsets = 0;
  // Streams started again because the aggregator's mark was beyond anything sent.
  uint64_t restreams = 0;
};

class FileTailer {
 public:
  // Opens `path`. A file the store knows (same device, inode and fingerprint, not shorter
  // than the acknowledged offset) resumes at its acknowledged offset as the same stream;
  // any other file is a new stream read from byte 0, or from its end when `from_end`.
  // `store` must outlive the tailer. Errors: IOError naming the path and errno's text.
  static Result<std::unique_ptr<FileTailer>> Open(const std::string& path, bool from_end,
                                                  const TailOptions& options, OffsetStore& store);
  // The tag frames of this file carry (the input's tag).
  void set_tag(std::string tag) { tag_ = std::move(tag); }
  const std::string& tag() const { return tag_; }
  ~FileTailer();
  FileTailer(const FileTailer&) = delete;
  FileTailer& operator=(const FileTailer&) = delete;

  // Reads at most read_chunk_bytes and appends the frames of the lines completed to *frames.
  // A held partial line older than partial_line_timeout_ms (by `now_ms`) is sent as a line.
  // Returns the bytes read (0 at end of file).
  // Reads at most `max_bytes` (flow-control credit left) in this call. Bytes read where the
  // file's first bytes have changed since (truncated and written again past this offset) are
  // not sent: the file is read again from its start as a new stream.
  // `buffer` is scratch space shared by all tailers (one read buffer per agent, not per file).
  // REQUIRES: !suspended().
  Result<size_t> ReadSome(const FrameContext& ctx, std::string* buffer, int64_t now_ms,
                          std::vector<std::string>* frames, size_t max_bytes = SIZE_MAX);

  // The fd budget: a suspended tailer has closed its file and keeps only its identity and
  // offsets. Resume reopens `path` (the file's name now) if it is still the same file (device,
  // inode, first bytes); FailedPrecondition otherwise.
  void Suspend();
  Status Resume(const std::string& path);
  bool suspended() const { return fd_ < 0; }
  int64_t last_data_ms() const { return last_data_ms_; }

  // Sends a held partial line now (the file was rotated away and read to its end).
  void FlushPartial(const FrameContext& ctx, int64_t now_ms, std::vector<std::string>* frames);

  // Whether the file's first bytes are no longer those of this stream (truncated and written
  // again, even past the old size). Reads them only when `size` changed since the last call.
  bool ContentReplaced(uint64_t size);
  // The file's size as of the last check (stat); a file read to its end that has not grown
  // since needs no read.
  void NoteSize(uint64_t size) { noted_size_ = size; }
  bool NothingNew() const {
    return at_eof_ && splitter_.pending_bytes() == 0 && noted_size_ == read_offset_;
  }
  // Starts over at byte 0 as a new stream (the file was truncated in place: `how` says what
  // showed it, for the log).
  void Restart(const std::string& how);

  // Offsets from the aggregator are validated: an offset beyond the highest one this agent
  // put in a frame (or, in a WELCOME, beyond the file's size) is a mark the aggregator cannot
  // hold honestly (forged by an impostor, or a corrupt store). It is refused and the file
  // continues as a new stream from its acknowledged offset, so nothing is lost or silenced.
  // An ACK below the acknowledged offset is refused. Each returns Ok, or the refusal (counted
  // in refused_offsets) for the caller to log.

  // The aggregator holds everything below `offset` durably.
  Status OnAck(uint64_t offset, int64_t now_ms);
  // The aggregator wants the stream again from `offset` (its high-water mark). A NACK for the
  // offset this tailer just went back to is a late echo of frames sent before, and ignored.
  Status OnNack(uint64_t offset, int64_t now_ms);
  // A new session with the aggregator: continue from its high-water mark `mark` (which also
  // acknowledges everything below it), or from the acknowledged offset when it has none.
  Status Resync(std::optional<uint64_t> mark, int64_t now_ms);
  // Goes back to the acknowledged offset if data was sent but nothing was acknowledged for
  // `timeout_ms` (frames lost with a dead aggregator).
  void CheckAckTimeout(int64_t now_ms, int64_t timeout_ms);
  // Read to the end of the file so far, nothing held back, everything acknowledged.
  bool FullyAcked() const {
    return at_eof_ && splitter_.pending_bytes() == 0 && acked_offset_ == read_offset_;
  }

  const std::string& path() const { return path_; }
  // The file is known under another name now (a glob matched its rotated name).
  void set_path(std::string path) { path_ = std::move(path); }
  const FileIdentity& identity() const { return identity_; }
  uint64_t stream_id() const { return stream_id_; }
  uint64_t read_offset() const { return read_offset_; }  // bytes consumed from the file
  uint64_t sent_offset() const { return splitter_.committed_offset(); }  // bytes in frames
  uint64_t acked_offset() const { return acked_offset_; }
  // Bytes read but not acknowledged (a long line being skipped counts here).
  uint64_t unacked_bytes() const {
    return read_offset_ > acked_offset_ ? read_offset_ - acked_offset_ : 0;
  }
  // Bytes put in frames and not acknowledged: what flow control counts against the credit.
  // Bytes held in a line still waiting for its newline do not count: the aggregator has none
  // of them, and a line longer than the credit would otherwise never be sent.
  uint64_t in_flight_bytes() const {
    return sent_offset() > acked_offset_ ? sent_offset() - acked_offset_ : 0;
  }
  // The highest offset this agent put in a frame of this stream, or the aggregator confirmed.
  uint64_t highest_sent_offset() const { return highest_sent_; }
  uint64_t origin_offset() const { return origin_offset_; }
  bool has_partial_line() const { return splitter_.pending_bytes() > 0; }
  // The last read found the end of the file (and nothing rewound it since).
  bool at_eof() const { return at_eof_; }
  const TailCounters& counters() const { return counters_; }

 private:
  FileTailer(std::string path, int fd, FileIdentity id, const TailOptions& options,
             OffsetStore& store);
  // Becomes a new stream starting at `offset`, recorded in the store.
  void NewStream(uint64_t offset);
  void Rewind(uint64_t offset, int64_t now_ms);
  // The aggregator claims `offset`, past anything sent: refuse it and start a new stream at
  // the acknowledged offset.
  Status RefuseBeyond(const char* what, uint64_t offset, uint64_t limit);
  void NoteSent() { highest_sent_ = std::max(highest_sent_, splitter_.committed_offset()); }

  std::string path_;
  std::string tag_;
  int fd_;
  FileIdentity identity_;
  const TailOptions& options_;
  OffsetStore& store_;
  uint64_t read_offset_ = 0;
  uint64_t acked_offset_ = 0;
  uint64_t origin_offset_ = 0;  // where this stream began
  uint64_t highest_sent_ = 0;
  uint64_t stream_id_ = 0;
  bool at_eof_ = false;
  int64_t last_ack_progress_ms_ = 0;  // last ACK progress (or when waiting began)
  bool ack_clock_started_ = false;
  std::optional<uint64_t> rewound_to_;
  int64_t rewound_at_ms_ = 0;
  LineSplitter splitter_;
  int64_t last_data_ms_ = 0;
  uint64_t last_checked_size_ = UINT64_MAX;
  uint64_t noted_size_ = UINT64_MAX;
  TailCounters counters_;
};

}  // namespace ember::agent
