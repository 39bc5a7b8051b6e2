/*
 * NVM command set I/O: Read/Write (in-capsule and R2T), Flush, Write
 * Zeroes, Dataset Management, LBA range and namespace checks, block sizes,
 * several queues, asynchronous completion and backend errors.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#include <errno.h>
#include <string.h>
#include "nvmet-test-util.h"

#define DNR NVME_STATUS_DNR
#define NSZE1 2048                  /* blocks of the 1 MiB ns 1 */

/* ---- helpers ------------------------------------------------------------- */

/* An enabled controller with I/O queue @qid; the admin queue in *admin. */
static TestConn *io_conn(TestTarget *tt, TestConn **admin)
{
    TestConn *tc = tc_new(tt);

    *admin = tc_new(tt);
    tc_admin(*admin, TEST_SUBNQN, TEST_HOSTNQN, false, false);
    tc_io(tc, 1, (*admin)->cntlid, TEST_SUBNQN, TEST_HOSTNQN, false, false);
    return tc;
}

static void fill(uint8_t *p, size_t len, unsigned seed)
{
    for (size_t i = 0; i < len; i++) {
        p[i] = (uint8_t)(i * 31 + seed * 7 + (i >> 9));
    }
}

static bool all_is(const uint8_t *p, size_t len, uint8_t v)
{
    for (size_t i = 0; i < len; i++) {
        if (p[i] != v) {
            return false;
        }
    }
    return true;
}

static uint16_t rw(TestConn *tc, bool write, uint32_t nsid, uint64_t slba,
                   uint32_t nlb, void *buf, size_t len)
{
    NvmfCqe cqe;

    g_assert_cmpint(nvmf_host_rw(tc->h, write, nsid, slba, nlb, buf, len,
                                 &cqe), ==, 0);
    if (cqe.status == 0) {
        g_assert_cmpuint(cqe.sqid, ==, nvmet_queue_qid(tc->q));
    }
    return cqe.status;
}

/* Any command with CDW10-12 and data either way; returns the status. */
static uint16_t cmd(TestConn *tc, uint8_t opc, uint32_t nsid, uint32_t cdw10,
                    uint32_t cdw11, uint32_t cdw12, const void *out,
                    size_t out_len, void *in, size_t in_len)
{
    uint8_t sqe[64];
    NvmfCqe cqe;

    nvmf_sqe_init(sqe, opc, nsid);
    nvmet_st32(sqe + NVME_SQE_CDW10, cdw10);
    nvmet_st32(sqe + NVME_SQE_CDW11, cdw11);
    nvmet_st32(sqe + NVME_SQE_CDW12, cdw12);
    g_assert_cmpint(nvmf_host_submit(tc->h, sqe, out, out_len, in, in_len,
                                     &cqe), ==, 0);
    return cqe.status;
}

static uint16_t flush(TestConn *tc, uint32_t nsid)
{
    return cmd(tc, NVME_CMD_FLUSH, nsid, 0, 0, 0, NULL, 0, NULL, 0);
}

static uint16_t write_zeroes(TestConn *tc, uint32_t nsid, uint64_t slba,
                             uint32_t nlb, uint32_t flags)
{
    return cmd(tc, NVME_CMD_WRITE_ZEROES, nsid, (uint32_t)slba,
               (uint32_t)(slba >> 32), (nlb - 1) | flags, NULL, 0, NULL, 0);
}

static void dsm_range(uint8_t *r, uint32_t nlb, uint64_t slba)
{
    memset(r, 0, NVME_DSM_RANGE_SIZE);
    nvmet_st32(r + 4, nlb);
    nvmet_st64(r + 8, slba);
}

static uint16_t dsm(TestConn *tc, uint32_t nsid, uint32_t nr, uint32_t attr,
                    const uint8_t *ranges, size_t len)
{
    return cmd(tc, NVME_CMD_DSM, nsid, nr - 1, attr, 0, ranges, len, NULL, 0);
}

/* A Get Log Page on the admin queue */
static void admin_log(TestConn *a, uint8_t lid, void *buf, size_t len)
{
    NvmfCqe cqe;

    g_assert_cmpint(nvmf_host_get_log(a->h, lid, 0, 0, buf, len, &cqe), ==, 0);
    g_assert_cmphex(cqe.status, ==, 0);
}

/* ---- Read / Write -------------------------------------------------------- */

static void test_rw_round_trip(void)
{
    TestTarget *tt = tt_new();
    TestConn *a, *io = io_conn(tt, &a);
    uint8_t out[4096], in[4096];

    fill(out, sizeof(out), 1);
    g_assert_cmphex(rw(io, true, 1, 10, 8, out, sizeof(out)), ==, 0);
    g_assert_cmpmem(tt->disk1.data + 10 * 512, 4096, out, 4096);
    g_assert_true(all_is(tt->disk1.data, 10 * 512, 0));
    g_assert_true(all_is(tt->disk1.data + 18 * 512, (NSZE1 - 18) * 512, 0));
    g_assert_cmpuint(tt->disk1.nr_ops[NVMET_IO_WRITE], ==, 1);
    g_assert_false(tt->disk1.last_fua);
    g_assert_true(tt_trace_has(tt, "block op 1 offset 5120 len 4096"));

    memset(in, 0, sizeof(in));
    g_assert_cmphex(rw(io, false, 1, 10, 8, in, sizeof(in)), ==, 0);
    g_assert_cmpmem(in, 4096, out, 4096);
    g_assert_cmpuint(tt->disk1.nr_ops[NVMET_IO_READ], ==, 1);

    /* a part of it, and the very last block */
    g_assert_cmphex(rw(io, false, 1, 12, 1, in, 512), ==, 0);
    g_assert_cmpmem(in, 512, out + 1024, 512);
    g_assert_cmphex(rw(io, true, 1, NSZE1 - 1, 1, out, 512), ==, 0);
    g_assert_cmpmem(tt->disk1.data + (NSZE1 - 1) * 512, 512, out, 512);
    g_assert_cmphex(rw(io, false, 1, NSZE1 - 1, 1, in, 512), ==, 0);
    g_assert_cmpmem(in, 512, out, 512);
    g_assert_cmpuint(tt->disk1.nr_ops[NVMET_IO_WRITE], ==, 2);
    g_assert_cmpuint(tt->disk1.nr_ops[NVMET_IO_READ], ==, 3);
    tc_free(io);
    tc_free(a);
    tt_free(tt);
}

