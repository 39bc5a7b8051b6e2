/*
 * NVMe-oF TCP target: user-creatable QOM objects.
 *
 *   -object nvmet-port,id=port0[,traddr=127.0.0.1][,trsvcid=4420]...
 *   -object nvmet-subsystem,id=sub0,nqn=NQN,ports.0=port0[,allow-any-host=on]
 *   -object nvmet-host,id=host0,nqn=NQN,subsystems.0=sub0
 *   -object nvmet-namespace,id=ns1,subsystem=sub0,nsid=1,node-name=disk0
 *       (a shorthand for the block export type=nvmet, see export.c)
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
#include "qapi/qapi-visit-sockets.h"
#include "qemu/sockets.h"
#include "crypto/secret_common.h"
#include "qemu/cutils.h"
#include "qemu/error-report.h"
#include "qom/object_interfaces.h"
#include "system/iothread.h"
#include "nvmet-qemu.h"
#include "trace.h"

/* ======================================================================== */
/* nvmet-object: what the four types share                                  */
/* ======================================================================== */

static const char *nvmet_object_id(Object *obj)
{
    return object_get_canonical_path_component(obj);
}

static void nvmet_object_complete(UserCreatable *uc, Error **errp)
{
    NvmetObject *o = NVMET_OBJECT(uc);

    o->ready = NVMET_OBJECT_GET_CLASS(o)->complete(o, errp);
}

/*
 * The engine took the creation-time properties when the object was
 * completed: changing them afterwards would have no effect, so refuse.
 */
static bool nvmet_check_mutable(Object *obj, const char *name, Error **errp)
{
    if (nvmet_object_ready(obj)) {
        error_setg(errp, "property '%s' of '%s' cannot be changed after "
                   "creation", name, nvmet_object_id(obj));
        return false;
    }
    return true;
}

/* For the setters of object_class_property_add_str() properties. */
static void nvmet_set_str(Object *obj, const char *name, char **field,
                          const char *value, Error **errp)
{
    if (nvmet_check_mutable(obj, name, errp)) {
        g_free(*field);
        *field = g_strdup(value);
    }
}

/* Unset strings read as "". */
static char *nvmet_get_str(const char *field)
{
    return g_strdup(field ? field : "");
}

/*
 * Integer properties are class properties whose accessors find the field
 * by its offset in the object (passed as the opaque), as iothread.c does:
 * QOM's object_class_property_add_uint32_ptr() is for fixed storage.
 */
static void nvmet_get_uint32(Object *obj, Visitor *v, const char *name,
                             void *opaque, Error **errp)
{
    uint32_t *field = (void *)obj + (uintptr_t)opaque;

    visit_type_uint32(v, name, field, errp);
}

static void nvmet_set_uint32(Object *obj, Visitor *v, const char *name,
                             void *opaque, Error **errp)
{
    uint32_t *field = (void *)obj + (uintptr_t)opaque;
    uint32_t value;

    if (nvmet_check_mutable(obj, name, errp) &&
        visit_type_uint32(v, name, &value, errp)) {
        *field = value;
    }
}

static void nvmet_class_add_uint32(ObjectClass *oc, const char *name,
                                   size_t offset, const char *desc)
{
    object_class_property_add(oc, name, "uint32", nvmet_get_uint32,
                              nvmet_set_uint32, NULL, (void *)offset);
    object_class_property_set_description(oc, name, desc);
}

/* For strList properties naming other objects */
static void nvmet_set_strlist(Object *obj, Visitor *v, const char *name,
                              strList **field, Error **errp)
{
    strList *value;

    if (nvmet_check_mutable(obj, name, errp) &&
        visit_type_strList(v, name, &value, errp)) {
        qapi_free_strList(*field);
        *field = value;
    }
}

/* ---- lookup -------------------------------------------------------------- */

