#!/usr/bin/env bash
# CTest e2e.data_parallel_equivalence: two learner ranks (mpirun -np 2, gradients all-reduced over
# MPI, each rank training on the batches it received) reach the same weights as one learner rank
# training on all of them, within floating-point tolerance; the two ranks' HDF5 logs together hold
# every step record the learners received. Small gradient buckets (comm.allreduce.bucket_mb): the
# metrics show several buckets reduced while backward was still running. Gradients of 20 kB and up
# are reduced in place (comm.allreduce.inplace_mb); after the first step, whose .grad() the learner
# made itself, no gradient byte is copied.
# usage: data_parallel.sh IRANKER_BINARY SOURCE_DIR WORK_DIR
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh" "$@"
common=(train.steps=4 train.eval_every=0 train.checkpoint_every=0 run.log_level=warn comm.allreduce.bucket_mb=0.05
        comm.allreduce.inplace_mb=0.02
        data.test=[data/recommendation/test.jsonl])
for n in 1 2; do
  mpirun --oversubscribe -np $n -x OMP_WAIT_POLICY "$iranker" train -c configs/quickstart.yaml cluster.learners=$n \
    run.dir="$work/l$n" "${common[@]}" > "$work/l$n.log" 2>&1 || { cat "$work/l$n.log"; exit 1; }
done
ls "$work/l2"/trajectories.rank-1.h5 > /dev/null
"$iranker" inspect "$work/l2" --json > "$work/l2/inspect.json"
/usr/bin/python3 "$(dirname "$0")/compare_weights.py" "$work/l1/init/model.safetensors" \
  "$work/l1/checkpoints/step-00000004/model.safetensors" \
  "$work/l2/checkpoints/step-00000004/model.safetensors" 1e-5 "1 rank - 2 ranks"
/usr/bin/python3 - "$work" <<'PY'
import json, sys
work = sys.argv[1]
result = json.load(open(f"{work}/l2/result.json"))
log = json.load(open(f"{work}/l2/inspect.json"))
assert log["steps"] == result["trajectories"], (log["steps"], result["trajectories"])
train = [json.loads(l) for l in open(f"{work}/l2/metrics.jsonl") if '"type":"train"' in l]
assert len(train) == 4, len(train)
for rec in train:  # rank 0's steps; a step where it received no samples has no backward to overlap
    assert rec["grad_buckets"] >= 3, rec["grad_buckets"]
    assert (rec["micro_batches"] > 0) <= (rec["grad_buckets_overlapped"] > 0), rec
    assert rec["grad_buckets_overlapped"] <= rec["grad_buckets"], rec
assert any(r["grad_buckets_overlapped"] > 0 for r in train), "no bucket was reduced during backward"
assert all(r["grad_copied_mb"] == 0 for r in train[1:]), [r["grad_copied_mb"] for r in train]
print(f"gradient buckets per step: {train[0]['grad_buckets']:.0f}, reduced during backward: "
      f"{[r['grad_buckets_overlapped'] for r in train]}")
print("ok")
PY
