/*
 * NVMe-oF target engine: events for the engine's user.
 *
 * Every protocol milestone (a connection, a controller state change, an
 * authentication step or result, a TLS handshake, a generated PSK, a fatal
 * transport error) is reported through ops.event, synchronously and in
 * order, from the one function where it happens.  This file only fills in
 * where it happened, so that each of those places is one call.  Events
 * carry names and numbers, never key material.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#include "qemu/osdep.h"
#include "event.h"

static const char *const event_names[NVMET_EVENT__MAX] = {
    [NVMET_EVENT_CONN_ACCEPTED] = "conn-accepted",
    [NVMET_EVENT_CONN_CLOSED] = "conn-closed",
    [NVMET_EVENT_QUEUE_CONNECTED] = "queue-connected",
    [NVMET_EVENT_CTRL_CREATED] = "ctrl-created",
    [NVMET_EVENT_CTRL_ENABLED] = "ctrl-enabled",
    [NVMET_EVENT_CTRL_RESET] = "ctrl-reset",
    [NVMET_EVENT_CTRL_SHUTDOWN] = "ctrl-shutdown",
    [NVMET_EVENT_CTRL_DESTROYED] = "ctrl-destroyed",
    [NVMET_EVENT_AUTH_STEP] = "auth-step",
    [NVMET_EVENT_AUTH_SUCCESS] = "auth-success",
    [NVMET_EVENT_AUTH_FAILURE] = "auth-failure",
    [NVMET_EVENT_TLS_DONE] = "tls-done",
    [NVMET_EVENT_TLS_FAILED] = "tls-failed",
    [NVMET_EVENT_PSK_GENERATED] = "psk-generated",
    [NVMET_EVENT_PSK_REPLACED] = "psk-replaced",
    [NVMET_EVENT_TRANSPORT_ERROR] = "transport-error",
    [NVMET_EVENT_FAULT] = "fault",
};

const char *nvmet_event_type_name(NvmetEventType type)
{
    if (type >= NVMET_EVENT__MAX || !event_names[type]) {
        return "?";
    }
    return event_names[type];
}

static void event_emit(NvmetTarget *t, NvmetEvent *ev)
{
    if (t->ops.event) {
        t->ops.event(t->opaque, ev);
    }
}

void nvmet_event_sq(NvmetSq *sq, NvmetEvent *ev)
{
    NvmetCtrl *ctrl = sq->ctrl;

    if (!nvmet_event_wanted(sq->t)) {
        return;
    }
    ev->port = sq->port;
    ev->queue = sq->queue;
    ev->queue_opaque = sq->queue_opaque;
    ev->peer = sq->peer;
    if (ctrl) {
        ev->subnqn = ctrl->subnqn;
        ev->hostnqn = ctrl->hostnqn;
        ev->cntlid = ctrl->cntlid;
        ev->has_qid = true;
        ev->qid = sq->qid;
    }
    event_emit(sq->t, ev);
}

void nvmet_event_ctrl(NvmetCtrl *ctrl, NvmetSq *sq, NvmetEvent *ev)
{
    if (!nvmet_event_wanted(ctrl->t)) {
        return;
    }
    ev->port = ctrl->port;
    ev->subnqn = ctrl->subnqn;
    ev->hostnqn = ctrl->hostnqn;
    ev->cntlid = ctrl->cntlid;
    if (sq) {
        ev->queue = sq->queue;
        ev->queue_opaque = sq->queue_opaque;
        ev->peer = sq->peer;
        ev->has_qid = true;
        ev->qid = sq->qid;
    }
    event_emit(ctrl->t, ev);
}
