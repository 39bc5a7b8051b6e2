#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-or-later
#
# Reference TLS PSK vectors from real tools: nvme-cli/libnvme derive the
# retained PSK, PSK digest, identity and TLS PSK of the fixed keys in
# /tests/data/psk-keys.sh, and the kernel's .nvme keyring stores the result
# (key description = identity, payload = TLS PSK).  No target is needed.
#
#   nvme check-tls-key --identity=V   prints the identity
#   ... --insert --keyfile=F          inserts the TLS PSK into .nvme; we
#                                     read it back with keyctl (rdescribe,
#                                     pipe); nvme-cli appends to F
#                                     "<identity> <TLS PSK read back,
#                                     exported as NVMeTLSkey-V:HH:...:>"
#   nvme gen-tls-key --secret=HEX     prints the interchange form of a secret
#
# Every vector is printed as "PSKVEC: key = value" lines, records separated
# by a bare "PSKVEC:" line; scripts/capture-psk-vectors.sh collects them
# into tests/vectors/psk-nvme-cli.txt (checked by tests/unit/test-nvmet-psk).
. /tests/lib.sh
. /tests/data/psk-keys.sh

KEYFILE=/tmp/psk-keyfile.txt
OUT=$LIB_TMP/step.out

vec() { echo "PSKVEC: $1 = $2"; }
vec_end() { echo "PSKVEC:"; }
hex() { od -An -v -tx1 | tr -d ' \n'; }

# the key serial nvme-cli printed ("Inserted TLS key 0a1b2c3d")
inserted_id() {
    _k=$(sed -n 's/^Inserted TLS key \([0-9a-f]*\)$/\1/p' "$OUT" | tail -n1)
    [ -n "$_k" ] && echo $((0x$_k))
}

# identity_like VERSION STRING: "NVMe<V>R0[12] " prefix
identity_like() {
    case $2 in "NVMe$1R01 "* | "NVMe$1R02 "*) return 0 ;; esac
    echo "not an identity of version $1: '$2'"
    return 1
}

# read back key serial $1: sets K_DESC (identity) and K_PSK (hex payload).
# The key grants read to possessors only: the .nvme keyring is linked into
# the user session keyring (@us), which processes without a session keyring
# of their own (all of them here) search.  ("@s" would make keyctl create a
# session keyring for itself.)
read_key() {
    K_DESC=$(keyctl rdescribe "$1") || return 1
    echo "rdescribe: $K_DESC"
    K_DESC=${K_DESC#*;*;*;*;}
    case $K_DESC in psk\;*) echo "bad description"; return 1 ;; esac
    K_PSK=$(keyctl pipe "$1" | hex)
    echo "payload (keyctl pipe): $K_PSK"
    case ${#K_PSK} in 64 | 96) ;; *) echo "unexpected key size"; return 1 ;; esac
}

# the TLS PSK --keyfile appended (last line: "<identity> <exported key>")
keyfile_export() {
    _l=$(tail -n1 "$KEYFILE")
    K_EXPORT=${_l##* }
    [ "${_l% *}" = "$1" ] || { echo "keyfile line '$_l' is not for '$1'"; return 1; }
    case $K_EXPORT in NVMeTLSkey-*) ;; *) echo "no exported key"; return 1 ;; esac
}

# emit the inserted-key fields of the current record, after steps NAME.*
insert_fields() {
    _name=$1 _ident=$2
    _kid=$(inserted_id) || { fail "$_name: key serial" "$(cat "$OUT")"; return 1; }
    if step "$_name: keyctl read back" read_key "$_kid"; then
        if [ "$K_DESC" = "$_ident" ]; then
            pass "$_name: keyring description = identity"
        else
            fail "$_name: keyring description = identity" \
                "'$K_DESC' vs '$_ident'"
        fi
        vec tls_psk "$K_PSK"
    fi
    if step "$_name: keyfile export" keyfile_export "$_ident"; then
        vec exported "$K_EXPORT"
    fi
}

section "tools"
info "nvme version" nvme version
info "keyctl" keyctl --version
require ".nvme keyring exists" keyctl id %:.nvme
step "link .nvme into @us" keyctl link %:.nvme @us
rm -f "$KEYFILE"

# check_key VAR HOSTNQN SUBNQN VERSION
check_key() {
    _var=$1 _h=$2 _s=$3 _v=$4
    _key=$(eval echo "\$$_var")
    _name="check-tls-key $_var v$_v $(echo "$_h" | sed 's/.*://')"
    section "$_name"
    step_v "$_name: identity" nvme check-tls-key --keydata="$_key" \
        --hostnqn="$_h" --subsysnqn="$_s" --identity="$_v" || return
    _ident=$(tail -n1 "$OUT")
    check "$_name: identity format" identity_like "$_v" "$_ident" || return
    vec type check-tls-key
    vec string "$_key"
    vec hostnqn "$_h"
    vec subnqn "$_s"
    vec version "$_v"
    vec identity "$_ident"
    if step_v "$_name: insert" nvme check-tls-key --keydata="$_key" \
            --hostnqn="$_h" --subsysnqn="$_s" --identity="$_v" --insert \
            --keyfile="$KEYFILE"; then
        insert_fields "$_name" "$_ident"
    fi
    vec_end
}

for v in 0 1; do
    for k in $PSK_KEYS; do
        check_key "$k" "$PSK_HOSTNQN" "$PSK_SUBNQN" "$v"
    done
done
check_key PSK_K256 "$PSK_HOSTNQN_B" "$PSK_SUBNQN_B" 1
check_key PSK_K00_48 "$PSK_HOSTNQN_B" "$PSK_SUBNQN_B" 1

# gen_key HMAC VERSION
gen_key() {
    _m=$1 _v=$2
    _sec=$PSK_SECRET256
    [ "$_m" = 2 ] && _sec=$PSK_SECRET384
    _name="gen-tls-key hmac $_m v$_v"
    section "$_name"
    step_v "$_name: key" nvme gen-tls-key --secret="$_sec" --hmac="$_m" ||
        return
    _str=$(head -n1 "$OUT")
    check "$_name: interchange format" \
        test "${_str#NVMeTLSkey-1:0$_m:}" != "$_str" || return
    vec type gen-tls-key
    vec secret "$_sec"
    vec hmac "$_m"
    vec string "$_str"
    if step_v "$_name: insert" nvme gen-tls-key --secret="$_sec" \
            --hmac="$_m" --identity="$_v" --hostnqn="$PSK_HOSTNQN" \
            --subsysnqn="$PSK_SUBNQN" --insert --keyfile="$KEYFILE"; then
        _kid=$(inserted_id)
        _first=$(head -n1 "$OUT")
        check "$_name: same key printed" test "$_first" = "$_str"
        if [ -n "$_kid" ] && _d=$(keyctl rdescribe "$_kid"); then
            _ident=${_d#*;*;*;*;}
            vec hostnqn "$PSK_HOSTNQN"
            vec subnqn "$PSK_SUBNQN"
            vec version "$_v"
            vec identity "$_ident"
            check "$_name: identity format" identity_like "$_v" "$_ident"
            printf 'Inserted TLS key %x\n' "$_kid" > "$OUT"
            insert_fields "$_name" "$_ident"
        else
            fail "$_name: key serial" "$(cat "$OUT")"
        fi
    fi
    vec_end
}

for m in 1 2; do
    for v in 0 1; do
        gen_key "$m" "$v"
    done
done

section "keyring"
info "/proc/keys" cat /proc/keys
info "keyfile" cat "$KEYFILE"
