/*
 * NVMe-oF TCP target engine: internal definitions shared by engine files.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#ifndef NVMET_ENGINE_INTERNAL_H
#define NVMET_ENGINE_INTERNAL_H

#ifndef NVMET_STANDALONE
#include "qemu/osdep.h"
#endif

#include <glib.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "nvmet/engine.h"
#include "nvmet/proto.h"
#include "trace.h"

#ifndef container_of
#define container_of(ptr, type, member) \
    ((type *)((char *)(ptr) - offsetof(type, member)))
#endif

#define NVMET_ROUND_UP(x, a) (((x) + (a) - 1) / (a) * (a))

/* ---- engine-wide limits and defaults --------------------------------- */

#define NVMET_ADMIN_INLINE_SIZE  8192      /* in-capsule data on the admin queue */
#define NVMET_ADMIN_MAX_SQSIZE   32        /* admin queue entries */
#define NVMET_AERL               3         /* 0's based: four AERs outstanding */
#define NVMET_ERROR_LOG_ENTRIES  64
#define NVMET_KAS_100MS          10        /* keep-alive granularity: 1 s */
#define NVMET_DEFAULT_VS         0x00010400 /* NVMe 1.4 */
#define NVMET_DEFAULT_NN         1024
#define NVMET_QUEUE_BUF_BUDGET   (32u << 20) /* data buffered per queue */
#define NVMET_CAP_TO             15        /* CAP.TO: 7.5 s */
#define NVMET_DEFAULT_MODEL      "QEMU NVMe-oF TCP target"
#define NVMET_DEFAULT_FIRMWARE   "1.0"

/* ---- per-queue security state (attach points) -------------------------- */

typedef struct NvmetDhchapKey NvmetDhchapKey;
typedef struct NvmetDh NvmetDh;

enum {
    AUTH_STEP_IDLE,             /* no transaction: a Negotiate may come */
    AUTH_STEP_CHALLENGE,        /* negotiated: the challenge is due */
    AUTH_STEP_REPLY,            /* challenge sent: waiting for the reply */
    AUTH_STEP_SUCCESS1,         /* reply verified: success1 is due */
    AUTH_STEP_SUCCESS2,         /* success1 sent: waiting for success2 */
    AUTH_STEP_FAILURE1,         /* failed: failure1 is due */
};

/*
 * Authentication state of one submission queue (DH-HMAC-CHAP).  Every
 * queue owns its own; nothing of it is global or per controller.
 */
typedef struct NvmetQueueAuth {
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
} NvmetQueueAuth;

typedef enum NvmetTlsState {
    NVMET_TLS_OFF,          /* cleartext NVMe/TCP */
    NVMET_TLS_DETECT,       /* first byte decides: TLS record or ICReq */
    NVMET_TLS_HANDSHAKE,
    NVMET_TLS_ACTIVE,       /* PDUs travel in TLS records */
    NVMET_TLS_FAILED,       /* handshake or record error: closing */
} NvmetTlsState;

/*
 * TLS session state of one submission queue: its own GnuTLS session, the
 * ciphertext in both directions, and the PSK the host proved it has.
 */
typedef struct NvmetQueueTls {
    bool active;            /* the connection runs over TLS */
    bool has_key;           /* the queue holds its PSK (REPLACETLSPSK) */
    NvmetTlsState state;
    void *session;          /* gnutls_session_t */
    void *cred;             /* gnutls_psk_server_credentials_t */
    GByteArray *in;         /* received records not yet taken by GnuTLS */
    size_t in_off;
    GByteArray *out;        /* records to send */
    size_t out_off;
    char *identity;         /* PSK identity of the handshake */
    char *hostnqn, *subnqn; /* the identity names these */
    bool generated;         /* a generated (concatenation) PSK */
    uint8_t hash;           /* 1 SHA-256, 2 SHA-384 */
    uint32_t key_serial;    /* the PSK's serial number (traces) */
} NvmetQueueTls;

/* ---- objects --------------------------------------------------------------- */

struct NvmetTarget {
    NvmetEngineOps ops;
    void *opaque;
    GList *ports;
    GList *subsystems;          /* NVM subsystems (not the discovery one) */
    GList *hosts;
    NvmetSubsys *disc;          /* the well-known discovery subsystem */
    uint64_t disc_genctr;
    int64_t armed_deadline;     /* last deadline passed to timer_update */
    GHashTable *gen_psks;       /* "hostnqn subnqn" -> NvmetGenPsk */
    uint32_t next_psk_serial;
};

