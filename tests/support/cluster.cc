#include "tests/support/cluster.h"

#include <thread>

#include <catch2/catch.hpp>

#include "common/kv_store.h"
#include "engine/segment_codec.h"

namespace ember::test {

const char* kFailRule = R"(rules:
  - name: fails
    match: 'auth fail from (?P<ip>[\d.]+)'
    by: [ip, host]
    window: 30s
    every: 500ms
    when: count >= 6
    severity: critical
    message: '{{count}} fails from {{ip}} on {{host}}'
)";

bool HasFiring(const std::vector<nlohmann::json>& alerts, const std::string& ip) {
  for (const auto& a : alerts) {
    if (a["state"] == "firing" && a["key"]["ip"] == ip) return true;
  }
  return false;
}

// Counts every matching line for an hour: nothing leaves the window during a test, so the
// checkpointed partial counts must equal the matching lines written, exactly.
const char* kCountRule = R"(rules:
  - name: count-all
    match: 'event (?P<n>\d+)'
    window: 1h
    every: 500ms
    when: count >= 100000000
)";

// Appends `n` matching lines in bursts, calling `midway` once at half.
void WriteEvents(Cluster& c, int n, const std::function<void()>& midway) {
  int written = 0;
  for (int burst = 0; written < n; ++burst) {
    std::string lines;
    for (int i = 0; i < 50 && written < n; ++i)
      lines += "event " + std::to_string(written++) + "\n";
    c.dir.Append("logs/app.log", lines);
    if (written == n / 2) midway();
    std::this_thread::sleep_for(30ms);
  }
}

// Waits (bounded) for the checkpointed count to reach `n`, then checks it stays there.
void ExpectExactly(Cluster& c, uint64_t n) {
  bool reached = WaitUntil([&] { return c.CheckpointedMatches() >= n; }, 30s);
  std::this_thread::sleep_for(2500ms);  // longer than the agent's ack timeout: resends settle
  INFO("aggregator logs:\n" << c.AggregatorLogs());
  CHECK(reached);
  CHECK(c.CheckpointedMatches() == n);
}

namespace {
uint64_t BigEndian(std::string_view v) {
  uint64_t n = 0;
  for (size_t i = 0; i < 8; ++i) n = (n << 8) | static_cast<uint8_t>(v[i]);
  return n;
}
}  // namespace

std::map<std::tuple<std::string, uint64_t, std::string>, uint64_t> StoredPartialCounts(
    const std::string& state_dir) {
  std::map<std::tuple<std::string, uint64_t, std::string>, uint64_t> out;
  KvStoreOptions o;
  o.dir = state_dir;
  o.databases = {"meta", "segments", "keystate", "offsets"};
  o.read_only = true;
  auto kv = KvStore::Open(o);
  if (!kv.ok()) return out;
  // <rule> 0x00 <batch: 8> <segment: 8> -> a segment (its bytes: segment_codec_test.cc); a
  // later segment's count of a key replaces an earlier one's.
  (void)(*kv)->Scan("segments", "", [&](std::string_view k, std::string_view v) {
    const size_t nul = k.find('\0');
    const std::string rule(k.substr(0, nul));
    const uint64_t batch = BigEndian(k.substr(nul + 1));
    engine::DecodeSegment(v, [&](std::string_view key, engine::Partial&& p) {
      out[{rule, batch, std::string(key)}] = p.count;
    });
  });
  return out;
}

// The fault oracle: for every line key (its sequence number) the count the aggregator
// committed, summed over batches, read from its LMDB like `ember` would.
std::map<std::string, uint64_t> CommittedCountsByKey(const Cluster& c, const std::string& rule) {
  std::map<std::string, uint64_t> counts;
  for (const auto& [where, n] : StoredPartialCounts(c.dir.Sub("state"))) {
    const auto& [stored_rule, batch, key] = where;
    if (rule.empty() || stored_rule == rule) counts[key] += n;
  }
  return counts;
}

std::map<std::string, double> Scrape(int port, std::string* raw) {
  ProcessResult r = RunCommand(
      {"curl", "-sS", "--max-time", "5", "http://127.0.0.1:" + std::to_string(port) + "/metrics"});
  if (raw != nullptr) *raw = r.out;
  std::map<std::string, double> out;
  std::istringstream in(r.out);
  std::string line;
  while (std::getline(in, line)) {
    if (line.empty() || line[0] == '#') continue;
    size_t sp = line.rfind(' ');
    out[line.substr(0, sp)] = std::stod(line.substr(sp + 1));
  }
  return out;
}

double Get(const std::map<std::string, double>& m, const std::string& series) {
  auto it = m.find(series);
  return it == m.end() ? -1 : it->second;
}

int EnvInt(const char* name, int fallback) {
  const char* v = std::getenv(name);
  return v != nullptr && *v != '\0' ? std::atoi(v) : fallback;
}

const char* kSeqRule = R"(rules:
  - name: seq
    match: 'seq=(?P<n>\d+) '
    by: [n]
    window: 1h
    every: 500ms
    when: count >= 100000000
)";

SeqOracle CheckSeq(const Cluster& c, int lines, const std::string& rule) {
  SeqOracle o;
  const std::map<std::string, uint64_t> counts = CommittedCountsByKey(c, rule);
  for (int i = 0; i < lines; ++i) {
    auto it = counts.find(std::to_string(i));
    if (it == counts.end()) {
      ++o.lost;
    } else if (it->second > 1) {
      o.dup_effect += it->second - 1;
    }
  }
  for (const auto& [key, n] : counts) {
    const long v = std::atol(key.c_str());
    if (std::to_string(v) != key || v < 0 || v >= lines) o.unexpected += n;
  }
  return o;
}

void ExpectSeqExactly(const Cluster& c, int lines) {
  WaitUntil([&] { return CommittedCountsByKey(c, "seq").size() >= static_cast<size_t>(lines); },
            60s);
  std::this_thread::sleep_for(2500ms);  // longer than the agent's ack timeout: resends settle
  const SeqOracle o = CheckSeq(c, lines);
  INFO("lines " << lines << ": lost " << o.lost << ", dup_effect " << o.dup_effect
                << ", unexpected " << o.unexpected << "\nagent logs:\n"
                << c.AgentLogs());
  CHECK(o.lost == 0);
  CHECK(o.dup_effect == 0);
  CHECK(o.unexpected == 0);
}

}  // namespace ember::test
