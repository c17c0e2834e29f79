#!/usr/bin/env bash
# cluster/hosts.sh — hosts of your own on one machine: Linux network namespaces on a bridge, each
# with its own address, host name and /etc/hosts view, that mpirun (through a hostfile and an rsh
# agent that enters the namespace instead of ssh) treats as separate nodes. For testing multi-host
# runs where no second machine can be reached. Needs root.
#
#   cluster/hosts.sh up N [NAME [SUBNET]]   make hosts NAME1..NAMEN (default NAME=irh,
#                                          SUBNET=10.231.0: NAMEk is SUBNET.(10+k)/24, the bridge
#                                          SUBNET.1); prints the state directory
#   cluster/hosts.sh down [NAME]            kill what runs in them and remove everything `up` made
#   cluster/hosts.sh exec HOST CMD...       run CMD as on HOST (its network, host name, /etc/hosts;
#                                          HOSTS_PRIVATE_TMP=1: also a /tmp of its own, in
#                                          which the machine's paths named in HOSTS_SHARED
#                                          (colon-separated) stay visible)
#   cluster/hosts.sh link HOST down|up      cut or restore HOST's link to the others
#   cluster/hosts.sh netem HOST [ARGS...]   shape HOST's link with tc netem (no ARGS: remove), e.g.
#                                          `netem irh2 delay 0.5ms rate 10gbit loss 1%`
#   cluster/hosts.sh rsh [-opts] HOST CMD   the rsh agent mpirun calls (--mca plm_rsh_agent)
#
# `up` writes /run/iranker-hosts/NAME/: `hostfile` (one slot per host; edit the slots or pass
# your own), `rsh` (the agent), `hosts` (names and addresses) and `env` (sourceable: HOSTS_DIR,
# HOSTS, HOSTFILE, RSH, MPIRUN_NET: the mca options that keep Open MPI on the hosts' interface).
# A run of mpirun across them, started on the first host:
#   d=$(cluster/hosts.sh up 3) && source $d/env
#   cluster/hosts.sh exec irh1 mpirun --hostfile $HOSTFILE -np 2 $MPIRUN_NET iranker train ...
#   cluster/hosts.sh down
# Traffic stays on the bridge's own subnet and loopback; nothing is routed off the machine.
set -euo pipefail
self=$(readlink -f "${BASH_SOURCE[0]}")
state_root=${IRANKER_HOSTS_STATE:-/run/iranker-hosts}

die() { echo "hosts.sh: $*" >&2; exit 1; }
need_root() { [[ $(id -u) -eq 0 ]] || die "needs root (network namespaces, veth pairs, a bridge)"; }
check_name() { [[ $1 =~ ^[a-z][a-z0-9]{0,7}$ ]] || die "name '$1': 1-8 lower-case letters/digits, a letter first"; }
bridge_of() { echo "irbr-$1"; }

up() {
  local n=${1:?usage: hosts.sh up N [NAME [SUBNET]]} name=${2:-irh} subnet=${3:-10.231.0}
  need_root
  check_name "$name"
  [[ $n =~ ^[0-9]+$ ]] && ((n >= 1 && n <= 200)) || die "N must be 1..200, not '$n'"
  [[ $subnet =~ ^[0-9]+\.[0-9]+\.[0-9]+$ ]] || die "SUBNET must be three octets (A.B.C), not '$subnet'"
  local dir=$state_root/$name br
  br=$(bridge_of "$name")
  [[ ! -e $dir ]] || die "hosts '$name' exist already ($dir): run 'hosts.sh down $name' first"
  ip link show "$br" > /dev/null 2>&1 && die "bridge $br exists already: run 'hosts.sh down $name'"
  mkdir -p "$dir"
  # Anything that fails from here undoes what was made.
  trap 'echo "hosts.sh: setting up failed; undoing" >&2; down "$name" > /dev/null 2>&1 || true' ERR
  echo "$subnet" > "$dir/subnet"
  ip link add "$br" type bridge
  ip addr add "$subnet.1/24" dev "$br"
  ip link set "$br" up
  local hosts_file=$dir/hosts k h
  : > "$hosts_file"
  for ((k = 1; k <= n; ++k)); do echo "$subnet.$((10 + k)) $name$k" >> "$hosts_file"; done
  for ((k = 1; k <= n; ++k)); do
    h=$name$k
    ip netns add "$h"
    ip link add "$name-v$k" type veth peer name eth0 netns "$h"
    ip link set "$name-v$k" master "$br"
    ip link set "$name-v$k" up
    ip netns exec "$h" ip addr add "$subnet.$((10 + k))/24" dev eth0
    ip netns exec "$h" ip link set eth0 up
    ip netns exec "$h" ip link set lo up
    # `ip netns exec` shows /etc/netns/HOST/* in place of /etc/*.
    mkdir -p "/etc/netns/$h"
    { echo "127.0.0.1 localhost"; cat "$hosts_file"; } > "/etc/netns/$h/hosts"
    echo "$h" > "/etc/netns/$h/hostname"
  done
  awk '{print $2 " slots=1"}' "$hosts_file" > "$dir/hostfile"
  printf '#!/bin/sh\nexec %q rsh "$@"\n' "$self" > "$dir/rsh"
  chmod +x "$dir/rsh"
  {
    echo "HOSTS_DIR=$dir"
    echo "HOSTS=\"$(awk '{printf "%s%s", sep, $2; sep=" "}' "$hosts_file")\""
    echo "HOSTFILE=$dir/hostfile"
    echo "RSH=$dir/rsh"
    # Open MPI on the hosts' interface; its daemons' links probed every few seconds once idle, so
    # that mpirun notices a host that went away (the default takes 8 minutes).
    echo "MPIRUN_NET=\"--mca plm_rsh_agent $dir/rsh --mca oob_tcp_if_include eth0 --mca btl_tcp_if_include eth0 --mca oob_tcp_keepalive_time 5 --mca oob_tcp_keepalive_intvl 2 --mca oob_tcp_keepalive_probes 3\""
  } > "$dir/env"
  trap - ERR
  echo "$dir"
}

