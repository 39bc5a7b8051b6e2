#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# I/O benchmark: the target side by side with qemu-storage-daemon's NBD
# export of the same null-co node, and with a raw TCP server sending or
# receiving the same bytes (the floor: bench-io --help says what it does),
# all driven by one C client (tests/bench/bench-io.c) in one run.
#
#   scripts/bench-io.sh [--seconds S] [--reps N] [--only REGEX]
#
# One qemu-storage-daemon serves a 1 GiB null-co node (read-zeroes=off)
# through --export type=nvmet (three subsystems: I/O queues in the main
# loop; in iothread io0; in iothreads io0 and io1), through an nvmet-port
# with tls=required and a configured PSK (main loop), and through
# --export type=nbd (main loop); a second qemu-storage-daemon exports its
# own null-co node over NBD with TLS (tls-creds-psk; the client sends
# NBD_OPT_STARTTLS and uses TLS 1.3 with AES-128-GCM, as the NVMe/TCP TLS
# rows do).  For every workload
# (4 KiB reads/writes at QD 1 and 32, 128 KiB reads/writes at QD 8, one
# queue; 4 KiB reads at QD 32 and 128 KiB reads at QD 8 on two queues with
# one and two iothreads) each server runs S seconds (default 2), N times
# (default 3) interleaved.  The client measures the server process's CPU
# time (/proc/PID/task/*/schedstat) and its own around the load only.
# Printed per row: median IOPS and MB/s, server CPU per I/O (us) and per
# byte (ns) as median (min), the client's CPU per I/O, and the CPU per I/O
# relative to NBD's (nvmet-tls: to NBD over TLS's), on 128 KiB rows also
# the CPU per byte relative to the floor's and TLS's cost per byte over
# plain (or, for the iothread rows, the throughput relative to one
# iothread).  --only runs the rows whose "workload server" matches
# REGEX.
#
# Two iothreads can only beat one by as much as the two cores allow: with
# the client on the same machine, every I/O costs s (server) + c (client)
# CPU, so two cores give at most 2 / (s + c) I/Os per second, which is
# 2s / (s + c) of the rate of one saturated iothread.  Printed as "bound":
# 2 / (s + c) with the two-iothread row's s and c (per-I/O costs change
# with batching), over the one-iothread rate; the measured ratio over it is
# the share of the two cores the run used.  On an idle machine only: with
# the kernel's autogroup scheduling, each other busy session takes an
# equal share of the CPU whatever its nice level.  The 2q-*-luks rows show the
# scaling where the server does most of the work: 16 KiB reads of a LUKS
# node (Serpent-XTS, a cipher without hardware help: about 50 us of
# decryption per 4 KiB in the iothread here, against a few us of client
# CPU per I/O, so the bound is near 2) over a second null-co node, its
# header detached in a file (formatted with blockdev-create).
#
# Numbers depend on the machine and its load; compare rows of one run.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

SECONDS_PER=2 REPS=3 ONLY=.
while [ $# -gt 0 ]; do
    case $1 in
        --seconds) SECONDS_PER=$2; shift 2 ;;
        --reps) REPS=$2; shift 2 ;;
        --only) ONLY=$2; shift 2 ;;
        -h|--help) sed -n '3,/^[^#]/{/^#/p}' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
        *) die "unknown option '$1'" ;;
    esac
done

apt_install build-essential pkg-config libglib2.0-dev libgnutls28-dev \
    nettle-dev libgmp-dev python3
log "building qemu-storage-daemon (log: $NVMET_BUILD/bench/build-qemu.log)"
mkdir -p "$NVMET_BUILD/bench"
"$NVMET_TOP/scripts/build-qemu.sh" storage-daemon/qemu-storage-daemon \
    > "$NVMET_BUILD/bench/build-qemu.log" 2>&1 ||
    { tail -n 30 "$NVMET_BUILD/bench/build-qemu.log" >&2; die "QEMU build failed"; }
QSD=$NVMET_BUILD/qemu/build/storage-daemon/qemu-storage-daemon
OUT=$NVMET_BUILD/bench
mkdir -p "$OUT"
cc -O2 -std=gnu11 -o "$OUT/bench-io" "$NVMET_TOP/tests/bench/bench-io.c" \
    "$NVMET_TOP/tests/qtest/nvmf-host.c" \
    "$NVMET_TOP/tests/qtest/nvmf-host-tls.c" \
    "$NVMET_TOP/tests/qtest/nvmf-host-auth.c" \
    -I"$NVMET_TOP/include" -I"$NVMET_TOP/tests/qtest" \
    $(pkg-config --cflags --libs glib-2.0 gnutls nettle) -lgmp
