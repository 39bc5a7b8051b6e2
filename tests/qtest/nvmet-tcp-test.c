/*
 * qtest for the NVMe-oF TCP target: start QEMU (and qemu-storage-daemon)
 * with the target and speak NVMe/TCP to it over real sockets.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#include "qemu/osdep.h"
#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <arpa/inet.h>
#include "libqtest.h"
#include "libqmp.h"
#include "qapi/error.h"
#include "qobject/qdict.h"
#include "qobject/qjson.h"
#include "qobject/qlist.h"
#include "qemu/cutils.h"
#include "nvmf-host.h"
#include <gnutls/gnutls.h>

#define SUBNQN   "nqn.2026-11.org.qemu:qtest-subsys"
#define HOSTNQN  "nqn.2014-08.org.nvmexpress:uuid:3f0c2a9e-5b1d-4c8e-9a7f-1d2e3f405162"
#define HOSTNQN2 "nqn.2014-08.org.nvmexpress:uuid:8a7b6c5d-4e3f-4a1b-8c9d-0e1f2a3b4c5d"
#define DISCNQN  "nqn.2014-08.org.nvmexpress.discovery"
#define DISK_SIZE (16 * 1024 * 1024)

static const uint8_t hostid[16] = {
    0x3f, 0x0c, 0x2a, 0x9e, 0x5b, 0x1d, 0x4c, 0x8e,
    0x9a, 0x7f, 0x1d, 0x2e, 0x3f, 0x40, 0x51, 0x62,
};

/*
 * A QEMU (or qemu-storage-daemon) with the target, and the temporary files
 * its command line names; target_stop() stops it and removes them.
 */
typedef struct Target {
    QTestState *qts;
    GPtrArray *files;           /* paths to remove */
    char *disk;                 /* a DISK_SIZE image */
    int port;                   /* trsvcid of /objects/port0 */
} Target;

/* ---- socket transport for the test host ---------------------------------- */

typedef struct Conn {
    int fd;                     /* -1 once a cut closed it */
    NvmfHost *h;
    NvmfTls *tls;
    uint16_t cntlid;
    /*
     * A cut by the host (disconnect storms): with cut_armed, the socket
     * takes cut_left more bytes, then it is shut down (cut_rst: reset)
     * in the middle of whatever was being sent; cut_at_zero cuts as
     * soon as a send leaves nothing, rather than at the next send.
     */
    bool cut_armed, cut_at_zero, cut_rst, cut_fired;
    size_t cut_left;
    size_t cut_prefix;          /* bytes of the cut send that went */
    bool cut_whole;             /* all of them */
    int pdu_type;               /* of the PDU being sent, -1: none yet */
    uint8_t pdu_hdr[16];        /* its first bytes */
    NvmfTransport inner;        /* under the PDU-watching shim */
} Conn;

