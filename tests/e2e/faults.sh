#!/usr/bin/env bash
# CTest e2e.fault_injection: faults injected into real multi-process runs on one machine (the
# quickstart config under mpirun, 6 steps, a checkpoint every 2). After each fault the run either
# continues or stops cleanly, its checkpoints and HDF5 logs stay intact and readable, and, run
# again, it ends with weights byte-identical to an undisturbed run of the same command.
#   1. SIGKILL of the learner rank — the process that also writes the HDF5 trajectory log — at a
#      random moment, twice (FAULT_SEED fixes the moments; it is printed): every checkpoint left
#      is complete, the logs read back, no actor outlives its learner, and two resumes finish it.
#   2. a hostile peer sends corrupted, truncated, random and unknown frames to the learner's
#      stream and the weight publisher mid-run (tests/e2e/inject_frames.cc): they are counted as
#      malformed and change nothing.
#   3. a full disk: the run directory on an 8 MiB tmpfs (when this machine lets root mount one)
#      fills up after the step-2 checkpoint (the trajectory log stops the job while the free space
#      still holds a checkpoint); and a file-size limit (ulimit -f, works everywhere; HDF5 log
#      off) makes the first checkpoint's optimizer file fail to write: the partial checkpoint
#      directory is removed and the error names the file. Each time the job stops
#      non-zero with an error naming the file, no partial checkpoint is presented as complete,
#      the previous checkpoint and the logs are intact, and the run resumes from that state.
# (SIGKILL of an actor: e2e.actor_killed_and_restarted; SIGTERM/USR1: e2e.sigterm_checkpoint_resume.)
# usage: faults.sh IRANKER_BINARY SOURCE_DIR WORK_DIR INJECTOR_BINARY
inject=$4
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh" "$@"
# A failed check exits at once: the training jobs it started in the background go with it.
trap 'kill $(jobs -p) 2> /dev/null || true' EXIT
seed=${FAULT_SEED:-$RANDOM}
RANDOM=$seed
echo "faults: FAULT_SEED=$seed"
steps=6
# The held-out evaluations at start and end are not under test here: 20 queries instead of 100.
head -20 data/quickstart/test.jsonl > "$work/test20.jsonl"
common=(train.steps=$steps train.eval_every=0 train.checkpoint_every=2 run.log_level=info "data.test=[$work/test20.jsonl]")
final=$(printf 'checkpoints/step-%08d/model.safetensors' $steps)

train() {  # run_dir log [overrides]: the command under test, in the foreground
  local dir=$1 log=$2
  shift 2
  mpirun --oversubscribe -np 1 -x OMP_WAIT_POLICY "$iranker" train -c configs/quickstart.yaml \
    run.dir="$dir" "${common[@]}" "$@" >> "$log" 2>&1
}
fail() { echo "faults: FAILED: $*" >&2; exit 1; }
steps_done() { local n; n=$(grep -c '"type":"train"' "$1/metrics.jsonl" 2> /dev/null); echo "${n:-0}"; }
wait_steps() {  # run_dir n: until metrics.jsonl has n training steps (60 s at most)
  for _ in $(seq 600); do (( $(steps_done "$1") >= $2 )) && return 0; sleep 0.1; done
  fail "$1 did not reach step $2"
}
check_intact() {  # run_dir: every checkpoint complete, the HDF5 logs readable, no orphans
  local dir=$1 c
  for c in "$dir"/checkpoints/step-*; do
    [[ -e $c ]] || continue
    # A kill during a save leaves step-N.tmp-PID: never loaded (LatestCheckpoint skips it) and
    # removed by the next save; only a step-N directory is presented as complete.
    [[ $c == *.tmp* ]] && continue
    for f in model.safetensors optimizer.pt trainer_state.json config.json; do
      [[ -s $c/$f ]] || fail "$c lacks $f: a partial checkpoint is presented as complete"
    done
    /usr/bin/python3 -c 'import json,sys; json.load(open(sys.argv[1]))' "$c/trainer_state.json" \
      || fail "$c/trainer_state.json does not parse"
  done
  if ls "$dir"/trajectories*.h5 > /dev/null 2>&1; then
    "$iranker" inspect "$dir" --json > "$dir.inspect.json" || fail "the HDF5 logs of $dir do not read back"
  fi
  for _ in $(seq 100); do pgrep -f "actor -c $dir/" > /dev/null || return 0; sleep 0.1; done
  fail "actor processes of $dir outlived their learner: $(pgrep -af "actor -c $dir/")"
}
same_weights() {  # run_dir: final weights equal the undisturbed run's
  cmp "$work/clean/$final" "$1/$final" || fail "$1 ends with weights different from the undisturbed run"
}

start=$SECONDS
train "$work/clean" "$work/clean.log" || { cat "$work/clean.log"; fail "the undisturbed run failed"; }
echo "faults: undisturbed run: $(( SECONDS - start )) s"

