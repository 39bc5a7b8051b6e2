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
#include <gnutls/gnutls.h>

#include "nvmet/fault.h"
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

/* ---- TLS ---------------------------------------------------------------- */

#define PSK_A(psk, sub) (FUZZ_TLS_A_PSK(psk) | FUZZ_TLS_A_SUB(sub))

/* Cleartext PDUs, to send through a session the harness completed. */
static void raw_admin_pdus(GByteArray *b, const char *hostnqn)
{
    fuzz_tpl_raw_icreq(b, false, false);
    fuzz_tpl_raw_connect(b, 0, 0xffff, FUZZ_SUBNQN, hostnqn);
    fuzz_tpl_raw_prop_set(b, 2, NVME_REG_CC, 0x00460001);
    fuzz_tpl_raw_identify(b, 3, NVME_ID_CNS_CTRL, 0);
}

/* HOSTNQN3's configured PSK: admin and I/O queue over TLS, with digests. */
static void tls_session(void)
{
    GByteArray *b = start(FUZZ_SC_RAW | FUZZ_CFG_TRACE);
    FuzzTplSession s = {
        .a = PSK_A(FUZZ_PSK_HOST3, FUZZ_TLS_SUB_PLAIN),
        .b = FUZZ_TLS_LVL_IO | FUZZ_TLS_B_HDGST | FUZZ_TLS_B_DDGST,
    };

    fuzz_tpl_tls_session(b, &s);            /* connections 1 and 2 */
    fuzz_tpl_rw(b, 0x01, 1, 0, 7);          /* write ns 1, in-capsule */
    fuzz_tpl_rw(b, 0x11, 0, 1, 1);          /* write ns 2 via R2T */
    fuzz_tpl_rw(b, 0x00, 0, 0, 7);          /* read ns 1 */
    fuzz_tpl_tls_ctl(b, FUZZ_CTL_RECORD, 3);    /* 48-byte records */
    fuzz_tpl_rw(b, 0x10, 0, 1, 1);          /* read ns 2 */
    fuzz_tpl_rw(b, 0x01, 2, 4, 3);          /* write via R2T, not answered */
    fuzz_tpl_h2c(b, 0x00);                  /* answered */
    fuzz_tpl_tls_ctl(b, FUZZ_CTL_KEY_UPDATE_PEER, 0);
    fuzz_tpl_tls_ctl(b, FUZZ_CTL_CHUNK, 5);     /* records in 5-byte pieces */
    fuzz_tpl_tls_ctl(b, FUZZ_CTL_RECORD, 0);
    fuzz_tpl_rw(b, 0x00, 0, 0, 31);         /* 16 KiB read: several records */
    fuzz_tpl_tls_ctl(b, FUZZ_CTL_KEY_UPDATE, 0);
    fuzz_tpl_rw(b, 0x01, 0, 8, 15);         /* 8 KiB write via R2T */
    fuzz_tpl_conn(b, 2, 1);                 /* the admin queue */
    fuzz_tpl_identify(b, NVME_ID_CNS_CTRL, 0);
    fuzz_tpl_get_log(b, NVME_LOG_SMART, 128, 3);
    fuzz_tpl_admin(b, 4);                   /* AER */
    fuzz_tpl_conn(b, 6, 0);                 /* remove ns 2: an event */
    fuzz_tpl_conn(b, 2, 2);
    fuzz_tpl_held(b, 0x80);                 /* hold I/O */
    fuzz_tpl_rw(b, 0x00, 0, 0, 0);
    fuzz_tpl_held(b, 0x11);
    fuzz_tpl_conn(b, 3, 0);                 /* close with I/O held */
    save("tls-session", b);
}

/* The tls=required port: SHA-384 PSK, identity version 0, ECDHE, 512-byte
 * records from the engine; discovery over TLS; cleartext refused. */
static void tls_required(void)
{
    GByteArray *b = start(FUZZ_SC_RAW);
    FuzzTplSession s = {
        .a = PSK_A(FUZZ_PSK_HOST3, FUZZ_TLS_SUB_AUTH) | FUZZ_TLS_A_REQUIRED |
             FUZZ_TLS_A_V0 | FUZZ_TLS_A_OPTS,
        .b = FUZZ_TLS_LVL_IO,
        .opts = FUZZ_TLS_O_RSL(1) | FUZZ_TLS_O_ECDHE,
    };

    fuzz_tpl_tls_hostpsk(b, 1 << 1);        /* HOSTNQN3: SHA-384 PSK */
    fuzz_tpl_tls_session(b, &s);
    fuzz_tpl_rw(b, 0x00, 0, 0, 7);          /* read: 4 KiB in 512 B records */
    fuzz_tpl_rw(b, 0x01, 1, 0, 3);          /* write, in-capsule */
    fuzz_tpl_rw(b, 0x00, 0, 0, 31);         /* read 16 KiB */
    s.a = PSK_A(FUZZ_PSK_HOST3, FUZZ_TLS_SUB_DISC) | FUZZ_TLS_A_REQUIRED;
    s.b = FUZZ_TLS_LVL_ENABLE;
    fuzz_tpl_tls_session(b, &s);
    fuzz_tpl_get_log(b, NVME_LOG_DISC, 1024, 0);
    fuzz_tpl_tls_hostpsk(b, 3 << 1);        /* 48 bytes, no transform */
    fuzz_tpl_tls_simple(b, FUZZ_PSK_HOST3, FUZZ_TLS_SUB_PLAIN,
                        FUZZ_TLS_LVL_CONNECT);
    s.a = PSK_A(FUZZ_PSK_HOST3, FUZZ_TLS_SUB_AUTH) | FUZZ_TLS_A_REQUIRED;
    s.b = FUZZ_TLS_LVL_CLEAR;               /* cleartext: refused */
    fuzz_tpl_tls_session(b, &s);
    save("tls-required", b);
}

