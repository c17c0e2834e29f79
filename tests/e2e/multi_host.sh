#!/usr/bin/env bash
# CTest e2e.multi_host (labels e2e;mpi;hosts): a training run across hosts. cluster/hosts.sh makes
# four hosts of this machine (network namespaces on a bridge, each with its own address, host name
# and /etc/hosts). The two learner ranks run on irt1 and irt2 (mpirun over a hostfile, its rsh
# agent entering the namespace instead of ssh), the two actors are started by hand on irt3
# (cluster.spawn_actors=false, `iranker actor`), all traffic is tcp with CURVE (one key pair, as
# the paper configs set it), the learners bind by host name (cluster.host="*") and the rendezvous
# carries the addresses the actors' host connects to. Checked:
#   - the ranks and the actors ran on the hosts they were given;
#   - the final weights are byte-identical to the same run with learners and actors on one host
#     (one thread per process);
#   - the actors exit on their own when the learners have completed the run;
#   - an actor on irt3 holding a key that is not in authorized_keys is refused (the learners log
#     the refusal) and changes nothing;
#   - irt2 (learner rank 1) cut off: the job ends by time-out naming irt2, the newest checkpoint is
#     complete, and the rerun resumes and ends byte-identical to the uninterrupted run;
#   - irt3 (actor 0; actor 1 on irt4) cut off after step 2 and back after step 5: actor 1 rolls out
#     actor 0's shares, every step is trained once, the weights match within float tolerance.
# Skipped (exit 77, with the reason) where network namespaces cannot be made (not root, no
# CAP_NET_ADMIN). The hosts are removed at exit, also on failure.
# usage: multi_host.sh IRANKER_BINARY SOURCE_DIR WORK_DIR
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh" "$@"
hosts=$src/cluster/hosts.sh
name=irt
if [[ $(id -u) -ne 0 ]]; then
  echo "skipped: making hosts (network namespaces) needs root"
  exit 77
fi
"$hosts" down "$name" 2> /dev/null || true # what a killed earlier run left
"$hosts" down "${name}p" 2> /dev/null || true
# One host made and removed first: where the kernel refuses namespaces, veth pairs or bridges,
# the test is skipped with hosts.sh's reason.
if ! probe=$("$hosts" up 1 "${name}p" 10.231.8 2>&1); then
  echo "skipped: cannot make hosts here: $probe"
  exit 77
fi
"$hosts" down "${name}p"
trap '"$hosts" down '"$name"' || true' EXIT
dir=$("$hosts" up 4 "$name" 10.231.9)
source "$dir/env"

keys=$work/keys
"$iranker" keygen --name cluster --dir "$keys" --authorize "$keys/authorized_keys" > /dev/null
"$iranker" keygen --name rogue --dir "$keys" > /dev/null
security() { # KEY_NAME: both channels' CURVE settings with that key pair
  local c kv
  for c in stream weights; do
    for kv in curve=true secret_key_file=$keys/$1.key public_key_file=$keys/$1.pub \
      server_public_key_file=$keys/cluster.pub authorized_keys_file=$keys/authorized_keys; do
      echo "comm.$c.security.$kv"
    done
  done
}
mapfile -t cluster_keys < <(security cluster)
mapfile -t rogue_keys < <(security rogue)
common=(-c configs/quickstart.yaml cluster.learners=2 cluster.transport=tcp 'cluster.host="*"'
        cluster.spawn_actors=false train.actors=2 train.eval_every=0
        train.checkpoint_every=0 run.threads=1 run.log_level=info data.test=[]
        cluster.collect_timeout_s=120
        actor.queries_per_batch=2 "${cluster_keys[@]}")

# The ranks land where the hostfile puts them.
printf '%s1 slots=1\n%s2 slots=1\n' "$name" "$name" > "$work/hostfile.two"
printf '%s1 slots=2\n' "$name" > "$work/hostfile.one"
"$hosts" exec "${name}1" mpirun --hostfile "$work/hostfile.two" -np 2 $MPIRUN_NET "$iranker" roles \
  -c configs/quickstart.yaml cluster.learners=2 > "$work/roles.log" 2>&1 || { cat "$work/roles.log"; exit 1; }
grep -q "${name}1" "$work/roles.log" && grep -q "${name}2" "$work/roles.log" ||
  { cat "$work/roles.log"; echo "FAIL: the learner ranks did not run on ${name}1 and ${name}2"; exit 1; }

