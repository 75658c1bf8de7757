#include "aggregator/sinks/jsonl_sink.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include <spdlog/spdlog.h>

namespace ember::aggregator {
namespace {

// The size of `fd`'s file up to and including its last '\n' (0 when it has none).
Result<off_t> WholeRecordsEnd(int fd, const std::string& path) {
  struct stat st;
  if (::fstat(fd, &st) != 0) {
    return Status::IOError("cannot stat '" + path + "': " + std::strerror(errno));
  }
  off_t end = st.st_size;
  char buf[4096];
  while (end > 0) {
    const off_t from = end > static_cast<off_t>(sizeof buf) ? end - sizeof buf : 0;
    const ssize_t n = ::pread(fd, buf, static_cast<size_t>(end - from), from);
    if (n <= 0) return Status::IOError("cannot read '" + path + "': " + std::strerror(errno));
    for (ssize_t i = n; i > 0; --i) {
      if (buf[i - 1] == '\n') return from + i;
    }
    end = from;
  }
  return off_t{0};
}

}  // namespace

Result<std::unique_ptr<JsonlSink>> JsonlSink::Open(const std::string& path) {
  std::unique_ptr<JsonlSink> sink(new JsonlSink(path));
  Status s = sink->Reopen();
  if (!s.ok()) return s;
  return sink;
}

JsonlSink::~JsonlSink() {
  if (fd_ >= 0) ::close(fd_);
}

Status JsonlSink::Reopen() {
  const int fd = ::open(path_.c_str(), O_RDWR | O_APPEND | O_CREAT | O_CLOEXEC, 0640);
  if (fd < 0) {
    return Status::IOError("cannot open '" + path_ + "' for appending: " + std::strerror(errno));
  }
  struct stat st;
  Result<off_t> whole = WholeRecordsEnd(fd, path_);
  if (whole.ok() && ::fstat(fd, &st) == 0 && *whole < st.st_size) {
    // A record torn by a crash or a full disk in another run: cut it off, so the file holds
    // only whole records (its event is still in the outbox and is written again).
    spdlog::warn("'{}' ended in a torn record of {} bytes; cut it off.", path_,
                 st.st_size - *whole);
    if (::ftruncate(fd, *whole) != 0) {
      Status s = Status::IOError("cannot cut the torn record off '" + path_ +
                                 "': " + std::strerror(errno));
      ::close(fd);
      return s;
    }
  }
  if (fd_ >= 0) ::close(fd_);
  fd_ = fd;
  return Status::Ok();
}

std::string JsonlSink::Describe() const { return "jsonl '" + path_ + "'"; }

Status JsonlSink::Send(uint64_t /*seq*/, const engine::Alert& alert) {
  pending_ += engine::AlertToJson(alert);
  pending_ += '\n';
  return Status::Ok();
}

Status JsonlSink::Flush() {
  if (pending_.empty()) return Status::Ok();
  struct stat st;
  if (::fstat(fd_, &st) != 0) {
    pending_.clear();
    return Status::IOError("cannot stat '" + path_ + "': " + std::strerror(errno));
  }
  const off_t before = st.st_size;
  size_t written = 0;
  int error = 0;
  while (written < pending_.size()) {
    const ssize_t n = ::write(fd_, pending_.data() + written, pending_.size() - written);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      error = n < 0 ? errno : ENOSPC;
      break;
    }
    written += static_cast<size_t>(n);
  }
  if (error == 0 && ::fdatasync(fd_) != 0) error = errno;
  pending_.clear();  // the dispatcher offers the events again when this fails
  if (error == 0) return Status::Ok();
  // Whole records only: take back what this batch wrote.
  std::string taken_back;
  if (written > 0 && ::ftruncate(fd_, before) != 0) {
    taken_back = "; cutting the partial batch off failed too: " + std::string(std::strerror(errno));
  }
  return Status::IOError("cannot write to '" + path_ + "': " + std::strerror(error) + taken_back);
}

}  // namespace ember::aggregator
