#include "engine/checkpoint_store.h"

#include <algorithm>
#include <charconv>
#include <cstring>
#include <set>
#include <unordered_map>

#include "common/byte_order.h"
#include "common/kv_store.h"
#include "engine/interned.h"
#include "engine/partitioning.h"
#include "engine/segment_codec.h"

namespace ember::engine {
namespace {

constexpr const char* kSchema = "5";
// The schema before windows kept slides: a partial per batch ("\0Sv3" segments). Read (the
// engine merges the batches into their slides), and stamped schema 5 by the first writer that
// recovers it, whose checkpoints then rewrite them.
constexpr const char* kPerBatchSchema = "4";
// The schema before key groups: its segments are <rule> 0x00 <batch> <segment>, one per
// batch and commit. Read, and rewritten as schema 5 by the first writer that recovers it.
constexpr const char* kPartitionlessSchema = "3";
constexpr const char* kApp = "ember-aggregator";

void PutU64Le(std::string& out, uint64_t v) { PutLe(out, v); }

std::string RulePrefix(const std::string& rule) { return rule + '\0'; }

// A segment key's partition: u16 big-endian.
void PutPartition(std::string& out, uint32_t partition) {
  out.push_back(static_cast<char>(partition >> 8));
  out.push_back(static_cast<char>(partition & 0xff));
}

// Key states: the first format held only firing keys as <first_end_batch: i64 LE><alert id>
// (24 bytes). Now: a marker, the phase, the batch fields, the id, the flap starts, the late
// windows pending.
constexpr std::string_view kKeyStateMarker("\0Kv3", 4);

std::string EncodeKeyState(const KeyState& k) {
  std::string out(kKeyStateMarker);
  out.push_back(static_cast<char>(static_cast<uint8_t>(k.phase) | (k.flapping ? 0x80 : 0)));
  for (int64_t v : {k.first_end_batch, k.active_since, k.clear_since, k.last_notified, k.first_seen,
                    k.last_seen}) {
    PutU64Le(out, static_cast<uint64_t>(v));
  }
  out.push_back(static_cast<char>(std::min<size_t>(k.alert_id.size(), 255)));
  out += k.alert_id.substr(0, 255);
  PutU64Le(out, k.starts.size());
  for (int64_t v : k.starts) PutU64Le(out, static_cast<uint64_t>(v));
  PutU64Le(out, k.late_pending.size());
  for (const auto& [end, before] : k.late_pending) {
    PutU64Le(out, static_cast<uint64_t>(end));
    out.push_back(before ? '\1' : '\0');
  }
  return out;
}

bool DecodeKeyState(std::string_view v, KeyState* k) {
  if (v.substr(0, 4) != kKeyStateMarker || v.size() < 4 + 1 + 48 + 1) return false;
  v.remove_prefix(4);
  const auto phase = static_cast<uint8_t>(v[0] & 0x7f);
  if (phase > static_cast<uint8_t>(KeyPhase::kFiring)) return false;
  k->phase = static_cast<KeyPhase>(phase);
  k->flapping = (v[0] & 0x80) != 0;
  v.remove_prefix(1);
  for (int64_t* f : {&k->first_end_batch, &k->active_since, &k->clear_since, &k->last_notified,
                     &k->first_seen, &k->last_seen}) {
    *f = static_cast<int64_t>(GetU64Le(v));
    v.remove_prefix(8);
  }
  const size_t id_len = static_cast<uint8_t>(v[0]);
  if (v.size() < 1 + id_len + 8) return false;
  k->alert_id.assign(v.substr(1, id_len));
  v.remove_prefix(1 + id_len);
  const uint64_t n = GetU64Le(v);
  v.remove_prefix(8);
  if (n > 4096 || v.size() < n * 8 + 8) return false;
  for (uint64_t i = 0; i < n; ++i)
    k->starts.push_back(static_cast<int64_t>(GetU64Le(v.substr(i * 8))));
  v.remove_prefix(n * 8);
  const uint64_t pending = GetU64Le(v);
  v.remove_prefix(8);
  if (pending > kMaxLatePending || v.size() != pending * 9) return false;
  for (uint64_t i = 0; i < pending; ++i) {
    const uint8_t before = static_cast<uint8_t>(v[i * 9 + 8]);
    if (before > 1) return false;
    const auto end = static_cast<int64_t>(GetU64Le(v.substr(i * 9)));
    if (!k->late_pending.empty() && end <= k->late_pending.back().first) return false;  // sorted
    k->late_pending.emplace_back(end, before == 1);
  }
  return true;
}

bool ParseInt(std::string_view s, int64_t* out) {
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), *out);
  return ec == std::errc() && p == s.data() + s.size();
}

}  // namespace

