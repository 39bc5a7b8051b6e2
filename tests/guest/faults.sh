#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-or-later
#
# Fault injection with the real Linux host: the guest arms faults of the
# target it is connected to through QMP (tests/guest/run.sh --guest-qmp,
# /tests/bin/qmp), in the middle of a flow, and checks how the host
# reacts (kernel log, sysfs, data read back).
#
# The target (scripts/run-tests.sh guest_faults): port0 (tls=allowed,
# trsvcid=0: its port comes from QMP), subsystem NVMET_SUBNQN
# (allow-any-host) with namespace 1, and host TLS_H2 (tests/guest/data/
# tls-keys.sh) with DH-HMAC-CHAP keys.  Steps:
#   - an I/O queue Connect refused: nvme connect fails, nothing is left;
#   - a data digest error in read data, once: the host retries, the data
#     reads back intact;
#   - a header digest error in a write's response: the host reconnects,
#     the data is intact;
#   - a dropped write completion: the host times out, resets and
#     reconnects; the write is retried and all data is intact;
#   - Keep Alive ignored: the target's KATO expires, the host reconnects to
#     a new controller;
#   - a C2HTermReq in the middle of writes: the host reconnects, the write
#     completes, the data is intact;
#   - AUTH_Failure1 with each reason code explanation on re-authentication
#     (the host's message check returns the reason);
#   - REPLACETLSPSK refused (CONCAT_MISMATCH) on a --concat controller,
#     and the seed bug (forget-tls-key: the REPLACETLSPSK after a
#     successful one is refused);
#   - the TLS handshake after NEWTLSPSK failing with an alert.
#
# Parameters: NVMET_SUBNQN, NVMET_QMP (run.sh --guest-qmp), NVMET_MIB (4)
. /tests/lib.sh
. /tests/data/tls-keys.sh

ADDR=10.0.2.2
NQN=${NVMET_SUBNQN:?}
MIB=${NVMET_MIB:-4}
QMP=/tests/bin/qmp
HOST=$(cat /etc/nvme/hostnqn)
HOSTID=$(cat /etc/nvme/hostid)

# ---- QMP helpers ------------------------------------------------------------
# fault_add ARGS-JSON: arm a fault, print its ID
fault_add() {
    $QMP nvmet-fault-add "$1" | sed -n 's/.*"id": *\([0-9]*\).*/\1/p'
}
fault_del() { $QMP nvmet-fault-del "{\"id\": $1}" > /dev/null; }
# fault_field ID FIELD: a number or boolean of query-nvmet-faults (hits,
# matches, active); QMP does not keep the members in a fixed order
fault_field() {
    $QMP query-nvmet-faults | tr '{' '\n' | grep -E "\"id\": $1([,}]|\$)" |
        sed -n "s/.*\"$2\": *\([0-9a-z]*\).*/\1/p"
}
fault_hits() { fault_field "$1" hits; }
hits_are() { _h=$(fault_hits "$1"); echo "fault $1: hits $_h"; [ "$_h" = "$2" ]; }
hits_at_least() { _h=$(fault_hits "$1"); echo "fault $1: hits $_h"; [ "${_h:-0}" -ge "$2" ]; }
no_faults() { [ "$($QMP query-nvmet-faults)" = "[]" ]; }
# within SEC seconds (wall clock: each QMP session takes a while): CMD...
within() {
    _ws=$(cut -d. -f1 /proc/uptime); _wd=$((_ws + $1)); shift
    while :; do
        "$@" && return 0
        [ "$(cut -d. -f1 /proc/uptime)" -lt "$_wd" ] || return 1
        sleep 1
    done
}