static void test_rw_incapsule_r2t(void)
{
    TestTarget *tt = tt_new();
    TestConn *a, *io = io_conn(tt, &a);
    g_autofree uint8_t *out = g_malloc(NSZE1 * 512);
    g_autofree uint8_t *in = g_malloc(NSZE1 * 512);

    /* up to the in-capsule data size (16 KiB) data comes with the command */
    fill(out, 16384, 2);
    tt_trace_clear(tt);
    g_assert_cmphex(rw(io, true, 1, 0, 32, out, 16384), ==, 0);
    g_assert_false(tt_trace_has(tt, "R2T"));
    g_assert_cmpmem(tt->disk1.data, 16384, out, 16384);

    /* one block more and the target asks for it */
    fill(out, 16896, 3);
    g_assert_cmphex(rw(io, true, 1, 100, 33, out, 16896), ==, 0);
    g_assert_true(tt_trace_has(tt, "qid 1 cntlid 1: cid 3 R2T ttag"));
    g_assert_true(tt_trace_has(tt, "R2T ttag 0 len 16896"));
    g_assert_cmpmem(tt->disk1.data + 100 * 512, 16896, out, 16896);

    /* a host that never sends in-capsule data */
    nvmf_host_set_incapsule(io->h, 0);
    tt_trace_clear(tt);
    fill(out, 512, 4);
    g_assert_cmphex(rw(io, true, 1, 7, 1, out, 512), ==, 0);
    g_assert_true(tt_trace_has(tt, "R2T ttag 0 len 512"));
    g_assert_true(tt_trace_has(tt, "H2CData 512 bytes (512/512)"));
    g_assert_cmpmem(tt->disk1.data + 7 * 512, 512, out, 512);

    /* the largest transfer: MDTS 8 = 1 MiB, the whole namespace */
    fill(out, NSZE1 * 512, 5);
    g_assert_cmphex(rw(io, true, 1, 0, NSZE1, out, NSZE1 * 512), ==, 0);
    g_assert_cmpmem(tt->disk1.data, NSZE1 * 512, out, NSZE1 * 512);
    memset(in, 0, NSZE1 * 512);
    g_assert_cmphex(rw(io, false, 1, 0, NSZE1, in, NSZE1 * 512), ==, 0);
    g_assert_cmpmem(in, NSZE1 * 512, out, NSZE1 * 512);
    tc_free(io);
    tc_free(a);
    tt_free(tt);
}

static void test_rw_digests(void)
{
    TestTarget *tt = tt_new();
    TestConn *a = tc_new(tt), *io = tc_new(tt);
    uint8_t out[8192], in[8192];

    tc_admin(a, TEST_SUBNQN, TEST_HOSTNQN, true, true);
    tc_io(io, 1, a->cntlid, TEST_SUBNQN, TEST_HOSTNQN, true, true);
    fill(out, sizeof(out), 6);
    g_assert_cmphex(rw(io, true, 1, 40, 16, out, sizeof(out)), ==, 0);
    g_assert_cmphex(rw(io, false, 1, 40, 16, in, sizeof(in)), ==, 0);
    g_assert_cmpmem(in, sizeof(in), out, sizeof(out));
    /* and by R2T */
    nvmf_host_set_incapsule(io->h, 0);
    fill(out, sizeof(out), 7);
    g_assert_cmphex(rw(io, true, 1, 40, 16, out, sizeof(out)), ==, 0);
    g_assert_cmphex(rw(io, false, 1, 40, 16, in, sizeof(in)), ==, 0);
    g_assert_cmpmem(in, sizeof(in), out, sizeof(out));
    tc_free(io);
    tc_free(a);
    tt_free(tt);
}

static void test_rw_fua(void)
{
    TestTarget *tt = tt_new();
    TestConn *a, *io = io_conn(tt, &a);
    uint8_t buf[512] = { 9 };
    NvmfCqe cqe;

    g_assert_cmphex(cmd(io, NVME_CMD_WRITE, 1, 0, 0, NVME_RW_FUA, buf, 512,
                        NULL, 0), ==, 0);
    g_assert_true(tt->disk1.last_fua);
    g_assert_cmphex(cmd(io, NVME_CMD_WRITE, 1, 0, 0, 0, buf, 512, NULL, 0), ==,
                    0);
    g_assert_false(tt->disk1.last_fua);
    /* limited retry is accepted and means nothing here */
    g_assert_cmphex(cmd(io, NVME_CMD_WRITE, 1, 0, 0, NVME_RW_LR, buf, 512,
                        NULL, 0), ==, 0);
    g_assert_false(tt->disk1.last_fua);
    g_assert_cmphex(cmd(io, NVME_CMD_READ, 1, 0, 0, NVME_RW_FUA | NVME_RW_LR,
                        NULL, 0, buf, 512), ==, 0);
    g_assert_cmpuint(buf[0], ==, 9);

    /* with the volatile write cache off every write is write-through */
    g_assert_cmpint(nvmf_host_set_features(a->h, NVME_FEAT_VOLATILE_WC, 0,
                                           &cqe), ==, 0);
    g_assert_cmphex(cqe.status, ==, 0);
    g_assert_cmphex(rw(io, true, 1, 0, 1, buf, 512), ==, 0);
    g_assert_true(tt->disk1.last_fua);
    g_assert_cmpint(nvmf_host_set_features(a->h, NVME_FEAT_VOLATILE_WC, 1,
                                           &cqe), ==, 0);
    g_assert_cmphex(rw(io, true, 1, 0, 1, buf, 512), ==, 0);
    g_assert_false(tt->disk1.last_fua);
    tc_free(io);
    tc_free(a);
    tt_free(tt);
}

static void test_rw_lba_range(void)
{
    TestTarget *tt = tt_new();
    TestConn *a, *io = io_conn(tt, &a);
    uint8_t buf[4096] = { 0 };
    uint8_t log[128];

    /* starting beyond the end */
    g_assert_cmphex(rw(io, false, 1, NSZE1, 1, buf, 512), ==,
                    NVME_SC_LBA_RANGE | DNR);
    g_assert_true(tt_trace_has(tt, "LBA 2048+1 beyond namespace size 2048"));
    g_assert_cmphex(rw(io, true, 1, NSZE1, 1, buf, 512), ==,
                    NVME_SC_LBA_RANGE | DNR);
    /* NLB reaching past the end */
    g_assert_cmphex(rw(io, true, 1, NSZE1 - 7, 8, buf, 4096), ==,
                    NVME_SC_LBA_RANGE | DNR);
    g_assert_true(tt_trace_has(tt, "LBA 2041+8 beyond namespace size 2048"));
    g_assert_cmphex(rw(io, false, 1, NSZE1 - 1, 2, buf, 1024), ==,
                    NVME_SC_LBA_RANGE | DNR);
    /* the upper half of SLBA counts */
    g_assert_cmphex(rw(io, false, 1, 1ull << 32, 1, buf, 512), ==,
                    NVME_SC_LBA_RANGE | DNR);
    g_assert_cmphex(rw(io, false, 1, UINT64_MAX, 1, buf, 512), ==,
                    NVME_SC_LBA_RANGE | DNR);
    /* nothing reached the backend */
    g_assert_cmpuint(tt->disk1.nr_ops[NVMET_IO_READ], ==, 0);
    g_assert_cmpuint(tt->disk1.nr_ops[NVMET_IO_WRITE], ==, 0);
    /* exactly up to the end is fine */
    g_assert_cmphex(rw(io, true, 1, NSZE1 - 8, 8, buf, 4096), ==, 0);

    /* the error log names the queue, the namespace and the LBA */
    admin_log(a, NVME_LOG_ERROR, log, sizeof(log));
    g_assert_cmpuint(nvmet_ld64(log + 0), ==, 6);
    g_assert_cmpuint(nvmet_ld16(log + 8), ==, 1);               /* SQID */
    g_assert_cmphex(nvmet_ld16(log + 12), ==,
                    (NVME_SC_LBA_RANGE | DNR) << 1);
    g_assert_cmphex(nvmet_ld64(log + 16), ==, UINT64_MAX);      /* LBA */
    g_assert_cmpuint(nvmet_ld32(log + 24), ==, 1);              /* NSID */
    g_assert_cmphex(nvmet_ld64(log + 64 + 16), ==, 1ull << 32);
    tc_free(io);
    tc_free(a);
    tt_free(tt);
}

