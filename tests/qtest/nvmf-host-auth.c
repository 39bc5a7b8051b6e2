/*
 * The test host's side of DH-HMAC-CHAP (see nvmf-host.h).
 *
 * Written separately from the target's engine (nvmet/engine/auth.c,
 * crypto.c) on purpose: it computes the host's view of the exchange the way
 * the Linux 7.x host does, so that the two sides check each other.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#include <string.h>
#include <gmp.h>
#include <gnutls/gnutls.h>
#include <nettle/hmac.h>
#include <nettle/sha2.h>

#include "nvmf-host.h"

/* ---- primitives ------------------------------------------------------------ */

static size_t hlen(uint8_t hid)
{
    return hid == 1 ? 32 : hid == 2 ? 48 : hid == 3 ? 64 : 0;
}

typedef struct Part {
    const void *p;
    size_t n;
} Part;

static void hmac(uint8_t hid, const uint8_t *key, size_t klen,
                 const Part *parts, unsigned n, uint8_t *out)
{
    struct hmac_sha256_ctx c256;
    struct hmac_sha384_ctx c384;
    struct hmac_sha512_ctx c512;

    switch (hid) {
    case 1:
        hmac_sha256_set_key(&c256, klen, key);
        for (unsigned i = 0; i < n; i++) {
            hmac_sha256_update(&c256, parts[i].n, parts[i].p);
        }
        hmac_sha256_digest(&c256, 32, out);
        break;
    case 2:
        hmac_sha384_set_key(&c384, klen, key);
        for (unsigned i = 0; i < n; i++) {
            hmac_sha384_update(&c384, parts[i].n, parts[i].p);
        }
        hmac_sha384_digest(&c384, 48, out);
        break;
    case 3:
        hmac_sha512_set_key(&c512, klen, key);
        for (unsigned i = 0; i < n; i++) {
            hmac_sha512_update(&c512, parts[i].n, parts[i].p);
        }
        hmac_sha512_digest(&c512, 64, out);
        break;
    default:
        g_assert_not_reached();
    }
}

static void hash(uint8_t hid, const uint8_t *data, size_t len, uint8_t *out)
{
    struct sha256_ctx c256;
    struct sha512_ctx c512;

    switch (hid) {
    case 1:
        sha256_init(&c256);
        sha256_update(&c256, len, data);
        sha256_digest(&c256, 32, out);
        break;
    case 2:
        sha384_init(&c512);
        sha384_update(&c512, len, data);
        sha384_digest(&c512, 48, out);
        break;
    case 3:
        sha512_init(&c512);
        sha512_update(&c512, len, data);
        sha512_digest(&c512, 64, out);
        break;
    default:
        g_assert_not_reached();
    }
}

/* zlib's CRC-32 */
uint32_t nvmf_crc32(const uint8_t *p, size_t n)
{
    uint32_t c = 0xffffffffu;

    for (size_t i = 0; i < n; i++) {
        c ^= p[i];
        for (int k = 0; k < 8; k++) {
            c = c & 1 ? (c >> 1) ^ 0xedb88320u : c >> 1;
        }
    }
    return c ^ 0xffffffffu;
}

bool nvmf_dhchap_key_decode(const char *str, uint8_t *secret, size_t *len,
                            uint8_t *transform)
{
    char hh[3] = { 0 };
    const char *b64, *end;
    g_autofree char *tmp = NULL;
    g_autofree guchar *raw = NULL;
    gsize n;

    if (strncmp(str, "DHHC-1:", 7) || strlen(str) < 11 || str[9] != ':') {
        return false;
    }
    memcpy(hh, str + 7, 2);
    *transform = atoi(hh);
    b64 = str + 10;
    end = strrchr(b64, ':');
    if (!end) {
        return false;
    }
    tmp = g_strndup(b64, end - b64);
    raw = g_base64_decode(tmp, &n);
    if (n != 36 && n != 52 && n != 68) {
        return false;
    }
    if (nvmf_crc32(raw, n - 4) != nvmet_ld32(raw + n - 4)) {
        return false;
    }
    memcpy(secret, raw, n - 4);
    *len = n - 4;
    return true;
}

