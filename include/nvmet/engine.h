/*
 * NVMe-oF TCP target protocol engine: public interface.
 *
 * The engine is "sans-IO": it never touches sockets, files, clocks or a
 * random number generator.  Its user (the QEMU glue in nvmet/, the unit
 * tests, the fuzzer) feeds it received bytes and events and collects bytes
 * to send and block I/O to perform.  Everything the engine needs from the
 * outside world comes through NvmetEngineOps.
 *
 * Object model (following Linux nvmet):
 *   NvmetTarget     the root; owns everything below
 *   NvmetPort       a transport address; exports some subsystems
 *   NvmetSubsys     an NVM subsystem (NQN) with namespaces and controllers
 *   NvmetNs         a namespace, backed by an opaque block backend
 *   NvmetHost       a host NQN that may be allowed into subsystems
 *   NvmetQueue      one NVMe/TCP connection = one submission/completion
 *                   queue pair: the transport's state (PDU parser, digests,
 *                   output, TLS session) around the request core's SQ
 *                   (controller, commands, authentication)
 *   NvmetCtrl       a controller: an admin queue plus its I/O queues
 *
 * Threads.  The engine may be driven from several threads at once:
 *   - each queue is served by one thread at a time: the nvmet_queue_*()
 *     calls for a queue and nvmet_io_complete() for its I/O come from the
 *     thread serving it (which may change between calls, as when a
 *     coroutine moves to another event loop), never concurrently;
 *   - different queues may be served by different threads in parallel;
 *   - every other function (configuration, timers, inspection) may be
 *     called from any thread.
 * The object model is protected by one lock inside the engine; the data
 * path of an I/O queue (PDUs, TLS records, digests, data copies, Read and
 * Write) runs in its own thread without taking it.  NvmetEngineOps
 * callbacks may come from any of those threads, with the engine's lock
 * held or not: they must be thread-safe and must not call the engine.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#ifndef NVMET_ENGINE_H
#define NVMET_ENGINE_H

#include <glib.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>

typedef struct NvmetTarget NvmetTarget;
typedef struct NvmetPort NvmetPort;
typedef struct NvmetSubsys NvmetSubsys;
typedef struct NvmetNs NvmetNs;
typedef struct NvmetHost NvmetHost;
typedef struct NvmetQueue NvmetQueue;
typedef struct NvmetCtrl NvmetCtrl;
typedef struct NvmetIo NvmetIo;

#define NVMET_ERROR nvmet_error_quark()
GQuark nvmet_error_quark(void);

/* ---- things the engine needs from its user ------------------------------ */

typedef struct NvmetEngineOps {
    /* Monotonic time in milliseconds. */
    int64_t (*now_ms)(void *opaque);
    /*
     * A queue has new output or I/O to perform, or must be closed, and the
     * change did not happen inside a call made for that queue (for example
     * a keep-alive timeout tearing down another queue of the controller, or
     * an asynchronous event).  The user should arrange to service it soon.
     */
    void (*queue_kick)(void *opaque, NvmetQueue *q, void *queue_opaque);
    /*
     * The earliest engine deadline changed; call nvmet_target_timer() at
     * (or after) @deadline_ms.  INT64_MAX means no deadline.
     */
    void (*timer_update)(void *opaque, int64_t deadline_ms);
    /* Fill @buf with @len random bytes (required). */
    void (*random_bytes)(void *opaque, void *buf, size_t len);
    /*
     * A TLS session established a secret: @line is one NSS key log line
     * ("LABEL <client random> <secret>", no newline).  NULL: no key log.
     */
    void (*tls_keylog)(void *opaque, NvmetQueue *q, void *queue_opaque,
                       const char *line);
    /*
     * Connect bound @q to a controller of the subsystem whose
     * NvmetSubsysConfig.opaque is @subsys_opaque as queue @qid (0: the
     * admin queue).  Called in the queue's thread; the user may move the
     * queue to another thread afterwards (NULL: no such interest).
     */
    void (*queue_bound)(void *opaque, NvmetQueue *q, void *queue_opaque,
                        void *subsys_opaque, uint16_t qid);
    /*
     * Nothing in the engine refers to a namespace's backend any more: no
     * I/O will be handed out for it (after nvmet_ns_free() and the end of
     * the requests and queues that used it).  Any thread.  NULL: none.
     */
    void (*backend_release)(void *opaque, void *backend);
} NvmetEngineOps;

