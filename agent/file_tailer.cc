#include "agent/file_tailer.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <optional>

#include <spdlog/spdlog.h>

#include "common/wire.h"

namespace ember::agent {
namespace {

Status Errno(const std::string& what, const std::string& path) {
  return Status::IOError(what + " '" + path + "': " + std::strerror(errno));
}

// Packs lines into frames no larger than max_frame_bytes.
class FramePacker {
 public:
  FramePacker(const FrameContext& ctx, const std::string& path, const std::string& tag,
              uint64_t stream_id, uint64_t origin_offset, uint64_t start_offset,
              int64_t read_time_ms, size_t bytes_hint, std::vector<std::string>* out)
      : ctx_(ctx),
        path_(path),
        tag_(tag),
        origin_(origin_offset),
        stream_id_(stream_id),
        read_time_ms_(read_time_ms),
        start_(start_offset),
        // Lines plus their 4-byte lengths (a line is rarely under 32 bytes) and the header.
        reserve_(std::min(ctx.max_frame_bytes, bytes_hint + bytes_hint / 8 + 1024)),
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
    builder_ = std::make_unique<wire::DataFrameBuilder>(
        ctx_.agent, ctx_.host, path_, tag_, stream_id_, start_, read_time_ms_, reserve_);
    builder_->SetOriginOffset(origin_);
  }
  void End() {
    out_->push_back(builder_->Finish(end_));
    start_ = end_;
    builder_.reset();
  }

  const FrameContext& ctx_;
  const std::string& path_;
  const std::string& tag_;
  uint64_t origin_;
  uint64_t stream_id_;
  int64_t read_time_ms_;
  uint64_t start_;
  uint64_t end_ = 0;
  size_t reserve_;
  std::unique_ptr<wire::DataFrameBuilder> builder_;
  std::vector<std::string>* out_;
};

}  // namespace

Result<std::unique_ptr<FileTailer>> FileTailer::Open(const std::string& path, bool from_end,
                                                     const TailOptions& options,
                                                     OffsetStore& store) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
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
  std::unique_ptr<FileTailer> tailer(
      new FileTailer(path, fd, FileIdentity{st.st_dev, st.st_ino}, options, store));
  const auto size = static_cast<uint64_t>(st.st_size);
  if (const StreamRecord* r = store.FindByInode(st.st_dev, st.st_ino)) {
    if (MatchesFingerprint(fd, *r) && size >= r->acked_offset) {
      tailer->stream_id_ = r->stream_id;
      tailer->acked_offset_ = r->acked_offset;
      tailer->origin_offset_ = r->origin_offset;
      tailer->read_offset_ = r->acked_offset;
      tailer->highest_sent_ = r->acked_offset;
      tailer->splitter_ =
          LineSplitter(static_cast<size_t>(options.max_line_bytes), r->acked_offset);
      return tailer;
    }
    spdlog::info(
        "'{}' is not the file last read under its inode (replaced or truncated); "
        "reading it as a new file.",
        path);
    tailer->NewStream(0);
    return tailer;
  }
  tailer->NewStream(from_end ? size : 0);
  return tailer;
}

FileTailer::FileTailer(std::string path, int fd, FileIdentity id, const TailOptions& options,
                       OffsetStore& store)
    : path_(std::move(path)),
      fd_(fd),
      identity_(id),
      options_(options),
      store_(store),
      splitter_(static_cast<size_t>(options.max_line_bytes), 0) {}

FileTailer::~FileTailer() {
  if (fd_ >= 0) ::close(fd_);
}

void FileTailer::Suspend() {
  if (fd_ < 0) return;
  ::close(fd_);
  fd_ = -1;
}

Status FileTailer::Resume(const std::string& path) {
  if (fd_ >= 0) return Status::Ok();
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
  if (fd < 0) return Errno("cannot open", path);
  struct stat st;
  const StreamRecord* r = store_.Find(stream_id_);
  if (::fstat(fd, &st) != 0 || !(FileIdentity{st.st_dev, st.st_ino} == identity_) ||
      (r != nullptr && !MatchesFingerprint(fd, *r))) {
    ::close(fd);
    return Status::NotFound("'" + path + "' is no longer the file that was closed");
  }
  fd_ = fd;
  path_ = path;
  return Status::Ok();
}

void FileTailer::NewStream(uint64_t offset) {
  stream_id_ = NewStreamId();
  read_offset_ = offset;
  acked_offset_ = offset;  // nothing before `offset` is to be sent
  origin_offset_ = offset;
  highest_sent_ = offset;
  at_eof_ = false;
  rewound_to_.reset();
  splitter_ = LineSplitter(static_cast<size_t>(options_.max_line_bytes), offset);
  StreamRecord r;
  r.stream_id = stream_id_;
  r.path = path_;
  r.dev = identity_.dev;
  r.ino = identity_.ino;
  TakeFingerprint(fd_, static_cast<uint64_t>(options_.fingerprint_skip_bytes), &r);
  r.acked_offset = offset;
  r.origin_offset = offset;
  store_.Put(r);
}

