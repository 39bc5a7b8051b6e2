#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-or-later
#
# Disconnect storm with the real Linux host: the target cuts the storm
# host's connections again and again while it writes, and the host resets
# its controller now and then with I/O in flight; a second host on the
# same namespace must not notice.
#
# The storm host is host 2 of tests/guest/data/tls-keys.sh with
# bidirectional DH-HMAC-CHAP and, where the kernel has it, --concat (so
# every reconnection is an authentication with NEWTLSPSK and TLS
# handshakes with the generated PSK); on older kernels DH-HMAC-CHAP, else
# neither, with header and data digests where the kernel has CRC32C.  It reconnects every second, for ever
# (--ctrl-loss-tmo=-1).  Through the guest's QMP channel the script arms
# faults filtered to that host, each with a probability drawn from the
# queue's seeded random stream (the subsystem's seed property), at these
# steps:
#   - a write not carried out: the connection closes (io-cmd, close);
#   - a write carried out, its completion sent, then the connection closes
#     (io-cmd, close after-response);
#   - in the middle of a write's data (pdu-h2c-data, close);
#   - a C2HTermReq for a command capsule (pdu-capsule-cmd, c2h-term);
#   - a read not carried out, in the middle of read data (io-cmd,
#     pdu-c2h-data with opcode Read: a cut in admin data such as Identify
#     during a reconnection would cost an admin timeout, see below);
#   - a Keep Alive (close);
#   - during the reconnections: the TLS handshake (close, at most 4).
# Host-side: every NVMET_RESET_EVERY (12) writes the host resets its
# controller while a write is in flight.
#
# Writes go to NVMET_SLOTS (64) slots of 256 KiB, each write new random
# data; a slot whose write the host acknowledged must read back exactly
# that, a slot whose write failed is not checked (old or new data); after
# each write a random acknowledged slot is read back.  The storm goes on
# until the faults fired NVMET_CUTS (40) times.
#
# Then two cuts while a queue is being set up, each once on a reset: the
# admin queue's DH-HMAC-CHAP Reply and an I/O queue's Connect.  The Linux
# host does not react to a closed connection while its controller is
# CONNECTING (error recovery starts from LIVE only), so the command in
# flight must time out first: the storm host's admin and I/O timeouts are
# NVMET_TIMEOUT (10 s, module parameters set while it connects), and the
# time until it is live again is a figure of the test.  Cuts of steady
# state (above) cost no timeout, which is why the storm has none of
# these: each would add a timeout or more to the run.
#
# Meanwhile the bystander, the default host NQN on its own controller
# (default timeouts), writes and reads back its own region of the
# namespace in a loop: no error, no reset (same controller ID, always
# live).  At the end, with the faults disarmed, every acknowledged slot
# reads back intact, no write failed (the host retries what a cut
# aborted), and the target's port counts exactly the queues it counted
# before the storm, none draining.  The lines "STORM-FIGURES: ..." are
# what scripts/run-tests.sh (guest-storm) shows; it checks the target's
# trace against them.
#
# Parameters: NVMET_SUBNQN, NVMET_QMP (run.sh --guest-qmp), NVMET_CUTS (40),
# NVMET_SLOTS (64), NVMET_RESET_EVERY (12), NVMET_STORM_TIME (900 s: the
# storm ends then even short of its cuts, and that check fails),
# NVMET_TIMEOUT (10)
. /tests/lib.sh
. /tests/data/tls-keys.sh

ADDR=10.0.2.2
NQN=${NVMET_SUBNQN:?}
CUTS=${NVMET_CUTS:-40}
SLOTS=${NVMET_SLOTS:-64}
RESET_EVERY=${NVMET_RESET_EVERY:-12}
BUDGET=${NVMET_STORM_TIME:-900}
TMO=${NVMET_TIMEOUT:-10}
QMP=/tests/bin/qmp
BY=$(cat /etc/nvme/hostnqn)
BYID=$(cat /etc/nvme/hostid)
SLOT_KIB=256
BY_OFF_KIB=$((32 * 1024))     # the bystander's region: 32 MiB on
BY_SLOTS=16

attr() { cat "/sys/class/nvme/$1/$2" 2>/dev/null; }
ctrl_of() {     # HOSTNQN
    for _c in $(nvme_ctrls "$NQN"); do
        [ "$(cat "/sys/class/nvme/$_c/hostnqn")" = "$1" ] && { echo "$_c"; return 0; }
    done
    return 1
}
live() { _lc=$(ctrl_of "$1") && [ "$(attr "$_lc" state)" = live ]; }
rand() { od -An -N2 -tu2 /dev/urandom | tr -d ' '; }   # 0..65535

