// TailSet: the files an agent tails. Expands the configured globs, opens new files, follows
// rename rotation (the old file is read to its end before it is closed), truncation in place
// (read again from byte 0 as a new stream) and deletion (read to the end, then closed), and
// reads the files in turn so one busy file cannot starve the others. A rotated or deleted file
// stays open until it was read to its end and the aggregator acknowledged all of it.
// Not thread-safe; owned by the agent's io_context thread.
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "agent/agent_config.h"
#include "agent/file_tailer.h"
#include "common/log_limiter.h"
#include "common/metrics.h"
#include "common/wire.h"

namespace ember::agent {

// Directory levels `**` searches below a glob's fixed prefix.
inline constexpr int kMaxGlobDepth = 16;
// Directories under `**` globs watched for new files (beyond, new files there are found at
// the next rescan).
inline constexpr size_t kMaxWatchedGlobDirs = 4096;

class TailSet {
 public:
  // `options` and `store` must outlive the TailSet.
  TailSet(const TailOptions& options, FrameContext context, OffsetStore& store);

  // Expands the globs again: opens files that appeared and lets go of paths that vanished.
  // The first call applies read_from to files already there; later ones read new files from
  // their beginning.
  // Returns whether some matching files wait for an fd (every open file was busy): call
  // again soon.
  bool Rescan(int64_t now_ms);

  // Reads from every file in turn, one chunk per file per round, until `max_frames` frames
  // are ready, `max_bytes` were read (flow-control credit) or no file has data. Appends the
  // frames to *frames.
  // `check_files`: look for rotation, truncation and growth of idle (closed) files first (a
  // stat per file; the agent does it on file system events and every poll interval).
  // Returns whether a file may have more to read (a limit stopped the reading, not the end
  // of every file).
  bool Poll(int64_t now_ms, size_t max_frames, std::vector<std::string>* frames,
            size_t max_bytes = SIZE_MAX, bool check_files = true);
  // The directories to watch for changes: each glob's wildcard-free base, every directory a
  // `**` glob searched (up to kMaxWatchedGlobDirs, so a new subdirectory's files are seen at
  // once) and the directory of every open file.
  std::set<std::string> WatchDirs() const;
  // Bytes read from all files and not acknowledged yet.
  uint64_t UnackedBytes() const;
  // Bytes put in frames and not acknowledged yet: what counts against the credit.
  uint64_t InFlightBytes() const;

  // Acknowledgement and resend request for one stream (unknown streams are ignored). Offsets
  // a stream refuses are counted and logged (rate-limited).
  void OnAck(uint64_t stream_id, uint64_t offset, int64_t now_ms);
  void OnNack(uint64_t stream_id, uint64_t offset, int64_t now_ms);
  // Resends from the acknowledged offset for streams whose acknowledgements stopped coming.
  void CheckAckTimeouts(int64_t now_ms, int64_t timeout_ms);
  // Where each open stream stands for a HEARTBEAT: read to its end (nothing held back, all of
  // it in frames) or with more to read, at the offset sent so far. `changed_only`: only the
  // streams whose offset or state changed since the last call.
  void Positions(bool changed_only, std::vector<wire::AckEntry>* at_end,
                 std::vector<wire::AckEntry>* behind);
  // Every open stream with its acknowledged offset (for HELLO).
  std::vector<wire::AckEntry> Streams() const;
  // A new session: each stream continues from the aggregator's mark in `marks`, or from its
  // acknowledged offset when the aggregator does not know it.
  void Resync(const std::vector<wire::AckEntry>& marks, int64_t now_ms);
  // Everything read so far has been acknowledged (graceful stop).
  bool AllAcked() const;

  // Per file (state, offsets, counters of skips, truncations and resets) and what could not
  // be tailed, as JSON for `ember-agent --status`.
  std::string StatusJson() const;
  // Totals and per-file series for /metrics.
  void WriteMetrics(MetricsText& out) const;
  size_t open_files() const { return active_.size() + draining_.size(); }
  size_t open_fds() const { return OpenFds(); }
  // Frees the read buffer (read_chunk_bytes) while nothing is being read; the next read
  // allocates it again.
  void ReleaseReadBuffer() { std::string().swap(read_buffer_); }
  TailCounters counters() const;

 private:
  void CheckRotation(int64_t now_ms, std::vector<std::string>* frames);
  // At the first scan: streams of the state whose file is not open under its old name were
  // rotated away while the agent was stopped. Each is looked for (by device, inode and
  // fingerprint) in the directory it was in and, with bytes not yet acknowledged, read to
  // its end like any rotated file; streams whose file is gone are forgotten (logged).
  void ResumeRotatedAway(int64_t now_ms);
  // A rotated file being read to its end that a glob now matches under `path` becomes an
  // active file again (instead of a second reader of the same stream). True if it did.
  bool Readopt(const std::string& path, const FileIdentity& id);
  FileTailer* FindStream(uint64_t stream_id);
  void LogRefusal(const Status& refusal, int64_t now_ms);
  // Calls fn(FileTailer&) for every open file, active and draining.
  template <typename Fn>
  void ForEachTailer(Fn&& fn) const {
    for (const auto& [path, t] : active_) fn(*t);
    for (const auto& d : draining_) fn(*d.tailer);
  }
  void Detach(const std::string& path, int64_t now_ms);
  bool Excluded(const std::string& path) const;
  // Open file descriptors (tailers not suspended).
  size_t OpenFds() const;
  // Suspends idle files (least recently written first; never `keep`) until opening one more
  // stays within max_open_files. False if every open file is busy.
  bool MakeRoom(const FileTailer* keep);

  struct Draining {
    std::unique_ptr<FileTailer> tailer;
    int64_t last_data_ms;
  };

  const TailOptions& options_;
  FrameContext context_;
  OffsetStore& store_;
  bool initial_scan_done_ = false;
  std::map<std::string, std::unique_ptr<FileTailer>> active_;  // by path
  std::vector<Draining> draining_;  // rotated or deleted, still being read to the end
  std::map<std::string, std::string>
      tags_;                       // path -> input tag (tagged paths only), as of the last rescan
  std::set<std::string> ignored_;  // skipped by ignore_older (logged once)
  std::set<std::string> glob_warnings_;            // globs whose depth limit or repeats were logged
  std::set<std::string> glob_dirs_;                // searched by `**` globs at the last rescan
  TailCounters closed_counters_;                   // of tailers already closed
  std::string read_buffer_;                        // one read buffer for all files
  std::set<FileTailer*> wake_;                     // suspended files that changed: reopen them
  std::map<std::string, std::string> unreadable_;  // path -> why it cannot be opened
  uint64_t lost_while_closed_ = 0;
  // What the last Positions() said of each stream: offset, read to its end.
  std::map<uint64_t, std::pair<uint64_t, bool>> reported_;
  LogLimiter refusal_log_;
};

}  // namespace ember::agent
