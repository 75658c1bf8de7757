#include "common/web_config.h"

#include <crypt.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/file_util.h"
#include "common/host_port.h"
#include "common/yaml_util.h"

namespace ember {
namespace {

// Whether crypt(3) understands `hash` as a hash it can check a password against.
bool CryptCanVerify(const std::string& hash) {
  if (hash.size() < 4 || hash[0] != '$') return false;
  crypt_data data{};
  const char* out = crypt_r("ember-probe", hash.c_str(), &data);
  return out != nullptr && out[0] != '*';
}

Status CheckReadable(YamlMap& map, const std::string& key, const std::string& file) {
  if (::access(file.c_str(), R_OK) != 0) {
    return Status::InvalidArgument(map.Where(key) + ": error: cannot read '" + file + "'");
  }
  return Status::Ok();
}

Result<WebTlsConfig> LoadTls(YAML::Node node, const std::string& path) {
  YamlMap map(node, path);
  if (Status s = map.Check("'tls_server_config'"); !s.ok()) return s;
  WebTlsConfig tls;
  std::string client_auth = "NoClientCert";
  std::string min_version = "TLS12";
  std::vector<Status> errors;
  errors.push_back(map.GetString("cert_file", &tls.cert_file, true));
  errors.push_back(map.GetString("key_file", &tls.key_file, true));
  errors.push_back(map.GetString("client_ca_file", &tls.client_ca_file));
  errors.push_back(map.GetString("client_auth_type", &client_auth));
  errors.push_back(map.GetString("min_version", &min_version));
  errors.push_back(map.RejectUnknownKeys());
  if (Status s = FirstError(errors); !s.ok()) return s;
  tls.cert_file = ResolvePath(path, tls.cert_file);
  tls.key_file = ResolvePath(path, tls.key_file);
  tls.client_ca_file = ResolvePath(path, tls.client_ca_file);
  if (client_auth == "RequireAndVerifyClientCert") {
    tls.require_client_cert = true;
  } else if (client_auth != "NoClientCert" && client_auth != "VerifyClientCertIfGiven") {
    return Status::InvalidArgument(map.Where("client_auth_type") + ": error: client_auth_type '" +
                                   client_auth +
                                   "' is not supported: use NoClientCert, "
                                   "VerifyClientCertIfGiven or RequireAndVerifyClientCert");
  }
  if (client_auth != "NoClientCert" && tls.client_ca_file.empty()) {
    return Status::InvalidArgument(map.Where("client_auth_type") + ": error: client_auth_type " +
                                   client_auth + " needs client_ca_file");
  }
  if (min_version != "TLS12" && min_version != "TLS13") {
    return Status::InvalidArgument(map.Where("min_version") + ": error: min_version '" +
                                   min_version + "': use TLS12 or TLS13");
  }
  tls.tls13_only = min_version == "TLS13";
  errors.push_back(CheckReadable(map, "cert_file", tls.cert_file));
  errors.push_back(CheckReadable(map, "key_file", tls.key_file));
  if (!tls.client_ca_file.empty()) {
    errors.push_back(CheckReadable(map, "client_ca_file", tls.client_ca_file));
  }
  if (Status s = FirstError(errors); !s.ok()) return s;
  return tls;
}

}  // namespace

Result<WebConfig> LoadWebConfig(const std::string& path) {
  Result<YAML::Node> doc = LoadYamlFile(path);
  if (!doc.ok()) return doc.status();
  YamlMap top(*doc, path);
  if (Status s = top.Check("the web configuration"); !s.ok()) return s;
  WebConfig config;
  config.path = path;
  if (top.Has("tls_server_config")) {
    Result<WebTlsConfig> tls = LoadTls(top.Get("tls_server_config"), path);
    if (!tls.ok()) return tls.status();
    config.tls = *tls;
  }
  if (top.Has("basic_auth_users")) {
    YAML::Node users = top.Get("basic_auth_users");
    if (!users.IsMap()) {
      return Status::InvalidArgument(top.Where("basic_auth_users") +
                                     ": error: 'basic_auth_users' maps user names to hashes");
    }
    for (const auto& entry : users) {
      const std::string where = YamlWhere(path, entry.second);
      const std::string user = entry.first.Scalar();
      if (!entry.second.IsScalar() || !CryptCanVerify(entry.second.Scalar())) {
        return Status::InvalidArgument(where + ": error: the password of '" + user +
                                       "' is not a crypt(3) hash (make one with "
                                       "`htpasswd -nB " +
                                       user + "` or `openssl passwd -6`)");
      }
      if (user.empty() || user.find(':') != std::string::npos) {
        return Status::InvalidArgument(where + ": error: user name '" + user +
                                       "' is empty or holds ':'");
      }
      config.basic_auth_users[user] = entry.second.Scalar();
    }
  }
  std::string token_file;
  if (Status s = top.GetString("bearer_token_file", &token_file); !s.ok()) return s;
  if (!token_file.empty()) {
    config.bearer_token_file = ResolvePath(path, token_file);
    Result<std::string> token = ReadSecretLine(config.bearer_token_file);
    if (!token.ok()) {
      return Status::InvalidArgument(top.Where("bearer_token_file") +
                                     ": error: " + token.status().message());
    }
    if (token->size() < 16) {
      return Status::InvalidArgument(top.Where("bearer_token_file") +
                                     ": error: the token is shorter than 16 characters");
    }
    config.bearer_token = *token;
  }
  if (Status s = top.RejectUnknownKeys(); !s.ok()) return s;
  return config;
}

Status CheckHttpExposure(const std::string& where, const std::string& listen, const WebConfig& web,
                         bool insecure, const std::string& insecure_key) {
  Result<HostPort> hp = ParseHostPort(listen);
  if (!hp.ok()) return Status::InvalidArgument(where + ": error: " + hp.status().message());
  if (IsLoopbackHost(hp->host) || insecure || (web.tls && web.Authenticates())) {
    return Status::Ok();
  }
  return Status::InvalidArgument(
      where + ": error: 'http_listen' ('" + listen +
      "') accepts other hosts, and its pages show keys from logs: name a web configuration "
      "with tls_server_config and basic_auth_users, bearer_token_file or client certificates "
      "in 'http_web_config', keep it on loopback, or set " +
      insecure_key + ": true");
}

std::vector<std::string> WebConfigFiles(const WebConfig& config) {
  std::vector<std::string> files = {config.path};
  if (config.tls) {
    files.push_back(config.tls->cert_file);
    files.push_back(config.tls->key_file);
    if (!config.tls->client_ca_file.empty()) files.push_back(config.tls->client_ca_file);
  }
  if (!config.bearer_token_file.empty()) files.push_back(config.bearer_token_file);
  return files;
}

bool WebConfigWatch::FileStamp::operator==(const FileStamp& o) const {
  return exists == o.exists && device == o.device && inode == o.inode && size == o.size &&
         modified.tv_sec == o.modified.tv_sec && modified.tv_nsec == o.modified.tv_nsec &&
         changed.tv_sec == o.changed.tv_sec && changed.tv_nsec == o.changed.tv_nsec;
}

std::vector<WebConfigWatch::FileStamp> WebConfigWatch::Stamp(
    const std::vector<std::string>& files) {
  std::vector<FileStamp> stamps(files.size());
  for (size_t i = 0; i < files.size(); ++i) {
    struct stat st {};
    if (::stat(files[i].c_str(), &st) != 0) continue;
    stamps[i] = FileStamp{true, st.st_dev, st.st_ino, st.st_size, st.st_mtim, st.st_ctim};
  }
  return stamps;
}

WebConfigWatch::WebConfigWatch(const WebConfig& loaded)
    : path_(loaded.path), files_(WebConfigFiles(loaded)), stamps_(Stamp(files_)) {}

std::optional<Result<WebConfig>> WebConfigWatch::Changed(
    std::chrono::steady_clock::time_point now) {
  std::vector<FileStamp> before = Stamp(files_);
  const bool files_changed = !(before == stamps_);
  if (!files_changed && (!failure_ || now < retry_at_)) return std::nullopt;
  stamps_ = before;
  Result<WebConfig> web = LoadWebConfig(path_);
  if (!web.ok()) {
    const bool news = files_changed || failure_ != web.status().message();
    failure_ = web.status().message();
    retry_at_ = now + kRetryFailedEvery;
    if (!news) return std::nullopt;
    return web;
  }
  failure_.reset();
  std::vector<std::string> files = WebConfigFiles(*web);
  if (files != files_) {
    // Other files named: stamped as read now (a change while it was read shows next time
    // for the files it named before, as their stamps are from before the read).
    files_ = std::move(files);
    stamps_ = Stamp(files_);
  }
  return web;
}

}  // namespace ember