/* NEWTLSPSK on a cleartext queue, TLS with the generated PSK,
 * REPLACETLSPSK; the old and the expired PSK are refused. */
static void tls_concat(uint8_t hashes, const char *name)
{
    GByteArray *b = start(FUZZ_SC_RAW | FUZZ_CFG_TRACE);
    FuzzTplSession s = {
        .a = PSK_A(FUZZ_PSK_HOST1, FUZZ_TLS_SUB_AUTH),
        .b = FUZZ_TLS_LVL_CLEAR,
    };

    fuzz_tpl_tls_session(b, &s);            /* ATR: must authenticate */
    fuzz_tpl_tls_concat(b, hashes << 1, 1); /* NEWTLSPSK */
    fuzz_tpl_tls_simple(b, FUZZ_PSK_GEN, FUZZ_TLS_SUB_AUTH,
                        FUZZ_TLS_LVL_ENABLE);
    fuzz_tpl_identify(b, NVME_ID_CNS_NS, 1);
    fuzz_tpl_tls_concat(b, 1 | hashes << 1 | 0x20, 2);  /* REPLACETLSPSK */
    fuzz_tpl_tls_simple(b, FUZZ_PSK_GEN_OLD, FUZZ_TLS_SUB_AUTH,
                        FUZZ_TLS_LVL_HANDSHAKE);        /* refused */
    fuzz_tpl_tls_simple(b, FUZZ_PSK_GEN, FUZZ_TLS_SUB_AUTH,
                        FUZZ_TLS_LVL_IO);
    fuzz_tpl_rw(b, 0x31, 1, 0, 3);
    fuzz_tpl_conn(b, 2, 3);                 /* the TLS admin queue */
    fuzz_tpl_tls_concat(b, hashes << 1, 3); /* NEWTLSPSK on TLS: refused */
    fuzz_tpl_clock(b, 0xe6);                /* an hour later */
    fuzz_tpl_tls_simple(b, FUZZ_PSK_GEN, FUZZ_TLS_SUB_AUTH,
                        FUZZ_TLS_LVL_HANDSHAKE);        /* expired */
    save(name, b);
}

/* The quirk: REPLACETLSPSK works once on a TLS queue, then not. */
static void tls_quirk(void)
{
    GByteArray *b = start(FUZZ_SC_RAW);
    FuzzTplSession s = {
        .a = PSK_A(FUZZ_PSK_HOST1, FUZZ_TLS_SUB_AUTH),
        .b = FUZZ_TLS_LVL_CLEAR | FUZZ_TLS_B_ENABLE,
    };

    fuzz_tpl_tls_hostpsk(b, 0x10 | 1 | 0 << 1); /* quirk; HOSTNQN's PSK */
    fuzz_tpl_tls_simple(b, FUZZ_PSK_HOST1, FUZZ_TLS_SUB_AUTH,
                        FUZZ_TLS_LVL_ENABLE);
    fuzz_tpl_tls_concat(b, 1, 1);           /* REPLACETLSPSK: works */
    fuzz_tpl_tls_concat(b, 1, 2);           /* the key is gone: refused */
    fuzz_tpl_tls_simple(b, FUZZ_PSK_GEN, FUZZ_TLS_SUB_AUTH,
                        FUZZ_TLS_LVL_CONNECT);
    fuzz_tpl_tls_session(b, &s);            /* cleartext, not authenticated */
    fuzz_tpl_identify(b, NVME_ID_CNS_CTRL, 0);
    save("tls-quirk", b);
}

/* PSKs and identities the engine must refuse. */
static void tls_refusals(void)
{
    static const char bad_id[] = "NVMe1R01 nqn.x nqn.y Zm9v";
    GByteArray *b = start(FUZZ_SC_RAW | FUZZ_CFG_TRACE);
    FuzzTplSession s = {
        .a = PSK_A(FUZZ_PSK_RAW, FUZZ_TLS_SUB_PLAIN),
        .b = FUZZ_TLS_LVL_HANDSHAKE,
        .identity = (const uint8_t *)bad_id,
        .id_len = sizeof(bad_id) - 1,
    };

    fuzz_tpl_tls_simple(b, FUZZ_PSK_WRONG_KEY, FUZZ_TLS_SUB_PLAIN,
                        FUZZ_TLS_LVL_HANDSHAKE);
    fuzz_tpl_tls_simple(b, FUZZ_PSK_HOST2, FUZZ_TLS_SUB_PLAIN,
                        FUZZ_TLS_LVL_HANDSHAKE);
    fuzz_tpl_tls_simple(b, FUZZ_PSK_HOST3_OTHER, FUZZ_TLS_SUB_AUTH,
                        FUZZ_TLS_LVL_HANDSHAKE);
    fuzz_tpl_tls_simple(b, FUZZ_PSK_HOST3, FUZZ_TLS_SUB_DISC_ID,
                        FUZZ_TLS_LVL_HANDSHAKE);
    fuzz_tpl_tls_session(b, &s);
    s.a = PSK_A(FUZZ_PSK_HOST3, FUZZ_TLS_SUB_PLAIN) | FUZZ_TLS_A_OPTS;
    s.opts = FUZZ_TLS_O_CHACHA;             /* no common cipher suite */
    fuzz_tpl_tls_session(b, &s);
    fuzz_tpl_tls_hostpsk(b, 6 << 1 | 0x20); /* malformed: refused */
    fuzz_tpl_tls_hostpsk(b, 4 << 1);        /* HOSTNQN3: no PSK */
    fuzz_tpl_tls_simple(b, FUZZ_PSK_HOST3, FUZZ_TLS_SUB_AUTH,
                        FUZZ_TLS_LVL_HANDSHAKE);
    fuzz_tpl_tls_hostpsk(b, 2 << 1);        /* HOSTNQN3: PSK without HKDF */
    fuzz_tpl_conn(b, 9, 0);                 /* plain: no more any host */
    fuzz_tpl_tls_simple(b, FUZZ_PSK_HOST3, FUZZ_TLS_SUB_PLAIN,
                        FUZZ_TLS_LVL_HANDSHAKE);
    fuzz_tpl_tls_simple(b, FUZZ_PSK_HOST3, FUZZ_TLS_SUB_AUTH,
                        FUZZ_TLS_LVL_ICREQ);
    /* Connect as HOSTNQN, not the host the PSK names */
    fuzz_tpl_op(b, FUZZ_OP_FABRICS, (const uint8_t[]){ 0, 0x05 }, 2);
    save("tls-refusals", b);
}

