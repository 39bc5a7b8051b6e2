/*
 * The per-queue data buffer pool (nvmet/engine/bufpool.c), and that the
 * engine's data path uses it: no allocation per command once a queue has
 * the buffers it needs.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#include <stdint.h>
#include <string.h>
#include "nvmet-test-util.h"
#include "bufpool.h"

static void test_classes(void)
{
    g_assert_cmpuint(nvmet_bufpool_size(1), ==, 4096);
    g_assert_cmpuint(nvmet_bufpool_size(512), ==, 4096);
    g_assert_cmpuint(nvmet_bufpool_size(4096), ==, 4096);
    g_assert_cmpuint(nvmet_bufpool_size(4097), ==, 8192);
    g_assert_cmpuint(nvmet_bufpool_size(128 * 1024), ==, 128 * 1024);
    g_assert_cmpuint(nvmet_bufpool_size(128 * 1024 + 1), ==, 256 * 1024);
    g_assert_cmpuint(nvmet_bufpool_size(1 << 20), ==, 1 << 20);
    g_assert_cmpuint(nvmet_bufpool_size(32u << 20), ==, 32u << 20);
}

static void test_reuse(void)
{
    NvmetBufPool p;
    void *a, *b, *c;

    nvmet_bufpool_init(&p, 1 << 20);
    a = nvmet_bufpool_get(&p, 4096);
    b = nvmet_bufpool_get(&p, 100);
    g_assert_nonnull(a);
    g_assert_nonnull(b);
    g_assert_true(a != b);
    /* aligned for O_DIRECT backends */
    g_assert_cmpuint((uintptr_t)a % NVMET_BUFPOOL_ALIGN, ==, 0);
    g_assert_cmpuint((uintptr_t)b % NVMET_BUFPOOL_ALIGN, ==, 0);
    g_assert_cmpuint(p.allocated, ==, 2);
    /* the whole class size is usable (ASan checks the bounds) */
    memset(b, 0xa5, 4096);
    nvmet_bufpool_put(&p, b, 100);
    g_assert_cmpuint(p.cached, ==, 4096);
    /* the same class comes back from the list, not zeroed */
    c = nvmet_bufpool_get(&p, 4000);
    g_assert_true(c == b);
    g_assert_cmpuint(((uint8_t *)c)[100], ==, 0xa5);
    g_assert_cmpuint(p.reused, ==, 1);
    g_assert_cmpuint(p.cached, ==, 0);
    /* another class does not take it */
    nvmet_bufpool_put(&p, c, 4000);
    c = nvmet_bufpool_get(&p, 8192);
    g_assert_true(c != b);
    g_assert_cmpuint(p.allocated, ==, 3);
    nvmet_bufpool_put(&p, c, 8192);
    nvmet_bufpool_put(&p, a, 4096);
    g_assert_cmpuint(p.cached, ==, 4096 + 4096 + 8192);
    /* last in, first out */
    g_assert_true(nvmet_bufpool_get(&p, 4096) == a);
    nvmet_bufpool_put(&p, a, 4096);
    nvmet_bufpool_put(&p, NULL, 4096);
    nvmet_bufpool_destroy(&p);
    g_assert_cmpuint(p.cached, ==, 0);
}

/* What a queue keeps is bounded; the rest goes back to libc. */
static void test_cap(void)
{
    NvmetBufPool p;
    void *bufs[8];

    nvmet_bufpool_init(&p, 256 * 1024);
    for (unsigned i = 0; i < 8; i++) {
        bufs[i] = nvmet_bufpool_get(&p, 128 * 1024);
    }
    g_assert_cmpuint(p.allocated, ==, 8);
    for (unsigned i = 0; i < 8; i++) {
        nvmet_bufpool_put(&p, bufs[i], 128 * 1024);
    }
    g_assert_cmpuint(p.cached, ==, 256 * 1024);
    for (unsigned i = 0; i < 8; i++) {
        bufs[i] = nvmet_bufpool_get(&p, 128 * 1024);
    }
    g_assert_cmpuint(p.reused, ==, 2);
    g_assert_cmpuint(p.allocated, ==, 14);
    for (unsigned i = 0; i < 8; i++) {
        nvmet_bufpool_put(&p, bufs[i], 128 * 1024);
    }
    /* leak checks (ASan) see that destroy frees what was kept */
    nvmet_bufpool_destroy(&p);
}

