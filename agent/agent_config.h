// AgentConfig: everything ember-agent reads from agent.yaml, as plain option structs with
// defaults. Immutable once loaded; safe to share.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "common/status.h"
#include "common/web_config.h"
#include "journal/journal_entry.h"

namespace ember::agent {

// One `paths` entry: a glob (`*`, `?`, `[...]`, `**`) and the tag its files carry.
struct PathSpec {
  std::string glob;
  std::string tag;  // reaches the aggregator as the built-in field `tag`; "" = none
};

struct TailOptions {
  std::vector<PathSpec> paths;        // files to tail
  std::vector<std::string> exclude;   // globs matched against the full path
  bool read_from_beginning = true;    // for files found at start: from byte 0, or from the end
  bool inotify = true;                // wake on file system events; polling remains the fallback
  int64_t ignore_older_ms = 0;        // skip files not modified for this long when found; 0 = never
  int64_t poll_interval_ms = 250;     // how often files are checked for new data and rotation
  int64_t rescan_interval_ms = 1000;  // how often the globs are expanded again (new files)
  int64_t max_line_bytes = 64 * 1024;      // longer lines are truncated and counted
  int64_t partial_line_timeout_ms = 5000;  // a last line without '\n' is sent after this
  int64_t read_chunk_bytes = 256 * 1024;   // bytes read from one file per poll, at most
  // The fd budget: beyond this many open files, idle ones (read to their end, all of it
  // acknowledged) are closed and reopened by identity when they grow.
  int64_t max_open_files = 512;
  // Bytes at a file's start skipped before the fingerprint (a fixed header every file of a
  // kind shares would otherwise make them all look alike).
  int64_t fingerprint_skip_bytes = 0;
};

// The `journal` input: entries of a systemd journal, beside the files.
struct JournalOptions {
  bool enabled = false;
  std::string directory;  // a directory of journal files; "" = the local system journal
  journal::JournalFilter filter;
  std::string tag;  // the built-in field `tag` of its lines; "" = none
};

struct ForwarderOptions {
  std::string endpoint = "tcp://127.0.0.1:7450";  // the aggregator's ROUTER socket
  int64_t max_frame_bytes = 128 * 1024;           // lines are packed into frames up to this
  int sndhwm_frames = 16;                         // frames queued in ZeroMQ before reading pauses
  int64_t ack_timeout_ms = 10'000;  // no ACK for sent data this long: resend from the last ACK
  int64_t stop_timeout_ms = 5'000;  // on SIGTERM, wait this long for the last ACKs
  std::string curve_key_file;       // this agent's key pair (ember keygen); "" = CURVE off
  std::string curve_server_key;     // the aggregator's public key: its .pub file or the key
};

struct AgentConfig {
  std::string name;  // this agent's name in alerts; default: the host name
  std::string host;  // the built-in `host` field; default: the host name
  std::string state_dir = "/var/lib/ember-agent";  // acknowledged offsets (offsets.json)
  std::string http_listen = "127.0.0.1:7452";      // /metrics; "" = off
  std::string http_web_config;  // TLS and authentication of http_listen; "" = none
  bool http_insecure = false;   // allow http_listen beyond loopback without TLS and auth
  WebConfig web;                // loaded from http_web_config
  TailOptions tail;
  JournalOptions journal;
  ForwarderOptions forward;
};

// Loads and validates agent.yaml. Unknown keys are rejected; every error names
// file:line:col and the cause.
Result<AgentConfig> LoadAgentConfig(const std::string& path);

}  // namespace ember::agent
