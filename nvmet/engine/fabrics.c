/*
 * NVMe-oF target engine: fabrics commands (Connect, Property Get/Set,
 * Disconnect).  The authentication commands are in auth.c; core.c routes
 * each fabrics command here or there.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#include "qemu/osdep.h"
#include "fabrics.h"
#include "auth.h"
#include "ctrl.h"
#include "event.h"
#include "target.h"
#include "trace.h"

/* Invalid-parameter locations for Connect (IATTR bit 16: in connect data). */
#define IPO_SQE(off)   ((uint32_t)(off))
#define IPO_DATA(off)  ((1u << 16) | (uint32_t)(off))

/* ---- Connect ------------------------------------------------------------- */

/* What a Connect command asks for, from its SQE and its data. */
typedef struct NvmetConnect {
    uint16_t qid;
    uint16_t sqsize;            /* 0's based */
    uint8_t cattr;
    uint32_t kato;
    uint16_t cntlid;
    const uint8_t *hostid;
    char subnqn[NVME_NQN_FIELD_LEN];
    char hostnqn[NVME_NQN_FIELD_LEN];
    NvmetSubsys *subsys;
} NvmetConnect;

static void connect_invalid(NvmetReq *req, uint32_t ipo, const char *why)
{
    trace_nvmet_connect_invalid(req->sq->name, why, ipo & 0xffff,
                                !!(ipo & (1u << 16)));
    req->dw0 = ipo;
    nvmet_req_complete(req, NVME_SC_CONNECT_INVALID_PARAM | NVME_STATUS_DNR);
}

/* Refused with a status other than "invalid parameters". */
static void connect_refused(NvmetReq *req, uint16_t status, const char *why,
                            uint32_t ipo)
{
    trace_nvmet_connect_invalid(req->sq->name, why, ipo, 0);
    nvmet_req_complete(req, status | NVME_STATUS_DNR);
}

/* Copy a NUL-terminated NQN out of a 256-byte connect data field. */
static bool get_nqn(const uint8_t *field, char *out)
{
    size_t len = strnlen((const char *)field, NVME_NQN_FIELD_LEN);

    if (len == NVME_NQN_FIELD_LEN || len == 0) {
        return false;
    }
    memcpy(out, field, len);
    out[len] = '\0';
    return true;
}

/*
 * The checks every Connect must pass, admin or I/O: the queue state, the
 * format, the connect data, and whether the host may reach the subsystem
 * through this port (and this TLS PSK).
 */
