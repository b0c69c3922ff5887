#!/usr/bin/env bash
# A one-node Slurm cluster on this machine, for testing the workflow's Slurm profile.
#
#   scripts/local_slurm.sh start    install slurm-wlm and munge if missing, configure, start, smoke-test
#   scripts/local_slurm.sh status   show the daemons and the node; exit 0 only when healthy
#   scripts/local_slurm.sh stop     stop the daemons that `start` started (and nothing else)
#
# Needs root (Debian packages, /etc/slurm, daemons). `start` is idempotent: a healthy
# cluster running on the configuration it would write is left alone.
#
# Exit status: 0 ok; 1 the cluster failed (see the message and /var/log/slurm/);
# 2 usage; 3 it cannot be set up here at all (not root, or the packages cannot be installed).
set -euo pipefail
# Failures inside $(...) stop the script too, instead of leaving a half-written config.
shopt -s inherit_errexit

SLURM_CONF=/etc/slurm/slurm.conf
STATE_DIR=/run/exprbench-slurm
STARTED_FILE="$STATE_DIR/started"   # one daemon name per line, only those this script started
CONF_MARKER="# Written by exprbench scripts/local_slurm.sh"
SPOOL_DIR=/var/spool/slurm
LOG_DIR=/var/log/slurm
MUNGE_KEY=/etc/munge/munge.key
MUNGE_PIDFILE=/run/munge/munged.pid
SLURMCTLD_PIDFILE=/run/slurmctld.pid
SLURMD_PIDFILE=/run/slurmd.pid
# Finished jobs must stay visible to `squeue --states=all` long enough for Snakemake's
# squeue-based status checks (there is no accounting database to ask instead).
MIN_JOB_AGE=600
READY_TIMEOUT_S=60

say() { echo "local_slurm: $*"; }
die() { echo "local_slurm: error: $*" >&2; exit 1; }
# Prerequisites missing rather than a broken cluster: tests skip on this status.
unavailable() { echo "local_slurm: unavailable: $*" >&2; exit 3; }

require_root() {
    if [[ $(id -u) -ne 0 ]]; then
        unavailable "root is required (installs Debian packages, writes /etc/slurm and starts daemons); run it with sudo or as root"
    fi
}

# --- daemons -----------------------------------------------------------------

pidfile_of() {
    case "$1" in
        munged) echo "$MUNGE_PIDFILE" ;;
        slurmctld) echo "$SLURMCTLD_PIDFILE" ;;
        slurmd) echo "$SLURMD_PIDFILE" ;;
    esac
}

# Prints the pid of a running daemon: from its pid file, else any process of that exact name.
daemon_pid() {
    local name=$1 pidfile pid
    pidfile=$(pidfile_of "$name")
    if [[ -s $pidfile ]]; then
        pid=$(<"$pidfile")
        if [[ -r /proc/$pid/comm && $(<"/proc/$pid/comm") == "$name" ]]; then
            echo "$pid"
            return 0
        fi
    fi
    pgrep -x "$name" | head -n 1 || true
}

is_running() { [[ -n $(daemon_pid "$1") ]]; }

# The state file has one "name pid" line per daemon this script started.
started_pid() {
    [[ -f $STARTED_FILE ]] || return 0
    awk -v name="$1" '$1 == name { print $2 }' "$STARTED_FILE"
}

was_started_here() { [[ -n $(started_pid "$1") ]]; }

# Records the daemon's pid once it has written its pid file (the daemons fork).
record_started() {
    local name=$1 pidfile waited=0
    pidfile=$(pidfile_of "$name")
    until [[ -s $pidfile ]]; do
        ((waited < 40)) || die "$name wrote no pid file $pidfile (see $LOG_DIR/ and /var/log/munge/)"
        sleep 0.25
        waited=$((waited + 1))
    done
    forget_started "$name"
    mkdir -p "$STATE_DIR"
    echo "$name $(<"$pidfile")" >>"$STARTED_FILE"
}