# ---- QMP ----------------------------------------------------------------
fault_add() {
    $QMP nvmet-fault-add "$1" | sed -n 's/.*"id": *\([0-9]*\).*/\1/p'
}
# one line per fault: "ID STEP HITS"
faults_table() {
    $QMP query-nvmet-faults | tr '{' '\n' | grep '"id"' | while read -r _l; do
        _i=$(echo "$_l" | sed -n 's/.*"id": *\([0-9]*\).*/\1/p')
        _s=$(echo "$_l" | sed -n 's/.*"step": *"\([a-z0-9-]*\)".*/\1/p')
        _h=$(echo "$_l" | sed -n 's/.*"hits": *\([0-9]*\).*/\1/p')
        echo "$_i $_s ${_h:-0}"
    done
}
total_hits() { faults_table | awk '{ s += $3 } END { print s + 0 }'; }
port_count() {  # PROPERTY of port0
    $QMP qom-get "{\"path\": \"/objects/port0\", \"property\": \"$1\"}"
}

# ---- data ----------------------------------------------------------------
# put DEV KIB_OFFSET FILE / sum DEV KIB_OFFSET: 256 KiB, direct I/O
put() {
    dd if="$3" of="$1" bs=${SLOT_KIB}k count=1 seek=$(($2 / SLOT_KIB)) \
        oflag=direct conv=notrunc,fsync 2> "$3.dd" &&
        grep -q '^1+0 records out' "$3.dd"
}
sum() {
    dd if="$1" bs=${SLOT_KIB}k count=1 skip=$(($2 / SLOT_KIB)) iflag=direct \
        2>/dev/null | sha256sum | cut -d' ' -f1
}

# The bystander: writes and reads back its region until $LIB_TMP/stop
# exists; "ROUNDS ERRORS NOT-LIVE-SAMPLES" in $LIB_TMP/by.result
bystander() {
    _dev=$1 _c=$2 _n=0 _bad=0 _down=0
    while [ ! -e "$LIB_TMP/stop" ]; do
        _off=$((BY_OFF_KIB + (_n % BY_SLOTS) * SLOT_KIB))
        dd if=/dev/urandom of="$LIB_TMP/by.bin" bs=${SLOT_KIB}k count=1 2>/dev/null
        _want=$(sha256sum < "$LIB_TMP/by.bin" | cut -d' ' -f1)
        if ! put "$_dev" "$_off" "$LIB_TMP/by.bin"; then
            _bad=$((_bad + 1)); echo "bystander: write $_n at ${_off} KiB failed"
        elif [ "$(sum "$_dev" "$_off")" != "$_want" ]; then
            _bad=$((_bad + 1)); echo "bystander: round $_n at ${_off} KiB reads back wrong"
        fi
        [ "$(attr "$_c" state)" = live ] || _down=$((_down + 1))
        _n=$((_n + 1))
    done
    echo "$_n $_bad $_down" > "$LIB_TMP/by.result"
}

require "QMP channel: the target's port" sh -c "$QMP qom-get '{\"path\": \"/objects/port0\", \"property\": \"trsvcid\"}' > $LIB_TMP/port"
PORT=$(tr -d '"' < "$LIB_TMP/port")
require "no fault armed at start" test "$($QMP query-nvmet-faults)" = "[]"
echo "target port $PORT"

section "two hosts connect"
# the most the kernel has: --concat, else DH-HMAC-CHAP, else neither;
# header and data digests where there is no TLS and the kernel has CRC32C
dg=""
cap_digest > /dev/null && dg="-g -G"
mode=concat
if why=$(cap_concat); then
    require "tlshd" start_tlshd
    keyctl link %:.nvme @us 2>/dev/null
    keyctl clear %:.nvme
    set -- --dhchap-secret="$TLS_H2_KEY" --dhchap-ctrl-secret="$TLS_H2_CKEY" --concat
elif cap_auth > /dev/null; then
    echo "no --concat ($why): DH-HMAC-CHAP${dg:+ with digests}"
    mode=dhchap
    # shellcheck disable=SC2086
    set -- --dhchap-secret="$TLS_H2_KEY" --dhchap-ctrl-secret="$TLS_H2_CKEY" $dg
