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
    FUZZ_OP_COUNT
};

/* fuzz-nvmet.c */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#endif /* FUZZ_NVMET_H */
