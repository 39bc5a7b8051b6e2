/*
 * Trace output for the standalone engine build.
 *
 * Traces go to stderr when NVMET_TRACE is set in the environment, and to a
 * hook that tests install to check that an error path says why.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#include "qemu/osdep.h"
#include <stdarg.h>
#include "nvmet/trace-hook.h"
#include "trace.h"

bool nvmet_trace_enabled;
static NvmetTraceHook *trace_hook;
static void *trace_hook_opaque;
static bool trace_stderr;

void nvmet_trace_set_hook(NvmetTraceHook *hook, void *opaque)
{
    trace_hook = hook;
    trace_hook_opaque = opaque;
    trace_stderr = getenv("NVMET_TRACE") != NULL;
    nvmet_trace_enabled = hook || trace_stderr;
}

__attribute__((constructor))
static void trace_init(void)
{
    trace_stderr = getenv("NVMET_TRACE") != NULL;
    nvmet_trace_enabled = trace_stderr;
}

void nvmet_trace_emit(const char *name, const char *fmt, ...)
{
    va_list ap;
    g_autofree char *msg = NULL;

    va_start(ap, fmt);
    msg = g_strdup_vprintf(fmt, ap);
    va_end(ap);
    if (trace_stderr) {
        fprintf(stderr, "%s %s\n", name, msg);
    }
    if (trace_hook) {
        trace_hook(name, msg, trace_hook_opaque);
    }
}
