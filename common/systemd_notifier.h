// SystemdNotifier: the sd_notify(3) protocol without libsystemd. Under a Type=notify unit,
// systemd passes NOTIFY_SOCKET (and WATCHDOG_USEC when WatchdogSec= is set); the daemon
// sends READY=1 once recovered and bound, WATCHDOG=1 from its event loop, RELOADING=1 /
// READY=1 around a reload and STOPPING=1 on shutdown. Outside systemd every call is a no-op.
// Not thread-safe; owned by the daemon's loop thread.
#pragma once

#include <cstdint>
#include <string>

namespace ember {

class SystemdNotifier {
 public:
  // `socket_path` from NOTIFY_SOCKET ("" = not under systemd; a leading '@' names an abstract
  // socket); `watchdog_usec` from WATCHDOG_USEC (0 = no watchdog).
  SystemdNotifier(std::string socket_path, int64_t watchdog_usec);
  // Reads NOTIFY_SOCKET and WATCHDOG_USEC. Call from main() only.
  static SystemdNotifier FromEnvironment();

  void Ready(const std::string& status);
  void Reloading();
  void Stopping();
  // Sends WATCHDOG=1 when half the watchdog interval passed since the last ping.
  void WatchdogIfDue(int64_t now_ms);
  // How often the loop must wake up at the least (ms), or 0 without a watchdog.
  int64_t watchdog_interval_ms() const { return watchdog_usec_ / 2000; }

 private:
  void Send(const std::string& message);
  std::string socket_path_;
  int64_t watchdog_usec_;
  int64_t last_ping_ms_ = 0;
};

}  // namespace ember
