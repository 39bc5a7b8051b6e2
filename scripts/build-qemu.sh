#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# Build qemu-system-x86_64 and qemu-storage-daemon with the NVMe-oF TCP
# target from Debian trixie's qemu source package (any 10.0.x).
#
#   scripts/build-qemu.sh [--refresh] [ninja targets...]
#
# Steps (each skipped when already done, so a re-run is incremental):
#   1. install host build dependencies with apt (bookworm/-backports only);
#   2. download and unpack the qemu source package (dpkg-source applies
#      Debian's patches) into build/qemu/pristine;
#   3. stage = pristine + scripts/qemu-patches/*.patch + this repository's
#      files (see OVERLAY below), synced into build/qemu/src touching only
#      files whose content changed;
#   4. a private GnuTLS >= 3.8.11 (scripts/build-gnutls.sh: SHA-384 TLS
#      PSKs), found by QEMU's configure through PKG_CONFIG_PATH;
#   5. configure once into build/qemu/build, then ninja.
#
# --refresh downloads the qemu source package again (a newer 10.0.x).
set -euo pipefail
. "$(dirname "$0")/lib.sh"

QDIR=$NVMET_BUILD/qemu
OVERLAY=(include/nvmet nvmet qapi/nvmet.json tests/qtest/nvmet-tcp-test.c
         tests/qtest/nvmf-host.c tests/qtest/nvmf-host.h
         tests/qtest/nvmf-host-auth.c tests/qtest/nvmf-host-tls.c
         docs/system/nvmet-tcp.rst docs/system/nvmet-blktests.rst)
TARGETS=(qemu-system-x86_64 storage-daemon/qemu-storage-daemon qemu-img)
CONFIGURE_ARGS=(--target-list=x86_64-softmmu --enable-slirp --enable-gnutls
    --enable-nettle --disable-docs --disable-install-blobs --disable-user
    --enable-tools --disable-xen --disable-werror)

refresh=0
if [ "${1:-}" = --refresh ]; then refresh=1; shift; fi
[ $# -gt 0 ] && TARGETS=("$@")

apt_install "${QEMU_BUILD_DEPS[@]}"
command -v meson >/dev/null || die "meson not found"
mver=$(meson --version)
[ "$(printf '%s\n1.5.0\n' "$mver" | sort -V | head -n1)" = 1.5.0 ] ||
    die "meson >= 1.5 needed (have $mver); it comes from bookworm-backports"

mkdir -p "$QDIR/dl"

# ---- 2. source package ----------------------------------------------------
dsc=$(ls "$QDIR"/dl/qemu_10.0.*.dsc 2>/dev/null | sort -V | tail -n1 || true)
if [ -z "$dsc" ] || [ $refresh = 1 ]; then
    "$NVMET_TOP/scripts/setup-apt.sh"
    log "downloading Debian trixie's qemu source package"
    (cd "$QDIR/dl" && apt-get source -q --download-only qemu/trixie >&2)
    dsc=$(ls "$QDIR"/dl/qemu_10.0.*.dsc 2>/dev/null | sort -V | tail -n1 || true)
    [ -n "$dsc" ] || die "qemu/trixie is not a 10.0.x source package"
fi
ver=$(basename "$dsc" .dsc); ver=${ver#qemu_}
if [ "$(cat "$QDIR/pristine.version" 2>/dev/null)" != "$ver" ]; then
    log "unpacking qemu $ver"
    rm -rf "$QDIR/pristine" "$QDIR/pristine.tmp"
    dpkg-source -q -x "$dsc" "$QDIR/pristine.tmp" >&2
    mv "$QDIR/pristine.tmp" "$QDIR/pristine"
    echo "$ver" > "$QDIR/pristine.version"
fi

# ---- 3. staged tree: pristine + wiring patches + overlay -----------------
# Skip all of it when neither the patches nor the overlay changed.
present=()
for f in "${OVERLAY[@]}"; do [ -e "$NVMET_TOP/$f" ] && present+=("$f"); done
overlay_hash=$( (echo "$ver"; cd "$NVMET_TOP" &&
                 find scripts/qemu-patches "${present[@]}" -type f |
                 LC_ALL=C sort | xargs sha256sum) | sha256sum | cut -d' ' -f1)
if [ "$(cat "$QDIR/src.stamp" 2>/dev/null)" != "$overlay_hash" ]; then
log "staging qemu $ver + nvmet-tcp overlay"
rm -rf "$QDIR/stage"
cp -al "$QDIR/pristine" "$QDIR/stage"
for p in "$NVMET_TOP"/scripts/qemu-patches/*.patch; do
    patch -s -p1 -d "$QDIR/stage" --no-backup-if-mismatch < "$p" ||
        die "wiring patch $(basename "$p") does not apply to qemu $ver"
done
for f in "${OVERLAY[@]}"; do
    [ -e "$NVMET_TOP/$f" ] || continue
    rm -rf "${QDIR:?}/stage/$f"
    mkdir -p "$(dirname "$QDIR/stage/$f")"
    cp -a "$NVMET_TOP/$f" "$QDIR/stage/$f"
done
mkdir -p "$QDIR/src"
rsync -a --checksum --delete "$QDIR/stage/" "$QDIR/src/"
rm -rf "$QDIR/stage"
echo "$overlay_hash" > "$QDIR/src.stamp"
fi

# ---- 4. GnuTLS ----------------------------------------------------------------
# The .pc file carries an rpath, so the binaries load the private library
# without LD_LIBRARY_PATH.  Exported for ninja too: a meson re-run must see
# the same GnuTLS as the first configure.
pcpath=$("$NVMET_TOP/scripts/build-gnutls.sh" | sed -n 's/^PKG_CONFIG_PATH=//p')
[ -n "$pcpath" ] || die "scripts/build-gnutls.sh did not give a PKG_CONFIG_PATH"
export PKG_CONFIG_PATH=$pcpath
gnutls_ver=$(pkg-config --modversion gnutls)

# ---- 5. configure and build -------------------------------------------------
want="qemu $ver, gnutls $gnutls_ver: ${CONFIGURE_ARGS[*]}"
if [ ! -f "$QDIR/build/build.ninja" ] ||
   [ "$(cat "$QDIR/build/.nvmet-configure" 2>/dev/null)" != "$want" ]; then
    log "configuring"
    rm -rf "$QDIR/build"
    mkdir -p "$QDIR/build"
    (cd "$QDIR/build" &&
     ../src/configure --python=/usr/bin/python3 --cc='ccache cc' \
        "${CONFIGURE_ARGS[@]}" > configure.log 2>&1) || {
        tail -n 30 "$QDIR/build/configure.log" >&2
        die "configure failed (see $QDIR/build/configure.log)"
    }
    echo "$want" > "$QDIR/build/.nvmet-configure"
fi
log "building ${TARGETS[*]}"
ninja -C "$QDIR/build" "${TARGETS[@]}" >&2
log "done: $QDIR/build/qemu-system-x86_64"
