/*
 * NVMe-oF target engine: the object model, in Linux nvmet's vocabulary
 * (target, port, subsystem, host, namespace, controller), and the
 * engine-wide limits.
 *
 * Types only, and a few one-line helpers: target.c configures these
 * objects, ctrl.c runs the controllers, and the request core (req.c,
 * core.c) the queues and commands that point at them.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#ifndef NVMET_ENGINE_NVMET_H
#define NVMET_ENGINE_NVMET_H

#include "nvmet/engine.h"
#include "nvmet/proto.h"

typedef struct NvmetSq NvmetSq;             /* req.h */
typedef struct NvmetReq NvmetReq;           /* req.h */
typedef struct NvmetDhchapKey NvmetDhchapKey; /* crypto.h */
typedef struct NvmetPsk NvmetPsk;           /* psk.h */
typedef struct NvmetFaultTable NvmetFaultTable; /* fault.c */

/* ---- engine-wide limits and defaults --------------------------------- */

#define NVMET_ADMIN_INLINE_SIZE  8192      /* in-capsule data, admin queue */
#define NVMET_ADMIN_MAX_SQSIZE   32        /* admin queue entries */
#define NVMET_AERL               3         /* 0's based: four AERs */
#define NVMET_ERROR_LOG_ENTRIES  64
#define NVMET_KAS_100MS          10        /* keep-alive granularity: 1 s */
#define NVMET_DEFAULT_VS         0x00010400 /* NVMe 1.4 */
#define NVMET_DEFAULT_NN         1024
#define NVMET_QUEUE_BUF_BUDGET   (32u << 20) /* data buffered per queue */
/*
 * The largest transfer when the port reports no limit (MDTS 0): what a
 * queue may buffer at once.
 */
#define NVMET_XFER_MAX_NO_MDTS   NVMET_QUEUE_BUF_BUDGET
#define NVMET_CAP_TO             15        /* CAP.TO: 7.5 s */
#define NVMET_DEFAULT_MODEL      "QEMU NVMe-oF TCP target"
#define NVMET_DEFAULT_FIRMWARE   "1.0"

/* ---- objects ------------------------------------------------------------ */

/*
 * The target lock protects the object model: the target's lists, ports,
 * subsystems, hosts, namespaces (membership), controllers, generated PSKs
 * and deadlines.  It nests (a recursive mutex), so that an entry point may
 * call another.  What a queue owns (NvmetSq, the transport around it, its
 * requests) belongs to the thread serving the queue and needs no lock; see
 * "Threads" in docs/devel/nvmet-tcp.rst.
 */
struct NvmetTarget {
    NvmetEngineOps ops;
    void *opaque;
    GRecMutex lock;
    GThread *lock_owner;        /* for nvmet_assert_locked() */
    unsigned lock_depth;
    GList *ports;
    GList *subsystems;          /* NVM subsystems (not the discovery one) */
    GList *hosts;
    NvmetSubsys *disc;          /* the well-known discovery subsystem */
    uint64_t disc_genctr;
    int64_t armed_deadline;     /* last deadline passed to timer_update */
    GHashTable *gen_psks;       /* "hostnqn subnqn" -> generated PSK */
    uint32_t next_psk_serial;
    NvmetFaultTable *faults;    /* armed faults (fault.c), NULL: none yet */
    uint64_t fault_points;      /* bit per NvmetFaultPoint with an armed one */
    int64_t fault_deadline;     /* earliest delayed step, INT64_MAX: none */
};

struct NvmetPort {
    NvmetTarget *t;
    NvmetPortConfig cfg;        /* strings owned */
    GPtrArray *subsystems;      /* NvmetSubsys * exported here */
    GList *queues;              /* NvmetSq * of live connections */
    uint32_t nr_queues;         /* length of queues */
    uint32_t nr_draining;       /* closed, waiting for their block I/O */
    uint32_t max_connections;   /* 0: the default */
    uint32_t icreq_timeout_ms;  /* 0: the default */
    uint64_t conns_refused;
    uint64_t icreq_timeouts;
    unsigned refcnt;            /* the user's, and one per queue */
    bool removed;               /* nvmet_port_free() was called */
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
    uint32_t auth_timeout_ms;   /* DH-HMAC-CHAP timeout, 0: the default */
    NvmetPsk *tls_psk;          /* configured TLS PSK, NULL: none */
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
    uint32_t quirk_fault;       /* quirk-free-tls-key: its fault, 0: off */
    uint8_t seed_key[32];
    GHashTable *conn_counts;    /* "qid hostnqn" -> connections so far */
};

