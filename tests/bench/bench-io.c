/*
 * I/O load generator for scripts/bench-io.sh: one client, three protocols.
 *
 *   bench-io nvme --port P --nqn NQN [--hostnqn H] [--tls-psk KEY] WORKLOAD
 *   bench-io nbd  --port P --export NAME [--nbd-psk USER:HEXKEY] WORKLOAD
 *   bench-io tcp  --port P WORKLOAD            (against "bench-io tcp-server")
 *   bench-io tcp-server                        (prints its port, serves)
 *
 *   WORKLOAD: --rw read|write --bs BYTES --qd N [--queues N] [--seconds S]
 *             [--server-pid PID]
 *
 * Each queue is a thread with its own connection (an NVMe/TCP I/O queue of
 * one controller, an NBD connection, a TCP connection) that keeps --qd
 * requests outstanding for --seconds.  The NVMe/TCP host is the project's
 * test host (tests/qtest/nvmf-host*.c), with TLS 1.3 and a configured PSK
 * in the interchange format when --tls-psk is given.  The NBD client speaks
 * the fixed newstyle handshake with NBD_OPT_GO and simple replies, with
 * --nbd-psk after NBD_OPT_STARTTLS over TLS 1.3 with that PSK and
 * AES-128-GCM (the cipher of the NVMe/TCP rows).  Every client reads
 * through a 64 KiB receive buffer.
 *
 * The TCP server is the floor (see HELP_FLOOR): it receives (writes) or
 * sends (reads) the same bytes with a 16-byte header per request, with
 * the batching a server can have (every request that has arrived parsed
 * from one recv(), all their replies in one writev()) and nothing else.
 *
 * With --server-pid, the CPU time the server process spent while the load
 * ran (the sum of /proc/PID/task/STAR/schedstat, in ns) is measured around
 * the load phase only, after connecting, and so is this process's own
 * (client_cpu_ns: every thread, the same window).  Output, one line:
 *   ios=N bytes=N seconds=F server_cpu_ns=N client_cpu_ns=N
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <glib.h>
#include <gnutls/gnutls.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include "nvmf-host.h"

#define MAX_QD      127
#define MAX_QUEUES  16
#define LBA         512

typedef enum { PROTO_NVME, PROTO_NBD, PROTO_TCP } Proto;

static struct {
    Proto proto;
    int port;
    const char *nqn, *hostnqn, *psk, *export, *nbd_psk;
    bool write;
    size_t bs;
    unsigned qd, queues;
    double seconds;
    int server_pid;
    uint16_t cntlid;
    uint64_t size;              /* of the device, for offsets */
} opt = {
    .hostnqn = "nqn.2014-08.org.nvmexpress:uuid:"
               "0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0",
    .bs = 4096, .qd = 1, .queues = 1, .seconds = 2,
};

static const uint8_t hostid[16] = {
    0x0f, 0x1e, 0x2d, 0x3c, 0x4b, 0x5a, 0x69, 0x78,
    0x87, 0x96, 0xa5, 0xb4, 0xc3, 0xd2, 0xe1, 0xf0,
};

#define HELP_FLOOR \
"The floor (tcp-server): per connection, one thread recv()s whatever has\n" \
"arrived into a 256 KiB buffer (the target's receive buffer) and parses\n" \
"every request in it in place (a write's data is consumed where it lies);\n" \
"then one writev() sends all their replies, a read's reply being a 16-byte\n" \
"header and the whole payload from one preallocated buffer.  TCP_NODELAY\n" \
"and default (autotuned) socket buffers, as the target's sockets.  It is\n" \
"the kernel's cost of moving the bytes with the best batching the load\n" \
"allows: no event loop, no protocol, no block layer, no copy, no\n" \
"allocation.  A server's CPU per I/O or per byte above it is its own.\n"

static GMutex go_lock;
static GCond go_cond;
static unsigned ready, go;
static gint64 deadline;

static G_NORETURN G_GNUC_PRINTF(1, 2) void die(const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    fprintf(stderr, "bench-io: ");
    vfprintf(stderr, fmt, ap);
    fprintf(stderr, "\n");
    va_end(ap);
    exit(1);
}

/* ---- sockets ------------------------------------------------------------ */

static int tcp_connect(int port)
{
    struct sockaddr_in sa = {
        .sin_family = AF_INET,
        .sin_port = htons(port),
        .sin_addr.s_addr = htonl(INADDR_LOOPBACK),
    };
    int one = 1, fd = socket(AF_INET, SOCK_STREAM, 0);

    if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
        die("connect to port %d: %s", port, strerror(errno));
    }
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    return fd;
}

