/*
 * NVMe-oF target engine, request core: the life cycle of a request on its
 * submission queue.
 *
 * A request occupies a slot of its SQ (its index is the NVMe/TCP transfer
 * tag) from the command capsule to the completion.  Its data buffer is
 * charged to the queue's buffer budget, so that a host cannot make the
 * target buffer more than NVMET_QUEUE_BUF_BUDGET bytes per queue;
 * commands beyond it wait for their buffer.  Block I/O is queued for the
 * engine's user and comes back through nvmet_io_complete().  Every
 * completion goes out through nvmet_req_complete(), which fills in the CQE
 * and hands it to the transport.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#include "qemu/osdep.h"
#include "req.h"
#include "event.h"
#include "fault.h"
#include "trace.h"

typedef struct NvmetIoPriv {
    NvmetIo io;
    NvmetReq *req;
    bool handed_out;
} NvmetIoPriv;

/* ---- status strings for traces ------------------------------------------- */

static const char *status_str(uint16_t status)
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

/* ---- the SQ -------------------------------------------------------------- */

void nvmet_sq_kick(NvmetSq *sq)
{
    if (!sq->released) {
        sq->ops->kick(sq);
    }
}

void nvmet_sq_close(NvmetSq *sq, const char *why)
{
    if (sq->closing) {
        return;
    }
    trace_nvmet_queue_close(sq->name, why);
    sq->closing = true;
    if (!sq->close_reason) {
        sq->close_reason = g_strdup(why);
    }
    sq->ops->close(sq);
}

static void sq_update_name(NvmetSq *sq)
{
    g_free(sq->name);
    if (sq->ctrl) {
        sq->name = g_strdup_printf("%s qid %u cntlid %u", sq->peer, sq->qid,
                                   sq->ctrl->cntlid);
    } else {
        sq->name = g_strdup(sq->peer);
    }
}

/*
 * Connect bound the queue to @ctrl as @qid with @sqsize entries.  Requests
 * live in an array indexed by transfer tag; it may only grow while no
 * request other than the Connect itself is outstanding, which Connect
 * guarantees (nothing else is accepted before it).
 */
void nvmet_sq_bind(NvmetSq *sq, NvmetCtrl *ctrl, uint16_t qid,
                   uint16_t sqsize, NvmetReq **connect_req)
{
    /* room for the host to reuse a CID while its completion is in flight */
    uint16_t want = MAX(sqsize + sqsize / 4 + 1, NVMET_ADMIN_MAX_SQSIZE);

    sq->ctrl = ctrl;
    sq->qid = qid;
    sq->sqsize = sqsize;
    /* set up: the keep-alive and authentication timeouts take over */
    sq->setup_deadline = INT64_MAX;
    sq->sqhd = sq->sqhd % sqsize;
    (*connect_req)->sqhd = sq->sqhd;
    if (want > sq->nr_reqs) {
        NvmetReq *reqs = g_new0(NvmetReq, want);
        unsigned idx = (*connect_req)->ttag;

        g_assert(sq->reqs_busy == 1);
        g_assert(g_queue_is_empty(&sq->wait_buf));
        memcpy(reqs, sq->reqs, sizeof(NvmetReq) * sq->nr_reqs);
        g_free(sq->reqs);
        sq->reqs = reqs;
        sq->nr_reqs = want;
        *connect_req = &sq->reqs[idx];
    }
    sq_update_name(sq);
}

/* ---- buffer budget ------------------------------------------------------- */

static bool budget_try(NvmetSq *sq, uint32_t len)
{
    if (sq->budget_used && sq->budget_used + len > NVMET_QUEUE_BUF_BUDGET) {
        return false;
    }
    sq->budget_used += len;
    return true;
}

static void req_take_budget(NvmetReq *req)
{
    req->budget = req->data_len;
    req->buf = g_malloc0(req->data_len);
    req->buf_len = req->data_len;
}

void nvmet_sq_budget_release(NvmetSq *sq, uint32_t bytes)
{
    g_assert(sq->budget_used >= bytes);
    sq->budget_used -= bytes;

    while (!sq->closing && !g_queue_is_empty(&sq->wait_buf)) {
        NvmetReq *req = g_queue_peek_head(&sq->wait_buf);

        if (!budget_try(sq, req->data_len)) {
            break;
        }
        g_queue_pop_head(&sq->wait_buf);
        req_take_budget(req);
        sq->ops->buffer_ready(req);
    }
}

