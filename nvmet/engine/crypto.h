/*
 * NVMe-oF TCP target engine: cryptographic building blocks (see crypto.c).
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#ifndef NVMET_ENGINE_CRYPTO_H
#define NVMET_ENGINE_CRYPTO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <glib.h>

/* DH-HMAC-CHAP hash identifiers (also used for PSK hashes) */
#define NVMET_HASH_SHA256   1
#define NVMET_HASH_SHA384   2
#define NVMET_HASH_SHA512   3
#define NVMET_MAX_HASH_LEN  64

/* DH group identifiers */
#define NVMET_DH_NULL       0
#define NVMET_DH_FFDHE2048  1
#define NVMET_DH_FFDHE3072  2
#define NVMET_DH_FFDHE4096  3
#define NVMET_DH_FFDHE6144  4
#define NVMET_DH_FFDHE8192  5
#define NVMET_DH_MAX_LEN    1024

typedef struct NvmetBuf {
    const void *data;
    size_t len;
} NvmetBuf;

static inline void nvmet_st16be(uint8_t *p, uint16_t v)
{
    p[0] = v >> 8;
    p[1] = v;
}

void nvmet_crypto_init(void);
void nvmet_memzero(void *p, size_t len);
void nvmet_free_secret(void *p, size_t len);
bool nvmet_memeq_ct(const void *a, const void *b, size_t len);

size_t nvmet_hash_len(uint8_t hid);
const char *nvmet_hash_name(uint8_t hid);
bool nvmet_hash(uint8_t hid, const NvmetBuf *parts, unsigned n, uint8_t *out);
bool nvmet_hmac(uint8_t hid, const uint8_t *key, size_t klen,
                const NvmetBuf *parts, unsigned n, uint8_t *out);
bool nvmet_hkdf_extract(uint8_t hid, const uint8_t *ikm, size_t ikm_len,
                        uint8_t *prk);
bool nvmet_hkdf_expand_label(uint8_t hid, const uint8_t *prk, size_t prk_len,
                             const char *label, const void *ctx,
                             size_t ctx_len, uint8_t *out, size_t out_len);
uint32_t nvmet_crc32_ieee(const void *buf, size_t len);

/* A DH-HMAC-CHAP secret (DHHC-1 format), wiped when freed. */
typedef struct NvmetDhchapKey {
    uint8_t hmac;               /* transformation hash, 0 = none */
    size_t len;                 /* 32, 48 or 64 */
    uint8_t secret[64];
} NvmetDhchapKey;

NvmetDhchapKey *nvmet_dhchap_key_parse(const char *str, GError **errp);
NvmetDhchapKey *nvmet_dhchap_key_dup(const NvmetDhchapKey *key);
void nvmet_dhchap_key_free(NvmetDhchapKey *key);
size_t nvmet_dhchap_transform(const NvmetDhchapKey *key, const char *nqn,
                              uint8_t *out);
void nvmet_dhchap_augment(uint8_t hid, const uint8_t *skey, size_t skey_len,
                          const uint8_t *c, uint8_t *ca);
bool nvmet_dhchap_response(uint8_t hid, const NvmetDhchapKey *key,
                           bool controller, const uint8_t *ca, uint32_t seq,
                           uint16_t tid, uint8_t sc_c, const char *hostnqn,
                           const char *subnqn, uint8_t *out);

/* Finite-field DH over the RFC 7919 groups. */
typedef struct NvmetDh NvmetDh;
const char *nvmet_dh_name(uint8_t gid);
size_t nvmet_dh_len(uint8_t gid);
size_t nvmet_dh_private_bytes(uint8_t gid);
NvmetDh *nvmet_dh_new(uint8_t gid, const uint8_t *rnd, size_t rnd_len);
const uint8_t *nvmet_dh_public(NvmetDh *dh);
bool nvmet_dh_shared(NvmetDh *dh, const uint8_t *peer, size_t len,
                     uint8_t *out);
void nvmet_dh_free(NvmetDh *dh);

/* SHA-384 TLS PSKs need GnuTLS 3.8.11 */
bool nvmet_tls_sha384_available(void);
const char *nvmet_tls_library_version(void);

#endif
