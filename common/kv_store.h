// KvStore: RAII over one LMDB environment with named databases. The ONLY file that includes
// <lmdb.h>. Writes are all-or-nothing: a write function runs inside one write transaction,
// and a full map is grown and the function run again. Commits are durable (fsync) unless
// KvStoreOptions::sync is false. Thread-safe for readers; one writer at a time (LMDB's rule).
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"

namespace ember {

struct KvStoreOptions {
  std::string dir;                         // created if missing; holds data.mdb and lock.mdb
  std::vector<std::string> databases;      // named databases, created on open unless read_only
  int64_t initial_map_bytes = 64LL << 20;  // map size; doubled on MDB_MAP_FULL
  bool read_only = false;                  // for the `ember` CLI beside a live aggregator
  bool sync = true;                        // fsync every commit; false only for tests/benches
};

// The write side of one transaction. Valid only inside KvStore::Write's function.
class KvWriter {
 public:
  virtual ~KvWriter() = default;
  virtual Status Put(std::string_view db, std::string_view key, std::string_view value) = 0;
  // Deleting an absent key is not an error.
  virtual Status Delete(std::string_view db, std::string_view key) = 0;
  // Reads inside the transaction (sees its own writes). NotFound if absent.
  virtual Result<std::string> Get(std::string_view db, std::string_view key) = 0;
  // Deletes every key that starts with `prefix`.
  virtual Status DeletePrefix(std::string_view db, std::string_view prefix) = 0;
};

class KvStore {
 public:
  // Errors: IOError naming the directory and LMDB's message.
  static Result<std::unique_ptr<KvStore>> Open(const KvStoreOptions& options);
  ~KvStore();
  KvStore(const KvStore&) = delete;
  KvStore& operator=(const KvStore&) = delete;

  // Runs `fn` in one write transaction and commits it if fn returns OK; aborts otherwise. On
  // MDB_MAP_FULL the map is doubled and fn runs again from scratch, so fn must only write.
  // `crash_point` (tests) names a CrashPoint between the commit and its sync.
  Status Write(const std::function<Status(KvWriter&)>& fn, const char* crash_point = nullptr);

  // NotFound if the key is absent.
  Result<std::string> Get(std::string_view db, std::string_view key) const;
  // Calls fn(key, value) for every key starting with `prefix`, in key order, in one read
  // transaction. The views are valid only during the call.
  Status Scan(std::string_view db, std::string_view prefix,
              const std::function<void(std::string_view, std::string_view)>& fn) const;

  // Number of keys in `db` (LMDB keeps it: no scan), e.g. to size a vector before a Scan.
  Result<uint64_t> Count(std::string_view db) const;

  int64_t map_bytes() const;

  struct Impl;  // defined in kv_store.cc only

 private:
  explicit KvStore(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace ember
