// ember-agent: tails log files and forwards their lines to ember-aggregator.
#include <cstdio>
#include <string>

#include <CLI/CLI.hpp>
#include <spdlog/spdlog.h>

#include "agent/agent.h"
#include "agent/agent_config.h"
#include "agent/agent_status.h"
#include "common/logging.h"
#include "common/system.h"

int main(int argc, char** argv) {
  // Frames (128 KiB by default, up to 32 in flight) are reused heap, not page faults.
  ember::KeepFreedMemory(1 << 20, 4 << 20);
  CLI::App app{"ember-agent: tails log files and forwards their lines to ember-aggregator.",
               "ember-agent"};
  std::string config_path = "/etc/ember/agent.yaml";
  std::string log_level = "info";
  bool check = false;
  app.add_option("-c,--config", config_path, "Agent configuration file")->capture_default_str();
  app.add_flag("--check", check, "Validate the configuration and exit (0 if valid)");
  bool status = false;
  app.add_flag("--status", status,
               "Print each file's acknowledged offset, size, lag and state, then exit");
  app.add_option("--log-level", log_level, "trace, debug, info, warn, error or off")
      ->capture_default_str();
  app.set_version_flag("--version", std::string("ember-agent ") + EMBER_VERSION);
  CLI11_PARSE(app, argc, argv);

  if (ember::Status s = ember::SetupLogging(log_level); !s.ok()) {
    std::fprintf(stderr, "ember-agent: %s\n", s.message().c_str());
    return 2;
  }
  ember::Result<ember::agent::AgentConfig> config = ember::agent::LoadAgentConfig(config_path);
  if (!config.ok()) {
    std::fprintf(stderr, "ember-agent: %s\n", config.status().message().c_str());
    return 1;
  }
  if (status) return ember::agent::PrintAgentStatus(*config, stdout);
  if (check) {
    std::printf("%s: OK\n", config_path.c_str());
    return 0;
  }
  ember::SystemdNotifier notifier = ember::SystemdNotifier::FromEnvironment();
  ember::Status s = ember::agent::RunAgent(*config, notifier);
  if (!s.ok()) {
    spdlog::error("{}", s.message());
    return 1;
  }
  return 0;
}
