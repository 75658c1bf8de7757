#include "engine/interned.h"

#include <atomic>
#include <mutex>
#include <unordered_set>

namespace ember::engine {
namespace {

struct NameHash {
  using is_transparent = void;
  size_t operator()(std::string_view v) const { return std::hash<std::string_view>{}(v); }
};

struct Names {
  std::mutex mu;
  std::unordered_set<std::string, NameHash, std::equal_to<>> set;
  size_t bytes = 0;
};

Names& TheNames() {
  static auto* names = new Names();
  return *names;
}

std::atomic<uint64_t> refusals{0};
std::atomic<size_t> max_bytes{kMaxInternedBytes};
std::atomic<size_t> max_origins{kMaxInternedOrigins};

const std::string* InternWithin(std::string_view s, size_t bound) {
  // Calls mostly ask for the few names of the lines at hand (a sample's host, file and agent
  // in turn): answered without the lock by a per-thread memo of the last few, valid forever
  // since interned strings never go away.
  constexpr size_t kMemo = 4;
  thread_local const std::string* memo[kMemo] = {};
  thread_local size_t next = 0;
  for (const std::string* m : memo) {
    if (m != nullptr && *m == s) return m;
  }
  Names& names = TheNames();
  std::lock_guard<std::mutex> lock(names.mu);
  auto it = names.set.find(s);
  if (it == names.set.end()) {
    if (names.bytes + s.size() > bound) {
      refusals.fetch_add(1, std::memory_order_relaxed);
      return nullptr;
    }
    it = names.set.emplace(s).first;
    names.bytes += s.size();
  }
  memo[next] = &*it;
  next = (next + 1) % kMemo;
  return &*it;
}

}  // namespace

const std::string* Intern(std::string_view s) { return InternWithin(s, SIZE_MAX); }

const std::string* InternName(std::string_view s) {
  return InternWithin(s, max_bytes.load(std::memory_order_relaxed));
}

uint64_t InternRefusals() { return refusals.load(std::memory_order_relaxed); }

void SetInternBoundsForTest(size_t bytes, size_t origins) {
  max_bytes.store(bytes == 0 ? kMaxInternedBytes : bytes);
  max_origins.store(origins == 0 ? kMaxInternedOrigins : origins);
}

size_t InternedBytes() {
  Names& names = TheNames();
  std::lock_guard<std::mutex> lock(names.mu);
  return names.bytes;
}

const Origin* InternOrigin(const std::string* host, const std::string* file,
                           const std::string* agent) {
  if (host == nullptr && file == nullptr && agent == nullptr) return nullptr;
  struct Hash {
    size_t operator()(const Origin& o) const {
      return (std::hash<const void*>{}(o.host) * 31 + std::hash<const void*>{}(o.file)) * 31 +
             std::hash<const void*>{}(o.agent);
    }
  };
  const Origin wanted{host, file, agent};
  thread_local const Origin* last = nullptr;
  if (last != nullptr && *last == wanted) return last;
  static std::mutex mu;
  static auto* origins = new std::unordered_set<Origin, Hash>();
  std::lock_guard<std::mutex> lock(mu);
  auto it = origins->find(wanted);
  if (it == origins->end()) {
    if (origins->size() >= max_origins.load(std::memory_order_relaxed)) {
      refusals.fetch_add(1, std::memory_order_relaxed);
      return nullptr;
    }
    it = origins->insert(wanted).first;
  }
  last = &*it;
  return last;
}

}  // namespace ember::engine
