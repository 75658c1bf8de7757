// libFuzzer target for the rules loader: any bytes as a rules file must load or be refused
// with "file:line:col" diagnostics, never abort (a yaml-cpp or RE2 exception escaping), hang
// or read out of bounds. The file is written to a private temporary directory each run.
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>

#include "rules/rule_set.h"

namespace {

const std::string& RulesPath() {
  static const std::string path = [] {
    char dir[] = "/tmp/ember-rules-fuzz.XXXXXX";
    if (::mkdtemp(dir) == nullptr) std::abort();
    return std::string(dir) + "/fuzz.yaml";
  }();
  return path;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string& path = RulesPath();
  FILE* f = std::fopen(path.c_str(), "wb");
  if (f == nullptr) std::abort();
  std::fwrite(data, 1, size, f);
  std::fclose(f);
  ember::rules::Diagnostics diagnostics;
  auto rules = ember::rules::ParseRulesFile(path, {}, &diagnostics);
  for (const auto& d : diagnostics) {
    if (d.rfind(path, 0) != 0) __builtin_trap();  // every problem names the file
  }
  return 0;
}
