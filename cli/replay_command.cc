#include <sys/stat.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <deque>
#include <fstream>
#include <functional>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>

#include "cli/commands.h"
#include "cli/progress_bar.h"
#include "cli/replay_source.h"
#include "common/block_arena.h"
#include "common/local_zone.h"
#include "common/time_zone.h"
#include "common/units.h"
#include "engine/deferred_stamps.h"
#include "engine/engine.h"
#include "engine/interned.h"
#include "engine/parallel_matcher.h"
#include "journal/journal_loader.h"
#include "rules/screen_cache.h"

namespace ember::cli {
namespace {

struct ReplayArgs {
  std::string rules;
  std::vector<std::string> files;
  std::string batch_interval = "1s";
  std::string allowed_lateness;  // "" = unbounded
  std::string host;
  int year = 0;
  std::string time_zone = LocalZoneName();
  bool resolved = false;
  std::vector<std::string> journals;            // journal directories or files
  std::vector<std::string> units, identifiers;  // journal filters
  std::string priority;                         // journal filter: a level, or a name after ".."
  unsigned threads = 0;                         // matching and applying; 0 = one per CPU
  uint32_t partitions = engine::kDefaultPartitions;             // key groups, as the aggregator's
  std::string screen_cache = rules::ScreenCache::DefaultDir();  // "": compile every time
  bool no_screen_cache = false;
};

// Lines of one file (or journal) gathered until the chunk is full, so worker threads can match
// a whole chunk at once. A file is read into the chunk itself (Room), so its
// lines are views into what was read; other lines are copied in, each followed by '\n' as read
// lines are. So the byte after every line is readable and the matcher scans the lines where
// they lie.
class LineChunk {
 public:
  // 32 of the matcher's slices: each chunk wakes the threads once, and its matches still fit
  // the caches when they are applied (32K lines were slower than 8K). Lines and their matches
  // are held twice (one chunk filled while the other is matched): docs/benchmarks.md.
  static constexpr size_t kMaxLines = 16384;
  static constexpr size_t kMaxBytes = 4 << 20;
  // A source's first chunks are smaller (1,024 lines, doubling up to kMaxLines): the matcher's
  // threads wait for the first one, and the first touch of the chunks' memory makes it slow.
  static constexpr size_t kFirstLines = 1024;

  // `read_bytes`, `max_line_bytes`: the source's (ReplaySourceOptions).
  LineChunk(size_t read_bytes, size_t max_line_bytes)
      : capacity_(kMaxBytes + read_bytes + max_line_bytes + 2),
        read_(std::make_unique_for_overwrite<char[]>(capacity_)) {}
  // Past `max_lines` lines (at most kMaxLines) or kMaxBytes bytes, read or copied. A file's
  // lines keep coming until the next read (at most read_bytes more), the lines held for its
  // first stamp with them.
  bool full(size_t max_lines) const {
    return lines_.size() >= max_lines || filled_ >= kMaxBytes || copies_.allocated() >= kMaxBytes;
  }
  std::span<engine::InputLine> lines() { return lines_; }
  // By line: the stream whose stamp the line waits for, or null.
  std::span<engine::StampStream* const> streams() const { return streams_; }
  // The lines' stamps, read on the matcher's threads.
  engine::DeferredStamps& stamps() { return stamps_; }

  // ReplaySource::ReadSpace: the room after what was read into this chunk, `carry` copied in
  // front of it when it was read into another. REQUIRES: not full.
  std::span<char> Room(std::string_view carry) {
    const auto end = reinterpret_cast<uintptr_t>(carry.data() + carry.size());
    const auto base = reinterpret_cast<uintptr_t>(read_.get());
    if (carry.data() != nullptr && end > base && end <= base + capacity_) {
      filled_ = end - base;
    } else if (!carry.empty()) {
      std::memcpy(read_.get() + filled_, carry.data(), carry.size());
      filled_ += carry.size();
    }
    return std::span<char>(read_.get() + filled_, capacity_ - filled_);
  }

