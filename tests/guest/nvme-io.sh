#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-or-later
#
# I/O test of an NVMe/TCP target with the Linux nvme-tcp host.  By default the
# target is OUR target inside the QEMU process (listening on the host's
# 127.0.0.1, i.e. 10.0.2.2 from the guest).  With NVMET_SELFTARGET=1 the
# script first sets up the in-guest kernel nvmet on 127.0.0.1 and tests that
# (used to validate this script).
#
# Parameters (kernel command line nvmet.KEY=VALUE -> $NVMET_KEY):
#   NVMET_ADDR        target address (10.0.2.2; 127.0.0.1 with SELFTARGET)
#   NVMET_PORT        target port (4420)
#   NVMET_SUBNQN      subsystem NQN (required unless NVMET_SELFTARGET=1)
#   NVMET_HOSTNQN     host NQN passed with --hostnqn (optional)
#   NVMET_NSID        namespace to use (1)
#   NVMET_MIB         MiB per data cycle (8); the namespace must hold
#                     at least 3 x NVMET_MIB MiB (+1 MiB)
#   NVMET_SELFTARGET  1: set up the in-guest kernel target first
#   NVMET_CONNECT_EXTRA  extra nvme connect options, comma separated
#                     (e.g. --ctrl-loss-tmo=5,--keep-alive-tmo=10)
#   NVMET_DISCARD     0: skip the blkdiscard tests (1)
#   NVMET_NS2         NSID of a second namespace to write and verify (none)
#   NVMET_TRACE       1: with SELFTARGET, print the kernel target's trace
# Features (scripts/kernel-matrix.sh): io (discovery, plain data cycles,
# two I/O queues, deallocate / write zeroes, out-of-range I/O, a second
# namespace) and digest (header and data digests).
#
#   NVMET_STRICT_LBA  1: out-of-range reads must fail with LBA Out of Range
#                     (default 1; 0 with SELFTARGET: the kernel target
#                     returns Internal Error), 0: any NVMe error status
. /tests/lib.sh

SELF=${NVMET_SELFTARGET:-0}
if [ "$SELF" = 1 ]; then
    ADDR=${NVMET_ADDR:-127.0.0.1}
    NQN=${NVMET_SUBNQN:-nqn.2014-08.org.nvmexpress:nvmet-self}
else
    ADDR=${NVMET_ADDR:-10.0.2.2}
    NQN=${NVMET_SUBNQN:-}
fi
PORT=${NVMET_PORT:-4420}
NSID=${NVMET_NSID:-1}
MIB=${NVMET_MIB:-8}
HOSTNQN=${NVMET_HOSTNQN:-}
# The kernel nvmet (bdev backend) answers out-of-range LBAs with Internal
# Error (0x6006) after the block layer rejects the bio; a conforming target
# answers LBA Out of Range (0x80).  Strict by default except in self mode.
if [ "$SELF" = 1 ]; then STRICT_LBA=${NVMET_STRICT_LBA:-0}; else STRICT_LBA=${NVMET_STRICT_LBA:-1}; fi
EXTRA=$(echo "${NVMET_CONNECT_EXTRA:-}" | tr ',' ' ')

if [ -z "$NQN" ]; then
    fail "parameters" "NVMET_SUBNQN is required (run.sh --param subnqn=NQN), or use --param selftarget=1"
    exit 1
fi
echo "target: tcp $ADDR:$PORT subnqn=$NQN nsid=$NSID hostnqn=${HOSTNQN:-(default $(cat /etc/nvme/hostnqn))} mib=$MIB self=$SELF"

# connect [extra nvme-connect options...]
connect() {
    # shellcheck disable=SC2086
    nvme connect -t tcp -a "$ADDR" -s "$PORT" -n "$NQN" ${HOSTNQN:+--hostnqn="$HOSTNQN"} $EXTRA "$@"
}
disconnect() {
    nvme disconnect -n "$NQN" || return 1
    wait_gone "$NQN" 20 || { echo "controller(s) still present: $(nvme_ctrls "$NQN")"; return 1; }
}
# make sure no controller of an earlier failed step stays around
cleanup_ctrls() { [ -z "$(nvme_ctrls "$NQN")" ] || nvme disconnect -n "$NQN" > /dev/null 2>&1; wait_gone "$NQN" 20; }

