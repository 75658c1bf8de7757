// The web configuration (TLS and authentication of the HTTP endpoints) and the authenticator
// that checks requests against it. Hashes and encodings below were made with other tools:
// bcrypt by Python's crypt module, SHA-512 crypt by `openssl passwd -6`, base64 by base64(1).
#include "common/web_config.h"

#include <catch2/catch.hpp>

#include "agent/agent_config.h"
#include "aggregator/aggregator_config.h"
#include "common/http_auth.h"
#include "tests/support/temp_dir.h"

using namespace ember;

namespace {

// "scrape-secret", bcrypt cost 4.
constexpr const char* kBcrypt = "$2b$04$4rq79tCH9CaRXNqxqvUqUeP7T0BYJZaKdNK/UVVTRkm73jzDkqgp6";
// "scrape-secret", SHA-512 crypt.
constexpr const char* kSha512 =
    "$6$embertestsalt$MmLksRmB8hJEFb66Y6zBbTjmoju.ta6TFLfiBiSS0VRcVKUjfVYUxh9.OoAZHGE4UQNAo3NPyk"
    "XQAnJ1k5UjI1";

}  // namespace

TEST_CASE("WebConfig: TLS, users and a token load, paths relative to the file",
          "[common][http][unit]") {
  test::TempDir dir;
  dir.Write("server.pem", "x");
  dir.Write("server.key", "x");
  dir.Write("ca.pem", "x");
  dir.Write("token", "0123456789abcdef0123\n");
  const std::string path = dir.Write("web.yaml",
                                     "tls_server_config:\n"
                                     "  cert_file: server.pem\n"
                                     "  key_file: server.key\n"
                                     "  client_ca_file: ca.pem\n"
                                     "  client_auth_type: RequireAndVerifyClientCert\n"
                                     "  min_version: TLS13\n"
                                     "basic_auth_users:\n"
                                     "  alice: " +
                                         std::string(kBcrypt) +
                                         "\n"
                                         "  bob: '" +
                                         kSha512 +
                                         "'\n"
                                         "bearer_token_file: token\n");
  auto web = LoadWebConfig(path);
  INFO(web.status().ToString());
  REQUIRE(web.ok());
  REQUIRE(web->tls);
  CHECK(web->tls->cert_file == dir.Sub("server.pem"));
  CHECK(web->tls->key_file == dir.Sub("server.key"));
  CHECK(web->tls->client_ca_file == dir.Sub("ca.pem"));
  CHECK(web->tls->require_client_cert);
  CHECK(web->tls->tls13_only);
  CHECK(web->basic_auth_users.size() == 2);
  CHECK(web->bearer_token == "0123456789abcdef0123");
  CHECK(web->Authenticates());
}

TEST_CASE("WebConfig: mistakes are refused with file:line:col", "[common][http][unit]") {
  test::TempDir dir;
  dir.Write("server.pem", "x");
  dir.Write("server.key", "x");
  dir.Write("short", "abc\n");
  const std::string tls = "tls_server_config:\n  cert_file: server.pem\n  key_file: server.key\n";
  struct Case {
    std::string yaml;
    std::string expected;
  };
  for (const auto& c : std::vector<Case>{
           {tls + "  cipher: x\n", ":4:3: error: unknown key 'cipher'"},
           {tls + "  client_auth_type: RequireAndVerifyClientCert\n",
            ":4:21: error: client_auth_type RequireAndVerifyClientCert needs client_ca_file"},
           {tls + "  client_auth_type: RequireAnyClientCert\n", "is not supported"},
           {tls + "  min_version: TLS11\n", ":4:16: error: min_version 'TLS11'"},
           {"tls_server_config:\n  cert_file: missing.pem\n  key_file: server.key\n",
            ":2:14: error: cannot read"},
           {"tls_server_config:\n  key_file: server.key\n", "missing required key 'cert_file'"},
           {"basic_auth_users:\n  alice: secret\n",
            ":2:10: error: the password of 'alice' is "
            "not a crypt(3) hash"},
           {"basic_auth_users:\n  alice: " + std::string(kBcrypt) + "\n  alice: " + kBcrypt + "\n",
            ":3:3: error: duplicate key 'alice'"},
           {"basic_auth_users: [alice]\n", "maps user names to hashes"},
           {"bearer_token_file: short\n", ":1:20: error: the token is shorter than 16"},
           {"bearer_token_file: nothing-here\n", ":1:20: error: cannot read"},
           {"headers: {}\n", "unknown key 'headers'"},
       }) {
    INFO(c.yaml);
    auto web = LoadWebConfig(dir.Write("web.yaml", c.yaml));
    REQUIRE_FALSE(web.ok());
    CHECK(web.status().message().find(c.expected) != std::string::npos);
    CHECK(web.status().message().rfind(dir.Sub("web.yaml"), 0) == 0);
  }
}

