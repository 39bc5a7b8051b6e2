/*
 * Unit tests: the limits on a port's connections, for hosts that connect
 * and say nothing — the connection cap (max-connections) and the ICReq
 * timeout, on cleartext and TLS ports.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#include <glib.h>
#include <string.h>

#include "nvmet-test-util.h"

#define HOSTNQN TEST_HOSTNQN

static const char *psk01 =
    "NVMeTLSkey-1:01:VRLbtnN9AQb2WXW3c9+wEf/DRLz0QuLdbYvEhwtdWwNf9LrZ:";

static NvmetPortStats stats(NvmetPort *port)
{
    NvmetPortStats st;

    nvmet_port_get_stats(port, &st);
    return st;
}

static bool all_zero(const uint8_t *p, size_t len)
{
    for (size_t i = 0; i < len; i++) {
        if (p[i]) {
            return false;
        }
    }
    return true;
}

/* Nothing to send and closing: what a refused or timed-out queue does. */
static void assert_closed_quietly(TestConn *tc)
{
    const uint8_t *p;

    g_assert_true(nvmet_queue_wants_close(tc->q));
    g_assert_cmpuint(nvmet_queue_output(tc->q, &p), ==, 0);
}

static void test_icreq_timeout(void)
{
    TestTarget *tt = tt_new();
    TestConn *idle, *ok, *slow, *quick, *no_connect;
    uint8_t icreq[128] = { NVME_TCP_PDU_ICREQ, 0, 128, 0, 128 };
    NvmfCqe cqe;

    idle = tc_new(tt);
    ok = tc_new(tt);
    slow = tc_new(tt);
    g_assert_cmpint(nvmf_host_icreq(ok->h, false, false, 0), ==, 0);
    g_assert_cmpint(nvmf_host_connect(ok->h, 0, 31, 0xffff, TEST_SUBNQN,
                                      HOSTNQN, test_hostid, 0, 0, &cqe), ==,
                    0);
    g_assert_cmphex(cqe.status, ==, 0);
    /* one byte of an ICReq a second: the deadline does not move */
    for (int i = 0; i < 29; i++) {
        g_assert_cmpint(nvmf_host_send_raw(slow->h, icreq + i, 1), ==, 0);
        tt_advance(tt, 1000);
    }
    tt_advance(tt, NVMET_ICREQ_TIMEOUT_MS_DEFAULT - 29000 - 1);
    g_assert_false(nvmet_queue_wants_close(idle->q));
    g_assert_false(nvmet_queue_wants_close(slow->q));
    g_assert_cmpuint(stats(tt->port).icreq_timeouts, ==, 0);
    tt_advance(tt, 1);
    assert_closed_quietly(idle);
    assert_closed_quietly(slow);
    g_assert_true(tt_trace_has(tt, "no ICReq within 30000 ms "
                               "(icreq-timeout-ms)"));
    g_assert_true(tt_trace_has(tt, "closing: no ICReq within the ICReq "
                               "timeout"));
    g_assert_cmpuint(stats(tt->port).icreq_timeouts, ==, 2);
    g_assert_cmpuint(stats(tt->port).connections, ==, 3);

    /* the connection that sent its ICReq and Connect goes on */
    tt_advance(tt, 3 * NVMET_ICREQ_TIMEOUT_MS_DEFAULT);
    g_assert_false(nvmet_queue_wants_close(ok->q));
    tc_free(idle);
    tc_free(slow);
    g_assert_cmpuint(stats(tt->port).connections, ==, 1);

    /*
     * an ICReq, then nothing: the Connect must come within the same time
     * after the ICReq; a refused Connect does not count
     */
    no_connect = tc_new(tt);
    tt_advance(tt, 20000);
    g_assert_cmpint(nvmf_host_icreq(no_connect->h, false, false, 0), ==, 0);
    g_assert_cmpint(nvmf_host_connect(no_connect->h, 0, 31, 0xffff,
                                      "nqn.2026-11.org.qemu:nonexistent",
                                      HOSTNQN, test_hostid, 0, 0, &cqe), ==,
                    0);
    g_assert_cmphex(cqe.status, !=, 0);
    tt_advance(tt, NVMET_ICREQ_TIMEOUT_MS_DEFAULT - 1);
    g_assert_false(nvmet_queue_wants_close(no_connect->q));
    tt_advance(tt, 1);
    assert_closed_quietly(no_connect);
    g_assert_true(tt_trace_has(tt, "no Connect after the ICReq within "
                               "30000 ms"));
    g_assert_cmpuint(stats(tt->port).icreq_timeouts, ==, 3);
    tc_free(no_connect);

    /* a shorter timeout, for connections made from now on */
    nvmet_port_set_icreq_timeout(tt->port, 500);
    quick = tc_new(tt);
    tt_advance(tt, 499);
    g_assert_false(nvmet_queue_wants_close(quick->q));
    tt_advance(tt, 1);
    assert_closed_quietly(quick);
    g_assert_true(tt_trace_has(tt, "no ICReq within 500 ms"));
    g_assert_cmpuint(stats(tt->port).icreq_timeouts, ==, 4);
    tc_free(quick);
    g_assert_false(nvmet_queue_wants_close(ok->q));
    tc_free(ok);
    tt_free(tt);
}

