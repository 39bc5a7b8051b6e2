/*
 * NVMe-oF target engine: the random choices of a queue.
 *
 * Everything random the target does for a queue (DH-HMAC-CHAP challenges,
 * sequence numbers and DH private values, probabilistic faults) comes
 * from here.  For a queue of a subsystem with a seed the bytes are
 * HMAC-SHA-256(K, label || subnqn || 0 || hostnqn || 0 || qid ||
 * connection || draw || block) with K = SHA-256(seed): a function of the
 * queue's identity and history only, independent of how queues and hosts
 * interleave.  Each label is a stream of its own with its own draw count,
 * so that, for example, a fault drawing its chances does not change the
 * challenges of the same queue.  Otherwise the bytes come from
 * ops.random_bytes (in QEMU, qemu_guest_getrandom(), which follows -seed).
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#include "qemu/osdep.h"
#include "random.h"
#include "crypto.h"

void nvmet_sq_random(NvmetSq *sq, const char *label, uint32_t *draws,
                     void *buf, size_t len)
{
    NvmetSubsys *s = sq->ctrl ? sq->ctrl->subsys : NULL;
    uint8_t *out = buf;

    if (!s || !s->seeded) {
        /* nvmet_target_new() insists on a source */
        sq->t->ops.random_bytes(sq->t->opaque, buf, len);
        return;
    }
    for (uint32_t block = 0; len; block++) {
        uint8_t ctr[12], t[32];
        NvmetBuf parts[4] = {
            { label, strlen(label) + 1 },
            { sq->ctrl->subnqn, strlen(sq->ctrl->subnqn) + 1 },
            { sq->ctrl->hostnqn, strlen(sq->ctrl->hostnqn) + 1 },
            { ctr, sizeof(ctr) },
        };
        size_t n = MIN(len, sizeof(t));

        nvmet_st16(ctr, sq->qid);
        nvmet_st16(ctr + 2, sq->conn_index);
        nvmet_st32(ctr + 4, *draws);
        nvmet_st32(ctr + 8, block);
        nvmet_hmac(NVMET_HASH_SHA256, s->seed_key, sizeof(s->seed_key),
                   parts, 4, t);
        memcpy(out, t, n);
        nvmet_memzero(t, sizeof(t));
        out += n;
        len -= n;
    }
    (*draws)++;
}
