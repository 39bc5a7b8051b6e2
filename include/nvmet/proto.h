/*
 * NVMe over Fabrics / NVMe/TCP wire definitions used by the target engine.
 *
 * Offsets and values come from the NVM Express Base, NVMe over Fabrics and
 * NVMe/TCP transport specifications.  Everything on the wire is
 * little-endian unless noted; access it only through the ld/st helpers
 * below, never through packed structures, so the engine stays
 * alignment- and endian-clean.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#ifndef NVMET_PROTO_H
#define NVMET_PROTO_H

#include <stdint.h>
#include <string.h>

/* ---- little-endian accessors ------------------------------------------ */

static inline uint16_t nvmet_ld16(const uint8_t *p)
{
    return (uint16_t)(p[0] | (p[1] << 8));
}

static inline uint32_t nvmet_ld32(const uint8_t *p)
{
    return (uint32_t)p[0] | ((uint32_t)p[1] << 8) |
           ((uint32_t)p[2] << 16) | ((uint32_t)p[3] << 24);
}

static inline uint64_t nvmet_ld64(const uint8_t *p)
{
    return (uint64_t)nvmet_ld32(p) | ((uint64_t)nvmet_ld32(p + 4) << 32);
}

static inline void nvmet_st16(uint8_t *p, uint16_t v)
{
    p[0] = v;
    p[1] = v >> 8;
}

static inline void nvmet_st32(uint8_t *p, uint32_t v)
{
    p[0] = v;
    p[1] = v >> 8;
    p[2] = v >> 16;
    p[3] = v >> 24;
}

static inline void nvmet_st64(uint8_t *p, uint64_t v)
{
    nvmet_st32(p, (uint32_t)v);
    nvmet_st32(p + 4, (uint32_t)(v >> 32));
}

/* Copy a string into a fixed-size, space-padded ASCII field (no NUL). */
static inline void nvmet_st_ascii(uint8_t *p, size_t size, const char *s)
{
    size_t n = s ? strlen(s) : 0;

    if (n > size) {
        n = size;
    }
    memcpy(p, s, n);
    memset(p + n, ' ', size - n);
}

/* ---- NVMe/TCP PDUs ------------------------------------------------------ */

enum {
    NVME_TCP_PDU_ICREQ       = 0x00,
    NVME_TCP_PDU_ICRESP      = 0x01,
    NVME_TCP_PDU_H2C_TERM    = 0x02,
    NVME_TCP_PDU_C2H_TERM    = 0x03,
    NVME_TCP_PDU_CMD         = 0x04,
    NVME_TCP_PDU_RSP         = 0x05,
    NVME_TCP_PDU_H2C_DATA    = 0x06,
    NVME_TCP_PDU_C2H_DATA    = 0x07,
    NVME_TCP_PDU_R2T         = 0x09,
};

/* Common header: type(1) flags(1) hlen(1) pdo(1) plen(4) */
#define NVME_TCP_CH_LEN          8
#define NVME_TCP_CH_TYPE         0
#define NVME_TCP_CH_FLAGS        1
#define NVME_TCP_CH_HLEN         2
#define NVME_TCP_CH_PDO          3
#define NVME_TCP_CH_PLEN         4

#define NVME_TCP_F_HDGST         0x01
#define NVME_TCP_F_DDGST         0x02
#define NVME_TCP_F_DATA_LAST     0x04
#define NVME_TCP_F_DATA_SUCCESS  0x08

#define NVME_TCP_DIGEST_LEN      4

/* Fixed header lengths */
#define NVME_TCP_ICREQ_HLEN      128
#define NVME_TCP_ICRESP_HLEN     128
#define NVME_TCP_TERM_HLEN       24
#define NVME_TCP_CMD_HLEN        72
#define NVME_TCP_RSP_HLEN        24
#define NVME_TCP_DATA_HLEN       24
#define NVME_TCP_R2T_HLEN        24

