#include "agent/tail_set.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <set>

#include <nlohmann/json.hpp>
#include <spdlog/spdlog.h>

#include "agent/path_glob.h"

namespace ember::agent {
namespace {

void AddCounters(TailCounters& into, const TailCounters& c) {
  into.lines += c.lines;
  into.bytes += c.bytes;
  into.truncated_lines += c.truncated_lines;
  into.truncations += c.truncations;
  into.rewinds += c.rewinds;
  into.refused_offsets += c.refused_offsets;
  into.restreams += c.restreams;
}

}  // namespace

TailSet::TailSet(const TailOptions& options, FrameContext context, OffsetStore& store)
    : options_(options), context_(std::move(context)), store_(store) {}

FileTailer* TailSet::FindStream(uint64_t stream_id) {
  FileTailer* found = nullptr;
  ForEachTailer([&](FileTailer& t) {
    if (t.stream_id() == stream_id) found = &t;
  });
  return found;
}

void TailSet::Positions(bool changed_only, std::vector<wire::AckEntry>* at_end,
                        std::vector<wire::AckEntry>* behind) {
  std::map<uint64_t, std::pair<uint64_t, bool>> reported;
  ForEachTailer([&](const FileTailer& t) {
    const bool caught_up =
        t.at_eof() && !t.has_partial_line() && t.sent_offset() == t.read_offset();
    const std::pair<uint64_t, bool> now{t.sent_offset(), caught_up};
    reported[t.stream_id()] = now;
    auto before = reported_.find(t.stream_id());
    if (changed_only && before != reported_.end() && before->second == now) return;
    (caught_up ? at_end : behind)->push_back({t.stream_id(), t.sent_offset()});
  });
  reported_ = std::move(reported);
}

std::vector<wire::AckEntry> TailSet::Streams() const {
  std::vector<wire::AckEntry> out;
  ForEachTailer([&](const FileTailer& t) { out.push_back({t.stream_id(), t.acked_offset()}); });
  return out;
}

void TailSet::Resync(const std::vector<wire::AckEntry>& marks, int64_t now_ms) {
  std::map<uint64_t, uint64_t> by_stream;
  for (const auto& m : marks) by_stream[m.stream_id] = m.offset;
  ForEachTailer([&](FileTailer& t) {
    auto it = by_stream.find(t.stream_id());
    LogRefusal(t.Resync(it == by_stream.end() ? std::nullopt : std::optional<uint64_t>(it->second),
                        now_ms),
               now_ms);
  });
}

void TailSet::OnAck(uint64_t stream_id, uint64_t offset, int64_t now_ms) {
  if (FileTailer* t = FindStream(stream_id)) LogRefusal(t->OnAck(offset, now_ms), now_ms);
}

void TailSet::OnNack(uint64_t stream_id, uint64_t offset, int64_t now_ms) {
  if (FileTailer* t = FindStream(stream_id)) LogRefusal(t->OnNack(offset, now_ms), now_ms);
}

void TailSet::LogRefusal(const Status& refusal, int64_t now_ms) {
  uint64_t suppressed = 0;
  if (refusal.ok() || !refusal_log_.Allow(now_ms, &suppressed)) return;
  spdlog::warn("{}.{}", refusal.message(), LogLimiter::SuppressedNote(suppressed));
}

void TailSet::CheckAckTimeouts(int64_t now_ms, int64_t timeout_ms) {
  ForEachTailer([&](FileTailer& t) { t.CheckAckTimeout(now_ms, timeout_ms); });
}

std::set<std::string> TailSet::WatchDirs() const {
  std::set<std::string> dirs;
  auto parent = [](const std::string& path) {
    size_t slash = path.rfind('/');
    if (slash == std::string::npos) return std::string(".");
    return slash == 0 ? std::string("/") : path.substr(0, slash);
  };
  for (const auto& spec : options_.paths) {
    const std::string& g = spec.glob;
    size_t wild = g.find_first_of("*?[");
    dirs.insert(parent(wild == std::string::npos ? g : g.substr(0, wild + 1)));
  }
  for (const auto& [path, tailer] : active_) dirs.insert(parent(path));
  dirs.insert(glob_dirs_.begin(), glob_dirs_.end());
  return dirs;
}

uint64_t TailSet::UnackedBytes() const {
  uint64_t total = 0;
  ForEachTailer([&](const FileTailer& t) { total += t.unacked_bytes(); });
  return total;
}

uint64_t TailSet::InFlightBytes() const {
  uint64_t total = 0;
  ForEachTailer([&](const FileTailer& t) { total += t.in_flight_bytes(); });
  return total;
}

bool TailSet::AllAcked() const {
  bool all = true;
  ForEachTailer([&](const FileTailer& t) { all = all && t.sent_offset() == t.acked_offset(); });
  return all;
}

bool TailSet::Excluded(const std::string& path) const {
  for (const auto& pattern : options_.exclude) {
    if (GlobMatch(pattern, path)) return true;
  }
  return false;
}

bool TailSet::Rescan(int64_t now_ms) {
  bool waiting = false;
  std::map<std::string, std::string> found;  // path -> tag of the first input matching it
  glob_dirs_.clear();
  for (const auto& spec : options_.paths) {
    GlobStats stats;
    for (auto& path : GlobFiles(spec.glob, kMaxGlobDepth, &stats)) {
      if (!Excluded(path)) found.emplace(std::move(path), spec.tag);
    }
    if (spec.glob.find("**") != std::string::npos) {
      for (auto& d : stats.dirs) {
        if (glob_dirs_.size() >= kMaxWatchedGlobDirs) {
          if (glob_warnings_.insert("watch " + spec.glob).second) {
            spdlog::warn(
                "'{}': more than {} directories to watch; new files in the others are found "
                "at the next rescan (logged once).",
                spec.glob, kMaxWatchedGlobDirs);
          }
          break;
        }
        glob_dirs_.insert(std::move(d));
      }
    }
    // Said once per glob and kind, not at every rescan.
    if (stats.beyond_depth > 0 && glob_warnings_.insert("depth " + spec.glob).second) {
      spdlog::warn(
          "'{}': ** searches {} directory levels; {} directories deeper were not searched "
          "(logged once).",
          spec.glob, kMaxGlobDepth, stats.beyond_depth);
    }
    if (stats.repeated > 0 && glob_warnings_.insert("repeat " + spec.glob).second) {
      spdlog::warn(
          "'{}': {} directories were reached twice (a symlink loop, or two links to one "
          "directory); each was searched once (logged once).",
          spec.glob, stats.repeated);
    }
  }
  // Only tagged paths are kept: with 2,000 untagged files a copy of every path is memory
  // for nothing.
  tags_.clear();
  for (const auto& [path, tag] : found) {
    if (!tag.empty()) tags_.emplace(path, tag);
  }
  const bool from_end = !initial_scan_done_ && !options_.read_from_beginning;
  for (const auto& [path, tag] : found) {
    if (active_.count(path)) continue;
    if (options_.ignore_older_ms > 0) {
      struct stat st;
      const int64_t mtime_ms =
          ::stat(path.c_str(), &st) == 0 ? static_cast<int64_t>(st.st_mtime) * 1000 : now_ms;
      if (now_ms - mtime_ms > options_.ignore_older_ms) {
        if (ignored_.insert(path).second) {
          spdlog::info("Ignoring '{}': not modified for longer than ignore_older.", path);
        }
        continue;
      }
      ignored_.erase(path);
    }
    struct stat st;
    if (::stat(path.c_str(), &st) == 0 && Readopt(path, FileIdentity{st.st_dev, st.st_ino})) {
      continue;
    }
    if (!MakeRoom(nullptr)) {  // every open file is busy: the rest wait for the next rescan
      waiting = true;
      break;
    }
    Result<std::unique_ptr<FileTailer>> tailer = FileTailer::Open(path, from_end, options_, store_);
    if (!tailer.ok()) {
      if (unreadable_.emplace(path, tailer.status().message()).second) {
        spdlog::warn("Cannot tail '{}': {} (logged once; retried at every rescan)", path,
                     tailer.status().message());
      }
      continue;
    }
    unreadable_.erase(path);
    (*tailer)->set_tag(tag);
    spdlog::info("Tailing '{}' from byte {}.", path, (*tailer)->read_offset());
    active_.emplace(path, std::move(*tailer));
  }
  std::vector<std::string> gone;
  for (const auto& [path, tailer] : active_) {
    if (!found.count(path)) gone.push_back(path);
  }
  for (const auto& path : gone) Detach(path, now_ms);
  if (!initial_scan_done_) ResumeRotatedAway(now_ms);
  initial_scan_done_ = true;
  return waiting;
}

bool TailSet::Readopt(const std::string& path, const FileIdentity& id) {
  for (auto it = draining_.begin(); it != draining_.end(); ++it) {
    if (!(it->tailer->identity() == id)) continue;
    spdlog::info("'{}' (rotated from '{}') matches the inputs: tailing it on.", path,
                 it->tailer->path());
    it->tailer->set_path(path);
    auto tag = tags_.find(path);
    it->tailer->set_tag(tag != tags_.end() ? tag->second : std::string());
    active_.emplace(path, std::move(it->tailer));
    draining_.erase(it);
    return true;
  }
  return false;
}

namespace {

std::string DirName(const std::string& path) {
  const size_t slash = path.rfind('/');
  if (slash == std::string::npos) return ".";
  return slash == 0 ? "/" : path.substr(0, slash);
}

// The path of the file with this device and inode in `dir`, or "".
std::string FindInDir(const std::string& dir, uint64_t dev, uint64_t ino) {
  std::string found;
  DIR* d = ::opendir(dir.c_str());
  if (d == nullptr) return found;
  while (dirent* e = ::readdir(d)) {
    if (e->d_ino != ino) continue;
    const std::string path = (dir == "/" ? "" : dir) + "/" + e->d_name;
    struct stat st;
    if (::stat(path.c_str(), &st) == 0 && S_ISREG(st.st_mode) &&
        static_cast<uint64_t>(st.st_dev) == dev && static_cast<uint64_t>(st.st_ino) == ino) {
      found = path;
      break;
    }
  }
  ::closedir(d);
  return found;
}

// Whether `path` still holds the stream of `r` (same first bytes), and its size.
bool HoldsStream(const std::string& path, const StreamRecord& r, uint64_t* size) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
  if (fd < 0) return false;
  struct stat st;
  const bool same = ::fstat(fd, &st) == 0 && MatchesFingerprint(fd, r);
  *size = static_cast<uint64_t>(st.st_size);
  ::close(fd);
  return same && *size >= r.acked_offset;
}

}  // namespace

