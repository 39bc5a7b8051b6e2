/*
 * TLS 1.3 PSK per queue and secure channel concatenation: configured PSKs
 * (identity versions 0 and 1), port modes, refused identities and keys,
 * NEWTLSPSK, TLS reconnection with the generated PSK, REPLACETLSPSK again
 * and again, and the quirk that reproduces the seed bug; no key material
 * in the trace.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#include <stdio.h>
#include <string.h>
#include <gnutls/gnutls.h>
#include "nvmet-test-util.h"
#include "../../nvmet/engine/crypto.h"
#include "../../nvmet/engine/psk.h"

#define HOSTNQN TEST_HOSTNQN

/* libnvme's test/psk.c keys, SHA-256 and SHA-384 */
static const char *psk01 =
    "NVMeTLSkey-1:01:VRLbtnN9AQb2WXW3c9+wEf/DRLz0QuLdbYvEhwtdWwNf9LrZ:";
static const char *psk02 =
    "NVMeTLSkey-1:02:VRLbtnN9AQb2WXW3c9+wEf/DRLz0QuLdbYvEhwtdWwP/w0S89ELi3W2L"
    "xIcLXVsDn8kXZQ==:";

static const uint8_t dh_secret[48] = {
    0x21, 0x43, 0x65, 0x87, 0xa9, 0xcb, 0xed, 0x0f, 0x12, 0x34, 0x56, 0x78,
    0x9a, 0xbc, 0xde, 0xf0, 0x0f, 0x1e, 0x2d, 0x3c, 0x4b, 0x5a, 0x69, 0x78,
    0x87, 0x96, 0xa5, 0xb4, 0xc3, 0xd2, 0xe1, 0xf0, 0x11, 0x22, 0x33, 0x44,
    0x55, 0x66, 0x77, 0x88, 0x99, 0xaa, 0xbb, 0xcc, 0xdd, 0xee, 0xff, 0x01,
};

typedef struct TlsFixture {
    TestTarget *tt;
    NvmetPort *port;            /* the TLS port */
    char *hkey, *ckey;
} TlsFixture;

static TlsFixture *tf_new(NvmetPortTls mode)
{
    TlsFixture *f = g_new0(TlsFixture, 1);

    f->tt = tt_new();
    f->port = tt_add_tls_port(f->tt, mode);
    tt_admit_only(f->tt, HOSTNQN);
    return f;
}

static void tf_free(TlsFixture *f)
{
    if (f->port) {
        nvmet_port_free(f->port);
    }
    tt_free(f->tt);
    g_free(f->hkey);
    g_free(f->ckey);
    g_free(f);
}

/*
 * The host's side of a configured PSK: identity and TLS PSK, from the test
 * host's own derivation, which must agree with the target's psk.c.
 */
static void host_configured(const char *interchange, uint8_t version,
                            const char *hostnqn, char *identity,
                            uint8_t *tls_psk, uint8_t *hash)
{
    g_autofree char *hid = NULL;
    uint8_t want[48];
    NvmetPsk psk;
    NvmetPskIdentity id;
    char tid[NVMET_PSK_IDENTITY_SIZE];
    GError *err = NULL;

    hid = nvmf_tls_configured(interchange, version, hostnqn, TEST_SUBNQN,
                              tls_psk, hash);
    g_assert_nonnull(hid);
    g_strlcpy(identity, hid, NVMET_PSK_IDENTITY_SIZE);

    g_assert_true(nvmet_psk_parse(interchange, &psk, &err));
    g_assert_true(nvmet_psk_configured_derive(&psk, version, hostnqn,
                                              TEST_SUBNQN, &id, want, &err));
    g_assert_true(nvmet_psk_identity_format(&id, tid, &err));
    g_assert_no_error(err);
    g_assert_cmpstr(tid, ==, identity);
    g_assert_cmpmem(want, psk.len, tls_psk, psk.len);
}

static uint16_t connect_admin(TestConn *tc, const char *hostnqn,
                              uint32_t *dw0)
{
    NvmfCqe cqe;

    g_assert_cmpint(nvmf_host_icreq(tc->h, false, false, 0), ==, 0);
    g_assert_cmpint(nvmf_host_connect(tc->h, 0, 31, 0xffff, TEST_SUBNQN,
                                      hostnqn, test_hostid, 0, 0, &cqe),
                    ==, 0);
    if (dw0) {
        *dw0 = cqe.dw0;
    }
    tc->cntlid = cqe.dw0 & 0xffff;
    return cqe.status;
}

static void rw_roundtrip(TestConn *io, uint64_t lba, uint8_t fill)
{
    uint8_t w[4096], r[4096];
    NvmfCqe cqe;

    memset(w, fill, sizeof(w));
    g_assert_cmpint(nvmf_host_rw(io->h, true, 1, lba, 8, w, sizeof(w), &cqe),
                    ==, 0);
    g_assert_cmphex(cqe.status, ==, 0);
    g_assert_cmpint(nvmf_host_rw(io->h, false, 1, lba, 8, r, sizeof(r), &cqe),
                    ==, 0);
    g_assert_cmphex(cqe.status, ==, 0);
    g_assert_cmpmem(w, sizeof(w), r, sizeof(r));
}

/* ---- configured PSKs ------------------------------------------------------ */