forget_started() {
    [[ -f $STARTED_FILE ]] || return 0
    awk -v name="$1" '$1 != name' "$STARTED_FILE" >"$STARTED_FILE.new"
    mv "$STARTED_FILE.new" "$STARTED_FILE"
}

# Stops the process this script started under that name, and only that one.
stop_daemon() {
    local name=$1 pid waited=0
    pid=$(started_pid "$name")
    if [[ -z $pid || ! -r /proc/$pid/comm || $(<"/proc/$pid/comm") != "$name" ]]; then
        say "$name is not running"
        forget_started "$name"
        return 0
    fi
    say "stopping $name (pid $pid)"
    kill "$pid" 2>/dev/null || true
    while [[ -d /proc/$pid ]] && ((waited < 20)); do
        sleep 0.5
        waited=$((waited + 1))
    done
    if [[ -d /proc/$pid ]]; then
        say "$name did not stop within 10 s; sending SIGKILL"
        kill -9 "$pid" 2>/dev/null || true
    fi
    forget_started "$name"
}

# --- installation and configuration ------------------------------------------

install_packages() {
    local missing=()
    command -v slurmctld >/dev/null || missing+=(slurmctld)
    command -v slurmd >/dev/null || missing+=(slurmd)
    command -v sbatch >/dev/null || missing+=(slurm-client)
    command -v munged >/dev/null || missing+=(munge)
    ((${#missing[@]} == 0)) && return 0
    command -v apt-get >/dev/null || unavailable "apt-get not found; install slurm-wlm and munge by hand"
    say "installing slurm-wlm munge (missing: ${missing[*]})"
    # Package scripts must not start the daemons themselves: this script starts them,
    # and `stop` must know which ones it owns.
    local added_policy=0
    if [[ ! -e /usr/sbin/policy-rc.d ]]; then
        printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d
        chmod 755 /usr/sbin/policy-rc.d
        added_policy=1
    fi
    local status=0
    {
        DEBIAN_FRONTEND=noninteractive apt-get update -qq &&
            DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends slurm-wlm munge
    } || status=$?
    ((added_policy)) && rm -f /usr/sbin/policy-rc.d
    ((status == 0)) || unavailable "apt-get could not install slurm-wlm and munge (exit $status)"
}

# The node line from `slurmd -C`, with RealMemory a little below the real total so
# slurmd does not mark the node invalid when the kernel reports a bit less later.
node_line() {
    local host=$1 detected real_mb usable_mb
    detected=$(slurmd -C | grep -m 1 '^NodeName=') || die "slurmd -C printed no NodeName line"
    real_mb=$(sed -n 's/.*RealMemory=\([0-9]*\).*/\1/p' <<<"$detected")
    [[ -n $real_mb ]] || die "no RealMemory in: $detected"
    usable_mb=$((real_mb - (real_mb / 20 > 512 ? real_mb / 20 : 512)))
    sed -e "s/^NodeName=[^ ]*/NodeName=$host NodeAddr=127.0.0.1/" \
        -e "s/RealMemory=[0-9]*/RealMemory=$usable_mb/" <<<"$detected"
}

render_config() {
    local host=$1 node
    node=$(node_line "$host")
    cat <<EOF
$CONF_MARKER: a one-node test cluster.
ClusterName=exprbench
SlurmctldHost=$host(127.0.0.1)
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
StateSaveLocation=$SPOOL_DIR/ctld
SlurmdSpoolDir=$SPOOL_DIR/d
SlurmctldPidFile=$SLURMCTLD_PIDFILE
SlurmdPidFile=$SLURMD_PIDFILE
SlurmctldLogFile=$LOG_DIR/slurmctld.log
SlurmdLogFile=$LOG_DIR/slurmd.log
# Plain process tracking and no task plugin: this must also run where cgroups are not
# delegated (containers, micro-VMs). Limits are therefore not enforced on the node.
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
DefMemPerCPU=1000
SchedulerType=sched/backfill
MpiDefault=none
ReturnToService=2
MinJobAge=$MIN_JOB_AGE
# Every Snakemake start probes `scontrol show config` (the Slurm executor plugin); with
# the daemons stopped the default 10 s timeout makes each start wait about 9 s.
MessageTimeout=5
# No slurmdbd: Snakemake checks job status with squeue.
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/none
$node State=UNKNOWN
PartitionName=debug Nodes=$host Default=YES MaxTime=INFINITE State=UP
EOF
}

config_is_current() { [[ -f $SLURM_CONF ]] && [[ "$(<"$SLURM_CONF")" == "$1" ]]; }

# Replaces the config as a whole; one this script did not write is backed up first.
write_config() {
    local content=$1 backup
    mkdir -p "$(dirname "$SLURM_CONF")"
    if [[ -f $SLURM_CONF ]] && ! grep -qF "$CONF_MARKER" "$SLURM_CONF"; then
        backup="$SLURM_CONF.bak.$(date +%Y%m%d-%H%M%S)"
        cp -p "$SLURM_CONF" "$backup"
        say "backed up the existing $SLURM_CONF to $backup"
    fi
    printf '%s\n' "$content" >"$SLURM_CONF.tmp"
    mv "$SLURM_CONF.tmp" "$SLURM_CONF"
    say "wrote $SLURM_CONF"
}

ensure_munge_key() {
    if [[ ! -s $MUNGE_KEY ]]; then
        say "generating $MUNGE_KEY"
        install -d -o munge -g munge -m 0700 "$(dirname "$MUNGE_KEY")"
        if command -v mungekey >/dev/null; then
            mungekey --create --keyfile="$MUNGE_KEY" --force
        else
            dd if=/dev/urandom of="$MUNGE_KEY" bs=1024 count=1 status=none
        fi
    fi
    chown munge:munge "$MUNGE_KEY"
    chmod 0400 "$MUNGE_KEY"
}

# --- starting ------------------------------------------------------------------

start_munged() {
    if is_running munged; then
        return 0
    fi
    ensure_munge_key
    install -d -o munge -g munge -m 0755 /run/munge
    install -d -o munge -g munge -m 0700 /var/lib/munge /var/log/munge
    say "starting munged"
    rm -f "$MUNGE_PIDFILE"   # a stale one would be taken for the new daemon's
    # munged refuses to run with a key it does not own, so it runs as the munge user.
    runuser -u munge -- /usr/sbin/munged || die "munged did not start (see /var/log/munge/munged.log)"
    record_started munged
}

start_slurm_daemon() {
    local name=$1
    if is_running "$name"; then
        return 0
    fi
    say "starting $name"
    rm -f "$(pidfile_of "$name")"   # a stale one would be taken for the new daemon's
    "/usr/sbin/$name" || die "$name did not start (see $LOG_DIR/$name.log)"
    record_started "$name"
}

wait_for() {
    local what=$1 check=$2 waited=0
    until eval "$check" >/dev/null 2>&1; do
        if ((waited >= READY_TIMEOUT_S * 2)); then
            die "timed out after ${READY_TIMEOUT_S}s waiting for $what (logs: $LOG_DIR/)"
        fi
        sleep 0.5
        waited=$((waited + 1))
    done
}

node_state() { sinfo --noheader --nodes "$1" --format %t 2>/dev/null | head -n 1; }

node_is_usable() {
    case $(node_state "$1") in
        idle | mix | alloc | comp) return 0 ;;
        *) return 1 ;;
    esac
}

# Submits a trivial batch job and waits until squeue reports it COMPLETED, which checks
# sbatch, the node and squeue-based status all at once.
smoke_test_job() {
    local job_id state waited=0
    job_id=$(sbatch --parsable --job-name exprbench-smoke --output /dev/null --time 1 --mem 100 --wrap true) ||
        die "sbatch of a trivial job failed"
    job_id=${job_id%%;*}
    while ((waited < READY_TIMEOUT_S * 2)); do
        state=$(squeue --noheader --states=all --jobs "$job_id" --format %T 2>/dev/null || true)
        case $state in
            COMPLETED)
                say "test job $job_id completed"
                return 0
                ;;
            FAILED | CANCELLED | TIMEOUT | NODE_FAIL | OUT_OF_MEMORY | BOOT_FAIL)
                die "test job $job_id ended as $state (logs: $LOG_DIR/)"
                ;;
        esac
        sleep 0.5
        waited=$((waited + 1))
    done
    die "test job $job_id did not complete within ${READY_TIMEOUT_S}s (state: ${state:-unknown})"
}

