/*
 * NVMe-oF TCP target: the QEMU side of the engine.
 *
 * One engine instance serves every nvmet-port of the process.  Each accepted
 * TCP connection gets a coroutine that moves bytes between its QIOChannel
 * and the engine queue; every block I/O the engine asks for runs in a
 * coroutine of its own on the namespace's BlockBackend.  Everything runs in
 * the main loop's AioContext.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#include "qemu/osdep.h"
#include "qapi/error.h"
#include "qemu/coroutine.h"
#include "qemu/main-loop.h"
#include "qemu/timer.h"
#include "qemu/guest-random.h"
#include "io/channel-socket.h"
#include "qemu/sockets.h"
#include "system/block-backend.h"
#include "block/block.h"
#include "nvmet-qemu.h"
#include "trace.h"

#define NVMET_RECV_BUF   (256 * 1024)
#define NVMET_MAX_IOV    64

struct NvmetConn {
    NvmetPortObject *port;
    QIOChannelSocket *sioc;
    QIOChannel *ioc;
    NvmetQueue *q;
    Coroutine *co;
    char *peer;
    bool waiting_read;      /* co is parked in qio_channel_yield(G_IO_IN) */
    bool done;              /* co has finished */
    unsigned ios;           /* I/O coroutines still running */
    QTAILQ_ENTRY(NvmetConn) next;
};

typedef struct NvmetIoTask {
    NvmetConn *conn;
    NvmetIo *io;
} NvmetIoTask;

static NvmetTarget *nvmet_target;
static QEMUTimer *nvmet_timer;

/* ---- engine operations -------------------------------------------------- */

static int64_t nvmet_ops_now(void *opaque)
{
    return qemu_clock_get_ms(QEMU_CLOCK_REALTIME);
}

static void nvmet_conn_wake(NvmetConn *c)
{
    if (c->waiting_read) {
        qio_channel_wake_read(c->ioc);
    }
}

static void nvmet_ops_kick(void *opaque, NvmetQueue *q, void *qopaque)
{
    nvmet_conn_wake(qopaque);
}

static void nvmet_ops_timer_update(void *opaque, int64_t deadline)
{
    if (deadline == INT64_MAX) {
        timer_del(nvmet_timer);
    } else {
        timer_mod(nvmet_timer, deadline);
    }
}

static void nvmet_ops_random(void *opaque, void *buf, size_t len)
{
    /* deterministic with -seed */
    qemu_guest_getrandom_nofail(buf, len);
}

static void nvmet_ops_keylog(void *opaque, NvmetQueue *q, void *qopaque,
                             const char *line)
{
    NvmetConn *c = qopaque;

    if (c && c->port->keylog) {
        fprintf(c->port->keylog, "%s\n", line);
    }
}

static const NvmetEngineOps nvmet_ops = {
    .now_ms = nvmet_ops_now,
    .queue_kick = nvmet_ops_kick,
    .timer_update = nvmet_ops_timer_update,
    .random_bytes = nvmet_ops_random,
    .tls_keylog = nvmet_ops_keylog,
    .event = nvmet_qemu_event,
    .capture = nvmet_capture_data,
};

static void nvmet_timer_cb(void *opaque)
{
    nvmet_target_timer(nvmet_target);
}

NvmetTarget *nvmet_qemu_target(void)
{
    if (!nvmet_target) {
        nvmet_timer = timer_new_ms(QEMU_CLOCK_REALTIME, nvmet_timer_cb, NULL);
        nvmet_target = nvmet_target_new(&nvmet_ops, NULL);
    }
    return nvmet_target;
}

/* ---- block I/O ---------------------------------------------------------- */

static void nvmet_conn_maybe_free(NvmetConn *c);

