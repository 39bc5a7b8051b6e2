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

static NvmetHostObject *qmp_host(const char *id, Error **errp)
{
    Object *obj = object_resolve_path_component(object_get_objects_root(), id);

    if (!obj || !object_dynamic_cast(obj, TYPE_NVMET_HOST)) {
        error_setg(errp, "'%s' is not an nvmet-host object", id);
        return NULL;
    }
    if (!NVMET_HOST(obj)->host) {
        error_setg(errp, "nvmet-host '%s' is not ready", id);
        return NULL;
    }
    return NVMET_HOST(obj);
}

void qmp_nvmet_host_set_dhchap_secrets(const char *id,
                                       const char *dhchap_secret,
                                       const char *dhchap_ctrl_secret,
                                       Error **errp)
{
    NvmetHostObject *h = qmp_host(id, errp);

    if (!h) {
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

void qmp_nvmet_host_set_tls_psk(const char *id, const char *tls_psk,
                                Error **errp)
{
    NvmetHostObject *h = qmp_host(id, errp);

    if (h && nvmet_host_object_set_psk(h, tls_psk, errp)) {
        g_free(h->tls_psk);
        h->tls_psk = g_strdup(tls_psk);
    }
}
