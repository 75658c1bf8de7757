#!/usr/bin/env bash
# Package test (a CI step; it installs packages, so it needs root and changes the machine):
# builds the .deb packages, inspects them, installs them with dpkg, runs the installed
# binaries with the installed configs as the `ember` user exactly as the units' ExecStart
# would, checks an alert for a line appended to a log under /var/log, then removes and purges
# the packages. Usage: tests/packaging/package_test.sh BUILD_DIR
set -euo pipefail
build=$(cd "${1:?usage: $0 BUILD_DIR}" && pwd)
fail() { echo "package test: FAILED: $*" >&2; exit 1; }
[ "$(id -u)" -eq 0 ] || fail "needs root (it installs the packages)"

testlog=/var/log/ember-package-test.log
work=$(mktemp -d /tmp/ember-pkgtest.XXXXXX)
pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill -KILL "$pid" 2>/dev/null || true; done
  dpkg --purge ember-agent ember-aggregator >/dev/null 2>&1 || true
  rm -f "$testlog"
  rm -rf "$work"
}
trap cleanup EXIT
dpkg --purge ember-agent ember-aggregator >/dev/null 2>&1 || true

echo "== building the packages"
(cd "$build" && cpack -G DEB >/dev/null)
agent_deb=$(ls "$build"/ember-agent_*.deb)
aggregator_deb=$(ls "$build"/ember-aggregator_*.deb)

echo "== inspecting them with dpkg-deb"
agent_files=$(dpkg-deb -c "$agent_deb" | awk '{print $6}')
aggregator_files=$(dpkg-deb -c "$aggregator_deb" | awk '{print $6}')
for f in ./usr/bin/ember-agent ./etc/ember/agent.yaml ./usr/lib/systemd/system/ember-agent.service \
         ./usr/share/man/man1/ember-agent.1.gz ./usr/lib/ember-agent/ember-https.so \
         ./usr/lib/ember-agent/ember-journal.so; do
  grep -qx "$f" <<<"$agent_files" || fail "$f missing from the agent package"
done
for f in ./usr/bin/ember-aggregator ./usr/bin/ember ./etc/ember/rules.d/ssh.yaml \
         ./usr/lib/systemd/system/ember-aggregator.service ./usr/share/man/man1/ember.1.gz \
         ./usr/lib/ember-aggregator/ember-https.so ./usr/lib/ember-aggregator/ember-journal.so; do
  grep -qx "$f" <<<"$aggregator_files" || fail "$f missing from the aggregator package"
done
dpkg-deb -I "$agent_deb" conffiles | grep -qx /etc/ember/agent.yaml || fail "agent.yaml is not a conffile"
dpkg-deb -I "$aggregator_deb" conffiles | grep -qx /etc/ember/aggregator.yaml || fail "aggregator.yaml is not a conffile"
for deb in "$agent_deb" "$aggregator_deb"; do
  depends=$(dpkg-deb -f "$deb" Depends)
  for lib in libzmq5 libyaml-cpp adduser; do
    echo "$depends" | grep -q "$lib" || fail "$(basename "$deb") does not depend on $lib: $depends"
  done
  for script in postinst prerm postrm; do
    dpkg-deb -I "$deb" "$script" >/dev/null || fail "$(basename "$deb") has no $script"
  done
done
for lib in liblmdb0 libcurl4 libsystemd0; do  # libcurl and libsystemd: loaded when needed
  dpkg-deb -f "$aggregator_deb" Depends | grep -q $lib || fail "aggregator does not depend on $lib"
done

