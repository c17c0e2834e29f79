#!/usr/bin/env bash
# CTest e2e.sharded_training: `iranker train` under mpirun -np 2 with PPO and its critic, once per
# learner.sharding level. "optimizer" (ZeRO-1) ends with the same weights as "none" byte for byte,
# "gradients" (ZeRO-2, gradients reduce-scattered) within float tolerance; a sharded checkpoint
# holds one optimizer file per rank (optimizer.rank-R-of-2.pt, no optimizer.pt) and no staging
# directory is left behind; resuming a sharded run with learner.sharding=none is refused with a
# message naming the setting. A rank frozen mid-run ends the job by a collective's time-out and
# leaves a complete sharded checkpoint that the run resumes from.
# usage: sharded_training.sh IRANKER_BINARY SOURCE_DIR WORK_DIR
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh" "$@"
common=(train.steps=3 train.eval_every=0 train.checkpoint_every=0 run.log_level=warn cluster.learners=2
        learner.algorithm=ppo learner.shard_unit_mb=0.2 data.test=[data/recommendation/test.jsonl])
for level in none optimizer gradients; do
  mpirun --oversubscribe -np 2 -x OMP_WAIT_POLICY "$iranker" train -c configs/quickstart.yaml \
    run.dir="$work/$level" learner.sharding=$level "${common[@]}" > "$work/$level.log" 2>&1 ||
    { cat "$work/$level.log"; exit 1; }
done
last="checkpoints/step-00000003"
cmp "$work/none/$last/model.safetensors" "$work/optimizer/$last/model.safetensors"
for level in optimizer gradients; do
  ls "$work/$level/$last/optimizer.rank-0-of-2.pt" "$work/$level/$last/optimizer.rank-1-of-2.pt" > /dev/null
  [[ ! -e "$work/$level/$last/optimizer.pt" ]] || { echo "$level: unexpected optimizer.pt"; exit 1; }
  if ls -d "$work/$level"/checkpoints/.shards-* 2> /dev/null; then echo "$level: staging left"; exit 1; fi
done
/usr/bin/python3 "$(dirname "$0")/compare_weights.py" "$work/none/init/model.safetensors" \
  "$work/none/$last/model.safetensors" "$work/gradients/$last/model.safetensors" 1e-5 "none - gradients"
/usr/bin/python3 - "$work" <<'PY'
import json, sys
work = sys.argv[1]
for level in ("optimizer", "gradients"):
    train = [json.loads(l) for l in open(f"{work}/{level}/metrics.jsonl") if '"type":"train"' in l]
    assert len(train) == 3 and all(r["shard_moment_mb"] > 0 for r in train), level
PY
# The sharded state cannot be read as an unsharded one: a clear refusal, not a crash.
rc=0
mpirun --oversubscribe -np 2 -x OMP_WAIT_POLICY "$iranker" train -c configs/quickstart.yaml \
  run.dir="$work/gradients" learner.sharding=none "${common[@]/train.steps=3/train.steps=4}" \
  > "$work/refused.log" 2>&1 || rc=$?
[[ $rc -ne 0 ]] || { echo "resuming with sharding=none was accepted"; cat "$work/refused.log"; exit 1; }
grep -q "learner.sharding" "$work/refused.log" || { echo "no message naming the setting"; cat "$work/refused.log"; exit 1; }

# A learner rank frozen (SIGSTOP) mid-run under sharding=gradients: rank 0's next collective
# times out naming it, the job fails, and the newest checkpoint is complete with both ranks'
# optimizer shards: the same command resumes from it and finishes.
run=$work/frozen
frozen_args=(train.steps=200 train.eval_every=0 train.checkpoint_every=2 train.keep_checkpoints=2
             run.log_level=warn cluster.learners=2 learner.algorithm=ppo learner.sharding=gradients
             learner.shard_unit_mb=0.2 comm.allreduce.timeout_ms=6000 data.test=[data/recommendation/test.jsonl])
mpirun --oversubscribe -np 2 -x OMP_WAIT_POLICY "$iranker" train -c configs/quickstart.yaml \
  run.dir="$run" "${frozen_args[@]}" > "$work/frozen.log" 2>&1 &
job=$!
for _ in $(seq 1 900); do
  [[ -f "$run/checkpoints/step-00000002/trainer_state.json" ]] && break
  kill -0 $job 2> /dev/null || { echo "the job ended early"; cat "$work/frozen.log"; exit 1; }
  sleep 0.2
done
rank1=""
for pid in $(pgrep -f "iranker train -c configs/quickstart.yaml run.dir=$run"); do
  if tr '\0' '\n' < /proc/$pid/environ 2> /dev/null | grep -qx "OMPI_COMM_WORLD_RANK=1"; then rank1=$pid; fi
done
[[ -n $rank1 ]] || { echo "learner rank 1 not found"; exit 1; }
sleep 0.$((RANDOM % 10))  # somewhere in the next steps, not just at the checkpoint
kill -STOP "$rank1"
rc=0
timeout 300 tail --pid=$job -f /dev/null || { echo "the job still hangs after 300 s"; kill -9 $job "$rank1"; exit 1; }
wait $job || rc=$?
kill -9 "$rank1" 2> /dev/null || true
[[ $rc -ne 0 ]] || { echo "a frozen rank must fail the job"; cat "$work/frozen.log"; exit 1; }
grep -m1 "did not complete within 6000 ms on rank 0 of 2" "$work/frozen.log" ||
  { echo "no time-out message naming the collective"; cat "$work/frozen.log"; exit 1; }
last=$(ls -d "$run"/checkpoints/step-* | grep -v '\.tmp' | sort | tail -1)
for f in model.safetensors optimizer.rank-0-of-2.pt optimizer.rank-1-of-2.pt critic.pt learner_state.json trainer_state.json; do
  [[ -s "$last/$f" ]] || { echo "$last/$f missing"; exit 1; }
done
resume_at=$((10#${last##*step-} + 2))
mpirun --oversubscribe -np 2 -x OMP_WAIT_POLICY "$iranker" train -c configs/quickstart.yaml \
  run.dir="$run" "${frozen_args[@]/train.steps=200/train.steps=$resume_at}" > "$work/resumed.log" 2>&1 ||
  { echo "the resume failed"; cat "$work/resumed.log"; exit 1; }
[[ -f "$run/checkpoints/step-$(printf %08d $resume_at)/optimizer.rank-1-of-2.pt" ]] ||
  { echo "the resumed run did not finish step $resume_at"; cat "$work/resumed.log"; exit 1; }
echo "ok: $(basename "$last") was complete after the hang; resumed to step $resume_at"
