/*
 * NVMe-oF TCP target engine: object model (ports, subsystems, hosts,
 * namespaces, controllers), controller life cycle, keep-alive and
 * asynchronous events.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#include "internal.h"
#include "crypto.h"

GQuark nvmet_error_quark(void)
{
    return g_quark_from_static_string("nvmet-error-quark");
}

int64_t nvmet_now(NvmetTarget *t)
{
    return t->ops.now_ms ? t->ops.now_ms(t->opaque) : 0;
}

/* ---- NQN syntax ---------------------------------------------------------- */

bool nvmet_nqn_valid(const char *nqn, GError **errp)
{
    size_t len = nqn ? strlen(nqn) : 0;

    if (!len) {
        g_set_error(errp, NVMET_ERROR, 0, "NQN must not be empty");
        return false;
    }
    if (len > NVME_NQN_MAX_LEN) {
        g_set_error(errp, NVMET_ERROR, 0,
                    "NQN '%s' is longer than %d bytes", nqn, NVME_NQN_MAX_LEN);
        return false;
    }
    for (size_t i = 0; i < len; i++) {
        unsigned char c = nqn[i];

        if (c <= ' ' || c == 0x7f) {
            g_set_error(errp, NVMET_ERROR, 0,
                        "NQN '%s' contains a space or control character", nqn);
            return false;
        }
    }
    /*
     * The specification's forms are "nqn.yyyy-mm.<reverse domain>[:name]"
     * and "nqn.2014-08.org.nvmexpress:uuid:<uuid>", but Linux nvmet and
     * the Linux host take any name (blktests' default subsystem is
     * "blktests-subsystem-1"), and so does this target.
     */
    return true;
}

/* A stable 64-bit hash, for defaults derived from names (FNV-1a). */
static uint64_t name_hash(const char *s, uint32_t salt)
{
    uint64_t h = 0xcbf29ce484222325ull ^ salt;

    for (; *s; s++) {
        h ^= (unsigned char)*s;
        h *= 0x100000001b3ull;
    }
    return h;
}

/* ---- timers ------------------------------------------------------------- */

static void foreach_subsys_all(NvmetTarget *t,
                               void (*fn)(NvmetSubsys *s, void *opaque),
                               void *opaque)
{
    for (GList *l = t->subsystems; l; l = l->next) {
        fn(l->data, opaque);
    }
    fn(t->disc, opaque);
}

static void min_deadline_fn(NvmetSubsys *s, void *opaque)
{
    int64_t *min = opaque;

    for (GList *l = s->ctrls; l; l = l->next) {
        NvmetCtrl *ctrl = l->data;

        *min = MIN(*min, ctrl->ka_deadline);
    }
}

int64_t nvmet_target_next_deadline(NvmetTarget *t)
{
    int64_t min = INT64_MAX;

    foreach_subsys_all(t, min_deadline_fn, &min);
    /* authentication transactions waiting for the host's next message */
    for (GList *p = t->ports; p; p = p->next) {
        NvmetPort *port = p->data;

        for (GList *l = port->queues; l; l = l->next) {
            NvmetQueue *q = l->data;

            min = MIN(min, q->auth.deadline);
        }
    }
    return min;
}

/*
 * Tell the user about the earliest deadline if it is earlier than the one
 * already armed.  Deadlines that move later are found when the armed timer
 * fires and nvmet_target_timer() re-arms it.
 */
void nvmet_update_timer(NvmetTarget *t)
{
    int64_t min = nvmet_target_next_deadline(t);

    if (min < t->armed_deadline) {
        t->armed_deadline = min;
        if (t->ops.timer_update) {
            t->ops.timer_update(t->opaque, min);
        }
    }
}

static void expire_fn(NvmetSubsys *s, void *opaque)
{
    int64_t now = *(int64_t *)opaque;
    GList *l = s->ctrls;

    while (l) {
        NvmetCtrl *ctrl = l->data;

        l = l->next;
        if (ctrl->ka_deadline > now) {
            continue;
        }
        /*
         * A host cannot send Keep Alive while a queue of its controller is
         * in the middle of an authentication transaction (no keep-alive
         * before the admin queue is authenticated; Linux starts keep-alive
         * only after its I/O queues connected).  A slow host, e.g. a TCG
         * guest computing an ffdhe8192 value, must not lose its controller
         * then: the authentication timeout bounds such waits instead.
         */
        for (unsigned i = 0; i <= ctrl->max_qid; i++) {
            NvmetQueue *q = ctrl->sqs[i];

            if (q && q->auth.step != AUTH_STEP_IDLE) {
                trace_nvmet_kato_deferred(ctrl->cntlid, i, ctrl->kato_ms);
                ctrl->ka_deadline = now + ctrl->kato_ms;
                break;
            }
        }
        if (ctrl->ka_deadline <= now) {
            trace_nvmet_kato_expired(ctrl->cntlid, ctrl->subnqn,
                                     ctrl->hostnqn, ctrl->kato_ms);
            nvmet_ctrl_teardown(ctrl, "keep-alive timeout");
        }
    }
}

