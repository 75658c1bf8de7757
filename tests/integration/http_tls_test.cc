// The HTTP endpoints behind TLS and authentication, checked with curl: a CA and certificates
// made by openssl in the test, a password hashed by `openssl passwd`, a real aggregator and
// agent serving /metrics over https, and `ember top` reaching them with credentials.
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include <catch2/catch.hpp>

#include "common/http_server.h"
#include "common/web_config.h"
#include "tests/support/cluster.h"
#include "tests/support/pki.h"
#include "tests/support/web_changes.h"

using namespace ember;
using namespace ember::test;

namespace {

constexpr const char* kToken = "0123456789abcdef0123456789";

// A crypt(3) hash of `password` made by openssl.
std::string PasswordHash(const std::string& password) {
  ProcessResult hash = RunCommand({"openssl", "passwd", "-6", password});
  REQUIRE(hash.exit_code == 0);
  return hash.out.substr(0, hash.out.find('\n'));
}

// The web configuration for `pki`: TLS with the server certificate, user alice with a hash
// openssl made of "scrape-secret", a bearer token, and `extra` lines under tls_server_config.
std::string WriteWebConfig(const TempDir& dir, const std::string& pki, const std::string& extra) {
  const std::string line = PasswordHash("scrape-secret");
  dir.Write("password", "scrape-secret\n");
  dir.Write("wrong-password", "guess\n");
  dir.Write("token", std::string(kToken) + "\n");
  return dir.Write("web.yaml", "tls_server_config:\n  cert_file: " + pki + "server.pem\n" +
                                   "  key_file: " + pki + "server.key\n" + extra +
                                   "basic_auth_users:\n  alice: '" + line + "'\n" +
                                   "bearer_token_file: token\n");
}

// A server on a free loopback port with the web configuration at `web_yaml`, answering every
// path with a page. With `changes`, it checks the configuration's files at every connection
// and tells `changes` what became of them, holding a changed one to `check`.
std::unique_ptr<HttpServer> StartServer(const std::string& web_yaml, WebChanges* changes = nullptr,
                                        std::function<Status(const WebConfig&)> check = nullptr) {
  auto web = LoadWebConfig(web_yaml);
  INFO(web.status().ToString());
  REQUIRE(web.ok());
  HttpServerOptions options;
  options.listen = "127.0.0.1:0";
  options.web = *web;
  if (changes != nullptr) {
    options.web_check_interval = std::chrono::milliseconds(0);
    options.on_web_change = [changes](const Status& s) { changes->Add(s); };
    options.check_web = std::move(check);
  }
  auto server = HttpServer::Start(options, [](const HttpRequest&) -> HttpResponse {
    return {200, "text/plain", "secret page\n"};
  });
  REQUIRE(server.ok());
  return std::move(*server);
}

// curl's HTTP status for `url` with `args` ("000" when no HTTP answer came).
std::string CurlStatus(const std::string& url, std::vector<std::string> args) {
  std::vector<std::string> argv = {"curl", "-s",           "-o",         "/dev/null",
                                   "-w",   "%{http_code}", "--max-time", "5"};
  argv.insert(argv.end(), args.begin(), args.end());
  argv.push_back(url);
  return RunCommand(argv).out;
}

// The subject of the certificate the server at `url` shows curl, "" when it shows none.
std::string ServedSubject(const std::string& url, const std::string& ca) {
  ProcessResult r =
      RunCommand({"curl", "-sv", "--max-time", "5", "--cacert", ca, "-o", "/dev/null", url});
  const size_t at = r.err.find("subject: ");
  if (at == std::string::npos) return "";
  return r.err.substr(at + 9, r.err.find('\n', at) - at - 9);
}

}  // namespace

