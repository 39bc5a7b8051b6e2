/*
 * qtest for the NVMe-oF TCP target: start QEMU (and qemu-storage-daemon)
 * with the target and speak NVMe/TCP to it over real sockets.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#include "qemu/osdep.h"
#include <sys/socket.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <arpa/inet.h>
#include "libqtest.h"
#include "qobject/qdict.h"
#include "nvmf-host.h"

#define SUBNQN   "nqn.2026-11.org.qemu:qtest-subsys"
#define HOSTNQN  "nqn.2014-08.org.nvmexpress:uuid:3f0c2a9e-5b1d-4c8e-9a7f-1d2e3f405162"
#define HOSTNQN2 "nqn.2014-08.org.nvmexpress:uuid:8a7b6c5d-4e3f-4a1b-8c9d-0e1f2a3b4c5d"
#define DISCNQN  "nqn.2014-08.org.nvmexpress.discovery"
#define DISK_SIZE (16 * 1024 * 1024)

static const uint8_t hostid[16] = {
    0x3f, 0x0c, 0x2a, 0x9e, 0x5b, 0x1d, 0x4c, 0x8e,
    0x9a, 0x7f, 0x1d, 0x2e, 0x3f, 0x40, 0x51, 0x62,
};

typedef struct Target {
    QTestState *qts;
    char *disk;
    int port;
} Target;

/* ---- socket transport for the test host ----------------------------------- */

typedef struct Conn {
    int fd;
    NvmfHost *h;
    uint16_t cntlid;
} Conn;

static int sock_send(void *opaque, const void *buf, size_t len)
{
    Conn *c = opaque;
    const uint8_t *p = buf;

    while (len) {
        ssize_t n = send(c->fd, p, len, MSG_NOSIGNAL);

        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n <= 0) {
            return -1;
        }
        p += n;
        len -= n;
    }
    return 0;
}

