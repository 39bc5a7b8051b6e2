/*
 * NVMe-oF target engine, request core: submission queues (SQs) and their
 * requests, and the ops through which the core talks to a transport.
 *
 * The request core is two files.  req.c (this header) is the life cycle
 * that command handlers, controllers and transports call into: request
 * slots, data buffers and the per-queue buffer budget, block I/O, and
 * completion.  core.c (core.h) starts commands: the single
 * authentication gate and the dispatch to the command sets, and sets up
 * and tears down SQs.  Command handlers call req.c, core.c calls the
 * handlers, so neither depends on the other in a circle.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#ifndef NVMET_ENGINE_REQ_H
#define NVMET_ENGINE_REQ_H

#include "nvmet.h"
#include "bufpool.h"

typedef struct NvmetDh NvmetDh;             /* crypto.h */

/* ---- the transport, as the core sees it ------------------------------- */

/*
 * What a transport provides to the request core, in the spirit of Linux
 * nvmet's struct nvmet_fabrics_ops.  Every call is made for an SQ the
 * transport set up with nvmet_sq_init(); the transport embeds the NvmetSq
 * in its own per-connection state.
 */
typedef struct NvmetTransportOps {
    /*
     * Send the completion of @req: req->cqe is filled in; a successful
     * command with controller-to-host data also sends req->buf.  The
     * transport may take the buffer (nvmet_req_take_buf()) and give it
     * back with nvmet_sq_buf_put() once the data is sent.
     */
    void (*queue_response)(NvmetReq *req);
    /*
     * @req has its data buffer (nvmet_req_alloc_data(), at once or after
     * waiting for the queue's buffer budget): fetch host-to-controller
     * data (NVMe/TCP: send an R2T), then, or for controller-to-host
     * data at once, nvmet_req_execute().
     */
    void (*buffer_ready)(NvmetReq *req);
    /* nvmet_sq_close(): stop reading commands and have the user close. */
    void (*close)(NvmetSq *sq);
    /* The queue has new output or I/O: tell the engine's user. */
    void (*kick)(NvmetSq *sq);
    /* Connect bound the SQ to a controller (tell the user). */
    void (*bound)(NvmetSq *sq);
    /*
     * Fatal transport error (fault injection): end the connection the
     * transport's way (NVMe/TCP: a C2HTermReq with @fes and @fei).
     */
    void (*fatal)(NvmetSq *sq, uint16_t fes, uint32_t fei, const char *why);
    /* Transport details of the queue for nvmet_target_ctrl_queues(). */
    void (*queue_info)(NvmetSq *sq, NvmetQueueInfo *info);
    /*
     * The SQ was released and the last request is gone: free the
     * transport's state, which contains the SQ.
     */
    void (*free)(NvmetSq *sq);
} NvmetTransportOps;

/* ---- requests ----------------------------------------------------------- */

typedef enum NvmetReqState {
    REQ_FREE,
    REQ_WAIT_BUF,           /* waits for buffer budget */
    REQ_WAIT_DATA,          /* R2T sent, receiving H2CData */
    REQ_EXEC,               /* executing: I/O or waiting for an event */
} NvmetReqState;

typedef void NvmetReqFn(NvmetReq *req);

/* A block I/O of a request, as the engine keeps it. */
typedef struct NvmetIoPriv {
    NvmetIo io;
    struct NvmetIoPriv *next;   /* in the SQ's io_queue */
    NvmetReq *req;
    NvmetNs *ns_ref;            /* a reference held for this I/O, or NULL */
    bool handed_out;
    bool embedded;              /* the request's io_embedded */
} NvmetIoPriv;

/*
 * A fault that fired (fault.c): which, and the parameters of its action,
 * copied so that they outlive a nvmet_fault_del() of the fault.
 */
typedef struct NvmetFaultHit {
    uint32_t id;                /* 0: none */
    uint8_t point;              /* NvmetFaultPoint */
    uint8_t action;             /* NvmetFaultAct */
    bool after_response;
    uint8_t reason;
    uint8_t alert;
    uint16_t status;
    uint16_t fes;
    uint32_t fei;
    uint32_t delay_ms;
    uint32_t aen;
} NvmetFaultHit;

