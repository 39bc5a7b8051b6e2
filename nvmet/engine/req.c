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
 * Everything here runs in the thread that serves the SQ.  What other
 * threads want of it (a controller teardown, an asynchronous event, a
 * namespace going away) they post with nvmet_sq_post(), and the SQ's own
 * thread does it in nvmet_sq_service().  The I/O path (Read, Write) uses
 * the queue's namespace cache and counters and takes no lock; what touches
 * the controller (the error log) takes the target lock.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#include "qemu/osdep.h"
#include "req.h"
#include "ctrl.h"
#include "target.h"
#include "event.h"
#include "fault.h"
#include "trace.h"

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

void nvmet_sq_post(NvmetSq *sq, int ev, const char *why)
{
    nvmet_assert_locked(sq->t);
    if (sq->released) {
        return;
    }
    if ((ev & NVMET_SQ_EV_CLOSE) && !sq->close_why) {
        sq->close_why = g_strdup(why);
    }
    __atomic_fetch_or(&sq->events, ev, __ATOMIC_SEQ_CST);
    sq->ops->kick(sq);
}

static void sq_ns_cache_drop(NvmetSq *sq, bool all);

void nvmet_sq_service(NvmetSq *sq)
{
    int ev;
    g_autofree char *why = NULL;

    if (!__atomic_load_n(&sq->events, __ATOMIC_RELAXED)) {
        return;
    }
    ev = __atomic_exchange_n(&sq->events, 0, __ATOMIC_SEQ_CST);
    if (ev & NVMET_SQ_EV_NS) {
        sq_ns_cache_drop(sq, false);
    }
    if (ev & NVMET_SQ_EV_FAULT) {
        nvmet_fault_sq_resume(sq);
    }
    if (ev & (NVMET_SQ_EV_CLOSE | NVMET_SQ_EV_AEN)) {
        nvmet_lock(sq->t);
        if (ev & NVMET_SQ_EV_CLOSE) {
            why = g_steal_pointer(&sq->close_why);
        }
        if ((ev & NVMET_SQ_EV_AEN) && sq->ctrl && sq->ctrl->subsys &&
            sq->qid == 0) {
            nvmet_ctrl_process_aens(sq->ctrl);
        }
        nvmet_unlock(sq->t);
        if (ev & NVMET_SQ_EV_CLOSE) {
            nvmet_sq_close(sq, why ? why : "closed");
        }
    }
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
        g_assert(!(*connect_req)->io_embedded_busy);
        memcpy(reqs, sq->reqs, sizeof(NvmetReq) * sq->nr_reqs);
        g_free(sq->reqs);
        sq->reqs = reqs;
        sq->nr_reqs = want;
        nvmet_sq_reqs_reset(sq);
        *connect_req = &sq->reqs[idx];
    }
    sq_update_name(sq);
}

/* ---- buffers and the buffer budget ------------------------------------- */

uint32_t nvmet_port_max_xfer(const NvmetPort *port)
{
    return port->cfg.mdts ? 4096u << port->cfg.mdts : NVMET_XFER_MAX_NO_MDTS;
}

static bool budget_try(NvmetSq *sq, uint32_t len)
{
    if (sq->budget_used && sq->budget_used + len > NVMET_QUEUE_BUF_BUDGET) {
        return false;
    }
    sq->budget_used += len;
    return true;
}

/*
 * Whether every byte of a command's data buffer is written before anyone
 * reads it: host-to-controller data arrives in full before the command
 * runs, and a Read fills its buffer from the block layer (nothing is sent
 * if that fails).  Other commands (admin data, logs) rely on zeroes.
 */
static bool data_fully_written(NvmetReq *req)
{
    return req->h2c || (req->sq->qid != 0 && req->opc == NVME_CMD_READ);
}

static void req_take_budget(NvmetReq *req)
{
    req->budget = req->data_len;
    req->buf = nvmet_bufpool_get(&req->sq->pool, req->data_len);
    req->buf_len = req->data_len;
    req->buf_pooled = true;
    if (req->buf && !data_fully_written(req)) {
        memset(req->buf, 0, req->data_len);
    }
}

static void req_buf_free(NvmetReq *req)
{
    if (req->buf_pooled) {
        nvmet_bufpool_put(&req->sq->pool, req->buf, req->buf_len);
    } else {
        g_free(req->buf);
    }
    req->buf = NULL;
    req->buf_pooled = false;
}

/* The budget is charged; hand the buffer over, or fail for lack of one. */
static void req_buffer_ready(NvmetReq *req)
{
    if (!req->buf) {
        trace_nvmet_cmd_no_memory(req->sq->name, req->cid, req->data_len);
        nvmet_req_complete(req, NVME_SC_INTERNAL);
        return;
    }
    req->sq->ops->buffer_ready(req);
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
        req_buffer_ready(req);
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
    req_buffer_ready(req);
}

