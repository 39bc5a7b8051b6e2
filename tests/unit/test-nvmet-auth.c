/*
 * DH-HMAC-CHAP: key format, DH arithmetic, whole exchanges against the test
 * host, every failure reason, per-queue state, re-authentication, key
 * rotation and determinism.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#include <string.h>
#include <gmp.h>
#include <gnutls/gnutls.h>
#include "nvmet-test-util.h"
#include "../../nvmet/engine/crypto.h"

#define HOSTNQN TEST_HOSTNQN

static const uint8_t secret32[32] = {
    0x3d, 0x42, 0x7b, 0x90, 0x11, 0xa2, 0x5e, 0x6f, 0x80, 0x91, 0xa2, 0xb3,
    0xc4, 0xd5, 0xe6, 0xf7, 0x08, 0x19, 0x2a, 0x3b, 0x4c, 0x5d, 0x6e, 0x7f,
    0x80, 0x91, 0xa2, 0xb3, 0xc4, 0xd5, 0xe6, 0xf7,
};
static const uint8_t secret48[48] = {
    0x9a, 0x8b, 0x7c, 0x6d, 0x5e, 0x4f, 0x30, 0x21, 0x12, 0x03, 0xf4, 0xe5,
    0xd6, 0xc7, 0xb8, 0xa9, 0x9a, 0x8b, 0x7c, 0x6d, 0x5e, 0x4f, 0x30, 0x21,
    0x12, 0x03, 0xf4, 0xe5, 0xd6, 0xc7, 0xb8, 0xa9, 0x01, 0x02, 0x03, 0x04,
    0x05, 0x06, 0x07, 0x08, 0x09, 0x0a, 0x0b, 0x0c, 0x0d, 0x0e, 0x0f, 0x10,
};
static const uint8_t secret64[64] = {
    0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77, 0x88, 0x99, 0xaa, 0xbb, 0xcc,
    0xdd, 0xee, 0xff, 0x00, 0x10, 0x20, 0x30, 0x40, 0x50, 0x60, 0x70, 0x80,
    0x90, 0xa0, 0xb0, 0xc0, 0xd0, 0xe0, 0xf0, 0x01, 0x02, 0x03, 0x04, 0x05,
    0x06, 0x07, 0x08, 0x09, 0x0a, 0x0b, 0x0c, 0x0d, 0x0e, 0x0f, 0x1f, 0x2f,
    0x3f, 0x4f, 0x5f, 0x6f, 0x7f, 0x8f, 0x9f, 0xaf, 0xbf, 0xcf, 0xdf, 0xef,
    0xfe, 0xed, 0xdc, 0xcb,
};

/* ---- key format ----------------------------------------------------------- */

static void test_key_parse(void)
{
    g_autofree char *k00 = nvmf_dhchap_key_encode(secret32, 32, 0);
    g_autofree char *k02 = nvmf_dhchap_key_encode(secret48, 48, 2);
    g_autofree char *k03 = nvmf_dhchap_key_encode(secret64, 64, 3);
    NvmetDhchapKey *k;
    GError *err = NULL;
    char *bad;

    k = nvmet_dhchap_key_parse(k00, &err);
    g_assert_no_error(err);
    g_assert_cmpuint(k->len, ==, 32);
    g_assert_cmpuint(k->hmac, ==, 0);
    g_assert_cmpmem(k->secret, 32, secret32, 32);
    nvmet_dhchap_key_free(k);
    k = nvmet_dhchap_key_parse(k02, &err);
    g_assert_no_error(err);
    g_assert_cmpuint(k->len, ==, 48);
    g_assert_cmpuint(k->hmac, ==, 2);
    nvmet_dhchap_key_free(k);
    k = nvmet_dhchap_key_parse(k03, &err);
    g_assert_no_error(err);
    g_assert_cmpuint(k->len, ==, 64);
    nvmet_dhchap_key_free(k);

    /* corrupted CRC */
    bad = g_strdup(k00);
    bad[12] = bad[12] == 'A' ? 'B' : 'A';
    g_assert_null(nvmet_dhchap_key_parse(bad, &err));
    g_assert_nonnull(strstr(err->message, "CRC"));
    g_clear_error(&err);
    g_free(bad);

    g_assert_null(nvmet_dhchap_key_parse("DHHC-2:00:abcd:", &err));
    g_clear_error(&err);
    g_assert_null(nvmet_dhchap_key_parse("DHHC-1:04:abcd:", &err));
    g_assert_nonnull(strstr(err->message, "unknown transformation hash"));
    g_clear_error(&err);
    g_assert_null(nvmet_dhchap_key_parse("DHHC-1:00:QUJDRA==:", &err));
    g_assert_nonnull(strstr(err->message, "32, 48 or 64 bytes"));
    g_clear_error(&err);
    g_assert_null(nvmet_dhchap_key_parse("DHHC-1:00:!!!!:", &err));
    g_clear_error(&err);
    bad = g_strndup(k00, strlen(k00) - 1);      /* no trailing colon */
    g_assert_null(nvmet_dhchap_key_parse(bad, &err));
    g_clear_error(&err);
    g_free(bad);
}

/* ---- DH: the engine and the test host agree ------------------------------- */

static void test_dh_agree(void)
{
    for (uint8_t gid = 1; gid <= 5; gid++) {
        size_t len = nvmet_dh_len(gid);
        size_t xlen = nvmet_dh_private_bytes(gid);
        g_autofree uint8_t *x = g_malloc(xlen);
        g_autofree uint8_t *hpub = g_malloc(len);
        g_autofree uint8_t *hshared = g_malloc(len);
        g_autofree uint8_t *tshared = g_malloc(len);
        uint8_t hx[48];
        NvmetDh *dh;

        g_assert_cmpuint(len, ==, nvmf_dh_len(gid));
        for (size_t i = 0; i < xlen; i++) {
            x[i] = g_test_rand_int();
        }
        for (size_t i = 0; i < sizeof(hx); i++) {
            hx[i] = g_test_rand_int();
        }
        dh = nvmet_dh_new(gid, x, xlen);
        nvmf_dh_compute(gid, hx, sizeof(hx), nvmet_dh_public(dh), hpub,
                        hshared);
        g_assert_true(nvmet_dh_shared(dh, hpub, len, tshared));
        g_assert_cmpmem(tshared, len, hshared, len);

        /* values outside the prime-order subgroup are refused */
        memset(hpub, 0, len);
        g_assert_false(nvmet_dh_shared(dh, hpub, len, tshared));
        hpub[len - 1] = 1;
        g_assert_false(nvmet_dh_shared(dh, hpub, len, tshared));
        g_assert_false(nvmet_dh_shared(dh, hpub, len - 1, tshared));
        memset(hpub, 0xff, len);
        g_assert_false(nvmet_dh_shared(dh, hpub, len, tshared));
        nvmet_dh_free(dh);
    }
}

