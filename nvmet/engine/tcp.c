/*
 * NVMe-oF TCP target engine: NVMe/TCP transport (PDU framing, connection
 * initialisation, data transfer, digests) and the command life cycle.
 *
 * Each NvmetQueue is one TCP connection carrying one SQ/CQ pair.  Bytes come
 * in through nvmet_queue_input(), are framed into PDUs by a small state
 * machine, and produce output segments and block I/O requests.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#include "internal.h"

static void rx_reset(NvmetQueue *q);
static void req_start(NvmetReq *req);
static void req_free(NvmetReq *req);
static void queue_try_free(NvmetQueue *q);

/* ---- status strings for traces -------------------------------------------- */

const char *nvmet_status_str(uint16_t status)
{
    switch (status & ~NVME_STATUS_DNR) {
    case NVME_SC_SUCCESS: return "success";
    case NVME_SC_INVALID_OPCODE: return "invalid opcode";
    case NVME_SC_INVALID_FIELD: return "invalid field";
    case NVME_SC_DATA_XFER_ERROR: return "data transfer error";
    case NVME_SC_INTERNAL: return "internal error";
    case NVME_SC_INVALID_NS: return "invalid namespace";
    case NVME_SC_CMD_SEQ_ERROR: return "command sequence error";
    case NVME_SC_SGL_INVALID_DATA: return "data SGL length invalid";
    case NVME_SC_SGL_INVALID_TYPE: return "SGL descriptor type invalid";
    case NVME_SC_SGL_INVALID_OFFSET: return "SGL offset invalid";
    case NVME_SC_NS_WRITE_PROTECTED: return "namespace write protected";
    case NVME_SC_TRANSIENT_TR_ERR: return "transient transport error";
    case NVME_SC_LBA_RANGE: return "LBA out of range";
    case NVME_SC_CAP_EXCEEDED: return "capacity exceeded";
    case NVME_SC_INVALID_LOG_PAGE: return "invalid log page";
    case NVME_SC_FEATURE_NOT_SAVEABLE: return "feature not saveable";
    case NVME_SC_AER_LIMIT: return "AER limit exceeded";
    case NVME_SC_CONNECT_FORMAT: return "connect: incompatible format";
    case NVME_SC_CONNECT_CTRL_BUSY: return "connect: controller busy";
    case NVME_SC_CONNECT_INVALID_PARAM: return "connect: invalid parameters";
    case NVME_SC_CONNECT_INVALID_HOST: return "connect: invalid host";
    case NVME_SC_AUTH_REQUIRED: return "authentication required";
    case NVME_SC_WRITE_FAULT: return "write fault";
    case NVME_SC_READ_ERROR: return "unrecovered read error";
    default: return "error";
    }
}

/* ---- output ---------------------------------------------------------------- */

#define OUT_SMALL_CAP 4096

/* Reserve @len bytes at the end of the output stream; returns them zeroed. */
static uint8_t *out_reserve(NvmetQueue *q, size_t len)
{
    NvmetOutSeg *seg = g_queue_peek_tail(&q->out);
    uint8_t *p;

    if (!seg || !seg->cap || seg->cap - seg->len < len) {
        seg = g_new0(NvmetOutSeg, 1);
        seg->cap = MAX(OUT_SMALL_CAP, len);
        seg->data = g_malloc(seg->cap);
        g_queue_push_tail(&q->out, seg);
    }
    p = seg->data + seg->len;
    seg->len += len;
    memset(p, 0, len);
    return p;
}

/* Append a buffer whose ownership passes to the output queue. */
static void out_push_owned(NvmetQueue *q, uint8_t *data, size_t len,
                           uint32_t budget)
{
    NvmetOutSeg *seg = g_new0(NvmetOutSeg, 1);

    seg->data = data;
    seg->len = len;
    seg->budget = budget;
    g_queue_push_tail(&q->out, seg);
}

static void out_seg_free(NvmetOutSeg *seg)
{
    g_free(seg->data);
    g_free(seg);
}

static void budget_release(NvmetQueue *q, uint32_t bytes);

size_t nvmet_plain_output(NvmetQueue *q, const uint8_t **data)
{
    NvmetOutSeg *seg = g_queue_peek_head(&q->out);

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

    for (GList *l = q->out.head; l && n < max; l = l->next, n++) {
        NvmetOutSeg *seg = l->data;
        size_t skip = n == 0 ? q->out_head : 0;

        iov[n].iov_base = seg->data + skip;
        iov[n].iov_len = seg->len - skip;
    }
    return n;
}

