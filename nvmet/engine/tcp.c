/*
 * NVMe-oF target engine: the NVMe/TCP transport.
 *
 * Each NvmetQueue is one TCP connection carrying one SQ/CQ pair: the
 * request core's NvmetSq, wrapped in what the transport needs around it.
 * Bytes come in through nvmet_queue_input() (decrypted by tls.c first on
 * a TLS connection), are framed into PDUs by a small state machine, and
 * turn into commands for the core; the core answers through the transport
 * ops at the end of this file, which produce the output PDUs.
 *
 * All of a queue's work here runs in the thread that serves it, without the
 * target lock: parsing, digests, TLS records and data copies of different
 * queues proceed in parallel.  Output segments, their small header buffers
 * and the data buffers are recycled per queue, so that the data path makes
 * no allocation per command.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#include "qemu/osdep.h"
#include "core.h"
#include "crc32c.h"
#include "crypto.h"
#include "event.h"
#include "fault.h"
#include "target.h"
#include "tls.h"
#include "trace.h"

typedef enum NvmetRxState {
    RX_HEADER,                  /* common header + PDU header (+HDGST) */
    RX_PAD,                     /* skipping bytes between header and data */
    RX_DATA,                    /* collecting data */
    RX_DDGST,                   /* collecting data digest */
    RX_DISCARD,                 /* connection is being terminated */
} NvmetRxState;

typedef struct NvmetOutSeg {
    struct NvmetOutSeg *next;
    uint8_t *data;
    size_t len;
    size_t cap;                 /* > 0: small appendable buffer (after it) */
    uint32_t pool_len;          /* > 0: a data buffer of the SQ's pool */
    uint32_t budget;            /* bytes to return to the queue budget */
} NvmetOutSeg;

/*
 * Segments linked through themselves: queueing a PDU allocates nothing
 * once the queue has as many spare segments as it has PDUs in flight.
 */
typedef struct NvmetOutList {
    NvmetOutSeg *head, *tail;
    unsigned len;
} NvmetOutList;

/*
 * Spare output segments kept per queue: enough for the responses and data
 * of a deep queue's every command in one pass.
 */
#define OUT_SPARE_MAX 256

/* One NVMe/TCP connection. */
struct NvmetQueue {
    NvmetSq sq;                 /* the core's: controller, commands, auth */
    void *opaque;               /* the user's */
    bool ic_done;               /* ICReq/ICResp exchanged */

    /* negotiated at ICReq */
    bool hdgst, ddgst;
    uint8_t hpda;
    uint32_t maxr2t;

    /* receive state machine */
    NvmetRxState rx_state;
    uint8_t hdr[NVME_TCP_ICREQ_HLEN + NVME_TCP_DIGEST_LEN];
    size_t hdr_got, hdr_need;
    size_t pad_left;
    uint8_t *data_dst;
    size_t data_need, data_got;
    uint32_t ddgst_crc;
    uint8_t ddgst_buf[NVME_TCP_DIGEST_LEN];
    size_t ddgst_got;
    NvmetReq *rx_req;           /* request receiving data (or NULL) */
    uint8_t rx_type;

    /* PDUs to send (encrypted first on a TLS connection) */
    NvmetOutList out;
    size_t out_head;            /* bytes of the first segment already sent */
    NvmetOutList out_spare;     /* with a small buffer */
    NvmetOutList out_spare_data;/* for data buffers */
    uint64_t out_queued;        /* PDU bytes ever appended to out */
    uint64_t out_done;          /* ... and ever taken from it */

    /* counters for queries */
    uint64_t wire_rx, wire_tx;  /* bytes received / sent on the connection */
    uint64_t pdus_rx, pdus_tx;  /* cleartext PDU bytes parsed / sent */

    /* decrypted capture (ops.capture) */
    bool cap_on;                /* nvmet_queue_set_capture() */
    int cap_req;                /* atomic: CAP_REQ_*, not applied yet */
    bool cap_rx;                /* received bytes are passed on */
    bool cap_tx_armed;          /* sent bytes from out offset cap_tx_from */
    uint64_t cap_tx_from;

    /* fault injection: spoil the next PDU's digest; ICResp withheld */
    bool corrupt_hdgst, corrupt_ddgst;
    bool icresp_held;

    NvmetTlsConn tls;
    uint8_t *tls_plain;         /* decrypted records (NVMET_TLS_RECORD_MAX) */
    uint8_t *tls_stage;         /* small PDUs gathered into one record */
};

static const NvmetTransportOps tcp_ops;

static NvmetQueue *sq_to_queue(NvmetSq *sq)
{
    return container_of(sq, NvmetQueue, sq);
}

static void rx_reset(NvmetQueue *q);

/* ---- ports --------------------------------------------------------------- */

void nvmet_port_config_init(NvmetPortConfig *cfg)
{
    memset(cfg, 0, sizeof(*cfg));
    cfg->portid = 1;
    cfg->treq = NVMF_TREQ_NOT_SPECIFIED;
    cfg->sqflow_disable_ok = true;
    cfg->inline_data_size = 16384;
    cfg->maxh2cdata = 0x400000;
    cfg->max_queue_size = 1024;
    cfg->max_queues = 128;
    cfg->mdts = 8;              /* 1 MiB, what the Linux host sends at most */
}

/* An NVMe/TCP port: the transport's settings first, then the rest. */
NvmetPort *nvmet_port_new(NvmetTarget *t, const NvmetPortConfig *cfg,
                          GError **errp)
{
    if (cfg->maxh2cdata < NVME_TCP_MIN_MAXH2CDATA || cfg->maxh2cdata % 4) {
        g_set_error(errp, NVMET_ERROR, 0,
                    "maxh2cdata must be a multiple of 4 and at least %d",
                    NVME_TCP_MIN_MAXH2CDATA);
        return NULL;
    }
    return nvmet_port_add(t, cfg, errp);
}

/* ---- output -------------------------------------------------------------- */

/* Room for the headers of a few dozen PDUs (a response is 24 bytes) */
#define OUT_SMALL_CAP 1024

static void out_list_push_tail(NvmetOutList *l, NvmetOutSeg *seg)
{
    seg->next = NULL;
    if (l->tail) {
        l->tail->next = seg;
    } else {
        l->head = seg;
    }
    l->tail = seg;
    l->len++;
}

static void out_list_push_head(NvmetOutList *l, NvmetOutSeg *seg)
{
    seg->next = l->head;
    l->head = seg;
    if (!l->tail) {
        l->tail = seg;
    }
    l->len++;
}

static NvmetOutSeg *out_list_pop_head(NvmetOutList *l)
{
    NvmetOutSeg *seg = l->head;

    if (seg) {
        l->head = seg->next;
        if (!l->head) {
            l->tail = NULL;
        }
        seg->next = NULL;
        l->len--;
    }
    return seg;
}

/* A segment with a small buffer of its own (@small > 0) or for data. */
static NvmetOutSeg *out_seg_new(NvmetQueue *q, size_t small)
{
    NvmetOutSeg *seg;
    size_t cap;

    if (!small) {
        seg = out_list_pop_head(&q->out_spare_data);
        return seg ? seg : g_new0(NvmetOutSeg, 1);
    }
    if (small <= OUT_SMALL_CAP && (seg = out_list_pop_head(&q->out_spare))) {
        return seg;
    }
    /* the buffer follows the segment: one allocation */
    cap = MAX(OUT_SMALL_CAP, small);
    seg = g_malloc0(sizeof(*seg) + cap);
    seg->cap = cap;
    seg->data = (uint8_t *)(seg + 1);
    return seg;
}

