#!/usr/bin/env bash
# Start / stop / inspect a real one-node SLURM cluster on this machine.
#
#   bash scripts/slurm_local_cluster.sh [start|stop|status|restart]    (default: start)
#
# Needs root and the Debian packages `slurm-wlm munge` (Slurm 22.05 on Debian 12).
# This host (`hostname -s`) is both the controller and the only compute node; its
# partition is `debug`. No systemd is needed: munged, slurmctld and slurmd are started
# directly as daemons. The config is written to Debian's default /etc/slurm/slurm.conf,
# so sbatch/squeue/sinfo/scontrol find it without environment variables.
#
# Environment knobs (all optional):
#   SLURM_LOCAL_WAIT_S     seconds to wait for the node to become idle (default 60)
#   SLURM_LOCAL_MEM_HEADROOM_MB  memory kept back from RealMemory (default: 10%, at least 512)
#   SLURM_LOCAL_KILLWAIT_S KillWait: seconds between SIGTERM and SIGKILL on cancel/requeue (default 30)
#   SLURM_LOCAL_CRED_EXPIRE_S  AuthInfo=cred_expire: a requeued job waits ~this long before it
#                          restarts (default 10; Slurm's default is 120, minimum 5)
#   SLURM_LOCAL_SCHED_INTERVAL_S  main scheduler full-queue interval (default 5; Slurm's default 60)
#   SLURM_LOCAL_FORCE_CONFIG=1  rewrite slurm.conf and restart the daemons even if the cluster is up
set -euo pipefail

CMD="${1:-start}"

SLURM_CONF_DIR=/etc/slurm
SLURM_CONF="$SLURM_CONF_DIR/slurm.conf"
MUNGE_KEY=/etc/munge/munge.key
MUNGE_SOCKET_DIR=/run/munge
LOG_DIR=/var/log/slurm
CTLD_STATE_DIR=/var/spool/slurmctld
SLURMD_SPOOL_DIR=/var/spool/slurmd
CTLD_PID=/run/slurmctld.pid
SLURMD_PID=/run/slurmd.pid
MUNGED_PID="$MUNGE_SOCKET_DIR/munged.pid"
PARTITION=debug
WAIT_S="${SLURM_LOCAL_WAIT_S:-60}"
KILLWAIT_S="${SLURM_LOCAL_KILLWAIT_S:-30}"
CRED_EXPIRE_S="${SLURM_LOCAL_CRED_EXPIRE_S:-10}"
SCHED_INTERVAL_S="${SLURM_LOCAL_SCHED_INTERVAL_S:-5}"

log() { echo "[slurm_local_cluster] $*"; }
die() { echo "[slurm_local_cluster] ERROR: $*" >&2; exit 1; }

# Debian installs the daemons in /usr/sbin, which is not on every root PATH.
export PATH="$PATH:/usr/sbin:/sbin"

require_packages() {
    local missing=()
    local b
    for b in munged munge slurmctld slurmd sbatch sinfo squeue scontrol; do
        command -v "$b" >/dev/null 2>&1 || missing+=("$b")
    done
    if [ "${#missing[@]}" -ne 0 ]; then
        echo "SLURM/munge not installed (missing: ${missing[*]}): run 'apt-get install -y slurm-wlm munge' as root first." >&2
        exit 2
    fi
}

require_root() {
    [ "$(id -u)" -eq 0 ] || die "must run as root (it writes /etc/slurm and starts the daemons)"
}

# pid of a live process recorded in a pid file whose command name matches $2, else empty.
live_pid() {
    local pidfile="$1" name="$2" pid
    [ -s "$pidfile" ] || return 0
    pid="$(tr -dc '0-9' <"$pidfile")"
    [ -n "$pid" ] || return 0
    if [ -r "/proc/$pid/comm" ] && grep -q "^${name}" "/proc/$pid/comm"; then
        echo "$pid"
    fi
}

munge_ok() { munge -n 2>/dev/null | unmunge >/dev/null 2>&1; }
# `scontrol ping` answers at once; sinfo retries for ~9 s when slurmctld is down.
sinfo_ok() { timeout 10 scontrol ping >/dev/null 2>&1 && timeout 10 sinfo -h >/dev/null 2>&1; }

