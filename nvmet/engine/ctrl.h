/*
 * NVMe-oF target engine: controllers (life cycle, keep-alive,
 * asynchronous events) and the engine's deadlines; see ctrl.c.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#ifndef NVMET_ENGINE_CTRL_H
#define NVMET_ENGINE_CTRL_H

#include "req.h"

NvmetCtrl *nvmet_ctrl_new(NvmetSubsys *subsys, NvmetPort *port,
                          const char *hostnqn, const uint8_t *hostid,
                          uint32_t kato_ms);
NvmetCtrl *nvmet_ctrl_find(NvmetSubsys *subsys, uint16_t cntlid);
uint64_t nvmet_ctrl_cap(NvmetCtrl *ctrl);
void nvmet_ctrl_teardown(NvmetCtrl *ctrl, const char *why);
/*
 * Whether @sq's controller was torn down (any thread): its queues are
 * being closed, but the close may not have reached @sq yet.
 */
bool nvmet_sq_ctrl_gone(NvmetSq *sq);
/* CC.EN went from 1 to 0 by a Property Set on @sq. */
void nvmet_ctrl_reset(NvmetCtrl *ctrl, NvmetSq *sq);
void nvmet_ctrl_keep_alive(NvmetCtrl *ctrl);
/* Tear the controller down if its keep-alive deadline passed. */
void nvmet_ctrl_check_keep_alive(NvmetCtrl *ctrl, int64_t now);
/* Queue an event; the admin queue's thread completes an AER with it. */
void nvmet_ctrl_add_aen(NvmetCtrl *ctrl, uint32_t result);
/* In the admin queue's thread: complete AERs with pending events. */
void nvmet_ctrl_process_aens(NvmetCtrl *ctrl);
/* The SMART counters of the controller and its queues. */
void nvmet_ctrl_io_stats(NvmetCtrl *ctrl, NvmetIoStats *st);

/*
 * Connect bound @sq to its controller (nvmet_sq_bind()): the controller
 * takes it as its queue sq->qid.  Detach when the SQ goes away.
 */
void nvmet_ctrl_attach_sq(NvmetSq *sq);
void nvmet_ctrl_detach_sq(NvmetSq *sq);

/* Tell the user about the earliest deadline if it moved earlier. */
void nvmet_update_timer(NvmetTarget *t);

#endif /* NVMET_ENGINE_CTRL_H */
