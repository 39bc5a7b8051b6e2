/*
 * The engine driven from several threads at once, as QEMU does with
 * iothreads: each I/O queue of one controller served by a thread of its
 * own doing verified I/O, while another thread serves the admin queue and
 * changes the configuration (namespaces come and go, the timer runs,
 * queries walk the controller).  Cross-thread effects (a namespace going
 * away, an asynchronous event, a keep-alive teardown) reach each queue
 * through its own thread.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#include <string.h>
#include "nvmet-test-util.h"

#define NQUEUES  2
#define ROUNDS   300
#define NLB      16                 /* 8 KiB per I/O */

typedef struct Worker {
    TestConn *tc;
    unsigned index;
    unsigned done;
    unsigned ns2_ok, ns2_gone;
} Worker;

static void fill(uint8_t *p, size_t len, unsigned seed)
{
    for (size_t i = 0; i < len; i++) {
        p[i] = (uint8_t)(i * 13 + seed * 101 + (i >> 7));
    }
}

static gpointer worker(gpointer opaque)
{
    Worker *w = opaque;
    uint8_t out[NLB * 512], in[NLB * 512];
    uint64_t slba = w->index * 64;   /* a range of its own */

    for (unsigned i = 0; i < ROUNDS; i++) {
        NvmfCqe cqe;

        fill(out, sizeof(out), i * NQUEUES + w->index);
        g_assert_cmpint(nvmf_host_rw(w->tc->h, true, 1, slba + i % 4 * NLB,
                                     NLB, out, sizeof(out), &cqe), ==, 0);
        g_assert_cmphex(cqe.status, ==, 0);
        g_assert_cmpint(nvmf_host_rw(w->tc->h, false, 1, slba + i % 4 * NLB,
                                     NLB, in, sizeof(in), &cqe), ==, 0);
        g_assert_cmphex(cqe.status, ==, 0);
        g_assert_cmpmem(in, sizeof(in), out, sizeof(out));
        /* namespace 2 comes and goes under the queue */
        g_assert_cmpint(nvmf_host_rw(w->tc->h, false, 2, 0, 1, in, 512,
                                     &cqe), ==, 0);
        if (cqe.status == 0) {
            w->ns2_ok++;
        } else {
            g_assert_cmphex(cqe.status, ==,
                            NVME_SC_INVALID_NS | NVME_STATUS_DNR);
            w->ns2_gone++;
        }
        __atomic_store_n(&w->done, i + 1, __ATOMIC_RELEASE);
    }
    return NULL;
}

typedef struct Count {
    unsigned queues;
} Count;

static void count_queue(const NvmetQueueInfo *info, void *opaque)
{
    ((Count *)opaque)->queues++;
}

static bool workers_done(Worker *w)
{
    for (unsigned i = 0; i < NQUEUES; i++) {
        if (__atomic_load_n(&w[i].done, __ATOMIC_ACQUIRE) < ROUNDS) {
            return false;
        }
    }
    return true;
}

