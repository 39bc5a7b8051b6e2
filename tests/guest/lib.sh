# SPDX-License-Identifier: GPL-2.0-or-later
#
# Helpers for the guest test scripts (busybox sh).  Source it with
#     . /tests/lib.sh
#
# Results: every step appends "PASS: name", "FAIL: name" or "SKIP: name
# (reason)" to $GUEST_RESULTS; /init counts them and prints the final
# "GUEST-RESULT: N passed, M failed, K skipped" line, so a script that dies
# half-way still reports what it did.  Do not use `set -e` in test scripts: a
# failing step must not end the script (use the return values).
#
# Features: `feature NAME` makes the following results count for feature NAME
# as well ($GUEST_FEATURES); /init prints one "GUEST-FEATURE: NAME STATUS
# (reason)" line per feature (FAIL if a step failed, else PASS if one passed,
# else SKIP with the first skip's reason).  scripts/kernel-matrix.sh builds
# its kernel x feature table from these lines.
#
# What the booted kernel can do (a step that needs a missing capability is
# reported with `skip NAME REASON`, not failed):
#   kver_ge MAJ MIN          the running kernel is MAJ.MIN or newer
#   fabrics_opt NAME         /dev/nvme-fabrics accepts option NAME
#   cap_auth / cap_tls / cap_concat / cap_digest / cap_tls_configured_key CTRL
#                            print the reason and fail when the capability is
#                            missing (DH-HMAC-CHAP, TLS with tlshd, secure
#                            channel concatenation, NVMe/TCP digests, the
#                            tls_configured_key attribute of a controller)
#   need CAP NAME...         `skip` every NAME with CAP's reason unless CAP
#                            holds; returns CAP's status
#
# Step API
#   step NAME CMD...        run CMD, print PASS/FAIL (output shown on failure)
#   step_v NAME CMD...      same, but always show the output
#   check NAME COND...      like step, for a `test` expression or a function
#   pass NAME / fail NAME [MSG]   record a result directly
#   skip NAME REASON        record "SKIP: NAME (REASON)" (counted apart)
#   feature NAME            following results also count for feature NAME
#   info TITLE CMD...       run CMD and print its output as information
#   section TITLE           print a heading
#   require NAME CMD...     a step; on failure the script ends (exit 1)
#
# NVMe helpers
#   nvme_ctrls NQN          controllers (nvmeX) connected to subsystem NQN
#   nvme_ctrl NQN           the first one
#   nvme_ns_dev NQN [NSID]  /dev/nvmeXnY of namespace NSID (default 1)
#   wait_ctrl NQN [SEC]     wait until a live controller for NQN exists
#   wait_ns NQN [NSID] [SEC]  wait for the namespace block device, echo it
#   wait_gone NQN [SEC]     wait until no controller for NQN is left
#   wait_for SEC CMD...     poll CMD every 0.2 s until it succeeds
#   discover_check ADDR PORT NQN   nvme discover shows NQN (trtype tcp, PORT)
#   dev_size_bytes DEV      size of a block device in bytes
#
# Data helpers (offsets and sizes in MiB; O_DIRECT I/O with dd bs=1M)
#   write_random_to DEV MIB [SEEK] [TAG]  random data -> DEV, sha256 kept as TAG
#   verify_from DEV MIB [SKIP] [TAG]      read back, compare with TAG's sha256
#   verify_zero DEV MIB [SKIP]            the range reads back as zeros
#   make_random FILE MIB            FILE = MIB MiB from /dev/urandom
#   write_file DEV FILE [SEEK]      write FILE to DEV at SEEK, O_DIRECT + fsync
#   dev_sha DEV MIB [SKIP]          sha256 of MIB MiB of DEV at SKIP
#   file_sha FILE / zero_sha MIB    sha256 of FILE / of MIB MiB of zeros
#   $BLKDISCARD                     util-linux blkdiscard (supports -z)
#
# Kernel target (in-guest nvmet, reference and self-target mode)
#   ktarget_setup NQN ADDR PORT [MIB] [PORTID]  null_blk (memory backed) ns 1
#   ktarget_teardown                            remove everything it created
#   ktarget_trace_on / ktarget_trace_off / ktarget_trace_dump / ktarget_trace_clear
#   ktarget_trace_summary   compact listing of the commands nvmet received
#
# Host-side evidence (tracefs, works against any target)
#   host_trace_on / host_trace_off / host_trace_ops   nvme_setup_cmd events:
#                           which commands the host sent, on which queue
#   digest_probe_on / digest_probe_check HD DD / digest_probe_off
#                           fprobe on nvme_tcp_init_connection: per queue the
#                           digests requested in the ICReq, the ICResp's
#                           MAXH2CDATA and whether the exchange succeeded
#
# TLS
#   start_tlshd [KEYRINGS]   write /etc/tlshd/config (+ legacy /etc/tlshd.conf,
#                            keyrings default .nvme) and start tlshd -s in the
#                            background, log in /tmp/tlshd.log
#   stop_tlshd
#
# Note: the image's busybox prefers its applets to PATH binaries when called
# from sh; call util-linux tools by full path (see $BLKDISCARD).

