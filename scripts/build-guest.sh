#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# Build the Linux guest used to test the NVMe/TCP target with the real Linux
# nvme-tcp host driver, for any kernel: a Debian kernel by version, or the
# developer's own build.
#
#   scripts/build-guest.sh [options] [--kernel SPEC]
#
# SPEC (default: $NVMET_GUEST_KERNEL, else the newest 7.x of Debian sid,
# falling back to trixie-backports):
#   6.1 | 6.12 | 6.18 | 6.18.15 | 7.3.4 | 7.2.13+deb14-amd64 | ...
#        a Debian kernel, the newest one whose version starts with SPEC
#        (components compared: 6.1 is not 6.12), searched in bookworm,
#        bookworm-security, bookworm-backports, trixie, trixie-backports
#        and sid;  --list shows them
#   /path/to/linux            a kernel build tree (arch/x86/boot/bzImage,
#                             modules.order, modules.builtin)
#   IMAGE[,MODDIR]            a bzImage and, for a kernel with modules, the
#                             directory of `make modules_install
#                             INSTALL_MOD_PATH=MODDIR` (MODDIR/lib/modules/VER
#                             itself is accepted too)
#
# The guest's userland (busybox, nvme-cli, tlshd, keyctl, glibc) comes from
# the Debian release of the kernel's era, because nvme-cli/tlshd and the
# kernel's NVMe/TLS interfaces move together: Linux < 6.12: bookworm,
# 6.12 .. 6.19: trixie, 7.x: sid.  Override with NVMET_GUEST_USERLAND=
# bookworm|trixie|sid.
#
# The initramfs is a concatenation of independent gzip'd cpio archives
# ("layers"; the kernel unpacks them in order, later entries win), each
# cached under build/guest/layers/ and rebuilt only when its inputs change:
#
#   userland-ERA.cpio.gz   rootfs skeleton, busybox, nvme-cli, tlshd, keyctl,
#                          util-linux, their libraries, /etc, /init, lib.sh
#   modules-ID.cpio.gz     the kernel's modules for nvme-tcp (+auth, TLS,
#                          crc32c) and the in-guest nvmet, decompressed, plus
#                          /etc/modules.order (load order) for /init
#   tests.cpio.gz          /init and tests/guest/*.sh, packed by
#                          tests/guest/run.sh at every run
#
# A new bzImage therefore costs nothing here: an own build's image is used in
# place (run.sh boots the current file), and only a changed module
# re-packs the small modules layer.
#
# Adding a layer (e.g. blktests): write a function that fills a staging
# directory, call `make_layer NAME INPUT-KEY FUNCTION` (it returns at once
# when build/guest/layers/NAME.cpio.gz was built from the same INPUT-KEY)
# and add the path to the image's layer list (IMAGE_LAYERS below, in boot
# order), or pass it to tests/guest/run.sh --layer FILE at run time.
#
# Output: build/guest/images/ID/ with
#   vmlinuz   the kernel (a copy for Debian kernels, a symlink to an own build)
#   layers    the layer files, one per line, in boot order
#   info      kernel release, where it came from, userland release
# and the image directory printed on stdout.  Without --kernel and without
# NVMET_GUEST_KERNEL the default image is also linked as
# build/guest/images/default, build/guest/vmlinuz and (concatenated)
# build/guest/initramfs.cpio.gz.  build/guest/firmware/ is QEMU's -L
# directory (SeaBIOS, option ROMs); build/guest/debs/ caches packages.
#
# Packages are only downloaded (apt-get download) and unpacked with
# dpkg-deb -x; trixie/sid binaries are never installed on the host.
#
# Options:
#   --kernel SPEC   see above
#   --list          list the Debian kernels that can be used and exit
#   --force         rebuild the layers even if up to date
#   --offline       do not consult apt; reuse the last resolved package sets
#   -h, --help      this text
set -euo pipefail

die() { echo "build-guest.sh: error: $*" >&2; exit 1; }
log() { echo "build-guest: $*" >&2; }

force=0 offline=0 list=0
spec=${NVMET_GUEST_KERNEL:-}
spec_given=0
[ -z "$spec" ] || spec_given=1
while [ $# -gt 0 ]; do
    case $1 in
        --force) force=1 ;;
        --offline) offline=1 ;;
        --list) list=1 ;;
        --kernel) spec=${2:?--kernel needs a SPEC}; spec_given=1; shift ;;
        --kernel=*) spec=${1#*=}; spec_given=1 ;;
        -h|--help) sed -n '4,/^[^#]/{/^#/p}' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
        *) die "unknown argument '$1' (see --help)" ;;
    esac
    shift
done

[ "$(id -u)" = 0 ] || die "must run as root (apt-get)"

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
OUT=$ROOT/build/guest
DEBS=$OUT/debs
WORK=$OUT/work
LAYERS=$OUT/layers
mkdir -p "$OUT" "$DEBS" "$WORK" "$LAYERS" "$OUT/images"
exec 9> "$OUT/.lock"
flock -w 1800 9 || die "another build-guest.sh holds $OUT/.lock"

t_start=$(date +%s)

# Guest kernel modules wanted (dependencies are added).  Built-in ones are
# fine; a missing optional module only produces a note, a missing required
# one is fatal.  crc32c*: 6.x hosts compute NVMe/TCP digests through the
# crypto API and need a crc32c implementation as a module.
MODS_REQUIRED="nvme-core nvme-fabrics nvme-tcp virtio_net"
MODS_OPTIONAL="virtio_pci nvme-auth nvme-keyring tls gcm ctr gf128mul aesni-intel
    crc32c-intel crc32c_generic crc32c-cryptoapi failover net_failover loop configfs nvmet
    nvmet-tcp null_blk xfs"