/* A TermReq carries at most this many bytes of the PDU header in error. */
#define NVME_TCP_TERM_MAX_ERR_HDR 128

/* ICReq / ICResp fields */
#define NVME_TCP_IC_PFV          8   /* le16 */
#define NVME_TCP_ICREQ_HPDA      10  /* u8 */
#define NVME_TCP_ICRESP_CPDA     10  /* u8 */
#define NVME_TCP_IC_DGST         11  /* u8 */
#define NVME_TCP_ICREQ_MAXR2T    12  /* le32 */
#define NVME_TCP_ICRESP_MAXDATA  12  /* le32 */
#define NVME_TCP_IC_DGST_HDR     0x01
#define NVME_TCP_IC_DGST_DATA    0x02
#define NVME_TCP_PFV_1_0         0x0000
#define NVME_TCP_MAX_HPDA        31

/* TermReq fields */
#define NVME_TCP_TERM_FES        8   /* le16 */
#define NVME_TCP_TERM_FEI        10  /* le32 */

/* Fatal error status values for H2CTermReq/C2HTermReq */
enum {
    NVME_TCP_FES_INVALID_HEADER  = 0x01,
    NVME_TCP_FES_PDU_SEQ_ERR     = 0x02,
    NVME_TCP_FES_HDR_DIGEST_ERR  = 0x03,
    NVME_TCP_FES_DATA_OUT_OF_RANGE = 0x04,
    NVME_TCP_FES_R2T_LIMIT       = 0x05, /* also "data transfer limit exceeded" */
    NVME_TCP_FES_UNSUPPORTED_PARAM = 0x06,
};

/* H2CData / C2HData / R2T fields */
#define NVME_TCP_DATA_CCCID      8   /* le16 */
#define NVME_TCP_DATA_TTAG       10  /* le16 */
#define NVME_TCP_DATA_DATAO      12  /* le32 */
#define NVME_TCP_DATA_DATAL      16  /* le32 */

/* CapsuleCmd / CapsuleResp */
#define NVME_TCP_CMD_SQE         8
#define NVME_TCP_RSP_CQE         8

#define NVME_TCP_MIN_MAXH2CDATA  4096

/* ---- Submission/completion queue entries ------------------------------ */

#define NVME_SQE_SIZE            64
#define NVME_CQE_SIZE            16

/* SQE byte offsets */
#define NVME_SQE_OPC             0
#define NVME_SQE_FLAGS           1
#define NVME_SQE_CID             2
#define NVME_SQE_NSID            4
#define NVME_SQE_FCTYPE          4   /* fabrics commands */
#define NVME_SQE_DPTR            24
#define NVME_SQE_CDW10           40
#define NVME_SQE_CDW11           44
#define NVME_SQE_CDW12           48
#define NVME_SQE_CDW13           52
#define NVME_SQE_CDW14           56
#define NVME_SQE_CDW15           60

/* FLAGS: PSDT bits 7:6; 01/10 mean SGL. */
#define NVME_SQE_FLAGS_PSDT_MASK 0xc0
#define NVME_SQE_FLAGS_FUSE_MASK 0x03

/* SGL descriptor (16 bytes inside DPTR) */
#define NVME_SGL_ADDR            0   /* le64 */
#define NVME_SGL_LEN             8   /* le32 */
#define NVME_SGL_ID              15  /* type << 4 | subtype */
#define NVME_SGL_ID_DATA_OFFSET  0x01 /* data block, offset: in-capsule */
#define NVME_SGL_ID_TRANSPORT    0x5a /* transport data block, transport specific */

/* CQE byte offsets */
#define NVME_CQE_DW0             0
#define NVME_CQE_DW1             4
#define NVME_CQE_SQHD            8
#define NVME_CQE_SQID            10
#define NVME_CQE_CID             12
#define NVME_CQE_STATUS          14  /* le16: phase bit 0, status in 15:1 */

