// Path globs as operators write them for log files: `*` and `?` and `[...]` within one path
// segment (fnmatch(3) with FNM_PATHNAME), and `**` as a whole segment for any number of
// directories, zero included (`/var/log/**/*.log`). Pure functions; thread-safe.
#pragma once

#include <string>
#include <vector>

namespace ember::agent {

// Whether `path` matches `pattern`. Both absolute or both relative.
bool GlobMatch(const std::string& pattern, const std::string& path);

// What a walk left out, for the caller to say so.
struct GlobStats {
  size_t beyond_depth = 0;        // directories deeper than max_depth, not searched
  size_t repeated = 0;            // directories reached again (a symlink loop, or two links to one)
  std::vector<std::string> dirs;  // the directories searched
};

// Every file that is not a directory (symlinks followed) whose path matches `pattern`, sorted
// (FIFOs and devices too, so the agent can say why it does not tail them). Directories are
// walked from the longest wildcard-free prefix of the pattern, at most `max_depth` levels
// below it for `**`, each directory once (by device and inode: a symlink loop ends, and a
// directory linked twice is not tailed twice); unreadable directories are skipped.
std::vector<std::string> GlobFiles(const std::string& pattern, int max_depth = 16,
                                   GlobStats* stats = nullptr);

}  // namespace ember::agent
