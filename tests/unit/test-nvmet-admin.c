/*
 * Admin commands of NVM and discovery controllers: Identify, Get Log Page,
 * Get/Set Features, Asynchronous Event Request, Keep Alive, Abort, and the
 * discovery log.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#include <string.h>
#include "nvmet-test-util.h"

#define DNR NVME_STATUS_DNR

/* ---- helpers ------------------------------------------------------------- */

static void submit(TestConn *tc, uint8_t *sqe, const void *out, size_t out_len,
                   void *in, size_t in_len, NvmfCqe *cqe)
{
    g_assert_cmpint(nvmf_host_submit(tc->h, sqe, out, out_len, in, in_len,
                                     cqe), ==, 0);
}

static TestConn *admin_on(TestTarget *tt, const char *subnqn)
{
    TestConn *tc = tc_new(tt);

    tc_admin(tc, subnqn, TEST_HOSTNQN, false, false);
    return tc;
}

static TestConn *admin(TestTarget *tt)
{
    return admin_on(tt, TEST_SUBNQN);
}

static uint16_t identify(TestConn *tc, uint8_t cns, uint32_t nsid, uint8_t csi,
                         uint8_t *buf)
{
    NvmfCqe cqe;

    memset(buf, 0xa5, 4096);
    g_assert_cmpint(nvmf_host_identify(tc->h, cns, nsid, csi, buf, &cqe),
                    ==, 0);
    return cqe.status;
}

static bool all_zero(const uint8_t *p, size_t len)
{
    for (size_t i = 0; i < len; i++) {
        if (p[i]) {
            return false;
        }
    }
    return true;
}

static uint16_t get_log(TestConn *tc, uint8_t lid, uint32_t nsid,
                        uint64_t off, void *buf, size_t len)
{
    NvmfCqe cqe;

    memset(buf, 0xa5, len);
    g_assert_cmpint(nvmf_host_get_log(tc->h, lid, nsid, off, buf, len, &cqe),
                    ==, 0);
    return cqe.status;
}

/* Get Log Page with Retain Asynchronous Event set */
static uint16_t get_log_rae(TestConn *tc, uint8_t lid, void *buf, size_t len)
{
    uint8_t sqe[64];
    uint32_t numd = len / 4 - 1;
    NvmfCqe cqe;

    nvmf_sqe_init(sqe, NVME_ADM_GET_LOG_PAGE, 0);
    nvmet_st32(sqe + NVME_SQE_CDW10, lid | (1u << 15) | (numd << 16));
    submit(tc, sqe, NULL, 0, buf, len, &cqe);
    return cqe.status;
}

static uint16_t set_feat(TestConn *tc, uint32_t cdw10, uint32_t cdw11,
                         uint32_t *dw0)
{
    uint8_t sqe[64];
    NvmfCqe cqe;

    nvmf_sqe_init(sqe, NVME_ADM_SET_FEATURES, 0);
    nvmet_st32(sqe + NVME_SQE_CDW10, cdw10);
    nvmet_st32(sqe + NVME_SQE_CDW11, cdw11);
    submit(tc, sqe, NULL, 0, NULL, 0, &cqe);
    if (dw0) {
        *dw0 = cqe.dw0;
    }
    return cqe.status;
}

static uint16_t get_feat(TestConn *tc, uint8_t fid, uint8_t sel,
                         uint32_t cdw11, uint32_t *dw0)
{
    uint8_t sqe[64];
    NvmfCqe cqe;

    nvmf_sqe_init(sqe, NVME_ADM_GET_FEATURES, 0);
    nvmet_st32(sqe + NVME_SQE_CDW10, fid | ((uint32_t)sel << 8));
    nvmet_st32(sqe + NVME_SQE_CDW11, cdw11);
    submit(tc, sqe, NULL, 0, NULL, 0, &cqe);
    *dw0 = cqe.dw0;
    return cqe.status;
}

/* Get Features expected to succeed; returns DW0 */
static uint32_t feat(TestConn *tc, uint8_t fid, uint8_t sel)
{
    uint32_t dw0 = 0xdeadbeef;

    g_assert_cmphex(get_feat(tc, fid, sel, 0, &dw0), ==, 0);
    return dw0;
}

/* A command without data; returns the status */
static uint16_t simple_cmd(TestConn *tc, uint8_t opc, uint32_t nsid,
                           uint32_t cdw10, NvmfCqe *out)
{
    uint8_t sqe[64];
    NvmfCqe cqe;

    nvmf_sqe_init(sqe, opc, nsid);
    nvmet_st32(sqe + NVME_SQE_CDW10, cdw10);
    submit(tc, sqe, NULL, 0, NULL, 0, &cqe);
    if (out) {
        *out = cqe;
    }
    return cqe.status;
}

static int post_aer(TestConn *tc)
{
    uint8_t sqe[64];
    int cid;

    nvmf_sqe_init(sqe, NVME_ADM_ASYNC_EVENT, 0);
    cid = nvmf_host_send_cmd(tc->h, sqe, NULL, 0, NULL, 0);
    g_assert_cmpint(cid, >, 0);
    return cid;
}

/* Check a space padded ASCII field */
static void assert_ascii(const uint8_t *p, size_t size, const char *s)
{
    g_autofree char *want = g_strdup_printf("%-*s", (int)size, s);

    g_assert_cmpmem(p, size, want, size);
}

/* A namespace with a configuration of our own (freed by tt_free) */
static NvmetNs *add_ns_cfg(TestTarget *tt, NvmetNsConfig *cfg, RamDisk *disk)
{
    GError *err = NULL;
    NvmetNs *ns;

    disk->size = cfg->size;
    disk->data = g_malloc0(cfg->size);
    cfg->backend = disk;
    ns = nvmet_ns_new(tt->subsys, cfg, &err);
    g_assert_no_error(err);
    g_ptr_array_add(tt->nss, ns);
    return ns;
}

/* ---- Identify ------------------------------------------------------------ */

static void test_identify_ctrl(void)
{
    TestTarget *tt = tt_new();
    TestConn *tc = admin(tt);
    g_autofree uint8_t *id = g_malloc(4096);
    uint8_t nqn[256] = { 0 };

    g_assert_cmphex(identify(tc, NVME_ID_CNS_CTRL, 0, 0, id), ==, 0);
    g_assert_true(tt_trace_has(tt, "Identify cns 0x01 nsid 0 csi 0"));
    g_assert_cmphex(nvmet_ld16(id + 0), ==, 0);             /* VID */
    assert_ascii(id + 4, 20, "SN0001");
    assert_ascii(id + 24, 40, "QEMU NVMe-oF TCP target");
    assert_ascii(id + 64, 8, "1.0");
    g_assert_cmpuint(id[72], ==, 6);                        /* RAB */
    g_assert_cmpuint(id[76], ==, 3);                        /* CMIC */
    g_assert_cmpuint(id[77], ==, 8);                        /* MDTS */
    g_assert_cmpuint(nvmet_ld16(id + 78), ==, tc->cntlid);
    g_assert_cmphex(nvmet_ld32(id + 80), ==, 0x00010400);   /* VER */
    g_assert_cmphex(nvmet_ld32(id + 92), ==, 1u << 8);      /* OAES */
    g_assert_cmphex(nvmet_ld32(id + 96), ==, 0x41);         /* CTRATT */
    g_assert_cmpuint(id[111], ==, NVME_CTRL_IO);            /* CNTRLTYPE */
    g_assert_cmphex(nvmet_ld16(id + 256), ==, 0);           /* OACS */
    g_assert_cmpuint(id[258], ==, 3);                       /* ACL */
    g_assert_cmpuint(id[259], ==, 3);                       /* AERL */
    g_assert_cmphex(id[260], ==, 3);                        /* FRMW */
    g_assert_cmphex(id[261], ==, 6);                        /* LPA */
    g_assert_cmpuint(id[262], ==, 63);                      /* ELPE */
    g_assert_cmpuint(id[263], ==, 0);                       /* NPSS */
    g_assert_cmphex(nvmet_ld16(id + 266), ==, 0x157);       /* WCTEMP */
    g_assert_cmphex(nvmet_ld16(id + 268), ==, 0x175);       /* CCTEMP */
    g_assert_cmpuint(nvmet_ld16(id + 320), ==, 10);         /* KAS */
    g_assert_cmphex(id[512], ==, 0x66);                     /* SQES */
    g_assert_cmphex(id[513], ==, 0x44);                     /* CQES */
    g_assert_cmpuint(nvmet_ld16(id + 514), ==, 1024);       /* MAXCMD */
    g_assert_cmpuint(nvmet_ld32(id + 516), ==, 1024);       /* NN */
    g_assert_cmphex(nvmet_ld16(id + 520), ==, 0x0c);        /* ONCS */
    g_assert_cmphex(nvmet_ld16(id + 522), ==, 0);           /* FUSES */
    g_assert_cmphex(id[525], ==, 7);                        /* VWC */
    g_assert_cmphex(nvmet_ld32(id + 536), ==, 0x100001);    /* SGLS */
    g_assert_cmpuint(nvmet_ld32(id + 540), ==, 1024);       /* MNAN */
    strcpy((char *)nqn, TEST_SUBNQN);
    g_assert_cmpmem(id + 768, 256, nqn, 256);
    g_assert_cmpuint(nvmet_ld32(id + 1792), ==, (64 + 16384) / 16);
    g_assert_cmpuint(nvmet_ld32(id + 1796), ==, 1);         /* IORCSZ */
    g_assert_cmpuint(nvmet_ld16(id + 1800), ==, 0);         /* ICDOFF */
    g_assert_cmpuint(id[1802], ==, 0);                      /* FCATT */
    g_assert_cmpuint(id[1803], ==, 1);                      /* MSDBD */
    g_assert_cmphex(nvmet_ld16(id + 1804), ==, 1);          /* OFCS */
    g_assert_cmpuint(id[1806], ==, 0);                      /* DCTYPE */
    g_assert_cmpuint(nvmet_ld16(id + 2048), ==, 2500);      /* PSD0 MP */
    g_assert_cmpuint(nvmet_ld32(id + 2052), ==, 16);
    g_assert_cmpuint(nvmet_ld32(id + 2056), ==, 16);
    /* reserved areas are zero, not left over */
    g_assert_true(all_zero(id + 1807, 2048 - 1807));
    g_assert_true(all_zero(id + 2048 + 32, 4096 - 2048 - 32));
    tc_free(tc);
    tt_free(tt);
}