: "${GUEST_RESULTS:=/tmp/guest-results}"
: "${GUEST_FEATURES:=/tmp/guest-features}"
export GUEST_RESULTS GUEST_FEATURES
LIB_TMP=${LIB_TMP:-/tmp/lib.$$}
mkdir -p "$LIB_TMP"

_now() { cut -d' ' -f1 /proc/uptime; }
_elapsed() { awk "BEGIN{printf \"%.1f\", $(_now) - $1}"; }

section() { echo; echo "=== $* ==="; }

_feat() { [ -z "${FEATURE:-}" ] || printf '%s %s %s\n' "$FEATURE" "$1" "${2:-}" >> "$GUEST_FEATURES"; }
feature() { FEATURE=$1; }
pass() { echo "PASS: $1${2:+ ($2)}"; echo "PASS: $1" >> "$GUEST_RESULTS"; _feat PASS; }
fail() {
    echo "FAIL: $1"
    [ -z "${2:-}" ] || printf '%s\n' "$2" | sed 's/^/    | /'
    echo "FAIL: $1" >> "$GUEST_RESULTS"
    _feat FAIL
}
skip() {
    echo "SKIP: $1${2:+ ($2)}"
    echo "SKIP: $1${2:+ ($2)}" >> "$GUEST_RESULTS"
    _feat SKIP "${2:-}"
}

# step NAME CMD... : run CMD (a command or shell function) with its output
# captured; print PASS/FAIL and return CMD's status.
step() {
    _sn=$1; shift
    _t0=$(_now)
    "$@" > "$LIB_TMP/step.out" 2>&1
    _rc=$?
    if [ $_rc = 0 ]; then
        if [ "${STEP_VERBOSE:-0}" = 1 ] && [ -s "$LIB_TMP/step.out" ]; then
            sed 's/^/    | /' "$LIB_TMP/step.out"
        fi
        pass "$_sn" "$(_elapsed "$_t0") s"
    else
        echo "FAIL: $_sn (exit $_rc, $(_elapsed "$_t0") s): $*"
        sed 's/^/    | /' "$LIB_TMP/step.out" | tail -n "${STEP_FAIL_LINES:-60}"
        echo "FAIL: $_sn" >> "$GUEST_RESULTS"
        _feat FAIL
    fi
    return $_rc
}

step_v() {
    _sn=$1; shift
    STEP_VERBOSE=1 step "$_sn" "$@"
}

check() { step "$@"; }

# info TITLE CMD... : informational output, never counted
info() {
    _it=$1; shift
    echo "----- INFO: $_it -----"
    "$@" 2>&1
    echo "----- END INFO: $_it (exit $?) -----"
}

# require NAME CMD... : a step whose failure makes the rest pointless
require() {
    step "$@" && return 0
    echo "ABORT: required step '$1' failed; ending the test script"
    exit 1
}

wait_for() {
    _wt=$1; shift
    _wn=$(awk "BEGIN{print int($_wt * 5)}")
    while :; do
        "$@" >/dev/null 2>&1 && return 0
        [ "$_wn" -gt 0 ] || return 1
        _wn=$((_wn - 1))
        sleep 0.2
    done
}

