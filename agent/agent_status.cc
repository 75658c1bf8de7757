#include "agent/agent_status.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "agent/file_tailer.h"
#include "agent/offset_store.h"

namespace ember::agent {

int PrintAgentStatus(const AgentConfig& config, std::FILE* out) {
  Result<std::unique_ptr<OffsetStore>> store = OffsetStore::Open(config.state_dir);
  if (!store.ok()) {
    std::fprintf(stderr, "ember-agent: %s\n", store.status().message().c_str());
    return 2;
  }
  std::fprintf(out, "%-48s %-16s %-14s %12s %12s %10s  %s\n", "FILE", "STREAM", "DEV:INODE",
               "ACKED", "SIZE", "LAG", "STATE");
  for (const StreamRecord& r : (*store)->records()) {
    struct stat st;
    std::string state;
    long long size = -1;
    if (::stat(r.path.c_str(), &st) != 0) {
      state = "gone (deleted or rotated away)";
    } else if (static_cast<uint64_t>(st.st_dev) != r.dev ||
               static_cast<uint64_t>(st.st_ino) != r.ino) {
      state = "rotated (the name is another file now)";
    } else {
      size = static_cast<long long>(st.st_size);
      state = "tailing";
      int fd = ::open(r.path.c_str(), O_RDONLY | O_CLOEXEC);
      if (fd >= 0) {
        if (!MatchesFingerprint(fd, r)) {
          state = "replaced (different first bytes)";
        }
        ::close(fd);
      }
    }
    const std::string lag =
        size >= 0 ? std::to_string(size - static_cast<long long>(r.acked_offset)) : "-";
    char id[17];
    std::snprintf(id, sizeof id, "%016llx", static_cast<unsigned long long>(r.stream_id));
    std::fprintf(out, "%-48s %-16s %-14s %12llu %12s %10s  %s\n", r.path.c_str(), id,
                 (std::to_string(r.dev) + ":" + std::to_string(r.ino)).c_str(),
                 static_cast<unsigned long long>(r.acked_offset),
                 size >= 0 ? std::to_string(size).c_str() : "-", lag.c_str(), state.c_str());
  }
  if ((*store)->size() == 0) std::fprintf(out, "(no file read yet)\n");
  return 0;
}

}  // namespace ember::agent
