/*
 * NVMe-oF TCP target: user-creatable QOM objects.
 *
 *   -object nvmet-port,id=port0[,traddr=127.0.0.1][,trsvcid=4420]...
 *   -object nvmet-subsystem,id=sub0,nqn=NQN,ports.0=port0[,allow-any-host=on]
 *   -object nvmet-host,id=host0,nqn=NQN,subsystems.0=sub0
 *   -object nvmet-namespace,id=ns1,subsystem=sub0,nsid=1,node-name=disk0
 *
 * The vocabulary follows Linux nvmet's configfs (traddr, trsvcid, portid,
 * allow-any-host, serial, model, cntlid-min/max, ...).  Objects refer to the
 * ones they attach to by id, so parents must be created first; an object
 * cannot be deleted while another object refers to it.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#include "qemu/osdep.h"
#include "qapi/error.h"
#include "qapi/visitor.h"
#include "qapi/qapi-visit-common.h"
#include "qapi/qapi-visit-nvmet.h"
#include "crypto/secret_common.h"
#include "qemu/cutils.h"
#include "qemu/error-report.h"
#include "qemu/uuid.h"
#include "qom/object_interfaces.h"
#include "block/block.h"
#include "block/block_int-global-state.h"
#include "system/block-backend.h"
#include "nvmet-qemu.h"
#include "trace.h"

static bool nvmet_obj_complete(Object *obj)
{
    return object_property_get_bool(obj, "x-complete", NULL);
}

static bool nvmet_check_mutable(Object *obj, const char *name, Error **errp)
{
    if (nvmet_obj_complete(obj)) {
        error_setg(errp, "property '%s' of '%s' cannot be changed after "
                   "creation", name, object_get_canonical_path_component(obj));
        return false;
    }
    return true;
}

/* ---- generic property helpers (opaque = offset of the field) ---------- */

static void prop_get_str(Object *obj, Visitor *v, const char *name,
                         void *opaque, Error **errp)
{
    char **field = (char **)((char *)obj + (uintptr_t)opaque);
    char *val = g_strdup(*field ? *field : "");

    visit_type_str(v, name, &val, errp);
    g_free(val);
}

static void prop_set_str(Object *obj, Visitor *v, const char *name,
                         void *opaque, Error **errp)
{
    char **field = (char **)((char *)obj + (uintptr_t)opaque);
    char *val;

    if (!nvmet_check_mutable(obj, name, errp) ||
        !visit_type_str(v, name, &val, errp)) {
        return;
    }
    g_free(*field);
    *field = val;
}

static void prop_get_u32(Object *obj, Visitor *v, const char *name,
                         void *opaque, Error **errp)
{
    uint32_t *field = (uint32_t *)((char *)obj + (uintptr_t)opaque);

    visit_type_uint32(v, name, field, errp);
}

static void prop_set_u32(Object *obj, Visitor *v, const char *name,
                         void *opaque, Error **errp)
{
    uint32_t *field = (uint32_t *)((char *)obj + (uintptr_t)opaque);
    uint32_t val;

    if (!nvmet_check_mutable(obj, name, errp) ||
        !visit_type_uint32(v, name, &val, errp)) {
        return;
    }
    *field = val;
}

static void prop_get_u16(Object *obj, Visitor *v, const char *name,
                         void *opaque, Error **errp)
{
    uint16_t *field = (uint16_t *)((char *)obj + (uintptr_t)opaque);

    visit_type_uint16(v, name, field, errp);
}

static void prop_set_u16(Object *obj, Visitor *v, const char *name,
                         void *opaque, Error **errp)
{
    uint16_t *field = (uint16_t *)((char *)obj + (uintptr_t)opaque);
    uint16_t val;

    if (!nvmet_check_mutable(obj, name, errp) ||
        !visit_type_uint16(v, name, &val, errp)) {
        return;
    }
    *field = val;
}

static void prop_get_bool(Object *obj, Visitor *v, const char *name,
                          void *opaque, Error **errp)
{
    bool *field = (bool *)((char *)obj + (uintptr_t)opaque);

    visit_type_bool(v, name, field, errp);
}

static void prop_set_bool(Object *obj, Visitor *v, const char *name,
                          void *opaque, Error **errp)
{
    bool *field = (bool *)((char *)obj + (uintptr_t)opaque);
    bool val;

    if (!nvmet_check_mutable(obj, name, errp) ||
        !visit_type_bool(v, name, &val, errp)) {
        return;
    }
    *field = val;
}

static void prop_get_strlist(Object *obj, Visitor *v, const char *name,
                             void *opaque, Error **errp)
{
    strList **field = (strList **)((char *)obj + (uintptr_t)opaque);

    visit_type_strList(v, name, field, errp);
}

static void prop_set_strlist(Object *obj, Visitor *v, const char *name,
                             void *opaque, Error **errp)
{
    strList **field = (strList **)((char *)obj + (uintptr_t)opaque);
    strList *val;

    if (!nvmet_check_mutable(obj, name, errp) ||
        !visit_type_strList(v, name, &val, errp)) {
        return;
    }
    qapi_free_strList(*field);
    *field = val;
}