NvmetTarget *nvmet_target_new(const NvmetEngineOps *ops, void *opaque);
/*
 * All ports, subsystems and hosts must have been removed and all queues
 * freed.
 */
void nvmet_target_free(NvmetTarget *t);
/* Process expired deadlines (keep-alive timeouts). */
void nvmet_target_timer(NvmetTarget *t);
int64_t nvmet_target_next_deadline(NvmetTarget *t);

/* ---- configuration ------------------------------------------------------ */

/* True if @nqn is syntactically acceptable as an NQN. */
bool nvmet_nqn_valid(const char *nqn, GError **errp);

/* TLS on a port, as nvmet's addr_treq/addr_tsas */
typedef enum NvmetPortTls {
    NVMET_PORT_TLS_NONE,         /* cleartext only */
    NVMET_PORT_TLS_ALLOWED,      /* TLS 1.3 or cleartext ("not required") */
    NVMET_PORT_TLS_REQUIRED,     /* TLS 1.3 only */
} NvmetPortTls;

typedef struct NvmetPortConfig {
    uint16_t portid;
    NvmetPortTls tls;
    const char *traddr;          /* numeric address, as put in discovery logs */
    const char *trsvcid;         /* port number, as a string */
    bool ipv6;
    uint8_t treq;                /* secure channel bits of TREQ */
    bool sqflow_disable_ok;      /* allow hosts to disable SQ flow control */
    uint32_t inline_data_size;   /* in-capsule data for I/O queues (bytes) */
    uint32_t maxh2cdata;         /* max H2CData payload (bytes) */
    uint16_t max_queue_size;     /* entries; CAP.MQES + 1 */
    uint32_t max_queues;         /* I/O queues per controller */
    /*
     * log2(max transfer / 4 KiB) as reported in Identify; 0 reports no
     * limit, and then transfers up to the queue's buffer budget (32 MiB)
     * are served.  Larger transfers fail with Invalid Field in Command.
     */
    uint8_t mdts;
} NvmetPortConfig;

/* Fill @cfg with defaults (traddr/trsvcid left NULL). */
void nvmet_port_config_init(NvmetPortConfig *cfg);
/* An NVMe/TCP port (the transport checks its settings, then the engine). */
NvmetPort *nvmet_port_new(NvmetTarget *t, const NvmetPortConfig *cfg,
                          GError **errp);
/* Tears down every queue that came in through this port. */
void nvmet_port_free(NvmetPort *port);
void nvmet_port_add_subsys(NvmetPort *port, NvmetSubsys *subsys);
void nvmet_port_remove_subsys(NvmetPort *port, NvmetSubsys *subsys);
const NvmetPortConfig *nvmet_port_config(NvmetPort *port);

typedef struct NvmetSubsysConfig {
    const char *nqn;
    const char *serial;          /* NULL: derived from the NQN */
    const char *model;           /* NULL: default model string */
    const char *firmware;        /* NULL: default */
    bool allow_any_host;
    uint16_t cntlid_min, cntlid_max;
    uint32_t ieee_oui;
    uint32_t version;            /* VS register; 0: default */
    uint32_t max_namespaces;     /* NN; 0: default */
    void *opaque;                /* the user's, for ops.queue_bound */
} NvmetSubsysConfig;

void nvmet_subsys_config_init(NvmetSubsysConfig *cfg);
NvmetSubsys *nvmet_subsys_new(NvmetTarget *t, const NvmetSubsysConfig *cfg,
                              GError **errp);
/* Tears down its controllers and removes its namespaces. */
void nvmet_subsys_free(NvmetSubsys *subsys);
NvmetSubsys *nvmet_subsys_find(NvmetTarget *t, const char *nqn);
const char *nvmet_subsys_nqn(NvmetSubsys *subsys);
void nvmet_subsys_set_allow_any_host(NvmetSubsys *subsys, bool allow);

