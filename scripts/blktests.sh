#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# Run blktests' nvme group in a Linux guest against the NVMe/TCP target
# inside the same QEMU, through blktests' external target control
# (NVME_TARGET_CONTROL, tests/guest/bin/nvmet-blktests-control, which talks
# QMP through tests/guest/run.sh --guest-qmp).  No root, configfs or kernel
# module is needed on the machine running QEMU for the tests themselves.
#
#   scripts/blktests.sh [options] [TEST...]
#
# TEST: 003 or nvme/003 (default: every nvme test that supports an external
# target, see DEFAULT_TESTS).  Prints blktests' result for each test, a
# table, and ends with "N passed, N failed".  Counted apart: tests blktests
# did not run (with blktests' reason), and "vacuous" ones, which blktests
# passed although the Linux host never connected to the target.  A target
# control error during a test counts as a failure.  Exit status 0 only if
# nothing failed.
#
# Options:
#   --quick          the CI subset (QUICK_TESTS) with 16 MiB namespaces
#   --img-size SIZE  blktests' NVME_IMG_SIZE, the size of each namespace
#                    (default 1G, blktests' default; nvme/012 needs 350m)
#   --fio-timeout S  blktests' TIMEOUT: caps each fio run at S seconds
#   --timeout S      kill the guest after S seconds (default 10800, with
#                    --quick 2400)
#   --mem MIB        guest memory (default 1536)
#   --kernel SPEC    the guest's kernel (default $NVMET_GUEST_KERNEL, else
#                    the image $NVMET_GUEST_IMAGE, else the default one): a
#                    Debian version, a build tree or BZIMAGE[,MODDIR], see
#                    scripts/build-guest.sh --help
#   --trace FILE     write the target's nvmet_* trace events to FILE
#   --keep           keep the work directory (images, logs) afterwards
#   -h, --help       this text
#
# blktests itself: BLKTESTS=DIR (a checkout) or BLKTESTS=FILE.tar.gz; else
# ../shared/third_party/blktests-*.tar.gz beside this repository; else a
# git clone of $BLKTESTS_GIT (https://github.com/linux-blktests/blktests).
# It is unpacked into build/blktests/src and packed into the guest at run
# time (never into this repository).
#
# Builds what is missing first: QEMU (scripts/build-qemu.sh), the guest
# (scripts/build-guest.sh) and its blktests layer
# (scripts/build-guest-blktests.sh); those steps use apt and need root.
set -uo pipefail
. "$(dirname "$0")/lib.sh"

DEFAULT_TESTS="003 004 005 006 008 010 012 014 018 019 021 022 023 025 026
    027 028 029 030 031 040 041 042 043 044 045 051 054 057 058 065 068 069"
# The CI subset (scripts/run-tests.sh): one test per area the target serves
# (identify and UUIDs, controller reset, fio data verification, reads
# beyond the end, Dataset Management, nvme-cli I/O, reset and disconnect
# under I/O, DH-HMAC-CHAP), about 5 minutes under TCG.  See
# docs/system/nvmet-blktests.rst for the others.
QUICK_TESTS="004 005 010 018 019 029 040 041"
PORT_ID=blktests-port

usage() { sed -n '3,/^[^#]/{/^#/p}' "$0" | sed 's/^# \{0,1\}//'; }

tests="" img_size=1G fio_timeout="" timeout="" mem=1536 trace="" keep=0 quick=0
kernel=${NVMET_GUEST_KERNEL:-}
while [ $# -gt 0 ]; do
    case $1 in
        --quick) tests="$QUICK_TESTS"; img_size=16M; quick=1; shift ;;
        --img-size) img_size=${2:?--img-size needs a size}; shift 2 ;;
        --fio-timeout) fio_timeout=${2:?}; shift 2 ;;
        --timeout) timeout=${2:?}; shift 2 ;;
        --mem) mem=${2:?}; shift 2 ;;
        --kernel) kernel=${2:?--kernel needs a SPEC}; shift 2 ;;
        --trace) trace=${2:?}; shift 2 ;;
        --keep) keep=1; shift ;;
        -h|--help) usage; exit 0 ;;
        -*) die "unknown option '$1' (see --help)" ;;
        *) tests="$tests $1"; shift ;;
    esac
