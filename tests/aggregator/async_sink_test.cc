// AsyncSink's worker thread against the pipeline thread: events are delivered in order, each
// reported finished once, failures counted, a full queue refused, and stopping is prompt.
#include "aggregator/sinks/async_sink.h"

#include <atomic>
#include <chrono>
#include <mutex>
#include <thread>

#include <catch2/catch.hpp>

using namespace ember;
using namespace ember::aggregator;
using namespace std::chrono_literals;

namespace {

class RecordingSink final : public AsyncSink {
 public:
  explicit RecordingSink(int fail_every) : fail_every_(fail_every) { StartWorker(); }
  ~RecordingSink() override { Stop(); }
  std::string Describe() const override { return "recording"; }
  std::vector<std::string> delivered() const {
    std::lock_guard<std::mutex> lock(mu_);
    return delivered_;
  }

 private:
  bool Deliver(const engine::Alert& alert) override {
    const int n = ++attempts_;
    if (fail_every_ > 0 && n % fail_every_ == 0) return false;
    std::lock_guard<std::mutex> lock(mu_);
    delivered_.push_back(alert.id);
    return true;
  }
  const int fail_every_;
  std::atomic<int> attempts_{0};
  mutable std::mutex mu_;
  std::vector<std::string> delivered_;
};

engine::Alert AlertWithId(int i) {
  engine::Alert a;
  a.id = "a" + std::to_string(i);
  a.rule = "r";
  return a;
}

}  // namespace

TEST_CASE("AsyncSink: a worker delivers in order and reports each event finished once",
          "[aggregator][threads][unit]") {
  RecordingSink sink(/*fail_every=*/5);
  for (int i = 0; i < 200; ++i) REQUIRE(sink.Send(static_cast<uint64_t>(i), AlertWithId(i)).ok());
  std::vector<uint64_t> finished;
  const auto deadline = std::chrono::steady_clock::now() + 20s;
  while (finished.size() < 200 && std::chrono::steady_clock::now() < deadline) {
    for (uint64_t seq : sink.TakeFinished()) finished.push_back(seq);
    std::this_thread::sleep_for(1ms);
  }
  REQUIRE(finished.size() == 200);
  for (size_t i = 0; i < finished.size(); ++i) CHECK(finished[i] == i);
  CHECK(sink.failures() == 40);  // every fifth attempt gives up
  const auto delivered = sink.delivered();
  REQUIRE(delivered.size() == 160);
  CHECK(delivered.front() == "a0");
  CHECK(delivered.back() == "a198");  // the 200th attempt is a fifth one: given up
}

TEST_CASE("AsyncSink: destroying a sink with a queue stops its worker promptly",
          "[aggregator][threads][unit]") {
  const auto started = std::chrono::steady_clock::now();
  {
    RecordingSink sink(0);
    for (int i = 0; i < 1000; ++i) (void)sink.Send(static_cast<uint64_t>(i), AlertWithId(i));
  }
  CHECK(std::chrono::steady_clock::now() - started < 10s);
}