char *nvmf_dhchap_key_encode(const uint8_t *secret, size_t len,
                             uint8_t transform)
{
    uint8_t raw[68];
    g_autofree char *b64 = NULL;

    memcpy(raw, secret, len);
    nvmet_st32(raw + len, nvmf_crc32(secret, len));
    b64 = g_base64_encode(raw, len + 4);
    return g_strdup_printf("DHHC-1:%02u:%s:", transform, b64);
}

/* The key used in responses: the secret, or HMAC(secret, NQN || label). */
static size_t transform_key(const char *secret_str, const char *nqn,
                            uint8_t *out)
{
    uint8_t secret[64], tr;
    size_t len;
    Part parts[2] = { { nqn, strlen(nqn) }, { "NVMe-over-Fabrics", 17 } };

    g_assert_true(nvmf_dhchap_key_decode(secret_str, secret, &len, &tr));
    if (!tr) {
        memcpy(out, secret, len);
        return len;
    }
    hmac(tr, secret, len, parts, 2, out);
    return hlen(tr);
}

/* ---- DH --------------------------------------------------------------------- */

static const gnutls_datum_t *group_prime(uint8_t gid)
{
    switch (gid) {
    case 1: return &gnutls_ffdhe_2048_group_prime;
    case 2: return &gnutls_ffdhe_3072_group_prime;
    case 3: return &gnutls_ffdhe_4096_group_prime;
    case 4: return &gnutls_ffdhe_6144_group_prime;
    case 5: return &gnutls_ffdhe_8192_group_prime;
    default: return NULL;
    }
}

size_t nvmf_dh_len(uint8_t gid)
{
    const gnutls_datum_t *p = group_prime(gid);

    return p ? p->size : 0;
}

static void mpz_out(const mpz_t z, uint8_t *out, size_t len)
{
    size_t n = (mpz_sizeinbase(z, 2) + 7) / 8;

    memset(out, 0, len);
    mpz_export(out + len - n, NULL, 1, 1, 1, 0, z);
}

/*
 * Memo of nvmf_dh_compute() (see nvmf_dh_memo()): the results for the last
 * few (group, x, peer value) triples, compared in full, so a hit returns
 * exactly what the computation would.  Static storage: no allocation that
 * outlives an exchange (the fuzzer's per-input leak check counts them).
 */
#define DH_MEMO_MAX 64
#define DH_MEMO_X   64
#define DH_MEMO_LEN 1024
typedef struct DhMemo {
    uint8_t gid;                /* 0: empty */
    uint8_t xlen;
    uint8_t x[DH_MEMO_X];
    uint8_t peer[DH_MEMO_LEN], pub[DH_MEMO_LEN], shared[DH_MEMO_LEN];
} DhMemo;
static DhMemo dh_memo[DH_MEMO_MAX];
static unsigned dh_memo_size;
static uint64_t dh_memo_hits, dh_memo_misses;

void nvmf_dh_memo(unsigned entries)
{
    dh_memo_size = MIN(entries, DH_MEMO_MAX);
    memset(dh_memo, 0, sizeof(dh_memo));
}

void nvmf_dh_memo_stats(uint64_t *hits, uint64_t *misses)
{
    *hits = dh_memo_hits;
    *misses = dh_memo_misses;
}

static DhMemo *dh_memo_slot(uint8_t gid, const uint8_t *x, size_t xlen,
                            const uint8_t *peer, size_t len)
{
    uint32_t h = gid;

    for (size_t i = 0; i < xlen; i++) {
        h = h * 31 + x[i];
    }
    for (size_t i = 0; i < len; i += 61) {
        h = h * 31 + peer[i];
    }
    return &dh_memo[h % dh_memo_size];
}

static void dh_compute(uint8_t gid, const uint8_t *x, size_t xlen,
                       const uint8_t *peer, uint8_t *pub, uint8_t *shared);