void nvmet_target_timer(NvmetTarget *t)
{
    int64_t now = nvmet_now(t);

    for (GList *p = t->ports; p; p = p->next) {
        NvmetPort *port = p->data;

        for (GList *l = port->queues; l; l = l->next) {
            NvmetQueue *q = l->data;

            if (q->auth.deadline <= now) {
                nvmet_auth_expire(q);
            }
        }
    }
    foreach_subsys_all(t, expire_fn, &now);
    t->armed_deadline = INT64_MAX;
    nvmet_update_timer(t);
}

/* ---- target ----------------------------------------------------------------- */

static NvmetSubsys *subsys_alloc(NvmetTarget *t, const NvmetSubsysConfig *cfg)
{
    NvmetSubsys *s = g_new0(NvmetSubsys, 1);

    s->t = t;
    s->cfg = *cfg;
    s->cfg.nqn = g_strdup(cfg->nqn);
    s->cfg.serial = g_strdup(cfg->serial);
    s->cfg.model = g_strdup(cfg->model ? cfg->model : NVMET_DEFAULT_MODEL);
    s->cfg.firmware = g_strdup(cfg->firmware ? cfg->firmware :
                               NVMET_DEFAULT_FIRMWARE);
    if (!s->cfg.serial) {
        s->cfg.serial = g_strdup_printf("%016" PRIx64,
                                        name_hash(cfg->nqn, 0x5e41));
    }
    if (!s->cfg.version) {
        s->cfg.version = NVMET_DEFAULT_VS;
    }
    if (!s->cfg.max_namespaces) {
        s->cfg.max_namespaces = NVMET_DEFAULT_NN;
    }
    if (!s->cfg.cntlid_min) {
        s->cfg.cntlid_min = NVME_CNTLID_MIN;
    }
    if (!s->cfg.cntlid_max) {
        s->cfg.cntlid_max = NVME_CNTLID_MAX;
    }
    s->next_cntlid = s->cfg.cntlid_min;
    s->hosts = g_ptr_array_new();
    s->ns = g_ptr_array_new();
    s->ports = g_ptr_array_new();
    s->conn_counts = g_hash_table_new_full(g_str_hash, g_str_equal, g_free,
                                           NULL);
    return s;
}

NvmetTarget *nvmet_target_new(const NvmetEngineOps *ops, void *opaque)
{
    NvmetTarget *t = g_new0(NvmetTarget, 1);
    NvmetSubsysConfig cfg;

    /* no global RNG in the engine: every random choice comes from here */
    g_assert(ops->random_bytes);
    nvmet_crypto_init();
    t->ops = *ops;
    t->opaque = opaque;
    t->armed_deadline = INT64_MAX;
    t->disc_genctr = 1;

    nvmet_subsys_config_init(&cfg);
    cfg.nqn = NVME_DISC_SUBSYS_NAME;
    cfg.allow_any_host = true;
    cfg.max_namespaces = 0;
    t->disc = subsys_alloc(t, &cfg);
    t->disc->discovery = true;
    t->disc->cfg.max_namespaces = 0;
    return t;
}

static void subsys_release(NvmetSubsys *s)
{
    g_hash_table_destroy(s->conn_counts);
    nvmet_memzero(s->seed_key, sizeof(s->seed_key));
    g_ptr_array_free(s->hosts, true);
    g_ptr_array_free(s->ns, true);
    g_ptr_array_free(s->ports, true);
    g_free((char *)s->cfg.nqn);
    g_free((char *)s->cfg.serial);
    g_free((char *)s->cfg.model);
    g_free((char *)s->cfg.firmware);
    g_free(s);
}

void nvmet_target_free(NvmetTarget *t)
{
    g_assert(!t->ports && !t->subsystems && !t->hosts);
    while (t->disc->ctrls) {
        nvmet_ctrl_teardown(t->disc->ctrls->data, "target removed");
    }
    subsys_release(t->disc);
    nvmet_concat_target_free(t);
    g_free(t);
}

void nvmet_disc_changed(NvmetTarget *t)
{
    t->disc_genctr++;
    for (GList *l = t->disc->ctrls; l; l = l->next) {
        NvmetCtrl *ctrl = l->data;

        if ((ctrl->feat_aen_cfg & NVME_AEN_CFG_DISC_CHANGE) &&
            !ctrl->disc_aen_masked) {
            ctrl->disc_aen_masked = true;
            nvmet_ctrl_add_aen(ctrl, NVME_AER_TYPE_NOTICE |
                               (NVME_AER_NOTICE_DISC_CHANGED << 8) |
                               (NVME_LOG_DISC << 16));
        }
    }
}

/* ---- ports ------------------------------------------------------------------ */

