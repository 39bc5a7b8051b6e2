#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-or-later
#
# blktests' nvme group against the NVMe/TCP target of the QEMU that runs
# this guest (scripts/blktests.sh starts it).  blktests is in /opt/blktests
# and its tools in the blktests layer (scripts/build-guest-blktests.sh);
# blktests reaches the target through its external target control,
# NVME_TARGET_CONTROL=/tests/bin/nvmet-blktests-control, which talks QMP
# over the --guest-qmp channel.
#
# Every blktests test gives one line for the host
#     BLKTESTS: nvme/NNN passed|failed|not run[: reason]
# and a PASS/FAIL step ("not run" is printed as SKIP and not counted).
#
# Parameters (nvmet.KEY=VALUE):
#   NVMET_BT_TESTS     tests, comma-separated numbers (003,004) or nvme/NNN
#   NVMET_BT_IMG_SIZE  NVME_IMG_SIZE (default 1G)
#   NVMET_BT_TIMEOUT   blktests' TIMEOUT: fio runtime cap in s (default none)
#   NVMET_BT_PORT, NVMET_BT_IMGDIR: see /tests/bin/nvmet-blktests-control
. /tests/lib.sh

BT=/opt/blktests
CONTROL=/tests/bin/nvmet-blktests-control
PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
export PATH

section "environment"
require blktests-present test -x $BT/check
require blktests-layer test -x /usr/bin/bash -a -x /usr/bin/fio -a -x /usr/bin/gawk
info "layer" cat /etc/guest-blktests-layer-info
# kmod's modprobe (blktests' _have_driver) needs modules.dep; the base
# image's modules are loaded at boot, depmod indexes what is there
kver=$(uname -r)
if [ -d "/lib/modules/$kver" ] && [ ! -s "/lib/modules/$kver/modules.dep" ]; then
    /usr/sbin/depmod -a "$kver" 2>/dev/null || echo "note: depmod failed"
fi
[ -e "/boot/config-$kver" ] ||
    echo "note: no /boot/config-$kver: tests that check kernel options will not run"
mount -t debugfs debugfs /sys/kernel/debug 2>/dev/null
# what udev would have made: bash's process substitution needs /dev/fd
[ -e /dev/fd ] || ln -s /proc/self/fd /dev/fd
for i in 0:stdin 1:stdout 2:stderr; do
    [ -e "/dev/${i#*:}" ] || ln -s "/proc/self/fd/${i%%:*}" "/dev/${i#*:}"
done

section "target control over QMP"
step_v "control-trsvid" $CONTROL config --show-trsvid
step_v "control-traddr" $CONTROL config --show-traddr
addr=$($CONTROL config --show-traddr)
port=$($CONTROL config --show-trsvid)
step "target-reachable" nvme discover -t tcp -a "$addr" -s "$port"

# The control program itself, before blktests uses it: a set-up the host
# sees, a second one over the first (leftovers removed), a clean-up, and
# the errors blktests would otherwise not notice (it ignores the status).
size=${NVMET_BT_IMG_SIZE:-1G}
NVME_IMG_SIZE=$size
export NVME_IMG_SIZE
SELF=blktests-selftest
SELF_UUID=0f3c9d2e-5a61-4b8e-9d07-2c1b7e4a6f10
HOSTNQN=$(cat /etc/nvme/hostnqn)
listed() { nvme discover -t tcp -a "$addr" -s "$port" 2>/dev/null | grep -q "subnqn: *$1\$"; }
not_listed() { ! listed "$1"; }
ctl_case() {   # EXPECTED-STATUS EXPECTED-TEXT ARGS...
    _want=$1 _text=$2; shift 2
    $CONTROL "$@" > "$LIB_TMP/ctl.out" 2> "$LIB_TMP/ctl.err"
    _rc=$?
    cat "$LIB_TMP/ctl.out" "$LIB_TMP/ctl.err"
    [ $_rc = "$_want" ] && grep -q -e "$_text" "$LIB_TMP/ctl.err"
}
step "control-setup" $CONTROL setup --subsysnqn $SELF --subsys-uuid $SELF_UUID --hostnqn "$HOSTNQN"
step "control-setup-seen" listed $SELF
step_v "control-setup-again" ctl_case 0 "removed leftovers of an earlier setup" \
    setup --subsysnqn $SELF --subsys-uuid $SELF_UUID --hostnqn "$HOSTNQN"
step "control-cleanup" $CONTROL cleanup --subsysnqn $SELF
step "control-cleanup-gone" not_listed $SELF
# a QMP error (the namespace refuses the UUID): status 1 with QMP's message
step_v "control-qmp-error" ctl_case 1 "setup: qmp: .*object-add: .*invalid uuid" \
    setup --subsysnqn $SELF --subsys-uuid not-a-uuid --hostnqn "$HOSTNQN"
step "control-cleanup-after-error" $CONTROL cleanup --subsysnqn $SELF
step "control-nothing-left" not_listed $SELF
step_v "control-add-ports-refused" ctl_case 1 "add-ports: not supported" \
    add-ports --ports 2 --subsysnqn $SELF
step_v "control-bad-usage" ctl_case 2 "unknown argument" setup --no-such-option x
# (the control program reads NVME_IMG_SIZE from the environment, set above)
cat > $BT/config <<EOF
# written by /tests/blktests.sh
NVME_TARGET_CONTROL=$CONTROL
NVMET_TRTYPES=tcp
NVME_IMG_SIZE=$size
${NVMET_BT_TIMEOUT:+TIMEOUT=$NVMET_BT_TIMEOUT}
EOF
info "blktests config" cat $BT/config

