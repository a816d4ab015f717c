/* test_entry_points.c — every exported allocation entry point returns memory
 * that poolalloc owns (pa_usable_size aborts on anything else), aligned as
 * promised, at least as large as asked, writable, and distinct from every
 * other live block. */
#include <criterion/criterion.h>
#include <errno.h>
#include <malloc.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "poolalloc.h"
#include "pl_util.h"

extern void cfree(void *);   /* glibc exports it but no longer declares it */

static const size_t sizes[] = {
    0, 1, 7, 8, 15, 16, 17, 24, 31, 32, 33, 48, 63, 64, 65, 100, 127, 128, 129, 200,
    255, 256, 257, 500, 1000, 1024, 1500, 4095, 4096, 4097, 8191, 8192, 8193, 10000,
    16384, 32768, 65535, 65536, 65537, 100000, 131071, 131072, 131073, 200000,
    262144, PL_MIB, PL_MIB + 1, 2 * PL_MIB - 1, 2 * PL_MIB, 2 * PL_MIB + 1, 3 * PL_MIB,
    8 * PL_MIB, 16 * PL_MIB + 3,
};
#define NSIZES (sizeof sizes / sizeof sizes[0])

static uint64_t frees_now(void)
{
    pa_stats_t s;
    pl_stats_get(&s);
    return s.free_objects;
}

/* ownership (pa_usable_size would abort otherwise), size, alignment, writable */
static void check_block(void *p, size_t size, size_t align, const char *what)
{
    cr_assert_not_null(p, "%s(%zu) returned NULL", what, size);
    cr_assert(pl_aligned(p, align), "%s(%zu) = %p is not %zu-aligned", what, size, p, align);
    size_t usable = pa_usable_size(p);
    cr_assert_geq(usable, size ? size : 1, "%s(%zu): usable size %zu", what, size, usable);
    cr_assert_eq(malloc_usable_size(p), usable, "malloc_usable_size and pa_usable_size disagree");
    memset(p, 0x5c, usable);     /* the whole usable size is ours to write */
}

Test(entry_points, malloc_every_size_class_and_beyond)
{
    for (size_t i = 0; i < NSIZES; i++) {
        void *p = malloc(sizes[i]);
        check_block(p, sizes[i], 16, "malloc");
        free(p);
    }
}

Test(entry_points, malloc_live_blocks_do_not_overlap)
{
    enum { N = 2000 };
    static unsigned char *blk[N];
    static size_t len[N];
    for (unsigned i = 0; i < N; i++) {
        len[i] = sizes[i % (NSIZES - 3)];      /* skip the biggest three: keep it fast */
        if (i % 97 == 0) len[i] = 3 * PL_MIB;
        blk[i] = malloc(len[i]);
        cr_assert_not_null(blk[i]);
        cr_assert(pl_aligned(blk[i], 16));
        pl_fill(blk[i], len[i], i);
    }
    for (unsigned i = 0; i < N; i++)
        cr_assert(pl_check(blk[i], len[i], i), "block %u (%zu bytes at %p) was overwritten", i, len[i], (void *)blk[i]);
    for (unsigned i = 0; i < N; i++) free(blk[i]);
}

Test(entry_points, malloc_zero_gives_unique_blocks)
{
    void *a = malloc(0), *b = malloc(0);
    cr_assert_not_null(a);
    cr_assert_not_null(b);
    cr_assert_neq(a, b);
    cr_assert_geq(pa_usable_size(a), 1);
    free(a);
    free(b);
}

Test(entry_points, free_null_is_a_no_op)
{
    uint64_t before = frees_now();
    free(NULL);
    cfree(NULL);
    cr_assert_eq(frees_now(), before);
    cr_assert_eq(malloc_usable_size(NULL), 0);
    cr_assert_eq(pa_usable_size(NULL), 0);
}

