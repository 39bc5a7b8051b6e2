/*
 * Fault injection (include/nvmet/fault.h): bad specifications refused with
 * nothing armed, every action at a representative step as the host sees
 * it, the count semantics (Nth, next N, every, probability), the filters,
 * deletion, the events and queries, and determinism (the same seed and
 * fault script give the same faults at the same steps and the same target
 * choices).
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#include <string.h>
#include <gnutls/gnutls.h>
#include "nvmet-test-util.h"
#include "nvmet/fault.h"
#include "../../nvmet/engine/crypto.h"

#define HOSTNQN TEST_HOSTNQN
#define DNR NVME_STATUS_DNR

static const uint8_t secret[48] = {
    0x44, 0x21, 0x9a, 0x0c, 0x71, 0xe3, 0x5b, 0x18, 0xcd, 0x02, 0x6f, 0xa4,
    0x93, 0x3e, 0xb7, 0x58, 0x0d, 0xf1, 0x26, 0x8a, 0x4c, 0xe9, 0x15, 0x7b,
    0xa0, 0x36, 0xd2, 0x69, 0x8e, 0x47, 0xfc, 0x13, 0x5d, 0xb2, 0x0a, 0x97,
    0x64, 0xc8, 0x31, 0xef, 0x1b, 0x86, 0x53, 0xda, 0x2f, 0x70, 0xbe, 0x49,
};

/* ---- helpers ------------------------------------------------------------ */

static uint32_t arm(TestTarget *tt, const NvmetFaultConfig *cfg)
{
    GError *err = NULL;
    uint32_t id = nvmet_fault_add(tt->t, cfg, &err);

    g_assert_no_error(err);
    g_assert_cmpuint(id, >, 0);
    return id;
}

typedef struct InfoLookup {
    uint32_t id;
    unsigned count;
    NvmetFaultInfo info;
    char *desc;
} InfoLookup;

static void info_cb(const NvmetFaultInfo *info, void *opaque)
{
    InfoLookup *l = opaque;

    l->count++;
    if (info->id == l->id) {
        l->info = *info;
        g_free(l->desc);
        l->desc = g_strdup(info->description);
        l->info.description = NULL;
        l->info.owner = NULL;
    }
}

static unsigned n_faults(TestTarget *tt)
{
    InfoLookup l = { 0 };

    nvmet_fault_foreach(tt->t, info_cb, &l);
    return l.count;
}

/* matches and hits of fault @id */
static void counts(TestTarget *tt, uint32_t id, uint64_t matches,
                   uint64_t hits, bool active)
{
    InfoLookup l = { .id = id };

    nvmet_fault_foreach(tt->t, info_cb, &l);
    g_assert_cmpuint(l.info.id, ==, id);
    g_assert_cmpuint(l.info.matches, ==, matches);
    g_assert_cmpuint(l.info.hits, ==, hits);
    g_assert_cmpint(l.info.active, ==, active);
    g_free(l.desc);
}

/* admin queue (@kato ms), enabled; an I/O queue 1 if @io */
static TestConn *admin_conn(TestTarget *tt, uint32_t kato, bool hdgst,
                            bool ddgst)
{
    TestConn *a = tc_new(tt);
    NvmfCqe cqe;

    g_assert_cmpint(nvmf_host_icreq(a->h, hdgst, ddgst, 0), ==, 0);
    g_assert_cmpint(nvmf_host_connect(a->h, 0, 31, 0xffff, TEST_SUBNQN,
                                      HOSTNQN, test_hostid, kato, 0, &cqe),
                    ==, 0);
    g_assert_cmphex(cqe.status, ==, 0);
    a->cntlid = cqe.dw0 & 0xffff;
    g_assert_cmpint(nvmf_host_enable(a->h), ==, 0);
    return a;
}

static TestConn *io_conn(TestTarget *tt, TestConn *a, bool hdgst, bool ddgst)
{
    TestConn *io = tc_new(tt);

    tc_io(io, 1, a->cntlid, TEST_SUBNQN, HOSTNQN, hdgst, ddgst);
    nvmf_host_set_incapsule(io->h, 0);      /* writes go by R2T */
    return io;
}

static int send_rw(TestConn *io, bool write, uint64_t lba, void *buf)
{
    uint8_t sqe[NVME_SQE_SIZE];
    int cid;

    nvmf_sqe_init(sqe, write ? NVME_CMD_WRITE : NVME_CMD_READ, 1);
    nvmf_sqe_set_dw(sqe, NVME_SQE_CDW10, lba);
    nvmf_sqe_set_dw(sqe, NVME_SQE_CDW12, 7);
    cid = write ? nvmf_host_send_cmd(io->h, sqe, buf, 4096, NULL, 0) :
                  nvmf_host_send_cmd(io->h, sqe, NULL, 0, buf, 4096);
    g_assert_cmpint(cid, >, 0);
    return cid;
}

static uint16_t rw(TestConn *io, bool write, uint64_t lba, void *buf)
{
    NvmfCqe cqe;

    g_assert_cmpint(nvmf_host_rw(io->h, write, 1, lba, 8, buf, 4096, &cqe),
                    ==, 0);
    return cqe.status;
}

static void auth_params(NvmfAuthParams *p, const char *hkey,
                        const char *ckey, uint8_t sc_c, uint16_t tid)
{
    memset(p, 0, sizeof(*p));
    p->hostnqn = HOSTNQN;
    p->subnqn = TEST_SUBNQN;
    p->host_secret = hkey;
    p->ctrl_secret = ckey;
    p->hashes[0] = 1;
    p->nhashes = 1;
    p->groups[0] = 1;           /* ffdhe2048 */
    p->ngroups = 1;
    p->sc_c = sc_c;
    p->tid = tid;
}

/* The subsystem admits HOSTNQN only; with DH-HMAC-CHAP keys if @keys. */
typedef struct AuthSetup {
    char *hkey, *ckey;
} AuthSetup;

static void auth_setup(TestTarget *tt, AuthSetup *s)
{
    GError *err = NULL;

    nvmet_subsys_set_allow_any_host(tt->subsys, false);
    tt->host = nvmet_host_new(tt->t, HOSTNQN, &err);
    g_assert_no_error(err);
    g_assert_true(nvmet_subsys_add_host(tt->subsys, tt->host, &err));
    s->hkey = nvmf_dhchap_key_encode(secret, 48, 2);
    s->ckey = nvmf_dhchap_key_encode(secret + 16, 32, 1);
    g_assert_true(nvmet_host_set_dhchap_keys(tt->host, s->hkey, s->ckey,
                                             &err));
}

static void auth_setup_free(AuthSetup *s)
{
    g_free(s->hkey);
    g_free(s->ckey);
}

/* ICReq + admin Connect, no enable; the Connect's status */
static uint16_t connect_admin(TestConn *c)
{
    NvmfCqe cqe;

    g_assert_cmpint(nvmf_host_icreq(c->h, false, false, 0), ==, 0);
    g_assert_cmpint(nvmf_host_connect(c->h, 0, 31, 0xffff, TEST_SUBNQN,
                                      HOSTNQN, test_hostid, 0, 0, &cqe), ==, 0);
    c->cntlid = cqe.dw0 & 0xffff;
    return cqe.status;
}

