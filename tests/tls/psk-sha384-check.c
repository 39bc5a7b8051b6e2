/*
 * Self-check for the private GnuTLS built by scripts/build-gnutls.sh: run
 * TLS 1.3 external-PSK handshakes between a client and a server in one process
 * (two threads over a socketpair) and check the negotiated cipher suite.
 *
 *   1. 48-byte SHA-384 PSK, server credentials for SHA-384,
 *      only TLS_AES_256_GCM_SHA384 allowed       -> TLS_AES_256_GCM_SHA384
 *   2. 32-byte SHA-256 PSK, server credentials for SHA-256,
 *      only TLS_AES_128_GCM_SHA256 allowed       -> TLS_AES_128_GCM_SHA256
 *   3./4. the same two PSKs against one server credential allocated with
 *      GNUTLS_MAC_UNKNOWN (server tries SHA-384, then SHA-256), with both
 *      suites offered: the suite must follow the PSK's hash.
 *   5. negative: SHA-384 PSK on the client, SHA-256 credentials on the
 *      server -> the handshake must fail.
 *
 * Each case is run in PSK (psk_ke) and DHE-PSK (psk_dhe_ke) mode.  After the
 * handshake one record is sent each way.  The server looks its key up via
 * gnutls_psk_set_server_credentials_function3 (key + gnutls_psk_key_flags);
 * the hash of a PSK is a property of the credentials object
 * (gnutls_psk_allocate_server_credentials2), not of the callback.
 *
 * Exit status 0 when every case behaves as expected.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <gnutls/gnutls.h>

#define MIN_VERSION "3.8.11"

/* Distinct identities so that the server callback can tell the keys apart. */
static const char ID384[] = "NVMe1R02 nqn.2014-08.org.nvmexpress:uuid:host "
                            "nqn.2014-08.org.nvmexpress:uuid:subsys sha384";
static const char ID256[] = "NVMe1R01 nqn.2014-08.org.nvmexpress:uuid:host "
                            "nqn.2014-08.org.nvmexpress:uuid:subsys sha256";
static unsigned char key384[48];
static unsigned char key256[32];

/* Both TLS 1.3 suites; each case narrows the cipher list. */
#define PRIO_BASE "NONE:+VERS-TLS1.3:+AEAD:+SHA384:+SHA256:+GROUP-ALL:" \
                  "+SIGN-ALL:+COMP-NULL"

struct tcase {
    const char *name;
    gnutls_mac_algorithm_t client_mac;  /* hash of the client's PSK */
    gnutls_mac_algorithm_t server_mac;  /* server credentials' hash */
    const char *ciphers;                /* "+AES-256-GCM" ... */
    const char *kx;                     /* "+PSK" or "+DHE-PSK" */
    const char *expect;                 /* suite name, NULL = must fail */
};

struct side {
    gnutls_session_t s;
    int fd;
    int ret;            /* handshake result */
    int io_ret;         /* record exchange result */
    const char *who;
};

static int server_key_cb(gnutls_session_t session,
                         const gnutls_datum_t *username, gnutls_datum_t *key,
                         gnutls_psk_key_flags *flags)
{
    const unsigned char *k;
    size_t len;

    (void)session;
    if (username->size == sizeof(ID384) - 1 &&
        !memcmp(username->data, ID384, username->size)) {
        k = key384;
        len = sizeof(key384);
    } else if (username->size == sizeof(ID256) - 1 &&
               !memcmp(username->data, ID256, username->size)) {
        k = key256;
        len = sizeof(key256);
    } else {
        return -1;
    }
    key->data = gnutls_malloc(len);
    if (!key->data) {
        return -1;
    }
    memcpy(key->data, k, len);
    key->size = len;
    *flags = GNUTLS_PSK_KEY_RAW;
    return 0;
}

static void *run_side(void *opaque)
{
    struct side *sd = opaque;
    char buf[64];
    ssize_t n;
    int ret;

    do {
        ret = gnutls_handshake(sd->s);
    } while (ret < 0 && !gnutls_error_is_fatal(ret));
    sd->ret = ret;
    if (ret < 0) {
        /* Wake the peer up if it still waits for us. */
        shutdown(sd->fd, SHUT_RDWR);
        return NULL;
    }

    /* One application record each way: the client speaks first. */
    if (!strcmp(sd->who, "client")) {
        n = gnutls_record_send(sd->s, "ping", 4);
        if (n == 4) {
            n = gnutls_record_recv(sd->s, buf, sizeof(buf));
            n = (n == 4 && !memcmp(buf, "pong", 4)) ? 0 : -1;
        }
    } else {
        n = gnutls_record_recv(sd->s, buf, sizeof(buf));
        if (n == 4 && !memcmp(buf, "ping", 4)) {
            n = gnutls_record_send(sd->s, "pong", 4) == 4 ? 0 : -1;
        } else {
            n = -1;
        }
    }
    sd->io_ret = (int)n;
    return NULL;
}

