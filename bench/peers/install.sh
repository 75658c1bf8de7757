#!/usr/bin/env bash
# Puts the benchmark's peer agents, rsyslog and syslog-ng (Debian 12 packages), where
# bench/agent_bench.py finds them, without touching the machine's own logging: the two packages
# conflict with each other (both are the system logger), so each is unpacked from its .deb
# into $EMBER_PEERS_DIR/<package> and only its shared-library dependencies are installed.
# A peer already installed system-wide is used as it is. Needs root and apt; prints what it did.
set -euo pipefail
dest=${EMBER_PEERS_DIR:-/var/tmp/ember-peers}
mkdir -p "$dest"
for pkg in rsyslog syslog-ng-core; do
  bin=/usr/sbin/rsyslogd; [ "$pkg" = syslog-ng-core ] && bin=/usr/sbin/syslog-ng
  if [ -x "$bin" ]; then echo "peers: $pkg: system-wide $bin"; continue; fi
  if [ -x "$dest/$pkg$bin" ]; then echo "peers: $pkg: $dest/$pkg$bin"; continue; fi
  libs=$(apt-cache depends "$pkg" | awk '$1 == "Depends:" && $2 ~ /^lib/ { print $2 }' | sort -u)
  # shellcheck disable=SC2086
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $libs >/dev/null
  tmp=$(mktemp -d) && chmod a+rwx "$tmp"  # apt-get download runs as _apt
  (cd "$tmp" && apt-get download -qq "$pkg")
  dpkg-deb -x "$tmp"/"$pkg"_*.deb "$dest/$pkg"
  rm -rf "$tmp"
  echo "peers: $pkg: unpacked to $dest/$pkg$bin"
done
