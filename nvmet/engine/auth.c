/*
 * NVMe-oF TCP target engine: DH-HMAC-CHAP in-band authentication
 * (Authentication Send / Authentication Receive), one state machine per
 * submission queue.
 *
 * What the Linux 7.x host sends and checks was taken into account
 * throughout; where the Linux target (nvmet) differs from this code it is
 * said so next to the code.  The main differences:
 *
 *  - every queue of a host with a key authenticates (nvmet authenticates
 *    only the admin queue), and until it has, only Connect and the
 *    authentication commands are accepted on it;
 *  - a failed exchange fails that queue, not the controller: its other
 *    queues and other hosts carry on;
 *  - an unexpected message is answered with AUTH_Failure1 (reason
 *    "incorrect message") instead of silently failing the controller;
 *  - each exchange gets a fresh DH key pair and challenge.
 *
 * Nothing of the exchange lives outside the queue: NvmetQueueAuth holds the
 * transaction, and whatever a later exchange needs (for secure channel
 * concatenation: the queue's TLS binding) is never cleared by a successful
 * one.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#include "internal.h"
#include "crypto.h"

/* Authentication Send/Receive SQE fields */
#define AUTH_SPSP0        41
#define AUTH_SPSP1        42
#define AUTH_SECP         43
#define AUTH_TL           44

#define AUTH_DHCHAP_SECP  0xe9

/* Message types */
#define AUTH_COMMON       0x00
#define AUTH_DHCHAP       0x01
#define MSG_NEGOTIATE     0x00
#define MSG_CHALLENGE     0x01
#define MSG_REPLY         0x02
#define MSG_SUCCESS1      0x03
#define MSG_SUCCESS2      0x04
#define MSG_FAILURE2      0xf0
#define MSG_FAILURE1      0xf1

#define NEGOTIATE_LEN     8
#define DESCRIPTOR_LEN    64
#define CHALLENGE_HDR     16
#define REPLY_HDR         16
#define SUCCESS1_HDR      16
#define SUCCESS2_LEN      16
#define FAILURE_LEN       8
#define MAX_IDS           30

#define DEFAULT_AUTH_TIMEOUT_MS  (120 * 1000)

static const char *reason_str(uint8_t r)
{
    switch (r) {
    case NVME_AUTH_FAIL_FAILED: return "authentication failed";
    case NVME_AUTH_FAIL_NOT_USABLE: return "protocol not usable";
    case NVME_AUTH_FAIL_CONCAT_MISMATCH: return "secure channel concatenation mismatch";
    case NVME_AUTH_FAIL_HASH_UNUSABLE: return "hash function not usable";
    case NVME_AUTH_FAIL_DHGROUP_UNUSABLE: return "DH group not usable";
    case NVME_AUTH_FAIL_INCORRECT_PAYLOAD: return "incorrect payload";
    case NVME_AUTH_FAIL_INCORRECT_MESSAGE: return "incorrect message";
    default: return "unknown";
    }
}

static const char *step_str(uint8_t step)
{
    switch (step) {
    case AUTH_STEP_IDLE: return "idle";
    case AUTH_STEP_CHALLENGE: return "challenge due";
    case AUTH_STEP_REPLY: return "waiting for reply";
    case AUTH_STEP_SUCCESS1: return "success1 due";
    case AUTH_STEP_SUCCESS2: return "waiting for success2";
    case AUTH_STEP_FAILURE1: return "failure1 due";
    default: return "?";
    }
}

/* ---- per-exchange state ------------------------------------------------- */

/* Forget the secrets of the current exchange (not the queue's standing). */
void nvmet_auth_clear_exchange(NvmetQueueAuth *a)
{
    nvmet_dh_free(a->dh);
    a->dh = NULL;
    nvmet_memzero(a->c1, sizeof(a->c1));
    nvmet_memzero(a->c2, sizeof(a->c2));
    nvmet_memzero(a->skey, sizeof(a->skey));
    a->skey_len = 0;
    a->c2_valid = false;
    nvmet_dhchap_key_free(a->host_key);
    a->host_key = NULL;
    nvmet_dhchap_key_free(a->ctrl_key);
    a->ctrl_key = NULL;
    a->deadline = INT64_MAX;
}

/*
 * How long the target waits for the host's next message of a transaction.
 * Not KATO: a TCG guest may need several seconds for one ffdhe8192 value,
 * far beyond the Linux host's 5 s default KATO.
 */
static int64_t auth_timeout_ms(NvmetQueue *q)
{
    return DEFAULT_AUTH_TIMEOUT_MS;
}

static void arm_timeout(NvmetQueue *q)
{
    q->auth.deadline = nvmet_now(q->t) + auth_timeout_ms(q);
    nvmet_update_timer(q->t);
}

