#!/usr/bin/env bash
# A real Slurm of three nodes on this one machine, to run cluster/slurm/iranker.sbatch across
# nodes: cluster/hosts.sh makes hosts irs1..irs3 (network namespaces: own address, host name,
# /etc/hosts), slurmctld runs on irs1 and one slurmd on each host (same port, own address), all
# under a configuration in a temporary directory; munged (its socket a file every host sees)
# authenticates them. Then:
#   1. submits the template with `ACTOR_NODES=1 sbatch --nodes=3`: 2 learner ranks on irs1 and irs2
#      (an srun MPI step over PMIx), 2 actors on irs3 (a second srun step), tcp with CURVE;
#   2. checks that the job completed, that the learner ranks and the actors ran on those nodes,
#      that every step was trained once and the final checkpoint and result.json were written;
#   3. submits it again and sends the batch script USR1 after step 2: the learners checkpoint and
#      stop, the job requeues itself and resumes across the nodes to the end (same checks);
#   4. stops the daemons and removes the hosts (also on failure) and the directory (unless KEEP=1).
#
# usage: cluster/slurm/multi-node-test.sh [key=value overrides for the run]
#   IRANKER=path/to/iranker (default build/bin/iranker), STEPS (default 4), TIMEOUT_S (default 600),
#   SIGNAL_TEST=0 to skip step 3. About 4 minutes on 2 cores (Slurm holds a requeued job ~2 min).
#   SKIP_IF_ABSENT=1: exit 77 (skipped) where Slurm is not installed or hosts cannot be made, instead
#   of installing it (CTest cluster.slurm_multi_node runs it so, without step 3).
# Needs root (it installs slurm-wlm and munge when absent, and makes the hosts). Exit 0 on success.
set -euo pipefail
src=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
iranker=${IRANKER:-$src/build/bin/iranker}
steps=${STEPS:-4}
timeout_s=${TIMEOUT_S:-600}
hosts=$src/cluster/hosts.sh
name=irs
[[ -x $iranker ]] || { echo "multi-node-test: $iranker not found: build first (scripts/build.sh)" >&2; exit 1; }
[[ $(id -u) -eq 0 ]] || { echo "multi-node-test: run as root (daemons, network namespaces)" >&2; exit 1; }
if ! command -v slurmctld > /dev/null || ! command -v slurmd > /dev/null || ! command -v munged > /dev/null; then
  if [[ ${SKIP_IF_ABSENT:-0} == 1 ]]; then
    echo "skipped: Slurm is not installed (run cluster/slurm/multi-node-test.sh to install it and test)"
    exit 77
  fi
  echo "multi-node-test: installing slurm-wlm and munge"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends slurm-wlm munge > /dev/null
fi

# Not under /tmp: each node has a /tmp of its own (HOSTS_PRIVATE_TMP), as real nodes do.
work=$(mktemp -d /var/tmp/iranker-slurm-nodes.XXXXXX)
chmod 755 "$work"
mkdir -p "$work"/{state,spool,log,munge,keys}
"$hosts" down "$name" 2> /dev/null || true
if ! dir=$("$hosts" up 3 "$name" 10.231.7 2>&1); then
  echo "multi-node-test: cannot make hosts here: $dir"
  rm -rf "$work"
  [[ ${SKIP_IF_ABSENT:-0} == 1 ]] && exit 77
  exit 1
