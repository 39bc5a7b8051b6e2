/*
 * NVMe-oF TCP target: QEMU glue shared by the QOM objects and the server.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#ifndef NVMET_QEMU_H
#define NVMET_QEMU_H

#include "qom/object.h"
#include "qemu/coroutine.h"
#include "qemu/thread.h"
#include "io/net-listener.h"
#include "io/channel-socket.h"
#include "system/block-backend.h"
#include "system/iothread.h"
#include "nvmet/engine.h"
#include "qapi/qapi-types-nvmet.h"

#define TYPE_NVMET_OBJECT    "nvmet-object"
#define TYPE_NVMET_PORT      "nvmet-port"
#define TYPE_NVMET_SUBSYSTEM "nvmet-subsystem"
#define TYPE_NVMET_HOST      "nvmet-host"
#define TYPE_NVMET_NAMESPACE "nvmet-namespace"

OBJECT_DECLARE_TYPE(NvmetObject, NvmetObjectClass, NVMET_OBJECT)
OBJECT_DECLARE_SIMPLE_TYPE(NvmetPortObject, NVMET_PORT)
OBJECT_DECLARE_SIMPLE_TYPE(NvmetSubsystemObject, NVMET_SUBSYSTEM)
OBJECT_DECLARE_SIMPLE_TYPE(NvmetHostObject, NVMET_HOST)
OBJECT_DECLARE_SIMPLE_TYPE(NvmetNamespaceObject, NVMET_NAMESPACE)

typedef struct NvmetConn NvmetConn;
typedef struct NvmetCapture NvmetCapture;

/*
 * The abstract parent of the four nvmet-* types.  An object is ready once
 * its class's complete() made its engine counterpart: then other objects
 * may refer to it, and its creation-time properties no longer change.
 */
struct NvmetObject {
    Object parent_obj;
    bool ready;
};

struct NvmetObjectClass {
    ObjectClass parent_class;
    /* UserCreatable's complete(), for the type at hand */
    bool (*complete)(NvmetObject *obj, Error **errp);
};

static inline bool nvmet_object_ready(Object *obj)
{
    return NVMET_OBJECT(obj)->ready;
}

struct NvmetPortObject {
    NvmetObject parent_obj;

    /* properties */
    SocketAddress *addr;        /* where to listen; NULL: traddr/trsvcid */
    char *traddr;               /* NULL: the default (see nvmet-tcp.rst) */
    char *trsvcid;
    uint16_t portid;
    uint32_t inline_data_size;
    uint32_t maxh2cdata;
    uint32_t max_queue_size;
    uint32_t max_queues;
    uint32_t mdts;
    bool sqflow_disable;
    int tls;                    /* NvmetTlsMode */
    char *tls_keylog;
    uint32_t max_connections;   /* 0: the engine's default */
    uint32_t icreq_timeout_ms;  /* 0: the engine's default */
    char *pcap;

    /* state */
    /*
     * The object's id, for traces and events of its connections: finding
     * it again walks every child of /objects (one or more per host).
     */
    char *id;
    NvmetPort *port;
    FILE *keylog;
    QIONetListener *listener;
    QemuMutex conns_lock;       /* conns: connections run in iothreads */
    char *unix_path;            /* the UNIX socket this port created */
    dev_t unix_dev;
    ino_t unix_ino;
    QTAILQ_HEAD(, NvmetConn) conns;
    unsigned users;             /* subsystems exported on this port */
    NvmetCapture *capture;      /* capture.c */
};

struct NvmetSubsystemObject {
    NvmetObject parent_obj;

    char *nqn;
    strList *ports;
    bool allow_any_host;
    char *serial;
    char *model;
    char *firmware;
    uint32_t cntlid_min, cntlid_max;
    uint32_t max_namespaces;
    uint32_t ieee_oui;
    bool has_seed;
    uint64_t seed;
    bool quirk_free_tls_key;
    strList *iothreads;

    NvmetSubsys *subsys;
    GPtrArray *iothread_objs;   /* referenced IOThread, for I/O queues */
    GPtrArray *port_objs;       /* referenced NvmetPortObject */
    unsigned users;             /* namespaces and hosts referring to it */
};

struct NvmetHostObject {
    NvmetObject parent_obj;

    char *nqn;
    strList *subsystems;
    char *dhchap_secret;
    char *dhchap_ctrl_secret;
    NvmetDhchapHashList *dhchap_hashes;
    NvmetDhchapGroupList *dhchap_dhgroups;
    char *tls_psk;
    bool tls_psk_compat;
    uint32_t dhchap_timeout_ms;     /* 0: the engine's default */

    NvmetHost *host;
    GPtrArray *subsys_objs;     /* referenced NvmetSubsystemObject */
};