static ssize_t sock_recv(void *opaque, void *buf, size_t len)
{
    Conn *c = opaque;
    ssize_t n;

    do {
        n = recv(c->fd, buf, len, 0);
    } while (n < 0 && errno == EINTR);
    if (n < 0 && errno == ECONNRESET) {
        return 0;
    }
    return n;
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

static void conn_close(Conn *c)
{
    nvmf_host_free(c->h);
    close(c->fd);
    g_free(c);
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

/* ---- target setup --------------------------------------------------------- */

static char *make_disk(void)
{
    char *path = NULL;
    int fd = g_file_open_tmp("nvmet-tcp-test-XXXXXX.img", &path, NULL);

    g_assert_cmpint(fd, >=, 0);
    g_assert_cmpint(ftruncate(fd, DISK_SIZE), ==, 0);
    close(fd);
    return path;
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

static Target *target_start(const char *extra)
{
    Target *t = g_new0(Target, 1);

    t->disk = make_disk();
    t->qts = qtest_initf(
        "-M none "
        "-blockdev driver=file,filename=%s,node-name=disk0 "
        "-object nvmet-port,id=port0,traddr=127.0.0.1,trsvcid=0 "
        "-object nvmet-subsystem,id=sub0,nqn=" SUBNQN ",ports=port0,"
        "allow-any-host=on,serial=QTEST0001 "
        "-object nvmet-namespace,id=ns1,subsystem=sub0,nsid=1,node-name=disk0 "
        "%s", t->disk, extra ? extra : "");
    t->port = qom_port(t->qts, "/objects/port0");
    return t;
}

static void target_stop(Target *t)
{
    qtest_quit(t->qts);
    unlink(t->disk);
    g_free(t->disk);
    g_free(t);
}

static void fill_random(uint8_t *buf, size_t len)
{
    for (size_t i = 0; i < len; i++) {
        buf[i] = g_test_rand_int();
    }
}

/* ---- tests ------------------------------------------------------------------ */

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
    g_autofree char *disk = NULL;
    g_autofree uint8_t *log = g_malloc0(2048);
    QTestState *qts;
    Conn *c;
    NvmfCqe cqe;
    int port;

    if (!have_ipv6_loopback()) {
        g_test_skip("no IPv6 loopback");
        return;
    }
    disk = make_disk();
    qts = qtest_initf("-M none "
                      "-blockdev driver=file,filename=%s,node-name=disk0 "
                      "-object nvmet-port,id=port6,traddr=::1,trsvcid=0 "
                      "-object nvmet-subsystem,id=sub0,nqn=" SUBNQN
                      ",ports=port6,allow-any-host=on "
                      "-object nvmet-namespace,id=ns1,subsystem=sub0,nsid=1,"
                      "node-name=disk0", disk);
    port = qom_port(qts, "/objects/port6");
    c = conn_open_af(AF_INET6, port);
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
    qtest_quit(qts);
    unlink(disk);
}

/* ---- bad command lines --------------------------------------------------------- */

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
    g_autofree char *disk = make_disk();
    g_autofree char *bd = g_strdup_printf(
        "-blockdev driver=file,filename=%s,node-name=d0 ", disk);
    g_autofree char *a = NULL;
    Target *t;

    expect_startup_error("-object nvmet-port,id=p0,trsvcid=0 "
                         "-object nvmet-subsystem,id=s0,nqn=bogus,ports=p0",
                         "is not of the form");
    expect_startup_error("-object nvmet-port,id=p0,trsvcid=0 "
                         "-object nvmet-subsystem,id=s0,"
                         "nqn=nqn.2026-11.org.qemu:x,ports=nope",
                         "no object with id 'nope'");
    a = g_strdup_printf("%s -object nvmet-port,id=p0,trsvcid=0 "
                        "-object nvmet-subsystem,id=s0,"
                        "nqn=nqn.2026-11.org.qemu:x,ports=p0 "
                        "-object nvmet-namespace,id=n1,subsystem=s0,nsid=1,"
                        "node-name=missing", bd);
    expect_startup_error(a, "no block node named 'missing'");
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

    /* port in use: a second QEMU on the first one's port */
    t = target_start(NULL);
    g_free(a);
    a = g_strdup_printf("-object nvmet-port,id=p0,trsvcid=%d", t->port);
    expect_startup_error(a, "Address already in use");
    target_stop(t);
    unlink(disk);
}

/* ---- qemu-storage-daemon --------------------------------------------------- */

static void test_storage_daemon(void)
{
    const char *qemu = g_getenv("QTEST_QEMU_BINARY");
    g_autofree char *dir = g_path_get_dirname(qemu);
    g_autofree char *qsd = g_build_filename(dir, "storage-daemon",
                                            "qemu-storage-daemon", NULL);
    g_autofree char *disk = make_disk();
    g_autofree char *pidfile = g_strdup_printf("%s.pid", disk);
    int port = 0;
    GPid pid;
    Conn *a, *io;
    NvmfCqe cqe;
    uint8_t wbuf[8192], rbuf[8192];
    char *argv[16];
    int argc = 0;
    g_autofree char *bd = NULL, *obj = NULL;

    if (g_getenv("QTEST_QEMU_STORAGE_DAEMON_BINARY")) {
        g_free(qsd);
        qsd = g_strdup(g_getenv("QTEST_QEMU_STORAGE_DAEMON_BINARY"));
    }
    if (!g_file_test(qsd, G_FILE_TEST_IS_EXECUTABLE)) {
        g_test_skip("qemu-storage-daemon not built");
        return;
    }
    /* pick a free port for the daemon */
    {
        int fd = socket(AF_INET, SOCK_STREAM, 0);
        struct sockaddr_in sa = { .sin_family = AF_INET };
        socklen_t l = sizeof(sa);

        sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        g_assert_cmpint(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), ==, 0);
        getsockname(fd, (struct sockaddr *)&sa, &l);
        port = ntohs(sa.sin_port);
        close(fd);
    }
    bd = g_strdup_printf("driver=file,filename=%s,node-name=disk0", disk);
    obj = g_strdup_printf("nvmet-port,id=port0,trsvcid=%d", port);
    argv[argc++] = qsd;
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
    argv[argc++] = (char *)"--pidfile";
    argv[argc++] = pidfile;
    argv[argc] = NULL;
    g_assert_true(g_spawn_async(NULL, argv, NULL, G_SPAWN_DO_NOT_REAP_CHILD,
                                NULL, NULL, &pid, NULL));
    for (int i = 0; i < 200 && !g_file_test(pidfile, G_FILE_TEST_EXISTS); i++) {
        g_usleep(50 * 1000);
    }
    g_assert_true(g_file_test(pidfile, G_FILE_TEST_EXISTS));

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
    kill(pid, SIGTERM);
    waitpid(pid, NULL, 0);
    g_spawn_close_pid(pid);

    /* the data reached the image file */
    {
        g_autofree char *contents = NULL;
        gsize len;

        g_assert_true(g_file_get_contents(disk, &contents, &len, NULL));
        g_assert_cmpmem(contents + 2048 * 512, sizeof(wbuf), wbuf,
                        sizeof(wbuf));
    }
    unlink(disk);
    unlink(pidfile);
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
    qtest_add_func("/nvmet-tcp/malformed", test_malformed);
    qtest_add_func("/nvmet-tcp/keep-alive-timeout", test_keep_alive_timeout);
    qtest_add_func("/nvmet-tcp/namespace-hotplug-aen",
                   test_namespace_hotplug_aen);
    qtest_add_func("/nvmet-tcp/host-acl", test_host_acl);
    qtest_add_func("/nvmet-tcp/bad-options", test_bad_options);
    qtest_add_func("/nvmet-tcp/storage-daemon", test_storage_daemon);
    return g_test_run();
}
