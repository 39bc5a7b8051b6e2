/*
 * NVMe-oF TCP target: where an nvmet-port listens.
 *
 * A port listens on TCP (traddr/trsvcid, or an inet "addr"), on a socket
 * passed as a file descriptor, or on a UNIX socket.  A UNIX socket is how
 * a guest reaches the target without any host TCP port (user networking's
 * guestfwd connects to it): it is created owner-only (mode 0600) with no
 * window in which someone else could connect, never replaces a file that
 * is not a stale socket, and is removed when the port goes away, unless it
 * was replaced by someone else in the meantime.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#include "qemu/osdep.h"
#include <sys/un.h>
#include "qapi/error.h"
#include "qemu/cutils.h"
#include "qemu/sockets.h"
#include "io/channel-socket.h"
#include "nvmet-qemu.h"
#include "trace.h"

/* Is a process listening on the UNIX socket @un? */
static bool nvmet_unix_live(const struct sockaddr_un *un)
{
    int fd = qemu_socket(AF_UNIX, SOCK_STREAM, 0);
    bool live;

    if (fd < 0) {
        return false;
    }
    live = connect(fd, (const struct sockaddr *)un, sizeof(*un)) == 0 ||
           errno == EAGAIN;
    close(fd);
    return live;
}

bool nvmet_qemu_unix_listen(NvmetPortObject *p, const char *path,
                            Error **errp)
{
    struct sockaddr_un un = { .sun_family = AF_UNIX };
    QIOChannelSocket *sioc;
    struct stat st;
    int fd;

    if (strlen(path) >= sizeof(un.sun_path)) {
        error_setg(errp, "UNIX socket path '%s' is longer than %zu bytes",
                   path, sizeof(un.sun_path) - 1);
        return false;
    }
    pstrcpy(un.sun_path, sizeof(un.sun_path), path);
    if (lstat(path, &st) == 0) {
        if (!S_ISSOCK(st.st_mode)) {
            error_setg(errp, "'%s' exists and is not a socket", path);
            return false;
        }
        if (nvmet_unix_live(&un)) {
            error_setg(errp, "UNIX socket '%s' is in use by another "
                       "process", path);
            return false;
        }
        /* left over by a process that died */
        trace_nvmet_qemu_unix_stale(path);
        if (unlink(path) < 0 && errno != ENOENT) {
            error_setg_errno(errp, errno, "cannot remove the stale socket "
                             "'%s'", path);
            return false;
        }
    } else if (errno != ENOENT) {
        error_setg_errno(errp, errno, "cannot access '%s'", path);
        return false;
    }

    fd = qemu_socket(AF_UNIX, SOCK_STREAM, 0);
    if (fd < 0) {
        error_setg_errno(errp, errno, "cannot create a UNIX socket");
        return false;
    }
    /*
     * Linux gives the node bind() creates the socket's own mode, less the
     * umask: so it is owner-only from the start, whatever the umask.
     */
    if (fchmod(fd, 0600) < 0) {
        error_setg_errno(errp, errno, "cannot restrict the UNIX socket");
        close(fd);
        return false;
    }
    if (bind(fd, (struct sockaddr *)&un, sizeof(un)) < 0) {
        error_setg_errno(errp, errno, "cannot bind UNIX socket '%s'", path);
        close(fd);
        return false;
    }
    /* check what was created (not through the path twice: lstat only) */
    if (lstat(path, &st) < 0 || !S_ISSOCK(st.st_mode) ||
        (st.st_mode & 0077)) {
        error_setg(errp, "UNIX socket '%s' was not created owner-only",
                   path);
        unlink(path);
        close(fd);
        return false;
    }
    /*
     * user networking's guestfwd (unix-connect:) connects to it from
     * QEMU's main loop with a blocking connect(), which would wait for
     * ever if the backlog were full: the main loop accepts only after it.
     * Make a burst of guest connections fit.
     */
    if (listen(fd, SOMAXCONN) < 0) {
        error_setg_errno(errp, errno, "cannot listen on UNIX socket '%s'",
                         path);
        unlink(path);
        close(fd);
        return false;
    }
    sioc = qio_channel_socket_new_fd(fd, errp);
    if (!sioc) {
        unlink(path);
        close(fd);
        return false;
    }
    qio_net_listener_add(p->listener, sioc);
    object_unref(OBJECT(sioc));
    p->unix_path = g_strdup(path);
    p->unix_dev = st.st_dev;
    p->unix_ino = st.st_ino;
    return true;
}

void nvmet_qemu_unix_remove(NvmetPortObject *p)
{
    struct stat st;

    if (!p->unix_path) {
        return;
    }
    /* only the socket we made: someone may have put another one there */
    if (lstat(p->unix_path, &st) == 0 && S_ISSOCK(st.st_mode) &&
        st.st_dev == p->unix_dev && st.st_ino == p->unix_ino) {
        unlink(p->unix_path);
        trace_nvmet_qemu_unix_removed(p->unix_path);
    }
    g_free(p->unix_path);
    p->unix_path = NULL;
}

/*
 * A name for traces and queries: the TCP peer's address and port, or for
 * a UNIX socket peer the process and user it belongs to (with guestfwd:
 * the forwarding command QEMU started for one guest connection).
 */
char *nvmet_qemu_peer_name(QIOChannelSocket *sioc)
{
    g_autoptr(SocketAddress) addr = NULL;

    addr = qio_channel_socket_get_remote_address(sioc, NULL);
    if (addr && addr->type == SOCKET_ADDRESS_TYPE_INET) {
        return g_strdup_printf("%s:%s", addr->u.inet.host, addr->u.inet.port);
    }
#ifdef SO_PEERCRED
    if (addr && addr->type == SOCKET_ADDRESS_TYPE_UNIX) {
        struct ucred cred;
        socklen_t len = sizeof(cred);

        if (getsockopt(sioc->fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) == 0) {
            return g_strdup_printf("unix:pid=%d,uid=%u", (int)cred.pid,
                                   (unsigned)cred.uid);
        }
    }
#endif
    if (addr) {
        return socket_uri(addr);
    }
    return g_strdup("?");
}
