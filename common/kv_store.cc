#include "common/kv_store.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <map>
#include <set>

#include <lmdb.h>

#include "common/crash_point.h"

namespace ember {
namespace {

Status LmdbError(const std::string& what, int rc) {
  return Status::IOError(what + ": " + mdb_strerror(rc));
}

MDB_val Val(std::string_view s) { return MDB_val{s.size(), const_cast<char*>(s.data())}; }

std::string_view View(const MDB_val& v) {
  return std::string_view(static_cast<const char*>(v.mv_data), v.mv_size);
}

}  // namespace

struct KvStore::Impl {
  MDB_env* env = nullptr;
  std::map<std::string, MDB_dbi, std::less<>> dbis;
  // Named in the options but not in a read-only environment written by an older version:
  // read as empty.
  std::set<std::string, std::less<>> absent;
  std::string dir;
  int64_t map_bytes = 0;
  bool sync = false;  // flush the meta page after each commit (MDB_NOMETASYNC)

  ~Impl() {
    if (env != nullptr) mdb_env_close(env);
  }

  Result<MDB_dbi> Dbi(std::string_view name) const {
    auto it = dbis.find(name);
    if (it == dbis.end())
      return Status::InvalidArgument("unknown database '" + std::string(name) + "'");
    return it->second;
  }
};

namespace {

class LmdbWriter final : public KvWriter {
 public:
  LmdbWriter(KvStore::Impl* impl, MDB_txn* txn) : impl_(impl), txn_(txn) {}

  Status Put(std::string_view db, std::string_view key, std::string_view value) override {
    Result<MDB_dbi> dbi = impl_->Dbi(db);
    if (!dbi.ok()) return dbi.status();
    MDB_val k = Val(key), v = Val(value);
    int rc = mdb_put(txn_, *dbi, &k, &v, 0);
    if (rc != 0) {
      last_rc_ = rc;
      return LmdbError("put into '" + std::string(db) + "'", rc);
    }
    return Status::Ok();
  }

  Status Delete(std::string_view db, std::string_view key) override {
    Result<MDB_dbi> dbi = impl_->Dbi(db);
    if (!dbi.ok()) return dbi.status();
    MDB_val k = Val(key);
    int rc = mdb_del(txn_, *dbi, &k, nullptr);
    if (rc != 0 && rc != MDB_NOTFOUND) {
      last_rc_ = rc;
      return LmdbError("delete from '" + std::string(db) + "'", rc);
    }
    return Status::Ok();
  }

  Result<std::string> Get(std::string_view db, std::string_view key) override {
    Result<MDB_dbi> dbi = impl_->Dbi(db);
    if (!dbi.ok()) return dbi.status();
    MDB_val k = Val(key), v;
    int rc = mdb_get(txn_, *dbi, &k, &v);
    if (rc == MDB_NOTFOUND) return Status::NotFound("key not found");
    if (rc != 0) return LmdbError("get from '" + std::string(db) + "'", rc);
    return std::string(View(v));
  }

  Status DeletePrefix(std::string_view db, std::string_view prefix) override {
    Result<MDB_dbi> dbi = impl_->Dbi(db);
    if (!dbi.ok()) return dbi.status();
    MDB_cursor* cursor = nullptr;
    int rc = mdb_cursor_open(txn_, *dbi, &cursor);
    if (rc != 0) return LmdbError("open cursor", rc);
    MDB_val k = Val(prefix), v;
    // LMDB has no empty key to seek to: the empty prefix starts at the first key.
    const MDB_cursor_op seek = prefix.empty() ? MDB_FIRST : MDB_SET_RANGE;
    rc = mdb_cursor_get(cursor, &k, &v, seek);
    while (rc == 0 && View(k).substr(0, prefix.size()) == prefix) {
      rc = mdb_cursor_del(cursor, 0);
      if (rc != 0) break;
      // Seek again rather than MDB_GET_CURRENT: once the database's last key is deleted the
      // cursor is uninitialised and LMDB answers EINVAL.
      k = Val(prefix);
      rc = mdb_cursor_get(cursor, &k, &v, seek);
    }
    mdb_cursor_close(cursor);
    if (rc != 0 && rc != MDB_NOTFOUND) {
      last_rc_ = rc;
      return LmdbError("delete range from '" + std::string(db) + "'", rc);
    }
    return Status::Ok();
  }

  int last_rc() const { return last_rc_; }

