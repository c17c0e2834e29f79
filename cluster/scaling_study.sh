#!/usr/bin/env bash
# Scaling study: the same short training job across model presets (random weights, real shapes),
# learner counts and actor counts, under mpirun on this machine. Writes OUT/scaling.csv, one row per
# run (or per skipped size, with the reason), and OUT/*.png plots (gnuplot).
#
# usage: cluster/scaling_study.sh [OUT_DIR]          (default docs/scaling)
#   PRESETS="tiny small qwen2.5-0.5b qwen2.5-1.5b qwen2.5-3b qwen2.5-7b"  LEARNERS="1 2"  ACTORS="1 2"
#   SHARDINGS="none" (learner.sharding levels to try; 1-learner runs use none only)
#   ALGORITHM=grpo (or ppo: a critic beside the policy)
#   MICRO_BATCH_TOKENS=512 (learner.micro_batch_tokens and actor.max_seq_len: the workload's
#   sequences are 200-400 tokens, so micro-batches are nearly full and the activations iranker
#   plan counts are the ones the run holds)  SLOTS=8 (actor.slots)
#   STEPS=4 (the first step is warm-up and not counted)  IRANKER=build/bin/iranker
#
# Workload per run: the quickstart data and tokenizer, IRanker single-step states, 2 queries x 4
# samples per actor per step, constrained answers, GRPO (ALGORITHM), 512-token micro-batches and
# sequences, 8 decoding slots. Columns:
#   sharding                learner.sharding of the run
#   generated_tokens_per_s  response tokens of a step / the time the learners waited for them
#   learner_tokens_per_s    prompt + response tokens trained (all ranks) / learn time of rank 0
#   step_seconds            median wall time of a step (wait + learn), steps 2..N
#   weight_sync_seconds     median time learner rank 0 spent publishing a policy version
#   peak_rss_mb             the largest process's peak resident memory (GNU time over mpirun)
#   learner_peak_rss_mb     the largest learner rank's peak resident memory (metrics.jsonl)
#   planned_learner_mb      `iranker plan`'s total for the largest learner rank of the same run
#   mfu                     6 * parameters * tokens the learners computed per second (all ranks; a
#                           prompt shared by G samples counts once) / the machine's fp32 matmul
#                           peak (`iranker bench matmul`, measured at the start of the study)
# PLOT_ONLY=1 redraws the plots from an existing OUT/scaling.csv.
# A size is skipped, with the reason in the CSV, when `iranker plan` puts the memory of all its
# processes (learner ranks and actors on this host) above 80% of MemAvailable, or when it fails.
set -uo pipefail
src=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
out=${1:-$src/docs/scaling}
iranker=${IRANKER:-$src/build/bin/iranker}
presets=${PRESETS:-"tiny small qwen2.5-0.5b qwen2.5-1.5b qwen2.5-3b qwen2.5-7b"}
learner_counts=${LEARNERS:-"1 2"}
actor_counts=${ACTORS:-"1 2"}
steps=${STEPS:-4}
shardings=${SHARDINGS:-none}
algorithm=${ALGORITHM:-grpo}
micro_batch_tokens=${MICRO_BATCH_TOKENS:-512}
slots=${SLOTS:-8}
[[ -x $iranker ]] || { echo "scaling_study: $iranker not found: build first (scripts/build.sh)" >&2; exit 1; }
command -v gnuplot > /dev/null || { apt-get install -y -qq --no-install-recommends gnuplot-nox > /dev/null || true; }
[[ -x /usr/bin/time ]] || { apt-get install -y -qq --no-install-recommends time > /dev/null || true; }
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMP_WAIT_POLICY=PASSIVE
mkdir -p "$out"
work=$(mktemp -d /tmp/iranker-scaling.XXXXXX)
trap 'rm -rf "$work"' EXIT
cd "$src"
head -4 data/quickstart/test.jsonl > "$work/test.jsonl"

if [[ ${PLOT_ONLY:-0} != 1 ]]; then
peak_gflops=$("$iranker" bench matmul --json --repeats 3 2> /dev/null | tail -1 |
  /usr/bin/python3 -c 'import json,sys; print(json.load(sys.stdin)["value"])')
echo "scaling_study: machine fp32 matmul peak ${peak_gflops} GFLOP/s; $(nproc) cores"
printf '{"fp32_matmul_peak_gflops": %s, "cores": %s, "mem_total_kb": %s, "date": "%s", "steps": %s}\n' \
  "$peak_gflops" "$(nproc)" "$(awk '/MemTotal/ {print $2}' /proc/meminfo)" "$(date -u +%FT%TZ)" "$steps" > "$out/machine.json"
csv=$out/scaling.csv
echo "preset,parameters,learners,actors,sharding,status,generated_tokens_per_s,learner_tokens_per_s,step_seconds,weight_sync_seconds,peak_rss_mb,learner_peak_rss_mb,planned_learner_mb,mfu,reason" > "$csv"
avail_kb=$(awk '/MemAvailable/ {print $2}' /proc/meminfo)

