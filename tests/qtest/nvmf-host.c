/*
 * A small NVMe/TCP host for tests and benchmarks (see nvmf-host.h).
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "nvmf-host.h"

#define MAX_PENDING 1024

typedef struct Pending {
    bool used, done;
    uint16_t cid;
    const uint8_t *out;
    size_t out_len;
    uint8_t *in;
    size_t in_len;
    size_t in_got;
    NvmfCqe cqe;
} Pending;

struct NvmfHost {
    NvmfTransport tr;
    char *err;
    bool eof;
    bool hdgst, ddgst;
    uint8_t cpda;
    uint32_t maxh2cdata;
    uint32_t incapsule;
    uint16_t qid;
    uint16_t next_cid;
    Pending pend[MAX_PENDING];
};

/* ---- a socket as the transport ------------------------------------------ */

static int fd_send(void *opaque, const void *buf, size_t len)
{
    int fd = *(int *)opaque;
    const uint8_t *p = buf;

    while (len) {
        ssize_t n = send(fd, p, len, MSG_NOSIGNAL);

        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n <= 0) {
            return -1;
        }
        p += n;
        len -= n;
    }
    return 0;
}

static ssize_t fd_recv(void *opaque, void *buf, size_t len)
{
    ssize_t n;

    do {
        n = recv(*(int *)opaque, buf, len, 0);
    } while (n < 0 && errno == EINTR);
    if (n < 0 && errno == ECONNRESET) {
        return 0;
    }
    return n;
}

NvmfTransport nvmf_fd_transport(int *fd)
{
    NvmfTransport tr = { fd_send, fd_recv, fd };

    return tr;
}

/* ---- CRC32C (table-driven, deliberately independent of the engine's) --- */

/*
 * Eight tables, eight bytes a step (t[k][b]: the CRC of byte b followed by
 * k zero bytes): the fuzzer computes digests for every PDU it frames, and a
 * byte at a time made that a third of its time on data-heavy inputs.
 */
uint32_t nvmf_crc32c_digest(const void *buf, size_t len)
{
    static uint32_t t[8][256];
    const uint8_t *p = buf;
    uint32_t crc = ~0u;

    if (!t[0][1]) {
        for (uint32_t i = 0; i < 256; i++) {
            uint32_t c = i;

            for (int k = 0; k < 8; k++) {
                c = (c & 1) ? (c >> 1) ^ 0x82f63b78u : c >> 1;
            }
            t[0][i] = c;
        }
        for (uint32_t i = 0; i < 256; i++) {
            for (int k = 1; k < 8; k++) {
                t[k][i] = t[0][t[k - 1][i] & 0xff] ^ (t[k - 1][i] >> 8);
            }
        }
    }
    for (; len >= 8; len -= 8, p += 8) {
        uint32_t lo = crc ^ (p[0] | p[1] << 8 | p[2] << 16 |
                             (uint32_t)p[3] << 24);

        crc = t[7][lo & 0xff] ^ t[6][(lo >> 8) & 0xff] ^
              t[5][(lo >> 16) & 0xff] ^ t[4][lo >> 24] ^
              t[3][p[4]] ^ t[2][p[5]] ^ t[1][p[6]] ^ t[0][p[7]];
    }
    while (len--) {
        crc = t[0][(crc ^ *p++) & 0xff] ^ (crc >> 8);
    }
    return ~crc;
}

/* ---- plumbing ------------------------------------------------------------------ */

static int fail(NvmfHost *h, const char *fmt, ...) G_GNUC_PRINTF(2, 3);
static int fail(NvmfHost *h, const char *fmt, ...)
{
    va_list ap;

    g_free(h->err);
    va_start(ap, fmt);
    h->err = g_strdup_vprintf(fmt, ap);
    va_end(ap);
    return -1;
}

const char *nvmf_host_error(NvmfHost *h)
{
    return h->err;
}

bool nvmf_host_eof(NvmfHost *h)
{
    return h->eof;
}

NvmfHost *nvmf_host_new(const NvmfTransport *tr)
{
    NvmfHost *h = g_new0(NvmfHost, 1);

    h->tr = *tr;
    h->next_cid = 1;
    return h;
}

