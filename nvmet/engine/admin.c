/*
 * NVMe-oF TCP target engine: admin commands of NVM and discovery
 * controllers (Identify, Get Log Page, Get/Set Features, Asynchronous
 * Event Request, Keep Alive, Abort) and the discovery log.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#include "qemu/osdep.h"
#include "admin.h"
#include "ctrl.h"
#include "target.h"
#include "trace.h"

/* Identify Controller byte offsets */
enum {
    IDC_VID = 0, IDC_SSVID = 2, IDC_SN = 4, IDC_MN = 24, IDC_FR = 64,
    IDC_RAB = 72, IDC_IEEE = 73, IDC_CMIC = 76, IDC_MDTS = 77,
    IDC_CNTLID = 78, IDC_VER = 80, IDC_OAES = 92, IDC_CTRATT = 96,
    IDC_CNTRLTYPE = 111, IDC_OACS = 256, IDC_ACL = 258, IDC_AERL = 259,
    IDC_FRMW = 260, IDC_LPA = 261, IDC_ELPE = 262, IDC_NPSS = 263,
    IDC_WCTEMP = 266, IDC_CCTEMP = 268, IDC_KAS = 320, IDC_SQES = 512,
    IDC_CQES = 513, IDC_MAXCMD = 514, IDC_NN = 516, IDC_ONCS = 520,
    IDC_FUSES = 522, IDC_FNA = 524, IDC_VWC = 525, IDC_AWUN = 526,
    IDC_AWUPF = 528, IDC_SGLS = 536, IDC_MNAN = 540, IDC_SUBNQN = 768,
    IDC_IOCCSZ = 1792, IDC_IORCSZ = 1796, IDC_ICDOFF = 1800,
    IDC_FCATT = 1802, IDC_MSDBD = 1803, IDC_OFCS = 1804, IDC_DCTYPE = 1806,
    IDC_PSD0 = 2048,
};

/* Identify Namespace byte offsets */
enum {
    IDN_NSZE = 0, IDN_NCAP = 8, IDN_NUSE = 16, IDN_NSFEAT = 24,
    IDN_NLBAF = 25, IDN_FLBAS = 26, IDN_NMIC = 30, IDN_DLFEAT = 33,
    IDN_NPWG = 64, IDN_NPWA = 66, IDN_NPDG = 68, IDN_NPDA = 70,
    IDN_NOWS = 72, IDN_NSATTR = 99, IDN_NGUID = 104, IDN_EUI64 = 120,
    IDN_LBAF0 = 128,
};

#define LPA_CMD_EFFECTS   (1u << 1)
#define LPA_EXT_DATA      (1u << 2)
#define ONCS_DSM          (1u << 2)
#define ONCS_WRITE_ZEROES (1u << 3)
#define OAES_NS_ATTR      (1u << 8)
#define OAES_DISC_CHANGE  (1u << 31)
#define CTRATT_HOSTID128  (1u << 0)
#define CTRATT_TBKAS      (1u << 6)
#define VWC_PRESENT       (1u << 0)
#define VWC_FLUSH_BCAST   (3u << 1)
#define SGLS_SUPPORTED    (1u << 0)
#define SGLS_OFFSETS      (1u << 20)
#define OFCS_DISCONNECT   (1u << 0)

/* ---- helpers ------------------------------------------------------------- */

static uint32_t cdw(NvmetReq *req, unsigned off)
{
    return nvmet_sqe_dw(req, off);
}

/*
 * Copy @len bytes of @src starting at @offset into the command's buffer
 * (zero-filling past the end of @src) and complete.
 */
static void complete_with_data(NvmetReq *req, const uint8_t *src, size_t len,
                               uint64_t offset)
{
    if (req->c2h && req->buf) {
        if (offset < len) {
            memcpy(req->buf, src + offset, MIN(len - offset, req->data_len));
        }
    }
    nvmet_req_complete(req, NVME_SC_SUCCESS);
}

static bool need_c2h(NvmetReq *req)
{
    if (!req->c2h || !req->buf) {
        nvmet_req_complete(req, NVME_SC_SGL_INVALID_DATA | NVME_STATUS_DNR);
        return false;
    }
    return true;
}

/* ---- Identify ------------------------------------------------------------ */

