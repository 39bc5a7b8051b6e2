/*
 * Fuzzing harness for the NVMe-oF TCP target engine: input format shared by
 * the harness (fuzz-nvmet.c), the standalone driver (fuzz-main.c) and the
 * seed corpus generator (gen-corpus.c).
 *
 * An input is one configuration byte followed by a sequence of operations.
 *
 * Configuration byte:
 *   bits 2:0  scenario, what the harness does before the fuzzed operations
 *             (FUZZ_SC_*)
 *   bit 3     the generated ICReq asks for header digests
 *   bit 4     the generated ICReq asks for data digests
 *   bit 5     install a trace hook (formats every trace event)
 *   bit 6     hold block I/O back until an OP_HELD operation completes it
 *   bit 7     generated Connects disable SQ flow control
 *
 * Operations: one byte, modulo FUZZ_OP_COUNT, then operation-specific bytes
 * (see fuzz-nvmet.c).  Missing bytes at the end of the input read as zero.
 *
 * The scenarios run on a port without TLS.  The target also has a port
 * with TLS allowed and one with TLS required; FUZZ_OP_TLS opens
 * connections there (with a TLS handshake by the harness's client, or
 * without) and works on the records (FUZZ_TLS_*).  On a connection whose
 * handshake the harness completed, every other operation sends through the
 * TLS session.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#ifndef FUZZ_NVMET_H
#define FUZZ_NVMET_H

#include <stddef.h>
#include <stdint.h>

#define FUZZ_SUBNQN       "nqn.2026-11.org.qemu:fuzz-plain"
#define FUZZ_AUTH_SUBNQN  "nqn.2026-11.org.qemu:fuzz-auth"
/* a host with DH-HMAC-CHAP keys (it must authenticate everywhere) */
#define FUZZ_HOSTNQN \
    "nqn.2014-08.org.nvmexpress:uuid:0c5ae0a2-1b49-4b38-9d41-1f1f4d2c7a01"
/* a host without keys */
#define FUZZ_HOSTNQN2 \
    "nqn.2014-08.org.nvmexpress:uuid:7d0f8f53-5a44-4e0c-8c8e-3a3f1e8e9b02"
/* a host with a configured TLS PSK (no DH-HMAC-CHAP keys) */
#define FUZZ_HOSTNQN3 \
    "nqn.2014-08.org.nvmexpress:uuid:3e1b9c7d-2f64-4a8e-b5d0-6c2a9f4e1d03"

enum {
    FUZZ_SC_RAW = 0,          /* a fresh connection, nothing sent */
    FUZZ_SC_ADMIN = 1,        /* ICReq, admin Connect, CC.EN = 1 */
    FUZZ_SC_IO = 2,           /* as ADMIN, plus an I/O queue (current) */
    FUZZ_SC_AUTH_PENDING = 3, /* admin Connect to the auth subsystem */
    FUZZ_SC_AUTH_DONE = 4,    /* ... plus DH-HMAC-CHAP and CC.EN = 1 */
    FUZZ_SC_DISCOVERY = 5,    /* admin Connect to the discovery subsystem */
    FUZZ_SC_CONNECTED = 6,    /* admin Connect, controller not enabled */
    FUZZ_SC_ICREQ = 7,        /* ICReq only */
};

#define FUZZ_CFG_HDGST    0x08
#define FUZZ_CFG_DDGST    0x10
#define FUZZ_CFG_TRACE    0x20
#define FUZZ_CFG_HOLD_IO  0x40
#define FUZZ_CFG_NOSQFLOW 0x80