node_state() { timeout 10 sinfo -h -N -n "$NODE" -o '%T' 2>/dev/null | head -n1 || true; }

start_munge() {
    if [ ! -s "$MUNGE_KEY" ]; then
        log "creating munge key $MUNGE_KEY"
        install -d -o munge -g munge -m 0700 /etc/munge
        if command -v mungekey >/dev/null 2>&1; then
            mungekey --create --keyfile="$MUNGE_KEY" --force
        else
            dd if=/dev/urandom of="$MUNGE_KEY" bs=1024 count=1 status=none
        fi
    fi
    chown munge:munge /etc/munge "$MUNGE_KEY"
    chmod 0700 /etc/munge
    chmod 0400 "$MUNGE_KEY"
    install -d -o munge -g munge -m 0755 "$MUNGE_SOCKET_DIR"
    install -d -o munge -g munge -m 0700 /var/log/munge
    install -d -o munge -g munge -m 0711 /var/lib/munge

    if munge_ok; then
        log "munged already running"
        return 0
    fi
    # A stale socket/pid from a killed munged makes the new one refuse to start.
    rm -f "$MUNGED_PID" "$MUNGE_SOCKET_DIR"/munge.socket.2*
    log "starting munged"
    if command -v runuser >/dev/null 2>&1; then
        runuser -u munge -- munged
    else
        su -s /bin/sh munge -c munged
    fi
    for _ in $(seq 1 50); do
        munge_ok && return 0
        sleep 0.2
    done
    die "munged did not come up; see /var/log/munge/munged.log"
}

