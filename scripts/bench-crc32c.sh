#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# CRC32C throughput of the engine (SSE4.2 and table fallback) side by side
# with QEMU's own util/crc32c.c, which the engine could have used instead.
#
#   scripts/bench-crc32c.sh [SECONDS-PER-CELL]      (default 0.3)
#
# Compiles the engine's nvmet/engine/crc32c.c and QEMU's util/crc32c.c (from
# the source scripts/build-qemu.sh unpacked into build/qemu/src) with the
# same flags (-O2) into build/bench.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

qsrc=$NVMET_BUILD/qemu/src
[ -f "$qsrc/util/crc32c.c" ] || "$NVMET_TOP/scripts/build-qemu.sh" qemu-img >&2
# the engine's standalone build generates the trace header crc32c.c includes
eng=$NVMET_BUILD/engine
[ -f "$eng/nvmet-engine-trace.h" ] || "$NVMET_TOP/scripts/run-tests.sh" unit >&2
out=$NVMET_BUILD/bench
mkdir -p "$out/shim/qemu"
# util/crc32c.c only needs the integer types from QEMU's osdep.h
printf '#include <stdint.h>\n#include <stddef.h>\n#include <sys/uio.h>\n' \
    > "$out/shim/qemu/osdep.h"
cc -O2 -std=gnu11 -o "$out/bench-crc32c" \
    "$NVMET_TOP/tests/bench/bench-crc32c.c" \
    -DNVMET_STANDALONE -I"$NVMET_TOP/include" -I"$eng" \
    "$NVMET_TOP/nvmet/engine/crc32c.c" \
    -I"$out/shim" -I"$qsrc/include" "$qsrc/util/crc32c.c" \
    $(pkg-config --cflags glib-2.0)
grep -m1 'model name' /proc/cpuinfo | sed 's/^[^:]*: /CPU: /'
"$out/bench-crc32c" "$@"