void nvmet_req_alloc_data(NvmetReq *req)
{
    NvmetSq *sq = req->sq;

    if (!budget_try(sq, req->data_len)) {
        req->state = REQ_WAIT_BUF;
        g_queue_push_tail(&sq->wait_buf, req);
        return;
    }
    req_take_budget(req);
    sq->ops->buffer_ready(req);
}

void nvmet_req_alloc_buf(NvmetReq *req, uint32_t len)
{
    g_free(req->buf);
    req->buf = g_malloc0(len);
    req->buf_len = len;
}

/* ---- requests ------------------------------------------------------------ */

NvmetReq *nvmet_req_alloc(NvmetSq *sq)
{
    for (unsigned i = 0; i < sq->nr_reqs; i++) {
        NvmetReq *req = &sq->reqs[i];

        if (req->state == REQ_FREE) {
            memset(req, 0, sizeof(*req));
            req->sq = sq;
            req->ttag = i;
            req->state = REQ_EXEC;
            sq->reqs_busy++;
            return req;
        }
    }
    return NULL;
}

unsigned nvmet_req_data_dir(const NvmetReq *req)
{
    if (req->opc == NVME_FABRICS_COMMAND) {
        return (req->sqe[NVME_SQE_FCTYPE] & 1) ? NVME_DATA_H2C : NVME_DATA_C2H;
    }
    return req->opc & 3;
}

static void req_free(NvmetReq *req)
{
    NvmetSq *sq = req->sq;

    g_assert(req->state != REQ_FREE);
    g_assert(req->ios_pending == 0);
    if (req->state == REQ_WAIT_BUF) {
        g_queue_remove(&sq->wait_buf, req);
    }
    if (req->ns) {
        nvmet_ns_unref(req->ns);
        req->ns = NULL;
    }
    g_free(req->buf);
    req->buf = NULL;
    req->state = REQ_FREE;
    sq->reqs_busy--;
    if (req->budget) {
        uint32_t b = req->budget;

        req->budget = 0;
        nvmet_sq_budget_release(sq, b);
    }
}

void nvmet_req_drop(NvmetReq *req)
{
    trace_nvmet_cmd_dropped(req->sq->name, req->cid, req->opc);
    req_free(req);
}

/* ---- completion ---------------------------------------------------------- */

/* A failed command of a controller goes into its error log. */
static void error_log_add(NvmetReq *req)
{
    NvmetCtrl *ctrl = req->sq->ctrl;
    NvmetErrorEntry *e;

    if (!ctrl || req->opc == NVME_FABRICS_COMMAND) {
        return;
    }
    ctrl->error_count++;
    e = &ctrl->errors[ctrl->error_count % NVMET_ERROR_LOG_ENTRIES];
    e->count = ctrl->error_count;
    e->sqid = req->sq->qid;
    e->cid = req->cid;
    e->status = req->status;
    e->pel = req->err_pel;
    e->lba = req->err_lba;
    e->nsid = req->nsid;
}

static void fill_cqe(NvmetReq *req)
{
    NvmetSq *sq = req->sq;
    uint8_t *cqe = req->cqe;

    nvmet_st32(cqe + NVME_CQE_DW0, req->dw0);
    nvmet_st32(cqe + NVME_CQE_DW1, req->dw1);
    nvmet_st16(cqe + NVME_CQE_SQHD, sq->sqflow_disabled ? 0xffff : req->sqhd);
    nvmet_st16(cqe + NVME_CQE_SQID, sq->qid);
    nvmet_st16(cqe + NVME_CQE_CID, req->cid);
    nvmet_st16(cqe + NVME_CQE_STATUS, req->status << 1);
}

static void fault_resume(NvmetSq *sq, void *opaque)
{
    nvmet_req_respond(opaque);
}

/*
 * A fault that fired at the command's start acts on its completion: hold
 * it back (delay), never send it (drop), or close the connection after
 * it.  True if the completion is taken care of.
 */
static bool fault_done(NvmetReq *req)
{
    NvmetSq *sq = req->sq;
    NvmetFaultHit hit = req->fault;
    g_autofree char *why = NULL;

    if (sq->closing || sq->released) {
        return false;
    }
    switch (hit.action) {
    case NVMET_FA_DELAY:
        req->fault.id = 0;
        nvmet_fault_defer(sq, &hit, fault_resume, req);
        return true;
    case NVMET_FA_DROP:
        nvmet_req_drop(req);
        return true;
    case NVMET_FA_CLOSE:
        nvmet_req_respond(req);
        why = g_strdup_printf("fault %u closed the connection after the "
                              "response", hit.id);
        nvmet_sq_close(sq, why);
        return true;
    default:
        return false;
    }
}

