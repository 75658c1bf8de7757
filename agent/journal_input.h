// JournalInput: the agent's journal input, one stream of the entries of a systemd journal that
// pass its filter, shipped exactly once like a file's lines. Each entry becomes the line
// FormatJournalLine makes of it, with its unit, identifier, priority and pid beside it on the
// wire; the stream's offsets count the bytes of those lines (plus one for the newline a file
// would have), so the aggregator's marks, ACKs and resends work unchanged. The cursor at the
// end of every frame sent and not yet acknowledged is kept, so an ACK stores the cursor at its
// offset and a resend seeks back to one; after a restart the input resumes after the stored cursor.
// A cursor whose entry was vacuumed resumes at the oldest entry left: the gap is counted and
// logged. Offsets from the aggregator are validated as a file's are.
// Not thread-safe; owned by the agent's io_context thread.
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "agent/agent_config.h"
#include "agent/file_tailer.h"
#include "agent/offset_store.h"
#include "common/log_limiter.h"
#include "common/metrics.h"
#include "common/wire.h"
#include "journal/journal_source.h"

namespace ember::agent {

struct JournalCounters {
  uint64_t entries = 0;          // entries read that passed the filter
  uint64_t lines = 0;            // entries sent as lines
  uint64_t bytes = 0;            // bytes of those lines (with their newlines)
  uint64_t without_message = 0;  // entries without a MESSAGE field: skipped
  uint64_t binary_messages = 0;  // MESSAGE with NUL, CR or LF (written as spaces)
  uint64_t truncated_lines = 0;  // lines cut at max_line_bytes
  uint64_t gaps = 0;             // resumes whose cursor was gone (entries may be lost)
  uint64_t read_errors = 0;
  uint64_t rewinds = 0;
  uint64_t refused_offsets = 0;
  uint64_t restreams = 0;
};

// Longest unit, identifier, priority or pid sent with a line: longer values are cut (they
// come from whoever writes to the journal).
inline constexpr size_t kMaxJournalFieldBytes = 255;

// Opens the journal `options` names through the module ember-journal.so (libsystemd is mapped
// only then). Errors: the module or the journal cannot be opened.
Result<std::unique_ptr<journal::JournalSource>> OpenJournal(const JournalOptions& options);

// Forgets (logged) the stream records of journals other than `keep` ("": all): a journal
// input removed or pointed elsewhere leaves no record behind.
void ForgetOtherJournals(OffsetStore& store, const std::string& keep);

class JournalInput {
 public:
  // Starts following `source`: after the stored cursor of this journal's stream if the store
  // has one, else from the oldest entry (`from_beginning`) or the newest. `store` must outlive
  // the input. Errors: the journal cannot be read.
  static Result<std::unique_ptr<JournalInput>> Open(std::unique_ptr<journal::JournalSource> source,
                                                    const JournalOptions& options,
                                                    bool from_beginning, size_t max_line_bytes,
                                                    FrameContext context, OffsetStore& store);

  // Reads entries into frames until `max_frames` frames are ready, `max_bytes` were put in
  // them (one line always goes, however long) or the journal has no more. Returns whether it
  // may have more.
  bool Poll(int64_t now_ms, size_t max_frames, std::vector<std::string>* frames,
            size_t max_bytes = SIZE_MAX);
  // libsystemd's change descriptor: when it is readable, call OnChange.
  int change_fd() const { return change_fd_; }
  void OnChange();

