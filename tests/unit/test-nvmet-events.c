/*
 * Engine events (ops.event), queue information and the decrypted capture
 * (ops.capture): what a host does comes out as events in order with the
 * right fields, the queue information follows each step, and the capture
 * is the cleartext PDU stream of each direction from a PDU boundary on.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#include <string.h>
#include "nvmet-test-util.h"
#include "../../nvmet/engine/crypto.h"

#define HOSTNQN TEST_HOSTNQN

static const uint8_t secret[48] = {
    0x5a, 0x17, 0x33, 0x90, 0x02, 0xc4, 0x6e, 0x81, 0x1f, 0x9b, 0x47, 0xd2,
    0x3c, 0x65, 0xa0, 0xee, 0x71, 0x08, 0xb9, 0x2d, 0x56, 0xf3, 0x4a, 0x9c,
    0x13, 0x87, 0xde, 0x60, 0x25, 0xbb, 0x39, 0xc1, 0x48, 0x0e, 0x92, 0x7f,
    0x6b, 0xd4, 0x21, 0x5e, 0xa3, 0x0c, 0xf8, 0x34, 0x99, 0x62, 0x1d, 0xe7,
};

/* A target whose subsystem admits HOSTNQN only, with DH-HMAC-CHAP keys. */
typedef struct EvFixture {
    TestTarget *tt;
    NvmetPort *tls_port;        /* tls=allowed */
    char *hkey, *ckey;
} EvFixture;

static EvFixture *ef_new(bool keys)
{
    EvFixture *f = g_new0(EvFixture, 1);
    GError *err = NULL;

    f->tt = tt_new();
    f->tls_port = tt_add_tls_port(f->tt, NVMET_PORT_TLS_ALLOWED);
    tt_admit_only(f->tt, HOSTNQN);
    if (keys) {
        f->hkey = nvmf_dhchap_key_encode(secret, 48, 2);
        f->ckey = nvmf_dhchap_key_encode(secret + 16, 32, 1);
        g_assert_true(nvmet_host_set_dhchap_keys(f->tt->host, f->hkey,
                                                 f->ckey, &err));
    }
    tt_events_clear(f->tt);
    return f;
}

static void ef_free(EvFixture *f)
{
    nvmet_port_free(f->tls_port);
    tt_free(f->tt);
    g_free(f->hkey);
    g_free(f->ckey);
    g_free(f);
}

static void auth_params(NvmfAuthParams *p, EvFixture *f, uint8_t sc_c,
                        uint16_t tid, bool bidi)
{
    memset(p, 0, sizeof(*p));
    p->hostnqn = HOSTNQN;
    p->subnqn = TEST_SUBNQN;
    p->host_secret = f->hkey;
    p->ctrl_secret = bidi ? f->ckey : NULL;
    p->hashes[0] = 1;
    p->nhashes = 1;
    p->groups[0] = 1;           /* ffdhe2048 */
    p->ngroups = 1;
    p->sc_c = sc_c;
    p->tid = tid;
}

/* ICReq and admin Connect; returns the Connect's DW0 */
static uint32_t connect_admin(TestConn *c)
{
    NvmfCqe cqe;

    g_assert_cmpint(nvmf_host_icreq(c->h, false, false, 0), ==, 0);
    g_assert_cmpint(nvmf_host_connect(c->h, 0, 31, 0xffff, TEST_SUBNQN,
                                      HOSTNQN, test_hostid, 10000, 0, &cqe),
                    ==, 0);
    g_assert_cmphex(cqe.status, ==, 0);
    c->cntlid = cqe.dw0 & 0xffff;
    return cqe.dw0;
}

/* Information of queue @qid of controller @cntlid */
typedef struct QueueLookup {
    uint16_t qid;
    bool found;
    NvmetQueueInfo info;
    char *identity;
} QueueLookup;