void nvmf_host_free(NvmfHost *h)
{
    g_free(h->err);
    g_free(h);
}

void nvmf_host_set_incapsule(NvmfHost *h, uint32_t bytes)
{
    h->incapsule = bytes;
}

void nvmf_host_set_qid(NvmfHost *h, uint16_t qid)
{
    h->qid = qid;
}

uint32_t nvmf_host_maxh2cdata(NvmfHost *h)
{
    return h->maxh2cdata;
}

int nvmf_host_send_raw(NvmfHost *h, const void *buf, size_t len)
{
    if (h->tr.send(h->tr.opaque, buf, len) < 0) {
        return fail(h, "send failed");
    }
    return 0;
}

static int recv_exact(NvmfHost *h, void *buf, size_t len)
{
    uint8_t *p = buf;

    while (len) {
        ssize_t n = h->tr.recv(h->tr.opaque, p, len);

        if (n == 0) {
            h->eof = true;
            return fail(h, "connection closed by the target");
        }
        if (n < 0) {
            return fail(h, "receive failed");
        }
        p += n;
        len -= n;
    }
    return 0;
}

void nvmf_pdu_clear(NvmfPdu *pdu)
{
    g_free(pdu->data);
    memset(pdu, 0, sizeof(*pdu));
}

static bool pdu_has_hdgst(NvmfHost *h, uint8_t type)
{
    return h->hdgst && (type == NVME_TCP_PDU_RSP || type == NVME_TCP_PDU_R2T ||
                        type == NVME_TCP_PDU_C2H_DATA);
}

int nvmf_host_recv_pdu(NvmfHost *h, NvmfPdu *pdu)
{
    size_t hd, dd = 0, pad;
    uint8_t dg[4];

    memset(pdu, 0, sizeof(*pdu));
    if (recv_exact(h, pdu->hdr, NVME_TCP_CH_LEN) < 0) {
        return -1;
    }
    pdu->type = pdu->hdr[0];
    pdu->flags = pdu->hdr[1];
    pdu->hlen = pdu->hdr[2];
    pdu->pdo = pdu->hdr[3];
    pdu->plen = nvmet_ld32(pdu->hdr + 4);
    pdu->hdgst_ok = pdu->ddgst_ok = true;
    if (pdu->hlen < NVME_TCP_CH_LEN || pdu->hlen > NVME_TCP_ICRESP_HLEN ||
        pdu->plen < pdu->hlen) {
        return fail(h, "malformed PDU header: type %u hlen %u plen %u",
                    pdu->type, pdu->hlen, pdu->plen);
    }
    if (recv_exact(h, pdu->hdr + NVME_TCP_CH_LEN,
                   pdu->hlen - NVME_TCP_CH_LEN) < 0) {
        return -1;
    }
    hd = pdu_has_hdgst(h, pdu->type) ? 4 : 0;
    if (hd) {
        if (!(pdu->flags & NVME_TCP_F_HDGST)) {
            return fail(h, "PDU type %u lacks the HDGST flag", pdu->type);
        }
        if (recv_exact(h, dg, 4) < 0) {
            return -1;
        }
        pdu->hdgst_ok = nvmet_ld32(dg) ==
                        nvmf_crc32c_digest(pdu->hdr, pdu->hlen);
    }
    if (pdu->plen == pdu->hlen + hd) {
        return 0;
    }
    if (pdu->type == NVME_TCP_PDU_C2H_TERM) {
        /* the header in error follows directly */
        size_t n = pdu->plen - pdu->hlen;

        if (n > NVME_TCP_TERM_MAX_ERR_HDR) {
            return fail(h, "C2HTermReq too long");
        }
        pdu->data = g_malloc(n);
        pdu->data_len = n;
        return recv_exact(h, pdu->data, n);
    }
    if (pdu->type != NVME_TCP_PDU_C2H_DATA) {
        return fail(h, "PDU type %u with unexpected data (plen %u)",
                    pdu->type, pdu->plen);
    }
    if (h->ddgst) {
        if (!(pdu->flags & NVME_TCP_F_DDGST)) {
            return fail(h, "C2HData lacks the DDGST flag");
        }
        dd = 4;
    }
    if (pdu->pdo < pdu->hlen + hd || pdu->plen < pdu->pdo + dd) {
        return fail(h, "C2HData with bad PDO %u", pdu->pdo);
    }
    pad = pdu->pdo - pdu->hlen - hd;
    if (pad) {
        g_autofree uint8_t *skip = g_malloc(pad);

        if (recv_exact(h, skip, pad) < 0) {
            return -1;
        }
    }
    pdu->data_len = pdu->plen - pdu->pdo - dd;
    pdu->data = g_malloc(pdu->data_len);
    if (recv_exact(h, pdu->data, pdu->data_len) < 0) {
        return -1;
    }
    if (dd) {
        if (recv_exact(h, dg, 4) < 0) {
            return -1;
        }
        pdu->ddgst_ok = nvmet_ld32(dg) ==
                        nvmf_crc32c_digest(pdu->data, pdu->data_len);
    }
    return 0;
}

