#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# Reference TLS PSK vectors from nvme-cli/libnvme and the Linux keyring:
# boots the test guest with tests/guest/psk-vectors.sh (no target needed)
# and writes the "PSKVEC:" lines it prints as a vector file:
#
#   scripts/capture-psk-vectors.sh [--from-log FILE] [OUT]
#
# OUT defaults to tests/vectors/psk-nvme-cli.txt, which
# tests/unit/test-nvmet-psk checks the engine's psk.c against.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

log=
if [ "${1:-}" = --from-log ]; then
    log=${2:?--from-log needs a file}; shift 2
fi
out=${1:-$NVMET_TOP/tests/vectors/psk-nvme-cli.txt}
tmp=$(mktemp)
trap 'rm -f "$tmp"' EXIT

if [ -z "$log" ]; then
    log=$NVMET_BUILD/test-logs/psk-vectors.log
    mkdir -p "$(dirname "$log")"
    "$NVMET_TOP/tests/guest/run.sh" --test psk-vectors --timeout 300 \
        --log "$log" || die "the guest test failed; no vectors written"
fi
grep -q '^PSKVEC: type = ' "$log" || die "no vectors in $log"
nvme=$(tr -d '\r' < "$log" | sed -n 's/^nvme version \([^ ]*\).*/\1/p' | head -n1)
libnvme=$(tr -d '\r' < "$log" | sed -n 's/^libnvme version \([^ ]*\).*/\1/p' | head -n1)
kernel=$(tr -d '\r' < "$log" | sed -n 's/^init: started.*kernel \(.*\)$/\1/p' | head -n1)
{
    cat <<HDR
# NVMe/TCP TLS PSK reference vectors from real tools, captured in the test
# guest by tests/guest/psk-vectors.sh (nvme-cli ${nvme:-?}, libnvme
# ${libnvme:-?}, Linux ${kernel:-?}):
#   scripts/capture-psk-vectors.sh
# Do not edit; regenerate.  Records are "key = value" lines separated by
# blank lines; byte strings are hex.
#
# type = check-tls-key: \`nvme check-tls-key --keydata=STRING
#   --hostnqn=HOSTNQN --subsysnqn=SUBNQN --identity=VERSION\` printed
#   IDENTITY; with --insert --keyfile the key put into the .nvme keyring
#   had IDENTITY as its description (keyctl rdescribe) and TLS_PSK as its
#   payload (keyctl pipe); EXPORTED is what nvme-cli wrote to the keyfile
#   for it (the payload read back, as NVMeTLSkey-<VERSION>:HH:...:).
# type = gen-tls-key: \`nvme gen-tls-key --secret=SECRET --hmac=HMAC\`
#   printed STRING; with --identity=VERSION --insert the same fields as
#   above.
#
# SPDX-License-Identifier: GPL-2.0-or-later

HDR
    tr -d '\r' < "$log" | sed -n 's/^PSKVEC: \{0,1\}//p'
} > "$tmp"
mv "$tmp" "$out"
trap - EXIT
log "wrote $out ($(grep -c '^type = ' "$out") records)"