static void test_rw_bad_commands(void)
{
    TestTarget *tt = tt_new();
    RamDisk d2 = { 0 };
    TestConn *a, *io;
    g_autofree uint8_t *big = g_malloc0(257 * 4096);
    uint8_t buf[4096] = { 0 };

    tt_add_ns(tt, tt->subsys, 2, &d2, 2 << 20, 4096);
    io = io_conn(tt, &a);

    /* the data length must match NLB */
    g_assert_cmphex(rw(io, true, 1, 0, 8, buf, 512), ==,
                    NVME_SC_SGL_INVALID_DATA | DNR);
    g_assert_true(tt_trace_has(tt, "command moves 4096 bytes but the SGL "
                               "says 512"));
    g_assert_cmphex(rw(io, false, 1, 0, 1, buf, 1024), ==,
                    NVME_SC_SGL_INVALID_DATA | DNR);
    g_assert_cmphex(cmd(io, NVME_CMD_READ, 1, 0, 0, 0, NULL, 0, NULL, 0), ==,
                    NVME_SC_SGL_INVALID_DATA | DNR);
    g_assert_cmphex(cmd(io, NVME_CMD_WRITE, 1, 0, 0, 0, NULL, 0, NULL, 0), ==,
                    NVME_SC_SGL_INVALID_DATA | DNR);
    g_assert_cmphex(rw(io, true, 2, 0, 1, buf, 512), ==,
                    NVME_SC_SGL_INVALID_DATA | DNR);
    /* protection information is not supported */
    g_assert_cmphex(cmd(io, NVME_CMD_WRITE, 1, 0, 0, 1u << 26, buf, 512, NULL,
                        0), ==, NVME_SC_INVALID_FIELD | DNR);
    g_assert_cmphex(cmd(io, NVME_CMD_READ, 1, 0, 0, 1u << 29, NULL, 0, buf,
                        512), ==, NVME_SC_INVALID_FIELD | DNR);
    /*
     * beyond MDTS (1 MiB), a read or a write: Invalid Field in Command (the
     * base specification's rule for MDTS), before any data moves
     */
    g_assert_cmphex(rw(io, false, 2, 0, 257, big, 257 * 4096), ==,
                    NVME_SC_INVALID_FIELD | DNR);
    g_assert_cmphex(rw(io, true, 2, 0, 257, big, 257 * 4096), ==,
                    NVME_SC_INVALID_FIELD | DNR);
    g_assert_true(tt_trace_has(tt, "transfer of 1052672 bytes exceeds the "
                               "maximum data transfer size (1048576 bytes)"));
    g_assert_cmphex(rw(io, false, 2, 0, 256, big, 256 * 4096), ==, 0);
    g_assert_cmpuint(tt->disk1.nr_ops[NVMET_IO_READ], ==, 0);
    g_assert_cmpuint(tt->disk1.nr_ops[NVMET_IO_WRITE], ==, 0);
    tc_free(io);
    tc_free(a);
    tt_free(tt);
    g_free(d2.data);
}

/* ---- Flush, Write Zeroes, Dataset Management ----------------------------- */

static void test_flush(void)
{
    TestTarget *tt = tt_new();
    RamDisk d2 = { 0 };
    TestConn *a, *io;

    tt_add_ns(tt, tt->subsys, 2, &d2, 65536, 4096);
    io = io_conn(tt, &a);
    g_assert_cmphex(flush(io, 1), ==, 0);
    g_assert_cmpuint(tt->disk1.nr_ops[NVMET_IO_FLUSH], ==, 1);
    g_assert_cmpuint(d2.nr_ops[NVMET_IO_FLUSH], ==, 0);
    g_assert_cmphex(flush(io, 2), ==, 0);
    g_assert_cmpuint(d2.nr_ops[NVMET_IO_FLUSH], ==, 1);
    /* all namespaces at once */
    g_assert_cmphex(flush(io, 0xffffffff), ==, 0);
    g_assert_cmpuint(tt->disk1.nr_ops[NVMET_IO_FLUSH], ==, 2);
    g_assert_cmpuint(d2.nr_ops[NVMET_IO_FLUSH], ==, 2);
    /* inactive namespaces */
    g_assert_cmphex(flush(io, 3), ==, NVME_SC_INVALID_NS | DNR);
    g_assert_cmphex(flush(io, 0), ==, NVME_SC_INVALID_NS | DNR);
    g_assert_true(tt_trace_has(tt, "nsid 3 is not an active namespace"));
    /* with no namespace at all a broadcast flush has nothing to do */
    tt_remove_ns(tt, tt->ns1);
    tt_remove_ns(tt, g_ptr_array_index(tt->nss, 0));
    g_assert_cmphex(flush(io, 0xffffffff), ==, 0);
    g_assert_cmphex(flush(io, 1), ==, NVME_SC_INVALID_NS | DNR);
    g_assert_cmpuint(tt->disk1.nr_ops[NVMET_IO_FLUSH], ==, 2);
    tc_free(io);
    tc_free(a);
    tt_free(tt);
    g_free(d2.data);
}

static void test_write_zeroes(void)
{
    TestTarget *tt = tt_new();
    TestConn *a, *io = io_conn(tt, &a);
    uint8_t *d = tt->disk1.data;
    uint8_t sqe[64], data[512] = { 0 };
    NvmfCqe cqe;

    memset(d, 0xff, NSZE1 * 512);
    g_assert_cmphex(write_zeroes(io, 1, 4, 4, 0), ==, 0);
    g_assert_true(all_is(d, 4 * 512, 0xff));
    g_assert_true(all_is(d + 4 * 512, 4 * 512, 0));
    g_assert_true(all_is(d + 8 * 512, (NSZE1 - 8) * 512, 0xff));
    g_assert_cmpuint(tt->disk1.nr_ops[NVMET_IO_WRITE_ZEROES], ==, 1);
    g_assert_false(tt->disk1.last_unmap);
    g_assert_true(tt_trace_has(tt, "block op 3 offset 2048 len 2048"));
    /* deallocate allowed */
    g_assert_cmphex(write_zeroes(io, 1, NSZE1 - 1, 1, NVME_WZ_DEAC), ==, 0);
    g_assert_true(tt->disk1.last_unmap);
    g_assert_true(all_is(d + (NSZE1 - 1) * 512, 512, 0));
    /* the whole namespace, NLB 65536 being the most one command can do */
    g_assert_cmphex(write_zeroes(io, 1, 0, NSZE1, 0), ==, 0);
    g_assert_true(all_is(d, NSZE1 * 512, 0));

    /* range and field checks */
    g_assert_cmphex(write_zeroes(io, 1, NSZE1 - 1, 2, 0), ==,
                    NVME_SC_LBA_RANGE | DNR);
    g_assert_cmphex(write_zeroes(io, 1, NSZE1, 1, 0), ==,
                    NVME_SC_LBA_RANGE | DNR);
    g_assert_cmphex(write_zeroes(io, 1, 0, 1, 1u << 27), ==,
                    NVME_SC_INVALID_FIELD | DNR);
    g_assert_cmphex(write_zeroes(io, 7, 0, 1, 0), ==,
                    NVME_SC_INVALID_NS | DNR);
    /* no data goes with it */
    nvmf_sqe_init(sqe, NVME_CMD_WRITE_ZEROES, 1);
    g_assert_cmpint(nvmf_host_submit(io->h, sqe, data, sizeof(data), NULL, 0,
                                     &cqe), ==, 0);
    g_assert_cmphex(cqe.status, ==, NVME_SC_SGL_INVALID_DATA | DNR);
    nvmf_host_set_incapsule(io->h, 0);
    g_assert_cmpint(nvmf_host_submit(io->h, sqe, data, sizeof(data), NULL, 0,
                                     &cqe), ==, 0);
    g_assert_cmphex(cqe.status, ==, NVME_SC_INVALID_FIELD | DNR);
    g_assert_cmpuint(tt->disk1.nr_ops[NVMET_IO_WRITE_ZEROES], ==, 3);
    tc_free(io);
    tc_free(a);
    tt_free(tt);
}