#define PROP(klass, name, type, kind, st, field, desc) do {                  \
        ObjectProperty *op_ = object_class_property_add(klass, name, type,  \
            prop_get_##kind, prop_set_##kind, NULL,                         \
            (void *)(uintptr_t)offsetof(st, field));                       \
        (void)op_;                                                          \
        object_class_property_set_description(klass, name, desc);          \
    } while (0)

static Error *nvmet_gerror(GError *gerr)
{
    Error *err = NULL;

    error_setg(&err, "%s", gerr->message);
    g_error_free(gerr);
    return err;
}

/* ---- lookup helpers ----------------------------------------------------- */

static Object *nvmet_find(const char *id, const char *type, Error **errp)
{
    Object *obj = object_resolve_path_component(object_get_objects_root(),
                                                 id);

    if (!obj) {
        error_setg(errp, "no object with id '%s'", id);
        return NULL;
    }
    if (!object_dynamic_cast(obj, type)) {
        error_setg(errp, "object '%s' is not a %s", id, type);
        return NULL;
    }
    if (!nvmet_obj_complete(obj)) {
        error_setg(errp, "object '%s' is not ready yet", id);
        return NULL;
    }
    return obj;
}

NvmetPortObject *nvmet_port_object_find(const char *id, Error **errp)
{
    Object *obj = nvmet_find(id, TYPE_NVMET_PORT, errp);

    return obj ? NVMET_PORT(obj) : NULL;
}

NvmetSubsystemObject *nvmet_subsystem_object_find(const char *id,
                                                  Error **errp)
{
    Object *obj = nvmet_find(id, TYPE_NVMET_SUBSYSTEM, errp);

    return obj ? NVMET_SUBSYSTEM(obj) : NULL;
}

/* ======================================================================== */
/* nvmet-port                                                               */
/* ======================================================================== */

static uint16_t nvmet_next_portid = 1;

static void nvmet_port_complete(UserCreatable *uc, Error **errp)
{
    NvmetPortObject *p = NVMET_PORT(uc);
    const char *id = object_get_canonical_path_component(OBJECT(p));
    NvmetPortConfig cfg;
    GError *gerr = NULL;
    uint64_t port;

    if (qemu_strtou64(p->trsvcid, NULL, 10, &port) < 0 || port > 65535) {
        error_setg(errp, "nvmet-port '%s': trsvcid '%s' is not a TCP port "
                   "number", id, p->trsvcid);
        return;
    }
    /* listen first: with trsvcid=0 the kernel picks the port */
    if (!nvmet_qemu_port_listen(p, errp)) {
        return;
    }
    nvmet_port_config_init(&cfg);
    cfg.portid = p->portid ? p->portid : nvmet_next_portid;
    cfg.traddr = p->traddr;
    cfg.trsvcid = p->trsvcid;
    cfg.ipv6 = strchr(p->traddr, ':') != NULL;
    cfg.sqflow_disable_ok = p->sqflow_disable;
    cfg.tls = p->tls == NVMET_TLS_MODE_REQUIRED ? NVMET_PORT_TLS_REQUIRED :
              p->tls == NVMET_TLS_MODE_ALLOWED ? NVMET_PORT_TLS_ALLOWED :
              NVMET_PORT_TLS_NONE;
    if (p->tls_keylog) {
        /* TLS secrets: a new file is readable by its owner only */
        int fd = qemu_create(p->tls_keylog, O_WRONLY | O_APPEND, 0600, errp);

        if (fd < 0) {
            error_prepend(errp, "nvmet-port '%s': tls-keylog: ", id);
            nvmet_qemu_port_close(p);
            return;
        }
        p->keylog = fdopen(fd, "a");
        if (!p->keylog) {
            error_setg_errno(errp, errno, "nvmet-port '%s': cannot open "
                             "tls-keylog '%s'", id, p->tls_keylog);
            qemu_close(fd);
            nvmet_qemu_port_close(p);
            return;
        }
        setvbuf(p->keylog, NULL, _IOLBF, 0);
    }
    if (p->inline_data_size != UINT32_MAX) {
        cfg.inline_data_size = p->inline_data_size;
    }
    if (p->maxh2cdata) {
        cfg.maxh2cdata = p->maxh2cdata;
    }
    if (p->max_queue_size) {
        if (p->max_queue_size > 65534) {
            error_setg(errp, "nvmet-port '%s': max-queue-size must be at "
                       "most 65534", id);
            nvmet_qemu_port_close(p);
            return;
        }
        cfg.max_queue_size = p->max_queue_size;
    }
    if (p->max_queues) {
        cfg.max_queues = p->max_queues;
    }
    if (p->mdts != UINT32_MAX) {
        if (p->mdts > 255) {
            error_setg(errp, "nvmet-port '%s': mdts out of range", id);
            nvmet_qemu_port_close(p);
            return;
        }
        cfg.mdts = p->mdts;
    }
    p->port = nvmet_port_new(nvmet_qemu_target(), &cfg, &gerr);
    if (!p->port) {
        *errp = nvmet_gerror(gerr);
        error_prepend(errp, "nvmet-port '%s': ", id);
        nvmet_qemu_port_close(p);
        return;
    }
    p->portid = cfg.portid;
    if (p->portid >= nvmet_next_portid) {
        nvmet_next_portid = p->portid + 1;
    }
}