down() {
  local name=${1:-irh} h k
  need_root
  check_name "$name"
  for h in $(ip netns list 2>/dev/null | awk '{print $1}' | grep -E "^$name[0-9]+$" || true); do
    # What still runs there (a killed test's ranks and actors) goes first.
    ip netns pids "$h" 2>/dev/null | xargs -r kill -9 2>/dev/null || true
    ip netns del "$h" 2>/dev/null || true
    rm -rf "/etc/netns/$h"
  done
  for k in $(ip -o link show 2>/dev/null | awk -F': ' '{print $2}' | sed 's/@.*//' | grep -E "^$name-v[0-9]+$" || true); do
    ip link del "$k" 2>/dev/null || true
  done
  ip link del "$(bridge_of "$name")" 2>/dev/null || true
  # --one-file-system: never into a mount (the hosts' /tmp binds live in their own namespaces)
  rm -rf --one-file-system "${state_root:?}/$name"
}

host_exists() { ip netns list 2>/dev/null | awk '{print $1}' | grep -qx "$1" || die "no host '$1' (hosts.sh up first)"; }

# `ip netns exec` mounts a fresh /sys, without the machine's cgroup file systems (slurmd will not
# start without them): the mounts that mirror them, as one shell command line.
# With HOSTS_PRIVATE_TMP=1, the host also gets a /tmp of its own (a node's local disk: Slurm's
# PMIx plugin, for one, makes the same directory names in /tmp on every node of a step).
cgroup_mounts() {
  awk '$2 ~ "^/sys/fs/cgroup" { printf "mkdir -p %s && mount -t %s -o %s %s %s 2>/dev/null; ", $2, $3, $4, $1, $2 }' /proc/self/mounts
  if [[ ${HOSTS_PRIVATE_TMP:-0} == 1 ]]; then
    local tmp=$state_root/${1%%[0-9]*}/tmp/$1 machine=$state_root/${1%%[0-9]*}/machine-tmp/$1 p rel
    mkdir -p "$tmp" "$machine"
    chmod 1777 "$tmp"
    # The machine's /tmp stays reachable under $machine while the host's own is mounted over it,
    # so the paths in HOSTS_SHARED (the checkout, the build: a cluster's shared file system) that
    # lie under /tmp are mounted back at the same place.
    printf 'mount --rbind /tmp %q && mount --bind %q /tmp && ' "$machine" "$tmp"
    local IFS=:
    for p in ${HOSTS_SHARED:-}; do
      p=$(readlink -m "$p")
      [[ $p == /tmp/* ]] || continue
      rel=${p#/tmp/}
      printf 'mkdir -p %q && mount --bind %q %q && ' "/tmp/$rel" "$machine/$rel" "/tmp/$rel"
    done
  fi
}

# Runs CMD (one shell command line) on HOST under its own host name.
run_on() {
  local h=$1
  shift
  host_exists "$h"
  exec ip netns exec "$h" unshare --uts /bin/sh -c "$(cgroup_mounts "$h")"'hostname "$0" && exec /bin/sh -c "$1"' "$h" "$*"
}

cmd=${1:-}
shift || true
case "$cmd" in
  up) up "$@" ;;
  down) down "$@" ;;
  exec)
    (($# >= 2)) || die "usage: hosts.sh exec HOST CMD..."
    h=$1
    shift
    host_exists "$h"
    # Arguments kept as they are (no shell re-parsing): the host name is set, then CMD runs.
    exec ip netns exec "$h" unshare --uts /bin/sh -c "$(cgroup_mounts "$h")"'hostname "$0" && shift && exec "$@"' "$h" -- "$@"
    ;;
  rsh)
    # Open MPI's rsh launcher: [options] HOST COMMAND-LINE (one string or several words).
    while [[ ${1:-} == -* ]]; do shift; done
    (($# >= 2)) || die "rsh: usage: rsh HOST CMD"
    run_on "$@"
    ;;
  link)
    (($# == 2)) || die "usage: hosts.sh link HOST down|up"
    host_exists "$1"
    [[ $2 == down || $2 == up ]] || die "link: 'down' or 'up', not '$2'"
    ip netns exec "$1" ip link set eth0 "$2"
    ;;
  netem)
    (($# >= 1)) || die "usage: hosts.sh netem HOST [netem args]"
    h=$1
    shift
    host_exists "$h"
    ip netns exec "$h" tc qdisc del dev eth0 root 2>/dev/null || true
    if (($#)); then
      err=$(ip netns exec "$h" tc qdisc add dev eth0 root netem "$@" 2>&1) ||
        die "netem $h $*: tc failed: $err${err:+ }(a kernel without sch_netem, e.g. gVisor, cannot shape links)"
    fi
    ;;
  *) die "usage: hosts.sh up N [NAME [SUBNET]] | down [NAME] | exec HOST CMD... | link HOST down|up | netem HOST [ARGS] | rsh HOST CMD" ;;
esac
