// Facts about the machine the binaries run on: wall-clock time and the host name. The only
// place these are read, so the engine and the tests can stay free of them. Thread-safe.
#pragma once

#include <cstdint>
#include <string>

namespace ember {

// Milliseconds since the Unix epoch, from the system (wall) clock.
int64_t WallClockMs();

// The machine's host name, or "localhost" if it cannot be read.
std::string LocalHostName();

// The current year (UTC), for time stamps that carry none.
int CurrentYearUtc();

}  // namespace ember