static void coroutine_fn nvmet_io_co(void *opaque)
{
    NvmetIoTask *task = opaque;
    NvmetConn *c = task->conn;
    NvmetIo *io = task->io;
    NvmetNamespaceObject *ns = io->backend;
    BlockBackend *blk = ns->blk;
    int ret;

    switch (io->op) {
    case NVMET_IO_READ:
        ret = blk_co_pread(blk, io->offset, io->len, io->buf, 0);
        break;
    case NVMET_IO_WRITE:
        ret = blk_co_pwrite(blk, io->offset, io->len, io->buf,
                            io->fua ? BDRV_REQ_FUA : 0);
        break;
    case NVMET_IO_FLUSH:
        ret = blk_co_flush(blk);
        break;
    case NVMET_IO_WRITE_ZEROES:
        ret = blk_co_pwrite_zeroes(blk, io->offset, io->len,
                                   (io->may_unmap ? BDRV_REQ_MAY_UNMAP : 0) |
                                   (io->fua ? BDRV_REQ_FUA : 0));
        break;
    case NVMET_IO_DISCARD:
        ret = blk_co_pdiscard(blk, io->offset, io->len, 0);
        if (ret == -ENOTSUP) {
            /* deallocation is advisory */
            ret = 0;
        }
        break;
    default:
        g_assert_not_reached();
    }
    if (ret < 0) {
        trace_nvmet_qemu_io_error(c->peer, io->op, io->offset, io->len, ret);
    }
    ns->inflight--;
    object_unref(OBJECT(ns));
    g_free(task);
    nvmet_io_complete(io, ret < 0 ? ret : 0);
    c->ios--;
    nvmet_conn_wake(c);
    nvmet_conn_maybe_free(c);
}

static void nvmet_conn_start_io(NvmetConn *c)
{
    NvmetIo *io;

    while ((io = nvmet_queue_next_io(c->q))) {
        NvmetIoTask *task = g_new(NvmetIoTask, 1);
        NvmetNamespaceObject *ns = io->backend;

        task->conn = c;
        task->io = io;
        c->ios++;
        ns->inflight++;
        object_ref(OBJECT(ns));
        qemu_coroutine_enter(qemu_coroutine_create(nvmet_io_co, task));
    }
}

/* ---- connections --------------------------------------------------------- */

static void nvmet_conn_maybe_free(NvmetConn *c)
{
    if (!c->done || c->ios) {
        return;
    }
    trace_nvmet_qemu_conn_free(c->peer);
    g_free(c->peer);
    g_free(c);
}

/* Send all engine output; false if the connection failed. */
static bool coroutine_fn nvmet_conn_flush(NvmetConn *c)
{
    struct iovec iov[NVMET_MAX_IOV];
    int n;

    while ((n = nvmet_queue_output_iov(c->q, iov, NVMET_MAX_IOV)) > 0) {
        Error *err = NULL;
        size_t len = iov_size(iov, n);

        if (qio_channel_writev_all(c->ioc, iov, n, &err) < 0) {
            trace_nvmet_qemu_conn_error(c->peer, error_get_pretty(err));
            nvmet_queue_note_close(c->q, error_get_pretty(err));
            error_free(err);
            return false;
        }
        nvmet_queue_output_advance(c->q, len);
        /* finished output may have admitted more work */
        nvmet_conn_start_io(c);
    }
    return true;
}

static void coroutine_fn nvmet_conn_co(void *opaque)
{
    NvmetConn *c = opaque;
    g_autofree uint8_t *buf = g_malloc(NVMET_RECV_BUF);

    trace_nvmet_qemu_conn_start(c->peer);
    for (;;) {
        Error *err = NULL;
        const uint8_t *pending;
        ssize_t n;

        nvmet_conn_start_io(c);
        if (!nvmet_conn_flush(c)) {
            break;
        }
        if (nvmet_queue_wants_close(c->q)) {
            break;
        }
        n = qio_channel_read(c->ioc, (char *)buf, NVMET_RECV_BUF, &err);
        if (n == QIO_CHANNEL_ERR_BLOCK) {
            if (nvmet_queue_output(c->q, &pending)) {
                continue;
            }
            c->waiting_read = true;
            qio_channel_yield(c->ioc, G_IO_IN);
            c->waiting_read = false;
            continue;
        }
        if (n < 0) {
            trace_nvmet_qemu_conn_error(c->peer, error_get_pretty(err));
            nvmet_queue_note_close(c->q, error_get_pretty(err));
            error_free(err);
            break;
        }
        if (n == 0) {
            trace_nvmet_qemu_conn_eof(c->peer);
            nvmet_queue_note_close(c->q, "the host closed the connection");
            break;
        }
        nvmet_queue_input(c->q, buf, n);
    }

    qio_channel_shutdown(c->ioc, QIO_CHANNEL_SHUTDOWN_BOTH, NULL);
    QTAILQ_REMOVE(&c->port->conns, c, next);
    /* in-flight I/O completes into the released queue and is discarded */
    nvmet_queue_release(c->q);
    c->q = NULL;
    object_unref(OBJECT(c->sioc));
    object_unref(OBJECT(c->port));
    c->done = true;
    nvmet_conn_maybe_free(c);
}