/* Raw bytes into connections on the TLS ports, no client session. */
static void tls_raw(void)
{
    static const uint8_t trunc[] = { 0x16, 0x03, 0x01, 0x00, 0x40, 0x01, 0x00,
                                     0x00, 0x3c, 0x03, 0x03 };
    static const uint8_t huge[] = { 0x16, 0x03, 0x03, 0xff, 0xff, 0x01 };
    static const uint8_t appdata[] = { 0x17, 0x03, 0x03, 0x00, 0x01, 0x00 };
    static const uint8_t body[] = { 0x03, 0x03, 0xaa, 0xbb, 0xcc, 0xdd };
    GByteArray *b = start(FUZZ_SC_RAW | FUZZ_CFG_TRACE);
    FuzzTplSession s = { .a = FUZZ_TLS_A_REQUIRED, .b = FUZZ_TLS_LVL_NONE };

    fuzz_tpl_tls_simple(b, 0, 0, FUZZ_TLS_LVL_NONE);
    fuzz_tpl_tls_record(b, 0x40, 0, body, sizeof(body));    /* ClientHello? */
    fuzz_tpl_tls_simple(b, 0, 0, FUZZ_TLS_LVL_NONE);
    fuzz_tpl_raw(b, trunc, sizeof(trunc), 0);                /* truncated */
    fuzz_tpl_clock(b, 0xe6);
    fuzz_tpl_raw(b, trunc, sizeof(trunc), 2);
    fuzz_tpl_tls_simple(b, 0, 0, FUZZ_TLS_LVL_NONE);
    fuzz_tpl_raw(b, huge, sizeof(huge), 0);                  /* too long */
    fuzz_tpl_tls_simple(b, 0, 0, FUZZ_TLS_LVL_NONE);
    fuzz_tpl_raw(b, appdata, sizeof(appdata), 0);            /* data first */
    fuzz_tpl_tls_session(b, &s);
    fuzz_tpl_raw(b, appdata, sizeof(appdata), 0);            /* required */
    fuzz_tpl_tls_session(b, &s);
    fuzz_tpl_raw_icreq(b, false, false);                     /* cleartext */
    fuzz_tpl_tls_simple(b, 0, 0, FUZZ_TLS_LVL_NONE);
    fuzz_tpl_raw_icreq(b, true, true);      /* cleartext where allowed */
    fuzz_tpl_raw_connect(b, 0, 0xffff, FUZZ_SUBNQN, FUZZ_HOSTNQN2);
    save("tls-raw", b);
}

/* A ClientHello, then garbage or an alert; a ClientHello in pieces, then
 * PDUs through the session. */
static void tls_hello(void)
{
    static const uint8_t junk[] = { 0x17, 0x03, 0x03, 0x00, 0x08, 1, 2, 3, 4,
                                    5, 6, 7, 8 };
    static const uint8_t fin[] = { 20, 0, 0, 4, 0, 0, 0, 0 };   /* Finished */
    GByteArray *b = start(FUZZ_SC_RAW);
    FuzzTplSession s = {
        .a = PSK_A(FUZZ_PSK_HOST3, FUZZ_TLS_SUB_PLAIN) | FUZZ_TLS_A_OPTS,
        .b = FUZZ_TLS_LVL_HELLO,
        .opts = FUZZ_TLS_O_MANGLE(FUZZ_MG_TRUNC),
        .mg_at = 0,
        .mg_arg = 100,
    };

    fuzz_tpl_tls_simple(b, FUZZ_PSK_HOST3, FUZZ_TLS_SUB_PLAIN,
                        FUZZ_TLS_LVL_HELLO);
    fuzz_tpl_raw(b, junk, sizeof(junk), 0);
    fuzz_tpl_tls_simple(b, FUZZ_PSK_HOST3, FUZZ_TLS_SUB_AUTH,
                        FUZZ_TLS_LVL_HELLO);
    fuzz_tpl_tls_record(b, 0x00, 0, fin, sizeof(fin));
    fuzz_tpl_tls_simple(b, FUZZ_PSK_HOST3, FUZZ_TLS_SUB_AUTH,
                        FUZZ_TLS_LVL_HELLO);
    fuzz_tpl_tls_record(b, 0x02, 0, (const uint8_t[]){ 2, 40 }, 2); /* alert */
    fuzz_tpl_tls_session(b, &s);            /* 100 bytes of the ClientHello */
    fuzz_tpl_clock(b, 0x3f);
    fuzz_tpl_tls_release(b, 3);             /* the rest, 3 bytes at a time */
    fuzz_tpl_tls(b, FUZZ_TLS_CONTINUE, NULL, 0);
    raw_admin_pdus(b, FUZZ_HOSTNQN3);       /* encrypted */
    save("tls-hello", b);
}

