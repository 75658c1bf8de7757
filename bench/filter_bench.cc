// Filtering benchmark: the aggregator's matching stage alone, on one thread, so its
// rate compares per core with `rg -c` on the same file (bench/replay_bench.py runs both in one
// run). The file is read into memory and cut into frames of whole lines of about 64 KiB, as an
// agent sends them; each frame's lines are matched together (RuleSet::MatchLines: the
// Hyperscan screen or literal prefilter, RE2, `unless`, scopes, key captures) exactly as
// ember-aggregator's matcher threads do before windows. No windows, no checkpoints, no threads.
//
//   ember-filter-bench --rules rules.yaml --runs 5 FILE
//
// Prints one JSON object: seconds per run, lines, bytes, matched lines (lines where at least
// one rule's `match` matched: grep -c's count) and rule matches.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include "rules/rule_set.h"

namespace {

using namespace ember;

class Counter final : public rules::LineMatchVisitor {
 public:
  void OnMatch(size_t line, size_t, const rules::RuleMatch& match) override {
    ++matches;
    if (!match.total && (matched_lines == 0 || line != last_line || frame != last_frame)) {
      ++matched_lines;
      last_line = line;
      last_frame = frame;
    }
  }
  uint64_t matches = 0, matched_lines = 0;
  size_t frame = 0, last_frame = 0, last_line = 0;
};

struct Frame {
  std::vector<std::string_view> lines;
};

// Whole lines of about `frame_bytes` each; one trailing '\r' removed as the agent does.
std::vector<Frame> CutFrames(std::string_view text, size_t frame_bytes) {
  std::vector<Frame> frames(1);
  size_t in_frame = 0;
  size_t start = 0;
  while (start < text.size()) {
    size_t end = text.find('\n', start);
    if (end == std::string_view::npos) end = text.size();
    std::string_view line = text.substr(start, end - start);
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (in_frame + line.size() > frame_bytes && !frames.back().lines.empty()) {
      frames.emplace_back();
      in_frame = 0;
    }
    frames.back().lines.push_back(line);
    in_frame += line.size() + 1;
    start = end + 1;
  }
  return frames;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"ember filtering benchmark: screen + RE2 match on one thread"};
  std::string rules_path, file;
  int runs = 5;
  size_t frame_bytes = 64 << 10;
  app.add_option("--rules", rules_path, "Rules file or directory")->required();
  app.add_option("--runs", runs, "Timed runs")->capture_default_str();
  app.add_option("--frame-bytes", frame_bytes, "Bytes of lines per frame")->capture_default_str();
  app.add_option("file", file, "Log file")->required();
  CLI11_PARSE(app, argc, argv);

  rules::Diagnostics diagnostics;
  auto rules = rules::RuleSet::Load(rules_path, rules::RuleSetOptions{}, &diagnostics);
  for (const auto& d : diagnostics) std::fprintf(stderr, "%s\n", d.c_str());
  if (!rules.ok()) return 1;
  std::ifstream in(file, std::ios::binary);
  if (!in) {
    std::fprintf(stderr, "ember-filter-bench: %s: cannot open\n", file.c_str());
    return 1;
  }
  const std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  const std::vector<Frame> frames = CutFrames(text, frame_bytes);

  nlohmann::json seconds = nlohmann::json::array();
  uint64_t lines = 0, matched_lines = 0, matches = 0;
  rules::MatchScratch scratch;
  std::vector<rules::LineRef> refs;
  const rules::LineSource source{"bench", file, ""};
  for (int run = 0; run < runs; ++run) {
    Counter counter;
    lines = 0;
    const auto started = std::chrono::steady_clock::now();
    for (const Frame& frame : frames) {
      refs.clear();
      for (std::string_view line : frame.lines) refs.push_back(rules::LineRef{line, &source});
      (*rules)->MatchLines(refs, scratch, counter);
      lines += frame.lines.size();
      ++counter.frame;
    }
    seconds.push_back(
        std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count());
    matches = counter.matches;
    matched_lines = counter.matched_lines;
  }
  nlohmann::json out = {{"seconds", seconds},   {"lines", lines},
                        {"bytes", text.size()}, {"matched_lines", matched_lines},
                        {"matches", matches},   {"screen", std::string((*rules)->screen_kind())}};
  std::printf("%s\n", out.dump().c_str());
  return 0;
}
