#include <cstdio>
#include <memory>
#include <string>

#include <CLI/CLI.hpp>

#include "cli/commands.h"
#include "common/curve_keys.h"

namespace ember::cli {

void AddKeygenCommand(CLI::App& app, int* exit_code) {
  auto* cmd = app.add_subcommand(
      "keygen", "Write a CURVE key pair: PREFIX.key (secret) and PREFIX.pub (public)");
  auto prefix = std::make_shared<std::string>();
  cmd->add_option("prefix", *prefix, "Path prefix, e.g. /etc/ember/keys/aggregator")->required();
  cmd->callback([=] {
    Result<CurveKeyPair> keys = GenerateCurveKeyPair();
    if (!keys.ok()) {
      std::fprintf(stderr, "ember keygen: %s\n", keys.status().message().c_str());
      *exit_code = 1;
      return;
    }
    if (Status s = WriteCurveKeyFiles(*prefix, *keys); !s.ok()) {
      std::fprintf(stderr, "ember keygen: %s\n", s.message().c_str());
      *exit_code = 1;
      return;
    }
    std::printf(
        "Wrote %s.key (secret, mode 0600) and %s.pub (public key %s).\n\n"
        "On the aggregator (aggregator.yaml):\n"
        "  security:\n"
        "    curve_key_file: <aggregator>.key\n"
        "    authorized_keys_dir: /etc/ember/keys/agents.d   # one <agent>.pub per agent\n\n"
        "On each agent (agent.yaml), with the aggregator's .pub copied over:\n"
        "  output:\n"
        "    curve_key_file: <agent>.key\n"
        "    curve_server_key: /etc/ember/keys/aggregator.pub\n"
        "and copy <agent>.pub into the aggregator's authorized_keys_dir.\n",
        prefix->c_str(), prefix->c_str(), keys->public_z85.c_str());
    *exit_code = 0;
  });
}

}  // namespace ember::cli
