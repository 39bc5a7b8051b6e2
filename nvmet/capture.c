/*
 * NVMe-oF TCP target: decrypted capture.
 *
 * A capture writes every connection of an nvmet-port as Wireshark would
 * see it without TLS: the cleartext NVMe/TCP byte stream of each
 * direction (after TLS decryption, before encryption; the engine hands it
 * over through ops.capture, see nvmet_queue_set_capture()) in a pcap file
 * with synthesized Ethernet, IPv4/IPv6 and TCP framing.  Each connection
 * is one TCP stream: a three-way handshake when the capture of it starts,
 * data segments with consistent sequence and acknowledgement numbers in
 * both directions, FINs when it ends.
 *
 * Addresses: the host's side of a stream is its real address and port
 * when it connected over TCP; the target's side is the port's traddr and
 * always TCP port 4420, the NVMe/TCP port that Wireshark's dissector
 * decodes without settings.  Peers that are not TCP ones (UNIX domain
 * sockets) get synthesized addresses (10.1.x.y, the target 10.0.0.1).
 *
 * The file is created with mode 0600: it holds data and authentication
 * transcripts, like the TLS key log.
 *
 * Threads: data and connection events come from the thread that serves
 * the connection (iothreads for I/O queues), starts and stops from the
 * main loop; one recursive mutex covers the captures and their streams.
 * It is taken last: after the engine's target lock (the queues walked
 * when a capture starts) and after the events lock (events.c).
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#include "qemu/osdep.h"
#include <arpa/inet.h>
#include "qapi/error.h"
#include "qapi/qapi-commands-nvmet.h"
#include "qemu/cutils.h"
#include "qemu/error-report.h"
#include "qemu/lockable.h"
#include "nvmet-qemu.h"
#include "trace.h"

#define PCAP_MAGIC          0xa1b2c3d4     /* microsecond timestamps */
#define PCAP_SNAPLEN        262144
#define PCAP_LINKTYPE_ETH   1
#define CAPTURE_MSS         32768          /* payload per packet at most */
#define CAPTURE_TARGET_PORT 4420

#define TCP_FIN 0x01
#define TCP_SYN 0x02
#define TCP_PSH 0x08
#define TCP_ACK 0x10

enum { HOST, TARGET };

struct NvmetCapture {
    NvmetPortObject *port;
    char *file;
    FILE *f;
    uint64_t packets, bytes;
    unsigned streams;           /* open now */
    uint32_t next_stream;       /* numbers streams (synthesized addresses) */
    uint16_t ip_id;
};

/* One connection: a TCP stream in the file */
typedef struct NvmetCaptureStream {
    NvmetCapture *cap;
    NvmetQueue *q;
    bool v6;
    uint8_t addr[2][16];        /* [HOST], [TARGET] */
    uint16_t port[2];
    uint32_t seq[2];            /* the next sequence number of each side */
} NvmetCaptureStream;

/* NvmetQueue * -> NvmetCaptureStream *, of all captures */
static GHashTable *nvmet_capture_streams;
static QemuRecMutex nvmet_capture_mutex;

static void __attribute__((__constructor__)) nvmet_capture_init(void)
{
    qemu_rec_mutex_init(&nvmet_capture_mutex);
}

/* ---- writing packets ----------------------------------------------------- */

static uint32_t csum_add(uint32_t sum, const uint8_t *p, size_t len)
{
    for (size_t i = 0; i + 1 < len; i += 2) {
        sum += (p[i] << 8) | p[i + 1];
    }
    if (len & 1) {
        sum += p[len - 1] << 8;
    }
    return sum;
}