TEST_CASE("HttpServer over TLS: passwords and tokens checked, wrong CA and plain HTTP refused",
          "[http][tls][integration]") {
  TempDir dir;
  const std::string pki = dir.Sub("pki/");
  REQUIRE(MakeTestPki(pki));
  auto server = StartServer(WriteWebConfig(dir, pki, ""));
  const std::string port = std::to_string(server->port());
  const std::string url = "https://localhost:" + port + "/metrics";
  const std::string ca = pki + "ca.pem";
  CHECK(CurlStatus(url, {"--cacert", ca}) == "401");
  CHECK(CurlStatus(url, {"--cacert", ca, "-u", "alice:scrape-secret"}) == "200");
  CHECK(CurlStatus(url, {"--cacert", ca, "-u", "alice:guess"}) == "401");
  CHECK(CurlStatus(url, {"--cacert", ca, "-u", "mallory:scrape-secret"}) == "401");
  CHECK(CurlStatus(url, {"--cacert", ca, "-H", std::string("Authorization: Bearer ") + kToken}) ==
        "200");
  CHECK(CurlStatus(url, {"--cacert", ca, "-H", "Authorization: Bearer nope"}) == "401");
  // The 401 says how to authenticate.
  ProcessResult head =
      RunCommand({"curl", "-s", "-D", "-", "-o", "/dev/null", "--cacert", ca, url});
  CHECK(head.out.find("WWW-Authenticate: Basic realm=\"ember\"") != std::string::npos);
  // A client that does not trust the server's CA, and one speaking plain HTTP, get nothing.
  CHECK(CurlStatus(url, {"--cacert", pki + "other.pem", "-u", "alice:scrape-secret"}) == "000");
  CHECK(CurlStatus("http://127.0.0.1:" + port + "/metrics", {"-u", "alice:scrape-secret"}) ==
        "000");
  // A failed handshake is counted when the server has read the client's goodbye, which may
  // come after curl has exited: wait for it.
  CHECK(WaitUntil([&] { return server->stats().tls_failures == 2; }, 3s));
  const HttpServerStats stats = server->stats();
  CHECK(stats.requests == 2);
  CHECK(stats.unauthorized == 5);
  CHECK(stats.tls_failures == 2);
  // The server still serves after the failures.
  CHECK(CurlStatus(url, {"--cacert", ca, "-u", "alice:scrape-secret"}) == "200");
}

TEST_CASE("HttpServer over mutual TLS: no client certificate, no connection",
          "[http][tls][integration]") {
  TempDir dir;
  const std::string pki = dir.Sub("pki/");
  REQUIRE(MakeTestPki(pki));
  auto server = StartServer(WriteWebConfig(
      dir, pki,
      "  client_ca_file: " + pki + "ca.pem\n  client_auth_type: RequireAndVerifyClientCert\n"));
  const std::string url = "https://localhost:" + std::to_string(server->port()) + "/metrics";
  const std::vector<std::string> trust = {"--cacert", pki + "ca.pem", "-u", "alice:scrape-secret"};
  CHECK(CurlStatus(url, trust) == "000");
  auto with_cert = trust;
  with_cert.insert(with_cert.end(), {"--cert", pki + "client.pem", "--key", pki + "client.key"});
  CHECK(CurlStatus(url, with_cert) == "200");
  CHECK(WaitUntil([&] { return server->stats().tls_failures == 1; }, 3s));
  CHECK(server->stats().tls_failures == 1);
}

TEST_CASE("HttpServer over TLS: a renewed certificate and other users without a restart",
          "[http][tls][integration]") {
  TempDir dir;
  const std::string pki = dir.Sub("pki/");
  REQUIRE(MakeTestPki(pki));
  const std::string web = WriteWebConfig(dir, pki, "");
  WebChanges changes;
  auto server = StartServer(web, &changes);
  const std::string url = "https://localhost:" + std::to_string(server->port()) + "/metrics";
  const std::string ca = pki + "ca.pem";
  const std::vector<std::string> alice = {"--cacert", ca, "-u", "alice:scrape-secret"};
  CHECK(ServedSubject(url, ca).find("localhost") != std::string::npos);
  CHECK(ServedSubject(url, ca).find("renewed") == std::string::npos);
  // Renewed as certbot does: a new certificate and key, each renamed over the old one.
  const std::string first_key = ReadFile(pki + "server.key");
  dir.Replace("pki/server.pem", ReadFile(pki + "renewed.pem"));
  dir.Replace("pki/server.key", ReadFile(pki + "renewed.key"));
  CHECK(ServedSubject(url, ca).find("renewed") != std::string::npos);
  CHECK(CurlStatus(url, alice) == "200");
  CHECK(server->stats().web_reloads == 1);
  CHECK(changes.last() == "ok");
  // A key that does not belong to the certificate: refused with the cause, the renewed pair
  // still served, and not tried again until a file changes.
  dir.Replace("pki/server.key", first_key);
  CHECK(ServedSubject(url, ca).find("renewed") != std::string::npos);
  CHECK(CurlStatus(url, alice) == "200");
  CHECK(server->stats().web_reload_failures == 1);
  CHECK(changes.count() == 2);
  INFO(changes.last());
  CHECK(changes.last().find("key_file '" + pki + "server.key'") != std::string::npos);
  CHECK(changes.last().find("mismatch") != std::string::npos);
  CHECK(changes.last().find(web) != std::string::npos);
  dir.Replace("pki/server.key", ReadFile(pki + "renewed.key"));
  CHECK(CurlStatus(url, alice) == "200");
  CHECK(server->stats().web_reloads == 2);
  // Another password for alice: the old one no longer opens the page.
  const std::string tls =
      "tls_server_config:\n  cert_file: " + pki + "server.pem\n  key_file: " + pki + "server.key\n";
  const std::string users = "basic_auth_users:\n  alice: '" + PasswordHash("new-secret") + "'\n";
  dir.Replace("web.yaml", tls + users);
  CHECK(CurlStatus(url, alice) == "401");
  CHECK(CurlStatus(url, {"--cacert", ca, "-u", "alice:new-secret"}) == "200");
  CHECK(server->stats().web_reloads == 3);
  // Turning TLS off takes a restart: refused, TLS still served.
  dir.Replace("web.yaml", users);
  CHECK(CurlStatus(url, {"--cacert", ca, "-u", "alice:new-secret"}) == "200");
  CHECK(server->stats().web_reload_failures == 2);
  CHECK(changes.last().find("turning TLS off takes a restart") != std::string::npos);
}

