/*
 * NVMe-oF TCP target: fault injection from QMP and the command line.
 *
 *   -object nvmet-fault,id=f1,step=io-cmd,opcode=1,nth=10,action=drop
 *   { "execute": "nvmet-fault-add",
 *     "arguments": { "step": "io-cmd", "opcode": 1, "nth": 10,
 *                    "action": "drop" } }
 *
 * The engine (nvmet/engine/fault.c) checks and keeps the faults; this file
 * turns the QAPI specification (NvmetFaultSpec, qapi/nvmet.json) into the
 * engine's, implements the QMP commands nvmet-fault-add, nvmet-fault-del
 * and query-nvmet-faults, the nvmet-fault object, and the NVMET_FAULT_FIRED
 * event.  The QAPI enums NvmetFaultStep and NvmetFaultAction are the
 * engine's NvmetFaultPoint and NvmetFaultAct, in the same order.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#include "qemu/osdep.h"
#include "qapi/error.h"
#include "qapi/visitor.h"
#include "qapi/qapi-commands-nvmet.h"
#include "qapi/qapi-events-nvmet.h"
#include "qapi/qapi-visit-nvmet.h"
#include "qom/object_interfaces.h"
#include "nvmet/fault.h"
#include "nvmet/proto.h"
#include "nvmet-qemu.h"

QEMU_BUILD_BUG_ON((int)NVMET_FAULT_STEP__MAX != (int)NVMET_FP__MAX);
QEMU_BUILD_BUG_ON((int)NVMET_FAULT_ACTION__MAX != (int)NVMET_FA__MAX);

/* the RFC 8446 numbers of NvmetTlsAlert */
static const uint8_t nvmet_tls_alerts[NVMET_TLS_ALERT__MAX] = {
    [NVMET_TLS_ALERT_CLOSE_NOTIFY] = 0,
    [NVMET_TLS_ALERT_UNEXPECTED_MESSAGE] = 10,
    [NVMET_TLS_ALERT_BAD_RECORD_MAC] = 20,
    [NVMET_TLS_ALERT_RECORD_OVERFLOW] = 22,
    [NVMET_TLS_ALERT_HANDSHAKE_FAILURE] = 40,
    [NVMET_TLS_ALERT_BAD_CERTIFICATE] = 42,
    [NVMET_TLS_ALERT_UNSUPPORTED_CERTIFICATE] = 43,
    [NVMET_TLS_ALERT_CERTIFICATE_REVOKED] = 44,
    [NVMET_TLS_ALERT_CERTIFICATE_EXPIRED] = 45,
    [NVMET_TLS_ALERT_CERTIFICATE_UNKNOWN] = 46,
    [NVMET_TLS_ALERT_ILLEGAL_PARAMETER] = 47,
    [NVMET_TLS_ALERT_UNKNOWN_CA] = 48,
    [NVMET_TLS_ALERT_ACCESS_DENIED] = 49,
    [NVMET_TLS_ALERT_DECODE_ERROR] = 50,
    [NVMET_TLS_ALERT_DECRYPT_ERROR] = 51,
    [NVMET_TLS_ALERT_PROTOCOL_VERSION] = 70,
    [NVMET_TLS_ALERT_INSUFFICIENT_SECURITY] = 71,
    [NVMET_TLS_ALERT_INTERNAL_ERROR] = 80,
    [NVMET_TLS_ALERT_INAPPROPRIATE_FALLBACK] = 86,
    [NVMET_TLS_ALERT_USER_CANCELED] = 90,
    [NVMET_TLS_ALERT_MISSING_EXTENSION] = 109,
    [NVMET_TLS_ALERT_UNSUPPORTED_EXTENSION] = 110,
    [NVMET_TLS_ALERT_UNRECOGNIZED_NAME] = 112,
    [NVMET_TLS_ALERT_BAD_CERTIFICATE_STATUS_RESPONSE] = 113,
    [NVMET_TLS_ALERT_UNKNOWN_PSK_IDENTITY] = 115,
    [NVMET_TLS_ALERT_CERTIFICATE_REQUIRED] = 116,
    [NVMET_TLS_ALERT_NO_APPLICATION_PROTOCOL] = 120,
};

/* fault ID -> id of the nvmet-fault object that armed it (events lock) */
static GHashTable *nvmet_fault_objects;

