/*
 * NVMe-oF TCP target engine: the TLS 1.3 record step of one queue.
 *
 * Every queue owns a GnuTLS server session that runs over two in-memory
 * buffers: the user hands received bytes to nvmet_queue_input(), which
 * feeds them to GnuTLS and the decrypted stream to the PDU parser; PDUs the
 * engine produces are encrypted when the user asks for output.  No socket
 * is involved.  The PSK is chosen by the identity the host presents
 * (nvmet_tls_find_psk() in concat.c).
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <gnutls/gnutls.h>
#include "internal.h"
#include "crypto.h"
#include "trace.h"

/* TLS 1.3 with a PSK (plain or with (EC)DHE), the two NVMe/TCP suites */
#define NVMET_TLS_PRIORITY                                                  \
    "NONE:+VERS-TLS1.3:+AES-128-GCM:+AES-256-GCM:+AEAD:+SHA256:+SHA384:"   \
    "+PSK:+DHE-PSK:+ECDHE-PSK:+GROUP-ALL:+SIGN-ALL:+COMP-NULL"

#define TLS_RECORD_MAX 16384

static char *hex(const uint8_t *p, size_t len)
{
    char *s = g_malloc(len * 2 + 1);

    for (size_t i = 0; i < len; i++) {
        snprintf(s + 2 * i, 3, "%02x", p[i]);
    }
    s[len * 2] = 0;
    return s;
}

/*
 * Once a session started, the connection carries records only, to the end:
 * after a failure, what GnuTLS left to send (an alert) goes out, but never
 * the PDUs still waiting to be encrypted, which would go in the clear.
 */
bool nvmet_tls_in_use(NvmetQueue *q)
{
    return q->tls.state == NVMET_TLS_HANDSHAKE ||
           q->tls.state == NVMET_TLS_ACTIVE ||
           (q->tls.state == NVMET_TLS_FAILED && q->tls.out);
}

void nvmet_tls_queue_init(NvmetQueue *q)
{
    q->tls.state = q->port->cfg.tls == NVMET_PORT_TLS_NONE ?
                   NVMET_TLS_OFF : NVMET_TLS_DETECT;
}

void nvmet_tls_queue_free(NvmetQueue *q)
{
    NvmetQueueTls *tls = &q->tls;

    if (tls->session) {
        gnutls_deinit(tls->session);
        tls->session = NULL;
    }
    if (tls->cred) {
        gnutls_psk_free_server_credentials(tls->cred);
        tls->cred = NULL;
    }
    /* received records hold key-derived material only encrypted, but wipe */
    if (tls->in) {
        nvmet_memzero(tls->in->data, tls->in->len);
        g_byte_array_unref(tls->in);
        tls->in = NULL;
    }
    if (tls->out) {
        g_byte_array_unref(tls->out);
        tls->out = NULL;
    }
    g_free(tls->identity);
    g_free(tls->hostnqn);
    g_free(tls->subnqn);
    tls->identity = tls->hostnqn = tls->subnqn = NULL;
}

/* ---- GnuTLS transport over the queue's buffers ------------------------- */

static ssize_t tls_pull(gnutls_transport_ptr_t ptr, void *buf, size_t len)
{
    NvmetQueue *q = ptr;
    NvmetQueueTls *tls = &q->tls;
    size_t avail = tls->in->len - tls->in_off;

    if (!avail) {
        gnutls_transport_set_errno(tls->session, EAGAIN);
        return -1;
    }
    len = MIN(len, avail);
    memcpy(buf, tls->in->data + tls->in_off, len);
    tls->in_off += len;
    if (tls->in_off == tls->in->len) {
        g_byte_array_set_size(tls->in, 0);
        tls->in_off = 0;
    }
    return len;
}

static ssize_t tls_push(gnutls_transport_ptr_t ptr, const void *buf,
                        size_t len)
{
    NvmetQueue *q = ptr;

    g_byte_array_append(q->tls.out, buf, len);
    return len;
}

/* ---- PSK and key log callbacks ------------------------------------------ */

/*
 * GnuTLS 3.8.11 lets a server have PSKs of either hash (credentials for
 * GNUTLS_MAC_UNKNOWN try SHA-384 and SHA-256 binders); older versions know
 * SHA-256 PSKs only.
 */
#if GNUTLS_VERSION_NUMBER >= 0x03080b
#define NVMET_HAVE_PSK_HASHES 1
#endif

bool nvmet_tls_sha384_available(void)
{
#ifdef NVMET_HAVE_PSK_HASHES
    return gnutls_check_version("3.8.11") != NULL;
#else
    return false;
#endif
}

const char *nvmet_tls_library_version(void)
{
    return gnutls_check_version(NULL);
}

