/*
 * NVMe/TCP TLS PSK key material (nvmet/engine/psk.c): the interchange
 * format, retained/generated PSKs, identities, digests and TLS PSKs
 * against tests/vectors/psk-kat.txt (scripts/psk-kat.py, Python standard
 * library) and tests/vectors/psk-nvme-cli.txt (nvme-cli/libnvme and the
 * Linux keyring in the test guest, tests/guest/psk-vectors.sh), plus every
 * parse error.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#include <string.h>
#include "nvmet-test-util.h"
#include "../../nvmet/engine/crypto.h"
#include "../../nvmet/engine/psk.h"

static GPtrArray *kat, *cli, *cli213;

static NvmetPsk parse_ok(const char *str)
{
    g_autoptr(GError) err = NULL;
    NvmetPsk psk;

    if (!nvmet_psk_parse(str, &psk, &err)) {
        g_error("'%s': %s", str, err->message);
    }
    return psk;
}

static void identity_roundtrip(const char *str, const NvmetPskIdentity *want)
{
    g_autoptr(GError) err = NULL;
    char buf[NVMET_PSK_IDENTITY_SIZE];
    NvmetPskIdentity id;

    if (!nvmet_psk_identity_parse(str, &id, &err)) {
        g_error("'%s': %s", str, err->message);
    }
    g_assert_cmpuint(id.version, ==, want->version);
    g_assert_cmpint(id.generated, ==, want->generated);
    g_assert_cmpuint(id.hash, ==, want->hash);
    g_assert_cmpstr(id.hostnqn, ==, want->hostnqn);
    g_assert_cmpstr(id.subnqn, ==, want->subnqn);
    g_assert_cmpstr(id.digest, ==, want->digest);
    g_assert_true(nvmet_psk_identity_format(&id, buf, &err));
    g_assert_cmpstr(buf, ==, str);
}

/*
 * A configured PSK: identity and TLS PSK derived for the NQN pair, and the
 * target's view (the identity presented, matched against the PSK).
 */
static void check_configured(const NvmetPsk *psk, unsigned version,
                             const char *hostnqn, const char *subnqn,
                             const char *identity, TestVec *rec,
                             const char *tls_field)
{
    g_autoptr(GError) err = NULL;
    char buf[NVMET_PSK_IDENTITY_SIZE];
    uint8_t tls[NVMET_PSK_MAX_LEN], tls2[NVMET_PSK_MAX_LEN];
    NvmetPskIdentity id, presented;

    g_assert_true(nvmet_psk_configured_derive(psk, version, hostnqn, subnqn,
                                              &id, tls, &err));
    g_assert_true(nvmet_psk_identity_format(&id, buf, &err));
    g_assert_cmpstr(buf, ==, identity);
    identity_roundtrip(identity, &id);
    if (tls_field) {
        tv_assert_hex(rec, tls_field, tls, nvmet_hash_len(id.hash));
    }
    g_assert_true(nvmet_psk_identity_parse(identity, &presented, &err));
    g_assert_true(nvmet_psk_configured_match(psk, &presented, tls2, &err));
    g_assert_cmpmem(tls, nvmet_hash_len(id.hash), tls2,
                    nvmet_hash_len(id.hash));
}

/* ---- psk-kat.txt --------------------------------------------------------- */

static void test_kat_interchange(void)
{
    unsigned n = 0;

    for (unsigned i = 0; i < kat->len; i++) {
        TestVec *rec = kat->pdata[i];
        g_autoptr(GError) err = NULL;
        char buf[NVMET_PSK_STR_SIZE];
        NvmetPsk psk;

        if (!tv_is(rec, "interchange")) {
            continue;
        }
        psk = parse_ok(tv_str(rec, "string"));
        g_assert_cmpuint(psk.hmac, ==, tv_num(rec, "hmac"));
        tv_assert_hex(rec, "key", psk.key, psk.len);
        g_assert_true(nvmet_psk_format(&psk, buf, &err));
        g_assert_cmpstr(buf, ==, tv_str(rec, "string"));
        n++;
    }
    g_assert_cmpuint(n, >=, 6);
}

