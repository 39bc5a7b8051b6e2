/*
 * NVMe-oF TCP target engine: fabrics commands (Connect, Property Get/Set,
 * Disconnect).
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#include "internal.h"

/* Invalid-parameter locations for Connect (IATTR bit 16: in connect data). */
#define IPO_SQE(off)   ((uint32_t)(off))
#define IPO_DATA(off)  ((1u << 16) | (uint32_t)(off))

static void connect_invalid(NvmetReq *req, uint32_t ipo, const char *why)
{
    trace_nvmet_connect_invalid(req->q->name, why, ipo & 0xffff,
                                !!(ipo & (1u << 16)));
    req->dw0 = ipo;
    nvmet_req_complete(req, NVME_SC_CONNECT_INVALID_PARAM | NVME_STATUS_DNR);
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

uint64_t nvmet_ctrl_cap(NvmetCtrl *ctrl)
{
    uint64_t mqes = ctrl->subsys && ctrl->subsys->discovery ?
                    NVMET_ADMIN_MAX_SQSIZE - 1 :
                    ctrl->port->cfg.max_queue_size - 1;

    return mqes |
           (1ull << 16) |                      /* CQR: contiguous queues */
           ((uint64_t)NVMET_CAP_TO << 24) |
           (1ull << 37);                       /* CSS: NVM command set */
}

static void exec_connect(NvmetReq *req)
{
    NvmetQueue *q = req->q;
    NvmetTarget *t = q->t;
    uint16_t recfmt = nvmet_ld16(req->sqe + NVME_CONNECT_RECFMT);
    uint16_t qid = nvmet_ld16(req->sqe + NVME_CONNECT_QID);
    uint16_t sqsize = nvmet_ld16(req->sqe + NVME_CONNECT_SQSIZE);
    uint8_t cattr = req->sqe[NVME_CONNECT_CATTR];
    uint32_t kato = nvmet_ld32(req->sqe + NVME_CONNECT_KATO);
    char subnqn[NVME_NQN_FIELD_LEN], hostnqn[NVME_NQN_FIELD_LEN];
    const uint8_t *d = req->buf;
    NvmetSubsys *subsys;
    NvmetCtrl *ctrl;
    uint16_t cntlid;

    if (q->ctrl) {
        trace_nvmet_connect_again(q->name);
        nvmet_req_complete(req, NVME_SC_CMD_SEQ_ERROR | NVME_STATUS_DNR);
        return;
    }
    if (q->reqs_busy > 1) {
        /*
         * A command sent before Connect may still wait for its data (R2T)
         * or a buffer; nvmet_queue_bind() must not move it under its feet.
         */
        trace_nvmet_connect_invalid(q->name, "other commands outstanding",
                                    0, 0);
        nvmet_req_complete(req, NVME_SC_CMD_SEQ_ERROR | NVME_STATUS_DNR);
        return;
    }
    if (recfmt != 0) {
        trace_nvmet_connect_invalid(q->name, "unsupported record format",
                                    NVME_CONNECT_RECFMT, 0);
        nvmet_req_complete(req, NVME_SC_CONNECT_FORMAT | NVME_STATUS_DNR);
        return;
    }
    if (!req->h2c || req->data_len != NVME_CONNECT_DATA_LEN || !d) {
        trace_nvmet_connect_invalid(q->name, "connect data is not 1024 bytes",
                                    NVME_SQE_DPTR, 0);
        nvmet_req_complete(req, NVME_SC_SGL_INVALID_DATA | NVME_STATUS_DNR);
        return;
    }
    if (!get_nqn(d + NVME_CONNECT_DATA_SUBNQN, subnqn)) {
        connect_invalid(req, IPO_DATA(NVME_CONNECT_DATA_SUBNQN),
                        "subsystem NQN is empty or not terminated");
        return;
    }
    if (!get_nqn(d + NVME_CONNECT_DATA_HOSTNQN, hostnqn)) {
        connect_invalid(req, IPO_DATA(NVME_CONNECT_DATA_HOSTNQN),
                        "host NQN is empty or not terminated");
        return;
    }
    cntlid = nvmet_ld16(d + NVME_CONNECT_DATA_CNTLID);
    trace_nvmet_connect(q->name, qid, sqsize, cntlid, kato, subnqn, hostnqn);

    subsys = nvmet_port_find_subsys(q->port, subnqn);
    if (!subsys) {
        connect_invalid(req, IPO_DATA(NVME_CONNECT_DATA_SUBNQN),
                        nvmet_subsys_find(t, subnqn) ?
                        "subsystem is not exported on this port" :
                        "unknown subsystem");
        return;
    }
    if (!nvmet_subsys_host_allowed(subsys, hostnqn)) {
        trace_nvmet_connect_host_denied(q->name, hostnqn, subnqn);
        req->dw0 = IPO_DATA(NVME_CONNECT_DATA_HOSTNQN);
        nvmet_req_complete(req, NVME_SC_CONNECT_INVALID_HOST | NVME_STATUS_DNR);
        return;
    }
    /* a PSK names a host and a subsystem: Connect must name the same */
    if (q->tls.active && q->tls.hostnqn &&
        (!g_str_equal(q->tls.hostnqn, hostnqn) ||
         (!subsys->discovery && !g_str_equal(q->tls.subnqn, subnqn)))) {
        trace_nvmet_connect_tls_mismatch(q->name, hostnqn, subnqn,
                                         q->tls.identity);
        req->dw0 = IPO_DATA(NVME_CONNECT_DATA_HOSTNQN);
        nvmet_req_complete(req, NVME_SC_CONNECT_INVALID_HOST | NVME_STATUS_DNR);
        return;
    }
    if ((cattr & NVME_CONNECT_CATTR_DISABLE_SQFLOW) &&
        !q->port->cfg.sqflow_disable_ok) {
        connect_invalid(req, IPO_SQE(NVME_CONNECT_CATTR),
                        "SQ flow control cannot be disabled on this port");
        return;
    }

    if (qid == 0) {
        uint16_t max = subsys->discovery ? NVMET_ADMIN_MAX_SQSIZE :
                       NVMET_ADMIN_MAX_SQSIZE;

        if (cntlid != NVME_CNTLID_DYNAMIC) {
            connect_invalid(req, IPO_DATA(NVME_CONNECT_DATA_CNTLID),
                            "only the dynamic controller model is supported");
            return;
        }
        if (sqsize < 1 || sqsize > max - 1) {
            connect_invalid(req, IPO_SQE(NVME_CONNECT_SQSIZE),
                            "admin queue size out of range");
            return;
        }
        ctrl = nvmet_ctrl_new(subsys, q->port, hostnqn,
                              d + NVME_CONNECT_DATA_HOSTID, kato);
        if (!ctrl) {
            trace_nvmet_connect_invalid(q->name, "no free controller ID", 0, 0);
            nvmet_req_complete(req, NVME_SC_CONNECT_CTRL_BUSY | NVME_STATUS_DNR);
            return;
        }
    } else {
        ctrl = nvmet_ctrl_find(subsys, cntlid);
        if (!ctrl || !g_str_equal(ctrl->hostnqn, hostnqn) ||
            memcmp(ctrl->hostid, d + NVME_CONNECT_DATA_HOSTID, 16)) {
            connect_invalid(req, IPO_DATA(NVME_CONNECT_DATA_CNTLID),
                            "no such controller for this host");
            return;
        }
        if (ctrl->port != q->port) {
            connect_invalid(req, IPO_DATA(NVME_CONNECT_DATA_CNTLID),
                            "controller belongs to another port");
            return;
        }
        if (qid > ctrl->max_qid || qid > ctrl->nr_io_queues) {
            connect_invalid(req, IPO_SQE(NVME_CONNECT_QID),
                            "queue ID beyond the number of queues");
            return;
        }
        if (sqsize < 1 || sqsize > q->port->cfg.max_queue_size - 1) {
            connect_invalid(req, IPO_SQE(NVME_CONNECT_SQSIZE),
                            "queue size out of range");
            return;
        }
        if (!(ctrl->csts & NVME_CSTS_RDY)) {
            trace_nvmet_connect_invalid(q->name, "controller not enabled",
                                        NVME_CONNECT_QID, 0);
            nvmet_req_complete(req, NVME_SC_CMD_SEQ_ERROR | NVME_STATUS_DNR);
            return;
        }
        if (ctrl->sqs[qid]) {
            trace_nvmet_connect_invalid(q->name, "queue ID already connected",
                                        NVME_CONNECT_QID, 0);
            nvmet_req_complete(req, NVME_SC_CMD_SEQ_ERROR | NVME_STATUS_DNR);
            return;
        }
    }

    nvmet_ctrl_ref(ctrl);           /* held by the queue */
    ctrl->sqs[qid] = q;
    q->sqflow_disabled = cattr & NVME_CONNECT_CATTR_DISABLE_SQFLOW;
    nvmet_queue_bind(q, ctrl, qid, sqsize + 1, &req);
    nvmet_queue_count_connection(q);
    req->dw0 = ctrl->cntlid;
    /*
     * A host with a DH-HMAC-CHAP key authenticates on every queue before
     * anything else (ATR).  ASCR is never set: Linux refuses it.
     */
    q->auth.required = nvmet_auth_needed(q, hostnqn);
    if (q->auth.required) {
        req->dw0 |= NVME_CONNECT_AUTHREQ_ATR;
    }
    trace_nvmet_connect_ok(q->name, ctrl->cntlid, qid, q->auth.required);
    nvmet_req_complete(req, NVME_SC_SUCCESS);
}

static void exec_prop_get(NvmetReq *req)
{
    NvmetCtrl *ctrl = req->q->ctrl;
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
        trace_nvmet_prop_invalid(req->q->name, "get", off);
        nvmet_req_complete(req, NVME_SC_INVALID_FIELD | NVME_STATUS_DNR);
        return;
    }
    /* CAP is the only 8-byte register */
    if ((off == NVME_REG_CAP) != (size8 == 1)) {
        trace_nvmet_prop_invalid(req->q->name, "get (size)", off);
        nvmet_req_complete(req, NVME_SC_INVALID_FIELD | NVME_STATUS_DNR);
        return;
    }
    trace_nvmet_prop_get(req->q->name, off, val);
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

static void exec_prop_set(NvmetReq *req)
{
    NvmetCtrl *ctrl = req->q->ctrl;
    uint8_t size8 = req->sqe[NVME_PROP_ATTRIB] & 7;
    uint32_t off = nvmet_sqe_dw(req, NVME_PROP_OFFSET);
    uint64_t val = nvmet_ld64(req->sqe + NVME_PROP_VALUE);
    uint32_t old, cc;

    if (size8 != 0 || off != NVME_REG_CC) {
        trace_nvmet_prop_invalid(req->q->name, "set", off);
        nvmet_req_complete(req, NVME_SC_INVALID_FIELD | NVME_STATUS_DNR);
        return;
    }
    cc = (uint32_t)val;
    old = ctrl->cc;
    ctrl->cc = cc;
    trace_nvmet_prop_set(req->q->name, off, val);

    if ((cc & NVME_CC_EN) && !(old & NVME_CC_EN)) {
        if (!cc_valid(ctrl, cc)) {
            trace_nvmet_cc_invalid(ctrl->cntlid, cc);
            ctrl->csts = NVME_CSTS_CFS;
        } else {
            ctrl->csts = NVME_CSTS_RDY;
        }
    } else if (!(cc & NVME_CC_EN) && (old & NVME_CC_EN)) {
        nvmet_ctrl_reset(ctrl);
    }
    if ((cc & NVME_CC_SHN_MASK) && !(old & NVME_CC_SHN_MASK)) {
        ctrl->csts = (ctrl->csts & ~NVME_CSTS_SHST_MASK) | NVME_CSTS_SHST_CMPLT;
        trace_nvmet_ctrl_shutdown(ctrl->cntlid);
    } else if (!(cc & NVME_CC_SHN_MASK) && (old & NVME_CC_SHN_MASK)) {
        ctrl->csts &= ~NVME_CSTS_SHST_MASK;
    }
    nvmet_req_complete(req, NVME_SC_SUCCESS);
}

void nvmet_exec_fabrics(NvmetReq *req)
{
    NvmetQueue *q = req->q;
    uint8_t fctype = req->sqe[NVME_SQE_FCTYPE];

    trace_nvmet_fabrics_cmd(q->name, req->cid, fctype);
    if (fctype == NVME_FCTYPE_CONNECT) {
        exec_connect(req);
        return;
    }
    if (!q->ctrl) {
        trace_nvmet_cmd_before_connect(q->name, req->cid, req->opc);
        nvmet_req_complete(req, NVME_SC_CMD_SEQ_ERROR | NVME_STATUS_DNR);
        return;
    }

    switch (fctype) {
    case NVME_FCTYPE_PROP_GET:
    case NVME_FCTYPE_PROP_SET:
        if (q->qid != 0) {
            nvmet_req_complete(req, NVME_SC_INVALID_OPCODE | NVME_STATUS_DNR);
            return;
        }
        if (q->auth.required && !q->auth.authenticated) {
            trace_nvmet_cmd_unauthenticated(q->name, req->cid, req->opc);
            nvmet_req_complete(req, NVME_SC_AUTH_REQUIRED | NVME_STATUS_DNR);
            return;
        }
        nvmet_ctrl_keep_alive(q->ctrl);
        if (fctype == NVME_FCTYPE_PROP_GET) {
            exec_prop_get(req);
        } else {
            exec_prop_set(req);
        }
        return;
    case NVME_FCTYPE_AUTH_SEND:
        nvmet_ctrl_keep_alive(q->ctrl);
        nvmet_exec_auth_send(req);
        return;
    case NVME_FCTYPE_AUTH_RECV:
        nvmet_ctrl_keep_alive(q->ctrl);
        nvmet_exec_auth_recv(req);
        return;
    case NVME_FCTYPE_DISCONNECT:
        if (q->qid == 0) {
            /* Disconnect deletes I/O queues; the admin queue ends by closing */
            nvmet_req_complete(req, NVME_SC_INVALID_FIELD | NVME_STATUS_DNR);
            return;
        }
        nvmet_req_complete(req, NVME_SC_SUCCESS);
        nvmet_queue_close(q, "host sent Disconnect");
        return;
    default:
        trace_nvmet_fabrics_unsupported(q->name, fctype);
        nvmet_req_complete(req, NVME_SC_INVALID_OPCODE | NVME_STATUS_DNR);
        return;
    }
}
