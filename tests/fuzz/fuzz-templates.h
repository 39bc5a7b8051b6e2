/*
 * Fuzzing harness: building blocks of valid inputs (operation snippets), for
 * the seed corpus generator and the random mode of the standalone driver.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#ifndef FUZZ_TEMPLATES_H
#define FUZZ_TEMPLATES_H

#include <glib.h>
#include <stdbool.h>
#include <stdint.h>

/* splitmix64 */
uint64_t fuzz_rand(uint64_t *state);

/* Append one operation byte and its arguments. */
void fuzz_tpl_op(GByteArray *b, uint8_t op, const uint8_t *args, size_t n);
/* Append @len raw bytes as FUZZ_OP_RAW / FUZZ_OP_RAW_CHUNKED operations. */
void fuzz_tpl_raw(GByteArray *b, const uint8_t *p, size_t len, uint8_t chunk);

/* Raw PDUs, without digests. */
void fuzz_tpl_raw_icreq(GByteArray *b, bool hdgst, bool ddgst);
void fuzz_tpl_raw_connect(GByteArray *b, uint16_t qid, uint16_t cntlid,
                          const char *subnqn, const char *hostnqn);
void fuzz_tpl_raw_prop_set(GByteArray *b, uint16_t cid, uint32_t off,
                           uint32_t val);
void fuzz_tpl_raw_identify(GByteArray *b, uint16_t cid, uint8_t cns,
                           uint32_t nsid);

/* Structured operations (see fuzz-nvmet.c for the argument layouts). */
void fuzz_tpl_identify(GByteArray *b, uint8_t cns, unsigned nsid_sel);
void fuzz_tpl_get_log(GByteArray *b, uint8_t lid, uint32_t numd,
                      unsigned nsid_sel);
void fuzz_tpl_features(GByteArray *b, bool set, uint8_t fid, uint32_t cdw11);
void fuzz_tpl_admin(GByteArray *b, unsigned sel);
void fuzz_tpl_rw(GByteArray *b, uint8_t sel, uint8_t ctl, uint8_t slba,
                 uint8_t nlb);
void fuzz_tpl_prop(GByteArray *b, bool set, uint8_t b0);
void fuzz_tpl_negotiate(GByteArray *b, uint16_t tid, uint8_t hash,
                        uint8_t group);
void fuzz_tpl_auth_recv(GByteArray *b, uint16_t al);
void fuzz_tpl_host_auth(GByteArray *b, uint8_t f, uint8_t g, uint16_t tid);
void fuzz_tpl_connect(GByteArray *b, uint8_t ctl);
void fuzz_tpl_conn(GByteArray *b, uint8_t sub, uint8_t arg);
void fuzz_tpl_clock(GByteArray *b, uint8_t arg);
void fuzz_tpl_held(GByteArray *b, uint8_t arg);
void fuzz_tpl_h2c(GByteArray *b, uint8_t ctl);

/* FUZZ_OP_TLS (see fuzz-nvmet.h for the layouts) */
typedef struct FuzzTplSession {
    uint8_t a, b, opts;                 /* FUZZ_TLS_A_*, FUZZ_TLS_B_*, ... */
    uint8_t mg_at, mg_arg2;             /* with FUZZ_TLS_O_MANGLE() */
    uint16_t mg_arg;
    uint8_t chunk;                      /* with FUZZ_TLS_O_CHUNK */
    const uint8_t *identity;            /* FUZZ_PSK_RAW */
    uint8_t id_len;
} FuzzTplSession;

void fuzz_tpl_tls(GByteArray *b, uint8_t sub, const uint8_t *args, size_t n);
void fuzz_tpl_tls_session(GByteArray *b, const FuzzTplSession *s);
/* a session on the TLS-allowed port: HOSTNQN3's PSK, @level, @sub */
void fuzz_tpl_tls_simple(GByteArray *b, uint8_t psk, uint8_t sub,
                         uint8_t level);
void fuzz_tpl_tls_mangle(GByteArray *b, uint8_t kind, uint8_t at,
                         uint16_t arg, uint8_t arg2);
void fuzz_tpl_tls_release(GByteArray *b, uint8_t chunk);
void fuzz_tpl_tls_ctl(GByteArray *b, uint8_t what, uint8_t arg);
void fuzz_tpl_tls_hostpsk(GByteArray *b, uint8_t arg);
void fuzz_tpl_tls_concat(GByteArray *b, uint8_t f, uint16_t tid);
/* one FUZZ_TLS_RECORDS record: header byte @h (see fuzz-nvmet.c) */
void fuzz_tpl_tls_record(GByteArray *b, uint8_t h, uint16_t declared,
                         const uint8_t *body, uint8_t len);

/* FUZZ_OP_FAULT (see fuzz-nvmet.h) */
void fuzz_tpl_fault(GByteArray *b, uint8_t sub, uint8_t step, uint8_t act,
                    uint8_t when, uint8_t flt, const uint8_t *params);
/* A fault at a possible step and action (mostly), random otherwise. */
void fuzz_tpl_fault_random(GByteArray *b, uint64_t *rng);

/* Append one random snippet. */
void fuzz_tpl_random(GByteArray *b, uint64_t *rng);
/* Append one random snippet of FUZZ_OP_TLS. */
void fuzz_tpl_tls_random(GByteArray *b, uint64_t *rng);
/* A TLS session that reaches an enabled controller (for --tls inputs). */
void fuzz_tpl_tls_start(GByteArray *b, uint64_t *rng);

#endif /* FUZZ_TEMPLATES_H */
