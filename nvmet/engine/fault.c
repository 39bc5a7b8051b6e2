/*
 * NVMe-oF target engine: fault injection.
 *
 * A fault is where (a protocol step and filters) + when (the Nth match,
 * the next N matches, every match, or a chance) + what (the action).  The
 * target keeps its faults in the order they were armed; each step that
 * happens asks nvmet_fault_at() (or, for commands, nvmet_fault_cmd_check())
 * whether one fires, and carries out the action itself where it is: the
 * request core (core.c, req.c), the transport (tcp.c, tls.c) and the
 * security steps (auth.c, concat.c).  This file decides, reports (trace
 * and NVMET_EVENT_FAULT) and keeps the delayed steps; it calls nothing of
 * the steps themselves, so there is no call circle with them.
 *
 * Every check is one test of a bit mask (NvmetTarget.fault_points) while
 * no fault is armed at that step.
 *
 * Threads: the steps happen in the thread that serves their queue (I/O
 * queues run in iothreads).  The faults are the target's, so every entry
 * point here takes the target lock; the bit mask is read without it
 * (nvmet_fault_armed()), so a queue pays nothing while no fault is armed.
 * A delayed step is resumed in its queue's thread: the timer marks it due
 * and posts NVMET_SQ_EV_FAULT to the queue, whose nvmet_sq_service() calls
 * nvmet_fault_sq_resume().
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#include "qemu/osdep.h"
#include "fault.h"
#include "event.h"
#include "random.h"
#include "trace.h"

#define PT(x)      (UINT64_C(1) << NVMET_FP_##x)
#define AC(x)      (1u << NVMET_FA_##x)

/* what applies at a step */
#define F_OPCODE   1u       /* the opcode filter */
#define F_SC_C     2u       /* the sc-c filter */
#define F_RESPONSE 4u       /* a response follows: "close after" */

#define CMD_ACTS   (AC(STATUS) | AC(DELAY) | AC(DROP) | AC(CLOSE) | \
                    AC(C2H_TERM) | AC(AEN))
#define CONN_ACTS  (CMD_ACTS & ~AC(AEN))
#define AUTH_ACTS  (CMD_ACTS | AC(AUTH_FAILURE))
#define TLS_ACTS   (AC(TLS_ALERT) | AC(CLOSE))
#define PSK_ACTS   (AC(FORGET_PSK) | AC(CORRUPT_PSK))

static const struct {
    const char *name;
    uint32_t acts;
    unsigned flags;
} points[NVMET_FP__MAX] = {
    [NVMET_FP_PDU_ICREQ] = { "pdu-icreq", AC(C2H_TERM) | AC(CLOSE), 0 },
    [NVMET_FP_PDU_ICRESP] = {
        "pdu-icresp", AC(DELAY) | AC(DROP) | AC(CLOSE) | AC(C2H_TERM),
        F_RESPONSE },
    [NVMET_FP_PDU_CAPSULE_CMD] = {
        "pdu-capsule-cmd", AC(C2H_TERM) | AC(CLOSE), F_OPCODE },
    [NVMET_FP_PDU_CAPSULE_RESP] = {
        "pdu-capsule-resp",
        AC(DROP) | AC(CLOSE) | AC(C2H_TERM) | AC(CORRUPT_HDGST),
        F_OPCODE | F_RESPONSE },
    [NVMET_FP_PDU_H2C_DATA] = {
        "pdu-h2c-data", AC(C2H_TERM) | AC(CLOSE), 0 },
    [NVMET_FP_PDU_C2H_DATA] = {
        "pdu-c2h-data", AC(DROP) | AC(CLOSE) | AC(C2H_TERM) |
        AC(CORRUPT_HDGST) | AC(CORRUPT_DDGST), F_OPCODE | F_RESPONSE },
    [NVMET_FP_PDU_R2T] = {
        "pdu-r2t", AC(WITHHOLD_R2T) | AC(DELAY) | AC(CLOSE) | AC(C2H_TERM) |
        AC(CORRUPT_HDGST), F_OPCODE | F_RESPONSE },
    [NVMET_FP_PDU_H2C_TERM] = {
        "pdu-h2c-term", AC(C2H_TERM) | AC(CLOSE), 0 },
    [NVMET_FP_PDU_C2H_TERM] = {
        "pdu-c2h-term", AC(DROP) | AC(C2H_TERM), 0 },
    [NVMET_FP_CONNECT_ADMIN] = { "connect-admin", CONN_ACTS, F_RESPONSE },
    [NVMET_FP_CONNECT_IO] = { "connect-io", CONN_ACTS, F_RESPONSE },
    [NVMET_FP_PROPERTY_GET] = { "property-get", CMD_ACTS, F_RESPONSE },
    [NVMET_FP_PROPERTY_SET] = { "property-set", CMD_ACTS, F_RESPONSE },
    [NVMET_FP_CC_ENABLE] = { "cc-enable", CMD_ACTS, F_RESPONSE },
    [NVMET_FP_CC_DISABLE] = { "cc-disable", CMD_ACTS, F_RESPONSE },
    [NVMET_FP_SHUTDOWN] = { "shutdown", CMD_ACTS, F_RESPONSE },
    [NVMET_FP_ADMIN_CMD] = {
        "admin-cmd", CMD_ACTS, F_OPCODE | F_RESPONSE },
    [NVMET_FP_IO_CMD] = { "io-cmd", CMD_ACTS, F_OPCODE | F_RESPONSE },
    [NVMET_FP_KEEP_ALIVE] = {
        "keep-alive", CMD_ACTS | AC(IGNORE_KEEP_ALIVE), F_RESPONSE },
    [NVMET_FP_AUTH_NEGOTIATE] = {
        "auth-negotiate", AUTH_ACTS | AC(REFUSE_REPLACE),
        F_SC_C | F_RESPONSE },
    [NVMET_FP_AUTH_CHALLENGE] = {
        "auth-challenge", AUTH_ACTS, F_SC_C | F_RESPONSE },
    [NVMET_FP_AUTH_REPLY] = { "auth-reply", AUTH_ACTS, F_SC_C | F_RESPONSE },
    [NVMET_FP_AUTH_SUCCESS1] = {
        "auth-success1", AUTH_ACTS, F_SC_C | F_RESPONSE },
    [NVMET_FP_AUTH_SUCCESS2] = {
        "auth-success2", AUTH_ACTS, F_SC_C | F_RESPONSE },
    [NVMET_FP_AUTH_FAILURE2] = {
        "auth-failure2", CMD_ACTS, F_SC_C | F_RESPONSE },
    [NVMET_FP_AUTH_SUCCESS] = {
        "auth-success", AC(FORGET_TLS_KEY), F_SC_C },
    [NVMET_FP_TLS_IDENTITY] = { "tls-identity", TLS_ACTS, 0 },
    [NVMET_FP_TLS_HANDSHAKE] = { "tls-handshake", TLS_ACTS, 0 },
    [NVMET_FP_TLS_RECORD] = { "tls-record", TLS_ACTS, 0 },
    [NVMET_FP_PSK_GENERATE] = { "psk-generate", PSK_ACTS, 0 },
    [NVMET_FP_PSK_REPLACE] = { "psk-replace", PSK_ACTS, 0 },
};