static void test_kat_retained(void)
{
    unsigned n = 0;

    for (unsigned i = 0; i < kat->len; i++) {
        TestVec *rec = kat->pdata[i];
        g_autoptr(GError) err = NULL;
        uint8_t out[NVMET_PSK_MAX_LEN];
        NvmetPsk psk;

        if (!tv_is(rec, "retained")) {
            continue;
        }
        psk = (NvmetPsk) { .hmac = tv_num(rec, "hmac") };
        psk.len = tv_hex(rec, "key", psk.key, sizeof(psk.key));
        g_assert_true(nvmet_psk_retained(&psk, tv_str(rec, "hostnqn"), out,
                                         &err));
        tv_assert_hex(rec, "retained", out, psk.len);
        n++;
    }
    g_assert_cmpuint(n, >=, 6);
}

static void test_kat_tls(void)
{
    unsigned n = 0;

    for (unsigned i = 0; i < kat->len; i++) {
        TestVec *rec = kat->pdata[i];
        g_autoptr(GError) err = NULL;
        uint8_t ret[NVMET_PSK_MAX_LEN];
        char digest[NVMET_PSK_DIGEST_SIZE];
        NvmetPsk psk;
        unsigned version;

        if (!tv_is(rec, "tls")) {
            continue;
        }
        psk = parse_ok(tv_str(rec, "string"));
        version = tv_num(rec, "version");
        g_assert_cmpuint(nvmet_psk_hash(&psk), ==, tv_num(rec, "hash"));
        g_assert_true(nvmet_psk_retained(&psk, tv_str(rec, "hostnqn"), ret,
                                         &err));
        tv_assert_hex(rec, "retained", ret, psk.len);
        if (version) {
            g_assert_true(nvmet_psk_digest(nvmet_psk_hash(&psk), ret,
                                           psk.len, tv_str(rec, "hostnqn"),
                                           tv_str(rec, "subnqn"), digest,
                                           &err));
            g_assert_cmpstr(digest, ==, tv_str(rec, "digest"));
        }
        check_configured(&psk, version, tv_str(rec, "hostnqn"),
                         tv_str(rec, "subnqn"), tv_str(rec, "identity"), rec,
                         "tls_psk");
        n++;
    }
    g_assert_cmpuint(n, >=, 12);
}

