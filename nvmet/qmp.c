/*
 * NVMe-oF TCP target: QMP commands.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#include "qemu/osdep.h"
#include "qapi/error.h"
#include "qapi/qapi-commands-nvmet.h"
#include "qom/object.h"
#include "nvmet-qemu.h"

void qmp_nvmet_host_set_dhchap_secrets(const char *id,
                                       const char *dhchap_secret,
                                       const char *dhchap_ctrl_secret,
                                       Error **errp)
{
    Object *obj = object_resolve_path_component(object_get_objects_root(), id);
    NvmetHostObject *h;

    if (!obj || !object_dynamic_cast(obj, TYPE_NVMET_HOST)) {
        error_setg(errp, "'%s' is not an nvmet-host object", id);
        return;
    }
    h = NVMET_HOST(obj);
    if (!h->host) {
        error_setg(errp, "nvmet-host '%s' is not ready", id);
        return;
    }
    if (nvmet_host_object_set_keys(h, dhchap_secret, dhchap_ctrl_secret,
                                   errp)) {
        /* keep the properties telling which secrets are in use */
        g_free(h->dhchap_secret);
        h->dhchap_secret = g_strdup(dhchap_secret);
        g_free(h->dhchap_ctrl_secret);
        h->dhchap_ctrl_secret = g_strdup(dhchap_ctrl_secret);
    }
}