static void test_identify_ctrl_config(void)
{
    TestTarget *tt = tt_new();
    NvmetSubsysConfig sc;
    NvmetPortConfig pc;
    NvmetSubsys *s;
    NvmetPort *port;
    GError *err = NULL;
    g_autofree uint8_t *id = g_malloc(4096);
    TestConn *tc;

    nvmet_subsys_config_init(&sc);
    sc.nqn = "nqn.2026-11.org.qemu:custom";
    sc.allow_any_host = true;
    sc.serial = "12345678901234567890";
    sc.model = "Model M";
    sc.firmware = "FW-2.1";
    sc.ieee_oui = 0x123456;
    sc.max_namespaces = 16;
    s = nvmet_subsys_new(tt->t, &sc, &err);
    g_assert_no_error(err);
    nvmet_port_config_init(&pc);
    pc.portid = 3;
    pc.traddr = "10.0.0.1";
    pc.trsvcid = "4420";
    pc.inline_data_size = 4096;
    pc.mdts = 5;
    pc.max_queue_size = 128;
    port = nvmet_port_new(tt->t, &pc, &err);
    g_assert_no_error(err);
    nvmet_port_add_subsys(port, s);

    tc = tc_new_on(tt, port);
    tc_admin(tc, sc.nqn, TEST_HOSTNQN, false, false);
    g_assert_cmphex(identify(tc, NVME_ID_CNS_CTRL, 0, 0, id), ==, 0);
    assert_ascii(id + 4, 20, sc.serial);
    assert_ascii(id + 24, 40, sc.model);
    assert_ascii(id + 64, 8, sc.firmware);
    g_assert_cmphex(id[73], ==, 0x56);
    g_assert_cmphex(id[74], ==, 0x34);
    g_assert_cmphex(id[75], ==, 0x12);
    g_assert_cmpuint(id[77], ==, 5);
    g_assert_cmpuint(nvmet_ld16(id + 514), ==, 128);
    g_assert_cmpuint(nvmet_ld32(id + 516), ==, 16);
    g_assert_cmpuint(nvmet_ld32(id + 1792), ==, (64 + 4096) / 16);
    /* and namespace IDs beyond NN are invalid */
    g_assert_cmphex(identify(tc, NVME_ID_CNS_NS, 17, 0, id), ==,
                    NVME_SC_INVALID_NS | DNR);
    g_assert_cmphex(identify(tc, NVME_ID_CNS_NS, 16, 0, id), ==, 0);
    g_assert_true(all_zero(id, 4096));
    tc_free(tc);
    nvmet_port_free(port);
    nvmet_subsys_free(s);
    tt_free(tt);
}

static void test_identify_ns(void)
{
    TestTarget *tt = tt_new();
    RamDisk d2 = { 0 }, d3 = { 0 };
    NvmetNsConfig cfg = { 0 };
    TestConn *tc;
    g_autofree uint8_t *id = g_malloc(4096);

    tt_add_ns(tt, tt->subsys, 2, &d2, 1 << 20, 4096);
    cfg.nsid = 3;
    cfg.size = 3 * 65536 + 100;     /* not a whole number of blocks */
    cfg.block_size = 65536;
    cfg.read_only = true;
    add_ns_cfg(tt, &cfg, &d3);
    tc = admin(tt);

    /* 1 MiB of 512-byte blocks */
    g_assert_cmphex(identify(tc, NVME_ID_CNS_NS, 1, 0, id), ==, 0);
    g_assert_cmpuint(nvmet_ld64(id + 0), ==, 2048);         /* NSZE */
    g_assert_cmpuint(nvmet_ld64(id + 8), ==, 2048);         /* NCAP */
    g_assert_cmpuint(nvmet_ld64(id + 16), ==, 2048);        /* NUSE */
    g_assert_cmphex(id[24], ==, 0x10);                      /* NSFEAT */
    g_assert_cmpuint(id[25], ==, 0);                        /* NLBAF */
    g_assert_cmpuint(id[26], ==, 0);                        /* FLBAS */
    g_assert_cmpuint(id[30], ==, 1);                        /* NMIC */
    g_assert_cmphex(id[33], ==, 0x08);                      /* DLFEAT */
    for (unsigned off = 64; off <= 72; off += 2) {          /* NPWG..NOWS */
        g_assert_cmpuint(nvmet_ld16(id + off), ==, 7);
    }
    g_assert_cmpuint(id[99], ==, 0);                        /* NSATTR */
    g_assert_cmpuint(nvmet_ld16(id + 128), ==, 0);          /* LBAF0 MS */
    g_assert_cmpuint(id[130], ==, 9);                       /* LBADS */
    g_assert_true(all_zero(id + 120, 8));                   /* no EUI64 */
    g_assert_false(all_zero(id + 104, 16));                 /* NGUID */
    g_assert_true(all_zero(id + 132, 4096 - 132));

    /* 1 MiB of 4 KiB blocks: no preferred granularities needed */
    g_assert_cmphex(identify(tc, NVME_ID_CNS_NS, 2, 0, id), ==, 0);
    g_assert_cmpuint(nvmet_ld64(id + 0), ==, 256);
    g_assert_cmpuint(nvmet_ld16(id + 64), ==, 0);
    g_assert_cmpuint(id[130], ==, 12);

    /* read-only, 64 KiB blocks, partial block at the end dropped */
    g_assert_cmphex(identify(tc, NVME_ID_CNS_NS, 3, 0, id), ==, 0);
    g_assert_cmpuint(nvmet_ld64(id + 0), ==, 3);
    g_assert_cmpuint(id[99], ==, 1);
    g_assert_cmpuint(id[130], ==, 16);

    /* an inactive namespace ID: zeroes */
    g_assert_cmphex(identify(tc, NVME_ID_CNS_NS, 4, 0, id), ==, 0);
    g_assert_true(all_zero(id, 4096));
    g_assert_cmphex(identify(tc, NVME_ID_CNS_NS, 1024, 0, id), ==, 0);
    g_assert_true(all_zero(id, 4096));
    /* all namespaces: the common format only */
    g_assert_cmphex(identify(tc, NVME_ID_CNS_NS, 0xffffffff, 0, id), ==, 0);
    g_assert_cmpuint(id[130], ==, 9);
    id[130] = 0;
    g_assert_true(all_zero(id, 4096));
    /* invalid namespace IDs */
    g_assert_cmphex(identify(tc, NVME_ID_CNS_NS, 0, 0, id), ==,
                    NVME_SC_INVALID_NS | DNR);
    g_assert_cmphex(identify(tc, NVME_ID_CNS_NS, 1025, 0, id), ==,
                    NVME_SC_INVALID_NS | DNR);
    g_assert_cmphex(identify(tc, NVME_ID_CNS_NS, 0xfffffffe, 0, id), ==,
                    NVME_SC_INVALID_NS | DNR);

    tc_free(tc);
    tt_free(tt);
    g_free(d2.data);
    g_free(d3.data);
}

static void test_identify_active_list(void)
{
    TestTarget *tt = tt_new();
    RamDisk d5 = { 0 }, d2 = { 0 };
    TestConn *tc;
    g_autofree uint8_t *id = g_malloc(4096);

    tt_add_ns(tt, tt->subsys, 5, &d5, 65536, 512);
    tt_add_ns(tt, tt->subsys, 2, &d2, 65536, 512);
    tc = admin(tt);

    g_assert_cmphex(identify(tc, NVME_ID_CNS_NS_ACTIVE_LIST, 0, 0, id), ==, 0);
    g_assert_cmpuint(nvmet_ld32(id + 0), ==, 1);
    g_assert_cmpuint(nvmet_ld32(id + 4), ==, 2);
    g_assert_cmpuint(nvmet_ld32(id + 8), ==, 5);
    g_assert_true(all_zero(id + 12, 4096 - 12));
    /* IDs greater than NSID only */
    g_assert_cmphex(identify(tc, NVME_ID_CNS_NS_ACTIVE_LIST, 1, 0, id), ==, 0);
    g_assert_cmpuint(nvmet_ld32(id + 0), ==, 2);
    g_assert_cmpuint(nvmet_ld32(id + 4), ==, 5);
    g_assert_true(all_zero(id + 8, 4096 - 8));
    g_assert_cmphex(identify(tc, NVME_ID_CNS_NS_ACTIVE_LIST, 5, 0, id), ==, 0);
    g_assert_true(all_zero(id, 4096));
    g_assert_cmphex(identify(tc, NVME_ID_CNS_NS_ACTIVE_LIST, 0xfffffffe, 0,
                             id), ==, NVME_SC_INVALID_NS | DNR);
    g_assert_cmphex(identify(tc, NVME_ID_CNS_NS_ACTIVE_LIST, 0xffffffff, 0,
                             id), ==, NVME_SC_INVALID_NS | DNR);

    /* the I/O command set specific list: NVM has them all, others none */
    g_assert_cmphex(identify(tc, NVME_ID_CNS_NS_CS_ACTIVE_LIST, 1,
                             NVME_CSI_NVM, id), ==, 0);
    g_assert_cmpuint(nvmet_ld32(id + 0), ==, 2);
    g_assert_cmpuint(nvmet_ld32(id + 4), ==, 5);
    g_assert_true(all_zero(id + 8, 4096 - 8));
    g_assert_cmphex(identify(tc, NVME_ID_CNS_NS_CS_ACTIVE_LIST, 0, 2, id),
                    ==, 0);
    g_assert_true(all_zero(id, 4096));

    /* a removed namespace disappears from the list */
    tt_remove_ns(tt, g_ptr_array_index(tt->nss, 2));
    g_assert_cmphex(identify(tc, NVME_ID_CNS_NS_ACTIVE_LIST, 0, 0, id), ==, 0);
    g_assert_cmpuint(nvmet_ld32(id + 0), ==, 1);
    g_assert_cmpuint(nvmet_ld32(id + 4), ==, 5);
    g_assert_true(all_zero(id + 8, 4096 - 8));

    tc_free(tc);
    tt_free(tt);
    g_free(d5.data);
    g_free(d2.data);
}

