#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# Boot the test guest (built by scripts/build-guest.sh) under QEMU TCG and run
# one guest test script, tests/guest/NAME.sh.
#
# Usage:
#   tests/guest/run.sh [options] --test NAME [-- EXTRA-QEMU-ARGS...]
#
# Options:
#   --qemu PATH        qemu-system-x86_64 to run (default: $QEMU, else the
#                      project build build/qemu/build/qemu-system-x86_64,
#                      else the first qemu-system-x86_64 in PATH)
#   --test NAME        guest test to run: tests/guest/NAME.sh (required)
#   --timeout SEC      kill QEMU and fail after SEC seconds (default 600);
#                      if the guest has not reached /init after
#                      $NVMET_BOOT_TIMEOUT s (150), QEMU is restarted once
#   --param KEY=VALUE  pass nvmet.KEY=VALUE on the kernel command line; the
#                      guest script sees NVMET_KEY=VALUE (repeatable)
#   --append ARGS      extra kernel command-line arguments; MODULE.PARAM=V
#                      reaches the modules the guest's /init loads (as
#                      modprobe would pass it), e.g. nvme_core.multipath=N
#   --mem MIB          guest memory (default 1024)
#   --smp N            guest CPUs (default 2)
#   --pcap FILE        dump the guest NIC's traffic to FILE (filter-dump)
#   --hostfwd SPEC     add hostfwd=SPEC to the user netdev, e.g.
#                      tcp:127.0.0.1:4420-:4420 (repeatable)
#   --guestfwd SPEC    add guestfwd=SPEC to the user netdev, e.g. the
#                      target on a UNIX socket as 10.0.2.100:4420:
#                      "tcp:10.0.2.100:4420-unix-connect:PATH"
#                      (scripts/qemu-patches/0002; repeatable)
#   --guest-qmp        give the guest a QMP monitor of this QEMU: guest
#                      TCP connections to 10.0.2.100:4444 reach it (QEMU
#                      guestfwd unix-connect: to a UNIX socket); the guest runs
#                      /tests/bin/qmp COMMAND [ARGS-JSON] (NVMET_QMP holds
#                      the address).  Test use only: the guest can then do
#                      anything QEMU can
#   --dmesg            print the guest kernel log at the end (nvmet.dmesg=1)
#   --shell            after the test, give an interactive guest shell
#                      (nvmet.shell=1; console attached to this terminal)
#   --log FILE         console log (default build/guest/logs/NAME-DATE.log)
#   --kernel SPEC      boot this kernel (default: $NVMET_GUEST_KERNEL unless
#                      $NVMET_GUEST_IMAGE is set): a
#                      Debian kernel version (6.1, 6.18, 7.3.4, ...), a kernel
#                      build tree, or BZIMAGE[,MODDIR]; see
#                      scripts/build-guest.sh --help.  The image is brought up
#                      to date first (only what changed is rebuilt).
#   --image DIR        boot an image directory made by scripts/build-guest.sh
#                      (default: $NVMET_GUEST_IMAGE, else build/guest/images/
#                      default, the default kernel)
#   --layer FILE       an extra compressed cpio archive (gzip, zstd: what
#                      the kernel unpacks) appended to the initramfs after
#                      the image's layers (repeatable; also the
#                      colon-separated list $NVMET_GUEST_LAYERS)
#   --build            run scripts/build-guest.sh first (fast when up to date)
#   --pack-only        only (re)pack build/guest/tests.cpio.gz and exit
#   -h, --help         this text
#
# Everything after "--" is appended to the QEMU command line (e.g. the
# -object/-blockdev options that start the NVMe/TCP target inside QEMU).
#
# The initramfs is the image's layers (userland, kernel modules, ...), the
# --layer files, then tests.cpio.gz (/init, tests/guest/*.sh, and
# tests/guest/bin/* as /tests/bin), concatenated.
#
# Exit status: 0 only if the guest printed "GUEST-RESULT: N passed, 0 failed,
# K skipped" with N + K > 0 and QEMU exited by itself (guest power-off) with
# status 0.  Skipped steps (the booted kernel lacks a feature) are listed
# with their reason in the summary.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
GUEST=$ROOT/build/guest
TESTDIR=$ROOT/tests/guest