# ---- host helpers -----------------------------------------------------------
connect_plain() {   # [extra nvme connect options]
    nvme connect -t tcp -a "$ADDR" -s "$PORT" -n "$NQN" --hostnqn="$HOST" \
        --hostid="$HOSTID" "$@"
}
connect_h2() {      # [extra options]: with DH-HMAC-CHAP keys
    nvme connect -t tcp -a "$ADDR" -s "$PORT" -n "$NQN" --hostnqn="$TLS_H2" \
        --hostid="$TLS_H2_ID" --dhchap-secret="$TLS_H2_KEY" \
        --dhchap-ctrl-secret="$TLS_H2_CKEY" "$@"
}
ctrl_of() {         # HOSTNQN: its controller
    for _c in $(nvme_ctrls "$NQN"); do
        [ "$(cat "/sys/class/nvme/$_c/hostnqn")" = "$1" ] && { echo "$_c"; return 0; }
    done
    return 1
}
live() { _lc=$(ctrl_of "$1") && [ "$(cat "/sys/class/nvme/$_lc/state")" = live ]; }
attr() { cat "/sys/class/nvme/$1/$2" 2>/dev/null; }
disconnect_all() {
    [ -z "$(nvme_ctrls "$NQN")" ] || nvme disconnect -n "$NQN" > /dev/null 2>&1
    wait_gone "$NQN" 30
}
klog_mark() { dmesg -c > /dev/null; }
klog_has() { dmesg | grep -E "$1"; }
# the controller reconnected: live, and another controller ID than $1
reconnected() { reconnected_as "$HOST" "$1"; }
reconnected_as() {  # HOSTNQN CNTLID
    live "$1" && _nc=$(ctrl_of "$1") && [ "$(attr "$_nc" cntlid)" != "$2" ]
}

# the host's check of each authentication message it receives returns the
# AUTH_Failure1 reason code explanation (an fprobe on its return value)
authval_on() {
    _de=$TRACE/dynamic_events
    grep -q nvmetest/authval "$_de" 2>/dev/null ||
        echo 'f:nvmetest/authval nvme_auth_receive_validate%return ret=$retval' >> "$_de" || return 1
    echo 1 > "$TRACE/events/nvmetest/authval/enable" && echo 1 > "$TRACE/tracing_on"
}
authval_clear() { : > "$TRACE/trace"; }
authval_has() {
    grep -q "authval: .* ret=$1\$" "$TRACE/trace" ||
        grep -q "authval: .* ret=0x$1\$" "$TRACE/trace"
}
auth_count() { dmesg | grep -c "$1: qid 0: authenticated"; }
authfail_count() { dmesg | grep -c "$1: qid 0: authentication failed"; }
# re-authenticate controller $1 (write its host key); true once the kernel
# says it authenticated again
reauth() {
    _n=$(auth_count "$1")
    printf '%s' "$TLS_H2_KEY" > "/sys/class/nvme/$1/dhchap_secret" || return 1
    wait_for 20 sh -c "[ \$(dmesg | grep -c '$1: qid 0: authenticated') -gt $_n ]"
}
# the same, true once the kernel says that the re-authentication failed
# (the host then finds its admin queue refused and resets the controller)
reauth_fails() {
    _n=$(authfail_count "$1")
    printf '%s' "$TLS_H2_KEY" > "/sys/class/nvme/$1/dhchap_secret" || return 1
    wait_for 30 sh -c "[ \$(dmesg | grep -c '$1: qid 0: authentication failed') -gt $_n ]"
}

# ---- the target's port ----------------------------------------------------
PORT=$($QMP qom-get '{"path": "/objects/port0", "property": "trsvcid"}' | tr -d '"')
require "the target's port (QMP qom-get)" test "${PORT:-0}" -gt 0
require "no fault armed at start" no_faults
echo "target port $PORT, host $HOST"