done
[ -n "${tests// /}" ] || tests=$DEFAULT_TESTS
[ -n "$timeout" ] || { [ $quick = 1 ] && timeout=2400 || timeout=10800; }
[[ $timeout =~ ^[0-9]+$ ]] || die "--timeout takes seconds"
list=""
for t in $tests; do
    t=${t#nvme/}
    [[ $t =~ ^[0-9]{3}$ ]] || die "'$t' is not an nvme test number (like 003)"
    list="$list,$t"
done
list=${list#,}
[[ $img_size =~ ^[0-9]+[kKmMgGtT]?$ ]] || die "--img-size '$img_size': a number with k/m/g/t"
[ -z "$fio_timeout" ] || [[ $fio_timeout =~ ^[0-9]+$ ]] || die "--fio-timeout takes seconds"

W=$NVMET_BUILD/blktests
mkdir -p "$W"
t_start=$(date +%s)

# ---- blktests source ---------------------------------------------------------
src=${BLKTESTS:-}
if [ -z "$src" ]; then
    src=$(ls "$NVMET_TOP"/../shared/third_party/blktests-*.tar.gz 2>/dev/null | tail -n1)
fi
if [ -z "$src" ]; then
    apt_install git
    url=${BLKTESTS_GIT:-https://github.com/linux-blktests/blktests}
    if [ -d "$W/git/.git" ]; then
        git -C "$W/git" pull -q --ff-only || log "warning: could not update $W/git"
    else
        git clone -q --depth 1 "$url" "$W/git" || die "git clone $url failed (set BLKTESTS)"
    fi
    src=$W/git
fi
[ -e "$src" ] || die "BLKTESTS=$src does not exist"
src=$(realpath "$src")
if [ -d "$src" ]; then
    stamp="dir $src $(date +%s)"        # a checkout may change: copy it again
else
    stamp="tar $src $(sha256sum < "$src" | cut -d' ' -f1)"
fi
if [ ! -x "$W/src/check" ] || [ "$(cat "$W/src.stamp" 2>/dev/null)" != "$stamp" ]; then
    log "unpacking blktests from $src"
    rm -rf "$W/src" "$W/src.tmp" && mkdir -p "$W/src.tmp"
    if [ -d "$src" ]; then
        (cd "$src" && tar --exclude=.git --exclude=results -cf - .) | tar -xf - -C "$W/src.tmp"
    else
        tar -xzf "$src" -C "$W/src.tmp" || die "cannot unpack $src"
        # a tarball of a top-level directory
        if [ ! -e "$W/src.tmp/check" ] && [ "$(ls "$W/src.tmp" | wc -l)" = 1 ]; then
            d=$W/src.tmp/$(ls "$W/src.tmp")
            mv "$d" "$W/src.tmp.d" && rmdir "$W/src.tmp" && mv "$W/src.tmp.d" "$W/src.tmp"
        fi
    fi
    [ -x "$W/src.tmp/check" ] && [ -d "$W/src.tmp/tests/nvme" ] ||
        die "$src does not look like blktests (no check, tests/nvme)"
    mv "$W/src.tmp" "$W/src"
    echo "$stamp" > "$W/src.stamp"
fi
# packed for the guest as /opt/blktests
stage=$(mktemp -d "$W/.stage.XXXXXX")
mkdir -p "$stage/opt"
cp -a "$W/src" "$stage/opt/blktests"
(cd "$stage" && find . -mindepth 1 | LC_ALL=C sort | cpio -o -H newc -R 0:0 --quiet) |
    gzip -1 > "$W/blktests-src.cpio.gz"
rm -rf "$stage"

# ---- QEMU, guest, layer ----------------------------------------------------------
apt_install cpio gzip
if [ -z "${QEMU:-}" ]; then
    "$NVMET_TOP/scripts/build-qemu.sh" qemu-system-x86_64 > "$W/build-qemu.log" 2>&1 ||
        { tail -n 30 "$W/build-qemu.log" >&2; die "QEMU build failed (log: $W/build-qemu.log)"; }
    QEMU=$NVMET_BUILD/qemu/build/qemu-system-x86_64
fi
if [ -z "$kernel" ] && [ -n "${NVMET_GUEST_IMAGE:-}" ]; then
    image=$NVMET_GUEST_IMAGE        # prepared by the caller
    [ -f "$image/layers" ] || die "no guest image in NVMET_GUEST_IMAGE=$image"
else
    # (the image directory on stdout, the log on stderr)
    image=$("$NVMET_TOP/scripts/build-guest.sh" ${kernel:+--kernel "$kernel"} 2> "$W/build-guest.log") ||
        { tail -n 30 "$W/build-guest.log" >&2; die "guest build failed (log: $W/build-guest.log)"; }
fi
"$NVMET_TOP/scripts/build-guest-blktests.sh" > "$W/build-guest-blktests.log" 2>&1 ||
    { tail -n 30 "$W/build-guest-blktests.log" >&2
      die "blktests layer build failed (log: $W/build-guest-blktests.log)"; }

# ---- run ---------------------------------------------------------------------------
run=$(mktemp -d "$W/run.XXXXXX")
cleanup() {
    if [ $keep = 0 ]; then
        rm -rf "$run"
    else
        log "kept $run"
    fi
}
trap cleanup EXIT
mkdir -p "$run/images" "$W/logs"
log=$W/logs/blktests-$(date +%Y%m%d-%H%M%S)-$$.log
qemu_extra=(-object "nvmet-port,id=$PORT_ID,traddr=127.0.0.1,trsvcid=0")
[ -z "$trace" ] || qemu_extra+=(-trace "enable=nvmet_*,file=$trace")

log "blktests nvme/{$list} against the target (NVME_IMG_SIZE=$img_size); console: $log"
t_run=$(date +%s)
log "guest image: $(tr '\n' ' ' < "$image/info")"
"$NVMET_TOP/tests/guest/run.sh" --qemu "$QEMU" --image "$image" --test blktests --guest-qmp \
    --layer "$NVMET_BUILD/guest/blktests-layer.cpio.zst" \
    --layer "$W/blktests-src.cpio.gz" \
    --timeout "$timeout" --mem "$mem" --log "$log" \
    --param "bt_tests=$list" --param "bt_img_size=$img_size" \
    --param "bt_port=$PORT_ID" --param "bt_imgdir=$run/images" \
    ${fio_timeout:+--param "bt_timeout=$fio_timeout"} \
    -- "${qemu_extra[@]}" > "$W/logs/run.out" 2>&1
rc=$?
t_end=$(date +%s)

# ---- report ------------------------------------------------------------------------
results=$(sed 's/\r$//' "$log" | grep -a '^BLKTESTS: ' | sed 's/^BLKTESTS: //')
echo
echo "blktests results (nvme, transport tcp, NVME_IMG_SIZE=$img_size):"
if [ -n "$results" ]; then
    printf '%s\n' "$results" | awk '{
        name = $1; rest = substr($0, length($1) + 2)
        status = rest; why = ""
        if (index(rest, ": ")) { status = substr(rest, 1, index(rest, ": ") - 1)
                                 why = substr(rest, index(rest, ": ") + 2) }
        printf "  %-10s %-8s %s\n", name, status, why }'
fi
npass=$(printf '%s\n' "$results" | grep -c ' passed$' || true)
nfail=$(printf '%s\n' "$results" | grep -c ' failed' || true)
nskip=$(printf '%s\n' "$results" | grep -c ' not run' || true)
nvac=$(printf '%s\n' "$results" | grep -c ' vacuous' || true)
# infrastructure steps of the guest script (not blktests tests) that failed
infra=$(sed 's/\r$//' "$log" | grep -a '^FAIL: ' | grep -av '^FAIL: blktests nvme/' | sort -u || true)
if [ -n "$infra" ]; then
    echo "guest steps that failed:"
    printf '  %s\n' "$infra"
    nfail=$((nfail + $(printf '%s\n' "$infra" | wc -l)))
fi
# tests asked for that produced no result (guest hung or crashed)
for t in ${list//,/ }; do
    printf '%s\n' "$results" | grep -q "^nvme/$t " && continue
    echo "  nvme/$t    no result (see $log)"
    nfail=$((nfail + 1))
done
if [ $rc != 0 ] && [ "$nfail" = 0 ]; then
    echo "tests/guest/run.sh failed (status $rc):"
    tail -n 5 "$W/logs/run.out" | sed 's/^/  /'
    nfail=1
fi
echo "timing: $((t_run - t_start)) s preparation, $((t_end - t_run)) s guest run" \
     "(console log: $log)"
[ "$nskip" = 0 ] || echo "$nskip not run (blktests' reasons above)"
[ "$nvac" = 0 ] || echo "$nvac vacuous: blktests passed them, but the host never connected to the target (not counted)"
echo "$npass passed, $nfail failed"
[ "$nfail" = 0 ]
