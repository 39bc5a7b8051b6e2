/*
 * Generates the seed corpus of the NVMe-oF TCP target fuzzing harness:
 * small, valid sessions in the input format of fuzz-nvmet.h.
 *
 *   gen-corpus DIR
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#include <stdio.h>
#include <stdlib.h>

#include "nvmet/proto.h"
#include "fuzz-nvmet.h"
#include "fuzz-templates.h"

static const char *outdir;

static void save(const char *name, GByteArray *b)
{
    g_autofree char *path = g_build_filename(outdir, name, NULL);
    GError *err = NULL;

    if (!g_file_set_contents(path, (char *)b->data, b->len, &err)) {
        fprintf(stderr, "gen-corpus: %s\n", err->message);
        exit(1);
    }
    g_byte_array_free(b, true);
}

static GByteArray *start(uint8_t cfg)
{
    GByteArray *b = g_byte_array_new();

    g_byte_array_append(b, &cfg, 1);
    return b;
}

/* Raw bytes only: ICReq, Connect, CC.EN = 1, Identify. */
static void raw_session(void)
{
    GByteArray *b = start(FUZZ_SC_RAW | FUZZ_CFG_TRACE);

    fuzz_tpl_raw_icreq(b, false, false);
    fuzz_tpl_raw_connect(b, 0, 0xffff, FUZZ_SUBNQN, FUZZ_HOSTNQN2);
    fuzz_tpl_raw_prop_set(b, 2, NVME_REG_CC, 0x00460001);
    fuzz_tpl_raw_identify(b, 3, NVME_ID_CNS_CTRL, 0);
    fuzz_tpl_raw_identify(b, 4, NVME_ID_CNS_NS, 1);
    save("raw-session", b);
}

static void admin_session(void)
{
    GByteArray *b = start(FUZZ_SC_ADMIN);

    fuzz_tpl_identify(b, NVME_ID_CNS_CTRL, 0);
    fuzz_tpl_identify(b, NVME_ID_CNS_NS, 1);
    fuzz_tpl_identify(b, NVME_ID_CNS_NS, 2);
    fuzz_tpl_identify(b, NVME_ID_CNS_NS_ACTIVE_LIST, 0);
    fuzz_tpl_identify(b, NVME_ID_CNS_NS_DESC_LIST, 2);
    fuzz_tpl_get_log(b, NVME_LOG_ERROR, 16, 0);
    fuzz_tpl_get_log(b, NVME_LOG_SMART, 128, 3);
    fuzz_tpl_get_log(b, NVME_LOG_CHANGED_NS, 1024, 3);
    fuzz_tpl_features(b, true, NVME_FEAT_NUM_QUEUES, 0x00030003);
    fuzz_tpl_features(b, false, NVME_FEAT_KATO, 0);
    fuzz_tpl_features(b, true, NVME_FEAT_ASYNC_EVENT, NVME_AEN_CFG_NS_ATTR);
    fuzz_tpl_admin(b, 4);                               /* AER */
    fuzz_tpl_conn(b, 6, 0);                             /* remove ns 2 */
    fuzz_tpl_get_log(b, NVME_LOG_CHANGED_NS, 1024, 3);
    fuzz_tpl_admin(b, 5);                               /* keep alive */
    fuzz_tpl_clock(b, 0xe1);                            /* KATO */
    fuzz_tpl_clock(b, 0xe2);                            /* past KATO */
    save("admin-session", b);
}

static void io_session(uint8_t cfg, const char *name)
{
    GByteArray *b = start(FUZZ_SC_IO | cfg);

    fuzz_tpl_rw(b, 0x01, 1, 0, 7);          /* write ns 1, in-capsule */
    fuzz_tpl_rw(b, 0x11, 0, 1, 1);          /* write ns 2 via R2T */
    fuzz_tpl_rw(b, 0x00, 0, 0, 7);          /* read ns 1 */
    fuzz_tpl_rw(b, 0x10, 0, 1, 1);          /* read ns 2 */
    fuzz_tpl_rw(b, 0x04, 0, 0, 0);          /* flush */
    fuzz_tpl_rw(b, 0x15, 0, 2, 3);          /* write zeroes ns 2 */
    fuzz_tpl_rw(b, 0x06, 1, 0, 2);          /* DSM, three ranges */
    fuzz_tpl_rw(b, 0x01, 2, 4, 3);          /* write via R2T, not answered */
    fuzz_tpl_h2c(b, 0x04);                  /* ... partly */
    fuzz_tpl_h2c(b, 0x00);                  /* ... and the rest */
    fuzz_tpl_held(b, 0x80);                 /* from now on hold I/O */
    fuzz_tpl_rw(b, 0x00, 0, 0, 0);
    fuzz_tpl_rw(b, 0x10, 0, 0, 0);
    fuzz_tpl_held(b, 0x11);                 /* one fails with EIO */
    fuzz_tpl_conn(b, 3, 0);                 /* close with I/O held */
    save(name, b);
}