/* On a TLS port the handshake counts: ICReq must follow it in time. */
static void test_icreq_timeout_tls(void)
{
    TestTarget *tt = tt_new();
    NvmetPort *port;
    g_autofree char *identity = NULL;
    uint8_t key[48], hash;
    static const uint8_t hello_start[] = { 0x16, 0x03, 0x01, 0x02, 0x00, 0x01 };
    TestConn *half, *silent, *good;
    GError *err = NULL;
    NvmfCqe cqe;

    port = tt_add_tls_port(tt, NVMET_PORT_TLS_REQUIRED);
    tt_admit_only(tt, HOSTNQN);
    g_assert_true(nvmet_host_set_tls_psk(tt->host, psk01, &err));
    identity = nvmf_tls_configured(psk01, 1, HOSTNQN, TEST_SUBNQN, key, &hash);
    g_assert_nonnull(identity);
    nvmet_port_set_icreq_timeout(port, 2000);

    /* the start of a ClientHello, then nothing */
    half = tc_new_on(tt, port);
    g_assert_cmpint(nvmf_host_send_raw(half->h, hello_start,
                                       sizeof(hello_start)), ==, 0);
    /* a whole handshake, then no ICReq */
    silent = tc_new_on(tt, port);
    g_assert_cmpint(tc_start_tls(silent, identity, key, 32, hash), ==, 0);
    /* a whole handshake and the ICReq */
    good = tc_new_on(tt, port);
    g_assert_cmpint(tc_start_tls(good, identity, key, 32, hash), ==, 0);
    g_assert_cmpint(nvmf_host_icreq(good->h, false, false, 0), ==, 0);
    g_assert_cmpint(nvmf_host_connect(good->h, 0, 31, 0xffff, TEST_SUBNQN,
                                      HOSTNQN, test_hostid, 0, 0, &cqe), ==,
                    0);
    g_assert_cmphex(cqe.status, ==, 0);

    tt_advance(tt, 1999);
    g_assert_false(nvmet_queue_wants_close(half->q));
    g_assert_false(nvmet_queue_wants_close(silent->q));
    tt_advance(tt, 1);
    g_assert_true(nvmet_queue_wants_close(half->q));
    g_assert_true(nvmet_queue_wants_close(silent->q));
    g_assert_false(nvmet_queue_wants_close(good->q));
    g_assert_cmpuint(stats(port).icreq_timeouts, ==, 2);
    g_assert_cmpuint(stats(tt->port).icreq_timeouts, ==, 0);
    tc_free(half);
    tc_free(silent);
    tc_free(good);
    nvmet_port_free(port);
    tt_free(tt);
}

static void test_max_connections(void)
{
    TestTarget *tt = tt_new();
    TestConn *c[4], *extra, *again;
    NvmetPortStats st;

    nvmet_port_set_max_connections(tt->port, 4);
    for (int i = 0; i < 4; i++) {
        c[i] = tc_new(tt);
        g_assert_false(nvmet_queue_wants_close(c[i]->q));
    }
    g_assert_false(tt_trace_has(tt, "connection refused"));

    /* the fifth: closed at once, its ICReq goes unanswered */
    extra = tc_new(tt);
    assert_closed_quietly(extra);
    g_assert_true(tt_trace_has(tt, "connection refused: port 1 has "
                               "max-connections (4) connections"));
    g_assert_cmpint(nvmf_host_icreq(extra->h, false, false, 0), ==, -1);
    st = stats(tt->port);
    g_assert_cmpuint(st.connections_refused, ==, 1);
    g_assert_cmpuint(st.connections, ==, 5);
    tc_free(extra);
    g_assert_cmpuint(stats(tt->port).connections, ==, 4);

    /* the others work; one going away makes room for another */
    tc_admin(c[0], TEST_SUBNQN, HOSTNQN, false, false);
    tc_free(c[3]);
    again = tc_new(tt);
    g_assert_false(nvmet_queue_wants_close(again->q));
    g_assert_cmpint(nvmf_host_icreq(again->h, false, false, 0), ==, 0);
    g_assert_cmpuint(stats(tt->port).connections_refused, ==, 1);

    /* a refused connection is not counted for the ICReq timeout */
    extra = tc_new(tt);
    assert_closed_quietly(extra);
    tt_advance(tt, NVMET_ICREQ_TIMEOUT_MS_DEFAULT);
    st = stats(tt->port);
    g_assert_cmpuint(st.connections_refused, ==, 2);
    /* c[1], c[2] (no ICReq), again (no Connect) */
    g_assert_cmpuint(st.icreq_timeouts, ==, 3);
    tc_free(extra);
    for (int i = 0; i < 3; i++) {
        tc_free(c[i]);
    }
    tc_free(again);
    g_assert_cmpuint(stats(tt->port).connections, ==, 0);
    tt_free(tt);
}

