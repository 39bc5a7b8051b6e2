/*
 * NVMe-oF TCP target: namespaces as block exports.
 *
 *   --export type=nvmet,id=ns1,node-name=disk0,subsystem=sub0,nsid=1
 *       [,writable=on][,writethrough=on][,iothread=io0][,allow-inactive=on]
 *       [,block-size=4096][,uuid=...][,nguid=...][,eui64=...]
 *
 * (qemu-storage-daemon), block-export-add over QMP, or the -object
 * nvmet-namespace shorthand (objects.c) that adds the same export for
 * qemu-system command lines.  block/export/export.c does what every export
 * gets: the BlockBackend with the permissions of @writable, @writethrough,
 * moving the node to @iothread, activating the node (or, with
 * @allow-inactive, leaving it inactive).  This file adds the namespace to
 * the engine and does the block I/O the engine asks for.
 *
 * The engine's namespace may outlive the export: commands already started
 * finish, and queues hold it until they look again.  So the engine holds
 * an NvmetBackend, which keeps its own reference to the BlockBackend until
 * ops.backend_release, instead of the export; removing the export never
 * waits for hosts.
 *
 * Block I/O runs in coroutines in the AioContext of the connection that
 * asked for it (an iothread of the subsystem, or the main loop), whatever
 * the node's AioContext: the block layer takes requests from any thread.
 * While the node is drained, requests wait in the BlockBackend's queue
 * (request queuing stays enabled) and resume at the end of the drained
 * section, so drains, AioContext changes and inactivation (migration) see
 * no request of ours in flight and need no callback beyond traces.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#include "qemu/osdep.h"
#include "qapi/error.h"
#include "qemu/uuid.h"
#include "qemu/main-loop.h"
#include "block/block.h"
#include "block/block-global-state.h"
#include "block/export.h"
#include "block/graph-lock.h"
#include "system/block-backend.h"
#include "nvmet/export.h"
#include "nvmet-qemu.h"
#include "trace.h"

struct NvmetBackend {
    BlockBackend *blk;          /* referenced until the engine lets go */
    char *id;                   /* the export's, for traces */
    bool allow_inactive;
};

typedef struct NvmetExport {
    BlockExport common;
    NvmetSubsystemObject *subsys_obj;   /* referenced */
    NvmetNs *ns;                        /* NULL once removed */
    NvmetBackend *be;
    uint32_t nsid;
    char *node_name;
    QLIST_ENTRY(NvmetExport) next;      /* in nvmet_exports (main loop) */
} NvmetExport;

static QLIST_HEAD(, NvmetExport) nvmet_exports =
    QLIST_HEAD_INITIALIZER(nvmet_exports);

void nvmet_subsystem_object_foreach_ns(NvmetSubsystemObject *s,
                                       NvmetNsFn *fn, void *opaque)
{
    NvmetExport *exp;

    QLIST_FOREACH(exp, &nvmet_exports, next) {
        if (exp->subsys_obj == s && exp->ns) {
            fn(opaque, exp->common.id, exp->node_name, exp->ns);
        }
    }
}

/* ---- the engine's backend -------------------------------------------- */

int coroutine_fn nvmet_backend_co_io(NvmetBackend *be, NvmetIo *io)
{
    BlockBackend *blk = be->blk;
    int ret;

    if (be->allow_inactive) {
        bool inactive;

        WITH_GRAPH_RDLOCK_GUARD() {
            inactive = !blk_bs(blk) || bdrv_is_inactive(blk_bs(blk));
        }
        if (inactive) {
            /* Namespace Not Ready: the host retries (after migration) */
            trace_nvmet_qemu_io_inactive(be->id, io->op);
            return -ENOMEDIUM;
        }
    }

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
    return ret;
}

static void nvmet_backend_free_bh(void *opaque)
{
    NvmetBackend *be = opaque;

    trace_nvmet_qemu_backend_release(be->id);
    blk_unref(be->blk);
    g_free(be->id);
    g_free(be);
}

void nvmet_backend_release(NvmetBackend *be)
{
    /* the last I/O may end in an iothread; the BlockBackend goes in main */
    aio_bh_schedule_oneshot(qemu_get_aio_context(), nvmet_backend_free_bh,
                            be);
}

/* ---- the export driver ------------------------------------------------ */

