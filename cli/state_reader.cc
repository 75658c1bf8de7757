#include "cli/state_reader.h"

#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <utility>

#include "aggregator/aggregator_config.h"
#include "common/host_port.h"

namespace ember::cli {

std::unique_ptr<engine::CheckpointStore> OpenStateForReading(const std::string& state_dir,
                                                             const char* command) {
  engine::CheckpointStoreOptions o;
  o.dir = state_dir;
  o.read_only = true;
  auto store = engine::CheckpointStore::Open(o);
  if (!store.ok()) {
    std::fprintf(stderr, "%s: cannot read '%s': %s\n", command, state_dir.c_str(),
                 store.status().message().c_str());
    return nullptr;
  }
  return std::move(*store);
}

Result<AggregatorLocation> LocateAggregator(const std::string& config_path) {
  AggregatorLocation where;
  struct stat st;
  if (config_path == kDefaultAggregatorConfig && ::stat(config_path.c_str(), &st) != 0) {
    return where;  // no configuration here: the defaults
  }
  Result<aggregator::AggregatorConfig> config = aggregator::LoadAggregatorConfig(config_path);
  if (!config.ok()) return config.status();
  where.state_dir = config->state_dir;
  where.url.clear();
  if (config->http_listen.empty()) return where;
  Result<HostPort> hp = ParseHostPort(config->http_listen);
  if (!hp.ok()) return hp.status();
  std::string host = hp->host;
  if (host == "0.0.0.0") host = "127.0.0.1";
  if (host == "::") host = "::1";
  if (host.find(':') != std::string::npos) host = "[" + host + "]";
  where.url =
      std::string(config->web.tls ? "https://" : "http://") + host + ":" + std::to_string(hp->port);
  if (::access(config->web.bearer_token_file.c_str(), R_OK) == 0) {
    where.http.bearer_token_file = config->web.bearer_token_file;
  }
  return where;
}

void AggregatorOptions::AddTo(CLI::App& cmd, bool with_url) {
  cmd.add_option("-c,--config", config_,
                 "The aggregator's configuration: its state directory" +
                     std::string(with_url ? " and HTTP address" : "") + " are taken from it")
      ->capture_default_str();
  cmd.add_option("--state-dir", state_dir_, "The aggregator's state directory (overrides -c)");
  if (with_url) {
    cmd.add_option("--url", url_, "The aggregator's HTTP address (overrides -c)");
    cmd.add_option("--ca-file", http_.ca_file, "PEM CAs to trust for https:// (else the system's)");
    cmd.add_option("--cert-file", http_.cert_file, "Client certificate (PEM) for mutual TLS");
    cmd.add_option("--key-file", http_.key_file, "Its private key (PEM)");
    cmd.add_option("--user", http_.username, "Basic authentication: the user name");
    cmd.add_option("--password-file", http_.password_file,
                   "Basic authentication: a file whose first line is the password");
    cmd.add_option("--bearer-token-file", http_.bearer_token_file,
                   "A file whose first line is the bearer token");
  }
}

bool AggregatorOptions::Resolve(const char* command) {
  if (state_dir_.empty() || url_.empty()) {
    Result<AggregatorLocation> found = LocateAggregator(config_);
    if (!found.ok()) {
      std::fprintf(stderr, "%s: %s\n", command, found.status().message().c_str());
      return false;
    }
    location_ = *found;
  }
  if (!state_dir_.empty()) location_.state_dir = state_dir_;
  if (!url_.empty()) location_.url = url_;
  for (auto [given, used] : {std::pair{&http_.ca_file, &location_.http.ca_file},
                             {&http_.cert_file, &location_.http.cert_file},
                             {&http_.key_file, &location_.http.key_file},
                             {&http_.username, &location_.http.username},
                             {&http_.password_file, &location_.http.password_file},
                             {&http_.bearer_token_file, &location_.http.bearer_token_file}}) {
    if (!given->empty()) *used = *given;
  }
  if (!http_.username.empty() && http_.bearer_token_file.empty()) {
    location_.http.bearer_token_file.clear();  // Basic asked for: the config's token yields
  }
  return true;
}

}  // namespace ember::cli
