// JsonlSink: appends each alert event as one JSON object per line to a file, written and
// fdatasync'ed once per batch; reopened on SIGHUP so logrotate can move it. The file only ever
// holds whole records: a batch whose write or sync fails (a full disk) is cut back off the
// file, and the events are offered again with the next batch; a torn last line left by a
// crash is cut off when the file is opened. One writer per file. Not thread-safe.
#pragma once

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
  int fd_ = -1;
  std::string pending_;  // records sent since the last Flush
};

}  // namespace ember::aggregator