static int set_prio(gnutls_session_t s, const struct tcase *tc)
{
    char prio[256];
    const char *err = NULL;
    int ret;

    snprintf(prio, sizeof(prio), "%s:%s:%s", PRIO_BASE, tc->ciphers, tc->kx);
    ret = gnutls_priority_set_direct(s, prio, &err);
    if (ret < 0) {
        fprintf(stderr, "priority \"%s\" rejected at \"%s\": %s\n", prio,
                err ? err : "?", gnutls_strerror(ret));
    }
    return ret;
}

static int run_case(const struct tcase *tc)
{
    gnutls_psk_server_credentials_t scred = NULL;
    gnutls_psk_client_credentials_t ccred = NULL;
    struct side srv = { .who = "server" }, cli = { .who = "client" };
    pthread_t ts, tcl;
    gnutls_datum_t key, user;
    int sv[2];
    int ok = 0, ret;
    char *suite = NULL;

    if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv) < 0) {
        perror("socketpair");
        return 0;
    }
    srv.fd = sv[0];
    cli.fd = sv[1];

    ret = gnutls_psk_allocate_server_credentials2(&scred, tc->server_mac);
    if (ret < 0) {
        fprintf(stderr, "%s: server credentials: %s\n", tc->name,
                gnutls_strerror(ret));
        goto out;
    }
    gnutls_psk_set_server_credentials_function3(scred, server_key_cb);

    ret = gnutls_psk_allocate_client_credentials2(&ccred, tc->client_mac);
    if (ret < 0) {
        fprintf(stderr, "%s: client credentials: %s\n", tc->name,
                gnutls_strerror(ret));
        goto out;
    }
    if (tc->client_mac == GNUTLS_MAC_SHA384) {
        user.data = (unsigned char *)ID384;
        user.size = sizeof(ID384) - 1;
        key.data = key384;
        key.size = sizeof(key384);
    } else {
        user.data = (unsigned char *)ID256;
        user.size = sizeof(ID256) - 1;
        key.data = key256;
        key.size = sizeof(key256);
    }
    ret = gnutls_psk_set_client_credentials2(ccred, &user, &key,
                                             GNUTLS_PSK_KEY_RAW);
    if (ret < 0) {
        fprintf(stderr, "%s: client key: %s\n", tc->name, gnutls_strerror(ret));
        goto out;
    }

    if (gnutls_init(&srv.s, GNUTLS_SERVER) < 0 ||
        gnutls_init(&cli.s, GNUTLS_CLIENT) < 0) {
        fprintf(stderr, "%s: gnutls_init failed\n", tc->name);
        goto out;
    }
    if (set_prio(srv.s, tc) < 0 || set_prio(cli.s, tc) < 0) {
        goto out;
    }
    if (gnutls_credentials_set(srv.s, GNUTLS_CRD_PSK, scred) < 0 ||
        gnutls_credentials_set(cli.s, GNUTLS_CRD_PSK, ccred) < 0) {
        fprintf(stderr, "%s: gnutls_credentials_set failed\n", tc->name);
        goto out;
    }
    gnutls_transport_set_int(srv.s, srv.fd);
    gnutls_transport_set_int(cli.s, cli.fd);
    gnutls_handshake_set_timeout(srv.s, 10000);
    gnutls_handshake_set_timeout(cli.s, 10000);

    if (pthread_create(&ts, NULL, run_side, &srv) ||
        pthread_create(&tcl, NULL, run_side, &cli)) {
        fprintf(stderr, "%s: pthread_create failed\n", tc->name);
        exit(2);
    }
    pthread_join(ts, NULL);
    pthread_join(tcl, NULL);

    if (!tc->expect) {
        ok = srv.ret < 0 || cli.ret < 0;
        printf("%-34s %s (server: %s; client: %s)\n", tc->name,
               ok ? "refused as expected" : "UNEXPECTEDLY SUCCEEDED",
               srv.ret < 0 ? gnutls_strerror(srv.ret) : "ok",
               cli.ret < 0 ? gnutls_strerror(cli.ret) : "ok");
        goto out;
    }
    if (srv.ret < 0 || cli.ret < 0) {
        printf("%-34s FAILED (server: %s; client: %s)\n", tc->name,
               srv.ret < 0 ? gnutls_strerror(srv.ret) : "ok",
               cli.ret < 0 ? gnutls_strerror(cli.ret) : "ok");
        goto out;
    }

    {
        const char *s_suite = gnutls_ciphersuite_get(srv.s);
        const char *c_suite = gnutls_ciphersuite_get(cli.s);
        gnutls_datum_t who = { NULL, 0 };

        gnutls_psk_server_get_username2(srv.s, &who);
        suite = strdup(c_suite ? c_suite : "?");
        ok = s_suite && c_suite && !strcmp(s_suite, c_suite) &&
             !strcmp(c_suite, tc->expect) &&
             gnutls_protocol_get_version(cli.s) == GNUTLS_TLS1_3 &&
             gnutls_auth_get_type(srv.s) == GNUTLS_CRD_PSK &&
             srv.io_ret == 0 && cli.io_ret == 0 &&
             who.size == user.size && !memcmp(who.data, user.data, who.size);
        printf("%-34s %s %s, kx %s, prf %s, psk %u bytes%s\n", tc->name,
               ok ? "ok" : "WRONG",
               suite, gnutls_kx_get_name(gnutls_kx_get(cli.s)),
               gnutls_mac_get_name((gnutls_mac_algorithm_t)
                                   gnutls_prf_hash_get(cli.s)),
               key.size, ok ? "" : " (mismatch or record I/O failed)");
        if (!ok) {
            printf("    expected %s; server says %s; io %d/%d\n", tc->expect,
                   s_suite ? s_suite : "?", srv.io_ret, cli.io_ret);
        }
    }