/* ---- connection initialisation --------------------------------------------- */

int nvmf_host_icreq(NvmfHost *h, bool hdgst, bool ddgst, uint8_t hpda)
{
    uint8_t req[NVME_TCP_ICREQ_HLEN] = { 0 };
    g_auto(NvmfPdu) pdu = { 0 };
    uint8_t dgst = (hdgst ? 1 : 0) | (ddgst ? 2 : 0);

    req[0] = NVME_TCP_PDU_ICREQ;
    req[2] = NVME_TCP_ICREQ_HLEN;
    nvmet_st32(req + 4, NVME_TCP_ICREQ_HLEN);
    nvmet_st16(req + NVME_TCP_IC_PFV, 0);
    req[NVME_TCP_ICREQ_HPDA] = hpda;
    req[NVME_TCP_IC_DGST] = dgst;
    nvmet_st32(req + NVME_TCP_ICREQ_MAXR2T, 0);
    if (nvmf_host_send_raw(h, req, sizeof(req)) < 0) {
        return -1;
    }
    if (nvmf_host_recv_pdu(h, &pdu) < 0) {
        return -1;
    }
    if (pdu.type != NVME_TCP_PDU_ICRESP || pdu.hlen != 128 ||
        pdu.plen != 128) {
        return fail(h, "expected ICResp, got type %u hlen %u plen %u",
                    pdu.type, pdu.hlen, pdu.plen);
    }
    if (nvmet_ld16(pdu.hdr + NVME_TCP_IC_PFV) != 0) {
        return fail(h, "ICResp PFV %u", nvmet_ld16(pdu.hdr + NVME_TCP_IC_PFV));
    }
    if (pdu.hdr[NVME_TCP_IC_DGST] != dgst) {
        return fail(h, "ICResp digest 0x%x, asked 0x%x",
                    pdu.hdr[NVME_TCP_IC_DGST], dgst);
    }
    h->cpda = pdu.hdr[NVME_TCP_ICRESP_CPDA];
    h->maxh2cdata = nvmet_ld32(pdu.hdr + NVME_TCP_ICRESP_MAXDATA);
    if (h->cpda != 0 || h->maxh2cdata < 4096 || h->maxh2cdata % 4) {
        return fail(h, "ICResp cpda %u maxh2cdata %u", h->cpda, h->maxh2cdata);
    }
    h->hdgst = hdgst;
    h->ddgst = ddgst;
    return 0;
}

/* ---- commands ----------------------------------------------------------------- */

void nvmf_sqe_init(uint8_t *sqe, uint8_t opc, uint32_t nsid)
{
    memset(sqe, 0, NVME_SQE_SIZE);
    sqe[NVME_SQE_OPC] = opc;
    sqe[NVME_SQE_FLAGS] = 0x40;    /* PSDT: SGL */
    nvmet_st32(sqe + NVME_SQE_NSID, nsid);
}

void nvmf_sqe_set_dw(uint8_t *sqe, unsigned off, uint32_t v)
{
    nvmet_st32(sqe + off, v);
}

