/*
 * NVMe-oF target engine: fault injection at the protocol steps (fault.c;
 * the public half is include/nvmet/fault.h).
 *
 * Each step calls in with one line where it happens; when no fault is
 * armed at a step, nvmet_fault_armed() is the whole cost.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#ifndef NVMET_ENGINE_FAULT_H
#define NVMET_ENGINE_FAULT_H

#include "req.h"
#include "nvmet/fault.h"

/*
 * What a step knows about itself, for the filters.  Names and numbers left
 * unset come from the queue (its controller, its queue ID, or before
 * Connect on TLS, the names its PSK identity binds).
 */
typedef struct NvmetFaultCtx {
    const char *subnqn, *hostnqn;
    bool has_cntlid;
    uint16_t cntlid;
    bool has_qid;
    uint16_t qid;
    bool has_cmd;               /* a command: its opcode and CID */
    uint8_t opcode;
    uint16_t cid;
    bool has_sc_c;              /* an authentication transaction's SC_C */
    uint8_t sc_c;
    bool hdgst, ddgst;          /* the PDU carries these digests */
    bool tls_key;               /* the queue holds its TLS key */
} NvmetFaultCtx;

/* The steps with an armed fault (any thread, without the target lock) */
static inline uint64_t nvmet_fault_points(NvmetTarget *t)
{
    return __atomic_load_n(&t->fault_points, __ATOMIC_RELAXED);
}

static inline bool nvmet_fault_armed(NvmetTarget *t, NvmetFaultPoint p)
{
    return nvmet_fault_points(t) & (UINT64_C(1) << p);
}

static inline bool nvmet_fault_armed_any(NvmetTarget *t)
{
    return nvmet_fault_points(t) != 0;
}

/*
 * Step @p happens on @sq: if a fault fires, trace it, report it (an
 * NVMET_EVENT_FAULT), fill in @hit and return true.  At most one fault
 * fires per step: the first armed one (in the order of arming) whose
 * filters match and whose count or chance says so.
 */
bool nvmet_fault_at(NvmetSq *sq, NvmetFaultPoint p, const NvmetFaultCtx *ctx,
                    NvmetFaultHit *hit);

/*
 * A command starts (nvmet_req_execute()): if a fault fires at one of its
 * steps (the command, and for some commands what it does: a Connect of an
 * I/O queue, a Property Set enabling the controller, an authentication
 * message...), it is in req->fault and true is returned.  The request
 * core carries out the action (core.c at the start, req.c at the
 * completion), auth.c an AUTH_Failure1.
 */
bool nvmet_fault_cmd_check(NvmetReq *req);

/* An authentication command a fault wants failed: its AUTH_Failure1 reason */
bool nvmet_fault_auth_failure(NvmetReq *req, uint8_t *reason);

/*
 * The delay action: call @fn(@sq, @arg) hit->delay_ms from now, through
 * the engine's deadlines, unless @sq is released first.
 */
typedef void NvmetFaultResume(NvmetSq *sq, void *arg);
void nvmet_fault_defer(NvmetSq *sq, const NvmetFaultHit *hit,
                       NvmetFaultResume *fn, void *arg);

/* Deadlines (nvmet_target_timer(), nvmet_target_next_deadline()) */
void nvmet_fault_timer(NvmetTarget *t, int64_t now);
int64_t nvmet_fault_next_deadline(NvmetTarget *t);
/* @sq goes away: forget what was deferred for it */
void nvmet_fault_sq_release(NvmetSq *sq);
/* NVMET_SQ_EV_FAULT: resume the SQ's delayed steps that are due */
void nvmet_fault_sq_resume(NvmetSq *sq);
void nvmet_fault_target_free(NvmetTarget *t);

#endif /* NVMET_ENGINE_FAULT_H */
