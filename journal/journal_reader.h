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
#include "journal/journal_source.h"

namespace ember::journal {

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