static void test_identify_desc_list(void)
{
    static const uint8_t eui[8] = { 0x00, 0x11, 0x22, 0x33, 0x44, 0x55, 0x66,
                                    0x77 };
    static const uint8_t nguid[16] = { 0xf0, 0xe1, 0xd2, 0xc3, 0xb4, 0xa5, 0x96,
                                       0x87, 0x78, 0x69, 0x5a, 0x4b, 0x3c,
                                       0x2d, 0x1e, 0x0f };
    static const uint8_t uuid[16] = { 0x8e, 0x2c, 0x1f, 0x90, 0x6a, 0x3b, 0x4d,
                                      0x11, 0x9a, 0x7c, 0x10, 0x20, 0x30, 0x40,
                                      0x50, 0x60 };
    TestTarget *tt = tt_new();
    RamDisk d2 = { 0 };
    NvmetNsConfig cfg = { 0 };
    TestConn *tc;
    g_autofree uint8_t *id = g_malloc(4096);
    g_autofree uint8_t *ns = g_malloc(4096);
    uint8_t uuid1[16];

    cfg.nsid = 2;
    cfg.size = 65536;
    cfg.block_size = 512;
    cfg.has_eui64 = cfg.has_nguid = cfg.has_uuid = true;
    memcpy(cfg.eui64, eui, 8);
    memcpy(cfg.nguid, nguid, 16);
    memcpy(cfg.uuid, uuid, 16);
    add_ns_cfg(tt, &cfg, &d2);
    tc = admin(tt);

    /* every identifier configured: EUI64, NGUID, UUID, CSI in this order */
    g_assert_cmphex(identify(tc, NVME_ID_CNS_NS_DESC_LIST, 2, 0, id), ==, 0);
    g_assert_cmpuint(id[0], ==, NVME_NIDT_EUI64);
    g_assert_cmpuint(id[1], ==, 8);
    g_assert_cmpmem(id + 4, 8, eui, 8);
    g_assert_cmpuint(id[12], ==, NVME_NIDT_NGUID);
    g_assert_cmpuint(id[13], ==, 16);
    g_assert_cmpmem(id + 16, 16, nguid, 16);
    g_assert_cmpuint(id[32], ==, NVME_NIDT_UUID);
    g_assert_cmpuint(id[33], ==, 16);
    g_assert_cmpmem(id + 36, 16, uuid, 16);
    g_assert_cmpuint(id[52], ==, NVME_NIDT_CSI);
    g_assert_cmpuint(id[53], ==, 1);
    g_assert_cmpuint(id[56], ==, NVME_CSI_NVM);
    g_assert_true(all_zero(id + 57, 4096 - 57));
    /* Identify Namespace shows the same EUI64 and NGUID */
    g_assert_cmphex(identify(tc, NVME_ID_CNS_NS, 2, 0, ns), ==, 0);
    g_assert_cmpmem(ns + 104, 16, nguid, 16);
    g_assert_cmpmem(ns + 120, 8, eui, 8);

    /* defaults: a version 4 UUID, and an NGUID equal to it */
    g_assert_cmphex(identify(tc, NVME_ID_CNS_NS_DESC_LIST, 1, 0, id), ==, 0);
    g_assert_cmpuint(id[0], ==, NVME_NIDT_NGUID);
    g_assert_cmpuint(id[1], ==, 16);
    g_assert_cmpuint(id[20], ==, NVME_NIDT_UUID);
    g_assert_cmpuint(id[21], ==, 16);
    memcpy(uuid1, id + 24, 16);
    g_assert_cmpmem(id + 4, 16, uuid1, 16);
    g_assert_cmphex(uuid1[6] >> 4, ==, 4);
    g_assert_cmphex(uuid1[8] & 0xc0, ==, 0x80);
    g_assert_cmpuint(id[40], ==, NVME_NIDT_CSI);
    g_assert_true(all_zero(id + 45, 4096 - 45));
    g_assert_cmphex(identify(tc, NVME_ID_CNS_NS, 1, 0, ns), ==, 0);
    g_assert_cmpmem(ns + 104, 16, uuid1, 16);
    /* stable: the same on another controller */
    {
        TestConn *tc2 = admin(tt);

        g_assert_cmphex(identify(tc2, NVME_ID_CNS_NS_DESC_LIST, 1, 0, id), ==,
                        0);
        g_assert_cmpmem(id + 24, 16, uuid1, 16);
        tc_free(tc2);
    }

    /* inactive and invalid namespaces */
    g_assert_cmphex(identify(tc, NVME_ID_CNS_NS_DESC_LIST, 3, 0, id), ==,
                    NVME_SC_INVALID_NS | DNR);
    g_assert_cmphex(identify(tc, NVME_ID_CNS_NS_DESC_LIST, 0, 0, id), ==,
                    NVME_SC_INVALID_NS | DNR);
    g_assert_cmphex(identify(tc, NVME_ID_CNS_NS_DESC_LIST, 0xffffffff, 0, id),
                    ==, NVME_SC_INVALID_NS | DNR);
    tc_free(tc);
    tt_free(tt);
    g_free(d2.data);
}

static void test_identify_cs(void)
{
    TestTarget *tt = tt_new();
    RamDisk d2 = { 0 };
    NvmetNsConfig cfg = { 0 };
    TestConn *tc;
    g_autofree uint8_t *id = g_malloc(4096);

    cfg.nsid = 2;
    cfg.size = 65536;
    cfg.block_size = 4096;
    cfg.read_only = true;
    add_ns_cfg(tt, &cfg, &d2);
    tc = admin(tt);

    /* CNS 05h: NVM command set specific namespace data, nothing to report */
    g_assert_cmphex(identify(tc, NVME_ID_CNS_CS_NS, 1, NVME_CSI_NVM, id), ==,
                    0);
    g_assert_true(all_zero(id, 4096));
    g_assert_cmphex(identify(tc, NVME_ID_CNS_CS_NS, 1, 2, id), ==,
                    NVME_SC_INVALID_FIELD | DNR);
    g_assert_cmphex(identify(tc, NVME_ID_CNS_CS_NS, 0, NVME_CSI_NVM, id), ==,
                    NVME_SC_INVALID_NS | DNR);
    g_assert_cmphex(identify(tc, NVME_ID_CNS_CS_NS, 0xffffffff, NVME_CSI_NVM,
                             id), ==, NVME_SC_INVALID_NS | DNR);
    g_assert_cmphex(identify(tc, NVME_ID_CNS_CS_NS, 9, NVME_CSI_NVM, id), ==,
                    0);
    g_assert_true(all_zero(id, 4096));

    /* CNS 06h: I/O command set specific controller data */
    g_assert_cmphex(identify(tc, NVME_ID_CNS_CS_CTRL, 0, NVME_CSI_NVM, id),
                    ==, 0);
    g_assert_true(all_zero(id, 4096));
    g_assert_cmphex(identify(tc, NVME_ID_CNS_CS_CTRL, 0, 2, id), ==,
                    NVME_SC_INVALID_FIELD | DNR);

    /* CNS 08h: I/O command set independent namespace data */
    g_assert_cmphex(identify(tc, NVME_ID_CNS_NS_CS_INDEP, 1, 0, id), ==, 0);
    g_assert_cmphex(id[0], ==, 0x10);                       /* NSFEAT */
    g_assert_cmpuint(id[1], ==, 1);                         /* NMIC */
    g_assert_cmpuint(id[8], ==, 0);                         /* NSATTR */
    g_assert_cmpuint(id[14], ==, 1);                        /* NSTAT */
    id[0] = id[1] = id[14] = 0;
    g_assert_true(all_zero(id, 4096));
    g_assert_cmphex(identify(tc, NVME_ID_CNS_NS_CS_INDEP, 2, 0, id), ==, 0);
    g_assert_cmpuint(id[8], ==, 1);
    g_assert_cmphex(identify(tc, NVME_ID_CNS_NS_CS_INDEP, 7, 0, id), ==, 0);
    g_assert_true(all_zero(id, 4096));
    g_assert_cmphex(identify(tc, NVME_ID_CNS_NS_CS_INDEP, 0xffffffff, 0, id),
                    ==, NVME_SC_INVALID_NS | DNR);

    /* CNS 1Ch: I/O command set profiles, only NVM */
    g_assert_cmphex(identify(tc, NVME_ID_CNS_CMD_SET, 0, 0, id), ==, 0);
    g_assert_cmpuint(id[0], ==, 1);
    g_assert_true(all_zero(id + 1, 4095));
    tc_free(tc);
    tt_free(tt);
    g_free(d2.data);
}

static void test_identify_errors(void)
{
    static const uint8_t cns[] = { 0x04, 0x09, 0x10, 0x11, 0x12, 0x13, 0x15,
                                   0x1f, 0xff };
    TestTarget *tt = tt_new();
    TestConn *tc = admin(tt);
    g_autofree uint8_t *id = g_malloc(4096);
    uint8_t sqe[64];
    NvmfCqe cqe;

    for (unsigned i = 0; i < G_N_ELEMENTS(cns); i++) {
        g_autofree char *msg = g_strdup_printf("Identify cns 0x%02x not "
                                               "supported", cns[i]);

        g_assert_cmphex(identify(tc, cns[i], 0, 0, id), ==,
                        NVME_SC_INVALID_FIELD | DNR);
        g_assert_true(tt_trace_has(tt, msg));
    }
    /* the data must be exactly 4 KiB */
    nvmf_sqe_init(sqe, NVME_ADM_IDENTIFY, 0);
    nvmet_st32(sqe + NVME_SQE_CDW10, NVME_ID_CNS_CTRL);
    submit(tc, sqe, NULL, 0, id, 512, &cqe);
    g_assert_cmphex(cqe.status, ==, NVME_SC_SGL_INVALID_DATA | DNR);
    submit(tc, sqe, NULL, 0, id, 8192, &cqe);
    g_assert_cmphex(cqe.status, ==, NVME_SC_SGL_INVALID_DATA | DNR);
    submit(tc, sqe, NULL, 0, NULL, 0, &cqe);
    g_assert_cmphex(cqe.status, ==, NVME_SC_SGL_INVALID_DATA | DNR);
    g_assert_true(tt_trace_has(tt, "status 0x400f (data SGL length "
                               "invalid)"));
    tc_free(tc);
    tt_free(tt);
}

/* ---- Get Log Page -------------------------------------------------------- */

static void test_log_supported(void)
{
    TestTarget *tt = tt_new();
    TestConn *tc = admin(tt), *disc = admin_on(tt, NVME_DISC_SUBSYS_NAME);
    uint8_t buf[1024];

    g_assert_cmphex(get_log(tc, NVME_LOG_SUPPORTED, 0, 0, buf, 1024), ==, 0);
    for (unsigned lid = 0; lid < 256; lid++) {
        g_assert_cmpuint(nvmet_ld32(buf + 4 * lid), ==, lid <= 5 ? 1 : 0);
    }
    g_assert_cmphex(get_log(disc, NVME_LOG_SUPPORTED, 0, 0, buf, 1024), ==,
                    0);
    for (unsigned lid = 0; lid < 256; lid++) {
        bool sup = lid <= 3 || lid == NVME_LOG_DISC;

        g_assert_cmpuint(nvmet_ld32(buf + 4 * lid), ==, sup ? 1 : 0);
    }
    tc_free(disc);
    tc_free(tc);
    tt_free(tt);
}