static void test_configured(const void *opaque)
{
    uint8_t version = GPOINTER_TO_UINT(opaque);
    TlsFixture *f = tf_new(NVMET_PORT_TLS_REQUIRED);
    char identity[NVMET_PSK_IDENTITY_SIZE];
    uint8_t key[48], hash;
    GError *err = NULL;
    TestConn *a, *io;
    uint32_t dw0;
    NvmfCqe cqe;

    g_assert_true(nvmet_host_set_tls_psk(f->tt->host, psk01, &err));
    host_configured(psk01, version, HOSTNQN, identity, key, &hash);
    g_assert_true(g_str_has_prefix(identity, version ? "NVMe1R01 " :
                                   "NVMe0R01 "));

    a = tc_new_on(f->tt, f->port);
    if (tc_start_tls(a, identity, key, 32, hash) < 0) {
        g_error("handshake: %s", nvmf_tls_error(a->tls));
    }
    g_assert_true(tt_trace_has(f->tt, "TLS established"));
    {
        g_autofree char *desc = nvmf_tls_description(a->tls);

        g_assert_nonnull(strstr(desc, "TLS1.3"));
        g_assert_nonnull(strstr(desc, "AES-128-GCM"));
    }
    g_assert_cmphex(connect_admin(a, HOSTNQN, &dw0), ==, 0);
    g_assert_cmphex(dw0 & NVME_CONNECT_AUTHREQ_ATR, ==, 0);
    g_assert_cmpint(nvmf_host_enable(a->h), ==, 0);
    g_assert_cmpint(nvmf_host_set_features(a->h, NVME_FEAT_NUM_QUEUES,
                                           0x00010001, &cqe), ==, 0);

    io = tc_new_on(f->tt, f->port);
    g_assert_cmpint(tc_start_tls(io, identity, key, 32, hash), ==, 0);
    g_assert_cmpint(nvmf_host_icreq(io->h, true, true, 0), ==, 0);
    g_assert_cmpint(nvmf_host_connect(io->h, 1, 31, a->cntlid, TEST_SUBNQN,
                                      HOSTNQN, test_hostid, 0, 0, &cqe), ==, 0);
    g_assert_cmphex(cqe.status, ==, 0);
    nvmf_host_set_incapsule(io->h, 8192);
    /* large transfers: many records in both directions */
    {
        size_t len = 512 * 1024;
        g_autofree uint8_t *w = g_malloc(len), *r = g_malloc(len);

        for (size_t i = 0; i < len; i++) {
            w[i] = i * 7 + (i >> 9);
        }
        g_assert_cmpint(nvmf_host_rw(io->h, true, 1, 0, len / 512, w, len,
                                     &cqe), ==, 0);
        g_assert_cmphex(cqe.status, ==, 0);
        g_assert_cmpint(nvmf_host_rw(io->h, false, 1, 0, len / 512, r, len,
                                     &cqe), ==, 0);
        g_assert_cmphex(cqe.status, ==, 0);
        g_assert_cmpmem(w, len, r, len);
    }
    tc_free(io);
    tc_free(a);
    tf_free(f);
}

static void test_port_modes(void)
{
    TlsFixture *f = tf_new(NVMET_PORT_TLS_REQUIRED);
    char identity[NVMET_PSK_IDENTITY_SIZE];
    uint8_t key[48], hash;
    GError *err = NULL;
    TestConn *c;

    g_assert_true(nvmet_host_set_tls_psk(f->tt->host, psk01, &err));
    /* cleartext on a TLS-required port: closed without an answer */
    c = tc_new_on(f->tt, f->port);
    g_assert_cmpint(nvmf_host_icreq(c->h, false, false, 0), ==, -1);
    g_assert_true(nvmet_queue_wants_close(c->q));
    g_assert_true(tt_trace_has(f->tt, "the port requires TLS"));
    tc_free(c);
    /* the cleartext port still works */
    c = tc_new(f->tt);
    g_assert_cmphex(connect_admin(c, HOSTNQN, NULL), ==, 0);
    tc_free(c);
    tf_free(f);

    /* "not required": both */
    f = tf_new(NVMET_PORT_TLS_ALLOWED);
    g_assert_true(nvmet_host_set_tls_psk(f->tt->host, psk01, &err));
    c = tc_new_on(f->tt, f->port);
    g_assert_cmphex(connect_admin(c, HOSTNQN, NULL), ==, 0);
    tc_free(c);
    host_configured(psk01, 1, HOSTNQN, identity, key, &hash);
    c = tc_new_on(f->tt, f->port);
    g_assert_cmpint(tc_start_tls(c, identity, key, 32, hash), ==, 0);
    g_assert_cmphex(connect_admin(c, HOSTNQN, NULL), ==, 0);
    tc_free(c);
    tf_free(f);
}

static void test_discovery_log(void)
{
    TlsFixture *f = tf_new(NVMET_PORT_TLS_REQUIRED);
    char identity[NVMET_PSK_IDENTITY_SIZE];
    uint8_t key[48], hash, log[3072];
    GError *err = NULL;
    TestConn *c;
    NvmfCqe cqe;

    g_assert_true(nvmet_host_set_tls_psk(f->tt->host, psk01, &err));
    host_configured(psk01, 1, HOSTNQN, identity, key, &hash);
    c = tc_new_on(f->tt, f->port);
    g_assert_cmpint(tc_start_tls(c, identity, key, 32, hash), ==, 0);
    g_assert_cmpint(nvmf_host_icreq(c->h, false, false, 0), ==, 0);
    g_assert_cmpint(nvmf_host_connect(c->h, 0, 31, 0xffff,
                                      NVME_DISC_SUBSYS_NAME, HOSTNQN,
                                      test_hostid, 0, 0, &cqe), ==, 0);
    g_assert_cmphex(cqe.status, ==, 0);
    g_assert_cmpint(nvmf_host_enable(c->h), ==, 0);
    g_assert_cmpint(nvmf_host_get_log(c->h, NVME_LOG_DISC, 0, 0, log,
                                      sizeof(log), &cqe), ==, 0);
    g_assert_cmphex(cqe.status, ==, 0);
    g_assert_cmpuint(nvmet_ld64(log + 8), ==, 2);
    for (int i = 0; i < 2; i++) {
        const uint8_t *e = log + 1024 + i * 1024;

        g_assert_cmphex(e[3] & 3, ==, NVMF_TREQ_REQUIRED);
        g_assert_cmphex(e[768], ==, NVMF_TCP_SECTYPE_TLS13);
    }
    tc_free(c);
    tf_free(f);
}

