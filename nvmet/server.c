/*
 * NVMe-oF TCP target: the QEMU side of the engine.
 *
 * One engine instance serves every nvmet-port of the process.  Each accepted
 * TCP connection gets a coroutine that moves bytes between its QIOChannel
 * and the engine queue; every block I/O the engine asks for runs in a
 * coroutine of its own, in the connection's AioContext, on the namespace's
 * BlockBackend (export.c).
 *
 * Connections are accepted in the main loop and stay there until their
 * Connect: then the engine tells where the queue belongs (ops.queue_bound)
 * and the connection's coroutine moves to that AioContext, an iothread of
 * the subsystem for an I/O queue (nvmet_subsystem_object_iothread()).  From
 * then on the queue's parsing, TLS records, digests, copies and block I/O
 * all run in that thread; the engine takes its own lock only for what the
 * queues share (see "Threads" in docs/devel/nvmet-tcp.rst).
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#include "qemu/osdep.h"
#include "qapi/error.h"
#include "qemu/coroutine.h"
#include "qemu/main-loop.h"
#include "qemu/timer.h"
#include "qemu/guest-random.h"
#include "block/aio.h"
#include "io/channel-socket.h"
#include "qemu/sockets.h"
#include "system/block-backend.h"
#include "system/iothread.h"
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
    int fd;                 /* the socket's, for the fd handler */
    bool waiting_read;      /* co is parked until there is input or work */
    bool waiting_write;     /* co is parked until the socket takes more */
    bool done;              /* co has finished */
    unsigned ios;           /* I/O coroutines still running */

    /*
     * Where the connection runs.  ctx changes only in the connection's
     * own coroutine (nvmet_conn_move()); kick_lock orders that against
     * other threads scheduling kick_bh.
     */
    AioContext *ctx;
    QEMUBH *kick_bh;        /* in ctx */
    QemuMutex kick_lock;
    IOThread *iothread;     /* referenced while ctx is its */
    IOThread *want_iothread;/* ops.queue_bound: where it belongs (ref) */
    bool want_move;
    /* why the glue closes it, if it does (port->conns_lock) */
    const char *close_why;

    QTAILQ_ENTRY(NvmetConn) next;
};

static NvmetTarget *nvmet_target;
static QEMUTimer *nvmet_timer;

/* ---- engine operations -------------------------------------------------- */

static int64_t nvmet_ops_now(void *opaque)
{
    return qemu_clock_get_ms(QEMU_CLOCK_REALTIME);
}

/*
 * In the connection's thread: get its coroutine going again if it waits
 * for input (a completion or a kick is work too); not if it waits for the
 * socket to take output, which nothing but the socket ends.
 */
static void nvmet_conn_wake(NvmetConn *c)
{
    if (c->waiting_read) {
        c->waiting_read = false;
        aio_co_wake(c->co);
    }
}

/*
 * The socket's fd handler, registered once in the connection's AioContext
 * (and again after a move) rather than around every wait as
 * qio_channel_yield() does: adding and removing an fd handler costs an
 * allocation, a GSource or epoll update and an event notifier write and
 * read per wait, more than the rest of a small command's system calls.
 * The handler is level-triggered, so it is never left armed for a
 * condition the coroutine does not wait for: readable while it waits for
 * input (or runs: it parks again at once), writable only while it waits
 * for the socket to drain.
 */
static void nvmet_conn_readable(void *opaque)
{
    nvmet_conn_wake(opaque);
}

static void nvmet_conn_writable(void *opaque)
{
    NvmetConn *c = opaque;

    if (c->waiting_write) {
        c->waiting_write = false;
        aio_co_wake(c->co);
    }
}

static void nvmet_conn_watch(NvmetConn *c, bool readable, bool writable)
{
    aio_set_fd_handler(c->ctx, c->fd,
                       readable ? nvmet_conn_readable : NULL,
                       writable ? nvmet_conn_writable : NULL,
                       NULL, NULL, c);
}

static void nvmet_conn_kick_bh(void *opaque)
{
    nvmet_conn_wake(opaque);
}