# start_job LABEL HOSTFILE ACTOR_HOSTS [overrides...]: learners from HOSTFILE (mpirun started on
# irt1) in the background (pid in $lpid), two actors on ACTOR_HOSTS (comma-separated: actor k on
# the k-th; pids in $apids).
start_job() {
  local out=$work/$1 hostfile=$2 i k ahosts
  IFS=, read -ra ahosts <<< "$3"
  shift 3
  mkdir -p "$out"
  "$hosts" exec "${name}1" mpirun --hostfile "$hostfile" -np 2 $MPIRUN_NET -x OMP_WAIT_POLICY \
    "$iranker" train "${common[@]}" run.dir="$out/run" "$@" >> "$out/learners.log" 2>&1 &
  lpid=$!
  # The rendezvous of these learners (a restart's are written anew: the caller removed the old).
  for ((i = 0; i < 60; ++i)); do [[ -f $out/run/rendezvous.json ]] && break; sleep 1; done
  [[ -f $out/run/rendezvous.json ]] || { cat "$out/learners.log"; echo "FAIL: $1: no rendezvous"; exit 1; }
  apids=()
  for k in 0 1; do
    "$hosts" exec "${ahosts[$((k % ${#ahosts[@]}))]}" "$iranker" actor -c "$out/run/config.yaml" --id $k \
      >> "$out/actor$k.log" 2>&1 &
    apids+=($!)
  done
}
trained_steps() { # RUN_DIR: training steps in its metrics so far
  local n
  n=$(grep -c '"type":"train"' "$1/metrics.jsonl" 2> /dev/null) || true
  echo "${n:-0}"
}

# run_job LABEL HOSTFILE ACTOR_HOST [rogue]: learners from HOSTFILE (mpirun started on irt1), two
# actors on ACTOR_HOST; with `rogue`, a third actor there with an unauthorised key, and the two
# actors are a second mpirun (from irt1, over a hostfile of ACTOR_HOST; ids from the ranks) instead
# of two processes started by hand. 8 steps.
run_job() {
  local out=$work/$1 hostfile=$2 ahost=$3 rogue=${4:-}
  mkdir -p "$out"
  "$hosts" exec "${name}1" mpirun --hostfile "$hostfile" -np 2 $MPIRUN_NET -x OMP_WAIT_POLICY \
    "$iranker" train "${common[@]}" train.steps=8 run.dir="$out/run" > "$out/learners.log" 2>&1 &
  local lpid=$! i k
  for ((i = 0; i < 60; ++i)); do [[ -f $out/run/config.yaml ]] && break; sleep 1; done
  [[ -f $out/run/config.yaml ]] || { cat "$out/learners.log"; echo "FAIL: $1: no run config"; exit 1; }
  local apids=()
  if [[ -n $rogue ]]; then
    printf '%s slots=2\n' "$ahost" > "$work/hostfile.actors"
    "$hosts" exec "${name}1" mpirun --hostfile "$work/hostfile.actors" -np 2 $MPIRUN_NET \
      -x OMP_WAIT_POLICY "$iranker" actor -c "$out/run/config.yaml" > "$out/actors.log" 2>&1 &
    apids=($! $!)
    ln -s actors.log "$out/actor0.log"
    ln -s actors.log "$out/actor1.log"
  else
    for k in 0 1; do
      "$hosts" exec "$ahost" "$iranker" actor -c "$out/run/config.yaml" --id $k > "$out/actor$k.log" 2>&1 &
      apids+=($!)
    done
  fi
  local rpid=
  if [[ -n $rogue ]]; then
    "$hosts" exec "$ahost" "$iranker" actor -c "$out/run/config.yaml" --id 1 \
      cluster.weights_timeout_s=5 "${rogue_keys[@]}" > "$out/rogue.log" 2>&1 &
    rpid=$!
  fi
  wait $lpid || { cat "$out/learners.log"; echo "FAIL: $1: the learners failed"; exit 1; }
  # The actors exit by themselves once the learners completed the run.
  for ((i = 0; i < 60; ++i)); do
    kill -0 "${apids[@]}" 2> /dev/null || break
    sleep 1
  done
  for k in 0 1; do
    if ((k == 0)) || [[ ${apids[1]} != "${apids[0]}" ]]; then
      wait "${apids[$k]}" || { tail -n 20 "$out/actor$k.log"; echo "FAIL: $1: actor $k did not end well"; exit 1; }
    fi
    grep -q "\[$ahost:[-0-9]\] actor $k: learners at tcp://" "$out/actor$k.log" ||
      { cat "$out/actor$k.log"; echo "FAIL: $1: actor $k did not run on $ahost over tcp"; exit 1; }
  done
  if [[ -n $rpid ]]; then
    if wait "$rpid"; then
      cat "$out/rogue.log"
      echo "FAIL: the actor with an unauthorised key completed"
      exit 1
    fi
  fi
}