static const char *nvmet_fault_object_of(uint32_t id)
{
    return nvmet_fault_objects ?
           g_hash_table_lookup(nvmet_fault_objects, GUINT_TO_POINTER(id)) :
           NULL;
}

/* ---- QAPI specification -> engine configuration ------------------------- */

/* The QAPI enums must name the engine's steps and actions, in order. */
static void nvmet_fault_check_names(void)
{
    static bool checked;

    if (checked) {
        return;
    }
    for (int i = 0; i < NVMET_FAULT_STEP__MAX; i++) {
        g_assert(g_str_equal(NvmetFaultStep_str(i),
                             nvmet_fault_point_name(i)));
    }
    for (int i = 0; i < NVMET_FAULT_ACTION__MAX; i++) {
        g_assert(g_str_equal(NvmetFaultAction_str(i),
                             nvmet_fault_act_name(i)));
    }
    checked = true;
}

/* "0.25" or "25%" */
static bool nvmet_fault_probability(const char *str, double *p, Error **errp)
{
    char *end;
    double v = g_ascii_strtod(str, &end);

    if (end == str) {
        goto bad;
    }
    if (*end == '%') {
        v /= 100;
        end++;
    }
    if (*end) {
        goto bad;
    }
    *p = v;
    return true;

bad:
    error_setg(errp, "'probability' must be a number such as 0.25, or a "
               "percentage such as 25%%, not '%s'", str);
    return false;
}

static bool nvmet_fault_when(const NvmetFaultSpec *s, NvmetFaultConfig *c,
                             Error **errp)
{
    if (s->has_nth + s->has_next + s->has_every + !!s->probability > 1) {
        error_setg(errp, "give at most one of 'nth', 'next', 'every' and "
                   "'probability'");
        return false;
    }
    c->when = NVMET_FAULT_NEXT;
    if (s->has_nth) {
        if (!s->nth) {
            error_setg(errp, "'nth' counts from 1");
            return false;
        }
        c->when = NVMET_FAULT_NTH;
        c->count = s->nth;
    } else if (s->has_next) {
        if (!s->next) {
            error_setg(errp, "'next' counts from 1");
            return false;
        }
        c->count = s->next;
    } else if (s->has_every && s->every) {
        c->when = NVMET_FAULT_EVERY;
    } else if (s->probability) {
        c->when = NVMET_FAULT_PROBABILITY;
        if (!nvmet_fault_probability(s->probability, &c->probability,
                                     errp)) {
            return false;
        }
    }
    c->max_hits = s->has_max_hits ? s->max_hits : 0;
    if (s->has_max_hits && !s->max_hits) {
        error_setg(errp, "'max-hits' must be at least 1");
        return false;
    }
    return true;
}

static bool nvmet_fault_where(const NvmetFaultSpec *s, NvmetFaultConfig *c,
                              Error **errp)
{
    c->point = (NvmetFaultPoint)s->step;
    c->subnqn = s->subsystem;
    c->hostnqn = s->host;
    c->has_cntlid = s->has_cntlid;
    c->cntlid = s->cntlid;
    c->has_qid = s->has_qid;
    c->qid = s->qid;
    c->queue = s->has_queue ? (NvmetFaultQueue)s->queue :
               NVMET_FAULT_QUEUE_ANY;
    c->has_opcode = s->has_opcode;
    c->opcode = s->opcode;
    if (s->has_sc_c) {
        c->has_sc_c = true;
        switch (s->sc_c) {
        case NVMET_AUTH_CONCAT_NONE:
            c->sc_c = NVME_AUTH_SECP_NOSC;
            break;
        case NVMET_AUTH_CONCAT_NEWTLSPSK:
            c->sc_c = NVME_AUTH_SECP_NEWTLSPSK;
            break;
        case NVMET_AUTH_CONCAT_REPLACETLSPSK:
            c->sc_c = NVME_AUTH_SECP_REPLACETLSPSK;
            break;
        default:
            error_setg(errp, "'sc-c' must be none, newtlspsk or "
                       "replacetlspsk");
            return false;
        }
    }
    return true;
}

