#include "common/systemd_notifier.h"

#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <cstddef>
#include <cstdlib>
#include <cstring>

namespace ember {

SystemdNotifier::SystemdNotifier(std::string socket_path, int64_t watchdog_usec)
    : socket_path_(std::move(socket_path)), watchdog_usec_(watchdog_usec) {}

SystemdNotifier SystemdNotifier::FromEnvironment() {
  const char* socket = std::getenv("NOTIFY_SOCKET");
  const char* watchdog = std::getenv("WATCHDOG_USEC");
  const char* watchdog_pid = std::getenv("WATCHDOG_PID");
  int64_t usec = watchdog ? std::strtoll(watchdog, nullptr, 10) : 0;
  // The watchdog is meant for us only if WATCHDOG_PID is unset or names this process.
  if (watchdog_pid != nullptr && std::strtoll(watchdog_pid, nullptr, 10) != ::getpid()) usec = 0;
  return SystemdNotifier(socket ? socket : "", usec > 0 ? usec : 0);
}

void SystemdNotifier::Send(const std::string& message) {
  if (socket_path_.empty() || socket_path_.size() >= sizeof(sockaddr_un::sun_path)) return;
  int fd = ::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return;
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::memcpy(addr.sun_path, socket_path_.data(), socket_path_.size());
  if (addr.sun_path[0] == '@') addr.sun_path[0] = '\0';  // abstract namespace
  socklen_t len = static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + socket_path_.size());
  (void)::sendto(fd, message.data(), message.size(), MSG_NOSIGNAL,
                 reinterpret_cast<sockaddr*>(&addr), len);
  ::close(fd);
}

void SystemdNotifier::Ready(const std::string& status) { Send("READY=1\nSTATUS=" + status); }

void SystemdNotifier::Reloading() {
  timespec ts{};
  ::clock_gettime(CLOCK_MONOTONIC, &ts);
  const long long usec = static_cast<long long>(ts.tv_sec) * 1000000 + ts.tv_nsec / 1000;
  Send("RELOADING=1\nMONOTONIC_USEC=" + std::to_string(usec));
}

void SystemdNotifier::Stopping() { Send("STOPPING=1"); }

void SystemdNotifier::WatchdogIfDue(int64_t now_ms) {
  if (watchdog_usec_ == 0 || now_ms - last_ping_ms_ < watchdog_interval_ms()) return;
  last_ping_ms_ = now_ms;
  Send("WATCHDOG=1");
}

}  // namespace ember