/*
 * The one place where every command ends: its status (and DW0/DW1, set by
 * the command) goes into the CQE and out through the transport.  On a
 * queue that is going away the request ends silently.
 */
void nvmet_req_complete(NvmetReq *req, uint16_t status)
{
    g_assert(req->ios_pending == 0);
    req->status = status;
    if (req->fault.id && fault_done(req)) {
        return;
    }
    nvmet_req_respond(req);
}

void nvmet_req_respond(NvmetReq *req)
{
    NvmetSq *sq = req->sq;

    if (sq->closing || sq->released) {
        req_free(req);
        nvmet_sq_try_free(sq);
        return;
    }
    sq->cmds++;
    if (req->status != NVME_SC_SUCCESS) {
        sq->cmd_errors++;
        trace_nvmet_cmd_error(sq->name, req->cid, req->opc, req->nsid,
                              req->status, status_str(req->status));
        error_log_add(req);
    } else {
        trace_nvmet_cmd_done(sq->name, req->cid, req->opc, req->dw0);
    }
    fill_cqe(req);
    sq->ops->queue_response(req);
    req_free(req);
    nvmet_sq_kick(sq);
}

/* ---- block I/O ----------------------------------------------------------- */

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
    g_queue_push_tail(&req->sq->io_queue, p);
    trace_nvmet_io_submit(req->sq->name, req->cid, op, offset, len);
    nvmet_sq_kick(req->sq);
    return &p->io;
}

NvmetIo *nvmet_sq_next_io(NvmetSq *sq)
{
    NvmetIoPriv *p = g_queue_pop_head(&sq->io_queue);

    if (!p) {
        return NULL;
    }
    p->handed_out = true;
    sq->ios_inflight++;
    return &p->io;
}

void nvmet_io_complete(NvmetIo *io, int ret)
{
    NvmetIoPriv *p = container_of(io, NvmetIoPriv, io);
    NvmetReq *req = p->req;
    NvmetSq *sq = req->sq;

    g_assert(p->handed_out);
    sq->ios_inflight--;
    g_free(p);
    if (ret < 0 && req->io_ret == 0) {
        req->io_ret = ret;
        trace_nvmet_io_error(sq->name, req->cid, ret);
    }
    g_assert(req->ios_pending > 0);
    if (--req->ios_pending > 0) {
        return;
    }
    if (sq->closing || sq->released) {
        req_free(req);
        nvmet_sq_try_free(sq);
        return;
    }
    req->io_done(req);
}

/* ---- the end of an SQ ---------------------------------------------------- */

void nvmet_sq_abort_requests(NvmetSq *sq)
{
    NvmetIoPriv *p;

    /* I/O never handed out is simply dropped */
    while ((p = g_queue_pop_head(&sq->io_queue))) {
        p->req->ios_pending--;
        g_free(p);
    }
    /* drop requests that are not waiting for I/O (AERs, waiting for data) */
    for (unsigned i = 0; i < sq->nr_reqs; i++) {
        NvmetReq *req = &sq->reqs[i];

        if (req->state != REQ_FREE && !req->ios_pending) {
            if (sq->ctrl) {
                for (unsigned j = 0; j < sq->ctrl->nr_aer; j++) {
                    if (sq->ctrl->aer[j] == req) {
                        sq->ctrl->aer[j] = sq->ctrl->aer[--sq->ctrl->nr_aer];
                        break;
                    }
                }
            }
            req_free(req);
        }
    }
}

void nvmet_sq_try_free(NvmetSq *sq)
{
    if (!sq->released || sq->ios_inflight) {
        return;
    }
    for (unsigned i = 0; i < sq->nr_reqs; i++) {
        if (sq->reqs[i].state != REQ_FREE && sq->reqs[i].ios_pending) {
            return;
        }
    }
    for (unsigned i = 0; i < sq->nr_reqs; i++) {
        if (sq->reqs[i].state != REQ_FREE) {
            req_free(&sq->reqs[i]);
        }
    }
    trace_nvmet_queue_free(sq->name);
    g_free(sq->tls.identity);
    g_free(sq->tls.hostnqn);
    g_free(sq->tls.subnqn);
    g_free(sq->close_reason);
    g_free(sq->reqs);
    g_free(sq->peer);
    g_free(sq->name);
    sq->ops->free(sq);
}
