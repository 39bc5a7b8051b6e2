/*
 * Fuzzing harness: a TLS 1.3 PSK client (GnuTLS) that runs over two
 * in-memory buffers, never blocks, and leaves the records to the caller.
 * The harness uses it to talk to the engine's TLS step (nvmet/engine/tls.c)
 * and to corrupt, truncate or reorder the records on the way.
 *
 * GnuTLS draws its own random numbers (client random, key shares, nonces
 * are derived from secrets that depend on them), so the ciphertext differs
 * from run to run; its length and the plaintext do not.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#include <errno.h>
#include <string.h>
#include <gnutls/gnutls.h>

#include "fuzz-tls.h"

struct FuzzTls {
    gnutls_session_t session;
    gnutls_psk_client_credentials_t cred;
    GByteArray *in;             /* from the peer, not yet read by GnuTLS */
    size_t in_off;
    GByteArray *out;            /* to the peer */
};

static ssize_t ft_pull(gnutls_transport_ptr_t ptr, void *buf, size_t len)
{
    FuzzTls *t = ptr;
    size_t avail = t->in->len - t->in_off;

    if (!avail) {
        gnutls_transport_set_errno(t->session, EAGAIN);
        return -1;
    }
    len = MIN(len, avail);
    memcpy(buf, t->in->data + t->in_off, len);
    t->in_off += len;
    if (t->in_off == t->in->len) {
        g_byte_array_set_size(t->in, 0);
        t->in_off = 0;
    }
    return len;
}

static ssize_t ft_push(gnutls_transport_ptr_t ptr, const void *buf,
                       size_t len)
{
    FuzzTls *t = ptr;

    g_byte_array_append(t->out, buf, len);
    return len;
}

FuzzTls *fuzz_tls_new(const void *identity, size_t identity_len,
                      const uint8_t *key, size_t key_len, uint8_t hash,
                      unsigned opts, size_t max_recv)
{
    FuzzTls *t = g_new0(FuzzTls, 1);
    gnutls_datum_t user = { (unsigned char *)identity, identity_len };
    gnutls_datum_t k = { (unsigned char *)key, key_len };
    /* ECDHE or not, x ChaCha20 / SHA-384 suite / SHA-256 suite */
    static gnutls_priority_t prios[2][3];
    unsigned pe = opts & FUZZ_TLS_ECDHE ? 1 : 0;
    unsigned ps = opts & FUZZ_TLS_CHACHA ? 0 : hash == 2 ? 1 : 2;
    int ret;

    if (!prios[pe][ps]) {
        /* parsed once: per session, that was a tenth of a handshake */
        GString *prio = g_string_new("NONE:+VERS-TLS1.3:+AEAD:+COMP-NULL:"
                                     "+SIGN-ALL:");

        /* PSK only by default: no key exchange to compute, fast */
        g_string_append(prio, pe ? "+ECDHE-PSK:+GROUP-X25519:" :
                                   "+PSK:+GROUP-X25519:");
        g_string_append(prio, ps == 0 ? "+CHACHA20-POLY1305:+SHA256" :
                              ps == 1 ? "+AES-256-GCM:+SHA384" :
                                        "+AES-128-GCM:+SHA256");
        ret = gnutls_priority_init(&prios[pe][ps], prio->str, NULL);
        g_assert(ret == 0);
        g_string_free(prio, true);
    }
#if GNUTLS_VERSION_NUMBER >= 0x03080b
    ret = gnutls_psk_allocate_client_credentials2(&t->cred, hash == 2 ?
                                                  GNUTLS_MAC_SHA384 :
                                                  GNUTLS_MAC_SHA256);
#else
    ret = gnutls_psk_allocate_client_credentials(&t->cred);
#endif
    g_assert(ret == 0);
    ret = gnutls_psk_set_client_credentials2(t->cred, &user, &k,
                                             GNUTLS_PSK_KEY_RAW);
    g_assert(ret == 0);
    ret = gnutls_init(&t->session, GNUTLS_CLIENT | GNUTLS_NONBLOCK |
                      GNUTLS_NO_TICKETS);
    g_assert(ret == 0);
    ret = gnutls_priority_set(t->session, prios[pe][ps]);
    g_assert(ret == 0);
    ret = gnutls_credentials_set(t->session, GNUTLS_CRD_PSK, t->cred);
    g_assert(ret == 0);
    if (max_recv) {
        /* sent as record_size_limit: the peer must fragment its records */
        gnutls_record_set_max_recv_size(t->session, max_recv);
    }
    t->in = g_byte_array_new();
    t->out = g_byte_array_new();
    gnutls_transport_set_ptr(t->session, t);
    gnutls_transport_set_pull_function(t->session, ft_pull);
    gnutls_transport_set_push_function(t->session, ft_push);
    return t;
}