void nvmet_plain_output_advance(NvmetQueue *q, size_t n)
{
    while (n > 0) {
        NvmetOutSeg *seg = g_queue_peek_head(&q->out);
        size_t left;

        g_assert(seg);
        left = seg->len - q->out_head;
        if (n < left) {
            q->out_head += n;
            return;
        }
        n -= left;
        q->out_head = 0;
        g_queue_pop_head(&q->out);
        if (seg->budget) {
            budget_release(q, seg->budget);
        }
        out_seg_free(seg);
    }
}

/*
 * What the user sends: the PDUs themselves, or on a TLS connection the
 * records that carry them (nvmet_tls_output* encrypt pending PDUs first).
 */
size_t nvmet_queue_output(NvmetQueue *q, const uint8_t **data)
{
    if (nvmet_tls_in_use(q)) {
        return nvmet_tls_output(q, data);
    }
    return nvmet_plain_output(q, data);
}

int nvmet_queue_output_iov(NvmetQueue *q, struct iovec *iov, int max)
{
    const uint8_t *data;
    size_t n;

    if (!nvmet_tls_in_use(q)) {
        return plain_output_iov(q, iov, max);
    }
    n = nvmet_tls_output(q, &data);
    if (!n || max < 1) {
        return 0;
    }
    iov[0].iov_base = (void *)data;
    iov[0].iov_len = n;
    return 1;
}

void nvmet_queue_output_advance(NvmetQueue *q, size_t n)
{
    if (nvmet_tls_in_use(q)) {
        nvmet_tls_output_advance(q, n);
    } else {
        nvmet_plain_output_advance(q, n);
    }
}

bool nvmet_queue_wants_close(NvmetQueue *q)
{
    return q->closing;
}

void nvmet_queue_kick(NvmetQueue *q)
{
    if (!q->released && q->t->ops.queue_kick) {
        q->t->ops.queue_kick(q->t->opaque, q, q->opaque);
    }
}

/* Fill in a PDU common header at @p. */
static void pdu_ch(uint8_t *p, uint8_t type, uint8_t flags, uint8_t hlen,
                   uint8_t pdo, uint32_t plen)
{
    p[NVME_TCP_CH_TYPE] = type;
    p[NVME_TCP_CH_FLAGS] = flags;
    p[NVME_TCP_CH_HLEN] = hlen;
    p[NVME_TCP_CH_PDO] = pdo;
    nvmet_st32(p + NVME_TCP_CH_PLEN, plen);
}

/* Append the header digest for the header at @p if negotiated. */
static void pdu_hdgst(NvmetQueue *q, uint8_t *p, size_t hlen)
{
    if (q->hdgst) {
        nvmet_st32(p + hlen, nvmet_digest(p, hlen));
    }
}

static size_t hdgst_len(NvmetQueue *q)
{
    return q->hdgst ? NVME_TCP_DIGEST_LEN : 0;
}

/* ---- connection teardown ------------------------------------------------- */

void nvmet_queue_close(NvmetQueue *q, const char *why)
{
    if (q->closing) {
        return;
    }
    trace_nvmet_queue_close(q->name, why);
    q->closing = true;
    q->rx_state = RX_DISCARD;
    nvmet_queue_kick(q);
}

/*
 * Fatal transport error: send a C2HTermReq carrying the header of the PDU in
 * error and close the connection afterwards.
 */
static void queue_fatal(NvmetQueue *q, uint16_t fes, uint32_t fei,
                        const char *why)
{
    size_t errlen = MIN(q->hdr_got, NVME_TCP_TERM_MAX_ERR_HDR);
    uint8_t *p;

    if (q->closing) {
        return;
    }
    trace_nvmet_tcp_fatal(q->name, fes, fei, why);
    p = out_reserve(q, NVME_TCP_TERM_HLEN + errlen);
    pdu_ch(p, NVME_TCP_PDU_C2H_TERM, 0, NVME_TCP_TERM_HLEN, 0,
           NVME_TCP_TERM_HLEN + errlen);
    nvmet_st16(p + NVME_TCP_TERM_FES, fes);
    if (fes == NVME_TCP_FES_INVALID_HEADER ||
        fes == NVME_TCP_FES_UNSUPPORTED_PARAM) {
        nvmet_st32(p + NVME_TCP_TERM_FEI, fei);
    }
    memcpy(p + NVME_TCP_TERM_HLEN, q->hdr, errlen);
    nvmet_queue_close(q, why);
}

/* ---- buffer budget ----------------------------------------------------------- */

static bool budget_try(NvmetQueue *q, uint32_t len)
{
    if (q->budget_used && q->budget_used + len > NVMET_QUEUE_BUF_BUDGET) {
        return false;
    }
    q->budget_used += len;
    return true;
}

static void req_buffer_ready(NvmetReq *req);

