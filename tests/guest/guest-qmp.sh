#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-or-later
#
# The QMP channel from the guest to its own QEMU (tests/guest/run.sh
# --guest-qmp, /tests/bin/qmp): answers, errors, batches, events in
# between, and a change made over it that the guest sees on the wire.
#
# Parameters: NVMET_PORTID (id of an nvmet-port object on the QEMU command
# line, with trsvcid=0), NVMET_SUBNQN (an NQN for the subsystem this test
# creates over QMP).
. /tests/lib.sh

QMP=/tests/bin/qmp
PORTID=${NVMET_PORTID:?}
NQN=${NVMET_SUBNQN:?}

section "answers"
step_v "query-status" sh -c "$QMP query-status | grep -q '\"status\": \"running\"'"
port=$($QMP qom-get "{\"path\": \"/objects/$PORTID\", \"property\": \"trsvcid\"}" | tr -d '"')
check "qom-get-trsvcid ($port)" test "${port:-0}" -gt 0
step "json-request" sh -c "$QMP --json '{\"execute\": \"query-name\"}' | grep -q '^{'"

section "errors"
err_case() {   # EXPECTED-STATUS EXPECTED-TEXT CMD...
    _want=$1 _text=$2; shift 2
    "$@" > "$LIB_TMP/out" 2> "$LIB_TMP/err"
    _rc=$?
    cat "$LIB_TMP/err"
    echo "exit status $_rc (expected $_want)"
    [ $_rc = "$_want" ] && grep -q "$_text" "$LIB_TMP/err" && [ ! -s "$LIB_TMP/out" ]
}
step_v "error-no-object" err_case 1 "qmp: qom-get: .*no-such-object.*(DeviceNotFound)" \
    $QMP qom-get '{"path": "/objects/no-such-object", "property": "x"}'
step_v "error-no-command" err_case 1 "qmp: no-such-command: .*(CommandNotFound)" \
    $QMP no-such-command
step_v "error-bad-args" err_case 1 "qmp: object-add: " \
    $QMP object-add '{"qom-type": "nvmet-subsystem", "id": "x1"}'
step_v "error-no-channel" err_case 2 "no QMP monitor at 10.0.2.2:1" \
    env NVMET_QMP=10.0.2.2:1 $QMP query-status

section "batch"
batch_ok() {
    printf '%s\n' '{"execute": "query-status"}' '{"execute": "query-name"}' \
        '{"execute": "query-version"}' | $QMP --batch > "$LIB_TMP/b" || return 1
    cat "$LIB_TMP/b"
    [ "$(wc -l < "$LIB_TMP/b")" = 3 ] && sed -n 3p "$LIB_TMP/b" | grep -q '"qemu"'
}
step_v "batch-answers" batch_ok
batch_stop() {
    printf '%s\n' '{"execute": "query-status"}' '{"execute": "nope"}' \
        '{"execute": "query-name"}' | $QMP --batch > "$LIB_TMP/b" 2> "$LIB_TMP/e"
    _rc=$?
    cat "$LIB_TMP/b" "$LIB_TMP/e"
    [ $_rc = 1 ] && [ "$(wc -l < "$LIB_TMP/b")" = 1 ] && grep -q "request 2: .*nope" "$LIB_TMP/e"
}
step_v "batch-stops-at-error" batch_stop

section "a target change over QMP, seen by the host"
step "subsystem-add" $QMP object-add "{\"qom-type\": \"nvmet-subsystem\", \"id\": \"gq-sub\",
    \"nqn\": \"$NQN\", \"ports\": [\"$PORTID\"], \"allow-any-host\": true}"
step "discover-shows-it" discover_check 10.0.2.2 "$port" "$NQN"
step "subsystem-del" $QMP object-del '{"id": "gq-sub"}'
gone() { ! nvme discover -t tcp -a 10.0.2.2 -s "$port" 2>/dev/null | grep -q "$NQN"; }
step "discover-lost-it" gone

section "speed"
t0=$(_now)
i=0
while [ $i -lt 10 ]; do $QMP query-status > /dev/null || break; i=$((i + 1)); done
check "10-calls ($(_elapsed "$t0") s)" test $i = 10
t0=$(_now)
i=0
while [ $i -lt 10 ]; do echo '{"execute": "query-status"}'; i=$((i + 1)); done |
    $QMP --batch > "$LIB_TMP/b"
check "10-in-a-batch ($(_elapsed "$t0") s)" test "$(wc -l < "$LIB_TMP/b")" = 10