CheckpointStore::CheckpointStore(std::unique_ptr<KvStore> kv) : kv_(std::move(kv)) {}
CheckpointStore::~CheckpointStore() = default;

Result<std::unique_ptr<CheckpointStore>> CheckpointStore::Open(
    const CheckpointStoreOptions& options) {
  KvStoreOptions kv_options;
  kv_options.dir = options.dir;
  kv_options.databases = {"meta",   "segments", "keystate", "offsets",
                          "outbox", "history",  "progress"};
  kv_options.sync = options.sync;
  kv_options.read_only = options.read_only;
  Result<std::unique_ptr<KvStore>> kv = KvStore::Open(kv_options);
  if (!kv.ok()) return kv.status();
  std::unique_ptr<CheckpointStore> store(new CheckpointStore(std::move(*kv)));
  Status s = store->CheckSchema();
  if (!s.ok()) return s;
  const uint32_t stored = store->stored_partitions();
  if (options.partitions != 0 && stored != 0 && stored != options.partitions) {
    return Status::InvalidArgument(
        "the state in '" + options.dir + "' is kept in " + std::to_string(stored) +
        " partitions, the configuration says " + std::to_string(options.partitions) +
        ": set partitions: " + std::to_string(stored) +
        " (the count is fixed when the state is created), or start with --reset-state to "
        "move this state aside and begin anew");
  }
  store->partitions_ = options.partitions != 0 ? options.partitions : stored;
  if (store->partitionless_ && !options.read_only && store->partitions_ == 0) {
    return Status::InvalidArgument("the state in '" + options.dir +
                                   "' predates partitions: open it with a partition count");
  }
  store->read_only_ = options.read_only;
  if (auto seq = store->kv_->Get("meta", "next_alert_seq"); seq.ok()) {
    int64_t v = 0;
    if (ParseInt(*seq, &v) && v > 0) store->next_alert_seq_ = static_cast<uint64_t>(v);
  }
  if (auto seg = store->kv_->Get("meta", "next_segment"); seg.ok()) {
    int64_t v = 0;
    if (ParseInt(*seg, &v) && v > 0) store->next_segment_ = static_cast<uint64_t>(v);
  }
  return store;
}

Status CheckpointStore::CheckSchema() {
  Result<std::string> app = kv_->Get("meta", "app");
  Result<std::string> schema = kv_->Get("meta", "schema");
  if (!app.ok() && !schema.ok()) {
    bool has_data = false;
    for (const char* db : {"segments", "keystate", "offsets"}) {
      Status s = kv_->Scan(db, "", [&](std::string_view, std::string_view) { has_data = true; });
      if (!s.ok()) return s;
    }
    if (has_data) {
      return Status::Corruption(
          "the state directory holds data without an ember schema: "
          "refusing to use or overwrite it");
    }
    return Status::Ok();  // a new environment; the first Commit stamps it
  }
  if (!app.ok() || *app != kApp) {
    return Status::Corruption("the state directory belongs to '" +
                              (app.ok() ? *app : std::string("?")) +
                              "', not ember-aggregator: refusing to use or overwrite it");
  }
  if (schema.ok() && *schema == kPartitionlessSchema) {
    partitionless_ = true;  // read as it is; Recover rewrites its segments by partition
    return Status::Ok();
  }
  if (schema.ok() && *schema == kPerBatchSchema) {
    per_batch_ = true;  // read as it is; Recover stamps it schema 5
    return Status::Ok();
  }
  if (!schema.ok() || *schema != kSchema) {
    return Status::Corruption(
        "checkpoint schema '" + (schema.ok() ? *schema : "?") + "' is not schema " + kSchema +
        " (nor 4 or 3, which this build upgrades): refusing to use or overwrite it. Move the "
        "state directory aside and start again (agents then send their streams again from the "
        "start; window state and alert history start empty)");
  }
  return Status::Ok();
}

