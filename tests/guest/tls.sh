#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-or-later
#
# TLS 1.3 PSK and secure channel concatenation with the Linux nvme-tcp host
# (tlshd doing the handshakes) against our target.
#
# The target (scripts/run-tests.sh guest_tls) has:
#   port 4420, tls=allowed: subsystem NVMET_SUBNQN and NVMET_QSUBNQN
#   port 4421, tls=required: subsystem NVMET_SUBNQN
#   host 1 (TLS_H1): a configured PSK (TLS_PSK), no DH-HMAC-CHAP key
#   host 2 (TLS_H2): DH-HMAC-CHAP host and controller keys (concatenation)
#   host 3 (TLS_H3): a configured SHA-384 PSK (TLS_PSK384)
#   host 4 (TLS_H4): DH-HMAC-CHAP keys, allowed hash SHA-384 only
#   NVMET_QSUBNQN has quirk-free-tls-key=on (the seed bug on purpose)
# Steps: configured PSK (identity v1, then v0) with verified I/O; cleartext
# refused on the TLS-required port; a wrong PSK refused; --concat with
# bidirectional DH-HMAC-CHAP; REPLACETLSPSK five times through
# tls_configured_key with verified I/O and a new tls_key each time;
# disconnect and reconnect; SHA-384 PSKs (TLS_AES_256_GCM_SHA384): a
# configured one and concatenation with SHA-384 and two rotations; the quirk
# turning a re-authentication's REPLACETLSPSK into CONCAT_MISMATCH.
#
# What the booted kernel cannot do is skipped with the reason: no TLS at all
# (6.1; or no tlshd in the userland), no concatenation (6.12), no
# tls_configured_key (6.18: REPLACETLSPSK is then driven by writing
# dhchap_secret, which every concatenating kernel supports).
#
# Features (scripts/kernel-matrix.sh): tls-psk, tls-sha384, concat,
# replace-tck (REPLACETLSPSK through tls_configured_key, with a controller
# reset), replace-reauth (REPLACETLSPSK through dhchap_secret, on the live
# queue), concat-sha384, quirk.
#
# Parameters: NVMET_SUBNQN, NVMET_QSUBNQN, NVMET_ADDR (10.0.2.2; both
# ports), NVMET_MIB (2), NVMET_ROTATIONS (5)
. /tests/lib.sh
. /tests/data/tls-keys.sh

ADDR=${NVMET_ADDR:-10.0.2.2}
NQN=${NVMET_SUBNQN:?}
QNQN=${NVMET_QSUBNQN:?}
MIB=${NVMET_MIB:-2}
ROT=${NVMET_ROTATIONS:-5}

ctrl_of() {     # NQN HOSTNQN: the controller of that host
    for _c in $(nvme_ctrls "$1"); do
        [ "$(cat "/sys/class/nvme/$_c/hostnqn")" = "$2" ] && { echo "$_c"; return 0; }
    done
    return 1
}
live() {        # NQN HOSTNQN
    _lc=$(ctrl_of "$1" "$2") && [ "$(cat "/sys/class/nvme/$_lc/state")" = live ]
}
gone() { ! ctrl_of "$1" "$2" > /dev/null; }
disconnect_all() {
    for _n in "$NQN" "$QNQN"; do
        [ -z "$(nvme_ctrls "$_n")" ] || nvme disconnect -n "$_n" > /dev/null 2>&1
        wait_gone "$_n" 20
    done
}
attr() { cat "/sys/class/nvme/$1/$2" 2>/dev/null; }
io_check() {    # DEV TAG
    write_random_to "$1" "$MIB" 0 "$2" && verify_from "$1" "$MIB" 0 "$2"
}
klog_mark() { dmesg -c > /dev/null; }
# re-authenticate controller $c by writing its DH-HMAC-CHAP key (with
# concatenation: REPLACETLSPSK on the TLS admin queue, without a reset)
reauth_key() {
    _n=$(dmesg | grep -c "$c: qid 0: authenticated")
    printf '%s' "$1" > "/sys/class/nvme/$c/dhchap_secret"
    sleep 2
    dmesg | grep "$c: " | tail -n 4
    [ "$(dmesg | grep -c "$c: qid 0: authenticated")" -gt "$_n" ]
}
reauth_once() { reauth_key "$TLS_H2_KEY"; }

