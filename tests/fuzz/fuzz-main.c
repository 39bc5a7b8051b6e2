/*
 * Standalone driver for the NVMe-oF TCP target fuzzing harness, for builds
 * without libFuzzer (gcc, or CI under ASan/UBSan).
 *
 *   fuzz-nvmet FILE|DIR...                  replay inputs
 *   fuzz-nvmet --random N --seed S DIR...   also run N generated inputs:
 *                                            random bytes, mutated corpus
 *                                            files, spliced PDU templates
 *   fuzz-nvmet --tls --random N ...         generated inputs on TLS
 *                                            sessions: mutated tls-* files,
 *                                            templates after a handshake
 *
 * Input I of seed S depends on nothing but S, I, --max-len, --tls and the
 * corpus, so a crash can be reproduced with --write-input I FILE.  On a
 * crash the input is also saved as fuzz-crash-S-I in the --crash-dir
 * directory, by default the one holding this executable (the build
 * directory, never the source tree).
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <unistd.h>
#include <glib.h>

#include "fuzz-nvmet.h"
#include "fuzz-templates.h"

#define DEFAULT_MAX_LEN 4096

typedef struct Corpus {
    GPtrArray *files;           /* GBytes */
    GPtrArray *names;
    GArray *pick;               /* indices of the files to mutate */
    bool tls;                   /* --tls */
} Corpus;

/* The input being run, for the crash handlers. */
static const uint8_t *cur_data;
static size_t cur_len;
static char crash_name[PATH_MAX];
static const char *crash_dir;

