#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# Build a private, newer GnuTLS for the NVMe/TCP TLS work:
#
#   $NVMET_BUILD/gnutls/prefix/{include,lib,lib/pkgconfig}
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
#   - nettle/hogweed 3.10 are STATIC (PIC) archives, built into a prefix of
#     their own ($NVMET_BUILD/gnutls/nettle), that end up inside libgnutls.so,
#     hidden by GnuTLS's version script; gnutls.pc no longer names them, so
#     consumers keep using bookworm's nettle headers and libraries.  So the process never
#     loads a second libnettle.so.8 (same soname as bookworm's 3.8.1), and a
#     program that also links bookworm's libnettle (QEMU with nettle crypto)
#     cannot interpose on the copy inside GnuTLS.
#   - The other dependencies (gmp, libtasn1, p11-kit, libidn2, libunistring)
#     are bookworm's shared libraries.
#
# Idempotent: a stamp file records the versions and the recipe; when it matches
# the script does nothing (no apt, no network).  NVMET_GNUTLS_REBUILD=1 forces a
# rebuild (picking up a newer source package).  At the end the script compiles
# and runs tests/tls/psk-sha384-check.c against the result (scripts/check-gnutls.sh),
# unless NVMET_GNUTLS_NOCHECK=1.
#
# Usage: scripts/build-gnutls.sh
#   Progress goes to stderr; the only line on stdout is PKG_CONFIG_PATH=<dir>.
set -euo pipefail

. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

# Bump when the configure flags or the layout below change.
RECIPE=2
# The first upstream version with a configurable PSK binder hash.
GNUTLS_MIN_UPSTREAM=3.8.11
NETTLE_MIN_UPSTREAM=3.10
GNUTLS_SUITES=(${NVMET_GNUTLS_SUITES:-trixie-backports trixie sid})
NETTLE_SUITES=(${NVMET_NETTLE_SUITES:-trixie sid})
JOBS=${NVMET_GNUTLS_JOBS:-2}

top=$NVMET_BUILD/gnutls
prefix=$top/prefix
nprefix=$top/nettle
dl=$top/dl
srcdir=$top/src
stamp=$top/.stamp
pcdir=$prefix/lib/pkgconfig

done_msg() {
    log "GnuTLS $(PKG_CONFIG_PATH=$pcdir pkg-config --modversion gnutls) in $prefix"
    printf 'PKG_CONFIG_PATH=%s\n' "$pcdir"
}

check() {
    [ "${NVMET_GNUTLS_NOCHECK:-0}" = 1 ] && return 0
    "$NVMET_TOP/scripts/check-gnutls.sh" >&2
}

if [ "${NVMET_GNUTLS_REBUILD:-0}" != 1 ] && [ -f "$stamp" ] &&
        grep -qx "recipe=$RECIPE" "$stamp" &&
        [ -e "$prefix/lib/libgnutls.so" ] && [ -e "$pcdir/gnutls.pc" ]; then
    log "GnuTLS already built ($(tr '\n' ' ' < "$stamp"))"
    check
    done_msg
    exit 0
fi

# --- build dependencies (bookworm) -------------------------------------------
apt_install build-essential pkg-config m4 dpkg-dev xz-utils python3 \
    libgmp-dev libtasn1-6-dev libp11-kit-dev libidn2-dev libunistring-dev
"$NVMET_TOP/scripts/setup-apt.sh"   # deb-src for trixie/sid

