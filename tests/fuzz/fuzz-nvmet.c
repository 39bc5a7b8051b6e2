/*
 * Fuzzing harness for the NVMe-oF TCP target engine.
 *
 * Each input builds a fresh target (a port without TLS, one with TLS
 * allowed and one with TLS required, an allow-any-host subsystem with a
 * 512 B and a 4 KiB block namespace, a subsystem whose host must pass
 * bidirectional DH-HMAC-CHAP, and a host with a configured TLS PSK),
 * optionally drives a valid prefix (ICReq, Connect, authentication) with
 * the test host, then interprets the rest of the input as operations
 * (fuzz-nvmet.h): raw bytes cut at fuzzed boundaries, framed capsules with
 * correct digests, answers to R2Ts, clock advances, connection churn, held
 * block I/O, TLS sessions and the records under them.  Everything the
 * engine sends is parsed and checked for sane PDU framing (decrypted first
 * on TLS connections); everything is freed at the end of the input.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <malloc.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nvmet/engine.h"
#include "nvmet/fault.h"
#include "nvmet/proto.h"
#include "nvmet/trace-hook.h"
#include "../qtest/nvmf-host.h"
#include "../unit/nvmet-ramdisk.h"
#include "../../nvmet/engine/crypto.h"
#include "fuzz-nvmet.h"
#include "fuzz-tls.h"

#define FUZZ_MAX_CONNS      12
#define FUZZ_MAX_R2T        16
#define FUZZ_MAX_HOST_AUTH  3
#define FUZZ_INLINE_SIZE    8192
#define FUZZ_MAXH2CDATA     8192
#define FUZZ_MDTS           2           /* 16 KiB transfers */
#define FUZZ_MAX_XFER       (4096u << FUZZ_MDTS)
#define FUZZ_NS1_SIZE       (64 * 1024)
#define FUZZ_NS2_SIZE       (128 * 1024)
#define FUZZ_KATO_MS        5000
#define FUZZ_SERVICE_LOOPS  10000
/* GnuTLS refuses more than 8 key updates a second: stay below, so that
 * the outcome does not depend on the wall clock */
#define FUZZ_MAX_KEY_UPDATES 6
#define FUZZ_GEN_PSK_LIFETIME_MS (3600 * 1000)      /* as concat.c */


/* ---- input reader ---------------------------------------------------------- */

typedef struct FuzzIn {
    const uint8_t *p;
    size_t len, pos;
} FuzzIn;

static bool in_eof(FuzzIn *in)
{
    return in->pos >= in->len;
}

static uint8_t in_u8(FuzzIn *in)
{
    return in->pos < in->len ? in->p[in->pos++] : 0;
}

static uint16_t in_u16(FuzzIn *in)
{
    uint16_t v = in_u8(in);

    return v | (uint16_t)in_u8(in) << 8;
}

static uint32_t in_u32(FuzzIn *in)
{
    uint32_t v = in_u16(in);

    return v | (uint32_t)in_u16(in) << 16;
}

/* Copy @n bytes (zeroes past the end of the input). */
static void in_bytes(FuzzIn *in, uint8_t *dst, size_t n)
{
    size_t avail = MIN(n, in->len - MIN(in->pos, in->len));

    memcpy(dst, in->p + in->pos, avail);
    memset(dst + avail, 0, n - avail);
    in->pos += avail;
}

/* ---- state ------------------------------------------------------------------ */

typedef struct FuzzR2T {
    uint16_t cccid, ttag;
    uint32_t datao, datal;
} FuzzR2T;

/* Parser of the byte stream the engine sends on one connection. */
typedef struct OutCheck {
    GByteArray *pdu;
    uint32_t plen;              /* of the PDU being collected; 0: unknown */
    bool icresp, term, hdgst, ddgst;
    unsigned pdus;
    /* digests faults spoiled: wrong ones are fine, that many */
    unsigned bad_hdgst, bad_ddgst;
} OutCheck;

/* The harness's side of the TLS layer of one connection. */
typedef struct ConnTls {
    uint8_t port;               /* NVMET_PORT_TLS_* of the connection's port */
    bool fed;                   /* its first byte went in */
    bool on;                    /* ... and was a TLS record: records follow */
    FuzzTls *tc;                /* the harness's client session, or NULL */
    bool up;                    /* handshake done: PDUs go encrypted */
    bool lost;                  /* the client session is of no more use */
    bool clean;                 /* only the client's valid records went in */
    bool meddled;               /* something else than its records, in order */
    bool unframed;              /* the engine may be amid a record the
                                 * harness does not know the end of */
    bool expect_close;          /* a tampered record went in */
    bool dropped;               /* a record was dropped: the next one fails */
    GByteArray *rx;             /* decrypted, not read by the test host yet */
    /* records from the engine */
    GByteArray *rec;            /* the one being collected */
    unsigned nrec;
    bool fatal_alert;           /* a cleartext fatal alert went out */
    /* what the harness does to the client's records (FUZZ_MG_*) */
    uint8_t mg_kind, mg_at, mg_arg2;
    uint16_t mg_arg;
    unsigned mg_seen;           /* records since the mangle was armed */
    GByteArray *held;           /* ciphertext held back, sent by RELEASE */
    bool held_tampered;
    GByteArray *swap;           /* a record to deliver after the next one */
    unsigned chunk;             /* deliver ciphertext in pieces (0: at once) */
    size_t rec_size;            /* plaintext per record (0: up to 16 KiB) */
    unsigned key_updates;
    bool valid;                 /* the engine must accept the client's PSK */
    bool known;                 /* ... and the harness knows whether */
    const char *hostnqn, *subnqn; /* the Connect that fits the session */
} ConnTls;

/* The generated PSK of HOSTNQN for one subsystem, as the host knows it. */
typedef struct FuzzGenPsk {
    char *identity;             /* NULL: none */
    bool unknown;               /* an exchange broke off: the engine may
                                 * hold another one */
    uint8_t key[48];
    uint8_t hash;
    int64_t expires;
    bool spoilt;                /* a fault forgot or spoiled the next one */
} FuzzGenPsk;

typedef struct Fuzz Fuzz;

typedef struct FuzzConn {
    Fuzz *fz;
    unsigned idx;
    NvmetQueue *q;              /* NULL once released */
    NvmfHost *h;
    bool h_ready;               /* the test host did the ICReq itself */
    bool h_broken;              /* the test host lost track: no more use */
    OutCheck chk;
    uint16_t next_cid;
    uint16_t connect_cid;
    bool connect_pending;
    FuzzR2T r2t[FUZZ_MAX_R2T];
    unsigned nr_r2t;
    bool faulted;               /* a fault fired on the connection */
    ConnTls tls;
    /* ops.capture: the cleartext sent; and what the checker saw of it */
    GByteArray *cap_tx, *seen_tx;
} FuzzConn;

struct Fuzz {
    NvmetTarget *t;
    NvmetPort *port;
    NvmetPort *tls_port[2];     /* TLS allowed, TLS required */
    NvmetSubsys *plain, *auth;
    NvmetNs *ns1, *ns2, *ns3;
    NvmetHost *host;
    NvmetHost *host3;           /* FUZZ_HOSTNQN3: configured TLS PSK */
    /* what the hosts know about their TLS PSKs, to predict handshakes */
    int psk_of[2];              /* fuzz_tls_keys[] index configured for
                                 * HOSTNQN, HOSTNQN3; -1: none */
    FuzzGenPsk gen[2], gen_old[2];  /* HOSTNQN's, plain and auth subsystem */
    bool sha384;
    bool tls_hook;              /* the trace hook watches TLS failures */
    bool quirk;                 /* quirk_free_tls_key on the auth subsystem */
    RamDisk disk1, disk2;
    int64_t now, deadline;
    uint64_t rng;
    uint8_t cfg;
    FuzzConn *conns[FUZZ_MAX_CONNS];
    unsigned nr_conns, cur;
    GQueue held;                /* NvmetIo * */
    uint16_t cntlid;            /* last controller ID a Connect returned */
    unsigned host_auths;
    bool allow_any;
};

static const uint8_t fuzz_hostid[16] = {
    0x0c, 0x5a, 0xe0, 0xa2, 0x1b, 0x49, 0x4b, 0x38,
    0x9d, 0x41, 0x1f, 0x1f, 0x4d, 0x2c, 0x7a, 0x01,
};

/* DH-HMAC-CHAP secrets: host and controller, and a second generation. */
static char *fuzz_keys[4];

static void fuzz_init_keys(void)
{
    static const uint8_t lens[4] = { 48, 32, 32, 64 };
    static const uint8_t transforms[4] = { 1, 1, 0, 3 };
    uint8_t secret[64];

    if (fuzz_keys[0]) {
        return;
    }
    for (unsigned k = 0; k < 4; k++) {
        for (unsigned i = 0; i < sizeof(secret); i++) {
            secret[i] = (uint8_t)(i * 37 + k * 101 + 11);
        }
        fuzz_keys[k] = nvmf_dhchap_key_encode(secret, lens[k], transforms[k]);
    }
}

/*
 * Configured TLS PSKs in the interchange format: SHA-256 and SHA-384 with
 * the HKDF transform (HH 01, 02), and without it (HH 00, 32 and 48 bytes).
 */
#define FUZZ_NR_TLS_KEYS 4
static char *fuzz_tls_keys[FUZZ_NR_TLS_KEYS];
static const uint8_t fuzz_tls_key_hash[FUZZ_NR_TLS_KEYS] = { 1, 2, 1, 2 };

static void fuzz_init_tls_keys(void)
{
    static const uint8_t lens[FUZZ_NR_TLS_KEYS] = { 32, 48, 32, 48 };
    static const uint8_t hh[FUZZ_NR_TLS_KEYS] = { 1, 2, 0, 0 };
    uint8_t raw[48 + 4];

    if (fuzz_tls_keys[0]) {
        return;
    }
    for (unsigned k = 0; k < FUZZ_NR_TLS_KEYS; k++) {
        g_autofree char *b64 = NULL;
        uint32_t crc;

        for (unsigned i = 0; i < lens[k]; i++) {
            raw[i] = (uint8_t)(i * 53 + k * 29 + 7);
        }
        crc = nvmf_crc32(raw, lens[k]);
        for (unsigned i = 0; i < 4; i++) {
            raw[lens[k] + i] = crc >> (8 * i);
        }
        b64 = g_base64_encode(raw, lens[k] + 4);
        fuzz_tls_keys[k] = g_strdup_printf("NVMeTLSkey-1:%02u:%s:", hh[k],
                                           b64);
    }
}

/* What the harness does on the TLS layer, with FUZZ_NVMET_LOG set. */
static void G_GNUC_PRINTF(2, 3) fz_log(FuzzConn *c, const char *fmt, ...)
{
    static int on = -1;
    va_list ap;

    if (on < 0) {
        on = getenv("FUZZ_NVMET_LOG") != NULL;
    }
    if (!on) {
        return;
    }
    fprintf(stderr, "fuzz-nvmet: connection %u: ", c->idx);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
}

static void G_GNUC_PRINTF(2, 3) G_GNUC_NORETURN
check_fail(FuzzConn *c, const char *fmt, ...)
{
    va_list ap;

    fprintf(stderr, "fuzz-nvmet: connection %u, PDU %u: ", c->idx,
            c->chk.pdus);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    abort();
}

/* ---- engine callbacks ----------------------------------------------------------- */

static int64_t fz_now(void *opaque)
{
    return ((Fuzz *)opaque)->now;
}

static void fz_kick(void *opaque, NvmetQueue *q, void *qopaque)
{
    /* every connection is serviced after each operation */
}

static void fz_timer(void *opaque, int64_t deadline)
{
    ((Fuzz *)opaque)->deadline = deadline;
}

static void fz_random(void *opaque, void *buf, size_t len)
{
    Fuzz *fz = opaque;
    uint8_t *p = buf;

    for (size_t i = 0; i < len; i++) {
        /* xorshift64 */
        fz->rng ^= fz->rng << 13;
        fz->rng ^= fz->rng >> 7;
        fz->rng ^= fz->rng << 17;
        p[i] = fz->rng >> 24;
    }
}

/* An NSS key log line: LABEL <client random> <secret>, in hex. */
static void fz_keylog(void *opaque, NvmetQueue *q, void *qopaque,
                      const char *line)
{
    FuzzConn *c = qopaque;
    g_auto(GStrv) f = g_strsplit(line, " ", -1);
    bool ok = g_strv_length(f) == 3 && strlen(f[1]) == 64 &&
              (strlen(f[2]) == 64 || strlen(f[2]) == 96) &&
              strstr(f[0], "_SECRET");

    for (unsigned i = 1; ok && i < 3; i++) {
        for (const char *p = f[i]; *p; p++) {
            ok &= g_ascii_isxdigit(*p) && !g_ascii_isupper(*p);
        }
    }
    if (!ok) {
        check_fail(c, "bad TLS key log line '%.40s...'", line);
    }
}

static FuzzGenPsk *gen_psk(Fuzz *fz, const char *subnqn, bool old);

/*
 * Events: well-formed whatever the input (the strings are read, so that
 * ASan sees any that is stale), about the connection they name.  A fault
 * that fired changes what the checks may expect: the next digest it
 * spoiled is wrong, and a connection a fault hit is no longer
 * "undisturbed" (its handshake or exchanges may fail).
 */
