/*
 * NVMe-oF target engine: DH-HMAC-CHAP in-band authentication of an SQ
 * (Authentication Send / Receive); see auth.c.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#ifndef NVMET_ENGINE_AUTH_H
#define NVMET_ENGINE_AUTH_H

#include "req.h"

/* Does @sq have to authenticate before other commands (Connect ATR)? */
bool nvmet_auth_needed(NvmetSq *sq, const char *hostnqn);
void nvmet_exec_auth_send(NvmetReq *req);
void nvmet_exec_auth_recv(NvmetReq *req);
/* Connect bound @sq: start its authentication timeout if it must. */
void nvmet_auth_connected(NvmetSq *sq);
/*
 * The authentication timeout of @sq expired: the exchange is dropped, and
 * a queue that still has to authenticate is closed.
 */
void nvmet_auth_expire(NvmetSq *sq);
/* Forget the secrets of the current exchange (not the queue's standing). */
void nvmet_auth_clear_exchange(NvmetSqAuth *a);

#endif /* NVMET_ENGINE_AUTH_H */
