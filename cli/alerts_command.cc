#include <chrono>
#include <cstdio>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include <CLI/CLI.hpp>

#include "aggregator/sinks/terminal_sink.h"
#include "cli/commands.h"
#include "cli/state_reader.h"
#include "common/system.h"
#include "common/terminal_text.h"
#include "common/units.h"
#include "engine/alert.h"
#include "engine/checkpoint_store.h"

namespace ember::cli {
namespace {

struct AlertsArgs {
  std::string state_dir = "/var/lib/ember-aggregator";
  std::string since;     // duration back from now, e.g. 1h
  std::string rule;      // exact rule name
  std::string severity;  // minimum severity
  std::string state;     // firing or resolved
  std::string key;       // substring of "field=value ..."
  bool json = false;
  bool follow = false;
  size_t limit = 10000;
};

// Applies the filters; `severity_min` is -1 when unset.
bool Keep(const engine::Alert& a, const AlertsArgs& args, int64_t since_ms, int severity_min) {
  if (a.window_end_ms < since_ms) return false;
  if (!args.rule.empty() && a.rule != args.rule) return false;
  if (severity_min >= 0 && static_cast<int>(a.severity) < severity_min) return false;
  if (!args.state.empty() && args.state != engine::AlertStateName(a.state)) return false;
  if (!args.key.empty()) {
    std::string key;
    for (const auto& [name, value] : a.fields) key += name + "=" + value + " ";
    if (key.find(args.key) == std::string::npos) return false;
  }
  return true;
}

int RunAlerts(const AlertsArgs& args) {
  int64_t since_ms = 0;
  if (!args.since.empty()) {
    Result<int64_t> d = ParseDurationMs(args.since);
    if (!d.ok()) {
      std::fprintf(stderr, "ember alerts: --since: %s\n", d.status().message().c_str());
      return 2;
    }
    since_ms = WallClockMs() - *d;
  }
  int severity_min = -1;
  if (!args.severity.empty()) {
    for (int s = 0; s <= static_cast<int>(rules::Severity::kCritical); ++s) {
      if (args.severity == rules::SeverityName(static_cast<rules::Severity>(s))) severity_min = s;
    }
    if (severity_min < 0) {
      std::fprintf(stderr,
                   "ember alerts: --severity '%s': use debug, info, notice, warning, "
                   "error or critical\n",
                   args.severity.c_str());
      return 2;
    }
  }
  if (!args.state.empty() && args.state != "firing" && args.state != "resolved") {
    std::fprintf(stderr, "ember alerts: --state '%s': use firing or resolved\n",
                 args.state.c_str());
    return 2;
  }
  const auto style = aggregator::ChooseStyle("auto", stdout);
  std::string last_id_state;  // the newest alert printed, to follow from
  size_t printed_total = 0;
  while (true) {
    auto store = OpenStateForReading(args.state_dir, "ember alerts");
    if (!store) return 2;
    auto raised = store->Raised(args.limit);
    if (!raised.ok()) {
      std::fprintf(stderr, "ember alerts: %s\n", raised.status().message().c_str());
      return 2;
    }
    // Print what came after the newest alert already printed.
    size_t start = 0;
    if (!last_id_state.empty()) {
      start = raised->size();
      for (size_t i = raised->size(); i-- > 0;) {
        const auto& a = (*raised)[i];
        if (a.id + engine::AlertStateName(a.state) == last_id_state) {
          start = i + 1;
          break;
        }
      }
    }
    for (size_t i = start; i < raised->size(); ++i) {
      const engine::Alert& a = (*raised)[i];
      last_id_state = a.id + engine::AlertStateName(a.state);
      if (!Keep(a, args, since_ms, severity_min)) continue;
      std::string line =
          args.json ? engine::AlertToJson(a) : aggregator::TerminalSink::Format(a, style);
      std::printf("%s\n", line.c_str());
      ++printed_total;
    }
    std::fflush(stdout);
    if (!args.follow) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(500));
  }
  if (printed_total == 0 && !args.json) std::fprintf(stderr, "(no alerts match)\n");
  return 0;
}

// `ember alerts show ID`: every event of one alert episode with its provenance, from the
// delivered history and the outbox (committed, not yet delivered).
int ShowAlert(const std::string& state_dir, const std::string& id) {
  auto store = OpenStateForReading(state_dir, "ember alerts show");
  if (!store) return 2;
  std::vector<std::pair<engine::Alert, const char*>> events;
  auto history = store->History(SIZE_MAX);
  if (history.ok()) {
    for (const auto& a : *history) {
      if (a.id == id) events.emplace_back(a, "delivered to every output");
    }
  }
  auto outbox = store->Outbox();
  if (outbox.ok()) {
    for (const auto& [seq, a] : *outbox) {
      if (a.id == id) events.emplace_back(a, "committed, waiting in the outbox");
    }
  }
  if (events.empty()) {
    std::fprintf(stderr, "ember alerts show: no alert with id '%s' in '%s'\n", id.c_str(),
                 state_dir.c_str());
    return 1;
  }
  for (const auto& [a, delivery] : events) {
    // Everything below that came from a log is escaped for the terminal.
    std::string key;
    for (const auto& [name, value] : a.fields) key += (key.empty() ? "" : " ") + name + "=" + value;
    key = EscapeForTerminal(key);
    const auto safe = [](const std::string& s) { return EscapeForTerminal(s); };
    std::printf("alert      %s (%s)\n", a.id.c_str(), engine::AlertStateName(a.state));
    std::printf("rule       %s (definition digest %s)\n", a.rule.c_str(), a.rule_digest.c_str());
    std::printf("severity   %s\n", rules::SeverityName(a.severity));
    std::printf("key        %s\n", key.empty() ? "(none)" : key.c_str());
    std::printf("count      %llu in the window\n", static_cast<unsigned long long>(a.count));
    std::printf("window     %s .. %s (%s)\n", engine::FormatIsoMs(a.window_start_ms).c_str(),
                engine::FormatIsoMs(a.window_end_ms).c_str(),
                FormatDurationMs(a.window_end_ms - a.window_start_ms).c_str());
    std::printf("message    %s\n", safe(a.message).c_str());
    if (a.evidence.empty()) std::printf("sample     %s\n", safe(a.sample).c_str());
    for (size_t i = 0; i < a.evidence.size(); ++i) {
      const engine::Evidence& e = a.evidence[i];
      std::printf("%s%s\n", i == 0 ? "evidence   " : "           ", safe(e.line).c_str());
      std::printf(
          "             from %s:%s, bytes %llu..%llu (the frame that carried it), batch %s%s\n",
          e.host.empty() ? "?" : safe(e.host).c_str(), e.file.empty() ? "?" : safe(e.file).c_str(),
          static_cast<unsigned long long>(e.offset_start),
          static_cast<unsigned long long>(e.offset_end),
          engine::FormatIsoMs(e.batch_start_ms).c_str(),
          e.agent.empty() ? "" : (", sent by agent " + safe(e.agent)).c_str());
    }
    std::printf("delivery   %s\n\n", delivery);
  }
  return 0;
}

}  // namespace