static void test_refusals(void)
{
    TlsFixture *f = tf_new(NVMET_PORT_TLS_REQUIRED);
    char identity[NVMET_PSK_IDENTITY_SIZE], other[NVMET_PSK_IDENTITY_SIZE];
    uint8_t key[48], hash;
    GError *err = NULL;
    NvmetHost *h2;
    TestConn *c;

    g_assert_true(nvmet_host_set_tls_psk(f->tt->host, psk01, &err));
    host_configured(psk01, 1, HOSTNQN, identity, key, &hash);

    /* right identity, wrong key */
    c = tc_new_on(f->tt, f->port);
    key[0] ^= 1;
    g_assert_cmpint(tc_start_tls(c, identity, key, 32, hash), ==, -1);
    key[0] ^= 1;
    g_assert_true(nvmet_queue_wants_close(c->q));
    g_assert_true(tt_trace_has(f->tt, "TLS handshake failed"));
    /* RFC 8446: the binder does not validate */
    g_assert_cmpint(nvmf_tls_alert(c->tls), ==, GNUTLS_A_DECRYPT_ERROR);
    g_assert_true(tt_trace_has(f->tt, "sent fatal TLS alert 51 "
                               "(decrypt_error): the PSK binder does not "
                               "verify"));
    tc_free(c);

    /* an identity for a host without a PSK */
    h2 = nvmet_host_new(f->tt->t, TEST_HOSTNQN2, &err);
    g_assert_true(nvmet_subsys_add_host(f->tt->subsys, h2, &err));
    host_configured(psk01, 1, TEST_HOSTNQN2, other, key, &hash);
    c = tc_new_on(f->tt, f->port);
    g_assert_cmpint(tc_start_tls(c, other, key, 32, hash), ==, -1);
    g_assert_true(tt_trace_has(f->tt, "no TLS PSK is configured"));
    g_assert_cmpint(nvmf_tls_alert(c->tls), ==,
                    GNUTLS_A_UNKNOWN_PSK_IDENTITY);
    g_assert_true(tt_trace_has(f->tt, "sent fatal TLS alert 115 "
                               "(unknown_psk_identity)"));
    tc_free(c);

    /* a digest that does not belong to the PSK */
    {
        char *d = strrchr(identity, ' ') + 1;

        host_configured(psk01, 1, HOSTNQN, identity, key, &hash);
        d[0] = d[0] == 'A' ? 'B' : 'A';
        c = tc_new_on(f->tt, f->port);
        g_assert_cmpint(tc_start_tls(c, identity, key, 32, hash), ==, -1);
        g_assert_true(tt_trace_has(f->tt, "does not match"));
        g_assert_cmpint(nvmf_tls_alert(c->tls), ==,
                        GNUTLS_A_UNKNOWN_PSK_IDENTITY);
        tc_free(c);
    }
    /* not an NVMe identity at all */
    c = tc_new_on(f->tt, f->port);
    g_assert_cmpint(tc_start_tls(c, "client1", key, 32, 1), ==, -1);
    g_assert_true(tt_trace_has(f->tt, "not an NVMe TLS PSK identity"));
    g_assert_cmpint(nvmf_tls_alert(c->tls), ==,
                    GNUTLS_A_UNKNOWN_PSK_IDENTITY);
    tc_free(c);

    /* the PSK of host 1, then a Connect as host 2 */
    g_assert_true(nvmet_host_set_tls_psk(h2, psk01, &err));
    host_configured(psk01, 1, HOSTNQN, identity, key, &hash);
    c = tc_new_on(f->tt, f->port);
    g_assert_cmpint(tc_start_tls(c, identity, key, 32, hash), ==, 0);
    g_assert_cmphex(connect_admin(c, TEST_HOSTNQN2, NULL), ==,
                    NVME_SC_CONNECT_INVALID_HOST | NVME_STATUS_DNR);
    g_assert_true(tt_trace_has(f->tt, "the TLS PSK identity is"));
    tc_free(c);
    nvmet_host_free(h2);
    tf_free(f);
}

/*
 * After the handshake: a record that does not decrypt gets bad_record_mac
 * (encrypted, the session's keys are up), and nothing else follows.
 */
static void test_bad_record_alert(void)
{
    TlsFixture *f = tf_new(NVMET_PORT_TLS_REQUIRED);
    char identity[NVMET_PSK_IDENTITY_SIZE];
    uint8_t key[48], hash, rec[5 + 64];
    g_auto(NvmfPdu) pdu = { 0 };
    GError *err = NULL;
    TestConn *c;

    g_assert_true(nvmet_host_set_tls_psk(f->tt->host, psk01, &err));
    host_configured(psk01, 1, HOSTNQN, identity, key, &hash);
    c = tc_new_on(f->tt, f->port);
    g_assert_cmpint(tc_start_tls(c, identity, key, 32, hash), ==, 0);
    g_assert_cmphex(connect_admin(c, HOSTNQN, NULL), ==, 0);
    /* an application_data record of garbage */
    rec[0] = 0x17;
    rec[1] = 0x03;
    rec[2] = 0x03;
    rec[3] = 0;
    rec[4] = 64;
    for (int i = 0; i < 64; i++) {
        rec[5 + i] = i * 37 + 1;
    }
    nvmet_queue_input(c->q, rec, sizeof(rec));
    g_assert_true(nvmet_queue_wants_close(c->q));
    g_assert_cmpint(nvmf_host_recv_pdu(c->h, &pdu), ==, -1);
    g_assert_cmpint(nvmf_tls_alert(c->tls), ==, GNUTLS_A_BAD_RECORD_MAC);
    g_assert_true(tt_trace_has(f->tt, "sent fatal TLS alert 20 "
                               "(bad_record_mac)"));
    tc_free(c);
    tf_free(f);
}

typedef struct Capture {
    GByteArray *sent;
} Capture;

static int capture_send(void *opaque, const void *buf, size_t len)
{
    Capture *cap = opaque;

    g_byte_array_append(cap->sent, buf, len);
    return 0;
}

static ssize_t capture_recv(void *opaque, void *buf, size_t len)
{
    return -1;
}

/*
 * TLS handshake bytes that arrive after the port was removed: the queue
 * closed with the port (which is gone, sq->port is NULL), and what comes
 * next is dropped unread.  Before the fix the PSK lookup went through the
 * NULL port.
 */
static void test_port_removed_mid_handshake(void)
{
    TlsFixture *f = tf_new(NVMET_PORT_TLS_REQUIRED);
    char identity[NVMET_PSK_IDENTITY_SIZE];
    uint8_t key[48], hash;
    Capture cap = { g_byte_array_new() };
    NvmfTransport tr = { capture_send, capture_recv, &cap };
    GError *err = NULL;
    NvmfTls *client;
    TestConn *c, *d;

    g_assert_true(nvmet_host_set_tls_psk(f->tt->host, psk01, &err));
    host_configured(psk01, 1, HOSTNQN, identity, key, &hash);
    /* the host's ClientHello, as bytes */
    client = nvmf_tls_new(&tr, identity, key, 32, hash);
    g_assert_cmpint(nvmf_tls_handshake(client), ==, -1);
    nvmf_tls_free(client);
    g_assert_cmpuint(cap.sent->len, >, 100);
    g_assert_cmphex(cap.sent->data[0], ==, 0x16);

    /* one connection has the first bytes of it, one nothing yet */
    c = tc_new_on(f->tt, f->port);
    d = tc_new_on(f->tt, f->port);
    nvmet_queue_input(c->q, cap.sent->data, 10);
    g_assert_false(nvmet_queue_wants_close(c->q));
    nvmet_port_free(f->port);
    f->port = NULL;
    g_assert_true(nvmet_queue_wants_close(c->q));
    g_assert_true(nvmet_queue_wants_close(d->q));
    nvmet_queue_input(c->q, cap.sent->data + 10, cap.sent->len - 10);
    nvmet_queue_input(d->q, cap.sent->data, cap.sent->len);
    g_assert_true(tt_trace_has(f->tt, "received after the queue was closed: "
                               "dropped"));
    g_assert_false(tt_trace_has(f->tt, "PSK identity"));
    tc_free(c);
    tc_free(d);
    g_byte_array_unref(cap.sent);
    tf_free(f);
}

/* ---- secure channel concatenation -------------------------------------------- */