static void send_all(int fd, const void *buf, size_t len)
{
    const uint8_t *p = buf;

    while (len) {
        ssize_t n = send(fd, p, len, MSG_NOSIGNAL);

        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n <= 0) {
            die("send: %s", strerror(errno));
        }
        p += n;
        len -= n;
    }
}

static void writev_all(int fd, struct iovec *iov, int n)
{
    while (n) {
        ssize_t r = writev(fd, iov, n);

        if (r < 0 && errno == EINTR) {
            continue;
        }
        if (r <= 0) {
            die("writev: %s", strerror(errno));
        }
        while (n && (size_t)r >= iov->iov_len) {
            r -= iov->iov_len;
            iov++;
            n--;
        }
        if (n) {
            iov->iov_base = (uint8_t *)iov->iov_base + r;
            iov->iov_len -= r;
        }
    }
}

/*
 * A connection with a receive buffer: small reads (headers) are served
 * from one recv() of whatever has arrived, as a real host does; reads of
 * at least half the buffer go straight to the destination.
 */
#define SOCK_RBUF   (64 * 1024)

typedef struct Sock {
    int fd;
    gnutls_session_t tls;       /* NBD over TLS (--nbd-psk) */
    gnutls_psk_client_credentials_t psk;
    uint8_t *rbuf;
    size_t rpos, rlen;
} Sock;

static void sock_init(Sock *s, int fd)
{
    s->fd = fd;
    s->tls = NULL;
    s->psk = NULL;
    s->rbuf = g_malloc(SOCK_RBUF);
    s->rpos = s->rlen = 0;
}

static void sock_close(Sock *s)
{
    if (s->tls) {
        gnutls_bye(s->tls, GNUTLS_SHUT_WR);
        gnutls_deinit(s->tls);
        gnutls_psk_free_client_credentials(s->psk);
        s->tls = NULL;
    }
    close(s->fd);
    g_free(s->rbuf);
    s->rbuf = NULL;
}

/* one recv() or TLS record's worth */
static ssize_t sock_recv_some(Sock *s, void *buf, size_t len)
{
    ssize_t n;

    if (s->tls) {
        do {
            n = gnutls_record_recv(s->tls, buf, len);
        } while (n == GNUTLS_E_AGAIN || n == GNUTLS_E_INTERRUPTED);
        if (n < 0) {
            die("TLS receive: %s", gnutls_strerror(n));
        }
        return n;
    }
    do {
        n = recv(s->fd, buf, len, 0);
    } while (n < 0 && errno == EINTR);
    return n;
}

/* like recv(): some bytes, 0 at the end of the stream, -1 on errors */
static ssize_t sock_read(Sock *s, void *buf, size_t len)
{
    ssize_t n;

    if (s->rpos == s->rlen) {
        if (len >= SOCK_RBUF / 2) {
            return sock_recv_some(s, buf, len);
        }
        n = sock_recv_some(s, s->rbuf, SOCK_RBUF);
        if (n <= 0) {
            return n;
        }
        s->rpos = 0;
        s->rlen = n;
    }
    n = MIN(len, s->rlen - s->rpos);
    memcpy(buf, s->rbuf + s->rpos, n);
    s->rpos += n;
    return n;
}

/* false on end of stream */
static bool recv_all(Sock *s, void *buf, size_t len)
{
    uint8_t *p = buf;

    while (len) {
        ssize_t n = sock_read(s, p, len);

        if (n == 0) {
            return false;
        }
        if (n < 0) {
            die("recv: %s", strerror(errno));
        }
        p += n;
        len -= n;
    }
    return true;
}

static void sock_send_all(Sock *s, const void *buf, size_t len)
{
    const uint8_t *p = buf;

    if (!s->tls) {
        send_all(s->fd, buf, len);
        return;
    }
    while (len) {
        ssize_t n = gnutls_record_send(s->tls, p, len);

        if (n == GNUTLS_E_AGAIN || n == GNUTLS_E_INTERRUPTED) {
            continue;
        }
        if (n < 0) {
            die("TLS send: %s", gnutls_strerror(n));
        }
        p += n;
        len -= n;
    }
}

/* a request: over TLS, its pieces corked into as few records as fit */
static void sock_writev_all(Sock *s, struct iovec *iov, int n)
{
    if (!s->tls) {
        writev_all(s->fd, iov, n);
        return;
    }
    gnutls_record_cork(s->tls);
    for (int i = 0; i < n; i++) {
        sock_send_all(s, iov[i].iov_base, iov[i].iov_len);
    }
    if (gnutls_record_uncork(s->tls, GNUTLS_RECORD_WAIT) < 0) {
        die("TLS send failed");
    }
}

