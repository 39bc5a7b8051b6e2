/*
 * Fuzzing harness: building blocks of valid inputs (see fuzz-templates.h).
 * The argument layouts follow the operation decoders in fuzz-nvmet.c.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#include <string.h>

#include "nvmet/fault.h"
#include "nvmet/proto.h"
#include "fuzz-nvmet.h"
#include "fuzz-templates.h"

uint64_t fuzz_rand(uint64_t *state)
{
    uint64_t z = (*state += 0x9e3779b97f4a7c15ull);

    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

void fuzz_tpl_op(GByteArray *b, uint8_t op, const uint8_t *args, size_t n)
{
    g_byte_array_append(b, &op, 1);
    if (n) {
        g_byte_array_append(b, args, n);
    }
}

void fuzz_tpl_raw(GByteArray *b, const uint8_t *p, size_t len, uint8_t chunk)
{
    while (len) {
        size_t n = MIN(len, 2047);
        uint8_t hdr[3];

        if (n <= 256 && !chunk) {
            hdr[0] = n - 1;
            fuzz_tpl_op(b, FUZZ_OP_RAW, hdr, 1);
        } else {
            nvmet_st16(hdr, n);
            hdr[2] = chunk ? chunk - 1 : 255;
            fuzz_tpl_op(b, FUZZ_OP_RAW_CHUNKED, hdr, 3);
        }
        g_byte_array_append(b, p, n);
        p += n;
        len -= n;
    }
}

void fuzz_tpl_raw_icreq(GByteArray *b, bool hdgst, bool ddgst)
{
    uint8_t p[NVME_TCP_ICREQ_HLEN] = { NVME_TCP_PDU_ICREQ };

    p[NVME_TCP_CH_HLEN] = NVME_TCP_ICREQ_HLEN;
    nvmet_st32(p + NVME_TCP_CH_PLEN, NVME_TCP_ICREQ_HLEN);
    p[NVME_TCP_IC_DGST] = (hdgst ? NVME_TCP_IC_DGST_HDR : 0) |
                          (ddgst ? NVME_TCP_IC_DGST_DATA : 0);
    fuzz_tpl_raw(b, p, sizeof(p), 0);
}

/* A capsule without digests; @data goes in the capsule. */
static void raw_capsule(GByteArray *b, const uint8_t *sqe, const uint8_t *data,
                        size_t len, uint8_t chunk)
{
    g_autofree uint8_t *p = g_malloc0(NVME_TCP_CMD_HLEN + len);

    p[NVME_TCP_CH_TYPE] = NVME_TCP_PDU_CMD;
    p[NVME_TCP_CH_HLEN] = NVME_TCP_CMD_HLEN;
    p[NVME_TCP_CH_PDO] = len ? NVME_TCP_CMD_HLEN : 0;
    nvmet_st32(p + NVME_TCP_CH_PLEN, NVME_TCP_CMD_HLEN + len);
    memcpy(p + NVME_TCP_CMD_SQE, sqe, NVME_SQE_SIZE);
    if (len) {
        memcpy(p + NVME_TCP_CMD_HLEN, data, len);
    }
    fuzz_tpl_raw(b, p, NVME_TCP_CMD_HLEN + len, chunk);
}

void fuzz_tpl_raw_connect(GByteArray *b, uint16_t qid, uint16_t cntlid,
                          const char *subnqn, const char *hostnqn)
{
    uint8_t sqe[NVME_SQE_SIZE] = { NVME_FABRICS_COMMAND, 0x40 };
    uint8_t data[NVME_CONNECT_DATA_LEN] = { 0 };

    nvmet_st16(sqe + NVME_SQE_CID, 1);
    sqe[NVME_SQE_FCTYPE] = NVME_FCTYPE_CONNECT;
    sqe[NVME_SQE_DPTR + NVME_SGL_ID] = NVME_SGL_ID_DATA_OFFSET;
    nvmet_st32(sqe + NVME_SQE_DPTR + NVME_SGL_LEN, sizeof(data));
    nvmet_st16(sqe + NVME_CONNECT_QID, qid);
    nvmet_st16(sqe + NVME_CONNECT_SQSIZE, 31);
    nvmet_st32(sqe + NVME_CONNECT_KATO, 5000);
    memset(data, 0x5a, 16);
    nvmet_st16(data + NVME_CONNECT_DATA_CNTLID, cntlid);
    strncpy((char *)data + NVME_CONNECT_DATA_SUBNQN, subnqn, 255);
    strncpy((char *)data + NVME_CONNECT_DATA_HOSTNQN, hostnqn, 255);
    raw_capsule(b, sqe, data, sizeof(data), 200);
}

