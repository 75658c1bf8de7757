#include "agent/offset_store.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <random>
#include <sstream>
#include <vector>

#include <nlohmann/json.hpp>

#include "common/file_util.h"
#include "common/hash.h"
#include "common/wire.h"

namespace ember::agent {
namespace {

constexpr int kFormatVersion = 1;

}  // namespace

uint64_t NewStreamId() {
  static std::mt19937_64 rng([] {
    std::random_device rd;
    return (static_cast<uint64_t>(rd()) << 32) ^ rd();
  }());
  uint64_t id = 0;
  while (id == 0) id = rng();
  return id;
}

uint64_t FingerprintFile(int fd, uint64_t skip, uint64_t bytes, uint64_t* bytes_read) {
  std::array<char, kFingerprintBytes> buf;
  ssize_t n =
      ::pread(fd, buf.data(), std::min<uint64_t>(bytes, buf.size()), static_cast<off_t>(skip));
  if (n < 0) n = 0;
  *bytes_read = static_cast<uint64_t>(n);
  return Fnv1a64(std::string_view(buf.data(), static_cast<size_t>(n)));
}

Result<std::unique_ptr<OffsetStore>> OffsetStore::Open(const std::string& dir) {
  if (::mkdir(dir.c_str(), 0750) != 0 && errno != EEXIST) {
    return Status::IOError("cannot create state directory '" + dir + "': " + std::strerror(errno));
  }
  std::unique_ptr<OffsetStore> store(new OffsetStore(dir));
  const std::string path = dir + "/offsets.json";
  std::ifstream in(path);
  // A new epoch (a random id, kept from now on) tells the aggregator this agent starts
  // without memory of what it sent before.
  store->epoch_ = NewStreamId();
  store->dirty_ = true;
  if (!in) return store;  // first start
  std::stringstream buf;
  buf << in.rdbuf();
  if (Status s = store->Read(buf.str(), path); !s.ok()) return s;
  return store;
}

Status OffsetStore::Read(const std::string& text, const std::string& path) {
  OffsetStore* store = this;
  nlohmann::json j = nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded() || !j.is_object() || !j.contains("streams") || !j["streams"].is_array()) {
    return Status::Corruption("'" + path +
                              "' is not an ember-agent offsets file; move it away "
                              "to start over (files are then read per read_from)");
  }
  auto refuse = [&](const std::string& where, const std::string& what) {
    return Status::Corruption("'" + path + "': " + where + " " + what +
                              "; move the file away to start over (files are then read per "
                              "read_from)");
  };
  const nlohmann::json& version = j["version"];
  if (!version.is_number_unsigned() || version.get<uint64_t>() != uint64_t{kFormatVersion}) {
    return refuse("'version'", "is " + version.dump() + ", not the format version " +
                                   std::to_string(kFormatVersion) + " this build reads");
  }
  if (j.contains("epoch")) {
    if (!j["epoch"].is_number_unsigned()) return refuse("'epoch'", "is not a number");
    store->epoch_ = j["epoch"].get<uint64_t>();
    store->dirty_ = false;
  }
  size_t index = 0;
  for (const auto& s : j["streams"]) {
    const std::string where = "streams[" + std::to_string(index++) + "]";
    if (!s.is_object()) return refuse(where, "is not an object");
    StreamRecord r;
    for (auto [field, value] : {std::pair{"id", &r.stream_id}, std::pair{"dev", &r.dev},
                                std::pair{"ino", &r.ino}, std::pair{"fingerprint", &r.fingerprint},
                                std::pair{"fingerprint_bytes", &r.fingerprint_bytes},
                                std::pair{"fingerprint_skip", &r.fingerprint_skip},
                                std::pair{"acked_offset", &r.acked_offset},
                                std::pair{"origin_offset", &r.origin_offset}}) {
      auto it = s.find(field);
      if (it == s.end()) continue;
      if (!it->is_number_unsigned()) {
        return refuse(where + "." + field, "is " + it->dump() + ", not an unsigned number");
      }
      *value = it->get<uint64_t>();
    }
    for (auto [field, value] : {std::pair{"path", &r.path}, std::pair{"journal", &r.journal},
                                std::pair{"cursor", &r.cursor}}) {
      auto it = s.find(field);
      if (it == s.end()) continue;
      if (!it->is_string()) return refuse(where + "." + field, "is not a string");
      *value = it->get<std::string>();
    }
    if (r.stream_id == 0) return refuse(where + ".id", "is missing or 0");
    if (r.fingerprint_bytes > kFingerprintBytes) {
      return refuse(where + ".fingerprint_bytes",
                    std::to_string(r.fingerprint_bytes) + " is more than the " +
                        std::to_string(kFingerprintBytes) + " bytes a fingerprint covers");
    }
    if (r.acked_offset < r.origin_offset || r.acked_offset > wire::kMaxStreamOffset) {
      return refuse(where + ".acked_offset",
                    std::to_string(r.acked_offset) + " is before its origin_offset " +
                        std::to_string(r.origin_offset) + " or beyond any file");
    }
    store->records_[r.stream_id] = r;
  }
  return Status::Ok();
}

