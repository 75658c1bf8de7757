// Facts about the machine the binaries run on: wall-clock time and the host name. The only
// place these are read, so the engine and the tests can stay free of them. Thread-safe.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

namespace ember {

// Milliseconds since the Unix epoch, from the system (wall) clock.
int64_t WallClockMs();

// The machine's host name, or "localhost" if it cannot be read.
std::string LocalHostName();

// The current year (UTC), for time stamps that carry none.
int CurrentYearUtc();

// Tunes malloc for a process that streams buffers of up to a few hundred KiB between threads:
// blocks under `mmap_threshold_bytes` come from the heap (not a fresh mmap each), and up to
// `keep_free_bytes` of freed heap stays mapped instead of being returned and faulted in again
// for the next buffer. malloc_trim(0) still returns everything when the process goes idle.
// Call once at start, before threads exist.
void KeepFreedMemory(size_t mmap_threshold_bytes, size_t keep_free_bytes);

}  // namespace ember
