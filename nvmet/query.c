/*
 * NVMe-oF TCP target: QMP queries (query-nvmet, query-nvmet-psks).
 *
 * The configuration comes from the QOM objects, the live state (the
 * controllers, every queue's TLS and DH-HMAC-CHAP state and counters, the
 * generated PSKs) from the engine's inspection functions.  Names and
 * numbers only: the engine never hands out key material, and the secret
 * objects are only named by id.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#include "qemu/osdep.h"
#include "qapi/error.h"
#include "qapi/qapi-commands-nvmet.h"
#include "qemu/timer.h"
#include "qom/object_interfaces.h"
#include "nvmet/proto.h"
#include "nvmet-qemu.h"

/* ---- the objects --------------------------------------------------------- */

typedef struct ObjectsOfType {
    const char *type;
    GPtrArray *objs;
} ObjectsOfType;

static int objects_of_type_cb(Object *obj, void *opaque)
{
    ObjectsOfType *o = opaque;

    if (object_dynamic_cast(obj, o->type) && nvmet_object_ready(obj)) {
        g_ptr_array_add(o->objs, obj);
    }
    return 0;
}

static const char *obj_id(void *obj)
{
    return object_get_canonical_path_component(OBJECT(obj));
}

static gint obj_id_cmp(gconstpointer a, gconstpointer b)
{
    return strcmp(obj_id(*(void **)a), obj_id(*(void **)b));
}

/* The ready objects of @type, sorted by id. */
static GPtrArray *objects_of_type(const char *type)
{
    ObjectsOfType o = { .type = type, .objs = g_ptr_array_new() };

    object_child_foreach(object_get_objects_root(), objects_of_type_cb, &o);
    g_ptr_array_sort(o.objs, obj_id_cmp);
    return o.objs;
}

static NvmetSubsystemObject *subsystem_by_nqn(const char *nqn)
{
    g_autoptr(GPtrArray) subs = objects_of_type(TYPE_NVMET_SUBSYSTEM);

    for (unsigned i = 0; i < subs->len; i++) {
        NvmetSubsystemObject *s = g_ptr_array_index(subs, i);

        if (g_str_equal(s->nqn, nqn)) {
            return s;
        }
    }
    return NULL;
}

/* ---- ports --------------------------------------------------------------- */

static void count_queue_cb(const NvmetQueueInfo *info, void *opaque)
{
    (*(uint32_t *)opaque)++;
}

static NvmetPortInfoList *query_ports(void)
{
    g_autoptr(GPtrArray) ports = objects_of_type(TYPE_NVMET_PORT);
    NvmetPortInfoList *head = NULL, **tail = &head;

    for (unsigned i = 0; i < ports->len; i++) {
        NvmetPortObject *p = g_ptr_array_index(ports, i);
        NvmetPortInfo *info = g_new0(NvmetPortInfo, 1);

        info->id = g_strdup(obj_id(p));
        info->portid = p->portid;
        info->traddr = g_strdup(nvmet_port_traddr(p) ?: "");
        info->trsvcid = g_strdup(nvmet_port_trsvcid(p) ?: "");
        info->tls = p->tls;
        nvmet_port_foreach_queue(p->port, count_queue_cb, &info->connections);
        if (p->port) {
            NvmetPortStats st;

            nvmet_port_get_stats(p->port, &st);
            info->connections_refused = st.connections_refused;
            info->icreq_timeouts = st.icreq_timeouts;
            info->connections_draining = st.draining;
        }
        info->capture = nvmet_capture_info(p);
        QAPI_LIST_APPEND(tail, info);
    }
    return head;
}

/* ---- subsystems ---------------------------------------------------------- */

static void count_ctrl_cb(const NvmetCtrlInfo *info, void *opaque)
{
    NvmetSubsystemInfo *s = opaque;

    if (g_str_equal(info->subnqn, s->nqn)) {
        s->controllers++;
    }
}