static bool nvmet_fault_what(const NvmetFaultSpec *s, NvmetFaultConfig *c,
                             Error **errp)
{
    c->action = (NvmetFaultAct)s->action;
    if (s->has_sct || s->has_sc || s->has_dnr || s->has_more) {
        if (!s->has_sc) {
            error_setg(errp, "a status needs 'sc' (and 'sct' unless it is "
                       "0, generic)");
            return false;
        }
        if (s->sct > 7) {
            error_setg(errp, "'sct' %u is not a status code type (0 to 7)",
                       s->sct);
            return false;
        }
        c->has_status = true;
        c->status = s->sct << 8 | s->sc |
                    (s->has_dnr && s->dnr ? NVME_STATUS_DNR : 0) |
                    (s->has_more && s->more ? NVME_STATUS_MORE : 0);
    }
    if (s->has_reason) {
        if (s->reason == NVMET_AUTH_FAILURE_REASON_UNKNOWN) {
            error_setg(errp, "'reason' must be a reason code explanation "
                       "of the specification");
            return false;
        }
        c->has_reason = true;
        c->reason = NVME_AUTH_FAIL_FAILED + s->reason;
    }
    c->has_alert = s->has_alert;
    c->alert = s->has_alert ? nvmet_tls_alerts[s->alert] : 0;
    c->has_delay_ms = s->has_delay_ms;
    c->delay_ms = s->delay_ms;
    c->after_response = s->has_after_response && s->after_response;
    c->has_fes = s->has_fes;
    c->fes = s->fes;
    c->has_fei = s->has_fei;
    c->fei = s->fei;
    if (s->has_aen_type || s->has_aen_info || s->has_aen_log_page) {
        uint8_t type = s->has_aen_type ? s->aen_type : NVME_AER_TYPE_NOTICE;

        if (type > 7) {
            error_setg(errp, "'aen-type' %u is not an asynchronous event "
                       "type (0 to 7)", type);
            return false;
        }
        c->has_aen = true;
        c->aen = type | (s->has_aen_info ? s->aen_info : 0) << 8 |
                 (s->has_aen_log_page ? s->aen_log_page :
                  NVME_LOG_CHANGED_NS) << 16;
    }
    return true;
}

/* Arm a fault; its ID, or 0 with @errp set (and nothing armed). */
static uint32_t nvmet_qemu_fault_add(const NvmetFaultSpec *s,
                                     const char *owner, Error **errp)
{
    NvmetFaultConfig c = { .owner = owner };
    g_autoptr(GError) err = NULL;
    uint32_t id;

    nvmet_fault_check_names();
    if (!nvmet_fault_when(s, &c, errp) || !nvmet_fault_where(s, &c, errp) ||
        !nvmet_fault_what(s, &c, errp)) {
        return 0;
    }
    id = nvmet_fault_add(nvmet_qemu_target(), &c, &err);
    if (!id) {
        error_setg(errp, "%s", err->message);
    }
    return id;
}

/* ---- QMP ---------------------------------------------------------------- */

NvmetFaultId *qmp_nvmet_fault_add(NvmetFaultSpec *arg, Error **errp)
{
    uint32_t id = nvmet_qemu_fault_add(arg, NULL, errp);
    NvmetFaultId *ret;

    if (!id) {
        return NULL;
    }
    ret = g_new0(NvmetFaultId, 1);
    ret->id = id;
    return ret;
}

void qmp_nvmet_fault_del(uint32_t id, Error **errp)
{
    const char *obj = nvmet_fault_object_of(id);
    g_autoptr(GError) err = NULL;

    if (obj) {
        error_setg(errp, "fault %u belongs to nvmet-fault object '%s': "
                   "delete the object (object-del)", id, obj);
        return;
    }
    if (!nvmet_fault_del(nvmet_qemu_target(), id, false, &err)) {
        error_setg(errp, "%s", err->message);
    }
}

static void nvmet_fault_query_cb(const NvmetFaultInfo *info, void *opaque)
{
    NvmetArmedFaultList ***tail = opaque;
    NvmetArmedFault *f = g_new0(NvmetArmedFault, 1);
    const char *obj = nvmet_fault_object_of(info->id);

    f->id = info->id;
    f->object = g_strdup(obj);
    f->owner = obj ? NULL : g_strdup(info->owner);
    f->step = info->point;
    f->action = info->action;
    f->description = g_strdup(info->description);
    f->matches = info->matches;
    f->hits = info->hits;
    f->active = info->active;
    QAPI_LIST_APPEND(*tail, f);
}

