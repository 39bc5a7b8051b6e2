/*
 * Fabrics commands: Connect (controller IDs, subsystem and host checks,
 * queue sizes, I/O queues), Property Get/Set (CAP, VS, CC, CSTS, enable,
 * shutdown, reset), Disconnect, and keep-alive timeouts.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#include <string.h>
#include "nvmet-test-util.h"

#define DNR NVME_STATUS_DNR

/* CAP of an I/O controller on a default port (MQES 1023, CQR, TO 15, CSS) */
#define CAP_IO   0x200f0103ffull
/* ... and of a discovery controller (MQES 31) */
#define CAP_DISC 0x200f01001full
#define CC_GOOD  (NVME_CC_EN | (6u << NVME_CC_IOSQES_SHIFT) | \
                  (4u << NVME_CC_IOCQES_SHIFT))

/* ---- helpers ------------------------------------------------------------- */

static void submit(TestConn *tc, uint8_t *sqe, const void *out, size_t out_len,
                   void *in, size_t in_len, NvmfCqe *cqe)
{
    g_assert_cmpint(nvmf_host_submit(tc->h, sqe, out, out_len, in, in_len,
                                     cqe), ==, 0);
}

/* ICReq and an admin Connect; returns the CQE (any status). */
static NvmfCqe connect_admin(TestConn *tc, uint16_t sqsize, uint16_t cntlid,
                             const char *subnqn, const char *hostnqn,
                             uint32_t kato)
{
    NvmfCqe cqe;

    g_assert_cmpint(nvmf_host_icreq(tc->h, false, false, 0), ==, 0);
    g_assert_cmpint(nvmf_host_connect(tc->h, 0, sqsize, cntlid, subnqn,
                                      hostnqn, test_hostid, kato, 0, &cqe),
                    ==, 0);
    return cqe;
}

/* An enabled admin queue with keep-alive timeout @kato. */
static TestConn *admin_kato(TestTarget *tt, uint32_t kato)
{
    TestConn *tc = tc_new(tt);
    NvmfCqe cqe = connect_admin(tc, 31, 0xffff, TEST_SUBNQN, TEST_HOSTNQN,
                                kato);

    g_assert_cmphex(cqe.status, ==, 0);
    tc->cntlid = cqe.dw0;
    g_assert_cmpint(nvmf_host_enable(tc->h), ==, 0);
    return tc;
}

static TestConn *admin(TestTarget *tt)
{
    TestConn *tc = tc_new(tt);

    tc_admin(tc, TEST_SUBNQN, TEST_HOSTNQN, false, false);
    return tc;
}

/* ICReq and an I/O queue Connect; returns the CQE (any status). */
static NvmfCqe connect_io(TestConn *tc, uint16_t qid, uint16_t sqsize,
                          uint16_t cntlid, const char *hostnqn,
                          const uint8_t *hostid, uint8_t cattr)
{
    NvmfCqe cqe;

    g_assert_cmpint(nvmf_host_icreq(tc->h, false, false, 0), ==, 0);
    g_assert_cmpint(nvmf_host_connect(tc->h, qid, sqsize, cntlid, TEST_SUBNQN,
                                      hostnqn, hostid, 0, cattr, &cqe), ==, 0);
    return cqe;
}

static uint16_t keep_alive(TestConn *tc)
{
    uint8_t sqe[64];
    NvmfCqe cqe;

    nvmf_sqe_init(sqe, NVME_ADM_KEEP_ALIVE, 0);
    submit(tc, sqe, NULL, 0, NULL, 0, &cqe);
    return cqe.status;
}

static uint16_t flush(TestConn *tc, NvmfCqe *cqe)
{
    uint8_t sqe[64];

    nvmf_sqe_init(sqe, NVME_CMD_FLUSH, 1);
    submit(tc, sqe, NULL, 0, NULL, 0, cqe);
    return cqe->status;
}

static uint16_t prop_set(TestConn *tc, uint32_t off, uint32_t val)
{
    NvmfCqe cqe;

    g_assert_cmpint(nvmf_host_prop_set(tc->h, off, val, &cqe), ==, 0);
    return cqe.status;
}

/* Property Get expected to succeed */
static uint64_t prop_get(TestConn *tc, uint32_t off, bool eight)
{
    uint64_t val = 0xdeadbeef;
    NvmfCqe cqe;

    g_assert_cmpint(nvmf_host_prop_get(tc->h, off, eight, &val, &cqe), ==, 0);
    g_assert_cmphex(cqe.status, ==, 0);
    return val;
}

/* A raw Property Get/Set with any attribute byte; returns the status. */
static uint16_t prop_raw(TestConn *tc, uint8_t fctype, uint8_t attrib,
                         uint32_t off, uint64_t val)
{
    uint8_t sqe[64];
    NvmfCqe cqe;

    nvmf_sqe_init(sqe, NVME_FABRICS_COMMAND, 0);
    sqe[NVME_SQE_FCTYPE] = fctype;
    sqe[NVME_PROP_ATTRIB] = attrib;
    nvmet_st32(sqe + NVME_PROP_OFFSET, off);
    nvmet_st64(sqe + NVME_PROP_VALUE, val);
    submit(tc, sqe, NULL, 0, NULL, 0, &cqe);
    return cqe.status;
}

static uint16_t identify_status(TestConn *tc)
{
    g_autofree uint8_t *buf = g_malloc0(4096);
    NvmfCqe cqe;

    g_assert_cmpint(nvmf_host_identify(tc->h, NVME_ID_CNS_CTRL, 0, 0, buf,
                                       &cqe), ==, 0);
    return cqe.status;
}

typedef struct CtrlList {
    unsigned n;
    uint16_t cntlid[8];
    uint32_t kato[8];
    uint16_t nr_io[8];
    bool enabled[8];
} CtrlList;

static void ctrl_list_fn(const NvmetCtrlInfo *info, void *opaque)
{
    CtrlList *l = opaque;

    g_assert_cmpuint(l->n, <, 8);
    l->cntlid[l->n] = info->cntlid;
    l->kato[l->n] = info->kato_ms;
    l->nr_io[l->n] = info->nr_io_queues;
    l->enabled[l->n] = info->enabled;
    l->n++;
}

static CtrlList ctrls(TestTarget *tt)
{
    CtrlList l = { 0 };

    nvmet_target_foreach_ctrl(tt->t, ctrl_list_fn, &l);
    return l;
}

static NvmetPort *second_port(TestTarget *tt, bool sqflow_disable_ok)
{
    NvmetPortConfig pc;
    GError *err = NULL;
    NvmetPort *port;

    nvmet_port_config_init(&pc);
    pc.portid = 2;
    pc.traddr = "127.0.0.1";
    pc.trsvcid = "4421";
    pc.sqflow_disable_ok = sqflow_disable_ok;
    port = nvmet_port_new(tt->t, &pc, &err);
    g_assert_no_error(err);
    nvmet_port_add_subsys(port, tt->subsys);
    return port;
}

/* ---- Connect ------------------------------------------------------------- */

static void test_connect_admin(void)
{
    TestTarget *tt = tt_new();
    TestConn *a = tc_new(tt), *b = tc_new(tt), *c;
    NvmfCqe cqe;
    CtrlList l;

    cqe = connect_admin(a, 31, 0xffff, TEST_SUBNQN, TEST_HOSTNQN, 15000);
    g_assert_cmphex(cqe.status, ==, 0);
    /* DW0: the controller ID; no authentication required (ATR clear) */
    g_assert_cmphex(cqe.dw0, ==, 1);
    g_assert_cmpuint(cqe.sqid, ==, 0);
    g_assert_cmpuint(cqe.sqhd, ==, 1);
    g_assert_true(tt_trace_has(tt, "connected cntlid 1 qid 0, "
                               "authentication required 0"));
    g_assert_cmpuint(nvmet_queue_qid(a->q), ==, 0);
    g_assert_nonnull(nvmet_queue_ctrl(a->q));
    g_assert_cmpstr(nvmet_queue_name(a->q), ==, "test-peer qid 0 cntlid 1");

    l = ctrls(tt);
    g_assert_cmpuint(l.n, ==, 1);
    g_assert_cmpuint(l.cntlid[0], ==, 1);
    g_assert_cmpuint(l.kato[0], ==, 15000);
    g_assert_false(l.enabled[0]);
    g_assert_cmpuint(l.nr_io[0], ==, 0);

    /* another association of the same host gets the next ID */
    cqe = connect_admin(b, 31, 0xffff, TEST_SUBNQN, TEST_HOSTNQN, 0);
    g_assert_cmphex(cqe.status, ==, 0);
    g_assert_cmphex(cqe.dw0, ==, 2);
    g_assert_cmpint(nvmf_host_enable(a->h), ==, 0);
    l = ctrls(tt);
    g_assert_cmpuint(l.n, ==, 2);
    g_assert_true(l.enabled[0]);
    g_assert_false(l.enabled[1]);

    /* IDs are not reused at once after a controller went away */
    tc_free(a);
    c = tc_new(tt);
    cqe = connect_admin(c, 31, 0xffff, TEST_SUBNQN, TEST_HOSTNQN2, 0);
    g_assert_cmphex(cqe.status, ==, 0);
    g_assert_cmphex(cqe.dw0, ==, 3);
    g_assert_cmpuint(ctrls(tt).n, ==, 2);

    tc_free(b);
    tc_free(c);
    g_assert_cmpuint(ctrls(tt).n, ==, 0);
    tt_free(tt);
}