typedef struct PoolStats {
    uint16_t qid;
    uint64_t allocated, reused;
} PoolStats;

static void queue_stats(const NvmetQueueInfo *info, void *opaque)
{
    PoolStats *st = opaque;

    if (info->qid == st->qid) {
        st->allocated = info->data_buffers_allocated;
        st->reused = info->data_buffers_reused;
    }
}

static PoolStats pool_stats(TestTarget *tt, TestConn *a, uint16_t qid)
{
    PoolStats st = { .qid = qid };

    g_assert_true(nvmet_target_ctrl_queues(tt->t, TEST_SUBNQN, a->cntlid,
                                           queue_stats, &st));
    return st;
}

static uint16_t rw(TestConn *tc, bool write, uint64_t slba, uint32_t nlb,
                   void *buf)
{
    NvmfCqe cqe;

    g_assert_cmpint(nvmf_host_rw(tc->h, write, 1, slba, nlb, buf, nlb * 512,
                                 &cqe), ==, 0);
    return cqe.status;
}

/*
 * Reads and writes (R2T and in-capsule) of a queue reuse their buffers:
 * after the first of each size, nothing is allocated.  A reused buffer
 * never shows what it held before: every byte read comes from the disk.
 */
static void test_engine_reuse(void)
{
    TestTarget *tt = tt_new();
    TestConn *a = tc_new(tt), *io = tc_new(tt);
    g_autofree uint8_t *out = g_malloc(128 * 1024);
    g_autofree uint8_t *in = g_malloc(128 * 1024);
    PoolStats st;

    tc_admin(a, TEST_SUBNQN, TEST_HOSTNQN, false, false);
    tc_io(io, 1, a->cntlid, TEST_SUBNQN, TEST_HOSTNQN, false, false);
    nvmf_host_set_incapsule(io->h, 8192);
    for (unsigned i = 0; i < 50; i++) {
        memset(out, i, 128 * 1024);
        g_assert_cmphex(rw(io, true, 0, 256, out), ==, 0);      /* R2T */
        g_assert_cmphex(rw(io, false, 0, 256, in), ==, 0);
        g_assert_cmpmem(in, 128 * 1024, out, 128 * 1024);
        g_assert_cmphex(rw(io, true, 256, 8, out), ==, 0);      /* capsule */
        g_assert_cmphex(rw(io, false, 256, 8, in), ==, 0);
        g_assert_cmpmem(in, 4096, out, 4096);
    }
    /* the disk changed under the queue: the read shows the disk only */
    memset(tt->disk1.data, 0x5a, 128 * 1024);
    g_assert_cmphex(rw(io, false, 0, 256, in), ==, 0);
    g_assert_cmpmem(in, 128 * 1024, tt->disk1.data, 128 * 1024);

    st = pool_stats(tt, a, 1);
    /* one buffer per size class in use at a time */
    g_assert_cmpuint(st.allocated, <=, 3);
    g_assert_cmpuint(st.reused, >=, 4 * 50 + 1 - 3);
    tc_free(io);
    tc_free(a);
    tt_free(tt);
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/nvmet/bufpool/classes", test_classes);
    g_test_add_func("/nvmet/bufpool/reuse", test_reuse);
    g_test_add_func("/nvmet/bufpool/cap", test_cap);
    g_test_add_func("/nvmet/bufpool/engine-reuse", test_engine_reuse);
    return g_test_run();
}
