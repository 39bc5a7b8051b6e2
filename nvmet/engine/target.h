/*
 * NVMe-oF target engine: configuration of the object model (ports,
 * subsystems, hosts, namespaces) and lookups in it; see target.c.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#ifndef NVMET_ENGINE_TARGET_H
#define NVMET_ENGINE_TARGET_H

#include "nvmet.h"

/*
 * A port after the transport checked its own settings (the public
 * nvmet_port_new() is the transport's).
 */
NvmetPort *nvmet_port_add(NvmetTarget *t, const NvmetPortConfig *cfg,
                          GError **errp);
/* Drop a queue's reference (nvmet_sq_init() took it). */
void nvmet_port_unref(NvmetPort *port);
NvmetSubsys *nvmet_port_find_subsys(NvmetPort *port, const char *nqn);
bool nvmet_port_tls_possible(NvmetPort *port);
bool nvmet_subsys_host_allowed(NvmetSubsys *subsys, const char *hostnqn);
NvmetNs *nvmet_subsys_find_ns(NvmetSubsys *subsys, uint32_t nsid);
NvmetHost *nvmet_target_find_host(NvmetTarget *t, const char *nqn);

#endif /* NVMET_ENGINE_TARGET_H */