static void budget_release(NvmetQueue *q, uint32_t bytes)
{
    g_assert(q->budget_used >= bytes);
    q->budget_used -= bytes;

    while (!q->closing && !g_queue_is_empty(&q->wait_buf)) {
        NvmetReq *req = g_queue_peek_head(&q->wait_buf);

        if (!budget_try(q, req->data_len)) {
            break;
        }
        g_queue_pop_head(&q->wait_buf);
        req->budget = req->data_len;
        req->buf = g_malloc0(req->data_len);
        req->buf_len = req->data_len;
        req_buffer_ready(req);
    }
}

/* Allocate an unbudgeted buffer (small, for commands whose size is bounded). */
bool nvmet_req_alloc_buf(NvmetReq *req, uint32_t len)
{
    g_free(req->buf);
    req->buf = g_malloc0(len);
    req->buf_len = len;
    return true;
}

/* ---- requests ------------------------------------------------------------- */

static NvmetReq *req_alloc(NvmetQueue *q)
{
    for (unsigned i = 0; i < q->nr_reqs; i++) {
        NvmetReq *req = &q->reqs[i];

        if (req->state == REQ_FREE) {
            memset(req, 0, sizeof(*req));
            req->q = q;
            req->ttag = i;
            req->state = REQ_EXEC;
            q->reqs_busy++;
            return req;
        }
    }
    return NULL;
}

static void req_free(NvmetReq *req)
{
    NvmetQueue *q = req->q;

    g_assert(req->state != REQ_FREE);
    g_assert(req->ios_pending == 0);
    if (req->state == REQ_WAIT_BUF) {
        g_queue_remove(&q->wait_buf, req);
    }
    if (req->ns) {
        nvmet_ns_unref(req->ns);
        req->ns = NULL;
    }
    g_free(req->buf);
    req->buf = NULL;
    req->state = REQ_FREE;
    q->reqs_busy--;
    if (req->budget) {
        uint32_t b = req->budget;

        req->budget = 0;
        budget_release(q, b);
    }
}

/* Forget a request without answering it (aborted by a reset). */
void nvmet_req_drop(NvmetReq *req)
{
    trace_nvmet_cmd_dropped(req->q->name, req->cid, req->opc);
    req_free(req);
}

static void send_r2t(NvmetReq *req)
{
    NvmetQueue *q = req->q;
    size_t hd = hdgst_len(q);
    uint8_t *p = out_reserve(q, NVME_TCP_R2T_HLEN + hd);

    pdu_ch(p, NVME_TCP_PDU_R2T, q->hdgst ? NVME_TCP_F_HDGST : 0,
           NVME_TCP_R2T_HLEN, 0, NVME_TCP_R2T_HLEN + hd);
    nvmet_st16(p + NVME_TCP_DATA_CCCID, req->cid);
    nvmet_st16(p + NVME_TCP_DATA_TTAG, req->ttag);
    nvmet_st32(p + NVME_TCP_DATA_DATAO, 0);
    nvmet_st32(p + NVME_TCP_DATA_DATAL, req->data_len);
    pdu_hdgst(q, p, NVME_TCP_R2T_HLEN);
    trace_nvmet_tcp_r2t(q->name, req->cid, req->ttag, req->data_len);
    req->state = REQ_WAIT_DATA;
    nvmet_queue_kick(q);
}

static void send_c2h_data(NvmetReq *req, bool success)
{
    NvmetQueue *q = req->q;
    size_t hd = hdgst_len(q);
    size_t dd = q->ddgst ? NVME_TCP_DIGEST_LEN : 0;
    size_t align = (q->hpda + 1) * 4;
    size_t pdo = NVMET_ROUND_UP(NVME_TCP_DATA_HLEN + hd, align);
    uint32_t len = req->data_len;
    uint8_t flags = NVME_TCP_F_DATA_LAST;
    uint8_t *p;

    if (q->hdgst) {
        flags |= NVME_TCP_F_HDGST;
    }
    if (q->ddgst) {
        flags |= NVME_TCP_F_DDGST;
    }
    if (success) {
        flags |= NVME_TCP_F_DATA_SUCCESS;
    }
    p = out_reserve(q, pdo);
    pdu_ch(p, NVME_TCP_PDU_C2H_DATA, flags, NVME_TCP_DATA_HLEN, pdo,
           pdo + len + dd);
    nvmet_st16(p + NVME_TCP_DATA_CCCID, req->cid);
    nvmet_st32(p + NVME_TCP_DATA_DATAO, 0);
    nvmet_st32(p + NVME_TCP_DATA_DATAL, len);
    pdu_hdgst(q, p, NVME_TCP_DATA_HLEN);

    if (dd) {
        uint32_t crc = nvmet_digest(req->buf, len);

        out_push_owned(q, req->buf, len, req->budget);
        nvmet_st32(out_reserve(q, dd), crc);
    } else {
        out_push_owned(q, req->buf, len, req->budget);
    }
    /* the buffer and its budget now belong to the output queue */
    req->buf = NULL;
    req->budget = 0;
    trace_nvmet_tcp_c2h_data(q->name, req->cid, len, success);
}