static Pending *find_pending(NvmfHost *h, uint16_t cid)
{
    for (unsigned i = 0; i < MAX_PENDING; i++) {
        if (h->pend[i].used && h->pend[i].cid == cid) {
            return &h->pend[i];
        }
    }
    return NULL;
}

static int send_pdu(NvmfHost *h, uint8_t *hdr, size_t hlen, bool has_hd,
                    const void *data, size_t len)
{
    size_t hd = has_hd && h->hdgst ? 4 : 0;
    size_t dd = len && h->ddgst ? 4 : 0;
    size_t pdo = len ? hlen + hd : 0;
    size_t total = hlen + hd + len + dd;
    g_autofree uint8_t *buf = g_malloc(total);

    hdr[NVME_TCP_CH_FLAGS] |= (hd ? NVME_TCP_F_HDGST : 0) |
                              (dd ? NVME_TCP_F_DDGST : 0);
    hdr[NVME_TCP_CH_HLEN] = hlen;
    hdr[NVME_TCP_CH_PDO] = pdo;
    nvmet_st32(hdr + NVME_TCP_CH_PLEN, total);
    memcpy(buf, hdr, hlen);
    if (hd) {
        nvmet_st32(buf + hlen, nvmf_crc32c_digest(hdr, hlen));
    }
    if (len) {
        memcpy(buf + hlen + hd, data, len);
    }
    if (dd) {
        nvmet_st32(buf + hlen + hd + len, nvmf_crc32c_digest(data, len));
    }
    return nvmf_host_send_raw(h, buf, total);
}

int nvmf_host_send_cmd(NvmfHost *h, uint8_t *sqe, const void *out,
                       size_t out_len, void *in, size_t in_len)
{
    uint8_t hdr[NVME_TCP_CMD_HLEN] = { 0 };
    uint8_t *sgl = sqe + NVME_SQE_DPTR;
    bool incapsule = out_len && out_len <= h->incapsule;
    Pending *p = NULL;
    uint16_t cid;

    for (unsigned i = 0; i < MAX_PENDING; i++) {
        if (!h->pend[i].used) {
            p = &h->pend[i];
            break;
        }
    }
    if (!p) {
        return fail(h, "too many commands outstanding");
    }
    do {
        cid = h->next_cid++;
    } while (cid == 0xffff || find_pending(h, cid));
    nvmet_st16(sqe + NVME_SQE_CID, cid);
    memset(sgl, 0, 16);
    if (incapsule) {
        sgl[NVME_SGL_ID] = NVME_SGL_ID_DATA_OFFSET;
        nvmet_st32(sgl + NVME_SGL_LEN, out_len);
    } else if (out_len || in_len) {
        sgl[NVME_SGL_ID] = NVME_SGL_ID_TRANSPORT;
        nvmet_st32(sgl + NVME_SGL_LEN, out_len ? out_len : in_len);
    }
    memset(p, 0, sizeof(*p));
    p->used = true;
    p->cid = cid;
    p->out = out;
    p->out_len = out_len;
    p->in = in;
    p->in_len = in_len;

    hdr[0] = NVME_TCP_PDU_CMD;
    memcpy(hdr + NVME_TCP_CMD_SQE, sqe, NVME_SQE_SIZE);
    if (send_pdu(h, hdr, NVME_TCP_CMD_HLEN, true, incapsule ? out : NULL,
                 incapsule ? out_len : 0) < 0) {
        p->used = false;
        return -1;
    }
    if (incapsule) {
        p->out_len = 0;
    }
    return cid;
}

