#!/usr/bin/env bash
# A real Slurm on this one machine, to test cluster/slurm/iranker.sbatch end to end:
#   1. installs Debian's slurm-wlm and munge (idempotent; needs root, like scripts/setup.sh),
#   2. writes a one-node slurm.conf into a temporary directory (this host, all its cores),
#   3. starts munged, slurmctld and slurmd, and runs `srun --mpi=pmix -n 2 iranker roles` (README),
#   4. submits the sbatch template with the quickstart config, shortened (1 learner rank as an
#      srun MPI step over PMIx, 2 actors as a second srun step),
#   5. waits for the job, checks that it completed, that the run wrote its final checkpoint and
#      result.json, and that the HDF5 log holds every trajectory the learner received,
#   6. submits it again and sends the batch script USR1 mid-run (what --signal=B:USR1@300 does
#      before the time limit): the learners checkpoint and stop, the script requeues the job, the
#      job starts again, resumes from the checkpoint and completes; checks the same results,
#   7. stops the daemons (also on failure) and removes the temporary directory (unless KEEP=1).
#
# usage: cluster/slurm/local-test.sh [key=value overrides for the run]
#   IRANKER=path/to/iranker (default build/bin/iranker), STEPS (default 6), TIMEOUT_S (default 900),
#   SIGNAL_TEST=0 to skip step 6.
# Exit status 0 when the jobs completed and their results check out. ~3-5 minutes on 2 cores.
set -euo pipefail
src=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
iranker=${IRANKER:-$src/build/bin/iranker}
steps=${STEPS:-6}
timeout_s=${TIMEOUT_S:-900}
[[ -x $iranker ]] || { echo "local-test: $iranker not found: build first (scripts/build.sh)" >&2; exit 1; }
[[ $(id -u) -eq 0 ]] || { echo "local-test: run as root (it installs and starts the Slurm daemons)" >&2; exit 1; }

if ! command -v slurmctld > /dev/null || ! command -v slurmd > /dev/null || ! command -v munged > /dev/null; then
  echo "local-test: installing slurm-wlm and munge"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends slurm-wlm munge > /dev/null
fi
if pgrep -x slurmctld > /dev/null || pgrep -x slurmd > /dev/null; then
  echo "local-test: a slurmctld or slurmd already runs on this host; stop it first" >&2
  exit 1
fi

work=$(mktemp -d /tmp/iranker-slurm.XXXXXX)
host=$(hostname -s)
cpus=$(nproc)
mem_mb=$(( $(awk '/MemTotal/ {print $2}' /proc/meminfo) / 1024 - 512 ))
mkdir -p "$work"/{state,spool,log,munge}
chmod 755 "$work"
export SLURM_CONF=$work/slurm.conf
cat > "$SLURM_CONF" <<EOF
# One-node Slurm for iranker's local test (cluster/slurm/local-test.sh).
ClusterName=iranker-local
SlurmctldHost=$host
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
AuthInfo=socket=$work/munge/munge.socket
CredType=cred/munge
StateSaveLocation=$work/state
SlurmdSpoolDir=$work/spool
SlurmctldPidFile=$work/slurmctld.pid
SlurmdPidFile=$work/slurmd.pid
SlurmctldLogFile=$work/log/slurmctld.log
SlurmdLogFile=$work/log/slurmd.log
SlurmctldPort=${SLURMCTLD_PORT:-16817}
SlurmdPort=${SLURMD_PORT:-16818}
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
SelectType=select/cons_tres
SelectTypeParameters=CR_CPU
MpiDefault=none
ReturnToService=2
SchedulerType=sched/backfill
NodeName=$host CPUs=$cpus RealMemory=$mem_mb State=UNKNOWN
PartitionName=local Nodes=$host Default=YES MaxTime=INFINITE State=UP OverSubscribe=FORCE:8
EOF

