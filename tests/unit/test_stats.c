/* test_stats.c — pa_stats_get is exact in a quiet process. Every Criterion
 * test runs in a fresh process, so counts start at zero and can be compared
 * with ==. Object and byte counts are in usable size (class size, whole
 * slices for large pages, the mapping for huge blocks). */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <criterion/criterion.h>

#include "internal.h"
#include "poolalloc.h"

#define KiB ((size_t)1 << 10)
#define MiB ((size_t)1 << 20)

static pa_stats_t stats(void)
{
    pa_stats_t s;
    memset(&s, 0xa5, sizeof s);
    pa_stats_get(&s);
    return s;
}

#define EXPECT_EQ(field, want) \
    cr_assert_eq(st.field, (uint64_t)(want), #field " is %llu, expected %llu", \
                 (unsigned long long)st.field, (unsigned long long)(want))

static void expect_consistent(pa_stats_t st)
{
    cr_assert_eq(st.live_objects, st.alloc_objects - st.free_objects);
    cr_assert_eq(st.live_bytes, st.alloc_bytes - st.free_bytes);
    cr_assert_leq(st.free_objects, st.alloc_objects);
    cr_assert_leq(st.large_frees, st.large_allocs);
    cr_assert_leq(st.large_allocs, st.alloc_objects);
    cr_assert_leq(st.committed_bytes, st.mapped_bytes, "committed %llu > mapped %llu",
                  (unsigned long long)st.committed_bytes, (unsigned long long)st.mapped_bytes);
    cr_assert_leq(st.resident_bytes, st.mapped_bytes, "resident %llu > mapped %llu",
                  (unsigned long long)st.resident_bytes, (unsigned long long)st.mapped_bytes);
    cr_assert_leq(st.heaps_abandoned, st.heaps);
}

Test(stats, fresh_process_is_zero)
{
    pa_stats_t st = stats();
    EXPECT_EQ(alloc_objects, 0);
    EXPECT_EQ(free_objects, 0);
    EXPECT_EQ(live_bytes, 0);
    EXPECT_EQ(large_allocs, 0);
    EXPECT_EQ(remote_frees, 0);
    EXPECT_EQ(mapped_bytes, 0);
    EXPECT_EQ(resident_bytes, 0);
    EXPECT_EQ(segments, 0);
    EXPECT_EQ(heaps, 0);
}

Test(stats, thousand_small_blocks)
{
    enum { N = 1000 };
    static void *p[N];
    for (int i = 0; i < N; i++) p[i] = pa_malloc(100);
    pa_stats_t st = stats();
    EXPECT_EQ(alloc_objects, N);
    EXPECT_EQ(alloc_bytes, N * 112);
    EXPECT_EQ(free_objects, 0);
    EXPECT_EQ(live_objects, N);
    EXPECT_EQ(live_bytes, N * 112);
    EXPECT_EQ(large_allocs, 0);
    EXPECT_EQ(heaps, 1);
    EXPECT_EQ(segments, 1);
    cr_assert_geq(st.mapped_bytes, PA_SEG_SIZE);
    cr_assert_geq(st.resident_bytes, N * 112, "resident %llu below what was allocated",
                  (unsigned long long)st.resident_bytes);
    expect_consistent(st);

    for (int i = 0; i < N; i++) pa_free(p[i]);
    st = stats();
    EXPECT_EQ(alloc_objects, N);
    EXPECT_EQ(free_objects, N);
    EXPECT_EQ(free_bytes, N * 112);
    EXPECT_EQ(live_objects, 0);
    EXPECT_EQ(live_bytes, 0);
    EXPECT_EQ(remote_frees, 0);
    expect_consistent(st);
}

Test(stats, large_and_huge_blocks)
{
    void *a = pa_malloc(MiB);              /* a large page: 16 slices */
    void *b = pa_malloc(10 * MiB);         /* a huge mapping */
    size_t ua = pa_usable_size(a), ub = pa_usable_size(b);
    cr_assert_eq(ua, MiB);
    pa_stats_t st = stats();
    EXPECT_EQ(large_allocs, 2);
    EXPECT_EQ(large_frees, 0);
    EXPECT_EQ(large_live_bytes, ua + ub);
    EXPECT_EQ(alloc_objects, 2);
    EXPECT_EQ(alloc_bytes, ua + ub);
    EXPECT_EQ(live_objects, 2);
    cr_assert_geq(st.mapped_bytes, PA_SEG_SIZE + 10 * MiB);
    expect_consistent(st);

    pa_free(a);
    st = stats();
    EXPECT_EQ(large_frees, 1);
    EXPECT_EQ(large_live_bytes, ub);
    EXPECT_EQ(live_objects, 1);
    EXPECT_EQ(live_bytes, ub);
    pa_free(b);
    st = stats();
    EXPECT_EQ(large_frees, 2);
    EXPECT_EQ(large_live_bytes, 0);
    EXPECT_EQ(free_objects, 2);
    EXPECT_EQ(free_bytes, ua + ub);
    EXPECT_EQ(live_objects, 0);
    EXPECT_EQ(live_bytes, 0);
    expect_consistent(st);
}

