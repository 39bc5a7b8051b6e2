#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# Run every test suite of the project and end with one summary line,
# exactly "N passed, N failed" (N counts test cases: TAP results of the
# unit and qtest suites, PASS/FAIL steps of the guest tests).  Exits
# non-zero if anything failed.  Installs what it needs with apt (root).
#
#   scripts/run-tests.sh [--quick] [SUITE...]
#
# Suites: unit unit-asan unit-tsan qtest scale guest guest-kernels blktests
#         (default: all of these)
#   unit       engine unit tests, standalone build (build/engine)
#   unit-asan  the same under AddressSanitizer + UBSan (build/engine-asan)
#   unit-tsan  the same under ThreadSanitizer (build/engine-tsan): the
#              engine's target lock, lock-free I/O path and buffer pool
#              with threads (test-nvmet-threads); a race fails the test
#   qtest      QEMU qtest (tests/qtest/nvmet-tcp-test.c) with QEMU and
#              qemu-storage-daemon built by scripts/build-qemu.sh
#   scale      8 hosts x 4 I/O queues at once against qemu-storage-daemon
#              with DH-HMAC-CHAP and TLS, 3 s of verified I/O, in both
#              modes (scripts/scale-hosts.sh --hosts 8 --seconds 3; the
#              script alone runs 64 hosts): a case per mode
#   guest      the real Linux host in a TCG guest (scripts/build-guest.sh,
#              tests/guest/*.sh) against the target in QEMU and in
#              qemu-storage-daemon
#   guest-io   only the I/O guest test against QEMU (part of guest)
#   guest-auth only the DH-HMAC-CHAP guest test (part of guest)
#   guest-tls  only the TLS / concatenation guest test (part of guest)
#   guest-rotate  only the REPLACETLSPSK soak: $NVMET_GUEST_ROTATIONS (100)
#              rotations through tls_configured_key, data verified every 10,
#              the target's chain of generated PSKs checked (part of guest)
#   guest-qsd  only the I/O guest test against qemu-storage-daemon, the
#              namespace a block export in iothreads (part of guest)
#   guest-demo only the demo's guest test with 4 I/O queues, checking that
#              QEMU has no TCP socket meanwhile, and a second demo at the
#              same time (part of guest)
#   guest-faults  only the fault injection guest test (part of guest)
#   guest-storm  only the disconnect storm with the Linux host: seeded
#              faults cut one host's connections $NVMET_GUEST_CUTS (40)
#              times during verified writes, a bystander host must see
#              nothing (part of guest)
#   guest-kernels  the TLS / concatenation guest test with older host
#              kernels: $NVMET_CI_KERNELS (default "6.16": Linux 6.15-6.17
#              concatenation and nvme-cli 2.13 PSKs); scripts/kernel-matrix.sh
#              runs every suite with many kernels
#   blktests   the guest's QMP channel (tests/guest/guest-qmp.sh), then
#              blktests' nvme group in the guest against the target: the
#              quick subset (scripts/blktests.sh --quick: 8 tests, 5 to 15
#              minutes depending on the load);
#              scripts/blktests.sh alone runs the whole group
#   soak       not in the default list (minutes): the qtest's slow tests
#              (-m slow), 1000 REPLACETLSPSK on one controller with QEMU's
#              RSS and the time per rotation checked; NVMET_SOAK_ROTATIONS
#              changes the count (at least 200); a disconnect storm of
#              10000 cuts with iothreads (NVMET_STORM_CUTS, _SEED; the
#              qtest suite has two of 1000)
# --quick: unit suites only.
# NVMET_GUEST_ARGS: extra tests/guest/run.sh options for the guest tests
#   (debugging, e.g. "--dmesg --param hosts=5").
# NVMET_GUEST_KERNEL=SPEC: run the guest suites with that kernel: a Debian
#   version (6.1, 6.12, 6.18, 7.3.4, ...), a kernel build tree or
#   BZIMAGE[,MODDIR] (see scripts/build-guest.sh --help).  Steps the kernel
#   cannot do are skipped with a reason (counted per suite, not in the
#   final line); scripts/kernel-matrix.sh runs several kernels.
# NVMET_GUEST_IMAGE=DIR: use that image (scripts/build-guest.sh output)
#   instead of building one.  NVMET_TEST_LOGS=DIR: logs there instead of
#   build/test-logs.
# NVMET_AUTH_SEED, NVMET_AUTH_PCAP: seed the guest-auth target's subsystem
#   and capture the guest's traffic (scripts/capture-dhchap-vectors.sh).
set -uo pipefail
. "$(dirname "$0")/lib.sh"

suites=()
for a in "$@"; do
    case $a in
        --quick) suites=(unit unit-asan) ;;
        unit|unit-asan|unit-tsan|qtest|soak|scale|guest|guest-io|guest-auth|guest-tls|guest-rotate|guest-qsd|guest-demo|guest-faults|guest-storm|guest-kernels|blktests) suites+=("$a") ;;
        -h|--help) sed -n '3,/^[^#]/{/^#/p}' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
        *) die "unknown suite '$a'" ;;
    esac
