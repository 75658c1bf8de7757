#include "aggregator/sinks/jsonl_sink.h"

#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace ember::aggregator {

Result<std::unique_ptr<JsonlSink>> JsonlSink::Open(const std::string& path) {
  std::unique_ptr<JsonlSink> sink(new JsonlSink(path));
  Status s = sink->Reopen();
  if (!s.ok()) return s;
  return sink;
}

JsonlSink::~JsonlSink() {
  if (file_ != nullptr) std::fclose(file_);
}

Status JsonlSink::Reopen() {
  std::FILE* f = std::fopen(path_.c_str(), "ae");
  if (f == nullptr) {
    return Status::IOError("cannot open '" + path_ + "' for appending: " + std::strerror(errno));
  }
  if (file_ != nullptr) std::fclose(file_);
  file_ = f;
  return Status::Ok();
}

std::string JsonlSink::Describe() const { return "jsonl '" + path_ + "'"; }

Status JsonlSink::Send(uint64_t /*seq*/, const engine::Alert& alert) {
  std::string line = engine::AlertToJson(alert);
  line += '\n';
  if (std::fwrite(line.data(), 1, line.size(), file_) != line.size()) {
    return Status::IOError("cannot write to '" + path_ + "': " + std::strerror(errno));
  }
  return Status::Ok();
}

Status JsonlSink::Flush() {
  if (std::fflush(file_) != 0 || ::fdatasync(::fileno(file_)) != 0) {
    return Status::IOError("cannot flush '" + path_ + "': " + std::strerror(errno));
  }
  return Status::Ok();
}

}  // namespace ember::aggregator