/*
 * Status values are kept as (DNR << 14 | MORE << 13 | SCT << 8 | SC), the
 * 15-bit status field of the CQE without the phase tag.
 */
#define NVME_SCT_GENERIC         0x000
#define NVME_SCT_CMD_SPECIFIC    0x100
#define NVME_SCT_MEDIA           0x200
#define NVME_SCT_PATH            0x300
#define NVME_STATUS_DNR          0x4000
#define NVME_STATUS_MORE         0x2000

enum {
    NVME_SC_SUCCESS              = 0x00,
    NVME_SC_INVALID_OPCODE       = 0x01,
    NVME_SC_INVALID_FIELD        = 0x02,
    NVME_SC_CMDID_CONFLICT       = 0x03,
    NVME_SC_DATA_XFER_ERROR      = 0x04,
    NVME_SC_POWER_LOSS           = 0x05,
    NVME_SC_INTERNAL             = 0x06,
    NVME_SC_ABORT_REQ            = 0x07,
    NVME_SC_ABORT_SQ_DELETED     = 0x08,
    NVME_SC_INVALID_NS           = 0x0b,
    NVME_SC_CMD_SEQ_ERROR        = 0x0c,
    NVME_SC_SGL_INVALID_LAST     = 0x0d,
    NVME_SC_SGL_INVALID_COUNT    = 0x0e,
    NVME_SC_SGL_INVALID_DATA     = 0x0f,  /* data SGL length invalid */
    NVME_SC_SGL_INVALID_METADATA = 0x10,
    NVME_SC_SGL_INVALID_TYPE     = 0x11,
    NVME_SC_SGL_INVALID_OFFSET   = 0x16,
    NVME_SC_NS_WRITE_PROTECTED   = 0x20,
    NVME_SC_TRANSIENT_TR_ERR     = 0x22,
    NVME_SC_LBA_RANGE            = 0x80,
    NVME_SC_CAP_EXCEEDED         = 0x81,
    NVME_SC_NS_NOT_READY         = 0x82,

    /* command specific (SCT 1) */
    NVME_SC_INVALID_LOG_PAGE     = NVME_SCT_CMD_SPECIFIC | 0x09,
    NVME_SC_FEATURE_NOT_SAVEABLE = NVME_SCT_CMD_SPECIFIC | 0x0d,
    NVME_SC_FEATURE_NOT_CHANGEABLE = NVME_SCT_CMD_SPECIFIC | 0x0e,
    NVME_SC_FEATURE_NOT_PER_NS   = NVME_SCT_CMD_SPECIFIC | 0x0f,
    NVME_SC_AER_LIMIT            = NVME_SCT_CMD_SPECIFIC | 0x05,
    NVME_SC_ATTR_CONFLICT_DSM    = NVME_SCT_CMD_SPECIFIC | 0x80,
    NVME_SC_CONNECT_FORMAT       = NVME_SCT_CMD_SPECIFIC | 0x80,
    NVME_SC_CONNECT_CTRL_BUSY    = NVME_SCT_CMD_SPECIFIC | 0x81,
    NVME_SC_CONNECT_INVALID_PARAM = NVME_SCT_CMD_SPECIFIC | 0x82,
    NVME_SC_CONNECT_RESTART_DISC = NVME_SCT_CMD_SPECIFIC | 0x83,
    NVME_SC_CONNECT_INVALID_HOST = NVME_SCT_CMD_SPECIFIC | 0x84,
    NVME_SC_AUTH_REQUIRED        = NVME_SCT_CMD_SPECIFIC | 0x91,

    /* media errors (SCT 2) */
    NVME_SC_WRITE_FAULT          = NVME_SCT_MEDIA | 0x80,
    NVME_SC_READ_ERROR           = NVME_SCT_MEDIA | 0x81,
};

