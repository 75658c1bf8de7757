#include "agent/fs_watcher.h"

#include <sys/inotify.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include <spdlog/spdlog.h>

namespace ember::agent {

Result<std::unique_ptr<FsWatcher>> FsWatcher::Create() {
  int fd = ::inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
  if (fd < 0) return Status::Unavailable(std::string("inotify: ") + std::strerror(errno));
  return std::unique_ptr<FsWatcher>(new FsWatcher(fd));
}

FsWatcher::~FsWatcher() { ::close(fd_); }

void FsWatcher::Watch(const std::set<std::string>& dirs) {
  constexpr uint32_t kMask = IN_MODIFY | IN_CREATE | IN_MOVED_FROM | IN_MOVED_TO | IN_DELETE |
                             IN_CLOSE_WRITE | IN_ATTRIB | IN_DELETE_SELF | IN_MOVE_SELF;
  for (const auto& dir : dirs) {
    if (watched_.count(dir) || failed_.count(dir)) continue;
    int wd = ::inotify_add_watch(fd_, dir.c_str(), kMask);
    if (wd < 0) {
      failed_.insert(dir);
      spdlog::warn("Cannot watch '{}' with inotify ({}); polling it instead.", dir,
                   std::strerror(errno));
      continue;
    }
    watched_[dir] = wd;
  }
}

FsWatcher::Events FsWatcher::Drain() {
  Events events;
  alignas(inotify_event) char buf[16 * 1024];
  while (true) {
    ssize_t n = ::read(fd_, buf, sizeof buf);
    if (n <= 0) break;
    for (char* p = buf; p < buf + n;) {
      const auto* e = reinterpret_cast<const inotify_event*>(p);
      if (e->mask & (IN_MODIFY | IN_CLOSE_WRITE | IN_ATTRIB)) events.data = true;
      if (e->mask & (IN_CREATE | IN_MOVED_FROM | IN_MOVED_TO | IN_DELETE | IN_DELETE_SELF |
                     IN_MOVE_SELF | IN_Q_OVERFLOW)) {
        events.names = true;
      }
      if (e->mask & IN_IGNORED) {
        // The directory went away: forget it so it is watched again if it comes back.
        for (auto it = watched_.begin(); it != watched_.end(); ++it) {
          if (it->second == e->wd) {
            watched_.erase(it);
            break;
          }
        }
        events.names = true;
      }
      p += sizeof(inotify_event) + e->len;
    }
  }
  return events;
}

}  // namespace ember::agent