/* The segment was sent (or the queue is going away). */
static void out_seg_done(NvmetQueue *q, NvmetOutSeg *seg)
{
    if (seg->cap) {
        if (seg->cap == OUT_SMALL_CAP && q->out_spare.len < OUT_SPARE_MAX) {
            seg->len = 0;
            out_list_push_head(&q->out_spare, seg);
        } else {
            g_free(seg);
        }
        return;
    }
    nvmet_sq_buf_put(&q->sq, seg->data, seg->pool_len, seg->budget);
    if (q->out_spare_data.len < OUT_SPARE_MAX) {
        memset(seg, 0, sizeof(*seg));
        out_list_push_head(&q->out_spare_data, seg);
        return;
    }
    g_free(seg);
}

/* Reserve @len bytes at the end of the output stream; returns them zeroed. */
static uint8_t *out_reserve(NvmetQueue *q, size_t len)
{
    NvmetOutSeg *seg = q->out.tail;
    uint8_t *p;

    if (!seg || !seg->cap || seg->cap - seg->len < len) {
        seg = out_seg_new(q, len);
        out_list_push_tail(&q->out, seg);
    }
    p = seg->data + seg->len;
    seg->len += len;
    q->out_queued += len;
    memset(p, 0, len);
    return p;
}

/* Append a request's data buffer, which passes to the output queue. */
static void out_push_buf(NvmetQueue *q, NvmetReq *req, size_t len)
{
    NvmetOutSeg *seg = out_seg_new(q, 0);

    seg->data = nvmet_req_take_buf(req, &seg->pool_len, &seg->budget);
    seg->len = len;
    q->out_queued += len;
    out_list_push_tail(&q->out, seg);
}

static size_t plain_output(NvmetQueue *q, const uint8_t **data)
{
    NvmetOutSeg *seg = q->out.head;

    if (!seg) {
        *data = NULL;
        return 0;
    }
    *data = seg->data + q->out_head;
    return seg->len - q->out_head;
}

static int plain_output_iov(NvmetQueue *q, struct iovec *iov, int max)
{
    int n = 0;

    for (NvmetOutSeg *seg = q->out.head; seg && n < max;
         seg = seg->next, n++) {
        size_t skip = n == 0 ? q->out_head : 0;

        iov[n].iov_base = seg->data + skip;
        iov[n].iov_len = seg->len - skip;
    }
    return n;
}

enum { CAP_REQ_NONE, CAP_REQ_OFF, CAP_REQ_ON };

/*
 * nvmet_queue_set_capture() may come from another thread (a capture
 * starts or stops in the main loop while the queue runs in an iothread):
 * the queue's own thread applies it, at a PDU boundary.
 */
static void capture_apply(NvmetQueue *q)
{
    int req;

    if (!__atomic_load_n(&q->cap_req, __ATOMIC_RELAXED)) {
        return;
    }
    req = __atomic_exchange_n(&q->cap_req, CAP_REQ_NONE, __ATOMIC_ACQ_REL);
    if (req != CAP_REQ_NONE) {
        nvmet_atomic_set(&q->cap_on, req == CAP_REQ_ON);
        q->cap_rx = false;
        q->cap_tx_armed = false;
    }
}

/* Pass sent cleartext to the capture, from where it was armed on. */
static void capture_tx(NvmetQueue *q, const uint8_t *data, size_t len)
{
    NvmetTarget *t = q->sq.t;
    uint64_t end = q->out_done + len;

    if (q->cap_tx_armed && end > q->cap_tx_from && t->ops.capture) {
        size_t skip = q->cap_tx_from > q->out_done ?
                      q->cap_tx_from - q->out_done : 0;

        t->ops.capture(t->opaque, q, q->opaque, true, data + skip,
                       len - skip);
    }
}

static void plain_output_advance(NvmetQueue *q, size_t n)
{
    nvmet_stat_add(&q->pdus_tx, n);
    while (n > 0) {
        NvmetOutSeg *seg = q->out.head;
        size_t left;

        g_assert(seg);
        left = seg->len - q->out_head;
        if (n < left) {
            if (q->cap_on) {
                capture_tx(q, seg->data + q->out_head, n);
            }
            q->out_done += n;
            q->out_head += n;
            return;
        }
        if (q->cap_on) {
            capture_tx(q, seg->data + q->out_head, left);
        }
        q->out_done += left;
        n -= left;
        q->out_head = 0;
        out_list_pop_head(&q->out);
        out_seg_done(q, seg);
    }
}

/*
 * Gather small PDUs (headers, responses) into one TLS record of up to
 * NVMET_TLS_RECORD_MAX bytes; large data goes into records of its own
 * without the copy.  Returns the bytes gathered into q->tls_stage (0:
 * send the first segment directly).
 */
static size_t tls_gather(NvmetQueue *q)
{
    size_t n = 0, skip = q->out_head;

    for (NvmetOutSeg *seg = q->out.head; seg; seg = seg->next, skip = 0) {
        size_t len = seg->len - skip;

        if (len >= NVMET_TLS_RECORD_MAX / 2) {
            break;
        }
        if (n + len > NVMET_TLS_RECORD_MAX) {
            break;
        }
        if (!q->tls_stage) {
            q->tls_stage = g_malloc(NVMET_TLS_RECORD_MAX);
        }
        memcpy(q->tls_stage + n, seg->data + skip, len);
        n += len;
    }
    return n;
}

/* On a TLS connection: encrypt the PDUs waiting to be sent. */
static void tls_encrypt_pending(NvmetQueue *q)
{
    const uint8_t *data;
    size_t n;

    while (nvmet_tls_can_send(&q->tls) && plain_output(q, &data)) {
        size_t staged = tls_gather(q);
        ssize_t sent;

        if (staged) {
            /*
             * The record carries the staged bytes in stream order (all of
             * them unless the host limited the record size), so the
             * segments advance by what it took.
             */
            sent = nvmet_tls_send(&q->tls, q->tls_stage, staged);
            if (sent < 0) {
                break;
            }
        } else {
            n = plain_output(q, &data);
            sent = nvmet_tls_send(&q->tls, data, n);
            if (sent < 0) {
                break;
            }
        }
        plain_output_advance(q, sent);
    }
}

/*
 * What the user sends: the PDUs themselves, or on a TLS connection the
 * records that carry them.
 */
size_t nvmet_queue_output(NvmetQueue *q, const uint8_t **data)
{
    nvmet_sq_service(&q->sq);
    if (nvmet_tls_in_use(&q->tls)) {
        tls_encrypt_pending(q);
        return nvmet_tls_output(&q->tls, data);
    }
    return plain_output(q, data);
}

int nvmet_queue_output_iov(NvmetQueue *q, struct iovec *iov, int max)
{
    const uint8_t *data;
    size_t n;

    nvmet_sq_service(&q->sq);
    if (!nvmet_tls_in_use(&q->tls)) {
        return plain_output_iov(q, iov, max);
    }
    n = nvmet_queue_output(q, &data);
    if (!n || max < 1) {
        return 0;
    }
    iov[0].iov_base = (void *)data;
    iov[0].iov_len = n;
    return 1;
}

