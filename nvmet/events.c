/*
 * NVMe-oF TCP target: the engine's events as QMP events.
 *
 * The engine reports every protocol milestone through ops.event
 * (nvmet_qemu_event()); this file turns each into its QAPI event
 * (qapi/nvmet.json).  Adding an event is one entry in nvmet_event_map[]
 * and, for a new QAPI event, one function that fills its data.
 *
 * Rate limiting: a host can make the target emit events as fast as it can
 * open connections or send bad PDUs, and QEMU's monitor throttles only
 * the events listed in monitor/monitor.c (keeping the last of each
 * period, which would lose the order and count of milestones).  So the
 * glue limits them itself, per event name and host address, with a token
 * bucket: a burst of NVMET_EVENT_BURST events, refilled at
 * NVMET_EVENT_RATE per second.  Events beyond it are dropped and counted;
 * the next one sent for that name and address carries the count
 * ("suppressed"), and the total is in query-nvmet.
 *
 * Threads: the engine reports from the thread that serves a queue, which
 * is an iothread for the I/O queues of a subsystem with iothreads.  One
 * mutex (nvmet_events_lock) covers the rate-limit table, the port
 * registry and everything an event does in the glue (capture streams,
 * the fault objects' names), so that a port object cannot go away while
 * an event is about it; QAPI event emission itself is thread-safe.  Lock
 * order: the engine's target lock, then this one, then a capture's.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#include "qemu/osdep.h"
#include "qemu/timer.h"
#include "qemu/thread.h"
#include "qapi/qapi-events-nvmet.h"
#include "nvmet/proto.h"
#include "nvmet-qemu.h"
#include "trace.h"

#define NVMET_EVENT_BURST    100
#define NVMET_EVENT_RATE     10         /* events per second */
#define NVMET_EVENT_BUCKETS_MAX 4096    /* then idle buckets are pruned */

/* A token bucket of one event name and host address. */
typedef struct NvmetEventBucket {
    int64_t tokens_ms;          /* tokens, in 1/1000 of an event */
    int64_t last_ms;
    uint64_t suppressed;        /* dropped since the last one sent */
} NvmetEventBucket;

static GHashTable *nvmet_event_buckets;
static uint64_t nvmet_events_suppressed_total;
static QemuMutex nvmet_events_mutex;

static void __attribute__((__constructor__)) nvmet_events_init(void)
{
    qemu_mutex_init(&nvmet_events_mutex);
}

void nvmet_events_lock(void)
{
    qemu_mutex_lock(&nvmet_events_mutex);
}

void nvmet_events_unlock(void)
{
    qemu_mutex_unlock(&nvmet_events_mutex);
}

/* ---- where: the nvmet-port object of an engine port -------------------- */

/*
 * NvmetPort * -> NvmetPortObject *, for the ports that are ready.  Not a
 * walk of /objects: events also come while QEMU deletes its objects at
 * exit, when /objects may still list children that are already gone.
 */
static GHashTable *nvmet_port_objects;

void nvmet_port_object_register(NvmetPortObject *p)
{
    nvmet_events_lock();
    if (!nvmet_port_objects) {
        nvmet_port_objects = g_hash_table_new(NULL, NULL);
    }
    g_hash_table_insert(nvmet_port_objects, p->port, p);
    nvmet_events_unlock();
}

void nvmet_port_object_unregister(NvmetPortObject *p)
{
    nvmet_events_lock();
    if (nvmet_port_objects && p->port &&
        g_hash_table_lookup(nvmet_port_objects, p->port) == p) {
        g_hash_table_remove(nvmet_port_objects, p->port);
    }
    nvmet_events_unlock();
}

/* With nvmet_events_lock() held */
NvmetPortObject *nvmet_port_object_by_engine(NvmetPort *port)
{
    return port && nvmet_port_objects ?
           g_hash_table_lookup(nvmet_port_objects, port) : NULL;
}


/* ---- rate limiting ------------------------------------------------------ */