static void identify_ctrl(NvmetReq *req, uint8_t *id)
{
    NvmetSq *sq = req->sq;
    NvmetCtrl *ctrl = sq->ctrl;
    NvmetSubsys *s = ctrl->subsys;
    const NvmetPortConfig *pc = &sq->port->cfg;
    bool disc = s->discovery;

    nvmet_st_ascii(id + IDC_SN, 20, s->cfg.serial);
    nvmet_st_ascii(id + IDC_MN, 40, s->cfg.model);
    nvmet_st_ascii(id + IDC_FR, 8, s->cfg.firmware);
    id[IDC_RAB] = 6;
    id[IDC_IEEE] = s->cfg.ieee_oui;
    id[IDC_IEEE + 1] = s->cfg.ieee_oui >> 8;
    id[IDC_IEEE + 2] = s->cfg.ieee_oui >> 16;
    /* multi-port, multi-controller */
    id[IDC_CMIC] = disc ? 0 : (1u << 0) | (1u << 1);
    id[IDC_MDTS] = pc->mdts;
    nvmet_st16(id + IDC_CNTLID, ctrl->cntlid);
    nvmet_st32(id + IDC_VER, s->cfg.version);
    nvmet_st32(id + IDC_OAES, disc ? OAES_DISC_CHANGE : OAES_NS_ATTR);
    nvmet_st32(id + IDC_CTRATT, CTRATT_HOSTID128 | CTRATT_TBKAS);
    id[IDC_CNTRLTYPE] = disc ? NVME_CTRL_DISC : NVME_CTRL_IO;
    id[IDC_ACL] = 3;
    id[IDC_AERL] = NVMET_AERL;
    id[IDC_FRMW] = (1u << 1) | (1u << 0);  /* one slot, slot 1 read-only */
    id[IDC_LPA] = LPA_EXT_DATA | (disc ? 0 : LPA_CMD_EFFECTS);
    id[IDC_ELPE] = NVMET_ERROR_LOG_ENTRIES - 1;
    id[IDC_NPSS] = 0;
    nvmet_st16(id + IDC_WCTEMP, 0x0157);
    nvmet_st16(id + IDC_CCTEMP, 0x0175);
    nvmet_st16(id + IDC_KAS, NVMET_KAS_100MS);
    id[IDC_SQES] = (6 << 4) | 6;
    id[IDC_CQES] = (4 << 4) | 4;
    nvmet_st16(id + IDC_MAXCMD, disc ? NVMET_ADMIN_MAX_SQSIZE :
               pc->max_queue_size);
    if (!disc) {
        nvmet_st32(id + IDC_NN, s->cfg.max_namespaces);
        nvmet_st32(id + IDC_MNAN, s->cfg.max_namespaces);
        nvmet_st16(id + IDC_ONCS, ONCS_DSM | ONCS_WRITE_ZEROES);
        id[IDC_VWC] = VWC_PRESENT | VWC_FLUSH_BCAST;
    }
    nvmet_st32(id + IDC_SGLS, SGLS_SUPPORTED | SGLS_OFFSETS);
    memcpy(id + IDC_SUBNQN, s->cfg.nqn, strlen(s->cfg.nqn));

    /* fabrics specific */
    nvmet_st32(id + IDC_IOCCSZ, (NVME_SQE_SIZE + pc->inline_data_size) / 16);
    nvmet_st32(id + IDC_IORCSZ, NVME_CQE_SIZE / 16);
    nvmet_st16(id + IDC_ICDOFF, 0);
    id[IDC_FCATT] = 0;             /* dynamic controller model */
    id[IDC_MSDBD] = 1;
    nvmet_st16(id + IDC_OFCS, disc ? 0 : OFCS_DISCONNECT);
    /* a discovery controller here is a direct discovery controller (DDC) */
    id[IDC_DCTYPE] = disc ? 1 : 0;
    /* power state 0: 25 W, entry/exit latency 16 us */
    nvmet_st16(id + IDC_PSD0, 2500);
    nvmet_st32(id + IDC_PSD0 + 4, 16);
    nvmet_st32(id + IDC_PSD0 + 8, 16);
}

static void identify_ns(NvmetReq *req, uint8_t *id, NvmetNs *ns)
{
    nvmet_st64(id + IDN_NSZE, ns->nsze);
    nvmet_st64(id + IDN_NCAP, ns->nsze);
    nvmet_st64(id + IDN_NUSE, ns->nsze);
    /* NSFEAT: optimal I/O fields (bit 4) are valid */
    id[IDN_NSFEAT] = 1u << 4;
    id[IDN_NLBAF] = 0;
    id[IDN_FLBAS] = 0;
    id[IDN_NMIC] = 1;                      /* may be shared */
    /*
     * Write Zeroes may deallocate (bit 3); what deallocated blocks read as
     * depends on the block node (discard=ignore|unmap, driver), so it is
     * not reported (bits 2:0 = 0).
     */
    id[IDN_DLFEAT] = 1u << 3;
    /* preferred granularities in blocks, 0's based: one 4 KiB page */
    if (ns->lba_shift < 12) {
        uint16_t per_page = (1u << (12 - ns->lba_shift)) - 1;

        nvmet_st16(id + IDN_NPWG, per_page);
        nvmet_st16(id + IDN_NPWA, per_page);
        nvmet_st16(id + IDN_NPDG, per_page);
        nvmet_st16(id + IDN_NPDA, per_page);
        nvmet_st16(id + IDN_NOWS, per_page);
    }
    id[IDN_NSATTR] = ns->cfg.read_only ? 1 : 0;
    if (ns->cfg.has_nguid) {
        memcpy(id + IDN_NGUID, ns->cfg.nguid, 16);
    }
    if (ns->cfg.has_eui64) {
        memcpy(id + IDN_EUI64, ns->cfg.eui64, 8);
    }
    id[IDN_LBAF0 + 2] = ns->lba_shift;    /* LBADS; MS = 0, RP = 0 */
}