static void send_resp(NvmetReq *req)
{
    NvmetQueue *q = req->q;
    size_t hd = hdgst_len(q);
    uint8_t *p = out_reserve(q, NVME_TCP_RSP_HLEN + hd);
    uint8_t *cqe = p + NVME_TCP_RSP_CQE;

    pdu_ch(p, NVME_TCP_PDU_RSP, q->hdgst ? NVME_TCP_F_HDGST : 0,
           NVME_TCP_RSP_HLEN, 0, NVME_TCP_RSP_HLEN + hd);
    nvmet_st32(cqe + NVME_CQE_DW0, req->dw0);
    nvmet_st32(cqe + NVME_CQE_DW1, req->dw1);
    nvmet_st16(cqe + NVME_CQE_SQHD, q->sqflow_disabled ? 0xffff : req->sqhd);
    nvmet_st16(cqe + NVME_CQE_SQID, q->qid);
    nvmet_st16(cqe + NVME_CQE_CID, req->cid);
    nvmet_st16(cqe + NVME_CQE_STATUS, req->status << 1);
    pdu_hdgst(q, p, NVME_TCP_RSP_HLEN);
}

void nvmet_req_complete(NvmetReq *req, uint16_t status)
{
    NvmetQueue *q = req->q;

    g_assert(req->ios_pending == 0);
    req->status = status;
    if (q->closing || q->released) {
        req_free(req);
        queue_try_free(q);
        return;
    }
    if (status != NVME_SC_SUCCESS) {
        trace_nvmet_cmd_error(q->name, req->cid, req->opc, req->nsid, status,
                              nvmet_status_str(status));
        nvmet_error_log_add(req);
    } else {
        trace_nvmet_cmd_done(q->name, req->cid, req->opc, req->dw0);
    }

    if (status == NVME_SC_SUCCESS && req->c2h && req->data_len) {
        /*
         * With SQ flow control disabled the CQE carries nothing the host
         * needs beyond success, so the last C2HData may complete the
         * command by itself.
         */
        bool success = q->sqflow_disabled && req->dw0 == 0 && req->dw1 == 0;

        send_c2h_data(req, success);
        if (!success) {
            send_resp(req);
        }
    } else {
        send_resp(req);
    }
    req_free(req);
    nvmet_queue_kick(q);
}

NvmetIo *nvmet_req_submit_io(NvmetReq *req, NvmetNs *ns, NvmetIoOp op,
                             uint64_t offset, uint64_t len, void *buf)
{
    NvmetIoPriv *p = g_new0(NvmetIoPriv, 1);

    p->io.op = op;
    p->io.backend = ns->cfg.backend;
    p->io.offset = offset;
    p->io.len = len;
    p->io.buf = buf;
    p->req = req;
    req->ios_pending++;
    g_queue_push_tail(&req->q->io_queue, p);
    trace_nvmet_io_submit(req->q->name, req->cid, op, offset, len);
    nvmet_queue_kick(req->q);
    return &p->io;
}

NvmetIo *nvmet_queue_next_io(NvmetQueue *q)
{
    NvmetIoPriv *p = g_queue_pop_head(&q->io_queue);

    if (!p) {
        return NULL;
    }
    p->handed_out = true;
    q->ios_inflight++;
    return &p->io;
}

void nvmet_io_complete(NvmetIo *io, int ret)
{
    NvmetIoPriv *p = container_of(io, NvmetIoPriv, io);
    NvmetReq *req = p->req;
    NvmetQueue *q = req->q;

    g_assert(p->handed_out);
    q->ios_inflight--;
    g_free(p);
    if (ret < 0 && req->io_ret == 0) {
        req->io_ret = ret;
        trace_nvmet_io_error(q->name, req->cid, ret);
    }
    g_assert(req->ios_pending > 0);
    if (--req->ios_pending > 0) {
        return;
    }
    if (q->closing || q->released) {
        req_free(req);
        queue_try_free(q);
        return;
    }
    req->io_done(req);
}

/* ---- command start ------------------------------------------------------- */