static void test_dsm(void)
{
    TestTarget *tt = tt_new();
    TestConn *a, *io = io_conn(tt, &a);
    uint8_t *d = tt->disk1.data;
    g_autofree uint8_t *r = g_malloc0(4096);

    memset(d, 0xff, NSZE1 * 512);
    dsm_range(r, 8, 0);
    dsm_range(r + 16, 0, 100);          /* empty ranges are skipped */
    dsm_range(r + 32, 16, 64);
    g_assert_cmphex(dsm(io, 1, 3, NVME_DSMGMT_AD, r, 48), ==, 0);
    g_assert_cmpuint(tt->disk1.nr_ops[NVMET_IO_DISCARD], ==, 2);
    g_assert_true(all_is(d, 8 * 512, 0));
    g_assert_true(all_is(d + 8 * 512, 56 * 512, 0xff));
    g_assert_true(all_is(d + 64 * 512, 16 * 512, 0));
    g_assert_true(all_is(d + 80 * 512, (NSZE1 - 80) * 512, 0xff));
    g_assert_true(tt_trace_has(tt, "block op 4 offset 32768 len 8192"));

    /* hints only (integral dataset for read/write): nothing to do */
    memset(d, 0xff, NSZE1 * 512);
    g_assert_cmphex(dsm(io, 1, 3, 3, r, 48), ==, 0);
    g_assert_cmpuint(tt->disk1.nr_ops[NVMET_IO_DISCARD], ==, 2);
    g_assert_true(all_is(d, NSZE1 * 512, 0xff));

    /* all ranges empty */
    dsm_range(r, 0, 0);
    g_assert_cmphex(dsm(io, 1, 1, NVME_DSMGMT_AD, r, 16), ==, 0);
    g_assert_cmpuint(tt->disk1.nr_ops[NVMET_IO_DISCARD], ==, 2);

    /* one bad range fails the command before anything is discarded */
    dsm_range(r, 8, 0);
    dsm_range(r + 16, 2, NSZE1 - 1);
    g_assert_cmphex(dsm(io, 1, 2, NVME_DSMGMT_AD, r, 32), ==,
                    NVME_SC_LBA_RANGE | DNR);
    g_assert_true(tt_trace_has(tt, "LBA 2047+2 beyond namespace size 2048"));
    g_assert_cmpuint(tt->disk1.nr_ops[NVMET_IO_DISCARD], ==, 2);
    g_assert_true(all_is(d, NSZE1 * 512, 0xff));

    /* the data must hold NR ranges; more is fine (Linux sends a page) */
    g_assert_cmphex(dsm(io, 1, 3, NVME_DSMGMT_AD, r, 32), ==,
                    NVME_SC_SGL_INVALID_DATA | DNR);
    g_assert_cmphex(dsm(io, 1, 1, NVME_DSMGMT_AD, NULL, 0), ==,
                    NVME_SC_SGL_INVALID_DATA | DNR);
    g_assert_cmphex(dsm(io, 1, 1, NVME_DSMGMT_AD, r, 4096), ==, 0);
    g_assert_cmpuint(tt->disk1.nr_ops[NVMET_IO_DISCARD], ==, 3);
    g_assert_true(all_is(d, 8 * 512, 0));

    /* the most ranges, by R2T */
    for (unsigned i = 0; i < NVME_DSM_MAX_RANGES; i++) {
        dsm_range(r + 16 * i, 1, 2 * i);
    }
    memset(d, 0xff, NSZE1 * 512);
    nvmf_host_set_incapsule(io->h, 0);
    g_assert_cmphex(dsm(io, 1, NVME_DSM_MAX_RANGES, NVME_DSMGMT_AD, r, 4096),
                    ==, 0);
    g_assert_cmpuint(tt->disk1.nr_ops[NVMET_IO_DISCARD], ==, 3 + 256);
    g_assert_true(all_is(d, 512, 0));
    g_assert_true(all_is(d + 512, 512, 0xff));
    g_assert_true(all_is(d + 510 * 512, 512, 0));
    g_assert_true(all_is(d + 511 * 512, (NSZE1 - 511) * 512, 0xff));

    g_assert_cmphex(dsm(io, 9, 1, NVME_DSMGMT_AD, r, 16), ==,
                    NVME_SC_INVALID_NS | DNR);
    tc_free(io);
    tc_free(a);
    tt_free(tt);
}

/* ---- namespace and opcode checks ----------------------------------------- */

static void test_invalid_ns(void)
{
    TestTarget *tt = tt_new();
    TestConn *a, *io = io_conn(tt, &a);
    uint8_t buf[512] = { 0 };

    g_assert_cmphex(rw(io, false, 9, 0, 1, buf, 512), ==,
                    NVME_SC_INVALID_NS | DNR);
    g_assert_true(tt_trace_has(tt, "qid 1 cntlid 1: cid 2: nsid 9 is not an "
                               "active namespace"));
    g_assert_cmphex(rw(io, true, 0, 0, 1, buf, 512), ==,
                    NVME_SC_INVALID_NS | DNR);
    g_assert_cmphex(rw(io, true, 0xffffffff, 0, 1, buf, 512), ==,
                    NVME_SC_INVALID_NS | DNR);
    g_assert_cmphex(write_zeroes(io, 0xffffffff, 0, 1, 0), ==,
                    NVME_SC_INVALID_NS | DNR);
    g_assert_cmpuint(tt->disk1.nr_ops[NVMET_IO_WRITE], ==, 0);
    g_assert_cmpuint(tt->disk1.nr_ops[NVMET_IO_WRITE_ZEROES], ==, 0);

    /* a namespace removed under a connected host */
    g_assert_cmphex(rw(io, true, 1, 0, 1, buf, 512), ==, 0);
    tt_remove_ns(tt, tt->ns1);
    g_assert_cmphex(rw(io, true, 1, 0, 1, buf, 512), ==,
                    NVME_SC_INVALID_NS | DNR);
    g_assert_cmpuint(tt->disk1.nr_ops[NVMET_IO_WRITE], ==, 1);
    tc_free(io);
    tc_free(a);
    tt_free(tt);
}

static void test_invalid_opcode(void)
{
    static const uint8_t opcs[] = { 0x04, 0x05, 0x0c, 0x0d, 0x0e, 0x11, 0x12,
                                    0x15, 0x19, 0x1d, 0x79, 0x80, 0x81, 0xff };
    TestTarget *tt = tt_new();
    TestConn *a, *io = io_conn(tt, &a);
    g_autofree uint8_t *buf = g_malloc0(4096);

    for (unsigned i = 0; i < G_N_ELEMENTS(opcs); i++) {
        g_autofree char *msg = g_strdup_printf("I/O opcode 0x%02x not "
                                               "supported", opcs[i]);

        g_assert_cmphex(cmd(io, opcs[i], 1, 0, 0, 0, NULL, 0, NULL, 0), ==,
                        NVME_SC_INVALID_OPCODE | DNR);
        g_assert_true(tt_trace_has(tt, msg));
    }
    /* admin commands mean nothing on an I/O queue */
    g_assert_cmphex(cmd(io, NVME_ADM_IDENTIFY, 1, 1, 0, 0, NULL, 0, buf,
                        4096), ==, NVME_SC_INVALID_OPCODE | DNR);
    g_assert_cmphex(cmd(io, NVME_ADM_ASYNC_EVENT, 1, 0, 0, 0, NULL, 0, NULL,
                        0), ==, NVME_SC_INVALID_OPCODE | DNR);
    /* an unknown opcode with an unknown namespace: the namespace first */
    g_assert_cmphex(cmd(io, 0x05, 5, 0, 0, 0, NULL, 0, NULL, 0), ==,
                    NVME_SC_INVALID_NS | DNR);
    g_assert_false(nvmet_queue_wants_close(io->q));
    g_assert_cmphex(flush(io, 1), ==, 0);
    tc_free(io);
    tc_free(a);
    tt_free(tt);
}