void TailSet::ResumeRotatedAway(int64_t now_ms) {
  std::set<uint64_t> open_streams;
  ForEachTailer([&](const FileTailer& t) { open_streams.insert(t.stream_id()); });
  for (const StreamRecord& r : store_.records()) {
    if (!r.journal.empty()) continue;  // the journal input's
    if (open_streams.count(r.stream_id) || ignored_.count(r.path)) continue;
    const std::string path = FindInDir(DirName(r.path), r.dev, r.ino);
    uint64_t size = 0;
    if (path.empty() || !HoldsStream(path, r, &size)) {
      spdlog::info("'{}' (acknowledged up to byte {}) is gone; forgetting it.", r.path,
                   r.acked_offset);
      store_.Remove(r.stream_id);
      continue;
    }
    if (size == r.acked_offset) continue;  // read and acknowledged to its end
    Result<std::unique_ptr<FileTailer>> tailer = FileTailer::Open(path, false, options_, store_);
    if (!tailer.ok() || (*tailer)->stream_id() != r.stream_id) continue;
    auto tag = tags_.find(r.path);
    (*tailer)->set_tag(tag != tags_.end() ? tag->second : std::string());
    spdlog::info(
        "'{}' was rotated to '{}' while the agent was stopped; reading it from byte {} to its "
        "end.",
        r.path, path, r.acked_offset);
    draining_.push_back(Draining{std::move(*tailer), now_ms});
  }
}