else
    echo "no --concat, no DH-HMAC-CHAP in Linux $(uname -r)${dg:+: digests}"
    mode=plain
    # shellcheck disable=SC2086
    set -- $dg
fi
# the storm host's command timeouts (taken when a controller is created):
# a cut while a queue is being set up costs the Linux host one (below)
P=/sys/module/nvme_core/parameters
old_adm=$(cat $P/admin_timeout) old_io=$(cat $P/io_timeout)
echo "$TMO" > $P/admin_timeout && echo "$TMO" > $P/io_timeout
echo "nvme_core admin_timeout $(cat $P/admin_timeout) io_timeout $(cat $P/io_timeout) (were $old_adm, $old_io)"
require "storm host: connect ($mode, reconnect every 1 s, for ever, timeouts ${TMO}s)" \
    nvme connect -t tcp -a "$ADDR" -s "$PORT" -n "$NQN" --hostnqn="$TLS_H2" \
    --hostid="$TLS_H2_ID" --reconnect-delay=1 --ctrl-loss-tmo=-1 \
    --keep-alive-tmo=5 "$@"
require "storm host: controller live" wait_for 30 live "$TLS_H2"
echo "$old_adm" > $P/admin_timeout && echo "$old_io" > $P/io_timeout
# shellcheck disable=SC2086
require "bystander: connect${dg:+ (digests)}" \
    nvme connect -t tcp -a "$ADDR" -s "$PORT" -n "$NQN" --hostnqn="$BY" \
    --hostid="$BYID" $dg
require "bystander: controller live" wait_for 30 live "$BY"
sc=$(ctrl_of "$TLS_H2") bc=$(ctrl_of "$BY")
by_cntlid=$(attr "$bc" cntlid)
storm_cntlid=$(attr "$sc" cntlid)
echo "storm host $sc (cntlid $storm_cntlid), bystander $bc (cntlid $by_cntlid)"
# without native multipath (nvme_core.multipath=N) each controller has a
# block device of its own for the namespace
ctrl_dev() {
    for _n in /sys/class/nvme/"$1"/"$1"n*; do
        [ -b "/dev/$(basename "$_n")" ] && { echo "/dev/$(basename "$_n")"; return 0; }
    done
    return 1
}
wait_for 20 ctrl_dev "$sc"; wait_for 20 ctrl_dev "$bc"
sdev=$(ctrl_dev "$sc") bydev=$(ctrl_dev "$bc")
info "block devices" sh -c "ls -l /dev/nvme*"
require "two block devices (storm $sdev, bystander $bydev)" \
    sh -c "[ -b '$sdev' ] && [ -b '$bydev' ] && [ '$sdev' != '$bydev' ]"
conns0=$(port_count connections)
require "the target counts the queues of both controllers ($conns0)" test "${conns0:-0}" -ge 4

section "before the storm: every slot written once"
i=0 ok=1
while [ $i -lt "$SLOTS" ]; do
    dd if=/dev/urandom of="$LIB_TMP/w.bin" bs=${SLOT_KIB}k count=1 2>/dev/null
    sha256sum < "$LIB_TMP/w.bin" | cut -d' ' -f1 > "$LIB_TMP/slot$i.sha"
    put "$sdev" $((i * SLOT_KIB)) "$LIB_TMP/w.bin" || { ok=0; cat "$LIB_TMP/w.bin.dd"; break; }
    i=$((i + 1))
done
require "$SLOTS slots of $SLOT_KIB KiB written" test $ok = 1

section "the storm: $CUTS cuts by the target, a reset by the host every $RESET_EVERY writes"
rm -f "$LIB_TMP/stop" "$LIB_TMP/by.result"
bystander "$bydev" "$bc" > "$LIB_TMP/by.log" 2>&1 &
bypid=$!
arm() {     # STEP JSON-REST
    _id=$(fault_add "{\"step\": \"$1\", \"host\": \"$TLS_H2\", $2}")
    check "armed at $1 (fault $_id)" test -n "$_id"
}
arm io-cmd '"opcode": 1, "probability": "5%", "action": "close"'
arm io-cmd '"opcode": 1, "probability": "5%", "action": "close", "after-response": true'
arm pdu-h2c-data '"probability": "3%", "action": "close"'
arm pdu-capsule-cmd '"opcode": 1, "probability": "2%", "action": "c2h-term", "fes": 2'
arm io-cmd '"opcode": 2, "probability": "5%", "action": "close"'
arm pdu-c2h-data '"opcode": 2, "probability": "3%", "action": "close"'
arm keep-alive '"probability": "10%", "action": "close"'
if [ $mode = concat ]; then
    arm tls-handshake '"probability": "5%", "max-hits": 4, "action": "close"'