/* The exchange on @q timed out between two messages. */
void nvmet_auth_expire(NvmetQueue *q)
{
    NvmetQueueAuth *a = &q->auth;

    trace_nvmet_auth_timeout(q->name, a->tid, auth_timeout_ms(q),
                             step_str(a->step));
    nvmet_auth_clear_exchange(a);
    a->step = AUTH_STEP_IDLE;
    a->tid_valid = false;
    /* the keep-alive timer waited for the transaction; it restarts now */
    if (q->ctrl) {
        nvmet_ctrl_keep_alive(q->ctrl);
    }
}

/* End the exchange with AUTH_Failure1(@reason) at the next Receive. */
static void fail1(NvmetQueue *q, uint8_t reason, const char *why)
{
    NvmetQueueAuth *a = &q->auth;

    trace_nvmet_auth_failure(q->name, a->tid, reason, reason_str(reason), why);
    nvmet_auth_clear_exchange(a);
    a->step = AUTH_STEP_FAILURE1;
    a->fail_reason = reason;
    a->authenticated = false;
    a->failures++;
}

/* ---- host configuration ------------------------------------------------- */

NvmetHost *nvmet_target_find_host(NvmetTarget *t, const char *nqn)
{
    for (GList *l = t->hosts; l; l = l->next) {
        NvmetHost *h = l->data;

        if (g_str_equal(h->nqn, nqn)) {
            return h;
        }
    }
    return NULL;
}

bool nvmet_host_set_dhchap_keys(NvmetHost *host, const char *host_key,
                                const char *ctrl_key, GError **errp)
{
    NvmetDhchapKey *hk = NULL, *ck = NULL;

    if (ctrl_key && !host_key) {
        g_set_error(errp, NVMET_ERROR, 0,
                    "a controller key needs a host key");
        return false;
    }
    if (host_key) {
        hk = nvmet_dhchap_key_parse(host_key, errp);
        if (!hk) {
            g_prefix_error(errp, "host key: ");
            return false;
        }
    }
    if (ctrl_key) {
        ck = nvmet_dhchap_key_parse(ctrl_key, errp);
        if (!ck) {
            g_prefix_error(errp, "controller key: ");
            nvmet_dhchap_key_free(hk);
            return false;
        }
    }
    nvmet_dhchap_key_free(host->host_key);
    nvmet_dhchap_key_free(host->ctrl_key);
    host->host_key = hk;
    host->ctrl_key = ck;
    host->key_generation++;
    trace_nvmet_auth_keys(host->nqn, hk != NULL, hk ? hk->len : 0,
                          hk ? hk->hmac : 0, ck != NULL,
                          host->key_generation);
    return true;
}

void nvmet_host_set_dhchap_allowed(NvmetHost *host, uint32_t hashes,
                                   uint32_t dhgroups)
{
    host->allowed_hashes = hashes;
    host->allowed_groups = dhgroups;
}

/* Does @q have to authenticate before other commands (Connect ATR)? */
bool nvmet_auth_needed(NvmetQueue *q, const char *hostnqn)
{
    NvmetHost *h = nvmet_target_find_host(q->t, hostnqn);

    /*
     * Like nvmet, a queue secured by TLS does not authenticate again at
     * connect: the PSK already proved who the host is.  Discovery
     * controllers do not authenticate either (nvmet looks the key up among
     * the hosts of the subsystem, and the discovery subsystem has none), so
     * a plain `nvme discover --hostnqn=...` works for a host with a key.
     */
    if (!h || !h->host_key || q->tls.active ||
        !q->ctrl || !q->ctrl->subsys || q->ctrl->subsys->discovery) {
        return false;
    }
    /*
     * The key belongs to the host's links to subsystems: on an
     * allow-any-host subsystem that does not list the host, it connects
     * without authenticating (nvmet skips authentication on such
     * subsystems altogether, and refuses to link hosts to them).
     */
    for (unsigned i = 0; i < q->ctrl->subsys->hosts->len; i++) {
        if (g_ptr_array_index(q->ctrl->subsys->hosts, i) == h) {
            return true;
        }
    }
    return false;
}

/* ---- deterministic per-queue randomness ------------------------------- */

/*
 * In seeded mode the bytes are HMAC-SHA-256(K, label || subnqn || 0 ||
 * hostnqn || 0 || qid || connection || draw || block) with
 * K = SHA-256(seed): a function of the queue's identity and history only.
 */
