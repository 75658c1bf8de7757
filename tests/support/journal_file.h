// Journal files for tests, written as journald writes them: systemd-journal-remote turns
// entries in journald's export format into a real journal file. Not thread-safe.
#pragma once

#include <string>

#include "tests/support/temp_dir.h"

namespace ember::test {

// Appends the entries of `export_text` (journald's export format: FIELD=value lines, an empty
// line after each entry) to the journal file `journal`, created if new. The text is staged in
// `scratch`. Fails the test if systemd-journal-remote does.
void WriteJournalEntries(const TempDir& scratch, const std::string& journal,
                         const std::string& export_text);

}  // namespace ember::test