// Both daemons serve https with authentication when their config names a web configuration;
// `ember top -c` finds the aggregator over https with the token file the config names.
TEST_CASE("Daemons serve /metrics over TLS with authentication, ember top reaches it",
          "[http][tls][integration]") {
  Cluster c(kShortRule);
  const std::string pki = c.dir.Sub("pki/");
  REQUIRE(MakeTestPki(pki));
  const std::string web = WriteWebConfig(c.dir, pki, "");
  c.dir.Append("aggregator.yaml", "http_web_config: " + web + "\n");
  std::string agent = ReadFile(c.dir.Sub("agent.yaml"));
  c.dir.Write("agent.yaml", "http_web_config: " + web + "\n" + agent);
  c.StartAggregator();
  c.StartAgent();
  const std::string ca = pki + "ca.pem";
  for (int port : {c.http_port, c.agent_http_port}) {
    const std::string url = "https://localhost:" + std::to_string(port) + "/metrics";
    INFO(url);
    CHECK(CurlStatus(url, {"--cacert", ca}) == "401");
    ProcessResult page = RunCommand(
        {"curl", "-sS", "--max-time", "5", "--cacert", ca, "-u", "alice:scrape-secret", url});
    CHECK(page.out.find("ember_http_unauthorized_total 1\n") != std::string::npos);
    CHECK(CurlStatus("http://127.0.0.1:" + std::to_string(port) + "/metrics", {}) == "000");
  }
  // -c gives https:// and the token; the certificate names localhost, so --url names it too.
  ProcessResult top =
      RunCommand({EMBER_CLI_BIN, "top", "--once", "-c", c.dir.Sub("aggregator.yaml"), "--url",
                  "https://localhost:" + std::to_string(c.http_port), "--ca-file", ca});
  INFO(top.err);
  CHECK(top.exit_code == 0);
  CHECK(top.out.find("test-agent") != std::string::npos);
  ProcessResult wrong = RunCommand(
      {EMBER_CLI_BIN, "top", "--once", "--url", "https://localhost:" + std::to_string(c.http_port),
       "--ca-file", ca, "--user", "alice", "--password-file", c.dir.Sub("wrong-password")});
  INFO(wrong.out << wrong.err);
  CHECK(wrong.exit_code != 0);
  CHECK(wrong.err.find("HTTP 401") != std::string::npos);
  ProcessResult basic = RunCommand(
      {EMBER_CLI_BIN, "top", "--once", "--url", "https://localhost:" + std::to_string(c.http_port),
       "--ca-file", ca, "--user", "alice", "--password-file", c.dir.Sub("password")});
  CHECK(basic.exit_code == 0);
  // A renewed certificate: served by both without a restart (each checks its files at most
  // once a second), and the daemons say so.
  c.dir.Replace("pki/server.pem", ReadFile(pki + "renewed.pem"));
  c.dir.Replace("pki/server.key", ReadFile(pki + "renewed.key"));
  for (int port : {c.http_port, c.agent_http_port}) {
    const std::string url = "https://localhost:" + std::to_string(port) + "/metrics";
    INFO(url);
    CHECK(WaitUntil([&] { return ServedSubject(url, ca).find("renewed") != std::string::npos; },
                    10s));
  }
  const std::string said = "web.yaml: read again after its files changed";
  CHECK(c.AggregatorLogs().find(said) != std::string::npos);
  CHECK(c.AgentLogs().find(said) != std::string::npos);
}
