// CheckpointStore: the engine's state in the aggregator's LMDB environment. One Commit is one
// durable write transaction holding the batch watermark, the changed per-batch partials, the
// changed per-key alert states and the stream offsets consumed, so they can never disagree.
// Not thread-safe: owned by the pipeline thread (a read-only instance may live elsewhere).
//
// Layout (schema 5; THE KEYS AND VALUES ARE PERSISTED: change them only with a new schema,
// and a store of another schema is refused with a message, never read or overwritten; a
// store of schema 4, the same with a partial per batch, is stamped schema 5 on recovery and
// its batches merged into slides; one of schema 3, also without partitions, is rewritten as
// schema 5 on recovery):
//   meta      "schema" -> "5", "app" -> "ember-aggregator", "batch_interval_ms" -> decimal,
//             "partitions" -> decimal key groups (engine/partitioning.h), fixed at creation,
//             "closed_until" -> decimal batch index, "digest/<rule>" -> rule digest,
//             "next_alert_seq" -> decimal, "next_segment" -> decimal,
//             "status" -> JSON (agents, counters; what `ember status` shows)
//   segments  <rule> 0x00 <batch: u64 BE> <partition: u16 BE> <segment: u64 BE> -> the
//             partials of one slide of the rule (keyed by its first batch) and partition that
//             one commit changed, one B-tree insert for all of them; a later segment's partial
//             of a key replaces an earlier one's. "\0Sv4" <n: u32 LE>, the segment's origins
//             (host, file, sending agent) once, then n compact records of varints (bytes:
//             engine/segment_codec.cc). Schema 4 stored a partial per batch ("\0Sv3"
//             segments); such segments are read in any store, their batches merged into
//             their slides on recovery and rewritten by the next checkpoint.
//   keystate  <rule> 0x00 <key> -> "\0Kv2" <phase|flapping: u8> <first_end_batch> <active_since>
//             <clear_since> <last_notified> <first_seen> <last_seen> (i64 LE each)
//             <alert id: u8 length + bytes> <flap starts: u64 LE count + i64 LE each>
//             "watermark_ms" -> decimal (the aggregator's watermark at the commit)
//   offsets   <agent> 0x00 <stream id, decimal> -> decimal offset consumed
//   progress  <agent> 0x00 <stream id, decimal> -> decimal position in event time (Unix ms)
//             '\n' the stream's file path
//   outbox    <seq: u64 big-endian> -> alert JSON, committed with the state that raised it
//   history   <seq: u64 big-endian> -> alert JSON, delivered to every sink (last 10000)
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "common/status.h"
#include "engine/engine.h"

namespace ember {
class KvStore;
class KvWriter;
}  // namespace ember

namespace ember::engine {

struct CheckpointStoreOptions {
  std::string dir;         // the aggregator's state directory
  bool sync = true;        // fsync each commit (durability); false only in tests and benches
  bool read_only = false;  // for the CLI beside a running aggregator
  // The engine's key groups: a store created with another count is refused (the keys' groups
  // would not match); 0 takes what the store says (read-only readers).
  uint32_t partitions = 0;
};

// Where a stream stands in event time (aggregator/source_watermarks.h), as checkpointed.
struct StreamPosition {
  int64_t position_ms = INT64_MIN;  // INT64_MIN: none yet
  std::string agent;
  std::string path;
  bool operator==(const StreamPosition&) const = default;
};
struct SourcePositions {
  int64_t watermark_ms = INT64_MIN;               // INT64_MIN: none yet
  std::map<std::string, StreamPosition> streams;  // by "<agent>\0<stream id>": changed ones
  std::set<std::string> forgotten;  // streams expired: their offsets and progress are deleted
};

struct Snapshot {
  bool empty = true;  // no checkpoint was ever committed
  int64_t closed_until = 0;
  std::vector<KeyStateRecord> key_states;
  std::map<std::string, uint64_t> offsets;  // "<agent>\0<stream id>" -> offset
  SourcePositions sources;
  std::vector<std::string> reset_rules;  // rules whose stored state was discarded
};

class CheckpointStore {
 public:
  // Errors: IOError (cannot open), Corruption (a foreign environment, or one of another
  // schema: refused with the path and what to do, never overwritten).
  static Result<std::unique_ptr<CheckpointStore>> Open(const CheckpointStoreOptions& options);
  ~CheckpointStore();

