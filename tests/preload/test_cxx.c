/* test_cxx.c — C++ operator new and delete, exported by poolalloc under their
 * mangled names (preload/cxx.c), called here directly from C. */
#include <criterion/criterion.h>
#include <signal.h>
#include <stdint.h>
#include <string.h>

#include "poolalloc.h"
#include "pl_util.h"

/* operator new / new[] */
extern void *_Znwm(size_t);
extern void *_Znam(size_t);
extern void *_ZnwmRKSt9nothrow_t(size_t, const void *);
extern void *_ZnamRKSt9nothrow_t(size_t, const void *);
extern void *_ZnwmSt11align_val_t(size_t, size_t);
extern void *_ZnamSt11align_val_t(size_t, size_t);
extern void *_ZnwmSt11align_val_tRKSt9nothrow_t(size_t, size_t, const void *);
extern void *_ZnamSt11align_val_tRKSt9nothrow_t(size_t, size_t, const void *);
/* operator delete / delete[] */
extern void _ZdlPv(void *);
extern void _ZdaPv(void *);
extern void _ZdlPvm(void *, size_t);
extern void _ZdaPvm(void *, size_t);
extern void _ZdlPvRKSt9nothrow_t(void *, const void *);
extern void _ZdaPvRKSt9nothrow_t(void *, const void *);
extern void _ZdlPvSt11align_val_t(void *, size_t);
extern void _ZdaPvSt11align_val_t(void *, size_t);
extern void _ZdlPvmSt11align_val_t(void *, size_t, size_t);
extern void _ZdaPvmSt11align_val_t(void *, size_t, size_t);
extern void _ZdlPvSt11align_val_tRKSt9nothrow_t(void *, size_t, const void *);
extern void _ZdaPvSt11align_val_tRKSt9nothrow_t(void *, size_t, const void *);

static const char nothrow_tag = 0;   /* stands in for std::nothrow */
#define NT ((const void *)&nothrow_tag)

static const size_t sizes[] = { 0, 1, 16, 24, 100, 1000, 4096, 5000, 70000, 200000, PL_MIB, 3 * PL_MIB };
#define NSIZES (sizeof sizes / sizeof sizes[0])
static const size_t aligns[] = { 32, 64, 128, 256, 512, 1024, 2048, 4096 };
#define NALIGNS (sizeof aligns / sizeof aligns[0])

static uint64_t frees_now(void)
{
    pa_stats_t s;
    pl_stats_get(&s);
    return s.free_objects;
}

static void check_new(void *p, size_t size, size_t align, const char *form)
{
    cr_assert_not_null(p, "%s(%zu) returned NULL", form, size);
    cr_assert(pl_aligned(p, align), "%s(%zu) = %p is not %zu-aligned", form, size, p, align);
    size_t usable = pa_usable_size(p);        /* aborts if not poolalloc's */
    cr_assert_geq(usable, size ? size : 1, "%s(%zu): usable %zu", form, size, usable);
    memset(p, 0x3c, usable);
}

#define DELETED(before, form, size) \
    cr_assert_eq(frees_now(), (before) + 1, "%s did not free a block of %zu bytes", form, (size_t)(size))

Test(cxx, plain_new_and_delete)
{
    for (size_t i = 0; i < NSIZES; i++) {
        size_t n = sizes[i];
        uint64_t b;
        void *p;
        p = _Znwm(n); check_new(p, n, 16, "new");
        b = frees_now(); _ZdlPv(p); DELETED(b, "delete", n);
        p = _Znam(n); check_new(p, n, 16, "new[]");
        b = frees_now(); _ZdaPv(p); DELETED(b, "delete[]", n);
        p = _Znwm(n); check_new(p, n, 16, "new");
        b = frees_now(); _ZdlPvm(p, n); DELETED(b, "sized delete", n);
        p = _Znam(n); check_new(p, n, 16, "new[]");
        b = frees_now(); _ZdaPvm(p, n); DELETED(b, "sized delete[]", n);
    }
}

Test(cxx, nothrow_new_and_delete)
{
    for (size_t i = 0; i < NSIZES; i++) {
        size_t n = sizes[i];
        uint64_t b;
        void *p;
        p = _ZnwmRKSt9nothrow_t(n, NT); check_new(p, n, 16, "new(nothrow)");
        b = frees_now(); _ZdlPvRKSt9nothrow_t(p, NT); DELETED(b, "delete(nothrow)", n);
        p = _ZnamRKSt9nothrow_t(n, NT); check_new(p, n, 16, "new[](nothrow)");
        b = frees_now(); _ZdaPvRKSt9nothrow_t(p, NT); DELETED(b, "delete[](nothrow)", n);
    }
}