# connect_and_wait NAME [opts]: connect step + namespace; sets $dev
connect_and_wait() {
    _name=$1; shift
    dev=""
    step "connect ($_name)" connect "$@" || return 1
    if ! step "controller live ($_name)" wait_ctrl "$NQN" 20; then
        info "controller state" sh -c "for c in $(nvme_ctrls "$NQN"); do echo \$c: \$(cat /sys/class/nvme/\$c/state); done"
        return 1
    fi
    dev=$(wait_ns "$NQN" "$NSID" 20)
    check "namespace $NSID block device appears ($_name)" test -n "$dev" || return 1
    echo "namespace device: $dev ($(dev_size_bytes "$dev") bytes), controller(s): $(nvme_ctrls "$NQN")"
}

if [ "$SELF" = 1 ]; then
    section "self target (in-guest kernel nvmet)"
    require "kernel target setup" ktarget_setup "$NQN" "$ADDR" "$PORT" $((MIB * 4 + 16))
    [ "${NVMET_TRACE:-0}" = 1 ] && ktarget_trace_on
fi

section "discovery"
feature io
step "discover lists $NQN (tcp, trsvcid $PORT)" discover_check "$ADDR" "$PORT" "$NQN" ${HOSTNQN:+--hostnqn="$HOSTNQN"}

# ---------------------------------------------------------------- data cycles
probes=0
if digest_probe_on > "$LIB_TMP/probe.out" 2>&1; then
    probes=1
else
    echo "note: digest probes unavailable: $(cat "$LIB_TMP/probe.out")"
fi

for mode in plain digest; do
    section "write / reconnect / read: $mode"
    feature io
    if [ $mode = digest ]; then
        feature digest
        need cap_digest -- "header and data digests" || continue
    fi
    if [ $mode = digest ]; then opts="--hdr-digest --data-digest"; hd=1; else opts=""; hd=0; fi
    cleanup_ctrls
    [ $probes = 0 ] || : > "$TRACE/trace"
    # shellcheck disable=SC2086
    connect_and_wait "$mode" $opts || { cleanup_ctrls; continue; }
    if [ $probes = 1 ]; then
        step_v "ICReq/ICResp digests hdr=$hd data=$hd on every queue ($mode)" digest_probe_check $hd $hd
    else
        skip "digest negotiation check ($mode)" "no fprobe/BTF support in the guest kernel"
    fi
    if [ $mode = plain ]; then
        c=$(nvme_ctrl "$NQN")
        echo "controller $c: $(grep -H . /sys/class/nvme/$c/address /sys/class/nvme/$c/hostnqn /sys/class/nvme/$c/kato /sys/class/nvme/$c/queue_count /sys/class/nvme/$c/sqsize 2>/dev/null | sed 's|.*/||' | tr '\n' ' ')"
        [ -z "$HOSTNQN" ] || check "controller uses hostnqn $HOSTNQN" test "$(cat /sys/class/nvme/$c/hostnqn)" = "$HOSTNQN"
    fi
    size=$(dev_size_bytes "$dev")
    [ $mode = plain ] && check "namespace holds 3 x $MIB MiB + 1 MiB ($size bytes)" test "$size" -ge $(( (3 * MIB + 1) * 1048576 ))
    step "write $MIB MiB random data ($mode)" write_random_to "$dev" "$MIB" 0 "$mode"
    step "disconnect ($mode)" disconnect
    # shellcheck disable=SC2086
    connect_and_wait "$mode, reconnect" $opts || { cleanup_ctrls; continue; }
    step "read back and compare sha256 ($mode)" verify_from "$dev" "$MIB" 0 "$mode"
    step "disconnect after read ($mode)" disconnect
done
digest_probe_off