/* A port with TLS allowed, exporting the test subsystem */
static NvmetPort *tls_port(TestTarget *tt)
{
    return tt_add_tls_port(tt, NVMET_PORT_TLS_ALLOWED);
}

/* ---- bad specifications ------------------------------------------------- */

static void refused(TestTarget *tt, const NvmetFaultConfig *cfg,
                    const char *why)
{
    GError *err = NULL;

    g_assert_cmpuint(nvmet_fault_add(tt->t, cfg, &err), ==, 0);
    g_assert_nonnull(err);
    if (!strstr(err->message, why)) {
        g_error("'%s' does not say '%s'", err->message, why);
    }
    g_error_free(err);
    g_assert_cmpuint(n_faults(tt), ==, 0);
}

static void test_refused(void)
{
    TestTarget *tt = tt_new();

    refused(tt, &(NvmetFaultConfig) { .point = NVMET_FP__MAX },
            "unknown step");
    refused(tt, &(NvmetFaultConfig) {
                .point = NVMET_FP_PDU_ICREQ, .action = NVMET_FA_DROP },
            "action 'drop' is not possible at step 'pdu-icreq' (possible: "
            "close, c2h-term)");
    refused(tt, &(NvmetFaultConfig) {
                .point = NVMET_FP_IO_CMD, .action = NVMET_FA_STATUS },
            "needs a status");
    refused(tt, &(NvmetFaultConfig) {
                .point = NVMET_FP_IO_CMD, .action = NVMET_FA_STATUS,
                .has_status = true, .status = DNR },
            "status 0 is success");
    refused(tt, &(NvmetFaultConfig) {
                .point = NVMET_FP_IO_CMD, .action = NVMET_FA_STATUS,
                .has_status = true, .status = 0x8002 },
            "bits beyond");
    refused(tt, &(NvmetFaultConfig) {
                .point = NVMET_FP_IO_CMD, .action = NVMET_FA_DROP,
                .has_status = true, .status = 2 },
            "'status' is a parameter of action 'status', not of 'drop'");
    refused(tt, &(NvmetFaultConfig) {
                .point = NVMET_FP_IO_CMD, .action = NVMET_FA_DELAY },
            "needs delay-ms");
    refused(tt, &(NvmetFaultConfig) {
                .point = NVMET_FP_KEEP_ALIVE, .action = NVMET_FA_DROP,
                .has_opcode = true },
            "step 'keep-alive' has no opcode filter");
    refused(tt, &(NvmetFaultConfig) {
                .point = NVMET_FP_IO_CMD, .action = NVMET_FA_DROP,
                .has_sc_c = true },
            "no sc-c filter");
    refused(tt, &(NvmetFaultConfig) {
                .point = NVMET_FP_IO_CMD, .action = NVMET_FA_DROP,
                .when = NVMET_FAULT_PROBABILITY, .probability = 1.5 },
            "probability 1.5 is not in (0, 1]");
    refused(tt, &(NvmetFaultConfig) {
                .point = NVMET_FP_IO_CMD, .action = NVMET_FA_DROP,
                .when = NVMET_FAULT_NTH, .count = 2, .max_hits = 3 },
            "max-hits goes with");
    refused(tt, &(NvmetFaultConfig) {
                .point = NVMET_FP_AUTH_NEGOTIATE,
                .action = NVMET_FA_REFUSE_REPLACE, .has_sc_c = true,
                .sc_c = NVME_AUTH_SECP_NEWTLSPSK },
            "only matches sc-c replacetlspsk");
    refused(tt, &(NvmetFaultConfig) {
                .point = NVMET_FP_IO_CMD, .action = NVMET_FA_C2H_TERM,
                .has_fes = true, .fes = 7 },
            "fes from 1 to 6");
    refused(tt, &(NvmetFaultConfig) {
                .point = NVMET_FP_IO_CMD, .action = NVMET_FA_DROP,
                .has_qid = true, .qid = 0, .queue = NVMET_FAULT_QUEUE_IO },
            "qid 0 is not an I/O queue");
    refused(tt, &(NvmetFaultConfig) {
                .point = NVMET_FP_CONNECT_IO, .action = NVMET_FA_DROP,
                .queue = NVMET_FAULT_QUEUE_ADMIN },
            "never happens on that queue");
    refused(tt, &(NvmetFaultConfig) {
                .point = NVMET_FP_PDU_ICREQ, .action = NVMET_FA_CLOSE,
                .after_response = true },
            "no response to close after");
    refused(tt, &(NvmetFaultConfig) {
                .point = NVMET_FP_CONNECT_ADMIN, .action = NVMET_FA_AEN },
            "action 'aen' is not possible at step 'connect-admin'");
    refused(tt, &(NvmetFaultConfig) {
                .point = NVMET_FP_IO_CMD, .action = NVMET_FA_DROP,
                .subnqn = "" },
            "empty NQN");
    tt_free(tt);
}

/* ---- command actions ---------------------------------------------------- */

