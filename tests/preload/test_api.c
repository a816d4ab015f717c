/* test_api.c — the library exports every function of poolalloc.h and every
 * name of the malloc family it replaces, and the pa_* functions are the same
 * allocator as the standard names. */
#include <criterion/criterion.h>
#include <dlfcn.h>
#include <errno.h>
#include <malloc.h>
#include <stdlib.h>
#include <string.h>

#include "poolalloc.h"
#include "pl_util.h"

static void *library(void)
{
    const char *path = pl_library_path();
    cr_assert_not_null(path, "libpoolalloc.so is not mapped");
    void *h = dlopen(path, RTLD_NOW | RTLD_NOLOAD);
    cr_assert_not_null(h, "dlopen(%s, RTLD_NOLOAD): %s", path, dlerror());
    return h;
}

static void expect_exported(void *lib, const char *const names[], size_t n)
{
    char missing[1024] = "";
    for (size_t i = 0; i < n; i++)
        if (!dlsym(lib, names[i])) {
            strncat(missing, " ", sizeof missing - strlen(missing) - 1);
            strncat(missing, names[i], sizeof missing - strlen(missing) - 1);
        }
    cr_assert_eq(missing[0], 0, "not exported by libpoolalloc.so:%s", missing);
}

Test(api, header_functions_are_exported)
{
    static const char *const names[] = {
        "pa_malloc", "pa_calloc", "pa_realloc", "pa_reallocarray", "pa_free", "pa_aligned_alloc",
        "pa_posix_memalign", "pa_memalign", "pa_usable_size", "pa_trim", "pa_stats_get", "pa_stats_print",
    };
    void *lib = library();
    expect_exported(lib, names, sizeof names / sizeof names[0]);
    dlclose(lib);
}

Test(api, malloc_family_is_exported)
{
    static const char *const names[] = {
        "malloc", "free", "cfree", "calloc", "realloc", "reallocarray", "aligned_alloc", "posix_memalign",
        "memalign", "valloc", "pvalloc", "malloc_usable_size", "malloc_trim", "malloc_stats", "mallinfo",
        "mallinfo2", "_Znwm", "_Znam", "_ZnwmRKSt9nothrow_t", "_ZnamRKSt9nothrow_t", "_ZnwmSt11align_val_t",
        "_ZnamSt11align_val_t", "_ZnwmSt11align_val_tRKSt9nothrow_t", "_ZnamSt11align_val_tRKSt9nothrow_t",
        "_ZdlPv", "_ZdaPv", "_ZdlPvm", "_ZdaPvm", "_ZdlPvRKSt9nothrow_t", "_ZdaPvRKSt9nothrow_t",
        "_ZdlPvSt11align_val_t", "_ZdaPvSt11align_val_t", "_ZdlPvmSt11align_val_t", "_ZdaPvmSt11align_val_t",
        "_ZdlPvSt11align_val_tRKSt9nothrow_t", "_ZdaPvSt11align_val_tRKSt9nothrow_t",
    };
    void *lib = library();
    expect_exported(lib, names, sizeof names / sizeof names[0]);
    /* and this process binds the standard names to poolalloc, not libc */
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        void *ours = dlsym(lib, names[i]), *bound = dlsym(RTLD_DEFAULT, names[i]);
        cr_assert_eq(bound, ours, "%s resolves to %p, poolalloc's is %p", names[i], bound, ours);
    }
    dlclose(lib);
}

Test(api, pa_functions_and_standard_names_mix)
{
    void *a = pa_malloc(100), *b = malloc(100);
    cr_assert_not_null(a);
    cr_assert_not_null(b);
    cr_assert_eq(pa_usable_size(b), malloc_usable_size(b));
    free(a);
    pa_free(b);
    void *c = pa_calloc(10, 10);
    cr_assert(pl_all_zero(c, 100));
    c = pa_realloc(c, 5000);
    cr_assert_not_null(c);
    c = pa_reallocarray(c, 3, 3000);
    cr_assert_geq(malloc_usable_size(c), 9000);
    free(c);
    void *d = pa_aligned_alloc(256, 1000);
    cr_assert(pl_aligned(d, 256));
    free(d);
    void *e = NULL;
    cr_assert_eq(pa_posix_memalign(&e, 4096, 10), 0);
    cr_assert(pl_aligned(e, 4096));
    pa_free(e);
    void *f = pa_memalign(24, 10);
    cr_assert(pl_aligned(f, 32));
    free(f);
    errno = 0;
    cr_assert_null(pa_aligned_alloc(3, 16));
    cr_assert_eq(errno, EINVAL);
    cr_assert_null(pa_malloc(pl_size(SIZE_MAX)));
    cr_assert_eq(errno, ENOMEM);
    cr_assert_eq(pa_usable_size(NULL), 0);
}

Test(api, pa_trim_matches_malloc_trim)
{
    enum { N = 500 };
    static void *p[N];
    for (int i = 0; i < N; i++) {
        p[i] = malloc(64 * PL_KIB);
        cr_assert_not_null(p[i]);
        memset(p[i], 1, 64 * PL_KIB);
    }
    for (int i = 0; i < N; i++) free(p[i]);
    cr_assert_eq(pa_trim(), 1, "pa_trim after freeing 32 MiB");
}
