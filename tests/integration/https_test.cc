// Outputs over HTTPS against real peers: a Python receiver behind TLS with a CA made here by
// openssl, a redirect, mutual TLS, a bearer token from a file, a CONNECT proxy taken from
// HTTPS_PROXY; and refusals of a wrong CA and a wrong host name, logged.
#include <unistd.h>

#include <sstream>
#include <string>
#include <vector>

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include "tests/support/alertmanager.h"
#include "tests/support/cluster.h"
#include "tests/support/http_probe.h"
#include "tests/support/pki.h"

using namespace ember::test;
using namespace std::chrono_literals;

namespace {

bool MakePki(const TempDir& dir) { return MakeTestPki(dir.Sub("pki")); }

std::vector<nlohmann::json> JsonLinesOf(const std::string& path) {
  std::vector<nlohmann::json> out;
  std::istringstream in(ReadFile(path));
  for (std::string line; std::getline(in, line);) out.push_back(nlohmann::json::parse(line));
  return out;
}

}  // namespace

TEST_CASE(
    "HTTPS: a webhook over TLS with mTLS, a redirect, a token file and a proxy, and "
    "refusals of a wrong CA and a wrong host name",
    "[integration][https]") {
  Cluster c(kShortRule);
  REQUIRE(MakePki(c.dir));
  const std::string pki = c.dir.Sub("pki/");
  c.dir.Write("token", "s3cret-token\n");
  const int port = FreeLoopbackPort(), proxy_port = FreeLoopbackPort();
  const std::string log = c.dir.Sub("hook.jsonl"), proxy_log = c.dir.Sub("proxy.log");
  Process receiver({"python3", EMBER_SOURCE_DIR "/tests/support/http_receiver.py", "--port",
                    std::to_string(port), "--log", log, "--tls-cert", pki + "server.pem",
                    "--tls-key", pki + "server.key", "--client-ca", pki + "ca.pem",
                    "--redirect-from", "/start", "--redirect-to", "/hook", "--max-seconds", "60"},
                   c.dir.Sub("receiver.out"), c.dir.Sub("receiver.err"));
  Process proxy({"python3", EMBER_SOURCE_DIR "/tests/support/connect_proxy.py", "--port",
                 std::to_string(proxy_port), "--log", proxy_log, "--max-seconds", "60"},
                c.dir.Sub("proxy.out"), c.dir.Sub("proxy.err"));
  // Both listen before the aggregator starts: the outputs that must fail on TLS retry for
  // 1 s only, and a receiver still starting would fail them on the connection instead.
  const auto listening = [](int p) {
    const int fd = Connect(static_cast<uint16_t>(p));
    if (fd >= 0) ::close(fd);
    return fd >= 0;
  };
  REQUIRE(WaitUntil([&] { return listening(port) && listening(proxy_port); }, 20s));
  const std::string url = "https://localhost:" + std::to_string(port);
  const std::string tls = "      tls: {ca_file: " + pki + "ca.pem, cert_file: " + pki +
                          "client.pem, key_file: " + pki + "client.key}\n";
  c.dir.Append("aggregator.yaml",
               "  webhook:\n"
               // Through the redirect, with mTLS and the token.
               "    - url: " +
                   url + "/start\n" + tls +
                   "      auth: {bearer_token_file: " + c.dir.Sub("token") + "}\n" +
                   "      retry_for: 10s\n"
                   // A CA that did not sign the server's certificate.
                   "    - url: " +
                   url + "/wrong-ca\n      tls: {ca_file: " + pki + "other.pem}\n" +
                   "      retry_for: 1s\n"
                   // The certificate names localhost, not 127.0.0.1.
                   "    - url: https://127.0.0.1:" +
                   std::to_string(port) + "/wrong-name\n" + tls + "      retry_for: 1s\n");
  const std::string err = c.StartAggregator(
      {"HTTPS_PROXY=http://127.0.0.1:" + std::to_string(proxy_port), "NO_PROXY=", "no_proxy="});
  c.StartAgent();
  c.dir.Append("logs/app.log",
               "auth fail from 198.51.100.9\nauth fail from 198.51.100.9\n"
               "auth fail from 198.51.100.9\n");
  REQUIRE(WaitUntil([&] { return !JsonLinesOf(log).empty(); }, 20s));
  const nlohmann::json hook = JsonLinesOf(log).at(0);
  CHECK(hook["path"] == "/hook");  // followed the 307, still a POST
  CHECK(hook["method"] == "POST");
  CHECK(hook["headers"]["Authorization"] == "Bearer s3cret-token");
  CHECK(nlohmann::json::parse(hook["body"].get<std::string>())["key"]["ip"] == "198.51.100.9");
  // It went through the proxy named by HTTPS_PROXY.
  CHECK(ReadFile(proxy_log).find("CONNECT localhost:" + std::to_string(port)) != std::string::npos);
  // The other two were refused by TLS (nothing reached the receiver but /hook), and the
  // aggregator says why, naming each output.
  for (const auto& r : JsonLinesOf(log)) CHECK(r["path"] == "/hook");
  auto logged = [&](const std::string& path) {
    std::istringstream in(ReadFile(err));
    for (std::string line; std::getline(in, line);) {
      if (line.find(path) != std::string::npos && line.find("given up") != std::string::npos)
        return line;
    }
    return std::string();
  };
  REQUIRE(WaitUntil([&] { return !logged("/wrong-ca").empty() && !logged("/wrong-name").empty(); },
                    20s));
  INFO(logged("/wrong-ca") << "\n" << logged("/wrong-name"));
  CHECK(logged("/wrong-ca").find("certificate") != std::string::npos);
  CHECK(logged("/wrong-name").find("127.0.0.1") != std::string::npos);
}

TEST_CASE("HTTPS: a real Alertmanager behind TLS gets the alert", "[integration][https]") {
  Cluster c(kShortRule);
  REQUIRE(MakePki(c.dir));
  const std::string pki = c.dir.Sub("pki/");
  Alertmanager am(c.dir, {pki + "server.pem", pki + "server.key", pki + "ca.pem"});
  c.dir.Append("aggregator.yaml", "  alertmanager:\n    - url: " + am.url +
                                      "\n      tls: {ca_file: " + pki + "ca.pem}\n");
  c.StartAggregator();
  c.StartAgent();
  c.dir.Append("logs/app.log",
               "auth fail from 198.51.100.7\nauth fail from 198.51.100.7\n"
               "auth fail from 198.51.100.7\n");
  REQUIRE(WaitUntil(
      [&] {
        for (const auto& a : am.Active()) {
          if (a["labels"]["alertname"] == "fails" && a["labels"]["ip"] == "198.51.100.7") {
            return true;
          }
        }
        return false;
      },
      20s));
}