void TailSet::Detach(const std::string& path, int64_t now_ms) {
  auto it = active_.find(path);
  if (it == active_.end()) return;
  spdlog::info("'{}' was rotated or deleted; reading the old file to its end.", path);
  wake_.erase(it->second.get());
  draining_.push_back(Draining{std::move(it->second), now_ms});
  active_.erase(it);
}

void TailSet::CheckRotation(int64_t now_ms, std::vector<std::string>* frames) {
  std::vector<std::string> rotated;
  std::vector<std::string> lost;
  for (auto& [path, tailer] : active_) {
    struct stat st;
    const bool exists = ::stat(path.c_str(), &st) == 0;
    const bool same = exists && FileIdentity{st.st_dev, st.st_ino} == tailer->identity();
    if (same) tailer->NoteSize(static_cast<uint64_t>(st.st_size));
    if (tailer->suspended()) {
      if (same && static_cast<uint64_t>(st.st_size) != tailer->read_offset()) {
        wake_.insert(tailer.get());  // it grew (or shrank): reopen it to look
        continue;
      }
      if (same) continue;
      // Rotated away while closed for the fd budget: find it by its inode to read the rest.
      const std::string moved =
          FindInDir(DirName(path), tailer->identity().dev, tailer->identity().ino);
      if (moved.empty() || !MakeRoom(tailer.get()) || !tailer->Resume(moved).ok()) {
        lost.push_back(path);
        continue;
      }
    }
    if (!exists) {
      rotated.push_back(path);  // deleted or renamed away
      continue;
    }
    if (!same) {
      rotated.push_back(path);  // a new file now has this name
      continue;
    }
    const auto size = static_cast<uint64_t>(st.st_size);
    const bool shrank = size < tailer->read_offset();
    if (shrank || tailer->ContentReplaced(size)) {
      // Truncated in place (copytruncate), perhaps written past the old size again: what was
      // not read yet is gone; start over.
      if (tailer->has_partial_line() && shrank) tailer->FlushPartial(context_, now_ms, frames);
      tailer->Restart(shrank
                          ? fmt::format("shrank from {} to {} bytes", tailer->read_offset(), size)
                          : std::string("has new first bytes"));
    }
  }
  for (const auto& path : lost) {
    auto it = active_.find(path);
    spdlog::warn(
        "'{}' was rotated or deleted while closed for the fd budget (max_open_files) and is "
        "gone: lines appended to it after byte {} in the meantime, if any, are lost.",
        path, it->second->read_offset());
    ++lost_while_closed_;
    AddCounters(closed_counters_, it->second->counters());
    store_.Remove(it->second->stream_id());
    wake_.erase(it->second.get());
    active_.erase(it);
    rotated.push_back(path);  // open the file now under the name, if any
  }
  for (const auto& path : rotated) {
    Detach(path, now_ms);
    // Open the new file (if any) now, so its first lines wait no longer than a poll.
    struct stat st;
    if (::stat(path.c_str(), &st) == 0 && S_ISREG(st.st_mode) && !Excluded(path) &&
        MakeRoom(nullptr)) {
      Result<std::unique_ptr<FileTailer>> tailer = FileTailer::Open(path, false, options_, store_);
      if (tailer.ok()) {
        auto tag = tags_.find(path);
        (*tailer)->set_tag(tag != tags_.end() ? tag->second : std::string());
        spdlog::info("Tailing new '{}' from byte 0.", path);
        active_.emplace(path, std::move(*tailer));
      }
    }
  }
}