enum {
    FUZZ_OP_RAW,        /* len-1: u8, bytes: raw input, one call */
    FUZZ_OP_RAW_CHUNKED,/* len: le16 % 2048, chunk-1: u8, bytes */
    FUZZ_OP_CLOCK,      /* u8: advance the clock, run expired timers */
    FUZZ_OP_SQE,        /* ctl, sqe[64], (len le16, data): framed capsule */
    FUZZ_OP_ADMIN,      /* sel, ctl, cdw10..15 (24 bytes), data length */
    FUZZ_OP_IO,         /* sel, ctl, slba u8, nlb u8, cdw12 hi, skew */
    FUZZ_OP_FABRICS,    /* sub, ...: Connect, Property, AUTH, Disconnect */
    FUZZ_OP_H2C,        /* ctl, chunk: answer the oldest pending R2T */
    FUZZ_OP_CONN,       /* sub, arg: open, switch, close connections */
    FUZZ_OP_HELD,       /* u8: complete held I/O (count, errors) */
    FUZZ_OP_TLS,        /* sub, ...: TLS connections and records */
    FUZZ_OP_FAULT,      /* sub, step, act, when, flt, p0, p1, p2, p3: arm a
                         * fault (include/nvmet/fault.h), or delete one */
    FUZZ_OP_COUNT
};

/*
 * FUZZ_OP_FAULT: sub bit 7 deletes the fault with ID sub & 0x7f (or tries
 * to); otherwise a fault is armed at step (modulo the steps) with action
 * act (modulo the actions, so most pairs are refused: the templates pick
 * possible ones), when: bits 1:0 next/nth/every/probability, bits 7:2 the
 * count (from 1) or the probability in 64ths; flt: filters (FUZZ_FLT_*);
 * p0..p3: the action's parameters.
 */
#define FUZZ_FLT_ADMIN      0x01    /* admin queues only */
#define FUZZ_FLT_IO         0x02    /* I/O queues only */
#define FUZZ_FLT_OPCODE     0x04    /* opcode p3 */
#define FUZZ_FLT_HOST       0x08    /* FUZZ_HOSTNQN only */
#define FUZZ_FLT_AUTH_SUB   0x10    /* FUZZ_AUTH_SUBNQN only */
#define FUZZ_FLT_SC_C       0x20    /* sc-c p3 & 3 */
#define FUZZ_FLT_AFTER      0x40    /* close: after the response */
#define FUZZ_FLT_STRAY      0x80    /* a parameter of another action too */

/* FUZZ_OP_TLS: sub-operation byte, modulo FUZZ_TLS_COUNT */
enum {
    FUZZ_TLS_SESSION,   /* a, b, [opts, [mangle], [chunk]], [identity]: a
                         * new connection on a TLS port, handshake, ICReq,
                         * Connect, CC.EN, I/O queue (how far: b) */
    FUZZ_TLS_CONTINUE,  /* go on with a client handshake left halfway */
    FUZZ_TLS_RECORDS,   /* n, records: raw TLS records, past the session */
    FUZZ_TLS_MANGLE,    /* kind, at, arg le16, arg2: do something to one of
                         * the next records the client sends */
    FUZZ_TLS_RELEASE,   /* chunk: deliver the records held back */
    FUZZ_TLS_CTL,       /* what, arg: key update, alert, close_notify,
                         * delivery in pieces, record size */
    FUZZ_TLS_HOSTPSK,   /* b: replace or remove a host's configured PSK
                         * (or try a malformed one) */
    FUZZ_TLS_CONCAT,    /* f, tid le16: NEWTLSPSK / REPLACETLSPSK by the
                         * test host on the current connection */
    FUZZ_TLS_COUNT
};

/* FUZZ_TLS_SESSION byte a */
#define FUZZ_TLS_A_REQUIRED 0x01    /* the tls=required port (else allowed) */
#define FUZZ_TLS_A_PSK(x)   (((x) & 7) << 1)    /* FUZZ_PSK_* */
#define FUZZ_TLS_A_SUB(x)   (((x) & 3) << 4)    /* FUZZ_TLS_SUB_* */
#define FUZZ_TLS_A_V0       0x40    /* identity version 0 (NVMe0R..) */
#define FUZZ_TLS_A_OPTS     0x80    /* an options byte follows */