healthy() {
    local host=$1
    is_running munged && is_running slurmctld && is_running slurmd &&
        munge -n 2>/dev/null | unmunge >/dev/null 2>&1 &&
        scontrol ping 2>/dev/null | grep -q UP &&
        node_is_usable "$host"
}

cmd_start() {
    require_root
    local host new_config
    host=$(hostname -s)
    install_packages

    new_config=$(render_config "$host")
    if config_is_current "$new_config"; then
        if healthy "$host"; then
            say "cluster already up: node $host is $(node_state "$host") in partition debug"
            return 0
        fi
    else
        # Node and partition changes need a restart, not just `scontrol reconfigure`;
        # daemons this script did not start (another cluster) are never touched.
        local name
        for name in slurmd slurmctld; do
            is_running "$name" || continue
            was_started_here "$name" ||
                die "$name is running but was not started by this script (a cluster configured elsewhere?); leaving $SLURM_CONF and it alone"
            stop_daemon "$name"
        done
        write_config "$new_config"
    fi

    install -d -m 0755 "$SPOOL_DIR/ctld" "$SPOOL_DIR/d" "$LOG_DIR" "$STATE_DIR"
    start_munged
    wait_for "munge" "munge -n | unmunge"
    start_slurm_daemon slurmctld
    wait_for "slurmctld" "scontrol ping | grep -q UP"
    start_slurm_daemon slurmd
    wait_for "node $host to become idle" "node_is_usable $host"
    smoke_test_job
    say "cluster up: node $host ($(nproc) CPUs) in partition debug; stop it with: $0 stop"
}