static void fz_event(void *opaque, const NvmetEvent *ev)
{
    Fuzz *fz = opaque;
    FuzzConn *c = ev->queue_opaque;
    FuzzGenPsk *g;
    g_autofree char *s = NULL;
    const char *bad = NULL;

    if (ev->type >= NVMET_EVENT__MAX || !ev->port) {
        bad = "type or port";
    } else if (ev->queue && (!c || c->fz != opaque || !ev->peer)) {
        bad = "queue";
    } else if (ev->has_qid && !ev->cntlid) {
        bad = "a queue ID without a controller";
    } else if (ev->cntlid && (!ev->subnqn || !ev->hostnqn)) {
        bad = "a controller without names";
    }
    switch (ev->type) {
    case NVMET_EVENT_CONN_ACCEPTED:
    case NVMET_EVENT_CONN_CLOSED:
        bad = bad ? bad : !ev->queue ? "no queue" :
              ev->type == NVMET_EVENT_CONN_CLOSED && !ev->reason ?
              "no reason" : NULL;
        break;
    case NVMET_EVENT_AUTH_FAILURE:
        bad = bad ? bad : ev->u.auth.fail_source > NVMET_AUTH_FAIL_BY_TIMEOUT ?
              "failure source" : !ev->reason ? "no reason" : NULL;
        break;
    case NVMET_EVENT_TLS_DONE:
        bad = bad ? bad : !ev->u.tls.identity || !ev->u.tls.cipher ||
              !ev->u.tls.version ? "TLS without identity or cipher" : NULL;
        break;
    case NVMET_EVENT_PSK_GENERATED:
    case NVMET_EVENT_PSK_REPLACED:
        bad = bad ? bad : !g_str_has_prefix(ev->u.psk.identity, "NVMe1G") ?
              "generated PSK identity" : NULL;
        break;
    case NVMET_EVENT_TRANSPORT_ERROR:
        bad = bad ? bad : ev->u.fatal.fes < NVME_TCP_FES_INVALID_HEADER ||
              ev->u.fatal.fes > NVME_TCP_FES_UNSUPPORTED_PARAM ? "FES" : NULL;
        break;
    default:
        break;
    }
    s = g_strdup_printf("%s %s %s %s %s %s %s", nvmet_event_type_name(ev->type),
                        ev->peer ? ev->peer : "", ev->subnqn ? ev->subnqn : "",
                        ev->hostnqn ? ev->hostnqn : "",
                        ev->reason ? ev->reason : "",
                        ev->type == NVMET_EVENT_TLS_DONE ||
                        ev->type == NVMET_EVENT_TLS_FAILED ?
                        (ev->u.tls.identity ? ev->u.tls.identity : "") : "",
                        ev->type == NVMET_EVENT_TLS_FAILED && ev->u.tls.alert ?
                        ev->u.tls.alert : "");
    if (bad) {
        if (c && c->fz == opaque) {
            check_fail(c, "bad event (%s): %s", bad, s);
        }
        fprintf(stderr, "fuzz-nvmet: bad event (%s): %s\n", bad, s);
        abort();
    }
    if (ev->type != NVMET_EVENT_FAULT || !c) {
        return;
    }
    switch (ev->u.fault.action) {
    /*
     * A spoilt digest fails the test host's exchange (it checks digests)
     * but leaves the TLS records intact: a disturbance of the host's steps
     * (tls_host_step()), not of the session.
     */
    case NVMET_FA_CORRUPT_HDGST:
        c->chk.bad_hdgst++;
        c->faulted = true;
        break;
    case NVMET_FA_CORRUPT_DDGST:
        c->chk.bad_ddgst++;
        c->faulted = true;
        break;
    case NVMET_FA_FORGET_PSK:
    case NVMET_FA_CORRUPT_PSK:
        g = ev->subnqn ? gen_psk(fz, ev->subnqn, false) : NULL;
        if (g) {
            g->spoilt = true;
        }
        /* fall through */
    default:
        c->faulted = true;
        c->tls.clean = false;
        c->tls.meddled = true;
        break;
    }
}

/* The decrypted capture of every connection: kept, compared later. */
static void fz_capture(void *opaque, NvmetQueue *q, void *qopaque, bool tx,
                       const uint8_t *data, size_t len)
{
    FuzzConn *c = qopaque;

    if (len == 0) {
        check_fail(c, "an empty capture call");
    }
    if (tx) {
        g_byte_array_append(c->cap_tx, data, len);
    }
}

static const NvmetEngineOps fz_ops = {
    .now_ms = fz_now,
    .queue_kick = fz_kick,
    .timer_update = fz_timer,
    .random_bytes = fz_random,
    .tls_keylog = fz_keylog,
    .event = fz_event,
    .capture = fz_capture,
};

static void fz_trace(const char *event, const char *msg, void *opaque)
{
    Fuzz *fz = opaque;
    unsigned idx;

    /* formatting the message is the point; make sure it is a string */
    if (strlen(event) + strlen(msg) == (size_t)-1) {
        abort();
    }
    /*
     * The engine closed a connection that took longer than the ICReq
     * timeout (the clock may jump past it in the middle of a handshake):
     * what the session does afterwards is no longer predictable.
     */
    if (!strcmp(event, "nvmet_icreq_timeout") &&
        sscanf(msg, "fuzz-tls-%u", &idx) == 1 && idx < fz->nr_conns) {
        fz->conns[idx]->tls.meddled = true;
        fz->conns[idx]->tls.clean = false;
    }
    /*
     * The engine's TLS step failed on a connection (named "fuzz-tls-N"):
     * fine if the harness misbehaved on it, a bug if it did not.
     */
    if (!strcmp(event, "nvmet_tls_error") &&
        sscanf(msg, "fuzz-tls-%u", &idx) == 1 && idx < fz->nr_conns &&
        fz->conns[idx]->tls.clean) {
        check_fail(fz->conns[idx], "the engine's TLS failed on a session "
                   "the harness did not disturb: %s", msg);
    }
}

/* ---- output checks --------------------------------------------------------------- */

static uint32_t crc32c(const uint8_t *p, size_t len)
{
    return nvmf_crc32c_digest(p, len);
}

static void check_hdgst(FuzzConn *c, const uint8_t *p, size_t hlen)
{
    if (nvmet_ld32(p + hlen) == crc32c(p, hlen)) {
        return;
    }
    /* PDUs queued before the fault fired may come first */
    if (!c->chk.bad_hdgst) {
        check_fail(c, "type 0x%x: bad header digest", p[0]);
    }
    c->chk.bad_hdgst--;
}

static void check_rsp(FuzzConn *c, const uint8_t *p)
{
    const uint8_t *cqe = p + NVME_TCP_RSP_CQE;
    uint16_t cid = nvmet_ld16(cqe + NVME_CQE_CID);
    uint16_t status = nvmet_ld16(cqe + NVME_CQE_STATUS);

    if (status & 1) {
        check_fail(c, "CQE with the phase tag set");
    }
    if (c->connect_pending && cid == c->connect_cid) {
        c->connect_pending = false;
        if (!(status >> 1)) {
            c->fz->cntlid = nvmet_ld32(cqe + NVME_CQE_DW0) & 0xffff;
        }
    }
}

static void check_c2h_data(FuzzConn *c, const uint8_t *p, uint32_t plen)
{
    uint8_t flags = p[NVME_TCP_CH_FLAGS];
    uint8_t pdo = p[NVME_TCP_CH_PDO];
    size_t hd = c->chk.hdgst ? NVME_TCP_DIGEST_LEN : 0;
    size_t dd = c->chk.ddgst ? NVME_TCP_DIGEST_LEN : 0;
    uint32_t datao = nvmet_ld32(p + NVME_TCP_DATA_DATAO);
    uint32_t datal = nvmet_ld32(p + NVME_TCP_DATA_DATAL);

    if (!!(flags & NVME_TCP_F_DDGST) != !!dd) {
        check_fail(c, "C2HData data digest flag 0x%x", flags);
    }
    if (!(flags & NVME_TCP_F_DATA_LAST)) {
        check_fail(c, "C2HData without LAST_PDU");
    }
    if (pdo < NVME_TCP_DATA_HLEN + hd || pdo % 4 || pdo + dd > plen) {
        check_fail(c, "C2HData PDO %u, PLEN %u", pdo, plen);
    }
    if (datal == 0 || datal != plen - pdo - dd) {
        check_fail(c, "C2HData DATAL %u, PLEN %u, PDO %u", datal, plen, pdo);
    }
    if (datal > FUZZ_MAX_XFER || datao > FUZZ_MAX_XFER - datal) {
        check_fail(c, "C2HData DATAO %u DATAL %u beyond MDTS", datao, datal);
    }
    if (dd && nvmet_ld32(p + pdo + datal) != crc32c(p + pdo, datal)) {
        if (!c->chk.bad_ddgst) {
            check_fail(c, "C2HData bad data digest");
        }
        c->chk.bad_ddgst--;
    }
}

static void check_r2t(FuzzConn *c, const uint8_t *p)
{
    FuzzR2T r = {
        .cccid = nvmet_ld16(p + NVME_TCP_DATA_CCCID),
        .ttag = nvmet_ld16(p + NVME_TCP_DATA_TTAG),
        .datao = nvmet_ld32(p + NVME_TCP_DATA_DATAO),
        .datal = nvmet_ld32(p + NVME_TCP_DATA_DATAL),
    };

    if (r.datal == 0 || r.datal > FUZZ_MAX_XFER ||
        r.datao > FUZZ_MAX_XFER - r.datal) {
        check_fail(c, "R2T DATAO %u DATAL %u", r.datao, r.datal);
    }
    if (c->nr_r2t == FUZZ_MAX_R2T) {
        memmove(c->r2t, c->r2t + 1, sizeof(r) * (FUZZ_MAX_R2T - 1));
        c->nr_r2t--;
    }
    c->r2t[c->nr_r2t++] = r;
}

/* One whole PDU from the engine. */
static void check_pdu(FuzzConn *c, const uint8_t *p, uint32_t plen)
{
    OutCheck *k = &c->chk;
    uint8_t type = p[NVME_TCP_CH_TYPE];
    uint8_t flags = p[NVME_TCP_CH_FLAGS];
    uint8_t hlen = p[NVME_TCP_CH_HLEN];
    bool hd = false;

    k->pdus++;
    if (k->term) {
        check_fail(c, "PDU type 0x%x after C2HTermReq", type);
    }
    if (!k->icresp && type != NVME_TCP_PDU_ICRESP &&
        type != NVME_TCP_PDU_C2H_TERM) {
        check_fail(c, "PDU type 0x%x before ICResp", type);
    }
    switch (type) {
    case NVME_TCP_PDU_ICRESP:
        if (k->icresp || hlen != NVME_TCP_ICRESP_HLEN ||
            plen != NVME_TCP_ICRESP_HLEN || flags || p[NVME_TCP_CH_PDO]) {
            check_fail(c, "bad or second ICResp");
        }
        if (nvmet_ld16(p + NVME_TCP_IC_PFV) != NVME_TCP_PFV_1_0 ||
            nvmet_ld32(p + NVME_TCP_ICRESP_MAXDATA) < NVME_TCP_MIN_MAXH2CDATA) {
            check_fail(c, "ICResp PFV or MAXH2CDATA");
        }
        k->icresp = true;
        k->hdgst = p[NVME_TCP_IC_DGST] & NVME_TCP_IC_DGST_HDR;
        k->ddgst = p[NVME_TCP_IC_DGST] & NVME_TCP_IC_DGST_DATA;
        return;
    case NVME_TCP_PDU_C2H_TERM:
        if (hlen != NVME_TCP_TERM_HLEN || plen < NVME_TCP_TERM_HLEN ||
            plen > NVME_TCP_TERM_HLEN + NVME_TCP_TERM_MAX_ERR_HDR || flags) {
            check_fail(c, "bad C2HTermReq hlen %u plen %u", hlen, plen);
        }
        if (nvmet_ld16(p + NVME_TCP_TERM_FES) == 0 ||
            nvmet_ld16(p + NVME_TCP_TERM_FES) > NVME_TCP_FES_UNSUPPORTED_PARAM) {
            check_fail(c, "C2HTermReq FES 0x%x",
                       nvmet_ld16(p + NVME_TCP_TERM_FES));
        }
        k->term = true;
        return;
    case NVME_TCP_PDU_RSP:
    case NVME_TCP_PDU_C2H_DATA:
    case NVME_TCP_PDU_R2T:
        hd = k->hdgst;
        if (hlen != 24 || !!(flags & NVME_TCP_F_HDGST) != hd) {
            check_fail(c, "type 0x%x hlen %u flags 0x%x", type, hlen, flags);
        }
        if (plen < 24u + (hd ? 4 : 0)) {
            check_fail(c, "type 0x%x plen %u", type, plen);
        }
        if (hd) {
            check_hdgst(c, p, hlen);
        }
        break;
    default:
        check_fail(c, "unknown PDU type 0x%x", type);
    }
    if (type == NVME_TCP_PDU_C2H_DATA) {
        check_c2h_data(c, p, plen);
        return;
    }
    if (plen != 24u + (hd ? 4 : 0) || p[NVME_TCP_CH_PDO] ||
        (flags & ~NVME_TCP_F_HDGST)) {
        check_fail(c, "type 0x%x plen %u pdo %u flags 0x%x", type, plen,
                   p[NVME_TCP_CH_PDO], flags);
    }
    if (type == NVME_TCP_PDU_RSP) {
        check_rsp(c, p);
    } else {
        check_r2t(c, p);
    }
}

/* Feed engine output through the PDU parser. */
static void check_bytes(FuzzConn *c, const uint8_t *p, size_t len)
{
    OutCheck *k = &c->chk;

    g_byte_array_append(c->seen_tx, p, len);

    while (len) {
        size_t want = k->plen ? k->plen : NVME_TCP_CH_LEN;
        size_t n = MIN(len, want - k->pdu->len);

        g_byte_array_append(k->pdu, p, n);
        p += n;
        len -= n;
        if (k->pdu->len < want) {
            continue;
        }
        if (!k->plen) {
            k->plen = nvmet_ld32(k->pdu->data + NVME_TCP_CH_PLEN);
            if (k->plen < NVME_TCP_CH_LEN + 16 ||
                k->plen > 256 + FUZZ_MAX_XFER) {
                check_fail(c, "type 0x%x PLEN %u", k->pdu->data[0], k->plen);
            }
            continue;
        }
        check_pdu(c, k->pdu->data, k->plen);
        g_byte_array_set_size(k->pdu, 0);
        k->plen = 0;
    }
}

/* ---- connections ---------------------------------------------------------------- */

/*
 * The capture of what the engine sent is the cleartext the checker saw:
 * all of it on a cleartext connection; on a TLS one, what the client
 * session decrypted is a prefix (it may have stopped reading).
 */
static void check_capture(FuzzConn *c)
{
    GByteArray *cap = c->cap_tx, *seen = c->seen_tx;

    if (seen->len > cap->len ||
        (!c->tls.on && seen->len != cap->len) ||
        (seen->len && memcmp(seen->data, cap->data, seen->len))) {
        check_fail(c, "the capture (%u bytes) is not what was sent (%u "
                   "bytes)", cap->len, seen->len);
    }
}

static void conn_release(FuzzConn *c)
{
    if (c->q) {
        check_capture(c);
        nvmet_queue_release(c->q);
        c->q = NULL;
    }
}

/* Run the block I/O the engine asks for; true if there was any. */
static bool conn_run_io(FuzzConn *c)
{
    Fuzz *fz = c->fz;
    NvmetIo *io;
    bool any = false;

    while (c->q && (io = nvmet_queue_next_io(c->q))) {
        any = true;
        if (fz->cfg & FUZZ_CFG_HOLD_IO) {
            g_queue_push_tail(&fz->held, io);
        } else {
            nvmet_io_complete(io, ramdisk_do(io));
        }
    }
    return any;
}

/* ---- TLS: the record layer between the harness and the engine ---------- */

/*
 * On a connection to a TLS port whose first byte was a TLS record, the
 * engine sends and receives records.  With a client session of the
 * harness (FUZZ_TLS_SESSION), PDUs are encrypted on the way in and the
 * engine's records decrypted on the way out, then checked like cleartext
 * output; without one (raw bytes, a handshake left halfway) only the
 * record framing is checked.
 */
static bool tls_encrypting(FuzzConn *c)
{
    return c->tls.tc && c->tls.up && !c->tls.lost;
}