die() { echo "run.sh: error: $*" >&2; exit 2; }
usage() { sed -n '4,/^[^#]/{/^#/p}' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'; }

qemu=${QEMU:-} test="" timeout=600 boot_timeout=${NVMET_BOOT_TIMEOUT:-150} mem=1024 smp=2 pcap="" logfile="" build=0 pack_only=0
shell=0 dmesg=0 append="" netopts="" guest_qmp=0
image=${NVMET_GUEST_IMAGE:-} kspec=""
[ -n "$image" ] || kspec=${NVMET_GUEST_KERNEL:-}
params=()
layers=()
if [ -n "${NVMET_GUEST_LAYERS:-}" ]; then
    IFS=: read -ra layers <<< "$NVMET_GUEST_LAYERS"
fi
extra=()
while [ $# -gt 0 ]; do
    case $1 in
        --qemu) qemu=${2:?--qemu needs a path}; shift 2 ;;
        --qemu=*) qemu=${1#*=}; shift ;;
        --test) test=${2:?--test needs a name}; shift 2 ;;
        --test=*) test=${1#*=}; shift ;;
        --timeout) timeout=${2:?}; shift 2 ;;
        --timeout=*) timeout=${1#*=}; shift ;;
        --param) params+=("${2:?--param needs key=value}"); shift 2 ;;
        --param=*) params+=("${1#*=}"); shift ;;
        --append) append="$append ${2:?}"; shift 2 ;;
        --append=*) append="$append ${1#*=}"; shift ;;
        --mem) mem=${2:?}; shift 2 ;;
        --smp) smp=${2:?}; shift 2 ;;
        --pcap) pcap=${2:?}; shift 2 ;;
        --hostfwd) netopts="$netopts,hostfwd=${2:?}"; shift 2 ;;
        --guestfwd)
            # QemuOpts: a comma in the value must be doubled
            netopts="$netopts,guestfwd=${2//,/,,}"; shift 2 ;;
        --log) logfile=${2:?}; shift 2 ;;
        --guest-qmp) guest_qmp=1; shift ;;
        --dmesg) dmesg=1; shift ;;
        --shell) shell=1; shift ;;
        --build) build=1; shift ;;
        --kernel) kspec=${2:?--kernel needs a SPEC}; image=""; shift 2 ;;
        --kernel=*) kspec=${1#*=}; image=""; shift ;;
        --image) image=${2:?--image needs a directory}; shift 2 ;;
        --image=*) image=${1#*=}; shift ;;
        --layer) layers+=("${2:?--layer needs a file}"); shift 2 ;;
        --layer=*) layers+=("${1#*=}"); shift ;;
        --pack-only) pack_only=1; shift ;;
        -h|--help) usage; exit 0 ;;
        --) shift; extra=("$@"); break ;;
        *) die "unknown argument '$1' (see --help)" ;;
    esac
done

# ------------------------------------------------------------ tests.cpio.gz
# The guest's /init, lib.sh and every test script, packed into a small cpio
# that is appended to the base initramfs (later archive entries win).
pack_tests() {
    local stage out=$GUEST/tests.cpio.gz f
    mkdir -p "$GUEST"
    stage=$(mktemp -d "$GUEST/.tests-stage.XXXXXX")
    mkdir -p "$stage/tests"
    install -m 0755 "$TESTDIR/init" "$stage/init"
    for f in "$TESTDIR"/*.sh; do
        [ "$(basename "$f")" = run.sh ] && continue
        install -m 0755 "$f" "$stage/tests/"
    done
    # tests/guest/data/ (optional): extra files for the guest under /tests/data
    [ -d "$TESTDIR/data" ] && cp -r "$TESTDIR/data" "$stage/tests/data"
    # tests/guest/bin/ (optional): guest commands under /tests/bin
    if [ -d "$TESTDIR/bin" ]; then
        mkdir -p "$stage/tests/bin"
        install -m 0755 "$TESTDIR/bin"/* "$stage/tests/bin/"
    fi
    (cd "$stage" && find . -mindepth 1 | LC_ALL=C sort |
        cpio -o -H newc -R 0:0 --quiet) | gzip -1 > "$out.tmp.$$"
    mv "$out.tmp.$$" "$out"
    rm -rf "$stage"
}

for t in cpio gzip timeout sed tee; do
    command -v "$t" >/dev/null || die "host tool '$t' not found"
done
[ -f "$TESTDIR/init" ] || die "$TESTDIR/init missing"

if [ $pack_only = 1 ]; then
    pack_tests
    echo "run.sh: packed $GUEST/tests.cpio.gz"
    exit 0
fi

[ -n "$test" ] || die "--test NAME is required (one of: $(cd "$TESTDIR" && ls *.sh | grep -v -e '^run.sh$' -e '^lib.sh$' | sed 's/\.sh$//' | tr '\n' ' '))"
case $test in */*|*.sh) die "--test takes a bare name such as 'nvme-io' (from tests/guest/NAME.sh)" ;; esac
[ -f "$TESTDIR/$test.sh" ] || die "no such guest test: $TESTDIR/$test.sh"
case $timeout in ''|*[!0-9]*) die "--timeout must be a number of seconds" ;; esac

