// WebConfig: TLS and authentication for a daemon's HTTP endpoints, read from a file in the
// style of Prometheus's web configuration (`--web.config.file`), so operators reuse what they
// know: `tls_server_config` and `basic_auth_users` with crypt(3) hashes, plus a bearer token
// file. Plain values; immutable once loaded.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <ctime>
#include <map>
#include <optional>
#include <string>
#include <vector>

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

// WebConfigWatch: tells when the files a web configuration was read from (the file itself and
// the certificate, key, CA and token files it names) change, and reads it again, so that a
// renewed certificate or a rotated token is served without a restart. Files are compared by
// identity, size and change times (stat(2), through symbolic links: a link moved to a new
// file counts). Not thread-safe.
class WebConfigWatch {
 public:
  // `loaded`: the configuration as read at start (its `path` must not be "").
  explicit WebConfigWatch(const WebConfig& loaded);

  // Reading a configuration that cannot be read again, to see whether a file it names has
  // appeared: at most this often (a read checks every password hash, as costly as a login).
  static constexpr std::chrono::seconds kRetryFailedEvery{10};

  // Nothing (nullopt) while the files are as they were when last read; else the configuration
  // read again, or why it cannot be. While it cannot be, it is read again when its files
  // change and at most every kRetryFailedEvery, and told again only when the files or the
  // error change. `now`: a steady clock's.
  std::optional<Result<WebConfig>> Changed(std::chrono::steady_clock::time_point now);

 private:
  struct FileStamp {
    bool exists = false;
    dev_t device = 0;
    ino_t inode = 0;
    off_t size = 0;
    timespec modified{}, changed{};
    bool operator==(const FileStamp& o) const;
  };
  static std::vector<FileStamp> Stamp(const std::vector<std::string>& files);

  std::string path_;
  std::vector<std::string> files_;                    // the file and those its last good read named
  std::vector<FileStamp> stamps_;                     // as they were before that read
  std::optional<std::string> failure_;                // the last read's error, while reads fail
  std::chrono::steady_clock::time_point retry_at_{};  // while they fail: the next read
};

// The files `config` was read from: its own and those it names.
std::vector<std::string> WebConfigFiles(const WebConfig& config);

}  // namespace ember