struct NvmetNs {
    NvmetTarget *t;
    NvmetSubsys *subsys;        /* NULL once removed (target lock) */
    NvmetNsConfig cfg;
    unsigned lba_shift;
    uint64_t nsze;              /* blocks; atomic (resize) */
    int refcnt;                 /* atomic */
    int removed;                /* atomic: out of its subsystem */
};

/*
 * SMART counters.  Each I/O queue counts its own (one writer, relaxed
 * atomics), so that queues served by different threads share no cache
 * line per command; the log page adds them up.
 */
typedef struct NvmetIoStats {
    uint64_t data_units_read, data_units_written;  /* 512 byte units */
    uint64_t host_read_cmds, host_write_cmds;
} NvmetIoStats;

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
    uint32_t kato_ms;           /* atomic reads on I/O queues */
    int64_t ka_deadline;        /* INT64_MAX: none (from the admin queue) */

    NvmetSq **sqs;              /* [0] admin, [1..max_qid] I/O */
    uint16_t max_qid;

    /* Features */
    uint32_t feat_arbitration;
    uint32_t feat_power_mgmt;
    uint32_t feat_temp_thresh;
    uint32_t feat_err_recovery;
    int feat_vwce;              /* atomic reads on I/O queues */
    uint32_t feat_write_atomic;
    uint32_t feat_aen_cfg;
    bool nr_queues_set;
    uint16_t nr_io_queues;      /* granted */
    uint8_t host_behavior[512];

    /* Asynchronous events */
    NvmetReq *aer[NVMET_AERL + 1];
    unsigned nr_aer;
    GQueue pending_aens;        /* GUINT_TO_POINTER(result) */
    bool ns_aen_masked;         /* until the changed-ns log is read */
    bool disc_aen_masked;       /* until the discovery log is read */
    uint32_t changed_ns[NVME_LOG_CHANGED_NS_MAX];
    unsigned nr_changed_ns;     /* > MAX means overflow */

    /* Logs */
    NvmetErrorEntry errors[NVMET_ERROR_LOG_ENTRIES];
    uint64_t error_count;
    NvmetIoStats io_stats;      /* of the queues that went away */
};

/* ---- helpers ------------------------------------------------------------- */

/* Monotonic time in milliseconds, from the engine's user. */
static inline int64_t nvmet_now(NvmetTarget *t)
{
    return t->ops.now_ms ? t->ops.now_ms(t->opaque) : 0;
}

static inline void nvmet_lock(NvmetTarget *t)
{
    g_rec_mutex_lock(&t->lock);
    if (t->lock_depth++ == 0) {
        t->lock_owner = g_thread_self();
    }
}

static inline void nvmet_unlock(NvmetTarget *t)
{
    if (--t->lock_depth == 0) {
        t->lock_owner = NULL;
    }
    g_rec_mutex_unlock(&t->lock);
}

/* The code that follows touches the object model. */
static inline void nvmet_assert_locked(NvmetTarget *t)
{
    g_assert(t->lock_depth && t->lock_owner == g_thread_self());
}

/*
 * Relaxed atomics for values one thread writes and others read (statistics,
 * timestamps, settings that the I/O path consults without the lock).
 */
#define nvmet_atomic_read(p)      __atomic_load_n(p, __ATOMIC_RELAXED)
#define nvmet_atomic_set(p, v)    __atomic_store_n(p, v, __ATOMIC_RELAXED)
/* One writer only: no locked instruction needed. */
#define nvmet_stat_add(p, v) \
    nvmet_atomic_set(p, nvmet_atomic_read(p) + (v))

/*
 * A namespace lives while anything refers to it: its subsystem, its user
 * (until nvmet_ns_free()), requests and the queues' namespace caches, in
 * any thread.  The last reference gives the backend back to the user.
 */
static inline void nvmet_ns_ref(NvmetNs *ns)
{
    __atomic_fetch_add(&ns->refcnt, 1, __ATOMIC_RELAXED);
}

void nvmet_ns_release(NvmetNs *ns);

static inline void nvmet_ns_unref(NvmetNs *ns)
{
    if (__atomic_sub_fetch(&ns->refcnt, 1, __ATOMIC_ACQ_REL) == 0) {
        nvmet_ns_release(ns);
    }
}

static inline uint64_t nvmet_ns_nsze(NvmetNs *ns)
{
    return __atomic_load_n(&ns->nsze, __ATOMIC_RELAXED);
}

#endif /* NVMET_ENGINE_NVMET_H */