/* The steps of a command, found when it starts (nvmet_fault_cmd_check()) */
#define CMD_POINTS (PT(CONNECT_ADMIN) | PT(CONNECT_IO) | PT(PROPERTY_GET) | \
                    PT(PROPERTY_SET) | PT(CC_ENABLE) | PT(CC_DISABLE) |     \
                    PT(SHUTDOWN) | PT(ADMIN_CMD) | PT(IO_CMD) |             \
                    PT(KEEP_ALIVE) | PT(AUTH_NEGOTIATE) |                   \
                    PT(AUTH_CHALLENGE) | PT(AUTH_REPLY) |                   \
                    PT(AUTH_SUCCESS1) | PT(AUTH_SUCCESS2) |                 \
                    PT(AUTH_FAILURE2))

static const char *const act_names[NVMET_FA__MAX] = {
    [NVMET_FA_STATUS] = "status",
    [NVMET_FA_AUTH_FAILURE] = "auth-failure",
    [NVMET_FA_TLS_ALERT] = "tls-alert",
    [NVMET_FA_DELAY] = "delay",
    [NVMET_FA_DROP] = "drop",
    [NVMET_FA_CLOSE] = "close",
    [NVMET_FA_C2H_TERM] = "c2h-term",
    [NVMET_FA_CORRUPT_HDGST] = "corrupt-hdgst",
    [NVMET_FA_CORRUPT_DDGST] = "corrupt-ddgst",
    [NVMET_FA_FORGET_TLS_KEY] = "forget-tls-key",
    [NVMET_FA_REFUSE_REPLACE] = "refuse-replace",
    [NVMET_FA_IGNORE_KEEP_ALIVE] = "ignore-keep-alive",
    [NVMET_FA_AEN] = "aen",
    [NVMET_FA_WITHHOLD_R2T] = "withhold-r2t",
    [NVMET_FA_FORGET_PSK] = "forget-psk",
    [NVMET_FA_CORRUPT_PSK] = "corrupt-psk",
};

/* Delays, and how long one may be at most (an hour) */
#define MAX_DELAY_MS  (3600u * 1000)
/* The default event of the aen action: namespace attributes changed */
#define DEFAULT_AEN   (NVME_AER_TYPE_NOTICE | \
                       (NVME_AER_NOTICE_NS_CHANGED << 8) | \
                       (NVME_LOG_CHANGED_NS << 16))

typedef struct NvmetFault {
    uint32_t id;
    NvmetFaultConfig cfg;       /* strings owned */
    char *desc;                 /* where, when, what */
    char *what;                 /* the action and its parameters */
    uint64_t threshold;         /* PROBABILITY: fires when a draw is below */
    uint64_t matches, hits;
    bool active;
} NvmetFault;

/* A step a delay action holds back until its deadline. */
typedef struct NvmetFaultDeferred {
    NvmetSq *sq;
    int64_t deadline;
    uint32_t id;
    uint8_t point;
    NvmetFaultResume *fn;
    void *arg;
} NvmetFaultDeferred;

struct NvmetFaultTable {
    GPtrArray *faults;          /* NvmetFault *, in the order of arming */
    uint32_t next_id;
    GList *deferred;            /* NvmetFaultDeferred *, by deadline */
    GList *due;                 /* past their deadline, posted to their SQ */
};

const char *nvmet_fault_point_name(NvmetFaultPoint p)
{
    return p < NVMET_FP__MAX ? points[p].name : "?";
}

const char *nvmet_fault_act_name(NvmetFaultAct a)
{
    return a < NVMET_FA__MAX ? act_names[a] : "?";
}

static NvmetFaultTable *fault_table(NvmetTarget *t)
{
    if (!t->faults) {
        t->faults = g_new0(NvmetFaultTable, 1);
        t->faults->faults = g_ptr_array_new();
        t->faults->next_id = 1;
    }
    return t->faults;
}