out:
    free(suite);
    if (srv.s) {
        gnutls_deinit(srv.s);
    }
    if (cli.s) {
        gnutls_deinit(cli.s);
    }
    if (scred) {
        gnutls_psk_free_server_credentials(scred);
    }
    if (ccred) {
        gnutls_psk_free_client_credentials(ccred);
    }
    close(sv[0]);
    close(sv[1]);
    return ok;
}

int main(void)
{
    static const char *const kx_modes[] = { "+PSK", "+DHE-PSK" };
    static const struct tcase cases[] = {
        { "sha384 psk, sha384 server", GNUTLS_MAC_SHA384, GNUTLS_MAC_SHA384,
          "+AES-256-GCM", NULL, "TLS_AES_256_GCM_SHA384" },
        { "sha256 psk, sha256 server", GNUTLS_MAC_SHA256, GNUTLS_MAC_SHA256,
          "+AES-128-GCM", NULL, "TLS_AES_128_GCM_SHA256" },
        { "sha384 psk, auto server", GNUTLS_MAC_SHA384, GNUTLS_MAC_UNKNOWN,
          "+AES-256-GCM:+AES-128-GCM", NULL, "TLS_AES_256_GCM_SHA384" },
        { "sha256 psk, auto server", GNUTLS_MAC_SHA256, GNUTLS_MAC_UNKNOWN,
          "+AES-256-GCM:+AES-128-GCM", NULL, "TLS_AES_128_GCM_SHA256" },
        { "sha384 psk, sha256 server", GNUTLS_MAC_SHA384, GNUTLS_MAC_SHA256,
          "+AES-256-GCM", NULL, NULL },
    };
    unsigned i, m, passed = 0, failed = 0;
    int ret;

    if (!gnutls_check_version(MIN_VERSION)) {
        fprintf(stderr, "libgnutls %s loaded at run time; need >= %s "
                "(headers: %s)\n", gnutls_check_version(NULL), MIN_VERSION,
                GNUTLS_VERSION);
        return 1;
    }
    printf("libgnutls %s (headers %s)\n", gnutls_check_version(NULL),
           GNUTLS_VERSION);
    ret = gnutls_global_init();
    if (ret < 0) {
        fprintf(stderr, "gnutls_global_init: %s\n", gnutls_strerror(ret));
        return 1;
    }
    if (getenv("PSK_CHECK_DEBUG")) {
        gnutls_global_set_log_level(atoi(getenv("PSK_CHECK_DEBUG")));
    }

    /* Fixed, distinct keys (this is a self-test, not key material). */
    for (i = 0; i < sizeof(key384); i++) {
        key384[i] = (unsigned char)(0xa0 + i);
    }
    for (i = 0; i < sizeof(key256); i++) {
        key256[i] = (unsigned char)(0x10 + 3 * i);
    }

    for (m = 0; m < 2; m++) {
        for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
            struct tcase tc = cases[i];
            char name[64];

            snprintf(name, sizeof(name), "%s [%s]", tc.name, kx_modes[m] + 1);
            tc.name = name;
            tc.kx = kx_modes[m];
            if (run_case(&tc)) {
                passed++;
            } else {
                failed++;
            }
        }
    }
    gnutls_global_deinit();
    printf("%u passed, %u failed\n", passed, failed);
    return failed ? 1 : 0;
}
