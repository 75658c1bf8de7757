#include "agent/agent_status.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <fstream>
#include <map>
#include <sstream>

#include <nlohmann/json.hpp>

#include "agent/file_tailer.h"
#include "agent/offset_store.h"
#include "common/system.h"

namespace ember::agent {

int PrintAgentStatus(const AgentConfig& config, std::FILE* out) {
  Result<std::unique_ptr<OffsetStore>> store = OffsetStore::Open(config.state_dir);
  if (!store.ok()) {
    std::fprintf(stderr, "ember-agent: %s\n", store.status().message().c_str());
    return 2;
  }
  // The running agent's view (per-file counters), if it wrote one.
  nlohmann::json live;
  {
    std::ifstream in(config.state_dir + "/status.json");
    std::stringstream buf;
    buf << in.rdbuf();
    live = nlohmann::json::parse(buf.str(), nullptr, /*allow_exceptions=*/false);
    if (!live.is_object()) live = nlohmann::json::object();
  }
  std::map<uint64_t, nlohmann::json> live_files;
  if (live.contains("tails") && live["tails"].contains("files")) {
    for (const auto& f : live["tails"]["files"]) {
      live_files[f.value("stream_id", uint64_t{0})] = f;
    }
  }
  if (live.contains("written_ms")) {
    const bool running = live.contains("pid") && ::kill(live["pid"].get<int>(), 0) == 0;
    const double age_s =
        static_cast<double>(WallClockMs() - live["written_ms"].get<int64_t>()) / 1e3;
    std::fprintf(out, "agent: %s; counters as of %.1fs ago; session with the aggregator: %s\n\n",
                 running ? ("running, pid " + std::to_string(live["pid"].get<int>())).c_str()
                         : "not running",
                 age_s, live.value("session", false) ? "open" : "not open");
  }
  std::fprintf(out, "%-48s %-16s %-14s %12s %12s %10s %10s %6s %6s  %s\n", "FILE", "STREAM",
               "DEV:INODE", "ACKED", "SIZE", "LAG", "LINES", "CUT", "RESETS", "STATE");
  size_t files = 0;
  for (const StreamRecord& r : (*store)->records()) {
    if (!r.journal.empty()) continue;  // below
    ++files;
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
      int fd = ::open(r.path.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK);
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
    // Counters since the agent started: lines read, lines cut at max_line_bytes, resets
    // (truncations, replaced content).
    std::string lines = "-", cut = "-", resets = "-";
    auto f = live_files.find(r.stream_id);
    if (f != live_files.end()) {
      lines = std::to_string(f->second.value("lines", uint64_t{0}));
      cut = std::to_string(f->second.value("truncated_lines", uint64_t{0}));
      resets = std::to_string(f->second.value("truncations", uint64_t{0}));
      const std::string live_state = f->second.value("state", std::string());
      if (state == "tailing" || live_state.rfind("rotated", 0) == 0) state = live_state;
      if (f->second.value("path", r.path) != r.path) {
        state += " (now '" + f->second.value("path", r.path) + "')";
      }
    }
    std::fprintf(out, "%-48s %-16s %-14s %12llu %12s %10s %10s %6s %6s  %s\n", r.path.c_str(), id,
                 (std::to_string(r.dev) + ":" + std::to_string(r.ino)).c_str(),
                 static_cast<unsigned long long>(r.acked_offset),
                 size >= 0 ? std::to_string(size).c_str() : "-", lag.c_str(), lines.c_str(),
                 cut.c_str(), resets.c_str(), state.c_str());
  }
  if (files == 0) std::fprintf(out, "(no file read yet)\n");
  for (const StreamRecord& r : (*store)->records()) {
    if (r.journal.empty()) continue;
    std::fprintf(out, "\njournal '%s': stream %016llx, %llu bytes of lines acknowledged%s",
                 r.journal.c_str(), static_cast<unsigned long long>(r.stream_id),
                 static_cast<unsigned long long>(r.acked_offset),
                 r.cursor.empty() ? " (no entry yet)" : "");
    const nlohmann::json j = live.value("journal", nlohmann::json::object());
    if (j.value("stream_id", uint64_t{0}) == r.stream_id) {
      std::fprintf(out,
                   "; %s, %llu bytes sent; since the start: %llu entries, %llu lines, %llu "
                   "without a MESSAGE, %llu cut, %llu filtered by priority, %llu gaps",
                   j.value("state", std::string()).c_str(),
                   static_cast<unsigned long long>(j.value("sent_offset", uint64_t{0})),
                   static_cast<unsigned long long>(j.value("entries", uint64_t{0})),
                   static_cast<unsigned long long>(j.value("lines", uint64_t{0})),
                   static_cast<unsigned long long>(j.value("without_message", uint64_t{0})),
                   static_cast<unsigned long long>(j.value("truncated_lines", uint64_t{0})),
                   static_cast<unsigned long long>(j.value("filtered", uint64_t{0})),
                   static_cast<unsigned long long>(j.value("gaps", uint64_t{0})));
    }
    std::fprintf(out, "\n");
  }
  if (live.contains("tails")) {
    const auto& t = live["tails"];
    const nlohmann::json unreadable = t.value("unreadable", nlohmann::json::object());
    for (const auto& [path, why] : unreadable.items()) {
      std::fprintf(out, "not tailed: %s: %s\n", path.c_str(), why.get<std::string>().c_str());
    }
    const nlohmann::json ignored = t.value("ignored_older", nlohmann::json::array());
    for (const auto& path : ignored) {
      std::fprintf(out, "ignored (older than ignore_older): %s\n", path.get<std::string>().c_str());
    }
    if (t.value("lost_while_closed", 0) > 0) {
      std::fprintf(out, "files gone while closed for the fd budget: %d\n",
                   t.value("lost_while_closed", 0));
    }
  }
  return 0;
}

}  // namespace ember::agent