static void test_kat_generated(void)
{
    unsigned n = 0;

    for (unsigned i = 0; i < kat->len; i++) {
        TestVec *rec = kat->pdata[i];
        g_autoptr(GError) err = NULL;
        uint8_t skey[64], c1[64], c2[64], psk[64], tls[64], tls2[64];
        char digest[NVMET_PSK_DIGEST_SIZE], buf[NVMET_PSK_IDENTITY_SIZE];
        uint8_t hid;
        size_t sl, hl;
        NvmetPskIdentity id;

        if (!tv_is(rec, "generated")) {
            continue;
        }
        hid = tv_num(rec, "hash");
        hl = nvmet_hash_len(hid);
        sl = tv_hex(rec, "skey", skey, sizeof(skey));
        g_assert_cmpuint(tv_hex(rec, "c1", c1, sizeof(c1)), ==, hl);
        g_assert_cmpuint(tv_hex(rec, "c2", c2, sizeof(c2)), ==, hl);
        g_assert_true(nvmet_psk_generate(hid, skey, sl, c1, c2, psk, &err));
        tv_assert_hex(rec, "psk", psk, hl);
        n++;
        if (tv_opt(rec, "refused")) {
            g_assert_false(nvmet_psk_digest(hid, psk, hl,
                                            tv_str(rec, "hostnqn"),
                                            tv_str(rec, "subnqn"), digest,
                                            &err));
            g_assert_nonnull(strstr(err->message, "SHA-512"));
            g_clear_error(&err);
            g_assert_false(nvmet_psk_concat_derive(hid, skey, sl, c1, c2,
                                                   tv_str(rec, "hostnqn"),
                                                   tv_str(rec, "subnqn"),
                                                   &id, tls, &err));
            g_assert_nonnull(strstr(err->message, "SHA-512"));
            continue;
        }
        g_assert_true(nvmet_psk_digest(hid, psk, hl, tv_str(rec, "hostnqn"),
                                       tv_str(rec, "subnqn"), digest, &err));
        g_assert_cmpstr(digest, ==, tv_str(rec, "digest"));
        g_assert_true(nvmet_psk_concat_derive(hid, skey, sl, c1, c2,
                                              tv_str(rec, "hostnqn"),
                                              tv_str(rec, "subnqn"), &id, tls,
                                              &err));
        g_assert_true(id.generated);
        g_assert_cmpstr(id.digest, ==, tv_str(rec, "digest"));
        g_assert_true(nvmet_psk_identity_format(&id, buf, &err));
        g_assert_cmpstr(buf, ==, tv_str(rec, "identity"));
        identity_roundtrip(buf, &id);
        tv_assert_hex(rec, "tls_psk", tls, hl);
        /* the TLS PSK from the identity as presented */
        g_assert_true(nvmet_psk_identity_parse(buf, &id, &err));
        g_assert_true(nvmet_psk_tls_psk(&id, psk, hl, tls2, &err));
        g_assert_cmpmem(tls, hl, tls2, hl);
    }
    g_assert_cmpuint(n, >=, 5);
}

/* ---- psk-nvme-cli.txt ---------------------------------------------------- */

/*
 * @opaque: the vector file's records; for psk-nvme-cli-2.13.txt (Debian
 * trixie's nvme-cli, libnvme 1.13) the configured PSKs are derived with
 * compat set, and must then NOT match what RFC 8446 derivation gives.
 */
static void test_nvme_cli(const void *opaque)
{
    GPtrArray *recs = (GPtrArray *)opaque;
    bool compat = recs == cli213;
    unsigned n = 0, differ = 0;

    for (unsigned i = 0; i < recs->len; i++) {
        TestVec *rec = recs->pdata[i];
        g_autoptr(GError) err = NULL;
        char buf[NVMET_PSK_STR_SIZE];
        NvmetPsk psk;

        if (tv_is(rec, "gen-tls-key")) {
            /* `nvme gen-tls-key --secret=HEX --hmac=H` prints the key */
            psk = (NvmetPsk) { .hmac = tv_num(rec, "hmac") };
            psk.len = tv_hex(rec, "secret", psk.key, sizeof(psk.key));
            g_assert_true(nvmet_psk_format(&psk, buf, &err));
            g_assert_cmpstr(buf, ==, tv_str(rec, "string"));
            psk = parse_ok(tv_str(rec, "string"));
            tv_assert_hex(rec, "secret", psk.key, psk.len);
        } else if (tv_is(rec, "check-tls-key")) {
            psk = parse_ok(tv_str(rec, "string"));
        } else {
            g_error("unknown record type '%s'", tv_str(rec, "type"));
        }
        psk.compat = compat;
        if (tv_opt(rec, "subnqn")) {
            check_configured(&psk, tv_num(rec, "version"),
                             tv_str(rec, "hostnqn"), tv_str(rec, "subnqn"),
                             tv_str(rec, "identity"), rec,
                             tv_opt(rec, "tls_psk") ? "tls_psk" : NULL);
        }
        if (compat && tv_opt(rec, "subnqn") && tv_opt(rec, "tls_psk")) {
            /* the standard derivation gives another key */
            NvmetPskIdentity id;
            uint8_t tls[NVMET_PSK_MAX_LEN], want[NVMET_PSK_MAX_LEN];
            size_t hl;

            psk.compat = false;
            g_assert_true(nvmet_psk_configured_derive(&psk,
                              tv_num(rec, "version"), tv_str(rec, "hostnqn"),
                              tv_str(rec, "subnqn"), &id, tls, &err));
            hl = nvmet_hash_len(id.hash);
            g_assert_cmpuint(tv_hex(rec, "tls_psk", want, sizeof(want)),
                             ==, hl);
            differ += memcmp(tls, want, hl) != 0;
        }
        if (tv_opt(rec, "exported")) {
            /*
             * nvme-cli's --keyfile: the TLS PSK read back from the keyring
             * in the interchange format, but with the identity's version
             * as format version ("NVMeTLSkey-0:" for version 0, which we,
             * like libnvme's importer, do not accept as a key)
             */
            g_autofree char *s = g_strdup(tv_str(rec, "exported"));
            NvmetPsk exp;

            if (tv_num(rec, "version") == 0) {
                g_assert_false(nvmet_psk_parse(s, &exp, &err));
                g_assert_nonnull(strstr(err->message, "version 0"));
                g_clear_error(&err);
                g_assert_true(g_str_has_prefix(s, "NVMeTLSkey-0:"));
                s[11] = '1';
            }
            exp = parse_ok(s);
            tv_assert_hex(rec, "tls_psk", exp.key, exp.len);
        }
        n++;
    }
    g_assert_cmpuint(n, >=, 4);
    if (compat) {
        g_assert_cmpuint(differ, >=, 4);
    }
}

