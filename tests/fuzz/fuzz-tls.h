/*
 * Fuzzing harness: a TLS 1.3 PSK client over in-memory buffers, so that the
 * harness can encrypt what it sends to the engine, decrypt what the engine
 * sends, and get at the records in between (see fuzz-tls.c).
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#ifndef FUZZ_TLS_H
#define FUZZ_TLS_H

#include <glib.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

typedef struct FuzzTls FuzzTls;

/* Options of a client session (fuzz_tls_new). */
enum {
    FUZZ_TLS_ECDHE = 1,         /* (EC)DHE-PSK with X25519, not PSK only */
    FUZZ_TLS_CHACHA = 2,        /* offer ChaCha20-Poly1305 only (the
                                 * target has no such suite: must fail) */
};

/* Results of fuzz_tls_handshake() and fuzz_tls_recv() besides data. */
#define FUZZ_TLS_AGAIN 0        /* waiting for the peer */

/*
 * A client session presenting @identity (@identity_len bytes, may hold
 * NULs) with @key; @hash 1: SHA-256 PSK and suite, 2: SHA-384.
 * @max_recv: record size limit asked of the peer (0: none).
 */
FuzzTls *fuzz_tls_new(const void *identity, size_t identity_len,
                      const uint8_t *key, size_t key_len, uint8_t hash,
                      unsigned opts, size_t max_recv);
void fuzz_tls_free(FuzzTls *t);

/* Ciphertext from the peer. */
void fuzz_tls_input(FuzzTls *t, const uint8_t *p, size_t len);
/* Ciphertext the session produced for the peer; the caller empties it. */
GByteArray *fuzz_tls_output(FuzzTls *t);

/* 1: done, FUZZ_TLS_AGAIN, or a negative GnuTLS error. */
int fuzz_tls_handshake(FuzzTls *t);
/* Encrypt @len bytes in records of at most @rec bytes (0: 16 KiB); 0 or a
 * negative GnuTLS error. */
int fuzz_tls_send(FuzzTls *t, const void *p, size_t len, size_t rec);
/*
 * Decrypt: > 0 bytes, FUZZ_TLS_AGAIN when no whole record is buffered, or a
 * negative GnuTLS error; *eof set on close_notify.
 */
ssize_t fuzz_tls_recv(FuzzTls *t, uint8_t *buf, size_t len, bool *eof);
int fuzz_tls_key_update(FuzzTls *t, bool request_peer);
int fuzz_tls_alert(FuzzTls *t, bool fatal, uint8_t desc);
int fuzz_tls_bye(FuzzTls *t);

/* GnuTLS error helpers, so that the harness needs no GnuTLS header. */
const char *fuzz_tls_strerror(int err);
bool fuzz_tls_err_is_alert(int err);       /* the peer sent a fatal alert */
/* The fatal alert the peer sent (after fuzz_tls_err_is_alert()) */
int fuzz_tls_alert_received(FuzzTls *t);
/* Is @alert one RFC 8446 has for a refused PSK handshake? */
bool fuzz_tls_alert_is_psk_refusal(int alert);
bool fuzz_tls_err_is_fatal(int err);

#endif /* FUZZ_TLS_H */