/* Bytes to the engine, as they are (ciphertext on a TLS connection). */
static void deliver(FuzzConn *c, const uint8_t *p, size_t len, size_t split)
{
    ConnTls *t = &c->tls;

    if (!len || !c->q) {
        return;
    }
    if (!t->fed) {
        t->fed = true;
        t->on = t->port != NVMET_PORT_TLS_NONE && p[0] == 0x16;
    }
    while (len && c->q) {
        size_t n = split ? MIN(split, len) : len;
        /*
         * Once the engine ended the connection it drops what arrives,
         * unread (and traces it): one more piece takes that path, the rest
         * would only repeat it.  (A write of 1 MiB of in-capsule data,
         * refused at its header, was several MiB of ciphertext delivered
         * in pieces of a few bytes: one input took 10 s.)
         */
        bool closing = nvmet_queue_wants_close(c->q);

        nvmet_queue_input(c->q, p, n);
        p += n;
        len -= n;
        if (closing) {
            break;
        }
    }
    if (c->q && t->port == NVMET_PORT_TLS_REQUIRED && !t->on &&
        !nvmet_queue_wants_close(c->q)) {
        check_fail(c, "cleartext accepted on a port that requires TLS");
    }
}

static uint16_t ld16be(const uint8_t *p)
{
    return p[0] << 8 | p[1];
}

/* Records the engine sends: framing only (they are encrypted). */
static void check_records(FuzzConn *c, const uint8_t *p, size_t len)
{
    ConnTls *t = &c->tls;

    while (len) {
        size_t want = t->rec->len < 5 ? 5 : 5 + ld16be(t->rec->data + 3);
        size_t n = MIN(len, want - t->rec->len);
        const uint8_t *r;

        g_byte_array_append(t->rec, p, n);
        p += n;
        len -= n;
        if (t->rec->len < want) {
            continue;
        }
        r = t->rec->data;
        if (want == 5) {
            /* a header: is it one? */
            if (t->fatal_alert) {
                check_fail(c, "TLS record type %u after a fatal alert", r[0]);
            }
            if (r[0] < 20 || r[0] > 23 || r[1] != 3 || r[2] < 1 || r[2] > 3) {
                check_fail(c, "TLS record %u: header %02x %02x%02x", t->nrec,
                           r[0], r[1], r[2]);
            }
            if (ld16be(r + 3) == 0 || ld16be(r + 3) > 16384 + 256) {
                check_fail(c, "TLS record %u: length %u", t->nrec,
                           ld16be(r + 3));
            }
            if (t->nrec == 0 && r[0] != 21 && r[0] != 22) {
                check_fail(c, "first TLS record of type %u", r[0]);
            }
            continue;
        }
        if (r[0] == 21 && want == 7 && r[5] == 2) {
            t->fatal_alert = true;      /* in the clear: before the keys */
        }
        t->nrec++;
        g_byte_array_set_size(t->rec, 0);
    }
}

/* Decrypt what the client session has, check it, keep it for the host. */
static void tls_decrypt(FuzzConn *c)
{
    ConnTls *t = &c->tls;
    uint8_t buf[16384];

    while (tls_encrypting(c)) {
        bool eof = false;
        ssize_t n = fuzz_tls_recv(t->tc, buf, sizeof(buf), &eof);

        if (n > 0) {
            check_bytes(c, buf, n);
            g_byte_array_append(t->rx, buf, n);
            continue;
        }
        if (eof) {
            t->lost = true;
        } else if (fuzz_tls_err_is_alert(n)) {
            /* the engine gave up its session: it must close the queue */
            if (c->q && !nvmet_queue_wants_close(c->q)) {
                check_fail(c, "fatal TLS alert, but the queue stays open");
            }
            t->lost = true;
        } else if (n != FUZZ_TLS_AGAIN) {
            /* nothing but the engine writes what the client reads */
            check_fail(c, "the engine's TLS records do not decrypt: %s",
                       fuzz_tls_strerror(n));
        }
        break;
    }
}

/* Take up to @len cleartext output bytes (through the checker); 0: none. */
static size_t plain_pull(FuzzConn *c, uint8_t *buf, size_t len)
{
    const uint8_t *data;
    size_t n;

    if (!c->q) {
        return 0;
    }
    n = MIN(nvmet_queue_output(c->q, &data), len);
    if (n) {
        check_bytes(c, data, n);
        if (buf) {
            memcpy(buf, data, n);
        }
        nvmet_queue_output_advance(c->q, n);
    }
    return n;
}

/*
 * Take all the engine has to send on a TLS connection: check the records,
 * pass them to the client session, decrypt.  True if there was any.  (If
 * the first byte made it a cleartext connection after all, check and drop
 * the PDUs.)
 */
static bool tls_drain(FuzzConn *c)
{
    const uint8_t *data;
    size_t n;
    bool any = false;

    if (!c->tls.on) {
        while (plain_pull(c, NULL, 65536)) {
            any = true;
        }
        return any;
    }
    while (c->q && (n = nvmet_queue_output(c->q, &data))) {
        any = true;
        check_records(c, data, n);
        if (c->tls.tc && !c->tls.lost) {
            fuzz_tls_input(c->tls.tc, data, n);
        }
        nvmet_queue_output_advance(c->q, n);
    }
    tls_decrypt(c);
    return any;
}

/* One record of the client after the mangler: deliver or hold back. */
static void wire(FuzzConn *c, const uint8_t *p, size_t len, bool tampered)
{
    ConnTls *t = &c->tls;

    if (t->held->len) {
        /* behind a truncated record: wait for FUZZ_TLS_RELEASE */
        g_byte_array_append(t->held, p, len);
        t->held_tampered |= tampered;
        return;
    }
    deliver(c, p, len, t->chunk);
    if (tampered && !t->unframed) {
        fz_log(c, "a tampered record went in");
        t->expect_close = true;
    }
}

/* Must the engine refuse an encrypted record with outer content type @t? */
static bool type_fails(uint8_t t)
{
    return t < 21 || t > 24;    /* CCS after the handshake, unknown types */
}

/* One record the client session produced, on its way to the engine. */
static void wire_record(FuzzConn *c, uint8_t *r, size_t len)
{
    static const uint8_t types[8] = { 20, 21, 22, 23, 24, 0, 0xff, 25 };
    ConnTls *t = &c->tls;
    bool app = t->up;           /* under the traffic keys */
    bool tampered = false;
    unsigned pos, kind = FUZZ_MG_NONE;
    uint32_t l;

    if (t->mg_kind && t->mg_seen++ == t->mg_at) {
        kind = t->mg_kind;
        t->mg_kind = FUZZ_MG_NONE;
        /* a record held back arrives whole later: the session stays fine */
        t->meddled |= kind != FUZZ_MG_TRUNC;
        t->clean &= !t->meddled;
    }
    switch (kind) {
    case FUZZ_MG_FLIP:
        pos = t->mg_arg % len;
        l = ld16be(r + 3);
        r[pos] ^= 1u << (t->mg_arg2 & 7);
        /*
         * GnuTLS authenticates a TLS 1.3 record with a constant header and
         * takes the inner content type, so an outer type of alert,
         * handshake or heartbeat passes; a longer length only waits for
         * more bytes.  Anything else must fail.
         */
        tampered = app && (pos == 0 ? type_fails(r[0]) : pos < 3 ||
                           pos >= 5 || ld16be(r + 3) < l);
        t->unframed |= ld16be(r + 3) > l;
        break;
    case FUZZ_MG_TRUNC:
        pos = t->mg_arg % len;
        fz_log(c, "record %u: %u of %zu bytes, the rest held back",
               t->mg_seen - 1, pos, len);
        wire(c, r, pos, false);
        g_byte_array_append(t->held, r + pos, len - pos);
        return;
    case FUZZ_MG_DROP:
        fz_log(c, "record %u dropped", t->mg_seen - 1);
        t->dropped = app;
        return;
    case FUZZ_MG_SWAP:
        fz_log(c, "record %u held for after the next", t->mg_seen - 1);
        g_byte_array_append(t->swap, r, len);
        return;
    case FUZZ_MG_DUP:
        wire(c, r, len, false);
        tampered = app;
        break;
    case FUZZ_MG_TYPE:
        r[0] = types[t->mg_arg2 & 7];
        tampered = app && type_fails(r[0]);
        break;
    case FUZZ_MG_LEN:
        l = (uint32_t)(len - 5) + (int16_t)t->mg_arg;
        r[3] = l >> 8;
        r[4] = l;
        tampered = app && (l & 0xffff) < len - 5;
        t->unframed |= (l & 0xffff) > len - 5;
        break;
    }
    if (kind) {
        fz_log(c, "mangle %u on record %u (%zu bytes, type %u, %s): arg %u "
               "arg2 %u", kind, t->mg_seen - 1, len, r[0],
               app ? "application" : "handshake", t->mg_arg, t->mg_arg2);
    }
    /* a record that follows a dropped or held back one fails */
    tampered |= t->dropped || (app && t->swap->len);
    t->dropped = false;
    wire(c, r, len, tampered);
    if (t->swap->len && kind != FUZZ_MG_SWAP) {
        g_autoptr(GByteArray) s = t->swap;

        t->swap = g_byte_array_new();
        wire(c, s->data, s->len, false);
    }
}

/* Send what the client session produced. */
static void tls_flush(FuzzConn *c)
{
    GByteArray *out;
    size_t off = 0;

    if (!c->tls.tc) {
        return;
    }
    out = fuzz_tls_output(c->tls.tc);
    while (off + 5 <= out->len && c->q) {
        size_t len = 5 + ld16be(out->data + off + 3);

        g_assert(off + len <= out->len);        /* whole records only */
        wire_record(c, out->data + off, len);
        off += len;
    }
    g_byte_array_set_size(out, 0);
}

/* Bytes from the harness or the test host: encrypted on a TLS session. */
static void conn_send(FuzzConn *c, const uint8_t *p, size_t len, size_t split)
{
    ConnTls *t = &c->tls;
    int ret;

    if (!len || !c->q) {
        return;
    }
    if (!tls_encrypting(c)) {
        if (t->on || (t->port != NVMET_PORT_TLS_NONE && !t->fed &&
                      p[0] == 0x16)) {
            t->clean = false;   /* raw bytes into the record layer */
            t->meddled = t->unframed = true;
        }
        deliver(c, p, len, split);
        return;
    }
    /* in pieces: one record each (at most 256 of them, they are slow) */
    if (split) {
        split = MAX(split, (len + 255) / 256);
    }
    ret = fuzz_tls_send(t->tc, p, len, split ? split : t->rec_size);
    if (ret < 0) {
        fprintf(stderr, "fuzz-nvmet: TLS send: %s\n", fuzz_tls_strerror(ret));
        abort();
    }
    tls_flush(c);
}

/* Take up to @len output bytes (checked, decrypted); 0 if none. */
static size_t conn_pull(FuzzConn *c, uint8_t *buf, size_t len)
{
    GByteArray *rx = c->tls.rx;
    size_t n;

    if (!c->q) {
        return 0;
    }
    if (!c->tls.on) {
        return plain_pull(c, buf, len);
    }
    tls_drain(c);
    n = MIN(rx->len, len);
    if (n) {
        if (buf) {
            memcpy(buf, rx->data, n);
        }
        g_byte_array_remove_range(rx, 0, n);
    }
    return n;
}

/* Drain output and run I/O until the connection is quiet. */
static void conn_service(FuzzConn *c)
{
    for (unsigned i = 0; c->q; i++) {
        bool any = false;

        if (i == FUZZ_SERVICE_LOOPS) {
            check_fail(c, "the engine never stops producing output or I/O");
        }
        if (c->tls.on) {
            /* decrypted output nobody waits for is dropped */
            any = tls_drain(c);
            g_byte_array_set_size(c->tls.rx, 0);
        }
        while (conn_pull(c, NULL, 65536)) {
            any = true;
        }
        any |= conn_run_io(c);
        if (!any) {
            break;
        }
    }
    if (!c->q) {
        return;
    }
    /*
     * The engine queues whole PDUs: with nothing more to send, its stream
     * ends on a PDU boundary (on TLS, unless its session failed).
     */
    if (c->chk.pdu->len && (!c->tls.on || c->tls.clean)) {
        check_fail(c, "the engine's output stops inside a PDU (%u of %u "
                   "bytes)", c->chk.pdu->len, c->chk.plen);
    }
    if (c->chk.term && !nvmet_queue_wants_close(c->q)) {
        check_fail(c, "C2HTermReq sent but the queue stays open");
    }
    if (c->tls.fatal_alert && !nvmet_queue_wants_close(c->q)) {
        check_fail(c, "fatal TLS alert sent but the queue stays open");
    }
    if (c->tls.expect_close && !nvmet_queue_wants_close(c->q)) {
        check_fail(c, "the engine took a tampered TLS record");
    }
    if (nvmet_queue_wants_close(c->q)) {
        conn_release(c);
    }
}

static void service_all(Fuzz *fz)
{
    for (unsigned i = 0; i < fz->nr_conns; i++) {
        conn_service(fz->conns[i]);
    }
}

static int host_send(void *opaque, const void *buf, size_t len)
{
    FuzzConn *c = opaque;

    if (!c->q) {
        return -1;
    }
    conn_send(c, buf, len, 0);
    return 0;
}

static ssize_t host_recv(void *opaque, void *buf, size_t len)
{
    FuzzConn *c = opaque;

    for (unsigned i = 0; c->q && i < FUZZ_SERVICE_LOOPS; i++) {
        size_t n = conn_pull(c, buf, len);

        if (n) {
            return n;
        }
        if (conn_run_io(c)) {
            continue;
        }
        if (nvmet_queue_wants_close(c->q)) {
            return 0;
        }
        return -1;              /* would block forever */
    }
    return c->q ? -1 : 0;
}

/*
 * A new connection to port @pidx (0: no TLS, 1: TLS allowed, 2: TLS
 * required).  Connections to the TLS ports are named fuzz-tls-N, so that
 * engine traces point back to them.
 */
static FuzzConn *conn_new_on(Fuzz *fz, unsigned pidx)
{
    static const uint8_t modes[3] = {
        NVMET_PORT_TLS_NONE, NVMET_PORT_TLS_ALLOWED, NVMET_PORT_TLS_REQUIRED,
    };
    FuzzConn *c;
    NvmfTransport tr = { host_send, host_recv, NULL };
    g_autofree char *peer = NULL;

    if (fz->nr_conns == FUZZ_MAX_CONNS) {
        return NULL;
    }
    c = g_new0(FuzzConn, 1);
    tr.opaque = c;
    c->fz = fz;
    c->idx = fz->nr_conns;
    peer = pidx ? g_strdup_printf("fuzz-tls-%u", c->idx) :
           g_strdup("fuzz-peer");
    c->cap_tx = g_byte_array_new();
    c->seen_tx = g_byte_array_new();
    c->q = nvmet_queue_new(pidx ? fz->tls_port[pidx - 1] : fz->port, peer, c);
    nvmet_queue_set_capture(c->q, true);
    c->h = nvmf_host_new(&tr);
    c->chk.pdu = g_byte_array_new();
    c->next_cid = 0x100;
    c->tls.port = modes[pidx];
    c->tls.clean = true;
    c->tls.rx = g_byte_array_new();
    c->tls.rec = g_byte_array_new();
    c->tls.held = g_byte_array_new();
    c->tls.swap = g_byte_array_new();
    fz->conns[fz->nr_conns++] = c;
    fz->cur = c->idx;
    return c;
}

static FuzzConn *conn_new(Fuzz *fz)
{
    return conn_new_on(fz, 0);
}

