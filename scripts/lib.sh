# SPDX-License-Identifier: GPL-2.0-or-later
# Shared helpers for the project's scripts (sourced, not executed).

NVMET_TOP=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
NVMET_BUILD=${NVMET_BUILD:-$NVMET_TOP/build}

log() { printf '[%s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
die() { printf 'error: %s\n' "$*" >&2; exit 1; }

# apt_install PKG...: install the packages that are missing (host
# packages from bookworm or bookworm-backports only; PKG/suite allowed).
apt_install() {
    local missing=() p name
    for p in "$@"; do
        name=${p%%/*}
        if ! dpkg-query -W -f='${Status}' "$name" 2>/dev/null |
                grep -q 'install ok installed'; then
            missing+=("$p")
        fi
    done
    [ ${#missing[@]} -eq 0 ] && return 0
    [ "$(id -u)" = 0 ] || die "need root to install: ${missing[*]}"
    "$NVMET_TOP/scripts/setup-apt.sh"
    log "apt: installing ${missing[*]}"
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q \
        -o Acquire::Retries=3 --no-install-recommends "${missing[@]}" >&2
}

# Host packages needed to build QEMU with the target and to run its tests.
QEMU_BUILD_DEPS=(build-essential pkg-config ninja-build meson/bookworm-backports
    python3 python3-venv dpkg-dev libglib2.0-dev libpixman-1-dev libslirp-dev
    libgnutls28-dev nettle-dev libgmp-dev zlib1g-dev libfdt-dev flex bison
    ccache rsync)