Test(entry_points, calloc_is_zeroed_even_on_reused_memory)
{
    for (size_t i = 0; i < NSIZES; i++) {
        size_t n = sizes[i];
        /* leave dirty memory of the same class behind for calloc to reuse */
        unsigned char *d = malloc(n);
        cr_assert_not_null(d);
        memset(d, 0xa5, pa_usable_size(d));
        free(d);
        unsigned char *p = calloc(1, n);
        cr_assert_not_null(p, "calloc(1, %zu)", n);
        cr_assert(pl_aligned(p, 16));
        cr_assert_geq(pa_usable_size(p), n ? n : 1);
        cr_assert(pl_all_zero(p, n), "calloc(1, %zu) = %p is not zeroed", n, (void *)p);
        memset(p, 0xa5, n);
        free(p);
    }
    unsigned char *q = calloc(1000, 24);
    cr_assert_not_null(q);
    cr_assert(pl_all_zero(q, 24000));
    free(q);
    q = calloc(0, 100);
    cr_assert_not_null(q, "calloc(0, n) returns a unique pointer, like malloc(0)");
    free(q);
}

/* A freed huge block (> 2 MiB) waits in a cache; once it has waited the purge
 * delay (50 ms by default) it is madvise'd and marked clean, and calloc then
 * skips the memset. The first 4 KiB page of the mapping holds the header and
 * is not purged, but the block starts 512 bytes into it. */
Test(entry_points, calloc_zeroed_when_reusing_a_purged_huge_block_after_delay)
{
    size_t big = 3 * PL_MIB;
    unsigned char *a = malloc(big);
    cr_assert_not_null(a);
    memset(a, 0xa5, big);
    free(a);
    usleep(120 * 1000);                        /* past the default 50 ms purge delay */
    free(malloc(512 * PL_KIB));                /* a slow-path malloc runs maintenance */
    unsigned char *p = calloc(1, big);
    cr_assert_not_null(p);
    size_t bad = 0, first = SIZE_MAX;
    for (size_t i = 0; i < big; i++)
        if (p[i]) { bad++; if (first == SIZE_MAX) first = i; }
    cr_assert_eq(bad, 0, "calloc(1, %zu) = %p (old block %p): %zu non-zero bytes, first at offset %zu",
                 big, (void *)p, (void *)a, bad, first);
    free(p);
}

/* Same, with the purge forced by the cache's dirty-bytes limit (64 MiB). */
Test(entry_points, calloc_zeroed_when_reusing_a_purged_huge_block_over_dirty_limit)
{
    size_t big = 3 * PL_MIB;
    unsigned char *a = malloc(big);
    cr_assert_not_null(a);
    memset(a, 0xa5, big);
    free(a);
    free(malloc(62 * PL_MIB));                 /* cached dirty bytes > 64 MiB: oldest purged */
    unsigned char *p = calloc(big / 16, 16);
    cr_assert_not_null(p);
    size_t bad = 0, first = SIZE_MAX;
    for (size_t i = 0; i < big; i++)
        if (p[i]) { bad++; if (first == SIZE_MAX) first = i; }
    cr_assert_eq(bad, 0, "calloc(%zu, 16) = %p (old block %p): %zu non-zero bytes, first at offset %zu",
                 big / 16, (void *)p, (void *)a, bad, first);
    free(p);
}

Test(entry_points, realloc_grows_and_shrinks_keeping_contents)
{
    size_t n = 1;
    unsigned char *p = realloc(NULL, n);       /* realloc(NULL, n) is malloc(n) */
    check_block(p, n, 16, "realloc");
    pl_fill(p, n, 7);
    static const size_t steps[] = { 8, 24, 100, 1000, 5000, 70000, 140000, PL_MIB, 3 * PL_MIB, 9 * PL_MIB };
    for (size_t i = 0; i < sizeof steps / sizeof steps[0]; i++) {
        unsigned char *q = realloc(p, steps[i]);
        cr_assert_not_null(q, "realloc to %zu", steps[i]);
        cr_assert(pl_aligned(q, 16));
        cr_assert_geq(pa_usable_size(q), steps[i]);
        cr_assert(pl_check(q, n, 7), "realloc %zu -> %zu lost the contents", n, steps[i]);
        pl_fill(q, steps[i], 7);
        p = q;
        n = steps[i];
    }
    for (size_t i = sizeof steps / sizeof steps[0]; i-- > 0;) {
        unsigned char *q = realloc(p, steps[i] / 3 + 1);
        cr_assert_not_null(q);
        cr_assert(pl_aligned(q, 16));
        cr_assert_geq(pa_usable_size(q), steps[i] / 3 + 1);
        cr_assert(pl_check(q, steps[i] / 3 + 1, 7), "shrinking realloc to %zu lost the contents", steps[i] / 3 + 1);
        p = q;
    }
    free(p);
}