struct NvmetPort {
    NvmetTarget *t;
    NvmetPortConfig cfg;        /* strings owned */
    GPtrArray *subsystems;      /* NvmetSubsys * exported here */
    GList *queues;              /* live queues accepted on this port */
};

struct NvmetHost {
    NvmetTarget *t;
    char *nqn;
    GPtrArray *subsystems;      /* subsystems that list this host */
    NvmetDhchapKey *host_key;   /* DH-HMAC-CHAP, NULL: no authentication */
    NvmetDhchapKey *ctrl_key;
    uint32_t key_generation;
    uint32_t allowed_hashes;    /* bit per hash ID, 0: all */
    uint32_t allowed_groups;    /* bit per DH group ID, 0: all */
    struct NvmetPsk *tls_psk;   /* configured TLS PSK, NULL: none */
    bool tls_psk_compat;        /* derive it as nvme-cli <= 2.13 (psk.c) */
    uint32_t tls_psk_serial;
};

struct NvmetSubsys {
    NvmetTarget *t;
    NvmetSubsysConfig cfg;      /* strings owned */
    bool discovery;
    GPtrArray *hosts;           /* allowed hosts */
    GPtrArray *ns;              /* NvmetNs *, sorted by nsid */
    GList *ctrls;
    GPtrArray *ports;           /* ports exporting this subsystem */
    uint16_t next_cntlid;
    bool seeded;                /* deterministic random choices */
    bool quirk_free_tls_key;    /* reproduce the seed bug on purpose */
    uint8_t seed_key[32];
    GHashTable *conn_counts;    /* "qid hostnqn" -> connections so far */
};

struct NvmetNs {
    NvmetSubsys *subsys;        /* NULL once removed */
    NvmetNsConfig cfg;
    unsigned lba_shift;
    uint64_t nsze;              /* blocks */
    unsigned refcnt;
};

typedef struct NvmetErrorEntry {
    uint64_t count;
    uint16_t sqid, cid, status, pel;
    uint64_t lba;
    uint32_t nsid;
} NvmetErrorEntry;

struct NvmetCtrl {
    NvmetSubsys *subsys;        /* NULL once torn down */
    NvmetPort *port;
    NvmetTarget *t;
    unsigned refcnt;
    uint16_t cntlid;
    char *hostnqn;
    uint8_t hostid[16];
    char *subnqn;               /* copy, survives subsystem removal */

    uint32_t cc, csts;
    uint32_t kato_ms;
    int64_t ka_deadline;        /* INT64_MAX: none */

    NvmetQueue **sqs;           /* [0] admin, [1..max_qid] I/O */
    uint16_t max_qid;

    /* Features */
    uint32_t feat_arbitration;
    uint32_t feat_power_mgmt;
    uint32_t feat_temp_thresh;
    uint32_t feat_err_recovery;
    bool feat_vwce;
    uint32_t feat_write_atomic;
    uint32_t feat_aen_cfg;
    bool nr_queues_set;
    uint16_t nr_io_queues;      /* granted */
    uint8_t host_behavior[512];

    /* Asynchronous events */
    struct NvmetReq *aer[NVMET_AERL + 1];
    unsigned nr_aer;
    GQueue pending_aens;        /* GUINT_TO_POINTER(result) */
    bool ns_aen_masked;         /* until the changed-ns log is read */
    bool disc_aen_masked;       /* until the discovery log is read */
    uint32_t changed_ns[NVME_LOG_CHANGED_NS_MAX];
    unsigned nr_changed_ns;     /* > MAX means overflow */

    /* Logs */
    NvmetErrorEntry errors[NVMET_ERROR_LOG_ENTRIES];
    uint64_t error_count;
    uint64_t data_units_read, data_units_written;  /* 512 byte units */
    uint64_t host_read_cmds, host_write_cmds;
};

typedef enum NvmetReqState {
    REQ_FREE,
    REQ_WAIT_BUF,           /* waits for buffer budget */
    REQ_WAIT_DATA,          /* R2T sent, receiving H2CData */
    REQ_EXEC,               /* executing: I/O or waiting for an event */
} NvmetReqState;

typedef struct NvmetReq NvmetReq;
typedef void NvmetReqFn(NvmetReq *req);

struct NvmetReq {
    NvmetQueue *q;
    NvmetReqState state;
    uint16_t ttag;              /* index in q->reqs */
    uint8_t sqe[NVME_SQE_SIZE];
    uint16_t cid;
    uint8_t opc;
    uint32_t nsid;
    NvmetNs *ns;                /* referenced */

