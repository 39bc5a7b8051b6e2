/*
 * NVMe-oF target engine: admin commands of NVM and discovery controllers;
 * see admin.c.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#ifndef NVMET_ENGINE_ADMIN_H
#define NVMET_ENGINE_ADMIN_H

#include "req.h"

void nvmet_exec_admin(NvmetReq *req);
void nvmet_exec_disc(NvmetReq *req);

#endif /* NVMET_ENGINE_ADMIN_H */