# ---------------------------------------------------------------------------
section "an I/O queue Connect refused"
klog_mark
id=$(fault_add "{\"step\": \"connect-io\", \"host\": \"$HOST\", \"action\": \"status\", \"sct\": 1, \"sc\": 130, \"dnr\": true}")
check "armed (fault $id)" test -n "$id"
step "nvme connect fails" sh -c "! $(command -v nvme) connect -t tcp -a $ADDR -s $PORT -n $NQN --hostnqn=$HOST --hostid=$HOSTID"
step "no controller is left" wait_gone "$NQN" 20
step_v "the host saw I/O queue 1 refused" klog_has "failed to connect queue: 1 |Connect .*qid 1"
step_v "the fault fired once" hits_are "$id" 1
step "nvme connect works again" connect_plain
step "controller live" wait_for 30 live "$HOST"
dev=$(wait_ns "$NQN" 1 20)
check "namespace device ($dev)" test -b "$dev"
step "write data" write_random_to "$dev" "$MIB" 0 base

# ---------------------------------------------------------------------------
section "a data digest error in read data, once"
disconnect_all
klog_mark
step "connect with header and data digests" connect_plain -g -G
step "controller live" wait_for 30 live "$HOST"
dev=$(wait_ns "$NQN" 1 20)
id=$(fault_add "{\"step\": \"pdu-c2h-data\", \"host\": \"$HOST\", \"opcode\": 2, \"action\": \"corrupt-ddgst\"}")
check "armed (fault $id)" test -n "$id"
step_v "the data reads back intact" verify_from "$dev" "$MIB" 0 base
step_v "the fault fired once" hits_are "$id" 1
step_v "the host saw the data digest error" klog_has "data digest error"
step "the controller stayed live" live "$HOST"

section "a header digest error in a write's response: the host reconnects"
klog_mark
c=$(ctrl_of "$HOST")
cntlid=$(attr "$c" cntlid)
id=$(fault_add "{\"step\": \"pdu-capsule-resp\", \"host\": \"$HOST\", \"opcode\": 1, \"action\": \"corrupt-hdgst\"}")
check "armed (fault $id)" test -n "$id"
step "a write completes" write_random_to "$dev" "$MIB" $((4 * MIB)) hdgst
step_v "the fault fired once" hits_are "$id" 1
step_v "the host saw the header digest error" klog_has "header digest error"
step_v "the host reconnected" wait_for 30 reconnected "$cntlid"
dev=$(wait_ns "$NQN" 1 20)
step_v "the written data is intact" verify_from "$dev" "$MIB" $((4 * MIB)) hdgst

# ---------------------------------------------------------------------------
section "a write completion dropped: timeout, reset, reconnection"
klog_mark
c=$(ctrl_of "$HOST")
cntlid=$(attr "$c" cntlid)
old_tmo=$(cat /sys/module/nvme_core/parameters/io_timeout)
echo 5 > /sys/module/nvme_core/parameters/io_timeout
disconnect_all
step "connect (I/O timeout 5 s)" connect_plain
step "controller live" wait_for 30 live "$HOST"
c=$(ctrl_of "$HOST")
cntlid=$(attr "$c" cntlid)
dev=$(wait_ns "$NQN" 1 20)
step "acknowledged write" write_random_to "$dev" "$MIB" 0 acked
id=$(fault_add "{\"step\": \"io-cmd\", \"host\": \"$HOST\", \"opcode\": 1, \"action\": \"drop\"}")
check "armed (fault $id)" test -n "$id"
step "a write whose completion is dropped still completes" write_random_to "$dev" "$MIB" "$MIB" dropped
step_v "the fault fired once" hits_are "$id" 1
step_v "the host timed out the write" klog_has "timeout|timed out"
step_v "the host reconnected (controller $cntlid -> $(attr "$(ctrl_of "$HOST")" cntlid))" \
    wait_for 30 reconnected "$cntlid"
dev=$(wait_ns "$NQN" 1 20)
step_v "the acknowledged data is intact" verify_from "$dev" "$MIB" 0 acked
step_v "the retried write is intact" verify_from "$dev" "$MIB" "$MIB" dropped
echo "$old_tmo" > /sys/module/nvme_core/parameters/io_timeout

