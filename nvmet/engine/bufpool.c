/*
 * NVMe-oF target engine: a queue's pool of data buffers.
 *
 * Command data (a Read's buffer that goes out in C2HData, a Write's that
 * H2CData fills) is the hot path's only large memory.  Allocating and
 * zeroing it for every command costs page faults and memsets per byte, so
 * each queue keeps the buffers its finished commands gave back, by
 * power-of-two size class, up to a few MiB, and hands them out again as
 * they are.  A buffer never moves between queues: whatever a reused
 * buffer still holds came from the same connection.  Buffers are aligned
 * to 4 KiB so that O_DIRECT backends need no bounce buffer.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#include "qemu/osdep.h"
#include "bufpool.h"

static unsigned size_class(size_t len)
{
    unsigned c = 0;

    while (c < NVMET_BUFPOOL_CLASSES - 1 &&
           ((size_t)1 << (NVMET_BUFPOOL_MIN_SHIFT + c)) < len) {
        c++;
    }
    return c;
}

size_t nvmet_bufpool_size(size_t len)
{
    return (size_t)1 << (NVMET_BUFPOOL_MIN_SHIFT + size_class(len));
}

void nvmet_bufpool_init(NvmetBufPool *p, size_t max_cached)
{
    memset(p, 0, sizeof(*p));
    p->max_cached = max_cached;
}

void nvmet_bufpool_destroy(NvmetBufPool *p)
{
    for (unsigned c = 0; c < NVMET_BUFPOOL_CLASSES; c++) {
        while (p->free[c]) {
            void *buf = p->free[c];

            p->free[c] = *(void **)buf;
            free(buf);
        }
    }
    p->cached = 0;
}

void *nvmet_bufpool_get(NvmetBufPool *p, size_t len)
{
    unsigned c = size_class(len);
    size_t size = (size_t)1 << (NVMET_BUFPOOL_MIN_SHIFT + c);
    void *buf = p->free[c];

    g_assert(len <= size);
    if (buf) {
        p->free[c] = *(void **)buf;
        p->cached -= size;
        /* one writer; nvmet_target_ctrl_queues() reads it elsewhere */
        __atomic_store_n(&p->reused, p->reused + 1, __ATOMIC_RELAXED);
        return buf;
    }
    if (posix_memalign(&buf, NVMET_BUFPOOL_ALIGN, size)) {
        return NULL;
    }
    __atomic_store_n(&p->allocated, p->allocated + 1, __ATOMIC_RELAXED);
    return buf;
}

void nvmet_bufpool_put(NvmetBufPool *p, void *buf, size_t len)
{
    unsigned c = size_class(len);
    size_t size = (size_t)1 << (NVMET_BUFPOOL_MIN_SHIFT + c);

    if (!buf) {
        return;
    }
    if (p->cached + size > p->max_cached) {
        free(buf);
        return;
    }
    *(void **)buf = p->free[c];
    p->free[c] = buf;
    p->cached += size;
}