/* The test host's DH memo (for the fuzzer) returns what it computed. */
static void test_dh_memo(void)
{
    size_t len = nvmf_dh_len(1);
    uint8_t x[48], peer[256], pub[2][256], shared[2][256];
    uint64_t hits, misses, hits0, misses0;

    g_assert_cmpuint(len, ==, sizeof(peer));
    for (size_t i = 0; i < sizeof(x); i++) {
        x[i] = g_test_rand_int();
    }
    /* any value works for the host's computation; 2^k is a group element */
    memset(peer, 0, sizeof(peer));
    peer[100] = 1;
    nvmf_dh_compute(1, x, sizeof(x), peer, pub[0], shared[0]);
    nvmf_dh_memo(8);
    nvmf_dh_memo_stats(&hits0, &misses0);
    for (unsigned round = 0; round < 2; round++) {
        nvmf_dh_compute(1, x, sizeof(x), peer, pub[1], shared[1]);
        g_assert_cmpmem(pub[1], len, pub[0], len);
        g_assert_cmpmem(shared[1], len, shared[0], len);
    }
    nvmf_dh_memo_stats(&hits, &misses);
    g_assert_cmpuint(hits - hits0, ==, 1);
    g_assert_cmpuint(misses - misses0, ==, 1);
    /* another peer value or x: computed, not taken from the memo */
    peer[100] = 2;
    nvmf_dh_compute(1, x, sizeof(x), peer, pub[1], shared[1]);
    g_assert_cmpmem(pub[1], len, pub[0], len);
    g_assert_true(memcmp(shared[1], shared[0], len) != 0);
    x[47] ^= 1;
    nvmf_dh_compute(1, x, sizeof(x), peer, pub[1], shared[1]);
    g_assert_true(memcmp(pub[1], pub[0], len) != 0);
    nvmf_dh_memo_stats(&hits, &misses);
    g_assert_cmpuint(hits - hits0, ==, 1);
    g_assert_cmpuint(misses - misses0, ==, 3);
    nvmf_dh_memo(0);
}

/*
 * Subgroup membership: the engine decides it with the Legendre symbol; the
 * definition is y^q == 1 (mod p).  Both must agree on values inside and
 * outside the subgroup, for every group: g^k and -g^k (a non-residue, as
 * p = 3 mod 4), p - 2 and random values (fewer in the big groups: each
 * exponentiation by q takes long there).
 */
static void test_dh_subgroup(void)
{
    static const gnutls_datum_t *const qs[6] = {
        NULL, &gnutls_ffdhe_2048_group_q, &gnutls_ffdhe_3072_group_q,
        &gnutls_ffdhe_4096_group_q, &gnutls_ffdhe_6144_group_q,
        &gnutls_ffdhe_8192_group_q,
    };
    static const gnutls_datum_t *const ps[6] = {
        NULL, &gnutls_ffdhe_2048_group_prime, &gnutls_ffdhe_3072_group_prime,
        &gnutls_ffdhe_4096_group_prime, &gnutls_ffdhe_6144_group_prime,
        &gnutls_ffdhe_8192_group_prime,
    };

    for (uint8_t gid = 1; gid <= 5; gid++) {
        size_t len = nvmet_dh_len(gid);
        size_t xlen = nvmet_dh_private_bytes(gid);
        g_autofree uint8_t *x = g_malloc0(xlen);
        g_autofree uint8_t *buf = g_malloc(len);
        g_autofree uint8_t *out = g_malloc(len);
        unsigned in = 0, outside = 0, n_values = gid == 1 ? 16 : 4;
        mpz_t p, q, y, r;
        NvmetDh *dh;

        x[xlen - 1] = 7;
        dh = nvmet_dh_new(gid, x, xlen);
        mpz_inits(p, q, y, r, NULL);
        mpz_import(p, ps[gid]->size, 1, 1, 1, 0, ps[gid]->data);
        mpz_import(q, qs[gid]->size, 1, 1, 1, 0, qs[gid]->data);
        for (unsigned i = 0; i < n_values; i++) {
            bool member;
            size_t n;

            switch (i % 4) {
            case 0:                     /* g^k: in the subgroup */
                mpz_set_ui(r, 2);
                mpz_powm_ui(y, r, g_test_rand_int_range(2, 1 << 20), p);
                break;
            case 1:                     /* -g^k: outside */
                mpz_set_ui(r, 2);
                mpz_powm_ui(y, r, g_test_rand_int_range(2, 1 << 20), p);
                mpz_sub(y, p, y);
                break;
            case 2:                     /* p - 2 = -2: outside */
                mpz_sub_ui(y, p, 2 + 2 * (i / 4));
                break;
            default:                    /* random: either */
                for (size_t j = 0; j < len; j++) {
                    buf[j] = g_test_rand_int();
                }
                mpz_import(y, len, 1, 1, 1, 0, buf);
                mpz_mod(y, y, p);
                break;
            }
            mpz_powm(r, y, q, p);
            member = mpz_cmp_ui(r, 1) == 0 && mpz_cmp_ui(y, 1) > 0;
            in += member;
            outside += !member;
            memset(buf, 0, len);
            n = (mpz_sizeinbase(y, 2) + 7) / 8;
            mpz_export(buf + len - n, NULL, 1, 1, 1, 0, y);
            g_assert_cmpint(nvmet_dh_shared(dh, buf, len, out), ==, member);
        }
        g_assert_cmpuint(in, >=, n_values / 4);
        g_assert_cmpuint(outside, >=, n_values / 2);
        mpz_clears(p, q, y, r, NULL);
        nvmet_dh_free(dh);
    }
}

/* ---- fixture: a target whose host must authenticate ------------------------ */

typedef struct AuthFixture {
    TestTarget *tt;
    char *hkey, *ckey;
} AuthFixture;

static AuthFixture *af_new(uint8_t transform, bool bidi)
{
    AuthFixture *f = g_new0(AuthFixture, 1);
    GError *err = NULL;

    f->tt = tt_new();
    f->hkey = nvmf_dhchap_key_encode(secret48, 48, transform);
    f->ckey = bidi ? nvmf_dhchap_key_encode(secret32, 32, transform) : NULL;
    f->tt->host = nvmet_host_new(f->tt->t, HOSTNQN, &err);
    g_assert_no_error(err);
    g_assert_true(nvmet_host_set_dhchap_keys(f->tt->host, f->hkey, f->ckey,
                                             &err));
    g_assert_no_error(err);
    /* the key applies where the host is listed */
    nvmet_subsys_set_allow_any_host(f->tt->subsys, false);
    g_assert_true(nvmet_subsys_add_host(f->tt->subsys, f->tt->host, &err));
    g_assert_no_error(err);
    return f;
}

static void af_free(AuthFixture *f)
{
    tt_free(f->tt);
    g_free(f->hkey);
    g_free(f->ckey);
    g_free(f);
}

static void params_init(NvmfAuthParams *p, AuthFixture *f, uint16_t tid)
{
    static const uint8_t hashes[] = { 1, 2, 3 };
    static const uint8_t groups[] = { 0, 1, 2, 3, 4, 5 };

    memset(p, 0, sizeof(*p));
    p->hostnqn = HOSTNQN;
    p->subnqn = TEST_SUBNQN;
    p->host_secret = f->hkey;
    p->ctrl_secret = f->ckey;
    memcpy(p->hashes, hashes, 3);
    p->nhashes = 3;
    memcpy(p->groups, groups, 6);
    p->ngroups = 6;
    p->tid = tid;
}