static void req_exec(NvmetReq *req)
{
    NvmetQueue *q = req->q;

    req->state = REQ_EXEC;
    if (req->ddgst_error) {
        nvmet_req_complete(req, NVME_SC_TRANSIENT_TR_ERR);
        return;
    }
    if (req->opc == NVME_FABRICS_COMMAND) {
        nvmet_exec_fabrics(req);
        return;
    }
    if (!q->ctrl) {
        trace_nvmet_cmd_before_connect(q->name, req->cid, req->opc);
        nvmet_req_complete(req, NVME_SC_CMD_SEQ_ERROR | NVME_STATUS_DNR);
        return;
    }
    if (q->auth.required && !q->auth.authenticated) {
        trace_nvmet_cmd_unauthenticated(q->name, req->cid, req->opc);
        nvmet_req_complete(req, NVME_SC_AUTH_REQUIRED | NVME_STATUS_DNR);
        return;
    }
    nvmet_ctrl_keep_alive(q->ctrl);
    if (q->qid == 0) {
        if (q->ctrl->subsys && q->ctrl->subsys->discovery) {
            nvmet_exec_disc(req);
        } else {
            nvmet_exec_admin(req);
        }
    } else {
        nvmet_exec_io(req);
    }
}

static void req_buffer_ready(NvmetReq *req)
{
    if (req->h2c) {
        send_r2t(req);
    } else {
        req_exec(req);
    }
}

static uint32_t max_xfer(NvmetQueue *q)
{
    return 4096u << q->port->cfg.mdts;
}

/*
 * A command capsule has arrived in full (with its in-capsule data, if any,
 * in req->buf).  Validate the data pointer and start the command.
 */
static void req_start(NvmetReq *req)
{
    NvmetQueue *q = req->q;
    const uint8_t *sgl = req->sqe + NVME_SQE_DPTR;
    uint8_t flags = req->sqe[NVME_SQE_FLAGS];
    uint8_t sgl_id = sgl[NVME_SGL_ID];
    uint32_t sgl_len = nvmet_ld32(sgl + NVME_SGL_LEN);
    uint32_t incapsule = req->buf_len;
    unsigned dir;

    req->opc = req->sqe[NVME_SQE_OPC];
    req->cid = nvmet_ld16(req->sqe + NVME_SQE_CID);
    req->nsid = nvmet_ld32(req->sqe + NVME_SQE_NSID);
    req->err_pel = 0xffff;

    /* every command fetched advances the SQ head */
    q->sqhd = (q->sqhd + 1) % (q->sqsize ? q->sqsize : NVMET_ADMIN_MAX_SQSIZE);
    req->sqhd = q->sqhd;

    trace_nvmet_cmd(q->name, req->cid, req->opc, req->nsid,
                    nvmet_sqe_dw(req, NVME_SQE_CDW10), sgl_len);

    if ((flags & NVME_SQE_FLAGS_PSDT_MASK) == 0 ||
        (flags & NVME_SQE_FLAGS_FUSE_MASK)) {
        /* fabrics carry SGLs only, and we do not support fused operations */
        req->err_pel = NVME_SQE_FLAGS;
        nvmet_req_complete(req, NVME_SC_INVALID_FIELD | NVME_STATUS_DNR);
        return;
    }

    /* Data direction: opcode bits 1:0, or the fctype for fabrics commands */
    if (req->opc == NVME_FABRICS_COMMAND) {
        dir = (req->sqe[NVME_SQE_FCTYPE] & 1) ? 1 : 2;
    } else {
        dir = req->opc & 3;
    }

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
        if (sgl_len != incapsule || dir != 1) {
            nvmet_req_complete(req, NVME_SC_SGL_INVALID_DATA | NVME_STATUS_DNR);
            return;
        }
        req->h2c = true;
        req->data_len = sgl_len;
        req_exec(req);
        return;
    }

    if (sgl_len == 0) {
        req_exec(req);
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
    if (dir != 1 && dir != 2) {
        nvmet_req_complete(req, NVME_SC_INVALID_FIELD | NVME_STATUS_DNR);
        return;
    }
    if (sgl_len > max_xfer(q)) {
        trace_nvmet_cmd_too_large(q->name, req->cid, sgl_len, max_xfer(q));
        nvmet_req_complete(req, NVME_SC_SGL_INVALID_DATA | NVME_STATUS_DNR);
        return;
    }
    req->data_len = sgl_len;
    req->h2c = dir == 1;
    req->c2h = dir == 2;
    if (!budget_try(q, sgl_len)) {
        req->state = REQ_WAIT_BUF;
        g_queue_push_tail(&q->wait_buf, req);
        return;
    }
    req->budget = sgl_len;
    req->buf = g_malloc0(sgl_len);
    req->buf_len = sgl_len;
    req_buffer_ready(req);
}

