/* test_realloc.c — pa_realloc and pa_reallocarray: contents survive every
 * move between small classes, medium classes, large pages (128 KiB..2 MiB)
 * and huge mappings (> 2 MiB), growing and shrinking; the NULL and 0 cases;
 * overflow leaves the old block alone. */
#include <errno.h>
#include <stdint.h>
#include <string.h>

#include <criterion/criterion.h>

#include "internal.h"
#include "poolalloc.h"

#define KiB ((size_t)1 << 10)
#define MiB ((size_t)1 << 20)

static unsigned char pat(size_t i, unsigned seed) { return (unsigned char)((i * 131 + (i >> 9) + seed) ^ 0x5c); }

static void fill(unsigned char *p, size_t n, unsigned seed)
{
    for (size_t i = 0; i < n; i++) p[i] = pat(i, seed);
}

/* Checks all of the first n bytes up to 64 KiB, then a sparse sample and the
 * last byte (full scans of 40 MiB are slow under TSan). */
static void expect(const unsigned char *p, size_t n, unsigned seed, size_t from, size_t to)
{
    for (size_t i = 0; i < n; i += (i < 64 * KiB ? 1 : 61))
        cr_assert_eq(p[i], pat(i, seed), "realloc %zu -> %zu: byte %zu is %#x, expected %#x",
                     from, to, i, p[i], pat(i, seed));
    if (n) cr_assert_eq(p[n - 1], pat(n - 1, seed), "realloc %zu -> %zu: last byte", from, to);
}

static const size_t ladder[] = {
    1, 8, 16, 24, 100, 128, 129, 1000, 4096, 8191, 8193, 20000, 65536, 100000,
    128 * KiB, 128 * KiB + 1, 300 * KiB, MiB, 2 * MiB - 5, 2 * MiB, 2 * MiB + 1, 3 * MiB, 9 * MiB + 7, 40 * MiB,
};
#define NL (sizeof ladder / sizeof ladder[0])

Test(realloc, grow_through_every_kind)
{
    size_t n = ladder[0];
    unsigned char *p = pa_malloc(n);
    cr_assert_not_null(p);
    fill(p, n, 1);
    for (size_t i = 1; i < NL; i++) {
        size_t m = ladder[i];
        unsigned char *q = pa_realloc(p, m);
        cr_assert_not_null(q, "realloc(%zu -> %zu) failed", n, m);
        cr_assert_geq(pa_usable_size(q), m);
        expect(q, n, 1, n, m);
        fill(q, m, 1);                   /* the new tail too, for the next step */
        p = q;
        n = m;
    }
    pa_free(p);
}

Test(realloc, shrink_through_every_kind)
{
    size_t n = ladder[NL - 1];
    unsigned char *p = pa_malloc(n);
    cr_assert_not_null(p);
    fill(p, n, 2);
    for (size_t i = NL - 1; i-- > 0;) {
        size_t m = ladder[i];
        unsigned char *q = pa_realloc(p, m);
        cr_assert_not_null(q, "realloc(%zu -> %zu) failed", n, m);
        cr_assert_geq(pa_usable_size(q), m);
        expect(q, m, 2, n, m);
        p = q;
        n = m;
    }
    pa_free(p);
}

/* Every pair of ladder sizes, each from a fresh block: grow or shrink by any
 * factor, across any kinds. */
Test(realloc, every_pair)
{
    for (size_t i = 0; i < NL; i++) {
        if (ladder[i] > 3 * MiB) continue;
        for (size_t j = 0; j < NL; j++) {
            if (ladder[j] > 3 * MiB) continue;
            size_t n = ladder[i], m = ladder[j];
            unsigned char *p = pa_malloc(n);
            cr_assert_not_null(p);
            fill(p, n, (unsigned)(i + j));
            unsigned char *q = pa_realloc(p, m);
            cr_assert_not_null(q);
            cr_assert_geq(pa_usable_size(q), m, "realloc %zu -> %zu: usable %zu", n, m, pa_usable_size(q));
            expect(q, n < m ? n : m, (unsigned)(i + j), n, m);
            memset(q, 0xee, m);          /* the whole new size is writable */
            pa_free(q);
        }
    }
}