run_job one-host "$work/hostfile.one" "${name}1"
run_job across "$work/hostfile.two" "${name}3" rogue

# Endpoints other hosts reach: rank 0 on irt1's address, rank 1 on irt2's.
/usr/bin/python3 - "$work/across/run/rendezvous.json" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
assert r["streams"][0].startswith("tcp://10.231.9.11:"), r
assert r["streams"][1].startswith("tcp://10.231.9.12:"), r
assert r["weights"].startswith("tcp://10.231.9.11:"), r
PY
grep -q "refused a .* connection from 10.231.9.13.*key not authorised" "$work/across/learners.log" ||
  { grep -i refus "$work/across/learners.log"; echo "FAIL: the unauthorised actor was not refused"; exit 1; }
cmp "$work/one-host/run/checkpoints/step-00000008/model.safetensors" \
  "$work/across/run/checkpoints/step-00000008/model.safetensors" ||
  { echo "FAIL: the run across hosts ended with other weights than the run on one host"; exit 1; }
echo "across hosts: byte-identical to one host; the unauthorised key was refused"

# A learner host lost: irt2's link is cut after the step-2 checkpoint. Rank 0 times out in its
# next collective, naming the peer's host; the newest checkpoint is complete; the same command
# run again (the link back) resumes from it and ends byte-identical to the uninterrupted run.
lost=(train.checkpoint_every=2 train.keep_checkpoints=2 comm.allreduce.timeout_ms=8000)
start_job lost "$work/hostfile.two" "${name}3" train.steps=200 "${lost[@]}"
run=$work/lost/run
for ((i = 0; i < 600; ++i)); do
  [[ -f $run/checkpoints/step-00000002/trainer_state.json ]] && break
  kill -0 $lpid 2> /dev/null || { cat "$work/lost/learners.log"; echo "FAIL: the job ended early"; exit 1; }
  sleep 0.2
done
"$hosts" link "${name}2" down
t0=$SECONDS
rc=0
# Rank 0 times out, says so and leaves. mpirun then usually exits within seconds, but when its
# abort message to the lost host's daemon goes out before its keepalive declared that daemon gone,
# Open MPI waits for TCP to give up on it (minutes): then only mpirun is left, and it is stopped.
ranks_on_first() { # the iranker train processes on irt1 (rank 0)
  local p
  for p in $(ip netns pids "${name}1"); do
    tr '\0' ' ' < "/proc/$p/cmdline" 2> /dev/null | grep -q "iranker train" && echo "$p"
  done
  return 0
}
for ((i = 0; i < 180; ++i)); do
  kill -0 $lpid 2> /dev/null || break
  [[ -z $(ranks_on_first) ]] && grep -q "did not complete within" "$work/lost/learners.log" && break
  sleep 1
done
[[ -z $(ranks_on_first) ]] || { echo "FAIL: rank 0 still runs 180 s after losing ${name}2"; exit 1; }
if timeout 30 tail --pid=$lpid -f /dev/null; then
  wait $lpid || rc=$?
  echo "lost host: the job exited with $rc after $((SECONDS - t0)) s"
  ((rc != 0)) || { cat "$work/lost/learners.log"; echo "FAIL: losing a learner host must fail the job"; exit 1; }
else
  echo "lost host: rank 0 exited after $((SECONDS - t0 - 30)) s; mpirun lingered (its abort reached for the lost host) and is stopped"
  kill -9 $lpid 2> /dev/null || true
  wait $lpid 2> /dev/null || true
fi
grep -q "did not complete within 8000 ms on rank 0 of 2 (host ${name}1.*the peer is rank 1 on host ${name}2" \
  "$work/lost/learners.log" || { cat "$work/lost/learners.log"; echo "FAIL: no time-out naming ${name}2"; exit 1; }
grep -m1 "did not complete within" "$work/lost/learners.log"
# What still runs of the job (rank 1 behind the cut, the actors) goes; the link comes back.
ip netns pids "${name}2" | xargs -r kill -9
kill -9 "${apids[@]}" 2> /dev/null || true
wait "${apids[@]}" 2> /dev/null || true
"$hosts" link "${name}2" up
last=$(ls -d "$run"/checkpoints/step-* | grep -v '\.tmp' | sort | tail -1)
for f in model.safetensors optimizer.pt trainer_state.json config.json tokenizer.json; do
  [[ -s "$last/$f" ]] || { echo "FAIL: $last/$f missing"; exit 1; }
