#!/usr/bin/env bash
# Configures (once) and builds iranker into build/ with Ninja and ccache. Extra arguments go to
# CMake at configure time, e.g. scripts/build.sh -DIRANKER_NCCL=OFF.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build=${IRANKER_BUILD_DIR:-$root/build}
if [[ ! -f "$build/build.ninja" || $# -gt 0 ]]; then
  cmake -S "$root" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=${CMAKE_BUILD_TYPE:-Release} "$@" >/dev/null
fi
# Two parallel jobs peak at ~3 GiB each on the torch-heavy files; more would not fit small machines.
jobs=${IRANKER_BUILD_JOBS:-$(( $(nproc) < 4 ? $(nproc) : 4 ))}
cmake --build "$build" -j "$jobs"
