// Path globs as operators write them for log files: `*` and `?` and `[...]` within one path
// segment (fnmatch(3) with FNM_PATHNAME), and `**` as a whole segment for any number of
// directories, zero included (`/var/log/**/*.log`). Pure functions; thread-safe.
#pragma once

#include <string>
#include <vector>

namespace ember::agent {

// Whether `path` matches `pattern`. Both absolute or both relative.
bool GlobMatch(const std::string& pattern, const std::string& path);

// Every file that is not a directory (symlinks followed) whose path matches `pattern`, sorted
// (FIFOs and devices too, so the agent can say why it does not tail them). Directories are
// walked from the longest wildcard-free prefix of the pattern, at most `max_depth` levels
// below it for `**`; unreadable directories are skipped.
std::vector<std::string> GlobFiles(const std::string& pattern, int max_depth = 16);

}  // namespace ember::agent