write_config() {
    local cpus sockets cores threads mem headroom realmem
    # slurmd -C prints the hardware as slurmd sees it, e.g.
    # NodeName=vm CPUs=2 Boards=1 SocketsPerBoard=1 CoresPerSocket=2 ThreadsPerCore=1 RealMemory=24105
    local hw
    hw="$(slurmd -C 2>/dev/null | head -n1 || true)"
    cpus="$(sed -n 's/.*CPUs=\([0-9]*\).*/\1/p' <<<"$hw")"
    sockets="$(sed -n 's/.*SocketsPerBoard=\([0-9]*\).*/\1/p' <<<"$hw")"
    cores="$(sed -n 's/.*CoresPerSocket=\([0-9]*\).*/\1/p' <<<"$hw")"
    threads="$(sed -n 's/.*ThreadsPerCore=\([0-9]*\).*/\1/p' <<<"$hw")"
    mem="$(sed -n 's/.*RealMemory=\([0-9]*\).*/\1/p' <<<"$hw")"
    [ -n "$cpus" ] || cpus="$(nproc)"
    [ -n "$mem" ] || mem="$(awk '/MemTotal/ {print int($2/1024)}' /proc/meminfo)"
    local topo=""
    if [ -n "$sockets" ] && [ -n "$cores" ] && [ -n "$threads" ] \
        && [ "$((sockets * cores * threads))" -eq "$cpus" ]; then
        topo="Sockets=$sockets CoresPerSocket=$cores ThreadsPerCore=$threads "
    fi
    headroom="${SLURM_LOCAL_MEM_HEADROOM_MB:-$((mem / 10))}"
    [ "$headroom" -ge 512 ] || headroom=512
    realmem=$((mem - headroom))
    [ "$realmem" -ge 256 ] || realmem=256
    # Default memory per CPU so that a job without --mem does not claim the whole node
    # (with CR_Core_Memory a job's default memory is otherwise all of the node's memory).
    local defmem=$((realmem / cpus))

    # The daemons talk over NodeAddr; fall back to loopback when the short hostname does not resolve.
    local addr="$NODE"
    if ! getent hosts "$NODE" >/dev/null 2>&1; then
        log "hostname '$NODE' does not resolve; using 127.0.0.1 as its address"
        addr=127.0.0.1
    fi

    install -d -m 0755 "$SLURM_CONF_DIR" "$LOG_DIR" "$CTLD_STATE_DIR" "$SLURMD_SPOOL_DIR"

    local tmp
    tmp="$(mktemp)"
    cat >"$tmp" <<EOF
# Written by genrl scripts/slurm_local_cluster.sh -- a one-node SLURM cluster on $NODE.
# Re-run 'bash scripts/slurm_local_cluster.sh' to regenerate (SLURM_LOCAL_FORCE_CONFIG=1 when it is up).
ClusterName=genrl-local
SlurmctldHost=$NODE($addr)
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
# cred_expire: job credential lifetime; a requeued job is held PENDING (Reason=BeginTime) for about
# this long (+1 s) before it may start again. Slurm's default is 120 s, its minimum 5 s.
AuthInfo=cred_expire=$CRED_EXPIRE_S
CryptoType=crypto/munge
MpiDefault=none
MailProg=/bin/true

SlurmctldPort=6817
SlurmdPort=6818
SlurmctldPidFile=$CTLD_PID
SlurmdPidFile=$SLURMD_PID
StateSaveLocation=$CTLD_STATE_DIR
SlurmdSpoolDir=$SLURMD_SPOOL_DIR
SlurmctldLogFile=$LOG_DIR/slurmctld.log
SlurmdLogFile=$LOG_DIR/slurmd.log
SlurmctldDebug=info
SlurmdDebug=info

# No cgroups, no accounting daemon: works in containers without systemd.
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/none

# Several 1-CPU jobs side by side: cores and memory are the consumable resources.
SchedulerType=sched/backfill
# No event starts a job whose BeginTime has passed (e.g. a requeued one): a periodic pass does.
# Run the main scheduler's full-queue pass every $SCHED_INTERVAL_S s instead of Slurm's default 60 s.
SchedulerParameters=sched_interval=$SCHED_INTERVAL_S
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
DefMemPerCPU=$defmem

# A node that went DOWN (e.g. host reboot) comes back by itself once slurmd registers.
ReturnToService=2
# Jobs may be requeued (scontrol requeue, preemption, node failure).
JobRequeue=1
# Seconds between SIGTERM and SIGKILL when a job is cancelled/requeued/timed out.
KillWait=$KILLWAIT_S
SlurmctldTimeout=120
SlurmdTimeout=300
InactiveLimit=0
MinJobAge=300
Waittime=0

NodeName=$NODE NodeAddr=$addr CPUs=$cpus ${topo}RealMemory=$realmem State=UNKNOWN
PartitionName=$PARTITION Nodes=$NODE Default=YES MaxTime=INFINITE State=UP OverSubscribe=NO
EOF
    CONFIG_CHANGED=0
    if [ -f "$SLURM_CONF" ] && cmp -s "$tmp" "$SLURM_CONF"; then
        rm -f "$tmp"
        log "$SLURM_CONF unchanged"
    else
        CONFIG_CHANGED=1
        [ -f "$SLURM_CONF" ] && cp -f "$SLURM_CONF" "$SLURM_CONF.bak"
        install -m 0644 "$tmp" "$SLURM_CONF"
        rm -f "$tmp"
        log "wrote $SLURM_CONF (node $NODE: CPUs=$cpus RealMemory=${realmem}MB of ${mem}MB)"
    fi
}

wait_node_idle() {
    local deadline=$((SECONDS + WAIT_S)) st resumed=0
    while :; do
        st="$(node_state)"
        case "$st" in
            idle | mixed | allocated | completing)
                return 0
                ;;
            *drain* | down* | fail*)
                # e.g. left DRAIN/DOWN from an earlier run: bring it back once.
                if [ "$resumed" -eq 0 ]; then
                    log "node $NODE is '$st'; resuming it"
                    scontrol update NodeName="$NODE" State=RESUME >/dev/null 2>&1 || true
                    resumed=1
                fi
                ;;
        esac
        if [ "$SECONDS" -ge "$deadline" ]; then
            echo "[slurm_local_cluster] node $NODE not idle after ${WAIT_S}s (state '${st:-no answer}')." >&2
            echo "--- tail $LOG_DIR/slurmctld.log" >&2
            tail -n 20 "$LOG_DIR/slurmctld.log" >&2 2>/dev/null || true
            echo "--- tail $LOG_DIR/slurmd.log" >&2
            tail -n 20 "$LOG_DIR/slurmd.log" >&2 2>/dev/null || true
            exit 1
        fi
        sleep 1
    done
}