/* ---- errors -------------------------------------------------------------- */

/* "NVMeTLSkey-1:HH:" + base64(@raw) + ":" */
static char *interchange(const char *hh, const uint8_t *raw, size_t len)
{
    g_autofree char *b64 = g_base64_encode(raw, len);

    return g_strdup_printf("NVMeTLSkey-1:%s:%s:", hh, b64);
}

/* key || le32(CRC-32) for a @len-byte key */
static size_t keycrc(uint8_t *raw, size_t len)
{
    uint32_t crc;

    for (size_t i = 0; i < len; i++) {
        raw[i] = i * 7 + 1;
    }
    crc = nvmet_crc32_ieee(raw, len);
    raw[len] = crc;
    raw[len + 1] = crc >> 8;
    raw[len + 2] = crc >> 16;
    raw[len + 3] = crc >> 24;
    return len + 4;
}

static void parse_fails(const char *str, const char *msg)
{
    g_autoptr(GError) err = NULL;
    NvmetPsk psk;

    g_assert_false(nvmet_psk_parse(str, &psk, &err));
    g_assert_nonnull(err);
    if (!strstr(err->message, msg)) {
        g_error("'%s': message '%s' lacks '%s'", str ? str : "(null)",
                err->message, msg);
    }
    g_assert_cmpuint(psk.len, ==, 0);
}