 private:
  KvStore::Impl* impl_;
  MDB_txn* txn_;
  int last_rc_ = 0;
};

}  // namespace

KvStore::KvStore(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
KvStore::~KvStore() = default;

// Refuses a data.mdb that LMDB would map wrongly: empty, not LMDB, or shorter than its pages.
static Status CheckLmdbFile(const std::string& dir) {
  const std::string path = dir + "/data.mdb";
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return Status::Ok();  // a new environment (or unreadable: LMDB will say)
  struct stat st;
  std::string meta(2 * 4096, '\0');
  ssize_t n = -1;
  if (::fstat(fd, &st) == 0) n = ::pread(fd, meta.data(), meta.size(), 0);
  ::close(fd);
  const auto size = static_cast<uint64_t>(st.st_size);
  auto corrupt = [&](const std::string& why) {
    return Status::Corruption("'" + path + "' " + why +
                              ": refusing to use it (start once with --reset-state to move the "
                              "state directory aside and begin with empty state)");
  };
  if (n < 0) return Status::IOError("cannot read '" + path + "': " + std::strerror(errno));
  if (size == 0) return corrupt("is empty (a cut copy or a failed restore?)");
  // Two meta pages: <page header, 16 bytes> then MDB_meta: magic u32 0xBEEFC0DE, version u32,
  // address u64, mapsize u64, two MDB_db of 48 bytes (the first's leading u32 is the page
  // size), last used page u64, transaction id u64. The newest valid one rules.
  auto u32 = [&](size_t at) {
    uint32_t v;
    std::memcpy(&v, meta.data() + at, 4);
    return v;
  };
  auto u64 = [&](size_t at) {
    uint64_t v;
    std::memcpy(&v, meta.data() + at, 8);
    return v;
  };
  uint64_t best_txn = 0, needed = 0;
  bool any = false;
  const uint32_t psize = u32(40);  // the first meta page tells the page size
  for (size_t page : {size_t{0}, size_t{1}}) {
    const size_t at = page * psize;
    if (psize < 512 || psize > 65536 || at + 160 > static_cast<size_t>(n)) continue;
    if (u32(at + 16) != 0xBEEFC0DE) continue;
    const uint64_t last_pg = u64(at + 136), txn = u64(at + 144);
    if (!any || txn > best_txn) {
      best_txn = txn;
      needed = (last_pg + 1) * psize;
      any = true;
    }
  }
  if (!any) return corrupt("is not an LMDB file (no valid meta page)");
  if (size < needed) {
    return corrupt("is cut short: " + std::to_string(size) + " bytes where its last page ends at " +
                   std::to_string(needed));
  }
  return Status::Ok();
}

Result<std::unique_ptr<KvStore>> KvStore::Open(const KvStoreOptions& options) {
  if (!options.read_only && ::mkdir(options.dir.c_str(), 0750) != 0 && errno != EEXIST) {
    return Status::IOError("cannot create state directory '" + options.dir +
                           "': " + std::strerror(errno));
  }
  // A truncated file would be mapped and fault (SIGBUS) on the first read past its end; an
  // empty one would be taken for a new environment and the state silently forgotten.
  if (Status s = CheckLmdbFile(options.dir); !s.ok()) return s;
  auto impl = std::make_unique<Impl>();
  impl->dir = options.dir;
  const std::string where = "LMDB environment '" + options.dir + "'";
  int rc = mdb_env_create(&impl->env);
  if (rc != 0) return LmdbError(where, rc);
  mdb_env_set_maxdbs(impl->env, static_cast<MDB_dbi>(options.databases.size() + 1));
  // A read-only opener keeps the size the writer chose; 0 means "use the file's size".
  impl->map_bytes = options.initial_map_bytes;
  rc = mdb_env_set_mapsize(impl->env, options.read_only ? 0 : options.initial_map_bytes);
  if (rc != 0) return LmdbError(where, rc);
  unsigned flags = MDB_NOTLS;
  if (options.read_only) flags |= MDB_RDONLY;
  // With sync, a commit flushes the data pages and writes the meta page; Write() then flushes
  // the meta page itself (MDB_NOMETASYNC keeps the database consistent either way), so there
  // is a real moment "committed, not yet durable" for the crash-point tests.
  flags |= options.sync ? MDB_NOMETASYNC : MDB_NOSYNC;
  impl->sync = options.sync && !options.read_only;
  rc = mdb_env_open(impl->env, options.dir.c_str(), flags, 0640);
  if (rc != 0) return LmdbError(where, rc);
  MDB_envinfo info;
  if (mdb_env_info(impl->env, &info) == 0) {
    impl->map_bytes = std::max<int64_t>(impl->map_bytes, static_cast<int64_t>(info.me_mapsize));
  }

  MDB_txn* txn = nullptr;
  rc = mdb_txn_begin(impl->env, nullptr, options.read_only ? MDB_RDONLY : 0, &txn);
  if (rc != 0) return LmdbError(where, rc);
  for (const auto& name : options.databases) {
    MDB_dbi dbi;
    rc = mdb_dbi_open(txn, name.c_str(), options.read_only ? 0 : MDB_CREATE, &dbi);
    if (rc == MDB_NOTFOUND && options.read_only) {
      impl->absent.insert(name);
      continue;
    }
    if (rc != 0) {
      mdb_txn_abort(txn);
      return LmdbError(where + ", database '" + name + "'", rc);
    }
    impl->dbis.emplace(name, dbi);
  }
  rc = mdb_txn_commit(txn);
  if (rc != 0) return LmdbError(where, rc);
  return std::unique_ptr<KvStore>(new KvStore(std::move(impl)));
}

Status KvStore::Write(const std::function<Status(KvWriter&)>& fn, const char* crash_point) {
  for (int attempt = 0; attempt < 8; ++attempt) {
    MDB_txn* txn = nullptr;
    int rc = mdb_txn_begin(impl_->env, nullptr, 0, &txn);
    if (rc != 0) return LmdbError("begin write in '" + impl_->dir + "'", rc);
    LmdbWriter writer(impl_.get(), txn);
    Status s = fn(writer);
    if (s.ok()) {
      rc = mdb_txn_commit(txn);
      if (rc == 0 && !impl_->sync) return Status::Ok();
      if (rc == 0) {
        if (crash_point != nullptr) CrashPoint(crash_point);
        rc = mdb_env_sync(impl_->env, 1);
        if (rc == 0) return Status::Ok();
        return LmdbError("sync of '" + impl_->dir + "'", rc);
      }
      s = LmdbError("commit in '" + impl_->dir + "'", rc);
    } else {
      rc = writer.last_rc();
      mdb_txn_abort(txn);
    }
    if (rc != MDB_MAP_FULL) return s;
    // Grow and retry: no transaction is open now, as mdb_env_set_mapsize requires.
    impl_->map_bytes *= 2;
    rc = mdb_env_set_mapsize(impl_->env, static_cast<size_t>(impl_->map_bytes));
    if (rc != 0) return LmdbError("grow map of '" + impl_->dir + "'", rc);
  }
  return Status::IOError("LMDB map of '" + impl_->dir + "' still full after growing it");
}

Result<std::string> KvStore::Get(std::string_view db, std::string_view key) const {
  if (impl_->absent.count(db)) return Status::NotFound(std::string(key));
  Result<MDB_dbi> dbi = impl_->Dbi(db);
  if (!dbi.ok()) return dbi.status();
  MDB_txn* txn = nullptr;
  int rc = mdb_txn_begin(impl_->env, nullptr, MDB_RDONLY, &txn);
  if (rc != 0) return LmdbError("begin read", rc);
  MDB_val k = Val(key), v;
  rc = mdb_get(txn, *dbi, &k, &v);
  std::string out;
  if (rc == 0) out.assign(View(v));
  mdb_txn_abort(txn);
  if (rc == MDB_NOTFOUND) return Status::NotFound("key not found");
  if (rc != 0) return LmdbError("get", rc);
  return out;
}

Status KvStore::Scan(std::string_view db, std::string_view prefix,
                     const std::function<void(std::string_view, std::string_view)>& fn) const {
  if (impl_->absent.count(db)) return Status::Ok();
  Result<MDB_dbi> dbi = impl_->Dbi(db);
  if (!dbi.ok()) return dbi.status();
  MDB_txn* txn = nullptr;
  int rc = mdb_txn_begin(impl_->env, nullptr, MDB_RDONLY, &txn);
  if (rc != 0) return LmdbError("begin read", rc);
  MDB_cursor* cursor = nullptr;
  rc = mdb_cursor_open(txn, *dbi, &cursor);
  if (rc != 0) {
    mdb_txn_abort(txn);
    return LmdbError("open cursor", rc);
  }
  MDB_val k = Val(prefix), v;
  rc = mdb_cursor_get(cursor, &k, &v, prefix.empty() ? MDB_FIRST : MDB_SET_RANGE);
  while (rc == 0 && View(k).substr(0, prefix.size()) == prefix) {
    fn(View(k), View(v));
    rc = mdb_cursor_get(cursor, &k, &v, MDB_NEXT);
  }
  mdb_cursor_close(cursor);
  mdb_txn_abort(txn);
  if (rc != 0 && rc != MDB_NOTFOUND) return LmdbError("scan", rc);
  return Status::Ok();
}

Result<uint64_t> KvStore::Count(std::string_view db) const {
  if (impl_->absent.count(db)) return uint64_t{0};
  Result<MDB_dbi> dbi = impl_->Dbi(db);
  if (!dbi.ok()) return dbi.status();
  MDB_txn* txn = nullptr;
  int rc = mdb_txn_begin(impl_->env, nullptr, MDB_RDONLY, &txn);
  if (rc != 0) return LmdbError("begin read", rc);
  MDB_stat stat{};
  rc = mdb_stat(txn, *dbi, &stat);
  mdb_txn_abort(txn);
  if (rc != 0) return LmdbError("stat", rc);
  return static_cast<uint64_t>(stat.ms_entries);
}

int64_t KvStore::map_bytes() const { return impl_->map_bytes; }

}  // namespace ember