void nvmet_queue_output_advance(NvmetQueue *q, size_t n)
{
    nvmet_stat_add(&q->wire_tx, n);
    if (nvmet_tls_in_use(&q->tls)) {
        nvmet_tls_output_advance(&q->tls, n);
    } else {
        plain_output_advance(q, n);
    }
}

bool nvmet_queue_wants_close(NvmetQueue *q)
{
    nvmet_sq_service(&q->sq);
    return q->sq.closing;
}

static void queue_kick(NvmetQueue *q)
{
    nvmet_sq_kick(&q->sq);
}

/* ---- building PDUs ------------------------------------------------------- */

/*
 * Every PDU the target sends is built between pdu_begin() and pdu_end():
 * pdu_begin() reserves @len zeroed bytes at the end of the output (the
 * header, its digest and any padding up to the data) and fills in the
 * common header; pdu_end() adds the header digest if @flags asked for it.
 */
static uint8_t *pdu_begin(NvmetQueue *q, uint8_t type, uint8_t flags,
                          uint8_t hlen, uint8_t pdo, uint32_t plen, size_t len)
{
    uint8_t *p;

    capture_apply(q);
    if (q->cap_on && !q->cap_tx_armed) {
        /* the capture of sent bytes starts with this PDU */
        q->cap_tx_armed = true;
        q->cap_tx_from = q->out_queued;
    }
    p = out_reserve(q, len);

    p[NVME_TCP_CH_TYPE] = type;
    p[NVME_TCP_CH_FLAGS] = flags;
    p[NVME_TCP_CH_HLEN] = hlen;
    p[NVME_TCP_CH_PDO] = pdo;
    nvmet_st32(p + NVME_TCP_CH_PLEN, plen);
    return p;
}

static void pdu_end(NvmetQueue *q, uint8_t *p)
{
    uint8_t hlen = p[NVME_TCP_CH_HLEN];

    if (p[NVME_TCP_CH_FLAGS] & NVME_TCP_F_HDGST) {
        nvmet_st32(p + hlen, nvmet_digest(p, hlen) ^
                   (q->corrupt_hdgst ? 0xffffffff : 0));
    }
    q->corrupt_hdgst = false;
}

static size_t hdgst_len(NvmetQueue *q)
{
    return q->hdgst ? NVME_TCP_DIGEST_LEN : 0;
}

static uint8_t hdgst_flag(NvmetQueue *q)
{
    return q->hdgst ? NVME_TCP_F_HDGST : 0;
}

/*
 * A fault at the C2HTermReq itself: true to drop it; or it says which FES
 * (and FEI) to send instead.
 */
static bool term_fault(NvmetQueue *q, uint16_t *fes, uint32_t *fei)
{
    NvmetFaultHit hit;

    if (!nvmet_fault_at(&q->sq, NVMET_FP_PDU_C2H_TERM, NULL, &hit)) {
        return false;
    }
    if (hit.action == NVMET_FA_DROP) {
        return true;
    }
    *fes = hit.fes;
    *fei = hit.fei;
    return false;
}

/*
 * Fatal transport error: send a C2HTermReq carrying the header of the PDU in
 * error and close the connection afterwards.
 */
static void queue_fatal(NvmetQueue *q, uint16_t fes, uint32_t fei,
                        const char *why)
{
    size_t errlen = MIN(q->hdr_got, NVME_TCP_TERM_MAX_ERR_HDR);
    size_t plen = NVME_TCP_TERM_HLEN + errlen;
    uint8_t *p;

    if (q->sq.closing) {
        return;
    }
    if (nvmet_fault_armed(q->sq.t, NVMET_FP_PDU_C2H_TERM) &&
        term_fault(q, &fes, &fei)) {
        nvmet_sq_close(&q->sq, why);       /* no C2HTermReq: just close */
        return;
    }
    trace_nvmet_tcp_fatal(q->sq.name, fes, fei, why);
    {
        NvmetEvent ev = {
            .type = NVMET_EVENT_TRANSPORT_ERROR,
            .reason = why,
            .u.fatal.fes = fes,
            .u.fatal.has_fei = fes == NVME_TCP_FES_INVALID_HEADER ||
                               fes == NVME_TCP_FES_UNSUPPORTED_PARAM,
            .u.fatal.fei = fei,
        };

        nvmet_event_sq(&q->sq, &ev);
    }
    p = pdu_begin(q, NVME_TCP_PDU_C2H_TERM, 0, NVME_TCP_TERM_HLEN, 0, plen,
                  plen);
    nvmet_st16(p + NVME_TCP_TERM_FES, fes);
    if (fes == NVME_TCP_FES_INVALID_HEADER ||
        fes == NVME_TCP_FES_UNSUPPORTED_PARAM) {
        nvmet_st32(p + NVME_TCP_TERM_FEI, fei);
    }
    memcpy(p + NVME_TCP_TERM_HLEN, q->hdr, errlen);
    pdu_end(q, p);
    nvmet_sq_close(&q->sq, why);
}

/*
 * Fault injection at a PDU step: the context of the PDU (@req: the
 * command it belongs to), and the actions taken before the PDU is built:
 * terminate, close, drop or withhold it (true: the PDU is not to be
 * sent), spoil its digests (in pdu_end() and send_c2h_data()).  A delay
 * or a close after the PDU is left in @hit for the caller.
 */
static bool pdu_fault(NvmetQueue *q, NvmetFaultPoint p, NvmetReq *req,
                      NvmetFaultHit *hit)
{
    NvmetFaultCtx ctx;
    g_autofree char *why = NULL;

    hit->id = 0;
    if (!nvmet_fault_armed(q->sq.t, p)) {
        /* the hot path: nothing else when no fault is armed here */
        return false;
    }
    ctx = (NvmetFaultCtx) {
        .hdgst = q->hdgst && p != NVMET_FP_PDU_ICRESP,
        .ddgst = q->ddgst && p == NVMET_FP_PDU_C2H_DATA,
    };
    if (req) {
        ctx.has_cmd = true;
        ctx.opcode = req->opc;
        ctx.cid = req->cid;
    } else if (p == NVMET_FP_PDU_CAPSULE_CMD) {
        ctx.has_cmd = true;
        ctx.opcode = q->hdr[NVME_TCP_CMD_SQE + NVME_SQE_OPC];
        ctx.cid = nvmet_ld16(q->hdr + NVME_TCP_CMD_SQE + NVME_SQE_CID);
    }
    if (!nvmet_fault_at(&q->sq, p, &ctx, hit)) {
        return false;
    }
    switch (hit->action) {
    case NVMET_FA_C2H_TERM:
        why = g_strdup_printf("fault %u terminated the connection", hit->id);
        queue_fatal(q, hit->fes, hit->fei, why);
        return true;
    case NVMET_FA_CLOSE:
        if (hit->after_response) {
            return false;
        }
        why = g_strdup_printf("fault %u closed the connection", hit->id);
        nvmet_sq_close(&q->sq, why);
        return true;
    case NVMET_FA_DROP:
    case NVMET_FA_WITHHOLD_R2T:
        return true;
    case NVMET_FA_CORRUPT_HDGST:
        q->corrupt_hdgst = true;
        return false;
    case NVMET_FA_CORRUPT_DDGST:
        q->corrupt_ddgst = true;
        return false;
    default:
        return false;
    }
}

