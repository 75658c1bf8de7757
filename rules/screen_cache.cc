#include "rules/screen_cache.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <string>
#include <utility>
#include <vector>

#include "common/file_util.h"
#include "common/hash.h"

namespace ember::rules {
namespace {

constexpr std::string_view kMagic = "EMBERSC1";
constexpr std::string_view kSuffix = ".screen";

void PutU64(std::string& out, uint64_t v) {
  for (int i = 0; i < 8; ++i) out.push_back(static_cast<char>(v >> (8 * i)));
}

bool GetU64(std::string_view& in, uint64_t* v) {
  if (in.size() < 8) return false;
  *v = 0;
  for (int i = 0; i < 8; ++i) *v |= uint64_t{static_cast<unsigned char>(in[i])} << (8 * i);
  in.remove_prefix(8);
  return true;
}

// Owned by this user and writable by nobody else: nothing another user wrote is loaded.
bool OursAlone(const struct stat& st) {
  return st.st_uid == ::geteuid() && (st.st_mode & (S_IWGRP | S_IWOTH)) == 0;
}

bool SafeDir(const std::string& dir) {
  struct stat st;
  return ::lstat(dir.c_str(), &st) == 0 && S_ISDIR(st.st_mode) && OursAlone(st);
}

// Creates `dir` and its missing parents, each 0700.
Status MakeDirs(const std::string& dir) {
  for (size_t slash = dir.find('/', 1);; slash = dir.find('/', slash + 1)) {
    const std::string part = dir.substr(0, slash);
    struct stat st;
    if (::stat(part.c_str(), &st) == 0 && S_ISDIR(st.st_mode)) {
      if (slash == std::string::npos) return Status::Ok();
      continue;
    }
    if (::mkdir(part.c_str(), 0700) != 0 && errno != EEXIST) {
      return Status::IOError("cannot create '" + part + "': " + std::strerror(errno));
    }
    if (slash == std::string::npos) return Status::Ok();
  }
}

}  // namespace

std::string ScreenCache::DefaultDir() {
  const char* xdg = std::getenv("XDG_CACHE_HOME");
  if (xdg != nullptr && xdg[0] == '/') return std::string(xdg) + "/ember/screens";
  const char* home = std::getenv("HOME");
  if (home != nullptr && home[0] == '/') return std::string(home) + "/.cache/ember/screens";
  return "";
}

std::string ScreenCache::PathOf(std::string_view key) const {
  return dir_ + "/" + HashHex(Fnv1a64(key)) + HashHex(Fnv1a64(key, ~kFnv1aOffset)) +
         std::string(kSuffix);
}

std::optional<std::string> ScreenCache::Load(std::string_view key) const {
  if (dir_.empty() || !SafeDir(dir_)) return std::nullopt;
  const std::string path = PathOf(key);
  const int fd = ::open(path.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK);
  if (fd < 0) return std::nullopt;
  struct stat st;
  std::string bytes;
  if (::fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && OursAlone(st) &&
      static_cast<uint64_t>(st.st_size) <= kMaxFileBytes) {
    bytes.resize(static_cast<size_t>(st.st_size));
    bytes.resize(ReadFully(fd, bytes.data(), bytes.size()));
  }
  ::close(fd);
  // magic, key size, key, value size, value, FNV-1a of the value
  std::string_view in(bytes);
  uint64_t key_size = 0, value_size = 0, sum = 0;
  if (!in.starts_with(kMagic)) return std::nullopt;
  in.remove_prefix(kMagic.size());
  if (!GetU64(in, &key_size) || key_size > in.size() || in.substr(0, key_size) != key) {
    return std::nullopt;
  }
  in.remove_prefix(key_size);
  if (!GetU64(in, &value_size) || value_size > in.size()) return std::nullopt;
  const std::string_view value = in.substr(0, value_size);
  in.remove_prefix(value_size);
  if (!GetU64(in, &sum) || !in.empty() || sum != Fnv1a64(value)) return std::nullopt;
  ::utimensat(AT_FDCWD, path.c_str(), nullptr, AT_SYMLINK_NOFOLLOW);  // recently used
  return std::string(value);
}

Status ScreenCache::Store(std::string_view key, std::string_view value) const {
  if (dir_.empty()) return Status::IOError("no cache directory");
  if (Status s = MakeDirs(dir_); !s.ok()) return s;
  if (!SafeDir(dir_)) {
    return Status::IOError("'" + dir_ + "' is not a directory of this user's alone");
  }
  std::string bytes(kMagic);
  PutU64(bytes, key.size());
  bytes.append(key);
  PutU64(bytes, value.size());
  bytes.append(value);
  PutU64(bytes, Fnv1a64(value));
  if (bytes.size() > kMaxFileBytes) return Status::IOError("screen too large to cache");
  const std::string path = PathOf(key);
  const std::string name = path.substr(dir_.size() + 1);
  // A temporary name of this process's own, renamed over the file: a reader, or another
  // process storing the same screen, sees one whole file or the other.
  const std::string tmp = dir_ + "/." + name + "." + std::to_string(::getpid()) + ".tmp";
  const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
  if (fd < 0) return Status::IOError("cannot write '" + tmp + "': " + std::strerror(errno));
  const int write_errno = WriteFully(fd, bytes.data(), bytes.size());
  ::close(fd);
  if (write_errno != 0 || ::rename(tmp.c_str(), path.c_str()) != 0) {
    const int e = write_errno != 0 ? write_errno : errno;
    ::unlink(tmp.c_str());
    return Status::IOError("cannot write '" + path + "': " + std::strerror(e));
  }
  // Least recently used first out, beyond kMaxFiles.
  DIR* d = ::opendir(dir_.c_str());
  if (d == nullptr) return Status::Ok();
  std::vector<std::pair<int64_t, std::string>> files;  // (mtime ns, name)
  while (const dirent* e = ::readdir(d)) {
    const std::string_view n(e->d_name);
    struct stat st;
    if (n == "." || n == ".." || n == name ||
        ::fstatat(::dirfd(d), e->d_name, &st, AT_SYMLINK_NOFOLLOW) != 0) {
      continue;
    }
    if (n.starts_with(".") && n.ends_with(".tmp")) {
      // Left by a process that died while storing: gone after an hour.
      if (st.st_mtime + 3600 < ::time(nullptr)) ::unlinkat(::dirfd(d), e->d_name, 0);
      continue;
    }
    if (!n.ends_with(kSuffix) || n.starts_with(".")) continue;
    files.emplace_back(int64_t{st.st_mtim.tv_sec} * 1'000'000'000 + st.st_mtim.tv_nsec,
                       std::string(n));
  }
  if (files.size() + 1 > kMaxFiles) {
    std::sort(files.begin(), files.end());
    for (size_t i = 0; i + kMaxFiles < files.size() + 1; ++i) {
      ::unlinkat(::dirfd(d), files[i].second.c_str(), 0);
    }
  }
  ::closedir(d);
  return Status::Ok();
}

}  // namespace ember::rules