static int tls_psk_cb(gnutls_session_t session, const char *identity,
                      gnutls_datum_t *key)
{
    NvmetQueue *q = gnutls_session_get_ptr(session);
    NvmetQueueTls *tls = &q->tls;
    NvmetTlsPskMatch m = { 0 };
    const char *why = "no such PSK";

    g_free(tls->identity);
    tls->identity = g_strdup(identity);
    if (!nvmet_tls_find_psk(q, identity, &m, &why)) {
        trace_nvmet_tls_psk_unknown(q->name, identity, why);
        return -1;
    }
    key->data = gnutls_malloc(m.key_len);
    memcpy(key->data, m.key, m.key_len);
    key->size = m.key_len;
    nvmet_memzero(m.key, sizeof(m.key));
    g_free(tls->hostnqn);
    g_free(tls->subnqn);
    tls->hostnqn = m.hostnqn;
    tls->subnqn = m.subnqn;
    tls->generated = m.generated;
    tls->hash = m.hash;
    tls->key_serial = m.serial;
    trace_nvmet_tls_psk(q->name, identity, m.generated ? "generated" :
                        "configured", m.serial);
    return 0;
}

#ifdef NVMET_HAVE_PSK_HASHES
static int tls_psk_cb3(gnutls_session_t session,
                       const gnutls_datum_t *username, gnutls_datum_t *key,
                       gnutls_psk_key_flags *flags)
{
    g_autofree char *identity = g_strndup((const char *)username->data,
                                          username->size);

    *flags = GNUTLS_PSK_KEY_RAW;
    if (strlen(identity) != username->size) {
        return -1;                      /* an embedded NUL */
    }
    return tls_psk_cb(session, identity, key);
}
#endif

static int tls_keylog_cb(gnutls_session_t session, const char *label,
                         const gnutls_datum_t *secret)
{
    NvmetQueue *q = gnutls_session_get_ptr(session);
    gnutls_datum_t crandom, srandom;
    g_autofree char *cr = NULL, *sec = NULL, *line = NULL;

    if (!q->t->ops.tls_keylog) {
        return 0;
    }
    gnutls_session_get_random(session, &crandom, &srandom);
    cr = hex(crandom.data, crandom.size);
    sec = hex(secret->data, secret->size);
    line = g_strdup_printf("%s %s %s", label, cr, sec);
    q->t->ops.tls_keylog(q->t->opaque, q, q->opaque, line);
    nvmet_memzero(sec, strlen(sec));
    nvmet_memzero(line, strlen(line));
    return 0;
}

/* ---- session ------------------------------------------------------------ */

static void tls_fail(NvmetQueue *q, const char *what, int err)
{
    g_autofree char *why = g_strdup_printf("TLS %s failed: %s", what,
                                           gnutls_strerror(err));

    trace_nvmet_tls_error(q->name, what, gnutls_strerror(err));
    q->tls.state = NVMET_TLS_FAILED;
    nvmet_queue_close(q, why);
}

static bool tls_start(NvmetQueue *q)
{
    NvmetQueueTls *tls = &q->tls;
    gnutls_session_t session;
    gnutls_psk_server_credentials_t cred;
    const char *errpos = NULL;
    int ret;

#ifdef NVMET_HAVE_PSK_HASHES
    ret = gnutls_psk_allocate_server_credentials2(&cred, GNUTLS_MAC_UNKNOWN);
#else
    ret = gnutls_psk_allocate_server_credentials(&cred);
#endif
    if (ret < 0) {
        tls_fail(q, "setup", ret);
        return false;
    }
    tls->cred = cred;
#ifdef NVMET_HAVE_PSK_HASHES
    gnutls_psk_set_server_credentials_function3(cred, tls_psk_cb3);
#else
    gnutls_psk_set_server_credentials_function(cred, tls_psk_cb);
#endif
    ret = gnutls_init(&session, GNUTLS_SERVER | GNUTLS_NONBLOCK |
                      GNUTLS_NO_TICKETS);
    if (ret < 0) {
        tls_fail(q, "setup", ret);
        return false;
    }
    tls->session = session;
    gnutls_session_set_ptr(session, q);
    ret = gnutls_priority_set_direct(session, NVMET_TLS_PRIORITY, &errpos);
    if (ret < 0) {
        tls_fail(q, "priority", ret);
        return false;
    }
    ret = gnutls_credentials_set(session, GNUTLS_CRD_PSK, cred);
    if (ret < 0) {
        tls_fail(q, "setup", ret);
        return false;
    }
    gnutls_transport_set_ptr(session, q);
    gnutls_transport_set_pull_function(session, tls_pull);
    gnutls_transport_set_push_function(session, tls_push);
    gnutls_session_set_keylog_function(session, tls_keylog_cb);
    tls->in = g_byte_array_new();
    tls->out = g_byte_array_new();
    tls->state = NVMET_TLS_HANDSHAKE;
    trace_nvmet_tls_start(q->name);
    return true;
}