/* ICReq + admin Connect; returns the Connect DW0. */
static uint32_t connect_admin(TestConn *tc)
{
    NvmfCqe cqe;

    g_assert_cmpint(nvmf_host_icreq(tc->h, false, false, 0), ==, 0);
    g_assert_cmpint(nvmf_host_connect(tc->h, 0, 31, 0xffff, TEST_SUBNQN,
                                      HOSTNQN, test_hostid, 30000, 0, &cqe),
                    ==, 0);
    g_assert_cmphex(cqe.status, ==, 0);
    tc->cntlid = cqe.dw0 & 0xffff;
    return cqe.dw0;
}

static void auth_ok(TestConn *tc, NvmfAuthParams *p, NvmfAuthResult *r)
{
    g_assert_cmpint(nvmf_host_authenticate(tc->h, p, r), ==, 0);
    if (!r->authenticated) {
        g_error("authentication failed: %s (status 0x%x reason 0x%x)",
                r->error, r->status, r->failure);
    }
}

static void auth_fails(TestConn *tc, NvmfAuthParams *p, uint8_t reason)
{
    NvmfAuthResult r;

    g_assert_cmpint(nvmf_host_authenticate(tc->h, p, &r), ==, 0);
    g_assert_false(r.authenticated);
    g_assert_cmphex(r.failure, ==, reason);
}

/* ---- exchanges ----------------------------------------------------------- */

typedef struct Combo {
    uint8_t hash, group, transform;
    bool bidi;
} Combo;

static void test_exchange(const void *opaque)
{
    const Combo *c = opaque;
    AuthFixture *f = af_new(c->transform, c->bidi);
    TestConn *tc = tc_new(f->tt);
    NvmfAuthParams p;
    NvmfAuthResult r;
    uint8_t id[4096];
    NvmfCqe cqe;

    nvmet_host_set_dhchap_allowed(f->tt->host, 1u << c->hash,
                                  1u << c->group);
    g_assert_cmphex(connect_admin(tc) & NVME_CONNECT_AUTHREQ_ATR, ==,
                    NVME_CONNECT_AUTHREQ_ATR);
    /* nothing but authentication before it */
    g_assert_cmpint(nvmf_host_prop_get(tc->h, NVME_REG_CAP, true, NULL, &cqe),
                    ==, 0);
    g_assert_cmphex(cqe.status, ==, NVME_SC_AUTH_REQUIRED | NVME_STATUS_DNR);
    g_assert_true(tt_trace_has(f->tt, "queue not authenticated"));

    params_init(&p, f, 7);
    auth_ok(tc, &p, &r);
    g_assert_cmpuint(r.hash, ==, c->hash);
    g_assert_cmpuint(r.dhgid, ==, c->group);
    g_assert_cmpint(r.ctrl_verified, ==, c->bidi);
    g_assert_cmpint(r.rvalid, ==, c->bidi);

    g_assert_cmpint(nvmf_host_enable(tc->h), ==, 0);
    g_assert_cmpint(nvmf_host_identify(tc->h, 1, 0, 0, id, &cqe), ==, 0);
    g_assert_cmphex(cqe.status, ==, 0);
    tc_free(tc);
    af_free(f);
}

static void test_default_choice(void)
{
    /* nvmet's defaults: SHA-256 and the NULL group when the host offers them */
    AuthFixture *f = af_new(1, true);
    TestConn *tc = tc_new(f->tt);
    NvmfAuthParams p;
    NvmfAuthResult r;

    connect_admin(tc);
    params_init(&p, f, 1);
    auth_ok(tc, &p, &r);
    g_assert_cmpuint(r.hash, ==, 1);
    g_assert_cmpuint(r.dhgid, ==, 0);
    /* a host that does not offer NULL gets ffdhe2048 */
    params_init(&p, f, 2);
    memmove(p.groups, p.groups + 1, 5);
    p.ngroups = 5;
    auth_ok(tc, &p, &r);
    g_assert_cmpuint(r.dhgid, ==, 1);
    tc_free(tc);
    af_free(f);
}

/* ---- every queue authenticates on its own --------------------------------- */

static TestConn *connect_io(AuthFixture *f, uint16_t qid, uint16_t cntlid,
                            bool expect_atr)
{
    TestConn *tc = tc_new(f->tt);
    NvmfCqe cqe;

    g_assert_cmpint(nvmf_host_icreq(tc->h, false, false, 0), ==, 0);
    g_assert_cmpint(nvmf_host_connect(tc->h, qid, 31, cntlid, TEST_SUBNQN,
                                      HOSTNQN, test_hostid, 0, 0, &cqe), ==, 0);
    g_assert_cmphex(cqe.status, ==, 0);
    g_assert_cmpint(!!(cqe.dw0 & NVME_CONNECT_AUTHREQ_ATR), ==, expect_atr);
    tc->cntlid = cntlid;
    nvmf_host_set_incapsule(tc->h, 8192);
    return tc;
}

static void test_io_queues(void)
{
    AuthFixture *f = af_new(0, true);
    TestConn *admin = tc_new(f->tt), *q1, *q2;
    NvmfAuthParams p;
    NvmfAuthResult r;
    uint8_t data[512] = { 0x5a };
    NvmfCqe cqe;

    connect_admin(admin);
    params_init(&p, f, 1);
    auth_ok(admin, &p, &r);
    g_assert_cmpint(nvmf_host_enable(admin->h), ==, 0);
    g_assert_cmpint(nvmf_host_set_features(admin->h, NVME_FEAT_NUM_QUEUES,
                                           0x00010001, &cqe), ==, 0);

    q1 = connect_io(f, 1, admin->cntlid, true);
    q2 = connect_io(f, 2, admin->cntlid, true);
    /* I/O before authenticating is refused */
    g_assert_cmpint(nvmf_host_rw(q1->h, true, 1, 0, 1, data, 512, &cqe), ==, 0);
    g_assert_cmphex(cqe.status, ==, NVME_SC_AUTH_REQUIRED | NVME_STATUS_DNR);
    g_assert_cmpuint(f->tt->disk1.nr_ops[NVMET_IO_WRITE], ==, 0);

    params_init(&p, f, 2);
    auth_ok(q1, &p, &r);
    g_assert_cmpint(nvmf_host_rw(q1->h, true, 1, 0, 1, data, 512, &cqe), ==, 0);
    g_assert_cmphex(cqe.status, ==, 0);

    /* q2 fails its exchange: only q2 is affected */
    params_init(&p, f, 3);
    p.corrupt_response = true;
    auth_fails(q2, &p, NVME_AUTH_FAIL_FAILED);
    g_assert_cmpint(nvmf_host_rw(q2->h, false, 1, 0, 1, data, 512, &cqe), ==, 0);
    g_assert_cmphex(cqe.status, ==, NVME_SC_AUTH_REQUIRED | NVME_STATUS_DNR);
    g_assert_false(nvmet_queue_wants_close(q2->q));
    g_assert_cmpint(nvmf_host_rw(q1->h, false, 1, 0, 1, data, 512, &cqe), ==, 0);
    g_assert_cmphex(cqe.status, ==, 0);
    g_assert_cmpint(nvmf_host_prop_get(admin->h, NVME_REG_CSTS, false, NULL,
                                       &cqe), ==, 0);
    g_assert_cmphex(cqe.status, ==, 0);
    /* and q2 may try again */
    params_init(&p, f, 4);
    auth_ok(q2, &p, &r);
    g_assert_cmpint(nvmf_host_rw(q2->h, false, 1, 0, 1, data, 512, &cqe), ==, 0);
    g_assert_cmphex(cqe.status, ==, 0);

    tc_free(q1);
    tc_free(q2);
    tc_free(admin);
    af_free(f);
}