static void test_parse_errors(void)
{
    uint8_t raw[80];
    size_t n = keycrc(raw, 32);
    g_autofree char *good = interchange("01", raw, n);
    g_autofree char *s = NULL;

    parse_ok(good);
    parse_fails(NULL, "interchange format");
    parse_fails("DHHC-1:01:abcd:", "interchange format");
    parse_fails("NVMeTLSkey1:01:abcd:", "interchange format");
    parse_fails("NVMeTLSkey-x:01:abcd:", "one-digit");
    parse_fails("NVMeTLSkey-12:01:abcd:", "one-digit");
    s = g_strdup(good);
    s[11] = '0';
    parse_fails(s, "unsupported interchange format version 0");
    s[11] = '2';
    parse_fails(s, "unsupported interchange format version 2");
    parse_fails("NVMeTLSkey-1:1:abcd:", "two-digit hash");
    parse_fails("NVMeTLSkey-1:0x:abcd:", "two-digit hash");
    parse_fails("NVMeTLSkey-1:001:abcd:", "two-digit hash");
    g_clear_pointer(&s, g_free);
    s = interchange("03", raw, keycrc(raw, 48));
    parse_fails(s, "unknown hash 03");
    g_clear_pointer(&s, g_free);
    s = interchange("99", raw, n);
    parse_fails(s, "unknown hash 99");
    g_clear_pointer(&s, g_free);
    /* trailing colon */
    s = g_strndup(good, strlen(good) - 1);
    parse_fails(s, "must end with ':'");
    g_clear_pointer(&s, g_free);
    s = g_strconcat(good, "x", NULL);
    parse_fails(s, "must end with ':'");
    g_clear_pointer(&s, g_free);
    s = g_strconcat(good, ":", NULL);
    parse_fails(s, "must end with ':'");
    g_clear_pointer(&s, g_free);
    parse_fails("NVMeTLSkey-1:01::", "no key data");
    /* base64 */
    s = g_strdup(good);
    s[20] = '*';
    parse_fails(s, "invalid base64 character at offset 4");
    s[20] = '=';
    parse_fails(s, "invalid base64 character");
    g_clear_pointer(&s, g_free);
    s = g_strdup_printf("NVMeTLSkey-1:01:%.*s:", 47, good + 16);
    parse_fails(s, "not a multiple of 4");
    g_clear_pointer(&s, g_free);
    parse_fails("NVMeTLSkey-1:00:QR==:", "non-canonical");
    parse_fails("NVMeTLSkey-1:00:QUF=:", "non-canonical");
    /* sizes */
    s = interchange("00", raw, keycrc(raw, 16));
    parse_fails(s, "must be 32 or 48 bytes (got 20 with its CRC)");
    g_clear_pointer(&s, g_free);
    s = interchange("00", raw, keycrc(raw, 40));
    parse_fails(s, "must be 32 or 48 bytes");
    g_clear_pointer(&s, g_free);
    s = interchange("00", raw, keycrc(raw, 64));
    parse_fails(s, "too long");
    g_clear_pointer(&s, g_free);
    s = interchange("01", raw, keycrc(raw, 48));
    parse_fails(s, "hash 01 needs a 32-byte key (got 48)");
    g_clear_pointer(&s, g_free);
    s = interchange("02", raw, keycrc(raw, 32));
    parse_fails(s, "hash 02 needs a 48-byte key (got 32)");
    g_clear_pointer(&s, g_free);
    /* CRC */
    n = keycrc(raw, 48);
    raw[n - 1] ^= 0x80;
    s = interchange("02", raw, n);
    parse_fails(s, "CRC mismatch");
    g_clear_pointer(&s, g_free);
    n = keycrc(raw, 32);
    raw[5] ^= 1;
    s = interchange("00", raw, n);
    parse_fails(s, "CRC mismatch");
}

static void test_format_errors(void)
{
    g_autoptr(GError) err = NULL;
    char buf[NVMET_PSK_STR_SIZE];
    uint8_t out[NVMET_PSK_MAX_LEN];
    NvmetPsk psk = { .hmac = 1, .len = 48 };

    g_assert_false(nvmet_psk_format(&psk, buf, &err));
    g_assert_nonnull(strstr(err->message, "invalid hash 01 / length 48"));
    g_clear_error(&err);
    psk = (NvmetPsk) { .hmac = 3, .len = 64 };
    g_assert_false(nvmet_psk_format(&psk, buf, &err));
    g_clear_error(&err);
    psk = (NvmetPsk) { .hmac = 0, .len = 16 };
    g_assert_false(nvmet_psk_retained(&psk, "nqn.h", out, &err));
    g_clear_error(&err);
    psk = (NvmetPsk) { .hmac = 1, .len = 32 };
    g_assert_false(nvmet_psk_retained(&psk, "", out, &err));
    g_assert_nonnull(strstr(err->message, "empty NQN"));
    g_clear_error(&err);
    g_assert_false(nvmet_psk_retained(&psk, "nqn host", out, &err));
    g_assert_nonnull(strstr(err->message, "space or control"));
    /* 00 keys: the hash follows the length */
    psk = (NvmetPsk) { .hmac = 0, .len = 48 };
    g_assert_cmpuint(nvmet_psk_hash(&psk), ==, NVMET_HASH_SHA384);
    psk.len = 32;
    g_assert_cmpuint(nvmet_psk_hash(&psk), ==, NVMET_HASH_SHA256);
}