BENCH=$OUT/bench-io

RUN=$(mktemp -d "$OUT/run.XXXXXX")
pids=()
cleanup() {
    local p
    for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
    wait 2>/dev/null || true
    rm -rf "$RUN"
}
trap cleanup EXIT

SUBNQN=nqn.2026-11.org.qemu:bench
HOSTNQN=nqn.2014-08.org.nvmexpress:uuid:0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0
PSK='NVMeTLSkey-1:01:VRLbtnN9AQb2WXW3c9+wEf/DRLz0QuLdbYvEhwtdWwNf9LrZ:'
printf '%s' "$PSK" > "$RUN/psk" && chmod 600 "$RUN/psk"
: > "$RUN/luks.hdr"

# the raw TCP floor
"$BENCH" tcp-server > "$RUN/tcp.port" &
pids+=($!)
TCP_PID=$!

# NBD needs a port up front: ask the kernel for a free one
free_port() {
    python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}
NBD_PORT=$(free_port)
NBD_TLS_PORT=$(free_port)
NBD_KEY=$(od -An -tx1 -N32 /dev/urandom | tr -d ' \n')
mkdir -m 700 "$RUN/nbd-tls"
printf 'bench:%s\n' "$NBD_KEY" > "$RUN/nbd-tls/keys.psk"

"$QSD" --chardev socket,id=qmp0,path="$RUN/qmp.sock",server=on,wait=off \
    --monitor chardev=qmp0 \
    --blockdev driver=null-co,size=1073741824,read-zeroes=off,node-name=null0 \
    --object iothread,id=io0 --object iothread,id=io1 \
    --object secret,id=psk,file="$RUN/psk" \
    --blockdev driver=null-co,size=1073741824,read-zeroes=off,node-name=null1 \
    --blockdev driver=file,filename="$RUN/luks.hdr",node-name=luks-hdr \
    --object secret,id=luks-key,data=bench-io \
    --object nvmet-port,id=port0,trsvcid=0 \
    --object nvmet-port,id=port1,trsvcid=0,tls=required \
    --object nvmet-subsystem,id=sub0,nqn=$SUBNQN,ports.0=port0,ports.1=port1 \
    --object nvmet-subsystem,id=sub1,nqn=$SUBNQN-1io,ports.0=port0,allow-any-host=on,iothreads.0=io0 \
    --object nvmet-subsystem,id=sub2,nqn=$SUBNQN-2io,ports.0=port0,allow-any-host=on,iothreads.0=io0,iothreads.1=io1 \
    --object nvmet-subsystem,id=sub3,nqn=$SUBNQN-luks-1io,ports.0=port0,allow-any-host=on,iothreads.0=io0 \
    --object nvmet-subsystem,id=sub4,nqn=$SUBNQN-luks-2io,ports.0=port0,allow-any-host=on,iothreads.0=io0,iothreads.1=io1 \
    --object nvmet-host,id=h1,nqn=$HOSTNQN,subsystems.0=sub0,tls-psk=psk \
    --export type=nvmet,id=ns0,node-name=null0,subsystem=sub0,nsid=1,writable=on \
    --export type=nvmet,id=ns1,node-name=null0,subsystem=sub1,nsid=1,writable=on \
    --export type=nvmet,id=ns2,node-name=null0,subsystem=sub2,nsid=1,writable=on \
    --nbd-server addr.type=inet,addr.host=127.0.0.1,addr.port="$NBD_PORT" \
    --export type=nbd,id=nbd0,node-name=null0,name=null0,writable=on \
    > "$RUN/qsd.log" 2>&1 &
pids+=($!)
QSD_PID=$!

"$QSD" --blockdev driver=null-co,size=1073741824,read-zeroes=off,node-name=null0 \
    --object tls-creds-psk,id=tls0,endpoint=server,dir="$RUN/nbd-tls" \
    --nbd-server addr.type=inet,addr.host=127.0.0.1,addr.port="$NBD_TLS_PORT",tls-creds=tls0 \
    --export type=nbd,id=nbd0,node-name=null0,name=null0,writable=on \
    > "$RUN/qsd-nbd-tls.log" 2>&1 &