static void save_crash(void)
{
    int fd;

    if (!cur_data || !crash_name[0]) {
        return;
    }
    fd = open(crash_name, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (fd >= 0) {
        ssize_t r = write(fd, cur_data, cur_len);

        (void)r;
        close(fd);
        r = write(2, "fuzz-nvmet: crashing input saved as ", 36);
        r = write(2, crash_name, strlen(crash_name));
        r = write(2, "\n", 1);
    } else {
        ssize_t r = write(2, "fuzz-nvmet: cannot save the input as ", 37);

        r = write(2, crash_name, strlen(crash_name));
        r = write(2, "\n", 1);
        (void)r;
    }
    cur_data = NULL;
}

static void crash_signal(int sig)
{
    save_crash();
    signal(sig, SIG_DFL);
    raise(sig);
}

static void hang_signal(int sig)
{
    ssize_t r = sig == SIGPROF ?
        write(2, "fuzz-nvmet: input timed out (hang?)\n", 36) :
        write(2, "fuzz-nvmet: input stalled (no progress?)\n", 41);

    (void)r;
    crash_signal(SIGABRT);
}

/* Sanitizer runtimes call this before exiting on an error. */
extern void __sanitizer_set_death_callback(void (*cb)(void))
    __attribute__((weak));

/*
 * UBSan only prints a report and carries on unless told otherwise (meson
 * test sets UBSAN_OPTIONS, a plain run does not): stop at the first one, so
 * that the run fails.  Abort rather than exit, since with gcc the UBSan
 * runtime is not the ASan one and ignores the death callback; the SIGABRT
 * handler saves the input.  UBSAN_OPTIONS still overrides this.
 */
const char *__ubsan_default_options(void);
const char *__ubsan_default_options(void)
{
    return "halt_on_error=1:abort_on_error=1:print_stacktrace=1";
}

/*
 * Leaks: LeakSanitizer looks only at exit, which says that something leaked
 * but not which input did it.  As libFuzzer does, count allocations and
 * frees during each input, and when they differ (the harness frees all it
 * built, so they rarely do) ask LeakSanitizer right away.
 */
extern int __sanitizer_install_malloc_and_free_hooks(
    void (*malloc_hook)(const volatile void *, size_t),
    void (*free_hook)(const volatile void *)) __attribute__((weak));
extern int __lsan_do_recoverable_leak_check(void) __attribute__((weak));

static uint64_t nr_mallocs, nr_frees;

static void count_malloc(const volatile void *p, size_t size)
{
    __atomic_fetch_add(&nr_mallocs, 1, __ATOMIC_RELAXED);
}

static void count_free(const volatile void *p)
{
    __atomic_fetch_add(&nr_frees, 1, __ATOMIC_RELAXED);
}

static bool leak_checks;
static uint64_t nr_leak_checks;

/* Did the input that started at @mallocs / @frees leak? */
static bool input_leaked(uint64_t mallocs, uint64_t frees)
{
    if (!leak_checks ||
        __atomic_load_n(&nr_mallocs, __ATOMIC_RELAXED) - mallocs ==
        __atomic_load_n(&nr_frees, __ATOMIC_RELAXED) - frees) {
        return false;
    }
    nr_leak_checks++;
    return __lsan_do_recoverable_leak_check() != 0;
}

/*
 * The time an input may take: --timeout seconds of CPU time (SIGPROF), so
 * that a loaded machine does not turn a slow input into a "hang" while a
 * loop still is one, and ten times that in real time (SIGALRM) for an
 * input that waits on something without using the CPU.
 */
static unsigned input_timeout = 10;
#define STALL_FACTOR 10

static void arm_input_timer(unsigned secs)
{
    struct itimerval cpu = { .it_value = { .tv_sec = secs } };

    setitimer(ITIMER_PROF, &cpu, NULL);
    alarm(secs * STALL_FACTOR);
}

static void run_one(const uint8_t *data, size_t len, const char *name)
{
    uint64_t m, f;

    cur_data = data;
    cur_len = len;
    snprintf(crash_name, sizeof(crash_name), "%s/%s", crash_dir, name);
    m = __atomic_load_n(&nr_mallocs, __ATOMIC_RELAXED);
    f = __atomic_load_n(&nr_frees, __ATOMIC_RELAXED);
    arm_input_timer(input_timeout);
    LLVMFuzzerTestOneInput(data, len);
    arm_input_timer(0);
    if (input_leaked(m, f)) {
        fprintf(stderr, "fuzz-nvmet: the input leaked memory\n");
        save_crash();
        fflush(NULL);
        _exit(1);               /* not exit(): the report is out already */
    }
    cur_data = NULL;
}

static void corpus_add_file(Corpus *c, const char *path)
{
    g_autofree char *buf = NULL;
    gsize len;
    GError *err = NULL;

    if (!g_file_get_contents(path, &buf, &len, &err)) {
        fprintf(stderr, "fuzz-nvmet: %s\n", err->message);
        exit(2);
    }
    g_ptr_array_add(c->files, g_bytes_new_take(g_steal_pointer(&buf), len));
    g_ptr_array_add(c->names, g_strdup(path));
}

static gint cmp_str(gconstpointer a, gconstpointer b)
{
    return strcmp(*(char **)a, *(char **)b);
}

static void corpus_add(Corpus *c, const char *path)
{
    GDir *dir;
    const char *name;
    GPtrArray *list;

    if (!g_file_test(path, G_FILE_TEST_IS_DIR)) {
        corpus_add_file(c, path);
        return;
    }
    dir = g_dir_open(path, 0, NULL);
    if (!dir) {
        fprintf(stderr, "fuzz-nvmet: cannot open %s\n", path);
        exit(2);
    }
    list = g_ptr_array_new_with_free_func(g_free);
    while ((name = g_dir_read_name(dir))) {
        g_autofree char *full = g_build_filename(path, name, NULL);

        if (name[0] != '.' && g_file_test(full, G_FILE_TEST_IS_REGULAR) &&
            !g_str_has_suffix(name, ".md")) {
            g_ptr_array_add(list, g_steal_pointer(&full));
        }
    }
    g_dir_close(dir);
    g_ptr_array_sort(list, cmp_str);
    for (unsigned i = 0; i < list->len; i++) {
        corpus_add_file(c, g_ptr_array_index(list, i));
    }
    g_ptr_array_free(list, true);
}

/* ---- the mutator --------------------------------------------------------------- */

static void ba_insert(GByteArray *b, size_t pos, const uint8_t *p, size_t n)
{
    g_array_insert_vals((GArray *)b, pos, p, n);
}

static uint32_t rnd(uint64_t *rng, uint32_t n)
{
    return n ? fuzz_rand(rng) % n : 0;
}

static const uint8_t *corpus_pick(Corpus *c, uint64_t *rng, size_t *len)
{
    guint i = g_array_index(c->pick, guint, rnd(rng, c->pick->len));

    return g_bytes_get_data(g_ptr_array_index(c->files, i), len);
}

/*
 * Generated inputs mutate the tls-* corpus files with --tls, the others
 * without (TLS inputs are several times slower, and get a run of their
 * own); all of them are replayed.
 */
static void corpus_select(Corpus *c)
{
    c->pick = g_array_new(false, false, sizeof(guint));
    for (guint i = 0; i < c->files->len; i++) {
        g_autofree char *base = g_path_get_basename(
            g_ptr_array_index(c->names, i));

        if (g_str_has_prefix(base, "tls-") == c->tls) {
            g_array_append_val(c->pick, i);
        }
    }
}

/* One snippet: with --tls, a third of them work on the TLS layer. */
static void tpl_random(Corpus *c, GByteArray *b, uint64_t *rng)
{
    if (c->tls && rnd(rng, 3) == 0) {
        fuzz_tpl_tls_random(b, rng);
    } else {
        fuzz_tpl_random(b, rng);
    }
}

static void mutate(GByteArray *b, uint64_t *rng, Corpus *c)
{
    static const uint8_t bytes[] = { 0, 1, 0x40, 0x5a, 0x7f, 0x80, 0xfe, 0xff };
    static const uint32_t words[] = {
        0, 1, 4, 24, 72, 128, 1024, 4096, 8192, 0x7fff, 0xffff, 0x10000,
        0x7fffffff, 0x80000000, 0xffffffff, 0x00460001,
    };
    unsigned n = 1 + rnd(rng, 8);

    for (unsigned i = 0; i < n; i++) {
        size_t pos = rnd(rng, b->len);
        uint32_t w;

        if (!b->len) {
            g_byte_array_append(b, (const uint8_t[]){ 0 }, 1);
            continue;
        }
        switch (rnd(rng, 10)) {
        case 0:
            b->data[pos] ^= 1u << rnd(rng, 8);
            break;
        case 1:
            b->data[pos] = fuzz_rand(rng);
            break;
        case 2:
            b->data[pos] = bytes[rnd(rng, sizeof(bytes))];
            break;
        case 3: {
            uint8_t ins[16];
            unsigned k = 1 + rnd(rng, sizeof(ins));

            for (unsigned j = 0; j < k; j++) {
                ins[j] = fuzz_rand(rng);
            }
            ba_insert(b, pos, ins, k);
            break;
        }
        case 4:
            if (b->len > 1) {
                size_t k = 1 + rnd(rng, 16);

                g_byte_array_remove_range(b, pos, MIN(k, b->len - pos));
            }
            break;
        case 5: {
            size_t from = rnd(rng, b->len);
            size_t k = 1 + rnd(rng, 64);
            g_autofree uint8_t *tmp = NULL;

            k = MIN(k, b->len - from);
            tmp = g_malloc(k);
            memcpy(tmp, b->data + from, k);
            ba_insert(b, pos, tmp, k);
            break;
        }
        case 6:
            w = words[rnd(rng, G_N_ELEMENTS(words))];
            for (unsigned j = 0; j < 4 && pos + j < b->len; j++) {
                b->data[pos + j] = w >> (8 * j);
            }
            break;
        case 7: {
            GByteArray *t = g_byte_array_new();

            tpl_random(c, t, rng);
            ba_insert(b, pos, t->data, t->len);
            g_byte_array_free(t, true);
            break;
        }
        case 8:
            if (c->pick->len) {
                size_t len;
                const uint8_t *p = corpus_pick(c, rng, &len);
                size_t from = rnd(rng, len);

                g_byte_array_set_size(b, pos);
                g_byte_array_append(b, p + from, len - from);
            }
            break;
        case 9:
            g_byte_array_set_size(b, MAX(pos, 1));
            break;
        }
    }
}

/* Input @idx of @seed. */
static GByteArray *generate(uint64_t seed, uint64_t idx, Corpus *c,
                            size_t max_len)
{
    uint64_t rng = seed * 0x2545f4914f6cdd1dull + idx;
    GByteArray *b = g_byte_array_new();
    uint32_t how;
    size_t len;
    const uint8_t *p;

    fuzz_rand(&rng);
    how = rnd(&rng, 10);
    if (!c->pick->len && how >= 1 && how <= 4) {
        how = 5;
    }
    if (how == 0) {
        /* random bytes (with --tls after a TLS session) */
        if (c->tls) {
            uint8_t cfg = fuzz_rand(&rng);

            g_byte_array_append(b, &cfg, 1);
            fuzz_tpl_tls_start(b, &rng);
        }
        len = 1 + rnd(&rng, 300);
        for (size_t i = 0; i < len; i++) {
            uint8_t v = fuzz_rand(&rng);

            g_byte_array_append(b, &v, 1);
        }
    } else if (how <= 4) {
        /* a mutated corpus file */
        p = corpus_pick(c, &rng, &len);
        g_byte_array_append(b, p, len);
        mutate(b, &rng, c);
    } else if (how <= 7) {
        /* a session made of templates */
        uint8_t cfg = fuzz_rand(&rng);
        unsigned k = 1 + rnd(&rng, 24);

        g_byte_array_append(b, &cfg, 1);
        if (c->tls) {
            fuzz_tpl_tls_start(b, &rng);
        }
        for (unsigned i = 0; i < k; i++) {
            tpl_random(c, b, &rng);
        }
        if (rnd(&rng, 2)) {
            mutate(b, &rng, c);
        }
    } else {
        /* a corpus prefix, templates, and maybe random mutations */
        unsigned k = 1 + rnd(&rng, 8);

        if (c->pick->len) {
            p = corpus_pick(c, &rng, &len);
            size_t cut = rnd(&rng, len + 1);

            g_byte_array_append(b, p, MAX(1, cut));
        } else {
            uint8_t cfg = fuzz_rand(&rng);

            g_byte_array_append(b, &cfg, 1);
            if (c->tls) {
                fuzz_tpl_tls_start(b, &rng);
            }
        }
        for (unsigned i = 0; i < k; i++) {
            tpl_random(c, b, &rng);
        }
        if (rnd(&rng, 3) == 0) {
            mutate(b, &rng, c);
        }
    }
    if (b->len > max_len) {
        g_byte_array_set_size(b, max_len);
    }
    return b;
}

/* ---- main ------------------------------------------------------------------------ */

static void usage(void)
{
    fprintf(stderr,
            "usage: fuzz-nvmet [--random N] [--seed S] [--time SECONDS]\n"
            "                  [--tls] [--max-len BYTES] [--timeout SECONDS]\n"
            "                  [--write-input I FILE] [--crash-dir DIR]\n"
            "                  [-v] [FILE|DIR]...\n"
            "Replays FILEs and the files in DIRs through the harness; with\n"
            "--random also runs N generated inputs (mutating those files),\n"
            "stopping early after --time SECONDS; with --tls, inputs on TLS\n"
            "sessions.  An input using more than --timeout SECONDS of CPU\n"
            "time (default 10, 0: none), or ten times that in real time,\n"
            "counts as a hang.\n"
            "A failing input is saved in --crash-dir (default: the directory\n"
            "of this executable).\n");
    exit(2);
}

int main(int argc, char **argv)
{
    Corpus corpus = {
        g_ptr_array_new_with_free_func((GDestroyNotify)g_bytes_unref),
        g_ptr_array_new_with_free_func(g_free),
    };
    uint64_t nrandom = 0, seed = 1, write_idx = 0;
    const char *write_file = NULL;
    g_autofree char *exe_dir = NULL;
    double time_limit = 0;
    size_t max_len = DEFAULT_MAX_LEN;
    bool verbose = false;
    uint64_t ran = 0, bytes = 0;
    gint64 start;
    double secs;

    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];

        if (!strcmp(a, "--random") && i + 1 < argc) {
            nrandom = g_ascii_strtoull(argv[++i], NULL, 0);
        } else if (!strcmp(a, "--seed") && i + 1 < argc) {
            seed = g_ascii_strtoull(argv[++i], NULL, 0);
        } else if (!strcmp(a, "--time") && i + 1 < argc) {
            time_limit = g_ascii_strtod(argv[++i], NULL);
        } else if (!strcmp(a, "--timeout") && i + 1 < argc) {
            input_timeout = g_ascii_strtoull(argv[++i], NULL, 0);
        } else if (!strcmp(a, "--max-len") && i + 1 < argc) {
            /* not inside MAX(), which evaluates its arguments twice */
            max_len = g_ascii_strtoull(argv[++i], NULL, 0);
            max_len = MAX(max_len, 1);
        } else if (!strcmp(a, "--write-input") && i + 2 < argc) {
            write_idx = g_ascii_strtoull(argv[++i], NULL, 0);
            write_file = argv[++i];
        } else if (!strcmp(a, "--crash-dir") && i + 1 < argc) {
            crash_dir = argv[++i];
        } else if (!strcmp(a, "--tls")) {
            corpus.tls = true;
        } else if (!strcmp(a, "-v")) {
            verbose = true;
        } else if (a[0] == '-') {
            usage();
        } else {
            corpus_add(&corpus, a);
        }
    }
    corpus_select(&corpus);

    if (write_file) {
        GByteArray *b = generate(seed, write_idx, &corpus, max_len);
        GError *err = NULL;

        bool ok = g_file_set_contents(write_file, (char *)b->data, b->len,
                                      &err);

        if (!ok) {
            fprintf(stderr, "fuzz-nvmet: %s\n", err->message);
            g_error_free(err);
        }
        g_byte_array_free(b, true);
        g_ptr_array_free(corpus.files, true);
        g_ptr_array_free(corpus.names, true);
        g_array_free(corpus.pick, true);
        return ok ? 0 : 2;
    }

    if (!crash_dir) {
        /* next to the executable, in the build directory */
        g_autofree char *exe = g_file_read_link("/proc/self/exe", NULL);

        crash_dir = exe_dir = g_path_get_dirname(exe ? exe : argv[0]);
    }
    if (g_mkdir_with_parents(crash_dir, 0755) < 0) {
        fprintf(stderr, "fuzz-nvmet: cannot create %s: %s\n", crash_dir,
                g_strerror(errno));
        return 2;
    }

    signal(SIGABRT, crash_signal);
    signal(SIGSEGV, crash_signal);
    signal(SIGBUS, crash_signal);
    signal(SIGFPE, crash_signal);
    signal(SIGILL, crash_signal);
    signal(SIGPROF, hang_signal);
    signal(SIGALRM, hang_signal);
    if (__sanitizer_set_death_callback) {
        __sanitizer_set_death_callback(save_crash);
    }
    if (__sanitizer_install_malloc_and_free_hooks &&
        __lsan_do_recoverable_leak_check) {
        leak_checks = __sanitizer_install_malloc_and_free_hooks(count_malloc,
                                                                count_free);
    }

    LLVMFuzzerInitialize(&argc, &argv);
    start = g_get_monotonic_time();
    for (unsigned i = 0; i < corpus.files->len; i++) {
        size_t len;
        const uint8_t *p = g_bytes_get_data(g_ptr_array_index(corpus.files, i),
                                            &len);
        g_autofree char *name = g_strdup_printf(
            "fuzz-crash-replay-%s",
            strrchr(g_ptr_array_index(corpus.names, i), '/') ?
            strrchr(g_ptr_array_index(corpus.names, i), '/') + 1 :
            (char *)g_ptr_array_index(corpus.names, i));

        if (verbose) {
            printf("replay %s (%zu bytes)\n",
                   (char *)g_ptr_array_index(corpus.names, i), len);
        }
        run_one(p, len, name);
        ran++;
        bytes += len;
    }
    for (uint64_t i = 0; i < nrandom; i++) {
        GByteArray *b = generate(seed, i, &corpus, max_len);
        char name[64];

        snprintf(name, sizeof(name), "fuzz-crash-%" PRIu64 "-%" PRIu64,
                 seed, i);
        run_one(b->data, b->len, name);
        ran++;
        bytes += b->len;
        g_byte_array_free(b, true);
        if (verbose && (i + 1) % 10000 == 0) {
            printf("%" PRIu64 " inputs, %.1f s\n", i + 1,
                   (g_get_monotonic_time() - start) / 1e6);
            fflush(stdout);
        }
        if (time_limit > 0 && (i & 63) == 63 &&
            (g_get_monotonic_time() - start) / 1e6 >= time_limit) {
            nrandom = i + 1;
            break;
        }
    }
    secs = (g_get_monotonic_time() - start) / 1e6;
    printf("fuzz-nvmet: %" PRIu64 " inputs (%u files, %" PRIu64
           " random%s, seed %" PRIu64 "), %" PRIu64 " bytes in %.2f s, "
           "%.0f exec/s: no failures\n",
           ran, corpus.files->len, nrandom, corpus.tls ? " TLS" : "", seed,
           bytes, secs, secs > 0 ? ran / secs : 0.0);
    if (verbose) {
        printf("fuzz-nvmet: %s, %" PRIu64 " per-input leak checks\n",
               leak_checks ? "LeakSanitizer" : "no LeakSanitizer",
               nr_leak_checks);
    }
    g_ptr_array_free(corpus.files, true);
    g_ptr_array_free(corpus.names, true);
    g_array_free(corpus.pick, true);
    return 0;
}
