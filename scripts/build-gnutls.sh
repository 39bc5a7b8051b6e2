#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# Build a private, newer GnuTLS for the NVMe/TCP TLS work, once per machine
# and user, and make $NVMET_BUILD/gnutls point at it:
#
#   $NVMET_BUILD/gnutls -> <cache>/gnutls/<entry>   (prefix/{include,lib})
#
# Why: bookworm's GnuTLS 3.7.9 (and even trixie's 3.8.9) hard-codes SHA-256 as
# the hash of every external TLS 1.3 PSK, so a server cannot accept the SHA-384
# PSKs that NVMe/TCP uses with TLS_AES_256_GCM_SHA384.  GnuTLS 3.8.11 added
# gnutls_psk_allocate_{server,client}_credentials2(&cred, GNUTLS_MAC_SHA384)
# (and GNUTLS_MAC_UNKNOWN on the server: try SHA-384, then SHA-256).
#
# Sources are Debian source packages (never binaries from trixie/sid):
#   gnutls28 - the first of trixie-backports, trixie, sid that is >= 3.8.11
#              (today that is sid's 3.8.13-1; trixie has 3.8.9),
#   nettle   - trixie's 3.10.x (GnuTLS 3.8.10+ needs nettle >= 3.10 and
#              bookworm has 3.8.1).
# Build dependencies are bookworm packages, listed explicitly (apt-get build-dep
# would resolve against trixie/sid and pull newer dpkg-dev/debhelper).
#
# Layout chosen for linking into QEMU:
#   - libgnutls.so.30 is SHARED, installed in the prefix, and its gnutls.pc
#     carries "-Wl,-rpath,<prefix>/lib" in Libs, so anything configured with
#     PKG_CONFIG_PATH=<prefix>/lib/pkgconfig (QEMU's meson included) links it
#     and loads it at run time without LD_LIBRARY_PATH.
#   - nettle/hogweed 3.10 are STATIC (PIC) archives, built in a scratch
#     prefix, that end up inside libgnutls.so, hidden by GnuTLS's version
#     script; gnutls.pc no longer names them, so consumers keep using
#     bookworm's nettle headers and libraries.  So the process never loads a
#     second libnettle.so.8 (same soname as bookworm's 3.8.1), and a program
#     that also links bookworm's libnettle (QEMU with nettle crypto) cannot
#     interpose on the copy inside GnuTLS.
#   - The other dependencies (gmp, libtasn1, libidn2, libunistring) are
#     bookworm's shared libraries.
#   - Only what QEMU and the engine use is built: the library (GnuTLS's gl/
#     and lib/ directories; no tools, tests, docs, C++, DANE, OpenSSL
#     compatibility, PKCS#11/p11-kit, TPM, GOST or certificate compression).
#
# The cache: ${NVMET_CACHE_DIR:-${XDG_CACHE_HOME:-~/.cache}/qemu-nvmet}/gnutls/
# holds one directory per build, named after the gnutls28 and nettle source
# versions and a hash of everything else that goes into it (RECIPE and the
# configure flags below, the compiler, the C library, the architecture), so
# a clone whose recipe or compiler differs never takes an entry that was not
# built for it.  An entry is built in a scratch directory and renamed into
# place when it is complete, under a lock, so concurrent runs (two clones)
# wait for each other instead of corrupting it.  It is never changed
# afterwards: QEMU binaries load the library from there through the rpath.
# Entries are never deleted automatically; remove an old one with rm -rf
# when no build uses it any more (a clone's build/gnutls link tells which).
# NVMET_CACHE_DIR=none keeps the cache inside the clone ($NVMET_BUILD/cache).
# The downloaded source packages are kept in <cache>/dl (apt checks their
# hashes before reusing them).
#
# Idempotent: when $NVMET_BUILD/gnutls already points at a complete entry of
# this RECIPE, flags, compiler and C library the script does nothing (no apt,
# no network).
# NVMET_GNUTLS_REBUILD=1 looks for newer source packages again (and builds
# them if the cache lacks them).  At the end the script compiles and runs
# tests/tls/psk-sha384-check.c against the result (scripts/check-gnutls.sh),
# unless NVMET_GNUTLS_NOCHECK=1.
#
# Usage: scripts/build-gnutls.sh
#   Progress goes to stderr; the only line on stdout is PKG_CONFIG_PATH=<dir>.
set -euo pipefail

. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

# Bump when the build below changes in a way the flags do not show.
RECIPE=3
# The first upstream version with a configurable PSK binder hash.
GNUTLS_MIN_UPSTREAM=3.8.11
NETTLE_MIN_UPSTREAM=3.10
GNUTLS_SUITES=(${NVMET_GNUTLS_SUITES:-trixie-backports trixie sid})
NETTLE_SUITES=(${NVMET_NETTLE_SUITES:-trixie sid})
JOBS=$(build_jobs)
# For the estimate: CPU seconds per compiled file and the number of
# configure checks, measured on a cold build (README).
GNUTLS_CPU_PER_STEP=0.3
NETTLE_CONFIGURE_CHECKS=90
GNUTLS_CONFIGURE_CHECKS=900

# Both configures share one cache file (-C), so their precious variables
# (CC, CFLAGS) must be the same.  No ccache: the per-user cache below is
# what makes a second build unnecessary, and ccache would only slow down
# the ~900 configure checks.
CC_CMD=cc
# -g1: line tables for backtraces; full -g makes bigger objects and a slower build.
CFLAGS_ALL="-O2 -g1 -fPIC"
NETTLE_CONF=(--disable-shared --enable-static --enable-fat
    --disable-documentation --disable-openssl)
GNUTLS_CONF=(--sysconfdir=/etc
    --enable-shared --disable-static --disable-maintainer-mode
    --disable-dependency-tracking --disable-gcc-warnings
    --disable-doc --disable-manpages --disable-gtk-doc --disable-tools
    --disable-tests --disable-full-test-suite --disable-cxx --disable-libdane
    --disable-openssl-compatibility --disable-nls --disable-valgrind-tests
    --disable-gost --without-p11-kit
    --without-tpm --without-tpm2 --without-zlib --without-brotli --without-zstd
    --with-default-trust-store-file=/etc/ssl/certs/ca-certificates.crt
    --enable-ld-version-script --disable-rpath)

link=$NVMET_BUILD/gnutls
pcdir=$link/prefix/lib/pkgconfig

done_msg() {
    log "GnuTLS $(PKG_CONFIG_PATH=$pcdir pkg-config --modversion gnutls) in $(readlink -f "$link")"
    printf 'PKG_CONFIG_PATH=%s\n' "$(readlink -f "$pcdir")"
}

check() {
    [ "${NVMET_GNUTLS_NOCHECK:-0}" = 1 ] && return 0
    "$NVMET_TOP/scripts/check-gnutls.sh" >&2
}

# build_key: a hash of everything but the source versions that goes into a
# build: RECIPE, the flags, the compiler, the C library (the source versions
# are in the entry's name).  Empty while the compiler is not installed.
build_key() {
    local ccver ccmach libc
    ccver=$($CC_CMD -dumpfullversion 2>/dev/null) || return 0
    ccmach=$($CC_CMD -dumpmachine)
    libc=$(dpkg-query -W -f='${Version}' libc6-dev 2>/dev/null) || return 0
    {
        echo "recipe=$RECIPE"
        echo "cc=$CC_CMD $ccver $ccmach"
        echo "libc=$libc"
        echo "cflags=$CFLAGS_ALL"
        printf 'nettle %s\n' "${NETTLE_CONF[@]}"
        printf 'gnutls %s\n' "${GNUTLS_CONF[@]}"
    } | sha256sum | cut -c1-12
}

# complete DIR KEY: DIR holds a finished build of this RECIPE with KEY
complete() {
    [ -n "$2" ] && [ -f "$1/.stamp" ] && grep -qx "recipe=$RECIPE" "$1/.stamp" &&
        grep -qx "key=$2" "$1/.stamp" &&
        [ -e "$1/prefix/lib/libgnutls.so" ] &&
        [ -e "$1/prefix/lib/pkgconfig/gnutls.pc" ]
}

# The clone's link is reused only when it was built with today's flags,
# compiler and C library (a newer gnutls28/nettle in the archive does not
# count: NVMET_GNUTLS_REBUILD=1 looks for one).
if [ "${NVMET_GNUTLS_REBUILD:-0}" != 1 ] && complete "$link" "$(build_key)"; then
    log "GnuTLS already built ($(tr '\n' ' ' < "$link/.stamp"))"
    check
    done_msg
    exit 0
