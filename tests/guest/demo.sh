#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-or-later
#
# The demo (scripts/demo.sh): the guest's Linux nvme-tcp host discovers the
# NVMe-oF TCP target that runs inside the same QEMU process (10.0.2.2 from
# the guest), connects with bidirectional DH-HMAC-CHAP (keys of host 2 in
# /tests/data/auth-keys.sh) and secure channel concatenation (--concat:
# NEWTLSPSK, then TLS 1.3 with the generated PSK), writes random data,
# rotates the PSK three times (REPLACETLSPSK) verifying the data after each,
# reconnects and verifies it again.
#
# With an older kernel (scripts/demo.sh --kernel SPEC) the demo does what
# that kernel can: without tls_configured_key (6.18) the PSK is rotated by
# writing dhchap_secret (REPLACETLSPSK on the live admin queue), without
# concatenation (6.12, 6.1) the host re-authenticates with DH-HMAC-CHAP
# only; what is left out is reported as SKIP with the reason.
#
# Parameters: NVMET_SUBNQN, NVMET_ADDR (10.0.2.2), NVMET_PORT (4420),
# NVMET_MIB (16), NVMET_IO_QUEUES (I/O queues to ask for and to check,
# each carrying I/O; default: the host's choice)
. /tests/lib.sh
. /tests/data/auth-keys.sh

ADDR=${NVMET_ADDR:-10.0.2.2}
IOQ=${NVMET_IO_QUEUES:-}
PORT=${NVMET_PORT:-4420}
NQN=${NVMET_SUBNQN:?}
HOSTNQN=nqn.2014-08.org.nvmexpress:uuid:00000000-0000-4000-8000-000000000002
HOSTID=00000000-0000-4000-8000-000000000002
MIB=${NVMET_MIB:-16}
STEP_VERBOSE=1

connect() {
    nvme connect -t tcp -a "$ADDR" -s "$PORT" -n "$NQN" --hostnqn="$HOSTNQN" \
        --hostid="$HOSTID" --dhchap-secret="$AUTH_H2_KEY" \
        --dhchap-ctrl-secret="$AUTH_H2_CKEY" ${IOQ:+--nr-io-queues=$IOQ} \
        "$@" || return 1
    wait_ctrl "$NQN" 20 && wait_ns "$NQN" 1 20
}
disconnect() { nvme disconnect -n "$NQN" && wait_gone "$NQN" 20; }
show_ctrl() {
    c=$(nvme_ctrl "$NQN")
    echo "controller /dev/$c: $(cat /sys/class/nvme/$c/transport)" \
         "$(cat /sys/class/nvme/$c/address)"
    echo "model '$(cat /sys/class/nvme/$c/model | sed 's/ *$//')'," \
         "serial '$(cat /sys/class/nvme/$c/serial | sed 's/ *$//')'," \
         "cntlid $(cat /sys/class/nvme/$c/cntlid)," \
         "queues $(cat /sys/class/nvme/$c/queue_count)"
    nvme list
}

tlsinfo() {
    c=$(nvme_ctrl "$NQN")
    ser=$(cat /sys/class/nvme/$c/tls_key)
    echo "tls_key $ser: $(keyctl rdescribe 0x$ser | cut -d';' -f5-)"
}

section "Discovery: nvme discover -t tcp -a $ADDR -s $PORT --hostnqn=$HOSTNQN"
require "discover" discover_check "$ADDR" "$PORT" "$NQN" --hostnqn="$HOSTNQN" --hostid="$HOSTID"
# the entries carry the address the target advertises, the one used here
disc_traddr() {
    grep "^traddr:" "$LIB_TMP/disc.out"
    grep -q "^traddr: *$ADDR\$" "$LIB_TMP/disc.out" &&
        ! grep "^traddr:" "$LIB_TMP/disc.out" | grep -v -q "^traddr: *$ADDR\$"
}
step "discovery log entries give traddr $ADDR" disc_traddr

echo "kernel $(uname -r); $(head -n1 /etc/guest-userland-info 2>/dev/null)"
require "DH-HMAC-CHAP in this kernel" cap_auth
CONCAT=1
if ! why=$(cap_concat); then
    CONCAT=0
    skip "secure channel concatenation" "$why"
