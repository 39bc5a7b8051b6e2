/*
 * NVMe-oF TCP target engine: NVM command set I/O commands (Read, Write,
 * Flush, Write Zeroes, Dataset Management).
 *
 * These run in the thread of their I/O queue without the target lock (see
 * nvmet_req_execute()): the namespace comes from the queue's cache, the
 * counters are the queue's.  Only a flush of every namespace takes the lock
 * to walk the subsystem.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#include "qemu/osdep.h"
#include "io.h"
#include "ctrl.h"
#include "target.h"
#include "trace.h"

/* Map a block layer error to an NVMe status. */
static uint16_t errno_to_status(int ret, bool write)
{
    switch (ret) {
    case 0:
        return NVME_SC_SUCCESS;
    case -ENOSPC:
        return NVME_SC_CAP_EXCEEDED | NVME_STATUS_DNR;
    case -EROFS:
    case -EACCES:
    case -EPERM:
        return NVME_SC_NS_WRITE_PROTECTED | NVME_STATUS_DNR;
    case -EINVAL:
        return NVME_SC_INVALID_FIELD | NVME_STATUS_DNR;
    case -ENOMEDIUM:
        return NVME_SC_NS_NOT_READY;
    case -ENOTSUP:
        return NVME_SC_INVALID_OPCODE | NVME_STATUS_DNR;
    case -EIO:
    default:
        return write ? NVME_SC_WRITE_FAULT : NVME_SC_READ_ERROR;
    }
}

static void io_done_generic(NvmetReq *req)
{
    bool write = req->opc != NVME_CMD_READ;

    nvmet_req_complete(req, errno_to_status(req->io_ret, write));
}

static void rw_done(NvmetReq *req)
{
    NvmetIoStats *st = &req->sq->io_stats;

    if (req->io_ret == 0) {
        if (req->opc == NVME_CMD_READ) {
            nvmet_stat_add(&st->host_read_cmds, 1);
            nvmet_stat_add(&st->data_units_read, req->io_bytes >> 9);
        } else {
            nvmet_stat_add(&st->host_write_cmds, 1);
            nvmet_stat_add(&st->data_units_written, req->io_bytes >> 9);
        }
    }
    io_done_generic(req);
}

static bool lba_range_ok(NvmetReq *req, uint64_t slba, uint64_t nlb)
{
    uint64_t nsze = nvmet_ns_nsze(req->ns);

    if (slba >= nsze || nlb > nsze - slba) {
        trace_nvmet_io_lba_range(req->sq->name, req->cid, slba, nlb, nsze);
        req->err_lba = slba;
        nvmet_req_complete(req, NVME_SC_LBA_RANGE | NVME_STATUS_DNR);
        return false;
    }
    return true;
}

static bool writable(NvmetReq *req)
{
    if (req->ns->cfg.read_only) {
        nvmet_req_complete(req, NVME_SC_NS_WRITE_PROTECTED | NVME_STATUS_DNR);
        return false;
    }
    return true;
}

static void exec_rw(NvmetReq *req)
{
    uint64_t slba = ((uint64_t)nvmet_sqe_dw(req, NVME_SQE_CDW11) << 32) |
                    nvmet_sqe_dw(req, NVME_SQE_CDW10);
    uint32_t cdw12 = nvmet_sqe_dw(req, NVME_SQE_CDW12);
    uint64_t nlb = (cdw12 & 0xffff) + 1;
    uint64_t len = nlb << req->ns->lba_shift;
    bool write = req->opc == NVME_CMD_WRITE;
    NvmetIoOp op = write ? NVMET_IO_WRITE : NVMET_IO_READ;
    uint32_t max = nvmet_port_max_xfer(req->sq->port);
    NvmetIo *io;

    if (cdw12 & (0xfu << 26)) {
        /* protection information is not supported (PRINFO) */
        req->err_pel = NVME_SQE_CDW12;
        nvmet_req_complete(req, NVME_SC_INVALID_FIELD | NVME_STATUS_DNR);
        return;
    }
    if (len > max) {
        /* beyond MDTS: Invalid Field in Command (NVMe base spec, MDTS) */
        trace_nvmet_cmd_too_large(req->sq->name, req->cid, len, max);
        req->err_pel = NVME_SQE_CDW12;
        nvmet_req_complete(req, NVME_SC_INVALID_FIELD | NVME_STATUS_DNR);
        return;
    }
    if (len != req->data_len || (write ? !req->h2c : !req->c2h)) {
        trace_nvmet_io_length_mismatch(req->sq->name, req->cid, len,
                                       req->data_len);
        nvmet_req_complete(req, NVME_SC_SGL_INVALID_DATA | NVME_STATUS_DNR);
        return;
    }
    if (!lba_range_ok(req, slba, nlb)) {
        return;
    }
    if (write && !writable(req)) {
        return;
    }
    req->io_done = rw_done;
    req->io_bytes = len;
    io = nvmet_req_submit_io(req, req->ns, op, slba << req->ns->lba_shift,
                             len, req->buf);
    /* FUA, or write-through when the host turned the write cache off */
    io->fua = write && ((cdw12 & NVME_RW_FUA) ||
                        !nvmet_atomic_read(&req->sq->ctrl->feat_vwce));
}

