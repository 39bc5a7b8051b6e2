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
#include <gnutls/gnutls.h>
#include "nvmf-host.h"

struct NvmfTls {
    NvmfTransport inner;
    gnutls_session_t session;
    gnutls_psk_client_credentials_t cred;
    bool eof;
    char *error;
};

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
#if GNUTLS_VERSION_NUMBER >= 0x030800
    g_assert(gnutls_psk_allocate_client_credentials2(&t->cred, hash == 2 ?
                                                     GNUTLS_MAC_SHA384 :
                                                     GNUTLS_MAC_SHA256) == 0);
#else
    /* GnuTLS < 3.8 has SHA-256 PSKs only */
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
        g_free(t->error);
        t->error = g_strdup(gnutls_strerror(ret));
        return -1;
    }
    return 0;
}

const char *nvmf_tls_error(NvmfTls *t)
{
    return t->error;
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
