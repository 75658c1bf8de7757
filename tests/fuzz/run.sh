#!/usr/bin/env bash
# Builds the fuzz targets with clang's libFuzzer (+ ASan/UBSan) and runs each for a bounded
# time from a seed corpus: the wire decoder (a third of FUZZ_SECONDS, default 60), then the
# agent's offsets file, the rules loader, the HTTP request path and the capture walk against
# RE2 (a sixth each). Exit status
# is non-zero if a fuzzer finds a crash, a leak or an out-of-bounds read.
set -euo pipefail
repo=$(cd "$(dirname "$0")/../.." && pwd)
seconds=${FUZZ_SECONDS:-60}
out="$repo/build/fuzz"
mkdir -p "$out/corpus"
fuzz_cxx=(clang++ -std=c++20 -O1 -g -fsanitize=fuzzer,address,undefined
  -fno-sanitize-recover=undefined -I"$repo" -DEMBER_VERSION='"fuzz"')
"${fuzz_cxx[@]}" "$repo/tests/fuzz/wire_fuzz.cc" "$repo/common/wire.cc" "$repo/common/status.cc" \
  -o "$out/wire_fuzz"
"${fuzz_cxx[@]}" "$repo/tests/fuzz/offsets_fuzz.cc" "$repo/agent/offset_store.cc" \
  "$repo"/common/{wire,status,file_util,yaml_util,units}.cc -lyaml-cpp -o "$out/offsets_fuzz"
"${fuzz_cxx[@]}" "$repo/tests/fuzz/rules_fuzz.cc" "$repo"/rules/*.cc \
  "$repo"/common/{yaml_util,file_util,units,time_zone,status}.cc -lre2 -lyaml-cpp -lcctz -lspdlog -lfmt \
  -o "$out/rules_fuzz"
"${fuzz_cxx[@]}" "$repo/tests/fuzz/capture_fuzz.cc" "$repo/rules/direct_capture.cc" -lre2 \
  -o "$out/capture_fuzz"
"${fuzz_cxx[@]}" "$repo/tests/fuzz/http_fuzz.cc" "$repo/common/http_auth.cc" -lsodium -lcrypt \
  -o "$out/http_fuzz"
# Seeds: a valid DATA frame, ACK and HEARTBEAT, written by a tiny generator using the encoder.
cat >"$out/seed.cc" <<'CC'
#include <cstdio>
#include "common/wire.h"
int main(int, char** argv) {
  ember::wire::DataFrameBuilder b("agent", "host", "/var/log/x.log", "", 7, 100, 1700000000000);
  b.AddLine("Failed password for root from 203.0.113.9 port 22 ssh2");
  b.AddLine("");
  std::string data = b.Finish(160);
  std::string ack = ember::wire::EncodeOffsets(ember::wire::FrameType::kAck, {{7, 160}});
  FILE* f = std::fopen((std::string(argv[1]) + "/data").c_str(), "wb");
  std::fwrite(data.data(), 1, data.size(), f);
  std::fclose(f);
  f = std::fopen((std::string(argv[1]) + "/ack").c_str(), "wb");
  std::fwrite(ack.data(), 1, ack.size(), f);
  std::fclose(f);
  ember::wire::Heartbeat beat{1700000000000, {{7, 160}}, {{8, 20}}};
  std::string heartbeat = ember::wire::EncodeHeartbeat(beat);
  f = std::fopen((std::string(argv[1]) + "/heartbeat").c_str(), "wb");
  std::fwrite(heartbeat.data(), 1, heartbeat.size(), f);
  std::fclose(f);
}
CC
clang++ -std=c++20 -I"$repo" "$out/seed.cc" "$repo/common/wire.cc" "$repo/common/status.cc" \
  -o "$out/seed"
"$out/seed" "$out/corpus"
# Seeds of the other targets: a valid offsets file, the example rules, a scrape with Basic auth.
mkdir -p "$out/offsets-corpus" "$out/rules-corpus" "$out/http-corpus" "$out/capture-corpus"
printf '{"version":1,"epoch":5,"streams":[{"id":3,"dev":1,"ino":2,"acked_offset":10,"path":"/x"}]}' \
  >"$out/offsets-corpus/seed"
cp "$repo"/rules/examples/*.yaml "$out/rules-corpus/"
printf 'GET /metrics HTTP/1.1\r\nHost: x\r\nAuthorization: Basic YWxpY2U6c2NyYXBlLXNlY3JldA==\r\n\r\n' \
  >"$out/http-corpus/seed"
printf 'Failed password for (?:invalid user )?(?P<user>[^ ]+) from (?P<ip>[0-9.]+)\nsshd[7]: Failed password for invalid user pi from 10.0.0.1 port 22' \
  >"$out/capture-corpus/sshd"
printf 'x(a|ab)?(?P<n>\\d{1,3}) ?[a-z]*\nxab12 x9a x' >"$out/capture-corpus/choices"
run() {  # target corpus seconds
  echo "== fuzzing $1 for ${3}s =="
  "$out/$1" -max_total_time="$3" -max_len=4096 -print_final_stats=1 "$2" 2>&1 | tail -n 15
}
run wire_fuzz "$out/corpus" $((seconds / 3))
run offsets_fuzz "$out/offsets-corpus" $((seconds / 6))
run rules_fuzz "$out/rules-corpus" $((seconds / 6))
run http_fuzz "$out/http-corpus" $((seconds / 6))
run capture_fuzz "$out/capture-corpus" $((seconds / 6))
