/*
 * NVMe-oF target engine, NVMe/TCP transport: the TLS 1.3 record step of
 * one connection.
 *
 * Every connection owns a GnuTLS server session that runs over two
 * in-memory buffers: received bytes go in with nvmet_tls_input(), and the
 * PDU layer (tcp.c) reads the decrypted stream with nvmet_tls_recv(); it
 * encrypts the PDUs it produced with nvmet_tls_send() when the user asks
 * for output.  No socket is involved.  The PSK is chosen by the identity
 * the host presents (nvmet_tls_find_psk() in concat.c), and what the
 * handshake proved goes to the SQ for the core to check.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#include "qemu/osdep.h"

#include <gnutls/gnutls.h>

#include "tls.h"
#include "concat.h"
#include "crypto.h"
#include "event.h"
#include "fault.h"
#include "trace.h"

/* TLS 1.3 with a PSK (plain or with (EC)DHE), the two NVMe/TCP suites */
#define NVMET_TLS_PRIORITY                                                  \
    "NONE:+VERS-TLS1.3:+AES-128-GCM:+AES-256-GCM:+AEAD:+SHA256:+SHA384:"   \
    "+PSK:+DHE-PSK:+ECDHE-PSK:+GROUP-ALL:+SIGN-ALL:+COMP-NULL"

/*
 * GnuTLS 3.8.11 lets a server have PSKs of either hash (credentials for
 * GNUTLS_MAC_UNKNOWN); older versions know SHA-256 PSKs only.
 */
#if GNUTLS_VERSION_NUMBER >= 0x03080b
#define NVMET_HAVE_PSK_HASHES 1
#endif

static char *hex(const uint8_t *p, size_t len)
{
    static const char digits[] = "0123456789abcdef";
    char *s = g_malloc(len * 2 + 1);

    for (size_t i = 0; i < len; i++) {
        s[2 * i] = digits[p[i] >> 4];
        s[2 * i + 1] = digits[p[i] & 0xf];
    }
    s[len * 2] = 0;
    return s;
}

/*
 * Once a session started, the connection carries records only, to the end:
 * after a failure, what GnuTLS left to send (an alert) goes out, but never
 * the PDUs still waiting to be encrypted, which would go in the clear.
 */
bool nvmet_tls_in_use(NvmetTlsConn *tls)
{
    return tls->state == NVMET_TLS_HANDSHAKE ||
           tls->state == NVMET_TLS_ACTIVE ||
           (tls->state == NVMET_TLS_FAILED && tls->out);
}

void nvmet_tls_init(NvmetTlsConn *tls, NvmetSq *sq, NvmetQueue *q,
                    void *opaque)
{
    tls->sq = sq;
    tls->q = q;
    tls->opaque = opaque;
    tls->state = sq->port->cfg.tls == NVMET_PORT_TLS_NONE ?
                 NVMET_TLS_OFF : NVMET_TLS_DETECT;
    tls->alert = -1;
}

void nvmet_tls_free(NvmetTlsConn *tls)
{
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
}

/* ---- GnuTLS transport over the connection's buffers ---------------------- */

static ssize_t tls_pull(gnutls_transport_ptr_t ptr, void *buf, size_t len)
{
    NvmetTlsConn *tls = ptr;
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
    NvmetTlsConn *tls = ptr;

    g_byte_array_append(tls->out, buf, len);
    return len;
}

/* ---- PSK and key log callbacks ------------------------------------------ */

