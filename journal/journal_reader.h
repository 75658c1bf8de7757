// JournalReader: entries of a systemd journal (the local system journal, a directory of journal
// files, or given files) through libsystemd's sd-journal, in the journal's order, as the
// fields ember uses. Reads only; the journal files are never changed. Not thread-safe: one
// owner.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "common/status.h"
#include "journal/journal_entry.h"

namespace ember::journal {

// What a follower of a journal needs from it; the agent reaches the libsystemd-backed reader
// through this interface from a module it loads only when a journal input is configured.
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

class JournalReader final : public JournalSource {
 public:
  // The local system journal (what `journalctl` shows this user), a directory of journal
  // files (as journald or systemd-journal-remote write them), or the given journal files.
  // Errors: IOError naming the path and the cause.
  static Result<std::unique_ptr<JournalReader>> OpenLocal(const JournalFilter& filter);
  static Result<std::unique_ptr<JournalReader>> OpenDirectory(const std::string& dir,
                                                              const JournalFilter& filter);
  static Result<std::unique_ptr<JournalReader>> OpenFiles(const std::vector<std::string>& files,
                                                          const JournalFilter& filter);
  ~JournalReader() override;
  JournalReader(const JournalReader&) = delete;
  JournalReader& operator=(const JournalReader&) = delete;

  Result<bool> Next(JournalEntry* out) override;
  Status SeekAfter(const std::string& cursor, bool* gap) override;
  Status SeekHead() override;
  Result<std::string> SeekTail() override;
  Result<int> ChangeFd() override;
  Result<bool> Process() override;
  // Waits up to `timeout_ms` for a change: whether there was one.
  Result<bool> Wait(int64_t timeout_ms);
  uint64_t filtered() const override { return filtered_; }

 private:
  JournalReader(void* journal, JournalFilter filter);
  Status ApplyFilter();
  // Whether the current entry passes the priority filter (counted when it does not).
  bool PriorityPasses(int* priority);
  void* journal_;  // sd_journal*
  JournalFilter filter_;
  uint64_t filtered_ = 0;
};

}  // namespace ember::journal