static void test_log_error(void)
{
    TestTarget *tt = tt_new();
    TestConn *tc = admin(tt);
    g_autofree uint8_t *log = g_malloc(4096);
    g_autofree uint8_t *id = g_malloc(4096);
    uint8_t sqe[64], *e;
    uint64_t val;
    NvmfCqe cqe;
    int cid1, cid2;

    g_assert_cmphex(get_log(tc, NVME_LOG_ERROR, 0, 0, log, 4096), ==, 0);
    g_assert_true(all_zero(log, 4096));

    /* an unknown opcode, then an unknown CNS */
    nvmf_sqe_init(sqe, 0x81, 0x12345678);
    cid1 = nvmf_host_send_cmd(tc->h, sqe, NULL, 0, NULL, 0);
    g_assert_cmpint(nvmf_host_wait(tc->h, cid1, &cqe), ==, 0);
    g_assert_cmphex(cqe.status, ==, NVME_SC_INVALID_OPCODE | DNR);
    nvmf_sqe_init(sqe, NVME_ADM_IDENTIFY, 0);
    nvmet_st32(sqe + NVME_SQE_CDW10, 0x13);
    cid2 = nvmf_host_send_cmd(tc->h, sqe, NULL, 0, id, 4096);
    g_assert_cmpint(nvmf_host_wait(tc->h, cid2, &cqe), ==, 0);
    g_assert_cmphex(cqe.status, ==, NVME_SC_INVALID_FIELD | DNR);
    /* fabrics command errors are not logged */
    g_assert_cmpint(nvmf_host_prop_get(tc->h, 0x100, false, &val, &cqe), ==,
                    0);
    g_assert_cmphex(cqe.status, ==, NVME_SC_INVALID_FIELD | DNR);

    g_assert_cmphex(get_log(tc, NVME_LOG_ERROR, 0, 0, log, 4096), ==, 0);
    /* newest first */
    e = log;
    g_assert_cmpuint(nvmet_ld64(e + 0), ==, 2);             /* count */
    g_assert_cmpuint(nvmet_ld16(e + 8), ==, 0);             /* SQID */
    g_assert_cmpuint(nvmet_ld16(e + 10), ==, cid2);
    g_assert_cmphex(nvmet_ld16(e + 12), ==,
                    (NVME_SC_INVALID_FIELD | DNR) << 1);
    g_assert_cmpuint(nvmet_ld16(e + 14), ==, NVME_SQE_CDW10);   /* PEL */
    g_assert_cmpuint(nvmet_ld64(e + 16), ==, 0);            /* LBA */
    g_assert_cmpuint(nvmet_ld32(e + 24), ==, 0);            /* NSID */
    g_assert_cmpuint(e[29], ==, NVMF_TRTYPE_TCP);
    e = log + 64;
    g_assert_cmpuint(nvmet_ld64(e + 0), ==, 1);
    g_assert_cmpuint(nvmet_ld16(e + 10), ==, cid1);
    g_assert_cmphex(nvmet_ld16(e + 12), ==,
                    (NVME_SC_INVALID_OPCODE | DNR) << 1);
    g_assert_cmphex(nvmet_ld16(e + 14), ==, 0xffff);
    g_assert_cmphex(nvmet_ld32(e + 24), ==, 0x12345678);
    g_assert_true(all_zero(log + 128, 4096 - 128));

    /* the log keeps the newest 64 entries */
    for (int i = 0; i < 70; i++) {
        g_assert_cmphex(simple_cmd(tc, 0x80, 0, 0, NULL), ==,
                        NVME_SC_INVALID_OPCODE | DNR);
    }
    g_assert_cmphex(get_log(tc, NVME_LOG_ERROR, 0, 0, log, 4096), ==, 0);
    for (int i = 0; i < 64; i++) {
        g_assert_cmpuint(nvmet_ld64(log + 64 * i), ==, 72 - i);
    }
    /* a part of it, at an offset */
    g_assert_cmphex(get_log(tc, NVME_LOG_ERROR, 0, 64 * 63, log, 128), ==, 0);
    g_assert_cmpuint(nvmet_ld64(log), ==, 72 - 63);
    g_assert_true(all_zero(log + 64, 64));
    /* the SMART log counts them all */
    g_assert_cmphex(get_log(tc, NVME_LOG_SMART, 0, 0, log, 512), ==, 0);
    g_assert_cmpuint(nvmet_ld64(log + 176), ==, 72);
    tc_free(tc);
    tt_free(tt);
}

static void test_log_smart(void)
{
    TestTarget *tt = tt_new();
    TestConn *tc = admin(tt);
    uint8_t buf[512];

    g_assert_cmphex(get_log(tc, NVME_LOG_SMART, 0, 0, buf, 512), ==, 0);
    g_assert_cmpuint(buf[0], ==, 0);                        /* warnings */
    g_assert_cmphex(nvmet_ld16(buf + 1), ==, 0x141);        /* temperature */
    g_assert_cmpuint(buf[3], ==, 100);                      /* spare */
    g_assert_cmpuint(buf[4], ==, 10);
    g_assert_cmpuint(buf[5], ==, 0);
    g_assert_true(all_zero(buf + 6, 512 - 6));
    g_assert_cmphex(get_log(tc, NVME_LOG_SMART, 0xffffffff, 0, buf, 512), ==,
                    0);
    g_assert_cmphex(nvmet_ld16(buf + 1), ==, 0x141);
    /* no per-namespace information */
    g_assert_cmphex(get_log(tc, NVME_LOG_SMART, 1, 0, buf, 512), ==,
                    NVME_SC_INVALID_FIELD | DNR);
    /* a dword at an offset */
    g_assert_cmphex(get_log(tc, NVME_LOG_SMART, 0, 4, buf, 4), ==, 0);
    g_assert_cmphex(nvmet_ld32(buf), ==, 10);

    /* firmware slot information */
    g_assert_cmphex(get_log(tc, NVME_LOG_FW_SLOT, 0, 0, buf, 512), ==, 0);
    g_assert_cmpuint(buf[0], ==, 1);
    assert_ascii(buf + 8, 8, "1.0");
    g_assert_true(all_zero(buf + 16, 512 - 16));
    tc_free(tc);
    tt_free(tt);
}

static void test_log_cmd_effects(void)
{
    static const uint8_t admin_ok[] = { 0x02, 0x06, 0x08, 0x09, 0x0a, 0x0c,
                                        0x18 };
    TestTarget *tt = tt_new();
    TestConn *tc = admin(tt);
    g_autofree uint8_t *buf = g_malloc(4096);

    g_assert_cmphex(get_log(tc, NVME_LOG_CMD_EFFECTS, 0, 0, buf, 4096), ==, 0);
    for (unsigned opc = 0; opc < 256; opc++) {
        bool sup = memchr(admin_ok, opc, sizeof(admin_ok)) != NULL;

        g_assert_cmphex(nvmet_ld32(buf + 4 * opc), ==, sup ? 1 : 0);
    }
    g_assert_cmphex(nvmet_ld32(buf + 1024 + 4 * NVME_CMD_FLUSH), ==, 1);
    g_assert_cmphex(nvmet_ld32(buf + 1024 + 4 * NVME_CMD_READ), ==, 1);
    /* commands that change the media: CSUPP | LBCC */
    g_assert_cmphex(nvmet_ld32(buf + 1024 + 4 * NVME_CMD_WRITE), ==, 3);
    g_assert_cmphex(nvmet_ld32(buf + 1024 + 4 * NVME_CMD_WRITE_ZEROES), ==, 3);
    g_assert_cmphex(nvmet_ld32(buf + 1024 + 4 * NVME_CMD_DSM), ==, 3);
    g_assert_cmphex(nvmet_ld32(buf + 1024 + 4 * 0x05), ==, 0);
    g_assert_true(all_zero(buf + 2048, 2048));
    tc_free(tc);
    tt_free(tt);
}

static void test_log_errors(void)
{
    TestTarget *tt = tt_new();
    TestConn *tc = admin(tt);
    g_autofree uint8_t *buf = g_malloc(65536);
    uint8_t sqe[64];
    NvmfCqe cqe;

    /* unknown log pages */
    g_assert_cmphex(get_log(tc, 0x99, 0, 0, buf, 512), ==,
                    NVME_SC_INVALID_LOG_PAGE | DNR);
    g_assert_true(tt_trace_has(tt, "log page 0x99 not supported"));
    g_assert_cmphex(get_log(tc, 0x06, 0, 0, buf, 512), ==,
                    NVME_SC_INVALID_LOG_PAGE | DNR);
    /* the discovery log belongs to discovery controllers */
    g_assert_cmphex(get_log(tc, NVME_LOG_DISC, 0, 0, buf, 1024), ==,
                    NVME_SC_INVALID_LOG_PAGE | DNR);
    g_assert_true(tt_trace_has(tt, "log page 0x70 not supported"));

    /* offsets: dword aligned and within the page */
    g_assert_cmphex(get_log(tc, NVME_LOG_SMART, 0, 2, buf, 4), ==,
                    NVME_SC_INVALID_FIELD | DNR);
    g_assert_cmphex(get_log(tc, NVME_LOG_SMART, 0, 516, buf, 4), ==,
                    NVME_SC_INVALID_FIELD | DNR);
    g_assert_cmphex(get_log(tc, NVME_LOG_SMART, 0, 1ull << 32, buf, 4), ==,
                    NVME_SC_INVALID_FIELD | DNR);
    /* at the very end: nothing left, zeroes */
    g_assert_cmphex(get_log(tc, NVME_LOG_SMART, 0, 512, buf, 8), ==, 0);
    g_assert_true(all_zero(buf, 8));
    /* longer than the page: zero filled */
    g_assert_cmphex(get_log(tc, NVME_LOG_SMART, 0, 0, buf, 8192), ==, 0);
    g_assert_cmphex(nvmet_ld16(buf + 1), ==, 0x141);
    g_assert_true(all_zero(buf + 512, 8192 - 512));

    /* NUMD must match the data length */
    nvmf_sqe_init(sqe, NVME_ADM_GET_LOG_PAGE, 0);
    nvmet_st32(sqe + NVME_SQE_CDW10, NVME_LOG_SMART | (1u << 16));
    submit(tc, sqe, NULL, 0, buf, 16, &cqe);
    g_assert_cmphex(cqe.status, ==, NVME_SC_SGL_INVALID_DATA | DNR);
    submit(tc, sqe, NULL, 0, NULL, 0, &cqe);
    g_assert_cmphex(cqe.status, ==, NVME_SC_SGL_INVALID_DATA | DNR);
    /* NUMDU (CDW11) counts */
    nvmet_st32(sqe + NVME_SQE_CDW10, NVME_LOG_SMART | (0x3fffu << 16));
    nvmet_st32(sqe + NVME_SQE_CDW11, 0);
    memset(buf, 0xa5, 65536);
    submit(tc, sqe, NULL, 0, buf, 65536, &cqe);
    g_assert_cmphex(cqe.status, ==, 0);
    g_assert_cmphex(nvmet_ld16(buf + 1), ==, 0x141);
    g_assert_true(all_zero(buf + 512, 65536 - 512));
    tc_free(tc);
    tt_free(tt);
}

/* ---- Asynchronous events and the changed namespace list ------------------ */