fi
cpus=$(nproc)
mem_mb=$(( $(awk '/MemTotal/ {print $2}' /proc/meminfo) / 1024 / 3 - 256 ))
export SLURM_CONF=$work/slurm.conf
{
  cat <<EOF
# Three-node Slurm on network namespaces for iranker (cluster/slurm/multi-node-test.sh).
ClusterName=iranker-nodes
SlurmctldHost=${name}1(10.231.7.11)
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
AuthInfo=socket=$work/munge/munge.socket
CredType=cred/munge
StateSaveLocation=$work/state
SlurmdSpoolDir=$work/spool/%n
SlurmctldPidFile=$work/slurmctld.pid
SlurmdPidFile=$work/slurmd.%n.pid
SlurmctldLogFile=$work/log/slurmctld.log
SlurmdLogFile=$work/log/slurmd.%n.log
SlurmctldPort=16817
SlurmdPort=16818
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
SelectType=select/cons_tres
SelectTypeParameters=CR_CPU
MpiDefault=none
ReturnToService=2
SchedulerType=sched/backfill
EOF
  for k in 1 2 3; do
    echo "NodeName=$name$k NodeAddr=10.231.7.1$k CPUs=$cpus RealMemory=$mem_mb State=UNKNOWN"
  done
  echo "PartitionName=nodes Nodes=${name}[1-3] Default=YES MaxTime=INFINITE State=UP OverSubscribe=FORCE:8"
} > "$SLURM_CONF"
for k in 1 2 3; do mkdir -p "$work/spool/$name$k"; done

chown munge:munge "$work/munge"
on1() { "$hosts" exec "${name}1" "$@"; }
cleanup() {
  local rc=$?
  on1 scancel --full --quiet --partition=nodes 2> /dev/null && sleep 2 || true
  for f in "$work"/slurmd.*.pid "$work/slurmctld.pid" "$work/munge/munged.pid"; do
    [[ -f $f ]] && kill "$(cat "$f")" 2> /dev/null || true
  done
  sleep 1
  "$hosts" down "$name" || true
  if [[ $rc -ne 0 ]]; then
    echo "multi-node-test: FAILED (rc $rc); daemon logs:" >&2
    tail -n 20 "$work"/log/*.log "$work"/munge/munged.log >&2 2> /dev/null || true
  fi
  if [[ ${KEEP:-0} == 1 || $rc -ne 0 ]]; then echo "multi-node-test: files kept in $work" >&2; else rm -rf "$work"; fi
  exit $rc
}
trap cleanup EXIT
runuser -u munge -- munged --socket="$work/munge/munge.socket" --pid-file="$work/munge/munged.pid" \
  --log-file="$work/munge/munged.log" --seed-file="$work/munge/munged.seed"
on1 slurmctld -c -f "$SLURM_CONF"
# The checkout and the build are the nodes' shared file system, wherever they lie (a clone in
# /tmp too).
shared="$src:$(dirname "$(readlink -f "$iranker")")"
for k in 1 2 3; do HOSTS_PRIVATE_TMP=1 HOSTS_SHARED=$shared "$hosts" exec "$name$k" slurmd -f "$SLURM_CONF" -N "$name$k"; done
for _ in $(seq 60); do
  [[ $(on1 sinfo -h -N -o '%T' 2> /dev/null | grep -cE '^(idle|mixed)') -eq 3 ]] && break
  sleep 1
done
[[ $(on1 sinfo -h -N -o '%T' | grep -cE '^(idle|mixed)') -eq 3 ]] ||
  { echo "multi-node-test: the nodes did not come up" >&2; on1 sinfo -N >&2; exit 1; }
echo "multi-node-test: Slurm up ($(on1 sinfo -h -o '%D nodes, %c CPUs each, partition %P')); submitting"

# One key pair for the job, on the shared file system (what the paper configs expect).
"$iranker" keygen --name cluster --dir "$work/keys" --authorize "$work/keys/authorized_keys" > /dev/null
curve=()
for c in stream weights; do
  for kv in curve=true secret_key_file=$work/keys/cluster.key public_key_file=$work/keys/cluster.pub \
    server_public_key_file=$work/keys/cluster.pub authorized_keys_file=$work/keys/authorized_keys; do
    curve+=("comm.$c.security.$kv")
  done
done
cd "$src"
submit() { # RUN_DIR STEPS: submits the template across the nodes; prints the job id
  on1 env ACTOR_NODES=1 LEARNERS=2 ACTORS=2 IRANKER="$iranker" SLURM_CONF="$SLURM_CONF" \
    sbatch --parsable --nodes=3 --chdir="$src" --output="$work/job-%j.out" --time=30 \
    cluster/slurm/iranker.sbatch configs/quickstart.yaml run.dir="$1" train.steps="$2" \
    train.eval_every=0 data.test=[data/quickstart/test.jsonl] run.log_level=info run.threads=1 \
    "${curve[@]}" "${overrides[@]}"
}
wait_done() { # JOB: waits for it to end, shows its output, fails unless it COMPLETED
  local deadline=$(( SECONDS + timeout_s )) state=""
  while (( SECONDS < deadline )); do
    state=$(on1 scontrol show job "$1" 2> /dev/null | sed -n 's/.*JobState=\([A-Z_]*\).*/\1/p')
    [[ $state == COMPLETED || $state == FAILED || $state == CANCELLED || $state == TIMEOUT || $state == NODE_FAIL ]] && break
    sleep 2
  done
  echo "multi-node-test: job $1: ${state:-unknown}; its output:"
  sed 's/^/  | /' "$work/job-$1.out" | grep -v "\] \[info\] .*actor [0-9]: policy v" || true
  [[ $state == COMPLETED ]] || { echo "multi-node-test: job $1 did not complete" >&2; exit 1; }
}
check_run() { # JOB RUN_DIR STEPS: where the processes ran; every step trained once; the final checkpoint
  local out=$work/job-$1.out run_dir=$2 steps=$3 k final
  grep -q "\[${name}1:0\]" "$out" || { echo "multi-node-test: learner rank 0 not on ${name}1" >&2; exit 1; }
  # Rank 1 says little at info level: its stream endpoint, bound on its host's address, shows where.
  grep -q '"tcp://10.231.7.12:' "$run_dir/rendezvous.json" ||
    { cat "$run_dir/rendezvous.json"; echo "multi-node-test: learner rank 1 not on ${name}2" >&2; exit 1; }
  for k in 0 1; do
    grep -q "\[${name}3:[-0-9]*\] actor $k: learners at tcp://10.231.7.11:" "$out" ||
      { echo "multi-node-test: actor $k not on ${name}3 over tcp" >&2; exit 1; }
  done
  final=$(printf '%s/checkpoints/step-%08d' "$run_dir" "$steps")
  [[ -f $final/model.safetensors && -f $run_dir/result.json ]] ||
    { echo "multi-node-test: no final checkpoint or result.json in $run_dir" >&2; exit 1; }
  /usr/bin/python3 - "$run_dir/metrics.jsonl" "$steps" <<'PY'
import json, sys
steps = [json.loads(l)["step"] for l in open(sys.argv[1]) if '"type":"train"' in l]
assert sorted(steps) == list(range(1, int(sys.argv[2]) + 1)), "steps trained: %s" % steps
PY
  echo "multi-node-test: $run_dir: learners on ${name}1 and ${name}2, actors on ${name}3, tcp+CURVE; $steps steps, each trained once"
}
overrides=("$@")