# ---- 1. SIGKILL of the learner (and with it the HDF5 writer), twice, then resumed -------------
run=$work/killed
for attempt in 1 2; do
  at=$(( RANDOM % (steps - 1) + 1 ))          # after step 1..5 ...
  delay=$(( RANDOM % 10 ))                    # ... plus 0-0.9 s
  before=$(steps_done "$run")
  (( at > before )) || at=$(( before + 1 ))
  if (( at >= steps )); then echo "faults: kill $attempt skipped: the run is past step $before"; continue; fi
  mpirun --oversubscribe -np 1 -x OMP_WAIT_POLICY "$iranker" train -c configs/quickstart.yaml \
    run.dir="$run" "${common[@]}" >> "$work/killed.log" 2>&1 &
  job=$!
  wait_steps "$run" "$at"
  sleep "0.$delay"
  learner=$(pgrep -P "$job" -f "iranker train" | head -1)
  [[ -n $learner ]] || fail "no learner process under mpirun $job"
  kill -9 "$learner"
  rc=0
  wait "$job" || rc=$?
  (( rc != 0 )) || fail "mpirun exited 0 after its learner was killed"
  echo "faults: learner SIGKILLed after step $(steps_done "$run") (target $at + 0.$delay s), mpirun exit $rc;" \
       "checkpoints: $(ls "$run/checkpoints" 2> /dev/null | tr '\n' ' ')"
  check_intact "$run"
done
train "$run" "$work/killed.log" || { tail -40 "$work/killed.log"; fail "the resumed run failed"; }
grep -q "resuming from" "$work/killed.log" || echo "faults: (no checkpoint existed at the kills: the rerun started afresh)"
check_intact "$run"
leftover=$(ls -d "$run"/checkpoints/*.tmp* 2> /dev/null || true)
[[ -z $leftover ]] || fail "a completed run kept the partial save of a killed one: $leftover"
same_weights "$run"
echo "faults: 1. learner SIGKILL x2: checkpoints complete, logs readable, no orphans, resumed to identical weights"

# ---- 2. corrupted, truncated and unknown frames from a hostile peer -------------------------
run=$work/injected
mpirun --oversubscribe -np 1 -x OMP_WAIT_POLICY "$iranker" train -c configs/quickstart.yaml \
  run.dir="$run" "${common[@]}" > "$work/injected.log" 2>&1 &
job=$!
wait_steps "$run" 1
"$inject" "$run" 3 || fail "the injector failed"
rc=0
wait "$job" || rc=$?
(( rc == 0 )) || { tail -40 "$work/injected.log"; fail "the run under injection exited $rc"; }
malformed=$(sed -n 's/.*learner 0: .* \([0-9][0-9]*\) malformed.*/\1/p' "$work/injected.log" | tail -1)
(( ${malformed:-0} >= 3 )) || { grep "learner 0:" "$work/injected.log"; fail "the learner counted ${malformed:-no} malformed frames"; }
check_intact "$run"
same_weights "$run"
echo "faults: 2. hostile frames: $malformed counted malformed by the learner, training unchanged"

# ---- 3. full disk ---------------------------------------------------------------------------
expect_clean_stop() {  # log rc what
  (( $2 != 0 )) || fail "$3: the job exited 0"
  grep -Eq "disk nearly full|No space left on device|File too large|file size|cannot write|failed to write|write .* failed" "$1" \
    || { tail -30 "$1"; fail "$3: no error naming the write that failed"; }
  echo "faults: $3: stopped with exit $2: $(grep -Em1 "^iranker: error" "$1" | cut -c1-220)"
}
mnt=$work/tmpfs
mkdir -p "$mnt"
if mount -t tmpfs -o size=8m tmpfs "$mnt" 2> /dev/null; then
  trap 'umount "$mnt" 2> /dev/null || true' EXIT
  rc=0
  train "$mnt/run" "$work/tmpfs.log" || rc=$?
  expect_clean_stop "$work/tmpfs.log" $rc "tmpfs of 8 MiB"
  ls "$mnt/run/checkpoints" || true
  df -h "$mnt" | tail -1
  check_intact "$mnt/run"
  [[ -n $(ls "$mnt/run/checkpoints" 2> /dev/null) ]] || echo "faults: (the disk filled before the first checkpoint)"
  cp -a "$mnt/run" "$work/from-tmpfs"
  umount "$mnt"
  trap - EXIT
  rm -rf "$work/from-tmpfs/sockets" "$work/from-tmpfs/rendezvous.json"
  train "$work/from-tmpfs" "$work/from-tmpfs.log" || { tail -30 "$work/from-tmpfs.log"; fail "resuming the full-disk run failed"; }
  check_intact "$work/from-tmpfs"
  same_weights "$work/from-tmpfs"
  echo "faults: 3a. full tmpfs: clean stop, intact state, resumed elsewhere to identical weights"
else
  echo "faults: 3a. skipped: this machine does not let us mount a tmpfs (3b covers a full disk portably)"
fi
rc=0
# The limit applies to the learner rank only (mpirun's PMIx keeps its shared memory in files).
# Without the HDF5 log, whose free-space reserve would stop the job first (3a), the checkpoint's
# optimizer file (1.7 MB) is the write that fails.
mpirun --oversubscribe -np 1 -x OMP_WAIT_POLICY bash -c 'ulimit -f 1200 && exec "$@"' limited \
  "$iranker" train -c configs/quickstart.yaml run.dir="$work/fsize" "${common[@]}" trajlog.enabled=false \
  > "$work/fsize.log" 2>&1 || rc=$?
expect_clean_stop "$work/fsize.log" $rc "ulimit -f 1200 KiB"
check_intact "$work/fsize"
[[ -z $(ls -A "$work/fsize/checkpoints") ]] || fail "a partial checkpoint was left: $(ls "$work/fsize/checkpoints")"
train "$work/fsize" "$work/fsize.log" trajlog.enabled=false || { tail -30 "$work/fsize.log"; fail "rerunning after the file-size limit failed"; }
check_intact "$work/fsize"
same_weights "$work/fsize"
echo "faults: 3b. file-size limit: clean stop, nothing partial, rerun to identical weights"
echo "faults: ok ($(( SECONDS - start )) s, FAULT_SEED=$seed)"
