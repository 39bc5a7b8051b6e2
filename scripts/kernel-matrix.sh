#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# The compatibility matrix: run the guest suites (tests/guest/nvme-io.sh,
# auth.sh, tls.sh against the target in QEMU) with several Linux host
# kernels and print a kernel x feature table: pass, FAIL, or skip with the
# reason the guest gave (the kernel lacks the feature), plus the same table
# in Markdown.
#
#   scripts/kernel-matrix.sh [options] [KERNEL...]
#
# KERNEL: any scripts/build-guest.sh --kernel SPEC: a Debian version (6.1,
# 6.12, 6.18.15, 7.3, ...), a kernel build tree, or BZIMAGE[,MODDIR].
# Default: 6.1 6.12 6.16 6.18 7.0 7.2 7.3.
#
# Options:
#   --suites "S..."   guest suites to run per kernel (default "guest-io
#                     guest-auth guest-tls"; see scripts/run-tests.sh)
#   --markdown FILE   write the Markdown table there too (default
#                     build/kernel-matrix/matrix.md)
#   --no-netns        do not run the tests in a private network namespace
#                     (by default they do: the guest tests use fixed ports)
#   --table-only      run nothing: print the table from the logs of earlier
#                     runs (e.g. after re-running one kernel)
#   -h, --help        this text
#
# Every kernel's image is built first (downloads need the network), then
# the suites run inside `unshare -n` one kernel after the other; logs go to
# build/kernel-matrix/KERNEL/.  A kernel that cannot be had (e.g. a Debian
# version whose modules left the archive) gets a row saying why.  Under TCG
# on 2 idle cores one kernel takes about 6-7 minutes (much longer on a
# loaded host).
#
# Exit status: non-zero if any kernel failed a step or could not be built.
set -uo pipefail
. "$(dirname "$0")/lib.sh"

suites="guest-io guest-auth guest-tls"
md="" netns=1 table_only=0
kernels=()
while [ $# -gt 0 ]; do
    case $1 in
        --suites) suites=${2:?}; shift ;;
        --markdown) md=${2:?}; shift ;;
        --no-netns) netns=0 ;;
        --table-only) table_only=1 ;;
        -h|--help) sed -n '3,/^[^#]/{/^#/p}' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
        -*) die "unknown option '$1' (see --help)" ;;
        *) kernels+=("$1") ;;
    esac
    shift
done
[ ${#kernels[@]} -gt 0 ] || kernels=(6.1 6.12 6.16 6.18 7.0 7.2 7.3)
OUT=$NVMET_BUILD/kernel-matrix
mkdir -p "$OUT"
md=${md:-$OUT/matrix.md}

# The columns, in order, and what they mean (GUEST-FEATURE names).
FEATURES="io digest dhchap dhchap-reauth dhchap-refuse tls-psk tls-sha384 concat replace-tck replace-reauth concat-sha384 quirk"
describe() {
    case $1 in
        io) echo "discovery, I/O, 2 I/O queues, deallocate/write zeroes, out-of-range LBAs" ;;
        digest) echo "NVMe/TCP header and data digests" ;;
        dhchap) echo "DH-HMAC-CHAP: SHA-256/384/512, null + ffdhe2048..8192, uni- and bidirectional" ;;
        dhchap-reauth) echo "re-authentication through sysfs (dhchap_secret, dhchap_ctrl_secret)" ;;
        dhchap-refuse) echo "wrong and missing keys refused, other hosts unaffected" ;;
        tls-psk) echo "TLS 1.3 with a configured PSK (identity v0 and v1), wrong PSK / cleartext refused" ;;
        tls-sha384) echo "configured SHA-384 PSK (TLS_AES_256_GCM_SHA384)" ;;
        concat) echo "secure channel concatenation: --concat (NEWTLSPSK), reconnect" ;;
        replace-tck) echo "REPLACETLSPSK through tls_configured_key (+ controller reset), x5" ;;
        replace-reauth) echo "REPLACETLSPSK through dhchap_secret on the live queue, x3, then a reset" ;;
        concat-sha384) echo "concatenation with SHA-384 and two rotations" ;;
        quirk) echo "quirk-free-tls-key reproduces the seed bug (CONCAT_MISMATCH)" ;;
    esac
}

