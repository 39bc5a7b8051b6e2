/*
 * NVMe-oF TCP target engine: TLS 1.3 PSK key material for NVMe/TCP
 * (NVMe TCP Transport Specification 3.6.1, TP 8018 and secure channel
 * concatenation from the NVMe Base Specification 8.3.5.x).
 *
 *   configured PSK  "NVMeTLSkey-1:HH:<base64(PSK || le32(CRC-32(PSK)))>:"
 *   retained PSK    HH 00: the configured PSK itself; HH 01/02:
 *                   HKDF-Expand-Label(HKDF-Extract(0, PSK), "HostNQN",
 *                                     NQNh, L) with SHA-256/SHA-384
 *   generated PSK   HMAC(Ks, C1 || C2), Ks the DH-HMAC-CHAP session key
 *   PSK digest      base64(HMAC(PSK, NQNh || " " || NQNc || " " ||
 *                               "NVMe-over-Fabrics"))
 *   identity        "NVMe0Rhh NQNh NQNc" (version 0) or
 *                   "NVMe1Rhh NQNh NQNc <digest>" / "NVMe1Ghh ..." (version 1)
 *   TLS PSK         HKDF-Expand-Label(HKDF-Extract(0, PSK), "nvme-tls-psk",
 *                                     context, L), context "hh <digest>" in
 *                   version 1 and the whole identity in version 0
 *
 * hh is the hash of the TLS cipher suite (01 SHA-256, 02 SHA-384), L its
 * output length; HKDF-Expand-Label is RFC 8446's ("tls13 " label prefix).
 * These are the computations of Linux (drivers/nvme/common/auth.c:
 * nvme_auth_generate_psk, nvme_auth_generate_digest,
 * nvme_auth_derive_tls_psk; keyring.c for the identities) and libnvme
 * (derive_retained_key, derive_psk_digest, derive_tls_key).
 *
 * nvme-cli 2.13 and older (libnvme before 1.14, e.g. Debian trixie's) did
 * not format the HKDF-Expand-Label info as RFC 8446 does: they hash
 * le16(L) || "tls13 " label || context, without the two length octets and
 * with L little-endian, for the retained PSK and for the TLS PSK (libnvme
 * keeps that form as derive_*_compat).  A configured PSK with @compat set
 * is derived that way, so hosts whose keys such an nvme-cli inserted can
 * connect (nvmet-host property tls-psk-compat).
 *
 * Linux's own nvme_auth_derive_tls_psk() had the same defect, with L
 * big-endian, until "nvme-auth: use hkdf_expand_label()": hosts of 6.15 ..
 * 6.17 derive the TLS PSK of a generated PSK that way.  Such hosts are
 * recognised by their DH-HMAC-CHAP response (auth.c, legacy SC_C) and get
 * nvmet_psk_concat_derive_legacy().
 *
 * Outputs go to caller buffers of fixed size; every intermediate secret is
 * wiped, and outputs are wiped again when a function fails.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#include "qemu/osdep.h"
#include "nvmet/engine.h"
#include "nvmet/proto.h"
#include "crypto.h"
#include "psk.h"

#define PSK_PREFIX      "NVMeTLSkey-"
#define PSK_LABEL_NQN   "HostNQN"
#define PSK_LABEL_TLS   "nvme-tls-psk"
#define PSK_NQN_MAX     (NVMET_PSK_NQN_SIZE - 1)

/* ---- base64 (RFC 4648, with padding) ------------------------------------- */

