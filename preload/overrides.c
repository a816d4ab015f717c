/* overrides.c — the malloc family under the names glibc programs call. With
 * LD_PRELOAD these bind before libc's; linked statically they replace them.
 * malloc and free inline the fast paths rather than calling pa_malloc. */
#include <errno.h>
#include <malloc.h>
#include <unistd.h>

#include "fast.h"
#include "poolalloc.h"

PA_API void *malloc(size_t size) { return pa_malloc_inline(size); }
PA_API void free(void *p) { pa_free_inline(p); }
PA_API void cfree(void *p) { pa_free_inline(p); }
PA_API void *calloc(size_t count, size_t size) { return pa_calloc_impl(count, size); }
PA_API void *realloc(void *p, size_t size) { return pa_realloc_impl(p, size); }
PA_API void *reallocarray(void *p, size_t count, size_t size) { return pa_reallocarray(p, count, size); }
PA_API void *aligned_alloc(size_t align, size_t size) { return pa_aligned_alloc(align, size); }
PA_API int posix_memalign(void **out, size_t align, size_t size) { return pa_posix_memalign(out, align, size); }
PA_API void *memalign(size_t align, size_t size) { return pa_memalign(align, size); }
PA_API void *valloc(size_t size) { return pa_memalign_impl(PA_OS_PAGE, size); }

PA_API void *pvalloc(size_t size)
{
    if (size > SIZE_MAX - PA_OS_PAGE) { errno = ENOMEM; return NULL; }
    size_t rounded = size ? (size + PA_OS_PAGE - 1) & ~(size_t)(PA_OS_PAGE - 1) : PA_OS_PAGE;
    return pa_memalign_impl(PA_OS_PAGE, rounded);
}

PA_API size_t malloc_usable_size(void *p) { return pa_usable_size_checked(p, "malloc_usable_size()"); }
PA_API int malloc_trim(size_t pad) { (void)pad; return pa_trim(); }
PA_API void malloc_stats(void) { pa_stats_print(2); }

PA_API struct mallinfo2 mallinfo2(void)
{
    pa_stats_t s;
    pa_stats_get(&s);
    struct mallinfo2 m = { 0 };
    m.arena = s.mapped_bytes;                 /* address space held */
    m.hblks = s.large_allocs - s.large_frees; /* blocks above the size classes */
    m.hblkhd = s.large_live_bytes;
    m.uordblks = s.live_bytes;                /* in use */
    m.fordblks = s.committed_bytes > s.live_bytes ? s.committed_bytes - s.live_bytes : 0;
    m.keepcost = 0;
    return m;
}

PA_API struct mallinfo mallinfo(void)
{
    struct mallinfo2 m2 = mallinfo2();
    struct mallinfo m = { 0 };
    m.arena = (int)m2.arena;
    m.hblks = (int)m2.hblks;
    m.hblkhd = (int)m2.hblkhd;
    m.uordblks = (int)m2.uordblks;
    m.fordblks = (int)m2.fordblks;
    return m;
}