static void queue_cb(const NvmetQueueInfo *info, void *opaque)
{
    QueueLookup *l = opaque;

    if (info->qid == l->qid) {
        l->found = true;
        l->info = *info;
        l->identity = g_strdup(info->tls_identity);
    }
}

static NvmetQueueInfo queue_info(TestTarget *tt, uint16_t cntlid,
                                 uint16_t qid, char **identity)
{
    QueueLookup l = { .qid = qid };

    g_assert_true(nvmet_target_ctrl_queues(tt->t, TEST_SUBNQN, cntlid,
                                           queue_cb, &l));
    g_assert_true(l.found);
    l.info.peer = l.info.subnqn = l.info.hostnqn = NULL;
    l.info.tls_identity = l.info.tls_cipher = l.info.tls_version = NULL;
    if (identity) {
        *identity = l.identity;
    } else {
        g_free(l.identity);
    }
    return l.info;
}

/* ---- connections and controllers ---------------------------------------- */

static void test_lifecycle(void)
{
    TestTarget *tt = tt_new();
    TestConn *a = tc_new(tt), *io;
    NvmfCqe cqe;
    uint8_t bad[8] = { 0x7e, 0, 8, 0, 8, 0, 0, 0 };

    tt_events_expect(tt, false,
        "conn-accepted peer=test-peer", NULL);
    tc_admin(a, TEST_SUBNQN, HOSTNQN, false, false);
    tt_events_expect(tt, false,
        "ctrl-created peer=test-peer cntlid=1 qid=0 subnqn=" TEST_SUBNQN
        " kato=120000",
        "queue-connected peer=test-peer cntlid=1 qid=0 * sqsize=32 auth=0",
        "ctrl-enabled peer=test-peer cntlid=1 qid=0 *", NULL);
    g_assert_cmpint(nvmf_host_set_features(a->h, NVME_FEAT_NUM_QUEUES,
                                           0x00010001, &cqe), ==, 0);
    io = tc_new(tt);
    tc_io(io, 1, a->cntlid, TEST_SUBNQN, HOSTNQN, false, false);
    tt_events_expect(tt, false,
        "conn-accepted peer=test-peer",
        "queue-connected * cntlid=1 qid=1 * sqsize=128 auth=0", NULL);

    /* the user's reason, unless the engine closed the queue itself */
    nvmet_queue_note_close(io->q, "the host closed the connection");
    tc_free(io);
    tt_events_expect(tt, false,
        "conn-closed * cntlid=1 qid=1 * "
        "reason=the host closed the connection", NULL);

    /* reset (CC.EN 1 -> 0), enable again, shutdown */
    g_assert_cmpint(nvmf_host_prop_set(a->h, NVME_REG_CC, 0, &cqe), ==, 0);
    g_assert_cmpint(nvmf_host_enable(a->h), ==, 0);
    g_assert_cmpint(nvmf_host_prop_set(a->h, NVME_REG_CC,
                                       NVME_CC_EN | (6 << 16) | (4 << 20) |
                                       (1 << NVME_CC_SHN_SHIFT), &cqe), ==, 0);
    tt_events_expect(tt, false,
        "ctrl-reset * cntlid=1 qid=0 *",
        "ctrl-enabled * cntlid=1 qid=0 *",
        "ctrl-shutdown * cntlid=1 qid=0 *", NULL);
    {
        NvmetQueueInfo qi = queue_info(tt, a->cntlid, 0, NULL);

        g_assert_cmpuint(qi.cmds, >=, 6);
        g_assert_cmpuint(qi.cmd_errors, ==, 0);
        g_assert_cmpuint(qi.inflight, ==, 0);
        g_assert_cmpuint(qi.pdu_bytes_received, ==, qi.bytes_received);
        g_assert_cmpuint(qi.bytes_sent, >, 0);
        g_assert_cmpuint(qi.auth_step, ==, NVMET_AUTH_STEP_IDLE);
        g_assert_false(qi.tls);
    }

    /* the admin queue going away ends the controller */
    tc_free(a);
    tt_events_expect(tt, false,
        "conn-closed * cntlid=1 qid=0 * reason=connection closed",
        "ctrl-destroyed cntlid=1 subnqn=" TEST_SUBNQN
        " reason=admin queue closed", NULL);

    /* a fatal transport error, then the close it causes */
    a = tc_new(tt);
    tc_expect_term(a, bad, sizeof(bad), NVME_TCP_FES_INVALID_HEADER);
    tc_free(a);
    tt_events_expect(tt, false,
        "conn-accepted *",
        "transport-error peer=test-peer fes=1 fei=0 "
        "reason=unexpected PDU type",
        "conn-closed peer=test-peer reason=unexpected PDU type", NULL);
    tt_free(tt);
}

