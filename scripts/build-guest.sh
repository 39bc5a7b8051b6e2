#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# Build the Linux guest used to test the NVMe/TCP target with the real Linux
# nvme-tcp host driver:
#
#   build/guest/vmlinuz            kernel (Debian sid linux-binary-7.x, fallback
#                                  trixie-backports)
#   build/guest/initramfs.cpio.gz  base initramfs: busybox, nvme-cli, tlshd,
#                                  keyctl, blkdiscard, glibc, the kernel modules
#                                  for nvme-tcp (+TLS) and the in-guest nvmet
#   build/guest/firmware/          the QEMU -L directory (SeaBIOS, option ROMs)
#   build/guest/debs/              downloaded .deb cache
#
# Guest test scripts (tests/guest/*.sh) and /init are NOT baked into the image
# for testing purposes: tests/guest/run.sh packs them into a small second cpio
# that overrides the base image's copies at boot.
#
# Idempotent and incremental: every stage is skipped when its inputs did not
# change.  Packages are only downloaded (apt-get download) and unpacked with
# dpkg-deb -x; trixie/sid binaries are never installed into the host.
#
# Usage: scripts/build-guest.sh [--force] [--offline]
#   --force    rebuild the rootfs/initramfs even if up to date
#   --offline  do not consult apt; reuse the last resolved package set
set -euo pipefail

die() { echo "build-guest.sh: error: $*" >&2; exit 1; }
log() { echo "build-guest: $*" >&2; }

force=0 offline=0
for a in "$@"; do
    case $a in
        --force) force=1 ;;
        --offline) offline=1 ;;
        -h|--help) sed -n '4,27p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
        *) die "unknown argument '$a' (see --help)" ;;
    esac
done

[ "$(id -u)" = 0 ] || die "must run as root (apt-get)"

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
OUT=$ROOT/build/guest
DEBS=$OUT/debs
WORK=$OUT/work
mkdir -p "$OUT" "$DEBS" "$WORK"
exec 9> "$OUT/.lock"
flock -w 1800 9 || die "another build-guest.sh holds $OUT/.lock"

t_start=$(date +%s)

# Guest kernel modules wanted (dependencies are added by modprobe).  A missing
# optional module only produces a warning; a missing required one is fatal.
MODS_REQUIRED="nvme-core nvme-fabrics nvme-tcp tls virtio_net configfs nvmet nvmet-tcp null_blk"
MODS_OPTIONAL="virtio_pci nvme-auth nvme-keyring gcm ctr gf128mul aesni-intel failover net_failover loop xfs"

# Where to look for the guest kernel (linux-image-amd64 must depend on a 7.x
# linux-image), in order.  Override with GUEST_KERNEL_SUITES.
KERNEL_SUITES=${GUEST_KERNEL_SUITES:-"sid trixie-backports"}

# Guest userspace packages (resolved in sid together with their lib* deps).
USER_PKGS="busybox-static nvme-cli libnvme1t64 ktls-utils keyutils util-linux libc6"

# Binaries copied into the image: name -> paths searched in the unpacked tree.
BINARIES="nvme tlshd keyctl blkdiscard"

# ---------------------------------------------------------------- host tools
"$ROOT/scripts/setup-apt.sh"

need_pkgs=""
for p in cpio xz-utils kmod binutils gzip libc-bin coreutils findutils; do
    if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'ok installed'; then
        need_pkgs="$need_pkgs $p"
    fi
done
if [ -n "$need_pkgs" ]; then
    log "installing host tools:$need_pkgs"
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends $need_pkgs >&2
fi
for t in cpio xz depmod modprobe readelf gzip dpkg-deb ldconfig sha256sum; do
    command -v "$t" >/dev/null || die "host tool '$t' not found after installing host packages"
done

