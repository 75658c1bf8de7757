#include <chrono>
#include <cstdio>
#include <memory>
#include <string>

#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include "aggregator/event_time_view.h"
#include "cli/commands.h"
#include "cli/state_reader.h"
#include "common/system.h"
#include "common/units.h"
#include "engine/alert.h"
#include "engine/checkpoint_store.h"

namespace ember::cli {
namespace {

std::string Ago(int64_t ms) {
  if (ms < 0) ms = 0;
  if (ms < 10'000) return std::to_string(ms / 100 / 10.0).substr(0, 3) + "s ago";
  return FormatDurationMs(ms / 1000 * 1000) + " ago";
}

int RunStatus(const std::string& state_dir, bool json) {
  auto store = OpenStateForReading(state_dir, "ember status");
  if (!store) return 2;
  Result<std::string> raw = store->StatusJson();
  if (!raw.ok()) {
    std::fprintf(stderr, "ember status: '%s' has no status yet (the aggregator never ran)\n",
                 state_dir.c_str());
    return 2;
  }
  nlohmann::json s = nlohmann::json::parse(*raw, nullptr, false);
  if (s.is_discarded()) {
    std::fprintf(stderr, "ember status: unreadable status in '%s'\n", state_dir.c_str());
    return 2;
  }
  const int64_t now = WallClockMs();
  const int64_t batch = s.value("batch_interval_ms", int64_t{1000});
  const int64_t since = now - s.value("checkpoint_ms", int64_t{0});
  // The daemon checkpoints every batch: a checkpoint this old means it is down or stuck.
  const bool stale = since > std::max<int64_t>(5000, 5 * batch);
  const std::string reload_error = s.value("reload_error", std::string());
  const bool healthy = !stale && reload_error.empty();
  if (json) {
    s["healthy"] = healthy;
    s["checkpoint_age_ms"] = since;
    std::printf("%s\n", s.dump().c_str());
    return healthy ? 0 : 1;
  }
  const auto& c = s["counters"];
  std::printf("ember-aggregator  pid %lld, up since %s, listening on %s\n",
              static_cast<long long>(s.value("pid", int64_t{0})),
              engine::FormatIsoMs(s.value("started_ms", int64_t{0})).c_str(),
              s.value("listen", std::string("?")).c_str());
  std::printf("rules             %zu loaded%s%s\n", s.value("rules", size_t{0}),
              reload_error.empty() ? "" : "; last reload FAILED: ", reload_error.c_str());
  std::printf("last checkpoint   %s (batch interval %s)\n", Ago(since).c_str(),
              FormatDurationMs(batch).c_str());
  std::printf("lines             %llu in, %llu matches\n", c.value("lines", 0ULL),
              c.value("matches", 0ULL));
  std::printf("event time        %s\n",
              aggregator::DescribeEventTime(s.value("event_time", nlohmann::json())).c_str());
  std::printf("frames            %llu bad, %llu duplicates dropped, %llu resends requested\n",
              c.value("bad_frames", 0ULL), c.value("duplicate_frames", 0ULL),
              c.value("resend_requests", 0ULL));
  std::printf(
      "sessions          %llu peers refused, %llu frames before HELLO, %llu new agent "
      "epochs\n",
      c.value("refused", 0ULL), c.value("frames_without_session", 0ULL),
      c.value("new_epochs", 0ULL));
  std::printf("alerts            %llu fired, %llu resolved, %llu being delivered\n",
              c.value("alerts_firing", 0ULL), c.value("alerts_resolved", 0ULL),
              c.value("alerts_undelivered", 0ULL));
  std::printf("checkpoints       %llu committed, %llu failed; %lld batches behind\n",
              c.value("checkpoints", 0ULL), c.value("checkpoint_failures", 0ULL),
              static_cast<long long>(s.value("batches_behind", int64_t{0})));
  std::printf(
      "                  (lines cut at max_line_bytes are counted by each agent: "
      "ember-agent --status)\n");
  std::printf("\n%-20s %-12s %10s %12s %10s %7s %8s  %s\n", "AGENT", "LAST SEEN", "LINES", "BYTES",
              "BYTES/S", "STREAMS", "LAG", "VERSION");
  for (const auto& a : s["agents"]) {
    std::printf("%-20s %-12s %10llu %12llu %10.0f %7llu %8s  %s\n",
                a.value("name", std::string("?")).c_str(),
                Ago(now - a.value("last_seen_ms", int64_t{0})).c_str(), a.value("lines", 0ULL),
                a.value("bytes", 0ULL), a.value("bytes_per_s", 0.0), a.value("streams", 0ULL),
                FormatDurationMs(std::max<int64_t>(0, a.value("lag_ms", int64_t{0}))).c_str(),
                a.value("version", std::string("?")).c_str());
  }
  if (s["agents"].empty()) std::printf("(no agent has sent anything since the start)\n");
  std::printf("\nstatus            %s\n",
              healthy ? "OK"
              : stale ? "STALE: no checkpoint recently; is ember-aggregator running?"
                      : "DEGRADED: the last rules reload failed; the old rules are in force");
  return healthy ? 0 : 1;
}

}  // namespace

void AddStatusCommand(CLI::App& app, int* exit_code) {
  auto* cmd = app.add_subcommand(
      "status", "Show the aggregator's health, counters and agents (exit 1 when unhealthy)");
  auto where = std::make_shared<AggregatorOptions>();
  auto json = std::make_shared<bool>(false);
  where->AddTo(*cmd, /*with_url=*/false);
  cmd->add_flag("--json", *json, "Print the status as one JSON object");
  cmd->callback([=] {
    *exit_code = where->Resolve("ember status") ? RunStatus(where->state_dir(), *json) : 2;
  });
}

}  // namespace ember::cli