/* ---- DH-HMAC-CHAP ------------------------------------------------------- */

static void test_auth(void)
{
    EvFixture *f = ef_new(true);
    TestTarget *tt = f->tt;
    TestConn *a = tc_new(tt);
    NvmfAuthParams p;
    NvmfAuthResult r;
    NvmetQueueInfo qi;

    g_assert_true(connect_admin(a) & NVME_CONNECT_AUTHREQ_ATR);
    tt_events_expect(tt, false,
        "conn-accepted *", "ctrl-created *",
        "queue-connected * qid=0 * auth=1", NULL);
    qi = queue_info(tt, a->cntlid, 0, NULL);
    g_assert_true(qi.auth_required);
    g_assert_false(qi.authenticated);
    g_assert_false(qi.auth_has_tid);

    /* bidirectional: every step, success after the host's SUCCESS2 */
    auth_params(&p, f, 0, 7, true);
    g_assert_cmpint(nvmf_host_authenticate(a->h, &p, &r), ==, 0);
    g_assert_true(r.authenticated && r.ctrl_verified);
    tt_events_expect(tt, true,
        "auth-step * cntlid=1 qid=0 * step=1<-0 tid=7",
        "auth-step * step=2<-1 tid=7",
        "auth-step * step=3<-2 tid=7",
        "auth-step * step=4<-3 tid=7",
        "auth-success * cntlid=1 qid=0 * tid=7 sc_c=0 hash=1 dh=1 bidi=1 "
        "ok=1 failed=0 gen=1",
        "auth-step * step=0<-4 tid=7", NULL);
    qi = queue_info(tt, a->cntlid, 0, NULL);
    g_assert_true(qi.authenticated);
    g_assert_cmpuint(qi.auth_count, ==, 1);
    g_assert_cmpuint(qi.auth_tid, ==, 7);
    g_assert_true(qi.auth_bidi);
    g_assert_cmpuint(qi.auth_key_generation, ==, 1);

    /* a wrong host response: FAILURE1 "failed" */
    auth_params(&p, f, 0, 8, false);
    p.corrupt_response = true;
    g_assert_cmpint(nvmf_host_authenticate(a->h, &p, &r), ==, 0);
    g_assert_false(r.authenticated);
    tt_events_expect(tt, false,
        "auth-failure * qid=0 * tid=8 sc_c=0 hash=1 dh=1 * ok=1 failed=1 "
        "gen=1 by=0 reason=1 reason=host response does not match*", NULL);

    /* re-authentication with new keys: the generation moves */
    {
        g_autofree char *k2 = nvmf_dhchap_key_encode(secret + 8, 32, 1);
        GError *err = NULL;

        g_assert_true(nvmet_host_set_dhchap_keys(tt->host, k2, NULL, &err));
        auth_params(&p, f, 0, 9, false);
        p.host_secret = k2;
        g_assert_cmpint(nvmf_host_authenticate(a->h, &p, &r), ==, 0);
        g_assert_true(r.authenticated);
    }
    tt_events_expect(tt, false,
        "auth-success * tid=9 * bidi=0 ok=2 failed=1 gen=2", NULL);

    /* the host walks away in the middle: the timeout is a failure too */
    {
        uint8_t neg[NVME_AUTH_NEG_LEN + NVME_AUTH_DESC_LEN] = { 0 };
        uint8_t *d = neg + NVME_AUTH_NEG_DESC;
        NvmfCqe cqe;

        neg[NVME_AUTH_TYPE] = NVME_AUTH_COMMON_MESSAGES;
        neg[NVME_AUTH_ID] = NVME_AUTH_MSG_NEGOTIATE;
        nvmet_st16(neg + NVME_AUTH_TID, 10);
        neg[NVME_AUTH_NEG_NAPD] = 1;
        d[NVME_AUTH_DESC_AUTHID] = NVME_AUTH_DHCHAP_AUTHID;
        d[NVME_AUTH_DESC_HALEN] = 1;
        d[NVME_AUTH_DESC_DHLEN] = 1;
        d[NVME_AUTH_DESC_HASHES] = 1;
        d[NVME_AUTH_DESC_GROUPS] = 0;
        g_assert_cmpint(nvmf_host_auth_send(a->h, neg, sizeof(neg), &cqe),
                        ==, 0);
        tt_advance(tt, 121 * 1000);
    }
    tt_events_expect(tt, false,
        "auth-failure * tid=10 * ok=2 failed=2 * by=2 reason=0 reason=*",
        NULL);
    qi = queue_info(tt, a->cntlid, 0, NULL);
    g_assert_cmpuint(qi.auth_step, ==, NVMET_AUTH_STEP_IDLE);
    g_assert_cmpuint(qi.auth_failures, ==, 2);
    tc_free(a);
    ef_free(f);
}

