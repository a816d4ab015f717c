/* plugin.c — a shared library the dlopen test loads at run time.
 * plugin_alloc allocates `count` objects of `size` bytes and keeps them all
 * (chained through their first word), so they are in use at the exit dump. */
#include <stddef.h>
#include <stdlib.h>

static void *chain;

__attribute__((noinline, visibility("default"))) size_t plugin_alloc(size_t count, size_t size)
{
    size_t bytes = 0;
    if (size < sizeof(void *)) size = sizeof(void *);
    for (size_t i = 0; i < count; i++) {
        void **p = malloc(size);
        if (!p) break;
        *p = chain;
        chain = p;
        bytes += size;
    }
    return bytes;
}
