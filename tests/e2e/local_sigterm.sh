#!/usr/bin/env bash
# CTest e2e.local_sigterm_exits: `iranker train --local` sent SIGTERM writes its checkpoint and
# exits 0 within a time-out, its actor threads stopped (they used to wait for a learner that had
# gone, and the process never ended).
# usage: local_sigterm.sh IRANKER_BINARY SOURCE_DIR WORK_DIR
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh" "$@"
"$iranker" train --local -c configs/quickstart.yaml run.dir="$work/run" train.steps=500 \
  train.eval_every=0 train.checkpoint_every=0 run.log_level=warn > "$work/run.log" 2>&1 &
job=$!
wait_train_steps "$work/run/metrics.jsonl" 3 900
kill -TERM $job
for _ in $(seq 1 300); do
  kill -0 $job 2>/dev/null || break
  sleep 0.2
done
if kill -0 $job 2>/dev/null; then
  kill -9 $job
  echo "still running 60 s after SIGTERM"; cat "$work/run.log"; exit 1
fi
rc=0
wait $job || rc=$?
[[ $rc -eq 0 ]] || { echo "exit code $rc, expected 0"; cat "$work/run.log"; exit 1; }
ls "$work/run/checkpoints"/step-* > /dev/null || { echo "no checkpoint"; cat "$work/run.log"; exit 1; }
echo "ok: SIGTERM after $n steps, checkpoint written, exited 0"
# The same command again resumes at the checkpoint; run once more to its end and then again: a run
# resumed at its last step has nothing to train and must end too (it used to wait for its actors).
steps=$(ls "$work/run/checkpoints" | sed 's/step-0*//' | sort -n | tail -1)
for pass in 1 2; do
  timeout -s KILL 120 "$iranker" train --local -c configs/quickstart.yaml run.dir="$work/run" \
    train.steps="$steps" train.eval_every=0 train.checkpoint_every=0 run.log_level=warn \
    > "$work/again-$pass.log" 2>&1 || { echo "resumed run $pass did not end (rc $?)"; cat "$work/again-$pass.log"; exit 1; }
done
echo "ok: a run resumed at its last step ends"
