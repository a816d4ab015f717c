/* test_stats.c — malloc_trim, mallinfo2, malloc_stats and the pa_stats
 * counters behind them, and thread churn reusing heaps. */
#include <criterion/criterion.h>
#include <malloc.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "poolalloc.h"
#include "pl_util.h"

Test(stats, malloc_trim_returns_memory_after_big_free)
{
    enum { N = 4000 };
    static char *p[N];
    for (int i = 0; i < N; i++) {
        size_t n = i % 40 == 0 ? PL_MIB : 16 * PL_KIB;
        p[i] = malloc(n);
        cr_assert_not_null(p[i]);
        memset(p[i], 1, n);                   /* make it resident */
    }
    for (int i = 0; i < N; i++) free(p[i]);
    pa_stats_t before, after;
    pl_stats_get(&before);
    int rc = malloc_trim(0);
    pl_stats_get(&after);
    cr_assert_eq(rc, 1, "malloc_trim after freeing ~160 MiB returned %d", rc);
    cr_assert_gt(after.purged_bytes, before.purged_bytes);
    cr_assert_lt(after.committed_bytes, before.committed_bytes, "committed %llu -> %llu",
                 (unsigned long long)before.committed_bytes, (unsigned long long)after.committed_bytes);
    cr_assert_lt(after.resident_bytes, before.resident_bytes, "resident %llu -> %llu",
                 (unsigned long long)before.resident_bytes, (unsigned long long)after.resident_bytes);
    /* and the allocator still works */
    void *q = malloc(16 * PL_KIB);
    cr_assert_not_null(q);
    memset(q, 2, 16 * PL_KIB);
    free(q);
}

Test(stats, malloc_trim_releases_cached_huge_blocks)
{
    for (int i = 0; i < 4; i++) {
        char *p = malloc(4 * PL_MIB);
        cr_assert_not_null(p);
        memset(p, 1, 4 * PL_MIB);
        free(p);                               /* into the huge cache, still mapped */
    }
    pa_stats_t before, after;
    pl_stats_get(&before);
    cr_assert_eq(malloc_trim(0), 1);
    pl_stats_get(&after);
    cr_assert_lt(after.mapped_bytes, before.mapped_bytes);
}

Test(stats, mallinfo2_tracks_live_bytes)
{
    enum { N = 1000, SIZE = 1000 };
    static void *p[N];
    struct mallinfo2 m0 = mallinfo2();
    for (int i = 0; i < N; i++) p[i] = malloc(SIZE);
    struct mallinfo2 m1 = mallinfo2();
    for (int i = 0; i < N; i++) free(p[i]);
    struct mallinfo2 m2 = mallinfo2();
    for (int i = 0; i < N; i++) cr_assert_not_null(p[i]);
    cr_assert_geq(m1.uordblks, m0.uordblks + (size_t)N * SIZE, "uordblks %zu -> %zu after %d x %d bytes",
                  m0.uordblks, m1.uordblks, N, SIZE);
    cr_assert_leq(m1.uordblks, m0.uordblks + (size_t)N * (SIZE + SIZE / 8));
    cr_assert_eq(m2.uordblks, m0.uordblks, "uordblks %zu -> %zu -> %zu: not back after freeing",
                 m0.uordblks, m1.uordblks, m2.uordblks);
    cr_assert_geq(m1.arena, m1.uordblks, "arena (mapped) %zu < in use %zu", m1.arena, m1.uordblks);
}

Test(stats, mallinfo2_counts_large_blocks)
{
    struct mallinfo2 m0 = mallinfo2();
    void *a = malloc(PL_MIB), *b = malloc(PL_MIB + 1), *c = malloc(5 * PL_MIB);
    struct mallinfo2 m1 = mallinfo2();
    free(a);
    free(b);
    free(c);
    struct mallinfo2 m2 = mallinfo2();
    cr_assert_eq(m1.hblks, m0.hblks + 3, "hblks %zu -> %zu", m0.hblks, m1.hblks);
    cr_assert_geq(m1.hblkhd, m0.hblkhd + 7 * PL_MIB + 1);
    cr_assert_geq(m1.uordblks, m0.uordblks + 7 * PL_MIB + 1);
    cr_assert_eq(m2.hblks, m0.hblks);
    cr_assert_eq(m2.hblkhd, m0.hblkhd);
    cr_assert_eq(m2.uordblks, m0.uordblks);
}

#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wdeprecated-declarations"
Test(stats, mallinfo_agrees_with_mallinfo2)
{
    void *p = malloc(50000);
    struct mallinfo m = mallinfo();
    struct mallinfo2 m2 = mallinfo2();
    free(p);
    cr_assert_eq((size_t)m.uordblks, m2.uordblks);
    cr_assert_eq((size_t)m.hblks, m2.hblks);
}
#pragma GCC diagnostic pop