static void test_no_key_no_auth(void)
{
    /* a host without a key is not asked to authenticate */
    TestTarget *tt = tt_new();
    TestConn *tc = tc_new(tt);

    g_assert_cmphex(connect_admin(tc) & NVME_CONNECT_AUTHREQ_ATR, ==, 0);
    g_assert_cmpint(nvmf_host_enable(tc->h), ==, 0);
    tc_free(tc);
    tt_free(tt);
}

static void test_any_host_no_auth(void)
{
    /*
     * A host with a key that connects to an allow-any-host subsystem not
     * listing it is not asked to authenticate; listed, it is.
     */
    AuthFixture *f = af_new(1, true);
    TestConn *tc;

    nvmet_subsys_remove_host(f->tt->subsys, f->tt->host);
    nvmet_subsys_set_allow_any_host(f->tt->subsys, true);
    tc = tc_new(f->tt);
    g_assert_cmphex(connect_admin(tc) & NVME_CONNECT_AUTHREQ_ATR, ==, 0);
    g_assert_cmpint(nvmf_host_enable(tc->h), ==, 0);
    tc_free(tc);
    nvmet_subsys_set_allow_any_host(f->tt->subsys, false);
    g_assert_true(nvmet_subsys_add_host(f->tt->subsys, f->tt->host, NULL));
    tc = tc_new(f->tt);
    g_assert_cmphex(connect_admin(tc) & NVME_CONNECT_AUTHREQ_ATR, ==,
                    NVME_CONNECT_AUTHREQ_ATR);
    tc_free(tc);
    af_free(f);
}

static void test_discovery_no_auth(void)
{
    /* like nvmet: the discovery controller does not authenticate hosts */
    AuthFixture *f = af_new(1, true);
    TestConn *tc = tc_new(f->tt);
    NvmfCqe cqe;

    g_assert_cmpint(nvmf_host_icreq(tc->h, false, false, 0), ==, 0);
    g_assert_cmpint(nvmf_host_connect(tc->h, 0, 31, 0xffff,
                                      NVME_DISC_SUBSYS_NAME, HOSTNQN,
                                      test_hostid, 0, 0, &cqe), ==, 0);
    g_assert_cmphex(cqe.status, ==, 0);
    g_assert_cmphex(cqe.dw0 & NVME_CONNECT_AUTHREQ_ATR, ==, 0);
    g_assert_cmpint(nvmf_host_enable(tc->h), ==, 0);
    tc_free(tc);
    af_free(f);
}

/* ---- re-authentication and the state that must survive -------------------- */

static void test_reauth_many(void)
{
    AuthFixture *f = af_new(2, true);
    TestConn *tc = tc_new(f->tt);
    NvmfAuthParams p;
    NvmfAuthResult r;
    uint8_t id[4096];
    NvmfCqe cqe;

    connect_admin(tc);
    params_init(&p, f, 1);
    auth_ok(tc, &p, &r);
    g_assert_cmpint(nvmf_host_enable(tc->h), ==, 0);
    for (int i = 0; i < 20; i++) {
        params_init(&p, f, 100 + i);
        /* alternate groups: each exchange has its own DH pair */
        p.groups[0] = i % 2 ? 1 : 0;
        p.ngroups = 1;
        auth_ok(tc, &p, &r);
        /* the queue stays usable between and after exchanges */
        g_assert_cmpint(nvmf_host_identify(tc->h, 1, 0, 0, id, &cqe), ==, 0);
        g_assert_cmphex(cqe.status, ==, 0);
    }
    g_assert_true(tt_trace_has(f->tt, "(authentication #21)"));
    tc_free(tc);
    af_free(f);
}

static void test_key_rotation(void)
{
    AuthFixture *f = af_new(1, false);
    TestConn *tc = tc_new(f->tt), *tc2;
    g_autofree char *newkey = nvmf_dhchap_key_encode(secret64, 64, 3);
    g_autofree char *oldkey = g_strdup(f->hkey);
    NvmfAuthParams p;
    NvmfAuthResult r;
    GError *err = NULL;
    uint8_t id[4096];
    NvmfCqe cqe;

    connect_admin(tc);
    params_init(&p, f, 1);
    auth_ok(tc, &p, &r);
    g_assert_cmpint(nvmf_host_enable(tc->h), ==, 0);

    g_assert_true(nvmet_host_set_dhchap_keys(f->tt->host, newkey, NULL, &err));
    g_assert_no_error(err);
    /* the authenticated queue stays authenticated */
    g_assert_cmpint(nvmf_host_identify(tc->h, 1, 0, 0, id, &cqe), ==, 0);
    g_assert_cmphex(cqe.status, ==, 0);
    /* re-authentication needs the new key */
    params_init(&p, f, 2);
    auth_fails(tc, &p, NVME_AUTH_FAIL_FAILED);
    params_init(&p, f, 3);
    p.host_secret = newkey;
    auth_ok(tc, &p, &r);

    /* a new connection too */
    tc2 = tc_new(f->tt);
    connect_admin(tc2);
    params_init(&p, f, 1);
    p.host_secret = oldkey;
    auth_fails(tc2, &p, NVME_AUTH_FAIL_FAILED);
    params_init(&p, f, 2);
    p.host_secret = newkey;
    auth_ok(tc2, &p, &r);
    g_assert_true(tt_trace_has(f->tt, "generation 2"));

    /* removing the key: no more ATR */
    g_assert_true(nvmet_host_set_dhchap_keys(f->tt->host, NULL, NULL, &err));
    tc_free(tc2);
    tc2 = tc_new(f->tt);
    g_assert_cmphex(connect_admin(tc2) & NVME_CONNECT_AUTHREQ_ATR, ==, 0);
    tc_free(tc2);
    tc_free(tc);
    af_free(f);
}

/* ---- failures ------------------------------------------------------------ */

