#!/usr/bin/env bash
# Sets everything up and runs the whole test suite: installs the Debian packages, builds with
# the `ci` preset (release, warnings are errors) and runs ctest. EMBER_PRESET=asan runs the
# same suite under AddressSanitizer + UndefinedBehaviorSanitizer.
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
preset=${EMBER_PRESET:-ci}
bash "$repo/.ci/install-deps"
cd "$repo"
bash tests/check_labels.sh
cmake --preset "$preset" >/dev/null
cmake --build --preset "$preset" -j"$(nproc)"
ctest --preset "$preset" -j"$(nproc)"