void fuzz_tpl_raw_prop_set(GByteArray *b, uint16_t cid, uint32_t off,
                           uint32_t val)
{
    uint8_t sqe[NVME_SQE_SIZE] = { NVME_FABRICS_COMMAND, 0x40 };

    nvmet_st16(sqe + NVME_SQE_CID, cid);
    sqe[NVME_SQE_FCTYPE] = NVME_FCTYPE_PROP_SET;
    nvmet_st32(sqe + NVME_PROP_OFFSET, off);
    nvmet_st64(sqe + NVME_PROP_VALUE, val);
    raw_capsule(b, sqe, NULL, 0, 0);
}

void fuzz_tpl_raw_identify(GByteArray *b, uint16_t cid, uint8_t cns,
                           uint32_t nsid)
{
    uint8_t sqe[NVME_SQE_SIZE] = { NVME_ADM_IDENTIFY, 0x40 };

    nvmet_st16(sqe + NVME_SQE_CID, cid);
    nvmet_st32(sqe + NVME_SQE_NSID, nsid);
    sqe[NVME_SQE_DPTR + NVME_SGL_ID] = NVME_SGL_ID_TRANSPORT;
    nvmet_st32(sqe + NVME_SQE_DPTR + NVME_SGL_LEN, NVME_IDENTIFY_DATA_SIZE);
    sqe[NVME_SQE_CDW10] = cns;
    raw_capsule(b, sqe, NULL, 0, 0);
}

/* OP_ADMIN: sel, ctl, cdw10..15, [dlen] */
static void admin_op(GByteArray *b, uint8_t sel, uint8_t ctl, uint32_t cdw10,
                     uint32_t cdw11, uint16_t dlen)
{
    uint8_t a[2 + 24 + 2] = { sel, ctl };
    size_t n = 2 + 24;

    nvmet_st32(a + 2, cdw10);
    nvmet_st32(a + 6, cdw11);
    if (!(ctl & 4)) {
        nvmet_st16(a + n, dlen);
        n += 2;
    }
    fuzz_tpl_op(b, FUZZ_OP_ADMIN, a, n);
}

void fuzz_tpl_identify(GByteArray *b, uint8_t cns, unsigned nsid_sel)
{
    admin_op(b, 0 | (nsid_sel & 3) << 4, 4 | 8, cns, 0, 0);
}

void fuzz_tpl_get_log(GByteArray *b, uint8_t lid, uint32_t numd,
                      unsigned nsid_sel)
{
    admin_op(b, 1 | (nsid_sel & 3) << 4, 0,
             lid | ((numd - 1) & 0xffff) << 16, 0, numd * 4);
}

void fuzz_tpl_features(GByteArray *b, bool set, uint8_t fid, uint32_t cdw11)
{
    admin_op(b, set ? 2 : 3, 0, fid, cdw11, 0);
}

void fuzz_tpl_admin(GByteArray *b, unsigned sel)
{
    admin_op(b, sel, 0, 0, 0, 0);
}

/* OP_IO: sel, ctl, slba, nlb, hi, skew */
void fuzz_tpl_rw(GByteArray *b, uint8_t sel, uint8_t ctl, uint8_t slba,
                 uint8_t nlb)
{
    uint8_t a[6] = { sel, ctl & ~8, slba, nlb, 0, 0 };

    fuzz_tpl_op(b, FUZZ_OP_IO, a, sizeof(a));
}

/* OP_FABRICS 1/2: b selects offset and value */
void fuzz_tpl_prop(GByteArray *b, bool set, uint8_t b0)
{
    uint8_t a[2] = { set ? 2 : 1, b0 & ~0xb0 };

    fuzz_tpl_op(b, FUZZ_OP_FABRICS, a, sizeof(a));
}