static void test_read_only(void)
{
    TestTarget *tt = tt_new();
    RamDisk d2 = { 0 };
    NvmetNsConfig cfg = { 0 };
    GError *err = NULL;
    TestConn *a, *io;
    uint8_t buf[512], r[16];
    NvmetNs *ns;

    d2.size = 65536;
    d2.data = g_malloc(d2.size);
    memset(d2.data, 0x3c, d2.size);
    cfg.nsid = 2;
    cfg.backend = &d2;
    cfg.size = d2.size;
    cfg.block_size = 512;
    cfg.read_only = true;
    ns = nvmet_ns_new(tt->subsys, &cfg, &err);
    g_assert_no_error(err);
    g_ptr_array_add(tt->nss, ns);
    io = io_conn(tt, &a);

    memset(buf, 0, sizeof(buf));
    g_assert_cmphex(rw(io, true, 2, 0, 1, buf, 512), ==,
                    NVME_SC_NS_WRITE_PROTECTED | DNR);
    g_assert_cmphex(write_zeroes(io, 2, 0, 1, 0), ==,
                    NVME_SC_NS_WRITE_PROTECTED | DNR);
    dsm_range(r, 1, 0);
    g_assert_cmphex(dsm(io, 2, 1, NVME_DSMGMT_AD, r, 16), ==,
                    NVME_SC_NS_WRITE_PROTECTED | DNR);
    g_assert_true(tt_trace_has(tt, "(namespace write protected)"));
    g_assert_cmpuint(d2.nr_ops[NVMET_IO_WRITE], ==, 0);
    g_assert_cmpuint(d2.nr_ops[NVMET_IO_WRITE_ZEROES], ==, 0);
    g_assert_cmpuint(d2.nr_ops[NVMET_IO_DISCARD], ==, 0);
    g_assert_true(all_is(d2.data, d2.size, 0x3c));
    /* reading, hints and flushing are fine */
    g_assert_cmphex(dsm(io, 2, 1, 0, r, 16), ==, 0);
    g_assert_cmphex(rw(io, false, 2, 0, 1, buf, 512), ==, 0);
    g_assert_true(all_is(buf, 512, 0x3c));
    g_assert_cmphex(flush(io, 2), ==, 0);
    /* range errors come before write protection */
    g_assert_cmphex(write_zeroes(io, 2, 128, 1, 0), ==,
                    NVME_SC_LBA_RANGE | DNR);
    tc_free(io);
    tc_free(a);
    tt_free(tt);
    g_free(d2.data);
}

/* ---- namespaces of different shapes -------------------------------------- */

static void test_block_sizes(void)
{
    TestTarget *tt = tt_new();
    RamDisk d2 = { 0 };
    TestConn *a, *io;
    uint8_t out[8192], in[8192];

    tt_add_ns(tt, tt->subsys, 2, &d2, 256 * 1024, 4096);
    io = io_conn(tt, &a);

    /* 2 blocks of 4 KiB at LBA 3: byte offset 12 KiB */
    fill(out, sizeof(out), 8);
    g_assert_cmphex(rw(io, true, 2, 3, 2, out, 8192), ==, 0);
    g_assert_cmpmem(d2.data + 3 * 4096, 8192, out, 8192);
    g_assert_true(all_is(d2.data, 3 * 4096, 0));
    g_assert_true(all_is(tt->disk1.data, NSZE1 * 512, 0));
    g_assert_true(tt_trace_has(tt, "block op 1 offset 12288 len 8192"));
    g_assert_cmphex(rw(io, false, 2, 3, 2, in, 8192), ==, 0);
    g_assert_cmpmem(in, 8192, out, 8192);
    /* the same LBA on the 512-byte namespace is elsewhere */
    fill(out, 1024, 9);
    g_assert_cmphex(rw(io, true, 1, 3, 2, out, 1024), ==, 0);
    g_assert_cmpmem(tt->disk1.data + 3 * 512, 1024, out, 1024);
    g_assert_cmphex(rw(io, false, 2, 3, 1, in, 4096), ==, 0);
    g_assert_cmpmem(in, 4096, d2.data + 3 * 4096, 4096);

    /* 64 blocks of 4 KiB */
    g_assert_cmphex(rw(io, false, 2, 63, 1, in, 4096), ==, 0);
    g_assert_cmphex(rw(io, false, 2, 64, 1, in, 4096), ==,
                    NVME_SC_LBA_RANGE | DNR);
    g_assert_true(tt_trace_has(tt, "LBA 64+1 beyond namespace size 64"));
    /* Write Zeroes and DSM count in 4 KiB blocks too */
    memset(d2.data, 0xee, d2.size);
    g_assert_cmphex(write_zeroes(io, 2, 1, 2, 0), ==, 0);
    g_assert_true(all_is(d2.data, 4096, 0xee));
    g_assert_true(all_is(d2.data + 4096, 8192, 0));
    g_assert_true(all_is(d2.data + 3 * 4096, 61 * 4096, 0xee));
    {
        uint8_t r[16];

        dsm_range(r, 1, 63);
        g_assert_cmphex(dsm(io, 2, 1, NVME_DSMGMT_AD, r, 16), ==, 0);
        g_assert_true(all_is(d2.data + 63 * 4096, 4096, 0));
        g_assert_true(all_is(d2.data + 62 * 4096, 4096, 0xee));
    }
    tc_free(io);
    tc_free(a);
    tt_free(tt);
    g_free(d2.data);
}

static void test_resize(void)
{
    TestTarget *tt = tt_new();
    TestConn *a, *io = io_conn(tt, &a);
    uint8_t buf[512] = { 0 };

    nvmet_ns_resize(tt->ns1, 512 * 1024);
    g_assert_cmphex(rw(io, false, 1, 1023, 1, buf, 512), ==, 0);
    g_assert_cmphex(rw(io, false, 1, 1024, 1, buf, 512), ==,
                    NVME_SC_LBA_RANGE | DNR);
    g_assert_true(tt_trace_has(tt, "LBA 1024+1 beyond namespace size 1024"));
    nvmet_ns_resize(tt->ns1, 1 << 20);
    g_assert_cmphex(rw(io, false, 1, 1024, 1, buf, 512), ==, 0);
    tc_free(io);
    tc_free(a);
    tt_free(tt);
}

/* ---- queues -------------------------------------------------------------- */

