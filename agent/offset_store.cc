#include "agent/offset_store.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <random>
#include <sstream>
#include <vector>

#include <nlohmann/json.hpp>

#include "common/file_util.h"
#include "common/hash.h"

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
  std::vector<char> buf(bytes);
  ssize_t n = ::pread(fd, buf.data(), buf.size(), static_cast<off_t>(skip));
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
  nlohmann::json j = nlohmann::json::parse(buf.str(), nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded() || !j.is_object() || !j.contains("streams") || !j["streams"].is_array()) {
    return Status::Corruption("'" + path +
                              "' is not an ember-agent offsets file; move it away "
                              "to start over (files are then read per read_from)");
  }
  if (j.value("version", 0) != kFormatVersion) {
    return Status::Corruption("'" + path + "' has format version " +
                              std::to_string(j.value("version", 0)) + "; this build reads " +
                              std::to_string(kFormatVersion));
  }
  if (j.contains("epoch") && j["epoch"].is_number_unsigned()) {
    store->epoch_ = j["epoch"].get<uint64_t>();
    store->dirty_ = false;
  }
  for (const auto& s : j["streams"]) {
    if (!s.is_object()) continue;
    StreamRecord r;
    r.stream_id = s.value("id", uint64_t{0});
    r.path = s.value("path", std::string());
    r.dev = s.value("dev", uint64_t{0});
    r.ino = s.value("ino", uint64_t{0});
    r.fingerprint = s.value("fingerprint", uint64_t{0});
    r.fingerprint_bytes = s.value("fingerprint_bytes", uint64_t{0});
    r.fingerprint_skip = s.value("fingerprint_skip", uint64_t{0});
    r.acked_offset = s.value("acked_offset", uint64_t{0});
    r.origin_offset = s.value("origin_offset", uint64_t{0});
    if (r.stream_id != 0) store->records_[r.stream_id] = r;
  }
  return store;
}

const StreamRecord* OffsetStore::FindByInode(uint64_t dev, uint64_t ino) const {
  for (const auto& [id, r] : records_) {
    if (r.dev == dev && r.ino == ino) return &r;
  }
  return nullptr;
}

const StreamRecord* OffsetStore::Find(uint64_t stream_id) const {
  auto it = records_.find(stream_id);
  return it == records_.end() ? nullptr : &it->second;
}

void OffsetStore::Put(const StreamRecord& record) {
  for (auto it = records_.begin(); it != records_.end();) {
    if (it->first != record.stream_id && it->second.dev == record.dev &&
        it->second.ino == record.ino) {
      it = records_.erase(it);
    } else {
      ++it;
    }
  }
  records_[record.stream_id] = record;
  dirty_ = true;
}

void OffsetStore::Ack(uint64_t stream_id, uint64_t offset) {
  auto it = records_.find(stream_id);
  if (it == records_.end() || offset <= it->second.acked_offset) return;
  it->second.acked_offset = offset;
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