void nvmet_port_config_init(NvmetPortConfig *cfg)
{
    memset(cfg, 0, sizeof(*cfg));
    cfg->portid = 1;
    cfg->treq = NVMF_TREQ_NOT_SPECIFIED;
    cfg->sqflow_disable_ok = true;
    cfg->inline_data_size = 16384;
    cfg->maxh2cdata = 0x400000;
    cfg->max_queue_size = 1024;
    cfg->max_queues = 128;
    cfg->mdts = 8;
}

NvmetPort *nvmet_port_new(NvmetTarget *t, const NvmetPortConfig *cfg,
                          GError **errp)
{
    NvmetPort *port;

    if (!cfg->traddr || !cfg->trsvcid) {
        g_set_error(errp, NVMET_ERROR, 0, "port needs an address and a port");
        return NULL;
    }
    for (GList *l = t->ports; l; l = l->next) {
        NvmetPort *p = l->data;

        if (p->cfg.portid == cfg->portid) {
            g_set_error(errp, NVMET_ERROR, 0, "port id %u is already in use",
                        cfg->portid);
            return NULL;
        }
    }
    if (cfg->maxh2cdata < NVME_TCP_MIN_MAXH2CDATA || cfg->maxh2cdata % 4) {
        g_set_error(errp, NVMET_ERROR, 0,
                    "maxh2cdata must be a multiple of 4 and at least %d",
                    NVME_TCP_MIN_MAXH2CDATA);
        return NULL;
    }
    if (cfg->inline_data_size % 16 || cfg->inline_data_size > (1u << 20)) {
        g_set_error(errp, NVMET_ERROR, 0,
                    "inline data size must be a multiple of 16 and at most "
                    "1 MiB");
        return NULL;
    }
    if (cfg->max_queue_size < 2 || cfg->max_queue_size > 65535 - 1) {
        g_set_error(errp, NVMET_ERROR, 0,
                    "queue size must be between 2 and 65534");
        return NULL;
    }
    if (cfg->max_queues < 1 || cfg->max_queues > 65534) {
        g_set_error(errp, NVMET_ERROR, 0,
                    "number of I/O queues must be between 1 and 65534");
        return NULL;
    }
    if (cfg->mdts > 12) {
        g_set_error(errp, NVMET_ERROR, 0,
                    "mdts must be at most 12 (16 MiB transfers)");
        return NULL;
    }
    port = g_new0(NvmetPort, 1);
    port->t = t;
    port->cfg = *cfg;
    port->cfg.traddr = g_strdup(cfg->traddr);
    port->cfg.trsvcid = g_strdup(cfg->trsvcid);
    port->subsystems = g_ptr_array_new();
    t->ports = g_list_append(t->ports, port);
    g_ptr_array_add(port->subsystems, t->disc);
    g_ptr_array_add(t->disc->ports, port);
    trace_nvmet_port_add(cfg->portid, cfg->traddr, cfg->trsvcid);
    return port;
}

const NvmetPortConfig *nvmet_port_config(NvmetPort *port)
{
    return &port->cfg;
}

void nvmet_port_add_subsys(NvmetPort *port, NvmetSubsys *subsys)
{
    if (g_ptr_array_find(port->subsystems, subsys, NULL)) {
        return;
    }
    g_ptr_array_add(port->subsystems, subsys);
    g_ptr_array_add(subsys->ports, port);
    nvmet_disc_changed(port->t);
}

static void teardown_ctrls_on_port(NvmetSubsys *subsys, NvmetPort *port)
{
    GList *l = subsys->ctrls;

    while (l) {
        NvmetCtrl *ctrl = l->data;

        l = l->next;
        if (!port || ctrl->port == port) {
            nvmet_ctrl_teardown(ctrl, "subsystem no longer exported");
        }
    }
}

void nvmet_port_remove_subsys(NvmetPort *port, NvmetSubsys *subsys)
{
    if (!g_ptr_array_remove(port->subsystems, subsys)) {
        return;
    }
    g_ptr_array_remove(subsys->ports, port);
    teardown_ctrls_on_port(subsys, port);
    nvmet_disc_changed(port->t);
}

void nvmet_port_free(NvmetPort *port)
{
    NvmetTarget *t = port->t;

    while (port->subsystems->len) {
        NvmetSubsys *s = g_ptr_array_index(port->subsystems, 0);

        g_ptr_array_remove_index(port->subsystems, 0);
        g_ptr_array_remove(s->ports, port);
        teardown_ctrls_on_port(s, port);
    }
    for (GList *l = port->queues; l; l = l->next) {
        nvmet_queue_close(l->data, "port removed");
    }
    /* queues still held by the user keep pointing at the port until released */
    g_assert(!port->queues || true);
    t->ports = g_list_remove(t->ports, port);
    for (GList *l = port->queues; l; l = l->next) {
        NvmetQueue *q = l->data;

        q->port = NULL;
    }
    g_list_free(port->queues);
    g_ptr_array_free(port->subsystems, true);
    g_free((char *)port->cfg.traddr);
    g_free((char *)port->cfg.trsvcid);
    g_free(port);
    nvmet_disc_changed(t);
}