static uint8_t *ns_desc(uint8_t *p, uint8_t type, const void *data,
                        uint8_t len)
{
    p[0] = type;
    p[1] = len;
    memcpy(p + 4, data, len);
    return p + 4 + len;
}

static void identify_ns_descs(uint8_t *id, NvmetNs *ns)
{
    uint8_t *p = id;
    uint8_t csi = NVME_CSI_NVM;

    if (ns->cfg.has_eui64) {
        p = ns_desc(p, NVME_NIDT_EUI64, ns->cfg.eui64, 8);
    }
    if (ns->cfg.has_nguid) {
        p = ns_desc(p, NVME_NIDT_NGUID, ns->cfg.nguid, 16);
    }
    if (ns->cfg.has_uuid) {
        p = ns_desc(p, NVME_NIDT_UUID, ns->cfg.uuid, 16);
    }
    ns_desc(p, NVME_NIDT_CSI, &csi, 1);
}

static void identify_active_list(NvmetSubsys *s, uint8_t *id, uint32_t after)
{
    unsigned n = 0;

    for (unsigned i = 0; i < s->ns->len && n < 1024; i++) {
        NvmetNs *ns = g_ptr_array_index(s->ns, i);

        if (ns->cfg.nsid > after) {
            nvmet_st32(id + 4 * n++, ns->cfg.nsid);
        }
    }
}

static void exec_identify(NvmetReq *req)
{
    NvmetCtrl *ctrl = req->sq->ctrl;
    NvmetSubsys *s = ctrl->subsys;
    uint8_t cns = cdw(req, NVME_SQE_CDW10) & 0xff;
    uint8_t csi = cdw(req, NVME_SQE_CDW11) >> 24;
    uint32_t nsid = req->nsid;
    uint8_t *id;
    NvmetNs *ns;

    if (!need_c2h(req)) {
        return;
    }
    if (req->data_len != NVME_IDENTIFY_DATA_SIZE) {
        nvmet_req_complete(req, NVME_SC_SGL_INVALID_DATA | NVME_STATUS_DNR);
        return;
    }
    id = req->buf;
    trace_nvmet_identify(req->sq->name, cns, nsid, csi);

    if (s->discovery && cns != NVME_ID_CNS_CTRL) {
        req->err_pel = NVME_SQE_CDW10;
        nvmet_req_complete(req, NVME_SC_INVALID_FIELD | NVME_STATUS_DNR);
        return;
    }

    switch (cns) {
    case NVME_ID_CNS_CTRL:
        identify_ctrl(req, id);
        break;
    case NVME_ID_CNS_NS:
    case NVME_ID_CNS_NS_CS_INDEP:
    case NVME_ID_CNS_NS_DESC_LIST:
    case NVME_ID_CNS_CS_NS:
        if (nsid == 0 || (nsid > s->cfg.max_namespaces &&
                          nsid != 0xffffffff) ||
            (nsid == 0xffffffff && cns != NVME_ID_CNS_NS)) {
            nvmet_req_complete(req, NVME_SC_INVALID_NS | NVME_STATUS_DNR);
            return;
        }
        if (cns == NVME_ID_CNS_CS_NS && csi != NVME_CSI_NVM) {
            req->err_pel = NVME_SQE_CDW11;
            nvmet_req_complete(req, NVME_SC_INVALID_FIELD | NVME_STATUS_DNR);
            return;
        }
        ns = nvmet_subsys_find_ns(s, nsid);
        if (!ns) {
            if (cns == NVME_ID_CNS_NS_DESC_LIST) {
                nvmet_req_complete(req, NVME_SC_INVALID_NS | NVME_STATUS_DNR);
                return;
            }
            /* inactive namespace: all zeroes; 0xffffffff: common format */
            if (nsid == 0xffffffff) {
                id[IDN_LBAF0 + 2] = 9;
            }
            break;
        }
        if (cns == NVME_ID_CNS_NS) {
            identify_ns(req, id, ns);
        } else if (cns == NVME_ID_CNS_NS_DESC_LIST) {
            identify_ns_descs(id, ns);
        } else if (cns == NVME_ID_CNS_NS_CS_INDEP) {
            id[0] = 1u << 4;            /* NSFEAT: optimal performance */
            id[1] = 1;                  /* NMIC: shared */
            id[8] = ns->cfg.read_only;  /* NSATTR */
            id[14] = 1;                 /* NSTAT: ready */
        }
        /* CNS 05h for the NVM command set: no protection/ELBA formats */
        break;
    case NVME_ID_CNS_NS_ACTIVE_LIST:
    case NVME_ID_CNS_NS_CS_ACTIVE_LIST:
        if (nsid >= 0xfffffffe) {
            nvmet_req_complete(req, NVME_SC_INVALID_NS | NVME_STATUS_DNR);
            return;
        }
        if (cns == NVME_ID_CNS_NS_ACTIVE_LIST || csi == NVME_CSI_NVM) {
            identify_active_list(s, id, nsid);
        }
        break;
    case NVME_ID_CNS_CS_CTRL:
        if (csi != NVME_CSI_NVM) {
            req->err_pel = NVME_SQE_CDW11;
            nvmet_req_complete(req, NVME_SC_INVALID_FIELD | NVME_STATUS_DNR);
            return;
        }
        /* NVM command set controller data: no limits beyond MDTS */
        break;
    case NVME_ID_CNS_CMD_SET:
        id[0] = 1;                      /* vector 0: NVM command set */
        break;
    default:
        trace_nvmet_identify_unsupported(req->sq->name, cns);
        req->err_pel = NVME_SQE_CDW10;
        nvmet_req_complete(req, NVME_SC_INVALID_FIELD | NVME_STATUS_DNR);
        return;
    }
    nvmet_req_complete(req, NVME_SC_SUCCESS);
}

