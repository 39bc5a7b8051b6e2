#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-or-later
#
# REPLACETLSPSK soak with the Linux host: one --concat controller (host 2
# of tests/guest/data/tls-keys.sh, bidirectional DH-HMAC-CHAP), then
# NVMET_ROTATIONS (100) rotations through tls_configured_key, each one a
# controller reset that re-authenticates with REPLACETLSPSK over the TLS
# admin queue and reconnects every queue with the newly generated PSK.
#
# Checked for every rotation: the controller is live again with a new
# tls_key (a keyring serial never seen before in this run) whose identity
# is a generated one (NVMe1G).  Every NVMET_VERIFY_EVERY (10) rotations:
# NVMET_MIB MiB of new random data is written to its own slot and read back,
# and every slot written before still reads back intact.  At the end: the
# time per rotation of the first and the last NVMET_VERIFY_EVERY rotations
# (the last may not be much slower: no growth with the number of keys),
# and the figures line "ROTATE-FIGURES: ..." that scripts/run-tests.sh
# (guest-rotate) shows.  The target's side (its trace has one
# REPLACETLSPSK per rotation, each replacing the previous PSK) is checked
# by scripts/run-tests.sh.
#
# Parameters: NVMET_SUBNQN, NVMET_ADDR (10.0.2.2), NVMET_PORT (4420),
# NVMET_ROTATIONS (100), NVMET_VERIFY_EVERY (10), NVMET_MIB (1)
. /tests/lib.sh
. /tests/data/tls-keys.sh

ADDR=${NVMET_ADDR:-10.0.2.2}
PORT=${NVMET_PORT:-4420}
NQN=${NVMET_SUBNQN:?}
ROT=${NVMET_ROTATIONS:-100}
EVERY=${NVMET_VERIFY_EVERY:-10}
MIB=${NVMET_MIB:-1}

attr() { cat "/sys/class/nvme/$1/$2" 2>/dev/null; }
ctrl_of() {     # NQN HOSTNQN
    for _c in $(nvme_ctrls "$1"); do
        [ "$(cat "/sys/class/nvme/$_c/hostnqn")" = "$2" ] && { echo "$_c"; return 0; }
    done
    return 1
}
identity() {    # CTRL: the description of its PSK in the keyring
    _ser=$(attr "$1" tls_key) && [ -n "$_ser" ] || return 1
    keyctl rdescribe "0x$_ser" | cut -d';' -f5-
}
# live_with_new_key CTRL: live, and a tls_key not in $LIB_TMP/keys yet
live_with_new_key() {
    [ "$(attr "$1" state)" = live ] || return 1
    _k=$(attr "$1" tls_key)
    [ -n "$_k" ] && ! grep -qx "$_k" "$LIB_TMP/keys"
}
# write_slot DEV N / verify_slots DEV N: slot N is MIB MiB at N*MIB MiB
write_slot() { write_random_to "$1" "$MIB" $(($2 * MIB)) "slot$2"; }
verify_slots() {
    _s=0
    while [ $_s -le "$2" ]; do
        verify_from "$1" "$MIB" $((_s * MIB)) "slot$_s" || return 1
        _s=$((_s + 1))
    done
}

feature replace-tck
if ! why=$(cap_concat); then
    skip "REPLACETLSPSK x$ROT through tls_configured_key" "$why"
    exit 0
fi
require "tlshd" start_tlshd
require ".nvme keyring" keyctl id %:.nvme
keyctl link %:.nvme @us 2>/dev/null
keyctl clear %:.nvme
: > "$LIB_TMP/keys"

section "--concat with bidirectional DH-HMAC-CHAP"
step "connect --concat" \
    nvme connect -t tcp -a "$ADDR" -s "$PORT" -n "$NQN" --hostnqn="$TLS_H2" \
    --hostid="$TLS_H2_ID" --dhchap-secret="$TLS_H2_KEY" \
    --dhchap-ctrl-secret="$TLS_H2_CKEY" --concat
live_tls() {
    _lc=$(ctrl_of "$NQN" "$TLS_H2") && [ "$(attr "$_lc" state)" = live ] &&
        [ -n "$(attr "$_lc" tls_key)" ]
}
require "controller live over TLS" wait_for 30 live_tls
c=$(ctrl_of "$NQN" "$TLS_H2")
if ! why=$(cap_tls_configured_key "$c"); then
    skip "REPLACETLSPSK x$ROT through tls_configured_key" "$why"
    nvme disconnect -n "$NQN" > /dev/null 2>&1
    exit 0
fi
attr "$c" tls_key >> "$LIB_TMP/keys"
dev=$(wait_ns "$NQN" 1 20)
step "slot 0: write (NEWTLSPSK key)" write_slot "$dev" 0
step "slot 0: read back" verify_slots "$dev" 0

section "REPLACETLSPSK x$ROT through tls_configured_key, data every $EVERY"
i=1 slot=0 bad=0 first=0 last=0
while [ $i -le "$ROT" ]; do
    t0=$(_now)
    echo 0 > "/sys/class/nvme/$c/tls_configured_key" ||
        { fail "rotation $i: write tls_configured_key"; bad=$((bad + 1)); i=$((i + 1)); continue; }
    if wait_for 60 live_with_new_key "$c"; then
        dt=$(_elapsed "$t0")
        key=$(attr "$c" tls_key)
        id=$(identity "$c")
        echo "$key" >> "$LIB_TMP/keys"
        case $id in
            NVMe1G*) pass "rotation $i: live with new tls_key $key in ${dt}s" ;;
            *) fail "rotation $i: tls_key $key has identity '$id', not a generated one"
               bad=$((bad + 1)) ;;
        esac
        if [ $i -le "$EVERY" ]; then
            first=$(awk "BEGIN{print $first + $dt}")
        fi
        if [ $i -gt $((ROT - EVERY)) ]; then
            last=$(awk "BEGIN{print $last + $dt}")
        fi
    else
        fail "rotation $i: controller not live with a new tls_key after 60s (state $(attr "$c" state), tls_key $(attr "$c" tls_key))"
        dmesg | tail -n 20
        bad=$((bad + 1))
    fi
    if [ $((i % EVERY)) -eq 0 ]; then
        slot=$((slot + 1))
        dev=$(wait_ns "$NQN" 1 20)
        step "rotation $i: write slot $slot" write_slot "$dev" "$slot"
        step "rotation $i: slots 0..$slot read back intact" verify_slots "$dev" "$slot"
    fi
    i=$((i + 1))
done

n=$(sort -u "$LIB_TMP/keys" | wc -l)
check "$((ROT + 1)) distinct tls_keys (NEWTLSPSK + $ROT rotations): $n" \
    test "$n" -eq $((ROT + 1))
fa=$(awk "BEGIN{printf \"%.2f\", $first / $EVERY}")
la=$(awk "BEGIN{printf \"%.2f\", $last / $EVERY}")
# flat: the last rotations at most twice the first ones, plus 1 s of slack
# for a loaded machine (TCG guest)
check "time per rotation flat: first $EVERY ${fa}s, last $EVERY ${la}s" \
    awk "BEGIN{exit !($la <= 2 * $fa + 1)}"
echo "ROTATE-FIGURES: rotations=$ROT failed=$bad keys=$n verified-slots=$((slot + 1)) first${EVERY}=${fa}s last${EVERY}=${la}s per rotation"
step "disconnect" nvme disconnect -n "$NQN"
stop_tlshd
