// The rule most tests raise alerts with: fires at 3 fails from one IP within 2 s and
// resolves 2 s after they stop. Header-only, for test binaries without the cluster helpers.
#pragma once

namespace ember::test {

inline constexpr const char* kShortRule = R"(rules:
  - name: fails
    match: 'auth fail from (?P<ip>[\d.]+)'
    by: [ip]
    window: 2s
    every: 500ms
    when: count >= 3
    severity: critical
    message: '{{count}} fails from {{ip}}'
)";

}  // namespace ember::test
