// LineSplitter: turns a byte stream into lines, the one definition of a line in ember:
// the bytes up to '\n', with one trailing '\r' removed (CRLF logs). Lines longer than
// max_line_bytes are truncated, flagged and the rest of the line skipped, so the next line is
// read correctly. Not thread-safe; one splitter per stream.
#pragma once

#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>

namespace ember {

struct SplitLine {
  std::string_view text;  // valid only during the callback
  uint64_t end_offset;    // stream offset just past this line's '\n' (or its last byte)
  bool truncated;         // the line was longer than max_line_bytes
};

class LineSplitter {
 public:
  // REQUIRES: max_line_bytes > 0. `start_offset` is the stream offset of the first byte fed.
  explicit LineSplitter(size_t max_line_bytes, uint64_t start_offset = 0)
      : max_line_bytes_(max_line_bytes), offset_(start_offset) {}

  // Feeds the next bytes of the stream; calls on_line(const SplitLine&) for every line the
  // bytes complete. Lines from `chunk` are views into it (no copy) unless a partial line was
  // held from an earlier call.
  template <typename OnLine>
  void Feed(std::string_view chunk, OnLine&& on_line);

  // Emits the held partial line (no '\n' yet) as a line, if any: at the end of a complete file,
  // or when the writer seems gone. Returns whether a line was emitted.
  template <typename OnLine>
  bool Flush(OnLine&& on_line);

  // Bytes of the held partial line (already fed, not yet emitted).
  size_t pending_bytes() const { return pending_bytes_; }
  // Stream offset just past the last emitted line: where a re-read must start.
  uint64_t committed_offset() const { return offset_ - pending_bytes_; }
  uint64_t truncated_lines() const { return truncated_lines_; }

 private:
  static std::string_view StripCr(std::string_view s) {
    if (!s.empty() && s.back() == '\r') s.remove_suffix(1);
    return s;
  }
  void Hold(std::string_view piece) {
    size_t room = max_line_bytes_ > partial_.size() ? max_line_bytes_ - partial_.size() : 0;
    if (piece.size() > room) {
      partial_.append(piece.substr(0, room));
      partial_truncated_ = true;
    } else {
      partial_.append(piece);
    }
  }

  size_t max_line_bytes_;
  uint64_t offset_;           // offset just past the last byte fed
  size_t pending_bytes_ = 0;  // bytes fed since the last emitted line
  std::string partial_;       // kept bytes of the held partial line (at most max_line_bytes_)
  bool partial_truncated_ = false;
  uint64_t truncated_lines_ = 0;
};

template <typename OnLine>
void LineSplitter::Feed(std::string_view chunk, OnLine&& on_line) {
  size_t pos = 0;
  while (pos < chunk.size()) {
    const void* nl = std::memchr(chunk.data() + pos, '\n', chunk.size() - pos);
    if (nl == nullptr) {
      Hold(chunk.substr(pos));
      pending_bytes_ += chunk.size() - pos;
      offset_ += chunk.size() - pos;
      return;
    }
    size_t end = static_cast<const char*>(nl) - chunk.data();
    std::string_view piece = chunk.substr(pos, end - pos);
    offset_ += end - pos + 1;
    pending_bytes_ = 0;
    pos = end + 1;
    if (partial_.empty() && !partial_truncated_ && piece.size() <= max_line_bytes_ + 1) {
      std::string_view text = StripCr(piece);
      bool truncated = text.size() > max_line_bytes_;
      if (truncated) {
        text = text.substr(0, max_line_bytes_);
        ++truncated_lines_;
      }
      on_line(SplitLine{text, offset_, truncated});
      continue;
    }
    Hold(piece);
    bool truncated = partial_truncated_;
    std::string_view text = partial_;
    if (!truncated || text.size() < max_line_bytes_) text = StripCr(text);
    if (truncated) ++truncated_lines_;
    on_line(SplitLine{text, offset_, truncated});
    partial_.clear();
    partial_truncated_ = false;
  }
}

template <typename OnLine>
bool LineSplitter::Flush(OnLine&& on_line) {
  if (pending_bytes_ == 0) return false;
  bool truncated = partial_truncated_;
  if (truncated) ++truncated_lines_;
  std::string_view text = truncated ? std::string_view(partial_) : StripCr(partial_);
  on_line(SplitLine{text, offset_, truncated});
  partial_.clear();
  partial_truncated_ = false;
  pending_bytes_ = 0;
  return true;
}

}  // namespace ember
