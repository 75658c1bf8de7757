#include "agent/path_glob.h"

#include <unistd.h>

#include <algorithm>

#include <catch2/catch.hpp>

#include "tests/support/temp_dir.h"

using ember::agent::GlobFiles;
using ember::agent::GlobMatch;

TEST_CASE("GlobMatch: * and ? stay within a segment, ** spans directories", "[agent][glob][unit]") {
  struct Case {
    const char* pattern;
    const char* path;
    bool match;
  };
  for (const Case& c : {
           Case{"/var/log/*.log", "/var/log/syslog.log", true},
           Case{"/var/log/*.log", "/var/log/nginx/access.log", false},
           Case{"/var/log/**/*.log", "/var/log/nginx/access.log", true},
           Case{"/var/log/**/*.log", "/var/log/a/b/c/x.log", true},
           Case{"/var/log/**/*.log", "/var/log/x.log", true},  // ** is zero directories too
           Case{"/var/log/**", "/var/log/a/b", true},
           Case{"/var/log/app?.log", "/var/log/app1.log", true},
           Case{"/var/log/app?.log", "/var/log/app10.log", false},
           Case{"/var/log/[ab].log", "/var/log/b.log", true},
           Case{"/var/log/*.log", "/var/log/.hidden.log", false},
           Case{"/srv/**/logs/*.log", "/srv/a/b/logs/x.log", true},
           Case{"/srv/**/logs/*.log", "/srv/a/b/other/x.log", false},
           Case{"relative/*.log", "/relative/x.log", false},
       }) {
    INFO(c.pattern << " vs " << c.path);
    CHECK(GlobMatch(c.pattern, c.path) == c.match);
  }
}

TEST_CASE("GlobFiles: finds regular files at any depth for **, only one level for *",
          "[agent][glob][unit]") {
  ember::test::TempDir dir;
  dir.Write("logs/a.log", "");
  dir.Write("logs/b.txt", "");
  dir.Write("logs/nginx/access.log", "");
  dir.Write("logs/nginx/old/error.log", "");
  CHECK(GlobFiles(dir.Sub("logs/*.log")) == std::vector<std::string>{dir.Sub("logs/a.log")});
  CHECK(GlobFiles(dir.Sub("logs/**/*.log")) ==
        std::vector<std::string>{dir.Sub("logs/a.log"), dir.Sub("logs/nginx/access.log"),
                                 dir.Sub("logs/nginx/old/error.log")});
  CHECK(GlobFiles(dir.Sub("logs/b.txt")) == std::vector<std::string>{dir.Sub("logs/b.txt")});
  CHECK(GlobFiles(dir.Sub("nowhere/*.log")).empty());
}

TEST_CASE(
    "GlobFiles: a symlink loop ends, a directory linked twice is searched once, and "
    "directories past the depth are counted",
    "[agent][glob][unit]") {
  ember::test::TempDir dir;
  dir.Write("logs/a/x.log", "x\n");
  dir.Write("logs/a/b/c/y.log", "y\n");
  REQUIRE(::symlink(dir.Sub("logs").c_str(), dir.Sub("logs/a/loop").c_str()) == 0);
  REQUIRE(::symlink(dir.Sub("logs/a").c_str(), dir.Sub("logs/again").c_str()) == 0);
  ember::agent::GlobStats stats;
  const auto files = GlobFiles(dir.Sub("logs") + "/**/*.log", 16, &stats);
  // Each file once, under the first path the walk reached it by.
  REQUIRE(files.size() == 2);
  const auto names = [](const std::vector<std::string>& paths) {
    std::vector<std::string> out;
    for (const auto& p : paths) out.push_back(p.substr(p.rfind('/') + 1));
    std::sort(out.begin(), out.end());
    return out;
  };
  CHECK(names(files) == std::vector<std::string>{"x.log", "y.log"});
  CHECK(stats.repeated >= 2);  // the loop back to logs/, and logs/again = logs/a
  CHECK(stats.beyond_depth == 0);
  // A depth of 1 below logs/: a/ is searched, a/b/ is not (and is counted).
  ember::agent::GlobStats shallow;
  const auto near = GlobFiles(dir.Sub("logs") + "/**/*.log", 1, &shallow);
  REQUIRE(near.size() == 1);
  CHECK(near[0].find("x.log") != std::string::npos);
  CHECK(shallow.beyond_depth >= 1);
  // Without ** nothing deeper is wanted, so nothing is reported missing.
  ember::agent::GlobStats flat;
  CHECK(GlobFiles(dir.Sub("logs") + "/a/*.log", 16, &flat).size() == 1);
  CHECK(flat.beyond_depth == 0);
}
