// OffsetStore: what the agent must remember across restarts, one record per stream (one file
// identity): its id, where it was found, a fingerprint of its first bytes, and the offset the
// aggregator has acknowledged as durable. Kept in <state_dir>/offsets.json, replaced
// atomically (write, fsync, rename, fsync the directory), so a crash leaves the old or the
// new file, never a torn one. Not thread-safe; owned by the agent's io_context thread.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "common/status.h"

namespace ember::agent {

struct StreamRecord {
  uint64_t stream_id = 0;
  std::string path;  // where the file was last seen
  uint64_t dev = 0;
  uint64_t ino = 0;
  uint64_t fingerprint = 0;  // hash of the first fingerprint_bytes bytes
  uint64_t fingerprint_bytes = 0;
  uint64_t acked_offset = 0;      // every byte below this is durable at the aggregator
  uint64_t origin_offset = 0;     // where the stream began (0, or the size at first sight)
  uint64_t fingerprint_skip = 0;  // header bytes skipped before the fingerprinted ones
  // A journal input's stream: the journal it reads ("" for a file's stream), and the cursor
  // of the entry that ends at acked_offset ("" before the first: start where the input
  // started). Its offsets count the bytes of the lines sent, as if the entries were a file.
  std::string journal = {};
  std::string cursor = {};
};

class OffsetStore {
 public:
  // Loads <dir>/offsets.json if present (creating `dir` if needed). Errors: IOError when the
  // directory cannot be created; Corruption (naming the file) when the file is unreadable —
  // it is never overwritten then.
  static Result<std::unique_ptr<OffsetStore>> Open(const std::string& dir);

  // Replaces the epoch and records with those of `text`, the content of an offsets file at
  // `path` (named in errors). Corruption for anything that is not one; the store may then hold
  // part of it. Open uses it; the fuzz target drives it.
  Status Read(const std::string& text, const std::string& path);

  // An empty store for `dir` that saves nothing until Put or Ack (tests and fuzzing).
  static std::unique_ptr<OffsetStore> Empty(const std::string& dir) {
    return std::unique_ptr<OffsetStore>(new OffsetStore(dir));
  }

  // The record of the stream of the journal `journal`, if any.
  const StreamRecord* FindJournal(const std::string& journal) const;
  // The record of the stream with this device and inode, if any (files only).
  const StreamRecord* FindByInode(uint64_t dev, uint64_t ino) const;
  const StreamRecord* Find(uint64_t stream_id) const;

  // Adds or replaces a record; marks the store dirty. A stream that replaces another with the
  // same device and inode (the file was replaced, the inode reused) drops the old record.
  void Put(const StreamRecord& record);
  // Records an acknowledgement; ignored for unknown streams or offsets that go backwards.
  // `cursor`: a journal stream's cursor at `offset`.
  void Ack(uint64_t stream_id, uint64_t offset, const std::string* cursor = nullptr);
  // Forgets a stream (its file was read to the end, acknowledged and closed).
  void Remove(uint64_t stream_id);

  // The offsets file, for messages.
  std::string file_path() const { return dir_ + "/offsets.json"; }
  // This agent's epoch: a random id made when the state directory was (re)created.
  uint64_t epoch() const { return epoch_; }

  bool dirty() const { return dirty_; }
  // Writes the file if anything changed since the last Flush.
  Status Flush();
  size_t size() const { return records_.size(); }
  // Every record, by stream id.
  std::vector<StreamRecord> records() const {
    std::vector<StreamRecord> out;
    for (const auto& [id, r] : records_) out.push_back(r);
    return out;
  }

 private:
  explicit OffsetStore(std::string dir) : dir_(std::move(dir)) {}
  std::string dir_;
  std::map<uint64_t, StreamRecord> records_;  // by stream id
  bool dirty_ = false;
  uint64_t epoch_ = 0;
};

// A new random stream id (never 0).
uint64_t NewStreamId();

// Bytes of a file's start (after the skipped header) that identify it beside its device and
// inode.
inline constexpr uint64_t kFingerprintBytes = 1024;

// Hash of the `bytes` bytes (at most kFingerprintBytes) of the open file `fd` that follow its
// first `skip` bytes (fewer if the file is shorter; the count read goes to *bytes_read).
uint64_t FingerprintFile(int fd, uint64_t skip, uint64_t bytes, uint64_t* bytes_read);
// Fills r's fingerprint fields from the open file `fd`.
void TakeFingerprint(int fd, uint64_t skip, StreamRecord* r);
// Whether the open file `fd` starts (after r's skipped header) with r's fingerprinted bytes.
bool MatchesFingerprint(int fd, const StreamRecord& r);

}  // namespace ember::agent
