// spdlog set-up shared by the binaries: a readable pattern on a terminal, and plain lines
// with syslog priority prefixes ("<3>") when stderr goes to journald. Call once from main().
#pragma once

#include <string>

#include "common/status.h"

namespace ember {

// `level` is trace, debug, info, warn, error or off. InvalidArgument for any other word.
Status SetupLogging(const std::string& level);

// True when file descriptor `fd` is connected to the systemd journal (JOURNAL_STREAM names
// its device and inode).
bool StreamIsJournal(int fd);

}  // namespace ember
