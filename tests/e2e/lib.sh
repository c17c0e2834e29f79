# tests/e2e/lib.sh — the common start of the e2e scripts, sourced with their arguments:
#   source "$(dirname "${BASH_SOURCE[0]}")/lib.sh" "$@"    # IRANKER_BINARY SOURCE_DIR WORK_DIR
# Sets iranker, src and work; lets mpirun run as root with OpenMP workers that sleep instead of
# spinning (processes share 2 cores); starts from an empty WORK_DIR; changes to SOURCE_DIR.
set -euo pipefail
iranker=$1 src=$2 work=$3
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMP_WAIT_POLICY=PASSIVE
rm -rf "$work"
mkdir -p "$work"
cd "$src"