Test(cxx, aligned_new_and_delete)
{
    for (size_t a = 0; a < NALIGNS; a++)
        for (size_t i = 0; i < NSIZES; i++) {
            size_t n = sizes[i], al = aligns[a];
            uint64_t b;
            void *p;
            p = _ZnwmSt11align_val_t(n, al); check_new(p, n, al, "new(align)");
            b = frees_now(); _ZdlPvSt11align_val_t(p, al); DELETED(b, "delete(align)", n);
            p = _ZnamSt11align_val_t(n, al); check_new(p, n, al, "new[](align)");
            b = frees_now(); _ZdaPvSt11align_val_t(p, al); DELETED(b, "delete[](align)", n);
            p = _ZnwmSt11align_val_t(n, al); check_new(p, n, al, "new(align)");
            b = frees_now(); _ZdlPvmSt11align_val_t(p, n, al); DELETED(b, "sized delete(align)", n);
            p = _ZnamSt11align_val_t(n, al); check_new(p, n, al, "new[](align)");
            b = frees_now(); _ZdaPvmSt11align_val_t(p, n, al); DELETED(b, "sized delete[](align)", n);
            p = _ZnwmSt11align_val_tRKSt9nothrow_t(n, al, NT); check_new(p, n, al, "new(align, nothrow)");
            b = frees_now(); _ZdlPvSt11align_val_tRKSt9nothrow_t(p, al, NT); DELETED(b, "delete(align, nothrow)", n);
            p = _ZnamSt11align_val_tRKSt9nothrow_t(n, al, NT); check_new(p, n, al, "new[](align, nothrow)");
            b = frees_now(); _ZdaPvSt11align_val_tRKSt9nothrow_t(p, al, NT); DELETED(b, "delete[](align, nothrow)", n);
        }
}

Test(cxx, over_aligned_new_beyond_a_page)
{
    static const size_t big[] = { 8192, 65536, 131072, PL_MIB, 4 * PL_MIB };
    for (size_t a = 0; a < sizeof big / sizeof big[0]; a++) {
        void *p = _ZnwmSt11align_val_t(100, big[a]);
        check_new(p, 100, big[a], "new(align)");
        _ZdlPvSt11align_val_t(p, big[a]);
    }
}

Test(cxx, delete_null_is_a_no_op)
{
    uint64_t b = frees_now();
    _ZdlPv(NULL);
    _ZdaPv(NULL);
    _ZdlPvm(NULL, 8);
    _ZdlPvSt11align_val_t(NULL, 64);
    cr_assert_eq(frees_now(), b);
}

Test(cxx, nothrow_new_of_impossible_size_returns_null)
{
    size_t huge = pl_size(SIZE_MAX);
    cr_assert_null(_ZnwmRKSt9nothrow_t(huge, NT));
    cr_assert_null(_ZnamRKSt9nothrow_t(huge, NT));
    cr_assert_null(_ZnwmSt11align_val_tRKSt9nothrow_t(huge, 64, NT));
    cr_assert_null(_ZnamSt11align_val_tRKSt9nothrow_t(huge, 4096, NT));
    cr_assert_null(_ZnwmRKSt9nothrow_t(pl_size(PTRDIFF_MAX), NT));
}

extern void _ZSt17__throw_bad_allocv(void) __attribute__((weak));

static void throwing_new_fails(void *arg)
{
    (void)arg;
    void *p = _Znwm(pl_size(SIZE_MAX));
    (void)p;
}

/* No libstdc++ in this process, so there is no bad_alloc to throw: the
 * throwing form must not return NULL but abort with a message. */
Test(cxx, throwing_new_of_impossible_size_aborts_without_libstdcxx)
{
    if (_ZSt17__throw_bad_allocv) cr_skip_test("libstdc++ is loaded: operator new would throw");
    pl_child_t c;
    pl_run_child(throwing_new_fails, NULL, 10, &c);
    cr_assert(pl_died_by(&c, SIGABRT), "child %s; stderr: %s", pl_describe(c.status), c.err);
    cr_assert_not_null(strstr(c.err, "poolalloc: operator new(18446744073709551615): out of memory"),
                       "stderr: %s", c.err);
}