/* Records of an established session corrupted, cut, reordered. */
static void tls_mangle(void)
{
    GByteArray *b = start(FUZZ_SC_RAW);
    static const struct {
        uint8_t kind, at, arg2;
        uint16_t arg;
        bool release;
    } m[] = {
        { FUZZ_MG_FLIP, 0, 3, 30 },
        { FUZZ_MG_TRUNC, 0, 0, 40, true },
        { FUZZ_MG_SWAP, 0, 0, 0 },
        { FUZZ_MG_DUP, 0, 0, 0 },
        { FUZZ_MG_DROP, 0, 0, 0 },
        { FUZZ_MG_TYPE, 0, 2, 0 },
        { FUZZ_MG_LEN, 1, 0, 0xffff },
    };

    for (unsigned i = 0; i < G_N_ELEMENTS(m); i++) {
        fuzz_tpl_tls_simple(b, FUZZ_PSK_HOST3, FUZZ_TLS_SUB_PLAIN,
                            FUZZ_TLS_LVL_ENABLE);
        fuzz_tpl_tls_mangle(b, m[i].kind, m[i].at, m[i].arg, m[i].arg2);
        fuzz_tpl_identify(b, NVME_ID_CNS_CTRL, 0);
        fuzz_tpl_identify(b, NVME_ID_CNS_NS, 1);
        if (m[i].release) {
            fuzz_tpl_clock(b, 0x3f);
            fuzz_tpl_tls_release(b, 7);
            fuzz_tpl_identify(b, NVME_ID_CNS_NS, 1);
        }
    }
    save("tls-mangle", b);
}

/* Alerts, close_notify, key updates from the host. */
static void tls_alerts(void)
{
    GByteArray *b = start(FUZZ_SC_RAW | FUZZ_CFG_TRACE);

    fuzz_tpl_tls_simple(b, FUZZ_PSK_HOST3, FUZZ_TLS_SUB_PLAIN,
                        FUZZ_TLS_LVL_ENABLE);
    fuzz_tpl_tls_ctl(b, FUZZ_CTL_WARNING_ALERT, 90);    /* user_canceled */
    fuzz_tpl_identify(b, NVME_ID_CNS_CTRL, 0);
    fuzz_tpl_tls_ctl(b, FUZZ_CTL_FATAL_ALERT, 40);      /* handshake_failure */
    fuzz_tpl_tls_simple(b, FUZZ_PSK_HOST3, FUZZ_TLS_SUB_PLAIN,
                        FUZZ_TLS_LVL_ENABLE);
    fuzz_tpl_tls_ctl(b, FUZZ_CTL_BYE, 0);
    fuzz_tpl_identify(b, NVME_ID_CNS_CTRL, 0);
    fuzz_tpl_tls_simple(b, FUZZ_PSK_HOST3, FUZZ_TLS_SUB_PLAIN,
                        FUZZ_TLS_LVL_IO);
    for (unsigned i = 0; i < 3; i++) {
        fuzz_tpl_tls_ctl(b, i ? FUZZ_CTL_KEY_UPDATE_TWICE :
                         FUZZ_CTL_KEY_UPDATE, 0);
        fuzz_tpl_rw(b, 0x01, 1, i, 3);
        fuzz_tpl_rw(b, 0x00, 0, i, 3);
    }
    fuzz_tpl_tls_ctl(b, FUZZ_CTL_KEY_UPDATE_PEER, 0);   /* the 6th, last */
    fuzz_tpl_rw(b, 0x00, 0, 0, 0);
    save("tls-alerts", b);
}

/* when byte of FUZZ_OP_FAULT: NVMET_FAULT_* and a count */
#define WHEN(kind, n) ((kind) | (n) << 2)