static NvmetAllowedHostInfoList *allowed_hosts(NvmetSubsystemObject *s)
{
    g_autoptr(GPtrArray) hosts = objects_of_type(TYPE_NVMET_HOST);
    NvmetAllowedHostInfoList *head = NULL, **tail = &head;

    for (unsigned i = 0; i < hosts->len; i++) {
        NvmetHostObject *h = g_ptr_array_index(hosts, i);
        NvmetAllowedHostInfo *info;

        if (!h->subsys_objs || !g_ptr_array_find(h->subsys_objs, s, NULL)) {
            continue;
        }
        info = g_new0(NvmetAllowedHostInfo, 1);
        info->id = g_strdup(obj_id(h));
        info->nqn = g_strdup(h->nqn);
        info->dhchap = h->dhchap_secret != NULL;
        info->bidirectional = h->dhchap_ctrl_secret != NULL;
        info->tls_psk = h->tls_psk != NULL;
        QAPI_LIST_APPEND(tail, info);
    }
    return head;
}

typedef struct NsListBuild {
    NvmetNamespaceInfoList *head, **tail;
} NsListBuild;

static void namespace_info(void *opaque, const char *export_id,
                           const char *node_name, NvmetNs *ns)
{
    NsListBuild *b = opaque;
    const NvmetNsConfig *cfg = nvmet_ns_config(ns);
    NvmetNamespaceInfo *info = g_new0(NvmetNamespaceInfo, 1);

    /* the export's id: the nvmet-namespace object's, if it made it */
    info->id = g_strdup(export_id);
    info->nsid = cfg->nsid;
    info->node_name = g_strdup(node_name);
    info->size = cfg->size;
    info->block_size = cfg->block_size;
    info->read_only = cfg->read_only;
    QAPI_LIST_APPEND(b->tail, info);
}

static NvmetNamespaceInfoList *namespaces(NvmetSubsystemObject *s)
{
    NsListBuild b = { .head = NULL, .tail = &b.head };

    nvmet_subsystem_object_foreach_ns(s, namespace_info, &b);
    return b.head;
}

static NvmetSubsystemInfoList *query_subsystems(const char *subnqn)
{
    g_autoptr(GPtrArray) subs = objects_of_type(TYPE_NVMET_SUBSYSTEM);
    g_autoptr(GPtrArray) ports = objects_of_type(TYPE_NVMET_PORT);
    NvmetSubsystemInfoList *head = NULL, **tail = &head;
    NvmetTarget *t = nvmet_qemu_target();
    NvmetSubsystemInfo *info;

    for (unsigned i = 0; i < subs->len; i++) {
        NvmetSubsystemObject *s = g_ptr_array_index(subs, i);
        strList **ptail;

        if (subnqn && !g_str_equal(subnqn, s->nqn)) {
            continue;
        }
        info = g_new0(NvmetSubsystemInfo, 1);
        info->id = g_strdup(obj_id(s));
        info->nqn = g_strdup(s->nqn);
        ptail = &info->ports;
        for (unsigned j = 0; s->port_objs && j < s->port_objs->len; j++) {
            QAPI_LIST_APPEND(ptail,
                             g_strdup(obj_id(g_ptr_array_index(s->port_objs,
                                                               j))));
        }
        info->allow_any_host = s->allow_any_host;
        info->allowed_hosts = allowed_hosts(s);
        info->namespaces = namespaces(s);
        nvmet_target_foreach_ctrl(t, count_ctrl_cb, info);
        QAPI_LIST_APPEND(tail, info);
    }
    /* the discovery subsystem: on every port, for every host */
    if (!subnqn || g_str_equal(subnqn, NVME_DISC_SUBSYS_NAME)) {
        strList **ptail;

        info = g_new0(NvmetSubsystemInfo, 1);
        info->nqn = g_strdup(NVME_DISC_SUBSYS_NAME);
        ptail = &info->ports;
        for (unsigned j = 0; j < ports->len; j++) {
            QAPI_LIST_APPEND(ptail,
                             g_strdup(obj_id(g_ptr_array_index(ports, j))));
        }
        info->allow_any_host = true;
        nvmet_target_foreach_ctrl(t, count_ctrl_cb, info);
        QAPI_LIST_APPEND(tail, info);
    }
    return head;
}

/* ---- controllers and queues ---------------------------------------------- */