/* OP_FABRICS 5: ctl, tid, b, nhash, ngroup */
void fuzz_tpl_negotiate(GByteArray *b, uint16_t tid, uint8_t hash,
                        uint8_t group)
{
    uint8_t a[7] = { 5, 0, tid, tid >> 8, 0, hash, group };

    fuzz_tpl_op(b, FUZZ_OP_FABRICS, a, sizeof(a));
}

/* OP_FABRICS 4: ctl, al */
void fuzz_tpl_auth_recv(GByteArray *b, uint16_t al)
{
    uint8_t a[4] = { 4, 0, al, al >> 8 };

    fuzz_tpl_op(b, FUZZ_OP_FABRICS, a, sizeof(a));
}

/* OP_FABRICS 8: f, g, tid */
void fuzz_tpl_host_auth(GByteArray *b, uint8_t f, uint8_t g, uint16_t tid)
{
    uint8_t a[5] = { 8, f, g, tid, tid >> 8 };

    fuzz_tpl_op(b, FUZZ_OP_FABRICS, a, sizeof(a));
}

/* OP_FABRICS 0: plain or auth subsystem, host 1, admin or I/O queue 1 */
void fuzz_tpl_connect(GByteArray *b, uint8_t ctl)
{
    uint8_t a[3] = { 0, (ctl & 1) | (ctl & 0x10), 1 };

    fuzz_tpl_op(b, FUZZ_OP_FABRICS, a, ctl & 0x10 ? 3 : 2);
}

void fuzz_tpl_conn(GByteArray *b, uint8_t sub, uint8_t arg)
{
    uint8_t a[2] = { sub, arg };

    fuzz_tpl_op(b, FUZZ_OP_CONN, a, sizeof(a));
}

void fuzz_tpl_clock(GByteArray *b, uint8_t arg)
{
    fuzz_tpl_op(b, FUZZ_OP_CLOCK, &arg, 1);
}

void fuzz_tpl_held(GByteArray *b, uint8_t arg)
{
    fuzz_tpl_op(b, FUZZ_OP_HELD, &arg, 1);
}

void fuzz_tpl_h2c(GByteArray *b, uint8_t ctl)
{
    fuzz_tpl_op(b, FUZZ_OP_H2C, &ctl, 1);
}

/* ---- TLS ---------------------------------------------------------------- */

void fuzz_tpl_tls(GByteArray *b, uint8_t sub, const uint8_t *args, size_t n)
{
    uint8_t op[2] = { FUZZ_OP_TLS, sub };

    g_byte_array_append(b, op, 2);
    if (n) {
        g_byte_array_append(b, args, n);
    }
}

void fuzz_tpl_tls_session(GByteArray *b, const FuzzTplSession *s)
{
    uint8_t a[16];
    size_t n = 0;

    a[n++] = s->a;
    a[n++] = s->b;
    if (s->a & FUZZ_TLS_A_OPTS) {
        a[n++] = s->opts;
        if (s->opts & FUZZ_TLS_O_MANGLE(7)) {
            a[n++] = s->mg_at;
            a[n++] = s->mg_arg;
            a[n++] = s->mg_arg >> 8;
            a[n++] = s->mg_arg2;
        }
        if (s->opts & FUZZ_TLS_O_CHUNK) {
            a[n++] = s->chunk;
        }
    }
    fuzz_tpl_tls(b, FUZZ_TLS_SESSION, a, n);
    if (((s->a >> 1) & 7) == FUZZ_PSK_RAW && (s->b & 7) != FUZZ_TLS_LVL_NONE &&
        (s->b & 7) != FUZZ_TLS_LVL_CLEAR) {
        g_byte_array_append(b, &s->id_len, 1);
        if (s->id_len) {
            g_byte_array_append(b, s->identity, s->id_len);
        }
    }
}

void fuzz_tpl_tls_simple(GByteArray *b, uint8_t psk, uint8_t sub,
                         uint8_t level)
{
    FuzzTplSession s = {
        .a = FUZZ_TLS_A_PSK(psk) | FUZZ_TLS_A_SUB(sub),
        .b = level,
    };

    fuzz_tpl_tls_session(b, &s);
}