static void ns_remove(NvmetNs *ns);

/* ---- subsystems ------------------------------------------------------------- */

void nvmet_subsys_config_init(NvmetSubsysConfig *cfg)
{
    memset(cfg, 0, sizeof(*cfg));
    cfg->cntlid_min = NVME_CNTLID_MIN;
    cfg->cntlid_max = NVME_CNTLID_MAX;
    cfg->version = NVMET_DEFAULT_VS;
    cfg->max_namespaces = NVMET_DEFAULT_NN;
}

NvmetSubsys *nvmet_subsys_find(NvmetTarget *t, const char *nqn)
{
    if (g_str_equal(nqn, NVME_DISC_SUBSYS_NAME)) {
        return t->disc;
    }
    for (GList *l = t->subsystems; l; l = l->next) {
        NvmetSubsys *s = l->data;

        if (g_str_equal(s->cfg.nqn, nqn)) {
            return s;
        }
    }
    return NULL;
}

NvmetSubsys *nvmet_subsys_new(NvmetTarget *t, const NvmetSubsysConfig *cfg,
                              GError **errp)
{
    NvmetSubsys *s;

    if (!nvmet_nqn_valid(cfg->nqn, errp)) {
        return NULL;
    }
    if (g_str_equal(cfg->nqn, NVME_DISC_SUBSYS_NAME)) {
        g_set_error(errp, NVMET_ERROR, 0,
                    "'%s' is the discovery subsystem's NQN", cfg->nqn);
        return NULL;
    }
    if (nvmet_subsys_find(t, cfg->nqn)) {
        g_set_error(errp, NVMET_ERROR, 0, "subsystem '%s' already exists",
                    cfg->nqn);
        return NULL;
    }
    if (cfg->serial && (strlen(cfg->serial) > 20 || !*cfg->serial)) {
        g_set_error(errp, NVMET_ERROR, 0,
                    "serial number must be 1 to 20 characters");
        return NULL;
    }
    if (cfg->model && (strlen(cfg->model) > 40 || !*cfg->model)) {
        g_set_error(errp, NVMET_ERROR, 0,
                    "model number must be 1 to 40 characters");
        return NULL;
    }
    if (cfg->firmware && (strlen(cfg->firmware) > 8 || !*cfg->firmware)) {
        g_set_error(errp, NVMET_ERROR, 0,
                    "firmware revision must be 1 to 8 characters");
        return NULL;
    }
    if (cfg->cntlid_min < NVME_CNTLID_MIN || cfg->cntlid_max > NVME_CNTLID_MAX ||
        cfg->cntlid_min > cfg->cntlid_max) {
        g_set_error(errp, NVMET_ERROR, 0,
                    "controller ID range must lie within %d-%d",
                    NVME_CNTLID_MIN, NVME_CNTLID_MAX);
        return NULL;
    }
    if (cfg->max_namespaces > 0xfffffffeu) {
        g_set_error(errp, NVMET_ERROR, 0, "too many namespaces");
        return NULL;
    }
    s = subsys_alloc(t, cfg);
    t->subsystems = g_list_append(t->subsystems, s);
    trace_nvmet_subsys_add(s->cfg.nqn);
    return s;
}

const char *nvmet_subsys_nqn(NvmetSubsys *subsys)
{
    return subsys->cfg.nqn;
}

static void teardown_unallowed_ctrls(NvmetSubsys *subsys)
{
    GList *l = subsys->ctrls;

    while (l) {
        NvmetCtrl *ctrl = l->data;

        l = l->next;
        if (!nvmet_subsys_host_allowed(subsys, ctrl->hostnqn)) {
            nvmet_ctrl_teardown(ctrl, "host no longer allowed");
        }
    }
}

void nvmet_subsys_set_allow_any_host(NvmetSubsys *subsys, bool allow)
{
    subsys->cfg.allow_any_host = allow;
    teardown_unallowed_ctrls(subsys);
    nvmet_disc_changed(subsys->t);
}

void nvmet_subsys_free(NvmetSubsys *subsys)
{
    NvmetTarget *t = subsys->t;

    trace_nvmet_subsys_remove(subsys->cfg.nqn);
    while (subsys->ports->len) {
        nvmet_port_remove_subsys(g_ptr_array_index(subsys->ports, 0), subsys);
    }
    teardown_ctrls_on_port(subsys, NULL);
    while (subsys->hosts->len) {
        nvmet_subsys_remove_host(subsys, g_ptr_array_index(subsys->hosts, 0));
    }
    while (subsys->ns->len) {
        ns_remove(g_ptr_array_index(subsys->ns, 0));
    }
    t->subsystems = g_list_remove(t->subsystems, subsys);
    subsys_release(subsys);
}