static void test_aer_limit(void)
{
    TestTarget *tt = tt_new();
    TestConn *tc = admin(tt);
    RamDisk d2 = { 0 };
    g_auto(NvmfPdu) pdu = { 0 };
    int cid[4];
    uint16_t got;
    NvmfCqe cqe;

    for (int i = 0; i < 4; i++) {
        g_autofree char *msg = g_strdup_printf("AER posted (%d outstanding)",
                                               i + 1);

        cid[i] = post_aer(tc);
        g_assert_true(tt_trace_has(tt, msg));
    }
    /* AERL is 3: a fifth one is refused right away */
    g_assert_cmphex(simple_cmd(tc, NVME_ADM_ASYNC_EVENT, 0, 0, NULL), ==,
                    NVME_SC_AER_LIMIT | DNR);
    g_assert_true(tt_trace_has(tt, "status 0x4105 (AER limit exceeded)"));
    /* other commands still work */
    g_assert_cmphex(simple_cmd(tc, NVME_ADM_KEEP_ALIVE, 0, 0, NULL), ==, 0);

    /* one event completes exactly one of them */
    g_assert_cmphex(set_feat(tc, NVME_FEAT_ASYNC_EVENT, NVME_AEN_CFG_NS_ATTR,
                             NULL), ==, 0);
    tt_add_ns(tt, tt->subsys, 2, &d2, 65536, 512);
    g_assert_cmpint(nvmf_host_recv_pdu(tc->h, &pdu), ==, 0);
    g_assert_cmpint(pdu.type, ==, NVME_TCP_PDU_RSP);
    got = nvmet_ld16(pdu.hdr + 8 + NVME_CQE_CID);
    g_assert_true(got == cid[0] || got == cid[1] || got == cid[2] ||
                  got == cid[3]);
    g_assert_cmphex(nvmet_ld32(pdu.hdr + 8 + NVME_CQE_DW0), ==, 0x00040002);
    g_assert_cmphex(nvmet_ld16(pdu.hdr + 8 + NVME_CQE_STATUS), ==, 0);
    g_assert_cmpuint(tt->kicks, >, 0);
    /* so there is room for one more */
    cqe.status = 0xffff;
    post_aer(tc);
    g_assert_true(tt_trace_has(tt, "AER posted (4 outstanding)"));
    g_assert_cmphex(simple_cmd(tc, NVME_ADM_ASYNC_EVENT, 0, 0, &cqe), ==,
                    NVME_SC_AER_LIMIT | DNR);
    tc_free(tc);
    tt_free(tt);
    g_free(d2.data);
}

static void test_aer_ns_changed(void)
{
    TestTarget *tt = tt_new();
    TestConn *tc = admin(tt), *other = admin(tt);
    RamDisk d2 = { 0 }, d3 = { 0 };
    g_autofree uint8_t *log = g_malloc(4096);
    NvmetNs *ns2, *ns3;
    uint32_t dw0;
    NvmfCqe cqe;
    int aer;

    /* enabling the event: only the namespace attribute notice exists */
    g_assert_cmphex(set_feat(tc, NVME_FEAT_ASYNC_EVENT, 0xffffffff, NULL), ==,
                    0);
    g_assert_cmphex(feat(tc, NVME_FEAT_ASYNC_EVENT, 0), ==,
                    NVME_AEN_CFG_NS_ATTR);
    g_assert_cmphex(feat(tc, NVME_FEAT_ASYNC_EVENT, 1), ==, 0);

    aer = post_aer(tc);
    ns2 = tt_add_ns(tt, tt->subsys, 2, &d2, 65536, 512);
    g_assert_true(tt_trace_has(tt, "cntlid 1: asynchronous event "
                               "0x00040002"));
    /* the admin queue completes the AER when it next runs (posted) */
    g_assert_cmpint(nvmf_host_wait(tc->h, aer, &cqe), ==, 0);
    g_assert_true(tt_trace_has(tt, "cntlid 1: AER completed with "
                               "0x00040002"));
    g_assert_cmphex(cqe.status, ==, 0);
    g_assert_cmphex(cqe.dw0, ==, 0x00040002);
    /* the other controller did not ask for it */
    g_assert_false(tt_trace_has(tt, "cntlid 2: asynchronous event"));

    /* further changes are masked until the log is read */
    aer = post_aer(tc);
    tt_trace_clear(tt);
    ns3 = tt_add_ns(tt, tt->subsys, 3, &d3, 65536, 512);
    g_assert_false(tt_trace_has(tt, "asynchronous event"));
    /* reading with RAE keeps the mask */
    g_assert_cmphex(get_log_rae(tc, NVME_LOG_CHANGED_NS, log, 4096), ==, 0);
    g_assert_cmpuint(nvmet_ld32(log + 0), ==, 2);
    g_assert_cmpuint(nvmet_ld32(log + 4), ==, 3);
    g_assert_true(all_zero(log + 8, 4096 - 8));
    nvmet_ns_resize(ns3, 32768);
    g_assert_false(tt_trace_has(tt, "asynchronous event"));
    /* each read clears the list */
    g_assert_cmphex(get_log(tc, NVME_LOG_CHANGED_NS, 0, 0, log, 4096), ==, 0);
    g_assert_cmpuint(nvmet_ld32(log + 0), ==, 3);
    g_assert_true(all_zero(log + 4, 4096 - 4));
    g_assert_cmphex(get_log(tc, NVME_LOG_CHANGED_NS, 0, 0, log, 4096), ==, 0);
    g_assert_true(all_zero(log, 4096));
    /* read without RAE: the next change is reported again */
    nvmet_ns_resize(ns2, 32768);
    g_assert_cmpint(nvmf_host_wait(tc->h, aer, &cqe), ==, 0);
    g_assert_cmphex(cqe.dw0, ==, 0x00040002);
    /* a resize to the same number of blocks is no change */
    tt_trace_clear(tt);
    g_assert_cmphex(get_log(tc, NVME_LOG_CHANGED_NS, 0, 0, log, 4096), ==, 0);
    nvmet_ns_resize(ns2, 32768 + 100);
    g_assert_false(tt_trace_has(tt, "asynchronous event"));

    /* an event without an AER waiting is queued for the next one */
    tt_remove_ns(tt, ns3);
    g_assert_true(tt_trace_has(tt, "cntlid 1: asynchronous event "
                               "0x00040002"));
    g_assert_cmphex(simple_cmd(tc, NVME_ADM_ASYNC_EVENT, 0, 0, &cqe), ==, 0);
    g_assert_cmphex(cqe.dw0, ==, 0x00040002);

    /* the other controller kept its own list all along */
    g_assert_cmphex(get_log(other, NVME_LOG_CHANGED_NS, 0, 0, log, 4096), ==,
                    0);
    g_assert_cmpuint(nvmet_ld32(log + 0), ==, 2);
    g_assert_cmpuint(nvmet_ld32(log + 4), ==, 3);
    g_assert_true(all_zero(log + 8, 4096 - 8));
    g_assert_cmphex(get_feat(other, NVME_FEAT_ASYNC_EVENT, 0, 0, &dw0), ==, 0);
    g_assert_cmphex(dw0, ==, 0);

    tc_free(other);
    tc_free(tc);
    tt_free(tt);
    g_free(d2.data);
    g_free(d3.data);
}

/* More than 1024 namespaces: list limits */
static void test_many_namespaces(void)
{
    enum { N = 1030 };
    TestTarget *tt = tt_new();
    RamDisk *disks = g_new0(RamDisk, N);
    g_autofree uint8_t *buf = g_malloc(4096);
    NvmetSubsysConfig sc;
    NvmetSubsys *s;
    GError *err = NULL;
    TestConn *tc;

    nvmet_subsys_config_init(&sc);
    sc.nqn = "nqn.2026-11.org.qemu:many";
    sc.allow_any_host = true;
    sc.max_namespaces = 4096;
    s = nvmet_subsys_new(tt->t, &sc, &err);
    g_assert_no_error(err);
    nvmet_port_add_subsys(tt->port, s);
    tc = admin_on(tt, sc.nqn);

    for (unsigned i = 0; i < N; i++) {
        tt_add_ns(tt, s, i + 1, &disks[i], 512, 512);
    }
    /* the changed namespace list overflowed: a single 0xffffffff */
    g_assert_cmphex(get_log(tc, NVME_LOG_CHANGED_NS, 0, 0, buf, 4096), ==, 0);
    g_assert_cmphex(nvmet_ld32(buf), ==, 0xffffffff);
    g_assert_true(all_zero(buf + 4, 4096 - 4));
    g_assert_cmphex(get_log(tc, NVME_LOG_CHANGED_NS, 0, 0, buf, 4096), ==, 0);
    g_assert_true(all_zero(buf, 4096));
    /* exactly 1024 changes still fit */
    for (unsigned i = 0; i < 1024; i++) {
        nvmet_ns_resize(g_ptr_array_index(tt->nss, i + 1), 1024);
    }
    g_assert_cmphex(get_log(tc, NVME_LOG_CHANGED_NS, 0, 0, buf, 4096), ==, 0);
    g_assert_cmpuint(nvmet_ld32(buf), ==, 1);
    g_assert_cmpuint(nvmet_ld32(buf + 4092), ==, 1024);

    /* the active namespace list holds 1024 IDs; the rest comes after */
    g_assert_cmphex(identify(tc, NVME_ID_CNS_NS_ACTIVE_LIST, 0, 0, buf), ==,
                    0);
    for (unsigned i = 0; i < 1024; i++) {
        g_assert_cmpuint(nvmet_ld32(buf + 4 * i), ==, i + 1);
    }
    g_assert_cmphex(identify(tc, NVME_ID_CNS_NS_ACTIVE_LIST, 1024, 0, buf),
                    ==, 0);
    for (unsigned i = 0; i < N - 1024; i++) {
        g_assert_cmpuint(nvmet_ld32(buf + 4 * i), ==, 1025 + i);
    }
    g_assert_true(all_zero(buf + 4 * (N - 1024), 4096 - 4 * (N - 1024)));

    tc_free(tc);
    nvmet_subsys_free(s);
    tt_free(tt);
    for (unsigned i = 0; i < N; i++) {
        g_free(disks[i].data);
    }
    g_free(disks);
}

/* ---- Features ------------------------------------------------------------ */

static void test_features_num_queues(void)
{
    TestTarget *tt = tt_new();
    TestConn *tc = admin(tt);
    uint32_t dw0;

    /* 128 I/O queues by default (0's based) */
    g_assert_cmphex(feat(tc, NVME_FEAT_NUM_QUEUES, 0), ==, 0x007f007f);
    g_assert_cmphex(set_feat(tc, NVME_FEAT_NUM_QUEUES, 0x00030003, &dw0), ==,
                    0);
    g_assert_cmphex(dw0, ==, 0x00030003);
    g_assert_cmphex(feat(tc, NVME_FEAT_NUM_QUEUES, 0), ==, 0x00030003);
    /* default and saved values (nothing is saveable: saved = default) */
    g_assert_cmphex(feat(tc, NVME_FEAT_NUM_QUEUES, 1), ==, 0x007f007f);
    g_assert_cmphex(feat(tc, NVME_FEAT_NUM_QUEUES, 2), ==, 0x007f007f);
    /* pairs: the smaller of the two counts */
    g_assert_cmphex(set_feat(tc, NVME_FEAT_NUM_QUEUES, 0x00050001, &dw0), ==,
                    0);
    g_assert_cmphex(dw0, ==, 0x00010001);
    g_assert_cmphex(set_feat(tc, NVME_FEAT_NUM_QUEUES, 0x00000000, &dw0), ==,
                    0);
    g_assert_cmphex(dw0, ==, 0);
    /* capped at what the port allows */
    g_assert_cmphex(set_feat(tc, NVME_FEAT_NUM_QUEUES, 0x03e703e7, &dw0), ==,
                    0);
    g_assert_cmphex(dw0, ==, 0x007f007f);
    /* 65536 queues is invalid */
    g_assert_cmphex(set_feat(tc, NVME_FEAT_NUM_QUEUES, 0x0000ffff, NULL), ==,
                    NVME_SC_INVALID_FIELD | DNR);
    g_assert_cmphex(set_feat(tc, NVME_FEAT_NUM_QUEUES, 0xffff0000, NULL), ==,
                    NVME_SC_INVALID_FIELD | DNR);
    g_assert_true(tt_trace_has(tt, "set features 0x07 not supported"));
    g_assert_cmphex(feat(tc, NVME_FEAT_NUM_QUEUES, 0), ==, 0x007f007f);
    tc_free(tc);
    tt_free(tt);
}