/* After the PDU went out: a close the fault asked for. */
static void pdu_fault_after(NvmetQueue *q, const NvmetFaultHit *hit)
{
    if (hit->id && hit->action == NVMET_FA_CLOSE) {
        g_autofree char *why = g_strdup_printf(
            "fault %u closed the connection after the PDU", hit->id);

        nvmet_sq_close(&q->sq, why);
    }
}

static void build_icresp(NvmetQueue *q)
{
    uint8_t *p = pdu_begin(q, NVME_TCP_PDU_ICRESP, 0, NVME_TCP_ICRESP_HLEN,
                           0, NVME_TCP_ICRESP_HLEN, NVME_TCP_ICRESP_HLEN);

    nvmet_st16(p + NVME_TCP_IC_PFV, NVME_TCP_PFV_1_0);
    p[NVME_TCP_ICRESP_CPDA] = 0;
    p[NVME_TCP_IC_DGST] = (q->hdgst ? NVME_TCP_IC_DGST_HDR : 0) |
                          (q->ddgst ? NVME_TCP_IC_DGST_DATA : 0);
    nvmet_st32(p + NVME_TCP_ICRESP_MAXDATA, q->sq.port->cfg.maxh2cdata);
    pdu_end(q, p);
}

static void icresp_resume(NvmetSq *sq, void *opaque)
{
    NvmetQueue *q = sq_to_queue(sq);

    q->icresp_held = false;
    if (!sq->closing) {
        build_icresp(q);
        queue_kick(q);
    }
}

static void send_icresp(NvmetQueue *q)
{
    NvmetFaultHit hit;

    if (pdu_fault(q, NVMET_FP_PDU_ICRESP, NULL, &hit)) {
        /* dropped: held back for ever */
        q->icresp_held = hit.action == NVMET_FA_DROP;
        return;
    }
    if (hit.id && hit.action == NVMET_FA_DELAY) {
        q->icresp_held = true;
        nvmet_fault_defer(&q->sq, &hit, icresp_resume, NULL);
        return;
    }
    build_icresp(q);
    pdu_fault_after(q, &hit);
}

static void build_r2t(NvmetReq *req)
{
    NvmetQueue *q = sq_to_queue(req->sq);
    size_t len = NVME_TCP_R2T_HLEN + hdgst_len(q);
    uint8_t *p = pdu_begin(q, NVME_TCP_PDU_R2T, hdgst_flag(q),
                           NVME_TCP_R2T_HLEN, 0, len, len);

    nvmet_st16(p + NVME_TCP_DATA_CCCID, req->cid);
    nvmet_st16(p + NVME_TCP_DATA_TTAG, req->ttag);
    nvmet_st32(p + NVME_TCP_DATA_DATAO, 0);
    nvmet_st32(p + NVME_TCP_DATA_DATAL, req->data_len);
    pdu_end(q, p);
    trace_nvmet_tcp_r2t(q->sq.name, req->cid, req->ttag, req->data_len);
    req->state = REQ_WAIT_DATA;
    queue_kick(q);
}

static void r2t_resume(NvmetSq *sq, void *opaque)
{
    if (!sq->closing) {
        build_r2t(opaque);
    }
}

static void send_r2t(NvmetReq *req)
{
    NvmetQueue *q = sq_to_queue(req->sq);
    NvmetFaultHit hit;

    if (pdu_fault(q, NVMET_FP_PDU_R2T, req, &hit)) {
        return;                 /* withheld: the command waits for ever */
    }
    if (hit.id && hit.action == NVMET_FA_DELAY) {
        nvmet_fault_defer(&q->sq, &hit, r2t_resume, req);
        return;
    }
    build_r2t(req);
    pdu_fault_after(q, &hit);
}

static void send_c2h_data(NvmetReq *req, bool success)
{
    NvmetQueue *q = sq_to_queue(req->sq);
    size_t dd = q->ddgst ? NVME_TCP_DIGEST_LEN : 0;
    size_t align = (q->hpda + 1) * 4;
    size_t pdo = QEMU_ALIGN_UP(NVME_TCP_DATA_HLEN + hdgst_len(q), align);
    uint32_t len = req->data_len;
    uint8_t flags = NVME_TCP_F_DATA_LAST | hdgst_flag(q);
    uint8_t *p;

    if (q->ddgst) {
        flags |= NVME_TCP_F_DDGST;
    }
    if (success) {
        flags |= NVME_TCP_F_DATA_SUCCESS;
    }
    p = pdu_begin(q, NVME_TCP_PDU_C2H_DATA, flags, NVME_TCP_DATA_HLEN, pdo,
                  pdo + len + dd, pdo);
    nvmet_st16(p + NVME_TCP_DATA_CCCID, req->cid);
    nvmet_st32(p + NVME_TCP_DATA_DATAO, 0);
    nvmet_st32(p + NVME_TCP_DATA_DATAL, len);
    pdu_end(q, p);

    if (dd) {
        uint32_t crc = nvmet_digest(req->buf, len);

        if (q->corrupt_ddgst) {
            crc = ~crc;
            q->corrupt_ddgst = false;
        }
        out_push_buf(q, req, len);
        nvmet_st32(out_reserve(q, dd), crc);
    } else {
        out_push_buf(q, req, len);
    }
    /* the buffer and its budget now belong to the output queue */
    trace_nvmet_tcp_c2h_data(q->sq.name, req->cid, len, success);
}

static void send_resp(NvmetReq *req)
{
    NvmetQueue *q = sq_to_queue(req->sq);
    size_t len = NVME_TCP_RSP_HLEN + hdgst_len(q);
    uint8_t *p = pdu_begin(q, NVME_TCP_PDU_RSP, hdgst_flag(q),
                           NVME_TCP_RSP_HLEN, 0, len, len);

    memcpy(p + NVME_TCP_RSP_CQE, req->cqe, NVME_CQE_SIZE);
    pdu_end(q, p);
}

/* ---- commands ------------------------------------------------------------ */

/*
 * The command's data pointer: in-capsule data (already in req->buf) or a
 * transport SGL for data to fetch with an R2T or to return in C2HData.
 */
