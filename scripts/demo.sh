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
# The target listens on a UNIX socket only its owner can use; the guest
# reaches it as 10.0.2.100:4420 through user networking (guestfwd), so no
# host TCP port is open and several demos can run at once.
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
# build/demo/guest.log: read them side by side (build/demo-PID/ for a demo
# started while another one runs).
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

# The guest image does not need QEMU: build it meanwhile, at low priority
# (nice 10), so that it takes the core that GnuTLS's and QEMU's configure
# leave idle rather than slowing down their compiles.  apt first, so that
# the two never run apt at the same time.  (set -m: its own process group.)
# build-guest.sh prints the image directory on stdout, its progress on
# stderr.
"$NVMET_TOP/scripts/setup-apt.sh"
apt_install "${QEMU_BUILD_DEPS[@]}" "${GNUTLS_BUILD_DEPS[@]}"
mkdir -p "$NVMET_BUILD"
guest_log=$NVMET_BUILD/build-guest.log
guest_out=$NVMET_BUILD/build-guest.out
rm -f "$guest_out"
set -m
nice -n 10 "$NVMET_TOP/scripts/build-guest.sh" ${kspec:+--kernel "$kspec"} \
    < /dev/null > "$guest_out" 2> "$guest_log" &
guest_pid=$!
set +m
trap 'kill -- -$guest_pid 2>/dev/null || true' EXIT
log "building the guest image in the background (log: $guest_log)"
"$NVMET_TOP/scripts/build-qemu.sh" qemu-system-x86_64 qemu-img
if ! wait $guest_pid; then
    tail -n 30 "$guest_log" >&2
    die "scripts/build-guest.sh failed (log: $guest_log)"
fi
trap - EXIT
image=$(tail -n 1 "$guest_out")
[ -n "$image" ] && [ -d "$image" ] ||
    die "scripts/build-guest.sh printed no image directory (log: $guest_log)"
log "guest image: $image"
# the logs go to build/demo; a demo started while another one runs writes
# its own to build/demo-PID (the two do not share anything else)
OUTDIR=$NVMET_BUILD/demo
mkdir -p "$NVMET_BUILD"
exec 9> "$NVMET_BUILD/demo.lock"
if ! flock -n 9; then
    OUTDIR=$NVMET_BUILD/demo-$$
fi
mkdir -p "$OUTDIR"

QEMU=$NVMET_BUILD/qemu/build/qemu-system-x86_64
# everything of this run in a directory of its own (disk, keys, socket;
# mode 0700), short enough a path for a UNIX socket
RUN=$(mktemp -d "${TMPDIR:-/tmp}/nvmet-demo.XXXXXX")
trap 'rm -rf "$RUN"' EXIT
DISK=$RUN/disk.qcow2
SOCK=$RUN/nvmet.sock
SUBNQN=nqn.2026-11.org.qemu:demo
"$NVMET_BUILD/qemu/build/qemu-img" create -q -f qcow2 "$DISK" 1G

# The DH-HMAC-CHAP keys of the demo host (the guest has the same file)
. "$NVMET_TOP/tests/guest/data/auth-keys.sh"
HOSTNQN=nqn.2014-08.org.nvmexpress:uuid:00000000-0000-4000-8000-000000000002
KEYS=$RUN/keys
mkdir -m 0700 "$KEYS"
printf '%s' "$AUTH_H2_KEY" > "$KEYS/host.key"
printf '%s' "$AUTH_H2_CKEY" > "$KEYS/ctrl.key"

# The target is a few -object options next to an ordinary -blockdev.  Its
# port listens on $SOCK (mode 0600) and tells hosts 10.0.2.100:4420; user
# networking connects each guest connection to that address to the socket.
PORT='{"qom-type":"nvmet-port","id":"port0","addr":{"type":"unix","path":"'$SOCK'"},"traddr":"10.0.2.100","trsvcid":"4420","tls":"allowed"}'
rm -f "$OUTDIR/target-trace.log"
set -x
"$NVMET_TOP/tests/guest/run.sh" --qemu "$QEMU" --image "$image" --test demo \
    --timeout 600 --dmesg --log "$OUTDIR/guest.log" \
    --param subnqn=$SUBNQN --param addr=10.0.2.100 "${extra[@]+"${extra[@]}"}" \
    --guestfwd "tcp:10.0.2.100:4420-unix-connect:$SOCK" -- \
    -trace "enable=nvmet_*,file=$OUTDIR/target-trace.log" \
    -blockdev driver=file,filename="$DISK",node-name=file0 \
    -blockdev driver=qcow2,file=file0,node-name=disk0 \
    -object secret,id=hostkey,file="$KEYS/host.key" \
    -object secret,id=ctrlkey,file="$KEYS/ctrl.key" \
    -object "$PORT" \
    -object nvmet-subsystem,id=sub0,nqn=$SUBNQN,ports=port0 \
    -object nvmet-namespace,id=ns1,subsystem=sub0,nsid=1,node-name=disk0 \
    -object nvmet-host,id=host0,nqn=$HOSTNQN,subsystems=sub0,dhchap-secret=hostkey,dhchap-ctrl-secret=ctrlkey,dhchap-hashes=sha256,dhchap-dhgroups=ffdhe3072
set +x
echo "demo: the target's trace: $OUTDIR/target-trace.log" \
     "($(grep -c 'nvmet_auth_success' "$OUTDIR/target-trace.log" 2>/dev/null || echo 0) authentications," \
     "$(grep -c 'REPLACETLSPSK: generated PSK' "$OUTDIR/target-trace.log" 2>/dev/null || echo 0) REPLACETLSPSK)"
echo "demo: the guest's console and dmesg: $OUTDIR/guest.log"
