/*
 * NVMe-oF target engine, NVMe/TCP transport: the TLS 1.3 record step of
 * one connection (see tls.c).  The PDU layer (tcp.c) drives it: received
 * bytes go in with nvmet_tls_input() and decrypted PDU bytes come out of
 * nvmet_tls_recv(); PDUs to send go in with nvmet_tls_send() and records
 * come out of nvmet_tls_output().
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#ifndef NVMET_ENGINE_TLS_H
#define NVMET_ENGINE_TLS_H

#include "req.h"

/* Largest plaintext of one TLS record */
#define NVMET_TLS_RECORD_MAX 16384

typedef enum NvmetTlsState {
    NVMET_TLS_OFF,          /* cleartext NVMe/TCP */
    NVMET_TLS_DETECT,       /* first byte decides: TLS record or ICReq */
    NVMET_TLS_HANDSHAKE,
    NVMET_TLS_ACTIVE,       /* PDUs travel in TLS records */
    NVMET_TLS_FAILED,       /* handshake or record error: closing */
} NvmetTlsState;

/*
 * The connection's own GnuTLS session and the ciphertext in both
 * directions.  What the handshake proved (the PSK and the names it binds)
 * goes to the SQ (NvmetSqTls), where the core checks it.
 */
typedef struct NvmetTlsConn {
    NvmetSq *sq;
    NvmetQueue *q;          /* the user's handle and opaque, for the key log */
    void *opaque;
    NvmetTlsState state;
    void *session;          /* gnutls_session_t */
    void *cred;             /* gnutls_psk_server_credentials_t */
    GByteArray *in;         /* received records not yet taken by GnuTLS */
    size_t in_off;
    GByteArray *out;        /* records to send */
    size_t out_off;
    /* what the handshake got as far as, for the alert of a refusal */
    bool psk_unknown;       /* the PSK callback refused the identity */
    bool psk_found;         /* ... or found a key for it */
    bool server_hello;      /* the ClientHello (binder included) passed */
    int alert;              /* the fatal alert sent, -1: none */
    NvmetFaultHit fault;    /* a fault at the PSK lookup, for the handshake */
} NvmetTlsConn;

void nvmet_tls_init(NvmetTlsConn *tls, NvmetSq *sq, NvmetQueue *q,
                    void *opaque);
void nvmet_tls_free(NvmetTlsConn *tls);

/*
 * Bytes received on the connection.  False if it is (or turns out to be)
 * cleartext: then they are PDU bytes for the caller.  Otherwise the TLS
 * step took them, and decrypted bytes are read with nvmet_tls_recv().
 */
bool nvmet_tls_input(NvmetTlsConn *tls, const void *buf, size_t len);
/* Decrypted PDU bytes into @buf; 0 when there are none for now. */
size_t nvmet_tls_recv(NvmetTlsConn *tls, uint8_t *buf, size_t len);

/* The connection carries TLS records (only), now and until it closes. */
bool nvmet_tls_in_use(NvmetTlsConn *tls);
/* PDUs may be sent: the session is established and has not failed. */
bool nvmet_tls_can_send(NvmetTlsConn *tls);
/* Encrypt PDU bytes; returns how many it took, or -1 if TLS failed. */
ssize_t nvmet_tls_send(NvmetTlsConn *tls, const uint8_t *buf, size_t len);
/* The fatal alert sent when the session failed (RFC 8446), or -1. */
int nvmet_tls_alert_sent(NvmetTlsConn *tls);
/* Records to send, as nvmet_queue_output() / _advance(). */
size_t nvmet_tls_output(NvmetTlsConn *tls, const uint8_t **data);
void nvmet_tls_output_advance(NvmetTlsConn *tls, size_t n);
bool nvmet_tls_output_pending(NvmetTlsConn *tls);

#endif /* NVMET_ENGINE_TLS_H */
