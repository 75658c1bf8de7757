// JournalReader: entries of a systemd journal (a directory of journal files, or given files)
// through libsystemd's sd-journal, in the journal's order, as the fields ember uses: the
// message, its realtime stamp, host, identifier, unit, priority and pid. Reads only; the
// journal files are never changed. Not thread-safe: one owner.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"

namespace ember::journal {

struct JournalEntry {
  int64_t realtime_us = 0;      // __REALTIME_TIMESTAMP: when journald received it, Unix µs
  std::string cursor;           // where the entry is, for sd_journal_seek_cursor
  std::string hostname;         // _HOSTNAME ("" if absent)
  std::string identifier;       // SYSLOG_IDENTIFIER, else _COMM
  std::string unit;             // _SYSTEMD_UNIT
  int priority = -1;            // PRIORITY 0..7, -1 if absent or not a digit
  int64_t pid = 0;              // _PID, 0 if absent
  std::string message;          // MESSAGE (bytes as stored)
  bool has_message = true;      // false: the entry has no MESSAGE field
  bool binary_message = false;  // MESSAGE holds bytes a line cannot (NUL, CR, LF)
};

// Which entries to read: empty lists take any. Entries must match every non-empty list.
struct JournalFilter {
  std::vector<std::string> units;        // _SYSTEMD_UNIT values
  std::vector<std::string> identifiers;  // SYSLOG_IDENTIFIER values
  int max_priority = 7;                  // PRIORITY 0 (emerg) .. this (7: all)
};

class JournalReader {
 public:
  // A directory of journal files (as journald or systemd-journal-remote write them), or the
  // given journal files. Errors: IOError naming the path and the cause.
  static Result<std::unique_ptr<JournalReader>> OpenDirectory(const std::string& dir,
                                                              const JournalFilter& filter);
  static Result<std::unique_ptr<JournalReader>> OpenFiles(const std::vector<std::string>& files,
                                                          const JournalFilter& filter);
  ~JournalReader();
  JournalReader(const JournalReader&) = delete;
  JournalReader& operator=(const JournalReader&) = delete;

  // The next entry that passes the filter: true with *out filled, false at the end.
  // Errors: IOError (a file that cannot be read).
  Result<bool> Next(JournalEntry* out);
  // Positions the reader after the entry at `cursor` (the last one the aggregator holds), so
  // Next returns the one after it. When that entry is gone (vacuumed, or its file rotated
  // away) the reader goes to the oldest entry after it still there, and *gap says so (the
  // caller counts and logs it: entries in between may be lost). Errors: InvalidArgument for
  // a string that is not a cursor.
  Status SeekAfter(const std::string& cursor, bool* gap);
  // Positions the reader at the end: Next returns only entries added from now on.
  Status SeekTail();
  // A descriptor that becomes readable when the journal changes (libsystemd's inotify), for
  // the owner's poll loop; then call Process. Errors: IOError.
  Result<int> ChangeFd();
  // Takes in what changed (new entries, files added or removed): whether Next may have more.
  Result<bool> Process();
  // Waits up to `timeout_ms` for a change: whether there was one.
  Result<bool> Wait(int64_t timeout_ms);
  // Entries skipped by the priority filter (units and identifiers are matched by the
  // library and not counted).
  uint64_t filtered() const { return filtered_; }

 private:
  JournalReader(void* journal, JournalFilter filter);
  Status ApplyFilter();
  void* journal_;  // sd_journal*
  JournalFilter filter_;
  uint64_t filtered_ = 0;
};

// A priority bound as journalctl takes it: "3", "err", "..warning" (the most important
// level to the named one). InvalidArgument naming the text otherwise.
Result<int> ParsePriority(std::string_view text);

// The line an entry stands for, in the shape of a syslog line with an RFC 3339 stamp, so the
// rules written for syslog files match it: "2024-05-31T12:00:00.123456Z web1 sshd[77]: msg".
// Bytes a line cannot hold in the message (NUL, CR, LF) are written as spaces.
std::string FormatJournalLine(const JournalEntry& entry);

}  // namespace ember::journal