static void test_failures(void)
{
    AuthFixture *f = af_new(1, false);
    TestConn *tc = tc_new(f->tt);
    NvmfAuthParams p;
    NvmfCqe cqe;
    uint8_t msg[128], buf[4096];

    connect_admin(tc);

    /* wrong host key */
    params_init(&p, f, 1);
    p.corrupt_response = true;
    auth_fails(tc, &p, NVME_AUTH_FAIL_FAILED);
    g_assert_true(tt_trace_has(f->tt, "host response does not match"));

    /* hashes the host offers are not allowed */
    nvmet_host_set_dhchap_allowed(f->tt->host, 1u << 3, 0);
    params_init(&p, f, 2);
    p.nhashes = 2;
    auth_fails(tc, &p, NVME_AUTH_FAIL_HASH_UNUSABLE);
    g_assert_true(tt_trace_has(f->tt, "no hash function offered"));
    /* nor the groups */
    nvmet_host_set_dhchap_allowed(f->tt->host, 0, 1u << 5);
    params_init(&p, f, 3);
    p.ngroups = 2;
    auth_fails(tc, &p, NVME_AUTH_FAIL_DHGROUP_UNUSABLE);
    g_assert_true(tt_trace_has(f->tt, "no DH group offered"));
    nvmet_host_set_dhchap_allowed(f->tt->host, 0, 0);

    /* wrong transaction ID in the reply */
    params_init(&p, f, 4);
    p.reply_tid_delta = 1;
    auth_fails(tc, &p, NVME_AUTH_FAIL_INCORRECT_PAYLOAD);
    g_assert_true(tt_trace_has(f->tt, "wrong transaction ID"));

    /* reflected challenge */
    g_clear_pointer(&f->ckey, g_free);
    f->ckey = nvmf_dhchap_key_encode(secret32, 32, 1);
    nvmet_host_set_dhchap_keys(f->tt->host, f->hkey, f->ckey, NULL);
    params_init(&p, f, 5);
    p.reflect_c1 = true;
    auth_fails(tc, &p, NVME_AUTH_FAIL_FAILED);
    g_assert_true(tt_trace_has(f->tt, "reflects our challenge"));

    /* sequence number 0 without concatenation */
    params_init(&p, f, 6);
    p.s2_zero = true;
    auth_fails(tc, &p, NVME_AUTH_FAIL_INCORRECT_PAYLOAD);
    g_assert_true(tt_trace_has(f->tt, "sequence number 0"));

    /* bidirectional asked but no controller key configured */
    nvmet_host_set_dhchap_keys(f->tt->host, f->hkey, NULL, NULL);
    params_init(&p, f, 7);
    auth_fails(tc, &p, NVME_AUTH_FAIL_FAILED);
    g_assert_true(tt_trace_has(f->tt, "no controller key is configured"));
    g_clear_pointer(&f->ckey, g_free);

    /* a reply without a negotiate: out of order */
    memset(msg, 0, sizeof(msg));
    msg[0] = 0x01;
    msg[1] = 0x02;
    msg[6] = 32;
    g_assert_cmpint(nvmf_host_auth_send(tc->h, msg, 16 + 64, &cqe), ==, 0);
    g_assert_cmphex(cqe.status, ==, 0);
    g_assert_cmpint(nvmf_host_auth_recv(tc->h, buf, 4096, &cqe), ==, 0);
    g_assert_cmphex(buf[1], ==, 0xf1);
    g_assert_cmphex(buf[7], ==, NVME_AUTH_FAIL_INCORRECT_MESSAGE);
    g_assert_true(tt_trace_has(f->tt, "message out of order"));

    /* an unknown message type */
    msg[0] = 0x42;
    g_assert_cmpint(nvmf_host_auth_send(tc->h, msg, 16, &cqe), ==, 0);
    g_assert_cmpint(nvmf_host_auth_recv(tc->h, buf, 4096, &cqe), ==, 0);
    g_assert_cmphex(buf[7], ==, NVME_AUTH_FAIL_INCORRECT_MESSAGE);

    /* receive with nothing due */
    g_assert_cmpint(nvmf_host_auth_recv(tc->h, buf, 4096, &cqe), ==, 0);
    g_assert_cmphex(buf[1], ==, 0xf1);
    g_assert_cmphex(buf[7], ==, NVME_AUTH_FAIL_FAILED);

    /* negotiate variants */
    memset(msg, 0, sizeof(msg));
    msg[7] = 2;                                 /* napd 2 */
    msg[8] = 1;
    g_assert_cmpint(nvmf_host_auth_send(tc->h, msg, 72, &cqe), ==, 0);
    g_assert_cmpint(nvmf_host_auth_recv(tc->h, buf, 4096, &cqe), ==, 0);
    g_assert_cmphex(buf[7], ==, NVME_AUTH_FAIL_HASH_UNUSABLE);
    msg[7] = 1;
    msg[8] = 2;                                 /* not DH-HMAC-CHAP */
    g_assert_cmpint(nvmf_host_auth_send(tc->h, msg, 72, &cqe), ==, 0);
    g_assert_cmpint(nvmf_host_auth_recv(tc->h, buf, 4096, &cqe), ==, 0);
    g_assert_cmphex(buf[7], ==, NVME_AUTH_FAIL_INCORRECT_PAYLOAD);
    msg[8] = 1;
    msg[10] = 31;                               /* halen > 30 */
    g_assert_cmpint(nvmf_host_auth_send(tc->h, msg, 72, &cqe), ==, 0);
    g_assert_cmpint(nvmf_host_auth_recv(tc->h, buf, 4096, &cqe), ==, 0);
    g_assert_cmphex(buf[7], ==, NVME_AUTH_FAIL_INCORRECT_PAYLOAD);
    g_assert_cmpint(nvmf_host_auth_send(tc->h, msg, 40, &cqe), ==, 0);
    g_assert_cmpint(nvmf_host_auth_recv(tc->h, buf, 4096, &cqe), ==, 0);
    g_assert_cmphex(buf[7], ==, NVME_AUTH_FAIL_INCORRECT_PAYLOAD);
    g_assert_true(tt_trace_has(f->tt, "negotiate shorter"));

    /* secure channel concatenation where TLS is impossible */
    msg[10] = 1;
    msg[12] = 1;
    msg[11] = 1;
    msg[42] = 1;
    msg[6] = NVME_AUTH_SECP_NEWTLSPSK;
    g_assert_cmpint(nvmf_host_auth_send(tc->h, msg, 72, &cqe), ==, 0);
    g_assert_cmpint(nvmf_host_auth_recv(tc->h, buf, 4096, &cqe), ==, 0);
    g_assert_cmphex(buf[7], ==, NVME_AUTH_FAIL_CONCAT_MISMATCH);
    msg[6] = 0x07;
    g_assert_cmpint(nvmf_host_auth_send(tc->h, msg, 72, &cqe), ==, 0);
    g_assert_cmpint(nvmf_host_auth_recv(tc->h, buf, 4096, &cqe), ==, 0);
    g_assert_cmphex(buf[7], ==, NVME_AUTH_FAIL_CONCAT_MISMATCH);

    /* after all that, a correct exchange works on the same queue */
    {
        NvmfAuthResult r;

        params_init(&p, f, 9);
        auth_ok(tc, &p, &r);
    }
    tc_free(tc);
    af_free(f);
}