FEATURES="tls-psk tls-sha384 concat replace-tck replace-reauth concat-sha384 quirk"
if ! why=$(cap_tls); then
    for f in $FEATURES; do feature "$f"; skip "$f" "$why"; done
    exit 0
fi
feature tls-psk
require "tlshd" start_tlshd
require ".nvme keyring" keyctl id %:.nvme
keyctl link %:.nvme @us 2>/dev/null

# ---------------------------------------------------------------- configured PSK
# the identity (keyring description) of the PSK controller $1 uses
psk_identity() {
    _ser=$(attr "$1" tls_key) && [ -n "$_ser" ] || return 1
    keyctl rdescribe "0x$_ser" | cut -d';' -f5-
}
identity_is() {     # CTRL PREFIX
    _id=$(psk_identity "$1") || return 1
    echo "PSK identity: $_id"
    case $_id in "$2"*) return 0 ;; esac
    return 1
}
# what the guest did, for the target's QMP events (scripts/qmp-events.py)
qmp_mark() {        # WHAT CTRL
    echo "QMP-CHECK: $1 cntlid=$(attr "$2" cntlid) identity=$(psk_identity "$2")"
}

for v in 1 0; do
    section "configured PSK, identity version $v"
    keyctl clear %:.nvme
    step "insert the PSK (nvme check-tls-key --identity=$v --insert)" \
        nvme check-tls-key --keydata="$TLS_PSK" --hostnqn="$TLS_H1" \
        --subsysnqn="$NQN" --identity="$v" --insert
    step "connect --tls (port 4421, TLS required)" \
        nvme connect -t tcp -a "$ADDR" -s 4421 -n "$NQN" --hostnqn="$TLS_H1" \
        --hostid="$TLS_H1_ID" --tls
    if step "controller live" wait_for 30 live "$NQN" "$TLS_H1"; then
        c=$(ctrl_of "$NQN" "$TLS_H1")
        info "tls_key" attr "$c" tls_key
        check "tls_key set" test -n "$(attr "$c" tls_key)"
        step_v "the PSK identity is version $v" identity_is "$c" "NVMe${v}R01 "
        dev=$(wait_ns "$NQN" 1 20)
        step "verified I/O over TLS (v$v)" io_check "$dev" "psk$v"
    fi
    step "disconnect" disconnect_all
done

section "cleartext on the TLS-required port is refused"
step "connect without --tls to port 4421 fails" \
    sh -c "! nvme connect -t tcp -a $ADDR -s 4421 -n $NQN --hostnqn=$TLS_H1 --hostid=$TLS_H1_ID"
disconnect_all

section "a wrong PSK is refused"
# identity version 0 has no digest: same identity, different key
keyctl clear %:.nvme
step "insert a wrong PSK under the same v0 identity" \
    nvme check-tls-key --keydata="$TLS_BAD_PSK" --hostnqn="$TLS_H1" \
    --subsysnqn="$NQN" --identity=0 --insert
step "connect --tls with the wrong PSK fails" \
    sh -c "! nvme connect -t tcp -a $ADDR -s 4421 -n $NQN --hostnqn=$TLS_H1 --hostid=$TLS_H1_ID --tls"
disconnect_all
info "tlshd log (tail)" tail -n 5 /tmp/tlshd.log

# ---------------------------------------------------------------- concatenation
section "secure channel concatenation: --concat with bidirectional DH-HMAC-CHAP"
feature concat
if ! why=$(cap_concat); then
    for f in concat replace-tck replace-reauth concat-sha384 quirk; do feature "$f"; skip "$f" "$why"; done
    feature tls-sha384
    CONCAT=0