static void conn_free(FuzzConn *c)
{
    conn_release(c);
    nvmf_host_free(c->h);
    fuzz_tls_free(c->tls.tc);
    g_byte_array_free(c->tls.rx, true);
    g_byte_array_free(c->tls.rec, true);
    g_byte_array_free(c->tls.held, true);
    g_byte_array_free(c->tls.swap, true);
    g_byte_array_free(c->chk.pdu, true);
    g_byte_array_free(c->cap_tx, true);
    g_byte_array_free(c->seen_tx, true);
    g_free(c);
}

static FuzzConn *cur_conn(Fuzz *fz)
{
    return fz->nr_conns ? fz->conns[fz->cur] : NULL;
}

/* A test host call returned @ret: after a failure it may hold stale state. */
static bool host_ok(FuzzConn *c, int ret)
{
    if (ret < 0) {
        c->h_broken = true;
    }
    return ret >= 0;
}

/* ICReq through the test host, which needs to see the ICResp. */
static bool host_icreq(FuzzConn *c, bool hdgst, bool ddgst)
{
    c->h_ready = host_ok(c, nvmf_host_icreq(c->h, hdgst, ddgst, 0));
    return c->h_ready;
}

/* ---- framing ------------------------------------------------------------------- */

typedef struct FrameOpts {
    bool bad_hdgst, bad_ddgst;
    uint8_t pad;                /* extra bytes before the data (PDO) */
    size_t split;               /* feed in pieces of this size; 0: at once */
} FrameOpts;

/* Framing options from the high nibble of a control byte. */
static FrameOpts frame_opts(FuzzIn *in, uint8_t ctl)
{
    FrameOpts o = { 0 };

    o.bad_hdgst = ctl & 0x10;
    o.bad_ddgst = ctl & 0x20;
    if (ctl & 0x40) {
        o.pad = (in_u8(in) & 7) * 4;
    }
    if (ctl & 0x80) {
        o.split = in_u8(in) + 1;
    }
    return o;
}

static void feed(FuzzConn *c, const uint8_t *p, size_t len, size_t split)
{
    conn_send(c, p, len, split);
}

/*
 * Send a PDU: @hdr (with type set) of @hlen bytes, then @len bytes of @data,
 * with digests as negotiated on this connection.
 */
static void send_pdu(FuzzConn *c, uint8_t *hdr, size_t hlen,
                     const uint8_t *data, size_t len, const FrameOpts *o)
{
    bool hd = c->chk.hdgst, dd = c->chk.ddgst && len;
    size_t hdl = hd ? 4 : 0;
    size_t pdo = len ? hlen + hdl + o->pad : 0;
    size_t plen = (len ? pdo + len : hlen + hdl) + (dd ? 4 : 0);
    g_autofree uint8_t *buf = g_malloc0(plen);

    hdr[NVME_TCP_CH_FLAGS] |= (hd ? NVME_TCP_F_HDGST : 0) |
                              (dd ? NVME_TCP_F_DDGST : 0);
    hdr[NVME_TCP_CH_HLEN] = hlen;
    hdr[NVME_TCP_CH_PDO] = pdo > 255 ? 255 : pdo;
    nvmet_st32(hdr + NVME_TCP_CH_PLEN, plen);
    memcpy(buf, hdr, hlen);
    if (hd) {
        nvmet_st32(buf + hlen, crc32c(buf, hlen) ^ (o->bad_hdgst ? 1 : 0));
    }
    if (len) {
        memcpy(buf + pdo, data, len);
    }
    if (dd) {
        nvmet_st32(buf + pdo + len, crc32c(data, len) ^ (o->bad_ddgst ? 1 : 0));
    }
    feed(c, buf, plen, o->split);
}

static uint16_t take_cid(FuzzConn *c)
{
    return c->next_cid++;
}

static void sgl_set(uint8_t *sqe, uint8_t id, uint32_t len)
{
    uint8_t *sgl = sqe + NVME_SQE_DPTR;

    memset(sgl, 0, 16);
    sgl[NVME_SGL_ID] = id;
    nvmet_st32(sgl + NVME_SGL_LEN, len);
}

/* Send a command capsule with @len bytes in the capsule. */
static void send_capsule(FuzzConn *c, const uint8_t *sqe, const uint8_t *data,
                         size_t len, const FrameOpts *o)
{
    uint8_t hdr[NVME_TCP_CMD_HLEN] = { NVME_TCP_PDU_CMD };

    memcpy(hdr + NVME_TCP_CMD_SQE, sqe, NVME_SQE_SIZE);
    send_pdu(c, hdr, NVME_TCP_CMD_HLEN, data, len, o);
}

static void fill_pattern(uint8_t *p, size_t len, uint8_t seed)
{
    for (size_t i = 0; i < len; i++) {
        p[i] = seed + i * 7;
    }
}

/* Answer the oldest R2T with data, in MAXH2CDATA pieces. */
static void answer_r2t(FuzzConn *c, const FrameOpts *o)
{
    FuzzR2T r;
    g_autofree uint8_t *data = NULL;
    uint32_t off = 0;

    if (!c->nr_r2t || !c->q) {
        return;
    }
    r = c->r2t[0];
    memmove(c->r2t, c->r2t + 1, sizeof(r) * --c->nr_r2t);
    data = g_malloc(r.datal);
    fill_pattern(data, r.datal, r.ttag);
    while (off < r.datal && c->q) {
        uint32_t n = MIN(r.datal - off, FUZZ_MAXH2CDATA);
        uint8_t hdr[NVME_TCP_DATA_HLEN] = { NVME_TCP_PDU_H2C_DATA };

        hdr[NVME_TCP_CH_FLAGS] = off + n == r.datal ? NVME_TCP_F_DATA_LAST : 0;
        nvmet_st16(hdr + NVME_TCP_DATA_CCCID, r.cccid);
        nvmet_st16(hdr + NVME_TCP_DATA_TTAG, r.ttag);
        nvmet_st32(hdr + NVME_TCP_DATA_DATAO, r.datao + off);
        nvmet_st32(hdr + NVME_TCP_DATA_DATAL, n);
        send_pdu(c, hdr, NVME_TCP_DATA_HLEN, data + off, n, o);
        off += n;
    }
}

/*
 * Send a command; host-to-controller data goes in the capsule or, with
 * @via_r2t, on request (answered right away if @answer).
 */
static void send_cmd(FuzzConn *c, uint8_t *sqe, const uint8_t *out,
                     size_t out_len, size_t in_len, bool via_r2t, bool answer,
                     const FrameOpts *o)
{
    static const FrameOpts plain;

    sqe[NVME_SQE_FLAGS] = 0x40;
    nvmet_st16(sqe + NVME_SQE_CID, take_cid(c));
    if (out_len && !via_r2t) {
        sgl_set(sqe, NVME_SGL_ID_DATA_OFFSET, out_len);
        send_capsule(c, sqe, out, out_len, o);
        return;
    }
    sgl_set(sqe, out_len || in_len ? NVME_SGL_ID_TRANSPORT : 0,
            out_len ? out_len : in_len);
    send_capsule(c, sqe, NULL, 0, o);
    if (out_len && answer) {
        conn_service(c);
        answer_r2t(c, &plain);
    }
}

static void send_icreq(FuzzConn *c, bool hdgst, bool ddgst, uint8_t hpda)
{
    uint8_t p[NVME_TCP_ICREQ_HLEN] = { NVME_TCP_PDU_ICREQ };

    p[NVME_TCP_CH_HLEN] = NVME_TCP_ICREQ_HLEN;
    nvmet_st32(p + NVME_TCP_CH_PLEN, NVME_TCP_ICREQ_HLEN);
    p[NVME_TCP_ICREQ_HPDA] = hpda;
    p[NVME_TCP_IC_DGST] = (hdgst ? NVME_TCP_IC_DGST_HDR : 0) |
                          (ddgst ? NVME_TCP_IC_DGST_DATA : 0);
    nvmet_st32(p + NVME_TCP_ICREQ_MAXR2T, 0);
    feed(c, p, sizeof(p), 0);
}

/* ---- operations ------------------------------------------------------------------ */

static void gen_psk_record(Fuzz *fz, const char *hostnqn, const char *subnqn,
                           uint8_t sc_c, const NvmfAuthResult *r);

static void op_raw(Fuzz *fz, FuzzIn *in, bool chunked)
{
    FuzzConn *c = cur_conn(fz);
    size_t len = chunked ? in_u16(in) % 2048 : in_u8(in) + 1u;
    size_t split = chunked ? in_u8(in) + 1u : 0;

    len = MIN(len, in->len - MIN(in->pos, in->len));
    if (c) {
        feed(c, in->p + in->pos, len, split);
    }
    in->pos += len;
}

static void run_timers(Fuzz *fz)
{
    for (unsigned i = 0; fz->deadline <= fz->now; i++) {
        if (i == 8) {
            fprintf(stderr, "fuzz-nvmet: timer deadline %" PRId64
                    " stays at or before now %" PRId64 "\n",
                    fz->deadline, fz->now);
            abort();
        }
        fz->deadline = INT64_MAX;
        nvmet_target_timer(fz->t);
        service_all(fz);
    }
}

static void op_clock(Fuzz *fz, FuzzIn *in)
{
    static const int64_t special[8] = {
        FUZZ_KATO_MS - 1, FUZZ_KATO_MS, FUZZ_KATO_MS + 1, 119999, 120000,
        120001, 3600000, 0,
    };
    uint8_t b = in_u8(in);
    int64_t delta;

    if (b >> 5 == 7) {
        delta = special[b & 7];
    } else {
        delta = (int64_t)(b & 0x1f) << ((b >> 5) * 3);
    }
    fz->now += delta;
    if (b == 0xff) {
        /* a spurious early call must be harmless */
        nvmet_target_timer(fz->t);
        service_all(fz);
    }
    run_timers(fz);
}

static void op_sqe(Fuzz *fz, FuzzIn *in)
{
    FuzzConn *c = cur_conn(fz);
    uint8_t ctl = in_u8(in);
    uint8_t sqe[NVME_SQE_SIZE];
    g_autofree uint8_t *data = NULL;
    size_t len = 0;
    FrameOpts o;

    in_bytes(in, sqe, sizeof(sqe));
    if (!(ctl & 1)) {
        sqe[NVME_SQE_FLAGS] = 0x40;
    }
    if (!(ctl & 2) && c) {
        nvmet_st16(sqe + NVME_SQE_CID, take_cid(c));
    }
    switch ((ctl >> 2) & 3) {
    case 0:
        break;
    case 1:
        len = in_u16(in) % (FUZZ_INLINE_SIZE + 1024);
        data = g_malloc(len + 1);
        in_bytes(in, data, len);
        sgl_set(sqe, NVME_SGL_ID_DATA_OFFSET, len);
        break;
    case 2:
        sqe[NVME_SQE_DPTR + NVME_SGL_ID] = NVME_SGL_ID_TRANSPORT;
        break;
    case 3:
        sgl_set(sqe, NVME_SGL_ID_TRANSPORT, 0);
        break;
    }
    o = frame_opts(in, ctl);
    if (c) {
        send_capsule(c, sqe, data, len, &o);
    }
}

static void op_admin(Fuzz *fz, FuzzIn *in)
{
    static const uint8_t opcodes[] = {
        NVME_ADM_IDENTIFY, NVME_ADM_GET_LOG_PAGE, NVME_ADM_SET_FEATURES,
        NVME_ADM_GET_FEATURES, NVME_ADM_ASYNC_EVENT, NVME_ADM_KEEP_ALIVE,
        NVME_ADM_ABORT, NVME_ADM_CREATE_SQ, NVME_ADM_DELETE_SQ,
        NVME_ADM_CREATE_CQ, NVME_ADM_DELETE_CQ, 0x0d, 0x10, 0x80, 0xc1,
    };
    static const uint32_t nsids[4] = { 0, 1, 2, 0xffffffff };
    FuzzConn *c = cur_conn(fz);
    uint8_t sel = in_u8(in);
    uint8_t ctl = in_u8(in);
    uint8_t sqe[NVME_SQE_SIZE] = { 0 };
    uint8_t opc = sel % (G_N_ELEMENTS(opcodes) + 1) < G_N_ELEMENTS(opcodes) ?
                  opcodes[sel % (G_N_ELEMENTS(opcodes) + 1)] : in_u8(in);
    size_t dlen;
    g_autofree uint8_t *out = NULL;
    FrameOpts o;

    sqe[NVME_SQE_OPC] = opc;
    nvmet_st32(sqe + NVME_SQE_NSID, nsids[(sel >> 4) & 3]);
    in_bytes(in, sqe + NVME_SQE_CDW10, 24);
    if (opc == NVME_ADM_IDENTIFY && (ctl & 8)) {
        /* mostly valid CNS values */
        sqe[NVME_SQE_CDW10] %= 0x20;
    }
    dlen = ctl & 4 ? 4096 : in_u16(in) % (FUZZ_MAX_XFER + 512);
    o = frame_opts(in, ctl);
    if (!c) {
        return;
    }
    if ((opc & 3) == 1) {
        out = g_malloc(dlen + 1);
        fill_pattern(out, dlen, sel);
        send_cmd(c, sqe, out, dlen, 0, ctl & 1, ctl & 2, &o);
    } else {
        send_cmd(c, sqe, NULL, 0, (opc & 3) == 2 ? dlen : 0, false, false,
                 &o);
    }
}

static void op_io(Fuzz *fz, FuzzIn *in)
{
    static const uint8_t opcodes[] = {
        NVME_CMD_READ, NVME_CMD_WRITE, NVME_CMD_READ, NVME_CMD_WRITE,
        NVME_CMD_FLUSH, NVME_CMD_WRITE_ZEROES, NVME_CMD_DSM, 0x05, 0x04,
        0x0c, 0x0d, 0x11,
    };
    static const uint32_t nsids[4] = { 1, 2, 0xffffffff, 3 };
    FuzzConn *c = cur_conn(fz);
    uint8_t sel = in_u8(in);
    uint8_t ctl = in_u8(in);
    uint8_t sqe[NVME_SQE_SIZE] = { 0 };
    uint8_t opc = opcodes[(sel & 15) % G_N_ELEMENTS(opcodes)];
    uint32_t nsid = nsids[(sel >> 4) & 3];
    uint32_t bs = nsid == 2 ? 4096 : 512;
    uint64_t slba = in_u8(in);
    uint32_t nlb = in_u8(in);
    uint8_t hi = in_u8(in);
    int8_t skew = in_u8(in);
    int64_t dlen;
    g_autofree uint8_t *out = NULL;
    FrameOpts o;

    if (ctl & 8) {
        /* two statements: the order of the reads must not be unspecified */
        slba = (uint64_t)in_u32(in) << 32;
        slba |= in_u32(in);
    }
    sqe[NVME_SQE_OPC] = opc;
    nvmet_st32(sqe + NVME_SQE_NSID, nsid);
    nvmet_st64(sqe + NVME_SQE_CDW10, slba);
    nvmet_st32(sqe + NVME_SQE_CDW12, nlb | (uint32_t)hi << 24);
    if (opc == NVME_CMD_DSM) {
        nvmet_st32(sqe + NVME_SQE_CDW10, nlb);
        nvmet_st32(sqe + NVME_SQE_CDW11, hi & 7);
        dlen = (nlb + 1) * NVME_DSM_RANGE_SIZE;
    } else {
        dlen = (int64_t)(nlb + 1) * bs;
    }
    dlen += skew;
    if (dlen < 0 || opc == NVME_CMD_FLUSH || opc == NVME_CMD_WRITE_ZEROES) {
        dlen = ctl & 4 ? (uint8_t)skew : 0;
    }
    o = frame_opts(in, ctl);
    if (!c) {
        return;
    }
    if ((opc & 3) == 1) {
        out = g_malloc(dlen + 1);
        fill_pattern(out, dlen, sel);
        if (opc == NVME_CMD_DSM) {
            /* ranges: context attributes, length, SLBA, small values */
            for (int64_t i = 0; i + 16 <= dlen; i += 16) {
                uint8_t blocks = out[i + 5] % 16;

                memset(out + i, 0, 16);
                nvmet_st32(out + i + 4, blocks);
                nvmet_st64(out + i + 8, (i / 16 * 13) % 140);
            }
        }
        send_cmd(c, sqe, out, dlen, 0, !(ctl & 1), !(ctl & 2), &o);
    } else {
        send_cmd(c, sqe, NULL, 0, (opc & 3) == 2 ? dlen : 0, false, false,
                 &o);
    }
}