static NvmetQueueTlsInfo *queue_tls(const NvmetQueueInfo *q)
{
    NvmetQueueTlsInfo *tls = g_new0(NvmetQueueTlsInfo, 1);

    tls->psk = !q->tls ? NVMET_TLS_PSK_KIND_NONE :
               q->tls_generated ? NVMET_TLS_PSK_KIND_GENERATED :
               NVMET_TLS_PSK_KIND_CONFIGURED;
    if (q->tls) {
        tls->identity = g_strdup(q->tls_identity);
        tls->has_key_serial = true;
        tls->key_serial = q->tls_key_serial;
        tls->cipher = g_strdup(q->tls_cipher);
        tls->key_exchange = g_strdup(q->tls_kx);
        tls->version = g_strdup(q->tls_version);
    }
    tls->holds_key = q->tls_has_key;
    return tls;
}

static NvmetQueueAuthInfo *queue_auth(const NvmetQueueInfo *q)
{
    NvmetQueueAuthInfo *auth = g_new0(NvmetQueueAuthInfo, 1);

    auth->required = q->auth_required;
    auth->authenticated = q->authenticated;
    /* the same steps in the same order */
    QEMU_BUILD_BUG_ON((int)NVMET_AUTH_STATE_FAILURE1 !=
                      (int)NVMET_AUTH_STEP_FAILURE1 ||
                      (int)NVMET_AUTH_STATE__MAX !=
                      (int)NVMET_AUTH_STEP_FAILURE1 + 1);
    auth->state = (NvmetAuthState)q->auth_step;
    auth->has_transaction_id = q->auth_has_tid;
    auth->transaction_id = q->auth_tid;
    auth->has_hash = q->auth_count && nvmet_qapi_hash(q->auth_hash,
                                                      &auth->hash);
    auth->has_dhgroup = auth->has_hash &&
                        nvmet_qapi_dhgroup(q->auth_dhgroup, &auth->dhgroup);
    auth->sc_c = nvmet_qapi_concat(q->auth_sc_c);
    auth->bidirectional = q->auth_bidi;
    auth->successes = q->auth_count;
    auth->failures = q->auth_failures;
    auth->key_generation = q->auth_key_generation;
    return auth;
}

static void queue_cb(const NvmetQueueInfo *q, void *opaque)
{
    NvmetQueueStatusList ***tail = opaque;
    NvmetQueueStatus *info = g_new0(NvmetQueueStatus, 1);

    info->qid = q->qid;
    info->peer = g_strdup(q->peer);
    info->sqsize = q->sqsize;
    info->commands_in_flight = q->inflight;
    info->commands = q->cmds;
    info->command_errors = q->cmd_errors;
    info->header_digest = q->hdgst;
    info->data_digest = q->ddgst;
    info->bytes_received = q->bytes_received;
    info->bytes_sent = q->bytes_sent;
    info->pdu_bytes_received = q->pdu_bytes_received;
    info->pdu_bytes_sent = q->pdu_bytes_sent;
    info->capturing = q->capturing;
    info->tls = queue_tls(q);
    info->auth = queue_auth(q);
    QAPI_LIST_APPEND(*tail, info);
}

typedef struct CtrlQuery {
    const char *subnqn;         /* filters: NULL, or the subsystem */
    bool has_cntlid;
    uint16_t cntlid;
    NvmetControllerInfoList *head, **tail;
} CtrlQuery;

static void ctrl_cb(const NvmetCtrlInfo *c, void *opaque)
{
    CtrlQuery *cq = opaque;
    NvmetControllerInfo *info;
    NvmetSubsystemObject *s;
    NvmetPortObject *p;
    NvmetQueueStatusList **qtail;

    if ((cq->subnqn && !g_str_equal(cq->subnqn, c->subnqn)) ||
        (cq->has_cntlid && cq->cntlid != c->cntlid)) {
        return;
    }
    info = g_new0(NvmetControllerInfo, 1);
    info->subnqn = g_strdup(c->subnqn);
    s = c->discovery ? NULL : subsystem_by_nqn(c->subnqn);
    info->subsystem = s ? g_strdup(obj_id(s)) : NULL;
    info->cntlid = c->cntlid;
    info->hostnqn = g_strdup(c->hostnqn);
    p = nvmet_port_object_by_engine(c->port);
    info->port = p ? g_strdup(obj_id(p)) : NULL;
    info->discovery = c->discovery;
    info->enabled = c->cc_en;
    info->ready = c->enabled;
    info->fatal = c->fatal;
    info->shutdown = c->shst == 2 ? NVMET_SHUTDOWN_STATE_COMPLETE :
                     c->shst == 1 ? NVMET_SHUTDOWN_STATE_OCCURRING :
                     NVMET_SHUTDOWN_STATE_NONE;
    info->kato = c->kato_ms;
    info->io_queues = c->max_io_queues;
    qtail = &info->queues;
    nvmet_target_ctrl_queues(nvmet_qemu_target(), c->subnqn, c->cntlid,
                             queue_cb, &qtail);
    QAPI_LIST_APPEND(cq->tail, info);
}