/* The host part of a peer ("addr:port" -> "addr"). */
static char *peer_host(const char *peer)
{
    const char *colon = peer ? strrchr(peer, ':') : NULL;

    if (!peer) {
        return g_strdup("");
    }
    return colon ? g_strndup(peer, colon - peer) : g_strdup(peer);
}

static gboolean bucket_idle(gpointer key, gpointer value, gpointer opaque)
{
    NvmetEventBucket *b = value;
    int64_t now = *(int64_t *)opaque;

    return !b->suppressed &&
           b->tokens_ms + (now - b->last_ms) * NVMET_EVENT_RATE >=
           NVMET_EVENT_BURST * 1000;
}

/*
 * May an event of @name from @peer be sent?  If so, *suppressed is the
 * number dropped before it.
 */
static bool nvmet_event_allowed(const char *name, const char *peer,
                                uint64_t *suppressed)
{
    int64_t now = qemu_clock_get_ms(QEMU_CLOCK_REALTIME);
    g_autofree char *host = peer_host(peer);
    g_autofree char *key = g_strdup_printf("%s %s", name, host);
    NvmetEventBucket *b;

    if (!nvmet_event_buckets) {
        nvmet_event_buckets = g_hash_table_new_full(g_str_hash, g_str_equal,
                                                    g_free, g_free);
    }
    b = g_hash_table_lookup(nvmet_event_buckets, key);
    if (!b) {
        if (g_hash_table_size(nvmet_event_buckets) >=
            NVMET_EVENT_BUCKETS_MAX) {
            g_hash_table_foreach_remove(nvmet_event_buckets, bucket_idle,
                                        &now);
        }
        b = g_new0(NvmetEventBucket, 1);
        b->tokens_ms = NVMET_EVENT_BURST * 1000;
        b->last_ms = now;
        g_hash_table_insert(nvmet_event_buckets, g_steal_pointer(&key), b);
    }
    b->tokens_ms = MIN(b->tokens_ms + (now - b->last_ms) * NVMET_EVENT_RATE,
                       NVMET_EVENT_BURST * 1000);
    b->last_ms = now;
    if (b->tokens_ms < 1000) {
        b->suppressed++;
        qatomic_inc(&nvmet_events_suppressed_total);
        trace_nvmet_qemu_event_suppressed(name, host, b->suppressed);
        return false;
    }
    b->tokens_ms -= 1000;
    *suppressed = b->suppressed;
    b->suppressed = 0;
    return true;
}

uint64_t nvmet_events_suppressed(void)
{
    return qatomic_read(&nvmet_events_suppressed_total);
}

/* ---- the QAPI events ----------------------------------------------------- */

/* The strings are borrowed for the duration of the send. */
static void fill_source(NvmetEventSource *s, const NvmetEvent *ev,
                        const char *port, uint64_t suppressed)
{
    s->port = (char *)port;
    s->peer = (char *)ev->peer;
    s->subnqn = (char *)ev->subnqn;
    s->hostnqn = (char *)ev->hostnqn;
    s->has_cntlid = ev->cntlid != 0;
    s->cntlid = ev->cntlid;
    s->has_qid = ev->has_qid;
    s->qid = ev->qid;
    s->has_suppressed = suppressed != 0;
    s->suppressed = suppressed;
}

typedef void NvmetEventSend(const NvmetEvent *ev, NvmetEventSource *src);

static void send_conn_accepted(const NvmetEvent *ev, NvmetEventSource *src)
{
    qapi_event_send_nvmet_connection_accepted(src);
}

static void send_conn_closed(const NvmetEvent *ev, NvmetEventSource *src)
{
    NvmetReasonEvent e = { .reason = (char *)ev->reason };

    *qapi_NvmetReasonEvent_base(&e) = *src;
    qapi_event_send_nvmet_connection_closed(&e);
}

