/*
 * DH-HMAC-CHAP known-answer tests: the engine's key parsing, key
 * transformation, FFDHE arithmetic and response computations against
 * tests/vectors/dhchap-kat.txt, which scripts/dhchap-kat.py computes with
 * the Python standard library, independently of this code.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#include <string.h>
#include <glib.h>
#include "../../nvmet/engine/crypto.h"

typedef GHashTable KatRecord;

static GPtrArray *records;

/* ---- the vector file ---------------------------------------------------- */

/*
 * The vector file: under G_TEST_SRCDIR (set by meson test) or, when the
 * binary is run by hand, next to this source file, whose name the compiler
 * gives relative to the build directory two levels above the binary.
 */
static char *vector_path(const char *argv0)
{
    g_autofree char *srcdir = g_path_get_dirname(__FILE__);
    g_autofree char *exedir = NULL;
    g_autofree char *builddir = NULL;
    char *path = g_test_build_filename(G_TEST_DIST, "..", "vectors",
                                       "dhchap-kat.txt", NULL);

    if (g_file_test(path, G_FILE_TEST_EXISTS)) {
        return path;
    }
    g_free(path);
    if (g_path_is_absolute(srcdir)) {
        return g_build_filename(srcdir, "..", "vectors", "dhchap-kat.txt",
                                NULL);
    }
    exedir = g_path_get_dirname(argv0);
    builddir = g_canonicalize_filename(exedir, NULL);
    return g_build_filename(builddir, "..", "..", srcdir, "..", "vectors",
                            "dhchap-kat.txt", NULL);
}

static void load_vectors(const char *argv0)
{
    g_autofree char *path = vector_path(argv0);
    g_autoptr(GError) err = NULL;
    g_autofree char *text = NULL;
    g_auto(GStrv) lines = NULL;
    KatRecord *rec = NULL;

    if (!g_file_get_contents(path, &text, NULL, &err)) {
        g_error("%s", err->message);
    }
    records = g_ptr_array_new_with_free_func(
        (GDestroyNotify)g_hash_table_unref);
    lines = g_strsplit(text, "\n", -1);
    for (char **l = lines; *l; l++) {
        const char *eq;

        if (**l == '#') {
            continue;
        }
        if (**l == '\0') {
            rec = NULL;
            continue;
        }
        eq = strstr(*l, " = ");
        if (!eq) {
            g_error("%s: malformed line '%s'", path, *l);
        }
        if (!rec) {
            rec = g_hash_table_new_full(g_str_hash, g_str_equal, g_free,
                                        g_free);
            g_ptr_array_add(records, rec);
        }
        g_hash_table_insert(rec, g_strndup(*l, eq - *l), g_strdup(eq + 3));
    }
}

static const char *field(KatRecord *rec, const char *name)
{
    const char *v = g_hash_table_lookup(rec, name);

    if (!v) {
        g_error("vector record without '%s'", name);
    }
    return v;
}

static unsigned long field_num(KatRecord *rec, const char *name)
{
    g_autoptr(GError) err = NULL;
    guint64 v;

    if (!g_ascii_string_to_unsigned(field(rec, name), 10, 0, UINT32_MAX, &v,
                                    &err)) {
        g_error("vector field '%s': %s", name, err->message);
    }
    return v;
}

/* A hex field as bytes (freed by the caller); *len gets its length. */
static uint8_t *field_hex(KatRecord *rec, const char *name, size_t *len)
{
    const char *hex = field(rec, name);
    size_t n = strlen(hex);
    uint8_t *out;

    g_assert_cmpuint(n % 2, ==, 0);
    out = g_malloc(n / 2 + 1);
    for (size_t i = 0; i < n / 2; i++) {
        int hi = g_ascii_xdigit_value(hex[2 * i]);
        int lo = g_ascii_xdigit_value(hex[2 * i + 1]);

        g_assert_true(hi >= 0 && lo >= 0);
        out[i] = hi << 4 | lo;
    }
    *len = n / 2;
    return out;
}

static void assert_field_eq(KatRecord *rec, const char *name,
                            const uint8_t *got, size_t got_len)
{
    size_t len;
    g_autofree uint8_t *want = field_hex(rec, name, &len);

    g_assert_cmpmem(got, got_len, want, len);
}

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
    KatRecord *rec = (KatRecord *)data;
    g_autoptr(GError) err = NULL;
    NvmetDhchapKey *key = nvmet_dhchap_key_parse(field(rec, "secret"), &err);

    if (!field_num(rec, "valid")) {
        g_assert_null(key);
        g_assert_nonnull(err);
        return;
    }
    g_assert_no_error(err);
    g_assert_nonnull(key);
    g_assert_cmpuint(key->hmac, ==, field_num(rec, "hmac"));
    assert_field_eq(rec, "key", key->secret, key->len);
    nvmet_dhchap_key_free(key);
}