if [ -z "$qemu" ]; then
    if [ -x "$ROOT/build/qemu/build/qemu-system-x86_64" ]; then
        qemu=$ROOT/build/qemu/build/qemu-system-x86_64
    else
        qemu=$(command -v qemu-system-x86_64 || true)
    fi
    [ -n "$qemu" ] || die "no QEMU: pass --qemu PATH or set QEMU"
fi
[ -x "$qemu" ] || die "QEMU binary '$qemu' is not executable"

if [ -n "$kspec" ]; then
    # bring the image of that kernel up to date (seconds when it is)
    image=$("$ROOT/scripts/build-guest.sh" --kernel "$kspec") ||
        die "scripts/build-guest.sh --kernel $kspec failed"
elif [ $build = 1 ]; then
    "$ROOT/scripts/build-guest.sh" > /dev/null || die "scripts/build-guest.sh failed"
fi
[ -n "$image" ] || image=$GUEST/images/default
[ -f "$image/layers" ] && [ -e "$image/vmlinuz" ] ||
    die "no guest image in $image: run scripts/build-guest.sh first (or pass --build / --kernel SPEC)"
[ -e "$GUEST/firmware/bios-256k.bin" ] || die "$GUEST/firmware missing: run scripts/build-guest.sh first"
mapfile -t image_layers < "$image/layers"
for f in "${image_layers[@]}" "${layers[@]+"${layers[@]}"}"; do
    [ -s "$f" ] || die "initramfs layer $f missing"
done

# --guest-qmp: QMP monitor on a private UNIX socket; slirp's guestfwd
# connects every guest connection to 10.0.2.100:4444 to that socket
# (unix-connect:, scripts/qemu-patches/0002; QEMU serves one monitor client
# at a time, later connections wait until the earlier one closed).
qmpdir=""
if [ $guest_qmp = 1 ]; then
    qmpdir=$(mktemp -d "${TMPDIR:-/tmp}/nvmet-qmp.XXXXXX")
    case $qmpdir in *,*|*' '*) die "--guest-qmp: temporary directory '$qmpdir' contains a comma or space" ;; esac
    netopts="$netopts,guestfwd=tcp:10.0.2.100:4444-unix-connect:$qmpdir/qmp.sock"
    params+=("qmp=10.0.2.100:4444")
fi