bool nvmet_subsys_host_allowed(NvmetSubsys *subsys, const char *hostnqn)
{
    if (subsys->cfg.allow_any_host) {
        return true;
    }
    for (unsigned i = 0; i < subsys->hosts->len; i++) {
        NvmetHost *h = g_ptr_array_index(subsys->hosts, i);

        if (g_str_equal(h->nqn, hostnqn)) {
            return true;
        }
    }
    return false;
}

NvmetSubsys *nvmet_port_find_subsys(NvmetPort *port, const char *nqn)
{
    for (unsigned i = 0; i < port->subsystems->len; i++) {
        NvmetSubsys *s = g_ptr_array_index(port->subsystems, i);

        if (g_str_equal(s->cfg.nqn, nqn)) {
            return s;
        }
    }
    return NULL;
}

/* ---- hosts -------------------------------------------------------------------- */

NvmetHost *nvmet_host_new(NvmetTarget *t, const char *nqn, GError **errp)
{
    NvmetHost *h;

    if (!nvmet_nqn_valid(nqn, errp)) {
        return NULL;
    }
    for (GList *l = t->hosts; l; l = l->next) {
        h = l->data;
        if (g_str_equal(h->nqn, nqn)) {
            g_set_error(errp, NVMET_ERROR, 0, "host '%s' already exists", nqn);
            return NULL;
        }
    }
    h = g_new0(NvmetHost, 1);
    h->t = t;
    h->nqn = g_strdup(nqn);
    h->subsystems = g_ptr_array_new();
    t->hosts = g_list_append(t->hosts, h);
    return h;
}

const char *nvmet_host_nqn(NvmetHost *host)
{
    return host->nqn;
}

bool nvmet_subsys_add_host(NvmetSubsys *subsys, NvmetHost *host, GError **errp)
{
    if (subsys->discovery) {
        g_set_error(errp, NVMET_ERROR, 0,
                    "the discovery subsystem admits every host");
        return false;
    }
    if (g_ptr_array_find(subsys->hosts, host, NULL)) {
        g_set_error(errp, NVMET_ERROR, 0, "host '%s' is already allowed in '%s'",
                    host->nqn, subsys->cfg.nqn);
        return false;
    }
    g_ptr_array_add(subsys->hosts, host);
    g_ptr_array_add(host->subsystems, subsys);
    nvmet_disc_changed(subsys->t);
    return true;
}

void nvmet_subsys_remove_host(NvmetSubsys *subsys, NvmetHost *host)
{
    if (!g_ptr_array_remove(subsys->hosts, host)) {
        return;
    }
    g_ptr_array_remove(host->subsystems, subsys);
    teardown_unallowed_ctrls(subsys);
    nvmet_disc_changed(subsys->t);
}

void nvmet_host_free(NvmetHost *host)
{
    NvmetTarget *t = host->t;

    while (host->subsystems->len) {
        nvmet_subsys_remove_host(g_ptr_array_index(host->subsystems, 0), host);
    }
    t->hosts = g_list_remove(t->hosts, host);
    nvmet_dhchap_key_free(host->host_key);
    nvmet_dhchap_key_free(host->ctrl_key);
    nvmet_host_tls_psk_free(host);
    g_ptr_array_free(host->subsystems, true);
    g_free(host->nqn);
    g_free(host);
}

/* ---- namespaces ------------------------------------------------------------ */

NvmetNs *nvmet_subsys_find_ns(NvmetSubsys *subsys, uint32_t nsid)
{
    for (unsigned i = 0; i < subsys->ns->len; i++) {
        NvmetNs *ns = g_ptr_array_index(subsys->ns, i);

        if (ns->cfg.nsid == nsid) {
            return ns;
        }
    }
    return NULL;
}

static void ns_changed(NvmetSubsys *subsys, uint32_t nsid)
{
    for (GList *l = subsys->ctrls; l; l = l->next) {
        NvmetCtrl *ctrl = l->data;
        bool found = false;

        if (ctrl->nr_changed_ns <= NVME_LOG_CHANGED_NS_MAX) {
            for (unsigned i = 0; i < ctrl->nr_changed_ns; i++) {
                if (ctrl->changed_ns[i] == nsid) {
                    found = true;
                    break;
                }
            }
            if (!found) {
                if (ctrl->nr_changed_ns < NVME_LOG_CHANGED_NS_MAX) {
                    ctrl->changed_ns[ctrl->nr_changed_ns] = nsid;
                }
                ctrl->nr_changed_ns++;
            }
        }
        if ((ctrl->feat_aen_cfg & NVME_AEN_CFG_NS_ATTR) &&
            !ctrl->ns_aen_masked) {
            ctrl->ns_aen_masked = true;
            nvmet_ctrl_add_aen(ctrl, NVME_AER_TYPE_NOTICE |
                               (NVME_AER_NOTICE_NS_CHANGED << 8) |
                               (NVME_LOG_CHANGED_NS << 16));
        }
    }
}