/* ---- Admin opcodes ------------------------------------------------------ */
enum {
    NVME_ADM_DELETE_SQ           = 0x00,
    NVME_ADM_CREATE_SQ           = 0x01,
    NVME_ADM_GET_LOG_PAGE        = 0x02,
    NVME_ADM_DELETE_CQ           = 0x04,
    NVME_ADM_CREATE_CQ           = 0x05,
    NVME_ADM_IDENTIFY            = 0x06,
    NVME_ADM_ABORT               = 0x08,
    NVME_ADM_SET_FEATURES        = 0x09,
    NVME_ADM_GET_FEATURES        = 0x0a,
    NVME_ADM_ASYNC_EVENT         = 0x0c,
    NVME_ADM_KEEP_ALIVE          = 0x18,
    NVME_FABRICS_COMMAND         = 0x7f,
};

/*
 * Data transfer direction: bits 1:0 of an opcode, or for fabrics commands
 * bit 0 of FCTYPE (set: host to controller, clear: controller to host).
 */
#define NVME_DATA_NONE           0
#define NVME_DATA_H2C            1
#define NVME_DATA_C2H            2
#define NVME_DATA_BIDI           3

/* ---- I/O opcodes (NVM command set) -------------------------------------- */
enum {
    NVME_CMD_FLUSH               = 0x00,
    NVME_CMD_WRITE               = 0x01,
    NVME_CMD_READ                = 0x02,
    NVME_CMD_WRITE_ZEROES        = 0x08,
    NVME_CMD_DSM                 = 0x09,
};

/* Read/Write CDW12 */
#define NVME_RW_FUA              (1u << 30)
#define NVME_RW_LR               (1u << 31)
/* Write Zeroes CDW12 */
#define NVME_WZ_DEAC             (1u << 25)
/* DSM CDW11 attribute bits */
#define NVME_DSMGMT_AD           (1u << 2)
#define NVME_DSM_RANGE_SIZE      16
#define NVME_DSM_MAX_RANGES      256

/* ---- Fabrics ------------------------------------------------------------- */
enum {
    NVME_FCTYPE_PROP_SET         = 0x00,
    NVME_FCTYPE_CONNECT          = 0x01,
    NVME_FCTYPE_PROP_GET         = 0x04,
    NVME_FCTYPE_AUTH_SEND        = 0x05,
    NVME_FCTYPE_AUTH_RECV        = 0x06,
    NVME_FCTYPE_DISCONNECT       = 0x08,
};

/* Connect SQE */
#define NVME_CONNECT_RECFMT      40  /* le16 */
#define NVME_CONNECT_QID         42  /* le16 */
#define NVME_CONNECT_SQSIZE      44  /* le16, 0's based */
#define NVME_CONNECT_CATTR       46  /* u8 */
#define NVME_CONNECT_KATO        48  /* le32, ms */
#define NVME_CONNECT_CATTR_DISABLE_SQFLOW 0x04

/* Connect data (1024 bytes) */
#define NVME_CONNECT_DATA_LEN    1024
#define NVME_CONNECT_DATA_HOSTID 0
#define NVME_CONNECT_DATA_CNTLID 16
#define NVME_CONNECT_DATA_SUBNQN 256
#define NVME_CONNECT_DATA_HOSTNQN 512
#define NVME_NQN_FIELD_LEN       256

#define NVME_CNTLID_MIN          1
#define NVME_CNTLID_MAX          0xffef
#define NVME_CNTLID_DYNAMIC      0xffff

/* Connect response DW0 bits */
#define NVME_CONNECT_AUTHREQ_ATR  (1u << 17)
#define NVME_CONNECT_AUTHREQ_ASCR (1u << 18)

/* Property Get/Set */
#define NVME_PROP_ATTRIB         40  /* u8: bits 2:0 size (0=4, 1=8 bytes) */
#define NVME_PROP_OFFSET         44  /* le32 */
#define NVME_PROP_VALUE          48  /* le64 */

