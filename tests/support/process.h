// Process: a child process for integration tests (a real ember-aggregator or ember-agent),
// with stdout and stderr captured to files. The destructor SIGKILLs a child still running,
// so no test leaves a process behind. Not thread-safe.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <functional>
#include <string>
#include <vector>

namespace ember::test {

struct ProcessResult {
  int exit_code = -1;  // -1 when killed by a signal or not finished
  int signal = 0;
  std::string out;
  std::string err;
};

class Process {
 public:
  // Starts argv[0] with the arguments; output goes to `out_path` / `err_path`. `env` entries
  // ("NAME=value") are added to the inherited environment.
  Process(const std::vector<std::string>& argv, const std::string& out_path,
          const std::string& err_path, const std::vector<std::string>& env = {});
  ~Process();
  Process(const Process&) = delete;
  Process& operator=(const Process&) = delete;

  pid_t pid() const { return pid_; }
  void Signal(int signo);
  // Waits up to `timeout` for the child to end. True if it ended; fills exit status fields.
  bool Wait(std::chrono::milliseconds timeout);
  bool running() const { return running_; }
  int exit_code() const { return exit_code_; }
  int term_signal() const { return signal_; }
  // Whether the running child has a shared library whose path holds `name` mapped.
  bool Maps(const std::string& name) const;

 private:
  pid_t pid_ = -1;
  bool running_ = false;
  int exit_code_ = -1;
  int signal_ = 0;
};

// Runs a command (argv[0] looked up on PATH) to completion (bounded by `timeout`), capturing
// its output.
ProcessResult RunCommand(const std::vector<std::string>& argv,
                         std::chrono::milliseconds timeout = std::chrono::seconds(60));

// Polls `condition` every 50 ms until it holds or `timeout` passes. Returns whether it held.
bool WaitUntil(const std::function<bool()>& condition, std::chrono::milliseconds timeout);

// A TCP port on 127.0.0.1 that was free a moment ago.
int FreeLoopbackPort();

}  // namespace ember::test
