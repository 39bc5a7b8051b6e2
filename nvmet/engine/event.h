/*
 * NVMe-oF target engine: events for the engine's user (ops.event); see
 * event.c.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#ifndef NVMET_ENGINE_EVENT_H
#define NVMET_ENGINE_EVENT_H

#include "req.h"

/* Whether anyone listens (to skip preparing an event's fields). */
static inline bool nvmet_event_wanted(NvmetTarget *t)
{
    return t->ops.event != NULL;
}

/*
 * Fill in where @ev happened from @sq (its port, peer, controller and
 * queue ID as far as they exist) and pass it to ops.event.
 */
void nvmet_event_sq(NvmetSq *sq, NvmetEvent *ev);
/*
 * The same for an event of @ctrl; @sq is the queue that caused it (for
 * its peer and queue ID), or NULL.
 */
void nvmet_event_ctrl(NvmetCtrl *ctrl, NvmetSq *sq, NvmetEvent *ev);

#endif /* NVMET_ENGINE_EVENT_H */
