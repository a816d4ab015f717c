/* test_alignment.c — pa_aligned_alloc, pa_posix_memalign and pa_memalign:
 * every power-of-two alignment from 16 bytes to 8 MiB with sizes that hit
 * small classes, large pages and huge mappings; results must be aligned,
 * writable over the whole size, not overlap each other, report a usable size
 * >= the request and be freeable; and the C11/POSIX/glibc error rules. */
#include <errno.h>
#include <stdint.h>
#include <string.h>

#include <criterion/criterion.h>

#include "internal.h"
#include "poolalloc.h"

#define KiB ((size_t)1 << 10)
#define MiB ((size_t)1 << 20)

enum api { ALIGNED_ALLOC, POSIX_MEMALIGN, MEMALIGN };
static const char *api_name[] = { "aligned_alloc", "posix_memalign", "memalign" };

static void *alloc_with(enum api api, size_t align, size_t size)
{
    switch (api) {
    case ALIGNED_ALLOC: return pa_aligned_alloc(align, size);
    case MEMALIGN:      return pa_memalign(align, size);
    case POSIX_MEMALIGN: {
        void *p = (void *)0x1;
        int rc = pa_posix_memalign(&p, align, size);
        cr_assert_eq(rc, 0, "posix_memalign(%zu, %zu) returned %d", align, size, rc);
        return p;
    }
    }
    return NULL;
}

static const size_t sizes[] = { 0, 1, 15, 16, 17, 100, 4095, 4096, 65537, MiB + 3, 3 * MiB };
#define NSIZES (sizeof sizes / sizeof sizes[0])

/* Allocates every size with `align`, keeps them all live, fills each with its
 * own byte, then checks every fill survived (no two blocks overlap). */
static void check_align(enum api api, size_t align, size_t first_size)
{
    void *p[NSIZES] = { 0 };
    for (size_t i = first_size; i < NSIZES; i++) {
        size_t n = sizes[i];
        p[i] = alloc_with(api, align, n);
        cr_assert_not_null(p[i], "%s(%zu, %zu) returned NULL", api_name[api], align, n);
        cr_assert_eq((uintptr_t)p[i] % align, 0, "%s(%zu, %zu) = %p is misaligned",
                     api_name[api], align, n, p[i]);
        size_t u = pa_usable_size(p[i]);
        cr_assert_geq(u, n, "%s(%zu, %zu): usable size %zu", api_name[api], align, n, u);
        memset(p[i], (int)(0x40 + i), n);
    }
    for (size_t i = first_size; i < NSIZES; i++) {
        const unsigned char *b = p[i];
        for (size_t k = 0; k < sizes[i]; k += (k < 8192 ? 1 : 509))
            cr_assert_eq(b[k], 0x40 + i, "%s(%zu, %zu): byte %zu overwritten", api_name[api], align, sizes[i], k);
        if (sizes[i]) cr_assert_eq(b[sizes[i] - 1], 0x40 + i);
    }
    for (size_t i = first_size; i < NSIZES; i++) pa_free(p[i]);
}

/* Alignments a size class or a large page can serve (up to one slice). */
Test(alignment, page_alignments_all_sizes)
{
    for (size_t a = 16; a <= 64 * KiB; a <<= 1)
        for (int api = 0; api < 3; api++) check_align(api, a, 0);
}

/* Alignments above 64 KiB go to huge mappings; size 0 is tested apart. */
Test(alignment, huge_alignments_nonzero_sizes)
{
    for (size_t a = 128 * KiB; a <= 8 * MiB; a <<= 1)
        for (int api = 0; api < 3; api++) check_align(api, a, 1);
}

/* malloc(0)-style requests with a big alignment must still give a unique,
 * freeable block whose usable size can be asked for. */
Test(alignment, huge_alignments_size_zero)
{
    for (size_t a = 128 * KiB; a <= 8 * MiB; a <<= 1) {
        for (int api = 0; api < 3; api++) {
            void *p = alloc_with(api, a, 0), *q = alloc_with(api, a, 0);
            cr_assert_not_null(p, "%s(%zu, 0) returned NULL", api_name[api], a);
            cr_assert_not_null(q);
            cr_assert_neq(p, q, "%s(%zu, 0) returned the same block twice", api_name[api], a);
            cr_assert_eq((uintptr_t)p % a, 0);
            cr_assert_eq((uintptr_t)q % a, 0);
            (void)pa_usable_size(p);             /* must not abort */
            (void)pa_usable_size(q);
            pa_free(q);
            pa_free(p);
        }
    }
}

/* Small alignments (<= 16, any power of two) are plain malloc. */
Test(alignment, tiny_alignments)
{
    for (size_t a = 1; a <= 16; a <<= 1) {
        void *p = pa_aligned_alloc(a, 24);
        cr_assert_not_null(p);
        cr_assert_eq((uintptr_t)p % 16, 0);
        cr_assert_geq(pa_usable_size(p), 24);
        pa_free(p);
        p = pa_memalign(a, 24);
        cr_assert_not_null(p);
        cr_assert_eq((uintptr_t)p % 16, 0);
        pa_free(p);
    }
    void *p = NULL;
    cr_assert_eq(pa_posix_memalign(&p, sizeof(void *), 24), 0);
    cr_assert_not_null(p);
    pa_free(p);
}