declare -A image=() why=()
kid() { printf '%s' "$1" | tr '/ ,' '___'; }
if [ $table_only = 1 ]; then
    for k in "${kernels[@]}"; do
        d=$OUT/$(kid "$k")
        if [ -s "$d/no-image.txt" ]; then
            why[$k]=$(cat "$d/no-image.txt")
        elif [ -s "$d/image.txt" ]; then
            image[$k]=$(cat "$d/image.txt")
        else
            why[$k]="not run yet"
        fi
    done
fi

# ---------------------------------------------------------------- build
# QEMU and GnuTLS (also installs what they need), then one image per kernel
[ $table_only = 1 ] || {
"$NVMET_TOP/scripts/build-gnutls.sh" > "$OUT/build-gnutls.log" 2>&1 ||
    { tail -n 20 "$OUT/build-gnutls.log" >&2; die "GnuTLS build failed"; }
"$NVMET_TOP/scripts/build-qemu.sh" qemu-system-x86_64 storage-daemon/qemu-storage-daemon \
    qemu-img > "$OUT/build-qemu.log" 2>&1 ||
    { tail -n 20 "$OUT/build-qemu.log" >&2; die "QEMU build failed"; }

for k in "${kernels[@]}"; do
    id=$(kid "$k")
    rm -rf "${OUT:?}/$id"
    mkdir -p "$OUT/$id"
    log "kernel $k: image"
    if img=$("$NVMET_TOP/scripts/build-guest.sh" --kernel "$k" 2> "$OUT/$id/build-guest.log"); then
        image[$k]=$img
        echo "$img" > "$OUT/$id/image.txt"
    else
        why[$k]=$(grep 'error:' "$OUT/$id/build-guest.log" | head -n1 | sed 's/.*error: //')
        echo "${why[$k]}" > "$OUT/$id/no-image.txt"
        log "kernel $k: no image: ${why[$k]}"
    fi
done

# ---------------------------------------------------------------- run
for k in "${kernels[@]}"; do
    [ -n "${image[$k]:-}" ] || continue
    id=$(printf '%s' "$k" | tr '/ ,' '___')
    logs=$OUT/$id
    log "kernel $k: $suites ($(sed -n 's/^kernel //p' "${image[$k]}/info"))"
    t0=$(date +%s)
    # shellcheck disable=SC2086
    if [ $netns = 1 ]; then
        NVMET_GUEST_IMAGE=${image[$k]} NVMET_TEST_LOGS=$logs \
            unshare -n sh -c 'ip link set lo up && exec "$0" "$@"' \
            "$NVMET_TOP/scripts/run-tests.sh" $suites > "$logs/run-tests.out" 2>&1
    else
        NVMET_GUEST_IMAGE=${image[$k]} NVMET_TEST_LOGS=$logs \
            "$NVMET_TOP/scripts/run-tests.sh" $suites > "$logs/run-tests.out" 2>&1
    fi
    echo $(( $(date +%s) - t0 )) > "$logs/seconds"
    tail -n 1 "$logs/run-tests.out" | sed "s/^/  kernel $k: /" >&2
done
}

