/*
 * NVMe-oF TCP target engine: cryptographic building blocks for in-band
 * authentication and TLS PSKs, on top of nettle (SHA-2, HMAC, HKDF), GMP
 * (modular exponentiation) and GnuTLS's RFC 7919 FFDHE group parameters.
 *
 * Nothing here keeps state between calls or draws randomness by itself:
 * random bytes come from the caller.  Every buffer that held key material
 * is wiped before it is freed.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#include "qemu/osdep.h"

#include <gmp.h>
#include <gnutls/gnutls.h>
#include <nettle/hmac.h>
#include <nettle/memops.h>
#include <nettle/sha2.h>

#include "nvmet/engine.h"
#include "nvmet/proto.h"
#include "crypto.h"

/* ---- memory -------------------------------------------------------------- */

/*
 * GMP allocates temporaries for modular exponentiation behind our back;
 * route its allocations through functions that wipe memory before it is
 * released, so DH private values and shared secrets do not linger.
 */
static void *gmp_alloc_wipe(size_t n)
{
    void *p = malloc(n);

    if (!p) {
        abort();
    }
    return p;
}

static void gmp_free_wipe(void *p, size_t n)
{
    if (p) {
        gnutls_memset(p, 0, n);
        free(p);
    }
}

static void *gmp_realloc_wipe(void *old, size_t old_n, size_t new_n)
{
    void *p = gmp_alloc_wipe(new_n);

    memcpy(p, old, MIN(old_n, new_n));
    gmp_free_wipe(old, old_n);
    return p;
}

void nvmet_crypto_init(void)
{
    static bool done;

    if (!done) {
        mp_set_memory_functions(gmp_alloc_wipe, gmp_realloc_wipe,
                                gmp_free_wipe);
        done = true;
    }
}

static void mpz_wipe_clear(mpz_t z)
{
    gnutls_memset(z->_mp_d, 0, z->_mp_alloc * sizeof(mp_limb_t));
    mpz_clear(z);
}

void nvmet_memzero(void *p, size_t len)
{
    if (p && len) {
        gnutls_memset(p, 0, len);
    }
}

void nvmet_free_secret(void *p, size_t len)
{
    if (p) {
        nvmet_memzero(p, len);
        g_free(p);
    }
}

bool nvmet_memeq_ct(const void *a, const void *b, size_t len)
{
    return memeql_sec(a, b, len);
}

/* ---- hashes -------------------------------------------------------------- */

size_t nvmet_hash_len(uint8_t hid)
{
    switch (hid) {
    case NVMET_HASH_SHA256: return SHA256_DIGEST_SIZE;
    case NVMET_HASH_SHA384: return SHA384_DIGEST_SIZE;
    case NVMET_HASH_SHA512: return SHA512_DIGEST_SIZE;
    default: return 0;
    }
}

const char *nvmet_hash_name(uint8_t hid)
{
    switch (hid) {
    case NVMET_HASH_SHA256: return "sha256";
    case NVMET_HASH_SHA384: return "sha384";
    case NVMET_HASH_SHA512: return "sha512";
    default: return "none";
    }
}

bool nvmet_hash(uint8_t hid, const NvmetBuf *parts, unsigned n, uint8_t *out)
{
    union {
        struct sha256_ctx s256;
        struct sha384_ctx s384;
        struct sha512_ctx s512;
    } ctx;

    switch (hid) {
    case NVMET_HASH_SHA256:
        sha256_init(&ctx.s256);
        for (unsigned i = 0; i < n; i++) {
            sha256_update(&ctx.s256, parts[i].len, parts[i].data);
        }
        sha256_digest(&ctx.s256, SHA256_DIGEST_SIZE, out);
        break;
    case NVMET_HASH_SHA384:
        sha384_init(&ctx.s384);
        for (unsigned i = 0; i < n; i++) {
            sha384_update(&ctx.s384, parts[i].len, parts[i].data);
        }
        sha384_digest(&ctx.s384, SHA384_DIGEST_SIZE, out);
        break;
    case NVMET_HASH_SHA512:
        sha512_init(&ctx.s512);
        for (unsigned i = 0; i < n; i++) {
            sha512_update(&ctx.s512, parts[i].len, parts[i].data);
        }
        sha512_digest(&ctx.s512, SHA512_DIGEST_SIZE, out);
        break;
    default:
        return false;
    }
    nvmet_memzero(&ctx, sizeof(ctx));
    return true;
}