static void map_data(NvmetReq *req)
{
    NvmetPort *port = req->sq->port;
    const uint8_t *sgl = req->sqe + NVME_SQE_DPTR;
    uint8_t sgl_id = sgl[NVME_SGL_ID];
    uint32_t sgl_len = nvmet_ld32(sgl + NVME_SGL_LEN);
    uint32_t incapsule = req->buf_len;
    unsigned dir = nvmet_req_data_dir(req);

    if (incapsule) {
        if (sgl_id != NVME_SGL_ID_DATA_OFFSET) {
            nvmet_req_complete(req, NVME_SC_SGL_INVALID_TYPE | NVME_STATUS_DNR);
            return;
        }
        if (nvmet_ld64(sgl + NVME_SGL_ADDR) != 0) {
            nvmet_req_complete(req,
                               NVME_SC_SGL_INVALID_OFFSET | NVME_STATUS_DNR);
            return;
        }
        if (sgl_len != incapsule || dir != NVME_DATA_H2C) {
            nvmet_req_complete(req, NVME_SC_SGL_INVALID_DATA | NVME_STATUS_DNR);
            return;
        }
        req->h2c = true;
        req->data_len = sgl_len;
        nvmet_req_execute(req);
        return;
    }

    if (sgl_len == 0) {
        nvmet_req_execute(req);
        return;
    }
    if (sgl_id == NVME_SGL_ID_DATA_OFFSET) {
        /* an in-capsule descriptor but no data in the capsule */
        nvmet_req_complete(req, NVME_SC_SGL_INVALID_DATA | NVME_STATUS_DNR);
        return;
    }
    if (sgl_id != NVME_SGL_ID_TRANSPORT) {
        nvmet_req_complete(req, NVME_SC_SGL_INVALID_TYPE | NVME_STATUS_DNR);
        return;
    }
    if (dir != NVME_DATA_H2C && dir != NVME_DATA_C2H) {
        nvmet_req_complete(req, NVME_SC_INVALID_FIELD | NVME_STATUS_DNR);
        return;
    }
    if (sgl_len > nvmet_port_max_xfer(port)) {
        /* the base specification's answer to a transfer beyond MDTS */
        trace_nvmet_cmd_too_large(req->sq->name, req->cid, sgl_len,
                                  nvmet_port_max_xfer(port));
        req->err_pel = NVME_SQE_DPTR + NVME_SGL_LEN;
        nvmet_req_complete(req, NVME_SC_INVALID_FIELD | NVME_STATUS_DNR);
        return;
    }
    req->data_len = sgl_len;
    req->h2c = dir == NVME_DATA_H2C;
    req->c2h = dir == NVME_DATA_C2H;
    nvmet_req_alloc_data(req);
}

/*
 * A command capsule has arrived in full (with its in-capsule data, if any,
 * in req->buf).
 */
static void cmd_start(NvmetReq *req)
{
    if (nvmet_req_init(req)) {
        map_data(req);
    }
}

/* ---- PDU reception ------------------------------------------------------- */

static void rx_reset(NvmetQueue *q)
{
    q->rx_state = RX_HEADER;
    q->hdr_got = 0;
    q->hdr_need = NVME_TCP_CH_LEN;
    q->rx_req = NULL;
    q->data_dst = NULL;
    q->data_need = q->data_got = 0;
    q->pad_left = 0;
    q->ddgst_got = 0;
}

static uint8_t expected_hlen(uint8_t type)
{
    switch (type) {
    case NVME_TCP_PDU_ICREQ: return NVME_TCP_ICREQ_HLEN;
    case NVME_TCP_PDU_H2C_TERM: return NVME_TCP_TERM_HLEN;
    case NVME_TCP_PDU_CMD: return NVME_TCP_CMD_HLEN;
    case NVME_TCP_PDU_H2C_DATA: return NVME_TCP_DATA_HLEN;
    default: return 0;
    }
}

static bool pdu_has_hdgst(NvmetQueue *q, uint8_t type)
{
    return q->hdgst &&
           (type == NVME_TCP_PDU_CMD || type == NVME_TCP_PDU_H2C_DATA);
}

static uint32_t max_incapsule(NvmetQueue *q)
{
    NvmetSq *sq = &q->sq;

    return sq->qid == 0 && sq->ctrl ? NVMET_ADMIN_INLINE_SIZE :
           sq->ctrl ? sq->port->cfg.inline_data_size :
           MAX(NVMET_ADMIN_INLINE_SIZE, sq->port->cfg.inline_data_size);
}

/* The data (and digest) lengths of a command or H2CData PDU. */
static bool rx_check_data(NvmetQueue *q, uint8_t type, uint8_t flags,
                          uint8_t hlen, uint8_t pdo, uint32_t plen, size_t hd)
{
    size_t dd = 0;
    uint32_t datalen;

    if (plen == hlen + hd) {
        if (type == NVME_TCP_PDU_H2C_DATA) {
            queue_fatal(q, NVME_TCP_FES_INVALID_HEADER, NVME_TCP_CH_PLEN,
                        "H2CData without data");
            return false;
        }
        return true;
    }
    if (q->ddgst) {
        if (!(flags & NVME_TCP_F_DDGST)) {
            queue_fatal(q, NVME_TCP_FES_INVALID_HEADER, NVME_TCP_CH_FLAGS,
                        "data digest flag missing");
            return false;
        }
        dd = NVME_TCP_DIGEST_LEN;
    } else if (flags & NVME_TCP_F_DDGST) {
        queue_fatal(q, NVME_TCP_FES_INVALID_HEADER, NVME_TCP_CH_FLAGS,
                    "data digest flag without negotiation");
        return false;
    }
    if (pdo < hlen + hd || pdo % 4 || plen < pdo + dd) {
        queue_fatal(q, NVME_TCP_FES_INVALID_HEADER, NVME_TCP_CH_PDO,
                    "bad PDU data offset");
        return false;
    }
    datalen = plen - pdo - dd;
    if (datalen == 0) {
        queue_fatal(q, NVME_TCP_FES_INVALID_HEADER, NVME_TCP_CH_PLEN,
                    "data offset without data");
        return false;
    }
    if (type == NVME_TCP_PDU_CMD && datalen > max_incapsule(q)) {
        queue_fatal(q, NVME_TCP_FES_R2T_LIMIT, 0,
                    "in-capsule data exceeds the in-capsule data size");
        return false;
    }
    if (type == NVME_TCP_PDU_H2C_DATA &&
        datalen > q->sq.port->cfg.maxh2cdata) {
        queue_fatal(q, NVME_TCP_FES_R2T_LIMIT, 0,
                    "H2CData payload exceeds MAXH2CDATA");
        return false;
    }
    return true;
}

/*
 * The 8-byte common header is in q->hdr: check it and work out how much
 * PDU-specific header (and header digest) follows.
 */
