// HttpServer's thread serving a published snapshot while the owner thread replaces it, and
// clients on other threads asking at the same time; its web configuration read again on its
// thread while a test's thread rewrites the files.
#include "common/http_server.h"

#include <unistd.h>

#include <atomic>
#include <chrono>
#include <thread>
#include <vector>

#include <catch2/catch.hpp>

#include "common/http_client.h"
#include "common/metrics.h"
#include "tests/support/http_probe.h"
#include "tests/support/temp_dir.h"
#include "tests/support/web_changes.h"

using namespace ember;
using namespace ember::test;

namespace {

HttpServer::Handler Fixed(std::string body) {
  return [body](const HttpRequest& r) -> HttpResponse {
    if (r.path == "/missing") return {404, "text/plain", "not found\n"};
    return {200, "text/plain", body};
  };
}

}  // namespace

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

// Keep-alive: one connection, several requests, each answered; HEAD carries the length of the
// GET answer and no body; HTTP/1.0 without keep-alive is closed after its answer.
TEST_CASE("HttpServer: keep-alive serves several requests, HEAD has the GET length",
          "[common][http][integration]") {
  auto server = HttpServer::Start("127.0.0.1:0", Fixed("twelve bytes"));
  REQUIRE(server.ok());
  const int fd = Connect((*server)->port());
  REQUIRE(fd >= 0);
  for (int i = 0; i < 3; ++i) {
    REQUIRE(SendAll(fd, "GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n"));
    const std::string answer = ReadAnswer(fd);
    CHECK(answer.rfind("HTTP/1.1 200 OK\r\n", 0) == 0);
    CHECK(answer.find("Content-Length: 12\r\n") != std::string::npos);
    CHECK(answer.substr(answer.size() - 12) == "twelve bytes");
  }
  REQUIRE(SendAll(fd, "HEAD /metrics HTTP/1.1\r\nHost: x\r\n\r\n"));
  const std::string head = ReadAnswer(fd, /*head_request=*/true);
  CHECK(head.find("Content-Length: 12\r\n") != std::string::npos);
  CHECK(head.substr(head.size() - 4) == "\r\n\r\n");
  // The connection is still usable after HEAD: no stray body bytes precede the next answer.
  REQUIRE(SendAll(fd, "GET /missing HTTP/1.1\r\nHost: x\r\n\r\n"));
  CHECK(ReadAnswer(fd).rfind("HTTP/1.1 404 Not Found\r\n", 0) == 0);
  ::close(fd);

  const int old = Connect((*server)->port());
  REQUIRE(old >= 0);
  REQUIRE(SendAll(old, "GET / HTTP/1.0\r\n\r\n"));
  bool closed = false;
  const std::string answer = ReadAnswer(old, false, &closed);
  CHECK(answer.rfind("HTTP/1.0 200 OK\r\n", 0) == 0);
  CHECK(PeerCloses(old, 2000));
  ::close(old);
  CHECK((*server)->stats().requests == 6);
}

// Malformed requests are answered with an error and closed; the server goes on serving.
TEST_CASE("HttpServer: malformed and oversized requests get 4xx and the server carries on",
          "[common][http][integration]") {
  auto server = HttpServer::Start("127.0.0.1:0", Fixed("ok\n"));
  REQUIRE(server.ok());
  const uint16_t port = (*server)->port();
  struct Case {
    std::string request;
    std::string status_line;
  };
  const std::vector<Case> cases = {
      {"GET /metrics HTTP/1.1\nHost: x\n\n", "HTTP/1.1 400 Bad Request\r\n"},  // bare LF
      // The start of a TLS ClientHello on the plain port.
      {"\x16\x03\x01\x02\x05\x01\x7f\r\n\r\n", "HTTP/1.1 400 Bad Request\r\n"},
      {"GET /metrics HTTP/1.1\r\nX: " + std::string(20000, 'a') + "\r\n\r\n",
       "HTTP/1.1 431 Request Header Fields Too Large\r\n"},
      {"POST /metrics HTTP/1.1\r\nContent-Length: 20000\r\n\r\n" + std::string(20000, 'b'),
       "HTTP/1.1 413 Payload Too Large\r\n"},
      {"GET http://example.com/metrics HTTP/1.1\r\n\r\n", "HTTP/1.1 400 Bad Request\r\n"},
  };
  for (const Case& c : cases) {
    INFO(c.request.substr(0, 40));
    const int fd = Connect(port);
    REQUIRE(fd >= 0);
    SendAll(fd, c.request);
    const std::string answer = ReadAnswer(fd);
    CHECK(answer.rfind(c.status_line, 0) == 0);
    CHECK(PeerCloses(fd, 2000));
    ::close(fd);
  }
  // Another method: 405 naming what is allowed, and the connection stays usable.
  const int fd = Connect(port);
  REQUIRE(fd >= 0);
  REQUIRE(SendAll(fd, "DELETE /metrics HTTP/1.1\r\nHost: x\r\n\r\n"));
  const std::string refused = ReadAnswer(fd);
  CHECK(refused.rfind("HTTP/1.1 405 Method Not Allowed\r\n", 0) == 0);
  CHECK(refused.find("Allow: GET, HEAD\r\n") != std::string::npos);
  CHECK(refused.find("Content-Length: 18\r\n") != std::string::npos);
  REQUIRE(SendAll(fd, "GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n"));
  CHECK(ReadAnswer(fd).rfind("HTTP/1.1 200 OK\r\n", 0) == 0);
  ::close(fd);
  CHECK((*server)->stats().bad_requests == cases.size() + 1);
  auto r = HttpFetch("GET", "http://127.0.0.1:" + std::to_string(port) + "/metrics", "", {}, 5000);
  REQUIRE(r.ok());
  CHECK(r->status == 200);
}