static void nvmet_export_resize(void *opaque)
{
    NvmetExport *exp = opaque;
    int64_t len = blk_getlength(exp->common.blk);

    if (exp->ns && len > 0) {
        nvmet_ns_resize(exp->ns, len);
    }
}

static void nvmet_export_drained_begin(void *opaque)
{
    NvmetExport *exp = opaque;

    trace_nvmet_qemu_export_drained(exp->common.id, true);
}

static void nvmet_export_drained_end(void *opaque)
{
    NvmetExport *exp = opaque;

    trace_nvmet_qemu_export_drained(exp->common.id, false);
}

static const BlockDevOps nvmet_export_dev_ops = {
    .resize_cb = nvmet_export_resize,
    .drained_begin = nvmet_export_drained_begin,
    .drained_end = nvmet_export_drained_end,
};

static void nvmet_export_aio_attached(AioContext *ctx, void *opaque)
{
    NvmetExport *exp = opaque;

    exp->common.ctx = ctx;
}

static void nvmet_export_aio_detach(void *opaque)
{
    NvmetExport *exp = opaque;

    exp->common.ctx = NULL;
}

static bool parse_hex_id(const char *s, uint8_t *out, size_t len)
{
    size_t n = 0;

    for (; *s && n < 2 * len; s++) {
        int v;

        if (*s == '-' || *s == ':') {
            continue;
        }
        v = g_ascii_xdigit_value(*s);
        if (v < 0) {
            return false;
        }
        out[n / 2] = (n & 1) ? (out[n / 2] | v) : v << 4;
        n++;
    }
    return !*s && n == 2 * len;
}

/* The identifiers given as options. */
static bool nvmet_export_ids(BlockExportOptionsNvmet *o, NvmetNsConfig *cfg,
                             Error **errp)
{
    if (o->uuid) {
        QemuUUID uuid;

        if (qemu_uuid_parse(o->uuid, &uuid) < 0) {
            error_setg(errp, "invalid uuid '%s'", o->uuid);
            return false;
        }
        cfg->has_uuid = true;
        memcpy(cfg->uuid, uuid.data, 16);
    }
    if (o->nguid) {
        if (!parse_hex_id(o->nguid, cfg->nguid, 16)) {
            error_setg(errp, "nguid must be 32 hex digits");
            return false;
        }
        cfg->has_nguid = true;
    }
    if (o->eui64) {
        if (!parse_hex_id(o->eui64, cfg->eui64, 8)) {
            error_setg(errp, "eui64 must be 16 hex digits");
            return false;
        }
        cfg->has_eui64 = true;
    }
    return true;
}

static int nvmet_export_create(BlockExport *blk_exp, BlockExportOptions *opts,
                               Error **errp)
{
    ERRP_GUARD();
    NvmetExport *exp = container_of(blk_exp, NvmetExport, common);
    BlockExportOptionsNvmet *o = &opts->u.nvmet;
    BlockBackend *blk = blk_exp->blk;
    g_autoptr(GError) gerr = NULL;
    NvmetSubsystemObject *s;
    NvmetNsConfig cfg = { 0 };
    int64_t len;

    assert(opts->type == BLOCK_EXPORT_TYPE_NVMET);
    s = nvmet_subsystem_object_find(o->subsystem, errp);
    if (!s) {
        error_prepend(errp, "nvmet export '%s': ", blk_exp->id);
        return -EINVAL;
    }
    if (!nvmet_export_ids(o, &cfg, errp)) {
        error_prepend(errp, "nvmet export '%s': ", blk_exp->id);
        return -EINVAL;
    }
    len = blk_getlength(blk);
    if (len < 0) {
        error_setg_errno(errp, -len, "nvmet export '%s': cannot get the "
                         "size of node '%s'", blk_exp->id, opts->node_name);
        return len;
    }

    exp->be = g_new0(NvmetBackend, 1);
    exp->be->blk = blk;
    exp->be->id = g_strdup(blk_exp->id);
    exp->be->allow_inactive = opts->has_allow_inactive &&
                              opts->allow_inactive;
    cfg.nsid = o->nsid;
    cfg.backend = exp->be;
    cfg.size = len;
    cfg.block_size = o->has_block_size ? o->block_size :
                     MAX(512, blk_get_request_alignment(blk));
    cfg.read_only = !opts->writable;
    cfg.volatile_wc = !opts->writethrough;
    exp->ns = nvmet_ns_new(s->subsys, &cfg, &gerr);
    if (!exp->ns) {
        error_setg(errp, "nvmet export '%s': %s", blk_exp->id,
                   gerr->message);
        g_free(exp->be->id);
        g_free(exp->be);
        exp->be = NULL;
        return -EINVAL;
    }
    /* the engine's reference, given back by nvmet_backend_release() */
    blk_ref(blk);
    exp->nsid = o->nsid;
    exp->node_name = g_strdup(opts->node_name);
    QLIST_INSERT_HEAD(&nvmet_exports, exp, next);
    exp->subsys_obj = s;
    object_ref(OBJECT(s));
    s->users++;

    blk_set_dev_ops(blk, &nvmet_export_dev_ops, exp);
    blk_add_aio_context_notifier(blk, nvmet_export_aio_attached,
                                 nvmet_export_aio_detach, exp);
    trace_nvmet_qemu_export_add(blk_exp->id, o->subsystem, o->nsid,
                                opts->node_name, opts->writable);
    return 0;
}