/* g^x mod p with x from @x (big-endian); and, given the peer, Ks. */
void nvmf_dh_compute(uint8_t gid, const uint8_t *x, size_t xlen,
                     const uint8_t *peer, uint8_t *pub, uint8_t *shared)
{
    size_t len = nvmf_dh_len(gid);
    DhMemo *m;

    if (!dh_memo_size || !len || !peer || !pub || !shared ||
        xlen > DH_MEMO_X || len > DH_MEMO_LEN) {
        dh_compute(gid, x, xlen, peer, pub, shared);
        return;
    }
    m = dh_memo_slot(gid, x, xlen, peer, len);
    if (m->gid == gid && m->xlen == xlen && !memcmp(m->x, x, xlen) &&
        !memcmp(m->peer, peer, len)) {
        dh_memo_hits++;
        memcpy(pub, m->pub, len);
        memcpy(shared, m->shared, len);
        return;
    }
    dh_memo_misses++;
    dh_compute(gid, x, xlen, peer, pub, shared);
    m->gid = gid;
    m->xlen = xlen;
    memcpy(m->x, x, xlen);
    memcpy(m->peer, peer, len);
    memcpy(m->pub, pub, len);
    memcpy(m->shared, shared, len);
}

static void dh_compute(uint8_t gid, const uint8_t *x, size_t xlen,
                       const uint8_t *peer, uint8_t *pub, uint8_t *shared)
{
    const gnutls_datum_t *pd = group_prime(gid);
    mpz_t p, g, xx, r, y;

    mpz_inits(p, g, xx, r, y, NULL);
    mpz_import(p, pd->size, 1, 1, 1, 0, pd->data);
    mpz_set_ui(g, 2);
    mpz_import(xx, xlen, 1, 1, 1, 0, x);
    if (pub) {
        mpz_powm(r, g, xx, p);
        mpz_out(r, pub, pd->size);
    }
    if (peer && shared) {
        mpz_import(y, pd->size, 1, 1, 1, 0, peer);
        mpz_powm(r, y, xx, p);
        mpz_out(r, shared, pd->size);
    }
    mpz_clears(p, g, xx, r, y, NULL);
}

/* ---- the exchange ----------------------------------------------------------- */

static int auth_cmd(NvmfHost *h, bool send, void *buf, uint32_t len,
                    NvmfCqe *cqe)
{
    uint8_t sqe[NVME_SQE_SIZE];

    nvmf_sqe_init(sqe, NVME_FABRICS_COMMAND, 0);
    sqe[NVME_SQE_FCTYPE] = send ? NVME_FCTYPE_AUTH_SEND :
                                  NVME_FCTYPE_AUTH_RECV;
    sqe[41] = 1;                /* spsp0 */
    sqe[42] = 1;                /* spsp1 */
    sqe[43] = 0xe9;             /* secp: DH-HMAC-CHAP */
    nvmet_st32(sqe + 44, len);
    return send ? nvmf_host_submit(h, sqe, buf, len, NULL, 0, cqe) :
                  nvmf_host_submit(h, sqe, NULL, 0, buf, len, cqe);
}

int nvmf_host_auth_send(NvmfHost *h, const void *msg, uint32_t len,
                        NvmfCqe *cqe)
{
    return auth_cmd(h, true, (void *)msg, len, cqe);
}

int nvmf_host_auth_recv(NvmfHost *h, void *buf, uint32_t al, NvmfCqe *cqe)
{
    return auth_cmd(h, false, buf, al, cqe);
}

static void rnd(NvmfAuthParams *p, void *buf, size_t len)
{
    uint8_t *b = buf;

    for (size_t i = 0; i < len; i++) {
        b[i] = p->rand ? g_rand_int(p->rand) : g_random_int();
    }
}

#define FAIL(r, why) do { (r)->error = (why); return 0; } while (0)

/*
 * Run one whole exchange as the Linux host does.  Returns -1 on transport
 * errors; otherwise 0 with the outcome in @r (NVMe status of the failing
 * command, FAILURE1 reason, or success).
 */