static void test_command_errors(void)
{
    AuthFixture *f = af_new(0, false);
    TestConn *tc = tc_new(f->tt);
    uint8_t sqe[64], msg[72] = { 0 }, buf[4096];
    NvmfCqe cqe;

    connect_admin(tc);
    /* wrong security protocol */
    nvmf_sqe_init(sqe, NVME_FABRICS_COMMAND, 0);
    sqe[NVME_SQE_FCTYPE] = NVME_FCTYPE_AUTH_SEND;
    sqe[41] = 1;
    sqe[42] = 1;
    sqe[43] = 0xea;
    nvmet_st32(sqe + 44, 72);
    g_assert_cmpint(nvmf_host_submit(tc->h, sqe, msg, 72, NULL, 0, &cqe), ==,
                    0);
    g_assert_cmphex(cqe.status, ==, NVME_SC_INVALID_FIELD | NVME_STATUS_DNR);
    /* wrong SPSP */
    sqe[43] = 0xe9;
    sqe[42] = 2;
    g_assert_cmpint(nvmf_host_submit(tc->h, sqe, msg, 72, NULL, 0, &cqe), ==,
                    0);
    g_assert_cmphex(cqe.status, ==, NVME_SC_INVALID_FIELD | NVME_STATUS_DNR);
    /* TL 0 */
    sqe[42] = 1;
    nvmet_st32(sqe + 44, 0);
    g_assert_cmpint(nvmf_host_submit(tc->h, sqe, msg, 72, NULL, 0, &cqe), ==,
                    0);
    g_assert_cmphex(cqe.status, ==, NVME_SC_INVALID_FIELD | NVME_STATUS_DNR);
    /* TL disagrees with the data */
    nvmet_st32(sqe + 44, 64);
    g_assert_cmpint(nvmf_host_submit(tc->h, sqe, msg, 72, NULL, 0, &cqe), ==,
                    0);
    g_assert_cmphex(cqe.status, ==, NVME_SC_SGL_INVALID_DATA | NVME_STATUS_DNR);
    /* a receive buffer too small for a challenge */
    msg[7] = 1;
    msg[8] = 1;
    msg[10] = 1;
    msg[11] = 1;
    msg[12] = 1;
    msg[42] = 0;
    g_assert_cmpint(nvmf_host_auth_send(tc->h, msg, 72, &cqe), ==, 0);
    g_assert_cmpint(nvmf_host_auth_recv(tc->h, buf, 32, &cqe), ==, 0);
    g_assert_cmphex(cqe.status, ==, NVME_SC_INVALID_FIELD | NVME_STATUS_DNR);
    g_assert_true(tt_trace_has(f->tt, "too small for the message"));
    /* the challenge is still due */
    g_assert_cmpint(nvmf_host_auth_recv(tc->h, buf, 4096, &cqe), ==, 0);
    g_assert_cmphex(cqe.status, ==, 0);
    g_assert_cmphex(buf[1], ==, 0x01);
    tc_free(tc);
    af_free(f);
}

/* AUTH_Negotiate (SHA-256, group @dhgid) and the challenge that answers it */
static void negotiate_challenge(TestConn *tc, uint16_t tid, uint8_t dhgid)
{
    uint8_t msg[72] = { 0 }, buf[4096];
    NvmfCqe cqe;

    msg[7] = 1;
    msg[8] = 1;
    msg[10] = 1;
    msg[11] = 1;
    msg[12] = 1;
    msg[42] = dhgid;
    nvmet_st16(msg + 4, tid);
    g_assert_cmpint(nvmf_host_auth_send(tc->h, msg, 72, &cqe), ==, 0);
    g_assert_cmphex(cqe.status, ==, 0);
    g_assert_cmpint(nvmf_host_auth_recv(tc->h, buf, 4096, &cqe), ==, 0);
    g_assert_cmphex(cqe.status, ==, 0);
    g_assert_cmphex(buf[1], ==, 0x01);
}

/* ICReq + admin Connect without KATO: only the auth timeout can end it */
static void connect_admin_no_kato(TestConn *tc)
{
    NvmfCqe cqe;

    g_assert_cmpint(nvmf_host_icreq(tc->h, false, false, 0), ==, 0);
    g_assert_cmpint(nvmf_host_connect(tc->h, 0, 31, 0xffff, TEST_SUBNQN,
                                      HOSTNQN, test_hostid, 0, 0, &cqe),
                    ==, 0);
    g_assert_cmphex(cqe.status, ==, 0);
    g_assert_true(cqe.dw0 & NVME_CONNECT_AUTHREQ_ATR);
}

/*
 * A queue that must authenticate and stops in the middle of the exchange:
 * after the (default 120 s) timeout the exchange is dropped and the queue
 * closed, since it could do nothing else.
 */
static void test_timeout_stalled(void)
{
    AuthFixture *f = af_new(0, false);
    TestConn *tc = tc_new(f->tt);

    connect_admin_no_kato(tc);
    negotiate_challenge(tc, 3, 0);
    /* the host never replies */
    g_assert_cmpint(f->tt->deadline, <=, f->tt->now + 120000);
    tt_advance(f->tt, 119000);
    g_assert_false(tt_trace_has(f->tt, "timed out"));
    g_assert_false(nvmet_queue_wants_close(tc->q));
    tt_advance(f->tt, 1001);
    g_assert_true(tt_trace_has(f->tt, "tid 3 timed out after 120000 ms "
                               "(step: waiting for reply)"));
    g_assert_true(tt_trace_has(f->tt, "not authenticated within 120000 ms"));
    g_assert_true(nvmet_queue_wants_close(tc->q));
    /* nothing is left armed for it */
    g_assert_cmpint(nvmet_target_next_deadline(f->tt->t), ==, INT64_MAX);
    tc_free(tc);
    af_free(f);
}

/*
 * nvmet_host_set_dhchap_timeout(): a queue that never starts to
 * authenticate is closed when it expires, counted from its Connect; every
 * message of the host restarts it, a failed exchange too.
 */
static void test_timeout_property(void)
{
    AuthFixture *f = af_new(0, false);
    TestConn *tc = tc_new(f->tt), *ok;
    uint8_t msg[80] = { 0 }, buf[64];
    NvmfAuthParams p;
    NvmfAuthResult r;
    NvmfCqe cqe;

    nvmet_host_set_dhchap_timeout(f->tt->host, 2000);
    connect_admin_no_kato(tc);
    g_assert_cmpint(f->tt->deadline, ==, f->tt->now + 2000);
    tt_advance(f->tt, 1999);
    g_assert_false(nvmet_queue_wants_close(tc->q));
    tt_advance(f->tt, 1);
    g_assert_true(nvmet_queue_wants_close(tc->q));
    g_assert_true(tt_trace_has(f->tt, "not authenticated within 2000 ms "
                               "(0 failed attempts): closing the queue"));
    /* the exchange had not started: no transaction timed out */
    g_assert_false(tt_trace_has(f->tt, "timed out"));
    tc_free(tc);
    tt_trace_clear(f->tt);

    /* messages restart it; a failed exchange leaves the queue on the clock */
    tc = tc_new(f->tt);
    connect_admin_no_kato(tc);
    tt_advance(f->tt, 1500);
    negotiate_challenge(tc, 4, 0);
    tt_advance(f->tt, 1500);
    g_assert_false(nvmet_queue_wants_close(tc->q));
    msg[0] = 0x01;                              /* a reply for tid 5 */
    msg[1] = 0x02;
    nvmet_st16(msg + 4, 5);
    msg[6] = 32;
    g_assert_cmpint(nvmf_host_auth_send(tc->h, msg, 16 + 64, &cqe), ==, 0);
    g_assert_cmpint(nvmf_host_auth_recv(tc->h, buf, sizeof(buf), &cqe), ==,
                    0);
    g_assert_cmphex(buf[1], ==, 0xf1);
    g_assert_cmphex(buf[7], ==, NVME_AUTH_FAIL_INCORRECT_PAYLOAD);
    tt_advance(f->tt, 1999);
    g_assert_false(nvmet_queue_wants_close(tc->q));
    tt_advance(f->tt, 1);
    g_assert_true(nvmet_queue_wants_close(tc->q));
    g_assert_true(tt_trace_has(f->tt, "(1 failed attempts)"));
    tc_free(tc);

    /* a queue that authenticated in time stays, without a deadline */
    ok = tc_new(f->tt);
    connect_admin_no_kato(ok);
    params_init(&p, f, 6);
    auth_ok(ok, &p, &r);
    g_assert_cmpint(nvmet_target_next_deadline(f->tt->t), ==, INT64_MAX);
    tt_advance(f->tt, 600000);
    g_assert_false(nvmet_queue_wants_close(ok->q));
    tc_free(ok);
    af_free(f);
}

