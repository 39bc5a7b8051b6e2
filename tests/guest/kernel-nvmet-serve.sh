#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-or-later
#
# Serve the in-guest Linux kernel nvmet (null_blk, memory backed) to the
# outside world: a reference target that other test runs can reach through
# QEMU's user-network port forwarding, e.g.
#
#   tests/guest/run.sh --qemu Q --test kernel-nvmet-serve \
#       --hostfwd tcp:127.0.0.1:4420-:4420 --param seconds=300 &
#   # wait for "SERVE-READY" in its output, then from another guest:
#   tests/guest/run.sh --qemu Q --test nvme-io --param subnqn=nqn.2014-08.org.nvmexpress:nvmet-ref
#
# Parameters: NVMET_PORT (4420), NVMET_SUBNQN (nqn.2014-08.org.nvmexpress:
# nvmet-ref), NVMET_SIZE_MIB (64), NVMET_SECONDS (300: serve this long),
# NVMET_TRACE (1: print the commands the target received at the end).
. /tests/lib.sh

PORT=${NVMET_PORT:-4420}
NQN=${NVMET_SUBNQN:-nqn.2014-08.org.nvmexpress:nvmet-ref}
SECS=${NVMET_SECONDS:-300}

require "kernel target setup on 0.0.0.0:$PORT" ktarget_setup "$NQN" 0.0.0.0 "$PORT" "${NVMET_SIZE_MIB:-64}"
[ "${NVMET_TRACE:-1}" = 1 ] && ktarget_trace_on
echo "SERVE-READY: $NQN on tcp port $PORT for $SECS s"
# serve until the time is up (connected controllers are then dropped)
end=$(( $(cut -d. -f1 /proc/uptime) + SECS ))
while [ "$(cut -d. -f1 /proc/uptime)" -lt "$end" ]; do sleep 1; done
if [ "${NVMET_TRACE:-1}" = 1 ]; then
    info "commands received by the kernel target" ktarget_trace_summary
    ktarget_trace_off
fi
step "kernel target teardown" ktarget_teardown
exit 0
