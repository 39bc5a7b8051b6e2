/*
 * Many hosts at once against one target (scripts/scale-hosts.sh).
 *
 *   many-hosts keys --hosts N --dir DIR
 *   many-hosts run --port P --nqn NQN --hosts N --dir DIR [options]
 *
 * "keys" writes, for host I (0 .. N-1) of the host NQN
 * nqn.2014-08.org.nvmexpress:uuid:6d616e79-0000-4000-8000-<I, 12 hex
 * digits>, a DH-HMAC-CHAP host key DIR/hostI.dhchap, a controller key
 * DIR/hostI.ctrl (both DHHC-1:01, 32 random bytes) and a configured TLS
 * PSK DIR/hostI.psk (NVMeTLSkey-1:01, 32 random bytes), mode 0600: what
 * the target's "-object secret" and the hosts both read.
 *
 * "run" makes N hosts connect at the same instant, each with an admin
 * queue and --queues I/O queues (one thread per queue, so that every
 * connection is in flight together), then every I/O queue does verified
 * writes and reads for --seconds on its own LBA range (--qd 4 KiB writes
 * at once, then reads of the same blocks), and then every queue reads
 * everything it wrote once more.  --mode:
 *
 *   concat  secure channel concatenation (the Linux host's flow with
 *           "--concat"): the admin queue connects in cleartext,
 *           authenticates with DH-HMAC-CHAP asking for NEWTLSPSK, closes;
 *           then the admin queue and the I/O queues connect over TLS with
 *           the generated PSK (the target does not ask them to
 *           authenticate again: a TLS queue is authenticated by its PSK).
 *           The port needs tls=allowed.
 *   psk     a configured PSK per host on a tls=required port: every queue
 *           does its TLS handshake, Connect, and then a bidirectional
 *           DH-HMAC-CHAP exchange.  The target does not ask for it on a
 *           TLS queue (ATR clear, as Linux nvmet) and the Linux host would
 *           skip it; this driver authenticates anyway, on purpose: it is
 *           the target's most expensive way to connect (a TLS handshake
 *           and an FFDHE exchange per queue).
 *
 * DH-HMAC-CHAP offers SHA-256 and --dhgroup (default 1, ffdhe2048) only.
 * From its Connect on, each admin queue sends a Keep Alive every second
 * (KATO 15 s); the worst latency before and during the I/O phase is
 * printed (it includes the hosts' own scheduling).
 *
 * With --server-pid, the server's VmRSS, threads and open files are read
 * from /proc before connecting, once everything is connected, after the
 * I/O and after every connection is closed (waiting up to 10 s for the
 * open files to come back), and its CPU time (all threads, and the main
 * thread alone) over the connect phase, next to this process's own.  The TCP listen queue counters of the network
 * namespace (/proc/net/netstat: ListenOverflows, ListenDrops) are printed
 * around the connect phase.
 *
 * Exit status 0 only if every queue connected, no command failed, every
 * read matched what was written (including the final pass), no host
 * completed fewer than --min-ratio times the median host's I/Os (and none
 * zero) and the server closed every connection afterwards.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#include <arpa/inet.h>
#include <errno.h>
#include <glib.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include "nvmf-host.h"

#define MAX_QUEUES  16
#define MAX_QD      32
#define BS          4096
#define LBA         512
#define LBAS_PER_BS (BS / LBA)

typedef enum { MODE_CONCAT, MODE_PSK } Mode;

static struct {
    int port;
    const char *nqn, *dir;
    Mode mode;
    unsigned hosts, queues, qd;
    double seconds, min_ratio;
    uint8_t dhgroup;
    int server_pid;
} opt = {
    .hosts = 8, .queues = 4, .qd = 4, .seconds = 5, .min_ratio = 0.25,
    .dhgroup = 1,
};

typedef struct Host Host;

typedef struct Queue {
    Host *host;
    unsigned qid;
    int fd;
    NvmfHost *h;
    NvmfTls *tls;
    GThread *thread;
    gint64 connected_us;        /* since the start, 0: not (yet) */
    uint64_t ios, verify_errors;
    uint64_t first_block, blocks;
    uint32_t *seq;              /* last sequence written per block, 0: none */
    uint32_t next_seq;
    uint64_t next_block;
    char *error;
} Queue;

struct Host {
    unsigned idx;
    char nqn[96];
    uint8_t hostid[16];
    char *dhchap, *ctrl, *psk;
    char *identity;             /* TLS PSK identity and key in use */
    uint8_t key[48], hash;
    uint16_t cntlid;
    uint64_t blocks_per_queue;  /* from the namespace size */
    Queue admin, io[MAX_QUEUES];
    GThread *thread;
    gint64 connected_us;        /* the last of its queues */
    gint64 ka_max_us, ka_max_io_us;   /* before and during the I/O */
    unsigned ka_count;
};

static Host *hosts;
static GMutex lock;
static GCond cond;
static bool go_connect, go_io, stop_admin;
static unsigned queues_done, queues_failed;
static gint in_flight, peak_in_flight;
static gint connections_made;
static gint64 t_start, deadline;