void FileTailer::Rewind(uint64_t offset, int64_t now_ms) {
  ++counters_.rewinds;
  read_offset_ = offset;
  at_eof_ = false;
  splitter_ = LineSplitter(static_cast<size_t>(options_.max_line_bytes), offset);
  rewound_to_ = offset;
  rewound_at_ms_ = now_ms;
  last_ack_progress_ms_ = now_ms;
  ack_clock_started_ = true;
}

Status FileTailer::RefuseBeyond(const char* what, uint64_t offset, uint64_t limit) {
  ++counters_.refused_offsets;
  ++counters_.restreams;
  const uint64_t old_stream = stream_id_;
  NewStream(acked_offset_);
  return Status::InvalidArgument(
      std::string("refused ") + what + " for '" + path_ + "' at byte " + std::to_string(offset) +
      ": beyond byte " + std::to_string(limit) +
      ", the most this agent sent (a forged or corrupt mark on the aggregator); stream " +
      std::to_string(old_stream) + " continues as new stream " + std::to_string(stream_id_) +
      " from the acknowledged byte " + std::to_string(acked_offset_));
}

Status FileTailer::OnAck(uint64_t offset, int64_t now_ms) {
  if (offset == acked_offset_) return Status::Ok();
  if (offset < acked_offset_) {
    ++counters_.refused_offsets;
    return Status::InvalidArgument("refused an ACK for '" + path_ + "' at byte " +
                                   std::to_string(offset) + ": behind the acknowledged byte " +
                                   std::to_string(acked_offset_));
  }
  if (offset > highest_sent_) return RefuseBeyond("an ACK", offset, highest_sent_);
  acked_offset_ = offset;
  last_ack_progress_ms_ = now_ms;
  // The ACK of frames sent before a rewind can overtake the re-read: what it covers need not
  // be read again (ACKs fall on line boundaries). Reading on from behind it would leave the
  // read offset below the acknowledged one, and no credit ever free again.
  if (read_offset_ < offset) {
    read_offset_ = offset;
    at_eof_ = false;
    splitter_ = LineSplitter(static_cast<size_t>(options_.max_line_bytes), offset);
  }
  store_.Ack(stream_id_, offset);
  const StreamRecord* r = store_.Find(stream_id_);
  if (r != nullptr && r->fingerprint_bytes < kFingerprintBytes && fd_ >= 0) {
    // The file was shorter than a fingerprint when first seen: identify it by more bytes now.
    StreamRecord updated = *r;
    TakeFingerprint(fd_, r->fingerprint_skip, &updated);
    store_.Put(updated);
  }
  return Status::Ok();
}

Status FileTailer::OnNack(uint64_t offset, int64_t now_ms) {
  if (rewound_to_ == offset && now_ms - rewound_at_ms_ < kNackEchoMs) return Status::Ok();
  if (offset > highest_sent_) return RefuseBeyond("a resend request", offset, highest_sent_);
  if (offset < acked_offset_ && offset >= origin_offset_) {
    // The aggregator no longer has what it acknowledged (its state directory was lost or
    // restored from an older copy): send it again, or those lines would be missing.
    spdlog::warn(
        "The aggregator asks for '{}' from byte {}, before the acknowledged byte {}: "
        "it lost state; resending.",
        path_, offset, acked_offset_);
    acked_offset_ = offset;
    Rewind(offset, now_ms);
    return Status::Ok();
  }
  if (offset < origin_offset_ || offset > read_offset_) {
    ++counters_.refused_offsets;
    return Status::InvalidArgument("refused a resend request for '" + path_ + "' from byte " +
                                   std::to_string(offset) + ": outside the " +
                                   std::to_string(origin_offset_) + ".." +
                                   std::to_string(read_offset_) + " of this stream");
  }
  spdlog::info("The aggregator asks for '{}' again from byte {}; resending.", path_, offset);
  Rewind(offset, now_ms);
  return Status::Ok();
}

Status FileTailer::Resync(std::optional<uint64_t> mark, int64_t now_ms) {
  auto go_to = [&](uint64_t offset) {
    // Nothing in flight and nothing held: already where the aggregator is.
    if (offset == read_offset_ && sent_offset() == read_offset_) return;
    Rewind(offset, now_ms);
  };
  if (mark && *mark > highest_sent_) {
    // A mark from before this process started (its ACK was not saved) is legitimate, but it
    // can never lie past the end of the file.
    uint64_t size = noted_size_ == UINT64_MAX ? 0 : noted_size_;
    struct stat st;
    if (fd_ >= 0 && ::fstat(fd_, &st) == 0) size = static_cast<uint64_t>(st.st_size);
    if (*mark > size) return RefuseBeyond("a WELCOME mark", *mark, std::max(highest_sent_, size));
    highest_sent_ = *mark;
  }
  if (!mark || *mark < origin_offset_) {
    go_to(acked_offset_);
  } else if (*mark >= acked_offset_) {
    Status s = OnAck(*mark, now_ms);
    go_to(*mark);
    return s;
  } else {
    spdlog::warn(
        "The aggregator holds '{}' up to byte {}, before the acknowledged byte {}: it lost "
        "state; resending.",
        path_, *mark, acked_offset_);
    acked_offset_ = *mark;
    Rewind(*mark, now_ms);
  }
  return Status::Ok();
}