Test(entry_points, realloc_to_zero_frees)
{
    void *p = malloc(100);
    cr_assert_not_null(p);
    uint64_t before = frees_now();
    void *q = realloc(p, 0);
    cr_assert_null(q, "realloc(p, 0) frees p and returns NULL (glibc behaviour)");
    cr_assert_eq(frees_now(), before + 1);
}

Test(entry_points, reallocarray)
{
    int *a = reallocarray(NULL, 10, sizeof(int));
    check_block(a, 10 * sizeof(int), 16, "reallocarray");
    for (int i = 0; i < 10; i++) a[i] = i * 3;
    int *b = reallocarray(a, 100000, sizeof(int));
    cr_assert_not_null(b);
    for (int i = 0; i < 10; i++) cr_assert_eq(b[i], i * 3, "reallocarray lost the contents");
    check_block(b, 100000 * sizeof(int), 16, "reallocarray");
    /* check_block scribbled on it: refill and grow again */
    for (int i = 0; i < 100000; i++) b[i] = i * 3;
    int *c = reallocarray(b, 1000000, sizeof(int));
    cr_assert_not_null(c);
    cr_assert_geq(pa_usable_size(c), 1000000 * sizeof(int));
    for (int i = 0; i < 100000; i++) cr_assert_eq(c[i], i * 3);
    free(c);
}

static const size_t aligns[] = {
    1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024, 2048, 4096, 8192, 16384, 32768,
    65536, 131072, 262144, PL_MIB, 2 * PL_MIB, 4 * PL_MIB, 8 * PL_MIB,
};
/* size 0 has a test of its own below */
static const size_t align_sizes[] = { 1, 17, 100, 1000, 5000, 70000, 200000, 3 * PL_MIB };

Test(entry_points, posix_memalign_all_alignments)
{
    for (size_t a = 0; a < sizeof aligns / sizeof aligns[0]; a++) {
        if (aligns[a] < sizeof(void *)) continue;
        for (size_t s = 0; s < sizeof align_sizes / sizeof align_sizes[0]; s++) {
            void *p = (void *)0x1;
            errno = 4242;
            int rc = posix_memalign(&p, aligns[a], align_sizes[s]);
            cr_assert_eq(rc, 0, "posix_memalign(%zu, %zu) = %d", aligns[a], align_sizes[s], rc);
            cr_assert_eq(errno, 4242, "posix_memalign changed errno on success");
            check_block(p, align_sizes[s], aligns[a], "posix_memalign");
            free(p);
        }
    }
}

Test(entry_points, aligned_alloc_all_alignments)
{
    for (size_t a = 0; a < sizeof aligns / sizeof aligns[0]; a++)
        for (size_t s = 0; s < sizeof align_sizes / sizeof align_sizes[0]; s++) {
            void *p = aligned_alloc(aligns[a], align_sizes[s]);
            check_block(p, align_sizes[s], aligns[a] < 16 ? 16 : aligns[a], "aligned_alloc");
            free(p);
        }
}

Test(entry_points, memalign_all_alignments)
{
    for (size_t a = 0; a < sizeof aligns / sizeof aligns[0]; a++)
        for (size_t s = 0; s < sizeof align_sizes / sizeof align_sizes[0]; s++) {
            void *p = memalign(aligns[a], align_sizes[s]);
            check_block(p, align_sizes[s], aligns[a] < 16 ? 16 : aligns[a], "memalign");
            free(p);
        }
}

/* Size 0 with every alignment: a unique, aligned block that the rest of the
 * API accepts (malloc_usable_size, realloc, free). Each case runs in a child,
 * since pa_usable_size aborts on a pointer it does not recognise. */