NvmetArmedFaultList *qmp_query_nvmet_faults(Error **errp)
{
    NvmetArmedFaultList *list = NULL, **tail = &list;

    nvmet_fault_foreach(nvmet_qemu_target(), nvmet_fault_query_cb, &tail);
    return list;
}

/* The engine's NVMET_EVENT_FAULT (events.c calls this) */
void nvmet_fault_event_send(const NvmetEvent *ev, NvmetEventSource *src)
{
    NvmetFaultEvent e = {
        .id = ev->u.fault.id,
        .object = (char *)nvmet_fault_object_of(ev->u.fault.id),
        .step = ev->u.fault.point,
        .action = ev->u.fault.action,
        .reason = (char *)ev->reason,
    };

    *qapi_NvmetFaultEvent_base(&e) = *src;
    qapi_event_send_nvmet_fault_fired(&e);
}

/* ---- the nvmet-fault object --------------------------------------------- */

#define TYPE_NVMET_FAULT "nvmet-fault"
OBJECT_DECLARE_SIMPLE_TYPE(NvmetFaultObject, NVMET_FAULT)

struct NvmetFaultObject {
    Object parent_obj;
    NvmetFaultSpec spec;        /* the properties */
    bool has_step, has_action;
    uint32_t id;                /* the armed fault, 0: not (yet) */
};

/*
 * The properties are NvmetFaultSpec's members, reached through a table of
 * their offsets: for each, the value and (optional scalars) its has_ flag.
 */
typedef enum NvmetFaultPropKind {
    NVMET_FPROP_STR, NVMET_FPROP_U8, NVMET_FPROP_U16, NVMET_FPROP_U32,
    NVMET_FPROP_BOOL, NVMET_FPROP_ENUM,
} NvmetFaultPropKind;

typedef struct NvmetFaultProp {
    const char *name;
    NvmetFaultPropKind kind;
    const char *type;
    ptrdiff_t has;              /* offset of has_MEMBER, -1: none */
    ptrdiff_t val;
    const QEnumLookup *lookup;
    const char *desc;
} NvmetFaultProp;

#define OFS(m) offsetof(NvmetFaultSpec, m)
#define OPT(n, k, t, m, l, d) { n, k, t, OFS(has_##m), OFS(m), l, d }

static const NvmetFaultProp nvmet_fault_props[] = {
    { "step", NVMET_FPROP_ENUM, "NvmetFaultStep", -1, OFS(step),
      &NvmetFaultStep_lookup, "where: the protocol step" },
    { "subsystem", NVMET_FPROP_STR, "str", -1, OFS(subsystem), NULL,
      "only for this subsystem NQN" },
    { "host", NVMET_FPROP_STR, "str", -1, OFS(host), NULL,
      "only for this host NQN" },
    OPT("cntlid", NVMET_FPROP_U16, "uint16", cntlid, NULL,
        "only for this controller ID"),
    OPT("qid", NVMET_FPROP_U16, "uint16", qid, NULL,
        "only for this queue ID (0: admin queue)"),
    OPT("queue", NVMET_FPROP_ENUM, "NvmetFaultQueueKind", queue,
        &NvmetFaultQueueKind_lookup, "only for admin or io queues"),
    OPT("opcode", NVMET_FPROP_U8, "uint8", opcode, NULL,
        "only for this command opcode"),
    OPT("sc-c", NVMET_FPROP_ENUM, "NvmetAuthConcat", sc_c,
        &NvmetAuthConcat_lookup,
        "only for authentications with this concatenation"),
    OPT("nth", NVMET_FPROP_U32, "uint32", nth, NULL, "when: the Nth match"),
    OPT("next", NVMET_FPROP_U32, "uint32", next, NULL,
        "when: the next N matches"),
    OPT("every", NVMET_FPROP_BOOL, "bool", every, NULL, "when: every match"),
    { "probability", NVMET_FPROP_STR, "str", -1, OFS(probability), NULL,
      "when: each match with this probability (0.25 or 25%)" },
    OPT("max-hits", NVMET_FPROP_U32, "uint32", max_hits, NULL,
        "with every or probability: at most this many times"),
    { "action", NVMET_FPROP_ENUM, "NvmetFaultAction", -1, OFS(action),
      &NvmetFaultAction_lookup, "what the target does" },
    OPT("sct", NVMET_FPROP_U8, "uint8", sct, NULL, "status: status code type"),
    OPT("sc", NVMET_FPROP_U8, "uint8", sc, NULL, "status: status code"),
    OPT("dnr", NVMET_FPROP_BOOL, "bool", dnr, NULL, "status: Do Not Retry"),
    OPT("more", NVMET_FPROP_BOOL, "bool", more, NULL, "status: More"),
    OPT("reason", NVMET_FPROP_ENUM, "NvmetAuthFailureReason", reason,
        &NvmetAuthFailureReason_lookup, "auth-failure: the reason"),
    OPT("alert", NVMET_FPROP_ENUM, "NvmetTlsAlert", alert,
        &NvmetTlsAlert_lookup, "tls-alert: the alert"),
    OPT("delay-ms", NVMET_FPROP_U32, "uint32", delay_ms, NULL,
        "delay: milliseconds"),
    OPT("after-response", NVMET_FPROP_BOOL, "bool", after_response, NULL,
        "close: after the response"),
    OPT("fes", NVMET_FPROP_U16, "uint16", fes, NULL,
        "c2h-term: fatal error status"),
    OPT("fei", NVMET_FPROP_U32, "uint32", fei, NULL,
        "c2h-term: fatal error information"),
    OPT("aen-type", NVMET_FPROP_U8, "uint8", aen_type, NULL,
        "aen: asynchronous event type"),
    OPT("aen-info", NVMET_FPROP_U8, "uint8", aen_info, NULL,
        "aen: asynchronous event information"),
    OPT("aen-log-page", NVMET_FPROP_U8, "uint8", aen_log_page, NULL,
        "aen: log page"),
};