pids+=($!)
NBD_TLS_PID=$!

# QMP to the daemon: each argument a command as JSON (scripts/lib.sh)
qmp() { qmp_exec "$RUN/qmp.sock" "$@"; }
# the ports the kernel picked
PORT=$(qmp_qom_get "$RUN/qmp.sock" /objects/port0 trsvcid)
TLS_PORT=$(qmp_qom_get "$RUN/qmp.sock" /objects/port1 trsvcid)
# the LUKS node: format the detached header, open it over null1, export it
qmp '{"execute": "blockdev-create", "arguments": {"job-id": "luks-create",
      "options": {"driver": "luks", "header": "luks-hdr", "size": 0,
                  "key-secret": "luks-key", "cipher-alg": "serpent-256",
                  "cipher-mode": "xts", "ivgen-alg": "plain64",
                  "hash-alg": "sha256", "iter-time": 10}}}' \
    '{"execute": "blockdev-add", "arguments": {"driver": "luks",
      "node-name": "luks0", "file": "null1", "header": "luks-hdr",
      "key-secret": "luks-key"}}' \
    '{"execute": "block-export-add", "arguments": {"type": "nvmet",
      "id": "ns3", "node-name": "luks0", "subsystem": "sub3", "nsid": 1}}' \
    '{"execute": "block-export-add", "arguments": {"type": "nvmet",
      "id": "ns4", "node-name": "luks0", "subsystem": "sub4", "nsid": 1}}' \
    > /dev/null || die "setting up the LUKS node failed"
for _ in $(seq 100); do [ -s "$RUN/tcp.port" ] && break; sleep 0.05; done
TCP_PORT=$(cat "$RUN/tcp.port")
# the NBD-over-TLS daemon listens once its credentials are loaded
python3 - "$NBD_TLS_PORT" <<'EOF' || die "no NBD-over-TLS server (log: $RUN/qsd-nbd-tls.log)"
import socket, sys, time
for _ in range(600):
    try:
        socket.create_connection(("127.0.0.1", int(sys.argv[1]))).close()
        sys.exit(0)
    except OSError:
        time.sleep(0.05)
sys.exit(1)
EOF

# name  server  client-args...
CELLS=()
cell() { CELLS+=("$*"); }
for w in "read 4096 1" "read 4096 32" "write 4096 1" "write 4096 32" \
         "read 131072 8" "write 131072 8"; do
    set -- $w
    name="$1-$(($2 / 1024))k-qd$3"
    args="--rw $1 --bs $2 --qd $3"
    cell "$name nvmet nvme --port $PORT --nqn $SUBNQN --hostnqn $HOSTNQN $args"
    cell "$name nvmet-iothread nvme --port $PORT --nqn $SUBNQN-1io $args"
    cell "$name nvmet-tls nvme --port $TLS_PORT --nqn $SUBNQN --hostnqn $HOSTNQN --tls-psk $PSK $args"
    cell "$name nbd nbd --port $NBD_PORT --export null0 $args"
    cell "$name nbd-tls nbd --port $NBD_TLS_PORT --export null0 --nbd-psk bench:$NBD_KEY $args"
    cell "$name tcp tcp --port $TCP_PORT $args"
done
for w in "read 4096 32" "read 131072 8"; do
    set -- $w
    name="2q-$1-$(($2 / 1024))k-qd$3"
    args="--rw $1 --bs $2 --qd $3 --queues 2"
    cell "$name nvmet-1iothread nvme --port $PORT --nqn $SUBNQN-1io $args"
    cell "$name nvmet-2iothreads nvme --port $PORT --nqn $SUBNQN-2io $args"
    cell "$name nbd nbd --port $NBD_PORT --export null0 $args"
done
args="--rw read --bs 16384 --qd 32 --queues 2"
cell "2q-read-16k-qd32-luks nvmet-1iothread nvme --port $PORT --nqn $SUBNQN-luks-1io $args"
cell "2q-read-16k-qd32-luks nvmet-2iothreads nvme --port $PORT --nqn $SUBNQN-luks-2io $args"