static int tls_psk_cb(gnutls_session_t session, const char *identity,
                      gnutls_datum_t *key)
{
    NvmetTlsConn *tls = gnutls_session_get_ptr(session);
    NvmetSq *sq = tls->sq;
    NvmetSqTls *bound = &sq->tls;
    NvmetTlsPskMatch m = { 0 };
    const char *why = "no such PSK";

    g_free(bound->identity);
    bound->identity = g_strdup(identity);
    /* the port is gone (nvmet_port_free()) once the queue closes */
    if (sq->closing || !sq->port) {
        why = "the queue is closing";
    }
    if (sq->closing || !sq->port ||
        !nvmet_tls_find_psk(sq->port, identity, &m, &why)) {
        trace_nvmet_tls_psk_unknown(sq->name, identity, why);
        tls->psk_unknown = true;
        return -1;
    }
    tls->psk_found = true;
    if (nvmet_fault_armed(sq->t, NVMET_FP_TLS_IDENTITY)) {
        NvmetFaultCtx ctx = { .subnqn = m.subnqn, .hostnqn = m.hostnqn };

        if (nvmet_fault_at(sq, NVMET_FP_TLS_IDENTITY, &ctx, &tls->fault)) {
            /* refused; tls_handshake() fails the way the fault says */
            nvmet_memzero(m.key, sizeof(m.key));
            g_free(m.hostnqn);
            g_free(m.subnqn);
            return -1;
        }
    }
    key->data = gnutls_malloc(m.key_len);
    memcpy(key->data, m.key, m.key_len);
    key->size = m.key_len;
    nvmet_memzero(m.key, sizeof(m.key));
    g_free(bound->hostnqn);
    g_free(bound->subnqn);
    bound->hostnqn = m.hostnqn;
    bound->subnqn = m.subnqn;
    bound->generated = m.generated;
    bound->hash = m.hash;
    bound->key_serial = m.serial;
    trace_nvmet_tls_psk(sq->name, identity, m.generated ? "generated" :
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
        NvmetTlsConn *tls = gnutls_session_get_ptr(session);

        trace_nvmet_tls_psk_unknown(tls->sq->name, identity,
                                    "a NUL byte in the identity");
        tls->psk_unknown = true;
        return -1;
    }
    return tls_psk_cb(session, identity, key);
}
#endif

static int tls_keylog_cb(gnutls_session_t session, const char *label,
                         const gnutls_datum_t *secret)
{
    NvmetTlsConn *tls = gnutls_session_get_ptr(session);
    NvmetTarget *t = tls->sq->t;
    gnutls_datum_t crandom, srandom;
    g_autofree char *cr = NULL, *sec = NULL, *line = NULL;

    if (!t->ops.tls_keylog) {
        return 0;
    }
    gnutls_session_get_random(session, &crandom, &srandom);
    cr = hex(crandom.data, crandom.size);
    sec = hex(secret->data, secret->size);
    line = g_strdup_printf("%s %s %s", label, cr, sec);
    t->ops.tls_keylog(t->opaque, tls->q, tls->opaque, line);
    nvmet_memzero(sec, strlen(sec));
    nvmet_memzero(line, strlen(line));
    return 0;
}

/* The ServerHello is due: the ClientHello passed, PSK binder included. */
static int tls_hello_hook(gnutls_session_t session, unsigned int htype,
                          unsigned when, unsigned int incoming,
                          const gnutls_datum_t *msg)
{
    NvmetTlsConn *tls = gnutls_session_get_ptr(session);

    tls->server_hello = true;
    return 0;
}

/* ---- session ------------------------------------------------------------ */

/* "unknown_psk_identity" for GNUTLS_A_UNKNOWN_PSK_IDENTITY */
static char *alert_name(int alert)
{
    const char *n = gnutls_alert_get_strname(alert);

    if (!n) {
        return g_strdup_printf("alert %d", alert);
    }
    return g_ascii_strdown(g_str_has_prefix(n, "GNUTLS_A_") ? n + 9 : n, -1);
}

/*
 * The fatal alert RFC 8446 asks for when the session fails with @err, or
 * -1 for none.  GnuTLS sends none by itself, and for a refused PSK its
 * mapping (gnutls_error_to_alert()) would say internal_error or
 * illegal_parameter; the handshake's progress tells the cases apart.
 */
static int tls_alert_for(NvmetTlsConn *tls, int err, const char **why)
{
    int level;

    if (err == GNUTLS_E_FATAL_ALERT_RECEIVED || !gnutls_error_is_fatal(err)) {
        *why = "the host sent an alert";
        return -1;
    }
    if (tls->state == NVMET_TLS_HANDSHAKE && !tls->server_hello) {
        if (tls->psk_unknown) {
            /* RFC 8446 6.2: no acceptable PSK identity */
            *why = "no PSK with that identity";
            return GNUTLS_A_UNKNOWN_PSK_IDENTITY;
        }
        if (tls->psk_found && err == GNUTLS_E_RECEIVED_ILLEGAL_PARAMETER) {
            /* RFC 8446 6.2: the PSK binder did not validate */
            *why = "the PSK binder does not verify: wrong key";
            return GNUTLS_A_DECRYPT_ERROR;
        }
    }
    *why = gnutls_strerror(err);
    /* e.g. bad_record_mac for a record that does not decrypt */
    return gnutls_error_to_alert(err, &level);
}