static void nvmet_fault_prop_get(Object *obj, Visitor *v, const char *name,
                                 void *opaque, Error **errp)
{
    const NvmetFaultProp *p = opaque;
    void *val = (char *)&NVMET_FAULT(obj)->spec + p->val;
    char *str;
    int e;

    switch (p->kind) {
    case NVMET_FPROP_STR:
        str = *(char **)val ? *(char **)val : (char *)"";
        visit_type_str(v, name, &str, errp);
        break;
    case NVMET_FPROP_U8:
        visit_type_uint8(v, name, val, errp);
        break;
    case NVMET_FPROP_U16:
        visit_type_uint16(v, name, val, errp);
        break;
    case NVMET_FPROP_U32:
        visit_type_uint32(v, name, val, errp);
        break;
    case NVMET_FPROP_BOOL:
        visit_type_bool(v, name, val, errp);
        break;
    case NVMET_FPROP_ENUM:
        e = *(int *)val;
        visit_type_enum(v, name, &e, p->lookup, errp);
        break;
    }
}

static void nvmet_fault_prop_set(Object *obj, Visitor *v, const char *name,
                                 void *opaque, Error **errp)
{
    NvmetFaultObject *f = NVMET_FAULT(obj);
    const NvmetFaultProp *p = opaque;
    char *base = (char *)&f->spec;
    union {
        char *s;
        uint8_t u8;
        uint16_t u16;
        uint32_t u32;
        bool b;
        int e;
    } u;
    bool ok = false;

    if (f->id) {
        error_setg(errp, "property '%s' of '%s' cannot be changed after "
                   "creation", name, object_get_canonical_path_component(obj));
        return;
    }
    switch (p->kind) {
    case NVMET_FPROP_STR:
        if (visit_type_str(v, name, &u.s, errp)) {
            g_free(*(char **)(base + p->val));
            *(char **)(base + p->val) = u.s;
            ok = true;
        }
        break;
    case NVMET_FPROP_U8:
        ok = visit_type_uint8(v, name, &u.u8, errp);
        if (ok) {
            *(uint8_t *)(base + p->val) = u.u8;
        }
        break;
    case NVMET_FPROP_U16:
        ok = visit_type_uint16(v, name, &u.u16, errp);
        if (ok) {
            *(uint16_t *)(base + p->val) = u.u16;
        }
        break;
    case NVMET_FPROP_U32:
        ok = visit_type_uint32(v, name, &u.u32, errp);
        if (ok) {
            *(uint32_t *)(base + p->val) = u.u32;
        }
        break;
    case NVMET_FPROP_BOOL:
        ok = visit_type_bool(v, name, &u.b, errp);
        if (ok) {
            *(bool *)(base + p->val) = u.b;
        }
        break;
    case NVMET_FPROP_ENUM:
        ok = visit_type_enum(v, name, &u.e, p->lookup, errp);
        if (ok) {
            *(int *)(base + p->val) = u.e;
        }
        break;
    }
    if (!ok) {
        return;
    }
    if (p->has >= 0) {
        *(bool *)(base + p->has) = true;
    } else if (p->val == OFS(step)) {
        f->has_step = true;
    } else if (p->val == OFS(action)) {
        f->has_action = true;
    }
}

