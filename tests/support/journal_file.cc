#include "tests/support/journal_file.h"

#include <catch2/catch.hpp>

#include "tests/support/process.h"

namespace ember::test {

void WriteJournalEntries(const TempDir& scratch, const std::string& journal,
                         const std::string& export_text) {
  static int written = 0;
  const std::string input =
      scratch.Write("entries-" + std::to_string(++written) + ".export", export_text);
  ProcessResult r =
      RunCommand({"sh", "-c",
                  "/usr/lib/systemd/systemd-journal-remote --output=" + journal + " - < " + input});
  INFO(r.err);
  REQUIRE(r.exit_code == 0);
}

}  // namespace ember::test
