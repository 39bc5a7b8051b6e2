/*
 * NVMe-oF target engine: the TLS PSKs of secure channel concatenation and
 * the PSK lookup for a TLS ClientHello identity; see concat.c.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#ifndef NVMET_ENGINE_CONCAT_H
#define NVMET_ENGINE_CONCAT_H

#include "req.h"

/*
 * The queue's DH-HMAC-CHAP exchange with SC_C set succeeded: derive the
 * generated PSK and make it the (host, subsystem) pair's PSK.
 */
void nvmet_concat_generate_psk(NvmetSq *sq);

/*
 * The TLS PSK for an identity a host presents on @port, with the names it
 * binds; false (and a reason for the trace) if there is none.
 */
typedef struct NvmetTlsPskMatch {
    uint8_t key[64];
    size_t key_len;
    uint8_t hash;
    bool generated;
    char *hostnqn, *subnqn;
    uint32_t serial;
} NvmetTlsPskMatch;

bool nvmet_tls_find_psk(NvmetPort *port, const char *identity,
                        NvmetTlsPskMatch *m, const char **why);

#endif /* NVMET_ENGINE_CONCAT_H */
