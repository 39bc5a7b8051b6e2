/*
 * Unit-test helpers (see nvmet-test-util.h).
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#include <errno.h>
#include <pthread.h>
#include <string.h>

#include "nvmet-test-util.h"
#include "nvmet/trace-hook.h"

const uint8_t test_hostid[16] = {
    0x0c, 0x5a, 0xe0, 0xa2, 0x1b, 0x49, 0x4b, 0x38,
    0x9d, 0x41, 0x1f, 0x1f, 0x4d, 0x2c, 0x7a, 0x01,
};

/* The engine may call these from several threads (test-nvmet-threads) */
/*
 * A pthread mutex, not a GMutex: GLib's futex-based GMutex is invisible to
 * ThreadSanitizer, which then reported the trace array's growth as races.
 */
static pthread_mutex_t tt_trace_lock = PTHREAD_MUTEX_INITIALIZER;

static int64_t tt_now(void *opaque)
{
    return __atomic_load_n(&((TestTarget *)opaque)->now, __ATOMIC_RELAXED);
}

static void tt_kick(void *opaque, NvmetQueue *q, void *qopaque)
{
    TestTarget *tt = opaque;

    __atomic_fetch_add(&tt->kicks, 1, __ATOMIC_RELAXED);
    pthread_mutex_lock(&tt_trace_lock);
    if (tt->kicked && tt->timer_thread == g_thread_self() &&
        !g_ptr_array_find(tt->kicked, q, NULL)) {
        g_ptr_array_add(tt->kicked, q);
    }
    pthread_mutex_unlock(&tt_trace_lock);
}

static void tt_timer(void *opaque, int64_t deadline)
{
    ((TestTarget *)opaque)->deadline = deadline;
}

static void tt_trace(const char *event, const char *msg, void *opaque)
{
    TestTarget *tt = opaque;

    pthread_mutex_lock(&tt_trace_lock);
    g_ptr_array_add(tt->traces, g_strdup_printf("%s %s", event, msg));
    pthread_mutex_unlock(&tt_trace_lock);
}

/* Reproducible per test run: g_test_rand_int follows --seed. */
static void tt_random(void *opaque, void *buf, size_t len)
{
    uint8_t *p = buf;

    for (size_t i = 0; i < len; i++) {
        p[i] = g_test_rand_int();
    }
}

