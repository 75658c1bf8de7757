// Alertmanager: a real prometheus-alertmanager on a free loopback port, routing to nowhere;
// ready when constructed, SIGKILLed with the test. With `tls` (a certificate and key for
// "localhost", and the CA that signed them) it serves HTTPS only, at https://localhost:port.
// Not thread-safe.
#pragma once

#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include "tests/support/process.h"
#include "tests/support/temp_dir.h"

namespace ember::test {

struct AlertmanagerTls {
  std::string cert_file, key_file, ca_file;
};

struct Alertmanager {
  explicit Alertmanager(const TempDir& dir, const AlertmanagerTls& tls = {})
      : port(FreeLoopbackPort()), tls_(tls) {
    url =
        (tls.cert_file.empty() ? "http://127.0.0.1:" : "https://localhost:") + std::to_string(port);
    dir.Write("am/alertmanager.yml",
              "route:\n  receiver: blackhole\nreceivers:\n  - name: blackhole\n");
    std::vector<std::string> argv = {
        "prometheus-alertmanager", "--config.file=" + dir.Sub("am/alertmanager.yml"),
        "--storage.path=" + dir.Sub("am/data"),
        "--web.listen-address=127.0.0.1:" + std::to_string(port), "--cluster.listen-address="};
    if (!tls.cert_file.empty()) {
      dir.Write("am/web.yml", "tls_server_config:\n  cert_file: " + tls.cert_file +
                                  "\n  key_file: " + tls.key_file + "\n");
      argv.push_back("--web.config.file=" + dir.Sub("am/web.yml"));
    }
    process = std::make_unique<Process>(argv, dir.Sub("am.out"), dir.Sub("am.err"));
    REQUIRE(WaitUntil(
        [&] {
          return Curl({"-s", "-o", "/dev/null", "-w", "%{http_code}", url + "/-/ready"}) == "200";
        },
        std::chrono::seconds(20)));
  }
  // The alerts it lists as not resolved (GET /api/v2/alerts).
  std::vector<nlohmann::json> Active() const {
    std::vector<nlohmann::json> out;
    auto j = nlohmann::json::parse(Curl({"-sS", url + "/api/v2/alerts"}), nullptr, false);
    if (j.is_array()) {
      for (auto& a : j) out.push_back(a);
    }
    return out;
  }
  int port;
  std::string url;
  std::unique_ptr<Process> process;

 private:
  // curl with the test CA when TLS is on (localhost resolves to 127.0.0.1, where it listens).
  std::string Curl(std::vector<std::string> args) const {
    std::vector<std::string> argv = {"curl"};
    if (!tls_.ca_file.empty()) {
      argv.insert(argv.end(), {"--cacert", tls_.ca_file, "--resolve",
                               "localhost:" + std::to_string(port) + ":127.0.0.1"});
    }
    argv.insert(argv.end(), args.begin(), args.end());
    return RunCommand(argv).out;
  }
  AlertmanagerTls tls_;
};

}  // namespace ember::test
