// WebChanges: what an HttpServer told of its changed web configurations (on its own thread,
// through HttpServerOptions::on_web_change), read by a test's thread. Thread-safe.
#pragma once

#include <mutex>
#include <string>
#include <vector>

#include "common/status.h"

namespace ember::test {

class WebChanges {
 public:
  void Add(const Status& s) {
    std::lock_guard<std::mutex> lock(mu_);
    seen_.push_back(s);
  }
  size_t count() {
    std::lock_guard<std::mutex> lock(mu_);
    return seen_.size();
  }
  // "ok" when the last was taken into use, else its error; "(none)" before any.
  std::string last() {
    std::lock_guard<std::mutex> lock(mu_);
    return seen_.empty() ? "(none)" : seen_.back().ok() ? "ok" : seen_.back().message();
  }

 private:
  std::mutex mu_;
  std::vector<Status> seen_;
};

}  // namespace ember::test