/* Controller registers (property offsets) */
enum {
    NVME_REG_CAP                 = 0x00,
    NVME_REG_VS                  = 0x08,
    NVME_REG_INTMS               = 0x0c,
    NVME_REG_INTMC               = 0x10,
    NVME_REG_CC                  = 0x14,
    NVME_REG_CSTS                = 0x1c,
    NVME_REG_NSSR                = 0x20,
};

#define NVME_CC_EN               (1u << 0)
#define NVME_CC_CSS_SHIFT        4
#define NVME_CC_CSS_MASK         (7u << 4)
#define NVME_CC_MPS_SHIFT        7
#define NVME_CC_MPS_MASK         (0xfu << 7)
#define NVME_CC_AMS_MASK         (7u << 11)
#define NVME_CC_SHN_SHIFT        14
#define NVME_CC_SHN_MASK         (3u << 14)
#define NVME_CC_IOSQES_SHIFT     16
#define NVME_CC_IOSQES_MASK      (0xfu << 16)
#define NVME_CC_IOCQES_SHIFT     20
#define NVME_CC_IOCQES_MASK      (0xfu << 20)

#define NVME_CSTS_RDY            (1u << 0)
#define NVME_CSTS_CFS            (1u << 1)
#define NVME_CSTS_SHST_SHIFT     2
#define NVME_CSTS_SHST_MASK      (3u << 2)
#define NVME_CSTS_SHST_NORMAL    (0u << 2)
#define NVME_CSTS_SHST_OCCUR     (1u << 2)
#define NVME_CSTS_SHST_CMPLT     (2u << 2)

/* ---- Identify ------------------------------------------------------------ */
#define NVME_IDENTIFY_DATA_SIZE  4096
enum {
    NVME_ID_CNS_NS               = 0x00,
    NVME_ID_CNS_CTRL             = 0x01,
    NVME_ID_CNS_NS_ACTIVE_LIST   = 0x02,
    NVME_ID_CNS_NS_DESC_LIST     = 0x03,
    NVME_ID_CNS_CS_NS            = 0x05,
    NVME_ID_CNS_CS_CTRL          = 0x06,
    NVME_ID_CNS_NS_CS_ACTIVE_LIST = 0x07,
    NVME_ID_CNS_NS_CS_INDEP      = 0x08,
    NVME_ID_CNS_CS_INDEP_CTRL_NVM = 0x09, /* unused */
    NVME_ID_CNS_NS_PRESENT_LIST  = 0x10,
    NVME_ID_CNS_NS_PRESENT       = 0x11,
    NVME_ID_CNS_CTRL_NS_LIST     = 0x12,
    NVME_ID_CNS_CTRL_LIST        = 0x13,
    NVME_ID_CNS_CMD_SET          = 0x1c,
};
#define NVME_CSI_NVM             0x00

/* Namespace identification descriptor types */
#define NVME_NIDT_EUI64          0x01
#define NVME_NIDT_NGUID          0x02
#define NVME_NIDT_UUID           0x03
#define NVME_NIDT_CSI            0x04

/* ---- Log pages ----------------------------------------------------------- */
enum {
    NVME_LOG_SUPPORTED           = 0x00,
    NVME_LOG_ERROR               = 0x01,
    NVME_LOG_SMART               = 0x02,
    NVME_LOG_FW_SLOT             = 0x03,
    NVME_LOG_CHANGED_NS          = 0x04,
    NVME_LOG_CMD_EFFECTS         = 0x05,
    NVME_LOG_DISC                = 0x70,
};
#define NVME_LOG_ERROR_ENTRY_SIZE 64
#define NVME_LOG_CHANGED_NS_MAX  1024  /* entries of 4 bytes */