/* On a connection of FUZZ_TLS_SESSION, "the host without keys" is the one
 * its PSK names. */
static const char *pick_nqn(FuzzConn *c, FuzzIn *in, unsigned sel, bool host,
                            char *buf)
{
    const char *h2 = c->tls.hostnqn ? c->tls.hostnqn : FUZZ_HOSTNQN2;

    switch (sel & 3) {
    case 0:
        return host ? h2 : FUZZ_SUBNQN;
    case 1:
        return host ? FUZZ_HOSTNQN : FUZZ_AUTH_SUBNQN;
    case 2:
        return host ? h2 : NVME_DISC_SUBSYS_NAME;
    default:
        in_bytes(in, (uint8_t *)buf, 32);
        buf[32] = 0;
        return buf;
    }
}

static void fab_connect(FuzzConn *c, FuzzIn *in)
{
    Fuzz *fz = c->fz;
    uint8_t ctl = in_u8(in);
    uint8_t sqe[NVME_SQE_SIZE] = { NVME_FABRICS_COMMAND };
    uint8_t data[NVME_CONNECT_DATA_LEN] = { 0 };
    char sbuf[33], hbuf[33];
    const char *subnqn = pick_nqn(c, in, ctl, false, sbuf);
    const char *hostnqn = pick_nqn(c, in, ctl >> 2, true, hbuf);
    uint16_t qid = ctl & 0x10 ? in_u8(in) % 6 : 0;
    uint16_t sqsize = ctl & 0x20 ? in_u16(in) : 31;
    uint16_t cntlid = qid ? fz->cntlid : 0xffff;
    FrameOpts o = { 0 };

    if (ctl & 0x40) {
        cntlid = in_u16(in);
    }
    sqe[NVME_SQE_FCTYPE] = NVME_FCTYPE_CONNECT;
    nvmet_st16(sqe + NVME_CONNECT_RECFMT, ctl & 0x80 ? in_u8(in) & 1 : 0);
    nvmet_st16(sqe + NVME_CONNECT_QID, qid);
    nvmet_st16(sqe + NVME_CONNECT_SQSIZE, sqsize);
    sqe[NVME_CONNECT_CATTR] = fz->cfg & FUZZ_CFG_NOSQFLOW ?
                              NVME_CONNECT_CATTR_DISABLE_SQFLOW : 0;
    nvmet_st32(sqe + NVME_CONNECT_KATO, ctl & 0x80 ? in_u16(in) * 16 :
               FUZZ_KATO_MS);
    memcpy(data + NVME_CONNECT_DATA_HOSTID, fuzz_hostid, 16);
    nvmet_st16(data + NVME_CONNECT_DATA_CNTLID, cntlid);
    strncpy((char *)data + NVME_CONNECT_DATA_SUBNQN, subnqn, 255);
    strncpy((char *)data + NVME_CONNECT_DATA_HOSTNQN, hostnqn, 255);
    send_cmd(c, sqe, data, sizeof(data), 0, ctl & 0x80 && ctl & 1, true, &o);
    c->connect_cid = c->next_cid - 1;
    c->connect_pending = true;
}

static void fab_auth(FuzzConn *c, FuzzIn *in, uint8_t fctype, uint32_t tl,
                     const uint8_t *msg, uint8_t ctl)
{
    uint8_t sqe[NVME_SQE_SIZE] = { NVME_FABRICS_COMMAND };
    FrameOpts o = frame_opts(in, ctl);

    sqe[NVME_SQE_FCTYPE] = fctype;
    sqe[41] = ctl & 1 ? in_u8(in) : 1;          /* SPSP0 */
    sqe[42] = 1;                                /* SPSP1 */
    sqe[43] = ctl & 2 ? in_u8(in) : 0xe9;       /* SECP: DH-HMAC-CHAP */
    nvmet_st32(sqe + 44, tl);                   /* TL / AL */
    if (fctype == NVME_FCTYPE_AUTH_SEND) {
        send_cmd(c, sqe, msg, tl, 0, ctl & 4, true, &o);
    } else {
        send_cmd(c, sqe, NULL, 0, ctl & 4 ? tl + 4 : tl, false, false, &o);
    }
}

static void fab_host_auth(FuzzConn *c, FuzzIn *in)
{
    Fuzz *fz = c->fz;
    uint8_t f = in_u8(in);
    uint8_t g = in_u8(in);
    NvmfAuthParams p = { 0 };
    NvmfAuthResult r;

    if (!c->h_ready || c->h_broken || !c->q ||
        fz->host_auths >= FUZZ_MAX_HOST_AUTH) {
        return;
    }
    fz->host_auths++;
    p.hostnqn = f & 0x40 ? FUZZ_HOSTNQN2 : FUZZ_HOSTNQN;
    p.subnqn = FUZZ_AUTH_SUBNQN;
    p.host_secret = fuzz_keys[f & 0x80 ? 2 : 0];
    p.ctrl_secret = f & 1 ? fuzz_keys[1] : NULL;
    p.nhashes = 1 + (g & 1) + ((g >> 1) & 1);
    for (unsigned i = 0; i < p.nhashes; i++) {
        p.hashes[i] = 1 + (g + i) % 3;
    }
    /* the target allows NULL and ffdhe2048 (cheap); the host may offer more */
    p.ngroups = 1 + ((g >> 2) & 3);
    for (unsigned i = 0; i < p.ngroups; i++) {
        p.groups[i] = ((g >> 4) + i) % 6;
    }
    p.sc_c = f & 2 ? (f >> 2) & 3 : 0;
    p.tid = in_u16(in);
    p.rand = g_rand_new_with_seed(g);
    p.corrupt_response = f & 0x10;
    p.reflect_c1 = f & 0x20 && f & 0x8;
    p.s2_zero = f & 0x20 && !(f & 0x8);
    p.reply_tid_delta = (f & 0x1c) == 0x1c;
    host_ok(c, nvmf_host_authenticate(c->h, &p, &r));
    g_rand_free(p.rand);
    gen_psk_record(fz, p.hostnqn, p.subnqn, p.sc_c, &r);
}

static void op_fabrics(Fuzz *fz, FuzzIn *in)
{
    static const uint32_t props[] = {
        NVME_REG_CAP, NVME_REG_VS, NVME_REG_INTMS, NVME_REG_INTMC, NVME_REG_CC,
        NVME_REG_CSTS, NVME_REG_NSSR, 0x18,
    };
    static const uint32_t cc_vals[] = {
        0x00460001, 0x00464001, 0x00468001, 0x00460000, 0x00000001,
        0x00460011, 0x00460381, 0,
    };
    FuzzConn *c = cur_conn(fz);
    uint8_t sub = in_u8(in);
    uint8_t sqe[NVME_SQE_SIZE] = { NVME_FABRICS_COMMAND };
    uint8_t msg[1280];
    FrameOpts o = { 0 };
    uint8_t b, ctl;
    uint32_t len;

    if (!c || !c->q) {
        return;
    }
    switch (sub % 10) {
    case 0:
        fab_connect(c, in);
        break;
    case 1:
    case 2:
        b = in_u8(in);
        sqe[NVME_SQE_FCTYPE] = sub % 10 == 1 ? NVME_FCTYPE_PROP_GET :
                               NVME_FCTYPE_PROP_SET;
        sqe[NVME_PROP_ATTRIB] = b & 0x80 ? in_u8(in) : (b >> 6) & 1;
        nvmet_st32(sqe + NVME_PROP_OFFSET, b & 0x20 ? in_u32(in) :
                   props[b & 7]);
        nvmet_st64(sqe + NVME_PROP_VALUE, b & 0x10 ? in_u32(in) :
                   cc_vals[(b >> 3) & 7]);
        send_cmd(c, sqe, NULL, 0, 0, false, false, &o);
        break;
    case 3:
        /* AUTH_Send with a fuzzed message */
        ctl = in_u8(in);
        len = in_u16(in) % sizeof(msg);
        in_bytes(in, msg, len);
        fab_auth(c, in, NVME_FCTYPE_AUTH_SEND, len, msg, ctl);
        break;
    case 4:
        ctl = in_u8(in);
        fab_auth(c, in, NVME_FCTYPE_AUTH_RECV, in_u16(in) % 5000, NULL, ctl);
        break;
    case 5:
        /* a well-formed AUTH_Negotiate with fuzzed choices */
        ctl = in_u8(in);
        memset(msg, 0, 8 + 64);
        nvmet_st16(msg + 4, in_u16(in));
        b = in_u8(in);
        msg[6] = b & 0x80 ? b & 3 : 0;                  /* SC_C */
        msg[7] = b & 0x40 ? (b >> 4) & 3 : 1;           /* NAPD */
        msg[8] = b & 0x08 ? in_u8(in) : 1;              /* AUTHID */
        msg[10] = b & 0x04 ? in_u8(in) : 1 + in_u8(in) % 3;
        msg[11] = b & 0x04 ? in_u8(in) : 1 + in_u8(in) % 6;
        for (unsigned i = 0; i < 30; i++) {
            msg[12 + i] = 1 + (i + msg[4]) % 3;
            msg[42 + i] = (i + msg[5]) % 6;
        }
        len = b & 0x02 ? in_u8(in) : 72;
        fab_auth(c, in, NVME_FCTYPE_AUTH_SEND, len, msg, ctl);
        break;
    case 6:
        /* AUTH_DHCHAP_Reply / Success2 / Failure2 with consistent lengths */
        ctl = in_u8(in);
        b = in_u8(in);
        memset(msg, 0, sizeof(msg));
        msg[0] = b & 0x80 ? 0x00 : 0x01;
        msg[1] = b & 0x80 ? 0xf0 : b & 0x40 ? 0x04 : 0x02;
        nvmet_st16(msg + 4, in_u16(in));
        msg[6] = 32 + 16 * (b & 3);
        msg[7] = in_u8(in);
        msg[8] = (b >> 2) & 1;
        nvmet_st16(msg + 10, b & 0x08 ? 256 : b & 0x10 ? 0 : in_u16(in));
        nvmet_st32(msg + 12, b & 0x20 ? 0 : in_u32(in));
        len = MIN(16 + 2 * msg[6] + nvmet_ld16(msg + 10), sizeof(msg));
        b = in_u8(in);
        in_bytes(in, msg + 16, MIN(len - 16, b));
        fab_auth(c, in, NVME_FCTYPE_AUTH_SEND, len, msg, ctl);
        break;
    case 7:
        sqe[NVME_SQE_FCTYPE] = NVME_FCTYPE_DISCONNECT;
        nvmet_st16(sqe + NVME_SQE_CDW10, in_u8(in));
        send_cmd(c, sqe, NULL, 0, 0, false, false, &o);
        break;
    case 8:
        fab_host_auth(c, in);
        break;
    case 9:
        /* an unknown or malformed fabrics command */
        sqe[NVME_SQE_FCTYPE] = in_u8(in);
        in_bytes(in, sqe + NVME_SQE_CDW10, 24);
        send_cmd(c, sqe, NULL, 0, in_u8(in), false, false, &o);
        break;
    }
}

static void op_h2c(Fuzz *fz, FuzzIn *in)
{
    FuzzConn *c = cur_conn(fz);
    uint8_t ctl = in_u8(in);
    uint8_t hdr[NVME_TCP_DATA_HLEN] = { NVME_TCP_PDU_H2C_DATA };
    FuzzR2T r = { 0 };
    uint32_t n;
    g_autofree uint8_t *data = NULL;
    FrameOpts o;

    if (ctl & 1 || !c || !c->nr_r2t) {
        r.cccid = in_u16(in);
        r.ttag = in_u16(in);
        r.datal = in_u16(in) % (FUZZ_MAXH2CDATA + 64) + 1;
    } else {
        r = c->r2t[0];
    }
    if (ctl & 2) {
        r.datao += in_u16(in);
    }
    /* a length of our own: a part of the transfer, or up to 64 bytes more
     * than the R2T asked for */
    n = ctl & 4 ? in_u16(in) % (r.datal + 64) + 1 :
        MIN(r.datal, FUZZ_MAXH2CDATA);
    o = frame_opts(in, ctl);
    if (!c || !c->q) {
        return;
    }
    if (!(ctl & 1) && c->nr_r2t && n >= r.datal) {
        memmove(c->r2t, c->r2t + 1, sizeof(r) * --c->nr_r2t);
    } else if (!(ctl & 1) && c->nr_r2t) {
        /* partial: the rest is still to come */
        c->r2t[0].datao += n;
        c->r2t[0].datal -= n;
    }
    data = g_malloc(n);
    fill_pattern(data, n, ctl);
    hdr[NVME_TCP_CH_FLAGS] = ctl & 8 ? 0 : NVME_TCP_F_DATA_LAST;
    nvmet_st16(hdr + NVME_TCP_DATA_CCCID, r.cccid);
    nvmet_st16(hdr + NVME_TCP_DATA_TTAG, r.ttag);
    nvmet_st32(hdr + NVME_TCP_DATA_DATAO, r.datao);
    nvmet_st32(hdr + NVME_TCP_DATA_DATAL, n);
    send_pdu(c, hdr, NVME_TCP_DATA_HLEN, data, n, &o);
}

static void ns2_toggle(Fuzz *fz)
{
    NvmetNsConfig cfg = { 0 };

    if (fz->ns2) {
        nvmet_ns_free(fz->ns2);
        fz->ns2 = NULL;
        return;
    }
    cfg.nsid = 2;
    cfg.backend = &fz->disk2;
    cfg.size = fz->disk2.size;
    cfg.block_size = 4096;
    cfg.has_uuid = true;
    memset(cfg.uuid, 0x42, sizeof(cfg.uuid));
    fz->ns2 = nvmet_ns_new(fz->plain, &cfg, NULL);
}

static void info_ctrl(const NvmetCtrlInfo *info, void *opaque)
{
    if (!info->subnqn || !info->hostnqn) {
        abort();
    }
}

static void info_queue(const NvmetQueueInfo *info, void *opaque)
{
    if (!info->peer) {
        abort();
    }
}

