#include "aggregator/rules_reloader.h"

#include <sys/inotify.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <map>

#include <climits>
#include <spdlog/spdlog.h>

#include "rules/rule_warnings.h"

namespace ember::aggregator {

Result<std::shared_ptr<const rules::RuleSet>> LoadRules(const AggregatorConfig& config) {
  rules::Diagnostics diagnostics;
  rules::RuleSetOptions options;
  options.batch_interval_ms = config.engine.batch_interval_ms;
  options.screen_cache_dir = config.state_dir + "/screens";  // a restart skips the compile
  auto set = rules::RuleSet::Load(config.rules_dir, options, &diagnostics);
  for (const auto& d : diagnostics) spdlog::error("{}", d);
  if (set.ok()) {
    for (const auto& w : rules::RuleWarnings((*set)->rules())) spdlog::warn("{}", w);
    if (Status cached = (*set)->screen_cache_status(); !cached.ok()) {
      spdlog::warn("Could not keep the compiled rules for the next start: {}", cached.message());
    }
  }
  return set;
}

std::string RuleChanges::Describe() const {
  auto names = [](const std::vector<std::string>& v) {
    std::string out;
    for (const auto& n : v) out += (out.empty() ? "" : ", ") + n;
    return v.empty() ? std::string("none") : out;
  };
  return "kept with their state: " + names(kept) + "; changed (state reset): " + names(changed) +
         "; added: " + names(added) + "; removed: " + names(removed);
}

BackgroundRulesLoad::~BackgroundRulesLoad() {
  if (future_.valid()) future_.wait();
}

void BackgroundRulesLoad::Start(const AggregatorConfig& config) {
  if (future_.valid()) {
    again_ = true;  // the directory changed while it was being read: read it again after
    return;
  }
  config_ = config;
  future_ = std::async(std::launch::async, [config = config_] { return LoadRules(config); });
}

std::optional<BackgroundRulesLoad::Loaded> BackgroundRulesLoad::TakeIfDone() {
  if (!future_.valid() || future_.wait_for(std::chrono::seconds(0)) != std::future_status::ready) {
    return std::nullopt;
  }
  Loaded loaded = future_.get();
  if (again_) {
    // The directory changed while it was being read: what was read may be half old.
    again_ = false;
    future_ = std::async(std::launch::async, [config = config_] { return LoadRules(config); });
    return std::nullopt;
  }
  return loaded;
}

RuleChanges CompareRules(const rules::RuleSet& before, const rules::RuleSet& after) {
  std::map<std::string, std::string> digests;
  for (const auto& r : before.rules()) digests[r.name] = r.digest;
  RuleChanges c;
  for (const auto& r : after.rules()) {
    auto it = digests.find(r.name);
    if (it == digests.end()) {
      c.added.push_back(r.name);
    } else {
      (it->second == r.digest ? c.kept : c.changed).push_back(r.name);
      digests.erase(it);
    }
  }
  for (const auto& [name, digest] : digests) c.removed.push_back(name);
  return c;
}

RulesWatch::RulesWatch(const std::string& rules_dir) {
  fd_ = ::inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
  if (fd_ < 0) {
    spdlog::warn("Cannot watch '{}' for changes (reload with SIGHUP): {}", rules_dir,
                 std::strerror(errno));
    return;
  }
  struct stat st;
  std::string dir = rules_dir;
  if (::stat(dir.c_str(), &st) == 0 && !S_ISDIR(st.st_mode)) {
    const size_t slash = dir.rfind('/');
    dir = slash == std::string::npos ? "." : (slash == 0 ? "/" : dir.substr(0, slash));
  }
  if (::inotify_add_watch(fd_, dir.c_str(),
                          IN_CLOSE_WRITE | IN_MOVED_TO | IN_MOVED_FROM | IN_DELETE | IN_CREATE) <
      0) {
    spdlog::warn("Cannot watch '{}' for changes (reload with SIGHUP): {}", dir,
                 std::strerror(errno));
    ::close(fd_);
    fd_ = -1;
  }
}

RulesWatch::~RulesWatch() {
  if (fd_ >= 0) ::close(fd_);
}

void RulesWatch::OnReadable(int64_t now_ms) {
  char events[4096];
  while (fd_ >= 0 && ::read(fd_, events, sizeof events) > 0) {
  }
  NoteChange(now_ms);
}

bool RulesWatch::Due(int64_t now_ms) {
  if (changed_ms_ == 0 || now_ms - changed_ms_ < kQuietMs) return false;
  changed_ms_ = 0;
  return true;
}

int64_t RulesWatch::WaitMs(int64_t now_ms) const {
  if (changed_ms_ == 0) return INT64_MAX;
  return std::max<int64_t>(0, changed_ms_ + kQuietMs - now_ms);
}

}  // namespace ember::aggregator