int nvmf_host_authenticate(NvmfHost *h, NvmfAuthParams *p, NvmfAuthResult *r)
{
    uint8_t buf[4096];
    uint8_t c1[64], c2[64], resp[64], ca[64], skey[64], tk[64];
    uint8_t x[64], pub[1024], shared[1024];
    uint8_t zero = 0, seqb[4], tidb[2];
    uint8_t hid, gid, hl;
    uint16_t dhvlen;
    uint32_t s1, s2;
    size_t tklen, len;
    NvmfCqe cqe;
    bool bidi = p->ctrl_secret && !p->sc_c;

    memset(r, 0, sizeof(*r));

    /* NEGOTIATE */
    memset(buf, 0, 72);
    buf[0] = 0x00;
    buf[1] = 0x00;
    nvmet_st16(buf + 4, p->tid);
    buf[6] = p->sc_c;
    buf[7] = 1;
    buf[8] = 1;                 /* DH-HMAC-CHAP */
    buf[10] = p->nhashes;
    buf[11] = p->ngroups;
    memcpy(buf + 12, p->hashes, p->nhashes);
    memcpy(buf + 12 + 30, p->groups, p->ngroups);
    if (nvmf_host_auth_send(h, buf, 72, &cqe) < 0) {
        return -1;
    }
    if (cqe.status) {
        r->status = cqe.status;
        FAIL(r, "negotiate: NVMe error");
    }

    /* CHALLENGE */
    memset(buf, 0, sizeof(buf));
    if (nvmf_host_auth_recv(h, buf, sizeof(buf), &cqe) < 0) {
        return -1;
    }
    if (cqe.status) {
        r->status = cqe.status;
        FAIL(r, "challenge: NVMe error");
    }
    memcpy(r->challenge, buf, sizeof(r->challenge));
    if (buf[0] == 0x00 && buf[1] == 0xf1) {
        r->failure = buf[7];
        FAIL(r, "failure1 instead of challenge");
    }
    if (buf[0] != 0x01 || buf[1] != 0x01 || nvmet_ld16(buf + 4) != p->tid) {
        FAIL(r, "unexpected message instead of challenge");
    }
    hl = buf[6];
    hid = buf[8];
    gid = buf[9];
    dhvlen = nvmet_ld16(buf + 10);
    s1 = nvmet_ld32(buf + 12);
    if (hlen(hid) != hl || dhvlen != nvmf_dh_len(gid)) {
        FAIL(r, "challenge with inconsistent lengths");
    }
    r->hash = hid;
    r->dhgid = gid;
    memcpy(c1, buf + 16, hl);

    /* DH and session key */
    if (gid) {
        NvmfAuthResult saved = *r;

        rnd(p, x, 48);
        nvmf_dh_compute(gid, x, 48, buf + 16 + hl, pub, shared);
        hash(hid, shared, dhvlen, skey);
        *r = saved;
    }

    /* R1 */
    if (gid) {
        Part pc = { c1, hl };

        hmac(hid, skey, hl, &pc, 1, ca);
    } else {
        memcpy(ca, c1, hl);
    }
    tklen = transform_key(p->host_secret, p->hostnqn, tk);
    nvmet_st32(seqb, s1);
    nvmet_st16(tidb, p->tid);
    {
        uint8_t r1_sc_c = p->legacy_sc_c ? 0 : p->sc_c;
        Part parts[] = {
            { ca, hl }, { seqb, 4 }, { tidb, 2 }, { &r1_sc_c, 1 },
            { "HostHost", 8 }, { p->hostnqn, strlen(p->hostnqn) },
            { &zero, 1 }, { p->subnqn, strlen(p->subnqn) },
        };

        hmac(hid, tk, tklen, parts, G_N_ELEMENTS(parts), resp);
    }
    if (p->corrupt_response) {
        resp[0] ^= 0x55;
    }

    /* REPLY */
    len = 16 + 2 * hl + dhvlen;
    memset(buf, 0, len);
    buf[0] = 0x01;
    buf[1] = 0x02;
    nvmet_st16(buf + 4, p->reply_tid_delta ? p->tid + p->reply_tid_delta :
               p->tid);
    buf[6] = hl;
    memcpy(buf + 16, resp, hl);
    if (p->ctrl_secret || p->sc_c) {
        rnd(p, c2, hl);
        if (p->reflect_c1) {
            memcpy(c2, c1, hl);
        }
        buf[8] = 1;             /* cvalid */
        memcpy(buf + 16 + hl, c2, hl);
    }
    s2 = p->sc_c || p->s2_zero ? 0 : (p->rand ? g_rand_int(p->rand) | 1 :
                                      g_random_int() | 1);
    nvmet_st32(buf + 12, s2);
    nvmet_st16(buf + 10, dhvlen);
    if (gid) {
        memcpy(buf + 16 + 2 * hl, pub, dhvlen);
    }
    if (nvmf_host_auth_send(h, buf, len, &cqe) < 0) {
        return -1;
    }
    if (cqe.status) {
        r->status = cqe.status;
        FAIL(r, "reply: NVMe error");
    }

    /* SUCCESS1 */
    memset(buf, 0, sizeof(buf));
    if (nvmf_host_auth_recv(h, buf, sizeof(buf), &cqe) < 0) {
        return -1;
    }
    if (cqe.status) {
        r->status = cqe.status;
        FAIL(r, "success1: NVMe error");
    }
    if (buf[0] == 0x00 && buf[1] == 0xf1) {
        r->failure = buf[7];
        FAIL(r, "failure1 instead of success1");
    }
    if (buf[0] != 0x01 || buf[1] != 0x03 || nvmet_ld16(buf + 4) != p->tid ||
        buf[6] != hl) {
        FAIL(r, "unexpected message instead of success1");
    }
    r->rvalid = buf[8];
    if (bidi) {
        uint8_t want[64];

        if (!buf[8]) {
            FAIL(r, "success1 without the controller response");
        }
        if (gid) {
            Part pc = { c2, hl };

            hmac(hid, skey, hl, &pc, 1, ca);
        } else {
            memcpy(ca, c2, hl);
        }
        tklen = transform_key(p->ctrl_secret, p->subnqn, tk);
        nvmet_st32(seqb, s2);
        {
            Part parts[] = {
                { ca, hl }, { seqb, 4 }, { tidb, 2 }, { &p->sc_c, 1 },
                { "Controller", 10 }, { p->subnqn, strlen(p->subnqn) },
                { &zero, 1 }, { p->hostnqn, strlen(p->hostnqn) },
            };

            hmac(hid, tk, tklen, parts, G_N_ELEMENTS(parts), want);
        }
        if (memcmp(want, buf + 16, hl)) {
            r->ctrl_mismatch = true;
            /* FAILURE2, as Linux sends it */
            memset(buf, 0, 8);
            buf[1] = 0xf0;
            nvmet_st16(buf + 4, p->tid);
            buf[6] = 1;
            buf[7] = 0x01;
            if (nvmf_host_auth_send(h, buf, 8, &cqe) < 0) {
                return -1;
            }
            FAIL(r, "controller response mismatch");
        }
        r->ctrl_verified = true;
    }

    /*
     * SUCCESS2: the controller's response was verified, or (Linux 6.15 ..
     * 6.17 with a controller key, legacy_success2) even without one
     */
    if (bidi || p->legacy_success2) {
        memset(buf, 0, 16);
        buf[0] = 0x01;
        buf[1] = 0x04;
        nvmet_st16(buf + 4, p->tid);
        if (nvmf_host_auth_send(h, buf, 16, &cqe) < 0) {
            return -1;
        }
        if (cqe.status) {
            r->status = cqe.status;
            FAIL(r, "success2: NVMe error");
        }
    }

    /* generated PSK for concatenation: HMAC(Ks, C1 || C2) */
    if (p->sc_c && gid) {
        Part parts[2] = { { c1, hl }, { c2, hl } };

        hmac(hid, skey, hl, parts, 2, r->psk);
        r->psk_len = hl;
    }
    r->authenticated = true;
    return 0;
}
