#!/usr/bin/env bash
# CTest e2e.hung_learner_rank_times_out: two learner ranks under mpirun; after the step-2
# checkpoint, learner rank 1 is frozen (SIGSTOP: a hung rank, not a dead one). Rank 0 must not wait
# forever: its next collective times out after comm.allreduce.timeout_ms with a message naming the
# collective and the rank, the job exits non-zero, and the newest checkpoint on disk is complete.
# usage: hung_rank.sh IRANKER_BINARY SOURCE_DIR WORK_DIR
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh" "$@"
run=$work/run
mpirun --oversubscribe -np 2 -x OMP_WAIT_POLICY "$iranker" train -c configs/quickstart.yaml run.dir="$run" \
  cluster.learners=2 train.steps=200 train.eval_every=0 train.checkpoint_every=2 train.keep_checkpoints=2 \
  comm.allreduce.timeout_ms=8000 run.log_level=warn > "$work/job.log" 2>&1 &
job=$!
for _ in $(seq 1 900); do
  [[ -f "$run/checkpoints/step-00000002/trainer_state.json" ]] && break
  kill -0 $job 2> /dev/null || { echo "the job ended early"; cat "$work/job.log"; exit 1; }
  sleep 0.2
done
# Learner rank 1: the `iranker train` process whose environment says OMPI_COMM_WORLD_RANK=1.
rank1=""
for pid in $(pgrep -f "iranker train -c configs/quickstart.yaml run.dir=$run"); do
  if tr '\0' '\n' < /proc/$pid/environ 2> /dev/null | grep -qx "OMPI_COMM_WORLD_RANK=1"; then rank1=$pid; fi
done
[[ -n $rank1 ]] || { echo "learner rank 1 not found"; exit 1; }
kill -STOP "$rank1"
t0=$SECONDS
rc=0
timeout 300 tail --pid=$job -f /dev/null || { echo "the job still hangs after 300 s"; kill -9 $job; exit 1; }
wait $job || rc=$?
echo "job exited with $rc after $((SECONDS - t0)) s"
kill -9 "$rank1" 2> /dev/null || true
[[ $rc -ne 0 ]] || { echo "a hung rank must fail the job"; cat "$work/job.log"; exit 1; }
grep -q "did not complete within 8000 ms on rank 0 of 2" "$work/job.log" || { echo "no time-out message"; cat "$work/job.log"; exit 1; }
grep -m1 "did not complete within" "$work/job.log"
# The newest checkpoint is complete (written to a temporary name and renamed).
last=$(ls -d "$run"/checkpoints/step-* | grep -v '\.tmp' | sort | tail -1)
for f in model.safetensors optimizer.pt trainer_state.json config.json tokenizer.json; do
  [[ -s "$last/$f" ]] || { echo "$last/$f missing"; exit 1; }
done
/usr/bin/python3 - "$last/model.safetensors" <<'PY'
import json, struct, sys, os
path = sys.argv[1]
with open(path, "rb") as f:
    n = struct.unpack("<Q", f.read(8))[0]
    header = json.loads(f.read(n))
end = max(v["data_offsets"][1] for k, v in header.items() if k != "__metadata__")
assert os.path.getsize(path) == 8 + n + end, "truncated safetensors"
PY
echo "ok: a frozen learner rank ended the job by time-out; the last checkpoint ($(basename "$last")) is complete"
