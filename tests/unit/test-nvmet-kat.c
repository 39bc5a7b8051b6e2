/*
 * DH-HMAC-CHAP known-answer tests: the engine's key parsing, key
 * transformation, FFDHE arithmetic and response computations against
 * tests/vectors/dhchap-kat.txt, which scripts/dhchap-kat.py computes with
 * the Python standard library, independently of this code.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#include <string.h>
#include "nvmet-test-util.h"
#include "../../nvmet/engine/crypto.h"

static GPtrArray *records;

static NvmetDhchapKey *parse_ok(const char *secret)
{
    g_autoptr(GError) err = NULL;
    NvmetDhchapKey *key = nvmet_dhchap_key_parse(secret, &err);

    g_assert_no_error(err);
    g_assert_nonnull(key);
    return key;
}

/* ---- the tests ---------------------------------------------------------- */

static void test_parse(gconstpointer data)
{
    TestVec *rec = (TestVec *)data;
    g_autoptr(GError) err = NULL;
    NvmetDhchapKey *key = nvmet_dhchap_key_parse(tv_str(rec, "secret"), &err);

    if (!tv_num(rec, "valid")) {
        g_assert_null(key);
        g_assert_nonnull(err);
        return;
    }
    g_assert_no_error(err);
    g_assert_nonnull(key);
    g_assert_cmpuint(key->hmac, ==, tv_num(rec, "hmac"));
    tv_assert_hex(rec, "key", key->secret, key->len);
    nvmet_dhchap_key_free(key);
}

static void test_transform(gconstpointer data)
{
    TestVec *rec = (TestVec *)data;
    NvmetDhchapKey *key = parse_ok(tv_str(rec, "secret"));
    uint8_t out[NVMET_MAX_HASH_LEN];
    size_t len;

    tv_assert_hex(rec, "key", key->secret, key->len);
    len = nvmet_dhchap_transform(key, tv_str(rec, "nqn"), out);
    tv_assert_hex(rec, "transformed", out, len);
    nvmet_dhchap_key_free(key);
}

/* The DH half of an exchange: public values, shared secret, Ks. */
static void check_dh(TestVec *rec, uint8_t hid, uint8_t gid, uint8_t *ks)
{
    size_t dlen = nvmet_dh_len(gid), xlen, len;
    g_autofree uint8_t *xh = tv_hex_dup(rec, "host_priv", &xlen);
    g_autofree uint8_t *xc = tv_hex_dup(rec, "ctrl_priv", &len);
    g_autofree uint8_t *hpub = tv_hex_dup(rec, "host_pub", &len);
    g_autofree uint8_t *cpub = NULL;
    g_autofree uint8_t *shared = g_malloc(dlen);
    NvmetDh *dh_host, *dh_ctrl;
    NvmetBuf part = { shared, dlen };

    g_assert_cmpuint(len, ==, dlen);
    cpub = tv_hex_dup(rec, "ctrl_pub", &len);
    g_assert_cmpuint(len, ==, dlen);
    g_assert_cmpuint(xlen, ==, nvmet_dh_private_bytes(gid));

    dh_host = nvmet_dh_new(gid, xh, xlen);
    dh_ctrl = nvmet_dh_new(gid, xc, xlen);
    g_assert_nonnull(dh_host);
    g_assert_nonnull(dh_ctrl);
    g_assert_cmpmem(nvmet_dh_public(dh_host), dlen, hpub, dlen);
    g_assert_cmpmem(nvmet_dh_public(dh_ctrl), dlen, cpub, dlen);

    /* the controller's view (what auth.c computes) and the host's */
    g_assert_true(nvmet_dh_shared(dh_ctrl, hpub, dlen, shared));
    tv_assert_hex(rec, "shared", shared, dlen);
    memset(shared, 0xa5, dlen);
    g_assert_true(nvmet_dh_shared(dh_host, cpub, dlen, shared));
    tv_assert_hex(rec, "shared", shared, dlen);

    g_assert_true(nvmet_hash(hid, &part, 1, ks));
    tv_assert_hex(rec, "ks", ks, nvmet_hash_len(hid));
    nvmet_dh_free(dh_host);
    nvmet_dh_free(dh_ctrl);
}

