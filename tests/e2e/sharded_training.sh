#!/usr/bin/env bash
# CTest e2e.sharded_training: `iranker train` under mpirun -np 2 with PPO and its critic, with
# learner.sharding none, gradients and full: "gradients" (ZeRO-2, gradients reduce-scattered) and
# "full" (ZeRO-3, parameters gathered part by part) end within float tolerance of "none" ("optimizer"
# is bit-identical to "none": learner_sharding_np2/3/4 check it without a whole training run); a sharded checkpoint
# holds one optimizer file per rank (optimizer.rank-R-of-2.pt, no optimizer.pt) and no staging
# directory is left behind; resuming a sharded run with learner.sharding=none is refused with a
# message naming the setting. A rank frozen inside a reduce-scatter or an all-gather ends the job
# by that collective's time-out and leaves a complete sharded checkpoint that the run resumes from.
# usage: sharded_training.sh IRANKER_BINARY SOURCE_DIR WORK_DIR
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh" "$@"
common=(train.steps=3 train.eval_every=0 train.checkpoint_every=0 run.log_level=warn cluster.learners=2
        learner.algorithm=ppo learner.shard_unit_mb=0.2 data.test=[data/recommendation/test.jsonl])
for level in none gradients full; do
  mpirun --oversubscribe -np 2 -x OMP_WAIT_POLICY "$iranker" train -c configs/quickstart.yaml \
    run.dir="$work/$level" learner.sharding=$level "${common[@]}" > "$work/$level.log" 2>&1 ||
    { cat "$work/$level.log"; exit 1; }
done
last="checkpoints/step-00000003"
for level in gradients full; do
  ls "$work/$level/$last/optimizer.rank-0-of-2.pt" "$work/$level/$last/optimizer.rank-1-of-2.pt" > /dev/null
  [[ ! -e "$work/$level/$last/optimizer.pt" ]] || { echo "$level: unexpected optimizer.pt"; exit 1; }
  if ls -d "$work/$level"/checkpoints/.shards-* 2> /dev/null; then echo "$level: staging left"; exit 1; fi
done
/usr/bin/python3 "$(dirname "$0")/compare_weights.py" "$work/none/init/model.safetensors" \
  "$work/none/$last/model.safetensors" "$work/gradients/$last/model.safetensors" 1e-5 "none - gradients"
/usr/bin/python3 "$(dirname "$0")/compare_weights.py" "$work/none/init/model.safetensors" \
  "$work/none/$last/model.safetensors" "$work/full/$last/model.safetensors" 1e-5 "none - full"
/usr/bin/python3 - "$work" <<'PY'
import json, sys
work = sys.argv[1]
for level in ("gradients", "full"):
    train = [json.loads(l) for l in open(f"{work}/{level}/metrics.jsonl") if '"type":"train"' in l]
    assert len(train) == 3 and all(r["shard_moment_mb"] > 0 for r in train), level
full = [json.loads(l) for l in open(f"{work}/full/metrics.jsonl") if '"type":"train"' in l]
assert all(0 < r["shard_param_mb"] and 0 < r["shard_gathered_peak_mb"] for r in full), full
PY
# The sharded state cannot be read as an unsharded one: a clear refusal, not a crash.
rc=0
mpirun --oversubscribe -np 2 -x OMP_WAIT_POLICY "$iranker" train -c configs/quickstart.yaml \
  run.dir="$work/gradients" learner.sharding=none "${common[@]/train.steps=3/train.steps=4}" \
  > "$work/refused.log" 2>&1 || rc=$?
[[ $rc -ne 0 ]] || { echo "resuming with sharding=none was accepted"; cat "$work/refused.log"; exit 1; }
grep -q "learner.sharding" "$work/refused.log" || { echo "no message naming the setting"; cat "$work/refused.log"; exit 1; }

# A learner rank frozen (SIGSTOP) inside a reduce-scatter, then inside an all-gather, under
# sharding=gradients (IRANKER_TEST_FREEZE: rank 1 stops itself right after starting the first such
# collective once the step-2 checkpoint exists): rank 0 times out in that very collective, with a
# message naming it, the job fails, and the newest checkpoint is complete with both ranks'
# optimizer shards. The same command resumes from the second run's and finishes.
frozen_args=(train.steps=200 train.eval_every=0 train.checkpoint_every=2 train.keep_checkpoints=2
             run.log_level=warn cluster.learners=2 learner.algorithm=ppo learner.sharding=gradients
             learner.shard_unit_mb=0.2 comm.allreduce.timeout_ms=6000 data.test=[data/recommendation/test.jsonl])
for kind in reduce-scatter all-gather; do
  run=$work/frozen-$kind
  IRANKER_TEST_FREEZE="$kind:1:$run/checkpoints/step-00000002/trainer_state.json" \
    mpirun --oversubscribe -np 2 -x OMP_WAIT_POLICY -x IRANKER_TEST_FREEZE "$iranker" train \
    -c configs/quickstart.yaml run.dir="$run" "${frozen_args[@]}" > "$work/frozen-$kind.log" 2>&1 &
  job=$!
  rc=0
  hung=0
  timeout 200 tail --pid=$job -f /dev/null || hung=1
  for pid in $(pgrep -f "iranker train -c configs/quickstart.yaml run.dir=$run"); do kill -9 "$pid" 2> /dev/null || true; done
  [[ $hung -eq 0 ]] || { echo "$kind: the job still hung after 200 s"; kill -9 $job; cat "$work/frozen-$kind.log"; exit 1; }
  wait $job || rc=$?
  [[ $rc -ne 0 ]] || { echo "$kind: a frozen rank must fail the job"; cat "$work/frozen-$kind.log"; exit 1; }
  grep -q "rank 1 stops itself inside its $kind" "$work/frozen-$kind.log" ||
    { echo "$kind: the freeze was not injected"; cat "$work/frozen-$kind.log"; exit 1; }
  grep -m1 "$kind '.* unit [0-9]*/[0-9]*' did not complete within 6000 ms on rank 0 of 2" "$work/frozen-$kind.log" ||
    { echo "$kind: no time-out message naming the collective"; cat "$work/frozen-$kind.log"; exit 1; }
  last=$(ls -d "$run"/checkpoints/step-* | grep -v '\.tmp' | sort | tail -1)
  for f in model.safetensors optimizer.rank-0-of-2.pt optimizer.rank-1-of-2.pt critic.pt learner_state.json trainer_state.json; do
    [[ -s "$last/$f" ]] || { echo "$kind: $last/$f missing"; exit 1; }
  done
done
resume_at=$((10#${last##*step-} + 2))
mpirun --oversubscribe -np 2 -x OMP_WAIT_POLICY "$iranker" train -c configs/quickstart.yaml \
  run.dir="$run" "${frozen_args[@]/train.steps=200/train.steps=$resume_at}" > "$work/resumed.log" 2>&1 ||
  { echo "the resume failed"; cat "$work/resumed.log"; exit 1; }
[[ -f "$run/checkpoints/step-$(printf %08d $resume_at)/optimizer.rank-1-of-2.pt" ]] ||
  { echo "the resumed run did not finish step $resume_at"; cat "$work/resumed.log"; exit 1; }
echo "ok: $(basename "$last") was complete after each hang; resumed to step $resume_at"
