#!/usr/bin/env bash
# Builds the wire-decoder fuzz target with clang's libFuzzer (+ ASan/UBSan) and runs it for a
# bounded time (FUZZ_SECONDS, default 60) from a seed corpus of valid frames. Exit status is
# non-zero if the fuzzer finds a crash, a leak or an out-of-bounds read.
set -euo pipefail
repo=$(cd "$(dirname "$0")/../.." && pwd)
seconds=${FUZZ_SECONDS:-60}
out="$repo/build/fuzz"
mkdir -p "$out/corpus"
clang++ -std=c++20 -O1 -g -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined \
  -I"$repo" "$repo/tests/fuzz/wire_fuzz.cc" "$repo/common/wire.cc" "$repo/common/status.cc" \
  -o "$out/wire_fuzz"
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
echo "== fuzzing the wire decoder for ${seconds}s =="
"$out/wire_fuzz" -max_total_time="$seconds" -max_len=4096 -print_final_stats=1 \
  "$out/corpus" 2>&1 | tail -n 15