# ---------------------------------------------------------------------------
section "Keep Alive ignored: the keep-alive timeout expires"
disconnect_all
klog_mark
step "connect with a 3 s keep-alive timeout" connect_plain --keep-alive-tmo=3
step "controller live" wait_for 30 live "$HOST"
c=$(ctrl_of "$HOST")
cntlid=$(attr "$c" cntlid)
id=$(fault_add "{\"step\": \"keep-alive\", \"host\": \"$HOST\", \"next\": 2, \"action\": \"ignore-keep-alive\"}")
check "armed (fault $id)" test -n "$id"
step_v "Keep Alive ignored" within 30 hits_at_least "$id" 1
step_v "the host reconnected to a new controller (was $cntlid)" \
    wait_for 40 reconnected "$cntlid"
info "kernel log" sh -c "dmesg | grep -E 'nvme|keep' | tail -n 8"
step_v "the host noticed the lost controller" \
    klog_has "keep.alive|Keep Alive|error recovery|reconnect"
dev=$(wait_ns "$NQN" 1 20)
step "the data is intact" verify_from "$dev" "$MIB" 0 acked
fault_del "$id" 2> /dev/null

# ---------------------------------------------------------------------------
section "a C2HTermReq in the middle of writes"
klog_mark
c=$(ctrl_of "$HOST")
cntlid=$(attr "$c" cntlid)
id=$(fault_add "{\"step\": \"pdu-capsule-cmd\", \"host\": \"$HOST\", \"opcode\": 1, \"nth\": 3, \"action\": \"c2h-term\", \"fes\": 2}")
check "armed (fault $id)" test -n "$id"
dev=$(wait_ns "$NQN" 1 20)
step "writing $((2 * MIB)) MiB completes" write_random_to "$dev" $((2 * MIB)) $((2 * MIB)) term
step_v "the fault fired once" hits_are "$id" 1
step_v "the host received the C2HTermReq with its FES" \
    klog_has "C2HTermReq \\(FES = PDU Sequence Error\\)"
step_v "the host reconnected" wait_for 30 reconnected "$cntlid"
dev=$(wait_ns "$NQN" 1 20)
step_v "the data is intact" verify_from "$dev" $((2 * MIB)) $((2 * MIB)) term
step "the earlier data is intact" verify_from "$dev" "$MIB" 0 acked
disconnect_all

# ---------------------------------------------------------------------------
section "AUTH_Failure1 with each reason on re-authentication"
klog_mark
probe=0
authval_on && probe=1
step "connect with DH-HMAC-CHAP keys" connect_h2
step "controller live" wait_for 30 live "$TLS_H2"
c=$(ctrl_of "$TLS_H2")
n=1
for reason in failed protocol-not-usable concat-mismatch hash-unusable \
              dhgroup-unusable incorrect-payload incorrect-message; do
    id=$(fault_add "{\"step\": \"auth-reply\", \"host\": \"$TLS_H2\", \"qid\": 0, \"action\": \"auth-failure\", \"reason\": \"$reason\"}")
    authval_clear
    step "re-authentication with $reason ($n) fails" reauth_fails "$c"
    step_v "the fault fired ($reason)" hits_are "$id" 1
    if [ $probe = 1 ]; then
        check "the host received Failure1 reason $n ($reason)" authval_has "$n"
    else
        skip "Failure1 reason $n on the host" "no fprobe support"
    fi
    step "controller live" wait_for 60 live "$TLS_H2"
    c=$(ctrl_of "$TLS_H2")
    step "then a re-authentication succeeds" reauth "$c"
    n=$((n + 1))
done
info "kernel log" sh -c "dmesg | grep -E 'auth|nvme' | tail -n 12"
dev=$(wait_ns "$NQN" 1 20)
step "the data is intact" verify_from "$dev" "$MIB" 0 acked
disconnect_all