/* Blocks that are live around the one being reallocated are not disturbed. */
Test(realloc, neighbours_untouched)
{
    enum { N = 64 };
    unsigned char *nb[N];
    for (size_t i = 0; i < N; i++) {
        nb[i] = pa_malloc(48);
        memset(nb[i], (int)i, 48);
    }
    unsigned char *p = nb[N / 2];
    for (size_t i = 0; i < NL && ladder[i] <= 3 * MiB; i++) {
        p = pa_realloc(p, ladder[i]);
        cr_assert_not_null(p);
        memset(p, 0xab, ladder[i]);
    }
    for (size_t i = 0; i < N; i++) {
        if (i == N / 2) continue;
        for (size_t k = 0; k < 48; k++) cr_assert_eq(nb[i][k], (unsigned char)i, "neighbour %zu byte %zu", i, k);
        pa_free(nb[i]);
    }
    pa_free(p);
}

Test(realloc, null_allocates)
{
    static const size_t ns[] = { 0, 1, 100, 5000, 200 * KiB, 5 * MiB };
    for (size_t i = 0; i < sizeof ns / sizeof ns[0]; i++) {
        unsigned char *p = pa_realloc(NULL, ns[i]);
        cr_assert_not_null(p, "realloc(NULL, %zu)", ns[i]);
        cr_assert_geq(pa_usable_size(p), ns[i]);
        memset(p, 1, ns[i]);
        pa_free(p);
    }
}

Test(realloc, size_zero_frees)
{
    static const size_t ns[] = { 1, 100, 5000, 200 * KiB, 5 * MiB };
    for (size_t i = 0; i < sizeof ns / sizeof ns[0]; i++) {
        pa_stats_t before, after;
        void *p = pa_malloc(ns[i]);
        cr_assert_not_null(p);
        pa_stats_get(&before);
        cr_assert_null(pa_realloc(p, 0), "realloc(p, 0) must free and return NULL (size %zu)", ns[i]);
        pa_stats_get(&after);
        cr_assert_eq(after.free_objects, before.free_objects + 1, "realloc(p, 0) of %zu bytes did not free", ns[i]);
        cr_assert_eq(after.live_objects, before.live_objects - 1);
    }
}

/* Shrinking a little keeps the block (no copy); growing within the usable
 * size too. */
Test(realloc, in_place_when_it_fits)
{
    unsigned char *p = pa_malloc(1000);
    size_t u = pa_usable_size(p);
    fill(p, 1000, 3);
    cr_assert_eq(pa_realloc(p, u), p, "growing within the usable size moved the block");
    cr_assert_eq(pa_realloc(p, 900), p, "shrinking by 10%% moved the block");
    expect(p, 900, 3, 1000, 900);
    pa_free(p);

    p = pa_malloc(10 * MiB);
    fill(p, 4096, 4);
    cr_assert_eq(pa_realloc(p, 9 * MiB), p, "shrinking a huge block by 10%% moved it");
    expect(p, 4096, 4, 10 * MiB, 9 * MiB);
    pa_free(p);
}

/* A buffer grown a few bytes at a time (realloc(len + 8)) moves once per
 * quarter of its size, not at every size class it crosses: each move leaves
 * at least 1.25 times the usable size it had, and the contents survive. */
Test(realloc, moves_grow_by_a_quarter)
{
    size_t n = 1000, moves = 0;
    unsigned char *p = pa_malloc(n);
    fill(p, n, 8);
    while (n < 256 * KiB) {
        size_t had = pa_usable_size(p);
        unsigned char *q = pa_realloc(p, n + 8);
        cr_assert_not_null(q);
        if (q != p) {
            moves++;
            cr_assert_geq(pa_usable_size(q), had + had / 4, "realloc %zu -> %zu moved into %zu usable bytes, had %zu",
                          n, n + 8, pa_usable_size(q), had);
            expect(q, n, 8, n, n + 8);
        }
        for (size_t i = n; i < n + 8; i++) q[i] = pat(i, 8);
        p = q;
        n += 8;
    }
    expect(p, n, 8, n, n);
    pa_free(p);
    /* 1000 B -> 256 KiB is 8 doublings: 25 quarters (more, where a class or a
     * 64 KiB slice rounds up); every size class on the way would be ~40 moves */
    cr_assert_leq(moves, 25, "%zu moves growing 1000 B to 256 KiB by 8 bytes", moves);
}