/* ---- TLS and secure channel concatenation ------------------------------ */

static char *generated(NvmfAuthResult *r, uint8_t *key)
{
    return nvmf_tls_generated(r->hash, r->psk, r->psk_len, HOSTNQN,
                              TEST_SUBNQN, key);
}

static TestConn *tls_admin(EvFixture *f, const char *identity,
                           const uint8_t *key)
{
    TestConn *a = tc_new_on(f->tt, f->tls_port);

    g_assert_cmpint(tc_start_tls(a, identity, key, 32, 1), ==, 0);
    g_assert_cmphex(connect_admin(a) & NVME_CONNECT_AUTHREQ_ATR, ==, 0);
    g_assert_cmpint(nvmf_host_enable(a->h), ==, 0);
    return a;
}

static void test_concat(void)
{
    EvFixture *f = ef_new(true);
    TestTarget *tt = f->tt;
    g_autofree char *identity = NULL, *qid_identity = NULL, *pat = NULL;
    uint8_t key[48];
    NvmfAuthParams p;
    NvmfAuthResult r;
    NvmetQueueInfo qi;
    TestConn *c, *a;

    c = tc_new_on(tt, f->tls_port);
    connect_admin(c);
    auth_params(&p, f, NVME_AUTH_SECP_NEWTLSPSK, 1, false);
    g_assert_cmpint(nvmf_host_authenticate(c->h, &p, &r), ==, 0);
    g_assert_true(r.authenticated);
    identity = generated(&r, key);
    pat = g_strdup_printf("psk-generated * qid=0 * identity=%s hash=1 "
                          "serial=* old=0", identity);
    tt_events_expect(tt, false,
        "conn-accepted *", "ctrl-created *", "queue-connected *",
        "auth-success * tid=1 sc_c=2 * ok=1 *", pat, NULL);
    qi = queue_info(tt, c->cntlid, 0, NULL);
    g_assert_cmpuint(qi.auth_sc_c, ==, NVME_AUTH_SECP_NEWTLSPSK);
    g_assert_false(qi.tls);
    tc_free(c);
    tt_events_clear(tt);

    a = tls_admin(f, identity, key);
    g_free(pat);
    pat = g_strdup_printf("tls-done peer=test-peer identity=%s generated=1 "
                          "hash=1 serial=* cipher=TLS_AES_128_GCM_SHA256 "
                          "version=TLS1.3", identity);
    tt_events_expect(tt, false,
        "conn-accepted *", pat, "ctrl-created *", "queue-connected *",
        "ctrl-enabled *", NULL);
    qi = queue_info(tt, a->cntlid, 0, &qid_identity);
    g_assert_true(qi.tls && qi.tls_has_key && qi.tls_generated);
    g_assert_cmpstr(qid_identity, ==, identity);
    g_assert_cmpuint(qi.auth_count, ==, 0);
    g_assert_cmpuint(qi.bytes_received, >, qi.pdu_bytes_received);

    /* REPLACETLSPSK 5 times: a new identity each, replacing the last */
    for (int i = 0; i < 5; i++) {
        g_autofree char *old = g_steal_pointer(&identity);
        g_autofree char *now = NULL;

        auth_params(&p, f, NVME_AUTH_SECP_REPLACETLSPSK, 20 + i, false);
        g_assert_cmpint(nvmf_host_authenticate(a->h, &p, &r), ==, 0);
        g_assert_true(r.authenticated);
        identity = generated(&r, key);
        g_assert_cmpstr(identity, !=, old);
        g_free(pat);
        pat = g_strdup_printf("psk-replaced * cntlid=%u qid=0 * identity=%s "
                              "hash=1 serial=* old=*", a->cntlid, identity);
        tt_events_expect(tt, false, "auth-success * sc_c=3 *", pat, NULL);
        qi = queue_info(tt, a->cntlid, 0, &now);
        g_assert_cmpuint(qi.auth_count, ==, i + 1);
        g_assert_cmpuint(qi.auth_sc_c, ==, NVME_AUTH_SECP_REPLACETLSPSK);
        /* the session goes on with the PSK it was made with */
        g_assert_cmpstr(now, ==, qid_identity);

        /* the old identity is refused: the failure names it */
        c = tc_new_on(tt, f->tls_port);
        g_assert_cmpint(tc_start_tls(c, old, key, 32, 1), ==, -1);
        tc_free(c);
        g_free(pat);
        pat = g_strdup_printf("tls-failed peer=test-peer identity=%s "
                              "generated=0 hash=0 serial=0 * alert=* "
                              "reason=TLS handshake failed*", old);
        tt_events_expect(tt, false, "conn-accepted *", pat,
                         "conn-closed * reason=TLS handshake*", NULL);
    }
    tc_free(a);
    ef_free(f);
}