/* TLS 1.3 with a PSK (NBD after NBD_OPT_STARTTLS) */
static void sock_start_tls_psk(Sock *s, const char *user_key)
{
    g_auto(GStrv) uk = g_strsplit(user_key, ":", 2);
    gnutls_datum_t key;
    int ret;

    if (!uk[0] || !uk[1]) {
        die("--nbd-psk USER:HEXKEY");
    }
    key.data = (unsigned char *)uk[1];
    key.size = strlen(uk[1]);
    if (gnutls_psk_allocate_client_credentials(&s->psk) < 0 ||
        gnutls_psk_set_client_credentials(s->psk, uk[0], &key,
                                          GNUTLS_PSK_KEY_HEX) < 0 ||
        gnutls_init(&s->tls, GNUTLS_CLIENT) < 0 ||
        gnutls_priority_set_direct(s->tls,
                                   "NORMAL:-VERS-ALL:+VERS-TLS1.3:"
                                   "-CIPHER-ALL:+AES-128-GCM:"
                                   "+ECDHE-PSK:+DHE-PSK:+PSK", NULL) < 0 ||
        gnutls_credentials_set(s->tls, GNUTLS_CRD_PSK, s->psk) < 0) {
        die("setting up the TLS client failed");
    }
    gnutls_transport_set_int(s->tls, s->fd);
    do {
        ret = gnutls_handshake(s->tls);
    } while (ret == GNUTLS_E_AGAIN || ret == GNUTLS_E_INTERRUPTED);
    if (ret < 0) {
        die("TLS handshake: %s", gnutls_strerror(ret));
    }
}

static int sock_send(void *opaque, const void *buf, size_t len)
{
    send_all(((Sock *)opaque)->fd, buf, len);
    return 0;
}

static ssize_t sock_recv(void *opaque, void *buf, size_t len)
{
    return sock_read(opaque, buf, len);
}

/* ---- server CPU time --------------------------------------------------- */

/* ns the process ran, all its threads (those alive now) */
static uint64_t server_cpu_ns(void)
{
    g_autofree char *dir = NULL;
    uint64_t sum = 0;
    DIR *d;
    struct dirent *e;

    if (!opt.server_pid) {
        return 0;
    }
    dir = g_strdup_printf("/proc/%d/task", opt.server_pid);
    d = opendir(dir);
    if (!d) {
        die("%s: %s", dir, strerror(errno));
    }
    while ((e = readdir(d))) {
        g_autofree char *path = NULL, *s = NULL;

        if (e->d_name[0] == '.') {
            continue;
        }
        path = g_strdup_printf("%s/%s/schedstat", dir, e->d_name);
        if (g_file_get_contents(path, &s, NULL, NULL)) {
            sum += g_ascii_strtoull(s, NULL, 10);
        }
    }
    closedir(d);
    return sum;
}

/* ns this process ran, all its threads */
static uint64_t client_cpu_ns(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return ts.tv_sec * 1000000000ull + ts.tv_nsec;
}

/* ---- NVMe/TCP ------------------------------------------------------------ */

typedef struct Queue {
    unsigned idx;
    Sock sock;
    NvmfHost *h;
    NvmfTls *tls;
    uint8_t *buf;               /* qd * bs */
    uint64_t ios, bytes;
    uint64_t next_off;
    GThread *thread;
} Queue;

#define CHECK(q, expr) do {                                                \
        if ((expr) < 0) {                                                  \
            die("queue %u: %s: %s", (q)->idx, #expr,                       \
                nvmf_host_error((q)->h));                                  \
        }                                                                  \
    } while (0)

static void nvme_open(Queue *q, uint16_t qid)
{
    NvmfTransport tr = { sock_send, sock_recv, &q->sock };
    NvmfCqe cqe;

    sock_init(&q->sock, tcp_connect(opt.port));
    if (opt.psk) {
        uint8_t key[48], hash;
        g_autofree char *id = nvmf_tls_configured(opt.psk, 1, opt.hostnqn,
                                                  opt.nqn, key, &hash);

        if (!id) {
            die("malformed --tls-psk");
        }
        q->tls = nvmf_tls_new(&tr, id, key, hash == 2 ? 48 : 32, hash);
        if (nvmf_tls_handshake(q->tls) < 0) {
            die("TLS handshake: %s", nvmf_tls_error(q->tls));
        }
        tr = nvmf_tls_transport(q->tls);
    }
    q->h = nvmf_host_new(&tr);
    CHECK(q, nvmf_host_icreq(q->h, false, false, 0));
    /* SQSIZE is 0's based: room for --qd commands and the Connect */
    CHECK(q, nvmf_host_connect(q->h, qid, qid ? MAX(opt.qd, 31) : 31,
                               qid ? opt.cntlid : 0xffff,
                               opt.nqn, opt.hostnqn, hostid, qid ? 0 : 60000,
                               0, &cqe));
    if (cqe.status) {
        die("Connect of queue %u: status 0x%x", qid, cqe.status);
    }
    if (!qid) {
        opt.cntlid = cqe.dw0 & 0xffff;
    }
    /* like Linux: writes up to the in-capsule size go in the capsule */
    nvmf_host_set_incapsule(q->h, 8192);
}