# ------------------------------------------------------------ NVMe helpers
nvme_ctrls() {
    for _c in /sys/class/nvme/nvme*; do
        [ -e "$_c/subsysnqn" ] || continue
        [ "$(cat "$_c/subsysnqn" 2>/dev/null)" = "$1" ] && basename "$_c"
    done
    return 0
}
nvme_ctrl() { nvme_ctrls "$1" | head -n1; }

_ctrl_live() {
    for _c in $(nvme_ctrls "$1"); do
        [ "$(cat "/sys/class/nvme/$_c/state" 2>/dev/null)" = live ] && return 0
    done
    return 1
}
wait_ctrl() { wait_for "${2:-20}" _ctrl_live "$1"; }
_no_ctrl() { [ -z "$(nvme_ctrls "$1")" ]; }
wait_gone() { wait_for "${2:-20}" _no_ctrl "$1"; }

# The namespace block device.  With native multipath (the Debian default) the
# disk is the subsystem's head node nvme<S>n<N> listed under
# /sys/class/nvme-subsystem/; without it, nvme<C>n<N> under the controller.
nvme_ns_dev() {
    _nsid=${2:-1}
    for _s in /sys/class/nvme-subsystem/nvme-subsys*; do
        [ -e "$_s/subsysnqn" ] || continue
        [ "$(cat "$_s/subsysnqn")" = "$1" ] || continue
        for _d in "$_s"/nvme*n*; do
            [ -e "$_d" ] || continue
            _b=$(basename "$_d")
            [ "$(cat "/sys/block/$_b/nsid" 2>/dev/null)" = "$_nsid" ] || continue
            [ -b "/dev/$_b" ] && { echo "/dev/$_b"; return 0; }
        done
    done
    for _c in $(nvme_ctrls "$1"); do
        for _d in /sys/class/nvme/$_c/nvme*n*; do
            [ -e "$_d" ] || continue
            _b=$(basename "$_d")
            case $_b in *c*n*) continue ;; esac    # hidden multipath path node
            [ "$(cat "/sys/block/$_b/nsid" 2>/dev/null)" = "$_nsid" ] || continue
            [ -b "/dev/$_b" ] && { echo "/dev/$_b"; return 0; }
        done
    done
    return 1
}
_ns_ready() {
    _d=$(nvme_ns_dev "$1" "$2") || return 1
    [ "$(dev_size_bytes "$_d")" -gt 0 ] 2>/dev/null
}
wait_ns() {
    wait_for "${3:-20}" _ns_ready "$1" "${2:-1}" || return 1
    nvme_ns_dev "$1" "${2:-1}"
}

dev_size_bytes() {
    _b=$(basename "$(readlink -f "$1")")
    echo $(( $(cat "/sys/class/block/$_b/size") * 512 ))
}

# discover_check ADDR PORT NQN [extra nvme discover args]
discover_check() {
    _da=$1 _dp=$2 _dn=$3; shift 3
    nvme discover -t tcp -a "$_da" -s "$_dp" "$@" > "$LIB_TMP/disc.out" 2>&1 || {
        cat "$LIB_TMP/disc.out"; return 1; }
    cat "$LIB_TMP/disc.out"
    awk -v nqn="$_dn" -v port="$_dp" '
        function check() {
            if (subnqn == nqn) {
                found = 1
                if (trtype != "tcp") { print "entry for " nqn ": trtype=" trtype; bad = 1 }
                if (trsvcid != port) { print "entry for " nqn ": trsvcid=" trsvcid; bad = 1 }
            }
        }
        /^=+Discovery Log Entry/ { check(); subnqn = trtype = trsvcid = "" }
        $1 == "subnqn:" { subnqn = $2 }
        $1 == "trtype:" { trtype = $2 }
        $1 == "trsvcid:" { trsvcid = $2 }
        END {
            check()
            if (!found) { print "subsystem " nqn " not in the discovery log"; exit 1 }
            exit bad
        }' "$LIB_TMP/disc.out"
}

