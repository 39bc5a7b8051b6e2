#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-or-later
#
# DH-HMAC-CHAP with the Linux nvme-tcp host against our target.
#
# The target (set up by scripts/run-tests.sh) has one subsystem that does not
# allow any host, and five hosts whose allowed hash/DH group each force one
# combination; their keys are in /tests/data/auth-keys.sh:
#   host 1  SHA-256 + ffdhe2048  bidirectional
#   host 2  SHA-384 + ffdhe3072  bidirectional
#   host 3  SHA-512 + ffdhe4096  bidirectional
#   host 4  SHA-256 + null       bidirectional
#   host 5  SHA-384 + ffdhe8192  unidirectional
# For each: connect with --dhchap-secret (--dhchap-ctrl-secret), check the
# hash and group the host reports, write and read back data through every
# I/O queue (one dd pinned to each CPU), disconnect.  Host 1 then
# re-authenticates three times through sysfs (dhchap_secret twice,
# dhchap_ctrl_secret once) with verified I/O after each; while it stays
# connected a wrong host key, a wrong controller key and a missing key are
# refused, and host 1 keeps working.
#
# Features (scripts/kernel-matrix.sh): dhchap (the five combinations),
# dhchap-reauth (re-authentication through sysfs), dhchap-refuse (wrong and
# missing keys).  A kernel without a DH-HMAC-CHAP host skips them all.
#
# Parameters: NVMET_SUBNQN (required), NVMET_ADDR (10.0.2.2),
# NVMET_PORT (4420), NVMET_MIB (2),
#   NVMET_HOSTS (comma list of the combinations to run, default all),
#   NVMET_REAUTH (0: skip re-authentication and refusals)
. /tests/lib.sh
. /tests/data/auth-keys.sh

ADDR=${NVMET_ADDR:-10.0.2.2}
PORT=${NVMET_PORT:-4420}
NQN=${NVMET_SUBNQN:-}
MIB=${NVMET_MIB:-2}
TASKSET=/usr/bin/taskset
NCPU=$(grep -c ^processor /proc/cpuinfo)

[ -n "$NQN" ] || { fail "parameters" "NVMET_SUBNQN is required"; exit 1; }
if ! why=$(cap_auth); then
    for f in dhchap dhchap-reauth dhchap-refuse; do feature "$f"; skip "$f" "$why"; done
    exit 0
fi

uuid() { printf '00000000-0000-4000-8000-%012d' "$1"; }
hostnqn() { echo "nqn.2014-08.org.nvmexpress:uuid:$(uuid "$1")"; }
hkey() { eval echo "\$AUTH_H$1_KEY"; }
ckey() { eval echo "\$AUTH_H$1_CKEY"; }

# connect_host N HOSTKEY [CTRLKEY]
connect_host() {
    nvme connect -t tcp -a "$ADDR" -s "$PORT" -n "$NQN" \
        --hostnqn="$(hostnqn "$1")" --hostid="$(uuid "$1")" \
        ${2:+--dhchap-secret="$2"} ${3:+--dhchap-ctrl-secret="$3"}
}

# the controller of host N
host_ctrl() {
    for _c in $(nvme_ctrls "$NQN"); do
        [ "$(cat "/sys/class/nvme/$_c/hostnqn")" = "$(hostnqn "$1")" ] &&
            { echo "$_c"; return 0; }
    done
    return 1
}
no_host_ctrl() { ! host_ctrl "$1" > /dev/null; }
host_live() {
    _hc=$(host_ctrl "$1") && [ "$(cat "/sys/class/nvme/$_hc/state")" = live ]
}
disconnect_host() {
    _hc=$(host_ctrl "$1") || return 0
    nvme disconnect -d "$_hc" && wait_for 20 sh -c "! test -e /sys/class/nvme/$_hc"
}

# kernel messages since the last klog_mark about controller $1
klog_mark() { dmesg -c > /dev/null; }
klog() { dmesg | grep "$1: " ; }
klog_has() { klog "$1" | grep -q -F "$2"; }
klog_count() { klog "$1" | grep -c -F "$2"; }

# io_all_queues DEV TAG: one write+read cycle pinned to each CPU (so every
# I/O queue carries data), then every command the host sent on an I/O queue
# must have been seen for qid 1..NCPU
io_all_queues() {
    _dev=$1 _tag=$2
    host_trace_on || return 1
    _cpu=0
    while [ $_cpu -lt "$NCPU" ]; do
        $TASKSET -c $_cpu sh -c ". /tests/lib.sh; write_random_to $_dev $MIB $((_cpu * MIB)) $_tag$_cpu && verify_from $_dev $MIB $((_cpu * MIB)) $_tag$_cpu" || return 1
        _cpu=$((_cpu + 1))
    done
    host_trace_off
    host_trace_ops
    _q=1
    while [ $_q -le "$NCPU" ]; do
        host_trace_ops | grep -q " $_q nvme_cmd_write" || { echo "no write on qid $_q"; return 1; }
        host_trace_ops | grep -q " $_q nvme_cmd_read" || { echo "no read on qid $_q"; return 1; }
        _q=$((_q + 1))
    done
}