static void nvme_admin(Queue *a)
{
    g_autofree uint8_t *id = g_malloc0(4096);
    NvmfCqe cqe;
    uint32_t n = opt.queues - 1;

    nvme_open(a, 0);
    CHECK(a, nvmf_host_enable(a->h));
    CHECK(a, nvmf_host_set_features(a->h, 0x07, n | (n << 16), &cqe));
    CHECK(a, nvmf_host_identify(a->h, 0, 1, 0, id, &cqe));
    if (cqe.status) {
        die("Identify Namespace 1: status 0x%x", cqe.status);
    }
    opt.size = nvmet_ld64(id) * LBA;    /* NSZE; the script uses 512 B */
}

static void nvme_run(Queue *q)
{
    int cid[MAX_QD];
    unsigned head = 0;
    NvmfCqe cqe;

    /* fill the queue */
    for (unsigned i = 0; i < opt.qd; i++) {
        uint8_t sqe[64];
        uint64_t off = q->next_off;

        q->next_off = (q->next_off + opt.bs) % opt.size;
        nvmf_sqe_init(sqe, opt.write ? 0x01 : 0x02, 1);
        nvmf_sqe_set_dw(sqe, NVME_SQE_CDW10, off / LBA);
        nvmf_sqe_set_dw(sqe, NVME_SQE_CDW11, (off / LBA) >> 32);
        nvmf_sqe_set_dw(sqe, NVME_SQE_CDW12, opt.bs / LBA - 1);
        cid[i] = nvmf_host_send_cmd(q->h, sqe,
                                    opt.write ? q->buf + i * opt.bs : NULL,
                                    opt.write ? opt.bs : 0,
                                    opt.write ? NULL : q->buf + i * opt.bs,
                                    opt.write ? 0 : opt.bs);
        CHECK(q, cid[i]);
    }
    /* complete the oldest, submit another in its slot */
    for (;;) {
        uint8_t sqe[64];
        uint64_t off;

        CHECK(q, nvmf_host_wait(q->h, cid[head], &cqe));
        if (cqe.status) {
            die("queue %u: I/O status 0x%x", q->idx, cqe.status);
        }
        if (g_get_monotonic_time() >= deadline) {
            break;
        }
        q->ios++;
        q->bytes += opt.bs;
        off = q->next_off;
        q->next_off = (q->next_off + opt.bs) % opt.size;
        nvmf_sqe_init(sqe, opt.write ? 0x01 : 0x02, 1);
        nvmf_sqe_set_dw(sqe, NVME_SQE_CDW10, off / LBA);
        nvmf_sqe_set_dw(sqe, NVME_SQE_CDW11, (off / LBA) >> 32);
        nvmf_sqe_set_dw(sqe, NVME_SQE_CDW12, opt.bs / LBA - 1);
        cid[head] = nvmf_host_send_cmd(
            q->h, sqe, opt.write ? q->buf + head * opt.bs : NULL,
            opt.write ? opt.bs : 0,
            opt.write ? NULL : q->buf + head * opt.bs,
            opt.write ? 0 : opt.bs);
        CHECK(q, cid[head]);
        head = (head + 1) % opt.qd;
    }
    /* drain what is still outstanding (not counted) */
    for (unsigned i = 1; i < opt.qd; i++) {
        CHECK(q, nvmf_host_wait(q->h, cid[(head + i) % opt.qd], &cqe));
    }
}

/* ---- NBD --------------------------------------------------------------- */

#define NBD_OPTS_MAGIC      0x49484156454F5054ULL   /* "IHAVEOPT" */
#define NBD_REP_MAGIC       0x3e889045565a9ULL
#define NBD_REQUEST_MAGIC   0x25609513u
#define NBD_SIMPLE_MAGIC    0x67446698u
#define NBD_OPT_STARTTLS    5
#define NBD_OPT_GO          7
#define NBD_REP_ACK         1
#define NBD_REP_INFO        3
#define NBD_INFO_EXPORT     0
#define NBD_CMD_READ        0
#define NBD_CMD_WRITE       1
#define NBD_CMD_DISC        2

static void put_be(uint8_t *p, uint64_t v, int bytes)
{
    for (int i = bytes - 1; i >= 0; i--) {
        p[i] = v;
        v >>= 8;
    }
}