static void test_features_values(void)
{
    TestTarget *tt = tt_new();
    TestConn *tc = admin(tt);
    uint32_t dw0;

    /* volatile write cache: on by default */
    g_assert_cmphex(feat(tc, NVME_FEAT_VOLATILE_WC, 0), ==, 1);
    g_assert_cmphex(set_feat(tc, NVME_FEAT_VOLATILE_WC, 0, NULL), ==, 0);
    g_assert_cmphex(feat(tc, NVME_FEAT_VOLATILE_WC, 0), ==, 0);
    g_assert_cmphex(feat(tc, NVME_FEAT_VOLATILE_WC, 1), ==, 1);
    g_assert_cmphex(set_feat(tc, NVME_FEAT_VOLATILE_WC, 0xfffffffe, NULL), ==,
                    0);
    g_assert_cmphex(feat(tc, NVME_FEAT_VOLATILE_WC, 0), ==, 0);
    g_assert_cmphex(set_feat(tc, NVME_FEAT_VOLATILE_WC, 1, NULL), ==, 0);
    g_assert_cmphex(feat(tc, NVME_FEAT_VOLATILE_WC, 0), ==, 1);

    /* arbitration: stored as given */
    g_assert_cmphex(feat(tc, NVME_FEAT_ARBITRATION, 0), ==, 0);
    g_assert_cmphex(set_feat(tc, NVME_FEAT_ARBITRATION, 0x01020307, NULL), ==,
                    0);
    g_assert_cmphex(feat(tc, NVME_FEAT_ARBITRATION, 0), ==, 0x01020307);
    g_assert_cmphex(feat(tc, NVME_FEAT_ARBITRATION, 1), ==, 0);

    /* power management: power state 0 only */
    g_assert_cmphex(set_feat(tc, NVME_FEAT_POWER_MGMT, 1, NULL), ==,
                    NVME_SC_INVALID_FIELD | DNR);
    g_assert_cmphex(set_feat(tc, NVME_FEAT_POWER_MGMT, 0x1e0, NULL), ==, 0);
    g_assert_cmphex(feat(tc, NVME_FEAT_POWER_MGMT, 0), ==, 0xe0);
    g_assert_cmphex(feat(tc, NVME_FEAT_POWER_MGMT, 1), ==, 0);

    /* temperature threshold */
    g_assert_cmphex(feat(tc, NVME_FEAT_TEMP_THRESH, 0), ==, 0x157);
    g_assert_cmphex(set_feat(tc, NVME_FEAT_TEMP_THRESH, 0x00150160, NULL), ==,
                    0);
    g_assert_cmphex(feat(tc, NVME_FEAT_TEMP_THRESH, 0), ==, 0x160);
    g_assert_cmphex(feat(tc, NVME_FEAT_TEMP_THRESH, 1), ==, 0x157);

    /* error recovery */
    g_assert_cmphex(set_feat(tc, NVME_FEAT_ERR_RECOVERY, 0x00010064, NULL),
                    ==, 0);
    g_assert_cmphex(feat(tc, NVME_FEAT_ERR_RECOVERY, 0), ==, 0x64);
    g_assert_cmphex(feat(tc, NVME_FEAT_ERR_RECOVERY, 1), ==, 0);

    /* write atomicity normal */
    g_assert_cmphex(set_feat(tc, NVME_FEAT_WRITE_ATOMIC, 3, NULL), ==, 0);
    g_assert_cmphex(feat(tc, NVME_FEAT_WRITE_ATOMIC, 0), ==, 1);
    g_assert_cmphex(feat(tc, NVME_FEAT_WRITE_ATOMIC, 1), ==, 0);

    /* keep-alive timeout, as set by Connect */
    g_assert_cmpuint(feat(tc, NVME_FEAT_KATO, 0), ==, 120000);
    g_assert_cmphex(set_feat(tc, NVME_FEAT_KATO, 30000, NULL), ==, 0);
    g_assert_cmpuint(feat(tc, NVME_FEAT_KATO, 0), ==, 30000);

    /* capabilities: changeable, not saveable */
    g_assert_cmphex(get_feat(tc, NVME_FEAT_ARBITRATION, 3, 0, &dw0), ==, 0);
    g_assert_cmphex(dw0, ==, 4);
    g_assert_cmphex(get_feat(tc, NVME_FEAT_KATO, 3, 0, &dw0), ==, 0);
    g_assert_cmphex(dw0, ==, 4);
    /* the host identifier is fixed by Connect: not changeable */
    g_assert_cmphex(get_feat(tc, NVME_FEAT_HOST_ID, 3, 0, &dw0), ==, 0);
    g_assert_cmphex(dw0, ==, 0);
    /* capabilities of a feature we do not have; a reserved SEL */
    g_assert_cmphex(get_feat(tc, 0x7f, 3, 0, &dw0), ==,
                    NVME_SC_INVALID_FIELD | DNR);
    g_assert_cmphex(get_feat(tc, NVME_FEAT_KATO, 4, 0, &dw0), ==,
                    NVME_SC_INVALID_FIELD | DNR);

    /* a controller reset restores the defaults */
    g_assert_cmphex(set_feat(tc, NVME_FEAT_VOLATILE_WC, 0, NULL), ==, 0);
    {
        NvmfCqe cqe;

        g_assert_cmpint(nvmf_host_prop_set(tc->h, NVME_REG_CC, 0, &cqe), ==,
                        0);
        g_assert_cmpint(nvmf_host_enable(tc->h), ==, 0);
    }
    g_assert_cmphex(feat(tc, NVME_FEAT_VOLATILE_WC, 0), ==, 1);
    g_assert_cmphex(feat(tc, NVME_FEAT_ARBITRATION, 0), ==, 0);
    g_assert_cmphex(feat(tc, NVME_FEAT_TEMP_THRESH, 0), ==, 0x157);
    g_assert_cmphex(feat(tc, NVME_FEAT_NUM_QUEUES, 0), ==, 0x007f007f);
    tc_free(tc);
    tt_free(tt);
}

static void test_features_data(void)
{
    TestTarget *tt = tt_new();
    TestConn *tc = admin(tt);
    uint8_t sqe[64], hb[512], back[512], hostid[16];
    NvmfCqe cqe;

    /* host behavior support: 512 bytes of data each way */
    for (unsigned i = 0; i < sizeof(hb); i++) {
        hb[i] = i ^ 0x5a;
    }
    nvmf_sqe_init(sqe, NVME_ADM_GET_FEATURES, 0);
    nvmet_st32(sqe + NVME_SQE_CDW10, NVME_FEAT_HOST_BEHAVIOR);
    memset(back, 0xff, sizeof(back));
    submit(tc, sqe, NULL, 0, back, sizeof(back), &cqe);
    g_assert_cmphex(cqe.status, ==, 0);
    g_assert_true(all_zero(back, sizeof(back)));

    nvmf_sqe_init(sqe, NVME_ADM_SET_FEATURES, 0);
    nvmet_st32(sqe + NVME_SQE_CDW10, NVME_FEAT_HOST_BEHAVIOR);
    submit(tc, sqe, hb, sizeof(hb), NULL, 0, &cqe);
    g_assert_cmphex(cqe.status, ==, 0);
    /* wrong sizes */
    submit(tc, sqe, hb, 256, NULL, 0, &cqe);
    g_assert_cmphex(cqe.status, ==, NVME_SC_SGL_INVALID_DATA | DNR);
    submit(tc, sqe, NULL, 0, NULL, 0, &cqe);
    g_assert_cmphex(cqe.status, ==, NVME_SC_SGL_INVALID_DATA | DNR);

    nvmf_sqe_init(sqe, NVME_ADM_GET_FEATURES, 0);
    nvmet_st32(sqe + NVME_SQE_CDW10, NVME_FEAT_HOST_BEHAVIOR);
    submit(tc, sqe, NULL, 0, back, sizeof(back), &cqe);
    g_assert_cmphex(cqe.status, ==, 0);
    g_assert_cmpmem(back, sizeof(back), hb, sizeof(hb));
    submit(tc, sqe, NULL, 0, NULL, 0, &cqe);
    g_assert_cmphex(cqe.status, ==, NVME_SC_SGL_INVALID_DATA | DNR);

    /* host identifier: the 128-bit one from Connect, read only */
    nvmf_sqe_init(sqe, NVME_ADM_GET_FEATURES, 0);
    nvmet_st32(sqe + NVME_SQE_CDW10, NVME_FEAT_HOST_ID);
    nvmet_st32(sqe + NVME_SQE_CDW11, 1);
    memset(hostid, 0, sizeof(hostid));
    submit(tc, sqe, NULL, 0, hostid, sizeof(hostid), &cqe);
    g_assert_cmphex(cqe.status, ==, 0);
    g_assert_cmpmem(hostid, 16, test_hostid, 16);
    nvmet_st32(sqe + NVME_SQE_CDW11, 0);
    submit(tc, sqe, NULL, 0, hostid, 8, &cqe);
    g_assert_cmphex(cqe.status, ==, NVME_SC_INVALID_FIELD | DNR);
    g_assert_true(tt_trace_has(tt, "get features 0x81 not supported"));
    g_assert_cmphex(set_feat(tc, NVME_FEAT_HOST_ID, 1, NULL), ==,
                    NVME_SC_CMD_SEQ_ERROR | DNR);
    tc_free(tc);
    tt_free(tt);
}