# kernel command line
# no_timer_check: on a loaded host a TCG guest's IO-APIC timer check can
# fail and panic the kernel at boot ("IO-APIC + timer doesn't work!")
cmdline="console=ttyS0 quiet panic=-1 no_timer_check nvmet.test=$test"
for p in "${params[@]+"${params[@]}"}"; do
    case $p in
        *=*) ;;
        *) die "--param '$p' is not KEY=VALUE" ;;
    esac
    k=${p%%=*} v=${p#*=}
    case $k in ''|*[!A-Za-z0-9_-]*) die "--param key '$k' must be [A-Za-z0-9_-]" ;; esac
    case $v in *[[:space:]\"]*) die "--param value for '$k' must not contain spaces or quotes" ;; esac
    cmdline="$cmdline nvmet.$k=$v"
done
[ $dmesg = 0 ] || cmdline="$cmdline nvmet.dmesg=1"
[ $shell = 0 ] || cmdline="$cmdline nvmet.shell=1"
cmdline="$cmdline$append"

pack_tests
mkdir -p "$GUEST/logs"
[ -n "$logfile" ] || logfile=$GUEST/logs/$test-$(date +%Y%m%d-%H%M%S)-$$.log
initrd=$(mktemp "$GUEST/.initrd.XXXXXX")
trap 'rm -f "$initrd"; [ -z "$qmpdir" ] || rm -rf "$qmpdir"' EXIT
cat "${image_layers[@]}" "${layers[@]+"${layers[@]}"}" "$GUEST/tests.cpio.gz" > "$initrd"

qargs=(
    -accel tcg -cpu max -m "$mem" -smp "$smp"
    -nographic -no-reboot
    -L "$GUEST/firmware"
    -kernel "$image/vmlinuz" -initrd "$initrd"
    -append "$cmdline"
    -netdev "user,id=n0$netopts"
    -device virtio-net-pci,netdev=n0,romfile=
)
[ -z "$pcap" ] || qargs+=(-object "filter-dump,id=dump0,netdev=n0,file=$pcap")
[ -z "$qmpdir" ] || qargs+=(-chardev "socket,id=guestqmp,path=$qmpdir/qmp.sock,server=on,wait=off"
                            -mon chardev=guestqmp,mode=control)
qargs+=("${extra[@]+"${extra[@]}"}")

{
    echo "run.sh: test $test, timeout ${timeout}s, log $logfile"
    echo "run.sh: image $image: $(tr '\n' ' ' < "$image/info" 2>/dev/null)"
    printf 'run.sh: %q' "$qemu"; printf ' %q' "${qargs[@]}"; echo
} | tee "$logfile"

t0=$(date +%s.%N)
set +e
if [ $shell = 1 ]; then
    # interactive: the console stays attached to this terminal
    "$qemu" "${qargs[@]}" 2>&1 | tee -a "$logfile"
    qrc=${PIPESTATUS[0]}
else
    # A TCG guest very rarely hangs before reaching /init (seen once with
    # 2 vCPUs on a loaded machine): give the boot $boot_timeout s and retry
    # once before calling the test failed.
    pidfile=$(mktemp "$GUEST/.qemu-pid.XXXXXX")
    for attempt in 1 2; do
        start_line=$(wc -l < "$logfile")
        rm -f "$pidfile"
        { timeout -k 10 "$timeout" "$qemu" "${qargs[@]}" -pidfile "$pidfile" \
              < /dev/null 2>&1; echo "run.sh: qemu-exit $?"; } |
            sed -u 's/\r$//' | tee -a "$logfile" &
        pipe=$!
        booted=0 waited=0
        while kill -0 $pipe 2>/dev/null; do
            if awk -v s="$start_line" 'NR > s && /init: started/ { f = 1 } END { exit !f }' "$logfile"; then
                booted=1
                break
            fi
            if [ $waited -ge "$boot_timeout" ]; then
                break
            fi
            sleep 1
            waited=$((waited + 1))
        done
        if [ $booted = 0 ] && [ $attempt = 1 ] && kill -0 $pipe 2>/dev/null; then
            echo "run.sh: the guest did not reach /init in ${boot_timeout}s; killing QEMU and retrying once" | tee -a "$logfile"
            [ -s "$pidfile" ] && kill -9 "$(cat "$pidfile")" 2>/dev/null
            wait $pipe
            continue
        fi
        if [ $booted = 0 ] && [ $attempt = 1 ] &&
           awk -v s="$start_line" 'NR > s && /Kernel panic - not syncing/ { f = 1 } END { exit !f }' "$logfile"; then
            wait $pipe
            echo "run.sh: the guest kernel panicked before /init; retrying once" | tee -a "$logfile"
            continue
        fi
        wait $pipe
        break
    done
    rm -f "$pidfile"
    qrc=$(sed -n 's/^run.sh: qemu-exit \([0-9]*\)$/\1/p' "$logfile" | tail -n1)
    qrc=${qrc:-1}
fi
set -e
t1=$(date +%s.%N)
wall=$(awk "BEGIN{printf \"%.1f\", $t1 - $t0}")

result=$(sed 's/\r$//' "$logfile" | grep -a '^GUEST-RESULT: ' | tail -n1 || true)
boot=$(sed -n 's/.*init: started, uptime \([0-9.]*\) s.*/\1/p' "$logfile" | head -n1)
testtime=$(sed -n 's/^init: .* exited with status .* after \([0-9.]*\) s$/\1/p' "$logfile" | tail -n1)
npass=$(echo "$result" | sed -n 's/^GUEST-RESULT: \([0-9]*\) passed, \([0-9]*\) failed.*/\1/p')
nfail=$(echo "$result" | sed -n 's/^GUEST-RESULT: \([0-9]*\) passed, \([0-9]*\) failed.*/\2/p')
nskip=$(echo "$result" | sed -n 's/^GUEST-RESULT: .* failed, \([0-9]*\) skipped.*/\1/p')
nskip=${nskip:-0}

status=PASSED why=""
if [ "$qrc" = 124 ] || [ "$qrc" = 137 ]; then
    status=FAILED why="timeout after ${timeout}s (QEMU killed)"
elif [ -z "$result" ]; then
    status=FAILED why="no GUEST-RESULT line (QEMU exit status $qrc)"
elif [ "$qrc" != 0 ]; then
    status=FAILED why="QEMU exit status $qrc"
elif [ "${nfail:-1}" != 0 ]; then
    status=FAILED why="$nfail guest step(s) failed"
elif [ "${npass:-0}" -le 0 ] && [ "$nskip" -le 0 ]; then
    status=FAILED why="no guest step passed"
fi

{
    echo "run.sh: ===== summary: $test ====="
    sed 's/\r$//' "$logfile" | grep -a -E '^(PASS|FAIL|SKIP): ' | sed 's/^/run.sh:   /' || true
    echo "run.sh: ${result:-GUEST-RESULT: (none)}"
    echo "run.sh: boot-to-init ${boot:-?} s (guest uptime), test script ${testtime:-?} s, wall ${wall} s"
    echo "run.sh: test $test $status${why:+: $why}  (log: $logfile)"
} | tee -a "$logfile"
[ $status = PASSED ]
