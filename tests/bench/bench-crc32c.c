/*
 * CRC32C throughput: the engine's implementation (SSE4.2 instruction and
 * its slicing-by-8 fallback) next to QEMU's util/crc32c.c, on the buffer
 * sizes NVMe/TCP digests cover (a PDU header, a 4 KiB block, 128 KiB and
 * 1 MiB of data).  Built and run by scripts/bench-crc32c.sh.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

uint32_t nvmet_crc32c(uint32_t crc, const void *buf, size_t len);
void nvmet_crc32c_force_sw(bool sw);
uint32_t crc32c(uint32_t crc, const uint8_t *data, unsigned int length);

static double now(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec / 1e9;
}

static volatile uint32_t sink;

/* MB/s of @fn over @len-byte buffers for about @secs seconds */
static double rate(int which, const uint8_t *buf, size_t len, double secs)
{
    double t0 = now(), t;
    uint64_t bytes = 0;

    do {
        for (int i = 0; i < 64; i++) {
            if (which == 2) {
                sink ^= crc32c(0xffffffff, buf, len);
            } else {
                sink ^= nvmet_crc32c(~0u, buf, len);
            }
            bytes += len;
        }
        t = now() - t0;
    } while (t < secs);
    return bytes / t / 1e6;
}

int main(int argc, char **argv)
{
    static const size_t sizes[] = { 24, 4096, 131072, 1048576 };
    double secs = argc > 1 ? atof(argv[1]) : 0.3;
    uint8_t *buf = malloc(1048576);
    int bad = 0;

    for (size_t i = 0; i < 1048576; i++) {
        buf[i] = (uint8_t)(i * 2654435761u >> 13);
    }
    /* the three must agree before their speed means anything */
    for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
        uint32_t q = crc32c(0xffffffff, buf, sizes[i]);
        uint32_t hw, sw;

        nvmet_crc32c_force_sw(false);
        hw = ~nvmet_crc32c(~0u, buf, sizes[i]);
        nvmet_crc32c_force_sw(true);
        sw = ~nvmet_crc32c(~0u, buf, sizes[i]);
        if (hw != q || sw != q) {
            fprintf(stderr, "CRC mismatch at %zu bytes: engine %08x/%08x, "
                    "QEMU %08x\n", sizes[i], hw, sw, q);
            bad = 1;
        }
    }
    if (bad) {
        return 1;
    }
    printf("%-10s %16s %16s %16s\n", "bytes", "engine (hw) MB/s",
           "engine (sw) MB/s", "QEMU crc32c MB/s");
    for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
        double hw, sw, q;

        nvmet_crc32c_force_sw(false);
        hw = rate(0, buf, sizes[i], secs);
        nvmet_crc32c_force_sw(true);
        sw = rate(1, buf, sizes[i], secs);
        q = rate(2, buf, sizes[i], secs);
        printf("%-10zu %16.0f %16.0f %16.0f\n", sizes[i], hw, sw, q);
    }
    nvmet_crc32c_force_sw(false);
    free(buf);
    return 0;
}