static const char b64_chars[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/* @out takes 4 * ((len + 2) / 3) characters and a NUL. */
static size_t b64_encode(const uint8_t *in, size_t len, char *out)
{
    size_t o = 0;

    for (size_t i = 0; i < len; i += 3) {
        uint32_t v = (uint32_t)in[i] << 16;

        if (i + 1 < len) {
            v |= (uint32_t)in[i + 1] << 8;
        }
        if (i + 2 < len) {
            v |= in[i + 2];
        }
        out[o++] = b64_chars[(v >> 18) & 63];
        out[o++] = b64_chars[(v >> 12) & 63];
        out[o++] = i + 1 < len ? b64_chars[(v >> 6) & 63] : '=';
        out[o++] = i + 2 < len ? b64_chars[v & 63] : '=';
    }
    out[o] = '\0';
    return o;
}

static int b64_value(char c)
{
    if (c >= 'A' && c <= 'Z') {
        return c - 'A';
    }
    if (c >= 'a' && c <= 'z') {
        return c - 'a' + 26;
    }
    if (c >= '0' && c <= '9') {
        return c - '0' + 52;
    }
    if (c == '+') {
        return 62;
    }
    if (c == '/') {
        return 63;
    }
    return -1;
}

/*
 * Strict decoding: a multiple of four characters, '=' only as the final
 * one or two, unused bits zero (so that every byte string has exactly one
 * encoding).  At most @max bytes are written to @out.
 */
static bool b64_decode(const char *what, const char *in, size_t len,
                       uint8_t *out, size_t max, size_t *outlen,
                       GError **errp)
{
    size_t pad = 0, n = 0;
    uint32_t v = 0;

    if (len % 4) {
        g_set_error(errp, NVMET_ERROR, 0,
                    "%s: base64 length %zu is not a multiple of 4", what,
                    len);
        return false;
    }
    if (len && in[len - 1] == '=') {
        pad = len >= 2 && in[len - 2] == '=' ? 2 : 1;
    }
    if (len / 4 * 3 - pad > max) {
        g_set_error(errp, NVMET_ERROR, 0, "%s: too long (%zu bytes)", what,
                    len / 4 * 3 - pad);
        return false;
    }
    for (size_t i = 0; i < len; i++) {
        int d = i < len - pad ? b64_value(in[i]) : 0;

        if (d < 0) {
            g_set_error(errp, NVMET_ERROR, 0,
                        "%s: invalid base64 character at offset %zu", what,
                        i);
            nvmet_memzero(out, max);
            v = 0;
            return false;
        }
        v = v << 6 | d;
        if (i % 4 == 3) {
            uint8_t b[3] = { v >> 16, v >> 8, v };

            for (size_t k = 0; k < 3 && n < len / 4 * 3 - pad; k++) {
                out[n++] = b[k];
            }
            if ((pad == 1 && i == len - 1 && (v & 0xff)) ||
                (pad == 2 && i == len - 1 && (v & 0xffff))) {
                g_set_error(errp, NVMET_ERROR, 0,
                            "%s: non-canonical base64 padding", what);
                nvmet_memzero(out, max);
                nvmet_memzero(b, sizeof(b));
                v = 0;
                return false;
            }
            nvmet_memzero(b, sizeof(b));
            v = 0;
        }
    }
    *outlen = n;
    return true;
}

/* ---- common checks ------------------------------------------------------- */

/* Hashes of the TLS 1.3 cipher suites an identity can name. */
static bool tls_hash_ok(const char *what, uint8_t hid, GError **errp)
{
    if (hid == NVMET_HASH_SHA256 || hid == NVMET_HASH_SHA384) {
        return true;
    }
    if (hid == NVMET_HASH_SHA512) {
        g_set_error(errp, NVMET_ERROR, 0,
                    "%s: SHA-512 cannot be used: no TLS 1.3 cipher suite "
                    "uses it (only SHA-256 and SHA-384)", what);
    } else {
        g_set_error(errp, NVMET_ERROR, 0,
                    "%s: unknown hash identifier %u (01 SHA-256, "
                    "02 SHA-384)", what, hid);
    }
    return false;
}

/* An NQN as it appears in identities: 1..223 printable non-space bytes. */
static bool nqn_ok(const char *what, const char *nqn, GError **errp)
{
    size_t len = nqn ? strlen(nqn) : 0;

    if (!len) {
        g_set_error(errp, NVMET_ERROR, 0, "%s: empty NQN", what);
        return false;
    }
    if (len > PSK_NQN_MAX) {
        g_set_error(errp, NVMET_ERROR, 0,
                    "%s: NQN of %zu bytes (at most %d)", what, len,
                    PSK_NQN_MAX);
        return false;
    }
    for (size_t i = 0; i < len; i++) {
        if ((unsigned char)nqn[i] <= ' ' || nqn[i] == 0x7f) {
            g_set_error(errp, NVMET_ERROR, 0,
                        "%s: NQN contains a space or control character",
                        what);
            return false;
        }
    }
    return true;
}

static size_t digest_chars(uint8_t hid)
{
    return (nvmet_hash_len(hid) + 2) / 3 * 4;
}

/* A PSK digest: the base64 of a hash-length HMAC. */
static bool digest_ok(const char *what, uint8_t hid, const char *digest,
                      GError **errp)
{
    uint8_t raw[NVMET_MAX_HASH_LEN];
    size_t len = strlen(digest), n = 0;
    bool ok;

    if (len != digest_chars(hid)) {
        g_set_error(errp, NVMET_ERROR, 0,
                    "%s: the PSK digest must have %zu characters for %s "
                    "(got %zu)", what, digest_chars(hid),
                    hid == NVMET_HASH_SHA256 ? "SHA-256" : "SHA-384", len);
        return false;
    }
    ok = b64_decode(what, digest, len, raw, sizeof(raw), &n, errp);
    nvmet_memzero(raw, sizeof(raw));
    if (ok && n != nvmet_hash_len(hid)) {
        g_set_error(errp, NVMET_ERROR, 0,
                    "%s: the PSK digest decodes to %zu bytes, not %zu", what,
                    n, nvmet_hash_len(hid));
        return false;
    }
    return ok;
}

static bool psk_ok(const NvmetPsk *psk, GError **errp)
{
    if (psk->hmac > NVMET_HASH_SHA384 ||
        (psk->len != 32 && psk->len != 48) ||
        (psk->hmac && psk->len != nvmet_hash_len(psk->hmac))) {
        g_set_error(errp, NVMET_ERROR, 0,
                    "TLS PSK: invalid hash %02u / length %u combination",
                    psk->hmac, psk->len);
        return false;
    }
    return true;
}

static bool psk_len_ok(const char *what, uint8_t hid, size_t len,
                       GError **errp)
{
    if (len != nvmet_hash_len(hid)) {
        g_set_error(errp, NVMET_ERROR, 0,
                    "%s: a %zu-byte PSK does not fit hash %02u (%zu bytes)",
                    what, len, hid, nvmet_hash_len(hid));
        return false;
    }
    return true;
}

/* ---- the interchange format ---------------------------------------------- */

/*
 * "NVMeTLSkey-1:HH:<base64>:" with HH 00 (32 or 48 bytes), 01 (32 bytes)
 * or 02 (48 bytes); the base64 covers the key and its CRC-32 (IEEE, as
 * zlib's crc32()) stored little-endian.
 */
bool nvmet_psk_parse(const char *str, NvmetPsk *psk, GError **errp)
{
    uint8_t raw[NVMET_PSK_MAX_LEN + 4];
    const char *p, *end;
    size_t n = 0;
    unsigned hh;

    memset(psk, 0, sizeof(*psk));
    if (!str || strncmp(str, PSK_PREFIX, strlen(PSK_PREFIX))) {
        g_set_error(errp, NVMET_ERROR, 0,
                    "TLS PSK must be in the interchange format "
                    "'NVMeTLSkey-1:HH:<base64>:'");
        return false;
    }
    p = str + strlen(PSK_PREFIX);
    if (!g_ascii_isdigit(p[0]) || p[1] != ':') {
        g_set_error(errp, NVMET_ERROR, 0,
                    "TLS PSK: expected 'NVMeTLSkey-1:' (one-digit format "
                    "version)");
        return false;
    }
    if (p[0] != '1') {
        g_set_error(errp, NVMET_ERROR, 0,
                    "TLS PSK: unsupported interchange format version %c "
                    "(only 1)", p[0]);
        return false;
    }
    p += 2;
    if (!g_ascii_isdigit(p[0]) || !g_ascii_isdigit(p[1]) || p[2] != ':') {
        g_set_error(errp, NVMET_ERROR, 0,
                    "TLS PSK: expected 'NVMeTLSkey-1:HH:' with HH a "
                    "two-digit hash identifier");
        return false;
    }
    hh = (p[0] - '0') * 10 + (p[1] - '0');
    if (hh > NVMET_HASH_SHA384) {
        g_set_error(errp, NVMET_ERROR, 0,
                    "TLS PSK: unknown hash %02u (00 none, 01 SHA-256, "
                    "02 SHA-384)", hh);
        return false;
    }
    p += 3;
    end = strchr(p, ':');
    if (!end || end[1] != '\0') {
        g_set_error(errp, NVMET_ERROR, 0, "TLS PSK must end with ':'");
        return false;
    }
    if (end == p) {
        g_set_error(errp, NVMET_ERROR, 0, "TLS PSK: no key data");
        return false;
    }
    if (!b64_decode("TLS PSK", p, end - p, raw, sizeof(raw), &n, errp)) {
        return false;
    }
    if (n != 32 + 4 && n != 48 + 4) {
        g_set_error(errp, NVMET_ERROR, 0,
                    "TLS PSK must be 32 or 48 bytes (got %zu with its CRC)",
                    n);
        goto fail;
    }
    if (hh && n - 4 != nvmet_hash_len(hh)) {
        g_set_error(errp, NVMET_ERROR, 0,
                    "TLS PSK: hash %02u needs a %zu-byte key (got %zu)", hh,
                    nvmet_hash_len(hh), n - 4);
        goto fail;
    }
    if (nvmet_crc32_ieee(raw, n - 4) != nvmet_ld32(raw + n - 4)) {
        g_set_error(errp, NVMET_ERROR, 0,
                    "TLS PSK: CRC mismatch (corrupted key)");
        goto fail;
    }
    psk->hmac = hh;
    psk->len = n - 4;
    memcpy(psk->key, raw, psk->len);
    nvmet_memzero(raw, sizeof(raw));
    return true;

fail:
    nvmet_memzero(raw, sizeof(raw));
    return false;
}

/* @out: NVMET_PSK_STR_SIZE bytes. */
bool nvmet_psk_format(const NvmetPsk *psk, char *out, GError **errp)
{
    uint8_t raw[NVMET_PSK_MAX_LEN + 4];
    uint32_t crc;
    size_t o;

    if (!psk_ok(psk, errp)) {
        return false;
    }
    memcpy(raw, psk->key, psk->len);
    crc = nvmet_crc32_ieee(raw, psk->len);
    raw[psk->len] = crc;
    raw[psk->len + 1] = crc >> 8;
    raw[psk->len + 2] = crc >> 16;
    raw[psk->len + 3] = crc >> 24;
    o = snprintf(out, NVMET_PSK_STR_SIZE, PSK_PREFIX "1:%02u:", psk->hmac);
    o += b64_encode(raw, psk->len + 4, out + o);
    out[o++] = ':';
    out[o] = '\0';
    nvmet_memzero(raw, sizeof(raw));
    return true;
}

/*
 * The hash of the identities and of the TLS cipher suite for a configured
 * PSK: its HH, or for HH 00 the hash of the key's length (libnvme
 * derive_nvme_keys() with default_hmac()).
 */
uint8_t nvmet_psk_hash(const NvmetPsk *psk)
{
    if (psk->hmac) {
        return psk->hmac;
    }
    return psk->len == 48 ? NVMET_HASH_SHA384 : NVMET_HASH_SHA256;
}

/* How HKDF-Expand-Label's info is laid out (see the top of this file) */
enum {
    LABEL_RFC8446,          /* be16 L, length-prefixed label and context */
    LABEL_LIBNVME_113,      /* le16 L, label and context without lengths */
    LABEL_LINUX_617,        /* be16 L, label and context without lengths */
};

/*
 * HKDF-Expand(@prk, l16(@out_len) || "tls13 " @label || @ctx, @out_len):
 * the label as libnvme before 1.14 and Linux before 6.18 formatted it.
 */
static bool expand_label_compat(bool big_endian, uint8_t hid,
                                const uint8_t *prk, size_t prk_len,
                                const char *label, const void *ctx,
                                size_t ctx_len, uint8_t *out, size_t out_len)
{
    size_t hlen = nvmet_hash_len(hid);
    uint8_t t[NVMET_MAX_HASH_LEN], lenb[2];
    uint8_t i = 1;
    size_t done = 0;
    bool ok = true;

    if (big_endian) {
        lenb[0] = out_len >> 8;
        lenb[1] = out_len & 0xff;
    } else {
        lenb[0] = out_len & 0xff;
        lenb[1] = out_len >> 8;
    }
    while (ok && done < out_len) {
        NvmetBuf parts[] = {
            { t, done ? hlen : 0 }, { lenb, 2 }, { "tls13 ", 6 },
            { label, strlen(label) }, { ctx, ctx_len }, { &i, 1 },
        };

        ok = nvmet_hmac(hid, prk, prk_len, parts, G_N_ELEMENTS(parts), t);
        memcpy(out + done, t, MIN(hlen, out_len - done));
        done += MIN(hlen, out_len - done);
        i++;
    }
    nvmet_memzero(t, sizeof(t));
    return ok;
}

/* HKDF-Expand-Label in one of the forms above */
static bool expand_label(int form, uint8_t hid, const uint8_t *prk,
                         size_t prk_len, const char *label, const void *ctx,
                         size_t ctx_len, uint8_t *out, size_t out_len)
{
    if (form != LABEL_RFC8446) {
        return expand_label_compat(form == LABEL_LINUX_617, hid, prk, prk_len,
                                   label, ctx, ctx_len, out, out_len);
    }
    return nvmet_hkdf_expand_label(hid, prk, prk_len, label, ctx, ctx_len,
                                   out, out_len);
}

/* The retained PSK (@psk->len bytes to @out) for the host @hostnqn. */
bool nvmet_psk_retained(const NvmetPsk *psk, const char *hostnqn,
                        uint8_t *out, GError **errp)
{
    uint8_t prk[NVMET_MAX_HASH_LEN];
    bool ok;

    if (!psk_ok(psk, errp) || !nqn_ok("retained PSK", hostnqn, errp)) {
        return false;
    }
    if (!psk->hmac) {
        memcpy(out, psk->key, psk->len);
        return true;
    }
    ok = nvmet_hkdf_extract(psk->hmac, psk->key, psk->len, prk) &&
         expand_label(psk->compat ? LABEL_LIBNVME_113 : LABEL_RFC8446,
                      psk->hmac, prk, psk->len, PSK_LABEL_NQN,
                      hostnqn, strlen(hostnqn), out, psk->len);
    nvmet_memzero(prk, sizeof(prk));
    if (!ok) {
        nvmet_memzero(out, psk->len);
        g_set_error(errp, NVMET_ERROR, 0, "retained PSK: HKDF failed");
    }
    return ok;
}

/* ---- identities ---------------------------------------------------------- */

static bool identity_ok(const NvmetPskIdentity *id, GError **errp)
{
    static const char what[] = "TLS PSK identity";

    if (id->version > 1) {
        g_set_error(errp, NVMET_ERROR, 0,
                    "%s: unsupported version %u (0 or 1)", what,
                    id->version);
        return false;
    }
    if (!tls_hash_ok(what, id->hash, errp) ||
        !nqn_ok(what, id->hostnqn, errp) ||
        !nqn_ok(what, id->subnqn, errp)) {
        return false;
    }
    if (id->version == 0) {
        if (id->digest[0]) {
            g_set_error(errp, NVMET_ERROR, 0,
                        "%s: version 0 identities have no PSK digest", what);
            return false;
        }
        return true;
    }
    return digest_ok(what, id->hash, id->digest, errp);
}

/*
 * "NVMe<v><R|G><hh> <hostnqn> <subnqn>[ <digest>]", as presented in a TLS
 * ClientHello or used as a key description in the Linux .nvme keyring.
 */
bool nvmet_psk_identity_parse(const char *str, NvmetPskIdentity *id,
                              GError **errp)
{
    static const char what[] = "TLS PSK identity";
    g_auto(GStrv) tok = NULL;
    size_t ntok, want;

    memset(id, 0, sizeof(*id));
    if (!str || strncmp(str, "NVMe", 4)) {
        g_set_error(errp, NVMET_ERROR, 0, "%s must start with 'NVMe'", what);
        return false;
    }
    if (strlen(str) >= NVMET_PSK_IDENTITY_SIZE) {
        g_set_error(errp, NVMET_ERROR, 0, "%s is too long (%zu bytes)", what,
                    strlen(str));
        return false;
    }
    if (str[4] != '0' && str[4] != '1') {
        g_set_error(errp, NVMET_ERROR, 0,
                    "%s: unsupported version '%c' (0 or 1)", what,
                    g_ascii_isprint(str[4]) ? str[4] : '?');
        return false;
    }
    if (str[5] != 'R' && str[5] != 'G') {
        g_set_error(errp, NVMET_ERROR, 0,
                    "%s: PSK type must be R (retained) or G (generated)",
                    what);
        return false;
    }
    if (!g_ascii_isdigit(str[6]) || !g_ascii_isdigit(str[7])) {
        g_set_error(errp, NVMET_ERROR, 0,
                    "%s: expected a two-digit hash identifier after '%.6s'",
                    what, str);
        return false;
    }
    id->version = str[4] - '0';
    id->generated = str[5] == 'G';
    id->hash = (str[6] - '0') * 10 + (str[7] - '0');
    if (!tls_hash_ok(what, id->hash, errp)) {
        goto fail;
    }
    if (str[8] != ' ') {
        g_set_error(errp, NVMET_ERROR, 0,
                    "%s: expected a space after '%.8s'", what, str);
        goto fail;
    }
    tok = g_strsplit(str + 9, " ", -1);
    ntok = g_strv_length(tok);
    want = id->version ? 3 : 2;
    if (ntok != want) {
        g_set_error(errp, NVMET_ERROR, 0,
                    "%s: version %u needs %s separated by single spaces "
                    "(got %zu fields)", what, id->version,
                    id->version ? "host NQN, subsystem NQN and PSK digest"
                                : "host NQN and subsystem NQN", ntok);
        goto fail;
    }
    for (size_t i = 0; i < ntok; i++) {
        if (!tok[i][0]) {
            g_set_error(errp, NVMET_ERROR, 0,
                        "%s: empty field (fields are separated by single "
                        "spaces)", what);
            goto fail;
        }
    }
    if (!nqn_ok("TLS PSK identity host", tok[0], errp) ||
        !nqn_ok("TLS PSK identity subsystem", tok[1], errp)) {
        goto fail;
    }
    g_strlcpy(id->hostnqn, tok[0], sizeof(id->hostnqn));
    g_strlcpy(id->subnqn, tok[1], sizeof(id->subnqn));
    if (id->version) {
        if (!digest_ok(what, id->hash, tok[2], errp)) {
            goto fail;
        }
        g_strlcpy(id->digest, tok[2], sizeof(id->digest));
    }
    return true;

fail:
    memset(id, 0, sizeof(*id));
    return false;
}

/* @out: NVMET_PSK_IDENTITY_SIZE bytes. */
bool nvmet_psk_identity_format(const NvmetPskIdentity *id, char *out,
                               GError **errp)
{
    if (!identity_ok(id, errp)) {
        return false;
    }
    /* identity_ok() checked version and hash: single digits */
    snprintf(out, NVMET_PSK_IDENTITY_SIZE, "NVMe%c%c0%c %s %s%s%s",
             '0' + id->version, id->generated ? 'G' : 'R', '0' + id->hash,
             id->hostnqn, id->subnqn, id->version ? " " : "", id->digest);
    return true;
}

/* ---- derivations --------------------------------------------------------- */

/*
 * The PSK digest of identity version 1 (@out: NVMET_PSK_DIGEST_SIZE):
 * base64(HMAC(PSK, NQNh || " " || NQNc || " " || "NVMe-over-Fabrics")),
 * 44 characters for SHA-256, 64 for SHA-384 (nvme_auth_generate_digest).
 */
bool nvmet_psk_digest(uint8_t hid, const uint8_t *psk, size_t len,
                      const char *hostnqn, const char *subnqn, char *out,
                      GError **errp)
{
    static const char what[] = "PSK digest";
    static const char sep[] = " ";
    static const char tail[] = " NVMe-over-Fabrics";
    uint8_t mac[NVMET_MAX_HASH_LEN];
    NvmetBuf parts[4];

    if (!tls_hash_ok(what, hid, errp) ||
        !psk_len_ok(what, hid, len, errp) ||
        !nqn_ok(what, hostnqn, errp) || !nqn_ok(what, subnqn, errp)) {
        return false;
    }
    parts[0] = (NvmetBuf) { hostnqn, strlen(hostnqn) };
    parts[1] = (NvmetBuf) { sep, 1 };
    parts[2] = (NvmetBuf) { subnqn, strlen(subnqn) };
    parts[3] = (NvmetBuf) { tail, sizeof(tail) - 1 };
    if (!nvmet_hmac(hid, psk, len, parts, 4, mac)) {
        g_set_error(errp, NVMET_ERROR, 0, "%s: HMAC failed", what);
        return false;
    }
    b64_encode(mac, nvmet_hash_len(hid), out);
    nvmet_memzero(mac, sizeof(mac));
    return true;
}

/*
 * The TLS PSK for identity @id from its input PSK @psk (retained or
 * generated, hash-length): HKDF-Expand-Label(HKDF-Extract(0, PSK),
 * "nvme-tls-psk", context, L) with context "hh <digest>" for version 1
 * (Linux nvme_auth_derive_tls_psk, libnvme derive_tls_key) and the whole
 * identity for version 0 (libnvme derive_tls_key).  @out: hash length.
 */
static bool derive_tls_psk(const NvmetPskIdentity *id, const uint8_t *psk,
                           size_t len, int form, uint8_t *out,
                           GError **errp)
{
    char ctx[NVMET_PSK_IDENTITY_SIZE];
    uint8_t prk[NVMET_MAX_HASH_LEN];
    size_t hlen, ctx_len;
    bool ok;

    if (!identity_ok(id, errp) ||
        !psk_len_ok("TLS PSK", id->hash, len, errp)) {
        return false;
    }
    hlen = nvmet_hash_len(id->hash);
    if (id->version) {
        ctx_len = snprintf(ctx, sizeof(ctx), "%02u %s", id->hash,
                           id->digest);
    } else {
        nvmet_psk_identity_format(id, ctx, NULL);
        ctx_len = strlen(ctx);
    }
    if (ctx_len > 255) {
        /* the HkdfLabel context is opaque<0..255> (RFC 8446 7.1) */
        g_set_error(errp, NVMET_ERROR, 0,
                    "TLS PSK: the version 0 identity is %zu bytes long, "
                    "more than an HKDF label context can hold (255)",
                    ctx_len);
        return false;
    }
    ok = nvmet_hkdf_extract(id->hash, psk, len, prk) &&
         expand_label(form, id->hash, prk, hlen, PSK_LABEL_TLS, ctx,
                      ctx_len, out, hlen);
    nvmet_memzero(prk, sizeof(prk));
    if (!ok) {
        nvmet_memzero(out, hlen);
        g_set_error(errp, NVMET_ERROR, 0, "TLS PSK: HKDF failed");
    }
    return ok;
}

bool nvmet_psk_tls_psk(const NvmetPskIdentity *id, const uint8_t *psk,
                       size_t len, uint8_t *out, GError **errp)
{
    return derive_tls_psk(id, psk, len, LABEL_RFC8446, out, errp);
}

/*
 * The generated PSK of secure channel concatenation, HMAC(Ks, C1 || C2)
 * with the hash of the DH-HMAC-CHAP transaction (C1, C2 and @out are
 * hash-length; Linux nvme_auth_generate_psk).  Any DH-HMAC-CHAP hash is
 * accepted here; SHA-512 is refused by the digest and TLS PSK steps.
 */
bool nvmet_psk_generate(uint8_t hid, const uint8_t *skey, size_t skey_len,
                        const uint8_t *c1, const uint8_t *c2, uint8_t *out,
                        GError **errp)
{
    size_t hlen = nvmet_hash_len(hid);
    NvmetBuf parts[2];

    if (!hlen) {
        g_set_error(errp, NVMET_ERROR, 0,
                    "generated PSK: unknown hash identifier %u", hid);
        return false;
    }
    if (!skey || !skey_len) {
        g_set_error(errp, NVMET_ERROR, 0,
                    "generated PSK: no DH session key (secure channel "
                    "concatenation needs a DH group other than NULL)");
        return false;
    }
    parts[0] = (NvmetBuf) { c1, hlen };
    parts[1] = (NvmetBuf) { c2, hlen };
    if (!nvmet_hmac(hid, skey, skey_len, parts, 2, out)) {
        g_set_error(errp, NVMET_ERROR, 0, "generated PSK: HMAC failed");
        return false;
    }
    return true;
}

/* ---- chains -------------------------------------------------------------- */

/*
 * A configured PSK for the pair (@hostnqn, @subnqn): the identity of
 * @version (0 or 1, type R) to @id and its TLS PSK (hash-length) to
 * @tls_psk, as `nvme check-tls-key --insert` puts them into the keyring.
 */
bool nvmet_psk_configured_derive(const NvmetPsk *psk, uint8_t version,
                                 const char *hostnqn, const char *subnqn,
                                 NvmetPskIdentity *id, uint8_t *tls_psk,
                                 GError **errp)
{
    uint8_t ret[NVMET_PSK_MAX_LEN];
    bool ok = false;

    memset(id, 0, sizeof(*id));
    if (version > 1) {
        g_set_error(errp, NVMET_ERROR, 0,
                    "TLS PSK identity: unsupported version %u (0 or 1)",
                    version);
        return false;
    }
    if (!psk_ok(psk, errp) ||
        !nqn_ok("TLS PSK identity host", hostnqn, errp) ||
        !nqn_ok("TLS PSK identity subsystem", subnqn, errp)) {
        return false;
    }
    id->version = version;
    id->hash = nvmet_psk_hash(psk);
    g_strlcpy(id->hostnqn, hostnqn, sizeof(id->hostnqn));
    g_strlcpy(id->subnqn, subnqn, sizeof(id->subnqn));
    if (!nvmet_psk_retained(psk, hostnqn, ret, errp)) {
        goto out;
    }
    if (version &&
        !nvmet_psk_digest(id->hash, ret, psk->len, hostnqn, subnqn,
                          id->digest, errp)) {
        goto out;
    }
    ok = derive_tls_psk(id, ret, psk->len,
                        psk->compat ? LABEL_LIBNVME_113 : LABEL_RFC8446,
                        tls_psk, errp);
out:
    nvmet_memzero(ret, sizeof(ret));
    return ok;
}

/*
 * The TLS PSK for a presented identity @id (type R) made from the
 * configured PSK @psk: the hashes must agree and, in version 1, the digest
 * must be the one of this PSK and NQN pair (compared in constant time).
 */
bool nvmet_psk_configured_match(const NvmetPsk *psk,
                                const NvmetPskIdentity *id,
                                uint8_t *tls_psk, GError **errp)
{
    char digest[NVMET_PSK_DIGEST_SIZE];
    uint8_t ret[NVMET_PSK_MAX_LEN];
    bool ok = false;

    if (!psk_ok(psk, errp) || !identity_ok(id, errp)) {
        return false;
    }
    if (id->generated) {
        g_set_error(errp, NVMET_ERROR, 0,
                    "TLS PSK identity names a generated PSK, not a "
                    "configured one");
        return false;
    }
    if (id->hash != nvmet_psk_hash(psk)) {
        g_set_error(errp, NVMET_ERROR, 0,
                    "TLS PSK identity hash %02u does not match the "
                    "configured PSK's (%02u)", id->hash,
                    nvmet_psk_hash(psk));
        return false;
    }
    if (!nvmet_psk_retained(psk, id->hostnqn, ret, errp)) {
        goto out;
    }
    if (id->version) {
        if (!nvmet_psk_digest(id->hash, ret, psk->len, id->hostnqn,
                              id->subnqn, digest, errp)) {
            goto out;
        }
        if (!nvmet_memeq_ct(digest, id->digest, digest_chars(id->hash))) {
            g_set_error(errp, NVMET_ERROR, 0,
                        "TLS PSK identity: the PSK digest does not match "
                        "(different PSK or NQNs)");
            goto out;
        }
    }
    ok = derive_tls_psk(id, ret, psk->len,
                        psk->compat ? LABEL_LIBNVME_113 : LABEL_RFC8446,
                        tls_psk, errp);
out:
    nvmet_memzero(ret, sizeof(ret));
    nvmet_memzero(digest, sizeof(digest));
    return ok;
}

/*
 * Secure channel concatenation (NEWTLSPSK / REPLACETLSPSK): from the
 * DH-HMAC-CHAP session key and challenges, the generated PSK, its
 * "NVMe1Ghh" identity (to @id) and the TLS PSK (hash-length, to @tls_psk),
 * as Linux's nvme_auth_secure_concat() and nvmet_auth_insert_psk() do.
 */
static bool concat_derive(int form, uint8_t hid, const uint8_t *skey,
                          size_t skey_len, const uint8_t *c1,
                          const uint8_t *c2, const char *hostnqn,
                          const char *subnqn, NvmetPskIdentity *id,
                          uint8_t *tls_psk, GError **errp)
{
    uint8_t psk[NVMET_MAX_HASH_LEN];
    size_t hlen = nvmet_hash_len(hid);
    bool ok = false;

    memset(id, 0, sizeof(*id));
    if (!tls_hash_ok("secure channel concatenation", hid, errp) ||
        !nqn_ok("TLS PSK identity host", hostnqn, errp) ||
        !nqn_ok("TLS PSK identity subsystem", subnqn, errp)) {
        return false;
    }
    id->version = 1;
    id->generated = true;
    id->hash = hid;
    g_strlcpy(id->hostnqn, hostnqn, sizeof(id->hostnqn));
    g_strlcpy(id->subnqn, subnqn, sizeof(id->subnqn));
    ok = nvmet_psk_generate(hid, skey, skey_len, c1, c2, psk, errp) &&
         nvmet_psk_digest(hid, psk, hlen, hostnqn, subnqn, id->digest,
                          errp) &&
         derive_tls_psk(id, psk, hlen, form, tls_psk, errp);
    nvmet_memzero(psk, sizeof(psk));
    if (!ok) {
        memset(id, 0, sizeof(*id));
    }
    return ok;
}

bool nvmet_psk_concat_derive(uint8_t hid, const uint8_t *skey,
                             size_t skey_len, const uint8_t *c1,
                             const uint8_t *c2, const char *hostnqn,
                             const char *subnqn, NvmetPskIdentity *id,
                             uint8_t *tls_psk, GError **errp)
{
    return concat_derive(LABEL_RFC8446, hid, skey, skey_len, c1, c2, hostnqn,
                         subnqn, id, tls_psk, errp);
}

/* The same as a Linux 6.15 .. 6.17 host derives it (see the top) */
bool nvmet_psk_concat_derive_legacy(uint8_t hid, const uint8_t *skey,
                                    size_t skey_len, const uint8_t *c1,
                                    const uint8_t *c2, const char *hostnqn,
                                    const char *subnqn, NvmetPskIdentity *id,
                                    uint8_t *tls_psk, GError **errp)
{
    return concat_derive(LABEL_LINUX_617, hid, skey, skey_len, c1, c2,
                         hostnqn, subnqn, id, tls_psk, errp);
}
