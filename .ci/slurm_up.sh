#!/usr/bin/env bash
# A real single-node SLURM (Debian's slurmctld + slurmd 22.05 with munge) on this machine, without systemd, for
# the tests of `run_folds.py --launcher slurm` (tests/test_slurm.py). Run as root; idempotent: when the cluster is
# up with this configuration it returns at once. About 10 s from nothing (apt-get install included).
#
#   SLURM_CI_DIR   state, spool, pid and log folder   (default /var/tmp/slurm-ci)
#   SLURM_CI_PART  partition name                     (default debug)
#   SLURM_CI_WAIT  seconds to wait for the node       (default 120)
#
# No accounting (slurmdbd): run_folds.py reads job states with squeue, never sacct.
set -euo pipefail

DIR=${SLURM_CI_DIR:-/var/tmp/slurm-ci}
PART=${SLURM_CI_PART:-debug}
WAIT=${SLURM_CI_WAIT:-120}
CONF=/etc/slurm/slurm.conf
NODE=$(hostname -s)
log() { printf '[slurm_up %3ss] %s\n' "$SECONDS" "$*"; }

if [ "$(id -u)" != 0 ]; then echo "slurm_up.sh must run as root" >&2; exit 1; fi
node_state() { sinfo -h -N -n "$NODE" -o '%t' 2>/dev/null | head -1; }
is_up() { case "$(node_state)" in idle|mix|alloc) return 0 ;; esac; return 1; }
alive() { [ -f "$1" ] && kill -0 "$(cat "$1")" 2>/dev/null; }

# ---- the configuration -------------------------------------------------------------------------------------------
CPUS=$(nproc)
MEM_MB=$(awk '/MemTotal/ {printf "%d", $2/1024*0.9}' /proc/meminfo)   # slurmd must see at least this much
NEWCONF=$(mktemp)
cat > "$NEWCONF" <<CONFEOF
# Single-node SLURM for CI (written by .ci/slurm_up.sh)
ClusterName=ci
SlurmctldHost=${NODE}(127.0.0.1)
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CryptoType=crypto/munge
MpiDefault=none
# nothing here needs cgroups or systemd
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/none
SelectType=select/cons_tres
SelectTypeParameters=CR_CPU
ReturnToService=2
SlurmdParameters=config_overrides
StateSaveLocation=${DIR}/ctld
SlurmdSpoolDir=${DIR}/spool
SlurmctldPidFile=${DIR}/run/slurmctld.pid
SlurmdPidFile=${DIR}/run/slurmd.pid
SlurmctldLogFile=${DIR}/log/slurmctld.log
SlurmdLogFile=${DIR}/log/slurmd.log
SlurmctldDebug=info
SlurmdDebug=info
SlurmctldPort=6817
SlurmdPort=6818
MailProg=/bin/true
SchedulerType=sched/backfill
SchedulerParameters=sched_interval=5,bf_interval=5
# a job whose dependency can never be met is cancelled (default: pending forever)
DependencyParameters=kill_invalid_depend
# a requeued job may start again after 10 s (default 120)
AuthInfo=cred_expire=10
KillWait=5
MinJobAge=600
InactiveLimit=0
SlurmdTimeout=60
MessageTimeout=10
JobRequeue=1
# an impossible request fails at sbatch instead of pending forever
EnforcePartLimits=ALL
NodeName=${NODE} NodeAddr=127.0.0.1 CPUs=${CPUS} RealMemory=${MEM_MB} State=UNKNOWN
PartitionName=${PART} Nodes=${NODE} Default=YES MaxTime=INFINITE State=UP OverSubscribe=NO
CONFEOF
# (sinfo is asked only when slurmctld runs: without it, it waits MessageTimeout seconds)
if alive "$DIR/run/slurmctld.pid" && cmp -s "$NEWCONF" "$CONF" && is_up; then
  rm -f "$NEWCONF"; log "SLURM already up (node $NODE: $(node_state))"; exit 0
fi