stop_daemon() {
    local name="$1" pidfile="$2" pid
    pid="$(live_pid "$pidfile" "$name")"
    if [ -z "$pid" ]; then
        rm -f "$pidfile"
        return 0
    fi
    log "stopping $name (pid $pid)"
    kill -TERM "$pid" 2>/dev/null || true
    for _ in $(seq 1 100); do
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.1
    done
    if kill -0 "$pid" 2>/dev/null; then
        log "$name did not exit after 10 s; sending SIGKILL"
        kill -KILL "$pid" 2>/dev/null || true
    fi
    rm -f "$pidfile"
}

do_start() {
    require_root
    require_packages
    local t0=$SECONDS

    start_munge

    local ctld slurmd_pid
    ctld="$(live_pid "$CTLD_PID" slurmctld)"
    slurmd_pid="$(live_pid "$SLURMD_PID" slurmd)"
    if [ -n "$ctld" ] && [ -n "$slurmd_pid" ] && sinfo_ok && [ "${SLURM_LOCAL_FORCE_CONFIG:-0}" != 1 ]; then
        log "cluster already up (slurmctld pid $ctld, slurmd pid $slurmd_pid)"
        wait_node_idle
        do_status
        return 0
    fi
    if [ "${SLURM_LOCAL_FORCE_CONFIG:-0}" = 1 ]; then
        stop_daemon slurmd "$SLURMD_PID"
        stop_daemon slurmctld "$CTLD_PID"
        ctld=""
        slurmd_pid=""
    fi

    write_config
    if [ "$CONFIG_CHANGED" = 1 ] && { [ -n "$ctld" ] || [ -n "$slurmd_pid" ]; }; then
        # a daemon still runs with the old config: restart both
        stop_daemon slurmd "$SLURMD_PID"
        stop_daemon slurmctld "$CTLD_PID"
        ctld=""
        slurmd_pid=""
    fi

    if [ -z "$ctld" ]; then
        log "starting slurmctld"
        # Daemonizes itself; keeps its state (queued jobs) from $CTLD_STATE_DIR across restarts.
        slurmctld
    fi
    for _ in $(seq 1 100); do
        sinfo_ok && break
        sleep 0.2
    done
    sinfo_ok || { tail -n 30 "$LOG_DIR/slurmctld.log" >&2 || true; die "slurmctld does not answer"; }

    if [ -z "$slurmd_pid" ]; then
        log "starting slurmd"
        slurmd
    fi
    wait_node_idle
    log "cluster up in $((SECONDS - t0)) s (partition '$PARTITION', node '$NODE')"
    do_status
}

do_stop() {
    require_root
    stop_daemon slurmd "$SLURMD_PID"
    stop_daemon slurmctld "$CTLD_PID"
    local mpid
    mpid="$(live_pid "$MUNGED_PID" munged)"
    if [ -n "$mpid" ]; then
        log "stopping munged (pid $mpid)"
        munged --stop >/dev/null 2>&1 || kill -TERM "$mpid" 2>/dev/null || true
        for _ in $(seq 1 50); do
            kill -0 "$mpid" 2>/dev/null || break
            sleep 0.1
        done
    fi
    log "stopped"
}

do_status() {
    if ! command -v sinfo >/dev/null 2>&1; then
        echo "SLURM not installed: run 'apt-get install -y slurm-wlm munge' as root first." >&2
        exit 2
    fi
    if ! sinfo_ok; then
        echo "slurmctld does not answer (cluster down?): start it with 'bash scripts/slurm_local_cluster.sh start'" >&2
        exit 1
    fi
    sinfo
    echo
    squeue
}

NODE="$(hostname -s)"

case "$CMD" in
    start) do_start ;;
    stop) do_stop ;;
    restart) do_stop; do_start ;;
    status) do_status ;;
    -h | --help | help)
        sed -n '2,/^set -euo/p' "$0" | sed '$d' | sed 's/^# \{0,1\}//'
        ;;
    *)
        echo "usage: $0 [start|stop|status|restart]" >&2
        exit 2
        ;;
esac