/*
 * Re-authentication of an authenticated queue that stalls: the exchange
 * is dropped (as nvmet does), the queue stays authenticated and usable.
 */
static void test_timeout_reauth(void)
{
    AuthFixture *f = af_new(0, false);
    TestConn *tc = tc_new(f->tt);
    uint8_t msg[80] = { 0 }, buf[4096];
    NvmfAuthParams p;
    NvmfAuthResult r;
    NvmfCqe cqe;

    connect_admin_no_kato(tc);
    params_init(&p, f, 1);
    auth_ok(tc, &p, &r);
    g_assert_cmpint(nvmf_host_enable(tc->h), ==, 0);
    negotiate_challenge(tc, 3, 0);
    tt_advance(f->tt, 120001);
    g_assert_true(tt_trace_has(f->tt, "timed out after 120000 ms"));
    g_assert_false(tt_trace_has(f->tt, "not authenticated within"));
    g_assert_false(nvmet_queue_wants_close(tc->q));
    g_assert_cmpint(nvmf_host_prop_get(tc->h, NVME_REG_CSTS, false, NULL,
                                       &cqe), ==, 0);
    g_assert_cmphex(cqe.status, ==, 0);
    /* the late reply finds no transaction */
    msg[0] = 0x01;
    msg[1] = 0x02;
    nvmet_st16(msg + 4, 3);
    msg[6] = 32;
    g_assert_cmpint(nvmf_host_auth_send(tc->h, msg, 16 + 64, &cqe), ==, 0);
    g_assert_cmpint(nvmf_host_auth_recv(tc->h, buf, 4096, &cqe), ==, 0);
    g_assert_cmphex(buf[7], ==, NVME_AUTH_FAIL_INCORRECT_MESSAGE);
    /* a fresh exchange works */
    params_init(&p, f, 4);
    auth_ok(tc, &p, &r);
    tc_free(tc);
    af_free(f);
}

/*
 * A host busy computing its DH value cannot send Keep Alive: the keep-alive
 * timer waits while a transaction is open, the authentication timeout ends
 * the wait, and after that KATO applies again.
 */
static void test_kato_during_auth(void)
{
    AuthFixture *f = af_new(0, false);
    TestConn *tc = tc_new(f->tt);
    NvmfAuthParams p;
    NvmfAuthResult r;

    connect_admin(tc);
    params_init(&p, f, 1);
    auth_ok(tc, &p, &r);
    g_assert_cmpint(nvmf_host_enable(tc->h), ==, 0);
    /* re-authentication with ffdhe8192, and the host goes quiet */
    negotiate_challenge(tc, 2, 5);
    for (int i = 0; i < 20; i++) {
        tt_advance(f->tt, 5000);
    }
    g_assert_true(tt_trace_has(f->tt, "keep-alive timer restarted"));
    g_assert_false(tt_trace_has(f->tt, "no keep-alive within"));
    g_assert_false(nvmet_queue_wants_close(tc->q));
    tt_advance(f->tt, 20001);
    g_assert_true(tt_trace_has(f->tt, "timed out after 120000 ms"));
    g_assert_false(tt_trace_has(f->tt, "no keep-alive within"));
    g_assert_false(nvmet_queue_wants_close(tc->q));
    tt_advance(f->tt, 30001);
    g_assert_true(tt_trace_has(f->tt, "no keep-alive within 30000 ms"));
    g_assert_true(nvmet_queue_wants_close(tc->q));
    tc_free(tc);
    af_free(f);
}

/*
 * An unauthenticated queue cannot make the target ask for data: a Write
 * without in-capsule data is refused at once, with no R2T, and takes no
 * buffer; in-capsule data is refused the same way.
 */
static void test_no_r2t_before_auth(void)
{
    AuthFixture *f = af_new(0, false);
    TestConn *a = tc_new(f->tt), *io = tc_new(f->tt);
    g_autofree uint8_t *data = g_malloc0(256 * 1024);
    g_auto(NvmfPdu) pdu = { 0 };
    NvmfAuthParams p;
    NvmfAuthResult r;
    uint8_t sqe[64];
    NvmfCqe cqe;
    int cid;

    connect_admin(a);
    params_init(&p, f, 1);
    auth_ok(a, &p, &r);
    g_assert_cmpint(nvmf_host_enable(a->h), ==, 0);
    g_assert_cmpint(nvmf_host_set_features(a->h, NVME_FEAT_NUM_QUEUES,
                                           0x00010001, &cqe), ==, 0);
    tc_io(io, 1, a->cntlid, TEST_SUBNQN, HOSTNQN, false, false);
    tt_trace_clear(f->tt);

    /* 256 KiB Write, data by R2T: the answer is the refusal, not an R2T */
    nvmf_sqe_init(sqe, NVME_CMD_WRITE, 1);
    nvmet_st32(sqe + NVME_SQE_CDW12, 256 * 1024 / 512 - 1);
    nvmf_host_set_incapsule(io->h, 0);
    cid = nvmf_host_send_cmd(io->h, sqe, data, 256 * 1024, NULL, 0);
    g_assert_cmpint(cid, >, 0);
    g_assert_cmpint(nvmf_host_recv_pdu(io->h, &pdu), ==, 0);
    g_assert_cmpint(pdu.type, ==, NVME_TCP_PDU_RSP);
    g_assert_cmphex(nvmet_ld16(pdu.hdr + NVME_TCP_RSP_CQE + NVME_CQE_CID), ==,
                    cid);
    g_assert_cmphex(nvmet_ld16(pdu.hdr + NVME_TCP_RSP_CQE +
                               NVME_CQE_STATUS) >> 1, ==,
                    NVME_SC_AUTH_REQUIRED | NVME_STATUS_DNR);
    g_assert_false(tt_trace_has(f->tt, "R2T"));
    g_assert_true(tt_trace_has(f->tt, "refused before any data transfer "
                               "(262144 bytes): queue not authenticated"));
    /* a Read gets no data either, and in-capsule data is refused too */
    g_assert_cmpint(nvmf_host_rw(io->h, false, 1, 0, 8, data, 4096, &cqe),
                    ==, 0);
    g_assert_cmphex(cqe.status, ==, NVME_SC_AUTH_REQUIRED | NVME_STATUS_DNR);
    nvmf_host_set_incapsule(io->h, 16384);
    g_assert_cmpint(nvmf_host_rw(io->h, true, 1, 0, 8, data, 4096, &cqe),
                    ==, 0);
    g_assert_cmphex(cqe.status, ==, NVME_SC_AUTH_REQUIRED | NVME_STATUS_DNR);
    g_assert_false(tt_trace_has(f->tt, "R2T"));
    g_assert_false(tt_trace_has(f->tt, "C2HData"));

    /* once authenticated, the same Write gets its R2T */
    params_init(&p, f, 2);
    auth_ok(io, &p, &r);
    nvmf_host_set_incapsule(io->h, 0);
    g_assert_cmpint(nvmf_host_rw(io->h, true, 1, 0, 512, data, 256 * 1024,
                                 &cqe), ==, 0);
    g_assert_cmphex(cqe.status, ==, 0);
    g_assert_true(tt_trace_has(f->tt, "R2T"));
    tc_free(io);
    tc_free(a);
    af_free(f);
}