job=$(submit "$work/run" "$steps")
echo "multi-node-test: job $job"
wait_done "$job"
check_run "$job" "$work/run" "$steps"

if [[ ${SIGNAL_TEST:-1} == 1 ]]; then
  # USR1 to the batch script mid-run (what --signal=B:USR1@300 sends before the time limit): the
  # learners checkpoint and stop, the job requeues itself and resumes across the nodes.
  long=$(( steps * 4 ))
  job=$(submit "$work/run-signal" "$long")
  echo "multi-node-test: job $job ($long steps); USR1 to its batch script after step 2"
  deadline=$(( SECONDS + timeout_s ))
  until [[ -f $work/run-signal/metrics.jsonl ]] && (( $(grep -c '"type":"train"' "$work/run-signal/metrics.jsonl") >= 2 )); do
    (( SECONDS < deadline )) || { echo "multi-node-test: job $job made no progress" >&2; exit 1; }
    sleep 1
  done
  on1 scancel --batch --signal=USR1 "$job"
  wait_done "$job"
  grep -q "requeueing to resume" "$work/job-$job.out" || { echo "multi-node-test: the job was not requeued" >&2; exit 1; }
  grep -q "resuming from" "$work/job-$job.out" || { echo "multi-node-test: the requeued job did not resume" >&2; exit 1; }
  check_run "$job" "$work/run-signal" "$long"
fi
echo "multi-node-test: ok (Slurm $(slurmctld -V | awk '{print $2}'), 3 nodes)"