char *tt_event_str(const NvmetEvent *ev)
{
    GString *s = g_string_new(nvmet_event_type_name(ev->type));

    if (ev->peer) {
        g_string_append_printf(s, " peer=%s", ev->peer);
    }
    if (ev->cntlid) {
        g_string_append_printf(s, " cntlid=%u", ev->cntlid);
    }
    if (ev->has_qid) {
        g_string_append_printf(s, " qid=%u", ev->qid);
    }
    if (ev->subnqn) {
        g_string_append_printf(s, " subnqn=%s", ev->subnqn);
    }
    switch (ev->type) {
    case NVMET_EVENT_QUEUE_CONNECTED:
        g_string_append_printf(s, " sqsize=%u auth=%d", ev->u.conn.sqsize,
                               ev->u.conn.auth_required);
        break;
    case NVMET_EVENT_CTRL_CREATED:
        g_string_append_printf(s, " kato=%u", ev->u.ctrl.kato_ms);
        break;
    case NVMET_EVENT_AUTH_STEP:
        g_string_append_printf(s, " step=%u<-%u tid=%u", ev->u.auth.step,
                               ev->u.auth.old_step, ev->u.auth.tid);
        break;
    case NVMET_EVENT_AUTH_SUCCESS:
    case NVMET_EVENT_AUTH_FAILURE:
        g_string_append_printf(s, " tid=%u sc_c=%u hash=%u dh=%u bidi=%d "
                               "ok=%u failed=%u gen=%u", ev->u.auth.tid,
                               ev->u.auth.sc_c, ev->u.auth.hash,
                               ev->u.auth.dhgroup, ev->u.auth.bidi,
                               ev->u.auth.successes, ev->u.auth.failures,
                               ev->u.auth.key_generation);
        if (ev->type == NVMET_EVENT_AUTH_FAILURE) {
            g_string_append_printf(s, " by=%u reason=%u",
                                   ev->u.auth.fail_source,
                                   ev->u.auth.fail_reason);
        }
        break;
    case NVMET_EVENT_TLS_DONE:
    case NVMET_EVENT_TLS_FAILED:
        g_string_append_printf(s, " identity=%s generated=%d hash=%u "
                               "serial=%u cipher=%s version=%s",
                               ev->u.tls.identity ? ev->u.tls.identity : "-",
                               ev->u.tls.generated, ev->u.tls.hash,
                               ev->u.tls.key_serial,
                               ev->u.tls.cipher ? ev->u.tls.cipher : "-",
                               ev->u.tls.version ? ev->u.tls.version : "-");
        if (ev->u.tls.alert) {
            g_string_append_printf(s, " alert=%s(%s)", ev->u.tls.alert,
                                   ev->u.tls.alert_received ? "received" :
                                   "sent");
        }
        break;
    case NVMET_EVENT_PSK_GENERATED:
    case NVMET_EVENT_PSK_REPLACED:
        g_string_append_printf(s, " identity=%s hash=%u serial=%u old=%u",
                               ev->u.psk.identity, ev->u.psk.hash,
                               ev->u.psk.key_serial,
                               ev->u.psk.old_key_serial);
        break;
    case NVMET_EVENT_FAULT:
        g_string_append_printf(s, " id=%u step=%s action=%s",
                               ev->u.fault.id, ev->u.fault.step,
                               ev->u.fault.action_name);
        break;
    case NVMET_EVENT_TRANSPORT_ERROR:
        g_string_append_printf(s, " fes=%u", ev->u.fatal.fes);
        if (ev->u.fatal.has_fei) {
            g_string_append_printf(s, " fei=%u", ev->u.fatal.fei);
        }
        break;
    default:
        break;
    }
    if (ev->reason) {
        g_string_append_printf(s, " reason=%s", ev->reason);
    }
    return g_string_free(s, false);
}

static void tt_event(void *opaque, const NvmetEvent *ev)
{
    TestTarget *tt = opaque;

    g_assert_cmpint(ev->type, <, NVMET_EVENT__MAX);
    g_ptr_array_add(tt->events, tt_event_str(ev));
}

void tt_events_clear(TestTarget *tt)
{
    g_ptr_array_set_size(tt->events, 0);
}

void tt_events_expect(TestTarget *tt, int with_steps, ...)
{
    g_autoptr(GString) all = g_string_new("");
    g_autoptr(GPtrArray) want = g_ptr_array_new();
    const char *const *patterns, *const *p, *pat;
    bool ok = true;
    va_list ap;

    va_start(ap, with_steps);
    while ((pat = va_arg(ap, const char *))) {
        g_ptr_array_add(want, (gpointer)pat);
    }
    va_end(ap);
    g_ptr_array_add(want, NULL);
    patterns = p = (const char *const *)want->pdata;

    for (unsigned i = 0; i < tt->events->len; i++) {
        const char *e = g_ptr_array_index(tt->events, i);

        if (!with_steps && g_str_has_prefix(e, "auth-step ")) {
            continue;
        }
        g_string_append_printf(all, "  %s\n", e);
        if (!*p || !g_pattern_match_simple(*p, e)) {
            ok = false;
        } else {
            p++;
        }
    }
    if (!ok || *p) {
        g_string_append(all, "expected:\n");
        for (p = patterns; *p; p++) {
            g_string_append_printf(all, "  %s\n", *p);
        }
        g_error("events do not match:\n%s", all->str);
    }
    tt_events_clear(tt);
}

