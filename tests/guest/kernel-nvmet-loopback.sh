#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-or-later
#
# Reference test: the in-guest Linux kernel nvmet (nvmet-tcp, null_blk memory
# backed namespace) on 127.0.0.1, driven by the in-guest Linux nvme-tcp host.
# Proves the harness and prints facts about the kernel target and about the
# commands the Linux host sends (nvmet trace events) for comparison with ours.
#
# Parameters (kernel command line nvmet.KEY=VALUE -> $NVMET_KEY):
#   NVMET_PORT   (4420)  listening port of the kernel target
#   NVMET_SUBNQN (nqn.2014-08.org.nvmexpress:nvmet-ref)
#   NVMET_MIB    (8)     MiB written and read back per cycle
#   NVMET_TRACE  (1)     trace the commands the kernel target receives
#   NVMET_IDLE   (7)     seconds to stay idle while connected (shows whether
#                        and when the host sends Keep Alive); 0 to skip
. /tests/lib.sh

ADDR=127.0.0.1
PORT=${NVMET_PORT:-4420}
NQN=${NVMET_SUBNQN:-nqn.2014-08.org.nvmexpress:nvmet-ref}
MIB=${NVMET_MIB:-8}
TRACE_ON=${NVMET_TRACE:-1}

trace_section() {
    [ "$TRACE_ON" = 1 ] || return 0
    info "nvmet trace: $1" ktarget_trace_summary
    ktarget_trace_clear
}

section "kernel target setup"
info "image" head -n 2 /etc/guest-image-info
require "kernel target setup" ktarget_setup "$NQN" "$ADDR" "$PORT" 64
if [ "$TRACE_ON" = 1 ]; then
    ktarget_trace_on || echo "note: tracing unavailable"
fi

section "discovery"
step "discover lists $NQN" discover_check "$ADDR" "$PORT" "$NQN"
trace_section "discovery (nvme discover)"
info "discovery log (json)" nvme discover -t tcp -a "$ADDR" -s "$PORT" -o json
ktarget_trace_clear

# a persistent discovery controller, to show its Identify data
DISC=nqn.2014-08.org.nvmexpress.discovery
if step "connect to the discovery controller (persistent)" \
        nvme connect -t tcp -a "$ADDR" -s "$PORT" -n "$DISC"; then
    wait_ctrl "$DISC" 10
    dc=$(nvme_ctrl "$DISC")
    info "nvme id-ctrl /dev/$dc (discovery controller)" nvme id-ctrl "/dev/$dc"
    info "sysfs of the discovery controller $dc" sh -c "cd /sys/class/nvme/$dc && grep -H . cntrltype dctype kato queue_count sqsize transport address subsysnqn 2>/dev/null"
    trace_section "persistent discovery controller connect"
    step "disconnect the discovery controller" nvme disconnect -n "$DISC"
    wait_gone "$DISC" 10
    ktarget_trace_clear
fi

probes=0
digest_probe_on > /dev/null 2>&1 && probes=1

first=1
for mode in plain digest; do
    if [ $mode = digest ]; then
        opts="--hdr-digest --data-digest"
    else
        opts=""
    fi
    section "cycle: $mode"
    # shellcheck disable=SC2086
    if ! step "connect ($mode)" nvme connect -t tcp -a "$ADDR" -s "$PORT" -n "$NQN" $opts; then
        continue
    fi
    step "controller live ($mode)" wait_ctrl "$NQN"
    dev=$(wait_ns "$NQN" 1 20)
    if ! check "namespace block device appears ($mode)" test -n "$dev"; then
        nvme disconnect -n "$NQN" > /dev/null 2>&1
        continue
    fi
    echo "namespace device: $dev ($(dev_size_bytes "$dev") bytes), controller $(nvme_ctrl "$NQN")"
    if [ $probes = 1 ]; then
        # per queue: digests requested in the ICReq, MAXH2CDATA from the ICResp
        hd=0; [ $mode = digest ] && hd=1
        step_v "ICReq/ICResp digests hdr=$hd data=$hd on every queue ($mode)" digest_probe_check $hd $hd
    fi
    if [ $first = 1 ]; then
        first=0
        sleep 1   # let the scan work finish before dumping the trace
        trace_section "connect + scan ($mode)"
        c=$(nvme_ctrl "$NQN")
        info "nvme id-ctrl /dev/$c" nvme id-ctrl "/dev/$c"
        info "nvme id-ctrl /dev/$c (json)" nvme id-ctrl "/dev/$c" -o json
        info "nvme id-ns $dev" nvme id-ns "$dev"
        info "nvme list-subsys" nvme list-subsys
        info "nvme list" nvme list
        info "sysfs /sys/class/nvme/$c" sh -c "
            for f in /sys/class/nvme/$c/*; do
                [ -f \"\$f\" ] && [ -r \"\$f\" ] || continue
                v=\$(head -c 300 \"\$f\" 2>/dev/null | tr '\n' ' ') || continue
                echo \"\$(basename \"\$f\") = \$v\"
            done"
        info "sysfs queue limits of $dev" sh -c "
            cd /sys/block/$(basename "$dev")/queue && for f in logical_block_size max_hw_sectors_kb max_sectors_kb max_segments discard_max_hw_bytes write_zeroes_max_bytes write_cache; do echo \"\$f = \$(cat \$f)\"; done"
    else
        trace_section "connect + scan ($mode)"
    fi
    if [ $mode = plain ] && [ "${NVMET_IDLE:-7}" -gt 0 ] 2>/dev/null; then
        ktarget_trace_clear
        sleep "${NVMET_IDLE:-7}"
        trace_section "idle for ${NVMET_IDLE:-7} s while connected (kato $(cat /sys/class/nvme/$(nvme_ctrl "$NQN")/kato) s)"
    fi

    step "write $MIB MiB random data ($mode)" write_random_to "$dev" "$MIB" 0 "$mode"
    step "disconnect ($mode)" nvme disconnect -n "$NQN"
    step "controller gone ($mode)" wait_gone "$NQN"
    ktarget_trace_clear
    step "reconnect ($mode)" nvme connect -t tcp -a "$ADDR" -s "$PORT" -n "$NQN" $opts
    dev=$(wait_ns "$NQN" 1 20)
    if check "namespace back after reconnect ($mode)" test -n "$dev"; then
        step "read back and compare sha256 ($mode)" verify_from "$dev" "$MIB" 0 "$mode"
    fi
    trace_section "reconnect + read ($mode, I/O included)"
    step "final disconnect ($mode)" nvme disconnect -n "$NQN"
    step "controller gone after final disconnect ($mode)" wait_gone "$NQN"
    trace_section "disconnect ($mode)"
done

ktarget_trace_off
digest_probe_off
section "teardown"
step "kernel target teardown" ktarget_teardown
exit 0