# Where the default kernel comes from (linux-image-amd64 of the first suite
# that has a 7.x one).  Override with GUEST_KERNEL_SUITES.
DEFAULT_KERNEL_SUITES=${GUEST_KERNEL_SUITES:-"sid trixie-backports"}
# Suites searched for a kernel given by version, in order of preference for
# equal versions.
KERNEL_SEARCH_SUITES="trixie trixie-backports sid bookworm bookworm-security bookworm-backports"

# Guest userland packages (resolved in the era's release together with their
# lib* dependencies).  ktls-utils (tlshd) is missing in bookworm: TLS tests
# then report SKIP.
USER_PKGS="busybox-static nvme-cli ktls-utils keyutils util-linux libc6"
# Binaries copied into the image (required / optional).
BINARIES="nvme keyctl blkdiscard"
BINARIES_OPTIONAL="tlshd"

# ---------------------------------------------------------------- host tools
"$ROOT/scripts/setup-apt.sh" >&2

need_pkgs=""
for p in cpio xz-utils zstd kmod binutils gzip libc-bin coreutils findutils; do
    if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'ok installed'; then
        need_pkgs="$need_pkgs $p"
    fi
done
if [ -n "$need_pkgs" ]; then
    log "installing host tools:$need_pkgs"
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q -o DPkg::Lock::Timeout=600 \
        --no-install-recommends $need_pkgs >&2
fi
for t in cpio xz zstd modinfo readelf gzip dpkg-deb ldconfig sha256sum; do
    command -v "$t" >/dev/null || die "host tool '$t' not found after installing host packages"
done

sha() { sha256sum | cut -d' ' -f1; }

# ---------------------------------------------------------------- apt index
# apt-cache is slow here (no pkgcache.bin: ~2 s per call), so resolutions
# are cached and only recomputed when the apt lists change.
# Bump SETS_FORMAT when the resolution code changes what it writes.
SETS_FORMAT=2
lists_key() {
    { echo "$SETS_FORMAT $KERNEL_SEARCH_SUITES"
      ls -l --time-style=+%s /var/lib/apt/lists/*InRelease 2>/dev/null
    } | sha
}
LKEY=$(lists_key)

# show_records RELEASE PKG... -> "pkg<TAB>filename<TAB>deps" lines
show_records() {
    local rel=$1; shift
    local specs=() p
    for p in "$@"; do specs+=("$p/$rel"); done
    apt-cache show --no-all-versions "${specs[@]}" 2>/dev/null | awk '
        function flush() { if (pkg != "") print pkg "\t" fn "\t" deps; pkg=""; fn=""; deps="" }
        /^Package: / { flush(); pkg=$2; next }
        /^Filename: / { fn=$2; next }
        /^(Depends|Pre-Depends): / { sub(/^[^:]*: /, ""); deps = (deps == "" ? $0 : deps ", " $0); next }
        /^$/ { flush() }
        END { flush() }'
}

# resolve_closure RELEASE PKG... -> "pkg<TAB>pool-filename" for the packages
# and, recursively, their lib* dependencies (first alternative of each group).
resolve_closure() {
    local rel=$1; shift
    local -A seen=()
    local queue=("$@") next p fn deps dep name
    local result=""
    for p in "$@"; do seen[$p]=1; done
    while [ ${#queue[@]} -gt 0 ]; do
        next=()
        local got=" "
        while IFS=$'\t' read -r p fn deps; do
            [ -n "$p" ] || continue
            got="$got$p "
            result+="$p"$'\t'"$fn"$'\n'
            IFS=',' read -ra dl <<< "$deps"
            for dep in "${dl[@]}"; do
                name=${dep%%|*}
                name=$(echo "$name" | sed -e 's/(.*)//' -e 's/:any//' -e 's/[[:space:]]//g')
                [ -n "$name" ] || continue
                case $name in lib*|zlib*) ;; *) continue ;; esac
                [ -z "${seen[$name]:-}" ] || continue
                seen[$name]=1
                next+=("$name")
            done
        done < <(show_records "$rel" "${queue[@]}")
        for p in "${queue[@]}"; do
            case $got in *" $p "*) ;; *) log "note: package '$p' not in $rel (skipped)" ;; esac
        done
        queue=("${next[@]+"${next[@]}"}")
    done
    printf '%s' "$result"
}

# The Debian kernel index: one line per amd64 kernel package of the search
# suites, "suite<TAB>package<TAB>version<TAB>filename<TAB>size", read
# straight from apt's lists (apt-helper decompresses them).
kernel_index() {
    local idx=$OUT/kernel-index.txt s f
    if [ -s "$idx" ] && [ "$(head -n1 "$idx")" = "key $LKEY" ]; then
        tail -n +2 "$idx"; return 0
    fi
    [ $offline = 0 ] || { [ -s "$idx" ] && { tail -n +2 "$idx"; return 0; }; }
    {
        echo "key $LKEY"
        for s in $KERNEL_SEARCH_SUITES; do
            for f in /var/lib/apt/lists/*_dists_"${s}"_main_binary-amd64_Packages*; do
                [ -e "$f" ] || continue
                /usr/lib/apt/apt-helper cat-file "$f" | awk -v s="$s" '
                    /^Package: / { p = $2; v = ""; fn = ""; sz = "" }
                    /^Version: / { v = $2 }
                    /^Filename: / { fn = $2 }
                    /^Size: / { sz = $2 }
                    /^$/ { if (p ~ /^linux-(image|binary|modules|base)-[0-9][^ ]*-amd64$/ &&
                               p !~ /-(cloud|rt)-amd64$/ && p !~ /-dbg$/)
                               print s "\t" p "\t" v "\t" fn "\t" sz
                           p = "" }'
            done
        done
    } > "$idx.tmp"
    mv "$idx.tmp" "$idx"
    tail -n +2 "$idx"
}

# debian_kernels: "upstream-version<TAB>suite<TAB>kflav<TAB>kind" for every
# complete kernel: kind "image" (6.x: linux-image-KFLAV holds vmlinuz and
# the modules) or "split" (7.x: linux-binary-KFLAV + linux-modules-KFLAV).
# KFLAV is the kernel release, e.g. 6.1.0-50-amd64 or 7.3.4+deb13-amd64.
debian_kernels() {
    kernel_index | awk -F'\t' '
        { pkg = $2; kind = pkg; sub(/^linux-/, "", kind); sub(/-.*/, "", kind)
          kf = pkg; sub(/^linux-[a-z]+-/, "", kf)
          up = $3; sub(/-[^-]*$/, "", up); sub(/^[0-9]+:/, "", up)
          key = $1 "\t" kf
          have[key, kind] = 1; ver[key] = up; size[key, kind] = $5 }
        END {
            for (k in ver) {
                if (have[k, "binary"] && have[k, "modules"]) print ver[k] "\t" k "\tsplit"
                else if (have[k, "image"] && size[k, "image"] > 10000000) print ver[k] "\t" k "\timage"
            }
        }' | sort -t$'\t' -k1,1V -k2,2 -k3,3V
}

