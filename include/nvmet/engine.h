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
typedef struct NvmetEvent NvmetEvent;

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
    /*
     * A protocol milestone (NvmetEvent below): connections, controllers,
     * authentication, TLS, generated PSKs, fatal transport errors.  Called
     * synchronously from inside the engine, in the order things happen;
     * the callee must not call back into the engine except for
     * nvmet_queue_set_capture().  NULL: no events.
     */
    void (*event)(void *opaque, const NvmetEvent *ev);
    /*
     * Decrypted capture of a queue (nvmet_queue_set_capture()): @len
     * cleartext NVMe/TCP bytes that were received (@tx false: as fed to
     * the PDU parser, after TLS decryption) or sent (@tx true: as handed
     * over, before TLS encryption).  Each direction starts at a PDU
     * boundary.  NULL: no capture.
     */
    void (*capture)(void *opaque, NvmetQueue *q, void *queue_opaque,
                    bool tx, const uint8_t *data, size_t len);
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

/*
 * Limits on a port's connections, like the authentication timeout, for
 * hosts that connect and then say nothing:
 * - at most @max live connections (0: the default); the next one is
 *   closed as soon as it is made, before it may send anything;
 * - a connection must have sent its ICReq (on a TLS port: finished the
 *   handshake and sent its ICReq) @ms milliseconds after it was made
 *   (0: the default), and a successful Connect @ms after its ICReq, else
 *   it is closed.  A new timeout applies to deadlines set from then on.
 * Each refusal and each timeout is traced and counted.
 */
#define NVMET_PORT_MAX_CONNECTIONS_DEFAULT  1024
#define NVMET_ICREQ_TIMEOUT_MS_DEFAULT      30000
void nvmet_port_set_max_connections(NvmetPort *port, uint32_t max);
void nvmet_port_set_icreq_timeout(NvmetPort *port, uint32_t ms);

typedef struct NvmetPortStats {
    uint32_t connections;           /* live connections */
    uint32_t draining;              /* closed, block I/O still running */
    uint64_t connections_refused;   /* over max connections */
    uint64_t icreq_timeouts;        /* closed: no ICReq in time */
} NvmetPortStats;

void nvmet_port_get_stats(NvmetPort *port, NvmetPortStats *stats);

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
#define NVMET_DHCHAP_TIMEOUT_MS_DEFAULT 120000

/*
 * How long the target waits for each message of the host's
 * authentication transactions, and for a queue of the host that must
 * authenticate to do so after its Connect (then the queue is closed);
 * 0: the default, 120 s.  Applies from the next message on.
 */
void nvmet_host_set_dhchap_timeout(NvmetHost *host, uint32_t ms);

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
/* The namespace's settings (size and block size as in effect now). */
const NvmetNsConfig *nvmet_ns_config(NvmetNs *ns);

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

/*
 * Feed bytes received from the peer.  All bytes are consumed; once the
 * engine closed the queue (nvmet_queue_wants_close()) they are dropped.
 */
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

/*
 * Start (@on) or stop passing the queue's cleartext bytes to ops.capture.
 * Capture starts at the next PDU boundary of each direction, so that the
 * captured stream of a running connection is well-formed from its first
 * byte on.
 */
void nvmet_queue_set_capture(NvmetQueue *q, bool on);
/*
 * Why the user is about to release the queue (the host closed the
 * connection, a socket error), for the "connection closed" event; a
 * reason the engine had already (it asked to close) takes precedence.
 */
void nvmet_queue_note_close(NvmetQueue *q, const char *why);

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

/* ---- events (ops.event) -------------------------------------------------- */

/*
 * The steps of a queue's DH-HMAC-CHAP state machine (auth.c): what the
 * target expects next.
 */
typedef enum NvmetAuthStep {
    NVMET_AUTH_STEP_IDLE,        /* no transaction: a Negotiate may come */
    NVMET_AUTH_STEP_CHALLENGE,   /* negotiated: the challenge is due */
    NVMET_AUTH_STEP_REPLY,       /* challenge sent: waiting for the reply */
    NVMET_AUTH_STEP_SUCCESS1,    /* reply verified: success1 is due */
    NVMET_AUTH_STEP_SUCCESS2,    /* success1 sent: waiting for success2 */
    NVMET_AUTH_STEP_FAILURE1,    /* failed: failure1 is due */
} NvmetAuthStep;

/* Who ended an authentication transaction with a failure. */
typedef enum NvmetAuthFailSource {
    NVMET_AUTH_FAIL_BY_TARGET,   /* the target: AUTH_Failure1 (reason) */
    NVMET_AUTH_FAIL_BY_HOST,     /* the host: AUTH_Failure2 (its reason) */
    NVMET_AUTH_FAIL_BY_TIMEOUT,  /* the host did not go on in time */
} NvmetAuthFailSource;

/*
 * Adding an event: a value here, the fields it needs in NvmetEvent's
 * union, an nvmet_event_*() call where it happens (nvmet/engine/event.h),
 * and one mapping in the user (QEMU: nvmet/events.c).
 */
