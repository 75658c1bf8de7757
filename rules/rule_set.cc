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

#include "rules/literal_prefilter.h"

namespace ember::rules {

struct MatchScratch::Impl {
  LiteralPrefilter::Scratch prefilter;
  std::vector<int> hits;
  std::vector<re2::StringPiece> groups;
  std::string key;
};

MatchScratch::MatchScratch() : impl_(std::make_unique<Impl>()) {}
MatchScratch::~MatchScratch() = default;

struct RuleSet::Impl {
  std::unique_ptr<LiteralPrefilter> prefilter;  // null: every line goes to the set
  std::unique_ptr<re2::RE2::Set> set;
  // Set entry i: entries[i] = (rule index, whether it is the rule's `ratio_of`). Every
  // rule's `match` first, in rule order, then the `ratio_of` patterns.
  std::vector<std::pair<size_t, bool>> entries;
  size_t max_groups = 0;
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

// Empty globs match anything; a value must match one of them.
bool MatchesAny(const std::vector<std::string>& globs, std::string_view value) {
  if (globs.empty()) return true;
  const std::string v(value);
  for (const auto& g : globs) {
    if (::fnmatch(g.c_str(), v.c_str(), 0) == 0) return true;
  }
  return false;
}

bool InScope(const Rule& rule, const LineSource& source) {
  return MatchesAny(rule.hosts, source.host) && MatchesAny(rule.files, source.file) &&
         MatchesAny(rule.tags, source.tag);
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

void AppendKeyValue(std::string& key, std::string_view value) {
  size_t start = key.size();
  key.append(value);
  std::replace(key.begin() + static_cast<std::ptrdiff_t>(start), key.end(), kKeySeparator, '?');
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
    for (auto& rule : ParseRulesFile(file, options, diagnostics)) {
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
  return FromRules(std::move(all));
}

Result<std::shared_ptr<const RuleSet>> RuleSet::FromRules(std::vector<Rule> rules, bool prefilter) {
  std::shared_ptr<RuleSet> set(new RuleSet());
  set->impl_ = std::make_unique<Impl>();
  RE2::Options options;
  options.set_log_errors(false);
  options.set_max_mem(256 << 20);
  set->impl_->set = std::make_unique<RE2::Set>(options, RE2::UNANCHORED);
  std::vector<std::string> patterns;
  for (bool ratio : {false, true}) {
    for (size_t i = 0; i < rules.size(); ++i) {
      const Rule& rule = rules[i];
      const std::string& pattern = ratio ? rule.ratio_of : rule.pattern;
      if (ratio && pattern.empty()) continue;
      std::string error;
      if (set->impl_->set->Add(pattern, &error) < 0) {
        return Status::InvalidArgument(rule.source + ": error: invalid pattern: " + error);
      }
      set->impl_->entries.emplace_back(i, ratio);
      patterns.push_back(pattern);
      const RE2& re = ratio ? *rule.ratio_regex : *rule.regex;
      set->impl_->max_groups =
          std::max(set->impl_->max_groups, static_cast<size_t>(re.NumberOfCapturingGroups()));
    }
  }
  if (!rules.empty() && !set->impl_->set->Compile()) {
    return Status::InvalidArgument("the rules' patterns are too large to compile together");
  }
  if (prefilter) set->impl_->prefilter = LiteralPrefilter::Build(patterns);
  set->rules_ = std::move(rules);
  return std::shared_ptr<const RuleSet>(std::move(set));
}

bool RuleSet::prefiltered() const { return impl_->prefilter != nullptr; }

int RuleSet::Find(std::string_view name) const {
  for (size_t i = 0; i < rules_.size(); ++i) {
    if (rules_[i].name == name) return static_cast<int>(i);
  }
  return -1;
}

void RuleSet::Screen(const std::vector<std::string_view>& lines,
                     std::vector<uint8_t>* may_match) const {
  if (rules_.empty()) {
    may_match->assign(lines.size(), 0);
    return;
  }
  if (!impl_->prefilter || !impl_->prefilter->ScreenLines(lines, may_match)) {
    may_match->assign(lines.size(), 1);
  }
}

void RuleSet::Match(std::string_view line, const LineSource& source, MatchScratch& scratch,
                    MatchVisitor& visitor) const {
  if (rules_.empty()) return;
  MatchScratch::Impl& s = scratch.impl();
  if (impl_->prefilter && !impl_->prefilter->MayMatch(line, s.prefilter)) return;
  s.hits.clear();
  if (!impl_->set->Match(re2::StringPiece(line.data(), line.size()), &s.hits)) return;
  std::sort(s.hits.begin(), s.hits.end());
  s.groups.resize(impl_->max_groups + 1);
  for (int entry : s.hits) {
    const auto [index, ratio] = impl_->entries[static_cast<size_t>(entry)];
    const Rule& rule = rules_[index];
    if (!InScope(rule, source)) continue;
    bool excluded = false;
    for (const auto& re : rule.unless_regex) {
      if (RE2::PartialMatch(re2::StringPiece(line.data(), line.size()), *re)) {
        excluded = true;
        break;
      }
    }
    if (excluded) continue;
    RuleMatch m;
    m.total = ratio;
    s.key.clear();
    const bool numbers =
        !ratio && (rule.value_group > 0 || rule.distinct_group > 0 || rule.time_group > 0);
    if (!rule.by.empty() || numbers) {
      const RE2& re = ratio ? *rule.ratio_regex : *rule.regex;
      const int n = re.NumberOfCapturingGroups() + 1;
      if (!re.Match(re2::StringPiece(line.data(), line.size()), 0, line.size(), RE2::UNANCHORED,
                    s.groups.data(), n)) {
        continue;  // cannot happen: the set said it matches
      }
      auto group = [&](int g) {
        const re2::StringPiece& piece = s.groups[static_cast<size_t>(g)];
        return std::string_view(piece.data(), piece.size());
      };
      const std::vector<int>& by_groups = ratio ? rule.ratio_by_groups : rule.by_groups;
      for (size_t f = 0; f < by_groups.size(); ++f) {
        if (f > 0) s.key.push_back(kKeySeparator);
        const int g = by_groups[f];
        AppendKeyValue(s.key, g == -1   ? source.host
                              : g == -2 ? source.file
                              : g == -3 ? source.tag
                                        : group(g));
      }
      if (!ratio && rule.value_group > 0)
        m.has_value = ParseNumber(group(rule.value_group), &m.value);
      if (!ratio && rule.distinct_group > 0) m.distinct = group(rule.distinct_group);
      if (!ratio && rule.time_group > 0) m.time = group(rule.time_group);
    }
    m.key = s.key;
    visitor.OnMatch(index, m);
  }
}

}  // namespace ember::rules