static uint16_t csum_fold(uint32_t sum)
{
    while (sum >> 16) {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    return ~sum;
}

static void capture_fail(NvmetCapture *cap, int err)
{
    warn_report("nvmet-port '%s': writing the capture to '%s' failed: %s; "
                "the capture stops",
                object_get_canonical_path_component(OBJECT(cap->port)),
                cap->file, strerror(err));
    nvmet_capture_stop(cap->port);
}

/*
 * One TCP segment from @side with @flags and @len bytes of payload.
 * False if the file could not be written (the capture was stopped).
 */
static bool write_segment(NvmetCaptureStream *s, int side, uint8_t flags,
                          const uint8_t *data, size_t len)
{
    NvmetCapture *cap = s->cap;
    int other = !side;
    uint8_t hdr[14 + 40 + 20] = { 0 };
    uint8_t *eth = hdr, *ip = hdr + 14, *tcp;
    size_t iplen = s->v6 ? 40 : 20, alen = s->v6 ? 16 : 4;
    size_t total = 14 + iplen + 20 + len;
    uint32_t rec[4];
    int64_t now = g_get_real_time();
    uint32_t sum;

    /* Ethernet: locally administered MACs, 02:...:01 host, :02 target */
    eth[0] = eth[6] = 0x02;
    eth[5] = other + 1;
    eth[11] = side + 1;
    stw_be_p(eth + 12, s->v6 ? 0x86dd : 0x0800);

    if (s->v6) {
        stl_be_p(ip, 0x60000000);
        stw_be_p(ip + 4, 20 + len);
        ip[6] = 6;                              /* TCP */
        ip[7] = 64;
        memcpy(ip + 8, s->addr[side], 16);
        memcpy(ip + 24, s->addr[other], 16);
    } else {
        ip[0] = 0x45;
        stw_be_p(ip + 2, 20 + 20 + len);
        stw_be_p(ip + 4, cap->ip_id++);
        stw_be_p(ip + 6, 0x4000);               /* don't fragment */
        ip[8] = 64;
        ip[9] = 6;
        memcpy(ip + 12, s->addr[side], 4);
        memcpy(ip + 16, s->addr[other], 4);
        stw_be_p(ip + 10, csum_fold(csum_add(0, ip, 20)));
    }

    tcp = ip + iplen;
    stw_be_p(tcp, s->port[side]);
    stw_be_p(tcp + 2, s->port[other]);
    stl_be_p(tcp + 4, s->seq[side]);
    stl_be_p(tcp + 8, flags & TCP_ACK ? s->seq[other] : 0);
    tcp[12] = 5 << 4;
    tcp[13] = flags;
    stw_be_p(tcp + 14, 0xffff);
    /* the pseudo header, the TCP header and the payload */
    sum = csum_add(0, s->addr[side], alen);
    sum = csum_add(sum, s->addr[other], alen);
    sum += 6 + 20 + len;
    sum = csum_add(sum, tcp, 20);
    sum = csum_add(sum, data, len);
    stw_be_p(tcp + 16, csum_fold(sum));

    rec[0] = now / G_USEC_PER_SEC;
    rec[1] = now % G_USEC_PER_SEC;
    rec[2] = rec[3] = total;
    if (fwrite(rec, sizeof(rec), 1, cap->f) != 1 ||
        fwrite(hdr, total - len, 1, cap->f) != 1 ||
        (len && fwrite(data, len, 1, cap->f) != 1)) {
        capture_fail(cap, errno);
        return false;
    }
    s->seq[side] += len + !!(flags & (TCP_SYN | TCP_FIN));
    cap->packets++;
    cap->bytes += len;
    return true;
}

static bool capture_flush(NvmetCapture *cap)
{
    if (fflush(cap->f) != 0) {
        capture_fail(cap, errno);
        return false;
    }
    return true;
}

/* ---- streams ------------------------------------------------------------ */

/* "address:port" of a TCP peer into @s's host side */
static bool parse_peer(NvmetCaptureStream *s, const char *peer)
{
    const char *colon = peer ? strrchr(peer, ':') : NULL;
    g_autofree char *host = NULL;
    unsigned int port;

    if (!colon || qemu_strtoui(colon + 1, NULL, 10, &port) < 0 ||
        port > 65535) {
        return false;
    }
    host = g_strndup(peer, colon - peer);
    if (inet_pton(AF_INET, host, s->addr[HOST]) == 1) {
        s->v6 = false;
    } else if (inet_pton(AF_INET6, host, s->addr[HOST]) == 1) {
        s->v6 = true;
    } else {
        return false;
    }
    s->port[HOST] = port;
    return true;
}

static void stream_new(NvmetCapture *cap, NvmetQueue *q, const char *peer)
{
    NvmetCaptureStream *s;
    uint32_t n;
    const char *traddr;

    if (nvmet_capture_streams &&
        g_hash_table_lookup(nvmet_capture_streams, q)) {
        /* accepted while the capture started: seen both ways */
        return;
    }
    s = g_new0(NvmetCaptureStream, 1);
    n = cap->next_stream++;
    s->cap = cap;
    s->q = q;
    if (!parse_peer(s, peer)) {
        /* not a TCP peer: 10.1.x.y, ports from 49152 */
        static const uint8_t net[2] = { 10, 1 };

        s->v6 = false;
        memcpy(s->addr[HOST], net, 2);
        stw_be_p(s->addr[HOST] + 2, (n % 65534) + 1);
        s->port[HOST] = 49152 + n % 16384;
    }
    /* the target: the port's address of the same family, or made up */
    traddr = nvmet_port_traddr(cap->port);
    if (!traddr ||
        inet_pton(s->v6 ? AF_INET6 : AF_INET, traddr, s->addr[TARGET]) != 1) {
        if (s->v6) {
            inet_pton(AF_INET6, "fd00::1", s->addr[TARGET]);
        } else {
            inet_pton(AF_INET, "10.0.0.1", s->addr[TARGET]);
        }
    }
    s->port[TARGET] = CAPTURE_TARGET_PORT;
    s->seq[HOST] = 0x10000000 + n * 0x1000;
    s->seq[TARGET] = 0x20000000 + n * 0x1000;
    if (!nvmet_capture_streams) {
        nvmet_capture_streams = g_hash_table_new(NULL, NULL);
    }
    g_hash_table_insert(nvmet_capture_streams, q, s);
    cap->streams++;
    trace_nvmet_qemu_capture_stream(cap->file, n, peer ? peer : "?");
    nvmet_queue_set_capture(q, true);
    /* the three-way handshake (a write error stops the capture) */
    if (write_segment(s, HOST, TCP_SYN, NULL, 0) &&
        write_segment(s, TARGET, TCP_SYN | TCP_ACK, NULL, 0) &&
        write_segment(s, HOST, TCP_ACK, NULL, 0)) {
        capture_flush(cap);
    }
}

/* The connection ended or the capture stops: FINs, then forget it. */
static void stream_end(NvmetCaptureStream *s, bool flush)
{
    NvmetCapture *cap = s->cap;

    g_hash_table_remove(nvmet_capture_streams, s->q);
    cap->streams--;
    if (cap->f && write_segment(s, TARGET, TCP_FIN | TCP_ACK, NULL, 0) &&
        write_segment(s, HOST, TCP_FIN | TCP_ACK, NULL, 0) &&
        write_segment(s, TARGET, TCP_ACK, NULL, 0) && flush) {
        capture_flush(cap);
    }
    g_free(s);
}

/* ops.capture of the engine */
void nvmet_capture_data(void *opaque, NvmetQueue *q, void *qopaque,
                        bool tx, const uint8_t *data, size_t len)
{
    NvmetCaptureStream *s;
    NvmetCapture *cap;

    qemu_rec_mutex_lock(&nvmet_capture_mutex);
    s = nvmet_capture_streams ?
        g_hash_table_lookup(nvmet_capture_streams, q) : NULL;
    if (!s) {
        goto out;
    }
    cap = s->cap;
    while (len) {
        size_t n = MIN(len, CAPTURE_MSS);

        if (!write_segment(s, tx ? TARGET : HOST, TCP_ACK | TCP_PSH, data,
                           n)) {
            goto out;
        }
        data += n;
        len -= n;
    }
    capture_flush(cap);
out:
    qemu_rec_mutex_unlock(&nvmet_capture_mutex);
}

/* Connections start and end (from nvmet_qemu_event()). */
void nvmet_capture_event(NvmetPortObject *p, const NvmetEvent *ev)
{
    NvmetCaptureStream *s;

    QEMU_LOCK_GUARD(&nvmet_capture_mutex);
    switch (ev->type) {
    case NVMET_EVENT_CONN_ACCEPTED:
        if (p && p->capture && ev->queue) {
            stream_new(p->capture, ev->queue, ev->peer);
        }
        break;
    case NVMET_EVENT_CONN_CLOSED:
        s = nvmet_capture_streams && ev->queue ?
            g_hash_table_lookup(nvmet_capture_streams, ev->queue) : NULL;
        if (s) {
            stream_end(s, true);
        }
        break;
    default:
        break;
    }
}

/* ---- captures ------------------------------------------------------------ */

/* Under the target lock (nvmet_port_foreach_queue()) */
static void open_queue_cb(const NvmetQueueInfo *info, void *opaque)
{
    NvmetCapture *cap = opaque;

    QEMU_LOCK_GUARD(&nvmet_capture_mutex);
    if (cap->port->capture == cap) {
        stream_new(cap, info->queue, info->peer);
    }
}

bool nvmet_capture_start(NvmetPortObject *p, const char *file, Error **errp)
{
    ERRP_GUARD();
    const char *id = object_get_canonical_path_component(OBJECT(p));
    /* pcap global header: version 2.4, snap length, Ethernet */
    uint32_t ghdr[6] = { PCAP_MAGIC, 2 | (4 << 16), 0, 0, PCAP_SNAPLEN,
                         PCAP_LINKTYPE_ETH };
    NvmetCapture *cap;
    int fd;

    qemu_rec_mutex_lock(&nvmet_capture_mutex);
    if (p->capture) {
        error_setg(errp, "nvmet-port '%s' is already capturing to '%s'", id,
                   p->capture->file);
        qemu_rec_mutex_unlock(&nvmet_capture_mutex);
        return false;
    }
    /* only the main loop starts captures: p->capture stays NULL meanwhile */
    qemu_rec_mutex_unlock(&nvmet_capture_mutex);
    /* data and authentication transcripts: the owner's only */
    fd = qemu_create(file, O_WRONLY | O_TRUNC, 0600, errp);
    if (fd < 0) {
        error_prepend(errp, "nvmet-port '%s': capture: ", id);
        return false;
    }
    if (fchmod(fd, 0600) < 0) {
        error_setg_errno(errp, errno, "nvmet-port '%s': capture: cannot "
                         "make '%s' private", id, file);
        qemu_close(fd);
        return false;
    }
    cap = g_new0(NvmetCapture, 1);
    cap->port = p;
    cap->file = g_strdup(file);
    cap->f = fdopen(fd, "w");
    if (!cap->f || fwrite(ghdr, sizeof(ghdr), 1, cap->f) != 1 ||
        fflush(cap->f) != 0) {
        error_setg_errno(errp, errno, "nvmet-port '%s': capture: cannot "
                         "write '%s'", id, file);
        if (cap->f) {
            fclose(cap->f);
        } else {
            qemu_close(fd);
        }
        g_free(cap->file);
        g_free(cap);
        return false;
    }
    qemu_rec_mutex_lock(&nvmet_capture_mutex);
    p->capture = cap;
    qemu_rec_mutex_unlock(&nvmet_capture_mutex);
    trace_nvmet_qemu_capture_start(id, file);
    /*
     * connections already open: from their next PDU on (the target lock
     * comes before the capture lock, so this is not under it)
     */
    if (p->port) {
        nvmet_port_foreach_queue(p->port, open_queue_cb, cap);
    }
    return true;
}

void nvmet_capture_stop(NvmetPortObject *p)
{
    NvmetCapture *cap;
    GHashTableIter it;
    gpointer value;

    QEMU_LOCK_GUARD(&nvmet_capture_mutex);
    cap = p->capture;
    if (!cap) {
        return;
    }
    /* stop writing first: a write error while ending streams lands here */
    p->capture = NULL;
    if (nvmet_capture_streams) {
        g_autoptr(GPtrArray) mine = g_ptr_array_new();

        g_hash_table_iter_init(&it, nvmet_capture_streams);
        while (g_hash_table_iter_next(&it, NULL, &value)) {
            NvmetCaptureStream *s = value;

            if (s->cap == cap) {
                g_ptr_array_add(mine, s);
            }
        }
        for (unsigned i = 0; i < mine->len; i++) {
            NvmetCaptureStream *s = g_ptr_array_index(mine, i);

            nvmet_queue_set_capture(s->q, false);
            stream_end(s, false);
        }
    }
    if (cap->f) {
        fclose(cap->f);
        cap->f = NULL;
    }
    trace_nvmet_qemu_capture_stop(
        object_get_canonical_path_component(OBJECT(p)), cap->file,
        cap->packets, cap->bytes);
    g_free(cap->file);
    g_free(cap);
}

NvmetCaptureInfo *nvmet_capture_info(NvmetPortObject *p)
{
    NvmetCaptureInfo *info;

    QEMU_LOCK_GUARD(&nvmet_capture_mutex);
    if (!p->capture) {
        return NULL;
    }
    info = g_new0(NvmetCaptureInfo, 1);
    info->file = g_strdup(p->capture->file);
    info->connections = p->capture->streams;
    info->packets = p->capture->packets;
    info->bytes = p->capture->bytes;
    return info;
}

/* ---- QMP ----------------------------------------------------------------- */

void qmp_nvmet_capture_start(const char *port, const char *file,
                             Error **errp)
{
    NvmetPortObject *p = nvmet_port_object_find(port, errp);

    if (p) {
        nvmet_capture_start(p, file, errp);
    }
}

void qmp_nvmet_capture_stop(const char *port, Error **errp)
{
    NvmetPortObject *p = nvmet_port_object_find(port, errp);

    if (!p) {
        return;
    }
    if (!p->capture) {
        error_setg(errp, "nvmet-port '%s' has no capture running", port);
        return;
    }
    nvmet_capture_stop(p);
}