fi

# --- build dependencies (bookworm) -------------------------------------------
apt_install "${GNUTLS_BUILD_DEPS[@]}"
"$NVMET_TOP/scripts/setup-apt.sh"   # deb-src for trixie/sid

# One apt-cache call for both packages (each call takes seconds: it reads
# the trixie and sid Sources lists).
madison=$(apt-cache madison gnutls28 nettle 2>/dev/null || true)

# pick_version PKG MIN SUITE...: print "VERSION SUITE" for the first suite whose
# source package PKG has an upstream version >= MIN.
pick_version() {
    local pkg=$1 min=$2 suite ver
    shift 2
    for suite in "$@"; do
        ver=$(awk -v p="$pkg" -v s="$suite/main Sources" -F' *[|] *' \
                '$1 ~ ("^ *" p "$") && index($3, " " s) { print $2; exit }' <<< "$madison")
        [ -n "$ver" ] || continue
        if dpkg --compare-versions "${ver%-*}" ge "$min"; then
            echo "$ver $suite"
            return 0
        fi
    done
    return 1
}

read -r gnutls_ver gnutls_suite < <(pick_version gnutls28 "$GNUTLS_MIN_UPSTREAM" \
    "${GNUTLS_SUITES[@]}") ||
    die "no gnutls28 source >= $GNUTLS_MIN_UPSTREAM in ${GNUTLS_SUITES[*]}"
read -r nettle_ver nettle_suite < <(pick_version nettle "$NETTLE_MIN_UPSTREAM" \
    "${NETTLE_SUITES[@]}") ||
    die "no nettle source >= $NETTLE_MIN_UPSTREAM in ${NETTLE_SUITES[*]}"