static void tt_capture_cb(void *opaque, NvmetQueue *q, void *qopaque,
                          bool tx, const uint8_t *data, size_t len)
{
    TestTarget *tt = opaque;
    TestCapture *c = g_hash_table_lookup(tt->capture, q);

    g_assert_cmpuint(len, >, 0);
    if (!c) {
        c = g_new0(TestCapture, 1);
        c->rx = g_byte_array_new();
        c->tx = g_byte_array_new();
        g_hash_table_insert(tt->capture, q, c);
    }
    g_byte_array_append(tx ? c->tx : c->rx, data, len);
    if (tt->on_capture) {
        tt->on_capture(tt, q, tx, len);
    }
}

static void test_capture_free(gpointer p)
{
    TestCapture *c = p;

    g_byte_array_unref(c->rx);
    g_byte_array_unref(c->tx);
    g_free(c);
}

TestCapture *tt_capture(TestTarget *tt, NvmetQueue *q)
{
    return g_hash_table_lookup(tt->capture, q);
}

static const NvmetEngineOps tt_ops = {
    .now_ms = tt_now,
    .random_bytes = tt_random,
    .queue_kick = tt_kick,
    .timer_update = tt_timer,
    .event = tt_event,
    .capture = tt_capture_cb,
};

NvmetNs *tt_add_ns(TestTarget *tt, NvmetSubsys *s, uint32_t nsid,
                   RamDisk *disk, uint64_t size, uint32_t bs)
{
    NvmetNsConfig cfg = { 0 };
    GError *err = NULL;
    NvmetNs *ns;

    disk->size = size;
    disk->data = g_malloc0(size);
    cfg.nsid = nsid;
    cfg.backend = disk;
    cfg.size = size;
    cfg.block_size = bs;
    cfg.volatile_wc = true;
    ns = nvmet_ns_new(s, &cfg, &err);
    g_assert_no_error(err);
    g_ptr_array_add(tt->nss, ns);
    return ns;
}

void tt_remove_ns(TestTarget *tt, NvmetNs *ns)
{
    g_assert_true(g_ptr_array_remove(tt->nss, ns));
    nvmet_ns_free(ns);
}

/* Port 2 (127.0.0.1:4421, a name only) with @tls, exporting tt->subsys. */
NvmetPort *tt_add_tls_port(TestTarget *tt, NvmetPortTls tls)
{
    NvmetPortConfig pc;
    GError *err = NULL;
    NvmetPort *port;

    nvmet_port_config_init(&pc);
    pc.traddr = "127.0.0.1";
    pc.trsvcid = "4421";
    pc.portid = 2;
    pc.tls = tls;
    port = nvmet_port_new(tt->t, &pc, &err);
    g_assert_no_error(err);
    nvmet_port_add_subsys(port, tt->subsys);
    return port;
}

/* tt->subsys admits @hostnqn only; tt->host is that host. */
void tt_admit_only(TestTarget *tt, const char *hostnqn)
{
    GError *err = NULL;

    nvmet_subsys_set_allow_any_host(tt->subsys, false);
    tt->host = nvmet_host_new(tt->t, hostnqn, &err);
    g_assert_no_error(err);
    g_assert_true(nvmet_subsys_add_host(tt->subsys, tt->host, &err));
}

TestTarget *tt_new(void)
{
    TestTarget *tt = g_new0(TestTarget, 1);
    NvmetPortConfig pc;
    NvmetSubsysConfig sc;
    GError *err = NULL;

    tt->traces = g_ptr_array_new_with_free_func(g_free);
    tt->events = g_ptr_array_new_with_free_func(g_free);
    tt->capture = g_hash_table_new_full(NULL, NULL, NULL, test_capture_free);
    tt->nss = g_ptr_array_new();
    tt->now = 1000;
    tt->deadline = INT64_MAX;
    nvmet_trace_set_hook(tt_trace, tt);
    tt->t = nvmet_target_new(&tt_ops, tt);

    nvmet_port_config_init(&pc);
    pc.traddr = "127.0.0.1";
    pc.trsvcid = "4420";
    tt->port = nvmet_port_new(tt->t, &pc, &err);
    g_assert_no_error(err);

    nvmet_subsys_config_init(&sc);
    sc.nqn = TEST_SUBNQN;
    sc.allow_any_host = true;
    sc.serial = "SN0001";
    tt->subsys = nvmet_subsys_new(tt->t, &sc, &err);
    g_assert_no_error(err);
    nvmet_port_add_subsys(tt->port, tt->subsys);
    tt->ns1 = tt_add_ns(tt, tt->subsys, 1, &tt->disk1, 1 << 20, 512);
    return tt;
}

