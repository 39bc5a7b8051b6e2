/*
 * NVMe-oF TCP target: the "nvmet" block export driver (nvmet/export.c),
 * for block/export/export.c's driver table.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#ifndef NVMET_EXPORT_H
#define NVMET_EXPORT_H

#include "block/export.h"

extern const BlockExportDriver blk_exp_nvmet;

#endif