void nvmet_queue_random(NvmetQueue *q, void *buf, size_t len)
{
    NvmetSubsys *s = q->ctrl ? q->ctrl->subsys : NULL;
    uint8_t *out = buf;

    if (!s || !s->seeded) {
        /* nvmet_target_new() insists on a source */
        q->t->ops.random_bytes(q->t->opaque, buf, len);
        return;
    }
    for (uint32_t block = 0; len; block++) {
        static const char label[] = "nvmet-tcp random";
        uint8_t ctr[12], t[32];
        NvmetBuf parts[6] = {
            { label, sizeof(label) },
            { q->ctrl->subnqn, strlen(q->ctrl->subnqn) + 1 },
            { q->ctrl->hostnqn, strlen(q->ctrl->hostnqn) + 1 },
            { ctr, sizeof(ctr) },
        };
        size_t n = MIN(len, sizeof(t));

        nvmet_st16(ctr, q->qid);
        nvmet_st16(ctr + 2, q->conn_index);
        nvmet_st32(ctr + 4, q->random_draws);
        nvmet_st32(ctr + 8, block);
        nvmet_hmac(NVMET_HASH_SHA256, s->seed_key, sizeof(s->seed_key),
                   parts, 4, t);
        memcpy(out, t, n);
        nvmet_memzero(t, sizeof(t));
        out += n;
        len -= n;
    }
    q->random_draws++;
}

void nvmet_subsys_set_seed(NvmetSubsys *subsys, const void *seed, size_t len)
{
    NvmetBuf part = { seed, len };

    subsys->seeded = seed != NULL;
    if (seed) {
        nvmet_hash(NVMET_HASH_SHA256, &part, 1, subsys->seed_key);
    }
}

void nvmet_subsys_set_quirk_free_tls_key(NvmetSubsys *subsys, bool on)
{
    subsys->quirk_free_tls_key = on;
}

/* ---- Authentication Send ------------------------------------------------- */

static bool in_list(const uint8_t *list, unsigned n, uint8_t id)
{
    for (unsigned i = 0; i < n; i++) {
        if (list[i] == id) {
            return true;
        }
    }
    return false;
}

/*
 * Pick the first of our preferences (the host's allowed list, in its
 * order; by default the ascending order the Linux host uses, i.e. SHA-256
 * and the NULL group first, as nvmet's defaults) that the host offered.
 */
static int pick(uint32_t allowed, const uint8_t *order, unsigned norder,
                const uint8_t *offered, unsigned noffered)
{
    for (unsigned i = 0; i < norder; i++) {
        uint8_t id = order[i];

        if (allowed && !(allowed & (1u << id))) {
            continue;
        }
        if (in_list(offered, noffered, id)) {
            return id;
        }
    }
    return -1;
}

