#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# Build the blktests userland layer of the test guest:
#
#   build/guest/blktests-layer.cpio.zst
#
# a zstd-compressed cpio archive (95 MB unpacked; the kernel unpacks zstd
# faster than gzip) that tests/guest/run.sh --layer appends to the base
# initramfs of scripts/build-guest.sh.  It holds what blktests' nvme group
# runs, as whole Debian sid packages: bash, coreutils, gawk, GNU sed, grep,
# findutils and diffutils, util-linux (+ mount, bsdextrautils, bsdutils),
# fio, xfsprogs, kmod, udevadm, uuidgen, gzip, procps, and the libraries
# they need (glibc included).  Their binaries replace busybox's applets of
# the same name.  blktests itself is not in the layer: scripts/blktests.sh
# packs it at run time.
#
# Packages are only downloaded (apt-get download) and unpacked with
# dpkg-deb -x; nothing from sid is installed on the host.  Incremental: the
# layer is rebuilt only when the resolved package set or this script change.
#
# Usage: scripts/build-guest-blktests.sh [--force] [--offline]
#   --force    rebuild the layer even if it is up to date
#   --offline  do not consult apt; reuse the last resolved package set
set -euo pipefail

die() { echo "build-guest-blktests.sh: error: $*" >&2; exit 1; }
log() { echo "build-guest-blktests: $*" >&2; }

force=0 offline=0
for a in "$@"; do
    case $a in
        --force) force=1 ;;
        --offline) offline=1 ;;
        -h|--help) sed -n '4,23p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
        *) die "unknown argument '$a' (see --help)" ;;
    esac
done

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
OUT=$ROOT/build/guest
LAYER=$OUT/blktests-layer.cpio.zst
W=$OUT/blktests
DEBS=$W/debs
mkdir -p "$DEBS"
exec 9> "$W/.lock"
flock -w 1800 9 || die "another build-guest-blktests.sh holds $W/.lock"
t0=$(date +%s)

# What blktests' nvme tests and their helpers call (see docs/system/
# nvmet-blktests.rst).  Their lib* dependencies are added.
PKGS="bash coreutils gawk sed grep findutils diffutils util-linux mount
      bsdextrautils bsdutils fio xfsprogs kmod udev uuid-runtime gzip procps
      libc6 libc-bin"
# Dependencies left out on purpose: xfs_scrub's ICU (xfs_scrub is removed)
# and Python.  A binary that still needs a missing library makes the build
# fail.  (Debian's fio links the libraries of all its I/O engines, Ceph's
# and Gluster's included: about half of the layer.)
SKIP_DEPS='^(libicu|libpython|python3)'

if [ "$(id -u)" = 0 ]; then
    "$ROOT/scripts/setup-apt.sh"
    need=""
    for p in cpio zstd binutils dpkg; do
        dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'ok installed' ||
            need="$need $p"
    done
    if [ -n "$need" ]; then
        log "installing host tools:$need"
        DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends $need >&2
    fi
elif [ $offline = 0 ]; then
    die "must run as root (apt-get), or pass --offline"
fi
for t in cpio zstd readelf dpkg-deb apt-cache sha256sum; do
    command -v "$t" >/dev/null || die "host tool '$t' not found"
done

# ------------------------------------------------------------------ resolve
# records PKG... -> "name<TAB>pool path<TAB>depends" for sid
records() {
    local specs=() p
    for p in "$@"; do specs+=("$p/sid"); done
    apt-cache show --no-all-versions "${specs[@]}" 2>/dev/null | awk '
        function out() { if (n != "") print n "\t" f "\t" d; n = f = d = "" }
        /^Package: / { out(); n = $2 }
        /^Filename: / { f = $2 }
        /^(Pre-)?Depends: / { sub(/^[^:]*: /, ""); d = d (d == "" ? "" : ", ") $0 }
        /^$/ { out() }
        END { out() }'
}