static bool connect_parse(NvmetReq *req, NvmetConnect *c)
{
    NvmetSq *sq = req->sq;
    const uint8_t *d = req->buf;
    uint16_t recfmt = nvmet_ld16(req->sqe + NVME_CONNECT_RECFMT);

    c->qid = nvmet_ld16(req->sqe + NVME_CONNECT_QID);
    c->sqsize = nvmet_ld16(req->sqe + NVME_CONNECT_SQSIZE);
    c->cattr = req->sqe[NVME_CONNECT_CATTR];
    c->kato = nvmet_ld32(req->sqe + NVME_CONNECT_KATO);

    if (sq->ctrl) {
        trace_nvmet_connect_again(sq->name);
        nvmet_req_complete(req, NVME_SC_CMD_SEQ_ERROR | NVME_STATUS_DNR);
        return false;
    }
    if (sq->reqs_busy > 1) {
        /*
         * A command sent before Connect may still wait for its data (R2T)
         * or a buffer; nvmet_sq_bind() must not move it under its feet.
         */
        connect_refused(req, NVME_SC_CMD_SEQ_ERROR,
                        "other commands outstanding", 0);
        return false;
    }
    if (recfmt != 0) {
        connect_refused(req, NVME_SC_CONNECT_FORMAT,
                        "unsupported record format", NVME_CONNECT_RECFMT);
        return false;
    }
    if (!req->h2c || req->data_len != NVME_CONNECT_DATA_LEN || !d) {
        connect_refused(req, NVME_SC_SGL_INVALID_DATA,
                        "connect data is not 1024 bytes", NVME_SQE_DPTR);
        return false;
    }
    if (!get_nqn(d + NVME_CONNECT_DATA_SUBNQN, c->subnqn)) {
        connect_invalid(req, IPO_DATA(NVME_CONNECT_DATA_SUBNQN),
                        "subsystem NQN is empty or not terminated");
        return false;
    }
    if (!get_nqn(d + NVME_CONNECT_DATA_HOSTNQN, c->hostnqn)) {
        connect_invalid(req, IPO_DATA(NVME_CONNECT_DATA_HOSTNQN),
                        "host NQN is empty or not terminated");
        return false;
    }
    c->cntlid = nvmet_ld16(d + NVME_CONNECT_DATA_CNTLID);
    c->hostid = d + NVME_CONNECT_DATA_HOSTID;
    trace_nvmet_connect(sq->name, c->qid, c->sqsize, c->cntlid, c->kato,
                        c->subnqn, c->hostnqn);

    c->subsys = nvmet_port_find_subsys(sq->port, c->subnqn);
    if (!c->subsys) {
        connect_invalid(req, IPO_DATA(NVME_CONNECT_DATA_SUBNQN),
                        nvmet_subsys_find(sq->t, c->subnqn) ?
                        "subsystem is not exported on this port" :
                        "unknown subsystem");
        return false;
    }
    if (!nvmet_subsys_host_allowed(c->subsys, c->hostnqn)) {
        trace_nvmet_connect_host_denied(sq->name, c->hostnqn, c->subnqn);
        req->dw0 = IPO_DATA(NVME_CONNECT_DATA_HOSTNQN);
        nvmet_req_complete(req, NVME_SC_CONNECT_INVALID_HOST | NVME_STATUS_DNR);
        return false;
    }
    /* a PSK names a host and a subsystem: Connect must name the same */
    if (sq->tls.active && sq->tls.hostnqn &&
        (!g_str_equal(sq->tls.hostnqn, c->hostnqn) ||
         (!c->subsys->discovery && !g_str_equal(sq->tls.subnqn, c->subnqn)))) {
        trace_nvmet_connect_tls_mismatch(sq->name, c->hostnqn, c->subnqn,
                                         sq->tls.identity);
        req->dw0 = IPO_DATA(NVME_CONNECT_DATA_HOSTNQN);
        nvmet_req_complete(req, NVME_SC_CONNECT_INVALID_HOST | NVME_STATUS_DNR);
        return false;
    }
    if ((c->cattr & NVME_CONNECT_CATTR_DISABLE_SQFLOW) &&
        !sq->port->cfg.sqflow_disable_ok) {
        connect_invalid(req, IPO_SQE(NVME_CONNECT_CATTR),
                        "SQ flow control cannot be disabled on this port");
        return false;
    }
    return true;
}

/* Admin queue Connect: a new controller (dynamic controller model). */
static NvmetCtrl *connect_admin(NvmetReq *req, const NvmetConnect *c)
{
    NvmetCtrl *ctrl;

    if (c->cntlid != NVME_CNTLID_DYNAMIC) {
        connect_invalid(req, IPO_DATA(NVME_CONNECT_DATA_CNTLID),
                        "only the dynamic controller model is supported");
        return NULL;
    }
    if (c->sqsize < 1 || c->sqsize > NVMET_ADMIN_MAX_SQSIZE - 1) {
        connect_invalid(req, IPO_SQE(NVME_CONNECT_SQSIZE),
                        "admin queue size out of range");
        return NULL;
    }
    ctrl = nvmet_ctrl_new(c->subsys, req->sq->port, c->hostnqn, c->hostid,
                          c->kato);
    if (!ctrl) {
        connect_refused(req, NVME_SC_CONNECT_CTRL_BUSY,
                        "no free controller ID", 0);
    }
    return ctrl;
}