static uint64_t get_be(const uint8_t *p, int bytes)
{
    uint64_t v = 0;

    for (int i = 0; i < bytes; i++) {
        v = (v << 8) | p[i];
    }
    return v;
}

static void nbd_open(Queue *q)
{
    Sock *s = &q->sock;
    int fd;
    uint8_t hello[18], flags[4], o[16 + 4 + 256 + 2], r[20];
    size_t nlen = strlen(opt.export);

    sock_init(s, tcp_connect(opt.port));
    fd = s->fd;
    if (!recv_all(s, hello, sizeof(hello)) ||
        memcmp(hello, "NBDMAGICIHAVEOPT", 16)) {
        die("not an NBD server (fixed newstyle)");
    }
    put_be(flags, 3, 4);        /* FIXED_NEWSTYLE | NO_ZEROES */
    send_all(fd, flags, 4);
    if (nlen > 256) {
        die("export name too long");
    }
    if (opt.nbd_psk) {
        put_be(o, NBD_OPTS_MAGIC, 8);
        put_be(o + 8, NBD_OPT_STARTTLS, 4);
        put_be(o + 12, 0, 4);
        send_all(fd, o, 16);
        if (!recv_all(s, r, sizeof(r)) || get_be(r, 8) != NBD_REP_MAGIC ||
            get_be(r + 12, 4) != NBD_REP_ACK || get_be(r + 16, 4)) {
            die("NBD_OPT_STARTTLS refused");
        }
        sock_start_tls_psk(s, opt.nbd_psk);
    }
    put_be(o, NBD_OPTS_MAGIC, 8);
    put_be(o + 8, NBD_OPT_GO, 4);
    put_be(o + 12, 4 + nlen + 2, 4);
    put_be(o + 16, nlen, 4);
    memcpy(o + 20, opt.export, nlen);
    put_be(o + 20 + nlen, 0, 2);
    sock_send_all(s, o, 22 + nlen);
    for (;;) {
        uint32_t type, len;
        g_autofree uint8_t *data = NULL;

        if (!recv_all(s, r, sizeof(r)) || get_be(r, 8) != NBD_REP_MAGIC) {
            die("bad NBD option reply");
        }
        type = get_be(r + 12, 4);
        len = get_be(r + 16, 4);
        data = g_malloc(len + 1);
        if (!recv_all(s, data, len)) {
            die("NBD server closed the connection");
        }
        if (type & 0x80000000u) {
            die("NBD_OPT_GO for '%s' refused (error 0x%x)", opt.export, type);
        }
        if (type == NBD_REP_INFO && len >= 12 &&
            get_be(data, 2) == NBD_INFO_EXPORT) {
            opt.size = get_be(data + 2, 8);
        }
        if (type == NBD_REP_ACK) {
            break;
        }
    }
}

static void nbd_send(Queue *q, unsigned slot)
{
    uint8_t hdr[28];
    struct iovec iov[2] = {
        { hdr, sizeof(hdr) },
        { q->buf + slot * opt.bs, opt.bs },
    };
    uint64_t off = q->next_off;

    q->next_off = (q->next_off + opt.bs) % opt.size;
    put_be(hdr, NBD_REQUEST_MAGIC, 4);
    put_be(hdr + 4, 0, 2);
    put_be(hdr + 6, opt.write ? NBD_CMD_WRITE : NBD_CMD_READ, 2);
    put_be(hdr + 8, slot, 8);
    put_be(hdr + 16, off, 8);
    put_be(hdr + 24, opt.bs, 4);
    sock_writev_all(&q->sock, iov, opt.write ? 2 : 1);
}

/* the slot of the next reply */
static unsigned nbd_recv(Queue *q)
{
    uint8_t r[16];
    uint64_t slot;

    if (!recv_all(&q->sock, r, sizeof(r)) ||
        get_be(r, 4) != NBD_SIMPLE_MAGIC) {
        die("bad NBD reply");
    }
    if (get_be(r + 4, 4)) {
        die("NBD error %u", (unsigned)get_be(r + 4, 4));
    }
    slot = get_be(r + 8, 8);
    if (slot >= opt.qd) {
        die("NBD reply for an unknown handle");
    }
    if (!opt.write &&
        !recv_all(&q->sock, q->buf + slot * opt.bs, opt.bs)) {
        die("NBD server closed the connection");
    }
    return slot;
}

static void nbd_close(Queue *q)
{
    uint8_t hdr[28] = { 0 };

    put_be(hdr, NBD_REQUEST_MAGIC, 4);
    put_be(hdr + 6, NBD_CMD_DISC, 2);
    sock_send_all(&q->sock, hdr, sizeof(hdr));
}

/* ---- raw TCP, the baseline ---------------------------------------------- */

