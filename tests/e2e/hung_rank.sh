#!/usr/bin/env bash
# CTest e2e.hung_learner_rank_times_out: two learner ranks under mpirun, one of them frozen with
# SIGSTOP (a hung rank, not a dead one).
#  1. Rank 0 is frozen in the middle of its initial evaluation, which it runs on its own while
#     rank 1 waits in a collective. The evaluation beats rank 0's progress lease, so rank 1 waits
#     on while it runs; once frozen it beats no more, and rank 1 times out, saying it had waited
#     on rank 0's progress.
#  2. After the step-2 checkpoint, rank 1 is frozen. Rank 0 must not wait forever: its next
#     collective times out after comm.allreduce.timeout_ms with a message naming the collective
#     and the rank, the job exits non-zero, and the newest checkpoint on disk is complete.
# usage: hung_rank.sh IRANKER_BINARY SOURCE_DIR WORK_DIR
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh" "$@"

# The `iranker train` process of learner rank $2 in run directory $1 (by OMPI_COMM_WORLD_RANK).
rank_pid() {
  local pid
  for pid in $(pgrep -f "iranker train -c configs/quickstart.yaml run.dir=$1"); do
    if tr '\0' '\n' < /proc/$pid/environ 2> /dev/null | grep -qx "OMPI_COMM_WORLD_RANK=$2"; then echo "$pid"; fi
  done
}

# --- 1. rank 0 frozen mid-evaluation
run=$work/run-eval
mpirun --oversubscribe -np 2 -x OMP_WAIT_POLICY "$iranker" train -c configs/quickstart.yaml run.dir="$run" \
  cluster.learners=2 train.steps=200 train.eval_every=0 comm.allreduce.timeout_ms=3000 run.log_level=info \
  > "$work/job-eval.log" 2>&1 &
job=$!
for _ in $(seq 1 1500); do
  grep -qs "busy=1 what=evaluation of the initial policy" "$run/progress/rank-0" && break
  kill -0 $job 2> /dev/null || { echo "the job ended early"; cat "$work/job-eval.log"; exit 1; }
  sleep 0.05
done
grep -qs "busy=1 what=evaluation of the initial policy" "$run/progress/rank-0" || { echo "no evaluation phase in the lease"; exit 1; }
rank0=$(rank_pid "$run" 0)
[[ -n $rank0 ]] || { echo "learner rank 0 not found"; exit 1; }
kill -STOP "$rank0"
t0=$SECONDS
rc=0
timeout 300 tail --pid=$job -f /dev/null || { echo "the job still hangs after 300 s"; kill -9 $job "$rank0"; exit 1; }
wait $job || rc=$?
kill -9 "$rank0" 2> /dev/null || true
echo "part 1: job exited with $rc after $((SECONDS - t0)) s"
[[ $rc -ne 0 ]] || { echo "a rank frozen mid-evaluation must fail the job"; cat "$work/job-eval.log"; exit 1; }
grep -q "did not complete within 3000 ms on rank 1 of 2.*a peer reported progress" "$work/job-eval.log" ||
  { echo "no time-out message after waiting on rank 0's progress"; cat "$work/job-eval.log"; exit 1; }
grep -q "rank 0 is busy with '.*' and making progress" "$work/job-eval.log" ||
  { echo "rank 1 did not report waiting on rank 0's progress"; cat "$work/job-eval.log"; exit 1; }

# --- 2. rank 1 frozen after the step-2 checkpoint
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
rank1=$(rank_pid "$run" 1)
[[ -n $rank1 ]] || { echo "learner rank 1 not found"; exit 1; }
kill -STOP "$rank1"
t0=$SECONDS
rc=0
timeout 300 tail --pid=$job -f /dev/null || { echo "the job still hangs after 300 s"; kill -9 $job; exit 1; }
wait $job || rc=$?
echo "part 2: job exited with $rc after $((SECONDS - t0)) s"
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
echo "ok: a learner rank frozen mid-evaluation or between steps ended the job by time-out; the last checkpoint ($(basename "$last")) is complete"
