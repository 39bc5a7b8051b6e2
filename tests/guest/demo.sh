#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-or-later
#
# The demo (scripts/demo.sh): the guest's Linux nvme-tcp host discovers the
# NVMe-oF TCP target that runs inside the same QEMU process (10.0.2.2 from
# the guest), connects, writes random data, reconnects and verifies it.
#
# Parameters: NVMET_SUBNQN, NVMET_HOSTNQN, NVMET_PORT (4420), NVMET_MIB (16)
. /tests/lib.sh

ADDR=10.0.2.2
PORT=${NVMET_PORT:-4420}
NQN=${NVMET_SUBNQN:?}
HOSTNQN=${NVMET_HOSTNQN:-$(cat /etc/nvme/hostnqn)}
MIB=${NVMET_MIB:-16}
STEP_VERBOSE=1

connect() {
    nvme connect -t tcp -a "$ADDR" -s "$PORT" -n "$NQN" --hostnqn="$HOSTNQN" \
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

section "Discovery: nvme discover -t tcp -a $ADDR -s $PORT"
require "discover" discover_check "$ADDR" "$PORT" "$NQN"

section "Connect with header and data digests"
require "connect $NQN" connect --hdr-digest --data-digest
step_v "controller and namespace" show_ctrl
dev=$(nvme_ns_dev "$NQN" 1)

section "Write $MIB MiB of random data to $dev"
step "write" write_random_to "$dev" "$MIB" 0 demo

section "Disconnect, reconnect, read back and compare"
step "disconnect" disconnect
require "reconnect" connect
dev=$(nvme_ns_dev "$NQN" 1)
step "read back, sha256 matches" verify_from "$dev" "$MIB" 0 demo
step "disconnect" disconnect