void nvmet_req_alloc_buf(NvmetReq *req, uint32_t len)
{
    req_buf_free(req);
    req->buf = g_malloc0(len);
    req->buf_len = len;
}

bool nvmet_req_alloc_incapsule(NvmetReq *req, uint32_t len)
{
    req_buf_free(req);
    req->buf = nvmet_bufpool_get(&req->sq->pool, len);
    req->buf_len = len;
    req->buf_pooled = true;
    return req->buf != NULL;
}

uint8_t *nvmet_req_take_buf(NvmetReq *req, uint32_t *pool_len,
                            uint32_t *budget)
{
    uint8_t *buf = req->buf;

    *pool_len = req->buf_pooled ? req->buf_len : 0;
    *budget = req->budget;
    req->buf = NULL;
    req->buf_pooled = false;
    req->budget = 0;
    return buf;
}

void nvmet_sq_buf_put(NvmetSq *sq, uint8_t *buf, uint32_t pool_len,
                      uint32_t budget)
{
    if (pool_len) {
        nvmet_bufpool_put(&sq->pool, buf, pool_len);
    } else {
        g_free(buf);
    }
    if (budget) {
        nvmet_sq_budget_release(sq, budget);
    }
}

/* ---- the namespace cache of I/O queues ---------------------------------- */

/*
 * A slot holds a reference on a namespace as long as it is the one the
 * queue used last with that slot, or requests still use it.  Namespaces
 * that left their subsystem are dropped as soon as they are unused (a
 * posted NVMET_SQ_EV_NS), so that their backend can go.
 */
static void sq_ns_cache_drop(NvmetSq *sq, bool all)
{
    for (unsigned i = 0; i < NVMET_SQ_NS_SLOTS; i++) {
        NvmetSqNs *slot = &sq->ns_cache[i];

        if (slot->ns && !slot->users &&
            (all || nvmet_atomic_read(&slot->ns->removed))) {
            nvmet_ns_unref(slot->ns);
            slot->ns = NULL;
        }
    }
}

static NvmetSqNs *sq_ns_slot(NvmetSq *sq, NvmetNs *ns)
{
    for (unsigned i = 0; i < NVMET_SQ_NS_SLOTS; i++) {
        if (sq->ns_cache[i].ns == ns) {
            return &sq->ns_cache[i];
        }
    }
    return NULL;
}

bool nvmet_req_find_ns(NvmetReq *req)
{
    NvmetSq *sq = req->sq;
    NvmetSqNs *slot = &sq->ns_cache[req->nsid % NVMET_SQ_NS_SLOTS];
    NvmetNs *ns = slot->ns;
    NvmetCtrl *ctrl = sq->ctrl;

    if (ns && ns->cfg.nsid == req->nsid &&
        !nvmet_atomic_read(&ns->removed)) {
        slot->users++;
        req->ns = ns;
        req->ns_cached = true;
        return true;
    }
    nvmet_lock(sq->t);
    ns = ctrl && ctrl->subsys ? nvmet_subsys_find_ns(ctrl->subsys, req->nsid)
                              : NULL;
    if (ns) {
        nvmet_ns_ref(ns);
    }
    nvmet_unlock(sq->t);
    if (!ns) {
        return false;
    }
    req->ns = ns;
    if (slot->ns && slot->users) {
        /* the slot is busy with another namespace: a plain reference */
        req->ns_cached = false;
        return true;
    }
    if (slot->ns) {
        nvmet_ns_unref(slot->ns);
    }
    slot->ns = ns;                  /* the reference passes to the slot */
    slot->users = 1;
    req->ns_cached = true;
    return true;
}

static void req_put_ns(NvmetReq *req)
{
    NvmetSq *sq = req->sq;

    if (!req->ns) {
        return;
    }
    if (req->ns_cached) {
        NvmetSqNs *slot = sq_ns_slot(sq, req->ns);

        g_assert(slot && slot->users);
        if (--slot->users == 0 && nvmet_atomic_read(&slot->ns->removed)) {
            nvmet_ns_unref(slot->ns);
            slot->ns = NULL;
        }
    } else {
        nvmet_ns_unref(req->ns);
    }
    req->ns = NULL;
    req->ns_cached = false;
}

void nvmet_sq_keep_alive(NvmetSq *sq)
{
    /*
     * Commands that arrived in one input did so at the same time: read the
     * clock for the first of them only.
     */
    if (sq->input_pass && sq->ka_pass == sq->input_pass) {
        return;
    }
    sq->ka_pass = sq->input_pass;
    if (nvmet_atomic_read(&sq->ctrl->kato_ms)) {
        nvmet_atomic_set(&sq->ka_last, nvmet_now(sq->t));
    }
}