/* A large block grows into the free slices after it without moving; with a
 * neighbour in the way it moves. The statistics follow the growth. */
Test(realloc, large_grows_in_place)
{
    unsigned char *p = pa_malloc(200 * KiB);
    fill(p, 200 * KiB, 6);
    unsigned char *q = pa_realloc(p, 700 * KiB);
    cr_assert_eq(q, p, "a large block with free slices after it moved when grown");
    cr_assert_geq(pa_usable_size(q), 700 * KiB);
    expect(q, 200 * KiB, 6, 200 * KiB, 700 * KiB);
    pa_stats_t st;
    pa_stats_get(&st);
    cr_assert_eq(st.large_live_bytes, pa_usable_size(q), "large_live_bytes %llu after growth to %zu",
                 (unsigned long long)st.large_live_bytes, pa_usable_size(q));

    unsigned char *n = pa_malloc(300 * KiB);
    cr_assert_eq(n, q + pa_usable_size(q), "setup: the neighbour should follow the block");
    fill(q, 700 * KiB, 7);
    unsigned char *r = pa_realloc(q, MiB);
    cr_assert_neq(r, q, "grew over its neighbour");
    expect(r, 700 * KiB, 7, 700 * KiB, MiB);
    pa_free(n);
    pa_free(r);
    pa_stats_get(&st);
    cr_assert_eq(st.large_live_bytes, 0, "large_live_bytes %llu after freeing all", (unsigned long long)st.large_live_bytes);
}

/* Shrinking a lot must really give the memory back: a 1 MiB realloc'd down
 * to 16 bytes ends up in a 16-byte class. */
Test(realloc, large_shrink_moves)
{
    unsigned char *p = pa_malloc(MiB);
    fill(p, 16, 5);
    unsigned char *q = pa_realloc(p, 16);
    cr_assert_not_null(q);
    cr_assert_eq(pa_usable_size(q), 16, "1 MiB shrunk to 16 bytes still has usable size %zu", pa_usable_size(q));
    expect(q, 16, 5, MiB, 16);
    pa_free(q);
}

Test(realloc, reallocarray)
{
    size_t *p = pa_reallocarray(NULL, 10, sizeof(size_t));
    cr_assert_not_null(p);
    for (size_t i = 0; i < 10; i++) p[i] = i * 3;
    p = pa_reallocarray(p, 100000, sizeof(size_t));
    cr_assert_not_null(p);
    cr_assert_geq(pa_usable_size(p), 100000 * sizeof(size_t));
    for (size_t i = 0; i < 10; i++) cr_assert_eq(p[i], i * 3);

    errno = 0;
    size_t *q = pa_reallocarray(p, SIZE_MAX / 4, 8);
    cr_assert_null(q, "reallocarray overflow succeeded");
    cr_assert_eq(errno, ENOMEM);
    for (size_t i = 0; i < 10; i++) cr_assert_eq(p[i], i * 3, "old block changed by a failed reallocarray");
    cr_assert_geq(pa_usable_size(p), 100000 * sizeof(size_t));
    p[99999] = 7;                                 /* still writable */
    pa_free(p);
}

/* A realloc that cannot be satisfied returns NULL with ENOMEM and leaves the
 * old block valid and unchanged. */
Test(realloc, failure_keeps_old_block)
{
    unsigned char *p = pa_malloc(5000);
    fill(p, 5000, 6);
    errno = 0;
    cr_assert_null(pa_realloc(p, SIZE_MAX - 100));
    cr_assert_eq(errno, ENOMEM);
    errno = 0;
    cr_assert_null(pa_realloc(p, SIZE_MAX / 2));
    cr_assert_eq(errno, ENOMEM);
    expect(p, 5000, 6, 5000, 0);
    cr_assert_geq(pa_usable_size(p), 5000);
    pa_free(p);
}