/* request and reply: op (read 0, write 1), length, tag; data follows */
static void tcp_send(Queue *q, unsigned slot)
{
    uint8_t hdr[16];
    struct iovec iov[2] = {
        { hdr, sizeof(hdr) },
        { q->buf + slot * opt.bs, opt.bs },
    };

    put_be(hdr, opt.write, 4);
    put_be(hdr + 4, opt.bs, 4);
    put_be(hdr + 8, slot, 8);
    writev_all(q->sock.fd, iov, opt.write ? 2 : 1);
}

static unsigned tcp_recv(Queue *q)
{
    uint8_t r[16];
    uint64_t slot;

    if (!recv_all(&q->sock, r, sizeof(r))) {
        die("TCP server closed the connection");
    }
    slot = get_be(r + 8, 8);
    if (slot >= opt.qd) {
        die("TCP reply for an unknown tag");
    }
    if (!opt.write &&
        !recv_all(&q->sock, q->buf + slot * opt.bs, opt.bs)) {
        die("TCP server closed the connection");
    }
    return slot;
}

/*
 * The floor: what any server must spend to move the bytes over the
 * kernel's TCP.  Per connection, one thread reads whatever has arrived into
 * a receive buffer as large as the target's (NVMET_RECV_BUF) and parses
 * every request in it in place (a write's data is consumed where it lies,
 * never copied again); then one writev() sends the replies of all of them,
 * a read's reply as its header plus the whole payload from one
 * preallocated buffer.  No per-request allocation, no copy, no event loop,
 * no protocol.  Sockets as the target's: TCP_NODELAY, default (autotuned)
 * buffer sizes.
 */
#define SRV_RBUF    (256 * 1024)
#define SRV_BATCH   512         /* replies per writev (2 iovecs each) */

typedef struct SrvConn {
    int fd;
    uint8_t *payload;           /* what every read sends */
    uint8_t (*hdrs)[16];        /* replies of this batch */
    struct iovec iov[2 * SRV_BATCH];
    unsigned nrep, niov;
} SrvConn;

static void srv_flush(SrvConn *c)
{
    if (c->niov) {
        writev_all(c->fd, c->iov, c->niov);
    }
    c->nrep = c->niov = 0;
}

static void srv_reply(SrvConn *c, const uint8_t *req)
{
    uint8_t *h = c->hdrs[c->nrep++];
    uint32_t len = get_be(req + 4, 4);
    struct iovec *last = c->niov ? &c->iov[c->niov - 1] : NULL;

    memcpy(h, req, 16);
    if (last && (uint8_t *)last->iov_base + last->iov_len == h) {
        last->iov_len += 16;    /* replies without data: one iovec */
    } else {
        c->iov[c->niov++] = (struct iovec) { h, 16 };
    }
    if (get_be(req, 4) == 0 && len) {
        c->iov[c->niov++] = (struct iovec) { c->payload, len };
    }
    if (c->nrep == SRV_BATCH) {
        srv_flush(c);
    }
}

static gpointer tcp_server_conn(gpointer data)
{
    SrvConn *c = g_new0(SrvConn, 1);
    g_autofree uint8_t *rbuf = g_malloc(SRV_RBUF);
    uint8_t req[16];
    size_t have = 0;            /* of req */
    uint64_t skip = 0;          /* write data still to come */

    c->fd = GPOINTER_TO_INT(data);
    c->payload = g_malloc(1 << 20);
    memset(c->payload, 0x5a, 1 << 20);
    c->hdrs = g_malloc(SRV_BATCH * 16);
    for (;;) {
        ssize_t n = recv(c->fd, rbuf, SRV_RBUF, 0);
        const uint8_t *p = rbuf;

        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n <= 0) {
            break;
        }
        while (n > 0) {
            size_t take;

            if (skip) {
                take = MIN(skip, (uint64_t)n);
                skip -= take;
                p += take;
                n -= take;
                if (!skip) {
                    srv_reply(c, req);
                }
                continue;
            }
            take = MIN(sizeof(req) - have, (size_t)n);
            memcpy(req + have, p, take);
            have += take;
            p += take;
            n -= take;
            if (have < sizeof(req)) {
                break;
            }
            have = 0;
            if (get_be(req + 4, 4) > (1 << 20)) {
                goto out;
            }
            if (get_be(req, 4) == 1 && get_be(req + 4, 4)) {
                skip = get_be(req + 4, 4);
            } else {
                srv_reply(c, req);
            }
        }
        srv_flush(c);
    }
out:
    close(c->fd);
    g_free(c->payload);
    g_free(c->hdrs);
    g_free(c);
    return NULL;
}

