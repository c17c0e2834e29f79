#!/usr/bin/env bash
# The quickstart: from a fresh Debian 12 machine, install, build and run iranker on its embedded
# default configuration (configs/quickstart.yaml: tiny model, bundled data, CPU, one machine).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build=${IRANKER_BUILD_DIR:-$root/build}
bash "$root/scripts/setup.sh"
bash "$root/scripts/build.sh"
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
iranker="$build/bin/iranker"
cd "$root"
echo "== resolved configuration (configs/quickstart.yaml)"
"$iranker" config --print -c configs/quickstart.yaml "$@"
echo "== this machine's matmul throughput through libtorch (checks the BLAS set-up)"
"$iranker" bench matmul --repeats 3