typedef enum NvmetEventType {
    NVMET_EVENT_CONN_ACCEPTED,   /* a connection arrived (nvmet_queue_new) */
    NVMET_EVENT_CONN_CLOSED,     /* the user released it; reason */
    NVMET_EVENT_QUEUE_CONNECTED, /* Connect bound it to a controller: u.conn */
    NVMET_EVENT_CTRL_CREATED,    /* admin Connect made a controller: u.ctrl */
    NVMET_EVENT_CTRL_ENABLED,    /* CC.EN 0 -> 1, CSTS.RDY set */
    NVMET_EVENT_CTRL_RESET,      /* CC.EN 1 -> 0 */
    NVMET_EVENT_CTRL_SHUTDOWN,   /* CC.SHN set: shutdown complete */
    NVMET_EVENT_CTRL_DESTROYED,  /* torn down; reason */
    NVMET_EVENT_AUTH_STEP,       /* the DH-HMAC-CHAP state moved: u.auth */
    NVMET_EVENT_AUTH_SUCCESS,    /* u.auth */
    NVMET_EVENT_AUTH_FAILURE,    /* u.auth, reason */
    NVMET_EVENT_TLS_DONE,        /* handshake completed: u.tls */
    NVMET_EVENT_TLS_FAILED,      /* handshake or record layer: u.tls, reason */
    NVMET_EVENT_PSK_GENERATED,   /* NEWTLSPSK made a generated PSK: u.psk */
    NVMET_EVENT_PSK_REPLACED,    /* REPLACETLSPSK replaced it: u.psk */
    NVMET_EVENT_TRANSPORT_ERROR, /* C2HTermReq sent: u.fatal, reason */
    NVMET_EVENT_FAULT,           /* an injected fault fired: u.fault, reason */
    NVMET_EVENT__MAX
} NvmetEventType;

struct NvmetEvent {
    NvmetEventType type;

    /*
     * Where: the parts that exist at that moment (NULL, 0 or has_qid
     * false otherwise).  The strings live as long as the call.
     */
    NvmetPort *port;
    NvmetQueue *queue;           /* NULL: an event of a controller only */
    void *queue_opaque;          /* as given to nvmet_queue_new() */
    const char *peer;
    const char *subnqn;
    const char *hostnqn;
    uint16_t cntlid;             /* 0: no controller (yet) */
    bool has_qid;
    uint16_t qid;

    const char *reason;          /* why, in words (NULL: not applicable) */

    union {
        struct {                 /* QUEUE_CONNECTED */
            uint16_t sqsize;
            bool auth_required;
        } conn;
        struct {                 /* CTRL_CREATED */
            uint32_t kato_ms;
        } ctrl;
        struct {                 /* AUTH_STEP, AUTH_SUCCESS, AUTH_FAILURE */
            NvmetAuthStep step;  /* AUTH_STEP: the new step */
            NvmetAuthStep old_step;
            uint16_t tid;
            uint8_t sc_c;        /* NVME_AUTH_SECP_{NOSC,NEWTLSPSK,...} */
            uint8_t hash;        /* NVMET_HASH_*, 0: not negotiated */
            uint8_t dhgroup;     /* NVMET_DH_* */
            bool bidi;
            uint32_t successes;  /* the queue's counts, after this one */
            uint32_t failures;
            uint32_t key_generation;
            NvmetAuthFailSource fail_source;    /* AUTH_FAILURE */
            uint8_t fail_reason; /* NVME_AUTH_FAIL_*, AUTH_FAILURE */
        } auth;
        struct {                 /* TLS_DONE, TLS_FAILED */
            const char *identity;      /* NULL: none presented yet */
            bool generated;      /* a generated (concatenation) PSK */
            uint8_t hash;        /* of the PSK: 1 SHA-256, 2 SHA-384 */
            uint32_t key_serial;
            const char *cipher;  /* TLS_DONE: "TLS_AES_128_GCM_SHA256" */
            const char *kx;      /* TLS_DONE: "DHE-PSK", "PSK", ... */
            const char *version; /* TLS_DONE: "TLS1.3" */
            const char *alert;   /* TLS_FAILED: alert name, or NULL */
            bool alert_received; /* ... received from the host */
        } tls;
        struct {                 /* PSK_GENERATED, PSK_REPLACED */
            const char *identity;
            uint8_t hash;        /* 1 SHA-256, 2 SHA-384 */
            uint32_t key_serial;
            uint32_t old_key_serial;   /* 0: none was replaced */
        } psk;
        struct {                 /* TRANSPORT_ERROR */
            uint16_t fes;        /* NVME_TCP_FES_* */
            bool has_fei;        /* FEI means something for this FES */
            uint32_t fei;
        } fatal;
        struct {                 /* FAULT (include/nvmet/fault.h) */
            uint32_t id;
            unsigned point;      /* NvmetFaultPoint */
            unsigned action;     /* NvmetFaultAct */
            const char *step;    /* their names */
            const char *action_name;
        } fault;
    } u;
};

/* A stable lower-case name for an event type ("conn-accepted", ...). */
const char *nvmet_event_type_name(NvmetEventType type);

/* ---- inspection (for QMP and tests) -------------------------------------- */

