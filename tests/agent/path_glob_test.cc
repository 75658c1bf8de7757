#include "agent/path_glob.h"

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
