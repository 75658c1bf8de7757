// The one adapter over yaml-cpp: loading a file and reading a mapping with typed getters that
// report "file:line:col: message" and reject unknown keys. The only code that catches
// YAML::Exception. Objects are cheap views over a parsed document; not thread-safe.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include <yaml-cpp/yaml.h>

#include "common/status.h"

namespace ember {

// YAML files (configs, rules, rule tests) are at most this large; anything larger is refused.
inline constexpr size_t kMaxYamlFileBytes = 4 << 20;

// The content of the regular file `path`, at most `max_bytes`. A FIFO, device or directory is
// refused without blocking; so is a larger file. Errors name the path.
Result<std::string> ReadBoundedFile(const std::string& path, size_t max_bytes);

// Parses the YAML file at `path` (through ReadBoundedFile, at most kMaxYamlFileBytes).
// Errors: IOError if unreadable; InvalidArgument for a file that is not regular or too large,
// "path:line:col: <yaml-cpp's message>" if malformed, and "path:line:col: error: duplicate
// key …" at the second of two equal keys in one mapping (yaml-cpp would keep the first).
Result<YAML::Node> LoadYamlFile(const std::string& path);

// "path:line:col" of `node` (1-based), or just "path" when the node has no mark.
std::string YamlWhere(const std::string& path, const YAML::Node& node);

// `path` as written in the configuration file `config_path`: absolute paths stay, relative
// ones are taken relative to the file's directory; "" stays "".
std::string ResolvePath(const std::string& config_path, const std::string& path);

// The closest of `candidates` to `word` within a small edit distance, or "" if none is close.
std::string ClosestWord(const std::string& word, const std::vector<std::string>& candidates);

// Typed, validating access to one YAML mapping. Getters leave *out untouched when the key is
// absent and return InvalidArgument "path:line:col: error: …" on a wrong type or bad value.
class YamlMap {
 public:
  // `path` names the file in messages. A node that is not a mapping is reported by Check().
  YamlMap(YAML::Node node, std::string path);

  // InvalidArgument if the node is not a mapping.
  Status Check(const std::string& what) const;
  bool Has(const std::string& key) const;
  YAML::Node Get(const std::string& key);  // marks the key known; Null node if absent
  std::string Where() const { return YamlWhere(path_, node_); }
  std::string Where(const std::string& key) const;  // location of the key's value
  const std::string& path() const { return path_; }

  Status GetString(const std::string& key, std::string* out, bool required = false);
  Status GetInt(const std::string& key, int64_t* out, bool required = false);
  Status GetBool(const std::string& key, bool* out);
  Status GetDurationMs(const std::string& key, int64_t* out, bool required = false);
  Status GetSizeBytes(const std::string& key, int64_t* out);
  // Accepts a single string or a sequence of strings.
  Status GetStringList(const std::string& key, std::vector<std::string>* out);

  // InvalidArgument for the first key never asked for, with a "did you mean" hint.
  Status RejectUnknownKeys() const;

 private:
  Status Error(const std::string& key, const std::string& message) const;
  Status Missing(const std::string& key) const;

  YAML::Node node_;
  std::string path_;
  // The mapping's values by key, read once: yaml-cpp finds a key by comparing it with each
  // key in turn, converting every one to a string.
  std::map<std::string, YAML::Node> values_;
  std::optional<YAML::Node> absent_;  // Get's answer for an absent key, made on first use
  std::set<std::string> known_;
};

}  // namespace ember