void fuzz_tls_free(FuzzTls *t)
{
    if (!t) {
        return;
    }
    gnutls_deinit(t->session);
    gnutls_psk_free_client_credentials(t->cred);
    g_byte_array_free(t->in, true);
    g_byte_array_free(t->out, true);
    g_free(t);
}

void fuzz_tls_input(FuzzTls *t, const uint8_t *p, size_t len)
{
    g_byte_array_append(t->in, p, len);
}

GByteArray *fuzz_tls_output(FuzzTls *t)
{
    return t->out;
}

int fuzz_tls_handshake(FuzzTls *t)
{
    int ret = gnutls_handshake(t->session);

    if (ret == 0) {
        return 1;
    }
    if (ret == GNUTLS_E_AGAIN || ret == GNUTLS_E_INTERRUPTED ||
        !gnutls_error_is_fatal(ret)) {
        return FUZZ_TLS_AGAIN;
    }
    return ret;
}

int fuzz_tls_send(FuzzTls *t, const void *p, size_t len, size_t rec)
{
    const uint8_t *b = p;

    rec = rec ? rec : 16384;
    while (len) {
        ssize_t n = gnutls_record_send(t->session, b, MIN(len, rec));

        if (n == GNUTLS_E_AGAIN || n == GNUTLS_E_INTERRUPTED) {
            continue;           /* the push function never blocks */
        }
        if (n < 0) {
            return n;
        }
        b += n;
        len -= n;
    }
    return 0;
}

ssize_t fuzz_tls_recv(FuzzTls *t, uint8_t *buf, size_t len, bool *eof)
{
    for (;;) {
        ssize_t n = gnutls_record_recv(t->session, buf, len);

        if (n > 0) {
            return n;
        }
        if (n == 0) {
            *eof = true;
            return FUZZ_TLS_AGAIN;
        }
        if (n == GNUTLS_E_AGAIN) {
            return FUZZ_TLS_AGAIN;
        }
        if (n == GNUTLS_E_INTERRUPTED || !gnutls_error_is_fatal(n)) {
            continue;           /* a warning alert: each takes a record */
        }
        return n;
    }
}

int fuzz_tls_key_update(FuzzTls *t, bool request_peer)
{
    return gnutls_session_key_update(t->session,
                                     request_peer ? GNUTLS_KU_PEER : 0);
}

int fuzz_tls_alert(FuzzTls *t, bool fatal, uint8_t desc)
{
    return gnutls_alert_send(t->session, fatal ? GNUTLS_AL_FATAL :
                             GNUTLS_AL_WARNING, desc);
}

int fuzz_tls_bye(FuzzTls *t)
{
    int ret;

    do {
        ret = gnutls_bye(t->session, GNUTLS_SHUT_WR);
    } while (ret == GNUTLS_E_AGAIN || ret == GNUTLS_E_INTERRUPTED);
    return ret;
}

const char *fuzz_tls_strerror(int err)
{
    return gnutls_strerror(err);
}

bool fuzz_tls_err_is_alert(int err)
{
    return err == GNUTLS_E_FATAL_ALERT_RECEIVED;
}

int fuzz_tls_alert_received(FuzzTls *t)
{
    return gnutls_alert_get(t->session);
}

bool fuzz_tls_alert_is_psk_refusal(int alert)
{
    /* no such identity, a binder that does not verify, no common suite */
    return alert == GNUTLS_A_UNKNOWN_PSK_IDENTITY ||
           alert == GNUTLS_A_DECRYPT_ERROR ||
           alert == GNUTLS_A_HANDSHAKE_FAILURE;
}

bool fuzz_tls_err_is_fatal(int err)
{
    return err < 0 && gnutls_error_is_fatal(err);
}