/* I/O queue Connect: an existing, enabled controller of the same host. */
static NvmetCtrl *connect_io(NvmetReq *req, const NvmetConnect *c)
{
    NvmetSq *sq = req->sq;
    NvmetCtrl *ctrl = nvmet_ctrl_find(c->subsys, c->cntlid);

    if (!ctrl || !g_str_equal(ctrl->hostnqn, c->hostnqn) ||
        memcmp(ctrl->hostid, c->hostid, 16)) {
        connect_invalid(req, IPO_DATA(NVME_CONNECT_DATA_CNTLID),
                        "no such controller for this host");
        return NULL;
    }
    if (ctrl->port != sq->port) {
        connect_invalid(req, IPO_DATA(NVME_CONNECT_DATA_CNTLID),
                        "controller belongs to another port");
        return NULL;
    }
    if (c->qid > ctrl->max_qid || c->qid > ctrl->nr_io_queues) {
        connect_invalid(req, IPO_SQE(NVME_CONNECT_QID),
                        "queue ID beyond the number of queues");
        return NULL;
    }
    if (c->sqsize < 1 || c->sqsize > sq->port->cfg.max_queue_size - 1) {
        connect_invalid(req, IPO_SQE(NVME_CONNECT_SQSIZE),
                        "queue size out of range");
        return NULL;
    }
    if (!(ctrl->csts & NVME_CSTS_RDY)) {
        connect_refused(req, NVME_SC_CMD_SEQ_ERROR, "controller not enabled",
                        NVME_CONNECT_QID);
        return NULL;
    }
    if (ctrl->sqs[c->qid]) {
        connect_refused(req, NVME_SC_CMD_SEQ_ERROR,
                        "queue ID already connected", NVME_CONNECT_QID);
        return NULL;
    }
    return ctrl;
}

void nvmet_exec_connect(NvmetReq *req)
{
    NvmetSq *sq = req->sq;
    NvmetConnect c;
    NvmetCtrl *ctrl;

    if (!connect_parse(req, &c)) {
        return;
    }
    ctrl = c.qid == 0 ? connect_admin(req, &c) : connect_io(req, &c);
    if (!ctrl) {
        return;
    }

    sq->sqflow_disabled = c.cattr & NVME_CONNECT_CATTR_DISABLE_SQFLOW;
    sq->subsys_opaque = c.subsys->cfg.opaque;
    nvmet_sq_bind(sq, ctrl, c.qid, c.sqsize + 1, &req);
    nvmet_ctrl_attach_sq(sq);
    req->dw0 = ctrl->cntlid;
    /*
     * A host with a DH-HMAC-CHAP key authenticates on every queue before
     * anything else (ATR).  ASCR is never set: Linux refuses it.
     */
    sq->auth.required = nvmet_auth_needed(sq, c.hostnqn);
    if (sq->auth.required) {
        req->dw0 |= NVME_CONNECT_AUTHREQ_ATR;
        nvmet_auth_connected(sq);
    }
    trace_nvmet_connect_ok(sq->name, ctrl->cntlid, c.qid, sq->auth.required);
    {
        NvmetEvent ev = {
            .type = NVMET_EVENT_QUEUE_CONNECTED,
            .u.conn.sqsize = sq->sqsize,
            .u.conn.auth_required = sq->auth.required,
        };

        nvmet_event_sq(sq, &ev);
    }
    nvmet_req_complete(req, NVME_SC_SUCCESS);
    /* the user may now serve the queue where its subsystem wants it */
    if (sq->ops->bound) {
        sq->ops->bound(sq);
    }
}

/* ---- Property Get / Set -------------------------------------------------- */

void nvmet_exec_prop_get(NvmetReq *req)
{
    NvmetCtrl *ctrl = req->sq->ctrl;
    uint8_t size8 = req->sqe[NVME_PROP_ATTRIB] & 7;
    uint32_t off = nvmet_sqe_dw(req, NVME_PROP_OFFSET);
    uint64_t val;

    if (size8 > 1) {
        nvmet_req_complete(req, NVME_SC_INVALID_FIELD | NVME_STATUS_DNR);
        return;
    }
    switch (off) {
    case NVME_REG_CAP:
        val = nvmet_ctrl_cap(ctrl);
        break;
    case NVME_REG_VS:
        val = ctrl->subsys->cfg.version;
        break;
    case NVME_REG_CC:
        val = ctrl->cc;
        break;
    case NVME_REG_CSTS:
        val = ctrl->csts;
        break;
    case NVME_REG_NSSR:
        val = 0;
        break;
    default:
        trace_nvmet_prop_invalid(req->sq->name, "get", off);
        nvmet_req_complete(req, NVME_SC_INVALID_FIELD | NVME_STATUS_DNR);
        return;
    }
    /* CAP is the only 8-byte register */
    if ((off == NVME_REG_CAP) != (size8 == 1)) {
        trace_nvmet_prop_invalid(req->sq->name, "get (size)", off);
        nvmet_req_complete(req, NVME_SC_INVALID_FIELD | NVME_STATUS_DNR);
        return;
    }
    trace_nvmet_prop_get(req->sq->name, off, val);
    req->dw0 = (uint32_t)val;
    req->dw1 = (uint32_t)(val >> 32);
    nvmet_req_complete(req, NVME_SC_SUCCESS);
}