static void test_io_queues_in_threads(void)
{
    TestTarget *tt = tt_new();
    TestConn *a = tc_new(tt);
    Worker w[NQUEUES];
    GThread *th[NQUEUES];
    /*
     * a backend lives until the engine lets go of it: until the end here
     * (each namespace 2 gets a disk of its own, in-flight I/O may use it)
     */
    g_autoptr(GPtrArray) old = g_ptr_array_new_with_free_func(g_free);
    uint8_t smart[512];
    unsigned changes = 0;
    NvmfCqe cqe;

    tc_admin(a, TEST_SUBNQN, TEST_HOSTNQN, false, false);
    g_assert_cmpint(nvmf_host_set_features(a->h, NVME_FEAT_KATO, 5000, &cqe),
                    ==, 0);
    for (unsigned i = 0; i < NQUEUES; i++) {
        w[i] = (Worker) { .tc = tc_new(tt), .index = i };
        tc_io(w[i].tc, i + 1, a->cntlid, TEST_SUBNQN, TEST_HOSTNQN, false,
              false);
    }
    for (unsigned i = 0; i < NQUEUES; i++) {
        th[i] = g_thread_new("io-queue", worker, &w[i]);
    }
    /* this thread: the configuration, the timer and the admin queue */
    while (!workers_done(w)) {
        RamDisk *d2 = g_new0(RamDisk, 1);
        NvmetNs *ns2 = tt_add_ns(tt, tt->subsys, 2, d2, 65536, 512);
        Count c = { 0 };

        g_assert_true(nvmet_target_ctrl_queues(tt->t, TEST_SUBNQN, a->cntlid,
                                               count_queue, &c));
        g_assert_cmpuint(c.queues, ==, NQUEUES + 1);
        g_assert_cmpint(nvmf_host_get_log(a->h, NVME_LOG_SMART, 0, 0, smart,
                                          sizeof(smart), &cqe), ==, 0);
        g_assert_cmphex(cqe.status, ==, 0);
        tt_advance(tt, 100);
        nvmet_target_timer(tt->t);
        tt_remove_ns(tt, ns2);
        g_ptr_array_add(old, d2->data);
        g_ptr_array_add(old, d2);
        changes++;
    }
    for (unsigned i = 0; i < NQUEUES; i++) {
        g_thread_join(th[i]);
        g_assert_cmpuint(w[i].ns2_ok + w[i].ns2_gone, ==, ROUNDS);
    }
    g_assert_cmpuint(changes, >, 0);

    /* every I/O queue counted its own commands; the log adds them up */
    g_assert_cmpint(nvmf_host_get_log(a->h, NVME_LOG_SMART, 0, 0, smart,
                                      sizeof(smart), &cqe), ==, 0);
    g_assert_cmpuint(nvmet_ld64(smart + 80), ==, NQUEUES * ROUNDS);
    g_assert_cmpuint(nvmet_ld64(smart + 64), >=, NQUEUES * ROUNDS);

    /* I/O traffic kept the controller alive; silence ends it */
    g_assert_false(nvmet_queue_wants_close(a->q));
    tt_advance(tt, 6000);
    g_assert_true(tt_trace_has(tt, "keep-alive timeout"));
    for (unsigned i = 0; i < NQUEUES; i++) {
        g_assert_true(nvmet_queue_wants_close(w[i].tc->q));
        tc_free(w[i].tc);
    }
    g_assert_true(nvmet_queue_wants_close(a->q));
    tc_free(a);
    tt_free(tt);
}

/*
 * A keep-alive teardown decided in one thread closes queues served by
 * others, each in its own thread, while they are busy.
 */
static gpointer busy_reader(gpointer opaque)
{
    Worker *w = opaque;
    uint8_t in[4096];

    for (;;) {
        NvmfCqe cqe;

        if (nvmf_host_rw(w->tc->h, false, 1, 0, 8, in, sizeof(in),
                         &cqe) < 0) {
            break;          /* the target closed the queue */
        }
        w->done++;
    }
    g_assert_true(nvmet_queue_wants_close(w->tc->q));
    return NULL;
}

static void test_teardown_from_other_thread(void)
{
    TestTarget *tt = tt_new();
    TestConn *a = tc_new(tt);
    Worker w[NQUEUES];
    GThread *th[NQUEUES];
    NvmfCqe cqe;

    tc_admin(a, TEST_SUBNQN, TEST_HOSTNQN, false, false);
    for (unsigned i = 0; i < NQUEUES; i++) {
        w[i] = (Worker) { .tc = tc_new(tt), .index = i };
        tc_io(w[i].tc, i + 1, a->cntlid, TEST_SUBNQN, TEST_HOSTNQN, false,
              false);
        th[i] = g_thread_new("io-queue", busy_reader, &w[i]);
    }
    g_usleep(20000);
    /* CC.EN 1 -> 0 on the admin queue: every I/O queue must go */
    g_assert_cmpint(nvmf_host_prop_set(a->h, NVME_REG_CC, 0, &cqe), ==, 0);
    g_assert_cmphex(cqe.status, ==, 0);
    for (unsigned i = 0; i < NQUEUES; i++) {
        g_thread_join(th[i]);
        tc_free(w[i].tc);
    }
    g_assert_true(tt_trace_has(tt, "closing: controller reset"));
    tc_free(a);
    tt_free(tt);
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/nvmet/threads/io-queues", test_io_queues_in_threads);
    g_test_add_func("/nvmet/threads/teardown", test_teardown_from_other_thread);
    return g_test_run();
}
