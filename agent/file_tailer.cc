#include "agent/file_tailer.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <optional>

#include "common/wire.h"

namespace ember::agent {
namespace {

Status Errno(const std::string& what, const std::string& path) {
  return Status::IOError(what + " '" + path + "': " + std::strerror(errno));
}

uint64_t StreamId(const FileIdentity& id, uint64_t generation) {
  uint64_t h = 1469598103934665603ULL;
  for (uint64_t v : {static_cast<uint64_t>(id.dev), static_cast<uint64_t>(id.ino), generation}) {
    for (int i = 0; i < 8; ++i) {
      h ^= (v >> (8 * i)) & 0xff;
      h *= 1099511628211ULL;
    }
  }
  return h;
}

// Packs lines into frames no larger than max_frame_bytes.
class FramePacker {
 public:
  FramePacker(const FrameContext& ctx, const std::string& path, uint64_t stream_id,
              uint64_t start_offset, int64_t read_time_ms, std::vector<std::string>* out)
      : ctx_(ctx),
        path_(path),
        stream_id_(stream_id),
        read_time_ms_(read_time_ms),
        start_(start_offset),
        out_(out) {}

  void Add(const SplitLine& line, size_t max_frame_bytes) {
    if (!builder_) Begin();
    if (builder_->line_count() > 0 &&
        builder_->size_bytes() + line.text.size() + 4 > max_frame_bytes) {
      End();
      Begin();
    }
    builder_->AddLine(line.text);
    end_ = line.end_offset;
  }
  void Finish() {
    if (builder_ && builder_->line_count() > 0) End();
  }

 private:
  void Begin() {
    builder_.emplace(ctx_.agent, ctx_.host, path_, stream_id_, start_, read_time_ms_);
  }
  void End() {
    out_->push_back(builder_->Finish(end_));
    start_ = end_;
    builder_.reset();
  }

  const FrameContext& ctx_;
  const std::string& path_;
  uint64_t stream_id_;
  int64_t read_time_ms_;
  uint64_t start_;
  uint64_t end_ = 0;
  std::optional<wire::DataFrameBuilder> builder_;
  std::vector<std::string>* out_;
};

}  // namespace

Result<std::unique_ptr<FileTailer>> FileTailer::Open(const std::string& path, bool from_end,
                                                     const TailOptions& options) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOCTTY);
  if (fd < 0) return Errno("cannot open", path);
  struct stat st;
  if (::fstat(fd, &st) != 0) {
    Status s = Errno("cannot stat", path);
    ::close(fd);
    return s;
  }
  if (!S_ISREG(st.st_mode)) {
    ::close(fd);
    return Status::InvalidArgument("'" + path + "' is not a regular file");
  }
  uint64_t offset = from_end ? static_cast<uint64_t>(st.st_size) : 0;
  return std::unique_ptr<FileTailer>(
      new FileTailer(path, fd, FileIdentity{st.st_dev, st.st_ino}, offset, options));
}

FileTailer::FileTailer(std::string path, int fd, FileIdentity id, uint64_t offset,
                       const TailOptions& options)
    : path_(std::move(path)),
      fd_(fd),
      identity_(id),
      options_(options),
      read_offset_(offset),
      splitter_(static_cast<size_t>(options.max_line_bytes), offset) {
  NewStream(offset);
}

FileTailer::~FileTailer() { ::close(fd_); }

void FileTailer::NewStream(uint64_t offset) {
  stream_id_ = StreamId(identity_, generation_++);
  read_offset_ = offset;
  splitter_ = LineSplitter(static_cast<size_t>(options_.max_line_bytes), offset);
}

void FileTailer::Restart() {
  ++counters_.truncations;
  NewStream(0);
}

Result<size_t> FileTailer::ReadSome(const FrameContext& ctx, int64_t now_ms,
                                    std::vector<std::string>* frames) {
  buffer_.resize(static_cast<size_t>(options_.read_chunk_bytes));
  ssize_t n;
  do {
    n = ::pread(fd_, buffer_.data(), buffer_.size(), static_cast<off_t>(read_offset_));
  } while (n < 0 && errno == EINTR);
  if (n < 0) return Errno("cannot read", path_);

  FramePacker packer(ctx, path_, stream_id_, splitter_.committed_offset(), now_ms, frames);
  auto on_line = [&](const SplitLine& line) {
    ++counters_.lines;
    packer.Add(line, ctx.max_frame_bytes);
  };
  const uint64_t truncated_before = splitter_.truncated_lines();
  if (n > 0) {
    read_offset_ += static_cast<uint64_t>(n);
    counters_.bytes += static_cast<uint64_t>(n);
    last_data_ms_ = now_ms;
    splitter_.Feed(std::string_view(buffer_.data(), static_cast<size_t>(n)), on_line);
  } else if (splitter_.pending_bytes() > 0 &&
             now_ms - last_data_ms_ >= options_.partial_line_timeout_ms) {
    splitter_.Flush(on_line);  // the writer left a last line without '\n'
  }
  counters_.truncated_lines += splitter_.truncated_lines() - truncated_before;
  packer.Finish();
  return static_cast<size_t>(n);
}

void FileTailer::FlushPartial(const FrameContext& ctx, int64_t now_ms,
                              std::vector<std::string>* frames) {
  FramePacker packer(ctx, path_, stream_id_, splitter_.committed_offset(), now_ms, frames);
  splitter_.Flush([&](const SplitLine& line) {
    ++counters_.lines;
    packer.Add(line, ctx.max_frame_bytes);
  });
  packer.Finish();
}

}  // namespace ember::agent