static void test_connect_cntlid_range(void)
{
    TestTarget *tt = tt_new();
    NvmetSubsysConfig sc;
    NvmetSubsys *s;
    GError *err = NULL;
    TestConn *tc[4];
    NvmfCqe cqe;
    const char *nqn = "nqn.2026-11.org.qemu:small";

    nvmet_subsys_config_init(&sc);
    sc.nqn = nqn;
    sc.allow_any_host = true;
    sc.cntlid_min = 10;
    sc.cntlid_max = 11;
    s = nvmet_subsys_new(tt->t, &sc, &err);
    g_assert_no_error(err);
    nvmet_port_add_subsys(tt->port, s);

    for (int i = 0; i < 4; i++) {
        tc[i] = tc_new(tt);
    }
    cqe = connect_admin(tc[0], 31, 0xffff, nqn, TEST_HOSTNQN, 0);
    g_assert_cmphex(cqe.status, ==, 0);
    g_assert_cmphex(cqe.dw0, ==, 10);
    cqe = connect_admin(tc[1], 31, 0xffff, nqn, TEST_HOSTNQN, 0);
    g_assert_cmphex(cqe.status, ==, 0);
    g_assert_cmphex(cqe.dw0, ==, 11);
    /* the range is used up */
    cqe = connect_admin(tc[2], 31, 0xffff, nqn, TEST_HOSTNQN, 0);
    g_assert_cmphex(cqe.status, ==, NVME_SC_CONNECT_CTRL_BUSY | DNR);
    g_assert_true(tt_trace_has(tt, "Connect refused: no free controller ID"));
    g_assert_null(nvmet_queue_ctrl(tc[2]->q));
    /* freeing one makes its ID available again (wrapping around) */
    tc_free(tc[0]);
    cqe = connect_admin(tc[3], 31, 0xffff, nqn, TEST_HOSTNQN, 0);
    g_assert_cmphex(cqe.status, ==, 0);
    g_assert_cmphex(cqe.dw0, ==, 10);

    for (int i = 1; i < 4; i++) {
        tc_free(tc[i]);
    }
    nvmet_subsys_free(s);
    tt_free(tt);
}

static void test_connect_static_cntlid(void)
{
    TestTarget *tt = tt_new();
    TestConn *tc = tc_new(tt);
    NvmfCqe cqe;

    cqe = connect_admin(tc, 31, 1, TEST_SUBNQN, TEST_HOSTNQN, 0);
    g_assert_cmphex(cqe.status, ==, NVME_SC_CONNECT_INVALID_PARAM | DNR);
    /* IATTR bit 16: the parameter is in the connect data, at CNTLID */
    g_assert_cmphex(cqe.dw0, ==, 0x10010);
    g_assert_true(tt_trace_has(tt, "only the dynamic controller model is "
                               "supported (parameter offset 16, in data 1)"));
    g_assert_null(nvmet_queue_ctrl(tc->q));
    /* the queue is still usable for a correct Connect */
    g_assert_cmpint(nvmf_host_connect(tc->h, 0, 31, 0xffff, TEST_SUBNQN,
                                      TEST_HOSTNQN, test_hostid, 0, 0, &cqe),
                    ==, 0);
    g_assert_cmphex(cqe.status, ==, 0);
    tc_free(tc);
    tt_free(tt);
}

/*
 * Linux nvmet takes any subsystem or host name (a configfs directory name),
 * not only the "nqn.yyyy-mm.domain" form: blktests' default subsystem is
 * "blktests-subsystem-1".  The target accepts such names too (found by
 * running blktests' nvme group against it, scripts/blktests.sh), and
 * still refuses empty ones, spaces, control characters and more than 223
 * bytes.
 */
static void test_free_form_nqn(void)
{
    TestTarget *tt = tt_new();
    NvmetSubsysConfig sc;
    NvmetSubsys *s;
    NvmetHost *h;
    GError *err = NULL;
    TestConn *tc;
    NvmfCqe cqe;
    char *longname;

    nvmet_subsys_config_init(&sc);
    sc.nqn = "blktests-subsystem-1";
    s = nvmet_subsys_new(tt->t, &sc, &err);
    g_assert_no_error(err);
    nvmet_port_add_subsys(tt->port, s);
    h = nvmet_host_new(tt->t, "blktests-host", &err);
    g_assert_no_error(err);
    g_assert_true(nvmet_subsys_add_host(s, h, &err));

    tc = tc_new(tt);
    cqe = connect_admin(tc, 31, 0xffff, "blktests-subsystem-1",
                        "blktests-host", 0);
    g_assert_cmphex(cqe.status, ==, 0);
    tc_free(tc);
    /* the host list still applies */
    tc = tc_new(tt);
    cqe = connect_admin(tc, 31, 0xffff, "blktests-subsystem-1",
                        TEST_HOSTNQN, 0);
    g_assert_cmphex(cqe.status, ==, NVME_SC_CONNECT_INVALID_HOST | DNR);
    tc_free(tc);

    sc.nqn = "blktests subsystem";
    g_assert_null(nvmet_subsys_new(tt->t, &sc, &err));
    g_assert_nonnull(strstr(err->message, "space or control character"));
    g_clear_error(&err);
    sc.nqn = "";
    g_assert_null(nvmet_subsys_new(tt->t, &sc, &err));
    g_clear_error(&err);
    longname = g_strnfill(NVME_NQN_MAX_LEN + 1, 'a');
    sc.nqn = longname;
    g_assert_null(nvmet_subsys_new(tt->t, &sc, &err));
    g_assert_nonnull(strstr(err->message, "longer than 223 bytes"));
    g_clear_error(&err);
    longname[NVME_NQN_MAX_LEN] = 0;
    s = nvmet_subsys_new(tt->t, &sc, &err);
    g_assert_no_error(err);
    nvmet_subsys_free(s);
    g_free(longname);
    g_assert_null(nvmet_host_new(tt->t, "a\tb", &err));
    g_clear_error(&err);

    nvmet_host_free(h);
    nvmet_subsys_free(nvmet_subsys_find(tt->t, "blktests-subsystem-1"));
    tt_free(tt);
}

static void test_connect_bad_subsys(void)
{
    TestTarget *tt = tt_new();
    NvmetSubsysConfig sc;
    NvmetSubsys *hidden;
    GError *err = NULL;
    TestConn *tc;
    NvmfCqe cqe;

    tc = tc_new(tt);
    cqe = connect_admin(tc, 31, 0xffff, "nqn.2026-11.org.qemu:nope",
                        TEST_HOSTNQN, 0);
    g_assert_cmphex(cqe.status, ==, NVME_SC_CONNECT_INVALID_PARAM | DNR);
    g_assert_cmphex(cqe.dw0, ==, 0x10100);
    g_assert_true(tt_trace_has(tt, "Connect refused: unknown subsystem "
                               "(parameter offset 256, in data 1)"));
    tc_free(tc);

    /* known to the target but not exported on this port */
    nvmet_subsys_config_init(&sc);
    sc.nqn = "nqn.2026-11.org.qemu:hidden";
    sc.allow_any_host = true;
    hidden = nvmet_subsys_new(tt->t, &sc, &err);
    g_assert_no_error(err);
    tc = tc_new(tt);
    cqe = connect_admin(tc, 31, 0xffff, sc.nqn, TEST_HOSTNQN, 0);
    g_assert_cmphex(cqe.status, ==, NVME_SC_CONNECT_INVALID_PARAM | DNR);
    g_assert_cmphex(cqe.dw0, ==, 0x10100);
    g_assert_true(tt_trace_has(tt, "subsystem is not exported on this port"));
    tc_free(tc);
    nvmet_subsys_free(hidden);

    /* empty subsystem NQN */
    tc = tc_new(tt);
    cqe = connect_admin(tc, 31, 0xffff, "", TEST_HOSTNQN, 0);
    g_assert_cmphex(cqe.status, ==, NVME_SC_CONNECT_INVALID_PARAM | DNR);
    g_assert_cmphex(cqe.dw0, ==, 0x10100);
    g_assert_true(tt_trace_has(tt, "subsystem NQN is empty or not "
                               "terminated"));
    tc_free(tc);

    /* empty host NQN */
    tc = tc_new(tt);
    cqe = connect_admin(tc, 31, 0xffff, TEST_SUBNQN, "", 0);
    g_assert_cmphex(cqe.status, ==, NVME_SC_CONNECT_INVALID_PARAM | DNR);
    g_assert_cmphex(cqe.dw0, ==, 0x10200);
    g_assert_true(tt_trace_has(tt, "host NQN is empty or not terminated"));
    tc_free(tc);
    g_assert_cmpuint(ctrls(tt).n, ==, 0);
    tt_free(tt);
}

