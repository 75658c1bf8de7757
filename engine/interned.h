// Intern: one shared copy of each host name and file path the engine records as provenance,
// so a million partial counts do not carry a million copies of "/var/log/auth.log". Copies
// live until the process ends (bounded by the fleet's distinct names). Thread-safe.
#pragma once

#include <string>
#include <string_view>

namespace ember::engine {

// A stable pointer to a string equal to `s`; the same pointer for equal strings.
const std::string* Intern(std::string_view s);

}  // namespace ember::engine
