#include "engine/interned.h"

#include <mutex>
#include <unordered_set>

namespace ember::engine {

const std::string* Intern(std::string_view s) {
  struct Hash {
    using is_transparent = void;
    size_t operator()(std::string_view v) const { return std::hash<std::string_view>{}(v); }
  };
  static std::mutex mu;
  static auto* names = new std::unordered_set<std::string, Hash, std::equal_to<>>();
  std::lock_guard<std::mutex> lock(mu);
  auto it = names->find(s);
  if (it == names->end()) it = names->emplace(s).first;
  return &*it;
}

const Origin* InternOrigin(const std::string* host, const std::string* file) {
  if (host == nullptr && file == nullptr) return nullptr;
  struct Hash {
    size_t operator()(const Origin& o) const {
      return std::hash<const void*>{}(o.host) * 31 + std::hash<const void*>{}(o.file);
    }
  };
  static std::mutex mu;
  static auto* origins = new std::unordered_set<Origin, Hash>();
  std::lock_guard<std::mutex> lock(mu);
  return &*origins->insert(Origin{host, file}).first;
}

}  // namespace ember::engine