/* ---- huge blocks grow without copying (mremap) -------------------------- */

#include <sys/mman.h>

static pa_stats_t stats_now(void)
{
    pa_stats_t s;
    pa_stats_get(&s);
    return s;
}

/* Grows a huge block step by step; statistics follow: still one object, its
 * bytes the current usable size; after free + trim nothing is left mapped. */
static void grow_huge_and_check(bool obstacle)
{
    pa_free(pa_malloc(16));
    pa_stats_t base = stats_now();
    size_t n = 3 * MiB;
    unsigned char *p = pa_malloc(n);
    cr_assert_not_null(p);
    fill(p, n, 9);
    void *block = NULL;
    if (obstacle) {
        /* a mapping right after the block's mapping: growing in place is
         * impossible, the pages have to move */
        uint8_t *seg = (uint8_t *)pa_segment_of(p);
        uint8_t *end = seg + ((256 + n + PA_OS_PAGE - 1) & ~(size_t)(PA_OS_PAGE - 1));
        block = mmap(end, PA_OS_PAGE, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0);
        cr_assert_eq(block, end, "could not place the obstacle mapping at %p", (void *)end);
    }
    static const size_t steps[] = { 3 * MiB + 1, 5 * MiB, 9 * MiB + 12345, 33 * MiB, 80 * MiB };
    for (size_t i = 0; i < sizeof steps / sizeof steps[0]; i++) {
        size_t m = steps[i];
        unsigned char *q = pa_realloc(p, m);
        cr_assert_not_null(q, "realloc(%zu -> %zu) failed", n, m);
        cr_assert_eq((uintptr_t)q % 16, 0);
        size_t u = pa_usable_size(q);
        cr_assert_geq(u, m);
        expect(q, n, 9, n, m);
        fill(q, m, 9);
        pa_stats_t st = stats_now();
        cr_assert_eq(st.live_objects, base.live_objects + 1, "after realloc to %zu: %llu live objects", m,
                     (unsigned long long)st.live_objects);
        cr_assert_eq(st.large_live_bytes, u, "after realloc to %zu: large_live_bytes %llu, usable %zu", m,
                     (unsigned long long)st.large_live_bytes, u);
        cr_assert_eq(st.live_bytes, base.live_bytes + u);
        cr_assert_geq(st.mapped_bytes, base.mapped_bytes + u);
        cr_assert_leq(st.mapped_bytes, base.mapped_bytes + u + 2 * PA_SEG_SIZE,
                      "after realloc to %zu mapped is %llu (base %llu, usable %zu)", m,
                      (unsigned long long)st.mapped_bytes, (unsigned long long)base.mapped_bytes, u);
        p = q;
        n = m;
    }
    pa_free(p);
    pa_trim();
    pa_stats_t st = stats_now();
    cr_assert_eq(st.live_objects, base.live_objects);
    cr_assert_eq(st.large_live_bytes, 0);
    /* (trim also returns the segment of the 16-byte block freed at the start) */
    cr_assert_leq(st.mapped_bytes, base.mapped_bytes, "after free + trim mapped %llu, before %llu",
                 (unsigned long long)st.mapped_bytes, (unsigned long long)base.mapped_bytes);
    if (block) munmap(block, PA_OS_PAGE);
}

Test(realloc, huge_grows_in_place_or_moves)
{
    grow_huge_and_check(false);
}

Test(realloc, huge_grows_past_an_obstacle)
{
    grow_huge_and_check(true);
}

/* Aligned huge blocks (their header is not at the usual offset) grow too, and
 * keep their data (alignment after a realloc is not promised). */
Test(realloc, aligned_huge_grows)
{
    unsigned char *p = pa_aligned_alloc(4 * MiB, 3 * MiB);
    cr_assert_not_null(p);
    fill(p, 3 * MiB, 10);
    unsigned char *q = pa_realloc(p, 20 * MiB);
    cr_assert_not_null(q);
    expect(q, 3 * MiB, 10, 3 * MiB, 20 * MiB);
    memset(q + 3 * MiB, 0, 17 * MiB);
    pa_free(q);
}