TEST_CASE("HttpAuthenticator: Basic against crypt hashes, Bearer against the token",
          "[common][http][unit]") {
  WebConfig web;
  web.basic_auth_users = {{"alice", kBcrypt}, {"bob", kSha512}};
  web.bearer_token = "0123456789abcdef0123";
  HttpAuthenticator auth(web);
  REQUIRE(auth.required());
  // alice:scrape-secret, twice (the second from the cache), and in other letter cases.
  CHECK(auth.Allows("Basic YWxpY2U6c2NyYXBlLXNlY3JldA=="));
  CHECK(auth.Allows("Basic YWxpY2U6c2NyYXBlLXNlY3JldA=="));
  CHECK(auth.Allows("basic YWxpY2U6c2NyYXBlLXNlY3JldA=="));
  CHECK(auth.Allows("Basic Ym9iOnNjcmFwZS1zZWNyZXQ="));          // bob:scrape-secret (SHA-512)
  CHECK_FALSE(auth.Allows("Basic YWxpY2U6d3Jvbmc="));            // alice:wrong
  CHECK_FALSE(auth.Allows("Basic YWxpY2U6c2NyYXBlLXNlY3JldA"));  // padding missing
  CHECK_FALSE(auth.Allows("Basic !!!!"));
  CHECK_FALSE(auth.Allows("Basic"));
  CHECK_FALSE(auth.Allows(""));
  CHECK(auth.Allows("Bearer 0123456789abcdef0123"));
  CHECK_FALSE(auth.Allows("Bearer 0123456789abcdef012"));
  CHECK_FALSE(auth.Allows("Bearer 0123456789abcdef01234"));
  CHECK(auth.Challenge().rfind("Basic realm=", 0) == 0);

  HttpAuthenticator open(WebConfig{});
  CHECK_FALSE(open.required());
  CHECK(open.Allows(""));
}

TEST_CASE("DecodeBase64: the RFC 4648 test vectors, and malformed input refused",
          "[common][http][unit]") {
  std::string out;
  for (const auto& [in, want] :
       std::vector<std::pair<std::string, std::string>>{{"", ""},
                                                        {"Zg==", "f"},
                                                        {"Zm8=", "fo"},
                                                        {"Zm9v", "foo"},
                                                        {"Zm9vYg==", "foob"},
                                                        {"Zm9vYmE=", "fooba"},
                                                        {"Zm9vYmFy", "foobar"}}) {
    INFO(in);
    REQUIRE(DecodeBase64(in, &out));
    CHECK(out == want);
  }
  for (const std::string in : {"Zg=", "Z===", "Zg==Zg==", "Zm9v!A==", "Zm=v"}) {
    INFO(in);
    CHECK_FALSE(DecodeBase64(in, &out));
  }
}