static G_NORETURN G_GNUC_PRINTF(1, 2) void die(const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    fprintf(stderr, "many-hosts: ");
    vfprintf(stderr, fmt, ap);
    fprintf(stderr, "\n");
    va_end(ap);
    exit(1);
}

static void host_nqn(unsigned i, char *nqn, uint8_t *hostid)
{
    snprintf(nqn, 96, "nqn.2014-08.org.nvmexpress:uuid:"
             "6d616e79-0000-4000-8000-%012x", i);
    memcpy(hostid, "many", 4);
    memset(hostid + 4, 0, 12);
    hostid[6] = 0x40;
    hostid[8] = 0x80;
    for (int b = 0; b < 4; b++) {
        hostid[15 - b] = i >> (8 * b);
    }
}

/* ---- keys ---------------------------------------------------------------- */

static void write_secret(const char *path, const char *text)
{
    g_autoptr(GError) err = NULL;

    if (!g_file_set_contents_full(path, text, -1,
                                  G_FILE_SET_CONTENTS_CONSISTENT, 0600,
                                  &err)) {
        die("%s", err->message);
    }
}

static void random_bytes(uint8_t *b, size_t n)
{
    FILE *f = fopen("/dev/urandom", "rb");

    if (!f || fread(b, 1, n, f) != n) {
        die("/dev/urandom: %s", strerror(errno));
    }
    fclose(f);
}

static void gen_keys(void)
{
    for (unsigned i = 0; i < opt.hosts; i++) {
        uint8_t k[36];
        uint32_t crc;
        g_autofree char *h = NULL, *c = NULL, *b64 = NULL, *p = NULL;
        g_autofree char *ph = g_strdup_printf("%s/host%u.dhchap", opt.dir, i);
        g_autofree char *pc = g_strdup_printf("%s/host%u.ctrl", opt.dir, i);
        g_autofree char *pp = g_strdup_printf("%s/host%u.psk", opt.dir, i);

        random_bytes(k, 32);
        h = nvmf_dhchap_key_encode(k, 32, 1);
        random_bytes(k, 32);
        c = nvmf_dhchap_key_encode(k, 32, 1);
        /* PSK interchange format: key || CRC-32 (little endian) */
        random_bytes(k, 32);
        crc = nvmf_crc32(k, 32);
        for (int b = 0; b < 4; b++) {
            k[32 + b] = crc >> (8 * b);
        }
        b64 = g_base64_encode(k, 36);
        p = g_strdup_printf("NVMeTLSkey-1:01:%s:", b64);
        write_secret(ph, h);
        write_secret(pc, c);
        write_secret(pp, p);
        memset(k, 0, sizeof(k));
    }
}

static char *read_secret(const char *name, unsigned i)
{
    g_autofree char *path = g_strdup_printf("%s/host%u.%s", opt.dir, i, name);
    g_autoptr(GError) err = NULL;
    char *s;

    if (!g_file_get_contents(path, &s, NULL, &err)) {
        die("%s", err->message);
    }
    return g_strstrip(s);
}

/* ---- /proc --------------------------------------------------------------- */

typedef struct Proc {
    long rss_kib, threads, fds;
    uint64_t cpu_ns, main_cpu_ns;   /* all threads (alive now), main */
} Proc;

/* ns a thread ran (the first field of its schedstat) */
static uint64_t task_ns(const char *task)
{
    g_autofree char *path = g_strdup_printf("/proc/%d/task/%s/schedstat",
                                            opt.server_pid, task);
    g_autofree char *s = NULL;

    return g_file_get_contents(path, &s, NULL, NULL) ?
           g_ascii_strtoull(s, NULL, 10) : 0;
}

static long status_field(const char *text, const char *name)
{
    const char *p = strstr(text, name);

    return p ? strtol(p + strlen(name), NULL, 10) : -1;
}

static Proc proc_read(void)
{
    Proc p = { -1, -1, -1, 0, 0 };
    g_autofree char *path = NULL, *s = NULL, *fdp = NULL, *tp = NULL;
    g_autofree char *main_task = NULL;
    const char *name;
    GDir *d;

    if (!opt.server_pid) {
        return p;
    }
    path = g_strdup_printf("/proc/%d/status", opt.server_pid);
    if (!g_file_get_contents(path, &s, NULL, NULL)) {
        die("%s: cannot read (server gone?)", path);
    }
    p.rss_kib = status_field(s, "\nVmRSS:");
    p.threads = status_field(s, "\nThreads:");
    fdp = g_strdup_printf("/proc/%d/fd", opt.server_pid);
    d = g_dir_open(fdp, 0, NULL);
    if (d) {
        p.fds = 0;
        while (g_dir_read_name(d)) {
            p.fds++;
        }
        g_dir_close(d);
    }
    tp = g_strdup_printf("/proc/%d/task", opt.server_pid);
    d = g_dir_open(tp, 0, NULL);
    if (d) {
        while ((name = g_dir_read_name(d))) {
            p.cpu_ns += task_ns(name);
        }
        g_dir_close(d);
    }
    main_task = g_strdup_printf("%d", opt.server_pid);
    p.main_cpu_ns = task_ns(main_task);
    return p;
}

