/* api.c — the pa_* functions of poolalloc.h: the allocator under names that
 * never clash with libc, usable with or without the LD_PRELOAD overrides. */
#include <errno.h>

#include "fast.h"
#include "poolalloc.h"

PA_API void *pa_malloc(size_t size) { return pa_malloc_inline(size); }
PA_API void pa_free(void *p) { pa_free_inline(p); }
PA_API void *pa_calloc(size_t count, size_t size) { return pa_calloc_impl(count, size); }
PA_API void *pa_realloc(void *p, size_t size) { return pa_realloc_impl(p, size); }

PA_API void *pa_reallocarray(void *p, size_t count, size_t size)
{
    size_t total;
    if (__builtin_mul_overflow(count, size, &total)) { errno = ENOMEM; return NULL; }
    return pa_realloc_impl(p, total);
}

static bool is_pow2(size_t x) { return x && !(x & (x - 1)); }

/* C11: the alignment must be a power of two (glibc >= 2.38 says EINVAL too). */
PA_API void *pa_aligned_alloc(size_t align, size_t size)
{
    if (!is_pow2(align)) { errno = EINVAL; return NULL; }
    return pa_memalign_impl(align, size);
}

/* POSIX: a power of two multiple of sizeof(void *); errno is not touched. */
PA_API int pa_posix_memalign(void **out, size_t align, size_t size)
{
    if (!is_pow2(align) || align % sizeof(void *)) return EINVAL;
    int saved = errno;
    void *p = pa_memalign_impl(align, size);
    errno = saved;
    if (!p) return ENOMEM;
    *out = p;
    return 0;
}

/* glibc's memalign rounds an alignment that is not a power of two up to one. */
PA_API void *pa_memalign(size_t align, size_t size)
{
    if (align > SIZE_MAX / 2 + 1) { errno = EINVAL; return NULL; }
    if (!is_pow2(align)) align = align ? (size_t)1 << (64 - __builtin_clzl(align)) : 1;
    return pa_memalign_impl(align, size);
}

PA_API size_t pa_usable_size(const void *p) { return pa_usable_size_checked(p, "malloc_usable_size()"); }
