#!/usr/bin/env bash
# CTest e2e.memory_plan_matches_rss: `iranker plan` against measurement. For the tiny preset at 1
# and 4 learner ranks and the small preset at 1 and 2 (PPO with its critic; sharding=gradients
# above one rank), a short `iranker train` under mpirun reports the learner ranks' peak resident
# memory (metrics.jsonl: peak_rss_mb_max and peak_rss_mb_min, the largest and smallest rank); each
# must be within 15% of the plan's total for the largest and smallest learner process. Micro-
# batches and sequences are at most 512 tokens (the quickstart's prompts are 200-400), so that
# every micro-batch is nearly full and the activations the plan counts are the ones the run holds.
# ($name.plan.txt is the readable plan, for a failure's investigation.)
# usage: memory_plan.sh IRANKER_BINARY SOURCE_DIR WORK_DIR
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh" "$@"
common=(train.steps=2 train.eval_every=0 train.checkpoint_every=0 run.log_level=warn
        learner.algorithm=ppo learner.micro_batch_tokens=512 actor.max_seq_len=512
        learner.shard_unit_mb=0.2 data.test=[data/quickstart/test.jsonl] train.eval_queries=4)
runs=(tiny-1 tiny-4 small-1 small-2)
for name in "${runs[@]}"; do
  preset=${name%-*} ranks=${name#*-}
  level=none
  [[ $ranks -gt 1 ]] && level=gradients
  # As many actors as learner ranks, one query each: each step's batches (one per actor) reach
  # every rank (an actor starts its round-robin at learner actor id % ranks).
  args=(model.preset=$preset cluster.learners=$ranks train.actors=$ranks actor.queries_per_batch=$ranks
        learner.sharding=$level "${common[@]}")
  "$iranker" plan -c configs/quickstart.yaml --json "${args[@]}" > "$work/$name.plan.json"
  "$iranker" plan -c configs/quickstart.yaml "${args[@]}" > "$work/$name.plan.txt"
  mpirun --oversubscribe -np $ranks -x OMP_WAIT_POLICY "$iranker" train -c configs/quickstart.yaml \
    run.dir="$work/$name" "${args[@]}" > "$work/$name.log" 2>&1 || { cat "$work/$name.log"; exit 1; }
done
/usr/bin/python3 - "$work" "${runs[@]}" <<'PY'
import json, sys
work, runs = sys.argv[1], sys.argv[2:]
worst, failures = 0.0, []
for name in runs:
    plan = json.load(open(f"{work}/{name}.plan.json"))
    learners = [p["total_bytes"] / 2**20 for p in plan["processes"] if p["role"].startswith("learner")]
    train = [json.loads(l) for l in open(f"{work}/{name}/metrics.jsonl") if '"type":"train"' in l]
    measured = {"largest rank": train[-1]["peak_rss_mb_max"], "smallest rank": train[-1]["peak_rss_mb_min"]}
    planned = {"largest rank": max(learners), "smallest rank": min(learners)}
    for what in measured:
        err = (measured[what] - planned[what]) / planned[what]
        worst = max(worst, abs(err))
        print(f"{name:8s} {what:13s} measured {measured[what]:7.1f} MiB, planned {planned[what]:7.1f} MiB ({err:+.1%})")
        if abs(err) > 0.15:
            failures.append(f"{name} {what}")
print(f"largest deviation {worst:.1%}")
assert not failures, f"more than 15% off the plan: {failures}"
PY
