#!/usr/bin/env bash
# CTest e2e.sigterm_checkpoint_resume: a stop signal to a running job (SIGTERM or SIGUSR1: what
# Slurm sends before the time limit or on preemption) makes the learners finish the current step,
# write a checkpoint atomically and exit 0. mpirun turns its own SIGTERM into a kill of the job, but
# forwards SIGUSR1 to the ranks, so this test signals mpirun with SIGUSR1; running the same command again resumes from it and ends with weights
# byte-identical to an uninterrupted run with the same seed and data.
# Extra arguments are overrides for every run (e2e.sft_sigterm_checkpoint_resume: the same with
# supervised fine-tuning).
# usage: sigterm_resume.sh IRANKER_BINARY SOURCE_DIR WORK_DIR [overrides...]
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh" "$@"
steps=10
common=(train.steps=$steps train.eval_every=0 train.checkpoint_every=0 run.log_level=warn "${@:4}")
train() {  # run dir, log file
  mpirun --oversubscribe -np 1 -x OMP_WAIT_POLICY "$iranker" train -c configs/quickstart.yaml run.dir="$1" \
    "${common[@]}" > "$2" 2>&1
}
train "$work/straight" "$work/straight.log" || { cat "$work/straight.log"; exit 1; }

mpirun --oversubscribe -np 1 -x OMP_WAIT_POLICY "$iranker" train -c configs/quickstart.yaml \
  run.dir="$work/interrupted" "${common[@]}" > "$work/first.log" 2>&1 &
job=$!  # mpirun itself: it forwards SIGTERM to the learner rank
wait_train_steps "$work/interrupted/metrics.jsonl" 4
kill -USR1 $job
rc=0
wait $job || rc=$?
[[ $rc -eq 0 ]] || { echo "SIGUSR1: exit code $rc, expected 0"; cat "$work/first.log"; exit 1; }
grep -q "checkpoint written" "$work/first.log" || { echo "no checkpoint message"; cat "$work/first.log"; exit 1; }
[[ ! -f "$work/interrupted/result.json" ]] || { echo "an interrupted run must not write result.json"; exit 1; }
ls "$work/interrupted/checkpoints"
train "$work/interrupted" "$work/second.log" || { cat "$work/second.log"; exit 1; }
ls "$work/interrupted"/trajectories.resume-*.h5 > /dev/null || { echo "the second run did not resume"; cat "$work/second.log"; exit 1; }
last=$(printf 'step-%08d' $steps)
cmp "$work/straight/checkpoints/$last/model.safetensors" "$work/interrupted/checkpoints/$last/model.safetensors"
cmp "$work/straight/checkpoints/$last/optimizer.pt" "$work/interrupted/checkpoints/$last/optimizer.pt" 2>/dev/null ||
  echo "(optimizer files differ in bytes; weights are identical)"
echo "ok: interrupted after $n steps, resumed, final weights identical to the uninterrupted run"
