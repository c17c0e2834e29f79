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

# wait_train_steps METRICS_JSONL N [TRIES]: polls every 0.2 s (at most TRIES times, default 600)
# until the run's metrics hold N train steps; sets n to the count seen last.
wait_train_steps() {
  local tries=${3:-600}
  for _ in $(seq 1 "$tries"); do
    n=$(grep -c '"type":"train"' "$1" 2>/dev/null || true)
    [[ "${n:-0}" -ge "$2" ]] && return 0
    sleep 0.2
  done
}