done
echo "newest checkpoint: $(basename "$last")"
[[ $(basename "$last") < step-00000008 ]] || { echo "FAIL: the run got past step 8 before the cut"; exit 1; }
rm -f "$run/rendezvous.json" # its endpoints are dead (what cluster/slurm/iranker.sbatch does too)
start_job lost "$work/hostfile.two" "${name}3" train.steps=8 "${lost[@]}"
wait $lpid || { cat "$work/lost/learners.log"; echo "FAIL: the resumed run failed"; exit 1; }
for k in 0 1; do wait "${apids[$k]}" || true; done
grep -q "resum" "$work/lost/learners.log" || { cat "$work/lost/learners.log"; echo "FAIL: no resume"; exit 1; }
cmp "$work/one-host/run/checkpoints/step-00000008/model.safetensors" "$run/checkpoints/step-00000008/model.safetensors" ||
  { echo "FAIL: the resumed run ended with other weights than the uninterrupted one"; exit 1; }

echo "lost learner host: the time-out named it; the rerun resumed byte-identically"

# An actor host lost: actor 0 on irt3, actor 1 on irt4. irt3's link is cut after step 2: once a
# step has waited cluster.actor_takeover_s for actor 0 (silent), the learners hand its share to
# actor 1, which rolls it out with actor 0's queries and seed; training goes on. After step 5 the
# link comes back and actor 0 rejoins with the current weights. Every step is trained once and
# the final weights match the uninterrupted run (within float tolerance: a handed-over batch may
# reach another learner rank than the original would have).
start_job actorlost "$work/hostfile.two" "${name}3,${name}4" train.steps=8 cluster.actor_takeover_s=2
run=$work/actorlost/run
for ((i = 0; i < 600; ++i)); do
  (($(trained_steps "$run") >= 2)) && break
  kill -0 $lpid 2> /dev/null || { cat "$work/actorlost/learners.log"; echo "FAIL: the job ended early"; exit 1; }
  sleep 0.2
done
"$hosts" link "${name}3" down
for ((i = 0; i < 600; ++i)); do
  (($(trained_steps "$run") >= 5)) && break
  kill -0 $lpid 2> /dev/null || { cat "$work/actorlost/learners.log"; echo "FAIL: the job ended without actor 0"; exit 1; }
  sleep 0.2
done
(($(trained_steps "$run") >= 5)) || { cat "$work/actorlost/learners.log"; echo "FAIL: no progress without actor 0"; exit 1; }
"$hosts" link "${name}3" up
wait $lpid || { cat "$work/actorlost/learners.log"; echo "FAIL: the run that lost an actor host failed"; exit 1; }
for k in 0 1; do
  wait "${apids[$k]}" || { tail -n 20 "$work/actorlost/actor$k.log"; echo "FAIL: actor $k did not end well"; exit 1; }
done
grep -q "their shares go to live actors" "$work/actorlost/learners.log" ||
  { cat "$work/actorlost/learners.log"; echo "FAIL: no hand-over"; exit 1; }
grep -q "rolling out actor 0's share of step" "$work/actorlost/actor1.log" ||
  { cat "$work/actorlost/actor1.log"; echo "FAIL: actor 1 did not roll out actor 0's share"; exit 1; }
/usr/bin/python3 - "$run/metrics.jsonl" <<'PY'
import json, sys
steps = [json.loads(l)["step"] for l in open(sys.argv[1]) if '"type":"train"' in l]
assert steps == list(range(1, 9)), steps
PY
/usr/bin/python3 "$(dirname "$0")/compare_weights.py" "$work/one-host/run/init/model.safetensors" \
  "$work/one-host/run/checkpoints/step-00000008/model.safetensors" \
  "$run/checkpoints/step-00000008/model.safetensors" 1e-5 "uninterrupted - actor host lost"
echo "lost actor host: its shares went to the other actor; every step trained once; weights match"

echo "ok: learners on ${name}1+${name}2, actors on ${name}3, tcp+CURVE: weights byte-identical to one host; unauthorised key refused; a lost learner host ends the job by time-out naming it, and the rerun resumes byte-identically; a lost actor host's shares go to the other actor"