/* ---- Features ------------------------------------------------------------ */
enum {
    NVME_FEAT_ARBITRATION        = 0x01,
    NVME_FEAT_POWER_MGMT         = 0x02,
    NVME_FEAT_TEMP_THRESH        = 0x04,
    NVME_FEAT_ERR_RECOVERY       = 0x05,
    NVME_FEAT_VOLATILE_WC        = 0x06,
    NVME_FEAT_NUM_QUEUES         = 0x07,
    NVME_FEAT_IRQ_COALESCE       = 0x08,
    NVME_FEAT_IRQ_CONFIG         = 0x09,
    NVME_FEAT_WRITE_ATOMIC       = 0x0a,
    NVME_FEAT_ASYNC_EVENT        = 0x0b,
    NVME_FEAT_KATO               = 0x0f,
    NVME_FEAT_HOST_BEHAVIOR      = 0x16,
    NVME_FEAT_HOST_ID            = 0x81,
};

/* Asynchronous events */
#define NVME_AER_TYPE_NOTICE     0x02
#define NVME_AER_NOTICE_NS_CHANGED 0x00
#define NVME_AER_NOTICE_DISC_CHANGED 0xf0
#define NVME_AEN_CFG_NS_ATTR     (1u << 8)
#define NVME_AEN_CFG_DISC_CHANGE (1u << 31)

/* ---- Discovery ----------------------------------------------------------- */
#define NVME_DISC_SUBSYS_NAME    "nqn.2014-08.org.nvmexpress.discovery"
#define NVME_DISC_LOG_HDR_SIZE   1024
#define NVME_DISC_LOG_ENTRY_SIZE 1024

#define NVMF_TRTYPE_TCP          3
#define NVMF_ADRFAM_IPV4         1
#define NVMF_ADRFAM_IPV6         2
#define NVME_NQN_DISC            1  /* referral / discovery subsystem */
#define NVME_NQN_NVME            2  /* NVM subsystem */
#define NVME_NQN_CURR            3  /* current discovery subsystem */
#define NVMF_TREQ_NOT_SPECIFIED  0
#define NVMF_TREQ_REQUIRED       1
#define NVMF_TREQ_NOT_REQUIRED   2
#define NVMF_TREQ_DISABLE_SQFLOW (1u << 2)
#define NVMF_TCP_SECTYPE_NONE    0
#define NVMF_TCP_SECTYPE_TLS12   1
#define NVMF_TCP_SECTYPE_TLS13   2
#define NVME_DISC_EFLAGS_DUPRETINFO (1u << 0)
#define NVME_DISC_EFLAGS_EPCSD   (1u << 1)

/* Controller types (Identify Controller CNTRLTYPE) */
#define NVME_CTRL_IO             1
#define NVME_CTRL_DISC           2

#define NVME_NQN_MAX_LEN         223

/* ---- In-band authentication ---------------------------------------------- */

/* Secure channel concatenation (SC_C in AUTH_Negotiate) */
#define NVME_AUTH_SECP_NOSC            0x00
#define NVME_AUTH_SECP_SC              0x01
#define NVME_AUTH_SECP_NEWTLSPSK       0x02
#define NVME_AUTH_SECP_REPLACETLSPSK   0x03

/* Authentication Send / Receive SQE */
#define NVME_AUTH_SQE_SPSP0      41  /* u8: security protocol specific */
#define NVME_AUTH_SQE_SPSP1      42  /* u8 */
#define NVME_AUTH_SQE_SECP       43  /* u8: security protocol */
#define NVME_AUTH_SQE_TL         44  /* le32: transfer / allocation length */
#define NVME_AUTH_DHCHAP_SECP    0xe9 /* SECP of DH-HMAC-CHAP */

/* Message types (AUTH_TYPE) and message identifiers (AUTH_ID) */
#define NVME_AUTH_COMMON_MESSAGES      0x00
#define NVME_AUTH_DHCHAP_MESSAGES      0x01
#define NVME_AUTH_MSG_NEGOTIATE        0x00    /* common */
#define NVME_AUTH_MSG_FAILURE2         0xf0    /* common */
#define NVME_AUTH_MSG_FAILURE1         0xf1    /* common */
#define NVME_AUTH_MSG_CHALLENGE        0x01    /* DH-HMAC-CHAP */
#define NVME_AUTH_MSG_REPLY            0x02
#define NVME_AUTH_MSG_SUCCESS1         0x03
#define NVME_AUTH_MSG_SUCCESS2         0x04

