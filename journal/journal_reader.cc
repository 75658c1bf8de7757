#include "journal/journal_reader.h"

#include <systemd/sd-journal.h>

#include <cerrno>
#include <cstring>
#include <ctime>

namespace ember::journal {
namespace {

sd_journal* J(void* p) { return static_cast<sd_journal*>(p); }

Status Failed(const std::string& what, int r) {
  return Status::IOError(what + ": " + std::strerror(-r));
}

// The value of `field` in the current entry: false when the entry has none.
bool Field(sd_journal* j, const char* field, std::string* out) {
  const void* data = nullptr;
  size_t size = 0;
  if (sd_journal_get_data(j, field, &data, &size) < 0) return false;
  const size_t name = std::strlen(field) + 1;  // "FIELD="
  if (size < name) return false;
  out->assign(static_cast<const char*>(data) + name, size - name);
  return true;
}

}  // namespace

JournalReader::JournalReader(void* journal, JournalFilter filter)
    : journal_(journal), filter_(std::move(filter)) {}

JournalReader::~JournalReader() { sd_journal_close(J(journal_)); }

Result<std::unique_ptr<JournalReader>> JournalReader::OpenLocal(const JournalFilter& filter) {
  sd_journal* j = nullptr;
  const int r = sd_journal_open(&j, SD_JOURNAL_LOCAL_ONLY);
  if (r < 0) return Failed("cannot open the system journal", r);
  std::unique_ptr<JournalReader> reader(new JournalReader(j, filter));
  if (Status s = reader->ApplyFilter(); !s.ok()) return s.WithContext("the system journal");
  return reader;
}

Result<std::unique_ptr<JournalReader>> JournalReader::OpenDirectory(const std::string& dir,
                                                                    const JournalFilter& filter) {
  sd_journal* j = nullptr;
  const int r = sd_journal_open_directory(&j, dir.c_str(), 0);
  if (r < 0) return Failed("cannot open the journal directory '" + dir + "'", r);
  std::unique_ptr<JournalReader> reader(new JournalReader(j, filter));
  if (Status s = reader->ApplyFilter(); !s.ok()) return s.WithContext("'" + dir + "'");
  return reader;
}

Result<std::unique_ptr<JournalReader>> JournalReader::OpenFiles(
    const std::vector<std::string>& files, const JournalFilter& filter) {
  for (const std::string& f : files) {
    // sd_journal_open_files takes anything; say which file is not there.
    if (::access(f.c_str(), R_OK) != 0) {
      return Status::IOError("cannot read the journal file '" + f + "': " + std::strerror(errno));
    }
  }
  std::vector<const char*> paths;
  for (const std::string& f : files) paths.push_back(f.c_str());
  paths.push_back(nullptr);
  sd_journal* j = nullptr;
  const int r = sd_journal_open_files(&j, paths.data(), 0);
  if (r < 0) return Failed("cannot open the journal files", r);
  std::unique_ptr<JournalReader> reader(new JournalReader(j, filter));
  if (Status s = reader->ApplyFilter(); !s.ok()) return s;
  return reader;
}

// Units and identifiers as libsystemd matches (a disjunction within a field, a conjunction
// across fields); the priority is checked per entry, as matches cannot express a range.
Status JournalReader::ApplyFilter() {
  bool any = false;
  for (const auto& [field, values] : {std::pair{"_SYSTEMD_UNIT=", &filter_.units},
                                      std::pair{"SYSLOG_IDENTIFIER=", &filter_.identifiers}}) {
    if (values->empty()) continue;
    if (any) {
      if (int r = sd_journal_add_conjunction(J(journal_)); r < 0) {
        return Failed("cannot combine journal matches", r);
      }
    }
    any = true;
    for (const std::string& v : *values) {
      const std::string match = field + v;
      if (int r = sd_journal_add_match(J(journal_), match.data(), match.size()); r < 0) {
        return Failed("cannot match '" + match + "'", r);
      }
    }
  }
  return Status::Ok();
}

Status JournalReader::SeekAfter(const std::string& cursor, bool* gap) {
  sd_journal* j = J(journal_);
  *gap = false;
  if (int r = sd_journal_seek_cursor(j, cursor.c_str()); r < 0) {
    return r == -EINVAL ? Status::InvalidArgument("'" + cursor + "' is not a journal cursor")
                        : Failed("cannot seek to a cursor", r);
  }
  const int moved = sd_journal_next(j);
  if (moved < 0) return Failed("cannot read the journal", moved);
  if (moved == 0) {  // nothing at or after it: the next entry written comes next
    *gap = true;
    return Status::Ok();
  }
  const int same = sd_journal_test_cursor(j, cursor.c_str());
  if (same < 0) return Failed("cannot compare a cursor", same);
  if (same > 0) return Status::Ok();  // on the entry itself: Next moves past it
  // The entry is gone: this is the oldest one after it; step back so Next returns it (at the
  // head there is nothing to step back to: start from the head).
  *gap = true;
  const int back = sd_journal_previous(j);
  if (back < 0) return Failed("cannot read the journal", back);
  if (back == 0) {
    if (int r = sd_journal_seek_head(j); r < 0) return Failed("cannot seek to the head", r);
  }
  return Status::Ok();
}

Status JournalReader::SeekHead() {
  if (int r = sd_journal_seek_head(J(journal_)); r < 0) return Failed("cannot seek to the head", r);
  return Status::Ok();
}

Result<std::string> JournalReader::SeekTail() {
  sd_journal* j = J(journal_);
  if (int r = sd_journal_seek_tail(j); r < 0) return Failed("cannot seek to the end", r);
  // seek_tail places the reader after the last entry; previous() settles on the newest one
  // that passes the filter, and Next then returns what comes after it.
  while (true) {
    const int r = sd_journal_previous(j);
    if (r < 0) return Failed("cannot read the journal", r);
    if (r == 0) {  // no entry passes: start at the head, which is the end too
      if (int h = sd_journal_seek_head(j); h < 0) return Failed("cannot seek to the head", h);
      return std::string();
    }
    int priority = -1;
    if (!PriorityPasses(&priority)) continue;
    char* cursor = nullptr;
    if (int e = sd_journal_get_cursor(j, &cursor); e < 0) {
      return Failed("cannot read an entry's cursor", e);
    }
    std::string out = cursor;
    std::free(cursor);
    return out;
  }
}

Result<int> JournalReader::ChangeFd() {
  const int fd = sd_journal_get_fd(J(journal_));
  if (fd < 0) return Failed("cannot watch the journal", fd);
  return fd;
}

Result<bool> JournalReader::Process() {
  const int r = sd_journal_process(J(journal_));
  if (r < 0) return Failed("cannot follow the journal", r);
  return r != SD_JOURNAL_NOP;
}

Result<bool> JournalReader::Wait(int64_t timeout_ms) {
  const int r = sd_journal_wait(J(journal_), static_cast<uint64_t>(timeout_ms) * 1000);
  if (r < 0) return Failed("cannot follow the journal", r);
  return r != SD_JOURNAL_NOP;
}

bool JournalReader::PriorityPasses(int* priority) {
  std::string text;
  *priority = -1;
  if (Field(J(journal_), "PRIORITY", &text) && text.size() == 1 && text[0] >= '0' &&
      text[0] <= '7') {
    *priority = text[0] - '0';
  }
  if (*priority <= filter_.max_priority) return true;
  ++filtered_;
  return false;
}

Result<bool> JournalReader::Next(JournalEntry* out) {
  sd_journal* j = J(journal_);
  while (true) {
    const int r = sd_journal_next(j);
    if (r < 0) return Failed("cannot read the journal", r);
    if (r == 0) return false;
    if (!PriorityPasses(&out->priority)) continue;
    uint64_t usec = 0;
    if (int e = sd_journal_get_realtime_usec(j, &usec); e < 0) {
      return Failed("cannot read an entry's time", e);
    }
    out->realtime_us = static_cast<int64_t>(usec);
    char* cursor = nullptr;
    if (int e = sd_journal_get_cursor(j, &cursor); e < 0) {
      return Failed("cannot read an entry's cursor", e);
    }
    out->cursor = cursor;
    std::free(cursor);
    if (!Field(j, "_HOSTNAME", &out->hostname)) out->hostname.clear();
    if (!Field(j, "SYSLOG_IDENTIFIER", &out->identifier) && !Field(j, "_COMM", &out->identifier)) {
      out->identifier.clear();
    }
    if (!Field(j, "_SYSTEMD_UNIT", &out->unit)) out->unit.clear();
    std::string pid;
    out->pid = 0;
    if (Field(j, "_PID", &pid) || Field(j, "SYSLOG_PID", &pid)) {
      int64_t v = 0;
      bool digits = !pid.empty() && pid.size() <= 18;
      for (char c : pid) {
        if (c < '0' || c > '9') digits = false;
        v = v * 10 + (c - '0');
      }
      if (digits) out->pid = v;
    }
    out->has_message = Field(j, "MESSAGE", &out->message);
    if (!out->has_message) out->message.clear();
    out->binary_message =
        out->message.find_first_of(std::string_view("\0\r\n", 3)) != std::string::npos;
    return true;
  }
}

}  // namespace ember::journal