/* status, drop, delay, close (before and after), c2h-term on I/O */
static void test_cmd_actions(void)
{
    TestTarget *tt = tt_new();
    TestConn *a = admin_conn(tt, 0, false, false);
    TestConn *io = io_conn(tt, a, false, false);
    uint8_t buf[4096], r[4096];
    NvmfCqe cqe;
    uint32_t id;
    int cid, cid2;

    memset(buf, 0x3c, sizeof(buf));
    /* status: the next read fails with it, nothing is read */
    id = arm(tt, &(NvmetFaultConfig) {
        .point = NVMET_FP_IO_CMD, .has_opcode = true, .opcode = NVME_CMD_READ,
        .action = NVMET_FA_STATUS, .has_status = true,
        .status = NVME_SCT_MEDIA | 0x81 | DNR,
    });
    g_assert_cmphex(rw(io, true, 0, buf), ==, 0);     /* a write: no match */
    g_assert_cmphex(rw(io, false, 0, r), ==, NVME_SCT_MEDIA | 0x81 | DNR);
    g_assert_cmphex(rw(io, false, 0, r), ==, 0);      /* once */
    g_assert_cmpmem(buf, 4096, r, 4096);
    counts(tt, id, 1, 1, false);
    g_assert_true(tt_trace_has(tt, "fault 1 fired at io-cmd (cid"));
    g_assert_true(tt_trace_has(tt, "complete with status 0x4281"));

    /* drop: the write happens, its response never comes */
    id = arm(tt, &(NvmetFaultConfig) {
        .point = NVMET_FP_IO_CMD, .action = NVMET_FA_DROP,
    });
    memset(buf, 0x5d, sizeof(buf));
    cid = send_rw(io, true, 8, buf);
    g_assert_cmpint(nvmf_host_wait(io->h, cid, &cqe), ==, -1);
    g_assert_true(tt_trace_has(tt, "dropped without completion"));
    /* the queue goes on, and the data is there */
    memset(r, 0, sizeof(r));
    g_assert_cmphex(rw(io, false, 8, r), ==, 0);
    g_assert_cmpmem(buf, 4096, r, 4096);

    /* delay: held back, while the rest of the queue goes on */
    id = arm(tt, &(NvmetFaultConfig) {
        .point = NVMET_FP_IO_CMD, .action = NVMET_FA_DELAY,
        .has_delay_ms = true, .delay_ms = 500,
    });
    cid = send_rw(io, false, 0, r);
    cid2 = send_rw(io, false, 8, buf);
    g_assert_cmpint(nvmf_host_wait(io->h, cid2, &cqe), ==, 0);
    g_assert_cmphex(cqe.status, ==, 0);
    g_assert_cmpint(nvmf_host_wait(io->h, cid, &cqe), ==, -1);
    g_assert_cmpint(tt->deadline, <=, tt->now + 500);
    tt_advance(tt, 499);
    g_assert_cmpint(nvmf_host_wait(io->h, cid, &cqe), ==, -1);
    tt_advance(tt, 1);
    g_assert_true(tt_trace_has(tt, "delayed io-cmd goes on"));
    g_assert_cmpint(nvmf_host_wait(io->h, cid, &cqe), ==, 0);
    g_assert_cmphex(cqe.status, ==, 0);
    counts(tt, id, 1, 1, false);

    /* close after the response: the answer comes, then EOF */
    arm(tt, &(NvmetFaultConfig) {
        .point = NVMET_FP_IO_CMD, .action = NVMET_FA_CLOSE,
        .after_response = true,
    });
    g_assert_cmphex(rw(io, false, 0, r), ==, 0);
    g_assert_true(nvmet_queue_wants_close(io->q));
    tc_free(io);

    /* c2h-term at a command: C2HTermReq with the chosen FES */
    io = io_conn(tt, a, false, false);
    arm(tt, &(NvmetFaultConfig) {
        .point = NVMET_FP_IO_CMD, .action = NVMET_FA_C2H_TERM,
        .has_fes = true, .fes = NVME_TCP_FES_PDU_SEQ_ERR,
    });
    g_assert_cmpint(nvmf_host_rw(io->h, false, 1, 0, 8, r, 4096, &cqe), ==,
                    -1);
    g_assert_true(strstr(nvmf_host_error(io->h),
                         "target sent C2HTermReq fes 0x2"));
    g_assert_true(nvmet_queue_wants_close(io->q));
    tc_free(io);

    /* close before: no answer, EOF */
    io = io_conn(tt, a, false, false);
    arm(tt, &(NvmetFaultConfig) {
        .point = NVMET_FP_IO_CMD, .action = NVMET_FA_CLOSE,
    });
    g_assert_cmpint(nvmf_host_rw(io->h, false, 1, 0, 8, r, 4096, &cqe), ==,
                    -1);
    g_assert_true(nvmf_host_eof(io->h));
    g_assert_true(tt_trace_has(tt, "closed the connection"));
    tc_free(io);
    tc_free(a);
    tt_free(tt);
}

/* Connect of an I/O queue refused with a status; Property Set, AEN */
static void test_connect_and_admin(void)
{
    TestTarget *tt = tt_new();
    TestConn *a = admin_conn(tt, 0, false, false);
    TestConn *io = tc_new(tt);
    uint8_t sqe[NVME_SQE_SIZE];
    NvmfCqe cqe;
    uint32_t id;
    uint64_t csts;

    id = arm(tt, &(NvmetFaultConfig) {
        .point = NVMET_FP_CONNECT_IO, .hostnqn = HOSTNQN, .has_qid = true,
        .qid = 1, .action = NVMET_FA_STATUS, .has_status = true,
        .status = NVME_SC_CONNECT_CTRL_BUSY | DNR,
    });
    g_assert_cmpint(nvmf_host_icreq(io->h, false, false, 0), ==, 0);
    g_assert_cmpint(nvmf_host_connect(io->h, 1, 31, a->cntlid, TEST_SUBNQN,
                                      HOSTNQN, test_hostid, 0, 0, &cqe), ==, 0);
    g_assert_cmphex(cqe.status, ==, NVME_SC_CONNECT_CTRL_BUSY | DNR);
    /* the next one connects */
    g_assert_cmpint(nvmf_host_connect(io->h, 1, 31, a->cntlid, TEST_SUBNQN,
                                      HOSTNQN, test_hostid, 0, 0, &cqe), ==, 0);
    g_assert_cmphex(cqe.status, ==, 0);
    counts(tt, id, 1, 1, false);

    /* Property Get fails once; the enable step does not match a get */
    arm(tt, &(NvmetFaultConfig) {
        .point = NVMET_FP_PROPERTY_GET, .action = NVMET_FA_STATUS,
        .has_status = true, .status = NVME_SC_INTERNAL,
    });
    g_assert_cmpint(nvmf_host_prop_get(a->h, NVME_REG_CSTS, false, &csts,
                                       &cqe), ==, 0);
    g_assert_cmphex(cqe.status, ==, NVME_SC_INTERNAL);

    /* cc-disable (a reset) fails: the controller stays enabled */
    id = arm(tt, &(NvmetFaultConfig) {
        .point = NVMET_FP_CC_DISABLE, .action = NVMET_FA_STATUS,
        .has_status = true, .status = NVME_SC_INVALID_FIELD | DNR,
    });
    g_assert_cmpint(nvmf_host_prop_set(a->h, NVME_REG_CC, 0x00460001, &cqe),
                    ==, 0);
    g_assert_cmphex(cqe.status, ==, 0);     /* CC.EN stays 1: no match */
    counts(tt, id, 0, 0, true);
    g_assert_cmpint(nvmf_host_prop_set(a->h, NVME_REG_CC, 0x00460000, &cqe),
                    ==, 0);
    g_assert_cmphex(cqe.status, ==, NVME_SC_INVALID_FIELD | DNR);
    counts(tt, id, 1, 1, false);
    g_assert_cmpint(nvmf_host_prop_get(a->h, NVME_REG_CC, false, &csts,
                                       &cqe), ==, 0);
    g_assert_cmphex(csts, ==, 0x00460001);

    /* aen: an AER completes with the chosen event; the command goes on */
    nvmf_sqe_init(sqe, NVME_ADM_ASYNC_EVENT, 0);
    {
        int aer = nvmf_host_send_cmd(a->h, sqe, NULL, 0, NULL, 0);

        arm(tt, &(NvmetFaultConfig) {
            .point = NVMET_FP_IO_CMD, .action = NVMET_FA_AEN, .has_aen = true,
            .aen = 0x00040002,
        });
        g_assert_cmphex(rw(io, false, 0, (uint8_t[4096]) { 0 }), ==, 0);
        g_assert_cmpint(nvmf_host_wait(a->h, aer, &cqe), ==, 0);
        g_assert_cmphex(cqe.status, ==, 0);
        g_assert_cmphex(cqe.dw0, ==, 0x00040002);
    }
    tc_free(io);
    tc_free(a);
    tt_free(tt);
}

