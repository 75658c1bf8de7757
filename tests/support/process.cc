#include "tests/support/process.h"

#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <set>
#include <stdexcept>
#include <thread>

#include "tests/support/temp_dir.h"

namespace ember::test {

int AnyFreeLoopbackPort();

Process::Process(const std::vector<std::string>& argv, const std::string& out_path,
                 const std::string& err_path, const std::vector<std::string>& env) {
  std::vector<char*> args;
  for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  pid_ = ::fork();
  if (pid_ < 0) throw std::runtime_error("fork failed");
  if (pid_ == 0) {
    int out = ::open(out_path.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
    int err = ::open(err_path.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
    ::dup2(out, STDOUT_FILENO);
    ::dup2(err, STDERR_FILENO);
    int devnull = ::open("/dev/null", O_RDONLY);
    ::dup2(devnull, STDIN_FILENO);
    sigset_t none;
    sigemptyset(&none);
    ::sigprocmask(SIG_SETMASK, &none, nullptr);
    for (const auto& e : env) ::putenv(const_cast<char*>(e.c_str()));
    ::execvp(args[0], args.data());  // PATH lookup for curl, python3, ...
    ::_exit(127);
  }
  running_ = true;
}

Process::~Process() {
  if (running_) {
    ::kill(pid_, SIGKILL);
    Wait(std::chrono::seconds(10));
  }
}

bool Process::Maps(const std::string& name) const {
  return ReadFile("/proc/" + std::to_string(pid_) + "/maps").find(name) != std::string::npos;
}

void Process::Signal(int signo) {
  if (running_) ::kill(pid_, signo);
}

bool Process::Wait(std::chrono::milliseconds timeout) {
  if (!running_) return true;
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (true) {
    int status = 0;
    pid_t r = ::waitpid(pid_, &status, WNOHANG);
    if (r == pid_) {
      running_ = false;
      if (WIFEXITED(status)) exit_code_ = WEXITSTATUS(status);
      if (WIFSIGNALED(status)) signal_ = WTERMSIG(status);
      return true;
    }
    if (std::chrono::steady_clock::now() >= deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
}

ProcessResult RunCommand(const std::vector<std::string>& argv, std::chrono::milliseconds timeout) {
  TempDir dir;
  ProcessResult result;
  {
    Process p(argv, dir.Sub("out"), dir.Sub("err"));
    if (p.Wait(timeout)) {
      result.exit_code = p.exit_code();
      result.signal = p.term_signal();
    }
  }
  result.out = ReadFile(dir.Sub("out"));
  result.err = ReadFile(dir.Sub("err"));
  return result;
}

bool WaitUntil(const std::function<bool()>& condition, std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    if (condition()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  return condition();
}

int FreeLoopbackPort() {
  // Never the same port twice in one test process (a cluster takes several at once).
  static std::set<int> handed_out;
  for (int attempt = 0; attempt < 100; ++attempt) {
    int port = AnyFreeLoopbackPort();
    if (handed_out.insert(port).second) return port;
  }
  return AnyFreeLoopbackPort();
}

int AnyFreeLoopbackPort() {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = 0;
  ::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr);
  socklen_t len = sizeof addr;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  int port = ntohs(addr.sin_port);
  ::close(fd);
  return port;
}

}  // namespace ember::test
