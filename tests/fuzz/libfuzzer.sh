#!/usr/bin/env bash
# The fuzz targets under clang's libFuzzer with AddressSanitizer + UndefinedBehaviorSanitizer:
# builds each named target from its sources (no CMake: only what the target needs), then fuzzes it
# for SECONDS starting from the seed corpus in tests/fuzz/corpus/<target>/ (new finds go to a
# scratch copy under BUILD_DIR/tests/libfuzzer/, not into the repository). A crash or a sanitizer
# report fails the run and leaves the input as BUILD_DIR/tests/libfuzzer/crash-*.
# usage: tests/fuzz/libfuzzer.sh SOURCE_DIR BUILD_DIR SECONDS [decoder safetensors tokenizer jsonl config]
#        (no target names: all five)
set -euo pipefail
src=$(cd "$1" && pwd) build=$(cd "$2" && pwd) seconds=$3
shift 3
targets=("$@")
((${#targets[@]})) || targets=(decoder safetensors tokenizer jsonl config)
out=$build/tests/libfuzzer
mkdir -p "$out"
command -v clang++ > /dev/null || { echo "clang++ not found (scripts/setup.sh installs clang)"; exit 1; }
cxx=(clang++ -std=c++17 -O1 -g -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined
     -UNDEBUG -I"$src" -I"$build" -DIRANKER_SOURCE_DIR="\"$src\"" -DSPDLOG_FMT_EXTERNAL -DSPDLOG_COMPILED_LIB)
command -v ccache > /dev/null && cxx=(ccache "${cxx[@]}")
base=("$src"/base/error.cc "$src"/base/log.cc "$src"/base/atomic_file.cc "$src"/base/host.cc)
torch=(-isystem /usr/include/torch/csrc/api/include -D_GLIBCXX_USE_CXX11_ABI=1)
for t in "${targets[@]}"; do
  case $t in
    decoder) srcs=("$src"/tests/comm/fuzz_decoder.cc "$src"/comm/wire.cc "$src"/trajectory/codec.cc
                  "$src"/trajectory/record.cc "${base[@]}")
             libs=(-lxxhash) ;;
    safetensors) srcs=("$src"/tests/fuzz/fuzz_safetensors.cc "$src"/model/safetensors.cc "${base[@]}")
                 libs=("${torch[@]}" -ltorch -ltorch_cpu -lc10) ;;
    tokenizer) srcs=("$src"/tests/fuzz/fuzz_tokenizer.cc "$src"/tokenizer/*.cc "${base[@]}")
               libs=(-lpcre2-8 -lutf8proc) ;;
    jsonl) srcs=("$src"/tests/fuzz/fuzz_jsonl.cc "$src"/ranking/jsonl.cc "$src"/ranking/record.cc "$src"/ranking/text.cc "${base[@]}")
           libs=() ;;
    config) srcs=("$src"/tests/fuzz/fuzz_config.cc "$src"/trainer/config_io.cc "$src"/trainer/yaml_visitors.cc
                  "$src"/base/fields.cc "${base[@]}")
            libs=(-lyaml-cpp) ;;
    *) echo "unknown target $t (decoder safetensors tokenizer jsonl config)"; exit 2 ;;
  esac
  echo "== $t: building"
  start=$SECONDS
  "${cxx[@]}" "${srcs[@]}" "${libs[@]}" -o "$out/fuzz_$t" -lspdlog -lfmt -lpthread
  echo "== $t: built in $(( SECONDS - start )) s; fuzzing for $seconds s"
  corpus=$out/corpus-$t
  rm -rf "$corpus"
  mkdir -p "$corpus"
  cp "$src"/tests/fuzz/corpus/$t/* "$corpus"/
  (cd "$out" && "$out/fuzz_$t" -max_total_time="$seconds" -rss_limit_mb=2048 -max_len=65536 -timeout=10 \
     -print_final_stats=1 -artifact_prefix="$out/crash-$t-" "$corpus" 2>&1 | grep -E "^(#[0-9]+ +DONE|stat::number_of_executed_units|==[0-9]+==|SUMMARY|.*property violated|INFO: Seed)" || true)
  ls "$out"/crash-$t-* > /dev/null 2>&1 && { echo "== $t: FAILED: $(ls "$out"/crash-$t-*)"; exit 1; }
  echo "== $t: ok"
done