static void auth_params(NvmfAuthParams *p, TlsFixture *f, uint8_t sc_c,
                        uint16_t tid)
{
    static const uint8_t hashes[] = { 1, 2, 3 };
    static const uint8_t groups[] = { 1, 2, 3, 4, 5 };

    memset(p, 0, sizeof(*p));
    p->hostnqn = HOSTNQN;
    p->subnqn = TEST_SUBNQN;
    p->host_secret = f->hkey;
    p->ctrl_secret = f->ckey;
    memcpy(p->hashes, hashes, 3);
    p->nhashes = 3;
    memcpy(p->groups, groups, 5);
    p->ngroups = 5;
    p->sc_c = sc_c;
    p->tid = tid;
}

/* The identity and TLS PSK the host derives from a generated PSK */
static void host_generated(NvmfAuthResult *r, char *identity, uint8_t *key)
{
    NvmetPskIdentity id = { .version = 1, .generated = true, .hash = r->hash };
    g_autofree char *hid = NULL;
    char tid[NVMET_PSK_IDENTITY_SIZE];
    uint8_t want[48];
    GError *err = NULL;

    g_assert_cmpuint(r->psk_len, ==, nvmet_hash_len(r->hash));
    hid = nvmf_tls_generated(r->hash, r->psk, r->psk_len, HOSTNQN,
                             TEST_SUBNQN, key);
    g_strlcpy(identity, hid, NVMET_PSK_IDENTITY_SIZE);
    /* the target's derivation agrees */
    g_strlcpy(id.hostnqn, HOSTNQN, sizeof(id.hostnqn));
    g_strlcpy(id.subnqn, TEST_SUBNQN, sizeof(id.subnqn));
    g_assert_true(nvmet_psk_digest(r->hash, r->psk, r->psk_len, HOSTNQN,
                                   TEST_SUBNQN, id.digest, &err));
    g_assert_true(nvmet_psk_identity_format(&id, tid, &err));
    g_assert_true(nvmet_psk_tls_psk(&id, r->psk, r->psk_len, want, &err));
    g_assert_no_error(err);
    g_assert_cmpstr(tid, ==, identity);
    g_assert_cmpmem(want, r->psk_len, key, r->psk_len);
}

/*
 * The TLS PSK a Linux 6.15 .. 6.17 host derives from the generated PSK
 * @psk (written here with GLib's HMAC, apart from the engine):
 * HKDF-Expand(HKDF-Extract(0, PSK), be16(L) || "tls13 nvme-tls-psk" ||
 * "hh <digest>", L), the HKDF-Expand-Label info without its length octets.
 */
static void legacy_tls_psk(const NvmfAuthResult *r, const char *identity,
                           uint8_t *out)
{
    GChecksumType t = r->hash == 1 ? G_CHECKSUM_SHA256 : G_CHECKSUM_SHA384;
    size_t hl = r->psk_len, n = hl;
    uint8_t zero[48] = { 0 }, prk[48], one = 1, lenb[2] = { 0, hl };
    g_autofree char *ctx = g_strdup_printf("%02u %s", r->hash,
                                           strrchr(identity, ' ') + 1);
    GHmac *h;

    h = g_hmac_new(t, zero, hl);
    g_hmac_update(h, r->psk, hl);
    g_hmac_get_digest(h, prk, &n);
    g_hmac_unref(h);
    h = g_hmac_new(t, prk, hl);
    g_hmac_update(h, lenb, 2);
    g_hmac_update(h, (const guchar *)"tls13 nvme-tls-psk", 18);
    g_hmac_update(h, (const guchar *)ctx, strlen(ctx));
    g_hmac_update(h, &one, 1);
    n = hl;
    g_hmac_get_digest(h, out, &n);
    g_hmac_unref(h);
}

/* a TLS admin queue with a generated PSK, enabled */
static TestConn *tls_admin(TlsFixture *f, const char *identity,
                           const uint8_t *key, uint8_t hash)
{
    TestConn *a = tc_new_on(f->tt, f->port);
    uint32_t dw0;

    if (tc_start_tls(a, identity, key, nvmet_hash_len(hash), hash) < 0) {
        g_error("handshake with %s: %s", identity, nvmf_tls_error(a->tls));
    }
    g_assert_cmphex(connect_admin(a, HOSTNQN, &dw0), ==, 0);
    /* like nvmet: no authentication on a TLS queue */
    g_assert_cmphex(dw0 & NVME_CONNECT_AUTHREQ_ATR, ==, 0);
    g_assert_cmpint(nvmf_host_enable(a->h), ==, 0);
    return a;
}

static void concat_fixture(TlsFixture *f, bool quirk)
{
    GError *err = NULL;

    f->hkey = nvmf_dhchap_key_encode(dh_secret, 48, 2);
    f->ckey = nvmf_dhchap_key_encode(dh_secret + 8, 32, 1);
    g_assert_true(nvmet_host_set_dhchap_keys(f->tt->host, f->hkey, f->ckey,
                                             &err));
    nvmet_subsys_set_quirk_free_tls_key(f->tt->subsys, quirk);
}

