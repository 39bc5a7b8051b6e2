/*
 * Unit-test helpers: an engine instance with a fake clock, RAM-disk
 * namespaces, and connections that run the test host (tests/qtest/nvmf-host)
 * directly against the engine.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#ifndef NVMET_TEST_UTIL_H
#define NVMET_TEST_UTIL_H

#include <glib.h>
#include "nvmet/engine.h"
#include "nvmet/proto.h"
#include "../qtest/nvmf-host.h"
#include "nvmet-ramdisk.h"

#define TEST_SUBNQN  "nqn.2026-11.org.qemu:test-subsys"
#define TEST_HOSTNQN  "nqn.2014-08.org.nvmexpress:uuid:" \
                      "0c5ae0a2-1b49-4b38-9d41-1f1f4d2c7a01"
#define TEST_HOSTNQN2 "nqn.2014-08.org.nvmexpress:uuid:" \
                      "7d0f8f53-5a44-4e0c-8c8e-3a3f1e8e9b02"

typedef struct TestTarget {
    NvmetTarget *t;
    int64_t now;
    int64_t deadline;
    unsigned kicks;
    GPtrArray *kicked;      /* queues kicked by the timer (tt_advance()) */
    GThread *timer_thread;  /* the thread in tt_advance() */
    NvmetPort *port;
    NvmetSubsys *subsys;
    NvmetHost *host;
    NvmetNs *ns1;
    RamDisk disk1;
    GPtrArray *traces;
    GPtrArray *nss;         /* namespaces made by tt_add_ns() */
    GPtrArray *events;      /* ops.event, as tt_event_str() formats them */
    /* ops.capture: the cleartext of each direction, per queue */
    GHashTable *capture;    /* NvmetQueue * -> TestCapture * */
    /*
     * Called after each captured piece (with the engine in the middle of
     * the queue's input or output): to make something happen right there
     */
    void (*on_capture)(struct TestTarget *tt, NvmetQueue *q, bool tx,
                       size_t len);
    void *on_capture_data;
} TestTarget;

typedef struct TestCapture {
    GByteArray *rx, *tx;
} TestCapture;

typedef struct TestConn {
    TestTarget *tt;
    NvmetQueue *q;
    NvmfHost *h;
    bool hold_io;           /* leave I/O pending instead of completing it */
    NvmfTls *tls;           /* tc_start_tls() */
    GQueue held;            /* NvmetIo * */
    uint16_t cntlid;
} TestConn;

/* A target with one port, one subsystem (allow any host), 1 MiB ns 1. */
TestTarget *tt_new(void);
void tt_free(TestTarget *tt);
/* Port 2 with @tls exporting tt->subsys; tt->subsys for one host only */
NvmetPort *tt_add_tls_port(TestTarget *tt, NvmetPortTls tls);
void tt_admit_only(TestTarget *tt, const char *hostnqn);
void tt_advance(TestTarget *tt, int64_t ms);
bool tt_trace_has(TestTarget *tt, const char *needle);
void tt_trace_clear(TestTarget *tt);
/*
 * Events as one line each: "TYPE [peer=P] [cntlid=C qid=Q] key=value...".
 * tt_events_expect() checks the events since the last call (or
 * tt_events_clear()) against glob patterns (g_pattern_match_simple, a
 * NULL-terminated list), in order and all of them; "auth-step" events
 * are left out unless @with_steps.
 */
char *tt_event_str(const NvmetEvent *ev);
void tt_events_clear(TestTarget *tt);
void tt_events_expect(TestTarget *tt, int with_steps, ...)
    G_GNUC_NULL_TERMINATED;
/* The captured cleartext of @q (NULL: nothing captured). */
TestCapture *tt_capture(TestTarget *tt, NvmetQueue *q);
/*
 * Namespaces made here are released by tt_free(); remove one earlier with
 * tt_remove_ns() (not nvmet_ns_free(), which would release it twice).
 */
NvmetNs *tt_add_ns(TestTarget *tt, NvmetSubsys *s, uint32_t nsid,
                   RamDisk *disk, uint64_t size, uint32_t bs);
void tt_remove_ns(TestTarget *tt, NvmetNs *ns);

TestConn *tc_new(TestTarget *tt);
/* A connection to another port of the target */
TestConn *tc_new_on(TestTarget *tt, NvmetPort *port);
/*
 * TLS handshake as the host with a PSK; afterwards the connection's host
 * talks through the session.  0 or -1 (nvmf_tls_error(tc->tls) says why).
 */
int tc_start_tls(TestConn *tc, const char *identity, const uint8_t *key,
                 size_t len, uint8_t hash);
void tc_free(TestConn *tc);
/*
 * The receive side of a connection's transport for the test host: what
 * the engine sent, with I/O and output serviced as needed (TestConn *).
 */
ssize_t nvmet_test_recv(void *opaque, void *buf, size_t len);
/* Complete I/O held back with hold_io. */
void tc_complete_held(TestConn *tc);
/* ICReq + admin Connect + enable; asserts success. */
void tc_admin(TestConn *tc, const char *subnqn, const char *hostnqn,
              bool hdgst, bool ddgst);
/* ICReq + I/O queue Connect for an existing controller; asserts success. */
void tc_io(TestConn *tc, uint16_t qid, uint16_t cntlid, const char *subnqn,
           const char *hostnqn, bool hdgst, bool ddgst);
/* Send raw bytes and expect a C2HTermReq with @fes; then EOF. */
void tc_expect_term(TestConn *tc, const void *buf, size_t len, uint16_t fes);

extern const uint8_t test_hostid[16];

/*
 * Known-answer vector files, tests/vectors/NAME: records of "field = value"
 * lines separated by blank lines ('#' starts a comment line), found with
 * g_test_build_filename(G_TEST_DIST, ...): meson test sets G_TEST_SRCDIR
 * to tests/unit.  Failures to read them fail the test.
 */
typedef GHashTable TestVec;             /* one record: field -> value */

char *tv_path(const char *name);
GPtrArray *tv_load(const char *name);  /* of TestVec *; g_ptr_array_unref */
const char *tv_opt(TestVec *rec, const char *field);   /* NULL: absent */
const char *tv_str(TestVec *rec, const char *field);
unsigned long tv_num(TestVec *rec, const char *field); /* decimal */
bool tv_is(TestVec *rec, const char *type);            /* "type" field */
/* A hex field as bytes: a new buffer, or copied into @out (at most @max) */
uint8_t *tv_hex_dup(TestVec *rec, const char *field, size_t *len);
size_t tv_hex(TestVec *rec, const char *field, uint8_t *out, size_t max);
void tv_assert_hex(TestVec *rec, const char *field, const uint8_t *got,
                   size_t len);

#endif
