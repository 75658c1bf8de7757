#include "agent/path_glob.h"

#include <dirent.h>
#include <fnmatch.h>
#include <sys/stat.h>

#include <algorithm>
#include <set>

namespace ember::agent {
namespace {

std::vector<std::string> Split(const std::string& path) {
  std::vector<std::string> out;
  size_t start = 0;
  while (start <= path.size()) {
    size_t slash = path.find('/', start);
    if (slash == std::string::npos) slash = path.size();
    if (slash > start) out.push_back(path.substr(start, slash - start));
    start = slash + 1;
  }
  return out;
}

bool MatchSegments(const std::vector<std::string>& pat, size_t pi,
                   const std::vector<std::string>& seg, size_t si) {
  while (pi < pat.size()) {
    if (pat[pi] == "**") {
      // `**` swallows zero or more whole segments.
      for (size_t k = si; k <= seg.size(); ++k) {
        if (MatchSegments(pat, pi + 1, seg, k)) return true;
      }
      return false;
    }
    if (si >= seg.size() || ::fnmatch(pat[pi].c_str(), seg[si].c_str(), FNM_PERIOD) != 0) {
      return false;
    }
    ++pi;
    ++si;
  }
  return si == seg.size();
}

bool HasWildcard(const std::string& s) { return s.find_first_of("*?[") != std::string::npos; }

struct WalkState {
  int max_depth;
  const std::string& pattern;
  std::vector<std::string>* out;
  std::set<std::pair<dev_t, ino_t>> seen;  // directories walked
  GlobStats stats;
};

void Walk(const std::string& dir, int depth, WalkState& w) {
  struct stat dir_st;
  if (::stat(dir.c_str(), &dir_st) != 0) return;
  if (!w.seen.insert({dir_st.st_dev, dir_st.st_ino}).second) {
    ++w.stats.repeated;
    return;
  }
  DIR* d = ::opendir(dir.c_str());
  if (d == nullptr) return;
  w.stats.dirs.push_back(dir);
  std::vector<std::string> subdirs;
  while (dirent* e = ::readdir(d)) {
    std::string name = e->d_name;
    if (name == "." || name == "..") continue;
    std::string path = dir == "/" ? "/" + name : dir + "/" + name;
    // The directory entry's type spares a stat per file (thousands every rescan); links
    // (followed) and file systems that do not fill d_type are asked with stat.
    bool is_dir = e->d_type == DT_DIR;
    if (e->d_type == DT_LNK || e->d_type == DT_UNKNOWN) {
      struct stat st;
      if (::stat(path.c_str(), &st) != 0) continue;
      is_dir = S_ISDIR(st.st_mode);
    }
    if (is_dir) {
      if (depth < w.max_depth) {
        subdirs.push_back(path);
      } else {
        ++w.stats.beyond_depth;
      }
    } else if (GlobMatch(w.pattern, path)) {
      w.out->push_back(path);
    }
  }
  ::closedir(d);
  for (const auto& sub : subdirs) Walk(sub, depth + 1, w);
}

}  // namespace

bool GlobMatch(const std::string& pattern, const std::string& path) {
  if (pattern.empty() || path.empty() || (pattern[0] == '/') != (path[0] == '/')) return false;
  return MatchSegments(Split(pattern), 0, Split(path), 0);
}

std::vector<std::string> GlobFiles(const std::string& pattern, int max_depth, GlobStats* stats) {
  std::vector<std::string> out;
  const std::vector<std::string> parts = Split(pattern);
  // The directory to walk from: the segments before the first wildcard.
  std::string base = pattern[0] == '/' ? "" : ".";
  size_t i = 0;
  for (; i < parts.size() && !HasWildcard(parts[i]); ++i) base += "/" + parts[i];
  if (base.empty()) base = "/";
  if (i == parts.size()) {  // no wildcard: one file
    struct stat st;
    if (::stat(pattern.c_str(), &st) == 0 && !S_ISDIR(st.st_mode)) out.push_back(pattern);
    return out;
  }
  // Without `**` the walk needs go no deeper than the pattern has segments.
  const bool deep =
      std::find(parts.begin() + static_cast<std::ptrdiff_t>(i), parts.end(), "**") != parts.end();
  const int depth = deep ? max_depth : static_cast<int>(parts.size() - i) - 1;
  std::string walk_pattern = pattern[0] == '/' ? pattern : "./" + pattern;
  WalkState walk{depth, walk_pattern, &out, {}, {}};
  Walk(base, 0, walk);
  // Without `**`, directories below the pattern's depth are not wanted, not missed.
  if (!deep) walk.stats.beyond_depth = 0;
  if (stats != nullptr) *stats = walk.stats;
  if (pattern[0] != '/') {
    for (auto& p : out) p = p.substr(2);
  }
  std::sort(out.begin(), out.end());
  return out;
}

}  // namespace ember::agent