static void op_conn(Fuzz *fz, FuzzIn *in)
{
    uint8_t sub = in_u8(in);
    uint8_t arg = in_u8(in);
    FuzzConn *c;
    NvmfCqe cqe;

    switch (sub % 10) {
    case 0:
        c = conn_new(fz);
        if (c) {
            send_icreq(c, arg & 1, arg & 2, arg & 4 ? (arg >> 3) & 31 : 0);
        }
        break;
    case 1:
        /* an I/O queue for the last controller, through the test host */
        c = conn_new(fz);
        if (!c) {
            break;
        }
        if (host_icreq(c, arg & 1, arg & 2)) {
            host_ok(c, nvmf_host_connect(c->h, 1 + (arg >> 2) % 5,
                                         arg & 0x20 ? 3 : 63, fz->cntlid,
                                         arg & 0x40 ? FUZZ_AUTH_SUBNQN :
                                         FUZZ_SUBNQN, arg & 0x40 ?
                                         FUZZ_HOSTNQN : FUZZ_HOSTNQN2,
                                         fuzz_hostid, 0, 0, &cqe));
        }
        break;
    case 2:
        if (fz->nr_conns) {
            fz->cur = arg % fz->nr_conns;
        }
        break;
    case 3:
        c = cur_conn(fz);
        if (c) {
            conn_release(c);
        }
        break;
    case 4:
        conn_new(fz);
        break;
    case 5:
        nvmet_ns_resize(fz->ns1, (uint64_t)(arg % 160) * 512);
        break;
    case 6:
        ns2_toggle(fz);
        break;
    case 7:
        nvmet_host_set_dhchap_keys(fz->host, arg & 1 ? fuzz_keys[3] :
                                   fuzz_keys[0], arg & 2 ? fuzz_keys[1] : NULL,
                                   NULL);
        break;
    case 8:
        nvmet_target_foreach_ctrl(fz->t, info_ctrl, NULL);
        nvmet_target_ctrl_queues(fz->t, arg & 1 ? FUZZ_AUTH_SUBNQN :
                                 FUZZ_SUBNQN, fz->cntlid, info_queue, NULL);
        for (unsigned i = 0; i < fz->nr_conns; i++) {
            if (fz->conns[i]->q) {
                nvmet_queue_name(fz->conns[i]->q);
                nvmet_queue_qid(fz->conns[i]->q);
                nvmet_queue_ctrl(fz->conns[i]->q);
            }
        }
        break;
    case 9:
        fz->allow_any = !fz->allow_any;
        nvmet_subsys_set_allow_any_host(fz->plain, fz->allow_any);
        break;
    }
}

static void op_held(Fuzz *fz, FuzzIn *in)
{
    static const int errs[4] = { 0, -EIO, -ENOSPC, -EINVAL };
    uint8_t arg = in_u8(in);
    unsigned n = arg & 15 ? arg & 15 : UINT_MAX;
    NvmetIo *io;

    while (n-- && (io = arg & 0x40 ? g_queue_pop_tail(&fz->held) :
                   g_queue_pop_head(&fz->held))) {
        int err = errs[(arg >> 4) & 3];

        nvmet_io_complete(io, err ? err : ramdisk_do(io));
    }
    if (arg & 0x80) {
        fz->cfg ^= FUZZ_CFG_HOLD_IO;
    }
}

/* ---- TLS operations ---------------------------------------------------- */

/* From now on the trace hook watches for TLS failures (fz_trace). */
static void tls_watch(Fuzz *fz)
{
    if (!fz->tls_hook) {
        fz->tls_hook = true;
        nvmet_trace_set_hook(fz_trace, fz);
    }
}

/* May HOSTNQN and HOSTNQN3 (both listed on the auth subsystem) use @subnqn? */
static bool tls_host_allowed(Fuzz *fz, const char *subnqn)
{
    if (!strcmp(subnqn, FUZZ_AUTH_SUBNQN)) {
        return true;
    }
    /* the discovery subsystem admits every host */
    return !strcmp(subnqn, NVME_DISC_SUBSYS_NAME) ||
           (!strcmp(subnqn, FUZZ_SUBNQN) && fz->allow_any);
}

static FuzzGenPsk *gen_psk(Fuzz *fz, const char *subnqn, bool old)
{
    unsigned i;

    if (!strcmp(subnqn, FUZZ_SUBNQN)) {
        i = 0;
    } else if (!strcmp(subnqn, FUZZ_AUTH_SUBNQN)) {
        i = 1;
    } else {
        return NULL;
    }
    return old ? &fz->gen_old[i] : &fz->gen[i];
}

/*
 * The test host authenticated on behalf of @hostnqn for @subnqn: with
 * secure channel concatenation the engine now holds a generated PSK for the
 * pair, and only that one.
 */
static void gen_psk_record(Fuzz *fz, const char *hostnqn, const char *subnqn,
                           uint8_t sc_c, const NvmfAuthResult *r)
{
    FuzzGenPsk *g = gen_psk(fz, subnqn, false);
    FuzzGenPsk *o = gen_psk(fz, subnqn, true);

    if (!g || !sc_c || strcmp(hostnqn, FUZZ_HOSTNQN)) {
        return;
    }
    if (!r->authenticated || !r->psk_len || (r->hash != 1 && r->hash != 2) ||
        g->spoilt) {
        g->spoilt = false;
        /*
         * Refused, or broken off: the engine may have made a PSK the host
         * does not know (say the exchange went through but a record after
         * it did not).  Stop predicting handshakes for the pair.
         */
        g->unknown = o->unknown = true;
        return;
    }
    g_free(o->identity);
    *o = *g;
    g->identity = nvmf_tls_generated(r->hash, r->psk, r->psk_len, hostnqn,
                                     subnqn, g->key);
    g->hash = r->hash;
    g->expires = fz->now + FUZZ_GEN_PSK_LIFETIME_MS;
    g->unknown = false;
}

/* What the client presents, and what the engine must make of it. */
typedef struct TlsCred {
    char *identity;
    size_t id_len;
    uint8_t key[48];
    uint8_t hash;
    bool valid;                 /* the engine must accept it */
    bool known;                 /* ... and the harness knows whether */
    const char *hostnqn, *subnqn;   /* the Connect that goes with it */
} TlsCred;

static void tls_cred(Fuzz *fz, FuzzIn *in, uint8_t a, TlsCred *cr)
{
    unsigned psel = (a >> 1) & 7, ssel = (a >> 4) & 3;
    const char *idsub = ssel == FUZZ_TLS_SUB_AUTH ? FUZZ_AUTH_SUBNQN :
                        ssel == FUZZ_TLS_SUB_DISC_ID ? NVME_DISC_SUBSYS_NAME :
                        FUZZ_SUBNQN;
    unsigned hi;
    int k;

    memset(cr, 0, sizeof(*cr));
    cr->known = true;
    cr->subnqn = ssel >= FUZZ_TLS_SUB_DISC ? NVME_DISC_SUBSYS_NAME : idsub;
    if (psel == FUZZ_PSK_GEN || psel == FUZZ_PSK_GEN_OLD) {
        FuzzGenPsk *g = gen_psk(fz, idsub, psel == FUZZ_PSK_GEN_OLD);

        if (g && g->identity) {
            cr->identity = g_strdup(g->identity);
            cr->id_len = strlen(cr->identity);
            cr->hash = g->hash;
            memcpy(cr->key, g->key, sizeof(cr->key));
            cr->hostnqn = FUZZ_HOSTNQN;
            cr->valid = psel == FUZZ_PSK_GEN && fz->now < g->expires &&
                        tls_host_allowed(fz, idsub);
            cr->known = !g->unknown;
            return;
        }
        /* none yet: a configured PSK instead, with a wrong key for OLD */
        psel = psel == FUZZ_PSK_GEN ? FUZZ_PSK_HOST3 : FUZZ_PSK_WRONG_KEY;
    }
    if (psel == FUZZ_PSK_RAW) {
        size_t n = in_u8(in) % 64;

        cr->identity = g_malloc0(n + 1);
        in_bytes(in, (uint8_t *)cr->identity, n);
        cr->id_len = n;
        memset(cr->key, 0x5a, 32);
        cr->hash = 1;
        cr->hostnqn = FUZZ_HOSTNQN3;
        return;
    }
    cr->hostnqn = psel == FUZZ_PSK_HOST1 ? FUZZ_HOSTNQN :
                  psel == FUZZ_PSK_HOST2 ? FUZZ_HOSTNQN2 : FUZZ_HOSTNQN3;
    hi = psel == FUZZ_PSK_HOST1 ? 0 : 1;
    k = fz->psk_of[hi] >= 0 ? fz->psk_of[hi] : 0;
    if (psel == FUZZ_PSK_HOST3_OTHER) {
        /* a PSK of the right form that is not the host's */
        k = (k + 1 + (a & 1)) % FUZZ_NR_TLS_KEYS;
    }
    cr->identity = nvmf_tls_configured(fuzz_tls_keys[k],
                                       a & FUZZ_TLS_A_V0 ? 0 : 1,
                                       cr->hostnqn, idsub, cr->key, &cr->hash);
    g_assert(cr->identity);
    cr->id_len = strlen(cr->identity);
    cr->valid = (psel == FUZZ_PSK_HOST3 || psel == FUZZ_PSK_HOST1) &&
                fz->psk_of[hi] == k && tls_host_allowed(fz, idsub);
    if (psel == FUZZ_PSK_WRONG_KEY) {
        cr->key[7] ^= 0x20;
    }
}

/* Run the client's handshake as far as it goes: 1 done, 0 stuck, < 0 failed. */
static int tls_handshake_run(FuzzConn *c)
{
    ConnTls *t = &c->tls;

    for (unsigned i = 0; i < 8 && c->q && t->tc && !t->lost && !t->up; i++) {
        int ret = fuzz_tls_handshake(t->tc);
        bool any = fuzz_tls_output(t->tc)->len;

        tls_flush(c);
        if (ret == 1) {
            t->up = true;       /* records from now on are application data */
        }
        any |= tls_drain(c);
        if (ret < 0) {
            t->lost = true;
            return ret;
        }
        if (ret == 1 || !any) {
            break;
        }
    }
    return t->up && !t->lost ? 1 : 0;
}

/* Did a handshake with a PSK of known validity end as it must? */
static void tls_handshake_check(FuzzConn *c, int ret)
{
    ConnTls *t = &c->tls;

    /* only if nothing but the client's own records went in, in order */
    if (!t->known || t->meddled || !c->q || t->held->len || t->swap->len) {
        return;
    }
    if (t->valid && (ret != 1 || nvmet_queue_wants_close(c->q))) {
        check_fail(c, "TLS handshake with a valid PSK failed: %s",
                   ret < 0 ? fuzz_tls_strerror(ret) :
                   ret == 0 ? "stuck" : "the queue closes");
    }
    /* the client's handshake ends with the server's Finished */
    if (!t->valid && ret == 1) {
        check_fail(c, "TLS handshake with a PSK the engine must refuse "
                   "succeeded");
    }
    /* a refusal comes with the fatal alert RFC 8446 has for it */
    if (!t->valid && ret < 0 && !fuzz_tls_err_is_alert(ret)) {
        check_fail(c, "TLS handshake refused without an alert: %s",
                   fuzz_tls_strerror(ret));
    }
    if (!t->valid && fuzz_tls_err_is_alert(ret) &&
        !fuzz_tls_alert_is_psk_refusal(fuzz_tls_alert_received(t->tc))) {
        check_fail(c, "TLS handshake refused with alert %d",
                   fuzz_tls_alert_received(t->tc));
    }
}

/*
 * Must the test host's next exchange on @c work?  Yes on a session with a
 * valid PSK that nothing disturbed and nothing waits to disturb: the
 * engine has no reason to lose a byte of it, however the records arrive.
 */
static bool tls_must_work(FuzzConn *c)
{
    ConnTls *t = &c->tls;

    return c->q && t->clean && t->up && !t->lost && !t->meddled &&
           !t->unframed && t->mg_kind == FUZZ_MG_NONE && !t->held->len &&
           !t->swap->len;
}

static void tls_host_step(FuzzConn *c, bool ok, bool must, const char *what,
                          uint16_t status)
{
    /* a fault that fired meanwhile is a disturbance */
    must = must && !c->faulted;
    if (must && !ok) {
        check_fail(c, "%s on an undisturbed TLS session failed: %s", what,
                   nvmf_host_error(c->h) ? nvmf_host_error(c->h) : "?");
    }
    if (must && status) {
        check_fail(c, "%s on an undisturbed TLS session: status 0x%x", what,
                   status);
    }
}

/* Start a client session on @c and run its handshake (or its first step). */
static int tls_client_start(FuzzConn *c, const TlsCred *cr, uint8_t opts,
                            bool hello_only)
{
    /* a GnuTLS server ignores limits below 512 bytes */
    static const size_t rsl[4] = { 0, 512, 1024, 4096 };
    ConnTls *t = &c->tls;
    unsigned topts = (opts & FUZZ_TLS_O_ECDHE ? FUZZ_TLS_ECDHE : 0) |
                     (opts & FUZZ_TLS_O_CHACHA ? FUZZ_TLS_CHACHA : 0);
    int ret;

    t->tc = fuzz_tls_new(cr->identity, cr->id_len, cr->key,
                         cr->hash == 2 ? 48 : 32, cr->hash, topts,
                         rsl[FUZZ_TLS_O_RSL(opts)]);
    t->valid = cr->valid && !(opts & FUZZ_TLS_O_CHACHA);
    t->known = cr->known;
    /* an engine that refuses a bad PSK fails its TLS step: expected */
    t->clean = t->valid && t->known;
    t->hostnqn = cr->hostnqn;
    t->subnqn = cr->subnqn;
    if (hello_only) {
        ret = fuzz_tls_handshake(t->tc);
        tls_flush(c);
        tls_drain(c);
        if (ret < 0) {
            t->lost = true;
        }
        return ret;
    }
    ret = tls_handshake_run(c);
    fz_log(c, "handshake: %s (PSK %s)", ret == 1 ? "done" : ret == 0 ?
           "stuck" : fuzz_tls_strerror(ret), !t->known ? "unpredictable" :
           t->valid ? "valid" : "invalid");
    tls_handshake_check(c, ret);
    return ret;
}

