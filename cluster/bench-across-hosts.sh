#!/usr/bin/env bash
# The transfer benchmarks across two hosts: makes hosts irx1 and irx2 (cluster/hosts.sh, subnet
# 10.231.11), optionally shapes the link between them with tc netem (both directions), runs
# `iranker bench stream` (learner end on irx1, actor end on irx2) and `iranker bench weights`
# (publisher on irx1, subscribers on irx2), each against bare ZeroMQ over the same link in the same
# process, prints their JSON lines, and removes the hosts (also on failure). Needs root.
#
# usage: cluster/bench-across-hosts.sh [--quick] [NETEM ARGS...]
#   e.g.  cluster/bench-across-hosts.sh delay 0.5ms rate 10gbit
#   IRANKER=path/to/iranker (default build/bin/iranker); STREAM_PARAMS / WEIGHTS_PARAMS: extra
#   `-p NAME=VALUE` arguments for each bench (default WEIGHTS_PARAMS: -p actors=1,2).
#   SKIP_IF_ABSENT=1: exit 77 where hosts cannot be made (CTest).
# A kernel without sch_netem (gVisor, for one) cannot shape the link: with NETEM ARGS the script
# then stops with that reason; without them it measures the bare veth link.
set -euo pipefail
src=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
iranker=${IRANKER:-$src/build/bin/iranker}
hosts=$src/cluster/hosts.sh
name=irx
quick=()
if [[ ${1:-} == --quick ]]; then
  quick=(--quick --repeats 1)
  shift
fi
[[ -x $iranker ]] || { echo "bench-across-hosts: $iranker not found: build first (scripts/build.sh)" >&2; exit 1; }

"$hosts" down "$name" 2> /dev/null || true
if ! out=$("$hosts" up 2 "$name" 10.231.11 2>&1); then
  echo "bench-across-hosts: cannot make hosts here: $out"
  [[ ${SKIP_IF_ABSENT:-0} == 1 ]] && exit 77
  exit 1
fi
trap '"$hosts" down "$name" 2> /dev/null || true' EXIT
if (($# > 0)); then
  "$hosts" netem "${name}1" "$@"
  "$hosts" netem "${name}2" "$@"
  echo "bench-across-hosts: link shaped with netem $* (each direction)"
fi
sides=(-p "netns=${name}1,${name}2" -p host=10.231.11.11)
# shellcheck disable=SC2086 # the params are word lists on purpose
"$iranker" bench stream --json "${quick[@]}" "${sides[@]}" ${STREAM_PARAMS:-} | tail -1
# shellcheck disable=SC2086
"$iranker" bench weights --json "${quick[@]}" "${sides[@]}" ${WEIGHTS_PARAMS:--p actors=1,2} | tail -1