/* Connect with hand-made connect data (256 bytes of host NQN, no NUL). */
static void test_connect_unterminated(void)
{
    TestTarget *tt = tt_new();
    TestConn *tc = tc_new(tt);
    uint8_t sqe[64], data[NVME_CONNECT_DATA_LEN] = { 0 };
    NvmfCqe cqe;

    g_assert_cmpint(nvmf_host_icreq(tc->h, false, false, 0), ==, 0);
    nvmf_sqe_init(sqe, NVME_FABRICS_COMMAND, 0);
    sqe[NVME_SQE_FCTYPE] = NVME_FCTYPE_CONNECT;
    nvmet_st16(sqe + NVME_CONNECT_SQSIZE, 31);
    nvmet_st16(data + NVME_CONNECT_DATA_CNTLID, 0xffff);
    strcpy((char *)data + NVME_CONNECT_DATA_SUBNQN, TEST_SUBNQN);
    memset(data + NVME_CONNECT_DATA_HOSTNQN, 'a', NVME_NQN_FIELD_LEN);
    nvmf_host_set_incapsule(tc->h, 8192);
    submit(tc, sqe, data, sizeof(data), NULL, 0, &cqe);
    g_assert_cmphex(cqe.status, ==, NVME_SC_CONNECT_INVALID_PARAM | DNR);
    g_assert_cmphex(cqe.dw0, ==, 0x10200);
    g_assert_true(tt_trace_has(tt, "host NQN is empty or not terminated"));
    tc_free(tc);
    tt_free(tt);
}

static void test_connect_format(void)
{
    TestTarget *tt = tt_new();
    TestConn *tc = tc_new(tt);
    uint8_t sqe[64], data[NVME_CONNECT_DATA_LEN] = { 0 };
    NvmfCqe cqe;

    g_assert_cmpint(nvmf_host_icreq(tc->h, false, false, 0), ==, 0);
    nvmf_host_set_incapsule(tc->h, 8192);
    nvmet_st16(data + NVME_CONNECT_DATA_CNTLID, 0xffff);
    strcpy((char *)data + NVME_CONNECT_DATA_SUBNQN, TEST_SUBNQN);
    strcpy((char *)data + NVME_CONNECT_DATA_HOSTNQN, TEST_HOSTNQN);

    /* record format 1 does not exist */
    nvmf_sqe_init(sqe, NVME_FABRICS_COMMAND, 0);
    sqe[NVME_SQE_FCTYPE] = NVME_FCTYPE_CONNECT;
    nvmet_st16(sqe + NVME_CONNECT_RECFMT, 1);
    nvmet_st16(sqe + NVME_CONNECT_SQSIZE, 31);
    submit(tc, sqe, data, sizeof(data), NULL, 0, &cqe);
    g_assert_cmphex(cqe.status, ==, NVME_SC_CONNECT_FORMAT | DNR);
    g_assert_true(tt_trace_has(tt, "unsupported record format"));

    /* connect data of the wrong size */
    nvmet_st16(sqe + NVME_CONNECT_RECFMT, 0);
    submit(tc, sqe, data, 512, NULL, 0, &cqe);
    g_assert_cmphex(cqe.status, ==, NVME_SC_SGL_INVALID_DATA | DNR);
    g_assert_true(tt_trace_has(tt, "connect data is not 1024 bytes"));

    /* no connect data at all */
    submit(tc, sqe, NULL, 0, NULL, 0, &cqe);
    g_assert_cmphex(cqe.status, ==, NVME_SC_SGL_INVALID_DATA | DNR);

    /* connect data sent by R2T instead of in-capsule is fine */
    nvmf_host_set_incapsule(tc->h, 0);
    submit(tc, sqe, data, sizeof(data), NULL, 0, &cqe);
    g_assert_cmphex(cqe.status, ==, 0);
    g_assert_cmphex(cqe.dw0, ==, 1);
    g_assert_null(nvmf_host_error(tc->h));

    /* a second Connect on a connected queue */
    nvmf_host_set_incapsule(tc->h, 8192);
    submit(tc, sqe, data, sizeof(data), NULL, 0, &cqe);
    g_assert_cmphex(cqe.status, ==, NVME_SC_CMD_SEQ_ERROR | DNR);
    g_assert_true(tt_trace_has(tt, "Connect on an already connected queue"));
    g_assert_cmpuint(ctrls(tt).n, ==, 1);
    tc_free(tc);
    tt_free(tt);
}

static void test_connect_host_denied(void)
{
    TestTarget *tt = tt_new();
    GError *err = NULL;
    TestConn *tc, *ok, *disc;
    NvmfCqe cqe;

    nvmet_subsys_set_allow_any_host(tt->subsys, false);

    tc = tc_new(tt);
    cqe = connect_admin(tc, 31, 0xffff, TEST_SUBNQN, TEST_HOSTNQN, 0);
    g_assert_cmphex(cqe.status, ==, NVME_SC_CONNECT_INVALID_HOST | DNR);
    g_assert_cmphex(cqe.dw0, ==, 0x10200);
    g_assert_true(tt_trace_has(tt, "Connect refused: host " TEST_HOSTNQN
                               " is not allowed in " TEST_SUBNQN));
    tc_free(tc);

    /* allow one host: it gets in, another one still does not */
    tt->host = nvmet_host_new(tt->t, TEST_HOSTNQN, &err);
    g_assert_no_error(err);
    g_assert_true(nvmet_subsys_add_host(tt->subsys, tt->host, &err));
    g_assert_no_error(err);
    ok = tc_new(tt);
    cqe = connect_admin(ok, 31, 0xffff, TEST_SUBNQN, TEST_HOSTNQN, 0);
    g_assert_cmphex(cqe.status, ==, 0);
    tc = tc_new(tt);
    cqe = connect_admin(tc, 31, 0xffff, TEST_SUBNQN, TEST_HOSTNQN2, 0);
    g_assert_cmphex(cqe.status, ==, NVME_SC_CONNECT_INVALID_HOST | DNR);
    tc_free(tc);

    /* the discovery subsystem admits everybody */
    disc = tc_new(tt);
    cqe = connect_admin(disc, 31, 0xffff, NVME_DISC_SUBSYS_NAME,
                        TEST_HOSTNQN2, 0);
    g_assert_cmphex(cqe.status, ==, 0);

    /* removing the host from the subsystem ends its controller */
    tt_trace_clear(tt);
    nvmet_subsys_remove_host(tt->subsys, tt->host);
    g_assert_true(nvmet_queue_wants_close(ok->q));
    g_assert_true(tt_trace_has(tt, "torn down: host no longer allowed"));
    g_assert_false(nvmet_queue_wants_close(disc->q));
    tc_free(ok);
    tc_free(disc);
    tt_free(tt);
}

static void test_connect_allow_any_revoked(void)
{
    TestTarget *tt = tt_new();
    TestConn *tc = admin(tt);

    g_assert_false(nvmet_queue_wants_close(tc->q));
    nvmet_subsys_set_allow_any_host(tt->subsys, false);
    g_assert_true(nvmet_queue_wants_close(tc->q));
    g_assert_true(tt_trace_has(tt, "torn down: host no longer allowed"));
    g_assert_cmpuint(ctrls(tt).n, ==, 0);
    tc_free(tc);
    tt_free(tt);
}