static int handle_r2t(NvmfHost *h, NvmfPdu *pdu)
{
    uint16_t cid = nvmet_ld16(pdu->hdr + NVME_TCP_DATA_CCCID);
    uint16_t ttag = nvmet_ld16(pdu->hdr + NVME_TCP_DATA_TTAG);
    uint32_t off = nvmet_ld32(pdu->hdr + NVME_TCP_DATA_DATAO);
    uint32_t len = nvmet_ld32(pdu->hdr + NVME_TCP_DATA_DATAL);
    Pending *p = find_pending(h, cid);

    if (!p || !p->out_len || (uint64_t)off + len > p->out_len || !len) {
        return fail(h, "unexpected R2T cid %u off %u len %u", cid, off, len);
    }
    while (len) {
        uint32_t n = MIN(len, h->maxh2cdata);
        uint8_t hdr[NVME_TCP_DATA_HLEN] = { 0 };

        hdr[0] = NVME_TCP_PDU_H2C_DATA;
        hdr[1] = n == len ? NVME_TCP_F_DATA_LAST : 0;
        nvmet_st16(hdr + NVME_TCP_DATA_CCCID, cid);
        nvmet_st16(hdr + NVME_TCP_DATA_TTAG, ttag);
        nvmet_st32(hdr + NVME_TCP_DATA_DATAO, off);
        nvmet_st32(hdr + NVME_TCP_DATA_DATAL, n);
        if (send_pdu(h, hdr, NVME_TCP_DATA_HLEN, true, p->out + off, n) < 0) {
            return -1;
        }
        off += n;
        len -= n;
    }
    return 0;
}

static int handle_c2h(NvmfHost *h, NvmfPdu *pdu)
{
    uint16_t cid = nvmet_ld16(pdu->hdr + NVME_TCP_DATA_CCCID);
    uint32_t off = nvmet_ld32(pdu->hdr + NVME_TCP_DATA_DATAO);
    uint32_t len = nvmet_ld32(pdu->hdr + NVME_TCP_DATA_DATAL);
    Pending *p = find_pending(h, cid);

    if (!p || len != pdu->data_len || (uint64_t)off + len > p->in_len) {
        return fail(h, "unexpected C2HData cid %u off %u len %u", cid, off,
                    len);
    }
    if (!pdu->ddgst_ok) {
        return fail(h, "C2HData data digest mismatch");
    }
    memcpy(p->in + off, pdu->data, len);
    p->in_got += len;
    if (pdu->flags & NVME_TCP_F_DATA_SUCCESS) {
        if (!(pdu->flags & NVME_TCP_F_DATA_LAST)) {
            return fail(h, "C2HData SUCCESS without LAST_PDU");
        }
        p->done = true;
        memset(&p->cqe, 0, sizeof(p->cqe));
        p->cqe.cid = cid;
        p->cqe.sqid = h->qid;
        p->cqe.sqhd = 0xffff;
    }
    return 0;
}

/* Process one incoming PDU. */
static int pump(NvmfHost *h)
{
    g_auto(NvmfPdu) pdu = { 0 };
    uint8_t *cqe;
    Pending *p;

    if (nvmf_host_recv_pdu(h, &pdu) < 0) {
        return -1;
    }
    if (!pdu.hdgst_ok) {
        return fail(h, "header digest mismatch on PDU type %u", pdu.type);
    }
    switch (pdu.type) {
    case NVME_TCP_PDU_R2T:
        return handle_r2t(h, &pdu);
    case NVME_TCP_PDU_C2H_DATA:
        return handle_c2h(h, &pdu);
    case NVME_TCP_PDU_RSP:
        cqe = pdu.hdr + NVME_TCP_RSP_CQE;
        p = find_pending(h, nvmet_ld16(cqe + NVME_CQE_CID));
        if (!p) {
            return fail(h, "response for unknown cid %u",
                        nvmet_ld16(cqe + NVME_CQE_CID));
        }
        p->done = true;
        p->cqe.dw0 = nvmet_ld32(cqe + NVME_CQE_DW0);
        p->cqe.dw1 = nvmet_ld32(cqe + NVME_CQE_DW1);
        p->cqe.sqhd = nvmet_ld16(cqe + NVME_CQE_SQHD);
        p->cqe.sqid = nvmet_ld16(cqe + NVME_CQE_SQID);
        p->cqe.cid = nvmet_ld16(cqe + NVME_CQE_CID);
        p->cqe.status = nvmet_ld16(cqe + NVME_CQE_STATUS) >> 1;
        return 0;
    case NVME_TCP_PDU_C2H_TERM:
        return fail(h, "target sent C2HTermReq fes 0x%x fei %u",
                    nvmet_ld16(pdu.hdr + NVME_TCP_TERM_FES),
                    nvmet_ld32(pdu.hdr + NVME_TCP_TERM_FEI));
    default:
        return fail(h, "unexpected PDU type %u", pdu.type);
    }
}