static void handle_negotiate(NvmetQueue *q, const uint8_t *m, uint32_t tl)
{
    static const uint8_t hash_order[] = {
        NVMET_HASH_SHA256, NVMET_HASH_SHA384, NVMET_HASH_SHA512,
    };
    static const uint8_t group_order[] = {
        NVMET_DH_NULL, NVMET_DH_FFDHE2048, NVMET_DH_FFDHE3072,
        NVMET_DH_FFDHE4096, NVMET_DH_FFDHE6144, NVMET_DH_FFDHE8192,
    };
    NvmetQueueAuth *a = &q->auth;
    NvmetHost *host = nvmet_target_find_host(q->t, q->ctrl->hostnqn);
    const uint8_t *desc = m + NEGOTIATE_LEN;
    uint8_t sc_c, napd, halen, dhlen;
    uint32_t hashes = host ? host->allowed_hashes : 0;
    uint32_t groups = host ? host->allowed_groups : 0;
    int hash, group;

    /* a Negotiate always starts a new transaction */
    nvmet_auth_clear_exchange(a);
    a->step = AUTH_STEP_IDLE;

    if (tl < NEGOTIATE_LEN + DESCRIPTOR_LEN) {
        fail1(q, NVME_AUTH_FAIL_INCORRECT_PAYLOAD,
              "negotiate shorter than one protocol descriptor");
        return;
    }
    a->tid = nvmet_ld16(m + 4);
    a->tid_valid = true;
    sc_c = m[6];
    napd = m[7];
    a->sc_c = sc_c;
    trace_nvmet_auth_negotiate(q->name, a->tid, sc_c, napd, desc[0], desc[2],
                               desc[3]);

    if (sc_c != NVME_AUTH_SECP_NOSC) {
        if (!nvmet_concat_check(q, sc_c)) {
            return;
        }
    }
    if (napd != 1) {
        fail1(q, NVME_AUTH_FAIL_HASH_UNUSABLE,
              "only one protocol descriptor (DH-HMAC-CHAP) is supported");
        return;
    }
    if (desc[0] != 1) {
        fail1(q, NVME_AUTH_FAIL_INCORRECT_PAYLOAD,
              "protocol descriptor is not DH-HMAC-CHAP");
        return;
    }
    halen = desc[2];
    dhlen = desc[3];
    if (halen > MAX_IDS || dhlen > MAX_IDS) {
        fail1(q, NVME_AUTH_FAIL_INCORRECT_PAYLOAD,
              "more than 30 hash or DH group identifiers");
        return;
    }
    if (!host || !host->host_key) {
        fail1(q, NVME_AUTH_FAIL_FAILED,
              "no DH-HMAC-CHAP key is configured for this host");
        return;
    }
    hash = pick(hashes, hash_order, G_N_ELEMENTS(hash_order), desc + 4,
                halen);
    if (hash < 0) {
        fail1(q, NVME_AUTH_FAIL_HASH_UNUSABLE,
              "no hash function offered by the host is allowed");
        return;
    }
    if (sc_c != NVME_AUTH_SECP_NOSC &&
        (hash == NVMET_HASH_SHA512 ||
         (hash == NVMET_HASH_SHA384 && !nvmet_tls_sha384_available()))) {
        /* the generated PSK becomes a TLS PSK: SHA-256 or SHA-384 */
        static const uint8_t tls_hashes[] = {
            NVMET_HASH_SHA256, NVMET_HASH_SHA384,
        };

        hash = pick(hashes, tls_hashes, nvmet_tls_sha384_available() ? 2 : 1,
                    desc + 4, halen);
        if (hash < 0) {
            fail1(q, NVME_AUTH_FAIL_HASH_UNUSABLE,
                  nvmet_tls_sha384_available() ?
                  "secure channel concatenation needs SHA-256 or SHA-384" :
                  "secure channel concatenation needs SHA-256 (SHA-384 "
                  "TLS PSKs need GnuTLS 3.8.11)");
            return;
        }
    }
    group = pick(groups, group_order, G_N_ELEMENTS(group_order),
                 desc + 4 + MAX_IDS, dhlen);
    if (sc_c != NVME_AUTH_SECP_NOSC && group == NVMET_DH_NULL) {
        /* concatenation needs a DH exchange; try the next allowed group */
        static const uint8_t no_null[] = {
            NVMET_DH_FFDHE2048, NVMET_DH_FFDHE3072, NVMET_DH_FFDHE4096,
            NVMET_DH_FFDHE6144, NVMET_DH_FFDHE8192,
        };

        group = pick(groups, no_null, G_N_ELEMENTS(no_null),
                     desc + 4 + MAX_IDS, dhlen);
        if (group < 0) {
            fail1(q, NVME_AUTH_FAIL_CONCAT_MISMATCH,
                  "secure channel concatenation needs a non-NULL DH group");
            return;
        }
    }
    if (group < 0) {
        fail1(q, NVME_AUTH_FAIL_DHGROUP_UNUSABLE,
              "no DH group offered by the host is allowed");
        return;
    }
    a->hash = hash;
    a->dhgid = group;
    /* keys as configured now; a later QMP change applies to the next one */
    a->host_key = nvmet_dhchap_key_dup(host->host_key);
    a->ctrl_key = nvmet_dhchap_key_dup(host->ctrl_key);
    a->key_generation = host->key_generation;
    a->step = AUTH_STEP_CHALLENGE;
    trace_nvmet_auth_selected(q->name, a->tid, nvmet_hash_name(hash),
                              nvmet_dh_name(group));
}

/*
 * The host's response R1 (Linux nvme_auth_dhchap_setup_host_response),
 * with SC_C in its place, or 0 there (@legacy_sc_c): Linux hosts from
 * 6.15, which brought secure channel concatenation, until "nvme-auth:
 * update sc_c in host response" (in 6.18, backported to 6.17.y) hashed 0.
 */
static void host_response(NvmetQueue *q, const uint8_t *ca, bool legacy_sc_c,
                          uint8_t *out)
{
    NvmetQueueAuth *a = &q->auth;

    nvmet_dhchap_response(a->hash, a->host_key, false, ca, a->s1, a->tid,
                          legacy_sc_c ? 0 : a->sc_c, q->ctrl->hostnqn,
                          q->ctrl->subnqn, out);
}

/*
 * The controller's response R2.  Linux 7.1 and later put SC_C into it as
 * into R1 ("nvme-auth: Include SC_C in RVAL controller hash"); older hosts
 * used 0 there.  SC_C is 0 unless concatenating, and with concatenation
 * the Linux host does not check R2, so both agree in practice.
 */
static void ctrl_response(NvmetQueue *q, const uint8_t *ca, uint8_t *out)
{
    NvmetQueueAuth *a = &q->auth;

    nvmet_dhchap_response(a->hash, a->ctrl_key, true, ca, a->s2, a->tid,
                          a->sc_c, q->ctrl->hostnqn, q->ctrl->subnqn, out);
}