    /* data */
    bool h2c;                   /* host-to-controller data */
    bool c2h;                   /* controller-to-host data */
    uint32_t data_len;          /* from the SGL */
    uint8_t *buf;
    uint32_t buf_len;
    uint32_t budget;            /* bytes charged to the queue budget */
    uint32_t h2c_received;
    bool ddgst_error;

    /* execution */
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
};

typedef struct NvmetIoPriv {
    NvmetIo io;
    NvmetReq *req;
    bool handed_out;
} NvmetIoPriv;

typedef enum NvmetRxState {
    RX_HEADER,                  /* collecting common header + PDU header (+HDGST) */
    RX_PAD,                     /* skipping bytes between header and data */
    RX_DATA,                    /* collecting data */
    RX_DDGST,                   /* collecting data digest */
    RX_DISCARD,                 /* connection is being terminated */
} NvmetRxState;

typedef struct NvmetOutSeg {
    uint8_t *data;
    size_t len;
    size_t cap;                 /* > 0: small appendable buffer */
    uint32_t budget;            /* bytes to return to the queue budget */
} NvmetOutSeg;

struct NvmetQueue {
    NvmetTarget *t;
    NvmetPort *port;
    void *opaque;
    char *peer;
    char *name;
    bool released;              /* the user let go of it */
    bool closing;               /* engine wants it closed */
    bool ic_done;               /* ICReq/ICResp exchanged */
    bool kick_pending;

    /* negotiated at ICReq */
    bool hdgst, ddgst;
    uint8_t hpda;
    uint32_t maxr2t;

    /* receive state machine */
    NvmetRxState rx_state;
    uint8_t hdr[NVME_TCP_ICREQ_HLEN + NVME_TCP_DIGEST_LEN];
    size_t hdr_got, hdr_need;
    size_t pad_left;
    uint8_t *data_dst;
    size_t data_need, data_got;
    uint32_t ddgst_crc;
    uint8_t ddgst_buf[NVME_TCP_DIGEST_LEN];
    size_t ddgst_got;
    NvmetReq *rx_req;           /* request receiving data (or NULL) */
    uint8_t rx_type;

    /* output */
    GQueue out;                 /* NvmetOutSeg * */
    size_t out_head;            /* bytes of the first segment already sent */

    /* controller association */
    NvmetCtrl *ctrl;
    uint16_t qid;
    uint16_t sqsize;            /* entries */
    uint16_t sqhd;
    bool sqflow_disabled;

    /* commands */
    NvmetReq *reqs;
    uint16_t nr_reqs;
    unsigned reqs_busy;
    GQueue io_queue;            /* NvmetIoPriv * not yet handed out */
    unsigned ios_inflight;      /* handed out, not completed */
    GQueue wait_buf;            /* NvmetReq * waiting for budget */
    size_t budget_used;

    /* per-SQ security state */
    NvmetQueueAuth auth;
    NvmetQueueTls tls;
    uint16_t conn_index;        /* earlier connections of this host+qid */
    uint32_t random_draws;
};

/* ---- crc32c.c ------------------------------------------------------------- */
uint32_t nvmet_crc32c(uint32_t crc, const void *buf, size_t len);
/* tests and benchmarks: use the table implementation even with SSE4.2 */
void nvmet_crc32c_force_sw(bool sw);
static inline uint32_t nvmet_digest(const void *buf, size_t len)
{
    return ~nvmet_crc32c(~0u, buf, len);
}

/* ---- target.c ----------------------------------------------------------- */
int64_t nvmet_now(NvmetTarget *t);
void nvmet_update_timer(NvmetTarget *t);
NvmetSubsys *nvmet_port_find_subsys(NvmetPort *port, const char *nqn);
bool nvmet_subsys_host_allowed(NvmetSubsys *subsys, const char *hostnqn);
NvmetNs *nvmet_subsys_find_ns(NvmetSubsys *subsys, uint32_t nsid);
void nvmet_ns_ref(NvmetNs *ns);
void nvmet_ns_unref(NvmetNs *ns);
NvmetCtrl *nvmet_ctrl_new(NvmetSubsys *subsys, NvmetPort *port,
                          const char *hostnqn, const uint8_t *hostid,
                          uint32_t kato_ms);
NvmetCtrl *nvmet_ctrl_find(NvmetSubsys *subsys, uint16_t cntlid);
void nvmet_ctrl_ref(NvmetCtrl *ctrl);
void nvmet_ctrl_unref(NvmetCtrl *ctrl);
void nvmet_ctrl_teardown(NvmetCtrl *ctrl, const char *why);
void nvmet_ctrl_fatal(NvmetCtrl *ctrl, const char *why);
void nvmet_ctrl_keep_alive(NvmetCtrl *ctrl);
void nvmet_ctrl_reset(NvmetCtrl *ctrl);
void nvmet_ctrl_add_aen(NvmetCtrl *ctrl, uint32_t result);
void nvmet_ctrl_process_aens(NvmetCtrl *ctrl);
void nvmet_disc_changed(NvmetTarget *t);
void nvmet_queue_count_connection(NvmetQueue *q);