/* Bytes are counted in usable size, whatever the request. */
Test(stats, bytes_are_usable_sizes)
{
    static const size_t ns[] = { 0, 1, 17, 129, 1000, 5000, 70000, PA_SMALL_MAX, PA_SMALL_MAX + 1, 700 * KiB, 3 * MiB + 5 };
    enum { K = sizeof ns / sizeof ns[0] };
    void *p[K];
    uint64_t sum = 0, large = 0;
    for (size_t i = 0; i < K; i++) {
        p[i] = pa_malloc(ns[i]);
        sum += pa_usable_size(p[i]);
        if (ns[i] > PA_SMALL_MAX) large++;
    }
    pa_stats_t st = stats();
    EXPECT_EQ(alloc_objects, K);
    EXPECT_EQ(alloc_bytes, sum);
    EXPECT_EQ(large_allocs, large);
    for (size_t i = 0; i < K; i++) pa_free(p[i]);
    st = stats();
    EXPECT_EQ(free_objects, K);
    EXPECT_EQ(free_bytes, sum);
    EXPECT_EQ(live_bytes, 0);
    EXPECT_EQ(large_frees, large);
    expect_consistent(st);
}

/* calloc, realloc (a move is one alloc and one free), aligned allocation. */
Test(stats, other_entry_points_count)
{
    void *a = pa_calloc(10, 10);                       /* 112 */
    void *b = pa_aligned_alloc(64, 100);               /* 128 */
    void *c = pa_malloc(16);
    c = pa_realloc(c, 1000);                           /* moves: +1 alloc (1024), +1 free (16) */
    pa_stats_t st = stats();
    EXPECT_EQ(alloc_objects, 4);
    EXPECT_EQ(alloc_bytes, 112 + 128 + 16 + 1024);
    EXPECT_EQ(free_objects, 1);
    EXPECT_EQ(free_bytes, 16);
    EXPECT_EQ(live_objects, 3);
    EXPECT_EQ(realloc_moves, 1);
    EXPECT_EQ(realloc_copied_bytes, 16);               /* the old block's usable size */
    c = pa_realloc(c, 900);                            /* fits in place: no move */
    c = pa_realloc(c, 3000);                           /* moves, copies 1000 bytes' block: 1024 */
    st = stats();
    EXPECT_EQ(realloc_moves, 2);
    EXPECT_EQ(realloc_copied_bytes, 16 + 1024);
    cr_assert_gt(st.uptime_ns, 0);
    cr_assert_null(pa_realloc(c, 0));                  /* frees */
    pa_free(a);
    pa_free(b);
    st = stats();
    EXPECT_EQ(free_objects, 5);
    EXPECT_EQ(live_objects, 0);
    EXPECT_EQ(live_bytes, 0);
    /* failed requests count nothing */
    cr_assert_null(pa_malloc(SIZE_MAX / 2));
    cr_assert_null(pa_calloc(SIZE_MAX / 2, 3));
    st = stats();
    EXPECT_EQ(alloc_objects, 5);
}

struct batch { void **p; size_t n; };

static void *free_batch(void *arg)
{
    struct batch *b = arg;
    for (size_t i = 0; i < b->n; i++) pa_free(b->p[i]);
    return NULL;
}

/* Frees from another thread count as frees and as remote frees, whether the
 * freeing thread has a heap of its own or not. */
Test(stats, remote_frees_counted)
{
    enum { N = 500 };
    static void *p[N];
    uint64_t bytes = 0;
    for (size_t i = 0; i < N; i++) {
        p[i] = pa_malloc(i % 3 == 2 ? 200 * KiB : 16 + i * 8);   /* small and large */
        bytes += pa_usable_size(p[i]);
    }
    struct batch b = { p, N };
    pthread_t t;
    cr_assert_eq(pthread_create(&t, NULL, free_batch, &b), 0);
    pthread_join(t, NULL);
    pa_stats_t st = stats();
    EXPECT_EQ(alloc_objects, N);
    EXPECT_EQ(free_objects, N);
    EXPECT_EQ(remote_frees, N);
    EXPECT_EQ(free_bytes, bytes);
    EXPECT_EQ(live_objects, 0);
    EXPECT_EQ(live_bytes, 0);
    EXPECT_EQ(large_allocs, N / 3);
    EXPECT_EQ(large_frees, N / 3);
    EXPECT_EQ(large_live_bytes, 0);
    expect_consistent(st);
}