static void test_concat(void)
{
    TlsFixture *f = tf_new(NVMET_PORT_TLS_ALLOWED);
    char identity[NVMET_PSK_IDENTITY_SIZE], old[NVMET_PSK_IDENTITY_SIZE];
    uint8_t key[48], oldkey[48], hash;
    NvmfAuthParams p;
    NvmfAuthResult r;
    TestConn *c, *a, *io;
    uint32_t dw0;
    NvmfCqe cqe;

    concat_fixture(f, false);
    /* NEWTLSPSK on the cleartext admin queue */
    c = tc_new_on(f->tt, f->port);
    g_assert_cmphex(connect_admin(c, HOSTNQN, &dw0), ==, 0);
    g_assert_true(dw0 & NVME_CONNECT_AUTHREQ_ATR);
    auth_params(&p, f, NVME_AUTH_SECP_NEWTLSPSK, 1);
    g_assert_cmpint(nvmf_host_authenticate(c->h, &p, &r), ==, 0);
    g_assert_true(r.authenticated);
    g_assert_false(r.rvalid);           /* no controller response: concat */
    g_assert_cmpuint(r.hash, !=, 3);    /* SHA-512 cannot make a TLS PSK */
    g_assert_cmpuint(r.dhgid, !=, 0);
    hash = r.hash;
    host_generated(&r, identity, key);
    g_assert_true(g_str_has_prefix(identity, hash == 1 ? "NVMe1G01 " :
                                   "NVMe1G02 "));
    g_assert_true(tt_trace_has(f->tt, "NEWTLSPSK: generated PSK"));
    /* the host tears the cleartext queue down and comes back over TLS */
    tc_free(c);

    a = tls_admin(f, identity, key, hash);
    g_assert_cmpint(nvmf_host_set_features(a->h, NVME_FEAT_NUM_QUEUES,
                                           0x00010001, &cqe), ==, 0);
    io = tc_new_on(f->tt, f->port);
    g_assert_cmpint(tc_start_tls(io, identity, key, nvmet_hash_len(hash),
                                 hash), ==, 0);
    g_assert_cmpint(nvmf_host_icreq(io->h, false, false, 0), ==, 0);
    g_assert_cmpint(nvmf_host_connect(io->h, 1, 31, a->cntlid, TEST_SUBNQN,
                                      HOSTNQN, test_hostid, 0, 0, &cqe), ==, 0);
    g_assert_cmphex(cqe.status, ==, 0);
    g_assert_cmphex(cqe.dw0 & NVME_CONNECT_AUTHREQ_ATR, ==, 0);
    nvmf_host_set_incapsule(io->h, 8192);
    rw_roundtrip(io, 0, 0x11);

    /* NEWTLSPSK on a TLS queue is refused */
    auth_params(&p, f, NVME_AUTH_SECP_NEWTLSPSK, 2);
    g_assert_cmpint(nvmf_host_authenticate(a->h, &p, &r), ==, 0);
    g_assert_false(r.authenticated);
    g_assert_cmphex(r.failure, ==, NVME_AUTH_FAIL_CONCAT_MISMATCH);

    /* REPLACETLSPSK 100 times on the same TLS admin queue */
    for (int i = 0; i < 100; i++) {
        memcpy(old, identity, sizeof(old));
        memcpy(oldkey, key, sizeof(key));
        auth_params(&p, f, NVME_AUTH_SECP_REPLACETLSPSK, 10 + i);
        g_assert_cmpint(nvmf_host_authenticate(a->h, &p, &r), ==, 0);
        if (!r.authenticated) {
            g_error("REPLACETLSPSK #%d: %s (reason 0x%x)", i + 1, r.error,
                    r.failure);
        }
        host_generated(&r, identity, key);
        g_assert_cmpstr(identity, !=, old);
        /* the admin queue and the I/O queue keep working */
        g_assert_cmpint(nvmf_host_prop_get(a->h, NVME_REG_CSTS, false, NULL,
                                           &cqe), ==, 0);
        g_assert_cmphex(cqe.status, ==, 0);
        if (i % 10 == 0) {
            TestConn *n;

            rw_roundtrip(io, i, i);
            /* the old identity is gone, the new one works */
            n = tc_new_on(f->tt, f->port);
            g_assert_cmpint(tc_start_tls(n, old, oldkey, nvmet_hash_len(hash),
                                         hash), ==, -1);
            /* tlshd: EKEYREJECTED, the host authenticates afresh */
            g_assert_cmpint(nvmf_tls_alert(n->tls), ==,
                            GNUTLS_A_UNKNOWN_PSK_IDENTITY);
            tc_free(n);
            n = tls_admin(f, identity, key, hash);
            tc_free(n);
        }
    }
    g_assert_true(tt_trace_has(f->tt, "REPLACETLSPSK: generated PSK"));
    /* REPLACETLSPSK on a cleartext queue is refused */
    c = tc_new(f->tt);
    g_assert_cmphex(connect_admin(c, HOSTNQN, &dw0), ==, 0);
    auth_params(&p, f, NVME_AUTH_SECP_REPLACETLSPSK, 7);
    g_assert_cmpint(nvmf_host_authenticate(c->h, &p, &r), ==, 0);
    g_assert_cmphex(r.failure, ==, NVME_AUTH_FAIL_CONCAT_MISMATCH);
    /* and concatenation on an I/O queue too */
    auth_params(&p, f, NVME_AUTH_SECP_REPLACETLSPSK, 8);
    g_assert_cmpint(nvmf_host_authenticate(io->h, &p, &r), ==, 0);
    g_assert_cmphex(r.failure, ==, NVME_AUTH_FAIL_CONCAT_MISMATCH);
    tc_free(c);
    tc_free(io);
    tc_free(a);
    tf_free(f);
}

static void test_concat_needs_tls_port(void)
{
    TlsFixture *f = tf_new(NVMET_PORT_TLS_ALLOWED);
    NvmfAuthParams p;
    NvmfAuthResult r;
    TestConn *c;

    concat_fixture(f, false);
    c = tc_new(f->tt);                  /* the port without TLS */
    g_assert_cmphex(connect_admin(c, HOSTNQN, NULL), ==, 0);
    auth_params(&p, f, NVME_AUTH_SECP_NEWTLSPSK, 1);
    g_assert_cmpint(nvmf_host_authenticate(c->h, &p, &r), ==, 0);
    g_assert_false(r.authenticated);
    g_assert_cmphex(r.failure, ==, NVME_AUTH_FAIL_CONCAT_MISMATCH);
    g_assert_true(tt_trace_has(f->tt, "needs a port with TLS"));
    tc_free(c);
    tf_free(f);
}

/*
 * Linux 6.15 .. 6.17 hosts hash 0 instead of SC_C into their response R1
 * and, with a controller key, send SUCCESS2 after a concatenation's
 * SUCCESS1: the target accepts both (and says so in the trace) for
 * NEWTLSPSK and REPLACETLSPSK, and still refuses a wrong response.
 */