/* TcpExt counter @name of this network namespace, -1 if absent */
static long netstat(const char *name)
{
    g_autofree char *s = NULL;
    g_auto(GStrv) lines = NULL;

    if (!g_file_get_contents("/proc/net/netstat", &s, NULL, NULL)) {
        return -1;
    }
    lines = g_strsplit(s, "\n", -1);
    for (int i = 0; lines[i] && lines[i + 1]; i++) {
        g_auto(GStrv) k = NULL, v = NULL;

        if (!g_str_has_prefix(lines[i], "TcpExt:") ||
            !g_str_has_prefix(lines[i + 1], "TcpExt:")) {
            continue;
        }
        k = g_strsplit(lines[i], " ", -1);
        v = g_strsplit(lines[i + 1], " ", -1);
        for (int j = 0; k[j] && v[j]; j++) {
            if (g_str_equal(k[j], name)) {
                return atol(v[j]);
            }
        }
    }
    return -1;
}

/* ---- connections --------------------------------------------------------- */

static bool qfail(Queue *q, const char *fmt, ...) G_GNUC_PRINTF(2, 3);
static bool qfail(Queue *q, const char *fmt, ...)
{
    va_list ap;
    g_autofree char *msg = NULL;

    va_start(ap, fmt);
    msg = g_strdup_vprintf(fmt, ap);
    va_end(ap);
    if (!q->error) {
        q->error = g_strdup_printf("host %u queue %u: %s", q->host->idx,
                                   q->qid, msg);
    }
    return false;
}

static void conn_close(Queue *q)
{
    if (q->h) {
        nvmf_host_free(q->h);
        q->h = NULL;
    }
    nvmf_tls_free(q->tls);
    q->tls = NULL;
    if (q->fd >= 0) {
        close(q->fd);
        q->fd = -1;
    }
}

