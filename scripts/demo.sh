#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# The demo: build QEMU with the NVMe-oF TCP target and a Linux guest, then
# start QEMU with the target on its command line and the guest inside it.
# The guest's nvme-tcp host discovers the target, connects with
# bidirectional DH-HMAC-CHAP authentication (ffdhe3072) and secure channel
# concatenation (nvme connect --concat: NEWTLSPSK, then TLS 1.3 with the
# generated PSK), writes random data, rotates the PSK three times
# (REPLACETLSPSK through tls_configured_key), reconnects and verifies the
# data after every step.
# Everything is built on first use.
#
#   scripts/demo.sh [--kernel SPEC] [--shell]
#
#   --kernel SPEC  the guest kernel (default $NVMET_GUEST_KERNEL, else the
#                  default sid 7.x): a Debian version (6.1, 6.12, 6.18,
#                  7.3.4, ...), your kernel build tree (/path/to/linux), or
#                  BZIMAGE[,MODDIR] (MODDIR from make modules_install
#                  INSTALL_MOD_PATH=MODDIR); see scripts/build-guest.sh
#                  --help.  Older kernels do what they can (see
#                  tests/guest/demo.sh): without tls_configured_key the PSK is
#                  rotated through dhchap_secret, without concatenation the
#                  host only re-authenticates.
#   --shell        stay in the guest afterwards
#
# The target's trace (-trace 'nvmet_*') goes to build/demo/target-trace.log
# and the guest's console with its kernel log (dmesg) to
# build/demo/guest.log: read them side by side.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

extra=()
kspec=${NVMET_GUEST_KERNEL:-}
while [ $# -gt 0 ]; do
    case $1 in
        --shell) extra+=(--shell) ;;
        --kernel) kspec=${2:?--kernel needs a SPEC}; shift ;;
        --kernel=*) kspec=${1#*=} ;;
        -h|--help) sed -n '3,/^[^#]/{/^#/p}' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
        *) die "unknown argument '$1' (see --help)" ;;
    esac
    shift
done

"$NVMET_TOP/scripts/build-qemu.sh" qemu-system-x86_64 qemu-img
image=$("$NVMET_TOP/scripts/build-guest.sh" ${kspec:+--kernel "$kspec"})
OUTDIR=$NVMET_BUILD/demo
mkdir -p "$OUTDIR"

QEMU=$NVMET_BUILD/qemu/build/qemu-system-x86_64
DISK=$NVMET_BUILD/demo-disk.qcow2
SUBNQN=nqn.2026-11.org.qemu:demo
"$NVMET_BUILD/qemu/build/qemu-img" create -q -f qcow2 "$DISK" 1G


# The DH-HMAC-CHAP keys of the demo host (the guest has the same file)
. "$NVMET_TOP/tests/guest/data/auth-keys.sh"
HOSTNQN=nqn.2014-08.org.nvmexpress:uuid:00000000-0000-4000-8000-000000000002
KEYS=$NVMET_BUILD/demo-keys
rm -rf "$KEYS" && mkdir -m 0700 "$KEYS"
printf '%s' "$AUTH_H2_KEY" > "$KEYS/host.key"
printf '%s' "$AUTH_H2_CKEY" > "$KEYS/ctrl.key"

# The target is a few -object options next to an ordinary -blockdev: the
# guest reaches QEMU's 127.0.0.1:4420 as 10.0.2.2:4420 (user networking).
rm -f "$OUTDIR/target-trace.log"
set -x
"$NVMET_TOP/tests/guest/run.sh" --qemu "$QEMU" --image "$image" --test demo \
    --timeout 600 --dmesg --log "$OUTDIR/guest.log" \
    --param subnqn=$SUBNQN "${extra[@]+"${extra[@]}"}" -- \
    -trace "enable=nvmet_*,file=$OUTDIR/target-trace.log" \
    -blockdev driver=file,filename="$DISK",node-name=file0 \
    -blockdev driver=qcow2,file=file0,node-name=disk0 \
    -object secret,id=hostkey,file="$KEYS/host.key" \
    -object secret,id=ctrlkey,file="$KEYS/ctrl.key" \
    -object nvmet-port,id=port0,traddr=127.0.0.1,trsvcid=4420,tls=allowed \
    -object nvmet-subsystem,id=sub0,nqn=$SUBNQN,ports=port0 \
    -object nvmet-namespace,id=ns1,subsystem=sub0,nsid=1,node-name=disk0 \
    -object nvmet-host,id=host0,nqn=$HOSTNQN,subsystems=sub0,dhchap-secret=hostkey,dhchap-ctrl-secret=ctrlkey,dhchap-hashes=sha256,dhchap-dhgroups=ffdhe3072
set +x
echo "demo: the target's trace: $OUTDIR/target-trace.log" \
     "($(grep -c 'nvmet_auth_success' "$OUTDIR/target-trace.log" 2>/dev/null || echo 0) authentications," \
     "$(grep -c 'REPLACETLSPSK: generated PSK' "$OUTDIR/target-trace.log" 2>/dev/null || echo 0) REPLACETLSPSK)"
echo "demo: the guest's console and dmesg: $OUTDIR/guest.log"