/* Ca = HMAC(Ks, C) with a DH exchange, C itself without. */
static void augment(NvmetQueueAuth *a, const uint8_t *c, uint8_t *out)
{
    nvmet_dhchap_augment(a->hash, a->skey,
                         a->dhgid == NVMET_DH_NULL ? 0 : a->skey_len, c, out);
}

static void handle_reply(NvmetQueue *q, const uint8_t *m, uint32_t tl)
{
    NvmetQueueAuth *a = &q->auth;
    size_t hl = nvmet_hash_len(a->hash);
    size_t dlen = nvmet_dh_len(a->dhgid);
    uint8_t rhl, cvalid;
    uint16_t dhvlen;
    uint32_t s2;
    const uint8_t *r1, *c2, *dhv;
    uint8_t ca[NVMET_MAX_HASH_LEN], want[NVMET_MAX_HASH_LEN];
    bool ok;

    if (tl < REPLY_HDR) {
        fail1(q, NVME_AUTH_FAIL_INCORRECT_PAYLOAD, "reply too short");
        return;
    }
    rhl = m[6];
    cvalid = m[8];
    dhvlen = nvmet_ld16(m + 10);
    s2 = nvmet_ld32(m + 12);
    trace_nvmet_auth_reply(q->name, a->tid, rhl, cvalid, dhvlen, s2);
    if (REPLY_HDR + 2 * (size_t)rhl + dhvlen > tl) {
        fail1(q, NVME_AUTH_FAIL_INCORRECT_PAYLOAD,
              "hash and DH value lengths exceed the message");
        return;
    }
    if (rhl != hl) {
        fail1(q, NVME_AUTH_FAIL_INCORRECT_PAYLOAD,
              "hash length does not match the chosen hash");
        return;
    }
    if (dhvlen != dlen) {
        fail1(q, NVME_AUTH_FAIL_INCORRECT_PAYLOAD,
              dlen ? "DH value length does not match the group" :
              "DH value with the NULL group");
        return;
    }
    r1 = m + REPLY_HDR;
    c2 = r1 + hl;
    dhv = c2 + hl;

    if (dlen) {
        g_autofree uint8_t *shared = g_malloc(dlen);
        NvmetBuf part = { shared, dlen };

        if (!nvmet_dh_shared(a->dh, dhv, dlen, shared)) {
            nvmet_memzero(shared, dlen);
            fail1(q, NVME_AUTH_FAIL_DHGROUP_UNUSABLE,
                  "host DH value is not in the group");
            return;
        }
        /* Ks = H(g^xy mod p), the session key (Linux 7.x) */
        nvmet_hash(a->hash, &part, 1, a->skey);
        a->skey_len = hl;
        nvmet_memzero(shared, dlen);
    }

    augment(a, a->c1, ca);
    host_response(q, ca, false, want);
    ok = nvmet_memeq_ct(want, r1, hl);
    a->legacy_host = false;
    if (!ok && a->sc_c != NVME_AUTH_SECP_NOSC) {
        /* a concatenating host of Linux 6.15 .. 6.17 (see host_response) */
        host_response(q, ca, true, want);
        ok = nvmet_memeq_ct(want, r1, hl);
        if (ok) {
            /* its generated PSK's TLS PSK is derived the old way too */
            a->legacy_host = true;
            trace_nvmet_auth_legacy_sc_c(q->name, a->tid, a->sc_c);
        }
    }
    nvmet_memzero(want, sizeof(want));
    nvmet_memzero(ca, sizeof(ca));
    if (!ok) {
        fail1(q, NVME_AUTH_FAIL_FAILED,
              "host response does not match (wrong host key?)");
        return;
    }
    trace_nvmet_auth_host_ok(q->name, a->tid);

    if (cvalid && nvmet_memeq_ct(c2, a->c1, hl)) {
        fail1(q, NVME_AUTH_FAIL_FAILED,
              "host challenge C2 reflects our challenge C1");
        return;
    }
    if (a->sc_c != NVME_AUTH_SECP_NOSC && !cvalid) {
        fail1(q, NVME_AUTH_FAIL_FAILED,
              "secure channel concatenation without a host challenge");
        return;
    }
    if (cvalid && s2 == 0 && a->sc_c == NVME_AUTH_SECP_NOSC) {
        /* SEQNUM 0 means "C2 only for a PSK": meaningless without one */
        fail1(q, NVME_AUTH_FAIL_INCORRECT_PAYLOAD,
              "sequence number 0 with a challenge but no concatenation");
        return;
    }
    a->s2 = s2;
    if (cvalid) {
        memcpy(a->c2, c2, hl);
        a->c2_valid = true;
    }
    if (cvalid && s2 != 0) {
        /* bidirectional: the controller proves itself in SUCCESS1 */
        if (!a->ctrl_key) {
            fail1(q, NVME_AUTH_FAIL_FAILED,
                  "host asks for bidirectional authentication but no "
                  "controller key is configured");
            return;
        }
        a->bidi = true;
    } else {
        a->bidi = false;
        if (a->sc_c != NVME_AUTH_SECP_NOSC) {
            nvmet_concat_generate_psk(q);
        }
        nvmet_auth_success(q);
    }
    a->step = AUTH_STEP_SUCCESS1;
}

