#!/usr/bin/env bash
# The ember demo: builds ember, then runs a local aggregator and an agent tailing a log that
# ember-loggen writes live (sshd brute-force bursts, application ERROR bursts), with the
# example rules in rules/examples. Alerts appear in this terminal within a few seconds.
#   demo/run.sh              # runs for 60 s (EMBER_DEMO_SECONDS to change), Ctrl-C stops it
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
seconds=${EMBER_DEMO_SECONDS:-60}
port=${EMBER_DEMO_PORT:-7450}
http_port=$((port + 1))  # /metrics and `ember top`

bash "$repo/.ci/install-deps"
cmake --preset release -S "$repo" >/dev/null
cmake --build "$repo/build/release" -j"$(nproc)" --target ember-aggregator ember-agent ember-loggen ember
bin="$repo/build/release"

work=$(mktemp -d /tmp/ember-demo.XXXXXX)
cat >"$work/aggregator.yaml" <<YAML
listen: tcp://127.0.0.1:$port
http_listen: 127.0.0.1:$http_port
state_dir: $work/state
rules_dir: $repo/rules/examples
batch_interval: 1s
allowed_lateness: 1s
outputs:
  terminal: true
  jsonl: $work/alerts.jsonl
YAML
cat >"$work/agent.yaml" <<YAML
name: demo-agent
host: web1
state_dir: $work/agent-state
http_listen: ""
inputs:
  paths: [$work/logs/*.log]
  read_from: beginning
  poll_interval: 100ms
output:
  endpoint: tcp://127.0.0.1:$port
YAML
mkdir -p "$work/logs"

pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
  echo
  echo "Demo stopped. Alerts as JSON: $work/alerts.jsonl; logs: $work/*.log"
}
trap cleanup EXIT INT TERM

"$bin/cli/ember" check "$repo/rules/examples"
"$bin/cli/ember" test "$repo/rules/examples/tests" | tail -n 1
echo "Starting ember-aggregator and ember-agent; writing $work/logs/app.log for ${seconds}s..."
echo "Live view in another terminal: $bin/cli/ember top --url http://127.0.0.1:$http_port"
echo
"$bin/aggregator/ember-aggregator" -c "$work/aggregator.yaml" 2>"$work/aggregator.log" &
pids+=($!)
"$bin/agent/ember-agent" -c "$work/agent.yaml" 2>"$work/agent.log" &
pids+=($!)
"$bin/demo/ember-loggen" --output "$work/logs/app.log" --rate 200 --duration "${seconds}s" --error-rate 0.002 \
  --seed "${EMBER_DEMO_SEED:-$RANDOM}" --host web1
sleep 3  # let the last batches close