void tt_free(TestTarget *tt)
{
    if (tt->host) {
        nvmet_host_free(tt->host);
    }
    nvmet_subsys_free(tt->subsys);
    for (unsigned i = 0; i < tt->nss->len; i++) {
        nvmet_ns_free(g_ptr_array_index(tt->nss, i));
    }
    g_ptr_array_free(tt->nss, true);
    nvmet_port_free(tt->port);
    nvmet_target_free(tt->t);
    nvmet_trace_set_hook(NULL, NULL);
    g_free(tt->disk1.data);
    g_ptr_array_free(tt->traces, true);
    g_ptr_array_free(tt->events, true);
    g_hash_table_destroy(tt->capture);
    g_free(tt);
}

void tt_advance(TestTarget *tt, int64_t ms)
{
    __atomic_store_n(&tt->now, tt->now + ms, __ATOMIC_RELAXED);
    if (tt->deadline <= tt->now) {
        g_autoptr(GPtrArray) kicked = g_ptr_array_new();
        const uint8_t *data;

        tt->deadline = INT64_MAX;
        pthread_mutex_lock(&tt_trace_lock);
        tt->kicked = kicked;
        tt->timer_thread = g_thread_self();
        pthread_mutex_unlock(&tt_trace_lock);
        nvmet_target_timer(tt->t);
        pthread_mutex_lock(&tt_trace_lock);
        tt->kicked = NULL;
        pthread_mutex_unlock(&tt_trace_lock);
        /*
         * As a kicked queue's thread would: serve what the timer posted to
         * it (delayed steps of faults), which looking at output does.
         */
        for (unsigned i = 0; i < kicked->len; i++) {
            nvmet_queue_output(g_ptr_array_index(kicked, i), &data);
        }
    }
}

bool tt_trace_has(TestTarget *tt, const char *needle)
{
    bool found = false;

    pthread_mutex_lock(&tt_trace_lock);
    for (unsigned i = 0; !found && i < tt->traces->len; i++) {
        found = strstr(g_ptr_array_index(tt->traces, i), needle) != NULL;
    }
    pthread_mutex_unlock(&tt_trace_lock);
    return found;
}

void tt_trace_clear(TestTarget *tt)
{
    pthread_mutex_lock(&tt_trace_lock);
    g_ptr_array_set_size(tt->traces, 0);
    pthread_mutex_unlock(&tt_trace_lock);
}

/* ---- loop transport ------------------------------------------------------ */

static int tc_send(void *opaque, const void *buf, size_t len)
{
    TestConn *tc = opaque;

    nvmet_queue_input(tc->q, buf, len);
    return 0;
}

static bool tc_run_io(TestConn *tc)
{
    NvmetIo *io;
    bool any = false;

    while ((io = nvmet_queue_next_io(tc->q))) {
        any = true;
        if (tc->hold_io) {
            g_queue_push_tail(&tc->held, io);
        } else {
            nvmet_io_complete(io, ramdisk_do(io));
        }
    }
    return any;
}

void tc_complete_held(TestConn *tc)
{
    NvmetIo *io;

    while ((io = g_queue_pop_head(&tc->held))) {
        nvmet_io_complete(io, ramdisk_do(io));
    }
}

ssize_t nvmet_test_recv(void *opaque, void *buf, size_t len)
{
    TestConn *tc = opaque;

    for (;;) {
        const uint8_t *data;
        size_t n = nvmet_queue_output(tc->q, &data);

        if (n) {
            n = MIN(n, len);
            memcpy(buf, data, n);
            nvmet_queue_output_advance(tc->q, n);
            return n;
        }
        if (tc_run_io(tc)) {
            continue;
        }
        if (nvmet_queue_wants_close(tc->q)) {
            return 0;
        }
        return -1;     /* would block forever */
    }
}

