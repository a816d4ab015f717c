/* bindings.c — calls every function of the malloc family once, so that
 * LD_BIND_NOW=1 LD_DEBUG=bindings shows where each of them binds. The real
 * test runs it with LD_PRELOAD=libpoolalloc.so and checks that each binds to
 * libpoolalloc.so. Build without optimisation and builtins (gcc -O0
 * -fno-builtin) so that no call is folded away. Prints one deterministic line. */
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static volatile size_t sink;

int main(void)
{
    int fails = 0;
    char *p = malloc(100);
    if (!p) fails++;
    memset(p, 1, 100);
    p = realloc(p, 5000);
    if (!p) fails++;
    sink += malloc_usable_size(p) >= 5000;
    free(p);

    int *q = calloc(100, sizeof *q);
    if (!q || q[99] != 0) fails++;
    q = reallocarray(q, 200, sizeof *q);
    if (!q) fails++;
    free(q);

    void *r = NULL;
    if (posix_memalign(&r, 256, 1000) != 0 || ((size_t)r & 255)) fails++;
    free(r);
    r = aligned_alloc(64, 640);
    if (!r || ((size_t)r & 63)) fails++;
    free(r);
    r = memalign(4096, 100);
    if (!r || ((size_t)r & 4095)) fails++;
    free(r);
    r = valloc(10);
    if (!r || ((size_t)r & 4095)) fails++;
    free(r);
    r = pvalloc(10);
    if (!r || ((size_t)r & 4095)) fails++;
    free(r);

    sink += (size_t)malloc_trim(0);
    struct mallinfo2 mi = mallinfo2();
    sink += mi.uordblks;
    malloc_stats();        /* writes to stderr */
    printf("malloc family: %s\n", fails ? "FAILED" : "all calls ok");
    return fails != 0;
}