/* Faults at PDUs and commands of an I/O session with digests. */
static void faults_session(void)
{
    GByteArray *b = start(FUZZ_SC_IO | FUZZ_CFG_HDGST | FUZZ_CFG_DDGST |
                          FUZZ_CFG_TRACE);
    static const uint8_t read_op[4] = { 3, 0, 0, NVME_CMD_READ };
    static const uint8_t ms100[4] = { 5, 0, 0, 0 };

    fuzz_tpl_fault(b, 0, NVMET_FP_PDU_C2H_DATA, NVMET_FA_CORRUPT_DDGST,
                   WHEN(NVMET_FAULT_NEXT, 1), 0, read_op);
    fuzz_tpl_rw(b, 0x00, 0, 0, 7);          /* read: spoiled data digest */
    fuzz_tpl_fault(b, 0, NVMET_FP_PDU_CAPSULE_RESP, NVMET_FA_CORRUPT_HDGST,
                   WHEN(NVMET_FAULT_NTH, 2), 0, read_op);
    fuzz_tpl_rw(b, 0x01, 1, 0, 7);
    fuzz_tpl_rw(b, 0x01, 1, 8, 7);          /* spoiled header digest */
    fuzz_tpl_fault(b, 0, NVMET_FP_IO_CMD, NVMET_FA_DELAY,
                   WHEN(NVMET_FAULT_NEXT, 2), FUZZ_FLT_IO, ms100);
    fuzz_tpl_rw(b, 0x00, 0, 0, 7);
    fuzz_tpl_rw(b, 0x00, 0, 8, 7);
    fuzz_tpl_clock(b, 0x44);                /* 128 ms: both complete */
    fuzz_tpl_fault(b, 0, NVMET_FP_PDU_R2T, NVMET_FA_WITHHOLD_R2T,
                   WHEN(NVMET_FAULT_NEXT, 1), 0, read_op);
    fuzz_tpl_rw(b, 0x11, 0, 1, 1);          /* write via R2T: no R2T */
    fuzz_tpl_fault(b, 0, NVMET_FP_IO_CMD, NVMET_FA_STATUS,
                   WHEN(NVMET_FAULT_PROBABILITY, 31),
                   FUZZ_FLT_IO | FUZZ_FLT_OPCODE, read_op);
    for (int i = 0; i < 6; i++) {
        fuzz_tpl_rw(b, 0x00, 0, i, 0);
    }
    fuzz_tpl_fault(b, 0x81, 0, 0, 0, 0, read_op);   /* delete fault 1 */
    fuzz_tpl_fault(b, 0, NVMET_FP_KEEP_ALIVE, NVMET_FA_IGNORE_KEEP_ALIVE,
                   WHEN(NVMET_FAULT_EVERY, 0), 0, read_op);
    fuzz_tpl_fault(b, 0, NVMET_FP_IO_CMD, NVMET_FA_C2H_TERM,
                   WHEN(NVMET_FAULT_NTH, 2), 0, read_op);
    fuzz_tpl_rw(b, 0x00, 0, 0, 0);
    fuzz_tpl_rw(b, 0x00, 0, 0, 0);          /* C2HTermReq fes 3 */
    fuzz_tpl_conn(b, 2, 0);                 /* the admin queue */
    fuzz_tpl_fault(b, 0, NVMET_FP_ADMIN_CMD, NVMET_FA_AEN,
                   WHEN(NVMET_FAULT_NEXT, 1), 0, read_op);
    fuzz_tpl_admin(b, 4);                   /* AER */
    fuzz_tpl_admin(b, 5);                   /* keep alive: AEN, ignored */
    fuzz_tpl_clock(b, 0xe2);                /* past KATO */
    save("faults-session", b);
}

/* Faults at TLS and concatenation steps. */
static void tls_faults(void)
{
    GByteArray *b = start(FUZZ_SC_RAW | FUZZ_CFG_TRACE);
    FuzzTplSession s = {
        .a = PSK_A(FUZZ_PSK_HOST1, FUZZ_TLS_SUB_AUTH),
        .b = FUZZ_TLS_LVL_CLEAR,
    };
    static const uint8_t alert[4] = { 49, 0, 0, 0 };

    fuzz_tpl_fault(b, 0, NVMET_FP_TLS_IDENTITY, NVMET_FA_TLS_ALERT,
                   WHEN(NVMET_FAULT_NEXT, 1), 0, alert);
    fuzz_tpl_tls_simple(b, FUZZ_PSK_HOST3, FUZZ_TLS_SUB_AUTH,
                        FUZZ_TLS_LVL_ENABLE);   /* access_denied */
    fuzz_tpl_tls_simple(b, FUZZ_PSK_HOST3, FUZZ_TLS_SUB_AUTH,
                        FUZZ_TLS_LVL_ENABLE);   /* works */
    fuzz_tpl_fault(b, 0, NVMET_FP_TLS_RECORD, NVMET_FA_TLS_ALERT,
                   WHEN(NVMET_FAULT_NEXT, 1), 0, alert);
    fuzz_tpl_identify(b, NVME_ID_CNS_CTRL, 0);  /* alert at its record */
    fuzz_tpl_tls_session(b, &s);
    fuzz_tpl_fault(b, 0, NVMET_FP_PSK_GENERATE, NVMET_FA_FORGET_PSK,
                   WHEN(NVMET_FAULT_NEXT, 1), 0, alert);
    fuzz_tpl_tls_concat(b, 0, 1);           /* NEWTLSPSK, forgotten */
    fuzz_tpl_tls_simple(b, FUZZ_PSK_GEN, FUZZ_TLS_SUB_AUTH,
                        FUZZ_TLS_LVL_HANDSHAKE);
    fuzz_tpl_tls_session(b, &s);
    fuzz_tpl_tls_concat(b, 0, 2);           /* NEWTLSPSK */
    fuzz_tpl_tls_simple(b, FUZZ_PSK_GEN, FUZZ_TLS_SUB_AUTH,
                        FUZZ_TLS_LVL_ENABLE);
    fuzz_tpl_fault(b, 0, NVMET_FP_AUTH_NEGOTIATE, NVMET_FA_REFUSE_REPLACE,
                   WHEN(NVMET_FAULT_NEXT, 1), 0, alert);
    fuzz_tpl_tls_concat(b, 1, 3);           /* REPLACETLSPSK: refused */
    save("tls-faults", b);

    /* the seed bug as a fault: the second REPLACETLSPSK is refused */
    b = start(FUZZ_SC_RAW | FUZZ_CFG_TRACE);
    fuzz_tpl_tls_session(b, &s);
    fuzz_tpl_tls_concat(b, 0, 1);           /* NEWTLSPSK */
    fuzz_tpl_tls_simple(b, FUZZ_PSK_GEN, FUZZ_TLS_SUB_AUTH,
                        FUZZ_TLS_LVL_ENABLE);
    fuzz_tpl_fault(b, 0, NVMET_FP_AUTH_SUCCESS, NVMET_FA_FORGET_TLS_KEY,
                   WHEN(NVMET_FAULT_NEXT, 1), 0, alert);
    fuzz_tpl_tls_concat(b, 1, 2);           /* works, key forgotten */
    fuzz_tpl_tls_concat(b, 1, 3);           /* refused */
    save("tls-faults-key", b);
}