# pick_version PKG MIN SUITE...: print "VERSION SUITE" for the first suite whose
# source package PKG has an upstream version >= MIN.
pick_version() {
    local pkg=$1 min=$2 suite ver
    shift 2
    for suite in "$@"; do
        ver=$(apt-cache madison "$pkg" 2>/dev/null |
            awk -v s="$suite/main Sources" -F' *[|] *' \
                'index($3, " " s) { print $2; exit }')
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
log "using gnutls28 $gnutls_ver ($gnutls_suite), nettle $nettle_ver ($nettle_suite)"

# fetch_source PKG VERSION DIR: download the source package into $dl and unpack
# it (Debian patches applied) into DIR, freshly.
fetch_source() {
    local pkg=$1 ver=$2 dir=$3 dsc f missing=()
    dsc=$dl/${pkg}_${ver#*:}.dsc
    mkdir -p "$dl"
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
    mkdir -p "$(dirname "$dir")"
    dpkg-source -q -x "$dsc" "$dir" >&2
}

start=$(date +%s)
rm -f "$stamp"
rm -rf "$prefix" "$nprefix"
mkdir -p "$prefix/lib" "$nprefix/lib"
cc=cc
command -v ccache >/dev/null && cc="ccache cc"

# --- nettle (static, PIC) -----------------------------------------------------
nsrc=$srcdir/nettle-$nettle_ver
fetch_source nettle "$nettle_ver" "$nsrc"
# Debian's fPIC.patch edits aclocal.m4 and configure alike; make the other
# generated files as new so that make does not want autoconf/autoheader.
touch -r "$nsrc/aclocal.m4" "$nsrc/configure" "$nsrc/stamp-h.in" "$nsrc/config.h.in"
log "nettle: configure"
(cd "$nsrc" && ./configure -q --prefix="$nprefix" --libdir="$nprefix/lib" \
    --disable-shared --enable-static --enable-fat \
    --disable-documentation --disable-openssl \
    CC="$cc" CFLAGS="-O2 -g -fPIC" >&2)
log "nettle: build"
# Only the libraries, headers and .pc files (no tools, examples or testsuite).
make -C "$nsrc" -j"$JOBS" libnettle.a libhogweed.a nettle.pc hogweed.pc \
    version.h >&2
make -C "$nsrc" install-headers install-static install-pkgconfig >&2
PKG_CONFIG_PATH=$nprefix/lib/pkgconfig pkg-config --atleast-version="$NETTLE_MIN_UPSTREAM" hogweed ||
    die "nettle install in $nprefix is not usable"

# --- gnutls (shared, nettle linked in statically) ----------------------------
gsrc=$srcdir/gnutls28-$gnutls_ver
fetch_source gnutls28 "$gnutls_ver" "$gsrc"
# Debian's patches touch configure.ac/Makefile.am; only the message-catalogue
# name (NLS, disabled here) and the tests/tools are affected, so the shipped
# configure is used as is and --disable-maintainer-mode keeps make from
# running autoconf/automake.
export PKG_CONFIG_PATH=$nprefix/lib/pkgconfig
nettle_cflags=$(pkg-config --cflags nettle)
log "gnutls: configure"
(cd "$gsrc" && ./configure -q --prefix="$prefix" --libdir="$prefix/lib" \
    --sysconfdir=/etc \
    --enable-shared --disable-static --disable-maintainer-mode \
    --disable-doc --disable-manpages --disable-gtk-doc --disable-tools \
    --disable-tests --disable-full-test-suite --disable-cxx --disable-libdane \
    --disable-openssl-compatibility --disable-nls --disable-valgrind-tests \
    --without-tpm --without-tpm2 --without-zlib --without-brotli --without-zstd \
    --with-default-trust-store-file=/etc/ssl/certs/ca-certificates.crt \
    --enable-ld-version-script --disable-rpath \
    NETTLE_CFLAGS="$nettle_cflags" \
    NETTLE_LIBS="$(pkg-config --static --libs nettle)" \
    HOGWEED_CFLAGS="$nettle_cflags" \
    HOGWEED_LIBS="$(pkg-config --static --libs hogweed)" \
    CC="$cc" CFLAGS="-O2 -g" >&2)
log "gnutls: build"
make -C "$gsrc" -j"$JOBS" >&2
make -C "$gsrc" install >&2
rm -f "$prefix"/lib/*.la

# Consumers find the library through the pkg-config file; make it carry the
# rpath so that they also load it at run time.
sed -i 's|^Libs: -L${libdir} -lgnutls$|Libs: -L${libdir} -Wl,-rpath,${libdir} -lgnutls|' \
    "$pcdir/gnutls.pc"
grep -q -- '-Wl,-rpath' "$pcdir/gnutls.pc" || die "could not add the rpath to gnutls.pc"
# nettle/hogweed are inside libgnutls.so; consumers must neither need nor see
# nettle 3.10 (QEMU and the engine use bookworm's nettle on their own).
sed -i -E '/^Requires.private:/ { s/(^Requires.private:|,) *(nettle|hogweed) *(,|$)/\1/g; s/(^Requires.private:|,) *(nettle|hogweed) *(,|$)/\1/g; s/, *$//; s/: *,/:/ }' \
    "$pcdir/gnutls.pc"
! grep -E '^Requires.private:.*(nettle|hogweed)' "$pcdir/gnutls.pc" ||
    die "could not drop nettle from gnutls.pc"
[ ! -e "$pcdir/nettle.pc" ] || die "nettle.pc must not be in $pcdir"
# nettle must be inside libgnutls.so, not a run-time dependency.
if readelf -d "$prefix/lib/libgnutls.so" | grep -E 'NEEDED.*lib(nettle|hogweed)'; then
    die "libgnutls.so depends on a shared nettle"
fi

{
    echo "gnutls28=$gnutls_ver ($gnutls_suite)"
    echo "nettle=$nettle_ver ($nettle_suite)"
    echo "recipe=$RECIPE"
} > "$stamp"
log "GnuTLS built in $(( $(date +%s) - start )) s"
check
done_msg