static bool rx_common_header(NvmetQueue *q)
{
    uint8_t type = q->hdr[NVME_TCP_CH_TYPE];
    uint8_t flags = q->hdr[NVME_TCP_CH_FLAGS];
    uint8_t hlen = q->hdr[NVME_TCP_CH_HLEN];
    uint8_t pdo = q->hdr[NVME_TCP_CH_PDO];
    uint32_t plen = nvmet_ld32(q->hdr + NVME_TCP_CH_PLEN);
    size_t hd;

    q->rx_type = type;
    if (!expected_hlen(type)) {
        queue_fatal(q, NVME_TCP_FES_INVALID_HEADER, NVME_TCP_CH_TYPE,
                    "unexpected PDU type");
        return false;
    }
    if (type == NVME_TCP_PDU_ICREQ && q->ic_done) {
        queue_fatal(q, NVME_TCP_FES_PDU_SEQ_ERR, 0, "second ICReq");
        return false;
    }
    if (type != NVME_TCP_PDU_ICREQ && type != NVME_TCP_PDU_H2C_TERM &&
        !q->ic_done) {
        queue_fatal(q, NVME_TCP_FES_PDU_SEQ_ERR, 0, "PDU before ICReq");
        return false;
    }
    if (hlen != expected_hlen(type)) {
        queue_fatal(q, NVME_TCP_FES_INVALID_HEADER, NVME_TCP_CH_HLEN,
                    "bad header length");
        return false;
    }
    hd = pdu_has_hdgst(q, type) ? NVME_TCP_DIGEST_LEN : 0;
    if (type == NVME_TCP_PDU_CMD || type == NVME_TCP_PDU_H2C_DATA) {
        if (!!(flags & NVME_TCP_F_HDGST) != q->hdgst) {
            queue_fatal(q, NVME_TCP_FES_INVALID_HEADER, NVME_TCP_CH_FLAGS,
                        "header digest flag does not match negotiation");
            return false;
        }
    }
    if (plen < hlen + hd) {
        queue_fatal(q, NVME_TCP_FES_INVALID_HEADER, NVME_TCP_CH_PLEN,
                    "PDU length shorter than its header");
        return false;
    }

    switch (type) {
    case NVME_TCP_PDU_ICREQ:
        if (plen != NVME_TCP_ICREQ_HLEN) {
            queue_fatal(q, NVME_TCP_FES_INVALID_HEADER, NVME_TCP_CH_PLEN,
                        "ICReq length is not 128");
            return false;
        }
        break;
    case NVME_TCP_PDU_H2C_TERM:
        if (plen > NVME_TCP_TERM_HLEN + NVME_TCP_TERM_MAX_ERR_HDR) {
            queue_fatal(q, NVME_TCP_FES_INVALID_HEADER, NVME_TCP_CH_PLEN,
                        "H2CTermReq too long");
            return false;
        }
        break;
    case NVME_TCP_PDU_CMD:
    case NVME_TCP_PDU_H2C_DATA:
        if (!rx_check_data(q, type, flags, hlen, pdo, plen, hd)) {
            return false;
        }
        break;
    }
    q->hdr_need = hlen + hd;
    return true;
}

/* Arrange for @len data bytes to go to @dst after @pad padding bytes. */
static void rx_expect_data(NvmetQueue *q, uint8_t *dst, size_t pad, size_t len)
{
    q->data_dst = dst;
    q->data_need = len;
    q->data_got = 0;
    q->ddgst_crc = ~0u;
    q->pad_left = pad;
    q->rx_state = pad ? RX_PAD : RX_DATA;
}

static void handle_icreq(NvmetQueue *q)
{
    uint16_t pfv = nvmet_ld16(q->hdr + NVME_TCP_IC_PFV);
    uint8_t hpda = q->hdr[NVME_TCP_ICREQ_HPDA];
    uint8_t dgst = q->hdr[NVME_TCP_IC_DGST];

    if (pfv != NVME_TCP_PFV_1_0) {
        queue_fatal(q, NVME_TCP_FES_UNSUPPORTED_PARAM, NVME_TCP_IC_PFV,
                    "unsupported PDU format version");
        return;
    }
    if (hpda > NVME_TCP_MAX_HPDA) {
        queue_fatal(q, NVME_TCP_FES_INVALID_HEADER, NVME_TCP_ICREQ_HPDA,
                    "HPDA out of range");
        return;
    }
    q->hpda = hpda;
    q->hdgst = dgst & NVME_TCP_IC_DGST_HDR;
    q->ddgst = dgst & NVME_TCP_IC_DGST_DATA;
    q->maxr2t = nvmet_ld32(q->hdr + NVME_TCP_ICREQ_MAXR2T);
    q->ic_done = true;
    nvmet_sq_setup_done(&q->sq);
    trace_nvmet_tcp_icreq(q->sq.name, pfv, hpda, q->hdgst, q->ddgst,
                          q->maxr2t);
    send_icresp(q);
    queue_kick(q);
}

static void handle_cmd_header(NvmetQueue *q)
{
    uint32_t plen = nvmet_ld32(q->hdr + NVME_TCP_CH_PLEN);
    uint8_t pdo = q->hdr[NVME_TCP_CH_PDO];
    size_t hd = pdu_has_hdgst(q, NVME_TCP_PDU_CMD) ? NVME_TCP_DIGEST_LEN : 0;
    NvmetReq *req = nvmet_req_alloc(&q->sq);

    if (!req) {
        queue_fatal(q, NVME_TCP_FES_PDU_SEQ_ERR, 0,
                    "more commands outstanding than the queue size");
        return;
    }
    memcpy(req->sqe, q->hdr + NVME_TCP_CMD_SQE, NVME_SQE_SIZE);
    if (plen > NVME_TCP_CMD_HLEN + hd) {
        size_t dd = q->ddgst ? NVME_TCP_DIGEST_LEN : 0;
        size_t len = plen - pdo - dd;

        if (!nvmet_req_alloc_incapsule(req, len)) {
            queue_fatal(q, NVME_TCP_FES_R2T_LIMIT, 0,
                        "no memory for in-capsule data");
            return;
        }
        q->rx_req = req;
        rx_expect_data(q, req->buf, pdo - NVME_TCP_CMD_HLEN - hd, len);
        return;
    }
    rx_reset(q);
    cmd_start(req);
}

static void handle_h2c_data_header(NvmetQueue *q)
{
    uint16_t cccid = nvmet_ld16(q->hdr + NVME_TCP_DATA_CCCID);
    uint16_t ttag = nvmet_ld16(q->hdr + NVME_TCP_DATA_TTAG);
    uint32_t datao = nvmet_ld32(q->hdr + NVME_TCP_DATA_DATAO);
    uint32_t datal = nvmet_ld32(q->hdr + NVME_TCP_DATA_DATAL);
    uint32_t plen = nvmet_ld32(q->hdr + NVME_TCP_CH_PLEN);
    uint8_t pdo = q->hdr[NVME_TCP_CH_PDO];
    size_t hd = pdu_has_hdgst(q, NVME_TCP_PDU_H2C_DATA) ?
                NVME_TCP_DIGEST_LEN : 0;
    size_t dd = q->ddgst ? NVME_TCP_DIGEST_LEN : 0;
    NvmetReq *req;

    if (ttag >= q->sq.nr_reqs || q->sq.reqs[ttag].state != REQ_WAIT_DATA) {
        queue_fatal(q, NVME_TCP_FES_INVALID_HEADER, NVME_TCP_DATA_TTAG,
                    "H2CData for an unknown transfer tag");
        return;
    }
    req = &q->sq.reqs[ttag];
    if (req->cid != cccid) {
        queue_fatal(q, NVME_TCP_FES_INVALID_HEADER, NVME_TCP_DATA_CCCID,
                    "H2CData command id does not match the transfer tag");
        return;
    }
    if (datal != plen - pdo - dd) {
        queue_fatal(q, NVME_TCP_FES_INVALID_HEADER, NVME_TCP_DATA_DATAL,
                    "H2CData DATAL does not match the PDU length");
        return;
    }
    if (datao != req->h2c_received ||
        (uint64_t)datao + datal > req->data_len) {
        queue_fatal(q, NVME_TCP_FES_DATA_OUT_OF_RANGE, 0,
                    "H2CData outside the requested range");
        return;
    }
    q->rx_req = req;
    rx_expect_data(q, req->buf + datao, pdo - NVME_TCP_DATA_HLEN - hd, datal);
}

