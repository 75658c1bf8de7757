#!/bin/sh
# Writes a man page for BIN from its --help text: make_man.sh BIN NAME SUMMARY OUT
set -eu
bin=$1 name=$2 summary=$3 out=$4
version=$("$bin" --version 2>/dev/null | head -n 1)
{
  printf '.TH %s 1 "" "%s" "User Commands"\n' "$(echo "$name" | tr a-z A-Z)" "$version"
  printf '.SH NAME\n%s \\- %s\n' "$name" "$summary"
  printf '.SH DESCRIPTION\n.nf\n'
  "$bin" --help | sed -e 's/\\/\\e/g' -e 's/^\./\\\&./'
  printf '.fi\n.SH FILES\n/etc/ember/agent.yaml, /etc/ember/aggregator.yaml, /etc/ember/rules.d/\n'
  printf '.SH SEE ALSO\nember(1), ember-agent(1), ember-aggregator(1)\n'
} | gzip -9n >"$out"
