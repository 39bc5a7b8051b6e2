/*
 * NVMe-oF TCP target engine: secure channel concatenation (generated TLS
 * PSKs) and TLS PSK bookkeeping.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#include "internal.h"
#include "crypto.h"

bool nvmet_port_tls_possible(NvmetPort *port)
{
    /* TLS support on ports arrives with the TLS record layer */
    return false;
}

void nvmet_concat_generate_psk(NvmetQueue *q)
{
    /* not reachable while no port offers TLS (nvmet_concat_check) */
    g_assert_not_reached();
}
