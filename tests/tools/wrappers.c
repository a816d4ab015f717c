/* wrappers.c -- allocation sites behind wrappers, for check.py.
 *
 *   wrappers SCALE [GROW_SCALE]
 *
 * Wrappers found by their shape: must_get, a plain wrapper with an inlined
 * helper, is called from five functions (site_a .. site_e); xgrow, a
 * realloc wrapper, from four (grow_a .. grow_d). A wrapper found by its
 * name: zalloc_usable, with one caller, through its own helper
 * ztry_alloc_internal. Two functions are sites although they allocate for
 * others: make_node (one malloc line, but only two callers, themselves
 * called from allocate_lists, whose name does not make it a wrapper: a
 * frame that is none stands between) and parse_value (called from five
 * functions, but at four malloc lines).
 * Prints the truth, one line per site: NAME ALLOC_OBJECTS ALLOC_BYTES
 * (none for the realloc chains: their counts depend on which reallocs
 * move). SCALE multiplies the counts, GROW_SCALE (default SCALE) those of
 * the chains. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define NOINLINE __attribute__((noinline))

void *volatile sink; /* stores the compiler cannot drop */

static inline __attribute__((always_inline)) void *checked(size_t n)
{
    void *p = malloc(n);
    if (!p)
        abort();
    return p;
}

NOINLINE void *must_get(size_t n) { return checked(n); }

NOINLINE static void *ztry_alloc_internal(size_t n) { return malloc(n); }

NOINLINE void *zalloc_usable(size_t n)
{
    void *p = ztry_alloc_internal(n);
    if (!p)
        abort();
    return p;
}

NOINLINE void one_caller(long scale)
{
    for (long i = 0; i < 700 * scale; i++) {
        sink = zalloc_usable(200);
        free(sink);
    }
    printf("one_caller %ld %ld\n", 700 * scale, 700 * 200 * scale);
}

NOINLINE void *xgrow(void *p, size_t n)
{
    void *q = realloc(p, n);
    if (!q)
        abort();
    return q;
}

/* each site_X allocates COUNT x SCALE objects of its own size */
#define XALLOC_SITE(name, count, size)                 \
    NOINLINE void name(long scale)                     \
    {                                                  \
        for (long i = 0; i < (count) * scale; i++) {   \
            sink = must_get(size);                     \
            free(sink);                                \
        }                                              \
        printf(#name " %ld %ld\n", (long)(count) * scale, (long)(count) * scale * (size)); \
    }
XALLOC_SITE(site_a, 1000, 48)
XALLOC_SITE(site_b, 2000, 64)
XALLOC_SITE(site_c, 3000, 80)
XALLOC_SITE(site_d, 4000, 96)
XALLOC_SITE(site_e, 5000, 112)

/* each grow_X grows COUNT x SCALE buffers from 16 bytes to 16 KiB */
#define XGROW_SITE(name, count)                        \
    NOINLINE void name(long scale)                     \
    {                                                  \
        for (long i = 0; i < (count) * scale; i++) {   \
            char *b = NULL;                            \
            for (size_t n = 16; n <= 16384; n *= 2) {  \
                b = xgrow(b, n);                       \
                memset(b + n / 2, 1, n / 2);           \
            }                                          \
            free(b);                                   \
        }                                              \
    }
XGROW_SITE(grow_a, 100)
XGROW_SITE(grow_b, 200)
XGROW_SITE(grow_c, 300)
XGROW_SITE(grow_d, 400)

struct node {
    struct node *next;
    long v[5];
};

NOINLINE struct node *make_node(struct node *next)
{
    struct node *n = malloc(sizeof *n);
    n->next = next;
    return n;
}

static void free_list(struct node *n)
{
    while (n) {
        struct node *next = n->next;
        free(n);
        n = next;
    }
}

NOINLINE void build_list(long scale)
{
    struct node *l = NULL;
    for (long i = 0; i < 1500 * scale; i++)
        l = make_node(l);
    free_list(l);
}

NOINLINE void build_queue(long scale)
{
    struct node *l = NULL;
    for (long i = 0; i < 2500 * scale; i++)
        l = make_node(l);
    free_list(l);
}

NOINLINE void allocate_lists(long scale)
{
    build_list(scale);
    build_queue(scale);
}

/* four allocating lines: it does more than allocate for its callers */
NOINLINE void *parse_value(int kind)
{
    switch (kind & 3) {
    case 0: return malloc(24);
    case 1: return malloc(40);
    case 2: return malloc(56);
    default: return malloc(72);
    }
}

static long parsed_objects, parsed_bytes;

#define PARSE_SITE(name, count)                        \
    NOINLINE void name(long scale)                     \
    {                                                  \
        for (long i = 0; i < (count) * scale; i++) {   \
            sink = parse_value((int)i);                \
            free(sink);                                \
            parsed_objects++;                          \
            parsed_bytes += 24 + 16 * (i & 3);         \
        }                                              \
    }
PARSE_SITE(read_a, 400)
PARSE_SITE(read_b, 800)
PARSE_SITE(read_c, 1200)
PARSE_SITE(read_d, 1600)
PARSE_SITE(read_e, 2000)

int main(int argc, char **argv)
{
    long scale = argc > 1 ? atol(argv[1]) : 1, grow = argc > 2 ? atol(argv[2]) : scale;
    site_a(scale), site_b(scale), site_c(scale), site_d(scale), site_e(scale);
    grow_a(grow), grow_b(grow), grow_c(grow), grow_d(grow);
    allocate_lists(scale);
    one_caller(scale);
    printf("make_node %ld %ld\n", 4000 * scale, 4000 * scale * (long)sizeof(struct node));
    read_a(scale), read_b(scale), read_c(scale), read_d(scale), read_e(scale);
    printf("parse_value %ld %ld\n", parsed_objects, parsed_bytes);
    return 0;
}