static void fault_free(NvmetFault *f)
{
    g_free((char *)f->cfg.owner);
    g_free((char *)f->cfg.subnqn);
    g_free((char *)f->cfg.hostnqn);
    g_free(f->desc);
    g_free(f->what);
    g_free(f);
}

/* The steps at which some armed fault may still fire. */
static void update_points(NvmetTarget *t)
{
    uint64_t pts = 0;

    for (unsigned i = 0; t->faults && i < t->faults->faults->len; i++) {
        NvmetFault *f = g_ptr_array_index(t->faults->faults, i);

        if (f->active) {
            pts |= UINT64_C(1) << f->cfg.point;
        }
    }
    __atomic_store_n(&t->fault_points, pts, __ATOMIC_RELAXED);
}

/* ---- arming -------------------------------------------------------------- */

static const char *sc_c_name(uint8_t sc_c)
{
    switch (sc_c) {
    case NVME_AUTH_SECP_NOSC: return "none";
    case NVME_AUTH_SECP_NEWTLSPSK: return "newtlspsk";
    case NVME_AUTH_SECP_REPLACETLSPSK: return "replacetlspsk";
    default: return "?";
    }
}

static char *describe_what(const NvmetFaultConfig *c)
{
    uint16_t st = c->status;

    switch (c->action) {
    case NVMET_FA_STATUS:
        return g_strdup_printf("complete with status 0x%04x (sct %u sc 0x%02x"
                               "%s%s)", st, (st >> 8) & 7, st & 0xff,
                               st & NVME_STATUS_DNR ? " dnr" : "",
                               st & NVME_STATUS_MORE ? " more" : "");
    case NVMET_FA_AUTH_FAILURE:
        return g_strdup_printf("AUTH_Failure1 reason 0x%02x", c->reason);
    case NVMET_FA_TLS_ALERT:
        return g_strdup_printf("fail TLS with alert %u", c->alert);
    case NVMET_FA_DELAY:
        return g_strdup_printf("delay %u ms", c->delay_ms);
    case NVMET_FA_DROP:
        return g_strdup("drop (never sent)");
    case NVMET_FA_CLOSE:
        return g_strdup(c->after_response ?
                        "close the connection after the response" :
                        "close the connection");
    case NVMET_FA_C2H_TERM:
        return g_strdup_printf("C2HTermReq fes 0x%x fei %u", c->fes, c->fei);
    case NVMET_FA_CORRUPT_HDGST:
        return g_strdup("corrupt the header digest");
    case NVMET_FA_CORRUPT_DDGST:
        return g_strdup("corrupt the data digest");
    case NVMET_FA_FORGET_TLS_KEY:
        return g_strdup("forget the queue's TLS key");
    case NVMET_FA_REFUSE_REPLACE:
        return g_strdup("refuse REPLACETLSPSK (CONCAT_MISMATCH)");
    case NVMET_FA_IGNORE_KEEP_ALIVE:
        return g_strdup("ignore the Keep Alive (no answer, no restart)");
    case NVMET_FA_AEN:
        return g_strdup_printf("asynchronous event 0x%08x", c->aen);
    case NVMET_FA_WITHHOLD_R2T:
        return g_strdup("withhold the R2T");
    case NVMET_FA_FORGET_PSK:
        return g_strdup("forget the generated PSK");
    case NVMET_FA_CORRUPT_PSK:
        return g_strdup("keep a generated PSK the host does not have");
    default:
        return g_strdup("?");
    }
}

static char *describe(const NvmetFaultConfig *c, const char *what)
{
    GString *s = g_string_new(points[c->point].name);

    if (c->subnqn) {
        g_string_append_printf(s, " subsystem %s", c->subnqn);
    }
    if (c->hostnqn) {
        g_string_append_printf(s, " host %s", c->hostnqn);
    }
    if (c->has_cntlid) {
        g_string_append_printf(s, " cntlid %u", c->cntlid);
    }
    if (c->has_qid) {
        g_string_append_printf(s, " qid %u", c->qid);
    } else if (c->queue != NVMET_FAULT_QUEUE_ANY) {
        g_string_append_printf(s, " %s queues",
                               c->queue == NVMET_FAULT_QUEUE_ADMIN ?
                               "admin" : "I/O");
    }
    if (c->has_opcode) {
        g_string_append_printf(s, " opcode 0x%02x", c->opcode);
    }
    if (c->has_sc_c) {
        g_string_append_printf(s, " sc-c %s", sc_c_name(c->sc_c));
    }
    switch (c->when) {
    case NVMET_FAULT_NEXT:
        g_string_append_printf(s, ", next %u", c->count);
        break;
    case NVMET_FAULT_NTH:
        g_string_append_printf(s, ", match %u", c->count);
        break;
    case NVMET_FAULT_EVERY:
        g_string_append(s, ", every match");
        break;
    case NVMET_FAULT_PROBABILITY:
        g_string_append_printf(s, ", probability %g", c->probability);
        break;
    }
    if (c->max_hits) {
        g_string_append_printf(s, " (at most %u)", c->max_hits);
    }
    g_string_append_printf(s, ": %s", what);
    return g_string_free(s, false);
}

#define bad(errp, ...) \
    (g_set_error(errp, NVMET_ERROR, 0, __VA_ARGS__), false)

/* A parameter given to an action that has no use for it */
static bool stray(bool given, const char *param, NvmetFaultAct want,
                  const NvmetFaultConfig *c, GError **errp)
{
    if (given && c->action != want) {
        return bad(errp, "'%s' is a parameter of action '%s', not of '%s'",
                   param, act_names[want], act_names[c->action]);
    }
    return true;
}

