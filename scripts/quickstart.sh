#!/usr/bin/env bash
# The quickstart: from a fresh Debian 12 machine, install, build, and train a tiny ranker on the
# embedded default configuration (configs/quickstart.yaml: tiny model, bundled data, CPU, one
# machine) under mpirun — one learner rank and two actor processes — then print how the trained
# policy compares with random order and with the initial policy on held-out queries.
#
#   scripts/quickstart.sh [key=value overrides...]     e.g. run.seed=2 train.steps=50
#
# The last line printed is the path of quickstart_result.json.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build=${IRANKER_BUILD_DIR:-$root/build}
bash "$root/scripts/setup.sh"
bash "$root/scripts/build.sh"
iranker="$build/bin/iranker"
cd "$root"

export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
# Waiting OpenMP threads sleep instead of spinning: learner and actors share the cores.
export OMP_WAIT_POLICY=PASSIVE
config=configs/quickstart.yaml
run_dir=$("$iranker" config --print -c "$config" "$@" | awk '
  /^run:/ {in_run=1; next} /^[^ ]/ {in_run=0}
  in_run && $1=="name:" {name=$2} in_run && $1=="dir:" {dir=$2}
  END {gsub(/"/, "", name); gsub(/"/, "", dir); print (dir != "" ? dir : "runs/" name)}')
# The quickstart always starts afresh (an existing run directory would be resumed, and its table
# would have no initial policy): the previous quickstart run is removed.
if [[ -e "$run_dir" ]]; then
  echo "== removing the previous quickstart run in $run_dir"
  rm -rf "$run_dir"
fi

echo "== training (mpirun -np 1: one learner rank; it starts and supervises the 2 actor processes) into $run_dir"
start=$(date +%s)
mpirun --oversubscribe -np 1 -x OMP_WAIT_POLICY "$iranker" train -c "$config" "$@"
echo "== training took $(( $(date +%s) - start )) s"


/usr/bin/python3 - "$run_dir" <<'EOF'
import json, os, sys
run = sys.argv[1]
r = json.load(open(os.path.join(run, "result.json")))
out = {k: r[k] for k in ("random", "initial", "trained") if k in r}
path = os.path.join(run, "quickstart_result.json")
with open(path + ".tmp", "w") as f:
    json.dump(out, f, indent=2)
os.replace(path + ".tmp", path)
print()
print("held-out queries (data.test of the config)")
print("%-16s %8s %8s %8s" % ("ranker", "MRR", "nDCG@10", "Hit@1"))
for k in ("random", "bm25", "initial", "trained"):
    if k in r:
        label = {"initial": "initial policy", "trained": "trained policy", "bm25": "BM25"}.get(k, k)
        print("%-16s %8.4f %8.4f %8.4f" % (label, r[k]["mrr"], r[k]["ndcg@10"], r[k]["hit@1"]))
print()
print("run directory:   %s" % run)
print("trajectory logs: %s" % ", ".join(r.get("trajectory_logs", [])))
print("plots:           %s" % os.path.join(run, "plots"))
print("metrics:         %s" % os.path.join(run, "metrics.jsonl"))
print(path)
EOF
