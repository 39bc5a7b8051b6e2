/*
 * NVMe-oF target engine: controllers.
 *
 * A controller is created by an admin-queue Connect, joined by I/O-queue
 * Connects, and torn down when its admin queue goes away, on keep-alive
 * expiry, on a fatal error, or when its host, subsystem or port is
 * removed; tearing it down closes every queue it has.  It keeps the
 * Features, the asynchronous events and the logs.  The engine's deadlines
 * (keep-alive and authentication timeouts) are computed here too.
 *
 * All of it runs with the target lock held.  A controller's queues may be
 * served by other threads: what it wants of them (to close, to complete an
 * asynchronous event) it posts to them (nvmet_sq_post()).
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#include "qemu/osdep.h"
#include "ctrl.h"
#include "event.h"
#include "trace.h"

/* ---- deadlines ----------------------------------------------------------- */

static int64_t subsys_min_deadline(NvmetSubsys *s, int64_t min)
{
    for (GList *l = s->ctrls; l; l = l->next) {
        NvmetCtrl *ctrl = l->data;

        min = MIN(min, ctrl->ka_deadline);
    }
    return min;
}

int64_t nvmet_target_next_deadline(NvmetTarget *t)
{
    int64_t min = INT64_MAX;

    nvmet_lock(t);
    for (GList *l = t->subsystems; l; l = l->next) {
        min = subsys_min_deadline(l->data, min);
    }
    min = subsys_min_deadline(t->disc, min);
    min = MIN(min, t->fault_deadline);      /* delays of faults (fault.c) */
    /* authentication transactions waiting for the host's next message */
    for (GList *p = t->ports; p; p = p->next) {
        NvmetPort *port = p->data;

        for (GList *l = port->queues; l; l = l->next) {
            NvmetSq *sq = l->data;

            min = MIN(min, sq->auth.deadline);
            min = MIN(min, sq->setup_deadline);
        }
    }
    nvmet_unlock(t);
    return min;
}

/*
 * Tell the user about the earliest deadline if it is earlier than the one
 * already armed.  Deadlines that move later are found when the armed timer
 * fires and nvmet_target_timer() re-arms it.
 */
void nvmet_update_timer(NvmetTarget *t)
{
    int64_t min;

    nvmet_assert_locked(t);
    min = nvmet_target_next_deadline(t);

    if (min < t->armed_deadline) {
        t->armed_deadline = min;
        if (t->ops.timer_update) {
            t->ops.timer_update(t->opaque, min);
        }
    }
}

/* ---- life cycle ---------------------------------------------------------- */

NvmetCtrl *nvmet_ctrl_find(NvmetSubsys *subsys, uint16_t cntlid)
{
    for (GList *l = subsys->ctrls; l; l = l->next) {
        NvmetCtrl *ctrl = l->data;

        if (ctrl->cntlid == cntlid) {
            return ctrl;
        }
    }
    return NULL;
}

static void ctrl_reset_features(NvmetCtrl *ctrl)
{
    ctrl->feat_arbitration = 0;
    ctrl->feat_power_mgmt = 0;
    ctrl->feat_temp_thresh = 0x0157;  /* 343 K */
    ctrl->feat_err_recovery = 0;
    nvmet_atomic_set(&ctrl->feat_vwce, 1);
    ctrl->feat_write_atomic = 0;
    ctrl->feat_aen_cfg = 0;
    ctrl->nr_queues_set = false;
    ctrl->nr_io_queues = ctrl->max_qid;
    memset(ctrl->host_behavior, 0, sizeof(ctrl->host_behavior));
}

NvmetCtrl *nvmet_ctrl_new(NvmetSubsys *subsys, NvmetPort *port,
                          const char *hostnqn, const uint8_t *hostid,
                          uint32_t kato_ms)
{
    uint16_t range = subsys->cfg.cntlid_max - subsys->cfg.cntlid_min + 1;
    uint16_t cntlid = 0;
    NvmetCtrl *ctrl;

    for (unsigned i = 0; i < range; i++) {
        uint16_t c = subsys->next_cntlid;

        subsys->next_cntlid = c >= subsys->cfg.cntlid_max ?
                              subsys->cfg.cntlid_min : c + 1;
        if (!nvmet_ctrl_find(subsys, c)) {
            cntlid = c;
            break;
        }
    }
    if (!cntlid) {
        return NULL;
    }

    ctrl = g_new0(NvmetCtrl, 1);
    ctrl->t = subsys->t;
    ctrl->subsys = subsys;
    ctrl->port = port;
    ctrl->refcnt = 1;               /* held by subsys->ctrls */
    ctrl->cntlid = cntlid;
    ctrl->hostnqn = g_strdup(hostnqn);
    ctrl->subnqn = g_strdup(subsys->cfg.nqn);
    memcpy(ctrl->hostid, hostid, 16);
    ctrl->max_qid = subsys->discovery ? 0 : port->cfg.max_queues;
    ctrl->sqs = g_new0(NvmetSq *, ctrl->max_qid + 1);
    ctrl->kato_ms = kato_ms;
    ctrl->ka_deadline = INT64_MAX;
    g_queue_init(&ctrl->pending_aens);
    ctrl_reset_features(ctrl);
    subsys->ctrls = g_list_append(subsys->ctrls, ctrl);
    nvmet_ctrl_keep_alive(ctrl);
    trace_nvmet_ctrl_new(cntlid, subsys->cfg.nqn, hostnqn, kato_ms);
    return ctrl;
}

