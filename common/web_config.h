// WebConfig: TLS and authentication for a daemon's HTTP endpoints, read from a file in the
// style of Prometheus's web configuration (`--web.config.file`), so operators reuse what they
// know: `tls_server_config` and `basic_auth_users` with crypt(3) hashes, plus a bearer token
// file. Plain values; immutable once loaded.
#pragma once

#include <map>
#include <optional>
#include <string>

#include "common/status.h"

namespace ember {

struct WebTlsConfig {
  std::string cert_file;             // PEM certificate chain
  std::string key_file;              // PEM private key
  std::string client_ca_file;        // CA that client certificates must chain to; "" = none asked
  bool require_client_cert = false;  // RequireAndVerifyClientCert (else: verified if given)
  bool tls13_only = false;           // min_version: TLS13 (default TLS12)
};

struct WebConfig {
  std::string path;                 // the file it came from; "" = no web configuration
  std::optional<WebTlsConfig> tls;  // absent: plain HTTP
  // User name -> crypt(3) hash of the password ($2y$/$2b$ bcrypt as Prometheus uses, $y$
  // yescrypt, $6$ SHA-512): `htpasswd -nB user`, `mkpasswd -m bcrypt`, `openssl passwd -6`.
  std::map<std::string, std::string> basic_auth_users;
  std::string bearer_token_file;  // where the token came from; "" = none
  std::string bearer_token;       // its first line

  // Whether a client must prove who it is: a password, a token or a verified certificate.
  bool Authenticates() const {
    return !basic_auth_users.empty() || !bearer_token.empty() || (tls && tls->require_client_cert);
  }
};

// Reads the web configuration at `path`. Unknown keys, a hash crypt(3) cannot verify, a
// client_auth_type or min_version that is not supported, and unreadable files are refused
// with "file:line:col: error: …". Paths inside are relative to the file.
Result<WebConfig> LoadWebConfig(const std::string& path);

// The rule for an `http_listen` address beyond loopback: its pages show keys taken from logs
// (IPs, user names), so it needs TLS and authentication, unless the operator said `insecure`.
// `where` is the key's "file:line:col". InvalidArgument explaining what to configure.
Status CheckHttpExposure(const std::string& where, const std::string& listen, const WebConfig& web,
                         bool insecure, const std::string& insecure_key);

}  // namespace ember