/* Decrypt what arrived and hand it to the PDU parser. */
static void tls_recv_records(NvmetQueue *q)
{
    NvmetQueueTls *tls = &q->tls;
    g_autofree uint8_t *buf = g_malloc(TLS_RECORD_MAX);

    while (tls->state == NVMET_TLS_ACTIVE && !q->closing) {
        ssize_t n = gnutls_record_recv(tls->session, buf, TLS_RECORD_MAX);

        if (n > 0) {
            nvmet_pdu_input(q, buf, n);
            continue;
        }
        if (n == GNUTLS_E_AGAIN || n == GNUTLS_E_INTERRUPTED) {
            break;
        }
        if (n == 0) {
            trace_nvmet_tls_closed(q->name);
            nvmet_queue_close(q, "TLS close_notify from the host");
            break;
        }
        if (!gnutls_error_is_fatal(n)) {
            trace_nvmet_tls_warning(q->name, gnutls_strerror(n));
            continue;
        }
        tls_fail(q, "record receive", n);
        break;
    }
    nvmet_memzero(buf, TLS_RECORD_MAX);
}

static void tls_handshake(NvmetQueue *q)
{
    NvmetQueueTls *tls = &q->tls;
    int ret = gnutls_handshake(tls->session);

    if (ret == GNUTLS_E_AGAIN || ret == GNUTLS_E_INTERRUPTED) {
        return;
    }
    if (ret < 0) {
        if (gnutls_error_is_fatal(ret)) {
            tls_fail(q, "handshake", ret);
            return;
        }
        trace_nvmet_tls_warning(q->name, gnutls_strerror(ret));
        return;
    }
    tls->state = NVMET_TLS_ACTIVE;
    tls->active = true;
    tls->has_key = true;
    {
        g_autofree char *desc = gnutls_session_get_desc(tls->session);

        trace_nvmet_tls_established(q->name, tls->identity ? tls->identity :
                                    "", desc ? desc : "?");
    }
    /* records may have come right behind the handshake */
    tls_recv_records(q);
}

bool nvmet_tls_input(NvmetQueue *q, const void *buf, size_t len)
{
    NvmetQueueTls *tls = &q->tls;
    const uint8_t *p = buf;

    switch (tls->state) {
    case NVMET_TLS_OFF:
        return false;
    case NVMET_TLS_FAILED:
        return true;                    /* closing: drop */
    case NVMET_TLS_DETECT:
        if (!len) {
            return true;
        }
        /* a TLS handshake record starts with content type 22 */
        if (p[0] != 0x16) {
            if (q->port->cfg.tls == NVMET_PORT_TLS_REQUIRED) {
                trace_nvmet_tls_required(q->name, p[0]);
                tls->state = NVMET_TLS_FAILED;
                nvmet_queue_close(q, "cleartext connection on a port that "
                                  "requires TLS");
                return true;
            }
            tls->state = NVMET_TLS_OFF;
            return false;
        }
        if (!tls_start(q)) {
            return true;
        }
        /* fall through */
    case NVMET_TLS_HANDSHAKE:
    case NVMET_TLS_ACTIVE:
        g_byte_array_append(tls->in, p, len);
        if (tls->state == NVMET_TLS_HANDSHAKE) {
            tls_handshake(q);
        } else {
            tls_recv_records(q);
        }
        if (tls->out->len > tls->out_off) {
            nvmet_queue_kick(q);
        }
        return true;
    }
    return true;
}

/* Encrypt the PDUs waiting to be sent. */
static void tls_send_pending(NvmetQueue *q)
{
    NvmetQueueTls *tls = &q->tls;

    while (tls->state == NVMET_TLS_ACTIVE) {
        const uint8_t *data;
        size_t n = nvmet_plain_output(q, &data);
        ssize_t sent;

        if (!n) {
            break;
        }
        sent = gnutls_record_send(tls->session, data, MIN(n, TLS_RECORD_MAX));
        if (sent < 0) {
            if (sent == GNUTLS_E_AGAIN || sent == GNUTLS_E_INTERRUPTED) {
                continue;
            }
            tls_fail(q, "record send", sent);
            break;
        }
        nvmet_plain_output_advance(q, sent);
    }
}

size_t nvmet_tls_output(NvmetQueue *q, const uint8_t **data)
{
    NvmetQueueTls *tls = &q->tls;

    tls_send_pending(q);
    if (!tls->out || tls->out->len == tls->out_off) {
        *data = NULL;
        return 0;
    }
    *data = tls->out->data + tls->out_off;
    return tls->out->len - tls->out_off;
}

void nvmet_tls_output_advance(NvmetQueue *q, size_t n)
{
    NvmetQueueTls *tls = &q->tls;

    g_assert(n <= tls->out->len - tls->out_off);
    tls->out_off += n;
    if (tls->out_off == tls->out->len) {
        g_byte_array_set_size(tls->out, 0);
        tls->out_off = 0;
    }
}
