/*
 * TLS 1.3 PSK client for the NVMe/TCP test host: wraps a transport so that
 * everything the host sends and receives travels in TLS records (GnuTLS
 * client session, blocking over the inner transport).
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#include <errno.h>
#include <string.h>
#include <glib.h>
#include <stdio.h>
#include <stdlib.h>
#include <gnutls/gnutls.h>
#include <nettle/hmac.h>
#include <nettle/sha2.h>
#include "nvmf-host.h"

struct NvmfTls {
    NvmfTransport inner;
    gnutls_session_t session;
    gnutls_psk_client_credentials_t cred;
    bool eof;
    char *error;
    int alert;                  /* fatal alert received, -1: none */
};

/* A fatal alert from the peer ends the session: remember which */
static void note_alert(NvmfTls *t, int ret)
{
    if (ret == GNUTLS_E_FATAL_ALERT_RECEIVED) {
        t->alert = gnutls_alert_get(t->session);
    }
}

static ssize_t tls_pull(gnutls_transport_ptr_t ptr, void *buf, size_t len)
{
    NvmfTls *t = ptr;
    ssize_t n = t->inner.recv(t->inner.opaque, buf, len);

    if (n < 0) {
        gnutls_transport_set_errno(t->session, EIO);
        return -1;
    }
    return n;
}

static ssize_t tls_push(gnutls_transport_ptr_t ptr, const void *buf,
                        size_t len)
{
    NvmfTls *t = ptr;

    if (t->inner.send(t->inner.opaque, buf, len) < 0) {
        gnutls_transport_set_errno(t->session, EIO);
        return -1;
    }
    return len;
}

NvmfTls *nvmf_tls_new(const NvmfTransport *inner, const char *identity,
                      const uint8_t *key, size_t key_len, uint8_t hash)
{
    NvmfTls *t = g_new0(NvmfTls, 1);
    gnutls_datum_t k = { (unsigned char *)key, key_len };
    const char *prio = hash == 2 ?
        "NONE:+VERS-TLS1.3:+AES-256-GCM:+AEAD:+SHA384:+PSK:+DHE-PSK:"
        "+ECDHE-PSK:+GROUP-ALL:+SIGN-ALL:+COMP-NULL" :
        "NONE:+VERS-TLS1.3:+AES-128-GCM:+AEAD:+SHA256:+PSK:+DHE-PSK:"
        "+ECDHE-PSK:+GROUP-ALL:+SIGN-ALL:+COMP-NULL";

    t->inner = *inner;
    t->alert = -1;
#if GNUTLS_VERSION_NUMBER >= 0x03080b
    g_assert(gnutls_psk_allocate_client_credentials2(&t->cred, hash == 2 ?
                                                     GNUTLS_MAC_SHA384 :
                                                     GNUTLS_MAC_SHA256) == 0);
#else
    /* GnuTLS < 3.8.11 has SHA-256 PSKs only */
    g_assert(hash != 2);
    g_assert(gnutls_psk_allocate_client_credentials(&t->cred) == 0);
#endif
    g_assert(gnutls_psk_set_client_credentials(t->cred, identity, &k,
                                               GNUTLS_PSK_KEY_RAW) == 0);
    g_assert(gnutls_init(&t->session, GNUTLS_CLIENT | GNUTLS_NO_TICKETS)
             == 0);
    g_assert(gnutls_priority_set_direct(t->session, prio, NULL) == 0);
    g_assert(gnutls_credentials_set(t->session, GNUTLS_CRD_PSK, t->cred)
             == 0);
    gnutls_transport_set_ptr(t->session, t);
    gnutls_transport_set_pull_function(t->session, tls_pull);
    gnutls_transport_set_push_function(t->session, tls_push);
    return t;
}

int nvmf_tls_handshake(NvmfTls *t)
{
    int ret;

    do {
        ret = gnutls_handshake(t->session);
    } while (ret < 0 && !gnutls_error_is_fatal(ret));
    if (ret < 0) {
        note_alert(t, ret);
        g_free(t->error);
        t->error = t->alert >= 0 ?
            g_strdup_printf("%s: %s", gnutls_strerror(ret),
                            gnutls_alert_get_name(t->alert)) :
            g_strdup(gnutls_strerror(ret));
        return -1;
    }
    return 0;
}

const char *nvmf_tls_error(NvmfTls *t)
{
    return t->error;
}

int nvmf_tls_alert(NvmfTls *t)
{
    return t->alert;
}

char *nvmf_tls_description(NvmfTls *t)
{
    char *d = gnutls_session_get_desc(t->session);
    char *r = g_strdup(d);

    gnutls_free(d);
    return r;
}

static int tls_send(void *opaque, const void *buf, size_t len)
{
    NvmfTls *t = opaque;
    const uint8_t *p = buf;

    while (len) {
        ssize_t n = gnutls_record_send(t->session, p, len);

        if (n == GNUTLS_E_AGAIN || n == GNUTLS_E_INTERRUPTED) {
            continue;
        }
        if (n < 0) {
            return -1;
        }
        p += n;
        len -= n;
    }
    return 0;
}

static ssize_t tls_recv(void *opaque, void *buf, size_t len)
{
    NvmfTls *t = opaque;

    for (;;) {
        ssize_t n = gnutls_record_recv(t->session, buf, len);

        if (n == GNUTLS_E_AGAIN || n == GNUTLS_E_INTERRUPTED) {
            continue;
        }
        if (n == GNUTLS_E_PREMATURE_TERMINATION || n == 0) {
            t->eof = true;
            return 0;
        }
        note_alert(t, n);
        return n < 0 ? -1 : n;
    }
}

