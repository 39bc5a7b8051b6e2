#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# Compile tests/tls/psk-sha384-check.c against the private GnuTLS built by
# scripts/build-gnutls.sh and run it: TLS 1.3 external-PSK handshakes with a
# SHA-384 PSK (TLS_AES_256_GCM_SHA384) and a SHA-256 PSK
# (TLS_AES_128_GCM_SHA256).  Links exactly as a consumer would: only through
# PKG_CONFIG_PATH=$NVMET_BUILD/gnutls/prefix/lib/pkgconfig (the .pc file
# carries the rpath), so a pass also proves the run-time lookup.
# ($NVMET_BUILD/gnutls is a symlink into the per-user cache, which other
# clones share: the check program is built in $NVMET_BUILD/gnutls-check.)
set -euo pipefail

. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

pcdir=$NVMET_BUILD/gnutls/prefix/lib/pkgconfig
src=$NVMET_TOP/tests/tls/psk-sha384-check.c
# (not inside build/gnutls, which may be a symlink to a GnuTLS build that
# other checkouts share and check at the same time)
out=$NVMET_BUILD/gnutls-check/psk-sha384-check

[ -e "$pcdir/gnutls.pc" ] || die "no GnuTLS in $pcdir: run scripts/build-gnutls.sh"
export PKG_CONFIG_PATH=$pcdir
libdir=$(cd "$pcdir/.." && pwd -P)
mkdir -p "$(dirname "$out")"
cflags=$(pkg-config --cflags gnutls)
libs=$(pkg-config --libs gnutls)
log "check: cc psk-sha384-check.c $cflags $libs"
${CC:-cc} -std=gnu11 -O2 -g -Wall -Wextra -Werror -pthread $cflags \
    -o "$out" "$src" $libs
# The binary must resolve libgnutls to the private copy without any help.
lib=$(env -u LD_LIBRARY_PATH ldd "$out" | awk '$1 ~ /^libgnutls[.]so/ {print $3}')
# (build/gnutls is a symlink to a shared build: compare resolved paths)
case $(readlink -f "$lib") in
    "$libdir"/*) ;;
    *) die "psk-sha384-check loads libgnutls from '$lib', not the private prefix" ;;
esac
env -u LD_LIBRARY_PATH "$out"