Test(stats, pa_stats_counts_objects)
{
    pa_stats_t s0, s1, s2;
    pl_stats_get(&s0);
    void *p[10];
    for (int i = 0; i < 10; i++) p[i] = malloc(100);
    pl_stats_get(&s1);
    for (int i = 0; i < 10; i++) free(p[i]);
    pl_stats_get(&s2);
    cr_assert_eq(s1.alloc_objects, s0.alloc_objects + 10);
    cr_assert_eq(s1.live_objects, s0.live_objects + 10);
    cr_assert_eq(s1.live_bytes, s0.live_bytes + 10 * 112, "100 bytes is the 112-byte class");
    cr_assert_eq(s2.free_objects, s1.free_objects + 10);
    cr_assert_eq(s2.live_objects, s0.live_objects);
    cr_assert_geq(s1.mapped_bytes, s1.committed_bytes);
    cr_assert_gt(s1.segments, 0);
    cr_assert_geq(s1.heaps, 1);
}

static void call_malloc_stats(void *arg)
{
    (void)arg;
    void *p = malloc(1000);
    malloc_stats();
    free(p);
}

Test(stats, malloc_stats_writes_to_stderr)
{
    pl_child_t c;
    pl_run_child(call_malloc_stats, NULL, 10, &c);
    cr_assert(pl_exited_ok(&c), "child %s; stderr: %s", pl_describe(c.status), c.err);
    char want[64];
    snprintf(want, sizeof want, "poolalloc statistics (pid %d)\n", (int)c.pid);
    cr_assert(!strncmp(c.err, want, strlen(want)), "stderr \"%s\" does not start with \"%s\"", c.err, want);
    cr_assert_not_null(strstr(c.err, "\n  live_objects "), "stderr: %s", c.err);
    cr_assert_not_null(strstr(c.err, "\n  heaps_abandoned "), "stderr: %s", c.err);
    cr_assert_not_null(strstr(c.err, "\n  cycles "), "stderr: %s", c.err);
    cr_assert_not_null(strstr(c.err, "\n  realloc_moves "), "stderr: %s", c.err);
    cr_assert_not_null(strstr(c.err, "\n  remote_free_percent "), "stderr: %s", c.err);
    cr_assert_eq(pl_count_lines(c.err), 24, "stderr: %s", c.err);
}

#pragma weak pa_stats_print

Test(stats, pa_stats_print_to_a_pipe)
{
    cr_assert(pl_have_pa_stats_print(), "pa_stats_print (poolalloc.h) is not exported by libpoolalloc.so");
    int fds[2];
    cr_assert_eq(pipe(fds), 0);
    pa_stats_print(fds[1]);
    close(fds[1]);
    char buf[4096];
    ssize_t n = read(fds[0], buf, sizeof buf - 1);
    close(fds[0]);
    cr_assert_gt(n, 0);
    buf[n] = 0;
    cr_assert(!strncmp(buf, "poolalloc statistics (pid ", 26), "%s", buf);
    cr_assert_not_null(strstr(buf, "\n  mapped_bytes "), "%s", buf);
}

/* ---- thread churn --------------------------------------------------------- */

static void *short_lived(void *arg)
{
    unsigned i = (unsigned)(uintptr_t)arg;
    void *p[64];
    for (int k = 0; k < 64; k++) {
        size_t n = k == 0 && i % 50 == 0 ? 300 * PL_KIB : 8 + (size_t)((i * 31 + (unsigned)k * 97) % 4000);
        p[k] = malloc(n);
        if (!p[k]) return NULL;
        memset(p[k], k, n < 64 ? n : 64);
    }
    for (int k = 1; k < 64; k++) free(p[k]);
    return p[0];                              /* the creator frees this one: a remote free */
}

Test(stats, thread_churn_reuses_heaps, .timeout = 30)
{
    /* glibc's first pthread_create allocates what it keeps for good */
    pthread_t warm;
    cr_assert_eq(pthread_create(&warm, NULL, short_lived, (void *)(uintptr_t)1), 0);
    void *wp;
    cr_assert_eq(pthread_join(warm, &wp), 0);
    free(wp);
    pa_stats_t s0, s1;
    pl_stats_get(&s0);
    for (unsigned i = 0; i < 500; i++) {
        pthread_t t;
        cr_assert_eq(pthread_create(&t, NULL, short_lived, (void *)(uintptr_t)i), 0);
        void *rv;
        cr_assert_eq(pthread_join(t, &rv), 0);
        cr_assert_not_null(rv, "thread %u failed to allocate", i);
        cr_assert_gt(pa_usable_size(rv), 0);
        free(rv);
    }
    pl_stats_get(&s1);
    cr_assert_lt(s1.heaps, 4, "500 threads one after another created %llu heaps (had %llu)",
                 (unsigned long long)s1.heaps, (unsigned long long)s0.heaps);
    cr_assert_leq(s1.heaps_abandoned, s1.heaps);
    cr_assert_lt(s1.mapped_bytes, s0.mapped_bytes + 64 * PL_MIB, "mapped %llu -> %llu",
                 (unsigned long long)s0.mapped_bytes, (unsigned long long)s1.mapped_bytes);
    cr_assert_eq(s1.live_objects, s0.live_objects, "every block was freed: live %llu -> %llu",
                 (unsigned long long)s0.live_objects, (unsigned long long)s1.live_objects);
}
