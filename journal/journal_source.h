// JournalSource: what a follower of a systemd journal needs from it, as an interface: the
// agent reaches the libsystemd-backed reader (journal_reader.h) through it, from a module it
// loads only when a journal input is configured, and never sees the reader's type.
#pragma once

#include <cstdint>
#include <string>

#include "common/status.h"
#include "journal/journal_entry.h"

namespace ember::journal {

class JournalSource {
 public:
  virtual ~JournalSource() = default;
  // The next entry that passes the filter: true with *out filled, false at the end.
  // Errors: IOError (a file that cannot be read).
  virtual Result<bool> Next(JournalEntry* out) = 0;
  // Positions the reader after the entry at `cursor` (the last one the aggregator holds), so
  // Next returns the one after it. When that entry is gone (vacuumed, or its file rotated
  // away) the reader goes to the oldest entry after it still there, and *gap says so (the
  // caller counts and logs it: entries in between may be lost). Errors: InvalidArgument for
  // a string that is not a cursor.
  virtual Status SeekAfter(const std::string& cursor, bool* gap) = 0;
  // Positions the reader at the oldest entry.
  virtual Status SeekHead() = 0;
  // Positions the reader at the end (Next returns only entries added from now on) and returns
  // the cursor of the newest entry that passes the filter, "" when there is none.
  virtual Result<std::string> SeekTail() = 0;
  // A descriptor that becomes readable when the journal changes (libsystemd's inotify), for
  // the owner's poll loop; then call Process. Errors: IOError.
  virtual Result<int> ChangeFd() = 0;
  // Takes in what changed (new entries, files added or removed): whether Next may have more.
  virtual Result<bool> Process() = 0;
  // Entries skipped by the priority filter (units and identifiers are matched by the
  // library and not counted).
  virtual uint64_t filtered() const = 0;
};

}  // namespace ember::journal
