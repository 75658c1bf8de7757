// HttpServer's thread serving a published snapshot while the owner thread replaces it, and
// clients on other threads asking at the same time.
#include "common/http_server.h"

#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <thread>
#include <vector>

#include <catch2/catch.hpp>

#include "common/http_client.h"
#include "common/metrics.h"

using namespace ember;

TEST_CASE("HttpServer: concurrent scrapes see whole snapshots while the owner publishes",
          "[common][http][threads][integration]") {
  PublishedText page;
  page.Set("version 0\n");
  auto server = HttpServer::Start("127.0.0.1:0", [&](const struct HttpRequest& r) -> HttpResponse {
    if (r.path != "/metrics") return {404, "text/plain", "not found\n"};
    return {200, "text/plain", *page.Get()};
  });
  REQUIRE(server.ok());
  const std::string url = "http://127.0.0.1:" + std::to_string((*server)->port()) + "/metrics";
  std::atomic<bool> done{false};
  std::thread publisher([&] {
    for (int i = 1; !done.load(); ++i) page.Set("version " + std::to_string(i) + "\n");
  });
  std::vector<std::thread> clients;
  std::atomic<int> ok{0}, whole{0};
  for (int c = 0; c < 4; ++c) {
    clients.emplace_back([&] {
      for (int i = 0; i < 25; ++i) {
        auto r = HttpFetch("GET", url, "", {}, 5000);
        if (!r.ok() || r->status != 200) continue;
        ++ok;
        if (r->body.rfind("version ", 0) == 0 && r->body.back() == '\n') ++whole;
      }
    });
  }
  for (auto& t : clients) t.join();
  done = true;
  publisher.join();
  CHECK(ok == 100);
  CHECK(whole == 100);
  auto missing = HttpFetch("GET", "http://127.0.0.1:" + std::to_string((*server)->port()) + "/x",
                           "", {}, 5000);
  REQUIRE(missing.ok());
  CHECK(missing->status == 404);
}

// A flood of idle connections from one client: a scrape is still answered at once, because
// new connections close the oldest.
TEST_CASE("HttpServer: hundreds of idle connections do not keep a scrape out",
          "[common][http][integration]") {
  auto server = HttpServer::Start("127.0.0.1:0", [](const struct HttpRequest&) -> HttpResponse {
    return {200, "text/plain", "ok\n"};
  });
  REQUIRE(server.ok());
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = htons((*server)->port());
  // 300 connections that send nothing (bounded: this test opens no more).
  std::vector<int> idle;
  for (int i = 0; i < 300; ++i) {
    const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    REQUIRE(fd >= 0);
    REQUIRE(::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0);
    idle.push_back(fd);
  }
  const auto started = std::chrono::steady_clock::now();
  auto r = HttpFetch("GET", "http://127.0.0.1:" + std::to_string((*server)->port()) + "/metrics",
                     "", {}, 5000);
  const auto took = std::chrono::steady_clock::now() - started;
  for (int fd : idle) ::close(fd);
  REQUIRE(r.ok());
  CHECK(r->status == 200);
  CHECK(took < std::chrono::seconds(1));
}