# incomplete_kernel VERSION-PREFIX: the packages of a version Debian lists
# only in part (e.g. a linux-binary whose linux-modules left the archive),
# on one line
incomplete_kernel() {
    kernel_index | awk -F'\t' -v v="$1" '
        { up = $3; sub(/-[^-]*$/, "", up); sub(/^[0-9]+:/, "", up)
          if (up == v || index(up, v ".") == 1) print $2 }' | sort -uV |
        awk '{ n++; if (n <= 3) l = l (n > 1 ? ", " : "") $0 } END { if (n) print l (n > 3 ? " and " n - 3 " more" : "") }'
}

if [ $list = 1 ]; then
    echo "Debian kernels usable with --kernel (version, suite, kernel release, packaging):"
    debian_kernels | awk -F'\t' '{ printf "  %-12s %-20s %-26s %s\n", $1, $2, $3, $4 }'
    exit 0
fi

# ---------------------------------------------------------------- the kernel
# Sets: KSRC (debian|tree|image), KVER (kernel release), KIMAGE (bzImage),
# KMODBASE (directory holding lib/modules/KVER, or "" for none), IMAGE_ID,
# KINFO (one line: where the kernel came from), and for Debian kernels
# KSUITE/KKIND.

# bzimage_release FILE: the version string in a bzImage's setup header
bzimage_release() {
    local off
    [ "$(od -An -tx1 -j 0x202 -N 4 "$1" | tr -d ' ')" = 48647253 ] || return 1   # "HdrS"
    off=$(od -An -tu2 -j 0x20e -N 2 "$1" | tr -d ' ')
    [ -n "$off" ] && [ "$off" -gt 0 ] || return 1
    dd if="$1" bs=1 skip=$((off + 0x200)) count=256 2>/dev/null | tr '\0' '\n' | head -n1 | cut -d' ' -f1
}

resolve_debian_kernel() {   # SPEC -> sets KVER KSUITE KKIND KUPVER
    local want=$1 line
    case $want in
        *-amd64) line=$(debian_kernels | awk -F'\t' -v k="$want" '$3 == k' | tail -n1) ;;
        *) line=$(debian_kernels | awk -F'\t' -v v="$want" '$1 == v || index($1, v ".") == 1' |
                  sort -t$'\t' -k1,1V | tail -n1)
           # prefer the first suite of KERNEL_SEARCH_SUITES for that version
           if [ -n "$line" ]; then
               local v s
               v=$(cut -f1 <<< "$line")
               for s in $KERNEL_SEARCH_SUITES; do
                   l2=$(debian_kernels | awk -F'\t' -v v="$v" -v s="$s" '$1 == v && $2 == s' | tail -n1)
                   [ -z "$l2" ] || { line=$l2; break; }
               done
           fi ;;
    esac
    if [ -z "$line" ]; then
        local inc
        inc=$(incomplete_kernel "$want")
        if [ -n "$inc" ]; then
            die "Debian's archive has no linux-modules package for kernel $want any more, only $inc (nvme-tcp is a module): use another version (--list) or your own build (--kernel BZIMAGE,MODDIR)"
        fi
        die "no Debian kernel matches '$want' (see scripts/build-guest.sh --list)"
    fi
    IFS=$'\t' read -r KUPVER KSUITE KVER KKIND <<< "$line"
}

