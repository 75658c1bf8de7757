// ScreenCache: compiled pattern screens kept on disk, so a rule set compiled once loads at
// once the next time (Hyperscan takes 0.3 s for 200 patterns, tens of seconds for 10,000).
// A value is stored under its full key (the patterns, their modes and the Hyperscan version
// and platform), which a load compares byte for byte: a file with another key, a torn or
// altered file, or one another user could have written (the directory or file not owned by
// this user, or writable by others) is a miss, never an error. At most kMaxFiles files of at
// most kMaxFileBytes each; the least recently used go first. Stateless apart from the
// directory; thread-safe as far as the file system is (writes replace whole files).
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

#include "common/status.h"

namespace ember::rules {

class ScreenCache {
 public:
  static constexpr size_t kMaxFiles = 32;
  static constexpr size_t kMaxFileBytes = size_t{256} << 20;

  // `dir` is created (mode 0700) at the first Store if missing.
  explicit ScreenCache(std::string dir) : dir_(std::move(dir)) {}
  // The per-user default: $XDG_CACHE_HOME/ember/screens, else $HOME/.cache/ember/screens;
  // "" when neither is set.
  static std::string DefaultDir();

  const std::string& dir() const { return dir_; }
  // The value stored under `key`, or nullopt.
  std::optional<std::string> Load(std::string_view key) const;
  // Stores `value` under `key`, then removes the least recently used files beyond kMaxFiles.
  // Errors: IOError naming the path (the directory unsafe, or a write failed).
  Status Store(std::string_view key, std::string_view value) const;

 private:
  std::string PathOf(std::string_view key) const;
  std::string dir_;
};

}  // namespace ember::rules