/*
 * The engine has work for the queue.  From the connection's own thread
 * (the usual case: a command completed) the coroutine is woken directly;
 * from another thread (a controller teardown, an event, a removed
 * namespace) a bottom half in the connection's AioContext does it, so
 * that a wake-up never races with the coroutine going to sleep.
 */
/* Wake the connection's coroutine from its AioContext's next iteration. */
static void nvmet_conn_kick_later(NvmetConn *c)
{
    qemu_mutex_lock(&c->kick_lock);
    qemu_bh_schedule(c->kick_bh);
    qemu_mutex_unlock(&c->kick_lock);
}

static void nvmet_ops_kick(void *opaque, NvmetQueue *q, void *qopaque)
{
    NvmetConn *c = qopaque;

    if (qatomic_read(&c->ctx) == qemu_get_current_aio_context()) {
        nvmet_conn_wake(c);
        return;
    }
    nvmet_conn_kick_later(c);
}

static void nvmet_ops_timer_update(void *opaque, int64_t deadline)
{
    /* QEMU timers may be changed from any thread */
    if (deadline == INT64_MAX) {
        timer_del(nvmet_timer);
    } else {
        timer_mod(nvmet_timer, deadline);
    }
}

static void nvmet_ops_random(void *opaque, void *buf, size_t len)
{
    /* deterministic with -seed (per thread) */
    qemu_guest_getrandom_nofail(buf, len);
}

static void nvmet_ops_keylog(void *opaque, NvmetQueue *q, void *qopaque,
                             const char *line)
{
    NvmetConn *c = qopaque;

    /* stdio locks the stream: connections in iothreads may write too */
    if (c && c->port->keylog) {
        fprintf(c->port->keylog, "%s\n", line);
    }
}

/*
 * Connect made the queue an admin queue (it stays in the main loop with
 * the controller's state) or I/O queue @qid of a subsystem that may want
 * it in one of its iothreads.  Runs in the connection's thread, with the
 * engine's lock held: the subsystem object is alive.
 */
static void nvmet_ops_queue_bound(void *opaque, NvmetQueue *q, void *qopaque,
                                  void *subsys_opaque, uint16_t qid)
{
    NvmetConn *c = qopaque;
    NvmetSubsystemObject *s = subsys_opaque;
    IOThread *iothread = s && qid ? nvmet_subsystem_object_iothread(s, qid) :
                         NULL;

    if (iothread) {
        object_ref(OBJECT(iothread));
    }
    if (c->want_iothread) {
        object_unref(OBJECT(c->want_iothread));
    }
    c->want_iothread = iothread;
    c->want_move = iothread != c->iothread;
}

static void nvmet_ops_backend_release(void *opaque, void *backend)
{
    nvmet_backend_release(backend);
}