# munged with its own socket, so an installed munge service is left alone.
munge_socket=$work/munge/munge.socket
chown munge:munge "$work/munge"
cleanup() {
  local rc=$?
  scancel --full --quiet --partition=local 2> /dev/null && sleep 2 || true
  [[ -f $work/slurmd.pid ]] && kill "$(cat "$work/slurmd.pid")" 2> /dev/null || true
  [[ -f $work/slurmctld.pid ]] && kill "$(cat "$work/slurmctld.pid")" 2> /dev/null || true
  [[ -f $work/munge/munged.pid ]] && kill "$(cat "$work/munge/munged.pid")" 2> /dev/null || true
  sleep 1
  if [[ $rc -ne 0 ]]; then
    echo "local-test: FAILED (rc $rc); daemon logs:" >&2
    tail -n 30 "$work"/log/*.log "$work"/munge/munged.log >&2 2> /dev/null || true
  fi
  if [[ ${KEEP:-0} == 1 || $rc -ne 0 ]]; then echo "local-test: files kept in $work" >&2; else rm -rf "$work"; fi
  exit $rc
}
trap cleanup EXIT
runuser -u munge -- munged --socket="$munge_socket" --pid-file="$work/munge/munged.pid" \
  --log-file="$work/munge/munged.log" --seed-file="$work/munge/munged.seed"

slurmctld -c -f "$SLURM_CONF"
slurmd -f "$SLURM_CONF"
for _ in $(seq 60); do
  sinfo -h -o '%T' 2> /dev/null | grep -qE '^(idle|mixed)' && break
  sleep 1
done
sinfo -h -o '%T' | grep -qE '^(idle|mixed)' || { echo "local-test: the node did not come up" >&2; sinfo >&2; exit 1; }
echo "local-test: Slurm up ($(sinfo -h -o '%D node, %c CPUs, partition %P')); submitting"

cd "$src"
submit() {  # run_dir: submits the sbatch template on the shortened quickstart; prints the job id
  LEARNERS=1 ACTORS=2 IRANKER=$iranker sbatch --parsable --chdir="$src" --output="$work/job-%j.out" \
    --time=30 cluster/slurm/iranker.sbatch configs/quickstart.yaml run.dir="$1" train.steps="$steps" \
    train.eval_every=0 data.test=[data/quickstart/test.jsonl] cluster.host=127.0.0.1 run.log_level=info \
    "${overrides[@]}"
}
job_state() { scontrol show job "$1" 2> /dev/null | sed -n 's/.*JobState=\([A-Z_]*\).*/\1/p'; }
wait_done() {  # job: waits until it ends; prints its output; fails unless COMPLETED
  local deadline=$(( SECONDS + timeout_s )) state=""
  while (( SECONDS < deadline )); do
    state=$(job_state "$1")
    [[ $state == COMPLETED || $state == FAILED || $state == CANCELLED || $state == TIMEOUT || $state == NODE_FAIL ]] && break
    sleep 2
  done
  echo "local-test: job $1: ${state:-unknown}; its output:"
  sed 's/^/  | /' "$work/job-$1.out" || true
  [[ $state == COMPLETED ]] || { echo "local-test: job $1 did not complete" >&2; exit 1; }
}
check_run() {  # run_dir: final checkpoint, result.json, every received trajectory in the HDF5 logs
  local run_dir=$1 final logged received
  final=$(printf '%s/checkpoints/step-%08d' "$run_dir" "$steps")
  [[ -f $final/model.safetensors && -f $final/trainer_state.json ]] || { echo "local-test: no final checkpoint $final" >&2; exit 1; }
  [[ -f $run_dir/result.json ]] || { echo "local-test: no result.json in $run_dir" >&2; exit 1; }
  logged=$("$iranker" inspect "$run_dir" --json | /usr/bin/python3 -c 'import json,sys; print(json.load(sys.stdin)["steps"])')
  received=$(/usr/bin/python3 -c '
import json,sys
n, steps = 0, set()
for line in open(sys.argv[1]):
    r = json.loads(line)
    if r.get("type") == "train":
        assert r["step"] not in steps, "step %d trained twice" % r["step"]
        steps.add(r["step"]); n += int(r["trajectories"])
assert steps == set(range(1, int(sys.argv[2]) + 1)), "steps trained: %s" % sorted(steps)
print(n)' "$run_dir/metrics.jsonl" "$steps")
  [[ $logged -eq $received && $logged -gt 0 ]] || { echo "local-test: HDF5 logs hold $logged steps, learners received $received" >&2; exit 1; }
  echo "local-test: $run_dir: $steps steps, each trained once, final checkpoint, $logged trajectories received and logged"
}
overrides=("$@")

# README's Slurm step 3: each rank of an srun MPI step learns its role from the launcher.
roles=$(srun --mpi=pmix -n 2 "$iranker" roles -c configs/quickstart.yaml cluster.learners=2)
echo "$roles" | sed 's/^/  | /'
for r in 0 1; do
  grep -q "\"launcher\":\"slurm\",\"learner_rank\":$r,.*\"role\":\"learner\"" <<< "$roles" \
    || { echo "local-test: srun -n 2 iranker roles: no learner rank $r from srun" >&2; exit 1; }
done

job=$(submit "$work/run")
echo "local-test: job $job submitted"
wait_done "$job"
check_run "$work/run"

if [[ ${SIGNAL_TEST:-1} == 1 ]]; then
  job=$(submit "$work/run-signal")
  echo "local-test: job $job submitted; USR1 to its batch script after step 2"
  deadline=$(( SECONDS + timeout_s ))
  until [[ -f $work/run-signal/metrics.jsonl ]] && (( $(grep -c '"type":"train"' "$work/run-signal/metrics.jsonl") >= 2 )); do
    (( SECONDS < deadline )) || { echo "local-test: job $job made no progress" >&2; exit 1; }
    sleep 1
  done
  scancel --batch --signal=USR1 "$job"
  wait_done "$job"
  grep -q "requeueing to resume" "$work/job-$job.out" || { echo "local-test: the job was not requeued" >&2; exit 1; }
  grep -q "resuming from" "$work/job-$job.out" || { echo "local-test: the requeued job did not resume" >&2; exit 1; }
  check_run "$work/run-signal"
fi
echo "local-test: ok (Slurm $(slurmctld -V | awk '{print $2}'))"