/* A shorthand for "block-export-add type=nvmet" (export.c) */
struct NvmetNamespaceObject {
    NvmetObject parent_obj;

    char *subsystem;
    uint32_t nsid;
    char *node_name;
    uint32_t block_size;
    bool read_only;
    char *uuid;
    char *nguid;
    char *eui64;
    bool writethrough;
    char *iothread;
};

/* server.c */
NvmetTarget *nvmet_qemu_target(void);
bool nvmet_qemu_port_listen(NvmetPortObject *p, Error **errp);
void nvmet_qemu_port_close(NvmetPortObject *p);
/* The iothread that serves I/O queue @qid of @s's controllers, or NULL */
IOThread *nvmet_subsystem_object_iothread(NvmetSubsystemObject *s,
                                          uint16_t qid);

/* export.c: the block backend behind an engine namespace */
typedef struct NvmetBackend NvmetBackend;
/* Perform a block request; 0 or a negative errno. */
int coroutine_fn nvmet_backend_co_io(NvmetBackend *be, NvmetIo *io);
/* The engine let go of the backend (any thread). */
void nvmet_backend_release(NvmetBackend *be);
/* The namespaces (exports) of @s, in the main loop */
typedef void NvmetNsFn(void *opaque, const char *export_id,
                       const char *node_name, NvmetNs *ns);
void nvmet_subsystem_object_foreach_ns(NvmetSubsystemObject *s,
                                       NvmetNsFn *fn, void *opaque);
/* -object nvmet-namespace: add and remove the export of the same id */
bool nvmet_namespace_export_add(NvmetNamespaceObject *ns, Error **errp);
void nvmet_namespace_export_del(NvmetNamespaceObject *ns);

/* listen.c */
bool nvmet_qemu_unix_listen(NvmetPortObject *p, const char *path,
                            Error **errp);
void nvmet_qemu_unix_remove(NvmetPortObject *p);
char *nvmet_qemu_peer_name(QIOChannelSocket *sioc);

/* objects.c: ready objects by id, for references between them and QMP */
NvmetPortObject *nvmet_port_object_find(const char *id, Error **errp);
/* the address hosts use (traddr/trsvcid, else what it listens on); NULL */
const char *nvmet_port_traddr(NvmetPortObject *p);
const char *nvmet_port_trsvcid(NvmetPortObject *p);
NvmetSubsystemObject *nvmet_subsystem_object_find(const char *id,
                                                  Error **errp);
NvmetHostObject *nvmet_host_object_find(const char *id, Error **errp);
/* Replace a host's keys at run time (the ids of secret objects, or NULL) */
bool nvmet_host_object_set_dhchap_secrets(NvmetHostObject *h,
                                          const char *secret,
                                          const char *ctrl_secret,
                                          Error **errp);
bool nvmet_host_object_set_tls_psk(NvmetHostObject *h, const char *secret,
                                   Error **errp);

/* capture.c: decrypted pcap capture of a port's connections */
bool nvmet_capture_start(NvmetPortObject *p, const char *file, Error **errp);
void nvmet_capture_stop(NvmetPortObject *p);
/* ops.capture */
void nvmet_capture_data(void *opaque, NvmetQueue *q, void *qopaque,
                        bool tx, const uint8_t *data, size_t len);
/* connections start and end (@p: the event's port, or NULL) */
void nvmet_capture_event(NvmetPortObject *p, const NvmetEvent *ev);
NvmetCaptureInfo *nvmet_capture_info(NvmetPortObject *p);

/* events.c: the engine's events as QMP events */
void nvmet_qemu_event(void *opaque, const NvmetEvent *ev);
/* ready ports, by their engine port (objects.c registers them) */
void nvmet_port_object_register(NvmetPortObject *p);
void nvmet_port_object_unregister(NvmetPortObject *p);
NvmetPortObject *nvmet_port_object_by_engine(NvmetPort *port);
/* events dropped by rate limiting, since QEMU started */
uint64_t nvmet_events_suppressed(void);
/* events.c: the glue's lock of everything events touch (any thread) */
void nvmet_events_lock(void);
void nvmet_events_unlock(void);
/* engine numbers -> QAPI enums (false: no such value) */
NvmetAuthConcat nvmet_qapi_concat(uint8_t sc_c);
bool nvmet_qapi_hash(uint8_t hash, NvmetDhchapHash *out);
bool nvmet_qapi_dhgroup(uint8_t group, NvmetDhchapGroup *out);

/* fault.c: the engine's fault event as NVMET_FAULT_FIRED */
void nvmet_fault_event_send(const NvmetEvent *ev, NvmetEventSource *src);

#endif
