#include "agent/journal_input.h"

#include <algorithm>

#include <nlohmann/json.hpp>
#include <spdlog/spdlog.h>

#include "journal/journal_entry.h"
#include "journal/journal_loader.h"

namespace ember::agent {
namespace {

std::string_view Cut(std::string_view s) { return s.substr(0, kMaxJournalFieldBytes); }

// The bytes an entry takes in the stream: its line as formatted, before any cut, and the
// newline a file would have. Resending the same entries gives the same offsets.
uint64_t StreamBytes(const std::string& line) { return line.size() + 1; }

}  // namespace

Result<std::unique_ptr<journal::JournalSource>> OpenJournal(const JournalOptions& options) {
  const journal::JournalOpenRequest request{options.directory, options.filter, {}};
  auto source = journal::OpenJournalModule("ember-agent", request);
  if (!source.ok()) return source.status().WithContext("the journal input");
  return source;
}

void ForgetOtherJournals(OffsetStore& store, const std::string& keep) {
  for (const StreamRecord& old : store.records()) {
    if (old.journal.empty() || old.journal == keep) continue;
    spdlog::info("Journal '{}' is no longer configured; forgetting its stream {}.", old.journal,
                 old.stream_id);
    store.Remove(old.stream_id);
  }
}

JournalInput::JournalInput(std::unique_ptr<journal::JournalSource> source,
                           const JournalOptions& options, size_t max_line_bytes,
                           FrameContext context, OffsetStore& store)
    : source_(std::move(source)),
      options_(options),
      max_line_bytes_(max_line_bytes),
      context_(std::move(context)),
      store_(store),
      name_(options.directory.empty() ? "journal" : options.directory),
      log_limiter_(60'000, 3) {}

Result<std::unique_ptr<JournalInput>> JournalInput::Open(
    std::unique_ptr<journal::JournalSource> source, const JournalOptions& options,
    bool from_beginning, size_t max_line_bytes, FrameContext context, OffsetStore& store) {
  std::unique_ptr<JournalInput> in(
      new JournalInput(std::move(source), options, max_line_bytes, std::move(context), store));
  Result<int> fd = in->source_->ChangeFd();
  if (!fd.ok()) return fd.status().WithContext("journal '" + in->name_ + "'");
  in->change_fd_ = *fd;
  ForgetOtherJournals(store, in->name_);
  if (const StreamRecord* r = store.FindJournal(in->name_)) {
    in->stream_id_ = r->stream_id;
    in->origin_offset_ = r->origin_offset;
    in->acked_offset_ = in->sent_offset_ = in->highest_sent_ = r->acked_offset;
    in->acked_cursor_ = r->cursor;
    if (Status s = in->SeekAfter(in->acked_cursor_); !s.ok()) {
      // Reading the journal again from its start would count it twice: refuse, as a
      // malformed offsets file is refused.
      return Status::Corruption("'" + store.file_path() + "': the cursor of journal '" + in->name_ +
                                "' is not one the journal takes (" + s.message() +
                                "); move the file away to start over (the journal is then "
                                "read per read_from)");
    }
    spdlog::info("Journal '{}': resuming stream {} at byte {}{}.", in->name_, in->stream_id_,
                 in->acked_offset_, r->cursor.empty() ? " (from the start)" : " after its cursor");
    return in;
  }
  std::string cursor;
  if (from_beginning) {
    if (Status s = in->source_->SeekHead(); !s.ok()) return s.WithContext("'" + in->name_ + "'");
  } else {
    Result<std::string> tail = in->source_->SeekTail();
    if (!tail.ok()) return tail.status().WithContext("'" + in->name_ + "'");
    cursor = *tail;
  }
  in->NewStream(0, cursor);
  spdlog::info("Journal '{}': new stream {}, reading from its {}.", in->name_, in->stream_id_,
               from_beginning ? "oldest entry" : "end");
  return in;
}

void JournalInput::NewStream(uint64_t offset, const std::string& cursor) {
  stream_id_ = NewStreamId();
  origin_offset_ = acked_offset_ = sent_offset_ = highest_sent_ = offset;
  acked_cursor_ = cursor;
  sent_.clear();
  held_.reset();
  rewound_to_.reset();
  StreamRecord r;
  r.stream_id = stream_id_;
  r.path = name_;
  r.journal = name_;
  r.cursor = cursor;
  r.acked_offset = r.origin_offset = offset;
  store_.Put(r);
}

Status JournalInput::SeekAfter(const std::string& cursor) {
  at_end_ = false;
  held_.reset();
  bool gap = false;
  Status s = cursor.empty() ? source_->SeekHead() : source_->SeekAfter(cursor, &gap);
  if (!s.ok()) {
    ++counters_.read_errors;
    spdlog::error("Journal '{}': {}", name_, s.message());
    return s;
  }
  if (gap) {
    ++counters_.gaps;
    spdlog::warn(
        "Journal '{}': the entry of the stored cursor is gone (vacuumed or rotated away); "
        "resuming at the oldest entry after it. Entries in between, if any, are lost.",
        name_);
  }
  return Status::Ok();
}

bool JournalInput::Poll(int64_t now_ms, size_t max_frames, std::vector<std::string>* frames,
                        size_t max_bytes) {
  if (max_frames == 0 || max_bytes == 0) return !at_end_ || held_.has_value();
  std::optional<wire::DataFrameBuilder> frame;
  std::string frame_host;
  std::string frame_cursor;  // of the frame's last entry
  size_t frames_made = 0;
  size_t bytes = 0;
  auto finish = [&] {
    if (!frame) return;
    frames->push_back(frame->Finish(sent_offset_));
    frame.reset();
    sent_.emplace(sent_offset_, std::move(frame_cursor));
    ++frames_made;
  };
  journal::JournalEntry entry;  // reused: its strings keep their capacity from entry to entry
  while (true) {
    if (held_) {
      entry = std::move(*held_);
      held_.reset();
    } else {
      Result<bool> got = source_->Next(&entry);
      if (!got.ok()) {
        ++counters_.read_errors;
        uint64_t suppressed = 0;
        if (log_limiter_.Allow(now_ms, &suppressed)) {
          spdlog::error("Journal '{}': {}{}", name_, got.status().message(),
                        LogLimiter::SuppressedNote(suppressed));
        }
        break;
      }
      if (!*got) {
        at_end_ = true;
        break;
      }
      ++counters_.entries;
      if (!entry.has_message) {
        ++counters_.without_message;
        continue;
      }
      counters_.binary_messages += entry.binary_message;
    }
    std::string line = journal::FormatJournalLine(entry);
    const uint64_t size = StreamBytes(line);
    const bool cut = line.size() > max_line_bytes_;
    if (cut) line.resize(max_line_bytes_);
    if (bytes > 0 && bytes + size > max_bytes) {
      held_ = std::move(entry);
      break;
    }
    const std::string& host = entry.hostname.empty() ? context_.host : entry.hostname;
    if (frame && (frame_host != host ||
                  frame->size_bytes() + line.size() + 1024 > context_.max_frame_bytes)) {
      finish();
      if (frames_made >= max_frames) {
        held_ = std::move(entry);
        break;
      }
    }
    counters_.truncated_lines += cut;
    if (!frame) {
      frame.emplace(context_.agent, host, name_, options_.tag, stream_id_, sent_offset_, now_ms,
                    std::min<size_t>(context_.max_frame_bytes, 64 * 1024));
      frame->SetOriginOffset(origin_offset_);
      frame_host = host;
    }
    frame->AddLine(line, {Cut(entry.unit), Cut(entry.identifier), journal::PriorityText(entry),
                          journal::PidText(entry)});
    sent_offset_ += size;
    bytes += size;
    ++counters_.lines;
    counters_.bytes += size;
    frame_cursor.swap(entry.cursor);
    if (bytes >= max_bytes) break;
  }
  finish();
  highest_sent_ = std::max(highest_sent_, sent_offset_);
  return !at_end_ || held_.has_value();
}

void JournalInput::OnChange() {
  Result<bool> changed = source_->Process();
  if (!changed.ok()) {
    ++counters_.read_errors;
    spdlog::error("Journal '{}': {}", name_, changed.status().message());
    return;
  }
  if (*changed) at_end_ = false;
}

bool JournalInput::FindEntryEnd(uint64_t offset) {
  if (CursorAt(offset) != nullptr) return true;
  return offset > acked_offset_ && offset <= highest_sent_ && FastForward(offset);
}

const std::string* JournalInput::CursorAt(uint64_t offset) const {
  if (offset == acked_offset_) return &acked_cursor_;
  auto it = sent_.find(offset);
  return it != sent_.end() ? &it->second : nullptr;
}

void JournalInput::Refuse(const std::string& what, uint64_t offset, int64_t now_ms) {
  ++counters_.refused_offsets;
  ++counters_.restreams;
  const uint64_t old_stream = stream_id_;
  NewStream(acked_offset_, acked_cursor_);
  (void)SeekAfter(acked_cursor_);  // errors are counted and logged there
  uint64_t suppressed = 0;
  if (log_limiter_.Allow(now_ms, &suppressed)) {
    spdlog::warn(
        "Journal '{}': refused {} at byte {}: no frame this agent sent ends there (a forged or "
        "corrupt mark on the aggregator); stream {} continues as new stream {} after the "
        "acknowledged entry.{}",
        name_, what, offset, old_stream, stream_id_, LogLimiter::SuppressedNote(suppressed));
  }
}

bool JournalInput::OnAck(uint64_t stream_id, uint64_t offset, int64_t now_ms) {
  if (stream_id != stream_id_) return false;
  if (offset == acked_offset_) return true;
  if (offset < acked_offset_) {
    ++counters_.refused_offsets;
    uint64_t suppressed = 0;
    if (log_limiter_.Allow(now_ms, &suppressed)) {
      spdlog::warn("Journal '{}': refused an ACK at byte {}: behind the acknowledged byte {}.{}",
                   name_, offset, acked_offset_, LogLimiter::SuppressedNote(suppressed));
    }
    return true;
  }
  if (!FindEntryEnd(offset)) {
    Refuse("an ACK", offset, now_ms);
    return true;
  }
  acked_cursor_ = *CursorAt(offset);
  acked_offset_ = offset;
  last_ack_progress_ms_ = now_ms;
  sent_.erase(sent_.begin(), sent_.upper_bound(offset));
  store_.Ack(stream_id_, offset, &acked_cursor_);
  // An ACK of frames sent before a rewind can overtake the re-read: go on after it.
  if (sent_offset_ < offset) {
    sent_offset_ = offset;
    (void)SeekAfter(acked_cursor_);
  }
  return true;
}

bool JournalInput::FastForward(uint64_t mark) {
  (void)SeekAfter(acked_cursor_);  // errors are counted and logged there
  uint64_t offset = acked_offset_;
  journal::JournalEntry entry;
  while (offset < mark) {
    Result<bool> got = source_->Next(&entry);
    if (!got.ok() || !*got) break;
    if (!entry.has_message) continue;
    offset += StreamBytes(journal::FormatJournalLine(entry));
    if (offset == mark) {
      sent_.clear();
      sent_.emplace(mark, entry.cursor);
      sent_offset_ = highest_sent_ = mark;
      return true;
    }
  }
  (void)SeekAfter(acked_cursor_);  // errors are counted and logged there
  return false;
}

bool JournalInput::Rewind(uint64_t offset, int64_t now_ms) {
  const std::string* cursor = CursorAt(offset);
  if (cursor == nullptr) return false;
  ++counters_.rewinds;
  const std::string at = *cursor;
  sent_offset_ = offset;
  rewound_to_ = offset;
  rewound_at_ms_ = now_ms;
  last_ack_progress_ms_ = now_ms;
  (void)SeekAfter(at);
  return true;
}

bool JournalInput::OnNack(uint64_t stream_id, uint64_t offset, int64_t now_ms) {
  if (stream_id != stream_id_) return false;
  if (rewound_to_ == offset && now_ms - rewound_at_ms_ < kNackEchoMs) return true;
  if (offset < acked_offset_ || !FindEntryEnd(offset) || !Rewind(offset, now_ms)) {
    Refuse("a resend request", offset, now_ms);
    return true;
  }
  uint64_t suppressed = 0;
  if (log_limiter_.Allow(now_ms, &suppressed)) {
    spdlog::info("The aggregator asks for journal '{}' again from byte {}; resending.{}", name_,
                 offset, LogLimiter::SuppressedNote(suppressed));
  }
  return true;
}

void JournalInput::Resync(const std::vector<wire::AckEntry>& marks, int64_t now_ms) {
  auto it = std::find_if(marks.begin(), marks.end(),
                         [&](const wire::AckEntry& m) { return m.stream_id == stream_id_; });
  if (it == marks.end() || it->offset < origin_offset_) {
    if (sent_offset_ != acked_offset_ || held_) Rewind(acked_offset_, now_ms);
    return;
  }
  const uint64_t mark = it->offset;
  if (mark < acked_offset_) {
    // The aggregator lost what it acknowledged. A file is read again from there; the journal
    // keeps no cursor before the acknowledged one, so its stream starts over from it.
    spdlog::warn(
        "The aggregator holds journal '{}' up to byte {}, before the acknowledged byte {}: it "
        "lost state; the entries in between are not sent again.",
        name_, mark, acked_offset_);
    ++counters_.restreams;
    NewStream(acked_offset_, acked_cursor_);
    (void)SeekAfter(acked_cursor_);
    return;
  }
  if (mark > acked_offset_) {
    // A mark past what this process sent is legitimate when the previous one sent it and
    // stopped before saving its ACK: it must then fall on the end of an entry after the
    // acknowledged one.
    if (CursorAt(mark) == nullptr && !FastForward(mark)) {
      return Refuse("a WELCOME mark", mark, now_ms);
    }
    OnAck(stream_id_, mark, now_ms);
  }
  if (sent_offset_ != mark || held_) Rewind(mark, now_ms);
}

void JournalInput::CheckAckTimeout(int64_t now_ms, int64_t timeout_ms) {
  if (sent_offset_ <= acked_offset_ || !ack_clock_started_) {
    ack_clock_started_ = true;
    last_ack_progress_ms_ = now_ms;
    return;
  }
  if (now_ms - last_ack_progress_ms_ < timeout_ms) return;
  spdlog::info("No acknowledgement for journal '{}' in {} ms; resending from byte {}.", name_,
               timeout_ms, acked_offset_);
  Rewind(acked_offset_, now_ms);
}

void JournalInput::Positions(bool changed_only, std::vector<wire::AckEntry>* at_end,
                             std::vector<wire::AckEntry>* behind) {
  const bool end = at_end_ && !held_;
  const std::pair<uint64_t, bool> now{sent_offset_, end};
  if (changed_only && now == reported_) return;
  reported_ = now;
  (end ? at_end : behind)->push_back({stream_id_, sent_offset_});
}

std::string JournalInput::StatusJson() const {
  const JournalCounters& c = counters_;
  nlohmann::json j = {{"journal", name_},
                      {"stream_id", stream_id_},
                      {"state", at_end_ && !held_ ? "following" : "reading"},
                      {"sent_offset", sent_offset_},
                      {"acked_offset", acked_offset_},
                      {"entries", c.entries},
                      {"lines", c.lines},
                      {"bytes", c.bytes},
                      {"without_message", c.without_message},
                      {"binary_messages", c.binary_messages},
                      {"truncated_lines", c.truncated_lines},
                      {"filtered", source_->filtered()},
                      {"gaps", c.gaps},
                      {"read_errors", c.read_errors},
                      {"rewinds", c.rewinds},
                      {"refused_offsets", c.refused_offsets},
                      {"restreams", c.restreams}};
  return j.dump(1, ' ', false, nlohmann::json::error_handler_t::replace);
}

void JournalInput::WriteMetrics(MetricsText& m) const {
  const JournalCounters& c = counters_;
  auto d = [](uint64_t v) { return static_cast<double>(v); };
  m.Counter("ember_agent_journal_entries_total", "Journal entries read that passed the filter",
            d(c.entries));
  m.Counter("ember_agent_journal_lines_total", "Journal entries sent as lines", d(c.lines));
  m.Counter("ember_agent_journal_bytes_total", "Bytes of the journal's lines sent (with newlines)",
            d(c.bytes));
  m.Counter("ember_agent_journal_without_message_total",
            "Journal entries without a MESSAGE field (skipped)", d(c.without_message));
  m.Counter("ember_agent_journal_binary_messages_total",
            "Journal messages with NUL, CR or LF (written as spaces)", d(c.binary_messages));
  m.Counter("ember_agent_journal_filtered_total", "Journal entries skipped by the priority filter",
            d(source_->filtered()));
  m.Counter("ember_agent_journal_gaps_total",
            "Resumes whose cursor's entry was gone (vacuumed or rotated away)", d(c.gaps));
  m.Counter("ember_agent_journal_read_errors_total", "Failed reads of the journal",
            d(c.read_errors));
  m.Counter("ember_agent_journal_rewinds_total",
            "Journal resends from an acknowledged or requested entry", d(c.rewinds));
  m.Counter("ember_agent_journal_refused_offsets_total",
            "ACK, NACK or WELCOME offsets for the journal's stream that no entry sent ends at",
            d(c.refused_offsets));
  m.Gauge("ember_agent_journal_unacked_bytes", "Journal bytes sent and not yet acknowledged",
          d(InFlightBytes()));
}

}  // namespace ember::agent
