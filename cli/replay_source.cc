#include "cli/replay_source.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <ctime>
#include <vector>

#include "common/line_splitter.h"
#include "common/system.h"
#include "engine/event_time.h"

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

Status ReplaySource::ReadAll(const std::function<void(const engine::InputLine&)>& on_line) {
  engine::EventTimeParser parser(options_.year, options_.zone);
  LineSplitter splitter(options_.max_line_bytes);
  std::vector<std::string> held;  // lines before the first time stamp
  bool have_time = false;
  bool deferred = false;  // the lines go out with their stamps unread
  int64_t last_time = 0;

  auto emit = [&](std::string_view text, int64_t time_ms) {
    on_line(engine::InputLine{text, options_.host, path_, time_ms, ""});
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

  std::vector<char> buf(options_.chunk_bytes);
  while (true) {
    ssize_t n = ::read(fd_, buf.data(), buf.size());
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return Status::IOError("cannot read '" + path_ + "': " + std::strerror(errno));
    if (n == 0) break;
    bytes_read_ += static_cast<uint64_t>(n);
    splitter.Feed(std::string_view(buf.data(), static_cast<size_t>(n)), handle);
  }
  splitter.Flush(handle);   // the file is complete: a last line without '\n' is a line
  release_held(mtime_ms_);  // a file with no time stamp at all
  return Status::Ok();
}

}  // namespace ember::cli
