/* sym_target_inl.h -- an inline function in a file of its own, so that an
 * inlined frame and its caller name different files (sym_test.c). */
#include <stdlib.h>

#define USE(p) __asm__ volatile("" : : "r"(p) : "memory")

static inline __attribute__((always_inline)) void *c_inner(size_t n)
{
    void *p = malloc(n); /* SITE:c_inner */
    USE(p);
    return p;
}