echo "== installing"
dpkg -i "$agent_deb" "$aggregator_deb" >/dev/null
getent passwd ember >/dev/null || fail "no ember user"
id -nG ember | grep -qw adm || fail "ember is not in adm (cannot read /var/log)"
id -nG ember | grep -qw systemd-journal || fail "ember is not in systemd-journal (cannot read the journal)"
dpkg-deb -f "$agent_deb" Depends | grep -q libsystemd0 || fail "the agent does not depend on libsystemd0"
[ "$(stat -c %U /var/lib/ember-agent)" = ember ] || fail "/var/lib/ember-agent is not ember's"
for unit in ember-agent ember-aggregator; do
  systemd-analyze verify "/usr/lib/systemd/system/$unit.service" 2>"$work/verify.err" ||
    fail "systemd-analyze verify $unit: $(cat "$work/verify.err")"
  ! grep -q "$unit" "$work/verify.err" || fail "systemd-analyze warns about $unit: $(cat "$work/verify.err")"
  man -w "$unit" >/dev/null 2>&1 || [ -f "/usr/share/man/man1/$unit.1.gz" ] || fail "no man page for $unit"
done
/usr/bin/ember --version | grep -q '^ember ' || fail "ember --version"
/usr/bin/ember test /usr/share/doc/ember-aggregator/examples/rules/tests >/dev/null ||
  fail "the installed example rules fail their own ember tests"
/usr/bin/ember check /etc/ember/rules.d >/dev/null || fail "ember check /etc/ember/rules.d"
# `ember replay --journal` loads the journal module the package installs beside it.
mkdir "$work/journal"
/usr/bin/ember replay --rules /etc/ember/rules.d --journal "$work/journal" >/dev/null 2>"$work/replay.err" ||
  fail "ember replay --journal: $(cat "$work/replay.err")"
grep -q "read 0 journal entries" "$work/replay.err" || fail "ember replay --journal: $(cat "$work/replay.err")"

echo "== running the installed services as the ember user"
for port in 7450 7451 7452; do
  if (exec 3<>/dev/tcp/127.0.0.1/$port) 2>/dev/null; then fail "port $port is taken on this machine"; fi
done
install -o root -g adm -m 0640 /dev/null "$testlog"  # a log only root and adm can read
# setpriv execs the binary itself (runuser would stay as a parent and turn SIGTERM into its own
# exit status), with ember's groups, adm included, as User=/Group=/SupplementaryGroups= would.
as_ember=(setpriv --reuid=ember --regid=ember --init-groups --)
"${as_ember[@]}" /usr/bin/ember-aggregator --config /etc/ember/aggregator.yaml --check >/dev/null ||
  fail "ember-aggregator --check with the installed config"
"${as_ember[@]}" /usr/bin/ember-agent --config /etc/ember/agent.yaml --check >/dev/null ||
  fail "ember-agent --check with the installed config"
"${as_ember[@]}" /usr/bin/ember-aggregator --config /etc/ember/aggregator.yaml \
  >"$work/aggregator.out" 2>"$work/aggregator.err" &
pids+=($!)
for _ in $(seq 100); do grep -q listening "$work/aggregator.err" && break; sleep 0.1; done
grep -q listening "$work/aggregator.err" || fail "aggregator did not start: $(cat "$work/aggregator.err")"
"${as_ember[@]}" /usr/bin/ember-agent --config /etc/ember/agent.yaml >/dev/null 2>"$work/agent.err" &
pids+=($!)
for _ in $(seq 100); do grep -q "$testlog" "$work/agent.err" && break; sleep 0.1; done
grep -q "Tailing '$testlog'" "$work/agent.err" || fail "agent does not tail $testlog: $(cat "$work/agent.err")"
grep -q "Journal 'journal': new stream" "$work/agent.err" ||
  fail "the installed agent does not read the journal: $(cat "$work/agent.err")"
for i in 1 2 3 4 5 6; do
  echo "$(date '+%b %e %H:%M:%S') host sshd[4242]: Failed password for root from 203.0.113.77 port 5$i ssh2" >>"$testlog"
done
for _ in $(seq 200); do grep -q "ip=203.0.113.77" "$work/aggregator.out" && break; sleep 0.1; done
grep -q "ssh-bruteforce.*ip=203.0.113.77" "$work/aggregator.out" ||
  fail "no alert; aggregator said: $(cat "$work/aggregator.err")"