/* FUZZ_TLS_SESSION */
static void tls_session(Fuzz *fz, FuzzIn *in)
{
    uint8_t a = in_u8(in), b = in_u8(in);
    uint8_t opts = a & FUZZ_TLS_A_OPTS ? in_u8(in) : 0;
    uint8_t level = b & 7;
    unsigned pidx = a & FUZZ_TLS_A_REQUIRED ? 2 : 1;
    bool hd = b & FUZZ_TLS_B_HDGST, dd = b & FUZZ_TLS_B_DDGST;
    uint8_t cattr = fz->cfg & FUZZ_CFG_NOSQFLOW ?
                    NVME_CONNECT_CATTR_DISABLE_SQFLOW : 0;
    uint8_t mg_kind = (opts >> 4) & 7, mg_at = 0, mg_arg2 = 0;
    uint16_t mg_arg = 0;
    unsigned chunk = 0;
    TlsCred cr;
    FuzzConn *c;
    NvmfCqe cqe;
    bool must, must_connect, ok;
    int ret;

    if (mg_kind) {
        mg_at = in_u8(in);
        mg_arg = in_u16(in);
        mg_arg2 = in_u8(in);
    }
    if (opts & FUZZ_TLS_O_CHUNK) {
        chunk = in_u8(in) + 1;
    }
    tls_watch(fz);
    if (level == FUZZ_TLS_LVL_CLEAR) {
        /* cleartext on a TLS port (for NEWTLSPSK; refused where required) */
        unsigned psel = (a >> 1) & 7;
        bool h1 = psel == FUZZ_PSK_GEN || psel == FUZZ_PSK_GEN_OLD ||
                  psel == FUZZ_PSK_HOST1;

        memset(&cr, 0, sizeof(cr));
        cr.hostnqn = h1 ? FUZZ_HOSTNQN : FUZZ_HOSTNQN3;
        cr.subnqn = ((a >> 4) & 3) == FUZZ_TLS_SUB_AUTH ? FUZZ_AUTH_SUBNQN :
                    ((a >> 4) & 3) >= FUZZ_TLS_SUB_DISC ?
                    NVME_DISC_SUBSYS_NAME : FUZZ_SUBNQN;
    } else if (level != FUZZ_TLS_LVL_NONE) {
        tls_cred(fz, in, a, &cr);
    }
    c = conn_new_on(fz, pidx);
    if (!c) {
        if (level != FUZZ_TLS_LVL_CLEAR && level != FUZZ_TLS_LVL_NONE) {
            g_free(cr.identity);
        }
        return;
    }
    c->tls.chunk = chunk;
    c->tls.mg_kind = mg_kind;
    c->tls.mg_at = mg_at % 8;
    c->tls.mg_arg = mg_arg;
    c->tls.mg_arg2 = mg_arg2;
    if (level == FUZZ_TLS_LVL_NONE) {
        return;                 /* raw bytes may follow */
    }
    if (level == FUZZ_TLS_LVL_CLEAR) {
        c->tls.hostnqn = cr.hostnqn;
        c->tls.subnqn = cr.subnqn;
        if (host_icreq(c, hd, dd) &&
            host_ok(c, nvmf_host_connect(c->h, 0, 31, 0xffff, cr.subnqn,
                                         cr.hostnqn, fuzz_hostid,
                                         FUZZ_KATO_MS, cattr, &cqe)) &&
            !cqe.status) {
            fz->cntlid = cqe.dw0 & 0xffff;
            if (b & FUZZ_TLS_B_ENABLE) {
                host_ok(c, nvmf_host_enable(c->h));
            }
        }
        return;
    }
    ret = tls_client_start(c, &cr, opts, level == FUZZ_TLS_LVL_HELLO);
    /* the Connect must work too where the host may use the subsystem */
    must_connect = !cattr && tls_host_allowed(fz, cr.subnqn);
    if (ret != 1 || level < FUZZ_TLS_LVL_ICREQ) {
        goto out;
    }
    must = tls_must_work(c);
    ok = host_icreq(c, hd, dd);
    tls_host_step(c, ok, must, "ICReq", 0);
    if (!ok || level < FUZZ_TLS_LVL_CONNECT) {
        goto out;
    }
    must = must_connect && tls_must_work(c);
    ok = host_ok(c, nvmf_host_connect(c->h, 0, 31, 0xffff, cr.subnqn,
                                      cr.hostnqn, fuzz_hostid, FUZZ_KATO_MS,
                                      cattr, &cqe));
    tls_host_step(c, ok, must, "admin Connect", ok ? cqe.status : 0);
    if (!ok || cqe.status || level < FUZZ_TLS_LVL_ENABLE) {
        goto out;
    }
    fz->cntlid = cqe.dw0 & 0xffff;
    must = must && tls_must_work(c);
    ok = host_ok(c, nvmf_host_enable(c->h));
    tls_host_step(c, ok, must, "CC.EN", 0);
    if (ok && level == FUZZ_TLS_LVL_IO &&
        strcmp(cr.subnqn, NVME_DISC_SUBSYS_NAME)) {
        /* an I/O queue with the same PSK on a second connection */
        FuzzConn *io = conn_new_on(fz, pidx);

        if (io) {
            io->tls.chunk = chunk;
            if (tls_client_start(io, &cr, opts & ~0xf0, false) == 1) {
                must = must && tls_must_work(io);
                ok = host_icreq(io, hd, dd);
                tls_host_step(io, ok, must, "ICReq", 0);
                ok = ok && host_ok(io, nvmf_host_connect(io->h, 1, 63,
                                                         fz->cntlid,
                                                         cr.subnqn,
                                                         cr.hostnqn,
                                                         fuzz_hostid, 0,
                                                         cattr, &cqe));
                tls_host_step(io, ok, must, "I/O queue Connect",
                              ok ? cqe.status : 0);
            }
        }
    }
out:
    g_free(cr.identity);
}

/* FUZZ_TLS_CONTINUE: on with a handshake left after the ClientHello. */
static void tls_continue(Fuzz *fz)
{
    FuzzConn *c = cur_conn(fz);

    if (c && c->q && c->tls.tc && !c->tls.up && !c->tls.lost) {
        tls_handshake_check(c, tls_handshake_run(c));
    }
}

/* FUZZ_TLS_RECORDS: records made up by the harness, past any session. */
static void tls_records(Fuzz *fz, FuzzIn *in)
{
    static const uint8_t types[8] = { 22, 23, 21, 20, 24, 0, 22, 23 };
    FuzzConn *c = cur_conn(fz);
    unsigned n = in_u8(in) % 4 + 1;

    for (unsigned i = 0; i < n; i++) {
        uint8_t h = in_u8(in);
        uint16_t declared = h & 0x10 ? in_u16(in) : 0;
        size_t blen = h & 0x80 ? in_u16(in) % 1500 : in_u8(in);
        size_t off = 5;
        g_autofree uint8_t *r = g_malloc0(5 + 4 + blen);

        r[0] = types[h & 7];
        r[1] = 3;
        r[2] = h & 8 ? 1 : 3;
        if (h & 0x20) {
            /* an alert: level, description */
            r[0] = 21;
            blen = 2;
        } else if (h & 0x40) {
            /* a handshake message header: type, 24-bit length */
            r[off++] = in_u8(in);
            r[off++] = 0;
            r[off++] = blen >> 8;
            r[off++] = blen;
        }
        if (h & 0x80 && !(h & 0x20)) {
            fill_pattern(r + off, blen, h);
        } else {
            in_bytes(in, r + off, blen);
        }
        off += blen;
        if (!(h & 0x10)) {
            declared = off - 5;
        }
        r[3] = declared >> 8;
        r[4] = declared;
        if (c && c->q) {
            c->tls.clean = false;
            c->tls.meddled = c->tls.unframed = true;
            deliver(c, r, off, c->tls.chunk);
        }
    }
}

/* FUZZ_TLS_MANGLE */
static void tls_mangle(Fuzz *fz, FuzzIn *in)
{
    FuzzConn *c = cur_conn(fz);
    uint8_t kind = in_u8(in) % 8, at = in_u8(in);
    uint16_t arg = in_u16(in);
    uint8_t arg2 = in_u8(in);

    if (c) {
        c->tls.mg_kind = kind;
        c->tls.mg_at = at % 8;
        c->tls.mg_arg = arg;
        c->tls.mg_arg2 = arg2;
        c->tls.mg_seen = 0;
    }
}

/* FUZZ_TLS_RELEASE: deliver what was held back, in pieces. */
static void tls_release(Fuzz *fz, FuzzIn *in)
{
    FuzzConn *c = cur_conn(fz);
    uint8_t chunk = in_u8(in);
    ConnTls *t;

    if (!c) {
        return;
    }
    t = &c->tls;
    if (t->held->len) {
        g_autoptr(GByteArray) h = t->held;

        t->held = g_byte_array_new();
        deliver(c, h->data, h->len, chunk);
        t->expect_close |= t->held_tampered;
        t->held_tampered = false;
    }
    if (t->swap->len) {
        g_autoptr(GByteArray) s = t->swap;

        t->swap = g_byte_array_new();
        deliver(c, s->data, s->len, chunk);
    }
    tls_drain(c);
}

/* FUZZ_TLS_CTL */
static void tls_ctl(Fuzz *fz, FuzzIn *in)
{
    FuzzConn *c = cur_conn(fz);
    uint8_t what = in_u8(in) % 8, arg = in_u8(in);
    ConnTls *t;
    int ret = 0;

    if (!c || !c->q) {
        return;
    }
    t = &c->tls;
    switch (what) {
    case FUZZ_CTL_CHUNK:
        t->chunk = arg;
        return;
    case FUZZ_CTL_RECORD:
        t->rec_size = arg * 16;
        return;
    }
    if (!tls_encrypting(c)) {
        return;
    }
    switch (what) {
    case FUZZ_CTL_KEY_UPDATE:
    case FUZZ_CTL_KEY_UPDATE_PEER:
    case FUZZ_CTL_KEY_UPDATE_TWICE:
        for (unsigned i = what == FUZZ_CTL_KEY_UPDATE_TWICE ? 2 : 1;
             i && t->key_updates < FUZZ_MAX_KEY_UPDATES && ret >= 0; i--) {
            t->key_updates++;
            ret = fuzz_tls_key_update(t->tc, what != FUZZ_CTL_KEY_UPDATE);
        }
        break;
    case FUZZ_CTL_WARNING_ALERT:
    case FUZZ_CTL_FATAL_ALERT:
        t->clean = false;
        t->meddled = true;
        ret = fuzz_tls_alert(t->tc, what == FUZZ_CTL_FATAL_ALERT, arg);
        t->lost |= what == FUZZ_CTL_FATAL_ALERT;
        break;
    case FUZZ_CTL_BYE:
        t->clean = false;
        t->meddled = true;
        ret = fuzz_tls_bye(t->tc);
        t->lost = true;         /* nothing more to send in it */
        break;
    }
    if (ret < 0) {
        fprintf(stderr, "fuzz-nvmet: TLS control %u: %s\n", what,
                fuzz_tls_strerror(ret));
        abort();
    }
    tls_flush(c);
    tls_drain(c);
}

/* FUZZ_TLS_HOSTPSK */
static void tls_hostpsk(Fuzz *fz, FuzzIn *in)
{
    uint8_t b = in_u8(in);
    unsigned hi = b & 1 ? 0 : 1;
    NvmetHost *h = hi ? fz->host3 : fz->host;
    unsigned k = (b >> 1) & 7;

    if (k < FUZZ_NR_TLS_KEYS) {
        if (nvmet_host_set_tls_psk(h, fuzz_tls_keys[k], NULL)) {
            fz->psk_of[hi] = k;
        } else if (fuzz_tls_key_hash[k] != 2 || fz->sha384) {
            fprintf(stderr, "fuzz-nvmet: TLS PSK %u refused\n", k);
            abort();
        }
    } else if (k == 6) {
        /* malformed: refused, and nothing changes */
        g_autofree char *bad = g_strdup(fuzz_tls_keys[0]);

        switch ((b >> 5) & 3) {
        case 0:
            bad[20] ^= 1;               /* key data: the CRC fails */
            break;
        case 1:
            bad[15] = '2';              /* 32 bytes for SHA-384 */
            break;
        case 2:
            bad[11] = '2';              /* format version 2 */
            break;
        case 3:
            bad[strlen(bad) - 1] = 0;   /* no ':' at the end */
            break;
        }
        if (nvmet_host_set_tls_psk(h, bad, NULL)) {
            fprintf(stderr, "fuzz-nvmet: malformed TLS PSK %s taken\n", bad);
            abort();
        }
    } else {
        nvmet_host_set_tls_psk(h, NULL, NULL);
        fz->psk_of[hi] = -1;
    }
    if (b & 0x10) {
        fz->quirk = !fz->quirk;
        nvmet_subsys_set_quirk_free_tls_key(fz->auth, fz->quirk);
    }
}

/* FUZZ_TLS_CONCAT: NEWTLSPSK or REPLACETLSPSK through the test host. */
static void tls_concat(Fuzz *fz, FuzzIn *in)
{
    static const uint8_t hashes[4][2] = { { 1 }, { 2 }, { 2, 1 }, { 3, 1 } };
    FuzzConn *c = cur_conn(fz);
    uint8_t f = in_u8(in);
    uint16_t tid = in_u16(in);
    NvmfAuthParams p = { 0 };
    NvmfAuthResult r = { 0 };

    if (!c || !c->h_ready || c->h_broken || !c->q ||
        fz->host_auths >= FUZZ_MAX_HOST_AUTH) {
        return;
    }
    fz->host_auths++;
    p.hostnqn = FUZZ_HOSTNQN;
    p.subnqn = c->tls.subnqn ? c->tls.subnqn : FUZZ_AUTH_SUBNQN;
    p.host_secret = fuzz_keys[f & 0x10 ? 2 : 0];
    p.ctrl_secret = f & 0x08 ? fuzz_keys[1] : NULL;
    memcpy(p.hashes, hashes[(f >> 1) & 3], 2);
    p.nhashes = p.hashes[1] ? 2 : 1;
    /* concatenation needs DH: ffdhe2048, maybe after NULL */
    p.groups[0] = f & 0x20 ? 0 : 1;
    p.groups[1] = 1;
    p.ngroups = f & 0x20 ? 2 : 1;
    p.sc_c = f & 1 ? NVME_AUTH_SECP_REPLACETLSPSK : NVME_AUTH_SECP_NEWTLSPSK;
    p.tid = tid;
    p.rand = g_rand_new_with_seed(tid);
    host_ok(c, nvmf_host_authenticate(c->h, &p, &r));
    g_rand_free(p.rand);
    gen_psk_record(fz, p.hostnqn, p.subnqn, p.sc_c, &r);
}

static void op_tls(Fuzz *fz, FuzzIn *in)
{
    switch (in_u8(in) % FUZZ_TLS_COUNT) {
    case FUZZ_TLS_SESSION:
        tls_session(fz, in);
        break;
    case FUZZ_TLS_CONTINUE:
        tls_continue(fz);
        break;
    case FUZZ_TLS_RECORDS:
        tls_records(fz, in);
        break;
    case FUZZ_TLS_MANGLE:
        tls_mangle(fz, in);
        break;
    case FUZZ_TLS_RELEASE:
        tls_release(fz, in);
        break;
    case FUZZ_TLS_CTL:
        tls_ctl(fz, in);
        break;
    case FUZZ_TLS_HOSTPSK:
        tls_hostpsk(fz, in);
        break;
    case FUZZ_TLS_CONCAT:
        tls_concat(fz, in);
        break;
    }
}

/* ---- fault injection ------------------------------------------------------------ */