static void nvmet_accept(QIONetListener *listener, QIOChannelSocket *sioc,
                         gpointer opaque)
{
    NvmetPortObject *p = opaque;
    NvmetConn *c = g_new0(NvmetConn, 1);

    c->peer = nvmet_qemu_peer_name(sioc);
    c->port = p;
    object_ref(OBJECT(p));
    c->sioc = sioc;
    object_ref(OBJECT(sioc));
    c->ioc = QIO_CHANNEL(sioc);
    qio_channel_set_name(c->ioc, "nvmet-tcp-conn");
    qio_channel_set_blocking(c->ioc, false, NULL);
    qio_channel_set_delay(c->ioc, false);
    qio_channel_set_follow_coroutine_ctx(c->ioc, true);
    c->q = nvmet_queue_new(p->port, c->peer, c);
    QTAILQ_INSERT_TAIL(&p->conns, c, next);
    trace_nvmet_qemu_accept(object_get_canonical_path_component(OBJECT(p)),
                            c->peer);
    c->co = qemu_coroutine_create(nvmet_conn_co, c);
    qemu_coroutine_enter(c->co);
}

/*
 * Listen where the port's addr says, or on TCP traddr/trsvcid.  A port
 * number 0 is replaced by the one the system picked.
 */
bool nvmet_qemu_port_listen(NvmetPortObject *p, Error **errp)
{
    ERRP_GUARD();
    g_autoptr(SocketAddress) tcp = NULL;
    g_autofree char *where = NULL;
    const char *id = object_get_canonical_path_component(OBJECT(p));
    SocketAddress *addr = p->addr;
    bool ok;

    if (!addr) {
        tcp = g_new0(SocketAddress, 1);
        tcp->type = SOCKET_ADDRESS_TYPE_INET;
        tcp->u.inet.host = g_strdup(p->traddr ? p->traddr : "127.0.0.1");
        tcp->u.inet.port = g_strdup(p->trsvcid ? p->trsvcid : "4420");
        tcp->u.inet.has_numeric = true;
        tcp->u.inet.numeric = true;
        addr = tcp;
    }
    where = socket_uri(addr);

    p->listener = qio_net_listener_new();
    qio_net_listener_set_name(p->listener, "nvmet-tcp-listener");
    if (addr->type == SOCKET_ADDRESS_TYPE_UNIX) {
        ok = nvmet_qemu_unix_listen(p, addr->u.q_unix.path, errp);
    } else {
        ok = qio_net_listener_open_sync(p->listener, addr, 16, errp) == 0;
    }
    if (!ok) {
        if (addr == tcp) {
            error_prepend(errp, "nvmet-port '%s': cannot listen on %s port "
                          "%s: ", id, addr->u.inet.host, addr->u.inet.port);
        } else {
            error_prepend(errp, "nvmet-port '%s': cannot listen on %s: ", id,
                          where);
        }
        object_unref(OBJECT(p->listener));
        p->listener = NULL;
        return false;
    }
    if (addr->type == SOCKET_ADDRESS_TYPE_INET &&
        g_str_equal(addr->u.inet.port, "0") && p->listener->nsioc) {
        /* report the port the kernel picked */
        g_autoptr(SocketAddress) local =
            qio_channel_socket_get_local_address(p->listener->sioc[0], errp);

        if (!local) {
            nvmet_qemu_port_close(p);
            return false;
        }
        if (addr == tcp) {
            g_free(p->trsvcid);
            p->trsvcid = g_strdup(local->u.inet.port);
        } else {
            g_free(p->addr->u.inet.port);
            p->addr->u.inet.port = g_strdup(local->u.inet.port);
        }
        g_free(where);
        where = socket_uri(addr);
    }
    qio_net_listener_set_client_func(p->listener, nvmet_accept, p, NULL);
    trace_nvmet_qemu_listen(id, where);
    return true;
}

/* Stop listening and drop every connection of the port. */
void nvmet_qemu_port_close(NvmetPortObject *p)
{
    NvmetConn *c;

    if (p->listener) {
        qio_net_listener_disconnect(p->listener);
        object_unref(OBJECT(p->listener));
        p->listener = NULL;
    }
    nvmet_qemu_unix_remove(p);
    QTAILQ_FOREACH(c, &p->conns, next) {
        nvmet_queue_note_close(c->q, "the nvmet-port was removed");
        qio_channel_shutdown(c->ioc, QIO_CHANNEL_SHUTDOWN_BOTH, NULL);
        nvmet_conn_wake(c);
    }
}