typedef struct NvmetCtrlInfo {
    uint16_t cntlid;
    const char *subnqn;
    const char *hostnqn;
    NvmetPort *port;             /* the port of its admin queue */
    uint32_t kato_ms;
    uint16_t nr_io_queues;       /* connected I/O queues */
    uint16_t max_io_queues;      /* granted (Set Features Number of Queues) */
    bool enabled;                /* CSTS.RDY */
    bool cc_en;                  /* CC.EN */
    bool fatal;                  /* CSTS.CFS */
    uint8_t shn;                 /* CC.SHN: 0 none, 1 normal, 2 abrupt */
    uint8_t shst;                /* CSTS.SHST: 0 normal, 1 occurring, 2 done */
    bool discovery;              /* a discovery controller */
} NvmetCtrlInfo;

typedef struct NvmetQueueInfo {
    NvmetQueue *queue;
    uint16_t qid;
    uint16_t cntlid;             /* 0: not connected (yet) */
    const char *subnqn;          /* NULL: not connected (yet) */
    const char *hostnqn;
    const char *peer;
    uint16_t sqsize;
    bool hdgst, ddgst;
    uint32_t inflight;           /* commands received, not yet completed */
    uint64_t cmds;               /* commands completed */
    uint64_t cmd_errors;         /* ... with an error status */
    uint64_t bytes_received;     /* on the connection (TLS records included) */
    uint64_t bytes_sent;
    uint64_t pdu_bytes_received; /* NVMe/TCP PDU bytes (decrypted) */
    uint64_t pdu_bytes_sent;
    bool capturing;              /* nvmet_queue_set_capture() */

    /* DH-HMAC-CHAP */
    bool auth_required;          /* Connect asked the host to authenticate */
    bool authenticated;
    uint32_t auth_count;         /* successful (re)authentications */
    uint32_t auth_failures;
    uint8_t auth_hash;           /* of the last success; 0: none */
    uint8_t auth_dhgroup;
    NvmetAuthStep auth_step;     /* now */
    bool auth_has_tid;           /* a transaction was negotiated */
    uint16_t auth_tid;           /* of the last transaction */
    uint8_t auth_sc_c;           /* SC_C of the last transaction */
    bool auth_bidi;              /* the last transaction was bidirectional */
    uint32_t auth_key_generation; /* of the host's keys, last transaction */

    /* TLS */
    bool tls;                    /* the connection runs over TLS */
    bool tls_has_key;            /* it holds its PSK (REPLACETLSPSK) */
    const char *tls_identity;    /* PSK identity of the handshake */
    bool tls_generated;          /* a generated (concatenation) PSK */
    uint8_t tls_hash;            /* of the PSK: 1 SHA-256, 2 SHA-384 */
    uint32_t tls_key_serial;
    const char *tls_cipher;      /* "TLS_AES_128_GCM_SHA256" ... */
    const char *tls_kx;          /* "DHE-PSK", "ECDHE-PSK", "PSK" */
    const char *tls_version;     /* "TLS1.3" */
    uint64_t data_buffers_allocated;    /* by the queue's buffer pool */
    uint64_t data_buffers_reused;
} NvmetQueueInfo;

/* Call @fn for every queue of the controller @cntlid of @subnqn. */
bool nvmet_target_ctrl_queues(NvmetTarget *t, const char *subnqn,
                              uint16_t cntlid,
                              void (*fn)(const NvmetQueueInfo *info,
                                         void *opaque),
                              void *opaque);

/*
 * Call @fn for every connection of @port, connected to a controller or
 * not (yet).
 */
void nvmet_port_foreach_queue(NvmetPort *port,
                              void (*fn)(const NvmetQueueInfo *info,
                                         void *opaque),
                              void *opaque);

/*
 * The PSKs generated by secure channel concatenation, one per (host,
 * subsystem): names and numbers only, never the key.
 */
typedef struct NvmetGenPskInfo {
    const char *hostnqn;
    const char *subnqn;
    const char *identity;        /* "NVMe1Ghh hostnqn subnqn digest" */
    uint8_t hash;                /* 1 SHA-256, 2 SHA-384 */
    uint32_t key_serial;
    int64_t generated_ms;        /* ops.now_ms when it was generated */
    int64_t expires_ms;          /* ... and when it expires */
    uint32_t replaced;           /* REPLACETLSPSKs since the NEWTLSPSK */
    uint8_t sc_c;                /* NEWTLSPSK or REPLACETLSPSK made it */
    uint16_t cntlid;             /* the controller whose queue made it */
} NvmetGenPskInfo;

/* Call @fn for every generated PSK that has not expired. */
void nvmet_target_foreach_gen_psk(NvmetTarget *t,
                                  void (*fn)(const NvmetGenPskInfo *info,
                                             void *opaque),
                                  void *opaque);

/* Call @fn for every live controller of every subsystem. */
void nvmet_target_foreach_ctrl(NvmetTarget *t,
                               void (*fn)(const NvmetCtrlInfo *info,
                                          void *opaque),
                               void *opaque);

#endif /* NVMET_ENGINE_H */