/* ---- Get Log Page -------------------------------------------------------- */

static void log_error(NvmetReq *req, uint8_t *buf)
{
    NvmetCtrl *ctrl = req->sq->ctrl;

    for (unsigned i = 0; i < NVMET_ERROR_LOG_ENTRIES; i++) {
        uint64_t count = ctrl->error_count - i;
        NvmetErrorEntry *e;
        uint8_t *p = buf + i * NVME_LOG_ERROR_ENTRY_SIZE;

        if (ctrl->error_count < i + 1) {
            break;
        }
        e = &ctrl->errors[count % NVMET_ERROR_LOG_ENTRIES];
        nvmet_st64(p + 0, e->count);
        nvmet_st16(p + 8, e->sqid);
        nvmet_st16(p + 10, e->cid);
        nvmet_st16(p + 12, e->status << 1);
        nvmet_st16(p + 14, e->pel);
        nvmet_st64(p + 16, e->lba);
        nvmet_st32(p + 24, e->nsid);
        p[29] = NVMF_TRTYPE_TCP;
    }
}

static void put_le128(uint8_t *p, uint64_t v)
{
    nvmet_st64(p, v);
    nvmet_st64(p + 8, 0);
}

static void log_smart(NvmetReq *req, uint8_t *buf)
{
    NvmetCtrl *ctrl = req->sq->ctrl;
    NvmetIoStats st;

    nvmet_ctrl_io_stats(ctrl, &st);
    buf[0] = 0;                          /* critical warning */
    nvmet_st16(buf + 1, 0x0141);         /* 321 K composite temperature */
    buf[3] = 100;                        /* available spare */
    buf[4] = 10;                         /* spare threshold */
    buf[5] = 0;                          /* percentage used */
    /* data units are thousands of 512-byte units, rounded up */
    put_le128(buf + 32, (st.data_units_read + 999) / 1000);
    put_le128(buf + 48, (st.data_units_written + 999) / 1000);
    put_le128(buf + 64, st.host_read_cmds);
    put_le128(buf + 80, st.host_write_cmds);
    put_le128(buf + 176, ctrl->error_count);
}

static void log_cmd_effects(uint8_t *buf)
{
    static const uint8_t admin[] = {
        NVME_ADM_GET_LOG_PAGE, NVME_ADM_IDENTIFY, NVME_ADM_ABORT,
        NVME_ADM_SET_FEATURES, NVME_ADM_GET_FEATURES, NVME_ADM_ASYNC_EVENT,
        NVME_ADM_KEEP_ALIVE,
    };
    static const uint8_t io[] = { NVME_CMD_FLUSH, NVME_CMD_READ };
    static const uint8_t io_lbcc[] = {
        NVME_CMD_WRITE, NVME_CMD_WRITE_ZEROES, NVME_CMD_DSM,
    };

    for (unsigned i = 0; i < G_N_ELEMENTS(admin); i++) {
        nvmet_st32(buf + 4 * admin[i], 1);
    }
    for (unsigned i = 0; i < G_N_ELEMENTS(io); i++) {
        nvmet_st32(buf + 1024 + 4 * io[i], 1);
    }
    for (unsigned i = 0; i < G_N_ELEMENTS(io_lbcc); i++) {
        nvmet_st32(buf + 1024 + 4 * io_lbcc[i], 1 | (1u << 1));
    }
}

