#include "cli/state_reader.h"

#include <sys/stat.h>

#include <cstdio>

#include "aggregator/aggregator_config.h"

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
  where.url = config->http_listen.empty() ? "" : "http://" + config->http_listen;
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
  return true;
}

}  // namespace ember::cli