Status CheckpointStore::SplitIntoPartitions(const rules::RuleSet& rules) {
  // Read every segment first (a scan is a read transaction), then rewrite them in one write.
  std::vector<std::pair<std::string, std::string>> old;
  Status s = kv_->Scan("segments", "", [&](std::string_view k, std::string_view v) {
    old.emplace_back(std::string(k), std::string(v));
  });
  if (!s.ok()) return s;
  s = kv_->Write([&](KvWriter& w) -> Status {
    for (const auto& [k, v] : old) {
      const size_t nul = k.find('\0');
      if (nul == std::string::npos || k.size() != nul + 17) {
        return Status::Corruption("checkpoint store: a segment key of " + std::to_string(k.size()) +
                                  " bytes is not <rule> 0x00 <batch> <segment>");
      }
      const std::string rule_name = k.substr(0, nul);
      const int index = rules.Find(rule_name);
      if (Status e = w.Delete("segments", k); !e.ok()) return e;
      if (index < 0) continue;  // a rule no longer loaded: its state goes
      const rules::Rule& rule = rules.rules()[static_cast<size_t>(index)];
      const bool whole = RuleLivesWhole(rule, partitions_);
      const uint64_t seed = RuleSeed(rule.name);
      const std::string_view view(k);
      const auto batch = static_cast<int64_t>(GetU64BigEndian(view.substr(nul + 1, 8)));
      std::map<uint32_t, std::vector<PartialRecord>> by_partition;
      if (!DecodeSegment(v, [&](std::string_view key, Partial&& partial) {
            const uint32_t p = PartitionOf(seed, key, whole, partitions_);
            by_partition[p].push_back(
                PartialRecord{rule_name, batch, std::string(key), false, std::move(partial), p});
          })) {
        return Status::Corruption("checkpoint store: the segment " +
                                  std::to_string(GetU64BigEndian(view.substr(nul + 9, 8))) +
                                  " of rule '" + rule_name + "', batch " + std::to_string(batch) +
                                  " (" + std::to_string(v.size()) +
                                  " bytes) is truncated or malformed");
      }
      for (const auto& [p, records] : by_partition) {
        std::string key = k.substr(0, nul + 9);  // <rule> 0x00 <batch>
        PutPartition(key, p);
        key.append(k, nul + 9, 8);  // the same segment number: the same order
        EncodeSegment(records, &segment_buffer_);
        if (Status e = w.Put("segments", key, segment_buffer_); !e.ok()) return e;
      }
    }
    Status e = w.Put("meta", "schema", kSchema);
    if (e.ok()) e = w.Put("meta", "partitions", std::to_string(partitions_));
    return e;
  });
  if (!s.ok()) return s;
  partitionless_ = false;
  return Status::Ok();
}

uint32_t CheckpointStore::stored_partitions() const {
  Result<std::string> v = kv_->Get("meta", "partitions");
  int64_t n = 0;
  if (!v.ok() || !ParseInt(*v, &n) || n < 1 || n > kMaxPartitions) return 0;
  return static_cast<uint32_t>(n);
}

Status CheckpointStore::RecoverSegments(const std::set<std::string>& valid_rules,
                                        PartialSink& sink) const {
  std::string rule;
  bool valid = false;
  std::string fault;
  Status s = kv_->Scan("segments", "", [&](std::string_view k, std::string_view v) {
    if (!fault.empty()) return;
    const size_t nul = k.find('\0');
    const size_t tail = partitionless_ ? 16 : 18;  // batch, (partition,) segment
    if (nul == std::string_view::npos || k.size() != nul + 1 + tail) {
      fault = "a segment key of " + std::to_string(k.size()) + " bytes is not <rule> 0x00 " +
              (partitionless_ ? "<batch> <segment>" : "<batch> <partition> <segment>");
      return;
    }
    if (k.substr(0, nul) != rule) {
      rule.assign(k.substr(0, nul));
      valid = valid_rules.count(rule) > 0;
    }
    if (!valid) return;
    const auto batch = static_cast<int64_t>(GetU64BigEndian(k.substr(nul + 1, 8)));
    const uint32_t partition = partitionless_ ? 0
                                              : static_cast<uint8_t>(k[nul + 9]) * 256u +
                                                    static_cast<uint8_t>(k[nul + 10]);
    sink.Reserve(rule, batch, partition, SegmentRecordCount(v));
    if (!DecodeSegment(v, [&](std::string_view key, Partial&& partial) {
          sink.Add(rule, batch, key, partial);
        })) {
      fault = "the segment " + std::to_string(GetU64BigEndian(k.substr(k.size() - 8, 8))) +
              " of rule '" + rule + "', batch " + std::to_string(batch) + " (" +
              std::to_string(v.size()) + " bytes) is truncated or malformed";
    }
  });
  if (!s.ok()) return s;
  if (!fault.empty()) return Status::Corruption("checkpoint store: " + fault);
  return Status::Ok();
}