done
[ ${#suites[@]} -eq 0 ] && suites=(unit unit-asan unit-tsan qtest scale guest guest-kernels blktests)

LOGDIR=${NVMET_TEST_LOGS:-$NVMET_BUILD/test-logs}
mkdir -p "$LOGDIR"
total_pass=0 total_fail=0
summary=()

# record SUITE PASS FAIL [NOTE]
SUITE_SUFFIX=""
record() {
    total_pass=$((total_pass + $2))
    total_fail=$((total_fail + $3))
    summary+=("$(printf '%-28s %4d passed, %d failed%s' "$1$SUITE_SUFFIX" "$2" "$3" "${4:+ ($4)}")")
}

# run_tap NAME CMD...: run a TAP producer; count ok / not ok; a crash, a
# missing plan entry or a non-zero exit counts as a failure.
run_tap() {
    local name=$1; shift
    local log="$LOGDIR/$name.log" rc ok nok skip plan
    log "suite $name: $*"
    "$@" > "$log" 2>&1
    rc=$?
    ok=$(grep -cE '^ok [0-9]+' "$log")
    skip=$(grep -cE '^ok [0-9]+.*# SKIP' "$log")
    nok=$(grep -cE '^not ok [0-9]+' "$log")
    plan=$(grep -oE '^1\.\.[0-9]+' "$log" | head -n1 | cut -d. -f3)
    ok=$((ok - skip))
    if [ -n "$plan" ] && [ $((ok + skip + nok)) -lt "$plan" ]; then
        nok=$((nok + plan - ok - skip - nok))
    fi
    if [ $rc -ne 0 ] && [ $nok -eq 0 ]; then
        nok=1
    fi
    grep -E '^not ok|Bail out|ERROR|error:|WARNING: ThreadSanitizer' "$log" | head -n 20 >&2
    record "$name" "$ok" "$nok" "${skip:+$skip skipped}"
    [ "$skip" = 0 ] && summary[-1]=${summary[-1]% (0 skipped)}
}

# ---- GnuTLS >= 3.8.11 (SHA-384 TLS PSKs), built once by build-gnutls.sh -----
# Exports PKG_CONFIG_PATH so that meson finds it, and tells the tests that
# SHA-384 PSKs must work (they fail instead of taking the old-GnuTLS branch).
use_private_gnutls() {
    [ -n "${NVMET_GNUTLS_PC:-}" ] && return 0
    NVMET_GNUTLS_PC=$("$NVMET_TOP/scripts/build-gnutls.sh" 2>> "$LOGDIR/build-gnutls.log" |
                      sed -n 's/^PKG_CONFIG_PATH=//p')
    if [ -z "$NVMET_GNUTLS_PC" ]; then
        tail -n 30 "$LOGDIR/build-gnutls.log" >&2
        return 1
    fi
    export PKG_CONFIG_PATH=$NVMET_GNUTLS_PC NVMET_REQUIRE_TLS_SHA384=1
}

# ---- unit: the engine on its own -------------------------------------------
engine_build() {   # DIR [meson options]
    local dir=$1; shift
    apt_install build-essential pkg-config ninja-build meson/bookworm-backports \
        libglib2.0-dev nettle-dev libgmp-dev libgnutls28-dev python3
    use_private_gnutls || return 1
    # (re)configure when the build dir is new or was set up with another GnuTLS
    local want; want="gnutls $(pkg-config --modversion gnutls)"
    if [ ! -f "$dir/build.ninja" ] ||
       [ "$(cat "$dir/.nvmet-setup" 2>/dev/null)" != "$want" ]; then
        rm -rf "$dir"
        meson setup "$dir" "$NVMET_TOP" "$@" > "$dir.setup.log" 2>&1 ||
            { cat "$dir.setup.log" >&2; return 1; }
        echo "$want" > "$dir/.nvmet-setup"
    fi
    ninja -C "$dir" > "$dir.build.log" 2>&1 || { tail -n 40 "$dir.build.log" >&2; return 1; }
}

# meson_tests DIR SUITE: one line per test of that meson suite,
# "NAME<TAB>CMD<TAB>ARG..." (the test's whole command line)
meson_tests() {
    (cd "$1" && meson introspect --tests) | python3 -c '
import json, sys
for t in json.load(sys.stdin):
    if any(x.split(":")[-1] == sys.argv[1] for x in t["suite"]):
        print("\t".join([t["name"]] + t["cmd"]))' "$2"
}

# run_cmd NAME CMD...: a test that is not TAP: 1 passed or 1 failed by its
# exit status (the fuzz driver), run in $LOGDIR
run_cmd() {
    local name=$1; shift
    local log="$LOGDIR/$name.log" rc
    log "suite $name: $*"
    (cd "$LOGDIR" && timeout 300 "$@") > "$log" 2>&1
    rc=$?
    if [ $rc -eq 0 ]; then
        record "$name" 1 0
        tail -n 1 "$log" >&2
    else
        grep -E 'ERROR|SUMMARY|runtime error|^fuzz-nvmet:' "$log" | head -n 20 >&2
        [ $rc -eq 124 ] && echo "$name: killed after 300 s" >&2
        record "$name" 0 1 "exit status $rc"
    fi
}

unit_suite() {   # NAME BUILDDIR [meson options]
    local name=$1 dir=$2; shift 2
    if ! engine_build "$dir" "$@"; then
        record "$name" 0 1 "build failed"
        return
    fi
    local tname cmd
    # like meson test: a UBSan report fails the test instead of scrolling by
    local -x UBSAN_OPTIONS=${UBSAN_OPTIONS:-halt_on_error=1:abort_on_error=1:print_stacktrace=1}
    # a data race TSan sees ends the test (exit status 66) with its report
    local -x TSAN_OPTIONS=${TSAN_OPTIONS:-halt_on_error=1:second_deadlock_stack=1}
    # the GLib unit tests speak TAP
    while IFS=$'\t' read -r tname cmd _; do
        G_TEST_SRCDIR=$NVMET_TOP/tests/unit run_tap "$name-$(basename "$cmd")" "$cmd" --tap
    done < <(meson_tests "$dir" unit)
    # the fuzz driver (corpus replay, seeded random inputs; ~6 s) only under
    # ASan/UBSan, where it finds more; failing inputs are saved in $LOGDIR
    if [ "$name" = unit-asan ]; then
        local -a argv
        while IFS=$'\t' read -r -a argv; do
            run_cmd "$name-${argv[0]}" "${argv[@]:1}" --crash-dir "$LOGDIR"
        done < <(meson_tests "$dir" fuzz)
    fi
}

# ---- qtest -------------------------------------------------------------------
qtest_suite() {   # [soak]
    local name=qtest-nvmet-tcp args=(-k) limit=600
    if [ "${1:-}" = soak ]; then
        # only the slow tests: the soak
        name=soak-nvmet-tcp args=(-m slow -p /x86_64/nvmet-tcp/soak) limit=3600
    fi
    if ! use_private_gnutls; then
        record qtest 0 1 "GnuTLS build failed"
        return
    fi
    # Wireshark's dissector reads the decrypted captures back (qmp/capture)
    apt_install tshark
    if ! "$NVMET_TOP/scripts/build-qemu.sh" qemu-system-x86_64 \
            storage-daemon/qemu-storage-daemon qemu-img \
            tests/qtest/nvmet-tcp-test > "$LOGDIR/build-qemu.log" 2>&1; then
        tail -n 40 "$LOGDIR/build-qemu.log" >&2
        record qtest 0 1 "QEMU build failed"
        return
    fi
    (cd "$NVMET_BUILD/qemu/build" &&
     QTEST_QEMU_BINARY=./qemu-system-x86_64 \
     QTEST_QEMU_STORAGE_DAEMON_BINARY=./storage-daemon/qemu-storage-daemon \
     NVMET_REQUIRE_TSHARK=1 \
     timeout $limit ./tests/qtest/nvmet-tcp-test --tap "${args[@]}") \
        > "$LOGDIR/${name%-nvmet-tcp}.raw" 2>&1
    local rc=$?
    [ "$name" = soak-nvmet-tcp ] &&
        grep -E '^# (soak|storm):' "$LOGDIR/${name%-nvmet-tcp}.raw" >&2
    run_tap "$name" sh -c "cat '$LOGDIR/${name%-nvmet-tcp}.raw'; exit $rc"
}

# ---- guest: the Linux host ----------------------------------------------------
# The guest reaches the target inside its QEMU without a host TCP port: each
# port listens on a UNIX socket (mode 0600), and user networking connects
# every guest connection to 10.0.2.100:PORT to it (guestfwd unix-connect:,
# scripts/qemu-patches/0002).  The sockets live in $SOCKDIR (guest_prepare).
SOCKDIR=
# unix_port ID SOCKET TRSVCID [,"more":"json"]: the -object of such a port
unix_port() {
    printf '{"qom-type":"nvmet-port","id":"%s","addr":{"type":"unix","path":"%s"},"traddr":"10.0.2.100","trsvcid":"%s"%s}' \
        "$1" "$2" "$3" "${4:-}"
}
# guestfwd SOCKET TRSVCID: the run.sh option that forwards 10.0.2.100:TRSVCID
guestfwd() { echo "tcp:10.0.2.100:$2-unix-connect:$1"; }

# qemu_tcp_sockets PATTERN: "LISTENING ALL QEMUS": the TCP sockets of the
# QEMU processes whose command line has PATTERN (that of a guest test), from
# /proc/PID/net/tcp* (their network namespace) and their descriptors, and
# how many such processes there were
qemu_tcp_sockets() {
    local pid inodes l=0 a=0 p=0 n
    for pid in $(pgrep -f -- "$1"); do
        case $(readlink "/proc/$pid/exe" 2>/dev/null) in
            */qemu-system-*) ;;
            *) continue ;;
        esac
        p=$((p + 1))
        inodes=$(ls -l "/proc/$pid/fd" 2>/dev/null |
                 sed -n 's/.*socket:\[\([0-9]*\)\]$/\1/p' | tr '\n' ' ')
        [ -n "$inodes" ] || continue
        n=$(cat "/proc/$pid/net/tcp" "/proc/$pid/net/tcp6" 2>/dev/null |
            awk -v list="$inodes" '
                BEGIN { n = split(list, a, " "); for (i = 1; i <= n; i++) ino[a[i]] = 1 }
                ($10 in ino) { all++; if ($4 == "0A") lst++ }
                END { print lst + 0, all + 0 }')
        l=$((l + ${n% *})) a=$((a + ${n#* }))
    done
    echo "$l $a $p"
}
# guest_run NAME run.sh-args...: count the guest's PASS/FAIL steps
guest_run() {
    local name=$1; shift
    local log="$LOGDIR/$name.log"
    log "suite $name${NVMET_GUEST_KERNEL:+ (kernel $NVMET_GUEST_KERNEL)}"
    "$NVMET_TOP/tests/guest/run.sh" "$@" > "$log" 2>&1
    guest_result "$name" $?
}
# guest_result NAME RC: record the steps of $LOGDIR/NAME.log, run.sh's
# status RC
guest_result() {
    local name=$1 rc=$2
    local log="$LOGDIR/$name.log" p f k
    p=$(grep -oE 'GUEST-RESULT: [0-9]+ passed' "$log" | tail -n1 | grep -oE '[0-9]+')
    f=$(grep -oE 'GUEST-RESULT: [0-9]+ passed, [0-9]+ failed' "$log" | tail -n1 |
        grep -oE '[0-9]+ failed' | grep -oE '[0-9]+')
    k=$(grep -oE 'GUEST-RESULT: [0-9]+ passed, [0-9]+ failed, [0-9]+ skipped' "$log" |
        tail -n1 | grep -oE '[0-9]+ skipped' | grep -oE '[0-9]+')
    p=${p:-0} f=${f:-0} k=${k:-0}
    if [ $rc -ne 0 ] && [ "$f" = 0 ]; then
        f=1
    fi
    grep -E '^run.sh:   FAIL|^run.sh: test .* FAILED|^run.sh: error' "$log" | head -n 20 >&2
    if [ "$k" != 0 ]; then
        record "$name" "$p" "$f" "$k skipped"
    else
        record "$name" "$p" "$f"
    fi
}

# DH-HMAC-CHAP with the Linux host (tests/guest/auth.sh): five hosts, each
# allowed one hash/group combination, keys from tests/guest/data/auth-keys.sh
# handed to QEMU as secret files.
guest_auth() {
    local q=$NVMET_BUILD/qemu/build img=$LOGDIR/auth-disk.img
    local nqn=nqn.2026-11.org.qemu:auth kdir=$LOGDIR/auth-keys
    local args=() n var hash group
    rm -rf "$kdir" && mkdir -m 0700 "$kdir"
    (
        . "$NVMET_TOP/tests/guest/data/auth-keys.sh"
        for var in $(compgen -v AUTH_ | grep -E '_C?KEY$'); do
            [ -n "${!var}" ] && printf '%s' "${!var}" > "$kdir/$var"
        done
    )
    rm -f "$img" && truncate -s 64M "$img"
    local sock; sock=$SOCKDIR/auth.sock
    args=(-blockdev driver=file,filename="$img",node-name=disk0
          -object "$(unix_port port0 "$sock" 4420)"
          -object nvmet-subsystem,id=sub0,nqn=$nqn,ports=port0,allow-any-host=off${NVMET_AUTH_SEED:+,seed=$NVMET_AUTH_SEED}
          -object nvmet-namespace,id=ns1,subsystem=sub0,nsid=1,node-name=disk0)
    for n in 1 2 3 4 5; do
        local h="nvmet-host,id=host$n,subsystems=sub0"
        h+=",nqn=nqn.2014-08.org.nvmexpress:uuid:00000000-0000-4000-8000-$(printf %012d $n)"
        hash=$(. "$NVMET_TOP/tests/guest/data/auth-keys.sh"; eval echo "\$AUTH_H${n}_HASH")
        group=$(. "$NVMET_TOP/tests/guest/data/auth-keys.sh"; eval echo "\$AUTH_H${n}_GROUP")
        h+=",dhchap-hashes=$hash,dhchap-dhgroups=$group"
        args+=(-object "secret,id=hkey$n,file=$kdir/AUTH_H${n}_KEY")
        h+=",dhchap-secret=hkey$n"
        if [ -f "$kdir/AUTH_H${n}_CKEY" ]; then
            args+=(-object "secret,id=ckey$n,file=$kdir/AUTH_H${n}_CKEY")
            h+=",dhchap-ctrl-secret=ckey$n"
        fi
        args+=(-object "$h")
    done
    args+=(-trace "enable=nvmet_*,file=$LOGDIR/guest-auth.trace")
    # shellcheck disable=SC2086
    guest_run guest-auth --qemu "$q/qemu-system-x86_64" --test auth \
        --timeout 900 --param subnqn=$nqn --param mib=2 \
        --param addr=10.0.2.100 --guestfwd "$(guestfwd "$sock" 4420)" \
        ${NVMET_AUTH_PCAP:+--pcap "$NVMET_AUTH_PCAP"} \
        ${NVMET_GUEST_ARGS:-} -- "${args[@]}"
    rm -f "$img"
    rm -rf "$kdir"
}

# tls_keys_to KDIR VAR...: a fresh KDIR (mode 0700) with the keys of
# tests/guest/data/tls-keys.sh named VAR, each in the file KDIR/VAR (for
# QEMU's -object secret,file=), and the host NQNs TLS_H1..TLS_H4 in
# KDIR/h1..h4
tls_keys_to() {
    local kdir=$1; shift
    rm -rf "$kdir" && mkdir -m 0700 "$kdir" || return 1
    (
        . "$NVMET_TOP/tests/guest/data/tls-keys.sh"
        for var in "$@"; do
            printf '%s' "${!var}" > "$kdir/$var"
        done
        echo "$TLS_H1" > "$kdir/h1"; echo "$TLS_H2" > "$kdir/h2"
        echo "$TLS_H3" > "$kdir/h3"; echo "$TLS_H4" > "$kdir/h4"
    )
}

# TLS and secure channel concatenation with the Linux host and tlshd
# (tests/guest/tls.sh); keys from tests/guest/data/tls-keys.sh.
guest_tls() {
    local q=$NVMET_BUILD/qemu/build img=$LOGDIR/tls-disk.img
    local nqn=nqn.2026-11.org.qemu:tls qnqn=nqn.2026-11.org.qemu:tls-quirk
    local kdir=$LOGDIR/tls-keys keylog=$LOGDIR/tls-keylog.txt
    local trace=$LOGDIR/guest-tls.trace p=0 f=0 var
    # the target's QMP events, recorded from the host while the guest runs
    local qmp=$LOGDIR/guest-tls.qmp events=$LOGDIR/guest-tls.events rec
    rm -f "$keylog" "$qmp" "$events"
    python3 "$NVMET_TOP/scripts/qmp-events.py" record "$qmp" "$events" &
    rec=$!
    tls_keys_to "$kdir" TLS_PSK TLS_H2_KEY TLS_H2_CKEY TLS_PSK384 TLS_H4_KEY TLS_H4_CKEY
    rm -f "$img" && truncate -s 64M "$img"
    # nvme-cli 2.13 and older (the userland of Linux 6.12 .. 6.19 guests)
    # derive configured PSKs the pre-RFC 8446 way: tell the target so
    local compat=""
    if grep -q -E '^userland (bookworm|trixie)$' "${NVMET_GUEST_IMAGE:-/dev/null}/info" 2>/dev/null; then
        compat=",tls-psk-compat=on"
    fi
    # shellcheck disable=SC2086
    local s0 s1; s0=$SOCKDIR/tls0.sock s1=$SOCKDIR/tls1.sock
    guest_run guest-tls --qemu "$q/qemu-system-x86_64" --test tls \
        --timeout 900 --param subnqn=$nqn --param qsubnqn=$qnqn --param mib=2 \
        --param addr=10.0.2.100 --guestfwd "$(guestfwd "$s0" 4420)" \
        --guestfwd "$(guestfwd "$s1" 4421)" \
        ${NVMET_GUEST_ARGS:-} -- \
        -blockdev driver=file,filename="$img",node-name=disk0 \
        -blockdev driver=null-co,size=16777216,read-zeroes=on,node-name=null0 \
        -object secret,id=psk1,file="$kdir/TLS_PSK" \
        -object secret,id=h2key,file="$kdir/TLS_H2_KEY" \
        -object secret,id=h2ckey,file="$kdir/TLS_H2_CKEY" \
        -object secret,id=psk384,file="$kdir/TLS_PSK384" \
        -object secret,id=h4key,file="$kdir/TLS_H4_KEY" \
        -object secret,id=h4ckey,file="$kdir/TLS_H4_CKEY" \
        -object "$(unix_port port0 "$s0" 4420 ',"tls":"allowed","tls-keylog":"'"$keylog"'"')" \
        -object "$(unix_port port1 "$s1" 4421 ',"tls":"required"')" \
        -object nvmet-subsystem,id=sub0,nqn=$nqn,ports=port0,ports=port1 \
        -object nvmet-subsystem,id=sub1,nqn=$qnqn,ports=port0,quirk-free-tls-key=on \
        -object nvmet-namespace,id=ns1,subsystem=sub0,nsid=1,node-name=disk0 \
        -object nvmet-namespace,id=ns2,subsystem=sub1,nsid=1,node-name=null0 \
        -object nvmet-host,id=h1,nqn="$(cat "$kdir/h1")",subsystems=sub0,tls-psk=psk1$compat \
        -object nvmet-host,id=h2,nqn="$(cat "$kdir/h2")",subsystems=sub0,subsystems=sub1,dhchap-secret=h2key,dhchap-ctrl-secret=h2ckey \
        -object nvmet-host,id=h3,nqn="$(cat "$kdir/h3")",subsystems=sub0,tls-psk=psk384$compat \
        -object nvmet-host,id=h4,nqn="$(cat "$kdir/h4")",subsystems=sub0,dhchap-secret=h4key,dhchap-ctrl-secret=h4ckey,dhchap-hashes=sha384 \
        -trace "enable=nvmet_*,file=$trace" \
        -qmp "unix:$qmp,server=on,wait=off"
    kill "$rec" 2>/dev/null; wait "$rec" 2>/dev/null
    # what the target saw, from its side; a check whose feature the guest
    # kernel skipped (GUEST-FEATURE: NAME SKIP) is skipped too
    local glog=$LOGDIR/guest-tls.log k=0
    # tcheck FEATURE WHAT PATTERN FILE
    tcheck() {
        if grep -q -E "^GUEST-FEATURE: $1 SKIP" "$glog" 2>/dev/null; then
            k=$((k + 1))
        elif grep -q -- "$3" "$4" 2>/dev/null; then
            p=$((p + 1))
        else
            f=$((f + 1)); echo "FAIL: $2" >&2
        fi
    }
    # (the key log is port 0's, where TLS comes from concatenation)
    tcheck concat "no TLS key log in $keylog" 'CLIENT_TRAFFIC_SECRET_0 ' "$keylog"
    tcheck replace-reauth "no REPLACETLSPSK in the target trace" \
        'REPLACETLSPSK: generated PSK' "$trace"
    tcheck quirk "the quirk did not produce CONCAT_MISMATCH" \
        'reason 0x03 (secure channel concatenation mismatch)' "$trace"
    # SHA-384 PSKs negotiated TLS_AES_256_GCM_SHA384 (configured, generated)
    tcheck tls-sha384 "no AES-256-GCM session with a NVMe1R02 PSK in the target trace" \
        "TLS established with PSK identity 'NVMe1R02 .*AES-256-GCM" "$trace"
    tcheck concat-sha384 "no AES-256-GCM session with a NVMe1G02 PSK in the target trace" \
        "TLS established with PSK identity 'NVMe1G02 .*AES-256-GCM" "$trace"
    if [ $k != 0 ]; then
        record guest-tls-target "$p" "$f" "$k skipped"
    else
        record guest-tls-target "$p" "$f"
    fi
    # the QMP events match what the guest did (--concat, the rotations
    # through tls_configured_key); skipped with a kernel that has neither
    p=0 f=0
    if grep -q -E '^GUEST-FEATURE: (concat|replace-tck) SKIP' "$glog" 2>/dev/null; then
        record guest-tls-qmp 0 0 "1 skipped"
    else
        while read -r var _; do
            case $var in PASS:) p=$((p + 1)) ;; FAIL:) f=$((f + 1)) ;; esac
        done < <(python3 "$NVMET_TOP/scripts/qmp-events.py" check-concat \
                     "$events" "$glog" "$(cat "$kdir/h2")" "$nqn" |
                 tee "$LOGDIR/guest-tls-qmp.log")
        grep '^FAIL' "$LOGDIR/guest-tls-qmp.log" >&2
        [ $((p + f)) -gt 0 ] || f=1
        record guest-tls-qmp "$p" "$f"
    fi
    rm -f "$img"
    rm -rf "$kdir"
}

# REPLACETLSPSK soak with the Linux host (tests/guest/rotate.sh):
# $NVMET_GUEST_ROTATIONS (100) rotations through tls_configured_key with
# data verified every 10; from the target's side, its trace must show at
# least one REPLACETLSPSK per rotation (Linux 7.x re-authenticates the TLS
# admin queue with REPLACETLSPSK, then the reset's cleartext admin queue
# makes a NEWTLSPSK one), every generated PSK replacing the one before.
guest_rotate() {
    local q=$NVMET_BUILD/qemu/build img=$LOGDIR/rotate-disk.img
    local nqn=nqn.2026-11.org.qemu:rotate kdir=$LOGDIR/rotate-keys
    local trace=$LOGDIR/guest-rotate.trace rot=${NVMET_GUEST_ROTATIONS:-100}
    local sock=$SOCKDIR/rotate.sock
    rm -f "$trace"
    tls_keys_to "$kdir" TLS_H2_KEY TLS_H2_CKEY
    rm -f "$img" && truncate -s 64M "$img"
    # shellcheck disable=SC2086
    guest_run guest-rotate --qemu "$q/qemu-system-x86_64" --test rotate \
        --timeout 1200 --param subnqn=$nqn --param rotations=$rot \
        --param verify_every=10 --param mib=1 \
        --param addr=10.0.2.100 --guestfwd "$(guestfwd "$sock" 4420)" \
        ${NVMET_GUEST_ARGS:-} -- \
        -blockdev driver=file,filename="$img",node-name=disk0 \
        -object secret,id=h2key,file="$kdir/TLS_H2_KEY" \
        -object secret,id=h2ckey,file="$kdir/TLS_H2_CKEY" \
        -object "$(unix_port port0 "$sock" 4420 ',"tls":"allowed"')" \
        -object nvmet-subsystem,id=sub0,nqn=$nqn,ports=port0 \
        -object nvmet-namespace,id=ns1,subsystem=sub0,nsid=1,node-name=disk0 \
        -object nvmet-host,id=h2,nqn="$(cat "$kdir/h2")",subsystems=sub0,dhchap-secret=h2key,dhchap-ctrl-secret=h2ckey \
        -trace "enable=nvmet_concat_psk,file=$trace"
    grep '^ROTATE-FIGURES:' "$LOGDIR/guest-rotate.log" >&2
    # the target's side: a REPLACETLSPSK per rotation, all generated PSKs
    # in a chain (each replaces the serial the one before it generated)
    local p=0 f=0 k=0
    if grep -q -E '^GUEST-FEATURE: replace-tck SKIP' "$LOGDIR/guest-rotate.log"; then
        k=1
    elif python3 - "$trace" "$rot" > "$LOGDIR/guest-rotate-target.log" 2>&1 <<'PY'
import re, sys
lines = [l for l in open(sys.argv[1], errors="replace")
         if "nvmet_concat_psk" in l and "TLSPSK: generated PSK" in l]
want = int(sys.argv[2])
nrep = sum("REPLACETLSPSK:" in l for l in lines)
print(f"{len(lines)} generated PSKs in the target trace, {nrep} of them "
      f"by REPLACETLSPSK; {want} rotations")
prev = None
for l in lines:
    m = re.search(r"serial (0x[0-9a-f]+) \(replaces (0x[0-9a-f]+)\)", l)
    if not m:
        sys.exit(f"no serials in: {l.strip()}")
    if prev is not None and m.group(2) != prev:
        sys.exit(f"replaces {m.group(2)}, the previous PSK was {prev}")
    prev = m.group(1)
sys.exit(0 if nrep >= want else f"fewer REPLACETLSPSK than rotations")
PY
    then
        p=1
    else
        f=1; cat "$LOGDIR/guest-rotate-target.log" >&2
    fi
    if [ $k != 0 ]; then
        record guest-rotate-target "$p" "$f" "$k skipped"
    else
        record guest-rotate-target "$p" "$f"
    fi
    rm -f "$img"
    rm -rf "$kdir"
}

# The demo's guest test (tests/guest/demo.sh) as the issue of UNIX-socket
# ports asks for it: discovery gives the advertised 10.0.2.100, 4 I/O
# queues (4 vCPUs), DH-HMAC-CHAP + --concat + REPLACETLSPSK, verified I/O,
# all through guestfwd unix-connect: while the QEMU process is watched
# from the host side: it must have no TCP socket at all, listening or not.
guest_demo() {
    local q=$NVMET_BUILD/qemu/build img=$LOGDIR/demo-disk.img
    local sock kdir=$LOGDIR/demo-keys watch=$LOGDIR/guest-demo.tcp
    local nqn=nqn.2026-11.org.qemu:demo wpid twin samples listening all
    local hnqn=nqn.2014-08.org.nvmexpress:uuid:00000000-0000-4000-8000-000000000002
    sock=$SOCKDIR/demo.sock
    rm -rf "$kdir" && mkdir -m 0700 "$kdir"
    (
        . "$NVMET_TOP/tests/guest/data/auth-keys.sh"
        printf '%s' "$AUTH_H2_KEY" > "$kdir/host.key"
        printf '%s' "$AUTH_H2_CKEY" > "$kdir/ctrl.key"
    )
    rm -f "$img" && truncate -s 64M "$img"
    # every 0.5 s: "LISTENING ALL" TCP sockets of the guest's QEMU
    ( while :; do qemu_tcp_sockets "$sock"; sleep 0.5; done ) > "$watch" &
    wpid=$!
    # a second demo at the same time, on a socket of its own (its own
    # disk, one vCPU, the host's queue count): two demos on one machine
    # do not meet
    rm -f "$img.2" && truncate -s 64M "$img.2"
    "$NVMET_TOP/tests/guest/run.sh" --qemu "$q/qemu-system-x86_64" \
        --test demo --timeout 900 --smp 1 --param subnqn=$nqn --param mib=2 \
        --param addr=10.0.2.100 --guestfwd "$(guestfwd "$sock.2" 4420)" \
        ${NVMET_GUEST_ARGS:-} -- \
        -blockdev driver=file,filename="$img.2",node-name=disk0 \
        -object secret,id=hostkey,file="$kdir/host.key" \
        -object secret,id=ctrlkey,file="$kdir/ctrl.key" \
        -object "$(unix_port port0 "$sock.2" 4420 ',"tls":"allowed"')" \
        -object nvmet-subsystem,id=sub0,nqn=$nqn,ports=port0 \
        -object nvmet-namespace,id=ns1,subsystem=sub0,nsid=1,node-name=disk0 \
        -object nvmet-host,id=host0,nqn=$hnqn,subsystems=sub0,dhchap-secret=hostkey,dhchap-ctrl-secret=ctrlkey \
        > "$LOGDIR/guest-demo-twin.log" 2>&1 &
    twin=$!
    guest_run guest-demo --qemu "$q/qemu-system-x86_64" --test demo \
        --timeout 900 --smp 4 --param subnqn=$nqn --param mib=4 \
        --param addr=10.0.2.100 --param io_queues=4 \
        --guestfwd "$(guestfwd "$sock" 4420)" ${NVMET_GUEST_ARGS:-} -- \
        -blockdev driver=file,filename="$img",node-name=disk0 \
        -object secret,id=hostkey,file="$kdir/host.key" \
        -object secret,id=ctrlkey,file="$kdir/ctrl.key" \
        -object "$(unix_port port0 "$sock" 4420 ',"tls":"allowed"')" \
        -object nvmet-subsystem,id=sub0,nqn=$nqn,ports=port0 \
        -object nvmet-namespace,id=ns1,subsystem=sub0,nsid=1,node-name=disk0 \
        -object nvmet-host,id=host0,nqn=$hnqn,subsystems=sub0,dhchap-secret=hostkey,dhchap-ctrl-secret=ctrlkey,dhchap-hashes=sha256,dhchap-dhgroups=ffdhe3072
    kill "$wpid" 2>/dev/null; wait "$wpid" 2>/dev/null
    wait "$twin"
    guest_result guest-demo-twin $?
    # samples while the guest's QEMU ran
    samples=$(awk '$3 > 0' "$watch" | grep -c .)
    listening=$(awk '{ if ($1 > m) m = $1 } END { print m + 0 }' "$watch")
    all=$(awk '{ if ($2 > m) m = $2 } END { print m + 0 }' "$watch")
    if [ "$samples" -gt 10 ] && [ "$listening" = 0 ] && [ "$all" = 0 ]; then
        record guest-demo-host 1 0
    else
        echo "FAIL: the guest's QEMU had TCP sockets (max $listening listening, $all in all, $samples samples)" >&2
        record guest-demo-host 0 1
    fi
    # QEMU's exit removed its socket
    if [ -e "$sock" ]; then
        echo "FAIL: $sock was not removed" >&2
        record guest-demo-socket 0 1
    else
        record guest-demo-socket 1 0
    fi
    rm -f "$img" "$img.2"
    rm -rf "$kdir"
}

# Fault injection with the Linux host (tests/guest/faults.sh): the guest
# arms faults through its QMP channel (run.sh --guest-qmp, guestfwd
# unix-connect:); the port is chosen by the kernel (trsvcid=0) and read back over QMP.
guest_faults() {
    local q=$NVMET_BUILD/qemu/build img=$LOGDIR/faults-disk.img
    local nqn=nqn.2026-11.org.qemu:faults kdir=$LOGDIR/faults-keys
    local trace=$LOGDIR/guest-faults.trace p=0 f=0
    tls_keys_to "$kdir" TLS_H2_KEY TLS_H2_CKEY
    rm -f "$img" && truncate -s 64M "$img"
    # shellcheck disable=SC2086
    guest_run guest-faults --qemu "$q/qemu-system-x86_64" --test faults \
        --guest-qmp --timeout 900 --param subnqn=$nqn --param mib=4 \
        ${NVMET_GUEST_ARGS:-} -- \
        -blockdev driver=file,filename="$img",node-name=disk0 \
        -object secret,id=hkey,file="$kdir/TLS_H2_KEY" \
        -object secret,id=ckey,file="$kdir/TLS_H2_CKEY" \
        -object nvmet-port,id=port0,traddr=127.0.0.1,trsvcid=0,tls=allowed \
        -object nvmet-subsystem,id=sub0,nqn=$nqn,ports=port0,allow-any-host=on \
        -object nvmet-namespace,id=ns1,subsystem=sub0,nsid=1,node-name=disk0 \
        -object nvmet-host,id=h2,nqn="$(cat "$kdir/h2")",subsystems=sub0,dhchap-secret=hkey,dhchap-ctrl-secret=ckey \
        -trace enable=nvmet_kato_expired -trace "enable=nvmet_fault_*,file=$trace"
    # the faults the guest armed fired, and the target traced each
    for step in connect-io pdu-c2h-data pdu-capsule-resp io-cmd keep-alive \
                pdu-capsule-cmd auth-reply auth-negotiate auth-success \
                tls-identity; do
        if grep -q "fault [0-9]* fired at $step" "$trace" 2>/dev/null; then
            p=$((p + 1))
        else
            f=$((f + 1)); echo "FAIL: no fault fired at $step in $trace" >&2
        fi
    done
    # the ignored Keep Alives let the controller's KATO expire
    if grep -q "no keep-alive within" "$trace" 2>/dev/null; then
        p=$((p + 1))
    else
        f=$((f + 1)); echo "FAIL: no KATO expiry in $trace" >&2
    fi
    record guest-faults-target "$p" "$f"
    rm -f "$img"
    rm -rf "$kdir"
}

# Disconnect storm with the Linux host (tests/guest/storm.sh): the guest
# arms seeded faults that cut the storm host's connections (through its
# QMP channel) while it writes, resets its controller now and then, and a
# bystander host on the same namespace must see nothing.  Native multipath
# is off in the guest so that each controller has its own block device.
# From the target's side: its trace has a fired fault for each cut the
# guest counted.
guest_storm() {
    local q=$NVMET_BUILD/qemu/build img=$LOGDIR/storm-disk.img
    local nqn=nqn.2026-11.org.qemu:storm kdir=$LOGDIR/storm-keys
    local trace=$LOGDIR/guest-storm.trace p=0 f=0 cuts fired
    rm -f "$trace"
    tls_keys_to "$kdir" TLS_H2_KEY TLS_H2_CKEY
    rm -f "$img" && truncate -s 64M "$img"
    # shellcheck disable=SC2086
    guest_run guest-storm --qemu "$q/qemu-system-x86_64" --test storm \
        --guest-qmp --timeout 1500 --param subnqn=$nqn \
        --param cuts=${NVMET_GUEST_CUTS:-40} --append nvme_core.multipath=N \
        ${NVMET_GUEST_ARGS:-} -- \
        -blockdev driver=file,filename="$img",node-name=disk0 \
        -object secret,id=hkey,file="$kdir/TLS_H2_KEY" \
        -object secret,id=ckey,file="$kdir/TLS_H2_CKEY" \
        -object nvmet-port,id=port0,traddr=127.0.0.1,trsvcid=0,tls=allowed \
        -object nvmet-subsystem,id=sub0,nqn=$nqn,ports=port0,allow-any-host=on,seed=20261130 \
        -object nvmet-namespace,id=ns1,subsystem=sub0,nsid=1,node-name=disk0 \
        -object nvmet-host,id=h2,nqn="$(cat "$kdir/h2")",subsystems=sub0,dhchap-secret=hkey,dhchap-ctrl-secret=ckey \
        -trace enable=nvmet_queue_close -trace enable=nvmet_connect_ok \
        -trace enable=nvmet_tls_established -trace enable=nvmet_tls_error \
        -trace enable=nvmet_auth_success -trace enable=nvmet_concat_psk \
        -trace enable=nvmet_ctrl_teardown -trace enable=nvmet_icreq_timeout \
        -trace "enable=nvmet_fault_fired,file=$trace"
    grep '^STORM-FIGURES:' "$LOGDIR/guest-storm.log" >&2
    cuts=$(sed -n 's/^STORM-FIGURES:.* cuts=\([0-9]*\) .*/\1/p' "$LOGDIR/guest-storm.log" | tail -n1)
    fired=$(grep -c '^nvmet_fault_fired' "$trace" 2>/dev/null)
    # (a fault may fire between the guest's last count and its removal)
    if [ -n "$cuts" ] && [ "${fired:-0}" -ge "$cuts" ] && [ "$cuts" -gt 0 ]; then
        p=1
    else
        f=1
        echo "FAIL: the target traced ${fired:-0} fired faults, the guest counted ${cuts:-none}" >&2
    fi
    record guest-storm-target "$p" "$f"
    rm -f "$img"
    rm -rf "$kdir"
}

guest_prepare() {
    [ -n "$SOCKDIR" ] || SOCKDIR=$(mktemp -d "${TMPDIR:-/tmp}/nvmet-tests.XXXXXX")
    if ! use_private_gnutls; then
        record guest 0 1 "GnuTLS build failed"
        return 1
    fi
    if ! "$NVMET_TOP/scripts/build-qemu.sh" qemu-system-x86_64 \
            storage-daemon/qemu-storage-daemon qemu-img \
            > "$LOGDIR/build-qemu.log" 2>&1; then
        record guest 0 1 "QEMU build failed"
        return 1
    fi
    # the image of $NVMET_GUEST_KERNEL (or the default kernel), built once;
    # run.sh boots it through NVMET_GUEST_IMAGE
    local img
    if [ -n "${NVMET_GUEST_IMAGE:-}" ]; then
        # prepared by the caller (scripts/kernel-matrix.sh)
        [ -f "$NVMET_GUEST_IMAGE/layers" ] || {
            record guest 0 1 "no guest image in $NVMET_GUEST_IMAGE"; return 1; }
        log "guest image: $(tr '\n' ' ' < "$NVMET_GUEST_IMAGE/info")"
        return 0
    fi
    if ! img=$("$NVMET_TOP/scripts/build-guest.sh" \
               ${NVMET_GUEST_KERNEL:+--kernel "$NVMET_GUEST_KERNEL"} 2> "$LOGDIR/build-guest.log"); then
        tail -n 40 "$LOGDIR/build-guest.log" >&2
        record guest 0 1 "guest image build failed${NVMET_GUEST_KERNEL:+ (kernel $NVMET_GUEST_KERNEL)}"
        return 1
    fi
    export NVMET_GUEST_IMAGE=$img
    log "guest image: $(tr '\n' ' ' < "$img/info")"
}

guest_io() {
    local q=$NVMET_BUILD/qemu/build
    local img=$LOGDIR/guest-disk.img nqn=nqn.2026-11.org.qemu:tests
    rm -f "$img" "$img.2" && truncate -s 64M "$img" && truncate -s 32M "$img.2"
    local sock; sock=$SOCKDIR/io.sock
    guest_run guest-nvme-io-qemu --qemu "$q/qemu-system-x86_64" \
        --test nvme-io --timeout 900 --param subnqn=$nqn --param mib=8 \
        --param ns2=2 --param addr=10.0.2.100 \
        --guestfwd "$(guestfwd "$sock" 4420)" -- \
        -blockdev driver=file,filename="$img",node-name=disk0 \
        -blockdev driver=null-co,size=33554432,read-zeroes=on,node-name=null0 \
        -blockdev driver=raw,file.driver=file,file.filename="$img.2",node-name=disk1 \
        -object "$(unix_port port0 "$sock" 4420)" \
        -object nvmet-subsystem,id=sub0,nqn=$nqn,ports=port0,allow-any-host=on \
        -object nvmet-namespace,id=ns1,subsystem=sub0,nsid=1,node-name=disk0 \
        -object nvmet-namespace,id=ns2,subsystem=sub0,nsid=2,node-name=disk1,block-size=4096 \
        -object nvmet-namespace,id=ns3,subsystem=sub0,nsid=3,node-name=null0
    rm -f "$img" "$img.2"
}

guest_suite() {
    guest_prepare || return
    guest_io
    guest_auth
    guest_tls
    guest_rotate
    guest_demo
    guest_faults
    guest_storm
    guest_qsd
}

# The I/O guest test against qemu-storage-daemon: the guest's QEMU has no
# target
guest_qsd() {
    local q=$NVMET_BUILD/qemu/build
    local img=$LOGDIR/guest-disk.img nqn=nqn.2026-11.org.qemu:tests
    rm -f "$img" && truncate -s 64M "$img"
    # on TCP, the way it serves other machines; the kernel picks the port
    # (trsvcid=0), which the daemon's trace line gives back.  The namespace
    # is the block export (--export type=nvmet) and the I/O queues run in
    # two iothreads (one per queue of the guest's 2 vCPUs), the data path
    # a daemon serving other machines uses
    local port="" pidfile=$LOGDIR/qsd.pid
    rm -f "$pidfile"
    "$q/storage-daemon/qemu-storage-daemon" \
        --trace enable=nvmet_qemu_port_address \
        --trace enable=nvmet_qemu_conn_move \
        --object iothread,id=io0 --object iothread,id=io1 \
        --blockdev driver=file,filename="$img",node-name=disk0 \
        --object nvmet-port,id=port0,traddr=127.0.0.1,trsvcid=0 \
        --object nvmet-subsystem,id=sub0,nqn=$nqn,ports.0=port0,allow-any-host=on,iothreads.0=io0,iothreads.1=io1 \
        --export type=nvmet,id=ns1,node-name=disk0,subsystem=sub0,nsid=1,writable=on,iothread=io0 \
        --pidfile "$pidfile" > "$LOGDIR/qsd.log" 2>&1 &
    local qsd=$!
    for _ in $(seq 100); do [ -f "$pidfile" ] && break; sleep 0.1; done
    port=$(sed -n 's/.*nvmet-port port0: hosts reach it at 127\.0\.0\.1 port \([0-9]*\).*/\1/p' \
           "$LOGDIR/qsd.log" | head -n 1)
    [ -n "$port" ] || echo "qemu-storage-daemon reported no port (log: $LOGDIR/qsd.log)" >&2
    guest_run guest-nvme-io-qsd --qemu "$q/qemu-system-x86_64" \
        --test nvme-io --timeout 600 --param subnqn=$nqn --param mib=8 \
        --param port=$port
    kill "$qsd" 2>/dev/null; wait "$qsd" 2>/dev/null
    # the guest's I/O queues were served by both iothreads
    local io p=0 f=0
    for io in io0 io1; do
        if grep -q "qid [0-9]* cntlid [0-9]* now served by $io$" "$LOGDIR/qsd.log"; then
            p=$((p + 1))
        else
            f=$((f + 1)); echo "FAIL: no I/O queue moved to iothread $io (log: $LOGDIR/qsd.log)" >&2
        fi
    done
    record guest-nvme-io-qsd-target "$p" "$f"
    rm -f "$img"
}

# guest-tls with each of $NVMET_CI_KERNELS (suites named guest-tls@KERNEL)
guest_kernels() {
    local k img saved_logs=$LOGDIR saved_img=${NVMET_GUEST_IMAGE:-}
    guest_prepare || return
    for k in ${NVMET_CI_KERNELS-6.16}; do
        SUITE_SUFFIX=@$k
        LOGDIR=$saved_logs/kernel-$k
        mkdir -p "$LOGDIR"
        if img=$("$NVMET_TOP/scripts/build-guest.sh" --kernel "$k" \
                 2> "$LOGDIR/build-guest.log"); then
            export NVMET_GUEST_IMAGE=$img
            log "guest image: $(tr '\n' ' ' < "$img/info")"
            guest_tls
        else
            tail -n 5 "$LOGDIR/build-guest.log" >&2
            record guest-image 0 1 "no image for kernel $k"
        fi
    done
    SUITE_SUFFIX="" LOGDIR=$saved_logs NVMET_GUEST_IMAGE=$saved_img
}

# ---- scale: many hosts at once (scripts/scale-hosts.sh, a smaller run) ------
# One case per mode: PASSED or FAILED from the driver; a script that fails
# otherwise (build, daemon) counts as a failure too.
scale_suite() {
    local log=$LOGDIR/scale-hosts.log rc p f
    log "suite scale: scripts/scale-hosts.sh --hosts 8 --queues 4 --seconds 3"
    "$NVMET_TOP/scripts/scale-hosts.sh" --hosts 8 --queues 4 --seconds 3 \
        > "$log" 2>&1
    rc=$?
    p=$(grep -c '^PASSED$' "$log")
    f=$(grep -c '^FAILED$' "$log")
    grep -E '^many-hosts:|^  +[0-9]+ x |^error:' "$log" | head -n 20 >&2
    if [ $rc -ne 0 ] && [ "$f" = 0 ]; then
        f=1
        tail -n 20 "$log" >&2
    fi
    record scale-hosts "$p" "$f"
}

# ---- blktests: the nvme group through the external target control --------------
# First the QMP channel it uses (run.sh --guest-qmp), then one test case per
# blktests test; tests blktests did not run are noted.
blktests_suite() {
    local log=$LOGDIR/blktests.log rc last p f n
    if guest_prepare; then
        guest_run guest-qmp --qemu "$NVMET_BUILD/qemu/build/qemu-system-x86_64" \
            --test guest-qmp --guest-qmp --timeout 300 --param portid=port0 \
            --param subnqn=nqn.2026-11.org.qemu:guest-qmp ${NVMET_GUEST_ARGS:-} \
            -- -object nvmet-port,id=port0,traddr=127.0.0.1,trsvcid=0
    fi
    log "suite blktests: scripts/blktests.sh --quick"
    "$NVMET_TOP/scripts/blktests.sh" --quick > "$log" 2>&1
    rc=$?
    last=$(grep -E '^[0-9]+ passed, [0-9]+ failed$' "$log" | tail -n1)
    p=$(echo "$last" | sed -n 's/^\([0-9]*\) passed.*/\1/p')
    f=$(echo "$last" | sed -n 's/.* \([0-9]*\) failed$/\1/p')
    p=${p:-0} f=${f:-0}
    if [ $rc -ne 0 ] && [ "$f" = 0 ]; then
        f=1
        tail -n 20 "$log" >&2
    fi
    grep -E '^  nvme/[0-9]+ +(failed|no result)|^error:' "$log" | head -n 20 >&2
    n=$(sed -n 's/^\([0-9]*\) not run .*/\1/p' "$log" | tail -n1)
    record blktests "$p" "$f" "${n:+$n not run}"
}

for s in "${suites[@]}"; do
    case $s in
        unit) unit_suite unit "$NVMET_BUILD/engine" ;;
        unit-asan) unit_suite unit-asan "$NVMET_BUILD/engine-asan" \
                       -Db_sanitize=address,undefined -Db_lundef=false ;;
        unit-tsan) unit_suite unit-tsan "$NVMET_BUILD/engine-tsan" \
                       -Db_sanitize=thread -Db_lundef=false ;;
        qtest) qtest_suite ;;
        soak) qtest_suite soak ;;
        scale) scale_suite ;;
        guest) guest_suite ;;
        guest-io) guest_prepare && guest_io ;;
        guest-kernels) guest_kernels ;;
        guest-auth) guest_prepare && guest_auth ;;
        guest-tls) guest_prepare && guest_tls ;;
        guest-rotate) guest_prepare && guest_rotate ;;
        guest-qsd) guest_prepare && guest_qsd ;;
        guest-demo) guest_prepare && guest_demo ;;
        guest-faults) guest_prepare && guest_faults ;;
        guest-storm) guest_prepare && guest_storm ;;
        blktests) blktests_suite ;;
    esac
done

[ -n "$SOCKDIR" ] && rm -rf "$SOCKDIR"
echo
echo "Per suite (logs in $LOGDIR):"
printf '  %s\n' "${summary[@]}"
echo "$total_pass passed, $total_fail failed"
[ "$total_fail" -eq 0 ]
