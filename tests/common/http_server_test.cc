// HttpServer's thread serving a published snapshot while the owner thread replaces it, and
// clients on other threads asking at the same time.
#include "common/http_server.h"

#include <atomic>
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
        auto r = HttpRequest("GET", url, "", {}, 5000);
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
  auto missing = HttpRequest("GET", "http://127.0.0.1:" + std::to_string((*server)->port()) + "/x",
                             "", {}, 5000);
  REQUIRE(missing.ok());
  CHECK(missing->status == 404);
}