static bool check_where(const NvmetFaultConfig *c, GError **errp)
{
    const char *step = points[c->point].name;
    unsigned flags = points[c->point].flags;

    if (c->subnqn && !*c->subnqn) {
        return bad(errp, "the subsystem filter is an empty NQN");
    }
    if (c->hostnqn && !*c->hostnqn) {
        return bad(errp, "the host filter is an empty NQN");
    }
    if (c->queue > NVMET_FAULT_QUEUE_IO) {
        return bad(errp, "unknown queue filter %d", c->queue);
    }
    if (c->has_qid && c->queue != NVMET_FAULT_QUEUE_ANY &&
        (c->qid == 0) != (c->queue == NVMET_FAULT_QUEUE_ADMIN)) {
        return bad(errp, "qid %u is not %s queue", c->qid,
                   c->queue == NVMET_FAULT_QUEUE_ADMIN ? "the admin" :
                   "an I/O");
    }
    if ((c->point == NVMET_FP_CONNECT_ADMIN &&
         ((c->has_qid && c->qid) || c->queue == NVMET_FAULT_QUEUE_IO)) ||
        (c->point == NVMET_FP_CONNECT_IO &&
         ((c->has_qid && !c->qid) || c->queue == NVMET_FAULT_QUEUE_ADMIN))) {
        return bad(errp, "step '%s' never happens on that queue", step);
    }
    if (c->has_opcode && !(flags & F_OPCODE)) {
        return bad(errp, "step '%s' has no opcode filter (only admin-cmd, "
                   "io-cmd, pdu-capsule-cmd, pdu-capsule-resp, "
                   "pdu-c2h-data and pdu-r2t have)", step);
    }
    if (c->has_sc_c && !(flags & F_SC_C)) {
        return bad(errp, "step '%s' has no sc-c filter (only the "
                   "authentication steps have)", step);
    }
    if (c->has_sc_c && c->sc_c != NVME_AUTH_SECP_NOSC &&
        c->sc_c != NVME_AUTH_SECP_NEWTLSPSK &&
        c->sc_c != NVME_AUTH_SECP_REPLACETLSPSK) {
        return bad(errp, "sc-c %u is none of none (0), newtlspsk (2) and "
                   "replacetlspsk (3)", c->sc_c);
    }
    return true;
}

static bool check_when(const NvmetFaultConfig *c, GError **errp)
{
    switch (c->when) {
    case NVMET_FAULT_NEXT:
    case NVMET_FAULT_NTH:
        if (c->max_hits) {
            return bad(errp, "max-hits goes with 'every' and 'probability'");
        }
        break;
    case NVMET_FAULT_EVERY:
        break;
    case NVMET_FAULT_PROBABILITY:
        if (!(c->probability > 0 && c->probability <= 1)) {
            return bad(errp, "probability %g is not in (0, 1]",
                       c->probability);
        }
        break;
    default:
        return bad(errp, "unknown 'when' %d", c->when);
    }
    return true;
}

static bool check_what(const NvmetFaultConfig *c, GError **errp)
{
    const char *step = points[c->point].name;
    uint16_t st = c->status;

    if (c->action >= NVMET_FA__MAX) {
        return bad(errp, "unknown action %d", c->action);
    }
    if (!(points[c->point].acts & (1u << c->action))) {
        GString *ok = g_string_new("");

        for (unsigned a = 0; a < NVMET_FA__MAX; a++) {
            if (points[c->point].acts & (1u << a)) {
                g_string_append_printf(ok, "%s%s", ok->len ? ", " : "",
                                       act_names[a]);
            }
        }
        g_set_error(errp, NVMET_ERROR, 0, "action '%s' is not possible at "
                    "step '%s' (possible: %s)", act_names[c->action], step,
                    ok->str);
        g_string_free(ok, true);
        return false;
    }
    if (!stray(c->has_status, "status", NVMET_FA_STATUS, c, errp) ||
        !stray(c->has_reason, "reason", NVMET_FA_AUTH_FAILURE, c, errp) ||
        !stray(c->has_alert, "alert", NVMET_FA_TLS_ALERT, c, errp) ||
        !stray(c->has_delay_ms, "delay-ms", NVMET_FA_DELAY, c, errp) ||
        !stray(c->after_response, "after-response", NVMET_FA_CLOSE, c,
               errp) ||
        !stray(c->has_fes, "fes", NVMET_FA_C2H_TERM, c, errp) ||
        !stray(c->has_fei, "fei", NVMET_FA_C2H_TERM, c, errp) ||
        !stray(c->has_aen, "aen", NVMET_FA_AEN, c, errp)) {
        return false;
    }
    switch (c->action) {
    case NVMET_FA_STATUS:
        if (!c->has_status) {
            return bad(errp, "action 'status' needs a status (sct, sc)");
        }
        if (st & ~(NVME_STATUS_DNR | NVME_STATUS_MORE | 0x7ff)) {
            return bad(errp, "status 0x%04x has bits beyond DNR, More, SCT "
                       "and SC", st);
        }
        if (!(st & 0x7ff)) {
            return bad(errp, "status 0 is success: a command completed "
                       "with it would not have been carried out");
        }
        break;
    case NVMET_FA_AUTH_FAILURE:
        if (c->has_reason && !c->reason) {
            return bad(errp, "AUTH_Failure1 reason 0 is not a reason");
        }
        break;
    case NVMET_FA_DELAY:
        if (!c->has_delay_ms || !c->delay_ms || c->delay_ms > MAX_DELAY_MS) {
            return bad(errp, "action 'delay' needs delay-ms from 1 to %u",
                       MAX_DELAY_MS);
        }
        break;
    case NVMET_FA_CLOSE:
        if (c->after_response && !(points[c->point].flags & F_RESPONSE)) {
            return bad(errp, "step '%s' has no response to close after",
                       step);
        }
        break;
    case NVMET_FA_C2H_TERM:
        if (!c->has_fes || c->fes < NVME_TCP_FES_INVALID_HEADER ||
            c->fes > NVME_TCP_FES_UNSUPPORTED_PARAM) {
            return bad(errp, "action 'c2h-term' needs fes from 1 to 6 (the "
                       "NVMe/TCP fatal error statuses)");
        }
        break;
    case NVMET_FA_REFUSE_REPLACE:
        if (c->has_sc_c && c->sc_c != NVME_AUTH_SECP_REPLACETLSPSK) {
            return bad(errp, "action 'refuse-replace' only matches sc-c "
                       "replacetlspsk");
        }
        break;
    default:
        break;
    }
    return true;
}

