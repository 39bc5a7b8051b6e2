#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# Many hosts at once: N hosts x (admin + Q I/O queues) connect at the same
# instant to one qemu-storage-daemon, each with its own DH-HMAC-CHAP keys
# and TLS, then all do verified 4 KiB writes and reads on their own LBA
# ranges for S seconds (tests/bench/many-hosts.c, the project's test host).
#
#   scripts/scale-hosts.sh [--hosts N] [--queues Q] [--seconds S]
#       [--mode concat|psk|both] [--iothreads T] [--qd D] [--min-ratio R]
#       [--rounds N] [--max-connections M] [--trace PATTERN]
#
# Defaults: 64 hosts, 4 I/O queues each, 10 s, both modes, 2 iothreads,
# 4 writes then 4 reads at once per queue, starvation limit 0.25.
# --max-connections sets the ports' connection cap (default: the target's,
# 1024 per port); more than 1024 queues need it.
# --rounds N runs each mode N times against the same daemon (default 1)
# and prints the daemon's VmRSS after each round's disconnect.
# NVMET_SCALE_WRAPPER runs the daemon under a command (e.g. "valgrind
# --leak-check=full --log-file=/tmp/vg.log"); the daemon is stopped with
# SIGTERM at the end, so such a tool sees a clean exit.
# NVMET_SCALE_HOOK is a shell command run after every run of the driver
# with QSD_PID and QSD_LOG (its output) set, e.g. to attach a debugger
# and print malloc_stats().
# --trace enables the daemon's trace events matching PATTERN (e.g.
# 'nvmet_queue_close'); the daemon's output is printed at the end.
#
# One daemon serves a file on tmpfs (1 MiB per I/O queue, so every queue
# has 256 blocks of its own) through --export type=nvmet, one subsystem
# whose I/O queues spread over T iothreads, N nvmet-host objects with a
# DH-HMAC-CHAP host key, a controller key and a configured TLS PSK each
# (random, from -object secret files), and two ports on ports the kernel
# picks (read back over QMP): port0 tls=required, port1 tls=allowed.
#   concat: secure channel concatenation on port1: the admin queue
#           authenticates in cleartext asking for NEWTLSPSK, then the admin
#           and I/O queues connect over TLS with the generated PSK.
#   psk:    the configured PSK on port0, and a bidirectional DH-HMAC-CHAP
#           exchange on every queue after its Connect (the target does not
#           ask for it on a TLS queue; the driver does it anyway).
#   both:   concat, then psk, each against a fresh daemon.
# DH-HMAC-CHAP: SHA-256 with ffdhe2048.
#
# Printed per mode: the time until every queue was connected (and per host
# min/median/max), the listen queue overflows of the network namespace,
# the daemon's VmRSS, threads and open files before connecting, connected,
# after the I/O and disconnected, memory per connected queue, I/Os per
# host min/median/max and min/median, verification errors and the worst
# Keep Alive latency on the admin queues.  A mode fails (and the script
# exits non-zero) when a queue does not connect, a command fails, a read
# differs from what was written, a host completes fewer than R times the
# median host's I/Os or a queue none, or the daemon keeps files open after
# every host disconnected.
#
# Run it in a private network namespace so that the listen counters are
# this run's only:
#   unshare -n sh -c 'ip link set lo up && exec scripts/scale-hosts.sh'
set -euo pipefail
. "$(dirname "$0")/lib.sh"

HOSTS=64 QUEUES=4 SECS=10 MODE=both IOTHREADS=2 QD=4 RATIO=0.25 TRACE= ROUNDS=1 MAXCONN=
while [ $# -gt 0 ]; do
    case $1 in
        --hosts) HOSTS=$2; shift 2 ;;
        --queues) QUEUES=$2; shift 2 ;;
        --seconds) SECS=$2; shift 2 ;;
        --mode) MODE=$2; shift 2 ;;
        --iothreads) IOTHREADS=$2; shift 2 ;;
        --qd) QD=$2; shift 2 ;;
        --min-ratio) RATIO=$2; shift 2 ;;
        --trace) TRACE=$2; shift 2 ;;
        --rounds) ROUNDS=$2; shift 2 ;;
        --max-connections) MAXCONN=$2; shift 2 ;;
        -h|--help) sed -n '3,/^[^#]/{/^#/p}' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
        *) die "unknown option '$1'" ;;
    esac