/* ---- tcp.c -------------------------------------------------------------- */
void nvmet_queue_kick(NvmetQueue *q);
void nvmet_queue_close(NvmetQueue *q, const char *why);
void nvmet_req_complete(NvmetReq *req, uint16_t status);
NvmetIo *nvmet_req_submit_io(NvmetReq *req, NvmetNs *ns, NvmetIoOp op,
                             uint64_t offset, uint64_t len, void *buf);
void nvmet_req_drop(NvmetReq *req);
uint64_t nvmet_ctrl_cap(NvmetCtrl *ctrl);
bool nvmet_req_alloc_buf(NvmetReq *req, uint32_t len);
const char *nvmet_status_str(uint16_t status);
void nvmet_queue_bind(NvmetQueue *q, NvmetCtrl *ctrl, uint16_t qid,
                      uint16_t sqsize, NvmetReq **connect_req);

/* ---- fabrics.c / admin.c / io.c ------------------------------------------ */
void nvmet_exec_fabrics(NvmetReq *req);
void nvmet_exec_admin(NvmetReq *req);
void nvmet_exec_io(NvmetReq *req);
void nvmet_exec_disc(NvmetReq *req);
void nvmet_error_log_add(NvmetReq *req);

/* ---- auth.c / concat.c -------------------------------------------------- */
NvmetHost *nvmet_target_find_host(NvmetTarget *t, const char *nqn);
bool nvmet_auth_needed(NvmetQueue *q, const char *hostnqn);
void nvmet_exec_auth_send(NvmetReq *req);
void nvmet_exec_auth_recv(NvmetReq *req);
void nvmet_auth_clear_exchange(NvmetQueueAuth *a);
void nvmet_auth_expire(NvmetQueue *q);
void nvmet_auth_success(NvmetQueue *q);
void nvmet_queue_random(NvmetQueue *q, void *buf, size_t len);
void nvmet_queue_auth_info(NvmetQueue *q, NvmetQueueInfo *info);
bool nvmet_concat_check(NvmetQueue *q, uint8_t sc_c);
void nvmet_concat_generate_psk(NvmetQueue *q);
bool nvmet_port_tls_possible(NvmetPort *port);

/* ---- tls.c ---------------------------------------------------------------- */
void nvmet_tls_queue_init(NvmetQueue *q);
void nvmet_tls_queue_free(NvmetQueue *q);
/* Takes @buf if the connection is (or turns out to be) TLS. */
bool nvmet_tls_input(NvmetQueue *q, const void *buf, size_t len);
bool nvmet_tls_in_use(NvmetQueue *q);
/* SHA-384 PSKs need GnuTLS 3.8.11 */
bool nvmet_tls_sha384_available(void);
const char *nvmet_tls_library_version(void);
size_t nvmet_tls_output(NvmetQueue *q, const uint8_t **data);
void nvmet_tls_output_advance(NvmetQueue *q, size_t n);

/* ---- tcp.c (plaintext side, for tls.c) ------------------------------------ */
void nvmet_pdu_input(NvmetQueue *q, const void *buf, size_t len);
size_t nvmet_plain_output(NvmetQueue *q, const uint8_t **data);
void nvmet_plain_output_advance(NvmetQueue *q, size_t n);

/*
 * concat.c: the TLS PSK for an identity a host presents, with the names it
 * binds; false (and a reason for the trace) if there is none.
 */
typedef struct NvmetTlsPskMatch {
    uint8_t key[64];
    size_t key_len;
    uint8_t hash;
    bool generated;
    char *hostnqn, *subnqn;
    uint32_t serial;
} NvmetTlsPskMatch;
bool nvmet_tls_find_psk(NvmetQueue *q, const char *identity,
                        NvmetTlsPskMatch *m, const char **why);
void nvmet_concat_target_free(NvmetTarget *t);
void nvmet_host_tls_psk_free(NvmetHost *host);

/* ---- helpers ---------------------------------------------------------------- */
static inline uint32_t nvmet_sqe_dw(const NvmetReq *req, unsigned off)
{
    return nvmet_ld32(req->sqe + off);
}

#endif /* NVMET_ENGINE_INTERNAL_H */