# ---------------------------------------------------------------- multi-queue
section "two I/O queues in parallel"
feature io
cleanup_ctrls
ncpu=$(nproc)
if connect_and_wait "nr-io-queues=2" --nr-io-queues=2; then
    ctrl=$(nvme_ctrl "$NQN")
    step "queue_count is 3 (admin + 2 I/O)" test "$(cat /sys/class/nvme/$ctrl/queue_count)" = 3 ||
        echo "queue_count = $(cat /sys/class/nvme/$ctrl/queue_count)"

    # the host's nvme_setup_cmd trace events tell which queue each command used
    host_trace=0
    host_trace_on && host_trace=1

    par_write() {
        make_random "$LIB_TMP/pa.bin" "$MIB" && make_random "$LIB_TMP/pb.bin" "$MIB" || return 1
        file_sha "$LIB_TMP/pa.bin" > "$LIB_TMP/pa.sha"; file_sha "$LIB_TMP/pb.bin" > "$LIB_TMP/pb.sha"
        c1=0; [ "$ncpu" -ge 2 ] && c1=1
        taskset -c 0 dd if="$LIB_TMP/pa.bin" of="$dev" bs=1M seek=0 oflag=direct conv=notrunc,fsync 2> "$LIB_TMP/pa.dd" &
        p1=$!
        taskset -c $c1 dd if="$LIB_TMP/pb.bin" of="$dev" bs=1M seek="$MIB" oflag=direct conv=notrunc,fsync 2> "$LIB_TMP/pb.dd" &
        p2=$!
        wait $p1; r1=$?; wait $p2; r2=$?
        cat "$LIB_TMP/pa.dd" "$LIB_TMP/pb.dd"
        rm -f "$LIB_TMP/pa.bin" "$LIB_TMP/pb.bin"
        [ $r1 = 0 ] && [ $r2 = 0 ]
    }
    par_read() {
        c1=0; [ "$ncpu" -ge 2 ] && c1=1
        taskset -c 0 sh -c "dd if=$dev bs=1M count=$MIB skip=0 iflag=direct 2>/dev/null | sha256sum > $LIB_TMP/ra.sha" &
        p1=$!
        taskset -c $c1 sh -c "dd if=$dev bs=1M count=$MIB skip=$MIB iflag=direct 2>/dev/null | sha256sum > $LIB_TMP/rb.sha" &
        p2=$!
        wait $p1; wait $p2
        a=$(cut -d' ' -f1 "$LIB_TMP/ra.sha"); b=$(cut -d' ' -f1 "$LIB_TMP/rb.sha")
        echo "region A: $a (expected $(cat "$LIB_TMP/pa.sha"))"
        echo "region B: $b (expected $(cat "$LIB_TMP/pb.sha"))"
        [ "$a" = "$(cat "$LIB_TMP/pa.sha")" ] && [ "$b" = "$(cat "$LIB_TMP/pb.sha")" ]
    }
    step "two concurrent writes of $MIB MiB (CPU 0 and CPU 1)" par_write
    step "two concurrent reads compare sha256" par_read
    if [ $host_trace = 1 ] && [ "$ncpu" -ge 2 ]; then
        host_trace_off
        queues_used() {
            host_trace_ops | awk '$3 ~ /^nvme_cmd_(read|write)$/ {
                    print "qid " $2 ": " $1 " x " $3; if (!seen[$2]++ && $2 > 0) n++ }
                END { print n + 0 " I/O queues carried reads/writes"; exit !(n >= 2) }'
        }
        step_v "both I/O queues carried reads and writes" queues_used
    else
        host_trace_off
        skip "both I/O queues carried reads and writes" "no nvme trace events or a single CPU"
    fi

    # ------------------------------------------------------------ discard
    if [ "${NVMET_DISCARD:-1}" = 1 ]; then
        section "deallocate (blkdiscard) and write zeroes (blkdiscard -z)"
        b=$(basename "$dev")
        info "discard / write-zeroes limits of $b" sh -c "cd /sys/block/$b/queue && grep . discard_granularity discard_max_bytes discard_max_hw_bytes write_zeroes_max_bytes"
        off=$((2 * MIB * 1048576)); len=$((MIB * 1048576))
        dlfeat=$(nvme id-ns "$dev" -o json 2>/dev/null | sed -n 's/.*"dlfeat" *: *\([0-9]*\).*/\1/p')
        step "write $MIB MiB random data at $((2 * MIB)) MiB" write_random_to "$dev" "$MIB" $((2 * MIB)) dsm
        host_trace_on || true
        step "deallocate $MIB MiB (blkdiscard -o $off -l $len)" $BLKDISCARD -v -o "$off" -l "$len" "$dev"
        if [ $(( ${dlfeat:-0} & 7 )) = 1 ]; then
            step "deallocated range reads back as zeros (DLFEAT=$dlfeat)" verify_zero "$dev" "$MIB" $((2 * MIB))
        else
            if verify_zero "$dev" "$MIB" $((2 * MIB)) > /dev/null; then r=zeros; else r="not zeros"; fi
            echo "note: deallocated range reads back as $r (DLFEAT=${dlfeat:-?}: reading zeros not promised)"
        fi
        host_trace_off
        if [ $host_trace = 1 ]; then
            step_v "blkdiscard sent Dataset Management (deallocate)" sh -c \
                "grep 'nvme_setup_cmd:.*nvme_cmd_dsm' $TRACE/trace | sed 's/.*nvme_setup_cmd: //' | head -n 4 | grep ."
        fi
        step "write $MIB MiB random data at $((2 * MIB)) MiB again" write_random_to "$dev" "$MIB" $((2 * MIB)) wz
        host_trace_on || true
        step "write zeroes $MIB MiB (blkdiscard -z -o $off -l $len)" $BLKDISCARD -v -z -o "$off" -l "$len" "$dev"
        host_trace_off
        if [ $host_trace = 1 ]; then
            step_v "blkdiscard -z sent Write Zeroes" sh -c \
                "grep 'nvme_setup_cmd:.*nvme_cmd_write_zeroes' $TRACE/trace | sed 's/.*nvme_setup_cmd: //' | head -n 4 | grep ."
        fi
        step "written-zeroes range reads back as zeros" verify_zero "$dev" "$MIB" $((2 * MIB))
        cp "$LIB_TMP/pa.sha" "$LIB_TMP/pa_check.sha" 2>/dev/null
        step "data next to the zeroed range intact" verify_from "$dev" "$MIB" 0 pa_check
    else
        skip "blkdiscard tests" "NVMET_DISCARD=0"
    fi

    # ------------------------------------------------------------ beyond the end
    section "I/O beyond the end of the namespace"
    size=$(dev_size_bytes "$dev")
    lbs=$(cat "/sys/block/$(basename "$dev")/queue/logical_block_size")
    nlb=$((size / lbs))
    eof_read() {
        out=$(dd if="$dev" of=/dev/null bs="$lbs" skip="$nlb" count=1 iflag=direct 2>&1); rc=$?
        echo "$out"
        [ $rc = 0 ] && echo "$out" | grep -q '^0+0 records in'
    }
    step "read at the device end returns EOF (block layer)" eof_read
    oor_read() {  # SLBA NLB(0-based)
        out=$(nvme read "$dev" --start-block="$1" --block-count="$2" --data-size=$(( ($2 + 1) * lbs )) --data=/dev/null 2>&1); rc=$?
        echo "exit $rc: $out"
        [ $rc != 0 ] || return 1
        # an NVMe status (not a transport error or timeout) must come back
        echo "$out" | grep -q 'NVMe status' || return 1
        [ "$STRICT_LBA" = 1 ] || return 0
        echo "$out" | grep -i -q -e 'out of range' -e '(0x4080)' -e '(0x80)' -e '(0x2080)'
    }
    if [ "$STRICT_LBA" = 1 ]; then want="LBA Out of Range"; else want="an NVMe error status"; fi
    step "read of LBA $nlb (one past the end) fails with $want" oor_read "$nlb" 0
    step "read of LBAs $((nlb - 1))..$nlb (straddling the end) fails with $want" oor_read $((nlb - 1)) 1
    inrange_read() {
        nvme read "$dev" --start-block=$((nlb - 1)) --block-count=0 --data-size="$lbs" --data=/dev/null 2>&1
    }
    step "read of the last LBA still works" inrange_read
    step "controller still live after the errors" wait_ctrl "$NQN" 5
    if [ -s "$LIB_TMP/pa.sha" ]; then
        cp "$LIB_TMP/pa.sha" "$LIB_TMP/final.sha"
        step "data still intact" verify_from "$dev" "$MIB" 0 final
    fi
    # ------------------------------------------------------------ second namespace
    if [ -n "${NVMET_NS2:-}" ]; then
        section "a second namespace (nsid $NVMET_NS2)"
        dev2=$(wait_ns "$NQN" "$NVMET_NS2" 20)
        if check "namespace $NVMET_NS2 block device appears" test -n "$dev2"; then
            step "write $MIB MiB random data to namespace $NVMET_NS2" write_random_to "$dev2" "$MIB" 0 ns2
            step "namespace $NVMET_NS2 reads back" verify_from "$dev2" "$MIB" 0 ns2
            if [ -s "$LIB_TMP/pa.sha" ]; then
                cp "$LIB_TMP/pa.sha" "$LIB_TMP/ns1.sha"
                step "namespace $NSID unchanged by writes to namespace $NVMET_NS2" verify_from "$dev" "$MIB" 0 ns1
            fi
        fi
    fi
    step "final disconnect" disconnect
else
    cleanup_ctrls
fi

if [ "$SELF" = 1 ]; then
    if [ "${NVMET_TRACE:-0}" = 1 ]; then
        info "kernel target trace" ktarget_trace_dump
        ktarget_trace_off
    fi
    step "kernel target teardown" ktarget_teardown
fi
exit 0
