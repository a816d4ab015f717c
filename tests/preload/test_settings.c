/* test_settings.c — POOLALLOC_* environment variables, read at start by
 * libpoolalloc.so preloaded into /bin/true: a malformed value gets one line
 * of warning naming the default it falls back to (the form README.md
 * documents), and the program runs on. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "pl_util.h"

#define TRUE_BIN "/bin/true"

/* Runs /bin/true with LD_PRELOAD=libpoolalloc.so and the given settings
 * (NULL-terminated list of "NAME=value"), and nothing else in its environment. */
static void run_true(const char *const settings[], pl_child_t *c)
{
    const char *lib = pl_library_path();
    cr_assert_not_null(lib, "libpoolalloc.so not found in /proc/self/maps");
    cr_assert_eq(lib[0], '/', "library path %s is not absolute", lib);
    cr_assert_eq(access(TRUE_BIN, X_OK), 0, TRUE_BIN " is missing");
    static char preload[4200];
    snprintf(preload, sizeof preload, "LD_PRELOAD=%s", lib);
    char *envp[16];
    size_t n = 0;
    envp[n++] = preload;
    for (size_t i = 0; settings[i] && n < 15; i++) envp[n++] = (char *)settings[i];
    envp[n] = NULL;
    char *argv[] = { TRUE_BIN, NULL };
    pl_run_exec(argv, envp, 10, c);
}

static void expect_line(const pl_child_t *c, const char *line)
{
    cr_assert_not_null(strstr(c->err, line), "stderr \"%s\" lacks \"%s\"", c->err, line);
}

Test(settings, malformed_values_warn_once_each_and_the_program_runs)
{
    static const char *const env[] = {
        "POOLALLOC_PURGE_DELAY=abc", "POOLALLOC_STATS=maybe", "POOLALLOC_SEGMENT_CACHE=-1", NULL,
    };
    pl_child_t c;
    run_true(env, &c);
    cr_assert(pl_exited_ok(&c), "/bin/true %s; stderr: %s", pl_describe(c.status), c.err);
    expect_line(&c, "poolalloc: POOLALLOC_PURGE_DELAY=abc is not a duration (e.g. 50ms, 2s); using 50ms\n");
    expect_line(&c, "poolalloc: POOLALLOC_STATS=maybe is not a boolean (0/1, yes/no, on/off); using 0\n");
    expect_line(&c, "poolalloc: POOLALLOC_SEGMENT_CACHE=-1 is not a count; using 4\n");
    cr_assert_eq(pl_count_lines(c.err), 3, "want exactly one line per bad variable, got: \"%s\"", c.err);
}

Test(settings, a_misspelt_setting_is_named_once)
{
    static const char *const env[] = { "POOLALLOC_STATZ=1", "POOLALLOC_VERBOSEX", "POOLALLOCSTATS=1", NULL };
    pl_child_t c;
    run_true(env, &c);
    cr_assert(pl_exited_ok(&c), "/bin/true %s; stderr: %s", pl_describe(c.status), c.err);
    expect_line(&c, "poolalloc: unknown setting POOLALLOC_STATZ ignored\n");
    expect_line(&c, "poolalloc: unknown setting POOLALLOC_VERBOSEX ignored\n");
    cr_assert_eq(pl_count_lines(c.err), 2, "want one line per unknown POOLALLOC_ name, got: \"%s\"", c.err);
}

Test(settings, more_malformed_values)
{
    static const char *const cases[] = {
        "POOLALLOC_PURGE_DELAY=", "POOLALLOC_PURGE_DELAY=5x", "POOLALLOC_PURGE_DELAY=10 ms",
        "POOLALLOC_PURGE_DELAY=-5ms", "POOLALLOC_PURGE_DELAY=1h", "POOLALLOC_PURGE_DELAY=99999999999999999999s",
        "POOLALLOC_PURGE_DELAY=18446744073709551615s", "POOLALLOC_SEGMENT_CACHE=", "POOLALLOC_SEGMENT_CACHE=4k",
        "POOLALLOC_SEGMENT_CACHE=1000001", "POOLALLOC_SEGMENT_CACHE=0x10", "POOLALLOC_STATS=",
        "POOLALLOC_STATS=2", "POOLALLOC_VERBOSE=sometimes",
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const char *const env[] = { cases[i], NULL };
        pl_child_t c;
        run_true(env, &c);
        cr_assert(pl_exited_ok(&c), "%s: /bin/true %s; stderr: %s", cases[i], pl_describe(c.status), c.err);
        char want[200];
        snprintf(want, sizeof want, "poolalloc: %s is not ", cases[i]);
        cr_assert(!strncmp(c.err, want, strlen(want)), "%s: stderr \"%s\" does not start with \"%s\"", cases[i], c.err, want);
        cr_assert_eq(pl_count_lines(c.err), 1, "%s: stderr \"%s\"", cases[i], c.err);
    }
}