/* Many live aligned blocks of one class: all aligned and distinct (the class
 * pages hand out consecutive blocks, so every block start must be aligned, not
 * only the first of a page). */
Test(alignment, many_blocks_stay_aligned)
{
    enum { N = 300 };
    static void *p[N];
    for (size_t a = 32; a <= 64 * KiB; a <<= 1) {
        size_t n = a + 1 <= 8 * KiB ? a + 1 : a / 2 + 1;   /* odd sizes: rounding matters */
        size_t count = a >= 16 * KiB ? 40 : N;
        for (size_t i = 0; i < count; i++) {
            p[i] = pa_aligned_alloc(a, n);
            cr_assert_not_null(p[i]);
            cr_assert_eq((uintptr_t)p[i] % a, 0, "block %zu of aligned_alloc(%zu, %zu) = %p", i, a, n, p[i]);
            *(size_t *)p[i] = i;
            ((unsigned char *)p[i])[n - 1] = (unsigned char)i;
        }
        for (size_t i = 0; i < count; i++) {
            cr_assert_eq(*(size_t *)p[i], i, "aligned blocks overlap (align %zu)", a);
            cr_assert_eq(((unsigned char *)p[i])[n - 1], (unsigned char)i);
            pa_free(p[i]);
        }
    }
}

Test(alignment, aligned_alloc_errors)
{
    static const size_t bad[] = { 0, 3, 24, 48, 65535 };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        errno = 0;
        cr_assert_null(pa_aligned_alloc(bad[i], 64), "aligned_alloc(%zu, 64) succeeded", bad[i]);
        cr_assert_eq(errno, EINVAL, "aligned_alloc(%zu): errno %d", bad[i], errno);
    }
    /* an impossible size with a valid alignment is ENOMEM, not EINVAL */
    errno = 0;
    cr_assert_null(pa_aligned_alloc(64, SIZE_MAX - 10));
    cr_assert_eq(errno, ENOMEM);
    errno = 0;
    cr_assert_null(pa_aligned_alloc(4 * MiB, SIZE_MAX / 2));
    cr_assert_eq(errno, ENOMEM);
}

Test(alignment, posix_memalign_errors)
{
    static const size_t bad[] = { 0, 3, 4, 12, 24, 48 };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        void *out = (void *)0x1234;
        errno = 1234;
        int rc = pa_posix_memalign(&out, bad[i], 64);
        cr_assert_eq(rc, EINVAL, "posix_memalign(%zu): rc %d", bad[i], rc);
        cr_assert_eq(out, (void *)0x1234, "posix_memalign(%zu) touched the output on error", bad[i]);
        cr_assert_eq(errno, 1234, "posix_memalign changed errno");
    }
    void *out = (void *)0x1234;
    errno = 1234;
    cr_assert_eq(pa_posix_memalign(&out, 64, SIZE_MAX - 10), ENOMEM);
    cr_assert_eq(out, (void *)0x1234, "posix_memalign touched the output on ENOMEM");
    cr_assert_eq(errno, 1234, "posix_memalign changed errno on ENOMEM");
}

/* glibc's memalign rounds an alignment that is not a power of two up. */
Test(alignment, memalign_rounds_alignment_up)
{
    static const struct { size_t in, eff; } cases[] = {
        { 0, 16 }, { 3, 16 }, { 17, 32 }, { 24, 32 }, { 48, 64 }, { 100, 128 }, { 1000, 1024 },
        { 3000, 4096 }, { 40000, 65536 }, { 100000, 131072 }, { 3 * MiB, 4 * MiB },
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        for (size_t n = 1; n <= 5000; n += 4999) {
            void *p = pa_memalign(cases[i].in, n);
            cr_assert_not_null(p, "memalign(%zu, %zu) failed", cases[i].in, n);
            cr_assert_eq((uintptr_t)p % cases[i].eff, 0, "memalign(%zu, %zu) = %p not %zu-aligned",
                         cases[i].in, n, p, cases[i].eff);
            cr_assert_geq(pa_usable_size(p), n);
            memset(p, 0x5a, n);
            pa_free(p);
        }
    }
    errno = 0;
    cr_assert_null(pa_memalign(SIZE_MAX / 2 + 2, 16));
    cr_assert_eq(errno, EINVAL);
}

/* An aligned block is an ordinary block: realloc and usable_size work on it. */
Test(alignment, aligned_blocks_realloc)
{
    for (size_t a = 32; a <= 8 * MiB; a <<= 2) {
        unsigned char *p = pa_aligned_alloc(a, 1000);
        cr_assert_not_null(p);
        for (size_t k = 0; k < 1000; k++) p[k] = (unsigned char)(k * 7);
        unsigned char *q = pa_realloc(p, 300 * KiB);
        cr_assert_not_null(q);
        for (size_t k = 0; k < 1000; k++) cr_assert_eq(q[k], (unsigned char)(k * 7), "align %zu byte %zu", a, k);
        pa_free(q);
    }
}
