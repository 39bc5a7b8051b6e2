/*
 * Replay of DH-HMAC-CHAP exchanges captured between the real Linux host (a
 * TCG guest running tests/guest/auth.sh) and the target, from
 * tests/vectors/dhchap-linux-replay.txt (scripts/capture-dhchap-vectors.sh).
 *
 * The engine gets the same configuration and seed as the captured target
 * and, connection by connection, the host's Connect and AUTH_Send payloads.
 * Every AUTH_Receive must return exactly what the Linux host received then.
 * That checks our computations against Linux's: each Success1 after a Reply
 * means the engine accepted a response the Linux host computed (R1 over
 * its DH value, its hash and its transformed key), and the controller
 * responses (R2) it returns are the ones the Linux host verified.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#include <string.h>
#include <stdlib.h>
#include "nvmet-test-util.h"

typedef struct ReplayHost {
    char *nqn;
    uint8_t hash, group;
    char *key, *ckey;
} ReplayHost;

typedef struct ReplayEvent {
    bool recv;
    uint32_t al;            /* recv */
    int status;             /* -1: not captured */
    uint32_t len;           /* recv: length of the data returned */
    GByteArray *data;
} ReplayEvent;

typedef struct ReplayConn {
    unsigned n;
    uint16_t qid, cntlid;
    uint8_t hostid[16];
    char *hostnqn;
    int connect_status;
    uint32_t connect_dw0;
    GPtrArray *events;
} ReplayConn;

typedef struct Replay {
    uint64_t seed;
    char *subnqn;
    GPtrArray *hosts;
    GPtrArray *conns;
} Replay;

static GByteArray *unhex(const char *s)
{
    GByteArray *b = g_byte_array_new();
    size_t n = strlen(s);

    if (g_str_equal(s, "-")) {
        return b;
    }
    g_assert_cmpuint(n % 2, ==, 0);
    for (size_t i = 0; i < n; i += 2) {
        char t[3] = { s[i], s[i + 1], 0 };
        uint8_t v = g_ascii_strtoull(t, NULL, 16);

        g_byte_array_append(b, &v, 1);
    }
    return b;
}

static uint8_t hash_id(const char *s)
{
    return g_str_equal(s, "sha256") ? 1 : g_str_equal(s, "sha384") ? 2 :
           g_str_equal(s, "sha512") ? 3 : 0;
}

static uint8_t group_id(const char *s)
{
    static const char *names[] = { "null", "ffdhe2048", "ffdhe3072",
                                   "ffdhe4096", "ffdhe6144", "ffdhe8192" };

    for (uint8_t i = 0; i < G_N_ELEMENTS(names); i++) {
        if (g_str_equal(s, names[i])) {
            return i;
        }
    }
    g_error("unknown group %s", s);
}

static int parse_status(const char *s)
{
    return g_str_equal(s, "-") ? -1 : (int)g_ascii_strtoll(s, NULL, 16);
}

static Replay *replay_load(void)
{
    g_autofree char *path = tv_path("dhchap-linux-replay.txt");
    g_autofree char *text = NULL;
    g_auto(GStrv) lines = NULL;
    GError *err = NULL;
    Replay *r = g_new0(Replay, 1);
    ReplayConn *c = NULL;

    g_assert_true(g_file_get_contents(path, &text, NULL, &err));
    r->hosts = g_ptr_array_new();
    r->conns = g_ptr_array_new();
    lines = g_strsplit(text, "\n", -1);
    for (char **l = lines; *l; l++) {
        g_auto(GStrv) w = g_strsplit(*l, " ", -1);
        guint nw = g_strv_length(w);

        if (!nw || !*w[0] || w[0][0] == '#') {
            continue;
        }
        if (g_str_equal(w[0], "seed")) {
            r->seed = g_ascii_strtoull(w[1], NULL, 10);
        } else if (g_str_equal(w[0], "subnqn")) {
            r->subnqn = g_strdup(w[1]);
        } else if (g_str_equal(w[0], "host") && nw == 10) {
            ReplayHost *h = g_new0(ReplayHost, 1);

            h->nqn = g_strdup(w[1]);
            h->hash = hash_id(w[3]);
            h->group = group_id(w[5]);
            h->key = g_strdup(w[7]);
            h->ckey = g_str_equal(w[9], "-") ? NULL : g_strdup(w[9]);
            g_ptr_array_add(r->hosts, h);
        } else if (g_str_equal(w[0], "conn") && nw == 10) {
            g_autoptr(GByteArray) id = unhex(w[7]);

            c = g_new0(ReplayConn, 1);
            c->n = atoi(w[1]);
            c->qid = atoi(w[3]);
            c->cntlid = g_ascii_strtoull(w[5], NULL, 16);
            g_assert_cmpuint(id->len, ==, 16);
            memcpy(c->hostid, id->data, 16);
            c->hostnqn = g_strdup(w[9]);
            c->connect_status = -1;
            c->events = g_ptr_array_new();
            g_ptr_array_add(r->conns, c);
        } else if (g_str_equal(w[0], "connect-status") && c) {
            c->connect_status = parse_status(w[1]);
            c->connect_dw0 = g_ascii_strtoull(w[3], NULL, 16);
        } else if (g_str_equal(w[0], "send") && c && nw == 3) {
            ReplayEvent *e = g_new0(ReplayEvent, 1);

            e->status = parse_status(w[1]);
            e->data = unhex(w[2]);
            g_ptr_array_add(c->events, e);
        } else if (g_str_equal(w[0], "recv") && c && nw == 5) {
            ReplayEvent *e = g_new0(ReplayEvent, 1);

            e->recv = true;
            e->al = atoi(w[1]);
            e->status = parse_status(w[2]);
            e->len = atoi(w[3]);
            e->data = unhex(w[4]);
            g_ptr_array_add(c->events, e);
        } else {
            g_error("%s: cannot parse: %s", path, *l);
        }
    }
    g_assert_nonnull(r->subnqn);
    g_assert_cmpuint(r->hosts->len, >, 0);
    g_assert_cmpuint(r->conns->len, >, 0);
    return r;
}