static void identity_fails(const char *str, const char *msg)
{
    g_autoptr(GError) err = NULL;
    NvmetPskIdentity id;

    g_assert_false(nvmet_psk_identity_parse(str, &id, &err));
    g_assert_nonnull(err);
    if (!strstr(err->message, msg)) {
        g_error("'%s': message '%s' lacks '%s'", str ? str : "(null)",
                err->message, msg);
    }
    g_assert_cmpuint(id.hash, ==, 0);
    g_assert_cmpstr(id.hostnqn, ==, "");
}

#define D256 "OldoKuTfKddMuyCznAZojkWD7P4D9/AtzDzLimtOxqI="
#define D384 "cffMWk8TSS7HOQebjgYEIkrPrjWPV4JE5cdPB8WhEvY4JBW5YynKyv66XscN4A9n"

static void test_identity_errors(void)
{
    g_autofree char *longnqn = g_strnfill(224, 'n');
    g_autofree char *maxnqn = g_strnfill(223, 'n');
    g_autofree char *s = NULL;
    g_autoptr(GError) err = NULL;
    NvmetPskIdentity id;

    g_assert_true(nvmet_psk_identity_parse("NVMe0R01 h s", &id, &err));
    g_assert_true(nvmet_psk_identity_parse("NVMe0G02 h s", &id, &err));
    g_assert_true(id.generated);
    g_assert_true(nvmet_psk_identity_parse("NVMe1R01 h s " D256, &id,
                                           &err));
    g_assert_true(nvmet_psk_identity_parse("NVMe1G02 h s " D384, &id,
                                           &err));
    s = g_strdup_printf("NVMe1R02 %s %s %s", maxnqn, maxnqn, D384);
    g_assert_cmpuint(strlen(s) + 1, ==, NVMET_PSK_IDENTITY_SIZE);
    g_assert_true(nvmet_psk_identity_parse(s, &id, &err));
    g_clear_pointer(&s, g_free);

    identity_fails(NULL, "must start with 'NVMe'");
    identity_fails("nvme0R01 h s", "must start with 'NVMe'");
    identity_fails("NVMe", "unsupported version");
    identity_fails("NVMe2R01 h s", "unsupported version '2'");
    identity_fails("NVMe0X01 h s", "R (retained) or G (generated)");
    identity_fails("NVMe0r01 h s", "R (retained) or G (generated)");
    identity_fails("NVMe0R1 h s", "two-digit hash");
    identity_fails("NVMe0R0a h s", "two-digit hash");
    identity_fails("NVMe0R00 h s", "unknown hash identifier 0");
    identity_fails("NVMe0R03 h s", "SHA-512 cannot be used");
    identity_fails("NVMe0R04 h s", "unknown hash identifier 4");
    identity_fails("NVMe0R01h s", "expected a space after 'NVMe0R01'");
    identity_fails("NVMe0R01", "expected a space");
    identity_fails("NVMe0R01 h", "needs host NQN and subsystem NQN");
    identity_fails("NVMe0R01 h s x", "got 3 fields");
    identity_fails("NVMe0R01 h  s", "got 3 fields");
    identity_fails("NVMe0R01 h ", "empty field");
    identity_fails("NVMe0R01  s", "empty field");
    identity_fails("NVMe1R01 h s", "host NQN, subsystem NQN and PSK digest");
    identity_fails("NVMe1R01 h s " D256 " x", "got 4 fields");
    identity_fails("NVMe1R01 h s ", "empty field");
    identity_fails("NVMe0R01 h\tx s", "space or control");
    identity_fails("NVMe0R01 h s\x7f", "space or control");
    s = g_strdup_printf("NVMe0R01 %s s", longnqn);
    identity_fails(s, "NQN of 224 bytes");
    g_clear_pointer(&s, g_free);
    s = g_strdup_printf("NVMe1R02 %s %s %s", maxnqn, longnqn, D384);
    identity_fails(s, "too long");
    g_clear_pointer(&s, g_free);
    identity_fails("NVMe1R01 h s " D384, "must have 44 characters");
    identity_fails("NVMe1R02 h s " D256, "must have 64 characters");
    identity_fails("NVMe1R01 h s abc", "must have 44 characters for SHA-256");
    identity_fails("NVMe1R01 h s *ldoKuTfKddMuyCznAZojkWD7P4D9/AtzDzLimtOxqI=",
                   "invalid base64 character at offset 0");
    identity_fails("NVMe1R01 h s OldoKuTfKddMuyCznAZojkWD7P4D9/AtzDzLimtOxqJ=",
                   "non-canonical");
    identity_fails("NVMe1R01 h s OldoKuTfKddMuyCznAZojkWD7P4D9/AtzDzLimtOxw==",
                   "decodes to 31 bytes, not 32");
    identity_fails("NVMe1R01 h s OldoKuTfKddMuyCznAZojkWD7P4D9/AtzDzLimt=xqI=",
                   "invalid base64 character at offset 39");
}