# ---- packages ------------------------------------------------------------------------------------------------------
PKGS="slurmd slurmctld slurm-client munge"
missing=""
for p in $PKGS; do dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || missing="$missing $p"; done
if [ -n "$missing" ]; then
  log "apt-get install:$missing"
  created_policy=0
  if [ ! -e /usr/sbin/policy-rc.d ]; then  # the packages' scripts must not try to start daemons (no init here)
    printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d; chmod +x /usr/sbin/policy-rc.d; created_policy=1
  fi
  export DEBIAN_FRONTEND=noninteractive
  # shellcheck disable=SC2086
  if ! apt-get install -y -q --no-install-recommends $missing >/tmp/slurm_up_apt.log 2>&1; then
    apt-get update -q >>/tmp/slurm_up_apt.log 2>&1
    # shellcheck disable=SC2086
    apt-get install -y -q --no-install-recommends $missing >>/tmp/slurm_up_apt.log 2>&1 \
      || { [ $created_policy = 1 ] && rm -f /usr/sbin/policy-rc.d; tail -20 /tmp/slurm_up_apt.log; exit 1; }
  fi
  [ $created_policy = 1 ] && rm -f /usr/sbin/policy-rc.d
fi

# ---- munge ---------------------------------------------------------------------------------------------------------
mkdir -p /etc/munge /var/lib/munge /var/log/munge /run/munge
if [ ! -s /etc/munge/munge.key ]; then
  if command -v mungekey >/dev/null; then mungekey --create --force --keyfile=/etc/munge/munge.key
  else dd if=/dev/urandom bs=1 count=1024 of=/etc/munge/munge.key 2>/dev/null; fi
fi
chown -R munge:munge /etc/munge /var/lib/munge /var/log/munge /run/munge
chmod 0700 /etc/munge /var/lib/munge /var/log/munge; chmod 0755 /run/munge; chmod 0400 /etc/munge/munge.key
if ! munge -n 2>/dev/null | unmunge >/dev/null 2>&1; then
  rm -f /run/munge/munged.pid /run/munge/munge.socket.2 /run/munge/munge.socket.2.lock
  runuser -u munge -- /usr/sbin/munged --num-threads=2
  for _ in $(seq 50); do munge -n 2>/dev/null | unmunge >/dev/null 2>&1 && break; sleep 0.1; done
  munge -n | unmunge >/dev/null || { echo "munged did not come up" >&2; exit 1; }
  log "munged started"
fi

# ---- daemons (restarted when the configuration changed) -----------------------------------------------------------
mkdir -p "$DIR"/{ctld,spool,log,run} /etc/slurm
if ! cmp -s "$NEWCONF" "$CONF"; then
  install -m 0644 "$NEWCONF" "$CONF"
  for pf in "$DIR/run/slurmd.pid" "$DIR/run/slurmctld.pid"; do
    [ -f "$pf" ] || continue
    pid=$(cat "$pf"); kill "$pid" 2>/dev/null || continue
    for _ in $(seq 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  done
fi
rm -f "$NEWCONF"
alive "$DIR/run/slurmctld.pid" || { slurmctld && log "slurmctld started"; }
for _ in $(seq 100); do scontrol ping 2>/dev/null | grep -q UP && break; sleep 0.2; done
alive "$DIR/run/slurmd.pid" || { slurmd -N "$NODE" && log "slurmd started"; }

st=""
for _ in $(seq $((WAIT * 2))); do
  st=$(node_state || true)
  case "$st" in
    idle|mix|alloc) break ;;
    down*|drain*|drng*|fail*) scontrol update nodename="$NODE" state=resume 2>/dev/null || true ;;
  esac
  sleep 0.5
done
if ! is_up; then
  echo "node $NODE not usable after ${WAIT} s (state '$st'); logs in $DIR/log" >&2
  tail -20 "$DIR"/log/*.log >&2 || true
  exit 1
fi
log "SLURM up: partition $PART, node $NODE $st"
