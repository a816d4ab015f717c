/* accuracy.c — allocations from three call sites in known proportions, for
 * checking the sampled profile's estimates against the truth.
 *
 * site_60, site_30 and site_10 allocate 60, 30 and 10 % of TOTAL bytes
 * (default 200 MiB), sizes uniformly random in 24..4096, the sites
 * interleaved at random. Each object is either freed at once or kept until
 * exit, half of each site's bytes each way. The random sequence is the same
 * in every run (fixed seed): only the profiler's sampling varies.
 *
 * Prints the truth, one line per site:
 *     NAME ALLOC_OBJECTS ALLOC_BYTES INUSE_OBJECTS INUSE_BYTES
 * Usage: accuracy [TOTAL_MIB] */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#define MAX_KEPT (1 << 20)

static void *kept[MAX_KEPT];       /* not malloc'd: the program's only stacks are the sites' */
static size_t nkept;
void *volatile sink;               /* keeps the compiler from pairing malloc with free */

static void *must(void *p)
{
    if (!p) { fputs("accuracy: out of memory\n", stderr); exit(2); }
    return p;
}

static void keep_or_free(void *p, int keep)
{
    sink = p;
    if (!keep) { free(p); return; }
    if (nkept == MAX_KEPT) { fputs("accuracy: too many kept objects\n", stderr); exit(2); }
    kept[nkept++] = p;
}

/* The three sites: malloc is called right here, so each is the innermost
 * frame of its allocations' stacks. */
__attribute__((noinline)) void site_60(size_t n, int keep) { keep_or_free(must(malloc(n)), keep); }
__attribute__((noinline)) void site_30(size_t n, int keep) { keep_or_free(must(malloc(n)), keep); }
__attribute__((noinline)) void site_10(size_t n, int keep) { keep_or_free(must(malloc(n)), keep); }

static uint64_t rng = 0x853c49e6748fea9bu;
static uint64_t next(void)          /* splitmix64 */
{
    uint64_t z = (rng += 0x9e3779b97f4a7c15u);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9u;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebu;
    return z ^ (z >> 31);
}

int main(int argc, char **argv)
{
    static const char *name[3] = { "site_60", "site_30", "site_10" };
    static void (*const site[3])(size_t, int) = { site_60, site_30, site_10 };
    static const unsigned percent[3] = { 60, 30, 10 };
    uint64_t total = (argc > 1 ? strtoull(argv[1], NULL, 10) : 200) << 20;
    uint64_t budget[3], left[3], keep_left[3], free_left[3];
    uint64_t objects[3] = { 0 }, bytes[3] = { 0 }, kept_objects[3] = { 0 }, kept_bytes[3] = { 0 };

    for (int s = 0; s < 3; s++) {
        budget[s] = left[s] = total / 100 * percent[s];
        keep_left[s] = budget[s] / 2;
        free_left[s] = budget[s] - keep_left[s];
    }
    for (;;) {
        uint64_t all = left[0] + left[1] + left[2];
        if (!all) break;
        /* a site with probability in proportion to what it has left to allocate */
        uint64_t r = next() % all;
        int s = r < left[0] ? 0 : r < left[0] + left[1] ? 1 : 2;
        size_t n = 24 + next() % (4096 - 24 + 1);
        if (n > left[s]) n = left[s];
        /* kept with probability in proportion to the bytes it has left to keep */
        int keep = next() % (keep_left[s] + free_left[s]) < keep_left[s];
        uint64_t *l = keep ? &keep_left[s] : &free_left[s];
        *l -= n < *l ? n : *l;
        site[s](n, keep);
        left[s] -= n;
        objects[s]++;
        bytes[s] += n;
        if (keep) { kept_objects[s]++; kept_bytes[s] += n; }
    }
    for (int s = 0; s < 3; s++)
        printf("%s %llu %llu %llu %llu\n", name[s], (unsigned long long)objects[s], (unsigned long long)bytes[s],
               (unsigned long long)kept_objects[s], (unsigned long long)kept_bytes[s]);
    return 0;                      /* kept objects are still allocated at the exit dump */
}
