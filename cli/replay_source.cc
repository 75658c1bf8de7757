#include "cli/replay_source.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <ctime>
#include <vector>

#include "common/line_splitter.h"
#include "common/system.h"
#include "engine/event_time.h"
#include "engine/interned.h"

namespace ember::cli {
namespace {

// Lines held while waiting for the first time stamp of a file; beyond this many, the file's
// modification time stands in.
constexpr size_t kMaxHeldLines = 10'000;

}  // namespace

Result<std::unique_ptr<ReplaySource>> ReplaySource::Open(const std::string& path,
                                                         const ReplaySourceOptions& options) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return Status::IOError("cannot open '" + path + "': " + std::strerror(errno));
  struct stat st;
  if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    ::close(fd);
    return Status::IOError("'" + path + "' is not a regular file");
  }
  int64_t mtime_ms = static_cast<int64_t>(st.st_mtime) * 1000;
  ReplaySourceOptions o = options;
  if (o.host.empty()) o.host = LocalHostName();
  if (o.year == 0) {
    std::time_t t = st.st_mtime;
    std::tm tm{};
    gmtime_r(&t, &tm);
    o.year = tm.tm_year + 1900;
  }
  return std::unique_ptr<ReplaySource>(new ReplaySource(path, fd, o, mtime_ms));
}

ReplaySource::ReplaySource(std::string path, int fd, ReplaySourceOptions options, int64_t mtime_ms)
    : path_(std::move(path)), fd_(fd), options_(std::move(options)), mtime_ms_(mtime_ms) {}

ReplaySource::~ReplaySource() { ::close(fd_); }

Status ReplaySource::ReadAll(const std::function<void(const engine::InputLine&)>& on_line,
                             const ReadSpace& space) {
  engine::EventTimeParser parser(options_.year, options_.zone);
  LineSplitter splitter(options_.max_line_bytes);
  std::vector<std::string> held;  // lines before the first time stamp
  bool have_time = false;
  bool deferred = false;  // the lines go out with their stamps unread
  int64_t last_time = 0;

  // Interned here once, so that a consumer interning them again knows them by address.
  const std::string_view host = *engine::Intern(options_.host);
  const std::string_view file = *engine::Intern(path_);
  auto emit = [&](std::string_view text, int64_t time_ms) {
    on_line(engine::InputLine{text, host, file, time_ms, ""});
  };
  auto release_held = [&](int64_t time_ms) {
    for (const auto& h : held) emit(h, time_ms);
    held.clear();
  };
  auto handle = [&](const SplitLine& line) {
    if (deferred) return emit(line.text, kStampPending);
    if (have_time && options_.defer_stamps) {
      options_.defer_stamps(parser.year_state(), last_time);
      deferred = true;
      return emit(line.text, kStampPending);
    }
    if (std::optional<int64_t> t = parser.Parse(line.text)) {
      last_time = *t;
      if (!have_time) {
        have_time = true;
        release_held(last_time);
      }
    } else {
      ++untimed_lines_;
      if (!have_time) {
        if (held.size() < kMaxHeldLines) {
          held.emplace_back(line.text);
          return;
        }
        have_time = true;
        last_time = mtime_ms_;
        release_held(last_time);
      }
    }
    emit(line.text, last_time);
  };

  // The splitter is fed whole lines only, so it hands them out as views into the space; the
  // bytes after the last '\n' are carried into the next read. A carry too long to be a whole
  // line is fed as it is: the splitter keeps its first max_line_bytes and skips the rest.
  std::vector<char> own;  // without `space`: one buffer, the carry moved to its front
  auto own_room = [&](std::string_view carry) {
    if (own.empty()) own.resize(options_.read_bytes + options_.max_line_bytes + 2);
    if (!carry.empty()) std::memmove(own.data(), carry.data(), carry.size());
    return std::span<char>(own).subspan(carry.size());
  };
  std::string_view carry;
  while (true) {
    const std::span<char> room = space ? space(carry) : own_room(carry);
    ssize_t n = ::read(fd_, room.data(), std::min(room.size(), options_.read_bytes));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return Status::IOError("cannot read '" + path_ + "': " + std::strerror(errno));
    if (n == 0) break;
    bytes_read_ += static_cast<uint64_t>(n);
    const std::string_view read(room.data() - carry.size(), carry.size() + static_cast<size_t>(n));
    size_t whole = 0;  // bytes up to the last '\n', which only the new bytes may hold
    if (const void* nl = ::memrchr(room.data(), '\n', static_cast<size_t>(n))) {
      whole = static_cast<size_t>(static_cast<const char*>(nl) - read.data()) + 1;
      splitter.Feed(read.substr(0, whole), handle);
    }
    carry = read.substr(whole);
    if (carry.size() > options_.max_line_bytes + 1) {
      splitter.Feed(carry, handle);
      carry = read.substr(read.size());  // empty, where the read ended
    }
  }
  if (!carry.empty()) splitter.Feed(carry, handle);
  splitter.Flush(handle);   // the file is complete: a last line without '\n' is a line
  release_held(mtime_ms_);  // a file with no time stamp at all
  return Status::Ok();
}

}  // namespace ember::cli