/* Keep Alive ignored: neither answered nor counted, the controller expires */
static void test_keep_alive(void)
{
    TestTarget *tt = tt_new();
    TestConn *a = admin_conn(tt, 2000, false, false);
    TestConn *io = io_conn(tt, a, false, false);
    uint8_t sqe[NVME_SQE_SIZE];
    NvmfCqe cqe;
    int cid;

    nvmf_sqe_init(sqe, NVME_ADM_KEEP_ALIVE, 0);
    g_assert_cmpint(nvmf_host_submit(a->h, sqe, NULL, 0, NULL, 0, &cqe), ==,
                    0);
    arm(tt, &(NvmetFaultConfig) {
        .point = NVMET_FP_KEEP_ALIVE, .when = NVMET_FAULT_EVERY,
        .action = NVMET_FA_IGNORE_KEEP_ALIVE,
    });
    tt_events_clear(tt);
    /* the last Keep Alive that counted was at 1000 ms: due by 3000 ms */
    for (int i = 0; i < 3; i++) {
        tt_advance(tt, 600);
        cid = nvmf_host_send_cmd(a->h, sqe, NULL, 0, NULL, 0);
        g_assert_cmpint(nvmf_host_wait(a->h, cid, &cqe), ==, -1);
    }
    tt_advance(tt, 199);
    g_assert_false(nvmet_queue_wants_close(a->q));
    tt_advance(tt, 1);
    g_assert_true(tt_trace_has(tt, "no keep-alive within 2000 ms"));
    g_assert_true(nvmet_queue_wants_close(a->q));
    g_assert_true(nvmet_queue_wants_close(io->q));
    tt_events_expect(tt, false,
        "fault * step=keep-alive action=ignore-keep-alive *",
        "fault * step=keep-alive action=ignore-keep-alive *",
        "fault * step=keep-alive action=ignore-keep-alive *",
        "ctrl-destroyed * reason=keep-alive timeout",
        NULL);
    tc_free(io);
    tc_free(a);
    tt_free(tt);
}

/* ---- PDU actions -------------------------------------------------------- */

static void test_pdu_actions(void)
{
    TestTarget *tt = tt_new();
    TestConn *a = admin_conn(tt, 0, true, true);
    TestConn *io = io_conn(tt, a, true, true);
    uint8_t buf[4096], r[4096], sqe[NVME_SQE_SIZE];
    g_auto(NvmfPdu) pdu = { 0 };
    NvmfCqe cqe;
    uint32_t id;
    int cid;

    memset(buf, 0xa7, sizeof(buf));
    g_assert_cmphex(rw(io, true, 16, buf), ==, 0);

    /* a wrong data digest in the C2HData of a read */
    arm(tt, &(NvmetFaultConfig) {
        .point = NVMET_FP_PDU_C2H_DATA, .action = NVMET_FA_CORRUPT_DDGST,
    });
    g_assert_cmpint(nvmf_host_rw(io->h, false, 1, 16, 8, r, 4096, &cqe), ==,
                    -1);
    g_assert_cmpstr(nvmf_host_error(io->h), ==, "C2HData data digest mismatch");
    tc_free(io);

    /* a wrong header digest in a CapsuleResp */
    io = io_conn(tt, a, true, true);
    arm(tt, &(NvmetFaultConfig) {
        .point = NVMET_FP_PDU_CAPSULE_RESP, .has_opcode = true,
        .opcode = NVME_CMD_WRITE, .action = NVMET_FA_CORRUPT_HDGST,
    });
    g_assert_cmphex(rw(io, false, 16, r), ==, 0);
    g_assert_cmpmem(buf, 4096, r, 4096);
    g_assert_cmpint(nvmf_host_rw(io->h, true, 1, 16, 8, buf, 4096, &cqe), ==,
                    -1);
    g_assert_true(strstr(nvmf_host_error(io->h), "header digest mismatch on "
                         "PDU type 5"));
    tc_free(io);

    /* the R2T withheld: the write waits for ever */
    io = io_conn(tt, a, true, true);
    id = arm(tt, &(NvmetFaultConfig) {
        .point = NVMET_FP_PDU_R2T, .action = NVMET_FA_WITHHOLD_R2T,
    });
    cid = send_rw(io, true, 24, buf);
    g_assert_cmpint(nvmf_host_wait(io->h, cid, &cqe), ==, -1);
    tt_advance(tt, 60000);
    g_assert_cmpint(nvmf_host_wait(io->h, cid, &cqe), ==, -1);
    counts(tt, id, 1, 1, false);
    /* other commands go on */
    g_assert_cmphex(rw(io, false, 16, r), ==, 0);
    tc_free(io);

    /* the R2T delayed */
    io = io_conn(tt, a, true, true);
    arm(tt, &(NvmetFaultConfig) {
        .point = NVMET_FP_PDU_R2T, .action = NVMET_FA_DELAY,
        .has_delay_ms = true, .delay_ms = 100,
    });
    cid = send_rw(io, true, 24, buf);
    g_assert_cmpint(nvmf_host_wait(io->h, cid, &cqe), ==, -1);
    tt_advance(tt, 100);
    g_assert_cmpint(nvmf_host_wait(io->h, cid, &cqe), ==, 0);
    g_assert_cmphex(cqe.status, ==, 0);

    /* a C2HTermReq for the 2nd capsule of a read, with FES and FEI */
    arm(tt, &(NvmetFaultConfig) {
        .point = NVMET_FP_PDU_CAPSULE_CMD, .has_opcode = true,
        .opcode = NVME_CMD_READ, .when = NVMET_FAULT_NTH, .count = 2,
        .action = NVMET_FA_C2H_TERM, .has_fes = true,
        .fes = NVME_TCP_FES_INVALID_HEADER, .has_fei = true, .fei = 3,
    });
    g_assert_cmphex(rw(io, false, 16, r), ==, 0);
    g_assert_cmphex(rw(io, true, 16, buf), ==, 0);
    nvmf_sqe_init(sqe, NVME_CMD_READ, 1);
    nvmf_sqe_set_dw(sqe, NVME_SQE_CDW12, 7);
    cid = nvmf_host_send_cmd(io->h, sqe, NULL, 0, r, 4096);
    g_assert_cmpint(nvmf_host_recv_pdu(io->h, &pdu), ==, 0);
    g_assert_cmpint(pdu.type, ==, NVME_TCP_PDU_C2H_TERM);
    g_assert_cmphex(nvmet_ld16(pdu.hdr + NVME_TCP_TERM_FES), ==, 1);
    g_assert_cmpuint(nvmet_ld32(pdu.hdr + NVME_TCP_TERM_FEI), ==, 3);
    tc_free(io);

    /* no C2HTermReq at all for a bad PDU: the connection just closes */
    io = tc_new(tt);
    arm(tt, &(NvmetFaultConfig) {
        .point = NVMET_FP_PDU_C2H_TERM, .action = NVMET_FA_DROP,
    });
    {
        uint8_t bad[8] = { 0x42, 0, 8, 0, 8, 0, 0, 0 };
        g_auto(NvmfPdu) none = { 0 };

        g_assert_cmpint(nvmf_host_send_raw(io->h, bad, sizeof(bad)), ==, 0);
        g_assert_cmpint(nvmf_host_recv_pdu(io->h, &none), ==, -1);
        g_assert_true(nvmf_host_eof(io->h));
    }
    tc_free(io);

    /* and one with another FES than the target meant */
    io = tc_new(tt);
    arm(tt, &(NvmetFaultConfig) {
        .point = NVMET_FP_PDU_C2H_TERM, .action = NVMET_FA_C2H_TERM,
        .has_fes = true, .fes = NVME_TCP_FES_R2T_LIMIT,
    });
    {
        uint8_t bad[8] = { 0x42, 0, 8, 0, 8, 0, 0, 0 };

        tc_expect_term(io, bad, sizeof(bad), NVME_TCP_FES_R2T_LIMIT);
    }
    tc_free(io);

    /* ICResp: delayed, then dropped */
    io = tc_new(tt);
    arm(tt, &(NvmetFaultConfig) {
        .point = NVMET_FP_PDU_ICRESP, .action = NVMET_FA_DELAY,
        .has_delay_ms = true, .delay_ms = 3000,
    });
    g_assert_cmpint(nvmf_host_icreq(io->h, false, false, 0), ==, -1);
    tt_advance(tt, 3000);
    {
        g_auto(NvmfPdu) icresp = { 0 };

        g_assert_cmpint(nvmf_host_recv_pdu(io->h, &icresp), ==, 0);
        g_assert_cmpint(icresp.type, ==, NVME_TCP_PDU_ICRESP);
    }
    tc_free(io);
    io = tc_new(tt);
    arm(tt, &(NvmetFaultConfig) {
        .point = NVMET_FP_PDU_ICRESP, .action = NVMET_FA_DROP,
    });
    g_assert_cmpint(nvmf_host_icreq(io->h, false, false, 0), ==, -1);
    g_assert_false(nvmf_host_eof(io->h));
    tc_free(io);

    /* close at an ICReq */
    io = tc_new(tt);
    arm(tt, &(NvmetFaultConfig) {
        .point = NVMET_FP_PDU_ICREQ, .action = NVMET_FA_CLOSE,
    });
    g_assert_cmpint(nvmf_host_icreq(io->h, false, false, 0), ==, -1);
    g_assert_true(nvmf_host_eof(io->h));
    tc_free(io);
    tc_free(a);
    tt_free(tt);
}