cmd_stop() {
    require_root
    if [[ ! -s $STARTED_FILE ]]; then
        say "nothing to stop: no daemons were started by this script"
        return 0
    fi
    local name
    # Reverse start order: the node first, munge last.
    for name in slurmd slurmctld munged; do
        was_started_here "$name" && stop_daemon "$name"
    done
    rm -f "$STARTED_FILE"
    say "stopped"
}

cmd_status() {
    local host name pid ok=0
    host=$(hostname -s)
    echo "config: $SLURM_CONF ($([[ -f $SLURM_CONF ]] && (grep -qF "$CONF_MARKER" "$SLURM_CONF" && echo "written by this script" || echo "not written by this script") || echo missing))"
    for name in munged slurmctld slurmd; do
        pid=$(daemon_pid "$name")
        if [[ -n $pid ]]; then
            echo "$name: running (pid $pid$([[ $(started_pid "$name") == "$pid" ]] && echo ", started by this script"))"
        else
            echo "$name: not running"
            ok=1
        fi
    done
    if command -v sinfo >/dev/null && ((ok == 0)); then
        sinfo --noheader --format '%P %a %D %t %N' 2>/dev/null || true
        node_is_usable "$host" || ok=1
    fi
    if ((ok == 0)); then echo "healthy"; else echo "not healthy"; fi
    return $ok
}

case ${1:-} in
    start) cmd_start ;;
    stop) cmd_stop ;;
    status) cmd_status ;;
    *)
        echo "usage: $0 {start|stop|status}" >&2
        exit 2
        ;;
esac