bool TailSet::Poll(int64_t now_ms, size_t max_frames, std::vector<std::string>* frames,
                   size_t max_bytes, bool check_files) {
  if (check_files) CheckRotation(now_ms, frames);
  size_t read = 0;
  bool progress = true;
  while (progress && frames->size() < max_frames && read < max_bytes) {
    progress = false;
    for (auto& d : draining_) {
      if (read >= max_bytes) break;
      Result<size_t> n =
          d.tailer->ReadSome(context_, &read_buffer_, now_ms, frames, max_bytes - read);
      if (n.ok() && *n > 0) {
        d.last_data_ms = now_ms;
        read += *n;
        progress = true;
      }
    }
    for (auto& [path, tailer] : active_) {
      if (frames->size() >= max_frames || read >= max_bytes) break;
      // A file already read to its end is only read again after a check (a file system
      // event or the poll interval) found it grown: quiet files cost no read.
      if (!tailer->suspended() && tailer->at_eof() && !tailer->has_partial_line() &&
          (!check_files || tailer->NothingNew())) {
        continue;
      }
      if (tailer->suspended()) {
        if (!wake_.count(tailer.get()) || !MakeRoom(tailer.get())) continue;
        if (Status s = tailer->Resume(path); !s.ok()) continue;  // CheckRotation sorts it out
        wake_.erase(tailer.get());
      }
      Result<size_t> n =
          tailer->ReadSome(context_, &read_buffer_, now_ms, frames, max_bytes - read);
      if (!n.ok()) {
        spdlog::warn("{}", n.status().message());
      } else if (*n > 0) {
        read += *n;
        progress = true;
      }
    }
  }
  // Keep to the fd budget (opening files may have gone past it while some were busy).
  if (OpenFds() > static_cast<size_t>(options_.max_open_files)) {
    MakeRoom(nullptr);
  }
  // A rotated file is closed once it stayed quiet for a while (a writer may still add a few
  // lines before it reopens the new file), was read to its end and is fully acknowledged.
  for (auto it = draining_.begin(); it != draining_.end();) {
    if (now_ms - it->last_data_ms >= options_.partial_line_timeout_ms &&
        it->tailer->has_partial_line()) {
      it->tailer->FlushPartial(context_, now_ms, frames);
    }
    if (now_ms - it->last_data_ms >= options_.partial_line_timeout_ms && it->tailer->FullyAcked()) {
      spdlog::info("Closed rotated '{}' at byte {}, all of it acknowledged.", it->tailer->path(),
                   it->tailer->read_offset());
      AddCounters(closed_counters_, it->tailer->counters());
      it = draining_.erase(it);
    } else {
      ++it;
    }
  }
  // Stopped by a limit while files still gave data: there is more to read.
  return progress;
}