static void send_queue_connected(const NvmetEvent *ev,
                                 NvmetEventSource *src)
{
    NvmetQueueConnectedEvent e = {
        .sqsize = ev->u.conn.sqsize,
        .auth_required = ev->u.conn.auth_required,
    };

    *qapi_NvmetQueueConnectedEvent_base(&e) = *src;
    qapi_event_send_nvmet_queue_connected(&e);
}

static void send_ctrl_created(const NvmetEvent *ev, NvmetEventSource *src)
{
    NvmetControllerCreatedEvent e = { .kato = ev->u.ctrl.kato_ms };

    *qapi_NvmetControllerCreatedEvent_base(&e) = *src;
    qapi_event_send_nvmet_controller_created(&e);
}

static void send_ctrl_enabled(const NvmetEvent *ev, NvmetEventSource *src)
{
    qapi_event_send_nvmet_controller_enabled(src);
}

static void send_ctrl_reset(const NvmetEvent *ev, NvmetEventSource *src)
{
    qapi_event_send_nvmet_controller_reset(src);
}

static void send_ctrl_shutdown(const NvmetEvent *ev, NvmetEventSource *src)
{
    qapi_event_send_nvmet_controller_shutdown(src);
}

static void send_ctrl_destroyed(const NvmetEvent *ev, NvmetEventSource *src)
{
    NvmetReasonEvent e = { .reason = (char *)ev->reason };

    *qapi_NvmetReasonEvent_base(&e) = *src;
    qapi_event_send_nvmet_controller_destroyed(&e);
}

NvmetAuthConcat nvmet_qapi_concat(uint8_t sc_c)
{
    switch (sc_c) {
    case NVME_AUTH_SECP_NOSC: return NVMET_AUTH_CONCAT_NONE;
    case NVME_AUTH_SECP_NEWTLSPSK: return NVMET_AUTH_CONCAT_NEWTLSPSK;
    case NVME_AUTH_SECP_REPLACETLSPSK: return NVMET_AUTH_CONCAT_REPLACETLSPSK;
    default: return NVMET_AUTH_CONCAT_UNKNOWN;
    }
}

bool nvmet_qapi_hash(uint8_t hash, NvmetDhchapHash *out)
{
    if (hash < 1 || hash > NVMET_DHCHAP_HASH__MAX) {
        return false;
    }
    *out = hash - 1;        /* 1 SHA-256, 2 SHA-384, 3 SHA-512 */
    return true;
}

bool nvmet_qapi_dhgroup(uint8_t group, NvmetDhchapGroup *out)
{
    if (group >= NVMET_DHCHAP_GROUP__MAX) {
        return false;
    }
    *out = group;           /* 0 null, 1 ffdhe2048 ... 5 ffdhe8192 */
    return true;
}

static void fill_auth(NvmetAuthInfoEvent *e, const NvmetEvent *ev,
                      NvmetEventSource *src)
{
    *qapi_NvmetAuthInfoEvent_base(e) = *src;
    e->transaction_id = ev->u.auth.tid;
    e->has_hash = nvmet_qapi_hash(ev->u.auth.hash, &e->hash);
    e->has_dhgroup = e->has_hash &&
                     nvmet_qapi_dhgroup(ev->u.auth.dhgroup, &e->dhgroup);
    e->sc_c = nvmet_qapi_concat(ev->u.auth.sc_c);
    e->bidirectional = ev->u.auth.bidi;
    e->successes = ev->u.auth.successes;
    e->failures = ev->u.auth.failures;
    e->key_generation = ev->u.auth.key_generation;
}

static void send_auth_success(const NvmetEvent *ev, NvmetEventSource *src)
{
    NvmetAuthInfoEvent e = { 0 };

    fill_auth(&e, ev, src);
    qapi_event_send_nvmet_auth_succeeded(&e);
}