TEST_CASE("http_listen beyond loopback needs TLS with authentication, or insecure",
          "[common][http][config][unit]") {
  test::TempDir dir;
  dir.Write("server.pem", "x");
  dir.Write("server.key", "x");
  const std::string tls = "tls_server_config:\n  cert_file: server.pem\n  key_file: server.key\n";
  dir.Write("tls-only.yaml", tls);
  dir.Write("auth-only.yaml", std::string("basic_auth_users:\n  alice: ") + kBcrypt + "\n");
  dir.Write("both.yaml", tls + "basic_auth_users:\n  alice: " + kBcrypt + "\n");
  const std::string agent_inputs = "inputs:\n  paths: [/x]\n";
  struct Case {
    std::string config;
    bool accepted;
  };
  for (const auto& c : std::vector<Case>{
           {"http_listen: 0.0.0.0:7452\n", false},
           {"http_listen: 0.0.0.0:7452\nhttp_web_config: tls-only.yaml\n", false},
           {"http_listen: 0.0.0.0:7452\nhttp_web_config: auth-only.yaml\n", false},
           {"http_listen: 0.0.0.0:7452\nhttp_web_config: both.yaml\n", true},
           {"http_listen: '[::1]:7452'\nhttp_web_config: auth-only.yaml\n", true},
       }) {
    INFO(c.config);
    auto agent = agent::LoadAgentConfig(dir.Write("agent.yaml", c.config + agent_inputs));
    CHECK(agent.ok() == c.accepted);
    auto aggregator = aggregator::LoadAggregatorConfig(dir.Write("aggregator.yaml", c.config));
    CHECK(aggregator.ok() == c.accepted);
    if (!c.accepted) {
      CHECK(agent.status().message().find(":1:14: error: 'http_listen' ('0.0.0.0:7452') "
                                          "accepts other hosts") != std::string::npos);
      CHECK(agent.status().message().find("http_insecure: true") != std::string::npos);
    }
  }
  CHECK(agent::LoadAgentConfig(
            dir.Write("agent.yaml",
                      "http_listen: 0.0.0.0:7452\nhttp_insecure: true\n" + agent_inputs))
            .ok());
  auto agent = agent::LoadAgentConfig(
      dir.Write("agent.yaml", "http_web_config: both.yaml\n" + agent_inputs));
  REQUIRE(agent.ok());
  CHECK(agent->web.basic_auth_users.count("alice") == 1);
}

TEST_CASE("WebConfigWatch: reads again when a file it names changes, tells an error once",
          "[common][http][unit]") {
  test::TempDir dir;
  dir.Replace("token", "0123456789abcdef0123\n");
  dir.Replace("web.yaml", "bearer_token_file: token\n");
  auto web = LoadWebConfig(dir.Sub("web.yaml"));
  REQUIRE(web.ok());
  WebConfigWatch watch(*web);
  // Its clock: a second a call, unless a step says otherwise.
  auto now = std::chrono::steady_clock::time_point{};
  auto changed_now = [&] {
    now += std::chrono::seconds(1);
    return watch.Changed(now);
  };
  CHECK_FALSE(changed_now());
  // A rotated token.
  dir.Replace("token", "fedcba9876543210fedc\n");
  auto changed = changed_now();
  REQUIRE(changed);
  REQUIRE(changed->ok());
  CHECK((*changed)->bearer_token == "fedcba9876543210fedc");
  CHECK_FALSE(changed_now());
  // A token too short: refused with where and why, told once while nothing changes.
  dir.Replace("token", "short\n");
  changed = changed_now();
  REQUIRE(changed);
  REQUIRE_FALSE(changed->ok());
  CHECK(changed->status().message().find("web.yaml:1:") != std::string::npos);
  CHECK(changed->status().message().find("shorter than 16") != std::string::npos);
  CHECK_FALSE(changed_now());
  CHECK_FALSE(changed_now());
  // The configuration names a file not there yet: told; when it appears (the configuration
  // itself unchanged), read.
  dir.Replace("web.yaml", "bearer_token_file: token2\n");
  changed = changed_now();
  REQUIRE(changed);
  REQUIRE_FALSE(changed->ok());
  CHECK(changed->status().message().find("token2") != std::string::npos);
  CHECK_FALSE(changed_now());
  // It appears: read again once kRetryFailedEvery has passed since the last read, not before.
  dir.Replace("token2", "0123456789abcdef9999\n");
  CHECK_FALSE(changed_now());
  now += WebConfigWatch::kRetryFailedEvery;
  changed = changed_now();
  REQUIRE(changed);
  REQUIRE(changed->ok());
  CHECK((*changed)->bearer_token == "0123456789abcdef9999");
  // The file it names now is watched, the one it named before is not.
  dir.Replace("token2", "99999999999999999999\n");
  changed = changed_now();
  REQUIRE(changed);
  REQUIRE(changed->ok());
  CHECK((*changed)->bearer_token == "99999999999999999999");
  dir.Replace("token", "77777777777777777777\n");
  CHECK_FALSE(changed_now());
}