const StreamRecord* OffsetStore::FindJournal(const std::string& journal) const {
  for (const auto& [id, r] : records_) {
    if (!r.journal.empty() && r.journal == journal) return &r;
  }
  return nullptr;
}

const StreamRecord* OffsetStore::FindByInode(uint64_t dev, uint64_t ino) const {
  for (const auto& [id, r] : records_) {
    if (r.journal.empty() && r.dev == dev && r.ino == ino) return &r;
  }
  return nullptr;
}

const StreamRecord* OffsetStore::Find(uint64_t stream_id) const {
  auto it = records_.find(stream_id);
  return it == records_.end() ? nullptr : &it->second;
}

void OffsetStore::Put(const StreamRecord& record) {
  for (auto it = records_.begin(); it != records_.end();) {
    const StreamRecord& old = it->second;
    const bool replaced = record.journal.empty() ? old.journal.empty() && old.dev == record.dev &&
                                                       old.ino == record.ino
                                                 : old.journal == record.journal;
    if (it->first != record.stream_id && replaced) {
      it = records_.erase(it);
    } else {
      ++it;
    }
  }
  records_[record.stream_id] = record;
  dirty_ = true;
}

void OffsetStore::Ack(uint64_t stream_id, uint64_t offset, const std::string* cursor) {
  auto it = records_.find(stream_id);
  if (it == records_.end() || offset <= it->second.acked_offset) return;
  it->second.acked_offset = offset;
  if (cursor != nullptr) it->second.cursor = *cursor;
  dirty_ = true;
}

void OffsetStore::Remove(uint64_t stream_id) {
  if (records_.erase(stream_id) > 0) dirty_ = true;
}

Status OffsetStore::Flush() {
  if (!dirty_) return Status::Ok();
  nlohmann::json streams = nlohmann::json::array();
  for (const auto& [id, r] : records_) {
    streams.push_back({{"id", r.stream_id},
                       {"path", r.path},
                       {"dev", r.dev},
                       {"ino", r.ino},
                       {"fingerprint", r.fingerprint},
                       {"fingerprint_bytes", r.fingerprint_bytes},
                       {"fingerprint_skip", r.fingerprint_skip},
                       {"acked_offset", r.acked_offset},
                       {"origin_offset", r.origin_offset}});
    if (!r.journal.empty()) {
      streams.back()["journal"] = r.journal;
      streams.back()["cursor"] = r.cursor;
    }
  }
  nlohmann::json j = {{"version", kFormatVersion}, {"epoch", epoch_}, {"streams", streams}};
  Status s = ReplaceFile(dir_, "offsets.json",
                         j.dump(1, ' ', false, nlohmann::json::error_handler_t::replace),
                         /*durable=*/true);
  if (s.ok()) dirty_ = false;
  return s;
}

void TakeFingerprint(int fd, uint64_t skip, StreamRecord* r) {
  r->fingerprint_skip = skip;
  r->fingerprint = FingerprintFile(fd, skip, kFingerprintBytes, &r->fingerprint_bytes);
}

bool MatchesFingerprint(int fd, const StreamRecord& r) {
  uint64_t n = 0;
  const uint64_t fp = FingerprintFile(fd, r.fingerprint_skip, r.fingerprint_bytes, &n);
  return n == r.fingerprint_bytes && fp == r.fingerprint;
}

}  // namespace ember::agent