done
case $MODE in
    concat|psk) MODES=("$MODE") ;;
    both) MODES=(concat psk) ;;
    *) die "--mode concat, psk or both" ;;
esac
[ "$HOSTS" -ge 1 ] && [ "$QUEUES" -ge 1 ] && [ "$IOTHREADS" -ge 1 ] ||
    die "--hosts, --queues and --iothreads must be at least 1"

apt_install build-essential pkg-config libglib2.0-dev libgnutls28-dev \
    nettle-dev libgmp-dev python3
OUT=$NVMET_BUILD/scale
mkdir -p "$OUT"
log "building qemu-storage-daemon (log: $OUT/build-qemu.log)"
"$NVMET_TOP/scripts/build-qemu.sh" storage-daemon/qemu-storage-daemon \
    > "$OUT/build-qemu.log" 2>&1 ||
    { tail -n 30 "$OUT/build-qemu.log" >&2; die "QEMU build failed"; }
QSD=$NVMET_BUILD/qemu/build/storage-daemon/qemu-storage-daemon
# the hosts use the system's GnuTLS (SHA-256 PSKs are all they need), also
# when run-tests.sh has pointed PKG_CONFIG_PATH at the private one
cc -O2 -std=gnu11 -o "$OUT/many-hosts" "$NVMET_TOP/tests/bench/many-hosts.c" \
    "$NVMET_TOP/tests/qtest/nvmf-host.c" \
    "$NVMET_TOP/tests/qtest/nvmf-host-tls.c" \
    "$NVMET_TOP/tests/qtest/nvmf-host-auth.c" \
    -I"$NVMET_TOP/include" -I"$NVMET_TOP/tests/qtest" \
    $(PKG_CONFIG_PATH= pkg-config --cflags --libs glib-2.0 gnutls nettle) \
    -lgmp -pthread
DRIVER=$OUT/many-hosts

# the namespace's store keeps data, in memory: a file on tmpfs
RUN=$(mktemp -d /dev/shm/nvmet-scale.XXXXXX)
QSD_PID=""
cleanup() {
    [ -n "$QSD_PID" ] && kill "$QSD_PID" 2>/dev/null && wait "$QSD_PID" 2>/dev/null
    rm -rf "$RUN"
}
trap cleanup EXIT
mkdir -m 0700 "$RUN/keys"
"$DRIVER" keys --hosts "$HOSTS" --dir "$RUN/keys"
truncate -s $((HOSTS * QUEUES))M "$RUN/disk.img"

SUBNQN=nqn.2026-11.org.qemu:scale
args=(
    --chardev socket,id=qmp0,path="$RUN/qmp.sock",server=on,wait=off
    --monitor chardev=qmp0
    ${TRACE:+--trace "enable=$TRACE"}
    --blockdev driver=file,filename="$RUN/disk.img",node-name=disk0
    --object nvmet-port,id=port0,trsvcid=0,tls=required${MAXCONN:+,max-connections=$MAXCONN}
    --object nvmet-port,id=port1,trsvcid=0,tls=allowed${MAXCONN:+,max-connections=$MAXCONN}
)
sub=nvmet-subsystem,id=sub0,nqn=$SUBNQN,ports.0=port0,ports.1=port1
for i in $(seq 0 $((IOTHREADS - 1))); do
    args+=(--object iothread,id=io$i)
    sub+=,iothreads.$i=io$i
