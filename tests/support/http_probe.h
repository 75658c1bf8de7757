// Raw HTTP over a plain TCP socket on loopback, for tests that send what no client library
// would: half requests, bare LF line ends, floods of idle connections.
#pragma once

#include <cstdint>
#include <string>

namespace ember::test {

// A connected socket to 127.0.0.1:port, or -1.
int Connect(uint16_t port);
// Sends all of `data` (no SIGPIPE); false on error.
bool SendAll(int fd, const std::string& data);
// One whole HTTP answer from `fd`: its head and Content-Length bytes of body (none after
// HEAD), or what came within 5 s. An answer without Content-Length is never whole. `*closed`
// tells whether the peer closed.
std::string ReadAnswer(int fd, bool head_request = false, bool* closed = nullptr);
// Whether the peer closes `fd` within `timeout_ms` (bytes it sends first are dropped).
bool PeerCloses(int fd, int timeout_ms);

}  // namespace ember::test