# ---------------------------------------------------------------- resolution
# apt-cache is slow here (no pkgcache.bin: ~2 s per call), so the resolved
# package set is cached and only recomputed when the apt lists change.
lists_key() {
    { sha256sum "$0"
      echo "$KERNEL_SUITES"
      ls -l --time-style=+%s /var/lib/apt/lists/*InRelease 2>/dev/null
    } | sha256sum | cut -d' ' -f1
}

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
            case $got in *" $p "*) ;; *) log "warning: package '$p' not found in $rel (skipped)" ;; esac
        done
        queue=("${next[@]+"${next[@]}"}")
    done
    printf '%s' "$result"
}

resolve_kernel() {
    local rel dep kver
    for rel in $KERNEL_SUITES; do
        dep=$( (apt-cache show --no-all-versions "linux-image-amd64/$rel" 2>/dev/null || true) |
              sed -n 's/^Depends: //p' | tr ',' '\n' |
              sed -n 's/^ *linux-image-\(7\.[^ ]*-amd64\).*/\1/p' | head -n1)
        [ -n "$dep" ] || continue
        kver=$dep
        # kernel image and modules must both exist in that release
        if [ "$(show_records "$rel" "linux-binary-$kver" "linux-modules-$kver" | wc -l)" = 2 ]; then
            echo "$rel $kver"
            return 0
        fi
    done
    return 1
}

resolved=$OUT/resolved.txt
key=$(lists_key)
if [ $offline = 1 ] && [ -s "$resolved" ]; then
    log "offline: reusing $resolved"
elif [ -s "$resolved" ] && [ "$(head -n1 "$resolved")" = "key $key" ]; then
    :
else
    log "resolving packages (apt-cache)"
    read -r krel kver < <(resolve_kernel) ||
        die "no linux-image-amd64 7.x kernel found in: $KERNEL_SUITES (apt lists stale? run scripts/setup-apt.sh)"
    {
        echo "key $key"
        echo "kernel $krel $kver"
        show_records "$krel" "linux-binary-$kver" "linux-modules-$kver" "linux-base-$kver" |
            awk -F'\t' -v r="$krel" '{print "kpkg\t" r "\t" $1 "\t" $2}'
        resolve_closure sid $USER_PKGS | awk -F'\t' '{print "upkg\tsid\t" $1 "\t" $2}'
        # firmware: option ROMs from trixie's qemu-system-data, BIOS/iPXE from the host suite
        show_records trixie qemu-system-data | awk -F'\t' '{print "fpkg\ttrixie\t" $1 "\t" $2}'
        for p in seabios ipxe-qemu; do
            v=$(apt-cache policy "$p" | sed -n 's/^ *Candidate: //p')
            [ -n "$v" ] && [ "$v" != "(none)" ] || die "no candidate for host package $p"
            fn=$(apt-cache show "$p=$v" | sed -n 's/^Filename: //p' | head -n1)
            printf 'fpkg\t=%s\t%s\t%s\n' "$v" "$p" "$fn"
        done
    } > "$resolved.tmp"
    grep -q '^kpkg' "$resolved.tmp" || die "kernel packages could not be resolved"
    grep -q $'^upkg\tsid\tnvme-cli\t' "$resolved.tmp" || die "nvme-cli not found in sid"
    mv "$resolved.tmp" "$resolved"
fi
read -r _ krel kver < <(grep '^kernel ' "$resolved")
log "kernel $kver ($krel)"

# ---------------------------------------------------------------- download
# Each line: kind, release-or-=version, package, pool filename.
missing=()
while IFS=$'\t' read -r kind rel pkg fn; do
    case $kind in kpkg|upkg|fpkg) ;; *) continue ;; esac
    [ -s "$DEBS/$(basename "$fn")" ] && continue
    case $rel in =*) missing+=("$pkg$rel") ;; *) missing+=("$pkg/$rel") ;; esac
