/*
 * NVMe-oF target engine: DH-HMAC-CHAP in-band authentication
 * (Authentication Send / Authentication Receive), one state machine per
 * submission queue.
 *
 * What the Linux 7.x host sends and checks was taken into account
 * throughout; where the Linux target (nvmet) differs from this code it is
 * said so next to the code.  The main differences:
 *
 *  - every queue of a host with a key authenticates (nvmet authenticates
 *    only the admin queue), and until it has, only Connect and the
 *    authentication commands are accepted on it (the gate is in core.c);
 *  - a failed exchange fails that queue, not the controller: its other
 *    queues and other hosts carry on;
 *  - an unexpected message is answered with AUTH_Failure1 (reason
 *    "incorrect message") instead of silently failing the controller;
 *  - each exchange gets a fresh DH key pair and challenge.
 *
 * Concatenating Linux hosts of 6.15 .. 6.17 are accepted as they are: their
 * response hashes 0 for SC_C and they send a SUCCESS2 that nothing asked
 * for (handle_reply, auth_send; their generated PSKs: concat.c, psk.c).
 *
 * Nothing of the exchange lives outside the queue: NvmetSqAuth holds the
 * transaction, and whatever a later exchange needs (for secure channel
 * concatenation: the queue's TLS binding) is never cleared by a successful
 * one.  Every step of the state machine changes in set_step().
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#include "qemu/osdep.h"
#include "auth.h"
#include "concat.h"
#include "crypto.h"
#include "ctrl.h"
#include "event.h"
#include "fault.h"
#include "random.h"
#include "target.h"
#include "trace.h"

static const char *reason_str(uint8_t r)
{
    switch (r) {
    case NVME_AUTH_FAIL_FAILED: return "authentication failed";
    case NVME_AUTH_FAIL_NOT_USABLE: return "protocol not usable";
    case NVME_AUTH_FAIL_CONCAT_MISMATCH:
        return "secure channel concatenation mismatch";
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

/* An authentication event of @sq with the transaction's details. */
static void auth_event(NvmetSq *sq, NvmetEvent *ev)
{
    const NvmetSqAuth *a = &sq->auth;

    if (!nvmet_event_wanted(sq->t)) {
        return;
    }
    ev->u.auth.step = a->step;
    ev->u.auth.tid = a->tid;
    ev->u.auth.sc_c = a->sc_c;
    ev->u.auth.hash = a->hash;
    ev->u.auth.dhgroup = a->dhgid;
    ev->u.auth.bidi = a->bidi;
    ev->u.auth.successes = a->count;
    ev->u.auth.failures = a->failures;
    ev->u.auth.key_generation = a->key_generation;
    nvmet_event_sq(sq, ev);
}

/* An authentication transaction failed; the counts are updated. */
static void auth_failure_event(NvmetSq *sq, NvmetAuthFailSource source,
                               uint8_t reason, const char *why)
{
    NvmetEvent ev = {
        .type = NVMET_EVENT_AUTH_FAILURE,
        .reason = why,
        .u.auth.fail_source = source,
        .u.auth.fail_reason = reason,
    };

    auth_event(sq, &ev);
}

/*
 * The one place where the state machine of @sq moves.  Whatever step comes
 * next, the window for a legacy host's late SUCCESS2 (auth_send) closes.
 */
static void set_step(NvmetSq *sq, uint8_t step)
{
    uint8_t old = sq->auth.step;

    sq->auth.step = step;
    sq->auth.legacy_success2 = false;
    if (old != step) {
        NvmetEvent ev = {
            .type = NVMET_EVENT_AUTH_STEP,
            .u.auth.old_step = old,
        };

        auth_event(sq, &ev);
    }
}