static void log_supported(bool disc, uint8_t *buf)
{
    static const uint8_t nvm[] = {
        NVME_LOG_SUPPORTED, NVME_LOG_ERROR, NVME_LOG_SMART, NVME_LOG_FW_SLOT,
        NVME_LOG_CHANGED_NS, NVME_LOG_CMD_EFFECTS,
    };
    static const uint8_t dsc[] = {
        NVME_LOG_SUPPORTED, NVME_LOG_ERROR, NVME_LOG_SMART, NVME_LOG_FW_SLOT,
        NVME_LOG_DISC,
    };
    const uint8_t *l = disc ? dsc : nvm;
    unsigned n = disc ? G_N_ELEMENTS(dsc) : G_N_ELEMENTS(nvm);

    for (unsigned i = 0; i < n; i++) {
        nvmet_st32(buf + 4 * l[i], 1);  /* LSUPP */
    }
}

/* The discovery log as seen by @hostnqn through @port. */
static uint8_t *disc_log(NvmetSq *sq, const char *hostnqn, size_t *len)
{
    NvmetPort *port = sq->port;
    const NvmetPortConfig *pc = &port->cfg;
    GPtrArray *subs = g_ptr_array_new();
    uint8_t *buf, *e;
    unsigned n;

    for (unsigned i = 0; i < port->subsystems->len; i++) {
        NvmetSubsys *s = g_ptr_array_index(port->subsystems, i);

        if (s->discovery || nvmet_subsys_host_allowed(s, hostnqn)) {
            g_ptr_array_add(subs, s);
        }
    }
    n = subs->len;
    *len = NVME_DISC_LOG_HDR_SIZE + n * NVME_DISC_LOG_ENTRY_SIZE;
    buf = g_malloc0(*len);
    nvmet_st64(buf + 0, sq->t->disc_genctr);
    nvmet_st64(buf + 8, n);
    nvmet_st16(buf + 16, 0);

    e = buf + NVME_DISC_LOG_HDR_SIZE;
    for (unsigned i = 0; i < n; i++, e += NVME_DISC_LOG_ENTRY_SIZE) {
        NvmetSubsys *s = g_ptr_array_index(subs, i);

        e[0] = NVMF_TRTYPE_TCP;
        e[1] = pc->ipv6 ? NVMF_ADRFAM_IPV6 : NVMF_ADRFAM_IPV4;
        e[2] = s->discovery ? NVME_NQN_CURR : NVME_NQN_NVME;
        e[3] = (pc->tls == NVMET_PORT_TLS_REQUIRED ? NVMF_TREQ_REQUIRED :
                pc->tls == NVMET_PORT_TLS_ALLOWED ? NVMF_TREQ_NOT_REQUIRED :
                pc->treq) |
               (pc->sqflow_disable_ok ? NVMF_TREQ_DISABLE_SQFLOW : 0);
        nvmet_st16(e + 4, pc->portid);
        nvmet_st16(e + 6, NVME_CNTLID_DYNAMIC);
        nvmet_st16(e + 8, NVMET_ADMIN_MAX_SQSIZE);
        nvmet_st16(e + 10, s->discovery ? NVME_DISC_EFLAGS_DUPRETINFO |
                   NVME_DISC_EFLAGS_EPCSD : 0);
        nvmet_st_ascii(e + 32, 32, pc->trsvcid);
        memcpy(e + 256, s->cfg.nqn, strlen(s->cfg.nqn));
        nvmet_st_ascii(e + 512, 256, pc->traddr);
        /* TSAS: sectype */
        e[768] = pc->tls != NVMET_PORT_TLS_NONE ? NVMF_TCP_SECTYPE_TLS13 :
                 NVMF_TCP_SECTYPE_NONE;
    }
    g_ptr_array_free(subs, true);
    return buf;
}