else
    CONCAT=1
fi
[ $CONCAT = 1 ] && keyctl clear %:.nvme
[ $CONCAT = 1 ] && klog_mark
[ $CONCAT = 1 ] && step "connect --concat" \
    nvme connect -t tcp -a "$ADDR" -s 4420 -n "$NQN" --hostnqn="$TLS_H2" \
    --hostid="$TLS_H2_ID" --dhchap-secret="$TLS_H2_KEY" \
    --dhchap-ctrl-secret="$TLS_H2_CKEY" --concat
if [ $CONCAT = 1 ] && step "controller live" wait_for 30 live "$NQN" "$TLS_H2"; then
    c=$(ctrl_of "$NQN" "$TLS_H2")
    info "kernel log" sh -c "dmesg | grep -E 'nvme|tls' | tail -n 8"
    key0=$(attr "$c" tls_key)
    check "connected over TLS with a generated PSK (tls_key $key0)" test -n "$key0"
    step_v "the PSK identity is a generated one" identity_is "$c" "NVMe1G0"
    qmp_mark concat "$c"
    info "keyring" sh -c "keyctl show %:.nvme | grep NVMe1G"
    check "the generated PSK is in the keyring" sh -c "keyctl show %:.nvme | grep -q NVMe1G"
    dev=$(wait_ns "$NQN" 1 20)
    step "verified I/O over the generated PSK" io_check "$dev" concat0
    prev=$key0
    i=1
    feature replace-tck
    if ! why=$(cap_tls_configured_key "$c"); then
        skip "REPLACETLSPSK x$ROT through tls_configured_key" "$why"
        i=$((ROT + 1))
    fi
    while [ $i -le "$ROT" ]; do
        step "REPLACETLSPSK $i: echo 0 > tls_configured_key" \
            sh -c "echo 0 > /sys/class/nvme/$c/tls_configured_key"
        if step "REPLACETLSPSK $i: controller live again" \
                sh -c "sleep 1; . /tests/lib.sh; wait_for 30 sh -c '[ \"\$(cat /sys/class/nvme/$c/state)\" = live ] && [ -n \"\$(cat /sys/class/nvme/$c/tls_key)\" ] && [ \"\$(cat /sys/class/nvme/$c/tls_key)\" != $prev ]'"; then
            new=$(attr "$c" tls_key)
            check "REPLACETLSPSK $i: tls_key changed ($prev -> $new)" test "$new" != "$prev"
            prev=$new
            qmp_mark "rotation $i" "$c"
            dev=$(wait_ns "$NQN" 1 20)
            step "REPLACETLSPSK $i: verified I/O" io_check "$dev" "rot$i"
        else
            info "state" sh -c "cat /sys/class/nvme/$c/state /sys/class/nvme/$c/tls_key; dmesg | tail -n 20"
        fi
        i=$((i + 1))
    done
    feature replace-reauth
    step "re-authentication by key write (REPLACETLSPSK, no reset) 1" reauth_once
    step "re-authentication by key write (REPLACETLSPSK, no reset) 2" reauth_once
    step "re-authentication by key write (REPLACETLSPSK, no reset) 3" reauth_once
    dev=$(wait_ns "$NQN" 1 20)
    step "verified I/O after the re-authentications" io_check "$dev" "rot$ROT"
    # a reset reconnects every queue: NEWTLSPSK on the cleartext admin
    # queue, then TLS with the fresh key
    reset_ok() {
        echo 1 > "/sys/class/nvme/$c/reset_controller" || return 1
        sleep 1
        wait_for 30 live "$NQN" "$TLS_H2" && identity_is "$c" "NVMe1G0"
    }
    step_v "controller reset after the re-authentications: live over TLS again" reset_ok
    dev=$(wait_ns "$NQN" 1 20)
    step "verified I/O after the reset" io_check "$dev" "rst"
    feature concat
    step "disconnect" disconnect_all
    klog_mark
    step "reconnect --concat" \
        nvme connect -t tcp -a "$ADDR" -s 4420 -n "$NQN" --hostnqn="$TLS_H2" \
        --hostid="$TLS_H2_ID" --dhchap-secret="$TLS_H2_KEY" \
        --dhchap-ctrl-secret="$TLS_H2_CKEY" --concat
    if step "controller live after reconnecting" wait_for 30 live "$NQN" "$TLS_H2"; then
        c=$(ctrl_of "$NQN" "$TLS_H2")
        dev=$(wait_ns "$NQN" 1 20)
        step "data written before the reconnection reads back" \
            verify_from "$dev" "$MIB" 0 "rst"
    fi