/* ---- decrypted capture --------------------------------------------------- */

/*
 * @s is a sequence of whole NVMe/TCP PDUs; their types into @types (at
 * most @max), the number of PDUs returned.
 */
static unsigned pdu_types(GByteArray *s, uint8_t *types, unsigned max)
{
    size_t off = 0;
    unsigned n = 0;

    while (off < s->len) {
        uint32_t plen;

        g_assert_cmpuint(s->len - off, >=, NVME_TCP_CH_LEN);
        plen = nvmet_ld32(s->data + off + NVME_TCP_CH_PLEN);
        g_assert_cmpuint(plen, >=, s->data[off + NVME_TCP_CH_HLEN]);
        g_assert_cmpuint(s->len - off, >=, plen);
        if (n < max) {
            types[n] = s->data[off];
        }
        n++;
        off += plen;
    }
    return n;
}

static void test_capture(void)
{
    EvFixture *f = ef_new(true);
    TestTarget *tt = f->tt;
    TestConn *c, *a;
    TestCapture *cap;
    NvmfAuthParams p;
    NvmfAuthResult r;
    g_autofree char *identity = NULL;
    uint8_t key[48], types[64];
    unsigned n, auth_sends = 0;
    NvmfCqe cqe;
    uint64_t csts;

    /* from the first byte of a cleartext connection */
    c = tc_new_on(tt, f->tls_port);
    nvmet_queue_set_capture(c->q, true);
    connect_admin(c);
    auth_params(&p, f, NVME_AUTH_SECP_NEWTLSPSK, 1, false);
    g_assert_cmpint(nvmf_host_authenticate(c->h, &p, &r), ==, 0);
    identity = generated(&r, key);
    cap = tt_capture(tt, c->q);
    g_assert_nonnull(cap);
    n = pdu_types(cap->rx, types, sizeof(types));
    g_assert_cmpuint(types[0], ==, NVME_TCP_PDU_ICREQ);
    {
        unsigned cmds = 0;

        for (unsigned i = 1; i < n; i++) {
            cmds += types[i] == NVME_TCP_PDU_CMD;
            g_assert_true(types[i] == NVME_TCP_PDU_CMD ||
                          types[i] == NVME_TCP_PDU_H2C_DATA);
        }
        g_assert_cmpuint(cmds, ==, 5);  /* Connect, 2 Send, 2 Receive */
    }
    n = pdu_types(cap->tx, types, sizeof(types));
    g_assert_cmpuint(types[0], ==, NVME_TCP_PDU_ICRESP);
    /* the authentication transcript is in it: Negotiate and Reply */
    for (size_t off = 0; off + NVME_TCP_CMD_HLEN <= cap->rx->len;
         off += nvmet_ld32(cap->rx->data + off + NVME_TCP_CH_PLEN)) {
        const uint8_t *sqe = cap->rx->data + off + NVME_TCP_CMD_SQE;

        if (cap->rx->data[off] == NVME_TCP_PDU_CMD &&
            sqe[NVME_SQE_OPC] == NVME_FABRICS_COMMAND &&
            sqe[NVME_SQE_FCTYPE] == NVME_FCTYPE_AUTH_SEND) {
            auth_sends++;
        }
    }
    g_assert_cmpuint(auth_sends, ==, 2);
    tc_free(c);

    /*
     * A TLS connection whose capture starts in the middle: the cleartext,
     * from the next PDU on in each direction.
     */
    a = tls_admin(f, identity, key);
    g_assert_null(tt_capture(tt, a->q));
    nvmet_queue_set_capture(a->q, true);
    g_assert_cmpint(nvmf_host_prop_get(a->h, NVME_REG_CSTS, false, &csts,
                                       &cqe), ==, 0);
    auth_params(&p, f, NVME_AUTH_SECP_REPLACETLSPSK, 2, false);
    g_assert_cmpint(nvmf_host_authenticate(a->h, &p, &r), ==, 0);
    g_assert_true(r.authenticated);
    cap = tt_capture(tt, a->q);
    g_assert_nonnull(cap);
    n = pdu_types(cap->rx, types, sizeof(types));
    g_assert_cmpuint(n, >=, 5);   /* Property Get, 2 Send, 2 Receive */
    g_assert_cmpuint(cap->rx->data[0], ==, NVME_TCP_PDU_CMD);
    g_assert_cmpuint(cap->rx->data[NVME_TCP_CMD_SQE + NVME_SQE_FCTYPE], ==,
                     NVME_FCTYPE_PROP_GET);
    n = pdu_types(cap->tx, types, sizeof(types));
    g_assert_cmpuint(types[0], ==, NVME_TCP_PDU_RSP);
    g_assert_cmpuint(n, >=, 5);
    /* stopped: nothing more */
    nvmet_queue_set_capture(a->q, false);
    {
        guint rx = cap->rx->len, tx = cap->tx->len;

        g_assert_cmpint(nvmf_host_prop_get(a->h, NVME_REG_CSTS, false, &csts,
                                           &cqe), ==, 0);
        g_assert_cmpuint(cap->rx->len, ==, rx);
        g_assert_cmpuint(cap->tx->len, ==, tx);
    }
    tc_free(a);
    ef_free(f);
}

