// ember-test-writer: the log-writing process of the rotation tests. Appends numbered lines
// "seq=<n> ..." to a file at a steady rate, reopens the file on SIGHUP (as daemons do after
// logrotate renames it) and exits after the last line. Every line is unique, so a test can
// check the exact multiset the aggregator counted.
//
//   ember-test-writer FILE LINES RATE [--long-every K] [--binary-every K] [--partial-every K]
//
// --long-every K: every K-th line is 100 KiB long (above the agent's 64 KiB line limit);
// --binary-every K: every K-th line carries NUL, 0xff and invalid UTF-8 bytes;
// --partial-every K: every K-th line is written in two writes 30 ms apart.
#include <fcntl.h>
#include <signal.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <thread>

namespace {

volatile sig_atomic_t reopen = 0;

void OnHup(int) { reopen = 1; }

int Open(const char* path) {
  int fd = ::open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
  if (fd < 0) {
    std::fprintf(stderr, "ember-test-writer: cannot open %s: %s\n", path, std::strerror(errno));
    std::exit(1);
  }
  return fd;
}

void WriteAll(int fd, const std::string& s) {
  size_t done = 0;
  while (done < s.size()) {
    ssize_t n = ::write(fd, s.data() + done, s.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      std::perror("ember-test-writer: write");
      std::exit(1);
    }
    done += static_cast<size_t>(n);
  }
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 4) {
    std::fprintf(stderr,
                 "usage: ember-test-writer FILE LINES RATE [--long-every K] [--binary-every K] "
                 "[--partial-every K]\n");
    return 2;
  }
  const char* path = argv[1];
  const long lines = std::atol(argv[2]);
  const double rate = std::atof(argv[3]);
  long long_every = 0, binary_every = 0, partial_every = 0;
  for (int i = 4; i + 1 < argc; i += 2) {
    const std::string flag = argv[i];
    const long k = std::atol(argv[i + 1]);
    if (flag == "--long-every") long_every = k;
    if (flag == "--binary-every") binary_every = k;
    if (flag == "--partial-every") partial_every = k;
  }
  struct sigaction sa {};
  sa.sa_handler = OnHup;
  ::sigaction(SIGHUP, &sa, nullptr);
  int fd = Open(path);
  const auto start = std::chrono::steady_clock::now();
  for (long n = 0; n < lines; ++n) {
    if (reopen) {
      reopen = 0;
      ::close(fd);
      fd = Open(path);
    }
    std::string line = "seq=" + std::to_string(n) + " ";
    if (long_every > 0 && n % long_every == long_every - 1) {
      line += std::string(100 * 1024, 'L');
    } else if (binary_every > 0 && n % binary_every == binary_every - 1) {
      line += std::string("bin \x00\xff\xfe\xc3\x28 end", 14);
    } else {
      line += "payload of an ordinary line";
    }
    line += '\n';
    if (partial_every > 0 && n % partial_every == partial_every - 1) {
      const size_t half = line.size() / 2;
      WriteAll(fd, line.substr(0, half));
      std::this_thread::sleep_for(std::chrono::milliseconds(30));
      WriteAll(fd, line.substr(half));
    } else {
      WriteAll(fd, line);
    }
    // Keep to the rate: sleep until line n+1 is due.
    const auto due = start + std::chrono::microseconds(static_cast<int64_t>((n + 1) * 1e6 / rate));
    std::this_thread::sleep_until(due);
  }
  ::close(fd);
  return 0;
}