static void replay_free(Replay *r)
{
    for (unsigned i = 0; i < r->hosts->len; i++) {
        ReplayHost *h = g_ptr_array_index(r->hosts, i);

        g_free(h->nqn);
        g_free(h->key);
        g_free(h->ckey);
        g_free(h);
    }
    for (unsigned i = 0; i < r->conns->len; i++) {
        ReplayConn *c = g_ptr_array_index(r->conns, i);

        for (unsigned j = 0; j < c->events->len; j++) {
            ReplayEvent *e = g_ptr_array_index(c->events, j);

            g_byte_array_unref(e->data);
            g_free(e);
        }
        g_ptr_array_free(c->events, true);
        g_free(c->hostnqn);
        g_free(c);
    }
    g_ptr_array_free(r->hosts, true);
    g_ptr_array_free(r->conns, true);
    g_free(r->subnqn);
    g_free(r);
}

typedef struct ReplayStats {
    unsigned conns, sends, recvs, success1, failure1, failure2;
    unsigned compared_bytes;
} ReplayStats;

static void replay_run(Replay *r, ReplayStats *st)
{
    TestTarget *tt = tt_new();
    g_autoptr(GPtrArray) hosts = g_ptr_array_new();
    g_autoptr(GPtrArray) open = g_ptr_array_new();
    g_autoptr(GHashTable) cntlids = g_hash_table_new(NULL, NULL);
    NvmetSubsysConfig sc;
    NvmetSubsys *s;
    GError *err = NULL;
    uint8_t seed[8];
    RamDisk disk = { 0 };

    nvmet_subsys_config_init(&sc);
    sc.nqn = r->subnqn;
    sc.allow_any_host = false;
    s = nvmet_subsys_new(tt->t, &sc, &err);
    g_assert_no_error(err);
    nvmet_st64(seed, r->seed);
    nvmet_subsys_set_seed(s, seed, sizeof(seed));
    nvmet_port_add_subsys(tt->port, s);
    tt_add_ns(tt, s, 1, &disk, 1 << 20, 512);
    for (unsigned i = 0; i < r->hosts->len; i++) {
        ReplayHost *rh = g_ptr_array_index(r->hosts, i);
        NvmetHost *h = nvmet_host_new(tt->t, rh->nqn, &err);

        g_assert_no_error(err);
        g_assert_true(nvmet_host_set_dhchap_keys(h, rh->key, rh->ckey, &err));
        g_assert_no_error(err);
        nvmet_host_set_dhchap_allowed(h, 1u << rh->hash, 1u << rh->group);
        g_assert_true(nvmet_subsys_add_host(s, h, &err));
        g_ptr_array_add(hosts, h);
    }

    memset(st, 0, sizeof(*st));
    for (unsigned i = 0; i < r->conns->len; i++) {
        ReplayConn *c = g_ptr_array_index(r->conns, i);
        TestConn *tc = tc_new(tt);
        uint16_t cntlid = c->cntlid;
        bool authenticated = false;
        NvmfCqe cqe;

        g_test_message("connection %u: qid %u, %s", c->n, c->qid, c->hostnqn);
        st->conns++;
        g_ptr_array_add(open, tc);
        g_assert_cmpint(nvmf_host_icreq(tc->h, false, false, 0), ==, 0);
        if (c->qid) {
            gpointer v = g_hash_table_lookup(cntlids,
                                             GUINT_TO_POINTER(c->cntlid));

            g_assert_nonnull(v);
            cntlid = GPOINTER_TO_UINT(v);
        }
        g_assert_cmpint(nvmf_host_connect(tc->h, c->qid, 31, cntlid,
                                          r->subnqn, c->hostnqn, c->hostid,
                                          c->qid ? 0 : 120000, 0, &cqe), ==, 0);
        g_assert_cmphex(cqe.status, ==, c->connect_status);
        if (cqe.status) {
            continue;
        }
        /* AUTHREQ as captured; the controller ID maps to ours */
        g_assert_cmphex(cqe.dw0 >> 16, ==, c->connect_dw0 >> 16);
        if (!c->qid) {
            g_hash_table_insert(cntlids,
                                GUINT_TO_POINTER(c->connect_dw0 & 0xffff),
                                GUINT_TO_POINTER(cqe.dw0 & 0xffff));
            tc->cntlid = cqe.dw0 & 0xffff;
        }
        for (unsigned j = 0; j < c->events->len; j++) {
            ReplayEvent *e = g_ptr_array_index(c->events, j);

            if (!e->recv) {
                st->sends++;
                if (e->data->len > 1 && e->data->data[1] == 0xf0) {
                    authenticated = false;      /* the host's Failure2 */
                    st->failure2++;
                }
                g_assert_cmpint(nvmf_host_auth_send(tc->h, e->data->data,
                                                    e->data->len, &cqe),
                                ==, 0);
            } else {
                g_autofree uint8_t *buf = g_malloc0(e->al);
                g_autofree uint8_t *want = g_malloc0(e->len);

                st->recvs++;
                memcpy(want, e->data->data, e->data->len);
                g_assert_cmpint(nvmf_host_auth_recv(tc->h, buf, e->al, &cqe),
                                ==, 0);
                if (e->status >= 0) {
                    g_assert_cmphex(cqe.status, ==, e->status);
                }
                g_assert_cmpmem(buf, e->len, want, e->len);
                st->compared_bytes += e->len;
                if (e->len > 1 && want[1] == 0x03) {
                    st->success1++;
                    authenticated = true;
                } else if (e->len > 1 && want[1] == 0xf1) {
                    st->failure1++;
                    authenticated = false;
                }
                continue;
            }
            if (e->status >= 0) {
                g_assert_cmphex(cqe.status, ==, e->status);
            }
        }
        /* what the Linux host did next: enable, ask for I/O queues */
        if (!c->qid && authenticated) {
            g_assert_cmpint(nvmf_host_enable(tc->h), ==, 0);
            g_assert_cmpint(nvmf_host_set_features(tc->h, NVME_FEAT_NUM_QUEUES,
                                                   0x00ff00ff, &cqe), ==, 0);
        }
    }
    /* I/O queues first, then their admin queues */
    for (unsigned i = open->len; i-- > 0;) {
        tc_free(g_ptr_array_index(open, i));
    }
    for (unsigned i = 0; i < hosts->len; i++) {
        nvmet_host_free(g_ptr_array_index(hosts, i));
    }
    nvmet_subsys_free(s);
    tt_free(tt);
    g_free(disk.data);
}