static bool nvmet_port_can_be_deleted(UserCreatable *uc)
{
    return NVMET_PORT(uc)->users == 0;
}

static bool nvmet_port_get_complete(Object *obj, Error **errp)
{
    return NVMET_PORT(obj)->port != NULL;
}

static void nvmet_port_unparent(Object *obj)
{
    NvmetPortObject *p = NVMET_PORT(obj);

    nvmet_qemu_port_close(p);
    if (p->port) {
        nvmet_port_free(p->port);
        p->port = NULL;
    }
    if (p->keylog) {
        fclose(p->keylog);
        p->keylog = NULL;
    }
}

static void nvmet_port_init(Object *obj)
{
    NvmetPortObject *p = NVMET_PORT(obj);

    p->traddr = g_strdup("127.0.0.1");
    p->trsvcid = g_strdup("4420");
    p->inline_data_size = UINT32_MAX;
    p->mdts = UINT32_MAX;
    p->sqflow_disable = true;
    QTAILQ_INIT(&p->conns);
}

static void nvmet_port_finalize(Object *obj)
{
    NvmetPortObject *p = NVMET_PORT(obj);

    g_free(p->traddr);
    g_free(p->trsvcid);
    g_free(p->tls_keylog);
}

static int nvmet_port_get_tls(Object *obj, Error **errp)
{
    return NVMET_PORT(obj)->tls;
}

static void nvmet_port_set_tls(Object *obj, int value, Error **errp)
{
    if (nvmet_check_mutable(obj, "tls", errp)) {
        NVMET_PORT(obj)->tls = value;
    }
}

static void nvmet_port_class_init(ObjectClass *oc, void *data)
{
    UserCreatableClass *ucc = USER_CREATABLE_CLASS(oc);

    ucc->complete = nvmet_port_complete;
    ucc->can_be_deleted = nvmet_port_can_be_deleted;
    oc->unparent = nvmet_port_unparent;
    object_class_property_add_bool(oc, "x-complete", nvmet_port_get_complete,
                                   NULL);
    PROP(oc, "traddr", "str", str, NvmetPortObject, traddr,
         "IPv4 or IPv6 address to listen on (default 127.0.0.1)");
    PROP(oc, "trsvcid", "str", str, NvmetPortObject, trsvcid,
         "TCP port to listen on (default 4420; 0 picks a free one)");
    PROP(oc, "portid", "uint16", u16, NvmetPortObject, portid,
         "port ID reported in discovery log entries (default: next free)");
    PROP(oc, "inline-data-size", "uint32", u32, NvmetPortObject,
         inline_data_size, "in-capsule data size of I/O queues in bytes");
    PROP(oc, "maxh2cdata", "uint32", u32, NvmetPortObject, maxh2cdata,
         "largest H2CData PDU payload accepted (bytes)");
    PROP(oc, "max-queue-size", "uint32", u32, NvmetPortObject, max_queue_size,
         "largest I/O queue (entries)");
    PROP(oc, "max-queues", "uint32", u32, NvmetPortObject, max_queues,
         "I/O queues per controller");
    PROP(oc, "mdts", "uint32", u32, NvmetPortObject, mdts,
         "maximum data transfer size as a power of two of 4 KiB pages");
    PROP(oc, "sqflow-disable", "bool", bool, NvmetPortObject, sqflow_disable,
         "allow hosts to disable SQ flow control (TREQ bit 2)");
    object_class_property_add_enum(oc, "tls", "NvmetTlsMode",
                                   &NvmetTlsMode_lookup, nvmet_port_get_tls,
                                   nvmet_port_set_tls);
    object_class_property_set_description(oc, "tls",
        "TLS 1.3 on this port: none, allowed or required (default none)");
    PROP(oc, "tls-keylog", "str", str, NvmetPortObject, tls_keylog,
         "file to append TLS secrets to (NSS key log format)");
}

/* ======================================================================== */
/* nvmet-subsystem                                                          */
/* ======================================================================== */