/*
 * The session's cipher suite as TLS 1.3 names it (TLS_AES_128_GCM_SHA256:
 * the AEAD and the PRF hash), key exchange and version, for events and
 * queries.
 */
static void tls_session_names(gnutls_session_t session, NvmetSqTls *bound)
{
    const char *cipher = gnutls_cipher_get_name(gnutls_cipher_get(session));
    const char *prf = gnutls_digest_get_name(gnutls_prf_hash_get(session));
    g_autofree char *suite = g_strdup_printf("TLS_%s_%s",
                                             cipher ? cipher : "?",
                                             prf ? prf : "?");

    g_strdelimit(suite, "-", '_');
    g_strlcpy(bound->cipher, suite, sizeof(bound->cipher));
    bound->kx = gnutls_kx_get_name(gnutls_kx_get(session));
    bound->version = gnutls_protocol_get_name(
        gnutls_protocol_get_version(session));
}

/* A TLS event of the connection, with what its handshake proved so far. */
static void tls_event(NvmetTlsConn *tls, NvmetEvent *ev)
{
    const NvmetSqTls *bound = &tls->sq->tls;

    ev->u.tls.identity = bound->identity;
    ev->u.tls.generated = bound->generated;
    ev->u.tls.hash = bound->hash;
    ev->u.tls.key_serial = bound->key_serial;
    ev->u.tls.cipher = bound->cipher[0] ? bound->cipher : NULL;
    ev->u.tls.kx = bound->kx;
    ev->u.tls.version = bound->version;
    nvmet_event_sq(tls->sq, ev);
}

static void tls_fail(NvmetTlsConn *tls, const char *what, int err)
{
    g_autofree char *why = g_strdup_printf("TLS %s failed: %s", what,
                                           gnutls_strerror(err));
    const char *reason = NULL;
    int alert = -1;
    NvmetEvent ev = { .type = NVMET_EVENT_TLS_FAILED, .reason = why };

    trace_nvmet_tls_error(tls->sq->name, what, gnutls_strerror(err));
    if (tls->session) {
        alert = tls_alert_for(tls, err, &reason);
    }
    tls->state = NVMET_TLS_FAILED;
    if (alert >= 0) {
        g_autofree char *name = alert_name(alert);
        /*
         * A memory transport never blocks, so the record is in tls->out
         * now; nvmet_tls_in_use() keeps the connection on records, and
         * this one goes out before the close.
         */
        int ret = gnutls_alert_send(tls->session, GNUTLS_AL_FATAL, alert);

        if (ret < 0) {
            trace_nvmet_tls_alert_failed(tls->sq->name, name,
                                         gnutls_strerror(ret));
        } else {
            tls->alert = alert;
            trace_nvmet_tls_alert(tls->sq->name, alert, name, reason);
        }
    }
    if (tls->session && (err == GNUTLS_E_FATAL_ALERT_RECEIVED ||
                         err == GNUTLS_E_WARNING_ALERT_RECEIVED)) {
        ev.u.tls.alert = gnutls_alert_get_name(gnutls_alert_get(tls->session));
        ev.u.tls.alert_received = true;
    } else if (alert >= 0) {
        /* the alert we sent (or meant to send) */
        ev.u.tls.alert = gnutls_alert_get_name(alert);
    }
    tls_event(tls, &ev);
    nvmet_sq_close(tls->sq, why);
}

int nvmet_tls_alert_sent(NvmetTlsConn *tls)
{
    return tls->alert;
}

/*
 * A fault fired at a TLS step: send the fatal alert it chose (dropping
 * what GnuTLS left to send since @keep bytes), or close without one.
 */
