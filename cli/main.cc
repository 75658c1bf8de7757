// ember: the operator's command-line tool.
#include <string>

#include <CLI/CLI.hpp>

#include "cli/commands.h"

int main(int argc, char** argv) {
  CLI::App app{
      "ember: check and test rules, replay logs, read alerts and status, watch the live view, make "
      "keys.",
      "ember"};
  app.set_version_flag("--version", std::string("ember ") + EMBER_VERSION);
  app.require_subcommand(1);
  int exit_code = 0;
  ember::cli::AddCheckCommand(app, &exit_code);
  ember::cli::AddReplayCommand(app, &exit_code);
  ember::cli::AddKeygenCommand(app, &exit_code);
  ember::cli::AddStatusCommand(app, &exit_code);
  ember::cli::AddAlertsCommand(app, &exit_code);
  ember::cli::AddTopCommand(app, &exit_code);
  ember::cli::AddTestCommand(app, &exit_code);
  CLI11_PARSE(app, argc, argv);
  return exit_code;
}