static NvmetAuthFailureReason auth_reason(uint8_t code)
{
    switch (code) {
    case NVME_AUTH_FAIL_FAILED:
        return NVMET_AUTH_FAILURE_REASON_FAILED;
    case NVME_AUTH_FAIL_NOT_USABLE:
        return NVMET_AUTH_FAILURE_REASON_PROTOCOL_NOT_USABLE;
    case NVME_AUTH_FAIL_CONCAT_MISMATCH:
        return NVMET_AUTH_FAILURE_REASON_CONCAT_MISMATCH;
    case NVME_AUTH_FAIL_HASH_UNUSABLE:
        return NVMET_AUTH_FAILURE_REASON_HASH_UNUSABLE;
    case NVME_AUTH_FAIL_DHGROUP_UNUSABLE:
        return NVMET_AUTH_FAILURE_REASON_DHGROUP_UNUSABLE;
    case NVME_AUTH_FAIL_INCORRECT_PAYLOAD:
        return NVMET_AUTH_FAILURE_REASON_INCORRECT_PAYLOAD;
    case NVME_AUTH_FAIL_INCORRECT_MESSAGE:
        return NVMET_AUTH_FAILURE_REASON_INCORRECT_MESSAGE;
    default:
        return NVMET_AUTH_FAILURE_REASON_UNKNOWN;
    }
}

static void send_auth_failure(const NvmetEvent *ev, NvmetEventSource *src)
{
    NvmetAuthFailedEvent e = { .reason = (char *)ev->reason };

    fill_auth(qapi_NvmetAuthFailedEvent_base(&e), ev, src);
    switch (ev->u.auth.fail_source) {
    case NVMET_AUTH_FAIL_BY_TARGET:
        e.by = NVMET_AUTH_FAILURE_SOURCE_TARGET;
        break;
    case NVMET_AUTH_FAIL_BY_HOST:
        e.by = NVMET_AUTH_FAILURE_SOURCE_HOST;
        break;
    case NVMET_AUTH_FAIL_BY_TIMEOUT:
        e.by = NVMET_AUTH_FAILURE_SOURCE_TIMEOUT;
        break;
    }
    if (ev->u.auth.fail_source != NVMET_AUTH_FAIL_BY_TIMEOUT) {
        e.has_failure_reason = e.has_failure_code = true;
        e.failure_reason = auth_reason(ev->u.auth.fail_reason);
        e.failure_code = ev->u.auth.fail_reason;
    }
    qapi_event_send_nvmet_auth_failed(&e);
}

static void fill_tls(NvmetTlsEvent *e, const NvmetEvent *ev,
                     NvmetEventSource *src)
{
    *qapi_NvmetTlsEvent_base(e) = *src;
    e->identity = (char *)ev->u.tls.identity;
    /* the PSK is known once the identity was found (it has a serial) */
    e->has_psk = e->has_key_serial = ev->u.tls.key_serial != 0;
    e->psk = ev->u.tls.generated ? NVMET_TLS_PSK_KIND_GENERATED :
             NVMET_TLS_PSK_KIND_CONFIGURED;
    e->key_serial = ev->u.tls.key_serial;
    e->cipher = (char *)ev->u.tls.cipher;
    e->key_exchange = (char *)ev->u.tls.kx;
    e->version = (char *)ev->u.tls.version;
    e->alert = (char *)ev->u.tls.alert;
    e->has_alert_received = ev->u.tls.alert != NULL;
    e->alert_received = ev->u.tls.alert_received;
}

static void send_tls_done(const NvmetEvent *ev, NvmetEventSource *src)
{
    NvmetTlsEvent e = { 0 };

    fill_tls(&e, ev, src);
    qapi_event_send_nvmet_tls_handshake_done(&e);
}

static void send_tls_failed(const NvmetEvent *ev, NvmetEventSource *src)
{
    NvmetTlsFailedEvent e = { .reason = (char *)ev->reason };

    fill_tls(qapi_NvmetTlsFailedEvent_base(&e), ev, src);
    qapi_event_send_nvmet_tls_handshake_failed(&e);
}