/* An Identify Controller capsule (4 KiB of C2HData) with CID @cid */
static void identify_pdu(uint8_t *pdu, uint16_t cid)
{
    uint8_t *sqe = pdu + NVME_TCP_CMD_SQE;

    memset(pdu, 0, NVME_TCP_CMD_HLEN);
    pdu[NVME_TCP_CH_TYPE] = NVME_TCP_PDU_CMD;
    pdu[NVME_TCP_CH_HLEN] = NVME_TCP_CMD_HLEN;
    nvmet_st32(pdu + NVME_TCP_CH_PLEN, NVME_TCP_CMD_HLEN);
    nvmf_sqe_init(sqe, NVME_ADM_IDENTIFY, 0);
    nvmf_sqe_set_dw(sqe, NVME_SQE_CDW10, NVME_ID_CNS_CTRL);
    nvmet_st16(sqe + NVME_SQE_CID, cid);
    sqe[NVME_SQE_FLAGS] = 0x40;                     /* SGL */
    sqe[NVME_SQE_DPTR + NVME_SGL_ID] = NVME_SGL_ID_TRANSPORT;
    nvmet_st32(sqe + NVME_SQE_DPTR + NVME_SGL_LEN, 4096);
}

static void drain(NvmetQueue *q, size_t max)
{
    const uint8_t *out;
    size_t n;

    while (max && (n = nvmet_queue_output(q, &out))) {
        n = MIN(n, max);
        nvmet_queue_output_advance(q, n);
        max -= n;
    }
}