struct NvmetReq {
    NvmetSq *sq;
    NvmetReqState state;
    uint16_t ttag;              /* index in sq->reqs */
    uint8_t sqe[NVME_SQE_SIZE];
    uint16_t cid;
    uint8_t opc;
    uint32_t nsid;
    NvmetNs *ns;                /* referenced */
    NvmetReqFn *exec;           /* the handler nvmet_req_init() routed to */
    bool keep_alive;            /* the command restarts the keep-alive timer */

    /* data */
    bool h2c;                   /* host-to-controller data */
    bool c2h;                   /* controller-to-host data */
    uint32_t data_len;          /* from the SGL */
    uint8_t *buf;
    uint32_t buf_len;
    bool buf_pooled;            /* from the SQ's pool (else g_malloc) */
    uint32_t budget;            /* bytes charged to the queue budget */
    uint32_t h2c_received;
    bool ddgst_error;           /* data arrived with a bad digest */

    /* execution */
    bool ns_cached;             /* req->ns is the SQ cache's, not a ref */
    bool io_embedded_busy;
    NvmetIoPriv io_embedded;    /* one I/O without an allocation */
    unsigned ios_pending;
    int io_ret;
    NvmetReqFn *io_done;        /* continuation once ios_pending drops to 0 */
    uint64_t io_bytes;          /* for SMART accounting */

    /* completion */
    uint16_t status;
    uint32_t dw0, dw1;
    uint16_t sqhd;
    uint16_t err_pel;           /* parameter error location for the log */
    uint64_t err_lba;
    uint8_t cqe[NVME_CQE_SIZE]; /* filled by nvmet_req_complete() */

    NvmetFaultHit fault;        /* a fault at the command's start */
};

/* ---- per-SQ security state ----------------------------------------------- */

/* the steps of NvmetSqAuth, as engine.h's NvmetAuthStep */
enum {
    AUTH_STEP_IDLE = NVMET_AUTH_STEP_IDLE,
    AUTH_STEP_CHALLENGE = NVMET_AUTH_STEP_CHALLENGE,
    AUTH_STEP_REPLY = NVMET_AUTH_STEP_REPLY,
    AUTH_STEP_SUCCESS1 = NVMET_AUTH_STEP_SUCCESS1,
    AUTH_STEP_SUCCESS2 = NVMET_AUTH_STEP_SUCCESS2,
    AUTH_STEP_FAILURE1 = NVMET_AUTH_STEP_FAILURE1,
};

/*
 * Authentication state of one SQ (DH-HMAC-CHAP, auth.c).  Every queue
 * owns its own; nothing of it is global or per controller.
 */
typedef struct NvmetSqAuth {
    bool required;          /* Connect told the host to authenticate */
    bool authenticated;     /* the queue may carry other commands */
    uint32_t count;         /* successful authentications */
    uint32_t failures;      /* failed ones */

    /* the current transaction */
    uint8_t step;
    uint16_t tid;
    bool tid_valid;
    uint8_t sc_c;
    uint8_t hash, dhgid;
    bool bidi;
    uint8_t fail_reason;
    uint32_t s1, s2;
    uint8_t c1[64], c2[64];
    bool c2_valid;
    NvmetDh *dh;
    uint8_t skey[64];       /* session key H(g^xy) */
    size_t skey_len;
    NvmetDhchapKey *host_key, *ctrl_key;
    uint32_t key_generation;
    int64_t deadline;       /* INT64_MAX: no timeout pending */
    bool legacy_host;       /* R1 without SC_C: Linux 6.15 .. 6.17 */
    bool legacy_success2;   /* such a host may still send SUCCESS2 for tid */
} NvmetSqAuth;

/*
 * The TLS PSK an SQ's connection proved it has (the transport's TLS step
 * fills it in).  Connect checks the names against it, and secure channel
 * concatenation needs the queue to hold its key (REPLACETLSPSK).
 */