static gint ns_cmp(gconstpointer a, gconstpointer b)
{
    const NvmetNs *x = *(NvmetNs * const *)a;
    const NvmetNs *y = *(NvmetNs * const *)b;

    return x->cfg.nsid < y->cfg.nsid ? -1 : x->cfg.nsid > y->cfg.nsid;
}

NvmetNs *nvmet_ns_new(NvmetSubsys *subsys, const NvmetNsConfig *cfg,
                      GError **errp)
{
    NvmetNs *ns;

    if (subsys->discovery) {
        g_set_error(errp, NVMET_ERROR, 0,
                    "the discovery subsystem has no namespaces");
        return NULL;
    }
    if (cfg->nsid == 0 || cfg->nsid > subsys->cfg.max_namespaces) {
        g_set_error(errp, NVMET_ERROR, 0,
                    "namespace ID %" PRIu32 " is outside 1-%" PRIu32,
                    cfg->nsid, subsys->cfg.max_namespaces);
        return NULL;
    }
    if (nvmet_subsys_find_ns(subsys, cfg->nsid)) {
        g_set_error(errp, NVMET_ERROR, 0,
                    "namespace ID %" PRIu32 " is already used in '%s'",
                    cfg->nsid, subsys->cfg.nqn);
        return NULL;
    }
    if (cfg->block_size < 512 || cfg->block_size > 65536 ||
        (cfg->block_size & (cfg->block_size - 1))) {
        g_set_error(errp, NVMET_ERROR, 0,
                    "block size %" PRIu32 " is not a power of two in 512-64K",
                    cfg->block_size);
        return NULL;
    }
    if (cfg->size < cfg->block_size) {
        g_set_error(errp, NVMET_ERROR, 0,
                    "namespace is smaller than one block (%" PRIu64 " bytes)",
                    cfg->size);
        return NULL;
    }
    ns = g_new0(NvmetNs, 1);
    ns->subsys = subsys;
    ns->cfg = *cfg;
    ns->lba_shift = __builtin_ctz(cfg->block_size);
    ns->nsze = cfg->size >> ns->lba_shift;
    ns->refcnt = 2;                 /* the caller's and the subsystem's */
    if (!ns->cfg.has_uuid) {
        /* stable default identifiers derived from subsystem and NSID */
        uint64_t a = name_hash(subsys->cfg.nqn, cfg->nsid);
        uint64_t b = name_hash(subsys->cfg.nqn, cfg->nsid ^ 0xa5a5a5a5u);

        ns->cfg.has_uuid = true;
        memcpy(ns->cfg.uuid, &a, 8);
        memcpy(ns->cfg.uuid + 8, &b, 8);
        ns->cfg.uuid[6] = (ns->cfg.uuid[6] & 0x0f) | 0x40;   /* version 4 */
        ns->cfg.uuid[8] = (ns->cfg.uuid[8] & 0x3f) | 0x80;   /* variant */
    }
    if (!ns->cfg.has_nguid) {
        ns->cfg.has_nguid = true;
        memcpy(ns->cfg.nguid, ns->cfg.uuid, 16);
    }
    g_ptr_array_add(subsys->ns, ns);
    g_ptr_array_sort(subsys->ns, ns_cmp);
    trace_nvmet_ns_add(subsys->cfg.nqn, cfg->nsid, cfg->size, cfg->block_size);
    ns_changed(subsys, cfg->nsid);
    return ns;
}

void nvmet_ns_ref(NvmetNs *ns)
{
    ns->refcnt++;
}

void nvmet_ns_unref(NvmetNs *ns)
{
    if (--ns->refcnt == 0) {
        g_free(ns);
    }
}

/* Take the namespace out of its subsystem (if it is still in one). */
static void ns_remove(NvmetNs *ns)
{
    NvmetSubsys *subsys = ns->subsys;

    if (!subsys) {
        return;
    }
    trace_nvmet_ns_remove(subsys->cfg.nqn, ns->cfg.nsid);
    g_ptr_array_remove(subsys->ns, ns);
    ns->subsys = NULL;
    ns_changed(subsys, ns->cfg.nsid);
    nvmet_ns_unref(ns);
}

void nvmet_ns_free(NvmetNs *ns)
{
    ns_remove(ns);
    nvmet_ns_unref(ns);
}

void nvmet_ns_resize(NvmetNs *ns, uint64_t size)
{
    uint64_t nsze = size >> ns->lba_shift;

    if (!ns->subsys) {
        return;
    }

    ns->cfg.size = size;
    if (nsze != ns->nsze) {
        ns->nsze = nsze;
        trace_nvmet_ns_resize(ns->subsys->cfg.nqn, ns->cfg.nsid, size);
        ns_changed(ns->subsys, ns->cfg.nsid);
    }
}

/* ---- controllers ----------------------------------------------------------- */