Result<Snapshot> CheckpointStore::Recover(const rules::RuleSet& rules, int64_t batch_interval_ms,
                                          PartialSink& partials) {
  Snapshot snap;
  Result<std::string> closed = kv_->Get("meta", "closed_until");
  if (!closed.ok()) return snap;  // never committed
  int64_t stored_interval = 0;
  Result<std::string> interval = kv_->Get("meta", "batch_interval_ms");
  if (!ParseInt(*closed, &snap.closed_until) || !interval.ok() ||
      !ParseInt(*interval, &stored_interval)) {
    return Status::Corruption("checkpoint meta data is unreadable");
  }

  // Which rules' state is still valid?
  std::set<std::string> valid;
  std::set<std::string> stored_rules;
  Status s = kv_->Scan("meta", "digest/", [&](std::string_view k, std::string_view v) {
    std::string name(k.substr(7));
    stored_rules.insert(name);
    int index = rules.Find(name);
    if (stored_interval == batch_interval_ms && index >= 0 &&
        rules.rules()[static_cast<size_t>(index)].digest == v) {
      valid.insert(name);
    }
  });
  if (!s.ok()) return s;
  for (const auto& name : stored_rules) {
    if (!valid.count(name)) snap.reset_rules.push_back(name);
  }
  if (!snap.reset_rules.empty()) {
    s = kv_->Write([&](KvWriter& w) -> Status {
      for (const auto& name : snap.reset_rules) {
        if (Status e = w.DeletePrefix("segments", RulePrefix(name)); !e.ok()) return e;
        if (Status e = w.DeletePrefix("keystate", RulePrefix(name)); !e.ok()) return e;
        if (Status e = w.Delete("meta", "digest/" + name); !e.ok()) return e;
      }
      return Status::Ok();
    });
    if (!s.ok()) return s;
  }
  if (partitionless_ && !read_only_) {
    s = SplitIntoPartitions(rules);  // stamps schema 5
    if (!s.ok()) return s;
  } else if (per_batch_ && !read_only_) {
    // Its batches are merged into slides as they are recovered, on every recovery until a
    // checkpoint rewrote them: an older build must not read the slides written from now on.
    s = kv_->Write([&](KvWriter& w) { return w.Put("meta", "schema", kSchema); });
    if (!s.ok()) return s;
    per_batch_ = false;
  }
  if (stored_interval != batch_interval_ms) {
    // Batch indices of another interval mean other times: the stored windows are void.
    snap.closed_until = 0;
    return snap;
  }
  snap.empty = false;

  s = RecoverSegments(valid, partials);
  if (!s.ok()) return s;
  std::string fault;
  s = kv_->Scan("keystate", "", [&](std::string_view k, std::string_view v) {
    if (!fault.empty()) return;
    size_t nul = k.find('\0');
    KeyStateRecord r;
    r.rule.assign(k.substr(0, nul == std::string_view::npos ? k.size() : nul));
    if (nul != std::string_view::npos && !valid.count(r.rule)) return;
    if (nul != std::string_view::npos) r.key.assign(k.substr(nul + 1));
    if (nul == std::string_view::npos || !DecodeKeyState(v, &r.state)) {
      fault = "the alert state of rule '" + r.rule + "' (" + std::to_string(v.size()) +
              " bytes) is malformed";
      return;
    }
    snap.key_states.push_back(std::move(r));
  });
  if (!s.ok()) return s;
  s = kv_->Scan("offsets", "", [&](std::string_view k, std::string_view v) {
    if (!fault.empty()) return;
    int64_t offset = 0;
    if (!ParseInt(v, &offset) || offset < 0) {
      fault = "the mark of a stream is not a number: '" + std::string(v.substr(0, 32)) + "'";
      return;
    }
    snap.offsets[std::string(k)] = static_cast<uint64_t>(offset);
  });
  if (!s.ok()) return s;
  s = kv_->Scan("progress", "", [&](std::string_view k, std::string_view v) {
    if (!fault.empty()) return;
    const size_t nul = k.find('\0'), newline = v.find('\n');
    int64_t position = 0;
    if (nul == std::string_view::npos || newline == std::string_view::npos ||
        !ParseInt(v.substr(0, newline), &position)) {
      fault = "the event-time position of a stream is malformed: '" + std::string(v.substr(0, 32)) +
              "'";
      return;
    }
    snap.sources.streams[std::string(k)] =
        StreamPosition{position, std::string(k.substr(0, nul)), std::string(v.substr(newline + 1))};
  });
  if (!s.ok()) return s;
  if (auto w = kv_->Get("meta", "watermark_ms"); w.ok()) {
    if (!ParseInt(*w, &snap.sources.watermark_ms)) {
      fault = "the watermark is not a number: '" + w->substr(0, 32) + "'";
    }
  }
  if (!fault.empty()) return Status::Corruption("checkpoint store: " + fault);
  return snap;
}