static void test_transform(gconstpointer data)
{
    KatRecord *rec = (KatRecord *)data;
    NvmetDhchapKey *key = parse_ok(field(rec, "secret"));
    uint8_t out[NVMET_MAX_HASH_LEN];
    size_t len;

    assert_field_eq(rec, "key", key->secret, key->len);
    len = nvmet_dhchap_transform(key, field(rec, "nqn"), out);
    assert_field_eq(rec, "transformed", out, len);
    nvmet_dhchap_key_free(key);
}

/* The DH half of an exchange: public values, shared secret, Ks. */
static void check_dh(KatRecord *rec, uint8_t hid, uint8_t gid, uint8_t *ks)
{
    size_t dlen = nvmet_dh_len(gid), xlen, len;
    g_autofree uint8_t *xh = field_hex(rec, "host_priv", &xlen);
    g_autofree uint8_t *xc = field_hex(rec, "ctrl_priv", &len);
    g_autofree uint8_t *hpub = field_hex(rec, "host_pub", &len);
    g_autofree uint8_t *cpub = NULL;
    g_autofree uint8_t *shared = g_malloc(dlen);
    NvmetDh *dh_host, *dh_ctrl;
    NvmetBuf part = { shared, dlen };

    g_assert_cmpuint(len, ==, dlen);
    cpub = field_hex(rec, "ctrl_pub", &len);
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
    assert_field_eq(rec, "shared", shared, dlen);
    memset(shared, 0xa5, dlen);
    g_assert_true(nvmet_dh_shared(dh_host, cpub, dlen, shared));
    assert_field_eq(rec, "shared", shared, dlen);

    g_assert_true(nvmet_hash(hid, &part, 1, ks));
    assert_field_eq(rec, "ks", ks, nvmet_hash_len(hid));
    nvmet_dh_free(dh_host);
    nvmet_dh_free(dh_ctrl);
}

static void test_exchange(gconstpointer data)
{
    KatRecord *rec = (KatRecord *)data;
    uint8_t hid = field_num(rec, "hash");
    uint8_t gid = field_num(rec, "group");
    uint8_t sc_c = field_num(rec, "sc_c");
    uint16_t tid = field_num(rec, "tid");
    uint32_t s1 = field_num(rec, "s1"), s2 = field_num(rec, "s2");
    const char *hostnqn = field(rec, "hostnqn");
    const char *subnqn = field(rec, "subnqn");
    size_t hl = nvmet_hash_len(hid), len, c1len, c2len;
    NvmetDhchapKey *hkey = parse_ok(field(rec, "host_secret"));
    NvmetDhchapKey *ckey = parse_ok(field(rec, "ctrl_secret"));
    g_autofree uint8_t *c1 = field_hex(rec, "c1", &c1len);
    g_autofree uint8_t *c2 = field_hex(rec, "c2", &c2len);
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
    assert_field_eq(rec, "kh", out, len);
    len = nvmet_dhchap_transform(ckey, subnqn, out);
    assert_field_eq(rec, "kc", out, len);

    if (gid != NVMET_DH_NULL) {
        check_dh(rec, hid, gid, ks);
        ks_len = hl;
    } else {
        g_assert_null(g_hash_table_lookup(rec, "ks"));
    }

    nvmet_dhchap_augment(hid, ks, ks_len, c1, ca1);
    assert_field_eq(rec, "ca1", ca1, hl);
    nvmet_dhchap_augment(hid, ks, ks_len, c2, ca2);
    assert_field_eq(rec, "ca2", ca2, hl);

    g_assert_true(nvmet_dhchap_response(hid, hkey, false, ca1, s1, tid, sc_c,
                                        hostnqn, subnqn, out));
    assert_field_eq(rec, "r1", out, hl);
    g_assert_true(nvmet_dhchap_response(hid, ckey, true, ca2, s2, tid, sc_c,
                                        hostnqn, subnqn, out));
    assert_field_eq(rec, "r2", out, hl);

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
    load_vectors(argv[0]);

    for (guint i = 0; i < records->len; i++) {
        KatRecord *rec = g_ptr_array_index(records, i);
        const char *type = field(rec, "type");
        g_autofree char *path = NULL;

        if (g_str_equal(type, "parse")) {
            n_invalid += !field_num(rec, "valid");
            path = g_strdup_printf("/nvmet/kat/parse/%u", n_parse++);
            g_test_add_data_func(path, rec, test_parse);
        } else if (g_str_equal(type, "transform")) {
            path = g_strdup_printf("/nvmet/kat/transform/%u", n_transform++);
            g_test_add_data_func(path, rec, test_transform);
        } else if (g_str_equal(type, "exchange")) {
            uint8_t gid = field_num(rec, "group");

            n_dh += gid != NVMET_DH_NULL;
            n_scc += field_num(rec, "sc_c") != 0;
            path = g_strdup_printf("/nvmet/kat/exchange/%s/%s/sc_c%lu/%u",
                                   nvmet_hash_name(field_num(rec, "hash")),
                                   nvmet_dh_name(gid),
                                   field_num(rec, "sc_c"), n_exchange++);
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