NvmetHost *nvmet_host_new(NvmetTarget *t, const char *nqn, GError **errp);
/* Removes the host from all subsystems and disconnects its controllers. */
void nvmet_host_free(NvmetHost *host);
const char *nvmet_host_nqn(NvmetHost *host);
bool nvmet_subsys_add_host(NvmetSubsys *subsys, NvmetHost *host,
                           GError **errp);

/*
 * DH-HMAC-CHAP keys of a host, as DHHC-1 strings (NULL: none).  Without a
 * host key the host is not asked to authenticate; a controller key makes
 * bidirectional authentication possible.  The strings are parsed (CRC
 * checked) and copied; the caller wipes its copies.  New keys apply to the
 * next authentication; sessions already authenticated stay so.
 */
bool nvmet_host_set_dhchap_keys(NvmetHost *host, const char *host_key,
                                const char *ctrl_key, GError **errp);
/*
 * Hashes (bit 1 SHA-256, 2 SHA-384, 3 SHA-512) and DH groups (bit 0 null,
 * 1 ffdhe2048 ... 5 ffdhe8192) the target may choose for this host;
 * 0 means all.
 */
void nvmet_host_set_dhchap_allowed(NvmetHost *host, uint32_t hashes,
                                   uint32_t dhgroups);

/*
 * Make the random choices of the target for queues of this subsystem
 * (challenges, sequence numbers, DH private values) a deterministic
 * function of @seed and of the queue (host NQN, queue ID, and how many
 * times that queue was connected and authenticated before), independent
 * of the order in which queues and hosts interleave.  NULL: use
 * ops.random_bytes.
 */
void nvmet_subsys_set_seed(NvmetSubsys *subsys, const void *seed, size_t len);
/*
 * Quirk: drop a queue's TLS key when an authentication on it succeeds, as
 * Linux nvmet did before "nvmet-tcp: Don't free SQ on authentication
 * success": a later REPLACETLSPSK on that queue then fails with
 * CONCAT_MISMATCH.  For host-driver developers testing their error path.
 */
void nvmet_subsys_set_quirk_free_tls_key(NvmetSubsys *subsys, bool on);
/*
 * The host's configured TLS PSK in the interchange format
 * "NVMeTLSkey-1:HH:...:" (NULL: none).  Identities version 0 and 1 are
 * accepted for it.
 */
bool nvmet_host_set_tls_psk(NvmetHost *host, const char *interchange,
                            GError **errp);
/*
 * Derive the configured PSK as nvme-cli 2.13 and older (libnvme < 1.14)
 * did, not as RFC 8446 has it: for hosts with such an nvme-cli.
 */
void nvmet_host_set_tls_psk_compat(NvmetHost *host, bool on);

/* Overwrite a NUL-terminated secret string, then g_free() it. */
void nvmet_secret_str_free(char *s);
void nvmet_subsys_remove_host(NvmetSubsys *subsys, NvmetHost *host);

typedef struct NvmetNsConfig {
    uint32_t nsid;
    void *backend;               /* passed back in every NvmetIo */
    uint64_t size;               /* bytes */
    uint32_t block_size;         /* logical block size (power of 2, >= 512) */
    bool read_only;
    bool volatile_wc;            /* a volatile write cache is present */
    bool has_uuid;
    uint8_t uuid[16];
    bool has_nguid;
    uint8_t nguid[16];
    bool has_eui64;
    uint8_t eui64[8];
} NvmetNsConfig;

NvmetNs *nvmet_ns_new(NvmetSubsys *subsys, const NvmetNsConfig *cfg,
                      GError **errp);
/*
 * Removes the namespace (if its subsystem has not been freed already, which
 * also removes it), sends a namespace-changed event, and drops the
 * reference nvmet_ns_new() returned.  I/O already handed out or queued for
 * it still completes normally: the user keeps the backend alive until
 * ops.backend_release (or, without that op, until its queues are gone).
 */
void nvmet_ns_free(NvmetNs *ns);
void nvmet_ns_resize(NvmetNs *ns, uint64_t size);

/* ---- queues (connections) ----------------------------------------------- */

/*
 * A new connection arrived on @port.  @peer is a printable peer address
 * for traces and queries; @opaque is passed to ops->queue_kick.
 */
