/*
 * NVMe-oF target engine: the object model as its user configures it
 * (ports, subsystems, hosts with their keys, namespaces), lookups in it,
 * and what the user may inspect.  Controllers are in ctrl.c.
 *
 * Every entry point here takes the target lock (it nests), so the user may
 * configure the target from any thread while queues run in others.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#include "qemu/osdep.h"
#include "target.h"
#include "crypto.h"
#include "ctrl.h"
#include "fault.h"
#include "psk.h"
#include "req.h"
#include "trace.h"

GQuark nvmet_error_quark(void)
{
    return g_quark_from_static_string("nvmet-error-quark");
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

/* ---- target -------------------------------------------------------------- */

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
    g_rec_mutex_init(&t->lock);
    t->ops = *ops;
    t->opaque = opaque;
    t->armed_deadline = INT64_MAX;
    t->fault_deadline = INT64_MAX;
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
    nvmet_lock(t);
    g_assert(!t->ports && !t->subsystems && !t->hosts);
    while (t->disc->ctrls) {
        nvmet_ctrl_teardown(t->disc->ctrls->data, "target removed");
    }
    subsys_release(t->disc);
    nvmet_fault_target_free(t);
    if (t->gen_psks) {
        g_hash_table_destroy(t->gen_psks);    /* wipes the PSKs */
    }
    nvmet_unlock(t);
    g_rec_mutex_clear(&t->lock);
    g_free(t);
}

static void disc_changed(NvmetTarget *t)
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

/* ---- ports --------------------------------------------------------------- */