/* FUZZ_OP_FAULT: arm a fault (maybe a refused one) or delete one */
static void op_fault(Fuzz *fz, FuzzIn *in)
{
    static const uint16_t statuses[4] = {
        NVME_SC_INTERNAL, NVME_SC_DATA_XFER_ERROR | NVME_STATUS_DNR,
        NVME_SC_CONNECT_INVALID_PARAM, NVME_SC_TRANSIENT_TR_ERR,
    };
    static const uint8_t sc_c[4] = { 0, 2, 3, 1 };
    uint8_t sub = in_u8(in), step = in_u8(in), act = in_u8(in);
    uint8_t when = in_u8(in), flt = in_u8(in);
    uint8_t p[4];
    NvmetFaultConfig cfg = { 0 };
    GError *err = NULL;
    uint32_t id;

    in_bytes(in, p, sizeof(p));
    if (sub & 0x80) {
        if (!nvmet_fault_del(fz->t, sub & 0x7f, sub & 0x40, &err)) {
            g_error_free(err);
        }
        return;
    }
    cfg.point = step % NVMET_FP__MAX;
    cfg.action = act % NVMET_FA__MAX;
    cfg.when = when & 3;
    cfg.count = when >> 2;
    cfg.probability = ((when >> 2) + 1) / 64.0;
    cfg.max_hits = cfg.when >= NVMET_FAULT_EVERY ? p[2] & 7 : 0;
    cfg.queue = flt & FUZZ_FLT_ADMIN ? NVMET_FAULT_QUEUE_ADMIN :
                flt & FUZZ_FLT_IO ? NVMET_FAULT_QUEUE_IO :
                NVMET_FAULT_QUEUE_ANY;
    cfg.has_opcode = flt & FUZZ_FLT_OPCODE;
    cfg.opcode = p[3];
    cfg.hostnqn = flt & FUZZ_FLT_HOST ? FUZZ_HOSTNQN : NULL;
    cfg.subnqn = flt & FUZZ_FLT_AUTH_SUB ? FUZZ_AUTH_SUBNQN : NULL;
    cfg.has_sc_c = flt & FUZZ_FLT_SC_C;
    cfg.sc_c = sc_c[p[3] & 3];
    switch (cfg.action) {
    case NVMET_FA_STATUS:
        cfg.has_status = true;
        cfg.status = statuses[p[0] & 3];
        break;
    case NVMET_FA_AUTH_FAILURE:
        cfg.has_reason = true;
        cfg.reason = p[0] & 7;          /* 0 is refused */
        break;
    case NVMET_FA_TLS_ALERT:
        cfg.has_alert = true;
        cfg.alert = p[0];
        break;
    case NVMET_FA_DELAY:
        cfg.has_delay_ms = true;
        cfg.delay_ms = p[0] * 20;       /* 0 is refused */
        break;
    case NVMET_FA_C2H_TERM:
        cfg.has_fes = true;
        cfg.fes = p[0] & 7;             /* 0 and 7 are refused */
        cfg.has_fei = p[1] & 1;
        cfg.fei = p[1];
        break;
    case NVMET_FA_AEN:
        cfg.has_aen = p[1] & 1;
        cfg.aen = p[0] | p[1] << 8 | p[2] << 16;
        break;
    default:
        break;
    }
    cfg.after_response = flt & FUZZ_FLT_AFTER;
    if (flt & FUZZ_FLT_STRAY) {
        cfg.has_fes = true;
        cfg.fes = 1;
    }
    id = nvmet_fault_add(fz->t, &cfg, &err);
    if (!id) {
        if (!err || !*err->message) {
            fprintf(stderr, "fuzz-nvmet: a fault refused without a reason\n");
            abort();
        }
        g_error_free(err);
    }
}

/* ---- scenario prefix ------------------------------------------------------------ */

static void prefix(Fuzz *fz)
{
    uint8_t sc = fz->cfg & 7;
    bool hd = fz->cfg & FUZZ_CFG_HDGST, dd = fz->cfg & FUZZ_CFG_DDGST;
    uint8_t cattr = fz->cfg & FUZZ_CFG_NOSQFLOW ?
                    NVME_CONNECT_CATTR_DISABLE_SQFLOW : 0;
    const char *subnqn = sc == FUZZ_SC_DISCOVERY ? NVME_DISC_SUBSYS_NAME :
                         sc >= FUZZ_SC_AUTH_PENDING &&
                         sc <= FUZZ_SC_AUTH_DONE ? FUZZ_AUTH_SUBNQN :
                         FUZZ_SUBNQN;
    const char *hostnqn = sc == FUZZ_SC_AUTH_PENDING ||
                          sc == FUZZ_SC_AUTH_DONE ? FUZZ_HOSTNQN :
                          FUZZ_HOSTNQN2;
    FuzzConn *c = conn_new(fz);
    NvmfCqe cqe;

    if (sc == FUZZ_SC_RAW) {
        return;
    }
    if (!host_icreq(c, hd, dd) ||
        sc == FUZZ_SC_ICREQ) {
        return;
    }
    if (!host_ok(c, nvmf_host_connect(c->h, 0, 31, 0xffff, subnqn,
                                      hostnqn, fuzz_hostid, FUZZ_KATO_MS,
                                      cattr, &cqe)) || cqe.status) {
        return;
    }
    fz->cntlid = cqe.dw0 & 0xffff;
    if (sc == FUZZ_SC_AUTH_DONE) {
        static const uint8_t hashes[] = { 1, 2, 3 };
        NvmfAuthParams p = { 0 };
        NvmfAuthResult r;

        p.hostnqn = FUZZ_HOSTNQN;
        p.subnqn = FUZZ_AUTH_SUBNQN;
        p.host_secret = fuzz_keys[0];
        p.ctrl_secret = fuzz_keys[1];
        memcpy(p.hashes, hashes, 3);
        p.nhashes = 3;
        p.ngroups = 1;                  /* NULL group: no DH, fast */
        p.tid = 1;
        p.rand = g_rand_new_with_seed(1);
        host_ok(c, nvmf_host_authenticate(c->h, &p, &r));
        g_rand_free(p.rand);
        if (!r.authenticated) {
            fprintf(stderr, "fuzz-nvmet: prefix authentication failed: %s\n",
                    r.error);
            abort();
        }
    }
    if (sc == FUZZ_SC_CONNECTED || sc == FUZZ_SC_AUTH_PENDING) {
        return;
    }
    if (!host_ok(c, nvmf_host_enable(c->h))) {
        return;
    }
    if (sc == FUZZ_SC_IO) {
        c = conn_new(fz);
        if (host_icreq(c, hd, dd)) {
            host_ok(c, nvmf_host_connect(c->h, 1, 63, fz->cntlid, subnqn,
                                         hostnqn, fuzz_hostid, 0, cattr,
                                         &cqe));
        }
    }
}

/* ---- setup and teardown --------------------------------------------------------- */

static void *must(void *obj, GError *err, const char *what)
{
    if (!obj) {
        fprintf(stderr, "fuzz-nvmet: %s: %s\n", what,
                err ? err->message : "failed");
        abort();
    }
    return obj;
}

static void fuzz_setup(Fuzz *fz, uint8_t cfg)
{
    NvmetPortConfig pc;
    NvmetSubsysConfig sc;
    NvmetNsConfig nc = { 0 };
    GError *err = NULL;

    fuzz_init_keys();
    fuzz_init_tls_keys();
    fz->cfg = cfg;
    fz->now = 1000000;
    fz->deadline = INT64_MAX;
    fz->rng = 0x9e3779b97f4a7c15ull;
    fz->allow_any = true;
    g_queue_init(&fz->held);
    if (cfg & FUZZ_CFG_TRACE) {
        nvmet_trace_set_hook(fz_trace, fz);
    }
    fz->t = nvmet_target_new(&fz_ops, fz);

    nvmet_port_config_init(&pc);
    pc.traddr = "192.0.2.1";
    pc.trsvcid = "4420";
    pc.inline_data_size = FUZZ_INLINE_SIZE;
    pc.maxh2cdata = FUZZ_MAXH2CDATA;
    pc.max_queue_size = 64;
    pc.max_queues = 4;
    pc.mdts = FUZZ_MDTS;
    fz->port = must(nvmet_port_new(fz->t, &pc, &err), err, "port");
    for (unsigned i = 0; i < 2; i++) {
        pc.portid = 2 + i;
        pc.trsvcid = i ? "4422" : "4421";
        pc.tls = i ? NVMET_PORT_TLS_REQUIRED : NVMET_PORT_TLS_ALLOWED;
        fz->tls_port[i] = must(nvmet_port_new(fz->t, &pc, &err), err,
                               "TLS port");
    }

    nvmet_subsys_config_init(&sc);
    sc.nqn = FUZZ_SUBNQN;
    sc.allow_any_host = true;
    sc.max_namespaces = 8;
    fz->plain = must(nvmet_subsys_new(fz->t, &sc, &err), err, "subsystem");
    nvmet_port_add_subsys(fz->port, fz->plain);
    nvmet_port_add_subsys(fz->tls_port[0], fz->plain);
    nvmet_port_add_subsys(fz->tls_port[1], fz->plain);

    fz->disk1.size = FUZZ_NS1_SIZE;
    fz->disk1.data = g_malloc0(FUZZ_NS1_SIZE);
    fz->disk2.size = FUZZ_NS2_SIZE;
    fz->disk2.data = g_malloc0(FUZZ_NS2_SIZE);
    nc.nsid = 1;
    nc.backend = &fz->disk1;
    nc.size = FUZZ_NS1_SIZE;
    nc.block_size = 512;
    nc.volatile_wc = true;
    nc.has_eui64 = true;
    memset(nc.eui64, 0x11, sizeof(nc.eui64));
    fz->ns1 = must(nvmet_ns_new(fz->plain, &nc, &err), err, "namespace 1");
    ns2_toggle(fz);
    must(fz->ns2, NULL, "namespace 2");

    nvmet_subsys_config_init(&sc);
    sc.nqn = FUZZ_AUTH_SUBNQN;
    sc.allow_any_host = false;
    sc.cntlid_min = 0x10;
    sc.cntlid_max = 0x20;
    fz->auth = must(nvmet_subsys_new(fz->t, &sc, &err), err, "auth subsystem");
    nvmet_port_add_subsys(fz->port, fz->auth);
    nvmet_port_add_subsys(fz->tls_port[0], fz->auth);
    nvmet_port_add_subsys(fz->tls_port[1], fz->auth);
    fz->host = must(nvmet_host_new(fz->t, FUZZ_HOSTNQN, &err), err, "host");
    if (!nvmet_subsys_add_host(fz->auth, fz->host, &err) ||
        !nvmet_host_set_dhchap_keys(fz->host, fuzz_keys[0], fuzz_keys[1],
                                    &err)) {
        must(NULL, err, "host keys");
    }
    /* any hash; NULL and ffdhe2048 only, bigger groups are slow */
    nvmet_host_set_dhchap_allowed(fz->host, 0, 0x3);
    /* a host with a configured TLS PSK, no DH-HMAC-CHAP */
    fz->sha384 = nvmet_tls_sha384_available();
    fz->host3 = must(nvmet_host_new(fz->t, FUZZ_HOSTNQN3, &err), err,
                     "TLS host");
    if (!nvmet_subsys_add_host(fz->auth, fz->host3, &err) ||
        !nvmet_host_set_tls_psk(fz->host3, fuzz_tls_keys[0], &err)) {
        must(NULL, err, "TLS host PSK");
    }
    fz->psk_of[0] = -1;
    fz->psk_of[1] = 0;
    nc.nsid = 1;
    nc.backend = &fz->disk1;
    nc.has_eui64 = false;
    fz->ns3 = must(nvmet_ns_new(fz->auth, &nc, &err), err, "namespace 3");
}

static void fuzz_teardown(Fuzz *fz)
{
    NvmetIo *io;

    for (unsigned i = 0; i < fz->nr_conns; i++) {
        conn_free(fz->conns[i]);
    }
    /* I/O still held completes after its queue went away */
    while ((io = g_queue_pop_head(&fz->held))) {
        nvmet_io_complete(io, ramdisk_do(io));
    }
    nvmet_host_free(fz->host);
    nvmet_host_free(fz->host3);
    for (unsigned i = 0; i < 2; i++) {
        g_free(fz->gen[i].identity);
        g_free(fz->gen_old[i].identity);
    }
    nvmet_subsys_free(fz->plain);
    nvmet_subsys_free(fz->auth);
    nvmet_ns_free(fz->ns1);
    if (fz->ns2) {
        nvmet_ns_free(fz->ns2);
    }
    nvmet_ns_free(fz->ns3);
    nvmet_port_free(fz->port);
    nvmet_port_free(fz->tls_port[0]);
    nvmet_port_free(fz->tls_port[1]);
    nvmet_target_free(fz->t);
    nvmet_trace_set_hook(NULL, NULL);
    g_free(fz->disk1.data);
    g_free(fz->disk2.data);
}

/*
 * Once per process (libFuzzer calls it before the first input, the
 * standalone driver too): what does not depend on the input.
 */
int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    fuzz_init_keys();
    fuzz_init_tls_keys();
    /*
     * The test host's DH values: the same few (x, peer value) pairs come
     * back in input after input; the target's side is computed each time.
     */
    nvmf_dh_memo(64);
#ifdef M_TRIM_THRESHOLD
    /*
     * glibc gives memory back to the kernel when the top of the heap is
     * free, and takes buffers of 128 KiB and more from mmap(): each input
     * then paid page faults for the same namespaces and buffers again.
     * (Sanitizers bring their own allocator and ignore this.)
     */
    mallopt(M_TRIM_THRESHOLD, 64 << 20);
    mallopt(M_MMAP_THRESHOLD, 16 << 20);
#endif
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    FuzzIn in = { data, size, 0 };
    Fuzz fz = { 0 };

    if (size == 0) {
        return 0;
    }
    fuzz_setup(&fz, in_u8(&in));
    prefix(&fz);
    service_all(&fz);
    while (!in_eof(&in)) {
        if (fz.nr_conns) {
            fz_log(cur_conn(&fz), "offset %zu: operation %u", in.pos,
                   in.p[in.pos] % FUZZ_OP_COUNT);
        }
        switch (in_u8(&in) % FUZZ_OP_COUNT) {
        case FUZZ_OP_RAW:
            op_raw(&fz, &in, false);
            break;
        case FUZZ_OP_RAW_CHUNKED:
            op_raw(&fz, &in, true);
            break;
        case FUZZ_OP_CLOCK:
            op_clock(&fz, &in);
            break;
        case FUZZ_OP_SQE:
            op_sqe(&fz, &in);
            break;
        case FUZZ_OP_ADMIN:
            op_admin(&fz, &in);
            break;
        case FUZZ_OP_IO:
            op_io(&fz, &in);
            break;
        case FUZZ_OP_FABRICS:
            op_fabrics(&fz, &in);
            break;
        case FUZZ_OP_H2C:
            op_h2c(&fz, &in);
            break;
        case FUZZ_OP_CONN:
            op_conn(&fz, &in);
            break;
        case FUZZ_OP_HELD:
            op_held(&fz, &in);
            break;
        case FUZZ_OP_TLS:
            op_tls(&fz, &in);
            break;
        case FUZZ_OP_FAULT:
            op_fault(&fz, &in);
            break;
        }
        service_all(&fz);
    }
    /* let pending timers run once more before tearing down */
    fz.now += 3600 * 1000;
    run_timers(&fz);
    fuzz_teardown(&fz);
    return 0;
}
