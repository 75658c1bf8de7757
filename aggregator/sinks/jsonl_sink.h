// JsonlSink: appends each alert event as one JSON object per line to a file, flushed per
// batch; reopened on SIGHUP so logrotate can move it. Not thread-safe.
#pragma once

#include <cstdio>
#include <memory>
#include <string>

#include "aggregator/sinks/alert_sink.h"

namespace ember::aggregator {

class JsonlSink final : public AlertSink {
 public:
  // Errors: IOError naming the path when it cannot be opened for appending.
  static Result<std::unique_ptr<JsonlSink>> Open(const std::string& path);
  ~JsonlSink() override;
  std::string Describe() const override;
  Status Send(uint64_t seq, const engine::Alert& alert) override;
  Status Flush() override;
  Status Reopen() override;

 private:
  explicit JsonlSink(std::string path) : path_(std::move(path)) {}
  std::string path_;
  std::FILE* file_ = nullptr;
};

}  // namespace ember::aggregator