void nvmet_auth_clear_exchange(NvmetSqAuth *a)
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
 * How long the target waits for the host's next message: the host's
 * dhchap-timeout, 120 s by default (nvmet's fallback when KATO is 0).  Not
 * KATO: a TCG guest may need several seconds for one ffdhe8192 value, far
 * beyond the Linux host's 5 s default KATO.
 */
static int64_t auth_timeout_ms(NvmetSq *sq)
{
    NvmetHost *h = sq->ctrl ? nvmet_target_find_host(sq->t,
                                                     sq->ctrl->hostnqn) :
                   NULL;

    return h && h->auth_timeout_ms ? h->auth_timeout_ms :
           NVMET_DHCHAP_TIMEOUT_MS_DEFAULT;
}

static bool auth_pending(NvmetSqAuth *a)
{
    return a->required && !a->authenticated;
}

/*
 * The timeout runs while a transaction waits for the host's next message,
 * and while a queue that must authenticate has not (from its Connect on):
 * an unauthenticated host cannot hold a queue longer than that.  Every
 * message of the host restarts it.
 */
static void auth_rearm(NvmetSq *sq)
{
    NvmetSqAuth *a = &sq->auth;

    if (sq->closing || (a->step == AUTH_STEP_IDLE && !auth_pending(a))) {
        a->deadline = INT64_MAX;
        return;
    }
    a->deadline = nvmet_now(sq->t) + auth_timeout_ms(sq);
    nvmet_update_timer(sq->t);
}

void nvmet_auth_connected(NvmetSq *sq)
{
    auth_rearm(sq);
}

void nvmet_auth_expire(NvmetSq *sq)
{
    NvmetSqAuth *a = &sq->auth;
    int64_t ms = auth_timeout_ms(sq);
    bool started = a->step != AUTH_STEP_IDLE;

    if (started) {
        trace_nvmet_auth_timeout(sq->name, a->tid, ms, step_str(a->step));
    }
    nvmet_auth_clear_exchange(a);
    if (started) {
        /* a transaction that never started did not fail */
        a->failures++;
        auth_failure_event(sq, NVMET_AUTH_FAIL_BY_TIMEOUT, 0,
                           "the host's next message did not come in time");
    }
    set_step(sq, AUTH_STEP_IDLE);
    a->tid_valid = false;
    if (sq->closing) {
        return;
    }
    if (auth_pending(a)) {
        /* it can do nothing but authenticate, and did not: drop it */
        trace_nvmet_auth_timeout_close(sq->name, ms, a->failures);
        nvmet_sq_close(sq, "not authenticated within the authentication "
                       "timeout");
        return;
    }
    /* the keep-alive timer waited for the transaction; it restarts now */
    if (sq->ctrl) {
        nvmet_ctrl_keep_alive(sq->ctrl);
    }
}

/* End the exchange with AUTH_Failure1(@reason) at the next Receive. */
static void fail1(NvmetSq *sq, uint8_t reason, const char *why)
{
    NvmetSqAuth *a = &sq->auth;

    trace_nvmet_auth_failure(sq->name, a->tid, reason, reason_str(reason),
                             why);
    nvmet_auth_clear_exchange(a);
    a->fail_reason = reason;
    a->authenticated = false;
    a->failures++;
    auth_failure_event(sq, NVMET_AUTH_FAIL_BY_TARGET, reason, why);
    set_step(sq, AUTH_STEP_FAILURE1);
}

/* The queue passed authentication (after REPLY, or SUCCESS2 if bidi). */
static void auth_success(NvmetSq *sq)
{
    NvmetSqAuth *a = &sq->auth;
    NvmetEvent ev = { .type = NVMET_EVENT_AUTH_SUCCESS };

    a->authenticated = true;
    a->count++;
    trace_nvmet_auth_success(sq->name, a->tid, nvmet_hash_name(a->hash),
                             nvmet_dh_name(a->dhgid), a->bidi, a->count);
    auth_event(sq, &ev);
    if (a->sc_c != NVME_AUTH_SECP_NOSC) {
        nvmet_concat_generate_psk(sq);
    }
    if (sq->tls.has_key) {
        /* the seed bug, on purpose (quirk-free-tls-key is such a fault) */
        NvmetFaultCtx ctx = {
            .has_sc_c = true, .sc_c = a->sc_c, .tls_key = true,
        };
        NvmetFaultHit hit;

        if (nvmet_fault_armed(sq->t, NVMET_FP_AUTH_SUCCESS) &&
            nvmet_fault_at(sq, NVMET_FP_AUTH_SUCCESS, &ctx, &hit)) {
            sq->tls.has_key = false;
            trace_nvmet_auth_forget_tls_key(sq->name, hit.id,
                                            sq->tls.key_serial);
        }
    }
}

/*
 * A fault wants this authentication command to fail: the exchange ends
 * with AUTH_Failure1 (at once for a Receive, at the next Receive for a
 * Send).  A Negotiate names the new transaction first.
 */
static bool auth_fault(NvmetSq *sq, NvmetReq *req)
{
    NvmetSqAuth *a = &sq->auth;
    g_autofree char *why = NULL;
    uint8_t reason;

    if (!nvmet_fault_auth_failure(req, &reason)) {
        return false;
    }
    if (req->h2c && req->buf && req->data_len > NVME_AUTH_NEG_SC_C &&
        req->buf[NVME_AUTH_TYPE] == NVME_AUTH_COMMON_MESSAGES &&
        req->buf[NVME_AUTH_ID] == NVME_AUTH_MSG_NEGOTIATE) {
        nvmet_auth_clear_exchange(a);
        a->tid = nvmet_ld16(req->buf + NVME_AUTH_TID);
        a->tid_valid = true;
        a->sc_c = req->buf[NVME_AUTH_NEG_SC_C];
    }
    why = g_strdup_printf("fault %u", req->fault.id);
    fail1(sq, reason, why);
    return true;
}

bool nvmet_auth_needed(NvmetSq *sq, const char *hostnqn)
{
    NvmetHost *h = nvmet_target_find_host(sq->t, hostnqn);

    /*
     * Like nvmet, a queue secured by TLS does not authenticate again at
     * connect: the PSK already proved who the host is.  Discovery
     * controllers do not authenticate either (nvmet looks the key up among
     * the hosts of the subsystem, and the discovery subsystem has none), so
     * a plain `nvme discover --hostnqn=...` works for a host with a key.
     */
    if (!h || !h->host_key || sq->tls.active ||
        !sq->ctrl || !sq->ctrl->subsys || sq->ctrl->subsys->discovery) {
        return false;
    }
    /*
     * The key belongs to the host's links to subsystems: on an
     * allow-any-host subsystem that does not list the host, it connects
     * without authenticating (nvmet skips authentication on such
     * subsystems altogether, and refuses to link hosts to them).
     */
    for (unsigned i = 0; i < sq->ctrl->subsys->hosts->len; i++) {
        if (g_ptr_array_index(sq->ctrl->subsys->hosts, i) == h) {
            return true;
        }
    }
    return false;
}

/* ---- deterministic per-queue randomness ------------------------------- */

/* The queue's authentication stream (random.c) */
static void sq_random(NvmetSq *sq, void *buf, size_t len)
{
    nvmet_sq_random(sq, "nvmet-tcp random", &sq->random_draws, buf, len);
}

/* ---- AUTH_Negotiate ------------------------------------------------------ */

/*
 * The SC_C rules of AUTH_Negotiate, as Linux applies them: concatenation
 * only on the admin queue, NEWTLSPSK only on a queue that is not yet
 * TLS-secured, REPLACETLSPSK only on one that is, and only where TLS is
 * available at all.
 */
static bool concat_check(NvmetSq *sq, uint8_t sc_c)
{
    if (sq->qid != 0) {
        fail1(sq, NVME_AUTH_FAIL_CONCAT_MISMATCH,
              "secure channel concatenation is only for the admin queue");
        return false;
    }
    if (sc_c != NVME_AUTH_SECP_NEWTLSPSK &&
        sc_c != NVME_AUTH_SECP_REPLACETLSPSK) {
        fail1(sq, NVME_AUTH_FAIL_CONCAT_MISMATCH,
              "unsupported SC_C value");
        return false;
    }
    if (!nvmet_port_tls_possible(sq->port)) {
        fail1(sq, NVME_AUTH_FAIL_CONCAT_MISMATCH,
              "secure channel concatenation needs a port with TLS");
        return false;
    }
    if (sc_c == NVME_AUTH_SECP_NEWTLSPSK && sq->tls.has_key) {
        fail1(sq, NVME_AUTH_FAIL_CONCAT_MISMATCH,
              "NEWTLSPSK on a queue that is already TLS-secured");
        return false;
    }
    if (sc_c == NVME_AUTH_SECP_REPLACETLSPSK && !sq->tls.has_key) {
        fail1(sq, NVME_AUTH_FAIL_CONCAT_MISMATCH, sq->tls.active ?
              "REPLACETLSPSK on a TLS queue whose key was dropped "
              "(fault forget-tls-key, quirk-free-tls-key)" :
              "REPLACETLSPSK on a queue that is not TLS-secured");
        return false;
    }
    return true;
}

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

/*
 * The message itself: one DH-HMAC-CHAP protocol descriptor with sane list
 * lengths, a concatenation request the queue may make, and a key for the
 * host.  Records the transaction ID and SC_C.
 */
static bool negotiate_check(NvmetSq *sq, const uint8_t *m, uint32_t tl,
                            NvmetHost *host)
{
    NvmetSqAuth *a = &sq->auth;
    const uint8_t *desc = m + NVME_AUTH_NEG_DESC;
    uint8_t napd;

    if (tl < NVME_AUTH_NEG_LEN + NVME_AUTH_DESC_LEN) {
        fail1(sq, NVME_AUTH_FAIL_INCORRECT_PAYLOAD,
              "negotiate shorter than one protocol descriptor");
        return false;
    }
    a->tid = nvmet_ld16(m + NVME_AUTH_TID);
    a->tid_valid = true;
    a->sc_c = m[NVME_AUTH_NEG_SC_C];
    napd = m[NVME_AUTH_NEG_NAPD];
    trace_nvmet_auth_negotiate(sq->name, a->tid, a->sc_c, napd,
                               desc[NVME_AUTH_DESC_AUTHID],
                               desc[NVME_AUTH_DESC_HALEN],
                               desc[NVME_AUTH_DESC_DHLEN]);

    if (a->sc_c != NVME_AUTH_SECP_NOSC && !concat_check(sq, a->sc_c)) {
        return false;
    }
    if (napd != 1) {
        fail1(sq, NVME_AUTH_FAIL_HASH_UNUSABLE,
              "only one protocol descriptor (DH-HMAC-CHAP) is supported");
        return false;
    }
    if (desc[NVME_AUTH_DESC_AUTHID] != NVME_AUTH_DHCHAP_AUTHID) {
        fail1(sq, NVME_AUTH_FAIL_INCORRECT_PAYLOAD,
              "protocol descriptor is not DH-HMAC-CHAP");
        return false;
    }
    if (desc[NVME_AUTH_DESC_HALEN] > NVME_AUTH_DESC_MAX_IDS ||
        desc[NVME_AUTH_DESC_DHLEN] > NVME_AUTH_DESC_MAX_IDS) {
        fail1(sq, NVME_AUTH_FAIL_INCORRECT_PAYLOAD,
              "more than 30 hash or DH group identifiers");
        return false;
    }
    if (!host || !host->host_key) {
        fail1(sq, NVME_AUTH_FAIL_FAILED,
              "no DH-HMAC-CHAP key is configured for this host");
        return false;
    }
    return true;
}

/* The hash: our first allowed one the host offered; -1 after a failure. */
static int negotiate_hash(NvmetSq *sq, uint32_t allowed, const uint8_t *desc)
{
    static const uint8_t hash_order[] = {
        NVMET_HASH_SHA256, NVMET_HASH_SHA384, NVMET_HASH_SHA512,
    };
    /* the generated PSK becomes a TLS PSK: SHA-256 or SHA-384 */
    static const uint8_t tls_hashes[] = {
        NVMET_HASH_SHA256, NVMET_HASH_SHA384,
    };
    const uint8_t *offered = desc + NVME_AUTH_DESC_HASHES;
    uint8_t n = desc[NVME_AUTH_DESC_HALEN];
    bool sha384 = nvmet_tls_sha384_available();
    int hash = pick(allowed, hash_order, G_N_ELEMENTS(hash_order), offered, n);

    if (hash < 0) {
        fail1(sq, NVME_AUTH_FAIL_HASH_UNUSABLE,
              "no hash function offered by the host is allowed");
        return -1;
    }
    if (sq->auth.sc_c == NVME_AUTH_SECP_NOSC ||
        (hash != NVMET_HASH_SHA512 &&
         (hash != NVMET_HASH_SHA384 || sha384))) {
        return hash;
    }
    hash = pick(allowed, tls_hashes, sha384 ? 2 : 1, offered, n);
    if (hash < 0) {
        fail1(sq, NVME_AUTH_FAIL_HASH_UNUSABLE, sha384 ?
              "secure channel concatenation needs SHA-256 or SHA-384" :
              "secure channel concatenation needs SHA-256 (SHA-384 "
              "TLS PSKs need GnuTLS 3.8.11)");
    }
    return hash;
}

/* The DH group: our first allowed one the host offered; -1 after a failure. */
static int negotiate_group(NvmetSq *sq, uint32_t allowed, const uint8_t *desc)
{
    static const uint8_t group_order[] = {
        NVMET_DH_NULL, NVMET_DH_FFDHE2048, NVMET_DH_FFDHE3072,
        NVMET_DH_FFDHE4096, NVMET_DH_FFDHE6144, NVMET_DH_FFDHE8192,
    };
    /* concatenation needs a DH exchange: the next allowed group */
    static const uint8_t no_null[] = {
        NVMET_DH_FFDHE2048, NVMET_DH_FFDHE3072, NVMET_DH_FFDHE4096,
        NVMET_DH_FFDHE6144, NVMET_DH_FFDHE8192,
    };
    const uint8_t *offered = desc + NVME_AUTH_DESC_GROUPS;
    uint8_t n = desc[NVME_AUTH_DESC_DHLEN];
    int group = pick(allowed, group_order, G_N_ELEMENTS(group_order),
                     offered, n);

    if (sq->auth.sc_c != NVME_AUTH_SECP_NOSC && group == NVMET_DH_NULL) {
        group = pick(allowed, no_null, G_N_ELEMENTS(no_null), offered, n);
        if (group < 0) {
            fail1(sq, NVME_AUTH_FAIL_CONCAT_MISMATCH,
                  "secure channel concatenation needs a non-NULL DH group");
            return -1;
        }
    }
    if (group < 0) {
        fail1(sq, NVME_AUTH_FAIL_DHGROUP_UNUSABLE,
              "no DH group offered by the host is allowed");
    }
    return group;
}

static void handle_negotiate(NvmetSq *sq, const uint8_t *m, uint32_t tl)
{
    NvmetSqAuth *a = &sq->auth;
    NvmetHost *host = nvmet_target_find_host(sq->t, sq->ctrl->hostnqn);
    const uint8_t *desc = m + NVME_AUTH_NEG_DESC;
    int hash, group;

    /* a Negotiate always starts a new transaction */
    nvmet_auth_clear_exchange(a);
    set_step(sq, AUTH_STEP_IDLE);
    a->legacy_host = false;

    if (!negotiate_check(sq, m, tl, host)) {
        return;
    }
    hash = negotiate_hash(sq, host->allowed_hashes, desc);
    if (hash < 0) {
        return;
    }
    group = negotiate_group(sq, host->allowed_groups, desc);
    if (group < 0) {
        return;
    }
    a->hash = hash;
    a->dhgid = group;
    /* keys as configured now; a later QMP change applies to the next one */
    a->host_key = nvmet_dhchap_key_dup(host->host_key);
    a->ctrl_key = nvmet_dhchap_key_dup(host->ctrl_key);
    a->key_generation = host->key_generation;
    set_step(sq, AUTH_STEP_CHALLENGE);
    trace_nvmet_auth_selected(sq->name, a->tid, nvmet_hash_name(hash),
                              nvmet_dh_name(group));
}

/* ---- DH-HMAC-CHAP_Reply -------------------------------------------------- */

/*
 * The host's response R1 (Linux nvme_auth_dhchap_setup_host_response),
 * with SC_C in its place, or 0 there (@legacy_sc_c): Linux hosts from
 * 6.15, which brought secure channel concatenation, until "nvme-auth:
 * update sc_c in host response" (in 6.18, backported to 6.17.y) hashed 0.
 */
static void host_response(NvmetSq *sq, const uint8_t *ca, bool legacy_sc_c,
                          uint8_t *out)
{
    NvmetSqAuth *a = &sq->auth;

    nvmet_dhchap_response(a->hash, a->host_key, false, ca, a->s1, a->tid,
                          legacy_sc_c ? 0 : a->sc_c, sq->ctrl->hostnqn,
                          sq->ctrl->subnqn, out);
}

/*
 * The controller's response R2.  Linux 7.1 and later put SC_C into it as
 * into R1 ("nvme-auth: Include SC_C in RVAL controller hash"); older hosts
 * used 0 there.  SC_C is 0 unless concatenating, and with concatenation
 * the Linux host does not check R2, so both agree in practice.
 */
static void ctrl_response(NvmetSq *sq, const uint8_t *ca, uint8_t *out)
{
    NvmetSqAuth *a = &sq->auth;

    nvmet_dhchap_response(a->hash, a->ctrl_key, true, ca, a->s2, a->tid,
                          a->sc_c, sq->ctrl->hostnqn, sq->ctrl->subnqn, out);
}

/* Ca = HMAC(Ks, C) with a DH exchange, C itself without. */
static void augment(NvmetSqAuth *a, const uint8_t *c, uint8_t *out)
{
    nvmet_dhchap_augment(a->hash, a->skey,
                         a->dhgid == NVMET_DH_NULL ? 0 : a->skey_len, c, out);
}

static void handle_reply(NvmetSq *sq, const uint8_t *m, uint32_t tl)
{
    NvmetSqAuth *a = &sq->auth;
    size_t hl = nvmet_hash_len(a->hash);
    size_t dlen = nvmet_dh_len(a->dhgid);
    uint8_t rhl, cvalid;
    uint16_t dhvlen;
    uint32_t s2;
    const uint8_t *r1, *c2, *dhv;
    uint8_t ca[NVMET_MAX_HASH_LEN], want[NVMET_MAX_HASH_LEN];
    bool ok, legacy = false;

    if (tl < NVME_AUTH_REPLY_RVAL) {
        fail1(sq, NVME_AUTH_FAIL_INCORRECT_PAYLOAD, "reply too short");
        return;
    }
    rhl = m[NVME_AUTH_REPLY_HL];
    cvalid = m[NVME_AUTH_REPLY_CVALID];
    dhvlen = nvmet_ld16(m + NVME_AUTH_REPLY_DHVLEN);
    s2 = nvmet_ld32(m + NVME_AUTH_REPLY_SEQNUM);
    trace_nvmet_auth_reply(sq->name, a->tid, rhl, cvalid, dhvlen, s2);
    if (NVME_AUTH_REPLY_RVAL + 2 * (size_t)rhl + dhvlen > tl) {
        fail1(sq, NVME_AUTH_FAIL_INCORRECT_PAYLOAD,
              "hash and DH value lengths exceed the message");
        return;
    }
    if (rhl != hl) {
        fail1(sq, NVME_AUTH_FAIL_INCORRECT_PAYLOAD,
              "hash length does not match the chosen hash");
        return;
    }
    if (dhvlen != dlen) {
        fail1(sq, NVME_AUTH_FAIL_INCORRECT_PAYLOAD,
              dlen ? "DH value length does not match the group" :
              "DH value with the NULL group");
        return;
    }
    r1 = m + NVME_AUTH_REPLY_RVAL;
    c2 = r1 + hl;
    dhv = c2 + hl;

    if (dlen) {
        g_autofree uint8_t *shared = g_malloc(dlen);
        NvmetBuf part = { shared, dlen };

        if (!nvmet_dh_shared(a->dh, dhv, dlen, shared)) {
            nvmet_memzero(shared, dlen);
            fail1(sq, NVME_AUTH_FAIL_DHGROUP_UNUSABLE,
                  "host DH value is not in the group");
            return;
        }
        /* Ks = H(g^xy mod p), the session key (Linux 7.x) */
        nvmet_hash(a->hash, &part, 1, a->skey);
        a->skey_len = hl;
        nvmet_memzero(shared, dlen);
    }

    augment(a, a->c1, ca);
    host_response(sq, ca, false, want);
    ok = nvmet_memeq_ct(want, r1, hl);
    if (a->sc_c != NVME_AUTH_SECP_NOSC) {
        /*
         * Or a concatenating host of Linux 6.15 .. 6.17 (see
         * host_response).  Both forms are computed and compared whatever
         * the first comparison said, so the time taken does not depend on
         * which one (if any) matched.  They differ, as SC_C is not 0 here.
         */
        host_response(sq, ca, true, want);
        legacy = nvmet_memeq_ct(want, r1, hl);
    }
    nvmet_memzero(want, sizeof(want));
    nvmet_memzero(ca, sizeof(ca));
    if (!ok && !legacy) {
        fail1(sq, NVME_AUTH_FAIL_FAILED,
              "host response does not match (wrong host key?)");
        return;
    }
    /* such a host derives its generated PSK's TLS PSK the old way too */
    a->legacy_host = legacy;
    if (legacy) {
        trace_nvmet_auth_legacy_sc_c(sq->name, a->tid, a->sc_c);
    }
    trace_nvmet_auth_host_ok(sq->name, a->tid);

    if (cvalid && nvmet_memeq_ct(c2, a->c1, hl)) {
        fail1(sq, NVME_AUTH_FAIL_FAILED,
              "host challenge C2 reflects our challenge C1");
        return;
    }
    if (a->sc_c != NVME_AUTH_SECP_NOSC && !cvalid) {
        fail1(sq, NVME_AUTH_FAIL_FAILED,
              "secure channel concatenation without a host challenge");
        return;
    }
    if (cvalid && s2 == 0 && a->sc_c == NVME_AUTH_SECP_NOSC) {
        /* SEQNUM 0 means "C2 only for a PSK": meaningless without one */
        fail1(sq, NVME_AUTH_FAIL_INCORRECT_PAYLOAD,
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
            fail1(sq, NVME_AUTH_FAIL_FAILED,
                  "host asks for bidirectional authentication but no "
                  "controller key is configured");
            return;
        }
        a->bidi = true;
    } else {
        a->bidi = false;
        auth_success(sq);
    }
    set_step(sq, AUTH_STEP_SUCCESS1);
}

/* ---- Authentication Send ------------------------------------------------- */

/* The SECP/SPSP fields of Authentication Send and Receive. */
static bool check_sqe(NvmetReq *req)
{
    if (req->sqe[NVME_AUTH_SQE_SECP] != NVME_AUTH_DHCHAP_SECP) {
        req->err_pel = NVME_AUTH_SQE_SECP;
        nvmet_req_complete(req, NVME_SC_INVALID_FIELD | NVME_STATUS_DNR);
        return false;
    }
    if (req->sqe[NVME_AUTH_SQE_SPSP0] != 1 ||
        req->sqe[NVME_AUTH_SQE_SPSP1] != 1) {
        req->err_pel = req->sqe[NVME_AUTH_SQE_SPSP0] != 1 ?
                       NVME_AUTH_SQE_SPSP0 : NVME_AUTH_SQE_SPSP1;
        nvmet_req_complete(req, NVME_SC_INVALID_FIELD | NVME_STATUS_DNR);
        return false;
    }
    return true;
}

/* A message of the host; the command itself succeeds whatever it says. */
static void auth_send(NvmetSq *sq, const uint8_t *m, uint32_t tl)
{
    NvmetSqAuth *a = &sq->auth;
    uint8_t type, id;

    if (tl < NVME_AUTH_FAIL_LEN) {
        fail1(sq, NVME_AUTH_FAIL_INCORRECT_PAYLOAD, "message too short");
        return;
    }
    type = m[NVME_AUTH_TYPE];
    id = m[NVME_AUTH_ID];
    trace_nvmet_auth_send(sq->name, type, id, nvmet_ld16(m + NVME_AUTH_TID),
                          step_str(a->step));

    if (type == NVME_AUTH_COMMON_MESSAGES && id == NVME_AUTH_MSG_NEGOTIATE) {
        handle_negotiate(sq, m, tl);
        return;
    }
    if (type == NVME_AUTH_COMMON_MESSAGES && id == NVME_AUTH_MSG_FAILURE2) {
        uint8_t reason = m[NVME_AUTH_FAIL_RESCODE_EXP];

        trace_nvmet_auth_host_failure(sq->name,
                                      nvmet_ld16(m + NVME_AUTH_TID), reason,
                                      reason_str(reason));
        nvmet_auth_clear_exchange(a);
        a->authenticated = false;
        a->failures++;
        auth_failure_event(sq, NVMET_AUTH_FAIL_BY_HOST, reason,
                           "the host sent AUTH_Failure2");
        set_step(sq, AUTH_STEP_IDLE);
        return;
    }
    if (type != NVME_AUTH_COMMON_MESSAGES &&
        type != NVME_AUTH_DHCHAP_MESSAGES) {
        fail1(sq, NVME_AUTH_FAIL_INCORRECT_MESSAGE, "unknown message type");
        return;
    }
    if (type == NVME_AUTH_DHCHAP_MESSAGES && id == NVME_AUTH_MSG_SUCCESS2 &&
        a->legacy_success2 && a->tid_valid &&
        nvmet_ld16(m + NVME_AUTH_TID) == a->tid) {
        /*
         * Linux 6.15 .. 6.17 hosts with a controller key send SUCCESS2
         * after a concatenation's SUCCESS1, which carries no controller
         * response: the exchange is complete, nothing to do.  Accepted
         * once, for the transaction just completed, and only from a host
         * that proved to be of that era by its response (handle_reply);
         * from any other host, or at any other time, it is out of order.
         * The message carries no MAC: nothing secret is compared here.
         */
        a->legacy_success2 = false;
        trace_nvmet_auth_legacy_success2(sq->name, a->tid);
        return;
    }
    if (type == NVME_AUTH_COMMON_MESSAGES ||
        !((id == NVME_AUTH_MSG_REPLY && a->step == AUTH_STEP_REPLY) ||
          (id == NVME_AUTH_MSG_SUCCESS2 && a->step == AUTH_STEP_SUCCESS2))) {
        fail1(sq, NVME_AUTH_FAIL_INCORRECT_MESSAGE,
              "message out of order for this step");
        return;
    }
    if (!a->tid_valid || nvmet_ld16(m + NVME_AUTH_TID) != a->tid) {
        fail1(sq, NVME_AUTH_FAIL_INCORRECT_PAYLOAD, "wrong transaction ID");
        return;
    }
    if (id == NVME_AUTH_MSG_REPLY) {
        handle_reply(sq, m, tl);
    } else {
        /* SUCCESS2: the host verified our response */
        auth_success(sq);
        nvmet_auth_clear_exchange(a);
        set_step(sq, AUTH_STEP_IDLE);
    }
}

void nvmet_exec_auth_send(NvmetReq *req)
{
    NvmetSq *sq = req->sq;
    uint32_t tl = nvmet_sqe_dw(req, NVME_AUTH_SQE_TL);

    if (!check_sqe(req)) {
        return;
    }
    if (tl == 0) {
        req->err_pel = NVME_AUTH_SQE_TL;
        nvmet_req_complete(req, NVME_SC_INVALID_FIELD | NVME_STATUS_DNR);
        return;
    }
    if (!req->h2c || req->data_len != tl || !req->buf) {
        nvmet_req_complete(req, NVME_SC_SGL_INVALID_DATA | NVME_STATUS_DNR);
        return;
    }
    if (!auth_fault(sq, req)) {
        auth_send(sq, req->buf, tl);
    }
    auth_rearm(sq);
    nvmet_req_complete(req, NVME_SC_SUCCESS);
}

/* ---- Authentication Receive ---------------------------------------------- */

static size_t build_challenge(NvmetSq *sq, uint8_t *m, uint32_t al)
{
    NvmetSqAuth *a = &sq->auth;
    size_t hl = nvmet_hash_len(a->hash);
    size_t dlen = nvmet_dh_len(a->dhgid);
    size_t len = NVME_AUTH_CHAL_CVAL + hl + dlen;

    if (al < len) {
        return 0;
    }
    /* S1: non-zero; C1: fresh; DH: a fresh key pair for every exchange */
    do {
        sq_random(sq, &a->s1, sizeof(a->s1));
    } while (a->s1 == 0);
    sq_random(sq, a->c1, hl);
    if (dlen) {
        size_t xlen = nvmet_dh_private_bytes(a->dhgid);
        g_autofree uint8_t *x = g_malloc(xlen);

        sq_random(sq, x, xlen);
        a->dh = nvmet_dh_new(a->dhgid, x, xlen);
        nvmet_memzero(x, xlen);
    }
    m[NVME_AUTH_TYPE] = NVME_AUTH_DHCHAP_MESSAGES;
    m[NVME_AUTH_ID] = NVME_AUTH_MSG_CHALLENGE;
    nvmet_st16(m + NVME_AUTH_TID, a->tid);
    m[NVME_AUTH_CHAL_HL] = hl;
    m[NVME_AUTH_CHAL_HASHID] = a->hash;
    m[NVME_AUTH_CHAL_DHGID] = a->dhgid;
    nvmet_st16(m + NVME_AUTH_CHAL_DHVLEN, dlen);
    nvmet_st32(m + NVME_AUTH_CHAL_SEQNUM, a->s1);
    memcpy(m + NVME_AUTH_CHAL_CVAL, a->c1, hl);
    if (dlen) {
        memcpy(m + NVME_AUTH_CHAL_CVAL + hl, nvmet_dh_public(a->dh), dlen);
    }
    trace_nvmet_auth_challenge(sq->name, a->tid, a->hash, a->dhgid, a->s1);
    return len;
}

static size_t build_success1(NvmetSq *sq, uint8_t *m, uint32_t al)
{
    NvmetSqAuth *a = &sq->auth;
    size_t hl = nvmet_hash_len(a->hash);
    size_t len = NVME_AUTH_SUCC1_RVAL + (a->bidi ? hl : 0);

    if (al < len) {
        return 0;
    }
    m[NVME_AUTH_TYPE] = NVME_AUTH_DHCHAP_MESSAGES;
    m[NVME_AUTH_ID] = NVME_AUTH_MSG_SUCCESS1;
    nvmet_st16(m + NVME_AUTH_TID, a->tid);
    m[NVME_AUTH_SUCC1_HL] = hl;
    if (a->bidi) {
        uint8_t ca[NVMET_MAX_HASH_LEN];

        augment(a, a->c2, ca);
        ctrl_response(sq, ca, m + NVME_AUTH_SUCC1_RVAL);
        nvmet_memzero(ca, sizeof(ca));
        m[NVME_AUTH_SUCC1_RVALID] = 1;
    }
    trace_nvmet_auth_success1(sq->name, a->tid, a->bidi);
    return len;
}

static void build_failure1(NvmetSq *sq, uint8_t *m)
{
    NvmetSqAuth *a = &sq->auth;

    m[NVME_AUTH_TYPE] = NVME_AUTH_COMMON_MESSAGES;
    m[NVME_AUTH_ID] = NVME_AUTH_MSG_FAILURE1;
    nvmet_st16(m + NVME_AUTH_TID, a->tid);
    m[NVME_AUTH_FAIL_RESCODE] = NVME_AUTH_RESCODE_FAILED;
    m[NVME_AUTH_FAIL_RESCODE_EXP] = a->fail_reason;
    trace_nvmet_auth_failure1(sq->name, a->tid, a->fail_reason,
                              reason_str(a->fail_reason));
}

/* The message due now into @m; false if @al is too small for it. */
static bool auth_receive(NvmetSq *sq, uint8_t *m, uint32_t al)
{
    NvmetSqAuth *a = &sq->auth;

    switch (a->step) {
    case AUTH_STEP_CHALLENGE:
        if (!build_challenge(sq, m, al)) {
            return false;
        }
        set_step(sq, AUTH_STEP_REPLY);
        break;
    case AUTH_STEP_SUCCESS1:
        if (!build_success1(sq, m, al)) {
            return false;
        }
        if (a->bidi) {
            set_step(sq, AUTH_STEP_SUCCESS2);
        } else {
            /* done; the secrets of this exchange are not needed any more */
            nvmet_auth_clear_exchange(a);
            set_step(sq, AUTH_STEP_IDLE);
            /* a legacy host may still send SUCCESS2 (auth_send) */
            a->legacy_success2 = a->legacy_host;
        }
        break;
    case AUTH_STEP_FAILURE1:
        build_failure1(sq, m);
        set_step(sq, AUTH_STEP_IDLE);
        break;
    default:
        /* nothing to receive now: the transaction is broken */
        fail1(sq, NVME_AUTH_FAIL_FAILED, "receive with no message due");
        build_failure1(sq, m);
        set_step(sq, AUTH_STEP_IDLE);
        break;
    }
    return true;
}

void nvmet_exec_auth_recv(NvmetReq *req)
{
    NvmetSq *sq = req->sq;
    uint32_t al = nvmet_sqe_dw(req, NVME_AUTH_SQE_TL);

    if (!check_sqe(req)) {
        return;
    }
    /* every message we send is at least as long as a failure message */
    if (al < NVME_AUTH_FAIL_LEN) {
        req->err_pel = NVME_AUTH_SQE_TL;
        nvmet_req_complete(req, NVME_SC_INVALID_FIELD | NVME_STATUS_DNR);
        return;
    }
    if (!req->c2h || req->data_len != al || !req->buf) {
        nvmet_req_complete(req, NVME_SC_SGL_INVALID_DATA | NVME_STATUS_DNR);
        return;
    }
    trace_nvmet_auth_recv(sq->name, al, step_str(sq->auth.step));
    auth_fault(sq, req);
    if (!auth_receive(sq, req->buf, al)) {
        /* too small to hold the message: the host may retry */
        req->err_pel = NVME_AUTH_SQE_TL;
        trace_nvmet_auth_buffer_small(sq->name, al);
        auth_rearm(sq);
        nvmet_req_complete(req, NVME_SC_INVALID_FIELD | NVME_STATUS_DNR);
        return;
    }
    auth_rearm(sq);
    nvmet_req_complete(req, NVME_SC_SUCCESS);
}
