#!/usr/bin/env bash
# CTest cluster.roles_mpirun_npN: `mpirun -np N iranker roles` with cluster.learners=N: N learner
# ranks 0..N-1, each with local rank = its rank on this one host, local size N, threads
# max(1, cores / N); with cluster.learners != N every rank refuses with the numbers.
# usage: roles_mpirun.sh IRANKER SOURCE_DIR N
set -euo pipefail
iranker=$1 src=$2 np=$3
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMP_WAIT_POLICY=PASSIVE
cd "$src"
out=$(mpirun --oversubscribe -np "$np" "$iranker" roles -c configs/quickstart.yaml cluster.learners="$np" train.actors=3)
echo "$out"
/usr/bin/python3 - "$np" "$(nproc)" <<PY
import json, sys
np, cores = int(sys.argv[1]), int(sys.argv[2])
rows = [json.loads(l) for l in """$out""".splitlines() if l.startswith("{")]
assert len(rows) == np, rows
assert sorted(r["learner_rank"] for r in rows) == list(range(np)), rows
for r in rows:
    assert r["role"] == "learner" and r["world_size"] == np and r["learners"] == np and r["actors"] == 3, r
    assert r["local_rank"] == r["world_rank"] and r["local_size"] == np, r
    assert r["threads"] == max(1, cores // np), r
    assert r["device"] == "cpu" and r["launcher"] == "mpirun", r
print("ok:", np, "learner ranks")
PY
# A world that differs from cluster.learners is refused, naming both numbers.
if err=$(mpirun --oversubscribe -np "$np" "$iranker" roles -c configs/quickstart.yaml cluster.learners=$((np + 1)) 2>&1); then
  echo "expected a refusal: $err"; exit 1
fi
grep -q "the MPI job has $np processes but cluster.learners=$((np + 1))" <<< "$err" || { echo "$err"; exit 1; }
# Actors: their layout outside the MPI world.
a=$("$iranker" roles -c configs/quickstart.yaml train.actors=3 --actor 2)
grep -q '"role":"actor"' <<< "$a" && grep -q '"actor_id":2' <<< "$a" && grep -q '"local_rank":2' <<< "$a" || { echo "$a"; exit 1; }
echo "ok: refusal and actor layout"