tests=""
for t in $(echo "${NVMET_BT_TESTS:-}" | tr ',' ' '); do
    case $t in
        nvme/*) tests="$tests $t" ;;
        *) tests="$tests nvme/$t" ;;
    esac
done
[ -n "$tests" ] || tests=nvme

section "blktests:$tests"
cd $BT || exit 1
rm -rf results
# (by path: busybox sh would run its own "bash" applet)
/usr/bin/bash ./check $tests > /tmp/check.out 2>&1 < /dev/null &
checkpid=$!
# show progress while it runs (the console is the host's log)
/usr/bin/tail -n +1 -f /tmp/check.out --pid=$checkpid 2>/dev/null
wait $checkpid
rc=$?
echo "check exited with status $rc"

section "results"
# Per test, from the kernel log (blktests marks each test's start in it, the
# target control program logs there too): how many controllers the Linux
# host connected to the target, the target set-ups and clean-ups, and
# target control errors.
per_test() {
    dmesg | sed 's/^\[[ 0-9.]*\] //' | awk -v a="$addr:$port" '
        function out() {
            if (t != "") printf "%s %d %d %d %d %s\n", t, n, su, cl, e, err
        }
        /^run blktests nvme\/[0-9]+/ {
            out()
            t = $3; n = su = cl = e = 0; err = ""
            next
        }
        /new ctrl: NQN/ && index($0, a) { n++ }
        /^nvmet-blktests-control: setup / { su++ }
        /^nvmet-blktests-control: cleanup / { cl++ }
        /^nvmet-blktests-control: ERROR: / {
            e++
            if (err == "") { err = $0; sub(/^nvmet-blktests-control: ERROR: /, "", err) }
        }
        END { out() }'
}
per_test > /tmp/blktests.per-test

# check prints "nvme/NNN (...) (description)   [status]" followed by
# indented detail lines (reasons for "not run", the diff for "failed").
# A test blktests passed although the Linux host never connected to the
# target is "vacuous" (its ports or namespaces came from the kernel's
# configfs, which an external target does not have), unless it is one of the
# tests that do not connect by design.
NOCONN="nvme/006 nvme/030 nvme/051"
awk -v noconn=" $NOCONN " '
    BEGIN { while ((getline l < "/tmp/blktests.per-test") > 0) { split(l, f, " "); ctrls[f[1]] = f[2] } }
    function flush() {
        if (name == "") return
        if (status == "passed" && ctrls[name] == 0 && index(noconn, " " name " ") == 0) {
            status = "vacuous"
            why = "blktests passed it, but the host never connected to the target"
        }
        printf "BLKTESTS: %s %s%s\n", name, status, (why == "" ? "" : ": " why)
        name = ""
    }
    /^nvme\/[0-9]+/ && /\[(passed|failed|not run)\]$/ {
        flush()
        name = $1; why = ""
        status = $0; sub(/.*\[/, "", status); sub(/\]$/, "", status)
        next
    }
    /^nvme\/[0-9]+/ { flush(); next }
    name != "" && /^    / {
        line = $0; sub(/^ +/, "", line)
        if (status == "not run" && line !~ /^runtime/) why = why (why == "" ? "" : "; ") line
        else if (status == "failed" && line ~ /^(exited with|something found|kmemleak)/) why = line
        else if (status == "failed" && why == "" && line ~ /^[-+]/ && line !~ /^(---|\+\+\+)/) why = "output: " line
    }
    END { flush() }
' /tmp/check.out > /tmp/blktests.results
cat /tmp/blktests.results

while read -r _ name status rest; do
    case $status in
        passed) pass "blktests $name" ;;
        failed*) fail "blktests $name" "$rest" ;;
        vacuous*) skip "blktests $name" "$rest" ;;
        not) rest=${rest#run}; skip "blktests $name" "${rest#: }" ;;
    esac
done < /tmp/blktests.results
[ -s /tmp/blktests.results ] || fail "blktests produced no results" "$(tail -n 30 /tmp/check.out)"

show_per_test() {
    while read -r t n su cl e err; do
        echo "$t: controllers $n, setup $su, cleanup $cl, control errors $e${err:+ ($err)}"
    done < /tmp/blktests.per-test
}
info "per test: controllers the host connected to the target, target set-ups" show_per_test
# the control program's status is ignored by blktests: an error is a failure
while read -r t n su cl e err; do
    [ "$e" = 0 ] || fail "target control in $t" "$err"
done < /tmp/blktests.per-test
for f in $(find results -name '*.out.bad' 2>/dev/null | sort); do
    t=${f%.out.bad}
    n=nvme/${t##*/}
    info "$n: diff -u tests/$n.out $f" diff -u "tests/$n.out" "$f"
    [ -f "$t.full" ] && info "$n: tail of $t.full" tail -n 40 "$t.full"
done
for f in $(find results -name '*.dmesg' 2>/dev/null | sort); do
    info "$f" tail -n 60 "$f"
done
# the kernel log of each test that failed (from its marker to the next)
dmesg_of() {
    dmesg | awk -v t="$1" '
        / run blktests nvme\/[0-9]+ / { on = index($0, " run blktests " t " ") > 0 }
        on' | tail -n 80
}
while read -r _ name status rest; do
    case $status in failed*|vacuous*) info "$name: kernel log" dmesg_of "$name" ;; esac
done < /tmp/blktests.results
info "target control log" cat "${NVMET_BT_LOG:-/tmp/nvmet-blktests-control.log}"
exit 0