enum { VIA_POSIX_MEMALIGN, VIA_ALIGNED_ALLOC, VIA_MEMALIGN };
static const char *const via_name[] = { "posix_memalign", "aligned_alloc", "memalign" };
static struct { int via; size_t align; } zero_case;

static void zero_size_child(void *arg)
{
    (void)arg;
    size_t al = zero_case.align;
    void *p = NULL;
    switch (zero_case.via) {
    case VIA_POSIX_MEMALIGN: if (posix_memalign(&p, al, 0)) _exit(2); break;
    case VIA_ALIGNED_ALLOC: p = aligned_alloc(al, 0); break;
    default: p = memalign(al, 0); break;
    }
    if (!p) _exit(3);
    if (!pl_aligned(p, al < 16 ? 16 : al)) _exit(4);
    (void)malloc_usable_size(p);             /* aborts if it does not know p */
    char *q = realloc(p, 100);               /* so does realloc */
    if (!q) _exit(5);
    memset(q, 1, 100);
    free(q);
    void *r = memalign(al, 0);
    free(r);                                 /* and free */
    _exit(0);
}

Test(entry_points, aligned_allocation_of_size_zero)
{
    char failed[4096] = "";
    for (int via = 0; via < 3; via++)
        for (size_t a = 0; a < sizeof aligns / sizeof aligns[0]; a++) {
            if (via == VIA_POSIX_MEMALIGN && aligns[a] < sizeof(void *)) continue;
            zero_case.via = via;
            zero_case.align = aligns[a];
            pl_child_t c;
            pl_run_child(zero_size_child, NULL, 10, &c);
            if (!pl_exited_ok(&c)) {
                char line[300];
                c.err[strcspn(c.err, "\n")] = 0;
                snprintf(line, sizeof line, "\n  %s(align %zu, size 0): %s %s", via_name[via], aligns[a],
                         pl_describe(c.status), c.err);
                strncat(failed, line, sizeof failed - strlen(failed) - 1);
            }
        }
    cr_assert_eq(failed[0], 0, "failed:%s", failed);
}

Test(entry_points, memalign_rounds_odd_alignments_up_like_glibc)
{
    static const struct { size_t asked, got; } cases[] = {
        { 0, 16 }, { 3, 16 }, { 24, 32 }, { 100, 128 }, { 3000, 4096 }, { 65537, 131072 },
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        void *p = memalign(cases[i].asked, 50);
        check_block(p, 50, cases[i].got, "memalign");
        free(p);
    }
}

Test(entry_points, valloc_is_page_aligned)
{
    for (size_t i = 0; i < NSIZES; i++) {
        void *p = valloc(sizes[i]);
        check_block(p, sizes[i], 4096, "valloc");
        free(p);
    }
}

Test(entry_points, pvalloc_rounds_to_whole_pages)
{
    static const struct { size_t asked, at_least; } cases[] = {
        { 0, 4096 }, { 1, 4096 }, { 4095, 4096 }, { 4096, 4096 }, { 4097, 8192 },
        { 10000, 12288 }, { 200000, 200704 }, { 3 * PL_MIB + 1, 3 * PL_MIB + 4096 },
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        void *p = pvalloc(cases[i].asked);
        check_block(p, cases[i].at_least, 4096, "pvalloc");
        free(p);
    }
}

Test(entry_points, malloc_usable_size_at_least_request)
{
    for (size_t i = 0; i < NSIZES; i++) {
        void *p = malloc(sizes[i]);
        cr_assert_not_null(p);
        size_t u = malloc_usable_size(p);
        cr_assert_geq(u, sizes[i]);
        /* size classes waste at most 1/8 (plus page rounding for huge blocks) */
        if (sizes[i] > 128 && sizes[i] <= 128 * PL_KIB)
            cr_assert_leq(u, sizes[i] + sizes[i] / 8, "malloc(%zu): usable %zu", sizes[i], u);
        free(p);
    }
}