static int tcp_server(void)
{
    struct sockaddr_in sa = {
        .sin_family = AF_INET,
        .sin_addr.s_addr = htonl(INADDR_LOOPBACK),
    };
    socklen_t sl = sizeof(sa);
    int one = 1, lfd = socket(AF_INET, SOCK_STREAM, 0);

    if (lfd < 0 || bind(lfd, (struct sockaddr *)&sa, sizeof(sa)) < 0 ||
        listen(lfd, 64) < 0 ||
        getsockname(lfd, (struct sockaddr *)&sa, &sl) < 0) {
        die("tcp-server: %s", strerror(errno));
    }
    printf("%d\n", ntohs(sa.sin_port));
    fflush(stdout);
    for (;;) {
        int fd = accept(lfd, NULL, NULL);

        if (fd < 0) {
            if (errno == EINTR) {
                continue;
            }
            die("accept: %s", strerror(errno));
        }
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
        g_thread_unref(g_thread_new("conn", tcp_server_conn,
                                    GINT_TO_POINTER(fd)));
    }
}

/* NBD and TCP: the oldest outstanding slot is not necessarily the next */
static void stream_run(Queue *q, void (*sendf)(Queue *, unsigned),
                       unsigned (*recvf)(Queue *))
{
    for (unsigned i = 0; i < opt.qd; i++) {
        sendf(q, i);
    }
    for (unsigned outstanding = opt.qd; outstanding; outstanding--) {
        unsigned slot = recvf(q);

        /* what completes after the deadline is drained, not counted */
        if (g_get_monotonic_time() < deadline) {
            q->ios++;
            q->bytes += opt.bs;
            sendf(q, slot);
            outstanding++;
        }
    }
}

/* ---- main ------------------------------------------------------------------- */

static gpointer queue_thread(gpointer data)
{
    Queue *q = data;

    g_mutex_lock(&go_lock);
    ready++;
    g_cond_broadcast(&go_cond);
    while (!go) {
        g_cond_wait(&go_cond, &go_lock);
    }
    g_mutex_unlock(&go_lock);
    switch (opt.proto) {
    case PROTO_NVME:
        nvme_run(q);
        break;
    case PROTO_NBD:
        stream_run(q, nbd_send, nbd_recv);
        break;
    case PROTO_TCP:
        stream_run(q, tcp_send, tcp_recv);
        break;
    }
    return NULL;
}

