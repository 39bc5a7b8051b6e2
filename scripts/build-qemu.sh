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
#      files whose content changed (they get a new mtime, so ninja rebuilds
#      what depends on them even when the edit is older than its last build);
#   4. a private GnuTLS >= 3.8.11 (scripts/build-gnutls.sh: SHA-384 TLS
#      PSKs), found by QEMU's configure through PKG_CONFIG_PATH; built (or
#      taken from the per-user cache) while steps 2 and 3 run;
#   5. configure once into build/qemu/build, then ninja the targets asked
#      for (default: qemu-system-x86_64, qemu-storage-daemon, qemu-img).
#
# The QEMU is slim: x86_64-softmmu with only the features the target, the
# tests and the demo use (--without-default-features plus TCG, slirp user
# networking, GnuTLS, the tools; block drivers file, raw, qcow2, null-co and
# QEMU's other built-in ones) and only the devices in
# configs/devices/x86_64-softmmu/nvmet-tcp.mak (the pc and q35 machines,
# virtio-net/-blk/-rng/-serial, e1000, VGA, serial console, -kernel/-initrd
# boot).  NVMET_QEMU_FULL=1 configures QEMU's default features and devices
# instead (1756 instead of 1366 build steps for qemu-system-x86_64 and
# qemu-img); NVMET_QEMU_CONFIGURE adds configure
# arguments (e.g. --enable-debug-info).  Changing either reconfigures
# build/qemu/build from scratch.
#
# --refresh downloads the qemu source package again (a newer 10.0.x).
set -euo pipefail
. "$(dirname "$0")/lib.sh"

QDIR=$NVMET_BUILD/qemu
OVERLAY=(include/nvmet nvmet qapi/nvmet.json tests/qtest/nvmet-tcp-test.c
         tests/qtest/nvmf-host.c tests/qtest/nvmf-host.h
         tests/qtest/nvmf-host-auth.c tests/qtest/nvmf-host-tls.c
         docs/system/nvmet-tcp.rst docs/system/nvmet-blktests.rst
         configs/devices/x86_64-softmmu/nvmet-tcp.mak)
TARGETS=(qemu-system-x86_64 storage-daemon/qemu-storage-daemon qemu-img)
CONFIGURE_ARGS=(--target-list=x86_64-softmmu --enable-slirp --enable-gnutls
    --enable-nettle --disable-docs --disable-install-blobs --disable-user
    --enable-tools --disable-xen --disable-werror)
if [ "${NVMET_QEMU_FULL:-0}" = 1 ]; then
    QEMU_FLAVOUR="full (QEMU's default features and devices)"
else
    QEMU_FLAVOUR="slim (configs/devices/x86_64-softmmu/nvmet-tcp.mak)"
    CONFIGURE_ARGS+=(--without-default-features --without-default-devices
        --with-devices-x86_64=nvmet-tcp)
fi
# -g1 (line tables: backtraces with file:line) instead of -g: full debug
# information makes much bigger objects, slower compiles and slower links.
CONFIGURE_ARGS+=(--disable-debug-info --extra-cflags=-g1)
# Anything else, e.g. NVMET_QEMU_CONFIGURE="--enable-debug-info" (gdb with
# locals and types) or "--enable-debug" (-O0, TCG and QOM debugging).
# shellcheck disable=SC2206
CONFIGURE_ARGS+=(${NVMET_QEMU_CONFIGURE:-})
# CPU seconds per ninja step, measured on a cold build (empty ccache,
# 2 cores, see README): for the estimate printed before building.
QEMU_CPU_PER_STEP=0.26