static void nvmet_fault_get_id(Object *obj, Visitor *v, const char *name,
                               void *opaque, Error **errp)
{
    visit_type_uint32(v, name, &NVMET_FAULT(obj)->id, errp);
}

static void nvmet_fault_complete(UserCreatable *uc, Error **errp)
{
    ERRP_GUARD();
    NvmetFaultObject *f = NVMET_FAULT(uc);
    const char *id = object_get_canonical_path_component(OBJECT(f));
    g_autofree char *owner = g_strdup_printf("nvmet-fault object '%s'", id);

    if (!f->has_step || !f->has_action) {
        error_setg(errp, "nvmet-fault '%s': property '%s' is required", id,
                   f->has_step ? "action" : "step");
        return;
    }
    f->id = nvmet_qemu_fault_add(&f->spec, owner, errp);
    if (!f->id) {
        error_prepend(errp, "nvmet-fault '%s': ", id);
        return;
    }
    /* NVMET_FAULT_FIRED names the object, from any thread (events.c) */
    nvmet_events_lock();
    if (!nvmet_fault_objects) {
        nvmet_fault_objects = g_hash_table_new_full(NULL, NULL, NULL, g_free);
    }
    g_hash_table_insert(nvmet_fault_objects, GUINT_TO_POINTER(f->id),
                        g_strdup(id));
    nvmet_events_unlock();
}

static void nvmet_fault_unparent(Object *obj)
{
    NvmetFaultObject *f = NVMET_FAULT(obj);

    if (f->id) {
        nvmet_fault_del(nvmet_qemu_target(), f->id, true, NULL);
        nvmet_events_lock();
        g_hash_table_remove(nvmet_fault_objects, GUINT_TO_POINTER(f->id));
        nvmet_events_unlock();
        f->id = 0;
    }
}

static void nvmet_fault_finalize(Object *obj)
{
    NvmetFaultObject *f = NVMET_FAULT(obj);

    g_free(f->spec.subsystem);
    g_free(f->spec.host);
    g_free(f->spec.probability);
}

static void nvmet_fault_class_init(ObjectClass *oc, void *data)
{
    UserCreatableClass *ucc = USER_CREATABLE_CLASS(oc);

    ucc->complete = nvmet_fault_complete;
    oc->unparent = nvmet_fault_unparent;
    for (size_t i = 0; i < ARRAY_SIZE(nvmet_fault_props); i++) {
        const NvmetFaultProp *p = &nvmet_fault_props[i];

        object_class_property_add(oc, p->name, p->type, nvmet_fault_prop_get,
                                  nvmet_fault_prop_set, NULL, (void *)p);
        object_class_property_set_description(oc, p->name, p->desc);
    }
    object_class_property_add(oc, "fault-id", "uint32", nvmet_fault_get_id,
                              NULL, NULL, NULL);
    object_class_property_set_description(oc, "fault-id",
        "the ID of the armed fault (query-nvmet-faults)");
}

static const TypeInfo nvmet_fault_type = {
    .name = TYPE_NVMET_FAULT,
    .parent = TYPE_OBJECT,
    .instance_size = sizeof(NvmetFaultObject),
    .instance_finalize = nvmet_fault_finalize,
    .class_init = nvmet_fault_class_init,
    .interfaces = (InterfaceInfo[]) { { TYPE_USER_CREATABLE }, { } },
};

static void nvmet_fault_register_types(void)
{
    type_register_static(&nvmet_fault_type);
}

type_init(nvmet_fault_register_types)