# ------------------------------------------------------------ data helpers
make_random() { dd if=/dev/urandom of="$1" bs=1M count="$2" 2>/dev/null && [ "$(stat -c %s "$1")" = $(( $2 * 1048576 )) ]; }
file_sha() { sha256sum "$1" | cut -d' ' -f1; }
zero_sha() { dd if=/dev/zero bs=1M count="$1" 2>/dev/null | sha256sum | cut -d' ' -f1; }
write_file() {
    dd if="$2" of="$1" bs=1M seek="${3:-0}" oflag=direct conv=notrunc,fsync 2>"$LIB_TMP/wf.dd" || {
        cat "$LIB_TMP/wf.dd"; return 1; }
    grep -q "^$(( $(stat -c %s "$2") / 1048576 ))+0 records out" "$LIB_TMP/wf.dd" || { cat "$LIB_TMP/wf.dd"; return 1; }
}
dev_sha() {
    dd if="$1" bs=1M count="$2" skip="${3:-0}" iflag=direct 2>/dev/null | sha256sum | cut -d' ' -f1
}

# write_random_to DEV MIB [SEEK_MIB] [TAG]: random data -> DEV, remembers the
# sha256 as $LIB_TMP/TAG.sha (TAG default "data"); prints the sha.
write_random_to() {
    _tag=${4:-data}
    make_random "$LIB_TMP/$_tag.bin" "$2" || { echo "cannot create random data"; return 1; }
    file_sha "$LIB_TMP/$_tag.bin" > "$LIB_TMP/$_tag.sha"
    dd if="$LIB_TMP/$_tag.bin" of="$1" bs=1M seek="${3:-0}" oflag=direct conv=notrunc,fsync 2>"$LIB_TMP/$_tag.dd" || {
        cat "$LIB_TMP/$_tag.dd"; return 1; }
    grep -q "^$2+0 records out" "$LIB_TMP/$_tag.dd" || { cat "$LIB_TMP/$_tag.dd"; return 1; }
    rm -f "$LIB_TMP/$_tag.bin"
    echo "wrote $2 MiB at $((${3:-0})) MiB to $1, sha256 $(cat "$LIB_TMP/$_tag.sha")"
}
# verify_from DEV MIB [SKIP_MIB] [TAG]: compare with the remembered sha256
verify_from() {
    _tag=${4:-data}
    [ -s "$LIB_TMP/$_tag.sha" ] || { echo "no recorded sha256 for '$_tag'"; return 1; }
    _want=$(cat "$LIB_TMP/$_tag.sha")
    _got=$(dev_sha "$1" "$2" "${3:-0}")
    echo "read $2 MiB at ${3:-0} MiB from $1: sha256 $_got (expected $_want)"
    [ "$_got" = "$_want" ]
}
# verify_zero DEV MIB [SKIP_MIB]
verify_zero() {
    _got=$(dev_sha "$1" "$2" "${3:-0}")
    _want=$(zero_sha "$2")
    echo "read $2 MiB at ${3:-0} MiB from $1: sha256 $_got (zeros: $_want)"
    [ "$_got" = "$_want" ]
}

