/*
 * NVMe-oF TCP target protocol engine: fault injection.
 *
 * A fault is where + when + what: at a named protocol step (optionally
 * only for some subsystem, host, controller, queue or opcode), on its Nth
 * match, its next N matches, every match or with a probability, the
 * target misbehaves in a chosen way (a completion status, an
 * AUTH_Failure1, a TLS alert, a delay, a dropped response, a closed
 * connection, a C2HTermReq, a corrupted digest, ...).  Each fault that
 * fires is traced and reported as an NVMET_EVENT_FAULT event.
 *
 * Probabilities draw from the queue's random stream: the seeded stream of
 * a subsystem with a seed, ops.random_bytes otherwise, so runs with the
 * same seed and the same faults repeat.  Delays use the engine's
 * deadlines (ops.timer_update, nvmet_target_timer()).
 *
 * The names of steps and actions are those of the QAPI enums
 * NvmetFaultStep and NvmetFaultAction (qapi/nvmet.json), in the same
 * order.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#ifndef NVMET_FAULT_H
#define NVMET_FAULT_H

#include "nvmet/engine.h"

/* Where: the protocol steps a fault can attach to. */
typedef enum NvmetFaultPoint {
    /* NVMe/TCP PDUs, by type (each type has one direction) */
    NVMET_FP_PDU_ICREQ,
    NVMET_FP_PDU_ICRESP,
    NVMET_FP_PDU_CAPSULE_CMD,
    NVMET_FP_PDU_CAPSULE_RESP,
    NVMET_FP_PDU_H2C_DATA,
    NVMET_FP_PDU_C2H_DATA,
    NVMET_FP_PDU_R2T,
    NVMET_FP_PDU_H2C_TERM,
    NVMET_FP_PDU_C2H_TERM,
    /* commands, when they start (nvmet_req_execute()) */
    NVMET_FP_CONNECT_ADMIN,
    NVMET_FP_CONNECT_IO,
    NVMET_FP_PROPERTY_GET,
    NVMET_FP_PROPERTY_SET,
    NVMET_FP_CC_ENABLE,          /* Property Set of CC: EN 0 -> 1 */
    NVMET_FP_CC_DISABLE,         /* ... EN 1 -> 0 (controller reset) */
    NVMET_FP_SHUTDOWN,           /* ... SHN set */
    NVMET_FP_ADMIN_CMD,          /* any admin command (not fabrics) */
    NVMET_FP_IO_CMD,             /* any I/O command */
    NVMET_FP_KEEP_ALIVE,
    /* DH-HMAC-CHAP: the command carrying each message */
    NVMET_FP_AUTH_NEGOTIATE,     /* Authentication Send: AUTH_Negotiate */
    NVMET_FP_AUTH_CHALLENGE,     /* Authentication Receive: the challenge */
    NVMET_FP_AUTH_REPLY,         /* Authentication Send: the reply */
    NVMET_FP_AUTH_SUCCESS1,      /* Authentication Receive: success1 */
    NVMET_FP_AUTH_SUCCESS2,      /* Authentication Send: success2 */
    NVMET_FP_AUTH_FAILURE2,      /* Authentication Send: AUTH_Failure2 */
    NVMET_FP_AUTH_SUCCESS,       /* the queue passed an authentication */
    /* TLS */
    NVMET_FP_TLS_IDENTITY,       /* the PSK identity of a ClientHello */
    NVMET_FP_TLS_HANDSHAKE,      /* the handshake completed */
    NVMET_FP_TLS_RECORD,         /* each record received after it */
    /* PSKs of secure channel concatenation */
    NVMET_FP_PSK_GENERATE,       /* NEWTLSPSK */
    NVMET_FP_PSK_REPLACE,        /* REPLACETLSPSK */
    NVMET_FP__MAX
} NvmetFaultPoint;

/* What: the misbehaviour. */
typedef enum NvmetFaultAct {
    NVMET_FA_STATUS,             /* complete the command with .status */
    NVMET_FA_AUTH_FAILURE,       /* AUTH_Failure1 with .reason */
    NVMET_FA_TLS_ALERT,          /* fail TLS with the fatal alert .alert */
    NVMET_FA_DELAY,              /* by .delay_ms; the queue goes on */
    NVMET_FA_DROP,               /* never send the response / the PDU */
    NVMET_FA_CLOSE,              /* close the connection (.after_response) */
    NVMET_FA_C2H_TERM,           /* C2HTermReq with .fes (and .fei) */
    NVMET_FA_CORRUPT_HDGST,      /* a wrong header digest in the PDU */
    NVMET_FA_CORRUPT_DDGST,      /* a wrong data digest in the PDU */
    NVMET_FA_FORGET_TLS_KEY,     /* the queue forgets its TLS key */
    NVMET_FA_REFUSE_REPLACE,     /* REPLACETLSPSK: CONCAT_MISMATCH */
    NVMET_FA_IGNORE_KEEP_ALIVE,  /* neither answered nor counted */
    NVMET_FA_AEN,                /* raise the asynchronous event .aen */
    NVMET_FA_WITHHOLD_R2T,       /* never send the R2T */
    NVMET_FA_FORGET_PSK,         /* the generated PSK is not kept */
    NVMET_FA_CORRUPT_PSK,        /* a generated PSK the host cannot match */
    NVMET_FA__MAX
} NvmetFaultAct;

