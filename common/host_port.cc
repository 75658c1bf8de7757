#include "common/host_port.h"

namespace ember {

Result<HostPort> ParseHostPort(const std::string& text) {
  size_t colon = text.rfind(':');
  if (colon == std::string::npos || colon == 0 || colon + 1 == text.size()) {
    return Status::InvalidArgument("'" + text + "' is not host:port (e.g. 127.0.0.1:7451)");
  }
  HostPort hp;
  hp.host = text.substr(0, colon);
  if (hp.host.front() == '[' && hp.host.back() == ']')
    hp.host = hp.host.substr(1, hp.host.size() - 2);
  const std::string port = text.substr(colon + 1);
  if (port.size() > 5 || port.find_first_not_of("0123456789") != std::string::npos ||
      std::stoul(port) > 65535) {
    return Status::InvalidArgument("'" + text + "': bad port '" + port + "'");
  }
  hp.port = static_cast<uint16_t>(std::stoul(port));
  return hp;
}

bool IsLoopbackHost(const std::string& host) {
  return host == "localhost" || host == "::1" || host == "[::1]" || host.rfind("127.", 0) == 0;
}

Status CheckZmqEndpoint(const std::string& endpoint) {
  if (endpoint.rfind("ipc://", 0) == 0 && endpoint.size() > 6) return Status::Ok();
  if (endpoint.rfind("tcp://", 0) != 0) {
    return Status::InvalidArgument("'" + endpoint + "' must start with tcp:// or ipc://");
  }
  const size_t colon = endpoint.rfind(':');
  const std::string port = colon == std::string::npos ? "" : endpoint.substr(colon + 1);
  if (colon <= 6 || port.empty() || port.size() > 5 ||
      port.find_first_not_of("0123456789") != std::string::npos || std::stoul(port) == 0 ||
      std::stoul(port) > 65535) {
    return Status::InvalidArgument("'" + endpoint + "' needs a port from 1 to 65535 (tcp://" +
                                   "host:port)");
  }
  return Status::Ok();
}

}  // namespace ember
