/*
 * NVMe-oF target engine, request core: where commands start.
 *
 * nvmet_req_init() is the one door every command goes through, as soon
 * as its capsule arrived and before the transport fetches any data for
 * it: it routes the command to its command set (fabrics, admin, discovery
 * or NVM I/O) and applies the single authentication gate — on a queue
 * whose host must authenticate (Connect ATR), nothing but Connect, the
 * authentication commands and Disconnect gets past it before the queue
 * has, so an unauthenticated host cannot make the target ask for (R2T)
 * or buffer any data.  nvmet_req_execute() then runs the command once its
 * data is in place and restarts the keep-alive timer.  SQs are set up and
 * torn down here too.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#include "qemu/osdep.h"
#include "core.h"
#include "admin.h"
#include "auth.h"
#include "ctrl.h"
#include "event.h"
#include "fabrics.h"
#include "fault.h"
#include "io.h"
#include "trace.h"

/* ---- SQ life cycle ------------------------------------------------------- */

void nvmet_sq_init(NvmetSq *sq, NvmetPort *port, const char *peer,
                   const NvmetTransportOps *ops)
{
    sq->t = port->t;
    sq->port = port;
    sq->ops = ops;
    sq->peer = g_strdup(peer ? peer : "?");
    sq->name = g_strdup(sq->peer);
    g_queue_init(&sq->wait_buf);
    nvmet_bufpool_init(&sq->pool, NVMET_BUFPOOL_MAX_CACHED);
    sq->nr_reqs = NVMET_ADMIN_MAX_SQSIZE;
    sq->reqs = g_new0(NvmetReq, sq->nr_reqs);
    nvmet_sq_reqs_reset(sq);
    sq->auth.deadline = INT64_MAX;
    sq->setup_deadline = INT64_MAX;
    nvmet_lock(sq->t);
    port->refcnt++;
    if (port->removed) {
        /* a connection that raced with the port's removal */
        sq->closing = true;
    } else {
        port->queues = g_list_prepend(port->queues, sq);
        port->nr_queues++;
    }
    nvmet_unlock(sq->t);
    trace_nvmet_queue_new(sq->name, port->cfg.portid);
}

static uint32_t port_max_connections(NvmetPort *port)
{
    return port->max_connections ? port->max_connections :
           NVMET_PORT_MAX_CONNECTIONS_DEFAULT;
}

static uint32_t port_icreq_timeout(NvmetPort *port)
{
    return port->icreq_timeout_ms ? port->icreq_timeout_ms :
           NVMET_ICREQ_TIMEOUT_MS_DEFAULT;
}

void nvmet_sq_start(NvmetSq *sq)
{
    NvmetPort *port = sq->port;
    uint32_t max = port_max_connections(port);

    nvmet_lock(sq->t);
    if (port->nr_queues > max) {
        /* this one is counted already */
        port->conns_refused++;
        trace_nvmet_port_conn_refused(sq->name, port->cfg.portid, max);
        nvmet_sq_close(sq, "the port has max-connections connections");
    } else if (!sq->closing) {
        sq->setup_deadline = nvmet_now(sq->t) + port_icreq_timeout(port);
        nvmet_update_timer(sq->t);
    }
    nvmet_unlock(sq->t);
}

/*
 * The ICReq is done: the Connect must follow within the same time (until
 * nvmet_sq_bind()), or a host could hold the connection by stopping there.
 */
void nvmet_sq_setup_done(NvmetSq *sq)
{
    nvmet_lock(sq->t);
    sq->setup_icreq_done = true;
    sq->setup_deadline = sq->port && !sq->closing ?
                         nvmet_now(sq->t) + port_icreq_timeout(sq->port) :
                         INT64_MAX;
    nvmet_update_timer(sq->t);
    nvmet_unlock(sq->t);
}

static void sq_setup_expire(NvmetSq *sq)
{
    const char *what = sq->setup_icreq_done ? "Connect after the ICReq" :
                       "ICReq";

    sq->setup_deadline = INT64_MAX;
    if (sq->closing || !sq->port) {
        return;
    }
    sq->port->icreq_timeouts++;
    trace_nvmet_icreq_timeout(sq->name, what, port_icreq_timeout(sq->port));
    nvmet_sq_close(sq, sq->setup_icreq_done ?
                   "no Connect within the ICReq timeout" :
                   "no ICReq within the ICReq timeout");
}