typedef struct NvmetSqTls {
    bool active;            /* the connection runs over TLS */
    bool has_key;           /* the queue holds its PSK (REPLACETLSPSK) */
    char *identity;         /* PSK identity of the handshake */
    char *hostnqn, *subnqn; /* the identity names these */
    bool generated;         /* a generated (concatenation) PSK */
    uint8_t hash;           /* 1 SHA-256, 2 SHA-384 */
    uint32_t key_serial;    /* the PSK's serial number (traces) */
    char cipher[48];        /* the suite: "TLS_AES_128_GCM_SHA256" */
    const char *kx;         /* key exchange, "DHE-PSK" (GnuTLS's names) */
    const char *version;    /* "TLS1.3" (GnuTLS's name) */
} NvmetSqTls;

/* ---- submission queues --------------------------------------------------- */

/*
 * Things other threads ask of a queue (nvmet_sq_post()); the queue's own
 * thread does them at its next entry into the engine.
 */
enum {
    NVMET_SQ_EV_CLOSE = 1,      /* close (sq->close_why) */
    NVMET_SQ_EV_AEN = 2,        /* complete Asynchronous Event Requests */
    NVMET_SQ_EV_NS = 4,         /* namespaces went away: drop the cache */
    NVMET_SQ_EV_FAULT = 8,      /* delayed steps are due (fault.c) */
};

/*
 * The namespaces an I/O queue used last, with a reference each: Read and
 * Write find theirs without the target lock.  An entry stays while
 * requests of the queue use it.
 */
#define NVMET_SQ_NS_SLOTS 4

typedef struct NvmetSqNs {
    NvmetNs *ns;
    unsigned users;
} NvmetSqNs;

/*
 * One submission/completion queue pair: what the core knows of a
 * connection.  The transport embeds it in its per-connection state.
 */
struct NvmetSq {
    NvmetTarget *t;
    NvmetPort *port;            /* referenced; may be removed meanwhile */
    const NvmetTransportOps *ops;
    NvmetQueue *queue;          /* the user's handle (events) */
    void *queue_opaque;
    char *peer;
    char *name;                 /* for traces: "peer qid N cntlid M" */
    bool closing;               /* no more commands; the user should close */
    bool released;              /* the user let go of it (target lock) */
    int events;                 /* atomic: NVMET_SQ_EV_* */
    char *close_why;            /* of NVMET_SQ_EV_CLOSE (target lock) */
    void *subsys_opaque;        /* NvmetSubsysConfig.opaque after Connect */
    /* until the ICReq, then until the Connect (icreq-timeout-ms each) */
    int64_t setup_deadline;     /* INT64_MAX: none */
    bool setup_icreq_done;
    char *close_reason;         /* why it closed first (events) */

    /* controller association (Connect) */
    NvmetCtrl *ctrl;
    uint16_t qid;
    uint16_t sqsize;            /* entries */
    uint16_t sqhd;
    bool sqflow_disabled;

    /* commands */
    NvmetReq *reqs;             /* indexed by transfer tag */
    uint16_t nr_reqs;
    uint16_t *free_reqs;        /* indices of free ones, a stack */
    uint16_t nr_free;
    unsigned reqs_busy;
    /* block I/O not yet handed out (linked through NvmetIoPriv.next) */
    NvmetIoPriv *io_head, *io_tail;
    unsigned ios_inflight;      /* handed out, not completed */
    GQueue wait_buf;            /* NvmetReq * waiting for budget */
    size_t budget_used;
    NvmetBufPool pool;          /* data buffers for reuse */

    /* the I/O path's own view of the controller */
    NvmetSqNs ns_cache[NVMET_SQ_NS_SLOTS];
    NvmetIoStats io_stats;      /* SMART counters (relaxed atomics) */
    int64_t ka_last;            /* last I/O command, ms (atomic) */
    uint64_t input_pass;        /* the transport's input calls (0: none) */
    uint64_t ka_pass;           /* ... the one that set ka_last */
    uint64_t cmds;              /* commands completed */
    uint64_t cmd_errors;        /* ... with a status other than success */

    /* per-SQ security state */
    NvmetSqAuth auth;
    NvmetSqTls tls;
    uint16_t conn_index;        /* earlier connections of this host+qid */
    uint32_t random_draws;
    uint32_t fault_draws;       /* probabilistic faults (random.c) */
};