# ------------------------------------------------------------ kernel target
KT_CFG=/sys/kernel/config
# ktarget_setup NQN ADDR PORT [MIB] [PORTID] [extra: key=value for port attrs]
ktarget_setup() {
    _kn=$1 _ka=$2 _kp=$3 _km=${4:-64} _kid=${5:-1}
    [ -d "$KT_CFG/nvmet" ] || { echo "nvmet configfs missing (modules loaded? configfs mounted?)"; return 1; }
    _nb=$KT_CFG/nullb/nulltgt$_kid
    if [ ! -d "$_nb" ]; then
        mkdir "$_nb" || return 1
        echo "$_km" > "$_nb/size" &&            # MiB
        echo 512 > "$_nb/blocksize" &&
        echo 1 > "$_nb/memory_backed" &&
        { echo 1 > "$_nb/discard" || echo "note: null_blk discard not settable"; } &&
        echo 1 > "$_nb/power" || return 1
    fi
    # null_blk names configfs-created disks after the configfs item (newer
    # kernels) or nullb<index> (older ones)
    wait_for 5 _nullb_dev "$_nb" || { echo "null_blk disk for $_nb did not appear"; return 1; }
    _bdev=$(_nullb_dev "$_nb")
    _ss=$KT_CFG/nvmet/subsystems/$_kn
    if [ ! -d "$_ss" ]; then
        mkdir "$_ss" || return 1
        echo 1 > "$_ss/attr_allow_any_host" || return 1
        mkdir "$_ss/namespaces/1" &&
        echo "$_bdev" > "$_ss/namespaces/1/device_path" &&
        echo 1 > "$_ss/namespaces/1/enable" || return 1
    fi
    _pt=$KT_CFG/nvmet/ports/$_kid
    if [ ! -d "$_pt" ]; then
        mkdir "$_pt" &&
        echo tcp > "$_pt/addr_trtype" &&
        echo ipv4 > "$_pt/addr_adrfam" &&
        echo "$_ka" > "$_pt/addr_traddr" &&
        echo "$_kp" > "$_pt/addr_trsvcid" || return 1
    fi
    [ -e "$_pt/subsystems/$_kn" ] || ln -s "$_ss" "$_pt/subsystems/$_kn" || return 1
    echo "kernel nvmet: $_kn on tcp $_ka:$_kp (port $_kid), ns 1 = $_bdev ($_km MiB)"
}
ktarget_teardown() {
    for _pt in "$KT_CFG"/nvmet/ports/*; do
        [ -d "$_pt" ] || continue
        for _l in "$_pt"/subsystems/*; do [ -L "$_l" ] && rm -f "$_l"; done
        rmdir "$_pt" 2>/dev/null
    done
    for _ss in "$KT_CFG"/nvmet/subsystems/*; do
        [ -d "$_ss" ] || continue
        for _ns in "$_ss"/namespaces/*; do
            [ -d "$_ns" ] || continue
            echo 0 > "$_ns/enable" 2>/dev/null; rmdir "$_ns"
        done
        for _h in "$_ss"/allowed_hosts/*; do [ -L "$_h" ] && rm -f "$_h"; done
        rmdir "$_ss" 2>/dev/null
    done
    for _h in "$KT_CFG"/nvmet/hosts/*; do [ -d "$_h" ] && rmdir "$_h" 2>/dev/null; done
    for _nb in "$KT_CFG"/nullb/nulltgt*; do
        [ -d "$_nb" ] || continue
        echo 0 > "$_nb/power" 2>/dev/null; rmdir "$_nb"
    done
    return 0
}

TRACE=/sys/kernel/tracing
# Trace the commands the kernel target receives (and the host sends).
ktarget_trace_on() {
    [ -d "$TRACE/events/nvmet" ] || { echo "no nvmet trace events"; return 1; }
    echo 0 > "$TRACE/tracing_on"
    echo 4096 > "$TRACE/buffer_size_kb" 2>/dev/null
    : > "$TRACE/trace"
    echo 1 > "$TRACE/events/nvmet/nvmet_req_init/enable" || return 1
    echo 1 > "$TRACE/events/nvmet/nvmet_req_complete/enable" 2>/dev/null
    if [ "${1:-}" = host ] && [ -d "$TRACE/events/nvme" ]; then
        echo 1 > "$TRACE/events/nvme/nvme_setup_cmd/enable"
        echo 1 > "$TRACE/events/nvme/nvme_complete_rq/enable"
    fi
    echo 1 > "$TRACE/tracing_on"
}
ktarget_trace_off() {
    echo 0 > "$TRACE/tracing_on" 2>/dev/null
    for _e in "$TRACE"/events/nvmet/*/enable "$TRACE"/events/nvme/*/enable; do
        [ -f "$_e" ] && echo 0 > "$_e"
    done
    return 0
}
# print the trace without the ftrace header
ktarget_trace_dump() { grep -v '^#' "$TRACE/trace"; }
ktarget_trace_clear() { : > "$TRACE/trace"; }
# Print the nvmet trace compactly: admin/fabrics requests and completions in
# order (Get Log Page cdw10..15 decoded), I/O commands only counted per queue
# and opcode (their completions shown only when not successful).
ktarget_trace_summary() {
    ktarget_trace_dump | sed -n \
        -e 's/.*nvmet_req_init: [^ ]* \(.*\)$/REQ \1/p' \
        -e 's/.*nvmet_req_complete: [^ ]* \(.*\)$/CPL \1/p' |
        sed -e 's/disk=[^,]*, //' -e 's/flags=0x[0-9a-f]*, meta=0x[0-9a-f]*, //' |
        awk '
        function hex(s,   i, c, v) {
            v = 0; s = tolower(s); sub(/^0x/, "", s)
            for (i = 1; i <= length(s); i++) {
                c = index("0123456789abcdef", substr(s, i, 1)) - 1
                if (c < 0) break
                v = v * 16 + c
            }
            return v
        }
        function field(name,   m) {
            if (match($0, name "=[^,)]*")) return substr($0, RSTART + length(name) + 1, RLENGTH - length(name) - 1)
            return ""
        }
        $1 == "REQ" {
            q = field("qid"); id = field("cmdid")
            if ($0 ~ /cmd=\(nvme_cmd_/) {
                op = $0; sub(/.*cmd=\(/, "", op); sub(/,.*/, "", op)
                io[q " " op]++; isio[q ":" id] = 1; next
            }
            line = $0
            if (line ~ /cdw10=(00 )*00\)/) sub(/cdw10=(00 )*00\)/, "cdw10..15=0)", line)
            if ($0 ~ /nvme_admin_get_log_page, cdw10=/) {
                s = $0; sub(/.*cdw10=/, "", s); sub(/\).*/, "", s)
                n = split(s, b, " ")
                lid = hex(b[1]); lsp = hex(b[2]) % 128; rae = int(hex(b[2]) / 128)
                numd = hex(b[3]) + 256 * hex(b[4]) + 65536 * (hex(b[5]) + 256 * hex(b[6]))
                lsi = hex(b[7]) + 256 * hex(b[8])
                off = hex(b[9]) + 256 * hex(b[10]) + 65536 * hex(b[11]) + 16777216 * hex(b[12])
                csi = hex(b[20])
                sub(/cdw10=.*/, sprintf("lid=0x%02x lsp=%d rae=%d len=%d off=%d lsi=%d csi=%d)", lid, lsp, rae, (numd + 1) * 4, off, lsi, csi), line)
            }
            print line; next
        }
        $1 == "CPL" {
            q = field("qid"); id = field("cmdid")
            if (isio[q ":" id]) { delete isio[q ":" id]; if (field("status") == "0x0") next }
            print; next
        }
        END { for (k in io) print "IO  qid=" k " x" io[k] }'
}

