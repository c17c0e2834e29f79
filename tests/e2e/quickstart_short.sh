#!/usr/bin/env bash
# A shortened quickstart (CTest e2e.quickstart_short): the real configs/quickstart.yaml under
# mpirun (1 learner rank supervising 2 actor processes), 30 steps instead of 120 and a higher
# learning rate (3e-3 instead of 1e-3) so that the trend shows within them. Asserts that
#   * the training reward trends upward (least-squares slope over the steps > 0, and the last
#     third's mean above the first third's),
#   * the HDF5 trajectory log holds exactly as many step records as the learners received,
#   * the run directory has the resolved config, a checkpoint, metrics and result.json,
#   * `iranker rank` with the final checkpoint on two bundled datasets gives `iranker eval`'s metrics
#     (its JSONL rankings, its printed table and its TREC run scored by `iranker metrics`).
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
# `iranker rank` on bundled datasets with the same checkpoint: its metrics must equal `iranker eval`'s
# on the same data, and the ranking it writes (JSONL and TREC run) must score the same.
ckpt="$work/checkpoints/step-00000030"
for data in quickstart passage; do
  "$iranker" rank -c configs/quickstart.yaml --checkpoint "$ckpt" --input "data/$data/test.jsonl" \
    --output "$work/rank-$data.jsonl" --trec-run "$work/rank-$data.trec" > "$work/rank-$data.txt" 2>&1
  "$iranker" eval -c configs/quickstart.yaml --checkpoint "$ckpt" "data.test=[data/$data/test.jsonl]" \
    --json > "$work/eval-$data.json"
  /usr/bin/python3 - "data/$data/test.jsonl" "$work/rank-$data.jsonl" "$work/qrels-$data.txt" <<'PY'
import json, sys
records = [json.loads(l) for l in open(sys.argv[1])]
ranked = {r["id"]: r for r in map(json.loads, open(sys.argv[2]))}
assert len(ranked) == len(records), (len(ranked), len(records))
with open(sys.argv[3], "w") as qrels:
    for rec in records:
        cands = rec["candidates"]
        ids = [c["id"] if isinstance(c, dict) else str(i) for i, c in enumerate(cands)]
        pos = rec["positive"]
        pos = ids.index(pos) if isinstance(pos, str) else pos
        for i, cid in enumerate(ids):
            qrels.write(f"{rec.get('task')}/{rec['id']} 0 {cid} {1 if i == pos else 0}\n")
PY
  "$iranker" metrics --qrels "$work/qrels-$data.txt" --run "$work/rank-$data.trec" --json > "$work/metrics-$data.json"
  /usr/bin/python3 - "data/$data/test.jsonl" "$work/rank-$data.jsonl" "$work/rank-$data.txt" \
      "$work/eval-$data.json" "$work/metrics-$data.json" <<'PY'
import json, sys
records = {r["id"]: r for r in map(json.loads, open(sys.argv[1]))}
ev = json.load(open(sys.argv[4]))
rows = ev["rows"] if isinstance(ev, dict) else ev
policy = [r for r in rows if r["system"] == "policy"]
assert len(policy) == 1, policy
policy = policy[0]
# MRR recomputed from the rankings rank wrote.
rr = []
for r in map(json.loads, open(sys.argv[2])):
    rec = records[r["id"]]
    cands = rec["candidates"]
    pos = rec["positive"]
    if isinstance(pos, str):
        pos = [c["id"] for c in cands].index(pos)
    assert sorted(r["ranking_index"]) == list(range(len(cands))), r["id"]
    rr.append(1.0 / (r["ranking_index"].index(pos) + 1))
mrr = sum(rr) / len(rr)
assert abs(mrr - policy["mrr"]) < 1e-9, (mrr, policy)
# The metrics table rank printed has the same policy row as eval.
row = [l.split() for l in open(sys.argv[3]) if l.split()[1:2] == ["policy"]]
assert len(row) == 1 and abs(float(row[0][3]) - policy["mrr"]) < 5e-5 and abs(float(row[0][4]) - policy["ndcg@10"]) < 5e-5, (row, policy)
# The TREC run scored by `iranker metrics` against qrels made from the data.
m = json.load(open(sys.argv[5]))
assert m["num_queries"] == len(records) and abs(m["mrr"] - policy["mrr"]) < 1e-6, (m, policy)
assert abs(m["ndcg@10"] - policy["ndcg@10"]) < 1e-6, (m, policy)
print(f"{sys.argv[1]}: iranker rank MRR {mrr:.4f} nDCG@10 {m['ndcg@10']:.4f} = iranker eval (JSONL, table and TREC run agree)")
PY
done

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
