/* test_errors.c — impossible requests fail the standard way: NULL (or an
 * error code) and the right errno, leaving existing blocks untouched. */
#include <criterion/criterion.h>
#include <errno.h>
#include <malloc.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "poolalloc.h"
#include "pl_util.h"

#define EXPECT_ENOMEM(call)                                                        \
    do {                                                                           \
        errno = 0;                                                                 \
        void *p_ = (call);                                                         \
        int e_ = errno;                                                            \
        cr_assert_null(p_, #call " returned %p", p_);                              \
        cr_assert_eq(e_, ENOMEM, #call ": errno %d (%s), want ENOMEM", e_, strerror(e_)); \
    } while (0)

#define EXPECT_EINVAL(call)                                                        \
    do {                                                                           \
        errno = 0;                                                                 \
        void *p_ = (call);                                                         \
        int e_ = errno;                                                            \
        cr_assert_null(p_, #call " returned %p", p_);                              \
        cr_assert_eq(e_, EINVAL, #call ": errno %d (%s), want EINVAL", e_, strerror(e_)); \
    } while (0)

Test(errors, malloc_impossible_sizes)
{
    EXPECT_ENOMEM(malloc(pl_size(SIZE_MAX)));
    EXPECT_ENOMEM(malloc(pl_size(PTRDIFF_MAX)));
    EXPECT_ENOMEM(malloc(pl_size(SIZE_MAX - 4096)));
    EXPECT_ENOMEM(malloc(pl_size((size_t)PTRDIFF_MAX + 1)));
    /* and the allocator still works afterwards */
    void *p = malloc(100);
    cr_assert_not_null(p);
    free(p);
}

Test(errors, calloc_overflow_and_impossible_sizes)
{
    EXPECT_ENOMEM(calloc(pl_size(SIZE_MAX / 2 + 1), 2));
    EXPECT_ENOMEM(calloc(2, pl_size(SIZE_MAX / 2 + 1)));
    EXPECT_ENOMEM(calloc(pl_size((size_t)1 << 32), pl_size((size_t)1 << 32)));
    EXPECT_ENOMEM(calloc(pl_size(SIZE_MAX), pl_size(SIZE_MAX)));
    EXPECT_ENOMEM(calloc(1, pl_size(SIZE_MAX)));
    EXPECT_ENOMEM(calloc(1, pl_size(PTRDIFF_MAX)));
}

Test(errors, realloc_failure_keeps_the_old_block)
{
    unsigned char *p = malloc(1000);
    cr_assert_not_null(p);
    pl_fill(p, 1000, 3);
    EXPECT_ENOMEM(realloc(pl_launder(p), pl_size(SIZE_MAX)));
    EXPECT_ENOMEM(realloc(pl_launder(p), pl_size(PTRDIFF_MAX)));
    cr_assert_eq(pa_usable_size(pl_launder(p)), malloc_usable_size(pl_launder(p)));
    cr_assert(pl_check(pl_launder(p), 1000, 3), "failed realloc damaged the old block");
    unsigned char *q = realloc(pl_launder(p), 2000);      /* still a live, reallocatable block */
    cr_assert_not_null(q);
    cr_assert(pl_check(q, 1000, 3));
    free(q);
}

Test(errors, reallocarray_overflow_keeps_the_old_block)
{
    unsigned char *p = malloc(1000);
    cr_assert_not_null(p);
    pl_fill(p, 1000, 4);
    EXPECT_ENOMEM(reallocarray(pl_launder(p), pl_size(SIZE_MAX / 2 + 1), 2));
    EXPECT_ENOMEM(reallocarray(pl_launder(p), pl_size((size_t)1 << 33), pl_size((size_t)1 << 31)));
    EXPECT_ENOMEM(reallocarray(NULL, pl_size(SIZE_MAX), pl_size(SIZE_MAX)));
    cr_assert(pl_check(pl_launder(p), 1000, 4), "failed reallocarray damaged the old block");
    cr_assert_geq(pa_usable_size(pl_launder(p)), 1000);
    unsigned char *q = reallocarray(pl_launder(p), 500, 4);
    cr_assert_not_null(q);
    cr_assert(pl_check(q, 1000, 4));
    free(q);
}

Test(errors, aligned_alloc_bad_alignment)
{
    EXPECT_EINVAL(aligned_alloc(pl_size(3), 16));
    EXPECT_EINVAL(aligned_alloc(pl_size(0), 16));
    EXPECT_EINVAL(aligned_alloc(pl_size(24), 16));
    EXPECT_EINVAL(aligned_alloc(pl_size(4097), 16));
    EXPECT_EINVAL(aligned_alloc(pl_size(SIZE_MAX), 16));
    EXPECT_ENOMEM(aligned_alloc(64, pl_size(SIZE_MAX)));
    EXPECT_ENOMEM(aligned_alloc(4096, pl_size(PTRDIFF_MAX)));
}

Test(errors, posix_memalign_bad_alignment)
{
    static const size_t bad[] = { 0, 1, 2, 3, 4, 12, 24, 48, 100, 4097, SIZE_MAX };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        void *p = (void *)0x1234;
        errno = 77;
        int rc = posix_memalign(&p, pl_size(bad[i]), 16);
        cr_assert_eq(rc, EINVAL, "posix_memalign(&p, %zu, 16) = %d, want EINVAL", bad[i], rc);
        cr_assert_eq(p, (void *)0x1234, "posix_memalign wrote *out on failure");
        cr_assert_eq(errno, 77, "posix_memalign must not set errno");
    }
}

Test(errors, posix_memalign_impossible_size)
{
    void *p = (void *)0x1234;
    errno = 77;
    int rc = posix_memalign(&p, 64, pl_size(SIZE_MAX));
    cr_assert_eq(rc, ENOMEM);
    cr_assert_eq(p, (void *)0x1234);
    cr_assert_eq(errno, 77, "posix_memalign must not set errno");
    rc = posix_memalign(&p, 8, pl_size(PTRDIFF_MAX));
    cr_assert_eq(rc, ENOMEM);
    cr_assert_eq(errno, 77);
    rc = posix_memalign(&p, 8 * PL_MIB, pl_size(PTRDIFF_MAX));
    cr_assert_eq(rc, ENOMEM);
    cr_assert_eq(errno, 77);
}

Test(errors, memalign_valloc_pvalloc_impossible)
{
    EXPECT_ENOMEM(memalign(64, pl_size(SIZE_MAX)));
    EXPECT_ENOMEM(memalign(64, pl_size(PTRDIFF_MAX)));
    EXPECT_EINVAL(memalign(pl_size(SIZE_MAX), 16));
    EXPECT_ENOMEM(valloc(pl_size(SIZE_MAX)));
    EXPECT_ENOMEM(valloc(pl_size(PTRDIFF_MAX)));
    EXPECT_ENOMEM(pvalloc(pl_size(SIZE_MAX)));
    EXPECT_ENOMEM(pvalloc(pl_size(SIZE_MAX - 4095)));
    EXPECT_ENOMEM(pvalloc(pl_size(PTRDIFF_MAX)));
}

Test(errors, success_leaves_errno_alone)
{
    errno = 55;
    void *p = malloc(100), *q = calloc(10, 10), *r = memalign(64, 100);
    p = realloc(p, 5000);
    cr_assert_eq(errno, 55);
    free(p);
    free(q);
    free(r);
    void *h = malloc(3 * PL_MIB);
    free(h);
    cr_assert_eq(errno, 55, "free of a huge block changed errno");
}