static void test_connect_sqsize(void)
{
    TestTarget *tt = tt_new();
    TestConn *tc, *a, *io;
    NvmfCqe cqe;

    /* admin queue: 2 to 32 entries (SQSIZE 1 to 31) */
    tc = tc_new(tt);
    cqe = connect_admin(tc, 0, 0xffff, TEST_SUBNQN, TEST_HOSTNQN, 0);
    g_assert_cmphex(cqe.status, ==, NVME_SC_CONNECT_INVALID_PARAM | DNR);
    g_assert_cmphex(cqe.dw0, ==, NVME_CONNECT_SQSIZE);
    g_assert_true(tt_trace_has(tt, "admin queue size out of range "
                               "(parameter offset 44, in data 0)"));
    tc_free(tc);
    tc = tc_new(tt);
    cqe = connect_admin(tc, 32, 0xffff, TEST_SUBNQN, TEST_HOSTNQN, 0);
    g_assert_cmphex(cqe.status, ==, NVME_SC_CONNECT_INVALID_PARAM | DNR);
    g_assert_cmphex(cqe.dw0, ==, NVME_CONNECT_SQSIZE);
    tc_free(tc);
    tc = tc_new(tt);
    cqe = connect_admin(tc, 1, 0xffff, TEST_SUBNQN, TEST_HOSTNQN, 0);
    g_assert_cmphex(cqe.status, ==, 0);
    tc_free(tc);
    g_assert_cmpuint(ctrls(tt).n, ==, 0);

    /* I/O queues: 2 to CAP.MQES + 1 = 1024 entries */
    a = admin(tt);
    io = tc_new(tt);
    cqe = connect_io(io, 1, 0, a->cntlid, TEST_HOSTNQN, test_hostid, 0);
    g_assert_cmphex(cqe.status, ==, NVME_SC_CONNECT_INVALID_PARAM | DNR);
    g_assert_cmphex(cqe.dw0, ==, NVME_CONNECT_SQSIZE);
    g_assert_true(tt_trace_has(tt, "Connect refused: queue size out of "
                               "range"));
    g_assert_cmpint(nvmf_host_connect(io->h, 1, 1024, a->cntlid, TEST_SUBNQN,
                                      TEST_HOSTNQN, test_hostid, 0, 0, &cqe),
                    ==, 0);
    g_assert_cmphex(cqe.status, ==, NVME_SC_CONNECT_INVALID_PARAM | DNR);
    g_assert_cmphex(cqe.dw0, ==, NVME_CONNECT_SQSIZE);
    g_assert_cmpint(nvmf_host_connect(io->h, 1, 1023, a->cntlid, TEST_SUBNQN,
                                      TEST_HOSTNQN, test_hostid, 0, 0, &cqe),
                    ==, 0);
    g_assert_cmphex(cqe.status, ==, 0);
    g_assert_cmphex(cqe.dw0, ==, a->cntlid);
    g_assert_cmpuint(cqe.sqid, ==, 1);
    g_assert_cmpuint(ctrls(tt).nr_io[0], ==, 1);
    tc_free(io);
    g_assert_cmpuint(ctrls(tt).nr_io[0], ==, 0);
    tc_free(a);
    tt_free(tt);
}

static void test_connect_io_errors(void)
{
    TestTarget *tt = tt_new();
    static const uint8_t other_hostid[16] = { 1, 2, 3 };
    TestConn *a = tc_new(tt), *io1, *tc;
    NvmfCqe cqe;

    cqe = connect_admin(a, 31, 0xffff, TEST_SUBNQN, TEST_HOSTNQN, 0);
    g_assert_cmphex(cqe.status, ==, 0);
    a->cntlid = cqe.dw0;

    /* the controller is not enabled yet */
    tc = tc_new(tt);
    cqe = connect_io(tc, 1, 127, a->cntlid, TEST_HOSTNQN, test_hostid, 0);
    g_assert_cmphex(cqe.status, ==, NVME_SC_CMD_SEQ_ERROR | DNR);
    g_assert_true(tt_trace_has(tt, "Connect refused: controller not enabled"));
    g_assert_cmpint(nvmf_host_enable(a->h), ==, 0);

    /* unknown controller ID */
    g_assert_cmpint(nvmf_host_connect(tc->h, 1, 127, a->cntlid + 1,
                                      TEST_SUBNQN, TEST_HOSTNQN, test_hostid,
                                      0, 0, &cqe), ==, 0);
    g_assert_cmphex(cqe.status, ==, NVME_SC_CONNECT_INVALID_PARAM | DNR);
    g_assert_cmphex(cqe.dw0, ==, 0x10010);
    g_assert_true(tt_trace_has(tt, "Connect refused: no such controller for "
                               "this host (parameter offset 16, in data 1)"));
    /* the dynamic ID means nothing for an I/O queue */
    tt_trace_clear(tt);
    g_assert_cmpint(nvmf_host_connect(tc->h, 1, 127, 0xffff, TEST_SUBNQN,
                                      TEST_HOSTNQN, test_hostid, 0, 0, &cqe),
                    ==, 0);
    g_assert_cmphex(cqe.status, ==, NVME_SC_CONNECT_INVALID_PARAM | DNR);
    g_assert_true(tt_trace_has(tt, "no such controller for this host"));
    /* the controller belongs to another host NQN or host ID */
    g_assert_cmpint(nvmf_host_connect(tc->h, 1, 127, a->cntlid, TEST_SUBNQN,
                                      TEST_HOSTNQN2, test_hostid, 0, 0, &cqe),
                    ==, 0);
    g_assert_cmphex(cqe.status, ==, NVME_SC_CONNECT_INVALID_PARAM | DNR);
    g_assert_cmphex(cqe.dw0, ==, 0x10010);
    g_assert_cmpint(nvmf_host_connect(tc->h, 1, 127, a->cntlid, TEST_SUBNQN,
                                      TEST_HOSTNQN, other_hostid, 0, 0, &cqe),
                    ==, 0);
    g_assert_cmphex(cqe.status, ==, NVME_SC_CONNECT_INVALID_PARAM | DNR);
    g_assert_cmphex(cqe.dw0, ==, 0x10010);

    /* beyond the port's 128 queues */
    tt_trace_clear(tt);
    g_assert_cmpint(nvmf_host_connect(tc->h, 129, 127, a->cntlid, TEST_SUBNQN,
                                      TEST_HOSTNQN, test_hostid, 0, 0, &cqe),
                    ==, 0);
    g_assert_cmphex(cqe.status, ==, NVME_SC_CONNECT_INVALID_PARAM | DNR);
    g_assert_cmphex(cqe.dw0, ==, NVME_CONNECT_QID);
    g_assert_true(tt_trace_has(tt, "queue ID beyond the number of queues "
                               "(parameter offset 42, in data 0)"));
    /* beyond the number granted by Set Features */
    g_assert_cmpint(nvmf_host_set_features(a->h, NVME_FEAT_NUM_QUEUES,
                                           0x00010001, &cqe), ==, 0);
    g_assert_cmphex(cqe.status, ==, 0);
    g_assert_cmphex(cqe.dw0, ==, 0x00010001);
    g_assert_cmpint(nvmf_host_connect(tc->h, 3, 127, a->cntlid, TEST_SUBNQN,
                                      TEST_HOSTNQN, test_hostid, 0, 0, &cqe),
                    ==, 0);
    g_assert_cmphex(cqe.status, ==, NVME_SC_CONNECT_INVALID_PARAM | DNR);
    g_assert_cmphex(cqe.dw0, ==, NVME_CONNECT_QID);
    g_assert_null(nvmet_queue_ctrl(tc->q));
    tc_free(tc);

    /* qid 2 is within the grant; then the same qid twice */
    io1 = tc_new(tt);
    cqe = connect_io(io1, 2, 127, a->cntlid, TEST_HOSTNQN, test_hostid, 0);
    g_assert_cmphex(cqe.status, ==, 0);
    g_assert_cmpuint(cqe.sqid, ==, 2);
    tc = tc_new(tt);
    cqe = connect_io(tc, 2, 127, a->cntlid, TEST_HOSTNQN, test_hostid, 0);
    g_assert_cmphex(cqe.status, ==, NVME_SC_CMD_SEQ_ERROR | DNR);
    g_assert_true(tt_trace_has(tt, "Connect refused: queue ID already "
                               "connected"));
    /* the number of queues cannot change while I/O queues exist */
    g_assert_cmpint(nvmf_host_set_features(a->h, NVME_FEAT_NUM_QUEUES,
                                           0x00030003, &cqe), ==, 0);
    g_assert_cmphex(cqe.status, ==, NVME_SC_CMD_SEQ_ERROR | DNR);
    /* once the first one is gone the qid is free again */
    tc_free(io1);
    g_assert_cmpint(nvmf_host_connect(tc->h, 2, 127, a->cntlid, TEST_SUBNQN,
                                      TEST_HOSTNQN, test_hostid, 0, 0, &cqe),
                    ==, 0);
    g_assert_cmphex(cqe.status, ==, 0);
    g_assert_cmpuint(ctrls(tt).nr_io[0], ==, 1);

    tc_free(tc);
    tc_free(a);
    tt_free(tt);
}