NvmetQueue *nvmet_queue_new(NvmetPort *port, const char *peer, void *opaque);
/*
 * The user is done with the queue (peer closed, I/O error, or the engine
 * asked to close).  I/O still in flight must still be completed with
 * nvmet_io_complete(); the queue memory goes away after that.
 */
void nvmet_queue_release(NvmetQueue *q);

/* Feed bytes received from the peer.  All bytes are consumed. */
void nvmet_queue_input(NvmetQueue *q, const void *buf, size_t len);

/*
 * Output: nvmet_queue_output() returns a pointer to the next contiguous
 * bytes to send (and their count; 0 when nothing is pending); after
 * sending n of them call nvmet_queue_output_advance(q, n).
 */
size_t nvmet_queue_output(NvmetQueue *q, const uint8_t **data);
void nvmet_queue_output_advance(NvmetQueue *q, size_t n);
/*
 * Gather up to @max pending output chunks into @iov (for writev); returns
 * the number filled.  Advance with nvmet_queue_output_advance() as above.
 */
int nvmet_queue_output_iov(NvmetQueue *q, struct iovec *iov, int max);

/* The engine wants the connection closed once output has been sent. */
bool nvmet_queue_wants_close(NvmetQueue *q);

/* Short description of the queue for traces: "peer qid N cntlid M". */
const char *nvmet_queue_name(NvmetQueue *q);
uint16_t nvmet_queue_qid(NvmetQueue *q);
NvmetCtrl *nvmet_queue_ctrl(NvmetQueue *q);

/* ---- block I/O requested by the engine ---------------------------------- */

typedef enum NvmetIoOp {
    NVMET_IO_READ,
    NVMET_IO_WRITE,
    NVMET_IO_FLUSH,
    NVMET_IO_WRITE_ZEROES,
    NVMET_IO_DISCARD,
} NvmetIoOp;

struct NvmetIo {
    NvmetIoOp op;
    void *backend;               /* NvmetNsConfig.backend */
    uint64_t offset;             /* bytes */
    uint64_t len;                /* bytes */
    void *buf;                   /* READ/WRITE data */
    bool fua;                    /* WRITE: force unit access */
    bool may_unmap;              /* WRITE_ZEROES: deallocation allowed */
    void *user;                  /* free for the user once handed out */
};

/* Next block I/O the user must perform for @q, or NULL. */
NvmetIo *nvmet_queue_next_io(NvmetQueue *q);
/* Report completion of @io: 0 or a negative errno. */
void nvmet_io_complete(NvmetIo *io, int ret);

/* ---- inspection (for QMP and tests) -------------------------------------- */

typedef struct NvmetCtrlInfo {
    uint16_t cntlid;
    const char *subnqn;
    const char *hostnqn;
    uint32_t kato_ms;
    uint16_t nr_io_queues;       /* connected I/O queues */
    bool enabled;
} NvmetCtrlInfo;

typedef struct NvmetQueueInfo {
    uint16_t qid;
    const char *peer;
    uint16_t sqsize;
    bool hdgst, ddgst;
    bool auth_required;          /* Connect asked the host to authenticate */
    bool authenticated;
    uint32_t auth_count;         /* successful (re)authentications */
    uint32_t auth_failures;
    uint8_t auth_hash;           /* of the last success; 0: none */
    uint8_t auth_dhgroup;
    bool tls;
    uint64_t data_buffers_allocated;    /* by the queue's buffer pool */
    uint64_t data_buffers_reused;
} NvmetQueueInfo;

/* Call @fn for every queue of the controller @cntlid of @subnqn. */
bool nvmet_target_ctrl_queues(NvmetTarget *t, const char *subnqn,
                              uint16_t cntlid,
                              void (*fn)(const NvmetQueueInfo *info,
                                         void *opaque),
                              void *opaque);

/* Call @fn for every live controller of every subsystem. */
void nvmet_target_foreach_ctrl(NvmetTarget *t,
                               void (*fn)(const NvmetCtrlInfo *info,
                                          void *opaque),
                               void *opaque);

#endif /* NVMET_ENGINE_H */
