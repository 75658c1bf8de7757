#include "common/file_util.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <ctime>

#include "common/yaml_util.h"

namespace ember {

size_t ReadFully(int fd, char* data, size_t size) {
  size_t done = 0;
  while (done < size) {
    const ssize_t n = ::read(fd, data + done, size - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    done += static_cast<size_t>(n);
  }
  return done;
}

int WriteFully(int fd, const char* data, size_t size) {
  size_t done = 0;
  while (done < size) {
    const ssize_t n = ::write(fd, data + done, size - done);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return errno;
    if (n == 0) return EIO;
    done += static_cast<size_t>(n);
  }
  return 0;
}

Status ReplaceFile(const std::string& dir, const std::string& name, const std::string& content,
                   bool durable) {
  const std::string tmp = dir + "/." + name + ".tmp";
  const std::string final_path = dir + "/" + name;
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0640);
  if (fd < 0) return Status::IOError("cannot write '" + tmp + "': " + std::strerror(errno));
  if (int e = WriteFully(fd, content.data(), content.size()); e != 0) {
    ::close(fd);
    return Status::IOError("cannot write '" + tmp + "': " + std::strerror(e));
  }
  if (durable && ::fsync(fd) != 0) {
    Status s = Status::IOError("cannot sync '" + tmp + "': " + std::strerror(errno));
    ::close(fd);
    return s;
  }
  ::close(fd);
  if (::rename(tmp.c_str(), final_path.c_str()) != 0) {
    return Status::IOError("cannot replace '" + final_path + "': " + std::strerror(errno));
  }
  if (!durable) return Status::Ok();
  int dfd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dfd >= 0) {
    ::fsync(dfd);  // make the rename itself durable
    ::close(dfd);
  }
  return Status::Ok();
}

Result<std::string> MoveAside(const std::string& path, const std::string& tag) {
  struct stat st;
  if (::lstat(path.c_str(), &st) != 0) return std::string();
  std::time_t now = std::time(nullptr);
  std::tm tm{};
  gmtime_r(&now, &tm);
  char stamp[32];
  std::strftime(stamp, sizeof stamp, "%Y%m%dT%H%M%SZ", &tm);
  std::string target = path + "." + tag + "-" + stamp;
  for (int i = 2; ::lstat(target.c_str(), &st) == 0; ++i) {
    target = path + "." + tag + "-" + stamp + "." + std::to_string(i);
  }
  if (::rename(path.c_str(), target.c_str()) != 0) {
    return Status::IOError("cannot move '" + path + "' aside to '" + target +
                           "': " + std::strerror(errno));
  }
  return target;
}

Result<std::string> ReadSecretLine(const std::string& path) {
  constexpr size_t kMaxSecretBytes = 64 * 1024;
  Result<std::string> text = ReadBoundedFile(path, kMaxSecretBytes);
  if (!text.ok())
    return Status::InvalidArgument("cannot read '" + path + "': " + text.status().message());
  std::string line = text->substr(0, text->find('\n'));
  while (!line.empty() && (line.back() == '\r' || line.back() == ' ')) line.pop_back();
  return line;
}

}  // namespace ember