/* The queue passed authentication (after REPLY, or SUCCESS2 if bidirectional). */
void nvmet_auth_success(NvmetQueue *q)
{
    NvmetQueueAuth *a = &q->auth;

    a->authenticated = true;
    a->count++;
    trace_nvmet_auth_success(q->name, a->tid, nvmet_hash_name(a->hash),
                             nvmet_dh_name(a->dhgid), a->bidi, a->count);
    if (q->tls.has_key && q->ctrl && q->ctrl->subsys &&
        q->ctrl->subsys->quirk_free_tls_key) {
        /* the seed bug, on purpose: the queue forgets its TLS key */
        q->tls.has_key = false;
        trace_nvmet_quirk_free_tls_key(q->name, q->tls.key_serial);
    }
}

void nvmet_exec_auth_send(NvmetReq *req)
{
    NvmetQueue *q = req->q;
    NvmetQueueAuth *a = &q->auth;
    uint32_t tl = nvmet_sqe_dw(req, AUTH_TL);
    const uint8_t *m = req->buf;
    uint8_t type, id;

    if (req->sqe[AUTH_SECP] != AUTH_DHCHAP_SECP) {
        req->err_pel = AUTH_SECP;
        nvmet_req_complete(req, NVME_SC_INVALID_FIELD | NVME_STATUS_DNR);
        return;
    }
    if (req->sqe[AUTH_SPSP0] != 1 || req->sqe[AUTH_SPSP1] != 1) {
        req->err_pel = req->sqe[AUTH_SPSP0] != 1 ? AUTH_SPSP0 : AUTH_SPSP1;
        nvmet_req_complete(req, NVME_SC_INVALID_FIELD | NVME_STATUS_DNR);
        return;
    }
    if (tl == 0) {
        req->err_pel = AUTH_TL;
        nvmet_req_complete(req, NVME_SC_INVALID_FIELD | NVME_STATUS_DNR);
        return;
    }
    if (!req->h2c || req->data_len != tl || !m) {
        nvmet_req_complete(req, NVME_SC_SGL_INVALID_DATA | NVME_STATUS_DNR);
        return;
    }
    if (tl < 8) {
        fail1(q, NVME_AUTH_FAIL_INCORRECT_PAYLOAD, "message too short");
        goto done;
    }
    type = m[0];
    id = m[1];
    trace_nvmet_auth_send(q->name, type, id, nvmet_ld16(m + 4),
                          step_str(a->step));

    if (type == AUTH_COMMON && id == MSG_NEGOTIATE) {
        handle_negotiate(q, m, tl);
        goto done;
    }
    if (type == AUTH_COMMON && id == MSG_FAILURE2) {
        trace_nvmet_auth_host_failure(q->name, nvmet_ld16(m + 4), m[7],
                                      reason_str(m[7]));
        nvmet_auth_clear_exchange(a);
        a->step = AUTH_STEP_IDLE;
        a->authenticated = false;
        a->failures++;
        goto done;
    }
    if (type != AUTH_COMMON && type != AUTH_DHCHAP) {
        fail1(q, NVME_AUTH_FAIL_INCORRECT_MESSAGE, "unknown message type");
        goto done;
    }
    if (type == AUTH_DHCHAP && id == MSG_SUCCESS2 &&
        a->step == AUTH_STEP_IDLE && a->authenticated && !a->bidi &&
        a->sc_c != NVME_AUTH_SECP_NOSC && a->tid_valid &&
        nvmet_ld16(m + 4) == a->tid) {
        /*
         * Linux 6.15 .. 6.17 hosts with a controller key send SUCCESS2
         * after a concatenation's SUCCESS1, which carries no controller
         * response: the exchange is complete, nothing to do.
         */
        trace_nvmet_auth_legacy_success2(q->name, a->tid);
        goto done;
    }
    if (type == AUTH_COMMON ||
        !((id == MSG_REPLY && a->step == AUTH_STEP_REPLY) ||
          (id == MSG_SUCCESS2 && a->step == AUTH_STEP_SUCCESS2))) {
        fail1(q, NVME_AUTH_FAIL_INCORRECT_MESSAGE,
              "message out of order for this step");
        goto done;
    }
    if (!a->tid_valid || nvmet_ld16(m + 4) != a->tid) {
        fail1(q, NVME_AUTH_FAIL_INCORRECT_PAYLOAD, "wrong transaction ID");
        goto done;
    }
    if (id == MSG_REPLY) {
        handle_reply(q, m, tl);
    } else {
        /* SUCCESS2: the host verified our response */
        if (a->sc_c != NVME_AUTH_SECP_NOSC) {
            nvmet_concat_generate_psk(q);
        }
        nvmet_auth_success(q);
        nvmet_auth_clear_exchange(a);
        a->step = AUTH_STEP_IDLE;
    }

done:
    if (a->step == AUTH_STEP_IDLE) {
        a->deadline = INT64_MAX;
    } else {
        arm_timeout(q);
    }
    nvmet_req_complete(req, NVME_SC_SUCCESS);
}