fi
disconnect_all

# ---------------------------------------------------------------- SHA-384 PSKs
# rotate CTRL N TAG: N x REPLACETLSPSK through tls_configured_key, each with a
# new tls_key (the generated identity keeps prefix $ID_PREFIX) and verified I/O
rotate() {
    rot_c=$1 rot_tag=$3 rot_i=1 rot_prev=$(attr "$1" tls_key)
    if ! cap_tls_configured_key "$rot_c" > /dev/null; then
        # older kernels: REPLACETLSPSK by re-authentication on the live queue
        while [ $rot_i -le "$2" ]; do
            c=$rot_c
            step "$rot_tag: REPLACETLSPSK $rot_i (dhchap_secret write)" reauth_key "$TLS_H4_KEY"
            dev=$(wait_ns "$NQN" 1 20)
            step "$rot_tag: REPLACETLSPSK $rot_i: verified I/O" io_check "$dev" "$rot_tag$rot_i"
            rot_i=$((rot_i + 1))
        done
        return
    fi
    while [ $rot_i -le "$2" ]; do
        step "$rot_tag: REPLACETLSPSK $rot_i" \
            sh -c "echo 0 > /sys/class/nvme/$rot_c/tls_configured_key"
        if step "$rot_tag: REPLACETLSPSK $rot_i: live with a new tls_key" \
                sh -c "sleep 1; . /tests/lib.sh; wait_for 30 sh -c '[ \"\$(cat /sys/class/nvme/$rot_c/state)\" = live ] && [ -n \"\$(cat /sys/class/nvme/$rot_c/tls_key)\" ] && [ \"\$(cat /sys/class/nvme/$rot_c/tls_key)\" != $rot_prev ]'"; then
            rot_prev=$(attr "$rot_c" tls_key)
            step_v "$rot_tag: REPLACETLSPSK $rot_i: identity $ID_PREFIX" identity_is "$rot_c" "$ID_PREFIX"
            dev=$(wait_ns "$NQN" 1 20)
            step "$rot_tag: REPLACETLSPSK $rot_i: verified I/O" io_check "$dev" "$rot_tag$rot_i"
        fi
        rot_i=$((rot_i + 1))
    done
}

section "configured SHA-384 PSK (TLS_AES_256_GCM_SHA384)"
feature tls-sha384
SHA384=1
if ! why=$(cap_tls_sha384); then
    SHA384=0
    skip "configured SHA-384 PSK" "$why"
fi
if [ $SHA384 = 1 ]; then
    keyctl clear %:.nvme
    step "insert the SHA-384 PSK (identity version 1)" \
        nvme check-tls-key --keydata="$TLS_PSK384" --hostnqn="$TLS_H3" \
        --subsysnqn="$NQN" --identity=1 --insert
    step "connect --tls with the SHA-384 PSK" \
        nvme connect -t tcp -a "$ADDR" -s 4421 -n "$NQN" --hostnqn="$TLS_H3" \
        --hostid="$TLS_H3_ID" --tls
    if step "controller live" wait_for 30 live "$NQN" "$TLS_H3"; then
        c=$(ctrl_of "$NQN" "$TLS_H3")
        step_v "the PSK identity is a SHA-384 one" identity_is "$c" "NVMe1R02 "
        dev=$(wait_ns "$NQN" 1 20)
        step "verified I/O over TLS with the SHA-384 PSK" io_check "$dev" psk384
    fi
    step "disconnect" disconnect_all