enum {                  /* whose PSK the client presents */
    FUZZ_PSK_HOST3,     /* HOSTNQN3's configured PSK */
    FUZZ_PSK_HOST3_OTHER, /* HOSTNQN3, a PSK it does not have (must fail) */
    FUZZ_PSK_GEN,       /* the generated PSK of HOSTNQN (concatenation) */
    FUZZ_PSK_GEN_OLD,   /* the generated PSK it replaced (must fail) */
    FUZZ_PSK_WRONG_KEY, /* HOSTNQN3's identity with a wrong key */
    FUZZ_PSK_HOST1,     /* HOSTNQN's configured PSK (FUZZ_TLS_HOSTPSK) */
    FUZZ_PSK_HOST2,     /* HOSTNQN2: no such host object (must fail) */
    FUZZ_PSK_RAW,       /* identity bytes from the input (must fail) */
};

enum {                  /* subsystem the identity names / Connect goes to */
    FUZZ_TLS_SUB_PLAIN,
    FUZZ_TLS_SUB_AUTH,
    FUZZ_TLS_SUB_DISC,      /* identity: plain; Connect: discovery */
    FUZZ_TLS_SUB_DISC_ID,   /* identity and Connect: the discovery NQN */
};

/* FUZZ_TLS_SESSION byte b: level in bits 2:0 */
enum {
    FUZZ_TLS_LVL_NONE,      /* a connection, nothing sent */
    FUZZ_TLS_LVL_HELLO,     /* the ClientHello only */
    FUZZ_TLS_LVL_HANDSHAKE,
    FUZZ_TLS_LVL_ICREQ,
    FUZZ_TLS_LVL_CONNECT,   /* admin Connect */
    FUZZ_TLS_LVL_ENABLE,    /* CC.EN = 1 */
    FUZZ_TLS_LVL_IO,        /* and an I/O queue on a second TLS connection */
    FUZZ_TLS_LVL_CLEAR,     /* no TLS: ICReq, Connect (CC.EN with bit 5) */
};
#define FUZZ_TLS_B_HDGST    0x08
#define FUZZ_TLS_B_DDGST    0x10
#define FUZZ_TLS_B_ENABLE   0x20    /* FUZZ_TLS_LVL_CLEAR: CC.EN = 1 too */

/* options byte */
#define FUZZ_TLS_O_RSL(x)   ((x) & 3)   /* record size limit: none, 512,
                                         * 1024, 4096 bytes */
#define FUZZ_TLS_O_ECDHE    0x04    /* ECDHE-PSK (X25519), not PSK only */
#define FUZZ_TLS_O_CHACHA   0x08    /* offer ChaCha20 only (must fail) */
#define FUZZ_TLS_O_MANGLE(x) (((x) & 7) << 4)   /* FUZZ_MG_*: at, arg le16,
                                                 * arg2 follow */
#define FUZZ_TLS_O_CHUNK    0x80    /* a chunk size byte follows */

/* what FUZZ_TLS_MANGLE does to the record it picks */
enum {
    FUZZ_MG_NONE,
    FUZZ_MG_FLIP,       /* flip bit arg2 & 7 of byte arg */
    FUZZ_MG_TRUNC,      /* deliver arg bytes, hold the rest back */
    FUZZ_MG_DROP,
    FUZZ_MG_SWAP,       /* deliver it after the next record */
    FUZZ_MG_DUP,
    FUZZ_MG_TYPE,       /* another content type */
    FUZZ_MG_LEN,        /* length field + (int16_t)arg */
};

/* FUZZ_TLS_CTL what */
enum {
    FUZZ_CTL_KEY_UPDATE,
    FUZZ_CTL_KEY_UPDATE_PEER,
    FUZZ_CTL_WARNING_ALERT,
    FUZZ_CTL_FATAL_ALERT,
    FUZZ_CTL_BYE,
    FUZZ_CTL_CHUNK,     /* deliver ciphertext in pieces of arg bytes */
    FUZZ_CTL_RECORD,    /* at most arg * 16 plaintext bytes per record */
    FUZZ_CTL_KEY_UPDATE_TWICE,
};

/* fuzz-nvmet.c */
int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#endif /* FUZZ_NVMET_H */