  // Reads the last checkpoint for `rules`. Stored state of rules that changed (digest) or
  // vanished is deleted and named in reset_rules; a changed batch interval discards all state.
  // The partials are given to `partials` as they are decoded (Engine::restore_sink(): no copy
  // of the whole state in memory), a later partial of a key in a batch replacing an earlier.
  // Errors: Corruption naming the record that cannot be read (never skipped silently).
  Result<Snapshot> Recover(const rules::RuleSet& rules, int64_t batch_interval_ms,
                           PartialSink& partials);

  // Records the rules' digests, the batch interval and the partition count the coming commits
  // are made with. Call after Recover, before the first Commit.
  Status Stamp(const rules::RuleSet& rules, int64_t batch_interval_ms);

  // Writes the deltas (oldest first: several when earlier commits failed, e.g. on a full
  // disk), the offsets and the alerts they raised (into the outbox) in one durable
  // transaction. REQUIRES: deltas not empty. `crash_point` (tests) names a CrashPoint between
  // the commit and its sync.
  // `sources`: the watermark and the stream positions that changed, and the streams to
  // forget (null: not written).
  // `delivered`: outbox alerts every sink has taken, moved to the history in the same
  // transaction (as MarkDelivered). The alerts get sequence numbers from next_alert_seq() on.
  Status Commit(const std::vector<CheckpointDelta>& deltas,
                const std::map<std::string, uint64_t>& offsets, const std::vector<Alert>& alerts,
                const std::string& status_json = "", const char* crash_point = nullptr,
                const SourcePositions* sources = nullptr,
                const std::vector<uint64_t>& delivered = {});
  uint64_t next_alert_seq() const { return next_alert_seq_; }

  // The aggregator's status as of the last commit (JSON written by the daemon), for
  // `ember status`. NotFound before the first commit that carried one.
  Result<std::string> StatusJson() const;
  // The key groups the store was created with (0: a new store).
  uint32_t stored_partitions() const;

  // Alerts committed but not yet delivered, oldest first, with their sequence numbers.
  Result<std::vector<std::pair<uint64_t, Alert>>> Outbox() const;
  // Moves delivered alerts from the outbox to the history (one transaction).
  Status MarkDelivered(const std::vector<uint64_t>& seqs);
  // The last `limit` delivered alerts, oldest first.
  Result<std::vector<Alert>> History(size_t limit) const;
  // The last `limit` alerts committed, delivered or not (history and outbox), in the order
  // they were raised.
  Result<std::vector<Alert>> Raised(size_t limit) const;

 private:
  explicit CheckpointStore(std::unique_ptr<KvStore> kv);
  Status CheckSchema();
  // Gives `sink` the partials stored in segments, in order (a later segment's partial of a
  // key replaces an earlier one's of the same batch), for the rules in `valid_rules`.
  Status RecoverSegments(const std::set<std::string>& valid_rules, PartialSink& sink) const;
  // Rewrites the segments of a store of the schema before partitions (one per batch and
  // commit) as one per batch, partition and commit, and stamps the store schema 4, in one
  // transaction.
  Status SplitIntoPartitions(const rules::RuleSet& rules);
  // Moves the outbox alerts `seqs` to the history (those not in the outbox: nothing).
  static Status MoveToHistory(KvWriter& w, const std::vector<uint64_t>& seqs);
  // Writes one delta; segments are numbered from *segment on.
  Status WriteDelta(KvWriter& w, const CheckpointDelta& delta, uint64_t* segment);
  std::unique_ptr<KvStore> kv_;
  uint32_t partitions_ = 0;
  bool partitionless_ = false;  // a store of schema 3, before partitions
  bool per_batch_ = false;      // a store of schema 4, a partial per batch
  bool read_only_ = false;
  uint64_t next_alert_seq_ = 1;
  uint64_t next_segment_ = 1;
  std::string segment_buffer_;  // reused by every commit: a segment is encoded here
};

}  // namespace ember::engine
