#!/usr/bin/env bash
# The quickstart: from a fresh Debian 12 machine, install, build, and train a tiny ranker on the
# embedded default configuration (tiny model, bundled data, CPU, one machine) under mpirun — one
# learner rank and two actor processes — in two stages:
#   1. supervised fine-tuning on the training labels' targets (configs/quickstart_sft.yaml),
#   2. reinforcement learning from its final checkpoint (configs/quickstart.yaml),
# then print how the policy compares with random order and BM25 on held-out queries: initially,
# after SFT and after RL.
#
#   scripts/quickstart.sh [key=value overrides...]     e.g. run.seed=2 train.steps=50
#
# Overrides apply to both stages. The SFT stage runs in <run dir>/sft. The last line printed is the
# path of quickstart_result.json.
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

start=$(date +%s)
echo "== stage 1, supervised fine-tuning (mpirun -np 1: one learner rank; it starts the 2 actor processes) into $run_dir/sft"
mpirun --oversubscribe -np 1 -x OMP_WAIT_POLICY "$iranker" train -c configs/quickstart_sft.yaml "$@" run.dir="$run_dir/sft"
sft_checkpoint=$(/usr/bin/python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["checkpoint"])' "$run_dir/sft/result.json")
echo "== stage 1 took $(( $(date +%s) - start )) s; its final checkpoint: $sft_checkpoint"
start2=$(date +%s)
echo "== stage 2, reinforcement learning from it into $run_dir"
mpirun --oversubscribe -np 1 -x OMP_WAIT_POLICY "$iranker" train -c "$config" "$@" model.path="$sft_checkpoint"
echo "== stage 2 took $(( $(date +%s) - start2 )) s; training took $(( $(date +%s) - start )) s in all"

/usr/bin/python3 - "$run_dir" <<'EOF'
import json, os, sys
run = sys.argv[1]
sft = json.load(open(os.path.join(run, "sft", "result.json")))
rl = json.load(open(os.path.join(run, "result.json")))
# initial: the policy initialised at random (before SFT); sft: after SFT (the RL stage's start);
# trained: after RL. random and BM25 need no training.
out = {"random": rl["random"], "bm25": rl["bm25"], "initial": sft["initial"],
       "sft": sft["trained"], "trained": rl["trained"]}
path = os.path.join(run, "quickstart_result.json")
with open(path + ".tmp", "w") as f:
    json.dump(out, f, indent=2)
os.replace(path + ".tmp", path)
print()
print("held-out queries (data.test of the config)")
print("%-16s %8s %8s %8s" % ("ranker", "MRR", "nDCG@10", "Hit@1"))
labels = {"random": "random", "bm25": "BM25", "initial": "initial policy", "sft": "after SFT",
          "trained": "trained policy"}
for k in ("random", "bm25", "initial", "sft", "trained"):
    print("%-16s %8.4f %8.4f %8.4f" % (labels[k], out[k]["mrr"], out[k]["ndcg@10"], out[k]["hit@1"]))
print()
print("run directory:   %s (the SFT stage: %s)" % (run, os.path.join(run, "sft")))
print("trajectory logs: %s" % ", ".join(rl.get("trajectory_logs", [])))
print("plots:           %s" % os.path.join(run, "plots"))
print("metrics:         %s" % os.path.join(run, "metrics.jsonl"))
print(path)
EOF