static void test_multi_queue(void)
{
    enum { NQ = 4, PER = 6 };
    TestTarget *tt = tt_new();
    TestConn *a = tc_new(tt), *io[NQ];
    g_autofree uint8_t *out = g_malloc(NQ * PER * 4096);
    g_autofree uint8_t *in = g_malloc0(NQ * PER * 4096);
    int cid[NQ][PER];
    NvmfCqe cqe;

    tc_admin(a, TEST_SUBNQN, TEST_HOSTNQN, false, false);
    for (int q = 0; q < NQ; q++) {
        io[q] = tc_new(tt);
        tc_io(io[q], q + 1, a->cntlid, TEST_SUBNQN, TEST_HOSTNQN, false,
              false);
    }
    fill(out, NQ * PER * 4096, 10);

    /* every queue has several writes outstanding at once */
    for (int i = 0; i < PER; i++) {
        for (int q = 0; q < NQ; q++) {
            uint8_t sqe[64];
            unsigned blk = (q * PER + i) * 8;

            /* even ones in-capsule, odd ones by R2T */
            nvmf_host_set_incapsule(io[q]->h, i & 1 ? 0 : 16384);
            nvmf_sqe_init(sqe, NVME_CMD_WRITE, 1);
            nvmet_st32(sqe + NVME_SQE_CDW10, blk);
            nvmet_st32(sqe + NVME_SQE_CDW12, 7);
            cid[q][i] = nvmf_host_send_cmd(io[q]->h, sqe, out + blk * 512,
                                           4096, NULL, 0);
            g_assert_cmpint(cid[q][i], >, 0);
        }
    }
    for (int q = NQ - 1; q >= 0; q--) {
        for (int i = PER - 1; i >= 0; i--) {
            g_assert_cmpint(nvmf_host_wait(io[q]->h, cid[q][i], &cqe), ==, 0);
            g_assert_cmphex(cqe.status, ==, 0);
            g_assert_cmpuint(cqe.sqid, ==, q + 1);
        }
    }
    g_assert_cmpmem(tt->disk1.data, NQ * PER * 4096, out, NQ * PER * 4096);
    g_assert_cmpuint(tt->disk1.nr_ops[NVMET_IO_WRITE], ==, NQ * PER);

    /* read everything back through other queues than wrote it */
    for (int q = 0; q < NQ; q++) {
        unsigned blk = ((q + 1) % NQ) * PER * 8;

        g_assert_cmphex(rw(io[q], false, 1, blk, PER * 8, in + blk * 512,
                           PER * 4096), ==, 0);
    }
    g_assert_cmpmem(in, NQ * PER * 4096, out, NQ * PER * 4096);

    for (int q = 0; q < NQ; q++) {
        tc_free(io[q]);
    }
    tc_free(a);
    tt_free(tt);
}

/* Block I/O completing later, and out of order */
static void test_async_completion(void)
{
    TestTarget *tt = tt_new();
    TestConn *a, *io = io_conn(tt, &a);
    uint8_t w1[512], w2[512], r1[512], sqe[64];
    const uint8_t *data;
    NvmetIo *nio;
    g_auto(NvmfPdu) p1 = { 0 };
    g_auto(NvmfPdu) p2 = { 0 };
    g_auto(NvmfPdu) p3 = { 0 };
    int c1, c2, c3;

    fill(w1, 512, 11);
    fill(w2, 512, 12);
    memcpy(tt->disk1.data + 50 * 512, w2, 512);
    io->hold_io = true;
    nvmf_sqe_init(sqe, NVME_CMD_WRITE, 1);
    nvmet_st32(sqe + NVME_SQE_CDW10, 20);
    c1 = nvmf_host_send_cmd(io->h, sqe, w1, 512, NULL, 0);
    nvmf_sqe_init(sqe, NVME_CMD_WRITE, 1);
    nvmet_st32(sqe + NVME_SQE_CDW10, 21);
    c2 = nvmf_host_send_cmd(io->h, sqe, w2, 512, NULL, 0);
    nvmf_sqe_init(sqe, NVME_CMD_READ, 1);
    nvmet_st32(sqe + NVME_SQE_CDW10, 50);
    c3 = nvmf_host_send_cmd(io->h, sqe, NULL, 0, r1, 512);
    g_assert_cmpint(c3, >, 0);

    /* three block requests, nothing to send until they complete */
    while ((nio = nvmet_queue_next_io(io->q))) {
        g_queue_push_tail(&io->held, nio);
    }
    g_assert_cmpuint(g_queue_get_length(&io->held), ==, 3);
    g_assert_cmpuint(nvmet_queue_output(io->q, &data), ==, 0);
    g_assert_cmpuint(tt->disk1.nr_ops[NVMET_IO_WRITE], ==, 0);

    /* complete them last to first: the answers follow that order */
    g_queue_reverse(&io->held);
    tc_complete_held(io);
    g_assert_cmpint(nvmf_host_recv_pdu(io->h, &p1), ==, 0);
    g_assert_cmpint(p1.type, ==, NVME_TCP_PDU_C2H_DATA);
    g_assert_cmpint(nvmet_ld16(p1.hdr + NVME_TCP_DATA_CCCID), ==, c3);
    g_assert_cmpmem(p1.data, p1.data_len, w2, 512);
    nvmf_pdu_clear(&p1);
    g_assert_cmpint(nvmf_host_recv_pdu(io->h, &p1), ==, 0);
    g_assert_cmpint(p1.type, ==, NVME_TCP_PDU_RSP);
    g_assert_cmpint(nvmet_ld16(p1.hdr + 8 + NVME_CQE_CID), ==, c3);
    g_assert_cmpint(nvmf_host_recv_pdu(io->h, &p2), ==, 0);
    g_assert_cmpint(nvmet_ld16(p2.hdr + 8 + NVME_CQE_CID), ==, c2);
    g_assert_cmphex(nvmet_ld16(p2.hdr + 8 + NVME_CQE_STATUS), ==, 0);
    g_assert_cmpint(nvmf_host_recv_pdu(io->h, &p3), ==, 0);
    g_assert_cmpint(nvmet_ld16(p3.hdr + 8 + NVME_CQE_CID), ==, c1);
    g_assert_cmpmem(tt->disk1.data + 20 * 512, 512, w1, 512);
    g_assert_cmpmem(tt->disk1.data + 21 * 512, 512, w2, 512);
    tc_free(io);
    tc_free(a);
    tt_free(tt);
}

/* I/O handed out for a namespace that is removed meanwhile still completes */
static void test_ns_removed_inflight(void)
{
    TestTarget *tt = tt_new();
    RamDisk d2 = { 0 };
    TestConn *a, *io;
    uint8_t buf[4096], sqe[64];
    NvmetNs *ns2;
    NvmetIo *nio;
    NvmfCqe cqe;
    int cid;

    ns2 = tt_add_ns(tt, tt->subsys, 2, &d2, 65536, 4096);
    io = io_conn(tt, &a);
    fill(buf, sizeof(buf), 13);
    io->hold_io = true;
    nvmf_sqe_init(sqe, NVME_CMD_WRITE, 2);
    nvmet_st32(sqe + NVME_SQE_CDW10, 5);
    cid = nvmf_host_send_cmd(io->h, sqe, buf, sizeof(buf), NULL, 0);
    nio = nvmet_queue_next_io(io->q);
    g_assert_nonnull(nio);
    g_assert_true(nio->backend == &d2);
    g_assert_cmpuint(nio->op, ==, NVMET_IO_WRITE);
    g_assert_cmpuint(nio->offset, ==, 5 * 4096);
    g_assert_cmpuint(nio->len, ==, 4096);
    g_queue_push_tail(&io->held, nio);

    tt_remove_ns(tt, ns2);
    tc_complete_held(io);
    g_assert_cmpint(nvmf_host_wait(io->h, cid, &cqe), ==, 0);
    g_assert_cmphex(cqe.status, ==, 0);
    g_assert_cmpmem(d2.data + 5 * 4096, 4096, buf, 4096);
    io->hold_io = false;
    g_assert_cmphex(rw(io, true, 2, 5, 1, buf, 4096), ==,
                    NVME_SC_INVALID_NS | DNR);

    /* a queue released with I/O in flight: completed afterwards */
    io->hold_io = true;
    nvmf_sqe_init(sqe, NVME_CMD_READ, 1);
    cid = nvmf_host_send_cmd(io->h, sqe, NULL, 0, buf, 512);
    g_assert_cmpint(cid, >, 0);
    while ((nio = nvmet_queue_next_io(io->q))) {
        g_queue_push_tail(&io->held, nio);
    }
    g_assert_cmpuint(g_queue_get_length(&io->held), ==, 1);
    tc_free(io);
    tc_free(a);
    tt_free(tt);
    g_free(d2.data);
}