static void exec_get_log_page(NvmetReq *req)
{
    NvmetSq *sq = req->sq;
    NvmetCtrl *ctrl = sq->ctrl;
    bool disc = ctrl->subsys->discovery;
    uint32_t cdw10 = cdw(req, NVME_SQE_CDW10);
    uint32_t cdw11 = cdw(req, NVME_SQE_CDW11);
    uint8_t lid = cdw10 & 0xff;
    bool rae = cdw10 & (1u << 15);
    uint64_t numd = (((uint64_t)(cdw11 & 0xffff) << 16) | (cdw10 >> 16)) + 1;
    uint64_t offset = ((uint64_t)cdw(req, NVME_SQE_CDW13) << 32) |
                      cdw(req, NVME_SQE_CDW12);
    g_autofree uint8_t *page = NULL;
    size_t len;

    if (!need_c2h(req)) {
        return;
    }
    if (numd * 4 != req->data_len) {
        nvmet_req_complete(req, NVME_SC_SGL_INVALID_DATA | NVME_STATUS_DNR);
        return;
    }
    if (offset & 3) {
        req->err_pel = NVME_SQE_CDW12;
        nvmet_req_complete(req, NVME_SC_INVALID_FIELD | NVME_STATUS_DNR);
        return;
    }
    trace_nvmet_get_log_page(sq->name, lid, numd * 4, offset, rae);

    switch (lid) {
    case NVME_LOG_SUPPORTED:
        len = 1024;
        page = g_malloc0(len);
        log_supported(disc, page);
        break;
    case NVME_LOG_ERROR:
        len = NVMET_ERROR_LOG_ENTRIES * NVME_LOG_ERROR_ENTRY_SIZE;
        page = g_malloc0(len);
        log_error(req, page);
        break;
    case NVME_LOG_SMART:
        if (req->nsid != 0 && req->nsid != 0xffffffff) {
            /* no per-namespace SMART information (LPA bit 0 clear) */
            nvmet_req_complete(req, NVME_SC_INVALID_FIELD | NVME_STATUS_DNR);
            return;
        }
        len = 512;
        page = g_malloc0(len);
        log_smart(req, page);
        break;
    case NVME_LOG_FW_SLOT:
        len = 512;
        page = g_malloc0(len);
        page[0] = 1;                        /* active slot 1 */
        nvmet_st_ascii(page + 8, 8, ctrl->subsys->cfg.firmware);
        break;
    case NVME_LOG_CHANGED_NS:
        if (disc) {
            goto invalid;
        }
        len = NVME_LOG_CHANGED_NS_MAX * 4;
        page = g_malloc0(len);
        if (ctrl->nr_changed_ns > NVME_LOG_CHANGED_NS_MAX) {
            nvmet_st32(page, 0xffffffff);
        } else {
            for (unsigned i = 0; i < ctrl->nr_changed_ns; i++) {
                nvmet_st32(page + 4 * i, ctrl->changed_ns[i]);
            }
        }
        ctrl->nr_changed_ns = 0;
        if (!rae) {
            ctrl->ns_aen_masked = false;
        }
        break;
    case NVME_LOG_CMD_EFFECTS:
        if (disc) {
            goto invalid;
        }
        len = 4096;
        page = g_malloc0(len);
        log_cmd_effects(page);
        break;
    case NVME_LOG_DISC:
        if (!disc) {
            goto invalid;
        }
        page = disc_log(sq, ctrl->hostnqn, &len);
        if (!rae) {
            ctrl->disc_aen_masked = false;
        }
        break;
    default:
    invalid:
        trace_nvmet_log_page_unsupported(sq->name, lid);
        req->err_pel = NVME_SQE_CDW10;
        nvmet_req_complete(req, NVME_SC_INVALID_LOG_PAGE | NVME_STATUS_DNR);
        return;
    }
    if (offset > len) {
        req->err_pel = NVME_SQE_CDW12;
        nvmet_req_complete(req, NVME_SC_INVALID_FIELD | NVME_STATUS_DNR);
        return;
    }
    complete_with_data(req, page, len, offset);
}

/* ---- Features ------------------------------------------------------------ */

