#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# Configure apt so that the project's scripts can:
#  - install build dependencies from bookworm and bookworm-backports (meson >= 1.5),
#  - fetch Debian trixie's qemu *source* package,
#  - download (never install) trixie/sid binary packages for the guest image.
#
# trixie and sid binaries are pinned to priority 1 so that apt never upgrades the
# host's libc/systemd from them.  Idempotent.
set -euo pipefail

[ "$(id -u)" = 0 ] || { echo "setup-apt.sh: must run as root (apt)" >&2; exit 1; }

mirror=${DEBIAN_MIRROR:-http://deb.debian.org/debian}
keyring=/usr/share/keyrings/debian-archive-keyring.gpg
src=/etc/apt/sources.list.d/nvmet-tcp-qemu.sources
pin=/etc/apt/preferences.d/nvmet-tcp-qemu-pin

want=$(cat <<EOS
# Written by nvmet-tcp-qemu scripts/setup-apt.sh
Types: deb
URIs: $mirror
Suites: bookworm-backports
Components: main
Signed-By: $keyring

Types: deb deb-src
URIs: $mirror
Suites: trixie trixie-backports sid
Components: main
Signed-By: $keyring
EOS
)
want_pin=$(cat <<EOS
# Written by nvmet-tcp-qemu scripts/setup-apt.sh: never install trixie/sid
# binaries into the host; they are only downloaded for the guest image.
Package: *
Pin: release n=trixie
Pin-Priority: 1

Package: *
Pin: release n=trixie-backports
Pin-Priority: 1

Package: *
Pin: release n=sid
Pin-Priority: 1

Package: *
Pin: release n=bookworm-backports
Pin-Priority: 100
EOS
)

changed=0
if [ "$(cat "$src" 2>/dev/null)" != "$want" ]; then
    printf '%s\n' "$want" > "$src"; changed=1
fi
if [ "$(cat "$pin" 2>/dev/null)" != "$want_pin" ]; then
    printf '%s\n' "$want_pin" > "$pin"; changed=1
fi

stamp=/var/lib/apt/lists/.nvmet-tcp-qemu-updated
# Refresh the lists when our sources changed or the lists are older than a day.
if [ $changed = 1 ] || [ ! -e "$stamp" ] || [ -n "$(find "$stamp" -mmin +1440 2>/dev/null)" ]; then
    apt-get update -q -o Acquire::Retries=3
    touch "$stamp"
fi