/* ---- Authentication Receive ---------------------------------------------- */

static size_t build_challenge(NvmetQueue *q, uint8_t *m, uint32_t al)
{
    NvmetQueueAuth *a = &q->auth;
    size_t hl = nvmet_hash_len(a->hash);
    size_t dlen = nvmet_dh_len(a->dhgid);
    size_t len = CHALLENGE_HDR + hl + dlen;

    if (al < len) {
        return 0;
    }
    /* S1: non-zero; C1: fresh; DH: a fresh key pair for every exchange */
    do {
        nvmet_queue_random(q, &a->s1, sizeof(a->s1));
    } while (a->s1 == 0);
    nvmet_queue_random(q, a->c1, hl);
    if (dlen) {
        size_t xlen = nvmet_dh_private_bytes(a->dhgid);
        g_autofree uint8_t *x = g_malloc(xlen);

        nvmet_queue_random(q, x, xlen);
        a->dh = nvmet_dh_new(a->dhgid, x, xlen);
        nvmet_memzero(x, xlen);
    }
    m[0] = AUTH_DHCHAP;
    m[1] = MSG_CHALLENGE;
    nvmet_st16(m + 4, a->tid);
    m[6] = hl;
    m[8] = a->hash;
    m[9] = a->dhgid;
    nvmet_st16(m + 10, dlen);
    nvmet_st32(m + 12, a->s1);
    memcpy(m + CHALLENGE_HDR, a->c1, hl);
    if (dlen) {
        memcpy(m + CHALLENGE_HDR + hl, nvmet_dh_public(a->dh), dlen);
    }
    trace_nvmet_auth_challenge(q->name, a->tid, a->hash, a->dhgid, a->s1);
    return len;
}

static size_t build_success1(NvmetQueue *q, uint8_t *m, uint32_t al)
{
    NvmetQueueAuth *a = &q->auth;
    size_t hl = nvmet_hash_len(a->hash);
    size_t len = SUCCESS1_HDR + (a->bidi ? hl : 0);

    if (al < len) {
        return 0;
    }
    m[0] = AUTH_DHCHAP;
    m[1] = MSG_SUCCESS1;
    nvmet_st16(m + 4, a->tid);
    m[6] = hl;
    if (a->bidi) {
        uint8_t ca[NVMET_MAX_HASH_LEN];

        augment(a, a->c2, ca);
        ctrl_response(q, ca, m + SUCCESS1_HDR);
        nvmet_memzero(ca, sizeof(ca));
        m[8] = 1;                       /* rvalid */
    }
    trace_nvmet_auth_success1(q->name, a->tid, a->bidi);
    return len;
}

static void build_failure1(NvmetQueue *q, uint8_t *m)
{
    NvmetQueueAuth *a = &q->auth;

    m[0] = AUTH_COMMON;
    m[1] = MSG_FAILURE1;
    nvmet_st16(m + 4, a->tid);
    m[6] = 0x01;                        /* rescode: authentication failed */
    m[7] = a->fail_reason;
    trace_nvmet_auth_failure1(q->name, a->tid, a->fail_reason,
                              reason_str(a->fail_reason));
}