static void nvmet_subsystem_complete(UserCreatable *uc, Error **errp)
{
    NvmetSubsystemObject *s = NVMET_SUBSYSTEM(uc);
    const char *id = object_get_canonical_path_component(OBJECT(s));
    g_autoptr(GPtrArray) ports = g_ptr_array_new();
    NvmetSubsysConfig cfg;
    GError *gerr = NULL;

    if (!s->nqn) {
        error_setg(errp, "nvmet-subsystem '%s': property 'nqn' is required",
                   id);
        return;
    }
    for (strList *l = s->ports; l; l = l->next) {
        NvmetPortObject *p = nvmet_port_object_find(l->value, errp);

        if (!p) {
            error_prepend(errp, "nvmet-subsystem '%s': ports: ", id);
            return;
        }
        g_ptr_array_add(ports, p);
    }
    if (s->cntlid_min > 0xffff || s->cntlid_max > 0xffff) {
        error_setg(errp, "nvmet-subsystem '%s': controller IDs are 16-bit",
                   id);
        return;
    }
    nvmet_subsys_config_init(&cfg);
    cfg.nqn = s->nqn;
    cfg.serial = s->serial;
    cfg.model = s->model;
    cfg.firmware = s->firmware;
    cfg.allow_any_host = s->allow_any_host;
    if (s->cntlid_min) {
        cfg.cntlid_min = s->cntlid_min;
    }
    if (s->cntlid_max) {
        cfg.cntlid_max = s->cntlid_max;
    }
    if (s->max_namespaces) {
        cfg.max_namespaces = s->max_namespaces;
    }
    cfg.ieee_oui = s->ieee_oui;
    s->subsys = nvmet_subsys_new(nvmet_qemu_target(), &cfg, &gerr);
    if (!s->subsys) {
        *errp = nvmet_gerror(gerr);
        error_prepend(errp, "nvmet-subsystem '%s': ", id);
        return;
    }
    if (s->has_seed) {
        uint8_t seed[8];

        stq_le_p(seed, s->seed);
        nvmet_subsys_set_seed(s->subsys, seed, sizeof(seed));
    }
    if (s->quirk_free_tls_key) {
        nvmet_subsys_set_quirk_free_tls_key(s->subsys, true);
        warn_report("nvmet-subsystem '%s': quirk-free-tls-key is on: "
                    "REPLACETLSPSK will fail after a re-authentication",
                    object_get_canonical_path_component(OBJECT(s)));
    }
    s->port_objs = g_ptr_array_new();
    for (unsigned i = 0; i < ports->len; i++) {
        NvmetPortObject *p = g_ptr_array_index(ports, i);

        nvmet_port_add_subsys(p->port, s->subsys);
        p->users++;
        object_ref(OBJECT(p));
        g_ptr_array_add(s->port_objs, p);
    }
}

static bool nvmet_subsystem_can_be_deleted(UserCreatable *uc)
{
    return NVMET_SUBSYSTEM(uc)->users == 0;
}

static bool nvmet_subsystem_get_complete(Object *obj, Error **errp)
{
    return NVMET_SUBSYSTEM(obj)->subsys != NULL;
}

static void nvmet_subsystem_unparent(Object *obj)
{
    NvmetSubsystemObject *s = NVMET_SUBSYSTEM(obj);

    if (!s->subsys) {
        return;
    }
    nvmet_subsys_free(s->subsys);
    s->subsys = NULL;
    for (unsigned i = 0; i < s->port_objs->len; i++) {
        NvmetPortObject *p = g_ptr_array_index(s->port_objs, i);

        p->users--;
        object_unref(OBJECT(p));
    }
    g_ptr_array_free(s->port_objs, true);
    s->port_objs = NULL;
}

static bool nvmet_subsystem_get_allow_any_host(Object *obj, Error **errp)
{
    return NVMET_SUBSYSTEM(obj)->allow_any_host;
}

/* allow-any-host may change at runtime, like nvmet's attr_allow_any_host */
static void nvmet_subsystem_set_allow_any_host(Object *obj, bool value,
                                               Error **errp)
{
    NvmetSubsystemObject *s = NVMET_SUBSYSTEM(obj);

    s->allow_any_host = value;
    if (s->subsys) {
        nvmet_subsys_set_allow_any_host(s->subsys, value);
    }
}

static void nvmet_subsystem_get_seed(Object *obj, Visitor *v,
                                     const char *name, void *opaque,
                                     Error **errp)
{
    NvmetSubsystemObject *s = NVMET_SUBSYSTEM(obj);

    visit_type_uint64(v, name, &s->seed, errp);
}

static void nvmet_subsystem_set_seed(Object *obj, Visitor *v,
                                     const char *name, void *opaque,
                                     Error **errp)
{
    NvmetSubsystemObject *s = NVMET_SUBSYSTEM(obj);

    if (!nvmet_check_mutable(obj, name, errp) ||
        !visit_type_uint64(v, name, &s->seed, errp)) {
        return;
    }
    s->has_seed = true;
}

static void nvmet_subsystem_finalize(Object *obj)
{
    NvmetSubsystemObject *s = NVMET_SUBSYSTEM(obj);

    g_free(s->nqn);
    qapi_free_strList(s->ports);
    g_free(s->serial);
    g_free(s->model);
    g_free(s->firmware);
}

static void nvmet_subsystem_class_init(ObjectClass *oc, void *data)
{
    UserCreatableClass *ucc = USER_CREATABLE_CLASS(oc);

    ucc->complete = nvmet_subsystem_complete;
    ucc->can_be_deleted = nvmet_subsystem_can_be_deleted;
    oc->unparent = nvmet_subsystem_unparent;
    object_class_property_add_bool(oc, "x-complete",
                                   nvmet_subsystem_get_complete, NULL);
    PROP(oc, "nqn", "str", str, NvmetSubsystemObject, nqn,
         "NVMe Qualified Name of the subsystem");
    PROP(oc, "ports", "strList", strlist, NvmetSubsystemObject, ports,
         "ids of the nvmet-port objects exporting the subsystem");
    object_class_property_add_bool(oc, "allow-any-host",
                                   nvmet_subsystem_get_allow_any_host,
                                   nvmet_subsystem_set_allow_any_host);
    object_class_property_set_description(oc, "allow-any-host",
        "admit every host NQN, not only the nvmet-host objects listing it");
    PROP(oc, "serial", "str", str, NvmetSubsystemObject, serial,
         "serial number (default derived from the NQN)");
    PROP(oc, "model", "str", str, NvmetSubsystemObject, model,
         "model number string");
    PROP(oc, "firmware", "str", str, NvmetSubsystemObject, firmware,
         "firmware revision string");
    PROP(oc, "cntlid-min", "uint32", u32, NvmetSubsystemObject, cntlid_min,
         "lowest controller ID to hand out (default 1)");
    PROP(oc, "cntlid-max", "uint32", u32, NvmetSubsystemObject, cntlid_max,
         "highest controller ID to hand out (default 65519)");
    PROP(oc, "max-namespaces", "uint32", u32, NvmetSubsystemObject,
         max_namespaces, "number of namespace IDs (Identify NN, default 1024)");
    PROP(oc, "ieee-oui", "uint32", u32, NvmetSubsystemObject, ieee_oui,
         "IEEE OUI reported in Identify Controller");
    object_class_property_add(oc, "seed", "uint64", nvmet_subsystem_get_seed,
                              nvmet_subsystem_set_seed, NULL, NULL);
    PROP(oc, "quirk-free-tls-key", "bool", bool, NvmetSubsystemObject,
         quirk_free_tls_key, "reproduce the seed bug: forget a queue's "
         "TLS key when it authenticates (REPLACETLSPSK then fails)");
    object_class_property_set_description(oc, "seed",
        "seed making the target's random choices for this subsystem "
        "deterministic");
}