# ---------------------------------------------------------------- table
# cell KERNEL FEATURE -> "pass", "FAIL", "skip:REASON" or "-" (not run)
cell() {
    local logs=$OUT/$(printf '%s' "$1" | tr '/ ,' '___') line
    line=$(cat "$logs"/guest-*.log 2>/dev/null | sed 's/\r$//' |
           grep -a "^GUEST-FEATURE: $2 " | awk '
               { s = $3; r = $0; sub(/^GUEST-FEATURE: [^ ]* [A-Z]* ?/, "", r)
                 if (s == "FAIL") st = "FAIL"
                 else if (s == "PASS" && st != "FAIL") st = "pass"
                 else if (s == "SKIP" && st == "") { st = "skip"; why = r } }
               END { if (st == "skip") { gsub(/^\(|\)$/, "", why); print "skip:" why }
                     else if (st != "") print st }')
    echo "${line:--}"
}

declare -A reasons=()
nreasons=0
# reason_no REASON: its footnote number in RN (not in a subshell: the
# numbering lives in this shell)
reason_no() {
    if [ -z "${reasons[$1]:-}" ]; then
        nreasons=$((nreasons + 1))
        reasons[$1]=$nreasons
        printf '%s\t%s\n' "$nreasons" "$1" >> "$OUT/reasons.txt"
    fi
    RN=${reasons[$1]}
}
: > "$OUT/reasons.txt"

bad=0
text=$OUT/matrix.txt
{
    printf '%-10s %-22s' kernel release
    for f in $FEATURES; do printf ' %-14s' "$f"; done
    printf ' %s\n' "steps (pass/fail/skip), time"
} > "$text"
{
    echo "| kernel | $(echo $FEATURES | sed 's/ / | /g') | steps (pass/fail/skip) |"
    echo "|---|$(for f in $FEATURES; do printf -- '---|'; done)---|"
} > "$md.tmp"
for k in "${kernels[@]}"; do
    id=$(printf '%s' "$k" | tr '/ ,' '___')
    if [ -z "${image[$k]:-}" ]; then
        bad=1
        reason_no "${why[$k]}"; n=$RN
        printf '%-10s %-22s %s\n' "$k" "-" "no image [$n]" >> "$text"
        echo "| $k | no image [$n] |$(for f in $FEATURES; do printf ' |'; done)" >> "$md.tmp"
        continue
    fi
    rel=$(sed -n 's/^kernel //p' "${image[$k]}/info")
    steps=$(awk '/passed, [0-9]+ failed/ && $1 ~ /^guest/ {
                p += $2; f += $4; if (match($0, /[0-9]+ skipped/)) s += substr($0, RSTART, RLENGTH) + 0 }
             END { printf "%d/%d/%d", p, f, s }' "$OUT/$id/run-tests.out" 2>/dev/null)
    secs=$(cat "$OUT/$id/seconds" 2>/dev/null || echo "?")
    grep -q '^0 passed\|[1-9][0-9]* failed$' <(tail -n1 "$OUT/$id/run-tests.out") && bad=1
    printf '%-10s %-22s' "$k" "$rel" >> "$text"
    row="| $k ($rel) |"
    for f in $FEATURES; do
        c=$(cell "$k" "$f")
        case $c in
            skip:*) reason_no "${c#skip:}"; c="skip [$RN]" ;;
            FAIL) bad=1 ;;
        esac
        printf ' %-14s' "$c" >> "$text"
        row="$row $c |"
    done
    printf ' %s, %s s\n' "$steps" "$secs" >> "$text"
    echo "$row $steps |" >> "$md.tmp"
done
{
    echo
    while IFS=$'\t' read -r n r; do echo "[$n] $r"; done < "$OUT/reasons.txt"
    echo
    for f in $FEATURES; do printf '%-14s %s\n' "$f" "$(describe "$f")"; done
} >> "$text"
{
    echo
    while IFS=$'\t' read -r n r; do echo "[$n] $r  "; done < "$OUT/reasons.txt"
    echo
    for f in $FEATURES; do echo "- **$f**: $(describe "$f")"; done
} >> "$md.tmp"
mv "$md.tmp" "$md"

cat "$text"
echo
echo "Markdown: $md; logs: $OUT/KERNEL/"
exit $bad