/* Negotiate / Challenge by hand, then a whole exchange by the test host. */
static void auth_session(void)
{
    GByteArray *b = start(FUZZ_SC_AUTH_PENDING | FUZZ_CFG_TRACE);

    fuzz_tpl_identify(b, NVME_ID_CNS_CTRL, 0);          /* refused */
    fuzz_tpl_negotiate(b, 0x0107, 2, 1);
    fuzz_tpl_auth_recv(b, 4096);
    fuzz_tpl_clock(b, 0xe5);                            /* auth timeout */
    fuzz_tpl_negotiate(b, 0x0101, 1, 1);
    fuzz_tpl_auth_recv(b, 16);                          /* too small */
    fuzz_tpl_auth_recv(b, 4096);
    fuzz_tpl_host_auth(b, 0x01, 0x00, 9);               /* bidi, SHA-256 */
    fuzz_tpl_prop(b, true, 0x04);                       /* CC.EN = 1 */
    fuzz_tpl_identify(b, NVME_ID_CNS_CTRL, 0);
    save("auth-session", b);
}

static void auth_done_session(void)
{
    GByteArray *b = start(FUZZ_SC_AUTH_DONE);

    fuzz_tpl_identify(b, NVME_ID_CNS_NS, 1);
    fuzz_tpl_host_auth(b, 0x00, 0x11, 3);               /* re-auth, ffdhe2048 */
    fuzz_tpl_conn(b, 1, 0x40);                          /* I/O queue */
    fuzz_tpl_host_auth(b, 0x11, 0x00, 4);               /* wrong response */
    fuzz_tpl_rw(b, 0x00, 0, 0, 0);
    fuzz_tpl_conn(b, 7, 0x03);                          /* rotate keys */
    fuzz_tpl_host_auth(b, 0x01, 0x00, 5);               /* old keys fail */
    save("auth-done-session", b);
}

static void discovery_session(void)
{
    GByteArray *b = start(FUZZ_SC_DISCOVERY);

    fuzz_tpl_identify(b, NVME_ID_CNS_CTRL, 0);
    fuzz_tpl_get_log(b, NVME_LOG_DISC, 1024, 0);
    fuzz_tpl_get_log(b, NVME_LOG_DISC, 256, 0);
    fuzz_tpl_features(b, true, NVME_FEAT_ASYNC_EVENT, NVME_AEN_CFG_DISC_CHANGE);
    fuzz_tpl_admin(b, 4);
    save("discovery-session", b);
}

/* Several connections, controllers torn down under live queues. */
static void churn_session(void)
{
    GByteArray *b = start(FUZZ_SC_ADMIN | FUZZ_CFG_HOLD_IO);

    fuzz_tpl_conn(b, 1, 0x00);              /* I/O queue 1 */
    fuzz_tpl_conn(b, 1, 0x04);              /* I/O queue 2 */
    fuzz_tpl_rw(b, 0x01, 1, 0, 0);
    fuzz_tpl_conn(b, 2, 0);                 /* back to the admin queue */
    fuzz_tpl_prop(b, true, 0x0c);           /* CC.SHN */
    fuzz_tpl_conn(b, 0, 0x03);              /* new connection, digests */
    fuzz_tpl_connect(b, 0x10);              /* I/O Connect after shutdown */
    fuzz_tpl_conn(b, 2, 0);
    fuzz_tpl_conn(b, 3, 0);                 /* drop the admin queue */
    fuzz_tpl_held(b, 0x00);                 /* complete held I/O */
    fuzz_tpl_conn(b, 5, 40);                /* resize ns 1 */
    fuzz_tpl_conn(b, 9, 0);                 /* disallow any host */
    fuzz_tpl_conn(b, 4, 0);                 /* raw connection */
    fuzz_tpl_raw_icreq(b, false, false);
    fuzz_tpl_raw_connect(b, 0, 0xffff, FUZZ_SUBNQN, FUZZ_HOSTNQN);
    fuzz_tpl_conn(b, 8, 0);
    save("churn-session", b);
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: gen-corpus DIR\n");
        return 2;
    }
    outdir = argv[1];
    g_mkdir_with_parents(outdir, 0755);
    raw_session();
    admin_session();
    io_session(0, "io-session");
    io_session(FUZZ_CFG_HDGST | FUZZ_CFG_DDGST | FUZZ_CFG_NOSQFLOW,
               "io-digest-session");
    auth_session();
    auth_done_session();
    discovery_session();
    churn_session();
    return 0;
}