KMODBASE="" KSUITE="" KKIND="" KUPVER=""
if [ -z "$spec" ]; then
    # the default kernel: linux-image-amd64 of the first suite with a 7.x one
    dk=$OUT/default-kernel.txt
    if [ -s "$dk" ] && { [ $offline = 1 ] || [ "$(head -n1 "$dk")" = "key $LKEY $DEFAULT_KERNEL_SUITES" ]; }; then
        spec=$(sed -n 2p "$dk")
    else
        for rel in $DEFAULT_KERNEL_SUITES; do
            spec=$( (apt-cache show --no-all-versions "linux-image-amd64/$rel" 2>/dev/null || true) |
                   sed -n 's/^Depends: //p' | tr ',' '\n' |
                   sed -n 's/^ *linux-image-\(7\.[^ ]*-amd64\).*/\1/p' | head -n1)
            [ -z "$spec" ] || break
        done
        [ -n "$spec" ] || die "no linux-image-amd64 7.x kernel in: $DEFAULT_KERNEL_SUITES (apt lists stale? run scripts/setup-apt.sh)"
        printf 'key %s %s\n%s\n' "$LKEY" "$DEFAULT_KERNEL_SUITES" "$spec" > "$dk"
    fi
fi

if [ -d "$spec" ] && [ -f "$spec/Makefile" ]; then
    # a kernel build tree
    KSRC=tree
    tree=$(cd "$spec" && pwd)
    KIMAGE=$tree/arch/x86/boot/bzImage
    [ -f "$KIMAGE" ] || die "$KIMAGE missing: build the kernel first (make bzImage modules)"
    KVER=$(cat "$tree/include/config/kernel.release" 2>/dev/null) || KVER=$(bzimage_release "$KIMAGE") ||
        die "cannot tell the kernel release of $tree"
    KMODBASE=""
    [ -f "$tree/modules.order" ] && KMODBASE=$tree
    IMAGE_ID=own-$(printf '%s' "$tree" | sha | cut -c1-12)
    KINFO="own build tree $tree"
elif [ -f "${spec%%,*}" ]; then
    # IMAGE[,MODDIR]
    KSRC=image
    KIMAGE=$(readlink -f "${spec%%,*}")
    KVER=$(bzimage_release "$KIMAGE") || die "${spec%%,*} is not an x86 bzImage"
    moddir=""
    case $spec in *,*) moddir=${spec#*,} ;; esac
    if [ -n "$moddir" ]; then
        [ -d "$moddir" ] || die "modules directory '$moddir' not found"
        moddir=$(cd "$moddir" && pwd)
        if [ -d "$moddir/lib/modules/$KVER" ]; then
            KMODBASE=$moddir/lib/modules/$KVER
        elif [ -d "$moddir/usr/lib/modules/$KVER" ]; then
            KMODBASE=$moddir/usr/lib/modules/$KVER
        elif [ "$(basename "$moddir")" = "$KVER" ]; then
            KMODBASE=$moddir
        else
            die "no lib/modules/$KVER under $moddir (the bzImage says it is $KVER; pass INSTALL_MOD_PATH of make modules_install)"
        fi
    fi
    IMAGE_ID=own-$(printf '%s' "$KIMAGE,$KMODBASE" | sha | cut -c1-12)
    KINFO="own build $KIMAGE${KMODBASE:+, modules $KMODBASE}"
else
    case $spec in
        /*|./*|../*|*/*) die "'$spec': no such kernel build tree or bzImage" ;;
    esac
    KSRC=debian
    if [ $offline = 1 ] && [ -s "$OUT/spec-$(printf '%s' "$spec" | sha | cut -c1-12).txt" ]; then
        read -r KUPVER KSUITE KVER KKIND < "$OUT/spec-$(printf '%s' "$spec" | sha | cut -c1-12).txt"
    else
        resolve_debian_kernel "$spec"
        echo "$KUPVER $KSUITE $KVER $KKIND" > "$OUT/spec-$(printf '%s' "$spec" | sha | cut -c1-12).txt"
    fi
    IMAGE_ID=$KVER
    KINFO="Debian $KUPVER ($KSUITE, $KVER)"
fi
log "kernel: $KINFO"

# The userland era from the kernel version
kmaj=${KVER%%.*}; kmin=${KVER#*.}; kmin=${kmin%%[!0-9]*}
case $kmaj$kmin in *[!0-9]*|'') die "cannot parse the kernel release '$KVER'" ;; esac
if [ -n "${NVMET_GUEST_USERLAND:-}" ]; then
    ERA=$NVMET_GUEST_USERLAND
elif [ "$kmaj" -ge 7 ]; then
    ERA=sid
elif [ "$kmaj" -eq 6 ] && [ "$kmin" -ge 12 ]; then
    ERA=trixie
else
    ERA=bookworm
fi
case $ERA in bookworm|trixie|sid) ;; *) die "NVMET_GUEST_USERLAND must be bookworm, trixie or sid" ;; esac
log "userland: Debian $ERA"

# ---------------------------------------------------------------- downloads
# resolved set file: lines "kind<TAB>release-or-=version<TAB>pkg<TAB>pool-file"
debfile() { echo "$DEBS/$(basename "$1")"; }

