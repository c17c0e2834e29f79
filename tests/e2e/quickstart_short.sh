#!/usr/bin/env bash
# A shortened quickstart (CTest e2e.quickstart_short): the real configs/quickstart.yaml under
# mpirun (1 learner rank supervising 2 actor processes), 30 steps instead of 120 and a higher
# learning rate (3e-3 instead of 1e-3) so that the trend shows within them. Asserts that
#   * the training reward trends upward (least-squares slope over the steps > 0, and the last
#     third's mean above the first third's),
#   * the HDF5 trajectory log holds exactly as many step records as the learners received,
#   * the run directory has the resolved config, a checkpoint, metrics and result.json.
# usage: quickstart_short.sh IRANKER_BINARY SOURCE_DIR WORK_DIR [extra overrides]
set -euo pipefail
iranker=$1 src=$2 work=$3
shift 3
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMPI_MCA_rmaps_base_oversubscribe=1
export OMP_WAIT_POLICY=PASSIVE
rm -rf "$work"
cd "$src"
timeout 600 mpirun --oversubscribe -np 1 -x OMP_WAIT_POLICY "$iranker" train -c configs/quickstart.yaml \
  run.dir="$work" train.steps=30 train.eval_every=0 train.checkpoint_every=0 learner.lr=3e-3 "$@"
"$iranker" inspect "$work" --json > "$work/inspect.json"
# `iranker eval` on the final checkpoint reproduces the training's final evaluation.
"$iranker" eval -c configs/quickstart.yaml --checkpoint "$work/checkpoints/step-00000030" --json > "$work/eval.json"
/usr/bin/python3 - "$work" <<'PY'
import json, os, sys
run = sys.argv[1]
rows = [json.loads(l) for l in open(os.path.join(run, "metrics.jsonl"))]
train = [r for r in rows if r["type"] == "train"]
assert len(train) == 30, f"expected 30 training steps, got {len(train)}"
xs = [r["step"] for r in train]
ys = [r["reward_mean"] for r in train]
n = len(xs)
mx, my = sum(xs) / n, sum(ys) / n
slope = sum((x - mx) * (y - my) for x, y in zip(xs, ys)) / sum((x - mx) ** 2 for x in xs)
first, last = sum(ys[: n // 3]) / (n // 3), sum(ys[-(n // 3):]) / (n // 3)
print(f"reward: slope {slope:.5f}/step, first third {first:.4f}, last third {last:.4f}")
assert slope > 0, "the reward does not trend upward"
assert last > first, "the last third's reward is not above the first third's"
result = json.load(open(os.path.join(run, "result.json")))
log = json.load(open(os.path.join(run, "inspect.json")))
received = result["trajectories"]
print(f"trajectories received by the learners: {received}; step records in the HDF5 log: {log['steps']}")
assert received > 0
assert log["steps"] == received, "the HDF5 log and the learners disagree"
assert received == sum(r["trajectories"] for r in train)
for p in ("config.yaml", "plots/reward.svg", "plots/eval.svg", "plots/reward.png", "plots/eval.png",
          "checkpoints/step-00000030/model.safetensors", "checkpoints/step-00000030/trainer_state.json"):
    assert os.path.exists(os.path.join(run, p)), f"missing {p}"
assert open(os.path.join(run, "plots/reward.png"), "rb").read(8) == b"\x89PNG\r\n\x1a\n", "not a PNG"
assert any(f.startswith("events.out.tfevents.") for f in os.listdir(run)), "no TensorBoard event file"
for k in ("random", "initial", "trained"):
    assert 0 <= result[k]["mrr"] <= 1, k
ev = json.load(open(os.path.join(run, "eval.json")))
rows = ev["rows"] if isinstance(ev, dict) else ev
policy = [r for r in rows if r["system"] == "policy"]
assert len(policy) == 1 and abs(policy[0]["mrr"] - result["trained"]["mrr"]) < 1e-9, (policy, result["trained"])
print(f"iranker eval on the final checkpoint: MRR {policy[0]['mrr']:.4f} = the training's final evaluation")
print("ok")
PY