size_t TailSet::OpenFds() const {
  size_t n = 0;
  ForEachTailer([&](const FileTailer& t) { n += t.suspended() ? 0 : 1; });
  return n;
}

bool TailSet::MakeRoom(const FileTailer* keep) {
  const auto budget = static_cast<size_t>(options_.max_open_files);
  size_t open = OpenFds();
  while (open >= budget) {
    // The least recently written file that has nothing left to read or to be acknowledged.
    FileTailer* idle = nullptr;
    for (auto& [path, t] : active_) {
      if (t.get() == keep || t->suspended() || !t->FullyAcked()) continue;
      if (idle == nullptr || t->last_data_ms() < idle->last_data_ms()) idle = t.get();
    }
    if (idle == nullptr) return false;
    idle->Suspend();
    --open;
  }
  return true;
}

std::string TailSet::StatusJson() const {
  nlohmann::json files = nlohmann::json::array();
  auto add = [&](const FileTailer& t, const char* state) {
    const TailCounters& c = t.counters();
    files.push_back({{"stream_id", t.stream_id()},
                     {"path", t.path()},
                     {"state", t.suspended() ? "idle, closed (fd budget)" : state},
                     {"read_offset", t.read_offset()},
                     {"acked_offset", t.acked_offset()},
                     {"lines", c.lines},
                     {"bytes", c.bytes},
                     {"truncated_lines", c.truncated_lines},
                     {"truncations", c.truncations},
                     {"rewinds", c.rewinds},
                     {"refused_offsets", c.refused_offsets},
                     {"restreams", c.restreams}});
  };
  for (const auto& [path, t] : active_) add(*t, "tailing");
  for (const auto& d : draining_) add(*d.tailer, "rotated, reading to its end");
  nlohmann::json unreadable = nlohmann::json::object();
  for (const auto& [path, why] : unreadable_) unreadable[path] = why;
  nlohmann::json j = {{"files", files},
                      {"unreadable", unreadable},
                      {"ignored_older", ignored_},
                      {"lost_while_closed", lost_while_closed_},
                      {"open_fds", OpenFds()}};
  return j.dump(1, ' ', false, nlohmann::json::error_handler_t::replace);
}

