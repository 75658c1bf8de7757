#include "cli/top_view.h"

#include <algorithm>
#include <cctype>
#include <cstdarg>
#include <cstdio>

#include "aggregator/event_time_view.h"
#include "common/terminal_text.h"
#include "common/units.h"
#include "engine/alert.h"

namespace ember::cli {
namespace {

std::string Fmt(const char* format, ...) __attribute__((format(printf, 1, 2)));
std::string Fmt(const char* format, ...) {
  char buf[512];
  va_list args;
  va_start(args, format);
  std::vsnprintf(buf, sizeof buf, format, args);
  va_end(args);
  return buf;
}

std::string Rate(double per_s) {
  if (per_s >= 1e6) return Fmt("%.1fM", per_s / 1e6);
  if (per_s >= 1e4) return Fmt("%.0fk", per_s / 1e3);
  if (per_s >= 100) return Fmt("%.0f", per_s);
  return Fmt("%.1f", per_s);
}

std::string Bytes(double b) {
  if (b >= 1 << 20) return Fmt("%.1f MiB", b / (1 << 20));
  if (b >= 1 << 10) return Fmt("%.1f KiB", b / (1 << 10));
  return Fmt("%.0f B", b);
}

std::string Clock(int64_t ms) { return engine::FormatIsoMs(ms).substr(11, 8); }

// Text for the screen: what came from logs (keys, hosts, paths) is escaped for the terminal
// (escaping is idempotent: an escape holds no control character), and widths are display
// columns (a CJK character takes two).
// Cuts `s` to `width` columns, not splitting a character.
std::string Fit(const std::string& s, int width) {
  const std::string safe = EscapeForTerminal(s);
  if (width <= 0) return safe;
  return std::string(FitColumns(safe, static_cast<size_t>(width)));
}

std::string Pad(const std::string& s, size_t width) {
  const std::string fitted = Fit(s, static_cast<int>(width));
  const size_t cols = DisplayWidth(fitted);
  return cols >= width ? fitted : fitted + std::string(width - cols, ' ');
}

const char* SeverityColor(const std::string& severity) {
  if (severity == "critical") return "\x1b[1;31m";
  if (severity == "error") return "\x1b[31m";
  if (severity == "warning") return "\x1b[33m";
  return "\x1b[36m";
}

bool Contains(const std::string& hay, const std::string& needle) {
  return needle.empty() || hay.find(needle) != std::string::npos;
}

}  // namespace

const char* TopSortName(TopSort s) {
  switch (s) {
    case TopSort::kRate:
      return "rate";
    case TopSort::kMatches:
      return "matches";
    case TopSort::kFiring:
      return "firing";
    case TopSort::kName:
      return "name";
  }
  return "?";
}

TopSort NextTopSort(TopSort s) { return static_cast<TopSort>((static_cast<int>(s) + 1) % 4); }

std::string Sparkline(const std::vector<uint64_t>& counts, bool unicode) {
  static const char* kBlocks[] = {"▁", "▂", "▃", "▄", "▅", "▆", "▇", "█"};
  static const char kAscii[] = " .:-=+*#";
  const uint64_t max = counts.empty() ? 0 : *std::max_element(counts.begin(), counts.end());
  std::string out;
  for (uint64_t c : counts) {
    // Zero is blank; any match at least the lowest block; the maximum the full one.
    const size_t level = max == 0 || c == 0 ? 0 : static_cast<size_t>((c * 7 + max - 1) / max);
    const size_t i = std::min<size_t>(level, 7);
    if (unicode) {
      out += c == 0 ? " " : kBlocks[i];
    } else {
      out += kAscii[i];
    }
  }
  return out;
}

std::vector<std::string> RenderTopView(const nlohmann::json& v, const TopViewOptions& o) {
  std::vector<std::string> head, body, tail;
  const std::string reset = o.color ? "\x1b[0m" : "";
  const std::string bold = o.color ? "\x1b[1m" : "";
  const int64_t now = v.value("now_ms", int64_t{0});
  const int64_t batch_ms = v.value("batch_interval_ms", int64_t{1000});
  head.push_back(
      Fit(Fmt("ember top  %s  %s", o.source.c_str(), now > 0 ? Clock(now).c_str() : ""), o.width));
  if (!o.error.empty()) {
    head.push_back(Fit("cannot read the aggregator: " + o.error, o.width));
    head.push_back("retrying every second");
  } else {
    const auto& b = v["batch"];
    const double processing = b.value("processing_ms", 0.0);
    head.push_back(
        Fit(Fmt("batch %s: processing %.1f ms (%.0f%%), scheduling delay %.0f ms, %d pending",
                FormatDurationMs(batch_ms).c_str(), processing,
                100.0 * processing / static_cast<double>(batch_ms),
                b.value("scheduling_delay_ms", 0.0), b.value("pending_checkpoints", 0)),
            o.width));
    if (v.contains("event_time")) {
      head.push_back(Fit("event time: " + aggregator::DescribeEventTime(v["event_time"]), o.width));
    }
    const auto& t = v["totals"];
    head.push_back(Fit(
        Fmt("in %s lines/s  %s/s   lines %llu  matches %llu   sort: %s%s%s",
            Rate(t.value("lines_per_s", 0.0)).c_str(), Bytes(t.value("bytes_per_s", 0.0)).c_str(),
            static_cast<unsigned long long>(t.value("lines", uint64_t{0})),
            static_cast<unsigned long long>(t.value("matches", uint64_t{0})), TopSortName(o.sort),
            o.filter.empty() ? "" : "  filter: ", o.filter.c_str()),
        o.width));
  }

  // Rules, sorted and filtered, each followed by its hottest keys.
  std::vector<nlohmann::json> rules;
  if (v.contains("rules")) {
    for (const auto& r : v["rules"]) {
      bool keep = Contains(r.value("name", ""), o.filter);
      for (const auto& k : r["top"]) keep = keep || Contains(k.value("key", ""), o.filter);
      if (keep) rules.push_back(r);
    }
  }
  std::stable_sort(rules.begin(), rules.end(),
                   [&](const nlohmann::json& a, const nlohmann::json& b) {
                     switch (o.sort) {
                       case TopSort::kRate:
                         return a.value("rate_per_s", 0.0) > b.value("rate_per_s", 0.0);
                       case TopSort::kMatches:
                         return a.value("matches", 0) > b.value("matches", 0);
                       case TopSort::kFiring:
                         return a.value("firing", 0) > b.value("firing", 0);
                       case TopSort::kName:
                         return a.value("name", "") < b.value("name", "");
                     }
                     return false;
                   });

  std::vector<std::string> firing;
  if (v.contains("firing")) {
    std::vector<nlohmann::json> f(v["firing"].begin(), v["firing"].end());
    std::sort(f.begin(), f.end(), [](const nlohmann::json& a, const nlohmann::json& b) {
      return a.value("count", 0) > b.value("count", 0);
    });
    for (const auto& a : f) {
      if (!Contains(a.value("rule", "") + " " + a.value("key", ""), o.filter)) continue;
      const std::string sev = a.value("severity", "");
      std::string upper = sev;
      for (char& c : upper) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
      std::string line =
          Fmt("%s %s %s %llu  since %s", Pad(upper, 8).c_str(),
              Pad(a.value("rule", ""), 20).c_str(), Pad(a.value("key", ""), 26).c_str(),
              static_cast<unsigned long long>(a.value("count", uint64_t{0})),
              Clock(a.value("since_ms", int64_t{0})).c_str());
      line = Fit(line, o.width);
      if (o.color) line = SeverityColor(sev) + line + reset;
      firing.push_back(line);
    }
  }
  std::vector<std::string> agents;
  if (v.contains("agents")) {
    for (const auto& a : v["agents"]) {
      const int64_t seen = a.value("last_seen_ms", int64_t{0});
      agents.push_back(
          Fit(Fmt("%s %s  lag %lld ms  %s/s  %llu lines  seen %s ago",
                  Pad(a.value("name", ""), 16).c_str(), Pad(a.value("host", ""), 14).c_str(),
                  static_cast<long long>(a.value("lag_ms", int64_t{0})),
                  Bytes(a.value("bytes_per_s", 0.0)).c_str(),
                  static_cast<unsigned long long>(a.value("lines", uint64_t{0})),
                  FormatDurationMs(std::max<int64_t>(0, (now - seen) / 1000 * 1000)).c_str()),
              o.width));
    }
  }
  if (o.interactive) {
    tail.push_back(
        o.typing ? Fit("filter: " + o.typing_filter + "_   (Enter to apply, Esc to clear)", o.width)
                 : Fit("q quit   s sort (" + std::string(TopSortName(o.sort)) +
                           ")   / filter   c clear filter",
                       o.width));
  }

  // Space: header and footer fixed; firing and agents blocks capped; rules get the rest, each
  // rule showing as many of its keys as fit.
  const bool bounded = o.height > 0;
  const int avail = bounded ? o.height - static_cast<int>(head.size() + tail.size()) : 1 << 30;
  const int firing_rows =
      static_cast<int>(std::min<size_t>(firing.size(), bounded ? 5 : firing.size()));
  const int agent_rows =
      static_cast<int>(std::min<size_t>(agents.size(), bounded ? 3 : agents.size()));
  int rule_space = avail - (1 + firing_rows) - (1 + agent_rows) - 2;
  const int n_rules = static_cast<int>(rules.size());
  const int keys_each =
      n_rules == 0 ? 0 : std::clamp((rule_space - n_rules) / n_rules, 0, bounded ? 5 : 10);

  body.push_back("");
  body.push_back(bold +
                 Fit(Fmt("%-22s %8s %10s %8s %7s  %s", "RULE", "RATE/s", "MATCHES", "KEYS",
                         "FIRING", "WINDOW"),
                     o.width) +
                 reset);
  int used = 0;
  for (const auto& r : rules) {
    if (bounded && used >= rule_space) break;
    body.push_back(Fit(Fmt("%s %8s %10llu %8llu %7llu  %s", Pad(r.value("name", ""), 22).c_str(),
                           Rate(r.value("rate_per_s", 0.0)).c_str(),
                           static_cast<unsigned long long>(r.value("matches", uint64_t{0})),
                           static_cast<unsigned long long>(r.value("window_keys", uint64_t{0})),
                           static_cast<unsigned long long>(r.value("firing", uint64_t{0})),
                           FormatDurationMs(r.value("window_ms", int64_t{0})).c_str()),
                       o.width));
    ++used;
    int shown = 0;
    for (const auto& k : r["top"]) {
      if (shown >= keys_each || (bounded && used >= rule_space)) break;
      std::vector<uint64_t> history = k.value("history", std::vector<uint64_t>{});
      std::string key = k.value("key", "");
      if (key.empty()) key = "(all)";
      body.push_back(Fit(Fmt("  %s %8llu  %s", Pad(key, 30).c_str(),
                             static_cast<unsigned long long>(k.value("count", uint64_t{0})),
                             Sparkline(history, o.unicode).c_str()),
                         o.width));
      ++shown;
      ++used;
    }
  }
  if (rules.empty())
    body.push_back(o.filter.empty() ? "  (no rules)" : "  (no rule matches the filter)");
  body.push_back("");
  body.push_back(bold + Fit(Fmt("FIRING (%zu)", firing.size()), o.width) + reset);
  for (int i = 0; i < firing_rows; ++i) body.push_back(firing[static_cast<size_t>(i)]);
  body.push_back(bold + Fit(Fmt("AGENTS (%zu)", agents.size()), o.width) + reset);
  for (int i = 0; i < agent_rows; ++i) body.push_back(agents[static_cast<size_t>(i)]);

  std::vector<std::string> out = head;
  for (auto& line : body) {
    if (bounded && static_cast<int>(out.size() + tail.size()) >= o.height) break;
    out.push_back(std::move(line));
  }
  if (bounded) {
    while (static_cast<int>(out.size() + tail.size()) < o.height) out.emplace_back();
  }
  for (auto& line : tail) out.push_back(std::move(line));
  return out;
}

}  // namespace ember::cli
