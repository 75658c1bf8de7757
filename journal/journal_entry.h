// A systemd journal entry as ember uses it, the filter an input applies, and the line an entry
// stands for. Pure value types and functions (no libsystemd): thread-safe.
#pragma once

#include <cstdint>
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

// A priority bound as journalctl takes it: "3", "err", "..warning" (the most important
// level to the named one). InvalidArgument naming the text otherwise.
Result<int> ParsePriority(std::string_view text);

// The entry's priority ("0".."7", "" when it has none) and pid ("" when none), as the rules'
// built-in fields `priority` and `pid` hold them.
std::string PriorityText(const JournalEntry& entry);
std::string PidText(const JournalEntry& entry);

// The line an entry stands for, in the shape of a syslog line with an RFC 3339 stamp, so the
// rules written for syslog files match it: "2024-05-31T12:00:00.123456Z web1 sshd[77]: msg".
// Bytes a line cannot hold in the message (NUL, CR, LF) are written as spaces.
std::string FormatJournalLine(const JournalEntry& entry);

}  // namespace ember::journal
