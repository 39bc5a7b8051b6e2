/*
 * NVMe-oF target engine: the random choices of a queue; see random.c.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#ifndef NVMET_ENGINE_RANDOM_H
#define NVMET_ENGINE_RANDOM_H

#include "req.h"

/*
 * @len random bytes for @sq from the stream named @label, whose draws
 * *@draws counts: a deterministic function of the subsystem's seed and of
 * the queue if the queue belongs to a seeded subsystem, ops.random_bytes
 * otherwise.
 */
void nvmet_sq_random(NvmetSq *sq, const char *label, uint32_t *draws,
                     void *buf, size_t len);

#endif /* NVMET_ENGINE_RANDOM_H */