static void test_derive_errors(void)
{
    g_autoptr(GError) err = NULL;
    g_autofree char *nqn = g_strnfill(200, 'n');
    uint8_t skey[48] = { 1 }, c[64] = { 2 }, out[64];
    char digest[NVMET_PSK_DIGEST_SIZE], buf[NVMET_PSK_IDENTITY_SIZE];
    NvmetPskIdentity id, other;
    NvmetPsk psk = { .hmac = 1, .len = 32 };

    /* generated PSKs */
    g_assert_false(nvmet_psk_generate(0, skey, 48, c, c, out, &err));
    g_assert_nonnull(strstr(err->message, "unknown hash"));
    g_clear_error(&err);
    g_assert_false(nvmet_psk_generate(1, NULL, 0, c, c, out, &err));
    g_assert_nonnull(strstr(err->message, "no DH session key"));
    g_clear_error(&err);
    g_assert_true(nvmet_psk_generate(3, skey, 48, c, c, out, &err));
    g_assert_false(nvmet_psk_concat_derive(3, skey, 48, c, c, "h", "s", &id,
                                           out, &err));
    g_assert_nonnull(strstr(err->message, "SHA-512 cannot be used"));
    g_clear_error(&err);
    g_assert_false(nvmet_psk_concat_derive(1, skey, 0, c, c, "h", "s", &id,
                                           out, &err));
    g_assert_nonnull(strstr(err->message, "no DH session key"));
    g_assert_cmpuint(id.hash, ==, 0);
    g_clear_error(&err);
    g_assert_false(nvmet_psk_concat_derive(1, skey, 48, c, c, "h", "", &id,
                                           out, &err));
    g_clear_error(&err);

    /* digests and TLS PSKs */
    g_assert_false(nvmet_psk_digest(3, skey, 64, "h", "s", digest, &err));
    g_assert_nonnull(strstr(err->message, "SHA-512"));
    g_clear_error(&err);
    g_assert_false(nvmet_psk_digest(1, skey, 48, "h", "s", digest, &err));
    g_assert_nonnull(strstr(err->message, "48-byte PSK"));
    g_clear_error(&err);
    g_assert_true(nvmet_psk_concat_derive(1, skey, 48, c, c, "h", "s", &id,
                                          out, &err));
    g_assert_false(nvmet_psk_tls_psk(&id, skey, 48, out, &err));
    g_clear_error(&err);
    other = id;
    other.digest[0] = '\0';
    g_assert_false(nvmet_psk_tls_psk(&other, skey, 32, out, &err));
    g_clear_error(&err);
    other = id;
    other.version = 0;
    g_assert_false(nvmet_psk_tls_psk(&other, skey, 32, out, &err));
    g_assert_nonnull(strstr(err->message, "no PSK digest"));
    g_clear_error(&err);
    other.version = 2;
    g_assert_false(nvmet_psk_identity_format(&other, buf, &err));
    g_assert_nonnull(strstr(err->message, "unsupported version 2"));
    g_clear_error(&err);
    /* version 0: the identity is the HKDF context, at most 255 bytes */
    other = (NvmetPskIdentity) { .version = 0, .hash = 1 };
    g_strlcpy(other.hostnqn, nqn, sizeof(other.hostnqn));
    g_strlcpy(other.subnqn, "s", sizeof(other.subnqn));
    g_assert_true(nvmet_psk_tls_psk(&other, skey, 32, out, &err));
    g_strlcpy(other.subnqn, nqn, sizeof(other.subnqn));
    g_assert_false(nvmet_psk_tls_psk(&other, skey, 32, out, &err));
    g_assert_nonnull(strstr(err->message, "410 bytes long"));
    g_clear_error(&err);
    g_assert_false(nvmet_psk_configured_derive(&psk, 0, nqn, nqn, &other,
                                               out, &err));
    g_assert_nonnull(strstr(err->message, "255"));
    g_clear_error(&err);
    g_assert_true(nvmet_psk_configured_derive(&psk, 1, nqn, nqn, &other,
                                              out, &err));
    g_assert_false(nvmet_psk_configured_derive(&psk, 2, "h", "s", &other,
                                               out, &err));
    g_clear_error(&err);

    /* matching a presented identity against a configured PSK */
    g_assert_true(nvmet_psk_configured_derive(&psk, 1, "h", "s", &id, out,
                                              &err));
    other = id;
    g_assert_true(nvmet_psk_configured_match(&psk, &other, out, &err));
    g_strlcpy(other.subnqn, "t", sizeof(other.subnqn));
    g_assert_false(nvmet_psk_configured_match(&psk, &other, out, &err));
    g_assert_nonnull(strstr(err->message, "digest does not match"));
    g_clear_error(&err);
    other = id;
    other.generated = true;
    g_assert_false(nvmet_psk_configured_match(&psk, &other, out, &err));
    g_assert_nonnull(strstr(err->message, "generated PSK"));
    g_clear_error(&err);
    psk = (NvmetPsk) { .hmac = 0, .len = 48 };
    g_assert_false(nvmet_psk_configured_match(&psk, &id, out, &err));
    g_assert_nonnull(strstr(err->message, "hash 01 does not match"));
    g_clear_error(&err);
    /* version 0 has no digest to check: any NQNs get their TLS PSK */
    psk = (NvmetPsk) { .hmac = 1, .len = 32 };
    g_assert_true(nvmet_psk_identity_parse("NVMe0R01 h t", &other, &err));
    g_assert_true(nvmet_psk_configured_match(&psk, &other, out, &err));
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    nvmet_crypto_init();
    kat = tv_load("psk-kat.txt");
    cli = tv_load("psk-nvme-cli.txt");
    cli213 = tv_load("psk-nvme-cli-2.13.txt");
    g_test_add_func("/psk/kat/interchange", test_kat_interchange);
    g_test_add_func("/psk/kat/retained", test_kat_retained);
    g_test_add_func("/psk/kat/tls", test_kat_tls);
    g_test_add_func("/psk/kat/generated", test_kat_generated);
    g_test_add_data_func("/psk/nvme-cli", cli, test_nvme_cli);
    g_test_add_data_func("/psk/nvme-cli-2.13-compat", cli213, test_nvme_cli);
    g_test_add_func("/psk/errors/parse", test_parse_errors);
    g_test_add_func("/psk/errors/format", test_format_errors);
    g_test_add_func("/psk/errors/identity", test_identity_errors);
    g_test_add_func("/psk/errors/derive", test_derive_errors);
    return g_test_run();
}
