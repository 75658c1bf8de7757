// JournalFields: the fields of a systemd journal entry that travel with its line (on the wire,
// in the agent's frames) and that rules scope and key on. Views; their owner keeps the bytes.
#pragma once

#include <string_view>

namespace ember {

struct JournalFields {
  std::string_view unit;        // _SYSTEMD_UNIT
  std::string_view identifier;  // SYSLOG_IDENTIFIER
  std::string_view priority;    // PRIORITY, "0".."7" ("" if none)
  std::string_view pid;         // _PID, decimal ("" if none)
};

}  // namespace ember