uint32_t nvmet_fault_add(NvmetTarget *t, const NvmetFaultConfig *cfg,
                         GError **errp)
{
    NvmetFaultTable *ft;
    NvmetFault *f;

    if (cfg->point >= NVMET_FP__MAX) {
        g_set_error(errp, NVMET_ERROR, 0, "unknown step %d", cfg->point);
        return 0;
    }
    if (!check_where(cfg, errp) || !check_when(cfg, errp) ||
        !check_what(cfg, errp)) {
        return 0;
    }
    nvmet_lock(t);
    ft = fault_table(t);
    f = g_new0(NvmetFault, 1);
    f->cfg = *cfg;
    f->cfg.owner = g_strdup(cfg->owner);
    f->cfg.subnqn = g_strdup(cfg->subnqn);
    f->cfg.hostnqn = g_strdup(cfg->hostnqn);
    if (!f->cfg.count) {
        f->cfg.count = 1;
    }
    if (cfg->action == NVMET_FA_REFUSE_REPLACE) {
        f->cfg.has_sc_c = true;
        f->cfg.sc_c = NVME_AUTH_SECP_REPLACETLSPSK;
    }
    if (cfg->action == NVMET_FA_AUTH_FAILURE && !cfg->has_reason) {
        f->cfg.reason = NVME_AUTH_FAIL_FAILED;
    }
    if (cfg->action == NVMET_FA_TLS_ALERT && !cfg->has_alert) {
        f->cfg.alert = 40;              /* handshake_failure */
    }
    if (cfg->action == NVMET_FA_AEN && !cfg->has_aen) {
        f->cfg.aen = DEFAULT_AEN;
    }
    /* a draw of 32 bits fires below p * 2^32; p = 1 always fires */
    f->threshold = (uint64_t)(cfg->probability * 4294967296.0);
    f->id = ft->next_id++;
    f->active = true;
    f->what = describe_what(&f->cfg);
    f->desc = describe(&f->cfg, f->what);
    g_ptr_array_add(ft->faults, f);
    update_points(t);
    trace_nvmet_fault_add(f->id, f->desc);
    nvmet_unlock(t);
    return f->id;
}

static bool fault_del(NvmetTarget *t, uint32_t id, bool force, GError **errp)
{
    NvmetFaultTable *ft = t->faults;

    for (unsigned i = 0; ft && i < ft->faults->len; i++) {
        NvmetFault *f = g_ptr_array_index(ft->faults, i);

        if (f->id != id) {
            continue;
        }
        if (f->cfg.owner && !force) {
            return bad(errp, "fault %u belongs to %s", id, f->cfg.owner);
        }
        trace_nvmet_fault_del(id, f->matches, f->hits);
        g_ptr_array_remove_index(ft->faults, i);
        fault_free(f);
        update_points(t);
        return true;
    }
    return bad(errp, "no fault %u", id);
}

bool nvmet_fault_del(NvmetTarget *t, uint32_t id, bool force, GError **errp)
{
    bool ok;

    nvmet_lock(t);
    ok = fault_del(t, id, force, errp);
    nvmet_unlock(t);
    return ok;
}

void nvmet_fault_foreach(NvmetTarget *t,
                         void (*fn)(const NvmetFaultInfo *info, void *opaque),
                         void *opaque)
{
    NvmetFaultTable *ft;

    nvmet_lock(t);
    ft = t->faults;
    for (unsigned i = 0; ft && i < ft->faults->len; i++) {
        NvmetFault *f = g_ptr_array_index(ft->faults, i);
        NvmetFaultInfo info = {
            .id = f->id,
            .point = f->cfg.point,
            .action = f->cfg.action,
            .description = f->desc,
            .owner = f->cfg.owner,
            .matches = f->matches,
            .hits = f->hits,
            .active = f->active,
        };

        fn(&info, opaque);
    }
    nvmet_unlock(t);
}

/* ---- firing -------------------------------------------------------------- */

/* Fill in from the queue what the step did not say itself. */
static void ctx_resolve(NvmetSq *sq, const NvmetFaultCtx *in,
                        NvmetFaultCtx *c)
{
    static const NvmetFaultCtx none;

    *c = in ? *in : none;
    if (sq->ctrl) {
        if (!c->subnqn && !c->hostnqn) {
            c->subnqn = sq->ctrl->subnqn;
            c->hostnqn = sq->ctrl->hostnqn;
        }
        if (!c->has_cntlid) {
            c->has_cntlid = true;
            c->cntlid = sq->ctrl->cntlid;
        }
        if (!c->has_qid) {
            c->has_qid = true;
            c->qid = sq->qid;
        }
    } else if (!c->subnqn && !c->hostnqn && sq->tls.hostnqn) {
        /* a TLS connection before Connect: what its PSK identity names */
        c->subnqn = sq->tls.subnqn;
        c->hostnqn = sq->tls.hostnqn;
    }
}