static void test_connect_other_port(void)
{
    TestTarget *tt = tt_new();
    NvmetPort *p2 = second_port(tt, false);
    TestConn *a = admin(tt), *tc, *a2;
    NvmfCqe cqe;

    /* an I/O queue must come through the port of its admin queue */
    tc = tc_new_on(tt, p2);
    cqe = connect_io(tc, 1, 127, a->cntlid, TEST_HOSTNQN, test_hostid, 0);
    g_assert_cmphex(cqe.status, ==, NVME_SC_CONNECT_INVALID_PARAM | DNR);
    g_assert_cmphex(cqe.dw0, ==, 0x10010);
    g_assert_true(tt_trace_has(tt, "controller belongs to another port"));
    tc_free(tc);

    /* this port does not let hosts disable SQ flow control */
    a2 = tc_new_on(tt, p2);
    g_assert_cmpint(nvmf_host_icreq(a2->h, false, false, 0), ==, 0);
    g_assert_cmpint(nvmf_host_connect(a2->h, 0, 31, 0xffff, TEST_SUBNQN,
                                      TEST_HOSTNQN, test_hostid, 0,
                                      NVME_CONNECT_CATTR_DISABLE_SQFLOW,
                                      &cqe), ==, 0);
    g_assert_cmphex(cqe.status, ==, NVME_SC_CONNECT_INVALID_PARAM | DNR);
    g_assert_cmphex(cqe.dw0, ==, NVME_CONNECT_CATTR);
    g_assert_true(tt_trace_has(tt, "SQ flow control cannot be disabled on "
                               "this port"));
    g_assert_cmpint(nvmf_host_connect(a2->h, 0, 31, 0xffff, TEST_SUBNQN,
                                      TEST_HOSTNQN, test_hostid, 0, 0, &cqe),
                    ==, 0);
    g_assert_cmphex(cqe.status, ==, 0);
    g_assert_cmphex(cqe.dw0, ==, a->cntlid + 1);

    /* removing the port ends the controllers made through it */
    tt_trace_clear(tt);
    nvmet_port_free(p2);
    g_assert_true(nvmet_queue_wants_close(a2->q));
    g_assert_false(nvmet_queue_wants_close(a->q));
    g_assert_cmpuint(ctrls(tt).n, ==, 1);
    tc_free(a2);
    tc_free(a);
    tt_free(tt);
}

static void test_connect_sqhd(void)
{
    TestTarget *tt = tt_new();
    TestConn *a = admin(tt), *io = tc_new(tt), *nf = tc_new(tt);
    static const uint16_t want[] = { 2, 3, 0, 1, 2 };
    NvmfCqe cqe;

    /* 4 entries: the SQ head wraps around */
    cqe = connect_io(io, 1, 3, a->cntlid, TEST_HOSTNQN, test_hostid, 0);
    g_assert_cmphex(cqe.status, ==, 0);
    g_assert_cmpuint(cqe.sqhd, ==, 1);
    for (unsigned i = 0; i < G_N_ELEMENTS(want); i++) {
        g_assert_cmphex(flush(io, &cqe), ==, 0);
        g_assert_cmpuint(cqe.sqhd, ==, want[i]);
        g_assert_cmpuint(cqe.sqid, ==, 1);
    }
    /* with SQ flow control disabled SQHD is 0xffff */
    cqe = connect_io(nf, 2, 3, a->cntlid, TEST_HOSTNQN, test_hostid,
                     NVME_CONNECT_CATTR_DISABLE_SQFLOW);
    g_assert_cmphex(cqe.status, ==, 0);
    g_assert_cmphex(cqe.sqhd, ==, 0xffff);
    for (unsigned i = 0; i < 5; i++) {
        g_assert_cmphex(flush(nf, &cqe), ==, 0);
        g_assert_cmphex(cqe.sqhd, ==, 0xffff);
        g_assert_cmpuint(cqe.sqid, ==, 2);
    }
    tc_free(nf);
    tc_free(io);
    tc_free(a);
    tt_free(tt);
}

/*
 * A command waiting for its data (R2T) when Connect arrives.  Before
 * Connect only another Connect can wait for data: everything else is
 * refused at once, before an R2T.
 */
static void test_connect_outstanding(void)
{
    TestTarget *tt = tt_new();
    TestConn *tc = tc_new(tt);
    uint8_t sqe[64], data[NVME_CONNECT_DATA_LEN] = { 0 };
    NvmfCqe cqe;
    int cid;

    g_assert_cmpint(nvmf_host_icreq(tc->h, false, false, 0), ==, 0);
    /* Set Features with data by R2T: refused without asking for the data */
    nvmf_sqe_init(sqe, NVME_ADM_SET_FEATURES, 0);
    nvmet_st32(sqe + NVME_SQE_CDW10, NVME_FEAT_HOST_BEHAVIOR);
    cid = nvmf_host_send_cmd(tc->h, sqe, data, 512, NULL, 0);
    g_assert_cmpint(cid, >, 0);
    g_assert_cmpint(nvmf_host_wait(tc->h, cid, &cqe), ==, 0);
    g_assert_cmphex(cqe.status, ==, NVME_SC_CMD_SEQ_ERROR | DNR);
    g_assert_true(tt_trace_has(tt, "before Connect"));
    g_assert_false(tt_trace_has(tt, "R2T"));

    /* a Connect whose data comes by R2T, then an in-capsule one */
    nvmf_sqe_init(sqe, NVME_FABRICS_COMMAND, 0);
    sqe[NVME_SQE_FCTYPE] = NVME_FCTYPE_CONNECT;
    nvmet_st16(sqe + NVME_CONNECT_SQSIZE, 31);
    memcpy(data + NVME_CONNECT_DATA_HOSTID, test_hostid, 16);
    nvmet_st16(data + NVME_CONNECT_DATA_CNTLID, 0xffff);
    strcpy((char *)data + NVME_CONNECT_DATA_SUBNQN, TEST_SUBNQN);
    strcpy((char *)data + NVME_CONNECT_DATA_HOSTNQN, TEST_HOSTNQN);
    cid = nvmf_host_send_cmd(tc->h, sqe, data, sizeof(data), NULL, 0);
    g_assert_cmpint(cid, >, 0);
    g_assert_cmpint(nvmf_host_connect(tc->h, 0, 31, 0xffff, TEST_SUBNQN,
                                      TEST_HOSTNQN, test_hostid, 0, 0, &cqe),
                    ==, 0);
    g_assert_cmphex(cqe.status, ==, NVME_SC_CMD_SEQ_ERROR | DNR);
    g_assert_true(tt_trace_has(tt, "other commands outstanding"));
    g_assert_true(tt_trace_has(tt, "R2T"));
    /* the first one got its data meanwhile and connects */
    g_assert_cmpint(nvmf_host_wait(tc->h, cid, &cqe), ==, 0);
    g_assert_cmphex(cqe.status, ==, 0);
    tc_free(tc);
    tt_free(tt);
}

static void test_before_connect(void)
{
    TestTarget *tt = tt_new();
    TestConn *tc = tc_new(tt);
    uint64_t val;
    NvmfCqe cqe;

    g_assert_cmpint(nvmf_host_icreq(tc->h, false, false, 0), ==, 0);
    g_assert_cmphex(identify_status(tc), ==, NVME_SC_CMD_SEQ_ERROR | DNR);
    g_assert_true(tt_trace_has(tt, "test-peer: cid 1 opcode 0x06 before "
                               "Connect"));
    g_assert_cmpint(nvmf_host_prop_get(tc->h, NVME_REG_CAP, true, &val, &cqe),
                    ==, 0);
    g_assert_cmphex(cqe.status, ==, NVME_SC_CMD_SEQ_ERROR | DNR);
    g_assert_true(tt_trace_has(tt, "opcode 0x7f before Connect"));
    g_assert_cmphex(prop_set(tc, NVME_REG_CC, CC_GOOD), ==,
                    NVME_SC_CMD_SEQ_ERROR | DNR);
    g_assert_false(nvmet_queue_wants_close(tc->q));
    tc_free(tc);
    tt_free(tt);
}

/* ---- Property Get / Set -------------------------------------------------- */

static void test_prop_get(void)
{
    TestTarget *tt = tt_new();
    TestConn *tc = tc_new(tt), *disc = tc_new(tt);
    NvmfCqe cqe;

    cqe = connect_admin(tc, 31, 0xffff, TEST_SUBNQN, TEST_HOSTNQN, 0);
    g_assert_cmphex(cqe.status, ==, 0);
    g_assert_cmphex(prop_get(tc, NVME_REG_CAP, true), ==, CAP_IO);
    g_assert_cmphex(prop_get(tc, NVME_REG_VS, false), ==, 0x00010400);
    g_assert_cmphex(prop_get(tc, NVME_REG_CC, false), ==, 0);
    g_assert_cmphex(prop_get(tc, NVME_REG_CSTS, false), ==, 0);
    g_assert_cmphex(prop_get(tc, NVME_REG_NSSR, false), ==, 0);
    g_assert_true(tt_trace_has(tt, "property get 0x0 = 0x200f0103ff"));

    g_assert_cmphex(prop_set(tc, NVME_REG_CC, CC_GOOD), ==, 0);
    g_assert_true(tt_trace_has(tt, "property set 0x14 = 0x460001"));
    g_assert_cmphex(prop_get(tc, NVME_REG_CC, false), ==, CC_GOOD);
    g_assert_cmphex(prop_get(tc, NVME_REG_CSTS, false), ==, NVME_CSTS_RDY);

    /* a discovery controller has a 32-entry admin queue only */
    cqe = connect_admin(disc, 31, 0xffff, NVME_DISC_SUBSYS_NAME, TEST_HOSTNQN,
                        0);
    g_assert_cmphex(cqe.status, ==, 0);
    g_assert_cmphex(prop_get(disc, NVME_REG_CAP, true), ==, CAP_DISC);
    g_assert_cmphex(prop_get(disc, NVME_REG_VS, false), ==, 0x00010400);
    tc_free(disc);
    tc_free(tc);
    tt_free(tt);
}