static void test_features_errors(void)
{
    static const uint8_t fids[] = { 0x00, 0x03, 0x08, 0x09, 0x0c, 0x0d, 0x0e,
                                    0x10, 0x11, 0x7f, 0x80, 0xc0 };
    TestTarget *tt = tt_new();
    TestConn *tc = admin(tt);
    uint32_t dw0;

    for (unsigned i = 0; i < G_N_ELEMENTS(fids); i++) {
        g_autofree char *set_msg = g_strdup_printf("set features 0x%02x not "
                                                   "supported", fids[i]);
        g_autofree char *get_msg = g_strdup_printf("get features 0x%02x not "
                                                   "supported", fids[i]);

        g_assert_cmphex(set_feat(tc, fids[i], 0, NULL), ==,
                        NVME_SC_INVALID_FIELD | DNR);
        g_assert_true(tt_trace_has(tt, set_msg));
        g_assert_cmphex(get_feat(tc, fids[i], 0, 0, &dw0), ==,
                        NVME_SC_INVALID_FIELD | DNR);
        g_assert_true(tt_trace_has(tt, get_msg));
    }
    /* nothing can be saved */
    g_assert_cmphex(set_feat(tc, NVME_FEAT_VOLATILE_WC | (1u << 31), 0, NULL),
                    ==, NVME_SC_FEATURE_NOT_SAVEABLE | DNR);
    g_assert_cmphex(feat(tc, NVME_FEAT_VOLATILE_WC, 0), ==, 1);
    g_assert_cmphex(set_feat(tc, NVME_FEAT_KATO | (1u << 31), 5, NULL), ==,
                    NVME_SC_FEATURE_NOT_SAVEABLE | DNR);
    g_assert_cmpuint(feat(tc, NVME_FEAT_KATO, 0), ==, 120000);

    /* the error log holds the parameter error location (CDW10) */
    {
        uint8_t log[64];

        g_assert_cmphex(set_feat(tc, 0x03, 0, NULL), ==,
                        NVME_SC_INVALID_FIELD | DNR);
        g_assert_cmphex(get_log(tc, NVME_LOG_ERROR, 0, 0, log, 64), ==, 0);
        g_assert_cmpuint(nvmet_ld16(log + 14), ==, NVME_SQE_CDW10);
    }
    tc_free(tc);
    tt_free(tt);
}

/* ---- other admin commands ------------------------------------------------ */

static void test_keep_alive_abort(void)
{
    TestTarget *tt = tt_new();
    TestConn *tc = admin(tt);
    NvmfCqe cqe;

    g_assert_cmphex(simple_cmd(tc, NVME_ADM_KEEP_ALIVE, 0, 0, &cqe), ==, 0);
    g_assert_cmphex(cqe.dw0, ==, 0);
    g_assert_true(tt_trace_has(tt, "opcode 0x18 done"));
    /* Abort: nothing is ever aborted (DW0 bit 0 set) */
    g_assert_cmphex(simple_cmd(tc, NVME_ADM_ABORT, 0, 0x00070000, &cqe), ==,
                    0);
    g_assert_cmphex(cqe.dw0, ==, 1);
    tc_free(tc);
    tt_free(tt);
}

static void test_invalid_opcode(void)
{
    static const uint8_t opcs[] = { 0x00, 0x01, 0x04, 0x05, 0x10, 0x11, 0x0d,
                                    0x19, 0x7c, 0x80, 0x81, 0xc0, 0xff };
    TestTarget *tt = tt_new();
    TestConn *tc = admin(tt);

    for (unsigned i = 0; i < G_N_ELEMENTS(opcs); i++) {
        g_autofree char *msg = g_strdup_printf("admin opcode 0x%02x not "
                                               "supported", opcs[i]);

        g_assert_cmphex(simple_cmd(tc, opcs[i], 0, 0, NULL), ==,
                        NVME_SC_INVALID_OPCODE | DNR);
        g_assert_true(tt_trace_has(tt, msg));
    }
    /* the queue is still fine */
    g_assert_cmphex(simple_cmd(tc, NVME_ADM_KEEP_ALIVE, 0, 0, NULL), ==, 0);
    g_assert_false(nvmet_queue_wants_close(tc->q));
    tc_free(tc);
    tt_free(tt);
}

/* Fused operations and PRPs do not exist on fabrics */
static void test_sqe_flags(void)
{
    TestTarget *tt = tt_new();
    TestConn *tc = admin(tt);
    uint8_t sqe[64];
    NvmfCqe cqe;

    nvmf_sqe_init(sqe, NVME_ADM_KEEP_ALIVE, 0);
    sqe[NVME_SQE_FLAGS] = 0;        /* PRP */
    submit(tc, sqe, NULL, 0, NULL, 0, &cqe);
    g_assert_cmphex(cqe.status, ==, NVME_SC_INVALID_FIELD | DNR);
    nvmf_sqe_init(sqe, NVME_ADM_KEEP_ALIVE, 0);
    sqe[NVME_SQE_FLAGS] |= 1;       /* first fused command */
    submit(tc, sqe, NULL, 0, NULL, 0, &cqe);
    g_assert_cmphex(cqe.status, ==, NVME_SC_INVALID_FIELD | DNR);
    nvmf_sqe_init(sqe, NVME_ADM_KEEP_ALIVE, 0);
    sqe[NVME_SQE_FLAGS] = 0x80;     /* SGL, metadata in a segment */
    submit(tc, sqe, NULL, 0, NULL, 0, &cqe);
    g_assert_cmphex(cqe.status, ==, 0);
    tc_free(tc);
    tt_free(tt);
}

/* ---- discovery controller ------------------------------------------------ */

static void test_disc_identify(void)
{
    TestTarget *tt = tt_new();
    TestConn *tc = admin_on(tt, NVME_DISC_SUBSYS_NAME);
    g_autofree uint8_t *id = g_malloc(4096);
    uint8_t nqn[256] = { 0 };

    g_assert_cmphex(identify(tc, NVME_ID_CNS_CTRL, 0, 0, id), ==, 0);
    g_assert_cmpuint(id[111], ==, NVME_CTRL_DISC);
    g_assert_cmpuint(id[76], ==, 0);                        /* CMIC */
    g_assert_cmphex(nvmet_ld32(id + 92), ==, 1u << 31);     /* OAES */
    g_assert_cmphex(id[261], ==, 4);                        /* LPA */
    g_assert_cmpuint(nvmet_ld16(id + 514), ==, 32);         /* MAXCMD */
    g_assert_cmpuint(nvmet_ld32(id + 516), ==, 0);          /* NN */
    g_assert_cmphex(nvmet_ld16(id + 520), ==, 0);           /* ONCS */
    g_assert_cmphex(id[525], ==, 0);                        /* VWC */
    g_assert_cmphex(nvmet_ld16(id + 1804), ==, 0);          /* OFCS */
    g_assert_cmpuint(id[1806], ==, 1);                      /* DCTYPE: DDC */
    g_assert_cmpuint(nvmet_ld16(id + 320), ==, 10);         /* KAS */
    strcpy((char *)nqn, NVME_DISC_SUBSYS_NAME);
    g_assert_cmpmem(id + 768, 256, nqn, 256);
    /* a serial number derived from the NQN: 16 hex digits */
    for (int i = 0; i < 16; i++) {
        g_assert_true(g_ascii_isxdigit(id[4 + i]));
    }
    assert_ascii(id + 20, 4, "");

    /* no namespaces here */
    g_assert_cmphex(identify(tc, NVME_ID_CNS_NS, 1, 0, id), ==,
                    NVME_SC_INVALID_FIELD | DNR);
    g_assert_cmphex(identify(tc, NVME_ID_CNS_NS_ACTIVE_LIST, 0, 0, id), ==,
                    NVME_SC_INVALID_FIELD | DNR);
    g_assert_cmphex(identify(tc, NVME_ID_CNS_CMD_SET, 0, 0, id), ==,
                    NVME_SC_INVALID_FIELD | DNR);
    tc_free(tc);
    tt_free(tt);
}

static void test_disc_rejects(void)
{
    TestTarget *tt = tt_new();
    TestConn *tc = admin_on(tt, NVME_DISC_SUBSYS_NAME), *io = tc_new(tt);
    g_autofree uint8_t *buf = g_malloc(4096);
    uint32_t dw0;
    NvmfCqe cqe;

    /* NVM-only log pages */
    g_assert_cmphex(get_log(tc, NVME_LOG_CHANGED_NS, 0, 0, buf, 4096), ==,
                    NVME_SC_INVALID_LOG_PAGE | DNR);
    g_assert_cmphex(get_log(tc, NVME_LOG_CMD_EFFECTS, 0, 0, buf, 4096), ==,
                    NVME_SC_INVALID_LOG_PAGE | DNR);
    /* common ones work */
    g_assert_cmphex(get_log(tc, NVME_LOG_ERROR, 0, 0, buf, 4096), ==, 0);
    g_assert_cmphex(get_log(tc, NVME_LOG_SMART, 0, 0, buf, 512), ==, 0);
    g_assert_cmphex(get_log(tc, NVME_LOG_FW_SLOT, 0, 0, buf, 512), ==, 0);

    /* features: only keep-alive timer and asynchronous event config */
    g_assert_cmphex(set_feat(tc, NVME_FEAT_VOLATILE_WC, 1, NULL), ==,
                    NVME_SC_INVALID_FIELD | DNR);
    g_assert_cmphex(set_feat(tc, NVME_FEAT_NUM_QUEUES, 0, NULL), ==,
                    NVME_SC_INVALID_FIELD | DNR);
    g_assert_cmphex(set_feat(tc, NVME_FEAT_ARBITRATION, 0, NULL), ==,
                    NVME_SC_INVALID_FIELD | DNR);
    g_assert_cmphex(get_feat(tc, NVME_FEAT_NUM_QUEUES, 0, 0, &dw0), ==,
                    NVME_SC_INVALID_FIELD | DNR);
    g_assert_cmphex(get_feat(tc, NVME_FEAT_VOLATILE_WC, 0, 0, &dw0), ==,
                    NVME_SC_INVALID_FIELD | DNR);
    g_assert_cmphex(set_feat(tc, NVME_FEAT_KATO, 7000, NULL), ==, 0);
    g_assert_cmpuint(feat(tc, NVME_FEAT_KATO, 0), ==, 7000);
    g_assert_cmphex(set_feat(tc, NVME_FEAT_ASYNC_EVENT, 0xffffffff, NULL), ==,
                    0);
    g_assert_cmphex(feat(tc, NVME_FEAT_ASYNC_EVENT, 0), ==,
                    NVME_AEN_CFG_DISC_CHANGE);

    /* commands of I/O controllers */
    g_assert_cmphex(simple_cmd(tc, NVME_ADM_ABORT, 0, 0, NULL), ==,
                    NVME_SC_INVALID_OPCODE | DNR);
    g_assert_true(tt_trace_has(tt, "admin opcode 0x08 not supported"));
    g_assert_cmphex(simple_cmd(tc, 0x80, 0, 0, NULL), ==,
                    NVME_SC_INVALID_OPCODE | DNR);
    g_assert_cmphex(simple_cmd(tc, NVME_ADM_KEEP_ALIVE, 0, 0, NULL), ==, 0);

    /* and no I/O queues */
    g_assert_cmpint(nvmf_host_icreq(io->h, false, false, 0), ==, 0);
    g_assert_cmpint(nvmf_host_connect(io->h, 1, 31, tc->cntlid,
                                      NVME_DISC_SUBSYS_NAME, TEST_HOSTNQN,
                                      test_hostid, 0, 0, &cqe), ==, 0);
    g_assert_cmphex(cqe.status, ==, NVME_SC_CONNECT_INVALID_PARAM | DNR);
    g_assert_cmphex(cqe.dw0, ==, NVME_CONNECT_QID);
    g_assert_true(tt_trace_has(tt, "queue ID beyond the number of queues"));
    tc_free(io);
    tc_free(tc);
    tt_free(tt);
}

