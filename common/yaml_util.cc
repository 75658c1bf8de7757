#include "common/yaml_util.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <map>
#include <sstream>

#include "common/file_util.h"
#include "common/units.h"

namespace ember {
namespace {

std::string MarkText(const std::string& path, const YAML::Mark& mark) {
  if (mark.is_null()) return path;
  return path + ":" + std::to_string(mark.line + 1) + ":" + std::to_string(mark.column + 1);
}

size_t EditDistance(const std::string& a, const std::string& b) {
  std::vector<size_t> prev(b.size() + 1), cur(b.size() + 1);
  for (size_t j = 0; j <= b.size(); ++j) prev[j] = j;
  for (size_t i = 1; i <= a.size(); ++i) {
    cur[0] = i;
    for (size_t j = 1; j <= b.size(); ++j) {
      size_t sub = prev[j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1);
      cur[j] = std::min({prev[j] + 1, cur[j - 1] + 1, sub});
    }
    std::swap(prev, cur);
  }
  return prev[b.size()];
}

}  // namespace

Result<std::string> ReadBoundedFile(const std::string& path, size_t max_bytes) {
  // O_NONBLOCK: opening a FIFO must not wait for a writer; it is refused below.
  const int fd = ::open(path.c_str(), O_RDONLY | O_NONBLOCK | O_CLOEXEC | O_NOCTTY);
  if (fd < 0) return Status::IOError(path + ": cannot open for reading: " + std::strerror(errno));
  struct stat st;
  if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    ::close(fd);
    return Status::InvalidArgument(path + ": error: not a regular file (a FIFO, device or " +
                                   "directory is never read)");
  }
  if (static_cast<uint64_t>(st.st_size) > max_bytes) {
    ::close(fd);
    return Status::InvalidArgument(path + ": error: " + std::to_string(st.st_size) +
                                   " bytes, more than the " + std::to_string(max_bytes) +
                                   " this file may have");
  }
  std::string content(static_cast<size_t>(st.st_size) + 1, '\0');
  const size_t got = ReadFully(fd, content.data(), content.size());
  ::close(fd);
  if (got > max_bytes) {  // it grew while being read
    return Status::InvalidArgument(path + ": error: more than the " + std::to_string(max_bytes) +
                                   " bytes this file may have");
  }
  content.resize(got);
  return content;
}

namespace {

// The first mapping key that appears twice in `node` or below it (yaml-cpp keeps both pairs
// and lookups see only the first), as "path:line:col: error: …" at the second one. Visits at
// most `*budget` nodes, so aliases nested a billion times deep cost nothing.
Status FindDuplicateKey(const std::string& path, const YAML::Node& node, size_t* budget) {
  if (*budget == 0) return Status::Ok();
  --*budget;
  if (node.IsMap()) {
    std::map<std::string, YAML::Mark> seen;
    for (const auto& kv : node) {
      if (kv.first.IsScalar()) {
        auto [it, inserted] = seen.emplace(kv.first.Scalar(), kv.first.Mark());
        if (!inserted) {
          return Status::InvalidArgument(
              MarkText(path, kv.first.Mark()) + ": error: duplicate key '" + kv.first.Scalar() +
              "' (first at line " + std::to_string(it->second.line + 1) + ")");
        }
      }
      if (Status s = FindDuplicateKey(path, kv.second, budget); !s.ok()) return s;
    }
  } else if (node.IsSequence()) {
    for (const auto& item : node) {
      if (Status s = FindDuplicateKey(path, item, budget); !s.ok()) return s;
    }
  }
  return Status::Ok();
}

}  // namespace

Result<YAML::Node> LoadYamlFile(const std::string& path) {
  Result<std::string> text = ReadBoundedFile(path, kMaxYamlFileBytes);
  if (!text.ok()) return text.status();
  try {
    YAML::Node doc = YAML::Load(*text);
    size_t budget = kMaxYamlFileBytes;
    if (Status s = FindDuplicateKey(path, doc, &budget); !s.ok()) return s;
    return doc;
  } catch (const YAML::Exception& e) {
    return Status::InvalidArgument(MarkText(path, e.mark) + ": error: " + e.msg);
  }
}

std::string YamlWhere(const std::string& path, const YAML::Node& node) {
  return MarkText(path, node.Mark());
}

std::string ResolvePath(const std::string& config_path, const std::string& path) {
  if (path.empty() || path[0] == '/') return path;
  size_t slash = config_path.rfind('/');
  if (slash == std::string::npos) return path;
  return config_path.substr(0, slash + 1) + path;
}

std::string ClosestWord(const std::string& word, const std::vector<std::string>& candidates) {
  std::string best;
  size_t best_distance = std::max<size_t>(2, word.size() / 3) + 1;
  for (const auto& c : candidates) {
    size_t d = EditDistance(word, c);
    if (d < best_distance) {
      best_distance = d;
      best = c;
    }
  }
  return best;
}