/* ---- errors of the block backend ----------------------------------------- */

typedef struct ErrnoCase {
    int err;
    uint16_t write_status, read_status;
} ErrnoCase;

static void test_backend_errors(void)
{
    static const ErrnoCase cases[] = {
        { EIO, NVME_SC_WRITE_FAULT, NVME_SC_READ_ERROR },
        { ENOSPC, NVME_SC_CAP_EXCEEDED | DNR, NVME_SC_CAP_EXCEEDED | DNR },
        { EROFS, NVME_SC_NS_WRITE_PROTECTED | DNR,
          NVME_SC_NS_WRITE_PROTECTED | DNR },
        { EACCES, NVME_SC_NS_WRITE_PROTECTED | DNR,
          NVME_SC_NS_WRITE_PROTECTED | DNR },
        { EPERM, NVME_SC_NS_WRITE_PROTECTED | DNR,
          NVME_SC_NS_WRITE_PROTECTED | DNR },
        { EINVAL, NVME_SC_INVALID_FIELD | DNR, NVME_SC_INVALID_FIELD | DNR },
        { ENOMEDIUM, NVME_SC_NS_NOT_READY, NVME_SC_NS_NOT_READY },
        { ENOTSUP, NVME_SC_INVALID_OPCODE | DNR,
          NVME_SC_INVALID_OPCODE | DNR },
        { EBUSY, NVME_SC_WRITE_FAULT, NVME_SC_READ_ERROR },
    };
    TestTarget *tt = tt_new();
    TestConn *a, *io = io_conn(tt, &a);
    uint8_t buf[1024], r[16];
    uint8_t log[64];

    dsm_range(r, 1, 0);
    for (unsigned i = 0; i < G_N_ELEMENTS(cases); i++) {
        g_autofree char *msg = g_strdup_printf("block I/O failed: %d",
                                               -cases[i].err);

        tt->disk1.fail_errno = cases[i].err;
        tt_trace_clear(tt);
        g_assert_cmphex(rw(io, true, 1, 0, 2, buf, 1024), ==,
                        cases[i].write_status);
        g_assert_true(tt_trace_has(tt, msg));
        g_assert_cmphex(rw(io, false, 1, 0, 2, buf, 1024), ==,
                        cases[i].read_status);
        /* everything else counts as writing */
        g_assert_cmphex(flush(io, 1), ==, cases[i].write_status);
        g_assert_cmphex(write_zeroes(io, 1, 0, 1, 0), ==,
                        cases[i].write_status);
        g_assert_cmphex(dsm(io, 1, 1, NVME_DSMGMT_AD, r, 16), ==,
                        cases[i].write_status);
    }

    /* a broadcast flush fails if any namespace fails */
    {
        RamDisk d2 = { 0 };

        tt->disk1.fail_errno = 0;
        tt_add_ns(tt, tt->subsys, 2, &d2, 65536, 512);
        d2.fail_errno = EIO;
        g_assert_cmphex(flush(io, 0xffffffff), ==, NVME_SC_WRITE_FAULT);
        g_assert_cmpuint(d2.nr_ops[NVMET_IO_FLUSH], ==, 1);
        d2.fail_errno = 0;
        g_assert_cmphex(flush(io, 0xffffffff), ==, 0);
        tt_remove_ns(tt, g_ptr_array_index(tt->nss, 1));
        g_free(d2.data);
    }

    /* the backend recovered */
    fill(buf, sizeof(buf), 14);
    g_assert_cmphex(rw(io, true, 1, 0, 2, buf, 1024), ==, 0);
    g_assert_cmpmem(tt->disk1.data, 1024, buf, 1024);

    /* errors are logged; failed commands are not counted in SMART */
    admin_log(a, NVME_LOG_ERROR, log, sizeof(log));
    g_assert_cmpuint(nvmet_ld64(log), ==, 5 * G_N_ELEMENTS(cases) + 1);
    g_assert_cmphex(nvmet_ld16(log + 12), ==, NVME_SC_WRITE_FAULT << 1);
    {
        uint8_t smart[512];

        admin_log(a, NVME_LOG_SMART, smart, sizeof(smart));
        g_assert_cmpuint(nvmet_ld64(smart + 80), ==, 1);    /* writes */
        g_assert_cmpuint(nvmet_ld64(smart + 64), ==, 0);    /* reads */
        g_assert_cmpuint(nvmet_ld64(smart + 176), ==,
                         5 * G_N_ELEMENTS(cases) + 1);
    }
    tc_free(io);
    tc_free(a);
    tt_free(tt);
}

static void test_smart_counters(void)
{
    TestTarget *tt = tt_new();
    TestConn *a, *io = io_conn(tt, &a);
    g_autofree uint8_t *buf = g_malloc0(NSZE1 * 512);
    uint8_t smart[512];

    /* 2000 + 8 blocks written, 16 read twice (512-byte units) */
    g_assert_cmphex(rw(io, true, 1, 0, 2000, buf, 2000 * 512), ==, 0);
    g_assert_cmphex(rw(io, true, 1, 0, 8, buf, 8 * 512), ==, 0);
    g_assert_cmphex(rw(io, false, 1, 0, 16, buf, 16 * 512), ==, 0);
    g_assert_cmphex(rw(io, false, 1, 16, 16, buf, 16 * 512), ==, 0);
    /* commands without data transfer do not count */
    g_assert_cmphex(flush(io, 1), ==, 0);
    g_assert_cmphex(write_zeroes(io, 1, 0, 8, 0), ==, 0);

    admin_log(a, NVME_LOG_SMART, smart, sizeof(smart));
    /* thousands of units, rounded up */
    g_assert_cmpuint(nvmet_ld64(smart + 32), ==, 1);        /* read */
    g_assert_cmpuint(nvmet_ld64(smart + 40), ==, 0);
    g_assert_cmpuint(nvmet_ld64(smart + 48), ==, 3);        /* written */
    g_assert_cmpuint(nvmet_ld64(smart + 64), ==, 2);        /* read cmds */
    g_assert_cmpuint(nvmet_ld64(smart + 80), ==, 2);        /* write cmds */
    g_assert_cmpuint(nvmet_ld64(smart + 176), ==, 0);       /* errors */
    tc_free(io);
    tc_free(a);
    tt_free(tt);
}


/* ---- the maximum data transfer size -------------------------------------- */

/* A subsystem on a port of its own with @mdts, its I/O queue connected. */
typedef struct MdtsTarget {
    NvmetPort *port;
    NvmetSubsys *subsys;
    RamDisk disk;
    TestConn *a, *io;
} MdtsTarget;

#define MDTS_NQN "nqn.2026-11.org.qemu:mdts"

