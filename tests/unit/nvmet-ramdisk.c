/*
 * A RAM disk as the block backend of engine namespaces (nvmet-ramdisk.h).
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#include <errno.h>
#include <string.h>

#include "nvmet-ramdisk.h"

int ramdisk_do(NvmetIo *io)
{
    RamDisk *d = io->backend;

    /* queues in several threads may share a disk (test-nvmet-threads) */
    __atomic_fetch_add(&d->nr_ops[io->op], 1, __ATOMIC_RELAXED);
    if (d->fail_errno) {
        return -d->fail_errno;
    }
    if (io->op != NVMET_IO_FLUSH &&
        (io->offset > d->size || io->len > d->size - io->offset)) {
        return -EIO;
    }
    switch (io->op) {
    case NVMET_IO_READ:
        memcpy(io->buf, d->data + io->offset, io->len);
        break;
    case NVMET_IO_WRITE:
        memcpy(d->data + io->offset, io->buf, io->len);
        __atomic_store_n(&d->last_fua, io->fua, __ATOMIC_RELAXED);
        break;
    case NVMET_IO_WRITE_ZEROES:
    case NVMET_IO_DISCARD:
        memset(d->data + io->offset, 0, io->len);
        __atomic_store_n(&d->last_unmap, io->may_unmap, __ATOMIC_RELAXED);
        break;
    case NVMET_IO_FLUSH:
        break;
    }
    return 0;
}