void AddAlertsCommand(CLI::App& app, int* exit_code) {
  auto* cmd = app.add_subcommand(
      "alerts",
      "Show the alerts the local aggregator raised (delivered or not); -f follows new alerts");
  auto args = std::make_shared<AlertsArgs>();
  auto where = std::make_shared<AggregatorOptions>();
  where->AddTo(*cmd, /*with_url=*/false);
  cmd->add_option("--since", args->since, "Only alerts whose window ended within this long");
  cmd->add_option("--rule", args->rule, "Only this rule");
  cmd->add_option("--severity", args->severity, "Only this severity and above");
  cmd->add_option("--state", args->state, "Only firing or resolved events");
  cmd->add_option("--key", args->key, "Only keys containing this text (e.g. ip=203.0.113.9)");
  cmd->add_flag("--json", args->json, "One JSON object per alert");
  cmd->add_flag("-f,--follow", args->follow, "Keep printing new alerts as they come");
  auto* show = cmd->add_subcommand(
      "show", "Print one alert's events with their provenance (rule, key, window, sample)");
  auto id = std::make_shared<std::string>();
  show->add_option("id", *id, "The alert id (the `id` field of --json)")->required();
  show->fallthrough();  // `ember alerts show ID --state-dir DIR` (or -c) works too
  show->callback([=] {
    *exit_code = where->Resolve("ember alerts show") ? ShowAlert(where->state_dir(), *id) : 2;
  });
  cmd->callback([=] {
    if (show->parsed()) return;
    if (!where->Resolve("ember alerts")) {
      *exit_code = 2;
      return;
    }
    args->state_dir = where->state_dir();
    *exit_code = RunAlerts(*args);
  });
}

}  // namespace ember::cli
