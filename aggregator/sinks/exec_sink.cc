#include "aggregator/sinks/exec_sink.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <chrono>
#include <cstring>

#include <spdlog/spdlog.h>

extern char** environ;

namespace ember::aggregator {
namespace {

constexpr size_t kMaxCapturedOutput = 4096;

int64_t NowMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

std::string EnvName(const char* prefix, const std::string& field) {
  std::string out = prefix;
  for (char c : field) {
    out += std::isalnum(static_cast<unsigned char>(c))
               ? static_cast<char>(std::toupper(static_cast<unsigned char>(c)))
               : '_';
  }
  return out;
}

std::string ExitDescription(int status) {
  if (WIFEXITED(status)) return "exit status " + std::to_string(WEXITSTATUS(status));
  if (WIFSIGNALED(status)) return std::string("killed by signal ") + strsignal(WTERMSIG(status));
  return "ended with wait status " + std::to_string(status);
}

}  // namespace

ExecSink::ExecSink(const ExecOutput& options) : timeout_ms_(options.timeout_ms) {
  // One string is a shell command line; a list is run as is.
  argv_ = options.command.size() == 1
              ? std::vector<std::string>{"/bin/sh", "-c", options.command[0]}
              : options.command;
  StartWorker();
}

std::string ExecSink::Describe() const {
  return "exec '" + (argv_.size() == 3 && argv_[0] == "/bin/sh" ? argv_[2] : argv_[0]) + "'";
}

std::vector<std::string> ExecSink::AlertEnvironment(const engine::Alert& a) {
  std::string key;
  for (const auto& [name, value] : a.fields) {
    if (!key.empty()) key += ',';
    key += name + "=" + value;
  }
  std::vector<std::string> env = {
      "EMBER_ALERT_ID=" + a.id,
      "EMBER_RULE=" + a.rule,
      "EMBER_RULE_DIGEST=" + a.rule_digest,
      std::string("EMBER_STATE=") + engine::AlertStateName(a.state),
      std::string("EMBER_SEVERITY=") + rules::SeverityName(a.severity),
      "EMBER_KEY=" + key,
      "EMBER_COUNT=" + std::to_string(a.count),
      "EMBER_WINDOW_START=" + engine::FormatIsoMs(a.window_start_ms),
      "EMBER_WINDOW_END=" + engine::FormatIsoMs(a.window_end_ms),
      "EMBER_MESSAGE=" + a.message,
  };
  for (const auto& [name, value] : a.fields) {
    env.push_back(EnvName("EMBER_FIELD_", name) + "=" + value);
  }
  for (const auto& [name, value] : a.labels) {
    env.push_back(EnvName("EMBER_LABEL_", name) + "=" + value);
  }
  if (a.repeat) env.push_back("EMBER_REPEAT=1");
  if (a.late) env.push_back("EMBER_LATE=1");
  if (!a.evidence.empty()) {  // where the first match came from
    env.push_back("EMBER_SOURCE_HOST=" + a.evidence[0].host);
    env.push_back("EMBER_SOURCE_FILE=" + a.evidence[0].file);
    env.push_back("EMBER_SOURCE_AGENT=" + a.evidence[0].agent);
  }
  // A NUL byte would cut a variable short; the JSON on stdin carries the exact bytes.
  for (auto& e : env) std::replace(e.begin(), e.end(), '\0', ' ');
  return env;
}

bool ExecSink::Deliver(const engine::Alert& alert) {
  const std::string input = engine::AlertToJson(alert) + "\n";
  int in[2], out[2];
  if (::pipe2(in, O_CLOEXEC) != 0) {
    spdlog::error("{}: cannot create a pipe: {}", Describe(), std::strerror(errno));
    return false;
  }
  if (::pipe2(out, O_CLOEXEC) != 0) {
    spdlog::error("{}: cannot create a pipe: {}", Describe(), std::strerror(errno));
    ::close(in[0]);
    ::close(in[1]);
    return false;
  }
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_adddup2(&actions, in[0], 0);
  posix_spawn_file_actions_adddup2(&actions, out[1], 1);
  posix_spawn_file_actions_adddup2(&actions, out[1], 2);
  posix_spawnattr_t attr;
  posix_spawnattr_init(&attr);
  // Its own process group (so a timeout kills what it started), default signal dispositions
  // and an empty mask (the aggregator blocks and ignores some), whatever this process has.
  sigset_t none, defaults;
  sigemptyset(&none);
  sigemptyset(&defaults);
  sigaddset(&defaults, SIGPIPE);
  sigaddset(&defaults, SIGXFSZ);
  posix_spawnattr_setsigmask(&attr, &none);
  posix_spawnattr_setsigdefault(&attr, &defaults);
  posix_spawnattr_setpgroup(&attr, 0);
  posix_spawnattr_setflags(&attr,
                           POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
  std::vector<std::string> env_strings;
  for (char** e = environ; *e != nullptr; ++e) {
    if (std::strncmp(*e, "EMBER_", 6) != 0) env_strings.emplace_back(*e);
  }
  for (auto& e : AlertEnvironment(alert)) env_strings.push_back(std::move(e));
  std::vector<char*> envp, argv;
  for (auto& e : env_strings) envp.push_back(e.data());
  envp.push_back(nullptr);
  std::vector<std::string> args = argv_;
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  pid_t pid = 0;
  const int spawn_error = posix_spawnp(&pid, argv[0], &actions, &attr, argv.data(), envp.data());
  posix_spawn_file_actions_destroy(&actions);
  posix_spawnattr_destroy(&attr);
  ::close(in[0]);
  ::close(out[1]);
  if (spawn_error != 0) {
    ::close(in[1]);
    ::close(out[0]);
    spdlog::error("{}: cannot run '{}': {}", Describe(), argv_[0], std::strerror(spawn_error));
    return false;
  }
  ::fcntl(in[1], F_SETFL, O_NONBLOCK);
  ::fcntl(out[0], F_SETFL, O_NONBLOCK);
  const int64_t deadline = NowMs() + timeout_ms_;
  size_t written = 0;
  int stdin_fd = in[1], stdout_fd = out[0];
  std::string output;
  bool timed_out = false;
  int status = 0;
  bool reaped = false;
  while (!reaped) {
    const int64_t left = deadline - NowMs();
    if (left <= 0) {
      timed_out = true;
      break;
    }
    pollfd fds[2];
    int n = 0;
    if (stdin_fd >= 0) fds[n++] = {stdin_fd, POLLOUT, 0};
    if (stdout_fd >= 0) fds[n++] = {stdout_fd, POLLIN, 0};
    // With both pipes done, wait for the exit in short steps.
    ::poll(fds, static_cast<nfds_t>(n),
           static_cast<int>(n == 0 ? std::min<int64_t>(left, 10) : std::min<int64_t>(left, 100)));
    for (int i = 0; i < n; ++i) {
      if (fds[i].fd == stdin_fd && fds[i].revents != 0) {
        ssize_t w = ::write(stdin_fd, input.data() + written, input.size() - written);
        if (w > 0) written += static_cast<size_t>(w);
        // Done, or the command closed its stdin without reading it all (that is its choice).
        if (written == input.size() || (w < 0 && errno != EAGAIN)) {
          ::close(stdin_fd);
          stdin_fd = -1;
        }
      } else if (fds[i].fd == stdout_fd && fds[i].revents != 0) {
        char buf[4096];
        ssize_t r = ::read(stdout_fd, buf, sizeof buf);
        if (r > 0 && output.size() < kMaxCapturedOutput) {
          output.append(buf, std::min(static_cast<size_t>(r), kMaxCapturedOutput - output.size()));
        }
        if (r == 0 || (r < 0 && errno != EAGAIN)) {
          ::close(stdout_fd);
          stdout_fd = -1;
        }
      }
    }
    if (::waitpid(pid, &status, WNOHANG) == pid) reaped = true;
  }
  // What it wrote just before exiting (a background child may keep the pipe open: no wait).
  while (stdout_fd >= 0 && output.size() < kMaxCapturedOutput) {
    char buf[4096];
    ssize_t r = ::read(stdout_fd, buf, sizeof buf);
    if (r <= 0) break;
    output.append(buf, std::min(static_cast<size_t>(r), kMaxCapturedOutput - output.size()));
  }
  if (timed_out) {
    ::kill(-pid, SIGKILL);
    ::waitpid(pid, &status, 0);
  }
  if (stdin_fd >= 0) ::close(stdin_fd);
  if (stdout_fd >= 0) ::close(stdout_fd);
  while (!output.empty() && (output.back() == '\n' || output.back() == '\r')) output.pop_back();
  if (timed_out) {
    spdlog::error("{}: alert {} ({}): killed after the {} ms timeout. Output: {}", Describe(),
                  alert.id, alert.rule, timeout_ms_, output.empty() ? "(none)" : output);
    return false;
  }
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    spdlog::error("{}: alert {} ({}): {}. Output: {}", Describe(), alert.id, alert.rule,
                  ExitDescription(status), output.empty() ? "(none)" : output);
    return false;
  }
  return true;
}

}  // namespace ember::aggregator