resolved=$W/resolved.txt
key=$( { sha256sum < "$0"; ls -l --time-style=+%s /var/lib/apt/lists/*sid*InRelease 2>/dev/null; } |
       sha256sum | cut -d' ' -f1)
if [ $offline = 1 ]; then
    [ -s "$resolved" ] || die "--offline, but $resolved does not exist yet"
elif [ "$(head -n1 "$resolved" 2>/dev/null)" != "key $key" ]; then
    log "resolving packages in sid"
    declare -A seen=()
    queue=()
    for p in $PKGS; do seen[$p]=1; queue+=("$p"); done
    {
        echo "key $key"
        while [ ${#queue[@]} -gt 0 ]; do
            batch=("${queue[@]}")
            queue=()
            found=" "
            while IFS=$'\t' read -r name file deps; do
                found+="$name "
                printf 'pkg\t%s\t%s\n' "$name" "$file"
                IFS=',' read -ra alts <<< "$deps"
                for dep in "${alts[@]}"; do
                    # first alternative, without version and architecture
                    dep=${dep%%|*}
                    dep=$(echo "$dep" | sed -e 's/(.*)//' -e 's/:any//' -e 's/[[:space:]]//g')
                    case $dep in lib*|zlib*) ;; *) continue ;; esac
                    [[ $dep =~ $SKIP_DEPS ]] && continue
                    [ -z "${seen[$dep]:-}" ] || continue
                    seen[$dep]=1
                    queue+=("$dep")
                done
            done < <(records "${batch[@]}")
            for p in "${batch[@]}"; do
                case $found in
                    *" $p "*) ;;
                    *) case " $PKGS " in
                           *" $p "*) die "package $p not found in sid" ;;
                           *) log "note: dependency $p not found in sid (virtual?)" ;;
                       esac ;;
                esac
            done
        done
    } > "$resolved.tmp"
    mv "$resolved.tmp" "$resolved"
fi

# ------------------------------------------------------------------ download
debs=()
missing=()
while IFS=$'\t' read -r kind name file; do
    [ "$kind" = pkg ] || continue
    d=$DEBS/$(basename "$file")
    debs+=("$d")
    [ -s "$d" ] || missing+=("$name/sid")
done < "$resolved"
if [ ${#missing[@]} -gt 0 ]; then
    [ $offline = 0 ] || die "--offline, but not downloaded yet: ${missing[*]}"
    log "downloading ${#missing[@]} package(s)"
    tmpd=$(mktemp -d "$DEBS/.dl.XXXXXX")
    (cd "$tmpd" && apt-get download -q -o APT::Sandbox::User=root "${missing[@]}" >&2) ||
        { rm -rf "$tmpd"; die "apt-get download failed"; }
    for d in "$tmpd"/*.deb; do
        mv "$d" "$DEBS/$(basename "$d" | sed 's/_[0-9]*%3a/_/')"
    done
    rm -rf "$tmpd"
fi
for d in "${debs[@]}"; do [ -s "$d" ] || die "missing $d after download"; done
for d in "$DEBS"/*.deb; do
    case " ${debs[*]} " in *" $d "*) ;; *) rm -f "$d" ;; esac
done

stamp=$( { sha256sum < "$0"; for d in "${debs[@]}"; do basename "$d"; done | sort; } |
         sha256sum | cut -d' ' -f1)
if [ $force = 0 ] && [ -s "$LAYER" ] && [ "$(cat "$LAYER.stamp" 2>/dev/null)" = "$stamp" ]; then
    log "layer up to date ($LAYER)"
    exit 0
fi

# ------------------------------------------------------------------ stage
S=$W/stage
rm -rf "$S"
mkdir -p "$S"
for d in "${debs[@]}"; do dpkg-deb -x "$d" "$S" || die "dpkg-deb -x $d failed"; done

# The base image is merged-/usr (/bin, /sbin, /lib, /lib64 are symlinks into
# /usr): a directory at those paths in a later cpio would replace them.
for top in bin sbin lib lib64; do
    [ -d "$S/$top" ] && [ ! -L "$S/$top" ] || continue
    mkdir -p "$S/usr/$top"
    cp -a "$S/$top/." "$S/usr/$top/"
    rm -rf "${S:?}/$top"
done
# Documentation, locales, service files, Python helpers: not needed
rm -rf "$S"/usr/share/{doc,man,info,locale,lintian,bash-completion,zsh,fish,bug,menu} \
       "$S"/usr/lib/systemd "$S"/etc/systemd "$S"/etc/init.d "$S"/etc/cron* \
       "$S"/usr/lib/python3* "$S"/usr/share/xfsprogs "$S"/usr/lib/udev/hwdb.d \
       "$S"/usr/lib/x86_64-linux-gnu/gconv "$S"/usr/lib/x86_64-linux-gnu/security \
       "$S"/usr/include "$S"/usr/share/i18n
rm -f "$S"/usr/sbin/xfs_scrub* "$S"/usr/lib/x86_64-linux-gnu/systemd/libsystemd-core-* "$S"/usr/lib/udev/rules.d/*nvmf* "$S"/usr/lib/udev/rules.d/*nvme*
find "$S" -name '*.pyc' -delete

# Every ELF file must find its libraries in the layer: in the default
# directories or its RUNPATH (systemd's private library, glibc's gconv
# modules use $ORIGIN).
libdirs="usr/lib/x86_64-linux-gnu usr/lib usr/lib64"
have_lib() {   # SONAME FILE
    local d rp
    for d in $libdirs; do [ -e "$S/$d/$1" ] && return 0; done
    rp=$(readelf -d "$2" 2>/dev/null | sed -n 's/.*(R\(UN\)\{0,1\}PATH).*\[\(.*\)\]/\2/p')
    for d in ${rp//:/ }; do
        d=${d//\$ORIGIN/$(dirname "${2#"$S"}")}
        [ -e "$S/$d/$1" ] && return 0
    done
    return 1
}
bad=""
while IFS= read -r -d '' f; do
    head -c4 "$f" 2>/dev/null | grep -q 'ELF' || continue
    miss=""
    for so in $(readelf -d "$f" 2>/dev/null | sed -n 's/.*(NEEDED).*\[\(.*\)\]/\1/p'); do
        have_lib "$so" "$f" || miss="$miss $so"
    done
    [ -n "$miss" ] || continue
    bad="$bad ${f#"$S"/}:$miss;"
done < <(find "$S/usr" -type f -print0)
[ -z "$bad" ] || die "unresolved libraries:$bad"

# The same command must win whatever PATH order: where busybox has an applet
# in the other of /usr/bin and /usr/sbin, point it to the real binary.
for dir in bin sbin; do
    other=$([ $dir = bin ] && echo sbin || echo bin)
    mkdir -p "$S/usr/$other"
    for f in "$S/usr/$dir"/*; do
        b=$(basename "$f")
        [ -e "$S/usr/$other/$b" ] || [ -L "$S/usr/$other/$b" ] ||
            ln -s "../$dir/$b" "$S/usr/$other/$b"
    done
done
# The layer's shell scripts (zgrep, zcat, ...) expect /bin/sh to find GNU
# tools; the image's /bin/sh is busybox, which prefers its own applets
# (busybox gzip cannot pass plain text through: zgrep on /boot/config fails).
for f in "$S"/usr/bin/* "$S"/usr/sbin/*; do
    [ -f "$f" ] && [ ! -L "$f" ] || continue
    head -n1 "$f" | grep -q '^#! */bin/sh\b' || continue
    sed -i '1s|^#! */bin/sh\b|#!/usr/bin/bash|' "$f"
done
# what Debian's alternatives system would have linked
[ -e "$S/usr/bin/awk" ] || ln -s gawk "$S/usr/bin/awk"
# /bin/sh stays busybox (the base image's /init and test scripts use it)
rm -f "$S/usr/bin/sh" "$S/usr/sbin/sh"
ls "$S/usr/lib/x86_64-linux-gnu"/ld-linux-x86-64.so.2 >/dev/null 2>&1 ||
    die "no dynamic loader in the layer"
# no ld.so.cache of our own: it would hide the base image's one (the loader
# finds the layer's libraries in /usr/lib/x86_64-linux-gnu anyway)
rm -f "$S/etc/ld.so.cache"
mkdir -p "$S/etc"
{
    echo "blktests layer built $(date -u +%Y-%m-%dT%H:%M:%SZ) from sid:"
    for d in "${debs[@]}"; do echo "  $(basename "$d")"; done
} > "$S/etc/guest-blktests-layer-info"

# sanity: the layer's bash runs with the layer's loader and libraries
"$S/usr/lib/x86_64-linux-gnu/ld-linux-x86-64.so.2" --library-path \
    "$S/usr/lib/x86_64-linux-gnu" "$S/usr/bin/bash" -c 'exit 0' ||
    log "warning: could not run the layer's bash on the host"

log "packing $(du -sh "$S" | cut -f1) into $LAYER"
(cd "$S" && find . -mindepth 1 | LC_ALL=C sort | cpio -o -H newc -R 0:0 --quiet) |
    zstd -q -10 -T0 > "$LAYER.tmp"
mv "$LAYER.tmp" "$LAYER"
echo "$stamp" > "$LAYER.stamp"
log "done: $LAYER ($(du -h "$LAYER" | cut -f1), $(( $(date +%s) - t0 )) s)"
