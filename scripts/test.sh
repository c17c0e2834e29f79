#!/usr/bin/env bash
# One command from a fresh Debian 12 machine to a tested build: installs dependencies (apt,
# idempotent), builds, and runs the whole suite through CTest, multi-process MPI tests included.
# Extra arguments go to ctest, e.g. scripts/test.sh -L unit   or   scripts/test.sh -R config
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build=${IRANKER_BUILD_DIR:-$root/build}
bash "$root/scripts/setup.sh"
bash "$root/scripts/build.sh"
# OpenMPI refuses to run as root unless told; CI machines run as root.
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
export OMPI_MCA_rmaps_base_oversubscribe=1
cd "$build"
ctest --output-on-failure -j "$(nproc)" --timeout 600 "$@"
