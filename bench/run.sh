#!/usr/bin/env bash
# One command for the benchmarks: installs dependencies, builds the release preset, runs
# bench/replay_bench.py (args pass through, e.g. --size 1GiB --runs 5) and the checkpoint
# benchmark (EMBER_BENCH_RUNS runs, default 5). Results go to bench/results/*.json.
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
bash "$repo/.ci/install-deps"
# ripgrep is a baseline only; the benchmark runs without it if it cannot be installed.
command -v rg >/dev/null || DEBIAN_FRONTEND=noninteractive apt-get install -y -qq ripgrep || true
cmake --preset release -S "$repo" >/dev/null
cmake --build "$repo/build/release" -j"$(nproc)" --target ember ember-loggen ember-checkpoint-bench
cd "$repo"
python3 bench/replay_bench.py --bin build/release "$@"
echo
build/release/bench/ember-checkpoint-bench --runs "${EMBER_BENCH_RUNS:-5}" \
  --dir "${EMBER_BENCH_DIR:-/var/tmp/ember-checkpoint-bench}" --json bench/results/checkpoint.json