# fetch_set FILE: download what the set needs
fetch_set() {
    local missing=() kind rel pkg fn tmpd d b
    while IFS=$'\t' read -r kind rel pkg fn; do
        case $kind in pkg) ;; *) continue ;; esac
        [ -s "$(debfile "$fn")" ] && continue
        case $rel in =*) missing+=("$pkg$rel") ;; *) missing+=("$pkg/$rel") ;; esac
    done < "$1"
    if [ ${#missing[@]} -gt 0 ]; then
        [ $offline = 0 ] || die "offline, but packages are missing: ${missing[*]}"
        log "downloading ${#missing[@]} package(s): ${missing[*]}"
        tmpd=$(mktemp -d "$DEBS/.dl.XXXXXX")
        (cd "$tmpd" && apt-get download -q -o APT::Sandbox::User=root "${missing[@]}" >&2) ||
            { rm -rf "$tmpd"; die "apt-get download failed for: ${missing[*]}"; }
        for d in "$tmpd"/*.deb; do
            # apt-get download encodes an epoch as "N%3a"; pool file names have none
            b=$(basename "$d" | sed 's/_[0-9]*%3a/_/')
            mv "$d" "$DEBS/$b"
        done
        rm -rf "$tmpd"
    fi
    while IFS=$'\t' read -r kind rel pkg fn; do
        [ "$kind" != pkg ] || [ -s "$(debfile "$fn")" ] || die "missing $(debfile "$fn") after download"
    done < "$1"
}
debs_of() { awk -F'\t' '$1 == "pkg" {print $4}' "$1" | while read -r fn; do debfile "$fn"; done; }

# unpack DIR DEB... : unpack the debs into DIR unless DIR/.stamp matches them
unpack() {
    local dir=$1; shift
    local stamp d
    stamp=$(for d in "$@"; do basename "$d"; done | sort | sha)
    if [ -d "$dir" ] && [ "$(cat "$dir/.stamp" 2>/dev/null)" = "$stamp" ]; then
        return 0
    fi
    rm -rf "$dir.tmp" "$dir"
    mkdir -p "$dir.tmp"
    for d in "$@"; do dpkg-deb -x "$d" "$dir.tmp" || die "dpkg-deb -x $d failed"; done
    echo "$stamp" > "$dir.tmp/.stamp"
    mv "$dir.tmp" "$dir"
}

# resolved SETNAME GENERATOR...: the cached package set build/guest/sets/
# SETNAME.txt, regenerated by GENERATOR when the apt lists changed
resolved_set() {
    local name=$1; shift
    local f=$OUT/sets/$name.txt
    mkdir -p "$OUT/sets"
    if [ -s "$f" ] && { [ $offline = 1 ] || [ "$(head -n1 "$f")" = "key $LKEY" ]; }; then
        echo "$f"; return 0
    fi
    [ $offline = 0 ] || die "offline, but the package set '$name' was never resolved"
    log "resolving package set $name (apt-cache)"
    { echo "key $LKEY"; "$@"; } > "$f.tmp" || die "resolving $name failed"
    mv "$f.tmp" "$f"
    echo "$f"
}

# ---------------------------------------------------------------- layers
# make_layer NAME KEY FUNCTION: build layers/NAME.cpio.gz from a staging
# directory that FUNCTION DIR fills, unless it was built with the same KEY.
# Sets LAYER to its path.
make_layer() {
    local name=$1 key=$2 fn=$3
    local out=$LAYERS/$name.cpio.gz stage
    key=$(printf '%s\n%s\n' "$key" "$(sha256sum "$0" | cut -d' ' -f1)" | sha)
    LAYER=$out
    if [ $force = 0 ] && [ -s "$out" ] && [ "$(cat "$out.key" 2>/dev/null)" = "$key" ]; then
        return 0
    fi
    log "building layer $name"
    stage=$WORK/stage-$name
    rm -rf "$stage"; mkdir -p "$stage"
    "$fn" "$stage"
    (cd "$stage" && find . -mindepth 1 | LC_ALL=C sort | cpio -o -H newc -R 0:0 --quiet) |
        gzip -6 > "$out.tmp"
    mv "$out.tmp" "$out"
    echo "$key" > "$out.key"
    rm -rf "$stage"
    log "layer $name: $(du -h "$out" | cut -f1)"
}

# ---------------------------------------------------------------- firmware
gen_fw_set() {
    show_records trixie qemu-system-data | awk -F'\t' '{print "pkg\ttrixie\t" $1 "\t" $2}'
    local p v fn
    for p in seabios ipxe-qemu; do
        v=$(apt-cache policy "$p" | sed -n 's/^ *Candidate: //p')
        [ -n "$v" ] && [ "$v" != "(none)" ] || { echo "no candidate for host package $p" >&2; return 1; }
        fn=$(apt-cache show "$p=$v" | sed -n 's/^Filename: //p' | head -n1)
        printf 'pkg\t=%s\t%s\t%s\n' "$v" "$p" "$fn"
    done
}
fwset=$(resolved_set firmware gen_fw_set)
fetch_set "$fwset"
mapfile -t fdebs < <(debs_of "$fwset")
unpack "$WORK/fw" "${fdebs[@]}"
fwstamp=$(cat "$WORK/fw/.stamp")
if [ "$(cat "$OUT/firmware/.stamp" 2>/dev/null)" != "$fwstamp" ]; then
    log "populating firmware/"
    rm -rf "$OUT/firmware.tmp"; mkdir -p "$OUT/firmware.tmp"
    for f in "$WORK/fw/usr/share/qemu"/* "$WORK/fw/usr/share/seabios"/* "$WORK/fw/usr/lib/ipxe/qemu"/*; do
        [ -e "$f" ] || continue           # dangling symlink
        [ -f "$f" ] || continue           # keymaps/, firmware/ descriptors etc.
        b=$(basename "$f")
        [ -e "$OUT/firmware.tmp/$b" ] || cp -L "$f" "$OUT/firmware.tmp/$b"
    done
    for b in bios-256k.bin linuxboot_dma.bin kvmvapic.bin efi-virtio.rom; do
        [ -s "$OUT/firmware.tmp/$b" ] || die "firmware file $b missing from qemu-system-data/seabios/ipxe-qemu"
    done
    echo "$fwstamp" > "$OUT/firmware.tmp/.stamp"
    rm -rf "$OUT/firmware"; mv "$OUT/firmware.tmp" "$OUT/firmware"
fi

# ---------------------------------------------------------------- userland layer
gen_user_set() {
    resolve_closure "$ERA" $USER_PKGS | awk -F'\t' -v r="$ERA" '{print "pkg\t" r "\t" $1 "\t" $2}'
}
uset=$(resolved_set "userland-$ERA" gen_user_set)
grep -q $'^pkg\t[a-z]*\tnvme-cli\t' "$uset" || die "nvme-cli not found in $ERA"
fetch_set "$uset"
mapfile -t udebs < <(debs_of "$uset")
unpack "$WORK/user-$ERA" "${udebs[@]}"
U=$WORK/user-$ERA

populate_userland() {
    local R=$1 bb b src dst d a f so interp ldso
    mkdir -p "$R"/usr/bin "$R"/usr/sbin "$R"/usr/lib/x86_64-linux-gnu "$R"/usr/lib64 \
             "$R"/usr/lib/modules "$R"/dev "$R"/proc "$R"/sys "$R"/tmp "$R"/run \
             "$R"/etc/nvme "$R"/root "$R"/tests "$R"/mnt "$R"/var
    chmod 1777 "$R/tmp"
    ln -s usr/bin "$R/bin"; ln -s usr/sbin "$R/sbin"; ln -s usr/lib "$R/lib"; ln -s usr/lib64 "$R/lib64"

    # busybox and its applets (real binaries copied below take precedence)
    bb=""
    for d in "$U/usr/bin/busybox" "$U/bin/busybox"; do [ -x "$d" ] && { bb=$d; break; }; done
    [ -n "$bb" ] || die "busybox not found in busybox-static"
    cp "$bb" "$R/usr/bin/busybox"
    "$bb" --list-full | while read -r a; do
        case $a in
            sbin/*|usr/sbin/*) dst=$R/usr/sbin/$(basename "$a") ;;
            *) dst=$R/usr/bin/$(basename "$a") ;;
        esac
        [ -e "$dst" ] || ln -s /usr/bin/busybox "$dst"
    done

    # real binaries
    local copied=()
    for b in $BINARIES $BINARIES_OPTIONAL; do
        src=""
        for d in usr/sbin usr/bin sbin bin; do
            if [ -f "$U/$d/$b" ] && [ ! -L "$U/$d/$b" ]; then src=$U/$d/$b; break; fi
        done
        if [ -z "$src" ]; then
            case " $BINARIES_OPTIONAL " in
                *" $b "*) log "note: no '$b' in Debian $ERA's packages: the guest has none"; continue ;;
            esac
            die "binary '$b' not found in the unpacked packages"
        fi
        case $src in */sbin/*) dst=$R/usr/sbin/$b ;; *) dst=$R/usr/bin/$b ;; esac
        rm -f "$R/usr/sbin/$b" "$R/usr/bin/$b"        # drop busybox applet link
        cp "$src" "$dst"
        copied+=("$dst")
    done

    # shared libraries: resolve NEEDED recursively against the unpacked tree
    local LIBDIRS="usr/lib/x86_64-linux-gnu lib/x86_64-linux-gnu usr/lib lib usr/lib64 lib64"
    find_lib() {
        local so=$1 d
        for d in $LIBDIRS; do
            [ -e "$U/$d/$so" ] && { echo "$U/$d/$so"; return 0; }
        done
        return 1
    }
    local -A have_lib=()
    local pending=("${copied[@]}") unresolved=""
    while [ ${#pending[@]} -gt 0 ]; do
        f=${pending[0]}; pending=("${pending[@]:1}")
        for so in $(readelf -d "$f" 2>/dev/null | sed -n 's/.*(NEEDED).*\[\(.*\)\]/\1/p'); do
            [ -z "${have_lib[$so]:-}" ] || continue
            have_lib[$so]=1
            if src=$(find_lib "$so"); then
                cp -L "$src" "$R/usr/lib/x86_64-linux-gnu/$so"
                pending+=("$R/usr/lib/x86_64-linux-gnu/$so")
            else
                unresolved="$unresolved $so(needed by $(basename "$f"))"
            fi
        done
    done
    [ -z "$unresolved" ] || die "unresolved shared libraries:$unresolved — add the providing package to USER_PKGS"

    # dynamic loader
    interp=$(readelf -l "$R/usr/sbin/nvme" | sed -n 's/.*Requesting program interpreter: \(.*\)\]/\1/p')
    [ -n "$interp" ] || die "cannot read the ELF interpreter of nvme"
    ldso=$(find_lib "$(basename "$interp")") || die "dynamic loader $(basename "$interp") not found"
    cp -L "$ldso" "$R/usr/lib/x86_64-linux-gnu/$(basename "$interp")"
    ln -sf ../lib/x86_64-linux-gnu/"$(basename "$interp")" "$R/usr/lib64/$(basename "$interp")"
    echo /usr/lib/x86_64-linux-gnu > "$R/etc/ld.so.conf"
    ldconfig -r "$R" 2>/dev/null || log "warning: ldconfig -r failed (the guest will rely on default paths)"

    # small /etc
    cat > "$R/etc/passwd" <<'EOF'
root:x:0:0:root:/root:/bin/sh
nobody:x:65534:65534:nobody:/nonexistent:/bin/false
EOF
    cat > "$R/etc/group" <<'EOF'
root:x:0:
nogroup:x:65534:
EOF
    echo "127.0.0.1 localhost" > "$R/etc/hosts"
    echo "nvmet-guest" > "$R/etc/hostname"
    {
        echo "userland: Debian $ERA, built $(date -u +%Y-%m-%dT%H:%M:%SZ)"
        awk -F'\t' '$1 == "pkg" {n=split($4, a, "/"); print "  " a[n]}' "$uset"
    } > "$R/etc/guest-userland-info"
    # /init and lib.sh (the copies in tests.cpio.gz, packed by
    # tests/guest/run.sh, override these)
    install -m 0755 "$ROOT/tests/guest/init" "$R/init"
    install -m 0644 "$ROOT/tests/guest/lib.sh" "$R/tests/lib.sh"

    # sanity: the loader can run the copied nvme (on the host, against the rootfs)
    if ! "$R/usr/lib/x86_64-linux-gnu/$(basename "$interp")" --library-path "$R/usr/lib/x86_64-linux-gnu" \
            "$R/usr/sbin/nvme" version >/dev/null 2>&1; then
        log "warning: could not run nvme via the image's loader on the host (host kernel too old?)"
    fi
}
make_layer "userland-$ERA" "$(cat "$uset" "$U/.stamp")" populate_userland
L_USER=$LAYER

# ---------------------------------------------------------------- kernel + modules
# For a Debian kernel: download and unpack it (once per version).
if [ $KSRC = debian ]; then
    gen_kernel_set() {
        local p pkgs
        if [ "$KKIND" = split ]; then
            pkgs="linux-binary-$KVER linux-modules-$KVER"
        else
            pkgs="linux-image-$KVER"
        fi
        kernel_index | awk -F'\t' -v s="$KSUITE" -v pk=" $pkgs " \
            'index(pk, " " $2 " ") && $1 == s {print "pkg\t=" $3 "\t" $2 "\t" $4}' | sort -u
    }
    kset=$(resolved_set "kernel-$KVER" gen_kernel_set)
    [ "$(grep -c '^pkg' "$kset")" -ge 1 ] || die "kernel packages of $KVER could not be resolved"
    fetch_set "$kset"
    mapfile -t kdebs < <(debs_of "$kset")
    KDIR=$WORK/kernel-$KVER
    [ -d "$KDIR" ] || log "unpacking kernel $KVER (large, once)"
    unpack "$KDIR" "${kdebs[@]}"
    KMODBASE=""
    for d in "$KDIR/usr/lib/modules/$KVER" "$KDIR/lib/modules/$KVER"; do
        [ -d "$d" ] && { KMODBASE=$d; break; }
    done
    [ -n "$KMODBASE" ] || die "modules directory lib/modules/$KVER missing in the kernel packages"
    KIMAGE=""
    for c in "$KMODBASE/vmlinuz" "$KDIR/boot/vmlinuz-$KVER"; do
        [ -f "$c" ] && { KIMAGE=$c; break; }
    done
    [ -n "$KIMAGE" ] || die "no vmlinuz in the kernel packages of $KVER"
    # A split kernel's configuration is in linux-base-KVER (optional: only
    # blktests reads it, from the image's /boot/config-KVER)
    KBASE=""
    if [ "$KKIND" = split ]; then
        gen_kbase_set() {
            kernel_index | awk -F'\t' -v s="$KSUITE" -v p="linux-base-$KVER" \
                '$2 == p && $1 == s {print "pkg\t=" $3 "\t" $2 "\t" $4}' | sort -u
        }
        bset=$(resolved_set "kernel-base-$KVER" gen_kbase_set)
        if grep -q '^pkg' "$bset"; then
            fetch_set "$bset"
            mapfile -t bdebs < <(debs_of "$bset")
            KBASE=$WORK/kernel-base-$KVER
            unpack "$KBASE" "${bdebs[@]}"
        else
            log "note: no linux-base-$KVER: the image has no /boot/config-$KVER"
        fi
    fi
fi

# Modules: a name -> file map of everything the kernel has, then the wanted
# modules and their dependencies (modinfo's depends=) in load order.
# Works the same for an installed modules directory and a build tree.
MODMAP=$WORK/modmap-$IMAGE_ID.txt
modorder=$WORK/modules.order.$IMAGE_ID
norm() { echo "$1" | tr - _; }
if [ -n "$KMODBASE" ]; then
    if [ $KSRC = tree ]; then
        # modules.order lists the objects (foo.o, older kernels foo.ko)
        sed -e 's/\.o$/.ko/' "$KMODBASE/modules.order" | while read -r m; do
            [ -f "$KMODBASE/$m" ] && echo "$KMODBASE/$m"
        done
    else
        find "$KMODBASE" -name '*.ko' -o -name '*.ko.xz' -o -name '*.ko.zst' -o -name '*.ko.gz'
    fi | awk '{ n = $0; sub(/.*\//, "", n); sub(/\.ko(\.(xz|zst|gz))?$/, "", n); gsub(/-/, "_", n); print n "\t" $0 }' \
        > "$MODMAP"
    builtin_list=""
    for b in "$KMODBASE/modules.builtin"; do
        [ -f "$b" ] && builtin_list=$(sed -e 's|.*/||' -e 's/\.ko$//' -e 's/-/_/g' "$b" | tr '\n' ' ')
    done
    declare -A mod_seen=()
    mod_order=()
    # visit NAME REQUIRED: depth-first, dependencies first
    visit() {
        local n f deps d
        n=$(norm "$1")
        [ -z "${mod_seen[$n]:-}" ] || return 0
        mod_seen[$n]=1
        f=$(awk -F'\t' -v n="$n" '$1 == n {print $2; exit}' "$MODMAP")
        if [ -z "$f" ]; then
            case " $builtin_list " in *" $n "*) return 0 ;; esac
            [ "$2" = 1 ] && die "required module $1 is neither a module nor built into $KVER"
            log "note: module $1 not available in $KVER"
            return 0
        fi
        deps=$(modinfo -F depends "$f" 2>/dev/null | tr ',' ' ')
        for d in $deps; do visit "$d" "$2"; done
        mod_order+=("$f")
    }
    for m in $MODS_REQUIRED; do visit "$m" 1; done
    for m in $MODS_OPTIONAL; do visit "$m" 0; done
    printf '%s\n' "${mod_order[@]}" > "$modorder"
else
    for m in $MODS_REQUIRED; do
        log "note: $KVER has no modules: $m must be built in"
    done
    : > "$modorder"
fi

populate_modules() {
    local R=$1 ko b md=$1/usr/lib/modules/$KVER
    mkdir -p "$md" "$R/etc"
    : > "$R/etc/modules.order"
    # decompressed: busybox insmod cannot rely on xz/zstd support
    while read -r ko; do
        [ -n "$ko" ] || continue
        b=$(basename "$ko"); b=${b%.xz}; b=${b%.zst}; b=${b%.gz}
        case $ko in
            *.xz) xz -dc "$ko" > "$md/$b" ;;
            *.zst) zstd -qdc "$ko" > "$md/$b" ;;
            *.gz) gzip -dc "$ko" > "$md/$b" ;;
            *) cp "$ko" "$md/$b" ;;
        esac
        echo "$b" >> "$R/etc/modules.order"
    done < "$modorder"
    echo "$KVER" > "$R/etc/kernel-release"
    echo "kernel: $KINFO" > "$R/etc/guest-kernel-info"
    # the kernel's configuration: blktests reads kernel options from
    # /boot/config-VERSION (_have_kernel_option)
    [ -z "$KCONFIG" ] || install -D -m 0644 "$KCONFIG" "$R/boot/config-$KVER"
}
KCONFIG=""
for c in "${KMODBASE:+$KMODBASE/config}" "${KDIR:+$KDIR/boot/config-$KVER}" \
         "${KBASE:+$KBASE/usr/lib/modules/$KVER/config}" "${tree:+$tree/.config}"; do
    [ -n "$c" ] && [ -f "$c" ] && { KCONFIG=$c; break; }
