// JsonlSink on a real file that runs out of room (a file size limit: writes fail part way
// with EFBIG, as on a full disk): the file keeps whole records only, and every event is
// written exactly once when room returns.
#include "aggregator/sinks/jsonl_sink.h"

#include <sys/resource.h>

#include <csignal>
#include <sstream>
#include <string>
#include <vector>

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include "tests/support/temp_dir.h"

using namespace ember;
using namespace ember::aggregator;

namespace {

engine::Alert AlertNumber(int i) {
  engine::Alert a;
  a.id = "id" + std::to_string(i);
  a.rule = "r";
  a.message = "event " + std::to_string(i) + " " + std::string(300, 'm');
  return a;
}

// The ids of the file's records; fails the test on a line that is not a whole JSON object.
std::vector<std::string> RecordIds(const std::string& content) {
  REQUIRE((content.empty() || content.back() == '\n'));
  std::vector<std::string> ids;
  std::istringstream in(content);
  for (std::string line; std::getline(in, line);) {
    auto j = nlohmann::json::parse(line, nullptr, /*allow_exceptions=*/false);
    REQUIRE_FALSE(j.is_discarded());
    ids.push_back(j.at("id").get<std::string>());
  }
  return ids;
}

// Lowers the soft file size limit for its lifetime (SIGXFSZ ignored: writes fail instead).
struct FileSizeLimit {
  explicit FileSizeLimit(rlim_t bytes) {
    REQUIRE(::getrlimit(RLIMIT_FSIZE, &saved) == 0);
    old_handler = std::signal(SIGXFSZ, SIG_IGN);
    rlimit lower = saved;
    lower.rlim_cur = bytes;
    REQUIRE(::setrlimit(RLIMIT_FSIZE, &lower) == 0);
  }
  ~FileSizeLimit() {
    ::setrlimit(RLIMIT_FSIZE, &saved);
    std::signal(SIGXFSZ, old_handler);
  }
  rlimit saved{};
  void (*old_handler)(int) = nullptr;
};

}  // namespace

TEST_CASE("JsonlSink: a write that runs out of room leaves whole records only",
          "[aggregator][jsonl][unit]") {
  test::TempDir dir;
  const std::string path = dir.Sub("alerts.jsonl");
  auto sink = JsonlSink::Open(path);
  REQUIRE(sink.ok());
  for (int i = 0; i < 3; ++i) REQUIRE((*sink)->Send(i, AlertNumber(i)).ok());
  REQUIRE((*sink)->Flush().ok());
  const size_t three = test::ReadFile(path).size();
  {
    // Room for about one and a half more records: the batch of five fails part way.
    FileSizeLimit limit(three + 600);
    for (int i = 3; i < 8; ++i) REQUIRE((*sink)->Send(i, AlertNumber(i)).ok());
    Status s = (*sink)->Flush();
    CHECK_FALSE(s.ok());
    CHECK(s.message().find(path) != std::string::npos);
    CHECK(RecordIds(test::ReadFile(path)) == std::vector<std::string>{"id0", "id1", "id2"});
  }
  // Room again: the dispatcher offers the same events again; each is written once.
  for (int i = 3; i < 8; ++i) REQUIRE((*sink)->Send(i, AlertNumber(i)).ok());
  REQUIRE((*sink)->Flush().ok());
  CHECK(RecordIds(test::ReadFile(path)) ==
        std::vector<std::string>{"id0", "id1", "id2", "id3", "id4", "id5", "id6", "id7"});
}

TEST_CASE("JsonlSink: a torn last record left by a crash is cut off when the file is opened",
          "[aggregator][jsonl][unit]") {
  test::TempDir dir;
  const std::string path = dir.Sub("alerts.jsonl");
  {
    auto sink = JsonlSink::Open(path);
    REQUIRE(sink.ok());
    REQUIRE((*sink)->Send(0, AlertNumber(0)).ok());
    REQUIRE((*sink)->Flush().ok());
  }
  dir.Append("alerts.jsonl", R"({"id":"id1","rule":"r","mess)");
  auto sink = JsonlSink::Open(path);
  REQUIRE(sink.ok());
  REQUIRE((*sink)->Send(1, AlertNumber(1)).ok());
  REQUIRE((*sink)->Flush().ok());
  CHECK(RecordIds(test::ReadFile(path)) == std::vector<std::string>{"id0", "id1"});
}