TestConn *tc_new_on(TestTarget *tt, NvmetPort *port)
{
    TestConn *tc = g_new0(TestConn, 1);
    NvmfTransport tr = { tc_send, nvmet_test_recv, tc };

    tc->tt = tt;
    tc->q = nvmet_queue_new(port, "test-peer", tc);
    tc->h = nvmf_host_new(&tr);
    g_queue_init(&tc->held);
    return tc;
}

TestConn *tc_new(TestTarget *tt)
{
    return tc_new_on(tt, tt->port);
}

int tc_start_tls(TestConn *tc, const char *identity, const uint8_t *key,
                 size_t len, uint8_t hash)
{
    NvmfTransport raw = { tc_send, nvmet_test_recv, tc };
    NvmfTransport tr;

    tc->tls = nvmf_tls_new(&raw, identity, key, len, hash);
    if (nvmf_tls_handshake(tc->tls) < 0) {
        return -1;
    }
    tr = nvmf_tls_transport(tc->tls);
    nvmf_host_free(tc->h);
    tc->h = nvmf_host_new(&tr);
    return 0;
}

void tc_free(TestConn *tc)
{
    NvmetIo *io;

    nvmet_queue_release(tc->q);
    /* a later queue may get the same address */
    g_hash_table_remove(tc->tt->capture, tc->q);
    /* I/O still held completes after the release, as with a slow backend */
    while ((io = g_queue_pop_head(&tc->held))) {
        nvmet_io_complete(io, -EIO);
    }
    nvmf_host_free(tc->h);
    nvmf_tls_free(tc->tls);
    g_free(tc);
}

void tc_admin(TestConn *tc, const char *subnqn, const char *hostnqn,
              bool hdgst, bool ddgst)
{
    NvmfCqe cqe;

    g_assert_cmpint(nvmf_host_icreq(tc->h, hdgst, ddgst, 0), ==, 0);
    g_assert_cmpint(nvmf_host_connect(tc->h, 0, 31, 0xffff, subnqn, hostnqn,
                                      test_hostid, 120000, 0, &cqe), ==, 0);
    g_assert_cmphex(cqe.status, ==, 0);
    tc->cntlid = cqe.dw0 & 0xffff;
    g_assert_cmpint(nvmf_host_enable(tc->h), ==, 0);
}

void tc_io(TestConn *tc, uint16_t qid, uint16_t cntlid, const char *subnqn,
           const char *hostnqn, bool hdgst, bool ddgst)
{
    NvmfCqe cqe;

    g_assert_cmpint(nvmf_host_icreq(tc->h, hdgst, ddgst, 0), ==, 0);
    g_assert_cmpint(nvmf_host_connect(tc->h, qid, 127, cntlid, subnqn, hostnqn,
                                      test_hostid, 0, 0, &cqe), ==, 0);
    g_assert_cmphex(cqe.status, ==, 0);
    tc->cntlid = cntlid;
    nvmf_host_set_incapsule(tc->h, 16384);
}

void tc_expect_term(TestConn *tc, const void *buf, size_t len, uint16_t fes)
{
    g_auto(NvmfPdu) pdu = { 0 };

    g_assert_cmpint(nvmf_host_send_raw(tc->h, buf, len), ==, 0);
    g_assert_cmpint(nvmf_host_recv_pdu(tc->h, &pdu), ==, 0);
    g_assert_cmpint(pdu.type, ==, NVME_TCP_PDU_C2H_TERM);
    g_assert_cmpint(pdu.hlen, ==, NVME_TCP_TERM_HLEN);
    g_assert_cmphex(nvmet_ld16(pdu.hdr + NVME_TCP_TERM_FES), ==, fes);
    g_assert_true(nvmet_queue_wants_close(tc->q));
    {
        g_auto(NvmfPdu) more = { 0 };

        g_assert_cmpint(nvmf_host_recv_pdu(tc->h, &more), ==, -1);
        g_assert_true(nvmf_host_eof(tc->h));
    }
}