NvmetCtrl *nvmet_ctrl_find(NvmetSubsys *subsys, uint16_t cntlid)
{
    for (GList *l = subsys->ctrls; l; l = l->next) {
        NvmetCtrl *ctrl = l->data;

        if (ctrl->cntlid == cntlid) {
            return ctrl;
        }
    }
    return NULL;
}

static void ctrl_reset_features(NvmetCtrl *ctrl)
{
    ctrl->feat_arbitration = 0;
    ctrl->feat_power_mgmt = 0;
    ctrl->feat_temp_thresh = 0x0157;  /* 343 K */
    ctrl->feat_err_recovery = 0;
    ctrl->feat_vwce = true;
    ctrl->feat_write_atomic = 0;
    ctrl->feat_aen_cfg = 0;
    ctrl->nr_queues_set = false;
    ctrl->nr_io_queues = ctrl->max_qid;
    memset(ctrl->host_behavior, 0, sizeof(ctrl->host_behavior));
}

NvmetCtrl *nvmet_ctrl_new(NvmetSubsys *subsys, NvmetPort *port,
                          const char *hostnqn, const uint8_t *hostid,
                          uint32_t kato_ms)
{
    uint16_t range = subsys->cfg.cntlid_max - subsys->cfg.cntlid_min + 1;
    uint16_t cntlid = 0;
    NvmetCtrl *ctrl;

    for (unsigned i = 0; i < range; i++) {
        uint16_t c = subsys->next_cntlid;

        subsys->next_cntlid = c >= subsys->cfg.cntlid_max ?
                              subsys->cfg.cntlid_min : c + 1;
        if (!nvmet_ctrl_find(subsys, c)) {
            cntlid = c;
            break;
        }
    }
    if (!cntlid) {
        return NULL;
    }

    ctrl = g_new0(NvmetCtrl, 1);
    ctrl->t = subsys->t;
    ctrl->subsys = subsys;
    ctrl->port = port;
    ctrl->refcnt = 1;               /* held by subsys->ctrls */
    ctrl->cntlid = cntlid;
    ctrl->hostnqn = g_strdup(hostnqn);
    ctrl->subnqn = g_strdup(subsys->cfg.nqn);
    memcpy(ctrl->hostid, hostid, 16);
    ctrl->max_qid = subsys->discovery ? 0 : port->cfg.max_queues;
    ctrl->sqs = g_new0(NvmetQueue *, ctrl->max_qid + 1);
    ctrl->kato_ms = kato_ms;
    ctrl->ka_deadline = INT64_MAX;
    g_queue_init(&ctrl->pending_aens);
    ctrl_reset_features(ctrl);
    subsys->ctrls = g_list_append(subsys->ctrls, ctrl);
    nvmet_ctrl_keep_alive(ctrl);
    trace_nvmet_ctrl_new(cntlid, subsys->cfg.nqn, hostnqn, kato_ms);
    return ctrl;
}

void nvmet_ctrl_ref(NvmetCtrl *ctrl)
{
    ctrl->refcnt++;
}

void nvmet_ctrl_unref(NvmetCtrl *ctrl)
{
    g_assert(ctrl->refcnt > 0);
    if (--ctrl->refcnt == 0) {
        g_queue_clear(&ctrl->pending_aens);
        g_free(ctrl->sqs);
        g_free(ctrl->hostnqn);
        g_free(ctrl->subnqn);
        g_free(ctrl);
    }
}

void nvmet_ctrl_keep_alive(NvmetCtrl *ctrl)
{
    if (!ctrl->kato_ms || !ctrl->subsys) {
        ctrl->ka_deadline = INT64_MAX;
        return;
    }
    ctrl->ka_deadline = nvmet_now(ctrl->t) + ctrl->kato_ms;
    /*
     * Usually the deadline only moves later, found when the armed timer
     * fires; but a new controller may need an earlier one than is armed.
     */
    if (ctrl->ka_deadline < ctrl->t->armed_deadline) {
        nvmet_update_timer(ctrl->t);
    }
}

void nvmet_ctrl_teardown(NvmetCtrl *ctrl, const char *why)
{
    NvmetSubsys *subsys = ctrl->subsys;

    if (!subsys) {
        return;
    }
    trace_nvmet_ctrl_teardown(ctrl->cntlid, ctrl->subnqn, ctrl->hostnqn, why);
    subsys->ctrls = g_list_remove(subsys->ctrls, ctrl);
    ctrl->subsys = NULL;
    ctrl->ka_deadline = INT64_MAX;
    ctrl->nr_aer = 0;   /* the AER requests die with the admin queue */
    for (unsigned i = 0; i <= ctrl->max_qid; i++) {
        if (ctrl->sqs[i]) {
            nvmet_queue_close(ctrl->sqs[i], why);
        }
    }
    nvmet_ctrl_unref(ctrl);
}

void nvmet_ctrl_fatal(NvmetCtrl *ctrl, const char *why)
{
    ctrl->csts |= NVME_CSTS_CFS;
    nvmet_ctrl_teardown(ctrl, why);
}

