#!/usr/bin/env bash
# CTest e2e.sft_data_parallel_equivalence: supervised fine-tuning (configs/quickstart_sft.yaml: the
# labels' targets, the constrained-choice loss) on two learner ranks (mpirun -np 2) reaches the
# weights of one learner rank on the same targets, within floating-point tolerance.
# usage: sft_data_parallel.sh IRANKER_BINARY SOURCE_DIR WORK_DIR
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh" "$@"
common=(train.steps=3 train.eval_every=0 train.checkpoint_every=0 run.log_level=warn
        data.test=[data/recommendation/test.jsonl])
for n in 1 2; do
  mpirun --oversubscribe -np $n -x OMP_WAIT_POLICY "$iranker" train -c configs/quickstart_sft.yaml \
    cluster.learners=$n run.dir="$work/l$n" "${common[@]}" > "$work/l$n.log" 2>&1 ||
    { cat "$work/l$n.log"; exit 1; }
done
grep -q '"sft_choice_accuracy"' "$work/l2/metrics.jsonl"
/usr/bin/python3 "$(dirname "$0")/compare_weights.py" "$work/l1/init/model.safetensors" \
  "$work/l1/checkpoints/step-00000003/model.safetensors" \
  "$work/l2/checkpoints/step-00000003/model.safetensors" 1e-5 "1 rank - 2 ranks (sft)"
echo ok
