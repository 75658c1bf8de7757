// JournalReader on real journal files, written during the test by systemd-journal-remote from
// the export format: fields, filters, cursors (also of entries vacuumed away) and following
// a journal as it is appended to.
#include "journal/journal_reader.h"

#include <filesystem>
#include <string>
#include <vector>

#include <catch2/catch.hpp>

#include "tests/support/journal_file.h"
#include "tests/support/process.h"
#include "tests/support/temp_dir.h"

using namespace ember;
using namespace ember::journal;
using namespace ember::test;

namespace {

constexpr int64_t kT0 = 1'733'180'000'000'000;  // 2024-12-02T22:53:20Z, µs

// Entry `n` (1-based) in the export format: unit and identifier alternate between ssh and
// cron, priority n % 8, pid 1000 + n.
std::string Export(int n) {
  const bool ssh = n % 2 == 1;
  return "__REALTIME_TIMESTAMP=" + std::to_string(kT0 + n * 1'000'000) + "\n" +
         "__MONOTONIC_TIMESTAMP=" + std::to_string(n * 1000) + "\n" +
         "_BOOT_ID=0123456789abcdef0123456789abcdef\n_HOSTNAME=web" + std::to_string(n % 3) +
         "\nSYSLOG_IDENTIFIER=" + (ssh ? "sshd" : "CRON") +
         "\n_SYSTEMD_UNIT=" + (ssh ? "ssh.service" : "cron.service") +
         "\nPRIORITY=" + std::to_string(n % 8) + "\n_PID=" + std::to_string(1000 + n) +
         "\nMESSAGE=entry " + std::to_string(n) + "\n\n";
}

// Appends entries [from, to] to the journal file `path` (created if new).
void Write(const TempDir& dir, const std::string& path, int from, int to) {
  std::string text;
  for (int n = from; n <= to; ++n) text += Export(n);
  WriteJournalEntries(dir, path, text);
}

std::vector<JournalEntry> ReadAll(JournalReader& reader) {
  std::vector<JournalEntry> out;
  JournalEntry e;
  while (true) {
    Result<bool> more = reader.Next(&e);
    REQUIRE(more.ok());
    if (!*more) return out;
    out.push_back(e);
  }
}

std::vector<std::string> Messages(const std::vector<JournalEntry>& entries) {
  std::vector<std::string> out;
  for (const auto& e : entries) out.push_back(e.message);
  return out;
}

}  // namespace

TEST_CASE("JournalReader: entries, their fields and their lines", "[journal][integration]") {
  TempDir dir;
  const std::string file = dir.Sub("j/a.journal");
  std::filesystem::create_directories(dir.Sub("j"));
  Write(dir, file, 1, 4);
  auto reader = JournalReader::OpenFiles({file}, JournalFilter{});
  REQUIRE(reader.ok());
  const auto entries = ReadAll(**reader);
  REQUIRE(entries.size() == 4);
  const JournalEntry& e = entries[2];  // entry 3
  CHECK(e.realtime_us == kT0 + 3'000'000);
  CHECK(e.hostname == "web0");
  CHECK(e.identifier == "sshd");
  CHECK(e.unit == "ssh.service");
  CHECK(e.priority == 3);
  CHECK(e.pid == 1003);
  CHECK(e.message == "entry 3");
  CHECK(!e.cursor.empty());
  CHECK(FormatJournalLine(e) == "2024-12-02T22:53:23.000000Z web0 sshd[1003]: entry 3");
  // The directory reads the same.
  auto whole = JournalReader::OpenDirectory(dir.Sub("j"), JournalFilter{});
  REQUIRE(whole.ok());
  CHECK(Messages(ReadAll(**whole)) == Messages(entries));
}

