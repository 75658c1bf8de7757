#!/usr/bin/env bash
# One command for the benchmarks: installs dependencies, builds the release preset and runs
#   bench/replay_bench.py      ember replay vs grep/rg, and the apply stage on 1..N threads
#                              (args pass through, e.g. --size 1GiB)
#   ember-checkpoint-bench     LMDB checkpoint cost (EMBER_BENCH_RUNS runs, default 5)
#   bench/agent_bench.py       agent shipping vs socat, RSS, idle CPU (EMBER_AGENT_BENCH_SIZE)
#   bench/latency_bench.py     append -> alert p50/p99 with 1 s and 100 ms batches
#   bench/load_bench.py        500 agent connections against one aggregator
#   bench/flood_bench.py       floods of HELLOs and new streams against the per-peer bounds
#   bench/keys_bench.py        1M distinct keys in a 5-minute window: memory and time
#   bench/pipeline_bench.py    agent -> aggregator with 10 rules vs rg -c on the same file
#   bench/journal_bench.py     the agent's journal input vs journalctl -o export
# Results go to bench/results/*.json.
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
bash "$repo/.ci/install-deps"
# Baselines only; each benchmark runs without them if they cannot be installed.
bash "$repo/bench/peers/install.sh" || echo "rsyslog/syslog-ng could not be installed: the agent bench runs without them"
for tool in rg socat; do
  pkg=$tool; [ "$tool" = rg ] && pkg=ripgrep
  command -v "$tool" >/dev/null || DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$pkg" || true
done
cmake --preset release -S "$repo" >/dev/null
cmake --build "$repo/build/release" -j"$(nproc)" \
  --target ember ember-agent ember-aggregator ember-loggen ember-checkpoint-bench \
  ember-load-agents ember-filter-bench ember-apply-bench ember-fork-join-bench
cd "$repo"
runs=${EMBER_BENCH_RUNS:-5}
python3 bench/replay_bench.py --bin build/release "$@"
echo
build/release/bench/ember-fork-join-bench
echo
build/release/bench/ember-checkpoint-bench --runs "$runs" \
  --dir "${EMBER_BENCH_DIR:-/var/tmp/ember-checkpoint-bench}" --json bench/results/checkpoint.json
echo
python3 bench/agent_bench.py --bin build/release --runs "$runs" \
  --size "${EMBER_AGENT_BENCH_SIZE:-1GiB}"
echo
python3 bench/latency_bench.py --bin build/release --runs "$runs"
echo
python3 bench/load_bench.py --bin build/release --runs "$runs"
python3 bench/flood_bench.py --bin build/release --runs "$runs"
echo
python3 bench/keys_bench.py --bin build/release --runs "$runs"
echo
python3 bench/pipeline_bench.py --bin build/release --runs "$runs"
echo
python3 bench/journal_bench.py --bin build/release --runs "$runs" --entries 1000000