static void mdts_setup(TestTarget *tt, MdtsTarget *m, uint8_t mdts,
                       uint64_t disk_size)
{
    NvmetPortConfig pc;
    NvmetSubsysConfig sc;
    GError *err = NULL;

    nvmet_port_config_init(&pc);
    pc.portid = 7;
    pc.traddr = "127.0.0.1";
    pc.trsvcid = "4427";
    pc.mdts = mdts;
    m->port = nvmet_port_new(tt->t, &pc, &err);
    g_assert_no_error(err);
    nvmet_subsys_config_init(&sc);
    sc.nqn = MDTS_NQN;
    sc.allow_any_host = true;
    m->subsys = nvmet_subsys_new(tt->t, &sc, &err);
    g_assert_no_error(err);
    nvmet_port_add_subsys(m->port, m->subsys);
    tt_add_ns(tt, m->subsys, 1, &m->disk, disk_size, 512);
    m->a = tc_new_on(tt, m->port);
    m->io = tc_new_on(tt, m->port);
    tc_admin(m->a, MDTS_NQN, TEST_HOSTNQN, false, false);
    tc_io(m->io, 1, m->a->cntlid, MDTS_NQN, TEST_HOSTNQN, false, false);
}

static void mdts_teardown(TestTarget *tt, MdtsTarget *m)
{
    tc_free(m->io);
    tc_free(m->a);
    nvmet_port_free(m->port);
    nvmet_subsys_free(m->subsys);
    tt_free(tt);
    g_free(m->disk.data);
}

static uint8_t identify_mdts(TestConn *a)
{
    g_autofree uint8_t *id = g_malloc(4096);
    NvmfCqe cqe;

    g_assert_cmpint(nvmf_host_identify(a->h, NVME_ID_CNS_CTRL, 0, 0, id,
                                       &cqe), ==, 0);
    g_assert_cmphex(cqe.status, ==, 0);
    return id[77];
}

/*
 * A Read or Write beyond MDTS gets Invalid Field in Command (NVMe base
 * specification, MDTS), whether the SGL or the block count says so, and
 * the error log points at the field.
 */
static void test_mdts_limit(void)
{
    TestTarget *tt = tt_new();
    MdtsTarget m = { 0 };
    g_autofree uint8_t *buf = g_malloc0(16384);
    uint8_t log[64];

    mdts_setup(tt, &m, 1, 1 << 20);                 /* 8 KiB */
    g_assert_cmpuint(identify_mdts(m.a), ==, 1);
    g_assert_cmphex(rw(m.io, true, 1, 0, 16, buf, 8192), ==, 0);
    g_assert_cmphex(rw(m.io, false, 1, 0, 16, buf, 8192), ==, 0);
    /* one block more: the SGL exceeds MDTS, no R2T is sent */
    g_assert_cmphex(rw(m.io, true, 1, 0, 17, buf, 17 * 512), ==,
                    NVME_SC_INVALID_FIELD | DNR);
    g_assert_true(tt_trace_has(tt, "transfer of 8704 bytes exceeds the "
                               "maximum data transfer size (8192 bytes)"));
    g_assert_cmphex(rw(m.io, false, 1, 0, 17, buf, 17 * 512), ==,
                    NVME_SC_INVALID_FIELD | DNR);
    admin_log(m.a, NVME_LOG_ERROR, log, sizeof(log));
    g_assert_cmphex(nvmet_ld16(log + 12), ==,
                    (NVME_SC_INVALID_FIELD | DNR) << 1);
    g_assert_cmpuint(nvmet_ld16(log + 14), ==, NVME_SQE_DPTR + NVME_SGL_LEN);
    /* NLB beyond MDTS with a small SGL: still the MDTS answer */
    g_assert_cmphex(cmd(m.io, NVME_CMD_READ, 1, 0, 0, 16, NULL, 0, buf, 512),
                    ==, NVME_SC_INVALID_FIELD | DNR);
    admin_log(m.a, NVME_LOG_ERROR, log, sizeof(log));
    g_assert_cmpuint(nvmet_ld16(log + 14), ==, NVME_SQE_CDW12);
    /* within MDTS a mismatch stays a data SGL length error */
    g_assert_cmphex(cmd(m.io, NVME_CMD_READ, 1, 0, 0, 15, NULL, 0, buf, 512),
                    ==, NVME_SC_SGL_INVALID_DATA | DNR);
    g_assert_cmpuint(m.disk.nr_ops[NVMET_IO_READ], ==, 1);
    g_assert_cmpuint(m.disk.nr_ops[NVMET_IO_WRITE], ==, 1);
    mdts_teardown(tt, &m);
}

/*
 * MDTS 0 reports no limit, and the target then serves large transfers (it
 * once capped them at 4 KiB); only what a queue can never buffer (more
 * than 32 MiB) is refused, with the same status.
 */
static void test_mdts_unlimited(void)
{
    TestTarget *tt = tt_new();
    MdtsTarget m = { 0 };
    size_t big = 4u << 20;
    g_autofree uint8_t *out = g_malloc(big);
    g_autofree uint8_t *in = g_malloc(big);
    g_autofree uint8_t *huge = g_malloc0((32u << 20) + 4096);

    mdts_setup(tt, &m, 0, big);
    g_assert_cmpuint(identify_mdts(m.a), ==, 0);
    fill(out, big, 5);
    g_assert_cmphex(rw(m.io, true, 1, 0, big / 512, out, big), ==, 0);
    g_assert_cmpmem(m.disk.data, big, out, big);
    g_assert_cmphex(rw(m.io, false, 1, 0, big / 512, in, big), ==, 0);
    g_assert_cmpmem(in, big, out, big);
    g_assert_cmphex(rw(m.io, false, 1, 0, 8, in, 4096), ==, 0);
    g_assert_cmphex(cmd(m.io, NVME_CMD_READ, 1, 0, 0, 0, NULL, 0, huge,
                        (32u << 20) + 4096), ==, NVME_SC_INVALID_FIELD | DNR);
    g_assert_true(tt_trace_has(tt, "transfer of 33558528 bytes exceeds the "
                               "maximum data transfer size (33554432 "
                               "bytes)"));
    mdts_teardown(tt, &m);
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/nvmet/io/rw/round-trip", test_rw_round_trip);
    g_test_add_func("/nvmet/io/rw/incapsule-r2t", test_rw_incapsule_r2t);
    g_test_add_func("/nvmet/io/rw/digests", test_rw_digests);
    g_test_add_func("/nvmet/io/rw/fua", test_rw_fua);
    g_test_add_func("/nvmet/io/rw/lba-range", test_rw_lba_range);
    g_test_add_func("/nvmet/io/rw/bad-commands", test_rw_bad_commands);
    g_test_add_func("/nvmet/io/flush", test_flush);
    g_test_add_func("/nvmet/io/write-zeroes", test_write_zeroes);
    g_test_add_func("/nvmet/io/dsm", test_dsm);
    g_test_add_func("/nvmet/io/invalid-ns", test_invalid_ns);
    g_test_add_func("/nvmet/io/invalid-opcode", test_invalid_opcode);
    g_test_add_func("/nvmet/io/read-only", test_read_only);
    g_test_add_func("/nvmet/io/block-sizes", test_block_sizes);
    g_test_add_func("/nvmet/io/resize", test_resize);
    g_test_add_func("/nvmet/io/multi-queue", test_multi_queue);
    g_test_add_func("/nvmet/io/async-completion", test_async_completion);
    g_test_add_func("/nvmet/io/ns-removed-inflight",
                    test_ns_removed_inflight);
    g_test_add_func("/nvmet/io/backend-errors", test_backend_errors);
    g_test_add_func("/nvmet/io/smart-counters", test_smart_counters);
    g_test_add_func("/nvmet/io/mdts/limit", test_mdts_limit);
    g_test_add_func("/nvmet/io/mdts/unlimited", test_mdts_unlimited);
    return g_test_run();
}
