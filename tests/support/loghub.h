// The 16 Loghub sample logs the tests read (tests/data/loghub, with their licence there).
// Needs EMBER_SOURCE_DIR, as the unit tests are built with.
#pragma once

#include <filesystem>
#include <sstream>
#include <string>
#include <vector>

#include "tests/support/temp_dir.h"

namespace ember::test {

// Every line of every sample, in directory order, without its '\n'.
inline std::vector<std::string> LoghubLines() {
  std::vector<std::string> lines;
  for (const auto& entry :
       std::filesystem::directory_iterator(EMBER_SOURCE_DIR "/tests/data/loghub")) {
    if (entry.path().extension() != ".log") continue;
    std::istringstream in(ReadFile(entry.path().string()));
    for (std::string line; std::getline(in, line);) lines.push_back(line);
  }
  return lines;
}

}  // namespace ember::test