void fuzz_tpl_tls_mangle(GByteArray *b, uint8_t kind, uint8_t at,
                         uint16_t arg, uint8_t arg2)
{
    uint8_t a[5] = { kind, at, arg, arg >> 8, arg2 };

    fuzz_tpl_tls(b, FUZZ_TLS_MANGLE, a, sizeof(a));
}

void fuzz_tpl_tls_release(GByteArray *b, uint8_t chunk)
{
    fuzz_tpl_tls(b, FUZZ_TLS_RELEASE, &chunk, 1);
}

void fuzz_tpl_tls_ctl(GByteArray *b, uint8_t what, uint8_t arg)
{
    uint8_t a[2] = { what, arg };

    fuzz_tpl_tls(b, FUZZ_TLS_CTL, a, sizeof(a));
}

void fuzz_tpl_tls_hostpsk(GByteArray *b, uint8_t arg)
{
    fuzz_tpl_tls(b, FUZZ_TLS_HOSTPSK, &arg, 1);
}

void fuzz_tpl_tls_concat(GByteArray *b, uint8_t f, uint16_t tid)
{
    uint8_t a[3] = { f, tid, tid >> 8 };

    fuzz_tpl_tls(b, FUZZ_TLS_CONCAT, a, sizeof(a));
}

void fuzz_tpl_tls_record(GByteArray *b, uint8_t h, uint16_t declared,
                         const uint8_t *body, uint8_t len)
{
    uint8_t a[5] = { 0, h & ~0xa0 };      /* one record */
    size_t n = 2;

    /* one record; the body from the input, no alert shortcut */
    if (h & 0x10) {
        a[n++] = declared;
        a[n++] = declared >> 8;
    }
    a[n++] = len;
    fuzz_tpl_tls(b, FUZZ_TLS_RECORDS, a, n);
    if (h & 0x40) {
        g_byte_array_append(b, (const uint8_t[]){ 1 }, 1);  /* ClientHello */
    }
    if (len) {
        g_byte_array_append(b, body, len);
    }
}

/* A session that gets somewhere: mostly the configured or generated PSK. */
static void tls_tpl_session(GByteArray *b, uint64_t *rng, bool deep)
{
    static const uint8_t psks[8] = {
        FUZZ_PSK_HOST3, FUZZ_PSK_HOST3, FUZZ_PSK_HOST3, FUZZ_PSK_GEN,
        FUZZ_PSK_HOST1, FUZZ_PSK_HOST3, FUZZ_PSK_GEN, FUZZ_PSK_HOST3,
    };
    static const uint8_t levels[8] = {
        FUZZ_TLS_LVL_ENABLE, FUZZ_TLS_LVL_IO, FUZZ_TLS_LVL_IO,
        FUZZ_TLS_LVL_ENABLE, FUZZ_TLS_LVL_CONNECT, FUZZ_TLS_LVL_ICREQ,
        FUZZ_TLS_LVL_HANDSHAKE, FUZZ_TLS_LVL_HELLO,
    };
    uint64_t r = fuzz_rand(rng);
    FuzzTplSession s = { 0 };
    uint8_t x = r >> 8, y = r >> 16, z = r >> 24;

    s.a = FUZZ_TLS_A_PSK(psks[x & 7]) | FUZZ_TLS_A_SUB((x >> 3) % 3) |
          (y & 1 ? FUZZ_TLS_A_REQUIRED : 0) | (y & 2 ? FUZZ_TLS_A_V0 : 0);
    s.b = (deep ? levels[(y >> 2) & 3] : levels[(y >> 2) & 7]) |
          (y & 0x60 ? 0 : FUZZ_TLS_B_HDGST | FUZZ_TLS_B_DDGST);
    if (z & 3) {
        fuzz_tpl_tls_session(b, &s);
        return;
    }
    s.a |= FUZZ_TLS_A_OPTS;
    s.opts = (z >> 2) & 7;                          /* RSL, ECDHE */
    if (!deep && (z & 0x20)) {
        s.opts |= FUZZ_TLS_O_MANGLE(1 + (r >> 32) % 7);
        s.mg_at = (r >> 40) & 3;
        s.mg_arg = r >> 44;
        s.mg_arg2 = r >> 56;
    }
    if (z & 0x40) {
        s.opts |= FUZZ_TLS_O_CHUNK;
        s.chunk = (r >> 36) & 0x3f;
    }
    fuzz_tpl_tls_session(b, &s);
}

