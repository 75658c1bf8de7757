#include "common/local_zone.h"

#include <unistd.h>

#include <cstdlib>
#include <fstream>

namespace ember {

std::string LocalZoneName() {
  if (const char* tz = std::getenv("TZ"); tz != nullptr && *tz != '\0') {
    return tz[0] == ':' ? std::string(tz + 1) : std::string(tz);
  }
  char target[4096];
  const ssize_t n = ::readlink("/etc/localtime", target, sizeof target - 1);
  if (n > 0) {
    const std::string path(target, static_cast<size_t>(n));
    const size_t at = path.find("zoneinfo/");
    if (at != std::string::npos) return path.substr(at + 9);
  }
  std::ifstream in("/etc/timezone");
  std::string name;
  if (in >> name && !name.empty()) return name;
  return "UTC";
}

}  // namespace ember