/*
 * PDU headers that the harness's framing never produces, each on the admin
 * queue of an enabled controller (the engine ends the connection with a
 * C2HTermReq, or closes it for the host's own H2CTermReq): H2CData without
 * data, a data offset with no data behind it, an over-long H2CTermReq, and
 * a well-formed one.
 */
static void tcp_bad_header(const char *name, uint8_t type, uint8_t pdo,
                           uint32_t plen, size_t send)
{
    GByteArray *b = start(FUZZ_SC_ADMIN | FUZZ_CFG_TRACE);
    uint8_t p[64] = { type };

    p[NVME_TCP_CH_HLEN] = type == NVME_TCP_PDU_H2C_TERM ? NVME_TCP_TERM_HLEN :
                                                          NVME_TCP_DATA_HLEN;
    p[NVME_TCP_CH_PDO] = pdo;
    nvmet_st32(p + NVME_TCP_CH_PLEN, plen);
    if (type == NVME_TCP_PDU_H2C_TERM) {
        nvmet_st16(p + NVME_TCP_TERM_FES, NVME_TCP_FES_PDU_SEQ_ERR);
    }
    fuzz_tpl_raw(b, p, send, 0);
    save(name, b);
}

static void tcp_bad_headers(void)
{
    tcp_bad_header("tcp-h2cdata-no-data", NVME_TCP_PDU_H2C_DATA, 0,
                   NVME_TCP_DATA_HLEN, NVME_TCP_DATA_HLEN);
    tcp_bad_header("tcp-data-offset-no-data", NVME_TCP_PDU_H2C_DATA,
                   NVME_TCP_DATA_HLEN + 4, NVME_TCP_DATA_HLEN + 4,
                   NVME_TCP_DATA_HLEN + 4);
    tcp_bad_header("tcp-h2cterm-too-long", NVME_TCP_PDU_H2C_TERM, 0,
                   NVME_TCP_TERM_HLEN + NVME_TCP_TERM_MAX_ERR_HDR + 4,
                   NVME_TCP_TERM_HLEN);
    tcp_bad_header("tcp-h2cterm", NVME_TCP_PDU_H2C_TERM, 0,
                   NVME_TCP_TERM_HLEN, NVME_TCP_TERM_HLEN);
}

/*
 * Commands the structured operations never produce, as FUZZ_OP_SQE on the
 * admin queue of an enabled controller: the active namespace list from
 * NSID FFFFFFFEh, Set Features Host Identifier (fixed by Connect on
 * fabrics) and Host Behavior Support without its data; then a controller
 * reset (CC.EN 1 -> 0) as a raw Property Set, and a capsule with the data
 * digest flag on a connection that did not negotiate digests.
 */
static void admin_sqe(GByteArray *b, uint8_t ctl, uint8_t opc, uint32_t nsid,
                      uint32_t cdw10, uint32_t sgl_len)
{
    uint8_t a[1 + 64] = { ctl };

    a[1 + NVME_SQE_OPC] = opc;
    nvmet_st32(a + 1 + NVME_SQE_NSID, nsid);
    nvmet_st32(a + 1 + NVME_SQE_DPTR + NVME_SGL_LEN, sgl_len);
    nvmet_st32(a + 1 + NVME_SQE_CDW10, cdw10);
    fuzz_tpl_op(b, FUZZ_OP_SQE, a, sizeof(a));
}

/*
 * Log pages and features the long runs missed: the firmware slot and the
 * commands supported and effects logs; Get Features of the temperature
 * threshold, number of queues, asynchronous event configuration and host
 * behavior (current and default), of the host identifier's capabilities;
 * Set Features keep alive timer and host behavior (with its 512 bytes).
 */
static void admin_logs_features(void)
{
    static const uint8_t fids[] = {
        NVME_FEAT_TEMP_THRESH, NVME_FEAT_NUM_QUEUES, NVME_FEAT_ASYNC_EVENT,
        NVME_FEAT_HOST_BEHAVIOR,
    };
    GByteArray *b = start(FUZZ_SC_ADMIN | FUZZ_CFG_TRACE);
    uint8_t a[1 + 64 + 2 + 512] = { 4 };    /* ctl 4: in-capsule data */

    /* NUMDL 1023: 4 KiB */
    admin_sqe(b, 8, NVME_ADM_GET_LOG_PAGE, 0xffffffff,
              NVME_LOG_FW_SLOT | 1023u << 16, 4096);
    admin_sqe(b, 8, NVME_ADM_GET_LOG_PAGE, 0,
              NVME_LOG_CMD_EFFECTS | 1023u << 16, 4096);
    for (unsigned i = 0; i < G_N_ELEMENTS(fids); i++) {
        for (uint32_t sel = 0; sel < 2; sel++) {
            admin_sqe(b, 8, NVME_ADM_GET_FEATURES, 0, fids[i] | sel << 8,
                      512);
        }
    }
    admin_sqe(b, 0, NVME_ADM_GET_FEATURES, 0, NVME_FEAT_HOST_ID | 3u << 8, 0);
    /* KATO 5 s (CDW11 follows CDW10 in the SQE) */
    a[0] = 0;
    a[1 + NVME_SQE_OPC] = NVME_ADM_SET_FEATURES;
    nvmet_st32(a + 1 + NVME_SQE_CDW10, NVME_FEAT_KATO);
    nvmet_st32(a + 1 + NVME_SQE_CDW11, 5000);
    fuzz_tpl_op(b, FUZZ_OP_SQE, a, 1 + 64);
    /* host behavior: 512 bytes in the capsule, byte 0 (ACRE) set */
    memset(a, 0, sizeof(a));
    a[0] = 4;
    a[1 + NVME_SQE_OPC] = NVME_ADM_SET_FEATURES;
    nvmet_st32(a + 1 + NVME_SQE_CDW10, NVME_FEAT_HOST_BEHAVIOR);
    nvmet_st16(a + 1 + 64, 512);
    a[1 + 64 + 2] = 1;
    fuzz_tpl_op(b, FUZZ_OP_SQE, a, sizeof(a));
    admin_sqe(b, 8, NVME_ADM_GET_FEATURES, 0, NVME_FEAT_HOST_BEHAVIOR, 512);
    save("admin-logs-features", b);
}