YamlMap::YamlMap(YAML::Node node, std::string path) : node_(node), path_(std::move(path)) {
  if (!node_.IsMap()) return;
  for (auto it = node_.begin(); it != node_.end(); ++it) {
    if (it->first.IsScalar()) values_.emplace(it->first.Scalar(), it->second);
  }
}

Status YamlMap::Check(const std::string& what) const {
  if (!node_.IsMap()) {
    return Status::InvalidArgument(Where() + ": error: " + what + " must be a mapping of keys");
  }
  return Status::Ok();
}

bool YamlMap::Has(const std::string& key) const { return values_.count(key) != 0; }

YAML::Node YamlMap::Get(const std::string& key) {
  known_.insert(key);
  if (!node_.IsMap()) return YAML::Node();
  if (auto it = values_.find(key); it != values_.end()) return it->second;
  // An undefined node, as yaml-cpp's lookup of an absent key gives (`!node` holds), made
  // once: each lookup would add an undefined entry to the mapping itself.
  if (!absent_.has_value()) absent_ = YAML::Node(YAML::NodeType::Map)["absent"];
  return *absent_;
}

std::string YamlMap::Where(const std::string& key) const {
  const auto it = values_.find(key);
  if (it == values_.end()) return Where();
  return YamlWhere(path_, it->second);
}

Status YamlMap::Error(const std::string& key, const std::string& message) const {
  return Status::InvalidArgument(Where(key) + ": error: '" + key + "': " + message);
}

Status YamlMap::Missing(const std::string& key) const {
  return Status::InvalidArgument(Where() + ": error: missing required key '" + key + "'");
}

Status YamlMap::GetString(const std::string& key, std::string* out, bool required) {
  YAML::Node v = Get(key);
  if (!v || v.IsNull()) return required ? Missing(key) : Status::Ok();
  if (!v.IsScalar()) return Error(key, "expected a string");
  *out = v.Scalar();
  return Status::Ok();
}

Status YamlMap::GetInt(const std::string& key, int64_t* out, bool required) {
  YAML::Node v = Get(key);
  if (!v || v.IsNull()) return required ? Missing(key) : Status::Ok();
  try {
    if (!v.IsScalar()) return Error(key, "expected a whole number");
    *out = v.as<int64_t>();
  } catch (const YAML::Exception&) {
    return Error(key, "expected a whole number, got '" + v.Scalar() + "'");
  }
  return Status::Ok();
}

Status YamlMap::GetBool(const std::string& key, bool* out) {
  YAML::Node v = Get(key);
  if (!v || v.IsNull()) return Status::Ok();
  try {
    if (!v.IsScalar()) return Error(key, "expected true or false");
    *out = v.as<bool>();
  } catch (const YAML::Exception&) {
    return Error(key, "expected true or false, got '" + v.Scalar() + "'");
  }
  return Status::Ok();
}

Status YamlMap::GetDurationMs(const std::string& key, int64_t* out, bool required) {
  std::string text;
  Status s = GetString(key, &text, required);
  if (!s.ok() || text.empty()) return s;
  Result<int64_t> ms = ParseDurationMs(text);
  if (!ms.ok()) return Error(key, ms.status().message());
  *out = *ms;
  return Status::Ok();
}

Status YamlMap::GetSizeBytes(const std::string& key, int64_t* out) {
  std::string text;
  Status s = GetString(key, &text);
  if (!s.ok() || text.empty()) return s;
  Result<int64_t> bytes = ParseSizeBytes(text);
  if (!bytes.ok()) return Error(key, bytes.status().message());
  *out = *bytes;
  return Status::Ok();
}

Status YamlMap::GetStringList(const std::string& key, std::vector<std::string>* out) {
  YAML::Node v = Get(key);
  if (!v || v.IsNull()) return Status::Ok();
  out->clear();
  if (v.IsScalar()) {
    out->push_back(v.Scalar());
    return Status::Ok();
  }
  if (!v.IsSequence()) return Error(key, "expected a string or a list of strings");
  for (const auto& item : v) {
    if (!item.IsScalar()) {
      return Status::InvalidArgument(YamlWhere(path_, item) + ": error: '" + key +
                                     "': expected a string");
    }
    out->push_back(item.Scalar());
  }
  return Status::Ok();
}

Status YamlMap::RejectUnknownKeys() const {
  if (!node_.IsMap()) return Status::Ok();
  std::vector<std::string> known(known_.begin(), known_.end());
  for (const auto& kv : node_) {
    const std::string key = kv.first.Scalar();
    if (known_.count(key)) continue;
    std::string message = YamlWhere(path_, kv.first) + ": error: unknown key '" + key + "'";
    std::string hint = ClosestWord(key, known);
    if (!hint.empty()) message += " (did you mean '" + hint + "'?)";
    return Status::InvalidArgument(message);
  }
  return Status::Ok();
}

}  // namespace ember