static void conn_cut(Conn *c)
{
    if (c->cut_rst) {
        struct linger lg = { .l_onoff = 1, .l_linger = 0 };

        setsockopt(c->fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
        close(c->fd);
        c->fd = -1;
    } else {
        shutdown(c->fd, SHUT_RDWR);
    }
    c->cut_fired = true;
    c->cut_armed = false;
}

/* The socket as the test host's transport, with the host's cuts */
static int sock_send(void *opaque, const void *buf, size_t len)
{
    Conn *c = opaque;
    NvmfTransport raw = nvmf_fd_transport(&c->fd);
    size_t n = len;
    bool cut = false;

    if (c->fd < 0) {
        return -1;
    }
    if (c->cut_armed) {
        if (len > c->cut_left || (len == c->cut_left && c->cut_at_zero)) {
            n = c->cut_left;
            cut = true;
        } else {
            c->cut_left -= len;
        }
    }
    if (raw.send(raw.opaque, buf, n) < 0) {
        return -1;
    }
    if (cut) {
        c->cut_prefix = n;
        c->cut_whole = n == len;
        conn_cut(c);
        /* a send that went whole went, as far as the host knows */
        return n == len ? 0 : -1;
    }
    return 0;
}

static ssize_t sock_recv(void *opaque, void *buf, size_t len)
{
    Conn *c = opaque;
    NvmfTransport raw = nvmf_fd_transport(&c->fd);

    return c->fd < 0 ? -1 : raw.recv(raw.opaque, buf, len);
}

static Conn *conn_open_af(int af, int port)
{
    Conn *c = g_new0(Conn, 1);
    struct sockaddr_in sa = { .sin_family = AF_INET };
    struct sockaddr_in6 sa6 = { .sin6_family = AF_INET6 };
    struct timeval tv = { .tv_sec = 20 };
    NvmfTransport tr = { sock_send, sock_recv, c };
    int one = 1;

    c->fd = socket(af, SOCK_STREAM, 0);
    g_assert_cmpint(c->fd, >=, 0);
    if (af == AF_INET6) {
        sa6.sin6_port = htons(port);
        sa6.sin6_addr = in6addr_loopback;
        g_assert_cmpint(connect(c->fd, (struct sockaddr *)&sa6, sizeof(sa6)),
                        ==, 0);
    } else {
        sa.sin_port = htons(port);
        sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        g_assert_cmpint(connect(c->fd, (struct sockaddr *)&sa, sizeof(sa)),
                        ==, 0);
    }
    setsockopt(c->fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    c->h = nvmf_host_new(&tr);
    return c;
}

static Conn *conn_open(int port)
{
    return conn_open_af(AF_INET, port);
}

/* A connection to a port listening on the UNIX socket @path */
static Conn *conn_open_unix(const char *path)
{
    Conn *c = g_new0(Conn, 1);
    struct sockaddr_un un = { .sun_family = AF_UNIX };
    struct timeval tv = { .tv_sec = 20 };
    NvmfTransport tr = { sock_send, sock_recv, c };

    g_assert_cmpuint(strlen(path), <, sizeof(un.sun_path));
    strcpy(un.sun_path, path);
    c->fd = socket(AF_UNIX, SOCK_STREAM, 0);
    g_assert_cmpint(c->fd, >=, 0);
    g_assert_cmpint(connect(c->fd, (struct sockaddr *)&un, sizeof(un)), ==,
                    0);
    setsockopt(c->fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    c->h = nvmf_host_new(&tr);
    return c;
}

static void conn_close(Conn *c)
{
    nvmf_host_free(c->h);
    nvmf_tls_free(c->tls);
    if (c->fd >= 0) {
        close(c->fd);
    }
    g_free(c);
}

/* TLS handshake with a PSK; the host then talks through the session */
static int conn_start_tls(Conn *c, const char *identity, const uint8_t *key,
                          size_t len, uint8_t hash)
{
    NvmfTransport raw = { sock_send, sock_recv, c };
    NvmfTransport tr;

    c->tls = nvmf_tls_new(&raw, identity, key, len, hash);
    if (nvmf_tls_handshake(c->tls) < 0) {
        return -1;
    }
    tr = nvmf_tls_transport(c->tls);
    nvmf_host_free(c->h);
    c->h = nvmf_host_new(&tr);
    return 0;
}

#define HOST_OK(c, expr) do {                                              \
        if ((expr) < 0) {                                                  \
            g_error("%s: %s", #expr, nvmf_host_error((c)->h));             \
        }                                                                  \
    } while (0)

static Conn *admin_connect(int port, const char *subnqn, const char *hostnqn,
                           bool hd, bool dd, uint32_t kato)
{
    Conn *c = conn_open(port);
    NvmfCqe cqe;

    HOST_OK(c, nvmf_host_icreq(c->h, hd, dd, 0));
    HOST_OK(c, nvmf_host_connect(c->h, 0, 31, 0xffff, subnqn, hostnqn, hostid,
                                 kato, 0, &cqe));
    g_assert_cmphex(cqe.status, ==, 0);
    c->cntlid = cqe.dw0 & 0xffff;
    HOST_OK(c, nvmf_host_enable(c->h));
    return c;
}

static Conn *io_connect(int port, Conn *admin, uint16_t qid, bool hd, bool dd)
{
    Conn *c = conn_open(port);
    NvmfCqe cqe;

    HOST_OK(c, nvmf_host_icreq(c->h, hd, dd, 0));
    HOST_OK(c, nvmf_host_connect(c->h, qid, 127, admin->cntlid, SUBNQN,
                                 HOSTNQN, hostid, 0, 0, &cqe));
    g_assert_cmphex(cqe.status, ==, 0);
    c->cntlid = admin->cntlid;
    nvmf_host_set_incapsule(c->h, 16384);
    return c;
}

/* ---- target setup -------------------------------------------------------- */

/* @path goes away with the target (it need not exist). */
static char *target_path(Target *t, char *path)
{
    g_ptr_array_add(t->files, path);
    return path;
}

/* A new temporary file holding @contents (NULL: an empty DISK_SIZE image) */
static char *target_file(Target *t, const char *tmpl, const char *contents)
{
    char *path = NULL;
    int fd = g_file_open_tmp(tmpl, &path, NULL);

    g_assert_cmpint(fd, >=, 0);
    if (contents) {
        g_assert_cmpint(write(fd, contents, strlen(contents)), ==,
                        strlen(contents));
    } else {
        g_assert_cmpint(ftruncate(fd, DISK_SIZE), ==, 0);
    }
    close(fd);
    return target_path(t, path);
}

static Target *target_new(void)
{
    Target *t = g_new0(Target, 1);

    t->files = g_ptr_array_new_with_free_func(g_free);
    t->disk = target_file(t, "nvmet-tcp-test-XXXXXX.img", NULL);
    return t;
}

static int qom_port(QTestState *qts, const char *id)
{
    QDict *rsp = qtest_qmp(qts, "{ 'execute': 'qom-get', 'arguments': "
                           "{ 'path': %s, 'property': 'trsvcid' } }", id);
    int port;

    g_assert(qdict_haskey(rsp, "return"));
    port = atoi(qdict_get_str(rsp, "return"));
    qobject_unref(rsp);
    g_assert_cmpint(port, >, 0);
    return port;
}

/* A QMP command failed with an error saying @msg */
static void expect_qmp_error(QDict *rsp, const char *msg)
{
    const char *desc;

    g_assert_true(qdict_haskey(rsp, "error"));
    desc = qdict_get_str(qdict_get_qdict(rsp, "error"), "desc");
    if (!strstr(desc, msg)) {
        g_error("expected '%s' in: %s", msg, desc);
    }
    qobject_unref(rsp);
}

/* Start QEMU with -M none and @fmt; nvmet-port port0 must be among it. */
static void G_GNUC_PRINTF(2, 3) target_launch(Target *t, const char *fmt, ...)
{
    g_autofree char *args = NULL;
    va_list ap;

    va_start(ap, fmt);
    args = g_strdup_vprintf(fmt, ap);
    va_end(ap);
    t->qts = qtest_initf("-M none %s", args);
    t->port = qom_port(t->qts, "/objects/port0");
}

/* port0 exporting SUBNQN (any host) with namespace 1 on t->disk, + @extra */
static void target_run(Target *t, const char *extra)
{
    target_launch(t,
        "-blockdev driver=file,filename=%s,node-name=disk0 "
        "-object nvmet-port,id=port0,traddr=127.0.0.1,trsvcid=0 "
        "-object nvmet-subsystem,id=sub0,nqn=" SUBNQN ",ports=port0,"
        "allow-any-host=on,serial=QTEST0001 "
        "-object nvmet-namespace,id=ns1,subsystem=sub0,nsid=1,node-name=disk0 "
        "%s", t->disk, extra ? extra : "");
}

static Target *target_start(const char *extra)
{
    Target *t = target_new();

    target_run(t, extra);
    return t;
}

static void target_stop(Target *t)
{
    if (t->qts) {
        qtest_quit(t->qts);
    }
    /* files first, then the directories they may be in */
    for (unsigned i = 0; i < t->files->len; i++) {
        unlink(g_ptr_array_index(t->files, i));
    }
    for (unsigned i = 0; i < t->files->len; i++) {
        rmdir(g_ptr_array_index(t->files, i));
    }
    g_ptr_array_free(t->files, true);
    g_free(t);
}

static void fill_random(uint8_t *buf, size_t len)
{
    for (size_t i = 0; i < len; i++) {
        buf[i] = g_test_rand_int();
    }
}

/* ---- tests --------------------------------------------------------------- */

typedef struct DigestCase {
    bool hd, dd;
} DigestCase;

static void test_connect_identify_rw(const void *opaque)
{
    const DigestCase *dc = opaque;
    Target *t = target_start(NULL);
    Conn *a = admin_connect(t->port, SUBNQN, HOSTNQN, dc->hd, dc->dd, 30000);
    Conn *io;
    g_autofree uint8_t *id = g_malloc0(4096);
    g_autofree uint8_t *wbuf = g_malloc(512 * 1024);
    g_autofree uint8_t *rbuf = g_malloc0(512 * 1024);
    NvmfCqe cqe;

    HOST_OK(a, nvmf_host_identify(a->h, 0x01, 0, 0, id, &cqe));
    g_assert_cmphex(cqe.status, ==, 0);
    g_assert_cmpstr((char *)id + 768, ==, SUBNQN);
    g_assert_cmpmem(id + 4, 9, "QTEST0001", 9);
    g_assert_cmpint(id[111], ==, 1);                    /* I/O controller */
    g_assert_cmpuint(nvmet_ld16(id + 78), ==, a->cntlid);

    HOST_OK(a, nvmf_host_identify(a->h, 0x00, 1, 0, id, &cqe));
    g_assert_cmphex(cqe.status, ==, 0);
    g_assert_cmpuint(nvmet_ld64(id), ==, DISK_SIZE / 512);

    HOST_OK(a, nvmf_host_set_features(a->h, NVME_FEAT_NUM_QUEUES, 0x00010001,
                                      &cqe));
    g_assert_cmphex(cqe.status, ==, 0);

    io = io_connect(t->port, a, 1, dc->hd, dc->dd);
    fill_random(wbuf, 512 * 1024);
    /* in-capsule write, R2T write, then a large read */
    HOST_OK(io, nvmf_host_rw(io->h, true, 1, 0, 8, wbuf, 4096, &cqe));
    g_assert_cmphex(cqe.status, ==, 0);
    HOST_OK(io, nvmf_host_rw(io->h, true, 1, 8, 1016, wbuf + 4096,
                             512 * 1024 - 4096, &cqe));
    g_assert_cmphex(cqe.status, ==, 0);
    HOST_OK(io, nvmf_host_rw(io->h, false, 1, 0, 1024, rbuf, 512 * 1024,
                             &cqe));
    g_assert_cmphex(cqe.status, ==, 0);
    g_assert_cmpmem(rbuf, 512 * 1024, wbuf, 512 * 1024);

    /* past the end of the namespace */
    HOST_OK(io, nvmf_host_rw(io->h, false, 1, DISK_SIZE / 512 - 4, 8, rbuf,
                             4096, &cqe));
    g_assert_cmphex(cqe.status, ==, NVME_SC_LBA_RANGE | NVME_STATUS_DNR);

    conn_close(io);
    conn_close(a);
    target_stop(t);
}

static void test_several_queues(void)
{
    /* two I/O queues with several commands in flight on each */
    Target *t = target_start(NULL);
    Conn *a = admin_connect(t->port, SUBNQN, HOSTNQN, false, false, 30000);
    Conn *q[2];
    g_autofree uint8_t *wbuf = g_malloc(2 * 8 * 65536);
    g_autofree uint8_t *rbuf = g_malloc0(2 * 8 * 65536);
    int cids[8];
    NvmfCqe cqe;

    HOST_OK(a, nvmf_host_set_features(a->h, NVME_FEAT_NUM_QUEUES, 0x00010001,
                                      &cqe));
    q[0] = io_connect(t->port, a, 1, false, false);
    q[1] = io_connect(t->port, a, 2, true, true);
    fill_random(wbuf, 2 * 8 * 65536);
    for (int n = 0; n < 2; n++) {
        for (int i = 0; i < 8; i++) {
            uint8_t sqe[64];
            size_t off = (n * 8 + i) * 65536;

            nvmf_sqe_init(sqe, NVME_CMD_WRITE, 1);
            nvmet_st32(sqe + NVME_SQE_CDW10, off / 512);
            nvmet_st32(sqe + NVME_SQE_CDW12, 65536 / 512 - 1);
            cids[i] = nvmf_host_send_cmd(q[n]->h, sqe, wbuf + off, 65536,
                                         NULL, 0);
            g_assert_cmpint(cids[i], >, 0);
        }
        for (int i = 0; i < 8; i++) {
            HOST_OK(q[n], nvmf_host_wait(q[n]->h, cids[i], &cqe));
            g_assert_cmphex(cqe.status, ==, 0);
        }
    }
    for (int n = 0; n < 2; n++) {
        for (int i = 0; i < 8; i++) {
            uint8_t sqe[64];
            size_t off = (n * 8 + i) * 65536;

            nvmf_sqe_init(sqe, NVME_CMD_READ, 1);
            nvmet_st32(sqe + NVME_SQE_CDW10, off / 512);
            nvmet_st32(sqe + NVME_SQE_CDW12, 65536 / 512 - 1);
            /* read through the other queue */
            cids[i] = nvmf_host_send_cmd(q[1 - n]->h, sqe, NULL, 0,
                                         rbuf + off, 65536);
            g_assert_cmpint(cids[i], >, 0);
        }
        for (int i = 0; i < 8; i++) {
            HOST_OK(q[1 - n], nvmf_host_wait(q[1 - n]->h, cids[i], &cqe));
            g_assert_cmphex(cqe.status, ==, 0);
        }
    }
    g_assert_cmpmem(rbuf, 2 * 8 * 65536, wbuf, 2 * 8 * 65536);
    conn_close(q[0]);
    conn_close(q[1]);
    conn_close(a);
    target_stop(t);
}

static void test_discovery(void)
{
    Target *t = target_start(NULL);
    Conn *d = admin_connect(t->port, DISCNQN, HOSTNQN, false, false, 0);
    g_autofree uint8_t *log = g_malloc0(3072);
    g_autofree char *svc = g_strdup_printf("%-32d", t->port);
    NvmfCqe cqe;
    const uint8_t *e = NULL;

    HOST_OK(d, nvmf_host_get_log(d->h, NVME_LOG_DISC, 0, 0, log, 3072, &cqe));
    g_assert_cmphex(cqe.status, ==, 0);
    g_assert_cmpuint(nvmet_ld64(log + 8), ==, 2);         /* numrec */
    for (int i = 0; i < 2; i++) {
        const uint8_t *x = log + 1024 + i * 1024;

        if (!strcmp((const char *)x + 256, SUBNQN)) {
            e = x;
        }
    }
    g_assert_nonnull(e);
    g_assert_cmpint(e[0], ==, NVMF_TRTYPE_TCP);
    g_assert_cmpint(e[1], ==, NVMF_ADRFAM_IPV4);
    g_assert_cmpint(e[2], ==, NVME_NQN_NVME);
    g_assert_cmpmem(e + 32, 32, svc, 32);
    g_assert_cmpmem(e + 512, 9, "127.0.0.1", 9);
    conn_close(d);
    target_stop(t);
}

/* Send bytes on a fresh connection and expect C2HTermReq + close. */
static void expect_termreq(int port, bool hd, const uint8_t *pdu, size_t len,
                           uint16_t fes)
{
    Conn *c = conn_open(port);
    g_auto(NvmfPdu) rsp = { 0 };
    g_auto(NvmfPdu) more = { 0 };

    HOST_OK(c, nvmf_host_icreq(c->h, hd, false, 0));
    HOST_OK(c, nvmf_host_send_raw(c->h, pdu, len));
    HOST_OK(c, nvmf_host_recv_pdu(c->h, &rsp));
    g_assert_cmpint(rsp.type, ==, NVME_TCP_PDU_C2H_TERM);
    g_assert_cmphex(nvmet_ld16(rsp.hdr + NVME_TCP_TERM_FES), ==, fes);
    /* then the target closes the connection */
    g_assert_cmpint(nvmf_host_recv_pdu(c->h, &more), ==, -1);
    g_assert_true(nvmf_host_eof(c->h));
    conn_close(c);
}

static void test_malformed(void)
{
    Target *t = target_start(NULL);
    Conn *a = admin_connect(t->port, SUBNQN, HOSTNQN, false, false, 30000);
    Conn *io;
    uint8_t pdu[128], data[4096];
    g_autofree uint8_t *big = NULL;
    NvmfCqe cqe;

    HOST_OK(a, nvmf_host_set_features(a->h, NVME_FEAT_NUM_QUEUES, 0, &cqe));
    io = io_connect(t->port, a, 1, false, false);

    /* bad header length */
    memset(pdu, 0, sizeof(pdu));
    pdu[0] = NVME_TCP_PDU_CMD;
    pdu[2] = 24;
    nvmet_st32(pdu + 4, 72);
    expect_termreq(t->port, false, pdu, 72, NVME_TCP_FES_INVALID_HEADER);

    /* unknown PDU type */
    memset(pdu, 0, sizeof(pdu));
    pdu[0] = 0x0b;
    pdu[2] = 24;
    nvmet_st32(pdu + 4, 24);
    expect_termreq(t->port, false, pdu, 24, NVME_TCP_FES_INVALID_HEADER);

    /* bad header digest */
    memset(pdu, 0, sizeof(pdu));
    pdu[0] = NVME_TCP_PDU_CMD;
    pdu[1] = NVME_TCP_F_HDGST;
    pdu[2] = 72;
    nvmet_st32(pdu + 4, 76);
    pdu[8] = NVME_ADM_KEEP_ALIVE;
    nvmet_st32(pdu + 72, nvmf_crc32c_digest(pdu, 72) ^ 1);
    expect_termreq(t->port, true, pdu, 76, NVME_TCP_FES_HDR_DIGEST_ERR);

    /* H2CData beyond MAXH2CDATA (4 MiB) */
    big = g_malloc0(24 + 0x400000 + 512);
    big[0] = NVME_TCP_PDU_H2C_DATA;
    big[2] = 24;
    big[3] = 24;
    nvmet_st32(big + 4, 24 + 0x400000 + 512);
    nvmet_st32(big + 16, 0x400000 + 512);
    expect_termreq(t->port, false, big, 24, NVME_TCP_FES_R2T_LIMIT);

    /* the healthy connection kept working through all of that */
    fill_random(data, sizeof(data));
    HOST_OK(io, nvmf_host_rw(io->h, true, 1, 100, 8, data, 4096, &cqe));
    g_assert_cmphex(cqe.status, ==, 0);
    memset(pdu, 0, 64);
    {
        uint8_t back[4096];

        HOST_OK(io, nvmf_host_rw(io->h, false, 1, 100, 8, back, 4096, &cqe));
        g_assert_cmphex(cqe.status, ==, 0);
        g_assert_cmpmem(back, 4096, data, 4096);
    }
    conn_close(io);
    conn_close(a);
    target_stop(t);
}

static void test_keep_alive_timeout(void)
{
    Target *t = target_start(NULL);
    Conn *a = admin_connect(t->port, SUBNQN, HOSTNQN, false, false, 1000);
    g_auto(NvmfPdu) pdu = { 0 };
    gint64 start = g_get_monotonic_time();

    /* a silent host: the target tears the controller down after KATO */
    g_assert_cmpint(nvmf_host_recv_pdu(a->h, &pdu), ==, -1);
    g_assert_true(nvmf_host_eof(a->h));
    g_assert_cmpint(g_get_monotonic_time() - start, >=, 900 * 1000);
    g_assert_cmpint(g_get_monotonic_time() - start, <, 10 * 1000 * 1000);
    conn_close(a);
    target_stop(t);
}

static void test_namespace_hotplug_aen(void)
{
    Target *t = target_start(
        "-blockdev driver=null-co,size=8388608,node-name=null1 ");
    Conn *a = admin_connect(t->port, SUBNQN, HOSTNQN, false, false, 30000);
    uint8_t sqe[64];
    uint8_t list[4096];
    NvmfCqe cqe;
    int cid;

    HOST_OK(a, nvmf_host_set_features(a->h, NVME_FEAT_ASYNC_EVENT, 1u << 8,
                                      &cqe));
    g_assert_cmphex(cqe.status, ==, 0);
    nvmf_sqe_init(sqe, NVME_ADM_ASYNC_EVENT, 0);
    cid = nvmf_host_send_cmd(a->h, sqe, NULL, 0, NULL, 0);
    g_assert_cmpint(cid, >, 0);

    qtest_qmp_assert_success(t->qts, "{ 'execute': 'object-add', 'arguments': "
                             "{ 'qom-type': 'nvmet-namespace', 'id': 'ns2', "
                             "'subsystem': 'sub0', 'nsid': 2, "
                             "'node-name': 'null1' } }");
    HOST_OK(a, nvmf_host_wait(a->h, cid, &cqe));
    g_assert_cmphex(cqe.status, ==, 0);
    g_assert_cmphex(cqe.dw0, ==, 0x00040002);
    HOST_OK(a, nvmf_host_get_log(a->h, NVME_LOG_CHANGED_NS, 0xffffffff, 0,
                                 list, sizeof(list), &cqe));
    g_assert_cmphex(cqe.status, ==, 0);
    g_assert_cmpuint(nvmet_ld32(list), ==, 2);
    g_assert_cmpuint(nvmet_ld32(list + 4), ==, 0);
    HOST_OK(a, nvmf_host_identify(a->h, NVME_ID_CNS_NS_ACTIVE_LIST, 0, 0, list,
                                  &cqe));
    g_assert_cmpuint(nvmet_ld32(list), ==, 1);
    g_assert_cmpuint(nvmet_ld32(list + 4), ==, 2);

    /* and removal */
    nvmf_sqe_init(sqe, NVME_ADM_ASYNC_EVENT, 0);
    cid = nvmf_host_send_cmd(a->h, sqe, NULL, 0, NULL, 0);
    qtest_qmp_assert_success(t->qts, "{ 'execute': 'object-del', 'arguments': "
                             "{ 'id': 'ns2' } }");
    HOST_OK(a, nvmf_host_wait(a->h, cid, &cqe));
    g_assert_cmphex(cqe.dw0, ==, 0x00040002);
    HOST_OK(a, nvmf_host_identify(a->h, NVME_ID_CNS_NS_ACTIVE_LIST, 0, 0, list,
                                  &cqe));
    g_assert_cmpuint(nvmet_ld32(list), ==, 1);
    g_assert_cmpuint(nvmet_ld32(list + 4), ==, 0);

    /* growing the block node is a namespace change too */
    HOST_OK(a, nvmf_host_get_log(a->h, NVME_LOG_CHANGED_NS, 0xffffffff, 0,
                                 list, sizeof(list), &cqe));
    nvmf_sqe_init(sqe, NVME_ADM_ASYNC_EVENT, 0);
    cid = nvmf_host_send_cmd(a->h, sqe, NULL, 0, NULL, 0);
    qtest_qmp_assert_success(t->qts, "{ 'execute': 'block_resize', "
                             "'arguments': { 'node-name': 'disk0', "
                             "'size': %d } }", 2 * DISK_SIZE);
    HOST_OK(a, nvmf_host_wait(a->h, cid, &cqe));
    g_assert_cmphex(cqe.dw0, ==, 0x00040002);
    HOST_OK(a, nvmf_host_identify(a->h, NVME_ID_CNS_NS, 1, 0, list, &cqe));
    g_assert_cmpuint(nvmet_ld64(list), ==, 2 * DISK_SIZE / 512);
    conn_close(a);
    target_stop(t);
}

static void test_host_acl(void)
{
    Target *t = target_start(
        "-object nvmet-subsystem,id=sub1,nqn=nqn.2026-11.org.qemu:acl,"
        "ports=port0 "
        "-blockdev driver=null-co,size=1048576,node-name=null2 "
        "-object nvmet-namespace,id=ns9,subsystem=sub1,nsid=1,node-name=null2 "
        "-object nvmet-host,id=h1,nqn=" HOSTNQN ",subsystems=sub1 ");
    Conn *c = conn_open(t->port);
    NvmfCqe cqe;

    /* a host that is not listed is refused with INVALID_HOST */
    HOST_OK(c, nvmf_host_icreq(c->h, false, false, 0));
    HOST_OK(c, nvmf_host_connect(c->h, 0, 31, 0xffff, "nqn.2026-11.org.qemu:acl",
                                 HOSTNQN2, hostid, 0, 0, &cqe));
    g_assert_cmphex(cqe.status, ==,
                    NVME_SC_CONNECT_INVALID_HOST | NVME_STATUS_DNR);
    conn_close(c);
    /* the listed one gets in */
    c = admin_connect(t->port, "nqn.2026-11.org.qemu:acl", HOSTNQN, false,
                      false, 0);
    /* removing the host object disconnects it */
    qtest_qmp_assert_success(t->qts, "{ 'execute': 'object-del', 'arguments': "
                             "{ 'id': 'h1' } }");
    {
        g_auto(NvmfPdu) pdu = { 0 };

        g_assert_cmpint(nvmf_host_recv_pdu(c->h, &pdu), ==, -1);
        g_assert_true(nvmf_host_eof(c->h));
    }
    conn_close(c);
    target_stop(t);
}

/* ---- DH-HMAC-CHAP -------------------------------------------------------- */

#define AUTHNQN "nqn.2026-11.org.qemu:qtest-auth"

static const uint8_t key_a[48] = {
    0x51, 0x0f, 0x2c, 0x9d, 0x73, 0xe8, 0x04, 0xb6, 0x3a, 0x91, 0xcf, 0x27,
    0x6e, 0xd0, 0x15, 0x8b, 0xf2, 0x49, 0xa3, 0x1c, 0x7d, 0x60, 0xbe, 0x05,
    0x98, 0x3f, 0xe1, 0x24, 0x5a, 0xc7, 0x0b, 0x86, 0x11, 0xd9, 0x4e, 0x72,
    0xa8, 0x36, 0xfb, 0x0d, 0x64, 0x9c, 0x23, 0xe7, 0x5f, 0x80, 0xb1, 0x4a,
};
static const uint8_t key_b[32] = {
    0xc4, 0x1e, 0x87, 0x3b, 0x60, 0xf9, 0x2d, 0xa5, 0x0e, 0x73, 0xd8, 0x46,
    0xbb, 0x12, 0x9f, 0x61, 0x2a, 0xe4, 0x57, 0x08, 0xcd, 0x39, 0x84, 0xf0,
    0x6b, 0x15, 0xa2, 0xde, 0x47, 0x93, 0x0c, 0x78,
};
static const uint8_t key_c[64] = {
    0x07, 0x8e, 0x19, 0xf4, 0x62, 0xad, 0x35, 0xc0, 0x5b, 0xe6, 0x21, 0x9a,
    0x7c, 0x03, 0xd5, 0x48, 0xb9, 0x6f, 0x12, 0xe3, 0x84, 0x2b, 0xf7, 0x50,
    0xca, 0x1d, 0x96, 0x3e, 0x65, 0xa0, 0x0f, 0xdb, 0x2e, 0x73, 0xc8, 0x19,
    0xb4, 0x4d, 0xe0, 0x87, 0x36, 0xfa, 0x51, 0x0c, 0x9b, 0x68, 0x25, 0xd1,
    0x7a, 0x43, 0xee, 0x90, 0x1b, 0xc6, 0x5d, 0x04, 0xa9, 0x32, 0xf5, 0x8e,
    0x67, 0x2c, 0xb3, 0x40,
};

typedef struct AuthCase {
    const char *hash, *group;   /* the only ones the host object allows */
    uint8_t hid, gid;           /* their NVMe identifiers */
    uint8_t transform;          /* of the keys */
    bool bidi;
} AuthCase;

typedef struct AuthTarget {
    Target *t;
    char *hkey, *ckey;          /* DHHC-1 strings */
} AuthTarget;

/*
 * A target whose subsystem AUTHNQN admits only HOSTNQN, with the host key
 * from a secret file and the controller key from secret data.
 */
static AuthTarget *auth_target_start(const AuthCase *ac, const char *sub_props,
                                     const char *extra)
{
    AuthTarget *at = g_new0(AuthTarget, 1);
    g_autofree char *args = NULL, *allowed = NULL;
    const char *keyfile;

    at->t = target_new();
    at->hkey = nvmf_dhchap_key_encode(key_a, sizeof(key_a), ac->transform);
    at->ckey = ac->bidi ? nvmf_dhchap_key_encode(key_b, sizeof(key_b),
                                                 ac->transform) : NULL;
    keyfile = target_file(at->t, "nvmet-tcp-test-key-XXXXXX", at->hkey);
    if (ac->hash) {
        allowed = g_strdup_printf(",dhchap-hashes=%s,dhchap-dhgroups=%s",
                                  ac->hash, ac->group);
    }
    args = g_strdup_printf(
        "-object nvmet-subsystem,id=asub,nqn=" AUTHNQN ",ports=port0%s "
        "-object nvmet-namespace,id=ans1,subsystem=asub,nsid=1,"
        "node-name=disk0 "
        "-object secret,id=hkey,file=%s "
        "%s%s%s "
        "-object nvmet-host,id=ahost,nqn=" HOSTNQN ",subsystems=asub,"
        "dhchap-secret=hkey%s%s %s",
        sub_props ? sub_props : "", keyfile,
        at->ckey ? "-object secret,id=ckey,data=" : "",
        at->ckey ? at->ckey : "", at->ckey ? " " : "",
        at->ckey ? ",dhchap-ctrl-secret=ckey" : "",
        allowed ? allowed : "", extra ? extra : "");
    target_run(at->t, args);
    return at;
}

static void auth_target_stop(AuthTarget *at)
{
    target_stop(at->t);
    g_free(at->hkey);
    g_free(at->ckey);
    g_free(at);
}

static void auth_params(NvmfAuthParams *p, const char *hkey, const char *ckey,
                        uint16_t tid)
{
    static const uint8_t hashes[] = { 1, 2, 3 };
    static const uint8_t groups[] = { 0, 1, 2, 3, 4, 5 };

    memset(p, 0, sizeof(*p));
    p->hostnqn = HOSTNQN;
    p->subnqn = AUTHNQN;
    p->host_secret = hkey;
    p->ctrl_secret = ckey;
    memcpy(p->hashes, hashes, sizeof(hashes));
    p->nhashes = sizeof(hashes);
    memcpy(p->groups, groups, sizeof(groups));
    p->ngroups = sizeof(groups);
    p->tid = tid;
}

/* ICReq + Connect on @qid; returns the connection, Connect's DW0 in @dw0 */
static Conn *auth_connect(int port, uint16_t qid, uint16_t cntlid,
                          uint32_t *dw0)
{
    Conn *c = conn_open(port);
    NvmfCqe cqe;

    HOST_OK(c, nvmf_host_icreq(c->h, false, false, 0));
    HOST_OK(c, nvmf_host_connect(c->h, qid, 31, cntlid, AUTHNQN, HOSTNQN,
                                 hostid, qid ? 0 : 30000, 0, &cqe));
    g_assert_cmphex(cqe.status, ==, 0);
    c->cntlid = qid ? cntlid : (cqe.dw0 & 0xffff);
    *dw0 = cqe.dw0;
    nvmf_host_set_incapsule(c->h, 16384);
    return c;
}

static void auth_must_pass(Conn *c, NvmfAuthParams *p, NvmfAuthResult *r)
{
    HOST_OK(c, nvmf_host_authenticate(c->h, p, r));
    if (!r->authenticated) {
        g_error("authentication failed: %s (status 0x%x, reason 0x%x)",
                r->error, r->status, r->failure);
    }
}

static uint8_t auth_must_fail(Conn *c, NvmfAuthParams *p)
{
    NvmfAuthResult r;

    HOST_OK(c, nvmf_host_authenticate(c->h, p, &r));
    g_assert_false(r.authenticated);
    return r.failure;
}

static void rw_check(Conn *io, uint64_t lba, uint8_t fill)
{
    uint8_t wbuf[4096], rbuf[4096];
    NvmfCqe cqe;

    memset(wbuf, fill, sizeof(wbuf));
    wbuf[0] = lba;
    HOST_OK(io, nvmf_host_rw(io->h, true, 1, lba, 8, wbuf, sizeof(wbuf),
                             &cqe));
    g_assert_cmphex(cqe.status, ==, 0);
    HOST_OK(io, nvmf_host_rw(io->h, false, 1, lba, 8, rbuf, sizeof(rbuf),
                             &cqe));
    g_assert_cmphex(cqe.status, ==, 0);
    g_assert_cmpmem(wbuf, sizeof(wbuf), rbuf, sizeof(rbuf));
}

static void test_auth_exchange(const void *opaque)
{
    const AuthCase *ac = opaque;
    AuthTarget *at = auth_target_start(ac, NULL, NULL);
    NvmfAuthParams p;
    NvmfAuthResult r;
    Conn *a, *io;
    uint32_t dw0;
    NvmfCqe cqe;

    a = auth_connect(at->t->port, 0, 0xffff, &dw0);
    g_assert_true(dw0 & NVME_CONNECT_AUTHREQ_ATR);
    /* nothing but authentication first */
    HOST_OK(a, nvmf_host_prop_get(a->h, NVME_REG_CAP, true, NULL, &cqe));
    g_assert_cmphex(cqe.status, ==, NVME_SC_AUTH_REQUIRED | NVME_STATUS_DNR);

    auth_params(&p, at->hkey, at->ckey, 1);
    auth_must_pass(a, &p, &r);
    g_assert_cmpuint(r.hash, ==, ac->hid);
    g_assert_cmpuint(r.dhgid, ==, ac->gid);
    g_assert_cmpint(r.ctrl_verified, ==, ac->bidi);
    HOST_OK(a, nvmf_host_enable(a->h));
    HOST_OK(a, nvmf_host_set_features(a->h, NVME_FEAT_NUM_QUEUES, 0x00010001,
                                      &cqe));

    /* the I/O queue authenticates on its own */
    io = auth_connect(at->t->port, 1, a->cntlid, &dw0);
    g_assert_true(dw0 & NVME_CONNECT_AUTHREQ_ATR);
    {
        uint8_t buf[512] = { 0 };

        HOST_OK(io, nvmf_host_rw(io->h, false, 1, 0, 1, buf, 512, &cqe));
        g_assert_cmphex(cqe.status, ==,
                        NVME_SC_AUTH_REQUIRED | NVME_STATUS_DNR);
    }
    auth_params(&p, at->hkey, at->ckey, 2);
    auth_must_pass(io, &p, &r);
    rw_check(io, 64, 0xa5);
    conn_close(io);
    conn_close(a);
    auth_target_stop(at);
}

static void test_auth_reauth(void)
{
    static const AuthCase ac = { NULL, NULL, 0, 0, 1, true };
    AuthTarget *at = auth_target_start(&ac, NULL, NULL);
    NvmfAuthParams p;
    NvmfAuthResult r;
    Conn *a, *io;
    uint32_t dw0;
    NvmfCqe cqe;

    a = auth_connect(at->t->port, 0, 0xffff, &dw0);
    auth_params(&p, at->hkey, at->ckey, 1);
    auth_must_pass(a, &p, &r);
    HOST_OK(a, nvmf_host_enable(a->h));
    HOST_OK(a, nvmf_host_set_features(a->h, NVME_FEAT_NUM_QUEUES, 0x00010001,
                                      &cqe));
    io = auth_connect(at->t->port, 1, a->cntlid, &dw0);
    auth_params(&p, at->hkey, at->ckey, 1);
    auth_must_pass(io, &p, &r);

    /* re-authenticate both queues many times, with other groups too */
    for (int i = 0; i < 12; i++) {
        auth_params(&p, at->hkey, at->ckey, 100 + i);
        p.groups[0] = i % 6;
        p.ngroups = 1;
        auth_must_pass(a, &p, &r);
        g_assert_cmpuint(r.dhgid, ==, i % 6);
        auth_params(&p, at->hkey, at->ckey, 200 + i);
        auth_must_pass(io, &p, &r);
        rw_check(io, i * 8, i);
        HOST_OK(a, nvmf_host_prop_get(a->h, NVME_REG_CSTS, false, NULL, &cqe));
        g_assert_cmphex(cqe.status, ==, 0);
    }
    conn_close(io);
    conn_close(a);
    auth_target_stop(at);
}

static void test_auth_failures(void)
{
    static const AuthCase ac = { "sha384", "ffdhe2048", 2, 1, 0, true };
    AuthTarget *at = auth_target_start(&ac, NULL, NULL);
    g_autofree char *wrong = nvmf_dhchap_key_encode(key_c, 64, 0);
    NvmfAuthParams p;
    NvmfAuthResult r;
    Conn *good, *c;
    uint32_t dw0;
    NvmfCqe cqe;

    /* a good host, connected and authenticated, all along */
    good = auth_connect(at->t->port, 0, 0xffff, &dw0);
    auth_params(&p, at->hkey, at->ckey, 1);
    auth_must_pass(good, &p, &r);
    HOST_OK(good, nvmf_host_enable(good->h));

    c = auth_connect(at->t->port, 0, 0xffff, &dw0);
    /* wrong host key */
    auth_params(&p, wrong, at->ckey, 2);
    g_assert_cmphex(auth_must_fail(c, &p), ==, NVME_AUTH_FAIL_FAILED);
    /* hash and group the host object does not allow */
    auth_params(&p, at->hkey, at->ckey, 3);
    p.hashes[0] = 1;
    p.hashes[1] = 3;
    p.nhashes = 2;
    g_assert_cmphex(auth_must_fail(c, &p), ==, NVME_AUTH_FAIL_HASH_UNUSABLE);
    auth_params(&p, at->hkey, at->ckey, 4);
    p.groups[0] = 0;
    p.groups[1] = 5;
    p.ngroups = 2;
    g_assert_cmphex(auth_must_fail(c, &p), ==,
                    NVME_AUTH_FAIL_DHGROUP_UNUSABLE);
    /* wrong transaction ID in the reply */
    auth_params(&p, at->hkey, at->ckey, 5);
    p.reply_tid_delta = 3;
    g_assert_cmphex(auth_must_fail(c, &p), ==,
                    NVME_AUTH_FAIL_INCORRECT_PAYLOAD);
    /* the host reflects the controller's challenge */
    auth_params(&p, at->hkey, at->ckey, 6);
    p.reflect_c1 = true;
    g_assert_cmphex(auth_must_fail(c, &p), ==, NVME_AUTH_FAIL_FAILED);
    /* sequence number 0 with a challenge for the controller */
    auth_params(&p, at->hkey, at->ckey, 7);
    p.s2_zero = true;
    g_assert_cmphex(auth_must_fail(c, &p), ==,
                    NVME_AUTH_FAIL_INCORRECT_PAYLOAD);
    /* out of order: a Reply with no transaction open */
    {
        uint8_t msg[16 + 48 * 2] = { 0x01, 0x02 }, buf[64];

        msg[4] = 9;
        msg[6] = 48;
        HOST_OK(c, nvmf_host_auth_send(c->h, msg, sizeof(msg), &cqe));
        HOST_OK(c, nvmf_host_auth_recv(c->h, buf, sizeof(buf), &cqe));
        g_assert_cmphex(buf[1], ==, 0xf1);              /* FAILURE1 */
        g_assert_cmphex(buf[7], ==, NVME_AUTH_FAIL_INCORRECT_MESSAGE);
    }
    /* the same connection still authenticates with the right key */
    auth_params(&p, at->hkey, at->ckey, 8);
    auth_must_pass(c, &p, &r);
    conn_close(c);

    /* a host that is not configured for the subsystem never gets in */
    c = conn_open(at->t->port);
    HOST_OK(c, nvmf_host_icreq(c->h, false, false, 0));
    HOST_OK(c, nvmf_host_connect(c->h, 0, 31, 0xffff, AUTHNQN, HOSTNQN2,
                                 hostid, 0, 0, &cqe));
    g_assert_cmphex(cqe.status, ==,
                    NVME_SC_CONNECT_INVALID_HOST | NVME_STATUS_DNR);
    conn_close(c);

    /* the good host was not disturbed */
    HOST_OK(good, nvmf_host_prop_get(good->h, NVME_REG_CSTS, false, NULL,
                                     &cqe));
    g_assert_cmphex(cqe.status, ==, 0);
    g_assert_cmphex(cqe.dw0 & 1, ==, 1);
    conn_close(good);
    auth_target_stop(at);
}

static void test_auth_qmp_rotation(void)
{
    static const AuthCase ac = { NULL, NULL, 0, 0, 2, true };
    AuthTarget *at = auth_target_start(&ac, NULL, NULL);
    g_autofree char *hkey2 = nvmf_dhchap_key_encode(key_c, 64, 3);
    g_autofree char *ckey2 = nvmf_dhchap_key_encode(key_a, 48, 3);
    g_autofree char *badcrc = g_strdup(hkey2);
    NvmfAuthParams p;
    NvmfAuthResult r;
    QDict *rsp;
    Conn *a, *c;
    uint32_t dw0;

    a = auth_connect(at->t->port, 0, 0xffff, &dw0);
    auth_params(&p, at->hkey, at->ckey, 1);
    auth_must_pass(a, &p, &r);
    HOST_OK(a, nvmf_host_enable(a->h));

    /* the properties name the secret objects, never the keys */
    rsp = qtest_qmp(at->t->qts, "{ 'execute': 'qom-get', 'arguments': "
                    "{ 'path': '/objects/ahost', "
                    "'property': 'dhchap-secret' } }");
    g_assert_cmpstr(qdict_get_str(rsp, "return"), ==, "hkey");
    qobject_unref(rsp);

    qtest_qmp_assert_success(at->t->qts,
        "{ 'execute': 'object-add', 'arguments': { 'qom-type': 'secret', "
        "'id': 'hkey2', 'data': %s } }", hkey2);
    qtest_qmp_assert_success(at->t->qts,
        "{ 'execute': 'object-add', 'arguments': { 'qom-type': 'secret', "
        "'id': 'ckey2', 'data': %s } }", ckey2);
    /* refused changes leave the keys alone */
    rsp = qtest_qmp(at->t->qts,
                    "{ 'execute': 'nvmet-host-set-dhchap-secrets', "
                    "'arguments': { 'id': 'nope', 'dhchap-secret': 'hkey2' } }");
    g_assert_nonnull(strstr(qdict_get_str(qdict_get_qdict(rsp, "error"),
                                          "desc"), "no object with id 'nope'"));
    qobject_unref(rsp);
    rsp = qtest_qmp(at->t->qts,
                    "{ 'execute': 'nvmet-host-set-dhchap-secrets', "
                    "'arguments': { 'id': 'asub', 'dhchap-secret': 'hkey2' } }");
    g_assert_nonnull(strstr(qdict_get_str(qdict_get_qdict(rsp, "error"),
                                          "desc"), "not an nvmet-host"));
    qobject_unref(rsp);
    badcrc[20] = badcrc[20] == 'A' ? 'B' : 'A';
    qtest_qmp_assert_success(at->t->qts,
        "{ 'execute': 'object-add', 'arguments': { 'qom-type': 'secret', "
        "'id': 'bad', 'data': %s } }", badcrc);
    rsp = qtest_qmp(at->t->qts, "{ 'execute': 'nvmet-host-set-dhchap-secrets',"
                    " 'arguments': { 'id': 'ahost', 'dhchap-secret': 'bad' } }");
    g_assert_nonnull(strstr(qdict_get_str(qdict_get_qdict(rsp, "error"),
                                          "desc"), "CRC"));
    qobject_unref(rsp);
    auth_params(&p, at->hkey, at->ckey, 2);
    auth_must_pass(a, &p, &r);

    /* rotate: the next exchange needs the new keys */
    qtest_qmp_assert_success(at->t->qts,
        "{ 'execute': 'nvmet-host-set-dhchap-secrets', 'arguments': "
        "{ 'id': 'ahost', 'dhchap-secret': 'hkey2', "
        "'dhchap-ctrl-secret': 'ckey2' } }");
    /* the authenticated queue keeps working */
    {
        NvmfCqe cqe;

        HOST_OK(a, nvmf_host_prop_get(a->h, NVME_REG_CSTS, false, NULL, &cqe));
        g_assert_cmphex(cqe.status, ==, 0);
    }
    auth_params(&p, at->hkey, at->ckey, 3);
    g_assert_cmphex(auth_must_fail(a, &p), ==, NVME_AUTH_FAIL_FAILED);
    auth_params(&p, hkey2, ckey2, 4);
    auth_must_pass(a, &p, &r);
    g_assert_true(r.ctrl_verified);
    /* a new connection too */
    c = auth_connect(at->t->port, 0, 0xffff, &dw0);
    auth_params(&p, hkey2, at->ckey, 5);
    HOST_OK(c, nvmf_host_authenticate(c->h, &p, &r));
    g_assert_false(r.authenticated);
    g_assert_true(r.ctrl_mismatch);         /* the old controller key */
    auth_params(&p, hkey2, ckey2, 6);
    auth_must_pass(c, &p, &r);
    g_assert_true(r.ctrl_verified);
    conn_close(c);

    /* dropping the keys: the host no longer has to authenticate */
    qtest_qmp_assert_success(at->t->qts,
        "{ 'execute': 'nvmet-host-set-dhchap-secrets', 'arguments': "
        "{ 'id': 'ahost' } }");
    c = auth_connect(at->t->port, 0, 0xffff, &dw0);
    g_assert_false(dw0 & NVME_CONNECT_AUTHREQ_ATR);
    conn_close(c);
    conn_close(a);
    auth_target_stop(at);
}

/*
 * Refused early: on a queue that must authenticate a Write gets its
 * refusal, not an R2T; and a host whose dhchap-timeout-ms is short loses
 * its unauthenticated queue after that long, while an authenticated one
 * (even with a stalled re-authentication) stays.
 */
static void test_auth_refuse_early(void)
{
    Target *t = target_new();
    g_autofree char *hkey = nvmf_dhchap_key_encode(key_a, sizeof(key_a), 1);
    const char *keyfile = target_file(t, "nvmet-tcp-test-key-XXXXXX", hkey);
    g_autofree char *args = g_strdup_printf(
        "-object secret,id=hkey,file=%s "
        "-object nvmet-subsystem,id=asub,nqn=" AUTHNQN ",ports=port0 "
        "-object nvmet-namespace,id=ans1,subsystem=asub,nsid=1,"
        "node-name=disk0 "
        "-object nvmet-host,id=ahost,nqn=" HOSTNQN ",subsystems=asub,"
        "dhchap-secret=hkey,dhchap-timeout-ms=800", keyfile);
    g_autofree uint8_t *data = g_malloc0(65536);
    g_auto(NvmfPdu) pdu = { 0 };
    NvmfAuthParams p;
    NvmfAuthResult r;
    uint8_t sqe[64], msg[72] = { 0 }, buf[4096];
    Conn *a, *io;
    uint32_t dw0;
    NvmfCqe cqe;
    gint64 start;
    QDict *rsp;
    int cid;

    target_run(t, args);
    rsp = qtest_qmp(t->qts, "{ 'execute': 'qom-get', 'arguments': "
                    "{ 'path': '/objects/ahost', "
                    "'property': 'dhchap-timeout-ms' } }");
    g_assert_cmpint(qdict_get_int(rsp, "return"), ==, 800);
    qobject_unref(rsp);

    a = auth_connect(t->port, 0, 0xffff, &dw0);
    auth_params(&p, hkey, NULL, 1);
    auth_must_pass(a, &p, &r);
    HOST_OK(a, nvmf_host_enable(a->h));
    HOST_OK(a, nvmf_host_set_features(a->h, NVME_FEAT_NUM_QUEUES, 0x00010001,
                                      &cqe));
    io = auth_connect(t->port, 1, a->cntlid, &dw0);
    start = g_get_monotonic_time();
    g_assert_true(dw0 & NVME_CONNECT_AUTHREQ_ATR);

    /* a 64 KiB Write whose data would come by R2T: refused at once */
    nvmf_host_set_incapsule(io->h, 0);
    nvmf_sqe_init(sqe, NVME_CMD_WRITE, 1);
    nvmet_st32(sqe + NVME_SQE_CDW12, 65536 / 512 - 1);
    cid = nvmf_host_send_cmd(io->h, sqe, data, 65536, NULL, 0);
    g_assert_cmpint(cid, >, 0);
    HOST_OK(io, nvmf_host_recv_pdu(io->h, &pdu));
    g_assert_cmpint(pdu.type, ==, NVME_TCP_PDU_RSP);
    g_assert_cmpuint(nvmet_ld16(pdu.hdr + NVME_TCP_RSP_CQE + NVME_CQE_CID), ==,
                     cid);
    g_assert_cmphex(nvmet_ld16(pdu.hdr + NVME_TCP_RSP_CQE +
                               NVME_CQE_STATUS) >> 1, ==,
                    NVME_SC_AUTH_REQUIRED | NVME_STATUS_DNR);

    /* the queue does not authenticate: 800 ms after Connect it is gone */
    nvmf_pdu_clear(&pdu);
    g_assert_cmpint(nvmf_host_recv_pdu(io->h, &pdu), ==, -1);
    g_assert_true(nvmf_host_eof(io->h));
    g_assert_cmpint(g_get_monotonic_time() - start, >=, 700 * 1000);
    g_assert_cmpint(g_get_monotonic_time() - start, <, 10 * 1000 * 1000);
    conn_close(io);

    /* the authenticated admin queue stays, a stalled re-auth too */
    msg[4] = 7;                             /* T_ID */
    msg[7] = 1;
    msg[8] = 1;
    msg[10] = 1;
    msg[11] = 1;
    msg[12] = 1;                            /* SHA-256, null group */
    HOST_OK(a, nvmf_host_auth_send(a->h, msg, sizeof(msg), &cqe));
    g_assert_cmphex(cqe.status, ==, 0);
    HOST_OK(a, nvmf_host_auth_recv(a->h, buf, sizeof(buf), &cqe));
    g_assert_cmphex(buf[1], ==, 0x01);      /* the challenge */
    g_usleep(1200 * 1000);
    HOST_OK(a, nvmf_host_prop_get(a->h, NVME_REG_CSTS, false, NULL, &cqe));
    g_assert_cmphex(cqe.status, ==, 0);
    auth_params(&p, hkey, NULL, 8);
    auth_must_pass(a, &p, &r);

    /* the timeout can change at run time; 0 makes no sense */
    qtest_qmp_assert_success(t->qts, "{ 'execute': 'qom-set', 'arguments': "
                             "{ 'path': '/objects/ahost', "
                             "'property': 'dhchap-timeout-ms', "
                             "'value': 60000 } }");
    expect_qmp_error(qtest_qmp(t->qts, "{ 'execute': 'qom-set', "
                               "'arguments': { 'path': '/objects/ahost', "
                               "'property': 'dhchap-timeout-ms', "
                               "'value': 0 } }"), "must be at least 1");
    io = auth_connect(t->port, 1, a->cntlid, &dw0);
    g_usleep(1200 * 1000);
    auth_params(&p, hkey, NULL, 9);
    auth_must_pass(io, &p, &r);
    rw_check(io, 32, 0x5a);
    conn_close(io);
    conn_close(a);
    target_stop(t);
}

/*
 * The challenges two connections get for a fixed Negotiate from a target
 * started with @qemu_args and subsystem properties @sub_props.
 */
static void seeded_challenge(const char *qemu_args, const char *sub_props,
                             uint8_t *out, size_t len)
{
    static const AuthCase ac = { "sha512", "ffdhe3072", 3, 2, 1, false };
    AuthTarget *at = auth_target_start(&ac, sub_props, qemu_args);
    uint8_t msg[72] = { 0 }, buf[4096];
    uint32_t dw0;
    NvmfCqe cqe;
    Conn *c;

    for (int i = 0; i < 2; i++) {
        c = auth_connect(at->t->port, 0, 0xffff, &dw0);
        msg[4] = 5;                         /* T_ID */
        msg[7] = 1;                         /* one protocol descriptor */
        msg[8] = 1;                         /* DH-HMAC-CHAP */
        msg[10] = 1;
        msg[11] = 1;
        msg[12] = 3;                        /* SHA-512 */
        msg[42] = 2;                        /* ffdhe3072 */
        HOST_OK(c, nvmf_host_auth_send(c->h, msg, sizeof(msg), &cqe));
        g_assert_cmphex(cqe.status, ==, 0);
        HOST_OK(c, nvmf_host_auth_recv(c->h, buf, sizeof(buf), &cqe));
        g_assert_cmphex(cqe.status, ==, 0);
        g_assert_cmphex(buf[1], ==, 0x01);  /* DH-HMAC-CHAP_Challenge */
        memcpy(out + i * len / 2, buf, len / 2);
        conn_close(c);
    }
    auth_target_stop(at);
}

static void test_auth_determinism(void)
{
    size_t len = 2 * (16 + 64 + 384), half = len / 2;
    g_autofree uint8_t *a = g_malloc(len), *b = g_malloc(len);
    g_autofree uint8_t *c = g_malloc(len), *d = g_malloc(len);

    /* QEMU's -seed: two runs, the same challenges, S1 and DH values */
    seeded_challenge("-seed 1234", NULL, a, len);
    seeded_challenge("-seed 1234", NULL, b, len);
    g_assert_cmpmem(a, len, b, len);
    /* the two connections of one run differ */
    g_assert_true(memcmp(a + 12, a + half + 12, half - 12) != 0);
    seeded_challenge("-seed 1235", NULL, c, len);
    g_assert_true(memcmp(a + 12, c + 12, half - 12) != 0);

    /* the subsystem's seed property, whatever -seed says */
    seeded_challenge("-seed 1", ",seed=77", a, len);
    seeded_challenge("-seed 2", ",seed=77", b, len);
    g_assert_cmpmem(a, len, b, len);
    seeded_challenge("", ",seed=78", c, len);
    g_assert_true(memcmp(a + 12, c + 12, half - 12) != 0);

    /* without a seed: random */
    seeded_challenge("", NULL, c, len);
    seeded_challenge("", NULL, d, len);
    g_assert_true(memcmp(c + 12, d + 12, half - 12) != 0);
}

/* ---- TLS and secure channel concatenation -------------------------------- */

#define TLSNQN  "nqn.2026-11.org.qemu:qtest-tls"
#define QUIRKNQN "nqn.2026-11.org.qemu:qtest-quirk"

static const char *tls_psk01 =
    "NVMeTLSkey-1:01:VRLbtnN9AQb2WXW3c9+wEf/DRLz0QuLdbYvEhwtdWwNf9LrZ:";

typedef struct TlsTarget {
    Target *t;
    QTestState *qts;
    const char *keylog;
    int port, rport;            /* tls=allowed, tls=required */
    char *hkey, *ckey;
} TlsTarget;

static TlsTarget *tls_target_start(void)
{
    TlsTarget *tt = g_new0(TlsTarget, 1);
    Target *t = tt->t = target_new();
    const char *pskfile = target_file(t, "nvmet-tcp-test-psk-XXXXXX",
                                      tls_psk01);

    tt->keylog = target_path(t, g_strdup_printf("%s.keylog", t->disk));
    tt->hkey = nvmf_dhchap_key_encode(key_a, 48, 2);
    tt->ckey = nvmf_dhchap_key_encode(key_b, 32, 1);
    target_launch(t,
        "-blockdev driver=file,filename=%s,node-name=disk0 "
        "-blockdev driver=null-co,size=1048576,node-name=null0 "
        "-object secret,id=psk,file=%s "
        "-object secret,id=hk,data=%s -object secret,id=ck,data=%s "
        "-object nvmet-port,id=port0,trsvcid=0,tls=allowed,tls-keylog=%s "
        "-object nvmet-port,id=port1,trsvcid=0,tls=required "
        "-object nvmet-subsystem,id=sub0,nqn=" TLSNQN ",ports=port0,"
        "ports=port1 "
        "-object nvmet-subsystem,id=sub1,nqn=" QUIRKNQN ",ports=port0,"
        "quirk-free-tls-key=on "
        "-object nvmet-namespace,id=ns1,subsystem=sub0,nsid=1,node-name=disk0 "
        "-object nvmet-namespace,id=ns2,subsystem=sub1,nsid=1,node-name=null0 "
        "-object nvmet-host,id=h1,nqn=" HOSTNQN ",subsystems=sub0,"
        "subsystems=sub1,tls-psk=psk,dhchap-secret=hk,dhchap-ctrl-secret=ck",
        t->disk, pskfile, tt->hkey, tt->ckey, tt->keylog);
    tt->qts = t->qts;
    tt->port = t->port;
    tt->rport = qom_port(t->qts, "/objects/port1");
    return tt;
}

static void tls_target_stop(TlsTarget *tt)
{
    target_stop(tt->t);
    g_free(tt->hkey);
    g_free(tt->ckey);
    g_free(tt);
}

static Conn *tls_conn(int port, const char *identity, const uint8_t *key,
                      uint8_t hash)
{
    Conn *c = conn_open(port);

    if (conn_start_tls(c, identity, key, hash == 2 ? 48 : 32, hash) < 0) {
        g_error("TLS handshake with '%s': %s", identity,
                nvmf_tls_error(c->tls));
    }
    return c;
}

static uint32_t tls_connect(Conn *c, const char *subnqn, uint16_t qid,
                            uint16_t cntlid)
{
    NvmfCqe cqe;

    HOST_OK(c, nvmf_host_icreq(c->h, false, false, 0));
    HOST_OK(c, nvmf_host_connect(c->h, qid, 31, cntlid, subnqn, HOSTNQN,
                                 hostid, 0, 0, &cqe));
    g_assert_cmphex(cqe.status, ==, 0);
    c->cntlid = qid ? cntlid : (cqe.dw0 & 0xffff);
    return cqe.dw0;
}

static void test_tls_configured(void)
{
    TlsTarget *tt = tls_target_start();
    g_autofree char *identity = NULL, *log = NULL;
    uint8_t key[48], hash;
    Conn *a, *io, *c;
    NvmfCqe cqe;

    identity = nvmf_tls_configured(tls_psk01, 1, HOSTNQN, TLSNQN, key, &hash);
    g_assert_nonnull(identity);
    a = tls_conn(tt->port, identity, key, hash);
    g_assert_cmphex(tls_connect(a, TLSNQN, 0, 0xffff) &
                    NVME_CONNECT_AUTHREQ_ATR, ==, 0);
    HOST_OK(a, nvmf_host_enable(a->h));
    HOST_OK(a, nvmf_host_set_features(a->h, NVME_FEAT_NUM_QUEUES, 0x00010001,
                                      &cqe));
    io = tls_conn(tt->port, identity, key, hash);
    tls_connect(io, TLSNQN, 1, a->cntlid);
    nvmf_host_set_incapsule(io->h, 16384);
    rw_check(io, 8, 0x3c);
    conn_close(io);
    conn_close(a);

    /* identity version 0 on the TLS-required port */
    g_free(identity);
    identity = nvmf_tls_configured(tls_psk01, 0, HOSTNQN, TLSNQN, key, &hash);
    c = tls_conn(tt->rport, identity, key, hash);
    tls_connect(c, TLSNQN, 0, 0xffff);
    HOST_OK(c, nvmf_host_enable(c->h));
    conn_close(c);
    /* cleartext is refused there */
    c = conn_open(tt->rport);
    g_assert_cmpint(nvmf_host_icreq(c->h, false, false, 0), ==, -1);
    conn_close(c);

    /* the key log has this session's secrets */
    g_assert_true(g_file_get_contents(tt->keylog, &log, NULL, NULL) ||
                  !"no key log");
    g_assert_nonnull(strstr(log, "CLIENT_HANDSHAKE_TRAFFIC_SECRET "));
    g_assert_nonnull(strstr(log, "SERVER_TRAFFIC_SECRET_0 "));
    {
        struct stat st;

        /* session keys: only the owner may read them */
        g_assert_cmpint(stat(tt->keylog, &st), ==, 0);
        g_assert_cmpint(st.st_mode & 0777, ==, 0600);
    }

    /*
     * QMP: a new configured PSK.  New connections need it (the v1 identity
     * of the old one is refused), an established session goes on.
     */
    g_free(identity);
    identity = nvmf_tls_configured(tls_psk01, 1, HOSTNQN, TLSNQN, key, &hash);
    a = tls_conn(tt->port, identity, key, hash);
    tls_connect(a, TLSNQN, 0, 0xffff);
    HOST_OK(a, nvmf_host_enable(a->h));
    {
        static const char *psk2 =
            "NVMeTLSkey-1:01:P9ST8Fo6s2glEK9OUpB9bYwnt4M8UOQnOocs2ZWRhLTioFTv:";
        g_autofree char *id2 = NULL;
        uint8_t key2[48], hash2;
        QDict *rsp;
        uint64_t csts;
        NvmfCqe pc;

        rsp = qtest_qmp(tt->qts, "{ 'execute': 'object-add', 'arguments': "
                        "{ 'qom-type': 'secret', 'id': 'psk2', 'data': %s } }",
                        psk2);
        g_assert_false(qdict_haskey(rsp, "error"));
        qobject_unref(rsp);
        rsp = qtest_qmp(tt->qts, "{ 'execute': 'nvmet-host-set-tls-psk', "
                        "'arguments': { 'id': 'h1', 'tls-psk': 'psk2' } }");
        g_assert_false(qdict_haskey(rsp, "error"));
        qobject_unref(rsp);
        /* a secret that is not a PSK is refused and changes nothing */
        rsp = qtest_qmp(tt->qts, "{ 'execute': 'nvmet-host-set-tls-psk', "
                        "'arguments': { 'id': 'h1', 'tls-psk': 'hk' } }");
        g_assert_true(qdict_haskey(rsp, "error"));
        qobject_unref(rsp);

        c = conn_open(tt->port);
        g_assert_cmpint(conn_start_tls(c, identity, key, hash == 2 ? 48 : 32,
                                       hash), ==, -1);
        g_assert_cmpint(nvmf_tls_alert(c->tls), ==,
                        GNUTLS_A_UNKNOWN_PSK_IDENTITY);
        conn_close(c);
        id2 = nvmf_tls_configured(psk2, 1, HOSTNQN, TLSNQN, key2, &hash2);
        g_assert_cmpstr(id2, !=, identity);
        c = tls_conn(tt->port, id2, key2, hash2);
        tls_connect(c, TLSNQN, 0, 0xffff);
        conn_close(c);
        /* the session made with the old PSK still works */
        HOST_OK(a, nvmf_host_prop_get(a->h, NVME_REG_CSTS, false, &csts,
                                      &pc));
        g_assert_cmphex(csts & 1, ==, 1);
        conn_close(a);
    }
    tls_target_stop(tt);
}

/*
 * A refused TLS handshake ends with the fatal alert RFC 8446 asks for,
 * and so does a record that does not decrypt; the target says which in
 * its trace.
 */
static void test_tls_alerts(void)
{
    TlsTarget *tt = tls_target_start();
    g_autofree char *identity = NULL, *other = NULL;
    uint8_t key[48], okey[48], hash;
    g_auto(NvmfPdu) pdu = { 0 };
    uint8_t rec[5 + 48];
    Conn *c;

    identity = nvmf_tls_configured(tls_psk01, 1, HOSTNQN, TLSNQN, key, &hash);
    /* a host without a PSK: no such identity */
    other = nvmf_tls_configured(tls_psk01, 1, HOSTNQN2, TLSNQN, okey, &hash);
    c = conn_open(tt->rport);
    g_assert_cmpint(conn_start_tls(c, other, okey, 32, hash), ==, -1);
    g_assert_cmpint(nvmf_tls_alert(c->tls), ==, GNUTLS_A_UNKNOWN_PSK_IDENTITY);
    conn_close(c);
    /* the right identity with the wrong key: the binder does not verify */
    key[3] ^= 0x40;
    c = conn_open(tt->rport);
    g_assert_cmpint(conn_start_tls(c, identity, key, 32, hash), ==, -1);
    g_assert_cmpint(nvmf_tls_alert(c->tls), ==, GNUTLS_A_DECRYPT_ERROR);
    conn_close(c);
    key[3] ^= 0x40;
    /* established, then a record that does not decrypt */
    c = tls_conn(tt->rport, identity, key, hash);
    tls_connect(c, TLSNQN, 0, 0xffff);
    rec[0] = 0x17;
    rec[1] = 0x03;
    rec[2] = 0x03;
    rec[3] = 0;
    rec[4] = 48;
    fill_random(rec + 5, 48);
    g_assert_cmpint(sock_send(c, rec, sizeof(rec)), ==, 0);
    g_assert_cmpint(nvmf_host_recv_pdu(c->h, &pdu), ==, -1);
    g_assert_cmpint(nvmf_tls_alert(c->tls), ==, GNUTLS_A_BAD_RECORD_MAC);
    conn_close(c);
    /* the good identity still works */
    c = tls_conn(tt->rport, identity, key, hash);
    tls_connect(c, TLSNQN, 0, 0xffff);
    HOST_OK(c, nvmf_host_enable(c->h));
    conn_close(c);
    tls_target_stop(tt);
}

/* A transport that keeps what is sent and has nothing to receive */
static int capture_send(void *opaque, const void *buf, size_t len)
{
    g_byte_array_append(opaque, buf, len);
    return 0;
}

static ssize_t capture_recv(void *opaque, void *buf, size_t len)
{
    return -1;
}

/* Read from @c until the target closes it; false if it does not in 10 s */
static bool conn_wait_eof(Conn *c)
{
    struct timeval tv = { .tv_sec = 10 };
    uint8_t buf[4096];
    ssize_t n;

    setsockopt(c->fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    do {
        n = recv(c->fd, buf, sizeof(buf), 0);
    } while (n > 0 || (n < 0 && errno == EINTR));
    return n == 0 || errno == ECONNRESET;
}

/*
 * A port deleted while its connections still send TLS records: one with
 * an established session, one in the middle of its ClientHello.  Their
 * bytes arrive before, with or after the object-del; the target drops
 * them, closes both connections and goes on (it used to dereference the
 * removed port).
 */
static void test_tls_port_removed(void)
{
    Target *t = target_new();
    const char *pskfile = target_file(t, "nvmet-tcp-test-psk-XXXXXX",
                                      tls_psk01);
    g_autofree char *identity = NULL;
    uint8_t key[48], hash;
    Conn *a;

    target_launch(t,
        "-object secret,id=psk,file=%s "
        "-object nvmet-port,id=port0,traddr=127.0.0.1,trsvcid=0 "
        "-object nvmet-subsystem,id=sub0,nqn=" SUBNQN ",ports=port0,"
        "allow-any-host=on", pskfile);
    identity = nvmf_tls_configured(tls_psk01, 1, HOSTNQN, TLSNQN, key, &hash);
    g_assert_nonnull(identity);

    for (int round = 0; round < 6; round++) {
        g_autoptr(GByteArray) hello = g_byte_array_new();
        NvmfTransport cap = { capture_send, capture_recv, hello };
        struct sockaddr_in sa = { .sin_family = AF_INET };
        NvmfTls *client;
        Conn *e, *p;
        uint8_t sqe[64];
        QDict *rsp;
        int port, fd;

        qtest_qmp_assert_success(t->qts, "{ 'execute': 'object-add', "
            "'arguments': { 'qom-type': 'nvmet-port', 'id': 'tp', "
            "'traddr': '127.0.0.1', 'trsvcid': '0', 'tls': 'required' } }");
        qtest_qmp_assert_success(t->qts, "{ 'execute': 'object-add', "
            "'arguments': { 'qom-type': 'nvmet-subsystem', 'id': 'tsub', "
            "'nqn': %s, 'ports': [ 'tp' ] } }", TLSNQN);
        qtest_qmp_assert_success(t->qts, "{ 'execute': 'object-add', "
            "'arguments': { 'qom-type': 'nvmet-host', 'id': 'th', "
            "'nqn': %s, 'subsystems': [ 'tsub' ], 'tls-psk': 'psk' } }",
            HOSTNQN);
        port = qom_port(t->qts, "/objects/tp");

        /* established: the session carries ICReq and ICResp */
        e = tls_conn(port, identity, key, hash);
        HOST_OK(e, nvmf_host_icreq(e->h, false, false, 0));
        /* a ClientHello, as bytes; its first 10 sent */
        client = nvmf_tls_new(&cap, identity, key, hash == 2 ? 48 : 32, hash);
        g_assert_cmpint(nvmf_tls_handshake(client), ==, -1);
        nvmf_tls_free(client);
        g_assert_cmpuint(hello->len, >, 100);
        p = conn_open(port);
        g_assert_cmpint(sock_send(p, hello->data, 10), ==, 0);

        /* neither connection is a controller: they outlive these */
        qtest_qmp_assert_success(t->qts, "{ 'execute': 'object-del', "
                                 "'arguments': { 'id': 'th' } }");
        qtest_qmp_assert_success(t->qts, "{ 'execute': 'object-del', "
                                 "'arguments': { 'id': 'tsub' } }");

        nvmf_sqe_init(sqe, NVME_ADM_ASYNC_EVENT, 0);
        switch (round % 3) {
        case 0:         /* the records first, then the object-del */
            sock_send(p, hello->data + 10, hello->len - 10);
            nvmf_host_send_cmd(e->h, sqe, NULL, 0, NULL, 0);
            qtest_qmp_assert_success(t->qts, "{ 'execute': 'object-del', "
                                     "'arguments': { 'id': 'tp' } }");
            break;
        case 1:         /* together */
            qtest_qmp_send(t->qts, "{ 'execute': 'object-del', "
                           "'arguments': { 'id': 'tp' } }");
            sock_send(p, hello->data + 10, hello->len - 10);
            nvmf_host_send_cmd(e->h, sqe, NULL, 0, NULL, 0);
            rsp = qtest_qmp_receive(t->qts);
            g_assert_false(qdict_haskey(rsp, "error"));
            qobject_unref(rsp);
            break;
        default:        /* after */
            qtest_qmp_assert_success(t->qts, "{ 'execute': 'object-del', "
                                     "'arguments': { 'id': 'tp' } }");
            sock_send(p, hello->data + 10, hello->len - 10);
            nvmf_host_send_cmd(e->h, sqe, NULL, 0, NULL, 0);
            break;
        }
        /* both are closed, nothing listens there any more */
        g_assert_true(conn_wait_eof(e));
        g_assert_true(conn_wait_eof(p));
        conn_close(e);
        conn_close(p);
        fd = socket(AF_INET, SOCK_STREAM, 0);
        sa.sin_port = htons(port);
        sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        g_assert_cmpint(connect(fd, (struct sockaddr *)&sa, sizeof(sa)), ==,
                        -1);
        close(fd);
        /* QEMU is alive and answers */
        qtest_qmp_assert_success(t->qts, "{ 'execute': 'query-status' }");
    }
    /* and the target serves its other port */
    a = admin_connect(t->port, SUBNQN, HOSTNQN, false, false, 0);
    HOST_OK(a, nvmf_host_enable(a->h));
    conn_close(a);
    target_stop(t);
}

/* DH-HMAC-CHAP with SC_C on @c; the generated PSK's identity and key */
static char *tls_concat_auth(Conn *c, const char *hkey, const char *ckey,
                             const char *subnqn, uint8_t sc_c, uint16_t tid,
                             uint8_t *key, uint8_t *hash)
{
    NvmfAuthParams p;
    NvmfAuthResult r;

    auth_params(&p, hkey, ckey, tid);
    p.subnqn = subnqn;
    p.sc_c = sc_c;
    HOST_OK(c, nvmf_host_authenticate(c->h, &p, &r));
    if (!r.authenticated) {
        return NULL;
    }
    *hash = r.hash;
    return nvmf_tls_generated(r.hash, r.psk, r.psk_len, HOSTNQN, subnqn, key);
}

static void test_tls_concat(void)
{
    TlsTarget *tt = tls_target_start();
    g_autofree char *identity = NULL;
    uint8_t key[48], hash;
    Conn *c, *a, *io;
    NvmfCqe cqe;

    /* NEWTLSPSK on a cleartext admin queue */
    c = conn_open(tt->port);
    g_assert_true(tls_connect(c, TLSNQN, 0, 0xffff) &
                  NVME_CONNECT_AUTHREQ_ATR);
    identity = tls_concat_auth(c, tt->hkey, tt->ckey, TLSNQN,
                               NVME_AUTH_SECP_NEWTLSPSK, 1, key, &hash);
    g_assert_nonnull(identity);
    conn_close(c);

    /* back over TLS with the generated PSK */
    a = tls_conn(tt->port, identity, key, hash);
    tls_connect(a, TLSNQN, 0, 0xffff);
    HOST_OK(a, nvmf_host_enable(a->h));
    HOST_OK(a, nvmf_host_set_features(a->h, NVME_FEAT_NUM_QUEUES, 0x00010001,
                                      &cqe));
    io = tls_conn(tt->port, identity, key, hash);
    tls_connect(io, TLSNQN, 1, a->cntlid);
    nvmf_host_set_incapsule(io->h, 16384);
    rw_check(io, 0, 0x77);

    /* REPLACETLSPSK 100 times; each new PSK works, the old one does not */
    for (int i = 0; i < 100; i++) {
        g_autofree char *old = g_steal_pointer(&identity);
        uint8_t oldkey[48];
        Conn *n;

        memcpy(oldkey, key, sizeof(key));
        identity = tls_concat_auth(a, tt->hkey, tt->ckey, TLSNQN,
                                   NVME_AUTH_SECP_REPLACETLSPSK, 10 + i, key,
                                   &hash);
        g_assert_nonnull(identity);
        g_assert_cmpstr(identity, !=, old);
        n = conn_open(tt->port);
        g_assert_cmpint(conn_start_tls(n, old, oldkey, hash == 2 ? 48 : 32,
                                       hash), ==, -1);
        /* the replaced PSK no longer exists */
        g_assert_cmpint(nvmf_tls_alert(n->tls), ==,
                        GNUTLS_A_UNKNOWN_PSK_IDENTITY);
        conn_close(n);
        n = tls_conn(tt->port, identity, key, hash);
        tls_connect(n, TLSNQN, 0, 0xffff);
        conn_close(n);
        rw_check(io, 8 + i, i);
    }
    conn_close(io);
    conn_close(a);

    /* the quirk: the second REPLACETLSPSK on a queue fails */
    c = conn_open(tt->port);
    tls_connect(c, QUIRKNQN, 0, 0xffff);
    g_free(identity);
    identity = tls_concat_auth(c, tt->hkey, tt->ckey, QUIRKNQN,
                               NVME_AUTH_SECP_NEWTLSPSK, 1, key, &hash);
    g_assert_nonnull(identity);
    conn_close(c);
    a = tls_conn(tt->port, identity, key, hash);
    tls_connect(a, QUIRKNQN, 0, 0xffff);
    g_free(identity);
    identity = tls_concat_auth(a, tt->hkey, tt->ckey, QUIRKNQN,
                               NVME_AUTH_SECP_REPLACETLSPSK, 2, key, &hash);
    g_assert_nonnull(identity);
    {
        NvmfAuthParams p;
        NvmfAuthResult r;

        auth_params(&p, tt->hkey, tt->ckey, 3);
        p.subnqn = QUIRKNQN;
        p.sc_c = NVME_AUTH_SECP_REPLACETLSPSK;
        HOST_OK(a, nvmf_host_authenticate(a->h, &p, &r));
        g_assert_false(r.authenticated);
        g_assert_cmphex(r.failure, ==, NVME_AUTH_FAIL_CONCAT_MISMATCH);
    }
    conn_close(a);
    tls_target_stop(tt);
}

/*
 * SHA-384 PSKs (TLS_AES_256_GCM_SHA384): a configured "02" PSK with
 * identity versions 1 and 0, and concatenation with DH-HMAC-CHAP SHA-384
 * (the only hash this host may use) so that the generated PSK and every
 * replacement are SHA-384 ones.  Needs GnuTLS >= 3.8.11 in QEMU and here.
 */
static const char *tls_psk02 =
    "NVMeTLSkey-1:02:3P3dHY2XwpvkSkxo+wqmwYUT3ndZD7cpoKYSXkg3JlX5PjSmTYYhAT1B"
    "igTnmPrWI6luiQ==:";

static void test_tls_sha384(void)
{
    g_autofree char *hkey = NULL, *ckey = NULL;
    g_autofree char *identity = NULL, *desc = NULL;
    Target *t;
    uint8_t key[48], hash;
    int port;
    Conn *c, *a, *io;
    NvmfCqe cqe;
    NvmfAuthParams p;
    NvmfAuthResult r;

    if (gnutls_check_version("3.8.11") == NULL) {
        if (g_getenv("NVMET_REQUIRE_TLS_SHA384")) {
            g_test_message("NVMET_REQUIRE_TLS_SHA384 is set but GnuTLS %s "
                           "has no SHA-384 PSKs", gnutls_check_version(NULL));
            g_test_fail();
        } else {
            g_test_skip("GnuTLS < 3.8.11: no SHA-384 TLS PSKs");
        }
        return;
    }
    t = target_new();
    hkey = nvmf_dhchap_key_encode(key_a, 48, 2);
    ckey = nvmf_dhchap_key_encode(key_b, 32, 1);
    target_launch(t,
        "-blockdev driver=file,filename=%s,node-name=disk0 "
        "-object secret,id=psk,data=%s "
        "-object secret,id=hk,data=%s -object secret,id=ck,data=%s "
        "-object nvmet-port,id=port0,trsvcid=0,tls=required "
        "-object nvmet-subsystem,id=sub0,nqn=" TLSNQN ",ports=port0 "
        "-object nvmet-namespace,id=ns1,subsystem=sub0,nsid=1,node-name=disk0 "
        "-object nvmet-host,id=h1,nqn=" HOSTNQN ",subsystems=sub0,"
        "tls-psk=psk,dhchap-secret=hk,dhchap-ctrl-secret=ck,"
        "dhchap-hashes=sha384",
        t->disk, tls_psk02, hkey, ckey);
    port = t->port;

    /*
     * configured SHA-384 PSK, identity version 1 then 0; a queue that came
     * over TLS is not asked for DH-HMAC-CHAP
     */
    for (int v = 1; v >= 0; v--) {
        g_free(identity);
        identity = nvmf_tls_configured(tls_psk02, v, HOSTNQN, TLSNQN, key,
                                       &hash);
        g_assert_nonnull(identity);
        g_assert_cmpuint(hash, ==, 2);
        g_assert_true(g_str_has_prefix(identity, v ? "NVMe1R02 " :
                                       "NVMe0R02 "));
        a = tls_conn(port, identity, key, hash);
        g_free(desc);
        desc = nvmf_tls_description(a->tls);
        g_assert_nonnull(strstr(desc, "AES-256-GCM"));
        g_assert_cmphex(tls_connect(a, TLSNQN, 0, 0xffff) &
                        NVME_CONNECT_AUTHREQ_ATR, ==, 0);
        HOST_OK(a, nvmf_host_enable(a->h));
        conn_close(a);
    }
    /* a SHA-256 handshake with the same secret bytes is refused */
    c = conn_open(port);
    g_assert_cmpint(conn_start_tls(c, identity, key, 32, 1), ==, -1);
    conn_close(c);

    /* concatenation needs a TLS port that lets cleartext in: none here */
    qtest_quit(t->qts);
    target_launch(t,
        "-blockdev driver=file,filename=%s,node-name=disk0 "
        "-object secret,id=hk,data=%s -object secret,id=ck,data=%s "
        "-object nvmet-port,id=port0,trsvcid=0,tls=allowed "
        "-object nvmet-subsystem,id=sub0,nqn=" TLSNQN ",ports=port0 "
        "-object nvmet-namespace,id=ns1,subsystem=sub0,nsid=1,node-name=disk0 "
        "-object nvmet-host,id=h1,nqn=" HOSTNQN ",subsystems=sub0,"
        "dhchap-secret=hk,dhchap-ctrl-secret=ck,dhchap-hashes=sha384",
        t->disk, hkey, ckey);
    port = t->port;
    c = conn_open(port);
    tls_connect(c, TLSNQN, 0, 0xffff);
    auth_params(&p, hkey, ckey, 1);
    p.subnqn = TLSNQN;
    p.sc_c = NVME_AUTH_SECP_NEWTLSPSK;
    HOST_OK(c, nvmf_host_authenticate(c->h, &p, &r));
    g_assert_true(r.authenticated);
    g_assert_cmpuint(r.hash, ==, 2);
    g_free(identity);
    identity = nvmf_tls_generated(r.hash, r.psk, r.psk_len, HOSTNQN, TLSNQN,
                                  key);
    g_assert_true(g_str_has_prefix(identity, "NVMe1G02 "));
    conn_close(c);
    a = tls_conn(port, identity, key, 2);
    tls_connect(a, TLSNQN, 0, 0xffff);
    HOST_OK(a, nvmf_host_enable(a->h));
    HOST_OK(a, nvmf_host_set_features(a->h, NVME_FEAT_NUM_QUEUES, 0x00010001,
                                      &cqe));
    io = tls_conn(port, identity, key, 2);
    tls_connect(io, TLSNQN, 1, a->cntlid);
    rw_check(io, 0, 0x38);
    for (int i = 0; i < 5; i++) {
        Conn *n;

        auth_params(&p, hkey, ckey, 10 + i);
        p.subnqn = TLSNQN;
        p.sc_c = NVME_AUTH_SECP_REPLACETLSPSK;
        HOST_OK(a, nvmf_host_authenticate(a->h, &p, &r));
        g_assert_true(r.authenticated);
        g_assert_cmpuint(r.hash, ==, 2);
        g_free(identity);
        identity = nvmf_tls_generated(r.hash, r.psk, r.psk_len, HOSTNQN,
                                      TLSNQN, key);
        n = tls_conn(port, identity, key, 2);
        g_free(desc);
        desc = nvmf_tls_description(n->tls);
        g_assert_nonnull(strstr(desc, "AES-256-GCM"));
        tls_connect(n, TLSNQN, 0, 0xffff);
        conn_close(n);
        rw_check(io, 8 + i, 0x40 + i);
    }
    conn_close(io);
    conn_close(a);
    target_stop(t);
}

static bool have_ipv6_loopback(void)
{
    struct sockaddr_in6 sa6 = { .sin6_family = AF_INET6 };
    int fd = socket(AF_INET6, SOCK_STREAM, 0);
    bool ok;

    sa6.sin6_addr = in6addr_loopback;
    ok = fd >= 0 && bind(fd, (struct sockaddr *)&sa6, sizeof(sa6)) == 0;
    if (fd >= 0) {
        close(fd);
    }
    return ok;
}

static void test_ipv6(void)
{
    g_autofree uint8_t *log = g_malloc0(2048);
    Target *t;
    Conn *c;
    NvmfCqe cqe;

    if (!have_ipv6_loopback()) {
        g_test_skip("no IPv6 loopback");
        return;
    }
    t = target_new();
    target_launch(t, "-blockdev driver=file,filename=%s,node-name=disk0 "
                  "-object nvmet-port,id=port0,traddr=::1,trsvcid=0 "
                  "-object nvmet-subsystem,id=sub0,nqn=" SUBNQN
                  ",ports=port0,allow-any-host=on "
                  "-object nvmet-namespace,id=ns1,subsystem=sub0,nsid=1,"
                  "node-name=disk0", t->disk);
    c = conn_open_af(AF_INET6, t->port);
    HOST_OK(c, nvmf_host_icreq(c->h, false, false, 0));
    HOST_OK(c, nvmf_host_connect(c->h, 0, 31, 0xffff, DISCNQN, HOSTNQN, hostid,
                                 0, 0, &cqe));
    g_assert_cmphex(cqe.status, ==, 0);
    HOST_OK(c, nvmf_host_enable(c->h));
    HOST_OK(c, nvmf_host_get_log(c->h, NVME_LOG_DISC, 0, 0, log, 2048, &cqe));
    g_assert_cmphex(cqe.status, ==, 0);
    /* the entry reports an IPv6 address family and the address */
    g_assert_cmpint(log[1024 + 1], ==, NVMF_ADRFAM_IPV6);
    g_assert_cmpmem(log + 1024 + 512, 4, "::1 ", 4);
    conn_close(c);
    target_stop(t);
}

/* ---- a port on a UNIX socket --------------------------------------------- */

/* TCP sockets of process @pid in LISTEN state, in its network namespace */
static int tcp_listeners_of(pid_t pid)
{
    g_autofree char *fddir = g_strdup_printf("/proc/%d/fd", (int)pid);
    g_autoptr(GHashTable) inodes = g_hash_table_new_full(g_str_hash,
                                                         g_str_equal,
                                                         g_free, NULL);
    const char *name;
    GDir *d = g_dir_open(fddir, 0, NULL);
    int n = 0;

    g_assert_nonnull(d);
    while ((name = g_dir_read_name(d))) {
        g_autofree char *link = g_build_filename(fddir, name, NULL);
        g_autofree char *target = g_file_read_link(link, NULL);

        if (target && g_str_has_prefix(target, "socket:[")) {
            g_hash_table_add(inodes, g_strndup(target + 8,
                                               strlen(target) - 9));
        }
    }
    g_dir_close(d);
    for (int v6 = 0; v6 < 2; v6++) {
        g_autofree char *path = g_strdup_printf("/proc/%d/net/tcp%s",
                                                (int)pid, v6 ? "6" : "");
        g_autofree char *text = NULL;
        g_auto(GStrv) lines = NULL;

        if (!g_file_get_contents(path, &text, NULL, NULL)) {
            continue;           /* no IPv6 */
        }
        lines = g_strsplit(text, "\n", -1);
        for (int i = 1; lines[i]; i++) {
            g_auto(GStrv) f = g_strsplit_set(g_strstrip(lines[i]), " ", -1);
            GPtrArray *w = g_ptr_array_new();
            int j;

            for (j = 0; f[j]; j++) {
                if (*f[j]) {
                    g_ptr_array_add(w, f[j]);
                }
            }
            /* sl local rem st ... uid timeout inode */
            if (w->len > 9 && !strcmp(g_ptr_array_index(w, 3), "0A") &&
                g_hash_table_contains(inodes, g_ptr_array_index(w, 9))) {
                n++;
            }
            g_ptr_array_free(w, true);
        }
    }
    return n;
}

/* A fresh directory for sockets; removed (when empty) by target_stop() */
static char *target_dir(Target *t)
{
    char *dir = g_dir_make_tmp("nvmet-tcp-test-XXXXXX", NULL);

    g_assert_nonnull(dir);
    g_ptr_array_add(t->files, dir);
    return dir;
}

static void test_unix_socket(void)
{
    Target *t = target_new();
    const char *dir = target_dir(t);
    g_autofree char *sock = g_build_filename(dir, "nvmet.sock", NULL);
    g_autofree char *sock2 = g_build_filename(dir, "second.sock", NULL);
    g_autofree char *stale = g_build_filename(dir, "stale.sock", NULL);
    g_autofree char *plain = g_build_filename(dir, "plain-file", NULL);
    g_autofree uint8_t *log = g_malloc0(2048);
    struct sockaddr_un un = { .sun_family = AF_UNIX };
    uint8_t wbuf[65536], rbuf[65536];
    struct stat st;
    QDict *rsp;
    Conn *a, *io, *d;
    NvmfCqe cqe;
    int fd;

    /* qemu-system's key=value -object cannot nest: JSON for the port */
    target_launch(t,
        "-blockdev driver=file,filename=%s,node-name=disk0 "
        "-object '{\"qom-type\": \"nvmet-port\", \"id\": \"port0\", "
        "\"addr\": {\"type\": \"unix\", \"path\": \"%s\"}, "
        "\"traddr\": \"10.0.2.100\", \"trsvcid\": \"4420\"}' "
        "-object nvmet-subsystem,id=sub0,nqn=" SUBNQN ",ports=port0,"
        "allow-any-host=on "
        "-object nvmet-namespace,id=ns1,subsystem=sub0,nsid=1,"
        "node-name=disk0", t->disk, sock);
    g_assert_cmpint(t->port, ==, 4420);     /* advertised, not listened on */

    /* owner-only, and QEMU has no TCP listener at all */
    g_assert_cmpint(lstat(sock, &st), ==, 0);
    g_assert_true(S_ISSOCK(st.st_mode));
    g_assert_cmpint(st.st_mode & 0777, ==, 0600);
    g_assert_cmpint(tcp_listeners_of(qtest_pid(t->qts)), ==, 0);
    rsp = qtest_qmp(t->qts, "{ 'execute': 'qom-get', 'arguments': "
                    "{ 'path': '/objects/port0', 'property': 'addr' } }");
    g_assert_cmpstr(qdict_get_str(qdict_get_qdict(rsp, "return"), "type"), ==,
                    "unix");
    g_assert_cmpstr(qdict_get_str(qdict_get_qdict(rsp, "return"), "path"), ==,
                    sock);
    qobject_unref(rsp);

    /* discovery reports the advertised address */
    d = conn_open_unix(sock);
    HOST_OK(d, nvmf_host_icreq(d->h, false, false, 0));
    HOST_OK(d, nvmf_host_connect(d->h, 0, 31, 0xffff, DISCNQN, HOSTNQN, hostid,
                                 0, 0, &cqe));
    g_assert_cmphex(cqe.status, ==, 0);
    HOST_OK(d, nvmf_host_enable(d->h));
    HOST_OK(d, nvmf_host_get_log(d->h, NVME_LOG_DISC, 0, 0, log, 2048, &cqe));
    g_assert_cmphex(cqe.status, ==, 0);
    g_assert_cmpint(log[1024 + 1], ==, NVMF_ADRFAM_IPV4);
    g_assert_cmpmem(log + 1024 + 32, 5, "4420 ", 5);
    g_assert_cmpmem(log + 1024 + 512, 11, "10.0.2.100 ", 11);
    conn_close(d);

    /* admin and I/O queues, data both ways */
    a = conn_open_unix(sock);
    HOST_OK(a, nvmf_host_icreq(a->h, false, false, 0));
    HOST_OK(a, nvmf_host_connect(a->h, 0, 31, 0xffff, SUBNQN, HOSTNQN, hostid,
                                 30000, 0, &cqe));
    g_assert_cmphex(cqe.status, ==, 0);
    a->cntlid = cqe.dw0 & 0xffff;
    HOST_OK(a, nvmf_host_enable(a->h));
    HOST_OK(a, nvmf_host_set_features(a->h, NVME_FEAT_NUM_QUEUES, 0, &cqe));
    io = conn_open_unix(sock);
    HOST_OK(io, nvmf_host_icreq(io->h, true, true, 0));
    HOST_OK(io, nvmf_host_connect(io->h, 1, 127, a->cntlid, SUBNQN, HOSTNQN,
                                  hostid, 0, 0, &cqe));
    g_assert_cmphex(cqe.status, ==, 0);
    fill_random(wbuf, sizeof(wbuf));
    HOST_OK(io, nvmf_host_rw(io->h, true, 1, 64, 128, wbuf, sizeof(wbuf),
                             &cqe));
    g_assert_cmphex(cqe.status, ==, 0);
    HOST_OK(io, nvmf_host_rw(io->h, false, 1, 64, 128, rbuf, sizeof(rbuf),
                             &cqe));
    g_assert_cmphex(cqe.status, ==, 0);
    g_assert_cmpmem(rbuf, sizeof(rbuf), wbuf, sizeof(wbuf));
    conn_close(io);
    conn_close(a);

    /*
     * object-add and object-del: the socket comes and goes with the
     * port; a stale socket is replaced, a live one or a file is not
     */
    strcpy(un.sun_path, stale);
    fd = socket(AF_UNIX, SOCK_STREAM, 0);
    g_assert_cmpint(bind(fd, (struct sockaddr *)&un, sizeof(un)), ==, 0);
    close(fd);                              /* nobody listens there now */
    g_assert_true(g_file_set_contents(plain, "data", 4, NULL));
    qtest_qmp_assert_success(t->qts, "{ 'execute': 'object-add', "
        "'arguments': { 'qom-type': 'nvmet-port', 'id': 'port1', "
        "'addr': { 'type': 'unix', 'path': %s }, "
        "'traddr': '10.0.2.100', 'trsvcid': '4421' } }", sock2);
    g_assert_cmpint(lstat(sock2, &st), ==, 0);
    g_assert_cmpint(st.st_mode & 0777, ==, 0600);
    qtest_qmp_assert_success(t->qts, "{ 'execute': 'object-del', "
                             "'arguments': { 'id': 'port1' } }");
    g_assert_cmpint(lstat(sock2, &st), ==, -1);
    g_assert_cmpint(errno, ==, ENOENT);
    qtest_qmp_assert_success(t->qts, "{ 'execute': 'object-add', "
        "'arguments': { 'qom-type': 'nvmet-port', 'id': 'port2', "
        "'addr': { 'type': 'unix', 'path': %s }, "
        "'traddr': '10.0.2.100', 'trsvcid': '4422' } }", stale);
    g_assert_cmpint(lstat(stale, &st), ==, 0);
    g_assert_cmpint(st.st_mode & 0777, ==, 0600);
    expect_qmp_error(qtest_qmp(t->qts, "{ 'execute': 'object-add', "
        "'arguments': { 'qom-type': 'nvmet-port', 'id': 'bad0', "
        "'addr': { 'type': 'unix', 'path': %s }, "
        "'traddr': '10.0.2.100', 'trsvcid': '4423' } }", sock),
        "is in use by another process");
    expect_qmp_error(qtest_qmp(t->qts, "{ 'execute': 'object-add', "
        "'arguments': { 'qom-type': 'nvmet-port', 'id': 'bad1', "
        "'addr': { 'type': 'unix', 'path': %s }, "
        "'traddr': '10.0.2.100', 'trsvcid': '4423' } }", plain),
        "exists and is not a socket");
    expect_qmp_error(qtest_qmp(t->qts, "{ 'execute': 'object-add', "
        "'arguments': { 'qom-type': 'nvmet-port', 'id': 'bad2', "
        "'addr': { 'type': 'unix', 'path': %s } } }", sock2),
        "it needs traddr and trsvcid");
    expect_qmp_error(qtest_qmp(t->qts, "{ 'execute': 'object-add', "
        "'arguments': { 'qom-type': 'nvmet-port', 'id': 'bad3', "
        "'addr': { 'type': 'unix', 'path': 'nvmet', 'abstract': true }, "
        "'traddr': '10.0.2.100', 'trsvcid': '4423' } }"),
        "abstract UNIX sockets have no access control");
    expect_qmp_error(qtest_qmp(t->qts, "{ 'execute': 'object-add', "
        "'arguments': { 'qom-type': 'nvmet-port', 'id': 'bad4', "
        "'addr': { 'type': 'unix', 'path': %s }, "
        "'traddr': 'guest.example', 'trsvcid': '4423' } }", sock2),
        "is not an IPv4 or IPv6 address");
    g_assert_cmpint(lstat(sock2, &st), ==, -1);
    /* the file and the live socket are still there */
    g_assert_cmpint(lstat(plain, &st), ==, 0);
    g_assert_true(S_ISREG(st.st_mode));
    g_assert_cmpint(lstat(sock, &st), ==, 0);
    a = conn_open_unix(sock);
    HOST_OK(a, nvmf_host_icreq(a->h, false, false, 0));
    conn_close(a);

    /* QEMU's exit removes the sockets of its ports */
    qtest_quit(t->qts);
    t->qts = NULL;
    g_assert_cmpint(lstat(sock, &st), ==, -1);
    g_assert_cmpint(lstat(stale, &st), ==, -1);
    unlink(plain);
    target_stop(t);
}

/* ---- bad command lines --------------------------------------------------- */

static void expect_startup_error(const char *args, const char *msg)
{
    const char *qemu = g_getenv("QTEST_QEMU_BINARY");
    g_autofree char *cmd = g_strdup_printf("%s -M none -nodefaults "
                                           "-display none %s", qemu, args);
    g_autofree char *out = NULL, *err = NULL;
    int status;

    g_assert_true(g_spawn_command_line_sync(cmd, &out, &err, &status, NULL));
    g_assert_false(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    if (!strstr(err, msg)) {
        g_error("expected '%s' in: %s", msg, err);
    }
}

static void test_bad_options(void)
{
    Target *img = target_new();     /* only an image for the QEMUs below */
    g_autofree char *bd = g_strdup_printf(
        "-blockdev driver=file,filename=%s,node-name=d0 ", img->disk);
    g_autofree char *a = NULL;
    g_autofree char *longnqn = g_strnfill(224, 'n');
    Target *t;

    /* any name goes, as in Linux nvmet, but not more than 223 bytes */
    a = g_strdup_printf("-object nvmet-port,id=p0,trsvcid=0 "
                        "-object nvmet-subsystem,id=s0,nqn=%s,ports=p0",
                        longnqn);
    expect_startup_error(a, "is longer than 223 bytes");
    g_free(a);
    expect_startup_error("-object nvmet-port,id=p0,trsvcid=0 "
                         "-object nvmet-subsystem,id=s0,"
                         "nqn=nqn.2026-11.org.qemu:x,ports=nope",
                         "no object with id 'nope'");
    a = g_strdup_printf("%s -object nvmet-port,id=p0,trsvcid=0 "
                        "-object nvmet-subsystem,id=s0,"
                        "nqn=nqn.2026-11.org.qemu:x,ports=p0 "
                        "-object nvmet-namespace,id=n1,subsystem=s0,nsid=1,"
                        "node-name=missing", bd);
    expect_startup_error(a, "nvmet-namespace 'n1': Cannot find device='' "
                         "nor node-name='missing'");
    g_free(a);
    a = g_strdup_printf("%s -object nvmet-port,id=p0,trsvcid=0 "
                        "-object nvmet-subsystem,id=s0,"
                        "nqn=nqn.2026-11.org.qemu:x,ports=p0 "
                        "-object nvmet-namespace,id=n1,subsystem=s0,nsid=1,"
                        "node-name=d0 "
                        "-object nvmet-namespace,id=n2,subsystem=s0,nsid=1,"
                        "node-name=d0", bd);
    expect_startup_error(a, "namespace ID 1 is already used");
    expect_startup_error("-object nvmet-port,id=p0,trsvcid=notaport",
                         "is not a TCP port number");
    expect_startup_error("-object nvmet-port,id=p0,traddr=192.0.2.1,trsvcid=0",
                         "cannot listen on 192.0.2.1");

    /* DH-HMAC-CHAP keys */
    expect_startup_error("-object nvmet-host,id=h0,nqn=" HOSTNQN ","
                         "dhchap-secret=nokey",
                         "dhchap-secret: No secret with id 'nokey'");
    expect_startup_error("-object secret,id=k0,data=DHHC-1:00:QUJDRA==: "
                         "-object nvmet-host,id=h0,nqn=" HOSTNQN ","
                         "dhchap-secret=k0", "32, 48 or 64 bytes");
    expect_startup_error("-object secret,id=k0,data=notakey "
                         "-object nvmet-host,id=h0,nqn=" HOSTNQN ","
                         "dhchap-secret=k0", "DHHC-1");
    expect_startup_error("-object secret,id=k0,data=x "
                         "-object nvmet-host,id=h0,nqn=" HOSTNQN ","
                         "dhchap-ctrl-secret=k0",
                         "dhchap-ctrl-secret needs dhchap-secret");
    expect_startup_error("-object nvmet-host,id=h0,nqn=" HOSTNQN ","
                         "dhchap-hashes=md5", "md5");

    /* port in use: a second QEMU on the first one's port */
    t = target_start(NULL);
    g_free(a);
    a = g_strdup_printf("-object nvmet-port,id=p0,trsvcid=%d", t->port);
    expect_startup_error(a, "Address already in use");
    target_stop(t);
    target_stop(img);
}

/* ---- qemu-storage-daemon ------------------------------------------------- */

static int free_port(void)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in sa = { .sin_family = AF_INET };
    socklen_t l = sizeof(sa);
    int port;

    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    g_assert_cmpint(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), ==, 0);
    g_assert_cmpint(getsockname(fd, (struct sockaddr *)&sa, &l), ==, 0);
    port = ntohs(sa.sin_port);
    close(fd);
    return port;
}

/* an assertion failure must not leave the daemon running */
static void kill_daemon(void *data)
{
    kill(*(GPid *)data, SIGTERM);
}

static void test_storage_daemon(void)
{
    const char *qemu = g_getenv("QTEST_QEMU_BINARY");
    g_autofree char *dir = g_path_get_dirname(qemu);
    g_autofree char *qsd = g_build_filename(dir, "storage-daemon",
                                            "qemu-storage-daemon", NULL);
    const char *disk, *disk2, *pidfile;
    Target *t;
    int port, tport;
    GPid pid;
    Conn *a, *io;
    NvmfCqe cqe;
    uint8_t wbuf[8192], rbuf[8192];
    char *argv[48];
    int argc = 0;
    g_autofree char *bd = NULL, *obj = NULL, *bd2 = NULL, *tobj = NULL;
    g_autofree char *psk = NULL, *hk = NULL, *ck = NULL;
    g_autofree char *uobj = NULL, *usock = NULL;
    g_autofree char *hkey = nvmf_dhchap_key_encode(key_a, 48, 2);
    g_autofree char *ckey = nvmf_dhchap_key_encode(key_b, 32, 1);

    if (g_getenv("QTEST_QEMU_STORAGE_DAEMON_BINARY")) {
        g_free(qsd);
        qsd = g_strdup(g_getenv("QTEST_QEMU_STORAGE_DAEMON_BINARY"));
    }
    if (!g_file_test(qsd, G_FILE_TEST_IS_EXECUTABLE)) {
        g_test_skip("qemu-storage-daemon not built");
        return;
    }
    /* the daemon runs without qtest: the target has files but no QEMU */
    t = target_new();
    disk = t->disk;
    disk2 = target_file(t, "nvmet-tcp-test-XXXXXX.img", NULL);
    pidfile = target_path(t, g_strdup_printf("%s.pid", disk));
    /* pick free ports for the daemon */
    port = free_port();
    do {
        tport = free_port();
    } while (tport == port);
    bd = g_strdup_printf("driver=file,filename=%s,node-name=disk0", disk);
    obj = g_strdup_printf("nvmet-port,id=port0,trsvcid=%d", port);
    argv[argc++] = qsd;
    /*
     * and a TLS port with a host that has a configured PSK and DH-HMAC-CHAP
     * keys for secure channel concatenation
     */
    bd2 = g_strdup_printf("driver=file,filename=%s,node-name=disk1", disk2);
    tobj = g_strdup_printf("nvmet-port,id=port1,trsvcid=%d,tls=allowed",
                           tport);
    psk = g_strdup_printf("secret,id=psk,data=%s", tls_psk01);
    hk = g_strdup_printf("secret,id=hk,data=%s", hkey);
    ck = g_strdup_printf("secret,id=ck,data=%s", ckey);
    argv[argc++] = (char *)"--blockdev";
    argv[argc++] = bd2;
    argv[argc++] = (char *)"--object";
    argv[argc++] = psk;
    argv[argc++] = (char *)"--object";
    argv[argc++] = hk;
    argv[argc++] = (char *)"--object";
    argv[argc++] = ck;
    argv[argc++] = (char *)"--object";
    argv[argc++] = tobj;
    argv[argc++] = (char *)"--object";
    argv[argc++] = (char *)"nvmet-subsystem,id=sub1,nqn=" TLSNQN
                           ",ports.0=port1";
    argv[argc++] = (char *)"--object";
    argv[argc++] = (char *)"nvmet-namespace,id=ns2,subsystem=sub1,nsid=1,"
                           "node-name=disk1";
    argv[argc++] = (char *)"--object";
    argv[argc++] = (char *)"nvmet-host,id=h1,nqn=" HOSTNQN ",subsystems.0=sub1,"
                           "tls-psk=psk,dhchap-secret=hk,dhchap-ctrl-secret=ck";
    argv[argc++] = (char *)"--blockdev";
    argv[argc++] = bd;
    argv[argc++] = (char *)"--object";
    argv[argc++] = obj;
    argv[argc++] = (char *)"--object";
    /* qemu-storage-daemon parses --object with keyval: lists are dotted */
    argv[argc++] = (char *)"nvmet-subsystem,id=sub0,nqn=" SUBNQN
                           ",ports.0=port0,allow-any-host=on";
    argv[argc++] = (char *)"--object";
    argv[argc++] = (char *)"nvmet-namespace,id=ns1,subsystem=sub0,nsid=1,"
                           "node-name=disk0";
    /* keyval: the SocketAddress of a UNIX-socket port is dotted */
    usock = g_build_filename(target_dir(t), "qsd.sock", NULL);
    uobj = g_strdup_printf("nvmet-port,id=port2,addr.type=unix,"
                           "addr.path=%s,traddr=10.0.2.100,trsvcid=4420",
                           usock);
    argv[argc++] = (char *)"--object";
    argv[argc++] = uobj;
    argv[argc++] = (char *)"--object";
    argv[argc++] = (char *)"nvmet-subsystem,id=sub2,"
                           "nqn=nqn.2026-11.org.qemu:qsd-unix,"
                           "ports.0=port2,allow-any-host=on";
    argv[argc++] = (char *)"--pidfile";
    argv[argc++] = (char *)pidfile;
    if (g_getenv("NVMET_QSD_TRACE")) {
        argv[argc++] = (char *)"--trace";
        argv[argc++] = (char *)g_getenv("NVMET_QSD_TRACE");
    }
    argv[argc] = NULL;
    g_assert_true(g_spawn_async(NULL, argv, NULL, G_SPAWN_DO_NOT_REAP_CHILD,
                                NULL, NULL, &pid, NULL));
    qtest_add_abrt_handler(kill_daemon, &pid);
    for (int i = 0; i < 200 && !g_file_test(pidfile, G_FILE_TEST_EXISTS); i++) {
        g_usleep(50 * 1000);
    }
    g_assert_true(g_file_test(pidfile, G_FILE_TEST_EXISTS));

    /* the UNIX-socket port: owner-only, answers */
    {
        struct stat st;

        g_assert_cmpint(lstat(usock, &st), ==, 0);
        g_assert_cmpint(st.st_mode & 0777, ==, 0600);
        a = conn_open_unix(usock);
        HOST_OK(a, nvmf_host_icreq(a->h, false, false, 0));
        HOST_OK(a, nvmf_host_connect(a->h, 0, 31, 0xffff,
                                     "nqn.2026-11.org.qemu:qsd-unix", HOSTNQN,
                                     hostid, 0, 0, &cqe));
        g_assert_cmphex(cqe.status, ==, 0);
        conn_close(a);
    }

    a = admin_connect(port, SUBNQN, HOSTNQN, false, false, 30000);
    HOST_OK(a, nvmf_host_set_features(a->h, NVME_FEAT_NUM_QUEUES, 0, &cqe));
    io = io_connect(port, a, 1, true, true);
    fill_random(wbuf, sizeof(wbuf));
    HOST_OK(io, nvmf_host_rw(io->h, true, 1, 2048, 16, wbuf, sizeof(wbuf),
                             &cqe));
    g_assert_cmphex(cqe.status, ==, 0);
    HOST_OK(io, nvmf_host_rw(io->h, false, 1, 2048, 16, rbuf, sizeof(rbuf),
                             &cqe));
    g_assert_cmphex(cqe.status, ==, 0);
    g_assert_cmpmem(rbuf, sizeof(rbuf), wbuf, sizeof(wbuf));
    conn_close(io);
    conn_close(a);

    /* TLS: the configured PSK, then NEWTLSPSK and REPLACETLSPSK x3 */
    {
        g_autofree char *identity = NULL;
        uint8_t key[48], hash;
        Conn *c;

        identity = nvmf_tls_configured(tls_psk01, 1, HOSTNQN, TLSNQN, key,
                                       &hash);
        a = tls_conn(tport, identity, key, hash);
        tls_connect(a, TLSNQN, 0, 0xffff);
        HOST_OK(a, nvmf_host_enable(a->h));
        conn_close(a);

        c = conn_open(tport);
        g_assert_true(tls_connect(c, TLSNQN, 0, 0xffff) &
                      NVME_CONNECT_AUTHREQ_ATR);
        g_free(identity);
        identity = tls_concat_auth(c, hkey, ckey, TLSNQN,
                                   NVME_AUTH_SECP_NEWTLSPSK, 1, key, &hash);
        g_assert_nonnull(identity);
        conn_close(c);
        a = tls_conn(tport, identity, key, hash);
        tls_connect(a, TLSNQN, 0, 0xffff);
        HOST_OK(a, nvmf_host_enable(a->h));
        HOST_OK(a, nvmf_host_set_features(a->h, NVME_FEAT_NUM_QUEUES,
                                          0x00010001, &cqe));
        for (int i = 0; i < 3; i++) {
            g_free(identity);
            identity = tls_concat_auth(a, hkey, ckey, TLSNQN,
                                       NVME_AUTH_SECP_REPLACETLSPSK, 2 + i,
                                       key, &hash);
            g_assert_nonnull(identity);
            io = tls_conn(tport, identity, key, hash);
            tls_connect(io, TLSNQN, 1, a->cntlid);
            rw_check(io, 16 * i, 0x51 + i);
            conn_close(io);
        }
        conn_close(a);
    }
    qtest_remove_abrt_handler(&pid);
    kill(pid, SIGTERM);
    waitpid(pid, NULL, 0);
    g_spawn_close_pid(pid);
    /* its exit removed the socket */
    g_assert_false(g_file_test(usock, G_FILE_TEST_EXISTS));

    /* the data reached the image file */
    {
        g_autofree char *contents = NULL;
        gsize len;

        g_assert_true(g_file_get_contents(disk, &contents, &len, NULL));
        g_assert_cmpmem(contents + 2048 * 512, sizeof(wbuf), wbuf,
                        sizeof(wbuf));
    }
    target_stop(t);
}

/* ---- fault injection ------------------------------------------------------ */

/*
 * nvmet-fault-add with the arguments @args (JSON): the fault's ID; or, if
 * @err, 0 and the error's description in *err.
 */
static uint32_t fault_add(QTestState *qts, const char *args, char **err)
{
    QObject *a = qobject_from_json(args, &error_abort);
    QDict *rsp = qtest_qmp(qts, "{ 'execute': 'nvmet-fault-add', "
                           "'arguments': %p }", a);
    uint32_t id = 0;

    if (qdict_haskey(rsp, "return")) {
        id = qdict_get_int(qdict_get_qdict(rsp, "return"), "id");
        g_assert_cmpuint(id, >, 0);
        g_assert_null(err);
    } else {
        const char *desc = qdict_get_str(qdict_get_qdict(rsp, "error"),
                                         "desc");

        if (!err) {
            g_error("nvmet-fault-add %s: %s", args, desc);
        }
        *err = g_strdup(desc);
    }
    qobject_unref(rsp);
    return id;
}

static void fault_refused(QTestState *qts, const char *args, const char *why)
{
    g_autofree char *err = NULL;

    g_assert_cmpuint(fault_add(qts, args, &err), ==, 0);
    if (!strstr(err, why)) {
        g_error("nvmet-fault-add %s: '%s' does not say '%s'", args, err, why);
    }
}

/* query-nvmet-faults (a QList of QDicts) */
static QList *fault_query(QTestState *qts)
{
    QDict *rsp = qtest_qmp(qts, "{ 'execute': 'query-nvmet-faults' }");
    QList *l = qdict_get_qlist(rsp, "return");

    g_assert_nonnull(l);
    qobject_ref(l);
    qobject_unref(rsp);
    return l;
}

static uint16_t read_status(Conn *io, uint64_t lba)
{
    uint8_t buf[4096];
    NvmfCqe cqe;

    HOST_OK(io, nvmf_host_rw(io->h, false, 1, lba, 8, buf, sizeof(buf), &cqe));
    return cqe.status;
}

static int send_read(Conn *io, uint64_t lba, uint8_t *buf)
{
    uint8_t sqe[64];
    int cid;

    nvmf_sqe_init(sqe, NVME_CMD_READ, 1);
    nvmet_st32(sqe + NVME_SQE_CDW10, lba);
    nvmet_st32(sqe + NVME_SQE_CDW12, 7);
    cid = nvmf_host_send_cmd(io->h, sqe, NULL, 0, buf, 4096);
    g_assert_cmpint(cid, >, 0);
    return cid;
}

/* QMP: refusals, a fault that fires (event, query), a delay, deletion */
static void test_fault_qmp(void)
{
    Target *t = target_start(NULL);
    QTestState *qts = t->qts;
    Conn *a = admin_connect(t->port, SUBNQN, HOSTNQN, false, false, 30000);
    Conn *io, *io2;
    QDict *ev, *rsp, *f;
    QList *l;
    NvmfCqe cqe;
    uint8_t b1[4096], b2[4096];
    int64_t t0;
    uint32_t id;
    int c1, c2;

    fault_refused(qts, "{ 'step': 'nope', 'action': 'drop' }",
                  "'step' does not accept value 'nope'");
    fault_refused(qts, "{ 'step': 'pdu-icreq', 'action': 'drop' }",
                  "action 'drop' is not possible at step 'pdu-icreq' "
                  "(possible: close, c2h-term)");
    fault_refused(qts, "{ 'step': 'io-cmd', 'action': 'status', 'sct': 9, "
                  "'sc': 1 }", "'sct' 9 is not a status code type");
    fault_refused(qts, "{ 'step': 'io-cmd', 'action': 'status', 'sc': 0 }",
                  "status 0 is success");
    fault_refused(qts, "{ 'step': 'io-cmd', 'action': 'status' }",
                  "needs a status");
    fault_refused(qts, "{ 'step': 'io-cmd', 'action': 'drop', 'fes': 1 }",
                  "'fes' is a parameter of action 'c2h-term', not of 'drop'");
    fault_refused(qts, "{ 'step': 'io-cmd', 'action': 'drop', 'nth': 2, "
                  "'every': true }", "at most one of");
    fault_refused(qts, "{ 'step': 'keep-alive', 'action': 'drop', "
                  "'opcode': 24 }", "has no opcode filter");
    fault_refused(qts, "{ 'step': 'io-cmd', 'action': 'drop', "
                  "'probability': 'often' }", "not 'often'");
    fault_refused(qts, "{ 'step': 'io-cmd', 'action': 'drop', "
                  "'probability': '150%' }", "probability 1.5 is not in");
    l = fault_query(qts);
    g_assert_true(qlist_empty(l));
    qobject_unref(l);

    HOST_OK(a, nvmf_host_set_features(a->h, NVME_FEAT_NUM_QUEUES, 0x00010001,
                                      &cqe));
    io = io_connect(t->port, a, 1, false, false);
    id = fault_add(qts, "{ 'step': 'io-cmd', 'opcode': 2, 'nth': 2, "
                   "'action': 'status', 'sct': 2, 'sc': 129, 'dnr': true }",
                   NULL);
    g_assert_cmphex(read_status(io, 0), ==, 0);
    g_assert_cmphex(read_status(io, 0), ==,
                    NVME_SC_READ_ERROR | NVME_STATUS_DNR);
    g_assert_cmphex(read_status(io, 0), ==, 0);
    ev = qtest_qmp_eventwait_ref(qts, "NVMET_FAULT_FIRED");
    f = qdict_get_qdict(ev, "data");
    g_assert_cmpuint(qdict_get_int(f, "id"), ==, id);
    g_assert_cmpstr(qdict_get_str(f, "step"), ==, "io-cmd");
    g_assert_cmpstr(qdict_get_str(f, "action"), ==, "status");
    g_assert_cmpstr(qdict_get_str(f, "port"), ==, "port0");
    g_assert_cmpstr(qdict_get_str(f, "subnqn"), ==, SUBNQN);
    g_assert_cmpuint(qdict_get_int(f, "cntlid"), ==, a->cntlid);
    g_assert_cmpuint(qdict_get_int(f, "qid"), ==, 1);
    g_assert_nonnull(strstr(qdict_get_str(f, "reason"), "opcode 0x02"));
    qobject_unref(ev);
    l = fault_query(qts);
    g_assert_cmpuint(qlist_size(l), ==, 1);
    f = qobject_to(QDict, qlist_peek(l));
    g_assert_cmpuint(qdict_get_int(f, "id"), ==, id);
    g_assert_cmpuint(qdict_get_int(f, "matches"), ==, 2);
    g_assert_cmpuint(qdict_get_int(f, "hits"), ==, 1);
    g_assert_false(qdict_get_bool(f, "active"));
    g_assert_cmpstr(qdict_get_str(f, "description"), ==,
                    "io-cmd opcode 0x02, match 2: complete with status 0x4281 "
                    "(sct 2 sc 0x81 dnr)");
    qobject_unref(l);
    rsp = qtest_qmp(qts, "{ 'execute': 'nvmet-fault-del', "
                    "'arguments': { 'id': %u } }", id);
    g_assert_true(qdict_haskey(rsp, "return"));
    qobject_unref(rsp);
    rsp = qtest_qmp(qts, "{ 'execute': 'nvmet-fault-del', "
                    "'arguments': { 'id': %u } }", id);
    g_assert_cmpstr(qdict_get_str(qdict_get_qdict(rsp, "error"), "desc"), ==,
                    "no fault 1");
    qobject_unref(rsp);

    /* a delay on QEMU's clock: the next read waits, the one after it not */
    fault_add(qts, "{ 'step': 'io-cmd', 'action': 'delay', 'delay-ms': 400 }",
              NULL);
    t0 = g_get_monotonic_time();
    c1 = send_read(io, 0, b1);
    c2 = send_read(io, 8, b2);
    HOST_OK(io, nvmf_host_wait(io->h, c2, &cqe));
    g_assert_cmphex(cqe.status, ==, 0);
    g_assert_cmpint(g_get_monotonic_time() - t0, <, 400 * 1000);
    HOST_OK(io, nvmf_host_wait(io->h, c1, &cqe));
    g_assert_cmphex(cqe.status, ==, 0);
    /* QEMU's clock counts milliseconds: up to one of them less */
    g_assert_cmpint(g_get_monotonic_time() - t0, >=, 399 * 1000);

    /* an I/O queue Connect refused */
    fault_add(qts, "{ 'step': 'connect-io', 'host': '" HOSTNQN "', "
              "'action': 'status', 'sct': 1, 'sc': 130, 'dnr': true }", NULL);
    io2 = conn_open(t->port);
    HOST_OK(io2, nvmf_host_icreq(io2->h, false, false, 0));
    HOST_OK(io2, nvmf_host_connect(io2->h, 1, 31, a->cntlid, SUBNQN, HOSTNQN,
                                   hostid, 0, 0, &cqe));
    g_assert_cmphex(cqe.status, ==,
                    NVME_SC_CONNECT_INVALID_PARAM | NVME_STATUS_DNR);
    conn_close(io2);
    conn_close(io);
    conn_close(a);
    target_stop(t);
}

/* -object nvmet-fault: armed at startup, listed, deleted with the object */
static void test_fault_object(void)
{
    Target *t = target_start("-object nvmet-fault,id=f1,step=io-cmd,"
                             "queue=io,every=on,max-hits=2,action=status,"
                             "sc=6");
    QTestState *qts = t->qts;
    Conn *a = admin_connect(t->port, SUBNQN, HOSTNQN, false, false, 30000);
    Conn *io;
    QDict *rsp, *f;
    QList *l;
    NvmfCqe cqe;
    uint32_t id;

    HOST_OK(a, nvmf_host_set_features(a->h, NVME_FEAT_NUM_QUEUES, 0, &cqe));
    io = io_connect(t->port, a, 1, false, false);
    g_assert_cmphex(read_status(io, 0), ==, NVME_SC_INTERNAL);
    g_assert_cmphex(read_status(io, 0), ==, NVME_SC_INTERNAL);
    g_assert_cmphex(read_status(io, 0), ==, 0);
    l = fault_query(qts);
    g_assert_cmpuint(qlist_size(l), ==, 1);
    f = qobject_to(QDict, qlist_peek(l));
    g_assert_cmpstr(qdict_get_str(f, "object"), ==, "f1");
    id = qdict_get_int(f, "id");
    g_assert_cmpuint(qdict_get_int(f, "hits"), ==, 2);
    qobject_unref(l);
    rsp = qtest_qmp(qts, "{ 'execute': 'qom-get', 'arguments': "
                    "{ 'path': '/objects/f1', 'property': 'fault-id' } }");
    g_assert_cmpuint(qdict_get_int(rsp, "return"), ==, id);
    qobject_unref(rsp);
    rsp = qtest_qmp(qts, "{ 'execute': 'nvmet-fault-del', "
                    "'arguments': { 'id': %u } }", id);
    g_assert_nonnull(strstr(qdict_get_str(qdict_get_qdict(rsp, "error"),
                                          "desc"),
                            "belongs to nvmet-fault object 'f1'"));
    qobject_unref(rsp);
    rsp = qtest_qmp(qts, "{ 'execute': 'object-del', "
                    "'arguments': { 'id': 'f1' } }");
    g_assert_true(qdict_haskey(rsp, "return"));
    qobject_unref(rsp);
    l = fault_query(qts);
    g_assert_true(qlist_empty(l));
    qobject_unref(l);

    /* object-add with a bad specification: an error, no object, no fault */
    rsp = qtest_qmp(qts, "{ 'execute': 'object-add', 'arguments': "
                    "{ 'qom-type': 'nvmet-fault', 'id': 'f2', "
                    "'step': 'keep-alive', 'action': 'withhold-r2t' } }");
    g_assert_nonnull(strstr(qdict_get_str(qdict_get_qdict(rsp, "error"),
                                          "desc"),
                            "nvmet-fault 'f2': action 'withhold-r2t' is not "
                            "possible at step 'keep-alive'"));
    qobject_unref(rsp);
    rsp = qtest_qmp(qts, "{ 'execute': 'qom-get', 'arguments': "
                    "{ 'path': '/objects/f2', 'property': 'fault-id' } }");
    g_assert_true(qdict_haskey(rsp, "error"));
    qobject_unref(rsp);
    l = fault_query(qts);
    g_assert_true(qlist_empty(l));
    qobject_unref(l);
    /* ... and an object-add that works fires */
    rsp = qtest_qmp(qts, "{ 'execute': 'object-add', 'arguments': "
                    "{ 'qom-type': 'nvmet-fault', 'id': 'f3', "
                    "'step': 'io-cmd', 'action': 'close' } }");
    g_assert_true(qdict_haskey(rsp, "return"));
    qobject_unref(rsp);
    {
        uint8_t buf[4096];

        g_assert_cmpint(nvmf_host_rw(io->h, false, 1, 0, 8, buf, 4096, &cqe),
                        ==, -1);
        g_assert_true(nvmf_host_eof(io->h));
    }
    conn_close(io);
    conn_close(a);
    target_stop(t);

    expect_startup_error("-object nvmet-fault,id=f,step=io-cmd,"
                         "action=c2h-term", "nvmet-fault 'f': action "
                         "'c2h-term' needs fes from 1 to 6");
    expect_startup_error("-object nvmet-fault,id=f,action=drop", "step");
    expect_startup_error("-object nvmet-fault,id=f,step=io-cmd,action=drop,"
                         "reason=failed", "'reason' is a parameter of action "
                         "'auth-failure', not of 'drop'");
}

/*
 * One run of a fault script: 40 reads with faults by chance.  Their
 * statuses, and the faults that fired (the QMP events).
 */
static char *fault_script(const char *qemu_args, const char *sub_props)
{
    Target *t = target_new();
    GString *log = g_string_new("");
    Conn *a, *io;
    NvmfCqe cqe;
    QDict *ev;

    target_launch(t,
        "%s -blockdev driver=file,filename=%s,node-name=disk0 "
        "-object nvmet-port,id=port0,traddr=127.0.0.1,trsvcid=0 "
        "-object nvmet-subsystem,id=sub0,nqn=" SUBNQN ",ports=port0,"
        "allow-any-host=on%s "
        "-object nvmet-namespace,id=ns1,subsystem=sub0,nsid=1,node-name=disk0 "
        "-object nvmet-fault,id=f1,step=io-cmd,probability=0.35,"
        "action=status,sc=6 "
        "-object nvmet-fault,id=f2,step=io-cmd,probability=0.2,"
        "action=status,sc=4",
        qemu_args, t->disk, sub_props);
    a = admin_connect(t->port, SUBNQN, HOSTNQN, false, false, 30000);
    HOST_OK(a, nvmf_host_set_features(a->h, NVME_FEAT_NUM_QUEUES, 0, &cqe));
    io = io_connect(t->port, a, 1, false, false);
    for (int i = 0; i < 40; i++) {
        g_string_append_printf(log, "%x ", read_status(io, i));
    }
    conn_close(io);
    conn_close(a);
    /* the events came before the answer to this */
    qobject_unref(fault_query(t->qts));
    while ((ev = qtest_qmp_event_ref(t->qts, "NVMET_FAULT_FIRED"))) {
        g_string_append_printf(log, "\n%s",
                               qdict_get_str(qdict_get_qdict(ev, "data"),
                                             "reason"));
        qobject_unref(ev);
    }
    target_stop(t);
    return g_string_free(log, false);
}

/* The same seed and faults: the same faults fire at the same steps */
static void test_fault_determinism(void)
{
    g_autofree char *a = fault_script("-seed 7", "");
    g_autofree char *b = fault_script("-seed 7", "");
    g_autofree char *c = fault_script("-seed 8", "");
    g_autofree char *d = fault_script("", ",seed=99");
    g_autofree char *e = fault_script("-seed 1", ",seed=99");

    g_assert_cmpstr(a, ==, b);
    g_assert_cmpstr(a, !=, c);
    /* both faults fired, not on every read */
    g_assert_nonnull(strstr(a, "6 "));
    g_assert_nonnull(strstr(a, "4 "));
    g_assert_nonnull(strstr(a, "0 "));
    g_assert_nonnull(strstr(a, "fault 2 at io-cmd"));
    /* the subsystem's seed, whatever -seed says */
    g_assert_cmpstr(d, ==, e);
    g_assert_cmpstr(a, !=, d);
}

/* qemu-storage-daemon arms faults from its command line too */
static void test_fault_storage_daemon(void)
{
    const char *qemu = g_getenv("QTEST_QEMU_BINARY");
    g_autofree char *dir = g_path_get_dirname(qemu);
    g_autofree char *qsd = g_build_filename(dir, "storage-daemon",
                                            "qemu-storage-daemon", NULL);
    Target *t = target_new();
    const char *pidfile = target_path(t, g_strdup_printf("%s.pid", t->disk));
    int port = free_port();
    g_autofree char *bd = g_strdup_printf(
        "driver=file,filename=%s,node-name=disk0", t->disk);
    g_autofree char *obj = g_strdup_printf("nvmet-port,id=port0,trsvcid=%d",
                                           port);
    char *argv[] = {
        qsd, (char *)"--blockdev", bd, (char *)"--object", obj,
        (char *)"--object", (char *)"nvmet-subsystem,id=sub0,nqn=" SUBNQN
        ",ports.0=port0,allow-any-host=on",
        (char *)"--object", (char *)"nvmet-namespace,id=ns1,subsystem=sub0,"
        "nsid=1,node-name=disk0",
        (char *)"--object", (char *)"nvmet-fault,id=f1,step=connect-io,"
        "action=status,sct=1,sc=130,dnr=on",
        (char *)"--pidfile", (char *)pidfile, NULL,
    };
    Conn *a, *io;
    NvmfCqe cqe;
    GPid pid;

    if (g_getenv("QTEST_QEMU_STORAGE_DAEMON_BINARY")) {
        g_free(qsd);
        qsd = g_strdup(g_getenv("QTEST_QEMU_STORAGE_DAEMON_BINARY"));
        argv[0] = qsd;
    }
    if (!g_file_test(qsd, G_FILE_TEST_IS_EXECUTABLE)) {
        g_test_skip("qemu-storage-daemon not built");
        target_stop(t);
        return;
    }
    g_assert_true(g_spawn_async(NULL, argv, NULL, G_SPAWN_DO_NOT_REAP_CHILD,
                                NULL, NULL, &pid, NULL));
    qtest_add_abrt_handler(kill_daemon, &pid);
    for (int i = 0; i < 200 && !g_file_test(pidfile, G_FILE_TEST_EXISTS); i++) {
        g_usleep(50 * 1000);
    }
    g_assert_true(g_file_test(pidfile, G_FILE_TEST_EXISTS));
    a = admin_connect(port, SUBNQN, HOSTNQN, false, false, 30000);
    HOST_OK(a, nvmf_host_set_features(a->h, NVME_FEAT_NUM_QUEUES, 0, &cqe));
    io = conn_open(port);
    HOST_OK(io, nvmf_host_icreq(io->h, false, false, 0));
    HOST_OK(io, nvmf_host_connect(io->h, 1, 31, a->cntlid, SUBNQN, HOSTNQN,
                                  hostid, 0, 0, &cqe));
    g_assert_cmphex(cqe.status, ==,
                    NVME_SC_CONNECT_INVALID_PARAM | NVME_STATUS_DNR);
    HOST_OK(io, nvmf_host_connect(io->h, 1, 31, a->cntlid, SUBNQN, HOSTNQN,
                                  hostid, 0, 0, &cqe));
    g_assert_cmphex(cqe.status, ==, 0);
    conn_close(io);
    conn_close(a);
    kill(pid, SIGTERM);
    waitpid(pid, NULL, 0);
    g_spawn_close_pid(pid);
    qtest_remove_abrt_handler(&pid);
    target_stop(t);
}

/* ---- block exports, iothreads, drains, inactive nodes --------------------- */

/* qemu-storage-daemon with a QMP monitor on a UNIX socket */
typedef struct Qsd {
    GPid pid;
    int qmp;
    char *sock;
    GPtrArray *events;          /* names of events not waited for yet */
} Qsd;

static char *qsd_binary(void)
{
    const char *qemu = g_getenv("QTEST_QEMU_BINARY");
    g_autofree char *dir = g_path_get_dirname(qemu);

    if (g_getenv("QTEST_QEMU_STORAGE_DAEMON_BINARY")) {
        return g_strdup(g_getenv("QTEST_QEMU_STORAGE_DAEMON_BINARY"));
    }
    return g_build_filename(dir, "storage-daemon", "qemu-storage-daemon",
                            NULL);
}

/* The reply to a command; events before it are kept for qsd_event(). */
static QDict *qsd_reply(Qsd *q)
{
    for (;;) {
        QDict *rsp = qmp_fd_receive(q->qmp);

        if (!qdict_haskey(rsp, "event")) {
            return rsp;
        }
        g_ptr_array_add(q->events, g_strdup(qdict_get_str(rsp, "event")));
        qobject_unref(rsp);
    }
}

static QDict * G_GNUC_PRINTF(2, 3) qsd_qmp(Qsd *q, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    qmp_fd_vsend(q->qmp, fmt, ap);
    va_end(ap);
    return qsd_reply(q);
}

static void G_GNUC_PRINTF(2, 3) qsd_ok(Qsd *q, const char *fmt, ...)
{
    va_list ap;
    QDict *rsp;

    va_start(ap, fmt);
    qmp_fd_vsend(q->qmp, fmt, ap);
    va_end(ap);
    rsp = qsd_reply(q);
    if (!qdict_haskey(rsp, "return")) {
        g_error("QMP command failed: %s",
                qdict_get_str(qdict_get_qdict(rsp, "error"), "desc"));
    }
    qobject_unref(rsp);
}

/* Wait for the event @name (other events are dropped). */
static void qsd_event(Qsd *q, const char *name)
{
    for (unsigned i = 0; i < q->events->len; i++) {
        if (g_str_equal(g_ptr_array_index(q->events, i), name)) {
            g_ptr_array_remove_index(q->events, i);
            return;
        }
    }
    for (;;) {
        QDict *rsp = qmp_fd_receive(q->qmp);
        bool match = qdict_haskey(rsp, "event") &&
                     g_str_equal(qdict_get_str(rsp, "event"), name);

        qobject_unref(rsp);
        if (match) {
            return;
        }
    }
}

static void qsd_kill(void *data)
{
    /* a test failed: SIGTERM could hang on what went wrong */
    kill(((Qsd *)data)->pid, SIGKILL);
}

/* Start the daemon with @args (shell words) and talk QMP to it. */
static Qsd *qsd_start(Target *t, const char *args)
{
    g_autofree char *bin = qsd_binary();
    g_autofree char *cmd = NULL;
    g_auto(GStrv) argv = NULL;
    Qsd *q = g_new0(Qsd, 1);
    struct sockaddr_un sa = { .sun_family = AF_UNIX };
    QDict *greeting;
    int i;

    if (!g_file_test(bin, G_FILE_TEST_IS_EXECUTABLE)) {
        g_free(q);
        return NULL;
    }
    q->events = g_ptr_array_new_with_free_func(g_free);
    q->sock = target_path(t, g_strdup_printf("%s.qmp", t->disk));
    cmd = g_strdup_printf("%s --chardev socket,id=qmp0,path=%s,server=on,"
                          "wait=off --monitor chardev=qmp0 %s%s%s", bin,
                          q->sock, args,
                          g_getenv("NVMET_QSD_TRACE") ? " --trace " : "",
                          g_getenv("NVMET_QSD_TRACE") ?: "");
    g_assert_true(g_shell_parse_argv(cmd, NULL, &argv, NULL));
    g_assert_true(g_spawn_async(NULL, argv, NULL, G_SPAWN_DO_NOT_REAP_CHILD,
                                NULL, NULL, &q->pid, NULL));
    qtest_add_abrt_handler(qsd_kill, q);
    q->qmp = socket(AF_UNIX, SOCK_STREAM, 0);
    g_assert_cmpint(q->qmp, >=, 0);
    g_strlcpy(sa.sun_path, q->sock, sizeof(sa.sun_path));
    for (i = 0; i < 400; i++) {
        if (connect(q->qmp, (struct sockaddr *)&sa, sizeof(sa)) == 0) {
            break;
        }
        g_usleep(25 * 1000);
    }
    g_assert_cmpint(i, <, 400);
    greeting = qmp_fd_receive(q->qmp);
    g_assert_true(qdict_haskey(greeting, "QMP"));
    qobject_unref(greeting);
    qsd_ok(q, "{ 'execute': 'qmp_capabilities' }");
    return q;
}

static int qsd_port(Qsd *q, const char *path)
{
    QDict *rsp = qsd_qmp(q, "{ 'execute': 'qom-get', 'arguments': "
                         "{ 'path': %s, 'property': 'trsvcid' } }", path);
    int port = atoi(qdict_get_str(rsp, "return"));

    qobject_unref(rsp);
    g_assert_cmpint(port, >, 0);
    return port;
}

/* SIGTERM: the daemon must exit cleanly, whatever is connected. */
static void qsd_stop(Qsd *q)
{
    int status;
    pid_t r;

    close(q->qmp);
    kill(q->pid, SIGTERM);
    /* a daemon that does not exit within 30 s is a failure, not a hang */
    for (int i = 0; (r = waitpid(q->pid, &status, WNOHANG)) == 0; i++) {
        g_assert_cmpint(i, <, 3000);
        g_usleep(10 * 1000);
    }
    qtest_remove_abrt_handler(q);
    g_assert_cmpint(r, ==, q->pid);
    g_spawn_close_pid(q->pid);
    g_assert_true(WIFEXITED(status));
    g_assert_cmpint(WEXITSTATUS(status), ==, 0);
    g_ptr_array_free(q->events, true);
    g_free(q);
}

static uint16_t rw_status(Conn *c, bool write, uint32_t nsid, uint64_t slba,
                          void *buf, size_t len)
{
    NvmfCqe cqe;

    HOST_OK(c, nvmf_host_rw(c->h, write, nsid, slba, len / 512, buf, len,
                            &cqe));
    return cqe.status;
}

/* Write @len random bytes at @slba of @nsid and read them back. */
static void rw_verify(Conn *c, uint32_t nsid, uint64_t slba, size_t len)
{
    g_autofree uint8_t *w = g_malloc(len);
    g_autofree uint8_t *r = g_malloc0(len);

    fill_random(w, len);
    g_assert_cmphex(rw_status(c, true, nsid, slba, w, len), ==, 0);
    g_assert_cmphex(rw_status(c, false, nsid, slba, r, len), ==, 0);
    g_assert_cmpmem(r, len, w, len);
}

static int post_aer(Conn *a)
{
    uint8_t sqe[64];
    int cid;

    nvmf_sqe_init(sqe, NVME_ADM_ASYNC_EVENT, 0);
    cid = nvmf_host_send_cmd(a->h, sqe, NULL, 0, NULL, 0);
    g_assert_cmpint(cid, >, 0);
    return cid;
}

/* The AER completes with a namespace notice; the log then unmasks it. */
static void expect_ns_changed(Conn *a, int aer)
{
    uint8_t log[4096];
    NvmfCqe cqe;

    HOST_OK(a, nvmf_host_wait(a->h, aer, &cqe));
    g_assert_cmphex(cqe.status, ==, 0);
    g_assert_cmphex(cqe.dw0, ==, 0x00040002);
    HOST_OK(a, nvmf_host_get_log(a->h, NVME_LOG_CHANGED_NS, 0xffffffff, 0,
                                 log, sizeof(log), &cqe));
    g_assert_cmphex(cqe.status, ==, 0);
}

/* The active namespace list of the controller, as "1,2,..." */
static char *active_nsids(Conn *a)
{
    g_autofree uint8_t *list = g_malloc0(4096);
    GString *s = g_string_new("");
    NvmfCqe cqe;

    HOST_OK(a, nvmf_host_identify(a->h, NVME_ID_CNS_NS_ACTIVE_LIST, 0, 0,
                                  list, &cqe));
    g_assert_cmphex(cqe.status, ==, 0);
    for (int i = 0; i < 1024 && nvmet_ld32(list + 4 * i); i++) {
        g_string_append_printf(s, "%s%u", i ? "," : "",
                               nvmet_ld32(list + 4 * i));
    }
    return g_string_free(s, false);
}

/* @n I/O queues, and namespace attribute notices enabled */
static void set_queues(Conn *a, unsigned n)
{
    NvmfCqe cqe;

    HOST_OK(a, nvmf_host_set_features(a->h, NVME_FEAT_NUM_QUEUES,
                                      (n - 1) | ((n - 1) << 16), &cqe));
    g_assert_cmphex(cqe.status, ==, 0);
    HOST_OK(a, nvmf_host_set_features(a->h, NVME_FEAT_ASYNC_EVENT, 1u << 8,
                                      &cqe));
    g_assert_cmphex(cqe.status, ==, 0);
}

/*
 * qemu-storage-daemon with namespaces as --export type=nvmet (writable,
 * read-only, in an iothread), I/O queues spread over two iothreads, and
 * exports removed and added over QMP while a host is connected; SIGTERM
 * with the host still connected ends the daemon cleanly.
 */
static void test_export_storage_daemon(void)
{
    Target *t = target_new();
    g_autofree char *args = g_strdup_printf(
        "--blockdev driver=file,filename=%s,node-name=disk0 "
        "--blockdev driver=null-co,size=67108864,read-zeroes=on,"
        "node-name=null0 "
        "--object iothread,id=io0 --object iothread,id=io1 "
        "--object nvmet-port,id=port0,trsvcid=0 "
        "--object nvmet-subsystem,id=sub0,nqn=" SUBNQN ",ports.0=port0,"
        "allow-any-host=on,iothreads.0=io0,iothreads.1=io1 "
        "--export type=nvmet,id=exp1,node-name=disk0,subsystem=sub0,nsid=1,"
        "writable=on,iothread=io0 "
        "--export type=nvmet,id=exp2,node-name=null0,subsystem=sub0,nsid=2",
        t->disk);
    Qsd *q = qsd_start(t, args);
    uint8_t buf[4096], data[8192];
    Conn *a, *io[2];
    QDict *rsp;
    QList *list;
    g_autofree char *nsids = NULL;
    int port, aer;

    if (!q) {
        g_test_skip("qemu-storage-daemon not built");
        target_stop(t);
        return;
    }
    port = qsd_port(q, "/objects/port0");
    a = admin_connect(port, SUBNQN, HOSTNQN, false, false, 30000);
    set_queues(a, 2);
    io[0] = io_connect(port, a, 1, false, false);
    io[1] = io_connect(port, a, 2, true, true);
    nsids = active_nsids(a);
    g_assert_cmpstr(nsids, ==, "1,2");
    for (int i = 0; i < 2; i++) {
        rw_verify(io[i], 1, 64 * i, 65536);
    }
    fill_random(data, sizeof(data));
    g_assert_cmphex(rw_status(io[0], true, 1, 4096, data, sizeof(data)), ==,
                    0);
    /* writable=off (the default): a write-protected namespace */
    g_assert_cmphex(rw_status(io[1], false, 2, 0, buf, sizeof(buf)), ==, 0);
    g_assert_cmphex(rw_status(io[1], true, 2, 0, buf, sizeof(buf)), ==,
                    NVME_SC_NS_WRITE_PROTECTED | NVME_STATUS_DNR);

    rsp = qsd_qmp(q, "{ 'execute': 'query-block-exports' }");
    list = qdict_get_qlist(rsp, "return");
    g_assert_cmpuint(qlist_size(list), ==, 2);
    for (const QListEntry *e = qlist_first(list); e; e = qlist_next(e)) {
        QDict *x = qobject_to(QDict, qlist_entry_obj(e));

        g_assert_cmpstr(qdict_get_str(x, "type"), ==, "nvmet");
        g_assert_cmpstr(qdict_get_str(x, "node-name"), ==,
                        g_str_equal(qdict_get_str(x, "id"), "exp1") ?
                        "disk0" : "null0");
    }
    qobject_unref(rsp);

    /* block-export-del: the namespace goes, the host hears of it */
    aer = post_aer(a);
    qsd_ok(q, "{ 'execute': 'block-export-del', 'arguments': "
           "{ 'id': 'exp2' } }");
    qsd_event(q, "BLOCK_EXPORT_DELETED");
    expect_ns_changed(a, aer);
    g_free(nsids);
    nsids = active_nsids(a);
    g_assert_cmpstr(nsids, ==, "1");
    g_assert_cmphex(rw_status(io[1], false, 2, 0, buf, sizeof(buf)), ==,
                    NVME_SC_INVALID_NS | NVME_STATUS_DNR);

    /* block-export-add: and a new one comes */
    aer = post_aer(a);
    qsd_ok(q, "{ 'execute': 'block-export-add', 'arguments': "
           "{ 'type': 'nvmet', 'id': 'exp3', 'node-name': 'null0', "
           "'writable': true, 'subsystem': 'sub0', 'nsid': 3 } }");
    expect_ns_changed(a, aer);
    g_free(nsids);
    nsids = active_nsids(a);
    g_assert_cmpstr(nsids, ==, "1,3");
    /* null-co: writes go nowhere, reads return zeroes */
    g_assert_cmphex(rw_status(io[1], true, 3, 0, buf, sizeof(buf)), ==, 0);
    g_assert_cmphex(rw_status(io[0], false, 3, 8, buf, sizeof(buf)), ==, 0);

    /* what the driver refuses */
    rsp = qsd_qmp(q, "{ 'execute': 'block-export-add', 'arguments': "
                  "{ 'type': 'nvmet', 'id': 'exp4', 'node-name': 'null0', "
                  "'subsystem': 'nope', 'nsid': 4 } }");
    g_assert_nonnull(strstr(qdict_get_str(qdict_get_qdict(rsp, "error"),
                                          "desc"), "no object with id 'nope'"));
    qobject_unref(rsp);
    rsp = qsd_qmp(q, "{ 'execute': 'block-export-add', 'arguments': "
                  "{ 'type': 'nvmet', 'id': 'exp4', 'node-name': 'null0', "
                  "'subsystem': 'sub0', 'nsid': 1 } }");
    g_assert_nonnull(strstr(qdict_get_str(qdict_get_qdict(rsp, "error"),
                                          "desc"),
                            "namespace ID 1 is already used"));
    qobject_unref(rsp);

    /* the host stays connected: the daemon still ends cleanly */
    qsd_stop(q);
    conn_close(io[0]);
    conn_close(io[1]);
    conn_close(a);
    {
        g_autofree char *contents = NULL;
        gsize len;

        g_assert_true(g_file_get_contents(t->disk, &contents, &len, NULL));
        g_assert_cmpmem(contents + 4096 * 512, sizeof(data), data,
                        sizeof(data));
    }
    target_stop(t);
}

/*
 * qemu-system: block-export-add over QMP next to the -object shorthand,
 * which is an export of its own id; deleting either removes the
 * namespace.
 */
static void test_export_qmp(void)
{
    Target *t = target_start(
        "-blockdev driver=null-co,size=8388608,node-name=null1 "
        "-blockdev driver=null-co,size=8388608,read-only=on,node-name=ro1 ");
    Conn *a = admin_connect(t->port, SUBNQN, HOSTNQN, false, false, 30000);
    Conn *io;
    QDict *rsp;
    QList *list;
    g_autofree char *nsids = NULL;
    uint8_t buf[4096];
    int aer;

    set_queues(a, 1);
    io = io_connect(t->port, a, 1, false, false);
    rsp = qtest_qmp(t->qts, "{ 'execute': 'query-block-exports' }");
    list = qdict_get_qlist(rsp, "return");
    g_assert_cmpuint(qlist_size(list), ==, 1);
    {
        QDict *x = qobject_to(QDict, qlist_entry_obj(qlist_first(list)));

        g_assert_cmpstr(qdict_get_str(x, "id"), ==, "ns1");
        g_assert_cmpstr(qdict_get_str(x, "type"), ==, "nvmet");
        g_assert_cmpstr(qdict_get_str(x, "node-name"), ==, "disk0");
    }
    qobject_unref(rsp);

    aer = post_aer(a);
    qtest_qmp_assert_success(t->qts, "{ 'execute': 'block-export-add', "
                             "'arguments': { 'type': 'nvmet', 'id': 'e2', "
                             "'node-name': 'null1', 'writable': true, "
                             "'subsystem': 'sub0', 'nsid': 2, "
                             "'block-size': 4096 } }");
    expect_ns_changed(a, aer);
    nsids = active_nsids(a);
    g_assert_cmpstr(nsids, ==, "1,2");
    {
        g_autofree uint8_t *id = g_malloc0(4096);
        NvmfCqe cqe;

        HOST_OK(a, nvmf_host_identify(a->h, NVME_ID_CNS_NS, 2, 0, id, &cqe));
        g_assert_cmpuint(nvmet_ld64(id), ==, 8388608 / 4096);
    }
    {
        NvmfCqe cqe;

        /* one 4 KiB block */
        HOST_OK(io, nvmf_host_rw(io->h, true, 2, 1, 1, buf, sizeof(buf),
                                 &cqe));
        g_assert_cmphex(cqe.status, ==, 0);
    }
    rw_verify(io, 1, 0, 16384);

    rsp = qtest_qmp(t->qts, "{ 'execute': 'block-export-add', "
                    "'arguments': { 'type': 'nvmet', 'id': 'e3', "
                    "'node-name': 'ro1', 'writable': true, "
                    "'subsystem': 'sub0', 'nsid': 3 } }");
    g_assert_nonnull(strstr(qdict_get_str(qdict_get_qdict(rsp, "error"),
                                          "desc"),
                            "Cannot export read-only node as writable"));
    qobject_unref(rsp);

    /* the shorthand's export goes with the object */
    aer = post_aer(a);
    qtest_qmp_assert_success(t->qts, "{ 'execute': 'object-del', "
                             "'arguments': { 'id': 'ns1' } }");
    qtest_qmp_eventwait(t->qts, "BLOCK_EXPORT_DELETED");
    expect_ns_changed(a, aer);
    g_assert_cmphex(rw_status(io, false, 1, 0, buf, sizeof(buf)), ==,
                    NVME_SC_INVALID_NS | NVME_STATUS_DNR);
    aer = post_aer(a);
    qtest_qmp_assert_success(t->qts, "{ 'execute': 'block-export-del', "
                             "'arguments': { 'id': 'e2' } }");
    expect_ns_changed(a, aer);
    g_free(nsids);
    nsids = active_nsids(a);
    g_assert_cmpstr(nsids, ==, "");
    conn_close(io);
    conn_close(a);
    target_stop(t);
}

/* CPU time of thread @tid of @pid in clock ticks (utime + stime) */
static uint64_t thread_ticks(pid_t pid, int64_t tid)
{
    g_autofree char *path = g_strdup_printf("/proc/%d/task/%" PRId64 "/stat",
                                            pid, tid);
    g_autofree char *stat = NULL;
    g_auto(GStrv) f = NULL;
    char *p;

    g_assert_true(g_file_get_contents(path, &stat, NULL, NULL));
    p = strrchr(stat, ')');
    g_assert_nonnull(p);
    f = g_strsplit(p + 2, " ", 0);
    /* after "pid (comm) ": state is field 0, utime 11, stime 12 */
    return g_ascii_strtoull(f[11], NULL, 10) +
           g_ascii_strtoull(f[12], NULL, 10);
}

static int64_t iothread_tid(QTestState *qts, const char *id)
{
    QDict *rsp = qtest_qmp(qts, "{ 'execute': 'query-iothreads' }");
    QList *list = qdict_get_qlist(rsp, "return");
    int64_t tid = -1;

    for (const QListEntry *e = qlist_first(list); e; e = qlist_next(e)) {
        QDict *x = qobject_to(QDict, qlist_entry_obj(e));

        if (g_str_equal(qdict_get_str(x, "id"), id)) {
            tid = qdict_get_int(x, "thread-id");
        }
    }
    qobject_unref(rsp);
    g_assert_cmpint(tid, >, 0);
    return tid;
}

/* @n reads of @len bytes, @qd at a time */
static void read_load(Conn *c, uint32_t nsid, unsigned n, size_t len,
                      unsigned qd)
{
    g_autofree uint8_t *buf = g_malloc(len * qd);
    int cids[64];
    NvmfCqe cqe;

    for (unsigned done = 0; done < n; done += qd) {
        for (unsigned i = 0; i < qd; i++) {
            uint8_t sqe[64];

            nvmf_sqe_init(sqe, NVME_CMD_READ, nsid);
            nvmet_st32(sqe + NVME_SQE_CDW10, i * (len / 512));
            nvmet_st32(sqe + NVME_SQE_CDW12, len / 512 - 1);
            cids[i] = nvmf_host_send_cmd(c->h, sqe, NULL, 0, buf + i * len,
                                         len);
            g_assert_cmpint(cids[i], >, 0);
        }
        for (unsigned i = 0; i < qd; i++) {
            HOST_OK(c, nvmf_host_wait(c->h, cids[i], &cqe));
            g_assert_cmphex(cqe.status, ==, 0);
        }
    }
}

/*
 * nvmet-subsystem iothreads=io0,io1: I/O queue 1 runs in io0, queue 2 in
 * io1 (the CPU time each iothread spends shows it), and data stays right.
 */
static void test_iothreads(void)
{
    Target *t = target_new();
    char *disk1 = target_file(t, "nvmet-tcp-test-XXXXXX.img", NULL);
    g_autofree char *extra = g_strdup_printf(
        "-object iothread,id=io0 -object iothread,id=io1 "
        "-blockdev driver=null-co,size=67108864,node-name=null1 "
        "-blockdev driver=file,filename=%s,node-name=disk1 "
        "-object nvmet-subsystem,id=sub1,nqn=nqn.2026-11.org.qemu:iot,"
        "ports=port0,allow-any-host=on,iothreads=io0,iothreads=io1 "
        "-object nvmet-namespace,id=ns9,subsystem=sub1,nsid=1,"
        "node-name=null1,iothread=io1 "
        "-object nvmet-namespace,id=ns10,subsystem=sub1,nsid=2,"
        "node-name=disk1 ", disk1);
    Conn *a;
    pid_t pid;
    int64_t tid[2];
    Conn *io[2];
    NvmfCqe cqe;
    uint8_t b1[4096], b2[4096];
    int64_t t0;
    int c1, c2;
    QDict *ev;

    target_run(t, extra);
    a = admin_connect(t->port, "nqn.2026-11.org.qemu:iot", HOSTNQN, false,
                      false, 30000);
    pid = qtest_pid(t->qts);
    tid[0] = iothread_tid(t->qts, "io0");
    tid[1] = iothread_tid(t->qts, "io1");

    set_queues(a, 2);
    for (int i = 0; i < 2; i++) {
        Conn *c = conn_open(t->port);

        HOST_OK(c, nvmf_host_icreq(c->h, false, false, 0));
        HOST_OK(c, nvmf_host_connect(c->h, i + 1, 127, a->cntlid,
                                     "nqn.2026-11.org.qemu:iot", HOSTNQN,
                                     hostid, 0, 0, &cqe));
        g_assert_cmphex(cqe.status, ==, 0);
        c->cntlid = a->cntlid;
        io[i] = c;
    }
    for (int i = 0; i < 2; i++) {
        uint64_t before[2], after[2], busy, idle;

        rw_verify(io[i], 2, 1000 * i, 131072);
        before[0] = thread_ticks(pid, tid[0]);
        before[1] = thread_ticks(pid, tid[1]);
        read_load(io[i], 1, 4000, 131072, 8);
        after[0] = thread_ticks(pid, tid[0]);
        after[1] = thread_ticks(pid, tid[1]);
        busy = after[i] - before[i];
        idle = after[1 - i] - before[1 - i];
        g_test_message("queue %d: iothread io%d %" PRIu64 " ticks, io%d %"
                       PRIu64, i + 1, i, busy, 1 - i, idle);
        g_assert_cmpuint(busy, >=, 3);
        g_assert_cmpuint(idle * 4, <, busy);
    }

    /* faults fire on queues in iothreads (fault.c takes the target lock) */
    fault_add(t->qts, "{ 'step': 'io-cmd', 'opcode': 2, 'action': 'status', "
              "'sct': 2, 'sc': 129, 'dnr': true }", NULL);
    g_assert_cmphex(read_status(io[1], 0), ==,
                    NVME_SC_READ_ERROR | NVME_STATUS_DNR);
    g_assert_cmphex(read_status(io[1], 0), ==, 0);
    ev = qtest_qmp_eventwait_ref(t->qts, "NVMET_FAULT_FIRED");
    g_assert_cmpuint(qdict_get_int(qdict_get_qdict(ev, "data"), "qid"), ==, 2);
    qobject_unref(ev);
    /* a delayed command is resumed in its queue's iothread */
    fault_add(t->qts, "{ 'step': 'io-cmd', 'action': 'delay', "
              "'delay-ms': 300 }", NULL);
    t0 = g_get_monotonic_time();
    c1 = send_read(io[0], 0, b1);
    c2 = send_read(io[0], 8, b2);
    HOST_OK(io[0], nvmf_host_wait(io[0]->h, c2, &cqe));
    g_assert_cmphex(cqe.status, ==, 0);
    HOST_OK(io[0], nvmf_host_wait(io[0]->h, c1, &cqe));
    g_assert_cmphex(cqe.status, ==, 0);
    g_assert_cmpint(g_get_monotonic_time() - t0, >=, 299 * 1000);
    ev = qtest_qmp_eventwait_ref(t->qts, "NVMET_FAULT_FIRED");
    g_assert_cmpuint(qdict_get_int(qdict_get_qdict(ev, "data"), "qid"), ==, 1);
    qobject_unref(ev);
    rw_verify(io[0], 2, 0, 131072);

    conn_close(io[0]);
    conn_close(io[1]);
    conn_close(a);
    target_stop(t);
}

/*
 * Drained sections while I/O is in flight on queues in an iothread: the
 * node moves between an iothread and the main loop (each move drains it)
 * and grows, with writes outstanding; every write lands.
 */
static void test_export_drain(void)
{
    Target *t = target_new();
    char *disk1 = target_file(t, "nvmet-tcp-test-XXXXXX.img", NULL);
    g_autofree char *extra = g_strdup_printf(
        "-object iothread,id=io0 -object iothread,id=io1 "
        "-object nvmet-subsystem,id=sub1,nqn=nqn.2026-11.org.qemu:drain,"
        "ports=port0,allow-any-host=on,iothreads=io0 "
        "-blockdev driver=file,filename=%s,node-name=disk1 "
        "-object nvmet-namespace,id=ns9,subsystem=sub1,nsid=1,"
        "node-name=disk1 ", disk1);
    Conn *a, *io;
    const size_t len = 8192;
    const int qd = 16, rounds = 12;
    g_autofree uint8_t *w = g_malloc(len * qd * rounds);
    g_autofree uint8_t *r = g_malloc0(len * qd * rounds);
    NvmfCqe cqe;
    int cids[16];

    target_run(t, extra);
    a = admin_connect(t->port, "nqn.2026-11.org.qemu:drain", HOSTNQN, false,
                      false, 30000);
    set_queues(a, 1);
    io = conn_open(t->port);
    HOST_OK(io, nvmf_host_icreq(io->h, false, false, 0));
    HOST_OK(io, nvmf_host_connect(io->h, 1, 127, a->cntlid,
                                  "nqn.2026-11.org.qemu:drain", HOSTNQN,
                                  hostid, 0, 0, &cqe));
    g_assert_cmphex(cqe.status, ==, 0);
    fill_random(w, len * qd * rounds);
    for (int round = 0; round < rounds; round++) {
        static const char *where[] = { "io1", NULL, "io0" };

        for (int i = 0; i < qd; i++) {
            size_t off = (round * qd + i) * len;
            uint8_t sqe[64];

            nvmf_sqe_init(sqe, NVME_CMD_WRITE, 1);
            nvmet_st32(sqe + NVME_SQE_CDW10, off / 512);
            nvmet_st32(sqe + NVME_SQE_CDW12, len / 512 - 1);
            cids[i] = nvmf_host_send_cmd(io->h, sqe, w + off, len, NULL, 0);
            g_assert_cmpint(cids[i], >, 0);
        }
        if (round % 4 == 3) {
            qtest_qmp_assert_success(t->qts, "{ 'execute': 'block_resize', "
                                     "'arguments': { 'node-name': 'disk1', "
                                     "'size': %d } }",
                                     DISK_SIZE + round * 65536);
        } else if (where[round % 3]) {
            qtest_qmp_assert_success(t->qts, "{ 'execute': "
                                     "'x-blockdev-set-iothread', "
                                     "'arguments': { 'node-name': 'disk1', "
                                     "'iothread': %s, 'force': true } }",
                                     where[round % 3]);
        } else {
            /* back to the main loop */
            qtest_qmp_assert_success(t->qts, "{ 'execute': "
                                     "'x-blockdev-set-iothread', "
                                     "'arguments': { 'node-name': 'disk1', "
                                     "'iothread': null, 'force': true } }");
        }
        for (int i = 0; i < qd; i++) {
            HOST_OK(io, nvmf_host_wait(io->h, cids[i], &cqe));
            g_assert_cmphex(cqe.status, ==, 0);
        }
    }
    /* read back within MDTS (1 MiB by default) */
    for (size_t off = 0; off < len * qd * rounds; off += len * qd) {
        g_assert_cmphex(rw_status(io, false, 1, off / 512, r + off, len * qd),
                        ==, 0);
    }
    g_assert_cmpmem(r, len * qd * rounds, w, len * qd * rounds);
    /* beyond MDTS: Invalid Field in Command (not Data SGL Length Invalid) */
    g_assert_cmphex(rw_status(io, false, 1, 0, r, len * qd * rounds), ==,
                    NVME_SC_INVALID_FIELD | NVME_STATUS_DNR);
    conn_close(io);
    conn_close(a);
    target_stop(t);
}

/*
 * allow-inactive: while the node is inactive (as on a migration source
 * after handover) I/O fails with Namespace Not Ready, which hosts retry,
 * and works again once it is active; without it, the export keeps the node
 * from being inactivated.
 */
static void test_export_inactive(void)
{
    Target *t = target_start(
        "-blockdev driver=null-co,size=8388608,read-zeroes=on,"
        "node-name=null1 ");
    Conn *a = admin_connect(t->port, SUBNQN, HOSTNQN, false, false, 30000);
    Conn *io;
    uint8_t buf[4096];
    QDict *rsp;

    set_queues(a, 1);
    io = io_connect(t->port, a, 1, false, false);
    qtest_qmp_assert_success(t->qts, "{ 'execute': 'block-export-add', "
                             "'arguments': { 'type': 'nvmet', 'id': 'e2', "
                             "'node-name': 'null1', 'writable': true, "
                             "'allow-inactive': true, "
                             "'subsystem': 'sub0', 'nsid': 2 } }");
    g_assert_cmphex(rw_status(io, true, 2, 0, buf, sizeof(buf)), ==, 0);
    qtest_qmp_assert_success(t->qts, "{ 'execute': 'blockdev-set-active', "
                             "'arguments': { 'node-name': 'null1', "
                             "'active': false } }");
    g_assert_cmphex(rw_status(io, false, 2, 0, buf, sizeof(buf)), ==,
                    NVME_SC_NS_NOT_READY);
    g_assert_cmphex(rw_status(io, true, 2, 0, buf, sizeof(buf)), ==,
                    NVME_SC_NS_NOT_READY);
    /* the other namespace is not affected */
    rw_verify(io, 1, 0, 4096);
    qtest_qmp_assert_success(t->qts, "{ 'execute': 'blockdev-set-active', "
                             "'arguments': { 'node-name': 'null1', "
                             "'active': true } }");
    g_assert_cmphex(rw_status(io, false, 2, 0, buf, sizeof(buf)), ==, 0);

    /* ns1's export (the -object shorthand) needs its node active */
    rsp = qtest_qmp(t->qts, "{ 'execute': 'blockdev-set-active', "
                    "'arguments': { 'node-name': 'disk0', "
                    "'active': false } }");
    g_assert_true(qdict_haskey(rsp, "error"));
    qobject_unref(rsp);
    rw_verify(io, 1, 8, 4096);
    conn_close(io);
    conn_close(a);
    target_stop(t);
}

/* ---- QMP: events, queries, decrypted capture ----------------------------- */

/* The NVMET_* events of a QEMU, in the order they came */
typedef struct EvLog {
    QTestState *qts;
    GPtrArray *evs;             /* QDict * (whole events) */
    unsigned next;              /* the first one not checked yet */
} EvLog;

static bool evlog_cb(QTestState *s, const char *name, QDict *event,
                     void *opaque)
{
    EvLog *l = opaque;

    if (!g_str_has_prefix(name, "NVMET_")) {
        return false;
    }
    qobject_ref(event);
    g_ptr_array_add(l->evs, event);
    return true;
}

static void evlog_unref(gpointer p)
{
    QDict *ev = p;

    qobject_unref(ev);
}

static EvLog *evlog_new(QTestState *qts)
{
    EvLog *l = g_new0(EvLog, 1);

    l->qts = qts;
    l->evs = g_ptr_array_new_with_free_func(evlog_unref);
    qtest_qmp_set_event_callback(qts, evlog_cb, l);
    return l;
}

static void evlog_free(EvLog *l)
{
    qtest_qmp_set_event_callback(l->qts, NULL, NULL);
    g_ptr_array_free(l->evs, true);
    g_free(l);
}

/* Every event the target sent before this is in the log afterwards. */
static void evlog_sync(EvLog *l)
{
    qobject_unref(qtest_qmp(l->qts, "{ 'execute': 'query-version' }"));
}

static G_NORETURN void evlog_fail(EvLog *l, const char *want)
{
    GString *s = g_string_new("");

    for (unsigned i = l->next; i < l->evs->len; i++) {
        QDict *ev = g_ptr_array_index(l->evs, i);
        g_autoptr(GString) j = qobject_to_json(QOBJECT(ev));

        g_string_append_printf(s, "\n  %s", j->str);
    }
    g_error("expected event %s, got:%s", want, s->str);
}

/*
 * The next event, waiting for it up to 20 s: it must be @name.  Returns
 * its data (the log owns it).
 */
static QDict *ev_next(EvLog *l, const char *name)
{
    QDict *ev;

    for (int i = 0; l->next >= l->evs->len; i++) {
        if (i == 2000) {
            evlog_fail(l, name);
        }
        evlog_sync(l);
        if (l->next >= l->evs->len) {
            g_usleep(10 * 1000);
        }
    }
    ev = g_ptr_array_index(l->evs, l->next);
    if (strcmp(qdict_get_str(ev, "event"), name)) {
        evlog_fail(l, name);
    }
    l->next++;
    return qdict_get_qdict(ev, "data");
}

/* No event came that was not checked. */
static void ev_none(EvLog *l)
{
    evlog_sync(l);
    if (l->next < l->evs->len) {
        evlog_fail(l, "none");
    }
}

/* The event is about queue @qid of controller @cntlid of @c's peer */
static void ev_where(QDict *ev, const char *peer, uint16_t cntlid, int qid)
{
    g_assert_cmpstr(qdict_get_str(ev, "port"), ==, "port0");
    if (peer) {
        g_assert_cmpstr(qdict_get_try_str(ev, "peer"), ==, peer);
    }
    if (cntlid) {
        g_assert_cmpint(qdict_get_int(ev, "cntlid"), ==, cntlid);
        g_assert_cmpstr(qdict_get_str(ev, "subnqn"), ==, TLSNQN);
        g_assert_cmpstr(qdict_get_str(ev, "hostnqn"), ==, HOSTNQN);
    } else {
        g_assert_false(qdict_haskey(ev, "cntlid"));
    }
    if (qid >= 0) {
        g_assert_cmpint(qdict_get_int(ev, "qid"), ==, qid);
    } else {
        g_assert_false(qdict_haskey(ev, "qid"));
    }
    g_assert_false(qdict_haskey(ev, "suppressed"));
}

/* "127.0.0.1:port" of the host's end of @c */
static char *conn_peer(Conn *c)
{
    struct sockaddr_in sa;
    socklen_t len = sizeof(sa);

    g_assert_cmpint(getsockname(c->fd, (struct sockaddr *)&sa, &len), ==, 0);
    return g_strdup_printf("127.0.0.1:%u", ntohs(sa.sin_port));
}

/* The return value of a QMP command that must succeed (a reference) */
static QObject *qmp_ok(QTestState *qts, QDict *rsp)
{
    QObject *ret;

    if (!qdict_haskey(rsp, "return")) {
        g_autoptr(GString) j = qobject_to_json(QOBJECT(rsp));

        g_error("QMP command failed: %s", j->str);
    }
    ret = qdict_get(rsp, "return");
    qobject_ref(ret);
    qobject_unref(rsp);
    return ret;
}

/* The error description of a QMP command that must fail */
static char *qmp_err(QDict *rsp)
{
    char *desc;

    g_assert_true(qdict_haskey(rsp, "error"));
    desc = g_strdup(qdict_get_str(qdict_get_qdict(rsp, "error"), "desc"));
    qobject_unref(rsp);
    return desc;
}

static QDict *qlist_nth_dict(QList *l, unsigned n)
{
    QListEntry *e;

    QLIST_FOREACH_ENTRY(l, e) {
        if (n-- == 0) {
            return qobject_to(QDict, qlist_entry_obj(e));
        }
    }
    g_error("list has no element %u", n);
}

/*
 * query-nvmet for one controller: its queue @qid (a reference; the whole
 * reply's JSON goes to @json if not NULL).
 */
static QDict *query_queue(QTestState *qts, uint16_t cntlid, uint16_t qid,
                          GString *json)
{
    QDict *info = qobject_to(QDict, qmp_ok(qts, qtest_qmp(qts,
        "{ 'execute': 'query-nvmet', 'arguments': "
        "{ 'subsystem': 'sub0', 'cntlid': %u } }", cntlid)));
    QList *ctrls = qdict_get_qlist(info, "controllers");
    QDict *ctrl, *q = NULL;
    QListEntry *e;

    if (json) {
        g_autoptr(GString) j = qobject_to_json(QOBJECT(info));

        g_string_append(json, j->str);
    }
    g_assert_cmpint(qlist_size(ctrls), ==, 1);
    ctrl = qlist_nth_dict(ctrls, 0);
    g_assert_cmpint(qdict_get_int(ctrl, "cntlid"), ==, cntlid);
    g_assert_cmpstr(qdict_get_str(ctrl, "subsystem"), ==, "sub0");
    g_assert_cmpstr(qdict_get_str(ctrl, "port"), ==, "port0");
    QLIST_FOREACH_ENTRY(qdict_get_qlist(ctrl, "queues"), e) {
        QDict *d = qobject_to(QDict, qlist_entry_obj(e));

        if (qdict_get_int(d, "qid") == qid) {
            q = d;
            qobject_ref(q);
        }
    }
    qobject_unref(info);
    g_assert_nonnull(q);
    return q;
}

/* query-nvmet-psks: the entry of HOSTNQN and TLSNQN (a reference) */
static QDict *query_psk(QTestState *qts, GString *json)
{
    QList *l = qobject_to(QList, qmp_ok(qts, qtest_qmp(qts,
        "{ 'execute': 'query-nvmet-psks' }")));
    QDict *found = NULL;
    QListEntry *e;

    if (json) {
        g_autoptr(GString) j = qobject_to_json(QOBJECT(l));

        g_string_append(json, j->str);
    }
    QLIST_FOREACH_ENTRY(l, e) {
        QDict *d = qobject_to(QDict, qlist_entry_obj(e));

        if (g_str_equal(qdict_get_str(d, "hostnqn"), HOSTNQN) &&
            g_str_equal(qdict_get_str(d, "subnqn"), TLSNQN)) {
            g_assert_null(found);
            found = d;
            qobject_ref(found);
        }
    }
    qobject_unref(l);
    g_assert_nonnull(found);
    return found;
}

/* The auth and tls members of a queue */
#define QAUTH(q) qdict_get_qdict((q), "auth")
#define QTLS(q)  qdict_get_qdict((q), "tls")

/* @json contains none of the key material in @keys (as text) */
static void assert_no_secrets(const char *json, GPtrArray *keys)
{
    for (unsigned i = 0; i < keys->len; i++) {
        const char *k = g_ptr_array_index(keys, i);

        if (strstr(json, k)) {
            g_error("key material '%s' in a QMP reply or event", k);
        }
    }
}

/* The ways a key could show up in JSON: hex (both cases) and base64 */
static void add_key_forms(GPtrArray *keys, const uint8_t *key, size_t len)
{
    GString *hex = g_string_new(""), *HEX = g_string_new("");

    for (size_t i = 0; i < len; i++) {
        g_string_append_printf(hex, "%02x", key[i]);
        g_string_append_printf(HEX, "%02X", key[i]);
    }
    g_ptr_array_add(keys, g_string_free(hex, false));
    g_ptr_array_add(keys, g_string_free(HEX, false));
    /* the first 16 bytes are enough to spot it in any base64 */
    g_ptr_array_add(keys, g_base64_encode(key, MIN(len, 15)));
}

/*
 * What a host does is what the events and the queries say: a cleartext
 * admin queue authenticates with NEWTLSPSK, the host comes back over TLS,
 * then REPLACETLSPSK five times, each followed by a TLS reconnection with
 * the new PSK and a refused one with the old.  No key material in any
 * reply or event.
 */
static void test_qmp_concat(void)
{
    TlsTarget *tt = tls_target_start();
    EvLog *l = evlog_new(tt->qts);
    g_autoptr(GPtrArray) keys = g_ptr_array_new_with_free_func(g_free);
    g_autoptr(GString) json = g_string_new("");
    g_autofree char *identity = NULL, *first = NULL, *peer = NULL;
    g_autofree char *kx = NULL;
    uint8_t key[48], hash;
    int64_t serial;
    QDict *ev, *q, *psk;
    uint16_t cntlid;
    Conn *c, *a;

    g_ptr_array_add(keys, g_strdup(tt->hkey));
    g_ptr_array_add(keys, g_strdup(tt->ckey));
    g_ptr_array_add(keys, g_strdup(tls_psk01));
    /* the base64 of the configured PSK, and the DH-HMAC-CHAP secrets */
    g_ptr_array_add(keys, g_strndup(tls_psk01 + 16, 24));
    add_key_forms(keys, key_a, sizeof(key_a));
    add_key_forms(keys, key_b, sizeof(key_b));

    /* connect: a cleartext admin queue that must authenticate */
    c = conn_open(tt->port);
    peer = conn_peer(c);
    ev_where(ev_next(l, "NVMET_CONNECTION_ACCEPTED"), peer, 0, -1);
    g_assert_true(tls_connect(c, TLSNQN, 0, 0xffff) &
                  NVME_CONNECT_AUTHREQ_ATR);
    ev = ev_next(l, "NVMET_CONTROLLER_CREATED");
    ev_where(ev, peer, c->cntlid, 0);
    g_assert_cmpint(qdict_get_int(ev, "kato"), ==, 0);
    ev = ev_next(l, "NVMET_QUEUE_CONNECTED");
    ev_where(ev, peer, c->cntlid, 0);
    g_assert_true(qdict_get_bool(ev, "auth-required"));
    ev_none(l);
    q = query_queue(tt->qts, c->cntlid, 0, json);
    g_assert_cmpstr(qdict_get_str(q, "peer"), ==, peer);
    g_assert_true(qdict_get_bool(QAUTH(q), "required"));
    g_assert_false(qdict_get_bool(QAUTH(q), "authenticated"));
    g_assert_cmpstr(qdict_get_str(QAUTH(q), "state"), ==, "idle");
    g_assert_cmpint(qdict_get_int(QAUTH(q), "successes"), ==, 0);
    g_assert_false(qdict_haskey(QAUTH(q), "transaction-id"));
    g_assert_cmpstr(qdict_get_str(QTLS(q), "psk"), ==, "none");
    qobject_unref(q);

    /* authenticate with NEWTLSPSK */
    identity = tls_concat_auth(c, tt->hkey, tt->ckey, TLSNQN,
                               NVME_AUTH_SECP_NEWTLSPSK, 1, key, &hash);
    g_assert_nonnull(identity);
    add_key_forms(keys, key, hash == 2 ? 48 : 32);
    ev = ev_next(l, "NVMET_AUTH_SUCCEEDED");
    ev_where(ev, peer, c->cntlid, 0);
    g_assert_cmpstr(qdict_get_str(ev, "sc-c"), ==, "newtlspsk");
    g_assert_cmpint(qdict_get_int(ev, "transaction-id"), ==, 1);
    g_assert_cmpint(qdict_get_int(ev, "successes"), ==, 1);
    g_assert_cmpstr(qdict_get_str(ev, "hash"), ==,
                    hash == 2 ? "sha384" : "sha256");
    g_assert_false(qdict_get_bool(ev, "bidirectional"));
    ev = ev_next(l, "NVMET_TLS_PSK_GENERATED");
    ev_where(ev, peer, c->cntlid, 0);
    g_assert_cmpstr(qdict_get_str(ev, "identity"), ==, identity);
    g_assert_false(qdict_haskey(ev, "replaced-key-serial"));
    serial = qdict_get_int(ev, "key-serial");
    ev_none(l);
    q = query_queue(tt->qts, c->cntlid, 0, json);
    g_assert_true(qdict_get_bool(QAUTH(q), "authenticated"));
    g_assert_cmpint(qdict_get_int(QAUTH(q), "successes"), ==, 1);
    g_assert_cmpint(qdict_get_int(QAUTH(q), "transaction-id"), ==, 1);
    g_assert_cmpstr(qdict_get_str(QAUTH(q), "sc-c"), ==, "newtlspsk");
    g_assert_cmpstr(qdict_get_str(QAUTH(q), "state"), ==, "idle");
    qobject_unref(q);
    psk = query_psk(tt->qts, json);
    g_assert_cmpstr(qdict_get_str(psk, "identity"), ==, identity);
    g_assert_cmpstr(qdict_get_str(psk, "made-by"), ==, "newtlspsk");
    g_assert_cmpint(qdict_get_int(psk, "key-serial"), ==, serial);
    g_assert_cmpint(qdict_get_int(psk, "replaced"), ==, 0);
    g_assert_cmpint(qdict_get_int(psk, "cntlid"), ==, c->cntlid);
    g_assert_cmpint(qdict_get_int(psk, "expires") -
                    qdict_get_int(psk, "generated"), ==, 3600 * 1000);
    g_assert_cmpint(llabs(qdict_get_int(psk, "generated") -
                          g_get_real_time() / 1000), <, 60 * 1000);
    qobject_unref(psk);
    /* the host tears the cleartext queue down */
    cntlid = c->cntlid;
    conn_close(c);
    ev = ev_next(l, "NVMET_CONNECTION_CLOSED");
    ev_where(ev, peer, cntlid, 0);
    g_assert_cmpstr(qdict_get_str(ev, "reason"), ==,
                    "the host closed the connection");
    ev = ev_next(l, "NVMET_CONTROLLER_DESTROYED");
    g_assert_cmpstr(qdict_get_str(ev, "reason"), ==, "admin queue closed");

    /* TLS reconnection with the generated PSK */
    a = tls_conn(tt->port, identity, key, hash);
    g_free(peer);
    peer = conn_peer(a);
    ev_where(ev_next(l, "NVMET_CONNECTION_ACCEPTED"), peer, 0, -1);
    tls_connect(a, TLSNQN, 0, 0xffff);
    HOST_OK(a, nvmf_host_enable(a->h));
    ev = ev_next(l, "NVMET_TLS_HANDSHAKE_DONE");
    ev_where(ev, peer, 0, -1);
    g_assert_cmpstr(qdict_get_str(ev, "identity"), ==, identity);
    g_assert_cmpstr(qdict_get_str(ev, "psk"), ==, "generated");
    g_assert_cmpint(qdict_get_int(ev, "key-serial"), ==, serial);
    g_assert_cmpstr(qdict_get_str(ev, "version"), ==, "TLS1.3");
    g_assert_cmpstr(qdict_get_str(ev, "cipher"), ==,
                    hash == 2 ? "TLS_AES_256_GCM_SHA384" :
                    "TLS_AES_128_GCM_SHA256");
    kx = g_strdup(qdict_get_str(ev, "key-exchange"));
    g_test_message("TLS: %s, key exchange %s", qdict_get_str(ev, "cipher"),
                   kx);
    g_assert_true(g_str_equal(kx, "PSK") || g_str_equal(kx, "DHE-PSK") ||
                  g_str_equal(kx, "ECDHE-PSK"));
    ev_where(ev_next(l, "NVMET_CONTROLLER_CREATED"), peer, a->cntlid, 0);
    ev = ev_next(l, "NVMET_QUEUE_CONNECTED");
    g_assert_false(qdict_get_bool(ev, "auth-required"));
    ev_where(ev_next(l, "NVMET_CONTROLLER_ENABLED"), peer, a->cntlid, 0);
    ev_none(l);
    q = query_queue(tt->qts, a->cntlid, 0, json);
    g_assert_cmpstr(qdict_get_str(QTLS(q), "psk"), ==, "generated");
    g_assert_cmpstr(qdict_get_str(QTLS(q), "identity"), ==, identity);
    g_assert_cmpint(qdict_get_int(QTLS(q), "key-serial"), ==, serial);
    g_assert_true(qdict_get_bool(QTLS(q), "holds-key"));
    g_assert_cmpstr(qdict_get_str(QTLS(q), "version"), ==, "TLS1.3");
    g_assert_cmpstr(qdict_get_str(QTLS(q), "cipher"), ==,
                    hash == 2 ? "TLS_AES_256_GCM_SHA384" :
                    "TLS_AES_128_GCM_SHA256");
    g_assert_cmpstr(qdict_get_str(QTLS(q), "key-exchange"), ==, kx);
    g_assert_false(qdict_get_bool(QAUTH(q), "required"));
    g_assert_cmpint(qdict_get_int(QAUTH(q), "successes"), ==, 0);
    g_assert_cmpint(qdict_get_int(q, "bytes-received"), >,
                    qdict_get_int(q, "pdu-bytes-received"));
    qobject_unref(q);
    first = g_strdup(identity);

    /* REPLACETLSPSK 5 times */
    for (int i = 0; i < 5; i++) {
        g_autofree char *old = g_steal_pointer(&identity);
        g_autofree char *npeer = NULL;
        int64_t old_serial = serial;
        uint8_t oldkey[48];
        Conn *n;

        memcpy(oldkey, key, sizeof(key));
        identity = tls_concat_auth(a, tt->hkey, tt->ckey, TLSNQN,
                                   NVME_AUTH_SECP_REPLACETLSPSK, 10 + i, key,
                                   &hash);
        g_assert_nonnull(identity);
        add_key_forms(keys, key, hash == 2 ? 48 : 32);
        ev = ev_next(l, "NVMET_AUTH_SUCCEEDED");
        ev_where(ev, peer, a->cntlid, 0);
        g_assert_cmpstr(qdict_get_str(ev, "sc-c"), ==, "replacetlspsk");
        g_assert_cmpint(qdict_get_int(ev, "transaction-id"), ==, 10 + i);
        g_assert_cmpint(qdict_get_int(ev, "successes"), ==, i + 1);
        ev = ev_next(l, "NVMET_TLS_PSK_REPLACED");
        ev_where(ev, peer, a->cntlid, 0);
        g_assert_cmpstr(qdict_get_str(ev, "identity"), ==, identity);
        g_assert_cmpint(qdict_get_int(ev, "replaced-key-serial"), ==,
                        old_serial);
        serial = qdict_get_int(ev, "key-serial");
        g_assert_cmpint(serial, >, old_serial);
        ev_none(l);
        q = query_queue(tt->qts, a->cntlid, 0, json);
        g_assert_cmpint(qdict_get_int(QAUTH(q), "successes"), ==, i + 1);
        g_assert_cmpint(qdict_get_int(QAUTH(q), "transaction-id"), ==,
                        10 + i);
        g_assert_cmpstr(qdict_get_str(QAUTH(q), "sc-c"), ==,
                        "replacetlspsk");
        /* the session goes on with the PSK it was made with */
        g_assert_cmpstr(qdict_get_str(QTLS(q), "identity"), ==, first);
        qobject_unref(q);
        psk = query_psk(tt->qts, json);
        g_assert_cmpstr(qdict_get_str(psk, "identity"), ==, identity);
        g_assert_cmpstr(qdict_get_str(psk, "made-by"), ==, "replacetlspsk");
        g_assert_cmpint(qdict_get_int(psk, "replaced"), ==, i + 1);
        g_assert_cmpint(qdict_get_int(psk, "key-serial"), ==, serial);
        qobject_unref(psk);

        /* the old identity is refused, and the failure names it */
        n = conn_open(tt->port);
        npeer = conn_peer(n);
        g_assert_cmpint(conn_start_tls(n, old, oldkey, hash == 2 ? 48 : 32,
                                       hash), ==, -1);
        conn_close(n);
        ev_where(ev_next(l, "NVMET_CONNECTION_ACCEPTED"), npeer, 0, -1);
        ev = ev_next(l, "NVMET_TLS_HANDSHAKE_FAILED");
        ev_where(ev, npeer, 0, -1);
        g_assert_cmpstr(qdict_get_str(ev, "identity"), ==, old);
        g_assert_nonnull(strstr(qdict_get_str(ev, "reason"), "handshake"));
        ev_where(ev_next(l, "NVMET_CONNECTION_CLOSED"), npeer, 0, -1);

        /* a reconnection: the new queue runs on the new PSK */
        n = tls_conn(tt->port, identity, key, hash);
        g_free(npeer);
        npeer = conn_peer(n);
        tls_connect(n, TLSNQN, 0, 0xffff);
        ev_where(ev_next(l, "NVMET_CONNECTION_ACCEPTED"), npeer, 0, -1);
        ev = ev_next(l, "NVMET_TLS_HANDSHAKE_DONE");
        g_assert_cmpstr(qdict_get_str(ev, "identity"), ==, identity);
        g_assert_cmpint(qdict_get_int(ev, "key-serial"), ==, serial);
        ev_where(ev_next(l, "NVMET_CONTROLLER_CREATED"), npeer, n->cntlid, 0);
        ev_where(ev_next(l, "NVMET_QUEUE_CONNECTED"), npeer, n->cntlid, 0);
        q = query_queue(tt->qts, n->cntlid, 0, json);
        g_assert_cmpstr(qdict_get_str(QTLS(q), "identity"), ==, identity);
        g_assert_cmpint(qdict_get_int(QTLS(q), "key-serial"), ==, serial);
        qobject_unref(q);
        cntlid = n->cntlid;
        conn_close(n);
        ev_where(ev_next(l, "NVMET_CONNECTION_CLOSED"), npeer, cntlid, 0);
        ev_next(l, "NVMET_CONTROLLER_DESTROYED");
    }

    /* a shutdown, then the admin queue goes */
    {
        NvmfCqe cqe;

        HOST_OK(a, nvmf_host_prop_set(a->h, NVME_REG_CC,
                                      NVME_CC_EN | (6 << 16) | (4 << 20) |
                                      (1 << NVME_CC_SHN_SHIFT), &cqe));
        g_assert_cmphex(cqe.status, ==, 0);
    }
    ev_where(ev_next(l, "NVMET_CONTROLLER_SHUTDOWN"), peer, a->cntlid, 0);
    q = query_queue(tt->qts, a->cntlid, 0, NULL);
    qobject_unref(q);
    {
        QDict *info = qobject_to(QDict, qmp_ok(tt->qts, qtest_qmp(tt->qts,
            "{ 'execute': 'query-nvmet' }")));
        g_autoptr(GString) j = qobject_to_json(QOBJECT(info));
        QDict *ctrl = qlist_nth_dict(qdict_get_qlist(info, "controllers"), 0);

        g_string_append(json, j->str);
        g_assert_cmpstr(qdict_get_str(ctrl, "shutdown"), ==, "complete");
        g_assert_true(qdict_get_bool(ctrl, "enabled"));
        qobject_unref(info);
    }
    conn_close(a);
    ev_next(l, "NVMET_CONNECTION_CLOSED");
    ev_next(l, "NVMET_CONTROLLER_DESTROYED");
    ev_none(l);

    /* every reply and every event, without key material */
    for (unsigned i = 0; i < l->evs->len; i++) {
        QDict *e = g_ptr_array_index(l->evs, i);
        g_autoptr(GString) j = qobject_to_json(QOBJECT(e));

        g_string_append(json, j->str);
    }
    assert_no_secrets(json->str, keys);
    evlog_free(l);
    tls_target_stop(tt);
}

/* ---- decrypted capture, read back with tshark ---------------------------- */

/* tshark, or NULL and the test skipped (failed with NVMET_REQUIRE_TSHARK) */
static char *find_tshark(void)
{
    char *path = g_find_program_in_path("tshark");

    if (!path) {
        if (g_getenv("NVMET_REQUIRE_TSHARK")) {
            g_test_message("NVMET_REQUIRE_TSHARK is set but there is no "
                           "tshark (Debian package tshark)");
            g_test_fail();
        } else {
            g_test_skip("no tshark (Debian package tshark)");
        }
    }
    return path;
}

/* Run tshark on @pcap with @args; its standard output */
static char *tshark(const char *bin, const char *pcap, const char *args)
{
    g_autofree char *cmd = g_strdup_printf("%s -n -r %s %s", bin, pcap, args);
    g_autofree char *err = NULL;
    char *out = NULL;
    int status;

    g_assert_true(g_spawn_command_line_sync(cmd, &out, &err, &status, NULL));
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
        g_error("%s failed: %s", cmd, err);
    }
    return out;
}

/* What tshark made of one TCP stream of a capture */
typedef struct CapStream {
    GString *types;     /* NVMe/TCP PDU types, one letter each (a + type) */
    GString *fctypes;   /* fabrics command types, one letter each */
    GString *opcodes;   /* NVM/admin opcodes of command capsules */
    bool syn, fin;
} CapStream;

static void cap_stream_free(gpointer p)
{
    CapStream *cs = p;

    g_string_free(cs->types, true);
    g_string_free(cs->fctypes, true);
    g_string_free(cs->opcodes, true);
    g_free(cs);
}

static void append_values(GString *s, const char *field, char base)
{
    g_auto(GStrv) v = g_strsplit(field, ",", -1);

    for (char **p = v; *p; p++) {
        unsigned int n;

        if (**p && qemu_strtoui(*p, NULL, 0, &n) == 0) {
            g_string_append_c(s, base + n);
        }
    }
}

/*
 * Decode @pcap with tshark: no malformed packet and no expert error, and
 * per TCP stream what it carries (stream number -> CapStream).
 */
static GHashTable *decode_capture(const char *bin, const char *pcap)
{
    GHashTable *streams = g_hash_table_new_full(NULL, NULL, NULL,
                                                cap_stream_free);
    g_autofree char *bad = NULL, *out = NULL;
    g_auto(GStrv) lines = NULL;

    bad = tshark(bin, pcap, "-Y '_ws.malformed || _ws.expert.severity == "
                 "error' -T fields -e frame.number -e _ws.col.Info");
    if (*bad) {
        g_error("tshark finds malformed packets in %s:\n%s", pcap, bad);
    }
    out = tshark(bin, pcap, "-T fields -E occurrence=a -E aggregator=, "
                 "-e tcp.stream -e tcp.flags.syn -e tcp.flags.fin "
                 "-e nvme-tcp.type -e nvme.fabrics.cmd.fctype "
                 "-e nvme.cmd.opc");
    lines = g_strsplit(out, "\n", -1);
    for (char **l = lines; *l && **l; l++) {
        g_auto(GStrv) f = g_strsplit(*l, "\t", -1);
        unsigned int n;
        CapStream *cs;

        g_assert_cmpint(g_strv_length(f), ==, 6);
        g_assert_cmpint(qemu_strtoui(f[0], NULL, 10, &n), ==, 0);
        cs = g_hash_table_lookup(streams, GUINT_TO_POINTER(n));
        if (!cs) {
            cs = g_new0(CapStream, 1);
            cs->types = g_string_new("");
            cs->fctypes = g_string_new("");
            cs->opcodes = g_string_new("");
            g_hash_table_insert(streams, GUINT_TO_POINTER(n), cs);
        }
        cs->syn |= g_str_equal(f[1], "1") || g_str_equal(f[1], "True");
        cs->fin |= g_str_equal(f[2], "1") || g_str_equal(f[2], "True");
        append_values(cs->types, f[3], 'a');
        append_values(cs->fctypes, f[4], 'a');
        append_values(cs->opcodes, f[5], 'a');
    }
    return streams;
}

/* PDU type letters: ICReq a, ICResp b, capsule cmd e, resp f, ... */
#define PT_ICREQ   "a"
#define PT_ICRESP  "b"
#define PT_CMD     "e"
#define PT_RSP     "f"
#define PT_H2CDATA "g"
#define PT_C2HDATA "h"
#define PT_R2T     "j"
/* fabrics command types: Property Set a, Connect b, Get e, Send f, Recv g */
#define FC_PROP_SET "a"
#define FC_CONNECT  "b"
#define FC_PROP_GET "e"
#define FC_SEND     "f"
#define FC_RECV     "g"

static CapStream *cap_stream(GHashTable *streams, unsigned n)
{
    CapStream *cs = g_hash_table_lookup(streams, GUINT_TO_POINTER(n));

    g_assert_nonnull(cs);
    g_test_message("stream %u: PDUs %s fabrics %s opcodes %s", n,
                   cs->types->str, cs->fctypes->str, cs->opcodes->str);
    g_assert_true(cs->syn);
    /* ICReq, ICResp, Connect and its response come first */
    g_assert_true(g_str_has_prefix(cs->types->str,
                                   PT_ICREQ PT_ICRESP PT_CMD PT_RSP));
    g_assert_true(g_str_has_prefix(cs->fctypes->str, FC_CONNECT));
    return cs;
}

/*
 * A scripted exchange captured while it happens, then decoded by
 * Wireshark's dissector: cleartext with bidirectional DH-HMAC-CHAP on the
 * admin and the I/O queue, then secure channel concatenation (NEWTLSPSK,
 * the TLS queues, REPLACETLSPSK, I/O), every PDU in the clear.
 */
static void test_qmp_capture(void)
{
    TlsTarget *tt = tls_target_start();
    g_autofree char *bin = find_tshark();
    g_autofree char *pcap = NULL, *identity = NULL;
    g_autoptr(GHashTable) streams = NULL;
    uint8_t key[48], hash;
    NvmfAuthParams p;
    NvmfAuthResult r;
    CapStream *cs;
    struct stat st;
    Conn *a, *io;
    QDict *info;
    NvmfCqe cqe;

    if (!bin) {
        tls_target_stop(tt);
        return;
    }
    pcap = g_strdup(target_path(tt->t, g_strdup_printf("%s.pcap",
                                                       tt->t->disk)));
    qobject_unref(qmp_ok(tt->qts, qtest_qmp(tt->qts,
        "{ 'execute': 'nvmet-capture-start', 'arguments': "
        "{ 'port': 'port0', 'file': %s } }", pcap)));
    g_assert_cmpint(stat(pcap, &st), ==, 0);
    g_assert_cmpint(st.st_mode & 0777, ==, 0600);

    /* stream 0, 1: cleartext, bidirectional authentication, I/O */
    a = conn_open(tt->port);
    tls_connect(a, TLSNQN, 0, 0xffff);
    auth_params(&p, tt->hkey, tt->ckey, 1);
    p.subnqn = TLSNQN;
    auth_must_pass(a, &p, &r);
    HOST_OK(a, nvmf_host_enable(a->h));
    HOST_OK(a, nvmf_host_set_features(a->h, NVME_FEAT_NUM_QUEUES, 0x00010001,
                                      &cqe));
    io = conn_open(tt->port);
    tls_connect(io, TLSNQN, 1, a->cntlid);
    auth_params(&p, tt->hkey, tt->ckey, 2);
    p.subnqn = TLSNQN;
    auth_must_pass(io, &p, &r);
    nvmf_host_set_incapsule(io->h, 0);      /* writes with R2T */
    rw_check(io, 16, 0x5e);
    conn_close(io);
    conn_close(a);

    /* stream 2: NEWTLSPSK on a cleartext admin queue */
    a = conn_open(tt->port);
    tls_connect(a, TLSNQN, 0, 0xffff);
    identity = tls_concat_auth(a, tt->hkey, tt->ckey, TLSNQN,
                               NVME_AUTH_SECP_NEWTLSPSK, 3, key, &hash);
    g_assert_nonnull(identity);
    conn_close(a);
    /* streams 3, 4: TLS, REPLACETLSPSK, I/O */
    a = tls_conn(tt->port, identity, key, hash);
    tls_connect(a, TLSNQN, 0, 0xffff);
    HOST_OK(a, nvmf_host_enable(a->h));
    HOST_OK(a, nvmf_host_set_features(a->h, NVME_FEAT_NUM_QUEUES, 0x00010001,
                                      &cqe));
    io = tls_conn(tt->port, identity, key, hash);
    tls_connect(io, TLSNQN, 1, a->cntlid);
    g_free(identity);
    identity = tls_concat_auth(a, tt->hkey, tt->ckey, TLSNQN,
                               NVME_AUTH_SECP_REPLACETLSPSK, 4, key, &hash);
    g_assert_nonnull(identity);
    nvmf_host_set_incapsule(io->h, 0);
    rw_check(io, 24, 0xe5);
    conn_close(io);
    conn_close(a);

    /* wait until the target saw them go, then stop */
    for (int i = 0; i < 500; i++) {
        QDict *port;

        info = qobject_to(QDict, qmp_ok(tt->qts, qtest_qmp(tt->qts,
            "{ 'execute': 'query-nvmet' }")));
        port = qlist_nth_dict(qdict_get_qlist(info, "ports"), 0);
        g_assert_cmpstr(qdict_get_str(port, "id"), ==, "port0");
        if (qdict_get_int(port, "connections") == 0) {
            QDict *capture = qdict_get_qdict(port, "capture");

            g_assert_cmpstr(qdict_get_str(capture, "file"), ==, pcap);
            g_assert_cmpint(qdict_get_int(capture, "connections"), ==, 0);
            g_assert_cmpint(qdict_get_int(capture, "packets"), >, 50);
            qobject_unref(info);
            break;
        }
        qobject_unref(info);
        g_usleep(10 * 1000);
    }
    qobject_unref(qmp_ok(tt->qts, qtest_qmp(tt->qts,
        "{ 'execute': 'nvmet-capture-stop', 'arguments': "
        "{ 'port': 'port0' } }")));

    streams = decode_capture(bin, pcap);
    g_assert_cmpint(g_hash_table_size(streams), ==, 5);
    /* cleartext admin queue: bidirectional DH-HMAC-CHAP, then enable */
    cs = cap_stream(streams, 0);
    g_assert_true(g_str_has_prefix(cs->fctypes->str,
                                   FC_CONNECT FC_SEND FC_RECV FC_SEND FC_RECV
                                   FC_SEND FC_PROP_SET));
    g_assert_true(cs->fin);
    /* its I/O queue: authentication, then a write with R2T and a read */
    cs = cap_stream(streams, 1);
    g_assert_true(g_str_has_prefix(cs->fctypes->str,
                                   FC_CONNECT FC_SEND FC_RECV FC_SEND FC_RECV
                                   FC_SEND));
    g_assert_nonnull(strstr(cs->types->str, PT_CMD PT_R2T PT_H2CDATA PT_RSP));
    g_assert_nonnull(strstr(cs->types->str, PT_CMD PT_C2HDATA PT_RSP));
    g_assert_nonnull(strstr(cs->opcodes->str, "bc"));      /* write, read */
    /* NEWTLSPSK: negotiate, challenge, reply, success1 */
    cs = cap_stream(streams, 2);
    g_assert_cmpstr(cs->fctypes->str, ==,
                    FC_CONNECT FC_SEND FC_RECV FC_SEND FC_RECV);
    /* the TLS admin queue, decrypted: REPLACETLSPSK after enabling */
    cs = cap_stream(streams, 3);
    g_assert_nonnull(strstr(cs->fctypes->str,
                            FC_PROP_SET FC_PROP_GET FC_SEND FC_RECV FC_SEND
                            FC_RECV));
    /* the TLS I/O queue, decrypted */
    cs = cap_stream(streams, 4);
    g_assert_cmpstr(cs->fctypes->str, ==, FC_CONNECT);
    g_assert_nonnull(strstr(cs->types->str, PT_CMD PT_R2T PT_H2CDATA PT_RSP));
    g_assert_nonnull(strstr(cs->types->str, PT_CMD PT_C2HDATA PT_RSP));
    tls_target_stop(tt);
}

/* The pcap property: a capture from the first connection on */
static void test_qmp_capture_property(void)
{
    Target *t = target_new();
    g_autofree char *bin = find_tshark();
    char *pcap = target_path(t, g_strdup_printf("%s.pcap", t->disk));
    g_autoptr(GHashTable) streams = NULL;
    CapStream *cs;
    Conn *a;

    if (!bin) {
        target_stop(t);
        return;
    }
    /* an existing file is truncated and made private */
    g_assert_true(g_file_set_contents(pcap, "old contents", -1, NULL));
    g_assert_cmpint(chmod(pcap, 0644), ==, 0);
    target_launch(t,
        "-blockdev driver=file,filename=%s,node-name=disk0 "
        "-object nvmet-port,id=port0,traddr=127.0.0.1,trsvcid=0,pcap=%s "
        "-object nvmet-subsystem,id=sub0,nqn=" SUBNQN ",ports=port0,"
        "allow-any-host=on "
        "-object nvmet-namespace,id=ns1,subsystem=sub0,nsid=1,"
        "node-name=disk0", t->disk, pcap);
    a = admin_connect(t->port, SUBNQN, HOSTNQN, true, true, 0);
    {
        uint8_t id[4096];
        NvmfCqe cqe;

        HOST_OK(a, nvmf_host_identify(a->h, NVME_ID_CNS_CTRL, 0, 0, id,
                                      &cqe));
    }
    conn_close(a);
    /* QEMU's exit closes the capture */
    qtest_quit(t->qts);
    t->qts = NULL;
    {
        struct stat st;

        g_assert_cmpint(stat(pcap, &st), ==, 0);
        g_assert_cmpint(st.st_mode & 0777, ==, 0600);
    }
    streams = decode_capture(bin, pcap);
    g_assert_cmpint(g_hash_table_size(streams), ==, 1);
    cs = cap_stream(streams, 0);
    /* with digests, Identify's 4 KiB come in C2HData */
    g_assert_nonnull(strstr(cs->types->str, PT_CMD PT_C2HDATA PT_RSP));
    g_assert_true(cs->fin);
    target_stop(t);
}

/* Verified 4 KiB writes (with R2T) and reads on one I/O queue, in a thread */
typedef struct CapIo {
    Conn *io;
    uint64_t lba;
} CapIo;

static gpointer capture_io_thread(gpointer opaque)
{
    CapIo *ci = opaque;

    for (int i = 0; i < 64; i++) {
        rw_check(ci->io, ci->lba + i, 0x40 + i);
    }
    return NULL;
}

/*
 * A capture of I/O queues that run in iothreads: two queues of one
 * controller in io0 and io1, driven at the same time from two threads, so
 * that both iothreads write to the capture at once.  Every PDU of both
 * streams must be in it, decodable, in order.
 */
static void test_qmp_capture_iothreads(void)
{
    Target *t = target_new();
    g_autofree char *bin = find_tshark();
    char *pcap = target_path(t, g_strdup_printf("%s.pcap", t->disk));
    char *trace = target_path(t, g_strdup_printf("%s.trace", t->disk));
    g_autofree char *moves = NULL;
    g_autoptr(GHashTable) streams = NULL;
    CapIo ci[2];
    GThread *th[2];
    CapStream *cs;
    Conn *a;

    if (!bin) {
        target_stop(t);
        return;
    }
    target_launch(t,
        "-object iothread,id=io0 -object iothread,id=io1 "
        "-trace enable=nvmet_qemu_conn_move,file=%s "
        "-blockdev driver=file,filename=%s,node-name=disk0 "
        "-object nvmet-port,id=port0,traddr=127.0.0.1,trsvcid=0,pcap=%s "
        "-object nvmet-subsystem,id=sub0,nqn=" SUBNQN ",ports=port0,"
        "allow-any-host=on,iothreads=io0,iothreads=io1 "
        "-object nvmet-namespace,id=ns1,subsystem=sub0,nsid=1,"
        "node-name=disk0", trace, t->disk, pcap);
    a = admin_connect(t->port, SUBNQN, HOSTNQN, false, false, 0);
    set_queues(a, 2);
    for (int i = 0; i < 2; i++) {
        ci[i].io = io_connect(t->port, a, i + 1, false, false);
        nvmf_host_set_incapsule(ci[i].io->h, 0);    /* writes with R2T */
        ci[i].lba = 1024 * i;
    }
    for (int i = 0; i < 2; i++) {
        th[i] = g_thread_new("capture-io", capture_io_thread, &ci[i]);
    }
    for (int i = 0; i < 2; i++) {
        g_thread_join(th[i]);
        conn_close(ci[i].io);
    }
    conn_close(a);
    /* QEMU's exit closes the capture */
    qtest_quit(t->qts);
    t->qts = NULL;
    /* the queues did run in the iothreads */
    g_assert_true(g_file_get_contents(trace, &moves, NULL, NULL));
    g_assert_true(g_regex_match_simple("qid 1 cntlid \\d+ now served by io0",
                                       moves, 0, 0));
    g_assert_true(g_regex_match_simple("qid 2 cntlid \\d+ now served by io1",
                                       moves, 0, 0));
    streams = decode_capture(bin, pcap);
    g_assert_cmpint(g_hash_table_size(streams), ==, 3);
    for (int i = 1; i <= 2; i++) {
        const char *p;
        int n = 0;

        cs = cap_stream(streams, i);
        g_assert_cmpstr(cs->fctypes->str, ==, FC_CONNECT);
        /* 64 writes with R2T and 64 reads, every PDU of each */
        for (p = cs->types->str;
             (p = strstr(p, PT_CMD PT_R2T PT_H2CDATA PT_RSP
                            PT_CMD PT_C2HDATA PT_RSP)); p++) {
            n++;
        }
        g_assert_cmpint(n, ==, 64);
        g_assert_true(cs->fin);
    }
    target_stop(t);
}

/* Unknown ids, unusable files, a second capture: an error, no change */
static void test_qmp_errors(void)
{
    Target *t = target_start(NULL);
    char *pcap = target_path(t, g_strdup_printf("%s.pcap", t->disk));
    char *pcap2 = target_path(t, g_strdup_printf("%s.2.pcap", t->disk));
    g_autofree char *desc = NULL;
    QDict *info, *port;
    Conn *a;

    a = admin_connect(t->port, SUBNQN, HOSTNQN, false, false, 0);
    desc = qmp_err(qtest_qmp(t->qts, "{ 'execute': 'query-nvmet', "
                             "'arguments': { 'subsystem': 'nope' } }"));
    g_assert_nonnull(strstr(desc, "'nope' is neither an nvmet-subsystem"));
    g_free(desc);
    desc = qmp_err(qtest_qmp(t->qts, "{ 'execute': 'query-nvmet', "
                             "'arguments': { 'cntlid': 4242 } }"));
    g_assert_cmpstr(desc, ==, "no controller has ID 4242");
    g_free(desc);
    desc = qmp_err(qtest_qmp(t->qts, "{ 'execute': 'query-nvmet', "
                             "'arguments': { 'subsystem': 'sub0', "
                             "'cntlid': 4242 } }"));
    g_assert_cmpstr(desc, ==, "subsystem 'sub0' has no controller 4242");
    /* filters by id and by NQN agree; the discovery subsystem by NQN */
    info = qobject_to(QDict, qmp_ok(t->qts, qtest_qmp(t->qts,
        "{ 'execute': 'query-nvmet', 'arguments': { 'subsystem': %s, "
        "'cntlid': %d } }", SUBNQN, a->cntlid)));
    g_assert_cmpint(qlist_size(qdict_get_qlist(info, "controllers")), ==, 1);
    g_assert_cmpint(qlist_size(qdict_get_qlist(info, "subsystems")), ==, 1);
    qobject_unref(info);
    info = qobject_to(QDict, qmp_ok(t->qts, qtest_qmp(t->qts,
        "{ 'execute': 'query-nvmet', 'arguments': { 'subsystem': %s } }",
        DISCNQN)));
    g_assert_cmpint(qlist_size(qdict_get_qlist(info, "controllers")), ==, 0);
    g_assert_cmpstr(qdict_get_str(qlist_nth_dict(
        qdict_get_qlist(info, "subsystems"), 0), "nqn"), ==, DISCNQN);
    qobject_unref(info);

    /* captures */
    g_free(desc);
    desc = qmp_err(qtest_qmp(t->qts, "{ 'execute': 'nvmet-capture-start', "
                             "'arguments': { 'port': 'nope', 'file': %s } }",
                             pcap));
    g_assert_cmpstr(desc, ==, "no object with id 'nope'");
    g_free(desc);
    desc = qmp_err(qtest_qmp(t->qts, "{ 'execute': 'nvmet-capture-start', "
                             "'arguments': { 'port': 'sub0', 'file': %s } }",
                             pcap));
    g_assert_cmpstr(desc, ==, "object 'sub0' is not an nvmet-port");
    g_free(desc);
    desc = qmp_err(qtest_qmp(t->qts, "{ 'execute': 'nvmet-capture-start', "
                             "'arguments': { 'port': 'port0', 'file': "
                             "'/nonexistent/dir/x.pcap' } }"));
    g_assert_nonnull(strstr(desc, "nvmet-port 'port0': capture: "));
    g_assert_nonnull(strstr(desc, "/nonexistent/dir/x.pcap"));
    g_free(desc);
    desc = qmp_err(qtest_qmp(t->qts, "{ 'execute': 'nvmet-capture-stop', "
                             "'arguments': { 'port': 'port0' } }"));
    g_assert_cmpstr(desc, ==, "nvmet-port 'port0' has no capture running");
    qobject_unref(qmp_ok(t->qts, qtest_qmp(t->qts,
        "{ 'execute': 'nvmet-capture-start', 'arguments': "
        "{ 'port': 'port0', 'file': %s } }", pcap)));
    g_free(desc);
    desc = qmp_err(qtest_qmp(t->qts, "{ 'execute': 'nvmet-capture-start', "
                             "'arguments': { 'port': 'port0', 'file': %s } }",
                             pcap2));
    g_assert_nonnull(strstr(desc, "is already capturing to"));
    g_assert_false(g_file_test(pcap2, G_FILE_TEST_EXISTS));
    info = qobject_to(QDict, qmp_ok(t->qts, qtest_qmp(t->qts,
        "{ 'execute': 'query-nvmet' }")));
    port = qlist_nth_dict(qdict_get_qlist(info, "ports"), 0);
    g_assert_cmpstr(qdict_get_str(qdict_get_qdict(port, "capture"), "file"),
                    ==, pcap);
    /* the connection that was open is captured too */
    g_assert_cmpint(qdict_get_int(qdict_get_qdict(port, "capture"),
                                  "connections"), ==, 1);
    g_assert_true(qdict_get_bool(qlist_nth_dict(qdict_get_qlist(
        qlist_nth_dict(qdict_get_qlist(info, "controllers"), 0), "queues"),
        0), "capturing"));
    qobject_unref(info);
    qobject_unref(qmp_ok(t->qts, qtest_qmp(t->qts,
        "{ 'execute': 'nvmet-capture-stop', 'arguments': "
        "{ 'port': 'port0' } }")));
    info = qobject_to(QDict, qmp_ok(t->qts, qtest_qmp(t->qts,
        "{ 'execute': 'query-nvmet' }")));
    port = qlist_nth_dict(qdict_get_qlist(info, "ports"), 0);
    g_assert_false(qdict_haskey(port, "capture"));
    qobject_unref(info);
    conn_close(a);
    target_stop(t);

    expect_startup_error("-object nvmet-port,id=p0,trsvcid=0,"
                         "pcap=/nonexistent/dir/x.pcap",
                         "nvmet-port 'p0': capture: ");
}

/*
 * A host failing authentication in a loop (at wire speed, on one
 * connection) cannot flood QMP: events beyond the burst are dropped and
 * counted, and the count comes with the next event that is sent.
 */
static void test_qmp_rate_limit(void)
{
    static const AuthCase ac = { "sha256", "null", 1, 0, 1, false };
    AuthTarget *at = auth_target_start(&ac, NULL, NULL);
    EvLog *l = evlog_new(at->t->qts);
    enum { N = 300 };
    int64_t delivered = 0, suppressed = 0;
    int64_t start = g_get_monotonic_time();
    NvmfAuthParams p;
    QDict *info;
    uint32_t dw0;
    Conn *c;

    c = auth_connect(at->t->port, 0, 0xffff, &dw0);
    ev_next(l, "NVMET_CONNECTION_ACCEPTED");
    ev_next(l, "NVMET_CONTROLLER_CREATED");
    ev_next(l, "NVMET_QUEUE_CONNECTED");
    for (int i = 1; i <= N; i++) {
        auth_params(&p, at->hkey, NULL, i);
        p.corrupt_response = true;
        g_assert_cmphex(auth_must_fail(c, &p), ==, NVME_AUTH_FAIL_FAILED);
        if (i == N - 1) {
            /* the last one after a pause: it may go out, with the count */
            g_usleep(300 * 1000);
        }
    }
    /* the events until the last failure's */
    for (;;) {
        QDict *ev = ev_next(l, "NVMET_AUTH_FAILED");

        delivered++;
        if (qdict_haskey(ev, "suppressed")) {
            suppressed += qdict_get_int(ev, "suppressed");
        }
        if (qdict_get_int(ev, "transaction-id") == N) {
            g_assert_cmpint(qdict_get_int(ev, "failures"), ==, N);
            break;
        }
    }
    g_test_message("%d failures in %.1f s: %" PRId64 " events sent, %"
                   PRId64 " suppressed", N,
                   (g_get_monotonic_time() - start) / 1e6, delivered,
                   suppressed);
    g_assert_cmpint(suppressed, >, 0);
    g_assert_cmpint(delivered + suppressed, ==, N);
    info = qobject_to(QDict, qmp_ok(at->t->qts, qtest_qmp(at->t->qts,
        "{ 'execute': 'query-nvmet' }")));
    g_assert_cmpint(qdict_get_int(info, "events-suppressed"), ==,
                    suppressed);
    qobject_unref(info);
    conn_close(c);
    evlog_free(l);
    auth_target_stop(at);
}

/*
 * The events of a host's mistakes and of a controller's life on a
 * cleartext admin queue: REPLACETLSPSK without TLS (AUTH_Failure1
 * CONCAT_MISMATCH, with the SC_C asked for), a wrong response (FAILED),
 * a success, CC.EN 0 -> 1 -> 0 (enabled, reset), then a PDU of an unknown
 * type: the transport error with the FES sent, and the teardown.
 */
static void test_qmp_ctrl_events(void)
{
    TlsTarget *tt = tls_target_start();
    EvLog *l = evlog_new(tt->qts);
    g_autofree char *peer = NULL;
    g_auto(NvmfPdu) rsp = { 0 };
    uint8_t pdu[24] = { 0x0b, 0, 24, 0, 24 };
    NvmfAuthParams p;
    NvmfAuthResult r;
    uint16_t cntlid;
    NvmfCqe cqe;
    QDict *ev, *q;
    Conn *c;

    c = conn_open(tt->port);
    peer = conn_peer(c);
    g_assert_true(tls_connect(c, TLSNQN, 0, 0xffff) &
                  NVME_CONNECT_AUTHREQ_ATR);
    cntlid = c->cntlid;
    ev_where(ev_next(l, "NVMET_CONNECTION_ACCEPTED"), peer, 0, -1);
    ev_where(ev_next(l, "NVMET_CONTROLLER_CREATED"), peer, cntlid, 0);
    ev_where(ev_next(l, "NVMET_QUEUE_CONNECTED"), peer, cntlid, 0);

    /* REPLACETLSPSK on a queue that has no TLS session */
    auth_params(&p, tt->hkey, tt->ckey, 7);
    p.subnqn = TLSNQN;
    p.sc_c = NVME_AUTH_SECP_REPLACETLSPSK;
    g_assert_cmphex(auth_must_fail(c, &p), ==,
                    NVME_AUTH_FAIL_CONCAT_MISMATCH);
    ev = ev_next(l, "NVMET_AUTH_FAILED");
    ev_where(ev, peer, cntlid, 0);
    g_assert_cmpstr(qdict_get_str(ev, "by"), ==, "target");
    g_assert_cmpstr(qdict_get_str(ev, "failure-reason"), ==,
                    "concat-mismatch");
    g_assert_cmpint(qdict_get_int(ev, "failure-code"), ==,
                    NVME_AUTH_FAIL_CONCAT_MISMATCH);
    g_assert_cmpstr(qdict_get_str(ev, "sc-c"), ==, "replacetlspsk");
    g_assert_cmpint(qdict_get_int(ev, "transaction-id"), ==, 7);
    g_assert_cmpint(qdict_get_int(ev, "failures"), ==, 1);
    g_assert_cmpint(qdict_get_int(ev, "successes"), ==, 0);
    g_assert_nonnull(strstr(qdict_get_str(ev, "reason"), "not TLS-secured"));

    /* a wrong response */
    auth_params(&p, tt->hkey, tt->ckey, 8);
    p.subnqn = TLSNQN;
    p.corrupt_response = true;
    g_assert_cmphex(auth_must_fail(c, &p), ==, NVME_AUTH_FAIL_FAILED);
    ev = ev_next(l, "NVMET_AUTH_FAILED");
    ev_where(ev, peer, cntlid, 0);
    g_assert_cmpstr(qdict_get_str(ev, "failure-reason"), ==, "failed");
    g_assert_cmpint(qdict_get_int(ev, "failure-code"), ==,
                    NVME_AUTH_FAIL_FAILED);
    g_assert_cmpstr(qdict_get_str(ev, "sc-c"), ==, "none");
    g_assert_cmpint(qdict_get_int(ev, "transaction-id"), ==, 8);
    g_assert_true(qdict_haskey(ev, "hash"));
    g_assert_cmpint(qdict_get_int(ev, "failures"), ==, 2);

    /* then right, bidirectionally */
    auth_params(&p, tt->hkey, tt->ckey, 9);
    p.subnqn = TLSNQN;
    auth_must_pass(c, &p, &r);
    ev = ev_next(l, "NVMET_AUTH_SUCCEEDED");
    ev_where(ev, peer, cntlid, 0);
    g_assert_cmpstr(qdict_get_str(ev, "sc-c"), ==, "none");
    g_assert_true(qdict_get_bool(ev, "bidirectional"));
    g_assert_cmpint(qdict_get_int(ev, "transaction-id"), ==, 9);
    g_assert_cmpint(qdict_get_int(ev, "successes"), ==, 1);
    g_assert_cmpint(qdict_get_int(ev, "failures"), ==, 2);
    ev_none(l);
    q = query_queue(tt->qts, cntlid, 0, NULL);
    g_assert_true(qdict_get_bool(QAUTH(q), "authenticated"));
    g_assert_true(qdict_get_bool(QAUTH(q), "bidirectional"));
    g_assert_cmpint(qdict_get_int(QAUTH(q), "successes"), ==, 1);
    g_assert_cmpint(qdict_get_int(QAUTH(q), "failures"), ==, 2);
    qobject_unref(q);

    /* enable, then reset */
    HOST_OK(c, nvmf_host_enable(c->h));
    ev_where(ev_next(l, "NVMET_CONTROLLER_ENABLED"), peer, cntlid, 0);
    HOST_OK(c, nvmf_host_prop_set(c->h, NVME_REG_CC, 0, &cqe));
    g_assert_cmphex(cqe.status, ==, 0);
    ev_where(ev_next(l, "NVMET_CONTROLLER_RESET"), peer, cntlid, 0);
    ev_none(l);
    {
        QDict *info = qobject_to(QDict, qmp_ok(tt->qts, qtest_qmp(tt->qts,
            "{ 'execute': 'query-nvmet', 'arguments': { 'cntlid': %u } }",
            cntlid)));
        QDict *ctrl = qlist_nth_dict(qdict_get_qlist(info, "controllers"),
                                     0);

        g_assert_false(qdict_get_bool(ctrl, "enabled"));
        g_assert_false(qdict_get_bool(ctrl, "ready"));
        qobject_unref(info);
    }

    /* a PDU of an unknown type: C2HTermReq, the connection goes */
    HOST_OK(c, nvmf_host_send_raw(c->h, pdu, sizeof(pdu)));
    HOST_OK(c, nvmf_host_recv_pdu(c->h, &rsp));
    g_assert_cmpint(rsp.type, ==, NVME_TCP_PDU_C2H_TERM);
    ev = ev_next(l, "NVMET_TRANSPORT_ERROR");
    ev_where(ev, peer, cntlid, 0);
    g_assert_cmpint(qdict_get_int(ev, "fes"), ==,
                    NVME_TCP_FES_INVALID_HEADER);
    g_assert_cmpint(qdict_get_int(ev, "fes"), ==,
                    nvmet_ld16(rsp.hdr + NVME_TCP_TERM_FES));
    g_assert_true(qdict_haskey(ev, "fei"));
    g_assert_nonnull(strstr(qdict_get_str(ev, "reason"), "type"));
    ev = ev_next(l, "NVMET_CONNECTION_CLOSED");
    ev_where(ev, peer, cntlid, 0);
    /* about the controller, no longer about a queue */
    ev = ev_next(l, "NVMET_CONTROLLER_DESTROYED");
    ev_where(ev, NULL, cntlid, -1);
    g_assert_false(qdict_haskey(ev, "peer"));
    g_assert_cmpstr(qdict_get_str(ev, "reason"), ==, "admin queue closed");
    ev_none(l);
    conn_close(c);
    evlog_free(l);
    tls_target_stop(tt);
}

/*
 * QEMU exits while hosts are connected to two ports (cleartext and TLS,
 * an I/O queue too) and a capture runs: the objects go in whatever order
 * QEMU deletes them, the queues' last events come while they do, QEMU
 * exits cleanly and the capture ends every stream.
 */
static void test_qmp_exit_connected(void)
{
    TlsTarget *tt = tls_target_start();
    g_autofree char *bin = find_tshark();
    g_autofree char *identity = NULL;
    char *pcap = target_path(tt->t, g_strdup_printf("%s.exit.pcap",
                                                    tt->t->disk));
    g_autoptr(GHashTable) streams = NULL;
    Conn *c[4];
    NvmfAuthParams p;
    NvmfAuthResult r;
    uint8_t key[48], hash;
    NvmfCqe cqe;

    qobject_unref(qmp_ok(tt->qts, qtest_qmp(tt->qts,
        "{ 'execute': 'nvmet-capture-start', 'arguments': "
        "{ 'port': 'port0', 'file': %s } }", pcap)));
    /* an authenticated cleartext controller with an I/O queue */
    c[0] = conn_open(tt->port);
    tls_connect(c[0], TLSNQN, 0, 0xffff);
    auth_params(&p, tt->hkey, NULL, 1);
    p.subnqn = TLSNQN;
    auth_must_pass(c[0], &p, &r);
    HOST_OK(c[0], nvmf_host_enable(c[0]->h));
    HOST_OK(c[0], nvmf_host_set_features(c[0]->h, NVME_FEAT_NUM_QUEUES,
                                         0x00010001, &cqe));
    c[1] = conn_open(tt->port);
    tls_connect(c[1], TLSNQN, 1, c[0]->cntlid);
    auth_params(&p, tt->hkey, NULL, 2);
    p.subnqn = TLSNQN;
    auth_must_pass(c[1], &p, &r);
    nvmf_host_set_incapsule(c[1]->h, 16384);
    rw_check(c[1], 16, 0x5a);
    /* TLS controllers on both ports */
    identity = nvmf_tls_configured(tls_psk01, 1, HOSTNQN, TLSNQN, key, &hash);
    c[2] = tls_conn(tt->port, identity, key, hash);
    tls_connect(c[2], TLSNQN, 0, 0xffff);
    HOST_OK(c[2], nvmf_host_enable(c[2]->h));
    c[3] = tls_conn(tt->rport, identity, key, hash);
    tls_connect(c[3], TLSNQN, 0, 0xffff);

    qtest_quit(tt->qts);    /* asserts that QEMU exited normally */
    tt->t->qts = tt->qts = NULL;
    for (int i = 0; i < 4; i++) {
        conn_close(c[i]);
    }
    if (bin) {
        streams = decode_capture(bin, pcap);
        /* port0's three connections, each ended with FINs */
        g_assert_cmpint(g_hash_table_size(streams), ==, 3);
        for (unsigned i = 0; i < 3; i++) {
            CapStream *cs = cap_stream(streams, i);

            g_assert_true(cs->fin);
        }
    }
    tls_target_stop(tt);
}

/* ---- connection limits -------------------------------------------------- */

static uint64_t qom_u64(QTestState *qts, const char *path, const char *prop)
{
    QDict *rsp = qtest_qmp(qts, "{ 'execute': 'qom-get', 'arguments': "
                           "{ 'path': %s, 'property': %s } }", path, prop);
    uint64_t val;

    g_assert(qdict_haskey(rsp, "return"));
    val = qdict_get_int(rsp, "return");
    qobject_unref(rsp);
    return val;
}

/*
 * Wait up to @ms for the target to close @fd: true if it did (EOF or a
 * reset), false if the socket stayed open (or sent something).
 */
static bool closed_within(int fd, int ms)
{
    struct pollfd pfd = { .fd = fd, .events = POLLIN };
    char b;
    ssize_t n;

    if (poll(&pfd, 1, ms) != 1) {
        return false;
    }
    n = recv(fd, &b, 1, MSG_DONTWAIT);
    return n == 0 || (n < 0 && errno == ECONNRESET);
}

/* poll a port counter until it has @want (a few seconds at most) */
static void wait_port_stat(QTestState *qts, const char *prop, uint64_t want)
{
    for (int i = 0; i < 500; i++) {
        if (qom_u64(qts, "/objects/port0", prop) == want) {
            return;
        }
        g_usleep(10 * 1000);
    }
    g_assert_cmpuint(qom_u64(qts, "/objects/port0", prop), ==, want);
}

/*
 * Connections that send no ICReq (nothing, one byte, a byte now and then)
 * or no Connect after it are closed after icreq-timeout-ms; one that sent
 * its ICReq and Connect stays.
 */
static void test_icreq_timeout(void)
{
    Target *t = target_start(NULL);
    const int nidle = 50;
    Conn *idle[50], *ok, *late, *no_connect;
    int64_t t0;
    QDict *rsp;
    NvmfCqe cqe;

    /* the defaults, and the value checks */
    g_assert_cmpuint(qom_u64(t->qts, "/objects/port0", "icreq-timeout-ms"), ==,
                     30000);
    g_assert_cmpuint(qom_u64(t->qts, "/objects/port0", "max-connections"), ==,
                     1024);
    rsp = qtest_qmp(t->qts, "{ 'execute': 'qom-set', 'arguments': "
                    "{ 'path': '/objects/port0', "
                    "'property': 'icreq-timeout-ms', 'value': 0 } }");
    g_assert_true(qdict_haskey(rsp, "error"));
    qobject_unref(rsp);
    rsp = qtest_qmp(t->qts, "{ 'execute': 'qom-set', 'arguments': "
                    "{ 'path': '/objects/port0', "
                    "'property': 'icreq-timeout-ms', 'value': 1000 } }");
    g_assert_false(qdict_haskey(rsp, "error"));
    qobject_unref(rsp);
    g_assert_cmpuint(qom_u64(t->qts, "/objects/port0", "icreq-timeout-ms"), ==,
                     1000);

    t0 = g_get_monotonic_time();
    for (int i = 0; i < nidle; i++) {
        idle[i] = conn_open(t->port);
        if (i % 2) {
            /* the first byte of an ICReq */
            g_assert_cmpint(send(idle[i]->fd, "\0", 1, MSG_NOSIGNAL), ==, 1);
        }
    }
    ok = conn_open(t->port);
    HOST_OK(ok, nvmf_host_icreq(ok->h, false, false, 0));
    HOST_OK(ok, nvmf_host_connect(ok->h, 0, 31, 0xffff, SUBNQN, HOSTNQN,
                                  hostid, 0, 0, &cqe));
    g_assert_cmphex(cqe.status, ==, 0);
    no_connect = conn_open(t->port);
    HOST_OK(no_connect, nvmf_host_icreq(no_connect->h, false, false, 0));
    late = conn_open(t->port);
    g_usleep(600 * 1000);
    /* one byte a little later does not move the deadline */
    g_assert_cmpint(send(late->fd, "\0", 1, MSG_NOSIGNAL), ==, 1);
    for (int i = 0; i < nidle; i++) {
        g_assert_true(closed_within(idle[i]->fd, 15000));
        conn_close(idle[i]);
    }
    g_assert_true(closed_within(late->fd, 15000));
    conn_close(late);
    g_assert_true(closed_within(no_connect->fd, 15000));
    conn_close(no_connect);
    /* not before the timeout */
    g_assert_cmpint(g_get_monotonic_time() - t0, >=, 1000 * 1000);
    wait_port_stat(t->qts, "icreq-timeouts", nidle + 2);

    /* the connection that sent its ICReq and Connect works on */
    HOST_OK(ok, nvmf_host_enable(ok->h));
    g_assert_cmpuint(qom_u64(t->qts, "/objects/port0", "connections"), ==, 1);
    g_assert_cmpuint(qom_u64(t->qts, "/objects/port0", "icreq-timeouts"), ==,
                     nidle + 2);
    conn_close(ok);
    target_stop(t);
}

/* max-connections: the N+1-th connection is closed at once. */
static void test_max_connections(void)
{
    Target *t = target_start("-object nvmet-port,id=port9,trsvcid=0,"
                             "max-connections=7");
    const int max = 4;
    Conn *c[4], *extra;
    NvmfCqe cqe;
    QDict *rsp;

    rsp = qtest_qmp(t->qts, "{ 'execute': 'qom-set', 'arguments': "
                    "{ 'path': '/objects/port0', "
                    "'property': 'max-connections', 'value': %d } }", max);
    g_assert_false(qdict_haskey(rsp, "error"));
    qobject_unref(rsp);
    g_assert_cmpuint(qom_u64(t->qts, "/objects/port9", "max-connections"), ==,
                     7);
    for (int i = 0; i < max; i++) {
        c[i] = conn_open(t->port);
    }
    HOST_OK(c[0], nvmf_host_icreq(c[0]->h, false, false, 0));
    wait_port_stat(t->qts, "connections", max);

    extra = conn_open(t->port);
    g_assert_true(closed_within(extra->fd, 15000));
    conn_close(extra);
    g_assert_cmpuint(qom_u64(t->qts, "/objects/port0", "connections-refused"),
                     ==, 1);
    {
        QDict *info = qobject_to(QDict, qmp_ok(t->qts, qtest_qmp(t->qts,
            "{ 'execute': 'query-nvmet' }")));
        QList *ports = qdict_get_qlist(info, "ports");
        bool seen = false;

        for (const QListEntry *e = qlist_first(ports); e;
             e = qlist_next(e)) {
            QDict *port = qobject_to(QDict, qlist_entry_obj(e));

            if (g_str_equal(qdict_get_str(port, "id"), "port0")) {
                g_assert_cmpint(qdict_get_int(port, "connections-refused"),
                                ==, 1);
                g_assert_cmpint(qdict_get_int(port, "icreq-timeouts"), ==,
                                0);
                seen = true;
            }
        }
        g_assert_true(seen);
        qobject_unref(info);
    }
    /* the others are not affected */
    for (int i = 1; i < max; i++) {
        g_assert_false(closed_within(c[i]->fd, 0));
    }
    HOST_OK(c[1], nvmf_host_icreq(c[1]->h, false, false, 0));

    /* one going away makes room for another */
    conn_close(c[max - 1]);
    wait_port_stat(t->qts, "connections", max - 1);
    c[max - 1] = conn_open(t->port);
    HOST_OK(c[max - 1], nvmf_host_icreq(c[max - 1]->h, false, false, 0));
    HOST_OK(c[0], nvmf_host_connect(c[0]->h, 0, 31, 0xffff, SUBNQN, HOSTNQN,
                                    hostid, 0, 0, &cqe));
    g_assert_cmphex(cqe.status, ==, 0);
    g_assert_cmpuint(qom_u64(t->qts, "/objects/port0", "connections-refused"),
                     ==, 1);
    for (int i = 0; i < max; i++) {
        conn_close(c[i]);
    }
    target_stop(t);
}

/* ---- soak ---------------------------------------------------------------- */

/* VmRSS of the process, in KiB, from /proc/PID/status */
static long proc_rss_kib(pid_t pid)
{
    g_autofree char *path = g_strdup_printf("/proc/%d/status", (int)pid);
    g_autofree char *status = NULL;
    const char *line;

    g_assert_true(g_file_get_contents(path, &status, NULL, NULL));
    line = strstr(status, "\nVmRSS:");
    g_assert_nonnull(line);
    return strtol(line + strlen("\nVmRSS:"), NULL, 10);
}

/*
 * Time the process's threads have run on a CPU so far, in microseconds
 * (the sum of the first fields of /proc/PID/task/TID/schedstat: exact,
 * where utime and stime count 10 ms ticks)
 */
static int64_t proc_cpu_us(pid_t pid)
{
    g_autofree char *dir = g_strdup_printf("/proc/%d/task", (int)pid);
    g_autoptr(GDir) d = g_dir_open(dir, 0, NULL);
    const char *tid;
    int64_t ns = 0;

    g_assert_nonnull(d);
    while ((tid = g_dir_read_name(d))) {
        g_autofree char *path = g_strdup_printf("%s/%s/schedstat", dir, tid);
        g_autofree char *stat = NULL;

        /* a thread may have gone in between */
        if (g_file_get_contents(path, &stat, NULL, NULL)) {
            ns += g_ascii_strtoll(stat, NULL, 10);
        }
    }
    return ns / 1000;
}

static int cmp_int64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;

    return x < y ? -1 : x > y;
}

/* QMP events are not what the soak looks at: drop them as they come */
static bool drop_event(QTestState *s, const char *name, QDict *event,
                       void *opaque)
{
    return true;
}

/* median of @n durations (sorts them) */
static int64_t median_us(int64_t *v, unsigned n)
{
    qsort(v, n, sizeof(*v), cmp_int64);
    return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

/*
 * 1000 REPLACETLSPSK (NVMET_SOAK_ROTATIONS, at least 200) on the admin
 * queue of one controller, over TLS with the PSK of the rotation before:
 * QEMU's resident memory must not grow by 1 MiB or more from rotation 100
 * to the last, and a rotation must not get slower: QEMU's CPU time per
 * block of ten rotations, the fastest block of the last hundred at most
 * 1.5 times the fastest of the first hundred.  The wall-clock time per
 * rotation (medians of the first and last hundred) is reported, not
 * checked: on a loaded machine it moves with the load by a factor of 4
 * either way; CPU time moves less (caches and cores are shared), and the
 * fastest block is the one the load disturbed least.  Every tenth rotation, a
 * write read back on the controller's I/O queue; every hundredth, the new
 * PSK opens a session of its own and the one before is refused.  Takes
 * 20-60 s: only with -m slow, scripts/run-tests.sh soak.
 */
static void test_soak_replace_tls_psk(void)
{
    const char *env = g_getenv("NVMET_SOAK_ROTATIONS");
    unsigned n = env ? MAX(atoi(env), 200) : 1000;
    g_autofree int64_t *us = g_new(int64_t, n);
    g_autofree char *identity = NULL;
    TlsTarget *tt = tls_target_start();
    pid_t pid = qtest_pid(tt->qts);
    long rss0, rss100 = 0, rss_end;
    int64_t first, last, total = 0;
    unsigned nblk = n / 10;
    g_autofree int64_t *blk = g_new0(int64_t, nblk);
    int64_t cpu_mark = 0, cpu_first, cpu_last;
    uint8_t key[48], hash;
    Conn *c, *a, *io;
    NvmfCqe cqe;

    c = conn_open(tt->port);
    tls_connect(c, TLSNQN, 0, 0xffff);
    identity = tls_concat_auth(c, tt->hkey, tt->ckey, TLSNQN,
                               NVME_AUTH_SECP_NEWTLSPSK, 1, key, &hash);
    g_assert_nonnull(identity);
    conn_close(c);
    a = tls_conn(tt->port, identity, key, hash);
    tls_connect(a, TLSNQN, 0, 0xffff);
    HOST_OK(a, nvmf_host_enable(a->h));
    HOST_OK(a, nvmf_host_set_features(a->h, NVME_FEAT_NUM_QUEUES, 0x00010001,
                                      &cqe));
    io = tls_conn(tt->port, identity, key, hash);
    tls_connect(io, TLSNQN, 1, a->cntlid);
    nvmf_host_set_incapsule(io->h, 16384);
    rw_check(io, 0, 0x5a);
    /*
     * QEMU queues the events of every rotation on the QMP socket; unread,
     * they would fill its output buffer (QEMU's memory, not the target's):
     * read them every ten rotations.
     */
    qtest_qmp_set_event_callback(tt->qts, drop_event, NULL);
    qobject_unref(qtest_qmp(tt->qts, "{ 'execute': 'query-status' }"));
    rss0 = proc_rss_kib(pid);

    for (unsigned i = 1; i <= n; i++) {
        g_autofree char *old = g_steal_pointer(&identity);
        uint8_t oldkey[48];
        int64_t t0;

        if (i % 10 == 1) {
            cpu_mark = proc_cpu_us(pid);
        }
        t0 = g_get_monotonic_time();

        memcpy(oldkey, key, sizeof(key));
        identity = tls_concat_auth(a, tt->hkey, tt->ckey, TLSNQN,
                                   NVME_AUTH_SECP_REPLACETLSPSK,
                                   (uint16_t)(i + 1), key, &hash);
        us[i - 1] = g_get_monotonic_time() - t0;
        total += us[i - 1];
        if (!identity) {
            g_error("REPLACETLSPSK %u of %u failed", i, n);
        }
        g_assert_cmpstr(identity, !=, old);
        if (i % 10 == 0 && i / 10 <= nblk) {
            /* the ten rotations alone, before the checks below */
            blk[i / 10 - 1] = proc_cpu_us(pid) - cpu_mark;
        }
        if (i % 10 == 0) {
            rw_check(io, i % 4096, i);
            qobject_unref(qtest_qmp(tt->qts, "{ 'execute': 'query-status' }"));
        }
        if (i % 100 == 0) {
            c = conn_open(tt->port);
            g_assert_cmpint(conn_start_tls(c, old, oldkey,
                                           hash == 2 ? 48 : 32, hash), ==, -1);
            conn_close(c);
            c = tls_conn(tt->port, identity, key, hash);
            tls_connect(c, TLSNQN, 0, 0xffff);
            conn_close(c);
        }
        if (i == 100) {
            rss100 = proc_rss_kib(pid);
        }
    }
    rss_end = proc_rss_kib(pid);
    /* the fastest block of each hundred: the least disturbed by the load */
    cpu_first = blk[0];
    cpu_last = blk[nblk - 10];
    for (unsigned b = 1; b < 10; b++) {
        cpu_first = MIN(cpu_first, blk[b]);
        cpu_last = MIN(cpu_last, blk[nblk - 10 + b]);
    }
    first = median_us(us, 100);
    last = median_us(us + n - 100, 100);
    g_test_message("soak: %u REPLACETLSPSK in %.1f s; QEMU VmRSS %ld KiB "
                   "before, %ld KiB at rotation 100, %ld KiB at rotation %u "
                   "(%+ld KiB); median rotation %.2f ms (first 100), "
                   "%.2f ms (last 100), ratio %.2f; QEMU CPU time "
                   "per rotation (fastest block of 10) %.2f ms (first "
                   "100), %.2f ms (last 100), ratio %.2f",
                   n, total / 1e6, rss0, rss100, rss_end, n,
                   rss_end - rss100, first / 1000.0, last / 1000.0,
                   (double)last / first, cpu_first / 10000.0,
                   cpu_last / 10000.0, (double)cpu_last / MAX(cpu_first, 1));
    g_assert_cmpint(rss_end - rss100, <, 1024);
    g_assert_cmpint(cpu_last * 2, <=, cpu_first * 3);

    conn_close(io);
    conn_close(a);
    tls_target_stop(tt);
}

/* ---- disconnect storms --------------------------------------------------- */

/*
 * Connections cut at random points, by the host (its socket closed or
 * reset in the middle of whatever it was sending) and by the target
 * (nvmet-fault close and c2h-term at a protocol step), while the host
 * writes blocks that say which write they come from.  After each cut,
 * once the target has closed everything and finished the block I/O of
 * the closed connections (connections-draining 0), every block the
 * session wrote is read from the image file: an acknowledged write must
 * be there, an unacknowledged one either there or not (per block, whole),
 * a write the target cannot have carried out not there, a write it must
 * have carried out there.  Meanwhile a second host does verified I/O on
 * its own namespace and must see no error and no stall.  At the end the
 * whole region is read back through the target and QMP must show the
 * second host's controller alone, no connection left, none draining.
 */

#define STORM_NQN_TLS   HOSTNQN         /* tls-psk */
#define STORM_NQN_AUTH  "nqn.2014-08.org.nvmexpress:uuid:" \
                        "5e4d3c2b-1a09-4f8e-8d7c-6b5a49382716"
#define STORM_BS        512
#define STORM_BLOCKS    4096            /* the region of namespace 1 */
#define STORM_MAX_NLB   32
#define STORM_MAX_WRITES 6
#define STORM_STALL_US  (5 * G_USEC_PER_SEC)

enum { SK_PLAIN, SK_TLS, SK_AUTH, SK_TLS_AUTH };
static const char *const storm_kind_name[] = {
    "plain", "tls", "dhchap", "tls+dhchap",
};

/* What a write of a session became */
enum {
    SW_PLANNED,     /* not sent */
    SW_SENT,        /* no answer: in doubt */
    SW_ACKED,       /* success: must be there */
    SW_NOT_SENT,    /* its capsule did not go whole: must not be there */
};

typedef struct StormWrite {
    uint64_t lba;
    uint32_t nlb, gen;
    bool incapsule;
    int state;
    int cid;
    bool must_land, must_not_land;  /* what the target's fault says */
    bool read_back;                 /* read through the target once acked */
    uint8_t *buf;
} StormWrite;

/* The second host: verified I/O on namespace 2 throughout */
typedef struct Bystander {
    Conn *a, *io;
    GThread *thread;
    uint32_t seed;
    gint stop;
    gint ops;
    int64_t max_us;
    char *error;
} Bystander;

typedef struct Storm {
    Target *t;
    QTestState *qts;
    GRand *rand;
    uint32_t seed;
    char *hkey, *ckey;
    uint8_t tls_key[2][48];         /* storm host: TLS, TLS+DH-HMAC-CHAP */
    uint8_t tls_hash[2];
    char *tls_identity[2];
    uint32_t *acked;                /* generation on the disk, per block */
    uint32_t gen;
    int disk_fd;
    GHashTable *kinds;              /* "side: what" -> count */
    unsigned host_cuts, target_cuts, sessions_by_kind[4];
    uint64_t acked_writes, acked_blocks, doubt_landed, doubt_not,
             must_not_checked, must_land_checked, reads_verified;
    unsigned reconnects;
    bool verified_session;          /* session_verify() ran already */
    Bystander by;
} Storm;

/* Block @lba as write @gen makes it (0: never written, zeros) */
static void storm_block(const Storm *s, uint64_t lba, uint32_t gen,
                        uint8_t *b)
{
    uint32_t x = s->seed ^ (uint32_t)(lba * 2654435761u) ^ (gen * 40503u);

    if (!gen) {
        memset(b, 0, STORM_BS);
        return;
    }
    memcpy(b, "STRM", 4);
    nvmet_st32(b + 4, (uint32_t)lba);
    nvmet_st32(b + 8, gen);
    for (unsigned i = 12; i < STORM_BS; i += 4) {
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        nvmet_st32(b + i, x | 1);
    }
}

/*
 * The generation block @lba holds in @b, if it is exactly what that write
 * made it (and -1 if it is anything else: torn, another block's, garbage)
 */
static int64_t storm_block_gen(const Storm *s, uint64_t lba, const uint8_t *b)
{
    uint8_t want[STORM_BS];
    uint32_t gen = 0;

    if (!memcmp(b, "STRM", 4)) {
        gen = nvmet_ld32(b + 8);
    }
    storm_block(s, lba, gen, want);
    return memcmp(b, want, STORM_BS) ? -1 : gen;
}

static void storm_pread_block(Storm *s, uint64_t lba, uint8_t *b)
{
    g_assert_cmpint(pread(s->disk_fd, b, STORM_BS, lba * STORM_BS), ==,
                    STORM_BS);
}

static void storm_count(Storm *s, const char *side, const char *what)
{
    g_autofree char *key = g_strdup_printf("%s: %s", side, what);
    gpointer n = g_hash_table_lookup(s->kinds, key);

    g_hash_table_replace(s->kinds, g_steal_pointer(&key),
                         GUINT_TO_POINTER(GPOINTER_TO_UINT(n) + 1));
}

/* ---- the second host ---- */

/* 4 KiB at @lba of namespace 2; false (and by->error) if it failed */
static bool bystander_rw(Bystander *by, bool write, uint64_t lba,
                         uint8_t *buf)
{
    NvmfCqe cqe = { 0 };

    if (nvmf_host_rw(by->io->h, write, 2, lba, 8, buf, 4096, &cqe) < 0 ||
        cqe.status) {
        by->error = g_strdup_printf("%s at %" PRIu64 ": %s (status 0x%x)",
                                    write ? "write" : "read", lba,
                                    nvmf_host_error(by->io->h) ?: "",
                                    cqe.status);
        return false;
    }
    return true;
}

static gpointer bystander_run(gpointer opaque)
{
    Bystander *by = opaque;
    GRand *r = g_rand_new_with_seed(by->seed);
    g_autofree uint8_t *w = g_malloc(4096), *rd = g_malloc(4096);

    while (!g_atomic_int_get(&by->stop)) {
        uint64_t lba = g_rand_int_range(r, 0, 2048) * 8;
        int64_t t0 = g_get_monotonic_time(), dt;

        for (unsigned i = 0; i < 4096; i += 4) {
            nvmet_st32(w + i, g_rand_int(r));
        }
        nvmet_st32(w, lba);
        if (!bystander_rw(by, true, lba, w) ||
            !bystander_rw(by, false, lba, rd)) {
            break;
        }
        if (memcmp(w, rd, 4096)) {
            by->error = g_strdup_printf("read at %" PRIu64 " is not what "
                                        "was written", lba);
            break;
        }
        dt = g_get_monotonic_time() - t0;
        if (dt > by->max_us) {
            by->max_us = dt;
        }
        g_atomic_int_inc(&by->ops);
    }
    g_rand_free(r);
    return NULL;
}

static void bystander_start(Storm *s)
{
    Bystander *by = &s->by;
    NvmfCqe cqe;

    by->seed = s->seed ^ 0x5a5a5a5a;
    by->a = admin_connect(s->t->port, SUBNQN, HOSTNQN2, false, false, 0);
    HOST_OK(by->a, nvmf_host_set_features(by->a->h, NVME_FEAT_NUM_QUEUES,
                                          0x00010001, &cqe));
    by->io = conn_open(s->t->port);
    HOST_OK(by->io, nvmf_host_icreq(by->io->h, false, false, 0));
    HOST_OK(by->io, nvmf_host_connect(by->io->h, 1, 127, by->a->cntlid,
                                      SUBNQN, HOSTNQN2, hostid, 0, 0, &cqe));
    g_assert_cmphex(cqe.status, ==, 0);
    nvmf_host_set_incapsule(by->io->h, 4096);
    by->thread = g_thread_new("bystander", bystander_run, by);
    /* going before the storm starts */
    while (!g_atomic_int_get(&by->ops) && !by->error) {
        g_usleep(1000);
    }
}

static void bystander_stop(Storm *s)
{
    g_atomic_int_set(&s->by.stop, 1);
    g_thread_join(s->by.thread);
    if (s->by.error) {
        g_error("storm: the other host failed: %s", s->by.error);
    }
}

/* ---- the storm host's connections ---- */

/* Remember the PDU being sent, for naming where a cut happened */
static int shim_send(void *opaque, const void *buf, size_t len)
{
    Conn *c = opaque;

    if (!c->cut_fired) {
        c->pdu_type = len ? ((const uint8_t *)buf)[0] : -1;
        memcpy(c->pdu_hdr, buf, MIN(len, sizeof(c->pdu_hdr)));
    }
    return c->inner.send(c->inner.opaque, buf, len);
}

static ssize_t shim_recv(void *opaque, void *buf, size_t len)
{
    Conn *c = opaque;

    return c->inner.recv(c->inner.opaque, buf, len);
}

/* Put the host on c->inner behind the shim */
static void storm_host_new(Conn *c)
{
    NvmfTransport tr = { shim_send, shim_recv, c };

    nvmf_host_free(c->h);
    c->h = nvmf_host_new(&tr);
}

static Conn *storm_conn_open(Storm *s)
{
    Conn *c = conn_open(s->t->port);

    c->inner = (NvmfTransport){ sock_send, sock_recv, c };
    c->pdu_type = -1;
    storm_host_new(c);
    return c;
}

/* What a host cut hit: the PDU being sent (or the TLS handshake) */
static const char *storm_cut_what(Conn *c, bool tls)
{
    uint8_t fctype = c->pdu_hdr[8 + NVME_SQE_FCTYPE];

    switch (c->pdu_type) {
    case -1:
        return tls ? "TLS handshake" : "before ICReq";
    case NVME_TCP_PDU_ICREQ:
        return "ICReq";
    case NVME_TCP_PDU_H2C_DATA:
        return c->cut_whole ? "write sent, before its completion" :
               c->cut_prefix ? "mid H2CData" : "after R2T, before H2CData";
    case NVME_TCP_PDU_CMD:
        if (c->pdu_hdr[8] == NVME_FABRICS_COMMAND) {
            return fctype == NVME_FCTYPE_CONNECT ? "Connect" :
                   fctype == NVME_FCTYPE_AUTH_SEND ||
                   fctype == NVME_FCTYPE_AUTH_RECV ? "DH-HMAC-CHAP" :
                   "property get/set";
        }
        if (c->pdu_hdr[8] == NVME_CMD_READ) {
            return c->cut_prefix ? "mid read capsule" :
                   "before a read capsule";
        }
        if (c->pdu_hdr[8] == NVME_CMD_WRITE) {
            return c->cut_whole ? "write sent, before its completion" :
                   c->cut_prefix ? "mid write capsule" :
                   "before a write capsule";
        }
        return "admin command";
    default:
        return "other PDU";
    }
}

/*
 * A host cut, armed on @c: @left more bytes, then the socket goes (in
 * one cut of four with a reset rather than a FIN)
 */
static void storm_arm_cut(Storm *s, Conn *c, size_t left, bool at_zero)
{
    c->cut_armed = true;
    c->cut_left = left;
    c->cut_at_zero = at_zero;
    c->cut_rst = g_rand_int_range(s->rand, 0, 4) == 0;
}

/* ---- a target cut: an nvmet-fault ---- */

typedef struct StormFault {
    const char *step;
    const char *action;         /* close, c2h-term, close-after */
    const char *queue;          /* NULL, "admin", "io" */
    bool host;                  /* filter on the host NQN */
    int opcode;                 /* -1: none */
    unsigned nth;
    int write;                  /* the write it hits, -1: none */
} StormFault;

static uint32_t storm_fault_arm(Storm *s, const StormFault *f,
                                const char *hostnqn)
{
    g_autoptr(GString) a = g_string_new(NULL);

    g_string_printf(a, "{ 'step': '%s', 'nth': %u", f->step, f->nth);
    if (f->host) {
        g_string_append_printf(a, ", 'host': '%s'", hostnqn);
    }
    if (f->queue) {
        g_string_append_printf(a, ", 'queue': '%s'", f->queue);
    }
    if (f->opcode >= 0) {
        g_string_append_printf(a, ", 'opcode': %d", f->opcode);
    }
    if (g_str_equal(f->action, "c2h-term")) {
        g_string_append(a, ", 'action': 'c2h-term', 'fes': 2 }");
    } else if (g_str_equal(f->action, "close-after")) {
        g_string_append(a, ", 'action': 'close', 'after-response': true }");
    } else {
        g_string_append(a, ", 'action': 'close' }");
    }
    return fault_add(s->qts, a->str, NULL);
}

/* The fault's hits, and it is gone */
static int64_t storm_fault_done(Storm *s, uint32_t id)
{
    QList *l = fault_query(s->qts);
    int64_t hits = -1;

    for (const QListEntry *e = qlist_first(l); e; e = qlist_next(e)) {
        QDict *f = qobject_to(QDict, qlist_entry_obj(e));

        if (qdict_get_int(f, "id") == id) {
            hits = qdict_get_int(f, "hits");
        }
    }
    qobject_unref(l);
    qobject_unref(qtest_qmp(s->qts, "{ 'execute': 'nvmet-fault-del', "
                            "'arguments': { 'id': %u } }", id));
    return hits;
}

/* ---- one session ---- */

typedef struct Session {
    int kind;
    bool host_side;
    bool hd, dd;
    uint32_t kato;              /* of the admin queue, ms (0: none) */
    bool aer;                   /* an AER outstanding, as Linux keeps one */
    bool reconnect;             /* if the admin queue lives: new I/O queue */
    bool admin_ok, admin_failed;
    unsigned nwrites, depth;
    StormWrite w[STORM_MAX_WRITES];
    /* host cut: where it is armed */
    enum { HC_TLS, HC_ICREQ, HC_CONNECT, HC_AUTH, HC_ADMIN, HC_WRITE,
           HC_ADMIN_DURING_IO, HC__MAX } hc;
    bool hc_io;                 /* on the I/O queue's connection */
    int hc_write;
    StormFault f;
    uint32_t fault_id;
    bool error;                 /* some step failed (the cut, we hope) */
    char *first_error;
    Conn *a, *io;
} Session;

static bool session_failed(Session *se, Conn *c, const char *what)
{
    if (!se->first_error) {
        se->first_error = g_strdup_printf("%s: %s", what,
                                          nvmf_host_error(c->h) ?: "?");
    }
    se->error = true;
    se->admin_failed |= c == se->a;
    return false;
}

/* Pick LBAs for write @i that no write of the session in flight has */
static void session_pick_lba(Storm *s, Session *se, unsigned i)
{
    StormWrite *w = &se->w[i];

    for (;;) {
        bool clash = false;

        w->nlb = g_rand_int_range(s->rand, 1, STORM_MAX_NLB + 1);
        w->lba = g_rand_int_range(s->rand, 0, STORM_BLOCKS - w->nlb + 1);
        for (unsigned j = 0; j < i; j++) {
            /* any earlier write may still be in flight when this goes */
            if (w->lba < se->w[j].lba + se->w[j].nlb &&
                se->w[j].lba < w->lba + w->nlb) {
                clash = true;
            }
        }
        if (!clash) {
            return;
        }
    }
}

static size_t pdu_len(Session *se, size_t hlen, size_t data)
{
    return hlen + (se->hd ? 4 : 0) + data + (data && se->dd ? 4 : 0);
}

/* Bytes on the wire for @n bytes of PDUs (TLS: one record each) */
static size_t wire_len(Session *se, size_t n)
{
    return n + (se->kind == SK_TLS || se->kind == SK_TLS_AUTH ? 22 : 0);
}

static void session_plan(Storm *s, Session *se, unsigned i)
{
    bool tls, auth;

    se->kind = g_rand_int_range(s->rand, 0, 20);
    se->kind = se->kind < 8 ? SK_PLAIN : se->kind < 14 ? SK_TLS :
               se->kind < 17 ? SK_AUTH : SK_TLS_AUTH;
    tls = se->kind == SK_TLS || se->kind == SK_TLS_AUTH;
    auth = se->kind == SK_AUTH || se->kind == SK_TLS_AUTH;
    se->host_side = i % 2;
    se->hd = !tls && g_rand_boolean(s->rand);
    se->dd = !tls && g_rand_boolean(s->rand);
    se->kato = g_rand_boolean(s->rand) ? 15000 : 0;
    se->aer = g_rand_boolean(s->rand);
    se->reconnect = g_rand_int_range(s->rand, 0, 3) == 0;
    se->nwrites = g_rand_int_range(s->rand, 1, STORM_MAX_WRITES + 1);
    se->depth = g_rand_int_range(s->rand, 1, 4);
    for (unsigned j = 0; j < se->nwrites; j++) {
        session_pick_lba(s, se, j);
        se->w[j].incapsule = g_rand_boolean(s->rand);
        se->w[j].read_back = g_rand_int_range(s->rand, 0, 3) == 0;
        se->w[j].gen = ++s->gen;
    }

    if (se->host_side) {
        do {
            se->hc = g_rand_int_range(s->rand, 0, HC__MAX);
            /* most cuts where the data moves */
            if (g_rand_int_range(s->rand, 0, 3)) {
                se->hc = HC_WRITE;
            }
        } while ((se->hc == HC_TLS && !tls) || (se->hc == HC_AUTH && !auth));
        se->hc_io = se->hc != HC_ADMIN && g_rand_boolean(s->rand);
        se->hc_write = g_rand_int_range(s->rand, 0, se->nwrites);
        return;
    }

    /* a target cut */
    memset(&se->f, 0, sizeof(se->f));
    se->f.opcode = -1;
    se->f.write = -1;
    se->f.nth = 1;
    switch (g_rand_int_range(s->rand, 0, 12)) {
    case 0:
        se->f.step = "pdu-icreq";
        se->f.nth = g_rand_int_range(s->rand, 1, 3);
        break;
    case 1:
        if (tls) {
            se->f.step = g_rand_boolean(s->rand) ? "tls-handshake" :
                         "tls-identity";
            se->f.nth = g_rand_int_range(s->rand, 1, 3);
            break;
        }
        /* fall through */
    case 2:
        se->f.step = g_rand_boolean(s->rand) ? "connect-admin" :
                     "connect-io";
        se->f.host = true;
        break;
    case 3:
        if (auth) {
            se->f.step = g_rand_boolean(s->rand) ? "auth-negotiate" :
                         "auth-reply";
            se->f.queue = g_rand_boolean(s->rand) ? "admin" : "io";
            se->f.host = true;
            break;
        }
        /* fall through */
    default: {
        /* the I/O: a write of the session */
        static const char *const io_steps[] = {
            "pdu-capsule-cmd", "pdu-h2c-data", "pdu-r2t", "io-cmd",
            "pdu-capsule-resp", "pdu-c2h-data",
        };
        unsigned nr2t = 0, nreads = 0;

        se->f.write = g_rand_int_range(s->rand, 0, se->nwrites);
        se->f.step = io_steps[g_rand_int_range(s->rand, 0, 6)];
        se->f.host = true;
        se->f.queue = "io";
        if (g_str_equal(se->f.step, "pdu-c2h-data")) {
            /*
             * The data of the read after that write (acknowledged: it
             * must be there); reads go in the order of the writes.
             */
            se->w[se->f.write].read_back = true;
            for (int j = 0; j < se->f.write; j++) {
                nreads += se->w[j].read_back;
            }
            se->f.nth = nreads + 1;
            se->f.opcode = NVME_CMD_READ;
            se->f.action = g_rand_boolean(s->rand) ? "c2h-term" : "close";
            return;
        }
        if (!strncmp(se->f.step, "pdu-h2c", 7) ||
            g_str_equal(se->f.step, "pdu-r2t")) {
            /* that write goes by R2T; count the R2T writes before it */
            se->w[se->f.write].incapsule = false;
            for (int j = 0; j < se->f.write; j++) {
                nr2t += !se->w[j].incapsule;
            }
            se->f.nth = nr2t + 1;
        } else {
            se->f.nth = se->f.write + 1;
        }
        if (!g_str_equal(se->f.step, "pdu-h2c-data")) {
            se->f.opcode = NVME_CMD_WRITE;
        }
        if (g_str_equal(se->f.step, "pdu-capsule-resp") ||
            g_str_equal(se->f.step, "io-cmd")) {
            /*
             * Completions, and the start of writes that wait for their
             * data, need not keep the order of submission: one at a
             * time, so that the Nth is the one meant.
             */
            se->depth = 1;
        }
        if (g_str_equal(se->f.step, "pdu-capsule-resp")) {
            /* the write was carried out, its completion never sent */
            se->f.action = "close";
            se->w[se->f.write].must_land = true;
        } else if (g_str_equal(se->f.step, "io-cmd") &&
                   g_rand_boolean(s->rand)) {
            se->f.action = "close-after";
            se->w[se->f.write].must_land = true;
        } else {
            se->f.action = g_rand_boolean(s->rand) &&
                           strncmp(se->f.step, "io-", 3) &&
                           !g_str_equal(se->f.step, "pdu-r2t") ?
                           "c2h-term" : "close";
            se->w[se->f.write].must_not_land = true;
        }
        return;
    }
    }
    se->f.action = "close";
}

/* The admin queue or I/O queue @qid's connection, up to the I/O */
static Conn *session_connect(Storm *s, Session *se, uint16_t qid,
                             uint16_t cntlid)
{
    bool tls = se->kind == SK_TLS || se->kind == SK_TLS_AUTH;
    bool auth = se->kind == SK_AUTH || se->kind == SK_TLS_AUTH;
    const char *hostnqn = auth ? STORM_NQN_AUTH : STORM_NQN_TLS;
    bool here = se->host_side && se->hc_io == (qid != 0);
    Conn *c = storm_conn_open(s);
    NvmfCqe cqe;

    if (qid) {
        se->io = c;
    } else {
        se->a = c;
    }
    if (tls) {
        unsigned k = auth;

        if (here && se->hc == HC_TLS) {
            storm_arm_cut(s, c, g_rand_int_range(s->rand, 0, 400), false);
        }
        c->tls = nvmf_tls_new(&c->inner, s->tls_identity[k], s->tls_key[k],
                              s->tls_hash[k] == 2 ? 48 : 32, s->tls_hash[k]);
        if (nvmf_tls_handshake(c->tls) < 0) {
            if (!se->first_error) {
                se->first_error = g_strdup_printf("TLS handshake: %s",
                                                  nvmf_tls_error(c->tls));
            }
            se->error = true;
            return NULL;
        }
        c->inner = nvmf_tls_transport(c->tls);
        storm_host_new(c);
    }
    if (here && se->hc == HC_ICREQ) {
        storm_arm_cut(s, c, g_rand_int_range(s->rand, 0, wire_len(se, 128)),
                      false);
    }
    if (nvmf_host_icreq(c->h, se->hd, se->dd, 0) < 0) {
        session_failed(se, c, "ICReq");
        return NULL;
    }
    if (here && se->hc == HC_CONNECT) {
        storm_arm_cut(s, c, g_rand_int_range(s->rand, 0,
                      wire_len(se, pdu_len(se, 72, 1024))), false);
    }
    if (nvmf_host_connect(c->h, qid, 31, cntlid, SUBNQN, hostnqn, hostid,
                          qid ? 0 : se->kato, 0, &cqe) < 0) {
        session_failed(se, c, "Connect");
        return NULL;
    }
    if (cqe.status) {
        g_error("storm: Connect of queue %u failed with status 0x%x", qid,
                cqe.status);
    }
    c->cntlid = qid ? cntlid : cqe.dw0 & 0xffff;
    if (auth) {
        NvmfAuthParams p = {
            .hostnqn = hostnqn, .subnqn = SUBNQN,
            .host_secret = s->hkey, .ctrl_secret = s->ckey,
            .hashes = { 1 }, .nhashes = 1, .ngroups = 1,
            .tid = 1, .rand = s->rand,
        };
        NvmfAuthResult r;

        /* the null group or ffdhe2048 */
        p.groups[0] = g_rand_boolean(s->rand) ? 0 : 1;
        if (here && se->hc == HC_AUTH) {
            /* the exchange sends 500 (null) to 800 (ffdhe2048) bytes */
            storm_arm_cut(s, c, g_rand_int_range(s->rand, 0,
                                                 p.groups[0] ? 800 : 500),
                          false);
        }
        if (nvmf_host_authenticate(c->h, &p, &r) < 0) {
            session_failed(se, c, "DH-HMAC-CHAP");
            return NULL;
        }
        if (!r.authenticated) {
            g_error("storm: DH-HMAC-CHAP failed: %s", r.error);
        }
    }
    if (!qid) {
        if (here && se->hc == HC_ADMIN) {
            storm_arm_cut(s, c, g_rand_int_range(s->rand, 0,
                          wire_len(se, pdu_len(se, 72, 0)) * 4), false);
        }
        if (nvmf_host_enable(c->h) < 0) {
            session_failed(se, c, "enable");
            return NULL;
        }
        if (nvmf_host_set_features(c->h, NVME_FEAT_NUM_QUEUES, 0x00010001,
                                   &cqe) < 0) {
            session_failed(se, c, "Set Features");
            return NULL;
        }
        if (se->aer) {
            uint8_t sqe[NVME_SQE_SIZE];

            nvmf_sqe_init(sqe, NVME_ADM_ASYNC_EVENT, 0);
            if (nvmf_host_send_cmd(c->h, sqe, NULL, 0, NULL, 0) < 0) {
                session_failed(se, c, "Asynchronous Event Request");
                return NULL;
            }
        }
    }
    return c;
}

static void session_send_write(Storm *s, Session *se, unsigned i)
{
    StormWrite *w = &se->w[i];
    Conn *c = se->io;
    size_t len = w->nlb * STORM_BS;
    uint8_t sqe[NVME_SQE_SIZE];

    w->buf = g_malloc(len);
    for (unsigned b = 0; b < w->nlb; b++) {
        storm_block(s, w->lba + b, w->gen, w->buf + b * STORM_BS);
    }
    nvmf_host_set_incapsule(c->h, w->incapsule ? 16384 : 0);
    if (se->host_side && se->hc == HC_WRITE && se->hc_write == (int)i) {
        size_t capsule = wire_len(se, pdu_len(se, 72,
                                              w->incapsule ? len : 0));
        size_t maxh2c = nvmf_host_maxh2cdata(c->h);
        size_t npdu = w->incapsule ? 0 : (len + maxh2c - 1) / maxh2c;
        size_t h2c = npdu * wire_len(se, pdu_len(se, 24, 0)) +
                     (npdu ? len + (se->dd ? 4 * npdu : 0) : 0);

        switch (g_rand_int_range(s->rand, 0, w->incapsule ? 2 : 3)) {
        case 0:     /* in the capsule */
            storm_arm_cut(s, c, g_rand_int_range(s->rand, 0, capsule),
                          false);
            break;
        case 1:     /* all of it sent, then the socket goes */
            storm_arm_cut(s, c, capsule + h2c, true);
            break;
        default:    /* after the R2T, or in the H2CData */
            storm_arm_cut(s, c, capsule +
                          (g_rand_boolean(s->rand) ? 0 :
                           g_rand_int_range(s->rand, 0, h2c)), false);
            break;
        }
    }
    nvmf_sqe_init(sqe, NVME_CMD_WRITE, 1);
    nvmet_st32(sqe + NVME_SQE_CDW10, (uint32_t)w->lba);
    nvmet_st32(sqe + NVME_SQE_CDW12, w->nlb - 1);
    w->cid = nvmf_host_send_cmd(c->h, sqe, w->buf, len, NULL, 0);
    if (w->cid < 0) {
        w->state = SW_NOT_SENT;
        session_failed(se, c, "write capsule");
        return;
    }
    w->state = SW_SENT;
}

static bool session_wait_write(Storm *s, Session *se, unsigned i)
{
    StormWrite *w = &se->w[i];
    NvmfCqe cqe;

    if (nvmf_host_wait(se->io->h, w->cid, &cqe) < 0) {
        return session_failed(se, se->io, "write");
    }
    if (cqe.status) {
        /* a cut closes connections; it must not fail commands */
        g_error("storm: write %u (%s cut, %s) failed with status 0x%x "
                "(seed %u)", w->gen, se->host_side ? "host" : "target",
                se->host_side ? "-" : se->f.step, cqe.status, s->seed);
    }
    w->state = SW_ACKED;
    if (w->read_back) {
        size_t len = w->nlb * STORM_BS;
        g_autofree uint8_t *rbuf = g_malloc(len);

        if (nvmf_host_rw(se->io->h, false, 1, w->lba, w->nlb, rbuf, len,
                         &cqe) < 0) {
            return session_failed(se, se->io, "read");
        }
        if (cqe.status) {
            g_error("storm: read after write %u failed with status 0x%x "
                    "(seed %u)", w->gen, cqe.status, s->seed);
        }
        if (memcmp(rbuf, w->buf, len)) {
            g_error("storm: write %u (LBA %" PRIu64 ", %u blocks), "
                    "acknowledged, does not read back through the target "
                    "(seed %u)", w->gen, w->lba, w->nlb, s->seed);
        }
        s->reads_verified++;
    }
    return true;
}

static void session_io(Storm *s, Session *se)
{
    unsigned sent = 0, done = 0;

    while (done < se->nwrites && !se->error) {
        if (sent < se->nwrites && sent - done < se->depth) {
            session_send_write(s, se, sent++);
            if (se->host_side && se->hc == HC_ADMIN_DURING_IO &&
                se->hc_write == (int)sent - 1 && !se->error) {
                /* the admin queue goes with writes in flight */
                storm_arm_cut(s, se->a, 0, true);
                conn_cut(se->a);
            }
            continue;
        }
        if (!session_wait_write(s, se, done++)) {
            break;
        }
    }
}

/* connections at the baseline, no queue draining (a few seconds at most) */
static void storm_wait_idle(Storm *s, unsigned base)
{
    uint64_t conns = 0, draining = 0;

    for (int i = 0; i < 5000; i++) {
        conns = qom_u64(s->qts, "/objects/port0", "connections");
        draining = qom_u64(s->qts, "/objects/port0", "connections-draining");
        if (conns == base && !draining) {
            return;
        }
        g_usleep(1000);
    }
    g_error("storm: after 5 s the target still has %" PRIu64 " connections "
            "(want %u) and %" PRIu64 " draining (want 0)", conns, base,
            draining);
}

/* After the session: every block it wrote is what it may be */
static void session_verify(Storm *s, Session *se, unsigned n)
{
    uint8_t b[STORM_BS];

    for (unsigned i = 0; i < se->nwrites; i++) {
        StormWrite *w = &se->w[i];

        if (w->state == SW_PLANNED) {
            continue;
        }
        for (unsigned k = 0; k < w->nlb; k++) {
            uint64_t lba = w->lba + k;
            int64_t got;

            storm_pread_block(s, lba, b);
            got = storm_block_gen(s, lba, b);
            if (got < 0) {
                g_error("storm: session %u (seed %u): block %" PRIu64
                        " holds neither write %u nor what was there "
                        "(generation %u): torn or misplaced (%.4s lba "
                        "%u gen %u)", n, s->seed, lba, w->gen,
                        s->acked[lba], b, nvmet_ld32(b + 4),
                        nvmet_ld32(b + 8));
            }
            if (w->state == SW_ACKED || w->must_land) {
                if (got != w->gen) {
                    g_error("storm: session %u (seed %u): block %" PRIu64
                            " of %s write %u holds generation %" PRId64,
                            n, s->seed, lba,
                            w->state == SW_ACKED ? "acknowledged" :
                            "carried out (completion faulted)", w->gen,
                            got);
                }
            } else if (got != w->gen && got != s->acked[lba]) {
                g_error("storm: session %u (seed %u): block %" PRIu64
                        " holds generation %" PRId64 ", neither write %u "
                        "in doubt nor %u before it", n, s->seed, lba, got,
                        w->gen, s->acked[lba]);
            } else if ((w->state == SW_NOT_SENT || w->must_not_land) &&
                       got == w->gen) {
                g_error("storm: session %u (seed %u): block %" PRIu64
                        " has write %u that the target %s", n, s->seed,
                        lba, w->gen, w->state == SW_NOT_SENT ?
                        "never received whole" : "was told to drop");
            }
            if (w->state == SW_ACKED) {
                s->acked_blocks++;
            } else if (w->must_land) {
                s->must_land_checked++;
            } else if (w->state == SW_NOT_SENT || w->must_not_land) {
                s->must_not_checked++;
            } else if (got == w->gen) {
                s->doubt_landed++;
            } else {
                s->doubt_not++;
            }
            s->acked[lba] = got;
        }
        s->acked_writes += w->state == SW_ACKED;
    }
}

/*
 * After a cut that left the admin queue: the controller takes a new I/O
 * queue, which reads back every block the association wrote (the disk
 * holds what session_verify() found), and writes and reads some more.
 */
static void session_reconnect(Storm *s, Session *se, unsigned n)
{
    uint8_t want[STORM_BS];
    StormWrite *w = &se->w[0];
    NvmfCqe cqe;

    s->verified_session = true;
    se->hc = HC__MAX;               /* no cut this time */
    if (!session_connect(s, se, 1, se->a->cntlid)) {
        g_error("storm: session %u (seed %u): no new I/O queue on "
                "controller %u after the cut: %s", n, s->seed,
                se->a->cntlid, se->first_error);
    }
    for (unsigned i = 0; i < se->nwrites; i++) {
        size_t len = se->w[i].nlb * STORM_BS;
        g_autofree uint8_t *rbuf = g_malloc(len);

        if (se->w[i].state == SW_PLANNED) {
            continue;
        }
        HOST_OK(se->io, nvmf_host_rw(se->io->h, false, 1, se->w[i].lba,
                                     se->w[i].nlb, rbuf, len, &cqe));
        g_assert_cmphex(cqe.status, ==, 0);
        for (unsigned k = 0; k < se->w[i].nlb; k++) {
            uint64_t lba = se->w[i].lba + k;

            storm_block(s, lba, s->acked[lba], want);
            if (memcmp(rbuf + k * STORM_BS, want, STORM_BS)) {
                g_error("storm: session %u (seed %u): block %" PRIu64
                        " read on the new I/O queue is not generation %u",
                        n, s->seed, lba, s->acked[lba]);
            }
        }
    }
    /* the first write's blocks once more, with a new generation */
    if (!w->buf) {
        w->buf = g_malloc(w->nlb * STORM_BS);
    }
    w->gen = ++s->gen;
    for (unsigned b = 0; b < w->nlb; b++) {
        storm_block(s, w->lba + b, w->gen, w->buf + b * STORM_BS);
    }
    HOST_OK(se->io, nvmf_host_rw(se->io->h, true, 1, w->lba, w->nlb, w->buf,
                                 w->nlb * STORM_BS, &cqe));
    g_assert_cmphex(cqe.status, ==, 0);
    for (unsigned b = 0; b < w->nlb; b++) {
        s->acked[w->lba + b] = w->gen;
    }
    s->reconnects++;
}

static void storm_session(Storm *s, unsigned n, unsigned base)
{
    Session se = { 0 };
    const char *hostnqn;

    session_plan(s, &se, n);
    hostnqn = se.kind >= SK_AUTH ? STORM_NQN_AUTH : STORM_NQN_TLS;
    s->sessions_by_kind[se.kind]++;
    if (!se.host_side && se.f.write < 0) {
        se.fault_id = storm_fault_arm(s, &se.f, hostnqn);
    }
    se.admin_ok = session_connect(s, &se, 0, 0xffff);
    if (se.admin_ok && session_connect(s, &se, 1, se.a->cntlid)) {
        if (!se.host_side && se.f.write >= 0) {
            se.fault_id = storm_fault_arm(s, &se.f, hostnqn);
        }
        session_io(s, &se);
    }

    if (se.host_side) {
        Conn *c = se.a && se.a->cut_fired ? se.a :
                  se.io && se.io->cut_fired ? se.io : NULL;
        bool tls = se.kind == SK_TLS || se.kind == SK_TLS_AUTH;

        if (se.hc == HC_ADMIN_DURING_IO && c == se.a && se.io) {
            storm_count(s, "host", "admin queue, writes in flight");
        } else if (c) {
            storm_count(s, "host", storm_cut_what(c, tls));
        } else {
            /* the budget outlived the session: cut at its end */
            storm_count(s, "host", "after the last completion");
        }
        if (se.error && !c) {
            g_error("storm: session %u (seed %u, %s): %s before any cut",
                    n, s->seed, storm_kind_name[se.kind], se.first_error);
        }
        s->host_cuts++;
    } else if (se.fault_id) {
        int64_t hits = storm_fault_done(s, se.fault_id);
        bool io = se.f.queue ? g_str_equal(se.f.queue, "io") :
                  !strncmp(se.f.step, "connect-", 8) ?
                  g_str_equal(se.f.step, "connect-io") : se.f.nth == 2;
        g_autofree char *what = g_strdup_printf("%s %s (%s queue)",
            se.f.step, g_str_equal(se.f.action, "close-after") ?
            "close after response" : se.f.action, io ? "I/O" : "admin");

        if (hits != 1) {
            g_error("storm: session %u (seed %u): the fault at %s fired "
                    "%" PRId64 " times", n, s->seed, se.f.step, hits);
        }
        if (!se.error && !g_str_equal(se.f.action, "close-after")) {
            g_error("storm: session %u (seed %u): the target cut at %s "
                    "but the host went on", n, s->seed, se.f.step);
        }
        storm_count(s, "target", what);
        s->target_cuts++;
    } else {
        g_error("storm: session %u (seed %u): %s before the fault was "
                "armed", n, s->seed, se.first_error);
    }

    if (se.io) {
        conn_close(se.io);
        se.io = NULL;
    }
    if (se.reconnect && se.admin_ok && !se.a->cut_fired &&
        !se.admin_failed) {
        /* the controller lives on: a new I/O queue reads it all back */
        storm_wait_idle(s, base + 1);
        session_verify(s, &se, n);
        session_reconnect(s, &se, n);
    }
    if (se.a) {
        conn_close(se.a);
    }
    if (se.io) {
        conn_close(se.io);
    }
    storm_wait_idle(s, base);
    if (!s->verified_session) {
        session_verify(s, &se, n);
    }
    s->verified_session = false;
    for (unsigned i = 0; i < se.nwrites; i++) {
        g_free(se.w[i].buf);
    }
    g_free(se.first_error);
}

typedef struct StormCase {
    unsigned cuts;
    bool iothreads;     /* I/O queues and namespaces in two iothreads */
} StormCase;

static void storm_start(Storm *s, bool iothreads)
{
    Target *t = s->t = target_new();
    const char *pskfile = target_file(t, "nvmet-tcp-test-psk-XXXXXX",
                                      tls_psk01);
    const char *disk2 = target_file(t, "nvmet-tcp-test-XXXXXX.img", NULL);

    s->hkey = nvmf_dhchap_key_encode(key_a, 48, 2);
    s->ckey = nvmf_dhchap_key_encode(key_b, 32, 1);
    target_launch(t,
        "-blockdev driver=file,filename=%s,node-name=disk0 "
        "-blockdev driver=file,filename=%s,node-name=disk1 "
        "-object secret,id=psk,file=%s "
        "-object secret,id=hk,data=%s -object secret,id=ck,data=%s "
        "-object nvmet-port,id=port0,traddr=127.0.0.1,trsvcid=0,tls=allowed "
        "%s"
        "-object nvmet-subsystem,id=sub0,nqn=" SUBNQN ",ports=port0,"
        "serial=STORM0001%s "
        "-object nvmet-namespace,id=ns1,subsystem=sub0,nsid=1,"
        "node-name=disk0%s "
        "-object nvmet-namespace,id=ns2,subsystem=sub0,nsid=2,"
        "node-name=disk1%s "
        "-object nvmet-host,id=h1,nqn=" STORM_NQN_TLS ",subsystems=sub0,"
        "tls-psk=psk "
        "-object nvmet-host,id=h2,nqn=" HOSTNQN2 ",subsystems=sub0 "
        "-object nvmet-host,id=h3,nqn=" STORM_NQN_AUTH ",subsystems=sub0,"
        "tls-psk=psk,dhchap-secret=hk,dhchap-ctrl-secret=ck %s",
        t->disk, disk2, pskfile, s->hkey, s->ckey,
        iothreads ? "-object iothread,id=io0 -object iothread,id=io1 " : "",
        iothreads ? ",iothreads=io0,iothreads=io1" : "",
        iothreads ? ",iothread=io0" : "", iothreads ? ",iothread=io1" : "",
        g_getenv("NVMET_STORM_QEMU_ARGS") ?: "");
    s->qts = t->qts;
    for (unsigned k = 0; k < 2; k++) {
        s->tls_identity[k] = nvmf_tls_configured(tls_psk01, 1,
                                                 k ? STORM_NQN_AUTH :
                                                 STORM_NQN_TLS, SUBNQN,
                                                 s->tls_key[k],
                                                 &s->tls_hash[k]);
        g_assert_nonnull(s->tls_identity[k]);
    }
    s->disk_fd = open(t->disk, O_RDONLY);
    g_assert_cmpint(s->disk_fd, >=, 0);
    s->acked = g_new0(uint32_t, STORM_BLOCKS);
    s->kinds = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
    qtest_qmp_set_event_callback(s->qts, drop_event, NULL);
}

/* The whole region, read through the target, is what the model says */
static void storm_read_back(Storm *s)
{
    Conn *a = admin_connect(s->t->port, SUBNQN, STORM_NQN_TLS, false, false,
                            0);
    g_autofree uint8_t *buf = g_malloc(64 * STORM_BS);
    uint8_t want[STORM_BS];
    Conn *io;
    NvmfCqe cqe;

    HOST_OK(a, nvmf_host_set_features(a->h, NVME_FEAT_NUM_QUEUES,
                                      0x00010001, &cqe));
    io = conn_open(s->t->port);
    HOST_OK(io, nvmf_host_icreq(io->h, true, true, 0));
    HOST_OK(io, nvmf_host_connect(io->h, 1, 31, a->cntlid, SUBNQN,
                                  STORM_NQN_TLS, hostid, 0, 0, &cqe));
    g_assert_cmphex(cqe.status, ==, 0);
    for (uint64_t lba = 0; lba < STORM_BLOCKS; lba += 64) {
        HOST_OK(io, nvmf_host_rw(io->h, false, 1, lba, 64, buf, 64 * STORM_BS,
                                 &cqe));
        g_assert_cmphex(cqe.status, ==, 0);
        for (unsigned k = 0; k < 64; k++) {
            storm_block(s, lba + k, s->acked[lba + k], want);
            if (memcmp(buf + k * STORM_BS, want, STORM_BS)) {
                g_error("storm: block %" PRIu64 " read through the target "
                        "is not generation %u", lba + k, s->acked[lba + k]);
            }
        }
    }
    conn_close(io);
    conn_close(a);
}

/* query-nvmet: the other host's controller alone, nothing left over */
static void storm_check_query(Storm *s)
{
    QDict *info = qobject_to(QDict, qmp_ok(s->qts, qtest_qmp(s->qts,
        "{ 'execute': 'query-nvmet' }")));
    QList *ctrls = qdict_get_qlist(info, "controllers");
    QDict *port = qlist_nth_dict(qdict_get_qlist(info, "ports"), 0);
    QDict *c;

    g_assert_cmpint(qlist_size(ctrls), ==, 1);
    c = qlist_nth_dict(ctrls, 0);
    g_assert_cmpstr(qdict_get_str(c, "hostnqn"), ==, HOSTNQN2);
    g_assert_cmpint(qlist_size(qdict_get_qlist(c, "queues")), ==, 2);
    g_assert_cmpint(qdict_get_int(port, "connections"), ==, 2);
    g_assert_cmpint(qdict_get_int(port, "connections-draining"), ==, 0);
    qobject_unref(info);
}

static void storm_free(Storm *s)
{
    conn_close(s->by.io);
    conn_close(s->by.a);
    close(s->disk_fd);
    g_free(s->acked);
    g_hash_table_unref(s->kinds);
    g_rand_free(s->rand);
    g_free(s->hkey);
    g_free(s->ckey);
    g_free(s->tls_identity[0]);
    g_free(s->tls_identity[1]);
    target_stop(s->t);
}

/*
 * NVMET_STORM_CUTS cuts (default: @opaque's), half by the host, half by
 * the target; NVMET_STORM_SEED makes a run again.  QEMU's resident memory
 * must not grow by 2 MiB or more over the second half of the cuts (1 MiB
 * with 5000 cuts or more): allocators settle in the first half (with
 * iothreads, QEMU grows by 3-4 MiB over the first 2000 cuts, then by
 * less than 200 KiB over the next 3000), a leak of 4 KiB per cut (256
 * bytes over 5000 cuts) does not.
 */
static void test_disconnect_storm(const void *opaque)
{
    const StormCase *sc = opaque;
    const char *env = g_getenv("NVMET_STORM_CUTS");
    const char *seed_env = g_getenv("NVMET_STORM_SEED");
    unsigned cuts = env ? MAX(atoi(env), 2) : sc->cuts;
    g_autoptr(GString) kinds = g_string_new(NULL);
    g_autoptr(GList) keys = NULL;
    Storm s = { 0 };
    int64_t t0, secs;
    unsigned ops0;
    long rss0, rss_half = 0, rss1;

    s.seed = seed_env ? strtoul(seed_env, NULL, 0) : g_test_rand_int();
    g_test_message("storm: seed %u (NVMET_STORM_SEED=%u repeats it), "
                   "%u cuts", s.seed, s.seed, cuts);
    s.rand = g_rand_new_with_seed(s.seed);
    storm_start(&s, sc->iothreads);
    bystander_start(&s);
    rss0 = proc_rss_kib(qtest_pid(s.qts));
    ops0 = g_atomic_int_get(&s.by.ops);
    t0 = g_get_monotonic_time();
    for (unsigned n = 0; n < cuts; n++) {
        storm_session(&s, n, 2);
        if (s.by.error) {
            break;
        }
        if (n == cuts / 2 - 1) {
            rss_half = proc_rss_kib(qtest_pid(s.qts));
        }
        if (n % 500 == 499 && g_getenv("NVMET_STORM_RSS")) {
            g_test_message("storm: cut %u: VmRSS %ld KiB", n + 1,
                           proc_rss_kib(qtest_pid(s.qts)));
        }
    }
    secs = g_get_monotonic_time() - t0;
    rss1 = proc_rss_kib(qtest_pid(s.qts));
    bystander_stop(&s);
    g_assert_cmpuint((unsigned)s.by.ops - ops0, >, 0);
    storm_check_query(&s);
    storm_read_back(&s);

    keys = g_list_sort(g_hash_table_get_keys(s.kinds),
                       (GCompareFunc)strcmp);
    for (GList *l = keys; l; l = l->next) {
        g_string_append_printf(kinds, "%s%s %u", kinds->len ? ", " : "",
                               (char *)l->data, GPOINTER_TO_UINT(
                                   g_hash_table_lookup(s.kinds, l->data)));
    }
    g_test_message("storm: %u cuts in %.1f s (seed %u): %u by the host, %u "
                   "by the target; sessions plain %u, tls %u, dhchap %u, "
                   "tls+dhchap %u; %" PRIu64 " acknowledged writes (%"
                   PRIu64 " blocks) read back intact; blocks in doubt: %"
                   PRIu64 " new, %" PRIu64 " old; %" PRIu64 " blocks the "
                   "target must not have written and %" PRIu64 " it must "
                   "have: right; %" PRIu64 " writes also read back through "
                   "the target right after their completion; %u times "
                   "the controller took a new I/O queue after the cut and "
                   "read it all back; no command failed; other host %u verified write+read, slowest "
                   "%.1f ms, no error; connections left 0, draining 0, "
                   "controllers 1 (the other host's); QEMU VmRSS %ld KiB "
                   "before, %ld KiB at cut %u, %ld KiB after (%+ld KiB "
                   "over the second half); %s",
                   s.host_cuts + s.target_cuts, secs / 1e6, s.seed,
                   s.host_cuts, s.target_cuts, s.sessions_by_kind[0],
                   s.sessions_by_kind[1], s.sessions_by_kind[2],
                   s.sessions_by_kind[3], s.acked_writes, s.acked_blocks,
                   s.doubt_landed, s.doubt_not, s.must_not_checked,
                   s.must_land_checked, s.reads_verified, s.reconnects,
                   (unsigned)s.by.ops - ops0,
                   s.by.max_us / 1000.0, rss0, rss_half, cuts / 2, rss1,
                   rss1 - rss_half,
                   sc->iothreads ? "iothreads" : "main loop");
    g_test_message("storm: cuts by kind: %s", kinds->str);
    g_assert_cmpint(s.by.max_us, <, STORM_STALL_US);
    g_assert_cmpint(rss1 - rss_half, <, cuts >= 5000 ? 1024 : 2048);
    storm_free(&s);
}

int main(int argc, char **argv)
{
    static const DigestCase plain = { false, false };
    static const DigestCase digests = { true, true };
    static const DigestCase hdonly = { true, false };

    g_test_init(&argc, &argv, NULL);
    qtest_add_data_func("/nvmet-tcp/rw/plain", &plain,
                        test_connect_identify_rw);
    qtest_add_data_func("/nvmet-tcp/rw/digests", &digests,
                        test_connect_identify_rw);
    qtest_add_data_func("/nvmet-tcp/rw/hdgst-only", &hdonly,
                        test_connect_identify_rw);
    qtest_add_func("/nvmet-tcp/several-queues", test_several_queues);
    qtest_add_func("/nvmet-tcp/discovery", test_discovery);
    qtest_add_func("/nvmet-tcp/ipv6", test_ipv6);
    qtest_add_func("/nvmet-tcp/unix-socket", test_unix_socket);
    qtest_add_func("/nvmet-tcp/malformed", test_malformed);
    qtest_add_func("/nvmet-tcp/keep-alive-timeout", test_keep_alive_timeout);
    qtest_add_func("/nvmet-tcp/namespace-hotplug-aen",
                   test_namespace_hotplug_aen);
    qtest_add_func("/nvmet-tcp/host-acl", test_host_acl);
    qtest_add_func("/nvmet-tcp/bad-options", test_bad_options);
    qtest_add_func("/nvmet-tcp/storage-daemon", test_storage_daemon);
    {
        static const AuthCase cases[] = {
            { "sha256", "ffdhe2048", 1, 1, 1, true },
            { "sha384", "ffdhe3072", 2, 2, 2, false },
            { "sha512", "null", 3, 0, 3, true },
            { "sha256", "ffdhe4096", 1, 3, 0, true },
            { "sha384", "ffdhe6144", 2, 4, 0, false },
            { "sha512", "ffdhe8192", 3, 5, 1, true },
        };

        for (size_t i = 0; i < G_N_ELEMENTS(cases); i++) {
            const AuthCase *ac = &cases[i];
            const char *dir = ac->bidi ? "bidi" : "uni";
            g_autofree char *path = g_strdup_printf(
                "/nvmet-tcp/auth/exchange/%s-%s-%s", ac->hash, ac->group, dir);

            qtest_add_data_func(path, ac, test_auth_exchange);
        }
    }
    qtest_add_func("/nvmet-tcp/auth/reauth", test_auth_reauth);
    qtest_add_func("/nvmet-tcp/auth/failures", test_auth_failures);
    qtest_add_func("/nvmet-tcp/auth/qmp-rotation", test_auth_qmp_rotation);
    qtest_add_func("/nvmet-tcp/auth/determinism", test_auth_determinism);
    qtest_add_func("/nvmet-tcp/auth/refuse-early", test_auth_refuse_early);
    qtest_add_func("/nvmet-tcp/tls/configured", test_tls_configured);
    qtest_add_func("/nvmet-tcp/tls/alerts", test_tls_alerts);
    qtest_add_func("/nvmet-tcp/tls/port-removed", test_tls_port_removed);
    qtest_add_func("/nvmet-tcp/tls/concat-replace", test_tls_concat);
    qtest_add_func("/nvmet-tcp/tls/sha384", test_tls_sha384);
    qtest_add_func("/nvmet-tcp/export/storage-daemon",
                   test_export_storage_daemon);
    qtest_add_func("/nvmet-tcp/export/qmp", test_export_qmp);
    qtest_add_func("/nvmet-tcp/export/drain", test_export_drain);
    qtest_add_func("/nvmet-tcp/export/inactive", test_export_inactive);
    qtest_add_func("/nvmet-tcp/iothreads", test_iothreads);
    qtest_add_func("/nvmet-tcp/fault/qmp", test_fault_qmp);
    qtest_add_func("/nvmet-tcp/fault/object", test_fault_object);
    qtest_add_func("/nvmet-tcp/fault/determinism", test_fault_determinism);
    qtest_add_func("/nvmet-tcp/fault/storage-daemon",
                   test_fault_storage_daemon);
    qtest_add_func("/nvmet-tcp/qmp/concat-events", test_qmp_concat);
    qtest_add_func("/nvmet-tcp/qmp/capture", test_qmp_capture);
    qtest_add_func("/nvmet-tcp/qmp/capture-property",
                   test_qmp_capture_property);
    qtest_add_func("/nvmet-tcp/qmp/capture-iothreads",
                   test_qmp_capture_iothreads);
    qtest_add_func("/nvmet-tcp/qmp/errors", test_qmp_errors);
    qtest_add_func("/nvmet-tcp/qmp/rate-limit", test_qmp_rate_limit);
    qtest_add_func("/nvmet-tcp/qmp/ctrl-events", test_qmp_ctrl_events);
    qtest_add_func("/nvmet-tcp/qmp/exit-connected", test_qmp_exit_connected);
    qtest_add_func("/nvmet-tcp/limits/icreq-timeout", test_icreq_timeout);
    qtest_add_func("/nvmet-tcp/limits/max-connections", test_max_connections);
    {
        static const StormCase storm = { 1000, false };
        static const StormCase storm_iothreads = { 1000, true };

        qtest_add_data_func("/nvmet-tcp/storm/disconnect", &storm,
                            test_disconnect_storm);
        qtest_add_data_func("/nvmet-tcp/storm/disconnect-iothreads",
                            &storm_iothreads, test_disconnect_storm);
    }
    if (g_test_slow()) {
        qtest_add_func("/nvmet-tcp/soak/replace-tls-psk",
                       test_soak_replace_tls_psk);
        static const StormCase soak = { 10000, true };

        qtest_add_data_func("/nvmet-tcp/soak/disconnect-storm", &soak,
                            test_disconnect_storm);
    }
    return g_test_run();
}
