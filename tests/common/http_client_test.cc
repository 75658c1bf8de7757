// HttpFetch against a real TCP peer on loopback that answers with a chunked body (sizes in
// upper- and lowercase hex), as Go and Python servers do for streamed replies.
#include "common/http_client.h"

#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <string>
#include <thread>

#include <catch2/catch.hpp>

TEST_CASE("HttpFetch: a chunked reply is reassembled", "[common][http][threads][integration]") {
  const int listener = ::socket(AF_INET, SOCK_STREAM, 0);
  REQUIRE(listener >= 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  REQUIRE(::bind(listener, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0);
  socklen_t len = sizeof addr;
  REQUIRE(::getsockname(listener, reinterpret_cast<sockaddr*>(&addr), &len) == 0);
  REQUIRE(::listen(listener, 1) == 0);
  const std::string body26 = "abcdefghijklmnopqrstuvwxyz";  // 0x1A bytes
  const std::string body15 = "0123456789ABCDE";             // 0xf bytes
  std::thread server([&] {
    const int c = ::accept(listener, nullptr, nullptr);
    if (c < 0) return;
    char buf[4096];
    (void)::read(c, buf, sizeof buf);  // the request (small: one read)
    const std::string reply =
        "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n"
        "1A\r\n" +
        body26 + "\r\nf\r\n" + body15 + "\r\n0\r\n\r\n";
    (void)::write(c, reply.data(), reply.size());
    ::close(c);
  });
  auto r = ember::HttpFetch("GET", "http://127.0.0.1:" + std::to_string(ntohs(addr.sin_port)) + "/",
                            "", {}, 5000);
  server.join();
  ::close(listener);
  INFO(r.status().ToString());
  REQUIRE(r.ok());
  CHECK(r->status == 200);
  CHECK(r->body == body26 + body15);
}
