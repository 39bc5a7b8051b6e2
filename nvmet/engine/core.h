/*
 * NVMe-oF target engine, request core: where commands start (see req.h
 * for the other half, the request life cycle).
 *
 * A transport calls nvmet_sq_init() for each new connection and
 * nvmet_sq_release() when its user lets go of it.  For each command
 * capsule it takes a slot (nvmet_req_alloc()), copies the SQE in and calls
 * nvmet_req_init(); once the command's data is in place (in-capsule, after
 * an R2T, or a buffer for controller-to-host data), nvmet_req_execute().
 * The command's completion comes back through the transport's
 * queue_response op.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#ifndef NVMET_ENGINE_CORE_H
#define NVMET_ENGINE_CORE_H

#include "req.h"

void nvmet_sq_init(NvmetSq *sq, NvmetPort *port, const char *peer,
                   const NvmetTransportOps *ops);
void nvmet_sq_release(NvmetSq *sq);

/*
 * The SQE is in req->sqe (and in-capsule data, if any, in req->buf):
 * account for the command in the SQ head, check what every command must
 * get right, route it to its command set and apply the authentication
 * gate.  False if the command has been completed already: then the
 * transport must not fetch data for it.
 */
bool nvmet_req_init(NvmetReq *req);
/* Run the command once its data is in place (after nvmet_req_init()). */
void nvmet_req_execute(NvmetReq *req);

#endif /* NVMET_ENGINE_CORE_H */
