/*
 * A RAM disk as the block backend of engine namespaces, for the unit
 * tests and the fuzzer.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#ifndef NVMET_RAMDISK_H
#define NVMET_RAMDISK_H

#include <stdbool.h>
#include <stdint.h>
#include "nvmet/engine.h"

typedef struct RamDisk {
    uint8_t *data;
    uint64_t size;
    int fail_errno;         /* next ops fail with -fail_errno */
    unsigned nr_ops[5];     /* per NvmetIoOp */
    bool last_fua, last_unmap;
} RamDisk;

/* Perform @io on the RamDisk that is its backend: 0 or a negative errno. */
int ramdisk_do(NvmetIo *io);

#endif