static void tls_fault_fail(NvmetTlsConn *tls, const NvmetFaultHit *hit,
                           size_t keep)
{
    g_autofree char *why = NULL;
    NvmetEvent ev = { .type = NVMET_EVENT_TLS_FAILED };
    const char *name;
    int ret;

    tls->state = NVMET_TLS_FAILED;
    if (hit->action == NVMET_FA_CLOSE) {
        why = g_strdup_printf("fault %u closed the TLS connection", hit->id);
        g_byte_array_set_size(tls->out, tls->out_off);
        nvmet_sq_close(tls->sq, why);
        return;
    }
    g_byte_array_set_size(tls->out, MAX(keep, tls->out_off));
    ret = gnutls_alert_send(tls->session, GNUTLS_AL_FATAL, hit->alert);
    if (ret >= 0) {
        tls->alert = hit->alert;
    }
    name = gnutls_alert_get_name(hit->alert);
    why = g_strdup_printf("fault %u failed TLS with alert %u (%s)%s",
                          hit->id, hit->alert, name ? name : "?",
                          ret < 0 ? ": could not send it" : "");
    trace_nvmet_tls_error(tls->sq->name, "fault injection", why);
    ev.reason = why;
    ev.u.tls.alert = name;
    tls_event(tls, &ev);
    nvmet_sq_close(tls->sq, why);
}

/* A fault at a TLS step of a running session: true if it fired. */
static bool tls_fault(NvmetTlsConn *tls, NvmetFaultPoint p)
{
    NvmetFaultHit hit;

    if (!nvmet_fault_armed(tls->sq->t, p) ||
        !nvmet_fault_at(tls->sq, p, NULL, &hit)) {
        return false;
    }
    tls_fault_fail(tls, &hit, tls->out->len);
    return true;
}

/*
 * The priority string, parsed once per process (gnutls_priority_set()
 * takes a reference; the cache lives as long as the process): parsing it
 * for each connection was a tenth of a PSK handshake.  NULL when GnuTLS
 * refuses it, which then fails every session.
 */
static gnutls_priority_t tls_priority(const char **errpos)
{
    static gsize once;
    static gnutls_priority_t prio;

    if (g_once_init_enter(&once)) {
        if (gnutls_priority_init(&prio, NVMET_TLS_PRIORITY, errpos) < 0) {
            prio = NULL;
        }
        g_once_init_leave(&once, 1);
    }
    return prio;
}

static bool tls_start(NvmetTlsConn *tls)
{
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
        tls_fail(tls, "setup", ret);
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
        tls_fail(tls, "setup", ret);
        return false;
    }
    tls->session = session;
    gnutls_session_set_ptr(session, tls);
    ret = gnutls_priority_set(session, tls_priority(&errpos));
    if (ret < 0) {
        tls_fail(tls, "priority", ret);
        return false;
    }
    ret = gnutls_credentials_set(session, GNUTLS_CRD_PSK, cred);
    if (ret < 0) {
        tls_fail(tls, "setup", ret);
        return false;
    }
    gnutls_transport_set_ptr(session, tls);
    gnutls_transport_set_pull_function(session, tls_pull);
    gnutls_transport_set_push_function(session, tls_push);
    gnutls_session_set_keylog_function(session, tls_keylog_cb);
    gnutls_handshake_set_hook_function(session, GNUTLS_HANDSHAKE_SERVER_HELLO,
                                       GNUTLS_HOOK_PRE, tls_hello_hook);
    tls->in = g_byte_array_new();
    tls->out = g_byte_array_new();
    tls->state = NVMET_TLS_HANDSHAKE;
    trace_nvmet_tls_start(tls->sq->name);
    return true;
}

