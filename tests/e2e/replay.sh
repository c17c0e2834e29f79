#!/usr/bin/env bash
# CTest e2e.replay_retraces_run: `iranker train ... data.replay=LOG.h5` trains a learner from a
# run's HDF5 trajectory log without actors. From the same initial policy with the same learner
# settings it retraces the logging run: after 4 steps the weights are byte-identical. A replay
# stopped after 2 steps and resumed ends at the same weights too. A missing file, a file that is
# not a trajectory log, and an MPI world of 2 are clear errors.
# usage: replay.sh IRANKER_BINARY SOURCE_DIR WORK_DIR
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh" "$@"
head -4 data/quickstart/test.jsonl > "$work/test.jsonl"
common=(-c configs/quickstart.yaml train.eval_every=0 train.checkpoint_every=0 run.log_level=warn
        "data.test=[$work/test.jsonl]")
run() {  # name, args...: runs iranker train, shows its log on failure
  local name=$1; shift
  "$iranker" train "${common[@]}" run.dir="$work/$name" "$@" > "$work/$name.log" 2>&1 ||
    { cat "$work/$name.log"; echo "FAILED: $name"; exit 1; }
}
weights() { echo "$work/$1/checkpoints/step-0000000$2/model.safetensors"; }

run logged --local train.steps=4
log="$work/logged/trajectories.h5"
run replay train.steps=4 data.replay="$log"
cmp "$(weights logged 4)" "$(weights replay 4)"
grep -q '"replay_logged_version":3' "$work/replay/metrics.jsonl" || { echo "no replay metrics"; exit 1; }

# Stopped after 2 steps (train.steps=2), then resumed to 4: the same weights.
run resumed train.steps=2 data.replay="$log"
run resumed train.steps=4 data.replay="$log"
cmp "$(weights logged 4)" "$(weights resumed 4)"

# More steps than the log holds: it trains the 4 it has and says so.
run longer train.steps=9 data.replay="$log"
grep -q "holds 4 logged steps" "$work/longer.log" || { cat "$work/longer.log"; echo "no warning"; exit 1; }
cmp "$(weights logged 4)" "$(weights longer 4)"

expect_error() {  # pattern, args...: the command fails and its output matches the pattern
  local pattern=$1; shift
  if "$@" > "$work/err.log" 2>&1; then echo "expected failure: $*"; exit 1; fi
  grep -q -- "$pattern" "$work/err.log" || { cat "$work/err.log"; echo "expected '$pattern'"; exit 1; }
}
expect_error "$work/missing.h5" "$iranker" train "${common[@]}" run.dir="$work/e1" data.replay="$work/missing.h5"
echo "not hdf5" > "$work/text.h5"
expect_error "$work/text.h5" "$iranker" train "${common[@]}" run.dir="$work/e2" data.replay="$work/text.h5"
expect_error "one of 2 ranks" env OMPI_COMM_WORLD_SIZE=2 "$iranker" train "${common[@]}" run.dir="$work/e3" \
  data.replay="$log"
echo "ok: replay retraces the logged run byte for byte, resumes exactly, and refuses bad input"
