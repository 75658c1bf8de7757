#include "aggregator/aggregator_config.h"

#include <functional>
#include <tuple>

#include "common/host_port.h"
#include "common/web_config.h"
#include "common/yaml_util.h"

namespace ember::aggregator {

namespace {
// Open batches are held this long at most (memory).
constexpr int64_t kMaxAllowedLatenessMs = 3'600'000;
}  // namespace
namespace {

// Each of exec / webhook / alertmanager is a list of mappings (or one mapping).
Status ForEachOutput(YamlMap& outputs, const std::string& key, const std::string& path,
                     const std::function<Status(YamlMap&)>& load) {
  if (!outputs.Has(key)) return Status::Ok();
  YAML::Node node = outputs.Get(key);
  std::vector<YAML::Node> items;
  if (node.IsSequence()) {
    for (const auto& item : node) items.push_back(item);
  } else {
    items.push_back(node);
  }
  for (auto& item : items) {
    YamlMap m(item, path);
    if (Status s = m.Check("an '" + key + "' output"); !s.ok()) return s;
    if (Status s = load(m); !s.ok()) return s;
    if (Status s = m.RejectUnknownKeys(); !s.ok()) return s;
  }
  return Status::Ok();
}

Status GetStringMap(YamlMap& m, const std::string& key,
                    std::vector<std::pair<std::string, std::string>>* out) {
  if (!m.Has(key)) return Status::Ok();
  YAML::Node node = m.Get(key);
  if (!node.IsMap()) {
    return Status::InvalidArgument(m.Where(key) + ": error: '" + key +
                                   "' must be a mapping of names to strings");
  }
  for (const auto& kv : node) {
    if (!kv.second.IsScalar()) {
      return Status::InvalidArgument(YamlWhere(m.path(), kv.second) + ": error: '" + key +
                                     "' values must be strings");
    }
    out->emplace_back(kv.first.Scalar(), kv.second.Scalar());
  }
  return Status::Ok();
}

Status CheckUrl(YamlMap& m, const std::string& url) {
  if (Status s = CheckHttpUrl(url); !s.ok()) {
    return Status::InvalidArgument(m.Where("url") + ": error: 'url': " + s.message());
  }
  return Status::Ok();
}

// The client settings of an HTTP output: timeout, `tls: {ca_file, cert_file, key_file}` and
// `auth: {bearer_token_file}` or `auth: {username, password_file}`. Paths are relative to the
// configuration file; secrets stay in their files.
Status GetHttpClient(YamlMap& m, HttpClientOptions* c) {
  std::vector<Status> errors = {m.GetDurationMs("timeout", &c->timeout_ms)};
  if (m.Has("tls")) {
    YamlMap tls(m.Get("tls"), m.path());
    if (Status s = tls.Check("'tls'"); !s.ok()) return s;
    errors.push_back(tls.GetString("ca_file", &c->ca_file));
    errors.push_back(tls.GetString("cert_file", &c->cert_file));
    errors.push_back(tls.GetString("key_file", &c->key_file));
    errors.push_back(tls.RejectUnknownKeys());
    if (c->cert_file.empty() != c->key_file.empty()) {
      errors.push_back(Status::InvalidArgument(
          tls.Where() + ": error: 'cert_file' and 'key_file' go together (mTLS)"));
    }
  }
  if (m.Has("auth")) {
    YamlMap auth(m.Get("auth"), m.path());
    if (Status s = auth.Check("'auth'"); !s.ok()) return s;
    errors.push_back(auth.GetString("bearer_token_file", &c->bearer_token_file));
    errors.push_back(auth.GetString("username", &c->username));
    errors.push_back(auth.GetString("password_file", &c->password_file));
    errors.push_back(auth.RejectUnknownKeys());
    if (c->username.empty() != c->password_file.empty() ||
        (!c->bearer_token_file.empty() && !c->username.empty())) {
      errors.push_back(
          Status::InvalidArgument(auth.Where() +
                                  ": error: 'auth' takes bearer_token_file, or username with "
                                  "password_file"));
    }
  }
  for (std::string* path :
       {&c->ca_file, &c->cert_file, &c->key_file, &c->bearer_token_file, &c->password_file}) {
    *path = ResolvePath(m.path(), *path);
  }
  return FirstError(errors);
}

Status LoadHttpOutputs(YamlMap& out, const std::string& path, OutputOptions* o) {
  Status s = ForEachOutput(out, "exec", path, [&](YamlMap& m) {
    ExecOutput e;
    std::vector<Status> errors = {m.GetStringList("command", &e.command),
                                  m.GetDurationMs("timeout", &e.timeout_ms)};
    if (Status f = FirstError(errors); !f.ok()) return f;
    if (e.command.empty() || e.command[0].empty()) {
      return Status::InvalidArgument(m.Where() + ": error: an exec output needs 'command', " +
                                     "a program and its arguments");
    }
    o->exec.push_back(std::move(e));
    return Status::Ok();
  });
  if (!s.ok()) return s;
  s = ForEachOutput(out, "webhook", path, [&](YamlMap& m) {
    WebhookOutput w;
    std::vector<Status> errors = {m.GetString("url", &w.url, true), GetHttpClient(m, &w.client),
                                  m.GetDurationMs("retry_for", &w.retry_for_ms),
                                  GetStringMap(m, "headers", &w.headers)};
    if (Status f = FirstError(errors); !f.ok()) return f;
    if (Status f = CheckUrl(m, w.url); !f.ok()) return f;
    o->webhooks.push_back(std::move(w));
    return Status::Ok();
  });
  if (!s.ok()) return s;
  return ForEachOutput(out, "alertmanager", path, [&](YamlMap& m) {
    AlertmanagerOutput a;
    std::vector<Status> errors = {m.GetString("url", &a.url, true), GetHttpClient(m, &a.client),
                                  m.GetDurationMs("retry_for", &a.retry_for_ms),
                                  m.GetDurationMs("resend_interval", &a.resend_interval_ms),
                                  GetStringMap(m, "labels", &a.labels)};
    if (Status f = FirstError(errors); !f.ok()) return f;
    if (Status f = CheckUrl(m, a.url); !f.ok()) return f;
    if (a.resend_interval_ms < 1000) {
      return Status::InvalidArgument(m.Where("resend_interval") +
                                     ": error: 'resend_interval' must be at least 1s");
    }
    o->alertmanagers.push_back(std::move(a));
    return Status::Ok();
  });
}

}  // namespace

bool IsLoopbackEndpoint(const std::string& endpoint) {
  if (endpoint.rfind("ipc://", 0) == 0 || endpoint.rfind("inproc://", 0) == 0) return true;
  if (endpoint.rfind("tcp://", 0) != 0) return false;
  const std::string host = endpoint.substr(6);
  return IsLoopbackHost(host.substr(0, host.rfind(':')));
}

Result<AggregatorConfig> LoadAggregatorConfig(const std::string& path) {
  Result<YAML::Node> doc = LoadYamlFile(path);
  if (!doc.ok()) return doc.status();
  AggregatorConfig c;
  YamlMap top(*doc, path);
  if (Status s = top.Check("the aggregator configuration"); !s.ok()) return s;
  std::vector<Status> errors;
  errors.push_back(top.GetString("listen", &c.listen));
  errors.push_back(top.GetString("http_listen", &c.http_listen));
  errors.push_back(top.GetString("http_web_config", &c.http_web_config));
  errors.push_back(top.GetString("state_dir", &c.state_dir));
  errors.push_back(top.GetString("rules_dir", &c.rules_dir));
  errors.push_back(top.GetDurationMs("batch_interval", &c.engine.batch_interval_ms));
  errors.push_back(top.GetDurationMs("allowed_lateness", &c.allowed_lateness_ms));
  errors.push_back(top.GetDurationMs("max_lateness", &c.engine.max_lateness_ms));
  errors.push_back(top.GetDurationMs("max_source_delay", &c.max_source_delay_ms));
  errors.push_back(top.GetDurationMs("backfill_hold", &c.backfill_hold_ms));
  errors.push_back(top.GetDurationMs("max_future_skew", &c.max_future_skew_ms));
  std::string time = "event";
  errors.push_back(top.GetString("time", &time));
  errors.push_back(top.GetBool("sync", &c.sync));
  errors.push_back(top.GetDurationMs("checkpoint_interval", &c.checkpoint_interval_ms));
  errors.push_back(top.GetSizeBytes("agent_credit", &c.agent_credit_bytes));
  // `match_threads`: the same setting under the name it had when only matching was parallel.
  if (top.Has("threads") && top.Has("match_threads")) {
    return Status::InvalidArgument(top.Where("match_threads") +
                                   ": error: 'match_threads' is 'threads': set one of them");
  }
  const char* threads_key = top.Has("match_threads") ? "match_threads" : "threads";
  errors.push_back(top.GetInt(threads_key, &c.threads));
  int64_t partitions = c.engine.partitions;
  errors.push_back(top.GetInt("partitions", &partitions));
  errors.push_back(top.GetInt("max_agents", &c.max_agents));
  errors.push_back(top.GetInt("max_streams_per_agent", &c.max_streams_per_agent));
  errors.push_back(top.GetInt("max_streams", &c.max_streams));
  errors.push_back(top.GetDurationMs("agent_expiry", &c.agent_expiry_ms));
  errors.push_back(top.GetDurationMs("stream_expiry", &c.stream_expiry_ms));
  errors.push_back(top.GetInt("max_agent_connections", &c.max_agent_connections));
  if (top.Has("outputs")) {
    YamlMap out(top.Get("outputs"), path);
    if (Status s = out.Check("'outputs'"); !s.ok()) return s;
    errors.push_back(out.GetBool("terminal", &c.outputs.terminal));
    errors.push_back(out.GetString("terminal_color", &c.outputs.terminal_color));
    errors.push_back(out.GetString("jsonl", &c.outputs.jsonl_path));
    if (Status s = LoadHttpOutputs(out, path, &c.outputs); !s.ok()) return s;
    errors.push_back(out.RejectUnknownKeys());
    if (c.outputs.terminal_color != "auto" && c.outputs.terminal_color != "always" &&
        c.outputs.terminal_color != "never") {
      return Status::InvalidArgument(out.Where("terminal_color") +
                                     ": error: 'terminal_color' must be auto, always or never");
    }
  }
  if (top.Has("security")) {
    YamlMap sec(top.Get("security"), path);
    if (Status s = sec.Check("'security'"); !s.ok()) return s;
    errors.push_back(sec.GetString("curve_key_file", &c.security.curve_key_file));
    errors.push_back(sec.GetString("authorized_keys_dir", &c.security.authorized_keys_dir));
    errors.push_back(sec.GetBool("insecure", &c.security.insecure));
    errors.push_back(sec.RejectUnknownKeys());
    if (c.security.curve() && c.security.authorized_keys_dir.empty()) {
      return Status::InvalidArgument(sec.Where() +
                                     ": error: 'curve_key_file' needs 'authorized_keys_dir' "
                                     "(the agents' public keys)");
    }
  }
  errors.push_back(top.RejectUnknownKeys());
  if (Status s = FirstError(errors); !s.ok()) return s;
  if (c.engine.batch_interval_ms < 100 || c.engine.batch_interval_ms > 10'000) {
    return Status::InvalidArgument(top.Where("batch_interval") +
                                   ": error: 'batch_interval' must be between 100ms and 10s");
  }
  if (c.checkpoint_interval_ms == 0) c.checkpoint_interval_ms = c.engine.batch_interval_ms;
  if (c.checkpoint_interval_ms % c.engine.batch_interval_ms != 0) {
    return Status::InvalidArgument(top.Where("checkpoint_interval") +
                                   ": error: 'checkpoint_interval' must be a multiple of "
                                   "'batch_interval'");
  }
  if (c.agent_credit_bytes < 64 * 1024) {
    return Status::InvalidArgument(top.Where("agent_credit") +
                                   ": error: 'agent_credit' must be at least 64KiB");
  }
  for (auto [key, value] : {std::pair{"max_agents", c.max_agents},
                            std::pair{"max_streams_per_agent", c.max_streams_per_agent},
                            std::pair{"max_streams", c.max_streams}}) {
    if (value < 1 || value > 10'000'000) {
      return Status::InvalidArgument(top.Where(key) + ": error: '" + key +
                                     "' must be between 1 and 10000000");
    }
  }
  if (c.max_agent_connections < 0 || c.max_agent_connections > 10'000'000) {
    return Status::InvalidArgument(top.Where("max_agent_connections") +
                                   ": error: 'max_agent_connections' must be between 0 (as "
                                   "many as descriptors allow) and 10000000");
  }
  if (c.stream_expiry_ms < 1000) {
    return Status::InvalidArgument(top.Where("stream_expiry") +
                                   ": error: 'stream_expiry' must be at least 1s");
  }
  if (c.agent_expiry_ms < 60'000) {
    return Status::InvalidArgument(top.Where("agent_expiry") +
                                   ": error: 'agent_expiry' must be at least 1m");
  }
  if (c.threads < 0 || c.threads > 64) {
    return Status::InvalidArgument(top.Where(threads_key) + ": error: '" + threads_key +
                                   "' must be between 0 (one per CPU) and 64");
  }
  if (partitions < 1 || partitions > engine::kMaxPartitions) {
    return Status::InvalidArgument(top.Where("partitions") +
                                   ": error: 'partitions' must be between 1 and " +
                                   std::to_string(engine::kMaxPartitions));
  }
  c.engine.partitions = static_cast<uint32_t>(partitions);
  if (c.allowed_lateness_ms < 0 || c.allowed_lateness_ms > kMaxAllowedLatenessMs) {
    return Status::InvalidArgument(top.Where("allowed_lateness") +
                                   ": error: 'allowed_lateness' must be between 0 and 1h (open "
                                   "batches are held that long)");
  }
  for (auto [key, value, low, high, unit] :
       {std::tuple{"max_lateness", c.engine.max_lateness_ms, 0LL, 7 * 24 * 3600'000LL, "7d"},
        std::tuple{"max_source_delay", c.max_source_delay_ms, 1000LL, 3600'000LL, "1h"},
        std::tuple{"backfill_hold", c.backfill_hold_ms, 0LL, 24 * 3600'000LL, "24h"},
        std::tuple{"max_future_skew", c.max_future_skew_ms, 0LL, 24 * 3600'000LL, "24h"}}) {
    if (value < low || value > high) {
      return Status::InvalidArgument(top.Where(key) + ": error: '" + key + "' must be between " +
                                     (low == 0 ? "0" : "1s") + " and " + unit);
    }
  }
  if (time == "ingestion") {
    c.time = TimeSource::kIngestion;
  } else if (time == "event") {
    c.time = TimeSource::kEvent;
  } else {
    return Status::InvalidArgument(top.Where("time") + ": error: 'time' is '" + time +
                                   "': use ingestion or event");
  }
  if (Status e = CheckZmqEndpoint(c.listen); !e.ok()) {
    return Status::InvalidArgument(top.Where("listen") + ": error: 'listen': " + e.message());
  }
  if (!c.http_web_config.empty()) {
    c.http_web_config = ResolvePath(path, c.http_web_config);
    Result<WebConfig> web = LoadWebConfig(c.http_web_config);
    if (!web.ok()) return web.status();
    c.web = *web;
  }
  if (!c.http_listen.empty()) {
    if (Status s = CheckHttpExposure(top.Where("http_listen"), c.http_listen, c.web,
                                     c.security.insecure, "security.insecure");
        !s.ok()) {
      return s;
    }
  }
  if (!IsLoopbackEndpoint(c.listen) && !c.security.curve() && !c.security.insecure) {
    return Status::InvalidArgument(
        top.Where("listen") + ": error: 'listen' ('" + c.listen +
        "') accepts other hosts, but CURVE is off: set security.curve_key_file and "
        "security.authorized_keys_dir (see `ember keygen`), or security.insecure: true to send "
        "logs in clear text");
  }
  c.security.curve_key_file = ResolvePath(path, c.security.curve_key_file);
  c.security.authorized_keys_dir = ResolvePath(path, c.security.authorized_keys_dir);
  c.state_dir = ResolvePath(path, c.state_dir);
  c.rules_dir = ResolvePath(path, c.rules_dir);
  c.outputs.jsonl_path = ResolvePath(path, c.outputs.jsonl_path);
  return c;
}

}  // namespace ember::aggregator
