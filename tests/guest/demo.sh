#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-or-later
#
# The demo (scripts/demo.sh): the guest's Linux nvme-tcp host discovers the
# NVMe-oF TCP target that runs inside the same QEMU process (10.0.2.2 from
# the guest), connects with bidirectional DH-HMAC-CHAP (keys of host 2 in
# /tests/data/auth-keys.sh), writes random data, re-authenticates through
# sysfs, reconnects and verifies the data.
#
# Parameters: NVMET_SUBNQN, NVMET_PORT (4420), NVMET_MIB (16)
. /tests/lib.sh
. /tests/data/auth-keys.sh

ADDR=10.0.2.2
PORT=${NVMET_PORT:-4420}
NQN=${NVMET_SUBNQN:?}
HOSTNQN=nqn.2014-08.org.nvmexpress:uuid:00000000-0000-4000-8000-000000000002
HOSTID=00000000-0000-4000-8000-000000000002
MIB=${NVMET_MIB:-16}
STEP_VERBOSE=1

connect() {
    nvme connect -t tcp -a "$ADDR" -s "$PORT" -n "$NQN" --hostnqn="$HOSTNQN" \
        --hostid="$HOSTID" --dhchap-secret="$AUTH_H2_KEY" \
        --dhchap-ctrl-secret="$AUTH_H2_CKEY" "$@" || return 1
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

section "Discovery: nvme discover -t tcp -a $ADDR -s $PORT --hostnqn=$HOSTNQN"
require "discover" discover_check "$ADDR" "$PORT" "$NQN" --hostnqn="$HOSTNQN" --hostid="$HOSTID"

section "Connect with header and data digests"
require "connect $NQN" connect --hdr-digest --data-digest
step_v "controller and namespace" show_ctrl
dev=$(nvme_ns_dev "$NQN" 1)

auth_log() { dmesg | grep -E "$(nvme_ctrl "$NQN"): .*(authenticat)"; }
step_v "DH-HMAC-CHAP: host and controller authenticated" auth_log

section "Write $MIB MiB of random data to $dev"
step "write" write_random_to "$dev" "$MIB" 0 demo

section "Re-authenticate: echo <key> > /sys/class/nvme/$(nvme_ctrl "$NQN")/dhchap_secret"
reauth() {
    c=$(nvme_ctrl "$NQN")
    n=$(dmesg | grep -c "$c: qid 0: authenticated with")
    printf '%s' "$AUTH_H2_KEY" > "/sys/class/nvme/$c/dhchap_secret" || return 1
    wait_for 20 sh -c "[ \$(dmesg | grep -c '$c: qid 0: authenticated with') -gt $n ]" || return 1
    dmesg | grep "$c: " | tail -n 3
}
step_v "re-authentication" reauth
step "read back after re-authentication" verify_from "$dev" "$MIB" 0 demo

section "Disconnect, reconnect, read back and compare"
step "disconnect" disconnect
require "reconnect" connect
dev=$(nvme_ns_dev "$NQN" 1)
step "read back, sha256 matches" verify_from "$dev" "$MIB" 0 demo
step "disconnect" disconnect
