// Opens the aggregator's LMDB environment read-only for a CLI command, beside a running
// aggregator (readers never block it). On failure prints "<command>: cannot read '<dir>':
// <cause>" to stderr and returns null.
#pragma once

#include <memory>
#include <string>

#include <CLI/CLI.hpp>

#include "common/http_client.h"
#include "common/status.h"
#include "engine/checkpoint_store.h"

namespace ember::cli {

std::unique_ptr<engine::CheckpointStore> OpenStateForReading(const std::string& state_dir,
                                                             const char* command);

// Where the commands that read an aggregator find it, one way for all: an explicit
// --state-dir or --url wins; else `-c CONFIG` (by default /etc/ember/aggregator.yaml, when it
// exists) gives its state_dir and http_listen (https:// when its web configuration has TLS; a
// wildcard address is reached on loopback); else the defaults (/var/lib/ember-aggregator,
// http://127.0.0.1:7451). Errors: a config given or found that does not load.
struct AggregatorLocation {
  std::string state_dir = "/var/lib/ember-aggregator";
  std::string url = "http://127.0.0.1:7451";  // "" when the config turns http_listen off
  // TLS and credentials for `url`: the web configuration's bearer token file when the CLI can
  // read it, then what the command line gives.
  HttpClientOptions http;
};
inline constexpr const char* kDefaultAggregatorConfig = "/etc/ember/aggregator.yaml";
Result<AggregatorLocation> LocateAggregator(const std::string& config_path);

// Adds -c/--config, --state-dir and (with `url`) --url and the TLS and credential options of
// HTTP to `cmd`, all resolved by Resolve().
class AggregatorOptions {
 public:
  void AddTo(CLI::App& cmd, bool with_url);
  // Prints "<command>: <error>" and returns false when the configuration does not load.
  bool Resolve(const char* command);
  const std::string& state_dir() const { return location_.state_dir; }
  const std::string& url() const { return location_.url; }
  const HttpClientOptions& http() const { return location_.http; }

 private:
  std::string config_ = kDefaultAggregatorConfig;
  std::string state_dir_, url_;
  HttpClientOptions http_;
  AggregatorLocation location_;
};

}  // namespace ember::cli