/* ---- PDU reception --------------------------------------------------------- */

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
    return q->qid == 0 && q->ctrl ? NVMET_ADMIN_INLINE_SIZE :
           q->ctrl ? q->port->cfg.inline_data_size :
           MAX(NVMET_ADMIN_INLINE_SIZE, q->port->cfg.inline_data_size);
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
    case NVME_TCP_PDU_H2C_DATA: {
        size_t dd = 0;
        uint32_t datalen;

        if (plen == hlen + hd) {
            if (type == NVME_TCP_PDU_H2C_DATA) {
                queue_fatal(q, NVME_TCP_FES_INVALID_HEADER, NVME_TCP_CH_PLEN,
                            "H2CData without data");
                return false;
            }
            break;
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
        if (type == NVME_TCP_PDU_H2C_DATA && datalen > q->port->cfg.maxh2cdata) {
            queue_fatal(q, NVME_TCP_FES_R2T_LIMIT, 0,
                        "H2CData payload exceeds MAXH2CDATA");
            return false;
        }
        break;
    }
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
    uint8_t *p;

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
    trace_nvmet_tcp_icreq(q->name, pfv, hpda, q->hdgst, q->ddgst, q->maxr2t);

    p = out_reserve(q, NVME_TCP_ICRESP_HLEN);
    pdu_ch(p, NVME_TCP_PDU_ICRESP, 0, NVME_TCP_ICRESP_HLEN, 0,
           NVME_TCP_ICRESP_HLEN);
    nvmet_st16(p + NVME_TCP_IC_PFV, NVME_TCP_PFV_1_0);
    p[NVME_TCP_ICRESP_CPDA] = 0;
    p[NVME_TCP_IC_DGST] = (q->hdgst ? NVME_TCP_IC_DGST_HDR : 0) |
                          (q->ddgst ? NVME_TCP_IC_DGST_DATA : 0);
    nvmet_st32(p + NVME_TCP_ICRESP_MAXDATA, q->port->cfg.maxh2cdata);
    nvmet_queue_kick(q);
}

static void handle_cmd_header(NvmetQueue *q)
{
    uint32_t plen = nvmet_ld32(q->hdr + NVME_TCP_CH_PLEN);
    uint8_t pdo = q->hdr[NVME_TCP_CH_PDO];
    size_t hd = pdu_has_hdgst(q, NVME_TCP_PDU_CMD) ? NVME_TCP_DIGEST_LEN : 0;
    NvmetReq *req = req_alloc(q);

    if (!req) {
        queue_fatal(q, NVME_TCP_FES_PDU_SEQ_ERR, 0,
                    "more commands outstanding than the queue size");
        return;
    }
    memcpy(req->sqe, q->hdr + NVME_TCP_CMD_SQE, NVME_SQE_SIZE);
    if (plen > NVME_TCP_CMD_HLEN + hd) {
        size_t dd = q->ddgst ? NVME_TCP_DIGEST_LEN : 0;
        size_t len = plen - pdo - dd;

        nvmet_req_alloc_buf(req, len);
        q->rx_req = req;
        rx_expect_data(q, req->buf, pdo - NVME_TCP_CMD_HLEN - hd, len);
        return;
    }
    rx_reset(q);
    req_start(req);
}

