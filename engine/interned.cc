#include "engine/interned.h"

#include <mutex>
#include <unordered_set>

namespace ember::engine {

const std::string* Intern(std::string_view s) {
  struct Hash {
    using is_transparent = void;
    size_t operator()(std::string_view v) const { return std::hash<std::string_view>{}(v); }
  };
  // Consecutive calls mostly ask for the same name (one agent's file): answered without the
  // lock by a per-thread memo, valid forever since interned strings never go away.
  thread_local const std::string* last = nullptr;
  if (last != nullptr && *last == s) return last;
  static std::mutex mu;
  static auto* names = new std::unordered_set<std::string, Hash, std::equal_to<>>();
  std::lock_guard<std::mutex> lock(mu);
  auto it = names->find(s);
  if (it == names->end()) it = names->emplace(s).first;
  last = &*it;
  return last;
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
  last = &*origins->insert(wanted).first;
  return last;
}

}  // namespace ember::engine