# ---------------------------------------------------------------------------
section "REPLACETLSPSK refused"
require "tlshd" start_tlshd
keyctl link %:.nvme @us 2>/dev/null
keyctl clear %:.nvme
klog_mark
step "connect --concat" connect_h2 --concat
step "controller live" wait_for 30 live "$TLS_H2"
c=$(ctrl_of "$TLS_H2")
check "TLS with a generated PSK (tls_key $(attr "$c" tls_key))" test -n "$(attr "$c" tls_key)"
id=$(fault_add "{\"step\": \"auth-negotiate\", \"host\": \"$TLS_H2\", \"action\": \"refuse-replace\"}")
check "armed (fault $id)" test -n "$id"
authval_clear
step "REPLACETLSPSK (re-authentication) is refused" reauth_fails "$c"
step_v "the fault fired once" hits_are "$id" 1
if [ $probe = 1 ]; then
    check "the host received Failure1 reason 3 (CONCAT_MISMATCH)" authval_has 3
fi
step "controller live" wait_for 60 live "$TLS_H2"
c=$(ctrl_of "$TLS_H2")
step "the next REPLACETLSPSK works" reauth "$c"

# the seed bug as a fault (what quirk-free-tls-key=on arms for a subsystem)
id=$(fault_add "{\"step\": \"auth-success\", \"host\": \"$TLS_H2\", \"sc-c\": \"replacetlspsk\", \"action\": \"forget-tls-key\"}")
check "armed forget-tls-key (fault $id)" test -n "$id"
step "a REPLACETLSPSK succeeds" reauth "$c"
step_v "the fault fired once (the queue forgot its key)" hits_are "$id" 1
authval_clear
step "the next REPLACETLSPSK is refused" reauth_fails "$c"
if [ $probe = 1 ]; then
    check "the host received Failure1 reason 3 (CONCAT_MISMATCH)" authval_has 3
fi
# the queue stays without a key: the host needs a new admin queue
cntlid=$(attr "$c" cntlid)
echo 1 > "/sys/class/nvme/$c/reset_controller" 2> /dev/null
step_v "reset: the host reconnected to a new controller (was $cntlid)" \
    wait_for 60 reconnected_as "$TLS_H2" "$cntlid"
c=$(ctrl_of "$TLS_H2")
step "after the reconnection REPLACETLSPSK works again" reauth "$c"
info "kernel log" sh -c "dmesg | grep -E 'nvme|tls' | tail -n 10"
dev=$(wait_ns "$NQN" 1 20)
step "the data is intact" verify_from "$dev" "$MIB" 0 acked
disconnect_all

# ---------------------------------------------------------------------------
section "the TLS handshake after NEWTLSPSK fails with an alert"
keyctl clear %:.nvme
klog_mark
: > /tmp/tlshd.log.mark
id=$(fault_add "{\"step\": \"tls-identity\", \"host\": \"$TLS_H2\", \"action\": \"tls-alert\", \"alert\": \"access-denied\"}")
check "armed (fault $id)" test -n "$id"
connect_h2 --concat > /tmp/concat.out 2>&1
rc=$?
info "nvme connect --concat (exit $rc)" cat /tmp/concat.out
step_v "the fault fired once" hits_are "$id" 1
info "tlshd log" tail -n 6 /tmp/tlshd.log
step_v "the host's TLS handshake failed (EACCES: the alert)" \
    klog_has "TLS handshake complete, error -13"
if [ $rc != 0 ]; then
    step "connect --concat again" connect_h2 --concat
fi
step "then the controller comes up over TLS" wait_for 60 live "$TLS_H2"
c=$(ctrl_of "$TLS_H2")
check "with a generated PSK (tls_key $(attr "$c" tls_key))" test -n "$(attr "$c" tls_key)"
dev=$(wait_ns "$NQN" 1 20)
step "the data is intact" verify_from "$dev" "$MIB" 0 acked
disconnect_all
stop_tlshd

section "faults left"
info "query-nvmet-faults" $QMP query-nvmet-faults
