#!/usr/bin/env bash
# CTest e2e.actor_killed_and_restarted: an actor process is killed with SIGKILL mid-run; learner
# rank 0's supervisor restarts it, the new incarnation takes the current weights from the
# publisher and rejoins, and training finishes every step. Nothing the learner accepted is lost:
# the HDF5 log holds exactly the step records the learner received, one batch per actor per step.
# usage: actor_restart.sh IRANKER_BINARY SOURCE_DIR WORK_DIR
set -euo pipefail
iranker=$1 src=$2 work=$3
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMP_WAIT_POLICY=PASSIVE
rm -rf "$work"
cd "$src"
steps=16
timeout 600 mpirun --oversubscribe -np 1 -x OMP_WAIT_POLICY "$iranker" train -c configs/quickstart.yaml \
  run.dir="$work" train.steps=$steps train.eval_every=0 data.test=[data/quickstart/test.jsonl] \
  > "$work.log" 2>&1 &
job=$!
# Wait for a few steps, then kill actor 0.
for _ in $(seq 1 600); do
  n=$(grep -c '"type":"train"' "$work/metrics.jsonl" 2>/dev/null || true)
  [[ "${n:-0}" -ge 4 ]] && break
  sleep 0.2
done
pid=$(pgrep -f "actor -c $work/config.yaml --id 0" | head -1)
[[ -n "$pid" ]] || { echo "actor 0 not found"; cat "$work.log"; exit 1; }
echo "killing actor 0 (pid $pid) after $n steps"
kill -9 "$pid"
wait $job || { echo "training failed"; cat "$work.log"; exit 1; }
grep -q "actor-0 died" "$work.log" || { echo "the supervisor did not see the death"; cat "$work.log"; exit 1; }
grep -q "actor-0: finished, started 2x" "$work.log" || { echo "actor 0 was not restarted to the end"; cat "$work.log"; exit 1; }
"$iranker" inspect "$work" --json > "$work/inspect.json"
/usr/bin/python3 - "$work" $steps <<'PY'
import json, os, sys
run, steps = sys.argv[1], int(sys.argv[2])
train = [json.loads(l) for l in open(os.path.join(run, "metrics.jsonl"))]
train = [r for r in train if r["type"] == "train"]
assert len(train) == steps, f"{len(train)} of {steps} steps"
result = json.load(open(os.path.join(run, "result.json")))
log = json.load(open(os.path.join(run, "inspect.json")))
assert log["steps"] == result["trajectories"] == sum(r["trajectories"] for r in train), (log["steps"], result["trajectories"])
# Every step trained on both actors' shares (the same number of records each step).
assert len({r["trajectories"] for r in train}) == 1, [r["trajectories"] for r in train]
print(f"ok: {steps} steps, {log['steps']} records, actor 0 restarted")
PY