static void *alloc_and_free_some(void *arg)
{
    (void)arg;
    void *keep = pa_malloc(50);
    pa_free(pa_malloc(60));
    return keep;
}

Test(stats, heaps_and_abandoned)
{
    pa_free(pa_malloc(10));
    pa_stats_t st = stats();
    EXPECT_EQ(heaps, 1);
    EXPECT_EQ(heaps_abandoned, 0);
    pthread_t t;
    void *kept;
    cr_assert_eq(pthread_create(&t, NULL, alloc_and_free_some, NULL), 0);
    pthread_join(t, &kept);
    st = stats();
    EXPECT_EQ(heaps, 2);
    EXPECT_EQ(heaps_abandoned, 1);
    EXPECT_EQ(live_objects, 1);
    pa_free(kept);
    st = stats();
    EXPECT_EQ(live_objects, 0);
    EXPECT_EQ(remote_frees, 1);
    /* the next thread adopts the parked heap */
    cr_assert_eq(pthread_create(&t, NULL, alloc_and_free_some, NULL), 0);
    pthread_join(t, &kept);
    pa_free(kept);
    st = stats();
    EXPECT_EQ(heaps, 2);
    EXPECT_EQ(heaps_abandoned, 1);
    expect_consistent(st);
}

/* mapped, committed, resident and purged move the right way. */
Test(stats, memory_counters)
{
    enum { N = 2000 };
    static void *p[N];
    for (size_t i = 0; i < N; i++) {
        p[i] = pa_malloc(4000);
        memset(p[i], 1, 4000);
    }
    pa_stats_t full = stats();
    cr_assert_geq(full.mapped_bytes, (uint64_t)N * 4000);
    cr_assert_geq(full.resident_bytes, (uint64_t)N * 4000);
    cr_assert_geq(full.committed_bytes, full.resident_bytes - 64 * 1024,
                  "committed %llu below resident %llu", (unsigned long long)full.committed_bytes,
                  (unsigned long long)full.resident_bytes);
    pa_stats_t st = full;
    EXPECT_EQ(purged_bytes, 0);
    cr_assert_geq(st.segments, 2);
    for (size_t i = 0; i < N; i++) pa_free(p[i]);
    cr_assert_eq(pa_trim(), 1, "pa_trim released nothing after freeing %d blocks", N);
    st = stats();
    cr_assert_gt(st.purged_bytes, 0);
    cr_assert_lt(st.resident_bytes, full.resident_bytes / 10, "resident %llu after trim (was %llu)",
                 (unsigned long long)st.resident_bytes, (unsigned long long)full.resident_bytes);
    cr_assert_lt(st.mapped_bytes, full.mapped_bytes);
    cr_assert_leq(st.committed_bytes, st.mapped_bytes);
    expect_consistent(st);
}

/* pa_stats_print writes the same numbers, one "name value" per line. */
Test(stats, print_matches_get)
{
    void *p[10];
    for (int i = 0; i < 10; i++) p[i] = pa_malloc(100);
    pa_free(p[0]);
    char path[] = "/tmp/pa_stats_XXXXXX";
    int fd = mkstemp(path);
    cr_assert_geq(fd, 0);
    unlink(path);
    pa_stats_print(fd);
    pa_stats_t st = stats();
    lseek(fd, 0, SEEK_SET);
    char buf[8192];
    ssize_t n = read(fd, buf, sizeof buf - 1);
    close(fd);
    cr_assert_gt(n, 0);
    buf[n] = 0;
    static const struct { const char *name; size_t off; } rows[] = {
        { "alloc_objects", offsetof(pa_stats_t, alloc_objects) },
        { "alloc_bytes", offsetof(pa_stats_t, alloc_bytes) },
        { "free_objects", offsetof(pa_stats_t, free_objects) },
        { "live_objects", offsetof(pa_stats_t, live_objects) },
        { "live_bytes", offsetof(pa_stats_t, live_bytes) },
        { "heaps", offsetof(pa_stats_t, heaps) },
        { "segments", offsetof(pa_stats_t, segments) },
    };
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
        char key[64];
        snprintf(key, sizeof key, "\n  %s ", rows[i].name);
        const char *at = strstr(buf, key);
        cr_assert_not_null(at, "pa_stats_print lacks %s:\n%s", rows[i].name, buf);
        unsigned long long v = strtoull(at + strlen(key), NULL, 10);
        uint64_t want = *(const uint64_t *)((const char *)&st + rows[i].off);
        cr_assert_eq(v, want, "%s printed %llu, pa_stats_get says %llu", rows[i].name, v, (unsigned long long)want);
    }
    cr_assert(strstr(buf, "alloc_objects") && strstr(buf, " 10"), "%s", buf);
    for (int i = 1; i < 10; i++) pa_free(p[i]);
}