void TailSet::WriteMetrics(MetricsText& m) const {
  const TailCounters c = counters();
  auto d = [](uint64_t n) { return static_cast<double>(n); };
  m.Counter("ember_agent_lines_total", "Lines read from files", d(c.lines));
  m.Counter("ember_agent_bytes_read_total", "Bytes read from files", d(c.bytes));
  m.Counter("ember_agent_truncated_lines_total",
            "Lines longer than max_line_bytes, cut there (the rest skipped)", d(c.truncated_lines));
  m.Counter("ember_agent_file_truncations_total",
            "Files found truncated or refilled in place (copytruncate), read again from 0",
            d(c.truncations));
  m.Counter("ember_agent_rewinds_total", "Streams read again from the acknowledged offset",
            d(c.rewinds));
  m.Counter("ember_agent_refused_offsets_total",
            "ACK, NACK or WELCOME offsets refused: beyond what was sent, or going backwards",
            d(c.refused_offsets));
  m.Counter("ember_agent_restreams_total",
            "Files continued as a new stream because the aggregator's mark was beyond them",
            d(c.restreams));
  m.Gauge("ember_agent_files_tailed", "Files followed by their name", d(active_.size()));
  m.Gauge("ember_agent_files_draining", "Rotated or deleted files read to their end",
          d(draining_.size()));
  m.Gauge("ember_agent_files_unreadable", "Matched files that cannot be tailed",
          d(unreadable_.size()));
  m.Gauge("ember_agent_files_ignored_older", "Files skipped by ignore_older", d(ignored_.size()));
  m.Counter("ember_agent_files_lost_while_closed_total",
            "Idle files closed for the fd budget that were gone when reopened",
            d(lost_while_closed_));
  m.Gauge("ember_agent_open_fds", "File descriptors held for log files", d(OpenFds()));
  m.Gauge("ember_agent_unacked_bytes", "Bytes read and not yet acknowledged", d(UnackedBytes()));
  m.Family("ember_agent_file_unacked_bytes", "gauge",
           "Per file: bytes read and not yet acknowledged");
  auto file = [&](const FileTailer& t) {
    m.Sample("ember_agent_file_unacked_bytes", d(t.unacked_bytes()),
             {{"path", t.path()}, {"stream", std::to_string(t.stream_id())}});
  };
  for (const auto& [path, t] : active_) file(*t);
  for (const auto& dr : draining_) file(*dr.tailer);
  m.Family("ember_agent_file_lines_total", "counter", "Per file: lines read");
  for (const auto& [path, t] : active_) {
    m.Sample("ember_agent_file_lines_total", d(t->counters().lines),
             {{"path", t->path()}, {"stream", std::to_string(t->stream_id())}});
  }
}

TailCounters TailSet::counters() const {
  TailCounters total = closed_counters_;
  for (const auto& [path, t] : active_) AddCounters(total, t->counters());
  for (const auto& d : draining_) AddCounters(total, d.tailer->counters());
  return total;
}

}  // namespace ember::agent