TEST_CASE("JournalReader: units, identifiers and a priority bound filter the entries",
          "[journal][integration]") {
  TempDir dir;
  const std::string file = dir.Sub("a.journal");
  Write(dir, file, 1, 8);
  JournalFilter ssh;
  ssh.units = {"ssh.service"};
  auto reader = JournalReader::OpenFiles({file}, ssh);
  REQUIRE(reader.ok());
  CHECK(Messages(ReadAll(**reader)) ==
        std::vector<std::string>{"entry 1", "entry 3", "entry 5", "entry 7"});
  JournalFilter both;
  both.units = {"ssh.service", "cron.service"};
  both.identifiers = {"CRON"};
  both.max_priority = 4;  // warning and worse: priorities 0..4
  auto cron = JournalReader::OpenFiles({file}, both);
  REQUIRE(cron.ok());
  CHECK(Messages(ReadAll(**cron)) == std::vector<std::string>{"entry 2", "entry 4", "entry 8"});
  CHECK((*cron)->filtered() == 1);  // entry 6 (priority 6)
  CHECK(ParsePriority("..warning").value() == 4);
  CHECK(ParsePriority("3").value() == 3);
  CHECK(ParsePriority("emerg").value() == 0);
  CHECK(!ParsePriority("8").ok());
  CHECK(!ParsePriority("").ok());
}

TEST_CASE("JournalReader: a cursor resumes after its entry, or at the oldest one left",
          "[journal][integration]") {
  TempDir dir;
  std::filesystem::create_directories(dir.Sub("j"));
  Write(dir, dir.Sub("j/a.journal"), 1, 3);
  Write(dir, dir.Sub("j/b.journal"), 4, 6);
  std::vector<JournalEntry> all;
  {
    auto reader = JournalReader::OpenDirectory(dir.Sub("j"), JournalFilter{});
    REQUIRE(reader.ok());
    all = ReadAll(**reader);
    REQUIRE(Messages(all) == std::vector<std::string>{"entry 1", "entry 2", "entry 3", "entry 4",
                                                      "entry 5", "entry 6"});
  }
  auto after = [&](const std::string& cursor, bool* gap) {
    auto reader = JournalReader::OpenDirectory(dir.Sub("j"), JournalFilter{});
    REQUIRE(reader.ok());
    REQUIRE((*reader)->SeekAfter(cursor, gap).ok());
    return Messages(ReadAll(**reader));
  };
  bool gap = true;
  CHECK(after(all[1].cursor, &gap) ==
        std::vector<std::string>{"entry 3", "entry 4", "entry 5", "entry 6"});
  CHECK_FALSE(gap);
  CHECK(after(all[5].cursor, &gap).empty());  // the last one: nothing after it yet
  CHECK_FALSE(gap);
  // The file holding entries 1-3 is vacuumed: the cursor of entry 2 resumes at entry 4, the
  // oldest still there, and says there was a gap.
  std::filesystem::remove(dir.Sub("j/a.journal"));
  CHECK(after(all[1].cursor, &gap) == std::vector<std::string>{"entry 4", "entry 5", "entry 6"});
  CHECK(gap);
  CHECK(after(all[4].cursor, &gap) == std::vector<std::string>{"entry 6"});
  CHECK_FALSE(gap);
  auto reader = JournalReader::OpenDirectory(dir.Sub("j"), JournalFilter{});
  REQUIRE(reader.ok());
  Status bad = (*reader)->SeekAfter("not a cursor", &gap);
  CHECK(bad.code() == Status::Code::kInvalidArgument);
}

TEST_CASE("JournalReader: a journal followed while it is appended to", "[journal][integration]") {
  TempDir dir;
  std::filesystem::create_directories(dir.Sub("j"));
  const std::string file = dir.Sub("j/a.journal");
  Write(dir, file, 1, 2);
  auto reader = JournalReader::OpenDirectory(dir.Sub("j"), JournalFilter{});
  REQUIRE(reader.ok());
  REQUIRE((*reader)->ChangeFd().ok());  // watching starts here
  CHECK(ReadAll(**reader).size() == 2);
  Write(dir, file, 3, 5);
  std::vector<std::string> seen;
  const bool got = WaitUntil(
      [&] {
        Result<bool> changed = (*reader)->Wait(100);
        REQUIRE(changed.ok());
        for (const auto& m : Messages(ReadAll(**reader))) seen.push_back(m);
        return seen.size() >= 3;
      },
      std::chrono::seconds(10));
  CHECK(got);
  CHECK(seen == std::vector<std::string>{"entry 3", "entry 4", "entry 5"});
  // From the tail: only what is added afterwards.
  auto tail = JournalReader::OpenDirectory(dir.Sub("j"), JournalFilter{});
  REQUIRE(tail.ok());
  REQUIRE((*tail)->SeekTail().ok());
  CHECK(ReadAll(**tail).empty());
}
