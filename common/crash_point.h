// Crash points for fault tests: CrashPoint("name") kills the process with SIGKILL when the
// environment variable EMBER_CRASH_POINT equals "name", so tests can stop a real process at
// an exact step (between a commit and the delivery of its alerts, say). The variable is read
// once; without it a crash point costs one comparison. Thread-safe.
#pragma once

namespace ember {

void CrashPoint(const char* name);

}  // namespace ember