static void admin_odd_commands(void)
{
    GByteArray *b = start(FUZZ_SC_ADMIN | FUZZ_CFG_TRACE);
    uint8_t p[NVME_TCP_CMD_HLEN + 8] = { NVME_TCP_PDU_CMD, NVME_TCP_F_DDGST };

    /* ctl 8: transport SGL, the length from the SQE */
    admin_sqe(b, 8, NVME_ADM_IDENTIFY, 0xfffffffe, NVME_ID_CNS_NS_ACTIVE_LIST,
              4096);
    admin_sqe(b, 0, NVME_ADM_SET_FEATURES, 0, NVME_FEAT_HOST_ID, 0);
    admin_sqe(b, 0, NVME_ADM_SET_FEATURES, 0, NVME_FEAT_HOST_BEHAVIOR, 0);
    save("admin-odd-commands", b);

    b = start(FUZZ_SC_ADMIN | FUZZ_CFG_TRACE);
    fuzz_tpl_raw_prop_set(b, 100, NVME_REG_CC, 0);
    fuzz_tpl_raw_identify(b, 101, NVME_ID_CNS_CTRL, 0);
    save("admin-cc-reset", b);

    b = start(FUZZ_SC_ADMIN | FUZZ_CFG_TRACE);
    p[NVME_TCP_CH_HLEN] = NVME_TCP_CMD_HLEN;
    p[NVME_TCP_CH_PDO] = NVME_TCP_CMD_HLEN;
    nvmet_st32(p + NVME_TCP_CH_PLEN, sizeof(p));
    fuzz_tpl_raw(b, p, sizeof(p), 0);
    save("tcp-ddgst-not-negotiated", b);
}

/*
 * An admin Connect as FUZZ_OP_SQE after the test host's ICReq: @dlen bytes
 * of connect data in the capsule, or (@dlen 0) a transport SGL of 1024
 * bytes, which the target asks for with an R2T.
 */
static void sqe_connect(GByteArray *b, size_t dlen)
{
    uint8_t a[1 + 64 + 2 + NVME_CONNECT_DATA_LEN] = { dlen ? 4 : 8 };
    uint8_t *sqe = a + 1, *data = a + 1 + 64 + 2;

    sqe[NVME_SQE_OPC] = NVME_FABRICS_COMMAND;
    sqe[NVME_SQE_FCTYPE] = NVME_FCTYPE_CONNECT;
    nvmet_st32(sqe + NVME_SQE_DPTR + NVME_SGL_LEN, NVME_CONNECT_DATA_LEN);
    nvmet_st16(sqe + NVME_CONNECT_SQSIZE, 31);
    nvmet_st32(sqe + NVME_CONNECT_KATO, 5000);
    if (!dlen) {
        fuzz_tpl_op(b, FUZZ_OP_SQE, a, 1 + 64);
        return;
    }
    nvmet_st16(a + 1 + 64, dlen);
    memset(data, 0x5a, 16);
    nvmet_st16(data + NVME_CONNECT_DATA_CNTLID, 0xffff);
    strcpy((char *)data + NVME_CONNECT_DATA_SUBNQN, FUZZ_SUBNQN);
    strcpy((char *)data + NVME_CONNECT_DATA_HOSTNQN, FUZZ_HOSTNQN2);
    fuzz_tpl_op(b, FUZZ_OP_SQE, a, 1 + 64 + 2 + dlen);
}

/*
 * Connects the target refuses before looking at the data: 512 bytes of
 * connect data; a Connect while another one still waits for its data.
 */
static void fabrics_connect_refusals(void)
{
    GByteArray *b = start(FUZZ_SC_ICREQ | FUZZ_CFG_TRACE);

    sqe_connect(b, 512);
    save("fabrics-connect-short-data", b);

    b = start(FUZZ_SC_ICREQ | FUZZ_CFG_TRACE);
    sqe_connect(b, 0);
    sqe_connect(b, NVME_CONNECT_DATA_LEN);
    save("fabrics-connect-outstanding", b);
}

/*
 * On the I/O queue: a Write Zeroes that carries data (refused), and a
 * Dataset Management deallocate whose only range is empty (nothing to do).
 */