fi

t0=$(_now)
n=0 failed=0 resets=0 reads=0 rbad=0 hits=0
while :; do
    slot=$(( $(rand) % SLOTS ))
    dd if=/dev/urandom of="$LIB_TMP/w.bin" bs=${SLOT_KIB}k count=1 2>/dev/null
    want=$(sha256sum < "$LIB_TMP/w.bin" | cut -d' ' -f1)
    rpid=""
    if [ $((n % RESET_EVERY)) = $((RESET_EVERY - 1)) ]; then
        # the host resets its controller while this write is in flight
        ( sleep "0.0$(( $(rand) % 10 ))"
          echo 1 > "/sys/class/nvme/$sc/reset_controller" ) 2> /dev/null &
        rpid=$!
        resets=$((resets + 1))
    fi
    if put "$sdev" $((slot * SLOT_KIB)) "$LIB_TMP/w.bin"; then
        echo "$want" > "$LIB_TMP/slot$slot.sha"
    else
        # old or new data now: the slot is not checked any more
        rm -f "$LIB_TMP/slot$slot.sha"
        failed=$((failed + 1))
        echo "write $n to slot $slot failed: $(cat "$LIB_TMP/w.bin.dd")"
    fi
    [ -z "$rpid" ] || wait "$rpid"
    # a read of an acknowledged slot in the storm too
    rs=$(( $(rand) % SLOTS ))
    if [ -s "$LIB_TMP/slot$rs.sha" ]; then
        reads=$((reads + 1))
        got=$(sum "$sdev" $((rs * SLOT_KIB)))
        if [ "$got" != "$(cat "$LIB_TMP/slot$rs.sha")" ]; then
            rbad=$((rbad + 1))
            echo "read of slot $rs during the storm: $got, wrote $(cat "$LIB_TMP/slot$rs.sha")"
        fi
    fi
    n=$((n + 1))
    if [ $((n % 8)) = 0 ]; then
        hits=$(total_hits)
        el=$(_elapsed "$t0")
        echo "storm: $n writes, $hits cuts, $resets resets, ${el}s"
        [ "$hits" -lt "$CUTS" ] || break
        awk "BEGIN{exit !($el > $BUDGET)}" && break
    fi
done
storm_s=$(_elapsed "$t0")
info "faults" sh -c "$QMP query-nvmet-faults | tr '{' '\n'"
faults_table > "$LIB_TMP/faults"
hits=$(awk '{ s += $3 } END { print s + 0 }' "$LIB_TMP/faults")
for id in $(cut -d' ' -f1 "$LIB_TMP/faults"); do
    $QMP nvmet-fault-del "{\"id\": $id}" > /dev/null
done
check "faults disarmed" test "$($QMP query-nvmet-faults)" = "[]"

check "the target cut the storm host's connections $hits times (>= $CUTS) in ${storm_s}s" \
    test "$hits" -ge "$CUTS"
steps=$(awk '$3 > 0 { print $2 }' "$LIB_TMP/faults" | sort -u | tr '\n' ' ')
nsteps=$(echo "$steps" | wc -w)
check "at $nsteps different steps: $steps" test "$nsteps" -ge 4
check "the storm host reset its controller $resets times" test "$resets" -gt 0
info "kernel log (storm host)" sh -c "dmesg | grep -E '$sc' | tail -n 30"
rec=$(dmesg | grep -c -E "$sc: (Successfully reconnected|creating [0-9]+ I/O queues)")
echo "kernel: $rec reconnections of $sc"

section "cuts while a queue is set up: what they cost the host"
# The Linux host ignores a closed connection while its controller is
# CONNECTING (error recovery starts only from LIVE): the command in flight
# has to time out.  Each cut below is made once, on a reset, and the time
# until the controller is live again is the figure.
setup_cut() {   # NAME STEP
    step "storm host live before: $1" wait_for 120 live "$TLS_H2"
    _id=$(fault_add "{\"step\": \"$2\", \"host\": \"$TLS_H2\", \"action\": \"close\"}")
    _c0=$(attr "$sc" cntlid)
    _t=$(_now)
    echo 1 > "/sys/class/nvme/$sc/reset_controller" 2> /dev/null
    step_v "cut during $1 (fault $_id): live again" \
        wait_for 420 sh -c "[ \"\$(cat /sys/class/nvme/$sc/state)\" = live ] && [ \$(cat /sys/class/nvme/$sc/cntlid) != $_c0 ] && $QMP query-nvmet-faults | grep -q '\"hits\": 1'"
    _d=$(_elapsed "$_t")
    echo "cut during $1: live again after ${_d}s (timeouts ${TMO}s)"
    $QMP nvmet-fault-del "{\"id\": $_id}" > /dev/null
    hits=$((hits + 1))
    setup_figs="$setup_figs $2=${_d}s"
}
setup_figs=""
if [ $mode != plain ]; then
    setup_cut "the admin queue's DH-HMAC-CHAP Reply" auth-reply
