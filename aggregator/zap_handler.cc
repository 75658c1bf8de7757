#include "aggregator/zap_handler.h"

#include <set>

#include <spdlog/spdlog.h>
#include <zmq.hpp>
#include <zmq_addon.hpp>

#include "common/log_limiter.h"
#include "common/system.h"

namespace ember::aggregator {
namespace {
constexpr size_t kMaxLoggedRefusals = 1024;
}  // namespace

Result<std::unique_ptr<ZapHandler>> ZapHandler::Start(
    zmq::context_t& context, std::map<std::string, std::string> authorized) {
  std::unique_ptr<ZapHandler> handler(new ZapHandler());
  handler->authorized_ = std::move(authorized);
  auto socket = std::make_unique<zmq::socket_t>(context, zmq::socket_type::rep);
  try {
    socket->set(zmq::sockopt::linger, 0);
    socket->bind("inproc://zeromq.zap.01");
  } catch (const zmq::error_t& e) {
    return Status::Unavailable(std::string("cannot bind the ZAP handler: ") + e.what());
  }
  handler->thread_ = std::thread([h = handler.get(), s = socket.release()] {
    h->Loop(s);
    delete s;
  });
  return handler;
}

ZapHandler::~ZapHandler() {
  stop_ = true;
  if (thread_.joinable()) thread_.join();
}

void ZapHandler::SetAuthorized(std::map<std::string, std::string> authorized) {
  std::lock_guard<std::mutex> lock(mu_);
  authorized_ = std::move(authorized);
}

void ZapHandler::Loop(void* raw) {
  auto& socket = *static_cast<zmq::socket_t*>(raw);
  std::set<std::string> logged;  // refused keys already logged
  LogLimiter limiter;
  while (!stop_) {
    zmq::pollitem_t item{socket.handle(), 0, ZMQ_POLLIN, 0};
    try {
      zmq::poll(&item, 1, std::chrono::milliseconds(100));
      if (!(item.revents & ZMQ_POLLIN)) continue;
      std::vector<zmq::message_t> req;
      if (!zmq::recv_multipart(socket, std::back_inserter(req))) continue;
      // version, request id, domain, address, identity, mechanism, credentials...
      std::string status = "400", text = "not authorized", user;
      std::string key_z85 = "?", address = req.size() > 3 ? req[3].to_string() : "?";
      if (req.size() >= 7 && req[0].to_string_view() == "1.0" &&
          req[5].to_string_view() == "CURVE" && req[6].size() == 32) {
        char z85[41];
        zmq_z85_encode(z85, static_cast<const uint8_t*>(req[6].data()), 32);
        key_z85 = z85;
        std::lock_guard<std::mutex> lock(mu_);
        auto it = authorized_.find(key_z85);
        if (it != authorized_.end()) {
          status = "200";
          text = "OK";
          user = it->second;
        }
      }
      if (status != "200") {
        ++refused_;
        // Each refused key and address is logged once; the memory of them is bounded (a
        // flood of new keys starts it over).
        if (logged.size() >= kMaxLoggedRefusals) logged.clear();
        uint64_t suppressed = 0;
        if (logged.insert(key_z85 + address).second && limiter.Allow(WallClockMs(), &suppressed)) {
          spdlog::warn(
              "Refused an agent with CURVE public key '{}' from {}: the key is not in "
              "the authorized keys directory.{}",
              key_z85, address, LogLimiter::SuppressedNote(suppressed));
        }
      }
      const std::string request_id = req.size() > 1 ? req[1].to_string() : std::string();
      const std::string metadata;
      std::array<zmq::const_buffer, 6> reply = {zmq::str_buffer("1.0"), zmq::buffer(request_id),
                                                zmq::buffer(status),    zmq::buffer(text),
                                                zmq::buffer(user),      zmq::buffer(metadata)};
      zmq::send_multipart(socket, reply);
    } catch (const zmq::error_t& e) {
      if (e.num() == ETERM) return;
      spdlog::error("ZAP handler: {}", e.what());
    }
  }
}

}  // namespace ember::aggregator