# ------------------------------------------------------------ TLS
# start_tlshd [KEYRINGS] : keyrings default ".nvme"; tlshd logs to /tmp/tlshd.log
start_tlshd() {
    mkdir -p /etc/tlshd
    cat > /etc/tlshd/config <<EOF
[debug]
loglevel=${TLSHD_LOGLEVEL:-0}
tls=${TLSHD_TLSDEBUG:-0}
nl=${TLSHD_NLDEBUG:-0}

[authenticate]
keyrings=${1:-.nvme}

[authenticate.client]

[authenticate.server]
EOF
    cp /etc/tlshd/config /etc/tlshd.conf
    stop_tlshd
    tlshd -s -c /etc/tlshd/config > /tmp/tlshd.log 2>&1 &
    echo $! > /run/tlshd.pid
    sleep 0.3
    kill -0 "$(cat /run/tlshd.pid)" 2>/dev/null || { cat /tmp/tlshd.log; return 1; }
    echo "tlshd running (pid $(cat /run/tlshd.pid), log /tmp/tlshd.log)"
}
stop_tlshd() {
    [ -s /run/tlshd.pid ] || return 0
    kill "$(cat /run/tlshd.pid)" 2>/dev/null
    rm -f /run/tlshd.pid
    return 0
}
_nullb_dev() {
    for _c in "/dev/$(basename "$1")" "/dev/nullb$(cat "$1/index")"; do
        [ -b "$_c" ] && { echo "$_c"; return 0; }
    done
    return 1
}