Status CheckpointStore::Stamp(const rules::RuleSet& rules, int64_t batch_interval_ms) {
  return kv_->Write([&](KvWriter& w) -> Status {
    Status s = w.Put("meta", "app", kApp);
    if (s.ok()) s = w.Put("meta", "schema", kSchema);
    if (s.ok()) s = w.Put("meta", "batch_interval_ms", std::to_string(batch_interval_ms));
    if (s.ok() && partitions_ != 0) s = w.Put("meta", "partitions", std::to_string(partitions_));
    for (const auto& rule : rules.rules()) {
      if (s.ok()) s = w.Put("meta", "digest/" + rule.name, rule.digest);
    }
    return s;
  });
}

Status CheckpointStore::Commit(const std::vector<CheckpointDelta>& deltas,
                               const std::map<std::string, uint64_t>& offsets,
                               const std::vector<Alert>& alerts, const std::string& status_json,
                               const char* crash_point, const SourcePositions* sources,
                               const std::vector<uint64_t>& delivered) {
  const uint64_t first_seq = next_alert_seq_;
  uint64_t segment = next_segment_;
  Status committed = kv_->Write(
      [&](KvWriter& w) -> Status {
        Status s = w.Put("meta", "closed_until", std::to_string(deltas.back().closed_until));
        if (!s.ok()) return s;
        segment = next_segment_;  // from scratch when the transaction is retried
        for (const auto& delta : deltas) {
          s = WriteDelta(w, delta, &segment);
          if (!s.ok()) return s;
        }
        if (segment != next_segment_) {
          s = w.Put("meta", "next_segment", std::to_string(segment));
          if (!s.ok()) return s;
        }
        for (const auto& [stream, offset] : offsets) {
          s = w.Put("offsets", stream, std::to_string(offset));
          if (!s.ok()) return s;
        }
        if (sources != nullptr) {
          for (const auto& [stream, p] : sources->streams) {
            s = w.Put("progress", stream, std::to_string(p.position_ms) + "\n" + p.path);
            if (!s.ok()) return s;
          }
          if (sources->watermark_ms != INT64_MIN) {
            s = w.Put("meta", "watermark_ms", std::to_string(sources->watermark_ms));
            if (!s.ok()) return s;
          }
          for (const std::string& stream : sources->forgotten) {
            if (offsets.count(stream) != 0) continue;  // it came back in this very commit
            s = w.Delete("offsets", stream);
            if (s.ok()) s = w.Delete("progress", stream);
            if (!s.ok()) return s;
          }
        }
        uint64_t seq = first_seq;
        for (const auto& alert : alerts) {
          std::string key;
          PutU64BigEndian(key, seq++);
          s = w.Put("outbox", key, AlertToJson(alert));
          if (!s.ok()) return s;
        }
        if (!status_json.empty()) {
          s = w.Put("meta", "status", status_json);
          if (!s.ok()) return s;
        }
        s = MoveToHistory(w, delivered);
        if (!s.ok()) return s;
        return w.Put("meta", "next_alert_seq", std::to_string(seq));
      },
      crash_point);
  if (committed.ok()) {
    next_alert_seq_ = first_seq + alerts.size();
    next_segment_ = segment;
  }
  return committed;
}

Result<std::string> CheckpointStore::StatusJson() const { return kv_->Get("meta", "status"); }