RESULTS=$RUN/results.tsv
: > "$RESULTS"
LOAD0=$(cut -d' ' -f1-3 /proc/loadavg)
for rep in $(seq "$REPS"); do
    log "repetition $rep of $REPS"
    for c in "${CELLS[@]}"; do
        set -- $c
        name=$1 server=$2; shift 2
        echo "$name $server" | grep -qE -- "$ONLY" || continue
        pid=$QSD_PID
        [ "$server" = tcp ] && pid=$TCP_PID
        [ "$server" = nbd-tls ] && pid=$NBD_TLS_PID
        line=$("$BENCH" "$@" --seconds "$SECONDS_PER" --server-pid "$pid") ||
            die "$name $server: bench-io failed"
        printf '%s\t%s\t%s\n' "$name" "$server" "$line" >> "$RESULTS"
    done
done

echo "qemu-storage-daemon $("$QSD" --version | head -n1 | awk '{print $NF}'), $(nproc) CPUs: $(grep -m1 'model name' /proc/cpuinfo | sed 's/^[^:]*: //')"
echo "$REPS interleaved repetitions of ${SECONDS_PER}s; CPU: server process time; median (min); load average before: $LOAD0, after: $(cut -d' ' -f1-3 /proc/loadavg)"
python3 - "$RESULTS" <<'EOF'
import statistics, sys
rows = {}
order = []
for line in open(sys.argv[1]):
    name, server, kv = line.rstrip("\n").split("\t")
    d = dict(x.split("=") for x in kv.split())
    ios, nbytes, secs, cpu, ccpu = (int(d["ios"]), int(d["bytes"]),
                                    float(d["seconds"]),
                                    int(d["server_cpu_ns"]),
                                    int(d["client_cpu_ns"]))
    key = (name, server)
    if key not in rows:
        rows[key] = []
        order.append(key)
    rows[key].append((ios / secs, nbytes / secs / 1e6,
                      cpu / 1e3 / max(ios, 1), cpu / max(nbytes, 1),
                      ccpu / 1e3 / max(ios, 1)))
med = lambda v: statistics.median(v)
print(f"{'workload':<20} {'server':<17} {'IOPS':>8} {'MB/s':>7} "
      f"{'us CPU/IO':>15} {'ns CPU/B':>13} {'client us/IO':>12}  ratio")
last = None
for key in order:
    name, server = key
    r = rows[key]
    iops, mbs = med([x[0] for x in r]), med([x[1] for x in r])
    us = [x[2] for x in r]
    ns = [x[3] for x in r]
    ratio = ""
    if name.startswith("2q-"):
        base = rows.get((name, "nvmet-1iothread"))
        if base and server != "nvmet-1iothread":
            r1 = med([x[0] for x in base])
            ratio = f"{iops / r1:.2f}x IOPS of 1 iothread"
            if server == "nvmet-2iothreads":
                # two cores / (server + client CPU per I/O), over one's rate
                s2, c2 = med(us), med([x[4] for x in r])
                bound = min(2.0, 2e6 / ((s2 + c2) * r1))
                ratio += f" (bound {bound:.2f}x)"
    else:
        # nvmet-tls against NBD over TLS, everything else against NBD
        peer = "nbd"
        if server == "nvmet-tls" and (name, "nbd-tls") in rows:
            peer = "nbd-tls"
        if server != peer and (name, peer) in rows:
            ratio = (f"{med(us) / med([x[2] for x in rows[(name, peer)]]):.2f}x"
                     f" {peer.upper()} CPU/IO")
        tcp = rows.get((name, "tcp"))
        if tcp and server.startswith("nvmet") and "128k" in name:
            ratio += f", {med(ns) / med([x[3] for x in tcp]):.2f}x TCP CPU/B"
        plain = {"nvmet-tls": "nvmet", "nbd-tls": "nbd"}.get(server)
        if plain and rows.get((name, plain)) and "128k" in name:
            d = med(ns) - med([x[3] for x in rows[(name, plain)]])
            ratio += f", {d:+.2f} ns/B over {plain}"
    if last and last != name:
        print()
    last = name
    cus = med([x[4] for x in r])
    print(f"{name:<20} {server:<17} {iops:>8.0f} {mbs:>7.1f} "
          f"{med(us):>7.2f} ({min(us):>5.2f}) {med(ns):>5.2f} ({min(ns):>5.2f})"
          f" {cus:>12.2f}  {ratio}")
if any(k[1] == "nvmet-2iothreads" for k in order):
    print("\nbound: 2 cores / (server + client CPU per I/O of the 2-iothread"
          " row), over the 1-iothread IOPS.  It assumes both cores are the"
          "\n       benchmark's: with autogroup scheduling every other busy"
          " session takes an equal share, whatever its nice level")
EOF