static void ctrl_ref(NvmetCtrl *ctrl)
{
    ctrl->refcnt++;
}

static void ctrl_unref(NvmetCtrl *ctrl)
{
    g_assert(ctrl->refcnt > 0);
    if (--ctrl->refcnt == 0) {
        g_queue_clear(&ctrl->pending_aens);
        g_free(ctrl->sqs);
        g_free(ctrl->hostnqn);
        g_free(ctrl->subnqn);
        g_free(ctrl);
    }
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

void nvmet_ctrl_teardown(NvmetCtrl *ctrl, const char *why)
{
    NvmetSubsys *subsys = ctrl->subsys;
    NvmetEvent ev = { .type = NVMET_EVENT_CTRL_DESTROYED, .reason = why };

    nvmet_assert_locked(ctrl->t);
    if (!subsys) {
        return;
    }
    trace_nvmet_ctrl_teardown(ctrl->cntlid, ctrl->subnqn, ctrl->hostnqn, why);
    nvmet_event_ctrl(ctrl, NULL, &ev);
    subsys->ctrls = g_list_remove(subsys->ctrls, ctrl);
    ctrl->subsys = NULL;
    ctrl->ka_deadline = INT64_MAX;
    ctrl->nr_aer = 0;   /* the AER requests die with the admin queue */
    for (unsigned i = 0; i <= ctrl->max_qid; i++) {
        if (ctrl->sqs[i]) {
            nvmet_sq_post(ctrl->sqs[i], NVMET_SQ_EV_CLOSE, why);
        }
    }
    ctrl_unref(ctrl);
}

bool nvmet_sq_ctrl_gone(NvmetSq *sq)
{
    bool gone;

    nvmet_lock(sq->t);
    gone = sq->ctrl && !sq->ctrl->subsys;
    nvmet_unlock(sq->t);
    return gone;
}

/* CC.EN went from 1 to 0: a controller reset. */
void nvmet_ctrl_reset(NvmetCtrl *ctrl, NvmetSq *sq)
{
    NvmetEvent ev = { .type = NVMET_EVENT_CTRL_RESET };

    trace_nvmet_ctrl_reset(ctrl->cntlid, ctrl->subnqn);
    nvmet_event_ctrl(ctrl, sq, &ev);
    for (unsigned i = 1; i <= ctrl->max_qid; i++) {
        if (ctrl->sqs[i]) {
            nvmet_sq_post(ctrl->sqs[i], NVMET_SQ_EV_CLOSE,
                          "controller reset");
        }
    }
    /* outstanding AERs are aborted without completion by a reset */
    while (ctrl->nr_aer) {
        NvmetReq *req = ctrl->aer[--ctrl->nr_aer];

        nvmet_req_drop(req);
    }
    g_queue_clear(&ctrl->pending_aens);
    ctrl->ns_aen_masked = false;
    ctrl->disc_aen_masked = false;
    ctrl->nr_changed_ns = 0;
    ctrl->csts = 0;
    ctrl_reset_features(ctrl);
}

/*
 * Number the connections of each (host, queue ID) of a subsystem, for the
 * deterministic random streams of seeded subsystems.
 */
static void count_connection(NvmetSq *sq)
{
    NvmetSubsys *s = sq->ctrl->subsys;
    g_autofree char *key = g_strdup_printf("%u %s", sq->qid,
                                           sq->ctrl->hostnqn);
    gpointer old;

    old = g_hash_table_lookup(s->conn_counts, key);
    sq->conn_index = GPOINTER_TO_UINT(old);
    sq->random_draws = 0;
    g_hash_table_replace(s->conn_counts, g_steal_pointer(&key),
                         GUINT_TO_POINTER(sq->conn_index + 1));
}

void nvmet_ctrl_attach_sq(NvmetSq *sq)
{
    NvmetCtrl *ctrl = sq->ctrl;

    ctrl_ref(ctrl);           /* held by the queue */
    ctrl->sqs[sq->qid] = sq;
    count_connection(sq);
    if (sq->qid == 0) {
        /* the admin queue's Connect made the controller */
        NvmetEvent ev = {
            .type = NVMET_EVENT_CTRL_CREATED,
            .u.ctrl.kato_ms = ctrl->kato_ms,
        };

        nvmet_event_ctrl(ctrl, sq, &ev);
    }
}

void nvmet_ctrl_io_stats(NvmetCtrl *ctrl, NvmetIoStats *st)
{
    *st = ctrl->io_stats;
    for (unsigned i = 1; i <= ctrl->max_qid; i++) {
        NvmetSq *sq = ctrl->sqs[i];

        if (sq) {
            st->data_units_read +=
                nvmet_atomic_read(&sq->io_stats.data_units_read);
            st->data_units_written +=
                nvmet_atomic_read(&sq->io_stats.data_units_written);
            st->host_read_cmds +=
                nvmet_atomic_read(&sq->io_stats.host_read_cmds);
            st->host_write_cmds +=
                nvmet_atomic_read(&sq->io_stats.host_write_cmds);
        }
    }
}

void nvmet_ctrl_detach_sq(NvmetSq *sq)
{
    NvmetCtrl *ctrl = sq->ctrl;

    nvmet_assert_locked(sq->t);
    if (!ctrl) {
        return;
    }
    /* the controller keeps counting what its departed queues did */
    ctrl->io_stats.data_units_read += sq->io_stats.data_units_read;
    ctrl->io_stats.data_units_written += sq->io_stats.data_units_written;
    ctrl->io_stats.host_read_cmds += sq->io_stats.host_read_cmds;
    ctrl->io_stats.host_write_cmds += sq->io_stats.host_write_cmds;
    memset(&sq->io_stats, 0, sizeof(sq->io_stats));
    sq->ctrl = NULL;
    if (ctrl->sqs && sq->qid <= ctrl->max_qid && ctrl->sqs[sq->qid] == sq) {
        ctrl->sqs[sq->qid] = NULL;
    }
    if (sq->qid == 0) {
        /* the admin queue going away ends the association */
        nvmet_ctrl_teardown(ctrl, "admin queue closed");
    }
    ctrl_unref(ctrl);
}

/* ---- keep-alive ---------------------------------------------------------- */

void nvmet_ctrl_keep_alive(NvmetCtrl *ctrl)
{
    nvmet_assert_locked(ctrl->t);
    if (!ctrl->kato_ms || !ctrl->subsys) {
        ctrl->ka_deadline = INT64_MAX;
        return;
    }
    ctrl->ka_deadline = nvmet_now(ctrl->t) + ctrl->kato_ms;
    /*
     * Usually the deadline only moves later, found when the armed timer
     * fires; but a new controller may need an earlier one than is armed.
     */
    if (ctrl->ka_deadline < ctrl->t->armed_deadline) {
        nvmet_update_timer(ctrl->t);
    }
}

void nvmet_ctrl_check_keep_alive(NvmetCtrl *ctrl, int64_t now)
{
    if (ctrl->ka_deadline > now || !ctrl->kato_ms) {
        return;
    }
    /* I/O commands count too: their queues keep their own time stamp */
    for (unsigned i = 1; i <= ctrl->max_qid; i++) {
        NvmetSq *sq = ctrl->sqs[i];
        int64_t last = sq ? nvmet_atomic_read(&sq->ka_last) : 0;

        if (last && last + ctrl->kato_ms > ctrl->ka_deadline) {
            ctrl->ka_deadline = last + ctrl->kato_ms;
        }
    }
    if (ctrl->ka_deadline > now) {
        return;
    }
    /*
     * A host cannot send Keep Alive while a queue of its controller is
     * in the middle of an authentication transaction (no keep-alive
     * before the admin queue is authenticated; Linux starts keep-alive
     * only after its I/O queues connected).  A slow host, e.g. a TCG
     * guest computing an ffdhe8192 value, must not lose its controller
     * then: the authentication timeout bounds such waits instead.
     */
    for (unsigned i = 0; i <= ctrl->max_qid; i++) {
        NvmetSq *sq = ctrl->sqs[i];

        if (sq && sq->auth.step != AUTH_STEP_IDLE) {
            trace_nvmet_kato_deferred(ctrl->cntlid, i, ctrl->kato_ms);
            ctrl->ka_deadline = now + ctrl->kato_ms;
            break;
        }
    }
    if (ctrl->ka_deadline <= now) {
        trace_nvmet_kato_expired(ctrl->cntlid, ctrl->subnqn,
                                 ctrl->hostnqn, ctrl->kato_ms);
        nvmet_ctrl_teardown(ctrl, "keep-alive timeout");
    }
}

/* ---- asynchronous events ------------------------------------------------- */

void nvmet_ctrl_add_aen(NvmetCtrl *ctrl, uint32_t result)
{
    nvmet_assert_locked(ctrl->t);
    trace_nvmet_aen_queue(ctrl->cntlid, result);
    g_queue_push_tail(&ctrl->pending_aens, GUINT_TO_POINTER(result));
    /* the admin queue completes its requests itself, in its thread */
    if (ctrl->nr_aer && ctrl->sqs[0]) {
        nvmet_sq_post(ctrl->sqs[0], NVMET_SQ_EV_AEN, NULL);
    }
}

void nvmet_ctrl_process_aens(NvmetCtrl *ctrl)
{
    while (ctrl->nr_aer && !g_queue_is_empty(&ctrl->pending_aens)) {
        NvmetReq *req = ctrl->aer[--ctrl->nr_aer];

        req->dw0 = GPOINTER_TO_UINT(g_queue_pop_head(&ctrl->pending_aens));
        trace_nvmet_aen_complete(ctrl->cntlid, req->dw0);
        nvmet_req_complete(req, NVME_SC_SUCCESS);
    }
}
