#include "agent/agent_config.h"

#include "common/curve_keys.h"
#include "common/host_port.h"
#include "common/system.h"
#include "common/yaml_util.h"

namespace ember::agent {

Result<AgentConfig> LoadAgentConfig(const std::string& path) {
  Result<YAML::Node> doc = LoadYamlFile(path);
  if (!doc.ok()) return doc.status();
  AgentConfig config;
  config.name = config.host = LocalHostName();
  YamlMap top(*doc, path);
  if (Status s = top.Check("the agent configuration"); !s.ok()) return s;
  std::vector<Status> errors;
  errors.push_back(top.GetString("name", &config.name));
  errors.push_back(top.GetString("host", &config.host));
  errors.push_back(top.GetString("state_dir", &config.state_dir));
  errors.push_back(top.GetString("http_listen", &config.http_listen));
  errors.push_back(top.GetString("http_web_config", &config.http_web_config));
  errors.push_back(top.GetBool("http_insecure", &config.http_insecure));

  YamlMap inputs(top.Get("inputs"), path);
  if (!top.Has("inputs")) {
    return Status::InvalidArgument(top.Where() + ": error: missing required key 'inputs'");
  }
  if (Status s = inputs.Check("'inputs'"); !s.ok()) return s;
  TailOptions& t = config.tail;
  // Each entry: "GLOB", or {path: GLOB, tag: NAME}.
  YAML::Node paths = inputs.Get("paths");
  if (paths && paths.IsScalar()) {
    t.paths.push_back(PathSpec{paths.Scalar(), ""});
  } else if (paths && paths.IsSequence()) {
    for (const auto& item : paths) {
      if (item.IsScalar()) {
        t.paths.push_back(PathSpec{item.Scalar(), ""});
        continue;
      }
      YamlMap entry(item, path);
      PathSpec spec;
      if (Status s = entry.Check("a 'paths' entry"); !s.ok()) return s;
      errors.push_back(entry.GetString("path", &spec.glob, true));
      errors.push_back(entry.GetString("tag", &spec.tag));
      errors.push_back(entry.RejectUnknownKeys());
      t.paths.push_back(spec);
    }
  } else if (paths && !paths.IsNull()) {
    return Status::InvalidArgument(inputs.Where("paths") +
                                   ": error: 'paths' must be a list of globs or {path, tag}");
  }
  errors.push_back(inputs.GetStringList("exclude", &t.exclude));
  std::string read_from = "beginning";
  errors.push_back(inputs.GetString("read_from", &read_from));
  errors.push_back(inputs.GetBool("inotify", &t.inotify));
  errors.push_back(inputs.GetDurationMs("ignore_older", &t.ignore_older_ms));
  errors.push_back(inputs.GetDurationMs("poll_interval", &t.poll_interval_ms));
  errors.push_back(inputs.GetDurationMs("rescan_interval", &t.rescan_interval_ms));
  errors.push_back(inputs.GetSizeBytes("max_line_bytes", &t.max_line_bytes));
  errors.push_back(inputs.GetDurationMs("partial_line_timeout", &t.partial_line_timeout_ms));
  errors.push_back(inputs.GetSizeBytes("read_chunk_bytes", &t.read_chunk_bytes));
  errors.push_back(inputs.GetInt("max_open_files", &t.max_open_files));
  errors.push_back(inputs.GetSizeBytes("fingerprint_skip_bytes", &t.fingerprint_skip_bytes));
  // journal: {directory, units, identifiers, priority, tag}; {} reads the system journal.
  JournalOptions& jo = config.journal;
  YamlMap journal(inputs.Get("journal"), path);
  std::string priority;
  if (inputs.Has("journal")) {
    if (Status s = journal.Check("'journal' (a mapping; {} reads the system journal)"); !s.ok()) {
      return s;
    }
    jo.enabled = true;
    errors.push_back(journal.GetString("directory", &jo.directory));
    errors.push_back(journal.GetStringList("units", &jo.filter.units));
    errors.push_back(journal.GetStringList("identifiers", &jo.filter.identifiers));
    errors.push_back(journal.GetString("priority", &priority));
    errors.push_back(journal.GetString("tag", &jo.tag));
    errors.push_back(journal.RejectUnknownKeys());
  }
  errors.push_back(inputs.RejectUnknownKeys());

  YamlMap output(top.Get("output"), path);
  if (top.Has("output")) {
    if (Status s = output.Check("'output'"); !s.ok()) return s;
    errors.push_back(output.GetString("endpoint", &config.forward.endpoint));
    errors.push_back(output.GetSizeBytes("max_frame_bytes", &config.forward.max_frame_bytes));
    errors.push_back(output.GetDurationMs("ack_timeout", &config.forward.ack_timeout_ms));
    errors.push_back(output.GetDurationMs("stop_timeout", &config.forward.stop_timeout_ms));
    errors.push_back(output.GetString("curve_key_file", &config.forward.curve_key_file));
    errors.push_back(output.GetString("curve_server_key", &config.forward.curve_server_key));
    errors.push_back(output.RejectUnknownKeys());
  }
  errors.push_back(top.RejectUnknownKeys());
  if (Status s = FirstError(errors); !s.ok()) return s;

  if (t.paths.empty() && !jo.enabled) {
    return Status::InvalidArgument(inputs.Where("paths") +
                                   ": error: 'paths' needs at least one file or glob (or "
                                   "configure the 'journal' input)");
  }
  if (!priority.empty()) {
    Result<int> level = journal::ParsePriority(priority);
    if (!level.ok()) {
      return Status::InvalidArgument(journal.Where("priority") +
                                     ": error: " + level.status().message());
    }
    jo.filter.max_priority = *level;
  }
  if (!jo.directory.empty()) jo.directory = ResolvePath(path, jo.directory);
  if (read_from != "beginning" && read_from != "end") {
    return Status::InvalidArgument(inputs.Where("read_from") + ": error: 'read_from' is '" +
                                   read_from + "': use beginning or end");
  }
  t.read_from_beginning = read_from == "beginning";
  if (t.poll_interval_ms < 10) {
    return Status::InvalidArgument(inputs.Where("poll_interval") +
                                   ": error: 'poll_interval' must be at least 10ms");
  }
  if (t.max_open_files < 8) {
    return Status::InvalidArgument(inputs.Where("max_open_files") +
                                   ": error: 'max_open_files' must be at least 8");
  }
  if (t.max_line_bytes < 16 || t.max_line_bytes > 16 * 1024 * 1024) {
    return Status::InvalidArgument(inputs.Where("max_line_bytes") +
                                   ": error: 'max_line_bytes' must be between 16B and 16MiB");
  }
  if (config.forward.max_frame_bytes < t.max_line_bytes + 1024 ||
      config.forward.max_frame_bytes > 8 * 1024 * 1024) {
    return Status::InvalidArgument(output.Where("max_frame_bytes") +
                                   ": error: 'max_frame_bytes' must hold one longest line "
                                   "(max_line_bytes + 1KiB) and be at most 8MiB");
  }
  if (Status e = CheckZmqEndpoint(config.forward.endpoint); !e.ok()) {
    return Status::InvalidArgument(output.Where("endpoint") + ": error: endpoint " + e.message());
  }
  if (!config.http_web_config.empty()) {
    config.http_web_config = ResolvePath(path, config.http_web_config);
    Result<WebConfig> web = LoadWebConfig(config.http_web_config);
    if (!web.ok()) return web.status();
    config.web = *web;
  }
  if (!config.http_listen.empty()) {
    if (Status s = CheckHttpExposure(top.Where("http_listen"), config.http_listen, config.web,
                                     config.http_insecure, "http_insecure");
        !s.ok()) {
      return s;
    }
  }
  if (t.read_chunk_bytes < 4096 || t.read_chunk_bytes > 16 * 1024 * 1024) {
    return Status::InvalidArgument(inputs.Where("read_chunk_bytes") +
                                   ": error: 'read_chunk_bytes' must be between 4KiB and 16MiB");
  }
  if (config.forward.ack_timeout_ms < 1000) {
    return Status::InvalidArgument(output.Where("ack_timeout") +
                                   ": error: 'ack_timeout' must be at least 1s");
  }
  config.state_dir = ResolvePath(path, config.state_dir);
  if (config.forward.curve_key_file.empty() != config.forward.curve_server_key.empty()) {
    return Status::InvalidArgument(output.Where() +
                                   ": error: CURVE needs both 'curve_key_file' (this agent's "
                                   "keys) and 'curve_server_key' (the aggregator's public key)");
  }
  config.forward.curve_key_file = ResolvePath(path, config.forward.curve_key_file);
  if (!IsZ85Key(config.forward.curve_server_key) || config.forward.curve_server_key[0] == '/') {
    config.forward.curve_server_key = ResolvePath(path, config.forward.curve_server_key);
  }
  return config;
}

}  // namespace ember::agent