# ------------------------------------------------------------ digest evidence
# There is no sysfs attribute for the NVMe/TCP digests.  With BTF-typed fprobe
# events we record, for every queue the host initializes, the digests it
# requested in its ICReq (queue->hdr_digest/data_digest), the MAXH2CDATA taken
# from the ICResp and the result of nvme_tcp_init_connection(), which fails
# unless the ICResp's DGST flags equal the requested ones.  digest_probe_on
# fails when probes are unavailable.
digest_probe_on() {
    _de=$TRACE/dynamic_events
    [ -w "$_de" ] || { echo "no $_de"; return 1; }
    digest_probe_off
    # newer kernels: arguments are visible in the return probe
    if ! echo 'f:nvmetest/icdone nvme_tcp_init_connection%return ret=$retval hd=queue->hdr_digest dd=queue->data_digest maxh2cdata=queue->maxh2cdata' >> "$_de" 2>/dev/null; then
        echo 'f:nvmetest/icreq nvme_tcp_init_connection hd=queue->hdr_digest dd=queue->data_digest' >> "$_de" || return 1
        echo 'f:nvmetest/icdone nvme_tcp_init_connection%return ret=$retval' >> "$_de" || return 1
    fi
    echo 1 > "$TRACE/events/nvmetest/enable" || return 1
    echo 1 > "$TRACE/tracing_on"
}
digest_probe_off() {
    [ -d "$TRACE/events/nvmetest" ] || return 0
    echo 0 > "$TRACE/events/nvmetest/enable" 2>/dev/null
    for _p in "$TRACE"/events/nvmetest/*/; do
        [ -d "$_p" ] && echo "-:nvmetest/$(basename "$_p")" >> "$TRACE/dynamic_events" 2>/dev/null
    done
    return 0
}
# digest_probe_check HD DD : every queue initialized since digest_probe_on
# requested hdr_digest=HD, data_digest=DD and completed the ICReq/ICResp
# exchange successfully (at least 2 queues: admin + I/O).
digest_probe_check() {
    grep -E ' (icreq|icdone): ' "$TRACE/trace" | sed -e 's/^.* \(ic[a-z]*: \)/\1/' -e 's/([^)]*) //'
    awk -v hd="$1" -v dd="$2" '
        / (icreq|icdone): .*hd=/ { if ($0 !~ (" hd=" hd "( |$)") || $0 !~ (" dd=" dd "( |$)")) bad++ }
        / icdone: / { n++; if ($0 !~ / ret=(0x)?0( |$)/) bad++ }
        END {
            printf "queues initialized: %d, mismatches/failures: %d\n", n, bad
            exit !(n >= 2 && bad == 0)
        }' "$TRACE/trace"
}

# The image's busybox runs its applets in preference to binaries in PATH;
# util-linux's blkdiscard (with -z) must be called by its full path.
BLKDISCARD=/usr/sbin/blkdiscard
[ -x "$BLKDISCARD" ] || BLKDISCARD=blkdiscard

# ------------------------------------------------------------ host command trace
# host_trace_on: record the commands the Linux host sends (nvme_setup_cmd)
host_trace_on() {
    [ -w "$TRACE/events/nvme/nvme_setup_cmd/enable" ] || return 1
    echo 0 > "$TRACE/tracing_on"; : > "$TRACE/trace"
    echo 1 > "$TRACE/events/nvme/nvme_setup_cmd/enable" || return 1
    echo 1 > "$TRACE/tracing_on"
}
host_trace_off() { echo 0 > "$TRACE/events/nvme/nvme_setup_cmd/enable" 2>/dev/null; return 0; }
# host_trace_ops: "count qid opcode-name" for every command recorded
host_trace_ops() {
    grep 'nvme_setup_cmd:' "$TRACE/trace" |
        sed -n 's/.* qid=\([0-9]*\),.*cmd=(\([a-z_0-9]*\).*/\1 \2/p' | sort | uniq -c
}