/* ---- determinism -------------------------------------------------------- */

/* Two hosts, interleaved in the given order; returns their challenges. */
static void seeded_run(uint64_t seed, bool swap, uint8_t out[2][16 + 48 + 256])
{
    AuthFixture *f = af_new(1, false);
    GError *err = NULL;
    NvmetHost *h2 = nvmet_host_new(f->tt->t, TEST_HOSTNQN2, &err);
    TestConn *tc[2];
    uint8_t s[8];
    uint8_t msg[72] = { 0 };
    NvmfCqe cqe;

    nvmet_host_set_dhchap_keys(h2, f->hkey, NULL, &err);
    g_assert_true(nvmet_subsys_add_host(f->tt->subsys, h2, &err));
    nvmet_st64(s, seed);
    nvmet_subsys_set_seed(f->tt->subsys, s, 8);
    for (int i = 0; i < 2; i++) {
        tc[i] = tc_new(f->tt);
        g_assert_cmpint(nvmf_host_icreq(tc[i]->h, false, false, 0), ==, 0);
    }
    for (int k = 0; k < 2; k++) {
        int i = swap ? 1 - k : k;
        const char *nqn = i ? TEST_HOSTNQN2 : HOSTNQN;

        g_assert_cmpint(nvmf_host_connect(tc[i]->h, 0, 31, 0xffff,
                                          TEST_SUBNQN, nqn, test_hostid,
                                          0, 0, &cqe), ==, 0);
        g_assert_cmphex(cqe.status, ==, 0);
        g_assert_true(cqe.dw0 & NVME_CONNECT_AUTHREQ_ATR);
    }
    msg[7] = 1;
    msg[8] = 1;
    msg[10] = 1;
    msg[11] = 1;
    msg[12] = 2;                            /* sha384 */
    msg[42] = 2;                            /* ffdhe3072 */
    for (int k = 0; k < 2; k++) {
        int i = swap ? 1 - k : k;

        g_assert_cmpint(nvmf_host_auth_send(tc[i]->h, msg, 72, &cqe), ==, 0);
    }
    for (int k = 0; k < 2; k++) {
        int i = swap ? 1 - k : k;
        uint8_t buf[4096];

        g_assert_cmpint(nvmf_host_auth_recv(tc[i]->h, buf, 4096, &cqe), ==, 0);
        g_assert_cmphex(buf[1], ==, 0x01);
        g_assert_cmpuint(nvmet_ld16(buf + 10), ==, 384);
        memcpy(out[i], buf, 16 + 48 + 256);
    }
    for (int i = 0; i < 2; i++) {
        tc_free(tc[i]);
    }
    nvmet_host_free(h2);
    af_free(f);
}

static void test_determinism(void)
{
    static uint8_t a[2][16 + 48 + 256], b[2][16 + 48 + 256];
    static uint8_t c[2][16 + 48 + 256];

    seeded_run(42, false, a);
    seeded_run(42, true, b);
    /* same seed: the same challenge, C1, S1 and DH value per host, whatever
     * the order in which the hosts came */
    g_assert_cmpmem(a[0], sizeof(a[0]), b[0], sizeof(b[0]));
    g_assert_cmpmem(a[1], sizeof(a[1]), b[1], sizeof(b[1]));
    g_assert_true(memcmp(a[0], a[1], sizeof(a[0])) != 0);
    seeded_run(43, false, c);
    g_assert_true(memcmp(a[0] + 12, c[0] + 12, 4 + 48) != 0);
}

int main(int argc, char **argv)
{
    static Combo combos[3 * 6 * 2];
    int n = 0;

    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/nvmet/auth/key-parse", test_key_parse);
    g_test_add_func("/nvmet/auth/dh-agree", test_dh_agree);
    g_test_add_func("/nvmet/auth/dh-subgroup", test_dh_subgroup);
    g_test_add_func("/nvmet/auth/dh-memo", test_dh_memo);
    for (uint8_t h = 1; h <= 3; h++) {
        for (uint8_t g = 0; g <= 5; g++) {
            for (int bidi = 0; bidi < 2; bidi++) {
                Combo *c = &combos[n++];
                g_autofree char *path = NULL;

                c->hash = h;
                c->group = g;
                c->bidi = bidi;
                c->transform = (h + g) % 4;
                path = g_strdup_printf("/nvmet/auth/exchange/%s/%s/%s",
                                       nvmet_hash_name(h), nvmet_dh_name(g),
                                       bidi ? "bidi" : "uni");
                g_test_add_data_func(path, c, test_exchange);
            }
        }
    }
    g_test_add_func("/nvmet/auth/default-choice", test_default_choice);
    g_test_add_func("/nvmet/auth/io-queues", test_io_queues);
    g_test_add_func("/nvmet/auth/no-key-no-auth", test_no_key_no_auth);
    g_test_add_func("/nvmet/auth/discovery-no-auth", test_discovery_no_auth);
    g_test_add_func("/nvmet/auth/any-host-no-auth", test_any_host_no_auth);
    g_test_add_func("/nvmet/auth/reauth-many", test_reauth_many);
    g_test_add_func("/nvmet/auth/key-rotation", test_key_rotation);
    g_test_add_func("/nvmet/auth/failures", test_failures);
    g_test_add_func("/nvmet/auth/command-errors", test_command_errors);
    g_test_add_func("/nvmet/auth/timeout/stalled", test_timeout_stalled);
    g_test_add_func("/nvmet/auth/timeout/property", test_timeout_property);
    g_test_add_func("/nvmet/auth/timeout/reauth", test_timeout_reauth);
    g_test_add_func("/nvmet/auth/no-r2t-before-auth", test_no_r2t_before_auth);
    g_test_add_func("/nvmet/auth/kato-during-auth", test_kato_during_auth);
    g_test_add_func("/nvmet/auth/determinism", test_determinism);
    return g_test_run();
}