void fuzz_tpl_tls_start(GByteArray *b, uint64_t *rng)
{
    tls_tpl_session(b, rng, true);
}

void fuzz_tpl_tls_random(GByteArray *b, uint64_t *rng)
{
    uint64_t r = fuzz_rand(rng);
    uint8_t x = r >> 8, y = r >> 16, z = r >> 24;
    uint8_t body[24];

    switch (r % 14) {
    case 0:
    case 1:
        tls_tpl_session(b, rng, false);
        break;
    case 2: {
        /* any session, from the whole space */
        FuzzTplSession s = { .a = x & ~FUZZ_TLS_A_OPTS, .b = y };

        if (((s.a >> 1) & 7) == FUZZ_PSK_RAW) {
            static const char *ids[4] = {
                "NVMe1R01 ", "NVMe0G02 x y", "NVMe1G01 a b c", "NVMe",
            };

            s.identity = (const uint8_t *)ids[z & 3];
            s.id_len = strlen(ids[z & 3]);
        }
        fuzz_tpl_tls_session(b, &s);
        break;
    }
    case 3: {
        /* cleartext on the TLS port, then concatenation */
        FuzzTplSession s = {
            .a = FUZZ_TLS_A_PSK(FUZZ_PSK_HOST1) |
                 FUZZ_TLS_A_SUB(FUZZ_TLS_SUB_AUTH),
            .b = FUZZ_TLS_LVL_CLEAR | (x & FUZZ_TLS_B_ENABLE),
        };

        fuzz_tpl_tls_session(b, &s);
        fuzz_tpl_tls_concat(b, y & 0x2e, z);
        break;
    }
    case 4:
        fuzz_tpl_tls_concat(b, x, y);
        break;
    case 5:
    case 6:
        fuzz_tpl_tls_mangle(b, 1 + x % 7, y & 3, r >> 32, z);
        break;
    case 7:
        fuzz_tpl_tls_release(b, x & 0x1f);
        break;
    case 8:
        fuzz_tpl_tls_ctl(b, x, y);
        break;
    case 9:
        for (unsigned i = 0; i < sizeof(body); i++) {
            body[i] = fuzz_rand(rng);
        }
        fuzz_tpl_tls_record(b, x, y | z << 8, body, z % sizeof(body));
        break;
    case 10:
        fuzz_tpl_tls_hostpsk(b, x);
        break;
    case 11:
        fuzz_tpl_tls(b, FUZZ_TLS_CONTINUE, NULL, 0);
        break;
    case 12: {
        /* a ClientHello, then raw bytes */
        uint8_t raw[8];

        fuzz_tpl_tls_simple(b, FUZZ_PSK_HOST3, x & 1, FUZZ_TLS_LVL_HELLO);
        for (unsigned i = 0; i < sizeof(raw); i++) {
            raw[i] = fuzz_rand(rng);
        }
        raw[0] = y & 1 ? 0x17 : raw[0];
        fuzz_tpl_raw(b, raw, 1 + z % sizeof(raw), 0);
        break;
    }
    default:
        /* a bare connection on a TLS port */
        fuzz_tpl_tls_simple(b, 0, 0, FUZZ_TLS_LVL_NONE);
        break;
    }
}

void fuzz_tpl_fault(GByteArray *b, uint8_t sub, uint8_t step, uint8_t act,
                    uint8_t when, uint8_t flt, const uint8_t *params)
{
    uint8_t a[9] = { sub, step, act, when, flt };

    memcpy(a + 5, params, 4);
    fuzz_tpl_op(b, FUZZ_OP_FAULT, a, sizeof(a));
}