# reauth N ATTR KEY: write KEY to the controller's sysfs ATTR, wait for the
# host's "authenticated with" message of the new exchange
reauth() {
    _hc=$(host_ctrl "$1") || return 1
    _before=$(klog_count "$_hc" "qid 0: authenticated with")
    printf '%s' "$3" > "/sys/class/nvme/$_hc/$2" || return 1
    wait_for 20 sh -c "[ \$(dmesg | grep '$_hc: ' | grep -c -F 'qid 0: authenticated with') -gt $_before ]" ||
        { klog "$_hc"; return 1; }
    klog "$_hc" | tail -n 3
    host_live "$1"
}

# ---------------------------------------------------------------- combinations
feature dhchap
for spec in "1 hmac(sha256) ffdhe2048" "2 hmac(sha384) ffdhe3072" \
            "3 hmac(sha512) ffdhe4096" "4 hmac(sha256) null" \
            "5 hmac(sha384) ffdhe8192"; do
    set -- $spec
    n=$1 hash=$2 group=$3
    case ",${NVMET_HOSTS:-1,2,3,4,5}," in *",$n,"*) ;; *) continue ;; esac
    k=$(hkey "$n") c=$(ckey "$n")
    mode=bidirectional
    [ -n "$c" ] || mode=unidirectional
    section "host $n: $hash $group $mode"
    klog_mark
    step "host $n: connect ($hash $group $mode)" connect_host "$n" "$k" "$c" || continue
    if ! step "host $n: controller live" wait_for 30 host_live "$n"; then
        disconnect_host "$n"
        continue
    fi
    ctrl=$(host_ctrl "$n")
    check "host $n: host reports hash $hash dhgroup $group" \
        klog_has "$ctrl" "qid 0: authenticated with hash $hash dhgroup $group"
    if [ -n "$c" ]; then
        check "host $n: host authenticated the controller" \
            klog_has "$ctrl" "qid 0: controller authenticated"
    else
        check "host $n: no controller authentication requested" \
            sh -c "! dmesg | grep '$ctrl: ' | grep -q 'controller authenticated'"
    fi
    dev=$(wait_ns "$NQN" 1 20)
    if check "host $n: namespace appears" test -n "$dev"; then
        step "host $n: verified I/O on all $NCPU I/O queues" io_all_queues "$dev" "h$n"
    fi
    step "host $n: disconnect" disconnect_host "$n"
done

# ---------------------------------------------------------------- re-authentication
section "re-authentication through sysfs (host 1)"
feature dhchap-reauth
klog_mark
if [ "${NVMET_REAUTH:-1}" = 1 ] && step "host 1: connect" connect_host 1 "$AUTH_H1_KEY" "$AUTH_H1_CKEY" &&
   step "host 1: controller live" wait_for 30 host_live 1; then
    dev=$(wait_ns "$NQN" 1 20)
    for i in 1 2 3; do
        attr=dhchap_secret key=$AUTH_H1_KEY
        [ $i = 2 ] && attr=dhchap_ctrl_secret key=$AUTH_H1_CKEY
        step "host 1: re-authentication $i ($attr)" reauth 1 $attr "$key"
        step "host 1: verified I/O after re-authentication $i" io_all_queues "$dev" "r$i"
    done
    check "host 1: three re-authentications logged" \
        sh -c "[ \$(dmesg | grep '$(host_ctrl 1): ' | grep -c 're-authenticating controller') -eq 3 ]"

    # ------------------------------------------------------------ refusals
    section "wrong keys are refused; host 1 keeps working"
    feature dhchap-refuse
    klog_mark
    step "host 2 with a wrong host key: connect refused" \
        sh -c "! nvme connect -t tcp -a $ADDR -s $PORT -n $NQN --hostnqn=$(hostnqn 2) --hostid=$(uuid 2) --dhchap-secret='$AUTH_BAD_KEY' --dhchap-ctrl-secret='$AUTH_H2_CKEY'"
    check "host 2: no controller left behind" no_host_ctrl 2
    klog_mark
    step "host 3 with a wrong controller key: connect refused" \
        sh -c "! nvme connect -t tcp -a $ADDR -s $PORT -n $NQN --hostnqn=$(hostnqn 3) --hostid=$(uuid 3) --dhchap-secret='$AUTH_H3_KEY' --dhchap-ctrl-secret='$AUTH_BAD_CKEY'"
    check "host 3: the host saw the controller fail authentication" \
        sh -c "dmesg | grep -q 'controller authentication failed'"
    klog_mark
    step "host 4 without a key: connect refused" \
        sh -c "! nvme connect -t tcp -a $ADDR -s $PORT -n $NQN --hostnqn=$(hostnqn 4) --hostid=$(uuid 4)"
    step "unknown host with a key: connect refused" \
        sh -c "! nvme connect -t tcp -a $ADDR -s $PORT -n $NQN --hostnqn=$(hostnqn 9) --hostid=$(uuid 9) --dhchap-secret='$AUTH_BAD_KEY'"
    check "host 1: controller still live" host_live 1
    step "host 1: verified I/O after the refusals" io_all_queues "$dev" "after"
    step "host 1: re-authentication after the refusals" reauth 1 dhchap_secret "$AUTH_H1_KEY"
    step "host 1: disconnect" disconnect_host 1
fi
for n in 1 2 3 4 5 9; do disconnect_host $n > /dev/null 2>&1; done
feature dhchap
check "no controllers left" wait_gone "$NQN" 20