for preset in $presets; do
  params=$("$iranker" init-model --preset "$preset" --tokenizer data/tokenizer/quickstart/tokenizer.json --describe | /usr/bin/python3 -c 'import json,sys; print(json.load(sys.stdin)["parameters"])')
  for L in $learner_counts; do
    for A in $actor_counts; do
     for S in $shardings; do
      [[ $L -eq 1 && $S != none ]] && continue
      args=(model.preset="$preset" cluster.learners="$L" train.actors="$A" learner.sharding="$S"
            learner.algorithm="$algorithm" train.steps="$steps" train.eval_every=0 train.checkpoint_every=0
            train.keep_checkpoints=1 actor.queries_per_batch=$((2 * A)) actor.group_size=4
            learner.micro_batch_tokens="$micro_batch_tokens" actor.max_seq_len="$micro_batch_tokens"
            actor.slots="$slots"
            "data.test=[$work/test.jsonl]" trajlog.enabled=false run.log_level=warn)
      plan=$("$iranker" plan -c configs/quickstart.yaml --json "${args[@]}" | /usr/bin/python3 -c '
import json, sys
p = json.load(sys.stdin)
total = sum(q["total_bytes"] * q["processes"] for q in p["processes"])
learner = max(q["total_bytes"] for q in p["processes"] if q["role"].startswith("learner"))
print(total // 1024, learner // 2**20)')
      read -r need_kb planned_mb <<< "$plan"
      if [[ -z $need_kb ]]; then
        echo "$preset,$params,$L,$A,$S,failed,,,,,,,,,iranker plan failed" >> "$csv"
        echo "scaling_study: $preset L=$L A=$A $S: iranker plan failed"
        continue
      fi
      if (( need_kb * 10 > avail_kb * 8 )); then
        reason="iranker plan: ~$(( need_kb / 1048576 )) GiB for all processes; $(( avail_kb / 1048576 )) GiB available"
        echo "$preset,$params,$L,$A,$S,skipped,,,,,,,$planned_mb,,$reason" >> "$csv"
        echo "scaling_study: $preset L=$L A=$A $S skipped: $reason"
        continue
      fi
      run=$work/$preset-L$L-A$A-$S
      echo "scaling_study: $preset ($params parameters) L=$L A=$A sharding=$S ..."
      /usr/bin/time -f "%M" -o "$run.rss" mpirun --oversubscribe -np "$L" -x OMP_WAIT_POLICY "$iranker" train \
        -c configs/quickstart.yaml run.dir="$run" "${args[@]}" > "$run.log" 2>&1
      rc=$?
      if (( rc != 0 )); then
        reason="run failed (exit $rc): $(grep -m1 'error' "$run.log" | tr ',' ';' | cut -c1-150)"
        echo "$preset,$params,$L,$A,$S,failed,,,,,,,$planned_mb,,$reason" >> "$csv"
        echo "scaling_study: $preset L=$L A=$A $S failed; see the CSV"
        continue
      fi
      /usr/bin/python3 - "$run/metrics.jsonl" "$(tail -1 "$run.rss")" "$params" "$peak_gflops" "$preset" "$L" "$A" "$S" "$planned_mb" >> "$csv" <<'PY'
import json, statistics, sys
path, rss_kb, params, peak, preset, L, A, S, planned = sys.argv[1:]
rows = [json.loads(l) for l in open(path)]
train = [r for r in rows if r.get("type") == "train"][1:]  # step 1 is warm-up
med = lambda k: statistics.median(r[k] for r in train if k in r) if any(k in r for r in train) else float("nan")
gen = med("generated_tokens_per_s")
learn = med("learner_tokens_per_s")
step = statistics.median(r["wait_seconds"] + r["learn_seconds"] for r in train)
computed = med("learner_computed_tokens_per_s")
mfu = 6 * int(params) * computed / (float(peak) * 1e9)
learner_rss = max(r.get("peak_rss_mb_max", r.get("peak_rss_mb", 0)) for r in train)
print(f"{preset},{params},{L},{A},{S},ok,{gen:.1f},{learn:.1f},{step:.3f},{med('publish_seconds'):.4f},"
      f"{int(rss_kb)/1024:.0f},{learner_rss:.0f},{planned},{mfu:.4f},")
PY
      tail -1 "$csv"
     done
    done
  done
done

fi  # PLOT_ONLY

# Plots: throughput and step time against parameters, one line per (learners, actors).
csv=$out/scaling.csv
/usr/bin/python3 - "$csv" "$work" <<'PY'
import csv, sys
rows = [r for r in csv.DictReader(open(sys.argv[1])) if r["status"] in ("ok", "partial")]
cols = ["parameters", "generated_tokens_per_s", "learner_tokens_per_s", "step_seconds", "mfu", "peak_rss_mb"]
for r in rows:
    with open(f"{sys.argv[2]}/L{r['learners']}-A{r['actors']}-{r.get('sharding') or 'none'}.dat", "a") as f:
        f.write(" ".join(r[c] or "NaN" for c in cols) + "\n")
PY
if command -v gnuplot > /dev/null && ls "$work"/L*-A*.dat > /dev/null 2>&1; then
  plot() {  # file, title, ylabel, column
    local series="" f
    for f in "$work"/L*-A*.dat; do
      series+="${series:+, }'$f' using 1:$4 with linespoints title '$(basename "$f" .dat | sed 's/L\([0-9]*\)-A\([0-9]*\)-\(.*\)/\1 learner(s), \2 actor(s), sharding \3/')'"
    done
    gnuplot <<EOF
set terminal pngcairo size 900,560 font ",11"
set output "$out/$1"
set title "$2"
set xlabel "parameters"
set ylabel "$3"
set logscale x
set logscale y
set grid
set key top right
plot $series
EOF
  }
  plot generated_tokens_per_s.png "Generation throughput (all actors)" "generated tokens/s" 2
  plot learner_tokens_per_s.png "Learner throughput (all ranks)" "learner tokens/s" 3
  plot step_seconds.png "Step time (median)" "seconds per step" 4
  plot mfu.png "Learner model FLOP utilisation vs fp32 matmul peak" "MFU" 5
  plot peak_rss_mb.png "Peak memory of the largest process" "MB" 6
fi
echo "scaling_study: wrote $csv and $(ls "$out"/*.png 2> /dev/null | wc -l) plots in $out"