  void Add(const engine::InputLine& line, engine::StampStream* stream = nullptr) {
    if (lines_.empty()) file_.assign(line.file);
    // Every field given: default-constructed and then assigned, the 112 bytes would first be
    // cleared by a `rep stos`, which perf finds costlier than the rest of this call.
    engine::InputLine& in = lines_.emplace_back(
        engine::InputLine{.text = WasRead(line.text) ? line.text : Copy(line.text),
                          .host = Interned(line.host, &host_),
                          .file = file_,
                          .time_ms = line.time_ms,
                          .tag = {},
                          .offset_start = 0,
                          .offset_end = 0,
                          .agent = {},
                          .journal = nullptr});
    streams_.push_back(line.time_ms == ReplaySource::kStampPending ? stream : nullptr);
    if (line.journal == nullptr) return;
    const rules::JournalFields& j = *line.journal;
    if (!j.unit.empty() || !j.identifier.empty() || !j.priority.empty() || !j.pid.empty()) {
      auto intern = [](std::string_view v) { return v.empty() ? v : *engine::Intern(v); };
      in.journal = &journals_.emplace_back(rules::JournalFields{
          intern(j.unit), intern(j.identifier), intern(j.priority), intern(j.pid)});
    }
  }
  void Clear() {
    lines_.clear();
    streams_.clear();
    journals_.clear();
    filled_ = 0;
    copies_.Clear();
  }

 private:
  // The interned copy of `name`, looked up only when it differs from the last one's (a
  // name that is the last one's interned copy itself is not compared).
  static std::string_view Interned(std::string_view name, const std::string** last) {
    if (*last != nullptr && name.data() == (*last)->data() && name.size() == (*last)->size()) {
      return name;
    }
    if (*last == nullptr || **last != name) *last = engine::Intern(name);
    return **last;
  }
  bool WasRead(std::string_view text) const {
    const auto at = reinterpret_cast<uintptr_t>(text.data());
    const auto base = reinterpret_cast<uintptr_t>(read_.get());
    return at >= base && at + text.size() < base + capacity_;
  }
  // A copy of `text` followed by '\n', which stays where it is until Clear.
  std::string_view Copy(std::string_view text) {
    char* at = copies_.Allocate(text.size() + 1);
    std::memcpy(at, text.data(), text.size());
    at[text.size()] = '\n';
    return std::string_view(at, text.size());
  }