bool nvmet_hmac(uint8_t hid, const uint8_t *key, size_t klen,
                const NvmetBuf *parts, unsigned n, uint8_t *out)
{
    union {
        struct hmac_sha256_ctx s256;
        struct hmac_sha384_ctx s384;
        struct hmac_sha512_ctx s512;
    } ctx;

    switch (hid) {
    case NVMET_HASH_SHA256:
        hmac_sha256_set_key(&ctx.s256, klen, key);
        for (unsigned i = 0; i < n; i++) {
            hmac_sha256_update(&ctx.s256, parts[i].len, parts[i].data);
        }
        hmac_sha256_digest(&ctx.s256, SHA256_DIGEST_SIZE, out);
        break;
    case NVMET_HASH_SHA384:
        hmac_sha384_set_key(&ctx.s384, klen, key);
        for (unsigned i = 0; i < n; i++) {
            hmac_sha384_update(&ctx.s384, parts[i].len, parts[i].data);
        }
        hmac_sha384_digest(&ctx.s384, SHA384_DIGEST_SIZE, out);
        break;
    case NVMET_HASH_SHA512:
        hmac_sha512_set_key(&ctx.s512, klen, key);
        for (unsigned i = 0; i < n; i++) {
            hmac_sha512_update(&ctx.s512, parts[i].len, parts[i].data);
        }
        hmac_sha512_digest(&ctx.s512, SHA512_DIGEST_SIZE, out);
        break;
    default:
        return false;
    }
    nvmet_memzero(&ctx, sizeof(ctx));
    return true;
}

/*
 * TLS 1.3 HKDF-Expand-Label (RFC 8446 7.1) with the "tls13 " prefix, for an
 * output no longer than one hash block (all NVMe uses need exactly that):
 * T(1) = HMAC(PRK, HkdfLabel || 0x01).
 */
bool nvmet_hkdf_expand_label(uint8_t hid, const uint8_t *prk, size_t prk_len,
                             const char *label, const void *ctx,
                             size_t ctx_len, uint8_t *out, size_t out_len)
{
    size_t hlen = nvmet_hash_len(hid);
    size_t llen = strlen(label);
    uint8_t hdr[2 + 1 + 6 + 255 + 1];
    uint8_t t[NVMET_MAX_HASH_LEN];
    uint8_t one = 1, clen = ctx_len;
    NvmetBuf parts[3];
    size_t h = 0;

    if (!hlen || out_len > hlen || llen + 6 > 255 || ctx_len > 255) {
        return false;
    }
    nvmet_st16be(hdr, out_len);
    h = 2;
    hdr[h++] = 6 + llen;
    memcpy(hdr + h, "tls13 ", 6);
    h += 6;
    memcpy(hdr + h, label, llen);
    h += llen;
    hdr[h++] = clen;
    parts[0] = (NvmetBuf) { hdr, h };
    parts[1] = (NvmetBuf) { ctx, ctx_len };
    parts[2] = (NvmetBuf) { &one, 1 };
    if (!nvmet_hmac(hid, prk, prk_len, parts, 3, t)) {
        return false;
    }
    memcpy(out, t, out_len);
    nvmet_memzero(t, sizeof(t));
    return true;
}

/* HKDF-Extract with an all-zero salt of the hash length (RFC 5869). */
bool nvmet_hkdf_extract(uint8_t hid, const uint8_t *ikm, size_t ikm_len,
                        uint8_t *prk)
{
    uint8_t zero[NVMET_MAX_HASH_LEN] = { 0 };
    NvmetBuf part = { ikm, ikm_len };

    return nvmet_hmac(hid, zero, nvmet_hash_len(hid), &part, 1, prk);
}

/* ---- CRC-32 (IEEE 802.3, as zlib) for the key interchange formats -------- */

uint32_t nvmet_crc32_ieee(const void *buf, size_t len)
{
    const uint8_t *p = buf;
    uint32_t crc = ~0u;

    while (len--) {
        crc ^= *p++;
        for (int k = 0; k < 8; k++) {
            crc = (crc >> 1) ^ (0xedb88320u & -(crc & 1));
        }
    }
    return ~crc;
}

/* ---- DH-HMAC-CHAP secrets (DHHC-1 interchange format) -------------------- */

/*
 * "DHHC-1:XX:<base64(secret || crc32le(secret))>:" where XX is the hash
 * used to transform the secret (00 none, 01 SHA-256, 02 SHA-384, 03
 * SHA-512) and the secret is 32, 48 or 64 bytes.
 */
