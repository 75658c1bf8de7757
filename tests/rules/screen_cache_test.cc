// The screen cache gives back exactly what was stored under exactly the same key, and nothing
// for a file that was cut, altered, replaced by a link or left writable by others; it keeps
// at most kMaxFiles files, dropping the least recently used.
#include "rules/screen_cache.h"

#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include <catch2/catch.hpp>

#include "tests/support/temp_dir.h"

using namespace ember;
using namespace ember::rules;

namespace {

// The one cache file in `dir`.
std::string OnlyFile(const std::string& dir) {
  std::vector<std::string> files;
  for (const auto& e : std::filesystem::directory_iterator(dir)) files.push_back(e.path());
  REQUIRE(files.size() == 1);
  return files[0];
}

std::string ReadAll(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

void WriteAll(const std::string& path, const std::string& bytes) {
  std::ofstream(path, std::ios::binary | std::ios::trunc) << bytes;
}

}  // namespace

TEST_CASE("ScreenCache: a value comes back only under its own key, whole and ours",
          "[rules][screen_cache][unit]") {
  test::TempDir tmp;
  const std::string dir = tmp.Sub("cache/screens");  // parents are made too
  const ScreenCache cache(dir);
  const std::string key = "hyperscan 5.4\npatterns";
  const std::string value("compiled\0bytes", 14);
  CHECK_FALSE(cache.Load(key).has_value());
  REQUIRE(cache.Store(key, value).ok());
  struct stat st;
  REQUIRE(::stat(dir.c_str(), &st) == 0);
  CHECK((st.st_mode & 0777) == 0700);
  CHECK(cache.Load(key) == value);
  CHECK_FALSE(cache.Load(key + " ").has_value());
  CHECK_FALSE(cache.Load("").has_value());

  const std::string file = OnlyFile(dir);
  const std::string stored = ReadAll(file);
  SECTION("a cut file") {
    WriteAll(file, stored.substr(0, stored.size() - 3));
    CHECK_FALSE(cache.Load(key).has_value());
  }
  SECTION("an altered value") {
    std::string altered = stored;
    altered[stored.find("compiled")] = 'C';
    WriteAll(file, altered);
    CHECK_FALSE(cache.Load(key).has_value());
  }
  SECTION("bytes after the record") {
    WriteAll(file, stored + "x");
    CHECK_FALSE(cache.Load(key).has_value());
  }
  SECTION("a file others may write") {
    REQUIRE(::chmod(file.c_str(), 0662) == 0);
    CHECK_FALSE(cache.Load(key).has_value());
  }
  SECTION("a directory others may write: nothing is read from it or stored in it") {
    REQUIRE(::chmod(dir.c_str(), 0777) == 0);
    CHECK_FALSE(cache.Load(key).has_value());
    Status s = cache.Store(key, value);
    CHECK_FALSE(s.ok());
    CHECK(s.message().find(dir) != std::string::npos);
  }
  SECTION("a symbolic link in the file's place") {
    const std::string elsewhere = tmp.Write("elsewhere", stored);
    REQUIRE(::unlink(file.c_str()) == 0);
    REQUIRE(::symlink(elsewhere.c_str(), file.c_str()) == 0);
    CHECK_FALSE(cache.Load(key).has_value());
  }
  SECTION("stored again, it is replaced whole") {
    REQUIRE(cache.Store(key, "other").ok());
    CHECK(cache.Load(key) == std::string("other"));
    CHECK(OnlyFile(dir) == file);
  }
}

TEST_CASE("ScreenCache: keeps the most recently used files up to its bound",
          "[rules][screen_cache][unit]") {
  test::TempDir tmp;
  const ScreenCache cache(tmp.Sub("screens"));
  const size_t n = ScreenCache::kMaxFiles + 5;
  for (size_t i = 0; i < n; ++i) {
    REQUIRE(cache.Store("key " + std::to_string(i), "value " + std::to_string(i)).ok());
    if (i > 0) REQUIRE(cache.Load("key 0").has_value());  // used all along
    ::usleep(2000);                                       // distinct modification times
  }
  size_t files = 0;
  for ([[maybe_unused]] const auto& e : std::filesystem::directory_iterator(cache.dir())) ++files;
  CHECK(files == ScreenCache::kMaxFiles);
  CHECK(cache.Load("key 0") == std::string("value 0"));
  CHECK(cache.Load("key " + std::to_string(n - 1)) == "value " + std::to_string(n - 1));
  // The oldest of the others went first.
  for (size_t i = 1; i <= 5; ++i) CHECK_FALSE(cache.Load("key " + std::to_string(i)).has_value());
  CHECK(cache.Load("key 6").has_value());
}

TEST_CASE("ScreenCache: the default directory follows XDG_CACHE_HOME, then HOME",
          "[rules][screen_cache][unit]") {
  const char* xdg = std::getenv("XDG_CACHE_HOME");
  const char* home = std::getenv("HOME");
  const std::string saved_xdg = xdg ? xdg : "", saved_home = home ? home : "";
  ::setenv("XDG_CACHE_HOME", "/x/cache", 1);
  ::setenv("HOME", "/home/u", 1);
  CHECK(ScreenCache::DefaultDir() == "/x/cache/ember/screens");
  ::setenv("XDG_CACHE_HOME", "relative", 1);  // not absolute: ignored, as the spec says
  CHECK(ScreenCache::DefaultDir() == "/home/u/.cache/ember/screens");
  ::unsetenv("XDG_CACHE_HOME");
  ::unsetenv("HOME");
  CHECK(ScreenCache::DefaultDir().empty());
  if (xdg) ::setenv("XDG_CACHE_HOME", saved_xdg.c_str(), 1);
  if (home) ::setenv("HOME", saved_home.c_str(), 1);
}
