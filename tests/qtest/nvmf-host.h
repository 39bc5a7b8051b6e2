/*
 * A small NVMe/TCP host for tests and benchmarks.
 *
 * It speaks the host side of NVMe/TCP over an abstract byte transport (a
 * socket in qtests and benchmarks, the engine itself in unit tests).  It is
 * deliberately simple and strict: every PDU it receives is checked, and
 * anything unexpected is reported through nvmf_host_error().
 *
 * This host is our own reading of the specification; interoperability is
 * proven only by the Linux host in the guest tests.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#ifndef NVMF_HOST_H
#define NVMF_HOST_H

#include <glib.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "nvmet/proto.h"

typedef struct NvmfTransport {
    /* Send all @len bytes; 0 on success, -1 on error. */
    int (*send)(void *opaque, const void *buf, size_t len);
    /* Receive 1..@len bytes; 0 on end of stream, -1 on error. */
    ssize_t (*recv)(void *opaque, void *buf, size_t len);
    void *opaque;
} NvmfTransport;

/*
 * The transport of a connected stream socket *@fd (send with MSG_NOSIGNAL;
 * a connection reset reads as the end of the stream).
 */
NvmfTransport nvmf_fd_transport(int *fd);

typedef struct NvmfCqe {
    uint32_t dw0, dw1;
    uint16_t sqhd, sqid, cid;
    uint16_t status;            /* 15-bit status without the phase tag */
} NvmfCqe;

/* One received PDU: header (with digest bytes stripped) and data. */
typedef struct NvmfPdu {
    uint8_t hdr[NVME_TCP_ICRESP_HLEN + NVME_TCP_TERM_MAX_ERR_HDR];
    uint8_t type, flags, hlen, pdo;
    uint32_t plen;
    uint8_t *data;              /* g_free()d by nvmf_pdu_clear() */
    uint32_t data_len;
    bool hdgst_ok, ddgst_ok;
} NvmfPdu;

void nvmf_pdu_clear(NvmfPdu *pdu);
G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC(NvmfPdu, nvmf_pdu_clear)

typedef struct NvmfHost NvmfHost;

NvmfHost *nvmf_host_new(const NvmfTransport *tr);
void nvmf_host_free(NvmfHost *h);
/* Last error message, or NULL. */
const char *nvmf_host_error(NvmfHost *h);

/* Connection initialisation; returns 0 or -1. */
int nvmf_host_icreq(NvmfHost *h, bool hdgst, bool ddgst, uint8_t hpda);
uint32_t nvmf_host_maxh2cdata(NvmfHost *h);

/* Largest write sent in-capsule (the rest goes by R2T); default 0. */
void nvmf_host_set_incapsule(NvmfHost *h, uint32_t bytes);
void nvmf_host_set_qid(NvmfHost *h, uint16_t qid);

/*
 * Send one command without waiting.  @sqe is completed with a CID (returned)
 * and the SGL descriptor; @out (host-to-controller data) goes in-capsule if
 * it fits, else on request of R2T; @in receives controller-to-host data.
 * Both buffers must stay valid until the command completes.
 */
int nvmf_host_send_cmd(NvmfHost *h, uint8_t *sqe, const void *out,
                       size_t out_len, void *in, size_t in_len);
/* Wait for command @cid to complete; 0 on success (any NVMe status). */
int nvmf_host_wait(NvmfHost *h, uint16_t cid, NvmfCqe *cqe);
/* send_cmd + wait. */
int nvmf_host_submit(NvmfHost *h, uint8_t *sqe, const void *out,
                     size_t out_len, void *in, size_t in_len, NvmfCqe *cqe);

/* Raw access for protocol error tests. */
int nvmf_host_send_raw(NvmfHost *h, const void *buf, size_t len);
/* Receive the next PDU, whatever it is; 0, or -1 on error/EOF. */
int nvmf_host_recv_pdu(NvmfHost *h, NvmfPdu *pdu);
/* True once the peer closed the stream. */
bool nvmf_host_eof(NvmfHost *h);

/* Build helpers */
void nvmf_sqe_init(uint8_t *sqe, uint8_t opc, uint32_t nsid);
void nvmf_sqe_set_dw(uint8_t *sqe, unsigned off, uint32_t v);
uint32_t nvmf_crc32c_digest(const void *buf, size_t len);

/* ---- fabrics / admin / I/O conveniences (status in *cqe) ----------------- */

int nvmf_host_connect(NvmfHost *h, uint16_t qid, uint16_t sqsize,
                      uint16_t cntlid, const char *subnqn, const char *hostnqn,
                      const uint8_t *hostid, uint32_t kato_ms, uint8_t cattr,
                      NvmfCqe *cqe);
int nvmf_host_prop_get(NvmfHost *h, uint32_t off, bool eight, uint64_t *val,
                       NvmfCqe *cqe);
int nvmf_host_prop_set(NvmfHost *h, uint32_t off, uint32_t val, NvmfCqe *cqe);
/* Enable the controller (CC.EN=1) and wait for CSTS.RDY; 0 or -1. */
int nvmf_host_enable(NvmfHost *h);
int nvmf_host_identify(NvmfHost *h, uint8_t cns, uint32_t nsid, uint8_t csi,
                       void *buf4k, NvmfCqe *cqe);
