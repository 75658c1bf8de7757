#include "common/curve_keys.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>
#include <vector>

#include <zmq.h>

#include "common/yaml_util.h"

namespace ember {
namespace {

std::string Trim(std::string s) {
  while (!s.empty() && (s.back() == ' ' || s.back() == '\r' || s.back() == '\t')) s.pop_back();
  size_t start = 0;
  while (start < s.size() && (s[start] == ' ' || s[start] == '\t')) ++start;
  return s.substr(start);
}

Status WriteNew(const std::string& path, const std::string& content, mode_t mode) {
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode);
  if (fd < 0) {
    return Status::IOError("cannot create '" + path + "': " + std::strerror(errno) +
                           (errno == EEXIST ? " (refusing to overwrite a key)" : ""));
  }
  bool ok = ::write(fd, content.data(), content.size()) == static_cast<ssize_t>(content.size());
  ok = ::fsync(fd) == 0 && ok;
  ::close(fd);
  if (!ok) return Status::IOError("cannot write '" + path + "'");
  return Status::Ok();
}

}  // namespace

bool IsZ85Key(const std::string& key) {
  if (key.size() != 40) return false;
  uint8_t bin[32];
  return zmq_z85_decode(bin, key.c_str()) != nullptr;
}

Result<CurveKeyPair> GenerateCurveKeyPair() {
  char pub[41], sec[41];
  if (zmq_curve_keypair(pub, sec) != 0) {
    return Status::Unavailable("this libzmq was built without CURVE support");
  }
  return CurveKeyPair{pub, sec};
}

Status WriteCurveKeyFiles(const std::string& prefix, const CurveKeyPair& keys) {
  Status s = WriteNew(prefix + ".key",
                      "# ember CURVE key pair. Keep this file secret (mode 0600).\n"
                      "public: " +
                          keys.public_z85 + "\nsecret: " + keys.secret_z85 + "\n",
                      0600);
  if (!s.ok()) return s;
  return WriteNew(prefix + ".pub",
                  "# ember CURVE public key: copy it to the other side.\n" + keys.public_z85 + "\n",
                  0644);
}

Result<CurveKeyPair> ReadCurveKeyFile(const std::string& path) {
  std::ifstream in(path);
  if (!in) return Status::IOError("cannot read key file '" + path + "'");
  CurveKeyPair keys;
  std::string line;
  for (int n = 1; std::getline(in, line); ++n) {
    line = Trim(line);
    if (line.empty() || line[0] == '#') continue;
    auto colon = line.find(':');
    std::string name = colon == std::string::npos ? "" : line.substr(0, colon);
    std::string value = colon == std::string::npos ? "" : Trim(line.substr(colon + 1));
    if ((name != "public" && name != "secret") || !IsZ85Key(value)) {
      return Status::InvalidArgument(path + ":" + std::to_string(n) +
                                     ": error: expected 'public: <key>' or 'secret: <key>' "
                                     "with a 40-character Z85 key");
    }
    (name == "public" ? keys.public_z85 : keys.secret_z85) = value;
  }
  if (keys.secret_z85.empty()) {
    return Status::InvalidArgument(path + ": error: no 'secret:' line (is this a .pub file?)");
  }
  char derived[41];
  if (zmq_curve_public(derived, keys.secret_z85.c_str()) != 0) {
    return Status::InvalidArgument(path + ": error: the secret key is not a valid CURVE key");
  }
  if (!keys.public_z85.empty() && keys.public_z85 != derived) {
    return Status::InvalidArgument(path +
                                   ": error: the public key does not belong to the "
                                   "secret key");
  }
  keys.public_z85 = derived;
  return keys;
}

Result<std::string> ReadCurvePublicKey(const std::string& path_or_key) {
  // A file wins: a 40-character path can be valid Z85 too ('/', '.' and '-' are Z85 digits).
  struct stat st;
  if (::stat(path_or_key.c_str(), &st) != 0 && IsZ85Key(path_or_key)) return path_or_key;
  std::ifstream in(path_or_key);
  if (!in) {
    return Status::InvalidArgument("'" + path_or_key +
                                   "' is neither a 40-character Z85 key nor a readable file");
  }
  std::string line;
  for (int n = 1; std::getline(in, line); ++n) {
    line = Trim(line);
    if (line.empty() || line[0] == '#') continue;
    if (line.rfind("public:", 0) == 0) line = Trim(line.substr(7));
    if (line.rfind("secret:", 0) == 0) continue;
    if (!IsZ85Key(line)) {
      return Status::InvalidArgument(path_or_key + ":" + std::to_string(n) +
                                     ": error: not a 40-character Z85 public key");
    }
    return line;
  }
  return Status::InvalidArgument(path_or_key + ": error: no public key in the file");
}

Result<std::map<std::string, std::string>> ReadAuthorizedKeys(const std::string& dir) {
  DIR* d = ::opendir(dir.c_str());
  if (d == nullptr) {
    return Status::IOError("cannot read authorized keys directory '" + dir +
                           "': " + std::strerror(errno));
  }
  std::vector<std::string> names;
  while (dirent* e = ::readdir(d)) {
    std::string name = e->d_name;
    if (name.size() > 4 && name.compare(name.size() - 4, 4, ".pub") == 0) names.push_back(name);
  }
  ::closedir(d);
  std::sort(names.begin(), names.end());
  std::map<std::string, std::string> keys;
  for (const auto& name : names) {
    Result<std::string> key = ReadCurvePublicKey(dir + "/" + name);
    if (!key.ok()) return key.status();
    keys[*key] = name.substr(0, name.size() - 4);
  }
  return keys;
}

Result<std::map<std::string, std::set<std::string>>> ReadAuthorizedHosts(
    const std::string& dir, const std::map<std::string, std::string>& keys) {
  std::map<std::string, std::set<std::string>> hosts;
  for (const auto& [key, name] : keys) {
    std::set<std::string>& allowed = hosts[name];
    allowed.insert(name);
    const std::string path = dir + "/" + name + ".hosts";
    struct stat st;
    if (::stat(path.c_str(), &st) != 0) continue;  // none: the key's name only
    Result<std::string> text = ReadBoundedFile(path, 4 << 20);
    if (!text.ok()) return text.status();
    std::istringstream in(*text);
    for (std::string line; std::getline(in, line);) {
      if (size_t hash = line.find('#'); hash != std::string::npos) line.resize(hash);
      const size_t b = line.find_first_not_of(" \t\r"), e = line.find_last_not_of(" \t\r");
      if (b != std::string::npos) allowed.insert(line.substr(b, e - b + 1));
    }
  }
  return hosts;
}

}  // namespace ember