# --- the cache entry -------------------------------------------------------------
cache=${NVMET_CACHE_DIR:-${XDG_CACHE_HOME:-${HOME:?}/.cache}/qemu-nvmet}
[ "$cache" != none ] || cache=$NVMET_BUILD/cache
mkdir -p "$cache/gnutls" "$cache/dl"
cache=$(cd "$cache" && pwd -P)
key=$(build_key)
[ -n "$key" ] || die "no C compiler ($CC_CMD) or libc6-dev"
name=gnutls-${gnutls_ver#*:}-nettle-${nettle_ver#*:}-$key
entry=$cache/gnutls/$name

link_entry() {
    if [ -d "$link" ] && [ ! -L "$link" ]; then
        rm -rf "$link"            # a build of an older recipe, in the clone
    fi
    mkdir -p "$NVMET_BUILD"
    ln -sfn "$entry" "$link"
}

# One lock for the whole cache: the downloads in <cache>/dl are shared too.
exec 8> "$cache/gnutls/.lock"
if ! flock -n 8; then
    log "GnuTLS: another run is building into $cache/gnutls; waiting for it"
    flock 8
fi
if complete "$entry" "$key"; then
    log "GnuTLS: using the cached build $entry"
    link_entry
    check
    done_msg
    exit 0
fi

log "using gnutls28 $gnutls_ver ($gnutls_suite), nettle $nettle_ver ($nettle_suite)"
cores=$(build_jobs)
log "GnuTLS: building it into the per-user cache $entry (once per machine;" \
    "about $(fmt_secs $((70 + 200 / cores))) on $cores idle core(s)$(load_note))"
start=$(date +%s)
scratch=$cache/gnutls/.build-$name-$$
rm -rf "$scratch"
mkdir -p "$scratch"
trap 'rm -rf "$scratch"' EXIT
nprefix=$scratch/nettle-prefix
dl=$cache/dl
config_cache=$scratch/config.cache

# fetch_source PKG VERSION DIR: download the source package into $dl (apt
# keeps files whose hashes match) and unpack it (Debian patches applied)
# into DIR.
fetch_source() {
    local pkg=$1 ver=$2 dir=$3 dsc f missing=()
    dsc=$dl/${pkg}_${ver#*:}.dsc
    # _apt must be able to write there, or apt warns about an unsandboxed download.
    chown _apt "$dl" 2>/dev/null || true
    # An upstream signature (.asc) listed in the .dsc is sometimes missing from
    # the mirror; that alone must not stop us (the .dsc's checksums still
    # cover the tarballs, which dpkg-source verifies).
    (cd "$dl" && apt-get source -q --download-only "$pkg=$ver" >&2) ||
        log "apt-get source $pkg=$ver reported errors; checking what arrived"
    [ -f "$dsc" ] || die "download of $dsc failed"
    for f in $(awk '/^Files:/{f=1; next} /^[^ ]/{f=0} f && NF==3 {print $3}' "$dsc"); do
        [ -f "$dl/$f" ] || missing+=("$f")
    done
    if [ ${#missing[@]} -gt 0 ]; then
        for f in "${missing[@]}"; do
            case $f in *.asc) ;; *) die "missing source file $f" ;; esac
        done
        log "mirror lacks ${missing[*]}; unpacking without the upstream signature"
        local tmp=$dl/.${pkg}_${ver#*:}.noasc.dsc
        # drop the checksum lines that name a missing file
        awk -v m=" ${missing[*]} " 'index(m, " " $NF " ") == 0' "$dsc" > "$tmp"
        dsc=$tmp
    fi
    rm -rf "$dir"
    dpkg-source -q -x "$dsc" "$dir" >&2
}

# configure_progress NAME DIR CHECKS ARGS...: run DIR/configure with the
# shared config cache, counting its (about CHECKS) checks
configure_progress() {
    local name=$1 dir=$2 checks=$3 rc
    shift 3
    set +e
    (cd "$dir" && ./configure --cache-file="$config_cache" "$@" \
        CC="$CC_CMD" CFLAGS="$CFLAGS_ALL" 2>&1) |
        progress "$name" "$scratch/$name.log" "$checks" '^checking '
    rc=${PIPESTATUS[0]}
    set -e
    [ "$rc" = 0 ] || { tail -n 30 "$scratch/$name.log" >&2; die "$name failed"; }
}

# make_progress NAME TOTAL CMD...: run CMD (make), counting compiled files
make_progress() {
    local name=$1 total=$2 rc
    shift 2
    set +e
    "$@" 2>&1 | progress "$name" "$scratch/$name.log" "$total" \
        '^ *(CC|CCAS|CPPAS|CCLD|AR) |^(ccache )?cc .* -c '
    rc=${PIPESTATUS[0]}
    set -e
    [ "$rc" = 0 ] || { tail -n 40 "$scratch/$name.log" >&2; die "$name failed"; }
}

# --- nettle (static, PIC) -----------------------------------------------------
nsrc=$scratch/nettle-$nettle_ver
fetch_source nettle "$nettle_ver" "$nsrc"
# Debian's fPIC.patch edits aclocal.m4 and configure alike; make the other
# generated files as new so that make does not want autoconf/autoheader.
touch -r "$nsrc/aclocal.m4" "$nsrc/configure" "$nsrc/stamp-h.in" "$nsrc/config.h.in"
configure_progress nettle-configure "$nsrc" "$NETTLE_CONFIGURE_CHECKS" --prefix="$nprefix" \
    --libdir="$nprefix/lib" "${NETTLE_CONF[@]}"
# Only the libraries, headers and .pc files (no tools, examples or testsuite).
# CFLAGS again: nettle's configure appends -ggdb3 (slow, big) for gcc.
nsteps=$(make -C "$nsrc" -n libnettle.a libhogweed.a 2>/dev/null | grep -c -- ' -c ' || true)
make_progress nettle-build "$nsteps" make -C "$nsrc" -j"$JOBS" CFLAGS="$CFLAGS_ALL" \
    libnettle.a libhogweed.a nettle.pc hogweed.pc version.h
make -C "$nsrc" install-headers install-static install-pkgconfig > /dev/null
PKG_CONFIG_PATH=$nprefix/lib/pkgconfig pkg-config --atleast-version="$NETTLE_MIN_UPSTREAM" hogweed ||
    die "nettle install in $nprefix is not usable"

# --- gnutls (shared, nettle linked in statically) ----------------------------
gsrc=$scratch/gnutls28-$gnutls_ver
fetch_source gnutls28 "$gnutls_ver" "$gsrc"
# Debian's patches touch configure.ac/Makefile.am; only the message-catalogue
# name (NLS, disabled here) and the tests/tools are affected, so the shipped
# configure is used as is and --disable-maintainer-mode keeps make from
# running autoconf/automake.
nettle_cflags=$(PKG_CONFIG_PATH=$nprefix/lib/pkgconfig pkg-config --cflags nettle)
configure_progress gnutls-configure "$gsrc" "$GNUTLS_CONFIGURE_CHECKS" --prefix="$entry/prefix" \
    --libdir="$entry/prefix/lib" "${GNUTLS_CONF[@]}" \
    NETTLE_CFLAGS="$nettle_cflags" \
    NETTLE_LIBS="$(PKG_CONFIG_PATH=$nprefix/lib/pkgconfig pkg-config --static --libs nettle)" \
    HOGWEED_CFLAGS="$nettle_cflags" \
    HOGWEED_LIBS="$(PKG_CONFIG_PATH=$nprefix/lib/pkgconfig pkg-config --static --libs hogweed)"
# The library is gl/ (gnulib) and lib/; the top-level make would also build
# src/gl, a second gnulib for the tools, even with --disable-tools.
gsteps=$( (make -nk -C "$gsrc/gl"; make -nk -C "$gsrc/lib") 2>/dev/null |
          grep -c -- '--mode=compile' || true)
estimate GnuTLS "$gsteps" "$GNUTLS_CPU_PER_STEP" "files to compile"
make_progress gnutls-build "$gsteps" \
    sh -c 'make -C "$1/gl" -j"$2" && make -C "$1/lib" -j"$2"' - "$gsrc" "$JOBS"
log "gnutls: install"
make -C "$gsrc/lib" -j"$JOBS" install DESTDIR="$scratch/dest" > "$scratch/install.log" 2>&1 ||
    { tail -n 30 "$scratch/install.log" >&2; die "make install failed"; }
dprefix=$scratch/dest$entry/prefix
rm -f "$dprefix"/lib/*.la
[ -e "$dprefix/lib/libgnutls.so" ] || die "make install left no libgnutls.so"

# Consumers find the library through the pkg-config file; make it carry the
# rpath so that they also load it at run time.
dpc=$dprefix/lib/pkgconfig
sed -i 's|^Libs: -L${libdir} -lgnutls$|Libs: -L${libdir} -Wl,-rpath,${libdir} -lgnutls|' \
    "$dpc/gnutls.pc"
grep -q -- '-Wl,-rpath' "$dpc/gnutls.pc" || die "could not add the rpath to gnutls.pc"
# nettle/hogweed are inside libgnutls.so; consumers must neither need nor see
# nettle 3.10 (QEMU and the engine use bookworm's nettle on their own).
sed -i -E '/^Requires.private:/ { s/(^Requires.private:|,) *(nettle|hogweed) *(,|$)/\1/g; s/(^Requires.private:|,) *(nettle|hogweed) *(,|$)/\1/g; s/, *$//; s/: *,/:/ }' \
    "$dpc/gnutls.pc"
! grep -E '^Requires.private:.*(nettle|hogweed)' "$dpc/gnutls.pc" ||
    die "could not drop nettle from gnutls.pc"
[ ! -e "$dpc/nettle.pc" ] || die "nettle.pc must not be in $dpc"
# nettle must be inside libgnutls.so, not a run-time dependency.
if readelf -d "$dprefix/lib/libgnutls.so" | grep -E 'NEEDED.*lib(nettle|hogweed)'; then
    die "libgnutls.so depends on a shared nettle"
fi

# Put the entry in place: the rename is atomic, a half-built entry never
# appears under its final name.
rm -rf "$entry.tmp"
mkdir -p "$entry.tmp"
mv "$dprefix" "$entry.tmp/prefix"
{
    echo "gnutls28=$gnutls_ver ($gnutls_suite)"
    echo "nettle=$nettle_ver ($nettle_suite)"
    echo "recipe=$RECIPE"
    echo "key=$key"
} > "$entry.tmp/.stamp"
rm -rf "$entry"
mv "$entry.tmp" "$entry"
rm -rf "$scratch"
trap - EXIT
log "GnuTLS built in $(( $(date +%s) - start )) s"
link_entry
check
done_msg
