// The `ember` CLI's subcommands. Each registers its options on a CLI11 app and runs when
// chosen; each returns the process exit status.
#pragma once

namespace CLI {
class App;
}

namespace ember::cli {

// `ember check PATH`: validates rules; prints file:line:col: error: … and exits 1 on errors.
void AddCheckCommand(CLI::App& app, int* exit_code);
// `ember replay --rules DIR FILE...`: runs the engine over files in event time; prints the
// alerts as JSON lines on stdout and a summary on stderr.
void AddReplayCommand(CLI::App& app, int* exit_code);
// `ember keygen PREFIX`: writes a CURVE key pair and prints how to configure it.
void AddKeygenCommand(CLI::App& app, int* exit_code);
// `ember status [--state-dir DIR]`: the aggregator's health, counters and agents, read from
// its LMDB environment without disturbing it; exit 1 when unhealthy, 2 when unreadable.
void AddStatusCommand(CLI::App& app, int* exit_code);
// `ember alerts [filters] [-f] [--json]`: the delivered alerts from the aggregator's history.
void AddAlertsCommand(CLI::App& app, int* exit_code);
// `ember test FILE|DIR...`: rule unit tests with a synthetic clock; exit 0 when all pass, 1
// when one fails (with a diff), 2 when a test file or its rules are unusable.
void AddTestCommand(CLI::App& app, int* exit_code);
// `ember top [--url URL | -c aggregator.yaml] [--once]`: the live view, from the aggregator's
// HTTP /api/v1/top; a plain snapshot when not a terminal.
void AddTopCommand(CLI::App& app, int* exit_code);

}  // namespace ember::cli