/* A fault at a received PDU (its header is in): true if it fired */
static bool rx_fault(NvmetQueue *q)
{
    static const uint8_t type_point[] = {
        [NVME_TCP_PDU_ICREQ] = NVMET_FP_PDU_ICREQ,
        [NVME_TCP_PDU_H2C_TERM] = NVMET_FP_PDU_H2C_TERM,
        [NVME_TCP_PDU_CMD] = NVMET_FP_PDU_CAPSULE_CMD,
        [NVME_TCP_PDU_H2C_DATA] = NVMET_FP_PDU_H2C_DATA,
    };
    NvmetFaultHit hit;

    if (q->icresp_held) {
        /* the host did not wait for the ICResp a fault holds back */
        queue_fatal(q, NVME_TCP_FES_PDU_SEQ_ERR, 0,
                    "PDU before the (delayed) ICResp");
        return true;
    }
    return nvmet_fault_armed_any(q->sq.t) &&
           pdu_fault(q, type_point[q->rx_type], NULL, &hit);
}

static void rx_header_done(NvmetQueue *q)
{
    uint8_t hlen = q->hdr[NVME_TCP_CH_HLEN];

    if (pdu_has_hdgst(q, q->rx_type)) {
        uint32_t want = nvmet_digest(q->hdr, hlen);
        uint32_t got = nvmet_ld32(q->hdr + hlen);

        if (want != got) {
            trace_nvmet_tcp_digest_error(q->sq.name, "header", got, want);
            queue_fatal(q, NVME_TCP_FES_HDR_DIGEST_ERR, 0,
                        "header digest mismatch");
            return;
        }
    }

    if (rx_fault(q)) {
        return;
    }
    switch (q->rx_type) {
    case NVME_TCP_PDU_ICREQ:
        handle_icreq(q);
        if (!q->sq.closing) {
            rx_reset(q);
        }
        break;
    case NVME_TCP_PDU_H2C_TERM:
        trace_nvmet_tcp_h2c_term(q->sq.name,
                                 nvmet_ld16(q->hdr + NVME_TCP_TERM_FES),
                                 nvmet_ld32(q->hdr + NVME_TCP_TERM_FEI));
        nvmet_sq_close(&q->sq, "host sent H2CTermReq");
        break;
    case NVME_TCP_PDU_CMD:
        handle_cmd_header(q);
        break;
    case NVME_TCP_PDU_H2C_DATA:
        handle_h2c_data_header(q);
        break;
    default:
        g_assert_not_reached();
    }
}

/* All data (and its digest) of the current PDU has arrived. */
static void rx_data_done(NvmetQueue *q, bool digest_ok)
{
    NvmetReq *req = q->rx_req;
    uint8_t type = q->rx_type;
    size_t len = q->data_need;
    bool last = q->hdr[NVME_TCP_CH_FLAGS] & NVME_TCP_F_DATA_LAST;

    rx_reset(q);
    if (!digest_ok) {
        /* a data digest error is not fatal: the command fails instead */
        req->ddgst_error = true;
    }
    if (type == NVME_TCP_PDU_CMD) {
        cmd_start(req);
        return;
    }
    req->h2c_received += len;
    trace_nvmet_tcp_h2c_data(q->sq.name, req->cid, len, req->h2c_received,
                             req->data_len);
    if (req->h2c_received == req->data_len) {
        if (!last) {
            trace_nvmet_tcp_missing_last(q->sq.name, req->cid);
        }
        nvmet_req_execute(req);
    }
}

/*
 * One step of the receive state machine on PDU bytes: returns how many of
 * @p it consumed.
 */
static size_t rx_step(NvmetQueue *q, const uint8_t *p, size_t len)
{
    size_t n;

    switch (q->rx_state) {
    case RX_DISCARD:
        return len;

    case RX_HEADER:
        n = MIN(len, q->hdr_need - q->hdr_got);
        memcpy(q->hdr + q->hdr_got, p, n);
        q->hdr_got += n;
        if (q->hdr_got < q->hdr_need) {
            return n;
        }
        if (q->hdr_need == NVME_TCP_CH_LEN) {
            if (!rx_common_header(q)) {
                q->rx_state = RX_DISCARD;   /* closing after C2HTermReq */
                return n;
            }
            if (q->hdr_got < q->hdr_need) {
                return n;
            }
        }
        rx_header_done(q);
        return n;

    case RX_PAD:
        n = MIN(len, q->pad_left);
        q->pad_left -= n;
        if (!q->pad_left) {
            q->rx_state = RX_DATA;
        }
        return n;

    case RX_DATA:
        n = MIN(len, q->data_need - q->data_got);
        memcpy(q->data_dst + q->data_got, p, n);
        if (q->ddgst) {
            q->ddgst_crc = nvmet_crc32c(q->ddgst_crc, p, n);
        }
        q->data_got += n;
        if (q->data_got == q->data_need) {
            if (q->ddgst) {
                q->rx_state = RX_DDGST;
            } else {
                rx_data_done(q, true);
            }
        }
        return n;

    case RX_DDGST:
        n = MIN(len, NVME_TCP_DIGEST_LEN - q->ddgst_got);
        memcpy(q->ddgst_buf + q->ddgst_got, p, n);
        q->ddgst_got += n;
        if (q->ddgst_got == NVME_TCP_DIGEST_LEN) {
            uint32_t want = ~q->ddgst_crc;
            uint32_t got = nvmet_ld32(q->ddgst_buf);

            if (want != got) {
                trace_nvmet_tcp_digest_error(q->sq.name, "data", got,
                                             want);
            }
            rx_data_done(q, want == got);
        }
        return n;
    }
    g_assert_not_reached();
}

/* PDU bytes of the connection, decrypted if it runs over TLS */
static void pdu_input(NvmetQueue *q, const uint8_t *p, size_t len)
{
    NvmetTarget *t = q->sq.t;

    while (len > 0 && !q->sq.released && q->rx_state != RX_DISCARD) {
        size_t n;

        if (q->rx_state == RX_HEADER && q->hdr_got == 0) {
            /* between PDUs: what other threads asked for */
            nvmet_sq_service(&q->sq);
            if (q->sq.released || q->rx_state != RX_HEADER) {
                continue;
            }
        }
        if (q->rx_state == RX_HEADER && q->hdr_got == 0) {
            capture_apply(q);
        }
        if (q->cap_on && !q->cap_rx && q->rx_state == RX_HEADER &&
            q->hdr_got == 0) {
            /* the capture of received bytes starts with this PDU */
            q->cap_rx = true;
        }
        n = rx_step(q, p, len);
        nvmet_stat_add(&q->pdus_rx, n);
        if (q->cap_rx && t->ops.capture) {
            t->ops.capture(t->opaque, q, q->opaque, false, p, n);
        }
        p += n;
        len -= n;
    }
}

/* Feed the PDU parser what TLS decrypted. */
static void tls_input(NvmetQueue *q)
{
    size_t n;

    if (!q->tls_plain) {
        /* wiped and freed with the queue */
        q->tls_plain = g_malloc(NVMET_TLS_RECORD_MAX);
    }
    while ((n = nvmet_tls_recv(&q->tls, q->tls_plain, NVMET_TLS_RECORD_MAX))) {
        pdu_input(q, q->tls_plain, n);
    }
    if (nvmet_tls_output_pending(&q->tls)) {
        queue_kick(q);
    }
}