static void tls_handshake(NvmetTlsConn *tls)
{
    NvmetSqTls *bound = &tls->sq->tls;
    g_autofree char *desc = NULL;
    NvmetEvent ev = { 0 };
    size_t sent_before = tls->out->len;
    int ret = gnutls_handshake(tls->session);

    if (tls->fault.id) {
        /* the PSK callback refused the identity for a fault */
        tls_fault_fail(tls, &tls->fault, sent_before);
        return;
    }
    if (ret == GNUTLS_E_AGAIN || ret == GNUTLS_E_INTERRUPTED) {
        return;
    }
    if (ret < 0) {
        if (gnutls_error_is_fatal(ret)) {
            tls_fail(tls, "handshake", ret);
            return;
        }
        trace_nvmet_tls_warning(tls->sq->name, gnutls_strerror(ret));
        return;
    }
    tls->state = NVMET_TLS_ACTIVE;
    bound->active = true;
    bound->has_key = true;
    tls_session_names(tls->session, bound);
    desc = gnutls_session_get_desc(tls->session);
    trace_nvmet_tls_established(tls->sq->name,
                                bound->identity ? bound->identity : "",
                                desc ? desc : "?");
    ev.type = NVMET_EVENT_TLS_DONE;
    tls_event(tls, &ev);
    tls_fault(tls, NVMET_FP_TLS_HANDSHAKE);
}

bool nvmet_tls_input(NvmetTlsConn *tls, const void *buf, size_t len)
{
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
            if (tls->sq->port &&
                tls->sq->port->cfg.tls == NVMET_PORT_TLS_REQUIRED) {
                trace_nvmet_tls_required(tls->sq->name, p[0]);
                tls->state = NVMET_TLS_FAILED;
                nvmet_sq_close(tls->sq, "cleartext connection on a port "
                               "that requires TLS");
                return true;
            }
            tls->state = NVMET_TLS_OFF;
            return false;
        }
        if (!tls_start(tls)) {
            return true;
        }
        /* fall through */
    case NVMET_TLS_HANDSHAKE:
    case NVMET_TLS_ACTIVE:
        g_byte_array_append(tls->in, p, len);
        if (tls->state == NVMET_TLS_HANDSHAKE) {
            /* records may come right behind it: nvmet_tls_recv() */
            tls_handshake(tls);
        }
        return true;
    }
    return true;
}

size_t nvmet_tls_recv(NvmetTlsConn *tls, uint8_t *buf, size_t len)
{
    while (tls->state == NVMET_TLS_ACTIVE && !tls->sq->closing) {
        ssize_t n = gnutls_record_recv(tls->session, buf, len);

        if (n > 0) {
            if (tls_fault(tls, NVMET_FP_TLS_RECORD)) {
                break;
            }
            return n;
        }
        if (n == GNUTLS_E_AGAIN || n == GNUTLS_E_INTERRUPTED) {
            break;
        }
        if (n == 0) {
            trace_nvmet_tls_closed(tls->sq->name);
            nvmet_sq_close(tls->sq, "TLS close_notify from the host");
            break;
        }
        if (!gnutls_error_is_fatal(n)) {
            trace_nvmet_tls_warning(tls->sq->name, gnutls_strerror(n));
            continue;
        }
        tls_fail(tls, "record receive", n);
        break;
    }
    return 0;
}

/* ---- output -------------------------------------------------------------- */

bool nvmet_tls_can_send(NvmetTlsConn *tls)
{
    return tls->state == NVMET_TLS_ACTIVE;
}

ssize_t nvmet_tls_send(NvmetTlsConn *tls, const uint8_t *buf, size_t len)
{
    ssize_t sent;

    do {
        sent = gnutls_record_send(tls->session, buf,
                                  MIN(len, NVMET_TLS_RECORD_MAX));
    } while (sent == GNUTLS_E_AGAIN || sent == GNUTLS_E_INTERRUPTED);
    if (sent < 0) {
        tls_fail(tls, "record send", sent);
        return -1;
    }
    return sent;
}

bool nvmet_tls_output_pending(NvmetTlsConn *tls)
{
    return tls->out && tls->out->len > tls->out_off;
}

size_t nvmet_tls_output(NvmetTlsConn *tls, const uint8_t **data)
{
    if (!nvmet_tls_output_pending(tls)) {
        *data = NULL;
        return 0;
    }
    *data = tls->out->data + tls->out_off;
    return tls->out->len - tls->out_off;
}

void nvmet_tls_output_advance(NvmetTlsConn *tls, size_t n)
{
    g_assert(n <= tls->out->len - tls->out_off);
    tls->out_off += n;
    if (tls->out_off == tls->out->len) {
        g_byte_array_set_size(tls->out, 0);
        tls->out_off = 0;
    }
}