Test(settings, wellformed_values_are_silent)
{
    static const char *const env[] = {
        "POOLALLOC_PURGE_DELAY=10ms", "POOLALLOC_STATS=off", "POOLALLOC_SEGMENT_CACHE=0", "POOLALLOC_VERBOSE=no", NULL,
    };
    pl_child_t c;
    run_true(env, &c);
    cr_assert(pl_exited_ok(&c), "/bin/true %s; stderr: %s", pl_describe(c.status), c.err);
    cr_assert_eq(c.errlen, 0, "stderr: \"%s\"", c.err);
    static const char *const more[] = {
        "POOLALLOC_PURGE_DELAY=0", "POOLALLOC_PURGE_DELAY=2s", "POOLALLOC_PURGE_DELAY=500us",
        "POOLALLOC_PURGE_DELAY=123456ns", "POOLALLOC_SEGMENT_CACHE=1000000", "POOLALLOC_STATS=FALSE",
        "POOLALLOC_STATS=No",
    };
    for (size_t i = 0; i < sizeof more / sizeof more[0]; i++) {
        const char *const e[] = { more[i], NULL };
        run_true(e, &c);
        cr_assert(pl_exited_ok(&c), "%s: %s", more[i], pl_describe(c.status));
        cr_assert_eq(c.errlen, 0, "%s: stderr \"%s\"", more[i], c.err);
    }
}

Test(settings, verbose_reports_the_values_in_force)
{
    static const char *const env[] = {
        "POOLALLOC_VERBOSE=1", "POOLALLOC_PURGE_DELAY=2s", "POOLALLOC_SEGMENT_CACHE=7", "POOLALLOC_STATS=no",
        "POOLALLOC_PURGE_THREAD=off",
        "POOLALLOC_GOGC=off", "POOLALLOC_TRACE=yes", "POOLALLOC_POOL_DEBUG=1", "POOLALLOC_SAMPLE_RATE=64k",
        "POOLALLOC_PROFILE_INTERVAL=1g,30s", "POOLALLOC_PROFILE_SIGNAL=SIGUSR2", NULL,
    };
    pl_child_t c;
    run_true(env, &c);
    cr_assert(pl_exited_ok(&c), "%s; stderr: %s", pl_describe(c.status), c.err);
    cr_assert_str_eq(c.err, "poolalloc: POOLALLOC_PROFILE_INTERVAL does nothing without POOLALLOC_PROFILE\n"
                            "poolalloc: POOLALLOC_PROFILE_SIGNAL does nothing without POOLALLOC_PROFILE\n"
                            "poolalloc: POOLALLOC_SAMPLE_RATE does nothing without POOLALLOC_PROFILE or POOLALLOC_HTTP\n"
                            "poolalloc: stats=0 purge_delay=2000ms segment_cache=7 purge_thread=0 gogc=-1 trace=1 pool_debug=1 "
                            "profile=off sample_rate=65536 profile_interval=1073741824B,30000ms profile_signal=12 http=off\n");

    /* a malformed value leaves the default in force */
    static const char *const bad[] = {
        "POOLALLOC_VERBOSE=on", "POOLALLOC_PURGE_DELAY=abc", "POOLALLOC_SEGMENT_CACHE=-1", "POOLALLOC_GOGC=lots",
        "POOLALLOC_PURGE_THREAD=sometimes", NULL,
    };
    run_true(bad, &c);
    cr_assert(pl_exited_ok(&c), "%s; stderr: %s", pl_describe(c.status), c.err);
    expect_line(&c, "poolalloc: POOLALLOC_GOGC=lots is not a percentage (e.g. 100) or off; using 100\n");
    expect_line(&c, "poolalloc: stats=0 purge_delay=50ms segment_cache=4 purge_thread=1 gogc=100 trace=0 pool_debug=0 profile=off sample_rate=524288 "
                   "profile_interval=0B,0ms profile_signal=0 http=off\n");
    expect_line(&c, "poolalloc: POOLALLOC_PURGE_THREAD=sometimes is not a boolean (0/1, yes/no, on/off); using 1\n");
    cr_assert_eq(pl_count_lines(c.err), 5, "stderr: \"%s\"", c.err);
}