static NvmetPort *port_add(NvmetTarget *t, const NvmetPortConfig *cfg,
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
    port->refcnt = 1;
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

NvmetPort *nvmet_port_add(NvmetTarget *t, const NvmetPortConfig *cfg,
                          GError **errp)
{
    NvmetPort *port;

    nvmet_lock(t);
    port = port_add(t, cfg, errp);
    nvmet_unlock(t);
    return port;
}

const NvmetPortConfig *nvmet_port_config(NvmetPort *port)
{
    return &port->cfg;
}

void nvmet_port_set_max_connections(NvmetPort *port, uint32_t max)
{
    port->max_connections = max;
}

void nvmet_port_set_icreq_timeout(NvmetPort *port, uint32_t ms)
{
    port->icreq_timeout_ms = ms;
}

void nvmet_port_get_stats(NvmetPort *port, NvmetPortStats *stats)
{
    nvmet_lock(port->t);
    stats->connections = port->nr_queues;
    stats->draining = port->nr_draining;
    nvmet_unlock(port->t);
    stats->connections_refused = port->conns_refused;
    stats->icreq_timeouts = port->icreq_timeouts;
}

bool nvmet_port_tls_possible(NvmetPort *port)
{
    return port->cfg.tls != NVMET_PORT_TLS_NONE;
}

void nvmet_port_add_subsys(NvmetPort *port, NvmetSubsys *subsys)
{
    nvmet_lock(port->t);
    if (!g_ptr_array_find(port->subsystems, subsys, NULL)) {
        g_ptr_array_add(port->subsystems, subsys);
        g_ptr_array_add(subsys->ports, port);
        disc_changed(port->t);
    }
    nvmet_unlock(port->t);
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
    nvmet_lock(port->t);
    if (g_ptr_array_remove(port->subsystems, subsys)) {
        g_ptr_array_remove(subsys->ports, port);
        teardown_ctrls_on_port(subsys, port);
        disc_changed(port->t);
    }
    nvmet_unlock(port->t);
}

/*
 * Queues keep their port (its settings) until they are freed: a removed
 * port lives on, empty, until the last one goes.
 */
void nvmet_port_unref(NvmetPort *port)
{
    NvmetTarget *t = port->t;

    nvmet_lock(t);
    g_assert(port->refcnt > 0);
    if (--port->refcnt == 0) {
        g_assert(port->removed && !port->queues);
        g_ptr_array_free(port->subsystems, true);
        g_free((char *)port->cfg.traddr);
        g_free((char *)port->cfg.trsvcid);
        g_free(port);
    }
    nvmet_unlock(t);
}

void nvmet_port_free(NvmetPort *port)
{
    NvmetTarget *t = port->t;

    nvmet_lock(t);
    while (port->subsystems->len) {
        NvmetSubsys *s = g_ptr_array_index(port->subsystems, 0);

        g_ptr_array_remove_index(port->subsystems, 0);
        g_ptr_array_remove(s->ports, port);
        teardown_ctrls_on_port(s, port);
    }
    for (GList *l = port->queues; l; l = l->next) {
        nvmet_sq_post(l->data, NVMET_SQ_EV_CLOSE, "port removed");
    }
    t->ports = g_list_remove(t->ports, port);
    port->removed = true;
    disc_changed(t);
    nvmet_port_unref(port);
    nvmet_unlock(t);
}

static void ns_remove(NvmetNs *ns);

/* ---- subsystems ---------------------------------------------------------- */

void nvmet_subsys_config_init(NvmetSubsysConfig *cfg)
{
    memset(cfg, 0, sizeof(*cfg));
    cfg->cntlid_min = NVME_CNTLID_MIN;
    cfg->cntlid_max = NVME_CNTLID_MAX;
    cfg->version = NVMET_DEFAULT_VS;
    cfg->max_namespaces = NVMET_DEFAULT_NN;
}

static NvmetSubsys *subsys_find(NvmetTarget *t, const char *nqn)
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

NvmetSubsys *nvmet_subsys_find(NvmetTarget *t, const char *nqn)
{
    NvmetSubsys *s;

    nvmet_lock(t);
    s = subsys_find(t, nqn);
    nvmet_unlock(t);
    return s;
}

static NvmetSubsys *subsys_new(NvmetTarget *t, const NvmetSubsysConfig *cfg,
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
    if (subsys_find(t, cfg->nqn)) {
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
    if (cfg->cntlid_min < NVME_CNTLID_MIN ||
        cfg->cntlid_max > NVME_CNTLID_MAX ||
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

NvmetSubsys *nvmet_subsys_new(NvmetTarget *t, const NvmetSubsysConfig *cfg,
                              GError **errp)
{
    NvmetSubsys *s;

    nvmet_lock(t);
    s = subsys_new(t, cfg, errp);
    nvmet_unlock(t);
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
    nvmet_lock(subsys->t);
    subsys->cfg.allow_any_host = allow;
    teardown_unallowed_ctrls(subsys);
    disc_changed(subsys->t);
    nvmet_unlock(subsys->t);
}

void nvmet_subsys_set_seed(NvmetSubsys *subsys, const void *seed, size_t len)
{
    NvmetBuf part = { seed, len };

    nvmet_lock(subsys->t);
    subsys->seeded = seed != NULL;
    if (seed) {
        nvmet_hash(NVMET_HASH_SHA256, &part, 1, subsys->seed_key);
    }
    nvmet_unlock(subsys->t);
}

/*
 * The quirk is a fault the subsystem owns: at every authentication success
 * on a queue of the subsystem that holds a TLS key, forget the key.
 */
void nvmet_subsys_set_quirk_free_tls_key(NvmetSubsys *subsys, bool on)
{
    nvmet_lock(subsys->t);
    if (on && !subsys->quirk_fault) {
        g_autofree char *owner = g_strdup_printf(
            "the quirk-free-tls-key of subsystem %s", subsys->cfg.nqn);
        NvmetFaultConfig cfg = {
            .point = NVMET_FP_AUTH_SUCCESS,
            .owner = owner,
            .subnqn = subsys->cfg.nqn,
            .when = NVMET_FAULT_EVERY,
            .action = NVMET_FA_FORGET_TLS_KEY,
        };

        subsys->quirk_fault = nvmet_fault_add(subsys->t, &cfg, NULL);
        g_assert(subsys->quirk_fault);
    } else if (!on && subsys->quirk_fault) {
        nvmet_fault_del(subsys->t, subsys->quirk_fault, true, NULL);
        subsys->quirk_fault = 0;
    }
    nvmet_unlock(subsys->t);
}

void nvmet_subsys_free(NvmetSubsys *subsys)
{
    NvmetTarget *t = subsys->t;

    nvmet_lock(t);
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
    nvmet_subsys_set_quirk_free_tls_key(subsys, false);
    subsys_release(subsys);
    nvmet_unlock(t);
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

/* ---- hosts --------------------------------------------------------------- */

NvmetHost *nvmet_host_new(NvmetTarget *t, const char *nqn, GError **errp)
{
    NvmetHost *h;

    if (!nvmet_nqn_valid(nqn, errp)) {
        return NULL;
    }
    nvmet_lock(t);
    for (GList *l = t->hosts; l; l = l->next) {
        h = l->data;
        if (g_str_equal(h->nqn, nqn)) {
            g_set_error(errp, NVMET_ERROR, 0, "host '%s' already exists", nqn);
            nvmet_unlock(t);
            return NULL;
        }
    }
    h = g_new0(NvmetHost, 1);
    h->t = t;
    h->nqn = g_strdup(nqn);
    h->subsystems = g_ptr_array_new();
    t->hosts = g_list_append(t->hosts, h);
    nvmet_unlock(t);
    return h;
}

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

const char *nvmet_host_nqn(NvmetHost *host)
{
    return host->nqn;
}

bool nvmet_subsys_add_host(NvmetSubsys *subsys, NvmetHost *host, GError **errp)
{
    bool ok = false;

    nvmet_lock(subsys->t);
    if (subsys->discovery) {
        g_set_error(errp, NVMET_ERROR, 0,
                    "the discovery subsystem admits every host");
    } else if (g_ptr_array_find(subsys->hosts, host, NULL)) {
        g_set_error(errp, NVMET_ERROR, 0,
                    "host '%s' is already allowed in '%s'", host->nqn,
                    subsys->cfg.nqn);
    } else {
        g_ptr_array_add(subsys->hosts, host);
        g_ptr_array_add(host->subsystems, subsys);
        disc_changed(subsys->t);
        ok = true;
    }
    nvmet_unlock(subsys->t);
    return ok;
}

void nvmet_subsys_remove_host(NvmetSubsys *subsys, NvmetHost *host)
{
    nvmet_lock(subsys->t);
    if (g_ptr_array_remove(subsys->hosts, host)) {
        g_ptr_array_remove(host->subsystems, subsys);
        teardown_unallowed_ctrls(subsys);
        disc_changed(subsys->t);
    }
    nvmet_unlock(subsys->t);
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
    nvmet_lock(host->t);
    nvmet_dhchap_key_free(host->host_key);
    nvmet_dhchap_key_free(host->ctrl_key);
    host->host_key = hk;
    host->ctrl_key = ck;
    host->key_generation++;
    trace_nvmet_auth_keys(host->nqn, hk != NULL, hk ? hk->len : 0,
                          hk ? hk->hmac : 0, ck != NULL,
                          host->key_generation);
    nvmet_unlock(host->t);
    return true;
}

void nvmet_host_set_dhchap_allowed(NvmetHost *host, uint32_t hashes,
                                   uint32_t dhgroups)
{
    nvmet_lock(host->t);
    host->allowed_hashes = hashes;
    host->allowed_groups = dhgroups;
    nvmet_unlock(host->t);
}

void nvmet_host_set_dhchap_timeout(NvmetHost *host, uint32_t ms)
{
    nvmet_lock(host->t);
    host->auth_timeout_ms = ms;
    nvmet_unlock(host->t);
}

bool nvmet_host_set_tls_psk(NvmetHost *host, const char *interchange,
                            GError **errp)
{
    NvmetPsk *psk = NULL;

    if (interchange) {
        psk = g_new0(NvmetPsk, 1);
        if (!nvmet_psk_parse(interchange, psk, errp)) {
            nvmet_memzero(psk, sizeof(*psk));
            g_free(psk);
            return false;
        }
        if (nvmet_psk_hash(psk) == NVMET_HASH_SHA384 &&
            !nvmet_tls_sha384_available()) {
            g_set_error(errp, NVMET_ERROR, 0,
                        "a SHA-384 TLS PSK needs GnuTLS 3.8.11 or later, but "
                        "GnuTLS %s is in use (scripts/build-gnutls.sh builds "
                        "one)", nvmet_tls_library_version());
            nvmet_memzero(psk, sizeof(*psk));
            g_free(psk);
            return false;
        }
    }
    nvmet_lock(host->t);
    if (host->tls_psk) {
        nvmet_memzero(host->tls_psk, sizeof(*host->tls_psk));
        g_free(host->tls_psk);
    }
    if (psk) {
        psk->compat = host->tls_psk_compat;
    }
    host->tls_psk = psk;
    host->tls_psk_serial = psk ? ++host->t->next_psk_serial : 0;
    trace_nvmet_tls_psk_configured(host->nqn, psk ? psk->hmac : 0,
                                   psk ? psk->len : 0, host->tls_psk_serial);
    nvmet_unlock(host->t);
    return true;
}

/*
 * Derive the host's configured PSK as nvme-cli 2.13 and older do (libnvme
 * before 1.14: not RFC 8446's HKDF-Expand-Label; see psk.c), for hosts
 * whose key such an nvme-cli put into the keyring.
 */
void nvmet_host_set_tls_psk_compat(NvmetHost *host, bool on)
{
    host->tls_psk_compat = on;
    if (host->tls_psk) {
        host->tls_psk->compat = on;
    }
}

static void host_tls_psk_free(NvmetHost *host)
{
    nvmet_host_set_tls_psk(host, NULL, NULL);
}

void nvmet_host_free(NvmetHost *host)
{
    NvmetTarget *t = host->t;

    nvmet_lock(t);
    while (host->subsystems->len) {
        nvmet_subsys_remove_host(g_ptr_array_index(host->subsystems, 0), host);
    }
    t->hosts = g_list_remove(t->hosts, host);
    nvmet_dhchap_key_free(host->host_key);
    nvmet_dhchap_key_free(host->ctrl_key);
    host_tls_psk_free(host);
    g_ptr_array_free(host->subsystems, true);
    g_free(host->nqn);
    g_free(host);
    nvmet_unlock(t);
}

/* ---- namespaces ---------------------------------------------------------- */

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

static void ns_changed(NvmetSubsys *subsys, uint32_t nsid, bool removed)
{
    for (GList *l = subsys->ctrls; l; l = l->next) {
        NvmetCtrl *ctrl = l->data;
        bool found = false;

        /* the I/O queues drop their cached reference to it */
        for (unsigned i = 1; removed && i <= ctrl->max_qid; i++) {
            if (ctrl->sqs[i]) {
                nvmet_sq_post(ctrl->sqs[i], NVMET_SQ_EV_NS, NULL);
            }
        }
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

static NvmetNs *ns_new(NvmetSubsys *subsys, const NvmetNsConfig *cfg,
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
    ns->t = subsys->t;
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
    ns_changed(subsys, cfg->nsid, false);
    return ns;
}

NvmetNs *nvmet_ns_new(NvmetSubsys *subsys, const NvmetNsConfig *cfg,
                      GError **errp)
{
    NvmetNs *ns;

    nvmet_lock(subsys->t);
    ns = ns_new(subsys, cfg, errp);
    nvmet_unlock(subsys->t);
    return ns;
}

void nvmet_ns_release(NvmetNs *ns)
{
    NvmetTarget *t = ns->t;

    if (t->ops.backend_release) {
        t->ops.backend_release(t->opaque, ns->cfg.backend);
    }
    g_free(ns);
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
    __atomic_store_n(&ns->removed, 1, __ATOMIC_SEQ_CST);
    ns_changed(subsys, ns->cfg.nsid, true);
    nvmet_ns_unref(ns);
}

void nvmet_ns_free(NvmetNs *ns)
{
    NvmetTarget *t = ns->t;

    nvmet_lock(t);
    ns_remove(ns);
    nvmet_unlock(t);
    nvmet_ns_unref(ns);
}

void nvmet_ns_resize(NvmetNs *ns, uint64_t size)
{
    uint64_t nsze = size >> ns->lba_shift;

    nvmet_lock(ns->t);
    if (ns->subsys) {
        ns->cfg.size = size;
        if (nsze != ns->nsze) {
            __atomic_store_n(&ns->nsze, nsze, __ATOMIC_RELAXED);
            trace_nvmet_ns_resize(ns->subsys->cfg.nqn, ns->cfg.nsid, size);
            ns_changed(ns->subsys, ns->cfg.nsid, false);
        }
    }
    nvmet_unlock(ns->t);
}

const NvmetNsConfig *nvmet_ns_config(NvmetNs *ns)
{
    return &ns->cfg;
}

void nvmet_secret_str_free(char *s)
{
    if (s) {
        nvmet_memzero(s, strlen(s));
        g_free(s);
    }
}

/* ---- inspection ---------------------------------------------------------- */

static void ctrl_info(NvmetCtrl *ctrl, NvmetCtrlInfo *info)
{
    *info = (NvmetCtrlInfo) {
        .cntlid = ctrl->cntlid,
        .subnqn = ctrl->subnqn,
        .hostnqn = ctrl->hostnqn,
        .port = ctrl->port,
        .kato_ms = ctrl->kato_ms,
        .max_io_queues = ctrl->nr_io_queues,
        .enabled = ctrl->csts & NVME_CSTS_RDY,
        .cc_en = ctrl->cc & NVME_CC_EN,
        .fatal = ctrl->csts & NVME_CSTS_CFS,
        .shn = (ctrl->cc & NVME_CC_SHN_MASK) >> NVME_CC_SHN_SHIFT,
        .shst = (ctrl->csts & NVME_CSTS_SHST_MASK) >> NVME_CSTS_SHST_SHIFT,
        .discovery = ctrl->subsys && ctrl->subsys->discovery,
    };
    for (unsigned i = 1; i <= ctrl->max_qid; i++) {
        info->nr_io_queues += ctrl->sqs[i] != NULL;
    }
}

static void sq_info(NvmetSq *sq, NvmetQueueInfo *info)
{
    const NvmetSqAuth *a = &sq->auth;

    *info = (NvmetQueueInfo) {
        .queue = sq->queue,
        .qid = sq->qid,
        .cntlid = sq->ctrl ? sq->ctrl->cntlid : 0,
        .subnqn = sq->ctrl ? sq->ctrl->subnqn : NULL,
        .hostnqn = sq->ctrl ? sq->ctrl->hostnqn : NULL,
        .peer = sq->peer,
        .sqsize = sq->sqsize,
        /* the queue's thread counts these: relaxed atomics */
        .inflight = nvmet_atomic_read(&sq->reqs_busy),
        .cmds = nvmet_atomic_read(&sq->cmds),
        .cmd_errors = nvmet_atomic_read(&sq->cmd_errors),
        .auth_required = a->required,
        .authenticated = a->authenticated,
        .auth_count = a->count,
        .auth_failures = a->failures,
        .auth_hash = a->count ? a->hash : 0,
        .auth_dhgroup = a->count ? a->dhgid : 0,
        .auth_step = a->step,
        .auth_has_tid = a->tid_valid || a->count || a->failures,
        .auth_tid = a->tid,
        .auth_sc_c = a->sc_c,
        .auth_bidi = a->bidi,
        .auth_key_generation = a->key_generation,
        .tls = sq->tls.active,
        .tls_has_key = sq->tls.has_key,
        .tls_identity = sq->tls.active ? sq->tls.identity : NULL,
        .tls_generated = sq->tls.generated,
        .tls_hash = sq->tls.hash,
        .tls_key_serial = sq->tls.key_serial,
        .tls_cipher = sq->tls.cipher[0] ? sq->tls.cipher : NULL,
        .tls_kx = sq->tls.kx,
        .tls_version = sq->tls.version,
        /* written by the queue's thread: a snapshot */
        .data_buffers_allocated = nvmet_atomic_read(&sq->pool.allocated),
        .data_buffers_reused = nvmet_atomic_read(&sq->pool.reused),
    };
    sq->ops->queue_info(sq, info);
}

bool nvmet_target_ctrl_queues(NvmetTarget *t, const char *subnqn,
                              uint16_t cntlid,
                              void (*fn)(const NvmetQueueInfo *info,
                                         void *opaque),
                              void *opaque)
{
    NvmetSubsys *s;
    NvmetCtrl *ctrl;

    nvmet_lock(t);
    s = subsys_find(t, subnqn);
    ctrl = s ? nvmet_ctrl_find(s, cntlid) : NULL;
    for (unsigned i = 0; ctrl && i <= ctrl->max_qid; i++) {
        NvmetQueueInfo info;

        if (ctrl->sqs[i]) {
            sq_info(ctrl->sqs[i], &info);
            fn(&info, opaque);
        }
    }
    nvmet_unlock(t);
    return ctrl != NULL;
}

void nvmet_port_foreach_queue(NvmetPort *port,
                              void (*fn)(const NvmetQueueInfo *info,
                                         void *opaque),
                              void *opaque)
{
    /* oldest first (new connections are prepended) */
    for (GList *l = g_list_last(port->queues); l; l = l->prev) {
        NvmetQueueInfo info;

        sq_info(l->data, &info);
        fn(&info, opaque);
    }
}

static void foreach_subsys_ctrl(NvmetSubsys *s,
                                void (*fn)(const NvmetCtrlInfo *info,
                                           void *opaque),
                                void *opaque)
{
    for (GList *l = s->ctrls; l; l = l->next) {
        NvmetCtrlInfo info;

        ctrl_info(l->data, &info);
        fn(&info, opaque);
    }
}

void nvmet_target_foreach_ctrl(NvmetTarget *t,
                               void (*fn)(const NvmetCtrlInfo *info,
                                          void *opaque),
                               void *opaque)
{
    nvmet_lock(t);
    for (GList *l = t->subsystems; l; l = l->next) {
        foreach_subsys_ctrl(l->data, fn, opaque);
    }
    foreach_subsys_ctrl(t->disc, fn, opaque);
    nvmet_unlock(t);
}
