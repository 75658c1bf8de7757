#!/usr/bin/env bash
# One command for the benchmarks: installs dependencies, builds the release preset, runs
# bench/replay_bench.py (args pass through, e.g. --size 1GiB --runs 5).
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
bash "$repo/.ci/install-deps"
# ripgrep is a baseline only; the benchmark runs without it if it cannot be installed.
command -v rg >/dev/null || DEBIAN_FRONTEND=noninteractive apt-get install -y -qq ripgrep || true
cmake --preset release -S "$repo" >/dev/null
cmake --build "$repo/build/release" -j"$(nproc)" --target ember ember-loggen
cd "$repo"
exec python3 bench/replay_bench.py --bin build/release "$@"
