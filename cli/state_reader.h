// Opens the aggregator's LMDB environment read-only for a CLI command, beside a running
// aggregator (readers never block it). On failure prints "<command>: cannot read '<dir>':
// <cause>" to stderr and returns null.
#pragma once

#include <memory>
#include <string>

#include "engine/checkpoint_store.h"

namespace ember::cli {

std::unique_ptr<engine::CheckpointStore> OpenStateForReading(const std::string& state_dir,
                                                             const char* command);

}  // namespace ember::cli
