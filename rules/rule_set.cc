#include "rules/rule_set.h"

#include <dirent.h>
#include <fnmatch.h>
#include <sys/stat.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdlib>
#include <set>

#include <re2/re2.h>
#include <re2/set.h>

#include "common/hash.h"
#include "rules/direct_capture.h"
#include "rules/literal_prefilter.h"
#include "rules/pattern_screen.h"
#include "rules/pattern_syntax.h"
#include "rules/screen_cache.h"

namespace ember::rules {

struct MatchScratch::Impl {
  LiteralPrefilter::Scratch prefilter;
  PatternScreen::Scratch screen;
  std::string joined;                   // the lines of one scan, each followed by '\n'
  std::vector<uint32_t> starts;         // where each line begins in `joined`, then its size
  std::vector<uint64_t> bits;           // per line: the set entries that may match it
  std::vector<std::string_view> views;  // for the literal prefilter's frame screening
  std::vector<uint8_t> may_match;
  std::vector<int> hits;
  std::vector<re2::StringPiece> groups;
  std::string key;
};

MatchScratch::MatchScratch() : impl_(std::make_unique<Impl>()) {}
MatchScratch::~MatchScratch() = default;

// One pattern of the RE2::Set: a rule's `match`, or its `ratio_of`.
struct SetEntry {
  size_t rule = 0;
  bool ratio = false;
  const RE2* regex = nullptr;
  bool captures = false;  // key fields or numbers come from its groups
  bool scoped = false;    // the rule names hosts, files, tags or journal fields (InScope)
  std::string prefix;     // LiteralPrefix of the pattern ("" if none)
  // The pattern walked without RE2 at each place its prefix occurs, on ASCII lines without
  // '\n'; null when it has no prefix or is outside DirectCapture's subset.
  std::unique_ptr<DirectCapture> direct;
};

struct RuleSet::Impl {
  std::unique_ptr<LiteralPrefilter> prefilter;  // without a screen; null: every line to the set
  std::unique_ptr<PatternScreen> screen;        // null: the set decides every line
  std::unique_ptr<re2::RE2::Set> set;
  // With a screen, the entries it does not take, matched by their own set on every line.
  std::unique_ptr<re2::RE2::Set> unscreened;
  std::vector<size_t> unscreened_entries;  // index in `unscreened` -> entry
  // Set entry i: every rule's `match` first, in rule order, then the `ratio_of` patterns.
  std::vector<SetEntry> entries;
  size_t max_groups = 0;
  size_t words = 0;  // 64-bit words per line of screen candidates
  // Per word of a candidate row: the entries the screen decides exactly (no RE2 confirmation
  // on an ASCII line without '\n').
  std::vector<uint64_t> exact_bits;
};

RuleSet::~RuleSet() = default;

std::vector<std::string> SplitKey(std::string_view key) {
  std::vector<std::string> out;
  size_t start = 0;
  while (true) {
    size_t sep = key.find(kKeySeparator, start);
    out.emplace_back(key.substr(start, sep == std::string_view::npos ? sep : sep - start));
    if (sep == std::string_view::npos) break;
    start = sep + 1;
  }
  return out;
}

namespace {

// Whether `value` matches one of `globs`.
bool MatchesAnyGlob(const std::vector<std::string>& globs, std::string_view value) {
  const std::string v(value);
  for (const auto& g : globs) {
    if (::fnmatch(g.c_str(), v.c_str(), 0) == 0) return true;
  }
  return false;
}

// Empty globs match anything; else a value must match one of them. Inline: most rules have
// no scope, and this runs for every match.
inline bool MatchesAny(const std::vector<std::string>& globs, std::string_view value) {
  return globs.empty() || MatchesAnyGlob(globs, value);
}

// The value of built-in field `g` (Rule::by_groups: -1 host ... -7 pid).
std::string_view BuiltinField(const LineSource& source, int g) {
  switch (g) {
    case -1:
      return source.host;
    case -2:
      return source.file;
    case -3:
      return source.tag;
    case -4:
      return source.journal.unit;
    case -5:
      return source.journal.identifier;
    case -6:
      return source.journal.priority;
    default:
      return source.journal.pid;
  }
}

// Whether InScope can refuse any line: the rule names hosts, files, tags or journal fields.
bool Scoped(const Rule& rule) {
  return !rule.hosts.empty() || !rule.files.empty() || !rule.tags.empty() || !rule.units.empty() ||
         !rule.identifiers.empty() || !rule.priorities.empty() || !rule.pids.empty();
}

bool InScope(const Rule& rule, const LineSource& source) {
  return MatchesAny(rule.hosts, source.host) && MatchesAny(rule.files, source.file) &&
         MatchesAny(rule.tags, source.tag) && MatchesAny(rule.units, source.journal.unit) &&
         MatchesAny(rule.identifiers, source.journal.identifier) &&
         MatchesAny(rule.priorities, source.journal.priority) &&
         MatchesAny(rule.pids, source.journal.pid);
}

Result<std::vector<std::string>> ListRuleFiles(const std::string& path) {
  struct stat st;
  if (::stat(path.c_str(), &st) != 0) {
    return Status::NotFound(path + ": no such file or directory");
  }
  if (!S_ISDIR(st.st_mode)) return std::vector<std::string>{path};
  std::vector<std::string> files;
  DIR* dir = ::opendir(path.c_str());
  if (dir == nullptr) return Status::IOError(path + ": cannot open directory");
  while (dirent* e = ::readdir(dir)) {
    std::string name = e->d_name;
    auto ends_with = [&](const std::string& suffix) {
      return name.size() > suffix.size() &&
             name.compare(name.size() - suffix.size(), suffix.size(), suffix) == 0;
    };
    if (name[0] != '.' && (ends_with(".yaml") || ends_with(".yml"))) {
      files.push_back(path + "/" + name);
    }
  }
  ::closedir(dir);
  std::sort(files.begin(), files.end());
  return files;
}

// A number as logs write it: "12", "-3.5", "1e3" (the whole capture; no units).
bool ParseNumber(std::string_view text, double* out) {
  if (text.empty() || text.size() > 64) return false;
  char buf[65];
  text.copy(buf, text.size());
  buf[text.size()] = '\0';
  char* end = nullptr;
  errno = 0;
  const double v = std::strtod(buf, &end);
  if (end != buf + text.size() || errno == ERANGE || !std::isfinite(v)) return false;
  *out = v;
  return true;
}

}  // namespace

bool AppendKeyField(std::string& key, std::string_view value, size_t limit) {
  const size_t start = key.size();
  bool cut = false;
  if (value.size() > limit) {
    constexpr size_t kSuffix = 17;  // '~' and 16 hex digits
    size_t keep = limit > kSuffix ? limit - kSuffix : 0;
    // Not inside a UTF-8 character: back over continuation bytes to where one starts.
    while (keep > 0 && (static_cast<unsigned char>(value[keep]) & 0xC0) == 0x80) --keep;
    key.append(value.substr(0, keep));
    key += '~';
    key += HashHex(Fnv1a64(value));
    cut = true;
  } else {
    key.append(value);
  }
  std::replace(key.begin() + static_cast<std::ptrdiff_t>(start), key.end(), kKeySeparator, '?');
  return cut;
}

Result<std::shared_ptr<const RuleSet>> RuleSet::Load(const std::string& path,
                                                     const RuleSetOptions& options,
                                                     Diagnostics* diagnostics) {
  Result<std::vector<std::string>> files = ListRuleFiles(path);
  if (!files.ok()) {
    diagnostics->push_back(files.status().message());
    return files.status();
  }
  std::vector<Rule> all;
  std::set<std::string> names;
  for (const auto& file : *files) {
    std::vector<Rule> parsed = ParseRulesFile(file, options, diagnostics);
    all.reserve(all.size() + parsed.size());
    for (auto& rule : parsed) {
      if (!names.insert(rule.name).second) {
        diagnostics->push_back(rule.source + ": error: rule name '" + rule.name +
                               "' is used twice; names identify a rule's state");
        continue;
      }
      all.push_back(std::move(rule));
    }
  }
  if (!diagnostics->empty()) {
    return Status::InvalidArgument(std::to_string(diagnostics->size()) + " error(s) in rules at '" +
                                   path + "'");
  }
  return FromRules(std::move(all), Screening::kBest, options.screen_cache_dir);
}

Result<std::shared_ptr<const RuleSet>> RuleSet::FromRules(std::vector<Rule> rules,
                                                          Screening screening,
                                                          const std::string& screen_cache_dir) {
  std::shared_ptr<RuleSet> set(new RuleSet());
  set->impl_ = std::make_unique<Impl>();
  Impl& impl = *set->impl_;
  RE2::Options options;
  options.set_log_errors(false);
  options.set_max_mem(256 << 20);
  impl.set = std::make_unique<RE2::Set>(options, RE2::UNANCHORED);
  std::vector<std::string> patterns;
  for (bool ratio : {false, true}) {
    for (size_t i = 0; i < rules.size(); ++i) {
      const Rule& rule = rules[i];
      const std::string& pattern = ratio ? rule.ratio_of : rule.pattern;
      if (ratio && pattern.empty()) continue;
      std::string error;
      if (impl.set->Add(pattern, &error) < 0) {
        return Status::InvalidArgument(rule.source + ": error: invalid pattern: " + error);
      }
      SetEntry entry;
      entry.rule = i;
      entry.ratio = ratio;
      entry.regex = ratio ? rule.ratio_regex.get() : rule.regex.get();
      const std::vector<int>& by_groups = ratio ? rule.ratio_by_groups : rule.by_groups;
      entry.captures =
          std::any_of(by_groups.begin(), by_groups.end(), [](int g) { return g >= 0; }) ||
          (!ratio && (rule.value_group > 0 || rule.distinct_group > 0 || rule.time_group > 0));
      entry.scoped = Scoped(rule);
      entry.prefix = LiteralPrefix(pattern);
      if (!entry.prefix.empty()) {
        entry.direct = DirectCapture::Compile(pattern, entry.regex->NumberOfCapturingGroups());
      }
      impl.entries.push_back(std::move(entry));
      patterns.push_back(pattern);
      impl.max_groups =
          std::max(impl.max_groups,
                   static_cast<size_t>(impl.entries.back().regex->NumberOfCapturingGroups()));
    }
  }
  if (!rules.empty() && !impl.set->Compile()) {
    return Status::InvalidArgument("the rules' patterns are too large to compile together");
  }
  if (screening == Screening::kBest) {
    // A candidate the walk confirms costs little even when the screen lets many through.
    std::vector<bool> want_exact, cheap_confirm;
    for (const SetEntry& entry : impl.entries) {
      want_exact.push_back(!entry.captures);
      cheap_confirm.push_back(entry.direct != nullptr);
    }
    const ScreenCache cache(screen_cache_dir);
    impl.screen = PatternScreen::Build(patterns, want_exact, cheap_confirm,
                                       screen_cache_dir.empty() ? nullptr : &cache);
  }
  if (impl.screen && impl.screen->screened_count() < patterns.size()) {
    impl.unscreened = std::make_unique<RE2::Set>(options, RE2::UNANCHORED);
    for (size_t e = 0; e < patterns.size(); ++e) {
      if (impl.screen->screened(e)) continue;
      impl.unscreened->Add(patterns[e], nullptr);
      impl.unscreened_entries.push_back(e);
    }
    if (!impl.unscreened->Compile()) impl.screen.reset();
  }
  impl.words = (patterns.size() + 63) / 64;
  impl.exact_bits.assign(impl.words, 0);
  for (size_t e = 0; impl.screen && e < patterns.size(); ++e) {
    if (impl.screen->exact(e)) impl.exact_bits[e / 64] |= uint64_t{1} << (e % 64);
  }
  if (screening != Screening::kNone && !impl.screen) {
    impl.prefilter = LiteralPrefilter::Build(patterns);
  }
  set->rules_ = std::move(rules);
  return std::shared_ptr<const RuleSet>(std::move(set));
}

bool RuleSet::prefiltered() const {
  return impl_->screen != nullptr || impl_->prefilter != nullptr;
}

size_t RuleSet::pattern_count() const { return impl_->entries.size(); }

size_t RuleSet::screened_patterns() const {
  return impl_->screen ? impl_->screen->screened_count() : 0;
}

size_t RuleSet::exact_patterns() const { return impl_->screen ? impl_->screen->exact_count() : 0; }

bool RuleSet::screen_from_cache() const { return impl_->screen && impl_->screen->from_cache(); }

Status RuleSet::screen_cache_status() const {
  return impl_->screen ? impl_->screen->store_status() : Status::Ok();
}

std::string_view RuleSet::screen_kind() const {
  return impl_->screen ? "hyperscan" : impl_->prefilter ? "literals" : "none";
}

int RuleSet::Find(std::string_view name) const {
  for (size_t i = 0; i < rules_.size(); ++i) {
    if (rules_[i].name == name) return static_cast<int>(i);
  }
  return -1;
}

namespace {

// Adapts a one-line visitor to the many-line interface.
class OneLine final : public LineMatchVisitor {
 public:
  explicit OneLine(MatchVisitor& visitor) : visitor_(visitor) {}
  void OnMatch(size_t, size_t rule, const RuleMatch& match) override {
    visitor_.OnMatch(rule, match);
  }