int nvmf_host_wait(NvmfHost *h, uint16_t cid, NvmfCqe *cqe)
{
    Pending *p = find_pending(h, cid);

    if (!p) {
        return fail(h, "waiting for unknown cid %u", cid);
    }
    while (!p->done) {
        if (pump(h) < 0) {
            return -1;
        }
    }
    if (cqe) {
        *cqe = p->cqe;
    }
    p->used = false;
    return 0;
}

int nvmf_host_submit(NvmfHost *h, uint8_t *sqe, const void *out,
                     size_t out_len, void *in, size_t in_len, NvmfCqe *cqe)
{
    int cid = nvmf_host_send_cmd(h, sqe, out, out_len, in, in_len);

    if (cid < 0) {
        return -1;
    }
    return nvmf_host_wait(h, cid, cqe);
}

/* ---- conveniences ---------------------------------------------------------------- */

int nvmf_host_connect(NvmfHost *h, uint16_t qid, uint16_t sqsize,
                      uint16_t cntlid, const char *subnqn, const char *hostnqn,
                      const uint8_t *hostid, uint32_t kato_ms, uint8_t cattr,
                      NvmfCqe *cqe)
{
    uint8_t sqe[NVME_SQE_SIZE];
    uint8_t data[NVME_CONNECT_DATA_LEN] = { 0 };
    uint32_t saved = h->incapsule;
    int ret;

    nvmf_sqe_init(sqe, NVME_FABRICS_COMMAND, 0);
    sqe[NVME_SQE_FCTYPE] = NVME_FCTYPE_CONNECT;
    nvmet_st16(sqe + NVME_CONNECT_RECFMT, 0);
    nvmet_st16(sqe + NVME_CONNECT_QID, qid);
    nvmet_st16(sqe + NVME_CONNECT_SQSIZE, sqsize);
    sqe[NVME_CONNECT_CATTR] = cattr;
    nvmet_st32(sqe + NVME_CONNECT_KATO, kato_ms);
    if (hostid) {
        memcpy(data + NVME_CONNECT_DATA_HOSTID, hostid, 16);
    }
    nvmet_st16(data + NVME_CONNECT_DATA_CNTLID, cntlid);
    strncpy((char *)data + NVME_CONNECT_DATA_SUBNQN, subnqn, 255);
    strncpy((char *)data + NVME_CONNECT_DATA_HOSTNQN, hostnqn, 255);
    h->qid = qid;
    /* Connect data always travels in-capsule, as the Linux host sends it */
    h->incapsule = MAX(saved, NVME_CONNECT_DATA_LEN);
    ret = nvmf_host_submit(h, sqe, data, sizeof(data), NULL, 0, cqe);
    h->incapsule = saved;
    return ret;
}

int nvmf_host_prop_get(NvmfHost *h, uint32_t off, bool eight, uint64_t *val,
                       NvmfCqe *cqe)
{
    uint8_t sqe[NVME_SQE_SIZE];
    NvmfCqe c;

    nvmf_sqe_init(sqe, NVME_FABRICS_COMMAND, 0);
    sqe[NVME_SQE_FCTYPE] = NVME_FCTYPE_PROP_GET;
    sqe[NVME_PROP_ATTRIB] = eight ? 1 : 0;
    nvmet_st32(sqe + NVME_PROP_OFFSET, off);
    if (nvmf_host_submit(h, sqe, NULL, 0, NULL, 0, &c) < 0) {
        return -1;
    }
    if (val) {
        *val = c.dw0 | ((uint64_t)c.dw1 << 32);
    }
    if (cqe) {
        *cqe = c;
    }
    return 0;
}

int nvmf_host_prop_set(NvmfHost *h, uint32_t off, uint32_t val, NvmfCqe *cqe)
{
    uint8_t sqe[NVME_SQE_SIZE];

    nvmf_sqe_init(sqe, NVME_FABRICS_COMMAND, 0);
    sqe[NVME_SQE_FCTYPE] = NVME_FCTYPE_PROP_SET;
    sqe[NVME_PROP_ATTRIB] = 0;
    nvmet_st32(sqe + NVME_PROP_OFFSET, off);
    nvmet_st64(sqe + NVME_PROP_VALUE, val);
    return nvmf_host_submit(h, sqe, NULL, 0, NULL, 0, cqe);
}