static Object *nvmet_find(const char *id, const char *type, Error **errp)
{
    Object *obj = object_resolve_path_component(object_get_objects_root(),
                                                 id);

    if (!obj) {
        error_setg(errp, "no object with id '%s'", id);
        return NULL;
    }
    if (!object_dynamic_cast(obj, type)) {
        error_setg(errp, "object '%s' is not an %s", id, type);
        return NULL;
    }
    if (!nvmet_object_ready(obj)) {
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

NvmetHostObject *nvmet_host_object_find(const char *id, Error **errp)
{
    Object *obj = nvmet_find(id, TYPE_NVMET_HOST, errp);

    return obj ? NVMET_HOST(obj) : NULL;
}

/* ======================================================================== */
/* nvmet-port                                                               */
/* ======================================================================== */

static uint16_t nvmet_next_portid = 1;

/*
 * The transport address hosts use (discovery log entries, nvmet's
 * addr_traddr and addr_trsvcid): traddr and trsvcid, by default what the
 * port listens on.  NULL when the port listens on a UNIX socket or a
 * file descriptor and they were not set.
 */
const char *nvmet_port_traddr(NvmetPortObject *p)
{
    if (p->traddr) {
        return p->traddr;
    }
    if (!p->addr) {
        return "127.0.0.1";
    }
    return p->addr->type == SOCKET_ADDRESS_TYPE_INET ?
           p->addr->u.inet.host : NULL;
}

const char *nvmet_port_trsvcid(NvmetPortObject *p)
{
    if (p->trsvcid) {
        return p->trsvcid;
    }
    if (!p->addr) {
        return "4420";
    }
    return p->addr->type == SOCKET_ADDRESS_TYPE_INET ?
           p->addr->u.inet.port : NULL;
}

/* Where the port listens and what it tells hosts: can it work? */
static bool nvmet_port_check_address(NvmetPortObject *p, Error **errp)
{
    const char *id = nvmet_object_id(OBJECT(p));
    const char *traddr = nvmet_port_traddr(p);
    const char *trsvcid = nvmet_port_trsvcid(p);
    uint8_t buf[sizeof(struct in6_addr)];
    uint64_t port;

    if (!traddr || !trsvcid) {
        g_autofree char *where = socket_uri(p->addr);

        error_setg(errp, "nvmet-port '%s': listening on %s, it needs "
                   "traddr and trsvcid: the address hosts connect to, "
                   "e.g. traddr=10.0.2.100,trsvcid=4420 for a guest with "
                   "-netdev user,guestfwd=tcp:10.0.2.100:4420-cmd:...", id,
                   where);
        return false;
    }
    if (qemu_strtou64(trsvcid, NULL, 10, &port) < 0 || port > 65535) {
        error_setg(errp, "nvmet-port '%s': trsvcid '%s' is not a TCP port "
                   "number", id, trsvcid);
        return false;
    }
    if (p->addr && port == 0) {
        error_setg(errp, "nvmet-port '%s': trsvcid must not be 0 with "
                   "addr: hosts need the real port", id);
        return false;
    }
    if (p->addr && inet_pton(AF_INET, traddr, buf) != 1 &&
        inet_pton(AF_INET6, traddr, buf) != 1) {
        error_setg(errp, "nvmet-port '%s': traddr '%s' is not an IPv4 or "
                   "IPv6 address", id, traddr);
        return false;
    }
    return true;
}

/* The port's settings as the engine takes them. */
static bool nvmet_port_object_config(NvmetPortObject *p,
                                     NvmetPortConfig *cfg, Error **errp)
{
    const char *id = nvmet_object_id(OBJECT(p));

    if (!nvmet_port_check_address(p, errp)) {
        return false;
    }
    nvmet_port_config_init(cfg);
    cfg->portid = p->portid ? p->portid : nvmet_next_portid;
    cfg->traddr = nvmet_port_traddr(p);
    cfg->ipv6 = strchr(cfg->traddr, ':') != NULL;
    cfg->sqflow_disable_ok = p->sqflow_disable;
    cfg->tls = p->tls == NVMET_TLS_MODE_REQUIRED ? NVMET_PORT_TLS_REQUIRED :
               p->tls == NVMET_TLS_MODE_ALLOWED ? NVMET_PORT_TLS_ALLOWED :
               NVMET_PORT_TLS_NONE;
    if (p->inline_data_size != UINT32_MAX) {
        cfg->inline_data_size = p->inline_data_size;
    }
    if (p->maxh2cdata) {
        cfg->maxh2cdata = p->maxh2cdata;
    }
    if (p->max_queue_size) {
        if (p->max_queue_size > 65534) {
            error_setg(errp, "nvmet-port '%s': max-queue-size must be at "
                       "most 65534", id);
            return false;
        }
        cfg->max_queue_size = p->max_queue_size;
    }
    if (p->max_queues) {
        cfg->max_queues = p->max_queues;
    }
    if (p->mdts != UINT32_MAX) {
        if (p->mdts > 255) {
            error_setg(errp, "nvmet-port '%s': mdts out of range", id);
            return false;
        }
        cfg->mdts = p->mdts;
    }
    return true;
}

static bool nvmet_port_open_keylog(NvmetPortObject *p, Error **errp)
{
    ERRP_GUARD();
    const char *id = nvmet_object_id(OBJECT(p));
    /* TLS secrets: a new file is readable by its owner only */
    int fd = qemu_create(p->tls_keylog, O_WRONLY | O_APPEND, 0600, errp);

    if (fd < 0) {
        error_prepend(errp, "nvmet-port '%s': tls-keylog: ", id);
        return false;
    }
    p->keylog = fdopen(fd, "a");
    if (!p->keylog) {
        error_setg_errno(errp, errno, "nvmet-port '%s': cannot open "
                         "tls-keylog '%s'", id, p->tls_keylog);
        qemu_close(fd);
        return false;
    }
    setvbuf(p->keylog, NULL, _IOLBF, 0);
    return true;
}

static bool nvmet_port_complete(NvmetObject *obj, Error **errp)
{
    NvmetPortObject *p = NVMET_PORT(obj);
    g_autoptr(GError) gerr = NULL;
    NvmetPortConfig cfg;

    g_free(p->id);
    p->id = g_strdup(nvmet_object_id(OBJECT(p)));
    /*
     * The port number is checked before listening, the rest after: with
     * trsvcid=0 the kernel picks the port that the engine reports.
     */
    if (!nvmet_port_object_config(p, &cfg, errp)) {
        return false;
    }
    if (!nvmet_qemu_port_listen(p, errp)) {
        return false;
    }
    cfg.traddr = nvmet_port_traddr(p);
    cfg.trsvcid = nvmet_port_trsvcid(p);
    trace_nvmet_qemu_port_address(nvmet_object_id(OBJECT(p)), cfg.traddr,
                                  cfg.trsvcid);
    if (p->tls_keylog && !nvmet_port_open_keylog(p, errp)) {
        nvmet_qemu_port_close(p);
        return false;
    }
    p->port = nvmet_port_new(nvmet_qemu_target(), &cfg, &gerr);
    if (!p->port) {
        error_setg(errp, "nvmet-port '%s': %s", nvmet_object_id(OBJECT(p)),
                   gerr->message);
        nvmet_qemu_port_close(p);
        return false;
    }
    nvmet_port_set_max_connections(p->port, p->max_connections);
    nvmet_port_set_icreq_timeout(p->port, p->icreq_timeout_ms);
    p->portid = cfg.portid;
    if (p->portid >= nvmet_next_portid) {
        nvmet_next_portid = p->portid + 1;
    }
    if (p->pcap && !nvmet_capture_start(p, p->pcap, errp)) {
        nvmet_qemu_port_close(p);
        nvmet_port_free(p->port);
        p->port = NULL;
        return false;
    }
    nvmet_port_object_register(p);
    return true;
}

static bool nvmet_port_can_be_deleted(UserCreatable *uc)
{
    return NVMET_PORT(uc)->users == 0;
}

static void nvmet_port_unparent(Object *obj)
{
    NvmetPortObject *p = NVMET_PORT(obj);

    nvmet_capture_stop(p);
    nvmet_qemu_port_close(p);
    if (p->port) {
        nvmet_port_free(p->port);
        nvmet_port_object_unregister(p);
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

    p->inline_data_size = UINT32_MAX;
    p->mdts = UINT32_MAX;
    p->sqflow_disable = true;
    qemu_mutex_init(&p->conns_lock);
    QTAILQ_INIT(&p->conns);
}

static void nvmet_port_finalize(Object *obj)
{
    NvmetPortObject *p = NVMET_PORT(obj);

    qapi_free_SocketAddress(p->addr);
    g_free(p->traddr);
    g_free(p->trsvcid);
    g_free(p->tls_keylog);
    qemu_mutex_destroy(&p->conns_lock);
    g_free(p->pcap);
    g_free(p->id);
}

static void nvmet_port_get_addr(Object *obj, Visitor *v, const char *name,
                                void *opaque, Error **errp)
{
    NvmetPortObject *p = NVMET_PORT(obj);
    g_autoptr(SocketAddress) tcp = NULL;
    SocketAddress *addr = p->addr;

    if (!addr) {
        /* TCP on the transport address */
        tcp = g_new0(SocketAddress, 1);
        tcp->type = SOCKET_ADDRESS_TYPE_INET;
        tcp->u.inet.host = g_strdup(nvmet_port_traddr(p));
        tcp->u.inet.port = g_strdup(nvmet_port_trsvcid(p));
        addr = tcp;
    }
    visit_type_SocketAddress(v, name, &addr, errp);
}

static void nvmet_port_set_addr(Object *obj, Visitor *v, const char *name,
                                void *opaque, Error **errp)
{
    NvmetPortObject *p = NVMET_PORT(obj);
    SocketAddress *addr;

    if (!nvmet_check_mutable(obj, name, errp) ||
        !visit_type_SocketAddress(v, name, &addr, errp)) {
        return;
    }
    if (addr->type == SOCKET_ADDRESS_TYPE_VSOCK) {
        error_setg(errp, "nvmet-port '%s': NVMe/TCP does not run over "
                   "vsock", nvmet_object_id(obj));
        qapi_free_SocketAddress(addr);
        return;
    }
    if (addr->type == SOCKET_ADDRESS_TYPE_UNIX && addr->u.q_unix.abstract) {
        /* no file, no permissions: anyone on the machine could connect */
        error_setg(errp, "nvmet-port '%s': abstract UNIX sockets have no "
                   "access control; use a path", nvmet_object_id(obj));
        qapi_free_SocketAddress(addr);
        return;
    }
    qapi_free_SocketAddress(p->addr);
    p->addr = addr;
}

static char *nvmet_port_get_traddr(Object *obj, Error **errp)
{
    return nvmet_get_str(nvmet_port_traddr(NVMET_PORT(obj)));
}

static void nvmet_port_set_traddr(Object *obj, const char *value,
                                  Error **errp)
{
    nvmet_set_str(obj, "traddr", &NVMET_PORT(obj)->traddr, value, errp);
}

static char *nvmet_port_get_trsvcid(Object *obj, Error **errp)
{
    return nvmet_get_str(nvmet_port_trsvcid(NVMET_PORT(obj)));
}

static void nvmet_port_set_trsvcid(Object *obj, const char *value,
                                   Error **errp)
{
    nvmet_set_str(obj, "trsvcid", &NVMET_PORT(obj)->trsvcid, value, errp);
}

static char *nvmet_port_get_tls_keylog(Object *obj, Error **errp)
{
    return nvmet_get_str(NVMET_PORT(obj)->tls_keylog);
}

static void nvmet_port_set_tls_keylog(Object *obj, const char *value,
                                      Error **errp)
{
    nvmet_set_str(obj, "tls-keylog", &NVMET_PORT(obj)->tls_keylog, value,
                  errp);
}

static char *nvmet_port_get_pcap(Object *obj, Error **errp)
{
    return nvmet_get_str(NVMET_PORT(obj)->pcap);
}

static void nvmet_port_set_pcap(Object *obj, const char *value, Error **errp)
{
    nvmet_set_str(obj, "pcap", &NVMET_PORT(obj)->pcap, value, errp);
}

static void nvmet_port_get_portid(Object *obj, Visitor *v, const char *name,
                                  void *opaque, Error **errp)
{
    visit_type_uint16(v, name, &NVMET_PORT(obj)->portid, errp);
}

static void nvmet_port_set_portid(Object *obj, Visitor *v, const char *name,
                                  void *opaque, Error **errp)
{
    uint16_t value;

    if (nvmet_check_mutable(obj, name, errp) &&
        visit_type_uint16(v, name, &value, errp)) {
        NVMET_PORT(obj)->portid = value;
    }
}

static bool nvmet_port_get_sqflow_disable(Object *obj, Error **errp)
{
    return NVMET_PORT(obj)->sqflow_disable;
}

static void nvmet_port_set_sqflow_disable(Object *obj, bool value,
                                          Error **errp)
{
    if (nvmet_check_mutable(obj, "sqflow-disable", errp)) {
        NVMET_PORT(obj)->sqflow_disable = value;
    }
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

/*
 * max-connections and icreq-timeout-ms: the engine's default until set;
 * they may change at run time (a new timeout applies to connections made
 * from then on, a lower cap to the next connection).
 */
static void nvmet_port_get_limit(Object *obj, Visitor *v, const char *name,
                                 void *opaque, Error **errp)
{
    NvmetPortObject *p = NVMET_PORT(obj);
    uint32_t val;

    if (g_str_equal(name, "max-connections")) {
        val = p->max_connections ? p->max_connections :
              NVMET_PORT_MAX_CONNECTIONS_DEFAULT;
    } else {
        val = p->icreq_timeout_ms ? p->icreq_timeout_ms :
              NVMET_ICREQ_TIMEOUT_MS_DEFAULT;
    }
    visit_type_uint32(v, name, &val, errp);
}

static void nvmet_port_set_limit(Object *obj, Visitor *v, const char *name,
                                 void *opaque, Error **errp)
{
    NvmetPortObject *p = NVMET_PORT(obj);
    uint32_t val;

    if (!visit_type_uint32(v, name, &val, errp)) {
        return;
    }
    if (!val) {
        error_setg(errp, "nvmet-port '%s': %s must be at least 1",
                   nvmet_object_id(obj), name);
        return;
    }
    if (g_str_equal(name, "max-connections")) {
        p->max_connections = val;
        if (p->port) {
            nvmet_port_set_max_connections(p->port, val);
        }
    } else {
        p->icreq_timeout_ms = val;
        if (p->port) {
            nvmet_port_set_icreq_timeout(p->port, val);
        }
    }
}

/* Read-only counters of the limits above, and the live connections. */
static void nvmet_port_get_stat(Object *obj, Visitor *v, const char *name,
                                void *opaque, Error **errp)
{
    NvmetPortObject *p = NVMET_PORT(obj);
    NvmetPortStats st = { 0 };
    uint64_t val;

    if (p->port) {
        nvmet_port_get_stats(p->port, &st);
    }
    val = g_str_equal(name, "connections") ? st.connections :
          g_str_equal(name, "connections-refused") ? st.connections_refused :
          g_str_equal(name, "connections-draining") ? st.draining :
          st.icreq_timeouts;
    visit_type_uint64(v, name, &val, errp);
}

static void nvmet_port_class_init(ObjectClass *oc, void *data)
{
    UserCreatableClass *ucc = USER_CREATABLE_CLASS(oc);
    NvmetObjectClass *noc = NVMET_OBJECT_CLASS(oc);

    noc->complete = nvmet_port_complete;
    ucc->can_be_deleted = nvmet_port_can_be_deleted;
    oc->unparent = nvmet_port_unparent;

    object_class_property_add(oc, "addr", "SocketAddress",
                              nvmet_port_get_addr, nvmet_port_set_addr,
                              NULL, NULL);
    object_class_property_set_description(oc, "addr",
        "where to listen, if not on traddr/trsvcid: a UNIX socket "
        "(created 0600), TCP, or a listening fd");
    object_class_property_add_str(oc, "traddr", nvmet_port_get_traddr,
                                  nvmet_port_set_traddr);
    object_class_property_set_description(oc, "traddr",
        "IPv4 or IPv6 address hosts connect to, in discovery log entries; "
        "listened on without addr (default 127.0.0.1)");
    object_class_property_add_str(oc, "trsvcid", nvmet_port_get_trsvcid,
                                  nvmet_port_set_trsvcid);
    object_class_property_set_description(oc, "trsvcid",
        "TCP port hosts connect to; listened on without addr "
        "(default 4420; 0 picks a free one)");
    object_class_property_add(oc, "portid", "uint16", nvmet_port_get_portid,
                              nvmet_port_set_portid, NULL, NULL);
    object_class_property_set_description(oc, "portid",
        "port ID reported in discovery log entries (default: next free)");
    nvmet_class_add_uint32(oc, "inline-data-size",
        offsetof(NvmetPortObject, inline_data_size),
        "in-capsule data size of I/O queues in bytes");
    nvmet_class_add_uint32(oc, "maxh2cdata",
        offsetof(NvmetPortObject, maxh2cdata),
        "largest H2CData PDU payload accepted (bytes)");
    nvmet_class_add_uint32(oc, "max-queue-size",
        offsetof(NvmetPortObject, max_queue_size),
        "largest I/O queue (entries)");
    nvmet_class_add_uint32(oc, "max-queues",
        offsetof(NvmetPortObject, max_queues),
        "I/O queues per controller");
    nvmet_class_add_uint32(oc, "mdts", offsetof(NvmetPortObject, mdts),
        "maximum data transfer size as a power of two of 4 KiB pages");
    object_class_property_add_bool(oc, "sqflow-disable",
                                   nvmet_port_get_sqflow_disable,
                                   nvmet_port_set_sqflow_disable);
    object_class_property_set_description(oc, "sqflow-disable",
        "allow hosts to disable SQ flow control (TREQ bit 2)");
    object_class_property_add_enum(oc, "tls", "NvmetTlsMode",
                                   &NvmetTlsMode_lookup, nvmet_port_get_tls,
                                   nvmet_port_set_tls);
    object_class_property_set_description(oc, "tls",
        "TLS 1.3 on this port: none, allowed or required (default none)");
    object_class_property_add_str(oc, "tls-keylog", nvmet_port_get_tls_keylog,
                                  nvmet_port_set_tls_keylog);
    object_class_property_set_description(oc, "tls-keylog",
        "file to append TLS secrets to (NSS key log format)");
    object_class_property_add_str(oc, "pcap", nvmet_port_get_pcap,
                                  nvmet_port_set_pcap);
    object_class_property_set_description(oc, "pcap",
        "pcap file for a decrypted capture of every connection");
    object_class_property_add(oc, "max-connections", "uint32",
                              nvmet_port_get_limit, nvmet_port_set_limit,
                              NULL, NULL);
    object_class_property_set_description(oc, "max-connections",
        "live connections on this port; the next one is closed at once "
        "(default 1024)");
    object_class_property_add(oc, "icreq-timeout-ms", "uint32",
                              nvmet_port_get_limit, nvmet_port_set_limit,
                              NULL, NULL);
    object_class_property_set_description(oc, "icreq-timeout-ms",
        "time a new connection has for its ICReq (TLS handshake included), "
        "then for its Connect, in ms; then it is closed (default 30000)");
    object_class_property_add(oc, "connections", "uint64",
                              nvmet_port_get_stat, NULL, NULL, NULL);
    object_class_property_set_description(oc, "connections",
        "live connections (read only)");
    object_class_property_add(oc, "connections-refused", "uint64",
                              nvmet_port_get_stat, NULL, NULL, NULL);
    object_class_property_set_description(oc, "connections-refused",
        "connections closed over max-connections (read only)");
    object_class_property_add(oc, "connections-draining", "uint64",
                              nvmet_port_get_stat, NULL, NULL, NULL);
    object_class_property_set_description(oc, "connections-draining",
        "closed connections whose block I/O is still running (read only)");
    object_class_property_add(oc, "icreq-timeouts", "uint64",
                              nvmet_port_get_stat, NULL, NULL, NULL);
    object_class_property_set_description(oc, "icreq-timeouts",
        "connections closed without an ICReq or Connect in time "
        "(read only)");
}

/* ======================================================================== */
/* nvmet-subsystem                                                          */
/* ======================================================================== */

static void nvmet_subsys_config(NvmetSubsystemObject *s,
                                NvmetSubsysConfig *cfg)
{
    nvmet_subsys_config_init(cfg);
    cfg->nqn = s->nqn;
    cfg->serial = s->serial;
    cfg->model = s->model;
    cfg->firmware = s->firmware;
    cfg->allow_any_host = s->allow_any_host;
    if (s->cntlid_min) {
        cfg->cntlid_min = s->cntlid_min;
    }
    if (s->cntlid_max) {
        cfg->cntlid_max = s->cntlid_max;
    }
    if (s->max_namespaces) {
        cfg->max_namespaces = s->max_namespaces;
    }
    cfg->ieee_oui = s->ieee_oui;
    cfg->opaque = s;            /* ops.queue_bound: where queues belong */
}

IOThread *nvmet_subsystem_object_iothread(NvmetSubsystemObject *s,
                                          uint16_t qid)
{
    if (!s->iothread_objs || !s->iothread_objs->len || !qid) {
        return NULL;
    }
    return g_ptr_array_index(s->iothread_objs, (qid - 1) %
                             s->iothread_objs->len);
}

static bool nvmet_subsystem_complete(NvmetObject *obj, Error **errp)
{
    ERRP_GUARD();
    NvmetSubsystemObject *s = NVMET_SUBSYSTEM(obj);
    const char *id = nvmet_object_id(OBJECT(s));
    g_autoptr(GPtrArray) ports = g_ptr_array_new();
    g_autoptr(GError) gerr = NULL;
    NvmetSubsysConfig cfg;

    if (!s->nqn) {
        error_setg(errp, "nvmet-subsystem '%s': property 'nqn' is required",
                   id);
        return false;
    }
    for (strList *l = s->ports; l; l = l->next) {
        NvmetPortObject *p = nvmet_port_object_find(l->value, errp);

        if (!p) {
            error_prepend(errp, "nvmet-subsystem '%s': ports: ", id);
            return false;
        }
        g_ptr_array_add(ports, p);
    }
    if (s->cntlid_min > 0xffff || s->cntlid_max > 0xffff) {
        error_setg(errp, "nvmet-subsystem '%s': controller IDs are 16-bit",
                   id);
        return false;
    }
    for (strList *l = s->iothreads; l; l = l->next) {
        if (!iothread_by_id(l->value)) {
            error_setg(errp, "nvmet-subsystem '%s': iothreads: no iothread "
                       "'%s'", id, l->value);
            return false;
        }
    }
    nvmet_subsys_config(s, &cfg);
    s->subsys = nvmet_subsys_new(nvmet_qemu_target(), &cfg, &gerr);
    if (!s->subsys) {
        error_setg(errp, "nvmet-subsystem '%s': %s", id, gerr->message);
        return false;
    }
    if (s->has_seed) {
        uint8_t seed[8];

        stq_le_p(seed, s->seed);
        nvmet_subsys_set_seed(s->subsys, seed, sizeof(seed));
    }
    if (s->quirk_free_tls_key) {
        nvmet_subsys_set_quirk_free_tls_key(s->subsys, true);
        warn_report("nvmet-subsystem '%s': quirk-free-tls-key is on: "
                    "REPLACETLSPSK will fail after a re-authentication", id);
    }
    s->iothread_objs = g_ptr_array_new();
    for (strList *l = s->iothreads; l; l = l->next) {
        IOThread *iothread = iothread_by_id(l->value);

        object_ref(OBJECT(iothread));
        g_ptr_array_add(s->iothread_objs, iothread);
    }
    s->port_objs = g_ptr_array_new();
    for (unsigned i = 0; i < ports->len; i++) {
        NvmetPortObject *p = g_ptr_array_index(ports, i);

        nvmet_port_add_subsys(p->port, s->subsys);
        p->users++;
        object_ref(OBJECT(p));
        g_ptr_array_add(s->port_objs, p);
    }
    return true;
}

static bool nvmet_subsystem_can_be_deleted(UserCreatable *uc)
{
    return NVMET_SUBSYSTEM(uc)->users == 0;
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

static void nvmet_subsystem_finalize(Object *obj)
{
    NvmetSubsystemObject *s = NVMET_SUBSYSTEM(obj);

    /* connections moving into them hold references of their own */
    if (s->iothread_objs) {
        for (unsigned i = 0; i < s->iothread_objs->len; i++) {
            object_unref(g_ptr_array_index(s->iothread_objs, i));
        }
        g_ptr_array_free(s->iothread_objs, true);
    }
    qapi_free_strList(s->iothreads);
    g_free(s->nqn);
    qapi_free_strList(s->ports);
    g_free(s->serial);
    g_free(s->model);
    g_free(s->firmware);
}

static char *nvmet_subsystem_get_nqn(Object *obj, Error **errp)
{
    return nvmet_get_str(NVMET_SUBSYSTEM(obj)->nqn);
}

static void nvmet_subsystem_set_nqn(Object *obj, const char *value,
                                    Error **errp)
{
    nvmet_set_str(obj, "nqn", &NVMET_SUBSYSTEM(obj)->nqn, value, errp);
}

static char *nvmet_subsystem_get_serial(Object *obj, Error **errp)
{
    return nvmet_get_str(NVMET_SUBSYSTEM(obj)->serial);
}

static void nvmet_subsystem_set_serial(Object *obj, const char *value,
                                       Error **errp)
{
    nvmet_set_str(obj, "serial", &NVMET_SUBSYSTEM(obj)->serial, value, errp);
}

static char *nvmet_subsystem_get_model(Object *obj, Error **errp)
{
    return nvmet_get_str(NVMET_SUBSYSTEM(obj)->model);
}

static void nvmet_subsystem_set_model(Object *obj, const char *value,
                                      Error **errp)
{
    nvmet_set_str(obj, "model", &NVMET_SUBSYSTEM(obj)->model, value, errp);
}

static char *nvmet_subsystem_get_firmware(Object *obj, Error **errp)
{
    return nvmet_get_str(NVMET_SUBSYSTEM(obj)->firmware);
}

static void nvmet_subsystem_set_firmware(Object *obj, const char *value,
                                         Error **errp)
{
    nvmet_set_str(obj, "firmware", &NVMET_SUBSYSTEM(obj)->firmware, value,
                  errp);
}

static void nvmet_subsystem_get_ports(Object *obj, Visitor *v,
                                      const char *name, void *opaque,
                                      Error **errp)
{
    visit_type_strList(v, name, &NVMET_SUBSYSTEM(obj)->ports, errp);
}

static void nvmet_subsystem_set_ports(Object *obj, Visitor *v,
                                      const char *name, void *opaque,
                                      Error **errp)
{
    nvmet_set_strlist(obj, v, name, &NVMET_SUBSYSTEM(obj)->ports, errp);
}

static void nvmet_subsystem_get_iothreads(Object *obj, Visitor *v,
                                          const char *name, void *opaque,
                                          Error **errp)
{
    visit_type_strList(v, name, &NVMET_SUBSYSTEM(obj)->iothreads, errp);
}

static void nvmet_subsystem_set_iothreads(Object *obj, Visitor *v,
                                          const char *name, void *opaque,
                                          Error **errp)
{
    nvmet_set_strlist(obj, v, name, &NVMET_SUBSYSTEM(obj)->iothreads, errp);
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

static bool nvmet_subsystem_get_quirk(Object *obj, Error **errp)
{
    return NVMET_SUBSYSTEM(obj)->quirk_free_tls_key;
}

static void nvmet_subsystem_set_quirk(Object *obj, bool value, Error **errp)
{
    if (nvmet_check_mutable(obj, "quirk-free-tls-key", errp)) {
        NVMET_SUBSYSTEM(obj)->quirk_free_tls_key = value;
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

static void nvmet_subsystem_class_init(ObjectClass *oc, void *data)
{
    UserCreatableClass *ucc = USER_CREATABLE_CLASS(oc);
    NvmetObjectClass *noc = NVMET_OBJECT_CLASS(oc);

    noc->complete = nvmet_subsystem_complete;
    ucc->can_be_deleted = nvmet_subsystem_can_be_deleted;
    oc->unparent = nvmet_subsystem_unparent;

    object_class_property_add_str(oc, "nqn", nvmet_subsystem_get_nqn,
                                  nvmet_subsystem_set_nqn);
    object_class_property_set_description(oc, "nqn",
        "NVMe Qualified Name of the subsystem");
    object_class_property_add(oc, "ports", "strList",
                              nvmet_subsystem_get_ports,
                              nvmet_subsystem_set_ports, NULL, NULL);
    object_class_property_set_description(oc, "ports",
        "ids of the nvmet-port objects exporting the subsystem");
    object_class_property_add_bool(oc, "allow-any-host",
                                   nvmet_subsystem_get_allow_any_host,
                                   nvmet_subsystem_set_allow_any_host);
    object_class_property_set_description(oc, "allow-any-host",
        "admit every host NQN, not only the nvmet-host objects listing it");
    object_class_property_add_str(oc, "serial", nvmet_subsystem_get_serial,
                                  nvmet_subsystem_set_serial);
    object_class_property_set_description(oc, "serial",
        "serial number (default derived from the NQN)");
    object_class_property_add_str(oc, "model", nvmet_subsystem_get_model,
                                  nvmet_subsystem_set_model);
    object_class_property_set_description(oc, "model",
        "model number string");
    object_class_property_add_str(oc, "firmware",
                                  nvmet_subsystem_get_firmware,
                                  nvmet_subsystem_set_firmware);
    object_class_property_set_description(oc, "firmware",
        "firmware revision string");
    nvmet_class_add_uint32(oc, "cntlid-min",
        offsetof(NvmetSubsystemObject, cntlid_min),
        "lowest controller ID to hand out (default 1)");
    nvmet_class_add_uint32(oc, "cntlid-max",
        offsetof(NvmetSubsystemObject, cntlid_max),
        "highest controller ID to hand out (default 65519)");
    nvmet_class_add_uint32(oc, "max-namespaces",
        offsetof(NvmetSubsystemObject, max_namespaces),
        "number of namespace IDs (Identify NN, default 1024)");
    nvmet_class_add_uint32(oc, "ieee-oui",
        offsetof(NvmetSubsystemObject, ieee_oui),
        "IEEE OUI reported in Identify Controller");
    object_class_property_add(oc, "seed", "uint64", nvmet_subsystem_get_seed,
                              nvmet_subsystem_set_seed, NULL, NULL);
    object_class_property_set_description(oc, "seed",
        "seed making the target's random choices for this subsystem "
        "deterministic");
    object_class_property_add_bool(oc, "quirk-free-tls-key",
                                   nvmet_subsystem_get_quirk,
                                   nvmet_subsystem_set_quirk);
    object_class_property_set_description(oc, "quirk-free-tls-key",
        "reproduce the seed bug: forget a queue's TLS key when it "
        "authenticates (REPLACETLSPSK then fails)");
    object_class_property_add(oc, "iothreads", "strList",
                              nvmet_subsystem_get_iothreads,
                              nvmet_subsystem_set_iothreads, NULL, NULL);
    object_class_property_set_description(oc, "iothreads",
        "ids of iothreads that serve the I/O queues (queue N in iothread "
        "(N-1) modulo their number)");
}

/* ======================================================================== */
/* nvmet-host                                                               */
/* ======================================================================== */

static void nvmet_host_unparent(Object *obj);

/*
 * Load DH-HMAC-CHAP keys from secret objects into the engine.  The key text
 * only passes through here; it is wiped as soon as the engine parsed it.
 */
static bool nvmet_host_load_keys(NvmetHostObject *h, const char *secret,
                                 const char *ctrl_secret, Error **errp)
{
    ERRP_GUARD();
    const char *id = nvmet_object_id(OBJECT(h));
    g_autoptr(GError) gerr = NULL;
    char *hkey = NULL, *ckey = NULL;
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
        error_setg(errp, "nvmet-host '%s': %s", id, gerr->message);
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
static bool nvmet_host_load_psk(NvmetHostObject *h, const char *secret,
                                Error **errp)
{
    ERRP_GUARD();
    const char *id = nvmet_object_id(OBJECT(h));
    g_autoptr(GError) gerr = NULL;
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
        error_setg(errp, "nvmet-host '%s': tls-psk: %s", id, gerr->message);
        return false;
    }
    trace_nvmet_qemu_host_psk(id, secret ? secret : "");
    return true;
}

/*
 * QMP: new keys (ids of secret objects) for a host.  The properties go on
 * telling which secrets are in use.
 */
bool nvmet_host_object_set_dhchap_secrets(NvmetHostObject *h,
                                          const char *secret,
                                          const char *ctrl_secret,
                                          Error **errp)
{
    if (!nvmet_host_load_keys(h, secret, ctrl_secret, errp)) {
        return false;
    }
    g_free(h->dhchap_secret);
    h->dhchap_secret = g_strdup(secret);
    g_free(h->dhchap_ctrl_secret);
    h->dhchap_ctrl_secret = g_strdup(ctrl_secret);
    return true;
}

bool nvmet_host_object_set_tls_psk(NvmetHostObject *h, const char *secret,
                                   Error **errp)
{
    if (!nvmet_host_load_psk(h, secret, errp)) {
        return false;
    }
    g_free(h->tls_psk);
    h->tls_psk = g_strdup(secret);
    return true;
}

/* The hashes and DH groups the target may choose for the host. */
static void nvmet_host_set_allowed(NvmetHostObject *h)
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

static bool nvmet_host_complete(NvmetObject *obj, Error **errp)
{
    ERRP_GUARD();
    NvmetHostObject *h = NVMET_HOST(obj);
    const char *id = nvmet_object_id(OBJECT(h));
    g_autoptr(GPtrArray) subs = g_ptr_array_new();
    g_autoptr(GError) gerr = NULL;

    if (!h->nqn) {
        error_setg(errp, "nvmet-host '%s': property 'nqn' is required", id);
        return false;
    }
    for (strList *l = h->subsystems; l; l = l->next) {
        NvmetSubsystemObject *s = nvmet_subsystem_object_find(l->value, errp);

        if (!s) {
            error_prepend(errp, "nvmet-host '%s': subsystems: ", id);
            return false;
        }
        g_ptr_array_add(subs, s);
    }
    h->host = nvmet_host_new(nvmet_qemu_target(), h->nqn, &gerr);
    if (!h->host) {
        error_setg(errp, "nvmet-host '%s': %s", id, gerr->message);
        return false;
    }
    nvmet_host_set_tls_psk_compat(h->host, h->tls_psk_compat);
    if (!nvmet_host_load_keys(h, h->dhchap_secret, h->dhchap_ctrl_secret,
                              errp) ||
        (h->tls_psk && !nvmet_host_load_psk(h, h->tls_psk, errp))) {
        nvmet_host_free(h->host);
        h->host = NULL;
        return false;
    }
    nvmet_host_set_allowed(h);
    nvmet_host_set_dhchap_timeout(h->host, h->dhchap_timeout_ms);
    h->subsys_objs = g_ptr_array_new();
    for (unsigned i = 0; i < subs->len; i++) {
        NvmetSubsystemObject *s = g_ptr_array_index(subs, i);

        if (!nvmet_subsys_add_host(s->subsys, h->host, &gerr)) {
            error_setg(errp, "nvmet-host '%s': %s", id, gerr->message);
            nvmet_host_unparent(OBJECT(h));
            return false;
        }
        s->users++;
        object_ref(OBJECT(s));
        g_ptr_array_add(h->subsys_objs, s);
    }
    return true;
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

static char *nvmet_host_get_nqn(Object *obj, Error **errp)
{
    return nvmet_get_str(NVMET_HOST(obj)->nqn);
}

static void nvmet_host_set_nqn(Object *obj, const char *value, Error **errp)
{
    nvmet_set_str(obj, "nqn", &NVMET_HOST(obj)->nqn, value, errp);
}

static char *nvmet_host_get_dhchap_secret(Object *obj, Error **errp)
{
    return nvmet_get_str(NVMET_HOST(obj)->dhchap_secret);
}

static void nvmet_host_set_dhchap_secret(Object *obj, const char *value,
                                         Error **errp)
{
    nvmet_set_str(obj, "dhchap-secret", &NVMET_HOST(obj)->dhchap_secret,
                  value, errp);
}

static char *nvmet_host_get_dhchap_ctrl_secret(Object *obj, Error **errp)
{
    return nvmet_get_str(NVMET_HOST(obj)->dhchap_ctrl_secret);
}

static void nvmet_host_set_dhchap_ctrl_secret(Object *obj, const char *value,
                                              Error **errp)
{
    nvmet_set_str(obj, "dhchap-ctrl-secret",
                  &NVMET_HOST(obj)->dhchap_ctrl_secret, value, errp);
}

static char *nvmet_host_get_tls_psk_id(Object *obj, Error **errp)
{
    return nvmet_get_str(NVMET_HOST(obj)->tls_psk);
}

static void nvmet_host_set_tls_psk_id(Object *obj, const char *value,
                                   Error **errp)
{
    nvmet_set_str(obj, "tls-psk", &NVMET_HOST(obj)->tls_psk, value, errp);
}

static bool nvmet_host_get_psk_compat(Object *obj, Error **errp)
{
    return NVMET_HOST(obj)->tls_psk_compat;
}

static void nvmet_host_set_psk_compat(Object *obj, bool value, Error **errp)
{
    if (nvmet_check_mutable(obj, "tls-psk-compat", errp)) {
        NVMET_HOST(obj)->tls_psk_compat = value;
    }
}

static void nvmet_host_get_subsystems(Object *obj, Visitor *v,
                                      const char *name, void *opaque,
                                      Error **errp)
{
    visit_type_strList(v, name, &NVMET_HOST(obj)->subsystems, errp);
}

static void nvmet_host_set_subsystems(Object *obj, Visitor *v,
                                      const char *name, void *opaque,
                                      Error **errp)
{
    nvmet_set_strlist(obj, v, name, &NVMET_HOST(obj)->subsystems, errp);
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

static void nvmet_host_get_timeout(Object *obj, Visitor *v, const char *name,
                                   void *opaque, Error **errp)
{
    NvmetHostObject *h = NVMET_HOST(obj);
    uint32_t ms = h->dhchap_timeout_ms ? h->dhchap_timeout_ms :
                  NVMET_DHCHAP_TIMEOUT_MS_DEFAULT;

    visit_type_uint32(v, name, &ms, errp);
}

/* May change at run time: it applies from the host's next message on. */
static void nvmet_host_set_timeout(Object *obj, Visitor *v, const char *name,
                                   void *opaque, Error **errp)
{
    NvmetHostObject *h = NVMET_HOST(obj);
    uint32_t ms;

    if (!visit_type_uint32(v, name, &ms, errp)) {
        return;
    }
    if (!ms) {
        error_setg(errp, "nvmet-host '%s': %s must be at least 1",
                   nvmet_object_id(obj), name);
        return;
    }
    h->dhchap_timeout_ms = ms;
    if (h->host) {
        nvmet_host_set_dhchap_timeout(h->host, ms);
    }
}

static void nvmet_host_class_init(ObjectClass *oc, void *data)
{
    NvmetObjectClass *noc = NVMET_OBJECT_CLASS(oc);

    noc->complete = nvmet_host_complete;
    oc->unparent = nvmet_host_unparent;

    object_class_property_add_str(oc, "nqn", nvmet_host_get_nqn,
                                  nvmet_host_set_nqn);
    object_class_property_set_description(oc, "nqn",
        "NVMe Qualified Name of the host");
    object_class_property_add(oc, "subsystems", "strList",
                              nvmet_host_get_subsystems,
                              nvmet_host_set_subsystems, NULL, NULL);
    object_class_property_set_description(oc, "subsystems",
        "ids of the nvmet-subsystem objects the host may connect to");
    object_class_property_add_str(oc, "dhchap-secret",
                                  nvmet_host_get_dhchap_secret,
                                  nvmet_host_set_dhchap_secret);
    object_class_property_set_description(oc, "dhchap-secret",
        "id of a secret object with the host's DH-HMAC-CHAP key (DHHC-1)");
    object_class_property_add_str(oc, "dhchap-ctrl-secret",
                                  nvmet_host_get_dhchap_ctrl_secret,
                                  nvmet_host_set_dhchap_ctrl_secret);
    object_class_property_set_description(oc, "dhchap-ctrl-secret",
        "id of a secret object with the controller's DH-HMAC-CHAP key");
    object_class_property_add(oc, "dhchap-hashes", "NvmetDhchapHashList",
                              nvmet_host_get_hashes, nvmet_host_set_hashes,
                              NULL, NULL);
    object_class_property_set_description(oc, "dhchap-hashes",
        "DH-HMAC-CHAP hashes the target may choose (default all)");
    object_class_property_add_str(oc, "tls-psk", nvmet_host_get_tls_psk_id,
                                  nvmet_host_set_tls_psk_id);
    object_class_property_set_description(oc, "tls-psk",
        "id of a secret object with the host's TLS PSK (NVMeTLSkey-1)");
    object_class_property_add_bool(oc, "tls-psk-compat",
                                   nvmet_host_get_psk_compat,
                                   nvmet_host_set_psk_compat);
    object_class_property_set_description(oc, "tls-psk-compat",
        "derive the TLS PSK from tls-psk as nvme-cli 2.13 and older do");
    object_class_property_add(oc, "dhchap-dhgroups", "NvmetDhchapGroupList",
                              nvmet_host_get_groups, nvmet_host_set_groups,
                              NULL, NULL);
    object_class_property_set_description(oc, "dhchap-dhgroups",
        "DH-HMAC-CHAP Diffie-Hellman groups the target may choose "
        "(default all)");
    object_class_property_add(oc, "dhchap-timeout-ms", "uint32",
                              nvmet_host_get_timeout, nvmet_host_set_timeout,
                              NULL, NULL);
    object_class_property_set_description(oc, "dhchap-timeout-ms",
        "authentication timeout (ms): the wait for each DH-HMAC-CHAP "
        "message, and for a queue to authenticate (default 120000)");
}

/* ======================================================================== */
/* nvmet-namespace                                                          */
/* ======================================================================== */

/* The object is a shorthand for the block export (export.c). */
static bool nvmet_namespace_complete(NvmetObject *obj, Error **errp)
{
    return nvmet_namespace_export_add(NVMET_NAMESPACE(obj), errp);
}

static void nvmet_namespace_unparent(Object *obj)
{
    if (nvmet_object_ready(obj)) {
        nvmet_namespace_export_del(NVMET_NAMESPACE(obj));
    }
}

static void nvmet_namespace_finalize(Object *obj)
{
    NvmetNamespaceObject *ns = NVMET_NAMESPACE(obj);

    g_free(ns->subsystem);
    g_free(ns->node_name);
    g_free(ns->uuid);
    g_free(ns->nguid);
    g_free(ns->eui64);
    g_free(ns->iothread);
}

static char *nvmet_namespace_get_subsystem(Object *obj, Error **errp)
{
    return nvmet_get_str(NVMET_NAMESPACE(obj)->subsystem);
}

static void nvmet_namespace_set_subsystem(Object *obj, const char *value,
                                          Error **errp)
{
    nvmet_set_str(obj, "subsystem", &NVMET_NAMESPACE(obj)->subsystem, value,
                  errp);
}

static char *nvmet_namespace_get_node_name(Object *obj, Error **errp)
{
    return nvmet_get_str(NVMET_NAMESPACE(obj)->node_name);
}

static void nvmet_namespace_set_node_name(Object *obj, const char *value,
                                          Error **errp)
{
    nvmet_set_str(obj, "node-name", &NVMET_NAMESPACE(obj)->node_name, value,
                  errp);
}

static char *nvmet_namespace_get_uuid(Object *obj, Error **errp)
{
    return nvmet_get_str(NVMET_NAMESPACE(obj)->uuid);
}

static void nvmet_namespace_set_uuid(Object *obj, const char *value,
                                     Error **errp)
{
    nvmet_set_str(obj, "uuid", &NVMET_NAMESPACE(obj)->uuid, value, errp);
}

static char *nvmet_namespace_get_nguid(Object *obj, Error **errp)
{
    return nvmet_get_str(NVMET_NAMESPACE(obj)->nguid);
}

static void nvmet_namespace_set_nguid(Object *obj, const char *value,
                                      Error **errp)
{
    nvmet_set_str(obj, "nguid", &NVMET_NAMESPACE(obj)->nguid, value, errp);
}

static char *nvmet_namespace_get_eui64(Object *obj, Error **errp)
{
    return nvmet_get_str(NVMET_NAMESPACE(obj)->eui64);
}

static void nvmet_namespace_set_eui64(Object *obj, const char *value,
                                      Error **errp)
{
    nvmet_set_str(obj, "eui64", &NVMET_NAMESPACE(obj)->eui64, value, errp);
}

static bool nvmet_namespace_get_read_only(Object *obj, Error **errp)
{
    return NVMET_NAMESPACE(obj)->read_only;
}

static void nvmet_namespace_set_read_only(Object *obj, bool value,
                                          Error **errp)
{
    if (nvmet_check_mutable(obj, "read-only", errp)) {
        NVMET_NAMESPACE(obj)->read_only = value;
    }
}

static bool nvmet_namespace_get_writethrough(Object *obj, Error **errp)
{
    return NVMET_NAMESPACE(obj)->writethrough;
}

static void nvmet_namespace_set_writethrough(Object *obj, bool value,
                                             Error **errp)
{
    if (nvmet_check_mutable(obj, "writethrough", errp)) {
        NVMET_NAMESPACE(obj)->writethrough = value;
    }
}

static char *nvmet_namespace_get_iothread(Object *obj, Error **errp)
{
    return nvmet_get_str(NVMET_NAMESPACE(obj)->iothread);
}

static void nvmet_namespace_set_iothread(Object *obj, const char *value,
                                         Error **errp)
{
    nvmet_set_str(obj, "iothread", &NVMET_NAMESPACE(obj)->iothread, value,
                  errp);
}

static void nvmet_namespace_class_init(ObjectClass *oc, void *data)
{
    NvmetObjectClass *noc = NVMET_OBJECT_CLASS(oc);

    noc->complete = nvmet_namespace_complete;
    oc->unparent = nvmet_namespace_unparent;

    object_class_property_add_str(oc, "subsystem",
                                  nvmet_namespace_get_subsystem,
                                  nvmet_namespace_set_subsystem);
    object_class_property_set_description(oc, "subsystem",
        "id of the nvmet-subsystem the namespace belongs to");
    nvmet_class_add_uint32(oc, "nsid",
        offsetof(NvmetNamespaceObject, nsid), "namespace ID");
    object_class_property_add_str(oc, "node-name",
                                  nvmet_namespace_get_node_name,
                                  nvmet_namespace_set_node_name);
    object_class_property_set_description(oc, "node-name",
        "block node (-blockdev node-name) holding the data");
    nvmet_class_add_uint32(oc, "block-size",
        offsetof(NvmetNamespaceObject, block_size),
        "logical block size (default: the node's request alignment, "
        "at least 512)");
    object_class_property_add_bool(oc, "read-only",
                                   nvmet_namespace_get_read_only,
                                   nvmet_namespace_set_read_only);
    object_class_property_set_description(oc, "read-only",
        "export the namespace read-only");
    object_class_property_add_str(oc, "uuid", nvmet_namespace_get_uuid,
                                  nvmet_namespace_set_uuid);
    object_class_property_set_description(oc, "uuid",
        "namespace UUID (default derived from subsystem NQN and NSID)");
    object_class_property_add_str(oc, "nguid", nvmet_namespace_get_nguid,
                                  nvmet_namespace_set_nguid);
    object_class_property_set_description(oc, "nguid",
        "namespace globally unique identifier (32 hex digits)");
    object_class_property_add_str(oc, "eui64", nvmet_namespace_get_eui64,
                                  nvmet_namespace_set_eui64);
    object_class_property_set_description(oc, "eui64",
        "IEEE extended unique identifier (16 hex digits)");
    object_class_property_add_bool(oc, "writethrough",
                                   nvmet_namespace_get_writethrough,
                                   nvmet_namespace_set_writethrough);
    object_class_property_set_description(oc, "writethrough",
        "flush after every write (no volatile write cache)");
    object_class_property_add_str(oc, "iothread",
                                  nvmet_namespace_get_iothread,
                                  nvmet_namespace_set_iothread);
    object_class_property_set_description(oc, "iothread",
        "iothread to move the block node to");
}

/* ======================================================================== */

static void nvmet_object_class_init(ObjectClass *oc, void *data)
{
    UserCreatableClass *ucc = USER_CREATABLE_CLASS(oc);

    ucc->complete = nvmet_object_complete;
}

static const TypeInfo nvmet_types[] = {
    {
        .name = TYPE_NVMET_OBJECT,
        .parent = TYPE_OBJECT,
        .abstract = true,
        .instance_size = sizeof(NvmetObject),
        .class_size = sizeof(NvmetObjectClass),
        .class_init = nvmet_object_class_init,
        .interfaces = (InterfaceInfo[]) { { TYPE_USER_CREATABLE }, { } },
    }, {
        .name = TYPE_NVMET_PORT,
        .parent = TYPE_NVMET_OBJECT,
        .instance_size = sizeof(NvmetPortObject),
        .instance_init = nvmet_port_init,
        .instance_finalize = nvmet_port_finalize,
        .class_init = nvmet_port_class_init,
    }, {
        .name = TYPE_NVMET_SUBSYSTEM,
        .parent = TYPE_NVMET_OBJECT,
        .instance_size = sizeof(NvmetSubsystemObject),
        .instance_finalize = nvmet_subsystem_finalize,
        .class_init = nvmet_subsystem_class_init,
    }, {
        .name = TYPE_NVMET_HOST,
        .parent = TYPE_NVMET_OBJECT,
        .instance_size = sizeof(NvmetHostObject),
        .instance_finalize = nvmet_host_finalize,
        .class_init = nvmet_host_class_init,
    }, {
        .name = TYPE_NVMET_NAMESPACE,
        .parent = TYPE_NVMET_OBJECT,
        .instance_size = sizeof(NvmetNamespaceObject),
        .instance_finalize = nvmet_namespace_finalize,
        .class_init = nvmet_namespace_class_init,
    },
};

DEFINE_TYPES(nvmet_types)