/* ======================================================================== */
/* nvmet-host                                                               */
/* ======================================================================== */

static void nvmet_host_unparent(Object *obj);

/*
 * Load DH-HMAC-CHAP keys from secret objects into the engine.  The key text
 * only passes through here; it is wiped as soon as the engine parsed it.
 */
bool nvmet_host_object_set_keys(NvmetHostObject *h, const char *secret,
                                const char *ctrl_secret, Error **errp)
{
    const char *id = object_get_canonical_path_component(OBJECT(h));
    char *hkey = NULL, *ckey = NULL;
    GError *gerr = NULL;
    bool ok = false;

    if (secret) {
        hkey = qcrypto_secret_lookup_as_utf8(secret, errp);
        if (!hkey) {
            error_prepend(errp, "nvmet-host '%s': dhchap-secret: ", id);
            goto out;
        }
        g_strstrip(hkey);           /* nvme gen-dhchap-key > file: newline */
    }
    if (ctrl_secret) {
        if (!secret) {
            error_setg(errp, "nvmet-host '%s': dhchap-ctrl-secret needs "
                       "dhchap-secret", id);
            goto out;
        }
        ckey = qcrypto_secret_lookup_as_utf8(ctrl_secret, errp);
        if (!ckey) {
            error_prepend(errp, "nvmet-host '%s': dhchap-ctrl-secret: ", id);
            goto out;
        }
        g_strstrip(ckey);
    }
    ok = nvmet_host_set_dhchap_keys(h->host, hkey, ckey, &gerr);
    if (!ok) {
        *errp = nvmet_gerror(gerr);
        error_prepend(errp, "nvmet-host '%s': ", id);
        goto out;
    }
    trace_nvmet_qemu_host_keys(id, secret ? secret : "", ctrl_secret ?
                               ctrl_secret : "");
out:
    nvmet_secret_str_free(hkey);
    nvmet_secret_str_free(ckey);
    return ok;
}

/* Give the host the TLS PSK in secret object @secret (NULL: none). */
bool nvmet_host_object_set_psk(NvmetHostObject *h, const char *secret,
                               Error **errp)
{
    const char *id = object_get_canonical_path_component(OBJECT(h));
    GError *gerr = NULL;
    char *psk = NULL;
    bool ok;

    if (secret) {
        psk = qcrypto_secret_lookup_as_utf8(secret, errp);
        if (!psk) {
            error_prepend(errp, "nvmet-host '%s': tls-psk: ", id);
            return false;
        }
        g_strstrip(psk);            /* nvme gen-tls-key > file: newline */
    }
    ok = nvmet_host_set_tls_psk(h->host, psk, &gerr);
    nvmet_secret_str_free(psk);
    if (!ok) {
        *errp = nvmet_gerror(gerr);
        error_prepend(errp, "nvmet-host '%s': tls-psk: ", id);
        return false;
    }
    trace_nvmet_qemu_host_psk(id, secret ? secret : "");
    return true;
}