NvmetDhchapKey *nvmet_dhchap_key_parse(const char *str, GError **errp)
{
    g_autofree char *b64 = NULL;
    NvmetDhchapKey *key;
    const char *p, *end;
    guchar *raw;
    gsize rawlen = 0;
    unsigned hmac;
    uint32_t crc;

    if (!str || strncmp(str, "DHHC-1:", 7)) {
        g_set_error(errp, NVMET_ERROR, 0,
                    "DH-HMAC-CHAP secret must start with 'DHHC-1:'");
        return NULL;
    }
    p = str + 7;
    if (!g_ascii_isdigit(p[0]) || !g_ascii_isdigit(p[1]) || p[2] != ':') {
        g_set_error(errp, NVMET_ERROR, 0,
                    "DH-HMAC-CHAP secret: expected 'DHHC-1:XX:' with XX a "
                    "two-digit hash identifier");
        return NULL;
    }
    hmac = (p[0] - '0') * 10 + (p[1] - '0');
    if (hmac > 3) {
        g_set_error(errp, NVMET_ERROR, 0,
                    "DH-HMAC-CHAP secret: unknown transformation hash %02u",
                    hmac);
        return NULL;
    }
    p += 3;
    end = strchr(p, ':');
    if (!end || end[1] != '\0') {
        g_set_error(errp, NVMET_ERROR, 0,
                    "DH-HMAC-CHAP secret must end with ':'");
        return NULL;
    }
    b64 = g_strndup(p, end - p);
    for (const char *c = b64; *c; c++) {
        if (!g_ascii_isalnum(*c) && *c != '+' && *c != '/' && *c != '=') {
            g_set_error(errp, NVMET_ERROR, 0,
                        "DH-HMAC-CHAP secret: invalid base64");
            return NULL;
        }
    }
    if (strlen(b64) % 4) {
        g_set_error(errp, NVMET_ERROR, 0,
                    "DH-HMAC-CHAP secret: invalid base64 length");
        return NULL;
    }
    raw = g_base64_decode(b64, &rawlen);
    nvmet_memzero(b64, strlen(b64));
    if (rawlen != 36 && rawlen != 52 && rawlen != 68) {
        nvmet_free_secret(raw, rawlen);
        g_set_error(errp, NVMET_ERROR, 0,
                    "DH-HMAC-CHAP secret must be 32, 48 or 64 bytes (got %zu "
                    "with its CRC)", (size_t)rawlen);
        return NULL;
    }
    crc = nvmet_crc32_ieee(raw, rawlen - 4);
    if (crc != nvmet_ld32(raw + rawlen - 4)) {
        nvmet_free_secret(raw, rawlen);
        g_set_error(errp, NVMET_ERROR, 0,
                    "DH-HMAC-CHAP secret: CRC mismatch (corrupted key)");
        return NULL;
    }
    key = g_new0(NvmetDhchapKey, 1);
    key->hmac = hmac;
    key->len = rawlen - 4;
    memcpy(key->secret, raw, key->len);
    nvmet_free_secret(raw, rawlen);
    return key;
}

void nvmet_dhchap_key_free(NvmetDhchapKey *key)
{
    nvmet_free_secret(key, sizeof(*key));
}

NvmetDhchapKey *nvmet_dhchap_key_dup(const NvmetDhchapKey *key)
{
    return key ? g_memdup2(key, sizeof(*key)) : NULL;
}

/*
 * The key used in response computations: the secret itself (hash 00) or
 * HMAC_hash(secret, NQN || "NVMe-over-Fabrics").  Returns the length.
 */
size_t nvmet_dhchap_transform(const NvmetDhchapKey *key, const char *nqn,
                              uint8_t *out)
{
    static const char label[] = "NVMe-over-Fabrics";
    NvmetBuf parts[2] = {
        { nqn, strlen(nqn) },
        { label, sizeof(label) - 1 },
    };

    if (key->hmac == 0) {
        memcpy(out, key->secret, key->len);
        return key->len;
    }
    nvmet_hmac(key->hmac, key->secret, key->len, parts, 2, out);
    return nvmet_hash_len(key->hmac);
}

/*
 * The augmented challenge Ca = HMAC_hash(Ks, C) with Ks = H(g^xy mod p) the
 * session key of a DH exchange; without one (NULL group, @skey_len 0) it
 * is the challenge C itself.  @c and @ca are hash-length.
 */