NvmfTransport nvmf_tls_transport(NvmfTls *t)
{
    NvmfTransport tr = { tls_send, tls_recv, t };

    return tr;
}

void nvmf_tls_free(NvmfTls *t)
{
    if (!t) {
        return;
    }
    gnutls_deinit(t->session);
    gnutls_psk_free_client_credentials(t->cred);
    g_free(t->error);
    g_free(t);
}

/* ---- PSK identities and TLS PSKs, as the Linux host derives them --------- */

static void hmac1(uint8_t hash, const uint8_t *key, size_t klen,
                  const void *a, size_t alen, const void *b, size_t blen,
                  uint8_t *out)
{
    if (hash == 2) {
        struct hmac_sha384_ctx c;

        hmac_sha384_set_key(&c, klen, key);
        hmac_sha384_update(&c, alen, a);
        if (blen) {
            hmac_sha384_update(&c, blen, b);
        }
        hmac_sha384_digest(&c, SHA384_DIGEST_SIZE, out);
    } else {
        struct hmac_sha256_ctx c;

        hmac_sha256_set_key(&c, klen, key);
        hmac_sha256_update(&c, alen, a);
        if (blen) {
            hmac_sha256_update(&c, blen, b);
        }
        hmac_sha256_digest(&c, SHA256_DIGEST_SIZE, out);
    }
}

/* RFC 8446 HKDF-Expand-Label(HKDF-Extract(0, ikm), label, ctx, L), L <= hl */
static void expand_label(uint8_t hash, const uint8_t *ikm, size_t ilen,
                         const char *label, const void *ctx, size_t clen,
                         size_t L, uint8_t *out)
{
    size_t hl = hash == 2 ? 48 : 32;
    uint8_t zero[48] = { 0 }, prk[48], t[48];
    GByteArray *info = g_byte_array_new();
    uint8_t b[2] = { L >> 8, L & 0xff }, one = 1, n;

    hmac1(hash, zero, hl, ikm, ilen, NULL, 0, prk);
    g_byte_array_append(info, b, 2);
    n = 6 + strlen(label);
    g_byte_array_append(info, &n, 1);
    g_byte_array_append(info, (const uint8_t *)"tls13 ", 6);
    g_byte_array_append(info, (const uint8_t *)label, strlen(label));
    n = clen;
    g_byte_array_append(info, &n, 1);
    g_byte_array_append(info, ctx, clen);
    g_byte_array_append(info, &one, 1);
    hmac1(hash, prk, hl, info->data, info->len, NULL, 0, t);
    memcpy(out, t, L);
    g_byte_array_free(info, true);
}

static char *psk_digest(uint8_t hash, const uint8_t *psk, size_t len,
                        const char *hostnqn, const char *subnqn)
{
    g_autofree char *msg = g_strdup_printf("%s %s NVMe-over-Fabrics",
                                           hostnqn, subnqn);
    uint8_t d[48];

    hmac1(hash, psk, len, msg, strlen(msg), NULL, 0, d);
    return g_base64_encode(d, hash == 2 ? 48 : 32);
}

char *nvmf_tls_generated(uint8_t hash, const uint8_t *psk, size_t len,
                         const char *hostnqn, const char *subnqn,
                         uint8_t *tls_psk)
{
    g_autofree char *digest = psk_digest(hash, psk, len, hostnqn, subnqn);
    g_autofree char *ctx = g_strdup_printf("%02u %s", hash, digest);

    expand_label(hash, psk, len, "nvme-tls-psk", ctx, strlen(ctx), len,
                 tls_psk);
    return g_strdup_printf("NVMe1G%02u %s %s %s", hash, hostnqn, subnqn,
                           digest);
}

char *nvmf_tls_configured(const char *interchange, unsigned version,
                          const char *hostnqn, const char *subnqn,
                          uint8_t *tls_psk, uint8_t *hash_out)
{
    g_auto(GStrv) f = g_strsplit(interchange, ":", -1);
    g_autofree uint8_t *raw = NULL;
    uint8_t retained[48];
    size_t rlen, klen;
    unsigned hh;
    uint8_t hash;
    char *identity;

    if (g_strv_length(f) != 4 || strcmp(f[0], "NVMeTLSkey-1")) {
        return NULL;
    }
    hh = atoi(f[1]);
    raw = g_base64_decode(f[2], &rlen);
    if (rlen != 36 && rlen != 52) {
        return NULL;
    }
    klen = rlen - 4;
    if (nvmf_crc32(raw, klen) != (raw[klen] | raw[klen + 1] << 8 |
                                   raw[klen + 2] << 16 |
                                   (uint32_t)raw[klen + 3] << 24)) {
        return NULL;
    }
    hash = hh ? hh : (klen == 48 ? 2 : 1);
    if (hh) {
        expand_label(hh, raw, klen, "HostNQN", hostnqn, strlen(hostnqn),
                     klen, retained);
    } else {
        memcpy(retained, raw, klen);
    }
    if (version == 0) {
        identity = g_strdup_printf("NVMe0R%02u %s %s", hash, hostnqn, subnqn);
        expand_label(hash, retained, klen, "nvme-tls-psk", identity,
                     strlen(identity), klen, tls_psk);
    } else {
        g_autofree char *digest = psk_digest(hash, retained, klen, hostnqn,
                                             subnqn);
        g_autofree char *ctx = g_strdup_printf("%02u %s", hash, digest);

        identity = g_strdup_printf("NVMe1R%02u %s %s %s", hash, hostnqn,
                                   subnqn, digest);
        expand_label(hash, retained, klen, "nvme-tls-psk", ctx, strlen(ctx),
                     klen, tls_psk);
    }
    memset(retained, 0, sizeof(retained));
    *hash_out = hash;
    return identity;
}