static void exec_set_features(NvmetReq *req)
{
    NvmetCtrl *ctrl = req->sq->ctrl;
    bool disc = ctrl->subsys->discovery;
    uint32_t cdw10 = cdw(req, NVME_SQE_CDW10);
    uint32_t cdw11 = cdw(req, NVME_SQE_CDW11);
    uint8_t fid = cdw10 & 0xff;

    trace_nvmet_set_features(req->sq->name, fid, cdw11);
    if (cdw10 & (1u << 31)) {
        nvmet_req_complete(req, NVME_SC_FEATURE_NOT_SAVEABLE | NVME_STATUS_DNR);
        return;
    }
    if (disc && fid != NVME_FEAT_KATO && fid != NVME_FEAT_ASYNC_EVENT) {
        goto invalid;
    }
    switch (fid) {
    case NVME_FEAT_ARBITRATION:
        ctrl->feat_arbitration = cdw11;
        break;
    case NVME_FEAT_POWER_MGMT:
        if ((cdw11 & 0x1f) != 0) {   /* only power state 0 exists */
            goto invalid;
        }
        ctrl->feat_power_mgmt = cdw11 & 0xff;
        break;
    case NVME_FEAT_TEMP_THRESH:
        ctrl->feat_temp_thresh = cdw11 & 0xffff;
        break;
    case NVME_FEAT_ERR_RECOVERY:
        ctrl->feat_err_recovery = cdw11 & 0xffff;
        break;
    case NVME_FEAT_VOLATILE_WC:
        nvmet_atomic_set(&ctrl->feat_vwce, cdw11 & 1);
        break;
    case NVME_FEAT_NUM_QUEUES: {
        uint16_t nsqr = cdw11 & 0xffff, ncqr = cdw11 >> 16;
        uint16_t n;

        if (nsqr == 0xffff || ncqr == 0xffff) {
            goto invalid;
        }
        for (unsigned i = 1; i <= ctrl->max_qid; i++) {
            if (ctrl->sqs[i]) {
                /* cannot change once I/O queues exist */
                nvmet_req_complete(req,
                                   NVME_SC_CMD_SEQ_ERROR | NVME_STATUS_DNR);
                return;
            }
        }
        n = MIN(MIN(nsqr, ncqr) + 1, ctrl->max_qid);
        ctrl->nr_io_queues = n;
        ctrl->nr_queues_set = true;
        req->dw0 = ((uint32_t)(n - 1) << 16) | (n - 1);
        break;
    }
    case NVME_FEAT_WRITE_ATOMIC:
        ctrl->feat_write_atomic = cdw11 & 1;
        break;
    case NVME_FEAT_ASYNC_EVENT:
        ctrl->feat_aen_cfg = cdw11 & (disc ? NVME_AEN_CFG_DISC_CHANGE :
                                      NVME_AEN_CFG_NS_ATTR);
        break;
    case NVME_FEAT_KATO:
        nvmet_atomic_set(&ctrl->kato_ms, cdw11);
        nvmet_ctrl_keep_alive(ctrl);
        nvmet_update_timer(ctrl->t);
        break;
    case NVME_FEAT_HOST_BEHAVIOR:
        if (!req->h2c || req->data_len != sizeof(ctrl->host_behavior)) {
            nvmet_req_complete(req, NVME_SC_SGL_INVALID_DATA | NVME_STATUS_DNR);
            return;
        }
        memcpy(ctrl->host_behavior, req->buf, sizeof(ctrl->host_behavior));
        break;
    case NVME_FEAT_HOST_ID:
        /* the host identifier is fixed by Connect on fabrics */
        nvmet_req_complete(req, NVME_SC_CMD_SEQ_ERROR | NVME_STATUS_DNR);
        return;
    default:
        goto invalid;
    }
    nvmet_req_complete(req, NVME_SC_SUCCESS);
    return;

invalid:
    trace_nvmet_feature_unsupported(req->sq->name, "set", fid);
    req->err_pel = NVME_SQE_CDW10;
    nvmet_req_complete(req, NVME_SC_INVALID_FIELD | NVME_STATUS_DNR);
}

static void exec_get_features(NvmetReq *req)
{
    NvmetCtrl *ctrl = req->sq->ctrl;
    bool disc = ctrl->subsys->discovery;
    uint32_t cdw10 = cdw(req, NVME_SQE_CDW10);
    uint8_t fid = cdw10 & 0xff;
    uint8_t sel = (cdw10 >> 8) & 7;
    /* nothing is saveable, so the saved value (SEL 2) is the default one */
    bool dflt = sel == 1 || sel == 2;

    trace_nvmet_get_features(req->sq->name, fid, sel);
    if (sel > 3) {
        goto invalid;               /* reserved */
    }
    if (disc && fid != NVME_FEAT_KATO && fid != NVME_FEAT_ASYNC_EVENT) {
        goto invalid;
    }
    if (sel == 3) {
        /* supported capabilities: not saveable, not namespace specific */
        switch (fid) {
        case NVME_FEAT_HOST_ID:
            req->dw0 = 0;           /* fixed by Connect */
            break;
        case NVME_FEAT_ARBITRATION: case NVME_FEAT_POWER_MGMT:
        case NVME_FEAT_TEMP_THRESH: case NVME_FEAT_ERR_RECOVERY:
        case NVME_FEAT_VOLATILE_WC: case NVME_FEAT_NUM_QUEUES:
        case NVME_FEAT_WRITE_ATOMIC: case NVME_FEAT_ASYNC_EVENT:
        case NVME_FEAT_KATO: case NVME_FEAT_HOST_BEHAVIOR:
            req->dw0 = 1u << 2;     /* changeable */
            break;
        default:
            goto invalid;
        }
        nvmet_req_complete(req, NVME_SC_SUCCESS);
        return;
    }
    switch (fid) {
    case NVME_FEAT_ARBITRATION:
        req->dw0 = dflt ? 0 : ctrl->feat_arbitration;
        break;
    case NVME_FEAT_POWER_MGMT:
        req->dw0 = dflt ? 0 : ctrl->feat_power_mgmt;
        break;
    case NVME_FEAT_TEMP_THRESH:
        req->dw0 = dflt ? 0x0157 : ctrl->feat_temp_thresh;
        break;
    case NVME_FEAT_ERR_RECOVERY:
        req->dw0 = dflt ? 0 : ctrl->feat_err_recovery;
        break;
    case NVME_FEAT_VOLATILE_WC:
        req->dw0 = dflt ? 1 : ctrl->feat_vwce;
        break;
    case NVME_FEAT_NUM_QUEUES: {
        uint16_t n = dflt ? ctrl->max_qid : ctrl->nr_io_queues;

        req->dw0 = ((uint32_t)(n - 1) << 16) | (n - 1);
        break;
    }
    case NVME_FEAT_WRITE_ATOMIC:
        req->dw0 = dflt ? 0 : ctrl->feat_write_atomic;
        break;
    case NVME_FEAT_ASYNC_EVENT:
        req->dw0 = dflt ? 0 : ctrl->feat_aen_cfg;
        break;
    case NVME_FEAT_KATO:
        req->dw0 = ctrl->kato_ms;
        break;
    case NVME_FEAT_HOST_BEHAVIOR:
        if (!need_c2h(req)) {
            return;
        }
        complete_with_data(req, ctrl->host_behavior,
                           sizeof(ctrl->host_behavior), 0);
        return;
    case NVME_FEAT_HOST_ID:
        if (!(cdw(req, NVME_SQE_CDW11) & 1)) {
            /* only the 128-bit host identifier exists on fabrics */
            goto invalid;
        }
        if (!need_c2h(req)) {
            return;
        }
        complete_with_data(req, ctrl->hostid, 16, 0);
        return;
    default:
        goto invalid;
    }
    nvmet_req_complete(req, NVME_SC_SUCCESS);
    return;

invalid:
    trace_nvmet_feature_unsupported(req->sq->name, "get", fid);
    req->err_pel = NVME_SQE_CDW10;
    nvmet_req_complete(req, NVME_SC_INVALID_FIELD | NVME_STATUS_DNR);
}