static bool cc_valid(NvmetCtrl *ctrl, uint32_t cc)
{
    uint32_t css = (cc & NVME_CC_CSS_MASK) >> NVME_CC_CSS_SHIFT;
    uint32_t mps = (cc & NVME_CC_MPS_MASK) >> NVME_CC_MPS_SHIFT;
    uint32_t iosqes = (cc & NVME_CC_IOSQES_MASK) >> NVME_CC_IOSQES_SHIFT;
    uint32_t iocqes = (cc & NVME_CC_IOCQES_MASK) >> NVME_CC_IOCQES_SHIFT;

    if (css != 0 || mps != 0 || (cc & NVME_CC_AMS_MASK)) {
        return false;
    }
    if (ctrl->subsys->discovery) {
        /* the queue entry sizes mean nothing to a discovery controller */
        return true;
    }
    return iosqes == 6 && iocqes == 4;
}

void nvmet_exec_prop_set(NvmetReq *req)
{
    NvmetCtrl *ctrl = req->sq->ctrl;
    uint8_t size8 = req->sqe[NVME_PROP_ATTRIB] & 7;
    uint32_t off = nvmet_sqe_dw(req, NVME_PROP_OFFSET);
    uint64_t val = nvmet_ld64(req->sqe + NVME_PROP_VALUE);
    uint32_t old, cc;

    if (size8 != 0 || off != NVME_REG_CC) {
        trace_nvmet_prop_invalid(req->sq->name, "set", off);
        nvmet_req_complete(req, NVME_SC_INVALID_FIELD | NVME_STATUS_DNR);
        return;
    }
    cc = (uint32_t)val;
    old = ctrl->cc;
    ctrl->cc = cc;
    trace_nvmet_prop_set(req->sq->name, off, val);

    if ((cc & NVME_CC_EN) && !(old & NVME_CC_EN)) {
        if (!cc_valid(ctrl, cc)) {
            trace_nvmet_cc_invalid(ctrl->cntlid, cc);
            ctrl->csts = NVME_CSTS_CFS;
        } else {
            NvmetEvent ev = { .type = NVMET_EVENT_CTRL_ENABLED };

            ctrl->csts = NVME_CSTS_RDY;
            nvmet_event_ctrl(ctrl, req->sq, &ev);
        }
    } else if (!(cc & NVME_CC_EN) && (old & NVME_CC_EN)) {
        nvmet_ctrl_reset(ctrl, req->sq);
    }
    if ((cc & NVME_CC_SHN_MASK) && !(old & NVME_CC_SHN_MASK)) {
        NvmetEvent ev = { .type = NVMET_EVENT_CTRL_SHUTDOWN };

        ctrl->csts = (ctrl->csts & ~NVME_CSTS_SHST_MASK) | NVME_CSTS_SHST_CMPLT;
        trace_nvmet_ctrl_shutdown(ctrl->cntlid);
        nvmet_event_ctrl(ctrl, req->sq, &ev);
    } else if (!(cc & NVME_CC_SHN_MASK) && (old & NVME_CC_SHN_MASK)) {
        ctrl->csts &= ~NVME_CSTS_SHST_MASK;
    }
    nvmet_req_complete(req, NVME_SC_SUCCESS);
}

/* ---- Disconnect ---------------------------------------------------------- */

void nvmet_exec_disconnect(NvmetReq *req)
{
    NvmetSq *sq = req->sq;

    if (sq->qid == 0) {
        /* Disconnect deletes I/O queues; the admin queue ends by closing */
        nvmet_req_complete(req, NVME_SC_INVALID_FIELD | NVME_STATUS_DNR);
        return;
    }
    nvmet_req_complete(req, NVME_SC_SUCCESS);
    nvmet_sq_close(sq, "host sent Disconnect");
}