/*
 * The user is done with the connection.  Requests waiting for block I/O
 * stay until it completes; the SQ (and the transport's state around it)
 * is freed after the last one.
 */
void nvmet_sq_release(NvmetSq *sq)
{
    NvmetTarget *t = sq->t;
    NvmetEvent ev = {
        .type = NVMET_EVENT_CONN_CLOSED,
        .reason = sq->close_reason ? sq->close_reason : "connection closed",
    };

    g_assert(!sq->released);
    trace_nvmet_queue_release(sq->name);
    nvmet_event_sq(sq, &ev);
    nvmet_fault_sq_release(sq);
    sq->closing = true;
    nvmet_lock(t);
    if (sq->port) {
        GList *l = g_list_find(sq->port->queues, sq);

        /*
         * A removed port stays until its last queue is gone (refcnt).  A
         * queue that raced with the removal was never counted.
         */
        if (l) {
            sq->port->queues = g_list_delete_link(sq->port->queues, l);
            sq->port->nr_queues--;
        }
        /* until nvmet_sq_try_free(): its block I/O may still run */
        sq->port->nr_draining++;
    }
    sq->setup_deadline = INT64_MAX;
    nvmet_sq_abort_requests(sq);
    nvmet_auth_clear_exchange(&sq->auth);
    nvmet_ctrl_detach_sq(sq);
    sq->released = true;
    nvmet_unlock(t);
    nvmet_sq_try_free(sq);
}

/* ---- command start ------------------------------------------------------- */

/*
 * Where a command goes, and what it needs on the way: whether it waits
 * for the queue to authenticate, and whether it counts as host activity
 * for the keep-alive timer.
 */
typedef struct NvmetRoute {
    NvmetReqFn *exec;
    bool needs_auth;
    bool keep_alive;
} NvmetRoute;

static bool route_fabrics(NvmetReq *req, NvmetRoute *r)
{
    NvmetSq *sq = req->sq;
    uint8_t fctype = req->sqe[NVME_SQE_FCTYPE];

    trace_nvmet_fabrics_cmd(sq->name, req->cid, fctype);
    if (fctype == NVME_FCTYPE_CONNECT) {
        r->exec = nvmet_exec_connect;
        return true;
    }
    if (!sq->ctrl) {
        trace_nvmet_cmd_before_connect(sq->name, req->cid, req->opc);
        nvmet_req_complete(req, NVME_SC_CMD_SEQ_ERROR | NVME_STATUS_DNR);
        return false;
    }
    switch (fctype) {
    case NVME_FCTYPE_PROP_GET:
    case NVME_FCTYPE_PROP_SET:
        if (sq->qid != 0) {
            nvmet_req_complete(req, NVME_SC_INVALID_OPCODE | NVME_STATUS_DNR);
            return false;
        }
        r->exec = fctype == NVME_FCTYPE_PROP_GET ? nvmet_exec_prop_get :
                  nvmet_exec_prop_set;
        r->needs_auth = true;
        r->keep_alive = true;
        return true;
    case NVME_FCTYPE_AUTH_SEND:
        r->exec = nvmet_exec_auth_send;
        r->keep_alive = true;
        return true;
    case NVME_FCTYPE_AUTH_RECV:
        r->exec = nvmet_exec_auth_recv;
        r->keep_alive = true;
        return true;
    case NVME_FCTYPE_DISCONNECT:
        r->exec = nvmet_exec_disconnect;
        return true;
    default:
        trace_nvmet_fabrics_unsupported(sq->name, fctype);
        nvmet_req_complete(req, NVME_SC_INVALID_OPCODE | NVME_STATUS_DNR);
        return false;
    }
}

