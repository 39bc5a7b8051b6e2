#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-or-later
#
# Benchmark of the ways a guest reaches the target inside its QEMU
# (scripts/bench-guestfwd.sh starts it): for each path, the cost of a new
# connection (nvme discover: TCP connect, ICReq, Connect, Get Log Page,
# Disconnect, each round trip through the path) and sequential O_DIRECT
# throughput over one I/O queue.
#
# Parameters: NVMET_SUBNQN, NVMET_PATHS (LABEL@ADDR:PORT,...),
#             NVMET_CONNS (connections per path, 20), NVMET_MIB (32),
#             NVMET_ROUNDS (2; the best round counts)
. /tests/lib.sh

NQN=${NVMET_SUBNQN:?}
CONNS=${NVMET_CONNS:-20}
MIB=${NVMET_MIB:-32}
ROUNDS=${NVMET_ROUNDS:-2}

# centiseconds of uptime
_cs() { awk '{ printf "%d\n", $1 * 100 }' /proc/uptime; }

# conn_ms ADDR PORT: milliseconds per discovery (one connection each)
conn_ms() {
    _t0=$(_cs)
    _i=0
    while [ $_i -lt "$CONNS" ]; do
        nvme discover -t tcp -a "$1" -s "$2" > /dev/null 2>&1 || return 1
        _i=$((_i + 1))
    done
    echo $(( ($(_cs) - _t0) * 10 / CONNS ))
}

# mbps CS: MiB/s for $MIB MiB in CS centiseconds
mbps() { awk -v m="$MIB" -v cs="$1" 'BEGIN { printf "%.1f", cs ? m * 100 / cs : 0 }'; }

# xfer ADDR PORT: "WRITE_CS READ_CS" over one I/O queue
xfer() {
    nvme connect -t tcp -a "$1" -s "$2" -n "$NQN" -i 1 > /dev/null 2>&1 || return 1
    wait_ctrl "$NQN" 20 || return 1
    _dev=$(wait_ns "$NQN" 1 20) || return 1
    _t0=$(_cs)
    dd if=/dev/zero of="$_dev" bs=1M count="$MIB" oflag=direct 2>/dev/null || return 1
    _t1=$(_cs)
    dd if="$_dev" of=/dev/null bs=1M count="$MIB" iflag=direct 2>/dev/null || return 1
    _t2=$(_cs)
    nvme disconnect -n "$NQN" > /dev/null 2>&1
    wait_gone "$NQN" 20
    echo "$((_t1 - _t0)) $((_t2 - _t1))"
}

section "per-connection cost and throughput ($CONNS connections, $MIB MiB, best of $ROUNDS)"
printf '%-28s %12s %12s %12s\n' path "ms/conn" "write MiB/s" "read MiB/s"
for p in $(echo "$NVMET_PATHS" | tr ',' ' '); do
    label=${p%%@*} hp=${p#*@}
    addr=${hp%:*} port=${hp##*:}
    best_c="" best_w="" best_r=""
    r=0 ok=1
    while [ $r -lt "$ROUNDS" ]; do
        c=$(conn_ms "$addr" "$port") || { ok=0; break; }
        x=$(xfer "$addr" "$port") || { ok=0; break; }
        w=${x% *} rd=${x#* }
        [ -z "$best_c" ] || [ "$c" -lt "$best_c" ] && best_c=$c
        [ -z "$best_w" ] || [ "$w" -lt "$best_w" ] && best_w=$w
        [ -z "$best_r" ] || [ "$rd" -lt "$best_r" ] && best_r=$rd
        r=$((r + 1))
    done
    if [ $ok = 1 ]; then
        printf '%-28s %12s %12s %12s\n' "$label" "$best_c" "$(mbps "$best_w")" "$(mbps "$best_r")"
        echo "BENCH $label $best_c $(mbps "$best_w") $(mbps "$best_r")"
        pass "$label: connections and I/O"
    else
        fail "$label: connections and I/O"
    fi
done