/* When: which matches fire. */
typedef enum NvmetFaultWhen {
    NVMET_FAULT_NEXT,            /* the next .count matches (default 1) */
    NVMET_FAULT_NTH,             /* the .count-th match only */
    NVMET_FAULT_EVERY,           /* every match (up to .max_hits, 0: all) */
    NVMET_FAULT_PROBABILITY,     /* each match with .probability */
} NvmetFaultWhen;

/* The queue filter. */
typedef enum NvmetFaultQueue {
    NVMET_FAULT_QUEUE_ANY,
    NVMET_FAULT_QUEUE_ADMIN,
    NVMET_FAULT_QUEUE_IO,
} NvmetFaultQueue;

typedef struct NvmetFaultConfig {
    NvmetFaultPoint point;
    /*
     * What armed it, for queries (a QOM object, a quirk); NULL: anyone may
     * delete it, otherwise only its owner (nvmet_fault_del() with @force).
     */
    const char *owner;

    /*
     * Filters; a filter whose subject is not known at the step (no
     * subsystem before Connect, say) does not match.  TLS steps know the
     * host and subsystem named by the PSK identity.
     */
    const char *subnqn;          /* NULL: any */
    const char *hostnqn;         /* NULL: any */
    bool has_cntlid;
    uint16_t cntlid;
    bool has_qid;
    uint16_t qid;
    NvmetFaultQueue queue;
    bool has_opcode;             /* commands, capsules, R2T, C2HData */
    uint8_t opcode;
    bool has_sc_c;               /* authentication steps */
    uint8_t sc_c;                /* NVME_AUTH_SECP_* */

    NvmetFaultWhen when;
    uint32_t count;              /* NEXT, NTH (0 means 1) */
    double probability;          /* PROBABILITY: 0 < p <= 1 */
    uint32_t max_hits;           /* EVERY, PROBABILITY: 0 unlimited */

    NvmetFaultAct action;
    /* parameters; each belongs to some actions only (has_* says given) */
    bool has_status;
    uint16_t status;             /* STATUS: DNR<<14 | MORE<<13 | SCT<<8 | SC */
    bool has_reason;
    uint8_t reason;              /* AUTH_FAILURE: NVME_AUTH_FAIL_* */
    bool has_alert;
    uint8_t alert;               /* TLS_ALERT: the RFC 8446 alert number */
    bool has_delay_ms;
    uint32_t delay_ms;           /* DELAY */
    bool after_response;         /* CLOSE */
    bool has_fes;
    uint16_t fes;                /* C2H_TERM: NVME_TCP_FES_* */
    bool has_fei;
    uint32_t fei;
    bool has_aen;
    uint32_t aen;                /* AEN: completion DW0 (type, info, log) */
} NvmetFaultConfig;

/*
 * Arm a fault; returns its ID (> 0), or 0 with @errp set if the
 * configuration is not valid (unknown step, an action or a parameter that
 * does not belong at the step, a bad status...); nothing is armed then.
 */
uint32_t nvmet_fault_add(NvmetTarget *t, const NvmetFaultConfig *cfg,
                         GError **errp);
/*
 * Disarm and forget a fault; false with @errp set if there is no such
 * fault, or if it has an owner and @force is false.
 */
bool nvmet_fault_del(NvmetTarget *t, uint32_t id, bool force, GError **errp);

typedef struct NvmetFaultInfo {
    uint32_t id;
    NvmetFaultPoint point;
    NvmetFaultAct action;
    const char *description;     /* where, when and what, in words */
    const char *owner;           /* NULL, or what armed it (a quirk) */
    uint64_t matches;            /* steps that passed the filters */
    uint64_t hits;               /* ... and fired */
    bool active;                 /* may still fire */
} NvmetFaultInfo;

/* Call @fn for every fault, in the order they were armed. */
void nvmet_fault_foreach(NvmetTarget *t,
                         void (*fn)(const NvmetFaultInfo *info, void *opaque),
                         void *opaque);

/* The names, as in the QAPI enums ("pdu-icreq", "status", ...). */
const char *nvmet_fault_point_name(NvmetFaultPoint p);
const char *nvmet_fault_act_name(NvmetFaultAct a);

#endif /* NVMET_FAULT_H */
