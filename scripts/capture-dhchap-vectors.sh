#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# Capture the DH-HMAC-CHAP exchanges the real Linux host (tests/guest/auth.sh
# in a TCG guest) has with the target, and write them as a replay file:
#
#   scripts/capture-dhchap-vectors.sh [--from-pcap FILE] [SEED] [OUT]
#
# --from-pcap: do not run the guest; use a capture made earlier with
#   NVMET_AUTH_SEED=SEED NVMET_AUTH_PCAP=FILE scripts/run-tests.sh guest-auth
#
# SEED (default 20261125) seeds the target's subsystem, so the target's
# challenges and DH values are a known function of it; OUT defaults to
# tests/vectors/dhchap-linux-replay.txt.  tests/unit/test-nvmet-linux-replay
# feeds the host's messages from the file to the engine seeded the same way:
# the responses the Linux host computed must be accepted and the engine's
# messages must match those the Linux host accepted, byte for byte.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

pcap=$NVMET_BUILD/test-logs/dhchap-capture.pcap
run=1
if [ "${1:-}" = --from-pcap ]; then
    pcap=${2:?--from-pcap needs a file}; run=0; shift 2
fi
seed=${1:-20261125}
out=${2:-$NVMET_TOP/tests/vectors/dhchap-linux-replay.txt}
keys=$NVMET_TOP/tests/guest/data/auth-keys.sh

if [ $run = 1 ]; then
    rm -f "$pcap"
    NVMET_AUTH_SEED=$seed NVMET_AUTH_PCAP=$pcap "$NVMET_TOP/scripts/run-tests.sh" guest-auth ||
        die "the guest test failed; no vectors written"
fi
[ -s "$pcap" ] || die "no capture in $pcap"

tmp=$(mktemp)
trap 'rm -f "$tmp"' EXIT
(
    . "$keys"
    echo "# DH-HMAC-CHAP exchanges of the Linux host $(sed -n 's/.*init: started.*kernel \([^ ]*\).*/\1/p' "$NVMET_BUILD/test-logs/guest-auth.log" | head -n1)"
    echo "# with the target, captured by scripts/capture-dhchap-vectors.sh on $(date -u +%F)"
    echo "# from tests/guest/auth.sh; keys from tests/guest/data/auth-keys.sh."
    echo "# Format: see scripts/dhchap-vectors-from-pcap.py."
    echo "seed $seed"
    echo "subnqn nqn.2026-11.org.qemu:auth"
    for n in 1 2 3 4 5; do
        eval "k=\$AUTH_H${n}_KEY c=\$AUTH_H${n}_CKEY h=\$AUTH_H${n}_HASH g=\$AUTH_H${n}_GROUP"
        printf 'host nqn.2014-08.org.nvmexpress:uuid:00000000-0000-4000-8000-%012d hash %s group %s key %s ckey %s\n' \
            "$n" "$h" "$g" "$k" "${c:--}"
    done
    echo
    python3 "$NVMET_TOP/scripts/dhchap-vectors-from-pcap.py" "$pcap" 4420
) > "$tmp"
mkdir -p "$(dirname "$out")"
mv "$tmp" "$out"
trap - EXIT
log "wrote $out ($(grep -c '^conn ' "$out") connections, $(grep -c '^send ' "$out") AUTH_Send, $(grep -c '^recv ' "$out") AUTH_Receive)"