/* ---- vector files -------------------------------------------------------- */

char *tv_path(const char *name)
{
    char *path = g_test_build_filename(G_TEST_DIST, "..", "vectors", name,
                                       NULL);

    if (!g_file_test(path, G_FILE_TEST_EXISTS)) {
        g_error("%s not found: run the test with G_TEST_SRCDIR set to "
                "tests/unit (meson test does)", path);
    }
    return path;
}

GPtrArray *tv_load(const char *name)
{
    g_autofree char *path = tv_path(name);
    g_autoptr(GError) err = NULL;
    g_autofree char *text = NULL;
    g_auto(GStrv) lines = NULL;
    GPtrArray *recs;
    TestVec *rec = NULL;

    if (!g_file_get_contents(path, &text, NULL, &err)) {
        g_error("%s", err->message);
    }
    recs = g_ptr_array_new_with_free_func((GDestroyNotify)g_hash_table_unref);
    lines = g_strsplit(text, "\n", -1);
    for (char **l = lines; *l; l++) {
        const char *eq;

        if (**l == '#') {
            continue;
        }
        if (**l == '\0') {
            rec = NULL;
            continue;
        }
        eq = strstr(*l, " = ");
        if (!eq) {
            g_error("%s: malformed line '%s'", path, *l);
        }
        if (!rec) {
            rec = g_hash_table_new_full(g_str_hash, g_str_equal, g_free,
                                        g_free);
            g_ptr_array_add(recs, rec);
        }
        g_hash_table_insert(rec, g_strndup(*l, eq - *l), g_strdup(eq + 3));
    }
    return recs;
}

const char *tv_opt(TestVec *rec, const char *field)
{
    return g_hash_table_lookup(rec, field);
}

const char *tv_str(TestVec *rec, const char *field)
{
    const char *v = tv_opt(rec, field);

    if (!v) {
        g_error("vector record without '%s'", field);
    }
    return v;
}

unsigned long tv_num(TestVec *rec, const char *field)
{
    g_autoptr(GError) err = NULL;
    guint64 v;

    if (!g_ascii_string_to_unsigned(tv_str(rec, field), 10, 0, UINT32_MAX,
                                    &v, &err)) {
        g_error("vector field '%s': %s", field, err->message);
    }
    return v;
}

bool tv_is(TestVec *rec, const char *type)
{
    return g_str_equal(tv_str(rec, "type"), type);
}

uint8_t *tv_hex_dup(TestVec *rec, const char *field, size_t *len)
{
    const char *hex = tv_str(rec, field);
    size_t n = strlen(hex);
    uint8_t *out;

    if (n % 2) {
        g_error("vector field '%s': odd number of hex digits", field);
    }
    out = g_malloc(n / 2 + 1);
    for (size_t i = 0; i < n / 2; i++) {
        int hi = g_ascii_xdigit_value(hex[2 * i]);
        int lo = g_ascii_xdigit_value(hex[2 * i + 1]);

        if (hi < 0 || lo < 0) {
            g_error("vector field '%s': not hex", field);
        }
        out[i] = hi << 4 | lo;
    }
    *len = n / 2;
    return out;
}

size_t tv_hex(TestVec *rec, const char *field, uint8_t *out, size_t max)
{
    size_t len;
    g_autofree uint8_t *v = tv_hex_dup(rec, field, &len);

    g_assert_cmpuint(len, <=, max);
    memcpy(out, v, len);
    return len;
}

void tv_assert_hex(TestVec *rec, const char *field, const uint8_t *got,
                   size_t len)
{
    size_t want_len;
    g_autofree uint8_t *want = tv_hex_dup(rec, field, &want_len);

    g_assert_cmpmem(got, len, want, want_len);
}