void nvmet_exec_auth_recv(NvmetReq *req)
{
    NvmetQueue *q = req->q;
    NvmetQueueAuth *a = &q->auth;
    uint32_t al = nvmet_sqe_dw(req, AUTH_TL);
    uint8_t *m = req->buf;

    if (req->sqe[AUTH_SECP] != AUTH_DHCHAP_SECP) {
        req->err_pel = AUTH_SECP;
        nvmet_req_complete(req, NVME_SC_INVALID_FIELD | NVME_STATUS_DNR);
        return;
    }
    if (req->sqe[AUTH_SPSP0] != 1 || req->sqe[AUTH_SPSP1] != 1) {
        req->err_pel = req->sqe[AUTH_SPSP0] != 1 ? AUTH_SPSP0 : AUTH_SPSP1;
        nvmet_req_complete(req, NVME_SC_INVALID_FIELD | NVME_STATUS_DNR);
        return;
    }
    /* every message we send is at least as long as a failure message */
    if (al < FAILURE_LEN) {
        req->err_pel = AUTH_TL;
        nvmet_req_complete(req, NVME_SC_INVALID_FIELD | NVME_STATUS_DNR);
        return;
    }
    if (!req->c2h || req->data_len != al || !m) {
        nvmet_req_complete(req, NVME_SC_SGL_INVALID_DATA | NVME_STATUS_DNR);
        return;
    }
    trace_nvmet_auth_recv(q->name, al, step_str(a->step));

    switch (a->step) {
    case AUTH_STEP_CHALLENGE:
        if (!build_challenge(q, m, al)) {
            /* too small to hold the challenge: the host may retry */
            req->err_pel = AUTH_TL;
            trace_nvmet_auth_buffer_small(q->name, al);
            nvmet_req_complete(req, NVME_SC_INVALID_FIELD | NVME_STATUS_DNR);
            return;
        }
        a->step = AUTH_STEP_REPLY;
        arm_timeout(q);
        break;
    case AUTH_STEP_SUCCESS1:
        if (!build_success1(q, m, al)) {
            req->err_pel = AUTH_TL;
            trace_nvmet_auth_buffer_small(q->name, al);
            nvmet_req_complete(req, NVME_SC_INVALID_FIELD | NVME_STATUS_DNR);
            return;
        }
        if (a->bidi) {
            a->step = AUTH_STEP_SUCCESS2;
            arm_timeout(q);
        } else {
            /* done; the secrets of this exchange are not needed any more */
            nvmet_auth_clear_exchange(a);
            a->step = AUTH_STEP_IDLE;
        }
        break;
    case AUTH_STEP_FAILURE1:
        build_failure1(q, m);
        a->step = AUTH_STEP_IDLE;
        a->deadline = INT64_MAX;
        break;
    default:
        /* nothing to receive now: the transaction is broken */
        fail1(q, NVME_AUTH_FAIL_FAILED, "receive with no message due");
        build_failure1(q, m);
        a->step = AUTH_STEP_IDLE;
        a->deadline = INT64_MAX;
        break;
    }
    nvmet_req_complete(req, NVME_SC_SUCCESS);
}

/* ---- secure channel concatenation (policy checks) ----------------------- */

/*
 * The SC_C rules of AUTH_Negotiate, as Linux applies them: concatenation
 * only on the admin queue, NEWTLSPSK only on a queue that is not yet
 * TLS-secured, REPLACETLSPSK only on one that is, and only where TLS is
 * available at all.
 */
bool nvmet_concat_check(NvmetQueue *q, uint8_t sc_c)
{
    if (q->qid != 0) {
        fail1(q, NVME_AUTH_FAIL_CONCAT_MISMATCH,
              "secure channel concatenation is only for the admin queue");
        return false;
    }
    if (sc_c != NVME_AUTH_SECP_NEWTLSPSK &&
        sc_c != NVME_AUTH_SECP_REPLACETLSPSK) {
        fail1(q, NVME_AUTH_FAIL_CONCAT_MISMATCH,
              "unsupported SC_C value");
        return false;
    }
    if (!nvmet_port_tls_possible(q->port)) {
        fail1(q, NVME_AUTH_FAIL_CONCAT_MISMATCH,
              "secure channel concatenation needs a port with TLS");
        return false;
    }
    if (sc_c == NVME_AUTH_SECP_NEWTLSPSK && q->tls.has_key) {
        fail1(q, NVME_AUTH_FAIL_CONCAT_MISMATCH,
              "NEWTLSPSK on a queue that is already TLS-secured");
        return false;
    }
    if (sc_c == NVME_AUTH_SECP_REPLACETLSPSK && !q->tls.has_key) {
        fail1(q, NVME_AUTH_FAIL_CONCAT_MISMATCH, q->tls.active ?
              "REPLACETLSPSK on a TLS queue whose key was dropped "
              "(quirk free-tls-key-on-auth)" :
              "REPLACETLSPSK on a queue that is not TLS-secured");
        return false;
    }
    return true;
}

/* ---- inspection -------------------------------------------------------- */

void nvmet_queue_auth_info(NvmetQueue *q, NvmetQueueInfo *info)
{
    NvmetQueueAuth *a = &q->auth;

    info->auth_required = a->required;
    info->authenticated = a->authenticated;
    info->auth_count = a->count;
    info->auth_failures = a->failures;
    info->auth_hash = a->count ? a->hash : 0;
    info->auth_dhgroup = a->count ? a->dhgid : 0;
}