static void test_concat_legacy(void)
{
    TlsFixture *f = tf_new(NVMET_PORT_TLS_ALLOWED);
    char identity[NVMET_PSK_IDENTITY_SIZE], old[NVMET_PSK_IDENTITY_SIZE];
    uint8_t key[48], hash;
    NvmfAuthParams p;
    NvmfAuthResult r;
    TestConn *c, *a;
    NvmfCqe cqe;

    concat_fixture(f, false);
    c = tc_new_on(f->tt, f->port);
    g_assert_cmphex(connect_admin(c, HOSTNQN, NULL), ==, 0);
    auth_params(&p, f, NVME_AUTH_SECP_NEWTLSPSK, 1);
    p.legacy_sc_c = true;
    p.legacy_success2 = true;
    g_assert_cmpint(nvmf_host_authenticate(c->h, &p, &r), ==, 0);
    g_assert_true(r.authenticated);
    g_assert_true(tt_trace_has(f->tt, "the host hashed 0, not SC_C 2"));
    g_assert_true(tt_trace_has(f->tt, "SUCCESS2 after a concatenation's"));
    g_assert_false(tt_trace_has(f->tt, "message out of order"));
    hash = r.hash;
    host_generated(&r, identity, key);
    tc_free(c);
    /* the RFC 8446 key is refused: the target derived the old host's */
    c = tc_new_on(f->tt, f->port);
    g_assert_cmpint(tc_start_tls(c, identity, key, nvmet_hash_len(hash),
                                 hash), ==, -1);
    tc_free(c);
    legacy_tls_psk(&r, identity, key);

    a = tls_admin(f, identity, key, hash);
    for (int i = 0; i < 3; i++) {
        memcpy(old, identity, sizeof(old));
        auth_params(&p, f, NVME_AUTH_SECP_REPLACETLSPSK, 10 + i);
        p.legacy_sc_c = true;
        p.legacy_success2 = true;
        g_assert_cmpint(nvmf_host_authenticate(a->h, &p, &r), ==, 0);
        g_assert_true(r.authenticated);
        host_generated(&r, identity, key);
        legacy_tls_psk(&r, identity, key);
        g_assert_cmpstr(identity, !=, old);
        /* the queue still works */
        g_assert_cmpint(nvmf_host_prop_get(a->h, NVME_REG_CSTS, false, NULL,
                                           &cqe), ==, 0);
        g_assert_cmphex(cqe.status, ==, 0);
    }
    g_assert_false(tt_trace_has(f->tt, "message out of order"));
    g_assert_true(tt_trace_has(f->tt, "the host hashed 0, not SC_C 3"));
    /* a wrong response is still refused, in either form */
    auth_params(&p, f, NVME_AUTH_SECP_REPLACETLSPSK, 20);
    p.legacy_sc_c = true;
    p.corrupt_response = true;
    g_assert_cmpint(nvmf_host_authenticate(a->h, &p, &r), ==, 0);
    g_assert_false(r.authenticated);
    g_assert_cmphex(r.failure, ==, NVME_AUTH_FAIL_FAILED);
    tc_free(a);
    /* the last legacy REPLACETLSPSK's key works; then a current host */
    a = tls_admin(f, identity, key, hash);
    auth_params(&p, f, NVME_AUTH_SECP_REPLACETLSPSK, 21);
    g_assert_cmpint(nvmf_host_authenticate(a->h, &p, &r), ==, 0);
    g_assert_true(r.authenticated);
    host_generated(&r, identity, key);
    tc_free(a);
    a = tls_admin(f, identity, key, hash);      /* RFC 8446 key again */
    tc_free(a);
    tf_free(f);
}

/*
 * The SUCCESS2 after a concatenation's SUCCESS1 is let through only from a
 * host that proved to be of Linux 6.15 .. 6.17 (R1 with 0 for SC_C), and
 * only once: from a current host, or a second time, it is out of order as
 * ever (FAILURE1, and the cleartext queue is no longer authenticated).
 */
static void test_concat_legacy_success2(void)
{
    TlsFixture *f = tf_new(NVMET_PORT_TLS_ALLOWED);
    uint8_t msg[NVME_AUTH_SUCC2_LEN] = { 0 }, buf[64];
    NvmfAuthParams p;
    NvmfAuthResult r;
    TestConn *c;
    NvmfCqe cqe;

    concat_fixture(f, false);
    for (int legacy = 0; legacy < 2; legacy++) {
        c = tc_new_on(f->tt, f->port);
        g_assert_cmphex(connect_admin(c, HOSTNQN, NULL), ==, 0);
        tt_trace_clear(f->tt);
        auth_params(&p, f, NVME_AUTH_SECP_NEWTLSPSK, 1 + legacy);
        p.legacy_sc_c = legacy;
        p.legacy_success2 = true;
        g_assert_cmpint(nvmf_host_authenticate(c->h, &p, &r), ==, 0);
        g_assert_false(r.rvalid);
        g_assert_cmpint(tt_trace_has(f->tt, "SUCCESS2 after a concat"), ==,
                        legacy);
        if (legacy) {
            g_assert_false(tt_trace_has(f->tt, "message out of order"));
            /* the queue is authenticated */
            g_assert_cmpint(nvmf_host_prop_get(c->h, NVME_REG_CSTS, false,
                                               NULL, &cqe), ==, 0);
            g_assert_cmphex(cqe.status, ==, 0);
            /* the same SUCCESS2 again */
            msg[NVME_AUTH_TYPE] = NVME_AUTH_DHCHAP_MESSAGES;
            msg[NVME_AUTH_ID] = NVME_AUTH_MSG_SUCCESS2;
            nvmet_st16(msg + NVME_AUTH_TID, p.tid);
            g_assert_cmpint(nvmf_host_auth_send(c->h, msg, sizeof(msg),
                                                &cqe), ==, 0);
            g_assert_cmphex(cqe.status, ==, 0);
        }
        g_assert_true(tt_trace_has(f->tt, "message out of order"));
        g_assert_cmpint(nvmf_host_auth_recv(c->h, buf, sizeof(buf), &cqe),
                        ==, 0);
        g_assert_cmphex(buf[NVME_AUTH_ID], ==, NVME_AUTH_MSG_FAILURE1);
        g_assert_cmphex(buf[NVME_AUTH_FAIL_RESCODE_EXP], ==,
                        NVME_AUTH_FAIL_INCORRECT_MESSAGE);
        g_assert_cmpint(nvmf_host_prop_get(c->h, NVME_REG_CSTS, false, NULL,
                                           &cqe), ==, 0);
        g_assert_cmphex(cqe.status, ==,
                        NVME_SC_AUTH_REQUIRED | NVME_STATUS_DNR);
        tc_free(c);
    }
    tf_free(f);
}

/* The seed bug on purpose: the second REPLACETLSPSK fails */
static void test_quirk(void)
{
    TlsFixture *f = tf_new(NVMET_PORT_TLS_ALLOWED);
    char identity[NVMET_PSK_IDENTITY_SIZE];
    uint8_t key[48];
    NvmfAuthParams p;
    NvmfAuthResult r;
    TestConn *c, *a;

    concat_fixture(f, true);
    c = tc_new_on(f->tt, f->port);
    g_assert_cmphex(connect_admin(c, HOSTNQN, NULL), ==, 0);
    auth_params(&p, f, NVME_AUTH_SECP_NEWTLSPSK, 1);
    g_assert_cmpint(nvmf_host_authenticate(c->h, &p, &r), ==, 0);
    g_assert_true(r.authenticated);
    host_generated(&r, identity, key);
    tc_free(c);

    a = tls_admin(f, identity, key, r.hash);
    auth_params(&p, f, NVME_AUTH_SECP_REPLACETLSPSK, 2);
    g_assert_cmpint(nvmf_host_authenticate(a->h, &p, &r), ==, 0);
    g_assert_true(r.authenticated);
    g_assert_true(tt_trace_has(f->tt, "queue dropped TLS key"));
    auth_params(&p, f, NVME_AUTH_SECP_REPLACETLSPSK, 3);
    g_assert_cmpint(nvmf_host_authenticate(a->h, &p, &r), ==, 0);
    g_assert_false(r.authenticated);
    g_assert_cmphex(r.failure, ==, NVME_AUTH_FAIL_CONCAT_MISMATCH);
    g_assert_true(tt_trace_has(f->tt, "whose key was dropped"));
    tc_free(a);
    tf_free(f);
}