static void fill_psk(NvmetPskEvent *e, const NvmetEvent *ev,
                     NvmetEventSource *src)
{
    *qapi_NvmetPskEvent_base(e) = *src;
    e->identity = (char *)ev->u.psk.identity;
    nvmet_qapi_hash(ev->u.psk.hash, &e->hash);
    e->key_serial = ev->u.psk.key_serial;
    e->has_replaced_key_serial = ev->u.psk.old_key_serial != 0;
    e->replaced_key_serial = ev->u.psk.old_key_serial;
}

static void send_psk_generated(const NvmetEvent *ev, NvmetEventSource *src)
{
    NvmetPskEvent e = { 0 };

    fill_psk(&e, ev, src);
    qapi_event_send_nvmet_tls_psk_generated(&e);
}

static void send_psk_replaced(const NvmetEvent *ev, NvmetEventSource *src)
{
    NvmetPskEvent e = { 0 };

    fill_psk(&e, ev, src);
    qapi_event_send_nvmet_tls_psk_replaced(&e);
}

static void send_transport_error(const NvmetEvent *ev,
                                 NvmetEventSource *src)
{
    NvmetTransportErrorEvent e = {
        .fes = ev->u.fatal.fes,
        .has_fei = ev->u.fatal.has_fei,
        .fei = ev->u.fatal.fei,
        .reason = (char *)ev->reason,
    };

    *qapi_NvmetTransportErrorEvent_base(&e) = *src;
    qapi_event_send_nvmet_transport_error(&e);
}

/*
 * Engine event -> QAPI event.  @send NULL: traced only (authentication
 * steps are too fine-grained for QMP).
 */
static NvmetEventSend *const nvmet_event_map[NVMET_EVENT__MAX] = {
    [NVMET_EVENT_CONN_ACCEPTED] = send_conn_accepted,
    [NVMET_EVENT_CONN_CLOSED] = send_conn_closed,
    [NVMET_EVENT_QUEUE_CONNECTED] = send_queue_connected,
    [NVMET_EVENT_CTRL_CREATED] = send_ctrl_created,
    [NVMET_EVENT_CTRL_ENABLED] = send_ctrl_enabled,
    [NVMET_EVENT_CTRL_RESET] = send_ctrl_reset,
    [NVMET_EVENT_CTRL_SHUTDOWN] = send_ctrl_shutdown,
    [NVMET_EVENT_CTRL_DESTROYED] = send_ctrl_destroyed,
    [NVMET_EVENT_AUTH_STEP] = NULL,
    [NVMET_EVENT_AUTH_SUCCESS] = send_auth_success,
    [NVMET_EVENT_AUTH_FAILURE] = send_auth_failure,
    [NVMET_EVENT_TLS_DONE] = send_tls_done,
    [NVMET_EVENT_TLS_FAILED] = send_tls_failed,
    [NVMET_EVENT_PSK_GENERATED] = send_psk_generated,
    [NVMET_EVENT_PSK_REPLACED] = send_psk_replaced,
    [NVMET_EVENT_TRANSPORT_ERROR] = send_transport_error,
    [NVMET_EVENT_FAULT] = nvmet_fault_event_send,
};

/* ops.event of the engine */
void nvmet_qemu_event(void *opaque, const NvmetEvent *ev)
{
    const char *name = nvmet_event_type_name(ev->type);
    NvmetEventSend *send = ev->type < NVMET_EVENT__MAX ?
                           nvmet_event_map[ev->type] : NULL;
    NvmetEventSource src = { 0 };
    uint64_t suppressed = 0;
    NvmetPortObject *p;
    const char *port;

    /* any thread (see the top of the file) */
    nvmet_events_lock();
    p = nvmet_port_object_by_engine(ev->port);
    port = p ? p->id : NULL;
    trace_nvmet_qemu_event(name, port ? port : "-", ev->peer ? ev->peer : "-",
                           ev->cntlid, ev->has_qid ? ev->qid : -1,
                           ev->reason ? ev->reason : "");
    nvmet_capture_event(p, ev);
    if (send && nvmet_event_allowed(name, ev->peer, &suppressed)) {
        fill_source(&src, ev, port, suppressed);
        send(ev, &src);
    }
    nvmet_events_unlock();
}
