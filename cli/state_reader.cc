#include "cli/state_reader.h"

#include <cstdio>

namespace ember::cli {

std::unique_ptr<engine::CheckpointStore> OpenStateForReading(const std::string& state_dir,
                                                             const char* command) {
  engine::CheckpointStoreOptions o;
  o.dir = state_dir;
  o.read_only = true;
  auto store = engine::CheckpointStore::Open(o);
  if (!store.ok()) {
    std::fprintf(stderr, "%s: cannot read '%s': %s\n", command, state_dir.c_str(),
                 store.status().message().c_str());
    return nullptr;
  }
  return std::move(*store);
}

}  // namespace ember::cli