static void nvmet_host_complete(UserCreatable *uc, Error **errp)
{
    NvmetHostObject *h = NVMET_HOST(uc);
    const char *id = object_get_canonical_path_component(OBJECT(h));
    g_autoptr(GPtrArray) subs = g_ptr_array_new();
    GError *gerr = NULL;

    if (!h->nqn) {
        error_setg(errp, "nvmet-host '%s': property 'nqn' is required", id);
        return;
    }
    for (strList *l = h->subsystems; l; l = l->next) {
        NvmetSubsystemObject *s = nvmet_subsystem_object_find(l->value, errp);

        if (!s) {
            error_prepend(errp, "nvmet-host '%s': subsystems: ", id);
            return;
        }
        g_ptr_array_add(subs, s);
    }
    h->host = nvmet_host_new(nvmet_qemu_target(), h->nqn, &gerr);
    if (!h->host) {
        *errp = nvmet_gerror(gerr);
        error_prepend(errp, "nvmet-host '%s': ", id);
        return;
    }
    if (!nvmet_host_object_set_keys(h, h->dhchap_secret, h->dhchap_ctrl_secret,
                                    errp)) {
        nvmet_host_free(h->host);
        h->host = NULL;
        return;
    }
    nvmet_host_set_tls_psk_compat(h->host, h->tls_psk_compat);
    if (h->tls_psk && !nvmet_host_object_set_psk(h, h->tls_psk, errp)) {
        nvmet_host_free(h->host);
        h->host = NULL;
        return;
    }
    {
        uint32_t hashes = 0, groups = 0;

        for (NvmetDhchapHashList *l = h->dhchap_hashes; l; l = l->next) {
            /* NVMe hash identifiers are 1-based in enum order */
            hashes |= 1u << (l->value + 1);
        }
        for (NvmetDhchapGroupList *l = h->dhchap_dhgroups; l; l = l->next) {
            groups |= 1u << l->value;
        }
        nvmet_host_set_dhchap_allowed(h->host, hashes, groups);
    }
    h->subsys_objs = g_ptr_array_new();
    for (unsigned i = 0; i < subs->len; i++) {
        NvmetSubsystemObject *s = g_ptr_array_index(subs, i);

        if (!nvmet_subsys_add_host(s->subsys, h->host, &gerr)) {
            *errp = nvmet_gerror(gerr);
            error_prepend(errp, "nvmet-host '%s': ", id);
            nvmet_host_unparent(OBJECT(h));
            return;
        }
        s->users++;
        object_ref(OBJECT(s));
        g_ptr_array_add(h->subsys_objs, s);
    }
}

static bool nvmet_host_get_complete(Object *obj, Error **errp)
{
    return NVMET_HOST(obj)->host != NULL;
}

static void nvmet_host_unparent(Object *obj)
{
    NvmetHostObject *h = NVMET_HOST(obj);

    if (!h->host) {
        return;
    }
    nvmet_host_free(h->host);
    h->host = NULL;
    for (unsigned i = 0; i < h->subsys_objs->len; i++) {
        NvmetSubsystemObject *s = g_ptr_array_index(h->subsys_objs, i);

        s->users--;
        object_unref(OBJECT(s));
    }
    g_ptr_array_free(h->subsys_objs, true);
    h->subsys_objs = NULL;
}

static void nvmet_host_get_hashes(Object *obj, Visitor *v, const char *name,
                                  void *opaque, Error **errp)
{
    visit_type_NvmetDhchapHashList(v, name, &NVMET_HOST(obj)->dhchap_hashes,
                                   errp);
}

static void nvmet_host_set_hashes(Object *obj, Visitor *v, const char *name,
                                  void *opaque, Error **errp)
{
    NvmetHostObject *h = NVMET_HOST(obj);
    NvmetDhchapHashList *val;

    if (!nvmet_check_mutable(obj, name, errp) ||
        !visit_type_NvmetDhchapHashList(v, name, &val, errp)) {
        return;
    }
    qapi_free_NvmetDhchapHashList(h->dhchap_hashes);
    h->dhchap_hashes = val;
}

static void nvmet_host_get_groups(Object *obj, Visitor *v, const char *name,
                                  void *opaque, Error **errp)
{
    visit_type_NvmetDhchapGroupList(v, name,
                                    &NVMET_HOST(obj)->dhchap_dhgroups, errp);
}

static void nvmet_host_set_groups(Object *obj, Visitor *v, const char *name,
                                  void *opaque, Error **errp)
{
    NvmetHostObject *h = NVMET_HOST(obj);
    NvmetDhchapGroupList *val;

    if (!nvmet_check_mutable(obj, name, errp) ||
        !visit_type_NvmetDhchapGroupList(v, name, &val, errp)) {
        return;
    }
    qapi_free_NvmetDhchapGroupList(h->dhchap_dhgroups);
    h->dhchap_dhgroups = val;
}

static void nvmet_host_finalize(Object *obj)
{
    NvmetHostObject *h = NVMET_HOST(obj);

    g_free(h->nqn);
    qapi_free_strList(h->subsystems);
    g_free(h->dhchap_secret);
    g_free(h->dhchap_ctrl_secret);
    g_free(h->tls_psk);
    qapi_free_NvmetDhchapHashList(h->dhchap_hashes);
    qapi_free_NvmetDhchapGroupList(h->dhchap_dhgroups);
}