fi
auth_log() { dmesg | grep -E "$(nvme_ctrl "$NQN"): .*(authenticat)"; }
if [ $CONCAT = 1 ]; then
    section "Connect: DH-HMAC-CHAP (bidirectional) + secure channel concatenation"
    require "tlshd" start_tlshd
    keyctl link %:.nvme @us 2>/dev/null
    require "connect --concat $NQN" connect --concat
    step_v "controller and namespace" show_ctrl
    step_v "DH-HMAC-CHAP with NEWTLSPSK: host authenticated (with --concat Linux does not check the controller response)" auth_log
    step_v "reconnected over TLS 1.3 with the generated PSK" tlsinfo
else
    section "Connect: DH-HMAC-CHAP (bidirectional)"
    require "connect $NQN" connect
    step_v "controller and namespace" show_ctrl
    step_v "DH-HMAC-CHAP: host and controller authenticated" auth_log
fi
if [ -n "$IOQ" ]; then
    queues() { test "$(cat /sys/class/nvme/$(nvme_ctrl "$NQN")/queue_count)" = $((IOQ + 1)); }
    step "$IOQ I/O queues (queue_count $((IOQ + 1)))" queues
fi
dev=$(nvme_ns_dev "$NQN" 1)

section "Write $MIB MiB of random data to $dev"
step "write" write_random_to "$dev" "$MIB" 0 demo
if [ -n "$IOQ" ]; then
    # a read pinned to each CPU: each I/O queue carries a command
    each_queue() {
        host_trace_on || return 1
        _cpu=0
        while [ $_cpu -lt "$IOQ" ]; do
            /usr/bin/taskset -c $_cpu dd if="$dev" of=/dev/null bs=64k count=4 \
                skip=$_cpu iflag=direct 2>/dev/null || return 1
            _cpu=$((_cpu + 1))
        done
        host_trace_off
        host_trace_ops
        _q=1
        while [ $_q -le "$IOQ" ]; do
            host_trace_ops | grep -q " $_q nvme_cmd_read" || { echo "no read on qid $_q"; return 1; }
            _q=$((_q + 1))
        done
    }
    step_v "reads on each of the $IOQ I/O queues" each_queue
fi

# REPLACETLSPSK by re-authentication (dhchap_secret), or plain
# re-authentication without concatenation: the live queue re-authenticates
reauth() {
    c=$(nvme_ctrl "$NQN")
    n=$(dmesg | grep -c "$c: qid 0: authenticated")
    printf '%s' "$AUTH_H2_KEY" > /sys/class/nvme/$c/dhchap_secret || return 1
    wait_for 30 sh -c "[ \$(dmesg | grep -c '$c: qid 0: authenticated') -gt $n ]" || return 1
    dmesg | grep "$c: " | tail -n 2
}
rotate() {
    c=$(nvme_ctrl "$NQN")
    old=$(cat /sys/class/nvme/$c/tls_key)
    echo 0 > /sys/class/nvme/$c/tls_configured_key || return 1
    wait_for 30 sh -c "[ \"\$(cat /sys/class/nvme/$c/state)\" = live ] && [ -n \"\$(cat /sys/class/nvme/$c/tls_key)\" ] && [ \"\$(cat /sys/class/nvme/$c/tls_key)\" != $old ]" || return 1
    echo "tls_key $old -> $(cat /sys/class/nvme/$c/tls_key)"
    tlsinfo
}
for i in 1 2 3; do
    c=$(nvme_ctrl "$NQN")
    if [ $CONCAT = 1 ] && cap_tls_configured_key "$c" > /dev/null; then
        section "Rotate the PSK ($i): echo 0 > /sys/class/nvme/$c/tls_configured_key (REPLACETLSPSK)"
        step_v "REPLACETLSPSK $i, reconnected with the new PSK" rotate
    elif [ $CONCAT = 1 ]; then
        section "Rotate the PSK ($i): DH-HMAC-CHAP key written to /sys/class/nvme/$c/dhchap_secret (REPLACETLSPSK; this kernel has no tls_configured_key)"
        step_v "REPLACETLSPSK $i on the live admin queue" reauth
    else
        section "Re-authenticate ($i): DH-HMAC-CHAP key written to /sys/class/nvme/$c/dhchap_secret"
        step_v "re-authentication $i" reauth
    fi
    dev=$(nvme_ns_dev "$NQN" 1)
    step "read back after rotation $i, sha256 matches" verify_from "$dev" "$MIB" 0 demo
done

section "Disconnect, reconnect, read back and compare"
step "disconnect" disconnect
if [ $CONCAT = 1 ]; then
    require "reconnect --concat" connect --concat
else
    require "reconnect" connect
fi
dev=$(nvme_ns_dev "$NQN" 1)
step "read back, sha256 matches" verify_from "$dev" "$MIB" 0 demo
step "disconnect" disconnect
stop_tlshd