static void io_odd_commands(void)
{
    GByteArray *b = start(FUZZ_SC_IO | FUZZ_CFG_TRACE);
    uint8_t a[1 + 64 + 2 + 512] = { 4 };    /* ctl 4: in-capsule data */
    uint8_t *sqe = a + 1;

    sqe[NVME_SQE_OPC] = NVME_CMD_WRITE_ZEROES;
    nvmet_st32(sqe + NVME_SQE_NSID, 1);
    nvmet_st16(a + 1 + 64, 512);
    fuzz_tpl_op(b, FUZZ_OP_SQE, a, sizeof(a));

    memset(a, 0, sizeof(a));
    a[0] = 4;
    sqe[NVME_SQE_OPC] = NVME_CMD_DSM;
    nvmet_st32(sqe + NVME_SQE_NSID, 1);
    nvmet_st32(sqe + NVME_SQE_CDW11, NVME_DSMGMT_AD);   /* one range */
    nvmet_st16(a + 1 + 64, NVME_DSM_RANGE_SIZE);
    fuzz_tpl_op(b, FUZZ_OP_SQE, a, 1 + 64 + 2 + NVME_DSM_RANGE_SIZE);
    save("io-odd-commands", b);
}

/*
 * DH-HMAC-CHAP Replies the target must refuse with FAILURE1 (incorrect
 * payload, DH group unusable), after a Negotiate and the Challenge, one
 * input each: shorter than its header; hash and DH value lengths beyond the
 * message; the wrong hash length; a DH value with the NULL group; a DH
 * value outside the group (p - 2, a quadratic non-residue, in range).
 * TID 0x0000 offers SHA-256 and the NULL group first, 0x0100 SHA-256 and
 * ffdhe2048 (see FUZZ_OP_FABRICS 5).
 */
static GByteArray *auth_until_challenge(uint16_t tid)
{
    GByteArray *b = start(FUZZ_SC_AUTH_PENDING | FUZZ_CFG_TRACE);

    fuzz_tpl_negotiate(b, tid, 0, 1);
    fuzz_tpl_auth_recv(b, 4096);
    return b;
}

/* OP_FABRICS 3: AUTH_Send of @len bytes of @msg as they are */
static void auth_send_raw(GByteArray *b, const uint8_t *msg, uint16_t len)
{
    uint8_t a[4] = { 3, 0, len, len >> 8 };

    fuzz_tpl_op(b, FUZZ_OP_FABRICS, a, sizeof(a));
    g_byte_array_append(b, msg, len);
}

/* OP_FABRICS 6: a Reply with consistent lengths, @dh bytes of DH value */
static void auth_reply(GByteArray *b, uint16_t tid, uint8_t hl_sel,
                       const uint8_t *dh, uint16_t dhlen)
{
    /* b: HL 32 + 16 * hl_sel, DHVLEN 256 or 0, SEQNUM 0 */
    uint8_t a[] = { 6, 0, hl_sel | (dhlen ? 0x08 : 0x10) | 0x20,
                    tid, tid >> 8, 0, 255 };
    uint8_t zero[255] = { 0 };
    size_t hl = 32 + 16 * hl_sel, n = MIN(255, 2 * hl + dhlen);
    g_autofree uint8_t *body = g_malloc0(2 * hl + dhlen);

    if (dhlen) {
        memcpy(body + 2 * hl, dh, dhlen);
    }
    fuzz_tpl_op(b, FUZZ_OP_FABRICS, a, sizeof(a));
    g_byte_array_append(b, dhlen ? body : zero, n);
}

static void auth_bad_replies(void)
{
    uint8_t msg[16 + 10] = { 0x01, 0x02 };      /* DH-HMAC-CHAP Reply */
    uint8_t pm2[256];
    GByteArray *b;

    nvmet_st16(msg + 4, 0);
    b = auth_until_challenge(0);
    auth_send_raw(b, msg, 8);
    save("auth-reply-short", b);

    b = auth_until_challenge(0);
    msg[6] = 32;                                /* HL, DHVLEN 0 */
    auth_send_raw(b, msg, sizeof(msg));
    save("auth-reply-lengths-exceed", b);

    b = auth_until_challenge(0);
    auth_reply(b, 0, 1, NULL, 0);               /* HL 48 for SHA-256 */
    save("auth-reply-hash-length", b);

    b = auth_until_challenge(0);
    memset(pm2, 0x11, sizeof(pm2));
    auth_reply(b, 0, 0, pm2, sizeof(pm2));      /* DH value, NULL group */
    save("auth-reply-dh-null-group", b);

    /* p - 2 = -2 mod p: in 1 < y < p - 1, not a quadratic residue */
    g_assert(gnutls_ffdhe_2048_group_prime.size == sizeof(pm2));
    memcpy(pm2, gnutls_ffdhe_2048_group_prime.data, sizeof(pm2));
    g_assert(pm2[255] == 0xff);
    pm2[255] -= 2;
    b = auth_until_challenge(0x0100);
    auth_reply(b, 0x0100, 0, pm2, sizeof(pm2));
    save("auth-reply-dh-outside-group", b);
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
    tls_session();
    tls_required();
    tls_concat(0, "tls-concat");            /* SHA-256 */
    tls_concat(1, "tls-concat-sha384");     /* SHA-384 */
    tls_quirk();
    tls_refusals();
    tls_raw();
    tls_hello();
    tls_mangle();
    tls_alerts();
    faults_session();
    tls_faults();
    tcp_bad_headers();
    admin_odd_commands();
    admin_logs_features();
    fabrics_connect_refusals();
    io_odd_commands();
    auth_bad_replies();
    return 0;
}