/* The default cap: NVMET_PORT_MAX_CONNECTIONS_DEFAULT. */
static void test_max_connections_default(void)
{
    TestTarget *tt = tt_new();
    unsigned n = NVMET_PORT_MAX_CONNECTIONS_DEFAULT;
    g_autofree TestConn **c = g_new(TestConn *, n + 1);

    for (unsigned i = 0; i < n + 1; i++) {
        c[i] = tc_new(tt);
        g_assert_cmpint(nvmet_queue_wants_close(c[i]->q), ==, i == n);
    }
    g_assert_cmpuint(stats(tt->port).connections_refused, ==, 1);
    for (unsigned i = 0; i < n + 1; i++) {
        tc_free(c[i]);
    }
    tt_free(tt);
}

/*
 * A connection that goes while its write is in the backend: no longer a
 * connection, but draining until the write completes; the write is
 * carried out (it is in the RAM disk afterwards) and nothing is left.
 */
static void test_draining(void)
{
    TestTarget *tt = tt_new();
    TestConn *admin = tc_new(tt), *tc = tc_new(tt);
    uint8_t sqe[64], data[4096];
    NvmetPortStats st;
    NvmetIo *io;
    GQueue held = G_QUEUE_INIT;
    int cid;

    tc_admin(admin, TEST_SUBNQN, HOSTNQN, false, false);
    tc_io(tc, 1, admin->cntlid, TEST_SUBNQN, HOSTNQN, false, false);
    nvmf_host_set_incapsule(tc->h, sizeof(data));
    memset(data, 0xa5, sizeof(data));
    nvmf_sqe_init(sqe, NVME_CMD_WRITE, 1);
    nvmet_st32(sqe + NVME_SQE_CDW10, 16);
    nvmet_st32(sqe + NVME_SQE_CDW12, 7);
    cid = nvmf_host_send_cmd(tc->h, sqe, data, sizeof(data), NULL, 0);
    g_assert_cmpint(cid, >=, 0);
    /* the backend has it and has not answered */
    while ((io = nvmet_queue_next_io(tc->q))) {
        g_queue_push_tail(&held, io);
    }
    g_assert_cmpuint(held.length, ==, 1);
    st = stats(tt->port);
    g_assert_cmpuint(st.connections, ==, 2);
    g_assert_cmpuint(st.draining, ==, 0);

    /* the host goes */
    nvmet_queue_release(tc->q);
    g_hash_table_remove(tt->capture, tc->q);
    st = stats(tt->port);
    g_assert_cmpuint(st.connections, ==, 1);
    g_assert_cmpuint(st.draining, ==, 1);
    g_assert_true(all_zero(tt->disk1.data + 16 * 512, sizeof(data)));

    /* the backend answers: the write is done, the queue freed */
    io = g_queue_pop_head(&held);
    nvmet_io_complete(io, ramdisk_do(io));
    st = stats(tt->port);
    g_assert_cmpuint(st.connections, ==, 1);
    g_assert_cmpuint(st.draining, ==, 0);
    g_assert_cmpmem(tt->disk1.data + 16 * 512, sizeof(data), data,
                    sizeof(data));
    nvmf_host_free(tc->h);
    g_free(tc);
    tc_free(admin);
    st = stats(tt->port);
    g_assert_cmpuint(st.connections, ==, 0);
    g_assert_cmpuint(st.draining, ==, 0);
    tt_free(tt);
}

/*
 * A connection that races with its port's removal is never counted, so
 * its release must not take another connection off the count.
 */
static void test_removed_port_race(void)
{
    TestTarget *tt = tt_new();
    NvmetPort *port = tt_add_tls_port(tt, NVMET_PORT_TLS_NONE);
    TestConn *a = tc_new_on(tt, port), *late;

    g_assert_cmpuint(stats(port).connections, ==, 1);
    nvmet_port_free(port);          /* a keeps it alive */
    late = tc_new_on(tt, port);
    g_assert_true(nvmet_queue_wants_close(late->q));
    g_assert_cmpuint(stats(port).connections, ==, 1);
    tc_free(late);
    g_assert_cmpuint(stats(port).connections, ==, 1);
    g_assert_cmpuint(stats(port).draining, ==, 0);
    tc_free(a);
    tt_free(tt);
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/nvmet/limits/icreq-timeout", test_icreq_timeout);
    g_test_add_func("/nvmet/limits/icreq-timeout-tls",
                    test_icreq_timeout_tls);
    g_test_add_func("/nvmet/limits/max-connections", test_max_connections);
    g_test_add_func("/nvmet/limits/max-connections-default",
                    test_max_connections_default);
    g_test_add_func("/nvmet/limits/draining", test_draining);
    g_test_add_func("/nvmet/limits/removed-port-race",
                    test_removed_port_race);
    return g_test_run();
}