static const NvmetEngineOps nvmet_ops = {
    .now_ms = nvmet_ops_now,
    .queue_kick = nvmet_ops_kick,
    .timer_update = nvmet_ops_timer_update,
    .random_bytes = nvmet_ops_random,
    .tls_keylog = nvmet_ops_keylog,
    .queue_bound = nvmet_ops_queue_bound,
    .backend_release = nvmet_ops_backend_release,
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

/*
 * In the connection's AioContext, like the engine queue it reports to.
 * Once its I/O is done, the coroutine goes on with the next one the
 * queue has, if any: with a backend that completes at once (or from a
 * cache), a whole batch of commands costs one coroutine, not one each.
 * Whenever an I/O waits, nvmet_conn_start_io() starts a coroutine for the
 * next, so I/O still runs in parallel.
 */
static void coroutine_fn nvmet_io_co(void *opaque)
{
    NvmetIo *io = opaque;
    NvmetConn *c = io->user;

    do {
        int ret = nvmet_backend_co_io(io->backend, io);

        if (ret < 0) {
            trace_nvmet_qemu_io_error(c->peer, io->op, io->offset, io->len,
                                      ret);
        }
        nvmet_io_complete(io, ret < 0 ? ret : 0);
        c->ios--;
        nvmet_conn_wake(c);
        /* a released queue (c->q NULL) hands out nothing more */
        io = c->q ? nvmet_queue_next_io(c->q) : NULL;
        if (io) {
            io->user = c;
            c->ios++;
        }
    } while (io);
    nvmet_conn_maybe_free(c);
}

static void nvmet_conn_start_io(NvmetConn *c)
{
    NvmetIo *io;

    while ((io = nvmet_queue_next_io(c->q))) {
        io->user = c;
        c->ios++;
        qemu_coroutine_enter(qemu_coroutine_create(nvmet_io_co, io));
    }
}

/* ---- connections --------------------------------------------------------- */

/* The rest of the clean-up touches QOM objects: in the main loop. */
static void nvmet_conn_free_bh(void *opaque)
{
    NvmetConn *c = opaque;

    trace_nvmet_qemu_conn_free(c->peer);
    object_unref(OBJECT(c->sioc));
    object_unref(OBJECT(c->port));
    if (c->iothread) {
        object_unref(OBJECT(c->iothread));
    }
    if (c->want_iothread) {
        object_unref(OBJECT(c->want_iothread));
    }
    qemu_mutex_destroy(&c->kick_lock);
    g_free(c->peer);
    g_free(c);
}

/* In the connection's thread, once its coroutine and its I/O are done. */
static void nvmet_conn_maybe_free(NvmetConn *c)
{
    if (!c->done || c->ios) {
        return;
    }
    /* the engine released the queue: nobody schedules kick_bh any more */
    qemu_bh_delete(c->kick_bh);
    c->kick_bh = NULL;
    aio_bh_schedule_oneshot(qemu_get_aio_context(), nvmet_conn_free_bh, c);
}

/*
 * Move the connection's coroutine (and with it, the channel's handlers and
 * the coroutines of its future I/O) to the AioContext where its queue
 * belongs.  Only with no I/O in flight: the engine queue must only ever be
 * used from one thread at a time.
 */
static void coroutine_fn nvmet_conn_move(NvmetConn *c)
{
    IOThread *iothread = c->want_iothread;
    AioContext *ctx = iothread ? iothread_get_aio_context(iothread) :
                      qemu_get_aio_context();
    QEMUBH *old;

    c->want_move = false;
    if (ctx == c->ctx) {
        return;
    }
    /* (finding the iothread's id walks all of /objects: only if traced) */
    if (trace_event_get_state_backends(TRACE_NVMET_QEMU_CONN_MOVE)) {
        trace_nvmet_qemu_conn_move(c->peer, nvmet_queue_name(c->q),
                                   iothread ?
                                   object_get_canonical_path_component(
                                       OBJECT(iothread)) : "main loop");
    }
    nvmet_conn_watch(c, false, false);
    qemu_mutex_lock(&c->kick_lock);
    old = c->kick_bh;
    c->kick_bh = aio_bh_new(ctx, nvmet_conn_kick_bh, c);
    qatomic_set(&c->ctx, ctx);
    qemu_mutex_unlock(&c->kick_lock);
    /* a kick on the old one is not lost: the loop looks at everything next */
    qemu_bh_delete(old);
    if (iothread) {
        object_ref(OBJECT(iothread));
    }
    if (c->iothread) {
        object_unref(OBJECT(c->iothread));
    }
    c->iothread = iothread;
    aio_co_reschedule_self(ctx);
    nvmet_conn_watch(c, true, false);
}

/*
 * Tell the engine why the connection ends (for events): @why, unless the
 * port's removal (another thread) shut the channel down.
 */
static void nvmet_conn_note_close(NvmetConn *c, const char *why)
{
    const char *forced;

    qemu_mutex_lock(&c->port->conns_lock);
    forced = c->close_why;
    qemu_mutex_unlock(&c->port->conns_lock);
    nvmet_queue_note_close(c->q, forced ? forced : why);
}

/*
 * Send all engine output, as much per writev as the socket takes; false
 * if the connection failed.
 */
static bool coroutine_fn nvmet_conn_flush(NvmetConn *c)
{
    struct iovec iov[NVMET_MAX_IOV];
    int n;

    while ((n = nvmet_queue_output_iov(c->q, iov, NVMET_MAX_IOV)) > 0) {
        Error *err = NULL;
        ssize_t len = qio_channel_writev(c->ioc, iov, n, &err);

        if (len == QIO_CHANNEL_ERR_BLOCK) {
            /* the socket is full: wait for room, not for input */
            nvmet_conn_watch(c, false, true);
            c->waiting_write = true;
            qemu_coroutine_yield();
            nvmet_conn_watch(c, true, false);
            continue;
        }
        if (len < 0) {
            trace_nvmet_qemu_conn_error(c->peer, error_get_pretty(err));
            nvmet_conn_note_close(c, error_get_pretty(err));
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
    bool drained = false;

    trace_nvmet_qemu_conn_start(c->peer);
    nvmet_conn_watch(c, true, false);
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
        if (c->want_move && !c->ios) {
            nvmet_conn_move(c);
            continue;
        }
        if (drained && !nvmet_queue_output(c->q, &pending)) {
            /*
             * The last read did not fill the buffer: the socket is most
             * likely empty.  Wait for the fd handler rather than find out
             * with a read that fails; if more has arrived meanwhile, the
             * handler fires at once.
             */
            drained = false;
            c->waiting_read = true;
            qemu_coroutine_yield();
            continue;
        }
        n = qio_channel_read(c->ioc, (char *)buf, NVMET_RECV_BUF, &err);
        if (n == QIO_CHANNEL_ERR_BLOCK) {
            if (nvmet_queue_output(c->q, &pending)) {
                continue;
            }
            /* the fd handler, a completion or a kick wakes it */
            c->waiting_read = true;
            qemu_coroutine_yield();
            continue;
        }
        if (n < 0) {
            trace_nvmet_qemu_conn_error(c->peer, error_get_pretty(err));
            nvmet_conn_note_close(c, error_get_pretty(err));
            error_free(err);
            break;
        }
        if (n == 0) {
            trace_nvmet_qemu_conn_eof(c->peer);
            nvmet_conn_note_close(c, "the host closed the connection");
            break;
        }
        drained = n < NVMET_RECV_BUF;
        nvmet_queue_input(c->q, buf, n);
    }

    nvmet_conn_watch(c, false, false);
    qio_channel_shutdown(c->ioc, QIO_CHANNEL_SHUTDOWN_BOTH, NULL);
    qemu_mutex_lock(&c->port->conns_lock);
    QTAILQ_REMOVE(&c->port->conns, c, next);
    qemu_mutex_unlock(&c->port->conns_lock);
    /* in-flight I/O completes into the released queue and is discarded */
    nvmet_queue_release(c->q);
    c->q = NULL;
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
    c->fd = sioc->fd;
    c->ctx = qemu_get_aio_context();
    c->kick_bh = aio_bh_new(c->ctx, nvmet_conn_kick_bh, c);
    qemu_mutex_init(&c->kick_lock);
    qio_channel_set_name(c->ioc, "nvmet-tcp-conn");
    qio_channel_set_blocking(c->ioc, false, NULL);
    qio_channel_set_delay(c->ioc, false);
    c->q = nvmet_queue_new(p->port, c->peer, c);
    qemu_mutex_lock(&p->conns_lock);
    QTAILQ_INSERT_TAIL(&p->conns, c, next);
    qemu_mutex_unlock(&p->conns_lock);
    trace_nvmet_qemu_accept(p->id, c->peer);
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
        /*
         * Hosts connect all their queues at once, and many hosts may
         * (re)connect together: accept only runs when the main loop gets
         * to it (a TLS handshake or a DH exchange may hold it), and a full
         * backlog drops SYNs, which cost the host a 1 s, 3 s, ...
         * retransmission each.  Let the kernel's somaxconn bound it.
         */
        ok = qio_net_listener_open_sync(p->listener, addr, SOMAXCONN,
                                        errp) == 0;
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
    qemu_mutex_lock(&p->conns_lock);
    QTAILQ_FOREACH(c, &p->conns, next) {
        /*
         * The coroutine notices the next time it runs, in its thread.
         * Never wake it from here, even in its own AioContext: it would
         * run to its end and take conns_lock, which we hold.  The reason
         * is noted there too, in the connection's thread.
         */
        c->close_why = "the nvmet-port was removed";
        qio_channel_shutdown(c->ioc, QIO_CHANNEL_SHUTDOWN_BOTH, NULL);
        nvmet_conn_kick_later(c);
    }
    qemu_mutex_unlock(&p->conns_lock);
}
