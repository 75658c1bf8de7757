// AggregatorConfig: everything ember-aggregator reads from aggregator.yaml, as plain option
// structs with defaults. Immutable once loaded; safe to share.
#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "common/http_client.h"
#include "common/status.h"
#include "common/web_config.h"
#include "engine/engine.h"

namespace ember::aggregator {

enum class TimeSource {
  kEvent,      // the line's own time stamp, else its stream's previous one, else its read time
  kIngestion,  // the agent's read time: wrong under a backlog (an outage's lines land together)
};

// Runs a command per alert event: the alert as JSON on stdin and EMBER_* environment
// variables; killed after the timeout. Failures are logged, never retried.
struct ExecOutput {
  std::vector<std::string> command;  // argv; no shell unless it names one
  int64_t timeout_ms = 10'000;
};

// POSTs each alert event as JSON to an http:// or https:// URL, retrying with backoff on
// connection errors, 429 and 5xx for up to retry_for. `client`: TLS files, authentication
// files and the timeout (common/http_client.h).
struct WebhookOutput {
  std::string url;
  HttpClientOptions client;
  int64_t retry_for_ms = 3600'000;
  std::vector<std::pair<std::string, std::string>> headers;
};

// Prometheus Alertmanager's v2 API: firing alerts are POSTed to /api/v2/alerts and re-sent
// every resend_interval while they fire (endsAt a few intervals ahead); resolved ones with
// endsAt set to the resolve time.
struct AlertmanagerOutput {
  std::string url;  // base URL, e.g. http://127.0.0.1:9093 or https://alertmanager:9093
  HttpClientOptions client;
  int64_t retry_for_ms = 3600'000;
  int64_t resend_interval_ms = 60'000;
  std::vector<std::pair<std::string, std::string>> labels;  // added to every alert
};

struct OutputOptions {
  bool terminal = true;                 // one line per alert event on stdout
  std::string terminal_color = "auto";  // auto (tty and NO_COLOR unset), always, never
  std::string jsonl_path;               // append alerts as JSON lines here; "" = off
  std::vector<ExecOutput> exec;
  std::vector<WebhookOutput> webhooks;
  std::vector<AlertmanagerOutput> alertmanagers;
};

// CURVE encryption and authentication of agents (ember keygen makes the keys).
struct SecurityOptions {
  std::string curve_key_file;       // this aggregator's key pair; "" = CURVE off
  std::string authorized_keys_dir;  // agents' *.pub files; required with CURVE
  // Allow a non-loopback `listen` without CURVE and `http_listen` without TLS and auth.
  bool insecure = false;
  bool curve() const { return !curve_key_file.empty(); }
};

struct AggregatorConfig {
  std::string listen = "tcp://127.0.0.1:7450";  // ZeroMQ ROUTER endpoint
  std::string http_listen = "127.0.0.1:7451";   // /metrics and `ember top`; "" = off
  std::string http_web_config;                  // TLS and authentication of http_listen; "" = none
  WebConfig web;                                // loaded from http_web_config
  std::string state_dir = "/var/lib/ember-aggregator";  // LMDB checkpoints
  std::string rules_dir = "/etc/ember/rules.d";
  engine::EngineOptions engine;
  // The watermark (aggregator/source_watermarks.h) trails the streams' lowest position by
  // this much: slack for lines in transit from agents that are read to their end.
  int64_t allowed_lateness_ms = 100;
  // A stream whose agent is silent holds the watermark back this long at most; alert latency
  // for everyone is bounded by it.
  int64_t max_source_delay_ms = 30'000;
  // A stream that caught up after a backlog keeps the backlog's batches this long (the
  // history floor), so agents backfilling the same hours that start up to this much later
  // still count with it. Memory: the backfill's partials for this long.
  int64_t backfill_hold_ms = 600'000;
  // Stamps further ahead of the aggregator's clock are clamped to it (counted).
  int64_t max_future_skew_ms = 60'000;
  TimeSource time = TimeSource::kEvent;
  // fsync each checkpoint. false keeps the guarantees across process crashes but not across
  // power loss: ACKs could then cover commits the disk never got.
  bool sync = true;
  // Checkpoint (and so acknowledge and deliver alerts) every this long; a multiple of the
  // batch interval. Longer means fewer fsyncs and later ACKs and alerts.
  int64_t checkpoint_interval_ms = 0;  // 0 = every batch
  // Bytes each agent may have read and not yet had acknowledged (flow control). Bounds the
  // aggregator's memory at about agents x credit; must cover a checkpoint interval of data.
  int64_t agent_credit_bytes = 16 << 20;
  // Threads that match lines against the rules and apply the matches to the partitions of
  // the state (the pipeline thread is one of them); 0 = one per CPU. Results do not depend
  // on it. The key groups themselves are engine.partitions, fixed when the state is created.
  int64_t threads = 0;
  // Bounds of the per-peer tables: agent identities known at once (a HELLO from a new one
  // beyond is refused), streams per agent (frames of a new stream beyond are dropped), and
  // how long an agent not heard from is remembered in the agent table (its stream marks stay).
  int64_t max_agents = 10'000;
  int64_t max_streams_per_agent = 10'000;
  int64_t max_streams = 100'000;  // all agents together: each costs memory and a look per tick
  int64_t agent_expiry_ms = 7 * 24 * 3600 * 1000LL;
  // A stream its agent no longer names in its HELLO (a rotated file read and deleted) and that
  // sent nothing for this long is forgotten: its mark and position leave the store.
  int64_t stream_expiry_ms = 24 * 3600 * 1000LL;
  // Connections the agents' port holds open at once (a newly accepted one beyond is cut);
  // 0: the descriptor limit less a reserve, which it never exceeds (ConnectionCap).
  int64_t max_agent_connections = 0;
  OutputOptions outputs;
  SecurityOptions security;
};

// Whether a ZeroMQ endpoint only accepts connections from this machine (127.0.0.0/8, ::1,
// localhost, ipc://).
bool IsLoopbackEndpoint(const std::string& endpoint);

// Loads and validates aggregator.yaml. Unknown keys are rejected; errors name file:line:col.
// Relative paths are taken relative to the configuration file's directory.
Result<AggregatorConfig> LoadAggregatorConfig(const std::string& path);

}  // namespace ember::aggregator