/* ---- DH-HMAC-CHAP ------------------------------------------------------- */

/* AUTH_Failure1 with each reason, at a Send and at a Receive step */
static void test_auth_failure(void)
{
    static const uint8_t reasons[] = {
        NVME_AUTH_FAIL_FAILED, NVME_AUTH_FAIL_NOT_USABLE,
        NVME_AUTH_FAIL_CONCAT_MISMATCH, NVME_AUTH_FAIL_HASH_UNUSABLE,
        NVME_AUTH_FAIL_DHGROUP_UNUSABLE, NVME_AUTH_FAIL_INCORRECT_PAYLOAD,
        NVME_AUTH_FAIL_INCORRECT_MESSAGE,
    };
    static const NvmetFaultPoint steps[] = {
        NVMET_FP_AUTH_NEGOTIATE, NVMET_FP_AUTH_CHALLENGE, NVMET_FP_AUTH_REPLY,
        NVMET_FP_AUTH_SUCCESS1,
    };
    TestTarget *tt = tt_new();
    AuthSetup s;
    NvmfAuthParams p;
    NvmfAuthResult r;
    TestConn *c;
    uint16_t tid = 1;

    auth_setup(tt, &s);
    c = tc_new(tt);
    g_assert_cmphex(connect_admin(c), ==, 0);
    for (unsigned i = 0; i < G_N_ELEMENTS(reasons); i++) {
        for (unsigned j = 0; j < G_N_ELEMENTS(steps); j++) {
            uint32_t id = arm(tt, &(NvmetFaultConfig) {
                .point = steps[j], .action = NVMET_FA_AUTH_FAILURE,
                .has_reason = true, .reason = reasons[i],
            });

            auth_params(&p, s.hkey, s.ckey, 0, tid++);
            g_assert_cmpint(nvmf_host_authenticate(c->h, &p, &r), ==, 0);
            g_assert_false(r.authenticated);
            g_assert_cmphex(r.failure, ==, reasons[i]);
            counts(tt, id, 1, 1, false);
            /* re-authentication works again */
            auth_params(&p, s.hkey, s.ckey, 0, tid++);
            g_assert_cmpint(nvmf_host_authenticate(c->h, &p, &r), ==, 0);
            g_assert_true(r.authenticated);
        }
    }
    /* at success2 (bidirectional): the queue is left unauthenticated */
    arm(tt, &(NvmetFaultConfig) {
        .point = NVMET_FP_AUTH_SUCCESS2, .action = NVMET_FA_AUTH_FAILURE,
    });
    auth_params(&p, s.hkey, s.ckey, 0, tid++);
    g_assert_cmpint(nvmf_host_authenticate(c->h, &p, &r), ==, 0);
    {
        uint64_t v;
        NvmfCqe cqe;

        g_assert_cmpint(nvmf_host_prop_get(c->h, NVME_REG_CSTS, false, &v,
                                           &cqe), ==, 0);
        g_assert_cmphex(cqe.status, ==, NVME_SC_AUTH_REQUIRED | DNR);
    }
    g_assert_true(tt_trace_has(tt, "reason 0x01 (authentication failed): "
                               "fault"));
    /* a status for the Authentication Receive of success1 */
    arm(tt, &(NvmetFaultConfig) {
        .point = NVMET_FP_AUTH_SUCCESS1, .action = NVMET_FA_STATUS,
        .has_status = true, .status = NVME_SC_INTERNAL | DNR,
    });
    auth_params(&p, s.hkey, s.ckey, 0, tid++);
    g_assert_cmpint(nvmf_host_authenticate(c->h, &p, &r), ==, 0);
    g_assert_false(r.authenticated);
    g_assert_cmphex(r.status, ==, NVME_SC_INTERNAL | DNR);
    tc_free(c);
    tt_free(tt);
    auth_setup_free(&s);
}

/* ---- TLS and concatenation ---------------------------------------------- */

static char *host_generated(NvmfAuthResult *r, uint8_t *key)
{
    return nvmf_tls_generated(r->hash, r->psk, r->psk_len, HOSTNQN,
                              TEST_SUBNQN, key);
}

/* NEWTLSPSK on a cleartext admin queue: the generated identity and key */
static char *newtlspsk(TestTarget *tt, NvmetPort *port, AuthSetup *s,
                       uint8_t *key, uint8_t *hash, bool *ok)
{
    TestConn *c = tc_new_on(tt, port);
    NvmfAuthParams p;
    NvmfAuthResult r;
    char *identity;

    g_assert_cmphex(connect_admin(c), ==, 0);
    auth_params(&p, s->hkey, s->ckey, NVME_AUTH_SECP_NEWTLSPSK, 1);
    g_assert_cmpint(nvmf_host_authenticate(c->h, &p, &r), ==, 0);
    *ok = r.authenticated;
    *hash = r.hash;
    identity = r.authenticated ? host_generated(&r, key) : NULL;
    tc_free(c);
    return identity;
}

static TestConn *tls_conn(TestTarget *tt, NvmetPort *port, const char *id,
                          const uint8_t *key, uint8_t hash, int *alert)
{
    TestConn *a = tc_new_on(tt, port);

    if (tc_start_tls(a, id, key, nvmet_hash_len(hash), hash) < 0) {
        *alert = nvmf_tls_alert(a->tls);
        tc_free(a);
        return NULL;
    }
    return a;
}