/* ---- query-nvmet --------------------------------------------------------- */

NvmetInfo *qmp_query_nvmet(const char *subsystem, bool has_cntlid,
                           uint16_t cntlid, Error **errp)
{
    NvmetTarget *t = nvmet_qemu_target();
    CtrlQuery cq = { .has_cntlid = has_cntlid, .cntlid = cntlid };
    NvmetInfo *info;

    if (subsystem) {
        Object *obj = object_resolve_path_component(object_get_objects_root(),
                                                    subsystem);

        if (obj && object_dynamic_cast(obj, TYPE_NVMET_SUBSYSTEM) &&
            nvmet_object_ready(obj)) {
            cq.subnqn = NVMET_SUBSYSTEM(obj)->nqn;
        } else if (g_str_equal(subsystem, NVME_DISC_SUBSYS_NAME) ||
                   subsystem_by_nqn(subsystem)) {
            cq.subnqn = subsystem;
        } else {
            error_setg(errp, "'%s' is neither an nvmet-subsystem nor the NQN "
                       "of a subsystem", subsystem);
            return NULL;
        }
    }
    cq.tail = &cq.head;
    nvmet_target_foreach_ctrl(t, ctrl_cb, &cq);
    if (has_cntlid && !cq.head) {
        if (subsystem) {
            error_setg(errp, "subsystem '%s' has no controller %u", subsystem,
                       cntlid);
        } else {
            error_setg(errp, "no controller has ID %u", cntlid);
        }
        return NULL;
    }
    info = g_new0(NvmetInfo, 1);
    info->ports = query_ports();
    info->subsystems = query_subsystems(cq.subnqn);
    info->controllers = cq.head;
    info->events_suppressed = nvmet_events_suppressed();
    return info;
}

/* ---- query-nvmet-psks ---------------------------------------------------- */

typedef struct PskQuery {
    int64_t mono_now, wall_now;     /* ms */
    NvmetPskInfoList *head, **tail;
} PskQuery;

static void psk_cb(const NvmetGenPskInfo *g, void *opaque)
{
    PskQuery *pq = opaque;
    NvmetPskInfo *info = g_new0(NvmetPskInfo, 1);

    info->hostnqn = g_strdup(g->hostnqn);
    info->subnqn = g_strdup(g->subnqn);
    info->identity = g_strdup(g->identity);
    nvmet_qapi_hash(g->hash, &info->hash);
    info->key_serial = g->key_serial;
    info->made_by = nvmet_qapi_concat(g->sc_c);
    info->cntlid = g->cntlid;
    info->replaced = g->replaced;
    /* the engine's clock is QEMU_CLOCK_REALTIME (monotonic) */
    info->generated = pq->wall_now - (pq->mono_now - g->generated_ms);
    info->expires = pq->wall_now + (g->expires_ms - pq->mono_now);
    QAPI_LIST_APPEND(pq->tail, info);
}

NvmetPskInfoList *qmp_query_nvmet_psks(Error **errp)
{
    PskQuery pq = {
        .mono_now = qemu_clock_get_ms(QEMU_CLOCK_REALTIME),
        .wall_now = g_get_real_time() / 1000,
    };

    pq.tail = &pq.head;
    nvmet_target_foreach_gen_psk(nvmet_qemu_target(), psk_cb, &pq);
    return pq.head;
}
