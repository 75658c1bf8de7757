// Parsing and checking the addresses in configuration files: HTTP listen addresses and
// ZeroMQ endpoints. Pure functions; thread-safe.
#pragma once

#include <cstdint>
#include <string>

#include "common/status.h"

namespace ember {

// "host:port", "[v6]:port"; port 0 picks a free one. Errors: malformed address.
struct HostPort {
  std::string host;
  uint16_t port = 0;
};
Result<HostPort> ParseHostPort(const std::string& text);

// Whether `host` (as ParseHostPort leaves it, or "localhost") reaches this machine only:
// 127.0.0.0/8, ::1, localhost.
bool IsLoopbackHost(const std::string& host);

// Checks a ZeroMQ endpoint: "tcp://host:port" with a port of 1 to 65535, or "ipc://path".
// InvalidArgument naming the endpoint and the problem.
Status CheckZmqEndpoint(const std::string& endpoint);

}  // namespace ember