# ------------------------------------------------------------ capabilities
# kver_ge MAJ MIN: the running kernel is MAJ.MIN or newer
kver_ge() {
    _kr=$(uname -r); _kM=${_kr%%.*}; _km=${_kr#*.}; _km=${_km%%[!0-9]*}
    [ "$_kM" -gt "$1" ] || { [ "$_kM" -eq "$1" ] && [ "$_km" -ge "$2" ]; }
}
# fabrics_opt NAME: /dev/nvme-fabrics lists the connect option NAME (reading
# it without a controller returns every option the kernel parses)
fabrics_opt() {
    [ -s "$LIB_TMP/fabrics.opts" ] ||
        tr ',' '\n' < /dev/nvme-fabrics 2>/dev/null | sed 's/=.*//' > "$LIB_TMP/fabrics.opts"
    grep -qx "$1" "$LIB_TMP/fabrics.opts"
}
# DH-HMAC-CHAP: the connect option is parsed even without CONFIG_NVME_AUTH
# (Debian's 6.1), so look for the host's code too
cap_auth() {
    fabrics_opt dhchap_secret &&
        grep -q -E ' nvme_auth_negotiate([[:space:]]|$)' /proc/kallsyms && return 0
    echo "Linux $(uname -r) has no DH-HMAC-CHAP host (built without CONFIG_NVME_AUTH)"; return 1
}
cap_tls() {
    fabrics_opt tls || { echo "Linux $(uname -r) has no NVMe/TCP TLS (no tls option)"; return 1; }
    command -v tlshd > /dev/null || { echo "no tlshd in this userland (ktls-utils)"; return 1; }
    return 0
}
cap_concat() {
    cap_tls || return 1
    fabrics_opt concat && return 0
    echo "Linux $(uname -r) has no secure channel concatenation (no concat option)"; return 1
}
# NVMe/TCP digests: older hosts take CRC32C from the crypto API (a crc32c
# module must be loaded), newer ones use the crc32c library through
# skb_copy_and_crc32c_datagram_iter()
cap_digest() {
    grep -q '^name *: crc32c$' /proc/crypto && return 0
    grep -q ' skb_copy_and_crc32c_datagram_iter$' /proc/kallsyms && return 0
    echo "no crc32c in the crypto API of Linux $(uname -r) (crc32c module missing)"; return 1
}
# SHA-384 TLS PSKs (TLS_AES_256_GCM_SHA384): tlshd's GnuTLS must be 3.8.11
# or later (older ones cannot give an external PSK another hash than
# SHA-256, so the client offers no suite the PSK fits)
cap_tls_sha384() {
    cap_tls || return 1
    _gv=$(sed -n 's/^ *libgnutls30[a-z0-9]*_\([0-9.]*\)[-+~].*/\1/p' /etc/guest-userland-info 2>/dev/null | head -n1)
    [ -n "$_gv" ] || { echo "cannot tell the GnuTLS version of this userland"; return 1; }
    _gM=$(echo "$_gv" | cut -d. -f1) _gm=$(echo "$_gv" | cut -d. -f2) _gp=$(echo "$_gv" | cut -d. -f3)
    [ $((_gM * 10000 + _gm * 100 + ${_gp:-0})) -ge 30811 ] && return 0
    echo "tlshd's GnuTLS $_gv has no SHA-384 TLS PSKs (3.8.11 or later needed)"; return 1
}
# cap_tls_configured_key CTRL: the attribute that triggers REPLACETLSPSK
cap_tls_configured_key() {
    [ -e "/sys/class/nvme/$1/tls_configured_key" ] && return 0
    echo "Linux $(uname -r) has no /sys/class/nvme/*/tls_configured_key"; return 1
}
# need CAP [ARGS] -- NAME...: when CAP fails, skip every NAME with its reason
need() {
    _cap=$1; shift
    _args=""
    while [ $# -gt 0 ] && [ "$1" != -- ]; do _args="$_args $1"; shift; done
    [ "${1:-}" = -- ] && shift
    # shellcheck disable=SC2086
    _why=$($_cap $_args) && return 0
    for _n in "$@"; do skip "$_n" "$_why"; done
    return 1
}
