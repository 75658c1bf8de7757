#include <cstdio>
#include <memory>
#include <string>

#include <CLI/CLI.hpp>

#include "cli/commands.h"
#include "common/units.h"
#include "rules/rule_set.h"
#include "rules/rule_warnings.h"

namespace ember::cli {

void AddCheckCommand(CLI::App& app, int* exit_code) {
  auto* cmd = app.add_subcommand("check", "Validate a rules directory or file");
  auto path = std::make_shared<std::string>();
  auto interval = std::make_shared<std::string>("1s");
  cmd->add_option("path", *path, "Rules directory (*.yaml, *.yml) or one rules file")->required();
  cmd->add_option("--batch-interval", *interval,
                  "The aggregator's batch interval; windows must be multiples of it")
      ->capture_default_str();
  cmd->callback([=] {
    Result<int64_t> batch_ms = ParseDurationMs(*interval);
    if (!batch_ms.ok()) {
      std::fprintf(stderr, "ember check: --batch-interval: %s\n",
                   batch_ms.status().message().c_str());
      *exit_code = 2;
      return;
    }
    rules::RuleSetOptions options;
    options.batch_interval_ms = *batch_ms;
    rules::Diagnostics diagnostics;
    auto set = rules::RuleSet::Load(*path, options, &diagnostics);
    for (const auto& d : diagnostics) std::fprintf(stderr, "%s\n", d.c_str());
    if (!set.ok()) {
      std::fprintf(stderr, "%s: %zu error(s)\n", path->c_str(), diagnostics.size());
      *exit_code = 1;
      return;
    }
    const rules::Diagnostics warnings = rules::RuleWarnings((*set)->rules());
    for (const auto& w : warnings) std::fprintf(stderr, "%s\n", w.c_str());
    std::printf(
        "%s: %zu rule(s) OK%s\n", path->c_str(), (*set)->rules().size(),
        warnings.empty() ? "" : (", " + std::to_string(warnings.size()) + " warning(s)").c_str());
    *exit_code = 0;
  });
}

}  // namespace ember::cli