  uint64_t stream_id() const { return stream_id_; }
  // ACK, NACK and WELCOME marks for this input's stream (others are not its business: false).
  // Refused offsets are counted and logged (rate-limited).
  bool OnAck(uint64_t stream_id, uint64_t offset, int64_t now_ms);
  bool OnNack(uint64_t stream_id, uint64_t offset, int64_t now_ms);
  void Resync(const std::vector<wire::AckEntry>& marks, int64_t now_ms);
  // Resends from the acknowledged offset when acknowledgements stopped coming.
  void CheckAckTimeout(int64_t now_ms, int64_t timeout_ms);
  // For a HEARTBEAT: read to its end (everything in frames) or behind, at the offset sent.
  void Positions(bool changed_only, std::vector<wire::AckEntry>* at_end,
                 std::vector<wire::AckEntry>* behind);
  // The stream and its acknowledged offset, for HELLO.
  wire::AckEntry Stream() const { return {stream_id_, acked_offset_}; }
  bool AllAcked() const { return at_end_ && !held_ && sent_offset_ == acked_offset_; }
  uint64_t InFlightBytes() const { return sent_offset_ - acked_offset_; }

  // The journal, its position and counters, as JSON for `ember-agent --status`.
  std::string StatusJson() const;
  void WriteMetrics(MetricsText& out) const;
  const JournalCounters& counters() const { return counters_; }

 private:
  JournalInput(std::unique_ptr<journal::JournalSource> source, const JournalOptions& options,
               size_t max_line_bytes, FrameContext context, OffsetStore& store);
  // Becomes a new stream that starts at `offset`, after `cursor`.
  void NewStream(uint64_t offset, const std::string& cursor);
  // Reads again from `offset` (the acknowledged offset or the end of a frame sent). False if
  // no frame sent ends there.
  bool Rewind(uint64_t offset, int64_t now_ms);
  // Reads on from the acknowledged entry without sending, to the entry that ends at `mark`
  // (sent by an earlier process that did not save its ACK). False, and back at the
  // acknowledged entry, if no entry ends there.
  bool FastForward(uint64_t mark);
  // Positions the source after `cursor` ("" = the oldest entry); counts and logs a gap, and
  // an error, which it returns (InvalidArgument: not a cursor).
  Status SeekAfter(const std::string& cursor);
  // The aggregator claims an offset this input cannot honour: counted, logged, and the input
  // continues as a new stream from its acknowledged entry.
  void Refuse(const std::string& what, uint64_t offset, int64_t now_ms);
  // The cursor of the frame sent that ends at `offset` (or of the acknowledged entry), if any.
  const std::string* CursorAt(uint64_t offset) const;
  // Whether CursorAt(offset) is known, or made known by reading again from the acknowledged
  // entry when `offset` lies within what was sent: a previous process cut its frames
  // elsewhere, and the aggregator asks from where one of them ended. Reading again leaves the
  // input sending from `offset`; no entry ending there leaves it to Refuse().
  bool FindEntryEnd(uint64_t offset);

  std::unique_ptr<journal::JournalSource> source_;
  const JournalOptions& options_;
  const size_t max_line_bytes_;
  FrameContext context_;
  OffsetStore& store_;
  std::string name_;  // the frames' path: the directory, or "journal" for the system journal
  int change_fd_ = -1;
  uint64_t stream_id_ = 0;
  uint64_t origin_offset_ = 0;
  uint64_t acked_offset_ = 0;
  std::string acked_cursor_;  // "" = before the first entry this input read
  uint64_t sent_offset_ = 0;  // end of the last entry put in a frame
  uint64_t highest_sent_ = 0;
  // The end of every frame sent and not acknowledged, with the cursor of its last entry: the
  // aggregator's ACKs, NACKs and marks fall on frame ends (this process's, or a previous
  // one's: FindEntryEnd). Bounded by the credit: one per
  // frame in flight (a frame re-read after a resend may end elsewhere, and adds its own).
  std::map<uint64_t, std::string> sent_;
  std::optional<journal::JournalEntry> held_;  // read, not yet in a frame (credit ran out)
  bool at_end_ = false;
  int64_t last_ack_progress_ms_ = 0;
  bool ack_clock_started_ = false;
  std::optional<uint64_t> rewound_to_;
  int64_t rewound_at_ms_ = 0;
  std::pair<uint64_t, bool> reported_ = {UINT64_MAX, false};
  JournalCounters counters_;
  LogLimiter log_limiter_;
};

}  // namespace ember::agent