Test(entry_points, cfree_frees)
{
    for (size_t i = 0; i < NSIZES; i++) {
        void *p = malloc(sizes[i]);
        cr_assert_not_null(p);
        uint64_t before = frees_now();
        cfree(p);
        cr_assert_eq(frees_now(), before + 1, "cfree(malloc(%zu)) did not free", sizes[i]);
    }
}

Test(entry_points, free_accepts_memory_from_every_entry_point)
{
    void *p[9];
    p[0] = malloc(10);
    p[1] = calloc(3, 10);
    p[2] = realloc(NULL, 10);
    p[3] = reallocarray(NULL, 2, 10);
    p[4] = aligned_alloc(64, 10);
    p[5] = memalign(128, 10);
    p[6] = valloc(10);
    p[7] = pvalloc(10);
    cr_assert_eq(posix_memalign(&p[8], 256, 10), 0);
    uint64_t before = frees_now();
    for (int i = 0; i < 9; i++) {
        cr_assert_not_null(p[i]);
        cr_assert_gt(pa_usable_size(p[i]), 0);
        free(p[i]);
    }
    cr_assert_eq(frees_now(), before + 9);
}

/* Huge blocks grow by remapping (in place, or moved to a new reservation):
 * contents, ownership and statistics must survive either way. Other huge
 * blocks allocated in between take the address space after the block, so
 * both ways are taken. */
Test(entry_points, realloc_grows_huge_blocks_without_losing_data)
{
    struct mallinfo2 m0 = mallinfo2();
    size_t n = 3 * PL_MIB;
    unsigned char *p = malloc(n);
    cr_assert_not_null(p);
    pl_fill(p, n, 11);
    void *blockers[12] = { 0 };
    for (int step = 0; step < 12; step++) {
        size_t grown = n + PL_MIB + (size_t)step * 512 * PL_KIB + 123;
        unsigned char *q = realloc(p, grown);
        cr_assert_not_null(q, "realloc(%zu -> %zu)", n, grown);
        cr_assert(pl_aligned(q, 16));
        cr_assert_geq(pa_usable_size(q), grown);
        cr_assert(pl_check(q, n, 11), "realloc %zu -> %zu (%p -> %p) lost the contents", n, grown, (void *)p, (void *)q);
        pl_fill(q, grown, 11);
        p = q;
        n = grown;
        if (step % 2 == 0) {
            blockers[step] = malloc(3 * PL_MIB);
            cr_assert_not_null(blockers[step]);
            memset(blockers[step], 0x77, 3 * PL_MIB);
        }
    }
    for (int i = 0; i < 12; i++)
        if (blockers[i]) {
            cr_assert_geq(pa_usable_size(blockers[i]), 3 * PL_MIB);
            free(blockers[i]);
        }
    unsigned char *small = realloc(p, 1000);    /* and back down */
    cr_assert_not_null(small);
    cr_assert(pl_check(small, 1000, 11));
    free(small);
    struct mallinfo2 m1 = mallinfo2();
    /* the purge thread may start during the test: pthread_create allocates
     * a few hundred bytes for its thread-local storage, which stay in use */
    cr_assert(m1.uordblks >= m0.uordblks && m1.uordblks - m0.uordblks < 4096,
              "in use %zu before, %zu after everything was freed", m0.uordblks, m1.uordblks);
    cr_assert_eq(m1.hblks, m0.hblks);
}

Test(entry_points, realloc_of_aligned_blocks_keeps_contents)
{
    static const size_t al[] = { 64, 4096, 65536, 131072, PL_MIB, 8 * PL_MIB };
    for (size_t a = 0; a < sizeof al / sizeof al[0]; a++) {
        unsigned char *p = memalign(al[a], 3 * PL_MIB);
        cr_assert_not_null(p);
        cr_assert(pl_aligned(p, al[a]));
        pl_fill(p, 3 * PL_MIB, 5);
        unsigned char *q = realloc(p, 7 * PL_MIB);
        cr_assert_not_null(q);
        cr_assert(pl_check(q, 3 * PL_MIB, 5), "realloc of memalign(%zu, 3 MiB) lost the contents", al[a]);
        cr_assert_geq(pa_usable_size(q), 7 * PL_MIB);
        free(q);
    }
}
