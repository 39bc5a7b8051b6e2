/*
 * NVMe-oF target engine: fabrics commands; see fabrics.c.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#ifndef NVMET_ENGINE_FABRICS_H
#define NVMET_ENGINE_FABRICS_H

#include "req.h"

void nvmet_exec_connect(NvmetReq *req);
void nvmet_exec_prop_get(NvmetReq *req);
void nvmet_exec_prop_set(NvmetReq *req);
void nvmet_exec_disconnect(NvmetReq *req);

#endif /* NVMET_ENGINE_FABRICS_H */
