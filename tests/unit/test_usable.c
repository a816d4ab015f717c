/* test_usable.c — pa_usable_size: >= the request for every kind of block,
 * exactly the class size for small blocks, whole slices for large pages,
 * 0 for NULL; and the usable tail really is usable (no overlap with the next
 * block). */
#include <stdint.h>
#include <string.h>

#include <criterion/criterion.h>

#include "internal.h"
#include "poolalloc.h"

#define KiB ((size_t)1 << 10)
#define MiB ((size_t)1 << 20)

Test(usable, null_is_zero)
{
    cr_assert_eq(pa_usable_size(NULL), 0);
}

Test(usable, small_equals_class_size)
{
    for (size_t n = 0; n <= PA_SMALL_MAX; n += (n < 2048 ? 1 : n < 32 * KiB ? 61 : 1021)) {
        void *p = pa_malloc(n);
        cr_assert_not_null(p, "malloc(%zu)", n);
        size_t u = pa_usable_size(p);
        size_t cs = pa_class_size(pa_class_of(n));
        cr_assert_eq(u, cs, "malloc(%zu): usable %zu, class size %zu", n, u, cs);
        cr_assert_eq(pa_block_size(p), u);
        pa_free(p);
    }
}

/* Large pages (128 KiB < n <= 2 MiB) are whole 64 KiB slices; huge blocks at
 * least the request, and at most a page of slack past the 4 KiB rounding. */
Test(usable, large_and_huge)
{
    static const size_t ns[] = {
        PA_SMALL_MAX + 1, 150 * KiB, 192 * KiB, 192 * KiB + 1, MiB, MiB + 1, 2 * MiB - 1, 2 * MiB,
        2 * MiB + 1, 3 * MiB, 5 * MiB + 12345, 33 * MiB,
    };
    for (size_t i = 0; i < sizeof ns / sizeof ns[0]; i++) {
        size_t n = ns[i];
        unsigned char *p = pa_malloc(n);
        cr_assert_not_null(p);
        size_t u = pa_usable_size(p);
        cr_assert_geq(u, n, "malloc(%zu): usable %zu", n, u);
        if (n <= PA_LARGE_MAX) {
            size_t want = (n + PA_SLICE_SIZE - 1) & ~(PA_SLICE_SIZE - 1);
            cr_assert_eq(u, want, "large malloc(%zu): usable %zu, expected %zu", n, u, want);
            cr_assert_eq((uintptr_t)p % PA_SLICE_SIZE, 0, "large block %p not slice aligned", (void *)p);
        } else {
            /* whole 2 MiB huge pages when that wastes at most 1/8 (huge.c) */
            cr_assert_leq(u - n, n / 8 + 2 * PA_OS_PAGE, "huge malloc(%zu): usable %zu wastes too much", n, u);
        }
        memset(p, 0x77, u);              /* all of it is ours */
        pa_free(p);
    }
}

/* Fill the whole usable size of many neighbouring blocks of each class: no
 * block's usable tail reaches into the next block. */
Test(usable, usable_tail_is_private)
{
    enum { N = 40 };
    unsigned char *p[N];
    for (size_t n = 1; n <= 70000; n = n * 3 + 1) {
        for (size_t i = 0; i < N; i++) {
            p[i] = pa_malloc(n);
            cr_assert_not_null(p[i]);
            memset(p[i], (int)i + 1, pa_usable_size(p[i]));
        }
        for (size_t i = 0; i < N; i++) {
            size_t u = pa_usable_size(p[i]);
            for (size_t k = 0; k < u; k += 7)
                cr_assert_eq(p[i][k], (unsigned char)(i + 1), "size %zu block %zu byte %zu of %zu overwritten",
                             n, i, k, u);
            cr_assert_eq(p[i][u - 1], (unsigned char)(i + 1));
        }
        for (size_t i = 0; i < N; i++) pa_free(p[i]);
    }
}

/* calloc/realloc/aligned blocks report the same kind of usable size. */
Test(usable, other_allocators)
{
    void *p = pa_calloc(10, 10);
    cr_assert_eq(pa_usable_size(p), 112);
    p = pa_realloc(p, 300);
    cr_assert_geq(pa_usable_size(p), 300);
    cr_assert_eq(pa_usable_size(p), pa_class_size(pa_class_of(300)));
    pa_free(p);
    p = pa_aligned_alloc(256, 300);
    cr_assert_geq(pa_usable_size(p), 300);
    cr_assert_eq(pa_usable_size(p) % 256, 0, "usable size of a 256-aligned block: %zu", pa_usable_size(p));
    pa_free(p);
}