static void test_tls(void)
{
    TestTarget *tt = tt_new();
    NvmetPort *port = tls_port(tt);
    g_autofree char *identity = NULL;
    AuthSetup s;
    uint8_t key[48], hash;
    int alert = -1;
    bool ok;
    TestConn *a;
    NvmfAuthParams p;
    NvmfAuthResult r;
    NvmfCqe cqe;

    auth_setup(tt, &s);
    identity = newtlspsk(tt, port, &s, key, &hash, &ok);
    g_assert_true(ok);

    /* the handshake with the generated PSK fails with the chosen alert */
    arm(tt, &(NvmetFaultConfig) {
        .point = NVMET_FP_TLS_IDENTITY, .hostnqn = HOSTNQN,
        .action = NVMET_FA_TLS_ALERT, .has_alert = true,
        .alert = GNUTLS_A_ACCESS_DENIED,
    });
    g_assert_null(tls_conn(tt, port, identity, key, hash, &alert));
    g_assert_cmpint(alert, ==, GNUTLS_A_ACCESS_DENIED);
    g_assert_true(tt_trace_has(tt, "failed TLS with alert 49"));
    /* then it works */
    a = tls_conn(tt, port, identity, key, hash, &alert);
    g_assert_nonnull(a);
    tc_free(a);

    /* alerts after the handshake and at a record */
    arm(tt, &(NvmetFaultConfig) {
        .point = NVMET_FP_TLS_HANDSHAKE, .action = NVMET_FA_TLS_ALERT,
        .has_alert = true, .alert = GNUTLS_A_INTERNAL_ERROR,
    });
    a = tls_conn(tt, port, identity, key, hash, &alert);
    g_assert_nonnull(a);
    g_assert_cmpint(nvmf_host_icreq(a->h, false, false, 0), ==, -1);
    g_assert_cmpint(nvmf_tls_alert(a->tls), ==, GNUTLS_A_INTERNAL_ERROR);
    tc_free(a);
    arm(tt, &(NvmetFaultConfig) {
        .point = NVMET_FP_TLS_RECORD, .when = NVMET_FAULT_NTH, .count = 3,
        .action = NVMET_FA_TLS_ALERT, .has_alert = true,
        .alert = GNUTLS_A_BAD_RECORD_MAC,
    });
    a = tls_conn(tt, port, identity, key, hash, &alert);
    g_assert_nonnull(a);
    g_assert_cmphex(connect_admin(a), ==, 0);       /* records 1 and 2 */
    g_assert_cmpint(nvmf_host_prop_get(a->h, NVME_REG_CSTS, false, NULL,
                                       &cqe), ==, -1);
    g_assert_cmpint(nvmf_tls_alert(a->tls), ==, GNUTLS_A_BAD_RECORD_MAC);

    /* forget-tls-key at auth success: REPLACETLSPSK refused after it */
    tc_free(a);
    a = tls_conn(tt, port, identity, key, hash, &alert);
    g_assert_cmphex(connect_admin(a), ==, 0);
    g_assert_cmpint(nvmf_host_enable(a->h), ==, 0);
    arm(tt, &(NvmetFaultConfig) {
        .point = NVMET_FP_AUTH_SUCCESS, .has_sc_c = true,
        .sc_c = NVME_AUTH_SECP_REPLACETLSPSK,
        .action = NVMET_FA_FORGET_TLS_KEY,
    });
    auth_params(&p, s.hkey, s.ckey, NVME_AUTH_SECP_REPLACETLSPSK, 2);
    g_assert_cmpint(nvmf_host_authenticate(a->h, &p, &r), ==, 0);
    g_assert_true(r.authenticated);
    g_free(identity);
    identity = host_generated(&r, key);
    g_assert_true(tt_trace_has(tt, "queue dropped TLS key"));
    auth_params(&p, s.hkey, s.ckey, NVME_AUTH_SECP_REPLACETLSPSK, 3);
    g_assert_cmpint(nvmf_host_authenticate(a->h, &p, &r), ==, 0);
    g_assert_false(r.authenticated);
    g_assert_cmphex(r.failure, ==, NVME_AUTH_FAIL_CONCAT_MISMATCH);
    tc_free(a);

    /* refuse-replace: CONCAT_MISMATCH on the next REPLACETLSPSK only */
    a = tls_conn(tt, port, identity, key, hash, &alert);
    g_assert_cmphex(connect_admin(a), ==, 0);
    arm(tt, &(NvmetFaultConfig) {
        .point = NVMET_FP_AUTH_NEGOTIATE, .action = NVMET_FA_REFUSE_REPLACE,
    });
    auth_params(&p, s.hkey, s.ckey, NVME_AUTH_SECP_REPLACETLSPSK, 4);
    g_assert_cmpint(nvmf_host_authenticate(a->h, &p, &r), ==, 0);
    g_assert_false(r.authenticated);
    g_assert_cmphex(r.failure, ==, NVME_AUTH_FAIL_CONCAT_MISMATCH);
    auth_params(&p, s.hkey, s.ckey, NVME_AUTH_SECP_REPLACETLSPSK, 5);
    g_assert_cmpint(nvmf_host_authenticate(a->h, &p, &r), ==, 0);
    g_assert_true(r.authenticated);
    g_assert_true(tt_trace_has(tt, "refuse REPLACETLSPSK"));
    tc_free(a);

    /* the generated PSK forgotten, or spoilt: TLS with it fails */
    g_free(identity);
    arm(tt, &(NvmetFaultConfig) {
        .point = NVMET_FP_PSK_GENERATE, .action = NVMET_FA_FORGET_PSK,
    });
    identity = newtlspsk(tt, port, &s, key, &hash, &ok);
    g_assert_true(ok);
    g_assert_null(tls_conn(tt, port, identity, key, hash, &alert));
    g_free(identity);
    arm(tt, &(NvmetFaultConfig) {
        .point = NVMET_FP_PSK_GENERATE, .action = NVMET_FA_CORRUPT_PSK,
    });
    identity = newtlspsk(tt, port, &s, key, &hash, &ok);
    g_assert_null(tls_conn(tt, port, identity, key, hash, &alert));
    g_assert_true(tt_trace_has(tt, "generated PSK spoilt"));
    g_free(identity);
    identity = newtlspsk(tt, port, &s, key, &hash, &ok);
    a = tls_conn(tt, port, identity, key, hash, &alert);
    g_assert_nonnull(a);
    tc_free(a);

    nvmet_port_free(port);
    tt_free(tt);
    auth_setup_free(&s);
}

/* ---- when: count semantics ---------------------------------------------- */