static void nvmet_host_class_init(ObjectClass *oc, void *data)
{
    UserCreatableClass *ucc = USER_CREATABLE_CLASS(oc);

    ucc->complete = nvmet_host_complete;
    oc->unparent = nvmet_host_unparent;
    object_class_property_add_bool(oc, "x-complete", nvmet_host_get_complete,
                                   NULL);
    PROP(oc, "nqn", "str", str, NvmetHostObject, nqn,
         "NVMe Qualified Name of the host");
    PROP(oc, "subsystems", "strList", strlist, NvmetHostObject, subsystems,
         "ids of the nvmet-subsystem objects the host may connect to");
    PROP(oc, "dhchap-secret", "str", str, NvmetHostObject, dhchap_secret,
         "id of a secret object with the host's DH-HMAC-CHAP key (DHHC-1)");
    PROP(oc, "dhchap-ctrl-secret", "str", str, NvmetHostObject,
         dhchap_ctrl_secret,
         "id of a secret object with the controller's DH-HMAC-CHAP key");
    object_class_property_add(oc, "dhchap-hashes", "NvmetDhchapHashList",
                              nvmet_host_get_hashes, nvmet_host_set_hashes,
                              NULL, NULL);
    object_class_property_set_description(oc, "dhchap-hashes",
        "DH-HMAC-CHAP hashes the target may choose (default all)");
    PROP(oc, "tls-psk", "str", str, NvmetHostObject, tls_psk,
         "id of a secret object with the host's TLS PSK (NVMeTLSkey-1)");
    PROP(oc, "tls-psk-compat", "bool", bool, NvmetHostObject, tls_psk_compat,
         "derive the TLS PSK from tls-psk as nvme-cli 2.13 and older do");
    object_class_property_add(oc, "dhchap-dhgroups", "NvmetDhchapGroupList",
                              nvmet_host_get_groups, nvmet_host_set_groups,
                              NULL, NULL);
    object_class_property_set_description(oc, "dhchap-dhgroups",
        "DH-HMAC-CHAP Diffie-Hellman groups the target may choose "
        "(default all)");
}

/* ======================================================================== */
/* nvmet-namespace                                                          */
/* ======================================================================== */

static bool parse_hex_id(const char *s, uint8_t *out, size_t len)
{
    size_t n = 0;

    for (; *s && n < 2 * len; s++) {
        int v;

        if (*s == '-' || *s == ':') {
            continue;
        }
        v = g_ascii_xdigit_value(*s);
        if (v < 0) {
            return false;
        }
        out[n / 2] = (n & 1) ? (out[n / 2] | v) : v << 4;
        n++;
    }
    return !*s && n == 2 * len;
}

static void nvmet_ns_resize_cb(void *opaque)
{
    NvmetNamespaceObject *ns = opaque;
    int64_t len = blk_getlength(ns->blk);

    if (ns->ns && len > 0) {
        nvmet_ns_resize(ns->ns, len);
    }
}

static const BlockDevOps nvmet_ns_dev_ops = {
    .resize_cb = nvmet_ns_resize_cb,
};

static void nvmet_namespace_complete(UserCreatable *uc, Error **errp)
{
    NvmetNamespaceObject *ns = NVMET_NAMESPACE(uc);
    const char *id = object_get_canonical_path_component(OBJECT(ns));
    NvmetSubsystemObject *s;
    BlockDriverState *bs;
    NvmetNsConfig cfg = { 0 };
    GError *gerr = NULL;
    uint64_t perm;
    int64_t len;

    if (!ns->subsystem || !ns->node_name || !ns->nsid) {
        error_setg(errp, "nvmet-namespace '%s': properties 'subsystem', "
                   "'nsid' and 'node-name' are required", id);
        return;
    }
    s = nvmet_subsystem_object_find(ns->subsystem, errp);
    if (!s) {
        error_prepend(errp, "nvmet-namespace '%s': ", id);
        return;
    }
    if (ns->uuid) {
        QemuUUID uuid;

        if (qemu_uuid_parse(ns->uuid, &uuid) < 0) {
            error_setg(errp, "nvmet-namespace '%s': invalid uuid '%s'", id,
                       ns->uuid);
            return;
        }
        cfg.has_uuid = true;
        memcpy(cfg.uuid, uuid.data, 16);
    }
    if (ns->nguid) {
        if (!parse_hex_id(ns->nguid, cfg.nguid, 16)) {
            error_setg(errp, "nvmet-namespace '%s': nguid must be 32 hex "
                       "digits", id);
            return;
        }
        cfg.has_nguid = true;
    }
    if (ns->eui64) {
        if (!parse_hex_id(ns->eui64, cfg.eui64, 8)) {
            error_setg(errp, "nvmet-namespace '%s': eui64 must be 16 hex "
                       "digits", id);
            return;
        }
        cfg.has_eui64 = true;
    }

    bs = bdrv_find_node(ns->node_name);
    if (!bs) {
        error_setg(errp, "nvmet-namespace '%s': no block node named '%s' "
                   "(define it with -blockdev ...,node-name=%s first)", id,
                   ns->node_name, ns->node_name);
        return;
    }
    if (!ns->read_only && bdrv_is_read_only(bs)) {
        error_setg(errp, "nvmet-namespace '%s': node '%s' is read-only; set "
                   "read-only=on to export it", id, ns->node_name);
        return;
    }
    bdrv_graph_rdlock_main_loop();
    if (bdrv_activate(bs, errp) < 0) {
        bdrv_graph_rdunlock_main_loop();
        error_prepend(errp, "nvmet-namespace '%s': ", id);
        return;
    }
    bdrv_graph_rdunlock_main_loop();

    perm = BLK_PERM_CONSISTENT_READ | (ns->read_only ? 0 : BLK_PERM_WRITE);
    ns->blk = blk_new(qemu_get_aio_context(), perm, BLK_PERM_ALL);
    if (blk_insert_bs(ns->blk, bs, errp) < 0) {
        error_prepend(errp, "nvmet-namespace '%s': ", id);
        goto fail;
    }
    blk_set_enable_write_cache(ns->blk, true);
    blk_set_dev_ops(ns->blk, &nvmet_ns_dev_ops, ns);

    len = blk_getlength(ns->blk);
    if (len < 0) {
        error_setg_errno(errp, -len, "nvmet-namespace '%s': cannot get the "
                         "size of node '%s'", id, ns->node_name);
        goto fail;
    }
    cfg.nsid = ns->nsid;
    cfg.backend = ns;
    cfg.size = len;
    cfg.block_size = ns->block_size ? ns->block_size :
                     MAX(512, blk_get_request_alignment(ns->blk));
    cfg.read_only = ns->read_only;
    cfg.volatile_wc = true;
    ns->ns = nvmet_ns_new(s->subsys, &cfg, &gerr);
    if (!ns->ns) {
        *errp = nvmet_gerror(gerr);
        error_prepend(errp, "nvmet-namespace '%s': ", id);
        goto fail;
    }
    ns->subsys_obj = s;
    object_ref(OBJECT(s));
    s->users++;
    return;

fail:
    blk_unref(ns->blk);
    ns->blk = NULL;
}

