/*
 * NVMe-oF target engine: NVM command set I/O commands; see io.c.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#ifndef NVMET_ENGINE_IO_H
#define NVMET_ENGINE_IO_H

#include "req.h"

void nvmet_exec_io(NvmetReq *req);

#endif /* NVMET_ENGINE_IO_H */