Result<std::vector<std::pair<uint64_t, Alert>>> CheckpointStore::Outbox() const {
  std::vector<std::pair<uint64_t, Alert>> out;
  Status bad;
  Status s = kv_->Scan("outbox", "", [&](std::string_view k, std::string_view v) {
    if (k.size() != 8) return;
    Result<Alert> a = AlertFromJson(v);
    if (!a.ok()) {
      bad = Status::Corruption("outbox entry " + std::to_string(GetU64BigEndian(k)) + ": " +
                               a.status().message());
      return;
    }
    out.emplace_back(GetU64BigEndian(k), std::move(*a));
  });
  if (!s.ok()) return s;
  if (!bad.ok()) return bad;
  return out;
}

Status CheckpointStore::MarkDelivered(const std::vector<uint64_t>& seqs) {
  return kv_->Write([&](KvWriter& w) { return MoveToHistory(w, seqs); });
}

Status CheckpointStore::MoveToHistory(KvWriter& w, const std::vector<uint64_t>& seqs) {
  constexpr uint64_t kHistoryLimit = 10000;
  for (uint64_t seq : seqs) {
    std::string key;
    PutU64BigEndian(key, seq);
    Result<std::string> json = w.Get("outbox", key);
    if (!json.ok()) continue;
    Status s = w.Put("history", key, *json);
    if (s.ok()) s = w.Delete("outbox", key);
    if (s.ok() && seq > kHistoryLimit) {
      std::string old;
      PutU64BigEndian(old, seq - kHistoryLimit);
      s = w.Delete("history", old);
    }
    if (!s.ok()) return s;
  }
  return Status::Ok();
}

Result<std::vector<Alert>> CheckpointStore::Raised(size_t limit) const {
  // Both tables are keyed by sequence number (big-endian: in order).
  std::vector<std::pair<uint64_t, Alert>> all;
  for (const char* db : {"history", "outbox"}) {
    Status s = kv_->Scan(db, "", [&](std::string_view k, std::string_view v) {
      if (k.size() != 8) return;
      if (Result<Alert> a = AlertFromJson(v); a.ok()) {
        all.emplace_back(GetU64BigEndian(k), std::move(*a));
      }
    });
    if (!s.ok()) return s;
  }
  std::stable_sort(all.begin(), all.end(),
                   [](const auto& a, const auto& b) { return a.first < b.first; });
  const size_t from = all.size() > limit ? all.size() - limit : 0;
  std::vector<Alert> out;
  out.reserve(all.size() - from);
  for (size_t i = from; i < all.size(); ++i) out.push_back(std::move(all[i].second));
  return out;
}

Result<std::vector<Alert>> CheckpointStore::History(size_t limit) const {
  std::vector<Alert> all;
  Status s = kv_->Scan("history", "", [&](std::string_view, std::string_view v) {
    if (Result<Alert> a = AlertFromJson(v); a.ok()) all.push_back(std::move(*a));
  });
  if (!s.ok()) return s;
  if (all.size() > limit) all.erase(all.begin(), all.end() - static_cast<std::ptrdiff_t>(limit));
  return all;
}

Status CheckpointStore::WriteDelta(KvWriter& w, const CheckpointDelta& delta, uint64_t* segment) {
  Status s;
  std::string key;
  const auto& records = delta.partials;
  for (size_t i = 0; i < records.size();) {
    const PartialRecord& r = records[i];
    std::string prefix = RulePrefix(r.rule);
    PutU64BigEndian(prefix, static_cast<uint64_t>(r.batch));
    PutPartition(prefix, r.partition);
    if (r.erased) {
      s = w.DeletePrefix("segments", prefix);
      if (!s.ok()) return s;
      ++i;
      continue;
    }
    // The run of this rule and batch (TakeDelta emits each batch's keys together) becomes one
    // segment.
    size_t end = i;
    while (end < records.size() && !records[end].erased && records[end].batch == r.batch &&
           records[end].partition == r.partition && records[end].rule == r.rule) {
      ++end;
    }
    EncodeSegment(std::span(records).subspan(i, end - i), &segment_buffer_);
    i = end;
    key = prefix;
    PutU64BigEndian(key, (*segment)++);
    s = w.Put("segments", key, segment_buffer_);
    if (!s.ok()) return s;
  }
  for (const auto& r : delta.key_states) {
    std::string key = RulePrefix(r.rule) + r.key;
    if (r.erased) {
      s = w.Delete("keystate", key);
    } else {
      s = w.Put("keystate", key, EncodeKeyState(r.state));
    }
    if (!s.ok()) return s;
  }
  return Status::Ok();
}

}  // namespace ember::engine