void fuzz_tpl_fault_random(GByteArray *b, uint64_t *rng)
{
    /* steps and actions that go together (fault.c says which) */
    static const uint8_t pairs[][2] = {
        { NVMET_FP_PDU_ICREQ, NVMET_FA_C2H_TERM },
        { NVMET_FP_PDU_ICRESP, NVMET_FA_DELAY },
        { NVMET_FP_PDU_ICRESP, NVMET_FA_DROP },
        { NVMET_FP_PDU_CAPSULE_CMD, NVMET_FA_C2H_TERM },
        { NVMET_FP_PDU_CAPSULE_CMD, NVMET_FA_CLOSE },
        { NVMET_FP_PDU_CAPSULE_RESP, NVMET_FA_CORRUPT_HDGST },
        { NVMET_FP_PDU_CAPSULE_RESP, NVMET_FA_DROP },
        { NVMET_FP_PDU_H2C_DATA, NVMET_FA_C2H_TERM },
        { NVMET_FP_PDU_C2H_DATA, NVMET_FA_CORRUPT_DDGST },
        { NVMET_FP_PDU_C2H_DATA, NVMET_FA_CORRUPT_HDGST },
        { NVMET_FP_PDU_C2H_DATA, NVMET_FA_DROP },
        { NVMET_FP_PDU_R2T, NVMET_FA_WITHHOLD_R2T },
        { NVMET_FP_PDU_R2T, NVMET_FA_DELAY },
        { NVMET_FP_PDU_R2T, NVMET_FA_CORRUPT_HDGST },
        { NVMET_FP_PDU_C2H_TERM, NVMET_FA_DROP },
        { NVMET_FP_PDU_C2H_TERM, NVMET_FA_C2H_TERM },
        { NVMET_FP_CONNECT_ADMIN, NVMET_FA_STATUS },
        { NVMET_FP_CONNECT_IO, NVMET_FA_STATUS },
        { NVMET_FP_CONNECT_IO, NVMET_FA_DELAY },
        { NVMET_FP_PROPERTY_GET, NVMET_FA_DROP },
        { NVMET_FP_CC_ENABLE, NVMET_FA_STATUS },
        { NVMET_FP_CC_DISABLE, NVMET_FA_CLOSE },
        { NVMET_FP_SHUTDOWN, NVMET_FA_DELAY },
        { NVMET_FP_ADMIN_CMD, NVMET_FA_AEN },
        { NVMET_FP_ADMIN_CMD, NVMET_FA_STATUS },
        { NVMET_FP_IO_CMD, NVMET_FA_STATUS },
        { NVMET_FP_IO_CMD, NVMET_FA_DELAY },
        { NVMET_FP_IO_CMD, NVMET_FA_DROP },
        { NVMET_FP_IO_CMD, NVMET_FA_CLOSE },
        { NVMET_FP_IO_CMD, NVMET_FA_C2H_TERM },
        { NVMET_FP_IO_CMD, NVMET_FA_AEN },
        { NVMET_FP_KEEP_ALIVE, NVMET_FA_IGNORE_KEEP_ALIVE },
        { NVMET_FP_AUTH_NEGOTIATE, NVMET_FA_AUTH_FAILURE },
        { NVMET_FP_AUTH_NEGOTIATE, NVMET_FA_REFUSE_REPLACE },
        { NVMET_FP_AUTH_CHALLENGE, NVMET_FA_AUTH_FAILURE },
        { NVMET_FP_AUTH_REPLY, NVMET_FA_AUTH_FAILURE },
        { NVMET_FP_AUTH_SUCCESS1, NVMET_FA_DELAY },
        { NVMET_FP_AUTH_SUCCESS2, NVMET_FA_AUTH_FAILURE },
        { NVMET_FP_AUTH_FAILURE2, NVMET_FA_DROP },
        { NVMET_FP_AUTH_SUCCESS, NVMET_FA_FORGET_TLS_KEY },
        { NVMET_FP_TLS_IDENTITY, NVMET_FA_TLS_ALERT },
        { NVMET_FP_TLS_HANDSHAKE, NVMET_FA_TLS_ALERT },
        { NVMET_FP_TLS_RECORD, NVMET_FA_CLOSE },
        { NVMET_FP_TLS_RECORD, NVMET_FA_TLS_ALERT },
        { NVMET_FP_PSK_GENERATE, NVMET_FA_FORGET_PSK },
        { NVMET_FP_PSK_REPLACE, NVMET_FA_CORRUPT_PSK },
    };
    uint64_t r = fuzz_rand(rng), r2 = fuzz_rand(rng);
    uint8_t params[4] = { 1 + r2 % 6, r2 >> 8, r2 >> 16, r2 >> 24 };
    unsigned i = (r >> 8) % G_N_ELEMENTS(pairs);
    uint8_t step = pairs[i][0], act = pairs[i][1];

    switch (r % 8) {
    case 0:
        /* delete a fault */
        fuzz_tpl_fault(b, 0x80 | ((r >> 16) & 0x47), 0, 0, 0, 0, params);
        return;
    case 1:
        /* anything: mostly refused */
        step = r >> 16;
        act = r >> 24;
        break;
    default:
        break;
    }
    /* the filters rarely: they mostly keep a fault from firing */
    fuzz_tpl_fault(b, 0, step, act, r >> 32,
                   (r >> 40) & 7 ? (r >> 48) & FUZZ_FLT_AFTER :
                   (uint8_t)(r >> 48), params);
}