static void test_prop_custom(void)
{
    TestTarget *tt = tt_new();
    NvmetSubsysConfig sc;
    NvmetPortConfig pc;
    NvmetSubsys *s;
    NvmetPort *port;
    GError *err = NULL;
    TestConn *tc;
    NvmfCqe cqe;

    /* VS and MQES follow the subsystem and port configuration */
    nvmet_subsys_config_init(&sc);
    sc.nqn = "nqn.2026-11.org.qemu:v2";
    sc.allow_any_host = true;
    sc.version = 0x00020000;
    s = nvmet_subsys_new(tt->t, &sc, &err);
    g_assert_no_error(err);
    nvmet_port_config_init(&pc);
    pc.portid = 7;
    pc.traddr = "::1";
    pc.trsvcid = "4430";
    pc.ipv6 = true;
    pc.max_queue_size = 64;
    port = nvmet_port_new(tt->t, &pc, &err);
    g_assert_no_error(err);
    nvmet_port_add_subsys(port, s);

    tc = tc_new_on(tt, port);
    cqe = connect_admin(tc, 31, 0xffff, sc.nqn, TEST_HOSTNQN, 0);
    g_assert_cmphex(cqe.status, ==, 0);
    g_assert_cmphex(prop_get(tc, NVME_REG_VS, false), ==, 0x00020000);
    g_assert_cmphex(prop_get(tc, NVME_REG_CAP, true), ==, 0x200f01003full);
    tc_free(tc);
    nvmet_port_free(port);
    nvmet_subsys_free(s);
    tt_free(tt);
}

static void test_prop_invalid(void)
{
    TestTarget *tt = tt_new();
    TestConn *a = admin(tt), *io = tc_new(tt);
    uint8_t sqe[64];
    uint64_t val;
    NvmfCqe cqe;

    /* registers that do not exist (INTMS/INTMC are PCIe only) */
    g_assert_cmphex(prop_raw(a, NVME_FCTYPE_PROP_GET, 0, NVME_REG_INTMS, 0),
                    ==, NVME_SC_INVALID_FIELD | DNR);
    g_assert_true(tt_trace_has(tt, "property get at invalid offset 0xc"));
    g_assert_cmphex(prop_raw(a, NVME_FCTYPE_PROP_GET, 0, 0x1000, 0),
                    ==, NVME_SC_INVALID_FIELD | DNR);
    g_assert_cmphex(prop_raw(a, NVME_FCTYPE_PROP_GET, 0, 0x16, 0),
                    ==, NVME_SC_INVALID_FIELD | DNR);
    /* wrong sizes: CAP is 8 bytes, the others 4 */
    g_assert_cmpint(nvmf_host_prop_get(a->h, NVME_REG_CAP, false, &val, &cqe),
                    ==, 0);
    g_assert_cmphex(cqe.status, ==, NVME_SC_INVALID_FIELD | DNR);
    g_assert_true(tt_trace_has(tt, "property get (size) at invalid offset "
                               "0x0"));
    g_assert_cmpint(nvmf_host_prop_get(a->h, NVME_REG_VS, true, &val, &cqe),
                    ==, 0);
    g_assert_cmphex(cqe.status, ==, NVME_SC_INVALID_FIELD | DNR);
    g_assert_cmphex(prop_raw(a, NVME_FCTYPE_PROP_GET, 2, NVME_REG_CAP, 0),
                    ==, NVME_SC_INVALID_FIELD | DNR);
    g_assert_cmphex(prop_raw(a, NVME_FCTYPE_PROP_GET, 7, NVME_REG_VS, 0),
                    ==, NVME_SC_INVALID_FIELD | DNR);

    /* only CC can be set, and only with 4 bytes */
    tt_trace_clear(tt);
    g_assert_cmphex(prop_set(a, NVME_REG_CSTS, 0), ==,
                    NVME_SC_INVALID_FIELD | DNR);
    g_assert_true(tt_trace_has(tt, "property set at invalid offset 0x1c"));
    g_assert_cmphex(prop_set(a, NVME_REG_CAP, 0), ==,
                    NVME_SC_INVALID_FIELD | DNR);
    g_assert_cmphex(prop_set(a, NVME_REG_NSSR, 0x4e564d65), ==,
                    NVME_SC_INVALID_FIELD | DNR);
    g_assert_cmphex(prop_raw(a, NVME_FCTYPE_PROP_SET, 1, NVME_REG_CC,
                             CC_GOOD), ==, NVME_SC_INVALID_FIELD | DNR);
    /* nothing changed */
    g_assert_cmphex(prop_get(a, NVME_REG_CC, false), ==, CC_GOOD);
    g_assert_cmphex(prop_get(a, NVME_REG_CSTS, false), ==, NVME_CSTS_RDY);

    /* unknown fabrics command type */
    nvmf_sqe_init(sqe, NVME_FABRICS_COMMAND, 0);
    sqe[NVME_SQE_FCTYPE] = 0x7e;
    submit(a, sqe, NULL, 0, NULL, 0, &cqe);
    g_assert_cmphex(cqe.status, ==, NVME_SC_INVALID_OPCODE | DNR);
    g_assert_true(tt_trace_has(tt, "unsupported fabrics command type 0x7e"));

    /* properties are an admin queue thing */
    tc_io(io, 1, a->cntlid, TEST_SUBNQN, TEST_HOSTNQN, false, false);
    g_assert_cmpint(nvmf_host_prop_get(io->h, NVME_REG_CAP, true, &val, &cqe),
                    ==, 0);
    g_assert_cmphex(cqe.status, ==, NVME_SC_INVALID_OPCODE | DNR);
    g_assert_cmphex(prop_set(io, NVME_REG_CC, 0), ==,
                    NVME_SC_INVALID_OPCODE | DNR);
    /* ... and CC did not change through it */
    g_assert_cmphex(prop_get(a, NVME_REG_CSTS, false), ==, NVME_CSTS_RDY);
    tc_free(io);
    tc_free(a);
    tt_free(tt);
}

static void test_prop_enable(void)
{
    static const uint32_t bad_cc[] = {
        NVME_CC_EN | (5u << NVME_CC_IOSQES_SHIFT) |
        (4u << NVME_CC_IOCQES_SHIFT),
        NVME_CC_EN | (6u << NVME_CC_IOSQES_SHIFT) |
        (5u << NVME_CC_IOCQES_SHIFT),
        CC_GOOD | (1u << NVME_CC_CSS_SHIFT),
        CC_GOOD | (1u << NVME_CC_MPS_SHIFT),
        CC_GOOD | (1u << 11),                   /* AMS */
    };
    TestTarget *tt = tt_new();

    for (unsigned i = 0; i < G_N_ELEMENTS(bad_cc); i++) {
        TestConn *tc = tc_new(tt);
        g_autofree char *msg = NULL;
        NvmfCqe cqe;

        cqe = connect_admin(tc, 31, 0xffff, TEST_SUBNQN, TEST_HOSTNQN, 0);
        g_assert_cmphex(cqe.status, ==, 0);
        tt_trace_clear(tt);
        /* the Property Set succeeds, the controller goes fatal */
        g_assert_cmphex(prop_set(tc, NVME_REG_CC, bad_cc[i]), ==, 0);
        g_assert_cmphex(prop_get(tc, NVME_REG_CSTS, false), ==, NVME_CSTS_CFS);
        msg = g_strdup_printf("CC 0x%08x has unsupported settings", bad_cc[i]);
        g_assert_true(tt_trace_has(tt, msg));
        /* and admin commands are refused */
        g_assert_cmphex(identify_status(tc), ==, NVME_SC_CMD_SEQ_ERROR | DNR);
        /* a reset and a correct CC recover it */
        g_assert_cmphex(prop_set(tc, NVME_REG_CC, 0), ==, 0);
        g_assert_cmphex(prop_get(tc, NVME_REG_CSTS, false), ==, 0);
        g_assert_cmpint(nvmf_host_enable(tc->h), ==, 0);
        g_assert_cmphex(identify_status(tc), ==, 0);
        tc_free(tc);
    }

    /* a discovery controller does not care about the queue entry sizes */
    {
        TestConn *tc = tc_new(tt);
        NvmfCqe cqe;

        cqe = connect_admin(tc, 31, 0xffff, NVME_DISC_SUBSYS_NAME,
                            TEST_HOSTNQN, 0);
        g_assert_cmphex(cqe.status, ==, 0);
        g_assert_cmphex(prop_set(tc, NVME_REG_CC, NVME_CC_EN), ==, 0);
        g_assert_cmphex(prop_get(tc, NVME_REG_CSTS, false), ==, NVME_CSTS_RDY);
        g_assert_cmphex(identify_status(tc), ==, 0);
        tc_free(tc);
    }
    tt_free(tt);
}

