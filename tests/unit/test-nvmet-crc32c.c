/*
 * CRC32C: known answers, hardware vs table implementation, incremental use.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#include <string.h>
#include "nvmet-test-util.h"
#include "../../nvmet/engine/crc32c.h"

static void test_known(void)
{
    /* the CRC-32C check value (RFC 3720 / iSCSI) */
    g_assert_cmphex(~nvmet_crc32c(~0u, "123456789", 9), ==, 0xe3069283);
    /* 32 bytes of zeroes and of ones (RFC 3720 B.4) */
    {
        uint8_t z[32] = { 0 }, o[32];

        memset(o, 0xff, sizeof(o));
        g_assert_cmphex(~nvmet_crc32c(~0u, z, 32), ==, 0x8a9136aa);
        g_assert_cmphex(~nvmet_crc32c(~0u, o, 32), ==, 0x62a8ab43);
        /* the test host's own implementation, 8 bytes a step and a tail */
        g_assert_cmphex(nvmf_crc32c_digest("123456789", 9), ==, 0xe3069283);
        g_assert_cmphex(nvmf_crc32c_digest(z, 32), ==, 0x8a9136aa);
        g_assert_cmphex(nvmf_crc32c_digest(o, 32), ==, 0x62a8ab43);
    }
}

static void test_impls_agree(void)
{
    g_autofree uint8_t *buf = g_malloc(70000);
    GRand *r = g_rand_new_with_seed(42);

    for (unsigned i = 0; i < 70000; i++) {
        buf[i] = g_rand_int(r);
    }
    for (unsigned off = 0; off < 9; off++) {
        for (size_t len = 0; len < 70000 - 9; len = len * 3 + 1) {
            uint32_t hw, sw, inc;

            nvmet_crc32c_force_sw(false);
            hw = nvmet_crc32c(~0u, buf + off, len);
            inc = nvmet_crc32c(~0u, buf + off, len / 2);
            inc = nvmet_crc32c(inc, buf + off + len / 2, len - len / 2);
            nvmet_crc32c_force_sw(true);
            sw = nvmet_crc32c(~0u, buf + off, len);
            g_assert_cmphex(hw, ==, sw);
            g_assert_cmphex(inc, ==, sw);
            /* and the test host's independent bitwise implementation */
            g_assert_cmphex(~sw, ==, nvmf_crc32c_digest(buf + off, len));
        }
    }
    nvmet_crc32c_force_sw(false);
    g_rand_free(r);
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/nvmet/crc32c/known", test_known);
    g_test_add_func("/nvmet/crc32c/impls-agree", test_impls_agree);
    return g_test_run();
}
