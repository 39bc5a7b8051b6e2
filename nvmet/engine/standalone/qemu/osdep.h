/*
 * Standalone build of the engine (unit tests, fuzzer, benchmarks): the
 * part of QEMU's "qemu/osdep.h" that the engine relies on.  Every engine
 * source includes "qemu/osdep.h" first, as QEMU requires; inside QEMU that
 * is the real header, here it is this one.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#ifndef NVMET_STANDALONE_OSDEP_H
#define NVMET_STANDALONE_OSDEP_H

#include <errno.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/uio.h>
#include <glib.h>

#ifndef container_of
#define container_of(ptr, type, member) \
    ((type *)((char *)(ptr) - offsetof(type, member)))
#endif

/* Round down/up to a multiple of @m (any value, not only powers of 2). */
#define QEMU_ALIGN_DOWN(n, m) ((n) / (m) * (m))
#define QEMU_ALIGN_UP(n, m) QEMU_ALIGN_DOWN((n) + (m) - 1, (m))

#endif
