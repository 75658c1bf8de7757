#include "tests/support/http_probe.h"

#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>

namespace ember::test {
namespace {

// Bytes from `fd` until `done(bytes)` says a whole answer is there, the peer closes, or
// `timeout_ms` passes. `*closed` tells whether the peer closed.
template <class Done>
std::string ReadUntil(int fd, Done done, int timeout_ms, bool* closed) {
  std::string in;
  if (closed) *closed = false;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
  while (!done(in)) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) break;
    pollfd p{fd, POLLIN, 0};
    if (::poll(&p, 1, static_cast<int>(left.count())) <= 0) break;
    char buf[4096];
    const ssize_t n = ::recv(fd, buf, sizeof buf, 0);
    if (n <= 0) {
      if (closed) *closed = true;
      break;
    }
    in.append(buf, static_cast<size_t>(n));
  }
  return in;
}

}  // namespace

int Connect(uint16_t port) {
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = htons(port);
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) return -1;
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    ::close(fd);
    return -1;
  }
  return fd;
}

bool SendAll(int fd, const std::string& data) {
  return ::send(fd, data.data(), data.size(), MSG_NOSIGNAL) == static_cast<ssize_t>(data.size());
}

std::string ReadAnswer(int fd, bool head_request, bool* closed) {
  auto done = [head_request](const std::string& in) {
    const size_t end = in.find("\r\n\r\n");
    if (end == std::string::npos) return false;
    if (head_request) return true;
    const size_t cl = in.find("Content-Length: ");
    if (cl == std::string::npos || cl > end) return false;  // every answer must carry it
    return in.size() >= end + 4 + std::stoul(in.substr(cl + 16));
  };
  return ReadUntil(fd, done, 5000, closed);
}

bool PeerCloses(int fd, int timeout_ms) {
  bool closed = false;
  ReadUntil(
      fd, [](const std::string&) { return false; }, timeout_ms, &closed);
  return closed;
}

}  // namespace ember::test