static void exec_flush(NvmetReq *req)
{
    NvmetTarget *t = req->sq->t;

    req->io_done = io_done_generic;
    if (req->nsid == 0xffffffff) {
        NvmetSubsys *s;

        /* flush every namespace (VWC reports broadcast support) */
        nvmet_lock(t);
        s = req->sq->ctrl->subsys;
        for (unsigned i = 0; s && i < s->ns->len; i++) {
            nvmet_req_submit_io(req, g_ptr_array_index(s->ns, i),
                                NVMET_IO_FLUSH, 0, 0, NULL);
        }
        nvmet_unlock(t);
        if (!req->ios_pending) {
            nvmet_req_complete(req, NVME_SC_SUCCESS);
        }
        return;
    }
    nvmet_req_submit_io(req, req->ns, NVMET_IO_FLUSH, 0, 0, NULL);
}

static void exec_write_zeroes(NvmetReq *req)
{
    uint64_t slba = ((uint64_t)nvmet_sqe_dw(req, NVME_SQE_CDW11) << 32) |
                    nvmet_sqe_dw(req, NVME_SQE_CDW10);
    uint32_t cdw12 = nvmet_sqe_dw(req, NVME_SQE_CDW12);
    uint64_t nlb = (cdw12 & 0xffff) + 1;
    NvmetIo *io;

    if (req->data_len) {
        nvmet_req_complete(req, NVME_SC_SGL_INVALID_DATA | NVME_STATUS_DNR);
        return;
    }
    if (cdw12 & (0xfu << 26)) {
        req->err_pel = NVME_SQE_CDW12;
        nvmet_req_complete(req, NVME_SC_INVALID_FIELD | NVME_STATUS_DNR);
        return;
    }
    if (!lba_range_ok(req, slba, nlb) || !writable(req)) {
        return;
    }
    req->io_done = io_done_generic;
    io = nvmet_req_submit_io(req, req->ns, NVMET_IO_WRITE_ZEROES,
                             slba << req->ns->lba_shift,
                             nlb << req->ns->lba_shift, NULL);
    io->may_unmap = cdw12 & NVME_WZ_DEAC;
    io->fua = cdw12 & NVME_RW_FUA;
}

static void exec_dsm(NvmetReq *req)
{
    uint32_t nr = (nvmet_sqe_dw(req, NVME_SQE_CDW10) & 0xff) + 1;
    uint32_t attr = nvmet_sqe_dw(req, NVME_SQE_CDW11);

    /*
     * The host may send more than the ranges it uses (Linux sends a whole
     * buffer); like nvmet, only require enough data for NR ranges.
     */
    if (!req->h2c || req->data_len < nr * NVME_DSM_RANGE_SIZE) {
        nvmet_req_complete(req, NVME_SC_SGL_INVALID_DATA | NVME_STATUS_DNR);
        return;
    }
    if (!(attr & NVME_DSMGMT_AD)) {
        /* only hints: nothing to do */
        nvmet_req_complete(req, NVME_SC_SUCCESS);
        return;
    }
    if (!writable(req)) {
        return;
    }
    /* check every range before touching any */
    for (uint32_t i = 0; i < nr; i++) {
        const uint8_t *r = req->buf + i * NVME_DSM_RANGE_SIZE;
        uint64_t nlb = nvmet_ld32(r + 4);
        uint64_t slba = nvmet_ld64(r + 8);

        if (nlb && !lba_range_ok(req, slba, nlb)) {
            return;
        }
    }
    req->io_done = io_done_generic;
    for (uint32_t i = 0; i < nr; i++) {
        const uint8_t *r = req->buf + i * NVME_DSM_RANGE_SIZE;
        uint64_t nlb = nvmet_ld32(r + 4);
        uint64_t slba = nvmet_ld64(r + 8);

        if (nlb) {
            nvmet_req_submit_io(req, req->ns, NVMET_IO_DISCARD,
                                slba << req->ns->lba_shift,
                                nlb << req->ns->lba_shift, NULL);
        }
    }
    if (!req->ios_pending) {
        nvmet_req_complete(req, NVME_SC_SUCCESS);
    }
}

void nvmet_exec_io(NvmetReq *req)
{
    if (req->opc == NVME_CMD_FLUSH && req->nsid == 0xffffffff) {
        exec_flush(req);
        return;
    }
    if (!nvmet_req_find_ns(req)) {
        if (nvmet_sq_ctrl_gone(req->sq)) {
            /*
             * The admin queue went (in another thread) while this
             * command came in, and the close that the controller's
             * teardown posted to this queue has not been serviced yet.
             * The namespaces are not gone: the association is.  An
             * Invalid Namespace with DNR would make the host fail the
             * I/O for good; closing the queue now, as the teardown
             * would a moment later, lets it retry on a new association.
             */
            trace_nvmet_io_ctrl_gone(req->sq->name, req->cid, req->opc);
            nvmet_sq_close(req->sq, "controller torn down");
            nvmet_req_drop(req);
            return;
        }
        trace_nvmet_io_invalid_ns(req->sq->name, req->cid, req->nsid);
        nvmet_req_complete(req, NVME_SC_INVALID_NS | NVME_STATUS_DNR);
        return;
    }

    switch (req->opc) {
    case NVME_CMD_READ:
    case NVME_CMD_WRITE:
        exec_rw(req);
        return;
    case NVME_CMD_FLUSH:
        exec_flush(req);
        return;
    case NVME_CMD_WRITE_ZEROES:
        exec_write_zeroes(req);
        return;
    case NVME_CMD_DSM:
        exec_dsm(req);
        return;
    default:
        trace_nvmet_io_unsupported(req->sq->name, req->cid, req->opc);
        nvmet_req_complete(req, NVME_SC_INVALID_OPCODE | NVME_STATUS_DNR);
        return;
    }
}