/*
 * SHA-384 PSKs: with GnuTLS 3.8 a configured SHA-384 PSK and a SHA-384
 * generated one negotiate TLS_AES_256_GCM_SHA384; with an older GnuTLS the
 * configuration is refused with a clear error and concatenation picks
 * SHA-256.
 */
static void test_sha384(void)
{
    TlsFixture *f = tf_new(NVMET_PORT_TLS_ALLOWED);
    char identity[NVMET_PSK_IDENTITY_SIZE];
    uint8_t key[48], hash;
    GError *err = NULL;
    NvmfAuthParams p;
    NvmfAuthResult r;
    TestConn *c;

    if (!nvmet_tls_sha384_available()) {
        /* scripts/run-tests.sh links GnuTLS >= 3.8.11 and says so */
        if (g_getenv("NVMET_REQUIRE_TLS_SHA384")) {
            g_test_message("NVMET_REQUIRE_TLS_SHA384 is set but GnuTLS %s "
                           "has no SHA-384 PSKs", gnutls_check_version(NULL));
            g_test_fail();
        }
        g_assert_false(nvmet_host_set_tls_psk(f->tt->host, psk02, &err));
        g_assert_nonnull(strstr(err->message, "GnuTLS 3.8.11"));
        g_clear_error(&err);
        /* a host that offers SHA-384 and SHA-256 gets SHA-256 */
        concat_fixture(f, false);
        c = tc_new_on(f->tt, f->port);
        g_assert_cmphex(connect_admin(c, HOSTNQN, NULL), ==, 0);
        auth_params(&p, f, NVME_AUTH_SECP_NEWTLSPSK, 1);
        p.hashes[0] = 2;
        p.hashes[1] = 1;
        p.nhashes = 2;
        g_assert_cmpint(nvmf_host_authenticate(c->h, &p, &r), ==, 0);
        g_assert_true(r.authenticated);
        g_assert_cmpuint(r.hash, ==, 1);
        /* one that offers only SHA-384 is told why not */
        p.nhashes = 1;
        p.tid = 2;
        g_assert_cmpint(nvmf_host_authenticate(c->h, &p, &r), ==, 0);
        g_assert_cmphex(r.failure, ==, NVME_AUTH_FAIL_HASH_UNUSABLE);
        g_assert_true(tt_trace_has(f->tt, "need GnuTLS 3.8.11"));
        tc_free(c);
        tf_free(f);
        return;
    }
    g_assert_true(nvmet_host_set_tls_psk(f->tt->host, psk02, &err));
    host_configured(psk02, 1, HOSTNQN, identity, key, &hash);
    g_assert_cmpuint(hash, ==, 2);
    c = tc_new_on(f->tt, f->port);
    g_assert_cmpint(tc_start_tls(c, identity, key, 48, 2), ==, 0);
    {
        g_autofree char *desc = nvmf_tls_description(c->tls);

        g_assert_nonnull(strstr(desc, "AES-256-GCM"));
    }
    g_assert_cmphex(connect_admin(c, HOSTNQN, NULL), ==, 0);
    tc_free(c);
    /* a generated SHA-384 PSK */
    concat_fixture(f, false);
    c = tc_new_on(f->tt, f->port);
    g_assert_cmphex(connect_admin(c, HOSTNQN, NULL), ==, 0);
    auth_params(&p, f, NVME_AUTH_SECP_NEWTLSPSK, 1);
    p.hashes[0] = 2;
    p.nhashes = 1;
    g_assert_cmpint(nvmf_host_authenticate(c->h, &p, &r), ==, 0);
    g_assert_true(r.authenticated);
    g_assert_cmpuint(r.hash, ==, 2);
    host_generated(&r, identity, key);
    tc_free(c);
    c = tls_admin(f, identity, key, 2);
    tc_free(c);
    tf_free(f);
}

/* ---- no secret in the trace ---------------------------------------------- */

/* a trace line of @tt that has @needle */
static const char *trace_find(TestTarget *tt, const char *needle)
{
    for (unsigned i = 0; i < tt->traces->len; i++) {
        const char *line = g_ptr_array_index(tt->traces, i);

        if (strstr(line, needle)) {
            return line;
        }
    }
    return NULL;
}

/*
 * The trace line that shows any 8 bytes of @b (hex, either case) or any 9
 * of them base64-encoded; NULL if none does.
 */
static const char *trace_has_bytes(TestTarget *tt, const uint8_t *b,
                                   size_t len)
{
    const char *line;

    g_assert_cmpuint(len, >=, 9);
    for (size_t o = 0; o + 8 <= len; o++) {
        char lo[17], up[17];

        for (int i = 0; i < 8; i++) {
            snprintf(lo + 2 * i, 3, "%02x", b[o + i]);
            snprintf(up + 2 * i, 3, "%02X", b[o + i]);
        }
        if ((line = trace_find(tt, lo)) || (line = trace_find(tt, up))) {
            return line;
        }
    }
    for (size_t o = 0; o + 9 <= len; o++) {
        g_autofree char *b64 = g_base64_encode(b + o, 9);

        if ((line = trace_find(tt, b64))) {
            return line;
        }
    }
    return NULL;
}

/* The trace line that shows any 12 characters of @s's key material */
static const char *trace_has_string(TestTarget *tt, const char *s)
{
    /* after the "NVMeTLSkey-1:01:" or "DHHC-1:01:" prefix */
    const char *body = strrchr(s, ':') == s + strlen(s) - 1 ?
                       strchr(strchr(s, ':') + 1, ':') + 1 : s;
    size_t n = strlen(body);

    for (size_t o = 0; o + 12 <= n; o++) {
        g_autofree char *w = g_strndup(body + o, 12);
        const char *line = trace_find(tt, w);

        if (line) {
            return line;
        }
    }
    return NULL;
}

#define ASSERT_NOT_TRACED_BYTES(tt, b, len) do {                              \
        const char *l_ = trace_has_bytes(tt, b, len);                         \
        if (l_) {                                                             \
            g_error("%s is in the trace: %s", #b, l_);                        \
        }                                                                     \
    } while (0)
#define ASSERT_NOT_TRACED_STRING(tt, s) do {                                  \
        const char *l_ = trace_has_string(tt, s);                             \
        if (l_) {                                                             \
            g_error("%s is in the trace: %s", #s, l_);                        \
        }                                                                     \
    } while (0)

/*
 * With every trace event recorded, a configured PSK, DH-HMAC-CHAP with
 * NEWTLSPSK, a TLS session with the generated PSK, REPLACETLSPSK and
 * refused attempts (wrong key, wrong PSK) leave no key material in the
 * trace: not the interchange strings, not the configured, retained,
 * generated or TLS PSKs, not the DH-HMAC-CHAP keys.
 */