int nvmf_host_enable(NvmfHost *h)
{
    NvmfCqe c;
    uint64_t csts = 0;
    uint32_t cc = NVME_CC_EN | (6u << NVME_CC_IOSQES_SHIFT) |
                  (4u << NVME_CC_IOCQES_SHIFT);

    if (nvmf_host_prop_set(h, NVME_REG_CC, cc, &c) < 0) {
        return -1;
    }
    if (c.status) {
        return fail(h, "property set CC failed: status 0x%x", c.status);
    }
    for (int i = 0; i < 100; i++) {
        if (nvmf_host_prop_get(h, NVME_REG_CSTS, false, &csts, &c) < 0) {
            return -1;
        }
        if (c.status) {
            return fail(h, "property get CSTS failed: status 0x%x", c.status);
        }
        if (csts & NVME_CSTS_CFS) {
            return fail(h, "controller fatal status after enabling");
        }
        if (csts & NVME_CSTS_RDY) {
            return 0;
        }
    }
    return fail(h, "controller did not become ready");
}

int nvmf_host_identify(NvmfHost *h, uint8_t cns, uint32_t nsid, uint8_t csi,
                       void *buf4k, NvmfCqe *cqe)
{
    uint8_t sqe[NVME_SQE_SIZE];

    nvmf_sqe_init(sqe, NVME_ADM_IDENTIFY, nsid);
    nvmet_st32(sqe + NVME_SQE_CDW10, cns);
    nvmet_st32(sqe + NVME_SQE_CDW11, (uint32_t)csi << 24);
    return nvmf_host_submit(h, sqe, NULL, 0, buf4k, 4096, cqe);
}

int nvmf_host_rw(NvmfHost *h, bool write, uint32_t nsid, uint64_t slba,
                 uint32_t nlb, void *buf, size_t len, NvmfCqe *cqe)
{
    uint8_t sqe[NVME_SQE_SIZE];

    nvmf_sqe_init(sqe, write ? NVME_CMD_WRITE : NVME_CMD_READ, nsid);
    nvmet_st32(sqe + NVME_SQE_CDW10, (uint32_t)slba);
    nvmet_st32(sqe + NVME_SQE_CDW11, (uint32_t)(slba >> 32));
    nvmet_st32(sqe + NVME_SQE_CDW12, nlb - 1);
    if (write) {
        return nvmf_host_submit(h, sqe, buf, len, NULL, 0, cqe);
    }
    return nvmf_host_submit(h, sqe, NULL, 0, buf, len, cqe);
}

int nvmf_host_get_log(NvmfHost *h, uint8_t lid, uint32_t nsid, uint64_t off,
                      void *buf, size_t len, NvmfCqe *cqe)
{
    uint8_t sqe[NVME_SQE_SIZE];
    uint32_t numd = len / 4 - 1;

    nvmf_sqe_init(sqe, NVME_ADM_GET_LOG_PAGE, nsid);
    nvmet_st32(sqe + NVME_SQE_CDW10, lid | (numd << 16));
    nvmet_st32(sqe + NVME_SQE_CDW11, numd >> 16);
    nvmet_st32(sqe + NVME_SQE_CDW12, (uint32_t)off);
    nvmet_st32(sqe + NVME_SQE_CDW13, (uint32_t)(off >> 32));
    return nvmf_host_submit(h, sqe, NULL, 0, buf, len, cqe);
}

int nvmf_host_set_features(NvmfHost *h, uint8_t fid, uint32_t cdw11,
                           NvmfCqe *cqe)
{
    uint8_t sqe[NVME_SQE_SIZE];

    nvmf_sqe_init(sqe, NVME_ADM_SET_FEATURES, 0);
    nvmet_st32(sqe + NVME_SQE_CDW10, fid);
    nvmet_st32(sqe + NVME_SQE_CDW11, cdw11);
    return nvmf_host_submit(h, sqe, NULL, 0, NULL, 0, cqe);
}