/* ---- for command handlers ------------------------------------------------ */

/* (Re)build the stack of free requests from their states. */
void nvmet_sq_reqs_reset(NvmetSq *sq);
void nvmet_req_complete(NvmetReq *req, uint16_t status);
/*
 * Send the completion nvmet_req_complete() prepared (req->status) and free
 * the request; a fault may have held it back (fault.c).
 */
void nvmet_req_respond(NvmetReq *req);
/* Forget a request without answering it (aborted by a reset). */
void nvmet_req_drop(NvmetReq *req);
/* An unbudgeted, zeroed buffer for commands whose data size is bounded. */
void nvmet_req_alloc_buf(NvmetReq *req, uint32_t len);
NvmetIo *nvmet_req_submit_io(NvmetReq *req, NvmetNs *ns, NvmetIoOp op,
                             uint64_t offset, uint64_t len, void *buf);

static inline uint32_t nvmet_sqe_dw(const NvmetReq *req, unsigned off)
{
    return nvmet_ld32(req->sqe + off);
}

/* ---- for the transport --------------------------------------------------- */

/* A free request slot, or NULL when the host sent more than the queue holds. */
NvmetReq *nvmet_req_alloc(NvmetSq *sq);
/* Direction of the command's data: NVME_DATA_{NONE,H2C,C2H,BIDI}. */
unsigned nvmet_req_data_dir(const NvmetReq *req);
/* A budgeted buffer of req->data_len bytes; then ops->buffer_ready(). */
void nvmet_req_alloc_data(NvmetReq *req);
/*
 * An unbudgeted buffer of @len bytes that the transport fills completely
 * (in-capsule data); false if memory is short.
 */
bool nvmet_req_alloc_incapsule(NvmetReq *req, uint32_t len);
void nvmet_sq_budget_release(NvmetSq *sq, uint32_t bytes);
NvmetIo *nvmet_sq_next_io(NvmetSq *sq);
/*
 * The transport takes the request's data buffer (to send it); it gives
 * it back with nvmet_sq_buf_put(sq, buf, pool_len, budget) once sent.
 * *pool_len is 0 for a buffer of g_malloc().
 */
uint8_t *nvmet_req_take_buf(NvmetReq *req, uint32_t *pool_len,
                            uint32_t *budget);
void nvmet_sq_buf_put(NvmetSq *sq, uint8_t *buf, uint32_t pool_len,
                      uint32_t budget);
/* Largest data transfer of a command on @port (MDTS, or no MDTS). */
uint32_t nvmet_port_max_xfer(const NvmetPort *port);

/* ---- SQ state ------------------------------------------------------------ */

/* Close the queue; in its own thread (elsewhere: nvmet_sq_post()). */
void nvmet_sq_close(NvmetSq *sq, const char *why);
void nvmet_sq_kick(NvmetSq *sq);
/*
 * From any thread, with the target lock held: have the queue's thread do
 * @ev (NVMET_SQ_EV_*; @why for a close) and kick it.
 */
void nvmet_sq_post(NvmetSq *sq, int ev, const char *why);
/* In the queue's thread: do what was posted. */
void nvmet_sq_service(NvmetSq *sq);
/*
 * The namespace @nsid for a command of this I/O queue, through the queue's
 * cache: req->ns is set (and released when the request ends).  False if
 * there is no such namespace (or no controller any more).
 */
bool nvmet_req_find_ns(NvmetReq *req);
/* I/O command activity for the keep-alive timer, without the lock. */
void nvmet_sq_keep_alive(NvmetSq *sq);
/* Connect: bind @sq to @ctrl as @qid; *connect_req may move. */
void nvmet_sq_bind(NvmetSq *sq, NvmetCtrl *ctrl, uint16_t qid,
                   uint16_t sqsize, NvmetReq **connect_req);
/* Release: drop I/O not handed out and requests not waiting for I/O. */
void nvmet_sq_abort_requests(NvmetSq *sq);
/* Free the SQ once it is released and its last I/O completed. */
void nvmet_sq_try_free(NvmetSq *sq);

#endif /* NVMET_ENGINE_REQ_H */