static void check_disc_entry(const uint8_t *e, const char *nqn, bool disc)
{
    uint8_t want[256] = { 0 };

    g_assert_cmpuint(e[0], ==, NVMF_TRTYPE_TCP);
    g_assert_cmpuint(e[1], ==, NVMF_ADRFAM_IPV4);
    g_assert_cmpuint(e[2], ==, disc ? NVME_NQN_CURR : NVME_NQN_NVME);
    g_assert_cmphex(e[3], ==, NVMF_TREQ_DISABLE_SQFLOW);
    g_assert_cmpuint(nvmet_ld16(e + 4), ==, 1);             /* PORTID */
    g_assert_cmphex(nvmet_ld16(e + 6), ==, 0xffff);         /* CNTLID */
    g_assert_cmpuint(nvmet_ld16(e + 8), ==, 32);            /* ASQSZ */
    g_assert_cmphex(nvmet_ld16(e + 10), ==, disc ? 3 : 0);  /* EFLAGS */
    assert_ascii(e + 32, 32, "4420");
    strcpy((char *)want, nqn);
    g_assert_cmpmem(e + 256, 256, want, 256);
    assert_ascii(e + 512, 256, "127.0.0.1");
    g_assert_cmpuint(e[768], ==, NVMF_TCP_SECTYPE_NONE);
    g_assert_true(all_zero(e + 769, 1024 - 769));
}

static void test_disc_log(void)
{
    TestTarget *tt = tt_new();
    TestConn *tc = admin_on(tt, NVME_DISC_SUBSYS_NAME);
    g_autofree uint8_t *log = g_malloc(4096);
    GError *err = NULL;
    uint64_t gen;

    g_assert_cmphex(get_log(tc, NVME_LOG_DISC, 0, 0, log, 4096), ==, 0);
    gen = nvmet_ld64(log + 0);
    g_assert_cmpuint(gen, >, 0);
    g_assert_cmpuint(nvmet_ld64(log + 8), ==, 2);           /* NUMREC */
    g_assert_cmpuint(nvmet_ld16(log + 16), ==, 0);          /* RECFMT */
    g_assert_true(all_zero(log + 18, 1024 - 18));
    check_disc_entry(log + 1024, NVME_DISC_SUBSYS_NAME, true);
    check_disc_entry(log + 2048, TEST_SUBNQN, false);
    g_assert_true(all_zero(log + 3072, 1024));

    /* the header alone, then the entries at an offset */
    g_assert_cmphex(get_log(tc, NVME_LOG_DISC, 0, 0, log, 20), ==, 0);
    g_assert_cmpuint(nvmet_ld64(log + 0), ==, gen);
    g_assert_cmpuint(nvmet_ld64(log + 8), ==, 2);
    g_assert_cmphex(get_log(tc, NVME_LOG_DISC, 0, 2048, log, 1024), ==, 0);
    check_disc_entry(log, TEST_SUBNQN, false);
    g_assert_cmphex(get_log(tc, NVME_LOG_DISC, 0, 3072, log, 1024), ==, 0);
    g_assert_true(all_zero(log, 1024));
    g_assert_cmphex(get_log(tc, NVME_LOG_DISC, 0, 3076, log, 4), ==,
                    NVME_SC_INVALID_FIELD | DNR);

    /* a host only sees the subsystems it may use */
    nvmet_subsys_set_allow_any_host(tt->subsys, false);
    g_assert_cmphex(get_log(tc, NVME_LOG_DISC, 0, 0, log, 4096), ==, 0);
    g_assert_cmpuint(nvmet_ld64(log + 0), ==, gen + 1);
    g_assert_cmpuint(nvmet_ld64(log + 8), ==, 1);
    check_disc_entry(log + 1024, NVME_DISC_SUBSYS_NAME, true);
    g_assert_true(all_zero(log + 2048, 2048));
    tt->host = nvmet_host_new(tt->t, TEST_HOSTNQN, &err);
    g_assert_no_error(err);
    g_assert_true(nvmet_subsys_add_host(tt->subsys, tt->host, &err));
    g_assert_cmphex(get_log(tc, NVME_LOG_DISC, 0, 0, log, 4096), ==, 0);
    g_assert_cmpuint(nvmet_ld64(log + 0), ==, gen + 2);
    g_assert_cmpuint(nvmet_ld64(log + 8), ==, 2);
    check_disc_entry(log + 2048, TEST_SUBNQN, false);
    tc_free(tc);

    /* another host, not allowed, connected to discovery */
    tc = tc_new(tt);
    tc_admin(tc, NVME_DISC_SUBSYS_NAME, TEST_HOSTNQN2, false, false);
    g_assert_cmphex(get_log(tc, NVME_LOG_DISC, 0, 0, log, 4096), ==, 0);
    g_assert_cmpuint(nvmet_ld64(log + 8), ==, 1);
    tc_free(tc);
    tt_free(tt);
}

static void test_disc_log_ports(void)
{
    TestTarget *tt = tt_new();
    NvmetPortConfig pc;
    NvmetPort *port;
    GError *err = NULL;
    g_autofree uint8_t *log = g_malloc(3072);
    TestConn *tc;
    uint8_t *e;

    /* what an IPv6 port with optional TLS and SQ flow control shows */
    nvmet_port_config_init(&pc);
    pc.portid = 9;
    pc.traddr = "fd00::2";
    pc.trsvcid = "4433";
    pc.ipv6 = true;
    pc.tls = NVMET_PORT_TLS_ALLOWED;
    pc.sqflow_disable_ok = false;
    port = nvmet_port_new(tt->t, &pc, &err);
    g_assert_no_error(err);
    nvmet_port_add_subsys(port, tt->subsys);
    tc = tc_new_on(tt, port);
    tc_admin(tc, NVME_DISC_SUBSYS_NAME, TEST_HOSTNQN, false, false);
    g_assert_cmphex(get_log(tc, NVME_LOG_DISC, 0, 0, log, 3072), ==, 0);
    g_assert_cmpuint(nvmet_ld64(log + 8), ==, 2);
    e = log + 2048;
    g_assert_cmpuint(e[1], ==, NVMF_ADRFAM_IPV6);
    g_assert_cmpuint(e[2], ==, NVME_NQN_NVME);
    g_assert_cmphex(e[3], ==, NVMF_TREQ_NOT_REQUIRED);
    g_assert_cmpuint(nvmet_ld16(e + 4), ==, 9);
    assert_ascii(e + 32, 32, "4433");
    assert_ascii(e + 512, 256, "fd00::2");
    g_assert_cmpuint(e[768], ==, NVMF_TCP_SECTYPE_TLS13);
    tc_free(tc);
    nvmet_port_free(port);
    tt_free(tt);
}

static void test_disc_aen(void)
{
    TestTarget *tt = tt_new();
    TestConn *tc = admin_on(tt, NVME_DISC_SUBSYS_NAME);
    g_autofree uint8_t *log = g_malloc(4096);
    NvmetSubsysConfig sc;
    NvmetSubsys *s;
    GError *err = NULL;
    NvmfCqe cqe;
    int aer;

    g_assert_cmphex(set_feat(tc, NVME_FEAT_ASYNC_EVENT,
                             NVME_AEN_CFG_DISC_CHANGE, NULL), ==, 0);
    aer = post_aer(tc);

    nvmet_subsys_config_init(&sc);
    sc.nqn = "nqn.2026-11.org.qemu:new";
    sc.allow_any_host = true;
    s = nvmet_subsys_new(tt->t, &sc, &err);
    g_assert_no_error(err);
    nvmet_port_add_subsys(tt->port, s);
    g_assert_cmpint(nvmf_host_wait(tc->h, aer, &cqe), ==, 0);
    g_assert_cmphex(cqe.status, ==, 0);
    g_assert_cmphex(cqe.dw0, ==, 0x0070f002);

    /* masked until the log is read without RAE */
    aer = post_aer(tc);
    tt_trace_clear(tt);
    nvmet_port_remove_subsys(tt->port, s);
    g_assert_false(tt_trace_has(tt, "asynchronous event"));
    g_assert_cmphex(get_log_rae(tc, NVME_LOG_DISC, log, 4096), ==, 0);
    nvmet_port_add_subsys(tt->port, s);
    g_assert_false(tt_trace_has(tt, "asynchronous event"));
    g_assert_cmphex(get_log(tc, NVME_LOG_DISC, 0, 0, log, 4096), ==, 0);
    g_assert_cmpuint(nvmet_ld64(log + 8), ==, 3);
    nvmet_port_remove_subsys(tt->port, s);
    g_assert_cmpint(nvmf_host_wait(tc->h, aer, &cqe), ==, 0);
    g_assert_cmphex(cqe.dw0, ==, 0x0070f002);

    nvmet_subsys_free(s);
    tc_free(tc);
    tt_free(tt);
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/nvmet/admin/identify/ctrl", test_identify_ctrl);
    g_test_add_func("/nvmet/admin/identify/ctrl-config",
                    test_identify_ctrl_config);
    g_test_add_func("/nvmet/admin/identify/ns", test_identify_ns);
    g_test_add_func("/nvmet/admin/identify/active-list",
                    test_identify_active_list);
    g_test_add_func("/nvmet/admin/identify/desc-list",
                    test_identify_desc_list);
    g_test_add_func("/nvmet/admin/identify/cs", test_identify_cs);
    g_test_add_func("/nvmet/admin/identify/errors", test_identify_errors);
    g_test_add_func("/nvmet/admin/log/supported", test_log_supported);
    g_test_add_func("/nvmet/admin/log/error", test_log_error);
    g_test_add_func("/nvmet/admin/log/smart", test_log_smart);
    g_test_add_func("/nvmet/admin/log/cmd-effects", test_log_cmd_effects);
    g_test_add_func("/nvmet/admin/log/errors", test_log_errors);
    g_test_add_func("/nvmet/admin/log/many-namespaces", test_many_namespaces);
    g_test_add_func("/nvmet/admin/aer/limit", test_aer_limit);
    g_test_add_func("/nvmet/admin/aer/ns-changed", test_aer_ns_changed);
    g_test_add_func("/nvmet/admin/features/num-queues",
                    test_features_num_queues);
    g_test_add_func("/nvmet/admin/features/values", test_features_values);
    g_test_add_func("/nvmet/admin/features/data", test_features_data);
    g_test_add_func("/nvmet/admin/features/errors", test_features_errors);
    g_test_add_func("/nvmet/admin/keep-alive-abort", test_keep_alive_abort);
    g_test_add_func("/nvmet/admin/invalid-opcode", test_invalid_opcode);
    g_test_add_func("/nvmet/admin/sqe-flags", test_sqe_flags);
    g_test_add_func("/nvmet/admin/discovery/identify", test_disc_identify);
    g_test_add_func("/nvmet/admin/discovery/rejects", test_disc_rejects);
    g_test_add_func("/nvmet/admin/discovery/log", test_disc_log);
    g_test_add_func("/nvmet/admin/discovery/log-ports", test_disc_log_ports);
    g_test_add_func("/nvmet/admin/discovery/aen", test_disc_aen);
    return g_test_run();
}