int nvmf_host_rw(NvmfHost *h, bool write, uint32_t nsid, uint64_t slba,
                 uint32_t nlb, void *buf, size_t len, NvmfCqe *cqe);
int nvmf_host_get_log(NvmfHost *h, uint8_t lid, uint32_t nsid, uint64_t off,
                      void *buf, size_t len, NvmfCqe *cqe);
int nvmf_host_set_features(NvmfHost *h, uint8_t fid, uint32_t cdw11,
                           NvmfCqe *cqe);

/* ---- DH-HMAC-CHAP (nvmf-host-auth.c) ------------------------------------- */

typedef struct NvmfAuthParams {
    const char *hostnqn, *subnqn;
    const char *host_secret;        /* DHHC-1 */
    const char *ctrl_secret;        /* DHHC-1 or NULL: unidirectional */
    uint8_t hashes[3], nhashes;     /* offered, in order */
    uint8_t groups[6], ngroups;
    uint8_t sc_c;
    uint16_t tid;
    GRand *rand;                    /* NULL: g_random_int() */
    /* misbehaviour on purpose */
    bool corrupt_response;          /* wrong R1 */
    bool reflect_c1;                /* C2 = C1 */
    bool s2_zero;                   /* SEQNUM 0 with a challenge */
    int reply_tid_delta;            /* wrong transaction ID in the reply */
    bool legacy_sc_c;               /* 0, not SC_C, in R1 (Linux 6.15-6.17) */
    bool legacy_success2;           /* SUCCESS2 even after a SUCCESS1
                                       without controller response (Linux
                                       6.15-6.17 with concatenation) */
} NvmfAuthParams;

typedef struct NvmfAuthResult {
    bool authenticated;
    const char *error;              /* why not, for messages */
    uint16_t status;                /* NVMe status of a failed command */
    uint8_t failure;                /* FAILURE1 reason code explanation */
    uint8_t hash, dhgid;
    bool rvalid, ctrl_verified, ctrl_mismatch;
    uint8_t challenge[16];          /* header of the challenge received */
    uint8_t psk[64];                /* generated PSK with concatenation */
    size_t psk_len;
} NvmfAuthResult;

int nvmf_host_authenticate(NvmfHost *h, NvmfAuthParams *p, NvmfAuthResult *r);
int nvmf_host_auth_send(NvmfHost *h, const void *msg, uint32_t len,
                        NvmfCqe *cqe);
int nvmf_host_auth_recv(NvmfHost *h, void *buf, uint32_t al, NvmfCqe *cqe);
bool nvmf_dhchap_key_decode(const char *str, uint8_t *secret, size_t *len,
                            uint8_t *transform);
uint32_t nvmf_crc32(const uint8_t *p, size_t n);   /* zlib's CRC-32 */
char *nvmf_dhchap_key_encode(const uint8_t *secret, size_t len,
                             uint8_t transform);
size_t nvmf_dh_len(uint8_t gid);
void nvmf_dh_compute(uint8_t gid, const uint8_t *x, size_t xlen,
                     const uint8_t *peer, uint8_t *pub, uint8_t *shared);
/*
 * Remember the results of the last @entries (at most 64; 0: off, the
 * default) nvmf_dh_compute() calls with a peer value, keyed by the whole
 * (group, x, peer value): for the fuzzer, whose inputs repeat the same
 * exchanges many times.  The target's side is computed every time anyway.
 */
void nvmf_dh_memo(unsigned entries);
void nvmf_dh_memo_stats(uint64_t *hits, uint64_t *misses);

/* ---- TLS 1.3 PSK client (nvmf-host-tls.c) ------------------------------- */

typedef struct NvmfTls NvmfTls;

/* A client session over @inner; @hash 1: SHA-256 PSK, 2: SHA-384 */
NvmfTls *nvmf_tls_new(const NvmfTransport *inner, const char *identity,
                      const uint8_t *key, size_t key_len, uint8_t hash);
int nvmf_tls_handshake(NvmfTls *t);
const char *nvmf_tls_error(NvmfTls *t);
/*
 * The fatal alert the target sent (GNUTLS_A_*: a failed handshake, or a
 * record it could not take), -1 if none arrived.
 */
int nvmf_tls_alert(NvmfTls *t);
char *nvmf_tls_description(NvmfTls *t);
/* The transport that sends and receives through the session. */
NvmfTransport nvmf_tls_transport(NvmfTls *t);
void nvmf_tls_free(NvmfTls *t);

/*
 * The host's PSK derivations (written apart from the target's psk.c):
 * identity and TLS PSK for a configured PSK in the interchange format
 * (NULL if malformed), and for a PSK generated by concatenation.
 */
char *nvmf_tls_configured(const char *interchange, unsigned version,
                          const char *hostnqn, const char *subnqn,
                          uint8_t *tls_psk, uint8_t *hash);
char *nvmf_tls_generated(uint8_t hash, const uint8_t *psk, size_t len,
                         const char *hostnqn, const char *subnqn,
                         uint8_t *tls_psk);

#endif