  const size_t capacity_;
  std::unique_ptr<char[]> read_;  // a file's bytes as read
  size_t filled_ = 0;             // bytes of read_ used, up to the end of the last read
  BlockArena copies_{256 << 10};  // lines from elsewhere
  std::vector<engine::InputLine> lines_;
  std::deque<rules::JournalFields> journals_;  // the lines' journal fields (stay in place)
  std::vector<engine::StampStream*> streams_;
  engine::DeferredStamps stamps_{engine::DeferredStamps::Unstamped::kPreviousLine};
  std::string file_;                   // the file of every line
  const std::string* host_ = nullptr;  // interned
};

void PrintAlerts(std::vector<engine::Alert>& alerts, bool resolved, uint64_t* printed) {
  for (const auto& a : alerts) {
    if (a.state == engine::AlertState::kResolved && !resolved) continue;
    std::string line = engine::AlertToJson(a);
    line += '\n';
    std::fwrite(line.data(), 1, line.size(), stdout);
    ++*printed;
  }
  alerts.clear();
}

int RunReplay(const ReplayArgs& args) {
  if (args.files.empty() && args.journals.empty()) {
    std::fprintf(stderr, "ember replay: name log files, or a journal with --journal\n");
    return 2;
  }
  Result<int64_t> batch_ms = ParseDurationMs(args.batch_interval);
  if (!batch_ms.ok()) {
    std::fprintf(stderr, "ember replay: --batch-interval: %s\n",
                 batch_ms.status().message().c_str());
    return 2;
  }
  int64_t lateness_ms = -1;
  if (!args.allowed_lateness.empty()) {
    Result<int64_t> l = ParseDurationMs(args.allowed_lateness);
    if (!l.ok()) {
      std::fprintf(stderr, "ember replay: --allowed-lateness: %s\n", l.status().message().c_str());
      return 2;
    }
    lateness_ms = *l;
  }
  Result<TimeZone> zone = TimeZone::Parse(args.time_zone);
  if (!zone.ok()) {
    std::fprintf(stderr, "ember replay: --time-zone: %s\n", zone.status().message().c_str());
    return 2;
  }
  rules::RuleSetOptions rule_options;
  rule_options.batch_interval_ms = *batch_ms;
  if (!args.no_screen_cache) rule_options.screen_cache_dir = args.screen_cache;
  rules::Diagnostics diagnostics;
  auto rules = rules::RuleSet::Load(args.rules, rule_options, &diagnostics);
  for (const auto& d : diagnostics) std::fprintf(stderr, "%s\n", d.c_str());
  if (!rules.ok()) return 1;
  if (Status cached = (*rules)->screen_cache_status(); !cached.ok()) {
    std::fprintf(stderr, "ember replay: could not keep the compiled rules for the next run: %s\n",
                 cached.message().c_str());
  }

  engine::EngineOptions options;
  options.batch_interval_ms = *batch_ms;
  options.partitions = args.partitions;
  engine::Engine engine(*rules, options);
  std::vector<engine::Alert> alerts;
  uint64_t printed = 0, bytes = 0, untimed = 0;
  const auto started = std::chrono::steady_clock::now();
  uint64_t total_bytes = 0;
  for (const auto& path : args.files) {
    struct stat st;
    if (::stat(path.c_str(), &st) == 0) total_bytes += static_cast<uint64_t>(st.st_size);
  }
  ProgressBar progress(total_bytes, stderr);  // on a terminal only
  // Two chunks: the worker threads match one while this thread reads the next; then the
  // engine takes the matched one's lines in order and applies their matches partition by
  // partition on the same threads. The watermark moves where a line closes a batch, as the
  // daemon's does at a tick.
  const ReplaySourceOptions defaults;
  LineChunk chunks[2] = {{defaults.read_bytes, defaults.max_line_bytes},
                         {defaults.read_bytes, defaults.max_line_bytes}};
  LineChunk* filling = &chunks[0];
  LineChunk* matching = nullptr;
  uint64_t matching_bytes_done = 0;
  size_t chunk_lines = LineChunk::kFirstLines;  // the lines the chunk being filled may hold
  auto chunk_full = [&] { return filling->full(chunk_lines); };
  engine::ParallelMatcher matcher(args.threads);
  engine.SetRunner(&matcher);
  // Time stamps of files are read on the matcher's threads with the lines' matching, and
  // settled in order here.
  engine::StampStream file_stamps{engine::EventTimeParser(0, &*zone)};
  int64_t max_time = INT64_MIN;
  // Settles a matched chunk's stamps and applies its lines in order, then empties it.
  auto apply_chunk = [&](LineChunk* chunk, uint64_t bytes_done) {
    const std::span<engine::InputLine> lines = chunk->lines();
    untimed += chunk->stamps().Settle(lines, matcher);
    // The lines up to one that moves the watermark past a batch end are routed together,
    // then the watermark moves.
    size_t routed = 0;
    for (size_t i = 0; lateness_ms >= 0 && i < lines.size(); ++i) {
      if (lines[i].time_ms <= max_time) continue;
      max_time = lines[i].time_ms;
      const int64_t watermark = max_time - lateness_ms;
      if (watermark >= 0 && (!engine.has_closed() ||
                             watermark / engine.batch_interval_ms() > engine.closed_until())) {
        engine.RouteLines(lines.subspan(routed, i + 1 - routed), matcher, routed);
        routed = i + 1;
        engine.ApplyRouted();
        engine.AdvanceWatermark(watermark, &alerts);
        PrintAlerts(alerts, args.resolved, &printed);
      }
    }
    engine.RouteLines(lines.subspan(routed), matcher, routed);
    engine.ApplyRouted();
    chunk->Clear();
    progress.Update(bytes_done);
  };
  auto apply_matched = [&] {
    if (matching == nullptr) return;
    matcher.Finish();
    apply_chunk(matching, matching_bytes_done);
    matching = nullptr;
  };
  auto flush_chunk = [&](uint64_t bytes_done) {
    // The chunk before, matched while this one was read, is applied while the workers match
    // this one (its partitions by this thread, and by the workers between their slices).
    LineChunk* matched = matching;
    const uint64_t matched_bytes_done = matching_bytes_done;
    if (matched != nullptr) matcher.Finish();
    filling->stamps().Begin(filling->streams());
    matcher.Start(engine.rules(), filling->lines(), &filling->stamps(), /*in_place=*/true);
    matching = filling;
    matching_bytes_done = bytes_done;
    filling = filling == &chunks[0] ? &chunks[1] : &chunks[0];
    chunk_lines = std::min(chunk_lines * 2, LineChunk::kMaxLines);
    if (matched != nullptr) apply_chunk(matched, matched_bytes_done);
  };

  for (const auto& path : args.files) {
    max_time = INT64_MIN;  // each source's watermark follows its own stamps
    chunk_lines = LineChunk::kFirstLines;
    ReplaySourceOptions source_options;
    source_options.host = args.host;
    source_options.year = args.year;
    source_options.zone = &*zone;
    source_options.defer_stamps = [&](engine::EventTimeParser::YearState year, int64_t last) {
      file_stamps.parser.set_year_state(year);
      file_stamps.last_time_ms = last;
    };
    Result<std::unique_ptr<ReplaySource>> source = ReplaySource::Open(path, source_options);
    if (!source.ok()) {
      std::fprintf(stderr, "ember replay: %s\n", source.status().message().c_str());
      return 1;
    }
    ReplaySource* current = source->get();
    auto flush = [&] { flush_chunk(bytes + current->bytes_read()); };
    // The file is read into the chunk being filled; a full one goes to the matcher before the
    // next read, which carries the start of its last line over.
    Status s =
        (*source)->ReadAll([&](const engine::InputLine& line) { filling->Add(line, &file_stamps); },
                           [&](std::string_view carry) {
                             if (chunk_full()) flush();
                             return filling->Room(carry);
                           });
    if (s.ok()) flush();
    apply_matched();  // before the next source's watermark starts
    if (!s.ok()) {
      std::fprintf(stderr, "ember replay: %s\n", s.message().c_str());
      return 1;
    }
    bytes += (*source)->bytes_read();
    untimed += (*source)->untimed_lines();
  }
  // Journals: each entry a line in the shape of syslog's, at its realtime stamp, from its host.
  uint64_t entries = 0, without_message = 0, binary_messages = 0;
  for (const auto& path : args.journals) {
    max_time = INT64_MIN;
    chunk_lines = LineChunk::kFirstLines;
    struct stat st;
    const bool dir = ::stat(path.c_str(), &st) == 0 && S_ISDIR(st.st_mode);
    journal::JournalFilter filter;
    filter.units = args.units;
    filter.identifiers = args.identifiers;
    if (!args.priority.empty()) {
      Result<int> level = journal::ParsePriority(args.priority);
      if (!level.ok()) {
        std::fprintf(stderr, "ember replay: --priority: %s\n", level.status().message().c_str());
        return 2;
      }
      filter.max_priority = *level;
    }
    journal::JournalOpenRequest request{path, filter, {}};
    if (!dir) request = {"", filter, {path}};
    auto reader = journal::OpenJournalModule("ember-aggregator", request);
    if (!reader.ok()) {
      std::fprintf(stderr, "ember replay: %s\n", reader.status().message().c_str());
      return 1;
    }
    journal::JournalEntry entry;
    while (true) {
      Result<bool> more = (*reader)->Next(&entry);
      if (!more.ok()) {
        std::fprintf(stderr, "ember replay: '%s': %s\n", path.c_str(),
                     more.status().message().c_str());
        return 1;
      }
      if (!*more) break;
      ++entries;
      if (!entry.has_message) {
        ++without_message;
        continue;
      }
      binary_messages += entry.binary_message;
      const std::string line = journal::FormatJournalLine(entry);
      bytes += line.size() + 1;
      engine::InputLine in{line, entry.hostname, path, entry.realtime_us / 1000, ""};
      const std::string priority = journal::PriorityText(entry);
      const std::string pid = journal::PidText(entry);
      const rules::JournalFields fields{entry.unit, entry.identifier, priority, pid};
      in.journal = &fields;
      filling->Add(in);  // interns the fields
      if (chunk_full()) flush_chunk(bytes);
    }
    flush_chunk(bytes);
    apply_matched();
  }
  if (!args.journals.empty()) {
    std::fprintf(stderr,
                 "read %llu journal entries: %llu without a MESSAGE (skipped), %llu with bytes "
                 "a line cannot hold in it (NUL, CR, LF: written as spaces)\n",
                 static_cast<unsigned long long>(entries),
                 static_cast<unsigned long long>(without_message),
                 static_cast<unsigned long long>(binary_messages));
  }
  apply_matched();
  progress.Finish();
  engine.Finish(&alerts);
  PrintAlerts(alerts, args.resolved, &printed);
  std::fflush(stdout);

  const double secs =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  const engine::EngineStats& st = engine.stats();
  std::fprintf(stderr,
               "replayed %zu file(s): %llu lines, %.1f MiB in %.3f s (%.0f lines/s, %.1f "
               "MiB/s); %llu matches in %llu matching lines, %llu alerts firing, %llu "
               "resolved, %llu late lines, "
               "%llu lines without a time stamp (given the previous line's time)\n",
               args.files.size(), static_cast<unsigned long long>(st.lines),
               static_cast<double>(bytes) / (1 << 20), secs,
               secs > 0 ? static_cast<double>(st.lines) / secs : 0.0,
               secs > 0 ? static_cast<double>(bytes) / (1 << 20) / secs : 0.0,
               static_cast<unsigned long long>(st.matches),
               static_cast<unsigned long long>(st.matched_lines),
               static_cast<unsigned long long>(st.alerts_firing),
               static_cast<unsigned long long>(st.alerts_resolved),
               static_cast<unsigned long long>(st.late_lines),
               static_cast<unsigned long long>(untimed));
  if (st.keys_cut > 0) {
    std::fprintf(stderr, "%llu matches with a key field cut to its share of %zu bytes\n",
                 static_cast<unsigned long long>(st.keys_cut), rules::kMaxKeyBytes);
  }
  if (st.unparsed_times > 0) {
    std::fprintf(stderr, "%llu matches with a rule time stamp that could not be read\n",
                 static_cast<unsigned long long>(st.unparsed_times));
  }
  return 0;
}

}  // namespace

void AddReplayCommand(CLI::App& app, int* exit_code) {
  auto* cmd = app.add_subcommand(
      "replay",
      "Run the rules over log files at full speed in event time; print the alerts "
      "that would have fired as JSON lines");
  auto args = std::make_shared<ReplayArgs>();
  cmd->add_option("--rules", args->rules, "Rules directory or file")->required();
  cmd->add_option("files", args->files, "Log files to replay, in order");
  cmd->add_option("--journal", args->journals,
                  "A systemd journal directory or .journal file to replay after the files: each "
                  "entry is a line '<RFC 3339 time> <host> <identifier>[<pid>]: <message>' at "
                  "its realtime stamp");
  cmd->add_option("--unit", args->units, "Journal: only entries of this systemd unit (repeat)");
  cmd->add_option("--identifier", args->identifiers,
                  "Journal: only entries with this SYSLOG_IDENTIFIER (repeat)");
  cmd->add_option("--priority", args->priority,
                  "Journal: only entries this important or more: a level 0-7 or a name "
                  "(emerg alert crit err warning notice info debug), optionally after '..'");
  cmd->add_option("--batch-interval", args->batch_interval, "Batch interval")
      ->capture_default_str();
  cmd->add_option("--allowed-lateness", args->allowed_lateness,
                  "Close batches this long behind the newest time seen (bounds memory on "
                  "huge inputs); default: unbounded, every line counts in its own windows");
  cmd->add_option("--host", args->host,
                  "Value of the built-in 'host' field (default: this machine's name)");
  cmd->add_option("--year", args->year,
                  "Year for time stamps without one (default: the file's modification year)");
  cmd->add_option("--time-zone", args->time_zone,
                  "Zone of time stamps without a UTC offset, as the agent would read them on "
                  "the host that wrote them (default: this machine's)")
      ->capture_default_str();
  cmd->add_flag("--resolved", args->resolved, "Also print resolved events");
  cmd->add_option("--threads", args->threads,
                  "Threads matching the rules and applying the matches (default: one per CPU); "
                  "alerts are the same for any number");
  cmd->add_option("--partitions", args->partitions,
                  "Key groups of the window state, as the aggregator's 'partitions' (a rule's "
                  "max_keys is shared among them)")
      ->check(CLI::Range(1u, engine::kMaxPartitions))
      ->capture_default_str();
  cmd->add_option("--screen-cache", args->screen_cache,
                  "Directory keeping the rules' compiled Hyperscan screen between runs (created "
                  "0700; used only when this user's alone)")
      ->capture_default_str();
  cmd->add_flag("--no-screen-cache", args->no_screen_cache,
                "Compile the rules' screen every time, keeping nothing");
  cmd->callback([=] { *exit_code = RunReplay(*args); });
}

}  // namespace ember::cli