static bool nvmet_namespace_get_complete(Object *obj, Error **errp)
{
    return NVMET_NAMESPACE(obj)->ns != NULL;
}

static void nvmet_namespace_unparent(Object *obj)
{
    NvmetNamespaceObject *ns = NVMET_NAMESPACE(obj);

    if (ns->ns) {
        nvmet_ns_free(ns->ns);
        ns->ns = NULL;
        ns->subsys_obj->users--;
        object_unref(OBJECT(ns->subsys_obj));
        ns->subsys_obj = NULL;
    }
}

static void nvmet_namespace_finalize(Object *obj)
{
    NvmetNamespaceObject *ns = NVMET_NAMESPACE(obj);

    /* in-flight I/O holds a reference, so there is none left here */
    assert(!ns->inflight);
    if (ns->blk) {
        blk_unref(ns->blk);
    }
    g_free(ns->subsystem);
    g_free(ns->node_name);
    g_free(ns->uuid);
    g_free(ns->nguid);
    g_free(ns->eui64);
}

static void nvmet_namespace_class_init(ObjectClass *oc, void *data)
{
    UserCreatableClass *ucc = USER_CREATABLE_CLASS(oc);

    ucc->complete = nvmet_namespace_complete;
    oc->unparent = nvmet_namespace_unparent;
    object_class_property_add_bool(oc, "x-complete",
                                   nvmet_namespace_get_complete, NULL);
    PROP(oc, "subsystem", "str", str, NvmetNamespaceObject, subsystem,
         "id of the nvmet-subsystem the namespace belongs to");
    PROP(oc, "nsid", "uint32", u32, NvmetNamespaceObject, nsid,
         "namespace ID");
    PROP(oc, "node-name", "str", str, NvmetNamespaceObject, node_name,
         "block node (-blockdev node-name) holding the data");
    PROP(oc, "block-size", "uint32", u32, NvmetNamespaceObject, block_size,
         "logical block size (default: the node's request alignment, "
         "at least 512)");
    PROP(oc, "read-only", "bool", bool, NvmetNamespaceObject, read_only,
         "export the namespace read-only");
    PROP(oc, "uuid", "str", str, NvmetNamespaceObject, uuid,
         "namespace UUID (default derived from subsystem NQN and NSID)");
    PROP(oc, "nguid", "str", str, NvmetNamespaceObject, nguid,
         "namespace globally unique identifier (32 hex digits)");
    PROP(oc, "eui64", "str", str, NvmetNamespaceObject, eui64,
         "IEEE extended unique identifier (16 hex digits)");
}

/* ======================================================================== */

static const TypeInfo nvmet_types[] = {
    {
        .name = TYPE_NVMET_PORT,
        .parent = TYPE_OBJECT,
        .instance_size = sizeof(NvmetPortObject),
        .instance_init = nvmet_port_init,
        .instance_finalize = nvmet_port_finalize,
        .class_init = nvmet_port_class_init,
        .interfaces = (InterfaceInfo[]) { { TYPE_USER_CREATABLE }, { } },
    }, {
        .name = TYPE_NVMET_SUBSYSTEM,
        .parent = TYPE_OBJECT,
        .instance_size = sizeof(NvmetSubsystemObject),
        .instance_finalize = nvmet_subsystem_finalize,
        .class_init = nvmet_subsystem_class_init,
        .interfaces = (InterfaceInfo[]) { { TYPE_USER_CREATABLE }, { } },
    }, {
        .name = TYPE_NVMET_HOST,
        .parent = TYPE_OBJECT,
        .instance_size = sizeof(NvmetHostObject),
        .instance_finalize = nvmet_host_finalize,
        .class_init = nvmet_host_class_init,
        .interfaces = (InterfaceInfo[]) { { TYPE_USER_CREATABLE }, { } },
    }, {
        .name = TYPE_NVMET_NAMESPACE,
        .parent = TYPE_OBJECT,
        .instance_size = sizeof(NvmetNamespaceObject),
        .instance_finalize = nvmet_namespace_finalize,
        .class_init = nvmet_namespace_class_init,
        .interfaces = (InterfaceInfo[]) { { TYPE_USER_CREATABLE }, { } },
    },
};

DEFINE_TYPES(nvmet_types)