 private:
  MatchVisitor& visitor_;
};

// Anchored tries per line before the rest of it is left to one unanchored RE2 search.
constexpr size_t kMaxAnchoredStarts = 8;

// RE2's unanchored match of the entry's pattern, with `n` groups, found as the first match
// anchored at a place where the pattern's literal prefix occurs (every match starts with it,
// so the leftmost match starts at one of them: the same match and groups, without RE2's search
// for where it starts). On an ASCII line without '\n' (`plain`) the anchored matches are
// walked by DirectCapture where the pattern allows. Each try may read to the line's end, so a
// line where the prefix occurs thousands of times before a long run that never completes a
// match would cost its length squared: after kMaxAnchoredStarts tries, or when the walks
// used up a few times the line's length, RE2's linear search takes the rest from the current
// place (no match starts before it, so its leftmost match is the line's).
bool MatchEntry(const SetEntry& entry, std::string_view text, bool plain, re2::StringPiece* groups,
                int n) {
  const RE2& re = *entry.regex;
  const re2::StringPiece piece(text.data(), text.size());
  const DirectCapture* direct = plain ? entry.direct.get() : nullptr;
  if (entry.prefix.empty() || (n == 0 && direct == nullptr)) {
    return re.Match(piece, 0, text.size(), RE2::UNANCHORED, groups, n);
  }
  auto rest_to_re2 = [&](size_t at) {
    return re.Match(piece, at, text.size(), RE2::UNANCHORED, groups, n);
  };
  size_t budget = 4 * text.size() + 256;
  size_t tries = 0;
  for (size_t at = text.find(entry.prefix); at != std::string_view::npos;
       at = text.find(entry.prefix, at + 1)) {
    if (++tries > kMaxAnchoredStarts) return rest_to_re2(at);
    if (direct == nullptr) {
      if (re.Match(piece, at, text.size(), RE2::ANCHOR_START, groups, n)) return true;
      continue;
    }
    switch (direct->MatchAt(text, at, groups, n, &budget)) {
      case DirectCapture::Outcome::kMatch:
        return true;
      case DirectCapture::Outcome::kGaveUp:
        return rest_to_re2(at);
      case DirectCapture::Outcome::kNoMatch:
        break;
    }
  }
  return false;
}

// Lines of one Hyperscan scan: enough to amortise the call, few enough to stay in cache.
constexpr size_t kScanBytes = 256 << 10;
constexpr size_t kScanBitWords = 1 << 15;

// The lines of one scan from `first` on (at most `max_lines`), each followed by '\n', and in
// s.starts where each begins, then the end. Lines that lie one after the other in memory, each
// followed by '\n' (readable when `in_place`), are the block as they are; else they are copied
// together into s.joined.
std::string_view NextScanBlock(std::span<const LineRef> lines, size_t first, size_t max_lines,
                               bool in_place, MatchScratch::Impl& s) {
  s.starts.clear();
  s.joined.clear();
  const char* const begin = lines[first].text.data();
  size_t bytes = 0;  // of the block so far
  size_t last = first;
  while (last < lines.size() && last - first < max_lines &&
         (last == first || bytes + lines[last].text.size() < kScanBytes)) {
    const std::string_view text = lines[last].text;
    if (in_place && (text.data() != begin + bytes || text.data()[text.size()] != '\n')) {
      in_place = false;
      s.joined.assign(begin, bytes);
    }
    s.starts.push_back(static_cast<uint32_t>(bytes));
    if (!in_place) {
      s.joined.append(text);
      s.joined.push_back('\n');
    }
    bytes += text.size() + 1;
    ++last;
  }
  s.starts.push_back(static_cast<uint32_t>(bytes));
  return in_place ? std::string_view(begin, bytes) : std::string_view(s.joined);
}

}  // namespace

void RuleSet::Match(std::string_view line, const LineSource& source, MatchScratch& scratch,
                    MatchVisitor& visitor) const {
  const LineRef ref{line, &source};
  OneLine adapter(visitor);
  MatchLines(std::span<const LineRef>(&ref, 1), scratch, adapter);
}

void RuleSet::MatchLines(std::span<const LineRef> lines, MatchScratch& scratch,
                         LineMatchVisitor& visitor, bool in_place) const {
  if (rules_.empty()) return;
  MatchScratch::Impl& s = scratch.impl();
  s.groups.resize(impl_->max_groups + 1);
  if (!impl_->screen) {
    // Lines laid out in one buffer (an agent frame) are screened for the literals at once.
    bool screened = false;
    if (impl_->prefilter && lines.size() > 1) {
      s.views.clear();
      for (const LineRef& line : lines) s.views.push_back(line.text);
      screened = impl_->prefilter->ScreenLines(s.views, &s.may_match);
    }
    for (size_t i = 0; i < lines.size(); ++i) {
      if (screened ? s.may_match[i] == 0
                   : impl_->prefilter && !impl_->prefilter->MayMatch(lines[i].text, s.prefilter)) {
        continue;
      }
      MatchBySet(i, lines[i], s, visitor);
    }
    return;
  }
  const size_t words = impl_->words;
  const size_t max_lines = std::max<size_t>(1, kScanBitWords / words);
  for (size_t first = 0; first < lines.size();) {
    const std::string_view block = NextScanBlock(lines, first, max_lines, in_place, s);
    const size_t last = first + s.starts.size() - 1;
    s.bits.assign((last - first) * words, 0);
    const bool scanned = impl_->screen->Scan(block, s.starts, words, s.bits.data(), s.screen);
    const bool exact = impl_->screen->exact_count() > 0;
    // Most blocks are plain ASCII lines: one check for all of them.
    const bool plain = scanned && IsAsciiLines(block, last - first);
    for (size_t i = first; i < last; ++i) {
      const LineRef& line = lines[i];
      // Without a scan, or on a line Hyperscan reads differently (not ASCII, or holding a '\n'
      // the joined lines would cut it at): the set decides.
      if (!plain &&
          (!scanned || (exact ? HasNonAsciiOrNewline(line.text) : HasNonAscii(line.text)))) {
        MatchBySet(i, line, s, visitor);
        continue;
      }
      const bool plain_line = plain || !HasNonAsciiOrNewline(line.text);
      uint64_t* row = s.bits.data() + (i - first) * words;
      if (impl_->unscreened) {
        s.hits.clear();
        impl_->unscreened->Match(re2::StringPiece(line.text.data(), line.text.size()), &s.hits);
        for (int h : s.hits) {
          const size_t e = impl_->unscreened_entries[static_cast<size_t>(h)];
          row[e / 64] |= uint64_t{1} << (e % 64);
        }
      }
      for (size_t w = 0; w < words; ++w) {
        for (uint64_t m = row[w]; m != 0; m &= m - 1) {
          const uint64_t bit = m & -m;
          Report(w * 64 + static_cast<size_t>(__builtin_ctzll(m)),
                 /*known=*/(impl_->exact_bits[w] & bit) != 0, plain_line, i, line, s, visitor);
        }
      }
    }
    first = last;
  }
}

void RuleSet::MatchBySet(size_t index, const LineRef& line, MatchScratch::Impl& s,
                         LineMatchVisitor& visitor) const {
  s.hits.clear();
  if (!impl_->set->Match(re2::StringPiece(line.text.data(), line.text.size()), &s.hits)) return;
  std::sort(s.hits.begin(), s.hits.end());
  const bool plain = !HasNonAsciiOrNewline(line.text);
  for (int entry : s.hits)
    Report(static_cast<size_t>(entry), /*known=*/true, plain, index, line, s, visitor);
}

void RuleSet::Report(size_t entry_index, bool known, bool plain, size_t index, const LineRef& line,
                     MatchScratch::Impl& s, LineMatchVisitor& visitor) const {
  const SetEntry& entry = impl_->entries[entry_index];
  const Rule& rule = rules_[entry.rule];
  const std::string_view text = line.text;
  if (entry.scoped && !InScope(rule, *line.source)) return;
  const int n = entry.captures ? entry.regex->NumberOfCapturingGroups() + 1 : 0;
  if ((entry.captures || !known) && !MatchEntry(entry, text, plain, s.groups.data(), n)) return;
  for (const auto& unless : rule.unless_regex) {
    if (RE2::PartialMatch(re2::StringPiece(text.data(), text.size()), *unless)) return;
  }
  RuleMatch m;
  m.total = entry.ratio;
  s.key.clear();
  // Groups were captured only when a key field or a number comes from one (entry.captures);
  // a key of built-in fields alone (host, file, ...) needs none.
  auto group = [&](int g) {
    const re2::StringPiece& piece = s.groups[static_cast<size_t>(g)];
    return std::string_view(piece.data(), piece.size());
  };
  const std::vector<int>& by_groups = entry.ratio ? rule.ratio_by_groups : rule.by_groups;
  const size_t field_limit = by_groups.empty() ? kMaxKeyBytes : kMaxKeyBytes / by_groups.size();
  for (size_t f = 0; f < by_groups.size(); ++f) {
    if (f > 0) s.key.push_back(kKeySeparator);
    const int g = by_groups[f];
    if (AppendKeyField(s.key, g >= 0 ? group(g) : BuiltinField(*line.source, g), field_limit)) {
      m.key_cut = true;
    }
  }
  if (entry.captures) {
    if (!entry.ratio && rule.value_group > 0)
      m.has_value = ParseNumber(group(rule.value_group), &m.value);
    if (!entry.ratio && rule.distinct_group > 0) m.distinct = group(rule.distinct_group);
    if (!entry.ratio && rule.time_group > 0) m.time = group(rule.time_group);
  }
  m.key = s.key;
  visitor.OnMatch(index, entry.rule, m);
}

}  // namespace ember::rules