// A slow-client flood: hundreds of connections that send half a request and then nothing. A new
// scrape is answered within a second, and a scraper's kept-alive connection survives.
TEST_CASE("HttpServer: a slow-client flood keeps out neither a new nor a kept-alive scraper",
          "[common][http][integration]") {
  auto server = HttpServer::Start("127.0.0.1:0", Fixed("ok\n"));
  REQUIRE(server.ok());
  const uint16_t port = (*server)->port();
  const int scraper = Connect(port);
  REQUIRE(scraper >= 0);
  REQUIRE(SendAll(scraper, "GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n"));
  REQUIRE(ReadAnswer(scraper).rfind("HTTP/1.1 200", 0) == 0);
  // 300 slow clients (bounded: this test opens no more).
  std::vector<int> slow;
  for (int i = 0; i < 300; ++i) {
    const int fd = Connect(port);
    REQUIRE(fd >= 0);
    SendAll(fd, "GET /metrics HTTP/1.1\r\nHost: ");
    slow.push_back(fd);
  }
  const auto started = std::chrono::steady_clock::now();
  auto r = HttpFetch("GET", "http://127.0.0.1:" + std::to_string(port) + "/metrics", "", {}, 5000);
  const auto took = std::chrono::steady_clock::now() - started;
  REQUIRE(r.ok());
  CHECK(r->status == 200);
  CHECK(took < std::chrono::seconds(1));
  REQUIRE(SendAll(scraper, "GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n"));
  CHECK(ReadAnswer(scraper).rfind("HTTP/1.1 200", 0) == 0);
  for (int fd : slow) ::close(fd);
  ::close(scraper);
  CHECK((*server)->stats().evicted >= 300 - 64);
}

// A request that does not arrive within the request timeout closes its connection.
TEST_CASE("HttpServer: a request slower than the timeout is cut off",
          "[common][http][integration]") {
  HttpServerOptions options;
  options.listen = "127.0.0.1:0";
  options.request_timeout = std::chrono::milliseconds(300);
  auto server = HttpServer::Start(options, Fixed("ok\n"));
  REQUIRE(server.ok());
  const int fd = Connect((*server)->port());
  REQUIRE(fd >= 0);
  SendAll(fd, "GET /metrics HTTP/1.1\r\n");
  CHECK(PeerCloses(fd, 3000));
  ::close(fd);
  // The socket closes before the server's read handler counts the timeout: wait for it.
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(3);
  while ((*server)->stats().timeouts == 0 && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  CHECK((*server)->stats().timeouts == 1);
}

TEST_CASE("HttpServer: a rotated token is taken, a configuration the daemon refuses is not",
          "[common][http][threads][integration]") {
  TempDir dir;
  dir.Replace("token", "first-token-0123456789\n");
  auto web = LoadWebConfig(dir.Replace("web.yaml", "bearer_token_file: token\n"));
  REQUIRE(web.ok());
  WebChanges changes;
  HttpServerOptions options;
  options.listen = "127.0.0.1:0";
  options.web = *web;
  options.web_check_interval = std::chrono::milliseconds(0);  // at every connection
  options.on_web_change = [&](const Status& s) { changes.Add(s); };
  options.check_web = [](const WebConfig& w) {
    return w.Authenticates() ? Status::Ok() : Status::InvalidArgument(w.path + ": open to all");
  };
  auto server = HttpServer::Start(options, Fixed("page\n"));
  REQUIRE(server.ok());
  const std::string url = "http://127.0.0.1:" + std::to_string((*server)->port()) + "/metrics";
  auto status_with = [&](const std::string& token) {
    HttpHeaders headers;
    if (!token.empty()) headers.emplace_back("Authorization", "Bearer " + token);
    auto r = HttpFetch("GET", url, "", headers, 5000);
    return r.ok() ? r->status : 0;
  };
  CHECK(status_with("first-token-0123456789") == 200);
  dir.Replace("token", "second-token-0123456789\n");
  CHECK(status_with("first-token-0123456789") == 401);
  CHECK(status_with("second-token-0123456789") == 200);
  CHECK((*server)->stats().web_reloads == 1);
  // Without authentication the daemon's check refuses it: the token still guards the page.
  dir.Replace("web.yaml", "{}\n");
  CHECK(status_with("") == 401);
  CHECK(changes.last().find("open to all") != std::string::npos);
  // A broken file: told once, however many connections come, until it is mended.
  dir.Replace("web.yaml", "bearer_token_file: [\n");
  CHECK(status_with("second-token-0123456789") == 200);
  CHECK(status_with("second-token-0123456789") == 200);
  CHECK((*server)->stats().web_reload_failures == 2);
  CHECK(changes.count() == 3);
  CHECK(changes.last().find("web.yaml:") != std::string::npos);
  dir.Replace("web.yaml", "bearer_token_file: token\n");
  CHECK(status_with("second-token-0123456789") == 200);
  CHECK((*server)->stats().web_reloads == 2);
  CHECK(changes.count() == 4);
  CHECK(HttpServerMetricsText((*server)->stats())
            .find("ember_http_web_config_reload_failures_total 2\n") != std::string::npos);
}