static bool str_match(const char *want, const char *have)
{
    return !want || (have && g_str_equal(want, have));
}

static bool fault_match(const NvmetFault *f, const NvmetFaultCtx *c)
{
    const NvmetFaultConfig *k = &f->cfg;

    if (!str_match(k->subnqn, c->subnqn) ||
        !str_match(k->hostnqn, c->hostnqn) ||
        (k->has_cntlid && (!c->has_cntlid || c->cntlid != k->cntlid)) ||
        (k->has_qid && (!c->has_qid || c->qid != k->qid)) ||
        (k->queue == NVMET_FAULT_QUEUE_ADMIN && (!c->has_qid || c->qid)) ||
        (k->queue == NVMET_FAULT_QUEUE_IO && (!c->has_qid || !c->qid)) ||
        (k->has_opcode && (!c->has_cmd || c->opcode != k->opcode)) ||
        (k->has_sc_c && (!c->has_sc_c || c->sc_c != k->sc_c))) {
        return false;
    }
    /* the action must be possible this time */
    switch (k->action) {
    case NVMET_FA_CORRUPT_HDGST:
        return c->hdgst;
    case NVMET_FA_CORRUPT_DDGST:
        return c->ddgst;
    case NVMET_FA_FORGET_TLS_KEY:
        return c->tls_key;
    default:
        return true;
    }
}

/* Does this match fire?  Draws from the queue's fault stream for chances. */
static bool fault_decide(NvmetSq *sq, NvmetFault *f)
{
    uint8_t b[4];

    switch (f->cfg.when) {
    case NVMET_FAULT_NTH:
        return f->matches == f->cfg.count;
    case NVMET_FAULT_PROBABILITY:
        nvmet_sq_random(sq, "nvmet-tcp fault", &sq->fault_draws, b,
                        sizeof(b));
        return nvmet_ld32(b) < f->threshold;
    default:
        return true;
    }
}

static bool fault_still_active(const NvmetFault *f)
{
    switch (f->cfg.when) {
    case NVMET_FAULT_NEXT:
        return f->hits < f->cfg.count;
    case NVMET_FAULT_NTH:
        return !f->hits;
    default:
        return !f->cfg.max_hits || f->hits < f->cfg.max_hits;
    }
}

static void fault_report(NvmetSq *sq, const NvmetFault *f,
                         const NvmetFaultCtx *c)
{
    const char *step = points[f->cfg.point].name;
    g_autofree char *subject = c->has_cmd ?
        g_strdup_printf(" (cid %u opcode 0x%02x)", c->cid, c->opcode) :
        g_strdup("");
    g_autofree char *why = g_strdup_printf("fault %u at %s%s: %s", f->id,
                                           step, subject, f->what);
    NvmetEvent ev = {
        .type = NVMET_EVENT_FAULT,
        .reason = why,
        .u.fault.id = f->id,
        .u.fault.point = f->cfg.point,
        .u.fault.action = f->cfg.action,
        .u.fault.step = step,
        .u.fault.action_name = act_names[f->cfg.action],
    };

    trace_nvmet_fault_fired(sq->name, f->id, step, subject, f->what,
                            f->hits);
    nvmet_event_sq(sq, &ev);
}

static bool fault_check(NvmetSq *sq, uint64_t pts, const NvmetFaultCtx *in,
                        NvmetFaultHit *hit)
{
    NvmetTarget *t = sq->t;
    NvmetFaultCtx c;

    nvmet_assert_locked(t);
    if (!(t->fault_points & pts)) {
        return false;
    }
    ctx_resolve(sq, in, &c);
    for (unsigned i = 0; i < t->faults->faults->len; i++) {
        NvmetFault *f = g_ptr_array_index(t->faults->faults, i);

        if (!f->active || !(pts & (UINT64_C(1) << f->cfg.point)) ||
            !fault_match(f, &c)) {
            continue;
        }
        f->matches++;
        if (!fault_decide(sq, f)) {
            continue;
        }
        f->hits++;
        f->active = fault_still_active(f);
        if (!f->active) {
            update_points(t);
        }
        *hit = (NvmetFaultHit) {
            .id = f->id,
            .point = f->cfg.point,
            .action = f->cfg.action,
            .after_response = f->cfg.after_response,
            .reason = f->cfg.reason,
            .alert = f->cfg.alert,
            .status = f->cfg.status,
            .fes = f->cfg.fes,
            .fei = f->cfg.fei,
            .delay_ms = f->cfg.delay_ms,
            .aen = f->cfg.aen,
        };
        fault_report(sq, f, &c);
        return true;
    }
    return false;
}

bool nvmet_fault_at(NvmetSq *sq, NvmetFaultPoint p, const NvmetFaultCtx *ctx,
                    NvmetFaultHit *hit)
{
    bool fired;

    if (!nvmet_fault_armed(sq->t, p)) {
        return false;
    }
    nvmet_lock(sq->t);
    fired = fault_check(sq, UINT64_C(1) << p, ctx, hit);
    nvmet_unlock(sq->t);
    return fired;
}

/* ---- commands ------------------------------------------------------------ */