/* CC.EN went from 1 to 0: a controller reset. */
void nvmet_ctrl_reset(NvmetCtrl *ctrl)
{
    trace_nvmet_ctrl_reset(ctrl->cntlid, ctrl->subnqn);
    for (unsigned i = 1; i <= ctrl->max_qid; i++) {
        if (ctrl->sqs[i]) {
            nvmet_queue_close(ctrl->sqs[i], "controller reset");
        }
    }
    /* outstanding AERs are aborted without completion by a reset */
    while (ctrl->nr_aer) {
        NvmetReq *req = ctrl->aer[--ctrl->nr_aer];

        nvmet_req_drop(req);
    }
    g_queue_clear(&ctrl->pending_aens);
    ctrl->ns_aen_masked = false;
    ctrl->disc_aen_masked = false;
    ctrl->nr_changed_ns = 0;
    ctrl->csts = 0;
    ctrl_reset_features(ctrl);
}

void nvmet_ctrl_add_aen(NvmetCtrl *ctrl, uint32_t result)
{
    trace_nvmet_aen_queue(ctrl->cntlid, result);
    g_queue_push_tail(&ctrl->pending_aens, GUINT_TO_POINTER(result));
    nvmet_ctrl_process_aens(ctrl);
}

void nvmet_ctrl_process_aens(NvmetCtrl *ctrl)
{
    while (ctrl->nr_aer && !g_queue_is_empty(&ctrl->pending_aens)) {
        NvmetReq *req = ctrl->aer[--ctrl->nr_aer];

        req->dw0 = GPOINTER_TO_UINT(g_queue_pop_head(&ctrl->pending_aens));
        trace_nvmet_aen_complete(ctrl->cntlid, req->dw0);
        nvmet_req_complete(req, NVME_SC_SUCCESS);
    }
}

/*
 * Number the connections of each (host, queue ID) of a subsystem, for the
 * deterministic random streams of seeded subsystems.
 */
void nvmet_queue_count_connection(NvmetQueue *q)
{
    NvmetSubsys *s = q->ctrl->subsys;
    g_autofree char *key = g_strdup_printf("%u %s", q->qid,
                                           q->ctrl->hostnqn);
    gpointer old;

    old = g_hash_table_lookup(s->conn_counts, key);
    q->conn_index = GPOINTER_TO_UINT(old);
    q->random_draws = 0;
    g_hash_table_replace(s->conn_counts, g_steal_pointer(&key),
                         GUINT_TO_POINTER(q->conn_index + 1));
}

void nvmet_secret_str_free(char *s)
{
    if (s) {
        nvmet_memzero(s, strlen(s));
        g_free(s);
    }
}

/* ---- inspection ------------------------------------------------------------ */

typedef struct {
    void (*fn)(const NvmetCtrlInfo *info, void *opaque);
    void *opaque;
} ForeachCtrl;

static void foreach_ctrl_fn(NvmetSubsys *s, void *opaque)
{
    ForeachCtrl *f = opaque;

    for (GList *l = s->ctrls; l; l = l->next) {
        NvmetCtrl *ctrl = l->data;
        NvmetCtrlInfo info = {
            .cntlid = ctrl->cntlid,
            .subnqn = ctrl->subnqn,
            .hostnqn = ctrl->hostnqn,
            .kato_ms = ctrl->kato_ms,
            .enabled = ctrl->csts & NVME_CSTS_RDY,
        };

        for (unsigned i = 1; i <= ctrl->max_qid; i++) {
            info.nr_io_queues += ctrl->sqs[i] != NULL;
        }
        f->fn(&info, f->opaque);
    }
}

bool nvmet_target_ctrl_queues(NvmetTarget *t, const char *subnqn,
                              uint16_t cntlid,
                              void (*fn)(const NvmetQueueInfo *info,
                                         void *opaque),
                              void *opaque)
{
    NvmetSubsys *s = nvmet_subsys_find(t, subnqn);
    NvmetCtrl *ctrl = s ? nvmet_ctrl_find(s, cntlid) : NULL;

    if (!ctrl) {
        return false;
    }
    for (unsigned i = 0; i <= ctrl->max_qid; i++) {
        NvmetQueue *q = ctrl->sqs[i];
        NvmetQueueInfo info = { 0 };

        if (!q) {
            continue;
        }
        info.qid = q->qid;
        info.peer = q->peer;
        info.sqsize = q->sqsize;
        info.hdgst = q->hdgst;
        info.ddgst = q->ddgst;
        info.tls = q->tls.active;
        nvmet_queue_auth_info(q, &info);
        fn(&info, opaque);
    }
    return true;
}

void nvmet_target_foreach_ctrl(NvmetTarget *t,
                               void (*fn)(const NvmetCtrlInfo *info,
                                          void *opaque),
                               void *opaque)
{
    ForeachCtrl f = { fn, opaque };

    foreach_subsys_all(t, foreach_ctrl_fn, &f);
}
