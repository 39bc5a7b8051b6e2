/*
 * NVMe-oF target engine: a queue's pool of data buffers (see bufpool.c).
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#ifndef NVMET_ENGINE_BUFPOOL_H
#define NVMET_ENGINE_BUFPOOL_H

#include <glib.h>
#include <stddef.h>
#include <stdint.h>

/* Size classes: 4 KiB, 8 KiB, ... 32 MiB (NVMET_XFER_MAX_NO_MDTS). */
#define NVMET_BUFPOOL_MIN_SHIFT  12
#define NVMET_BUFPOOL_CLASSES    14
#define NVMET_BUFPOOL_ALIGN      4096
/* What a queue keeps for reuse when its buffers come back. */
#define NVMET_BUFPOOL_MAX_CACHED (4u << 20)

typedef struct NvmetBufPool {
    void *free[NVMET_BUFPOOL_CLASSES];  /* lists linked through the buffers */
    size_t cached;                      /* bytes on the lists */
    size_t max_cached;
    uint64_t allocated;                 /* buffers taken from the allocator */
    uint64_t reused;                    /* buffers taken from the lists */
} NvmetBufPool;

void nvmet_bufpool_init(NvmetBufPool *p, size_t max_cached);
/* Free everything on the lists. */
void nvmet_bufpool_destroy(NvmetBufPool *p);
/*
 * A buffer of at least @len bytes (@len <= 32 MiB), aligned to 4 KiB, with
 * whatever it held before (not zeroed).  NULL if memory is short.
 */
void *nvmet_bufpool_get(NvmetBufPool *p, size_t len);
/* Give back a buffer that nvmet_bufpool_get() returned for @len bytes. */
void nvmet_bufpool_put(NvmetBufPool *p, void *buf, size_t len);
/* The bytes nvmet_bufpool_get() really reserves for @len. */
size_t nvmet_bufpool_size(size_t len);

#endif /* NVMET_ENGINE_BUFPOOL_H */