Test(settings, stats_at_exit)
{
    static const char *const on[] = { "POOLALLOC_STATS=1", NULL };
    pl_child_t c;
    run_true(on, &c);
    cr_assert(pl_exited_ok(&c), "%s; stderr: %s", pl_describe(c.status), c.err);
    char want[64];
    snprintf(want, sizeof want, "poolalloc statistics (pid %d)\n", (int)c.pid);
    cr_assert(!strncmp(c.err, want, strlen(want)), "stderr \"%s\" does not start with \"%s\"", c.err, want);
    static const char *const rows[] = {
        "alloc_objects", "alloc_bytes", "free_objects", "free_bytes", "live_objects", "live_bytes",
        "remote_frees", "large_allocs", "large_frees", "large_live_bytes", "mapped_bytes",
        "committed_bytes", "resident_bytes", "purged_bytes", "segments", "heaps", "heaps_abandoned", "cycles",
        "realloc_moves", "realloc_copied_bytes", "uptime_ns", "alloc_rate_bytes_s", "remote_free_percent",
    };
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
        char row[64];
        snprintf(row, sizeof row, "\n  %s ", rows[i]);
        cr_assert_not_null(strstr(c.err, row), "statistics lack %s: \"%s\"", rows[i], c.err);
    }
    cr_assert_eq(pl_count_lines(c.err), 1 + sizeof rows / sizeof rows[0], "stderr: \"%s\"", c.err);

    static const char *const yes[] = { "POOLALLOC_STATS=yes", NULL };
    run_true(yes, &c);
    cr_assert(pl_exited_ok(&c));
    cr_assert_not_null(strstr(c.err, "poolalloc statistics"), "POOLALLOC_STATS=yes: stderr \"%s\"", c.err);

    static const char *const off[] = { "POOLALLOC_STATS=0", NULL };
    run_true(off, &c);
    cr_assert(pl_exited_ok(&c), "%s; stderr: %s", pl_describe(c.status), c.err);
    cr_assert_eq(c.errlen, 0, "POOLALLOC_STATS=0 printed \"%s\"", c.err);

    static const char *const none[] = { NULL };
    run_true(none, &c);
    cr_assert(pl_exited_ok(&c));
    cr_assert_eq(c.errlen, 0, "no settings printed \"%s\"", c.err);
}

/* Runs bash -c script preloaded, with POOLALLOC_STATS=1 (bash, not sh: dash
 * leaves with _exit, which runs no exit code at all). */
static void run_sh_with_stats(const char *script, pl_child_t *c)
{
    if (access("/bin/bash", X_OK) != 0) cr_skip_test("no /bin/bash");
    const char *lib = pl_library_path();
    cr_assert_not_null(lib);
    static char preload[4200];
    snprintf(preload, sizeof preload, "LD_PRELOAD=%s", lib);
    char *envp[] = { preload, "POOLALLOC_STATS=1", "PATH=/usr/bin:/bin", NULL };
    char *argv[] = { "/bin/bash", "-c", (char *)script, NULL };
    pl_run_exec(argv, envp, 10, c);
}

/* A program that closes stderr before it exits (coreutils' cat and sort do,
 * in an atexit handler) still gets its statistics on the stderr it started
 * with. */
Test(settings, stats_reach_stderr_closed_before_exit)
{
    pl_child_t c;
    run_sh_with_stats("exec 2>&-; :", &c);
    cr_assert(pl_exited_ok(&c), "%s; stderr: %s", pl_describe(c.status), c.err);
    cr_assert_not_null(strstr(c.err, "poolalloc statistics"), "stderr: \"%s\"", c.err);
    if (access("/bin/cat", X_OK) == 0) {
        run_sh_with_stats("exec /bin/cat /dev/null", &c);
        cr_assert(pl_exited_ok(&c), "%s; stderr: %s", pl_describe(c.status), c.err);
        cr_assert_not_null(strstr(c.err, "poolalloc statistics"), "cat: stderr: \"%s\"", c.err);
    }
}

/* ... but never into a file of the program's that took the number of the
 * private copy after the program closed it. */
Test(settings, stats_never_go_to_a_reused_descriptor)
{
    char path[] = "/tmp/pa-stderr-XXXXXX";
    int fd = mkstemp(path);
    cr_assert_geq(fd, 0);
    close(fd);
    char script[256];
    /* the copy is the lowest free descriptor at start, 3: close it and 2, and
     * open the program's own file on 3 (bash opens it on 2 and moves it) */
    snprintf(script, sizeof script, "exec 2>&- 3>&-; exec 3>%s; echo mine >&3", path);
    pl_child_t c;
    run_sh_with_stats(script, &c);
    cr_assert(pl_exited_ok(&c), "%s; stderr: %s", pl_describe(c.status), c.err);
    FILE *f = fopen(path, "r");
    cr_assert_not_null(f);
    char buf[256] = "";
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    unlink(path);
    buf[n] = 0;
    cr_assert_str_eq(buf, "mine\n", "the program's file holds \"%s\"", buf);
}


/* POOLALLOC_PROFILE naming a directory (with or without the trailing /)
 * gives files named after the program, not hidden ".PID.SEQ.prof" ones. */
Test(settings, profile_prefix_of_a_directory_names_files_after_the_program)
{
    char dir[] = "/tmp/pa-profdir-XXXXXX";
    cr_assert_not_null(mkdtemp(dir));
    for (int slash = 0; slash < 2; slash++) {
        char setting[128], want[160];
        snprintf(setting, sizeof setting, "POOLALLOC_PROFILE=%s%s", dir, slash ? "/" : "");
        const char *const settings[] = { setting, NULL };
        pl_child_t c;
        run_true(settings, &c);
        cr_assert(pl_exited_ok(&c), "%s; stderr: %s", pl_describe(c.status), c.err);
        snprintf(want, sizeof want, "%s/true.%d.1.prof", dir, (int)c.pid);
        cr_assert_eq(access(want, F_OK), 0, "%s: no %s (stderr: %s)", setting, want, c.err);
        unlink(want);
    }
    cr_assert_eq(rmdir(dir), 0, "other files were left in %s", dir);
}
