// `ember test FILE|DIR...`: runs rule unit tests (see cli/rule_tests.h).
#include <dirent.h>
#include <sys/stat.h>

#include <algorithm>
#include <cstdio>
#include <memory>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>

#include "cli/commands.h"
#include "cli/rule_tests.h"

namespace ember::cli {
namespace {

bool EndsWith(const std::string& s, const std::string& suffix) {
  return s.size() >= suffix.size() &&
         s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

// The test files named, a directory standing for its *.test.yaml / *.test.yml files.
std::vector<std::string> ExpandPaths(const std::vector<std::string>& paths) {
  std::vector<std::string> out;
  for (std::string path : paths) {
    while (path.size() > 1 && path.back() == '/') path.pop_back();
    struct stat st;
    if (::stat(path.c_str(), &st) != 0 || !S_ISDIR(st.st_mode)) {
      out.push_back(path);
      continue;
    }
    std::vector<std::string> found;
    if (DIR* dir = ::opendir(path.c_str())) {
      while (dirent* e = ::readdir(dir)) {
        std::string name = e->d_name;
        if (EndsWith(name, ".test.yaml") || EndsWith(name, ".test.yml")) {
          found.push_back(path + "/" + name);
        }
      }
      ::closedir(dir);
    }
    std::sort(found.begin(), found.end());
    out.insert(out.end(), found.begin(), found.end());
  }
  return out;
}

}  // namespace

void AddTestCommand(CLI::App& app, int* exit_code) {
  auto* cmd = app.add_subcommand(
      "test", "Run rule unit tests: input lines at synthetic times, expected alerts");
  auto paths = std::make_shared<std::vector<std::string>>();
  cmd->add_option("files", *paths, "Test files (*.test.yaml) or directories holding them")
      ->required();
  cmd->callback([=] {
    int passed = 0, failed = 0, broken = 0;
    const std::vector<std::string> files = ExpandPaths(*paths);
    if (files.empty()) {
      std::fprintf(stderr, "ember test: no *.test.yaml files found\n");
      *exit_code = 2;
      return;
    }
    for (const auto& file : files) {
      std::printf("%s\n", file.c_str());
      Result<RuleTestReport> report = RunRuleTests(file);
      if (!report.ok()) {
        std::fflush(stdout);
        std::fprintf(stderr, "%s\n", report.status().message().c_str());
        ++broken;
        continue;
      }
      std::fputs(report->text.c_str(), stdout);
      passed += report->passed;
      failed += report->failed;
    }
    std::printf("%d passed, %d failed%s\n", passed, failed,
                broken ? (", " + std::to_string(broken) + " test file(s) unusable").c_str() : "");
    *exit_code = broken ? 2 : failed ? 1 : 0;
  });
}

}  // namespace ember::cli