static void test_prop_shutdown(void)
{
    TestTarget *tt = tt_new();
    TestConn *tc = admin(tt);

    /* normal shutdown: SHST says complete at once */
    g_assert_cmphex(prop_set(tc, NVME_REG_CC, CC_GOOD | (1u << 14)), ==, 0);
    g_assert_cmphex(prop_get(tc, NVME_REG_CSTS, false), ==,
                    NVME_CSTS_RDY | NVME_CSTS_SHST_CMPLT);
    g_assert_true(tt_trace_has(tt, "cntlid 1: shutdown"));
    /* clearing SHN clears SHST */
    g_assert_cmphex(prop_set(tc, NVME_REG_CC, CC_GOOD), ==, 0);
    g_assert_cmphex(prop_get(tc, NVME_REG_CSTS, false), ==, NVME_CSTS_RDY);
    /* abrupt shutdown together with disabling */
    g_assert_cmphex(prop_set(tc, NVME_REG_CC, (CC_GOOD & ~NVME_CC_EN) |
                             (2u << 14)), ==, 0);
    g_assert_cmphex(prop_get(tc, NVME_REG_CSTS, false), ==,
                    NVME_CSTS_SHST_CMPLT);
    g_assert_false(nvmet_queue_wants_close(tc->q));
    tc_free(tc);
    tt_free(tt);
}

static void test_prop_reset(void)
{
    TestTarget *tt = tt_new();
    TestConn *a = admin(tt), *io = tc_new(tt), *io2;
    uint8_t sqe[64];
    NvmfCqe cqe;
    int aer;

    tc_io(io, 1, a->cntlid, TEST_SUBNQN, TEST_HOSTNQN, false, false);
    g_assert_cmpint(nvmf_host_set_features(a->h, NVME_FEAT_VOLATILE_WC, 0,
                                           &cqe), ==, 0);
    g_assert_cmphex(cqe.status, ==, 0);
    nvmf_sqe_init(sqe, NVME_ADM_ASYNC_EVENT, 0);
    aer = nvmf_host_send_cmd(a->h, sqe, NULL, 0, NULL, 0);
    g_assert_cmpint(aer, >, 0);
    g_assert_true(tt_trace_has(tt, "AER posted (1 outstanding)"));

    /* CC.EN 1 -> 0 */
    tt_trace_clear(tt);
    g_assert_cmphex(prop_set(a, NVME_REG_CC, 0), ==, 0);
    g_assert_true(tt_trace_has(tt, "cntlid 1 (" TEST_SUBNQN "): controller "
                               "reset"));
    g_assert_true(tt_trace_has(tt, "opcode 0x0c dropped without completion"));
    /* the I/O queue closes when its thread next looks (posted to it) */
    g_assert_true(nvmet_queue_wants_close(io->q));
    g_assert_true(tt_trace_has(tt, "qid 1 cntlid 1: closing: controller "
                               "reset"));
    g_assert_false(nvmet_queue_wants_close(a->q));
    g_assert_cmphex(prop_get(a, NVME_REG_CSTS, false), ==, 0);
    g_assert_cmphex(prop_get(a, NVME_REG_CC, false), ==, 0);
    /* admin commands wait for the controller to be enabled again */
    tt_trace_clear(tt);
    g_assert_cmphex(keep_alive(a), ==, NVME_SC_CMD_SEQ_ERROR | DNR);
    g_assert_true(tt_trace_has(tt, "opcode 0x18 while the controller is not "
                               "ready"));
    tc_free(io);

    /* enabled again: features are back to their defaults */
    g_assert_cmpint(nvmf_host_enable(a->h), ==, 0);
    nvmf_sqe_init(sqe, NVME_ADM_GET_FEATURES, 0);
    nvmet_st32(sqe + NVME_SQE_CDW10, NVME_FEAT_VOLATILE_WC);
    submit(a, sqe, NULL, 0, NULL, 0, &cqe);
    g_assert_cmphex(cqe.status, ==, 0);
    g_assert_cmphex(cqe.dw0, ==, 1);
    /* the association survived: the same controller takes I/O queues */
    io2 = tc_new(tt);
    tc_io(io2, 1, a->cntlid, TEST_SUBNQN, TEST_HOSTNQN, false, false);
    g_assert_cmphex(flush(io2, &cqe), ==, 0);
    g_assert_cmpuint(ctrls(tt).n, ==, 1);
    tc_free(io2);
    tc_free(a);
    tt_free(tt);
}

/* ---- Disconnect ---------------------------------------------------------- */

static void test_disconnect(void)
{
    TestTarget *tt = tt_new();
    TestConn *a = admin(tt), *io = tc_new(tt), *io2 = tc_new(tt);
    uint8_t sqe[64];
    NvmfCqe cqe;

    tc_io(io, 1, a->cntlid, TEST_SUBNQN, TEST_HOSTNQN, false, false);
    tc_io(io2, 2, a->cntlid, TEST_SUBNQN, TEST_HOSTNQN, false, false);
    g_assert_cmpuint(ctrls(tt).nr_io[0], ==, 2);

    /* the admin queue ends by closing the connection, not by Disconnect */
    nvmf_sqe_init(sqe, NVME_FABRICS_COMMAND, 0);
    sqe[NVME_SQE_FCTYPE] = NVME_FCTYPE_DISCONNECT;
    submit(a, sqe, NULL, 0, NULL, 0, &cqe);
    g_assert_cmphex(cqe.status, ==, NVME_SC_INVALID_FIELD | DNR);
    g_assert_false(nvmet_queue_wants_close(a->q));

    /* an I/O queue: answered, then closed */
    submit(io, sqe, NULL, 0, NULL, 0, &cqe);
    g_assert_cmphex(cqe.status, ==, 0);
    g_assert_cmpuint(cqe.sqid, ==, 1);
    g_assert_true(nvmet_queue_wants_close(io->q));
    g_assert_true(tt_trace_has(tt, "qid 1 cntlid 1: closing: host sent "
                               "Disconnect"));
    g_assert_false(nvmet_queue_wants_close(io2->q));
    g_assert_false(nvmet_queue_wants_close(a->q));
    tc_free(io);
    g_assert_cmpuint(ctrls(tt).nr_io[0], ==, 1);
    g_assert_cmphex(flush(io2, &cqe), ==, 0);

    /* the qid can be connected again */
    io = tc_new(tt);
    tc_io(io, 1, a->cntlid, TEST_SUBNQN, TEST_HOSTNQN, false, false);
    g_assert_cmpuint(ctrls(tt).nr_io[0], ==, 2);

    /* closing the admin queue ends the whole association */
    tt_trace_clear(tt);
    tc_free(a);
    g_assert_true(tt_trace_has(tt, "torn down: admin queue closed"));
    g_assert_true(nvmet_queue_wants_close(io->q));
    g_assert_true(nvmet_queue_wants_close(io2->q));
    g_assert_cmpuint(ctrls(tt).n, ==, 0);
    tc_free(io);
    tc_free(io2);
    tt_free(tt);
}

/* ---- Keep Alive ---------------------------------------------------------- */

static void test_kato_expiry(void)
{
    TestTarget *tt = tt_new();
    TestConn *a = admin_kato(tt, 5000), *io = tc_new(tt);

    tc_io(io, 1, a->cntlid, TEST_SUBNQN, TEST_HOSTNQN, false, false);
    g_assert_cmpint(tt->deadline, ==, 1000 + 5000);
    g_assert_cmpint(nvmet_target_next_deadline(tt->t), ==, 6000);
    tt_advance(tt, 4999);
    g_assert_false(nvmet_queue_wants_close(a->q));
    g_assert_cmpuint(ctrls(tt).n, ==, 1);
    tt_advance(tt, 1);
    g_assert_true(tt_trace_has(tt, "cntlid 1 (" TEST_SUBNQN ", host "
                               TEST_HOSTNQN "): no keep-alive within 5000 ms"));
    g_assert_true(tt_trace_has(tt, "torn down: keep-alive timeout"));
    g_assert_true(nvmet_queue_wants_close(a->q));
    g_assert_true(nvmet_queue_wants_close(io->q));
    g_assert_cmpuint(ctrls(tt).n, ==, 0);
    g_assert_cmpint(nvmet_target_next_deadline(tt->t), ==, INT64_MAX);
    g_assert_cmpint(tt->deadline, ==, INT64_MAX);
    g_assert_cmpuint(tt->kicks, >, 0);
    tc_free(io);
    tc_free(a);
    tt_free(tt);
}