/* Header of every authentication message */
#define NVME_AUTH_TYPE           0   /* u8: AUTH_TYPE */
#define NVME_AUTH_ID             1   /* u8: AUTH_ID */
#define NVME_AUTH_TID            4   /* le16: transaction identifier */

/* AUTH_Negotiate */
#define NVME_AUTH_NEG_SC_C       6   /* u8: secure channel concatenation */
#define NVME_AUTH_NEG_NAPD       7   /* u8: number of protocol descriptors */
#define NVME_AUTH_NEG_DESC       8   /* protocol descriptors */
#define NVME_AUTH_NEG_LEN        8   /* header before the descriptors */

/* AUTH_Negotiate protocol descriptor (64 bytes) */
#define NVME_AUTH_DESC_AUTHID    0   /* u8: 1 = DH-HMAC-CHAP */
#define NVME_AUTH_DESC_HALEN     2   /* u8: hash identifiers */
#define NVME_AUTH_DESC_DHLEN     3   /* u8: DH group identifiers */
#define NVME_AUTH_DESC_HASHES    4   /* HALEN hash identifiers */
#define NVME_AUTH_DESC_GROUPS    34  /* DHLEN DH group identifiers */
#define NVME_AUTH_DESC_MAX_IDS   30  /* of each list */
#define NVME_AUTH_DESC_LEN       64
#define NVME_AUTH_DHCHAP_AUTHID  1

/* DH-HMAC-CHAP_Challenge */
#define NVME_AUTH_CHAL_HL        6   /* u8: hash length */
#define NVME_AUTH_CHAL_HASHID    8   /* u8 */
#define NVME_AUTH_CHAL_DHGID     9   /* u8 */
#define NVME_AUTH_CHAL_DHVLEN    10  /* le16 */
#define NVME_AUTH_CHAL_SEQNUM    12  /* le32 */
#define NVME_AUTH_CHAL_CVAL      16  /* challenge, then the DH value */

/* DH-HMAC-CHAP_Reply */
#define NVME_AUTH_REPLY_HL       6   /* u8: hash length */
#define NVME_AUTH_REPLY_CVALID   8   /* u8: a host challenge follows */
#define NVME_AUTH_REPLY_DHVLEN   10  /* le16 */
#define NVME_AUTH_REPLY_SEQNUM   12  /* le32 */
#define NVME_AUTH_REPLY_RVAL     16  /* response, challenge, DH value */

/* DH-HMAC-CHAP_Success1 */
#define NVME_AUTH_SUCC1_HL       6   /* u8: hash length */
#define NVME_AUTH_SUCC1_RVALID   8   /* u8: a controller response follows */
#define NVME_AUTH_SUCC1_RVAL     16

#define NVME_AUTH_SUCC2_LEN      16

/* AUTH_Failure1 / AUTH_Failure2 */
#define NVME_AUTH_FAIL_RESCODE   6   /* u8: reason code */
#define NVME_AUTH_FAIL_RESCODE_EXP 7 /* u8: reason code explanation */
#define NVME_AUTH_FAIL_LEN       8
#define NVME_AUTH_RESCODE_FAILED 0x01

/* AUTH_Failure reason code explanations */
#define NVME_AUTH_FAIL_FAILED            0x01
#define NVME_AUTH_FAIL_NOT_USABLE        0x02
#define NVME_AUTH_FAIL_CONCAT_MISMATCH   0x03
#define NVME_AUTH_FAIL_HASH_UNUSABLE     0x04
#define NVME_AUTH_FAIL_DHGROUP_UNUSABLE  0x05
#define NVME_AUTH_FAIL_INCORRECT_PAYLOAD 0x06
#define NVME_AUTH_FAIL_INCORRECT_MESSAGE 0x07

#endif /* NVMET_PROTO_H */
