// FileTailer: reads one open file from an offset and packs its complete lines into wire DATA
// frames. The file stays open, so a renamed or deleted file is read to its end. Not
// thread-safe; owned by the TailSet.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "agent/agent_config.h"
#include "common/line_splitter.h"
#include "common/status.h"

namespace ember::agent {

struct FileIdentity {
  dev_t dev = 0;
  ino_t ino = 0;
  bool operator==(const FileIdentity&) const = default;
};

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
};

class FileTailer {
 public:
  // Opens `path`; reading starts at byte 0, or at the current end when `from_end`.
  // Errors: IOError naming the path and errno's text.
  static Result<std::unique_ptr<FileTailer>> Open(const std::string& path, bool from_end,
                                                  const TailOptions& options);
  ~FileTailer();
  FileTailer(const FileTailer&) = delete;
  FileTailer& operator=(const FileTailer&) = delete;

  // Reads at most read_chunk_bytes and appends the frames of the lines completed to *frames.
  // A held partial line older than partial_line_timeout_ms (by `now_ms`) is sent as a line.
  // Returns the bytes read (0 at end of file).
  Result<size_t> ReadSome(const FrameContext& ctx, int64_t now_ms,
                          std::vector<std::string>* frames);

  // Sends a held partial line now (the file was rotated away and read to its end).
  void FlushPartial(const FrameContext& ctx, int64_t now_ms, std::vector<std::string>* frames);

  // Starts over at byte 0 as a new stream (the file was truncated in place).
  void Restart();

  const std::string& path() const { return path_; }
  const FileIdentity& identity() const { return identity_; }
  uint64_t stream_id() const { return stream_id_; }
  uint64_t read_offset() const { return read_offset_; }  // bytes consumed from the file
  bool has_partial_line() const { return splitter_.pending_bytes() > 0; }
  const TailCounters& counters() const { return counters_; }

 private:
  FileTailer(std::string path, int fd, FileIdentity id, uint64_t offset,
             const TailOptions& options);
  void NewStream(uint64_t offset);

  std::string path_;
  int fd_;
  FileIdentity identity_;
  const TailOptions& options_;
  uint64_t read_offset_;
  uint64_t generation_ = 0;
  uint64_t stream_id_ = 0;
  LineSplitter splitter_;
  std::string buffer_;
  int64_t last_data_ms_ = 0;
  TailCounters counters_;
};

}  // namespace ember::agent
