// ember-aggregator: receives lines from agents, evaluates the rules, raises alerts.
#include <cstdio>
#include <string>

#include <CLI/CLI.hpp>
#include <spdlog/spdlog.h>

#include "aggregator/aggregator.h"
#include "aggregator/aggregator_config.h"
#include "aggregator/sinks/alert_sink.h"
#include "common/file_util.h"
#include "common/logging.h"
#include "common/system.h"
#include "rules/rule_set.h"

int main(int argc, char** argv) {
  // Agent frames arrive on ZeroMQ's thread and are freed on this one: reuse their heap.
  ember::KeepFreedMemory(4 << 20, 16 << 20);
  CLI::App app{
      "ember-aggregator: receives lines from ember agents, evaluates alert rules over "
      "micro-batched windows and raises alerts.",
      "ember-aggregator"};
  std::string config_path = "/etc/ember/aggregator.yaml";
  std::string log_level = "info";
  bool check = false;
  bool reset_state = false;
  app.add_option("-c,--config", config_path, "Aggregator configuration file")
      ->capture_default_str();
  app.add_flag("--check", check,
               "Validate the configuration and the rules, then exit (0 if valid)");
  app.add_flag("--reset-state", reset_state,
               "Move the state directory aside (to <dir>.broken-<time>) and start with empty "
               "state: windows, marks and alert history are forgotten; agents send their streams "
               "again from the start");
  app.add_option("--log-level", log_level, "trace, debug, info, warn, error or off")
      ->capture_default_str();
  app.set_version_flag("--version", std::string("ember-aggregator ") + EMBER_VERSION);
  CLI11_PARSE(app, argc, argv);

  if (ember::Status s = ember::SetupLogging(log_level); !s.ok()) {
    std::fprintf(stderr, "ember-aggregator: %s\n", s.message().c_str());
    return 2;
  }
  auto config = ember::aggregator::LoadAggregatorConfig(config_path);
  if (!config.ok()) {
    std::fprintf(stderr, "ember-aggregator: %s\n", config.status().message().c_str());
    return 1;
  }
  if (check) {
    ember::rules::Diagnostics diagnostics;
    ember::rules::RuleSetOptions options;
    options.batch_interval_ms = config->engine.batch_interval_ms;
    auto rules = ember::rules::RuleSet::Load(config->rules_dir, options, &diagnostics);
    for (const auto& d : diagnostics) std::fprintf(stderr, "%s\n", d.c_str());
    if (!rules.ok()) return 1;
    if (ember::Status s = ember::aggregator::LoadSinkLibraries(config->outputs); !s.ok()) {
      std::fprintf(stderr, "ember-aggregator: %s\n", s.message().c_str());
      return 1;
    }
    std::printf("%s: OK (%zu rules)\n", config_path.c_str(), (*rules)->rules().size());
    return 0;
  }
  if (reset_state) {
    auto moved = ember::MoveAside(config->state_dir, "broken");
    if (!moved.ok()) {
      std::fprintf(stderr, "ember-aggregator: %s\n", moved.status().message().c_str());
      return 1;
    }
    if (!moved->empty()) {
      spdlog::warn("--reset-state: moved the state directory '{}' aside to '{}'.",
                   config->state_dir, *moved);
    }
  }
  ember::SystemdNotifier notifier = ember::SystemdNotifier::FromEnvironment();
  ember::Status s = ember::aggregator::RunAggregator(*config, notifier);
  if (!s.ok()) {
    spdlog::error("{}", s.message());
    return 1;
  }
  return 0;
}
