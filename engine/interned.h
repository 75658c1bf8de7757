// Intern: one shared copy of each host name and file path the engine records as provenance,
// so a million partial counts do not carry a million copies of "/var/log/auth.log". Copies
// live until the process ends. Names come from agents' frames, so the table is bounded
// (kMaxInternedBytes; a hostile peer could send a new 64 KiB host in every frame): beyond it,
// InternName refuses new names and a sample's origin is recorded as unknown. Thread-safe.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace ember::engine {

// Bytes of names, and origins, the tables hold at most.
inline constexpr size_t kMaxInternedBytes = 64 << 20;
inline constexpr size_t kMaxInternedOrigins = 1 << 20;

// A stable pointer to a string equal to `s`; the same pointer for equal strings. Not bounded:
// for names the process itself reads (ember replay's files and journal fields).
const std::string* Intern(std::string_view s);

// Intern(s), or null when `s` is new and the table holds kMaxInternedBytes (counted in
// InternRefusals): for names that arrive from peers.
const std::string* InternName(std::string_view s);

// Names and origins refused at the bounds since the process started.
uint64_t InternRefusals();

// Lowers the bounds for a test (0: back to the constants above); names already held stay.
void SetInternBoundsForTest(size_t max_bytes, size_t max_origins);

// Bytes of the names held.
size_t InternedBytes();

// Where a line came from: an interned host and file, and the agent that sent it (its CURVE
// key's name when the aggregator authenticates agents, else the name it gave); each null
// when unknown.
struct Origin {
  const std::string* host = nullptr;
  const std::string* file = nullptr;
  const std::string* agent = nullptr;
  bool operator==(const Origin&) const = default;
};
// A stable pointer to the one Origin equal to {host, file, agent} (interned pointers); null
// for all null, so that a record of an unknown origin costs one null pointer. Null too when
// the combination is new and kMaxInternedOrigins are held (counted in InternRefusals).
const Origin* InternOrigin(const std::string* host, const std::string* file,
                           const std::string* agent);

}  // namespace ember::engine
