/*
 * Fuzzing harness for the NVMe-oF TCP target engine.
 *
 * Each input builds a fresh target (one port, an allow-any-host subsystem
 * with a 512 B and a 4 KiB block namespace, and a subsystem whose host must
 * pass bidirectional DH-HMAC-CHAP), optionally drives a valid prefix (ICReq,
 * Connect, authentication) with the test host, then interprets the rest of
 * the input as operations (fuzz-nvmet.h): raw bytes cut at fuzzed
 * boundaries, framed capsules with correct digests, answers to R2Ts, clock
 * advances, connection churn, held block I/O.  Everything the engine sends
 * is parsed and checked for sane PDU framing; everything is freed at the
 * end of the input.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nvmet/engine.h"
#include "nvmet/proto.h"
#include "nvmet/trace-hook.h"
#include "../qtest/nvmf-host.h"
#include "fuzz-nvmet.h"

#define FUZZ_MAX_CONNS      6
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

typedef struct FuzzDisk {
    uint8_t *data;
    uint64_t size;
} FuzzDisk;

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
} OutCheck;

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
} FuzzConn;

struct Fuzz {
    NvmetTarget *t;
    NvmetPort *port;
    NvmetSubsys *plain, *auth;
    NvmetNs *ns1, *ns2, *ns3;
    NvmetHost *host;
    FuzzDisk disk1, disk2;
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

static const NvmetEngineOps fz_ops = {
    .now_ms = fz_now,
    .queue_kick = fz_kick,
    .timer_update = fz_timer,
    .random_bytes = fz_random,
};

static void fz_trace(const char *event, const char *msg, void *opaque)
{
    /* formatting the message is the point; make sure it is a string */
    if (strlen(event) + strlen(msg) == (size_t)-1) {
        abort();
    }
}

/* ---- block backend ------------------------------------------------------------- */

static int disk_do(NvmetIo *io)
{
    FuzzDisk *d = io->backend;

    if (io->op != NVMET_IO_FLUSH &&
        (io->offset > d->size || io->len > d->size - io->offset)) {
        return -EIO;
    }
    switch (io->op) {
    case NVMET_IO_READ:
        memcpy(io->buf, d->data + io->offset, io->len);
        break;
    case NVMET_IO_WRITE:
        memcpy(d->data + io->offset, io->buf, io->len);
        break;
    case NVMET_IO_WRITE_ZEROES:
    case NVMET_IO_DISCARD:
        memset(d->data + io->offset, 0, io->len);
        break;
    case NVMET_IO_FLUSH:
        break;
    default:
        abort();
    }
    return 0;
}

/* ---- output checks --------------------------------------------------------------- */

static uint32_t crc32c(const uint8_t *p, size_t len)
{
    return nvmf_crc32c_digest(p, len);
}

static void check_hdgst(FuzzConn *c, const uint8_t *p, size_t hlen)
{
    if (nvmet_ld32(p + hlen) != crc32c(p, hlen)) {
        check_fail(c, "type 0x%x: bad header digest", p[0]);
    }
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
        check_fail(c, "C2HData bad data digest");
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

static void conn_release(FuzzConn *c)
{
    if (c->q) {
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
            nvmet_io_complete(io, disk_do(io));
        }
    }
    return any;
}

/* Take up to @len output bytes (through the checker); 0 if none. */
static size_t conn_pull(FuzzConn *c, uint8_t *buf, size_t len)
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

/* Drain output and run I/O until the connection is quiet. */
static void conn_service(FuzzConn *c)
{
    for (unsigned i = 0; c->q; i++) {
        bool any = false;

        if (i == FUZZ_SERVICE_LOOPS) {
            check_fail(c, "the engine never stops producing output or I/O");
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
    if (c->chk.term && !nvmet_queue_wants_close(c->q)) {
        check_fail(c, "C2HTermReq sent but the queue stays open");
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
    nvmet_queue_input(c->q, buf, len);
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

static FuzzConn *conn_new(Fuzz *fz)
{
    FuzzConn *c;
    NvmfTransport tr = { host_send, host_recv, NULL };

    if (fz->nr_conns == FUZZ_MAX_CONNS) {
        return NULL;
    }
    c = g_new0(FuzzConn, 1);
    tr.opaque = c;
    c->fz = fz;
    c->idx = fz->nr_conns;
    c->q = nvmet_queue_new(fz->port, "fuzz-peer", c);
    c->h = nvmf_host_new(&tr);
    c->chk.pdu = g_byte_array_new();
    c->next_cid = 0x100;
    fz->conns[fz->nr_conns++] = c;
    fz->cur = c->idx;
    return c;
}

static void conn_free(FuzzConn *c)
{
    conn_release(c);
    nvmf_host_free(c->h);
    g_byte_array_free(c->chk.pdu, true);
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
    while (len && c->q) {
        size_t n = split ? MIN(split, len) : len;

        nvmet_queue_input(c->q, p, n);
        p += n;
        len -= n;
    }
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

static const char *pick_nqn(FuzzIn *in, unsigned sel, bool host, char *buf)
{
    switch (sel & 3) {
    case 0:
        return host ? FUZZ_HOSTNQN2 : FUZZ_SUBNQN;
    case 1:
        return host ? FUZZ_HOSTNQN : FUZZ_AUTH_SUBNQN;
    case 2:
        return host ? FUZZ_HOSTNQN2 : NVME_DISC_SUBSYS_NAME;
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
    const char *subnqn = pick_nqn(in, ctl, false, sbuf);
    const char *hostnqn = pick_nqn(in, ctl >> 2, true, hbuf);
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

        nvmet_io_complete(io, err ? err : disk_do(io));
    }
    if (arg & 0x80) {
        fz->cfg ^= FUZZ_CFG_HOLD_IO;
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

    nvmet_subsys_config_init(&sc);
    sc.nqn = FUZZ_SUBNQN;
    sc.allow_any_host = true;
    sc.max_namespaces = 8;
    fz->plain = must(nvmet_subsys_new(fz->t, &sc, &err), err, "subsystem");
    nvmet_port_add_subsys(fz->port, fz->plain);

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
    fz->host = must(nvmet_host_new(fz->t, FUZZ_HOSTNQN, &err), err, "host");
    if (!nvmet_subsys_add_host(fz->auth, fz->host, &err) ||
        !nvmet_host_set_dhchap_keys(fz->host, fuzz_keys[0], fuzz_keys[1],
                                    &err)) {
        must(NULL, err, "host keys");
    }
    /* any hash; NULL and ffdhe2048 only, bigger groups are slow */
    nvmet_host_set_dhchap_allowed(fz->host, 0, 0x3);
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
        nvmet_io_complete(io, disk_do(io));
    }
    nvmet_host_free(fz->host);
    nvmet_subsys_free(fz->plain);
    nvmet_subsys_free(fz->auth);
    nvmet_ns_free(fz->ns1);
    if (fz->ns2) {
        nvmet_ns_free(fz->ns2);
    }
    nvmet_ns_free(fz->ns3);
    nvmet_port_free(fz->port);
    nvmet_target_free(fz->t);
    nvmet_trace_set_hook(NULL, NULL);
    g_free(fz->disk1.data);
    g_free(fz->disk2.data);
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
        }
        service_all(&fz);
    }
    /* let pending timers run once more before tearing down */
    fz.now += 3600 * 1000;
    run_timers(&fz);
    fuzz_teardown(&fz);
    return 0;
}