static void test_replay(void)
{
    Replay *r = replay_load();
    ReplayStats st;

    replay_run(r, &st);
    g_test_message("%u connections, %u AUTH_Send, %u AUTH_Receive "
                   "(%u bytes compared), %u Success1, %u Failure1, "
                   "%u Failure2", st.conns, st.sends, st.recvs,
                   st.compared_bytes, st.success1, st.failure1, st.failure2);
    /* the capture has every combination, re-authentications and refusals */
    g_assert_cmpuint(st.success1, >=, 15);
    g_assert_cmpuint(st.failure1, >=, 1);
    g_assert_cmpuint(st.failure2, >=, 1);
    replay_free(r);
}

/* The replay must notice a single changed bit in what the host sent. */
static void test_replay_detects_change(void)
{
    Replay *r = replay_load();
    ReplayConn *c = g_ptr_array_index(r->conns, 0);
    ReplayEvent *reply = NULL;

    for (unsigned j = 0; j < c->events->len; j++) {
        ReplayEvent *e = g_ptr_array_index(c->events, j);

        if (!e->recv && e->data->len > 16 && e->data->data[1] == 0x02) {
            reply = e;
            break;
        }
    }
    g_assert_nonnull(reply);
    if (g_test_subprocess()) {
        ReplayStats st;

        reply->data->data[16] ^= 1;             /* first byte of R1 */
        replay_run(r, &st);
        return;
    }
    g_test_trap_subprocess(NULL, 0, 0);
    g_test_trap_assert_failed();
    replay_free(r);
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/nvmet/linux-replay/dhchap", test_replay);
    g_test_add_func("/nvmet/linux-replay/detects-change",
                    test_replay_detects_change);
    return g_test_run();
}