done
args+=(--object "$sub")
for i in $(seq 0 $((HOSTS - 1))); do
    args+=(--object secret,id=hk$i,file="$RUN/keys/host$i.dhchap"
           --object secret,id=ck$i,file="$RUN/keys/host$i.ctrl"
           --object secret,id=psk$i,file="$RUN/keys/host$i.psk"
           --object nvmet-host,id=h$i,nqn=$(printf 'nqn.2014-08.org.nvmexpress:uuid:6d616e79-0000-4000-8000-%012x' "$i"),subsystems.0=sub0,tls-psk=psk$i,dhchap-secret=hk$i,dhchap-ctrl-secret=ck$i)
done
args+=(--export type=nvmet,id=ns1,node-name=disk0,subsystem=sub0,nsid=1,writable=on)

# start_daemon: a fresh daemon (QSD_PID, PORT_REQUIRED, PORT_ALLOWED)
start_daemon() {
    ${NVMET_SCALE_WRAPPER:-} "$QSD" "${args[@]}" > "$RUN/qsd.log" 2>&1 &
    QSD_PID=$!
    PORT_REQUIRED=$(qmp_qom_get "$RUN/qmp.sock" /objects/port0 trsvcid) ||
        { cat "$RUN/qsd.log" >&2; die "qemu-storage-daemon did not start"; }
    PORT_ALLOWED=$(qmp_qom_get "$RUN/qmp.sock" /objects/port1 trsvcid)
}

# stop_daemon: SIGTERM, and print what it said
stop_daemon() {
    kill "$QSD_PID" 2>/dev/null && wait "$QSD_PID" 2>/dev/null
    QSD_PID=""
    if [ -s "$RUN/qsd.log" ]; then
        echo "daemon output:"
        sed 's/^/  /' "$RUN/qsd.log" | head -n 200
    fi
    rm -f "$RUN/qmp.sock"
}

echo "qemu-storage-daemon $("$QSD" --version | head -n1 | awk '{print $NF}'), $(nproc) CPUs: $(grep -m1 'model name' /proc/cpuinfo | sed 's/^[^:]*: //')"
echo "load before: $(uptime)"
failed=()
for m in "${MODES[@]}"; do
    # a fresh daemon per mode: its memory figures are this mode's
    start_daemon
    echo
    echo "== mode $m: $HOSTS nvmet-host objects, $IOTHREADS iothreads, $(grep 'open files' /proc/$QSD_PID/limits | awk '{print "open files limit " $4 " (hard " $5 ")"}'), somaxconn $(cat /proc/sys/net/core/somaxconn)"
    port=$PORT_REQUIRED
    [ "$m" = concat ] && port=$PORT_ALLOWED
    rss=()
    for round in $(seq "$ROUNDS"); do
        [ "$ROUNDS" -gt 1 ] && echo "-- round $round"
        "$DRIVER" run --mode "$m" --port "$port" --nqn "$SUBNQN" \
            --hosts "$HOSTS" --queues "$QUEUES" --seconds "$SECS" --qd "$QD" \
            --min-ratio "$RATIO" --dir "$RUN/keys" --server-pid "$QSD_PID" \
            | tee "$RUN/driver.out" || failed+=("$m#$round")
        [ -z "${NVMET_SCALE_HOOK:-}" ] ||
            QSD_PID=$QSD_PID QSD_LOG=$RUN/qsd.log sh -c "$NVMET_SCALE_HOOK"
        rss+=("$(sed -n 's/^server all disconnected: *VmRSS *\([0-9]*\) KiB.*/\1/p' "$RUN/driver.out")")
        kill -0 "$QSD_PID" 2>/dev/null ||
            { cat "$RUN/qsd.log" >&2; die "qemu-storage-daemon died"; }
    done
    [ "$ROUNDS" -gt 1 ] &&
        echo "daemon VmRSS (KiB) after each round's disconnect: ${rss[*]}"
    stop_daemon
done
echo
echo "load after: $(uptime)"
[ ${#failed[@]} -eq 0 ] || die "failed: ${failed[*]}"
echo "all modes passed"