void nvmet_queue_input(NvmetQueue *q, const void *buf, size_t len)
{
    nvmet_sq_service(&q->sq);
    /* the commands of one input arrived at once (nvmet_sq_keep_alive()) */
    q->sq.input_pass++;
    nvmet_stat_add(&q->wire_rx, len);
    if (q->sq.closing) {
        /*
         * The engine ended the connection (and its port may be gone, see
         * nvmet_port_free()): whatever still arrives, cleartext or TLS
         * records, is dropped unread.
         */
        trace_nvmet_queue_input_dropped(q->sq.name, len);
        return;
    }
    if (nvmet_tls_input(&q->tls, buf, len)) {
        tls_input(q);
    } else {
        pdu_input(q, buf, len);
    }
}

/* ---- queue life cycle ---------------------------------------------------- */

NvmetQueue *nvmet_queue_new(NvmetPort *port, const char *peer, void *opaque)
{
    NvmetQueue *q = g_new0(NvmetQueue, 1);

    q->opaque = opaque;
    nvmet_sq_init(&q->sq, port, peer, &tcp_ops);
    q->sq.queue = q;
    q->sq.queue_opaque = opaque;
    rx_reset(q);
    nvmet_tls_init(&q->tls, &q->sq, q, opaque);
    {
        NvmetEvent ev = { .type = NVMET_EVENT_CONN_ACCEPTED };

        nvmet_event_sq(&q->sq, &ev);
    }
    nvmet_sq_start(&q->sq);
    return q;
}

void nvmet_queue_set_capture(NvmetQueue *q, bool on)
{
    /* applied by the queue's thread: capture_apply() */
    __atomic_store_n(&q->cap_req, on ? CAP_REQ_ON : CAP_REQ_OFF,
                     __ATOMIC_RELEASE);
}

void nvmet_queue_note_close(NvmetQueue *q, const char *why)
{
    if (!q->sq.close_reason) {
        q->sq.close_reason = g_strdup(why);
    }
}

void nvmet_queue_release(NvmetQueue *q)
{
    q->rx_state = RX_DISCARD;
    nvmet_sq_release(&q->sq);
}

const char *nvmet_queue_name(NvmetQueue *q)
{
    return q->sq.name;
}

uint16_t nvmet_queue_qid(NvmetQueue *q)
{
    return q->sq.qid;
}

NvmetCtrl *nvmet_queue_ctrl(NvmetQueue *q)
{
    return q->sq.ctrl;
}

NvmetIo *nvmet_queue_next_io(NvmetQueue *q)
{
    nvmet_sq_service(&q->sq);
    return nvmet_sq_next_io(&q->sq);
}

/* ---- what the core asks of the transport --------------------------------- */

static void tcp_queue_response(NvmetReq *req)
{
    NvmetSq *sq = req->sq;
    NvmetQueue *q = sq_to_queue(sq);
    NvmetFaultHit hit;

    if (req->status == NVME_SC_SUCCESS && req->c2h && req->data_len) {
        /*
         * With SQ flow control disabled the CQE carries nothing the host
         * needs beyond success, so the last C2HData may complete the
         * command by itself.
         */
        bool success = sq->sqflow_disabled && req->dw0 == 0 && req->dw1 == 0;

        if (pdu_fault(q, NVMET_FP_PDU_C2H_DATA, req, &hit)) {
            return;
        }
        send_c2h_data(req, success);
        pdu_fault_after(q, &hit);
        if (success || sq->closing) {
            return;
        }
    }
    if (pdu_fault(q, NVMET_FP_PDU_CAPSULE_RESP, req, &hit)) {
        return;
    }
    send_resp(req);
    pdu_fault_after(q, &hit);
}

static void tcp_buffer_ready(NvmetReq *req)
{
    if (req->h2c) {
        send_r2t(req);
    } else {
        nvmet_req_execute(req);
    }
}

static void tcp_close(NvmetSq *sq)
{
    NvmetQueue *q = sq_to_queue(sq);

    q->rx_state = RX_DISCARD;
    queue_kick(q);
}

static void tcp_fatal(NvmetSq *sq, uint16_t fes, uint32_t fei,
                      const char *why)
{
    queue_fatal(sq_to_queue(sq), fes, fei, why);
}

static void tcp_kick(NvmetSq *sq)
{
    NvmetQueue *q = sq_to_queue(sq);
    NvmetTarget *t = sq->t;

    if (t->ops.queue_kick) {
        t->ops.queue_kick(t->opaque, q, q->opaque);
    }
}

static void tcp_bound(NvmetSq *sq)
{
    NvmetQueue *q = sq_to_queue(sq);
    NvmetTarget *t = sq->t;

    if (t->ops.queue_bound) {
        t->ops.queue_bound(t->opaque, q, q->opaque, sq->subsys_opaque,
                           sq->qid);
    }
}

static void tcp_queue_info(NvmetSq *sq, NvmetQueueInfo *info)
{
    NvmetQueue *q = sq_to_queue(sq);

    info->hdgst = q->hdgst;
    info->ddgst = q->ddgst;
    /* counted by the queue's thread: relaxed atomics */
    info->bytes_received = nvmet_atomic_read(&q->wire_rx);
    info->bytes_sent = nvmet_atomic_read(&q->wire_tx);
    info->pdu_bytes_received = nvmet_atomic_read(&q->pdus_rx);
    info->pdu_bytes_sent = nvmet_atomic_read(&q->pdus_tx);
    switch (__atomic_load_n(&q->cap_req, __ATOMIC_ACQUIRE)) {
    case CAP_REQ_ON:
        info->capturing = true;
        break;
    case CAP_REQ_OFF:
        info->capturing = false;
        break;
    default:
        info->capturing = nvmet_atomic_read(&q->cap_on);
    }
}

static void tcp_free(NvmetSq *sq)
{
    NvmetQueue *q = sq_to_queue(sq);
    NvmetOutSeg *seg;

    /* the SQ's pool is gone: data buffers go straight back to libc */
    while ((seg = out_list_pop_head(&q->out))) {
        if (seg->cap) {
            /* the buffer is part of the segment */
        } else if (seg->pool_len) {
            free(seg->data);
        } else {
            g_free(seg->data);
        }
        g_free(seg);
    }
    while ((seg = out_list_pop_head(&q->out_spare))) {
        g_free(seg);
    }
    while ((seg = out_list_pop_head(&q->out_spare_data))) {
        g_free(seg);
    }
    nvmet_tls_free(&q->tls);
    if (q->tls_plain) {
        nvmet_memzero(q->tls_plain, NVMET_TLS_RECORD_MAX);
        g_free(q->tls_plain);
    }
    if (q->tls_stage) {
        nvmet_memzero(q->tls_stage, NVMET_TLS_RECORD_MAX);
        g_free(q->tls_stage);
    }
    g_free(q);
}

static const NvmetTransportOps tcp_ops = {
    .queue_response = tcp_queue_response,
    .buffer_ready = tcp_buffer_ready,
    .close = tcp_close,
    .fatal = tcp_fatal,
    .kick = tcp_kick,
    .bound = tcp_bound,
    .queue_info = tcp_queue_info,
    .free = tcp_free,
};
