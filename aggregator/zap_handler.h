// ZapHandler: ZeroMQ's authentication hook (ZAP, RFC 27) for CURVE. A thread answers on
// inproc://zeromq.zap.01 in the server's context: 200 with the key's name as User-Id for an
// authorized agent public key, 400 for any other (logged once per key with its address).
// libzmq lets every CURVE client in when no handler is bound, so Start() must succeed before
// the server socket binds. Thread-safe: SetAuthorized may be called from any thread.
#pragma once

#include <atomic>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include "common/status.h"

namespace zmq {
class context_t;
}

namespace ember::aggregator {

class ZapHandler {
 public:
  // `authorized`: public key (Z85) -> agent name. `context` must outlive the handler.
  // Errors: Unavailable when the ZAP endpoint cannot be bound.
  static Result<std::unique_ptr<ZapHandler>> Start(zmq::context_t& context,
                                                   std::map<std::string, std::string> authorized);
  ~ZapHandler();  // stops and joins the thread

  void SetAuthorized(std::map<std::string, std::string> authorized);
  uint64_t refused() const { return refused_.load(); }

 private:
  ZapHandler() = default;
  void Loop(void* socket);

  std::mutex mu_;
  std::map<std::string, std::string> authorized_;  // Guarded by mu_.
  std::atomic<bool> stop_{false};
  std::atomic<uint64_t> refused_{0};
  std::thread thread_;
};

}  // namespace ember::aggregator
