/* peak.c — a program whose peak heap is known, for the peak-heap profile
 * (prof/peak.c), run by tests/prof/run.sh and judged by check.py peak:
 *   build_site  builds a structure of 64 MB and frees it: the peak
 *   keep_site   keeps 5 MB to exit, allocated after the peak: 0 at the peak
 *   churn_site  allocates and frees 1000-byte objects throughout: at most
 *               one object at the peak
 * Prints "peak SITE OBJECTS BYTES" for what each site held at the peak.
 * With the argument "long", it then allocates and frees 1 GiB more in 64 KiB
 * blocks, for the memory-over-time series to outgrow its fixed size. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define NOINLINE __attribute__((noinline))
#define N 64000
#define SIZE 1000

static void *volatile sink;

NOINLINE static void *build_site(size_t n) { return malloc(n); }
NOINLINE static void *keep_site(size_t n) { return malloc(n); }
NOINLINE static void churn_site(int k)
{
    for (int i = 0; i < k; i++) {
        void *p = malloc(SIZE);
        memset(p, i, SIZE);
        sink = p;
        free(p);
    }
}

int main(int argc, char **argv)
{
    static void *v[N];
    churn_site(1000);
    for (size_t i = 0; i < N; i++) {
        v[i] = build_site(SIZE);
        memset(v[i], 1, SIZE);
        if (i % 64 == 0) churn_site(1);
    }
    for (size_t i = 0; i < N; i++) free(v[i]);
    void *kept = keep_site(5 << 20);
    memset(kept, 2, 5 << 20);
    churn_site(1000);
    sink = kept;
    if (argc > 1 && !strcmp(argv[1], "long"))
        for (int i = 0; i < 16384; i++) {
            char *p = malloc(64 << 10);
            p[0] = (char)i;
            sink = p;
            free(p);
        }
    /* the peak: the whole structure, and at most the one churn object that
     * may be live at that moment (none: the last build_site call came after
     * the last churn during the build) */
    printf("peak build_site %d %d\npeak keep_site 0 0\npeak churn_site 0 0\n", N, N * SIZE);
    return 0;
}