static void test_exchange(gconstpointer data)
{
    TestVec *rec = (TestVec *)data;
    uint8_t hid = tv_num(rec, "hash");
    uint8_t gid = tv_num(rec, "group");
    uint8_t sc_c = tv_num(rec, "sc_c");
    uint16_t tid = tv_num(rec, "tid");
    uint32_t s1 = tv_num(rec, "s1"), s2 = tv_num(rec, "s2");
    const char *hostnqn = tv_str(rec, "hostnqn");
    const char *subnqn = tv_str(rec, "subnqn");
    size_t hl = nvmet_hash_len(hid), len, c1len, c2len;
    NvmetDhchapKey *hkey = parse_ok(tv_str(rec, "host_secret"));
    NvmetDhchapKey *ckey = parse_ok(tv_str(rec, "ctrl_secret"));
    g_autofree uint8_t *c1 = tv_hex_dup(rec, "c1", &c1len);
    g_autofree uint8_t *c2 = tv_hex_dup(rec, "c2", &c2len);
    uint8_t ks[NVMET_MAX_HASH_LEN], ca1[NVMET_MAX_HASH_LEN];
    uint8_t ca2[NVMET_MAX_HASH_LEN], out[NVMET_MAX_HASH_LEN];
    size_t ks_len = 0;

    g_assert_cmpuint(hl, !=, 0);
    g_assert_cmpuint(c1len, ==, hl);
    g_assert_cmpuint(c2len, ==, hl);

    /*
     * transformed keys: the host key with the host NQN, the controller key
     * with the subsystem NQN
     */
    len = nvmet_dhchap_transform(hkey, hostnqn, out);
    tv_assert_hex(rec, "kh", out, len);
    len = nvmet_dhchap_transform(ckey, subnqn, out);
    tv_assert_hex(rec, "kc", out, len);

    if (gid != NVMET_DH_NULL) {
        check_dh(rec, hid, gid, ks);
        ks_len = hl;
    } else {
        g_assert_null(g_hash_table_lookup(rec, "ks"));
    }

    nvmet_dhchap_augment(hid, ks, ks_len, c1, ca1);
    tv_assert_hex(rec, "ca1", ca1, hl);
    nvmet_dhchap_augment(hid, ks, ks_len, c2, ca2);
    tv_assert_hex(rec, "ca2", ca2, hl);

    g_assert_true(nvmet_dhchap_response(hid, hkey, false, ca1, s1, tid, sc_c,
                                        hostnqn, subnqn, out));
    tv_assert_hex(rec, "r1", out, hl);
    g_assert_true(nvmet_dhchap_response(hid, ckey, true, ca2, s2, tid, sc_c,
                                        hostnqn, subnqn, out));
    tv_assert_hex(rec, "r2", out, hl);

    nvmet_dhchap_key_free(hkey);
    nvmet_dhchap_key_free(ckey);
}

/* ---- registration ------------------------------------------------------- */

int main(int argc, char **argv)
{
    unsigned n_parse = 0, n_invalid = 0, n_transform = 0, n_exchange = 0;
    unsigned n_dh = 0, n_scc = 0;
    int ret;

    g_test_init(&argc, &argv, NULL);
    nvmet_crypto_init();
    records = tv_load("dhchap-kat.txt");

    for (guint i = 0; i < records->len; i++) {
        TestVec *rec = g_ptr_array_index(records, i);
        const char *type = tv_str(rec, "type");
        g_autofree char *path = NULL;

        if (g_str_equal(type, "parse")) {
            n_invalid += !tv_num(rec, "valid");
            path = g_strdup_printf("/nvmet/kat/parse/%u", n_parse++);
            g_test_add_data_func(path, rec, test_parse);
        } else if (g_str_equal(type, "transform")) {
            path = g_strdup_printf("/nvmet/kat/transform/%u", n_transform++);
            g_test_add_data_func(path, rec, test_transform);
        } else if (g_str_equal(type, "exchange")) {
            uint8_t gid = tv_num(rec, "group");

            n_dh += gid != NVMET_DH_NULL;
            n_scc += tv_num(rec, "sc_c") != 0;
            path = g_strdup_printf("/nvmet/kat/exchange/%s/%s/sc_c%lu/%u",
                                   nvmet_hash_name(tv_num(rec, "hash")),
                                   nvmet_dh_name(gid),
                                   tv_num(rec, "sc_c"), n_exchange++);
            g_test_add_data_func(path, rec, test_exchange);
        } else {
            g_error("unknown vector type '%s'", type);
        }
    }
    /* a truncated vector file must not pass quietly */
    g_assert_cmpuint(n_parse, >=, 9);
    g_assert_cmpuint(n_invalid, >=, 1);
    g_assert_cmpuint(n_transform, >=, 12);
    g_assert_cmpuint(n_exchange, >=, 36);
    g_assert_cmpuint(n_dh, >=, 30);
    g_assert_cmpuint(n_scc, >=, 18);

    ret = g_test_run();
    g_ptr_array_unref(records);
    return ret;
}