void fuzz_tpl_random(GByteArray *b, uint64_t *rng)
{
    static const uint8_t cns[] = { 0, 1, 2, 3, 5, 6, 7, 8, 0x10, 0x11, 0x12,
                                   0x13, 0x1c };
    static const uint8_t lids[] = { 0, 1, 2, 3, 4, 5, 0x70, 0x0d };
    static const uint8_t fids[] = { 1, 2, 4, 5, 6, 7, 8, 9, 0x0a, 0x0b, 0x0f,
                                    0x16, 0x81 };
    uint64_t r = fuzz_rand(rng);
    uint8_t x = r >> 8, y = r >> 16, z = r >> 24;

    switch (r % 26) {
    case 0:
        fuzz_tpl_identify(b, cns[x % sizeof(cns)], y);
        break;
    case 1:
        fuzz_tpl_get_log(b, lids[x % sizeof(lids)], 1 + y % 256, z);
        break;
    case 2:
        fuzz_tpl_features(b, x & 1, fids[y % sizeof(fids)], z | r >> 32);
        break;
    case 3:
        fuzz_tpl_admin(b, 4 + x % 3);       /* AER, keep alive, abort */
        break;
    case 4:
    case 5:
    case 6:
        fuzz_tpl_rw(b, x, y & 3, z % 64, (r >> 32) % 16);
        break;
    case 7:
        fuzz_tpl_prop(b, x & 1, y);
        break;
    case 8:
        fuzz_tpl_negotiate(b, x, y, z);
        fuzz_tpl_auth_recv(b, 4096);
        break;
    case 9:
        fuzz_tpl_host_auth(b, x, y, z);
        break;
    case 10:
        fuzz_tpl_connect(b, x);
        break;
    case 11:
        fuzz_tpl_conn(b, x % 10, y);
        break;
    case 12:
    case 13:
        fuzz_tpl_clock(b, x);
        break;
    case 14:
        fuzz_tpl_held(b, x);
        break;
    case 15:
        fuzz_tpl_h2c(b, x & 0x0e);
        break;
    case 16:
        fuzz_tpl_raw_icreq(b, x & 1, x & 2);
        break;
    case 17:
        fuzz_tpl_raw_connect(b, x & 1 ? 1 : 0, x & 1 ? 1 : 0xffff,
                             y & 1 ? FUZZ_AUTH_SUBNQN : FUZZ_SUBNQN,
                             y & 1 ? FUZZ_HOSTNQN : FUZZ_HOSTNQN2);
        break;
    case 18:
        fuzz_tpl_raw_prop_set(b, x, 0x14, 0x00460001);
        break;
    case 19:
        fuzz_tpl_raw_identify(b, x, cns[y % sizeof(cns)], z & 3);
        break;
    case 20:
        fuzz_tpl_conn(b, 0, x);             /* new connection with ICReq */
        break;
    case 21:
        fuzz_tpl_conn(b, 1, x);             /* new I/O queue */
        break;
    case 22:
        fuzz_tpl_tls_random(b, rng);
        break;
    case 23:
        fuzz_tpl_fault_random(b, rng);
        break;
    default: {
        /* a few random bytes, raw */
        uint8_t raw[16];

        for (unsigned i = 0; i < sizeof(raw); i++) {
            raw[i] = fuzz_rand(rng);
        }
        fuzz_tpl_raw(b, raw, 1 + x % sizeof(raw), 0);
        break;
    }
    }
}