static bool route(NvmetReq *req, NvmetRoute *r)
{
    NvmetSq *sq = req->sq;

    if (req->opc == NVME_FABRICS_COMMAND) {
        return route_fabrics(req, r);
    }
    if (!sq->ctrl) {
        trace_nvmet_cmd_before_connect(sq->name, req->cid, req->opc);
        nvmet_req_complete(req, NVME_SC_CMD_SEQ_ERROR | NVME_STATUS_DNR);
        return false;
    }
    if (sq->qid != 0) {
        r->exec = nvmet_exec_io;
    } else if (sq->ctrl->subsys && sq->ctrl->subsys->discovery) {
        r->exec = nvmet_exec_disc;
    } else {
        r->exec = nvmet_exec_admin;
    }
    r->needs_auth = true;
    r->keep_alive = true;
    return true;
}

/*
 * A fault fired at the command's start (fault.c): carry out what happens
 * instead of the command.  True if the command is over; a fault that acts
 * later stays in req->fault (req.c, auth.c).  A command a fault takes over
 * is not host activity for the keep-alive timer: that is how ignoring
 * Keep Alive lets the controller expire.  Called with the target lock.
 */
static bool fault_start(NvmetReq *req)
{
    NvmetSq *sq = req->sq;
    const NvmetFaultHit *hit = &req->fault;
    g_autofree char *why = NULL;

    switch (hit->action) {
    case NVMET_FA_STATUS:
        nvmet_req_complete(req, hit->status);
        return true;
    case NVMET_FA_CLOSE:
        if (hit->after_response) {
            return false;
        }
        why = g_strdup_printf("fault %u closed the connection", hit->id);
        nvmet_sq_close(sq, why);
        nvmet_req_drop(req);
        return true;
    case NVMET_FA_C2H_TERM:
        why = g_strdup_printf("fault %u terminated the connection", hit->id);
        sq->ops->fatal(sq, hit->fes, hit->fei, why);
        nvmet_req_drop(req);
        return true;
    case NVMET_FA_IGNORE_KEEP_ALIVE:
        nvmet_req_drop(req);
        return true;
    case NVMET_FA_AEN:
        nvmet_ctrl_add_aen(sq->ctrl, hit->aen);
        return false;
    default:
        return false;
    }
}

/* True if a fault took the command over (fault.c; any thread). */
static bool fault_took_over(NvmetReq *req)
{
    NvmetTarget *t = req->sq->t;
    bool over;

    if (!nvmet_fault_armed_any(t)) {
        return false;
    }
    nvmet_lock(t);
    over = nvmet_fault_cmd_check(req) && fault_start(req);
    nvmet_unlock(t);
    return over;
}

/* An NVM command on an I/O queue of a controller: the fast path's. */
static bool is_io(NvmetReq *req)
{
    NvmetSq *sq = req->sq;

    return req->opc != NVME_FABRICS_COMMAND && sq->ctrl && sq->qid != 0;
}

/*
 * The command's capsule has arrived (with its in-capsule data, if any):
 * account for it in the SQ head, check what every command must get right,
 * route it and pass it through the authentication gate.  Only then may
 * the transport fetch its data (R2T) or charge a buffer to the queue.
 *
 * An NVM command on an I/O queue needs nothing of the object model that
 * its queue does not keep (the namespace cache, the counters, the
 * keep-alive time stamp), so it is routed and gated without the target
 * lock, and I/O queues served by different threads do not contend; every
 * other command is routed under the lock.
 */