/* The namespace leaves its subsystem; hosts hear of it through an event. */
static void nvmet_export_request_shutdown(BlockExport *blk_exp)
{
    NvmetExport *exp = container_of(blk_exp, NvmetExport, common);

    if (exp->ns) {
        trace_nvmet_qemu_export_remove(blk_exp->id);
        nvmet_ns_free(exp->ns);
        exp->ns = NULL;
    }
}

static void nvmet_export_delete(BlockExport *blk_exp)
{
    NvmetExport *exp = container_of(blk_exp, NvmetExport, common);

    nvmet_export_request_shutdown(blk_exp);
    blk_remove_aio_context_notifier(blk_exp->blk, nvmet_export_aio_attached,
                                    nvmet_export_aio_detach, exp);
    if (exp->node_name) {
        QLIST_REMOVE(exp, next);
        g_free(exp->node_name);
        exp->node_name = NULL;
    }
    if (exp->subsys_obj) {
        exp->subsys_obj->users--;
        object_unref(OBJECT(exp->subsys_obj));
        exp->subsys_obj = NULL;
    }
}

const BlockExportDriver blk_exp_nvmet = {
    .type               = BLOCK_EXPORT_TYPE_NVMET,
    .instance_size      = sizeof(NvmetExport),
    .supports_inactive  = true,
    .create             = nvmet_export_create,
    .delete             = nvmet_export_delete,
    .request_shutdown   = nvmet_export_request_shutdown,
};

/* ---- -object nvmet-namespace ------------------------------------------ */

bool nvmet_namespace_export_add(NvmetNamespaceObject *ns, Error **errp)
{
    ERRP_GUARD();
    const char *id = object_get_canonical_path_component(OBJECT(ns));
    BlockExportOptions opts = {
        .type = BLOCK_EXPORT_TYPE_NVMET,
        .id = (char *)id,
        .node_name = ns->node_name,
        .has_writable = true,
        .writable = !ns->read_only,
        .has_writethrough = true,
        .writethrough = ns->writethrough,
        .iothread = ns->iothread,
        .u.nvmet = {
            .subsystem = ns->subsystem,
            .nsid = ns->nsid,
            .has_block_size = ns->block_size != 0,
            .block_size = ns->block_size,
            .uuid = ns->uuid,
            .nguid = ns->nguid,
            .eui64 = ns->eui64,
        },
    };

    if (!ns->subsystem || !ns->node_name || !ns->nsid) {
        error_setg(errp, "nvmet-namespace '%s': properties 'subsystem', "
                   "'nsid' and 'node-name' are required", id);
        return false;
    }
    if (!blk_exp_add(&opts, errp)) {
        error_prepend(errp, "nvmet-namespace '%s': ", id);
        return false;
    }
    return true;
}

void nvmet_namespace_export_del(NvmetNamespaceObject *ns)
{
    const char *id = object_get_canonical_path_component(OBJECT(ns));
    BlockExport *exp = id ? blk_exp_find(id) : NULL;

    /* unless block-export-del removed it already */
    if (exp && exp->drv == &blk_exp_nvmet) {
        blk_exp_request_shutdown(exp);
    }
}