fi

if [ $CONCAT = 1 ]; then
    section "secure channel concatenation with SHA-384"
    feature concat-sha384
fi
if [ $CONCAT = 1 ] && ! why=$(cap_tls_sha384); then
    skip "concatenation with SHA-384" "$why"
elif [ $CONCAT = 1 ]; then
    keyctl clear %:.nvme
    step "connect --concat (the target allows this host SHA-384 only)" \
        nvme connect -t tcp -a "$ADDR" -s 4420 -n "$NQN" --hostnqn="$TLS_H4" \
        --hostid="$TLS_H4_ID" --dhchap-secret="$TLS_H4_KEY" \
        --dhchap-ctrl-secret="$TLS_H4_CKEY" --concat
    if step "controller live" wait_for 30 live "$NQN" "$TLS_H4"; then
        c=$(ctrl_of "$NQN" "$TLS_H4")
        ID_PREFIX="NVMe1G02 "
        step_v "the generated PSK is a SHA-384 one" identity_is "$c" "$ID_PREFIX"
        dev=$(wait_ns "$NQN" 1 20)
        step "verified I/O over the generated SHA-384 PSK" io_check "$dev" c384
        rotate "$c" 2 c384r
    fi
    step "disconnect" disconnect_all
fi

# ---------------------------------------------------------------- the quirk
if [ $CONCAT = 1 ]; then
    section "quirk-free-tls-key: the seed bug on purpose"
    feature quirk
    # The Linux host re-authenticates a concatenated controller's admin queue
    # with REPLACETLSPSK when its DH-HMAC-CHAP key is written (no reset).  The
    # quirk makes the target forget the queue's TLS key after the first one,
    # so the second gets CONCAT_MISMATCH.  An fprobe on the host's message
    # check shows the Failure1 reason code (3).
    authval_on() {
        _de=$TRACE/dynamic_events
        echo 'f:nvmetest/authval nvme_auth_receive_validate%return ret=$retval' >> "$_de" &&
            echo 1 > "$TRACE/events/nvmetest/authval/enable" && echo 1 > "$TRACE/tracing_on" &&
            : > "$TRACE/trace"
    }
    authval_has() { grep -q "authval: .* ret=$1\$" "$TRACE/trace" || grep -q "authval: .* ret=0x$1\$" "$TRACE/trace"; }
    klog_mark
    step "connect --concat to the quirky subsystem" \
        nvme connect -t tcp -a "$ADDR" -s 4420 -n "$QNQN" --hostnqn="$TLS_H2" \
        --hostid="$TLS_H2_ID" --dhchap-secret="$TLS_H2_KEY" \
        --dhchap-ctrl-secret="$TLS_H2_CKEY" --concat
    if step "controller live" wait_for 30 live "$QNQN" "$TLS_H2"; then
        c=$(ctrl_of "$QNQN" "$TLS_H2")
        probe=0
        authval_on && probe=1
        reauth_refused() { ! reauth_once; }
        step "re-authentication 1 (REPLACETLSPSK) succeeds" reauth_once
        step "re-authentication 2 (REPLACETLSPSK) is refused" reauth_refused
        if [ $probe = 1 ]; then
            info "host auth message checks" sh -c "grep authval $TRACE/trace | tail -n 6"
            check "the host received Failure1 reason 3 (CONCAT_MISMATCH)" authval_has 3
        else
            skip "Failure1 reason on the host" "no fprobe support"
        fi
    fi
fi
disconnect_all
stop_tlshd
