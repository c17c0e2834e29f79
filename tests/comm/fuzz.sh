#!/usr/bin/env bash
# Builds tests/comm/fuzz_decoder.cc with clang's libFuzzer (+ AddressSanitizer and UBSan) and runs
# it for a bounded time. usage: fuzz.sh SOURCE_DIR BUILD_DIR [seconds]
set -euo pipefail
src=$1 build=$2 seconds=${3:-30}
out=$build/tests/fuzz
mkdir -p "$out/corpus"
command -v clang++ > /dev/null || { echo "clang++ not found (scripts/setup.sh installs it)"; exit 1; }
clang++ -std=c++17 -O1 -g -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined \
  -I"$src" -I"$build" $(pkg-config --cflags libxxhash 2>/dev/null) \
  "$src/tests/comm/fuzz_decoder.cc" "$src/comm/wire.cc" "$src/comm/trajectory.cc" "$src/base/log.cc" \
  "$src/base/error.cc" -o "$out/fuzz_decoder" -lxxhash -lspdlog -lfmt -lpthread
"$out/fuzz_decoder" -max_total_time="$seconds" -rss_limit_mb=1024 -max_len=4096 -artifact_prefix="$out/" "$out/corpus"