/*
 * Capture switched on while a PDU is half received and a response half
 * sent: each direction starts at its next PDU.
 */
static void test_capture_mid_pdu(void)
{
    TestTarget *tt = tt_new();
    TestConn *a = tc_new(tt);
    uint8_t pdu[NVME_TCP_CMD_HLEN], types[8];
    TestCapture *cap;

    tc_admin(a, TEST_SUBNQN, HOSTNQN, false, false);
    identify_pdu(pdu, 0x54);
    nvmet_queue_input(a->q, pdu, sizeof(pdu));
    drain(a->q, 100);                       /* a part of its C2HData */
    identify_pdu(pdu, 0x55);
    nvmet_queue_input(a->q, pdu, 30);       /* a part of a capsule */
    nvmet_queue_set_capture(a->q, true);
    nvmet_queue_input(a->q, pdu + 30, sizeof(pdu) - 30);
    drain(a->q, SIZE_MAX);
    cap = tt_capture(tt, a->q);
    g_assert_nonnull(cap);
    /* received: nothing yet, the capture waits for the next PDU */
    g_assert_cmpuint(cap->rx->len, ==, 0);
    /* sent: the whole response to 0x55, nothing of 0x54 */
    g_assert_cmpuint(pdu_types(cap->tx, types, 8), ==, 2);
    g_assert_cmpuint(types[0], ==, NVME_TCP_PDU_C2H_DATA);
    g_assert_cmpuint(types[1], ==, NVME_TCP_PDU_RSP);
    g_assert_cmpuint(nvmet_ld16(cap->tx->data + NVME_TCP_DATA_CCCID), ==,
                     0x55);
    /* the next capsule and its response: captured whole */
    identify_pdu(pdu, 0x56);
    nvmet_queue_input(a->q, pdu, sizeof(pdu));
    drain(a->q, SIZE_MAX);
    g_assert_cmpuint(cap->rx->len, ==, NVME_TCP_CMD_HLEN);
    g_assert_cmpmem(cap->rx->data, cap->rx->len, pdu, sizeof(pdu));
    g_assert_cmpuint(pdu_types(cap->tx, types, 8), ==, 4);
    tc_free(a);
    tt_free(tt);
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/nvmet/events/lifecycle", test_lifecycle);
    g_test_add_func("/nvmet/events/auth", test_auth);
    g_test_add_func("/nvmet/events/concat", test_concat);
    g_test_add_func("/nvmet/capture/streams", test_capture);
    g_test_add_func("/nvmet/capture/mid-pdu", test_capture_mid_pdu);
    return g_test_run();
}
