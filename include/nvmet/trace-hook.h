/*
 * Standalone engine build: capture trace events (for tests).
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#ifndef NVMET_TRACE_HOOK_H
#define NVMET_TRACE_HOOK_H

typedef void NvmetTraceHook(const char *event, const char *msg, void *opaque);

/* Install (or with NULL remove) a hook that receives every trace event. */
void nvmet_trace_set_hook(NvmetTraceHook *hook, void *opaque);

#endif