/* An NQN of the connect data, if it is a proper one */
static const char *connect_nqn(const uint8_t *field, char *out)
{
    size_t len = strnlen((const char *)field, NVME_NQN_FIELD_LEN);

    if (!len || len == NVME_NQN_FIELD_LEN) {
        return NULL;
    }
    memcpy(out, field, len);
    out[len] = 0;
    return out;
}

/* Connect: no controller yet; the names and numbers it asks for */
static uint64_t connect_points(NvmetReq *req, NvmetFaultCtx *c, char *sub,
                               char *host)
{
    const uint8_t *d = req->buf;
    uint16_t qid = nvmet_ld16(req->sqe + NVME_CONNECT_QID);

    c->has_qid = true;
    c->qid = qid;
    if (d && req->data_len == NVME_CONNECT_DATA_LEN) {
        c->subnqn = connect_nqn(d + NVME_CONNECT_DATA_SUBNQN, sub);
        c->hostnqn = connect_nqn(d + NVME_CONNECT_DATA_HOSTNQN, host);
        if (qid) {
            c->has_cntlid = true;
            c->cntlid = nvmet_ld16(d + NVME_CONNECT_DATA_CNTLID);
        }
    }
    return qid ? PT(CONNECT_IO) : PT(CONNECT_ADMIN);
}

/* Property Set: which changes of CC it makes */
static uint64_t prop_set_points(NvmetReq *req)
{
    NvmetCtrl *ctrl = req->sq->ctrl;
    uint64_t pts = PT(PROPERTY_SET);
    uint32_t cc = nvmet_ld64(req->sqe + NVME_PROP_VALUE);

    if (!ctrl || nvmet_sqe_dw(req, NVME_PROP_OFFSET) != NVME_REG_CC) {
        return pts;
    }
    if ((cc & NVME_CC_EN) && !(ctrl->cc & NVME_CC_EN)) {
        pts |= PT(CC_ENABLE);
    } else if (!(cc & NVME_CC_EN) && (ctrl->cc & NVME_CC_EN)) {
        pts |= PT(CC_DISABLE);
    }
    if ((cc & NVME_CC_SHN_MASK) && !(ctrl->cc & NVME_CC_SHN_MASK)) {
        pts |= PT(SHUTDOWN);
    }
    return pts;
}

/* Authentication Send: the message it carries */
static uint64_t auth_send_points(NvmetReq *req, NvmetFaultCtx *c)
{
    NvmetSqAuth *a = &req->sq->auth;
    const uint8_t *m = req->buf;
    uint8_t type, id;

    if (!m || !req->h2c || req->data_len <= NVME_AUTH_ID) {
        return 0;
    }
    type = m[NVME_AUTH_TYPE];
    id = m[NVME_AUTH_ID];
    c->has_sc_c = a->tid_valid;
    c->sc_c = a->sc_c;
    if (type == NVME_AUTH_COMMON_MESSAGES) {
        if (id == NVME_AUTH_MSG_NEGOTIATE) {
            /* a new transaction, with its own SC_C */
            c->has_sc_c = req->data_len > NVME_AUTH_NEG_SC_C;
            c->sc_c = c->has_sc_c ? m[NVME_AUTH_NEG_SC_C] : 0;
            return PT(AUTH_NEGOTIATE);
        }
        return id == NVME_AUTH_MSG_FAILURE2 ? PT(AUTH_FAILURE2) : 0;
    }
    if (type == NVME_AUTH_DHCHAP_MESSAGES) {
        if (id == NVME_AUTH_MSG_REPLY) {
            return PT(AUTH_REPLY);
        }
        if (id == NVME_AUTH_MSG_SUCCESS2) {
            return PT(AUTH_SUCCESS2);
        }
    }
    return 0;
}

/* Authentication Receive: the message that is due */
static uint64_t auth_recv_points(NvmetReq *req, NvmetFaultCtx *c)
{
    NvmetSqAuth *a = &req->sq->auth;

    c->has_sc_c = a->tid_valid;
    c->sc_c = a->sc_c;
    switch (a->step) {
    case AUTH_STEP_CHALLENGE:
        return PT(AUTH_CHALLENGE);
    case AUTH_STEP_SUCCESS1:
        return PT(AUTH_SUCCESS1);
    default:
        return 0;
    }
}

static uint64_t cmd_points(NvmetReq *req, NvmetFaultCtx *c, char *sub,
                           char *host)
{
    NvmetSq *sq = req->sq;

    c->has_cmd = true;
    c->opcode = req->opc;
    c->cid = req->cid;
    if (req->opc == NVME_FABRICS_COMMAND) {
        switch (req->sqe[NVME_SQE_FCTYPE]) {
        case NVME_FCTYPE_CONNECT:
            return connect_points(req, c, sub, host);
        case NVME_FCTYPE_PROP_GET:
            return PT(PROPERTY_GET);
        case NVME_FCTYPE_PROP_SET:
            return prop_set_points(req);
        case NVME_FCTYPE_AUTH_SEND:
            return auth_send_points(req, c);
        case NVME_FCTYPE_AUTH_RECV:
            return auth_recv_points(req, c);
        default:
            return 0;
        }
    }
    if (!sq->ctrl) {
        return 0;
    }
    if (sq->qid) {
        return PT(IO_CMD);
    }
    return PT(ADMIN_CMD) |
           (req->opc == NVME_ADM_KEEP_ALIVE ? PT(KEEP_ALIVE) : 0);
}