refresh=0
if [ "${1:-}" = --refresh ]; then refresh=1; shift; fi
[ $# -gt 0 ] && TARGETS=("$@")

apt_install "${QEMU_BUILD_DEPS[@]}"
command -v meson >/dev/null || die "meson not found"
mver=$(meson --version)
[ "$(printf '%s\n1.5.0\n' "$mver" | sort -V | head -n1)" = 1.5.0 ] ||
    die "meson >= 1.5 needed (have $mver); it comes from bookworm-backports"

mkdir -p "$QDIR/dl"
# before GnuTLS starts: two concurrent "apt-get update"s would collide
[ "$(id -u)" != 0 ] || "$NVMET_TOP/scripts/setup-apt.sh"

# ---- 4. GnuTLS, in the background ------------------------------------------
# Its configure runs on one core and the source steps below are mostly I/O,
# so they overlap.  Its only stdout line is PKG_CONFIG_PATH=<dir>.
gnutls_out=$(mktemp "$NVMET_BUILD/.gnutls-out.XXXXXX")
# (set -m: its own process group, so that a failure here stops all of it;
# not its own session, which the kernel would schedule as a separate group)
set -m
"$NVMET_TOP/scripts/build-gnutls.sh" < /dev/null > "$gnutls_out" &
gnutls_pid=$!
set +m
trap 'kill -- -$gnutls_pid 2>/dev/null || true; rm -f "$gnutls_out"' EXIT

# ---- 2. source package ----------------------------------------------------
dsc=$(ls "$QDIR"/dl/qemu_10.0.*.dsc 2>/dev/null | sort -V | tail -n1 || true)
if [ -z "$dsc" ] || [ $refresh = 1 ]; then
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
# By content (--checksum), and without -t: a file whose content changed gets
# the current time as its mtime, not the worktree's.  Otherwise a file
# edited while ninja compiled its previous version keeps an mtime older than
# that object file, and ninja would never rebuild it (a stale binary).
rsync -rlpD --checksum --delete "$QDIR/stage/" "$QDIR/src/"
rm -rf "$QDIR/stage"
echo "$overlay_hash" > "$QDIR/src.stamp"
fi

# ---- 4. GnuTLS: wait for it -----------------------------------------------------
# The .pc file carries an rpath, so the binaries load the private library
# without LD_LIBRARY_PATH.  Exported for ninja too: a meson re-run must see
# the same GnuTLS as the first configure.
if ! wait $gnutls_pid; then
    die "scripts/build-gnutls.sh failed"
fi
pcpath=$(sed -n 's/^PKG_CONFIG_PATH=//p' "$gnutls_out")
rm -f "$gnutls_out"
trap - EXIT
[ -n "$pcpath" ] || die "scripts/build-gnutls.sh did not give a PKG_CONFIG_PATH"
export PKG_CONFIG_PATH=$pcpath
gnutls_ver=$(pkg-config --modversion gnutls)
gnutls_libdir=$(pkg-config --variable=libdir gnutls)

# ---- 5. configure and build -------------------------------------------------
# ccache in depend mode: QEMU compiles with -MD, so on a miss ccache takes
# the inputs from the .d file instead of running the preprocessor a second
# time (which the default mode does for every miss), so an empty cache costs
# little more than no ccache at all, and hits are as fast.
export CCACHE_DEPEND=${CCACHE_DEPEND:-1}
# Where the user has not configured it otherwise: make paths below build/qemu
# relative (base_dir) and leave the compile directory out of the hash
# (hash_dir), so that another clone on the machine hits what this one put
# into the cache.  (The compile directory in the -g1 line tables of a hit is
# then the first clone's.)
ccache_default() { ccache -p 2>/dev/null | grep "^(default) $1 = " > /dev/null; }
if ccache_default base_dir; then export CCACHE_BASEDIR=$QDIR; fi
if ccache_default hash_dir; then export CCACHE_NOHASHDIR=1; fi
want="qemu $ver, gnutls $gnutls_ver in $gnutls_libdir: ${CONFIGURE_ARGS[*]}"
if [ ! -f "$QDIR/build/build.ninja" ] ||
   [ "$(cat "$QDIR/build/.nvmet-configure" 2>/dev/null)" != "$want" ]; then
    log "configuring QEMU, $QEMU_FLAVOUR (about 20 s)"
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
steps=$(ninja -C "$QDIR/build" -n "${TARGETS[@]}" 2>/dev/null |
        sed -n 's/^\[[0-9]*\/\([0-9]*\)\].*/\1/p' | tail -n1)
if [ -n "$steps" ]; then
    # (a few steps always run: qemu-version.h and what depends on it)
    [ "$steps" -lt 20 ] ||
        estimate QEMU "$steps" "$QEMU_CPU_PER_STEP" \
            "build steps for ${TARGETS[*]}" "less with ccache hits"
    if ! ninja -C "$QDIR/build" "${TARGETS[@]}" 2>&1 |
            progress QEMU "$QDIR/build/ninja.log"; then
        grep -A 30 '^FAILED:' "$QDIR/build/ninja.log" | head -n 60 >&2 ||
            tail -n 40 "$QDIR/build/ninja.log" >&2
        die "QEMU build failed (full log: $QDIR/build/ninja.log)"
    fi
fi
log "done: $QDIR/build/qemu-system-x86_64 ($QEMU_FLAVOUR)"
