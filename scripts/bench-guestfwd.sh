#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# How the guest reaches the target inside its own QEMU, side by side: the
# cost of one new NVMe/TCP connection (nvme discover) and sequential
# throughput over one I/O queue, for
#
#   tcp           a host TCP port (127.0.0.1:4420), 10.0.2.2:4420 in the
#                 guest (user networking connects a host TCP socket)
#   unix-connect  a UNIX socket, guestfwd=tcp:10.0.2.100:4420-unix-connect:
#                 (scripts/qemu-patches/0002; no process, no TCP)
#   cmd-socat     the same UNIX socket through guestfwd=...-cmd:socat
#                 (unpatched QEMU: a socat process per connection, joined
#                 to QEMU by a TCP socket pair)
#
# One guest, one QEMU with three nvmet-ports; run in a private network
# namespace (root) so that the TCP port cannot collide with anything.
#
#   scripts/bench-guestfwd.sh [CONNECTIONS [MIB]]    (default 20, 32)
set -euo pipefail
. "$(dirname "$0")/lib.sh"

conns=${1:-20} mib=${2:-32}
if [ "${NVMET_BENCH_NETNS:-}" != 1 ]; then
    apt_install socat iproute2
    "$NVMET_TOP/scripts/build-qemu.sh" qemu-system-x86_64 >&2
    "$NVMET_TOP/scripts/build-guest.sh" >&2
    exec unshare -n env NVMET_BENCH_NETNS=1 \
        sh -c 'ip link set lo up && exec "$0" "$@"' "$0" "$@"
fi

dir=$(mktemp -d "$NVMET_BUILD/bench-guestfwd.XXXXXX")
trap 'rm -rf "$dir"' EXIT
truncate -s $((mib + 8))M "$dir/disk.img"
nqn=nqn.2026-11.org.qemu:bench
port() {    # ID SOCKET ADDR
    printf '{"qom-type":"nvmet-port","id":"%s","addr":{"type":"unix","path":"%s"},"traddr":"%s","trsvcid":"4420"}' "$@"
}
"$NVMET_TOP/tests/guest/run.sh" --test bench-fwd --timeout 1800 \
    --param subnqn=$nqn --param conns="$conns" --param mib="$mib" \
    --param paths=tcp@10.0.2.2:4420,unix-connect@10.0.2.100:4420,cmd-socat@10.0.2.101:4420 \
    --guestfwd "tcp:10.0.2.100:4420-unix-connect:$dir/a.sock" \
    --guestfwd "tcp:10.0.2.101:4420-cmd:socat -lf $dir/socat.log - UNIX-CONNECT:$dir/b.sock" \
    --log "$dir/console.log" -- \
    -blockdev driver=file,filename="$dir/disk.img",node-name=disk0 \
    -object nvmet-port,id=tcp,traddr=127.0.0.1,trsvcid=4420 \
    -object "$(port a "$dir/a.sock" 10.0.2.100)" \
    -object "$(port b "$dir/b.sock" 10.0.2.101)" \
    -object nvmet-subsystem,id=sub0,nqn=$nqn,ports=tcp,ports=a,ports=b,allow-any-host=on \
    -object nvmet-namespace,id=ns1,subsystem=sub0,nsid=1,node-name=disk0 \
    > "$dir/run.log" 2>&1 || { tail -n 40 "$dir/run.log" >&2; exit 1; }
# The host's share of a new connection: unix-connect is one connect() in
# QEMU; cmd: starts a socat that connects (plus libslirp's TCP socket
# pair).  Timed here against a listening socket, 200 times each.
socat UNIX-LISTEN:"$dir/l.sock",fork OPEN:/dev/null &
lpid=$!
for _ in $(seq 50); do [ -S "$dir/l.sock" ] && break; sleep 0.1; done
host_connect=$(python3 - "$dir/l.sock" <<'PY'
import socket, sys, time
t = time.perf_counter()
for _ in range(200):
    s = socket.socket(socket.AF_UNIX)
    s.connect(sys.argv[1])
    s.close()
print("%.3f" % ((time.perf_counter() - t) * 1000 / 200))
PY
)
t0=$(date +%s%N)
for _ in $(seq 200); do socat -u OPEN:/dev/null UNIX-CONNECT:"$dir/l.sock"; done
host_socat=$(awk -v ns=$(( $(date +%s%N) - t0 )) 'BEGIN { printf "%.3f", ns / 1e6 / 200 }')
kill $lpid 2>/dev/null; wait $lpid 2>/dev/null || true

echo "host side of a new connection (ms, mean of 200):"
printf '%-16s %10s\n' unix-connect "$host_connect" cmd-socat "$host_socat"
echo
echo "guest-side NVMe/TCP paths to the target in the same QEMU ($(nproc) host CPUs, TCG guest):"
printf '%-16s %10s %14s %14s\n' path ms/conn "write MiB/s" "read MiB/s"
sed -n 's/\r$//; s/^BENCH //p' "$dir/console.log" |
    awk '{ printf "%-16s %10s %14s %14s\n", $1, $2, $3, $4 }'