fi
setup_cut "an I/O queue's Connect" connect-io
info "kernel log (storm host)" sh -c "dmesg | grep -E '$sc' | tail -n 16"
touch "$LIB_TMP/stop"
wait "$bypid"

section "after the storm"
step "storm host: controller live" wait_for 60 live "$TLS_H2"
# A write the host fails itself ends with a Host Pathing Error (SCT 3h,
# SC 70h: the target never sends that status); any other status would be
# the target's.  Linux 7.2 retries every cut write until it succeeds;
# Linux 6.12 sometimes sends a write to the closed connection six times
# within a millisecond (EPIPE each time), and its five retries are gone
# before error recovery starts: that write fails.
kerr=$(dmesg | grep -c -E "$sc""n1: I/O Cmd\(0x1\).* I/O Error")
kpath=$(dmesg | grep -c -E "$sc""n1: I/O Cmd\(0x1\).* I/O Error \(sct 0x3 / sc 0x7[01]\)")
step "no write failed with a status of the target ($kerr write errors in the kernel log, $kpath of them the host's own path errors)" \
    test "$kerr" = "$kpath"
if [ "$failed" = 0 ] || kver_ge 7 2; then
    step "no write failed: the host retried every cut write ($failed of $n failed)" test "$failed" = 0
else
    skip "no write failed: the host retried every cut write" \
        "Linux $(uname -r) failed $failed of $n writes itself (Host Pathing Error after its retries)"
fi
step "every read during the storm was intact ($rbad of $reads wrong)" test "$rbad" = 0
bad=0 checked=0
i=0
while [ $i -lt "$SLOTS" ]; do
    if [ -s "$LIB_TMP/slot$i.sha" ]; then
        checked=$((checked + 1))
        [ "$(sum "$sdev" $((i * SLOT_KIB)))" = "$(cat "$LIB_TMP/slot$i.sha")" ] ||
            { bad=$((bad + 1)); echo "slot $i does not read back what was acknowledged"; }
    fi
    i=$((i + 1))
done
check "every acknowledged slot reads back intact ($checked slots, $bad wrong)" \
    sh -c "[ $bad = 0 ] && [ $checked -gt 0 ]"
read -r by_n by_bad by_down < "$LIB_TMP/by.result"
info "bystander" cat "$LIB_TMP/by.log"
check "bystander: $by_n rounds of write + read back, $by_bad errors" \
    sh -c "[ $by_bad = 0 ] && [ $by_n -gt 0 ]"
check "bystander: always live ($by_down samples not live)" test "$by_down" = 0
check "bystander: the same controller (cntlid $by_cntlid -> $(attr "$bc" cntlid))" \
    test "$(attr "$bc" cntlid)" = "$by_cntlid"
check "bystander: no reset or reconnection in the kernel log" \
    sh -c "! dmesg | grep -E '$bc: (resetting|Reconnecting|starting error recovery|Successfully reconnected)'"
conns_ok() {
    _c=$(port_count connections); _d=$(port_count connections-draining)
    echo "connections $_c (at start $conns0), draining $_d"
    [ "$_c" = "$conns0" ] && [ "$_d" = 0 ]
}
step_v "target: as many connections as before the storm, none draining" \
    wait_for 30 conns_ok
echo "STORM-FIGURES: mode=$mode setup-cuts:$setup_figs"
echo "STORM-FIGURES: mode=$mode cuts=$hits resets=$resets writes=$n failed=$failed reads=$reads steps=$nsteps reconnections=$rec time=${storm_s}s bystander-rounds=$by_n bystander-errors=$by_bad"

step "disconnect" sh -c "nvme disconnect -n '$NQN' > /dev/null"
wait_gone "$NQN" 30
[ $mode != concat ] || stop_tlshd
