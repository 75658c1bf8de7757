// Intern: one shared copy of each host name and file path the engine records as provenance,
// so a million partial counts do not carry a million copies of "/var/log/auth.log". Copies
// live until the process ends (bounded by the fleet's distinct names). Thread-safe.
#pragma once

#include <string>
#include <string_view>

namespace ember::engine {

// A stable pointer to a string equal to `s`; the same pointer for equal strings.
const std::string* Intern(std::string_view s);

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
// for all null, so that a record of an unknown origin costs one null pointer.
const Origin* InternOrigin(const std::string* host, const std::string* file,
                           const std::string* agent);

}  // namespace ember::engine