echo "   alert: $(grep ip=203.0.113.77 "$work/aggregator.out" | head -1)"
# Self-monitoring on the default loopback ports, scraped as Prometheus would.
# The page is fetched whole before it is searched: `curl | grep -q` under pipefail fails when
# grep stops reading before curl has written the rest of a long page.
aggregator_counted_them() {
  local page
  page=$(curl -sSf http://127.0.0.1:7451/metrics) &&
    grep -q '^ember_rule_matches_total{rule="ssh-bruteforce"} 6$' <<<"$page"
}
for _ in $(seq 50); do  # published once per batch, just after the alert
  aggregator_counted_them && break
  sleep 0.1
done
aggregator_counted_them ||
  fail "aggregator /metrics: $(curl -sS http://127.0.0.1:7451/metrics | grep matches)"
agent_read_them() {  # the six lines (and whatever else the installed config tails), in session
  local page
  page=$(curl -sSf http://127.0.0.1:7452/metrics) || return 1
  awk '$1 == "ember_agent_lines_total" && $2 >= 6 { n = 1 }
    $1 == "ember_agent_session_up" && $2 == 1 { s = 1 } END { exit !(n && s) }' <<<"$page"
}
for _ in $(seq 50); do  # the agent renders its page once a second
  agent_read_them && break
  sleep 0.1
done
agent_read_them ||
  fail "agent /metrics: $(curl -sS http://127.0.0.1:7452/metrics | head)"
kill -TERM "${pids[@]}"
for pid in "${pids[@]}"; do
  rc=0
  wait "$pid" || rc=$?
  [ "$rc" -eq 0 ] || fail "a daemon exited with status $rc on SIGTERM: $(tail -3 "$work"/*.err)"
done
pids=()

echo "== TLS and authentication of /metrics from the installed module"
openssl req -x509 -newkey rsa:2048 -nodes -days 1 -subj /CN=localhost \
  -addext subjectAltName=DNS:localhost -keyout "$work/tls.key" -out "$work/tls.pem" 2>/dev/null
cat >"$work/web.yaml" <<EOF
tls_server_config: {cert_file: $work/tls.pem, key_file: $work/tls.key}
basic_auth_users: {prom: '$(openssl passwd -6 pkg-secret)'}
EOF
sed -e "s|^http_listen:.*|http_listen: 127.0.0.1:7452\nhttp_web_config: $work/web.yaml|" \
  -e "s|^state_dir:.*|state_dir: $work/agent-state|" /etc/ember/agent.yaml >"$work/agent-tls.yaml"
/usr/bin/ember-agent --config "$work/agent-tls.yaml" >/dev/null 2>"$work/agent-tls.err" &
pids+=($!)
for _ in $(seq 100); do grep -q "https://" "$work/agent-tls.err" && break; sleep 0.1; done
code=$(curl -s -o /dev/null -w '%{http_code}' --cacert "$work/tls.pem" https://localhost:7452/metrics)
[ "$code" = 401 ] || fail "TLS /metrics without credentials: $code; $(cat "$work/agent-tls.err")"
code=$(curl -s -o /dev/null -w '%{http_code}' --cacert "$work/tls.pem" -u prom:pkg-secret \
  https://localhost:7452/metrics)
[ "$code" = 200 ] || fail "TLS /metrics with credentials: $code; $(cat "$work/agent-tls.err")"
kill -TERM "${pids[@]}"
wait "${pids[@]}" || fail "the TLS agent did not stop cleanly"
pids=()

echo "== removing keeps the configuration, purging removes everything"
dpkg -r ember-agent ember-aggregator >/dev/null
[ -f /etc/ember/agent.yaml ] && [ -f /etc/ember/aggregator.yaml ] || fail "remove deleted the configuration"
[ ! -e /usr/bin/ember-agent ] || fail "remove left the binary"
dpkg --purge ember-agent ember-aggregator >/dev/null
[ ! -e /etc/ember ] || fail "purge left /etc/ember"
[ ! -e /var/lib/ember-agent ] && [ ! -e /var/lib/ember-aggregator ] || fail "purge left state"
echo "package test: 1 passed, 0 failed"