static void test_kato_kept(void)
{
    TestTarget *tt = tt_new();
    TestConn *a = admin_kato(tt, 5000), *io = tc_new(tt);
    NvmfCqe cqe;

    tc_io(io, 1, a->cntlid, TEST_SUBNQN, TEST_HOSTNQN, false, false);
    /* Keep Alive commands in time */
    for (int i = 0; i < 10; i++) {
        tt_advance(tt, 4000);
        g_assert_cmphex(keep_alive(a), ==, 0);
    }
    /* any command restarts the timer (TBKAS), also on I/O queues */
    for (int i = 0; i < 10; i++) {
        tt_advance(tt, 4000);
        g_assert_cmphex(flush(io, &cqe), ==, 0);
    }
    g_assert_false(nvmet_queue_wants_close(a->q));
    g_assert_false(tt_trace_has(tt, "no keep-alive"));
    g_assert_cmpuint(ctrls(tt).n, ==, 1);
    /* and then the host goes quiet */
    tt_advance(tt, 4999);
    g_assert_false(nvmet_queue_wants_close(a->q));
    tt_advance(tt, 1);
    g_assert_true(nvmet_queue_wants_close(a->q));
    g_assert_true(tt_trace_has(tt, "no keep-alive within 5000 ms"));
    tc_free(io);
    tc_free(a);
    tt_free(tt);
}

static void test_kato_zero(void)
{
    TestTarget *tt = tt_new();
    TestConn *a = admin_kato(tt, 0);

    /*
     * No deadline: the ICReq timeout ended with the ICReq and KATO 0 arms
     * none.  The timer armed for the ICReq fires once, for nothing.
     */
    g_assert_cmpint(nvmet_target_next_deadline(tt->t), ==, INT64_MAX);
    tt_advance(tt, NVMET_ICREQ_TIMEOUT_MS_DEFAULT);
    g_assert_cmpint(tt->deadline, ==, INT64_MAX);
    tt_advance(tt, 1000 * 1000 * 1000);
    g_assert_false(nvmet_queue_wants_close(a->q));
    g_assert_cmphex(keep_alive(a), ==, 0);
    tc_free(a);
    tt_free(tt);
}

static void test_kato_set_features(void)
{
    TestTarget *tt = tt_new();
    TestConn *a = admin_kato(tt, 60000);
    uint8_t sqe[64];
    NvmfCqe cqe;

    /* shorten the timeout: it applies at once */
    g_assert_cmpint(nvmf_host_set_features(a->h, NVME_FEAT_KATO, 2000, &cqe),
                    ==, 0);
    g_assert_cmphex(cqe.status, ==, 0);
    nvmf_sqe_init(sqe, NVME_ADM_GET_FEATURES, 0);
    nvmet_st32(sqe + NVME_SQE_CDW10, NVME_FEAT_KATO);
    submit(a, sqe, NULL, 0, NULL, 0, &cqe);
    g_assert_cmphex(cqe.status, ==, 0);
    g_assert_cmpuint(cqe.dw0, ==, 2000);
    g_assert_cmpuint(ctrls(tt).kato[0], ==, 2000);
    tt_advance(tt, 1999);
    g_assert_false(nvmet_queue_wants_close(a->q));
    tt_advance(tt, 1);
    g_assert_true(nvmet_queue_wants_close(a->q));
    g_assert_true(tt_trace_has(tt, "no keep-alive within 2000 ms"));
    tc_free(a);

    /* switch it off */
    a = admin_kato(tt, 3000);
    g_assert_cmpint(nvmf_host_set_features(a->h, NVME_FEAT_KATO, 0, &cqe),
                    ==, 0);
    g_assert_cmphex(cqe.status, ==, 0);
    tt_advance(tt, 3000);
    tt_advance(tt, 100000);
    g_assert_false(nvmet_queue_wants_close(a->q));
    tc_free(a);
    tt_free(tt);
}

/* A controller with a shorter timeout than the one already armed */
static void test_kato_two_ctrls(void)
{
    TestTarget *tt = tt_new();
    TestConn *slow = admin_kato(tt, 120000);
    TestConn *fast = admin_kato(tt, 3000);

    g_assert_cmpint(nvmet_target_next_deadline(tt->t), ==, 1000 + 3000);
    g_assert_cmpint(tt->deadline, ==, 1000 + 3000);
    tt_advance(tt, 3000);
    g_assert_true(nvmet_queue_wants_close(fast->q));
    g_assert_false(nvmet_queue_wants_close(slow->q));
    g_assert_true(tt_trace_has(tt, "cntlid 2 (" TEST_SUBNQN ", host "
                               TEST_HOSTNQN "): no keep-alive within 3000 ms"));
    g_assert_cmpuint(ctrls(tt).n, ==, 1);
    /* the remaining controller's deadline is armed again */
    g_assert_cmpint(tt->deadline, ==, 1000 + 120000);
    tt_advance(tt, 118000);
    g_assert_true(nvmet_queue_wants_close(slow->q));
    tc_free(fast);
    tc_free(slow);
    tt_free(tt);
}

static void test_before_enable(void)
{
    TestTarget *tt = tt_new();
    TestConn *tc = tc_new(tt);
    uint8_t sqe[64];
    NvmfCqe cqe;

    cqe = connect_admin(tc, 31, 0xffff, TEST_SUBNQN, TEST_HOSTNQN, 0);
    g_assert_cmphex(cqe.status, ==, 0);
    g_assert_cmphex(identify_status(tc), ==, NVME_SC_CMD_SEQ_ERROR | DNR);
    g_assert_true(tt_trace_has(tt, "test-peer qid 0 cntlid 1: cid 2 opcode "
                               "0x06 while the controller is not ready"));
    g_assert_cmphex(keep_alive(tc), ==, NVME_SC_CMD_SEQ_ERROR | DNR);
    g_assert_cmpint(nvmf_host_set_features(tc->h, NVME_FEAT_NUM_QUEUES, 0,
                                           &cqe), ==, 0);
    g_assert_cmphex(cqe.status, ==, NVME_SC_CMD_SEQ_ERROR | DNR);
    nvmf_sqe_init(sqe, NVME_ADM_ASYNC_EVENT, 0);
    submit(tc, sqe, NULL, 0, NULL, 0, &cqe);
    g_assert_cmphex(cqe.status, ==, NVME_SC_CMD_SEQ_ERROR | DNR);
    /* properties work, and enabling opens the gate */
    g_assert_cmpint(nvmf_host_enable(tc->h), ==, 0);
    g_assert_cmphex(identify_status(tc), ==, 0);
    g_assert_cmphex(keep_alive(tc), ==, 0);
    tc_free(tc);
    tt_free(tt);
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/nvmet/fabrics/connect/admin", test_connect_admin);
    g_test_add_func("/nvmet/fabrics/connect/cntlid-range",
                    test_connect_cntlid_range);
    g_test_add_func("/nvmet/fabrics/connect/static-cntlid",
                    test_connect_static_cntlid);
    g_test_add_func("/nvmet/fabrics/connect/bad-subsys",
                    test_connect_bad_subsys);
    g_test_add_func("/nvmet/fabrics/connect/free-form-nqn",
                    test_free_form_nqn);
    g_test_add_func("/nvmet/fabrics/connect/unterminated",
                    test_connect_unterminated);
    g_test_add_func("/nvmet/fabrics/connect/format", test_connect_format);
    g_test_add_func("/nvmet/fabrics/connect/host-denied",
                    test_connect_host_denied);
    g_test_add_func("/nvmet/fabrics/connect/allow-any-revoked",
                    test_connect_allow_any_revoked);
    g_test_add_func("/nvmet/fabrics/connect/sqsize", test_connect_sqsize);
    g_test_add_func("/nvmet/fabrics/connect/io-errors",
                    test_connect_io_errors);
    g_test_add_func("/nvmet/fabrics/connect/other-port",
                    test_connect_other_port);
    g_test_add_func("/nvmet/fabrics/connect/sqhd", test_connect_sqhd);
    g_test_add_func("/nvmet/fabrics/connect/outstanding",
                    test_connect_outstanding);
    g_test_add_func("/nvmet/fabrics/before-connect", test_before_connect);
    g_test_add_func("/nvmet/fabrics/before-enable", test_before_enable);
    g_test_add_func("/nvmet/fabrics/prop/get", test_prop_get);
    g_test_add_func("/nvmet/fabrics/prop/custom", test_prop_custom);
    g_test_add_func("/nvmet/fabrics/prop/invalid", test_prop_invalid);
    g_test_add_func("/nvmet/fabrics/prop/enable", test_prop_enable);
    g_test_add_func("/nvmet/fabrics/prop/shutdown", test_prop_shutdown);
    g_test_add_func("/nvmet/fabrics/prop/reset", test_prop_reset);
    g_test_add_func("/nvmet/fabrics/disconnect", test_disconnect);
    g_test_add_func("/nvmet/fabrics/kato/expiry", test_kato_expiry);
    g_test_add_func("/nvmet/fabrics/kato/kept", test_kato_kept);
    g_test_add_func("/nvmet/fabrics/kato/zero", test_kato_zero);
    g_test_add_func("/nvmet/fabrics/kato/set-features",
                    test_kato_set_features);
    g_test_add_func("/nvmet/fabrics/kato/two-ctrls", test_kato_two_ctrls);
    return g_test_run();
}