static void test_secrets_not_traced(void)
{
    TlsFixture *f = tf_new(NVMET_PORT_TLS_ALLOWED);
    char identity[NVMET_PSK_IDENTITY_SIZE];
    uint8_t ckey_tls[48], retained[48], gen_tls[48], gen1[64], gen2[64];
    uint8_t hash, bad[48];
    size_t gen1_len, gen2_len;
    g_autofree char *badkey = NULL;
    GError *err = NULL;
    NvmfAuthParams p;
    NvmfAuthResult r;
    NvmetPsk psk;
    TestConn *c, *a;
    uint32_t dw0;

    g_assert_true(nvmet_host_set_tls_psk(f->tt->host, psk01, &err));
    g_assert_true(nvmet_psk_parse(psk01, &psk, &err));
    g_assert_true(nvmet_psk_retained(&psk, HOSTNQN, retained, &err));
    g_assert_no_error(err);
    concat_fixture(f, false);

    /* a configured PSK session */
    host_configured(psk01, 1, HOSTNQN, identity, ckey_tls, &hash);
    c = tc_new_on(f->tt, f->port);
    g_assert_cmpint(tc_start_tls(c, identity, ckey_tls, psk.len, hash), ==, 0);
    g_assert_cmphex(connect_admin(c, HOSTNQN, NULL), ==, 0);
    tc_free(c);
    /* the same identity with a wrong key: refused */
    memcpy(bad, ckey_tls, sizeof(bad));
    bad[5] ^= 0x21;
    c = tc_new_on(f->tt, f->port);
    g_assert_cmpint(tc_start_tls(c, identity, bad, psk.len, hash), ==, -1);
    tc_free(c);

    /* NEWTLSPSK, then the session with the generated PSK */
    c = tc_new_on(f->tt, f->port);
    g_assert_cmphex(connect_admin(c, HOSTNQN, &dw0), ==, 0);
    auth_params(&p, f, NVME_AUTH_SECP_NEWTLSPSK, 1);
    p.hashes[0] = 1;
    p.nhashes = 1;
    g_assert_cmpint(nvmf_host_authenticate(c->h, &p, &r), ==, 0);
    g_assert_true(r.authenticated);
    memcpy(gen1, r.psk, r.psk_len);
    gen1_len = r.psk_len;
    host_generated(&r, identity, gen_tls);
    tc_free(c);
    a = tls_admin(f, identity, gen_tls, r.hash);
    /* REPLACETLSPSK */
    auth_params(&p, f, NVME_AUTH_SECP_REPLACETLSPSK, 2);
    p.hashes[0] = 1;
    p.nhashes = 1;
    g_assert_cmpint(nvmf_host_authenticate(a->h, &p, &r), ==, 0);
    g_assert_true(r.authenticated);
    memcpy(gen2, r.psk, r.psk_len);
    gen2_len = r.psk_len;
    tc_free(a);
    /* a host with the wrong DH-HMAC-CHAP key: refused */
    badkey = nvmf_dhchap_key_encode(dh_secret + 16, 32, 1);
    c = tc_new_on(f->tt, f->port);
    g_assert_cmphex(connect_admin(c, HOSTNQN, NULL), ==, 0);
    auth_params(&p, f, 0, 3);
    p.host_secret = badkey;
    g_assert_cmpint(nvmf_host_authenticate(c->h, &p, &r), ==, 0);
    g_assert_false(r.authenticated);
    tc_free(c);

    g_assert_cmpuint(f->tt->traces->len, >, 50);
    g_assert_true(tt_trace_has(f->tt, "REPLACETLSPSK: generated PSK"));
    ASSERT_NOT_TRACED_STRING(f->tt, psk01);
    ASSERT_NOT_TRACED_STRING(f->tt, f->hkey);
    ASSERT_NOT_TRACED_STRING(f->tt, f->ckey);
    ASSERT_NOT_TRACED_STRING(f->tt, badkey);
    ASSERT_NOT_TRACED_BYTES(f->tt, psk.key, psk.len);
    ASSERT_NOT_TRACED_BYTES(f->tt, retained, psk.len);
    ASSERT_NOT_TRACED_BYTES(f->tt, ckey_tls, psk.len);
    ASSERT_NOT_TRACED_BYTES(f->tt, bad, psk.len);
    ASSERT_NOT_TRACED_BYTES(f->tt, dh_secret, 48);
    ASSERT_NOT_TRACED_BYTES(f->tt, gen1, gen1_len);
    ASSERT_NOT_TRACED_BYTES(f->tt, gen2, gen2_len);
    ASSERT_NOT_TRACED_BYTES(f->tt, gen_tls, gen1_len);

    /* the checks see a secret when there is one */
    {
        char hex[2 * 48 + 1];

        for (size_t i = 0; i < gen1_len; i++) {
            snprintf(hex + 2 * i, 3, "%02X", gen1[i]);
        }
        g_ptr_array_add(f->tt->traces,
                        g_strdup_printf("x psk ...%s...", hex + 10));
        g_assert_nonnull(trace_has_bytes(f->tt, gen1, gen1_len));
        g_ptr_array_add(f->tt->traces,
                        g_strdup_printf("x key %.14s", f->hkey + 20));
        g_assert_nonnull(trace_has_string(f->tt, f->hkey));
    }
    tf_free(f);
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_data_func("/nvmet/tls/configured/v0", GUINT_TO_POINTER(0),
                         test_configured);
    g_test_add_data_func("/nvmet/tls/configured/v1", GUINT_TO_POINTER(1),
                         test_configured);
    g_test_add_func("/nvmet/tls/port-modes", test_port_modes);
    g_test_add_func("/nvmet/tls/discovery-log", test_discovery_log);
    g_test_add_func("/nvmet/tls/refusals", test_refusals);
    g_test_add_func("/nvmet/tls/bad-record-alert", test_bad_record_alert);
    g_test_add_func("/nvmet/tls/port-removed-mid-handshake",
                    test_port_removed_mid_handshake);
    g_test_add_func("/nvmet/tls/concat", test_concat);
    g_test_add_func("/nvmet/tls/concat-needs-tls-port",
                    test_concat_needs_tls_port);
    g_test_add_func("/nvmet/tls/concat-legacy", test_concat_legacy);
    g_test_add_func("/nvmet/tls/concat-legacy-success2",
                    test_concat_legacy_success2);
    g_test_add_func("/nvmet/tls/quirk-free-tls-key", test_quirk);
    g_test_add_func("/nvmet/tls/sha384", test_sha384);
    g_test_add_func("/nvmet/tls/secrets-not-traced", test_secrets_not_traced);
    return g_test_run();
}
