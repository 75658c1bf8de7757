// FsWatcher: inotify on the directories the agent tails from, so appends, new files,
// renames and deletions wake the agent at once instead of at the next poll. Polling stays as
// the fallback (filesystems without inotify, watch limits). Not thread-safe; owned by the
// agent's io_context thread.
#pragma once

#include <map>
#include <memory>
#include <set>
#include <string>

#include "common/status.h"

namespace ember::agent {

class FsWatcher {
 public:
  // Errors: Unavailable when inotify cannot be initialised (the caller falls back to polling).
  static Result<std::unique_ptr<FsWatcher>> Create();
  ~FsWatcher();

  // The descriptor to wait on for readability.
  int fd() const { return fd_; }
  // Starts watching the directories not watched yet; a directory that cannot be watched is
  // logged once and left to polling.
  void Watch(const std::set<std::string>& dirs);

  struct Events {
    bool data = false;   // a file was written to or truncated
    bool names = false;  // a file appeared, moved or vanished: expand the globs again
  };
  // Reads every pending event without blocking.
  Events Drain();

 private:
  explicit FsWatcher(int fd) : fd_(fd) {}
  int fd_;
  std::map<std::string, int> watched_;  // directory -> watch descriptor
  std::set<std::string> failed_;
};

}  // namespace ember::agent