void nvmet_dhchap_augment(uint8_t hid, const uint8_t *skey, size_t skey_len,
                          const uint8_t *c, uint8_t *ca)
{
    NvmetBuf part = { c, nvmet_hash_len(hid) };

    if (!skey_len) {
        memmove(ca, c, part.len);
    } else {
        nvmet_hmac(hid, skey, skey_len, &part, 1, ca);
    }
}

/*
 * A DH-HMAC-CHAP response, keyed with the transformed secret @key:
 *   R1 = HMAC_hash(Kh', Ca1 || le32(S1) || le16(T_ID) || SC_C || "HostHost"
 *                  || HostNQN || 00h || SubNQN)
 *   R2 = HMAC_hash(Kc', Ca2 || le32(S2) || le16(T_ID) || SC_C || "Controller"
 *                  || SubNQN || 00h || HostNQN)
 * with the host key transformed with the host NQN and the controller key
 * with the subsystem NQN (Linux nvme_auth_dhchap_setup_host_response() and
 * nvmet_auth_ctrl_hash() compute the same bytes).
 */
bool nvmet_dhchap_response(uint8_t hid, const NvmetDhchapKey *key,
                           bool controller, const uint8_t *ca, uint32_t seq,
                           uint16_t tid, uint8_t sc_c, const char *hostnqn,
                           const char *subnqn, uint8_t *out)
{
    const char *own = controller ? subnqn : hostnqn;
    const char *peer = controller ? hostnqn : subnqn;
    uint8_t tk[NVMET_MAX_HASH_LEN], seqb[4], tidb[2], zero = 0;
    size_t tklen;
    NvmetBuf parts[] = {
        { ca, nvmet_hash_len(hid) },
        { seqb, 4 },
        { tidb, 2 },
        { &sc_c, 1 },
        { controller ? "Controller" : "HostHost", controller ? 10 : 8 },
        { own, strlen(own) },
        { &zero, 1 },
        { peer, strlen(peer) },
    };
    bool ok;

    if (!key || !nvmet_hash_len(hid)) {
        return false;
    }
    tklen = nvmet_dhchap_transform(key, own, tk);
    nvmet_st32(seqb, seq);
    nvmet_st16(tidb, tid);
    ok = nvmet_hmac(hid, tk, tklen, parts, G_N_ELEMENTS(parts), out);
    nvmet_memzero(tk, sizeof(tk));
    return ok;
}

/* ---- finite-field Diffie-Hellman (RFC 7919 groups) ----------------------- */

typedef struct DhGroup {
    const char *name;
    const gnutls_datum_t *prime, *gen;
    unsigned bits;
    unsigned exp_bits;          /* private exponent size, RFC 7919 5.2 */
} DhGroup;

static const DhGroup *dh_group(uint8_t gid)
{
    static const DhGroup groups[] = {
        [NVMET_DH_FFDHE2048] = { "ffdhe2048", &gnutls_ffdhe_2048_group_prime,
                                 &gnutls_ffdhe_2048_group_generator,
                                 2048, 225 },
        [NVMET_DH_FFDHE3072] = { "ffdhe3072", &gnutls_ffdhe_3072_group_prime,
                                 &gnutls_ffdhe_3072_group_generator,
                                 3072, 275 },
        [NVMET_DH_FFDHE4096] = { "ffdhe4096", &gnutls_ffdhe_4096_group_prime,
                                 &gnutls_ffdhe_4096_group_generator,
                                 4096, 325 },
        [NVMET_DH_FFDHE6144] = { "ffdhe6144", &gnutls_ffdhe_6144_group_prime,
                                 &gnutls_ffdhe_6144_group_generator,
                                 6144, 375 },
        [NVMET_DH_FFDHE8192] = { "ffdhe8192", &gnutls_ffdhe_8192_group_prime,
                                 &gnutls_ffdhe_8192_group_generator,
                                 8192, 400 },
    };

    if (gid < NVMET_DH_FFDHE2048 || gid > NVMET_DH_FFDHE8192) {
        return NULL;
    }
    return &groups[gid];
}

const char *nvmet_dh_name(uint8_t gid)
{
    const DhGroup *g = dh_group(gid);

    return gid == NVMET_DH_NULL ? "null" : g ? g->name : "unknown";
}

size_t nvmet_dh_len(uint8_t gid)
{
    const DhGroup *g = dh_group(gid);

    return g ? g->bits / 8 : 0;
}

struct NvmetDh {
    const DhGroup *g;
    mpz_t p, x;
    uint8_t *pub;               /* g^x mod p, big-endian, padded */
};