bool nvmet_fault_cmd_check(NvmetReq *req)
{
    NvmetFaultCtx c = { 0 };
    char sub[NVME_NQN_FIELD_LEN], host[NVME_NQN_FIELD_LEN];
    uint64_t pts;
    bool fired;

    if (!(nvmet_fault_points(req->sq->t) & CMD_POINTS)) {
        return false;
    }
    nvmet_lock(req->sq->t);
    pts = cmd_points(req, &c, sub, host);
    fired = pts && fault_check(req->sq, pts, &c, &req->fault);
    nvmet_unlock(req->sq->t);
    return fired;
}

bool nvmet_fault_auth_failure(NvmetReq *req, uint8_t *reason)
{
    switch (req->fault.id ? req->fault.action : NVMET_FA__MAX) {
    case NVMET_FA_AUTH_FAILURE:
        *reason = req->fault.reason;
        return true;
    case NVMET_FA_REFUSE_REPLACE:
        *reason = NVME_AUTH_FAIL_CONCAT_MISMATCH;
        return true;
    default:
        return false;
    }
}

/* ---- delays -------------------------------------------------------------- */

/* Later deadlines after earlier ones; equal ones in the order they came. */
static gint deferred_cmp(gconstpointer a, gconstpointer b)
{
    const NvmetFaultDeferred *x = a, *y = b;

    return x->deadline >= y->deadline ? 1 : -1;
}

static void update_deadline(NvmetTarget *t)
{
    NvmetFaultTable *ft = t->faults;

    t->fault_deadline = ft && ft->deferred ?
        ((NvmetFaultDeferred *)ft->deferred->data)->deadline : INT64_MAX;
}

void nvmet_fault_defer(NvmetSq *sq, const NvmetFaultHit *hit,
                       NvmetFaultResume *fn, void *arg)
{
    NvmetTarget *t = sq->t;
    NvmetFaultTable *ft;
    NvmetFaultDeferred *d = g_new0(NvmetFaultDeferred, 1);

    nvmet_lock(t);
    ft = fault_table(t);
    d->sq = sq;
    d->deadline = nvmet_now(t) + hit->delay_ms;
    d->id = hit->id;
    d->point = hit->point;
    d->fn = fn;
    d->arg = arg;
    ft->deferred = g_list_insert_sorted(ft->deferred, d, deferred_cmp);
    update_deadline(t);
    /*
     * As nvmet_update_timer() does (ctrl.c, which calls into the request
     * core): tell the user when the earliest deadline moved earlier.
     */
    if (t->fault_deadline < t->armed_deadline) {
        t->armed_deadline = t->fault_deadline;
        if (t->ops.timer_update) {
            t->ops.timer_update(t->opaque, t->armed_deadline);
        }
    }
    nvmet_unlock(t);
}

void nvmet_fault_timer(NvmetTarget *t, int64_t now)
{
    NvmetFaultTable *ft = t->faults;

    nvmet_assert_locked(t);
    while (ft && ft->deferred) {
        NvmetFaultDeferred *d = ft->deferred->data;

        if (d->deadline > now) {
            break;
        }
        ft->deferred = g_list_delete_link(ft->deferred, ft->deferred);
        update_deadline(t);
        /* the queue's own thread resumes it: nvmet_fault_sq_resume() */
        ft->due = g_list_append(ft->due, d);
        nvmet_sq_post(d->sq, NVMET_SQ_EV_FAULT, NULL);
    }
}

void nvmet_fault_sq_resume(NvmetSq *sq)
{
    NvmetTarget *t = sq->t;
    NvmetFaultTable *ft;
    GList *mine = NULL;

    nvmet_lock(t);
    ft = t->faults;
    for (GList *l = ft ? ft->due : NULL, *next; l; l = next) {
        NvmetFaultDeferred *d = l->data;

        next = l->next;
        if (d->sq == sq) {
            ft->due = g_list_remove_link(ft->due, l);
            mine = g_list_concat(mine, l);
        }
    }
    nvmet_unlock(t);
    while (mine) {
        NvmetFaultDeferred *d = mine->data;

        mine = g_list_delete_link(mine, mine);
        trace_nvmet_fault_resume(sq->name, d->id, points[d->point].name);
        d->fn(sq, d->arg);
        g_free(d);
    }
}

static GList *cancel_sq(NvmetSq *sq, GList *list)
{
    GList *l = list;

    while (l) {
        GList *next = l->next;
        NvmetFaultDeferred *d = l->data;

        if (d->sq == sq) {
            trace_nvmet_fault_cancel(sq->name, d->id, points[d->point].name);
            list = g_list_delete_link(list, l);
            g_free(d);
        }
        l = next;
    }
    return list;
}

void nvmet_fault_sq_release(NvmetSq *sq)
{
    NvmetFaultTable *ft;

    nvmet_lock(sq->t);
    ft = sq->t->faults;
    if (ft) {
        ft->deferred = cancel_sq(sq, ft->deferred);
        ft->due = cancel_sq(sq, ft->due);
    }
    update_deadline(sq->t);
    nvmet_unlock(sq->t);
}

void nvmet_fault_target_free(NvmetTarget *t)
{
    NvmetFaultTable *ft = t->faults;

    if (!ft) {
        return;
    }
    g_list_free_full(ft->deferred, g_free);
    g_list_free_full(ft->due, g_free);
    for (unsigned i = 0; i < ft->faults->len; i++) {
        fault_free(g_ptr_array_index(ft->faults, i));
    }
    g_ptr_array_free(ft->faults, true);
    g_free(ft);
    t->faults = NULL;
    __atomic_store_n(&t->fault_points, 0, __ATOMIC_RELAXED);
}