static void test_counts(void)
{
    TestTarget *tt = tt_new();
    TestConn *a = admin_conn(tt, 0, false, false);
    TestConn *io = io_conn(tt, a, false, false);
    uint8_t r[4096];
    uint32_t nth, next, every, prob, always;
    unsigned failed = 0;
    const uint16_t st = NVME_SC_INTERNAL;

    nth = arm(tt, &(NvmetFaultConfig) {
        .point = NVMET_FP_IO_CMD, .when = NVMET_FAULT_NTH, .count = 3,
        .action = NVMET_FA_STATUS, .has_status = true, .status = st,
    });
    for (int i = 1; i <= 5; i++) {
        g_assert_cmphex(rw(io, false, 0, r), ==, i == 3 ? st : 0);
    }
    counts(tt, nth, 3, 1, false);

    next = arm(tt, &(NvmetFaultConfig) {
        .point = NVMET_FP_IO_CMD, .when = NVMET_FAULT_NEXT, .count = 2,
        .action = NVMET_FA_STATUS, .has_status = true, .status = st,
    });
    for (int i = 1; i <= 4; i++) {
        g_assert_cmphex(rw(io, false, 0, r), ==, i <= 2 ? st : 0);
    }
    counts(tt, next, 2, 2, false);

    every = arm(tt, &(NvmetFaultConfig) {
        .point = NVMET_FP_IO_CMD, .when = NVMET_FAULT_EVERY, .max_hits = 4,
        .action = NVMET_FA_STATUS, .has_status = true, .status = st,
    });
    for (int i = 1; i <= 6; i++) {
        g_assert_cmphex(rw(io, false, 0, r), ==, i <= 4 ? st : 0);
    }
    counts(tt, every, 4, 4, false);

    /* p = 0.25 over 400 reads; each one drawn from the queue's stream */
    prob = arm(tt, &(NvmetFaultConfig) {
        .point = NVMET_FP_IO_CMD, .when = NVMET_FAULT_PROBABILITY,
        .probability = 0.25, .action = NVMET_FA_STATUS, .has_status = true,
        .status = st,
    });
    for (int i = 0; i < 400; i++) {
        failed += rw(io, false, 0, r) == st;
    }
    g_assert_cmpuint(failed, >, 60);
    g_assert_cmpuint(failed, <, 140);
    counts(tt, prob, 400, failed, true);
    g_assert_true(nvmet_fault_del(tt->t, prob, false, NULL));

    /* p = 1 fires every time, up to max-hits */
    always = arm(tt, &(NvmetFaultConfig) {
        .point = NVMET_FP_IO_CMD, .when = NVMET_FAULT_PROBABILITY,
        .probability = 1, .max_hits = 3, .action = NVMET_FA_STATUS,
        .has_status = true, .status = st,
    });
    for (int i = 1; i <= 4; i++) {
        g_assert_cmphex(rw(io, false, 0, r), ==, i <= 3 ? st : 0);
    }
    counts(tt, always, 3, 3, false);
    tc_free(io);
    tc_free(a);
    tt_free(tt);
}

/* ---- where: filters; the first fault armed wins ------------------------- */

static void test_filters(void)
{
    TestTarget *tt = tt_new();
    TestConn *a = admin_conn(tt, 0, false, false);
    TestConn *io = io_conn(tt, a, false, false);
    uint8_t r[4096], sqe[NVME_SQE_SIZE];
    NvmfCqe cqe;
    uint32_t other_sub, other_host, other_cntlid, qid2, admin_q, first, second;

    other_sub = arm(tt, &(NvmetFaultConfig) {
        .point = NVMET_FP_IO_CMD, .subnqn = "nqn.2026-11.org.qemu:other",
        .action = NVMET_FA_DROP,
    });
    other_host = arm(tt, &(NvmetFaultConfig) {
        .point = NVMET_FP_IO_CMD, .hostnqn = TEST_HOSTNQN2,
        .action = NVMET_FA_DROP,
    });
    other_cntlid = arm(tt, &(NvmetFaultConfig) {
        .point = NVMET_FP_IO_CMD, .has_cntlid = true,
        .cntlid = a->cntlid + 1, .action = NVMET_FA_DROP,
    });
    qid2 = arm(tt, &(NvmetFaultConfig) {
        .point = NVMET_FP_IO_CMD, .has_qid = true, .qid = 2,
        .action = NVMET_FA_DROP,
    });
    admin_q = arm(tt, &(NvmetFaultConfig) {
        .point = NVMET_FP_ADMIN_CMD, .queue = NVMET_FAULT_QUEUE_ADMIN,
        .has_opcode = true, .opcode = NVME_ADM_IDENTIFY,
        .action = NVMET_FA_STATUS, .has_status = true,
        .status = NVME_SC_INVALID_FIELD,
    });
    first = arm(tt, &(NvmetFaultConfig) {
        .point = NVMET_FP_IO_CMD, .subnqn = TEST_SUBNQN, .hostnqn = HOSTNQN,
        .has_cntlid = true, .cntlid = a->cntlid, .has_qid = true, .qid = 1,
        .queue = NVMET_FAULT_QUEUE_IO, .has_opcode = true,
        .opcode = NVME_CMD_READ, .action = NVMET_FA_STATUS,
        .has_status = true, .status = NVME_SC_INTERNAL,
    });
    second = arm(tt, &(NvmetFaultConfig) {
        .point = NVMET_FP_IO_CMD, .action = NVMET_FA_STATUS,
        .has_status = true, .status = NVME_SC_DATA_XFER_ERROR,
    });
    g_assert_cmphex(rw(io, false, 0, r), ==, NVME_SC_INTERNAL);
    g_assert_cmphex(rw(io, false, 0, r), ==, NVME_SC_DATA_XFER_ERROR);
    counts(tt, first, 1, 1, false);
    counts(tt, second, 1, 1, false);
    counts(tt, other_sub, 0, 0, true);
    counts(tt, other_host, 0, 0, true);
    counts(tt, other_cntlid, 0, 0, true);
    counts(tt, qid2, 0, 0, true);
    /* the admin queue's Identify */
    g_assert_cmpint(nvmf_host_identify(a->h, 1, 0, 0, r, &cqe), ==, 0);
    g_assert_cmphex(cqe.status, ==, NVME_SC_INVALID_FIELD);
    counts(tt, admin_q, 1, 1, false);
    nvmf_sqe_init(sqe, NVME_ADM_KEEP_ALIVE, 0);
    g_assert_cmpint(nvmf_host_submit(a->h, sqe, NULL, 0, NULL, 0, &cqe), ==,
                    0);
    g_assert_cmphex(cqe.status, ==, 0);
    tc_free(io);
    tc_free(a);
    tt_free(tt);
}

/* ---- deletion, ownership, events, descriptions -------------------------- */