bool nvmet_req_init(NvmetReq *req)
{
    NvmetSq *sq = req->sq;
    NvmetTarget *t = sq->t;
    uint8_t flags = req->sqe[NVME_SQE_FLAGS];
    NvmetRoute r = { 0 };
    bool locked;
    bool ok = false;

    req->opc = req->sqe[NVME_SQE_OPC];
    req->cid = nvmet_ld16(req->sqe + NVME_SQE_CID);
    req->nsid = nvmet_ld32(req->sqe + NVME_SQE_NSID);
    req->err_pel = 0xffff;

    /* every command fetched advances the SQ head */
    sq->sqhd = (sq->sqhd + 1) % (sq->sqsize ? sq->sqsize :
                                 NVMET_ADMIN_MAX_SQSIZE);
    req->sqhd = sq->sqhd;

    trace_nvmet_cmd(sq->name, req->cid, req->opc, req->nsid,
                    nvmet_sqe_dw(req, NVME_SQE_CDW10),
                    nvmet_ld32(req->sqe + NVME_SQE_DPTR + NVME_SGL_LEN));

    if ((flags & NVME_SQE_FLAGS_PSDT_MASK) == 0 ||
        (flags & NVME_SQE_FLAGS_FUSE_MASK)) {
        /* fabrics carry SGLs only, and we do not support fused operations */
        req->err_pel = NVME_SQE_FLAGS;
        nvmet_req_complete(req, NVME_SC_INVALID_FIELD | NVME_STATUS_DNR);
        return false;
    }
    locked = !is_io(req);
    if (!locked) {
        r.exec = nvmet_exec_io;
        r.needs_auth = true;
        r.keep_alive = true;
    } else {
        nvmet_lock(t);
        if (!route(req, &r)) {
            goto out;
        }
    }
    /* the authentication gate */
    if (r.needs_auth && sq->auth.required && !sq->auth.authenticated) {
        trace_nvmet_cmd_unauthenticated(sq->name, req->cid, req->opc,
                                        nvmet_ld32(req->sqe + NVME_SQE_DPTR +
                                                   NVME_SGL_LEN));
        nvmet_req_complete(req, NVME_SC_AUTH_REQUIRED | NVME_STATUS_DNR);
        goto out;
    }
    req->exec = r.exec;
    req->keep_alive = r.keep_alive;
    ok = true;
out:
    if (locked) {
        nvmet_unlock(t);
    }
    return ok;
}

/* The command's data is in place: run it (routed by nvmet_req_init()). */
void nvmet_req_execute(NvmetReq *req)
{
    NvmetSq *sq = req->sq;
    NvmetTarget *t = sq->t;

    req->state = REQ_EXEC;
    if (sq->closing) {
        /* its data came in while the queue was being closed: end silently */
        nvmet_req_complete(req, NVME_SC_CMD_SEQ_ERROR | NVME_STATUS_DNR);
        return;
    }
    if (req->ddgst_error) {
        nvmet_req_complete(req, NVME_SC_TRANSIENT_TR_ERR);
        return;
    }
    if (req->exec == nvmet_exec_io) {
        /* the fast path (nvmet_req_init()): without the target lock */
        if (fault_took_over(req)) {
            return;
        }
        nvmet_sq_keep_alive(sq);
        nvmet_exec_io(req);
        return;
    }
    nvmet_lock(t);
    if (sq->ctrl && !sq->ctrl->subsys) {
        /* the controller is gone; the posted close has not been seen yet */
        nvmet_req_drop(req);
        goto out;
    }
    if (fault_took_over(req)) {
        goto out;
    }
    if (req->keep_alive && sq->ctrl) {
        nvmet_ctrl_keep_alive(sq->ctrl);
    }
    req->exec(req);
out:
    nvmet_unlock(t);
}

/* ---- deadlines ----------------------------------------------------------- */

static void expire_ctrls(NvmetSubsys *s, int64_t now)
{
    GList *l = s->ctrls;

    while (l) {
        NvmetCtrl *ctrl = l->data;

        l = l->next;
        nvmet_ctrl_check_keep_alive(ctrl, now);
    }
}

void nvmet_target_timer(NvmetTarget *t)
{
    int64_t now = nvmet_now(t);

    nvmet_lock(t);

    nvmet_fault_timer(t, now);
    /*
     * authentication transactions waiting for the host's next message,
     * connections waiting for their ICReq
     */
    for (GList *p = t->ports; p; p = p->next) {
        NvmetPort *port = p->data;
        GList *next;

        for (GList *l = port->queues; l; l = next) {
            NvmetSq *sq = l->data;

            /* closing may let the user release the queue right away */
            next = l->next;
            if (sq->setup_deadline <= now) {
                sq_setup_expire(sq);
                continue;
            }
            if (sq->auth.deadline <= now) {
                nvmet_auth_expire(sq);
            }
        }
    }
    for (GList *l = t->subsystems; l; l = l->next) {
        expire_ctrls(l->data, now);
    }
    expire_ctrls(t->disc, now);
    t->armed_deadline = INT64_MAX;
    nvmet_update_timer(t);
    nvmet_unlock(t);
}