static void mpz_from_datum(mpz_t z, const gnutls_datum_t *d)
{
    mpz_import(z, d->size, 1, 1, 1, 0, d->data);
}

/* Write @z as a big-endian number of exactly @len bytes. */
static void mpz_to_bytes(const mpz_t z, uint8_t *out, size_t len)
{
    size_t n = (mpz_sizeinbase(z, 2) + 7) / 8;

    g_assert(n <= len);
    memset(out, 0, len - n);
    mpz_export(out + len - n, NULL, 1, 1, 1, 0, z);
}

NvmetDh *nvmet_dh_new(uint8_t gid, const uint8_t *rnd, size_t rnd_len)
{
    const DhGroup *g = dh_group(gid);
    size_t xbytes;
    NvmetDh *dh;
    mpz_t gen, y;

    if (!g) {
        return NULL;
    }
    xbytes = (g->exp_bits + 7) / 8;
    g_assert(rnd_len >= xbytes);
    dh = g_new0(NvmetDh, 1);
    dh->g = g;
    mpz_init(dh->p);
    mpz_init(dh->x);
    mpz_init(gen);
    mpz_init(y);
    mpz_from_datum(dh->p, g->prime);
    mpz_from_datum(gen, g->gen);
    /* x: exp_bits random bits with the top bit set, so 1 < x < q */
    mpz_import(dh->x, xbytes, 1, 1, 1, 0, rnd);
    mpz_fdiv_r_2exp(dh->x, dh->x, g->exp_bits);
    mpz_setbit(dh->x, g->exp_bits - 1);
    mpz_powm_sec(y, gen, dh->x, dh->p);
    dh->pub = g_malloc(g->bits / 8);
    mpz_to_bytes(y, dh->pub, g->bits / 8);
    mpz_clear(gen);
    mpz_clear(y);
    return dh;
}

size_t nvmet_dh_private_bytes(uint8_t gid)
{
    const DhGroup *g = dh_group(gid);

    return g ? (g->exp_bits + 7) / 8 : 0;
}

const uint8_t *nvmet_dh_public(NvmetDh *dh)
{
    return dh->pub;
}

/*
 * Shared secret g^xy mod p from the peer's public value, as a big-endian
 * number padded to the modulus size.  The peer value must be a full-size
 * encoding of 1 < y < p-1 in the prime-order subgroup (y^q == 1).
 *
 * The RFC 7919 primes are safe primes, p = 2q + 1, so by Euler's criterion
 * y^q = y^((p-1)/2) mod p is the Legendre symbol (y/p): the subgroup of
 * order q is the set of quadratic residues, and the symbol (a GCD-like
 * computation) answers the membership question without the exponentiation
 * by the full-size q, which costs more than the rest of the exchange.
 */
bool nvmet_dh_shared(NvmetDh *dh, const uint8_t *peer, size_t len,
                     uint8_t *out)
{
    size_t plen = dh->g->bits / 8;
    mpz_t y, s, pm1;
    bool ok = false;

    if (len != plen) {
        return false;
    }
    mpz_init(y);
    mpz_init(s);
    mpz_init(pm1);
    mpz_import(y, len, 1, 1, 1, 0, peer);
    mpz_sub_ui(pm1, dh->p, 1);
    if (mpz_cmp_ui(y, 1) > 0 && mpz_cmp(y, pm1) < 0 &&
        mpz_legendre(y, dh->p) == 1) {
        mpz_powm_sec(s, y, dh->x, dh->p);
        mpz_to_bytes(s, out, plen);
        ok = true;
    }
    mpz_clear(y);
    mpz_wipe_clear(s);
    mpz_clear(pm1);
    return ok;
}

void nvmet_dh_free(NvmetDh *dh)
{
    if (!dh) {
        return;
    }
    mpz_wipe_clear(dh->x);
    mpz_clear(dh->p);
    g_free(dh->pub);
    g_free(dh);
}

/* ---- the TLS library ----------------------------------------------------- */

/*
 * GnuTLS 3.8.11 lets a TLS server have PSKs of either hash (credentials
 * for GNUTLS_MAC_UNKNOWN try SHA-384 and SHA-256 binders); older versions
 * know SHA-256 PSKs only.
 */
bool nvmet_tls_sha384_available(void)
{
#if GNUTLS_VERSION_NUMBER >= 0x03080b
    return gnutls_check_version("3.8.11") != NULL;
#else
    return false;
#endif
}

const char *nvmet_tls_library_version(void)
{
    return gnutls_check_version(NULL);
}
