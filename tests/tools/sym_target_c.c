/* sym_target_c.c -- the C part of sym_target.cc's program. */
#include "sym_target_inl.h"

__attribute__((noinline)) void *c_site(size_t n)
{
    void *p = c_inner(n + 3); /* SITE:c_site */
    USE(p);
    return p;
}
