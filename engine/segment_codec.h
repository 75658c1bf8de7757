// The stored bytes of per-batch partials (THEY ARE PERSISTED: the layout is documented in
// engine/checkpoint_store.h, change it only with a new version marker):
//   a segment: the partials of one rule and batch that one commit changed, in one value;
//   varints, each origin (host, file) once per segment.
// Pure functions; thread-safe (Intern is).
#pragma once

#include <cstdint>
#include <functional>
#include <span>
#include <string>
#include <string_view>

#include "engine/engine.h"

namespace ember::engine {

// Writes the version-4 segment of `records` to *out (replacing its content; pass the same
// buffer every commit so its memory is reused). REQUIRES: records not empty, none erased, all
// of one rule and batch (their keys are stored, the rule and batch are the caller's key).
void EncodeSegment(std::span<const PartialRecord> records, std::string* out);

// How many partials a segment says it holds (0 when unreadable): for sizing.
uint32_t SegmentRecordCount(std::string_view segment);

// Calls fn(key, partial) for each partial of a segment, in order. Returns false when the
// segment is truncated or malformed; the records before the fault were given.
bool DecodeSegment(std::string_view segment,
                   const std::function<void(std::string_view key, Partial&& partial)>& fn);

}  // namespace ember::engine
