/*
 * NVMe-oF target engine: CRC32C for NVMe/TCP digests; see crc32c.c.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#ifndef NVMET_ENGINE_CRC32C_H
#define NVMET_ENGINE_CRC32C_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* The raw register: seed with ~0 and invert the result. */
uint32_t nvmet_crc32c(uint32_t crc, const void *buf, size_t len);
/* tests and benchmarks: use the table implementation even with SSE4.2 */
void nvmet_crc32c_force_sw(bool sw);

/* An NVMe/TCP header or data digest. */
static inline uint32_t nvmet_digest(const void *buf, size_t len)
{
    return ~nvmet_crc32c(~0u, buf, len);
}

#endif /* NVMET_ENGINE_CRC32C_H */