/* ---- requests ------------------------------------------------------------ */

void nvmet_sq_reqs_reset(NvmetSq *sq)
{
    g_free(sq->free_reqs);
    sq->free_reqs = g_new(uint16_t, sq->nr_reqs);
    sq->nr_free = 0;
    /* the lowest index on top: the one a command gets first */
    for (unsigned i = sq->nr_reqs; i-- > 0;) {
        if (sq->reqs[i].state == REQ_FREE) {
            sq->free_reqs[sq->nr_free++] = i;
        }
    }
}

/*
 * The most recently freed request first (a stack): its memory is the one
 * most likely still in the cache.
 */
NvmetReq *nvmet_req_alloc(NvmetSq *sq)
{
    NvmetReq *req;
    uint16_t i;

    if (!sq->nr_free) {
        return NULL;
    }
    i = sq->free_reqs[--sq->nr_free];
    req = &sq->reqs[i];
    g_assert(req->state == REQ_FREE);
    memset(req, 0, sizeof(*req));
    req->sq = sq;
    req->ttag = i;
    req->state = REQ_EXEC;
    nvmet_stat_add(&sq->reqs_busy, 1);
    return req;
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
    req_put_ns(req);
    req_buf_free(req);
    req->state = REQ_FREE;
    g_assert(sq->nr_free < sq->nr_reqs);
    sq->free_reqs[sq->nr_free++] = req->ttag;
    nvmet_stat_add(&sq->reqs_busy, -1);
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
    nvmet_lock(req->sq->t);
    ctrl->error_count++;
    e = &ctrl->errors[ctrl->error_count % NVMET_ERROR_LOG_ENTRIES];
    e->count = ctrl->error_count;
    e->sqid = req->sq->qid;
    e->cid = req->cid;
    e->status = req->status;
    e->pel = req->err_pel;
    e->lba = req->err_lba;
    e->nsid = req->nsid;
    nvmet_unlock(req->sq->t);
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
    nvmet_stat_add(&sq->cmds, 1);
    if (req->status != NVME_SC_SUCCESS) {
        nvmet_stat_add(&sq->cmd_errors, 1);
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
    NvmetIoPriv *p;

    if (!req->io_embedded_busy) {
        p = &req->io_embedded;
        memset(p, 0, sizeof(*p));
        p->embedded = true;
        req->io_embedded_busy = true;
    } else {
        p = g_new0(NvmetIoPriv, 1);
    }
    if (ns != req->ns) {
        /* the backend must stay while the I/O is out (flush of all) */
        nvmet_ns_ref(ns);
        p->ns_ref = ns;
    }
    p->io.op = op;
    p->io.backend = ns->cfg.backend;
    p->io.offset = offset;
    p->io.len = len;
    p->io.buf = buf;
    p->req = req;
    req->ios_pending++;
    /* a list through the I/Os themselves: no allocation per command */
    p->next = NULL;
    if (req->sq->io_tail) {
        req->sq->io_tail->next = p;
    } else {
        req->sq->io_head = p;
    }
    req->sq->io_tail = p;
    trace_nvmet_io_submit(req->sq->name, req->cid, op, offset, len);
    nvmet_sq_kick(req->sq);
    return &p->io;
}

static void io_free(NvmetIoPriv *p)
{
    if (p->ns_ref) {
        nvmet_ns_unref(p->ns_ref);
    }
    if (p->embedded) {
        p->req->io_embedded_busy = false;
    } else {
        g_free(p);
    }
}

static NvmetIoPriv *io_queue_pop(NvmetSq *sq)
{
    NvmetIoPriv *p = sq->io_head;

    if (p) {
        sq->io_head = p->next;
        if (!sq->io_head) {
            sq->io_tail = NULL;
        }
        p->next = NULL;
    }
    return p;
}

NvmetIo *nvmet_sq_next_io(NvmetSq *sq)
{
    NvmetIoPriv *p = io_queue_pop(sq);

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
    io_free(p);
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
    while ((p = io_queue_pop(sq))) {
        p->req->ios_pending--;
        io_free(p);
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
    sq_ns_cache_drop(sq, true);
    nvmet_bufpool_destroy(&sq->pool);
    if (sq->port) {
        nvmet_lock(sq->t);
        g_assert(sq->port->nr_draining > 0);
        sq->port->nr_draining--;
        nvmet_unlock(sq->t);
    }
    nvmet_port_unref(sq->port);
    g_free(sq->close_why);
    g_free(sq->tls.identity);
    g_free(sq->tls.hostnqn);
    g_free(sq->tls.subnqn);
    g_free(sq->close_reason);
    g_free(sq->reqs);
    g_free(sq->free_reqs);
    g_free(sq->peer);
    g_free(sq->name);
    sq->ops->free(sq);
}