static void handle_h2c_data_header(NvmetQueue *q)
{
    uint16_t cccid = nvmet_ld16(q->hdr + NVME_TCP_DATA_CCCID);
    uint16_t ttag = nvmet_ld16(q->hdr + NVME_TCP_DATA_TTAG);
    uint32_t datao = nvmet_ld32(q->hdr + NVME_TCP_DATA_DATAO);
    uint32_t datal = nvmet_ld32(q->hdr + NVME_TCP_DATA_DATAL);
    uint32_t plen = nvmet_ld32(q->hdr + NVME_TCP_CH_PLEN);
    uint8_t pdo = q->hdr[NVME_TCP_CH_PDO];
    size_t hd = pdu_has_hdgst(q, NVME_TCP_PDU_H2C_DATA) ? NVME_TCP_DIGEST_LEN : 0;
    size_t dd = q->ddgst ? NVME_TCP_DIGEST_LEN : 0;
    NvmetReq *req;

    if (ttag >= q->nr_reqs || q->reqs[ttag].state != REQ_WAIT_DATA) {
        queue_fatal(q, NVME_TCP_FES_INVALID_HEADER, NVME_TCP_DATA_TTAG,
                    "H2CData for an unknown transfer tag");
        return;
    }
    req = &q->reqs[ttag];
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

static void rx_header_done(NvmetQueue *q)
{
    uint8_t hlen = q->hdr[NVME_TCP_CH_HLEN];

    if (pdu_has_hdgst(q, q->rx_type)) {
        uint32_t want = nvmet_digest(q->hdr, hlen);
        uint32_t got = nvmet_ld32(q->hdr + hlen);

        if (want != got) {
            trace_nvmet_tcp_digest_error(q->name, "header", got, want);
            queue_fatal(q, NVME_TCP_FES_HDR_DIGEST_ERR, 0,
                        "header digest mismatch");
            return;
        }
    }

    switch (q->rx_type) {
    case NVME_TCP_PDU_ICREQ:
        handle_icreq(q);
        if (!q->closing) {
            rx_reset(q);
        }
        break;
    case NVME_TCP_PDU_H2C_TERM:
        trace_nvmet_tcp_h2c_term(q->name,
                                 nvmet_ld16(q->hdr + NVME_TCP_TERM_FES),
                                 nvmet_ld32(q->hdr + NVME_TCP_TERM_FEI));
        nvmet_queue_close(q, "host sent H2CTermReq");
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
        req_start(req);
        return;
    }
    req->h2c_received += len;
    trace_nvmet_tcp_h2c_data(q->name, req->cid, len, req->h2c_received,
                             req->data_len);
    if (req->h2c_received == req->data_len) {
        if (!last) {
            trace_nvmet_tcp_missing_last(q->name, req->cid);
        }
        req_exec(req);
    }
}

void nvmet_queue_input(NvmetQueue *q, const void *buf, size_t len)
{
    if (!nvmet_tls_input(q, buf, len)) {
        nvmet_pdu_input(q, buf, len);
    }
}

/* PDU bytes of the connection, decrypted if it runs over TLS */
void nvmet_pdu_input(NvmetQueue *q, const void *buf, size_t len)
{
    const uint8_t *p = buf;

    while (len > 0 && !q->released) {
        size_t n;

        switch (q->rx_state) {
        case RX_DISCARD:
            return;

        case RX_HEADER:
            n = MIN(len, q->hdr_need - q->hdr_got);
            memcpy(q->hdr + q->hdr_got, p, n);
            q->hdr_got += n;
            p += n;
            len -= n;
            if (q->hdr_got < q->hdr_need) {
                break;
            }
            if (q->hdr_need == NVME_TCP_CH_LEN) {
                if (!rx_common_header(q)) {
                    return;
                }
                if (q->hdr_got < q->hdr_need) {
                    break;
                }
            }
            rx_header_done(q);
            break;

        case RX_PAD:
            n = MIN(len, q->pad_left);
            q->pad_left -= n;
            p += n;
            len -= n;
            if (!q->pad_left) {
                q->rx_state = RX_DATA;
            }
            break;

        case RX_DATA:
            n = MIN(len, q->data_need - q->data_got);
            memcpy(q->data_dst + q->data_got, p, n);
            if (q->ddgst) {
                q->ddgst_crc = nvmet_crc32c(q->ddgst_crc, p, n);
            }
            q->data_got += n;
            p += n;
            len -= n;
            if (q->data_got == q->data_need) {
                if (q->ddgst) {
                    q->rx_state = RX_DDGST;
                } else {
                    rx_data_done(q, true);
                }
            }
            break;

        case RX_DDGST:
            n = MIN(len, NVME_TCP_DIGEST_LEN - q->ddgst_got);
            memcpy(q->ddgst_buf + q->ddgst_got, p, n);
            q->ddgst_got += n;
            p += n;
            len -= n;
            if (q->ddgst_got == NVME_TCP_DIGEST_LEN) {
                uint32_t want = ~q->ddgst_crc;
                uint32_t got = nvmet_ld32(q->ddgst_buf);

                if (want != got) {
                    trace_nvmet_tcp_digest_error(q->name, "data", got, want);
                }
                rx_data_done(q, want == got);
            }
            break;
        }
    }
}

/* ---- queue life cycle ------------------------------------------------------- */

static void queue_update_name(NvmetQueue *q)
{
    g_free(q->name);
    if (q->ctrl) {
        q->name = g_strdup_printf("%s qid %u cntlid %u", q->peer, q->qid,
                                  q->ctrl->cntlid);
    } else {
        q->name = g_strdup(q->peer);
    }
}

NvmetQueue *nvmet_queue_new(NvmetPort *port, const char *peer, void *opaque)
{
    NvmetQueue *q = g_new0(NvmetQueue, 1);

    q->t = port->t;
    q->port = port;
    q->opaque = opaque;
    q->peer = g_strdup(peer ? peer : "?");
    queue_update_name(q);
    g_queue_init(&q->out);
    g_queue_init(&q->io_queue);
    g_queue_init(&q->wait_buf);
    q->nr_reqs = NVMET_ADMIN_MAX_SQSIZE;
    q->reqs = g_new0(NvmetReq, q->nr_reqs);
    q->auth.deadline = INT64_MAX;
    rx_reset(q);
    nvmet_tls_queue_init(q);
    port->queues = g_list_prepend(port->queues, q);
    trace_nvmet_queue_new(q->name, port->cfg.portid);
    return q;
}

/*
 * Connect bound the queue to @ctrl as @qid with @sqsize entries.  Requests
 * live in an array indexed by transfer tag; it may only grow while no
 * request other than the Connect itself is outstanding, which Connect
 * guarantees (nothing else is accepted before it).
 */
void nvmet_queue_bind(NvmetQueue *q, NvmetCtrl *ctrl, uint16_t qid,
                      uint16_t sqsize, NvmetReq **connect_req)
{
    /* room for the host to reuse a CID while its completion is in flight */
    uint16_t want = MAX(sqsize + sqsize / 4 + 1, NVMET_ADMIN_MAX_SQSIZE);

    q->ctrl = ctrl;
    q->qid = qid;
    q->sqsize = sqsize;
    q->sqhd = q->sqhd % sqsize;
    (*connect_req)->sqhd = q->sqhd;
    if (want > q->nr_reqs) {
        NvmetReq *reqs = g_new0(NvmetReq, want);
        unsigned idx = (*connect_req)->ttag;

        g_assert(q->reqs_busy == 1);
        g_assert(g_queue_is_empty(&q->wait_buf));
        memcpy(reqs, q->reqs, sizeof(NvmetReq) * q->nr_reqs);
        g_free(q->reqs);
        q->reqs = reqs;
        q->nr_reqs = want;
        *connect_req = &q->reqs[idx];
    }
    queue_update_name(q);
}

const char *nvmet_queue_name(NvmetQueue *q)
{
    return q->name;
}

uint16_t nvmet_queue_qid(NvmetQueue *q)
{
    return q->qid;
}

NvmetCtrl *nvmet_queue_ctrl(NvmetQueue *q)
{
    return q->ctrl;
}

static void queue_detach(NvmetQueue *q)
{
    NvmetCtrl *ctrl = q->ctrl;

    if (!ctrl) {
        return;
    }
    q->ctrl = NULL;
    if (ctrl->sqs && q->qid <= ctrl->max_qid && ctrl->sqs[q->qid] == q) {
        ctrl->sqs[q->qid] = NULL;
    }
    if (q->qid == 0) {
        /* the admin queue going away ends the association */
        nvmet_ctrl_teardown(ctrl, "admin queue closed");
    }
    nvmet_ctrl_unref(ctrl);
}

static void queue_try_free(NvmetQueue *q)
{
    NvmetOutSeg *seg;

    if (!q->released || q->ios_inflight) {
        return;
    }
    for (unsigned i = 0; i < q->nr_reqs; i++) {
        if (q->reqs[i].state != REQ_FREE && q->reqs[i].ios_pending) {
            return;
        }
    }
    for (unsigned i = 0; i < q->nr_reqs; i++) {
        if (q->reqs[i].state != REQ_FREE) {
            req_free(&q->reqs[i]);
        }
    }
    while ((seg = g_queue_pop_head(&q->out))) {
        out_seg_free(seg);
    }
    trace_nvmet_queue_free(q->name);
    nvmet_auth_clear_exchange(&q->auth);
    nvmet_tls_queue_free(q);
    g_free(q->reqs);
    g_free(q->peer);
    g_free(q->name);
    g_free(q);
}

void nvmet_queue_release(NvmetQueue *q)
{
    NvmetIoPriv *p;

    g_assert(!q->released);
    trace_nvmet_queue_release(q->name);
    q->closing = true;
    q->rx_state = RX_DISCARD;
    if (q->port) {
        q->port->queues = g_list_remove(q->port->queues, q);
    }

    /* I/O never handed out is simply dropped */
    while ((p = g_queue_pop_head(&q->io_queue))) {
        p->req->ios_pending--;
        g_free(p);
    }
    /* drop requests that are not waiting for I/O (AERs, waiting for data) */
    for (unsigned i = 0; i < q->nr_reqs; i++) {
        NvmetReq *req = &q->reqs[i];

        if (req->state != REQ_FREE && !req->ios_pending) {
            if (q->ctrl) {
                for (unsigned j = 0; j < q->ctrl->nr_aer; j++) {
                    if (q->ctrl->aer[j] == req) {
                        q->ctrl->aer[j] = q->ctrl->aer[--q->ctrl->nr_aer];
                        break;
                    }
                }
            }
            req_free(req);
        }
    }
    queue_detach(q);
    q->released = true;
    queue_try_free(q);
}