/* ---- AER, Keep Alive, Abort ---------------------------------------------- */

static void exec_async_event(NvmetReq *req)
{
    NvmetCtrl *ctrl = req->sq->ctrl;

    if (ctrl->nr_aer > NVMET_AERL) {
        nvmet_req_complete(req, NVME_SC_AER_LIMIT | NVME_STATUS_DNR);
        return;
    }
    ctrl->aer[ctrl->nr_aer++] = req;
    trace_nvmet_aer(req->sq->name, req->cid, ctrl->nr_aer);
    nvmet_ctrl_process_aens(ctrl);
}

static void exec_common(NvmetReq *req)
{
    switch (req->opc) {
    case NVME_ADM_IDENTIFY:
        exec_identify(req);
        return;
    case NVME_ADM_GET_LOG_PAGE:
        exec_get_log_page(req);
        return;
    case NVME_ADM_SET_FEATURES:
        exec_set_features(req);
        return;
    case NVME_ADM_GET_FEATURES:
        exec_get_features(req);
        return;
    case NVME_ADM_ASYNC_EVENT:
        exec_async_event(req);
        return;
    case NVME_ADM_KEEP_ALIVE:
        /* the keep-alive timer was restarted when the command arrived */
        nvmet_req_complete(req, NVME_SC_SUCCESS);
        return;
    case NVME_ADM_ABORT:
        /* commands are never aborted: DW0 bit 0 says "not aborted" */
        req->dw0 = 1;
        nvmet_req_complete(req, NVME_SC_SUCCESS);
        return;
    default:
        trace_nvmet_admin_unsupported(req->sq->name, req->opc);
        nvmet_req_complete(req, NVME_SC_INVALID_OPCODE | NVME_STATUS_DNR);
        return;
    }
}

static bool check_enabled(NvmetReq *req)
{
    NvmetCtrl *ctrl = req->sq->ctrl;

    if (!(ctrl->cc & NVME_CC_EN) || !(ctrl->csts & NVME_CSTS_RDY)) {
        trace_nvmet_ctrl_not_ready(req->sq->name, req->cid, req->opc);
        nvmet_req_complete(req, NVME_SC_CMD_SEQ_ERROR | NVME_STATUS_DNR);
        return false;
    }
    return true;
}

void nvmet_exec_admin(NvmetReq *req)
{
    if (!check_enabled(req)) {
        return;
    }
    exec_common(req);
}

void nvmet_exec_disc(NvmetReq *req)
{
    if (!check_enabled(req)) {
        return;
    }
    switch (req->opc) {
    case NVME_ADM_IDENTIFY:
    case NVME_ADM_GET_LOG_PAGE:
    case NVME_ADM_SET_FEATURES:
    case NVME_ADM_GET_FEATURES:
    case NVME_ADM_ASYNC_EVENT:
    case NVME_ADM_KEEP_ALIVE:
        exec_common(req);
        return;
    default:
        trace_nvmet_admin_unsupported(req->sq->name, req->opc);
        nvmet_req_complete(req, NVME_SC_INVALID_OPCODE | NVME_STATUS_DNR);
        return;
    }
}
