/*
 * CRC32C (Castagnoli) for NVMe/TCP header and data digests.
 *
 * Uses the SSE4.2 CRC32 instruction when the CPU has it, else a
 * slicing-by-8 table implementation.  nvmet_crc32c() takes and returns the
 * raw register value: callers seed with ~0 and invert the result.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#include "qemu/osdep.h"
#include "nvmet/proto.h"
#include "crc32c.h"

#define CRC32C_POLY_REV 0x82f63b78u

static uint32_t crc_table[8][256];
static bool crc_table_ready;

static void crc_table_init(void)
{
    for (unsigned i = 0; i < 256; i++) {
        uint32_t c = i;

        for (unsigned k = 0; k < 8; k++) {
            c = (c >> 1) ^ (c & 1 ? CRC32C_POLY_REV : 0);
        }
        crc_table[0][i] = c;
    }
    for (unsigned i = 0; i < 256; i++) {
        for (unsigned t = 1; t < 8; t++) {
            crc_table[t][i] = (crc_table[t - 1][i] >> 8) ^
                              crc_table[0][crc_table[t - 1][i] & 0xff];
        }
    }
    crc_table_ready = true;
}

static uint32_t crc32c_sw(uint32_t crc, const uint8_t *p, size_t len)
{
    if (!crc_table_ready) {
        crc_table_init();
    }
    while (len && ((uintptr_t)p & 7)) {
        crc = crc_table[0][(crc ^ *p++) & 0xff] ^ (crc >> 8);
        len--;
    }
    while (len >= 8) {
        uint32_t lo = crc ^ nvmet_ld32(p);
        uint32_t hi = nvmet_ld32(p + 4);

        crc = crc_table[7][lo & 0xff] ^ crc_table[6][(lo >> 8) & 0xff] ^
              crc_table[5][(lo >> 16) & 0xff] ^ crc_table[4][lo >> 24] ^
              crc_table[3][hi & 0xff] ^ crc_table[2][(hi >> 8) & 0xff] ^
              crc_table[1][(hi >> 16) & 0xff] ^ crc_table[0][hi >> 24];
        p += 8;
        len -= 8;
    }
    while (len--) {
        crc = crc_table[0][(crc ^ *p++) & 0xff] ^ (crc >> 8);
    }
    return crc;
}

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#define HAVE_CRC32C_HW 1

__attribute__((target("sse4.2")))
static uint32_t crc32c_hw(uint32_t crc, const uint8_t *p, size_t len)
{
    uint64_t c = crc;

    while (len && ((uintptr_t)p & 7)) {
        c = __builtin_ia32_crc32qi((uint32_t)c, *p++);
        len--;
    }
    while (len >= 8) {
        uint64_t v;

        memcpy(&v, p, 8);
        c = __builtin_ia32_crc32di(c, v);
        p += 8;
        len -= 8;
    }
    while (len--) {
        c = __builtin_ia32_crc32qi((uint32_t)c, *p++);
    }
    return (uint32_t)c;
}
#endif

static uint32_t (*crc32c_impl)(uint32_t, const uint8_t *, size_t);

/* For tests and benchmarks: force the table implementation. */
void nvmet_crc32c_force_sw(bool sw)
{
    crc32c_impl = sw ? crc32c_sw : NULL;
}

uint32_t nvmet_crc32c(uint32_t crc, const void *buf, size_t len)
{
    if (!crc32c_impl) {
#ifdef HAVE_CRC32C_HW
        __builtin_cpu_init();
        crc32c_impl = __builtin_cpu_supports("sse4.2") ? crc32c_hw : crc32c_sw;
#else
        crc32c_impl = crc32c_sw;
#endif
    }
    return crc32c_impl(crc, buf, len);
}