void FileTailer::CheckAckTimeout(int64_t now_ms, int64_t timeout_ms) {
  if (sent_offset() <= acked_offset_ || !ack_clock_started_) {
    ack_clock_started_ = true;
    last_ack_progress_ms_ = now_ms;
    return;
  }
  if (now_ms - last_ack_progress_ms_ < timeout_ms) return;
  spdlog::info("No acknowledgement for '{}' in {} ms; resending from byte {}.", path_, timeout_ms,
               acked_offset_);
  Rewind(acked_offset_, now_ms);
}

void FileTailer::Restart(const std::string& how) {
  spdlog::warn("'{}' {} (truncated); reading it again from the start.", path_, how);
  ++counters_.truncations;
  NewStream(0);
}

Result<size_t> FileTailer::ReadSome(const FrameContext& ctx, std::string* buffer, int64_t now_ms,
                                    std::vector<std::string>* frames, size_t max_bytes) {
  buffer->resize(std::min(static_cast<size_t>(options_.read_chunk_bytes), max_bytes));
  auto read_chunk = [&] {
    ssize_t got;
    do {
      got = ::pread(fd_, buffer->data(), buffer->size(), static_cast<off_t>(read_offset_));
    } while (got < 0 && errno == EINTR);
    return got;
  };
  ssize_t n = read_chunk();
  if (n > 0) {
    // Checked after the read: a file truncated and written again before it shows new first
    // bytes now, so what was read is not the stream's continuation. (A rotation check between
    // reads can come too late: the agent may read on first.)
    const StreamRecord* r = store_.Find(stream_id_);
    if (r != nullptr && !MatchesFingerprint(fd_, *r)) {
      Restart("has new first bytes");
      n = read_chunk();
    }
  }
  if (n < 0) return Errno("cannot read", path_);

  FramePacker packer(
      ctx, path_, tag_, stream_id_, origin_offset_, splitter_.committed_offset(), now_ms,
      splitter_.pending_bytes() + static_cast<size_t>(std::max<ssize_t>(n, 0)), frames);
  auto on_line = [&](const SplitLine& line) {
    ++counters_.lines;
    packer.Add(line, ctx.max_frame_bytes);
  };
  const uint64_t truncated_before = splitter_.truncated_lines();
  if (n > 0) {
    read_offset_ += static_cast<uint64_t>(n);
    counters_.bytes += static_cast<uint64_t>(n);
    last_data_ms_ = now_ms;
    at_eof_ = false;
    splitter_.Feed(std::string_view(buffer->data(), static_cast<size_t>(n)), on_line);
  } else if (n == 0) {
    at_eof_ = true;
  }
  if (n == 0 && splitter_.pending_bytes() > 0 &&
      now_ms - last_data_ms_ >= options_.partial_line_timeout_ms) {
    splitter_.Flush(on_line);  // the writer left a last line without '\n'
  }
  const uint64_t cut = splitter_.truncated_lines() - truncated_before;
  if (cut > 0 && counters_.truncated_lines == 0) {
    spdlog::warn(
        "'{}': a line longer than max_line_bytes ({}) was truncated and flagged; the rest of it "
        "was skipped (counted per file in --status; logged once per file).",
        path_, options_.max_line_bytes);
  }
  counters_.truncated_lines += cut;
  packer.Finish();
  NoteSent();
  return static_cast<size_t>(n);
}

bool FileTailer::ContentReplaced(uint64_t size) {
  if (size == last_checked_size_) return false;
  last_checked_size_ = size;
  const StreamRecord* r = store_.Find(stream_id_);
  if (r == nullptr || fd_ < 0) return false;
  return !MatchesFingerprint(fd_, *r);
}

void FileTailer::FlushPartial(const FrameContext& ctx, int64_t now_ms,
                              std::vector<std::string>* frames) {
  FramePacker packer(ctx, path_, tag_, stream_id_, origin_offset_, splitter_.committed_offset(),
                     now_ms, splitter_.pending_bytes(), frames);
  splitter_.Flush([&](const SplitLine& line) {
    ++counters_.lines;
    packer.Add(line, ctx.max_frame_bytes);
  });
  packer.Finish();
  NoteSent();
}

}  // namespace ember::agent