done < "$resolved"
if [ ${#missing[@]} -gt 0 ]; then
    [ $offline = 0 ] || die "offline, but packages are missing: ${missing[*]}"
    log "downloading ${#missing[@]} package(s)"
    tmpd=$(mktemp -d "$DEBS/.dl.XXXXXX")
    trap 'rm -rf "$tmpd"' EXIT
    (cd "$tmpd" && apt-get download -q -o APT::Sandbox::User=root "${missing[@]}" >&2) ||
        die "apt-get download failed for: ${missing[*]}"
    for d in "$tmpd"/*.deb; do
        # apt-get download encodes an epoch as "N%3a"; pool file names have none
        b=$(basename "$d" | sed 's/_[0-9]*%3a/_/')
        mv "$d" "$DEBS/$b"
    done
    rm -rf "$tmpd"; trap - EXIT
fi
debfile() { echo "$DEBS/$(basename "$1")"; }
# drop cached debs that the current package set no longer uses
for d in "$DEBS"/*.deb; do
    [ -e "$d" ] || continue
    grep -q -F "/$(basename "$d")" "$resolved" || { log "pruning old $(basename "$d")"; rm -f "$d"; }
done
while IFS=$'\t' read -r kind rel pkg fn; do
    case $kind in kpkg|upkg|fpkg) [ -s "$(debfile "$fn")" ] || die "missing $(debfile "$fn") after download" ;; esac
done < "$resolved"

# unpack DIR DEB... : unpack the debs into DIR unless DIR/.stamp matches them
unpack() {
    local dir=$1; shift
    local stamp d
    stamp=$(for d in "$@"; do basename "$d"; done | sort | sha256sum | cut -d' ' -f1)
    if [ -d "$dir" ] && [ "$(cat "$dir/.stamp" 2>/dev/null)" = "$stamp" ]; then
        return 0
    fi
    rm -rf "$dir.tmp" "$dir"
    mkdir -p "$dir.tmp"
    for d in "$@"; do dpkg-deb -x "$d" "$dir.tmp" || die "dpkg-deb -x $d failed"; done
    echo "$stamp" > "$dir.tmp/.stamp"
    mv "$dir.tmp" "$dir"
}
debs_of() { awk -F'\t' -v k="$1" '$1 == k {print $4}' "$resolved" | while read -r fn; do debfile "$fn"; done; }

# ---------------------------------------------------------------- firmware
mapfile -t fdebs < <(debs_of fpkg)
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

# ---------------------------------------------------------------- kernel
mapfile -t kdebs < <(debs_of kpkg)
KDIR=$WORK/kernel-$kver
if [ ! -d "$KDIR" ] || [ "$(cat "$KDIR/.stamp" 2>/dev/null)" != "$(for d in "${kdebs[@]}"; do basename "$d"; done | sort | sha256sum | cut -d' ' -f1)" ]; then
    log "unpacking kernel $kver (large, once)"
    for old in "$WORK"/kernel-*; do [ "$old" = "$KDIR" ] || rm -rf "$old"; done
fi
unpack "$KDIR" "${kdebs[@]}"
kmoddir=$KDIR/usr/lib/modules/$kver
[ -d "$kmoddir" ] || die "modules directory usr/lib/modules/$kver missing in linux-modules package"
vmlinuz_src=""
for c in "$kmoddir/vmlinuz" "$KDIR/boot/vmlinuz-$kver"; do
    [ -f "$c" ] && { vmlinuz_src=$c; break; }
done
[ -n "$vmlinuz_src" ] || die "no vmlinuz in linux-binary-$kver"
if ! cmp -s "$vmlinuz_src" "$OUT/vmlinuz"; then
    cp "$vmlinuz_src" "$OUT/vmlinuz.tmp" && mv "$OUT/vmlinuz.tmp" "$OUT/vmlinuz"
fi
# depmod/modprobe (bookworm kmod) look under BASE/lib/modules.
[ -e "$KDIR/lib" ] || ln -s usr/lib "$KDIR/lib"
if [ ! -s "$kmoddir/modules.dep" ] || [ ! -s "$kmoddir/modules.dep.bin" ]; then
    log "depmod $kver"
    depmod -b "$KDIR" "$kver" || die "depmod failed"
fi

# Module load order: modprobe --show-depends lists dependencies first.
modlist=$WORK/modules.order.$kver
{
    for m in $MODS_REQUIRED $MODS_OPTIONAL; do
        req=0
        case " $MODS_REQUIRED " in *" $m "*) req=1 ;; esac
        if ! out=$(modprobe -d "$KDIR" -S "$kver" --show-depends "$m" 2>&1); then
            [ $req = 0 ] || die "required module $m not available: $out"
            log "note: optional module $m not available (${out##*: })"
            continue
        fi
        printf '%s\n' "$out"
    done
} | awk '$1 == "insmod" { if (!seen[$2]++) print $2 }' > "$modlist.tmp"
mv "$modlist.tmp" "$modlist"

# ---------------------------------------------------------------- userspace
mapfile -t udebs < <(debs_of upkg)
unpack "$WORK/user" "${udebs[@]}"
U=$WORK/user

# ---------------------------------------------------------------- rootfs
inputs_stamp=$( {
    sha256sum "$0"
    cat "$resolved"
    cat "$modlist"
    cat "$U/.stamp"
} | sha256sum | cut -d' ' -f1)
if [ $force = 0 ] && [ -s "$OUT/initramfs.cpio.gz" ] &&
   [ "$(cat "$OUT/initramfs.stamp" 2>/dev/null)" = "$inputs_stamp" ]; then
    log "initramfs up to date ($(( $(date +%s) - t_start )) s)"
    exit 0
fi

log "assembling rootfs"
R=$WORK/rootfs
rm -rf "$R"
mkdir -p "$R"/usr/bin "$R"/usr/sbin "$R"/usr/lib/x86_64-linux-gnu "$R"/usr/lib64 \
         "$R"/dev "$R"/proc "$R"/sys "$R"/tmp "$R"/run "$R"/etc/nvme "$R"/root "$R"/tests \
         "$R"/mnt "$R"/var
chmod 1777 "$R/tmp"
ln -s usr/bin "$R/bin"; ln -s usr/sbin "$R/sbin"; ln -s usr/lib "$R/lib"; ln -s usr/lib64 "$R/lib64"

# busybox and its applets (real binaries copied below take precedence)
bb=""
for c in "$U/usr/bin/busybox" "$U/bin/busybox"; do [ -x "$c" ] && { bb=$c; break; }; done
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
copied=()
for b in $BINARIES; do
    src=""
    for d in usr/sbin usr/bin sbin bin; do
        if [ -f "$U/$d/$b" ] && [ ! -L "$U/$d/$b" ]; then src=$U/$d/$b; break; fi
    done
    [ -n "$src" ] || die "binary '$b' not found in the unpacked packages"
    case $src in */sbin/*) dst=$R/usr/sbin/$b ;; *) dst=$R/usr/bin/$b ;; esac
    rm -f "$R/usr/sbin/$b" "$R/usr/bin/$b"        # drop busybox applet link
    cp "$src" "$dst"
    copied+=("$dst")
done

# shared libraries: resolve NEEDED recursively against the unpacked tree
LIBDIRS="usr/lib/x86_64-linux-gnu lib/x86_64-linux-gnu usr/lib lib usr/lib64 lib64"
find_lib() {
    local so=$1 d
    for d in $LIBDIRS; do
        [ -e "$U/$d/$so" ] && { echo "$U/$d/$so"; return 0; }
    done
    return 1
}
declare -A have_lib=()
pending=("${copied[@]}")
unresolved=""
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

# kernel modules (decompressed: busybox insmod cannot rely on xz support)
mkdir -p "$R/lib/modules/$kver"
: > "$R/etc/modules.order"
while read -r ko; do
    b=$(basename "$ko"); b=${b%.xz}; b=${b%.zst}; b=${b%.gz}
    case $ko in
        *.xz) xz -dc "$ko" > "$R/lib/modules/$kver/$b" ;;
        *.zst) zstd -qdc "$ko" > "$R/lib/modules/$kver/$b" ;;
        *.gz) gzip -dc "$ko" > "$R/lib/modules/$kver/$b" ;;
        *) cp "$ko" "$R/lib/modules/$kver/$b" ;;
    esac
    echo "$b" >> "$R/etc/modules.order"
done < "$modlist"
echo "$kver" > "$R/etc/kernel-release"
# kernel configuration: blktests' _have_kernel_options reads /boot/config-VER
if [ -f "$kmoddir/config" ]; then
    install -D -m 0644 "$kmoddir/config" "$R/boot/config-$kver"
fi

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
    echo "guest image built $(date -u +%Y-%m-%dT%H:%M:%SZ)"
    echo "kernel $kver ($krel)"
    awk -F'\t' '$1 == "upkg" || $1 == "kpkg" {n=split($4, a, "/"); print "  " a[n]}' "$resolved"
} > "$R/etc/guest-image-info"

# /init (the copy in tests.cpio.gz, packed by tests/guest/run.sh, overrides it)
[ -f "$ROOT/tests/guest/init" ] && install -m 0755 "$ROOT/tests/guest/init" "$R/init"
[ -f "$ROOT/tests/guest/lib.sh" ] && install -m 0644 "$ROOT/tests/guest/lib.sh" "$R/tests/lib.sh"

# sanity: the loader can run the copied nvme (on the host, against the rootfs)
if ! "$R/usr/lib/x86_64-linux-gnu/$(basename "$interp")" --library-path "$R/usr/lib/x86_64-linux-gnu" \
        "$R/usr/sbin/nvme" version >/dev/null 2>&1; then
    log "warning: could not run nvme via the image's loader on the host (kernel too old?)"
fi

log "packing initramfs"
(cd "$R" && find . -mindepth 1 | LC_ALL=C sort | cpio -o -H newc -R 0:0 --quiet) |
    gzip -6 > "$OUT/initramfs.cpio.gz.tmp"
mv "$OUT/initramfs.cpio.gz.tmp" "$OUT/initramfs.cpio.gz"
echo "$inputs_stamp" > "$OUT/initramfs.stamp"
log "done: $OUT/vmlinuz, $OUT/initramfs.cpio.gz ($(du -h "$OUT/initramfs.cpio.gz" | cut -f1)), $OUT/firmware ($(( $(date +%s) - t_start )) s)"