static void test_delete(void)
{
    TestTarget *tt = tt_new();
    TestConn *a = admin_conn(tt, 0, false, false);
    TestConn *io = io_conn(tt, a, false, false);
    uint8_t r[4096];
    InfoLookup l = { 0 };
    GError *err = NULL;
    uint32_t id, quirk;
    int cid;

    id = arm(tt, &(NvmetFaultConfig) {
        .point = NVMET_FP_IO_CMD, .when = NVMET_FAULT_EVERY,
        .action = NVMET_FA_STATUS, .has_status = true,
        .status = NVME_SC_INTERNAL,
    });
    l.id = id;
    nvmet_fault_foreach(tt->t, info_cb, &l);
    g_assert_cmpstr(l.desc, ==, "io-cmd, every match: complete with status "
                    "0x0006 (sct 0 sc 0x06)");
    g_free(l.desc);
    tt_events_clear(tt);
    g_assert_cmphex(rw(io, false, 0, r), ==, NVME_SC_INTERNAL);
    tt_events_expect(tt, false,
        "fault peer=test-peer cntlid=* qid=1 subnqn=" TEST_SUBNQN
        " id=1 step=io-cmd action=status reason=fault 1 at io-cmd "
        "(cid * opcode 0x02): complete with status 0x0006*",
        NULL);
    g_assert_true(nvmet_fault_del(tt->t, id, false, &err));
    g_assert_no_error(err);
    g_assert_cmphex(rw(io, false, 0, r), ==, 0);
    g_assert_false(nvmet_fault_del(tt->t, id, false, &err));
    g_assert_cmpstr(err->message, ==, "no fault 1");
    g_clear_error(&err);
    g_assert_true(tt_trace_has(tt, "fault 1 disarmed after 1 matches, "
                               "1 hits"));

    /* the quirk's fault belongs to its subsystem */
    nvmet_subsys_set_quirk_free_tls_key(tt->subsys, true);
    g_assert_cmpuint(n_faults(tt), ==, 1);
    quirk = id + 1;
    g_assert_false(nvmet_fault_del(tt->t, quirk, false, &err));
    g_assert_cmpstr(err->message, ==, "fault 2 belongs to the "
                    "quirk-free-tls-key of subsystem " TEST_SUBNQN);
    g_clear_error(&err);
    nvmet_subsys_set_quirk_free_tls_key(tt->subsys, false);
    g_assert_cmpuint(n_faults(tt), ==, 0);

    /* a delayed completion of a queue that goes away is forgotten */
    arm(tt, &(NvmetFaultConfig) {
        .point = NVMET_FP_IO_CMD, .action = NVMET_FA_DELAY,
        .has_delay_ms = true, .delay_ms = 1000,
    });
    cid = send_rw(io, false, 0, r);
    g_assert_cmpint(nvmf_host_wait(io->h, cid, NULL), ==, -1);
    tc_free(io);
    g_assert_true(tt_trace_has(tt, "delayed io-cmd dropped with the queue"));
    g_assert_cmpint(tt->deadline, !=, INT64_MAX);
    tt_advance(tt, 1000);
    /* and faults still armed when the target goes are freed with it */
    arm(tt, &(NvmetFaultConfig) {
        .point = NVMET_FP_IO_CMD, .action = NVMET_FA_DROP,
    });
    tc_free(a);
    tt_free(tt);
}

/* ---- determinism -------------------------------------------------------- */

/*
 * One run of a fault script on a seeded subsystem: authentication (the
 * challenges are the target's random choices), then reads on an I/O queue
 * with faults firing by chance.  The log has every fault that fired and
 * every challenge.
 */
static GString *script_run(uint64_t seed)
{
    TestTarget *tt = tt_new();
    GString *log = g_string_new("");
    AuthSetup s;
    NvmfAuthParams p;
    NvmfAuthResult r;
    TestConn *a, *io;
    uint8_t r4k[4096], seedb[8];
    NvmfCqe cqe;

    nvmet_st64(seedb, seed);
    nvmet_subsys_set_seed(tt->subsys, seedb, sizeof(seedb));
    auth_setup(tt, &s);
    arm(tt, &(NvmetFaultConfig) {
        .point = NVMET_FP_IO_CMD, .when = NVMET_FAULT_PROBABILITY,
        .probability = 0.3, .action = NVMET_FA_STATUS, .has_status = true,
        .status = NVME_SC_INTERNAL,
    });
    arm(tt, &(NvmetFaultConfig) {
        .point = NVMET_FP_AUTH_CHALLENGE, .when = NVMET_FAULT_PROBABILITY,
        .probability = 0.5, .action = NVMET_FA_AUTH_FAILURE,
        .has_reason = true, .reason = NVME_AUTH_FAIL_HASH_UNUSABLE,
    });
    a = tc_new(tt);
    g_assert_cmphex(connect_admin(a), ==, 0);
    for (int i = 0; i < 6; i++) {
        auth_params(&p, s.hkey, NULL, 0, i + 1);
        g_assert_cmpint(nvmf_host_authenticate(a->h, &p, &r), ==, 0);
        g_string_append_printf(log, "auth %d: %d failure %u challenge ", i,
                               r.authenticated, r.failure);
        for (int j = 0; j < 16; j++) {
            g_string_append_printf(log, "%02x", r.challenge[j]);
        }
        g_string_append_c(log, '\n');
    }
    for (int i = 6; !r.authenticated; i++) {
        auth_params(&p, s.hkey, NULL, 0, i + 1);
        g_assert_cmpint(nvmf_host_authenticate(a->h, &p, &r), ==, 0);
    }
    g_assert_cmpint(nvmf_host_enable(a->h), ==, 0);
    io = tc_new(tt);
    g_assert_cmpint(nvmf_host_icreq(io->h, false, false, 0), ==, 0);
    g_assert_cmpint(nvmf_host_connect(io->h, 1, 31, a->cntlid, TEST_SUBNQN,
                                      HOSTNQN, test_hostid, 0, 0, &cqe), ==, 0);
    auth_params(&p, s.hkey, NULL, 0, 100);
    g_assert_cmpint(nvmf_host_authenticate(io->h, &p, &r), ==, 0);
    while (!r.authenticated) {
        g_assert_cmpint(nvmf_host_authenticate(io->h, &p, &r), ==, 0);
    }
    for (int i = 0; i < 60; i++) {
        g_string_append_printf(log, "read %d: 0x%x\n", i,
                               rw(io, false, i, r4k));
    }
    for (unsigned i = 0; i < tt->events->len; i++) {
        const char *e = g_ptr_array_index(tt->events, i);

        if (g_str_has_prefix(e, "fault ")) {
            g_string_append_printf(log, "%s\n", e);
        }
    }
    tc_free(io);
    tc_free(a);
    tt_free(tt);
    auth_setup_free(&s);
    return log;
}

static void test_determinism(void)
{
    g_autoptr(GString) one = script_run(42);
    g_autoptr(GString) two = script_run(42);
    g_autoptr(GString) other = script_run(43);

    g_assert_cmpstr(one->str, ==, two->str);
    g_assert_cmpstr(one->str, !=, other->str);
    /* some reads failed, some did not; so did authentications */
    g_assert_nonnull(strstr(one->str, ": 0x6\n"));
    g_assert_nonnull(strstr(one->str, ": 0x0\n"));
    g_assert_nonnull(strstr(one->str, ": 1 failure 0 "));
    g_assert_nonnull(strstr(one->str, ": 0 failure 4 "));
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/nvmet/fault/refused", test_refused);
    g_test_add_func("/nvmet/fault/cmd-actions", test_cmd_actions);
    g_test_add_func("/nvmet/fault/connect-and-admin", test_connect_and_admin);
    g_test_add_func("/nvmet/fault/keep-alive", test_keep_alive);
    g_test_add_func("/nvmet/fault/pdu-actions", test_pdu_actions);
    g_test_add_func("/nvmet/fault/auth-failure", test_auth_failure);
    g_test_add_func("/nvmet/fault/tls", test_tls);
    g_test_add_func("/nvmet/fault/counts", test_counts);
    g_test_add_func("/nvmet/fault/filters", test_filters);
    g_test_add_func("/nvmet/fault/delete", test_delete);
    g_test_add_func("/nvmet/fault/determinism", test_determinism);
    return g_test_run();
}
