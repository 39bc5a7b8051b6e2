/*
 * NVMe-oF TCP target: QMP commands.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#include "qemu/osdep.h"
#include "qapi/error.h"
#include "qapi/qapi-commands-nvmet.h"
#include "nvmet-qemu.h"

void qmp_nvmet_host_set_dhchap_secrets(const char *id,
                                       const char *dhchap_secret,
                                       const char *dhchap_ctrl_secret,
                                       Error **errp)
{
    NvmetHostObject *h = nvmet_host_object_find(id, errp);

    if (h) {
        nvmet_host_object_set_dhchap_secrets(h, dhchap_secret,
                                             dhchap_ctrl_secret, errp);
    }
}

void qmp_nvmet_host_set_tls_psk(const char *id, const char *tls_psk,
                                Error **errp)
{
    NvmetHostObject *h = nvmet_host_object_find(id, errp);

    if (h) {
        nvmet_host_object_set_tls_psk(h, tls_psk, errp);
    }
}
