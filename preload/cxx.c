/* cxx.c — C++ operator new and delete in all their forms (plain, array,
 * nothrow, sized, aligned), written in C under their mangled names so that a
 * C++ program binds them to poolalloc without libpoolalloc depending on
 * libstdc++. On failure the throwing forms do what the standard says: call the
 * new-handler while there is one, then throw std::bad_alloc, through libstdc++'s
 * own functions, found weakly (a program calling operator new has libstdc++).
 * This file is compiled with -fexceptions so the exception can pass through. */
#include <stdlib.h>

#include "fast.h"

typedef void (*new_handler_t)(void);
extern new_handler_t _ZSt15get_new_handlerv(void) __attribute__((weak));   /* std::get_new_handler() */
extern void _ZSt17__throw_bad_allocv(void) __attribute__((weak, noreturn)); /* std::__throw_bad_alloc() */

/* Returns after the new-handler ran (try again); 0 when there is none. */
static int call_new_handler(void)
{
    new_handler_t h = _ZSt15get_new_handlerv ? _ZSt15get_new_handlerv() : NULL;
    if (!h) return 0;
    h();
    return 1;
}

static PA_NOINLINE void *new_failed(size_t size, size_t align, int nothrow)
{
    for (;;) {
        void *p = align > PA_MIN_ALIGN ? pa_memalign_impl(align, size) : pa_malloc_inline(size);
        if (p) return p;
        if (call_new_handler()) continue;
        if (nothrow) return NULL;
        if (_ZSt17__throw_bad_allocv) _ZSt17__throw_bad_allocv();
        pa_fatal("operator new(%zu): out of memory", size);
    }
}

static inline void *new_plain(size_t size)
{
    void *p = pa_malloc_inline(size);
    return PA_LIKELY(p != NULL) ? p : new_failed(size, 0, 0);
}

static inline void *new_nothrow(size_t size)
{
    void *p = pa_malloc_inline(size);
    return PA_LIKELY(p != NULL) ? p : new_failed(size, 0, 1);
}

static inline void *new_aligned(size_t size, size_t align, int nothrow)
{
    void *p = pa_memalign_impl(align, size);
    return PA_LIKELY(p != NULL) ? p : new_failed(size, align, nothrow);
}

/* operator new / new[] */
PA_API void *_Znwm(size_t n) { return new_plain(n); }
PA_API void *_Znam(size_t n) { return new_plain(n); }
PA_API void *_ZnwmRKSt9nothrow_t(size_t n, const void *t) { (void)t; return new_nothrow(n); }
PA_API void *_ZnamRKSt9nothrow_t(size_t n, const void *t) { (void)t; return new_nothrow(n); }
PA_API void *_ZnwmSt11align_val_t(size_t n, size_t al) { return new_aligned(n, al, 0); }
PA_API void *_ZnamSt11align_val_t(size_t n, size_t al) { return new_aligned(n, al, 0); }
PA_API void *_ZnwmSt11align_val_tRKSt9nothrow_t(size_t n, size_t al, const void *t) { (void)t; return new_aligned(n, al, 1); }
PA_API void *_ZnamSt11align_val_tRKSt9nothrow_t(size_t n, size_t al, const void *t) { (void)t; return new_aligned(n, al, 1); }

/* operator delete / delete[]: every form frees the same way */
PA_API void _ZdlPv(void *p) { pa_free_inline(p); }
PA_API void _ZdaPv(void *p) { pa_free_inline(p); }
PA_API void _ZdlPvm(void *p, size_t n) { (void)n; pa_free_inline(p); }
PA_API void _ZdaPvm(void *p, size_t n) { (void)n; pa_free_inline(p); }
PA_API void _ZdlPvRKSt9nothrow_t(void *p, const void *t) { (void)t; pa_free_inline(p); }
PA_API void _ZdaPvRKSt9nothrow_t(void *p, const void *t) { (void)t; pa_free_inline(p); }
PA_API void _ZdlPvSt11align_val_t(void *p, size_t al) { (void)al; pa_free_inline(p); }
PA_API void _ZdaPvSt11align_val_t(void *p, size_t al) { (void)al; pa_free_inline(p); }
PA_API void _ZdlPvmSt11align_val_t(void *p, size_t n, size_t al) { (void)n; (void)al; pa_free_inline(p); }
PA_API void _ZdaPvmSt11align_val_t(void *p, size_t n, size_t al) { (void)n; (void)al; pa_free_inline(p); }
PA_API void _ZdlPvSt11align_val_tRKSt9nothrow_t(void *p, size_t al, const void *t) { (void)al; (void)t; pa_free_inline(p); }
PA_API void _ZdaPvSt11align_val_tRKSt9nothrow_t(void *p, size_t al, const void *t) { (void)al; (void)t; pa_free_inline(p); }