/* TCP connection, then TLS with the host's current PSK if @tls */
static bool conn_open(Queue *q, bool tls)
{
    struct sockaddr_in sa = {
        .sin_family = AF_INET,
        .sin_port = htons(opt.port),
        .sin_addr.s_addr = htonl(INADDR_LOOPBACK),
    };
    struct timeval tv = { .tv_sec = 120 };
    NvmfTransport tr = nvmf_fd_transport(&q->fd);
    int one = 1;

    q->fd = socket(AF_INET, SOCK_STREAM, 0);
    if (q->fd < 0) {
        return qfail(q, "socket: %s", strerror(errno));
    }
    if (connect(q->fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
        return qfail(q, "connect: %s", strerror(errno));
    }
    g_atomic_int_inc(&connections_made);
    setsockopt(q->fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    setsockopt(q->fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
    setsockopt(q->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    if (tls) {
        Host *h = q->host;

        q->tls = nvmf_tls_new(&tr, h->identity, h->key,
                              h->hash == 2 ? 48 : 32, h->hash);
        if (nvmf_tls_handshake(q->tls) < 0) {
            return qfail(q, "TLS handshake: %s", nvmf_tls_error(q->tls));
        }
        tr = nvmf_tls_transport(q->tls);
    }
    q->h = nvmf_host_new(&tr);
    if (nvmf_host_icreq(q->h, false, false, 0) < 0) {
        return qfail(q, "ICReq: %s", nvmf_host_error(q->h));
    }
    return true;
}

static bool do_connect(Queue *q, uint32_t *dw0)
{
    Host *h = q->host;
    NvmfCqe cqe;

    if (nvmf_host_connect(q->h, q->qid, q->qid ? 127 : 31,
                          q->qid ? h->cntlid : 0xffff, opt.nqn, h->nqn,
                          h->hostid, q->qid ? 0 : 15000, 0, &cqe) < 0) {
        return qfail(q, "Connect: %s", nvmf_host_error(q->h));
    }
    if (cqe.status) {
        return qfail(q, "Connect: status 0x%x", cqe.status);
    }
    if (!q->qid) {
        h->cntlid = cqe.dw0 & 0xffff;
    }
    *dw0 = cqe.dw0;
    return true;
}

/* DH-HMAC-CHAP on @q; with @sc_c the generated PSK becomes the host's */
static bool authenticate(Queue *q, uint8_t sc_c)
{
    Host *h = q->host;
    static const uint8_t sha256 = 1;
    NvmfAuthParams p = {
        .hostnqn = h->nqn, .subnqn = opt.nqn,
        .host_secret = h->dhchap, .ctrl_secret = h->ctrl,
        .nhashes = 1, .ngroups = 1, .sc_c = sc_c, .tid = q->qid + 1,
    };
    NvmfAuthResult r;

    p.hashes[0] = sha256;
    p.groups[0] = opt.dhgroup;
    if (nvmf_host_authenticate(q->h, &p, &r) < 0) {
        return qfail(q, "DH-HMAC-CHAP: %s", nvmf_host_error(q->h));
    }
    if (!r.authenticated) {
        return qfail(q, "DH-HMAC-CHAP failed: %s (status 0x%x, reason 0x%x)",
                     r.error, r.status, r.failure);
    }
    if (!sc_c && !r.ctrl_verified) {
        return qfail(q, "DH-HMAC-CHAP: controller not verified");
    }
    if (sc_c) {
        g_free(h->identity);
        h->hash = r.hash;
        h->identity = nvmf_tls_generated(r.hash, r.psk, r.psk_len, h->nqn,
                                         opt.nqn, h->key);
    }
    return true;
}

static void flight_begin(void)
{
    gint now = g_atomic_int_add(&in_flight, 1) + 1;
    gint peak;

    do {
        peak = g_atomic_int_get(&peak_in_flight);
    } while (now > peak &&
             !g_atomic_int_compare_and_exchange(&peak_in_flight, peak, now));
}

/* A queue is connected (or failed): count it, wake the main thread */
static void queue_done(Queue *q, bool ok)
{
    g_atomic_int_add(&in_flight, -1);
    g_mutex_lock(&lock);
    if (ok) {
        q->connected_us = g_get_monotonic_time() - t_start;
        if (q->connected_us > q->host->connected_us) {
            q->host->connected_us = q->connected_us;
        }
    } else {
        queues_failed++;
    }
    queues_done++;
    g_cond_broadcast(&cond);
    g_mutex_unlock(&lock);
}

static bool admin_connect(Queue *q)
{
    g_autofree uint8_t *id = g_malloc0(4096);
    uint32_t dw0;
    NvmfCqe cqe;
    uint64_t nsze;

    if (opt.mode == MODE_CONCAT) {
        /* cleartext, NEWTLSPSK, then again over TLS with the new PSK */
        if (!conn_open(q, false) || !do_connect(q, &dw0)) {
            return false;
        }
        if (!(dw0 & NVME_CONNECT_AUTHREQ_ATR)) {
            return qfail(q, "cleartext Connect without ATR");
        }
        if (!authenticate(q, NVME_AUTH_SECP_NEWTLSPSK)) {
            return false;
        }
        conn_close(q);
        if (!conn_open(q, true) || !do_connect(q, &dw0)) {
            return false;
        }
    } else {
        if (!conn_open(q, true) || !do_connect(q, &dw0) ||
            !authenticate(q, 0)) {
            return false;
        }
    }
    if (dw0 & NVME_CONNECT_AUTHREQ_ATR) {
        return qfail(q, "TLS Connect with ATR");
    }
    if (nvmf_host_enable(q->h) < 0) {
        return qfail(q, "enable: %s", nvmf_host_error(q->h));
    }
    if (nvmf_host_set_features(q->h, NVME_FEAT_NUM_QUEUES,
                               (opt.queues - 1) | ((opt.queues - 1) << 16),
                               &cqe) < 0 || cqe.status) {
        return qfail(q, "Set Features Number of Queues failed");
    }
    if (nvmf_host_identify(q->h, 0, 1, 0, id, &cqe) < 0 || cqe.status) {
        return qfail(q, "Identify Namespace 1 failed");
    }
    nsze = nvmet_ld64(id);
    q->host->blocks_per_queue = nsze / LBAS_PER_BS / opt.hosts / opt.queues;
    if (q->host->blocks_per_queue < opt.qd) {
        return qfail(q, "namespace too small: %" G_GUINT64_FORMAT " LBAs for"
                     " %u hosts x %u queues x %u blocks", nsze, opt.hosts,
                     opt.queues, opt.qd);
    }
    return true;
}

static bool io_connect(Queue *q)
{
    uint32_t dw0;

    if (!conn_open(q, true) || !do_connect(q, &dw0)) {
        return false;
    }
    if (opt.mode == MODE_PSK && !authenticate(q, 0)) {
        return false;
    }
    if (dw0 & NVME_CONNECT_AUTHREQ_ATR) {
        return qfail(q, "TLS Connect with ATR");
    }
    nvmf_host_set_incapsule(q->h, 8192);
    return true;
}

/* ---- verified I/O -------------------------------------------------------- */

/* The contents of @block of @q written with sequence number @seq */
static void pattern(Queue *q, uint64_t block, uint32_t seq, uint8_t *buf)
{
    uint64_t x = ((uint64_t)q->host->idx << 40) ^ ((uint64_t)q->qid << 32) ^
                 ((uint64_t)seq << 1) ^ (block * 0x9e3779b97f4a7c15ull) ^ 1;

    for (unsigned i = 0; i < BS; i += 8) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        nvmet_st64(buf + i, x);
    }
    /* readable header: host, queue, block, sequence */
    nvmet_st32(buf, q->host->idx);
    nvmet_st32(buf + 4, q->qid);
    nvmet_st64(buf + 8, block);
    nvmet_st32(buf + 16, seq);
}

static int send_rw(Queue *q, bool write, uint64_t block, uint8_t *buf)
{
    uint8_t sqe[64];
    uint64_t slba = (q->first_block + block) * LBAS_PER_BS;

    nvmf_sqe_init(sqe, write ? NVME_CMD_WRITE : NVME_CMD_READ, 1);
    nvmf_sqe_set_dw(sqe, NVME_SQE_CDW10, slba);
    nvmf_sqe_set_dw(sqe, NVME_SQE_CDW11, slba >> 32);
    nvmf_sqe_set_dw(sqe, NVME_SQE_CDW12, LBAS_PER_BS - 1);
    return nvmf_host_send_cmd(q->h, sqe, write ? buf : NULL, write ? BS : 0,
                              write ? NULL : buf, write ? 0 : BS);
}

static bool wait_all(Queue *q, int *cid, unsigned n)
{
    for (unsigned i = 0; i < n; i++) {
        NvmfCqe cqe;

        if (nvmf_host_wait(q->h, cid[i], &cqe) < 0) {
            return qfail(q, "I/O: %s", nvmf_host_error(q->h));
        }
        if (cqe.status) {
            return qfail(q, "I/O status 0x%x", cqe.status);
        }
    }
    return true;
}

static void check(Queue *q, uint64_t block, const uint8_t *got,
                  uint8_t *want)
{
    pattern(q, block, q->seq[block], want);
    if (memcmp(got, want, BS)) {
        if (!q->verify_errors) {
            fprintf(stderr, "many-hosts: host %u queue %u block %"
                    G_GUINT64_FORMAT ": read back other data (host %u queue"
                    " %u block %" G_GUINT64_FORMAT " seq %u, want seq %u)\n",
                    q->host->idx, q->qid, block, nvmet_ld32(got),
                    nvmet_ld32(got + 4), nvmet_ld64(got + 8),
                    nvmet_ld32(got + 16), q->seq[block]);
        }
        q->verify_errors++;
    }
}

/* Writes of qd blocks, then reads of the same, until the deadline */
static bool io_run(Queue *q)
{
    unsigned qd = opt.qd;
    g_autofree uint8_t *wbuf = g_malloc(qd * BS);
    g_autofree uint8_t *rbuf = g_malloc(qd * BS);
    uint8_t want[BS];
    uint64_t blk[MAX_QD];
    int cid[MAX_QD];

    while (g_get_monotonic_time() < deadline) {
        for (unsigned i = 0; i < qd; i++) {
            blk[i] = q->next_block;
            q->next_block = (q->next_block + 1) % q->blocks;
            q->seq[blk[i]] = ++q->next_seq;
            pattern(q, blk[i], q->seq[blk[i]], wbuf + i * BS);
            cid[i] = send_rw(q, true, blk[i], wbuf + i * BS);
            if (cid[i] < 0) {
                return qfail(q, "write: %s", nvmf_host_error(q->h));
            }
        }
        if (!wait_all(q, cid, qd)) {
            return false;
        }
        for (unsigned i = 0; i < qd; i++) {
            cid[i] = send_rw(q, false, blk[i], rbuf + i * BS);
            if (cid[i] < 0) {
                return qfail(q, "read: %s", nvmf_host_error(q->h));
            }
        }
        if (!wait_all(q, cid, qd)) {
            return false;
        }
        for (unsigned i = 0; i < qd; i++) {
            check(q, blk[i], rbuf + i * BS, want);
        }
        q->ios += 2 * qd;
    }
    /* everything this queue ever wrote, once more */
    for (uint64_t b = 0; b < q->blocks; b++) {
        if (!q->seq[b]) {
            continue;
        }
        cid[0] = send_rw(q, false, b, rbuf);
        if (cid[0] < 0 || !wait_all(q, cid, 1)) {
            return qfail(q, "final read: %s", nvmf_host_error(q->h));
        }
        check(q, b, rbuf, want);
    }
    return true;
}

/* ---- threads ------------------------------------------------------------- */

static void wait_for(bool *flag)
{
    g_mutex_lock(&lock);
    while (!*flag) {
        g_cond_wait(&cond, &lock);
    }
    g_mutex_unlock(&lock);
}

static gpointer io_thread(gpointer data)
{
    Queue *q = data;
    bool ok;

    flight_begin();
    ok = io_connect(q);
    queue_done(q, ok);
    if (!ok) {
        return NULL;
    }
    wait_for(&go_io);
    if (q->seq) {
        io_run(q);
    }
    return NULL;
}

/*
 * Keep Alive every second on the admin queue, from its Connect until the
 * end (KATO is 15 s): the worst latency before and during the I/O phase.
 */
static void keep_alive(Host *h)
{
    Queue *a = &h->admin;

    for (;;) {
        uint8_t sqe[64];
        NvmfCqe cqe;
        gint64 t0, dt;
        bool stop, io;

        g_mutex_lock(&lock);
        if (!stop_admin) {
            gint64 until = g_get_monotonic_time() + G_USEC_PER_SEC;

            g_cond_wait_until(&cond, &lock, until);
        }
        stop = stop_admin;
        io = go_io;
        g_mutex_unlock(&lock);
        if (stop) {
            return;
        }
        nvmf_sqe_init(sqe, NVME_ADM_KEEP_ALIVE, 0);
        t0 = g_get_monotonic_time();
        if (nvmf_host_submit(a->h, sqe, NULL, 0, NULL, 0, &cqe) < 0 ||
            cqe.status) {
            qfail(a, "Keep Alive failed");
            return;
        }
        dt = g_get_monotonic_time() - t0;
        if (io) {
            h->ka_max_io_us = MAX(h->ka_max_io_us, dt);
        } else {
            h->ka_max_us = MAX(h->ka_max_us, dt);
        }
        h->ka_count++;
    }
}

static gpointer host_thread(gpointer data)
{
    Host *h = data;
    bool ok;

    wait_for(&go_connect);
    flight_begin();
    ok = admin_connect(&h->admin);
    queue_done(&h->admin, ok);
    if (!ok) {
        /* its I/O queues cannot connect either */
        for (unsigned i = 0; i < opt.queues; i++) {
            qfail(&h->io[i], "admin queue failed");
            flight_begin();
            queue_done(&h->io[i], false);
        }
        return NULL;
    }
    for (unsigned i = 0; i < opt.queues; i++) {
        Queue *q = &h->io[i];

        q->blocks = h->blocks_per_queue;
        q->first_block = (h->idx * opt.queues + i) * q->blocks;
        q->seq = g_new0(uint32_t, q->blocks);
        q->thread = g_thread_new("io", io_thread, q);
    }
    keep_alive(h);
    return NULL;
}

/* ---- main ---------------------------------------------------------------- */

/* CPU time of this process (all the hosts), in s */
static double self_cpu(void)
{
    struct rusage ru;

    getrusage(RUSAGE_SELF, &ru);
    return ru.ru_utime.tv_sec + ru.ru_stime.tv_sec +
           (ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
}

static int cmp_i64(const void *a, const void *b)
{
    gint64 x = *(const gint64 *)a, y = *(const gint64 *)b;

    return x < y ? -1 : x > y;
}

/* min, median, max of @n values (sorted in place) */
static void stats(gint64 *v, unsigned n, gint64 *mn, gint64 *med, gint64 *mx)
{
    qsort(v, n, sizeof(*v), cmp_i64);
    *mn = v[0];
    *mx = v[n - 1];
    *med = n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

static void print_proc(const char *when, Proc p)
{
    if (opt.server_pid) {
        printf("server %-22s VmRSS %7ld KiB, %4ld threads, %4ld open files\n",
               when, p.rss_kib, p.threads, p.fds);
    }
}

int main(int argc, char **argv)
{
    g_autofree char *mode = NULL;
    gint port = 0, nhosts = 0, queues = 0, qd = 0, pid = 0, dhgroup = -1;
    gdouble seconds = 0, min_ratio = -1;
    GOptionEntry entries[] = {
        { "port", 0, 0, G_OPTION_ARG_INT, &port, "TCP port (127.0.0.1)" },
        { "nqn", 0, 0, G_OPTION_ARG_STRING, &opt.nqn, "subsystem NQN" },
        { "dir", 0, 0, G_OPTION_ARG_STRING, &opt.dir, "key directory" },
        { "hosts", 0, 0, G_OPTION_ARG_INT, &nhosts, "hosts (default 8)" },
        { "queues", 0, 0, G_OPTION_ARG_INT, &queues,
          "I/O queues per host (default 4)" },
        { "qd", 0, 0, G_OPTION_ARG_INT, &qd,
          "4 KiB writes, then reads, at once per queue (default 4)" },
        { "seconds", 0, 0, G_OPTION_ARG_DOUBLE, &seconds,
          "I/O phase (default 5)" },
        { "mode", 0, 0, G_OPTION_ARG_STRING, &mode, "concat or psk" },
        { "dhgroup", 0, 0, G_OPTION_ARG_INT, &dhgroup,
          "DH group offered: 0 null, 1-5 ffdhe2048-8192 (default 1)" },
        { "min-ratio", 0, 0, G_OPTION_ARG_DOUBLE, &min_ratio,
          "fail if a host completes fewer I/Os than this times the median "
          "(default 0.25)" },
        { "server-pid", 0, 0, G_OPTION_ARG_INT, &pid,
          "the target's process (memory, threads, files)" },
        { NULL }
    };
    g_autoptr(GOptionContext) ctx =
        g_option_context_new("keys|run - many NVMe/TCP hosts at once");
    g_autoptr(GError) err = NULL;
    unsigned total, fails = 0, nconn;
    long lo0, ld0, lo1, ld1;
    Proc p0, p1, p2, p3;
    gint64 *v, mn, med, mx, t_conn, ka_max = 0, ka_max_io = 0;
    GHashTable *why = g_hash_table_new(g_str_hash, g_str_equal);
    GHashTableIter it;
    gpointer key, val;
    uint64_t ios = 0, verr = 0, qmin = UINT64_MAX;
    struct rlimit rl;
    double cpu0, cpu1;

    g_option_context_add_main_entries(ctx, entries, NULL);
    if (!g_option_context_parse(ctx, &argc, &argv, &err) || argc != 2) {
        die("%s", err ? err->message : "usage: many-hosts keys|run [options]");
    }
    opt.hosts = nhosts > 0 ? (unsigned)nhosts : opt.hosts;
    if (!opt.dir) {
        die("--dir is needed");
    }
    if (g_str_equal(argv[1], "keys")) {
        gen_keys();
        return 0;
    }
    if (!g_str_equal(argv[1], "run")) {
        die("unknown command '%s'", argv[1]);
    }
    opt.port = port;
    opt.queues = queues > 0 ? (unsigned)queues : opt.queues;
    opt.qd = qd > 0 ? (unsigned)qd : opt.qd;
    opt.seconds = seconds > 0 ? seconds : opt.seconds;
    opt.min_ratio = min_ratio >= 0 ? min_ratio : opt.min_ratio;
    opt.dhgroup = dhgroup >= 0 ? dhgroup : opt.dhgroup;
    opt.server_pid = pid;
    if (!mode || g_str_equal(mode, "concat")) {
        opt.mode = MODE_CONCAT;
    } else if (g_str_equal(mode, "psk")) {
        opt.mode = MODE_PSK;
    } else {
        die("--mode concat or psk");
    }
    if (!opt.port || !opt.nqn || opt.queues > MAX_QUEUES || opt.qd > MAX_QD ||
        opt.dhgroup > 5 || (opt.mode == MODE_CONCAT && !opt.dhgroup)) {
        die("bad --port, --nqn, --queues (<= %d), --qd (<= %d) or --dhgroup"
            " (concatenation needs a DH group)", MAX_QUEUES, MAX_QD);
    }
    /* a socket per queue, and the TLS library's files */
    total = opt.hosts * (opt.queues + 1);
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < total + 64) {
        rl.rlim_cur = MIN(rl.rlim_max, (rlim_t)total + 64);
        setrlimit(RLIMIT_NOFILE, &rl);
    }

    hosts = g_new0(Host, opt.hosts);
    for (unsigned i = 0; i < opt.hosts; i++) {
        Host *h = &hosts[i];

        h->idx = i;
        host_nqn(i, h->nqn, h->hostid);
        h->dhchap = read_secret("dhchap", i);
        h->ctrl = read_secret("ctrl", i);
        h->psk = read_secret("psk", i);
        if (opt.mode == MODE_PSK) {
            h->identity = nvmf_tls_configured(h->psk, 1, h->nqn, opt.nqn,
                                              h->key, &h->hash);
            if (!h->identity) {
                die("host %u: malformed PSK", i);
            }
        }
        h->admin.host = h;
        h->admin.fd = -1;
        for (unsigned j = 0; j < opt.queues; j++) {
            h->io[j].host = h;
            h->io[j].qid = j + 1;
            h->io[j].fd = -1;
        }
        h->thread = g_thread_new("host", host_thread, h);
    }

    printf("%u hosts x (admin + %u I/O queues), mode %s, DH group %u, "
           "qd %u, %.1f s of I/O\n", opt.hosts, opt.queues,
           opt.mode == MODE_CONCAT ? "concat (NEWTLSPSK, then TLS)" :
           "psk (configured PSK, TLS + DH-HMAC-CHAP on every queue)",
           opt.dhgroup, opt.qd, opt.seconds);
    p0 = proc_read();
    cpu0 = self_cpu();
    lo0 = netstat("ListenOverflows");
    ld0 = netstat("ListenDrops");

    /* connect: everything at once */
    g_mutex_lock(&lock);
    t_start = g_get_monotonic_time();
    go_connect = true;
    g_cond_broadcast(&cond);
    while (queues_done < total) {
        if (!g_cond_wait_until(&cond, &lock, t_start + 300 * G_USEC_PER_SEC)) {
            die("connect phase: only %u of %u queues done after 300 s",
                queues_done, total);
        }
    }
    t_conn = g_get_monotonic_time() - t_start;
    g_mutex_unlock(&lock);
    cpu1 = self_cpu();
    lo1 = netstat("ListenOverflows");
    ld1 = netstat("ListenDrops");
    p1 = proc_read();
    nconn = total - queues_failed;

    printf("connected %u of %u queues in %.3f s (%d TCP connections made, "
           "at most %d connecting at once)\n", nconn, total, t_conn / 1e6,
           g_atomic_int_get(&connections_made),
           g_atomic_int_get(&peak_in_flight));
    v = g_new(gint64, opt.hosts);
    for (unsigned i = 0; i < opt.hosts; i++) {
        v[i] = hosts[i].connected_us;
    }
    stats(v, opt.hosts, &mn, &med, &mx);
    printf("per host, all its queues connected after: min %.3f s, median "
           "%.3f s, max %.3f s\n", mn / 1e6, med / 1e6, mx / 1e6);
    if (lo0 >= 0) {
        printf("listen queue overflows %ld, drops %ld (this network "
               "namespace, during the connect phase)\n", lo1 - lo0,
               ld1 - ld0);
    }
    print_proc("before connecting:", p0);
    print_proc("all connected:", p1);
    if (opt.server_pid && nconn) {
        printf("server memory per connected queue: %.1f KiB (VmRSS growth "
               "/ %u)\n", (double)(p1.rss_kib - p0.rss_kib) / nconn, nconn);
        printf("server CPU in the connect phase: %.2f s, of which the main "
               "loop %.2f s (%.2f ms per connected queue)\n",
               (p1.cpu_ns - p0.cpu_ns) / 1e9,
               (p1.main_cpu_ns - p0.main_cpu_ns) / 1e9,
               (p1.main_cpu_ns - p0.main_cpu_ns) / 1e6 / nconn);
    }
    printf("hosts' CPU in the connect phase: %.2f s (this process: the "
           "same TLS and DH-HMAC-CHAP work on the host side)\n",
           cpu1 - cpu0);

    /* I/O: everything at once */
    g_mutex_lock(&lock);
    deadline = g_get_monotonic_time() + opt.seconds * G_USEC_PER_SEC;
    go_io = true;
    g_cond_broadcast(&cond);
    g_mutex_unlock(&lock);
    for (unsigned i = 0; i < opt.hosts; i++) {
        for (unsigned j = 0; j < opt.queues; j++) {
            if (hosts[i].io[j].thread) {
                g_thread_join(hosts[i].io[j].thread);
            }
        }
    }
    g_mutex_lock(&lock);
    stop_admin = true;
    g_cond_broadcast(&cond);
    g_mutex_unlock(&lock);
    for (unsigned i = 0; i < opt.hosts; i++) {
        g_thread_join(hosts[i].thread);
    }
    p2 = proc_read();

    for (unsigned i = 0; i < opt.hosts; i++) {
        Host *h = &hosts[i];

        v[i] = 0;
        for (unsigned j = 0; j < opt.queues; j++) {
            v[i] += h->io[j].ios;
            ios += h->io[j].ios;
            verr += h->io[j].verify_errors;
            qmin = MIN(qmin, h->io[j].ios);
        }
        ka_max = MAX(ka_max, h->ka_max_us);
        ka_max_io = MAX(ka_max_io, h->ka_max_io_us);
    }
    stats(v, opt.hosts, &mn, &med, &mx);
    printf("I/O: %" G_GUINT64_FORMAT " verified 4 KiB commands (%.0f/s); "
           "per host min %" G_GINT64_FORMAT " median %" G_GINT64_FORMAT
           " max %" G_GINT64_FORMAT ", min/median %.2f (limit %.2f); "
           "least busy queue %" G_GUINT64_FORMAT "\n", ios,
           ios / opt.seconds, mn, med, mx, med ? (double)mn / med : 0.0,
           opt.min_ratio, qmin == UINT64_MAX ? 0 : qmin);
    printf("verification errors: %" G_GUINT64_FORMAT "\n", verr);
    printf("Keep Alive (every second) on the admin queues: worst %.1f ms "
           "until the I/O, %.1f ms during it\n", ka_max / 1e3,
           ka_max_io / 1e3);
    print_proc("after the I/O:", p2);

    /* disconnect, and the server must let go of every connection */
    for (unsigned i = 0; i < opt.hosts; i++) {
        conn_close(&hosts[i].admin);
        for (unsigned j = 0; j < opt.queues; j++) {
            conn_close(&hosts[i].io[j]);
        }
    }
    p3 = proc_read();
    for (int i = 0; opt.server_pid && i < 100 && p3.fds > p0.fds; i++) {
        g_usleep(100 * 1000);
        p3 = proc_read();
    }
    print_proc("all disconnected:", p3);

    for (unsigned i = 0; i < opt.hosts; i++) {
        Host *h = &hosts[i];
        Queue *qs[MAX_QUEUES + 1] = { &h->admin };

        for (unsigned j = 0; j < opt.queues; j++) {
            qs[j + 1] = &h->io[j];
        }
        for (unsigned j = 0; j <= opt.queues; j++) {
            if (qs[j]->error) {
                /* count by message, without "host N queue M: " */
                const char *m = strchr(qs[j]->error, ':');

                if (fails++ < 5) {
                    fprintf(stderr, "many-hosts: %s\n", qs[j]->error);
                }
                m = m + 2;
                g_hash_table_insert(why, (gpointer)m, GUINT_TO_POINTER(
                    GPOINTER_TO_UINT(g_hash_table_lookup(why, m)) + 1));
            }
        }
    }
    if (fails) {
        fprintf(stderr, "many-hosts: FAIL: %u queues failed:\n", fails);
        g_hash_table_iter_init(&it, why);
        while (g_hash_table_iter_next(&it, &key, &val)) {
            fprintf(stderr, "  %4u x %s\n", GPOINTER_TO_UINT(val),
                    (char *)key);
        }
    }
    g_hash_table_unref(why);
    if (verr) {
        fprintf(stderr, "many-hosts: FAIL: %" G_GUINT64_FORMAT
                " verification errors\n", verr);
        fails++;
    }
    if (!mn || mn < opt.min_ratio * med || qmin == 0) {
        fprintf(stderr, "many-hosts: FAIL: a host or queue was starved\n");
        fails++;
    }
    if (opt.server_pid && p3.fds > p0.fds) {
        fprintf(stderr, "many-hosts: FAIL: the server holds %ld more open "
                "files than before connecting\n", p3.fds - p0.fds);
        fails++;
    }
    printf("%s\n", fails ? "FAILED" : "PASSED");
    return fails ? 1 : 0;
}