int main(int argc, char **argv)
{
    g_autofree char *rw = NULL, *mode = NULL;
    gint64 bs = 0;
    gint qd = 0, queues = 0, pid = 0, port = 0;
    gdouble seconds = 0;
    GOptionEntry entries[] = {
        { "port", 0, 0, G_OPTION_ARG_INT, &port, "TCP port (127.0.0.1)" },
        { "nqn", 0, 0, G_OPTION_ARG_STRING, &opt.nqn, "subsystem NQN" },
        { "hostnqn", 0, 0, G_OPTION_ARG_STRING, &opt.hostnqn, "host NQN" },
        { "tls-psk", 0, 0, G_OPTION_ARG_STRING, &opt.psk,
          "TLS with this configured PSK (NVMeTLSkey-1:...)" },
        { "export", 0, 0, G_OPTION_ARG_STRING, &opt.export, "NBD export" },
        { "nbd-psk", 0, 0, G_OPTION_ARG_STRING, &opt.nbd_psk,
          "NBD over TLS 1.3 with this PSK (USER:HEXKEY, as in QEMU's "
          "tls-creds-psk keys.psk)" },
        { "rw", 0, 0, G_OPTION_ARG_STRING, &rw, "read or write" },
        { "bs", 0, 0, G_OPTION_ARG_INT64, &bs, "bytes per request" },
        { "qd", 0, 0, G_OPTION_ARG_INT, &qd, "requests outstanding/queue" },
        { "queues", 0, 0, G_OPTION_ARG_INT, &queues, "queues (threads)" },
        { "seconds", 0, 0, G_OPTION_ARG_DOUBLE, &seconds, "duration" },
        { "server-pid", 0, 0, G_OPTION_ARG_INT, &pid,
          "measure this process's CPU time" },
        { NULL }
    };
    g_autoptr(GOptionContext) ctx =
        g_option_context_new("nvme|nbd|tcp|tcp-server - I/O load generator");
    g_autoptr(GError) err = NULL;
    Queue admin = { 0 }, *qs;
    uint64_t ios = 0, bytes = 0, cpu0, cpu1, ccpu0, ccpu1;
    gint64 t0, t1;

    g_option_context_add_main_entries(ctx, entries, NULL);
    g_option_context_set_description(ctx,
        "Modes: nvme (NVMe/TCP host, plain or TLS), nbd (NBD client), tcp\n"
        "(client of tcp-server), tcp-server (prints its port, serves).\n"
        "Output: ios=N bytes=N seconds=F server_cpu_ns=N client_cpu_ns=N\n"
        "\n" HELP_FLOOR);
    if (!g_option_context_parse(ctx, &argc, &argv, &err) || argc != 2) {
        die("%s", err ? err->message : "usage: bench-io MODE [options]");
    }
    mode = g_strdup(argv[1]);
    if (g_str_equal(mode, "tcp-server")) {
        return tcp_server();
    }
    if (g_str_equal(mode, "nvme")) {
        opt.proto = PROTO_NVME;
        if (!opt.nqn) {
            die("nvme needs --nqn");
        }
    } else if (g_str_equal(mode, "nbd")) {
        opt.proto = PROTO_NBD;
        if (!opt.export) {
            die("nbd needs --export");
        }
    } else if (g_str_equal(mode, "tcp")) {
        opt.proto = PROTO_TCP;
        opt.size = UINT64_MAX / 2;
    } else {
        die("unknown mode '%s'", mode);
    }
    opt.port = port;
    opt.write = rw && g_str_equal(rw, "write");
    if (rw && !opt.write && !g_str_equal(rw, "read")) {
        die("--rw read or write");
    }
    if (bs < 0 || qd < 0 || queues < 0) {
        die("negative --bs, --qd or --queues");
    }
    opt.bs = bs ? (size_t)bs : opt.bs;
    opt.qd = qd ? (unsigned)qd : opt.qd;
    opt.queues = queues ? (unsigned)queues : opt.queues;
    opt.seconds = seconds ? seconds : opt.seconds;
    opt.server_pid = pid;
    if (!opt.port || opt.bs % LBA || opt.bs > (1 << 20) || opt.qd > MAX_QD ||
        opt.queues > MAX_QUEUES) {
        die("bad --port, --bs (n * 512, at most 1 MiB), --qd (<= %d) or "
            "--queues (<= %d)", MAX_QD, MAX_QUEUES);
    }

    /* connect everything first */
    if (opt.proto == PROTO_NVME) {
        nvme_admin(&admin);
    }
    qs = g_new0(Queue, opt.queues);
    for (unsigned i = 0; i < opt.queues; i++) {
        Queue *q = &qs[i];

        q->idx = i + 1;
        q->buf = g_malloc(opt.qd * opt.bs);
        memset(q->buf, 0x5a, opt.qd * opt.bs);
        switch (opt.proto) {
        case PROTO_NVME:
            nvme_open(q, i + 1);
            break;
        case PROTO_NBD:
            nbd_open(q);
            break;
        case PROTO_TCP:
            sock_init(&q->sock, tcp_connect(opt.port));
            break;
        }
        /* spread the queues over the device */
        q->next_off = (opt.size / opt.queues) * i / opt.bs * opt.bs;
        if (opt.size < opt.bs * opt.qd) {
            die("device too small");
        }
        q->thread = g_thread_new("queue", queue_thread, q);
    }
    g_mutex_lock(&go_lock);
    while (ready < opt.queues) {
        g_cond_wait(&go_cond, &go_lock);
    }
    cpu0 = server_cpu_ns();
    ccpu0 = client_cpu_ns();
    t0 = g_get_monotonic_time();
    deadline = t0 + opt.seconds * G_USEC_PER_SEC;
    go = 1;
    g_cond_broadcast(&go_cond);
    g_mutex_unlock(&go_lock);
    for (unsigned i = 0; i < opt.queues; i++) {
        g_thread_join(qs[i].thread);
        ios += qs[i].ios;
        bytes += qs[i].bytes;
    }
    t1 = g_get_monotonic_time();
    ccpu1 = client_cpu_ns();
    cpu1 = server_cpu_ns();

    for (unsigned i = 0; i < opt.queues; i++) {
        if (opt.proto == PROTO_NBD) {
            nbd_close(&qs[i]);
        }
        if (qs[i].h) {
            nvmf_host_free(qs[i].h);
        }
        nvmf_tls_free(qs[i].tls);
        sock_close(&qs[i].sock);
        g_free(qs[i].buf);
    }
    if (admin.h) {
        nvmf_host_free(admin.h);
        nvmf_tls_free(admin.tls);
        sock_close(&admin.sock);
    }
    printf("ios=%" G_GUINT64_FORMAT " bytes=%" G_GUINT64_FORMAT
           " seconds=%.6f server_cpu_ns=%" G_GUINT64_FORMAT
           " client_cpu_ns=%" G_GUINT64_FORMAT "\n",
           ios, bytes, (t1 - t0) / 1e6, cpu1 - cpu0, ccpu1 - ccpu0);
    g_free(qs);
    return 0;
}