done
# the modules' identity: file names, sizes and times
modkey=$( { echo "$KINFO"; while read -r ko; do stat -L -c '%n %s %Y' "$ko"; done < "$modorder"
           [ -z "$KCONFIG" ] || stat -L -c '%n %s %Y' "$KCONFIG"; } | sha)
make_layer "modules-$IMAGE_ID" "$modkey" populate_modules
L_MODS=$LAYER

# ---------------------------------------------------------------- the image
IMG=$OUT/images/$IMAGE_ID
mkdir -p "$IMG"
if [ $KSRC = debian ]; then
    cmp -s "$KIMAGE" "$IMG/vmlinuz" || { cp "$KIMAGE" "$IMG/vmlinuz.tmp" && mv -f "$IMG/vmlinuz.tmp" "$IMG/vmlinuz"; }
else
    ln -sfn "$KIMAGE" "$IMG/vmlinuz"
fi
# The layers, in boot order (later archives override earlier files).
IMAGE_LAYERS=("$L_USER" "$L_MODS")
printf '%s\n' "${IMAGE_LAYERS[@]}" > "$IMG/layers"
{
    echo "kernel $KVER"
    echo "source $KINFO"
    echo "userland $ERA"
} > "$IMG/info"

if [ $spec_given = 0 ]; then
    ln -sfn "$IMAGE_ID" "$OUT/images/default"
    ln -sfn "images/$IMAGE_ID/vmlinuz" "$OUT/vmlinuz"
    # the layers concatenated, for tools that want one initramfs file
    ikey=$(for l in "${IMAGE_LAYERS[@]}"; do cat "$l.key"; done | sha)
    if [ "$(cat "$OUT/initramfs.stamp" 2>/dev/null)" != "$ikey" ] || [ ! -s "$OUT/initramfs.cpio.gz" ]; then
        cat "${IMAGE_LAYERS[@]}" > "$OUT/initramfs.cpio.gz.tmp"
        mv "$OUT/initramfs.cpio.gz.tmp" "$OUT/initramfs.cpio.gz"
        echo "$ikey" > "$OUT/initramfs.stamp"
    fi
fi
log "image $IMG: $KVER, userland $ERA ($(( $(date +%s) - t_start )) s)"
echo "$IMG"
